//! Lotteries (抽選予約): a counter's month of visits drawn instead of booked first-come.
//!
//! An administrator makes a lottery ([`create`]) with an application period and a draw instant;
//! its seed is drawn then and only its SHA-256 is shown until the draw. Residents (a verified
//! address) and phone staff (for callers) enter once per person and per address, with one to
//! three preferred slots ([`enter`]). While a lottery is not drawn, bookings for its counter
//! and month are refused (`lottery_period`, checked with the booking's other rules).
//!
//! The draw ([`claim`], [`prepare`], [`apply`], [`finish`]) runs once across instances (a
//! lease, taken over when it lapses). The outcome is a pure function ([`assign`]) of the seed,
//! the entries and the seats every preferred slot had when the draw began (kept in the row):
//! entries in the order of SHA-256(seed ‖ entry id), each given its first preference with a
//! seat left (a web entry never takes a seat held for phone bookings; a phone entry may). A
//! crash resumes with the same result, and `madoguchi lottery verify` runs it again from what
//! is stored ([`verify`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::calendar::repo::{find_slot_row, SlotRow};
use crate::calendar::{CalendarError, SlotId};
use crate::db::schema::{lotteries, lottery_entries};
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::error::{FieldError, FieldProblem, Invalid};
use crate::mail::links::{instant_label, instant_label_en, month_labels, visit_lines, Links};
use crate::mail::{enqueue, LotteryMail, MailKind, MailPayload, NewMail};
use crate::reservations::input::BookingInput;
use crate::reservations::model::Channel;
use crate::reservations::service::{insert_booking, take_seat_in, NewBooking};
use crate::reservations::{BookingError, Ctx};
use crate::staff::audit::{self, Detail};
use crate::text::email_key;
use crate::tokens::{hash_token, new_secret, new_token, sha256_hex};

/// What lotteries refuse.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LotteryError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error("no such lottery")]
    NotFound,
    #[error("no such lottery entry")]
    EntryNotFound,
    #[error("the month cannot be drawn")]
    Conflict,
    #[error("the lottery is not taking entries")]
    NotOpen,
    #[error("this person or address has entered already")]
    EntryExists,
    #[error("the lottery has been drawn")]
    Drawn,
    /// Another instance took the draw over (this one's lease lapsed).
    #[error("the draw's lease was lost")]
    LeaseLost,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<crate::verification::VerificationError> for LotteryError {
    fn from(e: crate::verification::VerificationError) -> Self {
        LotteryError::Booking(e.into())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = lotteries)]
pub(crate) struct LotteryRow {
    pub id: String,
    pub counter_id: String,
    /// `YYYY-MM`.
    pub month: String,
    pub applications_open: NaiveDateTime,
    pub applications_close: NaiveDateTime,
    pub draw_at: NaiveDateTime,
    pub seed: String,
    pub seed_sha256: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub draw_claimed_by: Option<String>,
    pub draw_lease_until: Option<NaiveDateTime>,
    pub seats: Option<String>,
    pub drawn_at: Option<NaiveDateTime>,
}

/// Where a lottery stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LotteryStatus {
    Scheduled,
    Open,
    Closed,
    Drawn,
}

impl LotteryRow {
    pub(crate) fn status(&self, now: DateTime<Utc>) -> LotteryStatus {
        let now = now.naive_utc();
        if self.drawn_at.is_some() {
            LotteryStatus::Drawn
        } else if now < self.applications_open {
            LotteryStatus::Scheduled
        } else if now < self.applications_close {
            LotteryStatus::Open
        } else {
            LotteryStatus::Closed
        }
    }

    /// The first and last day of the lottery's month.
    pub(crate) fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        month_days(&self.month)
    }
}

/// The first and last day of a `YYYY-MM` month.
pub(crate) fn month_days(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((first, next - Duration::days(1)))
}

/// `YYYY-MM` of a date.
pub(crate) fn month_of(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

/// An entry's status.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Entered,
    Won,
    Lost,
    Withdrawn,
}

crate::db::text_enum!(EntryStatus {
    Entered => "entered",
    Won => "won",
    Lost => "lost",
    Withdrawn => "withdrawn",
});

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = lottery_entries)]
pub(crate) struct EntryRow {
    pub id: String,
    pub lottery_id: String,
    pub manage_token_hash: String,
    pub channel: Channel,
    pub status: EntryStatus,
    /// A JSON list of slot ids, in order of preference.
    pub preferences: String,
    pub procedure_id: String,
    pub applicant_type: crate::catalogue::ApplicantType,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub email: Option<String>,
    pub email_key: Option<String>,
    pub representative_name: Option<String>,
    pub person_key: String,
    pub won_slot: Option<String>,
    pub reservation_id: Option<String>,
    pub draw_rank: Option<i32>,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl EntryRow {
    pub(crate) fn preference_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.preferences).unwrap_or_default()
    }
}

