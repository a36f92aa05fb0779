//! Administration: staff accounts, slot capacity, closures, the audit log, the outbox.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminOnly, Authorized};
use super::body::JsonBody;
use super::calendar::check_date_range;
use super::json::{stored, StaffJson};
use super::problem::AppError;
use super::route::{api, codes, own, ApiRoute, ADMIN};
use super::state::AppState;
use crate::calendar::{CalendarError, SlotId};
use crate::error::{FieldProblem, Invalid};
use crate::mail::outbox::list_outbox;
use crate::mail::{MailKind, OutboxStatus};
use crate::operations::{self as admin, AdminError};
use crate::staff::audit::list_since;
use crate::staff::service::StaffError;
use crate::staff::service::{
    create_staff, find_account, prepare_password, prepare_staff, reset_password, update_staff,
    NewStaff, StaffChanges,
};
use crate::text::parse_reason;
use actix_web::http::Method;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"login": "tanaka", "password": "another-long-password", "role": "phone", "display_name": "田中"}))]
pub(crate) struct StaffBody {
    /// 3 to 40 of a-z, 0-9, '.', '_' and '-'.
    login: String,
    password: String,
    /// `phone`, `desk`, `admin` or `kiosk`.
    role: String,
    display_name: String,
    /// A kiosk's counter (required for `kiosk`; other roles have none).
    counter: Option<String>,
}

/// Creates a staff account.
#[utoipa::path(post, path = "/api/v1/admin/staff", tag = "admin",
    request_body = StaffBody,
    responses((status = 201, description = "Created", body = StaffJson)))]
pub(crate) async fn post_staff(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    body: JsonBody<StaffBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.parse()?;
    if let Some(c) = b.counter.as_deref().filter(|c| !c.trim().is_empty()) {
        state.calendar.get_counter(c.trim())?;
    }
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    // The password is hashed (the slow part) on the blocking pool, outside the transaction.
    let settings = s.settings.clone();
    let row = web::block(move || {
        prepare_staff(
            NewStaff {
                login: b.login,
                display_name: b.display_name,
                role: b.role,
                password: b.password,
                counter: b.counter,
            },
            &settings.staff,
            now,
        )
    })
    .await
    .map_err(|e| AppError::unexpected(anyhow::anyhow!("hashing a password: {e}")))??;
    let row = state
        .db
        .write(move |conn| create_staff(conn, row, &actor, now))
        .await?;
    Ok(HttpResponse::Created().json(StaffJson::of(&state, &row)))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StaffListJson {
    pub staff: Vec<StaffJson>,
}

/// Every staff account, by login.
#[utoipa::path(get, path = "/api/v1/admin/staff", tag = "admin",
    responses((status = 200, description = "The accounts", body = StaffListJson)))]
pub(crate) async fn get_staff_list(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
) -> Result<HttpResponse, AppError> {
    let rows = state.db.run(crate::staff::list_staff).await?;
    let staff = rows.iter().map(|r| StaffJson::of(&state, r)).collect();
    Ok(HttpResponse::Ok().json(StaffListJson { staff }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"disabled": true}))]
pub(crate) struct StaffPatchBody {
    role: Option<String>,
    display_name: Option<String>,
    /// Disabling ends the account's sessions at once.
    disabled: Option<bool>,
    /// A kiosk's counter (changing it ends the kiosk's sessions).
    counter: Option<String>,
}

/// Changes an account's role or name, or disables / enables it. The last enabled
/// administrator stays one (`last_admin`).
#[utoipa::path(patch, path = "/api/v1/admin/staff/{login}", tag = "admin",
    params(("login" = String, Path)),
    request_body = StaffPatchBody,
    responses((status = 200, description = "The account now", body = StaffJson)))]
