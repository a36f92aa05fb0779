//! The outbox worker: claims due mail, renders it, sends it with lettre, records the outcome.

use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use chrono::{DateTime, Duration, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use tokio::sync::Notify;

use super::outbox::{claim_due, mark_attempt_failed, mark_sent, OutboxRow};
use super::render::{render, Rendered};
use super::transport::{SendError, Transport};
use crate::clock::SharedClock;
use crate::config::{MailSettings, MailTransportKind};
use crate::db::{Db, RunError};
use crate::metrics::{MailLabels, Metrics};

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    settings: MailSettings,
    worker_id: String,
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from: {:?}: {e}", settings.from))?;
        Ok(Mailer {
            transport: Transport::from_settings(settings)?,
            from,
            settings: settings.clone(),
            worker_id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// `file` or `smtp`.
    pub fn kind(&self) -> &'static str {
        match self.settings.transport {
            MailTransportKind::File => "file",
            MailTransportKind::Smtp => "smtp",
        }
    }

    /// Whether mail can go out now: the SMTP server answers, or the folder is writable.
    pub async fn check(&self) -> Result<(), String> {
        self.transport.check().await
    }

    /// The sender's address (without the display name).
    pub fn from_address(&self) -> String {
        self.from.email.to_string()
    }

    /// The domain of Message-IDs: the sender's.
    pub fn message_domain(&self) -> String {
        self.from.email.domain().to_string()
    }

    /// Delay before attempt `attempts + 1`: base doubling per attempt, capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let base = u64::from(self.settings.retry_base_seconds);
        let exp = attempts.saturating_sub(1).min(30);
        let secs = base
            .saturating_mul(1u64 << exp)
            .min(u64::from(self.settings.retry_max_seconds));
        Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2))
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// `readable`: the text part as raw UTF-8 (`binary`) instead of base64, so an .eml file can be
/// read (and its link copied) as it is. SMTP keeps lettre's 7-bit-safe choice.
fn build_message(
    row: &OutboxRow,
    rendered: Rendered,
    from: &Mailbox,
    now: DateTime<Utc>,
    readable: bool,
) -> Result<Message, String> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject)
        .message_id(Some(row.message_id.clone()))
        .date(SystemTime::from(now));
    let text = match readable {
        // Binary is never refused (lettre's builder would panic on a refused body); it is
        // only chosen for files, which no SMTP server carries.
        true => match Body::new_with_encoding(rendered.text, ContentTransferEncoding::Binary) {
            Ok(body) => SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body),
            Err(raw) => SinglePart::plain(String::from_utf8_lossy(&raw).into_owned()),
        },
        false => SinglePart::plain(rendered.text),
    };
    let message = match rendered.ics {
        Some(ics) => {
            let calendar = ContentType::parse(&format!(
                "text/calendar; charset=utf-8; method={}",
                ics.method
            ))
            .map_err(|e| format!("content type: {e}"))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(text)
                    .singlepart(Attachment::new("visit.ics".into()).body(ics.text, calendar)),
            )
        }
        None => builder.singlepart(text),
    };
    message.map_err(|e| format!("building the message: {e}"))
}

/// One pass: claims up to `mail.batch_size` due rows and delivers them.
pub async fn run_once(
    db: &Db,
    mailer: &Mailer,
    metrics: &Metrics,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, RunError<diesel::result::Error>> {
    let worker = mailer.worker_id.clone();
    let lease = Duration::seconds(i64::from(mailer.settings.lease_seconds));
    let limit = i64::from(mailer.settings.batch_size);
    let rows = db
        .run(move |conn| claim_due(conn, &worker, now, lease, limit))
        .await?;
    let mut report = DeliveryReport {
        claimed: rows.len(),
        ..Default::default()
    };
    for row in rows {
        let outcome = match render(row.kind, &row.payload) {
            Ok(rendered) => {
                let subject = rendered.subject.clone();
                let readable = mailer.settings.transport == MailTransportKind::File;
                match build_message(&row, rendered, &mailer.from, now, readable) {
                    Ok(message) => mailer.transport.send(message).await.map(|_| subject),
                    Err(message) => Err(SendError {
                        message,
                        permanent: true,
                    }),
                }
            }
            Err(message) => Err(SendError {
                message,
                permanent: true,
            }),
        };
        let (id, worker, attempts) = (row.id.clone(), mailer.worker_id.clone(), row.attempts);
        let labels = MailLabels {
            kind: row.kind.as_str().to_string(),
        };
        match outcome {
            Ok(subject) => {
                db.run(move |conn| mark_sent(conn, &id, &worker, &subject, now))
                    .await?;
                tracing::info!(outbox.id = %row.id, mail.kind = %row.kind, attempts, "mail sent");
                metrics.mail_sent.get_or_create(&labels).inc();
                let waited = (now - row.created_at.and_utc()).num_milliseconds().max(0);
                metrics
                    .mail_delivery_seconds
                    .get_or_create(&labels)
                    .observe(waited as f64 / 1000.0);
                report.sent += 1;
            }
            Err(e) => {
                let attempts_u = u32::try_from(attempts).unwrap_or(u32::MAX);
                let give_up = e.permanent || attempts_u >= mailer.settings.max_attempts;
                let retry_at = (!give_up).then(|| now + mailer.backoff(attempts_u));
                let message = e.message.clone();
                db.run(move |conn| mark_attempt_failed(conn, &id, &worker, &message, retry_at))
                    .await?;
                if give_up {
                    tracing::error!(outbox.id = %row.id, mail.kind = %row.kind, attempts, error = %e.message, "mail failed for good");
                    metrics.mail_failed.get_or_create(&labels).inc();
                    report.failed += 1;
                } else {
                    tracing::warn!(outbox.id = %row.id, mail.kind = %row.kind, attempts, error = %e.message, "mail delivery failed; will retry");
                    metrics.mail_retried.get_or_create(&labels).inc();
                    report.retrying += 1;
                }
            }
        }
    }
    Ok(report)
}

/// The background worker: a pass on every poke (a request that wrote mail) or poll interval,
/// and straight away again while batches come back full.
pub fn spawn_worker(
    db: Db,
    mailer: Arc<Mailer>,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    notify: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    let poll = StdDuration::from_millis(mailer.settings.poll_interval_ms);
    let batch = mailer.settings.batch_size as usize;
    tokio::spawn(async move {
        loop {
            match run_once(&db, &mailer, &metrics, clock.now()).await {
                Ok(report) if report.claimed >= batch => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox pass failed"),
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    })
}

impl Mailer {
    /// Where mail goes, for the start-up log (never a password).
    pub fn describe(&self) -> String {
        match self.settings.transport {
            MailTransportKind::File => format!("folder {}", self.settings.file_dir.display()),
            MailTransportKind::Smtp => format!(
                "{}:{} ({:?})",
                self.settings.smtp_host, self.settings.smtp_port, self.settings.smtp_tls
            ),
        }
    }
}
