//! Hostile input, round two: what a second probe found, each checked through HTTP on both
//! databases. The individual-number guard against what a Japanese input method types; a
//! failed sign-in's typing kept out of the logs; a forged `X-Forwarded-For`; addresses
//! compared as one mailbox; a refused booking that tells nothing of anyone's reservation;
//! `/metrics`, security headers, a failed mail's link, the screens' streams.

use crate::helpers::{booking_body, jst, problem, spawn_app, spawn_app_with, STAFF_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// 3141 5926 5352: a made-up number whose check digit (2) is valid.
const KANA_MODE: &str = "マイナンバーは 3141ー5926ー5352 です";
const KANJI: &str = "三一四一五九二六五三五二";
const FULL_WIDTH_KANA_DASH: &str = "３１４１ー５９２６ー５３５２";
const HALF_WIDTH_DASH: &str = "3141ｰ5926ｰ5352";
const ONE_AS_DASH: &str = "3141一5926一5352";

#[tokio::test]
async fn what_a_kana_mode_input_method_types_is_refused_in_every_field() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.limits.verify_per_ip = 100;
    })
    .await;
    for (i, (field, value)) in [
        ("notes", KANA_MODE),
        ("representative_name", KANJI),
        ("notes", FULL_WIDTH_KANA_DASH),
        ("notes", HALF_WIDTH_DASH),
        ("notes", ONE_AS_DASH),
    ]
    .into_iter()
    .enumerate()
    {
        let token = app.verified_token(&format!("guard{i}@example.jp")).await;
        let mut body = booking_body(&token, "city-hall.2027-01-06.0900", 1);
        body["applicant_type"] = json!("legal_representative");
        body["representative_name"] = json!("代理 花子");
        body[field] = json!(value);
        let p = problem(app.book(&body).await, 422).await;
        assert_eq!(p["code"], "contains_individual_number", "{field}: {value}");
        assert_eq!(p["errors"][0]["field"], field);
    }
    assert_eq!(app.slot("city-hall.2027-01-06.0900").await["remaining"], 3);
    // Staff fields: a cancel reason, a closure reason, a display name, a desk name.
    let admin = app.staff_token("chief", "admin").await;
    let booked = app.book_as(2, "city-hall.2027-01-07.0900").await;
    let number = booked["reservation_number"].as_str().unwrap();
    let refused = [
        (
            format!("/api/v1/staff/reservations/{number}/cancel"),
            json!({ "reason": KANA_MODE }),
        ),
        (
            "/api/v1/admin/counters/city-hall/closures".to_string(),
            json!({ "date": "2027-01-20", "reason": FULL_WIDTH_KANA_DASH }),
        ),
        (
            "/api/v1/admin/staff".to_string(),
            json!({ "login": "new-one", "password": "a-long-password-here",
                    "role": "desk", "display_name": KANJI }),
        ),
    ];
    for (path, body) in refused {
        let res = app
            .as_staff(Method::POST, &path, Some(&admin), Some(&body))
            .await;
        assert_eq!(
            problem(res, 422).await["code"],
            "contains_individual_number",
            "{path}"
        );
    }
    // A desk name is a short label: twelve kanji numerals are refused, as a number or as too long.
    let desk = app.staff_token("desk-1", "desk").await;
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/desk/city-hall/calls",
            Some(&desk),
            Some(&json!({ "desk": KANJI })),
        )
        .await;
    let p = problem(res, 422).await;
    assert!(
        ["too_long", "individual_number"].contains(&p["errors"][0]["code"].as_str().unwrap_or("")),
        "{p}"
    );
}

