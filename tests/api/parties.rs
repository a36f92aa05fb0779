//! Parties: several people in one booking, on one slot, with one link and one mail.

use crate::helpers::{booking_body, jst, problem, spawn_app_at, spawn_app_with, TestApp};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

const NOON: &str = "2026-12-01T12:00:00+09:00";
/// A February slot of city hall (3 seats by default).
const SLOT: &str = "city-hall.2027-02-10.0900";

/// A member: a child the parent (`booking_body`'s person) brings as legal representative.
fn child(n: usize, procedure: &str) -> Value {
    let kana = ["ハナコ", "ジロウ", "サブロウ", "シロウ", "ゴロウ"][n % 5];
    json!({
        "procedure": procedure, "applicant_type": "legal_representative",
        "name": format!("山田 子{n}"), "name_kana": format!("ヤマダ {kana}"),
        "representative_name": "山田 太郎",
    })
}

/// Books `who` and `members` on `slot` with the link `token`; the 201 answer.
async fn book_party(
    app: &TestApp,
    token: &str,
    slot: &str,
    who: usize,
    members: Vec<Value>,
) -> Value {
    let res = app.book(&party_body(token, slot, who, members)).await;
    let status = res.status();
    let r: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{r}");
    r
}

fn party_body(token: &str, slot: &str, who: usize, members: Vec<Value>) -> Value {
    let mut body = booking_body(token, slot, who);
    body["party"] = Value::Array(members);
    body
}

/// The slot's booked seats as stored (`slots.booked`).
async fn booked(app: &TestApp, slot: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        booked: i32,
    }
    let slot = slot.to_string();
    let row: Row = app
        .state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("SELECT booked FROM slots WHERE id = '{slot}'"))
                .get_result(conn)
        })
        .await
        .expect("slot row");
    i64::from(row.booked)
}

async fn reservations_stored(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Row = app
        .state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT COUNT(*) AS n FROM reservations WHERE status = 'confirmed'")
                .get_result(conn)
        })
        .await
        .expect("count");
    row.n
}

