//! Booking, cancelling and rescheduling: the rules and the transaction.
//!
//! Each operation is one write transaction that re-checks everything against the clock (never
//! trusting what availability said a moment ago), takes or frees seats by conditional UPDATE,
//! and writes the outbox mail with the change.

use chrono::{DateTime, Utc};

use super::holds;
use super::input::BookingInput;
use super::mail::{party_lines, reservation_mail};
use super::model::{Channel, ReservationRow, ReservationStatus};
use super::numbers::new_reservation_number;
use super::repo::OneCall;
use super::{repo, BookingError};
use crate::calendar::availability::{self, SlotView};
use crate::calendar::booking_window::WindowError;
use crate::calendar::cache::DayState;
use crate::calendar::repo::{take_seat_or_create, SlotRow};
use crate::calendar::{Calendar, Counter, SlotDef, SlotId, Taker};
use crate::catalogue::ApplicantType;
use crate::config::ProcedureSettings;
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::error::{FieldProblem, Invalid};
use crate::mail::{enqueue, MailKind, MailPayload, NewMail, ReservationMail};
use crate::staff::audit::{self, Detail};
use crate::text::email_key;
use crate::tokens::{hash_token, new_token};
use crate::verification;

pub(crate) use super::Ctx;

/// Who is booking.
pub(crate) enum Origin {
    /// A resident who verified an address; the token is consumed with the booking. With a
    /// hold taken with the same link (`hold_id`), the booking gets the hold's seats.
    Web {
        verification_token: String,
        hold_id: Option<String>,
    },
    /// Phone staff for a caller; an admin may override the window with a reason.
    Phone {
        staff_login: String,
        override_reason: Option<String>,
    },
}

pub(crate) struct Booked {
    pub row: ReservationRow,
    pub manage_token: String,
    /// A party's other people's reservations (empty for a booking of one).
    pub party: Vec<ReservationRow>,
}

impl Booked {
    /// What the answer shows beside the reservation: a new booking's party.
    pub(crate) fn links(&self) -> VisitLinks {
        VisitLinks {
            party: self.party.clone(),
            ..VisitLinks::default()
        }
    }
}

const MAX_ALTERNATIVES: usize = 5;
const ALTERNATIVE_SEARCH_DAYS: i64 = 14;

/// A window refusal in the booking's words.
pub(crate) fn window_error(
    e: WindowError,
    date: chrono::NaiveDate,
    tz: chrono_tz::Tz,
) -> BookingError {
    match e {
        WindowError::NotOpen { opens_at } => BookingError::WindowNotOpen { date, opens_at, tz },
        WindowError::Closed { closed_at } => BookingError::WindowClosed {
            date,
            closed_at,
            tz,
        },
    }
}

/// The booking window for the slot's day at `now`.
pub(crate) fn check_window(
    calendar: &Calendar,
    counter: &Counter,
    def: &SlotDef,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let (date, tz) = (def.id.date, counter.tz);
    calendar
        .window
        .check(date, tz, now)
        .map_err(|e| window_error(e, date, tz))
}

/// Takes a seat in the slot for `taker`, creating its row on first use (one statement): the
/// web never takes a seat held for phone bookings before its release, nobody takes one held
/// for a waiting-list offer. Full: `SlotFull` (alternatives are added by the caller, outside
/// the transaction).
pub(crate) fn take_seat_in(
    conn: &mut Tx<'_>,
    calendar: &Calendar,
    counter: &Counter,
    def: &SlotDef,
    taker: Taker,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    take_seats_in(conn, calendar, counter, def, taker, 1, now)
}

/// [`take_seat_in`] for `seats` at once (a party): all of them, or `SlotFull`.
pub(crate) fn take_seats_in(
    conn: &mut Tx<'_>,
    calendar: &Calendar,
    counter: &Counter,
    def: &SlotDef,
    taker: Taker,
    seats: i32,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let hold_phone_seats = holds_phone_seats(calendar, counter, def, taker, now);
    if take_seat_or_create(
        conn,
        &SlotRow::new(def, counter, now),
        hold_phone_seats,
        seats,
        now,
    )? {
        Ok(())
    } else {
        Err(slot_full(counter, taker))
    }
}

/// Whether `taker` must leave the seats held for phone bookings (the web, before their
/// release).
pub(crate) fn holds_phone_seats(
    calendar: &Calendar,
    counter: &Counter,
    def: &SlotDef,
    taker: Taker,
    now: DateTime<Utc>,
) -> bool {
    taker == Taker::Web && !counter.phone_seats_released(&calendar.window, def.id.date, now)
}

/// A full slot's refusal (its alternatives are added outside the transaction).
pub(crate) fn slot_full(counter: &Counter, taker: Taker) -> BookingError {
    BookingError::SlotFull {
        alternatives: Vec::new(),
        tz: counter.tz,
        taker,
    }
}

fn procedure<'a>(ctx: &Ctx<'a>, id: &str) -> Result<&'a ProcedureSettings, BookingError> {
    ctx.catalogue.get(id).ok_or(BookingError::ProcedureNotFound)
}

