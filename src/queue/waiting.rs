//! The waiting tickets of a counter's day: the order they will be called in, and the
//! estimated wait of each.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::error::DeskError;
use super::model::{TicketKind, TicketStatus};
use super::next_to_call::{queue_order, Kind, Rule, Waiting};
use super::repo::{self, TicketRow};
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::reservations::repo as reservation_repo;
use crate::reservations::service::Ctx;

fn waiting_of(t: &TicketRow) -> Waiting {
    Waiting {
        kind: match t.kind {
            TicketKind::Reserved => Kind::Reserved,
            TicketKind::WalkIn => Kind::WalkIn,
        },
        issued_at: t.issued_at.and_utc(),
        slot_starts_at: t.slot_starts_at.map(|s| s.and_utc()),
        number: t.number,
    }
}

/// A day's waiting tickets in the order they would be called now.
pub(crate) fn ordered_waiting(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<TicketRow>> {
    let waiting = repo::list_tickets(conn, counter, day, Some(TicketStatus::Waiting))?;
    let keys: Vec<Waiting> = waiting.iter().map(waiting_of).collect();
    let order = queue_order(&keys, now, Rule::from(&ctx.settings.queue));
    Ok(order.into_iter().map(|i| waiting[i].clone()).collect())
}

/// Where a ticket stands, and the estimate: the service minutes of everyone ahead, divided by
/// the desks that called someone within `queue.desk_activity_minutes` (`queue.default_desks`
/// when none has). It counts who waits now; reserved visitors who have not arrived yet may
/// still go ahead of a walk-in, so it is a lower bound in the morning and close later on.
pub(crate) fn position_and_wait(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    ticket: &TicketRow,
    now: DateTime<Utc>,
) -> diesel::QueryResult<(Option<usize>, Option<u32>)> {
    let ordered = ordered_waiting(conn, ctx, &ticket.counter_id, ticket.service_on, now)?;
    let Some(index) = ordered.iter().position(|t| t.id == ticket.id) else {
        return Ok((None, None));
    };
    let waits = estimated_waits(conn, ctx, &ticket.counter_id, &ordered[..=index], now)?;
    Ok((Some(index + 1), waits.get(index).copied()))
}

/// The estimated wait of each of `ordered` (waiting tickets in the order they will be
/// called): the service minutes of everyone ahead (a party's ticket counts everyone checked
/// in with it), divided by the desks calling.
pub(crate) fn estimated_waits(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    counter: &str,
    ordered: &[TicketRow],
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<u32>> {
    let q = &ctx.settings.queue;
    let reserved: Vec<String> = ordered
        .iter()
        .filter_map(|t| t.reservation_id.clone())
        .collect();
    let mut mates: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for (lead, procedure) in reservation_repo::checked_in_mates(conn, &reserved)? {
        *mates.entry(lead).or_default() += q.service_minutes_for(Some(&procedure));
    }
    let desks = desks_calling(conn, ctx, counter, now)?;
    let mut ahead = 0u32;
    Ok(ordered
        .iter()
        .map(|t| {
            let wait = ahead.div_ceil(desks);
            let party = t.reservation_id.as_ref().and_then(|r| mates.get(r));
            ahead += q.service_minutes_for(t.procedure_id.as_deref()) + party.copied().unwrap_or(0);
            wait
        })
        .collect())
}

/// Desks that called someone within `queue.desk_activity_minutes`, else `queue.default_desks`.
pub(crate) fn desks_calling(
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

/// The day's queue at `counter`, exclusively: calls (and recalls, which are calls) are
/// serialised, so the display's events stay in order.
pub(crate) fn lock_queue(
    conn: &mut Tx<'_>,
    counter: &str,
    today: NaiveDate,
) -> Result<(), DeskError> {
    let queue = Lock::Queue {
        counter,
        day: today,
    };
    lock(conn, &[(Mode::Exclusive, queue)])?;
    Ok(())
}
