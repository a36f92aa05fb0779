//! Public: the waiting list (キャンセル待ち), and the voluntary proxy's second visit.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Authorized, PhoneStaff};
use super::body::{path_token, JsonBody};
use super::json::{instant, ReservationJson, ReservedSlotJson, StaffReservationJson};
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute, PHONE};
use super::state::AppState;
use crate::calendar::{CalendarError, SlotId};
use crate::error::{FieldProblem, Invalid};
use crate::reservations::input::{BookingInput, RawBooking};
use crate::reservations::service::{self, SecondVisitBy, VisitLinks};
use crate::reservations::BookingError;
use crate::tokens::looks_like_token;
use crate::verification::VerificationError;
use crate::waitlist::{self, EntryView, JoinRequest, WaitlistError};
use crate::waitlist::{WaitStatus, WaitlistRow};
use actix_web::http::Method;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"verification_token": "q0Jd…", "counter": "city-hall", "date": "2027-02-03",
    "procedure": "pin-reset", "applicant_type": "holder", "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ", "phone": "090-1234-5678"}))]
pub(crate) struct WaitlistBody {
    /// From the verification mail; used up by joining.
    verification_token: String,
    counter: String,
    /// The day to wait for (`YYYY-MM-DD`).
    date: String,
    procedure: String,
    applicant_type: String,
    name: String,
    name_kana: String,
    phone: String,
    representative_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OfferJson {
    pub slot: ReservedSlotJson,
    /// Accept before this, or the seat passes to the next in line.
    pub expires_at: String,
}

/// A waiting-list entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WaitlistJson {
    /// Only when joining: keep it (the joining mail has a link too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_token: Option<String>,
    pub status: WaitStatus,
    /// Place in line while waiting (1 = next).
    pub position: Option<i64>,
    pub counter: String,
    pub date: String,
    pub procedure: String,
    /// While `offered`: the seat held for the resident.
    pub offer: Option<OfferJson>,
    /// Once `accepted`: the reservation's number.
    pub reservation_number: Option<String>,
}

fn entry_json(
    state: &AppState,
    row: &WaitlistRow,
    position: Option<i64>,
    token: Option<String>,
    reservation_number: Option<String>,
) -> WaitlistJson {
    let tz = state.tz_of(&row.counter_id);
    let offer = match (row.status, &row.offer_slot_id, row.offer_expires_at) {
        (WaitStatus::Offered, Some(slot), Some(expires)) => slot
            .parse::<SlotId>()
            .ok()
            .and_then(|id| state.calendar.slot(&id))
            .map(|(_, def)| OfferJson {
                slot: ReservedSlotJson {
                    id: slot.clone(),
                    starts_at: instant(def.starts_at, tz),
                    ends_at: instant(def.ends_at, tz),
                },
                expires_at: instant(expires.and_utc(), tz),
            }),
        _ => None,
    };
    WaitlistJson {
        manage_token: token,
        status: row.status,
        position,
        counter: row.counter_id.clone(),
        date: row.visit_on.to_string(),
        procedure: row.procedure_id.clone(),
        offer,
        reservation_number,
    }
}

fn waitlist_token(path: web::Path<String>) -> Result<String, WaitlistError> {
    path_token(path, WaitlistError::NotFound)
}

/// Joins the waiting list for a full day (the same person and address limits as booking).
#[utoipa::path(post, path = "/api/v1/waitlist", tag = "booking",
    request_body = WaitlistBody,
    responses((status = 201, description = "On the list", body = WaitlistJson)))]
