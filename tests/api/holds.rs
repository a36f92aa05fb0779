//! Holds (仮押さえ): the slot a verified resident chose, kept while they fill in the form.

use crate::helpers::{booking_body, jst, problem, spawn_app_with, TestApp};
use futures_util::future::join_all;
use madoguchi::config::Settings;
use serde_json::{json, Value};

/// Noon on 1 December: February has just opened.
const NOON: &str = "2026-12-01T12:00:00+09:00";
/// A February slot of city hall (3 seats).
const SLOT: &str = "city-hall.2027-02-10.0900";

async fn sweep(app: &TestApp) -> u32 {
    madoguchi::startup::sweep(&app.state).await.expect("sweep")
}

async fn hold(app: &TestApp, token: &str, slot: &str, seats: Option<i64>) -> reqwest::Response {
    let mut body = json!({"verification_token": token, "slot_id": slot});
    if let Some(n) = seats {
        body["seats"] = json!(n);
    }
    app.post_json("/api/v1/holds", &body).await
}

/// Holds `slot` for a fresh address of person `who`: (the link's token, the hold).
async fn held(app: &TestApp, who: usize, slot: &str, seats: Option<i64>) -> (String, Value) {
    let token = app.verified_token(&format!("holder{who}@example.jp")).await;
    let res = hold(app, &token, slot, seats).await;
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, 201, "hold: {body}");
    (token, body)
}

async fn entry_status(app: &TestApp, token: &str) -> String {
    let v: Value = app
        .get(&format!("/api/v1/waitlist/{token}"))
        .await
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap().to_string()
}

fn with_hold(token: &str, slot: &str, who: usize, hold_id: &Value) -> Value {
    let mut body = booking_body(token, slot, who);
    body["hold_id"] = hold_id.clone();
    body
}

/// The slot's seats as stored: (booked, held).
async fn seats(app: &TestApp, slot: &str) -> (i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        booked: i32,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        offer_held: i32,
    }
    let slot = slot.to_string();
    let row: Row = app
        .state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!(
                "SELECT booked, offer_held FROM slots WHERE id = '{slot}'"
            ))
            .get_result(conn)
        })
        .await
        .expect("slot row");
    (i64::from(row.booked), i64::from(row.offer_held))
}

