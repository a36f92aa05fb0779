//! The binary as an operator runs it: `madoguchi` with environment overrides, from a folder
//! with no config/ (the embedded defaults), creating its SQLite file under var/.

use crate::helpers::{backend, TestDb};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn madoguchi(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
    cmd.current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("MADOGUCHI__") {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub(crate) async fn wait_until_up(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("madoguchi did not start");
}

#[tokio::test]
async fn the_run_command_serves_the_calendar_under_a_rehearsal_clock() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let port = free_port();
    let mut cmd = madoguchi(dir.path());
    cmd.env("MADOGUCHI__SERVER__BIND", format!("127.0.0.1:{port}"))
        // Ten seconds before noon: start-up (migrations on a busy PostgreSQL) must not eat the margin.
        .env("MADOGUCHI__CLOCK__START", "2026-12-01T11:59:50+09:00")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if backend() == "postgres" {
        cmd.env("MADOGUCHI__DATABASE__URL", db.url());
    }
    let _child = Running(cmd.spawn().expect("madoguchi runs"));
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&client, &base).await;
    if backend() == "sqlite" {
        assert!(
            dir.path().join("var/madoguchi.sqlite3").is_file(),
            "the default database is created under var/"
        );
    }

    let url =
        format!("{base}/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-28");
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.headers()["x-madoguchi-clock"], "rehearsal");
    let before = res.headers()["x-madoguchi-now"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(before.as_str() < "2026-12-01T12:00:00+09:00", "{before}");
    let body: Value = res.json().await.unwrap();
    assert!(body["days"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["bookable_now"] == false));

    // The rehearsal clock runs on: poll until it passes noon.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (res, after) = loop {
        let res = client.get(&url).send().await.unwrap();
        let now = res.headers()["x-madoguchi-now"]
            .to_str()
            .unwrap()
            .to_string();
        if now.as_str() >= "2026-12-01T12:00:00+09:00" {
            break (res, now);
        }
        assert!(Instant::now() < deadline, "the rehearsal clock did not run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(after.as_str() < "2026-12-01T12:00:30+09:00", "{after}");
    let body: Value = res.json().await.unwrap();
    let days = body["days"].as_array().unwrap();
    assert!(days
        .iter()
        .filter(|d| d["open"] == true)
        .all(|d| d["bookable_now"] == true));
    assert!(days.iter().any(|d| d["bookable_now"] == true));
    // Error responses carry the rehearsal headers too.
    let res = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-madoguchi-clock"], "rehearsal");
}

#[test]
fn invalid_configuration_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, expect) in [
        ("MADOGUCHI__SERVER__WORKERS", "lots", "server.workers"),
        (
            "MADOGUCHI__CLOCK__START",
            "noon on the first",
            "clock.start",
        ),
        (
            "MADOGUCHI__BOOKING__OPENING_TIME",
            "25:00",
            "booking.opening_time",
        ),
        ("MADOGUCHI__SERVR__BIND", "127.0.0.1:1", "servr"),
        (
            "MADOGUCHI__JOBS__REMINDERS__SCHEDULE",
            "every day at ten",
            "jobs.reminders.schedule",
        ),
        (
            "MADOGUCHI__JOBS__NO_SHOWS__SCHEDULE",
            "0 18 * * *",
            "jobs.no_shows.schedule",
        ),
    ] {
        let out = madoguchi(dir.path())
            .env(key, value)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert!(stderr.contains(expect), "{key}: {stderr}");
    }
}

#[test]
fn an_unreachable_database_is_reported_with_its_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = madoguchi(dir.path())
        .args(["migrate"])
        .env(
            "MADOGUCHI__DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/madoguchi",
        )
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("PostgreSQL at 127.0.0.1:1"), "{stderr}");
}

#[test]
fn migrate_applies_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let out = madoguchi(dir.path())
        .args(["migrate"])
        .env("MADOGUCHI__DATABASE__URL", db.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("applied "), "{stdout}");
    let again = madoguchi(dir.path())
        .args(["migrate"])
        .env("MADOGUCHI__DATABASE__URL", db.url())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("applied 0 "));
}

#[test]
fn the_first_admin_is_made_on_the_command_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = madoguchi(dir.path());
        cmd.args(args)
            .env("MADOGUCHI__DATABASE__URL", db.url())
            .env("MADOGUCHI__STAFF__ARGON2_MEMORY_KIB", "256");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "staff",
            "add",
            "--login",
            "chief",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a-long-first-password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = run(
        &[
            "staff",
            "add",
            "--login",
            "chief",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a-long-first-password\n"),
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("login is taken"));
    let weak = run(
        &[
            "staff",
            "add",
            "--login",
            "x1",
            "--role",
            "desk",
            "--password-stdin",
        ],
        Some("weak\n"),
    );
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("password: must be at least 12 characters")
    );
    let list = run(&["staff", "list"], None);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(listed.starts_with("chief\tadmin\tactive"), "{listed}");
    assert!(!listed.contains("a-long-first-password"));
    // The last administrator cannot be disabled (nobody could administer); a second one first.
    let last = run(&["staff", "disable", "--login", "chief"], None);
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("last enabled administrator"));
    assert!(run(
        &[
            "staff",
            "add",
            "--login",
            "deputy",
            "--role",
            "admin",
            "--password-stdin"
        ],
        Some("another-long-password\n"),
    )
    .status
    .success());
    assert!(run(&["staff", "disable", "--login", "chief"], None)
        .status
        .success());
    assert!(String::from_utf8_lossy(&run(&["staff", "list"], None).stdout).contains("disabled"));
}

