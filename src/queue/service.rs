//! The day's queue at a counter: check-in, walk-in tickets, calling, and the outcomes.
//! Every desk write is audited in its own transaction.

use chrono::{DateTime, NaiveDate, Utc};

pub(crate) use super::error::DeskError;
use super::model::{TicketKind, TicketStatus};
use super::repo::{self, TicketRow};
pub(crate) use super::waiting::ordered_waiting;
use super::waiting::{estimated_waits, lock_queue, position_and_wait};
use crate::calendar::Counter;
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::reservations::model::{ReservationRow, ReservationStatus};
use crate::reservations::numbers::normalise_reservation_number;
use crate::reservations::repo as reservation_repo;
use crate::reservations::service::Ctx;
use crate::staff::audit::{self, Action, Detail};

/// A ticket with where it stands in the queue now.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub ticket: TicketRow,
    pub reservation_number: Option<String>,
    pub position: Option<usize>,
    pub estimated_wait_minutes: Option<u32>,
}

fn counter<'a>(ctx: &Ctx<'a>, id: &str) -> Result<&'a Counter, DeskError> {
    Ok(ctx.calendar.get_counter(id)?)
}

/// A ticket's public id: 128 random bits, base64url (22 characters), short enough for a small
/// QR code, and nothing one ticket's page could learn another's from.
fn new_public_id() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn label(kind: TicketKind, number: i32) -> String {
    format!("{}-{number:03}", kind.prefix())
}

fn new_ticket(
    counter: &str,
    day: NaiveDate,
    kind: TicketKind,
    number: i32,
    now: DateTime<Utc>,
) -> TicketRow {
    TicketRow {
        id: uuid::Uuid::new_v4().to_string(),
        counter_id: counter.to_string(),
        service_on: day,
        kind,
        number,
        label: label(kind, number),
        status: TicketStatus::Waiting,
        reservation_id: None,
        procedure_id: None,
        slot_starts_at: None,
        issued_at: now.naive_utc(),
        called_at: None,
        desk: None,
        calls: 0,
        finished_at: None,
        public_id: new_public_id(),
        alert_requested_at: None,
        alert_sent_at: None,
    }
}

