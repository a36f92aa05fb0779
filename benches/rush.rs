//! The noon rush on the 1st: a month opens and residents book at once.
//!
//!   cargo bench --bench rush                              # SQLite
//!   MADOGUCHI_TEST_DB=postgres cargo bench --bench rush   # PostgreSQL (local, trust auth)
//!   scripts/bench                                          # both
//!
//! The real server (release build, 2 HTTP workers, the mail worker writing .eml files) is
//! driven over loopback by `CONCURRENCY` clients. Each phase reports p50/p95 latency and
//! throughput, and their ratios to a baseline measured in the same run (GET /healthz at the
//! same concurrency), because absolute times on a shared machine mean little.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::DateTime;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use futures_util::stream::{self, StreamExt};
use madoguchi::clock::ManualClock;
use madoguchi::config::{MailTransportKind, Settings};
use madoguchi::startup::Application;
use madoguchi::tokens::{hash_token, new_token};
use madoguchi::verification::repo::{insert_verification, VerificationRow};
use serde_json::json;

const CONCURRENCY: usize = 32;
const BASELINE_REQUESTS: usize = 2000;
const AVAILABILITY_REQUESTS: usize = 1000;
const BOOKINGS: usize = 600;
const HOT_SLOT_CLIENTS: usize = 100;

struct Phase {
    name: &'static str,
    latencies: Vec<Duration>,
    wall: Duration,
    statuses: Vec<u16>,
}

impl Phase {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

async fn run_phase<F, Fut>(name: &'static str, n: usize, f: F) -> Phase
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let t0 = Instant::now();
    let results: Vec<(Duration, u16)> = stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            async move {
                let t = Instant::now();
                let status = fut.await;
                (t.elapsed(), status)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    Phase {
        name,
        wall: t0.elapsed(),
        latencies: results.iter().map(|r| r.0).collect(),
        statuses: results.iter().map(|r| r.1).collect(),
    }
}

fn database_url(dir: &std::path::Path) -> (String, Option<String>) {
    if std::env::var("MADOGUCHI_TEST_DB").as_deref() == Ok("postgres") {
        let admin = std::env::var("MADOGUCHI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("madoguchi_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&format!("{admin}?sslmode=disable"))
            .expect("PostgreSQL reachable");
        conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create bench database");
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        // Loopback, no TLS (see tests/api/helpers.rs: without_tls).
        (format!("{base}/{name}?sslmode=disable"), Some(name))
    } else {
        (dir.join("bench.sqlite3").display().to_string(), None)
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, pg_name) = database_url(dir.path());
    let mut settings = Settings::defaults().expect("defaults");
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.database.url = url;
    settings.database.pool_size = 16;
    settings.mail.transport = MailTransportKind::File;
    settings.mail.file_dir = dir.path().join("mail");
    settings.log.filter = "warn".into();
    let backend = if pg_name.is_some() {
        "postgres"
    } else {
        "sqlite"
    };

    // Noon on 1 December 2026: February 2027 has just opened.
    let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00+09:00")
        .expect("instant")
        .to_utc();
    let clock = ManualClock::at(now);
    let app = Application::build(settings.clone(), Arc::new(clock))
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.state().db.clone();
    tokio::spawn(app.run_until_stopped());

    // Verified residents, as if each had followed their mail link.
    let tokens: Vec<String> = (0..BOOKINGS + HOT_SLOT_CLIENTS)
        .map(|_| new_token())
        .collect();
    let rows: Vec<VerificationRow> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| VerificationRow {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: hash_token(t),
            email: format!("rush{i}@example.jp"),
            ip_key: format!("ip{i}"),
            counter_id: None,
            slot_id: None,
            created_at: now.naive_utc(),
            expires_at: (now + chrono::Duration::minutes(30)).naive_utc(),
            used_at: None,
        })
        .collect();
    db.run(move |conn| {
        rows.iter().try_for_each(|r| insert_verification(conn, r))?;
        Ok::<_, diesel::result::Error>(())
    })
    .await
    .expect("seed verifications");

    // February's bookable city-hall slots, in order.
    let client = reqwest::Client::new();
    let feb: serde_json::Value = client
        .get(format!(
            "{base}/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-28"
        ))
        .send()
        .await
        .expect("availability")
        .json()
        .await
        .expect("json");
    let slots: Vec<String> = feb["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
        .map(|s| s["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(slots.len() * 3 >= BOOKINGS, "enough seats for the bookings");

    let booking = |i: usize, slot: &str| {
        json!({
            "verification_token": tokens[i],
            "slot_id": slot,
            "procedure": "pin-reset",
            "applicant_type": "holder",
            "name": format!("住民 {i}"),
            // A different phone makes a different person.
            "name_kana": "ジュウミン タロウ",
            "phone": format!("090{i:08}"),
        })
    };

    let baseline = run_phase("GET /healthz (baseline)", BASELINE_REQUESTS, |_| {
        let c = client.clone();
        let u = format!("{base}/healthz");
        async move {
            c.get(u)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    })
    .await;
    let availability = run_phase("GET availability, 28 days", AVAILABILITY_REQUESTS, |_| {
        let c = client.clone();
        let u =
            format!("{base}/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-28");
        async move {
            c.get(u)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    })
    .await;
    let spread = run_phase("POST reservation, spread over February", BOOKINGS, |i| {
        let c = client.clone();
        let u = format!("{base}/api/v1/reservations");
        let body = booking(i, &slots[i % slots.len()]);
        async move {
            c.post(u)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    })
    .await;
    // A slot no one has touched yet: Azuchi's first February slot (one seat).
    let hot_slot = "azuchi.2027-02-01.0830".to_string();
    let hot = run_phase(
        "POST reservation, 100 clients on one 1-seat slot",
        HOT_SLOT_CLIENTS,
        |i| {
            let c = client.clone();
            let u = format!("{base}/api/v1/reservations");
            let body = booking(BOOKINGS + i, &hot_slot);
            async move {
                c.post(u)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        },
    )
    .await;

    let count = |p: &Phase, s: u16| p.statuses.iter().filter(|x| **x == s).count();
    assert_eq!(
        count(&spread, 201),
        BOOKINGS,
        "every spread booking succeeds"
    );
    let hot_booked = count(&hot, 201);

    println!("\n## madoguchi noon rush — {backend}, {CONCURRENCY} concurrent clients\n");
    println!(
        "| phase | requests | p50 | p95 | req/s | p50 ÷ baseline p50 | req/s ÷ baseline req/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for p in [&baseline, &availability, &spread, &hot] {
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.0} | {:.1} | {:.3} |",
            p.name,
            p.latencies.len(),
            p.pct(0.5).as_secs_f64() * 1000.0,
            p.pct(0.95).as_secs_f64() * 1000.0,
            p.throughput(),
            p.pct(0.5).as_secs_f64() / baseline.pct(0.5).as_secs_f64(),
            p.throughput() / baseline.throughput(),
        );
    }
    println!(
        "\nhot slot: {hot_booked} booked (capacity 1), {} slot_full; spread: {} booked.",
        count(&hot, 409),
        count(&spread, 201)
    );
    assert_eq!(hot_booked, 1, "never overbooked");

    if let Some(name) = pg_name {
        let admin = std::env::var("MADOGUCHI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        if let Ok(mut conn) = PgConnection::establish(&format!("{admin}?sslmode=disable")) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}
