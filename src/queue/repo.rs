use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::{TicketKind, TicketStatus};
use crate::db::schema::{call_events, ticket_sequences, tickets};
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tickets)]
pub struct TicketRow {
    pub id: String,
    pub counter_id: String,
    pub service_on: NaiveDate,
    pub kind: TicketKind,
    pub number: i32,
    pub label: String,
    pub status: TicketStatus,
    pub reservation_id: Option<String>,
    pub procedure_id: Option<String>,
    pub slot_starts_at: Option<NaiveDateTime>,
    pub issued_at: NaiveDateTime,
    pub called_at: Option<NaiveDateTime>,
    pub desk: Option<String>,
    pub calls: i32,
    pub finished_at: Option<NaiveDateTime>,
    /// What the ticket's QR code and page name it by (`/ticket/{public_id}`): random.
    pub public_id: String,
    /// The visitor asked to be mailed when `queue.notify_ahead` people or fewer are ahead.
    pub alert_requested_at: Option<NaiveDateTime>,
    pub alert_sent_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ticket_sequences)]
struct SequenceRow<'a> {
    counter_id: &'a str,
    service_on: NaiveDate,
    kind: TicketKind,
    last_number: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = call_events)]
pub(crate) struct CallEvent {
    pub id: i64,
    pub service_on: NaiveDate,
    pub label: String,
    pub desk: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = call_events)]
struct NewCallEvent<'a> {
    counter_id: &'a str,
    service_on: NaiveDate,
    label: &'a str,
    desk: &'a str,
    called_at: NaiveDateTime,
}

