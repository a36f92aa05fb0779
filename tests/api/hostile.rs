//! What a hostile probe found, each checked through HTTP: the My Number guard in every field,
//! clean and bounded text, dates in range, no caching of personal data, slow clients cut off,
//! broken bodies refused before anything is written.

use crate::helpers::{booking_body, jst, problem, spawn_app, spawn_app_with, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration as StdDuration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SLOT: &str = "city-hall.2027-01-06.0900";

async fn book_with(
    app: &TestApp,
    who: usize,
    change: impl FnOnce(&mut Value),
) -> reqwest::Response {
    let token = app
        .verified_token(&format!("hostile{who}@example.jp"))
        .await;
    let mut body = booking_body(&token, SLOT, who);
    change(&mut body);
    app.book(&body).await
}

#[tokio::test]
async fn an_individual_number_is_refused_however_it_is_written_and_nothing_is_stored() {
    let app = spawn_app().await;
    let disguised = [
        ("notes", json!("0748365560 123456789018")),
        ("notes", json!("マイナンバー 1234 5678 9018 2枚目")),
        ("notes", json!("1234.5678.9018")),
        ("notes", json!("1234/5678/9018")),
        ("notes", json!("1,234,567,890,18")),
        ("notes", json!("1234_5678_9018")),
        ("notes", json!("[1234][5678][9018]")),
        ("notes", json!("1234\u{200B}5678\u{200B}9018")),
        ("notes", json!("١٢٣٤٥٦٧٨٩٠١٨")),
        ("name", json!("山田 １２３４５６７８９０１８")),
        ("representative_name", json!("山田\n1234 5678 9018")),
    ];
    for (i, (field, value)) in disguised.into_iter().enumerate() {
        let res = book_with(&app, i, |b| {
            b["applicant_type"] = json!("legal_representative");
            b["representative_name"] = json!("山田 花子");
            b[field] = value.clone();
        })
        .await;
        let p = problem(res, 422).await;
        assert_eq!(p["code"], "contains_individual_number", "{field}: {value}");
        assert!(p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == field));
    }
    assert_eq!(app.slot(SLOT).await["remaining"], 3, "nothing was booked");
    // Staff fields too: a display name, a login, a desk's name, a reason.
    let admin = app.staff_token("chief", "admin").await;
    let staff = |login: &str, name: &str| json!({"login": login, "password": "a-long-enough-password", "role": "desk", "display_name": name});
    for body in [
        staff("desk-2", "田中 1234-5678-9018"),
        staff("d123456789018", "田中"),
    ] {
        let res = app
            .as_staff(
                Method::POST,
                "/api/v1/admin/staff",
                Some(&admin),
                Some(&body),
            )
            .await;
        assert_eq!(
            problem(res, 422).await["code"],
            "contains_individual_number",
            "{body}"
        );
    }
    let desk = app.staff_token("desk-1", "desk").await;
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/desk/city-hall/calls",
            Some(&desk),
            Some(&json!({"desk": "1234 5678 9018"})),
        )
        .await;
    assert_eq!(
        problem(res, 422).await["code"],
        "contains_individual_number"
    );
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/admin/counters/city-hall/closures",
            Some(&admin),
            Some(&json!({"date": "2027-01-19", "reason": "番号 1234 5678 9018"})),
        )
        .await;
    assert_eq!(
        problem(res, 422).await["code"],
        "contains_individual_number"
    );
    // The verification address, local part included.
    let res = app.post_verification("1234.5678.9018@example.jp").await;
    assert_eq!(
        problem(res, 422).await["code"],
        "contains_individual_number"
    );
}

#[tokio::test]
async fn text_is_clean_and_bounded_everywhere() {
    let app = spawn_app().await;
    // Only invisible characters is no name.
    let res = book_with(&app, 1, |b| b["name"] = json!("\u{200B}\u{200D}\u{FEFF}")).await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "name");
    assert_eq!(p["errors"][0]["code"], "invisible_only");
    // A line break or an escape sequence in a one-line field.
    for name in ["山田\n太郎", "山田\u{1b}[2J太郎"] {
        let res = book_with(&app, 2, |b| b["name"] = json!(name)).await;
        assert_eq!(
            problem(res, 422).await["errors"][0]["code"],
            "control_characters"
        );
    }
    // Too long.
    let res = book_with(&app, 3, |b| b["notes"] = json!("あ".repeat(501))).await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "too_long");
    // Staff reasons go into residents' mails: no control characters.
    let phone = app.staff_token("operator", "phone").await;
    let booked = app.book_as(4, SLOT).await;
    let number = booked["reservation_number"].as_str().unwrap();
    let res = app
        .as_staff(
            Method::POST,
            &format!("/api/v1/staff/reservations/{number}/cancel"),
            Some(&phone),
            Some(&json!({"reason": "取消\u{1b}[31m\r\nBcc: victim@example.jp"})),
        )
        .await;
    assert_eq!(
        problem(res, 422).await["errors"][0]["code"],
        "control_characters"
    );
    // The desk's name goes to the public screen: a short label only.
    let desk = app.staff_token("desk-1", "desk").await;
    for (name, code) in [
        ("<b>", "not_label"),
        ("", "required"),
        (&*"窓".repeat(9), "too_long"),
    ] {
        let res = app
            .as_staff(
                Method::POST,
                "/api/v1/desk/city-hall/calls",
                Some(&desk),
                Some(&json!({ "desk": name })),
            )
            .await;
        assert_eq!(problem(res, 422).await["errors"][0]["code"], code, "{name}");
    }
}

