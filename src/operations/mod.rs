//! Operations that span the reservations and the waiting list: whatever frees a seat and
//! then offers it to those waiting (cancelling, rescheduling, a capacity change, closing and
//! reopening a day). Each is one write transaction, taking the waiting list's lock of the day
//! before any slot row ([`crate::db::Lock`] states the lock order).
//!
//! This module stands above both `reservations` and `waitlist`, so neither imports the other's
//! inside for these (`ARCHITECTURE.md`).

mod admin;
mod cancel;
mod holds;
mod reschedule;

use chrono::{DateTime, Utc};

use crate::db::Tx;
use crate::reservations::service::Ctx;

pub(crate) use admin::{change_capacity, close_day, lift_closure, AdminError, CloseDay};
pub(crate) use cancel::{cancel_by_number, cancel_by_token, cancel_party_member, cancel_row};
pub(crate) use holds::{expire_hold, release_hold};
pub(crate) use reschedule::reschedule;

/// A seat of `day` was freed: offer it to the waiting list, in the same transaction.
pub(crate) fn offer_freed_seat(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter_id: &str,
    day: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u32> {
    match ctx.calendar.counter(counter_id) {
        Some(counter) => crate::waitlist::fill(conn, ctx, counter, day, now),
        None => Ok(0),
    }
}
