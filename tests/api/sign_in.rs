//! Staff sign-in a city can sign off: a second factor (TOTP, recovery codes), networks per
//! role, common passwords refused, a staff member's own password change, an idle timeout and
//! a cap on sessions. Through HTTP, on both databases, at pinned seconds.

use chrono::Duration;
use madoguchi::clock::Clock;
use madoguchi::testing::totp_code_at;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{jst, problem, spawn_app_with, TestApp, STAFF_PASSWORD};

fn admins_need_a_second_factor(s: &mut madoguchi::config::Settings) {
    s.staff.require_totp_for = vec!["admin".into()];
}

impl TestApp {
    async fn sign_in(&self, login: &str, password: &str, totp: Option<&str>) -> reqwest::Response {
        let mut body = json!({ "login": login, "password": password });
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        self.client
            .post(self.staff_url("/api/v1/staff/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn me(&self, token: &str) -> reqwest::Response {
        self.as_staff(
            Method::GET,
            "/api/v1/staff/sessions/current",
            Some(token),
            None,
        )
        .await
    }

    /// Enrols `token`'s account: returns the secret and the recovery codes.
    async fn enrol(&self, token: &str) -> (String, Vec<String>) {
        let res = self
            .as_staff(Method::POST, "/api/v1/staff/me/totp", Some(token), None)
            .await;
        assert_eq!(res.status(), 201);
        let started: Value = res.json().await.unwrap();
        let secret = started["secret"].as_str().unwrap().to_string();
        let code = totp_code_at(&secret, self.clock.now()).unwrap();
        let res = self
            .as_staff(
                Method::POST,
                "/api/v1/staff/me/totp/confirm",
                Some(token),
                Some(&json!({ "totp": code })),
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let codes = body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        (secret, codes)
    }
}

#[tokio::test]
async fn an_administrator_enrols_before_doing_anything_else() {
    let app = spawn_app_with(
        jst("2026-11-24T10:00:00+09:00"),
        admins_need_a_second_factor,
    )
    .await;
    let token = app.staff_token("chief", "admin").await;
    let other = app.login("chief", STAFF_PASSWORD).await;
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["must_enrol_totp"], true);
    assert_eq!(me["totp_required"], true);
    assert_eq!(me["totp_enrolled"], false);
    // Nothing else until enrolled.
    let res = app
        .as_staff(Method::GET, "/api/v1/admin/staff", Some(&token), None)
        .await;
    assert_eq!(problem(res, 403).await["code"], "totp_enrolment_required");
    // Start: a secret, its URI and QR code.
    let res = app
        .as_staff(Method::POST, "/api/v1/staff/me/totp", Some(&token), None)
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let started: Value = res.json().await.unwrap();
    let secret = started["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 32, "20 bytes in base32");
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(started["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    // No code, or a wrong one, does not enrol.
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/staff/me/totp/confirm",
            Some(&token),
            Some(&json!({})),
        )
        .await;
    assert_eq!(problem(res, 422).await["errors"][0]["code"], "required");
    let now = app.clock.now();
    let wrong = totp_code_at(&secret, now - Duration::seconds(120)).unwrap();
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/staff/me/totp/confirm",
            Some(&token),
            Some(&json!({ "totp": wrong })),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(
        (
            p["errors"][0]["field"].as_str(),
            p["errors"][0]["code"].as_str()
        ),
        (Some("totp"), Some("wrong_code"))
    );
    // The right one does: ten recovery codes, shown once; the session may work; the other
    // session (a password alone) ends.
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/staff/me/totp/confirm",
            Some(&token),
            Some(&json!({ "totp": totp_code_at(&secret, now).unwrap() })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let codes: Value = res.json().await.unwrap();
    assert_eq!(codes["recovery_codes"].as_array().unwrap().len(), 10);
    let res = app
        .as_staff(Method::GET, "/api/v1/admin/staff", Some(&token), None)
        .await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["staff"][0]["totp_enrolled"], true);
    assert_eq!(app.me(&other).await.status(), 401);
    // Enrolled twice: refused.
    let res = app
        .as_staff(Method::POST, "/api/v1/staff/me/totp", Some(&token), None)
        .await;
    assert_eq!(problem(res, 409).await["code"], "totp_already_enrolled");
    let actions: Vec<String> = app
        .audit(&token)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(actions.contains(&"staff.totp_enrolment_start".to_string()));
    assert!(actions.contains(&"staff.totp_enrol".to_string()));
}

#[tokio::test]
async fn a_code_from_a_step_either_side_signs_in_once_and_no_further() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        admins_need_a_second_factor(s);
        // Five failures below: the throttle (its own tests) stays out of the way.
        s.staff.login_max_failures = 10;
    })
    .await;
    let token = app.staff_token("chief", "admin").await;
    let (secret, _) = app.enrol(&token).await;
    // Into the next steps, so the enrolment's own step is behind us.
    app.clock.advance(Duration::seconds(90));
    let now = app.clock.now();
    // No code: asked for it, and nothing counted against the login.
    let res = app.sign_in("chief", STAFF_PASSWORD, None).await;
    assert_eq!(problem(res, 401).await["code"], "second_factor_required");
    // A wrong password with no code: the same answer as ever (nothing of the code told).
    let res = app.sign_in("chief", "a-wrong-password", None).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");
    // The phone's clock 30 s behind, then 30 s ahead: both good, each once.
    let behind = totp_code_at(&secret, now - Duration::seconds(30)).unwrap();
    let ahead = totp_code_at(&secret, now + Duration::seconds(30)).unwrap();
    let res = app.sign_in("chief", STAFF_PASSWORD, Some(&behind)).await;
    assert_eq!(res.status(), 201);
    let res = app.sign_in("chief", STAFF_PASSWORD, Some(&ahead)).await;
    assert_eq!(res.status(), 201);
    // The code already used, and any code at or before the last step used: refused.
    for code in [&ahead, &behind, &totp_code_at(&secret, now).unwrap()] {
        let res = app.sign_in("chief", STAFF_PASSWORD, Some(code)).await;
        assert_eq!(problem(res, 401).await["code"], "second_factor_required");
    }
    // Two steps out: refused.
    app.clock.advance(Duration::seconds(120));
    let far = totp_code_at(&secret, app.clock.now() + Duration::seconds(60)).unwrap();
    let res = app.sign_in("chief", STAFF_PASSWORD, Some(&far)).await;
    assert_eq!(problem(res, 401).await["code"], "second_factor_required");
    // Each wrong code is a failed sign-in in the audit log, for the throttle.
    let admin = app
        .sign_in(
            "chief",
            STAFF_PASSWORD,
            Some(&totp_code_at(&secret, app.clock.now()).unwrap()),
        )
        .await;
    let token: Value = admin.json().await.unwrap();
    let failed = app
        .audit(token["token"].as_str().unwrap())
        .await
        .into_iter()
        .filter(|e| e["action"] == "staff.login_failed")
        .filter(|e| e["detail"]["failure"] == "second_factor")
        .count();
    assert_eq!(failed, 4);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app_with(
        jst("2026-11-24T10:00:00+09:00"),
        admins_need_a_second_factor,
    )
    .await;
    let token = app.staff_token("chief", "admin").await;
    let (_, codes) = app.enrol(&token).await;
    let code = codes[3].clone();
    let res = app
        .sign_in("chief", STAFF_PASSWORD, Some(&code.to_uppercase()))
        .await;
    assert_eq!(res.status(), 201, "typed in capitals: the same code");
    let session: Value = res.json().await.unwrap();
    let me: Value = app
        .me(session["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["recovery_codes_left"], 9);
    let res = app.sign_in("chief", STAFF_PASSWORD, Some(&code)).await;
    assert_eq!(problem(res, 401).await["code"], "second_factor_required");
}

#[tokio::test]
async fn an_administrator_removes_a_lost_second_factor() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.staff.require_totp_for = vec!["admin".into(), "desk".into()];
    })
    .await;
    let chief = app.staff_token("chief", "admin").await;
    app.enrol(&chief).await;
    let desk = app.staff_token("desk-1", "desk").await;
    app.enrol(&desk).await;
    let res = app
        .as_staff(
            Method::DELETE,
            "/api/v1/admin/staff/desk-1/totp",
            Some(&chief),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.me(&desk).await.status(), 401, "its sessions ended");
    // Nothing left to remove; and one's own is removed by someone else.
    for (login, code) in [("desk-1", "totp_not_enrolled"), ("chief", "own_totp")] {
        let res = app
            .as_staff(
                Method::DELETE,
                &format!("/api/v1/admin/staff/{login}/totp"),
                Some(&chief),
                None,
            )
            .await;
        assert_eq!(problem(res, 409).await["code"], code);
    }
    assert_eq!(app.me(&chief).await.status(), 200);
    // The desk signs in with a password again, and must enrol again.
    let res = app.sign_in("desk-1", STAFF_PASSWORD, None).await;
    assert_eq!(res.status(), 201);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["must_enrol_totp"], true);
}

