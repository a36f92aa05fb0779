//! Waiting-list entries and their mailed links.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalogue::ApplicantType;
use crate::db::schema::{waitlist, waitlist_links};
use crate::db::DbConnection;
use crate::tokens::{hash_token, new_token};

/// Where an entry stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum WaitStatus {
    Waiting,
    Offered,
    Accepted,
    Expired,
    Left,
}

crate::db::text_enum!(WaitStatus {
    Waiting => "waiting",
    Offered => "offered",
    Accepted => "accepted",
    Expired => "expired",
    Left => "left",
});

impl WaitStatus {
    /// Entries that count against the person and address limits.
    pub const ACTIVE: [WaitStatus; 2] = [WaitStatus::Waiting, WaitStatus::Offered];
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = waitlist)]
pub struct WaitlistRow {
    pub id: String,
    pub manage_token_hash: String,
    pub counter_id: String,
    pub visit_on: NaiveDate,
    pub procedure_id: String,
    pub applicant_type: ApplicantType,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub email: String,
    pub representative_name: Option<String>,
    pub person_key: String,
    pub status: WaitStatus,
    pub offer_slot_id: Option<String>,
    pub offer_expires_at: Option<NaiveDateTime>,
    /// How many offers this entry has had (an expired entry with none just ended).
    pub offers: i32,
    /// Order of joining among the day's entries (taken under the day's lock).
    pub seq: i64,
    pub reservation_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The address as every limit compares it ([`crate::text::email_key`]).
    pub email_key: Option<String>,
}

