use crate::helpers::{booking_body, jst, spawn_app, spawn_app_at, spawn_app_with};
use chrono::Duration;
use serde_json::{json, Value};

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

/// The month view is answered from memory: an unchanged range answers 304 to its ETag; a
/// booking made here shows in the very next read here, and one made by another instance
/// shows here within the watcher's interval (`calendar.watch_ms`; the time it took is
/// printed: `cargo test -- --nocapture availability_`).
#[tokio::test]
async fn availability_revalidates_with_304_and_a_booking_shows_here_at_once_and_on_every_instance_soon(
) {
    let app = spawn_app().await;
    let other = app.second_instance().await;
    let path = "/api/v1/counters/city-hall/availability?from=2027-01-04&to=2027-01-29";
    let get = |base: String, etag: Option<String>| {
        let client = app.client.clone();
        async move {
            let mut req = client.get(format!("{base}{path}"));
            if let Some(etag) = etag {
                req = req.header("if-none-match", etag);
            }
            let res = req.send().await.expect("availability");
            let status = res.status().as_u16();
            let etag = res
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            let body = res.text().await.expect("body");
            (status, etag, body)
        }
    };
    let slot = "city-hall.2027-01-12.1000";
    let remaining = |body: &str| -> u64 {
        let month: Value = serde_json::from_str(body).unwrap();
        day(&month, "2027-01-12")["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == slot)
            .unwrap()["remaining"]
            .as_u64()
            .unwrap()
    };
    let (status, etag, body) = get(app.address.clone(), None).await;
    assert_eq!(status, 200);
    let etag = etag.expect("an ETag");
    let month: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(month["days"].as_array().unwrap().len(), 26);
    assert!(
        month.get("now").is_none(),
        "the clock is in X-Madoguchi-Now"
    );
    // Nothing changed: 304 with no body, from either instance (the same state, the same tag).
    let (status, again, body) = get(app.address.clone(), Some(etag.clone())).await;
    assert_eq!(
        (status, again.as_deref(), body.as_str()),
        (304, Some(etag.as_str()), "")
    );
    assert_eq!(get(other.clone(), Some(etag.clone())).await.0, 304);
    let capacity = app.slot(slot).await["capacity"].as_u64().unwrap();

    // Booked through the other instance: it shows there in the very next read…
    let token = app.verified_token("other@example.jp").await;
    let res = app
        .client
        .post(format!("{other}/api/v1/reservations"))
        .json(&booking_body(&token, slot, 7))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let booked_at = std::time::Instant::now();
    let (status, fresh, body) = get(other.clone(), Some(etag.clone())).await;
    assert_eq!(status, 200);
    assert_ne!(fresh.as_deref(), Some(etag.as_str()));
    assert_eq!(remaining(&body), capacity - 1);
    // …and here once the watcher has seen it.
    let seen = loop {
        let (status, _, body) = get(app.address.clone(), Some(etag.clone())).await;
        if status == 200 && remaining(&body) == capacity - 1 {
            break booked_at.elapsed();
        }
        assert!(
            booked_at.elapsed() < std::time::Duration::from_secs(5),
            "another instance's booking never showed here"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    };
    println!(
        "{}: another instance's booking showed here after {} ms (calendar.watch_ms = {})",
        crate::helpers::backend(),
        seen.as_millis(),
        app.settings.calendar.watch_ms
    );
    // A closure of an empty day, made here, shows here at once and there soon.
    let admin = app.staff_token("chief", "admin").await;
    let res = app
        .as_staff(
            reqwest::Method::POST,
            "/api/v1/admin/counters/city-hall/closures",
            Some(&admin),
            Some(&json!({"date": "2027-01-28", "reason": "停電のため"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (_, _, body) = get(app.address.clone(), None).await;
    let month: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(day(&month, "2027-01-28")["closed_reason"], "closure");
    let closed_at = std::time::Instant::now();
    loop {
        let (_, _, body) = get(other.clone(), None).await;
        let month: Value = serde_json::from_str(&body).unwrap();
        if day(&month, "2027-01-28")["closed_reason"] == "closure" {
            break;
        }
        assert!(closed_at.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// The tag covers the clock's part too: at 12:00:00 on the 1st the same seats answer anew.
#[tokio::test]
async fn the_etag_changes_at_the_opening_second() {
    let app = spawn_app_at(jst("2026-12-01T11:59:59+09:00")).await;
    let path = "/api/v1/counters/city-hall/availability?from=2027-02-01&to=2027-02-28";
    let res = app.get(path).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let before: Value = res.json().await.unwrap();
    assert_eq!(day(&before, "2027-02-15")["bookable_now"], false);
    let revalidate = || {
        app.client
            .get(app.url(path))
            .header("if-none-match", etag.clone())
            .send()
    };
    assert_eq!(revalidate().await.unwrap().status(), 304);
    app.clock.advance(Duration::seconds(1)); // 12:00:00
    let res = revalidate().await.unwrap();
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_eq!(day(&after, "2027-02-15")["bookable_now"], true);
}
