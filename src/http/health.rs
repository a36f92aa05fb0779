//! `/healthz` (the process is up) and `/readyz` (the database answers; the mail transport's
//! state is reported beside it: mail down is degraded, not unready, because bookings are kept
//! in the outbox and sent when it is back).

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::AppError;
use super::route::{api, own, Access, ApiRoute};
use super::state::AppState;
use crate::error::ErrorCode;
use actix_web::http::Method;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthJson {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = HealthJson)))]
pub(crate) async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthJson { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DependencyJson {
    /// `up` or `down`.
    pub status: &'static str,
    /// `sqlite` / `postgres`; `file` / `smtp`.
    pub kind: &'static str,
    /// Why it is down (no secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadyJson {
    /// `ready`, or `degraded` when mail cannot be delivered just now.
    pub status: &'static str,
    pub database: DependencyJson,
    pub mail: DependencyJson,
}

/// Ready when the database answers (else 503); the mail transport is reported separately.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready or degraded", body = ReadyJson)))]
pub(crate) async fn get_readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state
        .db
        .run(|conn| conn.batch_execute("SELECT 1"))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "readiness check: database down");
            AppError::new(ErrorCode::DatabaseUnavailable)
        })?;
    let mail = state.mailer.check().await;
    let mail_json = DependencyJson {
        status: if mail.is_ok() { "up" } else { "down" },
        kind: state.mailer.kind(),
        error: mail.err(),
    };
    Ok(HttpResponse::Ok().json(ReadyJson {
        status: if mail_json.status == "up" {
            "ready"
        } else {
            "degraded"
        },
        database: DependencyJson {
            status: "up",
            kind: state.db.backend().as_str(),
            error: None,
        },
        mail: mail_json,
    }))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use ErrorCode as E;
    use Method as M;
    vec![
        api(M::GET, "/healthz", Public, own(&[]), get_healthz),
        api(
            M::GET,
            "/readyz",
            Public,
            own(&[E::DatabaseUnavailable]),
            get_readyz,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_healthz, get_readyz))]
pub(super) struct Paths;
