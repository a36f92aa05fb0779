//! Public: email verification (メールを認証して進む).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{client_ip_key, instant, AppState};
use crate::calendar::SlotId;
use crate::error::{AppError, FieldError};
use crate::reservations::input::refuse_individual_numbers;
use crate::text::EmailAddress;
use crate::tokens::looks_like_token;
use crate::verification::{self, VerificationRequest};

#[derive(Debug, Deserialize)]
pub struct VerificationBody {
    #[serde(default)]
    email: String,
    counter: Option<String>,
    slot_id: Option<String>,
}

pub async fn post_verification(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<VerificationBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    refuse_individual_numbers(&[("email", Some(&body.email))])?;
    let email = EmailAddress::parse(&body.email).map_err(|msg| AppError::Invalid {
        code: "invalid_email",
        errors: vec![FieldError::new("email", msg)],
    })?;
    if let Some(c) = &body.counter {
        state
            .calendar
            .counter(c)
            .ok_or(AppError::NotFound("counter_not_found"))?;
    }
    if let Some(s) = &body.slot_id {
        let id: SlotId = s
            .parse()
            .map_err(|_| AppError::NotFound("slot_not_found"))?;
        state
            .calendar
            .slot(&id)
            .ok_or(AppError::NotFound("slot_not_found"))?;
    }
    let request = VerificationRequest {
        email,
        counter: body.counter,
        slot_id: body.slot_id,
        ip_key: client_ip_key(&req, state.settings.limits.trust_forwarded_for),
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let expires_at = state
        .db
        .run(move |conn| verification::request(conn, request, &s.settings, &s.message_domain, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Accepted()
        .json(json!({ "expires_at": instant(expires_at, state.default_tz()) })))
}

pub async fn get_verification(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    if !looks_like_token(&token) {
        return Err(AppError::NotFound("verification_not_found"));
    }
    let now = state.clock.now();
    let row = state
        .db
        .run(move |conn| verification::lookup(conn, &token, now))
        .await?;
    let tz = state.default_tz();
    Ok(HttpResponse::Ok().json(json!({
        "email": row.email,
        "expires_at": instant(row.expires_at.and_utc(), tz),
        "counter": row.counter_id,
        "slot_id": row.slot_id,
    })))
}
