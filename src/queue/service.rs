//! The day's queue at a counter: check-in, walk-in tickets, calling, and the outcomes.
//! Every desk write is audited in its own transaction.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;

use super::next_to_call::{queue_order, Kind, Rule, Waiting};
use super::repo::{self, TicketRow, CALLED, COMPLETED, NO_SHOW, WAITING};
use crate::calendar::repo::closure_exists;
use crate::calendar::{Counter, DayStatus};
use crate::db::{lock_keys, write_tx, DbConnection};
use crate::error::AppError;
use crate::reservations::model::{ReservationRow, Status};
use crate::reservations::numbers::normalise_reservation_number;
use crate::reservations::repo as reservation_repo;
use crate::reservations::service::Ctx;
use crate::staff::audit;

pub const RESERVED: &str = "reserved";
pub const WALK_IN: &str = "walk_in";

/// A ticket with where it stands in the queue now.
#[derive(Debug, Clone)]
pub struct Issued {
    pub ticket: TicketRow,
    pub reservation_number: Option<String>,
    pub position: Option<usize>,
    pub estimated_wait_minutes: Option<u32>,
}

fn counter<'a>(ctx: &Ctx<'a>, id: &str) -> Result<&'a Counter, AppError> {
    ctx.calendar
        .counter(id)
        .ok_or(AppError::NotFound("counter_not_found"))
}

fn queue_key(counter: &str, day: NaiveDate) -> String {
    format!("queue:{counter}:{day}")
}

fn waiting_of(t: &TicketRow) -> Waiting {
    Waiting {
        kind: if t.kind == RESERVED {
            Kind::Reserved
        } else {
            Kind::WalkIn
        },
        issued_at: t.issued_at.and_utc(),
        slot_starts_at: t.slot_starts_at.map(|s| s.and_utc()),
        number: t.number,
    }
}

