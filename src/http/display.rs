//! The waiting-room screens' stream, fed from memory.
//!
//! Each counter has one feed: a poller reads the counter's new calls from the database (every
//! `queue.display_poll_ms`, and at once after a call made here), keeps today's last ones, and
//! wakes the screens. A screen reads only the feed, so a thousand screens cost what one does;
//! calls made at another instance reach them through the same poll. One client address may
//! hold `queue.display_streams_per_address` streams at once (a waiting room's few screens;
//! beyond, 429), so nobody can take the service's memory with connections.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::feeds::{Feed, StreamSlot};
use super::problem::AppError;
use super::state::AppState;
use crate::queue::{calls_after, last_call_id, recent_calls, CallEvent};

/// Keeps every counter's feed current: the new calls read from the database after the last
/// one read, every `queue.display_poll_ms`, and at once after a call made here.
pub(crate) async fn poll_feeds(state: AppState) {
    let poll = StdDuration::from_millis(state.settings.queue.display_poll_ms.max(50));
    let backlog = i64::from(state.settings.queue.display_backlog).max(1);
    let mut read: HashMap<String, i64> = HashMap::new();
    loop {
        for counter in state.calendar.counters() {
            let Some(feed) = state.displays.feed(&counter.id) else {
                continue;
            };
            let (id, today) = (counter.id.clone(), counter.today(state.clock.now()));
            let after = read.get(&counter.id).copied();
            let fetched = state
                .db
                .run_background(move |conn| match after {
                    None => Ok((
                        recent_calls(conn, &id, today, backlog)?,
                        last_call_id(conn, &id)?,
                    )),
                    Some(after) => {
                        let new = calls_after(conn, &id, after)?;
                        let latest = new.last().map_or(after, |c| c.id);
                        Ok::<_, diesel::result::Error>((new, latest))
                    }
                })
                .await;
            match fetched {
                Ok((new, latest)) => {
                    read.insert(counter.id.clone(), latest);
                    feed.push(new, latest);
                }
                Err(e) => tracing::warn!(error = %e, "the display feed could not read the calls"),
            }
        }
        tokio::select! {
            _ = state.display_notify.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
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

/// What a screen's stream carries between polls.
struct Screen {
    feed: Arc<Feed>,
    state: web::Data<AppState>,
    counter: String,
    /// The last event sent; None until the backlog went out.
    cursor: Option<i64>,
    last_sent: std::time::Instant,
    _slot: StreamSlot,
}

impl Screen {
    /// The calls this screen has not shown: from the feed, or (resuming from long ago) the
    /// database.
    async fn next(&mut self) -> Option<(Vec<CallEvent>, bool)> {
        match self.cursor {
            None => {
                let c = self.state.calendar.counter(&self.counter)?;
                let today = c.today(self.state.clock.now());
                let n = self.state.settings.queue.display_backlog as usize;
                let (events, latest) = self.feed.backlog(n, today)?;
                self.cursor = Some(latest);
                Some((events, true))
            }
            Some(cursor) => {
                let events = match self.feed.after(cursor) {
                    Some(events) => events,
                    None => {
                        let counter = self.counter.clone();
                        self.state
                            .db
                            .run_background(move |conn| calls_after(conn, &counter, cursor))
                            .await
                            .ok()?
                    }
                };
                if let Some(last) = events.last() {
                    self.cursor = Some(last.id);
                }
                Some((events, false))
            }
        }
    }
}

/// The waiting-room screen: `text/event-stream` of calls (ticket and desk only). A new screen
/// first gets the day's last few calls (or, reconnecting with `Last-Event-ID`, what it missed),
/// then each call once as it happens, and a keep-alive comment when quiet. At most
/// `queue.display_streams_per_address` streams per client address (beyond: 429).
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
    let feed = state
        .displays
        .feed(&counter)
        .ok_or(crate::calendar::CalendarError::CounterNotFound)?;
    let max = state.settings.queue.display_streams_per_address as usize;
    let slot = state
        .displays
        .open(state.clients.key(&req), max)
        .ok_or_else(|| AppError::rate_limited(30))?;
    let screen = Screen {
        feed,
        state,
        counter,
        cursor: resume_cursor(&req),
        last_sent: std::time::Instant::now(),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(screen, |mut screen| async move {
        let keepalive =
            StdDuration::from_secs(screen.state.settings.queue.display_keepalive_seconds.max(1));
        loop {
            // The process is stopping: the stream ends (the screen reconnects to the next).
            let stopping = screen.state.stopping.clone();
            let stop = stopping.notify.notified();
            tokio::pin!(stop);
            stop.as_mut().enable();
            if stopping.is_stopping() {
                return None;
            }
            let feed = screen.feed.clone();
            let arrived = feed.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some((events, first)) = screen.next().await {
                if !events.is_empty() || first {
                    screen.last_sent = std::time::Instant::now();
                    let mut body = sse_events(&events);
                    if first {
                        body = format!(": madoguchi display\nretry: 3000\n\n{body}");
                    }
                    return Some((Ok::<_, actix_web::Error>(Bytes::from(body)), screen));
                }
            }
            let quiet = screen.last_sent.elapsed();
            if quiet >= keepalive {
                screen.last_sent = std::time::Instant::now();
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), screen));
            }
            tokio::select! {
                _ = &mut stop => {}
                _ = &mut arrived => {}
                _ = tokio::time::sleep(keepalive - quiet) => {}
                // Before the first poll the feed has nothing yet: look again shortly.
                _ = tokio::time::sleep(StdDuration::from_millis(100)), if screen.cursor.is_none() => {}
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
