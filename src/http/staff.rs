//! Staff: sessions, phone bookings, search and cancel.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AnyStaff, Authorized, OwnSession, PhoneStaff};
use super::body::JsonBody;
use super::calendar::check_date_range;
use super::json::instant;
use super::json::{StaffReservationJson, StaffReservationsJson};
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute, ANY_STAFF, OWN_SESSION, PHONE};
use super::state::AppState;
use crate::db::RunError;
use crate::error::{ErrorCode, FieldProblem, Invalid};
use crate::operations;
use crate::reservations::input::{BookingInput, RawBooking, RawMember};
use crate::reservations::numbers::normalise_reservation_number;
use crate::reservations::service::{self, Origin};
use crate::reservations::{self, BookingError};
use crate::staff::second_factor;
use crate::staff::service::{self as staff_service, StaffError};
use crate::staff::sign_in::{self, Attempt, Failure, LoginCheck};
use crate::staff::Role;
use crate::text::parse_reason;
use actix_web::http::Method;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"login": "tanaka", "password": "a-long-passphrase", "totp": "492039"}))]
pub(crate) struct LoginBody {
    login: String,
    password: String,
    /// The code the authenticator app shows (or a recovery code), for an account with a
    /// second factor; without it such an account is answered 401 `second_factor_required`.
    totp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionJson {
    /// Send as `Authorization: Bearer TOKEN`.
    pub token: String,
    pub expires_at: String,
    pub role: Role,
    pub display_name: String,
    /// The role must sign in with a second factor and the account has none yet: this session
    /// may only set one up (`POST /api/v1/staff/me/totp`).
    pub must_enrol_totp: bool,
}

/// Signs in. Failed logins are throttled (429 with `Retry-After`) and audited; an account with
/// a second factor also sends `totp`.
#[utoipa::path(post, path = "/api/v1/staff/sessions", tag = "staff",
    request_body = LoginBody,
    responses((status = 201, description = "Signed in", body = SessionJson)))]
pub(crate) async fn post_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginBody>,
) -> Result<HttpResponse, AppError> {
    let LoginBody {
        login,
        password,
        totp,
    } = body.parse()?;
    let attempt = Attempt {
        login,
        password,
        code: totp,
        ip: state.clients.addr(&req),
        ip_key: state.clients.key(&req),
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let (check, attempt) = state
        .db
        .run(move |conn| {
            let check =
                sign_in::check_login(conn, &attempt, &s.staff_networks, &s.settings.staff, now)?;
            Ok::<_, StaffError>((check, attempt))
        })
        .await?;
    let (login, why) = match check {
        LoginCheck::Verified { account, proof } => {
            let (s, ip_key) = (state.get_ref().clone(), attempt.ip_key.clone());
            let login = account.login.clone();
            let started = state
                .db
                .write(move |conn| {
                    sign_in::start_session(
                        conn,
                        &account,
                        proof.as_ref(),
                        &ip_key,
                        &s.settings.staff,
                        now,
                    )
                })
                .await;
            match started {
                Ok(session) => {
                    return Ok(HttpResponse::Created().json(SessionJson {
                        token: session.token,
                        expires_at: instant(session.expires_at, state.default_tz()),
                        role: session.role,
                        display_name: session.display_name,
                        must_enrol_totp: session.enrol_only,
                    }))
                }
                // The code was spent by another sign-in meanwhile: a failure like a wrong one.
                Err(RunError::Failed(StaffError::SecondFactorRequired)) => {
                    (login, Failure::SecondFactor)
                }
                Err(e) => return Err(e.into()),
            }
        }
        LoginCheck::Failed { login, why } => (login, why),
    };
    let s = state.get_ref().clone();
    state
        .db
        .write(move |conn| {
            sign_in::record_failed_login(conn, &login, why, &attempt.ip_key, &s.settings.staff, now)
        })
        .await?;
    Err(why.answer().into())
}

/// Signs out: the token stops working at once.
#[utoipa::path(delete, path = "/api/v1/staff/sessions/current", tag = "staff",
    responses((status = 204, description = "Signed out")))]