/// A booking made ready before its transaction: everything that needs no database (the
/// reservation row with its id, number and manage token's hash, the completion mail's
/// payload), so the transaction holds its locks only for the reads and writes.
pub(crate) struct BookingPlan {
    input: BookingInput,
    origin: Origin,
    row: ReservationRow,
    manage_token: String,
    /// A party's other people, one reservation each on the same slot.
    members: Vec<ReservationRow>,
    /// The completion mail (sent when the booking has an address).
    mail: String,
}

impl BookingPlan {
    pub(crate) fn slot_id(&self) -> &SlotId {
        &self.input.slot_id
    }
}

/// Checks what can be checked without the database and prepares the booking.
pub(crate) fn plan_booking(
    ctx: &Ctx<'_>,
    input: BookingInput,
    origin: Origin,
    now: DateTime<Utc>,
) -> Result<BookingPlan, BookingError> {
    plan_booking_with(ctx, input, origin, new_token(), now)
}

/// [`plan_booking`] with the manage token given (a fair start's request keeps the token it
/// was given when it arrived, whichever instance serves it).
pub(crate) fn plan_booking_with(
    ctx: &Ctx<'_>,
    input: BookingInput,
    origin: Origin,
    manage_token: String,
    now: DateTime<Utc>,
) -> Result<BookingPlan, BookingError> {
    let procedure = procedure(ctx, &input.procedure)?;
    let (counter, def) = ctx.calendar.resolve(&input.slot_id)?;
    for id in &input.fallbacks {
        ctx.calendar.resolve(id)?;
    }
    let (channel, created_by) = match &origin {
        Origin::Web { .. } => (Channel::Web, None),
        Origin::Phone { staff_login, .. } => (Channel::Phone, Some(staff_login.clone())),
    };
    let (row, manage_token) = new_reservation(
        &NewBooking {
            def: &def,
            counter_id: &counter.id,
            procedure_id: &procedure.id,
            applicant_type: input.applicant_type,
            name: &input.name,
            name_kana: &input.name_kana,
            phone: &input.phone,
            email: input.email.as_ref().map(|e| e.as_str().to_string()),
            representative_name: input.representative_name.clone(),
            notes: input.notes.clone(),
            person_key: input.person_key(),
            channel,
            created_by,
            first_visit: None,
        },
        manage_token,
        now,
    );
    let (row, members) = party_rows(ctx, &input, row, now)?;
    let mail = confirmation_payload(ctx, &row, &manage_token, None, &members, now)?;
    Ok(BookingPlan {
        input,
        origin,
        row,
        manage_token,
        members,
        mail,
    })
}

/// A party's reservations beside the first person's: each member's own number, procedure and
/// applicant, the first person's slot, phone, address and channel (stored naming the first
/// person's reservation as their party, [`store_members`]). At most `booking.max_party_size`
/// people.
fn party_rows(
    ctx: &Ctx<'_>,
    input: &BookingInput,
    lead: ReservationRow,
    now: DateTime<Utc>,
) -> Result<(ReservationRow, Vec<ReservationRow>), BookingError> {
    if input.party.is_empty() {
        return Ok((lead, Vec::new()));
    }
    let max = usize::try_from(ctx.settings.booking.max_party_size)
        .unwrap_or(1)
        .saturating_sub(1);
    if input.party.len() > max {
        return Err(Invalid::field("party", FieldProblem::TooMany { max }).into());
    }
    let (counter, def) = ctx.calendar.resolve(&input.slot_id)?;
    let mut members = Vec::new();
    for m in &input.party {
        let procedure = procedure(ctx, &m.procedure)?;
        let (row, _) = new_reservation(
            &NewBooking {
                def: &def,
                counter_id: &counter.id,
                procedure_id: &procedure.id,
                applicant_type: m.applicant_type,
                name: &m.name,
                name_kana: &m.name_kana,
                phone: &lead.phone,
                email: lead.email.clone(),
                representative_name: m.representative_name.clone(),
                notes: None,
                person_key: input.member_key(m),
                channel: lead.channel,
                created_by: lead.created_by.clone(),
                first_visit: None,
            },
            // A member's own manage token is never shown: the first person's link manages
            // the party.
            new_token(),
            now,
        );
        members.push(row);
    }
    Ok((lead, members))
}

