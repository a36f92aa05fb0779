//! The middleware of every answer (its frame: lane, log span, metrics, cache and clock
//! headers; CORS; the public listener's gate) and the client address key.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::json::instant;
use super::state::AppState;

/// Requests seen by this process: each request's id in its log span.
static REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What every request goes through, in one pass (one middleware rather than five: a storm of
/// revalidations is answered at the machine's rate only if the frame around each is thin):
///
/// - its lane at the database ([`crate::db::Lane`]): the staff side's requests in the staff
///   lane, every other in the public one;
/// - its log span: method, route *template* (never the path, which carries tokens), a request
///   id, the status; a 5xx is logged as a warning;
/// - its metrics: count and duration by method, route template and status;
/// - `Cache-Control: no-store` on an `/api/v1` answer that set none (answers carry personal
///   data or tokens unless they say otherwise);
/// - the security headers every answer carries ([`security_headers`]);
/// - the clock's headers: every API answer says what time the server's clock shows
///   (`X-Madoguchi-Now`, unless the handler named the instant it judged at), and under
///   `clock.start` that the clock is a rehearsal (`X-Madoguchi-Clock`).
pub(crate) async fn frame(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (api, clocked, lane) = {
        let path = req.path();
        let api = path.starts_with("/api/");
        let lane = if is_staff_path(path) {
            crate::db::Lane::Staff
        } else {
            crate::db::Lane::Public
        };
        (api, api || path == "/healthz", lane)
    };
    let method = method_label(req.method());
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let id = REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let span = tracing::info_span!(
        "http",
        http.method = method,
        http.route = %route,
        request_id = id,
        http.status = tracing::field::Empty,
    );
    let outcome = crate::db::in_lane(lane, next.call(req))
        .instrument(span.clone())
        .await;
    let status = match &outcome {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    span.record("http.status", status);
    if status >= 500 {
        span.in_scope(|| tracing::warn!(http.status = status, "request failed"));
    }
    let mut res = outcome?;
    if let Some(state) = state {
        let m = &state.metrics;
        m.http_requests
            .get_or_create(&crate::metrics::HttpLabels {
                method: method.to_string(),
                route: route.clone(),
                status,
            })
            .inc();
        m.http_duration
            .get_or_create(&crate::metrics::RouteLabels {
                method: method.to_string(),
                route,
            })
            .observe(started.elapsed().as_secs_f64());
        clock_headers(&state, res.headers_mut(), clocked);
    }
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
    security_headers(res.headers_mut());
    Ok(res)
}

/// On every answer that did not set its own (the pages set a Content-Security-Policy too): no
/// content sniffing, no Referer (links carry tokens), no framing by another site.
fn security_headers(headers: &mut actix_web::http::header::HeaderMap) {
    use actix_web::http::header;
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// A method as a metric label, without allocating for the usual ones.
fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    match *m {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `X-Madoguchi-Now` on API answers (kept when the handler set it: the instant it judged
/// at), and `X-Madoguchi-Clock: rehearsal` on every answer under a rehearsal clock.
fn clock_headers(state: &AppState, headers: &mut actix_web::http::header::HeaderMap, api: bool) {
    let rehearsal = state.clock.is_rehearsal();
    if (api || rehearsal) && !headers.contains_key(X_MADOGUCHI_NOW) {
        if let Some(v) = now_header(state, state.clock.now()) {
            headers.insert(X_MADOGUCHI_NOW, v);
        }
    }
    if rehearsal {
        headers.insert(
            HeaderName::from_static("x-madoguchi-clock"),
            HeaderValue::from_static("rehearsal"),
        );
    }
}

/// The paths of the staff side: staff requests, the waiting-room screens and the printed
/// tickets.
const STAFF_PATHS: [&str; 4] = [
    "/api/v1/staff/",
    "/api/v1/desk/",
    "/api/v1/admin/",
    "/desk/",
];

/// Whether `path` is the staff side's (its own lane at the database, never shed).
pub(crate) fn is_staff_path(path: &str) -> bool {
    STAFF_PATHS.iter().any(|p| path.starts_with(p))
}

/// The pages of the staff side (the console, the waiting-room screens, the kiosks).
const STAFF_PAGES: [&str; 4] = ["/staff/", "/display/", "/staff", "/kiosk/"];

/// While the process stops (SIGTERM): a request not yet taken is answered 503 `busy` with
/// `Retry-After` and `Connection: close` (the next process, or another instance behind the
/// proxy, answers the retry); requests already taken finish.
pub(crate) async fn refuse_while_stopping<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    let stopping = req
        .app_data::<actix_web::web::Data<AppState>>()
        .is_some_and(|s| s.stopping.is_stopping());
    if stopping {
        let (req, _) = req.into_parts();
        let mut res = actix_web::ResponseError::error_response(&super::problem::AppError::busy());
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(ServiceResponse::new(req, res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

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

/// `now` as an `X-Madoguchi-Now` value (to the second, in the counters' zone), formatted once
/// a second per worker thread rather than once an answer.
pub(crate) fn now_header(
    state: &AppState,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(i64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let second = now.timestamp();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((s, v)) = last.as_ref() {
            if *s == second {
                return Some(v.clone());
            }
        }
        let v = HeaderValue::from_str(&instant(now, state.default_tz())).ok()?;
        *last = Some((second, v.clone()));
        Some(v)
    })
}

/// The instant the server's clock showed when it judged the answer.
pub(crate) const X_MADOGUCHI_NOW: HeaderName = HeaderName::from_static("x-madoguchi-now");

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
