//! Tickets people follow on their phones: a ticket's view and its stream (public, by the
//! ticket's random public id; nothing personal), the mail when the turn nears, and the
//! printed ticket (staff).

use std::time::Duration as StdDuration;

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::path_token;
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute};
use super::state::AppState;
use crate::error::ErrorCode;
use crate::queue::follow::{Alert, Followed};
use crate::queue::model::TicketStatus;
use crate::queue::service::DeskError;

/// A ticket as its page shows it: nothing of who holds it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({"ticket": "W-034", "counter": "city-hall", "date": "2027-01-12",
    "status": "waiting", "position": 3, "ahead": 2, "estimated_wait_minutes": 30,
    "alert": "unavailable", "notify_ahead": 3}))]
pub(crate) struct TicketViewJson {
    /// The ticket's number as the screen calls it.
    pub ticket: String,
    pub counter: String,
    /// The day the ticket is for.
    pub date: String,
    pub status: TicketStatus,
    /// 1: called next. Waiting tickets of today only.
    pub position: Option<usize>,
    /// Tickets ahead (a party counts once): `position - 1`.
    pub ahead: Option<usize>,
    pub estimated_wait_minutes: Option<u32>,
    /// The desk, once called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desk: Option<String>,
    /// Whether this ticket may ask for a mail when its turn nears (a booked visitor who gave
    /// an address, while waiting), and whether it has.
    pub alert: Alert,
    /// `queue.notify_ahead`: the mail goes when this many tickets or fewer are ahead.
    pub notify_ahead: u32,
}

impl TicketViewJson {
    fn of(state: &AppState, v: &Followed) -> Self {
        TicketViewJson {
            ticket: v.label.clone(),
            counter: v.counter.clone(),
            date: v.day.to_string(),
            status: v.status,
            position: v.position,
            ahead: v.position.map(|p| p.saturating_sub(1)),
            estimated_wait_minutes: v.estimated_wait_minutes,
            desk: v.desk.clone(),
            alert: v.alert,
            notify_ahead: state.settings.queue.notify_ahead,
        }
    }
}

/// `counter`'s board of today (`Boards::board`), read with the desk's rules.
async fn today_board(
    state: &AppState,
    counter: &str,
    day: chrono::NaiveDate,
) -> Result<super::boards::Views, AppError> {
    let max_age = StdDuration::from_millis(state.settings.queue.ticket_board_ms);
    let (s, c, now) = (state.clone(), counter.to_string(), state.clock.now());
    let read = move |conn: &mut crate::db::DbConnection| {
        crate::queue::follow::board(conn, &s.booking_ctx(), &c, day, now)
    };
    Ok(state
        .tickets
        .board(&state.db, (counter, day), max_age, read)
        .await?)
}

/// A ticket by its public id: from the board of today that holds it (read again when it is
/// stale), else from the database (a ticket issued a moment ago or at another instance, whose
/// counter's board is then read again; another day's ticket; an unknown id: 404
/// `ticket_not_found`).
pub(crate) async fn followed(state: &AppState, public_id: &str) -> Result<Followed, AppError> {
    let now = state.clock.now();
    for counter in state.calendar.counters() {
        let day = counter.today(now);
        if state.tickets.holds((&counter.id, day), public_id) {
            let board = today_board(state, &counter.id, day).await?;
            if let Some(v) = board.get(public_id) {
                return Ok(v.clone());
            }
        }
    }
    let (s, id) = (state.clone(), public_id.to_string());
    let found = state
        .db
        .run(move |conn| crate::queue::follow::locate(conn, &s.booking_ctx(), &id, now))
        .await?;
    if let Some(c) = state.calendar.counter(&found.counter) {
        if found.day == c.today(now) {
            // Today's, not yet on its board: the board is read again for the next look.
            state.tickets.touch(&c.id);
            today_board(state, &c.id, found.day).await?;
        }
    }
    Ok(found)
}

fn public_id(path: web::Path<String>) -> Result<String, AppError> {
    Ok(path_token(path, DeskError::NoSuchTicket)?)
}

/// Where a ticket stands: its number, place in line, the estimated wait, and the desk once
/// called. Read from memory (the counter's board, at most `queue.ticket_board_ms` old).
#[utoipa::path(get, path = "/api/v1/tickets/{public_id}", tag = "tickets",
    params(("public_id" = String, Path, description = "From the ticket's QR code")),
    responses((status = 200, description = "The ticket", body = TicketViewJson)))]
pub(crate) async fn get_ticket(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = public_id(path)?;
    let view = followed(&state, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TicketViewJson::of(&state, &view)))
}

/// Asks for one mail when `queue.notify_ahead` tickets or fewer are ahead (at once when they
/// already are), to the address the booking gave: a booked visitor's ticket, while waiting
/// (else 409 `alert_unavailable`). Asking again changes nothing.
#[utoipa::path(post, path = "/api/v1/tickets/{public_id}/alert", tag = "tickets",
    params(("public_id" = String, Path, description = "From the ticket's QR code")),
    responses((status = 200, description = "The ticket, `alert` requested or sent", body = TicketViewJson)))]
pub(crate) async fn post_alert(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = public_id(path)?;
    // Read first: an unknown ticket, one that cannot ask and one that asked already cost no
    // write.
    let view = followed(&state, &id).await?;
    let view = match view.alert {
        Alert::Unavailable => return Err(DeskError::AlertUnavailable.into()),
        Alert::Requested | Alert::Sent => view,
        Alert::Available => {
            let now = state.clock.now();
            let s = state.get_ref().clone();
            let view = state
                .db
                .write(move |conn| {
                    crate::queue::follow::request_alert(conn, &s.booking_ctx(), &id, now)
                })
                .await?;
            state.tickets.touch(&view.counter);
            state.mail_notify.notify_one();
            view
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TicketViewJson::of(&state, &view)))
}

