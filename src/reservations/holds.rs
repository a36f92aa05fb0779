//! Holds (仮押さえ): the slot a verified resident chose, kept for `booking.hold_minutes` while
//! they fill in the form. A hold takes its seats at once, as held seats (`slots.offer_held`,
//! the conditional UPDATE a waiting-list offer uses), so availability on every instance shows
//! them taken and nobody else can book them; a booking that names the hold turns them into
//! its reservation even when the rest of the slot filled meanwhile ([`use_for_booking`]).
//! Taking one, with the rules it goes through, is [`super::holding`]. A hold ends used,
//! released (`DELETE`), replaced or expired; the seats of the last three are freed here
//! ([`end`]) and offered to the waiting list by `operations` (a replaced hold's by the
//! waiting-list sweeper: the hold replacing it already holds locks that come after the
//! waiting list's).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::BookingError;
use crate::calendar::repo::book_held_seats;
use crate::calendar::SlotId;
use crate::db::schema::holds;
use crate::db::{DbConnection, Tx};
use crate::tokens::hash_token;

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum HoldStatus {
    /// Its seats are held (until `expires_at`: then the sweeper frees them).
    Live,
    /// A booking took its seats.
    Used,
    /// The resident let it go.
    Released,
    /// A newer hold of the same address took its place.
    Replaced,
    /// It ran out.
    Expired,
}

crate::db::text_enum!(HoldStatus {
    Live => "live",
    Used => "used",
    Released => "released",
    Replaced => "replaced",
    Expired => "expired",
});

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = holds)]
pub(crate) struct HoldRow {
    /// The SHA-256 of the hold's public id (which only its resident has).
    pub id: String,
    /// The link it was taken with (its token's hash): only a booking with that link uses it.
    pub verification_hash: String,
    pub email_key: String,
    pub ip_key: String,
    pub counter_id: String,
    pub slot_id: String,
    pub visit_on: NaiveDate,
    pub seats: i32,
    pub status: HoldStatus,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub reservation_id: Option<String>,
}

impl HoldRow {
    pub(crate) fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.status == HoldStatus::Live && now.naive_utc() < self.expires_at
    }
}

/// The address's live hold, if any, ended as replaced and its seats freed (a new hold of the
/// address, or a booking made without it). The caller holds the address's lock.
pub(crate) fn end_live_of_address(
    conn: &mut Tx<'_>,
    email_key: &str,
    now: DateTime<Utc>,
) -> Result<Option<HoldRow>, BookingError> {
    let db: &mut DbConnection = conn;
    let live = holds::table
        .filter(holds::status.eq(HoldStatus::Live))
        .filter(holds::email_key.eq(email_key))
        .select(HoldRow::as_select())
        .first(db)
        .optional()?;
    let Some(old) = live else {
        return Ok(None);
    };
    end(conn, &old, HoldStatus::Replaced, now)?;
    Ok(Some(old))
}

/// Ends a live hold (`Released`, `Replaced`, `Expired`) and frees its seats; false when it was
/// no longer live (another request ended it first).
pub(crate) fn end(
    conn: &mut Tx<'_>,
    hold: &HoldRow,
    status: HoldStatus,
    now: DateTime<Utc>,
) -> Result<bool, BookingError> {
    let db: &mut DbConnection = conn;
    let touched = diesel::update(
        holds::table
            .find(&hold.id)
            .filter(holds::status.eq(HoldStatus::Live)),
    )
    .set((
        holds::status.eq(status),
        holds::ended_at.eq(now.naive_utc()),
    ))
    .execute(db)?;
    if touched == 0 {
        return Ok(false);
    }
    if !book_held_seats(conn, &hold.slot_id, hold.seats, 0, now)? {
        return Err(anyhow::anyhow!("a hold's seats were not held").into());
    }
    Ok(true)
}

/// The hold a public id names.
pub(crate) fn find(conn: &mut DbConnection, hold_id: &str) -> QueryResult<Option<HoldRow>> {
    holds::table
        .find(hash_token(hold_id))
        .select(HoldRow::as_select())
        .first(conn)
        .optional()
}

/// Holds that ended before `before` (used, released, replaced, expired): nothing needs them
/// once they have ended, and they keep an address's key and a client's.
pub(crate) fn delete_ended(conn: &mut DbConnection, before: DateTime<Utc>) -> QueryResult<u64> {
    let n = diesel::delete(
        holds::table
            .filter(holds::status.ne(HoldStatus::Live))
            .filter(holds::ended_at.lt(before.naive_utc())),
    )
    .execute(conn)?;
    Ok(n as u64)
}

/// Live holds whose time is up at `now` (the sweeper ends each in a transaction of its own).
pub(crate) fn list_expired(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> QueryResult<Vec<HoldRow>> {
    holds::table
        .filter(holds::status.eq(HoldStatus::Live))
        .filter(holds::expires_at.le(now.naive_utc()))
        .select(HoldRow::as_select())
        .order(holds::expires_at.asc())
        .limit(500)
        .load(conn)
}

/// A booking through a hold, inside the booking's transaction (after its checks, in place of
/// taking a seat): the hold must be the link's, live and for the booking's slot; its seats
/// become the booking's `people` and any it held beyond them are free again. Returns the seats
/// it booked (fewer than `people` when the hold kept fewer: the caller takes the rest).
/// Refused: `HoldNotFound` (unknown, or another link's), `HoldExpired` (ran out, or ended),
/// `HoldOtherSlot`.
pub(crate) fn use_for_booking(
    conn: &mut Tx<'_>,
    booking: &HoldUse<'_>,
    now: DateTime<Utc>,
) -> Result<i32, BookingError> {
    let db: &mut DbConnection = conn;
    let hold = find(db, booking.hold_id)?
        .filter(|h| h.verification_hash == hash_token(booking.verification_token))
        .ok_or(BookingError::HoldNotFound)?;
    if !hold.is_live(now) {
        return Err(BookingError::HoldExpired);
    }
    if hold.slot_id != booking.slot_id.to_string() {
        return Err(BookingError::HoldOtherSlot);
    }
    let touched = diesel::update(
        holds::table
            .find(&hold.id)
            .filter(holds::status.eq(HoldStatus::Live))
            .filter(holds::expires_at.gt(now.naive_utc())),
    )
    .set((
        holds::status.eq(HoldStatus::Used),
        holds::ended_at.eq(now.naive_utc()),
        holds::reservation_id.eq(booking.reservation_id),
    ))
    .execute(db)?;
    if touched == 0 {
        return Err(BookingError::HoldExpired);
    }
    let people = booking.people.min(hold.seats);
    if !book_held_seats(conn, &hold.slot_id, hold.seats, people, now)? {
        return Err(anyhow::anyhow!("a hold's seats were not held").into());
    }
    Ok(people)
}

/// What a booking through a hold names.
pub(crate) struct HoldUse<'a> {
    pub hold_id: &'a str,
    pub verification_token: &'a str,
    pub slot_id: &'a SlotId,
    pub reservation_id: &'a str,
    /// The people the booking seats.
    pub people: i32,
}
