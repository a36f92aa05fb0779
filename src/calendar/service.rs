//! [`Calendar`]: the counters, holidays and booking window of the configuration, and the
//! rules that say whether a day is open and which slots it has.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::booking_window::{local_instant, BookingWindow};
use super::cache::{DayCache, DayPlan, Planner};
use super::holidays::Holidays;
use super::{repo, CalendarError, ClosedReason, Counter, DayStatus, Hours, SlotDef, SlotId};
use crate::config::{parse_month_day, Settings};
use crate::db::DbConnection;

#[derive(Debug, Clone)]
pub struct Calendar {
    counters: Vec<Counter>,
    holidays: Holidays,
    year_end: ((u32, u32), (u32, u32)),
    pub window: BookingWindow,
    /// Day plans and seats kept between reads (shared by clones).
    pub(crate) cache: std::sync::Arc<DayCache>,
    /// A hash of the configuration the days follow from (in availability's ETags, so another
    /// configuration never answers 304 to what an old one rendered).
    pub tag: u64,
}

impl Calendar {
    pub fn from_settings(s: &Settings) -> Result<Calendar, String> {
        let counters = s
            .counters
            .iter()
            .map(|c| Counter::from_settings(c, &s.booking))
            .collect::<Result<Vec<_>, _>>()?;
        let year_end = (
            parse_month_day(&s.calendar.year_end_start)?,
            parse_month_day(&s.calendar.year_end_end)?,
        );
        let tag = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            format!(
                "{counters:?}|{:?}|{year_end:?}|{:?}|{:?}",
                s.calendar, s.booking, s.counters
            )
            .hash(&mut h);
            h.finish()
        };
        Ok(Calendar {
            tag,
            counters,
            holidays: Holidays::new(
                s.calendar.extra_holidays.clone(),
                s.calendar.not_holidays.clone(),
            ),
            year_end,
            window: BookingWindow::from(&s.booking),
            cache: Default::default(),
        })
    }

    pub fn counters(&self) -> &[Counter] {
        &self.counters
    }

    pub fn counter(&self, id: &str) -> Option<&Counter> {
        self.counters.iter().find(|c| c.id == id)
    }

    pub fn holidays(&self) -> &Holidays {
        &self.holidays
    }

    pub fn is_year_end(&self, date: NaiveDate) -> bool {
        let md = (date.month(), date.day());
        let (start, end) = self.year_end;
        if start <= end {
            start <= md && md <= end
        } else {
            md >= start || md <= end
        }
    }

    /// Is this day open, and why not: the configured calendar, then the days an administrator
    /// closed (the `closures` table). The one rule for availability, booking, check-in,
    /// walk-ins and closures; call it inside the transaction that relies on it, after taking
    /// the day's lock.
    pub fn day_status(
        &self,
        conn: &mut DbConnection,
        counter: &Counter,
        date: NaiveDate,
    ) -> diesel::QueryResult<DayStatus> {
        Ok(match self.day(counter, date) {
            open @ DayStatus::Open { .. } => {
                let closed = repo::closure_exists(conn, &counter.id, date)?;
                self.with_closure(open, closed)
            }
            closed => closed,
        })
    }

    /// [`Calendar::day_status`] for a range of days, with one query for the closures.
    pub fn day_statuses(
        &self,
        conn: &mut DbConnection,
        counter: &Counter,
        from: NaiveDate,
        to: NaiveDate,
    ) -> diesel::QueryResult<Vec<(NaiveDate, DayStatus)>> {
        let closed = repo::list_closed_dates(conn, &counter.id, from, to)?;
        Ok(from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|d| {
                let status = self.with_closure(self.day(counter, d), closed.contains(&d));
                (d, status)
            })
            .collect())
    }

    /// The day, or `DayClosed` saying why not.
    pub fn open_day(
        &self,
        conn: &mut DbConnection,
        counter: &Counter,
        date: NaiveDate,
    ) -> Result<Hours, CalendarError> {
        match self.day_status(conn, counter, date)? {
            DayStatus::Open { hours, .. } => Ok(hours),
            DayStatus::Closed(reason) => Err(CalendarError::DayClosed { date, reason }),
        }
    }

    /// [`Calendar::open_day`] when the caller already knows whether an administrator closed
    /// the day.
    pub fn open_day_given(
        &self,
        counter: &Counter,
        date: NaiveDate,
        admin_closed: bool,
    ) -> Result<Hours, CalendarError> {
        match self.with_closure(self.day(counter, date), admin_closed) {
            DayStatus::Open { hours, .. } => Ok(hours),
            DayStatus::Closed(reason) => Err(CalendarError::DayClosed { date, reason }),
        }
    }

    fn with_closure(&self, configured: DayStatus, admin_closed: bool) -> DayStatus {
        match configured {
            DayStatus::Open { .. } if admin_closed => DayStatus::Closed(ClosedReason::Closure),
            other => other,
        }
    }

    /// Whether and when `counter` opens on `date` by the configuration alone (closure dates
    /// in the configuration win; a holiday issuance day opens even on a weekend, holiday or
    /// in the year-end break). Closures made by an administrator: [`Calendar::day_status`].
    pub fn day(&self, counter: &Counter, date: NaiveDate) -> DayStatus {
        if counter.closure_dates.contains(&date) {
            return DayStatus::Closed(ClosedReason::Closure);
        }
        if counter.holiday_issuance_dates.contains(&date) {
            if let Some(hours) = counter.holiday_hours {
                return DayStatus::Open {
                    hours,
                    holiday_issuance: true,
                };
            }
        }
        if self.is_year_end(date) {
            return DayStatus::Closed(ClosedReason::YearEnd);
        }
        if self.holidays.is_holiday(date) {
            return DayStatus::Closed(ClosedReason::Holiday);
        }
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return DayStatus::Closed(ClosedReason::Weekend);
        }
        DayStatus::Open {
            hours: counter.weekday_hours,
            holiday_issuance: false,
        }
    }

    /// The day's slots: `slot_minutes` long from opening, each ending by closing time.
    pub fn slots(&self, counter: &Counter, date: NaiveDate) -> Vec<SlotDef> {
        self.slots_on(counter, date, self.day(counter, date))
    }

    /// The slots of a day whose status is already known (none when it is closed).
    pub fn slots_on(&self, counter: &Counter, date: NaiveDate, status: DayStatus) -> Vec<SlotDef> {
        let DayStatus::Open { hours, .. } = status else {
            return Vec::new();
        };
        let step = Duration::minutes(i64::from(counter.slot_minutes));
        let mut out = Vec::new();
        let mut start = hours.opens;
        loop {
            let (end, wrapped) = start.overflowing_add_signed(step);
            if wrapped != 0 || end > hours.closes {
                break;
            }
            out.push(SlotDef {
                id: SlotId {
                    counter: counter.id.clone(),
                    date,
                    start,
                },
                starts_at: local_instant(counter.tz, date.and_time(start)),
                ends_at: local_instant(counter.tz, date.and_time(end)),
            });
            start = end;
        }
        out
    }

    /// The slot `id` names, if the calendar has it (right counter, open day, on the grid).
    pub fn slot(&self, id: &SlotId) -> Option<(&Counter, SlotDef)> {
        self.resolve(id).ok()
    }

    /// The counter and slot an id names: `SlotNotFound` for an unknown counter or a time off
    /// the grid, `DayClosed` (with the reason) for a well-formed slot on a closed day.
    pub fn resolve(&self, id: &SlotId) -> Result<(&Counter, SlotDef), CalendarError> {
        let counter = self
            .counter(&id.counter)
            .ok_or(CalendarError::SlotNotFound)?;
        let status = self.day(counter, id.date);
        if let DayStatus::Closed(reason) = status {
            return Err(CalendarError::DayClosed {
                date: id.date,
                reason,
            });
        }
        let slot = self
            .slots_on(counter, id.date, status)
            .into_iter()
            .find(|s| s.id == *id)
            .ok_or(CalendarError::SlotNotFound)?;
        Ok((counter, slot))
    }

    /// A counter by id, or `CounterNotFound`.
    pub fn get_counter(&self, id: &str) -> Result<&Counter, CalendarError> {
        self.counter(id).ok_or(CalendarError::CounterNotFound)
    }
}

impl Planner for Calendar {
    fn day_plan(&self, counter: &Counter, date: NaiveDate) -> DayPlan {
        let configured = self.day(counter, date);
        let slots = self.slots_on(counter, date, configured);
        DayPlan {
            date,
            configured,
            ids: slots.iter().map(|s| s.id.to_string()).collect(),
            slots,
            opens_at: self.window.opens_at(date, counter.tz),
            closes_at: self.window.closes_at(date, counter.tz),
            phone_release_at: (counter.phone_seats_per_slot > 0)
                .then(|| counter.phone_release_at(&self.window, date)),
        }
    }
}
