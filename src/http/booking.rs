//! The booking path shared by the web, the phone and the fair start: the plan made with no
//! database, the transaction through [`crate::db::Db::write`], refusals counted on the link,
//! and a full slot's alternatives read afterwards.

use super::problem::AppError;
use super::state::AppState;
use crate::calendar::availability::DayClock;
use crate::calendar::{SlotId, Taker};
use crate::db::RunError;
use crate::reservations::input::BookingInput;
use crate::reservations::service::{self, Origin};
use crate::reservations::BookingError;
use chrono::{DateTime, Utc};

/// Books: the plan made here (no database), the transaction through [`crate::db::Db::write`]
/// (SQLite's group commit), and a full slot's alternatives read afterwards, outside it.
pub(crate) async fn book(
    state: &AppState,
    input: BookingInput,
    origin: Origin,
) -> Result<service::Booked, AppError> {
    let now = state.clock.now();
    let link = match &origin {
        Origin::Web { verification_token } => Some(verification_token.clone()),
        Origin::Phone { .. } => None,
    };
    let plan = service::plan_booking(&state.booking_ctx(), input, origin, now)?;
    let slot = plan.slot_id().clone();
    if let Some(tz) = full_in_memory(state, &plan, now) {
        let full = BookingError::SlotFull {
            alternatives: Vec::new(),
            tz,
            taker: Taker::Web,
        };
        return with_alternatives(state, Err(RunError::Failed(full)), &slot, now).await;
    }
    let s = state.clone();
    let result = state
        .db
        // The rules are judged by the clock when the transaction runs, not when the request
        // came: a booking queued behind others at 06:59:59.9 that runs at 07:00:00 is late.
        .write(move |conn| {
            let now = s.clock.now().max(now);
            service::book_planned(conn, &s.booking_ctx(), plan, now)
        })
        .await;
    if let (Some(link), Err(RunError::Failed(refusal))) = (link, &result) {
        count_refusal(state, link, refusal).await;
    }
    with_alternatives(state, result, &slot, now).await
}

/// A resident's booking of a full slot refused from memory, as availability shows it, with no
/// transaction (at the rush most attempts are for slots just taken, and each cost a
/// transaction and a wait for the slot row's lock to learn what memory knew): the first choice
/// open for booking and full for the web in the day this process keeps current, every
/// fallback full or not open, no lottery holding their months. Anything else goes to the
/// database, which judges it all again; so does a day not kept in memory. A seat freed by
/// another instance less than the watcher's interval ago is not seen: that booking came
/// first. The link is not used up, as with any refusal.
/// Full: the first choice's time zone (for the refusal's words).
fn full_in_memory(
    state: &AppState,
    plan: &service::BookingPlan,
    now: DateTime<Utc>,
) -> Option<chrono_tz::Tz> {
    if !plan.is_web() {
        return None;
    }
    let mut candidates = plan.candidates();
    let first = candidates.next()?;
    let full = seen_in_memory(state, first, now) == Some(Seen::Full)
        && candidates
            .all(|id| seen_in_memory(state, id, now).is_some_and(|seen| seen != Seen::Free));
    let (counter, _) = state.calendar.resolve(first).ok()?;
    full.then_some(counter.tz)
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Free,
    Full,
    /// Not open for booking now (its window, its day).
    NotOpen,
}

/// What the kept day shows of a slot for the web; `None` when memory cannot say (the day is
/// not kept, a lottery holds the month, the slot is not in the day's plan).
fn seen_in_memory(state: &AppState, id: &SlotId, now: DateTime<Utc>) -> Option<Seen> {
    let (counter, def) = state.calendar.resolve(id).ok()?;
    if state.lotteries.at(&counter.id, id.date).is_some() {
        return None;
    }
    let days = state.calendar.cache.days_in_memory(
        state.calendar.as_ref(),
        counter,
        id.date,
        id.date,
        counter.today(now),
    )?;
    let day = days.first()?;
    let clock = DayClock::at(day, now);
    if !clock.bookable_now {
        return Some(Seen::NotOpen);
    }
    let (_, seats) = day.slots(counter).find(|(slot, _)| slot.id == def.id)?;
    Some(if seats.free_for(Taker::Web, clock.released) > 0 {
        Seen::Free
    } else {
        Seen::Full
    })
}

/// A web booking refused because the person or the address already holds reservations says
/// so about someone: such refusals are counted on the link, which they use up after
/// `limits.refusals_per_link` (see `verification::note_refusal`).
pub(crate) async fn count_refusal(state: &AppState, link: String, refusal: &BookingError) {
    if !matches!(
        refusal,
        BookingError::PersonHasReservation | BookingError::AddressLimit { .. }
    ) {
        return;
    }
    let counted = state
        .db
        .write(move |tx| crate::verification::note_refusal(tx, &link))
        .await;
    if let Err(e) = counted {
        tracing::warn!(error = %e, "could not count a refused booking on its link");
    }
}

/// A booking's outcome as the client sees it: a full slot's refusal gets its
/// alternatives, read after (outside) the transaction that refused it.
pub(crate) async fn with_alternatives<T>(
    state: &AppState,
    result: Result<T, RunError<BookingError>>,
    slot: &SlotId,
    now: DateTime<Utc>,
) -> Result<T, AppError> {
    match result {
        Err(RunError::Failed(BookingError::SlotFull { tz, taker, .. })) => {
            let alternatives = state.alternatives(slot, taker, now).await;
            Err(BookingError::SlotFull {
                alternatives,
                tz,
                taker,
            }
            .into())
        }
        other => other.map_err(AppError::from),
    }
}
