//! Resident booking by email verification, through the HTTP API and a real SMTP server.

use crate::helpers::{booking_body, jst, problem, spawn_app, spawn_app_at, spawn_app_with};
use chrono::Duration;
use serde_json::{json, Value};

const SLOT: &str = "city-hall.2027-01-04.0900";

#[tokio::test]
async fn the_whole_flow_followed_from_the_links_in_the_mail() {
    let app = spawn_app().await;
    let email = "hanako@example.jp";

    // 1. Ask for a verification link; it comes by mail.
    let res = app
        .post_json(
            "/api/v1/verifications",
            &json!({ "email": email, "counter": "city-hall", "slot_id": SLOT,
                "procedure": "pin-reset", "applicant_type": "voluntary_proxy" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expires_at"], "2026-11-24T10:30:00+09:00");
    assert_eq!(app.smtp.messages().len(), 0, "no request waits on SMTP");
    assert_eq!(app.drain_outbox().await.sent, 1);
    let mail = app.smtp.only_message_to(email, "メールアドレスの確認");
    assert!(
        mail.text
            .contains("http://127.0.0.1:8080/booking/verify?token="),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("until Tue 24 November 2026, 10:30 (Japan time)"),
        "the English line gives its date in English:\n{}",
        mail.text
    );
    assert_eq!(mail.from, "noreply@madoguchi.example");
    let token = mail.link_token("/booking/verify");
    assert!(token.len() >= 22, "at least 128 bits");

    // 2. The link's page asks the API about the token.
    let res = app.get(&format!("/api/v1/verifications/{token}")).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["email"], email);
    assert_eq!(v["slot_id"], SLOT);
    // What was chosen before the mail, kept with the link (another browser opens it too).
    assert_eq!(v["procedure"], "pin-reset");
    assert_eq!(v["applicant_type"], "voluntary_proxy");

    // 3. Book, as a voluntary proxy.
    let mut body = booking_body(&token, SLOT, 1);
    body["applicant_type"] = json!("voluntary_proxy");
    body["representative_name"] = json!("山田 花子");
    body["name_kana"] = json!("やまだ　たろう");
    body["phone"] = json!("０９０−１２３４−５６７８");
    let res = app.book(&body).await;
    assert_eq!(res.status(), 201);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["status"], "confirmed");
    assert_eq!(r["channel"], "web");
    assert_eq!(r["counter"], "city-hall");
    assert_eq!(r["email"], email);
    assert_eq!(r["name_kana"], "ヤマダ\u{3000}タロウ");
    assert_eq!(r["phone"], "09012345678");
    assert_eq!(r["slot"]["starts_at"], "2027-01-04T09:00:00+09:00");
    assert_eq!(r["visits"], 2);
    assert!(!r["requirements"].as_array().unwrap().is_empty());
    let number = r["reservation_number"].as_str().unwrap().to_string();
    assert!(number.len() <= 12);
    let manage = r["manage_token"].as_str().unwrap().to_string();
    assert_eq!(app.slot(SLOT).await["remaining"], 2);

    // 4. The completion mail (予約完了メール).
    assert_eq!(app.drain_outbox().await.sent, 1);
    let done = app.smtp.only_message_to(email, "予約完了");
    assert!(done.subject.contains(&number));
    for expected in [
        number.as_str(),
        "2027年1月4日(月) 09:00〜09:30",
        "近江八幡市役所 マイナンバー特設窓口",
        "滋賀県近江八幡市",
        "暗証番号の再設定・ロック解除",
        "任意代理人",
        "山田 花子 様",
        "ご来庁は2回必要です",
        "照会書",
        "来庁される方 / Who comes to the counter",
        "Mon 4 January 2027, 09:00–09:30 (Japan time)",
        "変更・キャンセルは 2027年1月4日(月) 09:00(予約の開始時刻)までできます。",
        "until Mon 4 January 2027, 09:00 (the start of the visit)",
    ] {
        assert!(
            done.text.contains(expected),
            "completion mail lacks {expected:?}:\n{}",
            done.text
        );
    }
    assert_eq!(done.link_token("/booking/manage"), manage);
    let (name, ctype, ics) = &done.attachments[0];
    assert_eq!(name, "visit.ics");
    assert_eq!(ctype, "text/calendar; method=REQUEST");
    assert!(
        ics.contains("METHOD:REQUEST") && ics.contains("SEQUENCE:0"),
        "{ics}"
    );
    assert!(ics.contains("DTSTART:20270104T000000Z"), "{ics}");
    assert!(done.message_id.contains("@madoguchi.example"));

    // 5. The manage link shows the reservation.
    let res = app.get(&format!("/api/v1/reservations/{manage}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["reservation_number"],
        number
    );

    // 6. Reschedule: same number, the old seat freed, the new one taken, a change mail.
    let new_slot = "city-hall.2027-01-05.1000";
    let res = app
        .post_json(
            &format!("/api/v1/reservations/{manage}/reschedule"),
            &json!({ "slot_id": new_slot }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let moved: Value = res.json().await.unwrap();
    assert_eq!(moved["reservation_number"], number);
    assert_eq!(moved["slot"]["id"], new_slot);
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
    assert_eq!(app.slot(new_slot).await["remaining"], 2);
    app.drain_outbox().await;
    let changed = app.smtp.only_message_to(email, "予約変更");
    assert!(
        changed.text.contains("2027年1月4日(月) 09:00〜09:30"),
        "the old time"
    );
    assert!(
        changed.text.contains("2027年1月5日(火) 10:00〜10:30"),
        "the new time"
    );

    // 7. Cancel; the seat is free at once; cancelling again is harmless and mails nothing.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/reservations/{manage}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_eq!(app.slot(new_slot).await["remaining"], 3);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/reservations/{manage}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.drain_outbox().await;
    app.smtp.only_message_to(email, "予約キャンセル");
    assert_eq!(
        app.smtp.messages_to(email).len(),
        4,
        "verification, completion, change, cancellation"
    );
}

#[tokio::test]
async fn february_is_refused_at_11_59_59_and_booked_at_noon_on_december_first() {
    let app = spawn_app_at(jst("2026-12-01T11:59:59+09:00")).await;
    let token = app.verified_token("feb@example.jp").await;
    let body = booking_body(&token, "city-hall.2027-02-15.0900", 1);
    let p = problem(app.book(&body).await, 409).await;
    assert_eq!(p["code"], "window_not_open");
    assert_eq!(p["booking_opens_at"], "2026-12-01T12:00:00+09:00");
    // A refused booking does not use the token up.
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.book(&body).await.status(), 201);
}

#[tokio::test]
async fn a_visit_is_refused_at_7_00_00_three_days_before_and_booked_at_6_59_59() {
    let app = spawn_app_at(jst("2027-01-12T06:59:59+09:00")).await;
    let token = app.verified_token("late@example.jp").await;
    let body = booking_body(&token, "city-hall.2027-01-15.1400", 1);
    assert_eq!(app.book(&body).await.status(), 201);

    let app = spawn_app_at(jst("2027-01-12T07:00:00+09:00")).await;
    let token = app.verified_token("late@example.jp").await;
    let body = booking_body(&token, "city-hall.2027-01-15.1400", 1);
    let p = problem(app.book(&body).await, 409).await;
    assert_eq!(p["code"], "window_closed");
}

#[tokio::test]
async fn a_token_works_once_and_not_after_it_expires() {
    let app = spawn_app().await;
    let token = app.verified_token("once@example.jp").await;
    assert_eq!(app.book(&booking_body(&token, SLOT, 1)).await.status(), 201);
    let p = problem(
        app.book(&booking_body(&token, "city-hall.2027-01-04.0930", 2))
            .await,
        410,
    )
    .await;
    assert_eq!(p["code"], "verification_used");
    assert_eq!(
        problem(
            app.get(&format!("/api/v1/verifications/{token}")).await,
            410
        )
        .await["code"],
        "verification_used"
    );

    let stale = app.verified_token("stale@example.jp").await;
    app.clock
        .advance(Duration::minutes(30) + Duration::seconds(1));
    assert_eq!(
        problem(app.book(&booking_body(&stale, SLOT, 3)).await, 410).await["code"],
        "verification_expired"
    );
    assert_eq!(
        problem(
            app.get(&format!("/api/v1/verifications/{stale}")).await,
            410
        )
        .await["code"],
        "verification_expired"
    );

    let unknown = "A".repeat(43);
    assert_eq!(
        problem(app.book(&booking_body(&unknown, SLOT, 4)).await, 404).await["code"],
        "verification_not_found"
    );
    assert_eq!(
        problem(app.get("/api/v1/verifications/x").await, 404).await["code"],
        "verification_not_found"
    );
}

#[tokio::test]
async fn verification_requests_are_rate_limited_per_address_and_per_ip() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.limits.verify_per_ip = 6
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.post_verification("same@example.jp").await.status(), 202);
    }
    let res = app.post_verification("same@example.jp").await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let p = problem(res, 429).await;
    assert_eq!(p["code"], "rate_limited");
    // A wait of minutes is said in minutes (not "600 seconds"; in Japanese 約10分後).
    assert_eq!(
        p["detail"],
        format!(
            "Too many requests; try again in about {} minutes.",
            retry.div_ceil(60)
        ),
        "{p}"
    );
    // The same answer shape for any address: nothing tells whether it has booked.
    for i in 0..3 {
        assert_eq!(
            app.post_verification(&format!("other{i}@example.jp"))
                .await
                .status(),
            202
        );
    }
    assert_eq!(
        problem(app.post_verification("seventh@example.jp").await, 429).await["code"],
        "rate_limited"
    );
    // Ten minutes later the window has moved on.
    app.clock
        .advance(Duration::minutes(10) + Duration::seconds(1));
    assert_eq!(app.post_verification("same@example.jp").await.status(), 202);
    // Only the accepted requests produced mail: 3 + 3 + 1.
    assert_eq!(app.drain_outbox().await.sent, 7);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let app = spawn_app().await;
    let p = problem(app.post_verification("not-an-address").await, 422).await;
    assert_eq!(p["code"], "invalid_email");
    let p = problem(app.post_verification("123456789018@example.jp").await, 422).await;
    assert_eq!(
        p["code"], "contains_individual_number",
        "never stored, not even in a verification"
    );
    assert_eq!(p["errors"][0]["field"], "email");
    // What was chosen with it: an applicant type must be one of the three.
    let res = app
        .post_json(
            "/api/v1/verifications",
            &json!({"email": "careful@example.jp", "applicant_type": "neighbour"}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "applicant_type", "{p}");
    assert_eq!(app.drain_outbox().await.sent, 0, "nothing was mailed");

    let token = app.verified_token("careful@example.jp").await;
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({"name_kana": "山田太郎"}),
            422,
            "validation_failed",
            Some("name_kana"),
        ),
        (
            json!({"phone": "12345"}),
            422,
            "validation_failed",
            Some("phone"),
        ),
        (json!({"name": ""}), 422, "validation_failed", Some("name")),
        (
            json!({"applicant_type": "friend"}),
            422,
            "validation_failed",
            Some("applicant_type"),
        ),
        (
            json!({"applicant_type": "legal_representative"}),
            422,
            "validation_failed",
            Some("representative_name"),
        ),
        (
            json!({"notes": "マイナンバーは 1234 5678 9018 です"}),
            422,
            "contains_individual_number",
            Some("notes"),
        ),
        (
            json!({"name": "123456789018"}),
            422,
            "contains_individual_number",
            Some("name"),
        ),
        (
            json!({"procedure": "passport"}),
            404,
            "procedure_not_found",
            None,
        ),
        (
            json!({"slot_id": "city-hall.2027-01-04.0915"}),
            404,
            "slot_not_found",
            None,
        ),
        (
            json!({"slot_id": "osaka.2027-01-04.0900"}),
            404,
            "slot_not_found",
            None,
        ),
        (json!({"slot_id": "nonsense"}), 404, "slot_not_found", None),
        (
            json!({"slot_id": "city-hall.2027-01-09.0900"}),
            409,
            "day_closed",
            None,
        ),
        (
            json!({"slot_id": "city-hall.2026-12-30.0900"}),
            409,
            "day_closed",
            None,
        ),
    ];
    for (patch, status, code, field) in cases {
        let mut body = booking_body(&token, SLOT, 1);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let p = problem(app.book(&body).await, status).await;
        assert_eq!(p["code"], code, "{patch}");
        if let Some(f) = field {
            assert!(
                p["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == f),
                "{patch}: {p}"
            );
        }
    }
    // Nothing was booked, and the token is still good.
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
    assert_eq!(app.book(&booking_body(&token, SLOT, 1)).await.status(), 201);
}

