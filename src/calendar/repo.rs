//! Slot rows: read the booked counts, create a row when first needed, take and free seats.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::SlotDef;
use crate::db::schema::{closures, slots};
use crate::db::{DbConnection, Tx};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = slots)]
pub struct SlotRow {
    pub id: String,
    pub counter_id: String,
    pub visit_on: NaiveDate,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub booked: i32,
    pub updated_at: NaiveDateTime,
    /// Seats held back from the web for phone bookings until the day's release.
    pub phone_held: i32,
    /// Seats held: for residents offered them from the waiting list, and by residents' holds
    /// (仮押さえ, the `holds` table) while they fill in the form.
    pub offer_held: i32,
    /// Grows by one with every change to the seats (see the `rush` migration).
    pub version: i64,
}

impl SlotRow {
    /// The row a slot gets on first use, with the counter's configured seats.
    pub fn new(def: &SlotDef, counter: &super::Counter, now: DateTime<Utc>) -> Self {
        let capacity = i32::try_from(counter.capacity_per_slot).unwrap_or(i32::MAX);
        SlotRow {
            id: def.id.to_string(),
            counter_id: def.id.counter.clone(),
            visit_on: def.id.date,
            starts_at: def.starts_at.naive_utc(),
            ends_at: def.ends_at.naive_utc(),
            capacity,
            booked: 0,
            updated_at: now.naive_utc(),
            phone_held: i32::try_from(counter.phone_seats_per_slot)
                .unwrap_or(0)
                .min(capacity),
            offer_held: 0,
            version: 0,
        }
    }

    /// The row to insert when the slot has none yet: its seat taken when one is free, else as
    /// it is (and the answer, booked = 0, says full). `hold_phone_seats`: as for
    /// [`take_seat_or_create`].
    pub fn with_seat_taken(&self, hold_phone_seats: bool, now: DateTime<Utc>) -> Self {
        self.with_seats_taken(hold_phone_seats, 1, now)
    }

    /// [`SlotRow::with_seat_taken`] for `seats` at once: all of them, or none.
    pub fn with_seats_taken(&self, hold_phone_seats: bool, seats: i32, now: DateTime<Utc>) -> Self {
        let factor = i32::from(hold_phone_seats);
        let mut row = self.clone();
        row.updated_at = now.naive_utc();
        if row.booked + row.offer_held + row.phone_held * factor + seats <= row.capacity {
            row.booked += seats;
            row.version += 1;
        }
        row
    }

    pub fn seats(&self) -> super::Seats {
        super::Seats {
            capacity: self.capacity,
            booked: self.booked,
            offer_held: self.offer_held,
            phone_held: self.phone_held,
        }
    }

    /// Every free seat (what phone staff may book).
    pub fn remaining(&self) -> u32 {
        u32::try_from(self.capacity - self.booked - self.offer_held).unwrap_or(0)
    }
}

/// Notes the day of the slot `id` names as changed by this transaction.
fn note_slot(conn: &mut Tx<'_>, id: &str) {
    if let Ok(slot) = id.parse::<super::SlotId>() {
        conn.day_changed(&slot.counter, slot.date);
    }
}

