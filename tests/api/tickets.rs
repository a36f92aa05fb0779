//! Tickets people follow on their phones, the mail when the turn nears, the printed ticket,
//! and the kiosk role.

use crate::helpers::{desk_post, jst, problem, spawn_app_at, spawn_app_with, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration as StdDuration, Instant};

async fn issued(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

async fn call(app: &TestApp, token: &str, desk: &str) -> String {
    let res = desk_post(app, token, "calls", json!({ "desk": desk })).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["ticket"].as_str().unwrap().to_string()
}

async fn view(app: &TestApp, public_id: &str) -> Value {
    let res = app.get(&format!("/api/v1/tickets/{public_id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Checks the visitor with reservation `number` in at the desk (or a kiosk): the ticket.
async fn check_in(app: &TestApp, token: &str, number: &str) -> Value {
    let body = json!({ "reservation_number": number });
    issued(desk_post(app, token, "check-ins", body).await).await
}

/// The ticket's page asks for the mail when the turn nears.
async fn ask(app: &TestApp, public_id: &str) -> reqwest::Response {
    app.post_json(&format!("/api/v1/tickets/{public_id}/alert"), &json!({}))
        .await
}

fn public_id(ticket: &Value) -> String {
    ticket["public_id"].as_str().expect("public_id").to_string()
}

/// A caller booked by phone (with `email`) for 09:00 on 4 January, and the desk at 08:50 that
/// morning: the app, the desk's token and the reservation number.
async fn morning(email: &str) -> (TestApp, String, String) {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let number = app
        .phone_book(&phone, "city-hall.2027-01-04.0900", 1, Some(email))
        .await;
    app.clock.set(jst("2027-01-04T08:50:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    (app, desk, number)
}

#[tokio::test]
async fn a_ticket_page_shows_the_place_in_line_and_the_desk_and_nothing_personal() {
    let (app, desk, number) = morning("yamada@example.jp").await;
    let w1 = issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await;
    let w2 = issued(
        desk_post(
            &app,
            &desk,
            "walk-ins",
            json!({"procedure": "cert-renewal"}),
        )
        .await,
    )
    .await;
    let r1 = check_in(&app, &desk, &number).await;
    // Random, distinct, long: nothing one ticket's page could learn another's from.
    let ids = [public_id(&w1), public_id(&w2), public_id(&r1)];
    assert!(ids.iter().all(|i| i.len() >= 22), "{ids:?}");
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);

    // R-001 (on time) goes first, then W-001, W-002.
    let v = view(&app, &ids[1]).await;
    assert_eq!(
        (
            v["ticket"].as_str(),
            v["status"].as_str(),
            v["position"].as_i64(),
            v["ahead"].as_i64()
        ),
        (Some("W-002"), Some("waiting"), Some(3), Some(2))
    );
    // pin-reset 20 min (R-001) + the default 15 (W-001), one desk.
    assert_eq!(v["estimated_wait_minutes"], 35);
    assert_eq!(v["counter"], "city-hall");
    assert_eq!(v["date"], "2027-01-04");
    assert!(v.get("desk").is_none());

    // Nothing personal, on any kind of ticket: exactly these fields.
    let r = view(&app, &ids[2]).await;
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "ahead",
            "alert",
            "counter",
            "date",
            "estimated_wait_minutes",
            "notify_ahead",
            "position",
            "status",
            "ticket"
        ]
    );
    let text = r.to_string();
    for personal in [number.as_str(), "yamada", "example.jp", "090"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    // The desk calls R-001: everyone moves up at once (this instance's write refreshes the board).
    assert_eq!(call(&app, &desk, "3").await, "R-001");
    let v = view(&app, &ids[1]).await;
    assert_eq!(
        (v["position"].as_i64(), v["ahead"].as_i64()),
        (Some(2), Some(1))
    );
    let r = view(&app, &ids[2]).await;
    assert_eq!(
        (r["status"].as_str(), r["desk"].as_str()),
        (Some("called"), Some("3"))
    );
    assert!(r["position"].is_null());

    // Unknown and malformed ids: 404 ticket_not_found, never another ticket.
    let unknown = app.get("/api/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(problem(unknown, 404).await["code"], "ticket_not_found");
    let malformed = app.get("/api/v1/tickets/W-002").await;
    assert_eq!(problem(malformed, 404).await["code"], "ticket_not_found");
}

async fn read_events(res: &mut reqwest::Response, text: &mut String, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|b| b.lines().any(|l| l == "event: ticket"))
            .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        if events.len() >= n {
            return events;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the stream did not deliver; got:\n{text}");
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => panic!("the stream ended; got:\n{text}"),
            Ok(Err(e)) => panic!("stream error {e}"),
            Err(_) => {}
        }
    }
}

#[tokio::test]
async fn a_ticket_stream_moves_when_someone_ahead_is_called_even_from_another_instance() {
    let app = spawn_app_with(jst("2027-01-04T09:00:00+09:00"), |s| {
        s.queue.ticket_board_ms = 200;
        s.queue.display_keepalive_seconds = 1;
    })
    .await;
    let desk = app.staff_token("madoguchi", "desk").await;
    for _ in 0..2 {
        issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await;
    }
    let mine = issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await;
    let mut stream = app
        .client
        .get(app.url(&format!("/api/v1/tickets/{}/events", public_id(&mine))))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let events = read_events(&mut stream, &mut text, 1).await;
    assert_eq!(events[0]["ahead"], 2);

    call(&app, &desk, "1").await;
    let events = read_events(&mut stream, &mut text, 2).await;
    assert_eq!(
        (events[1]["ticket"].as_str(), events[1]["ahead"].as_i64()),
        (Some("W-003"), Some(1))
    );

    // A call made at another instance reaches this stream within the board's interval.
    let other = app.second_instance().await;
    let res = app
        .client
        .post(format!("{other}/api/v1/desk/city-hall/calls"))
        .bearer_auth(&desk)
        .json(&json!({"desk": "2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = read_events(&mut stream, &mut text, 3).await;
    assert_eq!(events[2]["ahead"], 0);
    assert_eq!(events[2]["position"], 1);
    call(&app, &desk, "4").await;
    let events = read_events(&mut stream, &mut text, 4).await;
    assert_eq!(
        (events[3]["status"].as_str(), events[3]["desk"].as_str()),
        (Some("called"), Some("4"))
    );
    // Each change once: no event repeats the one before it.
    assert!(events.windows(2).all(|w| w[0] != w[1]), "{events:?}");

    let unknown = app
        .get("/api/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA/events")
        .await;
    assert_eq!(problem(unknown, 404).await["code"], "ticket_not_found");
}

#[tokio::test]
async fn a_booked_visitor_is_mailed_once_when_their_turn_nears() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let email = "tsuchi@example.jp";
    let number = app
        .phone_book(&phone, "city-hall.2027-01-04.1030", 1, Some(email))
        .await;
    let plain = app
        .phone_book(&phone, "city-hall.2027-01-04.1030", 2, None)
        .await;
    app.clock.set(jst("2027-01-04T08:50:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    let mut walk_ins = Vec::new();
    for _ in 0..4 {
        walk_ins.push(issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await);
    }
    // Checked in early for 10:30: after the four walk-ins.
    let mine = check_in(&app, &desk, &number).await;
    let id = public_id(&mine);
    let v = view(&app, &id).await;
    assert_eq!(
        (
            v["ahead"].as_i64(),
            v["alert"].as_str(),
            v["notify_ahead"].as_i64()
        ),
        (Some(4), Some("available"), Some(3))
    );

    // A walk-in, and a booking without an address, cannot ask.
    let res = ask(&app, &public_id(&walk_ins[0])).await;
    assert_eq!(problem(res, 409).await["code"], "alert_unavailable");
    let no_address = check_in(&app, &desk, &plain).await;
    assert_eq!(
        view(&app, &public_id(&no_address)).await["alert"],
        "unavailable"
    );
    let res = ask(&app, &public_id(&no_address)).await;
    assert_eq!(problem(res, 409).await["code"], "alert_unavailable");

    // Four ahead: asked, not yet sent.
    let res = ask(&app, &id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["alert"], "requested");
    let near = || {
        app.smtp
            .messages_to(email)
            .into_iter()
            .filter(|m| m.subject.contains("まもなく順番です"))
            .collect::<Vec<_>>()
    };
    app.drain_outbox().await;
    assert!(near().is_empty());

    // One called: three ahead, the mail goes, once, with the ticket's page and no name.
    call(&app, &desk, "1").await;
    app.drain_outbox().await;
    let mails = near();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains("R-001"), "{}", mails[0].subject);
    assert!(mails[0].text.contains("3 人"), "{}", mails[0].text);
    assert!(
        mails[0].text.contains(&format!("/ticket/{id}")),
        "{}",
        mails[0].text
    );
    assert_eq!(view(&app, &id).await["alert"], "sent");
    // Asking again, and more calls: no second mail.
    let res = ask(&app, &id).await;
    assert_eq!(res.status(), 200);
    call(&app, &desk, "1").await;
    call(&app, &desk, "2").await;
    app.drain_outbox().await;
    assert_eq!(near().len(), 1);
}

async fn make_kiosk(
    app: &TestApp,
    admin: &str,
    login: &str,
    counter: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({
        "login": login, "password": "kiosk-password-long-1", "display_name": "受付機1", "role": "kiosk"
    });
    if let Some(c) = counter {
        body["counter"] = json!(c);
    }
    app.as_staff(
        Method::POST,
        "/api/v1/admin/staff",
        Some(admin),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn a_kiosk_checks_in_and_issues_tickets_at_its_counter_and_nothing_else() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let admin = app.staff_token("boss", "admin").await;
    let phone = app.staff_token("operator", "phone").await;
    let number = app
        .phone_book(&phone, "city-hall.2027-01-04.0900", 1, None)
        .await;

    // A kiosk names its counter, which must exist.
    let res = make_kiosk(&app, &admin, "kiosk-0", None).await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "counter", "{p}");
    let res = make_kiosk(&app, &admin, "kiosk-0", Some("nowhere")).await;
    assert_eq!(problem(res, 404).await["code"], "counter_not_found");
    let res = make_kiosk(&app, &admin, "kiosk-1", Some("city-hall")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["counter"], "city-hall");

    app.clock.set(jst("2027-01-04T08:50:00+09:00"));
    let kiosk = app.login("kiosk-1", "kiosk-password-long-1").await;
    let me = app
        .as_staff(
            Method::GET,
            "/api/v1/staff/sessions/current",
            Some(&kiosk),
            None,
        )
        .await;
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["role"].as_str(), me["counter"].as_str()),
        (Some("kiosk"), Some("city-hall"))
    );

    let r = check_in(&app, &kiosk, &number).await;
    assert_eq!(r["ticket"], "R-001");
    let w =
        issued(desk_post(&app, &kiosk, "walk-ins", json!({"procedure": "pin-change"})).await).await;
    assert_eq!(w["ticket"], "W-001");
    // Its print page.
    let res = app
        .as_staff(
            Method::GET,
            "/desk/tickets/W-001/print?counter=city-hall",
            Some(&kiosk),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);

    // Everything else: 403.
    let forbidden: [(Method, &str, Option<Value>); 9] = [
        (Method::GET, "/api/v1/desk/city-hall/queue", None),
        (
            Method::POST,
            "/api/v1/desk/city-hall/calls",
            Some(json!({"desk": "1"})),
        ),
        (
            Method::POST,
            "/api/v1/desk/city-hall/tickets/W-001/complete",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/desk/azuchi/walk-ins",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/desk/azuchi/check-ins",
            Some(json!({"reservation_number": number})),
        ),
        (
            Method::GET,
            "/desk/tickets/W-001/print?counter=azuchi",
            None,
        ),
        (
            Method::GET,
            "/api/v1/staff/reservations?date=2027-01-04",
            None,
        ),
        (Method::POST, "/api/v1/staff/reservations", Some(json!({}))),
        (Method::GET, "/api/v1/admin/staff", None),
    ];
    for (method, path, body) in forbidden {
        let res = app
            .as_staff(method.clone(), path, Some(&kiosk), body.as_ref())
            .await;
        let status = res.status();
        assert_eq!(
            status,
            403,
            "{method} {path}: {}",
            res.text().await.unwrap()
        );
    }
    // A kiosk stands unused between visitors: its session does not idle out (a desk's does).
    let desk = app.staff_token("madoguchi", "desk").await;
    app.clock.set(jst("2027-01-04T11:00:00+09:00"));
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/desk/city-hall/queue",
            Some(&desk),
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
    issued(desk_post(&app, &kiosk, "walk-ins", json!({})).await).await;
    // Signing out is its own.
    let res = app
        .as_staff(
            Method::DELETE,
            "/api/v1/staff/sessions/current",
            Some(&kiosk),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn the_printed_ticket_carries_the_number_the_qr_code_and_the_wait_and_nothing_personal() {
    let (app, desk, number) = morning("print@example.jp").await;
    issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await;
    let r = check_in(&app, &desk, &number).await;
    let w =
        issued(desk_post(&app, &desk, "walk-ins", json!({"procedure": "pin-reset"})).await).await;
    let res = app
        .as_staff(
            Method::GET,
            "/desk/tickets/w-002/print?counter=city-hall",
            Some(&desk),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = res.text().await.unwrap();
    assert!(html.contains(">W-002</h1>"), "{html}");
    assert!(html.contains("data:image/svg+xml;base64,"));
    assert!(html.contains(&format!("/ticket/{}", public_id(&w))));
    // R-001 and W-001 ahead: 20 + 15 minutes.
    assert!(html.contains("あなたの前に <b>2</b> 人"), "{html}");
    assert!(html.contains("約 <b>35</b> 分"), "{html}");
    assert!(html.contains("暗証番号"), "the procedure's name: {html}");
    let reserved = app
        .as_staff(
            Method::GET,
            "/desk/tickets/R-001/print?counter=city-hall&date=2027-01-04",
            Some(&desk),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(reserved.contains(&format!("/ticket/{}", public_id(&r))));
    assert!(
        !reserved.contains(&number) && !reserved.contains("print@"),
        "{reserved}"
    );

    // Staff only; a ticket of the day, a counter named.
    let res = app
        .client
        .get(app.staff_url("/desk/tickets/W-002/print?counter=city-hall"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .as_staff(
            Method::GET,
            "/desk/tickets/W-099/print?counter=city-hall",
            Some(&desk),
            None,
        )
        .await;
    assert_eq!(problem(res, 404).await["code"], "ticket_not_found");
    let res = app
        .as_staff(Method::GET, "/desk/tickets/W-002/print", Some(&desk), None)
        .await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "counter");
}

#[tokio::test]
async fn a_booked_visitor_whose_slot_comes_is_mailed_without_a_call() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let early = "early@example.jp";
    let number = app
        .phone_book(&phone, "city-hall.2027-01-04.1030", 1, Some(early))
        .await;
    app.clock.set(jst("2027-01-04T08:50:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    for _ in 0..5 {
        issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await;
    }
    let mine = check_in(&app, &desk, &number).await;
    let id = public_id(&mine);
    let res = ask(&app, &id).await;
    let v: Value = res.json().await.unwrap();
    // Five walk-ins ahead: asked, not yet sent (the answer is the row just written).
    assert_eq!(
        (v["alert"].as_str(), v["ahead"].as_i64()),
        (Some("requested"), Some(5))
    );
    let mails = |marker: &'static str| {
        app.smtp
            .messages_to(early)
            .into_iter()
            .filter(move |m| m.subject.contains(marker))
            .count()
    };
    // 10:05: the 10:30 slot is within 30 minutes, so the calling rule puts the visitor first
    // with nobody called; the sweeper's pass mails them.
    app.clock.set(jst("2027-01-04T10:05:00+09:00"));
    madoguchi::startup::sweep(&app.state).await.expect("sweep");
    app.drain_outbox().await;
    assert_eq!(mails("まもなく順番です"), 1);
    assert_eq!(view(&app, &id).await["alert"], "sent");
    madoguchi::startup::sweep(&app.state).await.expect("sweep");
    app.drain_outbox().await;
    assert_eq!(mails("まもなく順番です"), 1, "once");
}

#[tokio::test]
async fn a_visitor_called_before_the_mail_went_is_told_the_desk() {
    let (app, desk, number) = morning("called@example.jp").await;
    let mine = check_in(&app, &desk, &number).await;
    // Nobody ahead: asking sends the "next" mail at once.
    let id = public_id(&mine);
    let res = ask(&app, &id).await;
    assert_eq!(res.json::<Value>().await.unwrap()["alert"], "sent");
    app.drain_outbox().await;
    assert_eq!(
        app.smtp
            .messages_to("called@example.jp")
            .iter()
            .filter(|m| m.subject.contains("まもなく順番です"))
            .count(),
        1
    );
    // A second booked visitor asks with four walk-ins ahead, then jumps the line by the rule and
    // is called first: the call's mail names the desk.
    let phone = app.staff_token("operator2", "phone").await;
    app.clock.set(jst("2026-12-20T10:00:00+09:00"));
    let later = app
        .phone_book(
            &phone,
            "city-hall.2027-01-04.1030",
            2,
            Some("desk@example.jp"),
        )
        .await;
    app.clock.set(jst("2027-01-04T08:55:00+09:00"));
    assert_eq!(call(&app, &desk, "1").await, "R-001");
    for _ in 0..4 {
        issued(desk_post(&app, &desk, "walk-ins", json!({})).await).await;
    }
    let second = check_in(&app, &desk, &later).await;
    let res = ask(&app, &public_id(&second)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["alert"], "requested");
    app.clock.set(jst("2027-01-04T10:05:00+09:00"));
    let desk = app.login("madoguchi", crate::helpers::STAFF_PASSWORD).await;
    assert_eq!(call(&app, &desk, "3").await, "R-002");
    app.drain_outbox().await;
    let told: Vec<_> = app
        .smtp
        .messages_to("desk@example.jp")
        .into_iter()
        .filter(|m| m.subject.contains("お呼びしています"))
        .collect();
    assert_eq!(told.len(), 1);
    assert!(told[0].subject.contains("3番窓口"), "{}", told[0].subject);
    assert!(told[0].text.contains("desk 3"), "{}", told[0].text);
}

#[tokio::test]
async fn a_kiosk_has_no_password_or_second_factor_of_its_own_and_moving_it_ends_its_session() {
    let app = spawn_app_at(jst("2027-01-04T09:00:00+09:00")).await;
    let admin = app.staff_token("boss", "admin").await;
    let res = make_kiosk(&app, &admin, "kiosk-2", Some("city-hall")).await;
    assert_eq!(res.status(), 201);
    let kiosk = app.login("kiosk-2", "kiosk-password-long-1").await;
    for (method, path, body) in [
        (
            Method::PUT,
            "/api/v1/staff/me/password",
            json!({"current_password": "kiosk-password-long-1", "new_password": "another-kiosk-password-2"}),
        ),
        (Method::POST, "/api/v1/staff/me/totp", json!({})),
        (
            Method::POST,
            "/api/v1/staff/me/totp/recovery-codes",
            json!({}),
        ),
    ] {
        let res = app
            .as_staff(method.clone(), path, Some(&kiosk), Some(&body))
            .await;
        assert_eq!(res.status(), 403, "{method} {path}");
    }
    // Moved to the other counter by an administrator: its session ends at once.
    let res = app
        .as_staff(
            Method::PATCH,
            "/api/v1/admin/staff/kiosk-2",
            Some(&admin),
            Some(&json!({"counter": "azuchi"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["counter"], "azuchi");
    let entries = app.audit(&admin).await;
    let moved = entries
        .iter()
        .find(|e| e["action"] == "staff.update" && e["target"] == "kiosk-2")
        .expect("audited");
    assert_eq!(
        moved["detail"]["counter"],
        json!({"from": "city-hall", "to": "azuchi"}),
        "{moved}"
    );
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/staff/sessions/current",
            Some(&kiosk),
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
    // A kiosk prints today's tickets only.
    let kiosk = app.login("kiosk-2", "kiosk-password-long-1").await;
    let res = app
        .as_staff(
            Method::GET,
            "/desk/tickets/W-001/print?counter=azuchi&date=2027-01-05",
            Some(&kiosk),
            None,
        )
        .await;
    assert_eq!(res.status(), 403);
}
