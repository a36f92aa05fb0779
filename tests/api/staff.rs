//! Staff: sessions, the authorisation matrix, phone bookings, search and cancel.

use crate::helpers::{
    jst, phone_booking_body, problem, spawn_app, spawn_app_at, spawn_app_with, TestApp,
    STAFF_PASSWORD,
};
use chrono::Duration;
use madoguchi::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

const ROLES: [&str; 3] = ["phone", "desk", "admin"];

/// One endpoint of the contract: which roles may call it and what success looks like.
struct Row {
    method: Method,
    path: Box<dyn Fn(usize) -> String>,
    allowed: &'static [&'static str],
    success: u16,
    body: Box<dyn Fn(usize) -> Option<Value>>,
}

#[tokio::test]
async fn the_authorisation_matrix_is_exactly_the_contract() {
    let app = spawn_app().await;
    let mut tokens = std::collections::HashMap::new();
    for role in ROLES {
        tokens.insert(role, app.staff_token(&format!("{role}-user"), role).await);
    }
    // Reservations to read and cancel.
    let made = app.book_as(900, "city-hall.2027-01-06.0900").await;
    let number = made["reservation_number"].as_str().unwrap().to_string();
    // Two of today's reservations (an admin may book past the window) for the desk to check in.
    let mut today = Vec::new();
    for who in [901, 902] {
        let mut body = phone_booking_body(&format!("city-hall.2026-11-24.{}00", who - 886), who);
        body["override_window"] = json!(true);
        body["override_reason"] = json!("窓口試験");
        let res = app
            .as_staff(
                Method::POST,
                "/api/v1/staff/reservations",
                Some(&tokens["admin"]),
                Some(&body),
            )
            .await;
        let r: Value = res.json().await.unwrap();
        today.push(r["reservation_number"].as_str().unwrap().to_string());
    }
    // Per role: the desk acts on the first ticket, the admin on the second.

    let rows = vec![
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/staff/reservations".into()),
            allowed: &["phone", "admin"],
            success: 201,
            body: Box::new(|i| {
                Some(phone_booking_body(
                    &format!("city-hall.2027-01-05.{:02}00", 9 + i),
                    i,
                ))
            }),
        },
        Row {
            method: Method::GET,
            path: Box::new(|_| {
                "/api/v1/staff/reservations?date=2027-01-06&counter=city-hall".into()
            }),
            allowed: &["phone", "desk", "admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::GET,
            path: Box::new({
                let n = number.clone();
                move |_| format!("/api/v1/staff/reservations/{n}")
            }),
            allowed: &["phone", "desk", "admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::POST,
            path: Box::new({
                let n = number.clone();
                move |_| format!("/api/v1/staff/reservations/{n}/cancel")
            }),
            allowed: &["phone", "admin"],
            success: 200,
            body: Box::new(|_| Some(json!({ "reason": "本人から電話で取消の依頼" }))),
        },
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/admin/staff".into()),
            allowed: &["admin"],
            success: 201,
            body: Box::new(|i| {
                Some(
                    json!({ "login": format!("new-{i}"), "password": STAFF_PASSWORD, "role": "desk", "display_name": "新人" }),
                )
            }),
        },
        Row {
            method: Method::PUT,
            path: Box::new(|_| "/api/v1/admin/slots/city-hall.2027-01-07.0900".into()),
            allowed: &["admin"],
            success: 200,
            body: Box::new(|_| Some(json!({ "capacity": 4 }))),
        },
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/admin/counters/azuchi/closures".into()),
            allowed: &["admin"],
            success: 201,
            body: Box::new(|_| Some(json!({ "date": "2027-01-08", "reason": "設備点検" }))),
        },
        Row {
            method: Method::GET,
            path: Box::new(|_| "/api/v1/desk/city-hall/queue".into()),
            allowed: &["desk", "admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/desk/city-hall/walk-ins".into()),
            allowed: &["desk", "admin"],
            success: 201,
            body: Box::new(|_| Some(json!({ "procedure": "pin-change" }))),
        },
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/desk/city-hall/calls".into()),
            allowed: &["desk", "admin"],
            success: 200,
            body: Box::new(|i| Some(json!({ "desk": format!("{}", i % 10) }))),
        },
        Row {
            method: Method::POST,
            path: Box::new(move |i| {
                format!(
                    "/api/v1/desk/city-hall/tickets/W-00{}/recall",
                    (i % 10).max(2) - 1
                )
            }),
            allowed: &["desk", "admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::POST,
            path: Box::new(move |i| {
                format!(
                    "/api/v1/desk/city-hall/tickets/W-00{}/complete",
                    (i % 10).max(2) - 1
                )
            }),
            allowed: &["desk", "admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/desk/city-hall/check-ins".into()),
            allowed: &["desk", "admin"],
            success: 201,
            body: Box::new({
                let today = today.clone();
                move |i| Some(json!({ "reservation_number": today[((i % 10).max(2) - 2).min(1)] }))
            }),
        },
        Row {
            method: Method::POST,
            path: Box::new(|_| "/api/v1/desk/city-hall/calls".into()),
            allowed: &["desk", "admin"],
            success: 200,
            body: Box::new(|_| Some(json!({ "desk": "3" }))),
        },
        Row {
            method: Method::POST,
            path: Box::new(move |i| {
                format!(
                    "/api/v1/desk/city-hall/tickets/R-00{}/no-show",
                    (i % 10).max(2) - 1
                )
            }),
            allowed: &["desk", "admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::GET,
            path: Box::new(|_| "/api/v1/admin/audit".into()),
            allowed: &["admin"],
            success: 200,
            body: Box::new(|_| None),
        },
        Row {
            method: Method::GET,
            path: Box::new(|_| "/api/v1/admin/outbox?status=pending".into()),
            allowed: &["admin"],
            success: 200,
            body: Box::new(|_| None),
        },
    ];

    for (r, row) in rows.iter().enumerate() {
        let path = (row.path)(r * 10);
        let res = app
            .as_staff(row.method.clone(), &path, None, (row.body)(r * 10).as_ref())
            .await;
        let p = problem(res, 401).await;
        assert_eq!(
            p["code"], "unauthenticated",
            "{} {path} anonymous",
            row.method
        );
        for (i, role) in ROLES.iter().enumerate() {
            let (body, path) = ((row.body)(r * 10 + i + 1), (row.path)(r * 10 + i + 1));
            let res = app
                .as_staff(
                    row.method.clone(),
                    &path,
                    Some(&tokens[role]),
                    body.as_ref(),
                )
                .await;
            let status = res.status().as_u16();
            if row.allowed.contains(role) {
                let text = res.text().await.unwrap_or_default();
                assert_eq!(
                    status, row.success,
                    "{} {path} as {role}: {text}",
                    row.method
                );
            } else {
                let p = problem(res, 403).await;
                assert_eq!(p["code"], "forbidden", "{} {path} as {role}", row.method);
            }
        }
    }
    // Logging out is for every role, and ends that session only.
    for role in ROLES {
        let t = tokens[role].clone();
        let res = app
            .as_staff(
                Method::DELETE,
                "/api/v1/staff/sessions/current",
                Some(&t),
                None,
            )
            .await;
        assert_eq!(res.status(), 204, "{role}");
        let res = app
            .as_staff(Method::GET, "/api/v1/staff/reservations", Some(&t), None)
            .await;
        assert_eq!(problem(res, 401).await["code"], "unauthenticated");
    }
    let res = app
        .as_staff(Method::DELETE, "/api/v1/staff/sessions/current", None, None)
        .await;
    problem(res, 401).await;
}

