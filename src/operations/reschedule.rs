//! Moving a reservation to another slot: the new seat taken and the old one freed (and offered
//! to the waiting list) in one transaction.

use chrono::{DateTime, NaiveDate, Utc};

use super::offer_freed_seat;
use crate::calendar::repo::release_seat;
use crate::calendar::SlotId;
use crate::db::{lock, Lock, Mode, Tx};
use crate::mail::MailKind;
use crate::reservations::mail::{party_lines, reservation_mail, visit_label};
use crate::reservations::model::{ReservationRow, ReservationStatus};
use crate::reservations::service::{
    check_window, enqueue_for, get_by_token, second_visit_range, take_seats_in, Ctx,
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
    // A party's first person moves the party: all its seats, or none.
    let party: Vec<ReservationRow> = repo::led_by(conn, &row)?
        .into_iter()
        .filter(|m| m.status == ReservationStatus::Confirmed)
        .collect();
    let people = i32::try_from(party.len() + 1).unwrap_or(i32::MAX);
    // Seats in id order, so two reschedules crossing the same two slots cannot deadlock.
    let taker = row.channel.taker();
    if new_id < row.slot_id {
        take_seats_in(conn, ctx.calendar, counter, &def, taker, people, now)?;
        release_seats(conn, &row.slot_id, people, now)?;
    } else {
        release_seats(conn, &row.slot_id, people, now)?;
        take_seats_in(conn, ctx.calendar, counter, &def, taker, people, now)?;
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
    let moved_party = move_party(conn, party, &moved)?;
    if let Some(recipient) = &moved.email {
        let mut mail = reservation_mail(&ctx, &moved, Some(manage_token), now);
        mail.party = party_lines(&ctx, &moved_party);
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

/// A party's others moved with their first person (`moved`), to the same slot.
fn move_party(
    conn: &mut Tx<'_>,
    party: Vec<ReservationRow>,
    moved: &ReservationRow,
) -> Result<Vec<ReservationRow>, BookingError> {
    let mut moved_party = Vec::with_capacity(party.len());
    for m in party {
        let m = ReservationRow {
            counter_id: moved.counter_id.clone(),
            slot_id: moved.slot_id.clone(),
            visit_on: moved.visit_on,
            starts_at: moved.starts_at,
            ends_at: moved.ends_at,
            updated_at: moved.updated_at,
            ics_sequence: m.ics_sequence + 1,
            reminder_sent_at: None,
            ..m
        };
        if !repo::move_to_slot(conn, &m.id, &m)? {
            return Err(anyhow::anyhow!("a party's reservation changed under the lock").into());
        }
        moved_party.push(m);
    }
    Ok(moved_party)
}

/// Frees `n` seats of a slot (a party moving away).
fn release_seats(
    conn: &mut Tx<'_>,
    slot_id: &str,
    n: i32,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    for _ in 0..n {
        release_seat(conn, slot_id, now)?;
    }
    Ok(())
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
