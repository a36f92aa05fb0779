//! Public: reservations made with a verified address, managed by their manage token.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{path_token, JsonBody};
use super::json::ReservationJson;
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute};
use super::state::AppState;
use crate::calendar::{CalendarError, SlotId};
use crate::operations;
use crate::reservations::input::{BookingInput, RawBooking, RawMember};
use crate::reservations::service;
use crate::reservations::BookingError;
use crate::tokens::looks_like_token;
use crate::verification::VerificationError;
use actix_web::http::Method;

/// Every field optional at the JSON level, so all missing fields are named at once (422).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"verification_token": "q0Jd…", "slot_id": "city-hall.2027-01-04.0900",
    "procedure": "pin-reset", "applicant_type": "holder", "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ", "phone": "090-1234-5678"}))]
pub(crate) struct ReservationBody {
    /// The token from the verification mail; used up by the booking.
    verification_token: String,
    slot_id: String,
    procedure: String,
    /// `holder`, `legal_representative` or `voluntary_proxy`.
    applicant_type: String,
    /// The card holder's name (not the representative's).
    name: String,
    /// The holder's name in katakana (hiragana and half-width kana are converted).
    name_kana: String,
    phone: String,
    /// Who comes in the holder's place; required unless `applicant_type` is `holder`.
    representative_name: Option<String>,
    notes: Option<String>,
    /// Up to 2 more slots, tried in order in the same transaction when `slot_id` is full.
    fallback_slot_ids: Vec<String>,
    /// More people on the same slot, up to `booking.max_party_size` in all: all get their seat
    /// or none does; they share the phone and the address.
    party: Vec<RawMember>,
    /// A hold taken with the same link for `slot_id` (`POST /api/v1/holds`): the booking gets
    /// its seats even when the rest of the slot has filled (410 `hold_expired` once it ran out).
    hold_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct RescheduleBody {
    #[schema(example = "city-hall.2027-01-05.1000")]
    slot_id: String,
}

fn manage_token(path: web::Path<String>) -> Result<String, BookingError> {
    path_token(path, BookingError::ReservationNotFound)
}

/// Books a slot with a verified address; the completion mail goes out from the outbox.
#[utoipa::path(post, path = "/api/v1/reservations", tag = "booking",
    request_body = ReservationBody,
    responses((status = 201, description = "Booked", body = ReservationJson)))]
pub(crate) async fn post_reservation(
    state: web::Data<AppState>,
    body: JsonBody<ReservationBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.parse()?;
    let raw = RawBooking {
        slot_id: body.slot_id,
        procedure: body.procedure,
        applicant_type: body.applicant_type,
        name: body.name,
        name_kana: body.name_kana,
        phone: body.phone,
        email: None,
        representative_name: body.representative_name,
        notes: body.notes,
        fallback_slot_ids: body.fallback_slot_ids,
        party: body.party,
    };
    let input = BookingInput::parse(raw.clone())?;
    if !looks_like_token(body.verification_token.trim()) {
        return Err(VerificationError::NotFound.into());
    }
    let token = body.verification_token.trim().to_string();
    let hold_id = match body.hold_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) if looks_like_token(id) => Some(id.to_string()),
        Some(_) => return Err(BookingError::HoldNotFound.into()),
    };
    super::fair_start::book_web(&state, raw, input, token, hold_id).await
}

/// The reservation a manage token names.
#[utoipa::path(get, path = "/api/v1/reservations/{manage_token}", tag = "booking",
    params(("manage_token" = String, Path, description = "From the completion mail's link")),
    responses((status = 200, description = "The reservation", body = ReservationJson)))]
pub(crate) async fn get_reservation(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let t = token.clone();
    let (row, links) = state
        .db
        .run(move |conn| {
            let row = service::get_by_token(conn, &t)?;
            service::with_links(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ReservationJson::of(&state, &row, Some(&token), &links)))
}

/// Cancels; idempotent (a second call mails nothing). Frees the seat at once.
#[utoipa::path(delete, path = "/api/v1/reservations/{manage_token}", tag = "booking",
    params(("manage_token" = String, Path, description = "From the completion mail's link")),
    responses((status = 200, description = "Cancelled", body = ReservationJson)))]
