//! What the benchmarks and the drills share: fresh databases, the real server as its own
//! process, the residents' verification and their rush, the checks of the seats afterwards,
//! and the ceilings every figure is compared with (measured in the same run).
//!
//! Each bench target (`benches/rush`, `benches/drills`) includes this module; an item one of
//! them does not use is not dead.
#![allow(dead_code)]

pub mod ceilings;
pub mod report;
#[path = "../../tests/api/smtp.rs"]
pub mod smtp;
pub mod wrk;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use futures_util::stream::{self, StreamExt};
use rand::seq::IndexedRandom;
use serde_json::{json, Value};

pub const MONTH: &str = "/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-28";
/// Noon on the 1st: December's opening of February.
pub const NOON: &str = "2026-12-01T12:00:00+09:00";
pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn pg_admin() -> String {
    std::env::var("MADOGUCHI_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN.into())
}

pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Databases

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh database for one run.
pub struct BenchDb {
    pub backend: Backend,
    pub url: String,
    pub pg_name: Option<String>,
    pub _dir: tempfile::TempDir,
}

impl BenchDb {
    pub fn create(backend: Backend, tag: &str) -> BenchDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => BenchDb {
                backend,
                url: dir
                    .path()
                    .join(format!("{tag}.sqlite3"))
                    .display()
                    .to_string(),
                pg_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                let name = format!("madoguchi_bench_{tag}_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&format!("{}?sslmode=disable", pg_admin()))
                    .expect("PostgreSQL reachable");
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create bench database");
                let admin = pg_admin();
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin);
                BenchDb {
                    backend,
                    url: format!("{base}/{name}?sslmode=disable"),
                    pg_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    /// Runs SQL against the database (setup, checks).
    pub fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => SqliteConnection::establish(&self.url)
                .expect("sqlite")
                .batch_execute(sql)
                .expect("sql"),
            Backend::Postgres => PgConnection::establish(&self.url)
                .expect("pg")
                .batch_execute(sql)
                .expect("sql"),
        }
    }

    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<N> = match self.backend {
            Backend::Sqlite => diesel::sql_query(sql)
                .load(&mut SqliteConnection::establish(&self.url).expect("sqlite"))
                .expect("count"),
            Backend::Postgres => diesel::sql_query(sql)
                .load(&mut PgConnection::establish(&self.url).expect("pg"))
                .expect("count"),
        };
        rows.first().map(|r| r.n).unwrap_or(-1)
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) =
                PgConnection::establish(&format!("{}?sslmode=disable", pg_admin()))
            {
                let _ =
                    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server

pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
    pub _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(db: &BenchDb, smtp_port: u16, clock: &str, extra: &[(&str, String)]) -> Server {
        let dir = tempfile::tempdir().expect("server dir");
        let port = free_port();
        let log = dir.path().join("server.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
        cmd.current_dir(dir.path())
            .env("MADOGUCHI__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("MADOGUCHI__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("MADOGUCHI__DATABASE__URL", &db.url)
            .env("MADOGUCHI__CLOCK__START", clock)
            .env("MADOGUCHI__MAIL__TRANSPORT", "smtp")
            .env("MADOGUCHI__MAIL__SMTP_HOST", "127.0.0.1")
            .env("MADOGUCHI__MAIL__SMTP_PORT", smtp_port.to_string())
            // 2,000 residents from one address: the rate limits would be the test.
            .env("MADOGUCHI__LIMITS__VERIFY_PER_ADDRESS", "1000000")
            .env("MADOGUCHI__LIMITS__VERIFY_PER_IP", "1000000")
            .env("MADOGUCHI__LOG__FILTER", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Server {
            child: cmd.spawn().expect("madoguchi starts"),
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    pub async fn wait_up(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the server did not start: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// The server's clock, from its `X-Madoguchi-Now`.
    pub async fn now(&self, client: &reqwest::Client) -> DateTime<FixedOffset> {
        let res = client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .expect("healthz");
        let now = res.headers()["x-madoguchi-now"]
            .to_str()
            .unwrap()
            .to_string();
        DateTime::parse_from_rfc3339(&now).expect("instant")
    }

    /// The peak resident set size so far (VmHWM), in MB.
    pub fn peak_rss_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    pub fn errors_5xx_in_log(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("request failed") || l.contains("unexpected error"))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// GETs `url` from `connections` clients for `secs`: requests per second, and the 200s' and
/// 304s' share.
pub async fn read_load(
    client: &reqwest::Client,
    url: &str,
    connections: usize,
    secs: f64,
    etag: bool,
) -> (f64, usize) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let count = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, count, errors) = (
                client.clone(),
                url.to_string(),
                count.clone(),
                errors.clone(),
            );
            tokio::spawn(async move {
                let mut tag: Option<String> = None;
                while Instant::now() < deadline {
                    let mut req = client.get(&url);
                    if let (true, Some(t)) = (etag, &tag) {
                        req = req.header("if-none-match", t);
                    }
                    match req.send().await {
                        Ok(res) if res.status().is_success() || res.status() == 304 => {
                            if let Some(t) = res.headers().get("etag") {
                                tag = t.to_str().ok().map(str::to_string);
                            }
                            let _ = res.bytes().await;
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    (
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        errors.load(Ordering::Relaxed),
    )
}

// ---------------------------------------------------------------------------------------------
// The rush

pub struct Rush {
    pub answers: usize,
    pub booked: usize,
    pub refused: usize,
    /// 503 `busy` answers (each retried after its Retry-After).
    pub busy: usize,
    pub other: usize,
    /// What each of the `other` answers was (a transport error's words, or a status and code).
    pub others: Vec<String>,
    pub latencies: Vec<Duration>,
    pub wall: Duration,
    pub numbers: Vec<String>,
}

pub fn person(i: usize, token: &str, slot: &str) -> Value {
    json!({
        "verification_token": token,
        "slot_id": slot,
        "procedure": "pin-reset",
        "applicant_type": "holder",
        "name": format!("住民 {i}"),
        "name_kana": "ジュウミン タロウ",
        // A different phone makes a different person.
        "phone": format!("090{i:08}"),
    })
}

/// One resident's answers: latency and status of each attempt, and what an unexpected one was.
type Answers = Vec<(Duration, u16, Option<String>)>;

/// Every resident books once (retrying `slot_full` with the first alternative), resident `i`
/// at `bases[i % bases.len()]` (several instances: round-robin).
pub async fn rush(
    bases: &[String],
    client: &reqwest::Client,
    tokens: &[String],
    slots: &[String],
    connections: usize,
) -> Rush {
    let urls: Vec<String> = bases
        .iter()
        .map(|b| format!("{b}/api/v1/reservations"))
        .collect();
    let started = Instant::now();
    // Each resident is a task of its own, so the load generator's work (requests, JSON) is
    // spread over the runtime's threads: polled together in one task, the residents waited for
    // each other in the generator, and their latencies measured its queue, not the server's.
    let results: Vec<(Answers, Option<String>)> = stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| {
            let (client, url) = (client.clone(), urls[i % urls.len()].clone());
            let mut slot = slots.choose(&mut rand::rng()).cloned().unwrap_or_default();
            let token = token.clone();
            let resident = async move {
                let token = &token;
                let mut answers = Vec::new();
                for _ in 0..50 {
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .json(&person(i, token, &slot))
                        .send()
                        .await;
                    let res = match res {
                        Ok(res) => res,
                        Err(e) => {
                            answers.push((t.elapsed(), 0, Some(format!("transport: {e:?}"))));
                            return (answers, None);
                        }
                    };
                    let status = res.status().as_u16();
                    let retry_after = res
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    let unexpected = match status {
                        201 | 409 => None,
                        503 if body["code"] == "busy" => None,
                        _ => Some(format!("{status} {}", body["code"])),
                    };
                    answers.push((t.elapsed(), status, unexpected));
                    if status == 503 && body["code"] == "busy" {
                        // As the pages do: again after Retry-After, with jitter.
                        let jitter = rand::random::<u64>() % 500;
                        let wait = retry_after.unwrap_or(1) * 1000 + jitter;
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        continue;
                    }
                    if status == 201 {
                        return (
                            answers,
                            body["reservation_number"].as_str().map(str::to_string),
                        );
                    }
                    match body["alternatives"][0]["id"].as_str() {
                        Some(next) if status == 409 && body["code"] == "slot_full" => {
                            slot = next.to_string()
                        }
                        _ => return (answers, None),
                    }
                }
                (answers, None)
            };
            async move {
                tokio::spawn(resident).await.unwrap_or_else(|e| {
                    (vec![(Duration::ZERO, 0, Some(format!("task: {e}")))], None)
                })
            }
        })
        .buffer_unordered(connections)
        .collect()
        .await;
    let wall = started.elapsed();
    let mut r = Rush {
        answers: 0,
        booked: 0,
        refused: 0,
        busy: 0,
        other: 0,
        others: Vec::new(),
        latencies: Vec::new(),
        wall,
        numbers: Vec::new(),
    };
    for (answers, number) in results {
        for (lat, status, unexpected) in answers {
            r.answers += 1;
            r.latencies.push(lat);
            if let Some(what) = unexpected {
                r.other += 1;
                r.others.push(what);
                continue;
            }
            match status {
                201 => r.booked += 1,
                409 => r.refused += 1,
                _ => r.busy += 1,
            }
        }
        if let Some(n) = number {
            r.numbers.push(n);
        }
    }
    r.latencies.sort();
    r
}

/// Verifies every resident the real way; returns the tokens and the delivery latencies.
pub async fn verify_all(
    server: &Server,
    sink: &smtp::SmtpSink,
    n: usize,
    connections: usize,
) -> (Vec<String>, Vec<Duration>, Duration) {
    let url = format!("{}/api/v1/verifications", server.base);
    let asked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // Residents ask from their own homes: 64 source addresses (127.0.0.2-65), not one. From
    // one address every request would queue behind the per-address limit's lock.
    let homes: Vec<reqwest::Client> = (0..64u8)
        .map(|k| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(connections.div_ceil(64))
                .local_address(std::net::IpAddr::from([127, 0, 0, k + 2]))
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client")
        })
        .collect();
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..n)
        .map(|i| {
            let (client, url, asked) = (homes[i % homes.len()].clone(), url.clone(), asked.clone());
            async move {
                let email = format!("rush{i}@example.jp");
                asked.lock().unwrap().insert(email.clone(), Instant::now());
                client
                    .post(&url)
                    .json(&json!({ "email": email }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(connections)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 202),
        "every verification request is accepted"
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink.received().len() < n {
        assert!(
            Instant::now() < deadline,
            "verification mail did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    let asked = asked.lock().unwrap().clone();
    let mut latencies = Vec::with_capacity(n);
    let mut tokens = vec![String::new(); n];
    for r in sink.received() {
        let to = r.envelope_to.first().cloned().unwrap_or_default();
        if let Some(at) = asked.get(&to) {
            latencies.push(r.accepted_at.saturating_duration_since(*at));
        }
        let text = String::from_utf8_lossy(&r.raw).to_string();
        let mail = mail_parser::MessageParser::default()
            .parse(text.as_bytes())
            .expect("mime");
        let body = mail.body_text(0).map(|b| b.to_string()).unwrap_or_default();
        let token: String = body
            .split("token=")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if let Some(i) = to
            .strip_prefix("rush")
            .and_then(|s| s.strip_suffix("@example.jp"))
            .and_then(|s| s.parse::<usize>().ok())
        {
            tokens[i] = token;
        }
    }
    latencies.sort();
    (tokens, latencies, wall)
}

/// Verification tokens written straight into the database (the slow-SMTP run).
pub fn seed_tokens(db: &BenchDb, n: usize, now: DateTime<FixedOffset>) -> Vec<String> {
    let tokens: Vec<String> = (0..n).map(|_| madoguchi::tokens::new_token()).collect();
    let ts = now.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    let exp = (now + chrono::Duration::minutes(60))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut sql = String::from("BEGIN;");
    for (i, t) in tokens.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO verifications (id, token_hash, email, ip_key, counter_id, slot_id, created_at, expires_at, used_at) VALUES ('{}', '{}', 'rush{i}@example.jp', 'bench', NULL, NULL, '{ts}', '{exp}', NULL);",
            uuid::Uuid::new_v4(),
            madoguchi::tokens::hash_token(t)
        ));
    }
    sql.push_str("COMMIT;");
    db.execute(&sql);
    tokens
}

/// A year of history: 100,000 past reservations (on their slots) and their sent mail.
pub fn seed_history(db: &BenchDb, n: usize) {
    let started = Instant::now();
    let base = chrono::NaiveDate::from_ymd_opt(2025, 11, 20).unwrap();
    let mut slots = String::from("BEGIN;");
    let mut days = Vec::new();
    for d in 0..365 {
        let day = base + chrono::Duration::days(d);
        days.push(day);
        for s in 0..15 {
            let h = 9 + s / 2;
            let m = (s % 2) * 30;
            let start = day.and_hms_opt(h - 9, m, 0).unwrap();
            slots.push_str(&format!(
                "INSERT INTO slots (id, counter_id, visit_on, starts_at, ends_at, capacity, booked, updated_at) VALUES ('city-hall.{day}.{h:02}{m:02}', 'city-hall', '{day}', '{start}', '{}', 1000, 0, '{start}');",
                start + chrono::Duration::minutes(30)
            ));
        }
    }
    slots.push_str("COMMIT;");
    db.execute(&slots);
    for chunk_start in (0..n).step_by(5000) {
        let mut sql = String::from("BEGIN;");
        for i in chunk_start..(chunk_start + 5000).min(n) {
            let day = days[i % days.len()];
            let s = i % 15;
            let (h, m) = (9 + s / 2, (s % 2) * 30);
            let slot = format!("city-hall.{day}.{h:02}{m:02}");
            let start = day.and_hms_opt((h - 9) as u32, m as u32, 0).unwrap();
            let id = uuid::Uuid::new_v4();
            let number = format!("H{:03}-{:04}", i / 10000, i % 10000);
            let status = ["completed", "completed", "no_show", "cancelled"][i % 4];
            sql.push_str(&format!(
                "INSERT INTO reservations (id, reservation_number, manage_token_hash, status, channel, counter_id, slot_id, visit_on, starts_at, ends_at, procedure_id, applicant_type, name, name_kana, phone, email, person_key, created_at, updated_at) VALUES ('{id}', '{number}', 'h{id}', '{status}', 'web', 'city-hall', '{slot}', '{day}', '{start}', '{}', 'pin-reset', 'holder', '過去 {i}', 'カコ', '0900000{i:04}', 'past{i}@example.jp', 'カコ|0900000{i:04}', '{start}', '{start}');",
                start + chrono::Duration::minutes(30)
            ));
            sql.push_str(&format!(
                "INSERT INTO outbox (id, kind, recipient, message_id, payload, subject, status, attempts, next_attempt_at, reservation_id, created_at, sent_at) VALUES ('o{id}', 'booking_confirmed', 'past{i}@example.jp', '<o{id}@bench>', '{{}}', '【予約完了】', 'sent', 1, '{start}', '{id}', '{start}', '{start}');"
            ));
            if status != "cancelled" {
                sql.push_str(&format!(
                    "UPDATE slots SET booked = booked + 1 WHERE id = '{slot}';"
                ));
            }
        }
        sql.push_str("COMMIT;");
        db.execute(&sql);
    }
    eprintln!(
        "history: {n} past reservations and their mail written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// February's city-hall slots (the ones the rush books).
pub async fn february_slots(server: &Server, client: &reqwest::Client) -> (Vec<String>, Vec<u8>) {
    let res = client
        .get(format!("{}{MONTH}", server.base))
        .send()
        .await
        .expect("month");
    let body = res.bytes().await.expect("bytes").to_vec();
    let v: Value = serde_json::from_slice(&body).expect("json");
    let slots: Vec<String> = v["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
        .map(|s| s["id"].as_str().unwrap_or_default().to_string())
        .collect();
    (slots, body)
}

/// Noon on the 1st: December's opening of February.
pub fn migrate(db: &BenchDb) {
    let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("migrate")
        .env("MADOGUCHI__DATABASE__URL", &db.url)
        .env("MADOGUCHI__LOG__FILTER", "warn")
        .output()
        .expect("migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Mail retried within seconds and leases short, so a drill sees recovery in its time.
pub fn quick_mail() -> Vec<(&'static str, String)> {
    vec![
        ("MADOGUCHI__MAIL__RETRY_BASE_SECONDS", "1".into()),
        ("MADOGUCHI__MAIL__RETRY_MAX_SECONDS", "2".into()),
        ("MADOGUCHI__MAIL__MAX_ATTEMPTS", "1000".into()),
        ("MADOGUCHI__MAIL__LEASE_SECONDS", "5".into()),
        ("MADOGUCHI__MAIL__POLL_INTERVAL_MS", "200".into()),
    ]
}

/// Every seat held by exactly the reservations on it, none over capacity, and every
/// reservation with an address has its mail in the outbox (written in the same commit).
pub fn seat_checks(db: &BenchDb, failures: &mut Vec<String>) {
    let mismatched = db.count(
        "SELECT COUNT(*) AS n FROM slots s WHERE s.booked <> (SELECT COUNT(*) FROM reservations r WHERE r.slot_id = s.id AND r.status <> 'cancelled')",
    );
    let over = db.count("SELECT COUNT(*) AS n FROM slots WHERE booked + offer_held > capacity");
    let no_mail = db.count(
        "SELECT COUNT(*) AS n FROM reservations r WHERE r.email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.reservation_id = r.id)",
    );
    if mismatched != 0 {
        failures.push(format!(
            "{mismatched} slots whose booked count differs from their reservations"
        ));
    }
    if over != 0 {
        failures.push(format!("{over} slots over capacity"));
    }
    if no_mail != 0 {
        failures.push(format!("{no_mail} reservations without their outbox mail"));
    }
}

/// Waits (up to `secs`) until the outbox holds nothing unsent; the count left.
pub async fn outbox_drained(db: &BenchDb, secs: u64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = db.count("SELECT COUNT(*) AS n FROM outbox WHERE status <> 'sent'");
        if left == 0 || Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Messages the sink accepted per recipient: (recipients with exactly one, with more, total).
pub fn mail_per_recipient(sink: &smtp::SmtpSink) -> (usize, usize, usize) {
    let mut per: HashMap<String, usize> = HashMap::new();
    let received = sink.received();
    for r in &received {
        for to in &r.envelope_to {
            *per.entry(to.clone()).or_default() += 1;
        }
    }
    let once = per.values().filter(|n| **n == 1).count();
    let more = per.values().filter(|n| **n > 1).count();
    (once, more, received.len())
}

pub fn verdict(name: &str, failures: &[String], seen: String) -> bool {
    if failures.is_empty() {
        println!("drill {name}: PASS ({seen})");
        true
    } else {
        println!("drill {name}: FAIL: {} ({seen})", failures.join("; "));
        false
    }
}

/// A staff account made the way a city makes it: `madoguchi staff add`, password on stdin.
pub fn staff_add(db: &BenchDb, login: &str, role: &str, password: &str) {
    use std::io::Write as _;
    let add = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args([
            "staff",
            "add",
            "--login",
            login,
            "--role",
            role,
            "--password-stdin",
        ])
        .env("MADOGUCHI__DATABASE__URL", &db.url)
        .env("MADOGUCHI__LOG__FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{password}\n").as_bytes())?;
            child.wait()
        })
        .expect("staff add");
    assert!(add.success(), "staff add {login}");
}

/// A staff session's bearer token.
pub async fn staff_login(c: &reqwest::Client, base: &str, login: &str, password: &str) -> String {
    let login: Value = c
        .post(format!("{base}/api/v1/staff/sessions"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    login["token"].as_str().unwrap_or_default().to_string()
}

/// The backends of `MADOGUCHI_BENCH_BACKENDS` ("sqlite postgres" by default).
pub fn backends() -> Vec<Backend> {
    std::env::var("MADOGUCHI_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite postgres".into())
        .split_whitespace()
        .map(|b| {
            if b.starts_with('p') {
                Backend::Postgres
            } else {
                Backend::Sqlite
            }
        })
        .collect()
}