#[tokio::test]
async fn malformed_bodies_are_problems_too() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["code"], "bad_request");
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 415).await["code"], "unsupported_media_type");
    let big = json!({ "email": "a@example.jp", "pad": "x".repeat(100_000) });
    let res = app.post_json("/api/v1/verifications", &big).await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");
    let res = app
        .client
        .post(app.url("/api/v1/verifications"))
        .header("content-type", "application/json")
        .body(r#"{"email": 5}"#)
        .send()
        .await
        .unwrap();
    // Well-formed JSON of the wrong shape: 422 naming the field, in JSON's words.
    let p = problem(res, 422).await;
    assert_eq!(p["code"], "validation_failed");
    assert_eq!(p["errors"][0]["field"], "email");
    assert_eq!(p["errors"][0]["message"], "must be a string");
    for body in ["null", "[]", "\"text\"", "7"] {
        let res = app
            .client
            .post(app.url("/api/v1/reservations"))
            .header("content-type", "application/json")
            .header("accept-language", "ja")
            .body(body)
            .send()
            .await
            .unwrap();
        let p = problem(res, 422).await;
        assert_eq!(p["code"], "validation_failed", "{body}");
        assert_eq!(p["errors"][0]["field"], "body", "{body}");
        assert_eq!(
            p["errors"][0]["message"], "JSONオブジェクトで指定してください",
            "{body}"
        );
        assert!(!p.to_string().contains("Body"), "no Rust type name: {p}");
    }
}

