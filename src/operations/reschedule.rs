//! Moving a reservation to another slot: the new seat taken and the old one freed (and offered
//! to the waiting list) in one transaction.

use chrono::{DateTime, NaiveDate, Utc};

use super::offer_freed_seat;
use crate::calendar::repo::release_seat;
use crate::calendar::SlotId;
use crate::db::{lock, Lock, Mode, Tx};
use crate::mail::MailKind;
use crate::reservations::mail::{reservation_mail, visit_label};
use crate::reservations::model::{ReservationRow, ReservationStatus};
use crate::reservations::service::{
    check_window, enqueue_for, get_by_token, second_visit_range, take_seat_in, Ctx,
};
use crate::reservations::{repo, BookingError};

/// Moves a reservation to another slot atomically: the new seat is taken and the old one
/// freed in one transaction, so it never holds two seats, and never loses the old one when
/// the new slot is full (`slot_full`, its alternatives read by the caller after this
/// transaction).
pub(crate) fn reschedule(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    manage_token: &str,
    new_slot: &SlotId,
    now: DateTime<Utc>,
) -> Result<ReservationRow, BookingError> {
    let (counter, def) = ctx.calendar.resolve(new_slot)?;
    let row = get_by_token(conn, manage_token)?;
    if row.status == ReservationStatus::Cancelled {
        return Err(BookingError::Cancelled);
    }
    if row.status != ReservationStatus::Confirmed || now.naive_utc() >= row.starts_at {
        return Err(BookingError::TooLateToChange);
    }
    let new_id = def.id.to_string();
    if row.slot_id == new_id {
        return Ok(row);
    }
    check_window(ctx.calendar, counter, &def, now)?;
    if crate::reservations::repo::lottery_holds(conn, &counter.id, def.id.date)? {
        return Err(BookingError::LotteryPeriod);
    }
    second_visit_allows(conn, &ctx, &row, def.id.date)?;
    lock_both_days(conn, &row, &counter.id, def.id.date)?;
    ctx.calendar.open_day(conn, counter, def.id.date)?;
    // Seats in id order, so two reschedules crossing the same two slots cannot deadlock.
    let taker = row.channel.taker();
    if new_id < row.slot_id {
        take_seat_in(conn, ctx.calendar, counter, &def, taker, now)?;
        release_seat(conn, &row.slot_id, now)?;
    } else {
        release_seat(conn, &row.slot_id, now)?;
        take_seat_in(conn, ctx.calendar, counter, &def, taker, now)?;
    }
    offer_freed_seat(conn, &ctx, &row.counter_id, row.visit_on, now)?;
    let previous_label = visit_label(ctx.calendar, &row);
    let moved = ReservationRow {
        counter_id: counter.id.clone(),
        slot_id: new_id,
        visit_on: def.id.date,
        starts_at: def.starts_at.naive_utc(),
        ends_at: def.ends_at.naive_utc(),
        updated_at: now.naive_utc(),
        ics_sequence: row.ics_sequence + 1,
        reminder_sent_at: None,
        ..row
    };
    if !repo::move_to_slot(conn, &moved.id, &moved)? {
        return Err(anyhow::anyhow!("reservation changed under the lock").into());
    }
    if let Some(recipient) = &moved.email {
        let mut mail = reservation_mail(&ctx, &moved, Some(manage_token), now);
        mail.previous_label = Some(previous_label);
        enqueue_for(
            conn,
            &ctx,
            MailKind::BookingChanged,
            recipient,
            mail,
            &moved.id,
            now,
        )?;
    }
    tracing::info!(reservation.number = %moved.reservation_number, slot.id = %moved.slot_id, "reservation moved");
    Ok(moved)
}

/// A second visit moves only inside the days its first visit allows.
fn second_visit_allows(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &ReservationRow,
    date: NaiveDate,
) -> Result<(), BookingError> {
    let Some(first_id) = &row.first_visit_id else {
        return Ok(());
    };
    let Some(first) = repo::find_by_id(conn, first_id)? else {
        return Ok(());
    };
    if let Some((from, until)) = second_visit_range(ctx, &first) {
        if date < from {
            return Err(BookingError::SecondVisitTooEarly { from });
        }
        if date > until {
            return Err(BookingError::SecondVisitTooLate { until });
        }
    }
    Ok(())
}

/// The old day's waiting list (its freed seat is offered), then both days: the one left (a
/// closure may be cancelling it) and the one joined.
fn lock_both_days(
    conn: &mut Tx<'_>,
    row: &ReservationRow,
    counter: &str,
    date: NaiveDate,
) -> diesel::QueryResult<()> {
    lock(
        conn,
        &[
            (
                Mode::Exclusive,
                Lock::Waitlist {
                    counter: &row.counter_id,
                    day: row.visit_on,
                },
            ),
            (
                Mode::Shared,
                Lock::Day {
                    counter: &row.counter_id,
                    day: row.visit_on,
                },
            ),
            (Mode::Shared, Lock::Day { counter, day: date }),
        ],
    )
}