/// The booking's transaction, inside the caller's: the verification token used up (web), the
/// window re-checked against the clock, the day's lock (shared: bookings of a day do not wait
/// for each other, only for a closure of it) and the person's and address's locks (one
/// statement on PostgreSQL), the closure and the per-person and per-address limits (one
/// query), the seat (one statement), the reservation and its mail (one INSERT each). On
/// PostgreSQL a resident's booking runs these statements in one call (`madoguchi_book`, see
/// [`use_link`]) and the steps below judge what it did and carry on where it stopped.
pub(crate) fn book_planned(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    plan: BookingPlan,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    let BookingPlan {
        input,
        origin,
        mut row,
        manage_token,
        mut members,
        mut mail,
    } = plan;
    let (counter, def) = ctx.calendar.resolve(&input.slot_id)?;
    let (done, overridden) = match &origin {
        Origin::Web {
            verification_token: token,
            hold_id,
        } => {
            let own_path = hold_id.is_some() || !members.is_empty();
            let link = Link {
                token,
                mail: &mail,
                own_path,
            };
            (use_link(conn, ctx, &input, &mut row, link, now)?, false)
        }
        Origin::Phone {
            override_reason, ..
        } => (OneCall::default(), override_reason.is_some()),
    };
    check_when(conn, ctx, counter, &def, overridden, now)?;
    // The days first, then the seat, and only then the person and the address: a full slot
    // says so to everyone, so a refusal never tells whether someone holds a reservation.
    let checks = match done.checks {
        Some(checks) => checks,
        None => lock_and_check(conn, &input, &row, now)?,
    };
    ctx.calendar
        .open_day_given(counter, def.id.date, checks.closed())?;
    if checks.lottery > 0 {
        return Err(BookingError::LotteryPeriod);
    }
    let search = SeatSearch {
        ctx,
        input: &input,
        checks: &checks,
        taker: row.channel.taker(),
        overridden,
        now,
    };
    let taken = take_seat(conn, &search, &origin, done.taken, &row.id)?;
    if taken != def.id {
        retarget(ctx, &mut row, &mut members, &taken)?;
    }
    check_limits(ctx, &row, &checks)?;
    check_party(conn, &members, now)?;
    end_other_hold(conn, &origin, &row, now)?;
    if !members.is_empty() {
        store_members(conn, &row, &mut members)?;
    }
    if taken != def.id || !members.is_empty() {
        // Written again for the slot taken, and the numbers the members were stored with.
        mail = confirmation_payload(ctx, &row, &manage_token, None, &members, now)?;
    }
    if !done.stored {
        let alongside = Alongside::party(&members);
        store_and_mail(conn, ctx, &mut row, &manage_token, mail, alongside, now)?;
    }
    audit_phone_booking(conn, &origin, &row, now)?;
    tracing::info!(reservation.number = %row.reservation_number, slot.id = %row.slot_id, channel = %row.channel, "reservation booked");
    Ok(Booked {
        row,
        manage_token,
        party: members,
    })
}

/// A resident's booking made without their hold (another slot, or the hold gone by the time
/// they sent it) lets the address's live hold go: its seats are freed (the waiting-list
/// sweeper offers them). The address's lock is held (taken with the booking's checks).
fn end_other_hold(
    conn: &mut Tx<'_>,
    origin: &Origin,
    row: &ReservationRow,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if let (Origin::Web { hold_id: None, .. }, Some(key)) = (origin, &row.email_key) {
        holds::end_live_of_address(conn, key, now)?;
    }
    Ok(())
}

/// Each member of a party is a person of their own: one active booking per person and
/// procedure (by their kana and the party's phone). Refused naming the member.
fn check_party(
    conn: &mut Tx<'_>,
    members: &[ReservationRow],
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    for m in members {
        if repo::person_active(conn, &m.person_key, &m.procedure_id, now)? > 0 {
            return Err(BookingError::MemberHasReservation {
                name: m.name.clone(),
            });
        }
    }
    Ok(())
}

/// A party's other reservations, each with a number of its own (drawn again when taken), and
/// every reservation of the party, the first person's too, named its member.
fn store_members(
    conn: &mut Tx<'_>,
    lead: &ReservationRow,
    members: &mut [ReservationRow],
) -> Result<(), BookingError> {
    for m in members.iter_mut() {
        insert_numbered(conn, m, |_| Ok(()))?;
    }
    let ids: Vec<&str> = std::iter::once(lead)
        .chain(members.iter())
        .map(|r| r.id.as_str())
        .collect();
    repo::insert_party(conn, &lead.id, &ids)?;
    Ok(())
}

/// The booking's seat: through the resident's hold when it names one, else as far as the
/// one call got (`taken`: its first choice's seat taken, or refused), else the first choice
/// or a fallback free.
fn take_seat(
    conn: &mut Tx<'_>,
    search: &SeatSearch<'_, '_>,
    origin: &Origin,
    taken: Option<bool>,
    reservation_id: &str,
) -> Result<SlotId, BookingError> {
    let first = &search.input.slot_id;
    if let Origin::Web {
        verification_token,
        hold_id: Some(hold_id),
    } = origin
    {
        let hold = holds::HoldUse {
            hold_id,
            verification_token,
            slot_id: first,
            reservation_id,
            people: search.input.people(),
        };
        let held = holds::use_for_booking(conn, &hold, search.now)?;
        // A party larger than its hold takes the other seats as any booking does (or none).
        if search.seats() > held {
            let (counter, def) = search.ctx.calendar.resolve(first)?;
            let more = search.seats() - held;
            take_seats_in(
                conn,
                search.ctx.calendar,
                counter,
                &def,
                search.taker,
                more,
                search.now,
            )?;
        }
        return Ok(first.clone());
    }
    match taken {
        Some(true) => {
            conn.day_changed(&first.counter, first.date);
            Ok(first.clone())
        }
        Some(false) => take_fallback(conn, search),
        None => take_first_free(conn, search),
    }
}

/// A phone booking in the audit log (who booked, and an administrator's override's reason).
fn audit_phone_booking(
    conn: &mut Tx<'_>,
    origin: &Origin,
    row: &ReservationRow,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if let Origin::Phone {
        staff_login,
        override_reason,
    } = origin
    {
        let detail = Detail::Booked {
            slot_id: &row.slot_id,
            procedure: &row.procedure_id,
            channel: row.channel.as_str(),
            override_reason: override_reason.as_deref(),
            mailed: row.email.is_some(),
        };
        audit::record(
            conn,
            Some(staff_login),
            &row.reservation_number,
            &detail,
            now,
        )?;
    }
    Ok(())
}

