//! The opening made fair: fallback slots, and the fair start (`booking.fair_start_seconds`),
//! on both databases.

use std::time::Duration;

use chrono::Duration as Span;
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{booking_body, jst, phone_booking_body, problem, spawn_app_with, TestApp};

const SLOT: &str = "city-hall.2027-02-10.0900";

fn with_fallbacks(mut body: Value, fallbacks: &[&str]) -> Value {
    body["fallback_slot_ids"] = json!(fallbacks);
    body
}

#[tokio::test]
async fn a_full_first_choice_books_the_first_fallback_with_a_seat_in_the_same_request() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |_| {}).await;
    let (full, also_full, free) = (
        SLOT,
        "city-hall.2027-02-10.0930",
        "city-hall.2027-02-12.1000",
    );
    for who in 0..3 {
        app.book_as(100 + who, full).await;
        app.book_as(200 + who, also_full).await;
    }
    let token = app.verified_token("fallback@example.jp").await;
    let res = app
        .book(&with_fallbacks(
            booking_body(&token, full, 1),
            &[also_full, free],
        ))
        .await;
    assert_eq!(res.status(), 201);
    let booked: Value = res.json().await.expect("json");
    assert_eq!(booked["slot"]["id"], free, "{booked}");
    // The mail names the slot it got, not the first choice.
    app.drain_outbox().await;
    let mail = app.smtp.messages_to("fallback@example.jp");
    let confirmed = mail.last().expect("a confirmation mail");
    assert!(
        confirmed.text.contains("2027年2月12日"),
        "{}",
        confirmed.text
    );
    assert_eq!(app.slot(free).await["remaining"], 2);
}

#[tokio::test]
async fn fallbacks_all_full_answer_slot_full_for_the_first_choice_and_more_than_two_are_refused() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |_| {}).await;
    let other = "city-hall.2027-02-10.0930";
    for who in 0..3 {
        app.book_as(100 + who, SLOT).await;
        app.book_as(200 + who, other).await;
    }
    let token = app.verified_token("late@example.jp").await;
    let p = problem(
        app.book(&with_fallbacks(booking_body(&token, SLOT, 1), &[other]))
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "slot_full");
    assert!(!p["alternatives"]
        .as_array()
        .expect("alternatives")
        .is_empty());
    let three = [
        "city-hall.2027-02-11.0900",
        "city-hall.2027-02-11.0930",
        "city-hall.2027-02-11.1000",
    ];
    let p = problem(
        app.book(&with_fallbacks(booking_body(&token, SLOT, 1), &three))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "fallback_slot_ids");
    assert_eq!(p["errors"][0]["code"], "too_many");
    // Neither refusal used the link: it still books.
    let res = app
        .book(&booking_body(&token, "city-hall.2027-02-15.0900", 1))
        .await;
    assert_eq!(res.status(), 201);
}

fn fair_start(seats: u32) -> impl FnOnce(&mut madoguchi::config::Settings) {
    move |s| {
        s.booking.fair_start_seconds = 5;
        s.counters[0].capacity_per_slot = seats;
        s.limits.verify_per_ip = 10_000;
        s.limits.verify_per_address = 10_000;
    }
}

async fn tokens(app: &TestApp, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for who in 0..n {
        tokens.push(app.verified_token(&format!("fair{who}@example.jp")).await);
    }
    tokens
}

