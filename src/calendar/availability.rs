//! Availability: the calendar's days and slots with what the database says is booked.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::repo::{list_closed_dates, list_slot_rows, SlotRow};
use super::{Calendar, ClosedReason, Counter, DayStatus, SlotDef};
use crate::db::DbConnection;

#[derive(Debug, Clone)]
pub struct DayView {
    pub date: NaiveDate,
    pub status: DayStatus,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub bookable_now: bool,
    pub slots: Vec<SlotView>,
}

#[derive(Debug, Clone)]
pub struct SlotView {
    pub def: SlotDef,
    pub capacity: u32,
    pub remaining: u32,
    pub bookable: bool,
}

/// Builds the days from `from` to `to` (inclusive) for `counter` at `now`, given the stored
/// rows and the days an administrator closed. Pure: the queries happen in [`load`].
pub fn days(
    calendar: &Calendar,
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    rows: &HashMap<String, SlotRow>,
    closed: &BTreeSet<NaiveDate>,
) -> Vec<DayView> {
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        let status = if closed.contains(&date) {
            DayStatus::Closed(ClosedReason::Closure)
        } else {
            calendar.day(counter, date)
        };
        let window_open = calendar.window.is_open(date, counter.tz, now);
        let bookable_now = window_open && matches!(status, DayStatus::Open { .. });
        let slots = calendar
            .slots_on(counter, date, status)
            .into_iter()
            .map(|def| {
                let (capacity, remaining) = match rows.get(&def.id.to_string()) {
                    Some(row) => (u32::try_from(row.capacity).unwrap_or(0), row.remaining()),
                    None => (counter.capacity_per_slot, counter.capacity_per_slot),
                };
                SlotView {
                    def,
                    capacity,
                    remaining,
                    bookable: bookable_now && remaining > 0,
                }
            })
            .collect();
        out.push(DayView {
            date,
            status,
            booking_opens_at: calendar.window.opens_at(date, counter.tz),
            booking_closes_at: calendar.window.closes_at(date, counter.tz),
            bookable_now,
            slots,
        });
        date += Duration::days(1);
    }
    out
}

/// Reads the stored rows and closures for the range (two indexed queries), then builds the days.
pub fn load(
    conn: &mut DbConnection,
    calendar: &Calendar,
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<DayView>> {
    let rows = list_slot_rows(conn, &counter.id, from, to)?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect::<HashMap<_, _>>();
    let closed = list_closed_dates(conn, &counter.id, from, to)?;
    Ok(days(calendar, counter, from, to, now, &rows, &closed))
}
