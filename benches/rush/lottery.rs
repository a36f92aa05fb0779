//! A large lottery's draw: 20,000 phone entries (1-3 of February's slots each, about 810 seats)
//! made through the API during the application period, then the time from the draw instant on
//! the server's clock until the lottery reads `drawn` (every winner booked with its reservation,
//! every entry's outcome written).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use rand::seq::IndexedRandom;
use serde_json::{json, Value};

use crate::common::report::Report;
use crate::common::*;

const ADMIN: (&str, &str) = ("lottery-admin", "Kz8#vQ2m-Lp9!wRt-draw");
const PHONE: (&str, &str) = ("lottery-phone", "Yt5$hN3c-Bq7@xGe-call");
/// Ten days before February opens: its month can still be drawn.
const BEFORE: &str = "2026-11-20T10:00:00+09:00";

pub async fn lottery(report: &Report, backend: Backend, entries: usize) {
    let db = BenchDb::create(backend, "lottery");
    migrate(&db);
    staff_add(&db, ADMIN.0, "admin", ADMIN.1);
    staff_add(&db, PHONE.0, "phone", PHONE.1);
    let sink = smtp::SmtpSink::start().await;
    let extra = [("MADOGUCHI__STAFF__REQUIRE_TOTP_FOR", "[]".to_string())];
    let server = Server::start(&db, sink.port, BEFORE, &extra);
    let c = client(64);
    server.wait_up(&c).await;
    let admin = staff_login(&c, &server.base, ADMIN.0, ADMIN.1).await;
    let phone = staff_login(&c, &server.base, PHONE.0, PHONE.1).await;
    let (slots, _) = february_slots(&server, &c).await;
    let now = server.now(&c).await;
    // Time enough for the entries at a slow machine's pace, then the draw.
    let close = now + chrono::Duration::seconds(120);
    let draw_at = close + chrono::Duration::seconds(2);
    let made: Value = c
        .post(format!("{}/api/v1/admin/lotteries", server.base))
        .bearer_auth(&admin)
        .json(&json!({"counter": "city-hall", "month": "2027-02",
            "applications_open": now.to_rfc3339(), "applications_close": close.to_rfc3339(),
            "draw_at": draw_at.to_rfc3339()}))
        .send()
        .await
        .expect("lottery")
        .json()
        .await
        .expect("lottery json");
    let id = made["id"].as_str().expect("lottery id").to_string();
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    stream::iter(0..entries)
        .for_each_concurrent(64, |i| {
            let (c, base, phone, id, failed) = (
                c.clone(),
                server.base.clone(),
                phone.clone(),
                id.clone(),
                failed.clone(),
            );
            let prefs: Vec<String> = slots
                .choose_multiple(&mut rand::rng(), 1 + i % 3)
                .cloned()
                .collect();
            async move {
                let res = c
                    .post(format!("{base}/api/v1/staff/lottery-entries"))
                    .bearer_auth(&phone)
                    .json(
                        &json!({"lottery": id, "preferences": prefs, "procedure": "pin-reset",
                        "applicant_type": "holder", "name": format!("抽選 {i}"),
                        "name_kana": "チュウセン タロウ", "phone": format!("080{i:08}")}),
                    )
                    .send()
                    .await;
                if !res.is_ok_and(|r| r.status() == 201) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    let entered_in = started.elapsed();
    // The draw: from the instant on the server's clock to `drawn`.
    while server.now(&c).await < draw_at {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let due = Instant::now();
    let drawn = loop {
        let l: Value = c
            .get(format!("{}/api/v1/lotteries/{id}", server.base))
            .send()
            .await
            .expect("lottery")
            .json()
            .await
            .expect("lottery json");
        if l["status"] == "drawn" || due.elapsed() > Duration::from_secs(300) {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = due.elapsed();
    report.add(
        format!(
            "{}: a lottery of {entries} entries ({} refused): entered in / drawn in",
            backend.name(),
            failed.load(Ordering::Relaxed)
        ),
        format!(
            "{:.1} s / {:.1} s",
            entered_in.as_secs_f64(),
            took.as_secs_f64()
        ),
        format!(
            "{} won of {} entries, status {}",
            drawn["won"], drawn["entries"], drawn["status"]
        ),
        None,
    );
}
