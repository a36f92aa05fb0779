//! Mail: written to the outbox in the transaction that causes it, delivered by a worker.
//! No request ever waits on SMTP.

pub mod deliver;
pub mod outbox;
pub mod render;
pub mod transport;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::DbConnection;
use outbox::{insert_outbox, OutboxRow, PENDING};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Verification,
    BookingConfirmed,
    BookingChanged,
    BookingCancelled,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Verification => "verification",
            MailKind::BookingConfirmed => "booking_confirmed",
            MailKind::BookingChanged => "booking_changed",
            MailKind::BookingCancelled => "booking_cancelled",
        }
    }
}

/// A mail to send, as the outbox keeps it until delivery.
pub struct NewMail<'a> {
    pub kind: MailKind,
    pub recipient: &'a str,
    pub payload: Value,
    pub reservation_id: Option<&'a str>,
}

/// Writes the mail to the outbox (call inside the transaction that causes it). Its Message-ID
/// is fixed now, so a retried delivery carries the same one and receivers can drop duplicates.
pub fn enqueue(
    conn: &mut DbConnection,
    mail: NewMail<'_>,
    message_domain: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let row = OutboxRow {
        message_id: format!("<{id}@{message_domain}>"),
        id: id.clone(),
        kind: mail.kind.as_str().to_string(),
        recipient: mail.recipient.to_string(),
        payload: mail.payload.to_string(),
        subject: None,
        status: PENDING.to_string(),
        attempts: 0,
        next_attempt_at: now.naive_utc(),
        claimed_until: None,
        claimed_by: None,
        last_error: None,
        reservation_id: mail.reservation_id.map(str::to_string),
        created_at: now.naive_utc(),
        sent_at: None,
    };
    insert_outbox(conn, &row)?;
    Ok(id)
}
