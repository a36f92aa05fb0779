//! The contract as a client sees it: the generated spec, the error vocabulary in both
//! languages, authentication before bodies on every staff route, HEAD, CORS, metrics.

use crate::helpers::{booking_body, jst, problem, spawn_app, spawn_app_at, spawn_app_with};
use madoguchi::testing::{api_routes, Access};
use reqwest::Method;
use serde_json::{json, Value};

/// A concrete path for a route template (`{counter}` → `city-hall`, other parameters → junk
/// that is well-formed enough to reach the handler).
fn concrete(path: &str) -> String {
    path.replace("{counter}", "city-hall")
        .replace("{slot_id}", "city-hall.2027-01-04.0900")
        .replace("{date}", "2027-01-04")
        .replace("{ticket}", "W-001")
        .replace("{login}", "someone")
        .replace("{reservation_number}", "ACEF-HJKM")
        .replace("{manage_token}", &"A".repeat(43))
        .replace("{token}", &"A".repeat(43))
}

#[tokio::test]
async fn the_served_spec_is_openapi_3_1_and_names_every_route() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let spec: Value = res.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for r in api_routes() {
        let op = &spec["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} is described", r.method, r.path);
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn every_staff_route_checks_the_token_and_the_role_before_reading_the_body() {
    let app = spawn_app().await;
    let tokens = [
        ("phone", app.staff_token("p-user", "phone").await),
        ("desk", app.staff_token("d-user", "desk").await),
    ];
    let mut checked = 0;
    for r in api_routes() {
        let Access::Staff(roles) = r.access else {
            continue;
        };
        let path = concrete(r.path);
        let method = Method::from_bytes(r.method.as_str().as_bytes()).unwrap();
        // A body that is neither JSON nor declared as such: a route that read it first would
        // answer 400 or 415 and tell a stranger its shape.
        let send = |token: Option<&str>| {
            let mut req = app
                .client
                .request(method.clone(), app.url(&path))
                .header("content-type", "text/plain")
                .body("{{{ not json");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let p = problem(send(None).await.unwrap(), 401).await;
        assert_eq!(p["code"], "unauthenticated", "{} {}", r.method, r.path);
        let p = problem(send(Some(&"B".repeat(43))).await.unwrap(), 401).await;
        assert_eq!(p["code"], "unauthenticated", "{} {}", r.method, r.path);
        for (role, token) in &tokens {
            if !roles.iter().any(|x| x.as_str() == *role) {
                let p = problem(send(Some(token)).await.unwrap(), 403).await;
                assert_eq!(p["code"], "forbidden", "{role}: {} {}", r.method, r.path);
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "the table has the staff routes ({checked})");
}

#[tokio::test]
async fn the_desk_codes_say_what_happened_in_both_languages() {
    let app = spawn_app_at(jst("2026-12-20T10:00:00+09:00")).await;
    let phone = app.staff_token("operator", "phone").await;
    let book = |slot: &'static str, who: usize| {
        let body = json!({"slot_id": slot, "procedure": "pin-reset", "applicant_type": "holder",
            "name": format!("来庁 {who}"), "name_kana": format!("ライチョウ {}", crate::helpers::kana_suffix(who)),
            "phone": format!("0748{who:06}")});
        let app = &app;
        let phone = phone.clone();
        async move {
            let r: Value = app
                .as_staff(
                    Method::POST,
                    "/api/v1/staff/reservations",
                    Some(&phone),
                    Some(&body),
                )
                .await
                .json()
                .await
                .unwrap();
            r["reservation_number"].as_str().unwrap().to_string()
        }
    };
    let today = book("city-hall.2027-01-04.1000", 1).await;
    let tomorrow = book("city-hall.2027-01-05.1000", 2).await;
    let azuchi = book("azuchi.2027-01-04.1000", 3).await;
    app.clock.set(jst("2027-01-04T09:40:00+09:00"));
    let desk = app.staff_token("madoguchi", "desk").await;
    let post = |path: &str, body: Value, lang: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/desk/city-hall/{path}")))
            .bearer_auth(&desk)
            .header("accept-language", lang)
            .json(&body)
            .send()
    };
    let first = post("check-ins", json!({"reservation_number": today}), "en")
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let ticket = first.json::<Value>().await.unwrap()["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (
            "check-ins",
            json!({"reservation_number": today}),
            "already_checked_in",
            409,
            "This reservation is already checked in.",
            "この予約は受付済みです。",
            ticket.clone(),
        ),
        (
            "check-ins",
            json!({"reservation_number": tomorrow}),
            "not_today",
            409,
            "This reservation is not for today.",
            "この予約は本日の予約ではありません。",
            "2027-01-05".into(),
        ),
        (
            "check-ins",
            json!({"reservation_number": azuchi}),
            "wrong_counter",
            409,
            "This reservation is for another counter.",
            "この予約は別の窓口の予約です。",
            "azuchi".into(),
        ),
        (
            &*format!("tickets/{ticket}/complete"),
            json!({}),
            "ticket_not_called",
            409,
            "This ticket has not been called.",
            "この整理券はまだ呼び出されていません。",
            ticket.clone(),
        ),
    ];
    for (path, body, code, status, en, ja, specific) in cases {
        let p = problem(post(path, body.clone(), "en").await.unwrap(), status).await;
        assert_eq!(p["code"], code);
        assert_eq!(p["title"], en);
        assert!(p["detail"].as_str().unwrap().contains(&specific), "{p}");
        let p = problem(post(path, body, "ja").await.unwrap(), status).await;
        assert_eq!(p["title"], ja);
        let specific_ja = specific.replace("2027-01-05", "2027年1月5日");
        assert!(p["detail"].as_str().unwrap().contains(&specific_ja), "{p}");
    }
}

#[tokio::test]
async fn field_messages_follow_the_language_and_q_values_are_honoured() {
    let app = spawn_app().await;
    let token = app.verified_token("lang@example.jp").await;
    let mut body = booking_body(&token, "city-hall.2027-01-06.0900", 1);
    body["name_kana"] = json!("Yamada");
    let ask = |lang: &'static str| {
        app.client
            .post(app.url("/api/v1/reservations"))
            .header("accept-language", lang)
            .json(&body)
            .send()
    };
    let p = problem(ask("ja").await.unwrap(), 422).await;
    assert_eq!(p["errors"][0]["field"], "name_kana");
    assert_eq!(p["errors"][0]["message"], "全角カタカナで入力してください");
    assert_eq!(p["errors"][0]["code"], "not_katakana");
    let p = problem(ask("ja;q=0, en").await.unwrap(), 422).await;
    assert_eq!(
        p["errors"][0]["message"],
        "must be written in katakana (全角カタカナ)"
    );
    assert_eq!(p["title"], "Some fields are not valid.");
    let p = problem(ask("en;q=0.3, ja;q=0.8").await.unwrap(), 422).await;
    assert_eq!(p["title"], "入力内容に誤りがあります。");
    // A refusal's detail keeps its specifics in Japanese too.
    let res = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("accept-language", "ja")
        .json(&booking_body(&token, "city-hall.2027-03-01.0900", 2))
        .send()
        .await
        .unwrap();
    let p = problem(res, 409).await;
    assert_eq!(p["code"], "window_not_open");
    assert_eq!(
        p["detail"],
        "2027年3月1日の予約受付は 2027年1月1日 12:00 に始まります。"
    );
    assert_eq!(p["booking_opens_at"], "2027-01-01T12:00:00+09:00");
}

