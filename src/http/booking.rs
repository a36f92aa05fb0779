//! The booking path shared by the web, the phone and the fair start: the plan made with no
//! database, the transaction through [`crate::db::Db::write`], refusals counted on the link,
//! and a full slot's alternatives read afterwards.

use super::problem::AppError;
use super::state::AppState;
use crate::db::RunError;
use crate::reservations::input::BookingInput;
use crate::reservations::service::{self, Origin};
use crate::reservations::BookingError;

/// Books: the plan made here (no database), the transaction through [`crate::db::Db::write`]
/// (SQLite's group commit), and a full slot's alternatives read afterwards, outside it.
pub(crate) async fn book(
    state: &AppState,
    input: BookingInput,
    origin: Origin,
) -> Result<service::Booked, AppError> {
    let now = state.clock.now();
    let link = match &origin {
        Origin::Web {
            verification_token, ..
        } => Some(verification_token.clone()),
        Origin::Phone { .. } => None,
    };
    let seats = u32::try_from(input.people()).unwrap_or(1);
    let plan = service::plan_booking(&state.booking_ctx(), input, origin, now)?;
    let slot = plan.slot_id().clone();
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
    fitting_alternatives(state, result, &slot, seats, now).await
}

/// A web booking refused because the person or the address already holds reservations says
/// so about someone: such refusals are counted on the link, which they use up after
/// `limits.refusals_per_link` (see `verification::note_refusal`).
pub(crate) async fn count_refusal(state: &AppState, link: String, refusal: &BookingError) {
    if !matches!(
        refusal,
        BookingError::PersonHasReservation
            | BookingError::MemberHasReservation { .. }
            | BookingError::AddressLimit { .. }
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
    slot: &crate::calendar::SlotId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<T, AppError> {
    fitting_alternatives(state, result, slot, 1, now).await
}

/// [`with_alternatives`] for `seats` people (a party, a hold of several seats): only the
/// alternatives with that many seats free.
pub(crate) async fn fitting_alternatives<T>(
    state: &AppState,
    result: Result<T, RunError<BookingError>>,
    slot: &crate::calendar::SlotId,
    seats: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<T, AppError> {
    match result {
        Err(RunError::Failed(BookingError::SlotFull { tz, taker, .. })) => {
            let alternatives = state.alternatives(slot, taker, seats, now).await;
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
