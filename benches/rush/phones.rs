//! A waiting room of phones: wrk's connections asking for one visitor's ticket view (the
//! page's answer, `GET /api/v1/tickets/{public_id}`) as fast as the machine answers, while the
//! desk calls a visitor every second; next to a bare actix-web server answering the same
//! bytes under the same load generator, and the desk's call latency next to the same desk's on
//! a quiet server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::ceilings::bare_wrk;
use crate::common::report::Report;
use crate::common::wrk;
use crate::common::*;

const DESK: (&str, &str) = ("desk-bench", "bench-desk-password");

/// The desk: calls the next visitor every second until `stop`; each call's latency.
async fn desk(
    c: reqwest::Client,
    base: String,
    token: String,
    stop: Arc<AtomicBool>,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let res = c
            .post(format!("{base}/api/v1/desk/city-hall/calls"))
            .bearer_auth(&token)
            .json(&json!({"desk": "1"}))
            .send()
            .await;
        if let Ok(res) = res {
            let _ = res.bytes().await;
        }
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
    latencies.sort();
    latencies
}

async fn walk_ins(c: &reqwest::Client, base: &str, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let t: Value = c
            .post(format!("{base}/api/v1/desk/city-hall/walk-ins"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .expect("walk-in")
            .json()
            .await
            .expect("walk-in json");
        ids.push(t["public_id"].as_str().unwrap_or_default().to_string());
    }
    ids
}

pub async fn phones(report: &Report, backend: Backend, connections: usize, secs: u64) {
    if !wrk::available() {
        return;
    }
    let db = BenchDb::create(backend, "phones");
    migrate(&db);
    staff_add(&db, DESK.0, "desk", DESK.1);
    let sink = smtp::SmtpSink::start().await;
    let c = client(16);
    let server = Server::start(&db, sink.port, NOON, &[]);
    server.wait_up(&c).await;
    let token = staff_login(&c, &server.base, DESK.0, DESK.1).await;
    // The quiet desk: a few calls with nobody asking.
    let ids = walk_ins(&c, &server.base, &token, 20 + 3 * secs as usize).await;
    let stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(desk(
        c.clone(),
        server.base.clone(),
        token.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let quiet = quiet.await.expect("quiet desk");
    // The last walk-in's page, asked by every phone, while the desk calls.
    let url = format!("{}/api/v1/tickets/{}", server.base, ids[ids.len() - 1]);
    let bytes = c
        .get(&url)
        .send()
        .await
        .expect("view")
        .bytes()
        .await
        .expect("bytes");
    let stop = Arc::new(AtomicBool::new(false));
    let busy = tokio::spawn(desk(
        c.clone(),
        server.base.clone(),
        token.clone(),
        stop.clone(),
    ));
    let view = wrk::wrk(&url, connections, secs, &[]).await;
    stop.store(true, Ordering::Relaxed);
    let busy = busy.await.expect("busy desk");
    let after: Value = c
        .get(&url)
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("json");
    let errors = server.errors_5xx_in_log();
    drop(server);
    let bare = bare_wrk(&bytes, connections, secs, &[]).await;
    let tag = format!("{} [phones, {connections} connections]", backend.name());
    report.add(
        format!("{tag}: a ticket's view req/s"),
        format!("{:.0}/s", view.requests_per_s),
        format!("{:.0}/s bare actix, same bytes", bare.requests_per_s),
        Some(view.requests_per_s / bare.requests_per_s),
    );
    report.add(
        format!("{tag}: view p99 / max, errors, non-2xx; 5xx in the log"),
        format!(
            "{:.0} / {:.0} ms, {}, {}; {errors}",
            ms(view.p99),
            ms(view.max),
            view.errors,
            view.non_2xx_3xx
        ),
        "target: every answer within 2 s".into(),
        None,
    );
    let p99 = |l: &[Duration]| ms(pct(l, 0.99));
    report.add(
        format!(
            "{tag}: desk call p99 quiet → while the phones ask ({} calls; the ticket then {} ahead)",
            quiet.len() + busy.len(),
            after["ahead"]
        ),
        format!("{:.0} → {:.0} ms", p99(&quiet), p99(&busy)),
        "target < 100 ms".into(),
        None,
    );
}
