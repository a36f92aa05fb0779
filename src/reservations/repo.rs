use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::{ReservationRow, ReservationStatus};
use crate::db::schema::{manage_links, reservations};
use crate::db::DbConnection;
use crate::tokens::{hash_token, new_token};

/// Inserts the reservation unless its number is taken (false then: draw another). Ids and
/// manage-token hashes are random and never clash.
pub(crate) fn insert_reservation_unless_number_taken(
    conn: &mut DbConnection,
    row: &ReservationRow,
) -> QueryResult<bool> {
    let n = match conn {
        DbConnection::Pg(c) => diesel::insert_into(reservations::table)
            .values(row)
            .on_conflict(reservations::reservation_number)
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(reservations::table)
            .values(row)
            .on_conflict(reservations::reservation_number)
            .do_nothing()
            .execute(c)?,
    };
    Ok(n == 1)
}

/// What the booking transaction checks, read in one query.
#[derive(Debug, Clone, Copy, QueryableByName, serde::Deserialize)]
pub(crate) struct BookingChecks {
    /// An administrator closed the day.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub closed: i64,
    /// The person's active reservations (not yet over) for the procedure.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub person: i64,
    /// The address's active reservations (not yet over); 0 without an address.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub email: i64,
    /// Undrawn lotteries holding the day's month at the counter.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub lottery: i64,
}

impl BookingChecks {
    pub(crate) fn closed(&self) -> bool {
        self.closed > 0
    }
}

/// How far PostgreSQL's `madoguchi_book` (see its migration) took a resident's booking: the
/// link used up (and its address), the checks read under the locks, the first choice's seat,
/// the reservation and its mail written. Each step it did not reach is `None` or false, and
/// the service carries on from there with its own statements; [`OneCall::default`] is
/// nothing done.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct OneCall {
    #[serde(default)]
    pub used: bool,
    pub email: Option<String>,
    /// The link's address key, under which the call locked, counted and stored (the key the
    /// running version derived when the link was asked for; links live minutes).
    pub email_key: Option<String>,
    pub checks: Option<BookingChecks>,
    pub taken: Option<bool>,
    #[serde(default)]
    pub stored: bool,
}

/// A resident's booking's statements in one call to `madoguchi_book(args)` (one round trip
/// at the rush), in the caller's transaction. SQLite: `None`, nothing done (no round trips
/// to save in the process).
pub(crate) fn book_in_one_call(
    conn: &mut DbConnection,
    args: &serde_json::Value,
) -> QueryResult<Option<OneCall>> {
    #[derive(QueryableByName)]
    struct Answer {
        #[diesel(sql_type = diesel::sql_types::Text)]
        done: String,
    }
    let DbConnection::Pg(pg) = conn else {
        return Ok(None);
    };
    let answer: Answer = diesel::sql_query("SELECT madoguchi_book($1::jsonb)::text AS done")
        .bind::<diesel::sql_types::Text, _>(args.to_string())
        .get_result(pg)?;
    serde_json::from_str(&answer.done)
        .map(Some)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}

/// [`BookingChecks`] in one round trip (three indexed subqueries).
pub(crate) fn booking_checks(
    conn: &mut DbConnection,
    counter_id: &str,
    date: chrono::NaiveDate,
    person_key: &str,
    procedure: &str,
    email_key: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<BookingChecks> {
    use diesel::sql_types::{Date, Text, Timestamp};
    // The same text for both backends but for the placeholders.
    const SQL: &str = "SELECT \
        (SELECT COUNT(*) FROM closures WHERE counter_id = ?1 AND closed_on = ?2) AS closed, \
        (SELECT COUNT(*) FROM reservations WHERE person_key = ?3 AND procedure_id = ?4 \
            AND status IN ('confirmed', 'checked_in') AND ends_at > ?5) AS person, \
        (SELECT COUNT(DISTINCT COALESCE(pm.party_id, r.id)) FROM reservations r \
            LEFT JOIN party_members pm ON pm.reservation_id = r.id WHERE r.email_key = ?6 \
            AND r.status IN ('confirmed', 'checked_in') AND r.ends_at > ?5) AS email, \
        (SELECT COUNT(*) FROM lotteries WHERE counter_id = ?1 AND month = ?7 \
            AND drawn_at IS NULL) AS lottery";
    let sql = match conn {
        DbConnection::Pg(_) => SQL.replace('?', "$"),
        DbConnection::Sqlite(_) => SQL.to_string(),
    };
    // No address: a value no row has (addresses are never empty).
    diesel::sql_query(sql)
        .bind::<Text, _>(counter_id)
        .bind::<Date, _>(date)
        .bind::<Text, _>(person_key)
        .bind::<Text, _>(procedure)
        .bind::<Timestamp, _>(now.naive_utc())
        .bind::<Text, _>(email_key.unwrap_or(""))
        .bind::<Text, _>(date.format("%Y-%m").to_string())
        .get_result(conn)
}

/// A person's active future reservations for a procedure (a party's member, checked on its
/// own; the first person is counted by [`booking_checks`]).
pub(crate) fn person_active(
    conn: &mut DbConnection,
    person_key: &str,
    procedure: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::person_key.eq(person_key))
        .filter(reservations::procedure_id.eq(procedure))
        .filter(reservations::status.eq_any(ReservationStatus::ACTIVE))
        .filter(reservations::ends_at.gt(now.naive_utc()))
        .count()
        .get_result(conn)
}

