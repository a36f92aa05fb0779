//! actix only: the route table, request parsing into domain types, rendering.
//!
//! Every route is one row of [`api_routes`]: method, path, who may call it, the error codes
//! it can answer, and the handler. The server registers the table and the OpenAPI spec is
//! generated from the handlers' annotations and completed from the same table (errors,
//! security), so a route and its documentation cannot drift apart; a test checks that the
//! spec describes exactly the table.

pub mod admin;
pub mod auth;
pub mod body;
pub mod calendar;
pub mod desk;
pub mod health;
pub mod jobs;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod reservations;
pub mod staff;
pub mod verifications;
pub mod waitlist;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{guard, web, FromRequest, Handler, HttpRequest, Responder, Route};
use chrono_tz::Tz;
use tokio::sync::Notify;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ErrorCode;
use crate::mail::deliver::Mailer;
use crate::metrics::Metrics;
use crate::reservations::service::Ctx;
use crate::staff::Role;
use problem::AppError;

pub use json::instant;

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
    pub clock: SharedClock,
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub metrics: Arc<Metrics>,
    /// Poked after a write that enqueued mail, so the worker sends it without waiting to poll.
    pub mail_notify: Arc<Notify>,
    /// Woken after a call or recall, so waiting-room screens show it at once.
    pub display_notify: Arc<Notify>,
    /// The domain of Message-IDs (the sender's).
    pub message_domain: Arc<str>,
    /// The OpenAPI document, generated once at start-up.
    pub openapi: Arc<String>,
    /// The scheduled jobs and their parsed schedules.
    pub jobs: Arc<Vec<crate::jobs::Scheduled>>,
}

impl AppState {
    /// A full slot's alternatives, read after (outside) the booking's transaction; none when
    /// they cannot be read (the refusal still stands).
    pub async fn alternatives(
        &self,
        slot: &crate::calendar::SlotId,
        taker: crate::calendar::Taker,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<crate::calendar::availability::SlotView> {
        let Ok((counter, def)) = self.calendar.resolve(slot) else {
            return Vec::new();
        };
        let (calendar, counter) = (self.calendar.clone(), counter.clone());
        let found = self
            .db
            .run(move |conn| {
                crate::reservations::service::alternatives(
                    conn, &calendar, &counter, &def, taker, now,
                )
            })
            .await;
        match found {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "could not list alternatives");
                Vec::new()
            }
        }
    }

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

    /// A counter's zone (the default one for an unknown id).
    pub fn tz_of(&self, counter_id: &str) -> Tz {
        self.calendar
            .counter(counter_id)
            .map(|c| c.tz)
            .unwrap_or_else(|| self.default_tz())
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A bearer token of one of these roles (`admin` is always admitted).
    Staff(&'static [Role]),
}

pub const PHONE: Access = Access::Staff(&[Role::Phone]);
pub const DESK: Access = Access::Staff(&[Role::Desk]);
pub const ANY_STAFF: Access = Access::Staff(&[Role::Phone, Role::Desk]);
pub const ADMIN: Access = Access::Staff(&[]);

/// One row of the route table.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The codes this route answers besides the ones every route of its kind can (see
    /// `openapi::common_errors`).
    pub errors: &'static [ErrorCode],
    pub route: Route,
}

fn api<F, Args>(
    method: Method,
    path: &'static str,
    access: Access,
    errors: &'static [ErrorCode],
    handler: F,
) -> ApiRoute
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    ApiRoute {
        method,
        path,
        access,
        errors,
        route: web::route().to(handler),
    }
}

