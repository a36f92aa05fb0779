//! The OpenAPI 3.1 document, generated from the code: utoipa reads the handlers' annotations
//! and the request and response types; the route table completes it with what it alone
//! knows (who may call each route, every error code each route can answer, with a Japanese
//! example of each). Served at `/api/openapi.json`, rendered at `/docs` by a Swagger UI whose
//! assets are in the binary (no CDN).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use super::problem::{Problem, ProblemExtra, ProblemJson};
use super::route::{api, own};
use super::route::{Access, ApiRoute};
use super::state::AppState;
use crate::error::{ErrorCode, Facts, Lang};
use crate::staff::Role;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "madoguchi (窓口)",
        description = "The booking API of a city's My Number card special counter (マイナンバー特設窓口): \
residents book by email verification, phone staff book for callers, the front desk runs the day's queue \
(reserved visitors first), administrators set capacity, closures and accounts.\n\n\
Every error is `application/problem+json` with a stable `code`; titles and details are Japanese for \
`Accept-Language: ja`. Instants are RFC 3339 with the counter's offset, dates `YYYY-MM-DD`. \
The service never accepts or stores an individual number (マイナンバー) or a PIN.",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(ProblemJson, ProblemExtra, ErrorCode)),
    tags(
        (name = "calendar", description = "Counters, procedures and availability (public)"),
        (name = "booking", description = "Residents: email verification, booking, the manage link"),
        (name = "staff", description = "Staff sign-in, phone bookings, search and cancel"),
        (name = "desk", description = "The front desk: check-in, walk-ins, calls, the waiting-room stream"),
        (name = "tickets", description = "A visitor's ticket on their phone: place in line, the wait, the desk when called (public, by the ticket's QR code)"),
        (name = "admin", description = "Accounts, capacity, closures, audit log, outbox"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "pages", description = "HTML pages served by the same binary"),
    )
)]
struct ApiDoc;

/// The document as served: utoipa's (the areas' operations merged in, in their order),
/// completed from the route table.
pub(crate) fn document(table: &[ApiRoute], areas: Vec<utoipa::openapi::OpenApi>) -> Value {
    let mut api = ApiDoc::openapi();
    for area in areas {
        api.merge(area);
    }
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    complete(&mut doc, table);
    doc
}

/// The document, serialised once at start-up.
pub(crate) fn document_json(table: &[ApiRoute], areas: Vec<utoipa::openapi::OpenApi>) -> String {
    serde_json::to_string(&document(table, areas)).unwrap_or_else(|_| "{}".into())
}

fn method_key(m: &Method) -> String {
    m.as_str().to_ascii_lowercase()
}

/// Codes every route of a kind can answer, besides its own list.
fn common_errors(route: &ApiRoute, op: &Value) -> Vec<ErrorCode> {
    let mut codes = vec![ErrorCode::InternalError];
    let api = route.path.starts_with("/api/v1/");
    if api || route.path == "/readyz" {
        codes.push(ErrorCode::DatabaseUnavailable);
    }
    if api && route.access == Access::Public {
        // The public lane sheds what the database cannot take in time (`db::Lane`).
        codes.push(ErrorCode::Busy);
    }
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    if params.iter().any(|p| p["in"] == "path") {
        codes.push(ErrorCode::NotFound);
    }
    if params.iter().any(|p| p["in"] == "query") {
        codes.push(ErrorCode::BadRequest);
        codes.push(ErrorCode::ValidationFailed);
    }
    if op.get("requestBody").is_some() {
        codes.extend([
            ErrorCode::BadRequest,
            ErrorCode::ValidationFailed,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::RequestTimeout,
        ]);
    }
    if let Access::Staff(roles) = route.access {
        // Every staff route: no session, the wrong network, a session that must enrol first.
        codes.push(ErrorCode::Unauthenticated);
        codes.push(ErrorCode::NetworkNotAllowed);
        codes.push(ErrorCode::TotpEnrolmentRequired);
        // A role it does not admit, or a kiosk at another counter than its own.
        let every = [Role::Phone, Role::Desk, Role::Kiosk];
        if !every.iter().all(|r| roles.contains(r)) || route.access == super::route::COUNTER {
            codes.push(ErrorCode::Forbidden);
        }
    }
    codes
}

