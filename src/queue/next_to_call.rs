//! Who is called next: a pure function of (waiting tickets, now, settings).
//!
//! 「ご予約をいただいた方が優先での対応となります」. At time t, among waiting tickets:
//! 1. reserved visitors who checked in no later than slot start + late grace, and whose slot
//!    starts no later than t + early minutes: earliest slot first, then earliest check-in;
//! 2. otherwise walk-ins, together with reserved visitors who checked in after slot start +
//!    late grace: earliest ticket first;
//! 3. otherwise reserved visitors who came early: earliest slot first.

use chrono::{DateTime, Duration, Utc};

use crate::config::QueueSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Reserved,
    WalkIn,
}

/// What the rule needs to know of a waiting ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiting {
    pub kind: Kind,
    /// When the ticket was issued: the check-in for a reserved visitor.
    pub issued_at: DateTime<Utc>,
    /// The reserved slot's start (reserved tickets only).
    pub slot_starts_at: Option<DateTime<Utc>>,
    /// The ticket number, the last tie-breaker.
    pub number: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub early: Duration,
    pub late_grace: Duration,
}

impl From<&QueueSettings> for Rule {
    fn from(q: &QueueSettings) -> Self {
        Rule {
            early: Duration::minutes(i64::from(q.early_minutes)),
            late_grace: Duration::minutes(i64::from(q.late_grace_minutes)),
        }
    }
}

/// The three groups of the rule, in calling order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    OnTimeReserved,
    ByTicket,
    EarlyReserved,
}

pub(crate) fn group(w: &Waiting, now: DateTime<Utc>, rule: Rule) -> Group {
    match (w.kind, w.slot_starts_at) {
        (Kind::Reserved, Some(slot)) if w.issued_at > slot + rule.late_grace => Group::ByTicket,
        (Kind::Reserved, Some(slot)) if slot <= now + rule.early => Group::OnTimeReserved,
        (Kind::Reserved, Some(_)) => Group::EarlyReserved,
        _ => Group::ByTicket,
    }
}

/// The waiting tickets' indices in the order they would be called at `now`.
pub(crate) fn queue_order(waiting: &[Waiting], now: DateTime<Utc>, rule: Rule) -> Vec<usize> {
    let mut order: Vec<usize> = (0..waiting.len()).collect();
    order.sort_by_key(|&i| {
        let w = &waiting[i];
        let g = group(w, now, rule);
        let first = match g {
            Group::OnTimeReserved | Group::EarlyReserved => w.slot_starts_at.unwrap_or(w.issued_at),
            Group::ByTicket => w.issued_at,
        };
        (g, first, w.issued_at, w.number)
    });
    order
}

/// The index of the ticket to call now, if anyone waits.
#[cfg(test)]
pub(crate) fn next_to_call(waiting: &[Waiting], now: DateTime<Utc>, rule: Rule) -> Option<usize> {
    queue_order(waiting, now, rule).first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hhmm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2027-01-04T{hhmm}:00+09:00"))
            .unwrap()
            .to_utc()
    }

    fn reserved(number: i32, slot: &str, checked_in: &str) -> Waiting {
        Waiting {
            kind: Kind::Reserved,
            issued_at: at(checked_in),
            slot_starts_at: Some(at(slot)),
            number,
        }
    }

    fn walk_in(number: i32, issued: &str) -> Waiting {
        Waiting {
            kind: Kind::WalkIn,
            issued_at: at(issued),
            slot_starts_at: None,
            number,
        }
    }

    const RULE: Rule = Rule {
        early: Duration::minutes(30),
        late_grace: Duration::minutes(15),
    };

    #[test]
    fn a_reserved_visitor_on_time_goes_before_an_earlier_walk_in() {
        let waiting = [walk_in(1, "08:40"), reserved(1, "09:00", "08:55")];
        assert_eq!(next_to_call(&waiting, at("09:00"), RULE), Some(1));
        // Within the early window too: a 09:30 slot at 09:05 is "on time".
        let waiting = [walk_in(1, "08:40"), reserved(1, "09:30", "09:01")];
        assert_eq!(next_to_call(&waiting, at("09:05"), RULE), Some(1));
    }

    #[test]
    fn on_time_reserved_visitors_go_by_slot_then_check_in() {
        let waiting = [
            reserved(3, "09:30", "09:10"),
            reserved(1, "09:00", "08:58"),
            reserved(2, "09:00", "08:50"),
        ];
        assert_eq!(queue_order(&waiting, at("09:10"), RULE), [2, 1, 0]);
    }

    #[test]
    fn a_reserved_visitor_late_beyond_the_grace_falls_back_among_walk_ins_by_ticket_time() {
        // Slot 09:00, checked in 09:16 (grace ends 09:15): late.
        let waiting = [
            walk_in(1, "09:05"),
            reserved(1, "09:00", "09:16"),
            walk_in(2, "09:20"),
        ];
        assert_eq!(queue_order(&waiting, at("09:25"), RULE), [0, 1, 2]);
        // At the grace's last second they are still on time.
        let waiting = [walk_in(1, "09:05"), reserved(1, "09:00", "09:15")];
        assert_eq!(next_to_call(&waiting, at("09:25"), RULE), Some(1));
    }

    #[test]
    fn an_early_reserved_visitor_waits_while_walk_ins_are_served() {
        // A 10:30 slot checked in at 09:00 is early until 10:00.
        let waiting = [
            reserved(1, "10:30", "09:00"),
            walk_in(1, "09:10"),
            walk_in(2, "09:20"),
        ];
        assert_eq!(queue_order(&waiting, at("09:30"), RULE), [1, 2, 0]);
        // From 10:00 the slot is within the early window: the reserved visitor goes first.
        assert_eq!(next_to_call(&waiting, at("10:00"), RULE), Some(0));
    }

    #[test]
    fn with_only_early_reserved_visitors_waiting_the_earliest_slot_is_called() {
        let waiting = [reserved(2, "11:00", "09:00"), reserved(1, "10:30", "09:05")];
        assert_eq!(next_to_call(&waiting, at("09:15"), RULE), Some(1));
    }

    #[test]
    fn nobody_waiting_means_nobody_called() {
        assert_eq!(next_to_call(&[], at("09:00"), RULE), None);
    }

    #[test]
    fn walk_ins_go_by_ticket_time_then_number() {
        let waiting = [
            walk_in(2, "09:00"),
            walk_in(1, "09:00"),
            walk_in(3, "08:59"),
        ];
        assert_eq!(queue_order(&waiting, at("09:30"), RULE), [2, 1, 0]);
    }
}
