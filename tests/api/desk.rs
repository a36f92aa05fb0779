//! The front desk: a morning at the counter, check-in rules, concurrent calls, the display.

use crate::helpers::{desk_post, jst, problem, spawn_app_at, spawn_app_with, TestApp};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration as StdDuration, Instant};

async fn check_in(app: &TestApp, token: &str, number: &str) -> Value {
    let res = desk_post(
        app,
        token,
        "check-ins",
        json!({ "reservation_number": number }),
    )
    .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn walk_in(app: &TestApp, token: &str, procedure: Option<&str>) -> Value {
    let res = desk_post(app, token, "walk-ins", json!({ "procedure": procedure })).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Calls the next visitor to `desk`; returns the ticket label, or None on 204.
async fn call(app: &TestApp, token: &str, desk: &str) -> Option<String> {
    let res = desk_post(app, token, "calls", json!({ "desk": desk })).await;
    match res.status().as_u16() {
        204 => None,
        200 => Some(
            res.json::<Value>().await.unwrap()["ticket"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        s => panic!("call answered {s}"),
    }
}

async fn complete(app: &TestApp, token: &str, ticket: &str) {
    let res = desk_post(app, token, &format!("tickets/{ticket}/complete"), json!({})).await;
    assert_eq!(res.status(), 200, "complete {ticket}");
}

async fn queue(app: &TestApp, token: &str) -> Value {
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/desk/city-hall/queue",
            Some(token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn labels(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["ticket"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_morning_at_the_counter_with_two_desks() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let a = app
        .phone_book(&phone, "city-hall.2027-01-04.0900", 1, None)
        .await;
    let b = app
        .phone_book(&phone, "city-hall.2027-01-04.0900", 2, None)
        .await;
    let c = app
        .phone_book(&phone, "city-hall.2027-01-04.0930", 3, None)
        .await;
    let d = app
        .phone_book(&phone, "city-hall.2027-01-04.1030", 4, None)
        .await;
    let e = app
        .phone_book(&phone, "city-hall.2027-01-04.0900", 5, None)
        .await;

    app.clock.set(jst("2027-01-04T08:40:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    let w1 = walk_in(&app, &desk, None).await;
    assert_eq!(w1["ticket"], "W-001");
    assert_eq!(
        (
            w1["position"].as_i64(),
            w1["estimated_wait_minutes"].as_i64()
        ),
        (Some(1), Some(0))
    );
    app.clock.set(jst("2027-01-04T08:50:00+09:00"));
    assert_eq!(check_in(&app, &desk, &a).await["ticket"], "R-001");
    app.clock.set(jst("2027-01-04T08:52:00+09:00"));
    let early = check_in(&app, &desk, &d).await; // a 10:30 slot: early
    assert_eq!(early["ticket"], "R-002");
    assert_eq!(early["slot_starts_at"], "2027-01-04T10:30:00+09:00");
    app.clock.set(jst("2027-01-04T08:55:00+09:00"));
    let w2 = walk_in(&app, &desk, Some("cert-renewal")).await;
    // Ahead of W-002: R-001 (on time, pin-reset 20 min) and W-001 (15 min), one desk.
    assert_eq!(
        (
            w2["position"].as_i64(),
            w2["estimated_wait_minutes"].as_i64()
        ),
        (Some(3), Some(35))
    );
    app.clock.set(jst("2027-01-04T08:58:00+09:00"));
    assert_eq!(check_in(&app, &desk, &b).await["ticket"], "R-003");

    let mut order = Vec::new();
    app.clock.set(jst("2027-01-04T09:00:00+09:00"));
    order.push(("1", call(&app, &desk, "1").await.unwrap())); // A: on time, slot 09:00, in 08:50
    order.push(("2", call(&app, &desk, "2").await.unwrap())); // B: on time, slot 09:00, in 08:58
    app.clock.set(jst("2027-01-04T09:05:00+09:00"));
    complete(&app, &desk, "R-001").await;
    order.push(("1", call(&app, &desk, "1").await.unwrap())); // W-001: D is still early
    app.clock.set(jst("2027-01-04T09:10:00+09:00"));
    assert_eq!(check_in(&app, &desk, &c).await["ticket"], "R-004");
    app.clock.set(jst("2027-01-04T09:12:00+09:00"));
    complete(&app, &desk, "R-003").await;
    order.push(("2", call(&app, &desk, "2").await.unwrap())); // C: on time before W-002
    app.clock.set(jst("2027-01-04T09:20:00+09:00"));
    assert_eq!(check_in(&app, &desk, &e).await["ticket"], "R-005"); // slot 09:00: late
    let q = queue(&app, &desk).await;
    assert_eq!(
        labels(&q["waiting"]),
        ["W-002", "R-005", "R-002"],
        "the order they will be called in"
    );
    assert_eq!(q["waiting"][1]["reservation_number"], e.as_str());
    assert_eq!(labels(&q["called"]), ["R-004", "W-001"]);
    app.clock.set(jst("2027-01-04T09:25:00+09:00"));
    complete(&app, &desk, "W-001").await;
    order.push(("1", call(&app, &desk, "1").await.unwrap())); // W-002: ticket 08:55 before E's 09:20
    app.clock.set(jst("2027-01-04T09:30:00+09:00"));
    complete(&app, &desk, "R-004").await;
    order.push(("2", call(&app, &desk, "2").await.unwrap())); // E among walk-ins
    app.clock.set(jst("2027-01-04T09:40:00+09:00"));
    complete(&app, &desk, "W-002").await;
    order.push(("1", call(&app, &desk, "1").await.unwrap())); // D: nobody else, early or not
    app.clock.set(jst("2027-01-04T09:45:00+09:00"));
    assert_eq!(call(&app, &desk, "2").await, None);

    let got: Vec<(&str, &str)> = order.iter().map(|(d, t)| (*d, t.as_str())).collect();
    assert_eq!(
        got,
        [
            ("1", "R-001"),
            ("2", "R-003"),
            ("1", "W-001"),
            ("2", "R-004"),
            ("1", "W-002"),
            ("2", "R-005"),
            ("1", "R-002")
        ]
    );

    // The reservations follow their tickets.
    complete(&app, &desk, "R-005").await;
    let res = desk_post(&app, &desk, "tickets/R-002/no-show", json!({})).await;
    assert_eq!(res.status(), 200);
    let q = queue(&app, &desk).await;
    let status_of = |n: &str| {
        q["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reservation_number"] == n)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&a), "completed");
    assert_eq!(status_of(&e), "completed");
    assert_eq!(status_of(&d), "no_show");
    // A recall brings the no-show back to the same desk.
    let res = desk_post(&app, &desk, "tickets/R-002/recall", json!({})).await;
    let t: Value = res.json().await.unwrap();
    assert_eq!(
        t["reservation_number"],
        d.as_str(),
        "the desk sees whom it calls"
    );
    assert_eq!(
        (t["status"].clone(), t["desk"].clone(), t["calls"].clone()),
        (json!("called"), json!("1"), json!(2))
    );
    let q = queue(&app, &desk).await;
    assert_eq!(
        q["reservations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reservation_number"] == d.as_str())
            .unwrap()["status"],
        "checked_in"
    );
    // Completing a ticket that is not called is refused.
    let res = desk_post(&app, &desk, "tickets/R-001/complete", json!({})).await;
    assert_eq!(problem(res, 409).await["code"], "ticket_not_called");
    let res = desk_post(&app, &desk, "tickets/R-099/complete", json!({})).await;
    assert_eq!(problem(res, 404).await["code"], "ticket_not_found");
}

#[tokio::test]
async fn check_in_only_once_on_the_day_at_the_counter_and_never_when_cancelled() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let today = app
        .phone_book(&phone, "city-hall.2027-01-04.1000", 1, None)
        .await;
    let tomorrow = app
        .phone_book(&phone, "city-hall.2027-01-05.1000", 2, None)
        .await;
    let cancelled = app
        .phone_book(&phone, "city-hall.2027-01-04.1100", 3, None)
        .await;
    let res = app
        .as_staff(
            Method::POST,
            &format!("/api/v1/staff/reservations/{cancelled}/cancel"),
            Some(&phone),
            Some(&json!({"reason": "取消"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let elsewhere = {
        let body = json!({"slot_id": "azuchi.2027-01-04.1000", "procedure": "pin-change", "applicant_type": "holder",
                          "name": "安土 太郎", "name_kana": "アヅチ タロウ", "phone": "0748-99-0000"});
        let r: Value = app
            .as_staff(
                Method::POST,
                "/api/v1/staff/reservations",
                Some(&phone),
                Some(&body),
            )
            .await
            .json()
            .await
            .unwrap();
        r["reservation_number"].as_str().unwrap().to_string()
    };

    app.clock.set(jst("2027-01-04T09:30:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    let code = |res: reqwest::Response| async move {
        problem(res, 409).await["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        code(
            desk_post(
                &app,
                &desk,
                "check-ins",
                json!({"reservation_number": tomorrow})
            )
            .await
        )
        .await,
        "not_today"
    );
    assert_eq!(
        code(
            desk_post(
                &app,
                &desk,
                "check-ins",
                json!({"reservation_number": cancelled})
            )
            .await
        )
        .await,
        "reservation_cancelled"
    );
    assert_eq!(
        code(
            desk_post(
                &app,
                &desk,
                "check-ins",
                json!({"reservation_number": elsewhere})
            )
            .await
        )
        .await,
        "wrong_counter"
    );
    // The number as a person reads it out: lower case, no hyphen.
    let spoken = today.replace('-', "").to_lowercase();
    assert_eq!(
        desk_post(
            &app,
            &desk,
            "check-ins",
            json!({"reservation_number": spoken})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        code(
            desk_post(
                &app,
                &desk,
                "check-ins",
                json!({"reservation_number": today})
            )
            .await
        )
        .await,
        "already_checked_in"
    );
    let res = desk_post(
        &app,
        &desk,
        "check-ins",
        json!({"reservation_number": "ZZZZ-ZZZZ"}),
    )
    .await;
    assert_eq!(problem(res, 404).await["code"], "reservation_not_found");
    let res = desk_post(&app, &desk, "calls", json!({"desk": ""})).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "desk");
    let res = desk_post(&app, &desk, "walk-ins", json!({"procedure": "passport"})).await;
    assert_eq!(problem(res, 404).await["code"], "procedure_not_found");
    // Ticket numbers restart the next day.
    app.clock.set(jst("2027-01-05T09:00:00+09:00"));
    let desk = app.login("madoguchi", crate::helpers::STAFF_PASSWORD).await; // the next morning's session
    assert_eq!(walk_in(&app, &desk, None).await["ticket"], "W-001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_desks_calling_at_once_never_get_the_same_ticket() {
    let app = spawn_app_at(jst("2027-01-04T09:00:00+09:00")).await;
    let desk = app.staff_token("madoguchi", "desk").await;
    for _ in 0..20 {
        walk_in(&app, &desk, None).await;
    }
    let calls = (0..24).map(|i| {
        let (app, desk) = (&app, desk.clone());
        async move { call(app, &desk, if i % 2 == 0 { "1" } else { "2" }).await }
    });
    let results = join_all(calls).await;
    let mut called: Vec<String> = results.iter().flatten().cloned().collect();
    assert_eq!(called.len(), 20, "every ticket called");
    assert_eq!(
        results.iter().filter(|r| r.is_none()).count(),
        4,
        "then nobody waits"
    );
    called.sort();
    called.dedup();
    assert_eq!(called.len(), 20, "no ticket called twice");
    let q = queue(&app, &desk).await;
    assert!(q["waiting"].as_array().unwrap().is_empty());
    assert_eq!(q["called"].as_array().unwrap().len(), 20);
}

/// Calls with `settle` (the tickets the clerk saw at the desk, and what became of them): the
/// answer's status and body.
async fn call_settling(
    app: &TestApp,
    token: &str,
    desk: &str,
    tickets: &[&str],
    outcome: &str,
) -> (u16, Value) {
    let settle = json!({ "tickets": tickets, "outcome": outcome });
    let res = desk_post(
        app,
        token,
        "calls",
        json!({ "desk": desk, "settle": settle }),
    )
    .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The day's tickets: (label, desk) of the called, (label, status) of the finished.
async fn floor(app: &TestApp, token: &str) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let q = queue(app, token).await;
    let pairs = |list: &Value, field: &str| -> Vec<(String, String)> {
        let mut v: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let f = t[field].as_str().unwrap_or_default().to_string();
                (t["ticket"].as_str().unwrap().to_string(), f)
            })
            .collect();
        v.sort();
        v
    };
    (pairs(&q["called"], "desk"), pairs(&q["finished"], "status"))
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[tokio::test]
async fn a_call_may_settle_the_visitors_the_clerk_saw_and_without_settle_answers_as_before() {
    let app = spawn_app_at(jst("2027-01-04T09:00:00+09:00")).await;
    let desk = app.staff_token("madoguchi", "desk").await;
    for _ in 0..5 {
        walk_in(&app, &desk, None).await;
    }
    // Without settle: as before, a desk may hold two called tickets.
    assert_eq!(call(&app, &desk, "1").await.as_deref(), Some("W-001"));
    assert_eq!(call(&app, &desk, "1").await.as_deref(), Some("W-002"));
    let both = vec![pair("W-001", "1"), pair("W-002", "1")];
    assert_eq!(floor(&app, &desk).await.0, both);

    // Naming one of the two: refused, naming the other; nothing settled, nobody called.
    let (status, p) = call_settling(&app, &desk, "1", &["W-001"], "complete").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("desk_serving")),
        "{p}"
    );
    assert!(
        p["detail"].as_str().unwrap_or_default().contains("W-002"),
        "{p}"
    );
    assert_eq!(floor(&app, &desk).await, (both, vec![]));

    // Naming both (as typed, in any case): both completed first, then W-003 called.
    let (status, t) = call_settling(&app, &desk, "1", &["W-001", "w-002 "], "complete").await;
    assert_eq!((status, t["ticket"].as_str()), (200, Some("W-003")));
    let (called, finished) = floor(&app, &desk).await;
    assert_eq!(called, vec![pair("W-003", "1")]);
    assert_eq!(
        finished,
        vec![pair("W-001", "completed"), pair("W-002", "completed")]
    );

    // Another desk's visitor is not its business; a free desk names nobody.
    let (status, t) = call_settling(&app, &desk, "2", &[], "no_show").await;
    assert_eq!((status, t["ticket"].as_str()), (200, Some("W-004")));
    let serving = vec![pair("W-003", "1"), pair("W-004", "2")];
    assert_eq!(floor(&app, &desk).await.0, serving);

    // An outcome it does not know: 422 naming the field, and nothing changes.
    for (settle, field, code) in [
        (
            json!({"tickets": ["W-003"], "outcome": "done"}),
            "settle.outcome",
            "not_one_of",
        ),
        (
            json!({"tickets": ["W\u{0}3"], "outcome": "complete"}),
            "settle.tickets",
            "control_characters",
        ),
    ] {
        let res = desk_post(
            &app,
            &desk,
            "calls",
            json!({ "desk": "1", "settle": settle }),
        )
        .await;
        let p = problem(res, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert_eq!(p["errors"][0]["code"], code, "{p}");
    }
    assert_eq!(floor(&app, &desk).await.0, serving);

    // Marked absent, and the last one called; then nobody waits, and the visitor is still
    // settled (204). A ticket named that a colleague settled meanwhile counts as settled.
    let (status, t) = call_settling(&app, &desk, "1", &["W-003"], "no_show").await;
    assert_eq!((status, t["ticket"].as_str()), (200, Some("W-005")));
    complete(&app, &desk, "W-004").await;
    let (status, _) = call_settling(&app, &desk, "2", &["W-004"], "no_show").await;
    assert_eq!(status, 204);
    let (status, _) = call_settling(&app, &desk, "1", &["W-005"], "complete").await;
    assert_eq!(status, 204);
    let (called, finished) = floor(&app, &desk).await;
    assert!(called.is_empty(), "{called:?}");
    for settled in [
        pair("W-003", "no_show"),
        pair("W-004", "completed"),
        pair("W-005", "completed"),
    ] {
        assert!(finished.contains(&settled), "{settled:?} in {finished:?}");
    }
}

#[tokio::test]
async fn a_desk_open_in_two_windows_never_settles_a_visitor_its_clerk_did_not_see() {
    let app = spawn_app_at(jst("2027-01-04T09:00:00+09:00")).await;
    let desk = app.staff_token("madoguchi", "desk").await;
    for _ in 0..12 {
        walk_in(&app, &desk, None).await;
    }
    // Ten windows of desk 1, each seeing the desk free, call at once: one is served, the
    // others are told the desk is serving someone they did not see.
    let calls = (0..10).map(|_| {
        let (app, desk) = (&app, desk.clone());
        async move { call_settling(app, &desk, "1", &[], "complete").await }
    });
    let answers = join_all(calls).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused = answers
        .iter()
        .filter(|(s, p)| *s == 409 && p["code"] == "desk_serving")
        .count();
    assert_eq!((ok, refused), (1, 9), "{answers:?}");
    let (called, finished) = floor(&app, &desk).await;
    assert_eq!(called.len(), 1, "one visitor at desk 1: {called:?}");
    assert!(finished.is_empty(), "nobody settled unseen: {finished:?}");
}

/// Reads the stream until `done` says the text so far is enough (or times out).
async fn read_stream(res: &mut reqwest::Response, text: &mut String, done: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while !done(text) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "stream did not deliver; got:\n{text}");
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => panic!("stream ended; got:\n{text}"),
            Ok(Err(e)) => panic!("stream error {e}"),
            Err(_) => {}
        }
    }
}

fn called_events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|block| block.lines().any(|l| l == "event: called"))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn the_waiting_room_screen_sees_each_call_once_and_no_personal_data() {
    let app = spawn_app_with(jst("2027-01-04T09:00:00+09:00"), |s| {
        s.queue.display_poll_ms = 50;
        s.queue.display_keepalive_seconds = 1;
    })
    .await;
    let desk = app.staff_token("madoguchi", "desk").await;
    // The screen is public: no token.
    let mut screen = app
        .client
        .get(app.url("/api/v1/desk/city-hall/display"))
        .send()
        .await
        .unwrap();
    assert_eq!(screen.status(), 200);
    assert_eq!(screen.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    read_stream(&mut screen, &mut text, |t| {
        t.contains(": madoguchi display")
    })
    .await;

    for _ in 0..3 {
        walk_in(&app, &desk, Some("pin-reset")).await;
    }
    call(&app, &desk, "1").await.unwrap();
    call(&app, &desk, "2").await.unwrap();
    call(&app, &desk, "1").await.unwrap();
    read_stream(&mut screen, &mut text, |t| called_events(t).len() >= 3).await;
    let res = desk_post(&app, &desk, "tickets/W-001/recall", json!({})).await;
    assert_eq!(res.status(), 200);
    read_stream(&mut screen, &mut text, |t| called_events(t).len() >= 4).await;
    // Quiet now: a keep-alive comment, and no call twice.
    read_stream(&mut screen, &mut text, |t| t.contains(": keep-alive")).await;
    let events = called_events(&text);
    assert_eq!(
        events,
        [
            json!({"ticket": "W-001", "desk": "1"}),
            json!({"ticket": "W-002", "desk": "2"}),
            json!({"ticket": "W-003", "desk": "1"}),
            json!({"ticket": "W-001", "desk": "1"}),
        ]
    );

    // A screen switched on later first shows the recent calls, then the new ones.
    let mut late = app
        .client
        .get(app.url("/api/v1/desk/city-hall/display"))
        .send()
        .await
        .unwrap();
    let mut late_text = String::new();
    read_stream(&mut late, &mut late_text, |t| called_events(t).len() >= 4).await;
    assert_eq!(called_events(&late_text), events);
    // Reconnecting with Last-Event-ID resumes after it.
    let last_id: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .nth(1)
        .unwrap()
        .to_string();
    let mut resumed = app
        .client
        .get(app.url("/api/v1/desk/city-hall/display"))
        .header("Last-Event-ID", last_id)
        .send()
        .await
        .unwrap();
    let mut resumed_text = String::new();
    read_stream(&mut resumed, &mut resumed_text, |t| {
        called_events(t).len() >= 2
    })
    .await;
    assert_eq!(called_events(&resumed_text), events[2..]);
    assert!(!text.contains("pin-reset"), "ticket and desk only");
    let res = app.get("/api/v1/desk/osaka/display").await;
    assert_eq!(problem(res, 404).await["code"], "counter_not_found");
}
