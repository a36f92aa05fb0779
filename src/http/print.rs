//! The printed ticket: `GET /desk/tickets/{ticket}/print?counter=C&date=D`, a page laid out
//! for an 80 mm receipt printer (`crate::web::print`), for the desk, an administrator, or the
//! counter's kiosk.

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Authorized, CounterStaff};
use super::calendar::check_date_range;
use super::problem::AppError;
use super::route::{api, codes, ApiRoute, COUNTER};
use super::state::AppState;
use crate::error::{ErrorCode, FieldProblem, Invalid};
use crate::mail::links::{instant_label, instant_label_en, Links};
use crate::queue::model::TicketKind;
use crate::queue::service::DeskError;
use crate::text::parse_label;
use crate::web::print::{self, PrintedTicket};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PrintQuery {
    /// The counter whose ticket it is.
    counter: Option<String>,
    /// Default: the counter's today.
    #[param(value_type = Option<String>, format = Date)]
    date: Option<NaiveDate>,
}

/// A ticket laid out for an 80 mm receipt printer: number, QR code of its page, procedure,
/// time, estimated wait, the counter's name. Fetch it with the session and print it from a
/// frame.
#[utoipa::path(get, path = "/desk/tickets/{ticket}/print", tag = "desk",
    params(("ticket" = String, Path, example = "W-034"), PrintQuery),
    responses((status = 200, description = "The ticket's page", content_type = "text/html")))]
pub(crate) async fn get_print(
    state: web::Data<AppState>,
    user: Authorized<CounterStaff>,
    path: web::Path<String>,
    query: web::Query<PrintQuery>,
) -> Result<HttpResponse, AppError> {
    let PrintQuery { counter, date } = query.into_inner();
    let counter = counter
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Invalid::field("counter", FieldProblem::Required))?;
    user.serves(&counter)?;
    let c = state.calendar.get_counter(&counter)?.clone();
    let today = c.today(state.clock.now());
    let day = check_date_range("date", date.unwrap_or(today))?;
    // A kiosk prints the tickets it is issuing: today's only.
    if user.role == crate::staff::Role::Kiosk && day != today {
        return Err(ErrorCode::Forbidden.into());
    }
    let label = parse_label(&path.into_inner(), 16)
        .map_err(|p| Invalid::field("ticket", p))?
        .to_ascii_uppercase();
    let (id, l) = (counter.clone(), label);
    let ticket = state
        .db
        .run(move |conn| crate::queue::follow::ticket_of_day(conn, &id, day, &l))
        .await?;
    let view = super::tickets::followed(&state, &ticket.public_id).await?;
    let tz = c.tz;
    let issued = ticket.issued_at.and_utc();
    let url = Links::new(&state.settings.public_url).ticket(&ticket.public_id);
    let qr_svg = crate::qr::svg(&url, 240).map_err(AppError::unexpected)?;
    let (kind_ja, kind_en) = match ticket.kind {
        TicketKind::Reserved => ("ご予約の方", "Booked"),
        TicketKind::WalkIn => ("予約なしの方", "Walk-in"),
    };
    Ok(print::page(&PrintedTicket {
        counter_name: c.name.clone(),
        label: ticket.label.clone(),
        kind_ja,
        kind_en,
        procedure: ticket
            .procedure_id
            .as_deref()
            .and_then(|p| state.catalogue.get(p))
            .map(|p| (p.name.clone(), p.name_en.clone())),
        issued: (instant_label(issued, tz), instant_label_en(issued, tz)),
        position: view.position,
        estimated_wait_minutes: view.estimated_wait_minutes,
        url,
        qr_svg,
    }))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    vec![api(
        Method::GET,
        "/desk/tickets/{ticket}/print",
        COUNTER,
        // Not under /api/v1/, so the database's 503 is named here.
        codes::<(DeskError, Invalid)>(&[ErrorCode::DatabaseUnavailable]),
        get_print,
    )]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_print))]
pub(super) struct Paths;