pub(crate) async fn delete_reservation(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let now = state.clock.now();
    let (s, t) = (state.get_ref().clone(), token.clone());
    let (row, links) = state
        .db
        .write(move |conn| {
            let row = operations::cancel_by_token(conn, s.booking_ctx(), &t, now)?;
            service::with_links(conn, row)
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(ReservationJson::of(&state, &row, Some(&token), &links)))
}

/// Cancels one of a party's others with the first person's manage link: that seat is freed
/// at once; the rest of the party keeps theirs. Idempotent.
#[utoipa::path(delete, path = "/api/v1/reservations/{manage_token}/party/{reservation_number}", tag = "booking",
    params(("manage_token" = String, Path, description = "The party's first person's manage token"),
        ("reservation_number" = String, Path, description = "The member's number", example = "HJ3K-7WXA")),
    responses((status = 200, description = "The member's reservation, cancelled", body = ReservationJson)))]
pub(crate) async fn delete_party_member(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (token, number) = path.into_inner();
    if !looks_like_token(&token) || number.len() > 20 {
        return Err(BookingError::ReservationNotFound.into());
    }
    let number = number.trim().to_ascii_uppercase();
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let row = state
        .db
        .write(move |conn| {
            operations::cancel_party_member(conn, s.booking_ctx(), &token, &number, now)
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(ReservationJson::of(
        &state,
        &row,
        None,
        &service::VisitLinks::default(),
    )))
}

/// Moves the reservation to another slot (same number); the same rules as booking.
#[utoipa::path(post, path = "/api/v1/reservations/{manage_token}/reschedule", tag = "booking",
    params(("manage_token" = String, Path, description = "From the completion mail's link")),
    request_body = RescheduleBody,
    responses((status = 200, description = "Moved", body = ReservationJson)))]
pub(crate) async fn post_reschedule(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<RescheduleBody>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let body = body.parse()?;
    let slot: SlotId = body
        .slot_id
        .trim()
        .parse()
        .map_err(|_| CalendarError::SlotNotFound)?;
    let now = state.clock.now();
    let (s, t, id) = (state.get_ref().clone(), token.clone(), slot.clone());
    let moved = state
        .db
        .write(move |conn| {
            let row = operations::reschedule(conn, s.booking_ctx(), &t, &id, now)?;
            service::with_links(conn, row)
        })
        .await;
    let (row, links) = super::booking::with_alternatives(&state, moved, &slot, now).await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(ReservationJson::of(&state, &row, Some(&token), &links)))
}

/// The reservation number as a QR code (SVG), for the completion page: the desk scans it at
/// check-in. Only the number is encoded, never the manage token.
#[utoipa::path(get, path = "/api/v1/reservations/{manage_token}/qr.svg", tag = "booking",
    params(("manage_token" = String, Path, description = "From the completion mail's link")),
    responses((status = 200, description = "An SVG image", content_type = "image/svg+xml", body = String)))]
pub(crate) async fn get_reservation_qr(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let row = state
        .db
        .run(move |conn| service::get_by_token(conn, &token))
        .await?;
    let code = qrcode::QrCode::new(row.reservation_number.as_bytes())
        .map_err(|e| AppError::unexpected(anyhow::anyhow!("qr code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "no-store"))
        .body(svg))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let booking = || codes::<BookingError>(&[]);
    vec![
        api(
            M::POST,
            "/api/v1/reservations",
            Public,
            booking(),
            post_reservation,
        ),
        api(
            M::GET,
            "/api/v1/reservations/{manage_token}",
            Public,
            booking(),
            get_reservation,
        ),
        api(
            M::DELETE,
            "/api/v1/reservations/{manage_token}",
            Public,
            booking(),
            delete_reservation,
        ),
        api(
            M::DELETE,
            "/api/v1/reservations/{manage_token}/party/{reservation_number}",
            Public,
            booking(),
            delete_party_member,
        ),
        api(
            M::POST,
            "/api/v1/reservations/{manage_token}/reschedule",
            Public,
            booking(),
            post_reschedule,
        ),
        api(
            M::GET,
            "/api/v1/reservations/{manage_token}/qr.svg",
            Public,
            booking(),
            get_reservation_qr,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    post_reservation,
    get_reservation,
    delete_reservation,
    delete_party_member,
    post_reschedule,
    get_reservation_qr
))]
pub(super) struct Paths;
