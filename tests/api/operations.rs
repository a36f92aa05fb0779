//! What a city's IT department runs: backups taken while the service serves, restores, and
//! scheduled backups (issue 23).

use std::time::Instant;

use madoguchi::clock::Clock;
use madoguchi::testing::{run_body, Job};
use reqwest::Method;
use serde_json::Value;

use crate::cli::madoguchi;
use crate::helpers::*;

/// Every open slot of January at city hall (the clock is at 2026-11-24: January is open).
async fn january(app: &TestApp) -> Vec<String> {
    let month = app
        .availability("city-hall", "2027-01-01", "2027-01-31")
        .await;
    month["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["remaining"].as_i64().unwrap_or(0) > 0)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// The binary with the test's database.
fn cli(dir: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    madoguchi(dir)
        .env("MADOGUCHI__DATABASE__URL", url)
        .args(args)
        .output()
        .expect("madoguchi runs")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn a_backup_taken_during_a_burst_of_bookings_restores_every_booking_acknowledged_before_it() {
    if backend() == "postgres" {
        return; // the PostgreSQL refusal is its own test below
    }
    let app = spawn_app().await;
    let phone = app.staff_token("op1", "phone").await;
    let slots = january(&app).await;
    assert!(
        slots.len() >= 120,
        "January has open slots: {}",
        slots.len()
    );
    let work = tempfile::tempdir().unwrap();
    let backup_file = work.path().join("backups/noon.sqlite3");

    // Three operators book callers one after another; each acknowledgement is timed
    // and counted as it reaches the operator.
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let burst = |op: usize| {
        let (client, url, token, slots, acks) = (
            app.client.clone(),
            app.staff_url("/api/v1/staff/reservations"),
            phone.clone(),
            slots.clone(),
            acks.clone(),
        );
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..40 {
                let who = op * 100 + i;
                let sent = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&phone_booking_body(&slots[op * 40 + i], who))
                    .send()
                    .await
                    .expect("booking");
                let status = res.status();
                let body: Value = res.json().await.expect("json");
                assert_eq!(status, 201, "{body}");
                let number = body["reservation_number"].as_str().unwrap().to_string();
                acked.push((sent, Instant::now(), number));
                acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            acked
        })
    };
    let operators: Vec<_> = (0..3).map(burst).collect();
    // Once 30 are acknowledged (not merely committed: an answer may still be on its
    // way), the backup, while the operators go on.
    while acks.load(std::sync::atomic::Ordering::SeqCst) < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (dir, url, to) = (
        work.path().to_path_buf(),
        app.db.url().to_string(),
        backup_file.display().to_string(),
    );
    let began = Instant::now();
    let out = tokio::task::spawn_blocking(move || cli(&dir, &url, &["backup", "--to", &to]))
        .await
        .unwrap();
    let ended = Instant::now();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("backed up SQLite file"),
        "{}",
        text(&out)
    );
    let mut acked = Vec::new();
    for op in operators {
        acked.extend(op.await.expect("operator"));
    }
    let before: Vec<&String> = acked
        .iter()
        .filter(|(_, at, _)| *at < began)
        .map(|(_, _, n)| n)
        .collect();
    let after: Vec<&String> = acked
        .iter()
        .filter(|(sent, _, _)| *sent > ended)
        .map(|(_, _, n)| n)
        .collect();
    assert!(before.len() >= 30, "{} acknowledged before", before.len());

    // A second backup to the same name is refused; the first is untouched.
    let size = std::fs::metadata(&backup_file).unwrap().len();
    let again = cli(
        work.path(),
        app.db.url(),
        &["backup", "--to", &backup_file.display().to_string()],
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    assert_eq!(std::fs::metadata(&backup_file).unwrap().len(), size);

    // Not over the database the service is using, even with --force.
    let live = cli(
        work.path(),
        app.db.url(),
        &[
            "restore",
            "--from",
            &backup_file.display().to_string(),
            "--force",
        ],
    );
    assert!(!live.status.success());
    assert!(text(&live).contains("is in use"), "{}", text(&live));

    // Restored into a fresh folder, then served.
    let fresh = tempfile::tempdir().unwrap();
    let restored = fresh.path().join("var/madoguchi.sqlite3");
    let restored_url = restored.display().to_string();
    let from = backup_file.display().to_string();
    let out = cli(fresh.path(), &restored_url, &["restore", "--from", &from]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("integrity ok"), "{}", text(&out));
    // Not over an existing database without --force.
    let out = cli(fresh.path(), &restored_url, &["restore", "--from", &from]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--force"), "{}", text(&out));

    let served = spawn_app_with(app.clock.now(), |s| s.database.url = restored_url.clone()).await;
    let token = served.login("op1", STAFF_PASSWORD).await;
    for number in &before {
        let res = served
            .as_staff(
                Method::GET,
                &format!("/api/v1/staff/reservations/{number}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "{number}, acknowledged before the backup"
        );
    }
    // What was asked for only after the backup had finished is not in it.
    for number in &after {
        let res = served
            .as_staff(
                Method::GET,
                &format!("/api/v1/staff/reservations/{number}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(res.status(), 404, "{number}, booked after the backup");
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test]
async fn on_postgresql_backup_and_restore_refuse_and_name_pg_dump() {
    if backend() != "postgres" {
        return;
    }
    let db = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), db.url(), &["backup", "--to", "x.dump"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("pg_dump --format=custom"),
        "{}",
        text(&out)
    );
    let out = cli(dir.path(), db.url(), &["restore", "--from", "x.dump"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("pg_restore"), "{}", text(&out));
    assert!(!dir.path().join("x.dump").exists());
}

#[tokio::test]
async fn a_restore_refuses_a_file_that_is_not_a_sound_database() {
    if backend() == "postgres" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.sqlite3");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let target = dir.path().join("var/m.sqlite3");
    let out = cli(
        dir.path(),
        &target.display().to_string(),
        &["restore", "--from", &junk.display().to_string()],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a sound madoguchi database"),
        "{}",
        text(&out)
    );
    assert!(!target.exists(), "nothing was put in place");
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_ones() {
    if backend() == "postgres" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let folder = backups.display().to_string();
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.backup.dir = folder.clone();
        s.backup.keep = 2;
    })
    .await;
    app.book_as(1, &january(&app).await[0]).await;
    let env = app.state.job_runner().env();
    for day in 0..3 {
        let now = app.clock.now() + chrono::Duration::days(day);
        let done = run_body(&app.state.db, &env, Job::Backup, now)
            .await
            .expect("backup runs");
        assert_eq!(done, 1);
    }
    let mut names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "madoguchi-20261125T100000.sqlite3",
            "madoguchi-20261126T100000.sqlite3"
        ],
        "the two newest, named in the counters' time"
    );
    let restored = dir.path().join("restored.sqlite3");
    let out = cli(
        dir.path(),
        &restored.display().to_string(),
        &[
            "restore",
            "--from",
            &backups.join(&names[1]).display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 reservation(s)"), "{}", text(&out));
}

#[test]
fn a_backup_schedule_on_postgresql_is_refused_at_start() {
    let mut settings = madoguchi::config::Settings::defaults().unwrap();
    settings.database.url = "postgres://postgres@127.0.0.1/x".into();
    settings.jobs.backup.schedule = Some("0 30 2 * * *".parse().unwrap());
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("jobs.backup.schedule"), "{err}");
}

/// `madoguchi audit verify` on the test's database.
fn audit_verify(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), url, &["audit", "verify"]);
    (out.status.success(), text(&out))
}

async fn sql(app: &TestApp, statement: &str) {
    let statement = statement.to_string();
    app.state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(statement).execute(conn)
        })
        .await
        .expect("statement");
}

