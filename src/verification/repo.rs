use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::verifications;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = verifications)]
pub struct VerificationRow {
    pub id: String,
    pub token_hash: String,
    pub email: String,
    pub ip_key: String,
    pub counter_id: Option<String>,
    pub slot_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// The address as every limit compares it ([`crate::text::email_key`]).
    pub email_key: Option<String>,
    /// Bookings refused on this link that could tell who holds a reservation.
    pub refusals: i32,
    /// The procedure chosen before the link was asked for (the page returns to it).
    pub procedure_id: Option<String>,
    /// Who comes (holder, legal representative, voluntary proxy), chosen likewise.
    pub applicant_type: Option<String>,
}

pub(crate) enum Key<'a> {
    Email(&'a str),
    Ip(&'a str),
}

pub(crate) fn insert_verification(
    conn: &mut DbConnection,
    row: &VerificationRow,
) -> QueryResult<()> {
    diesel::insert_into(verifications::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub(crate) fn find_by_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> QueryResult<Option<VerificationRow>> {
    verifications::table
        .filter(verifications::token_hash.eq(hash))
        .select(VerificationRow::as_select())
        .first(conn)
        .optional()
}

/// Moves an unused link's expiry to `until` when it would end sooner.
pub(crate) fn extend_expiry(
    conn: &mut DbConnection,
    hash: &str,
    until: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(verifications::table)
        .filter(verifications::token_hash.eq(hash))
        .filter(verifications::used_at.is_null())
        .filter(verifications::expires_at.lt(until))
        .set(verifications::expires_at.eq(until))
        .execute(conn)
        .map(|_| ())
}

/// Requests for a key since `since`, and the oldest of them.
pub(crate) fn count_since(
    conn: &mut DbConnection,
    key: Key<'_>,
    since: DateTime<Utc>,
) -> QueryResult<(i64, Option<DateTime<Utc>>)> {
    let q = verifications::table
        .filter(verifications::created_at.gt(since.naive_utc()))
        .into_boxed();
    let q = match key {
        Key::Email(e) => q.filter(verifications::email_key.eq(e.to_string())),
        Key::Ip(ip) => q.filter(verifications::ip_key.eq(ip.to_string())),
    };
    let (n, oldest): (i64, Option<NaiveDateTime>) = q
        .select((count_star(), min(verifications::created_at)))
        .first(conn)?;
    Ok((n, oldest.map(|t| t.and_utc())))
}

/// Marks an unused, unexpired token used; false when it is not.
/// Marks an unused, unexpired token used and returns its row (one statement); None when it
/// was not that.
pub(crate) fn use_token(
    conn: &mut DbConnection,
    hash: &str,
    max_refusals: i32,
    now: DateTime<Utc>,
) -> QueryResult<Option<VerificationRow>> {
    let target = verifications::table
        .filter(verifications::token_hash.eq(hash))
        .filter(verifications::used_at.is_null())
        .filter(verifications::refusals.lt(max_refusals))
        .filter(verifications::expires_at.gt(now.naive_utc()));
    let set = verifications::used_at.eq(Some(now.naive_utc()));
    match conn {
        DbConnection::Pg(c) => diesel::update(target)
            .set(set)
            .returning(VerificationRow::as_returning())
            .get_result(c)
            .optional(),
        DbConnection::Sqlite(c) => diesel::update(target)
            .set(set)
            .returning(VerificationRow::as_returning())
            .get_result(c)
            .optional(),
    }
}

/// One more booking refused on the link `hash` names.
pub(crate) fn add_refusal(conn: &mut DbConnection, hash: &str) -> QueryResult<()> {
    diesel::update(verifications::table.filter(verifications::token_hash.eq(hash)))
        .set(verifications::refusals.eq(verifications::refusals + 1))
        .execute(conn)
        .map(|_| ())
}

/// Tokens used or expired, older than `before` (the rate-limit window still counts newer
/// ones): removed.
pub(crate) fn delete_spent(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> QueryResult<u64> {
    let n = diesel::delete(
        verifications::table
            .filter(verifications::created_at.lt(before.naive_utc()))
            .filter(
                verifications::used_at
                    .is_not_null()
                    .or(verifications::expires_at.le(now.naive_utc())),
            ),
    )
    .execute(conn)?;
    Ok(n as u64)
}

/// Every token written before `before` (retention), whatever its state.
pub(crate) fn delete_created_before(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
) -> QueryResult<u64> {
    let n = diesel::delete(
        verifications::table.filter(verifications::created_at.lt(before.naive_utc())),
    )
    .execute(conn)?;
    Ok(n as u64)
}
