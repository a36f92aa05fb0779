//! Booking, cancelling and rescheduling: the rules and the transaction.
//!
//! Each operation is one write transaction that re-checks everything against the clock (never
//! trusting what availability said a moment ago), takes or frees seats by conditional UPDATE,
//! and writes the outbox mail with the change.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::input::BookingInput;
use super::model::{Channel, ReservationRow, Status};
use super::numbers::new_reservation_number;
use super::repo;
use crate::calendar::availability::{self, SlotView};
use crate::calendar::booking_window::WindowError;
use crate::calendar::repo::{closure_exists, ensure_slot_row, release_seat, take_seat, SlotRow};
use crate::calendar::{local_rfc3339, Calendar, Counter, DayStatus, SlotDef, SlotId};
use crate::catalogue::{ApplicantType, Catalogue};
use crate::config::{ProcedureSettings, Settings};
use crate::db::{day_key, lock_keys, lock_keys_shared, write_tx, DbConnection};
use crate::error::AppError;
use crate::mail::{enqueue, MailKind, NewMail};
use crate::staff::audit;
use crate::tokens::{hash_token, new_token};
use crate::verification;

/// What the rules need besides the connection.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub calendar: &'a Calendar,
    pub catalogue: &'a Catalogue,
    pub settings: &'a Settings,
    pub message_domain: &'a str,
}

/// Who is booking.
pub enum Origin {
    /// A resident who verified an address; the token is consumed with the booking.
    Web { verification_token: String },
    /// Phone staff for a caller; an admin may override the window with a reason.
    Phone {
        staff_login: String,
        override_reason: Option<String>,
    },
}

pub struct Booked {
    pub row: ReservationRow,
    pub manage_token: String,
}

const MAX_ALTERNATIVES: usize = 5;
const ALTERNATIVE_SEARCH_DAYS: i64 = 14;

/// The counter and slot an id names. A well-formed id on a closed day: `day_closed`.
pub fn resolve_slot<'c>(
    calendar: &'c Calendar,
    id: &SlotId,
) -> Result<(&'c Counter, SlotDef), AppError> {
    let counter = calendar
        .counter(&id.counter)
        .ok_or(AppError::NotFound("slot_not_found"))?;
    if let DayStatus::Closed(reason) = calendar.day(counter, id.date) {
        return Err(AppError::Conflict {
            code: "day_closed",
            detail: Some(format!(
                "the counter is closed on {} ({})",
                id.date,
                reason.as_str()
            )),
            extra: Some(json!({ "closed_reason": reason.as_str() })),
        });
    }
    let (_, def) = calendar
        .slot(id)
        .ok_or(AppError::NotFound("slot_not_found"))?;
    Ok((counter, def))
}

fn check_window(
    calendar: &Calendar,
    counter: &Counter,
    def: &SlotDef,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    calendar
        .window
        .check(def.id.date, counter.tz, now)
        .map_err(|e| match e {
            WindowError::NotOpen { opens_at } => AppError::Conflict {
                code: "window_not_open",
                detail: Some(format!(
                    "booking for {} opens at {}",
                    def.id.date,
                    local_rfc3339(opens_at, counter.tz)
                )),
                extra: Some(json!({ "booking_opens_at": local_rfc3339(opens_at, counter.tz) })),
            },
            WindowError::Closed { closed_at } => AppError::Conflict {
                code: "window_closed",
                detail: Some(format!(
                    "booking for {} closed at {}",
                    def.id.date,
                    local_rfc3339(closed_at, counter.tz)
                )),
                extra: Some(json!({ "booking_closed_at": local_rfc3339(closed_at, counter.tz) })),
            },
        })
}

/// Refuses a day an administrator closed. Call after taking the day's lock (shared for
/// bookings, exclusive for closing), so a booking and a closure of the same day cannot cross.
fn check_not_closed(
    conn: &mut DbConnection,
    counter: &Counter,
    def: &SlotDef,
) -> Result<(), AppError> {
    if closure_exists(conn, &counter.id, def.id.date)? {
        return Err(AppError::Conflict {
            code: "day_closed",
            detail: Some(format!("the counter is closed on {}", def.id.date)),
            extra: Some(json!({ "closed_reason": "closure" })),
        });
    }
    Ok(())
}