#[tokio::test]
async fn a_parent_books_two_children_with_one_link_on_one_slot_and_gets_one_mail_listing_all() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let res = app
        .book(&party_body(
            &token,
            SLOT,
            1,
            vec![child(1, "pin-reset"), child(2, "cert-renewal")],
        ))
        .await;
    let status = res.status();
    let r: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{r}");
    let party = r["party"].as_array().expect("party");
    assert_eq!(party.len(), 2);
    let numbers: Vec<&str> = party
        .iter()
        .map(|m| m["reservation_number"].as_str().unwrap())
        .collect();
    assert!(numbers.iter().all(|n| *n != r["reservation_number"]));
    assert_ne!(numbers[0], numbers[1]);
    assert_eq!(party[1]["procedure"], "cert-renewal");
    assert_eq!(party[0]["applicant_type"], "legal_representative");
    assert_eq!(party[0]["status"], "confirmed");
    assert!(!party[0]["requirements"].as_array().unwrap().is_empty());
    // Three seats, all of this slot's.
    assert_eq!(app.slot(SLOT).await["remaining"], 0);
    // One mail, to the one address, listing everyone with their numbers; its calendar file too.
    app.drain_outbox().await;
    let mail = app
        .smtp
        .only_message_to("family@example.jp", "【予約完了】");
    for want in [
        r["reservation_number"].as_str().unwrap(),
        numbers[0],
        numbers[1],
        "山田 子1",
        "山田 子2",
        "ご一緒に予約した方 / Also in this booking (2)",
    ] {
        assert!(mail.text.contains(want), "{want} in {}", mail.text);
    }
    assert_eq!(
        app.smtp.messages_to("family@example.jp").len(),
        2,
        "the verification and one completion mail"
    );
    // The manage link shows the party.
    let manage = r["manage_token"].as_str().unwrap();
    let shown: Value = app
        .get(&format!("/api/v1/reservations/{manage}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["party"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_party_of_four_on_a_slot_with_three_seats_is_refused_with_alternatives_that_fit_and_books_nothing(
) {
    let app = spawn_app_with(jst(NOON), |s| s.counters[0].capacity_per_slot = 4).await;
    app.book_as(9, SLOT).await;
    let before = reservations_stored(&app).await;
    let token = app.verified_token("four@example.jp").await;
    let body = party_body(
        &token,
        SLOT,
        1,
        vec![
            child(1, "pin-reset"),
            child(2, "pin-reset"),
            child(3, "pin-reset"),
        ],
    );
    let p = problem(app.book(&body).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    let alternatives = p["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty());
    assert!(
        alternatives
            .iter()
            .all(|a| a["remaining"].as_i64() >= Some(4)),
        "{alternatives:?}"
    );
    assert_eq!(
        reservations_stored(&app).await,
        before,
        "nobody half-booked"
    );
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
    // The link was not used: the party books the first alternative with it.
    let other = alternatives[0]["id"].as_str().unwrap();
    let res = app
        .book(&party_body(
            &token,
            other,
            1,
            body["party"].as_array().unwrap().clone(),
        ))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.slot(other).await["remaining"], 0);
}

#[tokio::test]
async fn a_member_who_already_holds_a_booking_for_their_procedure_fails_the_party_by_name() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    // The child (same kana, the family's phone) already booked pin-reset on their own.
    let token = app.verified_token("kid@example.jp").await;
    let mut alone = booking_body(&token, "city-hall.2027-02-12.1000", 1);
    alone["name"] = json!("山田 子1");
    alone["name_kana"] = json!("ヤマダ ジロウ");
    assert_eq!(app.book(&alone).await.status(), 201);
    let before = reservations_stored(&app).await;
    let token = app.verified_token("family@example.jp").await;
    let p = problem(
        app.book(&party_body(
            &token,
            SLOT,
            1,
            vec![child(1, "pin-reset"), child(2, "pin-reset")],
        ))
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "active_reservation_exists");
    assert_eq!(p["party_member"], "山田 子1");
    assert_eq!(reservations_stored(&app).await, before);
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
    // Another procedure for that child is no conflict.
    let res = app
        .book(&party_body(
            &token,
            SLOT,
            1,
            vec![child(1, "cert-renewal"), child(2, "pin-reset")],
        ))
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_party_is_one_booking_for_the_address_limit_and_at_most_max_party_size() {
    let app = spawn_app_with(jst(NOON), |s| s.limits.verify_per_address = 10).await;
    let token = app.verified_token("family@example.jp").await;
    let members = (1..=4).map(|n| child(n, "pin-reset")).collect::<Vec<_>>();
    let p = problem(app.book(&party_body(&token, SLOT, 1, members)).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "party");
    let p = problem(
        app.book(&party_body(
            &token,
            SLOT,
            1,
            vec![child(1, "pin-reset"), child(1, "cert-renewal")],
        ))
        .await,
        422,
    )
    .await;
    assert_eq!(
        p["errors"][0]["field"], "party[1].name_kana",
        "the same child twice"
    );
    assert_eq!(
        app.book(&party_body(
            &token,
            SLOT,
            1,
            vec![child(1, "pin-reset"), child(2, "pin-reset")]
        ))
        .await
        .status(),
        201
    );
    // booking.max_active_per_email is 3: the party is one of them, two more fit, then no more.
    for (who, slot) in [
        (5, "city-hall.2027-02-16.0900"),
        (6, "city-hall.2027-02-12.0900"),
    ] {
        let t = app.verified_token("family@example.jp").await;
        let res = app.book(&booking_body(&t, slot, who)).await;
        let status = res.status();
        assert_eq!(status, 201, "{}", res.text().await.unwrap());
    }
    let t = app.verified_token("family@example.jp").await;
    let p = problem(
        app.book(&booking_body(&t, "city-hall.2027-02-17.0900", 7))
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "active_reservation_exists");
}

#[tokio::test]
async fn cancelling_one_member_frees_one_seat_and_the_manage_link_cancels_the_rest() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let r = book_party(
        &app,
        &token,
        SLOT,
        1,
        vec![child(1, "pin-reset"), child(2, "pin-reset")],
    )
    .await;
    let manage = r["manage_token"].as_str().unwrap();
    let member = r["party"][0]["reservation_number"].as_str().unwrap();
    let delete = |path: String| {
        let app = &app;
        async move { app.client.delete(app.url(&path)).send().await.unwrap() }
    };
    let res = delete(format!("/api/v1/reservations/{manage}/party/{member}")).await;
    assert_eq!(res.status(), 200);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.slot(SLOT).await["remaining"], 1);
    // Again: the same answer, the seat not freed twice. Not a member: 404.
    assert_eq!(
        delete(format!("/api/v1/reservations/{manage}/party/{member}"))
            .await
            .status(),
        200
    );
    assert_eq!(app.slot(SLOT).await["remaining"], 1);
    let lead = r["reservation_number"].as_str().unwrap();
    let p = problem(
        delete(format!("/api/v1/reservations/{manage}/party/{lead}")).await,
        404,
    )
    .await;
    assert_eq!(p["code"], "reservation_not_found");
    // The manage link cancels the party: both who are left.
    let res = delete(format!("/api/v1/reservations/{manage}")).await;
    let all: Value = res.json().await.unwrap();
    assert_eq!(all["status"], "cancelled");
    assert!(all["party"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["status"] == "cancelled"));
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
}