// ---------- making a lottery ----------

/// A lottery as an administrator asks for it, parsed.
pub(crate) struct NewLottery {
    pub counter: String,
    pub month: String,
    pub applications_open: DateTime<Utc>,
    pub applications_close: DateTime<Utc>,
    pub draw_at: DateTime<Utc>,
}

impl NewLottery {
    /// Every field's problem at once: the month, the instants (RFC 3339) and their order.
    pub(crate) fn parse(
        counter: &str,
        month: &str,
        open: &str,
        close: &str,
        draw_at: &str,
    ) -> Result<NewLottery, Invalid> {
        let mut errors = Vec::new();
        let instant = |errors: &mut Vec<FieldError>, field: &str, raw: &str| {
            match DateTime::parse_from_rfc3339(raw.trim()) {
                Ok(t) => Some(t.to_utc()),
                Err(_) => {
                    errors.push(FieldError::new(field, FieldProblem::NotInstant));
                    None
                }
            }
        };
        if counter.trim().is_empty() {
            errors.push(FieldError::new("counter", FieldProblem::Required));
        }
        let month_ok = month.len() == 7 && month_days(month.trim()).is_some();
        if !month_ok {
            errors.push(FieldError::new("month", FieldProblem::NotDate));
        }
        let o = instant(&mut errors, "applications_open", open);
        let c = instant(&mut errors, "applications_close", close);
        let d = instant(&mut errors, "draw_at", draw_at);
        if let (Some(o), Some(c)) = (o, c) {
            if c <= o {
                errors.push(FieldError::new(
                    "applications_close",
                    FieldProblem::BeforeFrom,
                ));
            }
        }
        if let (Some(c), Some(d)) = (c, d) {
            if d < c {
                errors.push(FieldError::new("draw_at", FieldProblem::BeforeFrom));
            }
        }
        match (o, c, d, errors.is_empty()) {
            (Some(o), Some(c), Some(d), true) => Ok(NewLottery {
                counter: counter.trim().to_string(),
                month: month.trim().to_string(),
                applications_open: o,
                applications_close: c,
                draw_at: d,
            }),
            _ => Err(Invalid::fields(errors)),
        }
    }
}

/// Makes a lottery for a month whose booking window has not opened and that no other lottery
/// holds; its seed drawn now, its SHA-256 published.
pub(crate) fn create(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    new: NewLottery,
    staff_login: &str,
    now: DateTime<Utc>,
) -> Result<LotteryRow, LotteryError> {
    let counter = ctx
        .calendar
        .counter(&new.counter)
        .ok_or(CalendarError::CounterNotFound)?;
    let (first, last) = month_days(&new.month).ok_or(LotteryError::Conflict)?;
    if ctx.calendar.window.opens_at(first, counter.tz) <= now {
        return Err(LotteryError::Conflict);
    }
    lock(tx, &[(Mode::Exclusive, Lock::Admins)])?;
    let taken: i64 = lotteries::table
        .filter(lotteries::counter_id.eq(&counter.id))
        .filter(lotteries::month.eq(&new.month))
        .count()
        .get_result(&mut **tx)?;
    if taken > 0 {
        return Err(LotteryError::Conflict);
    }
    let seed = new_secret();
    let row = LotteryRow {
        id: uuid::Uuid::new_v4().to_string(),
        counter_id: counter.id.clone(),
        month: new.month,
        applications_open: new.applications_open.naive_utc(),
        applications_close: new.applications_close.naive_utc(),
        draw_at: new.draw_at.naive_utc(),
        seed_sha256: sha256_hex(seed.as_bytes()),
        seed,
        created_by: staff_login.to_string(),
        created_at: now.naive_utc(),
        draw_claimed_by: None,
        draw_lease_until: None,
        seats: None,
        drawn_at: None,
    };
    diesel::insert_into(lotteries::table)
        .values(&row)
        .execute(&mut **tx)?;
    for day in first.iter_days().take_while(|d| *d <= last) {
        tx.day_changed(&counter.id, day);
    }
    let detail = Detail::LotteryCreated {
        counter: &row.counter_id,
        month: &row.month,
        draw_at: new.draw_at.to_rfc3339(),
        seed_sha256: &row.seed_sha256,
    };
    audit::record(tx, Some(staff_login), &row.id, &detail, now)?;
    Ok(row)
}

