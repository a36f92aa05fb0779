//! Taking a hold (仮押さえ, see [`super::holds`]). A hold goes through the rules a booking
//! does: the link must be good (not used, not expired; a hold keeps it good until the hold
//! ends), the window and the day open, no lottery, no fair start drawing the day's opening,
//! and the web's seats only (never those held for phone bookings before their release). One
//! live hold per verified address (the unique index `holds_live_email`; a new hold replaces
//! the address's last, whichever link took it), and at most `booking.holds_per_client` from
//! one client address, so holds cannot hoard a day.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::fair_start::{self, Standing};
use super::holds::{end_live_of_address, HoldRow, HoldStatus};
use super::service::{check_when, holds_phone_seats, slot_full};
use super::{BookingError, Ctx};
use crate::calendar::repo::{ensure_slot_row, find_slot_row, hold_seats, SlotRow};
use crate::calendar::{Counter, SlotDef, SlotId, Taker};
use crate::db::schema::holds;
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::text::email_key;
use crate::tokens::{hash_token, new_token};
use crate::verification::{self, VerificationRow};

/// A resident's request for a hold.
pub(crate) struct HoldRequest {
    pub verification_token: String,
    pub slot_id: SlotId,
    /// As many as the party (1 to `booking.max_party_size`, checked by the caller).
    pub seats: u32,
    /// The client address's key (the rate limits' key).
    pub ip_key: String,
}

/// A hold just taken: its row and its public id (shown once).
pub(crate) struct Taken {
    pub row: HoldRow,
    pub hold_id: String,
}

/// Takes a hold, in the caller's write transaction (see the module's rules).
pub(crate) fn take(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    req: &HoldRequest,
    now: DateTime<Utc>,
) -> Result<Taken, BookingError> {
    let (counter, def) = ctx.calendar.resolve(&req.slot_id)?;
    let max_refusals = i32::try_from(ctx.settings.limits.refusals_per_link).unwrap_or(i32::MAX);
    let link = verification::lookup(conn, &req.verification_token, max_refusals, now)?;
    check_when(conn, ctx, counter, &def, false, now)?;
    refuse_while_drawing(conn, ctx, &req.slot_id, now)?;
    let key = link
        .email_key
        .clone()
        .unwrap_or_else(|| email_key(&link.email));
    lock(
        conn,
        &[
            (
                Mode::Shared,
                Lock::Day {
                    counter: &counter.id,
                    day: def.id.date,
                },
            ),
            (Mode::Exclusive, Lock::Email(&key)),
            // The client address's holds one at a time, so its limit is never overrun.
            (Mode::Exclusive, Lock::VerifyAddress(&req.ip_key)),
        ],
    )?;
    ctx.calendar.open_day(conn, counter, def.id.date)?;
    check_client_limit(conn, ctx, &req.ip_key, &key, now)?;
    if let Some(old) = end_live_of_address(conn, &key, now)? {
        tracing::info!(slot.id = %old.slot_id, "a hold replaced by its address's next");
    }
    let seats = i32::try_from(req.seats).unwrap_or(i32::MAX);
    hold_web_seats(conn, ctx, (counter, &def), seats, now)?;
    let expires_at = hold_expiry(ctx, (counter, &def), &link, now);
    let hold_id = new_token();
    let row = HoldRow {
        id: hash_token(&hold_id),
        verification_hash: link.token_hash.clone(),
        email_key: key,
        ip_key: req.ip_key.clone(),
        counter_id: counter.id.clone(),
        slot_id: def.id.to_string(),
        visit_on: def.id.date,
        seats,
        status: HoldStatus::Live,
        created_at: now.naive_utc(),
        expires_at: expires_at.naive_utc(),
        ended_at: None,
        reservation_id: None,
    };
    let db: &mut DbConnection = conn;
    diesel::insert_into(holds::table).values(&row).execute(db)?;
    // The link stays good as long as its hold: a resident slow over the form still books.
    verification::keep_until(db, &req.verification_token, row.expires_at)?;
    Ok(Taken { row, hold_id })
}

/// `seats` of the slot held for the web (never those held back for phone bookings before
/// their release), creating its row on first use; `SlotFull` when fewer are free.
fn hold_web_seats(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    (counter, def): (&Counter, &SlotDef),
    seats: i32,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let new_row = SlotRow::new(def, counter, now);
    ensure_slot_row(conn, &new_row)?;
    let stored = find_slot_row(conn, &new_row.id)?.unwrap_or(new_row);
    let reserved = if holds_phone_seats(ctx.calendar, counter, def, Taker::Web, now) {
        stored.phone_held
    } else {
        0
    };
    if !hold_seats(conn, &stored.id, seats, reserved, now)? {
        return Err(slot_full(counter, Taker::Web));
    }
    Ok(())
}

/// When a hold taken now ends: `booking.hold_minutes` on, or sooner when the window closes,
/// the slot starts, or the link's life ends. A link lives `verification.ttl_minutes` and, kept
/// good by its holds, at most one hold's minutes more: holds taken one after another on one
/// link cannot keep seats for ever.
fn hold_expiry(
    ctx: &Ctx<'_>,
    (counter, def): (&Counter, &SlotDef),
    link: &VerificationRow,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let minutes = Duration::minutes(i64::from(ctx.settings.booking.hold_minutes));
    let ttl = Duration::minutes(i64::from(ctx.settings.verification.ttl_minutes));
    (now + minutes)
        .min(ctx.calendar.window.closes_at(def.id.date, counter.tz))
        .min(def.starts_at)
        .min(link.created_at.and_utc() + ttl + minutes)
}

/// While an opening's fair start draws (its N seconds, and after them while requests wait),
/// a hold would take a seat ahead of the draw: refused, and the booking joins the draw.
fn refuse_while_drawing(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    slot: &SlotId,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let seconds = ctx.settings.booking.fair_start_seconds;
    let (counter, _) = ctx.calendar.resolve(slot)?;
    let (opening, until) = match fair_start::standing_of(ctx, std::iter::once(slot), seconds, now) {
        Standing::Serve => return Ok(()),
        Standing::Wait { opening, until } => (opening, until),
        Standing::JustAfter { opening, until } => {
            if !fair_start::draw_pending(conn, opening)? {
                return Ok(());
            }
            (opening, until)
        }
    };
    tracing::debug!(%opening, "a hold refused while the fair start draws");
    Err(BookingError::FairStartDrawing {
        until,
        tz: counter.tz,
    })
}

/// At most `booking.holds_per_client` live holds from one client address (the address's own
/// hold, which this one replaces, not counted). Refused until the earliest of them runs out.
fn check_client_limit(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    ip_key: &str,
    email_key: &str,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let live: Vec<NaiveDateTime> = holds::table
        .filter(holds::status.eq(HoldStatus::Live))
        .filter(holds::ip_key.eq(ip_key))
        .filter(holds::email_key.ne(email_key))
        .filter(holds::expires_at.gt(now.naive_utc()))
        .select(holds::expires_at)
        .order(holds::expires_at.asc())
        .load(conn)?;
    let max = usize::try_from(ctx.settings.booking.holds_per_client).unwrap_or(usize::MAX);
    if live.len() < max {
        return Ok(());
    }
    let free_at = live.first().map_or(now, |t| t.and_utc());
    let retry_after_s = u64::try_from((free_at - now).num_seconds().max(1)).unwrap_or(1);
    Err(BookingError::HoldLimit { retry_after_s })
}
