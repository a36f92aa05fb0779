//! The outbox table: rows written in the transaction that causes a mail, claimed by a worker
//! with a lease, then marked sent, retried later, or failed.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{MailKind, NewMail, OutboxStatus};
use crate::db::schema::outbox;
use crate::db::DbConnection;

const PENDING: OutboxStatus = OutboxStatus::Pending;
const SENDING: OutboxStatus = OutboxStatus::Sending;
const SENT: OutboxStatus = OutboxStatus::Sent;
const FAILED: OutboxStatus = OutboxStatus::Failed;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub kind: MailKind,
    pub recipient: String,
    pub message_id: String,
    pub payload: String,
    pub subject: Option<String>,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub reservation_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// 0 goes before 1 ([`MailKind::priority`]).
    pub priority: i32,
}

pub(crate) fn insert_outbox(conn: &mut DbConnection, row: &OutboxRow) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Claims up to `limit` due rows for `worker`, most urgent first: pending ones whose time
/// has come, and ones whose previous claim's lease ran out (a worker died mid-send). One
/// statement: an UPDATE of the rows its subquery picks, returning them. On PostgreSQL the
/// subquery locks what it picks and skips rows another worker is claiming (`FOR UPDATE SKIP
/// LOCKED`); SQLite runs writers one at a time. Either way no row is claimed twice.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let now_n = now.naive_utc();
    // The statuses as stored (OutboxStatus): 'pending', 'sending'.
    const CLAIM: &str = "UPDATE outbox SET status = 'sending', claimed_until = ?1, \
        claimed_by = ?2, attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM outbox \
            WHERE (status = 'pending' AND next_attempt_at <= ?3) \
               OR (status = 'sending' AND claimed_until < ?3) \
            ORDER BY priority, next_attempt_at, created_at LIMIT ?4 LOCKING) \
        RETURNING id, kind, recipient, message_id, payload, subject, status, attempts, \
            next_attempt_at, claimed_until, claimed_by, last_error, reservation_id, \
            created_at, sent_at, priority";
    let sql = match conn {
        DbConnection::Pg(_) => CLAIM
            .replace('?', "$")
            .replace("LOCKING", "FOR UPDATE SKIP LOCKED"),
        DbConnection::Sqlite(_) => CLAIM.replace(" LOCKING", ""),
    };
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let mut claimed: Vec<OutboxRow> = diesel::sql_query(sql)
        .bind::<Timestamp, _>((now + lease).naive_utc())
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(now_n)
        .bind::<BigInt, _>(limit)
        .load(conn)?;
    claimed.sort_by(|a, b| {
        (a.priority, a.next_attempt_at, a.created_at).cmp(&(
            b.priority,
            b.next_attempt_at,
            b.created_at,
        ))
    });
    Ok(claimed)
}

/// What became of a claimed mail.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Sent {
        subject: String,
    },
    /// Back to pending at this instant.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Given up.
    Failed {
        error: String,
    },
}

