//! actix only: routes, request parsing into domain types, rendering.

pub mod calendar;
pub mod health;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
    pub clock: SharedClock,
    pub db: Db,
}

impl AppState {
    /// The zone instants are shown in when no counter is named (the first counter's).
    pub fn default_tz(&self) -> Tz {
        self.calendar
            .counters()
            .first()
            .map(|c| c.tz)
            .unwrap_or(chrono_tz::Asia::Tokyo)
    }
}

/// An instant as RFC 3339 with the zone's offset, to the second: `2027-01-15T09:00:00+09:00`.
pub fn instant(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Registers every route. The app factory in `startup` wraps it with the middleware.
pub fn routes(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.app_data(json_config(max_body_bytes))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::PayloadConfig::new(max_body_bytes))
        .service(web::resource("/healthz").route(web::get().to(health::get_healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::get_readyz)))
        .service(
            web::scope("/api/v1")
                .service(web::resource("/counters").route(web::get().to(calendar::get_counters)))
                .service(
                    web::resource("/procedures").route(web::get().to(calendar::get_procedures)),
                )
                .service(
                    web::resource("/counters/{counter}/availability")
                        .route(web::get().to(calendar::get_availability)),
                ),
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
