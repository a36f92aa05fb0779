//! The noon rush on the 1st, at the machine's limit, with its ceilings measured in the same run.
//!
//!   scripts/bench                     # SQLite and PostgreSQL: every run below
//!   MADOGUCHI_BENCH_BACKENDS=sqlite MADOGUCHI_BENCH_RUNS=rush scripts/bench
//!
//! The real server (the release binary, as its own process, default settings but for the rate
//! limits) serves 2,000 residents, each a client of one load generator (256 connections):
//!
//! 1. every resident asks for a verification link at 11:59:30 (the rehearsal clock) and gets
//!    it the real way: API → outbox → SMTP (a loopback SMTP listener) → the link in the mail;
//! 2. the February month view is read for a few seconds (before the rush);
//! 3. at 12:00:00 (the server's clock), everyone books a random February city-hall slot
//!    (810 seats); a `slot_full` is retried with its first alternative;
//! 4. the month view again (after the rush, with February full);
//! 5. the database is checked: seats taken equal bookings acknowledged, no slot over capacity.
//!
//! Ceilings, measured in the same run on the same machine: the raw database rate of the same
//! shape of transaction (a conditional UPDATE of a slot row and an INSERT of a ~200-byte row
//! with a unique 12-character number), committed with the service's settings (SQLite: the
//! bundled library, WAL, synchronous=NORMAL, busy_timeout, BEGIN IMMEDIATE, 4 writer threads;
//! PostgreSQL: server defaults, 8 connections); the SMTP listener's own acceptance rate (4
//! clients, connections reused); a bare actix-web server answering the same month-view bytes
//! from memory (its own process), under the same load generator.
//!
//! Further runs: `history` (the same rush on a database holding 100,000 past reservations and
//! their sent mail) and `slow-smtp` (an SMTP server taking 2 s per message; tokens seeded, so
//! only the bookings' own mail meets the slow relay). Every figure is printed as one line with
//! its ratio to its ceiling.

#[path = "../tests/api/smtp.rs"]
mod smtp;

