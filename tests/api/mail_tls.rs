//! Mail through a city's relay: STARTTLS and implicit TLS with AUTH, a certificate from the
//! city's own authority (`mail.smtp_ca_file`), and each way it goes wrong said plainly while the
//! mail is kept for another try (issue 23).

use madoguchi::config::{MailTransportKind, SmtpTls};
use madoguchi::testing::{list_outbox, OutboxStatus};

use crate::helpers::*;
use crate::relay::{Authority, Mode, Relay, PASSWORD, USER};

struct Setup {
    tls: SmtpTls,
    host: &'static str,
    password: &'static str,
    /// Trust the test authority (else only the public roots).
    trust: bool,
}

/// An application whose mail goes to `relay`; the CA and password files live in `dir`.
async fn app_for(relay: &Relay, ca: &Authority, dir: &std::path::Path, s: Setup) -> TestApp {
    let ca_file = dir.join("city-ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let password_file = dir.join("smtp-password");
    std::fs::write(&password_file, format!("{}\n", s.password)).unwrap();
    let port = relay.port;
    spawn_app_with(jst("2026-11-24T10:00:00+09:00"), move |settings| {
        let m = &mut settings.mail;
        m.transport = MailTransportKind::Smtp;
        m.smtp_host = s.host.into();
        m.smtp_port = port;
        m.smtp_tls = s.tls;
        m.smtp_username = USER.into();
        m.smtp_password = "not-this-one".into();
        m.smtp_password_file = password_file.display().to_string();
        m.smtp_ca_file = if s.trust {
            ca_file.display().to_string()
        } else {
            String::new()
        };
    })
    .await
}

/// Asks for a verification mail and delivers the outbox once: (sent, retrying, last error).
async fn one_mail(app: &TestApp, to: &str) -> (usize, usize, Option<String>) {
    assert_eq!(app.post_verification(to).await.status(), 202);
    let report = app.drain_outbox().await;
    let pending = app
        .state
        .db
        .run(|conn| list_outbox(conn, Some(OutboxStatus::Pending), 10))
        .await
        .unwrap();
    (
        report.sent,
        report.retrying,
        pending.first().and_then(|r| r.last_error.clone()),
    )
}

#[tokio::test]
async fn mail_goes_through_a_starttls_relay_with_a_password_from_a_file() {
    let ca = Authority::new();
    let relay = Relay::start(Mode::Starttls, &ca, "localhost").await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_for(
        &relay,
        &ca,
        dir.path(),
        Setup {
            tls: SmtpTls::Starttls,
            host: "localhost",
            password: PASSWORD,
            trust: true,
        },
    )
    .await;
    let (sent, retrying, error) = one_mail(&app, "resident@example.jp").await;
    assert_eq!((sent, retrying), (1, 0), "{error:?}");
    assert_eq!(relay.received(), ["resident@example.jp"]);
}

#[tokio::test]
async fn mail_goes_through_an_implicit_tls_relay() {
    let ca = Authority::new();
    let relay = Relay::start(Mode::Implicit, &ca, "localhost").await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_for(
        &relay,
        &ca,
        dir.path(),
        Setup {
            tls: SmtpTls::Tls,
            host: "localhost",
            password: PASSWORD,
            trust: true,
        },
    )
    .await;
    let (sent, _, error) = one_mail(&app, "resident@example.jp").await;
    assert_eq!(sent, 1, "{error:?}");
    assert_eq!(relay.received(), ["resident@example.jp"]);
}

#[tokio::test]
async fn a_wrong_password_is_reported_and_the_mail_kept_for_another_try() {
    let ca = Authority::new();
    let relay = Relay::start(Mode::Starttls, &ca, "localhost").await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_for(
        &relay,
        &ca,
        dir.path(),
        Setup {
            tls: SmtpTls::Starttls,
            host: "localhost",
            password: "wrong-password",
            trust: true,
        },
    )
    .await;
    let (sent, retrying, error) = one_mail(&app, "resident@example.jp").await;
    assert_eq!((sent, retrying), (0, 1));
    let error = error.expect("the error is kept");
    assert!(error.contains("refused the sign-in"), "{error}");
    assert!(error.contains("535"), "{error}");
    assert!(relay.received().is_empty());
    // The next mail does not try the same password again at once: relays lock accounts that
    // fail too often. It is kept for later, saying why.
    assert_eq!(relay.sign_ins(), 1);
    let (sent, retrying, _) = one_mail(&app, "another@example.jp").await;
    assert_eq!((sent, retrying), (0, 1));
    assert_eq!(relay.sign_ins(), 1, "no second sign-in within the pause");
}

#[tokio::test]
async fn a_certificate_for_another_host_or_from_an_unknown_authority_is_refused() {
    for (host_in_cert, trust) in [("mail.other.example", true), ("localhost", false)] {
        let ca = Authority::new();
        let relay = Relay::start(Mode::Implicit, &ca, host_in_cert).await;
        let dir = tempfile::tempdir().unwrap();
        let app = app_for(
            &relay,
            &ca,
            dir.path(),
            Setup {
                tls: SmtpTls::Tls,
                host: "localhost",
                password: PASSWORD,
                trust,
            },
        )
        .await;
        let (sent, retrying, error) = one_mail(&app, "resident@example.jp").await;
        assert_eq!((sent, retrying), (0, 1), "{host_in_cert} trusted={trust}");
        let error = error.expect("the error is kept");
        assert!(error.contains("TLS with the relay failed"), "{error}");
        assert!(relay.received().is_empty());
    }
}

#[tokio::test]
async fn no_tls_towards_a_relay_that_requires_it_fails_clearly() {
    let ca = Authority::new();
    let relay = Relay::start(Mode::Starttls, &ca, "localhost").await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_for(
        &relay,
        &ca,
        dir.path(),
        Setup {
            tls: SmtpTls::None,
            host: "localhost",
            password: PASSWORD,
            trust: true,
        },
    )
    .await;
    let (sent, retrying, error) = one_mail(&app, "resident@example.jp").await;
    assert_eq!((sent, retrying), (0, 1));
    let error = error.expect("the error is kept");
    assert!(error.contains("mail.smtp_tls"), "{error}");
    assert!(relay.received().is_empty());
}
