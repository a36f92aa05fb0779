//! The outbox worker: claims due mail, renders it, sends it with lettre, records the outcome.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use tokio::sync::Notify;

use super::outbox::{claim_due, record_outcomes, OutboxRow, Outcome};
use super::render::{render, Rendered};
use super::transport::Transport;
use super::SendError;
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

    /// How many messages may be in flight at once (`mail.concurrency`; files: one at a time
    /// is as fast).
    pub fn concurrency(&self) -> usize {
        (self.settings.concurrency as usize).max(1)
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

/// A claimed mail after its attempt.
struct Attempt {
    row: OutboxRow,
    result: Result<String, SendError>,
}

/// Renders, builds and sends one claimed mail (no database).
async fn attempt(mailer: &Mailer, row: OutboxRow, now: DateTime<Utc>) -> Attempt {
    let result = match render(row.kind, &row.payload) {
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
    Attempt { row, result }
}

/// Records a group of attempts in one transaction, then logs and counts them.
async fn record(
    db: &Db,
    mailer: &Mailer,
    metrics: &Metrics,
    attempts: Vec<Attempt>,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, RunError<diesel::result::Error>> {
    let mut report = DeliveryReport::default();
    if attempts.is_empty() {
        return Ok(report);
    }
    let outcomes: Vec<(String, Outcome)> = attempts
        .iter()
        .map(|a| {
            let outcome = match &a.result {
                Ok(subject) => Outcome::Sent {
                    subject: subject.clone(),
                },
                Err(e) => {
                    let attempts = u32::try_from(a.row.attempts).unwrap_or(u32::MAX);
                    if e.permanent || attempts >= mailer.settings.max_attempts {
                        Outcome::Failed {
                            error: e.message.clone(),
                        }
                    } else {
                        Outcome::Retry {
                            error: e.message.clone(),
                            at: now + mailer.backoff(attempts),
                        }
                    }
                }
            };
            (a.row.id.clone(), outcome)
        })
        .collect();
    let worker = mailer.worker_id.clone();
    let to_record = outcomes.clone();
    db.write_background(move |conn| record_outcomes(conn, &worker, &to_record, now))
        .await?;
    for (a, (_, outcome)) in attempts.iter().zip(&outcomes) {
        let (row, attempts) = (&a.row, a.row.attempts);
        let labels = MailLabels {
            kind: row.kind.as_str().to_string(),
        };
        match outcome {
            Outcome::Sent { .. } => {
                tracing::info!(outbox.id = %row.id, mail.kind = %row.kind, attempts, "mail sent");
                metrics.mail_sent.get_or_create(&labels).inc();
                let waited = (now - row.created_at.and_utc()).num_milliseconds().max(0);
                metrics
                    .mail_delivery_seconds
                    .get_or_create(&labels)
                    .observe(waited as f64 / 1000.0);
                report.sent += 1;
            }
            Outcome::Failed { error } => {
                tracing::error!(outbox.id = %row.id, mail.kind = %row.kind, attempts, error = %error, "mail failed for good");
                metrics.mail_failed.get_or_create(&labels).inc();
                report.failed += 1;
            }
            Outcome::Retry { error, .. } => {
                tracing::warn!(outbox.id = %row.id, mail.kind = %row.kind, attempts, error = %error, "mail delivery failed; will retry");
                metrics.mail_retried.get_or_create(&labels).inc();
                report.retrying += 1;
            }
        }
    }
    Ok(report)
}

async fn claim(
    db: &Db,
    mailer: &Mailer,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<OutboxRow>, RunError<diesel::result::Error>> {
    let worker = mailer.worker_id.clone();
    let lease = Duration::seconds(i64::from(mailer.settings.lease_seconds));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    db.write_background(move |conn| claim_due(conn, &worker, now, lease, limit))
        .await
}

/// One pass: claims up to `mail.batch_size` due rows, sends them `mail.concurrency` at a
/// time, and records the outcomes in one transaction.
pub async fn run_once(
    db: &Db,
    mailer: &Mailer,
    metrics: &Metrics,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, RunError<diesel::result::Error>> {
    let rows = claim(db, mailer, now, mailer.settings.batch_size as usize).await?;
    let claimed = rows.len();
    let attempts: Vec<Attempt> = futures_util::stream::iter(rows)
        .map(|row| attempt(mailer, row, now))
        .buffer_unordered(mailer.concurrency())
        .collect()
        .await;
    let report = record(db, mailer, metrics, attempts, now).await?;
    Ok(DeliveryReport { claimed, ..report })
}

/// The background worker. Keeps up to `mail.concurrency` mails in flight: claims a batch
/// (most urgent first) whenever fewer than that are waiting to go, starts a send as soon as
/// one finishes, and records finished sends together (one transaction for all that finished
/// meanwhile). With nothing due it waits for a poke (a request that wrote mail) or the poll
/// interval.
pub(crate) fn spawn_worker(
    db: Db,
    mailer: Arc<Mailer>,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    notify: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    let poll = StdDuration::from_millis(mailer.settings.poll_interval_ms);
    let batch = (mailer.settings.batch_size as usize).max(1);
    let concurrency = mailer.concurrency();
    tokio::spawn(async move {
        let mut queue: VecDeque<OutboxRow> = VecDeque::new();
        // Ids queued or in flight here: a claim that finds one of ours again (its lease ran
        // out while it waited) does not send it twice.
        let mut held: HashSet<String> = HashSet::new();
        let mut in_flight = FuturesUnordered::new();
        let mut maybe_more = true;
        let mut last_claim = std::time::Instant::now();
        loop {
            // Claim when something may be due: the last claim came back full, a request wrote
            // mail, or a poll interval passed (retries come due by themselves). Claimed mail
            // waits here at most two rounds of sends, well inside its lease.
            if (maybe_more || last_claim.elapsed() >= poll) && queue.len() < concurrency {
                last_claim = std::time::Instant::now();
                let room = (2 * concurrency - queue.len()).min(batch);
                match claim(&db, &mailer, clock.now(), room).await {
                    Ok(rows) => {
                        maybe_more = rows.len() >= room;
                        take_claimed(&mut queue, &mut held, rows);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox claim failed");
                        maybe_more = false;
                    }
                }
            }
            while in_flight.len() < concurrency {
                let Some(row) = queue.pop_front() else { break };
                let now = clock.now();
                // A claim whose lease ran out while it waited may be another worker's now:
                // not sent from here (a later claim takes it again if nobody did).
                if row
                    .claimed_until
                    .is_some_and(|until| until <= now.naive_utc())
                {
                    held.remove(&row.id);
                    continue;
                }
                let mailer = mailer.clone();
                in_flight.push(async move { attempt(&mailer, row, now).await });
            }
            if in_flight.is_empty() {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
                maybe_more = true;
                continue;
            }
            // Wait for one send, take every other one that finished meanwhile, record them.
            let mut finished = Vec::new();
            tokio::select! {
                Some(a) = in_flight.next() => finished.push(a),
                _ = notify.notified() => { maybe_more = true; continue; }
            }
            while let Some(Some(a)) = in_flight.next().now_or_never() {
                finished.push(a);
            }
            for a in &finished {
                held.remove(&a.row.id);
            }
            if let Err(e) = record(&db, &mailer, &metrics, finished, clock.now()).await {
                // Unrecorded sends stay claimed: after their lease they are sent again
                // (at least once, never lost).
                tracing::warn!(error = %e, "recording sent mail failed");
            }
        }
    })
}

/// Claimed mail into the worker's queue; one it holds already is not queued twice (it keeps
/// its place, with its new lease).
fn take_claimed(queue: &mut VecDeque<OutboxRow>, held: &mut HashSet<String>, rows: Vec<OutboxRow>) {
    for row in rows {
        if held.insert(row.id.clone()) {
            queue.push_back(row);
        } else if let Some(waiting) = queue.iter_mut().find(|q| q.id == row.id) {
            *waiting = row;
        }
    }
}

impl Mailer {
    /// Where mail goes, for the start-up log (never a password).
    pub fn describe(&self) -> String {
        match self.settings.transport {
            MailTransportKind::File => format!("folder {}", self.settings.file_dir.display()),
            MailTransportKind::Smtp => format!(
                "smtp://{}:{} ({})",
                self.settings.smtp_host,
                self.settings.smtp_port,
                match self.settings.smtp_tls {
                    crate::config::SmtpTls::None => "no TLS",
                    crate::config::SmtpTls::Starttls => "STARTTLS",
                    crate::config::SmtpTls::Tls => "implicit TLS",
                }
            ),
        }
    }
}