#[tokio::test]
async fn staff_sign_in_only_from_their_networks() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.staff.allowed_networks = madoguchi::config::NetworksByRole::PerRole(
            [
                ("admin".to_string(), vec!["10.9.0.0/24".to_string()]),
                ("desk".to_string(), vec!["10.1.0.0/16".to_string()]),
            ]
            .into(),
        );
    })
    .await;
    let create = |login: &'static str, role: &'static str| {
        let app = &app;
        async move {
            let settings = app.settings.staff.clone();
            let now = app.clock.now();
            app.state
                .db
                .write(move |conn| {
                    let row = madoguchi::prepare_staff(
                        madoguchi::NewStaff {
                            login: login.into(),
                            display_name: login.into(),
                            role: role.into(),
                            password: STAFF_PASSWORD.into(),
                            counter: None,
                        },
                        &settings,
                        now,
                    )?;
                    madoguchi::create_staff(conn, row, "test", now)
                })
                .await
                .unwrap();
        }
    };
    create("chief", "admin").await;
    create("desk-1", "desk").await;
    let sign_in_from = |from: &'static str, login: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/staff/sessions"))
                .header("x-forwarded-for", from)
                .json(&json!({ "login": login, "password": STAFF_PASSWORD }))
                .send()
                .await
                .unwrap()
        }
    };
    // From outside every network: refused before the password is looked at.
    let res = sign_in_from("203.0.113.5", "chief").await;
    assert_eq!(problem(res, 403).await["code"], "network_not_allowed");
    // From the desks' network, an administrator: refused; a desk: in.
    let res = sign_in_from("10.1.4.4", "chief").await;
    assert_eq!(problem(res, 403).await["code"], "network_not_allowed");
    let res = sign_in_from("10.1.4.4", "desk-1").await;
    assert_eq!(res.status(), 201);
    let desk: Value = res.json().await.unwrap();
    let desk = desk["token"].as_str().unwrap();
    // The session taken outside the network is no use there.
    let res = app
        .client
        .get(app.url("/api/v1/desk/city-hall/queue"))
        .header("x-forwarded-for", "203.0.113.5")
        .bearer_auth(desk)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 403).await["code"], "network_not_allowed");
    let res = app
        .client
        .get(app.url("/api/v1/desk/city-hall/queue"))
        .header("x-forwarded-for", "10.1.4.4")
        .bearer_auth(desk)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = sign_in_from("10.9.0.7", "chief").await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn common_passwords_are_refused_wherever_a_password_is_set() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |_| {}).await;
    let chief = app.staff_token("chief", "admin").await;
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/admin/staff",
            Some(&chief),
            Some(&json!({ "login": "tanaka", "password": "password1234",
                          "role": "desk", "display_name": "田中" })),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["code"], "password_common", "{p}");
    let res = app
        .as_staff(
            Method::PUT,
            "/api/v1/staff/me/password",
            Some(&chief),
            Some(&json!({ "current_password": STAFF_PASSWORD,
                          "new_password": "qwertyuiop123" })),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(
        (
            p["errors"][0]["field"].as_str(),
            p["errors"][0]["code"].as_str()
        ),
        (Some("new_password"), Some("password_common")),
        "{p}"
    );
}

