//! The drills: what must hold when things go wrong in a rush, each ending in one line
//! `drill NAME: PASS (...)` or `drill NAME: FAIL: ... (...)`; the process exits 1 on a failure.
//!
//!   scripts/drill crash|smtp|instances|all     (release build; `cargo bench --bench drills`)
//!
//! - crash: `kill -9` in the middle of a rush, then a restart: every 201 is still there, every
//!   slot's booked count equals its reservations, every booking's mail goes out after it;
//! - smtp: the SMTP server refuses connections through a burst of bookings, then comes back:
//!   every mail is delivered exactly once, and no booking waited on it;
//! - instances: three server processes on one PostgreSQL: no overbooking, each mail once, and
//!   a call at one instance reaches a waiting-room screen connected to another.

#[path = "../common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// `kill -9` in the middle of a rush, then a restart: every 201 is still there, every slot's
/// booked count equals its reservations, and every booking's mail goes out after the restart.
async fn drill_crash(backend: Backend, clients: usize, connections: usize) -> bool {
    let db = BenchDb::create(backend, "crash");
    migrate(&db);
    let sink = smtp::SmtpSink::start().await;
    let c = client(connections);
    let mut server = Server::start(&db, sink.port, NOON, &quick_mail());
    server.wait_up(&c).await;
    let now = server.now(&c).await;
    let tokens = seed_tokens(&db, clients, now);
    let (slots, _) = february_slots(&server, &c).await;
    let bases = vec![server.base.clone()];
    let load = rush(&bases, &c, &tokens, &slots, connections);
    // Kill once a quarter of the residents hold a seat: bookings are in flight.
    let kill = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while db.count("SELECT COUNT(*) AS n FROM reservations") < (clients / 4) as i64
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = server.child.kill();
        let _ = server.child.wait();
        db.count("SELECT COUNT(*) AS n FROM reservations")
    };
    let (r, at_kill) = tokio::join!(load, kill);
    let restarted = Server::start(&db, sink.port, NOON, &quick_mail());
    restarted.wait_up(&c).await;
    let mut failures = Vec::new();
    let acknowledged = r.numbers.len();
    if acknowledged == 0 {
        failures.push("no booking was acknowledged before the kill".into());
    }
    let mut kept = 0;
    for chunk in r.numbers.chunks(500) {
        let list = chunk
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(",");
        kept += db.count(&format!(
            "SELECT COUNT(*) AS n FROM reservations WHERE status = 'confirmed' AND reservation_number IN ({list})"
        ));
    }
    if kept as usize != acknowledged {
        failures.push(format!(
            "{} acknowledged bookings missing after the restart",
            acknowledged as i64 - kept
        ));
    }
    seat_checks(&db, &mut failures);
    let left = outbox_drained(&db, 60).await;
    if left != 0 {
        failures.push(format!("{left} mails still unsent 60 s after the restart"));
    }
    let reservations = db.count("SELECT COUNT(*) AS n FROM reservations") as usize;
    let (once, more, total) = mail_per_recipient(&sink);
    if once + more != reservations {
        failures.push(format!(
            "{} residents with a booking got no mail",
            reservations as i64 - (once + more) as i64
        ));
    }
    verdict(
        &format!("crash [{}]", backend.name()),
        &failures,
        format!(
            "killed with {at_kill} reservations written; {acknowledged} 201 acknowledged, {kept} found after the restart; {reservations} reservations, {total} mails, {more} residents mailed twice (a mail in flight at the kill is sent again: at least once)"
        ),
    )
}

