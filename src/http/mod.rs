//! actix only: routes, request parsing into domain types, rendering.

pub mod admin;
pub mod auth;
pub mod calendar;
pub mod desk;
pub mod health;
pub mod reservations;
pub mod staff;
pub mod verifications;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use chrono_tz::Tz;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;
use crate::mail::deliver::Mailer;
use crate::reservations::service::Ctx;
use tokio::sync::Notify;

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
    pub clock: SharedClock,
    pub db: Db,
    pub mailer: Arc<Mailer>,
    /// Poked after a write that enqueued mail, so the worker sends it without waiting to poll.
    pub mail_notify: Arc<Notify>,
    /// Woken after a call or recall, so waiting-room screens show it at once.
    pub display_notify: Arc<Notify>,
    /// The domain of Message-IDs (the sender's).
    pub message_domain: Arc<str>,
}

impl AppState {
    pub fn booking_ctx(&self) -> Ctx<'_> {
        Ctx {
            calendar: &self.calendar,
            catalogue: &self.catalogue,
            settings: &self.settings,
            message_domain: &self.message_domain,
        }
    }

    /// The zone instants are shown in when no counter is named (the first counter's).
    pub fn default_tz(&self) -> Tz {
        self.calendar
            .counters()
            .first()
            .map(|c| c.tz)
            .unwrap_or(chrono_tz::Asia::Tokyo)
    }
}

pub use crate::calendar::local_rfc3339 as instant;

/// Registers every route. The app factory in `startup` wraps it with the middleware.
pub fn routes(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(json_config(max_body_bytes))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::PayloadConfig::new(max_body_bytes))
        .service(web::resource("/healthz").route(web::get().to(health::get_healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::get_readyz)))
        .configure(crate::web::routes)
        .service(
            web::scope("/api/v1")
                .service(web::resource("/counters").route(web::get().to(calendar::get_counters)))
                .service(
                    web::resource("/procedures").route(web::get().to(calendar::get_procedures)),
                )
                .service(
                    web::resource("/counters/{counter}/availability")
                        .route(web::get().to(calendar::get_availability)),
                )
                .service(
                    web::resource("/verifications")
                        .route(web::post().to(verifications::post_verification)),
                )
                .service(
                    web::resource("/verifications/{token}")
                        .route(web::get().to(verifications::get_verification)),
                )
                .service(
                    web::resource("/reservations")
                        .route(web::post().to(reservations::post_reservation)),
                )
                .service(
                    web::resource("/reservations/{manage_token}")
                        .route(web::get().to(reservations::get_reservation))
                        .route(web::delete().to(reservations::delete_reservation)),
                )
                .service(
                    web::resource("/reservations/{manage_token}/qr.svg")
                        .route(web::get().to(reservations::get_reservation_qr)),
                )
                .service(
                    web::resource("/reservations/{manage_token}/reschedule")
                        .route(web::post().to(reservations::post_reschedule)),
                )
                .service(
                    web::resource("/staff/sessions").route(web::post().to(staff::post_session)),
                )
                .service(
                    web::resource("/staff/sessions/current")
                        .route(web::get().to(staff::get_current_session))
                        .route(web::delete().to(staff::delete_session)),
                )
                .service(
                    web::resource("/staff/reservations")
                        .route(web::post().to(staff::post_staff_reservation))
                        .route(web::get().to(staff::get_staff_reservations)),
                )
                .service(
                    web::resource("/staff/reservations/{reservation_number}")
                        .route(web::get().to(staff::get_staff_reservation)),
                )
                .service(
                    web::resource("/staff/reservations/{reservation_number}/cancel")
                        .route(web::post().to(staff::post_staff_cancel)),
                )
                .service(
                    web::resource("/admin/staff")
                        .route(web::get().to(admin::get_staff_list))
                        .route(web::post().to(admin::post_staff)),
                )
                .service(
                    web::resource("/admin/staff/{login}")
                        .route(web::patch().to(admin::patch_staff)),
                )
                .service(
                    web::resource("/admin/staff/{login}/password")
                        .route(web::put().to(admin::put_staff_password)),
                )
                .service(
                    web::resource("/admin/slots/{slot_id}").route(web::put().to(admin::put_slot)),
                )
                .service(
                    web::resource("/admin/counters/{counter}/closures")
                        .route(web::get().to(admin::get_closures))
                        .route(web::post().to(admin::post_closure)),
                )
                .service(
                    web::resource("/admin/counters/{counter}/closures/{date}")
                        .route(web::delete().to(admin::delete_closure)),
                )
                .service(
                    web::resource("/desk/{counter}/queue").route(web::get().to(desk::get_queue)),
                )
                .service(
                    web::resource("/desk/{counter}/check-ins")
                        .route(web::post().to(desk::post_check_in)),
                )
                .service(
                    web::resource("/desk/{counter}/walk-ins")
                        .route(web::post().to(desk::post_walk_in)),
                )
                .service(
                    web::resource("/desk/{counter}/calls").route(web::post().to(desk::post_call)),
                )
                .service(
                    web::resource("/desk/{counter}/tickets/{ticket}/complete")
                        .route(web::post().to(desk::post_complete)),
                )
                .service(
                    web::resource("/desk/{counter}/tickets/{ticket}/no-show")
                        .route(web::post().to(desk::post_no_show)),
                )
                .service(
                    web::resource("/desk/{counter}/tickets/{ticket}/recall")
                        .route(web::post().to(desk::post_recall)),
                )
                .service(
                    web::resource("/desk/{counter}/display")
                        .route(web::get().to(desk::get_display)),
                )
                .service(web::resource("/admin/audit").route(web::get().to(admin::get_audit)))
                .service(web::resource("/admin/outbox").route(web::get().to(admin::get_outbox))),
        );
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(json_error)
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            AppError::PayloadTooLarge.into()
        }
        JsonPayloadError::ContentType => AppError::UnsupportedMediaType.into(),
        JsonPayloadError::Deserialize(e) => {
            AppError::BadRequest(format!("invalid JSON body: {e}")).into()
        }
        other => AppError::BadRequest(format!("invalid JSON body: {other}")).into(),
    }
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    AppError::BadRequest(format!("invalid query string: {err}")).into()
}

fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    AppError::NotFound("not_found").into()
}

/// Under `clock.start`, every response says the clock is a rehearsal and what time it shows.
pub async fn rehearsal_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut res = next.call(req).await?;
    if let Some(state) = state.filter(|s| s.clock.is_rehearsal()) {
        let now = instant(state.clock.now(), state.default_tz());
        let headers = res.headers_mut();
        headers.insert(
            HeaderName::from_static("x-madoguchi-clock"),
            HeaderValue::from_static("rehearsal"),
        );
        if let Ok(v) = HeaderValue::from_str(&now) {
            headers.insert(HeaderName::from_static("x-madoguchi-now"), v);
        }
    }
    Ok(res)
}

/// The per-IP rate-limit key: SHA-256 of the client address (the first X-Forwarded-For
/// entry when configured to trust a proxy), so the address itself is never stored.
pub fn client_ip_key(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
        })
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let ip = forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".into());
    crate::tokens::sha256_hex(ip.as_bytes())
}