/// Records the outcomes of a worker's claimed mail, in the caller's transaction; returns how
/// many rows were still the worker's to record.
pub(crate) fn record_outcomes(
    conn: &mut DbConnection,
    worker: &str,
    outcomes: &[(String, Outcome)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let mut recorded = 0;
    for (id, outcome) in outcomes {
        let mine = match outcome {
            Outcome::Sent { subject } => mark_sent(conn, id, worker, subject, now)?,
            Outcome::Retry { error, at } => {
                mark_attempt_failed(conn, id, worker, error, Some(*at))?
            }
            Outcome::Failed { error } => mark_attempt_failed(conn, id, worker, error, None)?,
        };
        recorded += usize::from(mine);
    }
    Ok(recorded)
}

/// Sent: the payload (which may hold a manage link) is scrubbed; the subject stays for staff.
pub(crate) fn mark_sent(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq(SENDING))
            .filter(outbox::claimed_by.eq(worker)),
    )
    .set((
        outbox::status.eq(SENT),
        outbox::sent_at.eq(Some(now.naive_utc())),
        outbox::subject.eq(Some(subject)),
        outbox::payload.eq("{}"),
        outbox::claimed_until.eq(None::<NaiveDateTime>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// A failed attempt: back to pending at `retry_at`, or `failed` for good when `retry_at` is None
/// (then without its body).
pub(crate) fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<bool> {
    let error: String = error.chars().take(1000).collect();
    let target = outbox::table
        .find(id)
        .filter(outbox::status.eq(SENDING))
        .filter(outbox::claimed_by.eq(worker));
    let touched = match retry_at {
        Some(at) => diesel::update(target)
            .set((
                outbox::status.eq(PENDING),
                outbox::next_attempt_at.eq(at.naive_utc()),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(Some(error)),
            ))
            .execute(conn)?,
        // Given up: it will not be sent again, so it loses its body (the link in it is a
        // secret nobody will ever receive); the subject and the error stay for staff.
        None => diesel::update(target)
            .set((
                outbox::status.eq(FAILED),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(Some(error)),
                outbox::payload.eq("{}"),
            ))
            .execute(conn)?,
    };
    Ok(touched == 1)
}

pub fn list_outbox(
    conn: &mut DbConnection,
    status: Option<OutboxStatus>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut q = outbox::table
        .select(OutboxRow::as_select())
        .order(outbox::created_at.desc())
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(outbox::status.eq(s));
    }
    q.limit(limit).load(conn)
}

/// How many rows are in each status (for the metrics' outbox depth).
pub(crate) fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(OutboxStatus, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Retention: mail written before `before` keeps its subject and outcome for staff, but loses
/// its body (the payload) and the address it went to.
pub(crate) fn erase_before(conn: &mut DbConnection, before: DateTime<Utc>) -> QueryResult<u64> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::created_at.lt(before.naive_utc()))
            .filter(outbox::recipient.ne("")),
    )
    .set((outbox::payload.eq("{}"), outbox::recipient.eq("")))
    .execute(conn)?;
    Ok(n as u64)
}

/// Writes the mail to the outbox (call inside the transaction that causes it). Its Message-ID
/// is fixed now, so a retried delivery carries the same one and receivers can drop duplicates.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    mail: NewMail<'_>,
    message_domain: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    let payload = serde_json::to_string(&mail.payload)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    enqueue_json(
        conn,
        mail.kind,
        mail.recipient,
        payload,
        mail.reservation_id,
        message_domain,
        now,
    )
}

/// [`enqueue`] with the payload already serialised (made before the transaction).
pub(crate) fn enqueue_json(
    conn: &mut DbConnection,
    kind: MailKind,
    recipient: &str,
    payload: String,
    reservation_id: Option<&str>,
    message_domain: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    let row = new_outbox_row(
        kind,
        recipient,
        payload,
        reservation_id,
        message_domain,
        now,
    );
    insert_outbox(conn, &row)?;
    Ok(row.id)
}

/// A mail's outbox row as [`enqueue_json`] writes it: pending, due now, a fresh id and
/// Message-ID.
pub(crate) fn new_outbox_row(
    kind: MailKind,
    recipient: &str,
    payload: String,
    reservation_id: Option<&str>,
    message_domain: &str,
    now: DateTime<Utc>,
) -> OutboxRow {
    let id = uuid::Uuid::new_v4().to_string();
    OutboxRow {
        message_id: format!("<{id}@{message_domain}>"),
        id,
        kind,
        recipient: recipient.to_string(),
        payload,
        subject: None,
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_at: now.naive_utc(),
        claimed_until: None,
        claimed_by: None,
        last_error: None,
        reservation_id: reservation_id.map(str::to_string),
        created_at: now.naive_utc(),
        sent_at: None,
        priority: kind.priority(),
    }
}
