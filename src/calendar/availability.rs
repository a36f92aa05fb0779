//! Availability: the calendar's days and slots with what the database says is booked.

use chrono::{DateTime, NaiveDate, Utc};

use super::cache::DayState;
use super::{Counter, DayStatus, Seats, SlotDef, Taker};

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
pub(crate) struct SlotView {
    pub def: SlotDef,
    pub capacity: u32,
    /// Seats the viewer may book now (the web: not the phone-held ones before their release).
    pub remaining: u32,
    /// Free seats held for phone bookings, not released yet.
    pub held_for_phone: u32,
    pub bookable: bool,
}

impl SlotView {
    pub(crate) fn new(
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
    /// The day at `now`, from its plan's instants (the booking window and the phone release).
    pub(crate) fn at(day: &DayState, now: DateTime<Utc>) -> Self {
        let plan = &day.plan;
        DayClock {
            bookable_now: plan.opens_at <= now
                && now < plan.closes_at
                && matches!(day.status(), DayStatus::Open { .. }),
            released: plan.phone_release_at.is_none_or(|at| now >= at),
        }
    }

    /// The first instant after `now` at which the day's clock changes (its window opens or
    /// closes, its phone seats are released): what the day shows holds until then.
    pub(crate) fn next_change(day: &DayState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let plan = &day.plan;
        [
            Some(plan.opens_at),
            Some(plan.closes_at),
            plan.phone_release_at,
        ]
        .into_iter()
        .flatten()
        .filter(|at| *at > now)
        .min()
    }
}

/// A day's view at `now`, as `taker` may book it.
pub(crate) fn view(counter: &Counter, day: &DayState, now: DateTime<Utc>, taker: Taker) -> DayView {
    let clock = DayClock::at(day, now);
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
