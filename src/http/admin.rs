//! Administration: staff accounts, slot capacity, closures, the audit log, the outbox.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{AdminOnly, Authorized};
use super::{instant, AppState};
use crate::admin;
use crate::calendar::SlotId;
use crate::error::AppError;
use crate::mail::outbox::list_outbox;
use crate::reservations::input::refuse_individual_numbers;
use crate::staff::audit::list_since;
use crate::staff::service::{create_staff, prepare_staff, NewStaff};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StaffBody {
    login: String,
    password: String,
    role: String,
    display_name: String,
}

pub async fn post_staff(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    body: web::Json<StaffBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .run(move |conn| {
            let row = prepare_staff(
                NewStaff {
                    login: b.login,
                    display_name: b.display_name,
                    role: b.role,
                    password: b.password,
                },
                &s.settings.staff,
                now,
            )?;
            create_staff(conn, row, &actor, now)
        })
        .await?;
    let tz = state.default_tz();
    Ok(HttpResponse::Created().json(json!({
        "login": row.login,
        "display_name": row.display_name,
        "role": row.role,
        "disabled": row.disabled,
        "created_at": instant(row.created_at.and_utc(), tz),
    })))
}

#[derive(Debug, Deserialize)]
pub struct CapacityBody {
    capacity: i32,
}

pub async fn put_slot(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: web::Json<CapacityBody>,
) -> Result<HttpResponse, AppError> {
    let slot: SlotId = path
        .into_inner()
        .parse()
        .map_err(|_| AppError::NotFound("slot_not_found"))?;
    let capacity = body.capacity;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .run(move |conn| {
            admin::change_capacity(conn, s.booking_ctx(), &slot, capacity, &actor, now)
        })
        .await?;
    let tz = state
        .calendar
        .counter(&row.counter_id)
        .map(|c| c.tz)
        .unwrap_or_else(|| state.default_tz());
    Ok(HttpResponse::Ok().json(json!({
        "id": row.id,
        "starts_at": instant(row.starts_at.and_utc(), tz),
        "ends_at": instant(row.ends_at.and_utc(), tz),
        "capacity": row.capacity,
        "booked": row.booked,
        "remaining": row.remaining(),
    })))
}

#[derive(Debug, Deserialize)]
pub struct ClosureBody {
    date: NaiveDate,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    cancel_reservations: bool,
}

pub async fn post_closure(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: web::Json<ClosureBody>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    let ClosureBody {
        date,
        reason,
        cancel_reservations,
    } = body.into_inner();
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "is required"));
    }
    refuse_individual_numbers(&[("reason", Some(&reason))])?;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let closed = state
        .db
        .run(move |conn| {
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
    Ok(HttpResponse::Created().json(json!({
        "counter": closed.counter,
        "date": closed.date.to_string(),
        "reason": closed.reason,
        "cancelled_reservations": closed.cancelled,
    })))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    since: Option<String>,
}

const AUDIT_LIMIT: i64 = 5000;

pub async fn get_audit(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let since = match query.into_inner().since {
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map_err(|_| AppError::BadRequest("since must be an RFC 3339 instant".into()))?
            .to_utc(),
        None => now - Duration::days(1),
    };
    let rows = state
        .db
        .run(move |conn| list_since(conn, since, AUDIT_LIMIT))
        .await?;
    let tz = state.default_tz();
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "at": instant(r.at.and_utc(), tz),
                "staff": r.staff_login,
                "action": r.action,
                "target": r.target,
                "detail": serde_json::from_str::<Value>(&r.detail).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "entries": entries })))
}

#[derive(Debug, Deserialize)]
pub struct OutboxQuery {
    status: Option<String>,
}

pub async fn get_outbox(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, AppError> {
    let status = query.into_inner().status.filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if !["pending", "sending", "sent", "failed"].contains(&s.as_str()) {
            return Err(AppError::invalid(
                "status",
                "must be pending, sending, sent or failed",
            ));
        }
    }
    let rows = state
        .db
        .run(move |conn| list_outbox(conn, status.as_deref(), 1000))
        .await?;
    let tz = state.default_tz();
    let t = |n: chrono::NaiveDateTime| instant(n.and_utc(), tz);
    let mails: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "kind": r.kind,
                "recipient": r.recipient,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "subject": r.subject,
                "message_id": r.message_id,
                "reservation_id": r.reservation_id,
                "created_at": t(r.created_at),
                "next_attempt_at": t(r.next_attempt_at),
                "sent_at": r.sent_at.map(t),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "mails": mails })))
}

fn staff_json(state: &AppState, row: &crate::staff::repo::StaffRow) -> Value {
    let tz = state.default_tz();
    json!({
        "login": row.login,
        "display_name": row.display_name,
        "role": row.role,
        "disabled": row.disabled,
        "created_at": instant(row.created_at.and_utc(), tz),
        "updated_at": instant(row.updated_at.and_utc(), tz),
    })
}

pub async fn get_staff_list(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
) -> Result<HttpResponse, AppError> {
    let rows = state.db.run(crate::staff::repo::list_staff).await?;
    let staff: Vec<Value> = rows.iter().map(|r| staff_json(&state, r)).collect();
    Ok(HttpResponse::Ok().json(json!({ "staff": staff })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StaffPatchBody {
    role: Option<String>,
    display_name: Option<String>,
    disabled: Option<bool>,
}

pub async fn patch_staff(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: web::Json<StaffPatchBody>,
) -> Result<HttpResponse, AppError> {
    let login = path.into_inner();
    let b = body.into_inner();
    let now = state.clock.now();
    let actor = user.login.clone();
    let row = state
        .db
        .run(move |conn| {
            crate::staff::service::update_staff(
                conn,
                &login,
                crate::staff::service::StaffChanges {
                    role: b.role,
                    display_name: b.display_name,
                    disabled: b.disabled,
                },
                &actor,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(staff_json(&state, &row)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordBody {
    password: String,
}

pub async fn put_staff_password(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<String>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, AppError> {
    let login = path.into_inner();
    let password = body.into_inner().password;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    state
        .db
        .run(move |conn| {
            crate::staff::service::reset_password(
                conn,
                &login,
                &password,
                &s.settings.staff,
                &actor,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
pub struct ClosuresQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

pub async fn get_closures(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
    path: web::Path<String>,
    query: web::Query<ClosuresQuery>,
) -> Result<HttpResponse, AppError> {
    let counter = state
        .calendar
        .counter(&path.into_inner())
        .ok_or(AppError::NotFound("counter_not_found"))?
        .clone();
    let today = counter.today(state.clock.now());
    let from = query.from.unwrap_or(today);
    let to = query.to.unwrap_or(from + Duration::days(366));
    let id = counter.id.clone();
    let rows = state
        .db
        .run(move |conn| crate::calendar::repo::list_closures(conn, &id, from, to))
        .await?;
    let closures: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "date": r.closed_on.to_string(),
                "reason": r.reason,
                "created_by": r.created_by,
                "created_at": instant(r.created_at.and_utc(), counter.tz),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "counter": counter.id, "closures": closures })))
}

pub async fn delete_closure(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (counter, date) = path.into_inner();
    let date: NaiveDate = date
        .parse()
        .map_err(|_| AppError::NotFound("closure_not_found"))?;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .run(move |conn| admin::lift_closure(conn, s.booking_ctx(), &counter, date, &actor, now))
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "counter": row.counter_id,
        "date": row.closed_on.to_string(),
        "reason": row.reason,
        "lifted": true,
    })))
}