use std::collections::HashMap;
use std::io::Write as _;
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
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const MONTH: &str = "/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-28";
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pg_admin() -> String {
    std::env::var("MADOGUCHI_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN.into())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One printed figure: value, its ceiling (if any), the ratio.
struct Line {
    what: String,
    value: String,
    ceiling: String,
    ratio: Option<f64>,
}

#[derive(Default)]
struct Report {
    lines: Mutex<Vec<Line>>,
}

impl Report {
    fn add(&self, what: impl Into<String>, value: String, ceiling: String, ratio: Option<f64>) {
        let line = Line {
            what: what.into(),
            value,
            ceiling,
            ratio,
        };
        println!(
            "{:<58} {:>16}   {:<34} {}",
            line.what,
            line.value,
            line.ceiling,
            line.ratio
                .map(|r| format!("ratio {r:.2}"))
                .unwrap_or_default()
        );
        let _ = std::io::stdout().flush();
        self.lines.lock().unwrap().push(line);
    }

    fn markdown(&self) -> String {
        let mut out =
            String::from("| figure | value | ceiling (same run) | ratio |\n|---|---:|---|---:|\n");
        for l in self.lines.lock().unwrap().iter() {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                l.what,
                l.value,
                l.ceiling,
                l.ratio.map(|r| format!("{r:.2}")).unwrap_or_default()
            ));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Databases

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh database for one run.
struct BenchDb {
    backend: Backend,
    url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl BenchDb {
    fn create(backend: Backend, tag: &str) -> BenchDb {
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
    fn execute(&self, sql: &str) {
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

    fn count(&self, sql: &str) -> i64 {
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

/// Ceiling (a): the raw database rate of the booking's shape of transaction.
fn db_ceiling(backend: Backend, total: usize) -> f64 {
    let db = BenchDb::create(backend, "ceiling");
    db.execute(
        "CREATE TABLE slots (id TEXT PRIMARY KEY, capacity INTEGER NOT NULL, booked INTEGER NOT NULL);
         CREATE TABLE reservations (id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, slot_id TEXT NOT NULL, payload TEXT NOT NULL);",
    );
    let mut setup = String::new();
    for i in 0..810 {
        setup.push_str(&format!(
            "INSERT INTO slots VALUES ('slot-{i}', 1000000, 0);"
        ));
    }
    db.execute(&setup);
    let threads = match backend {
        Backend::Sqlite => 4,
        Backend::Postgres => 8,
    };
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (url, done) = (db.url.clone(), done.clone());
            std::thread::spawn(move || {
                let payload = "x".repeat(200);
                let tx = |i: usize| {
                    format!(
                        "UPDATE slots SET booked = booked + 1 WHERE id = 'slot-{}' AND booked < capacity;
                         INSERT INTO reservations VALUES ('{}', '{}', 'slot-{}', '{payload}');",
                        i % 810,
                        uuid::Uuid::new_v4(),
                        &uuid::Uuid::new_v4().simple().to_string()[..12],
                        i % 810
                    )
                };
                match backend {
                    Backend::Sqlite => {
                        let mut c = SqliteConnection::establish(&url).expect("sqlite");
                        c.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                            .expect("pragmas");
                        loop {
                            let i = done.fetch_add(1, Ordering::SeqCst);
                            if i >= total {
                                break;
                            }
                            c.batch_execute(&format!("BEGIN IMMEDIATE; {} COMMIT;", tx(i + t)))
                                .expect("tx");
                        }
                    }
                    Backend::Postgres => {
                        let mut c = PgConnection::establish(&url).expect("pg");
                        loop {
                            let i = done.fetch_add(1, Ordering::SeqCst);
                            if i >= total {
                                break;
                            }
                            c.batch_execute(&format!("BEGIN; {} COMMIT;", tx(i + t)))
                                .expect("tx");
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// SMTP

/// Reads one SMTP answer (its continuation lines included).
async fn answer(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).await.expect("answer");
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
}

/// Ceiling (b): the SMTP listener's own rate: 4 clients, one connection each, one write per
/// step (a client that waits for each answer never meets Nagle's algorithm).
async fn smtp_ceiling(per_client: usize) -> f64 {
    let sink = smtp::SmtpSink::start().await;
    let body = format!(
        "From: a@example.jp\r\nTo: b@example.jp\r\nSubject: x\r\n\r\n{}\r\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n".repeat(40)
    );
    let started = Instant::now();
    let clients = (0..4).map(|_| {
        let body = body.clone();
        let port = sink.port;
        tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (r, mut w) = stream.into_split();
            let mut r = BufReader::new(r);
            answer(&mut r).await;
            w.write_all(b"EHLO bench\r\n").await.unwrap();
            answer(&mut r).await;
            for _ in 0..per_client {
                w.write_all(b"MAIL FROM:<a@example.jp>\r\n").await.unwrap();
                answer(&mut r).await;
                w.write_all(b"RCPT TO:<b@example.jp>\r\n").await.unwrap();
                answer(&mut r).await;
                w.write_all(b"DATA\r\n").await.unwrap();
                answer(&mut r).await;
                w.write_all(format!("{body}.\r\n").as_bytes())
                    .await
                    .unwrap();
                answer(&mut r).await;
            }
        })
    });
    for c in clients.collect::<Vec<_>>() {
        c.await.expect("client");
    }
    (4 * per_client) as f64 / started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// The server

struct Server {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(db: &BenchDb, smtp_port: u16, clock: &str, extra: &[(&str, String)]) -> Server {
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

    async fn wait_up(&self, client: &reqwest::Client) {
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
    async fn now(&self, client: &reqwest::Client) -> DateTime<FixedOffset> {
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
    fn peak_rss_mb(&self) -> f64 {
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

    fn errors_5xx_in_log(&self) -> usize {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// GETs `url` from `connections` clients for `secs`: requests per second, and the 200s' and
/// 304s' share.
async fn read_load(
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

/// Ceiling (c): a bare actix-web server (its own process: this program re-run with
/// `--bare-server`) answering the month-view bytes from memory.
fn bare_server(port: u16, file: &str) {
    let body = actix_web::web::Bytes::from(std::fs::read(file).expect("body"));
    actix_web::rt::System::new().block_on(async move {
        actix_web::HttpServer::new(move || {
            let body = body.clone();
            actix_web::App::new().default_service(actix_web::web::to(move || {
                let body = body.clone();
                async move {
                    actix_web::HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(2)
        .bind(("127.0.0.1", port))
        .expect("bind")
        .run()
        .await
        .expect("bare server");
    });
}

async fn bare_ceiling(body: &[u8], connections: usize, secs: f64) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("month.json");
    std::fs::write(&file, body).expect("write");
    let port = free_port();
    let mut child = Command::new(std::env::current_exe().expect("self"))
        .args([
            "--bare-server",
            &port.to_string(),
            &file.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bare server");
    let c = client(connections);
    let url = format!("http://127.0.0.1:{port}{MONTH}");
    for _ in 0..200 {
        if c.get(&url).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (rate, _) = read_load(&c, &url, connections, secs, false).await;
    let _ = child.kill();
    let _ = child.wait();
    rate
}

// ---------------------------------------------------------------------------------------------
// The rush

struct Rush {
    answers: usize,
    booked: usize,
    refused: usize,
    other: usize,
    latencies: Vec<Duration>,
    wall: Duration,
    numbers: Vec<String>,
}

fn person(i: usize, token: &str, slot: &str) -> Value {
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

/// One resident's answers: latency and status of each attempt.
type Answers = Vec<(Duration, u16)>;

/// Every resident books once (retrying `slot_full` with the first alternative), resident `i`
/// at `bases[i % bases.len()]` (several instances: round-robin).
async fn rush(
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
    let results: Vec<(Answers, Option<String>)> = stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| {
            let (client, url) = (client.clone(), urls[i % urls.len()].clone());
            let mut slot = slots.choose(&mut rand::rng()).cloned().unwrap_or_default();
            async move {
                let mut answers = Vec::new();
                for _ in 0..50 {
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .json(&person(i, token, &slot))
                        .send()
                        .await;
                    let Ok(res) = res else {
                        answers.push((t.elapsed(), 0));
                        return (answers, None);
                    };
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    answers.push((t.elapsed(), status));
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
        other: 0,
        latencies: Vec::new(),
        wall,
        numbers: Vec::new(),
    };
    for (answers, number) in results {
        for (lat, status) in answers {
            r.answers += 1;
            r.latencies.push(lat);
            match status {
                201 => r.booked += 1,
                409 => r.refused += 1,
                _ => r.other += 1,
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
async fn verify_all(
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
fn seed_tokens(db: &BenchDb, n: usize, now: DateTime<FixedOffset>) -> Vec<String> {
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
fn seed_history(db: &BenchDb, n: usize) {
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
async fn february_slots(server: &Server, client: &reqwest::Client) -> (Vec<String>, Vec<u8>) {
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

struct RunOpts {
    name: &'static str,
    history: bool,
    smtp_delay: Option<Duration>,
}

struct RunResult {
    rush: Rush,
    avail_before: f64,
    avail_after: f64,
    month_bytes: Vec<u8>,
    mail_rate: Option<f64>,
    mail_p50: Option<Duration>,
    mail_p99: Option<Duration>,
    rss_mb: f64,
    server_errors: usize,
}

async fn run(
    backend: Backend,
    opts: &RunOpts,
    clients: usize,
    connections: usize,
    avail_secs: f64,
) -> RunResult {
    let db = BenchDb::create(backend, opts.name);
    let sink = smtp::SmtpSink::start().await;
    let c = client(connections);
    // Migrate first (history is written into the real schema), then serve.
    let migrate = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("migrate")
        .env("MADOGUCHI__DATABASE__URL", &db.url)
        .env("MADOGUCHI__LOG__FILTER", "warn")
        .output()
        .expect("migrate");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    if opts.history {
        seed_history(&db, 100_000);
    }
    // Half a minute before noon: the verification and the first month view take seconds.
    let server = Server::start(&db, sink.port, "2026-12-01T11:59:30+09:00", &[]);
    server.wait_up(&c).await;
    let (tokens, mail_lat, mail_wall) = if let Some(delay) = opts.smtp_delay {
        sink.set_delay(delay);
        let now = server.now(&c).await;
        (seed_tokens(&db, clients, now), Vec::new(), Duration::ZERO)
    } else {
        verify_all(&server, &sink, clients, connections).await
    };
    let (slots, month_bytes) = february_slots(&server, &c).await;
    assert_eq!(
        slots.len(),
        18 * 15,
        "February: 18 open days of 15 slots (810 seats)"
    );
    let (avail_before, _) = read_load(
        &c,
        &format!("{}{MONTH}", server.base),
        connections,
        avail_secs,
        false,
    )
    .await;
    // Noon on the server's clock.
    loop {
        let now = server.now(&c).await;
        if now >= DateTime::parse_from_rfc3339("2026-12-01T12:00:00+09:00").unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = rush(
        std::slice::from_ref(&server.base),
        &c,
        &tokens,
        &slots,
        connections,
    )
    .await;
    let (avail_after, _) = read_load(
        &c,
        &format!("{}{MONTH}", server.base),
        connections,
        avail_secs,
        false,
    )
    .await;
    let rss_mb = server.peak_rss_mb();
    // Seats taken equal bookings acknowledged (every day counted: alternatives may lie
    // outside February), and no slot is over capacity.
    let taken = db.count("SELECT CAST(COALESCE(SUM(booked), 0) AS BIGINT) AS n FROM slots WHERE visit_on >= '2026-12-01'");
    let seated = db.count("SELECT COUNT(*) AS n FROM reservations WHERE status <> 'cancelled' AND visit_on >= '2026-12-01'");
    let over = db.count("SELECT COUNT(*) AS n FROM slots WHERE booked + offer_held > capacity");
    assert_eq!(
        taken as usize, r.booked,
        "seats taken = bookings acknowledged"
    );
    assert_eq!(
        seated as usize, r.booked,
        "reservations = bookings acknowledged"
    );
    assert_eq!(over, 0, "no slot over capacity");
    assert_eq!(r.other, 0, "every answer is 201 or 409");
    let server_errors = server.errors_5xx_in_log();
    let mail_rate = (!mail_lat.is_empty()).then(|| clients as f64 / mail_wall.as_secs_f64());
    RunResult {
        mail_p50: (!mail_lat.is_empty()).then(|| pct(&mail_lat, 0.5)),
        mail_p99: (!mail_lat.is_empty()).then(|| pct(&mail_lat, 0.99)),
        rush: r,
        avail_before,
        avail_after,
        month_bytes,
        mail_rate,
        rss_mb,
        server_errors,
    }
}

// ---------------------------------------------------------------------------------------------
// Drills: `MADOGUCHI_DRILL=crash|smtp|instances cargo bench --bench rush` (scripts/drill).
// Each prints one line, `drill NAME: PASS (...)` or `drill NAME: FAIL: ... (...)`, and the
// process exits 1 on a failure.

const NOON: &str = "2026-12-01T12:00:00+09:00";

fn migrate(db: &BenchDb) {
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
fn quick_mail() -> Vec<(&'static str, String)> {
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
fn seat_checks(db: &BenchDb, failures: &mut Vec<String>) {
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
async fn outbox_drained(db: &BenchDb, secs: u64) -> i64 {
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
fn mail_per_recipient(sink: &smtp::SmtpSink) -> (usize, usize, usize) {
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

fn verdict(name: &str, failures: &[String], seen: String) -> bool {
    if failures.is_empty() {
        println!("drill {name}: PASS ({seen})");
        true
    } else {
        println!("drill {name}: FAIL: {} ({seen})", failures.join("; "));
        false
    }
}

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
        failures.push(format!("{} answers neither 201 nor 409", r.other));
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
    let add = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args([
            "staff",
            "add",
            "--login",
            "desk-drill",
            "--role",
            "desk",
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
                .write_all(b"drill-desk-password\n")?;
            child.wait()
        })
        .expect("staff add");
    assert!(add.success(), "staff add");
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
        failures.push(format!("{} answers neither 201 nor 409", r.other));
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
    let login: Value = c
        .post(format!("{}/api/v1/staff/sessions", bases[1]))
        .json(&json!({"login": "desk-drill", "password": "drill-desk-password"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    let token = login["token"].as_str().unwrap_or_default().to_string();
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

async fn bench() {
    let clients = env_usize("MADOGUCHI_BENCH_CLIENTS", 2000);
    let connections = env_usize("MADOGUCHI_BENCH_CONNECTIONS", 256);
    let avail_secs = env_usize("MADOGUCHI_BENCH_AVAILABILITY_SECONDS", 5) as f64;
    let backends: Vec<Backend> = std::env::var("MADOGUCHI_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite postgres".into())
        .split_whitespace()
        .map(|b| {
            if b.starts_with("p") {
                Backend::Postgres
            } else {
                Backend::Sqlite
            }
        })
        .collect();
    let runs =
        std::env::var("MADOGUCHI_BENCH_RUNS").unwrap_or_else(|_| "rush history slow-smtp".into());
    let report = Report::default();
    println!(
        "\n# madoguchi noon rush: {clients} residents, {connections} connections, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let smtp_rate = smtp_ceiling(500).await;
    report.add(
        "SMTP listener accepts (ceiling b)",
        format!("{smtp_rate:.0} msg/s"),
        "4 clients, connections reused".into(),
        None,
    );
    for backend in backends {
        let b = backend.name();
        let db_rate = tokio::task::spawn_blocking(move || db_ceiling(backend, 10_000))
            .await
            .expect("ceiling");
        report.add(
            format!("{b}: raw tx/s (ceiling a)"),
            format!("{db_rate:.0} tx/s"),
            "UPDATE slot + INSERT row, committed".into(),
            None,
        );
        let mut base_ratios: Option<(f64, f64, f64)> = None;
        let mut base_p99 = None;
        for name in ["rush", "history", "slow-smtp"] {
            if !runs.split_whitespace().any(|r| r == name) {
                continue;
            }
            let opts = RunOpts {
                name,
                history: name == "history",
                smtp_delay: (name == "slow-smtp").then(|| Duration::from_secs(2)),
            };
            let r = run(backend, &opts, clients, connections, avail_secs).await;
            let bare = bare_ceiling(&r.month_bytes, connections, avail_secs).await;
            let rate = r.rush.answers as f64 / r.rush.wall.as_secs_f64();
            let p99 = pct(&r.rush.latencies, 0.99);
            let tag = format!("{b} [{name}]");
            report.add(
                format!(
                    "{tag}: booking answers/s ({} 201, {} 409)",
                    r.rush.booked, r.rush.refused
                ),
                format!("{rate:.0}/s"),
                format!("{db_rate:.0} raw tx/s"),
                Some(rate / db_rate),
            );
            report.add(
                format!("{tag}: booking p50 / p99"),
                format!("{:.0} / {:.0} ms", ms(pct(&r.rush.latencies, 0.5)), ms(p99)),
                "target p99 < 250 ms".into(),
                None,
            );
            if let (Some(rate), Some(p50), Some(p99)) = (r.mail_rate, r.mail_p50, r.mail_p99) {
                report.add(
                    format!("{tag}: verification mail delivered/s"),
                    format!("{rate:.0}/s"),
                    format!("{smtp_rate:.0} msg/s the sink accepts"),
                    Some(rate / smtp_rate),
                );
                report.add(
                    format!("{tag}: verification mail latency p50 / p99"),
                    format!("{:.0} / {:.0} ms", ms(p50), ms(p99)),
                    "request to SMTP acceptance; target p99 < 5 s".into(),
                    None,
                );
            }
            report.add(
                format!("{tag}: month view req/s before the rush"),
                format!("{:.0}/s", r.avail_before),
                format!("{bare:.0}/s bare actix, same bytes"),
                Some(r.avail_before / bare),
            );
            report.add(
                format!("{tag}: month view req/s after the rush"),
                format!("{:.0}/s", r.avail_after),
                format!("{bare:.0}/s bare actix, same bytes"),
                Some(r.avail_after / bare),
            );
            report.add(
                format!("{tag}: peak RSS of the server"),
                format!("{:.1} MB", r.rss_mb),
                "target < 64 MB".into(),
                None,
            );
            report.add(
                format!("{tag}: 5xx / transport errors / seats consistent"),
                format!("{} / {} / yes", r.server_errors, r.rush.other),
                String::new(),
                None,
            );
            match name {
                "rush" => {
                    base_ratios =
                        Some((rate / db_rate, r.avail_before / bare, r.avail_after / bare));
                    base_p99 = Some(p99);
                }
                "history" => {
                    if let Some((b0, a0, a1)) = base_ratios {
                        report.add(
                            format!("{tag}: ratios against the empty run"),
                            format!(
                                "{:.2} {:.2} {:.2}",
                                (rate / db_rate) / b0,
                                (r.avail_before / bare) / a0,
                                (r.avail_after / bare) / a1
                            ),
                            "booking, view before, view after; target within 10 %".into(),
                            None,
                        );
                    }
                }
                _ => {
                    if let Some(p0) = base_p99 {
                        report.add(
                            format!("{tag}: booking p99 against the fast-SMTP run"),
                            format!("{:.0} vs {:.0} ms", ms(p99), ms(p0)),
                            "target: unchanged".into(),
                            None,
                        );
                    }
                }
            }
        }
    }
    println!("\n{}", report.markdown());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--bare-server") {
        bare_server(args[2].parse().expect("port"), &args[3]);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(which) = std::env::var("MADOGUCHI_DRILL") {
        if !runtime.block_on(drills(&which)) {
            std::process::exit(1);
        }
        return;
    }
    runtime.block_on(bench());
}