pub(crate) async fn post_waitlist(
    state: web::Data<AppState>,
    body: JsonBody<WaitlistBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.parse()?;
    let counter = state.calendar.get_counter(b.counter.trim())?.id.clone();
    let date = b
        .date
        .trim()
        .parse::<NaiveDate>()
        .map_err(|_| Invalid::field("date", FieldProblem::NotDate))?;
    let date = super::calendar::check_date_range("date", date)?;
    let person = BookingInput::parse_for_day(
        RawBooking {
            slot_id: String::new(),
            procedure: b.procedure,
            applicant_type: b.applicant_type,
            name: b.name,
            name_kana: b.name_kana,
            phone: b.phone,
            email: None,
            representative_name: b.representative_name,
            notes: None,
            fallback_slot_ids: Vec::new(),
            party: Vec::new(),
        },
        &counter,
        date,
    )?;
    if !looks_like_token(b.verification_token.trim()) {
        return Err(VerificationError::NotFound.into());
    }
    let req = JoinRequest {
        verification_token: b.verification_token.trim().to_string(),
        counter,
        date,
        person,
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let link = req.verification_token.clone();
    let joined = state
        .db
        .write(move |conn| waitlist::join(conn, s.booking_ctx(), req, now))
        .await;
    if let Err(crate::db::RunError::Failed(WaitlistError::Booking(refusal))) = &joined {
        super::booking::count_refusal(&state, link, refusal).await;
    }
    let (row, token, position) = joined?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(entry_json(&state, &row, Some(position), Some(token), None)))
}

async fn entry_response(state: &AppState, view: EntryView) -> Result<WaitlistJson, AppError> {
    let number = match &view.row.reservation_id {
        Some(id) => {
            let id = id.clone();
            state
                .db
                .run(move |conn| {
                    crate::reservations::find_by_id(conn, &id)
                        .map(|r| r.map(|r| r.reservation_number))
                })
                .await?
        }
        None => None,
    };
    Ok(entry_json(state, &view.row, view.position, None, number))
}

/// The entry: waiting (with its place), offered (the held seat and until when), accepted,
/// expired or left.
#[utoipa::path(get, path = "/api/v1/waitlist/{manage_token}", tag = "booking",
    params(("manage_token" = String, Path, description = "From joining, or the offer mail's link")),
    responses((status = 200, description = "The entry", body = WaitlistJson)))]
pub(crate) async fn get_waitlist(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = waitlist_token(path)?;
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let view = state
        .db
        .write(move |conn| waitlist::view(conn, s.booking_ctx(), &token, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(entry_response(&state, view).await?))
}

/// Leaves the list (idempotent); an offered seat passes to the next in line.
#[utoipa::path(delete, path = "/api/v1/waitlist/{manage_token}", tag = "booking",
    params(("manage_token" = String, Path)),
    responses((status = 200, description = "Left", body = WaitlistJson)))]
pub(crate) async fn delete_waitlist(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = waitlist_token(path)?;
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let view = state
        .db
        .write(move |conn| waitlist::leave(conn, s.booking_ctx(), &token, now))
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Ok().json(entry_response(&state, view).await?))
}

/// Accepts the seat offered: 201 the reservation (with its own manage token).
#[utoipa::path(post, path = "/api/v1/waitlist/{manage_token}/accept", tag = "booking",
    params(("manage_token" = String, Path)),
    responses((status = 201, description = "Booked", body = ReservationJson)))]
pub(crate) async fn post_waitlist_accept(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = waitlist_token(path)?;
    let now = state.clock.now();
    // An offer that ran out is settled (and passed on) in a transaction of its own, which
    // commits even when the acceptance that follows is refused.
    let (s, t) = (state.get_ref().clone(), token.clone());
    let settled = state
        .db
        .write(move |conn| waitlist::settle_token(conn, &s.booking_ctx(), &t, now))
        .await;
    let booked = match settled {
        Ok(()) => {
            let s = state.get_ref().clone();
            state
                .db
                .write(move |conn| waitlist::accept(conn, s.booking_ctx(), &token, now))
                .await
        }
        Err(e) => Err(e),
    }
    .map_err(AppError::from);
    state
        .metrics
        .booking("waitlist", booked.as_ref().map(|_| ()).map_err(|e| e.code));
    let booked = booked?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(ReservationJson::of(
        &state,
        &booked.row,
        Some(&booked.manage_token),
        &VisitLinks::default(),
    )))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"slot_id": "city-hall.2027-02-15.1000"}))]
pub(crate) struct SecondVisitBody {
    slot_id: String,
}

