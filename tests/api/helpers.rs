//! spawn_app(): the real server on port 0 over a fresh database, with a ManualClock.
//!
//! The backend is chosen by `MADOGUCHI_TEST_DB` (`sqlite`, the default, or `postgres`); each
//! test gets its own database: a temp-file SQLite, or a new uniquely named database on the
//! local PostgreSQL (`MADOGUCHI_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432/postgres),
//! dropped when the test ends.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use madoguchi::clock::{Clock, ManualClock};
use madoguchi::config::MailTransportKind;
use madoguchi::config::Settings;
use madoguchi::startup::Application;
use madoguchi::testing::{run_once, DeliveryReport};
use madoguchi::AppState;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::smtp::SmtpSink;

pub const STAFF_PASSWORD: &str = "counter-staff-2027";

pub fn jst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .to_utc()
}

pub fn backend() -> &'static str {
    match std::env::var("MADOGUCHI_TEST_DB").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => "postgres",
        _ => "sqlite",
    }
}

fn pg_admin_url() -> String {
    std::env::var("MADOGUCHI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Loopback test connections go without TLS: libpq then never initialises OpenSSL, whose exit
/// handler can crash a process that exits while another thread is inside libpq (diesel #3441).
fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

/// This machine as test databases name it: the first 12 hex digits of the SHA-256 of the
/// kernel's host name (`host_tag` in scripts/lib.sh computes the same).
fn host_tag() -> String {
    use sha2::{Digest, Sha256};
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let digest = Sha256::digest(name.trim_end_matches('\n').as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// A database made for one test, removed when dropped.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn create() -> TestDb {
        match backend() {
            "postgres" => {
                let admin = without_tls(&pg_admin_url());
                // Named after this machine and process, so that scripts/test sweeps only this
                // machine's databases whose run is gone (scripts/lib.sh).
                let random = uuid::Uuid::new_v4().simple().to_string();
                let name = format!(
                    "madoguchi_test_{}_{}_{}",
                    host_tag(),
                    std::process::id(),
                    &random[..16]
                );
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("PostgreSQL for tests at {admin} is not reachable: {e}")
                });
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create test database");
                let plain = pg_admin_url();
                let base = plain.rsplit_once('/').map(|(b, _)| b).unwrap_or(&plain);
                TestDb::Postgres {
                    url: without_tls(&format!("{base}/{name}")),
                    name,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("madoguchi.sqlite3").display().to_string();
                TestDb::Sqlite { _dir: dir, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name, .. } = self {
            let name = name.clone();
            // Best effort; scripts/test also sweeps leftovers before a run.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = PgConnection::establish(&without_tls(&pg_admin_url())) {
                    let _ = conn
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// The staff side's own listener, when `server.staff_bind` is set.
    pub staff_address: Option<String>,
    pub port: u16,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub state: AppState,
    pub settings: Settings,
    pub smtp: SmtpSink,
    pub db: TestDb,
}

/// Defaults, with the clock at a quiet moment (2026-11-24 10:00 JST, January open).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |_| {}).await
}

pub async fn spawn_app_at(now: DateTime<Utc>) -> TestApp {
    spawn_app_with(now, |_| {}).await
}

pub async fn spawn_app_with(now: DateTime<Utc>, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::create();
    let smtp = SmtpSink::start().await;
    let mut settings = Settings::defaults().expect("default settings");
    settings.mail.transport = MailTransportKind::Smtp;
    settings.mail.smtp_host = "127.0.0.1".into();
    settings.mail.smtp_port = smtp.port;
    settings.mail.smtp_timeout_seconds = 5;
    // Tests drive delivery with drain_outbox(); one test runs the worker itself. Scheduled
    // jobs likewise: tests call them (or the runner) with the clock where they want it.
    settings.mail.worker = false;
    settings.jobs.enabled = false;
    settings.waitlist.sweep_ms = 0;
    settings.metrics.refresh_seconds = 1;
    // Cheap password hashes: the cost parameters are not what these tests are about.
    settings.staff.argon2_memory_kib = 256;
    settings.staff.argon2_iterations = 1;
    // Administrators sign in here with a password alone; the second factor's own tests
    // (tests/api/sign_in.rs) set the roles that must have one.
    settings.staff.require_totp_for = Vec::new();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.database.url = db.url().to_string();
    settings.database.pool_size = 10;
    configure(&mut settings);
    let clock = ManualClock::at(now);
    let app = Application::build(settings.clone(), Arc::new(clock.clone()))
        .await
        .expect("app builds");
    let port = app.port();
    let staff_address = app.staff_port().map(|p| format!("http://127.0.0.1:{p}"));
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        staff_address,
        port,
        client: reqwest::Client::builder().build().expect("client"),
        clock,
        state,
        settings,
        smtp,
        db,
    }
}

/// A booking body for `slot_id` made with `token`; `who` varies the person.
pub fn booking_body(token: &str, slot_id: &str, who: usize) -> Value {
    json!({
        "verification_token": token,
        "slot_id": slot_id,
        "procedure": "pin-reset",
        "applicant_type": "holder",
        "name": format!("山田 太郎{who}"),
        "name_kana": format!("ヤマダ タロウ{}", kana_suffix(who)),
        "phone": format!("090{:08}", who),
    })
}

/// A phone booking body for `slot_id`: caller `who` (a name, kana and landline of their own,
/// never those of [`booking_body`]'s residents).
pub fn phone_booking_body(slot_id: &str, who: usize) -> Value {
    json!({
        "slot_id": slot_id,
        "procedure": "pin-reset",
        "applicant_type": "holder",
        "name": format!("電話 太郎{who}"),
        "name_kana": format!("デンワ タロウ{}", kana_suffix(who)),
        "phone": format!("0748{who:06}"),
    })
}

/// A distinct katakana suffix per person number.
pub fn kana_suffix(n: usize) -> String {
    const KANA: [char; 10] = ['ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ'];
    let mut s = String::new();
    let mut n = n;
    loop {
        s.push(KANA[n % 10]);
        n /= 10;
        if n == 0 {
            return s;
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn availability(&self, counter: &str, from: &str, to: &str) -> Value {
        let res = self
            .get(&format!(
                "/api/v1/counters/{counter}/availability?from={from}&to={to}"
            ))
            .await;
        assert_eq!(res.status(), 200, "availability");
        res.json().await.expect("json")
    }

    /// Delivers every due outbox mail now (as the worker would), returning the totals.
    pub async fn drain_outbox(&self) -> DeliveryReport {
        let mut total = DeliveryReport::default();
        loop {
            let r = run_once(
                &self.state.db,
                &self.state.mailer,
                &self.state.metrics,
                self.clock.now(),
            )
            .await
            .expect("outbox pass");
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retrying += r.retrying;
            total.failed += r.failed;
            if r.claimed == 0 {
                return total;
            }
        }
    }

    /// Creates a staff account directly (as `madoguchi staff add` does) and signs in through
    /// the API; returns the bearer token.
    pub async fn staff_token(&self, login: &str, role: &str) -> String {
        let (l, r) = (login.to_string(), role.to_string());
        let settings = self.settings.staff.clone();
        let now = self.clock.now();
        self.state
            .db
            .write(move |conn| {
                let row = madoguchi::prepare_staff(
                    madoguchi::NewStaff {
                        login: l.clone(),
                        display_name: format!("{l} さん"),
                        role: r,
                        password: STAFF_PASSWORD.into(),
                        counter: None,
                    },
                    &settings,
                    now,
                )?;
                madoguchi::create_staff(conn, row, "test", now)
            })
            .await
            .expect("staff account");
        self.login(login, STAFF_PASSWORD).await
    }

    /// The address staff requests go to: the staff listener when there is one.
    pub fn staff_url(&self, path: &str) -> String {
        match &self.staff_address {
            Some(staff) => format!("{staff}{path}"),
            None => self.url(path),
        }
    }

    pub async fn login(&self, login: &str, password: &str) -> String {
        let res = self
            .client
            .post(self.staff_url("/api/v1/staff/sessions"))
            .json(&json!({ "login": login, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 201, "login {login}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn as_staff(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.staff_url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request")
    }

    /// `POST /api/v1/staff/reservations` as `token`.
    pub async fn post_staff_reservation(&self, token: &str, body: &Value) -> reqwest::Response {
        self.as_staff(
            reqwest::Method::POST,
            "/api/v1/staff/reservations",
            Some(token),
            Some(body),
        )
        .await
    }

    /// A phone booking for caller `who` (with `email` when given) that must succeed; its
    /// reservation number.
    pub async fn phone_book(
        &self,
        token: &str,
        slot_id: &str,
        who: usize,
        email: Option<&str>,
    ) -> String {
        let mut body = phone_booking_body(slot_id, who);
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        let res = self.post_staff_reservation(token, &body).await;
        let status = res.status();
        let r: Value = res.json().await.expect("json");
        assert_eq!(status, 201, "{r}");
        r["reservation_number"]
            .as_str()
            .expect("reservation_number")
            .to_string()
    }

    pub async fn audit(&self, admin_token: &str) -> Vec<Value> {
        let res = self
            .as_staff(
                reqwest::Method::GET,
                "/api/v1/admin/audit?since=2000-01-01T00:00:00Z",
                Some(admin_token),
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        body["entries"].as_array().expect("entries").clone()
    }

    pub async fn post_verification(&self, email: &str) -> reqwest::Response {
        self.post_json("/api/v1/verifications", &json!({ "email": email }))
            .await
    }

    /// Verifies `email` the way a resident does: request, receive the mail, take its link.
    pub async fn verified_token(&self, email: &str) -> String {
        let verification_mails = || {
            let mut m = self.smtp.messages_to(email);
            m.retain(|m| m.subject.contains("メールアドレスの確認"));
            m
        };
        let before = verification_mails().len();
        let res = self.post_verification(email).await;
        assert_eq!(res.status(), 202, "verification request");
        self.drain_outbox().await;
        let mails = verification_mails();
        assert_eq!(mails.len(), before + 1, "one verification mail");
        mails.last().unwrap().link_token("/booking/verify")
    }

    /// Another server process's equal: a second application on the same database, clock and
    /// settings (as a second instance behind a load balancer). Returns its base address.
    pub async fn second_instance(&self) -> String {
        let app = Application::build(self.settings.clone(), Arc::new(self.clock.clone()))
            .await
            .expect("second instance builds");
        let port = app.port();
        tokio::spawn(app.run_until_stopped());
        format!("http://127.0.0.1:{port}")
    }

    pub async fn book(&self, body: &Value) -> reqwest::Response {
        self.post_json("/api/v1/reservations", body).await
    }

    /// Verifies a fresh address for person `who` and books `slot_id`; returns the reservation.
    pub async fn book_as(&self, who: usize, slot_id: &str) -> Value {
        let token = self
            .verified_token(&format!("resident{who}@example.jp"))
            .await;
        let res = self.book(&booking_body(&token, slot_id, who)).await;
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert_eq!(status, 201, "booking: {body}");
        body
    }

    pub async fn slot(&self, slot_id: &str) -> Value {
        let mut parts = slot_id.split('.');
        let (counter, date) = (parts.next().unwrap(), parts.next().unwrap());
        let day = self.day(counter, date).await;
        day["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == slot_id)
            .expect("slot")
            .clone()
    }

    pub async fn day(&self, counter: &str, date: &str) -> Value {
        let body = self.availability(counter, date, date).await;
        body["days"][0].clone()
    }
}

/// Asserts the status and problem+json shape, returns the body.
/// `POST /api/v1/desk/city-hall/{path}` as `token` (check-ins, walk-ins, calls, outcomes).
pub async fn desk_post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.as_staff(
        reqwest::Method::POST,
        &format!("/api/v1/desk/city-hall/{path}"),
        Some(token),
        Some(&body),
    )
    .await
}

pub async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = res.json().await.expect("problem json");
    for key in ["type", "title", "status", "detail", "code"] {
        assert!(body.get(key).is_some(), "problem has {key}: {body}");
    }
    assert_eq!(body["status"], status);
    body
}