pub(crate) fn insert(conn: &mut DbConnection, row: &WaitlistRow) -> QueryResult<()> {
    diesel::insert_into(waitlist::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub(crate) fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<WaitlistRow>> {
    waitlist::table
        .find(id)
        .select(WaitlistRow::as_select())
        .first(conn)
        .optional()
}

/// The entry a token names (the joining one or a mailed one), by its hash.
pub(crate) fn find_by_token_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> QueryResult<Option<WaitlistRow>> {
    let direct = waitlist::table
        .filter(waitlist::manage_token_hash.eq(hash))
        .select(WaitlistRow::as_select())
        .first(conn)
        .optional()?;
    if direct.is_some() {
        return Ok(direct);
    }
    waitlist::table
        .inner_join(waitlist_links::table)
        .filter(waitlist_links::token_hash.eq(hash))
        .select(WaitlistRow::as_select())
        .first(conn)
        .optional()
}

/// Another link for an entry (the offer mail's).
pub(crate) fn issue_link(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let token = new_token();
    diesel::insert_into(waitlist_links::table)
        .values((
            waitlist_links::token_hash.eq(hash_token(&token)),
            waitlist_links::waitlist_id.eq(id),
            waitlist_links::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Waiting entries of a counter's day, first in line first.
pub(crate) fn list_waiting(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> QueryResult<Vec<WaitlistRow>> {
    waitlist::table
        .filter(waitlist::counter_id.eq(counter))
        .filter(waitlist::visit_on.eq(day))
        .filter(waitlist::status.eq(WaitStatus::Waiting))
        .order(waitlist::seq.asc())
        .select(WaitlistRow::as_select())
        .load(conn)
}

/// The next place in a day's order of joining (call under the day's lock).
pub(crate) fn next_seq(conn: &mut DbConnection, counter: &str, day: NaiveDate) -> QueryResult<i64> {
    let max: Option<i64> = waitlist::table
        .filter(waitlist::counter_id.eq(counter))
        .filter(waitlist::visit_on.eq(day))
        .select(diesel::dsl::max(waitlist::seq))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Place in line among those still waiting (1 = next).
pub(crate) fn position(conn: &mut DbConnection, row: &WaitlistRow) -> QueryResult<Option<i64>> {
    if row.status != WaitStatus::Waiting {
        return Ok(None);
    }
    let ahead: i64 = waitlist::table
        .filter(waitlist::counter_id.eq(&row.counter_id))
        .filter(waitlist::visit_on.eq(row.visit_on))
        .filter(waitlist::status.eq(WaitStatus::Waiting))
        .filter(waitlist::seq.lt(row.seq))
        .select(count_star())
        .first(conn)?;
    Ok(Some(ahead + 1))
}

/// Waiting or offered entries of one person for one procedure.
pub(crate) fn count_active_for_person(
    conn: &mut DbConnection,
    person_key: &str,
    procedure: &str,
) -> QueryResult<i64> {
    waitlist::table
        .filter(waitlist::person_key.eq(person_key))
        .filter(waitlist::procedure_id.eq(procedure))
        .filter(waitlist::status.eq_any(WaitStatus::ACTIVE))
        .select(count_star())
        .first(conn)
}

/// Waiting or offered entries made with one address.
pub(crate) fn count_active_for_email(conn: &mut DbConnection, email_key: &str) -> QueryResult<i64> {
    waitlist::table
        .filter(waitlist::email_key.eq(email_key))
        .filter(waitlist::status.eq_any(WaitStatus::ACTIVE))
        .select(count_star())
        .first(conn)
}

/// Moves an entry from `from` to `to`; false if it was no longer in `from`.
pub(crate) fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: WaitStatus,
    to: WaitStatus,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(waitlist::table.find(id).filter(waitlist::status.eq(from)))
        .set((
            waitlist::status.eq(to),
            waitlist::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(touched == 1)
}

/// A waiting entry is offered a held seat until `expires`; false if it no longer waits.
pub(crate) fn mark_offered(
    conn: &mut DbConnection,
    id: &str,
    slot: &str,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        waitlist::table
            .find(id)
            .filter(waitlist::status.eq(WaitStatus::Waiting)),
    )
    .set((
        waitlist::status.eq(WaitStatus::Offered),
        waitlist::offer_slot_id.eq(Some(slot)),
        waitlist::offer_expires_at.eq(Some(expires.naive_utc())),
        waitlist::offers.eq(waitlist::offers + 1),
        waitlist::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// An offered entry accepted: its reservation.
pub(crate) fn mark_accepted(
    conn: &mut DbConnection,
    id: &str,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        waitlist::table
            .find(id)
            .filter(waitlist::status.eq(WaitStatus::Offered)),
    )
    .set((
        waitlist::status.eq(WaitStatus::Accepted),
        waitlist::reservation_id.eq(Some(reservation_id)),
        waitlist::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Offered entries whose offer has run out.
pub(crate) fn list_expired_offers(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    waitlist::table
        .filter(waitlist::status.eq(WaitStatus::Offered))
        .filter(waitlist::offer_expires_at.le(now.naive_utc()))
        .select(waitlist::id)
        .load(conn)
}

/// The (counter, day)s that have someone waiting.
pub(crate) fn list_waiting_days(conn: &mut DbConnection) -> QueryResult<Vec<(String, NaiveDate)>> {
    waitlist::table
        .filter(waitlist::status.eq(WaitStatus::Waiting))
        .select((waitlist::counter_id, waitlist::visit_on))
        .distinct()
        .load(conn)
}

/// The waiting list of a counter's day as staff see it (everyone, in order).
pub(crate) fn list_day(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> QueryResult<Vec<WaitlistRow>> {
    waitlist::table
        .filter(waitlist::counter_id.eq(counter))
        .filter(waitlist::visit_on.eq(day))
        .order(waitlist::seq.asc())
        .select(WaitlistRow::as_select())
        .load(conn)
}

/// Retention: entries of days before `before` lose their personal data.
pub(crate) fn erase_before(conn: &mut DbConnection, before: NaiveDate) -> QueryResult<u64> {
    let ids: Vec<String> = waitlist::table
        .filter(waitlist::visit_on.lt(before))
        .filter(waitlist::person_key.ne(""))
        .select(waitlist::id)
        .load(conn)?;
    let mut n = 0u64;
    for chunk in ids.chunks(500) {
        diesel::delete(waitlist_links::table.filter(waitlist_links::waitlist_id.eq_any(chunk)))
            .execute(conn)?;
        n += diesel::update(waitlist::table.filter(waitlist::id.eq_any(chunk)))
            .set((
                waitlist::name.eq(""),
                waitlist::name_kana.eq(""),
                waitlist::phone.eq(""),
                waitlist::email.eq(""),
                waitlist::representative_name.eq(None::<String>),
                waitlist::person_key.eq(""),
                waitlist::manage_token_hash.eq(waitlist::id.concat(":erased")),
            ))
            .execute(conn)? as u64;
    }
    Ok(n)
}

/// Entries waiting or offered a seat, per day of a counter between two days.
pub(crate) fn count_by_day(
    conn: &mut DbConnection,
    counter: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, i64)>> {
    waitlist::table
        .filter(waitlist::counter_id.eq(counter))
        .filter(waitlist::visit_on.between(from, to))
        .filter(waitlist::status.eq_any(WaitStatus::ACTIVE))
        .group_by(waitlist::visit_on)
        .select((waitlist::visit_on, count_star()))
        .load(conn)
}
