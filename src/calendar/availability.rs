//! Availability: the calendar's days and slots with what the database says is booked.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::repo::{list_slot_rows, SlotRow};
use super::{Calendar, Counter, DayStatus, Seats, SlotDef, Taker};
use crate::db::DbConnection;

#[derive(Debug, Clone)]
pub struct DayView {
    pub date: NaiveDate,
    pub status: DayStatus,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub bookable_now: bool,
    /// When the seats held for phone bookings are released (None when none are held).
    pub phone_release_at: Option<DateTime<Utc>>,
    pub slots: Vec<SlotView>,
}

#[derive(Debug, Clone)]
pub struct SlotView {
    pub def: SlotDef,
    pub capacity: u32,
    /// Seats the viewer may book now (the web: not the phone-held ones before their release).
    pub remaining: u32,
    /// Free seats held for phone bookings, not released yet.
    pub held_for_phone: u32,
    pub bookable: bool,
}

/// Builds the days (with their status, from [`Calendar::day_statuses`]) for `counter` at
/// `now`, as `taker` may book them, given the stored slot rows. Pure: the queries happen in
/// [`load`].
pub fn days(
    calendar: &Calendar,
    counter: &Counter,
    statuses: Vec<(NaiveDate, DayStatus)>,
    now: DateTime<Utc>,
    rows: &HashMap<String, SlotRow>,
    taker: Taker,
) -> Vec<DayView> {
    let mut out = Vec::with_capacity(statuses.len());
    for (date, status) in statuses {
        let window_open = calendar.window.is_open(date, counter.tz, now);
        let bookable_now = window_open && matches!(status, DayStatus::Open { .. });
        let released = counter.phone_seats_released(&calendar.window, date, now);
        let slots = calendar
            .slots_on(counter, date, status)
            .into_iter()
            .map(|def| {
                let seats = rows
                    .get(&def.id.to_string())
                    .map(SlotRow::seats)
                    .unwrap_or_else(|| Seats::configured(counter));
                let remaining = seats.free_for(taker, released);
                SlotView {
                    def,
                    capacity: u32::try_from(seats.capacity).unwrap_or(0),
                    remaining,
                    held_for_phone: seats.held_for_phone(released),
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
            phone_release_at: (counter.phone_seats_per_slot > 0)
                .then(|| counter.phone_release_at(&calendar.window, date)),
            slots,
        });
    }
    out
}

/// Reads the day statuses and stored rows for the range (two indexed queries), then builds
/// the days.
pub fn load(
    conn: &mut DbConnection,
    calendar: &Calendar,
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    taker: Taker,
) -> diesel::QueryResult<Vec<DayView>> {
    let rows = list_slot_rows(conn, &counter.id, from, to)?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect::<HashMap<_, _>>();
    let statuses = calendar.day_statuses(conn, counter, from, to)?;
    Ok(days(calendar, counter, statuses, now, &rows, taker))
}