async fn sign_in_from(
    app: &TestApp,
    address: &str,
    login: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/staff/sessions"))
        .header("x-forwarded-for", address)
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_fails_clearly_and_a_stranger_cannot_lock_the_owner_out() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        // The tests reach the service from loopback: that is the trusted proxy here.
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let admin = app.staff_token("chief", "admin").await;
    let desk = app.staff_token("desk-1", "desk").await;
    let (stranger, office) = ("203.0.113.9", "198.51.100.20");
    for _ in 0..5 {
        let p = problem(
            sign_in_from(&app, stranger, "desk-1", "wrong-password-1").await,
            401,
        )
        .await;
        assert_eq!(p["code"], "invalid_credentials");
    }
    // The stranger now waits, even with the right password, unchecked…
    let res = sign_in_from(&app, stranger, "desk-1", STAFF_PASSWORD).await;
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 30);
    assert_eq!(problem(res, 429).await["code"], "rate_limited");
    // …but the desk signs in from the office as usual.
    assert_eq!(
        sign_in_from(&app, office, "desk-1", STAFF_PASSWORD)
            .await
            .status(),
        201
    );
    // The waits grow: 30 s, then 60 s after the next failure, then 120 s.
    app.clock.advance(Duration::seconds(31));
    assert_eq!(
        sign_in_from(&app, stranger, "desk-1", "wrong-password-1")
            .await
            .status(),
        401
    );
    let res = sign_in_from(&app, stranger, "desk-1", "wrong-password-1").await;
    assert_eq!(res.headers()["retry-after"], "60");
    app.clock.advance(Duration::seconds(61));
    assert_eq!(
        sign_in_from(&app, stranger, "desk-1", "wrong-password-1")
            .await
            .status(),
        401
    );
    let res = sign_in_from(&app, stranger, "desk-1", STAFF_PASSWORD).await;
    assert_eq!(res.headers()["retry-after"], "120");
    // An unknown login answers like a wrong password.
    let p = problem(
        sign_in_from(&app, office, "nobody", STAFF_PASSWORD).await,
        401,
    )
    .await;
    assert_eq!(p["code"], "invalid_credentials");
    // Guessing across many names from one address is slowed per address (20 free).
    let scanner = "192.0.2.77";
    for i in 0..20 {
        let res = sign_in_from(&app, scanner, &format!("guess{i}"), "x-wrong-password").await;
        assert_eq!(res.status(), 401, "guess {i}");
    }
    let res = sign_in_from(&app, scanner, "chief", STAFF_PASSWORD).await;
    assert_eq!(problem(res, 429).await["code"], "rate_limited");
    // After the window, the right password works from anywhere again.
    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        sign_in_from(&app, stranger, "desk-1", STAFF_PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(
        sign_in_from(&app, scanner, "chief", STAFF_PASSWORD)
            .await
            .status(),
        201
    );
    // Failures, lockouts and successes are audited, with no password or token anywhere.
    let entries = app.audit(&admin).await;
    let count = |action: &str| entries.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("staff.login_failed"), 5 + 1 + 1 + 1 + 20);
    assert!(
        count("staff.login_lockout") >= 4,
        "{}",
        count("staff.login_lockout")
    );
    assert!(count("staff.login") >= 4);
    let all = serde_json::to_string(&entries).unwrap();
    assert!(!all.contains("wrong-password-1") && !all.contains(STAFF_PASSWORD));
    assert!(
        !all.contains(&admin) && !all.contains(&desk),
        "no tokens in the audit log"
    );
    assert!(!all.contains(stranger), "addresses are kept only as hashes");
}