/// The SMTP server refuses connections through a burst of bookings, then comes back: every
/// mail is delivered, exactly once, and no booking waited on it.
async fn drill_smtp(backend: Backend, clients: usize, connections: usize) -> bool {
    let db = BenchDb::create(backend, "smtp");
    migrate(&db);
    let smtp_port = free_port(); // nothing listens there yet: connections are refused
    let c = client(connections);
    let server = Server::start(&db, smtp_port, NOON, &quick_mail());
    server.wait_up(&c).await;
    let now = server.now(&c).await;
    let tokens = seed_tokens(&db, clients, now);
    let (slots, _) = february_slots(&server, &c).await;
    let r = rush(
        std::slice::from_ref(&server.base),
        &c,
        &tokens,
        &slots,
        connections,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut failures = Vec::new();
    if r.other != 0 {
        failures.push(format!(
            "{} answers neither 201, 409 nor busy: {:?}",
            r.other,
            &r.others[..r.others.len().min(5)]
        ));
    }
    let tried =
        db.count("SELECT COUNT(*) AS n FROM outbox WHERE attempts > 0 AND status <> 'sent'");
    let sent_while_down = db.count("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'");
    if tried == 0 {
        failures.push("no delivery was attempted while the SMTP server was down".into());
    }
    if sent_while_down != 0 {
        failures.push(format!(
            "{sent_while_down} mails marked sent while nothing listened"
        ));
    }
    let sink = smtp::SmtpSink::start_on(smtp_port).await;
    let left = outbox_drained(&db, 60).await;
    if left != 0 {
        failures.push(format!(
            "{left} mails unsent 60 s after the SMTP server came back"
        ));
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // any duplicate would arrive now
    let (once, more, total) = mail_per_recipient(&sink);
    if once != r.booked || more != 0 || total != r.booked {
        failures.push(format!(
            "{} bookings, {once} residents mailed once, {more} more than once, {total} mails",
            r.booked
        ));
    }
    let failed = db.count("SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'");
    if failed != 0 {
        failures.push(format!("{failed} mails marked failed"));
    }
    seat_checks(&db, &mut failures);
    verdict(
        &format!("smtp [{}]", backend.name()),
        &failures,
        format!(
            "{} bookings while SMTP refused connections (p99 {:.0} ms), {tried} mails retried meanwhile; after it came back {total} mails, {once} residents once, {more} twice",
            r.booked,
            ms(pct(&r.latencies, 0.99))
        ),
    )
}

/// Three server processes on one PostgreSQL behind round-robin clients: no overbooking,
/// each mail once, and a call at one instance reaches a display connected to another.
async fn drill_instances(clients: usize, connections: usize) -> bool {
    let db = BenchDb::create(Backend::Postgres, "instances");
    migrate(&db);
    let sink = smtp::SmtpSink::start().await;
    let c = client(connections);
    staff_add(&db, "desk-drill", "desk", "drill-desk-password");
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::start(&db, sink.port, NOON, &quick_mail()))
        .collect();
    for s in &servers {
        s.wait_up(&c).await;
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let now = servers[0].now(&c).await;
    let tokens = seed_tokens(&db, clients, now);
    let (slots, _) = february_slots(&servers[0], &c).await;
    let r = rush(&bases, &c, &tokens, &slots, connections).await;
    let mut failures = Vec::new();
    if r.other != 0 {
        failures.push(format!(
            "{} answers neither 201, 409 nor busy: {:?}",
            r.other,
            &r.others[..r.others.len().min(5)]
        ));
    }
    let seated = db.count("SELECT COUNT(*) AS n FROM reservations WHERE status <> 'cancelled'");
    if seated as usize != r.booked {
        failures.push(format!(
            "{seated} reservations for {} acknowledged",
            r.booked
        ));
    }
    seat_checks(&db, &mut failures);
    let left = outbox_drained(&db, 60).await;
    if left != 0 {
        failures.push(format!("{left} mails unsent after 60 s"));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (once, more, total) = mail_per_recipient(&sink);
    if once != r.booked || more != 0 {
        failures.push(format!(
            "{} bookings, {once} residents mailed once, {more} more than once",
            r.booked
        ));
    }
    // The display: connected to instance 3; a walk-in at instance 2; called at instance 1.
    let display = c
        .get(format!("{}/api/v1/desk/city-hall/display", bases[2]))
        .send()
        .await
        .expect("display");
    let seen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut display = display;
            while let Ok(Some(chunk)) = display.chunk().await {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        })
    };
    let token = staff_login(&c, &bases[1], "desk-drill", "drill-desk-password").await;
    let walk_in = c
        .post(format!("{}/api/v1/desk/city-hall/walk-ins", bases[1]))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("walk-in");
    let walk_in_status = walk_in.status().as_u16();
    let walk_in: Value = walk_in.json().await.unwrap_or(Value::Null);
    let called: Value = c
        .post(format!("{}/api/v1/desk/city-hall/calls", bases[0]))
        .bearer_auth(&token)
        .json(&json!({"desk": "3"}))
        .send()
        .await
        .expect("call")
        .json()
        .await
        .unwrap_or(Value::Null);
    let ticket = called["ticket"].as_str().unwrap_or("?").to_string();
    if walk_in_status != 201 || walk_in["ticket"].as_str() != Some(ticket.as_str()) {
        failures.push(format!(
            "walk-in {walk_in_status} {walk_in}, called {called}"
        ));
    }
    let called_at = Instant::now();
    let mut shown = None;
    while called_at.elapsed() < Duration::from_secs(10) {
        if seen
            .lock()
            .unwrap()
            .contains(&format!("\"ticket\":\"{ticket}\""))
        {
            shown = Some(called_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    if shown.is_none() {
        failures.push(format!(
            "the call of {ticket} at instance 1 did not reach the display at instance 3 in 10 s"
        ));
    }
    verdict(
        "instances [postgres]",
        &failures,
        format!(
            "3 instances, {} bookings, {} slot_full; {total} mails, {more} duplicates; call of {ticket} shown on another instance's display after {:.0} ms",
            r.booked,
            r.refused,
            shown.map(ms).unwrap_or(f64::NAN)
        ),
    )
}

async fn drills(which: &str) -> bool {
    let clients = env_usize("MADOGUCHI_BENCH_CLIENTS", 1000);
    let connections = env_usize("MADOGUCHI_BENCH_CONNECTIONS", 128);
    let backends: Vec<Backend> = std::env::var("MADOGUCHI_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite postgres".into())
        .split_whitespace()
        .map(|b| {
            if b.starts_with('p') {
                Backend::Postgres
            } else {
                Backend::Sqlite
            }
        })
        .collect();
    let mut ok = true;
    for name in which
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match name {
            "crash" => {
                for &b in &backends {
                    ok &= drill_crash(b, clients, connections).await;
                }
            }
            "smtp" => {
                for &b in &backends {
                    ok &= drill_smtp(b, clients, connections).await;
                }
            }
            "instances" => ok &= drill_instances(clients, connections).await,
            other => {
                println!("drill {other}: FAIL: no such drill (crash, smtp, instances)");
                ok = false;
            }
        }
    }
    ok
}

fn main() {
    let which = std::env::var("MADOGUCHI_DRILL").unwrap_or_else(|_| "crash smtp instances".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if !runtime.block_on(drills(&which)) {
        std::process::exit(1);
    }
}