#[tokio::test]
async fn head_answers_every_get_route_without_a_body() {
    let app = spawn_app().await;
    for path in [
        "/healthz",
        "/api/v1/counters",
        "/api/v1/counters/city-hall/availability",
        "/",
    ] {
        let res = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.bytes().await.unwrap().is_empty(), "{path}");
    }
}

/// Prometheus text: every sample line is `name{labels} value`.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("sample: {l}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {l}"));
            let metric = name.split('{').next().unwrap();
            assert!(
                metric
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "metric name: {l}"
            );
            if let Some(labels) = name.strip_prefix(metric) {
                assert!(
                    labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                    "{l}"
                );
            }
            (name.to_string(), value)
        })
        .collect()
}

#[tokio::test]
async fn metrics_parse_and_move_when_a_booking_is_made() {
    let app = spawn_app().await;
    let value = |text: &str, name: &str| {
        samples(text)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or(0.0)
    };
    // The gauges read from the database are refreshed in the background (every few
    // seconds): wait for the one asked about.
    let metrics_when = |name: &'static str, want: f64| {
        let app = &app;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(12);
            loop {
                let text = app.get("/metrics").await.text().await.unwrap();
                if value(&text, name) == want || std::time::Instant::now() > deadline {
                    return text;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let before = app.get("/metrics").await.text().await.unwrap();
    let booked = r#"madoguchi_bookings_total{channel="web",outcome="booked"}"#;
    assert_eq!(value(&before, booked), 0.0);
    app.book_as(1, "city-hall.2027-01-06.0900").await;
    let after = metrics_when(r#"madoguchi_outbox{status="pending"}"#, 1.0).await;
    assert_eq!(value(&after, booked), 1.0);
    assert_eq!(
        value(&after, r#"madoguchi_outbox{status="pending"}"#),
        1.0,
        "{after}"
    );
    assert!(
        value(
            &after,
            r#"madoguchi_http_requests_total{method="POST",route="/api/v1/reservations",status="201"}"#
        ) >= 1.0
    );
    assert!(
        after.contains(r#"route="/api/v1/verifications/{token}""#)
            || !after.contains("verifications/A")
    );
    assert_eq!(
        value(&after, r#"madoguchi_queue_waiting{counter="city-hall"}"#),
        0.0
    );
    app.drain_outbox().await;
    let sent = metrics_when(r#"madoguchi_outbox{status="pending"}"#, 0.0).await;
    assert_eq!(
        value(
            &sent,
            r#"madoguchi_mail_sent_total{kind="booking_confirmed"}"#
        ),
        1.0
    );
    assert_eq!(value(&sent, r#"madoguchi_outbox{status="pending"}"#), 0.0);
}

#[tokio::test]
async fn a_configured_origin_may_call_the_api_from_a_browser() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.server.cors_allowed_origins = vec!["https://www.city.example.lg.jp".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/reservations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://www.city.example.lg.jp").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://www.city.example.lg.jp"
    );
    let res = app
        .client
        .get(app.url("/api/v1/counters"))
        .header("origin", "https://www.city.example.lg.jp")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://www.city.example.lg.jp"
    );
    // Another origin gets no permission to read, and the service's own pages are unaffected.
    let res = app
        .client
        .get(app.url("/api/v1/counters"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // Without the setting, nothing is allowed cross-origin.
    let plain = spawn_app().await;
    let res = plain
        .client
        .get(plain.url("/api/v1/counters"))
        .header("origin", "https://www.city.example.lg.jp")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
