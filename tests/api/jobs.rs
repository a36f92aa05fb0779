//! Scheduled work: reminders, no-shows, retention, statistics, runs claimed once across
//! instances, missed runs after downtime, and mail a resident can rely on.

use crate::helpers::{jst, problem, spawn_app_at, spawn_app_with, TestApp};
use chrono::Duration;
use madoguchi::clock::Clock;
use madoguchi::testing::{list_runs, RunStatus};
use madoguchi::testing::{run_body, Job};
use reqwest::Method;
use serde_json::{json, Value};

/// Runs a job body now, as the runner would.
async fn run_job(app: &TestApp, job: Job) -> u64 {
    let env = app.state.job_runner().env();
    run_body(&app.state.db, &env, job, app.clock.now())
        .await
        .expect("job runs")
}

async fn desk_post(app: &TestApp, token: &str, path: String, body: Value) -> reqwest::Response {
    crate::helpers::desk_post(app, token, &path, body).await
}

async fn reservation(app: &TestApp, token: &str, number: &str) -> Value {
    app.as_staff(
        Method::GET,
        &format!("/api/v1/staff/reservations/{number}"),
        Some(token),
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_friday_reminds_tuesdays_visitors_after_a_monday_holiday_once() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let staff = app.staff_token("operator", "phone").await;
    // Monday 2027-01-11 is a national holiday (成人の日): Friday's reminder is for Tuesday.
    let tuesday = app
        .phone_book(
            &staff,
            "city-hall.2027-01-12.0930",
            1,
            Some("tue@example.jp"),
        )
        .await;
    app.phone_book(&staff, "city-hall.2027-01-12.1000", 2, None)
        .await;
    app.phone_book(
        &staff,
        "city-hall.2027-01-13.0930",
        3,
        Some("wed@example.jp"),
    )
    .await;
    app.phone_book(
        &staff,
        "azuchi.2027-01-12.0930",
        4,
        Some("azuchi@example.jp"),
    )
    .await;
    app.drain_outbox().await;
    let before = app.smtp.messages().len();

    app.clock.set(jst("2027-01-08T10:00:00+09:00"));
    assert_eq!(
        run_job(&app, Job::Reminders).await,
        2,
        "Tuesday's two with an address"
    );
    assert_eq!(run_job(&app, Job::Reminders).await, 0, "never twice");
    app.drain_outbox().await;
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), before + 2);
    assert!(app
        .smtp
        .messages_to("wed@example.jp")
        .iter()
        .all(|m| !m.subject.contains("確認】")));
    let reminder = app
        .smtp
        .only_message_to("tue@example.jp", "【ご予約の確認】");
    for expected in [
        tuesday.as_str(),
        "2027年1月12日(火)",
        "09:30〜10:00",
        "近江八幡市役所",
        "滋賀県近江八幡市桜宮町236",
        "本人のマイナンバーカード",
    ] {
        assert!(
            reminder.text.contains(expected),
            "{expected:?} in:\n{}",
            reminder.text
        );
    }
    // Its manage link works, and the confirmation's still does.
    let manage = reminder.link_token("/booking/manage");
    let res = app.get(&format!("/api/v1/reservations/{manage}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["reservation_number"],
        tuesday.as_str()
    );
    let confirmed = app.smtp.only_message_to("tue@example.jp", "【予約完了】");
    let first = confirmed.link_token("/booking/manage");
    assert_eq!(
        app.get(&format!("/api/v1/reservations/{first}"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_runner_sends_at_ten_once_even_with_two_instances() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let staff = app.staff_token("operator", "phone").await;
    app.phone_book(
        &staff,
        "city-hall.2027-01-12.0930",
        1,
        Some("tue@example.jp"),
    )
    .await;
    app.clock.set(jst("2027-01-08T09:59:59+09:00"));
    let (a, b) = (app.state.job_runner(), app.state.job_runner());
    a.tick().await;
    let runs = |job| {
        let db = app.state.db.clone();
        async move { db.run(move |conn| list_runs(conn, job, 100)).await.unwrap() }
    };
    assert!(runs(Job::Reminders).await.is_empty(), "not yet 10:00");
    app.clock.set(jst("2027-01-08T10:00:00+09:00"));
    let at = jst("2027-01-08T10:00:00+09:00");
    let (ra, rb) = tokio::join!(
        a.claim_and_run(Job::Reminders, at),
        b.claim_and_run(Job::Reminders, at)
    );
    assert_eq!(
        [ra, rb].iter().filter(|r| r.is_some()).count(),
        1,
        "one instance runs it: {ra:?} {rb:?}"
    );
    a.tick().await;
    b.tick().await;
    let recorded = runs(Job::Reminders).await;
    assert_eq!(recorded.len(), 1, "recorded once");
    assert_eq!(recorded[0].status, RunStatus::Ok);
    assert_eq!(recorded[0].rows, Some(1));
    app.drain_outbox().await;
    assert_eq!(
        app.smtp
            .messages_to("tue@example.jp")
            .iter()
            .filter(|m| m.subject.contains("【ご予約の確認】"))
            .count(),
        1
    );
    // The admin sees it, with the next run.
    let admin = app.staff_token("chief", "admin").await;
    let jobs: Value = app
        .as_staff(Method::GET, "/api/v1/admin/jobs", Some(&admin), None)
        .await
        .json()
        .await
        .unwrap();
    let reminders = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "reminders")
        .unwrap();
    assert_eq!(reminders["schedule"], "0 0 10 * * *");
    assert_eq!(reminders["next_run_at"], "2027-01-09T10:00:00+09:00");
    assert_eq!(
        reminders["runs"][0]["scheduled_at"],
        "2027-01-08T10:00:00+09:00"
    );
    assert_eq!(reminders["runs"][0]["outcome"], "ok");
    assert_eq!(reminders["runs"][0]["rows"], 1);
    // A run whose instance died is taken over once its lease has run out.
    let dead_at = jst("2027-01-08T10:05:00+09:00");
    let (db, now) = (app.state.db.clone(), app.clock.now());
    db.run(move |conn| {
        madoguchi::testing::claim(
            conn,
            Job::ExpireVerifications,
            dead_at,
            "dead",
            now,
            now + Duration::minutes(10),
        )
    })
    .await
    .unwrap();
    app.clock.set(jst("2027-01-08T10:05:30+09:00"));
    assert!(
        a.claim_and_run(Job::ExpireVerifications, dead_at)
            .await
            .is_none(),
        "leased"
    );
    app.clock.set(jst("2027-01-08T10:16:00+09:00"));
    assert_eq!(
        a.claim_and_run(Job::ExpireVerifications, dead_at).await,
        Some(RunStatus::Ok)
    );
}

#[tokio::test]
async fn after_downtime_a_recent_run_catches_up_and_older_ones_are_skipped() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let staff = app.staff_token("operator", "phone").await;
    app.phone_book(
        &staff,
        "city-hall.2027-01-12.0930",
        1,
        Some("tue@example.jp"),
    )
    .await;
    app.phone_book(
        &staff,
        "city-hall.2027-01-13.0930",
        2,
        Some("wed@example.jp"),
    )
    .await;
    // Up on Thursday 09:00, then down until Friday 13:00: Friday's 10:00 reminder is 3 h late.
    app.clock.set(jst("2027-01-07T09:00:00+09:00"));
    let done = app.state.job_runner().catch_up_at_start().await;
    // A database that never ran a job missed nothing: the five-minute job runs once, and
    // the hours before it existed are not recorded as skipped.
    assert!(
        done.iter()
            .all(|(_, _, status)| *status != RunStatus::Skipped),
        "{done:?}"
    );
    assert_eq!(
        done.iter()
            .filter(|(job, _, status)| *job == Job::ExpireVerifications && *status == RunStatus::Ok)
            .count(),
        1,
        "{done:?}"
    );
    app.clock.set(jst("2027-01-08T13:00:00+09:00"));
    let done = app.state.job_runner().catch_up_at_start().await;
    assert!(
        done.contains(&(
            Job::Reminders,
            jst("2027-01-08T10:00:00+09:00"),
            RunStatus::Ok
        )),
        "{done:?}"
    );
    // Down again until Monday 18:00: Monday's reminder (for Tuesday 13th? no, the 12th is
    // Tuesday) at 10:00 is 8 h old: skipped, recorded as such; Saturday's and Sunday's too.
    app.clock.set(jst("2027-01-11T18:00:00+09:00"));
    let done = app.state.job_runner().catch_up_at_start().await;
    for day in ["2027-01-09", "2027-01-10", "2027-01-11"] {
        let at = jst(&format!("{day}T10:00:00+09:00"));
        assert!(
            done.contains(&(Job::Reminders, at, RunStatus::Skipped)),
            "{day}: {done:?}"
        );
    }
    let db = app.state.db.clone();
    let runs = db
        .run(|conn| list_runs(conn, Job::Reminders, 100))
        .await
        .unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.status == RunStatus::Skipped)
            .count(),
        3
    );
    assert!(runs
        .iter()
        .all(|r| r.status != RunStatus::Skipped || r.error.is_some()));
    app.drain_outbox().await;
    assert_eq!(
        app.smtp
            .messages_to("wed@example.jp")
            .iter()
            .filter(|m| m.subject.contains("【ご予約の確認】"))
            .count(),
        0,
        "Wednesday's reminder was due Tuesday"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"madoguchi_job_runs_total{job="reminders",outcome="skipped"} 3"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn at_the_days_end_exactly_the_unserved_become_no_shows() {
    // The desk's session spans the morning's jumps of the clock (no idle timeout here).
    let app = spawn_app_with(jst("2026-12-20T10:00:00+09:00"), |s| {
        s.staff.idle_minutes = 0
    })
    .await;
    let staff = app.staff_token("operator", "phone").await;
    let absent = app
        .phone_book(&staff, "city-hall.2027-01-12.0900", 1, None)
        .await;
    let served = app
        .phone_book(&staff, "city-hall.2027-01-12.0930", 2, None)
        .await;
    let called_gone = app
        .phone_book(&staff, "city-hall.2027-01-12.1000", 3, None)
        .await;
    let still_waiting = app
        .phone_book(&staff, "city-hall.2027-01-12.1030", 4, None)
        .await;
    let cancelled = app
        .phone_book(&staff, "city-hall.2027-01-12.1100", 5, None)
        .await;
    let tomorrow = app
        .phone_book(&staff, "city-hall.2027-01-13.0900", 6, None)
        .await;
    app.as_staff(
        Method::POST,
        &format!("/api/v1/staff/reservations/{cancelled}/cancel"),
        Some(&staff),
        Some(&json!({"reason": "都合により"})),
    )
    .await;
    app.clock.set(jst("2027-01-12T08:55:00+09:00"));
    let desk = app.staff_token("desk-1", "desk").await;
    let post = |path: String, body: Value| desk_post(&app, &desk, path, body);
    for n in [&served, &called_gone, &still_waiting] {
        assert_eq!(
            post("check-ins".into(), json!({"reservation_number": n}))
                .await
                .status(),
            201
        );
    }
    let call = |desk: &'static str| async move {
        post("calls".into(), json!({"desk": desk}))
            .await
            .json::<Value>()
            .await
            .unwrap()["ticket"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = call("1").await; // served (09:30) comes first among the checked-in
    assert_eq!(
        post(format!("tickets/{first}/complete"), json!({}))
            .await
            .status(),
        200
    );
    app.clock.set(jst("2027-01-12T10:00:00+09:00"));
    let second = call("1").await; // called_gone: called, never completed
    let walk: Value = post("walk-ins".into(), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let walk_label = walk["ticket"].as_str().unwrap().to_string();

    app.clock.set(jst("2027-01-12T18:00:00+09:00"));
    run_job(&app, Job::NoShows).await;
    let staff = app.login("operator", crate::helpers::STAFF_PASSWORD).await;
    let status = |n: String| {
        let (app, staff) = (&app, staff.clone());
        async move {
            reservation(app, &staff, &n).await["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(status(absent).await, "no_show");
    assert_eq!(status(served).await, "completed");
    assert_eq!(status(called_gone).await, "no_show");
    assert_eq!(
        status(still_waiting).await,
        "checked_in",
        "came, not served: not a no-show"
    );
    assert_eq!(status(cancelled).await, "cancelled");
    assert_eq!(status(tomorrow).await, "confirmed");
    let queue: Value = app
        .as_staff(
            Method::GET,
            "/api/v1/desk/city-hall/queue",
            Some(&desk),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let finished: Vec<(&str, &str)> = queue["finished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["ticket"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert!(
        finished.contains(&(second.as_str(), "no_show")),
        "{finished:?}"
    );
    assert!(finished.contains(&(first.as_str(), "completed")));
    let waiting: Vec<&str> = queue["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ticket"].as_str().unwrap())
        .collect();
    assert!(
        waiting.contains(&walk_label.as_str()),
        "an uncalled walk-in stays: {waiting:?}"
    );
}

/// The statistics at `path`, as JSON.
async fn admin_stats(app: &TestApp, admin: &str, path: &str) -> Value {
    app.as_staff(Method::GET, path, Some(admin), None)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn statistics_of_a_scripted_day_match_by_hand_in_json_and_csv() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let staff = app.staff_token("operator", "phone").await;
    let a = app
        .phone_book(&staff, "city-hall.2027-01-12.0900", 1, None)
        .await;
    let b = app
        .phone_book(&staff, "city-hall.2027-01-12.0930", 2, None)
        .await;
    let _c = app
        .phone_book(&staff, "city-hall.2027-01-12.1000", 3, None)
        .await;
    let d = app
        .phone_book(&staff, "city-hall.2027-01-12.1030", 4, None)
        .await;
    app.as_staff(
        Method::POST,
        &format!("/api/v1/staff/reservations/{d}/cancel"),
        Some(&staff),
        Some(&json!({"reason": "取消"})),
    )
    .await;
    // a checks in 08:50, called 09:02 (12 min); b checks in 09:20, called 09:30 (10 min).
    app.clock.set(jst("2027-01-12T08:50:00+09:00"));
    let desk = app.staff_token("desk-1", "desk").await;
    let post = |path: String, body: Value| desk_post(&app, &desk, path, body);
    post("check-ins".into(), json!({"reservation_number": a})).await;
    app.clock.set(jst("2027-01-12T09:02:00+09:00"));
    let ta: Value = post("calls".into(), json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    post(
        format!("tickets/{}/complete", ta["ticket"].as_str().unwrap()),
        json!({}),
    )
    .await;
    app.clock.set(jst("2027-01-12T09:20:00+09:00"));
    post("check-ins".into(), json!({"reservation_number": b})).await;
    // Two walk-ins at 09:21 (pin-reset, none given).
    app.clock.set(jst("2027-01-12T09:21:00+09:00"));
    post("walk-ins".into(), json!({"procedure": "pin-reset"})).await;
    post("walk-ins".into(), json!({})).await;
    app.clock.set(jst("2027-01-12T09:30:00+09:00"));
    let tb: Value = post("calls".into(), json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tb["reservation_number"], b.as_str());
    post(
        format!("tickets/{}/complete", tb["ticket"].as_str().unwrap()),
        json!({}),
    )
    .await;
    // The pin-reset walk-in: 09:21 → 09:51, 30 min; the other never called.
    app.clock.set(jst("2027-01-12T09:51:00+09:00"));
    let tw: Value = post("calls".into(), json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    post(
        format!("tickets/{}/complete", tw["ticket"].as_str().unwrap()),
        json!({}),
    )
    .await;
    // c never comes: a no-show at 18:00; the figures at 18:15.
    app.clock.set(jst("2027-01-12T18:00:00+09:00"));
    run_job(&app, Job::NoShows).await;
    app.clock.set(jst("2027-01-12T18:15:00+09:00"));
    run_job(&app, Job::DailyStats).await;

    let admin = app.staff_token("chief", "admin").await;
    let path = "/api/v1/admin/stats?from=2027-01-12&to=2027-01-12&counter=city-hall";
    let stats = admin_stats(&app, &admin, path).await;
    let days = stats["days"].as_array().unwrap();
    let pin = days.iter().find(|d| d["procedure"] == "pin-reset").unwrap();
    // By hand: 4 booked, 1 cancelled (so 3 hold seats), 2 completed, 1 no-show, 1 walk-in
    // with pin-reset; waits 12, 10 and 30 minutes → p50 12, p90 30.
    assert_eq!(
        (
            pin["booked"].as_i64(),
            pin["cancelled"].as_i64(),
            pin["completed"].as_i64(),
            pin["no_show"].as_i64(),
            pin["walk_ins"].as_i64()
        ),
        (Some(3), Some(1), Some(2), Some(1), Some(1))
    );
    assert_eq!(pin["wait_minutes"], json!({"p50": 12, "p90": 30}));
    let none = days
        .iter()
        .find(|d| d["procedure"] == "unspecified")
        .unwrap();
    assert_eq!(
        (none["walk_ins"].as_i64(), none["booked"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(none["wait_minutes"], json!({"p50": null, "p90": null}));
    // The same rows as CSV, with a header line.
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(&admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "date,counter,procedure,booked,cancelled,completed,no_show,walk_ins,wait_p50_minutes,wait_p90_minutes");
    assert!(
        lines.contains(&"2027-01-12,city-hall,pin-reset,3,1,2,1,1,12,30"),
        "{csv}"
    );
    assert!(
        lines.contains(&"2027-01-12,city-hall,unspecified,0,0,0,0,1,,"),
        "{csv}"
    );
    // The figures outlive retention.
    app.clock.set(jst("2027-05-01T03:00:00+09:00"));
    run_job(&app, Job::Retention).await;
    let admin = app.login("chief", crate::helpers::STAFF_PASSWORD).await;
    let again = admin_stats(&app, &admin, path).await;
    assert_eq!(again, stats);
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/admin/stats?from=2027-02-01&to=2026-01-01",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "to");
}

#[tokio::test]
async fn statistics_of_a_day_the_job_never_ran_are_computed_when_asked_even_after_retention() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let staff = app.staff_token("operator", "phone").await;
    let a = app
        .phone_book(&staff, "city-hall.2027-01-12.0900", 1, None)
        .await;
    app.phone_book(&staff, "city-hall.2027-01-12.0930", 2, None)
        .await;
    app.phone_book(&staff, "azuchi.2027-01-13.0900", 3, None)
        .await;
    // a is served on the 12th (checked in 08:55, called 09:05); no job runs that month.
    app.clock.set(jst("2027-01-12T08:55:00+09:00"));
    let desk = app.staff_token("desk-1", "desk").await;
    desk_post(
        &app,
        &desk,
        "check-ins".into(),
        json!({"reservation_number": a}),
    )
    .await;
    app.clock.set(jst("2027-01-12T09:05:00+09:00"));
    let t: Value = desk_post(&app, &desk, "calls".into(), json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    let ticket = t["ticket"].as_str().unwrap().to_string();
    desk_post(&app, &desk, format!("tickets/{ticket}/complete"), json!({})).await;

    // April, after a long outage: January is asked for, and the days that had visitors are
    // there, computed from the reservations and tickets; after retention too.
    app.clock.set(jst("2027-04-20T10:00:00+09:00"));
    let admin = app.staff_token("chief", "admin").await;
    let path = "/api/v1/admin/stats?from=2027-01-01&to=2027-01-31";
    let stats = admin_stats(&app, &admin, path).await;
    let days = stats["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{stats}");
    assert_eq!(
        (days[0]["date"].as_str(), days[0]["counter"].as_str()),
        (Some("2027-01-12"), Some("city-hall"))
    );
    assert_eq!(
        (
            days[0]["booked"].as_i64(),
            days[0]["completed"].as_i64(),
            days[0]["no_show"].as_i64()
        ),
        (Some(2), Some(1), Some(0)),
        "{stats}"
    );
    assert_eq!(days[0]["wait_minutes"], json!({"p50": 10, "p90": 10}));
    assert_eq!(
        (days[1]["date"].as_str(), days[1]["counter"].as_str()),
        (Some("2027-01-13"), Some("azuchi"))
    );
    // The chart's figures: by the hour the ticket was taken (08:55, local), and per day over
    // every procedure.
    assert_eq!(
        stats["hours"],
        json!([{"hour": 8, "tickets": 1, "wait_minutes": {"p50": 10, "p90": 10}}])
    );
    assert_eq!(
        stats["day_waits"],
        json!([{"date": "2027-01-12", "counter": "city-hall", "tickets": 1,
                "wait_minutes": {"p50": 10, "p90": 10}}])
    );
    app.clock.set(jst("2027-05-01T03:00:00+09:00"));
    run_job(&app, Job::Retention).await;
    let admin = app.login("chief", crate::helpers::STAFF_PASSWORD).await;
    let again = admin_stats(&app, &admin, path).await;
    assert_eq!(again, stats, "retention keeps what they need");
}

#[tokio::test]
async fn retention_erases_exactly_the_old_personal_data() {
    let app = spawn_app_at(jst("2026-11-24T10:00:00+09:00")).await;
    let old = app.book_as(1, "city-hall.2027-01-12.0900").await;
    let recent = app.book_as(2, "city-hall.2027-01-14.0900").await;
    app.drain_outbox().await;
    let phone = app.staff_token("operator", "phone").await;
    app.staff_token("chief", "admin").await;
    let cancelled_old = app.book_as(3, "city-hall.2027-01-12.0930").await;
    let n = cancelled_old["reservation_number"].as_str().unwrap();
    app.as_staff(
        Method::POST,
        &format!("/api/v1/staff/reservations/{n}/cancel"),
        Some(&phone),
        Some(&json!({"reason": "山田様より電話で取消"})),
    )
    .await;
    // A stranger's typing at the sign-in (login-shaped, not an account) and a colleague's
    // wrong password.
    for login in ["yamada.taro", "operator"] {
        let res = app
            .post_json(
                "/api/v1/staff/sessions",
                &json!({"login": login, "password": "not-the-password"}),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    // 2027-04-13: the 12 January visit is 91 days old, the 14 January one 89.
    app.clock.set(jst("2027-04-13T03:00:00+09:00"));
    let erased = run_job(&app, Job::Retention).await;
    let admin = app.login("chief", crate::helpers::STAFF_PASSWORD).await;
    assert!(erased >= 2, "{erased}");
    let old_row = reservation(&app, &admin, old["reservation_number"].as_str().unwrap()).await;
    for field in ["name", "name_kana", "phone"] {
        assert_eq!(old_row[field], "", "{field}: {old_row}");
    }
    assert_eq!(old_row["email"], Value::Null);
    assert_eq!(old_row["cancel_reason"], Value::Null);
    // What statistics need stays.
    assert_eq!(old_row["procedure"], "pin-reset");
    assert_eq!(old_row["slot"]["id"], "city-hall.2027-01-12.0900");
    // The manage link is gone.
    let token = old["manage_token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/reservations/{token}"))
            .await
            .status(),
        404
    );
    // Nothing newer is touched.
    let recent_row =
        reservation(&app, &admin, recent["reservation_number"].as_str().unwrap()).await;
    assert_eq!(recent_row["name"], recent["name"]);
    assert_eq!(recent_row["email"], "resident2@example.jp");
    let t = recent["manage_token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/reservations/{t}")).await.status(),
        200
    );
    // Mail older than 90 days keeps its subject, not its address; audit entries keep who
    // did what, not the reason's text.
    let outbox: Value = app
        .as_staff(Method::GET, "/api/v1/admin/outbox", Some(&admin), None)
        .await
        .json()
        .await
        .unwrap();
    let mails = outbox["mails"].as_array().unwrap();
    assert!(
        mails.iter().all(|m| m["recipient"] == ""),
        "all mail was written in November"
    );
    assert!(mails
        .iter()
        .all(|m| m["subject"].is_string() || m["status"] != "sent"));
    let audit = app.audit(&admin).await;
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("山田様"), "{text}");
    assert!(audit
        .iter()
        .any(|e| e["action"] == "reservation.cancel" && e["staff"] == "operator"));
    // Of failed sign-ins, an account's login stays; what a stranger typed does not.
    assert!(!text.contains("yamada.taro"), "{text}");
    let failed: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "staff.login_failed")
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed.contains(&"operator") && failed.contains(&"(erased)"),
        "{failed:?}"
    );
    // A second run finds nothing left to erase.
    assert_eq!(run_job(&app, Job::Retention).await, 0);
}

#[tokio::test]
async fn a_change_updates_the_calendar_event_and_a_cancellation_removes_it() {
    let app = spawn_app_at(jst("2026-11-24T10:00:00+09:00")).await;
    let booked = app.book_as(1, "city-hall.2027-01-12.0900").await;
    let token = booked["manage_token"].as_str().unwrap();
    let res = app
        .post_json(
            &format!("/api/v1/reservations/{token}/reschedule"),
            &json!({"slot_id": "city-hall.2027-01-13.1000"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.client
        .delete(app.url(&format!("/api/v1/reservations/{token}")))
        .send()
        .await
        .unwrap();
    app.drain_outbox().await;
    let to = "resident1@example.jp";
    let ics = |marker: &str| {
        let m = app.smtp.only_message_to(to, marker);
        let (_, ctype, ics) = m.attachments[0].clone();
        (m.text, ctype, ics)
    };
    let (_, ctype, first) = ics("【予約完了】");
    assert_eq!(ctype, "text/calendar; method=REQUEST");
    let uid = first
        .lines()
        .find(|l| l.starts_with("UID:"))
        .unwrap()
        .to_string();
    let (_, ctype, changed) = ics("【予約変更】");
    assert_eq!(ctype, "text/calendar; method=REQUEST");
    assert!(
        changed.contains("SEQUENCE:1") && changed.contains(&uid),
        "{changed}"
    );
    let (text, ctype, cancelled) = ics("【予約キャンセル】");
    assert_eq!(ctype, "text/calendar; method=CANCEL");
    assert!(
        cancelled.contains("METHOD:CANCEL")
            && cancelled.contains("SEQUENCE:2")
            && cancelled.contains(&uid),
        "{cancelled}"
    );
    assert!(
        text.contains(&format!("{}/", app.settings.public_url)),
        "how to book again: {text}"
    );
}

#[tokio::test]
async fn a_closure_apologises_and_says_how_to_book_again() {
    let app = spawn_app_at(jst("2026-11-24T10:00:00+09:00")).await;
    app.book_as(1, "city-hall.2027-01-19.0900").await;
    let admin = app.staff_token("chief", "admin").await;
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/admin/counters/city-hall/closures",
            Some(&admin),
            Some(
                &json!({"date": "2027-01-19", "reason": "停電のため", "cancel_reservations": true}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.drain_outbox().await;
    let mail = app
        .smtp
        .only_message_to("resident1@example.jp", "【予約キャンセル】");
    assert!(mail.text.contains("申し訳ございません"), "{}", mail.text);
    assert!(mail.text.contains("停電のため"));
    assert!(mail.text.contains(&format!("{}/", app.settings.public_url)));
}

#[tokio::test]
async fn used_and_expired_verification_tokens_are_removed() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |_| {}).await;
    let used = app.verified_token("used@example.jp").await;
    app.book(&crate::helpers::booking_body(
        &used,
        "city-hall.2027-01-12.0900",
        1,
    ))
    .await;
    app.post_verification("expiring@example.jp").await;
    app.post_verification("fresh@example.jp").await;
    // 40 minutes later: the unused one has expired (30 min), and both are outside the limits'
    // 10-minute window; a new one is not.
    app.clock.advance(Duration::minutes(40));
    app.post_verification("new@example.jp").await;
    let removed = run_job(&app, Job::ExpireVerifications).await;
    assert_eq!(removed, 3, "used, expired, expired");
    assert_eq!(
        app.get(&format!("/api/v1/verifications/{used}"))
            .await
            .status(),
        404
    );
}
