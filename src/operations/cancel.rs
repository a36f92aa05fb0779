//! Cancelling a reservation: the seat is freed and, unless a closure is emptying the day,
//! offered to the waiting list in the same transaction.

use chrono::{DateTime, Utc};

use super::offer_freed_seat;
use crate::calendar::repo::release_seat;
use crate::db::Tx;
use crate::mail::{CancelledBy, MailKind};
use crate::reservations::mail::{party_lines, reservation_mail};
use crate::reservations::model::{ReservationRow, ReservationStatus};
use crate::reservations::service::{enqueue_for, get_by_token, Ctx};
use crate::reservations::{repo, BookingError};
use crate::staff::audit::{self, Detail};
use crate::waitlist;

/// Cancels by the resident's manage token. Cancelling twice is harmless and mails once.
pub(crate) fn cancel_by_token(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    manage_token: &str,
    now: DateTime<Utc>,
) -> Result<ReservationRow, BookingError> {
    let row = get_by_token(conn, manage_token)?;
    let party = cancel_others_of(conn, &ctx, &row, (CancelledBy::Resident, None, None), now)?;
    let how = Cancellation {
        by: CancelledBy::Resident,
        reason: None,
        message: None,
        manage_token: Some(manage_token),
        mail: Mailed::Listing(&party),
    };
    cancel_row(conn, &ctx, row, &how, now)
}

/// When `row` is a party's first person and can still be cancelled, the party's others still
/// confirmed are cancelled first (their seats freed, no mail of their own: the first person's
/// lists them); returns them. Empty for anyone else.
fn cancel_others_of(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &ReservationRow,
    (by, reason, message): (CancelledBy, Option<&str>, Option<&str>),
    now: DateTime<Utc>,
) -> Result<Vec<ReservationRow>, BookingError> {
    if row.status != ReservationStatus::Confirmed || now.naive_utc() >= row.starts_at {
        return Ok(Vec::new());
    }
    let quiet = Cancellation {
        by,
        reason,
        message,
        manage_token: None,
        mail: Mailed::No,
    };
    let mut cancelled = Vec::new();
    for m in repo::led_by(conn, row)? {
        if m.status == ReservationStatus::Confirmed {
            cancelled.push(cancel_row(conn, ctx, m, &quiet, now)?);
        }
    }
    Ok(cancelled)
}

/// A party's first person cancels one of the others (by their number): that seat is freed
/// and offered, the address is told. 404 for a number that is not of this party.
pub(crate) fn cancel_party_member(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    manage_token: &str,
    number: &str,
    now: DateTime<Utc>,
) -> Result<ReservationRow, BookingError> {
    let lead = get_by_token(conn, manage_token)?;
    let member = repo::led_by(conn, &lead)?
        .into_iter()
        .find(|m| m.reservation_number == number)
        .ok_or(BookingError::ReservationNotFound)?;
    let how = Cancellation {
        by: CancelledBy::Resident,
        reason: None,
        message: None,
        manage_token: None,
        mail: Mailed::Listing(&[]),
    };
    cancel_row(conn, &ctx, member, &how, now)
}

/// Whether a cancellation is mailed, and the party's others its mail lists.
#[derive(Clone, Copy)]
pub(crate) enum Mailed<'a> {
    /// To the reservation's address, if any (listing a party's others cancelled with it).
    Listing(&'a [ReservationRow]),
    /// Not at all: a party's member cancelled with the party (its first person's mail says so).
    No,
}

/// Who cancels, why, and what the resident is told.
pub(crate) struct Cancellation<'a> {
    pub by: CancelledBy,
    /// Kept with the reservation and in the audit log (staff's words to staff).
    pub reason: Option<&'a str>,
    /// Mailed to the resident (never the reason, unless they are the same words on purpose:
    /// a closure's announcement).
    pub message: Option<&'a str>,
    /// The resident's manage link, for the mail (when they cancel themselves).
    pub manage_token: Option<&'a str>,
    pub mail: Mailed<'a>,
}

/// Staff cancel by reservation number, with a reason kept for the audit and, when given,
/// words for the resident's mail; audited. Cancelling twice is harmless.
pub(crate) fn cancel_by_number(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    number: &str,
    (reason, message): (&str, Option<&str>),
    staff_login: &str,
    now: DateTime<Utc>,
) -> Result<ReservationRow, BookingError> {
    let row = repo::find_by_number(conn, number)?.ok_or(BookingError::ReservationNotFound)?;
    // Staff cancelling a party's first person cancel the party, as the resident's link does
    // (each of the others by their own number cancels that one alone).
    let staff = (CancelledBy::Staff, Some(reason), message);
    let party = cancel_others_of(conn, &ctx, &row, staff, now)?;
    let mut rows = party.clone();
    let already = row.status == ReservationStatus::Cancelled;
    let how = Cancellation {
        by: CancelledBy::Staff,
        reason: Some(reason),
        message,
        manage_token: None,
        mail: Mailed::Listing(&party),
    };
    let row = cancel_row(conn, &ctx, row, &how, now)?;
    if !already {
        rows.push(row.clone());
    }
    for r in &rows {
        let detail = Detail::Cancelled {
            reason,
            slot_id: &r.slot_id,
            mailed: r.email.is_some(),
        };
        audit::record(conn, Some(staff_login), &r.reservation_number, &detail, now)?;
    }
    Ok(row)
}

/// Cancels a reservation inside the caller's transaction: frees the seat at once and mails
/// the resident when there is an address. An already cancelled one is returned as it is.
pub(crate) fn cancel_row(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: ReservationRow,
    how: &Cancellation<'_>,
    now: DateTime<Utc>,
) -> Result<ReservationRow, BookingError> {
    let Cancellation {
        by,
        reason,
        message,
        manage_token,
        mail: mailed,
    } = *how;
    if row.status == ReservationStatus::Cancelled {
        return Ok(row);
    }
    if row.status != ReservationStatus::Confirmed || now.naive_utc() >= row.starts_at {
        return Err(BookingError::TooLateToCancel);
    }
    // The waiting list's lock before the slot row ([`crate::db::Lock::Waitlist`]).
    waitlist::lock_day(conn, &row.counter_id, row.visit_on)?;
    if !repo::mark_cancelled(conn, &row.id, reason, message, now)? {
        return Err(anyhow::anyhow!("reservation changed under the lock").into());
    }
    release_seat(conn, &row.slot_id, now)?;
    if by != CancelledBy::Closure {
        offer_freed_seat(conn, ctx, &row.counter_id, row.visit_on, now)?;
    }
    let cancelled = ReservationRow {
        status: ReservationStatus::Cancelled,
        cancelled_at: Some(now.naive_utc()),
        cancel_reason: reason.map(str::to_string),
        cancel_message: message.map(str::to_string),
        updated_at: now.naive_utc(),
        ics_sequence: row.ics_sequence + 1,
        ..row
    };
    if let (Some(recipient), Mailed::Listing(party)) = (&cancelled.email, mailed) {
        let mut mail = reservation_mail(ctx, &cancelled, manage_token, now);
        mail.party = party_lines(ctx, party);
        mail.reason = message.map(str::to_string);
        mail.cancelled_by = Some(by);
        enqueue_for(
            conn,
            ctx,
            MailKind::BookingCancelled,
            recipient,
            mail,
            &cancelled.id,
            now,
        )?;
    }
    tracing::info!(reservation.number = %cancelled.reservation_number, "reservation cancelled");
    Ok(cancelled)
}
