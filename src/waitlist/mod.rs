//! The waiting list (キャンセル待ち). A verified resident whose day is full for the web joins
//! the list for a counter, a day and a procedure. When a seat frees on that day (a
//! cancellation, a reschedule, a capacity raised, phone seats released) the first in line is
//! offered it by mail: the seat is held for them (`slots.offer_held`) for
//! `waitlist.offer_minutes` and they accept through the link; an offer not taken in time
//! passes to the next.
//!
//! Every offer is made in the transaction that frees the seat, or by the sweeper that passes
//! on offers that ran out: holding the seat is a conditional UPDATE on the slot row (like
//! taking it), and the offer's entry is claimed by a conditional UPDATE too, under the day's
//! waiting-list lock. So each freed seat goes to one resident at a time, with several
//! instances and across restarts (nothing is kept in memory). Offers never go out for a day
//! whose booking window has closed.

pub(crate) mod repo;

pub(crate) use repo::{count_by_day, WaitStatus, WaitlistRow};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::calendar::repo::{
    book_offer_seat, ensure_slot_row, hold_offer_seat, list_slot_rows, release_offer_seat, SlotRow,
};
use crate::calendar::{CalendarError, Counter, DayStatus, Seats, SlotId, Taker};
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::error::Invalid;
use crate::mail::links::{
    date_label, date_label_en, instant_label, instant_label_en, visit_lines, Links,
};
use crate::mail::{enqueue, MailKind, MailPayload, NewMail, WaitlistMail};
use crate::reservations::input::BookingInput;
use crate::reservations::model::Channel;
use crate::reservations::service::Ctx;
use crate::reservations::service::{insert_booking, Booked, NewBooking};
use crate::reservations::{repo as reservations, BookingError};
use crate::text::email_key;
use crate::tokens::{hash_token, new_token};
use crate::verification;

#[derive(Debug, thiserror::Error)]
pub(crate) enum WaitlistError {
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error("seats are still free that day")]
    SeatsAvailable,
    #[error("no such entry")]
    NotFound,
    #[error("the offer ran out")]
    OfferExpired,
    #[error("no offer now")]
    NoOffer,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<CalendarError> for WaitlistError {
    fn from(e: CalendarError) -> Self {
        WaitlistError::Booking(e.into())
    }
}

impl From<Invalid> for WaitlistError {
    fn from(e: Invalid) -> Self {
        WaitlistError::Booking(e.into())
    }
}

impl From<verification::VerificationError> for WaitlistError {
    fn from(e: verification::VerificationError) -> Self {
        WaitlistError::Booking(e.into())
    }
}

/// A resident's request to wait.
pub(crate) struct JoinRequest {
    pub verification_token: String,
    pub counter: String,
    pub date: NaiveDate,
    /// The person, parsed like a booking (its slot is unused).
    pub person: BookingInput,
}

/// An entry as the resident sees it.
pub(crate) struct EntryView {
    pub row: WaitlistRow,
    /// Place among those waiting (1 = next), while waiting.
    pub position: Option<i64>,
}

/// The day's waiting-list lock, exclusive ([`Lock::Waitlist`]: before the day's lock and the
/// slot rows). Whoever frees or holds a seat of the day takes it first; taking it again is free.
pub(crate) fn lock_day(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
) -> diesel::QueryResult<()> {
    lock(conn, &[(Mode::Exclusive, Lock::Waitlist { counter, day })])
}

