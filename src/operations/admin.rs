//! Administration that frees seats: slot capacity and closing a day. Audited in the
//! transaction of the write.

use chrono::{DateTime, NaiveDate, Utc};

use super::cancel_row;
use crate::calendar::repo::{
    delete_closure, ensure_slot_row, find_closure, find_slot_row, insert_closure, set_capacity,
    ClosureRow, SlotRow,
};
use crate::calendar::{CalendarError, ClosedReason, DayStatus, SlotId};
use crate::db::{lock, Lock, Mode, Tx};
use crate::error::{FieldProblem, Invalid};
use crate::reservations::repo as reservation_repo;
use crate::reservations::service::Ctx;
use crate::reservations::BookingError;
use crate::staff::audit::{self, Detail};

pub(crate) const MAX_CAPACITY: i32 = 1000;

/// What administration refuses.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error("{booked} seats are booked")]
    CapacityBelowBooked { booked: i32 },
    #[error("the counter is already closed on {date}")]
    DayAlreadyClosed {
        date: NaiveDate,
        reason: ClosedReason,
    },
    #[error("{count} reservations on {date}")]
    DayHasReservations { date: NaiveDate, count: usize },
    #[error("no closure on that day")]
    ClosureNotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Sets one slot's capacity; never below what is booked (`capacity_below_booked`).
