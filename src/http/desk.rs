//! Front desk: the queue, check-ins, walk-ins, calls, outcomes, and the waiting-room screen.

use std::time::Duration as StdDuration;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Authorized, DeskStaff};
use super::staff::staff_reservation_json;
use super::{instant, AppState};
use crate::error::AppError;
use crate::queue::repo::{calls_after, last_call_id, recent_calls, CallEvent, TicketRow};
use crate::queue::service::{self, Issued, Outcome};
use crate::text::normalise;

fn ticket_json(state: &AppState, t: &TicketRow, reservation_number: Option<&str>) -> Value {
    let tz = state
        .calendar
        .counter(&t.counter_id)
        .map(|c| c.tz)
        .unwrap_or_else(|| state.default_tz());
    json!({
        "ticket": t.label,
        "kind": t.kind,
        "status": t.status,
        "reservation_number": reservation_number,
        "procedure": t.procedure_id,
        "slot_starts_at": t.slot_starts_at.map(|s| instant(s.and_utc(), tz)),
        "issued_at": instant(t.issued_at.and_utc(), tz),
        "called_at": t.called_at.map(|s| instant(s.and_utc(), tz)),
        "desk": t.desk,
        "calls": t.calls,
    })
}

fn issued_json(state: &AppState, i: &Issued) -> Value {
    let mut v = ticket_json(state, &i.ticket, i.reservation_number.as_deref());
    v["position"] = json!(i.position);
    v["estimated_wait_minutes"] = json!(i.estimated_wait_minutes);
    v
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    date: Option<NaiveDate>,
}

pub async fn get_queue(
    state: web::Data<AppState>,
    _user: Authorized<DeskStaff>,
    path: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    let c = state
        .calendar
        .counter(&counter)
        .ok_or(AppError::NotFound("counter_not_found"))?;
    let now = state.clock.now();
    let day = query.date.unwrap_or_else(|| c.today(now));
    let s = state.get_ref().clone();
    let view = state
        .db
        .run(move |conn| service::queue(conn, s.booking_ctx(), &counter, day, now))
        .await?;
    let number_of = |t: &TicketRow| {
        t.reservation_id
            .as_ref()
            .and_then(|id| view.numbers.get(id))
            .map(String::as_str)
    };
    let waiting: Vec<Value> = view
        .waiting
        .iter()
        .map(|i| {
            let mut v = issued_json(&state, i);
            v["reservation_number"] = json!(number_of(&i.ticket));
            v
        })
        .collect();
    let called: Vec<Value> = view
        .called
        .iter()
        .map(|t| ticket_json(&state, t, number_of(t)))
        .collect();
    let finished: Vec<Value> = view
        .finished
        .iter()
        .map(|t| ticket_json(&state, t, number_of(t)))
        .collect();
    let reservations: Vec<Value> = view
        .reservations
        .iter()
        .map(|r| staff_reservation_json(&state, r))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "date": day.to_string(),
        "counter": c.id,
        "waiting": waiting,
        "called": called,
        "finished": finished,
        "reservations": reservations,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckInBody {
    reservation_number: String,
}

pub async fn post_check_in(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<String>,
    body: web::Json<CheckInBody>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    let number = body.into_inner().reservation_number;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let issued = state
        .db
        .run(move |conn| service::check_in(conn, s.booking_ctx(), &counter, &number, &actor, now))
        .await?;
    Ok(HttpResponse::Created().json(issued_json(&state, &issued)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WalkInBody {
    procedure: Option<String>,
}

pub async fn post_walk_in(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<String>,
    body: Option<web::Json<WalkInBody>>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    let procedure = body
        .and_then(|b| b.into_inner().procedure)
        .filter(|p| !p.trim().is_empty());
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let issued = state
        .db
        .run(move |conn| service::walk_in(conn, s.booking_ctx(), &counter, procedure, &actor, now))
        .await?;
    Ok(HttpResponse::Created().json(issued_json(&state, &issued)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallBody {
    desk: String,
}

pub async fn post_call(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<String>,
    body: web::Json<CallBody>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    let desk = normalise(&body.into_inner().desk).unwrap_or_default();
    if desk.is_empty() || desk.chars().count() > 20 {
        return Err(AppError::invalid(
            "desk",
            "must name the desk in 1 to 20 characters",
        ));
    }
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let called = state
        .db
        .run(move |conn| service::call_next(conn, s.booking_ctx(), &counter, &desk, &actor, now))
        .await?;
    match called {
        None => Ok(HttpResponse::NoContent().finish()),
        Some(t) => {
            state.display_notify.notify_waiters();
            Ok(HttpResponse::Ok().json(ticket_json(
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
        .run(move |conn| {
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
    Ok(HttpResponse::Ok().json(ticket_json(
        &state,
        &t.ticket,
        t.reservation_number.as_deref(),
    )))
}

pub async fn post_complete(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    settle(state, user, path, Outcome::Complete).await
}

pub async fn post_no_show(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    settle(state, user, path, Outcome::NoShow).await
}

pub async fn post_recall(
    state: web::Data<AppState>,
    user: Authorized<DeskStaff>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    settle(state, user, path, Outcome::Recall).await
}

/// One server-sent event per call: `event: called`, the event id, `{"ticket","desk"}`.
fn sse_events(events: &[CallEvent]) -> String {
    events
        .iter()
        .map(|e| {
            let data = json!({ "ticket": e.label, "desk": e.desk });
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
pub async fn get_display(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let counter = path.into_inner();
    state
        .calendar
        .counter(&counter)
        .ok_or(AppError::NotFound("counter_not_found"))?;
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
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
            let (state, counter, cursor) =
                (screen.state.clone(), screen.counter.clone(), screen.cursor);
            let backlog = i64::from(q.display_backlog);
            let events = match cursor {
                None => {
                    let c = state.calendar.counter(&counter).cloned();
                    let day = c.map(|c| c.today(state.clock.now())).unwrap_or_default();
                    state
                        .db
                        .run(move |conn| {
                            let recent = recent_calls(conn, &counter, day, backlog)?;
                            Ok::<_, diesel::result::Error>((recent, last_call_id(conn, &counter)?))
                        })
                        .await
                }
                Some(after) => {
                    state
                        .db
                        .run(move |conn| {
                            Ok::<_, diesel::result::Error>((
                                calls_after(conn, &counter, after)?,
                                after,
                            ))
                        })
                        .await
                }
            };
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