/// What a ticket's stream says: the ticket's view, or that it is alive.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TicketEvent {
    Ticket,
    Ping,
}

/// One event of a ticket's stream as it is framed (`event:` and `data:` lines): `ticket` with
/// the ticket's view (`TicketViewJson`) as JSON in `data`, or `ping` (`{}`) when quiet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketEventJson {
    pub event: TicketEvent,
    /// JSON: a `TicketViewJson` for `ticket`, `{}` for `ping`.
    pub data: String,
}

impl TicketEventJson {
    fn framed(&self) -> String {
        let name = match self.event {
            TicketEvent::Ticket => "ticket",
            TicketEvent::Ping => "ping",
        };
        format!("event: {name}\ndata: {}\n\n", self.data)
    }
}

/// What a ticket's stream carries between looks.
struct Follower {
    state: web::Data<AppState>,
    public_id: String,
    last: Option<TicketViewJson>,
    last_sent: std::time::Instant,
    _slot: super::feeds::StreamSlot,
}

impl Follower {
    /// Whether the last view sent can change no more: a completed ticket, or one of another
    /// day (a no-show may still be recalled).
    fn ended(&self) -> bool {
        self.last.as_ref().is_some_and(|v| {
            let today = self
                .state
                .calendar
                .counter(&v.counter)
                .map(|c| c.today(self.state.clock.now()).to_string());
            v.status == TicketStatus::Completed || today.as_deref() != Some(v.date.as_str())
        })
    }

    /// The view, when it differs from the last one sent (nothing is looked up once it ended).
    async fn changed(&mut self) -> Option<String> {
        if self.ended() {
            return None;
        }
        let view = followed(&self.state, &self.public_id).await.ok()?;
        let json = TicketViewJson::of(&self.state, &view);
        if self.last.as_ref() == Some(&json) {
            return None;
        }
        let data = serde_json::to_string(&json).ok()?;
        self.last = Some(json);
        Some(
            TicketEventJson {
                event: TicketEvent::Ticket,
                data,
            }
            .framed(),
        )
    }
}

/// The ticket's view as `text/event-stream` (events `ticket`): at once, then whenever it
/// changes (a desk's write here wakes it; another instance's shows within
/// `queue.ticket_board_ms`), with an event `ping` when quiet. At most `queue.ticket_streams_per_address` per client
/// address (beyond: 429).
#[utoipa::path(get, path = "/api/v1/tickets/{public_id}/events", tag = "tickets",
    params(("public_id" = String, Path, description = "From the ticket's QR code")),
    responses((status = 200, description = "Server-sent events `ticket`, each the ticket's view",
               content_type = "text/event-stream", body = TicketEventJson)))]
pub(crate) async fn get_ticket_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = public_id(path)?;
    // An unknown ticket is 404 before any stream opens.
    followed(&state, &id).await?;
    let max = state.settings.queue.ticket_streams_per_address as usize;
    let slot = state
        .tickets
        .streams
        .open(state.clients.key(&req), max)
        .ok_or_else(|| AppError::rate_limited(30))?;
    let follower = Follower {
        state,
        public_id: id,
        last: None,
        last_sent: std::time::Instant::now(),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(follower, |mut f| async move {
        let q = &f.state.settings.queue;
        let keepalive = StdDuration::from_secs(q.display_keepalive_seconds.max(1));
        let look = StdDuration::from_millis(q.ticket_board_ms);
        loop {
            let stopping = f.state.stopping.clone();
            let stop = stopping.notify.notified();
            tokio::pin!(stop);
            stop.as_mut().enable();
            if stopping.is_stopping() {
                return None;
            }
            let tickets = f.state.tickets.clone();
            let changed = tickets.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let first = f.last.is_none();
            if let Some(event) = f.changed().await {
                f.last_sent = std::time::Instant::now();
                let body = if first {
                    format!("retry: 3000\n\n{event}")
                } else {
                    event
                };
                return Some((Ok::<_, actix_web::Error>(Bytes::from(body)), f));
            }
            if f.last_sent.elapsed() >= keepalive {
                f.last_sent = std::time::Instant::now();
                // An event, not a comment: the page sees the stream is alive and does not
                // rebuild it.
                let ping = TicketEventJson {
                    event: TicketEvent::Ping,
                    data: "{}".into(),
                };
                return Some((Ok(Bytes::from(ping.framed())), f));
            }
            tokio::select! {
                _ = &mut stop => {}
                _ = &mut changed => {}
                _ = tokio::time::sleep(look) => {}
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let ticket = || codes::<DeskError>(&[]);
    vec![
        api(
            M::GET,
            "/api/v1/tickets/{public_id}",
            Public,
            ticket(),
            get_ticket,
        ),
        api(
            M::GET,
            "/api/v1/tickets/{public_id}/events",
            Public,
            codes::<DeskError>(&[ErrorCode::RateLimited]),
            get_ticket_events,
        ),
        api(
            M::POST,
            "/api/v1/tickets/{public_id}/alert",
            Public,
            ticket(),
            post_alert,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_ticket, get_ticket_events, post_alert))]
pub(super) struct Paths;
