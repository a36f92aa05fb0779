//! The storm around the noon opening: tens of thousands of browsers refreshing February's
//! month view (wrk, its own process), first for the full answer, then revalidating with their
//! ETag (304), while one phone operator books callers one after another (January: the storm's
//! answers stay the same) and a waiting-room screen waits for a call. Each figure next to a
//! bare actix-web server answering the same bytes (or an empty body, for the 304s) under the
//! same load generator, and the phone operator's latency next to the same operator's on a
//! quiet server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::IndexedRandom;
use serde_json::{json, Value};

use crate::common::ceilings::bare_wrk;
use crate::common::report::Report;
use crate::common::wrk::{self, Wrk};
use crate::common::*;

pub struct StormOpts {
    pub connections: usize,
    pub secs: u64,
    /// Server processes on one database (PostgreSQL only beyond one).
    pub instances: usize,
    /// Extra settings of the server (a city's file: `MADOGUCHI_CONFIG`).
    pub extra: Vec<(&'static str, String)>,
    pub tag: String,
    /// The staff side on a listener of its own (`server.staff_bind`): the phone operator and
    /// the screen use it, the storm the public one.
    pub staff_listener: bool,
}

impl Default for StormOpts {
    fn default() -> Self {
        StormOpts {
            connections: env_usize("MADOGUCHI_BENCH_STORM_CONNECTIONS", 1000),
            secs: env_usize("MADOGUCHI_BENCH_STORM_SECONDS", 10) as u64,
            instances: 1,
            extra: Vec::new(),
            tag: "storm".into(),
            staff_listener: false,
        }
    }
}

pub struct StormResult {
    /// As browsers ask: `Accept-Encoding: gzip, deflate, br` (the body is sent compressed).
    pub browsers: Wrk,
    /// Peak RSS after the browsers' storm (before the uncompressed one).
    pub browsers_rss_mb: f64,
    pub view200: Wrk,
    pub view304: Wrk,
    pub bare200: Wrk,
    pub bare304: Wrk,
    pub phone_quiet: Vec<Duration>,
    pub phone_in_200: Vec<Duration>,
    pub phone_in_304: Vec<Duration>,
    pub phone_failed: usize,
    pub display: Option<Duration>,
    pub rss_mb: f64,
    pub server_errors: usize,
}

const OPERATOR: (&str, &str) = ("phone-bench", "bench-phone-password");
const DESK: (&str, &str) = ("desk-bench", "bench-desk-password");

/// The phone operator: books one caller every 50 ms (as fast as a person could, faster than
/// any) on a January slot until `stop`; each booking's latency.
async fn operator(
    c: reqwest::Client,
    base: String,
    token: String,
    slots: Arc<Vec<String>>,
    first_caller: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut caller = first_caller;
    while !stop.load(Ordering::Relaxed) {
        let slot = slots.choose(&mut rand::rng()).cloned().unwrap_or_default();
        let body = json!({
            "slot_id": slot, "procedure": "pin-reset", "applicant_type": "holder",
            "name": format!("電話 {caller}"), "name_kana": "デンワ タロウ",
            "phone": format!("080{caller:08}"),
        });
        let started = Instant::now();
        let res = c
            .post(format!("{base}/api/v1/staff/reservations"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        let status = res.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
        if let Ok(res) = res {
            let _ = res.bytes().await;
        }
        latencies.push(started.elapsed());
        if status != 201 && status != 409 {
            failed += 1;
        }
        caller += 1;
        tokio::time::sleep(Duration::from_millis(50).saturating_sub(started.elapsed())).await;
    }
    latencies.sort();
    (latencies, failed)
}

/// January's open slots at both counters (what the operator books; February is the storm's).
async fn january(c: &reqwest::Client, base: &str, token: &str) -> Vec<String> {
    let mut slots = Vec::new();
    for counter in ["city-hall", "azuchi"] {
        let v: Value = c
            .get(format!(
                "{base}/api/v1/counters/{counter}/availability?from=2027-01-04&to=2027-01-29"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("january")
            .json()
            .await
            .expect("january json");
        for d in v["days"].as_array().cloned().unwrap_or_default() {
            for s in d["slots"].as_array().cloned().unwrap_or_default() {
                if s["bookable"] == true {
                    slots.push(s["id"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    slots
}

/// A waiting-room screen connected during the storm: a walk-in called at the desk, and how
/// long the call takes to reach the screen.
async fn display_call(c: &reqwest::Client, base: &str, desk_token: &str) -> Option<Duration> {
    let display = c
        .get(format!("{base}/api/v1/desk/city-hall/display"))
        .send()
        .await
        .ok()?;
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut display = display;
            while let Ok(Some(chunk)) = display.chunk().await {
                if let Ok(mut s) = seen.lock() {
                    s.push_str(&String::from_utf8_lossy(&chunk));
                }
            }
        })
    };
    let _ = c
        .post(format!("{base}/api/v1/desk/city-hall/walk-ins"))
        .bearer_auth(desk_token)
        .json(&json!({}))
        .send()
        .await
        .ok()?;
    let called_at = Instant::now();
    let called: Value = c
        .post(format!("{base}/api/v1/desk/city-hall/calls"))
        .bearer_auth(desk_token)
        .json(&json!({"desk": "1"}))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let ticket = called["ticket"].as_str()?.to_string();
    let mut shown = None;
    while called_at.elapsed() < Duration::from_secs(10) {
        if seen
            .lock()
            .ok()?
            .contains(&format!("\"ticket\":\"{ticket}\""))
        {
            shown = Some(called_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    reader.abort();
    shown
}

/// One storm phase: wrk on the month view (with `headers`) while the operator books; the
/// operator's latencies during it.
async fn phase(
    servers: &[Server],
    // Each operator's staff address and token.
    operators: &[(String, String)],
    c: &reqwest::Client,
    slots: &Arc<Vec<String>>,
    opts: &StormOpts,
    headers: &[(&str, &str)],
    first_caller: usize,
) -> (Wrk, Vec<Duration>, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let operators: Vec<_> = operators
        .iter()
        .enumerate()
        .map(|(i, (base, token))| {
            tokio::spawn(operator(
                c.clone(),
                base.clone(),
                token.clone(),
                slots.clone(),
                first_caller + i * 100_000,
                stop.clone(),
            ))
        })
        .collect();
    // Several instances: the storm goes to the first (a load balancer's share is the same).
    let view = wrk::wrk(
        &format!("{}{MONTH}", servers[0].base),
        opts.connections,
        opts.secs,
        headers,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failed = 0;
    for o in operators {
        let (l, f) = o.await.expect("operator");
        latencies.extend(l);
        failed += f;
    }
    latencies.sort();
    (view, latencies, failed)
}

pub async fn run_storm(backend: Backend, opts: &StormOpts) -> StormResult {
    let db = BenchDb::create(backend, "storm");
    migrate(&db);
    staff_add(&db, OPERATOR.0, "phone", OPERATOR.1);
    staff_add(&db, DESK.0, "desk", DESK.1);
    let sink = smtp::SmtpSink::start().await;
    let c = client(64);
    let mut staff = Vec::new();
    let servers: Vec<Server> = (0..opts.instances)
        .map(|_| {
            let mut extra = opts.extra.clone();
            let server = if opts.staff_listener {
                let port = free_port();
                extra.push(("MADOGUCHI__SERVER__STAFF_BIND", format!("127.0.0.1:{port}")));
                let s = Server::start(&db, sink.port, NOON, &extra);
                staff.push(format!("http://127.0.0.1:{port}"));
                s
            } else {
                let s = Server::start(&db, sink.port, NOON, &extra);
                staff.push(s.base.clone());
                s
            };
            server
        })
        .collect();
    for s in &servers {
        s.wait_up(&c).await;
    }
    let mut tokens = Vec::new();
    for base in &staff {
        tokens.push(staff_login(&c, base, OPERATOR.0, OPERATOR.1).await);
    }
    let desk_token = staff_login(&c, &staff[0], DESK.0, DESK.1).await;
    let slots = Arc::new(january(&c, &servers[0].base, &tokens[0]).await);
    assert!(
        !slots.is_empty(),
        "January has open slots at noon on 1 December"
    );
    let (_, month) = february_slots(&servers[0], &c).await;
    let etag = c
        .get(format!("{}{MONTH}", servers[0].base))
        .send()
        .await
        .expect("month")
        .headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    // The operator alone, on a quiet server.
    let quiet_stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(operator(
        c.clone(),
        staff[0].clone(),
        tokens[0].clone(),
        slots.clone(),
        1,
        quiet_stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(opts.secs.min(5))).await;
    quiet_stop.store(true, Ordering::Relaxed);
    let (phone_quiet, _) = quiet.await.expect("quiet operator");
    let ops: Vec<(String, String)> = staff.iter().cloned().zip(tokens.iter().cloned()).collect();
    let (browsers, phone_in_browsers, f0) = phase(
        &servers,
        &ops,
        &c,
        &slots,
        opts,
        &[("Accept-Encoding", "gzip, deflate, br")],
        5_000,
    )
    .await;
    let browsers_rss_mb = servers[0].peak_rss_mb();
    let (view200, phone_in_200, f1) = phase(&servers, &ops, &c, &slots, opts, &[], 10_000).await;
    // The 304 storm, with a screen that waits for a call in the middle of it.
    let screen = {
        let (c, base, desk) = (c.clone(), staff[0].clone(), desk_token.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            display_call(&c, &base, &desk).await
        })
    };
    let (view304, phone_in_304, f2) = phase(
        &servers,
        &ops,
        &c,
        &slots,
        opts,
        &[("If-None-Match", etag.as_str())],
        20_000,
    )
    .await;
    let display = screen.await.ok().flatten();
    let rss_mb = servers[0].peak_rss_mb();
    let server_errors = servers.iter().map(|s| s.errors_5xx_in_log()).sum();
    drop(servers);
    let bare200 = bare_wrk(&month, opts.connections, opts.secs, &[]).await;
    let bare304 = bare_wrk(b"", opts.connections, opts.secs, &[]).await;
    let mut phone_in_200 = phone_in_200;
    phone_in_200.extend(phone_in_browsers);
    phone_in_200.sort();
    StormResult {
        browsers,
        browsers_rss_mb,
        view200,
        view304,
        bare200,
        bare304,
        phone_quiet,
        phone_in_200,
        phone_in_304,
        phone_failed: f0 + f1 + f2,
        display,
        rss_mb,
        server_errors,
    }
}

pub async fn storm(report: &Report, backend: Backend, opts: &StormOpts) -> Option<StormResult> {
    if !wrk::available() {
        report.add(
            format!("{}: storm", backend.name()),
            "skipped".into(),
            "wrk is not installed (apt-get install wrk)".into(),
            None,
        );
        return None;
    }
    let r = run_storm(backend, opts).await;
    let tag = format!(
        "{} [{}, {} connections]",
        backend.name(),
        opts.tag,
        opts.connections
    );
    report.add(
        format!("{tag}: month view 200 req/s"),
        format!("{:.0}/s", r.view200.requests_per_s),
        format!("{:.0}/s bare actix, same bytes", r.bare200.requests_per_s),
        Some(r.view200.requests_per_s / r.bare200.requests_per_s),
    );
    report.add(
        format!("{tag}: month view as browsers ask (br/gzip) req/s, peak RSS after"),
        format!(
            "{:.0}/s, {:.1} MB",
            r.browsers.requests_per_s, r.browsers_rss_mb
        ),
        "RSS target < 64 MB".into(),
        None,
    );
    report.add(
        format!("{tag}: revalidation 304 req/s"),
        format!("{:.0}/s", r.view304.requests_per_s),
        format!("{:.0}/s bare actix, empty body", r.bare304.requests_per_s),
        Some(r.view304.requests_per_s / r.bare304.requests_per_s),
    );
    for (what, w) in [("200", &r.view200), ("304", &r.view304)] {
        report.add(
            format!("{tag}: {what}s p99 / max, timeouts (> 2 s), errors, non-2xx/3xx"),
            format!(
                "{:.0} / {:.0} ms, {}, {}, {}",
                ms(w.p99),
                ms(w.max),
                w.timeouts,
                w.errors,
                w.non_2xx_3xx
            ),
            "target: every answer within 2 s".into(),
            None,
        );
    }
    let p99 = |l: &[Duration]| ms(pct(l, 0.99));
    report.add(
        format!(
            "{tag}: phone booking p99: quiet → during the 200 storms → during 304s ({} bookings, {} not 201/409)",
            r.phone_quiet.len() + r.phone_in_200.len() + r.phone_in_304.len(),
            r.phone_failed
        ),
        format!(
            "{:.0} → {:.0} → {:.0} ms",
            p99(&r.phone_quiet),
            p99(&r.phone_in_200),
            p99(&r.phone_in_304)
        ),
        "target < 100 ms".into(),
        None,
    );
    report.add(
        format!("{tag}: a call reaches the waiting-room screen"),
        r.display
            .map(|d| format!("{:.0} ms", ms(d)))
            .unwrap_or_else(|| "never".into()),
        "target < 1 s".into(),
        None,
    );
    report.add(
        format!("{tag}: peak RSS at the end (uncompressed 54 KB answers) / 5xx in the log"),
        format!("{:.1} MB / {}", r.rss_mb, r.server_errors),
        "target < 64 MB, 0".into(),
        None,
    );
    Some(r)
}
