use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::{ReservationRow, Status};
use crate::db::schema::reservations;
use crate::db::DbConnection;

pub fn insert_reservation(conn: &mut DbConnection, row: &ReservationRow) -> QueryResult<()> {
    diesel::insert_into(reservations::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_manage_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .filter(reservations::manage_token_hash.eq(hash))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_number(
    conn: &mut DbConnection,
    number: &str,
) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .filter(reservations::reservation_number.eq(number))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

pub fn number_taken(conn: &mut DbConnection, number: &str) -> QueryResult<bool> {
    Ok(find_by_number(conn, number)?.is_some())
}

/// Active reservations not yet over, of one person for one procedure.
pub fn count_active_for_person(
    conn: &mut DbConnection,
    person_key: &str,
    procedure: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::person_key.eq(person_key))
        .filter(reservations::procedure_id.eq(procedure))
        .filter(reservations::status.eq_any(Status::ACTIVE))
        .filter(reservations::ends_at.gt(now.naive_utc()))
        .select(count_star())
        .first(conn)
}

/// Active reservations not yet over, made with one address.
pub fn count_active_for_email(
    conn: &mut DbConnection,
    email: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::email.eq(email))
        .filter(reservations::status.eq_any(Status::ACTIVE))
        .filter(reservations::ends_at.gt(now.naive_utc()))
        .select(count_star())
        .first(conn)
}

/// Cancels a confirmed reservation; false if it was not confirmed.
pub fn mark_cancelled(
    conn: &mut DbConnection,
    id: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq(Status::Confirmed.as_str())),
    )
    .set((
        reservations::status.eq(Status::Cancelled.as_str()),
        reservations::cancelled_at.eq(Some(now.naive_utc())),
        reservations::cancel_reason.eq(reason),
        reservations::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Points a confirmed reservation at another slot.
pub fn move_to_slot(
    conn: &mut DbConnection,
    id: &str,
    moved: &ReservationRow,
) -> QueryResult<bool> {
    let touched = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq(Status::Confirmed.as_str())),
    )
    .set((
        reservations::counter_id.eq(&moved.counter_id),
        reservations::slot_id.eq(&moved.slot_id),
        reservations::visit_on.eq(moved.visit_on),
        reservations::starts_at.eq(moved.starts_at),
        reservations::ends_at.eq(moved.ends_at),
        reservations::updated_at.eq(moved.updated_at),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Reservations holding a seat of the slot (every status but cancelled).
pub fn count_seated_in_slot(conn: &mut DbConnection, slot_id: &str) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::slot_id.eq(slot_id))
        .filter(reservations::status.ne(Status::Cancelled.as_str()))
        .select(count_star())
        .first(conn)
}