#[tokio::test]
async fn staff_change_their_own_password() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |_| {}).await;
    let token = app.staff_token("phone-1", "phone").await;
    let elsewhere = app.login("phone-1", STAFF_PASSWORD).await;
    let change = |current: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            app.as_staff(
                Method::PUT,
                "/api/v1/staff/me/password",
                Some(&token),
                Some(&json!({ "current_password": current,
                              "new_password": "hollow-tangerine-lamp-37" })),
            )
            .await
        }
    };
    // Empty fields, and the same password again: told without counting a failure.
    let res = app
        .as_staff(
            Method::PUT,
            "/api/v1/staff/me/password",
            Some(&token),
            Some(&json!({})),
        )
        .await;
    let p = problem(res, 422).await;
    let fields: Vec<(&str, &str)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("current_password", "required"),
            ("new_password", "required")
        ]
    );
    let res = app
        .as_staff(
            Method::PUT,
            "/api/v1/staff/me/password",
            Some(&token),
            Some(&json!({ "current_password": STAFF_PASSWORD,
                          "new_password": STAFF_PASSWORD })),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["code"], "password_unchanged", "{p}");
    let p = problem(change("not-my-password").await, 422).await;
    assert_eq!(p["errors"][0]["field"], "current_password");
    assert_eq!(p["errors"][0]["code"], "wrong_password");
    assert_eq!(change(STAFF_PASSWORD).await.status(), 204);
    // This session goes on; the other ended; the old password is gone.
    assert_eq!(app.me(&token).await.status(), 200);
    assert_eq!(app.me(&elsewhere).await.status(), 401);
    let res = app.sign_in("phone-1", STAFF_PASSWORD, None).await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");
    let res = app
        .sign_in("phone-1", "hollow-tangerine-lamp-37", None)
        .await;
    assert_eq!(res.status(), 201);
    let admin = app.staff_token("chief", "admin").await;
    let entries = app.audit(&admin).await;
    assert!(entries
        .iter()
        .any(|e| e["action"] == "staff.password_change" && e["target"] == "phone-1"));
    let failures = entries
        .iter()
        .filter(|e| e["action"] == "staff.login_failed")
        .filter(|e| e["detail"]["failure"] == "password_change")
        .count();
    assert_eq!(failures, 1, "only the wrong current password counted");
}

#[tokio::test]
async fn an_unused_session_ends_after_the_idle_minutes() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.staff.idle_minutes = 30;
    })
    .await;
    let token = app.staff_token("desk-1", "desk").await;
    // Used every 29 minutes, it lives on.
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(29));
        assert_eq!(app.me(&token).await.status(), 200);
    }
    // Left for 30 minutes, it ends.
    app.clock.advance(Duration::minutes(30));
    assert_eq!(
        problem(app.me(&token).await, 401).await["code"],
        "unauthenticated"
    );
}

#[tokio::test]
async fn a_new_sign_in_beyond_the_cap_ends_the_oldest_session() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.staff.max_sessions = 3;
    })
    .await;
    let first = app.staff_token("phone-1", "phone").await;
    let mut later = Vec::new();
    for _ in 0..3 {
        app.clock.advance(Duration::seconds(1));
        later.push(app.login("phone-1", STAFF_PASSWORD).await);
    }
    assert_eq!(app.me(&first).await.status(), 401, "the oldest ended");
    for t in &later {
        assert_eq!(app.me(t).await.status(), 200);
    }
}