/// Takes a seat in the slot, creating its row on first use. Full: `slot_full` (alternatives
/// are added by the caller, outside the transaction).
fn take_seat_in(
    conn: &mut DbConnection,
    counter: &Counter,
    def: &SlotDef,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let id = def.id.to_string();
    ensure_slot_row(conn, &SlotRow::new(def, counter.capacity_per_slot, now))?;
    if take_seat(conn, &id, now)? {
        Ok(())
    } else {
        Err(AppError::conflict("slot_full"))
    }
}

fn unique_number(conn: &mut DbConnection) -> Result<String, AppError> {
    for _ in 0..20 {
        let n = new_reservation_number();
        if !repo::number_taken(conn, &n)? {
            return Ok(n);
        }
    }
    Err(AppError::Unexpected(anyhow::anyhow!(
        "no free reservation number after 20 tries"
    )))
}

fn procedure<'a>(ctx: &Ctx<'a>, id: &str) -> Result<&'a ProcedureSettings, AppError> {
    ctx.catalogue
        .get(id)
        .ok_or(AppError::NotFound("procedure_not_found"))
}

/// Books a seat. Web: the verification token is consumed in the same transaction.
pub fn book(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    input: BookingInput,
    origin: Origin,
    now: DateTime<Utc>,
) -> Result<Booked, AppError> {
    let procedure = procedure(&ctx, &input.procedure)?;
    let (counter, def) = resolve_slot(ctx.calendar, &input.slot_id)?;
    let result = write_tx(conn, |conn| {
        let (channel, email, created_by, overridden) = match &origin {
            Origin::Web { verification_token } => {
                let v = verification::consume(conn, verification_token, now)?;
                (Channel::Web, Some(v.email), None, false)
            }
            Origin::Phone {
                staff_login,
                override_reason,
            } => (
                Channel::Phone,
                input.email.as_ref().map(|e| e.as_str().to_string()),
                Some(staff_login.clone()),
                override_reason.is_some(),
            ),
        };
        if !overridden {
            check_window(ctx.calendar, counter, &def, now)?;
        } else if def.starts_at <= now {
            // An override lifts the booking window, not time itself.
            return Err(AppError::Conflict {
                code: "window_closed",
                detail: Some("the slot has already started".into()),
                extra: None,
            });
        }
        lock_keys_shared(conn, &[&day_key(&counter.id, def.id.date)])?;
        check_not_closed(conn, counter, &def)?;
        let person_key = input.person_key();
        let email_lock = email
            .as_deref()
            .map(|e| format!("email:{e}"))
            .unwrap_or_default();
        lock_keys(conn, &[&format!("person:{person_key}"), &email_lock])?;
        if repo::count_active_for_person(conn, &person_key, &procedure.id, now)? > 0 {
            return Err(AppError::Conflict {
                code: "active_reservation_exists",
                detail: Some("this person already holds a reservation for this procedure".into()),
                extra: None,
            });
        }
        if let Some(e) = &email {
            let max = i64::from(ctx.settings.booking.max_active_per_email);
            if repo::count_active_for_email(conn, e, now)? >= max {
                return Err(AppError::Conflict {
                    code: "active_reservation_exists",
                    detail: Some(format!(
                        "this address already holds {max} active reservations"
                    )),
                    extra: None,
                });
            }
        }
        take_seat_in(conn, counter, &def, now)?;
        let manage_token = new_token();
        let row = ReservationRow {
            id: uuid::Uuid::new_v4().to_string(),
            reservation_number: unique_number(conn)?,
            manage_token_hash: hash_token(&manage_token),
            status: Status::Confirmed.as_str().into(),
            channel: channel.as_str().into(),
            counter_id: counter.id.clone(),
            slot_id: def.id.to_string(),
            visit_on: def.id.date,
            starts_at: def.starts_at.naive_utc(),
            ends_at: def.ends_at.naive_utc(),
            procedure_id: procedure.id.clone(),
            applicant_type: input.applicant_type.as_str().into(),
            name: input.name.clone(),
            name_kana: input.name_kana.clone(),
            phone: input.phone.clone(),
            email,
            representative_name: input.representative_name.clone(),
            notes: input.notes.clone(),
            person_key,
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
            cancelled_at: None,
            cancel_reason: None,
            created_by,
        };
        repo::insert_reservation(conn, &row)?;
        if let Some(recipient) = &row.email {
            let payload = mail_payload(&ctx, &row, Some(&manage_token), now);
            enqueue_for(
                conn,
                &ctx,
                MailKind::BookingConfirmed,
                recipient,
                payload,
                &row.id,
                now,
            )?;
        }
        if let Origin::Phone {
            staff_login,
            override_reason,
        } = &origin
        {
            let action = if override_reason.is_some() {
                "reservation.book_override"
            } else {
                "reservation.book"
            };
            let detail = json!({
                "slot_id": row.slot_id,
                "procedure": row.procedure_id,
                "channel": row.channel,
                "override_reason": override_reason,
                "mailed": row.email.is_some(),
            });
            audit::record(
                conn,
                Some(staff_login),
                action,
                &row.reservation_number,
                detail,
                now,
            )?;
        }
        tracing::info!(reservation.number = %row.reservation_number, slot.id = %row.slot_id, channel = channel.as_str(), "reservation booked");
        Ok(Booked { row, manage_token })
    });
    result.map_err(|e| with_alternatives(conn, &ctx, counter, &def, now, e))
}