/// The reservation and, with an address, its completion mail (`first_visit_number`: a
/// voluntary proxy's second visit names the first).
fn store_and_mail(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &mut ReservationRow,
    manage_token: &str,
    mut mail: String,
    alongside: Alongside<'_>,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    store_reservation(conn, ctx, row, manage_token, &mut mail, alongside, now)?;
    if let Some(recipient) = &row.email {
        enqueue_payload(
            conn,
            ctx,
            MailKind::BookingConfirmed,
            recipient,
            mail,
            &row.id,
            now,
        )?;
    }
    Ok(())
}

/// A resident's verification link and the completion mail planned for the booking.
struct Link<'a> {
    token: &'a str,
    mail: &'a str,
    /// The booking takes the service's path, not the one call: a hold's seats, a party's.
    own_path: bool,
}

/// The verification link used up, and the address it verified put on the reservation. On
/// PostgreSQL, when the slot's window is open, in one call with the booking's next steps
/// (`madoguchi_book`: the locks, the checks, the first choice's seat, the reservation and its
/// mail, each only as far as the rules let it go); what it did is returned for the caller to
/// judge and go on from. Otherwise (SQLite, a window to refuse) the link alone, nothing more.
fn use_link(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    input: &BookingInput,
    row: &mut ReservationRow,
    link: Link<'_>,
    now: DateTime<Utc>,
) -> Result<OneCall, BookingError> {
    let max = i32::try_from(ctx.settings.limits.refusals_per_link).unwrap_or(i32::MAX);
    let (counter, def) = ctx.calendar.resolve(&input.slot_id)?;
    let mut done = OneCall::default();
    if conn.is_postgres()
        && !link.own_path
        && check_window(ctx.calendar, counter, &def, now).is_ok()
    {
        let args = one_call_args(ctx, input, row, &link, max, now)?;
        done = repo::book_in_one_call(conn, &args)?.unwrap_or_default();
    }
    let email = match (done.used, done.email.take()) {
        (true, Some(email)) => email,
        // Not used up there: say why (unknown, used, expired), or use it up here.
        _ => verification::consume(conn, link.token, max, now)?.email,
    };
    // The key the call locked, counted and stored under, if it got that far.
    row.email_key = Some(done.email_key.take().unwrap_or_else(|| email_key(&email)));
    row.email = Some(email);
    Ok(done)
}