#[tokio::test]
async fn a_failed_sign_in_keeps_no_stranger_s_typing() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    let typed = [
        "123456789018".to_string(),
        "x".repeat(60_000),
        "evil\nINFO forged log line".to_string(),
        "admin\u{202E}nimda".to_string(),
    ];
    for login in &typed {
        let res = app
            .client
            .post(app.url("/api/v1/staff/sessions"))
            .json(&json!({ "login": login, "password": "wrong-password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let entries = app.audit(&admin).await;
    let failed: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "staff.login_failed")
        .collect();
    assert_eq!(failed.len(), typed.len());
    for e in failed {
        let target = e["target"].as_str().unwrap();
        assert!(target.starts_with("(not a login: "), "{target}");
        assert!(target.len() < 40, "{target}");
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    // No trusted proxies: every request is from its peer (loopback), whatever it says.
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.limits.verify_per_ip = 3;
        s.limits.verify_per_address = 100;
    })
    .await;
    for i in 0..3 {
        let res = app
            .client
            .post(app.url("/api/v1/verifications"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&json!({ "email": format!("rotate{i}@example.jp") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let res = app
        .client
        .post(app.url("/api/v1/verifications"))
        .header("x-forwarded-for", "198.51.100.77")
        .json(&json!({ "email": "rotate9@example.jp" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 429).await["code"],
        "rate_limited",
        "a rotated header does not make a new client"
    );
}

#[tokio::test]
async fn sub_addresses_count_as_their_mailbox_for_every_limit() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.limits.verify_per_address = 2;
        s.booking.max_active_per_email = 1;
    })
    .await;
    for email in ["bob@example.jp", "Bob+1@Example.jp"] {
        assert_eq!(app.post_verification(email).await.status(), 202);
    }
    let third = app.post_verification("bob+2@example.jp").await;
    assert_eq!(problem(third, 429).await["code"], "rate_limited");
    // One active booking for the mailbox, whatever the tag.
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.booking.max_active_per_email = 1;
    })
    .await;
    let first = app.verified_token("carol+a@example.jp").await;
    let res = app
        .book(&booking_body(&first, "city-hall.2027-01-06.0900", 1))
        .await;
    assert_eq!(res.status(), 201);
    let second = app.verified_token("CAROL+b@example.jp").await;
    let p = problem(
        app.book(&booking_body(&second, "city-hall.2027-01-07.0900", 2))
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "active_reservation_exists");
}

/// A slot of city hall with one seat (a day of one-seat slots).
fn one_seat(s: &mut madoguchi::config::Settings) {
    s.counters[0].capacity_per_slot = 1;
}

#[tokio::test]
async fn a_full_slot_says_slot_full_to_everyone_and_tells_nothing_of_a_reservation() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), one_seat).await;
    // The victim holds a booking for pin-reset on 7 January.
    app.book_as(1, "city-hall.2027-01-07.0900").await;
    // Someone fills 6 January 09:00.
    app.book_as(2, "city-hall.2027-01-06.0900").await;
    // A prober with their own link and the victim's kana and phone asks for the full slot:
    // the same answer as anyone.
    let link = app.verified_token("prober@example.jp").await;
    let victim = booking_body(&link, "city-hall.2027-01-06.0900", 1);
    let stranger = booking_body(&link, "city-hall.2027-01-06.0900", 3);
    let a = problem(app.book(&victim).await, 409).await;
    let b = problem(app.book(&stranger).await, 409).await;
    assert_eq!(
        (a["code"].as_str(), b["code"].as_str()),
        (Some("slot_full"), Some("slot_full"))
    );
}

#[tokio::test]
async fn probing_who_holds_a_reservation_uses_the_link_up() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.limits.refusals_per_link = 3;
    })
    .await;
    app.book_as(1, "city-hall.2027-01-07.0900").await;
    let link = app.verified_token("prober@example.jp").await;
    // The victim's kana and phone on free slots: refused, and counted on the link.
    for slot in ["0930", "1000", "1030"] {
        let body = booking_body(&link, &format!("city-hall.2027-01-08.{slot}"), 1);
        let p = problem(app.book(&body).await, 409).await;
        assert_eq!(p["code"], "active_reservation_exists");
    }
    // The link is used up: even an honest booking on it is refused now.
    let honest = booking_body(&link, "city-hall.2027-01-08.1100", 4);
    assert_eq!(
        problem(app.book(&honest).await, 410).await["code"],
        "verification_used"
    );
    assert_eq!(
        problem(app.get(&format!("/api/v1/verifications/{link}")).await, 410).await["code"],
        "verification_used"
    );
}