/// Names `ids` (the first person's reservation and the others) the members of party `party_id`.
pub(crate) fn insert_party(
    conn: &mut DbConnection,
    party_id: &str,
    ids: &[&str],
) -> QueryResult<()> {
    use crate::db::schema::party_members;
    for (position, id) in (0..).zip(ids) {
        diesel::insert_into(party_members::table)
            .values((
                party_members::reservation_id.eq(*id),
                party_members::party_id.eq(party_id),
                party_members::position.eq(position),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The party a reservation belongs to (the first person's reservation id), if any.
pub(crate) fn party_of(
    conn: &mut DbConnection,
    reservation_id: &str,
) -> QueryResult<Option<String>> {
    use crate::db::schema::party_members;
    party_members::table
        .find(reservation_id)
        .select(party_members::party_id)
        .first(conn)
        .optional()
}

/// The party's other reservations when `row` is a party's first person (what its manage link
/// acts on too); empty otherwise.
pub(crate) fn led_by(
    conn: &mut DbConnection,
    row: &ReservationRow,
) -> QueryResult<Vec<ReservationRow>> {
    match party_of(conn, &row.id)? {
        Some(party) if party == row.id => party_others(conn, &party),
        _ => Ok(Vec::new()),
    }
}

/// The other reservations of `id`'s party (whoever leads it), in the booking's order; empty
/// for a booking of one.
pub(crate) fn party_mates(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ReservationRow>> {
    match party_of(conn, id)? {
        Some(party) => members_except(conn, &party, id),
        None => Ok(Vec::new()),
    }
}

/// A party's reservations but `except`, in the order the booking gave them.
fn members_except(
    conn: &mut DbConnection,
    party_id: &str,
    except: &str,
) -> QueryResult<Vec<ReservationRow>> {
    use crate::db::schema::party_members;
    reservations::table
        .inner_join(party_members::table.on(party_members::reservation_id.eq(reservations::id)))
        .filter(party_members::party_id.eq(party_id))
        .filter(reservations::id.ne(except))
        .select(ReservationRow::as_select())
        .order(party_members::position.asc())
        .load(conn)
}

/// For reservations checked in under one ticket with their party (`ids`: the tickets'
/// reservations), the procedures of the party's others checked in with them: (ticket's
/// reservation id, procedure).
pub(crate) fn checked_in_mates(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, String)>> {
    use crate::db::schema::party_members;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (lead_side, mate_side) =
        diesel::alias!(party_members as ticket_pm, party_members as mate_pm);
    lead_side
        .inner_join(
            mate_side.on(mate_side
                .field(party_members::party_id)
                .eq(lead_side.field(party_members::party_id))),
        )
        .inner_join(
            reservations::table
                .on(reservations::id.eq(mate_side.field(party_members::reservation_id))),
        )
        .filter(lead_side.field(party_members::reservation_id).eq_any(ids))
        .filter(reservations::id.ne(lead_side.field(party_members::reservation_id)))
        .filter(reservations::status.eq(ReservationStatus::CheckedIn))
        .select((
            lead_side.field(party_members::reservation_id),
            reservations::procedure_id,
        ))
        .load(conn)
}

/// A party's reservations other than the first person's, in the order they were given.
pub(crate) fn party_others(
    conn: &mut DbConnection,
    party_id: &str,
) -> QueryResult<Vec<ReservationRow>> {
    members_except(conn, party_id, party_id)
}

/// Whether an undrawn lottery holds `counter`'s month of `date` (bookings wait for its draw).
pub(crate) fn lottery_holds(
    conn: &mut DbConnection,
    counter_id: &str,
    date: chrono::NaiveDate,
) -> QueryResult<bool> {
    use crate::db::schema::lotteries;
    let n: i64 = lotteries::table
        .filter(lotteries::counter_id.eq(counter_id))
        .filter(lotteries::month.eq(date.format("%Y-%m").to_string()))
        .filter(lotteries::drawn_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The reservation a manage token names: the one made at booking, or one issued later (the
/// reminder's, the second visit's), all kept as hashes.
pub(crate) fn find_by_manage_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> QueryResult<Option<ReservationRow>> {
    let direct = reservations::table
        .filter(reservations::manage_token_hash.eq(hash))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()?;
    if direct.is_some() {
        return Ok(direct);
    }
    reservations::table
        .inner_join(manage_links::table)
        .filter(manage_links::token_hash.eq(hash))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

/// Issues another manage link for a reservation (the first one stays valid); returns the
/// token, whose hash alone is stored.
pub(crate) fn issue_manage_link(
    conn: &mut DbConnection,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let token = new_token();
    diesel::insert_into(manage_links::table)
        .values((
            manage_links::token_hash.eq(hash_token(&token)),
            manage_links::reservation_id.eq(reservation_id),
            manage_links::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Confirmed reservations with an address on a counter's day, not yet reminded.
pub(crate) fn list_to_remind(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> QueryResult<Vec<ReservationRow>> {
    reservations::table
        .filter(reservations::counter_id.eq(counter))
        .filter(reservations::visit_on.eq(day))
        .filter(reservations::status.eq(ReservationStatus::Confirmed))
        .filter(reservations::email.is_not_null())
        .filter(reservations::reminder_sent_at.is_null())
        // A party is reminded once, in the first person's mail (the others share the address).
        .filter(diesel::dsl::not(diesel::dsl::exists(
            crate::db::schema::party_members::table
                .filter(crate::db::schema::party_members::reservation_id.eq(reservations::id))
                .filter(crate::db::schema::party_members::party_id.ne(reservations::id)),
        )))
        .order(reservations::starts_at.asc())
        .select(ReservationRow::as_select())
        .load(conn)
}

/// Marks a reservation reminded; false if it already was (so the mail is written once).
pub(crate) fn mark_reminded(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::reminder_sent_at.is_null()),
    )
    .set(reservations::reminder_sent_at.eq(Some(now.naive_utc())))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Confirmed reservations whose visit has ended become `no_show`.
pub(crate) fn mark_no_shows_ended(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<u64> {
    let n = diesel::update(
        reservations::table
            .filter(reservations::status.eq(ReservationStatus::Confirmed))
            .filter(reservations::ends_at.le(now.naive_utc())),
    )
    .set((
        reservations::status.eq(ReservationStatus::NoShow),
        reservations::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(n as u64)
}

/// A checked-in reservation whose ticket was called but never completed becomes `no_show`.
pub(crate) fn mark_checked_in_no_show(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<u64> {
    let n = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq(ReservationStatus::CheckedIn)),
    )
    .set((
        reservations::status.eq(ReservationStatus::NoShow),
        reservations::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(n as u64)
}

/// Erases the personal data of reservations whose visit was before `before`: name, kana,
/// phone, address, notes, representative, cancel reason, the person key and every manage
/// link. What statistics need (counter, day, procedure, applicant type, status, channel,
/// times) stays.
pub(crate) fn erase_personal_data_before(
    conn: &mut DbConnection,
    before: NaiveDate,
    now: DateTime<Utc>,
) -> QueryResult<u64> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::visit_on.lt(before))
        .filter(reservations::erased_at.is_null())
        .select(reservations::id)
        .load(conn)?;
    let mut erased = 0u64;
    for chunk in ids.chunks(500) {
        diesel::delete(manage_links::table.filter(manage_links::reservation_id.eq_any(chunk)))
            .execute(conn)?;
        erased += diesel::update(reservations::table.filter(reservations::id.eq_any(chunk)))
            .set((
                reservations::name.eq(""),
                reservations::name_kana.eq(""),
                reservations::phone.eq(""),
                reservations::email.eq(None::<String>),
                reservations::notes.eq(None::<String>),
                reservations::representative_name.eq(None::<String>),
                reservations::cancel_reason.eq(None::<String>),
                reservations::person_key.eq(""),
                // Unique and not null: a value no token hashes to.
                reservations::manage_token_hash.eq(reservations::id.concat(":erased")),
                reservations::erased_at.eq(Some(now.naive_utc())),
            ))
            .execute(conn)? as u64;
    }
    Ok(erased)
}

pub(crate) fn find_by_number(
    conn: &mut DbConnection,
    number: &str,
) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .filter(reservations::reservation_number.eq(number))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

pub(crate) fn find_number_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    reservations::table
        .find(id)
        .select(reservations::reservation_number)
        .first(conn)
        .optional()
}

/// Active reservations not yet over, of one person for one procedure.
pub(crate) fn count_active_for_person(
    conn: &mut DbConnection,
    person_key: &str,
    procedure: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::person_key.eq(person_key))
        .filter(reservations::procedure_id.eq(procedure))
        .filter(reservations::status.eq_any(ReservationStatus::ACTIVE))
        .filter(reservations::ends_at.gt(now.naive_utc()))
        .select(count_star())
        .first(conn)
}

/// Active reservations not yet over, made with one address.
pub(crate) fn count_active_for_email(
    conn: &mut DbConnection,
    email_key: &str,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::email_key.eq(email_key))
        .filter(reservations::status.eq_any(ReservationStatus::ACTIVE))
        .filter(reservations::ends_at.gt(now.naive_utc()))
        .select(count_star())
        .first(conn)
}

/// Cancels a confirmed reservation; false if it was not confirmed.
pub(crate) fn mark_cancelled(
    conn: &mut DbConnection,
    id: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq(ReservationStatus::Confirmed)),
    )
    .set((
        reservations::status.eq(ReservationStatus::Cancelled),
        reservations::cancelled_at.eq(Some(now.naive_utc())),
        reservations::cancel_reason.eq(reason),
        reservations::cancel_message.eq(message),
        reservations::updated_at.eq(now.naive_utc()),
        reservations::ics_sequence.eq(reservations::ics_sequence + 1),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Points a confirmed reservation at another slot.
pub(crate) fn move_to_slot(
    conn: &mut DbConnection,
    id: &str,
    moved: &ReservationRow,
) -> QueryResult<bool> {
    let touched = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq(ReservationStatus::Confirmed)),
    )
    .set((
        reservations::counter_id.eq(&moved.counter_id),
        reservations::slot_id.eq(&moved.slot_id),
        reservations::visit_on.eq(moved.visit_on),
        reservations::starts_at.eq(moved.starts_at),
        reservations::ends_at.eq(moved.ends_at),
        reservations::updated_at.eq(moved.updated_at),
        reservations::ics_sequence.eq(moved.ics_sequence),
        // A new day: the reminder for it is still to come.
        reservations::reminder_sent_at.eq(None::<chrono::NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Moves a reservation from one of `from` to `to` (the desk's check-in and outcomes).
pub(crate) fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: &[ReservationStatus],
    to: ReservationStatus,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq_any(from.to_vec())),
    )
    .set((
        reservations::status.eq(to),
        reservations::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Reservations holding a seat of the slot (every status but cancelled).
pub fn count_seated_in_slot(conn: &mut DbConnection, slot_id: &str) -> QueryResult<i64> {
    reservations::table
        .filter(reservations::slot_id.eq(slot_id))
        .filter(reservations::status.ne(ReservationStatus::Cancelled))
        .select(count_star())
        .first(conn)
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// What staff search by: a day, a counter, and free text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Search {
    pub date: Option<NaiveDate>,
    pub counter: Option<String>,
    /// Name (part of it, any case), kana (part, spaces ignored), phone digits (part), or a
    /// reservation number; whichever the text can be.
    pub name: Option<String>,
    pub kana: Option<String>,
    pub phone_digits: Option<String>,
    pub number: Option<String>,
}

fn like_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(crate) fn search(
    conn: &mut DbConnection,
    q: &Search,
    limit: i64,
) -> QueryResult<Vec<ReservationRow>> {
    let mut query = reservations::table
        .select(ReservationRow::as_select())
        .into_boxed();
    if let Some(d) = q.date {
        query = query.filter(reservations::visit_on.eq(d));
    }
    if let Some(c) = &q.counter {
        query = query.filter(reservations::counter_id.eq(c.clone()));
    }
    let mut text: Option<
        Box<dyn BoxableExpression<reservations::table, _, SqlType = diesel::sql_types::Bool>>,
    > = None;
    let mut add = |e: Box<
        dyn BoxableExpression<reservations::table, _, SqlType = diesel::sql_types::Bool>,
    >| {
        text = Some(match text.take() {
            None => e,
            Some(prev) => Box::new(prev.or(e)),
        });
    };
    if let Some(name) = &q.name {
        add(Box::new(
            lower(reservations::name)
                .like(like_pattern(&name.to_lowercase()))
                .escape('\\'),
        ));
    }
    if let Some(kana) = &q.kana {
        add(Box::new(
            reservations::person_key
                .like(like_pattern(kana))
                .escape('\\'),
        ));
    }
    if let Some(digits) = &q.phone_digits {
        add(Box::new(
            reservations::phone.like(like_pattern(digits)).escape('\\'),
        ));
    }
    if let Some(number) = &q.number {
        add(Box::new(
            reservations::reservation_number.eq(number.clone()),
        ));
    }
    if let Some(t) = text {
        query = query.filter(t);
    }
    query
        .order((
            reservations::starts_at.asc(),
            reservations::reservation_number.asc(),
        ))
        .limit(limit)
        .load(conn)
}

/// The active (or done) second visit booked for a first visit.
pub(crate) fn find_second_visit(
    conn: &mut DbConnection,
    first_id: &str,
) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .filter(reservations::first_visit_id.eq(first_id))
        .filter(reservations::status.ne(ReservationStatus::Cancelled))
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

/// Reservation numbers by id.
pub(crate) fn numbers_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, String)>> {
    reservations::table
        .filter(reservations::id.eq_any(ids))
        .select((reservations::id, reservations::reservation_number))
        .load(conn)
}

/// Second visits (not cancelled) of first visits: (first visit id, second visit number).
pub(crate) fn second_visits_of(
    conn: &mut DbConnection,
    first_ids: &[String],
) -> QueryResult<Vec<(Option<String>, String)>> {
    reservations::table
        .filter(reservations::first_visit_id.eq_any(first_ids))
        .filter(reservations::status.ne(ReservationStatus::Cancelled))
        .select((
            reservations::first_visit_id,
            reservations::reservation_number,
        ))
        .load(conn)
}

/// Records when the desk completed a visit.
pub(crate) fn mark_completed_at(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(reservations::table.find(id))
        .set(reservations::completed_at.eq(Some(now.naive_utc())))
        .execute(conn)?;
    Ok(touched == 1)
}

/// Of `ids`, those whose resident gave a mail address.
pub(crate) fn with_email(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    reservations::table
        .filter(reservations::id.eq_any(ids))
        .filter(reservations::email.is_not_null())
        .select(reservations::id)
        .load(conn)
}

pub(crate) fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .find(id)
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use crate::catalogue::ApplicantType;
    use crate::mail::{MailKind, OutboxStatus};
    use crate::reservations::model::{Channel, ReservationStatus};

    /// `madoguchi_book` writes rows from their JSON: every stored word must be the column's.
    #[test]
    fn the_rows_json_words_are_the_columns_words() {
        fn same<T: serde::Serialize + Copy>(all: &[T], strings: &[&str]) {
            for (v, s) in all.iter().zip(strings) {
                assert_eq!(serde_json::to_value(v).expect("json"), *s);
            }
        }
        same(ReservationStatus::ALL, ReservationStatus::STRINGS);
        same(Channel::ALL, Channel::STRINGS);
        same(ApplicantType::ALL, ApplicantType::STRINGS);
        same(MailKind::ALL, MailKind::STRINGS);
        same(OutboxStatus::ALL, OutboxStatus::STRINGS);
    }
}