#[tokio::test]
async fn dates_outside_1900_to_2100_are_refused() {
    let app = spawn_app().await;
    let res = app
        .get("/api/v1/counters/city-hall/availability?from=0000-01-01&to=0000-01-02")
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "from");
    assert_eq!(p["errors"][0]["code"], "date_out_of_range");
    assert!(!p.to_string().contains("+09:19"), "no local mean time");
    let res = app
        .get("/api/v1/counters/city-hall/availability?from=2101-01-01")
        .await;
    assert_eq!(problem(res, 422).await["code"], "validation_failed");
    let res = book_with(&app, 1, |b| {
        b["slot_id"] = json!("city-hall.0001-01-04.0900")
    })
    .await;
    assert_eq!(problem(res, 404).await["code"], "slot_not_found");
    let admin = app.staff_token("chief", "admin").await;
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/admin/counters/city-hall/closures",
            Some(&admin),
            Some(&json!({"date": "1899-12-31", "reason": "試験"})),
        )
        .await;
    assert_eq!(
        problem(res, 422).await["errors"][0]["code"],
        "date_out_of_range"
    );
}

#[tokio::test]
async fn answers_with_personal_data_or_tokens_are_never_cached() {
    let app = spawn_app().await;
    let token = app.verified_token("cache@example.jp").await;
    let res = app.get(&format!("/api/v1/verifications/{token}")).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = app.book(&booking_body(&token, SLOT, 1)).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let manage: Value = res.json().await.unwrap();
    let manage = manage["manage_token"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/reservations/{manage}")).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = app
        .post_json(
            "/api/v1/staff/sessions",
            &json!({"login": "nobody", "password": "x"}),
        )
        .await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let admin = app.staff_token("chief", "admin").await;
    for path in [
        "/api/v1/staff/reservations?date=2027-01-06",
        "/api/v1/admin/audit",
        "/api/v1/desk/city-hall/queue",
    ] {
        let res = app.as_staff(Method::GET, path, Some(&admin), None).await;
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    // The public calendar may be kept a second by a shared cache (a storm's reloads reach the
    // service once a second); staff answers never are.
    for path in [
        "/api/v1/counters/city-hall/availability",
        "/api/v1/counters",
        "/api/v1/procedures",
    ] {
        let res = app.get(path).await;
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=1, stale-while-revalidate=5",
            "{path}"
        );
    }
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/counters/city-hall/availability",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.headers()["cache-control"], "private, no-store");
}

#[tokio::test]
async fn a_walk_in_with_a_broken_body_gets_no_ticket() {
    let app = spawn_app_with(jst("2027-01-04T09:00:00+09:00"), |_| {}).await;
    let desk = app.staff_token("desk-1", "desk").await;
    let res = app
        .client
        .post(app.url("/api/v1/desk/city-hall/walk-ins"))
        .bearer_auth(&desk)
        .header("content-type", "application/json")
        .body("{\"procedure\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["code"], "bad_request");
    let res = app
        .client
        .post(app.url("/api/v1/desk/city-hall/walk-ins"))
        .bearer_auth(&desk)
        .header("content-type", "application/json")
        .body("{\"procedure\": 7}")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "procedure");
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
    assert!(queue["waiting"].as_array().unwrap().is_empty(), "{queue}");
    // An empty body is a walk-in without a procedure.
    let res = app
        .client
        .post(app.url("/api/v1/desk/city-hall/walk-ins"))
        .bearer_auth(&desk)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_body_trickled_byte_by_byte_is_cut_off() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.server.body_timeout_seconds = 1;
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /api/v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{",
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        // One byte every half second: never finishes by itself.
        let _ = stream.write_all(b" ").await;
        match tokio::time::timeout(StdDuration::from_millis(500), stream.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                    break;
                }
            }
            Ok(Err(_)) => break,
            Err(_) => {}
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(10),
            "the connection was held"
        );
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
}
