//! Fair to every resident: seats held for phone callers, the waiting list, the voluntary
//! proxy's linked second visit.

use crate::helpers::{
    booking_body, jst, phone_booking_body, problem, spawn_app_with, TestApp, STAFF_PASSWORD,
};
use futures_util::future::join_all;
use madoguchi::config::Settings;
use reqwest::Method;
use serde_json::{json, Value};

async fn sweep(app: &TestApp) -> u32 {
    madoguchi::startup::sweep(&app.state).await.expect("sweep")
}

fn one_phone_seat(s: &mut Settings) {
    s.booking.phone_seats_per_slot = 1;
}

#[tokio::test]
async fn a_phone_seat_stays_free_at_the_noon_rush_until_its_release_second() {
    // Noon on 1 December: February opens. City hall has 3 seats a slot, 1 held for phone.
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), one_phone_seat).await;
    let slot = "city-hall.2027-02-10.0900";
    app.book_as(1, slot).await;
    app.book_as(2, slot).await;
    let token = app.verified_token("third@example.jp").await;
    let p = problem(app.book(&booking_body(&token, slot, 3)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    // The public sees it full for the web, with one seat held for phone; staff see it free.
    let public = app.slot(slot).await;
    assert_eq!(
        (
            public["remaining"].as_i64(),
            public["held_for_phone"].as_i64(),
            public["bookable"].as_bool()
        ),
        (Some(0), Some(1), Some(false))
    );
    let phone = app.staff_token("operator", "phone").await;
    let staff_view: Value = app
        .as_staff(
            Method::GET,
            "/api/v1/counters/city-hall/availability?from=2027-02-10&to=2027-02-10",
            Some(&phone),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let s = staff_view["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == slot)
        .unwrap()
        .clone();
    assert_eq!(s["remaining"], 1);
    assert_eq!(
        staff_view["days"][0]["phone_release_at"],
        "2027-02-03T12:00:00+09:00"
    );
    // A caller gets the held seat.
    assert_eq!(
        app.post_staff_reservation(&phone, &phone_booking_body(slot, 10))
            .await
            .status(),
        201
    );
    assert_eq!(app.slot(slot).await["held_for_phone"], 0);

    // Another slot of the day: at 11:59:59 a week before, the held seat is still the phone's…
    let other = "city-hall.2027-02-10.0930";
    app.book_as(4, other).await;
    app.book_as(5, other).await;
    app.clock.set(jst("2027-02-03T11:59:59+09:00"));
    let token = app.verified_token("sixth@example.jp").await;
    let p = problem(app.book(&booking_body(&token, other, 6)).await, 409).await;
    assert_eq!(p["code"], "slot_full");
    // …at 12:00:00 anyone may take it.
    app.clock.set(jst("2027-02-03T12:00:00+09:00"));
    let res = app.book(&booking_body(&token, other, 6)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(app.slot(other).await["remaining"], 0);
}

#[tokio::test]
async fn the_database_keeps_held_seats_whatever_the_code_does() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), one_phone_seat).await;
    let slot = "city-hall.2027-02-10.1000";
    app.book_as(1, slot).await;
    // Capacity lowered to the one booked seat: nothing held is lost or overbooked.
    let admin = app.staff_token("chief", "admin").await;
    let res = app
        .as_staff(
            Method::PUT,
            &format!("/api/v1/admin/slots/{slot}"),
            Some(&admin),
            Some(&json!({"capacity": 1})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.slot(slot).await["remaining"], 0);
    // A direct UPDATE past the capacity is refused by the database itself.
    let db = app.state.db.clone();
    let over = db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE slots SET offer_held = offer_held + 1 WHERE id = 'city-hall.2027-02-10.1000'")
                .execute(conn)
        })
        .await;
    assert!(
        over.is_err(),
        "booked + offer_held > capacity must be impossible"
    );
}

/// City hall with one seat a slot and two slots a day: a day fills with two bookings.
fn small_counter(s: &mut Settings) {
    s.counters[0].capacity_per_slot = 1;
    s.counters[0].weekday_hours.closes = chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap();
}