/// `madoguchi_book`'s argument: what the statements of [`book_planned`] bind, the rows to
/// insert as they would insert them, the lock ids as [`lock`] derives them.
fn one_call_args(
    ctx: &Ctx<'_>,
    input: &BookingInput,
    row: &ReservationRow,
    link: &Link<'_>,
    max_refusals: i32,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, BookingError> {
    let (counter, def) = ctx.calendar.resolve(&input.slot_id)?;
    let hold = holds_phone_seats(ctx.calendar, counter, &def, row.channel.taker(), now);
    let slot = SlotRow::new(&def, counter, now).with_seat_taken(hold, now);
    let mut day_locks: Vec<i64> = day_locks(input).iter().map(|(_, l)| l.id()).collect();
    day_locks.sort_unstable();
    day_locks.dedup();
    let mail = crate::mail::new_outbox_row(
        MailKind::BookingConfirmed,
        "",
        link.mail.to_string(),
        Some(&row.id),
        ctx.message_domain,
        now,
    );
    Ok(serde_json::json!({
        "token_hash": hash_token(link.token),
        "max_refusals": max_refusals,
        "now": now.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "day_locks": day_locks,
        "person_lock": Lock::Person(&row.person_key).id(),
        "counter_id": counter.id,
        "visit_on": def.id.date,
        "month": def.id.date.format("%Y-%m").to_string(),
        "person_key": row.person_key,
        "procedure_id": row.procedure_id,
        "slot": slot,
        "hold_phone_seats": hold,
        "max_per_email": ctx.settings.booking.max_active_per_email,
        "reservation": row,
        "mail": mail,
    }))
}

/// The booking window (an administrator's override lifts it, not time itself); a month held
/// by a lottery says so rather than when its window opens.
pub(crate) fn check_when(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    def: &SlotDef,
    overridden: bool,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    if overridden {
        if def.starts_at <= now {
            return Err(BookingError::SlotStarted {
                date: def.id.date,
                starts_at: def.starts_at,
                tz: counter.tz,
            });
        }
        return Ok(());
    }
    if let Err(e) = check_window(ctx.calendar, counter, def, now) {
        if repo::lottery_holds(conn, &counter.id, def.id.date)? {
            return Err(BookingError::LotteryPeriod);
        }
        return Err(e);
    }
    Ok(())
}

/// The booking's locks (every candidate slot's day shared, the person and the address
/// exclusive, in one statement on PostgreSQL), then what the rules need: the first choice's
/// closure and the person's and the address's active reservations (one query).
fn lock_and_check(
    conn: &mut Tx<'_>,
    input: &BookingInput,
    row: &ReservationRow,
    now: DateTime<Utc>,
) -> Result<repo::BookingChecks, BookingError> {
    let mut locks = day_locks(input);
    locks.push((Mode::Exclusive, Lock::Person(&row.person_key)));
    let member_keys: Vec<String> = input.party.iter().map(|m| input.member_key(m)).collect();
    for key in &member_keys {
        locks.push((Mode::Exclusive, Lock::Person(key)));
    }
    if let Some(key) = &row.email_key {
        locks.push((Mode::Exclusive, Lock::Email(key)));
    }
    lock(conn, &locks)?;
    Ok(repo::booking_checks(
        conn,
        &input.slot_id.counter,
        input.slot_id.date,
        &row.person_key,
        &row.procedure_id,
        row.email_key.as_deref(),
        now,
    )?)
}

/// Every candidate slot's day, shared (bookings of a day do not wait for each other).
fn day_locks(input: &BookingInput) -> Vec<(Mode, Lock<'_>)> {
    let mut locks = Vec::new();
    for id in input.candidates() {
        let day = Lock::Day {
            counter: &id.counter,
            day: id.date,
        };
        if !locks.iter().any(|(_, l)| *l == day) {
            locks.push((Mode::Shared, day));
        }
    }
    locks
}

/// What a booking looks for a seat with: its slots, the first choice's checks, whose seats it
/// may take, whether an administrator lifted the window, and the clock.
struct SeatSearch<'a, 'c> {
    ctx: &'a Ctx<'c>,
    input: &'a BookingInput,
    checks: &'a repo::BookingChecks,
    taker: Taker,
    overridden: bool,
    now: DateTime<Utc>,
}

impl SeatSearch<'_, '_> {
    /// Seats to take: the booking's people.
    fn seats(&self) -> i32 {
        self.input.people()
    }
}

/// The seat: the first choice, or when it is full, the first fallback free
/// ([`take_fallback`]).
fn take_first_free(conn: &mut Tx<'_>, search: &SeatSearch<'_, '_>) -> Result<SlotId, BookingError> {
    let calendar = search.ctx.calendar;
    let (counter, def) = calendar.resolve(&search.input.slot_id)?;
    match take_seats_in(
        conn,
        calendar,
        counter,
        &def,
        search.taker,
        search.seats(),
        search.now,
    ) {
        Ok(()) => Ok(def.id),
        Err(BookingError::SlotFull { .. }) => take_fallback(conn, search),
        Err(e) => Err(e),
    }
}

/// The first choice being full, each fallback in order that is open for booking (its window,
/// its day) and has a seat. None free: the first choice's `SlotFull`.
fn take_fallback(conn: &mut Tx<'_>, search: &SeatSearch<'_, '_>) -> Result<SlotId, BookingError> {
    let (ctx, input, now) = (search.ctx, search.input, search.now);
    for id in &input.fallbacks {
        let Ok((counter, def)) = ctx.calendar.resolve(id) else {
            continue;
        };
        let open = if search.overridden {
            def.starts_at > now
        } else {
            check_window(ctx.calendar, counter, &def, now).is_ok()
        };
        let closed = if id.counter == input.slot_id.counter && id.date == input.slot_id.date {
            search.checks.closed()
        } else {
            crate::calendar::repo::closure_exists(conn, &id.counter, id.date)?
        };
        if !open
            || ctx
                .calendar
                .open_day_given(counter, id.date, closed)
                .is_err()
        {
            continue;
        }
        match take_seats_in(
            conn,
            ctx.calendar,
            counter,
            &def,
            search.taker,
            search.seats(),
            now,
        ) {
            Ok(()) => return Ok(def.id),
            Err(BookingError::SlotFull { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    let (counter, _) = ctx.calendar.resolve(&input.slot_id)?;
    Err(slot_full(counter, search.taker))
}

/// The reservation (and a party's others) moved to the fallback slot it got; the caller
/// writes its mail again.
fn retarget(
    ctx: &Ctx<'_>,
    row: &mut ReservationRow,
    members: &mut [ReservationRow],
    taken: &SlotId,
) -> Result<(), BookingError> {
    let (counter, def) = ctx.calendar.resolve(taken)?;
    for r in std::iter::once(&mut *row).chain(members.iter_mut()) {
        r.counter_id = counter.id.clone();
        r.slot_id = def.id.to_string();
        r.visit_on = def.id.date;
        r.starts_at = def.starts_at.naive_utc();
        r.ends_at = def.ends_at.naive_utc();
    }
    Ok(())
}

/// One active booking per person and procedure; `booking.max_active_per_email` per address.
fn check_limits(
    ctx: &Ctx<'_>,
    row: &ReservationRow,
    checks: &repo::BookingChecks,
) -> Result<(), BookingError> {
    if checks.person > 0 {
        return Err(BookingError::PersonHasReservation);
    }
    let max = i64::from(ctx.settings.booking.max_active_per_email);
    if row.email.is_some() && checks.email >= max {
        return Err(BookingError::AddressLimit { max });
    }
    Ok(())
}

/// A reservation to write, its seat already taken.
pub(crate) struct NewBooking<'a> {
    pub def: &'a SlotDef,
    pub counter_id: &'a str,
    pub procedure_id: &'a str,
    pub applicant_type: ApplicantType,
    pub name: &'a str,
    pub name_kana: &'a str,
    pub phone: &'a str,
    pub email: Option<String>,
    pub representative_name: Option<String>,
    pub notes: Option<String>,
    pub person_key: String,
    pub channel: Channel,
    pub created_by: Option<String>,
    /// Visit 2 of a voluntary proxy: visit 1's reservation.
    pub first_visit: Option<&'a ReservationRow>,
}

/// The row of a new reservation (a fresh id, number and manage token) and the token.
fn new_reservation(
    b: &NewBooking<'_>,
    manage_token: String,
    now: DateTime<Utc>,
) -> (ReservationRow, String) {
    let row = ReservationRow {
        id: uuid::Uuid::new_v4().to_string(),
        reservation_number: new_reservation_number(),
        manage_token_hash: hash_token(&manage_token),
        status: ReservationStatus::Confirmed,
        channel: b.channel,
        counter_id: b.counter_id.to_string(),
        slot_id: b.def.id.to_string(),
        visit_on: b.def.id.date,
        starts_at: b.def.starts_at.naive_utc(),
        ends_at: b.def.ends_at.naive_utc(),
        procedure_id: b.procedure_id.to_string(),
        applicant_type: b.applicant_type,
        name: b.name.to_string(),
        name_kana: b.name_kana.to_string(),
        phone: b.phone.to_string(),
        email: b.email.clone(),
        email_key: b.email.as_deref().map(email_key),
        cancel_message: None,
        representative_name: b.representative_name.clone(),
        notes: b.notes.clone(),
        person_key: b.person_key.clone(),
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        cancelled_at: None,
        cancel_reason: None,
        created_by: b.created_by.clone(),
        reminder_sent_at: None,
        ics_sequence: 0,
        erased_at: None,
        visit: if b.first_visit.is_some() { 2 } else { 1 },
        first_visit_id: b.first_visit.map(|f| f.id.clone()),
        completed_at: None,
    };
    (row, manage_token)
}

/// The completion mail's payload (JSON) for a reservation.
fn confirmation_payload(
    ctx: &Ctx<'_>,
    row: &ReservationRow,
    manage_token: &str,
    first_visit_number: Option<String>,
    party: &[ReservationRow],
    now: DateTime<Utc>,
) -> Result<String, BookingError> {
    let mut mail = reservation_mail(ctx, row, Some(manage_token), now);
    mail.first_visit_number = first_visit_number;
    mail.party = party_lines(ctx, party);
    serde_json::to_string(&MailPayload::Reservation(Box::new(mail)))
        .map_err(|e| anyhow::anyhow!("the completion mail: {e}").into())
}

/// Inserts the reservation. Its number is unique by constraint: on the (rare) clash a new
/// number is drawn, and the mail that shows it written again.
/// What a completion mail names beside its reservation: a second visit's first visit, a
/// party's other people.
#[derive(Clone, Copy, Default)]
struct Alongside<'a> {
    first_visit_number: Option<&'a str>,
    party: &'a [ReservationRow],
}

impl<'a> Alongside<'a> {
    fn party(party: &'a [ReservationRow]) -> Self {
        Alongside {
            first_visit_number: None,
            party,
        }
    }
}

fn store_reservation(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    row: &mut ReservationRow,
    manage_token: &str,
    mail: &mut String,
    alongside: Alongside<'_>,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    insert_numbered(conn, row, |row| {
        *mail = confirmation_payload(
            ctx,
            row,
            manage_token,
            alongside.first_visit_number.map(str::to_string),
            alongside.party,
            now,
        )?;
        Ok(())
    })
}

/// Inserts a reservation, drawing its number again while the number is taken (`renumbered`
/// is told each new number, to write again what names it).
fn insert_numbered(
    conn: &mut Tx<'_>,
    row: &mut ReservationRow,
    mut renumbered: impl FnMut(&ReservationRow) -> Result<(), BookingError>,
) -> Result<(), BookingError> {
    for _ in 0..20 {
        if repo::insert_reservation_unless_number_taken(conn, row)? {
            return Ok(());
        }
        row.reservation_number = new_reservation_number();
        renumbered(row)?;
    }
    Err(anyhow::anyhow!("no free reservation number after 20 tries").into())
}

/// Writes a reservation (a fresh number and manage token) and, with an address, its
/// completion mail, inside the caller's transaction.
pub(crate) fn insert_booking(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    b: NewBooking<'_>,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    let first_visit_number = b.first_visit.map(|f| f.reservation_number.clone());
    let (mut row, manage_token) = new_reservation(&b, new_token(), now);
    let mail = confirmation_payload(
        ctx,
        &row,
        &manage_token,
        first_visit_number.clone(),
        &[],
        now,
    )?;
    let alongside = Alongside {
        first_visit_number: first_visit_number.as_deref(),
        party: &[],
    };
    store_and_mail(conn, ctx, &mut row, &manage_token, mail, alongside, now)?;
    Ok(Booked {
        row,
        manage_token,
        party: Vec::new(),
    })
}

/// The reservation a manage token names.
pub(crate) fn get_by_token(
    conn: &mut DbConnection,
    manage_token: &str,
) -> Result<ReservationRow, BookingError> {
    repo::find_by_manage_hash(conn, &hash_token(manage_token))?
        .ok_or(BookingError::ReservationNotFound)
}

/// Who books a voluntary proxy's second visit.
pub(crate) enum SecondVisitBy {
    /// The resident, with the first visit's manage link.
    Resident { manage_token: String },
    /// Phone staff for a caller, by the first visit's number.
    Staff { number: String, staff_login: String },
}

/// The days the second visit may be on: `second_visit.min_days_after` to `max_days_after`
/// after the day the first visit was completed (inside the booking window as always).
pub(crate) fn second_visit_range(
    ctx: &Ctx<'_>,
    first: &ReservationRow,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let completed = first.completed_at?;
    let tz = ctx
        .calendar
        .counter(&first.counter_id)
        .map(|c| c.tz)
        .unwrap_or(chrono_tz::Asia::Tokyo);
    let day = completed.and_utc().with_timezone(&tz).date_naive();
    let s = &ctx.settings.second_visit;
    Some((
        day + chrono::Duration::days(i64::from(s.min_days_after)),
        day + chrono::Duration::days(i64::from(s.max_days_after)),
    ))
}

/// Whether a reservation's applicant needs two visits (a voluntary proxy, by the catalogue).
pub(crate) fn needs_two_visits(ctx: &Ctx<'_>, row: &ReservationRow) -> bool {
    ctx.catalogue
        .get(&row.procedure_id)
        .is_some_and(|p| p.applicant(row.applicant_type).visits >= 2)
}

/// Books the second visit of a completed first visit: a new reservation linked to it, with
/// the second visit's list of what to bring, its own number and manage token. It does not
/// count against the one-active-booking-per-person rule; the window, the day and the seats
/// are as for any booking.
pub(crate) fn book_second_visit(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    by: SecondVisitBy,
    slot: &SlotId,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    let (counter, def) = ctx.calendar.resolve(slot)?;
    let first = first_visit_for_second(conn, &ctx, &by, def.id.date)?;
    check_window(ctx.calendar, counter, &def, now)?;
    if repo::lottery_holds(conn, &counter.id, def.id.date)? {
        return Err(BookingError::LotteryPeriod);
    }
    let day = Lock::Day {
        counter: &counter.id,
        day: def.id.date,
    };
    lock(conn, &[(Mode::Shared, day)])?;
    ctx.calendar.open_day(conn, counter, def.id.date)?;
    let (channel, taker, created_by) = match &by {
        SecondVisitBy::Resident { .. } => (Channel::Web, Taker::Web, None),
        SecondVisitBy::Staff { staff_login, .. } => {
            (Channel::Phone, Taker::Phone, Some(staff_login.clone()))
        }
    };
    take_seat_in(conn, ctx.calendar, counter, &def, taker, now)?;
    let booked = insert_booking(
        conn,
        &ctx,
        NewBooking {
            def: &def,
            counter_id: &counter.id,
            procedure_id: &first.procedure_id,
            applicant_type: first.applicant_type,
            name: &first.name,
            name_kana: &first.name_kana,
            phone: &first.phone,
            email: first.email.clone(),
            representative_name: first.representative_name.clone(),
            notes: None,
            person_key: first.person_key.clone(),
            channel,
            created_by: created_by.clone(),
            first_visit: Some(&first),
        },
        now,
    )?;
    if let Some(login) = &created_by {
        let detail = Detail::SecondVisitBooked {
            first_visit: &first.reservation_number,
            slot_id: &booked.row.slot_id,
        };
        audit::record(
            conn,
            Some(login),
            &booked.row.reservation_number,
            &detail,
            now,
        )?;
    }
    tracing::info!(reservation.number = %booked.row.reservation_number, slot.id = %booked.row.slot_id, "second visit booked");
    Ok(booked)
}

/// The completed first visit whose second visit `by` books on `date`: it needs one, has none
/// yet (its lock held from here on), and `date` is inside the days it allows.
fn first_visit_for_second(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    by: &SecondVisitBy,
    date: chrono::NaiveDate,
) -> Result<ReservationRow, BookingError> {
    let first = match by {
        SecondVisitBy::Resident { manage_token } => get_by_token(conn, manage_token)?,
        SecondVisitBy::Staff { number, .. } => get_by_number(conn, number)?,
    };
    if first.visit != 1 || !needs_two_visits(ctx, &first) {
        return Err(BookingError::SecondVisitNotNeeded);
    }
    if first.status != ReservationStatus::Completed {
        return Err(BookingError::FirstVisitNotCompleted);
    }
    let (from, until) =
        second_visit_range(ctx, &first).ok_or(BookingError::FirstVisitNotCompleted)?;
    lock(conn, &[(Mode::Exclusive, Lock::SecondVisit(&first.id))])?;
    if repo::find_second_visit(conn, &first.id)?.is_some() {
        return Err(BookingError::SecondVisitExists);
    }
    if date < from {
        return Err(BookingError::SecondVisitTooEarly { from });
    }
    if date > until {
        return Err(BookingError::SecondVisitTooLate { until });
    }
    Ok(first)
}

/// The first visit's number of a second visit, and the second visit's number of a first.
#[derive(Debug, Clone, Default)]
pub(crate) struct VisitLinks {
    pub first_visit: Option<String>,
    pub second_visit: Option<String>,
    /// The first person of a party: the party's other reservations.
    pub party: Vec<ReservationRow>,
}

/// A reservation with its [`VisitLinks`].
pub(crate) fn with_links(
    conn: &mut DbConnection,
    row: ReservationRow,
) -> Result<(ReservationRow, VisitLinks), BookingError> {
    let mut links = visit_links(conn, std::slice::from_ref(&row))?
        .remove(&row.id)
        .unwrap_or_default();
    if repo::party_of(conn, &row.id)?.as_deref() == Some(row.id.as_str()) {
        links.party = repo::party_others(conn, &row.id)?;
    }
    Ok((row, links))
}

/// [`VisitLinks`] of reservations, by id (two queries at most).
pub(crate) fn visit_links(
    conn: &mut DbConnection,
    rows: &[ReservationRow],
) -> diesel::QueryResult<std::collections::HashMap<String, VisitLinks>> {
    let firsts: Vec<String> = rows
        .iter()
        .filter_map(|r| r.first_visit_id.clone())
        .collect();
    let ones: Vec<String> = rows
        .iter()
        .filter(|r| r.visit == 1 && r.completed_at.is_some())
        .map(|r| r.id.clone())
        .collect();
    let first_numbers = if firsts.is_empty() {
        Vec::new()
    } else {
        repo::numbers_of(conn, &firsts)?
    };
    let second_numbers = if ones.is_empty() {
        Vec::new()
    } else {
        repo::second_visits_of(conn, &ones)?
    };
    Ok(rows
        .iter()
        .map(|r| {
            let first_visit = r.first_visit_id.as_ref().and_then(|f| {
                first_numbers
                    .iter()
                    .find(|(id, _)| id == f)
                    .map(|(_, n)| n.clone())
            });
            let second_visit = second_numbers
                .iter()
                .find(|(f, _)| f.as_deref() == Some(r.id.as_str()))
                .map(|(_, n)| n.clone());
            (
                r.id.clone(),
                VisitLinks {
                    first_visit,
                    second_visit,
                    party: Vec::new(),
                },
            )
        })
        .collect())
}

/// The days a full slot's alternatives are looked for in: two weeks either side.
pub(crate) fn alternative_days(def: &SlotDef) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let span = chrono::Duration::days(ALTERNATIVE_SEARCH_DAYS);
    (def.id.date - span, def.id.date + span)
}