#[tokio::test]
async fn a_session_expires_and_a_disabled_account_is_shut_out() {
    let app = spawn_app().await;
    let token = app.staff_token("night", "phone").await;
    let check = |t: String| {
        let app = &app;
        async move {
            app.as_staff(Method::GET, "/api/v1/staff/reservations", Some(&t), None)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(check(token.clone()).await, 200);
    app.clock.advance(Duration::hours(12));
    assert_eq!(check(token).await, 401);

    let token = app.login("night", STAFF_PASSWORD).await;
    let (db, now) = (app.state.db.clone(), app.clock.now());
    db.write(move |conn| madoguchi::disable_staff(conn, "night", "test", now))
        .await
        .unwrap();
    assert_eq!(check(token).await, 401);
    let p = problem(
        app.post_json(
            "/api/v1/staff/sessions",
            &json!({"login": "night", "password": STAFF_PASSWORD}),
        )
        .await,
        401,
    )
    .await;
    assert_eq!(p["code"], "invalid_credentials");
}

#[tokio::test]
async fn a_phone_booking_keeps_the_window_to_the_second_like_the_web() {
    let app = spawn_app_at(jst("2026-12-01T11:59:59+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let body = phone_booking_body("city-hall.2027-02-15.0900", 1);
    assert_eq!(
        problem(app.post_staff_reservation(&phone, &body).await, 409).await["code"],
        "window_not_open"
    );
    app.clock.advance(Duration::seconds(1));
    let res = app.post_staff_reservation(&phone, &body).await;
    assert_eq!(res.status(), 201);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["channel"], "phone");
    assert_eq!(
        r["manage_token"],
        Value::Null,
        "staff never see the resident's secret"
    );

    app.clock.set(jst("2027-02-12T07:00:00+09:00"));
    let phone = app.login("operator", STAFF_PASSWORD).await; // a new shift, a new session
    let body = phone_booking_body("city-hall.2027-02-15.1000", 2);
    assert_eq!(
        problem(app.post_staff_reservation(&phone, &body).await, 409).await["code"],
        "window_closed"
    );
    app.clock.set(jst("2027-02-12T06:59:59+09:00"));
    assert_eq!(
        app.post_staff_reservation(&phone, &body).await.status(),
        201
    );
    // Same rules: the same caller cannot hold two for one procedure; the slot fills up.
    assert_eq!(
        problem(
            app.post_staff_reservation(&phone, &phone_booking_body("city-hall.2027-02-16.1000", 2))
                .await,
            409
        )
        .await["code"],
        "active_reservation_exists"
    );
    let mut bad = phone_booking_body("city-hall.2027-02-16.1000", 3);
    bad["notes"] = json!("個人番号 123456789018");
    assert_eq!(
        problem(app.post_staff_reservation(&phone, &bad).await, 422).await["code"],
        "contains_individual_number"
    );
    // No address, no mail.
    assert_eq!(app.drain_outbox().await.claimed, 0);
}

#[tokio::test]
async fn a_phone_booking_with_an_address_mails_the_resident() {
    let app = spawn_app().await;
    let phone = app.staff_token("operator", "phone").await;
    let mut body = phone_booking_body("city-hall.2027-01-12.1100", 1);
    body["email"] = json!("caller@example.jp");
    body["applicant_type"] = json!("legal_representative");
    body["representative_name"] = json!("電話 花子");
    assert_eq!(
        app.post_staff_reservation(&phone, &body).await.status(),
        201
    );
    app.drain_outbox().await;
    let mail = app.smtp.only_message_to("caller@example.jp", "予約完了");
    assert!(mail.text.contains("法定代理人"));
    assert!(
        mail.text.contains("/booking/manage?token="),
        "the resident can manage it"
    );
}

#[tokio::test]
async fn only_an_admin_overrides_the_window_and_the_reason_is_audited() {
    let app = spawn_app_at(jst("2026-11-30T09:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let admin = app.staff_token("chief", "admin").await;
    let mut body = phone_booking_body("city-hall.2027-02-15.0900", 1);
    body["override_window"] = json!(true);
    body["override_reason"] = json!("入院中のため特例で受付(課長承認)");
    assert_eq!(
        problem(app.post_staff_reservation(&phone, &body).await, 403).await["code"],
        "forbidden"
    );
    let mut no_reason = body.clone();
    no_reason["override_reason"] = json!("  ");
    let p = problem(app.post_staff_reservation(&admin, &no_reason).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "override_reason");
    let res = app.post_staff_reservation(&admin, &body).await;
    assert_eq!(res.status(), 201);
    let number = res.json::<Value>().await.unwrap()["reservation_number"]
        .as_str()
        .unwrap()
        .to_string();
    let entries = app.audit(&admin).await;
    let e = entries
        .iter()
        .find(|e| e["action"] == "reservation.book_override")
        .expect("audited");
    assert_eq!(e["staff"], "chief");
    assert_eq!(e["target"], number.as_str());
    assert_eq!(
        e["detail"]["override_reason"],
        "入院中のため特例で受付(課長承認)"
    );
    // An override lifts the window, not time: a slot that has started cannot be booked.
    let mut past = phone_booking_body("city-hall.2026-11-30.0830", 3);
    past["slot_id"] = json!("city-hall.2026-11-30.0900");
    past["override_window"] = json!(true);
    past["override_reason"] = json!("遅れて来庁");
    app.clock.set(jst("2026-11-30T09:00:00+09:00"));
    let p = problem(app.post_staff_reservation(&admin, &past).await, 409).await;
    assert_eq!(p["code"], "window_closed");
    // In words that say the slot started, not that the window closed.
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .contains("started at 2026-11-30T09:00:00+09:00"),
        "{p}"
    );
    // Without the override the window still holds, for admins too.
    let plain = phone_booking_body("city-hall.2027-02-16.0900", 2);
    assert_eq!(
        problem(app.post_staff_reservation(&admin, &plain).await, 409).await["code"],
        "window_not_open"
    );
}

#[tokio::test]
async fn staff_find_reservations_by_name_kana_phone_and_number() {
    let app = spawn_app().await;
    let phone = app.staff_token("operator", "phone").await;
    let mut body = phone_booking_body("city-hall.2027-01-13.1000", 1);
    body["name"] = json!("佐藤 花子");
    body["name_kana"] = json!("サトウ ハナコ");
    body["phone"] = json!("090-5555-0101");
    let made: Value = app
        .post_staff_reservation(&phone, &body)
        .await
        .json()
        .await
        .unwrap();
    app.post_staff_reservation(&phone, &phone_booking_body("city-hall.2027-01-13.1030", 2))
        .await;
    let number = made["reservation_number"].as_str().unwrap();

    let find = |q: String| {
        let (app, phone) = (&app, phone.clone());
        async move {
            let res = app
                .as_staff(
                    Method::GET,
                    &format!("/api/v1/staff/reservations?{q}"),
                    Some(&phone),
                    None,
                )
                .await;
            assert_eq!(res.status(), 200, "{q}");
            let body: Value = res.json().await.unwrap();
            body["reservations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["reservation_number"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let enc = |s: &str| s.replace(' ', "%20");
    assert_eq!(find(format!("q={}", enc("佐藤"))).await, [number]);
    assert_eq!(
        find(format!("q={}", enc("さとう"))).await,
        [number],
        "hiragana finds katakana"
    );
    assert_eq!(
        find(format!("q={}", enc("サトウハナコ"))).await,
        [number],
        "spaces do not matter"
    );
    assert_eq!(find("q=5555".into()).await, [number]);
    assert_eq!(find(format!("q={}", number.to_lowercase())).await, [number]);
    assert_eq!(
        find("date=2027-01-13&counter=city-hall".into()).await.len(),
        2
    );
    assert!(find("date=2027-01-14".into()).await.is_empty());
    assert!(
        find("q=%25".into()).await.is_empty(),
        "LIKE wildcards are literal"
    );
    let res = app
        .as_staff(
            Method::GET,
            &format!("/api/v1/staff/reservations/{}", number.replace('-', "")),
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/staff/reservations/ZZZZ-ZZZZ",
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(problem(res, 404).await["code"], "reservation_not_found");
}

#[tokio::test]
async fn a_staff_cancel_mails_the_resident_its_message_and_never_its_reason() {
    let app = spawn_app_with(jst("2027-01-04T09:00:00+09:00"), |_| {}).await;
    let phone = app.staff_token("operator", "phone").await;
    let r = app.book_as(8, "city-hall.2027-01-14.0930").await;
    let number = r["reservation_number"].as_str().unwrap();
    let res = app
        .as_staff(
            Method::POST,
            &format!("/api/v1/staff/reservations/{number}/cancel"),
            Some(&phone),
            Some(&json!({
                "reason": "本人確認で不審な点あり(内部メモ)",
                "message": "ご本人様からのお電話により取り消しました。"
            })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["cancel_reason"], "本人確認で不審な点あり(内部メモ)");
    assert_eq!(
        body["cancel_message"],
        "ご本人様からのお電話により取り消しました。"
    );
    app.drain_outbox().await;
    let mail = app
        .smtp
        .only_message_to("resident8@example.jp", "予約キャンセル");
    assert!(
        mail.text
            .contains("ご本人様からのお電話により取り消しました。"),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains("内部メモ"), "{}", mail.text);
}

#[tokio::test]
async fn a_staff_cancel_needs_a_reason_mails_the_resident_once_and_is_audited() {
    let app = spawn_app().await;
    let phone = app.staff_token("operator", "phone").await;
    let admin = app.staff_token("chief", "admin").await;
    let r = app.book_as(7, "city-hall.2027-01-14.0900").await;
    let number = r["reservation_number"].as_str().unwrap();
    let path = format!("/api/v1/staff/reservations/{number}/cancel");
    let p = problem(
        app.as_staff(Method::POST, &path, Some(&phone), Some(&json!({})))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "reason");
    for _ in 0..2 {
        let res = app
            .as_staff(
                Method::POST,
                &path,
                Some(&phone),
                Some(&json!({ "reason": "電話で取消の依頼" })),
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "cancelled");
        assert_eq!(body["cancel_reason"], "電話で取消の依頼");
    }
    assert_eq!(app.slot("city-hall.2027-01-14.0900").await["remaining"], 3);
    app.drain_outbox().await;
    // The reason is staff's: the resident's mail does not say it.
    let mail = app
        .smtp
        .only_message_to("resident7@example.jp", "予約キャンセル");
    assert!(!mail.text.contains("電話で取消の依頼"), "{}", mail.text);
    assert!(
        mail.text.contains("窓口で次のご予約をキャンセルしました"),
        "{}",
        mail.text
    );
    let entries = app.audit(&admin).await;
    let cancels: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "reservation.cancel")
        .collect();
    assert_eq!(cancels.len(), 1, "the second cancel changed nothing");
    assert_eq!(cancels[0]["staff"], "operator");
    assert_eq!(cancels[0]["detail"]["reason"], "電話で取消の依頼");
}