fn slot_of(body: &SecondVisitBody) -> Result<SlotId, AppError> {
    if body.slot_id.trim().is_empty() {
        return Err(Invalid::field("slot_id", FieldProblem::Required).into());
    }
    Ok(body
        .slot_id
        .trim()
        .parse()
        .map_err(|_| CalendarError::SlotNotFound)?)
}

/// Books the voluntary proxy's second visit with the first visit's manage link.
#[utoipa::path(post, path = "/api/v1/reservations/{manage_token}/second-visit", tag = "booking",
    params(("manage_token" = String, Path, description = "The first visit's manage token")),
    request_body = SecondVisitBody,
    responses((status = 201, description = "The second visit", body = ReservationJson)))]
pub(crate) async fn post_second_visit(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<SecondVisitBody>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    if !looks_like_token(&token) {
        return Err(BookingError::ReservationNotFound.into());
    }
    let slot = slot_of(&body.parse()?)?;
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let id = slot.clone();
    let booked = state
        .db
        .write(move |conn| {
            let booked = service::book_second_visit(
                conn,
                s.booking_ctx(),
                SecondVisitBy::Resident {
                    manage_token: token,
                },
                &id,
                now,
            )?;
            let (_, links) = service::with_links(conn, booked.row.clone())?;
            Ok::<_, BookingError>((booked, links))
        })
        .await;
    let (booked, links) = super::booking::with_alternatives(&state, booked, &slot, now).await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(ReservationJson::of(
        &state,
        &booked.row,
        Some(&booked.manage_token),
        &links,
    )))
}

/// Books a caller's second visit by the first visit's number.
#[utoipa::path(post, path = "/api/v1/staff/reservations/{reservation_number}/second-visit", tag = "staff",
    params(("reservation_number" = String, Path, example = "HJ3K-7WXA")),
    request_body = SecondVisitBody,
    responses((status = 201, description = "The second visit", body = StaffReservationJson)))]
pub(crate) async fn post_staff_second_visit(
    state: web::Data<AppState>,
    user: Authorized<PhoneStaff>,
    path: web::Path<String>,
    body: JsonBody<SecondVisitBody>,
) -> Result<HttpResponse, AppError> {
    let slot = slot_of(&body.parse()?)?;
    let number = path.into_inner();
    let now = state.clock.now();
    let (s, login) = (state.get_ref().clone(), user.login.clone());
    let id = slot.clone();
    let booked = state
        .db
        .write(move |conn| {
            let booked = service::book_second_visit(
                conn,
                s.booking_ctx(),
                SecondVisitBy::Staff {
                    number,
                    staff_login: login,
                },
                &id,
                now,
            )?;
            let (_, links) = service::with_links(conn, booked.row.clone())?;
            Ok::<_, BookingError>((booked, links))
        })
        .await;
    let (booked, links) = super::booking::with_alternatives(&state, booked, &slot, now).await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(StaffReservationJson::of(&state, &booked.row, &links)))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let booking = || codes::<BookingError>(&[]);
    let waitlist = || codes::<WaitlistError>(&[]);
    vec![
        api(
            M::POST,
            "/api/v1/reservations/{manage_token}/second-visit",
            Public,
            booking(),
            post_second_visit,
        ),
        api(
            M::POST,
            "/api/v1/waitlist",
            Public,
            waitlist(),
            post_waitlist,
        ),
        api(
            M::GET,
            "/api/v1/waitlist/{manage_token}",
            Public,
            waitlist(),
            get_waitlist,
        ),
        api(
            M::DELETE,
            "/api/v1/waitlist/{manage_token}",
            Public,
            waitlist(),
            delete_waitlist,
        ),
        api(
            M::POST,
            "/api/v1/waitlist/{manage_token}/accept",
            Public,
            waitlist(),
            post_waitlist_accept,
        ),
        api(
            M::POST,
            "/api/v1/staff/reservations/{reservation_number}/second-visit",
            PHONE,
            booking(),
            post_staff_second_visit,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    post_second_visit,
    post_waitlist,
    get_waitlist,
    delete_waitlist,
    post_waitlist_accept,
    post_staff_second_visit
))]
pub(super) struct Paths;
