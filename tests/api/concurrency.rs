//! Many clients, few seats: the database decides, and never overbooks.

use crate::helpers::{booking_body, jst, spawn_app_with};
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_verified_clients_for_three_seats() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |s| {
        s.limits.verify_per_ip = 1000;
        s.database.pool_size = 16;
    })
    .await;
    let slot = "city-hall.2027-02-15.0900";
    let mut tokens = Vec::new();
    for i in 0..100 {
        tokens.push(app.verified_token(&format!("rush{i}@example.jp")).await);
    }

    let requests = tokens.iter().enumerate().map(|(i, token)| {
        let body = booking_body(token, slot, i);
        let app = &app;
        async move {
            let res = app.book(&body).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or_default();
            (status, body)
        }
    });
    let results = join_all(requests).await;

    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let full = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "slot_full")
        .count();
    let other: Vec<_> = results
        .iter()
        .filter(|(s, b)| !(*s == 201 || (*s == 409 && b["code"] == "slot_full")))
        .collect();
    assert!(other.is_empty(), "unexpected answers: {other:?}");
    assert_eq!((created, full), (3, 97));

    // The slot's booked count equals its reservations, and availability agrees.
    let slot_id = slot.to_string();
    let (booked, seated) = app
        .state
        .db
        .run(move |conn| {
            use madoguchi::testing::slots;
            let booked: i32 = slots::table
                .find(&slot_id)
                .select(slots::booked)
                .first(conn)?;
            let seated = madoguchi::testing::count_seated_in_slot(conn, &slot_id)?;
            Ok::<_, diesel::result::Error>((booked, seated))
        })
        .await
        .unwrap();
    assert_eq!(booked, 3);
    assert_eq!(seated, 3);
    assert_eq!(app.slot(slot).await["remaining"], 0);
    // Exactly three completion mails were written.
    assert_eq!(app.drain_outbox().await.sent, 3);
}