#[tokio::test]
async fn a_login_is_throttled_everywhere_only_by_failures_from_many_addresses() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.staff.login_lockout_addresses = 4;
    })
    .await;
    app.staff_token("desk-1", "desk").await;
    let sign_in = |from: String, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/staff/sessions"))
                .header("x-forwarded-for", from)
                .json(&json!({ "login": "desk-1", "password": password }))
                .send()
                .await
                .unwrap()
        }
    };
    // Three addresses fail: the owner still signs in from the office.
    for i in 0..3 {
        let res = sign_in(format!("203.0.113.{i}"), "wrong-password").await;
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        sign_in("198.51.100.20".into(), STAFF_PASSWORD)
            .await
            .status(),
        201
    );
    // A fourth address: now the login waits, from everywhere.
    assert_eq!(
        sign_in("203.0.113.3".into(), "wrong-password")
            .await
            .status(),
        401
    );
    let res = sign_in("198.51.100.20".into(), STAFF_PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(problem(res, 429).await["code"], "rate_limited");
}

#[tokio::test]
async fn metrics_answer_only_a_configured_token_or_network() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.metrics.allowed_networks = vec!["10.0.0.0/8".into()];
        s.metrics.bearer_token = "scrape-token-for-tests".into();
    })
    .await;
    // The tests connect from loopback, which is not listed here.
    assert_eq!(app.get("/metrics").await.status(), 404);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("madoguchi_http_requests"));
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/docs/",
        "/api/openapi.json",
        "/api/v1/counters",
        "/api/v1/reservations/no-such-token-at-all-here",
        "/healthz",
        "/",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(
            h.contains_key("x-frame-options")
                || h["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("frame-ancestors"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_mail_given_up_keeps_no_link() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.mail.max_attempts = 1;
        // Nothing listens on port 9: every attempt fails.
        s.mail.smtp_port = 9;
    })
    .await;
    let admin = app.staff_token("chief", "admin").await;
    assert_eq!(app.post_verification("lost@example.jp").await.status(), 202);
    app.drain_outbox().await;
    let outbox: Value = app
        .as_staff(
            Method::GET,
            "/api/v1/admin/outbox?status=failed",
            Some(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let mails = outbox["mails"].as_array().unwrap();
    assert_eq!(mails.len(), 1, "{outbox}");
    assert!(!outbox.to_string().contains("token="), "{outbox}");
    let stored: Vec<String> = {
        use diesel::prelude::*;
        let db = app.state.db.clone();
        db.run(|conn| {
            diesel::sql_query("SELECT payload FROM outbox")
                .load::<Payload>(conn)
                .map(|rows| rows.into_iter().map(|r| r.payload).collect())
        })
        .await
        .unwrap()
    };
    assert_eq!(stored, vec!["{}".to_string()]);
}

#[derive(diesel::QueryableByName)]
struct Payload {
    #[diesel(sql_type = diesel::sql_types::Text)]
    payload: String,
}

#[tokio::test]
async fn one_client_address_holds_a_few_screen_streams_at_most() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.queue.display_streams_per_address = 2;
        // A closed stream is noticed when the server next writes to it: a keep-alive a second.
        s.queue.display_keepalive_seconds = 1;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let res = app.get("/api/v1/desk/city-hall/display").await;
        assert_eq!(res.status(), 200);
        open.push(res);
    }
    let third = app.get("/api/v1/desk/city-hall/display").await;
    assert_eq!(problem(third, 429).await["code"], "rate_limited");
    drop(open);
    // Closed streams free their places (the server notices when it next writes).
    let mut reopened = false;
    for _ in 0..100 {
        let res = app.get("/api/v1/desk/city-hall/display").await;
        if res.status() == 200 {
            reopened = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(reopened, "a closed stream's place is freed");
}
