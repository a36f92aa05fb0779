use crate::helpers::{jst, spawn_app, spawn_app_at, spawn_app_with};
use chrono::Duration;
use serde_json::Value;

fn day<'a>(body: &'a Value, date: &str) -> &'a Value {
    body["days"]
        .as_array()
        .expect("days")
        .iter()
        .find(|d| d["date"] == date)
        .expect("day present")
}

#[tokio::test]
async fn city_hall_in_early_january_2027() {
    let app = spawn_app().await;
    let body = app
        .availability("city-hall", "2027-01-04", "2027-01-15")
        .await;
    assert_eq!(body["counter"], "city-hall");
    assert_eq!(body["days"].as_array().unwrap().len(), 12);

    let monday = day(&body, "2027-01-04");
    assert_eq!(monday["open"], true);
    assert_eq!(monday["closed_reason"], Value::Null);
    assert_eq!(monday["hours"]["opens"], "09:00");
    assert_eq!(monday["hours"]["closes"], "16:30");
    assert_eq!(monday["booking_opens_at"], "2026-11-01T12:00:00+09:00");
    assert_eq!(monday["booking_closes_at"], "2027-01-01T07:00:00+09:00");
    let slots = monday["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 15);
    assert_eq!(slots[0]["starts_at"], "2027-01-04T09:00:00+09:00");
    assert_eq!(slots[0]["ends_at"], "2027-01-04T09:30:00+09:00");
    assert_eq!(slots[14]["starts_at"], "2027-01-04T16:00:00+09:00");
    assert_eq!(slots[0]["capacity"], 3);
    assert_eq!(slots[0]["remaining"], 3);
    assert_eq!(slots[0]["bookable"], true);

    assert_eq!(day(&body, "2027-01-09")["closed_reason"], "weekend");
    assert_eq!(day(&body, "2027-01-09")["open"], false);
    assert_eq!(
        day(&body, "2027-01-09")["slots"].as_array().unwrap().len(),
        0
    );
    assert_eq!(day(&body, "2027-01-11")["closed_reason"], "holiday");
    for d in ["2027-01-05", "2027-01-08", "2027-01-12", "2027-01-15"] {
        assert_eq!(day(&body, d)["slots"].as_array().unwrap().len(), 15, "{d}");
    }
}

#[tokio::test]
async fn the_year_end_break_and_a_substitute_holiday_are_closed() {
    let app = spawn_app().await;
    let body = app
        .availability("city-hall", "2026-12-28", "2027-01-04")
        .await;
    assert_eq!(day(&body, "2026-12-28")["open"], true);
    for d in [
        "2026-12-29",
        "2026-12-30",
        "2026-12-31",
        "2027-01-01",
        "2027-01-02",
        "2027-01-03",
    ] {
        assert_eq!(day(&body, d)["closed_reason"], "year_end", "{d}");
    }
    assert_eq!(day(&body, "2027-01-04")["open"], true);
    assert_eq!(
        app.day("city-hall", "2027-03-22").await["closed_reason"],
        "holiday"
    );
    assert_eq!(app.day("city-hall", "2027-03-23").await["open"], true);
}

#[tokio::test]
async fn azuchi_opens_at_half_past_eight_with_one_seat_a_slot() {
    let app = spawn_app().await;
    let d = app.day("azuchi", "2027-01-04").await;
    let slots = d["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 17);
    assert_eq!(slots[0]["starts_at"], "2027-01-04T08:30:00+09:00");
    assert_eq!(slots[16]["ends_at"], "2027-01-04T17:00:00+09:00");
    assert_eq!(slots[0]["capacity"], 1);
}

#[tokio::test]
async fn a_holiday_issuance_day_and_a_closure_from_configuration() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.counters[0]
            .holiday_issuance_dates
            .insert("2027-01-10".parse().unwrap());
        s.counters[0]
            .closure_dates
            .insert("2027-01-12".parse().unwrap());
    })
    .await;
    let sunday = app.day("city-hall", "2027-01-10").await;
    assert_eq!(sunday["open"], true);
    assert_eq!(sunday["holiday_issuance"], true);
    assert_eq!(sunday["hours"]["opens"], "08:30");
    assert_eq!(sunday["slots"].as_array().unwrap().len(), 7);
    assert_eq!(
        app.day("city-hall", "2027-01-12").await["closed_reason"],
        "closure"
    );
    // Azuchi has no holiday issuance: its Sunday stays closed.
    assert_eq!(
        app.day("azuchi", "2027-01-10").await["closed_reason"],
        "weekend"
    );
}