#[tokio::test]
async fn the_manage_link_moves_the_whole_party_or_none_of_it() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let r = book_party(&app, &token, SLOT, 1, vec![child(1, "pin-reset")]).await;
    let manage = r["manage_token"].as_str().unwrap();
    // A slot with one seat left cannot take both.
    let tight = "city-hall.2027-02-10.1000";
    app.book_as(7, tight).await;
    app.book_as(8, tight).await;
    let move_to = |slot: &'static str| {
        let app = &app;
        let manage = manage.to_string();
        async move {
            app.post_json(
                &format!("/api/v1/reservations/{manage}/reschedule"),
                &json!({ "slot_id": slot }),
            )
            .await
        }
    };
    let p = problem(move_to("city-hall.2027-02-10.1000").await, 409).await;
    assert_eq!(p["code"], "slot_full");
    assert_eq!(app.slot(SLOT).await["remaining"], 1);
    let res = move_to("city-hall.2027-02-10.1100").await;
    assert_eq!(res.status(), 200);
    let moved: Value = res.json().await.unwrap();
    assert_eq!(moved["slot"]["id"], "city-hall.2027-02-10.1100");
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
    assert_eq!(app.slot("city-hall.2027-02-10.1100").await["remaining"], 1);
    let admin = app.staff_token("boss", "admin").await;
    let member = r["party"][0]["reservation_number"].as_str().unwrap();
    let m: Value = app
        .as_staff(
            Method::GET,
            &format!("/api/v1/staff/reservations/{member}"),
            Some(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        m["slot"]["id"], "city-hall.2027-02-10.1100",
        "the member moved too"
    );
}

#[tokio::test]
async fn parties_racing_for_the_last_seats_never_overbook_and_never_half_book() {
    let app = spawn_app_with(jst(NOON), |s| {
        s.counters[0].capacity_per_slot = 5;
        s.limits.verify_per_ip = 1000;
    })
    .await;
    let mut tokens = Vec::new();
    for i in 0..12 {
        tokens.push(app.verified_token(&format!("race{i}@example.jp")).await);
    }
    let attempts = tokens.iter().enumerate().map(|(i, t)| {
        let app = &app;
        // Parties of 2 and 3, each person their own (the kana varies by party).
        let members: Vec<Value> = (0..1 + i % 2)
            .map(|n| {
                let mut m = child(n, "pin-reset");
                m["name_kana"] = json!(format!(
                    "キョウソウ {}{}",
                    crate::helpers::kana_suffix(i),
                    crate::helpers::kana_suffix(n)
                ));
                m
            })
            .collect();
        let people = 1 + members.len() as i64;
        let body = party_body(t, SLOT, 100 + i, members);
        async move {
            let res = app.book(&body).await;
            let status = res.status().as_u16();
            let v: Value = res.json().await.unwrap();
            (status, people, v)
        }
    });
    let outcomes = join_all(attempts).await;
    assert!(
        outcomes.iter().all(|(s, ..)| *s == 201 || *s == 409),
        "{outcomes:?}"
    );
    let seated: i64 = outcomes
        .iter()
        .filter(|(s, ..)| *s == 201)
        .map(|(_, people, v)| {
            assert_eq!(v["party"].as_array().unwrap().len() as i64, people - 1);
            people
        })
        .sum();
    assert!((4..=5).contains(&seated), "{seated}");
    assert_eq!(booked(&app, SLOT).await, seated);
    assert_eq!(
        reservations_stored(&app).await,
        seated,
        "every person stored, no one more"
    );
}