pub(crate) async fn delete_session(
    state: web::Data<AppState>,
    user: Authorized<OwnSession>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let user = user.user;
    state
        .db
        .write(move |conn| sign_in::logout(conn, &user, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeJson {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// A kiosk's counter: the only one it works at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// The account signs in with an authenticator app.
    pub totp_enrolled: bool,
    /// The role must (`staff.require_totp_for`).
    pub totp_required: bool,
    /// This session may only set up the second factor.
    pub must_enrol_totp: bool,
    /// Recovery codes not yet used (0 without a second factor).
    pub recovery_codes_left: i64,
}

/// Who is signed in: the console shows the menus of this role, and what the second factor
/// needs.
#[utoipa::path(get, path = "/api/v1/staff/sessions/current", tag = "staff",
    responses((status = 200, description = "The signed-in account", body = MeJson)))]
pub(crate) async fn get_current_session(
    state: web::Data<AppState>,
    user: Authorized<OwnSession>,
) -> Result<HttpResponse, AppError> {
    let login = user.login.clone();
    let (account, left) = state
        .db
        .run(move |conn| {
            let account = staff_service::find_account(conn, &login)?;
            let left = second_factor::recovery_codes_left(conn, &account.id)?;
            Ok::<_, StaffError>((account, left))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MeJson {
        login: user.login.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        counter: user.counter.clone(),
        totp_enrolled: second_factor::is_enrolled(&account),
        totp_required: state
            .settings
            .staff
            .require_totp_for
            .iter()
            .any(|r| r == user.role.as_str()),
        must_enrol_totp: user.enrol_only,
        recovery_codes_left: left,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"slot_id": "city-hall.2027-01-04.0930", "procedure": "cert-renewal",
    "applicant_type": "holder", "name": "鈴木 一郎", "name_kana": "スズキ イチロウ",
    "phone": "0748-00-0000"}))]
pub(crate) struct PhoneBookingBody {
    slot_id: String,
    procedure: String,
    applicant_type: String,
    name: String,
    name_kana: String,
    phone: String,
    /// With an address the caller gets the completion mail.
    email: Option<String>,
    representative_name: Option<String>,
    notes: Option<String>,
    /// Admin only: book outside the booking window, with a reason the audit log keeps.
    override_window: bool,
    override_reason: Option<String>,
    /// More people on the same slot (a party), sharing the caller's phone and address.
    party: Vec<RawMember>,
}

/// A phone booking for a caller (`channel: phone`).
#[utoipa::path(post, path = "/api/v1/staff/reservations", tag = "staff",
    request_body = PhoneBookingBody,
    responses((status = 201, description = "Booked", body = StaffReservationJson)))]
pub(crate) async fn post_staff_reservation(
    state: web::Data<AppState>,
    user: Authorized<PhoneStaff>,
    body: JsonBody<PhoneBookingBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.parse()?;
    if body.override_window && user.role != Role::Admin {
        return Err(ErrorCode::Forbidden.into());
    }
    let override_reason = match (body.override_window, body.override_reason.as_deref()) {
        (false, _) => None,
        (true, raw) => Some(parse_reason(raw.unwrap_or_default()).map_err(|p| {
            let p = match p {
                FieldProblem::Required => FieldProblem::OverrideReasonRequired,
                other => other,
            };
            Invalid::fields(vec![crate::error::FieldError::new("override_reason", p)])
        })?),
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
        fallback_slot_ids: Vec::new(),
        party: body.party,
    })?;
    let origin = Origin::Phone {
        staff_login: user.login.clone(),
        override_reason,
    };
    let booked = super::booking::book(&state, input, origin).await;
    state
        .metrics
        .booking("phone", booked.as_ref().map(|_| ()).map_err(|e| e.code));
    let booked = booked?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(StaffReservationJson::of(
        &state,
        &booked.row,
        &booked.links(),
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// The visit date (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date)]
    date: Option<NaiveDate>,
    /// A counter id.
    counter: Option<String>,
    /// Name, kana (any spacing, hiragana too), phone digits or reservation number.
    q: Option<String>,
}

/// At most this many reservations per search; narrow it by date or text beyond.
const SEARCH_LIMIT: i64 = 200;

/// Finds reservations by day, counter and free text; without any, today's.
#[utoipa::path(get, path = "/api/v1/staff/reservations", tag = "staff",
    params(SearchQuery),
    responses((status = 200, description = "Matching reservations, by time", body = StaffReservationsJson)))]
