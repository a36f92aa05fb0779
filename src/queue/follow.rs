//! Tickets people follow on their phones (`/ticket/{public_id}`): where a ticket stands, with
//! nothing of who holds it, and the one mail a reserved visitor may ask for when their turn
//! nears (`queue.notify_ahead` tickets or fewer ahead).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::error::DeskError;
use super::model::{TicketKind, TicketStatus};
use super::repo::{self, TicketRow};
use super::waiting::{estimated_waits, lock_queue, ordered_waiting};
use crate::calendar::Counter;
use crate::db::{DbConnection, Tx};
use crate::mail::links::Links;
use crate::mail::{enqueue, MailKind, MailPayload, NewMail, TurnMail};
use crate::reservations::repo as reservation_repo;
use crate::reservations::service::Ctx;

/// Whether the ticket's page may offer the mail when the turn nears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Alert {
    /// A walk-in, a visitor who gave no address, or a ticket no longer waiting.
    Unavailable,
    Available,
    Requested,
    Sent,
}

/// A ticket as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Followed {
    pub public_id: String,
    pub label: String,
    pub counter: String,
    pub day: NaiveDate,
    pub status: TicketStatus,
    /// 1: called next (waiting tickets of today only).
    pub position: Option<usize>,
    pub estimated_wait_minutes: Option<u32>,
    /// Once called: the desk.
    pub desk: Option<String>,
    pub alert: Alert,
}