async fn join(app: &TestApp, who: usize, date: &str) -> reqwest::Response {
    let token = app.verified_token(&format!("wait{who}@example.jp")).await;
    app.post_json(
        "/api/v1/waitlist",
        &json!({
            "verification_token": token, "counter": "city-hall", "date": date,
            "procedure": "pin-reset", "applicant_type": "holder",
            "name": format!("待機 {who}"), "name_kana": format!("タイキ {}", crate::helpers::kana_suffix(who)),
            "phone": format!("080{who:08}"),
        }),
    )
    .await
}

/// The day `small_counter` fills in the waiting-list tests.
const FULL_DAY: &str = "2027-02-10";

fn full_day_slot(time: &str) -> String {
    format!("city-hall.{FULL_DAY}.{time}")
}

/// `FULL_DAY` booked full (resident 1 at 09:00, resident 2 at 09:30) at noon on 1 December,
/// with residents 10 and 11 waiting in that order.
struct WaitingDay {
    app: TestApp,
    /// Resident 1's booking at 09:00, cancelled to free a seat.
    nine: Value,
    first: String,
    second: String,
}

async fn waiting_day() -> WaitingDay {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), small_counter).await;
    let nine = app.book_as(1, &full_day_slot("0900")).await;
    app.book_as(2, &full_day_slot("0930")).await;
    let mut tokens = Vec::new();
    for who in [10, 11] {
        let res = join(&app, who, FULL_DAY).await;
        assert_eq!(res.status(), 201);
        let entry: Value = res.json().await.unwrap();
        tokens.push(entry["manage_token"].as_str().unwrap().to_string());
    }
    let second = tokens.pop().unwrap();
    let first = tokens.pop().unwrap();
    WaitingDay {
        app,
        nine,
        first,
        second,
    }
}

