//! Availability: the calendar's days and slots with what the database says is booked.

use chrono::{DateTime, NaiveDate, Utc};

use super::cache::DayState;
use super::{Calendar, Counter, DayStatus, Seats, SlotDef, Taker};

#[derive(Debug, Clone)]
pub(crate) struct DayView {
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

impl SlotView {
    pub fn new(
        def: &SlotDef,
        seats: Seats,
        taker: Taker,
        released: bool,
        bookable_now: bool,
    ) -> Self {
        let remaining = seats.free_for(taker, released);
        SlotView {
            def: def.clone(),
            capacity: u32::try_from(seats.capacity).unwrap_or(0),
            remaining,
            held_for_phone: seats.held_for_phone(released),
            bookable: bookable_now && remaining > 0,
        }
    }
}

/// What a day is at `now` besides its seats: whether it can be booked now, and whether the
/// seats held for phone bookings are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DayClock {
    pub bookable_now: bool,
    pub released: bool,
}

impl DayClock {
    pub(crate) fn at(
        calendar: &Calendar,
        counter: &Counter,
        day: &DayState,
        now: DateTime<Utc>,
    ) -> Self {
        let date = day.plan.date;
        DayClock {
            bookable_now: calendar.window.is_open(date, counter.tz, now)
                && matches!(day.status(), DayStatus::Open { .. }),
            released: counter.phone_seats_released(&calendar.window, date, now),
        }
    }
}

/// A day's view at `now`, as `taker` may book it.
pub(crate) fn view(
    calendar: &Calendar,
    counter: &Counter,
    day: &DayState,
    now: DateTime<Utc>,
    taker: Taker,
) -> DayView {
    let clock = DayClock::at(calendar, counter, day, now);
    DayView {
        date: day.plan.date,
        status: day.status(),
        booking_opens_at: day.plan.opens_at,
        booking_closes_at: day.plan.closes_at,
        bookable_now: clock.bookable_now,
        phone_release_at: day.plan.phone_release_at,
        slots: day
            .slots(counter)
            .map(|(def, seats)| {
                SlotView::new(def, seats, taker, clock.released, clock.bookable_now)
            })
            .collect(),
    }
}
