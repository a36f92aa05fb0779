use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn an_unknown_path_is_a_problem_not_text() {
    let app = spawn_app().await;
    let p = problem(app.get("/api/v1/nothing-here").await, 404).await;
    assert_eq!(p["code"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_405_problem() {
    let app = spawn_app().await;
    let res = app
        .client
        .delete(app.url("/api/v1/counters"))
        .send()
        .await
        .unwrap();
    let p = problem(res, 405).await;
    assert_eq!(p["code"], "method_not_allowed");
}

#[tokio::test]
async fn an_unknown_counter_is_counter_not_found() {
    let app = spawn_app().await;
    let p = problem(
        app.get("/api/v1/counters/osaka/availability?from=2027-01-04&to=2027-01-05")
            .await,
        404,
    )
    .await;
    assert_eq!(p["code"], "counter_not_found");
}

#[tokio::test]
async fn a_malformed_query_is_bad_request() {
    let app = spawn_app().await;
    for q in [
        "from=2027-13-01&to=2027-01-05",
        "from=tomorrow",
        "from=2027-01-04&to=2027-02-30",
    ] {
        let p = problem(
            app.get(&format!("/api/v1/counters/city-hall/availability?{q}"))
                .await,
            400,
        )
        .await;
        assert_eq!(p["code"], "bad_request", "{q}");
    }
}

#[tokio::test]
async fn more_than_62_days_or_a_reversed_range_is_422() {
    let app = spawn_app().await;
    // 62 days inclusive is allowed, 63 is not.
    let ok = app
        .get("/api/v1/counters/city-hall/availability?from=2027-01-01&to=2027-03-03")
        .await;
    assert_eq!(ok.status(), 200);
    let p = problem(
        app.get("/api/v1/counters/city-hall/availability?from=2027-01-01&to=2027-03-04")
            .await,
        422,
    )
    .await;
    assert_eq!(p["code"], "validation_failed");
    assert_eq!(p["errors"][0]["field"], "to");
    let p = problem(
        app.get("/api/v1/counters/city-hall/availability?from=2027-01-05&to=2027-01-04")
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "to");
}

#[tokio::test]
async fn problems_speak_japanese_when_asked() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/counters/osaka/availability"))
        .header("Accept-Language", "ja,en;q=0.8")
        .send()
        .await
        .unwrap();
    let p = problem(res, 404).await;
    assert_eq!(p["code"], "counter_not_found");
    assert_eq!(p["title"], "指定された窓口はありません。");
    let res = app
        .client
        .get(app.url("/nope"))
        .header("Accept-Language", "en-GB,ja;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 404).await["title"], "Nothing is here.");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"]["kind"], crate::helpers::backend());
    assert_eq!(body["database"]["status"], "up");
    assert_eq!(
        (body["status"].as_str(), body["mail"]["status"].as_str()),
        (Some("ready"), Some("up"))
    );
    // The relay down: degraded, still ready (bookings wait in the outbox).
    app.smtp.set_down(true);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["mail"]["status"].as_str()),
        (Some("degraded"), Some("down"))
    );
    assert_eq!(body["mail"]["kind"], "smtp");
    // No rehearsal clock: no rehearsal headers.
    assert!(app
        .get("/healthz")
        .await
        .headers()
        .get("x-madoguchi-clock")
        .is_none());
}
