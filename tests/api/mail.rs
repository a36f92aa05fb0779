//! The outbox and the mailer: no request waits on SMTP, no mail is lost or sent twice.

use crate::helpers::{booking_body, jst, spawn_app, spawn_app_with};
use chrono::Duration;
use madoguchi::clock::Clock;
use madoguchi::config::MailTransportKind;
use madoguchi::testing::list_outbox;
use madoguchi::testing::run_once;
use madoguchi::testing::OutboxStatus;
use std::collections::HashMap;
use std::time::{Duration as StdDuration, Instant};

#[tokio::test]
async fn bookings_succeed_while_smtp_is_down_and_every_mail_arrives_once_it_is_back() {
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(app.verified_token(&format!("burst{i}@example.jp")).await);
    }
    app.smtp.set_down(true);
    for (i, token) in tokens.iter().enumerate() {
        let slot = format!("city-hall.2027-01-{:02}.1000", 4 + (i % 4));
        assert_eq!(app.book(&booking_body(token, &slot, i)).await.status(), 201);
    }
    // The relay refuses: every mail stays pending with its error kept.
    let report = app.drain_outbox().await;
    assert_eq!((report.sent, report.retrying), (0, 8));
    let rows = app
        .state
        .db
        .run(|conn| list_outbox(conn, Some(OutboxStatus::Pending), 100))
        .await
        .unwrap();
    assert_eq!(rows.len(), 8);
    assert!(rows
        .iter()
        .all(|r| r.attempts == 1 && r.last_error.as_deref().is_some_and(|e| e.contains("smtp"))));
    // Not due yet: a pass now sends nothing.
    assert_eq!(app.drain_outbox().await.claimed, 0);

    app.smtp.set_down(false);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(app.drain_outbox().await.sent, 8);
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.drain_outbox().await.claimed, 0, "nothing is sent twice");

    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for m in app
        .smtp
        .messages()
        .iter()
        .filter(|m| m.subject.contains("予約完了"))
    {
        *per_recipient.entry(m.to[0].clone()).or_default() += 1;
    }
    assert_eq!(per_recipient.len(), 8);
    assert!(per_recipient.values().all(|n| *n == 1), "{per_recipient:?}");
    // Delivered mail keeps no manage link in the outbox.
    let sent = app
        .state
        .db
        .run(|conn| list_outbox(conn, Some(OutboxStatus::Sent), 100))
        .await
        .unwrap();
    assert!(sent
        .iter()
        .all(|r| r.payload == "{}" && r.subject.is_some()));
}

#[tokio::test]
async fn a_mail_is_retried_with_back_off_then_marked_failed() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.mail.max_attempts = 3;
        s.mail.retry_base_seconds = 60;
    })
    .await;
    app.smtp.set_down(true);
    assert_eq!(
        app.post_verification("nobody@example.jp").await.status(),
        202
    );
    assert_eq!(app.drain_outbox().await.retrying, 1);
    app.clock.advance(Duration::seconds(59));
    assert_eq!(
        app.drain_outbox().await.claimed,
        0,
        "first retry after 60 s"
    );
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.drain_outbox().await.retrying, 1);
    app.clock.advance(Duration::seconds(119));
    assert_eq!(
        app.drain_outbox().await.claimed,
        0,
        "second retry after 120 s"
    );
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.drain_outbox().await.failed, 1);
    let failed = app
        .state
        .db
        .run(|conn| list_outbox(conn, Some(OutboxStatus::Failed), 10))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 3);
    assert!(failed[0].last_error.is_some());
}

#[tokio::test]
async fn two_workers_never_send_the_same_mail() {
    let app = spawn_app().await;
    for i in 0..6 {
        assert_eq!(
            app.post_verification(&format!("w{i}@example.jp"))
                .await
                .status(),
            202
        );
    }
    let other = madoguchi::testing::Mailer::from_settings(&app.settings.mail).unwrap();
    let now = app.clock.now();
    let (a, b) = tokio::join!(
        run_once(&app.state.db, &app.state.mailer, &app.state.metrics, now),
        run_once(&app.state.db, &other, &app.state.metrics, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 6);
    assert_eq!(app.smtp.messages().len(), 6);
}

#[tokio::test]
async fn the_background_worker_delivers_without_being_asked() {
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), |s| {
        s.mail.worker = true;
        s.mail.poll_interval_ms = 50;
    })
    .await;
    let t0 = Instant::now();
    assert_eq!(app.post_verification("auto@example.jp").await.status(), 202);
    while app.smtp.messages_to("auto@example.jp").is_empty() {
        assert!(
            t0.elapsed() < StdDuration::from_secs(10),
            "the worker did not deliver"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let mail = &app.smtp.messages_to("auto@example.jp")[0];
    assert!(mail.subject.contains("メールアドレスの確認"));
}

#[tokio::test]
async fn the_file_transport_writes_eml_files() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    let md = mail_dir.clone();
    let app = spawn_app_with(jst("2026-11-24T10:00:00+09:00"), move |s| {
        s.mail.transport = MailTransportKind::File;
        s.mail.file_dir = md;
    })
    .await;
    assert_eq!(app.post_verification("file@example.jp").await.status(), 202);
    assert_eq!(app.drain_outbox().await.sent, 1);
    let files: Vec<_> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(raw.contains("file@example.jp"));
    assert!(raw.contains("Message-ID: <"));
    // Readable as it is: the Japanese text and the link are in the file verbatim.
    assert!(raw.contains("次のリンクを開いて"), "{raw}");
    assert!(raw.contains("/booking/verify?token="));
    assert!(app.smtp.messages().is_empty());
}

#[tokio::test]
async fn a_mail_claimed_by_a_worker_that_died_is_sent_after_its_lease() {
    let app = spawn_app().await;
    assert_eq!(
        app.post_verification("orphan@example.jp").await.status(),
        202
    );
    // A worker claims the mail and dies before sending it.
    let now = app.clock.now();
    let claimed = app
        .state
        .db
        .run(move |conn| {
            madoguchi::testing::claim_due(conn, "dead-worker", now, Duration::seconds(120), 10)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        app.drain_outbox().await.claimed,
        0,
        "leased to the dead worker"
    );
    app.clock.advance(Duration::seconds(121));
    assert_eq!(app.drain_outbox().await.sent, 1);
    assert_eq!(app.smtp.messages_to("orphan@example.jp").len(), 1);
}