impl WaitingDay {
    /// Resident 1 cancels: 09:00 is free, and offered to the first in line.
    async fn free_a_seat(&self) {
        let t = self.nine["manage_token"].as_str().unwrap();
        let res = self
            .app
            .client
            .delete(self.app.url(&format!("/api/v1/reservations/{t}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    async fn entry(&self, token: &str) -> Value {
        let res = self.app.get(&format!("/api/v1/waitlist/{token}")).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn accept(&self, token: &str) -> reqwest::Response {
        self.app
            .post_json(&format!("/api/v1/waitlist/{token}/accept"), &json!({}))
            .await
    }
}

#[tokio::test]
async fn a_day_with_a_free_web_seat_cannot_be_waited_for() {
    let day = waiting_day().await;
    let p = problem(join(&day.app, 50, "2027-02-12").await, 409).await;
    assert_eq!(p["code"], "seats_available");
}

#[tokio::test]
async fn the_waiting_are_numbered_in_order_and_a_person_waits_once_per_procedure() {
    let day = waiting_day().await;
    let first = day.entry(&day.first).await;
    assert_eq!(
        (first["status"].as_str(), first["position"].as_i64()),
        (Some("waiting"), Some(1))
    );
    assert_eq!(day.entry(&day.second).await["position"], 2);
    let again = join(&day.app, 10, FULL_DAY).await;
    assert_eq!(
        problem(again, 409).await["code"],
        "active_reservation_exists"
    );
}

#[tokio::test]
async fn a_freed_seat_is_offered_to_the_first_in_line_and_held_for_the_offer_minutes() {
    let day = waiting_day().await;
    day.free_a_seat().await;
    let first = day.entry(&day.first).await;
    assert_eq!(first["status"], "offered");
    assert_eq!(first["offer"]["slot"]["id"], full_day_slot("0900"));
    assert_eq!(first["offer"]["expires_at"], "2026-12-01T12:30:00+09:00");
    let second = day.entry(&day.second).await;
    assert_eq!(
        (second["status"].as_str(), second["position"].as_i64()),
        (Some("waiting"), Some(1))
    );
    day.app.drain_outbox().await;
    let offer = day
        .app
        .smtp
        .only_message_to("wait10@example.jp", "【空きが出ました】");
    assert!(
        offer.text.contains("/booking/manage?waitlist="),
        "{}",
        offer.text
    );
    // Both readers get the dates in their language: the seat, and until when it is held.
    for line in [
        "2027年2月10日(水) 09:00〜09:30",
        "Wed 10 February 2027, 09:00–09:30 (Japan time)",
        "2026年12月1日 12:30 まで確保",
        "held for you until Tue 1 December 2026, 12:30 (Japan time)",
        "■ 用件 / Procedure: ",
    ] {
        assert!(offer.text.contains(line), "{line:?} in {}", offer.text);
    }
    let joined = day
        .app
        .smtp
        .only_message_to("wait11@example.jp", "【キャンセル待ち受付】");
    assert!(
        joined
            .text
            .contains("■ 日付 / Date: 2027年2月10日(水) / Wed 10 February 2027"),
        "{}",
        joined.text
    );
    assert!(day
        .app
        .smtp
        .messages_to("wait11@example.jp")
        .iter()
        .all(|m| !m.subject.contains("空きが出ました")));
}

#[tokio::test]
async fn a_seat_held_for_an_offer_is_taken_neither_on_the_web_nor_by_phone() {
    let day = waiting_day().await;
    day.free_a_seat().await;
    let app = &day.app;
    let token = app.verified_token("someone@example.jp").await;
    let p = problem(
        app.book(&booking_body(&token, &full_day_slot("0900"), 60))
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "slot_full");
    let phone = app.staff_token("operator", "phone").await;
    let res = app
        .post_staff_reservation(&phone, &phone_booking_body(&full_day_slot("0900"), 61))
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn an_offer_passes_on_at_its_expiry_second_and_not_before() {
    let day = waiting_day().await;
    day.free_a_seat().await;
    day.app.clock.set(jst("2026-12-01T12:29:59+09:00"));
    sweep(&day.app).await;
    assert_eq!(day.entry(&day.first).await["status"], "offered");
    assert_eq!(day.entry(&day.second).await["status"], "waiting");
    day.app.clock.set(jst("2026-12-01T12:30:00+09:00"));
    sweep(&day.app).await;
    assert_eq!(day.entry(&day.first).await["status"], "expired");
    assert_eq!(day.entry(&day.second).await["status"], "offered");
    let p = problem(day.accept(&day.first).await, 410).await;
    assert_eq!(p["code"], "offer_expired");
}

#[tokio::test]
async fn an_offer_is_accepted_through_the_link_in_its_mail() {
    let day = waiting_day().await;
    day.free_a_seat().await;
    day.app.drain_outbox().await;
    let mail = day
        .app
        .smtp
        .only_message_to("wait10@example.jp", "【空きが出ました】");
    let start = mail.text.find("waitlist=").expect("the offer link") + "waitlist=".len();
    let link: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_ne!(link, day.first, "the mail carries its own link");
    let res = day.accept(&link).await;
    assert_eq!(res.status(), 201);
    let booked: Value = res.json().await.unwrap();
    assert_eq!(booked["slot"]["id"], full_day_slot("0900"));
    assert_eq!(booked["email"], "wait10@example.jp");
    let entry = day.entry(&day.first).await;
    assert_eq!(
        (
            entry["status"].as_str(),
            entry["reservation_number"].as_str()
        ),
        (Some("accepted"), booked["reservation_number"].as_str())
    );
    assert_eq!(day.app.slot(&full_day_slot("0900")).await["remaining"], 0);
}

#[tokio::test]
async fn accepting_an_offer_twice_is_not_a_second_booking() {
    let day = waiting_day().await;
    day.free_a_seat().await;
    assert_eq!(day.accept(&day.first).await.status(), 201);
    let p = problem(day.accept(&day.first).await, 409).await;
    assert_eq!(p["code"], "no_offer");
    assert_eq!(day.app.slot(&full_day_slot("0900")).await["remaining"], 0);
}

#[tokio::test]
async fn no_offer_goes_out_once_the_days_window_has_closed_and_leaving_passes_it_on() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), small_counter).await;
    let day = "2027-02-10";
    let a = app.book_as(1, &format!("city-hall.{day}.0900")).await;
    app.book_as(2, &format!("city-hall.{day}.0930")).await;
    let first: Value = join(&app, 10, day).await.json().await.unwrap();
    let second: Value = join(&app, 11, day).await.json().await.unwrap();
    let t = a["manage_token"].as_str().unwrap();
    app.client
        .delete(app.url(&format!("/api/v1/reservations/{t}")))
        .send()
        .await
        .unwrap();
    // The first leaves: the seat passes to the second at once.
    let t1 = first["manage_token"].as_str().unwrap();
    let left: Value = app
        .client
        .delete(app.url(&format!("/api/v1/waitlist/{t1}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(left["status"], "left");
    let t2 = second["manage_token"].as_str().unwrap();
    let e2: Value = app
        .get(&format!("/api/v1/waitlist/{t2}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e2["status"], "offered");
    // The window closes at 07:00 three days before: the unanswered offer ends with it and
    // the seat is not offered again.
    app.clock.set(jst("2027-02-07T07:00:00+09:00"));
    sweep(&app).await;
    let e2: Value = app
        .get(&format!("/api/v1/waitlist/{t2}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e2["status"], "expired");
    let p = problem(
        app.post_json(&format!("/api/v1/waitlist/{t2}/accept"), &json!({}))
            .await,
        410,
    )
    .await;
    assert_eq!(p["code"], "offer_expired");
    let p = problem(join(&app, 12, day).await, 409).await;
    assert_eq!(p["code"], "window_closed");
}

#[tokio::test]
async fn closing_a_day_ends_its_waiting_list_lets_the_held_seat_go_and_tells_everyone_once() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), small_counter).await;
    let admin = app.staff_token("chief", "admin").await;
    let day = "2027-02-10";
    let a = app.book_as(1, &format!("city-hall.{day}.0900")).await;
    app.book_as(2, &format!("city-hall.{day}.0930")).await;
    let first: Value = join(&app, 10, day).await.json().await.unwrap();
    let second: Value = join(&app, 11, day).await.json().await.unwrap();
    // One who left before the closure is not written to again.
    let gone: Value = join(&app, 12, day).await.json().await.unwrap();
    let t3 = gone["manage_token"].as_str().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/waitlist/{t3}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t = a["manage_token"].as_str().unwrap();
    app.client
        .delete(app.url(&format!("/api/v1/reservations/{t}")))
        .send()
        .await
        .unwrap();
    let status = |token: &str| {
        let path = format!("/api/v1/waitlist/{token}");
        let app = &app;
        async move { app.get(&path).await.json::<Value>().await.unwrap()["status"].clone() }
    };
    let (t1, t2) = (
        first["manage_token"].as_str().unwrap(),
        second["manage_token"].as_str().unwrap(),
    );
    assert_eq!(
        status(t1).await,
        "offered",
        "the freed seat is held for the first"
    );

    let path = "/api/v1/admin/counters/city-hall/closures";
    let res = app
        .as_staff(
            Method::POST,
            path,
            Some(&admin),
            Some(&json!({ "date": day, "reason": "設備点検のため", "cancel_reservations": true })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let closed: Value = res.json().await.unwrap();
    assert_eq!(closed["waitlist_ended"], 2, "{closed}");
    assert_eq!(status(t1).await, "expired");
    assert_eq!(status(t2).await, "expired");
    assert_eq!(status(t3).await, "left");
    sweep(&app).await;
    app.drain_outbox().await;
    for who in ["wait10@example.jp", "wait11@example.jp"] {
        let ended = app.smtp.only_message_to(who, "【キャンセル待ち終了】");
        assert!(ended.subject.contains("2027年2月10日"), "{}", ended.subject);
        assert!(ended.text.contains("臨時に休止"), "{}", ended.text);
        assert!(ended.text.contains("設備点検のため"), "{}", ended.text);
        // Only the one offered a seat is told that seat is no longer held.
        assert_eq!(
            ended.text.contains("確保も取り消しました"),
            who == "wait10@example.jp",
            "{}",
            ended.text
        );
    }
    assert!(app
        .smtp
        .messages_to("wait12@example.jp")
        .iter()
        .all(|m| !m.subject.contains("キャンセル待ち終了")));
    let audit = app.audit(&admin).await;
    let closure = audit
        .iter()
        .find(|e| e["action"] == "counter.closure")
        .expect("the closure is audited");
    assert_eq!(closure["detail"]["waitlist_ended"], 2, "{closure}");
    assert!(
        !closure.to_string().contains("wait10"),
        "no resident's data in the audit"
    );

    // Lifted, the day has both seats again: the one held for the offer was let go.
    let res = app
        .as_staff(Method::DELETE, &format!("{path}/{day}"), Some(&admin), None)
        .await;
    assert_eq!(res.status(), 200);
    for time in ["0900", "0930"] {
        let slot = app.slot(&format!("city-hall.{day}.{time}")).await;
        assert_eq!(slot["remaining"], 1, "{slot}");
    }
    // Nobody is offered anything for the reopened day: their wait ended with the closure.
    sweep(&app).await;
    app.drain_outbox().await;
    assert!(app
        .smtp
        .messages_to("wait11@example.jp")
        .iter()
        .all(|m| !m.subject.contains("空きが出ました")));
}

#[tokio::test]
async fn those_still_waiting_when_the_window_closes_are_told_once_at_that_second() {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), small_counter).await;
    let day = "2027-02-10";
    app.book_as(1, &format!("city-hall.{day}.0900")).await;
    app.book_as(2, &format!("city-hall.{day}.0930")).await;
    // Two waiting: one ends as its page is read at the closing second, one by the sweeper.
    let mut paths = Vec::new();
    for who in [10, 11] {
        let entry: Value = join(&app, who, day).await.json().await.unwrap();
        paths.push(format!(
            "/api/v1/waitlist/{}",
            entry["manage_token"].as_str().unwrap()
        ));
    }
    let ended = |app: &TestApp| {
        app.smtp
            .messages()
            .into_iter()
            .filter(|m| m.subject.contains("【キャンセル待ち終了】"))
            .count()
    };

    app.clock.set(jst("2027-02-07T06:59:59+09:00"));
    sweep(&app).await;
    app.drain_outbox().await;
    assert_eq!(ended(&app), 0);
    for path in &paths {
        let e: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(e["status"], "waiting");
    }

    app.clock.set(jst("2027-02-07T07:00:00+09:00"));
    let e: Value = app.get(&paths[0]).await.json().await.unwrap();
    assert_eq!(e["status"], "expired");
    sweep(&app).await;
    sweep(&app).await;
    for path in &paths {
        let e: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(e["status"], "expired");
    }
    app.drain_outbox().await;
    assert_eq!(ended(&app), 2);
    for who in ["wait10@example.jp", "wait11@example.jp"] {
        let mail = app.smtp.only_message_to(who, "【キャンセル待ち終了】");
        assert!(mail.text.contains("空きが出なかった"), "{}", mail.text);
        assert!(!mail.text.contains("臨時に休止"), "{}", mail.text);
    }
}

#[tokio::test]
async fn twenty_concurrent_cancellations_and_acceptances_never_give_a_seat_twice() {
    // Ten one-seat slots on the day, all booked; ten residents waiting.
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |s| {
        s.counters[0].capacity_per_slot = 1;
        s.counters[0].weekday_hours.closes = chrono::NaiveTime::from_hms_opt(14, 0, 0).unwrap();
    })
    .await;
    let day = "2027-02-10";
    let mut bookings = Vec::new();
    for i in 0..10 {
        let slot = format!("city-hall.{day}.{:02}{:02}", 9 + i / 2, (i % 2) * 30);
        bookings.push(app.book_as(i, &slot).await);
    }
    let mut waiting = Vec::new();
    for i in 0..10 {
        let r: Value = join(&app, 100 + i, day).await.json().await.unwrap();
        waiting.push(r["manage_token"].as_str().unwrap().to_string());
    }
    let cancels = bookings.iter().map(|b| {
        let t = b["manage_token"].as_str().unwrap().to_string();
        let app = &app;
        async move {
            app.client
                .delete(app.url(&format!("/api/v1/reservations/{t}")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let accepts = waiting.iter().map(|t| {
        let app = &app;
        let t = t.clone();
        async move {
            // Keep trying until offered (or told it never will be).
            for _ in 0..200 {
                let res = app
                    .post_json(&format!("/api/v1/waitlist/{t}/accept"), &json!({}))
                    .await;
                match res.status().as_u16() {
                    201 => {
                        return Some(
                            res.json::<Value>().await.unwrap()["slot"]["id"]
                                .as_str()
                                .unwrap()
                                .to_string(),
                        )
                    }
                    409 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                    s => panic!("accept answered {s}"),
                }
            }
            None
        }
    });
    let (cancelled, accepted) = tokio::join!(join_all(cancels), join_all(accepts));
    assert!(cancelled.iter().all(|s| *s == 200), "{cancelled:?}");
    let slots: Vec<String> = accepted.into_iter().flatten().collect();
    assert_eq!(
        slots.len(),
        10,
        "each freed seat went to one waiting resident"
    );
    let mut unique = slots.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "no seat given twice: {slots:?}");
    // The database agrees: every slot holds exactly its one booking, nothing held.
    let db = app.state.db.clone();
    let rows = db
        .run(|conn| {
            madoguchi::testing::list_slot_rows(
                conn,
                "city-hall",
                "2027-02-10".parse().unwrap(),
                "2027-02-10".parse().unwrap(),
            )
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    for r in rows {
        assert_eq!((r.booked, r.offer_held, r.capacity), (1, 0, 1), "{}", r.id);
    }
}

/// A voluntary proxy's booking by phone, with an address.
async fn proxy_booking(app: &TestApp, staff: &str, slot: &str) -> Value {
    let body = json!({
        "slot_id": slot, "procedure": "pin-reset", "applicant_type": "voluntary_proxy",
        "name": "代理 花子", "name_kana": "ダイリ ハナコ", "phone": "0748-11-2233",
        "representative_name": "代理人 一郎", "email": "proxy@example.jp",
    });
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/staff/reservations",
            Some(staff),
            Some(&body),
        )
        .await;
    let status = res.status();
    let r: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{r}");
    r
}

/// A voluntary proxy's first visit on 12 January, booked by phone at noon on 1 December.
struct Proxy {
    app: TestApp,
    phone: String,
    number: String,
    /// The first visit's manage token (from the mail the completion sends).
    manage: Option<String>,
}

async fn proxy_first_visit() -> Proxy {
    let app = spawn_app_with(jst("2026-12-01T12:00:00+09:00"), |_| {}).await;
    let phone = app.staff_token("operator", "phone").await;
    let first = proxy_booking(&app, &phone, "city-hall.2027-01-12.1000").await;
    assert_eq!(
        (first["visit"].as_i64(), first["visits"].as_i64()),
        (Some(1), Some(2))
    );
    let number = first["reservation_number"].as_str().unwrap().to_string();
    Proxy {
        app,
        phone,
        number,
        manage: None,
    }
}

/// The first visit checked in, called and completed at the desk; the manage token is read
/// from the mail about the second visit.
async fn proxy_after_first_visit() -> Proxy {
    let mut proxy = proxy_first_visit().await;
    let app = &proxy.app;
    app.clock.set(jst("2027-01-12T09:55:00+09:00"));
    let desk = app.staff_token("desk-1", "desk").await;
    let post = |path: &str, body: Value| {
        let (app, desk) = (app, desk.clone());
        let path = format!("/api/v1/desk/city-hall/{path}");
        async move {
            app.as_staff(Method::POST, &path, Some(&desk), Some(&body))
                .await
        }
    };
    post("check-ins", json!({"reservation_number": proxy.number})).await;
    let called: Value = post("calls", json!({"desk": "1"}))
        .await
        .json()
        .await
        .unwrap();
    let ticket = called["ticket"].as_str().unwrap().to_string();
    let done = post(&format!("tickets/{ticket}/complete"), json!({})).await;
    assert_eq!(done.status(), 200);
    app.drain_outbox().await;
    let mail = app
        .smtp
        .only_message_to("proxy@example.jp", "【2回目のご来庁について】");
    proxy.manage = Some(mail.link_token("/booking/manage"));
    proxy.phone = app.login("operator", STAFF_PASSWORD).await;
    proxy
}

impl Proxy {
    fn manage(&self) -> &str {
        self.manage
            .as_deref()
            .expect("the first visit was completed")
    }

    async fn book_second(&self, slot: &str) -> reqwest::Response {
        self.app
            .post_json(
                &format!("/api/v1/reservations/{}/second-visit", self.manage()),
                &json!({ "slot_id": slot }),
            )
            .await
    }

    async fn shown(&self) -> Value {
        self.app
            .get(&format!("/api/v1/reservations/{}", self.manage()))
            .await
            .json()
            .await
            .unwrap()
    }

    async fn second_on(&self, slot: &str) -> Value {
        let res = self.book_second(slot).await;
        let status = res.status();
        let second: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{second}");
        second
    }
}

#[tokio::test]
async fn no_second_visit_is_booked_before_the_first_is_completed() {
    let proxy = proxy_first_visit().await;
    let p = problem(
        proxy
            .app
            .as_staff(
                Method::POST,
                &format!("/api/v1/staff/reservations/{}/second-visit", proxy.number),
                Some(&proxy.phone),
                Some(&json!({"slot_id": "city-hall.2027-01-20.1000"})),
            )
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "first_visit_not_completed");
}

#[tokio::test]
async fn a_completed_first_visit_mails_and_shows_the_days_the_second_may_be() {
    let proxy = proxy_after_first_visit().await;
    let mail = proxy
        .app
        .smtp
        .only_message_to("proxy@example.jp", "【2回目のご来庁について】");
    for expected in [
        "照会書兼回答書",
        "2027年1月19日(火)",
        "2027年3月13日(土)",
        "委任状",
    ] {
        assert!(
            mail.text.contains(expected),
            "{expected:?} in:\n{}",
            mail.text
        );
    }
    assert_eq!(
        proxy.shown().await["second_visit"],
        json!({"bookable_from": "2027-01-19", "bookable_until": "2027-03-13", "reservation_number": null})
    );
}

#[tokio::test]
async fn the_second_visit_opens_min_days_after_and_does_not_count_as_an_active_booking() {
    let proxy = proxy_after_first_visit().await;
    // The same person holds an active booking for the procedure (their own errand).
    let again = json!({
        "slot_id": "city-hall.2027-01-26.1000", "procedure": "pin-reset", "applicant_type": "holder",
        "name": "代理 花子", "name_kana": "ダイリ ハナコ", "phone": "0748-11-2233",
    });
    let res = proxy.app.post_staff_reservation(&proxy.phone, &again).await;
    assert_eq!(res.status(), 201);
    // Six days after visit 1 is too early; seven days after, it is booked.
    let p = problem(proxy.book_second("city-hall.2027-01-18.1000").await, 409).await;
    assert_eq!(p["code"], "second_visit_too_early");
    assert!(p["detail"].as_str().unwrap().contains("2027-01-19"), "{p}");
    let second = proxy.second_on("city-hall.2027-01-19.1000").await;
    assert_eq!(
        (second["visit"].as_i64(), second["first_visit"].as_str()),
        (Some(2), Some(proxy.number.as_str()))
    );
    assert!(second["manage_token"].is_string());
    let reqs = second["requirements"].to_string();
    assert!(
        reqs.contains("照会書兼回答書") && reqs.contains("委任状"),
        "{reqs}"
    );
}

#[tokio::test]
async fn moving_the_second_visit_keeps_to_its_days() {
    let proxy = proxy_after_first_visit().await;
    let second = proxy.second_on("city-hall.2027-01-19.1000").await;
    let second_manage = second["manage_token"].as_str().unwrap();
    let move_to = |slot: &'static str| {
        let app = &proxy.app;
        let path = format!("/api/v1/reservations/{second_manage}/reschedule");
        async move { app.post_json(&path, &json!({ "slot_id": slot })).await }
    };
    let p = problem(move_to("city-hall.2027-01-18.1000").await, 409).await;
    assert_eq!(p["code"], "second_visit_too_early");
    let p = problem(move_to("city-hall.2027-03-15.1000").await, 409).await;
    assert_eq!(p["code"], "second_visit_too_late", "{p}");
    assert_eq!(move_to("city-hall.2027-01-21.1000").await.status(), 200);
    assert_eq!(move_to("city-hall.2027-01-19.1000").await.status(), 200);
}

#[tokio::test]
async fn a_first_visit_has_one_second_visit_and_shows_it() {
    let proxy = proxy_after_first_visit().await;
    let second = proxy.second_on("city-hall.2027-01-19.1000").await;
    let p = problem(proxy.book_second("city-hall.2027-01-20.1000").await, 409).await;
    assert_eq!(p["code"], "second_visit_exists");
    assert_eq!(
        proxy.shown().await["second_visit"]["reservation_number"],
        second["reservation_number"]
    );
}

#[tokio::test]
async fn a_holders_reservation_needs_no_second_visit() {
    let proxy = proxy_first_visit().await;
    let holder = json!({
        "slot_id": "city-hall.2027-01-26.1000", "procedure": "pin-reset", "applicant_type": "holder",
        "name": "本人 太郎", "name_kana": "ホンニン タロウ", "phone": "0748-11-9999",
    });
    let res = proxy
        .app
        .post_staff_reservation(&proxy.phone, &holder)
        .await;
    assert_eq!(res.status(), 201);
    let holder_number = res_number(&proxy.app, &proxy.phone, "2027-01-26").await;
    let p = problem(
        proxy
            .app
            .as_staff(
                Method::POST,
                &format!("/api/v1/staff/reservations/{holder_number}/second-visit"),
                Some(&proxy.phone),
                Some(&json!({"slot_id": "city-hall.2027-02-01.1000"})),
            )
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "second_visit_not_needed");
}

#[tokio::test]
async fn the_desks_queue_marks_a_second_visit_and_names_the_first() {
    let proxy = proxy_after_first_visit().await;
    let second = proxy.second_on("city-hall.2027-01-19.1000").await;
    let app = &proxy.app;
    app.clock.set(jst("2027-01-19T09:55:00+09:00"));
    let desk = app.login("desk-1", STAFF_PASSWORD).await;
    let n2 = second["reservation_number"].as_str().unwrap();
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/desk/city-hall/check-ins",
            Some(&desk),
            Some(&json!({"reservation_number": n2})),
        )
        .await;
    assert_eq!(res.status(), 201);
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
    assert_eq!(queue["waiting"][0]["visit"], 2, "{queue}");
    assert_eq!(
        queue["reservations"][0]["first_visit"],
        proxy.number.as_str()
    );
}

/// The reservation number of the person's booking on `date` (by search).
async fn res_number(app: &TestApp, staff: &str, date: &str) -> String {
    let r: Value = app
        .as_staff(
            Method::GET,
            &format!("/api/v1/staff/reservations?date={date}&counter=city-hall"),
            Some(staff),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    r["reservations"][0]["reservation_number"]
        .as_str()
        .unwrap()
        .to_string()
}