#[tokio::test]
async fn one_person_one_active_booking_per_procedure_and_three_per_address() {
    let app = spawn_app().await;
    let token = app.verified_token("parent@example.jp").await;
    assert_eq!(app.book(&booking_body(&token, SLOT, 1)).await.status(), 201);
    // The same person again (kana written differently, phone with hyphens): refused.
    let token = app.verified_token("parent@example.jp").await;
    let mut again = booking_body(&token, "city-hall.2027-01-06.0900", 1);
    again["name_kana"] = json!(format!("ﾔﾏﾀﾞ ﾀﾛｳ{}", "ｲ"));
    again["phone"] = json!("090-0000-0001");
    assert_eq!(
        problem(app.book(&again).await, 409).await["code"],
        "active_reservation_exists"
    );
    // Another procedure for the same person is fine.
    again["procedure"] = json!("cert-renewal");
    assert_eq!(app.book(&again).await.status(), 201);
    // Two more children on the same address make three; a fourth is refused. (Later: the
    // address may ask for three links per ten minutes.)
    let token = app.verified_token("parent@example.jp").await;
    assert_eq!(
        app.book(&booking_body(&token, "city-hall.2027-01-07.0900", 2))
            .await
            .status(),
        201
    );
    app.clock.advance(Duration::minutes(11));
    let token = app.verified_token("parent@example.jp").await;
    let p = problem(
        app.book(&booking_body(&token, "city-hall.2027-01-08.0900", 3))
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "active_reservation_exists");
}