/// The next ticket number of a counter's day and kind: 1, 2, 3, … (inside the caller's
/// transaction; the UPDATE holds the row until commit, so no number is handed out twice).
pub(crate) fn next_number(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    kind: TicketKind,
) -> QueryResult<i32> {
    let row = SequenceRow {
        counter_id: counter,
        service_on: day,
        kind,
        last_number: 0,
    };
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(ticket_sequences::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Pg(c) => diesel::insert_into(ticket_sequences::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    let key = ticket_sequences::table.find((counter, day, kind));
    diesel::update(key)
        .set(ticket_sequences::last_number.eq(ticket_sequences::last_number + 1))
        .execute(conn)?;
    key.select(ticket_sequences::last_number).first(conn)
}

pub(crate) fn insert_ticket(conn: &mut DbConnection, row: &TicketRow) -> QueryResult<()> {
    diesel::insert_into(tickets::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A counter's tickets of one day, optionally only those in `status`.
pub(crate) fn list_tickets(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    status: Option<TicketStatus>,
) -> QueryResult<Vec<TicketRow>> {
    let mut q = tickets::table
        .filter(tickets::counter_id.eq(counter))
        .filter(tickets::service_on.eq(day))
        .select(TicketRow::as_select())
        .order((tickets::issued_at.asc(), tickets::label.asc()))
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(tickets::status.eq(s));
    }
    q.load(conn)
}

/// A ticket by its public id (what its QR code and page name it by).
pub(crate) fn find_by_public_id(
    conn: &mut DbConnection,
    public_id: &str,
) -> QueryResult<Option<TicketRow>> {
    tickets::table
        .filter(tickets::public_id.eq(public_id))
        .select(TicketRow::as_select())
        .first(conn)
        .optional()
}

/// Notes that the ticket's visitor asked to be told when their turn nears (the first ask
/// counts; false if it had asked before).
pub(crate) fn request_alert(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        tickets::table
            .find(id)
            .filter(tickets::alert_requested_at.is_null()),
    )
    .set(tickets::alert_requested_at.eq(Some(now.naive_utc())))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Whether a counter's day has a waiting ticket that asked for the mail and has not had it.
pub(crate) fn alerts_pending(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> QueryResult<bool> {
    let n: i64 = tickets::table
        .filter(tickets::counter_id.eq(counter))
        .filter(tickets::service_on.eq(day))
        .filter(tickets::status.eq(TicketStatus::Waiting))
        .filter(tickets::alert_requested_at.is_not_null())
        .filter(tickets::alert_sent_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Marks the alert sent: true once only, so the mail goes out once whoever sends it.
pub(crate) fn mark_alert_sent(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        tickets::table
            .find(id)
            .filter(tickets::alert_requested_at.is_not_null())
            .filter(tickets::alert_sent_at.is_null()),
    )
    .set(tickets::alert_sent_at.eq(Some(now.naive_utc())))
    .execute(conn)?;
    Ok(touched == 1)
}

pub(crate) fn find_ticket(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    label: &str,
) -> QueryResult<Option<TicketRow>> {
    tickets::table
        .filter(tickets::counter_id.eq(counter))
        .filter(tickets::service_on.eq(day))
        .filter(tickets::label.eq(label))
        .select(TicketRow::as_select())
        .first(conn)
        .optional()
}

/// Moves a ticket from one of `from` to `to` (a call also sets the desk and time and counts
/// the call). One conditional UPDATE: false if the ticket was no longer in `from`.
pub(crate) fn transition(
    conn: &mut DbConnection,
    id: &str,
    from: &[TicketStatus],
    to: TicketStatus,
    desk: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let target = tickets::table
        .find(id)
        .filter(tickets::status.eq_any(from.to_vec()));
    let touched = if to == TicketStatus::Called {
        diesel::update(target)
            .set((
                tickets::status.eq(to),
                tickets::called_at.eq(Some(now.naive_utc())),
                tickets::desk.eq(desk),
                tickets::calls.eq(tickets::calls + 1),
                tickets::finished_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((
                tickets::status.eq(to),
                tickets::finished_at.eq(Some(now.naive_utc())),
            ))
            .execute(conn)?
    };
    Ok(touched == 1)
}

pub(crate) fn insert_call_event(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    label: &str,
    desk: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let row = NewCallEvent {
        counter_id: counter,
        service_on: day,
        label,
        desk,
        called_at: now.naive_utc(),
    };
    diesel::insert_into(call_events::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}

/// The last `n` calls of a counter's day, oldest first.
pub(crate) fn recent_calls(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    n: i64,
) -> QueryResult<Vec<CallEvent>> {
    let mut v: Vec<CallEvent> = call_events::table
        .filter(call_events::counter_id.eq(counter))
        .filter(call_events::service_on.eq(day))
        .order(call_events::id.desc())
        .limit(n)
        .select(CallEvent::as_select())
        .load(conn)?;
    v.reverse();
    Ok(v)
}

/// The id of a counter's latest call (0 when none), where a new screen starts listening.
pub(crate) fn last_call_id(conn: &mut DbConnection, counter: &str) -> QueryResult<i64> {
    let id: Option<i64> = call_events::table
        .filter(call_events::counter_id.eq(counter))
        .select(diesel::dsl::max(call_events::id))
        .first(conn)?;
    Ok(id.unwrap_or(0))
}

/// Calls of a counter after event `after`, oldest first.
pub(crate) fn calls_after(
    conn: &mut DbConnection,
    counter: &str,
    after: i64,
) -> QueryResult<Vec<CallEvent>> {
    call_events::table
        .filter(call_events::counter_id.eq(counter))
        .filter(call_events::id.gt(after))
        .order(call_events::id.asc())
        .limit(100)
        .select(CallEvent::as_select())
        .load(conn)
}

/// Desks that called someone at a counter since `since`.
pub(crate) fn active_desks(
    conn: &mut DbConnection,
    counter: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    let desks: Vec<String> = call_events::table
        .filter(call_events::counter_id.eq(counter))
        .filter(call_events::called_at.ge(since.naive_utc()))
        .select(call_events::desk)
        .distinct()
        .load(conn)?;
    Ok(desks.len() as i64)
}

/// The ticket a reservation was checked in with, if any.
pub(crate) fn find_ticket_of_reservation(
    conn: &mut DbConnection,
    reservation_id: &str,
) -> QueryResult<Option<TicketRow>> {
    tickets::table
        .filter(tickets::reservation_id.eq(reservation_id))
        .select(TicketRow::as_select())
        .first(conn)
        .optional()
}

/// Tickets waiting at a counter on a day (the metrics' queue length).
pub(crate) fn count_waiting(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> QueryResult<i64> {
    tickets::table
        .filter(tickets::counter_id.eq(counter))
        .filter(tickets::service_on.eq(day))
        .filter(tickets::status.eq(TicketStatus::Waiting))
        .count()
        .get_result(conn)
}

/// Called tickets of a counter on `day` or before, never completed.
pub(crate) fn list_called_until(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> QueryResult<Vec<TicketRow>> {
    tickets::table
        .filter(tickets::counter_id.eq(counter))
        .filter(tickets::service_on.le(day))
        .filter(tickets::status.eq(TicketStatus::Called))
        .select(TicketRow::as_select())
        .load(conn)
}

/// A called ticket becomes `no_show` (the day's end).
pub(crate) fn mark_ticket_no_show(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<u64> {
    let n = diesel::update(
        tickets::table
            .find(id)
            .filter(tickets::status.eq(TicketStatus::Called)),
    )
    .set((
        tickets::status.eq(TicketStatus::NoShow),
        tickets::finished_at.eq(Some(now.naive_utc())),
    ))
    .execute(conn)?;
    Ok(n as u64)
}
