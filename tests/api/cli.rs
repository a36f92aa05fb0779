//! The binary as an operator runs it: `madoguchi` with environment overrides, from a folder
//! with no config/ (the embedded defaults), creating its SQLite file under var/.

use crate::helpers::{backend, TestDb};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn madoguchi(dir: &std::path::Path) -> Command {
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

async fn wait_until_up(client: &reqwest::Client, base: &str) {
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