#[tokio::test]
async fn a_full_slot_offers_the_nearest_bookable_alternatives() {
    let app = spawn_app().await;
    let slot = "azuchi.2027-01-04.1000";
    app.book_as(1, slot).await;
    let token = app.verified_token("second@example.jp").await;
    let p = problem(app.book(&booking_body(&token, slot, 2)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    let alts = p["alternatives"].as_array().unwrap();
    assert_eq!(alts.len(), 5);
    let ids: Vec<&str> = alts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&slot));
    assert_eq!(
        &ids[..2],
        ["azuchi.2027-01-04.0930", "azuchi.2027-01-04.1030"]
    );
    assert!(alts
        .iter()
        .all(|a| a["bookable"] == true && a["remaining"] == 1));
}

#[tokio::test]
async fn a_reschedule_to_a_full_slot_keeps_the_old_seat() {
    let app = spawn_app().await;
    let full = "azuchi.2027-01-05.0900";
    app.book_as(1, full).await;
    let mine = app.book_as(2, "azuchi.2027-01-05.0930").await;
    let manage = mine["manage_token"].as_str().unwrap();
    let res = app
        .post_json(
            &format!("/api/v1/reservations/{manage}/reschedule"),
            &json!({ "slot_id": full }),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["code"], "slot_full");
    assert!(!p["alternatives"].as_array().unwrap().is_empty());
    assert_eq!(
        app.slot("azuchi.2027-01-05.0930").await["remaining"],
        0,
        "still mine"
    );
    let r: Value = app
        .get(&format!("/api/v1/reservations/{manage}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["slot"]["id"], "azuchi.2027-01-05.0930");
    // Outside the window is refused as for a booking.
    let res = app
        .post_json(
            &format!("/api/v1/reservations/{manage}/reschedule"),
            &json!({ "slot_id": "azuchi.2027-03-01.0900" }),
        )
        .await;
    assert_eq!(problem(res, 409).await["code"], "window_not_open");
}

#[tokio::test]
async fn cancelling_is_refused_once_the_slot_has_started() {
    let app = spawn_app().await;
    let r = app.book_as(1, SLOT).await;
    let manage = r["manage_token"].as_str().unwrap();
    app.clock.set(jst("2027-01-04T09:00:00+09:00"));
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/reservations/{manage}")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 409).await["code"], "too_late_to_cancel");
    let res = app
        .get(&format!("/api/v1/reservations/{}", "B".repeat(43)))
        .await;
    assert_eq!(problem(res, 404).await["code"], "reservation_not_found");
}

#[tokio::test]
async fn the_completion_page_qr_code_holds_the_reservation_number_only() {
    let app = spawn_app().await;
    let booked = app.book_as(1, "city-hall.2027-01-18.0900").await;
    let token = booked["manage_token"].as_str().unwrap();
    let res = app
        .get(&format!("/api/v1/reservations/{token}/qr.svg"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let svg = res.text().await.unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("<svg"),
        "{svg:.80}"
    );
    assert!(!svg.contains(token));
    let bad = app
        .get("/api/v1/reservations/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/qr.svg")
        .await;
    assert_eq!(bad.status(), 404);
}

#[tokio::test]
async fn a_link_asked_with_a_procedure_no_longer_offered_still_comes_without_it() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/v1/verifications",
            &json!({"email": "stale-page@example.jp", "procedure": "no-such-thing",
                "applicant_type": "holder"}),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "a stale page's hint does not block the link"
    );
    assert_eq!(app.drain_outbox().await.sent, 1);
    let token = app
        .smtp
        .only_message_to("stale-page@example.jp", "メールアドレスの確認")
        .link_token("/booking/verify");
    let v: Value = app
        .get(&format!("/api/v1/verifications/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["procedure"], Value::Null, "left out");
    assert_eq!(v["applicant_type"], "holder");
    // Left out, but never with an individual number in it: refused like any field.
    let res = app
        .post_json(
            "/api/v1/verifications",
            &json!({"email": "stale-page@example.jp", "procedure": "メモ:1234-5678-9018"}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["code"], "contains_individual_number");
    assert_eq!(p["errors"][0]["field"], "procedure");
    // A slot id is an id, not text: its digits (202701050900) happen to end in the check digit
    // an individual number would have, and it is still taken.
    let res = app
        .post_json(
            "/api/v1/verifications",
            &json!({"email": "slot-digits@example.jp", "counter": "city-hall",
                "slot_id": "city-hall.2027-01-05.0900"}),
        )
        .await;
    assert_eq!(res.status(), 202);
}

/// Runs `sql` on the app's database (statements that return nothing).
async fn exec(app: &crate::helpers::TestApp, sql: &'static str) {
    app.state
        .db
        .run(move |conn| {
            use diesel::connection::SimpleConnection;
            match conn {
                madoguchi::DbConnection::Pg(c) => c.batch_execute(sql),
                madoguchi::DbConnection::Sqlite(c) => c.batch_execute(sql),
            }
        })
        .await
        .expect(sql);
}

/// A count read from the app's database.
async fn count(app: &crate::helpers::TestApp, sql: &'static str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    app.state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).get_result::<N>(conn)
        })
        .await
        .expect(sql)
        .n
}

#[tokio::test]
async fn on_postgresql_a_residents_booking_is_one_call_that_writes_all_of_it() {
    if crate::helpers::backend() != "postgres" {
        return;
    }
    let app = spawn_app().await;
    // Count the calls: the function wrapped by one that counts (the service names it per call)
    // on a sequence, which a refusal's rollback does not take back.
    exec(
        &app,
        "CREATE SEQUENCE one_calls;
         ALTER FUNCTION madoguchi_book(JSONB) RENAME TO madoguchi_book_counted;
         CREATE FUNCTION madoguchi_book(p JSONB) RETURNS JSONB LANGUAGE plpgsql AS $$
         BEGIN PERFORM nextval('one_calls'); RETURN madoguchi_book_counted(p); END $$;",
    )
    .await;
    let calls = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM one_calls";
    let before = app.slot(SLOT).await["remaining"]
        .as_i64()
        .expect("remaining");
    let token = app.verified_token("one@example.jp").await;
    let res = app.book(&booking_body(&token, SLOT, 1)).await;
    assert_eq!(res.status(), 201);
    let booked: Value = res.json().await.expect("json");
    assert_eq!(count(&app, calls).await, 1);
    // Everything the slower path writes: the seat, the reservation with its address, the mail.
    assert_eq!(app.slot(SLOT).await["remaining"], before - 1);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM reservations WHERE email = 'one@example.jp' AND email_key = 'one@example.jp' AND status = 'confirmed'").await,
        1
    );
    let report = app.drain_outbox().await;
    assert_eq!(report.sent, 1);
    let mail = app.smtp.messages_to("one@example.jp");
    let number = booked["reservation_number"].as_str().expect("number");
    assert!(
        mail.iter().any(|m| m.text.contains(number)),
        "the mail names {number}"
    );
    // The same link again: used up there, said so here.
    let p = problem(app.book(&booking_body(&token, SLOT, 2)).await, 410).await;
    assert_eq!(p["code"], "verification_used");
    // A person holding a reservation is refused, and the seat the call took is given back.
    let again = app.verified_token("one-again@example.jp").await;
    let p = problem(app.book(&booking_body(&again, SLOT, 1)).await, 409).await;
    assert_eq!(p["code"], "active_reservation_exists");
    assert_eq!(app.slot(SLOT).await["remaining"], before - 1);
    assert_eq!(count(&app, calls).await, 3);
    // The slot filled, the call says so (from what is committed, without the row's lock): 409
    // with alternatives, and the link not used up.
    for who in 1..before {
        app.book_as(10 + who as usize, SLOT).await;
    }
    let filled = count(&app, calls).await;
    assert_eq!(filled, 3 + before - 1);
    assert_eq!(app.slot(SLOT).await["remaining"], 0);
    let late = app.verified_token("late@example.jp").await;
    let p = problem(app.book(&booking_body(&late, SLOT, 30)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    assert!(!p["alternatives"]
        .as_array()
        .expect("alternatives")
        .is_empty());
    assert_eq!(count(&app, calls).await, filled + 1);
    // The link is still good for a slot with a seat.
    let other = p["alternatives"][0]["id"]
        .as_str()
        .expect("alternative")
        .to_string();
    assert_eq!(
        app.book(&booking_body(&late, &other, 30)).await.status(),
        201
    );
}

#[tokio::test]
async fn postgresqls_lock_ids_are_the_services() {
    if crate::helpers::backend() != "postgres" {
        return;
    }
    use sha2::Digest;
    let app = spawn_app().await;
    let key = "email:一@example.jp";
    let hex: String = sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let expected = i64::from_str_radix(&hex[..15], 16).expect("hex");
    let got = count(&app, "SELECT madoguchi_lock_id('email:一@example.jp') AS n").await;
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_link_from_before_addresses_had_keys_still_books() {
    // Links written before their address key was kept: the booking takes the slower path.
    let app = spawn_app().await;
    let before = app.slot(SLOT).await["remaining"]
        .as_i64()
        .expect("remaining");
    let token = app.verified_token("Old.Link+x@Example.jp").await;
    exec(&app, "UPDATE verifications SET email_key = NULL").await;
    assert_eq!(app.book(&booking_body(&token, SLOT, 1)).await.status(), 201);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM reservations WHERE email_key = 'old.link@example.jp'"
        )
        .await,
        1
    );
    assert_eq!(app.slot(SLOT).await["remaining"], before - 1);
}