#[tokio::test]
async fn a_login_name_cannot_forge_a_log_line_and_logs_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let port = free_port();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = madoguchi(dir.path());
    cmd.env("MADOGUCHI__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("MADOGUCHI__DATABASE__URL", db.url())
        .stdout(Stdio::null())
        .stderr(log);
    let _server = Running(cmd.spawn().unwrap());
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&client, &base).await;
    let forged = "x\n2026-11-29T00:00:00.000000Z  INFO madoguchi: staff login ok staff.login=chief";
    let res = client
        .post(format!("{base}/api/v1/staff/sessions"))
        .json(&serde_json::json!({ "login": forged, "password": "whatever-it-is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains("failed staff login"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-11-29T00:00:00.000000Z")),
        "a forged line: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI colour codes in a file: {text}"
    );
    assert!(
        text.contains("mail.transport"),
        "start-up says what is in use: {text}"
    );
}

/// Starts the binary on `db` with a rehearsal clock at `clock` and mail to `smtp_port`.
fn start_rehearsal(
    dir: &std::path::Path,
    db: &TestDb,
    port: u16,
    clock: &str,
    smtp_port: u16,
) -> Running {
    let mut cmd = madoguchi(dir);
    cmd.env("MADOGUCHI__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("MADOGUCHI__DATABASE__URL", db.url())
        .env("MADOGUCHI__CLOCK__START", clock)
        .env("MADOGUCHI__MAIL__TRANSPORT", "smtp")
        .env("MADOGUCHI__MAIL__SMTP_HOST", "127.0.0.1")
        .env("MADOGUCHI__MAIL__SMTP_PORT", smtp_port.to_string())
        .env("MADOGUCHI__JOBS__POLL_MS", "200")
        // The administrator here signs in with a password alone (the second factor has its
        // own tests).
        .env("MADOGUCHI__STAFF__REQUIRE_TOTP_FOR", "[]")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Running(cmd.spawn().unwrap())
}

#[tokio::test]
async fn a_server_rehearsing_friday_ten_oclock_sends_tuesdays_reminder_over_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let smtp = crate::smtp::SmtpSink::start().await;
    let add = madoguchi(dir.path())
        .args([
            "staff",
            "add",
            "--login",
            "chief",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .env("MADOGUCHI__DATABASE__URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"a-long-first-password\n")?;
            child.wait()
        })
        .unwrap();
    assert!(add.success());
    let client = reqwest::Client::new();
    let login = |base: String| {
        let client = client.clone();
        async move {
            let r: Value = client
                .post(format!("{base}/api/v1/staff/sessions"))
                .json(&serde_json::json!({"login": "chief", "password": "a-long-first-password"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["token"].as_str().unwrap().to_string()
        }
    };
    // December: a phone booking with an address for Tuesday 12 January (Monday 11 is a holiday).
    {
        let port = free_port();
        let _server = start_rehearsal(
            dir.path(),
            &db,
            port,
            "2026-12-21T10:30:00+09:00",
            smtp.port,
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_until_up(&client, &base).await;
        let token = login(base.clone()).await;
        let res = client
            .post(format!("{base}/api/v1/staff/reservations"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "slot_id": "city-hall.2027-01-12.0930", "procedure": "pin-reset", "applicant_type": "holder",
                "name": "火曜 太郎", "name_kana": "カヨウ タロウ", "phone": "0748-00-1234",
                "email": "tuesday@example.jp"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    // Friday 8 January, four seconds before ten.
    let port = free_port();
    let _server = start_rehearsal(
        dir.path(),
        &db,
        port,
        "2027-01-08T09:59:56+09:00",
        smtp.port,
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&client, &base).await;
    let started = Instant::now();
    let reminder = loop {
        let found = smtp
            .messages_to("tuesday@example.jp")
            .into_iter()
            .find(|m| m.subject.contains("【ご予約の確認】"));
        if let Some(m) = found {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no reminder within 20 s of start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        reminder.text.contains("2027年1月12日(火)"),
        "{}",
        reminder.text
    );
    let token = login(base.clone()).await;
    let jobs: Value = client
        .get(format!("{base}/api/v1/admin/jobs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reminders = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "reminders")
        .unwrap()
        .clone();
    assert_eq!(
        reminders["runs"][0]["scheduled_at"], "2027-01-08T10:00:00+09:00",
        "{reminders}"
    );
    assert_eq!(reminders["runs"][0]["outcome"], "ok");
    assert_eq!(reminders["runs"][0]["rows"], 1);
}