/// The reservation a manage token names.
pub fn get_by_token(
    conn: &mut DbConnection,
    manage_token: &str,
) -> Result<ReservationRow, AppError> {
    repo::find_by_manage_hash(conn, &hash_token(manage_token))?
        .ok_or(AppError::NotFound("reservation_not_found"))
}

/// Cancels by the resident's manage token. Cancelling twice is harmless and mails once.
pub fn cancel_by_token(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    manage_token: &str,
    now: DateTime<Utc>,
) -> Result<ReservationRow, AppError> {
    write_tx(conn, |conn| {
        let row = get_by_token(conn, manage_token)?;
        cancel_row(conn, &ctx, row, None, Some(manage_token), now)
    })
}

/// Staff cancel by reservation number, with a reason; audited. Cancelling twice is harmless.
pub fn cancel_by_number(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    number: &str,
    reason: &str,
    staff_login: &str,
    now: DateTime<Utc>,
) -> Result<ReservationRow, AppError> {
    write_tx(conn, |conn| {
        let row = repo::find_by_number(conn, number)?
            .ok_or(AppError::NotFound("reservation_not_found"))?;
        let already = row.status == Status::Cancelled.as_str();
        let row = cancel_row(conn, &ctx, row, Some(reason), None, now)?;
        if !already {
            let detail =
                json!({ "reason": reason, "slot_id": row.slot_id, "mailed": row.email.is_some() });
            audit::record(
                conn,
                Some(staff_login),
                "reservation.cancel",
                number,
                detail,
                now,
            )?;
        }
        Ok(row)
    })
}

