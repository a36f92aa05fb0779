//! actix only: state, middleware, problem+json, and one file per area with its handlers and
//! its rows of the route table.
//!
//! Every route is one row of [`api_routes`]: method, path, who may call it, the error codes
//! it can answer, and the handler; each area's file lists its own (`routes()`). The server
//! registers the table and the OpenAPI spec is generated from the handlers' annotations and
//! completed from the same table (errors, security), so a route and its documentation cannot
//! drift apart; a test checks that the spec describes exactly the table.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod boards;
pub(crate) mod body;
pub(crate) mod booking;
pub(crate) mod calendar;
pub(crate) mod client;
pub(crate) mod desk;
pub(crate) mod display;
pub(crate) mod documented;
pub(crate) mod encoded;
pub(crate) mod fair_start;
pub(crate) mod feeds;
pub(crate) mod health;
pub(crate) mod held;
pub(crate) mod holds;
pub(crate) mod jobs;
pub(crate) mod json;
pub(crate) mod kept;
pub(crate) mod lottery;
pub(crate) mod lottery_marks;
pub(crate) mod metrics;
pub(crate) mod middleware;
pub(crate) mod openapi;
pub(crate) mod pages;
pub(crate) mod print;
pub(crate) mod problem;
pub(crate) mod reservations;
pub(crate) mod route;
pub(crate) mod staff;
pub(crate) mod state;
pub(crate) mod tickets;
pub(crate) mod verifications;
pub(crate) mod waitlist;

use std::sync::Arc;

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::{guard, web, HttpRequest};

use crate::error::ErrorCode;
use problem::AppError;
use route::ApiRoute;

pub(crate) use middleware::{cors, frame, public_side_only, refuse_while_stopping};
pub use route::Access;
pub use state::AppState;

/// The route table: every endpoint the service answers (the pages' static assets and the
/// `/docs` viewer excepted), in registration order.
pub fn api_routes() -> Vec<ApiRoute> {
    [
        health::routes(),
        metrics::routes(),
        openapi::routes(),
        pages::routes(),
        calendar::routes(),
        verifications::routes(),
        reservations::routes(),
        holds::routes(),
        waitlist::routes(),
        lottery::routes(),
        staff::routes(),
        account::routes(),
        admin::routes(),
        jobs::routes(),
        desk::routes(),
        tickets::routes(),
        print::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Each area's operations for the OpenAPI document, in the table's order.
pub(crate) fn area_paths() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        health::Paths::openapi(),
        metrics::Paths::openapi(),
        openapi::Paths::openapi(),
        pages::Paths::openapi(),
        calendar::Paths::openapi(),
        verifications::Paths::openapi(),
        reservations::Paths::openapi(),
        holds::Paths::openapi(),
        waitlist::Paths::openapi(),
        lottery::Paths::openapi(),
        staff::Paths::openapi(),
        account::Paths::openapi(),
        admin::Paths::openapi(),
        jobs::Paths::openapi(),
        desk::Paths::openapi(),
        tickets::Paths::openapi(),
        print::Paths::openapi(),
    ]
}

/// The OpenAPI document of the route table, serialised once at start-up.
pub(crate) fn openapi_json() -> String {
    openapi::document_json(&api_routes(), area_paths())
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
pub(crate) fn routes(cfg: &mut web::ServiceConfig, openapi: Arc<String>) {
    cfg.app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error));
    let mut resources: Vec<(&'static str, actix_web::Resource)> = Vec::new();
    // Paths are matched in registration order, one by one: the reads every browser repeats
    // (the calendar's) and every phone in a waiting room (a ticket's view) come first, so a
    // storm of them is routed after a comparison or two (a profile of 1,000 phones asking for
    // their tickets, routed last, spent a fifth of the time in the router's regexes).
    let hot_path = |p: &str| {
        p.starts_with("/api/v1/counters")
            || p == "/api/v1/procedures"
            || p.starts_with("/api/v1/tickets/")
    };
    let (hot, rest): (Vec<ApiRoute>, Vec<ApiRoute>) =
        api_routes().into_iter().partition(|r| hot_path(r.path));
    for r in hot.into_iter().chain(rest) {
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