#[tokio::test]
async fn february_becomes_bookable_at_noon_on_the_first_of_december() {
    let app = spawn_app_at(jst("2026-12-01T11:59:58+09:00")).await;
    let feb = app
        .availability("city-hall", "2027-02-01", "2027-02-28")
        .await;
    for d in feb["days"].as_array().unwrap() {
        assert_eq!(d["bookable_now"], false, "{}", d["date"]);
        assert!(d["slots"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["bookable"] == false));
    }
    app.clock.advance(Duration::seconds(1)); // 11:59:59
    assert_eq!(
        app.day("city-hall", "2027-02-15").await["bookable_now"],
        false
    );
    app.clock.advance(Duration::seconds(1)); // 12:00:00
    let feb = app
        .availability("city-hall", "2027-02-01", "2027-02-28")
        .await;
    for d in feb["days"].as_array().unwrap() {
        assert_eq!(d["bookable_now"], d["open"], "{}", d["date"]);
    }
    assert_eq!(day(&feb, "2027-02-15")["slots"][0]["bookable"], true);
    // March is still a month away.
    assert_eq!(
        app.day("city-hall", "2027-03-01").await["bookable_now"],
        false
    );
}

#[tokio::test]
async fn a_day_stops_being_bookable_at_seven_three_days_before() {
    let app = spawn_app_at(jst("2027-01-12T06:59:59+09:00")).await;
    assert_eq!(
        app.day("city-hall", "2027-01-15").await["bookable_now"],
        true
    );
    app.clock.advance(Duration::seconds(1));
    let d = app.day("city-hall", "2027-01-15").await;
    assert_eq!(d["bookable_now"], false);
    assert_eq!(d["slots"][0]["bookable"], false);
    assert_eq!(
        app.day("city-hall", "2027-01-18").await["bookable_now"],
        true
    );
}

#[tokio::test]
async fn counters_and_procedures_are_listed() {
    let app = spawn_app().await;
    let body: Value = app.get("/api/v1/counters").await.json().await.unwrap();
    let counters = body["counters"].as_array().unwrap();
    assert_eq!(counters.len(), 2);
    assert_eq!(counters[0]["id"], "city-hall");
    assert_eq!(counters[0]["name"], "近江八幡市役所 マイナンバー特設窓口");
    assert_eq!(counters[0]["timezone"], "Asia/Tokyo");
    assert!(counters[0]["address"]
        .as_str()
        .unwrap()
        .contains("近江八幡市"));
    assert_eq!(counters[1]["id"], "azuchi");

    let body: Value = app.get("/api/v1/procedures").await.json().await.unwrap();
    let procs = body["procedures"].as_array().unwrap();
    let ids: Vec<_> = procs.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "pin-reset",
            "pin-change",
            "cert-renewal",
            "cert-new",
            "face-auth-switch"
        ]
    );
    let reset = &procs[0];
    assert!(reset["name"].as_str().unwrap().contains("暗証番号"));
    assert_eq!(reset["name_en"], "PIN reset / lock release");
    assert!(reset["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("コンビニ")));
    assert!(reset["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("スマホ用電子証明書")));
    assert_eq!(reset["applicants"]["holder"]["visits"], 1);
    assert_eq!(reset["applicants"]["voluntary_proxy"]["visits"], 2);
    assert!(!reset["applicants"]["legal_representative"]["requirements"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn without_dates_availability_shows_the_coming_week() {
    let app = spawn_app_at(jst("2027-01-04T08:00:00+09:00")).await;
    let body: Value = app
        .get("/api/v1/counters/city-hall/availability")
        .await
        .json()
        .await
        .unwrap();
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[0]["date"], "2027-01-04");
}