async fn entries(app: &TestApp) -> i64 {
    app.state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT COUNT(*) AS n FROM audit_log")
                .get_result::<Count>(conn)
                .map(|c| c.n)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_staff_writes_form_one_audit_chain_that_shows_any_change() {
    let app = spawn_app().await;
    let slots = january(&app).await;
    let mut tokens = Vec::new();
    for op in 0..4 {
        tokens.push(app.staff_token(&format!("op{op}"), "phone").await);
    }
    // Four operators at once (on PostgreSQL, four transactions linking side by side).
    let mut operators = Vec::new();
    for (op, token) in tokens.into_iter().enumerate() {
        let (client, url, slots) = (
            app.client.clone(),
            app.staff_url("/api/v1/staff/reservations"),
            slots.clone(),
        );
        operators.push(tokio::spawn(async move {
            for i in 0..12 {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&phone_booking_body(&slots[op * 12 + i], 500 + op * 100 + i))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
            }
        }));
    }
    for op in operators {
        op.await.unwrap();
    }
    let n = entries(&app).await;
    assert!(n >= 48 + 8, "account creations, sign-ins and bookings: {n}");
    let (ok, said) = audit_verify(app.db.url());
    assert!(ok, "{said}");
    assert!(
        said.starts_with(&format!("ok: {n} entries chained")),
        "{said}"
    );

    // Who did it, changed afterwards: found, at its place.
    sql(
        &app,
        "UPDATE audit_log SET staff_login = 'op9' WHERE seq = 20",
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(!ok);
    assert!(said.starts_with("broken at entry 20 "), "{said}");
    sql(&app, "DELETE FROM audit_log WHERE seq = 30").await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(!ok);
    assert!(
        said.contains("entry ") && said.contains("broken at entry"),
        "{said}"
    );
    assert!(
        said.contains("broken at entry 20 ") || said.contains("entry 30 is missing"),
        "{said}"
    );
}

#[tokio::test]
async fn entries_removed_from_the_end_and_rewritten_reasons_show_and_retention_keeps_it_verifiable()
{
    let app = spawn_app().await;
    let phone = app.staff_token("op1", "phone").await;
    let slots = january(&app).await;
    let number = app.phone_book(&phone, &slots[0], 1, None).await;
    let res = app
        .as_staff(
            Method::POST,
            &format!("/api/v1/staff/reservations/{number}/cancel"),
            Some(&phone),
            Some(&serde_json::json!({"reason": "山田様ご本人から電話 090-1234-5678"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (ok, said) = audit_verify(app.db.url());
    assert!(ok, "{said}");

    // A reason rewritten: shown (it is hashed through its digest until retention erases it).
    sql(
        &app,
        "UPDATE audit_log SET detail = REPLACE(detail, '山田', '田中') WHERE detail LIKE '%山田%'",
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(
        !ok && said.contains("reason, target or client address was changed"),
        "{said}"
    );
    sql(
        &app,
        "UPDATE audit_log SET detail = REPLACE(detail, '田中', '山田') WHERE detail LIKE '%田中%'",
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(ok, "put back, it verifies again: {said}");

    // The nonce blanked (as retention does) while the reason is still there: shown.
    sql(
        &app,
        "UPDATE audit_log SET nonce = NULL WHERE detail LIKE '%山田%'",
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(!ok && said.contains("nonce is gone"), "{said}");

    // Retention erases the reason and the client address keys long after: the entry is then
    // as retention leaves it, and the chain verifies.
    let env = app.state.job_runner().env();
    let later = app.clock.now() + chrono::Duration::days(400);
    run_body(&app.state.db, &env, Job::Retention, later)
        .await
        .expect("retention runs");
    let details: Vec<String> = app
        .audit(&app.staff_token("admin1", "admin").await)
        .await
        .iter()
        .map(|e| e["detail"].to_string())
        .collect();
    assert!(!details.iter().any(|d| d.contains("山田様")), "{details:?}");
    let (ok, said) = audit_verify(app.db.url());
    assert!(ok, "{said}");
    assert!(!said.contains(" 0 with personal data erased"), "{said}");

    // Which reservation was cancelled stays hashed after retention: changed, shown.
    sql(
        &app,
        "UPDATE audit_log SET target = 'R-0000-0000' WHERE action = 'reservation.cancel'",
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(!ok && said.contains("does not match its hash"), "{said}");
    sql(
        &app,
        &format!("UPDATE audit_log SET target = '{number}' WHERE action = 'reservation.cancel'"),
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(ok, "{said}");

    // A head noted earlier must still be in the chain.
    let head = said.rsplit("head ").next().unwrap().trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        dir.path(),
        app.db.url(),
        &["audit", "verify", "--expect-head", &head],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(
        dir.path(),
        app.db.url(),
        &["audit", "verify", "--expect-head", "0badc0de"],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("not in the chain"), "{}", text(&out));

    // The last entries removed: the head shows it.
    sql(
        &app,
        "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
    )
    .await;
    let (ok, said) = audit_verify(app.db.url());
    assert!(!ok && said.contains("removed from its end"), "{said}");
}

/// The reservation numbers in the database (read directly, the server gone).
fn numbers_in(url: &str) -> Vec<String> {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::Text)]
        reservation_number: String,
    }
    let q = "SELECT reservation_number FROM reservations";
    let rows: Vec<N> = if backend() == "postgres" {
        let mut c = diesel::PgConnection::establish(url).expect("pg");
        diesel::sql_query(q).load(&mut c).expect("numbers")
    } else {
        let mut c = diesel::SqliteConnection::establish(url).expect("sqlite");
        diesel::sql_query(q).load(&mut c).expect("numbers")
    };
    rows.into_iter().map(|n| n.reservation_number).collect()
}

#[tokio::test]
async fn a_sigterm_in_a_burst_loses_no_acknowledged_booking_and_ends_the_screens_streams() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let url = match backend() {
        "postgres" => db.url().to_string(),
        _ => dir.path().join("m.sqlite3").display().to_string(),
    };
    let mut add = madoguchi(dir.path())
        .env("MADOGUCHI__DATABASE__URL", &url)
        .env("MADOGUCHI__STAFF__ARGON2_MEMORY_KIB", "256")
        .args([
            "staff",
            "add",
            "--login",
            "op1",
            "--role",
            "phone",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(STAFF_PASSWORD.as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success());
    let port = crate::cli::free_port();
    let log = dir.path().join("server.log");
    let child = madoguchi(dir.path())
        .env("MADOGUCHI__DATABASE__URL", &url)
        .env("MADOGUCHI__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("MADOGUCHI__CLOCK__START", "2026-11-24T10:00:00+09:00")
        .env("MADOGUCHI__STAFF__ARGON2_MEMORY_KIB", "256")
        .env("MADOGUCHI__MAIL__WORKER", "false")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut server = crate::cli::Running(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    crate::cli::wait_until_up(&client, &base).await;
    let login: Value = client
        .post(format!("{base}/api/v1/staff/sessions"))
        .json(&serde_json::json!({"login": "op1", "password": STAFF_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("token").to_string();
    let month: Value = client
        .get(format!(
            "{base}/api/v1/counters/city-hall/availability?from=2027-01-01&to=2027-01-31"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slots: Vec<String> = month["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    // A waiting-room screen's stream, open.
    let mut screen = client
        .get(format!("{base}/api/v1/desk/city-hall/display"))
        .send()
        .await
        .unwrap();
    assert_eq!(screen.status(), 200);
    assert!(
        screen.chunk().await.unwrap().is_some(),
        "the stream has begun"
    );

    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut operators = Vec::new();
    for op in 0..4usize {
        let (client, base, token, slots, acked) = (
            client.clone(),
            base.clone(),
            token.clone(),
            slots.clone(),
            acked.clone(),
        );
        operators.push(tokio::spawn(async move {
            let mut other = Vec::new();
            for i in 0..50usize {
                let res = client
                    .post(format!("{base}/api/v1/staff/reservations"))
                    .bearer_auth(&token)
                    .json(&phone_booking_body(
                        &slots[(op * 50 + i) % slots.len()],
                        2000 + op * 100 + i,
                    ))
                    .send()
                    .await;
                let Ok(res) = res else { break }; // the listener is gone: the process stopped
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                match status {
                    201 => acked
                        .lock()
                        .unwrap()
                        .push(body["reservation_number"].as_str().unwrap().to_string()),
                    _ => {
                        other.push((status, body["code"].to_string()));
                        if status == 503 {
                            break;
                        }
                    }
                }
            }
            other
        }));
    }
    while acked.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // The screen's stream ends at once rather than holding the stop for its timeout.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        loop {
            match screen.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the display stream ended");
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < std::time::Duration::from_secs(4),
            "stopped within the 5 s shutdown timeout's margin"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let mut others = Vec::new();
    for op in operators {
        others.extend(op.await.unwrap());
    }
    // Whatever was not taken was told busy (or found the listener closed): nothing else.
    assert!(
        others
            .iter()
            .all(|(s, code)| *s == 503 && code == "\"busy\""),
        "{others:?}"
    );
    let stored = numbers_in(&url);
    let acked = acked.lock().unwrap().clone();
    let lost: Vec<&String> = acked.iter().filter(|n| !stored.contains(n)).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log.contains("SIGTERM"), "{log}");
}

/// The repository's top folder.
fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `madoguchi_…` names in a text (metric names, with their suffixes).
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("madoguchi_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn the_deploy_files_name_only_metrics_the_service_exports() {
    let app = spawn_app().await;
    app.book_as(1, &january(&app).await[0]).await;
    let exported = app.get("/metrics").await;
    assert_eq!(exported.status(), 200);
    let exported = exported.text().await.unwrap();
    // Every family is declared (`# TYPE`), with or without samples yet.
    let declared: std::collections::BTreeSet<String> = exported
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let known = |name: &str| {
        declared.contains(name)
            || ["_total", "_bucket", "_sum", "_count"].iter().any(|s| {
                name.strip_suffix(s)
                    .is_some_and(|base| declared.contains(base))
            })
    };
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/madoguchi.json",
        "docs/operations.md",
    ] {
        let text = std::fs::read_to_string(repo(file)).unwrap();
        let names = metric_names(&text);
        assert!(!names.is_empty(), "{file} names metrics");
        let unknown: Vec<&String> = names.iter().filter(|n| !known(n)).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the service does not export: {unknown:?}"
        );
    }
    // The label values the rules select on are the ones the service writes.
    assert!(
        exported.contains(r#"method="POST",route="/api/v1/reservations""#)
            || exported.contains(r#"route="/api/v1/reservations",method="POST""#),
        "the booking route's label, as the alert and the dashboard select it"
    );
    let grafana: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("deploy/grafana/madoguchi.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    assert!(grafana["panels"].as_array().is_some_and(|p| !p.is_empty()));
}

/// Keys of config/default.toml, dotted (`mail.smtp_ca_file`, `jobs.backup.schedule`).
fn setting_keys() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(repo("config/default.toml")).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim_matches(['[', ']']).to_string();
            keys.insert(section.clone());
        } else if let Some((key, _)) = line.split_once('=') {
            if !line.starts_with('#') && !section.is_empty() {
                keys.insert(format!("{section}.{}", key.trim()));
            }
        }
    }
    keys
}

#[test]
fn the_operations_guide_names_only_settings_commands_and_files_that_exist() {
    let guide = std::fs::read_to_string(repo("docs/operations.md")).unwrap();
    let keys = setting_keys();
    let sections: std::collections::BTreeSet<&str> =
        keys.iter().filter_map(|k| k.split('.').next()).collect();
    // Every `section.key` in backticks (or MADOGUCHI__SECTION__KEY) is a setting.
    let mut named = Vec::new();
    for quoted in guide.split('`').skip(1).step_by(2) {
        let word = quoted.split([' ', '=']).next().unwrap_or_default();
        if let Some(env) = word.strip_prefix("MADOGUCHI__") {
            named.push(env.to_ascii_lowercase().replace("__", "."));
        } else if word.contains('.')
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            && sections.contains(word.split('.').next().unwrap_or_default())
        {
            named.push(word.to_string());
        }
    }
    for env in guide
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("MADOGUCHI__"))
    {
        let key = env.split('=').next().unwrap_or_default();
        named.push(key.to_ascii_lowercase().replace("__", "."));
    }
    let unknown: Vec<&String> = named.iter().filter(|k| !keys.contains(*k)).collect();
    assert!(named.len() > 20, "the guide names settings: {named:?}");
    assert!(
        unknown.is_empty(),
        "settings the configuration does not have: {unknown:?}"
    );

    // Every `madoguchi <command> …` is one the binary knows, with the flags it takes.
    let dir = tempfile::tempdir().unwrap();
    let mut commands = 0;
    for line in guide.lines() {
        for part in line.split('`') {
            let Some(rest) = part.trim().strip_prefix("madoguchi ") else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let subcommand: Vec<&str> = words
                .iter()
                .copied()
                .take_while(|w| {
                    !w.starts_with('-') && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .collect();
            let flags: Vec<&str> = words
                .iter()
                .filter(|w| w.starts_with("--") && **w != "--config")
                .map(|w| w.split('=').next().unwrap_or_default())
                .collect();
            let help = madoguchi(dir.path())
                .args(&subcommand)
                .arg("--help")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&help.stdout).to_string();
            assert!(help.status.success(), "madoguchi {rest}: {text}");
            for flag in flags {
                assert!(
                    text.contains(flag),
                    "madoguchi {}: no {flag}",
                    subcommand.join(" ")
                );
            }
            commands += 1;
        }
    }
    assert!(commands >= 8, "the guide's commands were found: {commands}");

    // Every file of deploy/ it names is there.
    for word in guide.split('`').skip(1).step_by(2) {
        if word.starts_with("deploy/") {
            assert!(repo(word).is_file(), "{word} is not in the repository");
        }
    }
}