/// Bookable slots of the same counter among `days` (see [`alternative_days`]) with seats for
/// `people` (whose seats: the taker's), nearest first.
pub(crate) fn alternatives(
    days: &[DayState],
    counter: &Counter,
    def: &SlotDef,
    (taker, people): (Taker, u32),
    now: DateTime<Utc>,
) -> Vec<SlotView> {
    // Bookable slots by distance in time; only the chosen few become views.
    let mut found: Vec<(i64, DateTime<Utc>, &SlotDef, crate::calendar::Seats, bool)> = Vec::new();
    for day in days {
        let clock = availability::DayClock::at(day, now);
        if !clock.bookable_now {
            continue;
        }
        for (slot, seats) in day.slots(counter) {
            // Seats for everyone the booking carries (a party's, a hold's).
            if slot.id != def.id && seats.free_for(taker, clock.released) >= people.max(1) {
                let distance = (slot.starts_at - def.starts_at).num_seconds().abs();
                found.push((distance, slot.starts_at, slot, seats, clock.released));
            }
        }
    }
    found.sort_by_key(|(distance, starts_at, ..)| (*distance, *starts_at));
    found
        .into_iter()
        .take(MAX_ALTERNATIVES)
        .map(|(_, _, slot, seats, released)| SlotView::new(slot, seats, taker, released, true))
        .collect()
}

