//! Under load the public side sheds and the staff side never waits: a public write that cannot
//! have its turn at the database in time is answered 503 `busy` at once (with Retry-After,
//! in both languages), loses nothing and changes nothing; a phone booking at the same moment
//! is served; the staff side may have a listener of its own.

use std::time::{Duration, Instant};

use crate::helpers::{booking_body, jst, phone_booking_body, problem, spawn_app_with, TestApp};
use madoguchi::config::Settings;

/// One connection a lane, and a public wait of 150 ms.
fn narrow(s: &mut Settings) {
    s.database.pool_size = 1;
    s.database.staff_pool_size = 1;
    s.database.public_wait_ms = 150;
}

/// Keeps the public lane busy for `ms`: a write that holds the SQLite writer, or on
/// PostgreSQL the public lane's one connection.
fn occupy_public_lane(app: &TestApp, ms: u64) -> tokio::task::JoinHandle<()> {
    let db = app.state.db.clone();
    tokio::spawn(async move {
        let held = madoguchi::testing::in_public_lane(db.write(move |_| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok::<_, diesel::result::Error>(())
        }))
        .await;
        assert!(held.is_ok(), "{held:?}");
    })
}

#[tokio::test]
async fn a_booking_that_cannot_have_its_turn_in_time_is_answered_busy_at_once_and_loses_nothing() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), narrow).await;
    let token = app.verified_token("resident@example.jp").await;
    let slot = "city-hall.2027-02-10.1000";
    let occupied = occupy_public_lane(&app, 1500);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = Instant::now();
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Accept-Language", "ja")
        .json(&booking_body(&token, slot, 1))
        .send()
        .await
        .unwrap();
    let waited = asked.elapsed();
    assert_eq!(res.headers()["retry-after"], "1");
    let p = problem(res, 503).await;
    assert_eq!(p["code"], "busy");
    assert!(p["title"].as_str().unwrap().contains("混み合って"), "{p}");
    assert!(
        waited < Duration::from_millis(1000),
        "answered after {waited:?}: it waited for the lane instead of being told"
    );
    occupied.await.expect("occupier");
    // Nothing was written: the seat is free, and the same link books it now.
    assert_eq!(app.slot(slot).await["remaining"], 3);
    assert_eq!(app.book(&booking_body(&token, slot, 1)).await.status(), 201);
}

#[tokio::test]
async fn a_phone_booking_is_served_while_the_public_lane_is_full() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), narrow).await;
    let phone = app.staff_token("operator", "phone").await;
    let occupied = occupy_public_lane(&app, 1500);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let res = app
        .post_staff_reservation(&phone, &phone_booking_body("city-hall.2027-02-10.1000", 2))
        .await;
    assert_eq!(res.status(), 201, "staff are never told busy");
    occupied.await.expect("occupier");
}

#[tokio::test]
async fn the_staff_side_may_have_a_listener_of_its_own_and_the_public_one_does_not_serve_it() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |s| {
        s.server.staff_bind = "127.0.0.1:0".into();
    })
    .await;
    let staff = app.staff_address.clone().expect("a staff listener");
    let phone = app.staff_token("operator", "phone").await;
    for path in [
        "/api/v1/staff/sessions/current",
        "/api/v1/admin/staff",
        "/api/v1/desk/city-hall/queue",
        "/api/v1/desk/city-hall/display",
        "/staff/",
        "/display/city-hall",
    ] {
        let public = app.get(path).await;
        assert_eq!(public.status(), 404, "{path} on the public listener");
    }
    let public_login = app
        .client
        .post(app.url("/api/v1/staff/sessions"))
        .json(&serde_json::json!({"login": "operator", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(public_login.status(), 404);
    // The staff listener serves the staff side, and the calendar its console reads.
    let me = app
        .client
        .get(format!("{staff}/api/v1/staff/sessions/current"))
        .bearer_auth(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    for path in [
        "/staff/",
        "/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-07",
    ] {
        let res = app
            .client
            .get(format!("{staff}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path} on the staff listener");
    }
    // The residents' side stays where it was.
    assert_eq!(app.get("/").await.status(), 200);
    assert_eq!(app.get("/api/v1/counters").await.status(), 200);
}