/// Slots of the day the web could book now (the seats_available rule).
fn web_free_seats(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &Counter,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u32> {
    let rows = list_slot_rows(conn, &counter.id, day, day)?;
    let released = counter.phone_seats_released(&ctx.calendar.window, day, now);
    Ok(ctx
        .calendar
        .slots(counter, day)
        .into_iter()
        .filter(|def| def.starts_at > now)
        .map(|def| {
            let id = def.id.to_string();
            rows.iter()
                .find(|r| r.id == id)
                .map(SlotRow::seats)
                .unwrap_or_else(|| Seats::configured(counter))
                .free_for(Taker::Web, released)
        })
        .sum())
}

/// Joins the list. The verification token is consumed; the booking window, the day, and the
/// person and address limits apply as for booking (an entry counts as a booking for them);
/// a day the web can still book is refused with `seats_available`.
pub(crate) fn join(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    req: JoinRequest,
    now: DateTime<Utc>,
) -> Result<(WaitlistRow, String, i64), WaitlistError> {
    let counter = ctx.calendar.get_counter(&req.counter)?;
    let procedure = ctx
        .catalogue
        .get(&req.person.procedure)
        .ok_or(BookingError::ProcedureNotFound)?;
    let day = req.date;
    let (row, token) = conn.savepoint(|conn| {
        let max = i32::try_from(ctx.settings.limits.refusals_per_link).unwrap_or(i32::MAX);
        let v = verification::consume(conn, &req.verification_token, max, now)?;
        ctx.calendar
            .window
            .check(day, counter.tz, now)
            .map_err(|e| crate::reservations::service::window_error(e, day, counter.tz))?;
        ctx.calendar.open_day(conn, counter, day)?;
        lock_day(conn, &counter.id, day)?;
        if web_free_seats(conn, &ctx, counter, day, now)? > 0 {
            return Err(WaitlistError::SeatsAvailable);
        }
        let person_key = req.person.person_key();
        let key = email_key(&v.email);
        check_person_and_address(conn, &ctx, &person_key, &procedure.id, &key, now)?;
        let token = new_token();
        let p = &req.person;
        let row = WaitlistRow {
            id: uuid::Uuid::new_v4().to_string(),
            manage_token_hash: hash_token(&token),
            counter_id: counter.id.clone(),
            visit_on: day,
            procedure_id: procedure.id.clone(),
            applicant_type: p.applicant_type,
            name: p.name.clone(),
            name_kana: p.name_kana.clone(),
            phone: p.phone.clone(),
            email: v.email.clone(),
            representative_name: p.representative_name.clone(),
            person_key,
            status: WaitStatus::Waiting,
            offer_slot_id: None,
            offer_expires_at: None,
            offers: 0,
            seq: repo::next_seq(conn, &counter.id, day)?,
            reservation_id: None,
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
            email_key: Some(key.clone()),
        };
        repo::insert(conn, &row)?;
        let position = repo::position(conn, &row)?.unwrap_or(1);
        mail(conn, &ctx, &row, Notice::Joined(&token, position), now)?;
        Ok((row, token))
    })?;
    let position = repo::position(conn, &row)?.unwrap_or(1);
    tracing::info!(counter = %row.counter_id, day = %row.visit_on, "joined the waiting list");
    Ok((row, token, position))
}

/// Settles the entry a token names (see [`settle`]).
pub(crate) fn settle_token(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), WaitlistError> {
    let row = find(conn, token)?;
    settle(conn, ctx, &row.id, now)
}

/// The entry a token names: the one given at joining or one mailed later.
pub(crate) fn find(conn: &mut DbConnection, token: &str) -> Result<WaitlistRow, WaitlistError> {
    repo::find_by_token_hash(conn, &hash_token(token))?.ok_or(WaitlistError::NotFound)
}

/// The entry as the resident sees it, after settling an offer that ran out or a day whose
/// window closed.
pub(crate) fn view(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<EntryView, WaitlistError> {
    let row = find(conn, token)?;
    settle(conn, &ctx, &row.id, now)?;
    let row = find(conn, token)?;
    let position = match row.status {
        WaitStatus::Waiting => repo::position(conn, &row)?,
        _ => None,
    };
    Ok(EntryView { row, position })
}

/// Leaves the list (idempotent). An offered seat passes to the next in line.
pub(crate) fn leave(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<EntryView, WaitlistError> {
    let row = find(conn, token)?;
    settle(conn, &ctx, &row.id, now)?;
    conn.savepoint(|conn| {
        let row = repo::get(conn, &row.id)?.ok_or(WaitlistError::NotFound)?;
        let counter = ctx.calendar.get_counter(&row.counter_id)?;
        lock_day(conn, &counter.id, row.visit_on)?;
        match row.status {
            WaitStatus::Waiting => {
                repo::set_status(conn, &row.id, WaitStatus::Waiting, WaitStatus::Left, now)?;
            }
            WaitStatus::Offered => {
                if repo::set_status(conn, &row.id, WaitStatus::Offered, WaitStatus::Left, now)? {
                    if let Some(slot) = &row.offer_slot_id {
                        release_offer_seat(conn, slot, now)?;
                    }
                    fill_locked(conn, &ctx, counter, row.visit_on, now)?;
                }
            }
            WaitStatus::Accepted | WaitStatus::Expired | WaitStatus::Left => {}
        }
        Ok::<_, WaitlistError>(())
    })?;
    let row = find(conn, token)?;
    Ok(EntryView {
        row,
        position: None,
    })
}

/// Settles one entry: an offer that ran out expires and passes on; an entry whose day's
/// window has closed ends.
pub(crate) fn settle(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), WaitlistError> {
    conn.savepoint(|conn| {
        let Some(row) = repo::get(conn, id)? else {
            return Ok(());
        };
        let Some(counter) = ctx.calendar.counter(&row.counter_id) else {
            return Ok(());
        };
        let window_closed = now >= ctx.calendar.window.closes_at(row.visit_on, counter.tz);
        match row.status {
            WaitStatus::Offered
                if window_closed || row.offer_expires_at.is_some_and(|t| t <= now.naive_utc()) =>
            {
                lock_day(conn, &counter.id, row.visit_on)?;
                if repo::set_status(conn, &row.id, WaitStatus::Offered, WaitStatus::Expired, now)? {
                    if let Some(slot) = &row.offer_slot_id {
                        release_offer_seat(conn, slot, now)?;
                    }
                    fill_locked(conn, ctx, counter, row.visit_on, now)?;
                    tracing::info!(counter = %counter.id, day = %row.visit_on, "an offer ran out and passed on");
                }
            }
            WaitStatus::Waiting if window_closed => {
                end_entry(conn, ctx, &row, None, now)?;
            }
            _ => {}
        }
        Ok::<_, WaitlistError>(())
    })
}

/// Offers the day's free web seats to those waiting, first in line first (call inside the
/// transaction that freed a seat). Returns the offers made.
pub(crate) fn fill(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u32> {
    lock_day(conn, &counter.id, day)?;
    fill_locked(conn, ctx, counter, day, now)
}

fn fill_locked(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u32> {
    // Never for a day the window does not cover, or one that is closed.
    if !ctx.calendar.window.is_open(day, counter.tz, now) {
        return Ok(0);
    }
    if !matches!(
        ctx.calendar.day_status(conn, counter, day)?,
        DayStatus::Open { .. }
    ) {
        return Ok(0);
    }
    let mut waiting = repo::list_waiting(conn, &counter.id, day)?.into_iter();
    let mut next = waiting.next();
    if next.is_none() {
        return Ok(0);
    }
    let released = counter.phone_seats_released(&ctx.calendar.window, day, now);
    let rows = list_slot_rows(conn, &counter.id, day, day)?;
    let offer_minutes = i64::from(ctx.settings.waitlist.offer_minutes);
    let mut offered = 0;
    for def in ctx.calendar.slots(counter, day) {
        if def.starts_at <= now {
            continue;
        }
        let id = def.id.to_string();
        let seats = rows
            .iter()
            .find(|r| r.id == id)
            .map(SlotRow::seats)
            .unwrap_or_else(|| Seats::configured(counter));
        let mut free = seats.free_for(Taker::Web, released);
        while free > 0 {
            let Some(entry) = next.take() else {
                return Ok(offered);
            };
            next = waiting.next();
            ensure_slot_row(conn, &SlotRow::new(&def, counter, now))?;
            let reserved = seats.reserved_for(Taker::Web, released);
            if !hold_offer_seat(conn, &id, reserved, now)? {
                // Taken meanwhile: the entry stays first for the next seat.
                next = Some(entry);
                break;
            }
            // The offer runs out after offer_minutes, or when the window closes.
            let expires = (now + Duration::minutes(offer_minutes))
                .min(ctx.calendar.window.closes_at(day, counter.tz))
                .min(def.starts_at);
            if !repo::mark_offered(conn, &entry.id, &id, expires, now)? {
                release_offer_seat(conn, &id, now)?;
                continue;
            }
            let token = repo::issue_link(conn, &entry.id, now)?;
            let entry = repo::get(conn, &entry.id)?.unwrap_or(entry);
            mail(conn, ctx, &entry, Notice::Offered(&token), now)?;
            tracing::info!(counter = %counter.id, slot.id = %id, "a freed seat was offered to the waiting list");
            offered += 1;
            free -= 1;
        }
    }
    Ok(offered)
}

/// One step of the sweeper's pass, each in a write transaction of its own (so that none holds
/// one day's locks while it waits for another's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SweepStep {
    /// An offer that ran out: it expires and passes on.
    Settle { entry: String },
    /// A day whose window has closed: everyone still waiting is told.
    EndDay { counter: String, day: NaiveDate },
    /// A day with people waiting: free web seats (released for phone, say) are offered.
    Fill { counter: String, day: NaiveDate },
}

/// What a sweeper's pass has to do now (a read).
pub(crate) fn sweep_steps(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<SweepStep>> {
    let mut steps: Vec<SweepStep> = repo::list_expired_offers(conn, now)?
        .into_iter()
        .map(|entry| SweepStep::Settle { entry })
        .collect();
    for (counter, day) in repo::list_waiting_days(conn)? {
        let Some(c) = ctx.calendar.counter(&counter) else {
            continue;
        };
        steps.push(if now >= ctx.calendar.window.closes_at(day, c.tz) {
            SweepStep::EndDay { counter, day }
        } else {
            SweepStep::Fill { counter, day }
        });
    }
    Ok(steps)
}

/// One step of the pass; how many entries it settled, ended or offered a seat.
pub(crate) fn sweep_step(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    step: &SweepStep,
    now: DateTime<Utc>,
) -> Result<u32, WaitlistError> {
    match step {
        SweepStep::Settle { entry } => {
            settle(conn, ctx, entry, now)?;
            Ok(1)
        }
        SweepStep::EndDay { counter, day } => {
            lock_day(conn, counter, *day)?;
            let mut ended = 0;
            for row in repo::list_waiting(conn, counter, *day)? {
                ended += u32::from(end_entry(conn, ctx, &row, None, now)?);
            }
            Ok(ended)
        }
        SweepStep::Fill { counter, day } => match ctx.calendar.counter(counter) {
            Some(c) => Ok(fill(conn, ctx, c, *day, now)?),
            None => Ok(0),
        },
    }
}

/// Accepts the seat offered: the held seat becomes a booking for the entry's person (a web
/// reservation with its own completion mail), in one transaction. 410 `offer_expired` once
/// the offer ran out (the caller settles the entry first, in a transaction of its own, so the
/// offer has passed on by then), 409 `no_offer` when nothing is offered.
pub(crate) fn accept(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Booked, WaitlistError> {
    let row = find(conn, token)?;
    conn.savepoint(|conn| {
        // The waiting list's lock first (see `lock_day`): an offer running out at this second
        // is settled before or after, never across this booking.
        lock_day(conn, &row.counter_id, row.visit_on)?;
        let row = repo::get(conn, &row.id)?.ok_or(WaitlistError::NotFound)?;
        match row.status {
            WaitStatus::Offered => {}
            WaitStatus::Expired if row.offers > 0 => return Err(WaitlistError::OfferExpired),
            WaitStatus::Waiting | WaitStatus::Accepted | WaitStatus::Expired | WaitStatus::Left => {
                return Err(WaitlistError::NoOffer)
            }
        }
        let slot: SlotId = row
            .offer_slot_id
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or(WaitlistError::NoOffer)?;
        let (counter, def) = ctx.calendar.resolve(&slot)?;
        let day = Lock::Day {
            counter: &counter.id,
            day: def.id.date,
        };
        lock(conn, &[(Mode::Shared, day)])?;
        ctx.calendar.open_day(conn, counter, def.id.date)?;
        // The limits again: a booking may have been made since joining.
        check_limits_at_accept(conn, &ctx, &row, now)?;
        if !book_offer_seat(conn, &def.id.to_string(), now)? {
            return Err(WaitlistError::NoOffer);
        }
        let booked = insert_booking(
            conn,
            &ctx,
            NewBooking {
                def: &def,
                counter_id: &counter.id,
                procedure_id: &row.procedure_id,
                applicant_type: row.applicant_type,
                name: &row.name,
                name_kana: &row.name_kana,
                phone: &row.phone,
                email: Some(row.email.clone()),
                representative_name: row.representative_name.clone(),
                notes: None,
                person_key: row.person_key.clone(),
                channel: Channel::Web,
                created_by: None,
                first_visit: None,
            },
            now,
        )?;
        if !repo::mark_accepted(conn, &row.id, &booked.row.id, now)? {
            return Err(WaitlistError::NoOffer);
        }
        tracing::info!(reservation.number = %booked.row.reservation_number, slot.id = %booked.row.slot_id, "a waiting-list offer was accepted");
        Ok(booked)
    })
}

/// Who may join: the person holds no booking or entry for the procedure; the address holds
/// fewer than `booking.max_active_per_email` bookings and entries together, and fewer than
/// `limits.waitlist_per_address` entries (waiting is a claim on a seat too). Under the
/// person's and the address's locks.
fn check_person_and_address(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    person_key: &str,
    procedure: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), WaitlistError> {
    lock(
        conn,
        &[
            (Mode::Exclusive, Lock::Person(person_key)),
            (Mode::Exclusive, Lock::Email(key)),
        ],
    )?;
    if reservations::count_active_for_person(conn, person_key, procedure, now)? > 0
        || repo::count_active_for_person(conn, person_key, procedure)? > 0
    {
        return Err(BookingError::PersonHasReservation.into());
    }
    let max = i64::from(ctx.settings.booking.max_active_per_email);
    let waiting = repo::count_active_for_email(conn, key)?;
    if reservations::count_active_for_email(conn, key, now)? + waiting >= max {
        return Err(BookingError::AddressLimit { max }.into());
    }
    let max = i64::from(ctx.settings.limits.waitlist_per_address);
    if waiting >= max {
        return Err(BookingError::AddressLimit { max }.into());
    }
    Ok(())
}

/// The person and address limits when an offer is accepted (a booking may have been made
/// since joining); this entry is one of the address's active ones and becomes the reservation.
fn check_limits_at_accept(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &WaitlistRow,
    now: DateTime<Utc>,
) -> Result<(), WaitlistError> {
    let key = email_key(&row.email);
    lock(
        conn,
        &[
            (Mode::Exclusive, Lock::Person(&row.person_key)),
            (Mode::Exclusive, Lock::Email(&key)),
        ],
    )?;
    if reservations::count_active_for_person(conn, &row.person_key, &row.procedure_id, now)? > 0 {
        return Err(BookingError::PersonHasReservation.into());
    }
    let max = i64::from(ctx.settings.booking.max_active_per_email);
    // This entry is one of the address's active entries: it becomes the reservation.
    if reservations::count_active_for_email(conn, &key, now)?
        + repo::count_active_for_email(conn, &key)?
        > max
    {
        return Err(BookingError::AddressLimit { max }.into());
    }
    Ok(())
}

/// A day closes (`closure_reason`, the administrator's words): nobody waits for it any more,
/// seats held for offers are let go, and everyone who waited is told by mail.
pub(crate) fn end_day(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &str,
    day: NaiveDate,
    closure_reason: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u32> {
    lock_day(conn, counter, day)?;
    let mut ended = 0;
    for row in repo::list_day(conn, counter, day)? {
        ended += u32::from(end_entry(conn, ctx, &row, Some(closure_reason), now)?);
    }
    Ok(ended)
}

/// Ends a waiting or offered entry without a seat (its offer's seat let go) and mails the
/// resident why: the day was closed (`closure_reason`) or its booking window closed (`None`).
/// The status change is conditional, so an entry ends, and is mailed, once.
fn end_entry(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &WaitlistRow,
    closure_reason: Option<&str>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<bool> {
    let from = row.status;
    if !matches!(from, WaitStatus::Waiting | WaitStatus::Offered)
        || !repo::set_status(conn, &row.id, from, WaitStatus::Expired, now)?
    {
        return Ok(false);
    }
    if from == WaitStatus::Offered {
        if let Some(slot) = &row.offer_slot_id {
            release_offer_seat(conn, slot, now)?;
        }
    }
    mail(conn, ctx, row, Notice::Ended { closure_reason }, now)?;
    Ok(true)
}

/// What a waiting-list mail tells the resident.
enum Notice<'a> {
    /// On the list (the entry's link, the place in line).
    Joined(&'a str, i64),
    /// A seat is held for them (the entry's link).
    Offered(&'a str),
    /// The wait ended without a seat: the day was closed for this reason, or (`None`) its
    /// booking window closed.
    Ended { closure_reason: Option<&'a str> },
}

/// The mail of an entry.
fn mail(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &WaitlistRow,
    notice: Notice<'_>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    let (kind, token, position, closure_reason) = match notice {
        Notice::Joined(token, position) => {
            (MailKind::WaitlistJoined, Some(token), Some(position), None)
        }
        Notice::Offered(token) => (MailKind::WaitlistOffer, Some(token), None, None),
        Notice::Ended { closure_reason } => (MailKind::WaitlistEnded, None, None, closure_reason),
    };
    let counter = ctx.calendar.counter(&row.counter_id);
    let tz = counter.map(|c| c.tz).unwrap_or(chrono_tz::Asia::Tokyo);
    let procedure = ctx.catalogue.get(&row.procedure_id);
    let links = Links::new(&ctx.settings.public_url);
    let offer = row
        .offer_slot_id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .and_then(|id| ctx.calendar.slot(&id))
        .map(|(_, def)| visit_lines(def.starts_at, def.ends_at, tz));
    let expires = row.offer_expires_at.map(|t| t.and_utc());
    let payload = WaitlistMail {
        city: ctx.settings.city_name.clone(),
        name: row.name.clone(),
        date_label: date_label(row.visit_on),
        date_label_en: date_label_en(row.visit_on),
        counter_name: counter.map(|c| c.name.clone()).unwrap_or_default(),
        counter_address: counter.map(|c| c.address.clone()).unwrap_or_default(),
        procedure_name: procedure.map(|p| p.name.clone()).unwrap_or_default(),
        procedure_name_en: procedure.map(|p| p.name_en.clone()).unwrap_or_default(),
        position,
        offer_label: offer.clone().map(|(ja, _)| ja),
        offer_label_en: offer.map(|(_, en)| en),
        offer_expires_label: expires.map(|t| instant_label(t, tz)),
        offer_expires_label_en: expires.map(|t| instant_label_en(t, tz)),
        link: token.map(|t| links.waitlist(t)),
        closure_reason: closure_reason.map(str::to_string),
        booking_url: links.booking(),
        sender_footer: ctx.settings.mail_footer(),
    };
    enqueue(
        conn,
        NewMail {
            kind,
            recipient: &row.email,
            payload: MailPayload::Waitlist(Box::new(payload)),
            reservation_id: None,
        },
        ctx.message_domain,
        now,
    )
}
