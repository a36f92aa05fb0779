//! A fair start's HTTP side (see `reservations::fair_start`): a web booking that must wait is
//! written down and its client held (a future, not a thread) until the opening's draw has
//! served it; [`serve_draws`] serves due draws this instance can claim, [`deliver`] hands
//! each held client its outcome (whichever instance served it).

use std::time::Duration;

use actix_web::HttpResponse;
use tokio::sync::oneshot;

use super::booking::book;
use super::json::ReservationJson;
use super::problem::AppError;
use super::state::AppState;
use crate::reservations::fair_start::{self, Outcome, Waiting};
use crate::reservations::input::{BookingInput, RawBooking};
use crate::reservations::service::{self, Origin, VisitLinks};
use crate::tokens::new_token;

/// Requests served per transaction of a draw.
const BATCH: usize = 64;
/// How often due draws and served outcomes are looked for.
const TICK: Duration = Duration::from_millis(100);
/// How long past its draw's start a held client waits before it is told to ask again.
const PATIENCE_SECONDS: i64 = 30;

/// A web booking: served at once, or held for its opening's draw when a fair start is on. A
/// booking through a hold is served at once: no hold is taken while a draw is pending
/// (`reservations::holds`), so its seat was kept after the draw, never ahead of it.
pub(super) async fn book_web(
    state: &AppState,
    raw: RawBooking,
    input: BookingInput,
    verification_token: String,
    hold_id: Option<String>,
) -> Result<HttpResponse, AppError> {
    let seconds = state.settings.booking.fair_start_seconds;
    let now = state.clock.now();
    if hold_id.is_some() {
        return book_now(state, input, verification_token, hold_id).await;
    }
    if seconds > 0 && fair_start::near_opening(&state.booking_ctx(), &input, seconds, now) {
        // Near an opening only: elsewhere no request can be held, and the read is skipped.
        if let Some(answer) = asked_before(state, &verification_token).await? {
            return Ok(answer);
        }
        let held = match fair_start::standing(&state.booking_ctx(), &input, seconds, now) {
            fair_start::Standing::Wait { opening, until } => Some((opening, until)),
            fair_start::Standing::JustAfter { opening, until } => {
                let pending = state
                    .db
                    .run(move |conn| fair_start::draw_pending(conn, opening))
                    .await?;
                pending.then_some((opening, until))
            }
            fair_start::Standing::Serve => None,
        };
        if let Some((opening, until)) = held {
            // What can be refused without the database is refused now, not after the wait.
            service::plan_booking(
                &state.booking_ctx(),
                input.clone(),
                Origin::Web {
                    verification_token: verification_token.clone(),
                    hold_id: None,
                },
                now,
            )?;
            let waiting = Waiting {
                raw,
                verification_token: verification_token.clone(),
                manage_token: new_token(),
            };
            let s = state.clone();
            let id = state
                .db
                .write(move |tx| fair_start::enter(tx, &s.booking_ctx(), &waiting, opening, now))
                .await?;
            tracing::info!(fair_start.request = %id, %until, "booking held for the fair start");
            return wait(state, id, input, verification_token, until).await;
        }
    }
    book_now(state, input, verification_token, None).await
}

/// The usual web booking, answered as it comes.
async fn book_now(
    state: &AppState,
    input: BookingInput,
    verification_token: String,
    hold_id: Option<String>,
) -> Result<HttpResponse, AppError> {
    let origin = Origin::Web {
        verification_token,
        hold_id,
    };
    let booked = book(state, input, origin).await;
    state
        .metrics
        .booking("web", booked.as_ref().map(|_| ()).map_err(|e| e.code));
    let booked = booked?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(ReservationJson::of(
        state,
        &booked.row,
        Some(&booked.manage_token),
        &booked.links(),
    )))
}

/// A client asking again with the same link: held again for its request, or answered with
/// what its request got. None: no request of this link is kept.
async fn asked_before(
    state: &AppState,
    verification_token: &str,
) -> Result<Option<HttpResponse>, AppError> {
    let t = verification_token.to_string();
    let existing = state
        .db
        .run(move |conn| fair_start::find_for_link(conn, &t))
        .await?;
    match existing {
        None => Ok(None),
        Some(e) => match e.outcome {
            Some(Outcome::Booked {
                reservation_id,
                manage_token,
            }) => booked_answer(state, reservation_id, manage_token)
                .await
                .map(Some),
            // Refused: the usual answer, now (the seat it asked for went to others).
            Some(Outcome::Refused) => Ok(None),
            None => {
                let rx = state.fair_start.hold(&e.id);
                let outcome = receive(state, &e.id, rx, state.clock.now()).await?;
                match outcome {
                    Outcome::Booked {
                        reservation_id,
                        manage_token,
                    } => booked_answer(state, reservation_id, manage_token)
                        .await
                        .map(Some),
                    Outcome::Refused => Ok(None),
                }
            }
        },
    }
}