pub(crate) async fn get_staff_reservations(
    state: web::Data<AppState>,
    _user: Authorized<AnyStaff>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let SearchQuery { date, counter, q } = query.into_inner();
    if let Some(c) = &counter {
        state.calendar.get_counter(c)?;
    }
    let date = date.map(|d| check_date_range("date", d)).transpose()?;
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
    let (rows, links) = state
        .db
        .run(move |conn| {
            let rows = reservations::search(conn, &search, SEARCH_LIMIT)?;
            let links = service::visit_links(conn, &rows)?;
            Ok::<_, diesel::result::Error>((rows, links))
        })
        .await?;
    let reservations = rows
        .iter()
        .map(|r| {
            StaffReservationJson::of(&state, r, &links.get(&r.id).cloned().unwrap_or_default())
        })
        .collect();
    Ok(HttpResponse::Ok().json(StaffReservationsJson { reservations }))
}

/// One reservation by its number (hyphen and case optional).
#[utoipa::path(get, path = "/api/v1/staff/reservations/{reservation_number}", tag = "staff",
    params(("reservation_number" = String, Path, example = "HJ3K-7WXA")),
    responses((status = 200, description = "The reservation", body = StaffReservationJson)))]
pub(crate) async fn get_staff_reservation(
    state: web::Data<AppState>,
    _user: Authorized<AnyStaff>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let number = path.into_inner();
    let (row, links) = state
        .db
        .run(move |conn| {
            let row = service::get_by_number(conn, &number)?;
            service::with_links(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(StaffReservationJson::of(&state, &row, &links)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"reason": "本人から電話でキャンセルの依頼"}))]
pub(crate) struct CancelBody {
    /// Kept with the reservation and in the audit log, for staff: never mailed.
    reason: String,
    /// Words for the resident's mail (optional). Without them the mail says the counter
    /// cancelled the booking and how to reach it, and nothing of the reason.
    message: Option<String>,
}

/// Cancels for a caller, with a reason; mails the resident when there is an address.
#[utoipa::path(post, path = "/api/v1/staff/reservations/{reservation_number}/cancel", tag = "staff",
    params(("reservation_number" = String, Path, example = "HJ3K-7WXA")),
    request_body = CancelBody,
    responses((status = 200, description = "Cancelled", body = StaffReservationJson)))]
pub(crate) async fn post_staff_cancel(
    state: web::Data<AppState>,
    user: Authorized<PhoneStaff>,
    path: web::Path<String>,
    body: JsonBody<CancelBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.parse()?;
    let number = normalise_reservation_number(&path.into_inner())
        .ok_or(BookingError::ReservationNotFound)?;
    let reason = parse_reason(&body.reason).map_err(|p| Invalid::field("reason", p))?;
    let message = body
        .message
        .as_deref()
        .map(parse_reason)
        .transpose()
        .map_err(|p| Invalid::field("message", p))?
        .filter(|m| !m.is_empty());
    let now = state.clock.now();
    let (s, login) = (state.get_ref().clone(), user.login.clone());
    let (row, links) = state
        .db
        .write(move |conn| {
            let row = operations::cancel_by_number(
                conn,
                s.booking_ctx(),
                &number,
                (&reason, message.as_deref()),
                &login,
                now,
            )?;
            service::with_links(conn, row)
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(StaffReservationJson::of(&state, &row, &links)))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let booking = || codes::<BookingError>(&[]);
    vec![
        api(
            M::POST,
            "/api/v1/staff/sessions",
            Public,
            codes::<StaffError>(&[]),
            post_session,
        ),
        api(
            M::GET,
            "/api/v1/staff/sessions/current",
            OWN_SESSION,
            codes::<StaffError>(&[]),
            get_current_session,
        ),
        api(
            M::DELETE,
            "/api/v1/staff/sessions/current",
            OWN_SESSION,
            codes::<StaffError>(&[]),
            delete_session,
        ),
        api(
            M::POST,
            "/api/v1/staff/reservations",
            PHONE,
            booking(),
            post_staff_reservation,
        ),
        api(
            M::GET,
            "/api/v1/staff/reservations",
            ANY_STAFF,
            booking(),
            get_staff_reservations,
        ),
        api(
            M::GET,
            "/api/v1/staff/reservations/{reservation_number}",
            ANY_STAFF,
            booking(),
            get_staff_reservation,
        ),
        api(
            M::POST,
            "/api/v1/staff/reservations/{reservation_number}/cancel",
            PHONE,
            booking(),
            post_staff_cancel,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    post_session,
    get_current_session,
    delete_session,
    post_staff_reservation,
    get_staff_reservations,
    get_staff_reservation,
    post_staff_cancel
))]
pub(super) struct Paths;