/// The route table: every endpoint the service answers (the pages' static assets and the
/// `/docs` viewer excepted), in registration order.
pub fn api_routes() -> Vec<ApiRoute> {
    use crate::web as pages;
    use Access::Public;
    use ErrorCode as E;
    use Method as M;
    const BOOKING: &[ErrorCode] = &[
        E::ContainsIndividualNumber,
        E::SlotNotFound,
        E::ProcedureNotFound,
        E::DayClosed,
        E::SlotFull,
        E::WindowNotOpen,
        E::WindowClosed,
        E::ActiveReservationExists,
    ];
    const TICKET: &[ErrorCode] = &[E::CounterNotFound, E::TicketNotFound, E::TicketNotCalled];
    const SECOND_VISIT: &[ErrorCode] = &[
        E::ReservationNotFound,
        E::SecondVisitNotNeeded,
        E::FirstVisitNotCompleted,
        E::SecondVisitTooEarly,
        E::SecondVisitTooLate,
        E::SecondVisitExists,
        E::SlotNotFound,
        E::DayClosed,
        E::SlotFull,
        E::WindowNotOpen,
        E::WindowClosed,
    ];
    vec![
        // Operations.
        api(M::GET, "/healthz", Public, &[], health::get_healthz),
        api(
            M::GET,
            "/readyz",
            Public,
            &[E::DatabaseUnavailable],
            health::get_readyz,
        ),
        api(M::GET, "/metrics", Public, &[], metrics::get_metrics),
        api(
            M::GET,
            "/api/openapi.json",
            Public,
            &[],
            openapi::get_openapi,
        ),
        // Pages.
        api(M::GET, "/", Public, &[], pages::get_resident_page),
        api(
            M::GET,
            "/booking/verify",
            Public,
            &[],
            pages::get_verify_page,
        ),
        api(
            M::GET,
            "/booking/manage",
            Public,
            &[],
            pages::get_manage_page,
        ),
        api(M::GET, "/staff", Public, &[], pages::get_staff_redirect),
        api(M::GET, "/staff/", Public, &[], pages::get_staff_page),
        api(
            M::GET,
            "/display/{counter}",
            Public,
            &[],
            pages::get_display_page,
        ),
        // Calendar.
        api(
            M::GET,
            "/api/v1/counters",
            Public,
            &[],
            calendar::get_counters,
        ),
        api(
            M::GET,
            "/api/v1/procedures",
            Public,
            &[],
            calendar::get_procedures,
        ),
        api(
            M::GET,
            "/api/v1/counters/{counter}/availability",
            Public,
            &[E::CounterNotFound],
            calendar::get_availability,
        ),
        // Residents.
        api(
            M::POST,
            "/api/v1/verifications",
            Public,
            &[
                E::InvalidEmail,
                E::ContainsIndividualNumber,
                E::CounterNotFound,
                E::SlotNotFound,
                E::DayClosed,
                E::RateLimited,
            ],
            verifications::post_verification,
        ),
        api(
            M::GET,
            "/api/v1/verifications/{token}",
            Public,
            &[
                E::VerificationNotFound,
                E::VerificationExpired,
                E::VerificationUsed,
            ],
            verifications::get_verification,
        ),
        api(
            M::POST,
            "/api/v1/reservations",
            Public,
            &[
                E::ContainsIndividualNumber,
                E::VerificationNotFound,
                E::VerificationExpired,
                E::VerificationUsed,
                E::SlotNotFound,
                E::ProcedureNotFound,
                E::DayClosed,
                E::SlotFull,
                E::WindowNotOpen,
                E::WindowClosed,
                E::ActiveReservationExists,
            ],
            reservations::post_reservation,
        ),
        api(
            M::GET,
            "/api/v1/reservations/{manage_token}",
            Public,
            &[E::ReservationNotFound],
            reservations::get_reservation,
        ),
        api(
            M::DELETE,
            "/api/v1/reservations/{manage_token}",
            Public,
            &[E::ReservationNotFound, E::TooLateToCancel],
            reservations::delete_reservation,
        ),
        api(
            M::POST,
            "/api/v1/reservations/{manage_token}/reschedule",
            Public,
            &[
                E::ReservationNotFound,
                E::ReservationCancelled,
                E::TooLateToChange,
                E::SlotNotFound,
                E::DayClosed,
                E::SlotFull,
                E::WindowNotOpen,
                E::WindowClosed,
            ],
            reservations::post_reschedule,
        ),
        api(
            M::GET,
            "/api/v1/reservations/{manage_token}/qr.svg",
            Public,
            &[E::ReservationNotFound],
            reservations::get_reservation_qr,
        ),
        api(
            M::POST,
            "/api/v1/reservations/{manage_token}/second-visit",
            Public,
            SECOND_VISIT,
            waitlist::post_second_visit,
        ),
        // The waiting list.
        api(
            M::POST,
            "/api/v1/waitlist",
            Public,
            &[
                E::ContainsIndividualNumber,
                E::VerificationNotFound,
                E::VerificationExpired,
                E::VerificationUsed,
                E::CounterNotFound,
                E::ProcedureNotFound,
                E::DayClosed,
                E::WindowNotOpen,
                E::WindowClosed,
                E::SeatsAvailable,
                E::ActiveReservationExists,
            ],
            waitlist::post_waitlist,
        ),
        api(
            M::GET,
            "/api/v1/waitlist/{manage_token}",
            Public,
            &[E::WaitlistNotFound],
            waitlist::get_waitlist,
        ),
        api(
            M::DELETE,
            "/api/v1/waitlist/{manage_token}",
            Public,
            &[E::WaitlistNotFound],
            waitlist::delete_waitlist,
        ),
        api(
            M::POST,
            "/api/v1/waitlist/{manage_token}/accept",
            Public,
            &[
                E::WaitlistNotFound,
                E::OfferExpired,
                E::NoOffer,
                E::DayClosed,
                E::ActiveReservationExists,
            ],
            waitlist::post_waitlist_accept,
        ),
        // Staff.
        api(
            M::POST,
            "/api/v1/staff/sessions",
            Public,
            &[E::InvalidCredentials, E::RateLimited],
            staff::post_session,
        ),
        api(
            M::GET,
            "/api/v1/staff/sessions/current",
            ANY_STAFF,
            &[],
            staff::get_current_session,
        ),
        api(
            M::DELETE,
            "/api/v1/staff/sessions/current",
            ANY_STAFF,
            &[],
            staff::delete_session,
        ),
        api(
            M::POST,
            "/api/v1/staff/reservations",
            PHONE,
            BOOKING,
            staff::post_staff_reservation,
        ),
        api(
            M::GET,
            "/api/v1/staff/reservations",
            ANY_STAFF,
            &[E::CounterNotFound],
            staff::get_staff_reservations,
        ),
        api(
            M::GET,
            "/api/v1/staff/reservations/{reservation_number}",
            ANY_STAFF,
            &[E::ReservationNotFound],
            staff::get_staff_reservation,
        ),
        api(
            M::POST,
            "/api/v1/staff/reservations/{reservation_number}/cancel",
            PHONE,
            &[
                E::ReservationNotFound,
                E::TooLateToCancel,
                E::ContainsIndividualNumber,
            ],
            staff::post_staff_cancel,
        ),
        api(
            M::POST,
            "/api/v1/staff/reservations/{reservation_number}/second-visit",
            PHONE,
            SECOND_VISIT,
            waitlist::post_staff_second_visit,
        ),
        // Administration.
        api(
            M::GET,
            "/api/v1/admin/staff",
            ADMIN,
            &[],
            admin::get_staff_list,
        ),
        api(
            M::POST,
            "/api/v1/admin/staff",
            ADMIN,
            &[E::LoginTaken],
            admin::post_staff,
        ),
        api(
            M::PATCH,
            "/api/v1/admin/staff/{login}",
            ADMIN,
            &[E::StaffNotFound, E::LastAdmin],
            admin::patch_staff,
        ),
        api(
            M::PUT,
            "/api/v1/admin/staff/{login}/password",
            ADMIN,
            &[E::StaffNotFound],
            admin::put_staff_password,
        ),
        api(
            M::PUT,
            "/api/v1/admin/slots/{slot_id}",
            ADMIN,
            &[E::SlotNotFound, E::DayClosed, E::CapacityBelowBooked],
            admin::put_slot,
        ),
        api(
            M::GET,
            "/api/v1/admin/counters/{counter}/closures",
            ADMIN,
            &[E::CounterNotFound],
            admin::get_closures,
        ),
        api(
            M::POST,
            "/api/v1/admin/counters/{counter}/closures",
            ADMIN,
            &[
                E::CounterNotFound,
                E::DayAlreadyClosed,
                E::DayHasReservations,
                E::ContainsIndividualNumber,
                E::TooLateToCancel,
            ],
            admin::post_closure,
        ),
        api(
            M::DELETE,
            "/api/v1/admin/counters/{counter}/closures/{date}",
            ADMIN,
            &[E::CounterNotFound, E::ClosureNotFound],
            admin::delete_closure,
        ),
        api(M::GET, "/api/v1/admin/audit", ADMIN, &[], admin::get_audit),
        api(M::GET, "/api/v1/admin/jobs", ADMIN, &[], jobs::get_jobs),
        api(
            M::GET,
            "/api/v1/admin/stats",
            ADMIN,
            &[E::CounterNotFound, E::NotAcceptable],
            jobs::get_stats,
        ),
        api(
            M::GET,
            "/api/v1/admin/outbox",
            ADMIN,
            &[],
            admin::get_outbox,
        ),
        // The front desk.
        api(
            M::GET,
            "/api/v1/desk/{counter}/queue",
            DESK,
            &[E::CounterNotFound],
            desk::get_queue,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/check-ins",
            DESK,
            &[
                E::CounterNotFound,
                E::ReservationNotFound,
                E::ReservationCancelled,
                E::AlreadyCheckedIn,
                E::WrongCounter,
                E::NotToday,
                E::DayClosed,
            ],
            desk::post_check_in,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/walk-ins",
            DESK,
            &[E::CounterNotFound, E::ProcedureNotFound, E::DayClosed],
            desk::post_walk_in,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/calls",
            DESK,
            &[E::CounterNotFound],
            desk::post_call,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/tickets/{ticket}/complete",
            DESK,
            TICKET,
            desk::post_complete,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/tickets/{ticket}/no-show",
            DESK,
            TICKET,
            desk::post_no_show,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/tickets/{ticket}/recall",
            DESK,
            TICKET,
            desk::post_recall,
        ),
        api(
            M::GET,
            "/api/v1/desk/{counter}/display",
            Public,
            &[E::CounterNotFound],
            desk::get_display,
        ),
    ]
}