/// Cancels a reservation inside the caller's transaction: frees the seat at once and mails
/// the resident when there is an address. An already cancelled one is returned as it is.
pub fn cancel_row(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    row: ReservationRow,
    reason: Option<&str>,
    manage_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ReservationRow, AppError> {
    if row.status == Status::Cancelled.as_str() {
        return Ok(row);
    }
    if row.status != Status::Confirmed.as_str() || now.naive_utc() >= row.starts_at {
        return Err(AppError::Conflict {
            code: "too_late_to_cancel",
            detail: Some("the visit has started or taken place".into()),
            extra: None,
        });
    }
    if !repo::mark_cancelled(conn, &row.id, reason, now)? {
        return Err(AppError::Unexpected(anyhow::anyhow!(
            "reservation changed under the lock"
        )));
    }
    release_seat(conn, &row.slot_id, now)?;
    let cancelled = ReservationRow {
        status: Status::Cancelled.as_str().into(),
        cancelled_at: Some(now.naive_utc()),
        cancel_reason: reason.map(str::to_string),
        updated_at: now.naive_utc(),
        ..row
    };
    if let Some(recipient) = &cancelled.email {
        let mut payload = mail_payload(ctx, &cancelled, manage_token, now);
        payload["reason"] = json!(reason);
        enqueue_for(
            conn,
            ctx,
            MailKind::BookingCancelled,
            recipient,
            payload,
            &cancelled.id,
            now,
        )?;
    }
    tracing::info!(reservation.number = %cancelled.reservation_number, "reservation cancelled");
    Ok(cancelled)
}

/// Moves a reservation to another slot atomically: the new seat is taken and the old one
/// freed in one transaction, so it never holds two seats, and never loses the old one when
/// the new slot is full.
pub fn reschedule(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    manage_token: &str,
    new_slot: &SlotId,
    now: DateTime<Utc>,
) -> Result<ReservationRow, AppError> {
    let (counter, def) = resolve_slot(ctx.calendar, new_slot)?;
    let result = write_tx(conn, |conn| {
        let row = get_by_token(conn, manage_token)?;
        if row.status == Status::Cancelled.as_str() {
            return Err(AppError::conflict("reservation_cancelled"));
        }
        if row.status != Status::Confirmed.as_str() || now.naive_utc() >= row.starts_at {
            return Err(AppError::Conflict {
                code: "too_late_to_change",
                detail: Some("the visit has started or taken place".into()),
                extra: None,
            });
        }
        let new_id = def.id.to_string();
        if row.slot_id == new_id {
            return Ok(row);
        }
        check_window(ctx.calendar, counter, &def, now)?;
        // Both days: the one left (a closure may be cancelling it) and the one joined.
        let (old_day, new_day) = (
            day_key(&row.counter_id, row.visit_on),
            day_key(&counter.id, def.id.date),
        );
        lock_keys_shared(conn, &[&old_day, &new_day])?;
        check_not_closed(conn, counter, &def)?;
        // Seats in id order, so two reschedules crossing the same two slots cannot deadlock.
        if new_id < row.slot_id {
            take_seat_in(conn, counter, &def, now)?;
            release_seat(conn, &row.slot_id, now)?;
        } else {
            release_seat(conn, &row.slot_id, now)?;
            take_seat_in(conn, counter, &def, now)?;
        }
        let previous_label = visit_label(ctx.calendar, &row);
        let moved = ReservationRow {
            counter_id: counter.id.clone(),
            slot_id: new_id,
            visit_on: def.id.date,
            starts_at: def.starts_at.naive_utc(),
            ends_at: def.ends_at.naive_utc(),
            updated_at: now.naive_utc(),
            ..row
        };
        if !repo::move_to_slot(conn, &moved.id, &moved)? {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "reservation changed under the lock"
            )));
        }
        if let Some(recipient) = &moved.email {
            let mut payload = mail_payload(&ctx, &moved, Some(manage_token), now);
            payload["previous_label"] = json!(previous_label);
            enqueue_for(
                conn,
                &ctx,
                MailKind::BookingChanged,
                recipient,
                payload,
                &moved.id,
                now,
            )?;
        }
        tracing::info!(reservation.number = %moved.reservation_number, slot.id = %moved.slot_id, "reservation moved");
        Ok(moved)
    });
    result.map_err(|e| with_alternatives(conn, &ctx, counter, &def, now, e))
}

/// On `slot_full`, adds up to five bookable slots nearest in time to the one asked for.
fn with_alternatives(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &Counter,
    def: &SlotDef,
    now: DateTime<Utc>,
    e: AppError,
) -> AppError {
    let AppError::Conflict {
        code: "slot_full",
        detail,
        ..
    } = e
    else {
        return e;
    };
    let alternatives = match alternatives(conn, ctx.calendar, counter, def, now) {
        Ok(list) => list,
        Err(err) => {
            tracing::warn!(error = %err, "could not list alternatives");
            Vec::new()
        }
    };
    let list: Vec<Value> = alternatives
        .iter()
        .map(|s| {
            json!({
                "id": s.def.id.to_string(),
                "starts_at": local_rfc3339(s.def.starts_at, counter.tz),
                "ends_at": local_rfc3339(s.def.ends_at, counter.tz),
                "capacity": s.capacity,
                "remaining": s.remaining,
                "bookable": s.bookable,
            })
        })
        .collect();
    AppError::Conflict {
        code: "slot_full",
        detail,
        extra: Some(json!({ "alternatives": list })),
    }
}