pub(crate) fn change_capacity(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    slot: &SlotId,
    capacity: i32,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<SlotRow, AdminError> {
    if !(0..=MAX_CAPACITY).contains(&capacity) {
        return Err(Invalid::field(
            "capacity",
            FieldProblem::OutOfRange {
                min: 0,
                max: i64::from(MAX_CAPACITY),
            },
        )
        .into());
    }
    let (counter, def) = ctx.calendar.resolve(slot)?;
    let id = def.id.to_string();
    // The waiting list's lock before the slot row ([`Lock::Waitlist`]).
    crate::waitlist::lock_day(conn, &counter.id, def.id.date)?;
    ensure_slot_row(conn, &SlotRow::new(&def, counter, now))?;
    let before = find_slot_row(conn, &id)?.ok_or(CalendarError::SlotNotFound)?;
    if !set_capacity(conn, &id, capacity, now)? {
        return Err(AdminError::CapacityBelowBooked {
            booked: before.booked,
        });
    }
    audit::record(
        conn,
        Some(actor),
        &id,
        &Detail::Capacity {
            from: before.capacity,
            to: capacity,
        },
        now,
    )?;
    // More seats: those waiting for the day are offered them first.
    if capacity > before.capacity {
        crate::waitlist::fill(conn, &ctx, counter, def.id.date, now)?;
    }
    Ok(find_slot_row(conn, &id)?.ok_or(CalendarError::SlotNotFound)?)
}

pub(crate) struct Closed {
    pub counter: String,
    pub date: NaiveDate,
    pub reason: String,
    pub cancelled: Vec<String>,
    /// Waiting-list entries ended (and mailed).
    pub waitlist_ended: u32,
}

/// A request to close a counter's day.
pub(crate) struct CloseDay {
    pub counter: String,
    pub date: NaiveDate,
    pub reason: String,
    pub cancel_reservations: bool,
}

/// Closes a counter's day. A day with reservations is refused (`day_has_reservations`) unless
/// `cancel_reservations`, which cancels each one (mailing the resident) in the same transaction.
/// The day's waiting list ends with it: each one waiting (or offered a seat) is mailed why.
pub(crate) fn close_day(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    req: CloseDay,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Closed, AdminError> {
    let CloseDay {
        counter: counter_id,
        date,
        reason,
        cancel_reservations,
    } = req;
    let reason = reason.as_str();
    let counter = ctx.calendar.get_counter(&counter_id)?;
    lock_to_close(conn, &counter.id, date)?;
    if let DayStatus::Closed(reason) = ctx.calendar.day_status(conn, counter, date)? {
        return Err(AdminError::DayAlreadyClosed { date, reason });
    }
    let cancelled = cancel_day(
        conn,
        &ctx,
        &counter.id,
        date,
        reason,
        cancel_reservations,
        now,
    )?;
    // Nobody waits for a closed day any more.
    let waitlist_ended = crate::waitlist::end_day(conn, &ctx, &counter.id, date, reason, now)?;
    insert_closure(
        conn,
        &ClosureRow {
            id: uuid::Uuid::new_v4().to_string(),
            counter_id: counter.id.clone(),
            closed_on: date,
            reason: reason.to_string(),
            created_by: actor.to_string(),
            created_at: now.naive_utc(),
        },
    )?;
    audit::record(
        conn,
        Some(actor),
        &format!("{}/{date}", counter.id),
        &Detail::Closure {
            reason,
            cancelled: &cancelled,
            waitlist_ended,
        },
        now,
    )?;
    Ok(Closed {
        counter: counter.id.clone(),
        date,
        reason: reason.to_string(),
        cancelled,
        waitlist_ended,
    })
}

/// The day's waiting list, then the day exclusive: waits for bookings of this day in flight,
/// and keeps new ones out until the closure is committed (they then see it).
fn lock_to_close(conn: &mut Tx<'_>, counter: &str, day: NaiveDate) -> diesel::QueryResult<()> {
    lock(
        conn,
        &[
            (Mode::Exclusive, Lock::Waitlist { counter, day }),
            (Mode::Exclusive, Lock::Day { counter, day }),
        ],
    )
}

/// The day's active reservations cancelled for its closure (each resident mailed, with
/// `reason`); their numbers. Refused (`day_has_reservations`) unless `cancel_reservations`.
fn cancel_day(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &str,
    date: NaiveDate,
    reason: &str,
    cancel_reservations: bool,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AdminError> {
    let held: Vec<_> = reservation_repo::search(
        conn,
        &reservation_repo::Search {
            date: Some(date),
            counter: Some(counter.to_string()),
            ..Default::default()
        },
        10_000,
    )?
    .into_iter()
    .filter(|r| r.status.is_active())
    .collect();
    if !held.is_empty() && !cancel_reservations {
        return Err(AdminError::DayHasReservations {
            date,
            count: held.len(),
        });
    }
    let mut cancelled = Vec::with_capacity(held.len());
    for r in held {
        let number = r.reservation_number.clone();
        // One mail per party: the first person's, listing the others (theirs go unmailed).
        let party = crate::reservations::repo::led_by(conn, &r)?;
        let member =
            party.is_empty() && crate::reservations::repo::party_of(conn, &r.id)?.is_some();
        // A closure's reason is its announcement: the residents are told it.
        let how = super::cancel::Cancellation {
            by: crate::mail::CancelledBy::Closure,
            reason: Some(reason),
            message: Some(reason),
            manage_token: None,
            mail: if member {
                super::cancel::Mailed::No
            } else {
                super::cancel::Mailed::Listing(&party)
            },
        };
        cancel_row(conn, ctx, r, &how, now)?;
        cancelled.push(number);
    }
    Ok(cancelled)
}

/// Lifts a closure an administrator made: the day opens again (reservations cancelled by the
/// closure stay cancelled; residents book again). 404 `closure_not_found`.
pub(crate) fn lift_closure(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    counter_id: &str,
    date: NaiveDate,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ClosureRow, AdminError> {
    let counter = ctx.calendar.get_counter(counter_id)?;
    let day = Lock::Day {
        counter: &counter.id,
        day: date,
    };
    lock(conn, &[(Mode::Exclusive, day)])?;
    let row = find_closure(conn, &counter.id, date)?.ok_or(AdminError::ClosureNotFound)?;
    delete_closure(conn, &row)?;
    audit::record(
        conn,
        Some(actor),
        &format!("{}/{date}", counter.id),
        &Detail::ClosureLifted {
            reason: &row.reason,
        },
        now,
    )?;
    Ok(row)
}