/// GET routes answer HEAD too (without a body).
fn method_guard(method: &Method) -> Box<dyn guard::Guard> {
    if method == Method::GET {
        Box::new(guard::Any(guard::Get()).or(guard::Head()))
    } else {
        Box::new(guard::Method(method.clone()))
    }
}

/// Registers the route table, the pages' assets and the `/docs` viewer. The app factory in
/// `startup` wraps it with the middleware.
pub fn routes(cfg: &mut web::ServiceConfig, openapi: Arc<String>) {
    cfg.app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error));
    let mut resources: Vec<(&'static str, actix_web::Resource)> = Vec::new();
    for r in api_routes() {
        let route = r.route.guard(GuardBox(method_guard(&r.method)));
        match resources.iter().position(|(p, _)| *p == r.path) {
            Some(i) => {
                let (path, res) = resources.remove(i);
                resources.insert(i, (path, res.route(route)));
            }
            None => resources.push((r.path, web::resource(r.path).route(route))),
        }
    }
    for (_, res) in resources {
        cfg.service(res);
    }
    crate::web::assets(cfg);
    openapi::docs(cfg, openapi);
}

/// A boxed guard as a guard (actix's `Route::guard` takes one by value).
struct GuardBox(Box<dyn guard::Guard>);

impl guard::Guard for GuardBox {
    fn check(&self, ctx: &guard::GuardContext<'_>) -> bool {
        self.0.check(ctx)
    }
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let what = match err {
        QueryPayloadError::Deserialize(e) => format!("query string: {e}"),
        other => format!("query string: {other}"),
    };
    AppError::bad_request(what).into()
}

fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    AppError::new(ErrorCode::NotFound).into()
}

/// API answers carry personal data or tokens unless they say otherwise: `Cache-Control:
/// no-store` on every `/api/v1` response that did not set its own (the public calendar sets
/// `no-cache` with an ETag), so no shared or browser cache keeps a reservation or a token.
pub async fn cache_control(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let api = req.path().starts_with("/api/v1/");
    let mut res = next.call(req).await?;
    if api
        && !res
            .headers()
            .contains_key(actix_web::http::header::CACHE_CONTROL)
    {
        res.headers_mut().insert(
            actix_web::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

/// The instant the server's clock showed when it judged the answer.
pub const X_MADOGUCHI_NOW: HeaderName = HeaderName::from_static("x-madoguchi-now");

/// Under `clock.start`, every response says the clock is a rehearsal and what time it shows.
///
/// Every API response says what time the server's clock shows (`X-Madoguchi-Now`), so pages
/// count down to a window's opening by the server's clock, not the browser's; under
/// `clock.start`, `X-Madoguchi-Clock: rehearsal` says that clock is a rehearsal.
pub async fn rehearsal_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let api = req.path().starts_with("/api/") || req.path() == "/healthz";
    let mut res = next.call(req).await?;
    let Some(state) = state else {
        return Ok(res);
    };
    let rehearsal = state.clock.is_rehearsal();
    // A handler that judged its answer by the clock has named that instant already.
    if (api || rehearsal) && !res.headers().contains_key(X_MADOGUCHI_NOW) {
        let now = instant(state.clock.now(), state.default_tz());
        if let Ok(v) = HeaderValue::from_str(&now) {
            res.headers_mut().insert(X_MADOGUCHI_NOW, v);
        }
    }
    if rehearsal {
        res.headers_mut().insert(
            HeaderName::from_static("x-madoguchi-clock"),
            HeaderValue::from_static("rehearsal"),
        );
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

/// CORS for a resident page served from another origin (`server.cors_allowed_origins`).
/// Preflights are answered; only the listed origins may read responses.
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::header;
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::ETAG,
            header::HeaderName::from_static("x-madoguchi-clock"),
            X_MADOGUCHI_NOW,
        ])
        .max_age(3600)
        // Other origins get no CORS headers (the browser keeps the answer from the page);
        // the request itself is not refused, so the service's own pages work unchanged.
        .block_on_origin_mismatch(false);
    for o in origins {
        cors = cors.allowed_origin(o.trim_end_matches('/'));
    }
    cors
}

impl AppState {
    /// The scheduler of this process.
    pub fn job_runner(&self) -> crate::jobs::Runner {
        crate::jobs::Runner {
            db: self.db.clone(),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
            calendar: self.calendar.clone(),
            catalogue: self.catalogue.clone(),
            message_domain: self.message_domain.clone(),
            metrics: self.metrics.clone(),
            schedules: self.jobs.clone(),
            instance: format!("instance-{}", uuid::Uuid::new_v4().simple()),
            mail_notify: self.mail_notify.clone(),
        }
    }
}