/// Checks a reserved visitor in by reservation number: only on the reservation's day and
/// counter, only once, never a cancelled one. Issues a `reserved` ticket.
pub(crate) fn check_in(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    counter_id: &str,
    reservation_number: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Issued, DeskError> {
    let counter = counter(&ctx, counter_id)?;
    let number =
        normalise_reservation_number(reservation_number).ok_or(DeskError::ReservationNotFound)?;
    let today = counter.today(now);
    let issued = conn.savepoint(|conn| {
        let r = arriving(conn, &number, &counter.id, today)?;
        open_today(conn, &ctx, counter, today)?;
        if !reservation_repo::set_status(
            conn,
            &r.id,
            &[ReservationStatus::Confirmed],
            ReservationStatus::CheckedIn,
            now,
        )? {
            return Err(DeskError::AlreadyCheckedIn { ticket: None });
        }
        // A party comes together: everyone of it booked for today here is checked in under
        // this one ticket.
        for m in reservation_repo::party_mates(conn, &r.id)? {
            if m.counter_id == counter.id && m.visit_on == today {
                reservation_repo::set_status(
                    conn,
                    &m.id,
                    &[ReservationStatus::Confirmed],
                    ReservationStatus::CheckedIn,
                    now,
                )?;
            }
        }
        let n = repo::next_number(conn, &counter.id, today, TicketKind::Reserved)?;
        let ticket = TicketRow {
            reservation_id: Some(r.id.clone()),
            procedure_id: Some(r.procedure_id.clone()),
            slot_starts_at: Some(r.starts_at),
            ..new_ticket(&counter.id, today, TicketKind::Reserved, n, now)
        };
        repo::insert_ticket(conn, &ticket)?;
        audit::record(
            conn,
            Some(actor),
            &number,
            &Detail::CheckedIn {
                ticket: &ticket.label,
                counter: &counter.id,
            },
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

/// Today at the counter, which must be open: its day's lock shared (a closure of the day waits
/// for the desk's write, or the desk for the closure), then the day's status.
fn open_today(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    counter: &Counter,
    today: NaiveDate,
) -> Result<(), DeskError> {
    let day = Lock::Day {
        counter: &counter.id,
        day: today,
    };
    lock(conn, &[(Mode::Shared, day)])?;
    ctx.calendar.open_day(conn, counter, today)?;
    Ok(())
}

/// The reservation of a visitor arriving at `counter` today, if it can be checked in.
fn arriving(
    conn: &mut Tx<'_>,
    number: &str,
    counter: &str,
    today: NaiveDate,
) -> Result<ReservationRow, DeskError> {
    let r: ReservationRow =
        reservation_repo::find_by_number(conn, number)?.ok_or(DeskError::ReservationNotFound)?;
    match r.status {
        ReservationStatus::Cancelled => return Err(DeskError::ReservationCancelled),
        ReservationStatus::Confirmed => {}
        ReservationStatus::CheckedIn | ReservationStatus::Completed | ReservationStatus::NoShow => {
            // Checked in on its own, or with its party under another's ticket.
            let mut ticket = repo::find_ticket_of_reservation(conn, &r.id)?.map(|t| t.label);
            for m in reservation_repo::party_mates(conn, &r.id)? {
                if ticket.is_some() {
                    break;
                }
                ticket = repo::find_ticket_of_reservation(conn, &m.id)?.map(|t| t.label);
            }
            return Err(DeskError::AlreadyCheckedIn { ticket });
        }
    }
    if r.counter_id != counter {
        return Err(DeskError::WrongCounter {
            counter: r.counter_id,
        });
    }
    if r.visit_on != today {
        return Err(DeskError::NotToday { date: r.visit_on });
    }
    Ok(r)
}

/// A walk-in ticket, with its position and estimated wait.
pub(crate) fn walk_in(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    counter_id: &str,
    procedure: Option<String>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Issued, DeskError> {
    let counter = counter(&ctx, counter_id)?;
    if let Some(p) = &procedure {
        ctx.catalogue.get(p).ok_or(DeskError::ProcedureNotFound)?;
    }
    let today = counter.today(now);
    open_today(conn, &ctx, counter, today)?;
    let n = repo::next_number(conn, &counter.id, today, TicketKind::WalkIn)?;
    let ticket = TicketRow {
        procedure_id: procedure.clone(),
        ..new_ticket(&counter.id, today, TicketKind::WalkIn, n, now)
    };
    repo::insert_ticket(conn, &ticket)?;
    audit::record(
        conn,
        Some(actor),
        &ticket.label,
        &Detail::WalkIn {
            counter: &counter.id,
            procedure: procedure.as_deref(),
        },
        now,
    )?;
    let (position, estimated_wait_minutes) = position_and_wait(conn, &ctx, &ticket, now)?;
    Ok(Issued {
        ticket,
        reservation_number: None,
        position,
        estimated_wait_minutes,
    })
}

/// Calls the next visitor to `desk` by the rule. The claim is made under the counter's queue
/// lock with a conditional UPDATE, so two desks calling at once never get the same ticket.
/// With `settle`, the desk serves one visitor at a time: under the same lock, the tickets the
/// clerk named are settled first (one a colleague settled meanwhile counts as settled), and a
/// ticket called to this desk that the clerk did not name refuses the call, changing nothing.
pub(crate) fn call_next(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    counter_id: &str,
    desk: &str,
    settle_first: Option<(&[String], Outcome)>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Issued>, DeskError> {
    let counter = counter(&ctx, counter_id)?;
    let today = counter.today(now);
    lock_queue(conn, &counter.id, today)?;
    if let Some(settle) = settle_first {
        settle_desk(conn, ctx, counter, desk, settle, actor, now)?;
    }
    let ordered = ordered_waiting(conn, &ctx, &counter.id, today, now)?;
    let Some(next) = ordered.first().cloned() else {
        return Ok(None);
    };
    if !repo::transition(
        conn,
        &next.id,
        &[TicketStatus::Waiting],
        TicketStatus::Called,
        Some(desk),
        now,
    )? {
        return Err(anyhow::anyhow!("ticket {} was taken under the queue lock", next.label).into());
    }
    repo::insert_call_event(conn, &counter.id, today, &next.label, desk, now)?;
    // The one called, if its turn came before its mail; everyone behind moved up one: those
    // who asked are told when their turn nears.
    super::follow::tell_called(conn, &ctx, counter, (&next, desk), now)?;
    super::follow::tell_near(conn, &ctx, counter, &ordered[1..], now)?;
    audit::record(
        conn,
        Some(actor),
        &next.label,
        &Detail::Desk {
            outcome: Action::DeskCall,
            counter: &counter.id,
            desk: Some(desk),
        },
        now,
    )?;
    let called = TicketRow {
        status: TicketStatus::Called,
        desk: Some(desk.to_string()),
        called_at: Some(now.naive_utc()),
        calls: next.calls + 1,
        ..next
    };
    Ok(Some(with_reservation_number(conn, called)?))
}

/// Settles what `desk` still serves before its next call: the tickets named, with the
/// outcome given, and only if every ticket called to it is named.
fn settle_desk(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    counter: &Counter,
    desk: &str,
    (named, outcome): (&[String], Outcome),
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let counter_id = counter.id.as_str();
    let today = counter.today(now);
    let called = repo::list_tickets(conn, counter_id, today, Some(TicketStatus::Called))?;
    let serving: Vec<&TicketRow> = called
        .iter()
        .filter(|t| t.desk.as_deref() == Some(desk))
        .collect();
    let is_named = |label: &str| named.iter().any(|n| n.trim().eq_ignore_ascii_case(label));
    if let Some(other) = serving.iter().find(|t| !is_named(&t.label)) {
        return Err(DeskError::DeskServing {
            label: other.label.clone(),
            desk: desk.to_string(),
        });
    }
    for t in serving {
        match settle(conn, ctx, counter_id, &t.label, outcome, actor, now) {
            // A colleague settled it between the list and the update (PostgreSQL: the
            // conditional UPDATE waited for their commit and matched nothing): settled.
            Ok(_) | Err(DeskError::TicketNotCalled { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
pub(crate) enum Outcome {
    Complete,
    NoShow,
    Recall,
}

/// Completes, marks as no-show, or recalls (to the same desk) a called ticket of today. A
/// reserved visitor's reservation follows: completed, no-show, or back to checked in.
pub(crate) fn settle(
    conn: &mut Tx<'_>,
    ctx: Ctx<'_>,
    counter_id: &str,
    label: &str,
    outcome: Outcome,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Issued, DeskError> {
    let counter = counter(&ctx, counter_id)?;
    let today = counter.today(now);
    let label = label.trim().to_ascii_uppercase();
    if outcome == Outcome::Recall {
        // Recalls are calls: serialised with them, so display events stay in order.
        lock_queue(conn, &counter.id, today)?;
    }
    let t = repo::find_ticket(conn, &counter.id, today, &label)?.ok_or_else(|| {
        DeskError::TicketNotFound {
            label: label.clone(),
        }
    })?;
    let Transition {
        from,
        to,
        reservation_to,
        action,
    } = outcome.transition();
    let desk = t.desk.clone();
    if !repo::transition(conn, &t.id, from, to, desk.as_deref(), now)? {
        return Err(DeskError::TicketNotCalled {
            label: label.clone(),
            status: t.status,
        });
    }
    if let Some(rid) = &t.reservation_id {
        use ReservationStatus as R;
        let any = [R::CheckedIn, R::Completed, R::NoShow];
        // The ticket's reservation and its party's others checked in with it.
        let mut ids = vec![rid.clone()];
        for m in reservation_repo::party_mates(conn, rid)? {
            if any.contains(&m.status) && m.visit_on == today {
                ids.push(m.id);
            }
        }
        for id in &ids {
            reservation_repo::set_status(conn, id, &any, reservation_to, now)?;
            if outcome == Outcome::Complete {
                reservation_repo::mark_completed_at(conn, id, now)?;
                invite_second_visit(conn, &ctx, id, now)?;
            }
        }
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
        &label,
        &Detail::Desk {
            outcome: action,
            counter: &counter.id,
            desk: desk.as_deref(),
        },
        now,
    )?;
    let t = repo::find_ticket(conn, &counter.id, today, &label)?.ok_or_else(|| {
        DeskError::TicketNotFound {
            label: label.clone(),
        }
    })?;
    Ok(with_reservation_number(conn, t)?)
}

/// What an outcome does to a called ticket and its reservation.
struct Transition {
    /// The ticket's statuses it applies to.
    from: &'static [TicketStatus],
    to: TicketStatus,
    reservation_to: ReservationStatus,
    action: Action,
}

impl Outcome {
    fn transition(self) -> Transition {
        use ReservationStatus as R;
        use TicketStatus as T;
        let (from, to, reservation_to, action): (&'static [T], T, R, Action) = match self {
            Outcome::Complete => (
                &[T::Called],
                T::Completed,
                R::Completed,
                Action::DeskComplete,
            ),
            Outcome::NoShow => (&[T::Called], T::NoShow, R::NoShow, Action::DeskNoShow),
            Outcome::Recall => (
                &[T::Called, T::NoShow],
                T::Called,
                R::CheckedIn,
                Action::DeskRecall,
            ),
        };
        Transition {
            from,
            to,
            reservation_to,
            action,
        }
    }
}

/// The day's queue as the desk sees it.
pub(crate) struct QueueView {
    pub waiting: Vec<Issued>,
    pub called: Vec<TicketRow>,
    pub finished: Vec<TicketRow>,
    pub reservations: Vec<ReservationRow>,
    /// Reservation numbers by reservation id, for the tickets.
    pub numbers: std::collections::HashMap<String, String>,
}

pub(crate) fn queue(
    conn: &mut DbConnection,
    ctx: Ctx<'_>,
    counter_id: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<QueueView, DeskError> {
    let counter = counter(&ctx, counter_id)?;
    let ordered = ordered_waiting(conn, &ctx, &counter.id, day, now)?;
    let all = repo::list_tickets(conn, &counter.id, day, None)?;
    let mut called: Vec<TicketRow> = all
        .iter()
        .filter(|t| t.status == TicketStatus::Called)
        .cloned()
        .collect();
    called.sort_by_key(|t| std::cmp::Reverse(t.called_at));
    let finished = all
        .iter()
        .filter(|t| matches!(t.status, TicketStatus::Completed | TicketStatus::NoShow))
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
    let waits = estimated_waits(conn, &ctx, &counter.id, &ordered, now)?;
    let waiting = ordered
        .into_iter()
        .zip(waits)
        .enumerate()
        .map(|(i, (t, wait))| Issued {
            ticket: t,
            reservation_number: None,
            position: Some(i + 1),
            estimated_wait_minutes: Some(wait),
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

/// A voluntary proxy's first visit completed: the mail explaining the inquiry form and how to
/// book the second visit (with a link to book it), when the resident gave an address.
fn invite_second_visit(
    conn: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    reservation_id: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    use crate::mail::links;
    use crate::mail::{enqueue, MailKind, MailPayload, NewMail};
    use crate::reservations::mail::reservation_mail;
    use crate::reservations::service::{needs_two_visits, second_visit_range};
    let Some(row) = reservation_repo::find_by_id(conn, reservation_id)? else {
        return Ok(());
    };
    if row.visit != 1 || !needs_two_visits(ctx, &row) {
        return Ok(());
    }
    let Some(recipient) = row.email.clone() else {
        return Ok(());
    };
    let token = reservation_repo::issue_manage_link(conn, &row.id, now)?;
    let mut mail = reservation_mail(ctx, &row, Some(&token), now);
    // What to bring next time, and the days the second visit may be booked.
    if let Some(needs) = ctx
        .catalogue
        .get(&row.procedure_id)
        .map(|p| p.applicant(row.applicant_type))
    {
        if !needs.second_visit_requirements.is_empty() {
            mail.requirements = needs.second_visit_requirements.clone();
        }
    }
    if let Some((from, until)) = second_visit_range(ctx, &row) {
        mail.second_visit_from = Some(links::date_label(from));
        mail.second_visit_until = Some(links::date_label(until));
    }
    mail.second_visit_url = mail.manage_url.as_deref().map(links::second_visit);
    enqueue(
        conn,
        NewMail {
            kind: MailKind::SecondVisit,
            recipient: &recipient,
            payload: MailPayload::Reservation(Box::new(mail)),
            reservation_id: Some(&row.id),
        },
        ctx.message_domain,
        now,
    )?;
    Ok(())
}
