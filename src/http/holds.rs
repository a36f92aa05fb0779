//! Public: holds (仮押さえ), the chosen slot kept while a verified resident fills in the form
//! (`reservations::holding` has the rules, `reservations::holds` the rows).

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{path_token, JsonBody};
use super::json::stored;
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute};
use super::state::AppState;
use crate::calendar::{CalendarError, SlotId};
use crate::error::{FieldProblem, Invalid};
use crate::reservations::holding::{self, HoldRequest};
use crate::reservations::BookingError;
use crate::tokens::looks_like_token;
use crate::verification::VerificationError;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"verification_token": "q0Jd…", "slot_id": "city-hall.2027-01-04.0900", "seats": 1}))]
pub(crate) struct HoldBody {
    /// The token from the verification mail (not used up: the booking uses it).
    verification_token: String,
    slot_id: String,
    /// Seats to keep: the party's size, 1 (default) to `booking.max_party_size`.
    seats: Option<i64>,
}

/// A hold: its seats count as taken until `expires_at` or a booking with `hold_id`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HoldJson {
    /// Keep it for the booking (`POST /api/v1/reservations` `hold_id`) or to let the hold go.
    hold_id: String,
    slot_id: String,
    seats: i32,
    /// When the seats are freed unless booked (`booking.hold_minutes` after it was taken, or
    /// sooner when the window closes or the slot starts first).
    expires_at: String,
}

fn seats_of(body: &HoldBody, max: u32) -> Result<u32, Invalid> {
    let max = i64::from(max);
    match body.seats {
        None => Ok(1),
        Some(n) if (1..=max).contains(&n) => Ok(u32::try_from(n).unwrap_or(1)),
        Some(_) => Err(Invalid::field(
            "seats",
            FieldProblem::OutOfRange { min: 1, max },
        )),
    }
}

/// Keeps the slot for a verified resident while they fill in the form.
#[utoipa::path(post, path = "/api/v1/holds", tag = "booking",
    request_body = HoldBody,
    responses((status = 201, description = "Held", body = HoldJson)))]
pub(crate) async fn post_hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<HoldBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.parse()?;
    let seats = seats_of(&body, state.settings.booking.max_party_size)?;
    if body.slot_id.trim().is_empty() {
        return Err(Invalid::field("slot_id", FieldProblem::Required).into());
    }
    let slot: SlotId = body
        .slot_id
        .trim()
        .parse()
        .map_err(|_| CalendarError::SlotNotFound)?;
    let token = body.verification_token.trim();
    if !looks_like_token(token) {
        return Err(VerificationError::NotFound.into());
    }
    let request = HoldRequest {
        verification_token: token.to_string(),
        slot_id: slot.clone(),
        seats,
        ip_key: state.clients.key(&req),
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let taken = state
        .db
        .write(move |tx| holding::take(tx, &s.booking_ctx(), &request, now))
        .await;
    let taken = super::booking::fitting_alternatives(&state, taken, &slot, seats, now).await?;
    let tz = state.tz_of(&taken.row.counter_id);
    Ok(HttpResponse::Created().json(HoldJson {
        hold_id: taken.hold_id,
        slot_id: taken.row.slot_id,
        seats: taken.row.seats,
        expires_at: stored(taken.row.expires_at, tz),
    }))
}

/// Lets a hold go: its seats are free at once (offered to the waiting list first).
/// Idempotent: a hold that has ended, or an id that names none, answers 204 too.
#[utoipa::path(delete, path = "/api/v1/holds/{hold_id}", tag = "booking",
    params(("hold_id" = String, Path, description = "From taking the hold")),
    responses((status = 204, description = "Let go")))]
pub(crate) async fn delete_hold(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let hold_id = path_token(path, BookingError::HoldNotFound)?;
    let now = state.clock.now();
    let s = state.get_ref().clone();
    state
        .db
        .write(move |tx| crate::operations::release_hold(tx, &s.booking_ctx(), &hold_id, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::NoContent().finish())
}

pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    vec![
        api(
            M::POST,
            "/api/v1/holds",
            Public,
            codes::<BookingError>(&[]),
            post_hold,
        ),
        api(
            M::DELETE,
            "/api/v1/holds/{hold_id}",
            Public,
            codes::<BookingError>(&[]),
            delete_hold,
        ),
    ]
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(post_hold, delete_hold))]
pub(super) struct Paths;