/// A Japanese example of a problem with this code, as the API would answer it.
fn example(code: ErrorCode) -> Value {
    let problem = Problem {
        code,
        facts: Facts::default(),
        errors: Vec::new(),
        extra: ProblemExtra::default(),
    };
    serde_json::to_value(problem.render(Lang::Ja)).unwrap_or(Value::Null)
}

fn complete(doc: &mut Value, table: &[ApiRoute]) {
    add_links(doc);
    doc["components"]["securitySchemes"]["bearer"] = json!({
        "type": "http",
        "scheme": "bearer",
        "description": "A staff session token from POST /api/v1/staff/sessions"
    });
    for route in table {
        let method = method_key(&route.method);
        let Some(op) = doc["paths"][route.path].get_mut(&method) else {
            continue;
        };
        let mut codes: Vec<ErrorCode> = route.errors.to_vec();
        for c in common_errors(route, op) {
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
        let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
        for c in codes {
            by_status.entry(c.status()).or_default().push(c);
        }
        let responses = op["responses"]
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut responses: Map<String, Value> = responses;
        for (status, codes) in by_status {
            let description = codes
                .iter()
                .map(|c| format!("`{}`: {}", c.as_str(), c.title(Lang::En)))
                .collect::<Vec<_>>()
                .join("; ");
            let examples: Map<String, Value> = codes
                .iter()
                .map(|c| {
                    (
                        c.as_str().to_string(),
                        json!({ "summary": c.title(Lang::En), "value": example(*c) }),
                    )
                })
                .collect();
            responses.insert(
                status.to_string(),
                json!({
                    "description": description,
                    "content": { "application/problem+json": {
                        "schema": { "$ref": "#/components/schemas/ProblemJson" },
                        "examples": examples,
                    }}
                }),
            );
        }
        op["responses"] = Value::Object(responses);
        op["x-error-codes"] = json!(route.errors.iter().map(|c| c.as_str()).collect::<Vec<_>>());
        if let Access::Staff(roles) = route.access {
            op["security"] = json!([{ "bearer": [] }]);
            let mut who: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            who.push("admin");
            op["x-roles"] = json!(who);
        }
    }
}

/// Links between operations (OpenAPI 3.1 `links`): what one answer gives the next request,
/// for clients and for stateful testing (schemathesis follows them).
/// (from path, from method, status, link name, target operation, parameters).
type Link = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const LINKS: &[Link] = &[
    // (from path, from method, status, link name, to operationRef, parameters)
    (
        "/api/v1/staff/reservations",
        "post",
        "201",
        "GetReservation",
        "#/paths/~1api~1v1~1staff~1reservations~1{reservation_number}/get",
        &[("reservation_number", "$response.body#/reservation_number")],
    ),
    (
        "/api/v1/staff/reservations",
        "post",
        "201",
        "CancelReservation",
        "#/paths/~1api~1v1~1staff~1reservations~1{reservation_number}~1cancel/post",
        &[("reservation_number", "$response.body#/reservation_number")],
    ),
    (
        "/api/v1/admin/staff",
        "post",
        "201",
        "ChangeAccount",
        "#/paths/~1api~1v1~1admin~1staff~1{login}/patch",
        &[("login", "$response.body#/login")],
    ),
    (
        "/api/v1/admin/staff",
        "post",
        "201",
        "ResetPassword",
        "#/paths/~1api~1v1~1admin~1staff~1{login}~1password/put",
        &[("login", "$response.body#/login")],
    ),
    (
        "/api/v1/desk/{counter}/calls",
        "post",
        "200",
        "Complete",
        "#/paths/~1api~1v1~1desk~1{counter}~1tickets~1{ticket}~1complete/post",
        &[
            ("counter", "$request.path.counter"),
            ("ticket", "$response.body#/ticket"),
        ],
    ),
    (
        "/api/v1/desk/{counter}/calls",
        "post",
        "200",
        "NoShow",
        "#/paths/~1api~1v1~1desk~1{counter}~1tickets~1{ticket}~1no-show/post",
        &[
            ("counter", "$request.path.counter"),
            ("ticket", "$response.body#/ticket"),
        ],
    ),
    (
        "/api/v1/desk/{counter}/calls",
        "post",
        "200",
        "Recall",
        "#/paths/~1api~1v1~1desk~1{counter}~1tickets~1{ticket}~1recall/post",
        &[
            ("counter", "$request.path.counter"),
            ("ticket", "$response.body#/ticket"),
        ],
    ),
    (
        "/api/v1/admin/counters/{counter}/closures",
        "post",
        "201",
        "LiftClosure",
        "#/paths/~1api~1v1~1admin~1counters~1{counter}~1closures~1{date}/delete",
        &[
            ("counter", "$request.path.counter"),
            ("date", "$response.body#/date"),
        ],
    ),
];

fn add_links(doc: &mut Value) {
    for (path, method, status, name, to, params) in LINKS {
        let response = &mut doc["paths"][*path][*method]["responses"][*status];
        if !response.is_object() {
            continue;
        }
        let parameters: Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        response["links"][*name] = json!({ "operationRef": to, "parameters": parameters });
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
pub(crate) async fn get_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.as_str().to_owned())
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// `/docs`: Swagger UI (assets in the binary) rendering `/api/openapi.json`.
pub(crate) fn docs(cfg: &mut web::ServiceConfig, _openapi: Arc<String>) {
    cfg.service(web::resource("/docs").route(web::get().to(docs_redirect)))
        .service(
            utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::new(["/api/openapi.json"])),
        );
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    vec![api(
        M::GET,
        "/api/openapi.json",
        Public,
        own(&[]),
        get_openapi,
    )]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_openapi))]
