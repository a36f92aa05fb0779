//! The day-before reminder (前日の予約確認メール): one mail for each confirmed reservation with
//! an address whose visit is on its counter's next open day (a Friday reminds Monday's
//! visitors, or Tuesday's when Monday is a holiday). Never twice: the reservation is marked in
//! the transaction that writes the mail, by a conditional UPDATE.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{JobCtx, JobError};
use crate::calendar::{Calendar, Counter, DayStatus};
use crate::db::{DbConnection, Tx};
use crate::mail::{enqueue, MailKind, MailPayload, NewMail};
use crate::reservations::model::ReservationRow;
use crate::reservations::{mail, repo};

/// The first day after `today` the counter opens (configured calendar and closures), within
/// two weeks.
pub(crate) fn next_open_day(
    conn: &mut DbConnection,
    calendar: &Calendar,
    counter: &Counter,
    today: NaiveDate,
) -> diesel::QueryResult<Option<NaiveDate>> {
    for n in 1..=14 {
        let d = today + Duration::days(n);
        if let DayStatus::Open { .. } = calendar.day_status(conn, counter, d)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// The reservations to remind now: those of each counter's next open day not reminded yet.
pub(crate) fn due(
    conn: &mut DbConnection,
    ctx: JobCtx<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<ReservationRow>, JobError> {
    let calendar = ctx.booking.calendar;
    let mut due = Vec::new();
    for counter in calendar.counters() {
        let today = counter.today(now);
        if let Some(day) = next_open_day(conn, calendar, counter, today)? {
            due.extend(repo::list_to_remind(conn, &counter.id, day)?);
        }
    }
    Ok(due)
}

/// Reminds one reservation, in a transaction of its own (each reminder commits alone, and
/// none holds the writer for the others): marked reminded, its mail with a fresh manage link
/// written to the outbox. 0 when another run reminded it first or it has no address.
pub(crate) fn send(
    conn: &mut Tx<'_>,
    ctx: JobCtx<'_>,
    r: &ReservationRow,
    now: DateTime<Utc>,
) -> Result<u64, JobError> {
    if !repo::mark_reminded(conn, &r.id, now)? {
        return Ok(0);
    }
    let Some(recipient) = r.email.clone() else {
        return Ok(0);
    };
    let token = repo::issue_manage_link(conn, &r.id, now)?;
    let mut mail = mail::reservation_mail(&ctx.booking, r, Some(&token), now);
    let party: Vec<ReservationRow> = repo::led_by(conn, r)?
        .into_iter()
        .filter(|m| m.status == crate::reservations::model::ReservationStatus::Confirmed)
        .collect();
    mail.party = mail::party_lines(&ctx.booking, &party);
    enqueue(
        conn,
        NewMail {
            kind: MailKind::Reminder,
            recipient: &recipient,
            payload: MailPayload::Reservation(Box::new(mail)),
            reservation_id: Some(&r.id),
        },
        ctx.booking.message_domain,
        now,
    )?;
    Ok(1)
}