/// Holds the client until its request is served, then answers it.
async fn wait(
    state: &AppState,
    id: String,
    input: BookingInput,
    verification_token: String,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, AppError> {
    let rx = state.fair_start.hold(&id);
    match receive(state, &id, rx, until).await? {
        Outcome::Booked {
            reservation_id,
            manage_token,
        } => {
            state.metrics.booking("web", Ok(()));
            booked_answer(state, reservation_id, manage_token).await
        }
        Outcome::Refused => book_now(state, input, verification_token, None).await,
    }
}

/// The outcome, or `busy` (ask again) when the draw has not served it in time.
async fn receive(
    state: &AppState,
    id: &str,
    rx: oneshot::Receiver<Outcome>,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<Outcome, AppError> {
    let left = (until - state.clock.now()).num_milliseconds().max(0);
    let patience = u64::try_from(left).unwrap_or(0) + PATIENCE_SECONDS as u64 * 1000;
    match tokio::time::timeout(Duration::from_millis(patience), rx).await {
        Ok(Ok(outcome)) => Ok(outcome),
        _ => {
            state.fair_start.forget(id);
            Err(AppError::busy())
        }
    }
}

async fn booked_answer(
    state: &AppState,
    reservation_id: String,
    manage_token: String,
) -> Result<HttpResponse, AppError> {
    let row = state
        .db
        .run(move |conn| crate::reservations::find_by_id(conn, &reservation_id))
        .await?
        .ok_or_else(|| {
            AppError::unexpected(anyhow::anyhow!("a fair start's reservation is gone"))
        })?;
    Ok(HttpResponse::Created().json(ReservationJson::of(
        state,
        &row,
        Some(&manage_token),
        &VisitLinks::default(),
    )))
}

/// Serves, every tick, the draws that are due and this instance can claim; hands held
/// clients their outcomes; deletes served requests kept long enough. It runs whatever
/// `booking.fair_start_seconds` says (slowly when it is 0), so requests held before a restart
/// with the setting turned off are still served and their rows deleted.
pub(crate) async fn serve_draws(state: AppState) {
    let mut ticks: u64 = 0;
    let (tick, sweep_every): (Duration, u64) = if state.settings.booking.fair_start_seconds > 0 {
        (TICK, 600)
    } else {
        (TICK * 10, 60)
    };
    loop {
        tokio::time::sleep(tick).await;
        ticks += 1;
        if let Err(e) = serve_due(&state).await {
            tracing::warn!(error = %e, "a fair start's draw failed; it is tried again");
        }
        if let Err(e) = deliver(&state).await {
            tracing::warn!(error = %e, "could not read a fair start's outcomes");
        }
        if ticks.is_multiple_of(sweep_every) {
            let now = state.clock.now();
            if let Err(e) = state.db.write(move |tx| fair_start::sweep(tx, now)).await {
                tracing::warn!(error = %e, "could not delete served fair-start requests");
            }
        }
    }
}

async fn serve_due(state: &AppState) -> Result<(), AppError> {
    let seconds = state.settings.booking.fair_start_seconds;
    let now = state.clock.now();
    let due = state
        .db
        .run(move |conn| fair_start::openings_due(conn, seconds, now))
        .await?;
    for opening in due {
        serve_opening(state, opening).await?;
    }
    Ok(())
}

async fn serve_opening(
    state: &AppState,
    opening: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let seconds = state.settings.booking.fair_start_seconds;
    let instance = state.fair_start.instance.clone();
    let now = state.clock.now();
    let i = instance.clone();
    let Some(seed) = state
        .db
        .write(move |tx| fair_start::claim(tx, opening, &i, now))
        .await?
    else {
        return Ok(());
    };
    let (mut served, mut booked) = (0usize, 0usize);
    loop {
        let s = seed.clone();
        let ids = state
            .db
            .run(move |conn| fair_start::order(conn, opening, seconds, &s))
            .await?;
        if ids.is_empty() {
            break;
        }
        for batch in ids.chunks(BATCH) {
            let (st, i, batch) = (state.clone(), instance.clone(), batch.to_vec());
            let done = state
                .db
                .write(move |tx| {
                    let now = st.clock.now();
                    fair_start::serve_batch(tx, &st.booking_ctx(), opening, &i, &batch, now)
                })
                .await?;
            served += done.outcomes.len();
            for (id, outcome) in done.outcomes {
                if matches!(outcome, Outcome::Booked { .. }) {
                    booked += 1;
                }
                state.fair_start.answer(&id, outcome);
            }
            state.mail_notify.notify_one();
        }
    }
    if served > 0 {
        let now = state.clock.now();
        state
            .db
            .write(move |tx| fair_start::finish(tx, opening, &seed, served, booked, now))
            .await?;
        tracing::info!(%opening, served, booked, "fair start served");
    }
    Ok(())
}

/// Hands this instance's held clients the outcomes another instance wrote.
async fn deliver(state: &AppState) -> Result<(), AppError> {
    let held = state.fair_start.held();
    if held.is_empty() {
        return Ok(());
    }
    let outcomes = state
        .db
        .run(move |conn| fair_start::outcomes(conn, &held))
        .await?;
    for (id, outcome) in outcomes {
        state.fair_start.answer(&id, outcome);
    }
    Ok(())
}