fn enqueue_payload(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    kind: MailKind,
    recipient: &str,
    payload: String,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    crate::mail::enqueue_json(
        conn,
        kind,
        recipient,
        payload,
        Some(reservation_id),
        ctx.message_domain,
        now,
    )
}

pub(crate) fn enqueue_for(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    kind: MailKind,
    recipient: &str,
    mail: ReservationMail,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    enqueue(
        conn,
        NewMail {
            kind,
            recipient,
            payload: MailPayload::Reservation(Box::new(mail)),
            reservation_id: Some(reservation_id),
        },
        ctx.message_domain,
        now,
    )
}

/// Turns staff's free text into what it can match: always the name; kana when it reads as
/// kana; phone digits when it is digits; a reservation number when it is one.
pub(crate) fn staff_search(
    date: Option<chrono::NaiveDate>,
    counter: Option<String>,
    q: Option<&str>,
) -> repo::Search {
    let text = q
        .and_then(|q| crate::text::normalise(q).ok())
        .filter(|t| !t.is_empty());
    let Some(text) = text else {
        return repo::Search {
            date,
            counter,
            ..Default::default()
        };
    };
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let only_digits = text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    repo::Search {
        date,
        counter,
        kana: crate::text::parse_kana(&text)
            .ok()
            .map(|k| crate::text::kana_key(&k)),
        phone_digits: (only_digits && digits.len() >= 3).then_some(digits),
        number: super::numbers::normalise_reservation_number(&text),
        name: Some(text),
    }
}

pub(crate) fn get_by_number(
    conn: &mut DbConnection,
    number: &str,
) -> Result<ReservationRow, BookingError> {
    let number = super::numbers::normalise_reservation_number(number)
        .ok_or(BookingError::ReservationNotFound)?;
    repo::find_by_number(conn, &number)?.ok_or(BookingError::ReservationNotFound)
}
