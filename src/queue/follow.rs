//! Tickets people follow on their phones (`/ticket/{public_id}`): where a ticket stands, with
//! nothing of who holds it, and the one mail a reserved visitor may ask for when their turn
//! nears (`queue.notify_ahead` tickets or fewer ahead).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::error::DeskError;
use super::model::{TicketKind, TicketStatus};
use super::repo::{self, TicketRow};
use super::waiting::{estimated_waits, ordered_waiting};
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

/// Where a public id leads: a ticket of the counter's today (its board has it), or one of
/// another day, as it ended.
pub(crate) enum Located {
    Today { counter: String, day: NaiveDate },
    Other(Followed),
}

pub(crate) fn locate(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    public_id: &str,
    now: DateTime<Utc>,
) -> Result<Located, DeskError> {
    let t = repo::find_by_public_id(conn, public_id)?.ok_or(DeskError::NoSuchTicket)?;
    let today = ctx.calendar.get_counter(&t.counter_id)?.today(now);
    Ok(if t.service_on == today {
        Located::Today {
            counter: t.counter_id,
            day: today,
        }
    } else {
        Located::Other(view(&t, None, &HashSet::new()))
    })
}

/// The visitor asks to be mailed when their turn nears: a reserved visitor of today who gave
/// an address, while waiting (else `AlertUnavailable`). Asking again changes nothing; asking
/// when the turn is already near sends the mail at once. Returns the ticket's counter.
pub(crate) fn request_alert(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    public_id: &str,
    now: DateTime<Utc>,
) -> Result<String, DeskError> {
    let t = repo::find_by_public_id(conn, public_id)?.ok_or(DeskError::NoSuchTicket)?;
    if t.alert_requested_at.is_some() {
        return Ok(t.counter_id);
    }
    let counter = ctx.calendar.get_counter(&t.counter_id)?;
    let mailable = match &t.reservation_id {
        Some(r) => !reservation_repo::with_email(conn, std::slice::from_ref(r))?.is_empty(),
        None => false,
    };
    let waiting_today = t.status == TicketStatus::Waiting && t.service_on == counter.today(now);
    if !(mailable && waiting_today) {
        return Err(DeskError::AlertUnavailable);
    }
    repo::request_alert(conn, &t.id, now)?;
    let ordered = ordered_waiting(conn, ctx, &counter.id, t.service_on, now)?;
    let asked: Vec<TicketRow> = ordered
        .into_iter()
        .map(|o| match o.id == t.id {
            true => TicketRow {
                alert_requested_at: Some(now.naive_utc()),
                ..o
            },
            false => o,
        })
        .collect();
    tell_near(conn, ctx, counter, &asked, now)?;
    Ok(counter.id.clone())
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
    let asked = |t: &TicketRow| t.alert_requested_at.is_some() && t.alert_sent_at.is_none();
    if !waiting[..near].iter().any(asked) {
        return Ok(());
    }
    let waits = estimated_waits(conn, ctx, &counter.id, &waiting[..near], now)?;
    for (ahead, (t, wait)) in waiting[..near].iter().zip(waits).enumerate() {
        if asked(t) && repo::mark_alert_sent(conn, &t.id, now)? {
            mail_turn(conn, ctx, counter, t, (ahead, wait), now)?;
        }
    }
    Ok(())
}

fn mail_turn(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    t: &TicketRow,
    (ahead, wait): (usize, u32),
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
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
        estimated_wait_minutes: Some(wait),
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
