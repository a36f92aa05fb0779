//! Front desk: the queue, check-ins, walk-ins, calls, outcomes, and the waiting-room screen.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Authorized, CounterStaff, DeskStaff};
use super::body::JsonBody;
use super::calendar::check_date_range;
use super::json::{StaffReservationJson, TicketJson};
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute, COUNTER, DESK};
use super::state::AppState;
use crate::calendar::CalendarError;
use crate::error::{ErrorCode, FieldProblem, Invalid};
use crate::queue::service::DeskError;
use crate::queue::service::{self, Outcome};
use crate::queue::TicketRow;
use crate::text::parse_label;
use actix_web::http::Method;

/// A desk's name is a short label (`1`, `A`, `窓口3`): the screen and the spoken call add
/// 番窓口 / "desk" themselves. Eight characters hold no individual number in any spelling.
pub(crate) const DESK_NAME_MAX: usize = 8;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QueueQuery {
    /// Default: the counter's today.
    #[param(value_type = Option<String>, format = Date)]
    date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueJson {
    pub date: String,
    pub counter: String,
    /// Waiting tickets in the order they will be called, with position and estimate.
    pub waiting: Vec<TicketJson>,
    /// Called and not yet finished, latest call first.
    pub called: Vec<TicketJson>,
    /// Completed or no-show.
    pub finished: Vec<TicketJson>,
    /// The day's reservations at this counter.
    pub reservations: Vec<StaffReservationJson>,
}

/// The day's queue as the desk sees it.
#[utoipa::path(get, path = "/api/v1/desk/{counter}/queue", tag = "desk",
    params(("counter" = String, Path, example = "city-hall"), QueueQuery),
    responses((status = 200, description = "The queue", body = QueueJson)))]
pub(crate) async fn get_queue(
    state: web::Data<AppState>,
    _user: Authorized<DeskStaff>,
    path: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    let c = state.calendar.get_counter(&counter)?.clone();
    let now = state.clock.now();
    let day = check_date_range("date", query.date.unwrap_or_else(|| c.today(now)))?;
    let s = state.get_ref().clone();
    let (view, links) = state
        .db
        .run(move |conn| {
            let view = service::queue(conn, s.booking_ctx(), &counter, day, now)?;
            let links = crate::reservations::service::visit_links(conn, &view.reservations)?;
            Ok::<_, crate::queue::service::DeskError>((view, links))
        })
        .await?;
    let number_of = |t: &TicketRow| {
        t.reservation_id
            .as_ref()
            .and_then(|id| view.numbers.get(id))
            .map(String::as_str)
    };
    let visit_of = |t: &TicketRow| {
        t.reservation_id.as_ref().and_then(|id| {
            view.reservations
                .iter()
                .find(|r| &r.id == id)
                .map(|r| u32::try_from(r.visit).unwrap_or(1))
        })
    };
    let waiting = view
        .waiting
        .iter()
        .map(|i| TicketJson {
            reservation_number: number_of(&i.ticket).map(str::to_string),
            visit: visit_of(&i.ticket),
            ..TicketJson::issued(&state, i)
        })
        .collect();
    let tickets = |list: &[TicketRow]| -> Vec<TicketJson> {
        list.iter()
            .map(|t| TicketJson {
                visit: visit_of(t),
                ..TicketJson::of(&state, t, number_of(t))
            })
            .collect()
    };
    Ok(HttpResponse::Ok().json(QueueJson {
        date: day.to_string(),
        counter: c.id.clone(),
        waiting,
        called: tickets(&view.called),
        finished: tickets(&view.finished),
        reservations: view
            .reservations
            .iter()
            .map(|r| {
                StaffReservationJson::of(&state, r, &links.get(&r.id).cloned().unwrap_or_default())
            })
            .collect(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"reservation_number": "HJ3K-7WXA"}))]
pub(crate) struct CheckInBody {
    /// Typed or scanned (hyphen and case optional).
    reservation_number: String,
}

/// Checks a reserved visitor in: a `reserved` ticket.
#[utoipa::path(post, path = "/api/v1/desk/{counter}/check-ins", tag = "desk",
    params(("counter" = String, Path, example = "city-hall")),
    request_body = CheckInBody,
    responses((status = 201, description = "The ticket, with position and estimate", body = TicketJson)))]
