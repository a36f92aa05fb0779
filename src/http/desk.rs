//! Front desk: the queue, check-ins, walk-ins, calls, outcomes, and the waiting-room screen.

use std::time::Duration as StdDuration;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Authorized, DeskStaff};
use super::body::JsonBody;
use super::calendar::check_date_range;
use super::json::{StaffReservationJson, TicketJson};
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute, DESK};
use super::state::AppState;
use crate::calendar::CalendarError;
use crate::db::RunError;
use crate::error::{FieldProblem, Invalid};
use crate::queue::service::DeskError;
use crate::queue::service::{self, Outcome};
use crate::queue::{calls_after, last_call_id, recent_calls, CallEvent, TicketRow};
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
    user: Authorized<DeskStaff>,
    path: web::Path<String>,
    body: JsonBody<CheckInBody>,
) -> Result<HttpResponse, AppError> {
    let number = body.parse()?.reservation_number;
    if number.trim().is_empty() {
        return Err(Invalid::field("reservation_number", FieldProblem::Required).into());
    }
    let counter = path.into_inner();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let issued = state
        .db
        .write(move |conn| service::check_in(conn, s.booking_ctx(), &counter, &number, &actor, now))
        .await?;
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
    user: Authorized<DeskStaff>,
    path: web::Path<String>,
    body: JsonBody<WalkInBody>,
) -> Result<HttpResponse, AppError> {
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
    Ok(HttpResponse::Created().json(TicketJson::issued(&state, &issued)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"desk": "2"}))]
pub(crate) struct CallBody {
    /// The desk's name as the waiting-room screen shows it.
    desk: String,
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
    // The desk's name goes out on the public waiting-room screen: a short label only.
    let desk =
        parse_label(&body.parse()?.desk, DESK_NAME_MAX).map_err(|p| Invalid::field("desk", p))?;
    let counter = path.into_inner();
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let called = state
        .db
        .write(move |conn| service::call_next(conn, s.booking_ctx(), &counter, &desk, &actor, now))
        .await?;
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DisplayQuery {
    /// Resume after this event (for a page that rebuilds its EventSource).
    last_event_id: Option<String>,
}

/// One call as the waiting-room screen receives it: no personal data.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallEventJson {
    pub ticket: String,
    pub desk: String,
}

/// One server-sent event per call: `event: called`, the event id, `{"ticket","desk"}`.
fn sse_events(events: &[CallEvent]) -> String {
    events
        .iter()
        .map(|e| {
            let data = serde_json::to_string(&CallEventJson {
                ticket: e.label.clone(),
                desk: e.desk.clone(),
            })
            .unwrap_or_default();
            format!("id: {}\nevent: called\ndata: {data}\n\n", e.id)
        })
        .collect()
}

struct Screen {
    state: web::Data<AppState>,
    counter: String,
    /// The last event sent; None until the backlog went out.
    cursor: Option<i64>,
    last_sent: std::time::Instant,
}

/// The waiting-room screen: `text/event-stream` of calls (ticket and desk only). A new screen
/// first gets the day's last few calls (or, reconnecting with `Last-Event-ID`, what it missed),
/// then each call once as it happens, and a keep-alive comment when quiet.
#[utoipa::path(get, path = "/api/v1/desk/{counter}/display", tag = "desk",
    params(("counter" = String, Path, example = "city-hall"),
           ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event"),
           DisplayQuery),
    responses((status = 200, description = "Server-sent events `called` with `{\"ticket\",\"desk\"}`",
               content_type = "text/event-stream", body = CallEventJson)))]
pub(crate) async fn get_display(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    state.calendar.get_counter(&counter)?;
    let resume = resume_cursor(&req);
    let screen = Screen {
        state,
        counter,
        cursor: resume,
        last_sent: std::time::Instant::now(),
    };
    let first = resume.is_none();
    let stream = futures_util::stream::unfold((screen, first), |(mut screen, first)| async move {
        let q = &screen.state.settings.queue;
        let (poll, keepalive) = (
            StdDuration::from_millis(q.display_poll_ms),
            StdDuration::from_secs(q.display_keepalive_seconds),
        );
        loop {
            let events = next_events(&screen.state, &screen.counter, screen.cursor).await;
            match events {
                Ok((events, latest)) => {
                    let started = screen.cursor.is_none();
                    let last = events.last().map(|e| e.id).unwrap_or(0);
                    screen.cursor = Some(last.max(latest));
                    if !events.is_empty() || (first && started) {
                        screen.last_sent = std::time::Instant::now();
                        let mut body = sse_events(&events);
                        if started {
                            body = format!(": madoguchi display\nretry: 3000\n\n{body}");
                        }
                        return Some((
                            Ok::<_, actix_web::Error>(Bytes::from(body)),
                            (screen, false),
                        ));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "display stream query failed"),
            }
            if screen.last_sent.elapsed() >= keepalive {
                screen.last_sent = std::time::Instant::now();
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (screen, false)));
            }
            let notify = screen.state.display_notify.clone();
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// Where a screen resumes: a browser's EventSource resends `Last-Event-ID` when it reconnects
/// by itself; a page that rebuilds its EventSource passes `?last_event_id=` instead.
fn resume_cursor(req: &HttpRequest) -> Option<i64> {
    req.headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            web::Query::<DisplayQuery>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.into_inner().last_event_id)
        })
        .and_then(|v| v.trim().parse::<i64>().ok())
}

/// The calls a screen has not shown yet and the latest call's id: today's last few for a new
/// screen, everything after `cursor` for one that has shown some.
async fn next_events(
    state: &AppState,
    counter: &str,
    cursor: Option<i64>,
) -> Result<(Vec<CallEvent>, i64), RunError<diesel::result::Error>> {
    let counter = counter.to_string();
    match cursor {
        None => {
            let backlog = i64::from(state.settings.queue.display_backlog);
            let c = state.calendar.counter(&counter).cloned();
            let day = c.map(|c| c.today(state.clock.now())).unwrap_or_default();
            state
                .db
                .run(move |conn| {
                    let recent = recent_calls(conn, &counter, day, backlog)?;
                    Ok((recent, last_call_id(conn, &counter)?))
                })
                .await
        }
        Some(after) => {
            state
                .db
                .run(move |conn| Ok((calls_after(conn, &counter, after)?, after)))
                .await
        }
    }
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
            DESK,
            desk(),
            post_check_in,
        ),
        api(
            M::POST,
            "/api/v1/desk/{counter}/walk-ins",
            DESK,
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
            codes::<CalendarError>(&[]),
            get_display,
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
    get_display
))]
pub(super) struct Paths;
