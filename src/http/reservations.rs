//! Public: reservations made with a verified address, managed by their manage token.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{instant, AppState};
use crate::calendar::SlotId;
use crate::catalogue::ApplicantType;
use crate::error::AppError;
use crate::reservations::input::{BookingInput, RawBooking};
use crate::reservations::model::ReservationRow;
use crate::reservations::service::{self, Origin};
use crate::tokens::looks_like_token;

/// Every field optional at the JSON level, so a missing one is a 422 naming it, not a 400.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReservationBody {
    verification_token: String,
    slot_id: String,
    procedure: String,
    applicant_type: String,
    name: String,
    name_kana: String,
    phone: String,
    representative_name: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RescheduleBody {
    slot_id: String,
}

/// A reservation as the API shows it; `manage_token` only to whoever holds it.
pub fn reservation_json(
    state: &AppState,
    row: &ReservationRow,
    manage_token: Option<&str>,
) -> Value {
    let tz = state
        .calendar
        .counter(&row.counter_id)
        .map(|c| c.tz)
        .unwrap_or_else(|| state.default_tz());
    let applicant = row
        .applicant_type
        .parse::<ApplicantType>()
        .unwrap_or(ApplicantType::Holder);
    let needs = state
        .catalogue
        .get(&row.procedure_id)
        .map(|p| p.applicant(applicant));
    json!({
        "reservation_number": row.reservation_number,
        "manage_token": manage_token,
        "status": row.status,
        "channel": row.channel,
        "counter": row.counter_id,
        "procedure": row.procedure_id,
        "applicant_type": row.applicant_type,
        "name": row.name,
        "name_kana": row.name_kana,
        "phone": row.phone,
        "email": row.email,
        "representative_name": row.representative_name,
        "notes": row.notes,
        "slot": {
            "id": row.slot_id,
            "starts_at": instant(row.starts_at.and_utc(), tz),
            "ends_at": instant(row.ends_at.and_utc(), tz),
        },
        "requirements": needs.map(|n| n.requirements.clone()).unwrap_or_default(),
        "visits": needs.map(|n| n.visits).unwrap_or(1),
        "visit_note": needs.and_then(|n| n.visit_note.clone()),
        "created_at": instant(row.created_at.and_utc(), tz),
        "updated_at": instant(row.updated_at.and_utc(), tz),
        "cancelled_at": row.cancelled_at.map(|t| instant(t.and_utc(), tz)),
    })
}

fn manage_token(path: web::Path<String>) -> Result<String, AppError> {
    let token = path.into_inner();
    if looks_like_token(&token) {
        Ok(token)
    } else {
        Err(AppError::NotFound("reservation_not_found"))
    }
}

pub async fn post_reservation(
    state: web::Data<AppState>,
    body: web::Json<ReservationBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = BookingInput::parse(RawBooking {
        slot_id: body.slot_id,
        procedure: body.procedure,
        applicant_type: body.applicant_type,
        name: body.name,
        name_kana: body.name_kana,
        phone: body.phone,
        email: None,
        representative_name: body.representative_name,
        notes: body.notes,
    })?;
    if !looks_like_token(body.verification_token.trim()) {
        return Err(AppError::NotFound("verification_not_found"));
    }
    let origin = Origin::Web {
        verification_token: body.verification_token.trim().to_string(),
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let booked = state
        .db
        .run(move |conn| service::book(conn, s.booking_ctx(), input, origin, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(reservation_json(
        &state,
        &booked.row,
        Some(&booked.manage_token),
    )))
}

pub async fn get_reservation(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let t = token.clone();
    let row = state
        .db
        .run(move |conn| service::get_by_token(conn, &t))
        .await?;
    Ok(HttpResponse::Ok().json(reservation_json(&state, &row, Some(&token))))
}

pub async fn delete_reservation(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let now = state.clock.now();
    let (s, t) = (state.get_ref().clone(), token.clone());
    let row = state
        .db
        .run(move |conn| service::cancel_by_token(conn, s.booking_ctx(), &t, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(reservation_json(&state, &row, Some(&token))))
}

pub async fn post_reschedule(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<RescheduleBody>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let slot: SlotId = body
        .slot_id
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound("slot_not_found"))?;
    let now = state.clock.now();
    let (s, t) = (state.get_ref().clone(), token.clone());
    let row = state
        .db
        .run(move |conn| service::reschedule(conn, s.booking_ctx(), &t, &slot, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(reservation_json(&state, &row, Some(&token))))
}

/// The reservation number as a QR code (SVG), for the completion page: the desk scans it at
/// check-in. Only the number is encoded, never the manage token.
pub async fn get_reservation_qr(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = manage_token(path)?;
    let row = state
        .db
        .run(move |conn| service::get_by_token(conn, &token))
        .await?;
    let code = qrcode::QrCode::new(row.reservation_number.as_bytes())
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("qr code: {e}")))?;
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