#[tokio::test]
async fn a_fair_start_serves_the_opening_in_an_order_arrival_does_not_decide() {
    // 60 residents, 20 seats, requests sent in a fixed order over the 5 seconds, half to a
    // second instance on the same database. First come, first served would seat arrivals
    // 0..19 (mean rank 9.5); a uniformly random order gives a mean near 29.5 (sd ≈ 3.2).
    let app = spawn_app_with(jst("2026-12-01T11:59:30+09:00"), fair_start(20)).await;
    let other = app.second_instance().await;
    let tokens = tokens(&app, 60).await;
    let opening = jst("2026-12-01T12:00:00+09:00");
    let mut pending = Vec::new();
    for (rank, token) in tokens.iter().enumerate() {
        app.clock
            .set(opening + Span::milliseconds(80 * rank as i64));
        let base = if rank % 2 == 0 {
            app.address.clone()
        } else {
            other.clone()
        };
        let (client, body) = (app.client.clone(), booking_body(token, SLOT, rank));
        pending.push(tokio::spawn(async move {
            let res = client
                .post(format!("{base}/api/v1/reservations"))
                .json(&body)
                .send()
                .await
                .expect("sent");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.expect("json"))
        }));
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    // A phone booking in the window is served at once while the web waits.
    let phone = app.staff_token("operator", "phone").await;
    let res = app
        .post_staff_reservation(&phone, &phone_booking_body("city-hall.2027-02-10.1000", 1))
        .await;
    assert_eq!(res.status(), 201, "phone booking during the fair start");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        pending.iter().all(|p| !p.is_finished()),
        "no web booking is answered before the window's end"
    );
    app.clock.set(opening + Span::seconds(5));
    let answers = tokio::time::timeout(Duration::from_secs(2), join_all(pending))
        .await
        .expect("every held booking answered within 2 s of the window's end");
    let mut winners = Vec::new();
    for (rank, answer) in answers.into_iter().enumerate() {
        let (status, body) = answer.expect("task");
        match status {
            201 => winners.push(rank),
            409 => assert_eq!(body["code"], "slot_full", "{body}"),
            other => panic!("rank {rank}: {other} {body}"),
        }
    }
    assert_eq!(
        winners.len(),
        20,
        "every seat taken, none twice: {winners:?}"
    );
    let mean = winners.iter().sum::<usize>() as f64 / 20.0;
    assert!(
        mean >= 17.0,
        "winners' mean arrival rank {mean}: {winners:?}"
    );
    assert!(
        winners.iter().any(|r| *r >= 40),
        "a late third of arrivals won nothing: {winners:?}"
    );
    // The seed of the order is in the audit log.
    let admin = app.staff_token("chief", "admin").await;
    let draw = app
        .audit(&admin)
        .await
        .into_iter()
        .find(|e| e["action"] == "booking.fair_start")
        .expect("the draw audited");
    let seed = draw["detail"]["seed"].as_str().expect("seed");
    assert_eq!(seed.len(), 64);
    assert_eq!(draw["detail"]["served"], 60);
    assert_eq!(draw["detail"]["booked"], 20);
}

#[tokio::test]
async fn a_client_that_went_away_during_the_wait_gets_its_booking_when_it_asks_again() {
    let app = spawn_app_with(jst("2026-12-01T11:59:30+09:00"), fair_start(3)).await;
    let token = app.verified_token("gone@example.jp").await;
    let opening = jst("2026-12-01T12:00:01+09:00");
    app.clock.set(opening);
    let body = booking_body(&token, SLOT, 7);
    let gone = app
        .client
        .post(app.url("/api/v1/reservations"))
        .timeout(Duration::from_millis(300))
        .json(&body)
        .send()
        .await;
    assert!(gone.is_err(), "held, so the impatient client gave up");
    app.clock.set(opening + Span::seconds(5));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = app.book(&body).await;
    assert_eq!(again.status(), 201, "the same booking, answered again");
    let again: Value = again.json().await.expect("json");
    let token = again["manage_token"].as_str().expect("manage token");
    let mine: Value = app
        .get(&format!("/api/v1/reservations/{token}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(mine["reservation_number"], again["reservation_number"]);
    assert_eq!(app.slot(SLOT).await["remaining"], 2, "one seat, not two");
}

#[tokio::test]
async fn without_a_fair_start_the_opening_is_first_come_and_answered_at_once() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |_| {}).await;
    let token = app.verified_token("first@example.jp").await;
    let res = tokio::time::timeout(
        Duration::from_secs(2),
        app.book(&booking_body(&token, SLOT, 1)),
    )
    .await
    .expect("answered without waiting");
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn during_a_fair_start_a_link_that_cannot_book_is_refused_at_once_not_held() {
    let app = spawn_app_with(jst("2026-12-01T12:00:01+09:00"), fair_start(3)).await;
    let unknown = "A".repeat(43);
    let res = tokio::time::timeout(
        Duration::from_secs(2),
        app.book(&booking_body(&unknown, SLOT, 1)),
    )
    .await
    .expect("answered without waiting for the draw");
    let p = problem(res, 404).await;
    assert_eq!(p["code"], "verification_not_found");
}
