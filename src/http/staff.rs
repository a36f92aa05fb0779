//! Staff: sessions, phone bookings, search and cancel.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::auth::{AnyStaff, Authorized, PhoneStaff};
use super::reservations::reservation_json;
use super::{client_ip_key, instant, AppState};
use crate::error::AppError;
use crate::reservations::input::{refuse_individual_numbers, BookingInput, RawBooking};
use crate::reservations::numbers::normalise_reservation_number;
use crate::reservations::repo;
use crate::reservations::service::{self, Origin};
use crate::staff::service as staff_service;
use crate::staff::Role;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginBody {
    login: String,
    password: String,
}

pub async fn post_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, AppError> {
    let LoginBody { login, password } = body.into_inner();
    let ip_key = client_ip_key(&req, state.settings.limits.trust_forwarded_for);
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let session = state
        .db
        .run(move |conn| {
            staff_service::login(conn, &login, &password, &ip_key, &s.settings.staff, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "token": session.token,
        "expires_at": instant(session.expires_at, state.default_tz()),
        "role": session.role.as_str(),
        "display_name": session.display_name,
    })))
}

pub async fn delete_session(
    state: web::Data<AppState>,
    user: Authorized<AnyStaff>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let user = user.user;
    state
        .db
        .run(move |conn| staff_service::logout(conn, &user, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PhoneBookingBody {
    slot_id: String,
    procedure: String,
    applicant_type: String,
    name: String,
    name_kana: String,
    phone: String,
    email: Option<String>,
    representative_name: Option<String>,
    notes: Option<String>,
    override_window: bool,
    override_reason: Option<String>,
}

pub async fn post_staff_reservation(
    state: web::Data<AppState>,
    user: Authorized<PhoneStaff>,
    body: web::Json<PhoneBookingBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    if body.override_window && user.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let override_reason = match (
        body.override_window,
        body.override_reason.as_deref().map(str::trim),
    ) {
        (false, _) => None,
        (true, Some(r)) if !r.is_empty() => {
            refuse_individual_numbers(&[("override_reason", Some(r))])?;
            Some(r.chars().take(500).collect::<String>())
        }
        (true, _) => {
            return Err(AppError::invalid(
                "override_reason",
                "is required to override the booking window",
            ))
        }
    };
    let input = BookingInput::parse(RawBooking {
        slot_id: body.slot_id,
        procedure: body.procedure,
        applicant_type: body.applicant_type,
        name: body.name,
        name_kana: body.name_kana,
        phone: body.phone,
        email: body.email,
        representative_name: body.representative_name,
        notes: body.notes,
    })?;
    let origin = Origin::Phone {
        staff_login: user.login.clone(),
        override_reason,
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let booked = state
        .db
        .run(move |conn| service::book(conn, s.booking_ctx(), input, origin, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(reservation_json(&state, &booked.row, None)))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    date: Option<NaiveDate>,
    counter: Option<String>,
    q: Option<String>,
}

/// At most this many reservations per search; narrow it by date or text beyond.
const SEARCH_LIMIT: i64 = 200;

pub async fn get_staff_reservations(
    state: web::Data<AppState>,
    _user: Authorized<AnyStaff>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let SearchQuery { date, counter, q } = query.into_inner();
    if let Some(c) = &counter {
        state
            .calendar
            .counter(c)
            .ok_or(AppError::NotFound("counter_not_found"))?;
    }
    let q = q.filter(|q| !q.trim().is_empty());
    // Nothing to narrow by: today's reservations.
    let date = match (&date, &q) {
        (None, None) => Some(
            state
                .calendar
                .counters()
                .first()
                .map(|c| c.today(state.clock.now()))
                .unwrap_or_default(),
        ),
        _ => date,
    };
    let search = service::staff_search(date, counter, q.as_deref());
    let rows = state
        .db
        .run(move |conn| repo::search(conn, &search, SEARCH_LIMIT))
        .await?;
    let list: Vec<_> = rows
        .iter()
        .map(|r| staff_reservation_json(&state, r))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "reservations": list })))
}

/// A reservation as staff see it: no manage token; who entered it and why it was cancelled.
pub fn staff_reservation_json(
    state: &AppState,
    r: &crate::reservations::model::ReservationRow,
) -> serde_json::Value {
    let mut v = reservation_json(state, r, None);
    v["created_by"] = json!(r.created_by);
    v["cancel_reason"] = json!(r.cancel_reason);
    v
}

pub async fn get_staff_reservation(
    state: web::Data<AppState>,
    _user: Authorized<AnyStaff>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let number = path.into_inner();
    let row = state
        .db
        .run(move |conn| service::get_by_number(conn, &number))
        .await?;
    Ok(HttpResponse::Ok().json(staff_reservation_json(&state, &row)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelBody {
    reason: String,
}

pub async fn post_staff_cancel(
    state: web::Data<AppState>,
    user: Authorized<PhoneStaff>,
    path: web::Path<String>,
    body: web::Json<CancelBody>,
) -> Result<HttpResponse, AppError> {
    let number = normalise_reservation_number(&path.into_inner())
        .ok_or(AppError::NotFound("reservation_not_found"))?;
    let reason = body.into_inner().reason.trim().to_string();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "is required"));
    }
    refuse_individual_numbers(&[("reason", Some(&reason))])?;
    let reason: String = reason.chars().take(500).collect();
    let now = state.clock.now();
    let (s, login) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .run(move |conn| {
            service::cancel_by_number(conn, s.booking_ctx(), &number, &reason, &login, now)
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(staff_reservation_json(&state, &row)))
}

/// Who is signed in: the console shows the menus of this role.
pub async fn get_current_session(user: Authorized<AnyStaff>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(json!({
        "login": user.login,
        "display_name": user.display_name,
        "role": user.role.as_str(),
    })))
}