pub(super) struct Paths;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{api_routes, area_paths};

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "patch", "options", "head", "trace",
    ];

    #[test]
    fn the_spec_describes_exactly_the_routes_that_exist() {
        let doc = document(&api_routes(), area_paths());
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let table: Vec<(String, String)> = api_routes()
            .iter()
            .map(|r| (method_key(&r.method), r.path.to_string()))
            .collect();
        let mut described = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS {
                if item.get(m).is_some() {
                    described.push((m.to_string(), path.clone()));
                }
            }
        }
        for r in &table {
            assert!(described.contains(r), "route {r:?} is not in the spec");
        }
        for d in &described {
            assert!(
                table.contains(d),
                "the spec names {d:?}, which is not a route"
            );
        }
        assert_eq!(table.len(), described.len());
    }

    #[test]
    fn every_link_points_at_an_operation_that_exists() {
        let doc = document(&api_routes(), area_paths());
        for (path, method, status, name, to, _) in LINKS {
            let link = &doc["paths"][*path][*method]["responses"][*status]["links"][*name];
            assert!(link.is_object(), "{path} {method} {status} {name}");
            let pointer = to.trim_start_matches('#').to_string();
            assert!(doc.pointer(&pointer).is_some(), "{to}");
        }
    }

    #[test]
    fn every_route_lists_its_error_codes_with_japanese_examples() {
        let doc = document(&api_routes(), area_paths());
        for r in api_routes() {
            let op = &doc["paths"][r.path][method_key(&r.method)];
            for code in &r.errors {
                let status = code.status().to_string();
                let example = &op["responses"][&status]["content"]["application/problem+json"]
                    ["examples"][code.as_str()]["value"];
                assert_eq!(example["code"], code.as_str(), "{} {}", r.method, r.path);
                assert_eq!(example["title"], code.title(Lang::Ja));
            }
            if let Access::Staff(_) = r.access {
                assert_eq!(op["security"][0]["bearer"], json!([]), "{}", r.path);
                assert!(op["responses"]["401"].is_object(), "{}", r.path);
            }
        }
    }
}