pub(crate) fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<LotteryRow>> {
    lotteries::table
        .find(id)
        .select(LotteryRow::as_select())
        .first(conn)
        .optional()
}

/// Every lottery (of one counter), newest month first.
pub(crate) fn list(conn: &mut DbConnection, counter: Option<&str>) -> QueryResult<Vec<LotteryRow>> {
    let mut q = lotteries::table
        .select(LotteryRow::as_select())
        .order(lotteries::month.desc())
        .into_boxed();
    if let Some(c) = counter {
        q = q.filter(lotteries::counter_id.eq(c.to_string()));
    }
    q.load(conn)
}

/// The lotteries not yet drawn.
pub(crate) fn undrawn(conn: &mut DbConnection) -> QueryResult<Vec<LotteryRow>> {
    lotteries::table
        .filter(lotteries::drawn_at.is_null())
        .select(LotteryRow::as_select())
        .load(conn)
}

/// Entries (not withdrawn) and winners of a lottery.
pub(crate) fn counts(conn: &mut DbConnection, id: &str) -> QueryResult<(i64, i64)> {
    let entries: i64 = lottery_entries::table
        .filter(lottery_entries::lottery_id.eq(id))
        .filter(lottery_entries::status.ne(EntryStatus::Withdrawn))
        .count()
        .get_result(conn)?;
    let won: i64 = lottery_entries::table
        .filter(lottery_entries::lottery_id.eq(id))
        .filter(lottery_entries::status.eq(EntryStatus::Won))
        .count()
        .get_result(conn)?;
    Ok((entries, won))
}

// ---------- entering ----------

/// Who enters.
pub(crate) enum Entrant {
    /// A resident with a verified address (the token is used up).
    Web { verification_token: String },
    /// Phone staff for a caller (with the caller's address, if any).
    Phone { staff_login: String },
}

