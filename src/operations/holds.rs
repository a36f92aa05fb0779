//! Holds that end and free their seats (released by the resident, run out): the seats go back
//! and are offered to the waiting list in the same transaction, the day's waiting-list lock
//! taken first, as a cancellation does. Taking a hold that replaces the address's last frees
//! that one's seats without offering them (the new hold already holds a day's and an
//! address's locks, which come after the waiting list's): the waiting-list sweeper offers
//! free seats of every day with people waiting on its next pass.

use chrono::{DateTime, Utc};

use super::offer_freed_seat;
use crate::db::Tx;
use crate::reservations::holds::{self, HoldRow, HoldStatus};
use crate::reservations::service::Ctx;
use crate::reservations::BookingError;
use crate::waitlist;

/// `DELETE /api/v1/holds/{id}`: the hold let go, its seats freed and offered to the waiting
/// list. Idempotent (an ended hold stays as it ended), and an unknown id is let go as well:
/// the answer tells nothing about which ids exist.
pub(crate) fn release_hold(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    hold_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let Some(hold) = holds::find(conn, hold_id)? else {
        return Ok(false);
    };
    end_and_offer(conn, ctx, &hold, HoldStatus::Released, now)
}

/// The sweeper's step for a hold whose time is up: it expires, its seats are freed at once
/// and offered to the waiting list. False when it had ended otherwise meanwhile.
pub(crate) fn expire_hold(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    hold: &HoldRow,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    if now.naive_utc() < hold.expires_at {
        return Ok(false);
    }
    end_and_offer(conn, ctx, hold, HoldStatus::Expired, now)
}

fn end_and_offer(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    hold: &HoldRow,
    status: HoldStatus,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    if hold.status != HoldStatus::Live {
        return Ok(false);
    }
    // The waiting list's lock before the slot row ([`crate::db::Lock::Waitlist`]).
    waitlist::lock_day(conn, &hold.counter_id, hold.visit_on)?;
    if !holds::end(conn, hold, status, now)? {
        return Ok(false);
    }
    offer_freed_seat(conn, ctx, &hold.counter_id, hold.visit_on, now)?;
    tracing::info!(slot.id = %hold.slot_id, seats = hold.seats, status = %status, "a hold ended and freed its seats");
    Ok(true)
}
