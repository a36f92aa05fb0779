//! Administration: capacity, closures, the audit log, the outbox, accounts.

use crate::helpers::{booking_body, problem, spawn_app, STAFF_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn capacity_never_goes_below_what_is_booked() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    let slot = "city-hall.2027-01-18.0900";
    app.book_as(1, slot).await;
    app.book_as(2, slot).await;
    let path = format!("/api/v1/admin/slots/{slot}");
    let p = problem(
        app.as_staff(
            Method::PUT,
            &path,
            Some(&admin),
            Some(&json!({ "capacity": 1 })),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "capacity_below_booked");
    assert_eq!(p["booked"], 2);
    let res = app
        .as_staff(
            Method::PUT,
            &path,
            Some(&admin),
            Some(&json!({ "capacity": 2 })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (
            body["capacity"].as_i64(),
            body["booked"].as_i64(),
            body["remaining"].as_i64()
        ),
        (Some(2), Some(2), Some(0))
    );
    // Full now: the next resident is turned away.
    let token = app.verified_token("third@example.jp").await;
    assert_eq!(
        problem(app.book(&booking_body(&token, slot, 3)).await, 409).await["code"],
        "slot_full"
    );
    // Raised for a busy day: availability shows it.
    let res = app
        .as_staff(
            Method::PUT,
            &path,
            Some(&admin),
            Some(&json!({ "capacity": 6 })),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.slot(slot).await["capacity"], 6);
    assert_eq!(app.slot(slot).await["remaining"], 4);
    // Nonsense is refused clearly.
    let p = problem(
        app.as_staff(
            Method::PUT,
            &path,
            Some(&admin),
            Some(&json!({ "capacity": -1 })),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "capacity");
    let res = app
        .as_staff(
            Method::PUT,
            "/api/v1/admin/slots/city-hall.2027-01-18.0915",
            Some(&admin),
            Some(&json!({ "capacity": 2 })),
        )
        .await;
    assert_eq!(problem(res, 404).await["code"], "slot_not_found");
}

#[tokio::test]
async fn closing_a_day_with_reservations_cancels_them_and_mails_each_resident_once() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    let phone = app.staff_token("operator", "phone").await;
    let day = "2027-01-19";
    app.book_as(1, &format!("city-hall.{day}.0900")).await;
    app.book_as(2, &format!("city-hall.{day}.1400")).await;
    // A phone booking with no address: cancelled too, but nobody to mail.
    let res = app
        .as_staff(
            Method::POST,
            "/api/v1/staff/reservations",
            Some(&phone),
            Some(&json!({"slot_id": format!("city-hall.{day}.1000"), "procedure": "cert-renewal", "applicant_type": "holder",
                          "name": "電話 次郎", "name_kana": "デンワ ジロウ", "phone": "0748-11-2233"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.drain_outbox().await;
    let before = app.smtp.messages().len();

    let path = "/api/v1/admin/counters/city-hall/closures";
    let p = problem(
        app.as_staff(
            Method::POST,
            path,
            Some(&admin),
            Some(&json!({ "date": day, "reason": "停電のため" })),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "day_has_reservations");
    assert_eq!(
        app.day("city-hall", day).await["open"],
        true,
        "nothing changed"
    );

    let res = app
        .as_staff(
            Method::POST,
            path,
            Some(&admin),
            Some(&json!({ "date": day, "reason": "停電のため", "cancel_reservations": true })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["cancelled_reservations"].as_array().unwrap().len(), 3);
    let d = app.day("city-hall", day).await;
    assert_eq!(
        (d["open"].clone(), d["closed_reason"].clone()),
        (json!(false), json!("closure"))
    );

    assert_eq!(app.drain_outbox().await.sent, 2);
    assert_eq!(app.smtp.messages().len(), before + 2);
    for who in ["resident1@example.jp", "resident2@example.jp"] {
        let m = app.smtp.only_message_to(who, "予約キャンセル");
        assert!(m.text.contains("停電のため"));
    }
    // The day takes no bookings now, by web or phone, and cannot be closed twice.
    let token = app.verified_token("late@example.jp").await;
    assert_eq!(
        problem(
            app.book(&booking_body(&token, &format!("city-hall.{day}.1500"), 9))
                .await,
            409
        )
        .await["code"],
        "day_closed"
    );
    let again = app
        .as_staff(
            Method::POST,
            path,
            Some(&admin),
            Some(&json!({ "date": day, "reason": "x" })),
        )
        .await;
    assert_eq!(problem(again, 409).await["code"], "day_already_closed");
    // The other counter is unaffected.
    assert_eq!(app.day("azuchi", day).await["open"], true);
}

#[tokio::test]
async fn every_staff_write_is_in_the_audit_log() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    let phone = app.staff_token("operator", "phone").await;
    let mk = json!({ "login": "desk-1", "password": STAFF_PASSWORD, "role": "desk", "display_name": "窓口 一郎" });
    assert_eq!(
        app.as_staff(Method::POST, "/api/v1/admin/staff", Some(&admin), Some(&mk))
            .await
            .status(),
        201
    );
    let dup = app
        .as_staff(Method::POST, "/api/v1/admin/staff", Some(&admin), Some(&mk))
        .await;
    assert_eq!(problem(dup, 409).await["code"], "login_taken");
    let weak =
        json!({ "login": "desk-2", "password": "short", "role": "boss", "display_name": "" });
    let p = problem(
        app.as_staff(
            Method::POST,
            "/api/v1/admin/staff",
            Some(&admin),
            Some(&weak),
        )
        .await,
        422,
    )
    .await;
    let fields: Vec<_> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["role", "display_name", "password"]);
    app.login("desk-1", STAFF_PASSWORD).await;
    let booked: Value = app
        .as_staff(
            Method::POST,
            "/api/v1/staff/reservations",
            Some(&phone),
            Some(&json!({"slot_id": "azuchi.2027-01-20.0900", "procedure": "pin-change", "applicant_type": "holder",
                          "name": "監査 太郎", "name_kana": "カンサ タロウ", "phone": "090-1111-2222"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let number = booked["reservation_number"].as_str().unwrap();
    app.as_staff(
        Method::POST,
        &format!("/api/v1/staff/reservations/{number}/cancel"),
        Some(&phone),
        Some(&json!({"reason": "重複"})),
    )
    .await;
    app.as_staff(
        Method::PUT,
        "/api/v1/admin/slots/azuchi.2027-01-20.0900",
        Some(&admin),
        Some(&json!({"capacity": 2})),
    )
    .await;
    app.as_staff(
        Method::POST,
        "/api/v1/admin/counters/azuchi/closures",
        Some(&admin),
        Some(&json!({"date": "2027-01-21", "reason": "研修"})),
    )
    .await;
    app.as_staff(
        Method::DELETE,
        "/api/v1/staff/sessions/current",
        Some(&phone),
        None,
    )
    .await;

    let entries = app.audit(&admin).await;
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["staff"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    for expected in [
        ("staff.create", "chief"),
        ("staff.login", "desk-1"),
        ("reservation.book", "operator"),
        ("reservation.cancel", "operator"),
        ("slot.capacity", "chief"),
        ("counter.closure", "chief"),
        ("staff.logout", "operator"),
    ] {
        assert!(
            actions.contains(&expected),
            "{expected:?} missing from {actions:?}"
        );
    }
    let capacity = entries
        .iter()
        .find(|e| e["action"] == "slot.capacity")
        .unwrap();
    assert_eq!(capacity["detail"], json!({ "from": 1, "to": 2 }));
    assert!(entries
        .iter()
        .all(|e| e["at"].as_str().unwrap().ends_with("+09:00")));
    let text = serde_json::to_string(&entries).unwrap();
    assert!(
        !text.contains(STAFF_PASSWORD),
        "no passwords in the audit log"
    );
    // `since` narrows it.
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/admin/audit?since=2100-01-01T00:00:00Z",
            Some(&admin),
            None,
        )
        .await;
    assert!(res.json::<Value>().await.unwrap()["entries"]
        .as_array()
        .unwrap()
        .is_empty());
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/admin/audit?since=yesterday",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(problem(res, 400).await["code"], "bad_request");
}

#[tokio::test]
async fn the_outbox_shows_pending_sent_and_failed_mail_with_attempts_and_errors() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    app.post_verification("ok@example.jp").await;
    app.drain_outbox().await;
    app.smtp.set_down(true);
    app.post_verification("later@example.jp").await;
    app.drain_outbox().await;
    let list = |status: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let res = app
                .as_staff(
                    Method::GET,
                    &format!("/api/v1/admin/outbox?status={status}"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()["mails"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let sent = list("sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["recipient"], "ok@example.jp");
    assert!(sent[0]["subject"]
        .as_str()
        .unwrap()
        .contains("メールアドレスの確認"));
    let pending = list("pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["attempts"], 1);
    assert!(pending[0]["last_error"].as_str().unwrap().contains("smtp"));
    assert!(list("failed").await.is_empty());
    let res = app
        .as_staff(
            Method::GET,
            "/api/v1/admin/outbox?status=lost",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "status");
}

#[tokio::test]
async fn administrators_list_change_disable_enable_and_reset_accounts() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    let phone = app.staff_token("tanaka", "phone").await;
    let list: Value = app
        .as_staff(Method::GET, "/api/v1/admin/staff", Some(&admin), None)
        .await
        .json()
        .await
        .unwrap();
    let logins: Vec<&str> = list["staff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["chief", "tanaka"]);
    assert!(list.to_string().find("password").is_none(), "no hashes");
    // Another role may not read the list.
    assert_eq!(
        app.as_staff(Method::GET, "/api/v1/admin/staff", Some(&phone), None)
            .await
            .status(),
        403
    );
    // Disable: the account's session ends at once and it cannot sign in.
    let res = app
        .as_staff(
            Method::PATCH,
            "/api/v1/admin/staff/tanaka",
            Some(&admin),
            Some(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["disabled"], true);
    let me = app
        .as_staff(
            Method::GET,
            "/api/v1/staff/sessions/current",
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(me.status(), 401);
    let res = app
        .post_json(
            "/api/v1/staff/sessions",
            &json!({ "login": "tanaka", "password": STAFF_PASSWORD }),
        )
        .await;
    assert_eq!(problem(res, 401).await["code"], "invalid_credentials");
    // Enable, with a new role and a new password: the old password no longer works.
    let res = app
        .as_staff(
            Method::PATCH,
            "/api/v1/admin/staff/tanaka",
            Some(&admin),
            Some(&json!({ "disabled": false, "role": "desk", "display_name": "田中 花子" })),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["role"].as_str(), body["disabled"].as_bool()),
        (Some("desk"), Some(false))
    );
    let res = app
        .as_staff(
            Method::PUT,
            "/api/v1/admin/staff/tanaka/password",
            Some(&admin),
            Some(&json!({ "password": "a-brand-new-passphrase" })),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .post_json(
            "/api/v1/staff/sessions",
            &json!({ "login": "tanaka", "password": STAFF_PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), 401);
    let token = app.login("tanaka", "a-brand-new-passphrase").await;
    let me: Value = app
        .as_staff(
            Method::GET,
            "/api/v1/staff/sessions/current",
            Some(&token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["login"].as_str(), me["role"].as_str()),
        (Some("tanaka"), Some("desk"))
    );
    // A weak password and an unknown account are refused clearly.
    let p = problem(
        app.as_staff(
            Method::PUT,
            "/api/v1/admin/staff/tanaka/password",
            Some(&admin),
            Some(&json!({ "password": "short" })),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "password");
    let p = problem(
        app.as_staff(
            Method::PATCH,
            "/api/v1/admin/staff/nobody",
            Some(&admin),
            Some(&json!({ "disabled": true })),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(p["code"], "staff_not_found");
    // The last administrator cannot lock everyone out.
    let p = problem(
        app.as_staff(
            Method::PATCH,
            "/api/v1/admin/staff/chief",
            Some(&admin),
            Some(&json!({ "role": "phone" })),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "last_admin");
    let actions: Vec<String> = app
        .audit(&admin)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for a in ["staff.disable", "staff.enable", "staff.password_reset"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    assert!(!app
        .audit(&admin)
        .await
        .iter()
        .any(|e| e.to_string().contains("brand-new")));
}

#[tokio::test]
async fn closures_are_listed_and_lifted_and_the_day_opens_again() {
    let app = spawn_app().await;
    let admin = app.staff_token("chief", "admin").await;
    let path = "/api/v1/admin/counters/city-hall/closures";
    let res = app
        .as_staff(
            Method::POST,
            path,
            Some(&admin),
            Some(&json!({ "date": "2027-01-19", "reason": "停電のため" })),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        app.day("city-hall", "2027-01-19").await["closed_reason"],
        "closure"
    );
    let list: Value = app
        .as_staff(
            Method::GET,
            &format!("{path}?from=2027-01-01&to=2027-01-31"),
            Some(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["closures"][0]["date"], "2027-01-19");
    assert_eq!(list["closures"][0]["reason"], "停電のため");
    assert_eq!(list["closures"][0]["created_by"], "chief");
    let res = app
        .as_staff(
            Method::DELETE,
            &format!("{path}/2027-01-19"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.day("city-hall", "2027-01-19").await["open"], true);
    app.book_as(1, "city-hall.2027-01-19.0900").await;
    let p = problem(
        app.as_staff(
            Method::DELETE,
            &format!("{path}/2027-01-19"),
            Some(&admin),
            None,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(p["code"], "closure_not_found");
    assert!(app
        .audit(&admin)
        .await
        .iter()
        .any(|e| e["action"] == "counter.closure_lifted"));
}