pub(crate) async fn post_check_in(
    state: web::Data<AppState>,
    user: Authorized<CounterStaff>,
    path: web::Path<String>,
    body: JsonBody<CheckInBody>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    user.serves(&counter)?;
    let number = body.parse()?.reservation_number;
    if number.trim().is_empty() {
        return Err(Invalid::field("reservation_number", FieldProblem::Required).into());
    }
    let touched = counter.clone();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let issued = state
        .db
        .write(move |conn| service::check_in(conn, s.booking_ctx(), &counter, &number, &actor, now))
        .await?;
    state.tickets.touch(&touched);
    Ok(HttpResponse::Created().json(TicketJson::issued(&state, &issued)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"procedure": "pin-reset"}))]
pub(crate) struct WalkInBody {
    /// Optional: sharpens the wait estimate.
    procedure: Option<String>,
}

/// A walk-in ticket (the body may be empty).
#[utoipa::path(post, path = "/api/v1/desk/{counter}/walk-ins", tag = "desk",
    params(("counter" = String, Path, example = "city-hall")),
    request_body(content = Option<WalkInBody>, description = "Optional"),
    responses((status = 201, description = "The ticket, with position and estimate", body = TicketJson)))]
pub(crate) async fn post_walk_in(
    state: web::Data<AppState>,
    user: Authorized<CounterStaff>,
    path: web::Path<String>,
    body: JsonBody<WalkInBody>,
) -> Result<HttpResponse, AppError> {
    user.serves(&path)?;
    let procedure = body
        .parse_optional()?
        .and_then(|b| b.procedure)
        .filter(|p| !p.trim().is_empty());
    let counter = path.into_inner();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let issued = state
        .db
        .write(move |conn| {
            service::walk_in(conn, s.booking_ctx(), &counter, procedure, &actor, now)
        })
        .await?;
    state.tickets.touch(&issued.ticket.counter_id);
    Ok(HttpResponse::Created().json(TicketJson::issued(&state, &issued)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"desk": "2", "settle": {"tickets": ["R-001"], "outcome": "complete"}}))]
pub(crate) struct CallBody {
    /// The desk's name as the waiting-room screen shows it.
    desk: String,
    /// One visitor at a time: the tickets this desk is serving, as the clerk saw them, settled
    /// first in the call's transaction. If another ticket is called to this desk meanwhile the
    /// call is refused (409 `desk_serving`) and nothing changes. Without it the call leaves the
    /// desk's tickets as they are.
    settle: Option<SettleBody>,
}

/// What a call settles first. (Serialize: the schema's defaults are written from it.)
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SettleBody {
    /// The tickets called to this desk that the clerk settles (none: the desk is free).
    tickets: Vec<String>,
    #[schema(value_type = SettleOutcome)]
    outcome: String,
}

/// What becomes of the visitors a call settles: served, or absent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SettleOutcome {
    Complete,
    NoShow,
}

impl From<SettleOutcome> for Outcome {
    fn from(o: SettleOutcome) -> Outcome {
        match o {
            SettleOutcome::Complete => Outcome::Complete,
            SettleOutcome::NoShow => Outcome::NoShow,
        }
    }
}

const SETTLE_OUTCOMES: &[&str] = &["complete", "no_show"];
/// A ticket's label (`R-012`), with room.
const TICKET_LABEL_MAX: usize = 16;

/// The tickets (as labels) and the outcome of a call's `settle`.
fn settle_first(settle: &SettleBody) -> Result<(Vec<String>, Outcome), Invalid> {
    let outcome = match settle.outcome.as_str() {
        "complete" => SettleOutcome::Complete.into(),
        "no_show" => SettleOutcome::NoShow.into(),
        _ => {
            let p = FieldProblem::OneOf(SETTLE_OUTCOMES);
            return Err(Invalid::field("settle.outcome", p));
        }
    };
    let tickets = settle
        .tickets
        .iter()
        .map(|t| parse_label(t, TICKET_LABEL_MAX))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|p| Invalid::field("settle.tickets", p))?;
    Ok((tickets, outcome))
}

/// Calls the next visitor to a desk (reserved visitors first): 200 the ticket, 204 nobody.
#[utoipa::path(post, path = "/api/v1/desk/{counter}/calls", tag = "desk",
    params(("counter" = String, Path, example = "city-hall")),
    request_body = CallBody,
    responses((status = 200, description = "The ticket now called", body = TicketJson),
              (status = 204, description = "Nobody waits")))]
