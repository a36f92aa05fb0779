//! `GET /metrics` (Prometheus text), for those allowed to read it, from memory.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;

use super::problem::AppError;
use super::route::{api, own, Access, ApiRoute};
use super::state::AppState;
use crate::error::ErrorCode;
use crate::metrics::{CounterLabels, StatusLabels};
use actix_web::http::Method;

/// The metrics in Prometheus text format, from memory (the gauges that need the database are
/// refreshed in the background: [`refresh_gauges`]); only for a configured token or network
/// (anyone else: 404, as if there were none).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub(crate) async fn get_metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    if !state.metrics_access.admits(&state.clients, &req) {
        return Err(ErrorCode::NotFound.into());
    }
    let text = state
        .metrics
        .render(|_| {})
        .map_err(|e| AppError::unexpected(anyhow::anyhow!("encoding metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}

/// The gauges read from the database (the outbox by status, the queues waiting, whether the
/// database answers), refreshed on the background connection every few seconds instead of
/// at every scrape.
pub(crate) async fn refresh_gauges(state: &AppState) {
    let counters: Vec<(String, NaiveDate)> = {
        let now = state.clock.now();
        state
            .calendar
            .counters()
            .iter()
            .map(|c| (c.id.clone(), c.today(now)))
            .collect()
    };
    let gauges = state
        .db
        .run_background(move |conn| {
            let outbox = crate::mail::outbox::count_by_status(conn)?;
            let mut waiting = Vec::new();
            for (counter, day) in counters {
                let n = crate::queue::count_waiting(conn, &counter, day)?;
                waiting.push((counter, n));
            }
            Ok::<_, diesel::result::Error>((outbox, waiting))
        })
        .await;
    let m = &state.metrics;
    let Ok((outbox, waiting)) = gauges else {
        m.db_ready.set(0);
        return;
    };
    m.db_ready.set(1);
    for status in crate::mail::OutboxStatus::ALL {
        let n = outbox
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        m.outbox_depth
            .get_or_create(&StatusLabels {
                status: status.as_str().into(),
            })
            .set(n);
    }
    for (counter, n) in waiting {
        m.queue_waiting
            .get_or_create(&CounterLabels { counter })
            .set(n);
    }
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    vec![api(
        M::GET,
        "/metrics",
        Public,
        own(&[ErrorCode::NotFound]),
        get_metrics,
    )]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_metrics))]
pub(super) struct Paths;