/// Rows of one counter between two local dates (inclusive): one indexed query.
pub fn list_slot_rows(
    conn: &mut DbConnection,
    counter_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<SlotRow>> {
    slots::table
        .filter(slots::counter_id.eq(counter_id))
        .filter(slots::visit_on.between(from, to))
        .select(SlotRow::as_select())
        .load(conn)
}

pub(crate) fn find_slot_row(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SlotRow>> {
    slots::table
        .find(id)
        .select(SlotRow::as_select())
        .first(conn)
        .optional()
}

/// Makes sure the slot has a row, with the configured capacity if it is new. Concurrent
/// callers may race here, so the insert ignores a row that appeared meanwhile
/// (`ON CONFLICT DO NOTHING`, written per backend).
pub(crate) fn ensure_slot_row(conn: &mut Tx<'_>, row: &SlotRow) -> QueryResult<()> {
    conn.day_changed(&row.counter_id, row.visit_on);
    let conn: &mut DbConnection = conn;
    if find_slot_row(conn, &row.id)?.is_some() {
        return Ok(());
    }
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(slots::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Pg(c) => diesel::insert_into(slots::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(())
}

/// Takes `seats` seats (one, or a party's), creating the slot's row (with `new_row`'s configured seats) on first use:
/// one statement, `INSERT … ON CONFLICT (id) DO UPDATE SET booked = booked + 1 WHERE <a seat
/// is free> RETURNING booked`. `hold_phone_seats`: the taker may not take the seats held for
/// phone bookings (the web before their release). Seats held for offers are never taken.
/// False when no seat is free. Two transactions can never both take the last seat: the
/// conflict path re-checks the condition on the locked row (PostgreSQL), SQLite writers are
/// serialised, and the CHECK (trigger on SQLite) refuses an overbooked row regardless.
pub(crate) fn take_seat_or_create(
    conn: &mut Tx<'_>,
    new_row: &SlotRow,
    hold_phone_seats: bool,
    seats: i32,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    conn.day_changed(&new_row.counter_id, new_row.visit_on);
    let conn: &mut DbConnection = conn;
    let factor = i32::from(hold_phone_seats);
    let row = new_row.with_seats_taken(hold_phone_seats, seats, now);
    let changes = (
        slots::booked.eq(slots::booked + seats),
        slots::updated_at.eq(now.naive_utc()),
        slots::version.eq(slots::version + 1),
    );
    let free = (slots::booked + slots::offer_held + slots::phone_held * factor + seats)
        .le(slots::capacity);
    use diesel::query_dsl::methods::FilterDsl;
    let upsert = || {
        FilterDsl::filter(
            diesel::insert_into(slots::table)
                .values(row.clone())
                .on_conflict(slots::id)
                .do_update()
                .set(changes),
            free,
        )
        .returning(slots::booked)
    };
    let booked: Option<i32> = match conn {
        DbConnection::Pg(c) => upsert().get_result(c).optional()?,
        DbConnection::Sqlite(c) => upsert().get_result(c).optional()?,
    };
    Ok(booked.is_some_and(|b| b >= 1))
}

/// Frees one seat (cancel, reschedule away).
pub(crate) fn release_seat(conn: &mut Tx<'_>, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    note_slot(conn, id);
    let conn: &mut DbConnection = conn;
    let touched = diesel::update(slots::table.find(id).filter(slots::booked.gt(0)))
        .set((
            slots::booked.eq(slots::booked - 1),
            slots::updated_at.eq(now.naive_utc()),
            slots::version.eq(slots::version + 1),
        ))
        .execute(conn)?;
    Ok(touched == 1)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = closures)]
pub struct ClosureRow {
    pub id: String,
    pub counter_id: String,
    pub closed_on: NaiveDate,
    pub reason: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

pub(crate) fn insert_closure(conn: &mut Tx<'_>, row: &ClosureRow) -> QueryResult<()> {
    conn.day_changed(&row.counter_id, row.closed_on);
    let conn: &mut DbConnection = conn;
    diesel::insert_into(closures::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub(crate) fn closure_exists(
    conn: &mut DbConnection,
    counter_id: &str,
    date: NaiveDate,
) -> QueryResult<bool> {
    let n: i64 = closures::table
        .filter(closures::counter_id.eq(counter_id))
        .filter(closures::closed_on.eq(date))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Days an administrator closed, between two dates (inclusive).
pub(crate) fn list_closed_dates(
    conn: &mut DbConnection,
    counter_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<std::collections::BTreeSet<NaiveDate>> {
    let dates: Vec<NaiveDate> = closures::table
        .filter(closures::counter_id.eq(counter_id))
        .filter(closures::closed_on.between(from, to))
        .select(closures::closed_on)
        .load(conn)?;
    Ok(dates.into_iter().collect())
}

/// Sets a slot's capacity unless more seats are already booked or held for offers; false when
/// they are. The phone-held seats never exceed the capacity.
pub(crate) fn set_capacity(
    conn: &mut Tx<'_>,
    id: &str,
    capacity: i32,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    note_slot(conn, id);
    let conn: &mut DbConnection = conn;
    let Some(row) = find_slot_row(conn, id)? else {
        return Ok(false);
    };
    let touched = diesel::update(
        slots::table
            .find(id)
            .filter((slots::booked + slots::offer_held).le(capacity)),
    )
    .set((
        slots::capacity.eq(capacity),
        slots::phone_held.eq(row.phone_held.min(capacity)),
        slots::updated_at.eq(now.naive_utc()),
        slots::version.eq(slots::version + 1),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Holds a free seat for a waiting-list offer (not one held for phone before its release:
/// `reserved`, as for the web). False when there is none.
pub(crate) fn hold_offer_seat(
    conn: &mut Tx<'_>,
    id: &str,
    reserved: i32,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    hold_seats(conn, id, 1, reserved, now)
}

/// Holds `n` free seats at once (a waiting-list offer, a resident's hold), none of the
/// `reserved` ones (held for phone before their release): one conditional UPDATE, so holds and
/// bookings racing for the last seats never take more than there are. False when fewer are
/// free. Every held seat is counted in `offer_held`, whoever holds it.
pub(crate) fn hold_seats(
    conn: &mut Tx<'_>,
    id: &str,
    n: i32,
    reserved: i32,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    note_slot(conn, id);
    let conn: &mut DbConnection = conn;
    let touched = diesel::update(
        slots::table
            .find(id)
            .filter((slots::booked + slots::offer_held + reserved + n).le(slots::capacity)),
    )
    .set((
        slots::offer_held.eq(slots::offer_held + n),
        slots::updated_at.eq(now.naive_utc()),
        slots::version.eq(slots::version + 1),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Releases a seat held for an offer (declined, expired, passed to nobody).
pub(crate) fn release_offer_seat(
    conn: &mut Tx<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    book_held_seats(conn, id, 1, 0, now)
}

/// Turns a seat held for an offer into a booking (the offer accepted).
pub(crate) fn book_offer_seat(
    conn: &mut Tx<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    book_held_seats(conn, id, 1, 1, now)
}

/// Of `held` seats held, `booked` become bookings and the rest are free again (a hold used by
/// a booking; `booked` 0: released). False when fewer than `held` are held.
pub(crate) fn book_held_seats(
    conn: &mut Tx<'_>,
    id: &str,
    held: i32,
    booked: i32,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    note_slot(conn, id);
    let conn: &mut DbConnection = conn;
    let touched = diesel::update(slots::table.find(id).filter(slots::offer_held.ge(held)))
        .set((
            slots::offer_held.eq(slots::offer_held - held),
            slots::booked.eq(slots::booked + booked),
            slots::updated_at.eq(now.naive_utc()),
            slots::version.eq(slots::version + 1),
        ))
        .execute(conn)?;
    Ok(touched == 1)
}

/// The closures an administrator made for a counter between two dates (inclusive), by date.
pub(crate) fn list_closures(
    conn: &mut DbConnection,
    counter_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<ClosureRow>> {
    closures::table
        .filter(closures::counter_id.eq(counter_id))
        .filter(closures::closed_on.between(from, to))
        .order(closures::closed_on.asc())
        .select(ClosureRow::as_select())
        .load(conn)
}

pub(crate) fn find_closure(
    conn: &mut DbConnection,
    counter_id: &str,
    date: NaiveDate,
) -> QueryResult<Option<ClosureRow>> {
    closures::table
        .filter(closures::counter_id.eq(counter_id))
        .filter(closures::closed_on.eq(date))
        .select(ClosureRow::as_select())
        .first(conn)
        .optional()
}

pub(crate) fn delete_closure(conn: &mut Tx<'_>, row: &ClosureRow) -> QueryResult<bool> {
    conn.day_changed(&row.counter_id, row.closed_on);
    let conn: &mut DbConnection = conn;
    let id = row.id.as_str();
    Ok(diesel::delete(closures::table.find(id)).execute(conn)? == 1)
}