#[tokio::test]
async fn the_desk_checks_the_party_in_once_under_one_ticket_and_completes_them_together() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let mut body = crate::helpers::phone_booking_body("city-hall.2027-01-04.1000", 1);
    body["party"] = json!([child(1, "pin-reset"), child(2, "cert-renewal")]);
    let res = app.post_staff_reservation(&phone, &body).await;
    let status = res.status();
    let r: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{r}");
    let member = r["party"][1]["reservation_number"]
        .as_str()
        .unwrap()
        .to_string();
    let lead = r["reservation_number"].as_str().unwrap().to_string();

    app.clock.set(jst("2027-01-04T09:45:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        let desk = desk.clone();
        async move {
            app.as_staff(
                Method::POST,
                &format!("/api/v1/desk/city-hall/{path}"),
                Some(&desk),
                Some(&body),
            )
            .await
        }
    };
    // Any member's number checks the party in.
    let res = post("check-ins", json!({"reservation_number": member})).await;
    assert_eq!(res.status(), 201);
    let ticket: Value = res.json().await.unwrap();
    let label = ticket["ticket"].as_str().unwrap().to_string();
    let p = problem(
        post("check-ins", json!({"reservation_number": lead})).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "already_checked_in");
    assert_eq!(p["ticket"], label.as_str(), "the party's one ticket");
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
    let tickets: Vec<&Value> = queue["waiting"].as_array().unwrap().iter().collect();
    assert_eq!(tickets.len(), 1, "{queue}");
    // A walk-in after the party waits for all three: pin-reset 20, pin-reset 20, cert-renewal
    // 15 minutes (config/default.toml), one desk.
    let walk: Value = post("walk-ins", json!({"procedure": "pin-reset"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(walk["estimated_wait_minutes"], 55, "{walk}");
    let called: Value = post("calls", json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(called["ticket"], label.as_str());
    let res = app
        .as_staff(
            Method::POST,
            &format!("/api/v1/desk/city-hall/tickets/{label}/complete"),
            Some(&desk),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.status(), 200);
    // (The phone session of December has ended: a fresh one reads them.)
    let reader = app.staff_token("reader", "phone").await;
    for number in [
        lead.as_str(),
        r["party"][0]["reservation_number"].as_str().unwrap(),
        member.as_str(),
    ] {
        let v: Value = app
            .as_staff(
                Method::GET,
                &format!("/api/v1/staff/reservations/{number}"),
                Some(&reader),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "completed", "{number}");
    }
}

#[tokio::test]
async fn a_hold_of_three_seats_books_a_party_of_three() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let res = app
        .post_json(
            "/api/v1/holds",
            &json!({"verification_token": token, "slot_id": SLOT, "seats": 3}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let hold: Value = res.json().await.unwrap();
    let mut body = party_body(
        &token,
        SLOT,
        1,
        vec![child(1, "pin-reset"), child(2, "pin-reset")],
    );
    body["hold_id"] = hold["hold_id"].clone();
    let res = app.book(&body).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.slot(SLOT).await["remaining"], 0);
    assert_eq!(reservations_stored(&app).await, 3);
}

#[tokio::test]
async fn a_members_individual_number_refuses_the_whole_booking_and_stores_nothing() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let mut member = child(1, "pin-reset");
    member["representative_name"] = json!("山田 123456789018");
    let p = problem(
        app.book(&party_body(&token, SLOT, 1, vec![member])).await,
        422,
    )
    .await;
    assert_eq!(p["code"], "contains_individual_number");
    assert_eq!(p["errors"][0]["field"], "party[0].representative_name");
    assert_eq!(reservations_stored(&app).await, 0);
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
}

#[tokio::test]
async fn a_party_larger_than_its_hold_takes_the_other_seats_or_none() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let res = app
        .post_json(
            "/api/v1/holds",
            &json!({"verification_token": token, "slot_id": SLOT}),
        )
        .await;
    let hold: Value = res.json().await.unwrap();
    // The rest of the slot fills: the hold's one seat cannot seat a party of three.
    app.book_as(8, SLOT).await;
    app.book_as(9, SLOT).await;
    let mut body = party_body(
        &token,
        SLOT,
        1,
        vec![child(1, "pin-reset"), child(2, "pin-reset")],
    );
    body["hold_id"] = hold["hold_id"].clone();
    let p = problem(app.book(&body).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    assert_eq!(
        booked(&app, SLOT).await,
        2,
        "nothing booked, the hold untouched"
    );
    assert_eq!(reservations_stored(&app).await, 2);
    // A party of two on a hold of one, with a seat free beside it: both seated.
    let other = "city-hall.2027-02-10.1000";
    let token = app.verified_token("pair@example.jp").await;
    let res = app
        .post_json(
            "/api/v1/holds",
            &json!({"verification_token": token, "slot_id": other}),
        )
        .await;
    let hold: Value = res.json().await.unwrap();
    let mut body = party_body(&token, other, 3, vec![child(3, "pin-reset")]);
    body["hold_id"] = hold["hold_id"].clone();
    assert_eq!(app.book(&body).await.status(), 201);
    assert_eq!(booked(&app, other).await, 2);
}

#[tokio::test]
async fn staff_cancelling_the_first_person_or_closing_the_day_mail_the_party_once() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("family@example.jp").await;
    let r = book_party(
        &app,
        &token,
        SLOT,
        1,
        vec![child(1, "pin-reset"), child(2, "pin-reset")],
    )
    .await;
    let token = app.verified_token("other.family@example.jp").await;
    let other_day = "city-hall.2027-02-12.0900";
    let o = book_party(&app, &token, other_day, 5, vec![child(3, "pin-reset")]).await;
    app.drain_outbox().await;
    let admin = app.staff_token("boss", "admin").await;
    let lead = r["reservation_number"].as_str().unwrap();
    let res = app
        .as_staff(
            Method::POST,
            &format!("/api/v1/staff/reservations/{lead}/cancel"),
            Some(&admin),
            Some(&json!({"reason": "本人から電話"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.slot(SLOT).await["remaining"],
        3,
        "the party's three seats"
    );
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/admin/counters/city-hall/closures",
            Some(&admin),
            Some(&json!({"date": "2027-02-12", "reason": "設備点検", "cancel_reservations": true})),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.drain_outbox().await;
    for (address, first) in [("family@example.jp", &r), ("other.family@example.jp", &o)] {
        let cancelled: Vec<_> = app
            .smtp
            .messages_to(address)
            .into_iter()
            .filter(|m| m.subject.contains("【予約キャンセル】"))
            .collect();
        assert_eq!(cancelled.len(), 1, "{address}");
        let member = first["party"][0]["reservation_number"].as_str().unwrap();
        assert!(
            cancelled[0].text.contains(member),
            "{address}: the mail lists the party"
        );
    }
}

#[tokio::test]
async fn a_voluntary_proxy_in_a_party_keeps_their_own_second_visit_and_the_party_one_reminder() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let mut body = crate::helpers::phone_booking_body("city-hall.2027-01-04.1000", 1);
    body["email"] = json!("proxy.family@example.jp");
    body["party"] = json!([{
        "procedure": "pin-reset", "applicant_type": "voluntary_proxy",
        "name": "電話 祖母", "name_kana": "デンワ ソボ", "representative_name": "電話 太郎1",
    }]);
    let res = app.post_staff_reservation(&phone, &body).await;
    let status = res.status();
    let r: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{r}");
    let member = r["party"][0]["reservation_number"]
        .as_str()
        .unwrap()
        .to_string();
    app.drain_outbox().await;

    // The day before (the year-end break between): one reminder, listing the grandmother.
    app.clock.set(jst("2026-12-28T10:00:00+09:00"));
    let env = app.state.job_runner().env();
    let reminded = madoguchi::testing::run_body(
        &app.state.db,
        &env,
        madoguchi::testing::Job::Reminders,
        jst("2026-12-28T10:00:00+09:00"),
    )
    .await
    .expect("job runs");
    assert_eq!(reminded, 1, "one reminder for the party");
    app.drain_outbox().await;
    let reminder = app
        .smtp
        .only_message_to("proxy.family@example.jp", "【ご予約の確認】");
    assert!(reminder.text.contains(&member), "{}", reminder.text);

    // At the desk the party is served together; the proxy's first visit is completed, so the
    // mail about their second visit goes out, for them alone.
    app.clock.set(jst("2027-01-04T09:50:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    let post = |path: String, body: Value| {
        let (app, desk) = (&app, desk.clone());
        async move {
            app.as_staff(
                Method::POST,
                &format!("/api/v1/desk/city-hall/{path}"),
                Some(&desk),
                Some(&body),
            )
            .await
        }
    };
    assert_eq!(
        post(
            "check-ins".into(),
            json!({"reservation_number": r["reservation_number"]})
        )
        .await
        .status(),
        201
    );
    let called: Value = post("calls".into(), json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    let ticket = called["ticket"].as_str().unwrap();
    assert_eq!(
        post(format!("tickets/{ticket}/complete"), json!({}))
            .await
            .status(),
        200
    );
    app.drain_outbox().await;
    let invite = app
        .smtp
        .only_message_to("proxy.family@example.jp", "【2回目のご来庁について】");
    assert!(invite.text.contains(&member), "{}", invite.text);
    let reader = app.staff_token("reader", "phone").await;
    let m: Value = app
        .as_staff(
            Method::GET,
            &format!("/api/v1/staff/reservations/{member}"),
            Some(&reader),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["status"], "completed");
    assert!(m["second_visit"]["bookable_from"].is_string(), "{m}");
}