/// Bookable slots of the same counter within two weeks either side, nearest first.
pub fn alternatives(
    conn: &mut DbConnection,
    calendar: &Calendar,
    counter: &Counter,
    def: &SlotDef,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<SlotView>> {
    let span = chrono::Duration::days(ALTERNATIVE_SEARCH_DAYS);
    let days = availability::load(
        conn,
        calendar,
        counter,
        def.id.date - span,
        def.id.date + span,
        now,
    )?;
    let mut slots: Vec<SlotView> = days
        .into_iter()
        .flat_map(|d| d.slots)
        .filter(|s| s.bookable && s.def.id != def.id)
        .collect();
    slots.sort_by_key(|s| {
        (
            (s.def.starts_at - def.starts_at).num_seconds().abs(),
            s.def.starts_at,
        )
    });
    slots.truncate(MAX_ALTERNATIVES);
    Ok(slots)
}

fn enqueue_for(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    kind: MailKind,
    recipient: &str,
    payload: Value,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<String> {
    enqueue(
        conn,
        NewMail {
            kind,
            recipient,
            payload,
            reservation_id: Some(reservation_id),
        },
        ctx.message_domain,
        now,
    )
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// `2027年1月4日(月) 09:00〜09:30`, in the counter's zone.
pub fn visit_label(calendar: &Calendar, row: &ReservationRow) -> String {
    let (date, time) = visit_labels(calendar, row);
    format!("{date} {time}")
}

fn visit_labels(calendar: &Calendar, row: &ReservationRow) -> (String, String) {
    use chrono::Datelike;
    let tz = calendar
        .counter(&row.counter_id)
        .map(|c| c.tz)
        .unwrap_or(chrono_tz::Asia::Tokyo);
    let starts = row.starts_at.and_utc().with_timezone(&tz);
    let ends = row.ends_at.and_utc().with_timezone(&tz);
    let weekday = WEEKDAYS_JA[starts.weekday().num_days_from_monday() as usize];
    (
        format!("{}({weekday})", starts.format("%Y年%-m月%-d日")),
        format!("{}〜{}", starts.format("%H:%M"), ends.format("%H:%M")),
    )
}

/// Everything a reservation mail shows, fixed when the mail is written.
fn mail_payload(
    ctx: &Ctx<'_>,
    row: &ReservationRow,
    manage_token: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let counter = ctx.calendar.counter(&row.counter_id);
    let procedure = ctx.catalogue.get(&row.procedure_id);
    let applicant = row
        .applicant_type
        .parse::<ApplicantType>()
        .unwrap_or(ApplicantType::Holder);
    let needs = procedure.map(|p| p.applicant(applicant));
    let (date_label, time_label) = visit_labels(ctx.calendar, row);
    let applicant_en = match applicant {
        ApplicantType::Holder => "Card holder",
        ApplicantType::LegalRepresentative => "Legal representative",
        ApplicantType::VoluntaryProxy => "Voluntary proxy",
    };
    json!({
        "city": ctx.settings.city_name,
        "name": row.name,
        "reservation_number": row.reservation_number,
        "reservation_id": row.id,
        "date_label": date_label,
        "time_label": time_label,
        "starts_at": row.starts_at.and_utc().to_rfc3339(),
        "ends_at": row.ends_at.and_utc().to_rfc3339(),
        "issued_at": now.to_rfc3339(),
        "counter_name": counter.map(|c| c.name.clone()).unwrap_or_default(),
        "counter_address": counter.map(|c| c.address.clone()).unwrap_or_default(),
        "procedure_name": procedure.map(|p| p.name.clone()).unwrap_or_default(),
        "procedure_name_en": procedure.map(|p| p.name_en.clone()).unwrap_or_default(),
        "procedure_notes": procedure.map(|p| p.notes.clone()).unwrap_or_default(),
        "applicant_label": format!("{} / {applicant_en}", applicant.name_ja()),
        "representative_name": row.representative_name,
        "requirements": needs.map(|n| n.requirements.clone()).unwrap_or_default(),
        "visits": needs.map(|n| n.visits).unwrap_or(1),
        "visit_note": needs.and_then(|n| n.visit_note.clone()).unwrap_or_default(),
        "visit_note_en": needs.and_then(|n| n.visit_note_en.clone()).unwrap_or_default(),
        "manage_url": manage_token.map(|t| format!("{}/booking/manage?token={t}", ctx.settings.public_url.trim_end_matches('/'))),
        "previous_label": Value::Null,
        "reason": Value::Null,
        "sender_footer": ctx.settings.mail_footer(),
    })
}

/// Turns staff's free text into what it can match: always the name; kana when it reads as
/// kana; phone digits when it is digits; a reservation number when it is one.
pub fn staff_search(
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

pub fn get_by_number(conn: &mut DbConnection, number: &str) -> Result<ReservationRow, AppError> {
    let number = super::numbers::normalise_reservation_number(number)
        .ok_or(AppError::NotFound("reservation_not_found"))?;
    repo::find_by_number(conn, &number)?.ok_or(AppError::NotFound("reservation_not_found"))
}
