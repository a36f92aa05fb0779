//! The middleware of every answer (cache headers, the clock's headers, CORS) and the client
//! address key.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};

use super::json::instant;
use super::state::AppState;

/// API answers carry personal data or tokens unless they say otherwise: `Cache-Control:
/// no-store` on every `/api/v1` response that did not set its own (the public calendar sets
/// `no-cache` with an ETag), so no shared or browser cache keeps a reservation or a token.
pub(crate) async fn cache_control(
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

/// The paths of the staff side: staff requests and the waiting-room screens.
const STAFF_PATHS: [&str; 3] = ["/api/v1/staff/", "/api/v1/desk/", "/api/v1/admin/"];

/// Whether `path` is the staff side's (its own lane at the database, never shed).
pub(crate) fn is_staff_path(path: &str) -> bool {
    STAFF_PATHS.iter().any(|p| path.starts_with(p))
}

/// The pages of the staff side (the console, the waiting-room screens).
const STAFF_PAGES: [&str; 3] = ["/staff/", "/display/", "/staff"];

/// On a public listener when the staff side has its own (`server.staff_bind`): the staff
/// side's API and pages answer 404, as if they did not exist here.
pub(crate) async fn public_side_only<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    let path = req.path();
    let staff_page = STAFF_PAGES
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)));
    if is_staff_path(path) || staff_page {
        let (req, _) = req.into_parts();
        let res = super::problem::AppError::new(crate::error::ErrorCode::NotFound);
        let mut res = actix_web::ResponseError::error_response(&res);
        res.extensions_mut().insert(super::problem::NotTheRoutes);
        return Ok(ServiceResponse::new(req, res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Puts each request in its lane at the database ([`crate::db::Lane`]): the staff side's
/// requests in the staff lane, everything else in the public one.
pub(crate) async fn lane(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let lane = if is_staff_path(req.path()) {
        crate::db::Lane::Staff
    } else {
        crate::db::Lane::Public
    };
    crate::db::in_lane(lane, next.call(req)).await
}

/// The instant the server's clock showed when it judged the answer.
pub(crate) const X_MADOGUCHI_NOW: HeaderName = HeaderName::from_static("x-madoguchi-now");

/// Under `clock.start`, every response says the clock is a rehearsal and what time it shows.
///
/// Every API response says what time the server's clock shows (`X-Madoguchi-Now`), so pages
/// count down to a window's opening by the server's clock, not the browser's; under
/// `clock.start`, `X-Madoguchi-Clock: rehearsal` says that clock is a rehearsal.
pub(crate) async fn rehearsal_headers(
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
pub(crate) fn client_ip_key(req: &HttpRequest, trust_forwarded_for: bool) -> String {
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
pub(crate) fn cors(origins: &[String]) -> actix_cors::Cors {
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