/// A day's waiting tickets in the order they would be called now.
pub fn ordered_waiting(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<TicketRow>> {
    let waiting = repo::list_tickets(conn, counter, day, Some(WAITING))?;
    let keys: Vec<Waiting> = waiting.iter().map(waiting_of).collect();
    let order = queue_order(&keys, now, Rule::from(&ctx.settings.queue));
    Ok(order.into_iter().map(|i| waiting[i].clone()).collect())
}

/// Where a ticket stands, and the estimate: the service minutes of everyone ahead, divided by
/// the desks that called someone within `queue.desk_activity_minutes` (`queue.default_desks`
/// when none has). It counts who waits now; reserved visitors who have not arrived yet may
/// still go ahead of a walk-in, so it is a lower bound in the morning and close later on.
fn position_and_wait(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    now: DateTime<Utc>,
) -> diesel::QueryResult<(Option<usize>, Option<u32>)> {
    let q = &ctx.settings.queue;
    let ordered = ordered_waiting(conn, ctx, &ticket.counter_id, ticket.service_on, now)?;
    let Some(index) = ordered.iter().position(|t| t.id == ticket.id) else {
        return Ok((None, None));
    };
    let ahead: u32 = ordered[..index]
        .iter()
        .map(|t| q.service_minutes_for(t.procedure_id.as_deref()))
        .sum();
    let desks = desks_calling(conn, ctx, &ticket.counter_id, now)?;
    Ok((Some(index + 1), Some(ahead.div_ceil(desks))))
}

/// Desks that called someone within `queue.desk_activity_minutes`, else `queue.default_desks`.
fn desks_calling(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u32> {
    let q = &ctx.settings.queue;
    let since = now - Duration::minutes(i64::from(q.desk_activity_minutes));
    Ok(match repo::active_desks(conn, counter, since)? {
        0 => q.default_desks,
        n => u32::try_from(n).unwrap_or(1),
    }
    .max(1))
}

fn label(kind: &str, number: i32) -> String {
    let prefix = if kind == RESERVED { "R" } else { "W" };
    format!("{prefix}-{number:03}")
}

fn new_ticket(
    counter: &str,
    day: NaiveDate,
    kind: &str,
    number: i32,
    now: DateTime<Utc>,
) -> TicketRow {
    TicketRow {
        id: uuid::Uuid::new_v4().to_string(),
        counter_id: counter.to_string(),
        service_on: day,
        kind: kind.to_string(),
        number,
        label: label(kind, number),
        status: WAITING.to_string(),
        reservation_id: None,
        procedure_id: None,
        slot_starts_at: None,
        issued_at: now.naive_utc(),
        called_at: None,
        desk: None,
        calls: 0,
        finished_at: None,
    }
}

/// Checks a reserved visitor in by reservation number: only on the reservation's day and
/// counter, only once, never a cancelled one. Issues a `reserved` ticket.
pub fn check_in(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    counter_id: &str,
    reservation_number: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Issued, AppError> {
    let counter = counter(&ctx, counter_id)?;
    let number = normalise_reservation_number(reservation_number)
        .ok_or(AppError::NotFound("reservation_not_found"))?;
    let today = counter.today(now);
    let issued = write_tx(conn, |conn| {
        let r: ReservationRow = reservation_repo::find_by_number(conn, &number)?
            .ok_or(AppError::NotFound("reservation_not_found"))?;
        if r.status == Status::Cancelled.as_str() {
            return Err(AppError::conflict("reservation_cancelled"));
        }
        if r.status != Status::Confirmed.as_str() {
            return Err(AppError::conflict("already_checked_in"));
        }
        if r.counter_id != counter.id {
            return Err(AppError::Conflict {
                code: "wrong_counter",
                detail: Some(format!("the reservation is for counter {}", r.counter_id)),
                extra: Some(json!({ "counter": r.counter_id })),
            });
        }
        if r.visit_on != today {
            return Err(AppError::Conflict {
                code: "not_today",
                detail: Some(format!("the reservation is for {}", r.visit_on)),
                extra: Some(json!({ "date": r.visit_on.to_string() })),
            });
        }
        if !reservation_repo::set_status(
            conn,
            &r.id,
            &[Status::Confirmed.as_str()],
            Status::CheckedIn.as_str(),
            now,
        )? {
            return Err(AppError::conflict("already_checked_in"));
        }
        let n = repo::next_number(conn, &counter.id, today, RESERVED)?;
        let ticket = TicketRow {
            reservation_id: Some(r.id.clone()),
            procedure_id: Some(r.procedure_id.clone()),
            slot_starts_at: Some(r.starts_at),
            ..new_ticket(&counter.id, today, RESERVED, n, now)
        };
        repo::insert_ticket(conn, &ticket)?;
        audit::record(
            conn,
            Some(actor),
            "desk.check_in",
            &number,
            json!({ "ticket": ticket.label, "counter": counter.id }),
            now,
        )?;
        let (position, estimated_wait_minutes) = position_and_wait(conn, &ctx, &ticket, now)?;
        Ok(Issued {
            ticket,
            reservation_number: Some(number.clone()),
            position,
            estimated_wait_minutes,
        })
    })?;
    tracing::info!(ticket = %issued.ticket.label, counter = %counter.id, "checked in");
    Ok(issued)
}

/// A walk-in ticket, with its position and estimated wait.
pub fn walk_in(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    counter_id: &str,
    procedure: Option<String>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Issued, AppError> {
    let counter = counter(&ctx, counter_id)?;
    if let Some(p) = &procedure {
        ctx.catalogue
            .get(p)
            .ok_or(AppError::NotFound("procedure_not_found"))?;
    }
    let today = counter.today(now);
    if let DayStatus::Closed(reason) = ctx.calendar.day(counter, today) {
        return Err(AppError::Conflict {
            code: "day_closed",
            detail: Some(format!("the counter is closed today ({})", reason.as_str())),
            extra: None,
        });
    }
    write_tx(conn, |conn| {
        if closure_exists(conn, &counter.id, today)? {
            return Err(AppError::conflict("day_closed"));
        }
        let n = repo::next_number(conn, &counter.id, today, WALK_IN)?;
        let ticket = TicketRow {
            procedure_id: procedure.clone(),
            ..new_ticket(&counter.id, today, WALK_IN, n, now)
        };
        repo::insert_ticket(conn, &ticket)?;
        audit::record(
            conn,
            Some(actor),
            "desk.walk_in",
            &ticket.label,
            json!({ "counter": counter.id, "procedure": procedure }),
            now,
        )?;
        let (position, estimated_wait_minutes) = position_and_wait(conn, &ctx, &ticket, now)?;
        Ok(Issued {
            ticket,
            reservation_number: None,
            position,
            estimated_wait_minutes,
        })
    })
}

/// Calls the next visitor to `desk` by the rule. The claim is made under the counter's queue
/// lock with a conditional UPDATE, so two desks calling at once never get the same ticket.
pub fn call_next(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    counter_id: &str,
    desk: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Issued>, AppError> {
    let counter = counter(&ctx, counter_id)?;
    let today = counter.today(now);
    write_tx(conn, |conn| {
        lock_keys(conn, &[&queue_key(&counter.id, today)])?;
        let Some(next) = ordered_waiting(conn, &ctx, &counter.id, today, now)?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        if !repo::transition(conn, &next.id, &[WAITING], CALLED, Some(desk), now)? {
            return Err(AppError::Unexpected(anyhow::anyhow!(
                "ticket {} was taken under the queue lock",
                next.label
            )));
        }
        repo::insert_call_event(conn, &counter.id, today, &next.label, desk, now)?;
        audit::record(
            conn,
            Some(actor),
            "desk.call",
            &next.label,
            json!({ "counter": counter.id, "desk": desk }),
            now,
        )?;
        let called = TicketRow {
            status: CALLED.into(),
            desk: Some(desk.to_string()),
            called_at: Some(now.naive_utc()),
            calls: next.calls + 1,
            ..next
        };
        Ok(Some(with_reservation_number(conn, called)?))
    })
}

/// A ticket with the reservation number of its visitor (reserved tickets), as the desk shows it.
fn with_reservation_number(
    conn: &mut DbConnection,
    ticket: TicketRow,
) -> diesel::QueryResult<Issued> {
    let reservation_number = match &ticket.reservation_id {
        Some(id) => reservation_repo::find_number_by_id(conn, id)?,
        None => None,
    };
    Ok(Issued {
        ticket,
        reservation_number,
        position: None,
        estimated_wait_minutes: None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    NoShow,
    Recall,
}

/// Completes, marks as no-show, or recalls (to the same desk) a called ticket of today. A
/// reserved visitor's reservation follows: completed, no-show, or back to checked in.
pub fn settle(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    counter_id: &str,
    label: &str,
    outcome: Outcome,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Issued, AppError> {
    let counter = counter(&ctx, counter_id)?;
    let today = counter.today(now);
    let label = label.trim().to_ascii_uppercase();
    write_tx(conn, |conn| {
        if outcome == Outcome::Recall {
            // Recalls are calls: serialised with them, so display events stay in order.
            lock_keys(conn, &[&queue_key(&counter.id, today)])?;
        }
        let t = repo::find_ticket(conn, &counter.id, today, &label)?
            .ok_or(AppError::NotFound("ticket_not_found"))?;
        let (from, to, reservation_to, action): (&[&str], &str, &str, &str) = match outcome {
            Outcome::Complete => (
                &[CALLED],
                COMPLETED,
                Status::Completed.as_str(),
                "desk.complete",
            ),
            Outcome::NoShow => (&[CALLED], NO_SHOW, Status::NoShow.as_str(), "desk.no_show"),
            Outcome::Recall => (
                &[CALLED, NO_SHOW],
                CALLED,
                Status::CheckedIn.as_str(),
                "desk.recall",
            ),
        };
        let desk = t.desk.clone();
        if !repo::transition(conn, &t.id, from, to, desk.as_deref(), now)? {
            return Err(AppError::Conflict {
                code: "ticket_not_called",
                detail: Some(format!("ticket {label} is {}", t.status)),
                extra: Some(json!({ "status": t.status })),
            });
        }
        if let Some(rid) = &t.reservation_id {
            let any = [
                Status::CheckedIn.as_str(),
                Status::Completed.as_str(),
                Status::NoShow.as_str(),
            ];
            reservation_repo::set_status(conn, rid, &any, reservation_to, now)?;
        }
        if outcome == Outcome::Recall {
            repo::insert_call_event(
                conn,
                &counter.id,
                today,
                &label,
                desk.as_deref().unwrap_or(""),
                now,
            )?;
        }
        audit::record(
            conn,
            Some(actor),
            action,
            &label,
            json!({ "counter": counter.id, "desk": desk }),
            now,
        )?;
        let t = repo::find_ticket(conn, &counter.id, today, &label)?
            .ok_or(AppError::NotFound("ticket_not_found"))?;
        Ok(with_reservation_number(conn, t)?)
    })
}

/// The day's queue as the desk sees it.
pub struct QueueView {
    pub waiting: Vec<Issued>,
    pub called: Vec<TicketRow>,
    pub finished: Vec<TicketRow>,
    pub reservations: Vec<ReservationRow>,
    /// Reservation numbers by reservation id, for the tickets.
    pub numbers: std::collections::HashMap<String, String>,
}

pub fn queue(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    counter_id: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<QueueView, AppError> {
    let counter = counter(&ctx, counter_id)?;
    let ordered = ordered_waiting(conn, &ctx, &counter.id, day, now)?;
    let all = repo::list_tickets(conn, &counter.id, day, None)?;
    let mut called: Vec<TicketRow> = all.iter().filter(|t| t.status == CALLED).cloned().collect();
    called.sort_by_key(|t| std::cmp::Reverse(t.called_at));
    let finished = all
        .iter()
        .filter(|t| t.status == COMPLETED || t.status == NO_SHOW)
        .cloned()
        .collect();
    let reservations = reservation_repo::search(
        conn,
        &reservation_repo::Search {
            date: Some(day),
            counter: Some(counter.id.clone()),
            ..Default::default()
        },
        1000,
    )?;
    let numbers = reservations
        .iter()
        .map(|r| (r.id.clone(), r.reservation_number.clone()))
        .collect();
    let q = &ctx.settings.queue;
    let desks = desks_calling(conn, &ctx, &counter.id, now)?;
    let mut ahead = 0u32;
    let waiting = ordered
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let wait = ahead.div_ceil(desks);
            ahead += q.service_minutes_for(t.procedure_id.as_deref());
            Issued {
                ticket: t,
                reservation_number: None,
                position: Some(i + 1),
                estimated_wait_minutes: Some(wait),
            }
        })
        .collect();
    Ok(QueueView {
        waiting,
        called,
        finished,
        reservations,
        numbers,
    })
}