pub(crate) async fn post_call(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<String>,
    body: JsonBody<CallBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.parse()?;
    // The desk's name goes out on the public waiting-room screen: a short label only.
    let desk = parse_label(&body.desk, DESK_NAME_MAX).map_err(|p| Invalid::field("desk", p))?;
    let settle = body.settle.as_ref().map(settle_first).transpose()?;
    let counter = path.into_inner();
    let touched = counter.clone();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let called = state
        .db
        .write(move |conn| {
            let ctx = s.booking_ctx();
            let settle = settle.as_ref().map(|(t, o)| (t.as_slice(), *o));
            service::call_next(conn, ctx, &counter, &desk, settle, &actor, now)
        })
        .await?;
    state.tickets.touch(&touched);
    // A visitor whose turn nears may have been mailed in the call's transaction.
    state.mail_notify.notify_one();
    match called {
        None => Ok(HttpResponse::NoContent().finish()),
        Some(t) => {
            state.display_notify.notify_waiters();
            Ok(HttpResponse::Ok().json(TicketJson::of(
                &state,
                &t.ticket,
                t.reservation_number.as_deref(),
            )))
        }
    }
}

async fn settle(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
    outcome: Outcome,
) -> Result<HttpResponse, AppError> {
    let (counter, label) = path.into_inner();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let t = state
        .db
        .write(move |conn| {
            service::settle(
                conn,
                s.booking_ctx(),
                &counter,
                &label,
                outcome,
                &actor,
                now,
            )
        })
        .await?;
    if outcome == Outcome::Recall {
        state.display_notify.notify_waiters();
    }
    state.tickets.touch(&t.ticket.counter_id);
    Ok(HttpResponse::Ok().json(TicketJson::of(
        &state,
        &t.ticket,
        t.reservation_number.as_deref(),
    )))
}

/// The called visitor was served; a reservation becomes `completed`.
#[utoipa::path(post, path = "/api/v1/desk/{counter}/tickets/{ticket}/complete", tag = "desk",
    params(("counter" = String, Path, example = "city-hall"), ("ticket" = String, Path, example = "R-001")),
    responses((status = 200, description = "The ticket", body = TicketJson)))]
pub(crate) async fn post_complete(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    settle(state, user, path, Outcome::Complete).await
}

/// The called visitor did not come; a reservation becomes `no_show`.
#[utoipa::path(post, path = "/api/v1/desk/{counter}/tickets/{ticket}/no-show", tag = "desk",
    params(("counter" = String, Path, example = "city-hall"), ("ticket" = String, Path, example = "R-001")),
    responses((status = 200, description = "The ticket", body = TicketJson)))]
pub(crate) async fn post_no_show(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    settle(state, user, path, Outcome::NoShow).await
}

/// Calls the ticket again at the same desk (also after a no-show).
#[utoipa::path(post, path = "/api/v1/desk/{counter}/tickets/{ticket}/recall", tag = "desk",
    params(("counter" = String, Path, example = "city-hall"), ("ticket" = String, Path, example = "R-001")),
    responses((status = 200, description = "The ticket", body = TicketJson)))]
pub(crate) async fn post_recall(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    settle(state, user, path, Outcome::Recall).await
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let desk = || codes::<(DeskError, Invalid)>(&[]);
    vec![
        api(
            M::GET,
            "/api/v1/desk/{counter}/queue",
            DESK,
            desk(),
            get_queue,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/check-ins",
            COUNTER,
            desk(),
            post_check_in,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/walk-ins",
            COUNTER,
            desk(),
            post_walk_in,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/calls",
            DESK,
            desk(),
            post_call,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/tickets/{ticket}/complete",
            DESK,
            desk(),
            post_complete,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/tickets/{ticket}/no-show",
            DESK,
            desk(),
            post_no_show,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/tickets/{ticket}/recall",
            DESK,
            desk(),
            post_recall,
        ),
        api(
            M::GET,
            "/api/v1/desk/{counter}/display",
            Public,
            codes::<CalendarError>(&[ErrorCode::RateLimited]),
            super::display::get_display,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_queue,
    post_check_in,
    post_walk_in,
    post_call,
    post_complete,
    post_no_show,
    post_recall,
    super::display::get_display
))]
pub(super) struct Paths;