/// Every ticket of a counter's day as its page shows it (one read of the day's queue, however
/// many people follow their tickets).
pub(crate) fn board(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Followed>, DeskError> {
    let all = repo::list_tickets(conn, counter, day, None)?;
    let ordered = ordered_waiting(conn, ctx, counter, day, now)?;
    let waits = estimated_waits(conn, ctx, counter, &ordered, now)?;
    let places: HashMap<&str, (usize, u32)> = ordered
        .iter()
        .zip(waits)
        .enumerate()
        .map(|(i, (t, wait))| (t.id.as_str(), (i + 1, wait)))
        .collect();
    let reserved: Vec<String> = all
        .iter()
        .filter(|t| t.status == TicketStatus::Waiting)
        .filter_map(|t| t.reservation_id.clone())
        .collect();
    let mailable: HashSet<String> = reservation_repo::with_email(conn, &reserved)?
        .into_iter()
        .collect();
    Ok(all
        .iter()
        .map(|t| view(t, places.get(t.id.as_str()).copied(), &mailable))
        .collect())
}

fn view(t: &TicketRow, place: Option<(usize, u32)>, mailable: &HashSet<String>) -> Followed {
    let alert = if t.alert_sent_at.is_some() {
        Alert::Sent
    } else if t.alert_requested_at.is_some() {
        Alert::Requested
    } else if t.kind == TicketKind::Reserved
        && t.status == TicketStatus::Waiting
        && t.reservation_id
            .as_ref()
            .is_some_and(|r| mailable.contains(r))
    {
        Alert::Available
    } else {
        Alert::Unavailable
    };
    Followed {
        public_id: t.public_id.clone(),
        label: t.label.clone(),
        counter: t.counter_id.clone(),
        day: t.service_on,
        status: t.status,
        position: place.map(|(p, _)| p),
        estimated_wait_minutes: place.map(|(_, w)| w),
        desk: match t.status {
            TicketStatus::Called => t.desk.clone(),
            _ => None,
        },
        alert,
    }
}

/// A counter's ticket of a day by its label (`W-034`), as the printed ticket shows it.
pub(crate) fn ticket_of_day(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    label: &str,
) -> Result<TicketRow, DeskError> {
    repo::find_ticket(conn, counter, day, label)?.ok_or_else(|| DeskError::TicketNotFound {
        label: label.to_string(),
    })
}

/// A ticket by its public id, read from the database (any day): today's with its place in
/// the counter's queue, another day's as it ended. For a ticket no board in memory holds yet
/// (issued a moment ago, or at another instance).
pub(crate) fn locate(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    public_id: &str,
    now: DateTime<Utc>,
) -> Result<Followed, DeskError> {
    let t = repo::find_by_public_id(conn, public_id)?.ok_or(DeskError::NoSuchTicket)?;
    let today = ctx.calendar.get_counter(&t.counter_id)?.today(now);
    if t.service_on != today {
        return Ok(view(&t, None, &HashSet::new()));
    }
    board(conn, ctx, &t.counter_id, today, now)?
        .into_iter()
        .find(|v| v.public_id == public_id)
        .ok_or(DeskError::NoSuchTicket)
}

/// The visitor asks to be mailed when their turn nears: a reserved visitor of today who gave
/// an address, while waiting (else `AlertUnavailable`). Asking again changes nothing; asking
/// when the turn is already near sends the mail at once. Under the counter's queue lock, so a
/// call at the same moment sees the request or is seen by it. Returns the ticket as its page
/// shows it now.
pub(crate) fn request_alert(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    public_id: &str,
    now: DateTime<Utc>,
) -> Result<Followed, DeskError> {
    let t = repo::find_by_public_id(conn, public_id)?.ok_or(DeskError::NoSuchTicket)?;
    let counter = ctx.calendar.get_counter(&t.counter_id)?;
    if t.alert_requested_at.is_none() {
        let mailable = match &t.reservation_id {
            Some(r) => !reservation_repo::with_email(conn, std::slice::from_ref(r))?.is_empty(),
            None => false,
        };
        let today = counter.today(now);
        if !(mailable && t.status == TicketStatus::Waiting && t.service_on == today) {
            return Err(DeskError::AlertUnavailable);
        }
        lock_queue(conn, &counter.id, today)?;
        if repo::request_alert(conn, &t.id, now)? {
            let ordered = ordered_waiting(conn, ctx, &counter.id, today, now)?;
            tell_near(conn, ctx, counter, &ordered, now)?;
        }
    }
    locate(conn, ctx, public_id, now)
}

/// Whether a ticket asked for the mail and has not had it.
fn asked(t: &TicketRow) -> bool {
    t.alert_requested_at.is_some() && t.alert_sent_at.is_none()
}

/// Mails the visitors among `waiting` (in call order) who asked and now have
/// `queue.notify_ahead` tickets or fewer ahead, once each.
pub(crate) fn tell_near(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    waiting: &[TicketRow],
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let near = waiting
        .len()
        .min(ctx.settings.queue.notify_ahead as usize + 1);
    if !waiting[..near].iter().any(asked) {
        return Ok(());
    }
    let waits = estimated_waits(conn, ctx, &counter.id, &waiting[..near], now)?;
    for (ahead, (t, wait)) in waiting[..near].iter().zip(waits).enumerate() {
        if asked(t) && repo::mark_alert_sent(conn, &t.id, now)? {
            mail_turn(conn, ctx, counter, t, Turn::Near { ahead, wait }, now)?;
        }
    }
    Ok(())
}

/// The ticket just called asked and was not mailed (its turn came without anyone called
/// before it: a booked visitor who arrived early, whose slot came): the mail says where to go.
pub(crate) fn tell_called(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    (t, desk): (&TicketRow, &str),
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    if asked(t) && repo::mark_alert_sent(conn, &t.id, now)? {
        mail_turn(conn, ctx, counter, t, Turn::Called { desk }, now)?;
    }
    Ok(())
}

/// The counters whose today has a visitor waiting for the mail (a read: the sweeper writes
/// only when there is one).
pub(crate) fn counters_with_alerts(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DeskError> {
    let mut out = Vec::new();
    for counter in ctx.calendar.counters() {
        if repo::alerts_pending(conn, &counter.id, counter.today(now))? {
            out.push(counter.id.clone());
        }
    }
    Ok(out)
}

/// The visitors of `counters` who asked and whose turn neared without a call (the calling
/// rule moves a booked visitor ahead when their slot comes): mailed on the sweeper's pass.
pub(crate) fn sweep_near(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counters: &[String],
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    for id in counters {
        let counter = ctx.calendar.get_counter(id)?;
        let today = counter.today(now);
        lock_queue(conn, &counter.id, today)?;
        let ordered = ordered_waiting(conn, ctx, &counter.id, today, now)?;
        tell_near(conn, ctx, counter, &ordered, now)?;
    }
    Ok(())
}

/// A desk as the mail names it: a number or a letter is 「3番窓口」 / "desk 3", any other name
/// as it is (the waiting-room screen says it so too).
fn desk_words(desk: &str) -> (String, String) {
    let d = desk.trim();
    let short = d.chars().all(|c| c.is_ascii_digit())
        || (d.len() == 1 && d.chars().all(|c| c.is_ascii_alphabetic()));
    match short && !d.is_empty() {
        true => (format!("{d}番窓口"), format!("desk {d}")),
        false => (d.to_string(), d.to_string()),
    }
}

/// What the mail says: how many are ahead, or the desk.
enum Turn<'a> {
    Near { ahead: usize, wait: u32 },
    Called { desk: &'a str },
}

fn mail_turn(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    t: &TicketRow,
    turn: Turn<'_>,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let (ahead, wait, desk) = match turn {
        Turn::Near { ahead, wait } => (ahead, Some(wait), None),
        Turn::Called { desk } => (0, None, Some(desk_words(desk))),
    };
    let Some(rid) = &t.reservation_id else {
        return Ok(());
    };
    let Some(recipient) = reservation_repo::find_by_id(conn, rid)?.and_then(|r| r.email) else {
        return Ok(());
    };
    let mail = TurnMail {
        counter_name: counter.name.clone(),
        ticket: t.label.clone(),
        ahead: u32::try_from(ahead).unwrap_or(u32::MAX),
        estimated_wait_minutes: wait,
        desk: desk.as_ref().map(|(ja, _)| ja.clone()),
        desk_en: desk.map(|(_, en)| en),
        ticket_url: Links::new(&ctx.settings.public_url).ticket(&t.public_id),
        sender_footer: ctx.settings.mail_footer(),
    };
    enqueue(
        conn,
        NewMail {
            kind: MailKind::TurnNear,
            recipient: &recipient,
            payload: MailPayload::Turn(mail),
            reservation_id: Some(rid),
        },
        ctx.message_domain,
        now,
    )?;
    Ok(())
}