#[tokio::test]
async fn a_hold_keeps_the_seat_while_the_slot_fills_and_books_ten_minutes_later() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let other = app.second_instance().await;
    let (token, h) = held(&app, 1, SLOT, None).await;
    assert_eq!(h["slot_id"], SLOT);
    assert_eq!(h["seats"], 1);
    assert_eq!(h["expires_at"], "2026-12-01T12:10:00+09:00");
    // The held seat counts as taken at once, on this instance and on another.
    assert_eq!(app.slot(SLOT).await["remaining"], 2);
    let there: Value = app
        .client
        .get(format!(
            "{other}/api/v1/counters/city-hall/availability?from=2027-02-10&to=2027-02-10"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = there["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == SLOT)
        .unwrap()
        .clone();
    assert_eq!(slot["remaining"], 2);
    // Two others take the rest; a third finds it full.
    app.book_as(2, SLOT).await;
    app.book_as(3, SLOT).await;
    let late = app.verified_token("late@example.jp").await;
    let p = problem(app.book(&booking_body(&late, SLOT, 4)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    assert_eq!(seats(&app, SLOT).await, (2, 1));
    // Nine minutes and 59 seconds over the form: the held seat is still theirs.
    app.clock.set(jst("2026-12-01T12:09:59+09:00"));
    let res = app.book(&with_hold(&token, SLOT, 1, &h["hold_id"])).await;
    let status = res.status();
    let booked: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked["slot"]["id"], SLOT);
    assert_eq!(seats(&app, SLOT).await, (3, 0));
    // The hold is used: naming it again books nothing.
    let again = app.verified_token("holder1@example.jp").await;
    let p = problem(
        app.book(&with_hold(&again, SLOT, 1, &h["hold_id"])).await,
        404,
    )
    .await;
    assert_eq!(p["code"], "hold_not_found", "another link's hold");
}

#[tokio::test]
async fn a_hold_of_two_booked_by_one_person_frees_the_other_seat() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let (token, h) = held(&app, 1, SLOT, Some(2)).await;
    assert_eq!(h["seats"], 2);
    assert_eq!(app.slot(SLOT).await["remaining"], 1);
    assert_eq!(
        app.book(&with_hold(&token, SLOT, 1, &h["hold_id"]))
            .await
            .status(),
        201
    );
    assert_eq!(seats(&app, SLOT).await, (1, 0));
    assert_eq!(app.slot(SLOT).await["remaining"], 2);
}

/// City hall with one seat a slot and two slots a day (09:00, 09:30).
fn small_counter(s: &mut Settings) {
    s.counters[0].capacity_per_slot = 1;
    s.counters[0].weekday_hours.closes = chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap();
}

#[tokio::test]
async fn an_expired_hold_frees_its_seat_at_the_expiry_second_to_the_waiting_list_first() {
    let app = spawn_app_with(jst(NOON), small_counter).await;
    let (token, h) = held(&app, 1, SLOT, None).await;
    app.book_as(2, "city-hall.2027-02-10.0930").await;
    // The day is full for the web (the hold counts): someone joins the waiting list.
    let entry_token = join_waitlist(&app, "waiter").await;
    // One second before the expiry: held, and the sweeper leaves it.
    app.clock.set(jst("2026-12-01T12:09:59+09:00"));
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(seats(&app, SLOT).await, (0, 1));
    assert_eq!(entry_status(&app, &entry_token).await, "waiting");
    // At the expiry second: the booking is refused before any sweep, and the sweep frees
    // the seat to the first in line (held again, now for the offer).
    app.clock.set(jst("2026-12-01T12:10:00+09:00"));
    let p = problem(
        app.book(&with_hold(&token, SLOT, 1, &h["hold_id"])).await,
        410,
    )
    .await;
    assert_eq!(p["code"], "hold_expired");
    assert!(sweep(&app).await >= 1);
    assert_eq!(entry_status(&app, &entry_token).await, "offered");
    assert_eq!(seats(&app, SLOT).await, (0, 1), "the offer holds it now");
    // The refused booking did not use the link up: it can hold again (another slot is full,
    // so this one is refused as full, not as a used link).
    let p = problem(hold(&app, &token, SLOT, None).await, 409).await;
    assert_eq!(p["code"], "slot_full");
}

#[tokio::test]
async fn a_new_hold_of_the_same_address_replaces_the_last_and_frees_its_seat_at_once() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let (token, first) = held(&app, 1, SLOT, None).await;
    let second_slot = "city-hall.2027-02-10.0930";
    let res = hold(&app, &token, second_slot, None).await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    assert_eq!(seats(&app, SLOT).await, (0, 0));
    assert_eq!(seats(&app, second_slot).await, (0, 1));
    // A new link for the same address replaces it too: one live hold per address.
    let token2 = app.verified_token("holder1@example.jp").await;
    let res = hold(&app, &token2, SLOT, None).await;
    assert_eq!(res.status(), 201);
    assert_eq!(seats(&app, second_slot).await, (0, 0));
    assert_eq!(seats(&app, SLOT).await, (0, 1));
    // The replaced holds book nothing.
    let p = problem(
        app.book(&with_hold(&token, SLOT, 1, &first["hold_id"]))
            .await,
        410,
    )
    .await;
    assert_eq!(p["code"], "hold_expired");
    let p = problem(
        app.book(&with_hold(&token, second_slot, 1, &second["hold_id"]))
            .await,
        410,
    )
    .await;
    assert_eq!(p["code"], "hold_expired");
}

#[tokio::test]
async fn letting_a_hold_go_frees_its_seats_at_once_and_is_idempotent() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let (_, h) = held(&app, 1, SLOT, Some(3)).await;
    assert_eq!(app.slot(SLOT).await["remaining"], 0);
    let id = h["hold_id"].as_str().unwrap();
    for _ in 0..2 {
        let res = app
            .client
            .delete(app.url(&format!("/api/v1/holds/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    assert_eq!(app.slot(SLOT).await["remaining"], 3);
    let res = app
        .client
        .delete(app.url("/api/v1/holds/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "an id that names no hold tells nothing");
}

async fn join_waitlist(app: &TestApp, who: &str) -> String {
    let token = app.verified_token(&format!("{who}@example.jp")).await;
    let res = app
        .post_json(
            "/api/v1/waitlist",
            &json!({
                "verification_token": token, "counter": "city-hall", "date": "2027-02-10",
                "procedure": "pin-reset", "applicant_type": "holder",
                "name": "待機 一郎", "name_kana": "タイキ イチロウ", "phone": "08011112222",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let entry: Value = res.json().await.unwrap();
    entry["manage_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_hold_let_go_offers_its_seat_to_the_waiting_list_at_once() {
    let app = spawn_app_with(jst(NOON), small_counter).await;
    let (_, h) = held(&app, 1, SLOT, None).await;
    app.book_as(2, "city-hall.2027-02-10.0930").await;
    let entry = join_waitlist(&app, "waiter").await;
    let id = h["hold_id"].as_str().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/holds/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        entry_status(&app, &entry).await,
        "offered",
        "no sweep needed"
    );
    assert_eq!(seats(&app, SLOT).await, (0, 1), "held now for the offer");
}

#[tokio::test]
async fn booking_without_the_hold_lets_the_hold_go() {
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let (token, _) = held(&app, 1, SLOT, Some(2)).await;
    assert_eq!(seats(&app, SLOT).await, (0, 2));
    let other = "city-hall.2027-02-10.1000";
    assert_eq!(
        app.book(&booking_body(&token, other, 1)).await.status(),
        201
    );
    assert_eq!(
        seats(&app, SLOT).await,
        (0, 0),
        "the seats it kept are free again"
    );
    assert_eq!(seats(&app, other).await, (1, 0));
}

#[tokio::test]
async fn a_hold_keeps_no_web_seat_held_for_phone_and_no_seat_of_a_closed_day() {
    let app = spawn_app_with(jst(NOON), |s| s.booking.phone_seats_per_slot = 1).await;
    let token = app.verified_token("phoneheld@example.jp").await;
    // Three seats, one held for phone bookings until a week before: two for the web.
    let p = problem(hold(&app, &token, SLOT, Some(3)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    assert_eq!(hold(&app, &token, SLOT, Some(2)).await.status(), 201);
    // An administrator closes a day: no hold there.
    let admin = app.staff_token("boss", "admin").await;
    let res = app
        .as_staff(
            reqwest::Method::POST,
            "/api/v1/admin/counters/city-hall/closures",
            Some(&admin),
            Some(&json!({"date": "2027-02-12", "reason": "設備点検"})),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let p = problem(
        hold(&app, &token, "city-hall.2027-02-12.0900", None).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "day_closed");
}

#[tokio::test]
async fn holds_one_after_another_keep_a_link_alive_one_hold_longer_and_no_more() {
    // The link is made at 12:00 (verification.ttl_minutes 30).
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let token = app.verified_token("renewer@example.jp").await;
    app.clock.set(jst("2026-12-01T12:29:00+09:00"));
    let res = hold(&app, &token, SLOT, None).await;
    let h: Value = res.json().await.unwrap();
    assert_eq!(h["expires_at"], "2026-12-01T12:39:00+09:00");
    app.clock.set(jst("2026-12-01T12:38:00+09:00"));
    let res = hold(&app, &token, SLOT, None).await;
    let h: Value = res.json().await.unwrap();
    assert_eq!(
        h["expires_at"], "2026-12-01T12:40:00+09:00",
        "the link's 30 minutes and one hold's 10, not 12:48"
    );
    app.clock.set(jst("2026-12-01T12:40:00+09:00"));
    let p = problem(hold(&app, &token, SLOT, None).await, 410).await;
    assert_eq!(p["code"], "verification_expired");
}

#[tokio::test]
async fn a_hold_is_refused_what_a_booking_is_refused() {
    let app = spawn_app_with(jst(NOON), |s| s.booking.max_party_size = 4).await;
    let token = app.verified_token("rules@example.jp").await;
    // March has not opened; the seats are 1 to the party's size.
    let p = problem(
        hold(&app, &token, "city-hall.2027-03-10.0900", None).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "window_not_open");
    for bad in [0, 5, -1] {
        let p = problem(hold(&app, &token, SLOT, Some(bad)).await, 422).await;
        assert_eq!(p["errors"][0]["field"], "seats", "{bad}");
    }
    let p = problem(
        hold(&app, &token, "city-hall.2027-02-10.0912", None).await,
        404,
    )
    .await;
    assert_eq!(p["code"], "slot_not_found");
    let p = problem(
        hold(&app, "not-a-token-at-all-but-long", SLOT, None).await,
        404,
    )
    .await;
    assert_eq!(p["code"], "verification_not_found");
    // More seats than are free: slot_full, with alternatives that fit them all.
    app.book_as(1, SLOT).await;
    let p = problem(hold(&app, &token, SLOT, Some(3)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    let alternatives = p["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty());
    assert!(alternatives
        .iter()
        .all(|a| a["remaining"].as_i64() >= Some(3)));
    // A hold for one slot does not book another.
    let res = hold(&app, &token, SLOT, Some(2)).await;
    assert_eq!(res.status(), 201);
    let h: Value = res.json().await.unwrap();
    let p = problem(
        app.book(&with_hold(
            &token,
            "city-hall.2027-02-10.0930",
            5,
            &h["hold_id"],
        ))
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "hold_other_slot");
    // A used link holds nothing.
    assert_eq!(
        app.book(&with_hold(&token, SLOT, 5, &h["hold_id"]))
            .await
            .status(),
        201
    );
    let p = problem(hold(&app, &token, SLOT, None).await, 410).await;
    assert_eq!(p["code"], "verification_used");
}

#[tokio::test]
async fn holds_from_one_client_address_are_limited() {
    let app = spawn_app_with(jst(NOON), |s| s.booking.holds_per_client = 2).await;
    held(&app, 1, SLOT, None).await;
    held(&app, 2, "city-hall.2027-02-10.0930", None).await;
    let token = app.verified_token("holder3@example.jp").await;
    let res = hold(&app, &token, "city-hall.2027-02-10.1000", None).await;
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(problem(res, 429).await["code"], "rate_limited");
    assert_eq!(retry, 600, "until the first of them runs out");
    // The address's own hold is not counted against it: holder 1 may move theirs.
    let again = app.verified_token("holder1@example.jp").await;
    assert_eq!(
        hold(&app, &again, "city-hall.2027-02-10.1000", None)
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn no_hold_is_taken_while_a_fair_start_draws() {
    let app = spawn_app_with(jst("2026-12-01T11:59:00+09:00"), |s| {
        s.booking.fair_start_seconds = 30
    })
    .await;
    let token = app.verified_token("early@example.jp").await;
    app.clock.set(jst("2026-12-01T12:00:05+09:00"));
    let p = problem(hold(&app, &token, SLOT, None).await, 409).await;
    assert_eq!(p["code"], "fair_start_drawing");
    assert!(p["detail"].as_str().unwrap().contains("12:00:30"), "{p}");
    // After the N seconds, with nothing waiting for the draw, holds are taken.
    app.clock.set(jst("2026-12-01T12:00:31+09:00"));
    assert_eq!(hold(&app, &token, SLOT, None).await.status(), 201);
}

/// Verified links for `n` addresses, asked for at once and read from one delivery.
async fn links(app: &TestApp, n: usize) -> Vec<String> {
    let emails: Vec<String> = (0..n).map(|i| format!("rush{i}@example.jp")).collect();
    let asks = emails.iter().map(|e| app.post_verification(e));
    for res in join_all(asks).await {
        assert_eq!(res.status(), 202);
    }
    app.drain_outbox().await;
    emails
        .iter()
        .map(|e| {
            app.smtp
                .only_message_to(e, "メールアドレスの確認")
                .link_token("/booking/verify")
        })
        .collect()
}

#[tokio::test]
async fn two_hundred_concurrent_holds_and_bookings_on_one_slot_never_exceed_capacity() {
    let app = spawn_app_with(jst(NOON), |s| {
        s.counters[0].capacity_per_slot = 7;
        s.limits.verify_per_ip = 1000;
        s.booking.holds_per_client = 1000;
    })
    .await;
    let tokens = links(&app, 200).await;
    let requests = tokens.iter().enumerate().map(|(i, token)| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                let seats = 1 + i64::try_from(i % 3).unwrap();
                let res = hold(app, token, SLOT, Some(seats)).await;
                (
                    res.status().as_u16(),
                    if res.status() == 201 { seats } else { 0 },
                    true,
                )
            } else {
                let res = app.book(&booking_body(token, SLOT, i)).await;
                (res.status().as_u16(), i64::from(res.status() == 201), false)
            }
        }
    });
    let outcomes = join_all(requests).await;
    assert!(
        outcomes.iter().all(|(s, _, _)| *s == 201 || *s == 409),
        "{outcomes:?}"
    );
    let taken: i64 = outcomes.iter().map(|(_, n, _)| n).sum();
    let (booked, held) = seats(&app, SLOT).await;
    assert!(booked + held <= 7, "{booked} + {held}");
    assert_eq!(booked + held, taken, "every seat answered 201 is stored");
    assert_eq!(
        held,
        outcomes
            .iter()
            .filter(|(_, _, h)| *h)
            .map(|(_, n, _)| n)
            .sum::<i64>()
    );
}

/// Rows in `holds`, live and ended.
async fn hold_rows(app: &TestApp) -> (i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        live: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ended: i64,
    }
    let row: Row = app
        .state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(
                "SELECT COUNT(CASE WHEN status = 'live' THEN 1 END) AS live, \
                 COUNT(CASE WHEN status <> 'live' THEN 1 END) AS ended FROM holds",
            )
            .get_result(conn)
        })
        .await
        .expect("count");
    (row.live, row.ended)
}

#[tokio::test]
async fn ended_holds_are_deleted_with_the_spent_links_and_live_ones_kept() {
    use madoguchi::clock::Clock;
    let app = spawn_app_with(jst(NOON), |_| {}).await;
    let (token, h) = held(&app, 1, SLOT, None).await;
    assert_eq!(
        app.book(&with_hold(&token, SLOT, 1, &h["hold_id"]))
            .await
            .status(),
        201
    );
    app.clock.set(jst("2026-12-01T12:05:00+09:00"));
    held(&app, 2, SLOT, None).await;
    assert_eq!(hold_rows(&app).await, (1, 1));
    // Past the limits' window (10 minutes) after the first ended: it goes, the live one stays.
    app.clock.set(jst("2026-12-01T12:10:30+09:00"));
    let env = app.state.job_runner().env();
    madoguchi::testing::run_body(
        &app.state.db,
        &env,
        madoguchi::testing::Job::ExpireVerifications,
        app.clock.now(),
    )
    .await
    .expect("job runs");
    assert_eq!(hold_rows(&app).await, (1, 0));
}