pub(crate) async fn patch_staff(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: JsonBody<StaffPatchBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.parse()?;
    if let Some(c) = b.counter.as_deref().filter(|c| !c.trim().is_empty()) {
        state.calendar.get_counter(c.trim())?;
    }
    let login = path.into_inner();
    let now = state.clock.now();
    let actor = user.login.clone();
    let row = state
        .db
        .write(move |conn| {
            update_staff(
                conn,
                &login,
                StaffChanges {
                    role: b.role,
                    display_name: b.display_name,
                    disabled: b.disabled,
                    counter: b.counter,
                },
                &actor,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(StaffJson::of(&state, &row)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct PasswordBody {
    password: String,
}

/// Sets a new password for an account and ends its sessions.
#[utoipa::path(put, path = "/api/v1/admin/staff/{login}/password", tag = "admin",
    params(("login" = String, Path)),
    request_body = PasswordBody,
    responses((status = 204, description = "Changed")))]
pub(crate) async fn put_staff_password(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: JsonBody<PasswordBody>,
) -> Result<HttpResponse, AppError> {
    let password = body.parse()?.password;
    let login = path.into_inner();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let l = login.clone();
    let account = state.db.run(move |conn| find_account(conn, &l)).await?;
    let settings = s.settings.clone();
    let hash = web::block(move || prepare_password(&account.login, &password, &settings.staff))
        .await
        .map_err(|e| AppError::unexpected(anyhow::anyhow!("hashing a password: {e}")))??;
    state
        .db
        .write(move |conn| reset_password(conn, &login, &hash, &actor, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes another account's second factor (a lost phone and lost recovery codes) and ends its
/// sessions; it sets one up again at its next sign-in when its role requires one. One's own is
/// removed by another administrator or on the command line (409 `own_totp`).
#[utoipa::path(delete, path = "/api/v1/admin/staff/{login}/totp", tag = "admin",
    params(("login" = String, Path)),
    responses((status = 204, description = "Removed")))]
pub(crate) async fn delete_staff_totp(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let login = path.into_inner();
    // A stolen session must not be able to take its own account's second factor away.
    if login.trim().eq_ignore_ascii_case(&user.login) {
        return Err(StaffError::OwnTotp.into());
    }
    let now = state.clock.now();
    let actor = user.login.clone();
    state
        .db
        .write(move |conn| crate::staff::second_factor::reset(conn, &login, &actor, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CapacityBody {
    #[schema(example = 5)]
    capacity: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SlotCapacityJson {
    pub id: String,
    pub starts_at: String,
    pub ends_at: String,
    pub capacity: i32,
    pub booked: i32,
    pub remaining: u32,
}

/// Sets one slot's capacity, never below what is booked.
#[utoipa::path(put, path = "/api/v1/admin/slots/{slot_id}", tag = "admin",
    params(("slot_id" = String, Path, example = "city-hall.2027-01-04.0900")),
    request_body = CapacityBody,
    responses((status = 200, description = "The slot now", body = SlotCapacityJson)))]
pub(crate) async fn put_slot(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: JsonBody<CapacityBody>,
) -> Result<HttpResponse, AppError> {
    let capacity = body.parse()?.capacity;
    let slot: SlotId = path
        .into_inner()
        .parse()
        .map_err(|_| CalendarError::SlotNotFound)?;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .write(move |conn| {
            admin::change_capacity(conn, s.booking_ctx(), &slot, capacity, &actor, now)
        })
        .await?;
    let tz = state.tz_of(&row.counter_id);
    Ok(HttpResponse::Ok().json(SlotCapacityJson {
        id: row.id.clone(),
        starts_at: stored(row.starts_at, tz),
        ends_at: stored(row.ends_at, tz),
        capacity: row.capacity,
        booked: row.booked,
        remaining: row.remaining(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"date": "2027-01-19", "reason": "停電のため", "cancel_reservations": true}))]
pub(crate) struct ClosureBody {
    /// `YYYY-MM-DD`.
    date: String,
    /// Shown to staff and in the mail to each resident whose reservation is cancelled or whose
    /// waiting for the day ends.
    reason: String,
    /// Cancel the day's reservations (each resident is mailed); without it a day that holds
    /// reservations is refused.
    cancel_reservations: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClosedJson {
    pub counter: String,
    pub date: String,
    pub reason: String,
    /// Reservation numbers cancelled by the closure.
    pub cancelled_reservations: Vec<String>,
    /// Waiting-list entries for the day ended by the closure (each resident is mailed).
    pub waitlist_ended: u32,
}

fn parse_date(field: &str, raw: &str) -> Result<NaiveDate, Invalid> {
    let d = raw
        .trim()
        .parse::<NaiveDate>()
        .map_err(|_| Invalid::field(field, FieldProblem::NotDate))?;
    check_date_range(field, d)
}

/// Closes a counter's day.
#[utoipa::path(post, path = "/api/v1/admin/counters/{counter}/closures", tag = "admin",
    params(("counter" = String, Path, example = "city-hall")),
    request_body = ClosureBody,
    responses((status = 201, description = "Closed", body = ClosedJson)))]
pub(crate) async fn post_closure(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: JsonBody<ClosureBody>,
) -> Result<HttpResponse, AppError> {
    let ClosureBody {
        date,
        reason,
        cancel_reservations,
    } = body.parse()?;
    let counter = path.into_inner();
    state.calendar.get_counter(&counter)?;
    let date = parse_date("date", &date)?;
    let reason = parse_reason(&reason).map_err(|p| Invalid::field("reason", p))?;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let closed = state
        .db
        .write(move |conn| {
            admin::close_day(
                conn,
                s.booking_ctx(),
                admin::CloseDay {
                    counter,
                    date,
                    reason,
                    cancel_reservations,
                },
                &actor,
                now,
            )
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(ClosedJson {
        counter: closed.counter,
        date: closed.date.to_string(),
        reason: closed.reason,
        cancelled_reservations: closed.cancelled,
        waitlist_ended: closed.waitlist_ended,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClosuresQuery {
    /// Default today.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Default a year after `from`.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClosureJson {
    pub date: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClosuresJson {
    pub counter: String,
    pub closures: Vec<ClosureJson>,
}

/// The days an administrator closed (configured closures are in availability).
#[utoipa::path(get, path = "/api/v1/admin/counters/{counter}/closures", tag = "admin",
    params(("counter" = String, Path, example = "city-hall"), ClosuresQuery),
    responses((status = 200, description = "Closures by date", body = ClosuresJson)))]
pub(crate) async fn get_closures(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
    path: web::Path<String>,
    query: web::Query<ClosuresQuery>,
) -> Result<HttpResponse, AppError> {
    let counter = state.calendar.get_counter(&path.into_inner())?.clone();
    let today = counter.today(state.clock.now());
    let from = check_date_range("from", query.from.unwrap_or(today))?;
    let to = check_date_range("to", query.to.unwrap_or(from + Duration::days(366)))?;
    let id = counter.id.clone();
    let rows = state
        .db
        .run(move |conn| crate::calendar::list_closures(conn, &id, from, to))
        .await?;
    let closures = rows
        .iter()
        .map(|r| ClosureJson {
            date: r.closed_on.to_string(),
            reason: r.reason.clone(),
            created_by: r.created_by.clone(),
            created_at: stored(r.created_at, counter.tz),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ClosuresJson {
        counter: counter.id.clone(),
        closures,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LiftedJson {
    pub counter: String,
    pub date: String,
    pub reason: String,
    pub lifted: bool,
}

/// Lifts a closure: the day opens again (cancelled reservations stay cancelled).
#[utoipa::path(delete, path = "/api/v1/admin/counters/{counter}/closures/{date}", tag = "admin",
    params(("counter" = String, Path, example = "city-hall"), ("date" = String, Path, example = "2027-01-19")),
    responses((status = 200, description = "Lifted", body = LiftedJson)))]
pub(crate) async fn delete_closure(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (counter, date) = path.into_inner();
    let date: NaiveDate = date.parse().map_err(|_| AdminError::ClosureNotFound)?;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .write(move |conn| admin::lift_closure(conn, s.booking_ctx(), &counter, date, &actor, now))
        .await?;
    Ok(HttpResponse::Ok().json(LiftedJson {
        counter: row.counter_id,
        date: row.closed_on.to_string(),
        reason: row.reason,
        lifted: true,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// RFC 3339; default a day ago.
    #[param(example = "2027-01-01T00:00:00+09:00")]
    since: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntryJson {
    pub at: String,
    /// The staff login (null for a failed login with an unknown name).
    pub staff: Option<String>,
    #[schema(example = "reservation.cancel")]
    pub action: String,
    pub target: String,
    /// What changed; never a password or token.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditJson {
    pub entries: Vec<AuditEntryJson>,
}

const AUDIT_LIMIT: i64 = 5000;

/// Who did what: every staff write, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(AuditQuery),
    responses((status = 200, description = "Audit entries", body = AuditJson)))]
pub(crate) async fn get_audit(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let since = match query.into_inner().since {
        Some(s) => {
            // Unparseable query values are malformed requests (400), as for every query.
            let at = DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| AppError::bad_request("since must be an RFC 3339 instant"))?;
            check_date_range("since", at.date_naive())?;
            at.to_utc()
        }
        None => now - Duration::days(1),
    };
    let rows = state
        .db
        .run(move |conn| list_since(conn, since, AUDIT_LIMIT))
        .await?;
    let tz = state.default_tz();
    let entries = rows
        .iter()
        .map(|r| AuditEntryJson {
            at: stored(r.at, tz),
            staff: r.staff_login.clone(),
            action: r.action.to_string(),
            target: r.target.clone(),
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditJson { entries }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OutboxQuery {
    /// `pending`, `sending`, `sent` or `failed`.
    status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MailJson {
    pub id: String,
    pub kind: MailKind,
    pub recipient: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub subject: Option<String>,
    pub message_id: String,
    pub reservation_id: Option<String>,
    pub created_at: String,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OutboxJson {
    pub mails: Vec<MailJson>,
}

/// The mail outbox, newest first: what is pending, sent, or failed with its last error.
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "admin",
    params(OutboxQuery),
    responses((status = 200, description = "Outbox rows", body = OutboxJson)))]
pub(crate) async fn get_outbox(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, AppError> {
    let status =
        match query.into_inner().status.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(s.parse::<OutboxStatus>().map_err(|_| {
                Invalid::field("status", FieldProblem::OneOf(OutboxStatus::STRINGS))
            })?),
        };
    let rows = state
        .db
        .run(move |conn| list_outbox(conn, status, 1000))
        .await?;
    let tz = state.default_tz();
    let mails = rows
        .iter()
        .map(|r| MailJson {
            id: r.id.clone(),
            kind: r.kind,
            recipient: r.recipient.clone(),
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            subject: r.subject.clone(),
            message_id: r.message_id.clone(),
            reservation_id: r.reservation_id.clone(),
            created_at: stored(r.created_at, tz),
            next_attempt_at: stored(r.next_attempt_at, tz),
            sent_at: r.sent_at.map(|t| stored(t, tz)),
        })
        .collect();
    Ok(HttpResponse::Ok().json(OutboxJson { mails }))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Method as M;
    // A kiosk's counter must exist (404 `counter_not_found`).
    let staff = || codes::<(StaffError, CalendarError)>(&[]);
    let admin = || codes::<AdminError>(&[]);
    vec![
        api(
            M::GET,
            "/api/v1/admin/staff",
            ADMIN,
            own(&[]),
            get_staff_list,
        ),
        api(M::POST, "/api/v1/admin/staff", ADMIN, staff(), post_staff),
        api(
            M::PATCH,
            "/api/v1/admin/staff/{login}",
            ADMIN,
            staff(),
            patch_staff,
        ),
        api(
            M::PUT,
            "/api/v1/admin/staff/{login}/password",
            ADMIN,
            staff(),
            put_staff_password,
        ),
        api(
            M::DELETE,
            "/api/v1/admin/staff/{login}/totp",
            ADMIN,
            staff(),
            delete_staff_totp,
        ),
        api(
            M::PUT,
            "/api/v1/admin/slots/{slot_id}",
            ADMIN,
            admin(),
            put_slot,
        ),
        api(
            M::GET,
            "/api/v1/admin/counters/{counter}/closures",
            ADMIN,
            admin(),
            get_closures,
        ),
        api(
            M::POST,
            "/api/v1/admin/counters/{counter}/closures",
            ADMIN,
            admin(),
            post_closure,
        ),
        api(
            M::DELETE,
            "/api/v1/admin/counters/{counter}/closures/{date}",
            ADMIN,
            admin(),
            delete_closure,
        ),
        api(M::GET, "/api/v1/admin/audit", ADMIN, own(&[]), get_audit),
        api(M::GET, "/api/v1/admin/outbox", ADMIN, own(&[]), get_outbox),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_staff_list,
    post_staff,
    patch_staff,
    put_staff_password,
    delete_staff_totp,
    put_slot,
    get_closures,
    post_closure,
    delete_closure,
    get_audit,
    get_outbox
))]
pub(super) struct Paths;