/// The slots an entry prefers, parsed: one to three, each once.
pub(crate) fn parse_preferences(raw: &[String]) -> Result<Vec<SlotId>, LotteryError> {
    if raw.is_empty() {
        return Err(Invalid::field("preferences", FieldProblem::Required).into());
    }
    if raw.len() > 3 {
        return Err(Invalid::field("preferences", FieldProblem::TooMany { max: 3 }).into());
    }
    let mut ids: Vec<SlotId> = Vec::new();
    for r in raw {
        let id: SlotId = r.trim().parse().map_err(|_| CalendarError::SlotNotFound)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Enters a person in a lottery during its application period: once per person and per
/// address (compared as the booking rules compare them), every preference a slot of its
/// counter and month. Returns the entry and its manage token.
pub(crate) fn enter(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    lottery_id: &str,
    preferences: &[SlotId],
    person: &BookingInput,
    entrant: Entrant,
    now: DateTime<Utc>,
) -> Result<(EntryRow, String), LotteryError> {
    let lottery = find(tx, lottery_id)?.ok_or(LotteryError::NotFound)?;
    if lottery.status(now) != LotteryStatus::Open || !before_draw(tx, lottery_id)? {
        return Err(LotteryError::NotOpen);
    }
    check_preferences(ctx, &lottery, preferences)?;
    if ctx.catalogue.get(&person.procedure).is_none() {
        return Err(BookingError::ProcedureNotFound.into());
    }
    let (channel, created_by, email) = entrant_of(tx, ctx, entrant, person, now)?;
    let person_key = person.person_key();
    let key = email.as_deref().map(email_key);
    let mut locks = vec![(Mode::Exclusive, Lock::Person(&person_key))];
    if let Some(k) = &key {
        locks.push((Mode::Exclusive, Lock::Email(k)));
    }
    lock(tx, &locks)?;
    check_entrant(
        tx,
        &lottery,
        &person_key,
        key.as_deref(),
        &person.procedure,
        now,
    )?;
    let token = new_token();
    let ids: Vec<String> = preferences.iter().map(ToString::to_string).collect();
    let row = EntryRow {
        id: uuid::Uuid::new_v4().to_string(),
        lottery_id: lottery_id.to_string(),
        manage_token_hash: hash_token(&token),
        channel,
        status: EntryStatus::Entered,
        preferences: serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
        procedure_id: person.procedure.clone(),
        applicant_type: person.applicant_type,
        name: person.name.clone(),
        name_kana: person.name_kana.clone(),
        phone: person.phone.clone(),
        email,
        email_key: key,
        representative_name: person.representative_name.clone(),
        person_key,
        won_slot: None,
        reservation_id: None,
        draw_rank: None,
        created_by,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    diesel::insert_into(lottery_entries::table)
        .values(&row)
        .execute(&mut **tx)?;
    mail_entry(
        tx,
        ctx,
        &lottery,
        &row,
        MailKind::LotteryEntered,
        Some(&token),
        now,
    )?;
    if let Some(login) = &row.created_by {
        let detail = Detail::LotteryEntered {
            lottery: lottery_id,
            preferences: ids.len(),
        };
        audit::record(tx, Some(login), &row.id, &detail, now)?;
    }
    Ok((row, token))
}

/// The entry's channel, its staff author and its address (a resident's verified one, the link
/// used up; a caller's as given).
fn entrant_of(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    entrant: Entrant,
    person: &BookingInput,
    now: DateTime<Utc>,
) -> Result<(Channel, Option<String>, Option<String>), LotteryError> {
    Ok(match entrant {
        Entrant::Web { verification_token } => {
            let max = i32::try_from(ctx.settings.limits.refusals_per_link).unwrap_or(i32::MAX);
            let v = crate::verification::consume(tx, &verification_token, max, now)?;
            (Channel::Web, None, Some(v.email))
        }
        Entrant::Phone { staff_login } => (
            Channel::Phone,
            Some(staff_login),
            person.email.as_ref().map(|e| e.as_str().to_string()),
        ),
    })
}

/// One entry per person and per address; and the booking rules hold for what a win would
/// book: one active booking per person and procedure.
fn check_entrant(
    tx: &mut Tx<'_>,
    lottery: &LotteryRow,
    person_key: &str,
    key: Option<&str>,
    procedure: &str,
    now: DateTime<Utc>,
) -> Result<(), LotteryError> {
    if entered_already(tx, &lottery.id, person_key, key)? {
        return Err(LotteryError::EntryExists);
    }
    let (first, _) = lottery.days().ok_or(LotteryError::NotFound)?;
    let checks = crate::reservations::repo::booking_checks(
        tx,
        &lottery.counter_id,
        first,
        person_key,
        procedure,
        key,
        now,
    )?;
    if checks.person > 0 {
        return Err(BookingError::PersonHasReservation.into());
    }
    Ok(())
}

/// Locks the lottery's row (PostgreSQL: an entry or a withdrawal and the draw's claim take
/// turns) and says whether its draw has not begun.
fn before_draw(tx: &mut Tx<'_>, id: &str) -> QueryResult<bool> {
    let n = diesel::update(lotteries::table.find(id))
        .filter(lotteries::draw_claimed_by.is_null())
        .set(lotteries::id.eq(id))
        .execute(&mut **tx)?;
    Ok(n == 1)
}

fn check_preferences(
    ctx: &Ctx<'_>,
    lottery: &LotteryRow,
    preferences: &[SlotId],
) -> Result<(), LotteryError> {
    for id in preferences {
        ctx.calendar.resolve(id)?;
        if id.counter != lottery.counter_id || month_of(id.date) != lottery.month {
            return Err(Invalid::field("preferences", FieldProblem::DateOutOfRange).into());
        }
    }
    Ok(())
}

fn entered_already(
    conn: &mut DbConnection,
    lottery_id: &str,
    person_key: &str,
    key: Option<&str>,
) -> QueryResult<bool> {
    let same = lottery_entries::person_key
        .eq(person_key.to_string())
        .or(lottery_entries::email_key.eq(key.unwrap_or("").to_string()));
    let n: i64 = lottery_entries::table
        .filter(lottery_entries::lottery_id.eq(lottery_id))
        .filter(lottery_entries::status.ne(EntryStatus::Withdrawn))
        .filter(same)
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The entry a manage token names, with its lottery.
pub(crate) fn entry_by_token(
    conn: &mut DbConnection,
    token: &str,
) -> Result<(EntryRow, LotteryRow), LotteryError> {
    let entry: EntryRow = lottery_entries::table
        .filter(lottery_entries::manage_token_hash.eq(hash_token(token)))
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(LotteryError::EntryNotFound)?;
    let lottery = find(conn, &entry.lottery_id)?.ok_or(LotteryError::NotFound)?;
    Ok((entry, lottery))
}

/// Withdraws an entry before its lottery's draw begins (idempotent).
pub(crate) fn withdraw(
    tx: &mut Tx<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(EntryRow, LotteryRow), LotteryError> {
    let (mut entry, lottery) = entry_by_token(tx, token)?;
    match entry.status {
        EntryStatus::Withdrawn => return Ok((entry, lottery)),
        EntryStatus::Won | EntryStatus::Lost => return Err(LotteryError::Drawn),
        EntryStatus::Entered => {}
    }
    if lottery.drawn_at.is_some()
        || now.naive_utc() >= lottery.draw_at
        || !before_draw(tx, &lottery.id)?
    {
        return Err(LotteryError::Drawn);
    }
    diesel::update(lottery_entries::table.find(&entry.id))
        .filter(lottery_entries::status.eq(EntryStatus::Entered))
        .set((
            lottery_entries::status.eq(EntryStatus::Withdrawn),
            lottery_entries::updated_at.eq(now.naive_utc()),
        ))
        .execute(&mut **tx)?;
    entry.status = EntryStatus::Withdrawn;
    Ok((entry, lottery))
}

fn mail_entry(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    lottery: &LotteryRow,
    entry: &EntryRow,
    kind: MailKind,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let Some(recipient) = entry.email.as_deref() else {
        return Ok(());
    };
    let counter = ctx.calendar.counter(&lottery.counter_id);
    let tz = counter.map(|c| c.tz).unwrap_or(chrono_tz::Asia::Tokyo);
    let links = Links::new(&ctx.settings.public_url);
    let (preferences, preferences_en): (Vec<_>, Vec<_>) = entry
        .preference_ids()
        .iter()
        .filter_map(|id| id.parse::<SlotId>().ok())
        .filter_map(|id| ctx.calendar.slot(&id))
        .map(|(_, def)| visit_lines(def.starts_at, def.ends_at, tz))
        .unzip();
    let (first, _) = lottery
        .days()
        .unwrap_or((now.date_naive(), now.date_naive()));
    let opens = counter.map_or(lottery.draw_at.and_utc(), |c| {
        ctx.calendar.window.opens_at(first, c.tz)
    });
    let (month_label, month_label_en) = month_labels(first);
    let procedure = ctx.catalogue.get(&entry.procedure_id);
    let draw = lottery.draw_at.and_utc();
    let opens = opens.max(draw);
    let payload = LotteryMail {
        city: ctx.settings.city_name.clone(),
        name: entry.name.clone(),
        month_label,
        month_label_en,
        counter_name: counter.map(|c| c.name.clone()).unwrap_or_default(),
        counter_address: counter.map(|c| c.address.clone()).unwrap_or_default(),
        procedure_name: procedure.map(|p| p.name.clone()).unwrap_or_default(),
        procedure_name_en: procedure.map(|p| p.name_en.clone()).unwrap_or_default(),
        preferences,
        preferences_en,
        draw_label: instant_label(draw, tz),
        draw_label_en: instant_label_en(draw, tz),
        opens_label: instant_label(opens, tz),
        opens_label_en: instant_label_en(opens, tz),
        link: token.map(|t| links.lottery(t)),
        booking_url: links.booking(),
        sender_footer: ctx.settings.mail_footer(),
    };
    enqueue(
        tx,
        NewMail {
            kind,
            recipient,
            payload: MailPayload::Lottery(Box::new(payload)),
            reservation_id: None,
        },
        ctx.message_domain,
        now,
    )
    .map(|_| ())
}

// ---------- the draw ----------

/// Lotteries whose draw is due and not done.
pub(crate) fn due(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<Vec<String>> {
    lotteries::table
        .filter(lotteries::drawn_at.is_null())
        .filter(lotteries::draw_at.le(now.naive_utc()))
        .select(lotteries::id)
        .load(conn)
}

const LEASE_SECONDS: i64 = 30;

/// The draw of a lottery for `instance`, or None while another instance holds it.
pub(crate) fn claim(
    tx: &mut Tx<'_>,
    id: &str,
    instance: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<LotteryRow>> {
    let n = diesel::update(lotteries::table.find(id))
        .filter(lotteries::drawn_at.is_null())
        .filter(
            lotteries::draw_claimed_by
                .is_null()
                .or(lotteries::draw_claimed_by.eq(instance))
                .or(lotteries::draw_lease_until.lt(now.naive_utc())),
        )
        .set((
            lotteries::draw_claimed_by.eq(instance),
            lotteries::draw_lease_until.eq((now + Duration::seconds(LEASE_SECONDS)).naive_utc()),
        ))
        .execute(&mut **tx)?;
    if n == 0 {
        return Ok(None);
    }
    find(tx, id)
}

/// What a slot had free when the draw began: every free seat, and those of them held for
/// phone bookings (a web entry may not take these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Free {
    pub free: i32,
    pub held: i32,
}

/// An entry as the draw sees it.
#[derive(Debug, Clone)]
pub(crate) struct Drawn {
    pub id: String,
    pub channel: Channel,
    pub preferences: Vec<String>,
}

/// The draw's outcome for one entry: its place in the order and the slot it won (None: lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub id: String,
    pub rank: i32,
    pub slot: Option<String>,
}

/// The draw as a function: the entries in the order of SHA-256(seed ‖ id), each given its first
/// preference with a seat it may take.
pub(crate) fn assign(
    seed: &str,
    entries: &[Drawn],
    seats: &BTreeMap<String, Free>,
) -> Vec<Assignment> {
    let mut order: Vec<&Drawn> = entries.iter().collect();
    order.sort_by_cached_key(|e| sha256_hex(format!("{seed}{}", e.id).as_bytes()));
    let mut seats = seats.clone();
    order
        .into_iter()
        .enumerate()
        .map(|(rank, e)| {
            let slot = e.preferences.iter().find(|p| {
                let Some(s) = seats.get_mut(*p) else {
                    return false;
                };
                let open = match e.channel {
                    Channel::Web => s.free - s.held,
                    Channel::Phone => s.free,
                };
                if open > 0 {
                    s.free -= 1;
                    true
                } else {
                    false
                }
            });
            Assignment {
                id: e.id.clone(),
                rank: i32::try_from(rank).unwrap_or(i32::MAX),
                slot: slot.cloned(),
            }
        })
        .collect()
}

/// The entries taking part (every one not withdrawn), as the draw sees them.
pub(crate) fn drawn_entries(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<EntryRow>> {
    lottery_entries::table
        .filter(lottery_entries::lottery_id.eq(id))
        .filter(lottery_entries::status.ne(EntryStatus::Withdrawn))
        .select(EntryRow::as_select())
        .load(conn)
}

fn as_drawn(rows: &[EntryRow]) -> Vec<Drawn> {
    rows.iter()
        .map(|e| Drawn {
            id: e.id.clone(),
            channel: e.channel,
            preferences: e.preference_ids(),
        })
        .collect()
}

/// The draw's plan: the seats every preferred slot has now (kept in the row the first time,
/// so a resumed draw starts from the same ones) and the assignments of every entry.
pub(crate) fn prepare(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    lottery: &LotteryRow,
    now: DateTime<Utc>,
) -> Result<Vec<Assignment>, LotteryError> {
    let rows = drawn_entries(tx, &lottery.id)?;
    let seats = match lottery.seats.as_deref() {
        Some(kept) => serde_json::from_str(kept).unwrap_or_default(),
        None => {
            let seats = seats_now(tx, ctx, &rows, now)?;
            let json = serde_json::to_string(&seats).unwrap_or_else(|_| "{}".into());
            diesel::update(lotteries::table.find(&lottery.id))
                .set(lotteries::seats.eq(Some(json)))
                .execute(&mut **tx)?;
            seats
        }
    };
    Ok(assign(&lottery.seed, &as_drawn(&rows), &seats))
}

fn seats_now(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    rows: &[EntryRow],
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Free>, LotteryError> {
    let mut seats = BTreeMap::new();
    for id in rows.iter().flat_map(EntryRow::preference_ids) {
        if seats.contains_key(&id) {
            continue;
        }
        let Ok(slot) = id.parse::<SlotId>() else {
            continue;
        };
        let Ok((counter, def)) = ctx.calendar.resolve(&slot) else {
            continue;
        };
        let row = find_slot_row(conn, &id)?.unwrap_or_else(|| SlotRow::new(&def, counter, now));
        let released = counter.phone_seats_released(&ctx.calendar.window, slot.date, now);
        let closed = crate::calendar::repo::closure_exists(conn, &counter.id, slot.date)?;
        let free = if closed {
            0
        } else {
            (row.capacity - row.booked - row.offer_held).max(0)
        };
        let held = if released {
            0
        } else {
            row.phone_held.min(free)
        };
        seats.insert(id, Free { free, held });
    }
    Ok(seats)
}

/// Carries out `batch` of the plan: a winner's seat taken and reservation written (with its
/// confirmation mail), a loser told by mail; an entry done before (a resumed draw) skipped.
/// Returns how many won.
pub(crate) fn apply(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    lottery: &LotteryRow,
    instance: &str,
    batch: &[Assignment],
    now: DateTime<Utc>,
) -> Result<usize, LotteryError> {
    // The lease first: an instance whose lease lapsed stops here; on PostgreSQL the row lock
    // keeps two instances' batches apart, and each entry is re-read after it.
    if !renew(tx, &lottery.id, instance, now)? {
        return Err(LotteryError::LeaseLost);
    }
    let mut won = 0;
    for a in batch {
        let entry: Option<EntryRow> = lottery_entries::table
            .find(&a.id)
            .filter(lottery_entries::status.eq(EntryStatus::Entered))
            .select(EntryRow::as_select())
            .first(&mut **tx)
            .optional()?;
        let Some(entry) = entry else { continue };
        let booked = match &a.slot {
            Some(slot) => match tx.savepoint(|t| book_winner(t, ctx, &entry, slot, now)) {
                Ok(booked) => booked,
                Err(e) => {
                    // Undone alone; the entry is lost (the verify command will show it).
                    tracing::warn!(lottery.entry = %entry.id, error = %e, "a winner could not be booked");
                    None
                }
            },
            None => None,
        };
        let status = if booked.is_some() {
            won += 1;
            EntryStatus::Won
        } else {
            mail_entry(tx, ctx, lottery, &entry, MailKind::LotteryLost, None, now)?;
            EntryStatus::Lost
        };
        diesel::update(lottery_entries::table.find(&entry.id))
            .set((
                lottery_entries::status.eq(status),
                lottery_entries::won_slot.eq(booked.as_ref().and(a.slot.clone())),
                lottery_entries::reservation_id.eq(booked),
                lottery_entries::draw_rank.eq(Some(a.rank)),
                lottery_entries::updated_at.eq(now.naive_utc()),
            ))
            .execute(&mut **tx)?;
    }
    Ok(won)
}

/// Renews the draw's lease if this instance still holds it.
fn renew(tx: &mut Tx<'_>, id: &str, instance: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let n = diesel::update(lotteries::table.find(id))
        .filter(lotteries::drawn_at.is_null())
        .filter(lotteries::draw_claimed_by.eq(instance))
        .set(lotteries::draw_lease_until.eq((now + Duration::seconds(LEASE_SECONDS)).naive_utc()))
        .execute(&mut **tx)?;
    Ok(n == 1)
}

/// The winner's seat and reservation, whatever the booking window says; None when the seat
/// is not there after all (a capacity lowered during the draw).
fn book_winner(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    entry: &EntryRow,
    slot: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, LotteryError> {
    let id: SlotId = slot.parse().map_err(|_| CalendarError::SlotNotFound)?;
    let (counter, def) = ctx.calendar.resolve(&id)?;
    let day = Lock::Day {
        counter: &counter.id,
        day: id.date,
    };
    lock(tx, &[(Mode::Shared, day)])?;
    match take_seat_in(tx, ctx.calendar, counter, &def, entry.channel.taker(), now) {
        Ok(()) => {}
        Err(BookingError::SlotFull { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let booked = insert_booking(
        tx,
        ctx,
        NewBooking {
            def: &def,
            counter_id: &counter.id,
            procedure_id: &entry.procedure_id,
            applicant_type: entry.applicant_type,
            name: &entry.name,
            name_kana: &entry.name_kana,
            phone: &entry.phone,
            email: entry.email.clone(),
            representative_name: entry.representative_name.clone(),
            notes: None,
            person_key: entry.person_key.clone(),
            channel: entry.channel,
            created_by: entry.created_by.clone(),
            first_visit: None,
        },
        now,
    )?;
    Ok(Some(booked.row.id))
}

/// The draw is done: the lottery is drawn (its seed now shown), the month's days change, and
/// the audit log keeps the seed with the entries and winners.
pub(crate) fn finish(
    tx: &mut Tx<'_>,
    lottery: &LotteryRow,
    instance: &str,
    entries: usize,
    won: usize,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let done = diesel::update(lotteries::table.find(&lottery.id))
        .filter(lotteries::drawn_at.is_null())
        .filter(lotteries::draw_claimed_by.eq(instance))
        .set(lotteries::drawn_at.eq(Some(now.naive_utc())))
        .execute(&mut **tx)?;
    if done == 0 {
        return Ok(());
    }
    if let Some((first, last)) = lottery.days() {
        for day in first.iter_days().take_while(|d| *d <= last) {
            tx.day_changed(&lottery.counter_id, day);
        }
    }
    let detail = Detail::LotteryDrawn {
        seed: &lottery.seed,
        entries,
        won,
    };
    audit::record(tx, None, &lottery.id, &detail, now)
}

// ---------- retention ----------

/// Entries of lotteries drawn before `before` lose their personal data; what the draw needs
/// to be verified again (ids, channel, preferences, outcome, place) stays. Returns how many.
pub(crate) fn erase_before(conn: &mut Tx<'_>, before: DateTime<Utc>) -> QueryResult<u64> {
    let old = lotteries::table
        .filter(lotteries::drawn_at.lt(before.naive_utc()))
        .select(lotteries::id);
    let n = diesel::update(
        lottery_entries::table
            .filter(lottery_entries::lottery_id.eq_any(old))
            .filter(lottery_entries::name.ne("")),
    )
    .set((
        lottery_entries::name.eq(""),
        lottery_entries::name_kana.eq(""),
        lottery_entries::phone.eq(""),
        lottery_entries::email.eq(None::<String>),
        lottery_entries::email_key.eq(None::<String>),
        lottery_entries::representative_name.eq(None::<String>),
        lottery_entries::person_key.eq(""),
    ))
    .execute(&mut **conn)?;
    Ok(n as u64)
}

// ---------- verifying ----------

/// What `madoguchi lottery verify` finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The stored outcome is the draw run again.
    Match { entries: usize, won: usize },
    /// The first entry (in the draw's order) whose stored outcome differs, and how.
    Differs(String),
    /// Not drawn yet, or no such lottery.
    NotDrawn,
}

/// [`verify`] for the command line.
pub fn verify_lottery(conn: &mut DbConnection, id: &str) -> QueryResult<Verdict> {
    verify(conn, id)
}

/// Runs the draw again from the revealed seed, the stored entries and the seats kept when it
/// began, and compares every entry's place and slot with what is stored.
pub(crate) fn verify(conn: &mut DbConnection, id: &str) -> QueryResult<Verdict> {
    let Some(lottery) = find(conn, id)? else {
        return Ok(Verdict::NotDrawn);
    };
    if lottery.drawn_at.is_none() {
        return Ok(Verdict::NotDrawn);
    }
    if sha256_hex(lottery.seed.as_bytes()) != lottery.seed_sha256 {
        return Ok(Verdict::Differs(
            "the seed's SHA-256 is not the one published".into(),
        ));
    }
    let rows = drawn_entries(conn, id)?;
    let seats: BTreeMap<String, Free> = lottery
        .seats
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let expected = assign(&lottery.seed, &as_drawn(&rows), &seats);
    let mut won = 0;
    for a in &expected {
        let Some(e) = rows.iter().find(|r| r.id == a.id) else {
            continue;
        };
        let stored_won = e.status == EntryStatus::Won;
        won += usize::from(stored_won);
        if e.draw_rank != Some(a.rank) || e.won_slot != a.slot || stored_won != a.slot.is_some() {
            return Ok(Verdict::Differs(format!(
                "entry {} (place {}): the draw gives {}, stored {} {}",
                a.id,
                a.rank + 1,
                a.slot.as_deref().unwrap_or("no seat"),
                e.status,
                e.won_slot.as_deref().unwrap_or("no seat"),
            )));
        }
    }
    Ok(Verdict::Match {
        entries: rows.len(),
        won,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, channel: Channel, prefs: &[&str]) -> Drawn {
        Drawn {
            id: id.into(),
            channel,
            preferences: prefs.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn each_entry_in_turn_gets_its_first_preference_with_a_seat() {
        let seats = BTreeMap::from([
            ("a".to_string(), Free { free: 1, held: 0 }),
            ("b".to_string(), Free { free: 1, held: 0 }),
        ]);
        let entries = vec![
            entry("1", Channel::Web, &["a", "b"]),
            entry("2", Channel::Web, &["a", "b"]),
            entry("3", Channel::Web, &["a", "b"]),
        ];
        let out = assign("seed", &entries, &seats);
        let mut slots: Vec<_> = out.iter().filter_map(|a| a.slot.clone()).collect();
        slots.sort();
        assert_eq!(slots, ["a", "b"], "two seats, two winners");
        assert_eq!(
            out[0].slot.as_deref(),
            Some("a"),
            "the first drawn gets its first choice"
        );
        assert_eq!(out[1].slot.as_deref(), Some("b"), "the second its second");
        assert_eq!(out[2].slot, None);
        assert_eq!(
            out,
            assign("seed", &entries, &seats),
            "the same seed, the same draw"
        );
    }

    #[test]
    fn a_seat_held_for_phone_bookings_goes_to_a_phone_entry_only() {
        let seats = BTreeMap::from([("a".to_string(), Free { free: 1, held: 1 })]);
        let entries = vec![
            entry("w", Channel::Web, &["a"]),
            entry("p", Channel::Phone, &["a"]),
        ];
        let out = assign("x", &entries, &seats);
        let won: Vec<_> = out
            .iter()
            .filter(|a| a.slot.is_some())
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(won, ["p"]);
    }

    #[test]
    fn a_month_has_its_days() {
        assert_eq!(
            month_days("2027-02"),
            Some((
                NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
                NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()
            ))
        );
        assert_eq!(month_days("2027-13"), None);
    }
}
