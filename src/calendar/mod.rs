//! The counter calendar: which days a counter opens, with which hours, and its slots.
//!
//! Slots are derived from the configuration, not stored ahead: a slot's id names its counter,
//! day and start (`city-hall.2027-01-04.0900`), so the whole of a month exists the moment it
//! opens, with no generation job to run or forget. The database keeps a row per slot only
//! once something happens to it (a booking, a capacity change); that row holds the booked
//! count, and the seat is taken there by one conditional UPDATE (see `slots::repo`).

pub(crate) mod availability;
pub(crate) mod booking_window;
pub(crate) mod cache;
pub(crate) mod holidays;
pub(crate) mod repo;
mod service;

pub(crate) use repo::list_closures;
pub(crate) use service::Calendar;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::config::{CounterSettings, HoursSettings};
use crate::error::Words;
use booking_window::{local_instant, BookingWindow};

/// An instant as RFC 3339 with the zone's offset, to the second: `2027-01-15T09:00:00+09:00`.
pub(crate) fn local_rfc3339(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl From<HoursSettings> for Hours {
    fn from(h: HoursSettings) -> Self {
        Hours {
            opens: h.opens,
            closes: h.closes,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Counter {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    pub tz: Tz,
    pub slot_minutes: u32,
    pub capacity_per_slot: u32,
    pub weekday_hours: Hours,
    pub holiday_hours: Option<Hours>,
    pub holiday_issuance_dates: BTreeSet<NaiveDate>,
    pub closure_dates: BTreeSet<NaiveDate>,
    /// Seats of every slot held for phone bookings until `phone_release_days` before the visit.
    pub phone_seats_per_slot: u32,
    pub phone_release_days: u32,
}

impl Counter {
    fn from_settings(
        c: &CounterSettings,
        booking: &crate::config::BookingSettings,
    ) -> Result<Counter, String> {
        Ok(Counter {
            id: c.id.clone(),
            name: c.name.clone(),
            name_en: c.name_en.clone(),
            address: c.address.clone(),
            phone: c.phone.clone(),
            tz: c
                .timezone
                .parse()
                .map_err(|_| format!("counter {}: bad timezone", c.id))?,
            slot_minutes: c.slot_minutes,
            capacity_per_slot: c.capacity_per_slot,
            weekday_hours: c.weekday_hours.into(),
            holiday_hours: c.holiday_hours.map(Into::into),
            holiday_issuance_dates: c.holiday_issuance_dates.clone(),
            closure_dates: c.closure_dates.clone(),
            phone_seats_per_slot: c
                .phone_seats_per_slot
                .unwrap_or(booking.phone_seats_per_slot)
                .min(c.capacity_per_slot),
            phone_release_days: c.phone_release_days.unwrap_or(booking.phone_release_days),
        })
    }

    /// When the seats held for phone bookings on `date` are released to everyone:
    /// `phone_release_days` before, at the booking window's opening time of day.
    pub fn phone_release_at(&self, window: &BookingWindow, date: NaiveDate) -> DateTime<Utc> {
        let day = date - Duration::days(i64::from(self.phone_release_days));
        local_instant(self.tz, day.and_time(window.opening_time))
    }

    /// Whether the phone-held seats of `date` are free for everyone at `now`.
    pub fn phone_seats_released(
        &self,
        window: &BookingWindow,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> bool {
        self.phone_seats_per_slot == 0 || now >= self.phone_release_at(window, date)
    }

    /// This counter's local date at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.tz).date_naive()
    }
}

/// Why a counter is closed on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosedReason {
    Weekend,
    Holiday,
    YearEnd,
    Closure,
}

impl ClosedReason {
    pub const ALL: [ClosedReason; 4] = [
        ClosedReason::Weekend,
        ClosedReason::Holiday,
        ClosedReason::YearEnd,
        ClosedReason::Closure,
    ];

    /// The reason in words: in problem details, and on the pages (`/assets/words.js`).
    pub fn words(self) -> Words {
        let (en, ja) = match self {
            ClosedReason::Weekend => ("weekend", "閉庁日"),
            ClosedReason::Holiday => ("public holiday", "祝日"),
            ClosedReason::YearEnd => ("year-end break", "年末年始"),
            ClosedReason::Closure => ("closed by the city", "臨時休業"),
        };
        Words { en, ja }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClosedReason::Weekend => "weekend",
            ClosedReason::Holiday => "holiday",
            ClosedReason::YearEnd => "year_end",
            ClosedReason::Closure => "closure",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    /// Open with these hours; `holiday_issuance` marks a 休日交付日.
    Open {
        hours: Hours,
        holiday_issuance: bool,
    },
    Closed(ClosedReason),
}

/// Who takes a seat: the web may not take seats held for phone bookings before their release;
/// phone staff may take any free seat. Seats held for waiting-list offers are nobody else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taker {
    Web,
    Phone,
}

/// A slot's seats as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seats {
    pub capacity: i32,
    pub booked: i32,
    pub offer_held: i32,
    pub phone_held: i32,
}

impl Seats {
    /// The seats a slot has before its row exists: the counter's configured ones.
    pub fn configured(counter: &Counter) -> Seats {
        let capacity = i32::try_from(counter.capacity_per_slot).unwrap_or(i32::MAX);
        Seats {
            capacity,
            booked: 0,
            offer_held: 0,
            phone_held: i32::try_from(counter.phone_seats_per_slot)
                .unwrap_or(0)
                .min(capacity),
        }
    }

    /// Phone-held seats the taker may not take now.
    pub fn reserved_for(&self, taker: Taker, released: bool) -> i32 {
        match taker {
            Taker::Web if !released => self.phone_held,
            _ => 0,
        }
    }

    /// Seats the taker may book now.
    pub fn free_for(&self, taker: Taker, released: bool) -> u32 {
        let free =
            self.capacity - self.booked - self.offer_held - self.reserved_for(taker, released);
        u32::try_from(free).unwrap_or(0)
    }

    /// Free seats the web may not take yet (held for phone bookings, not released).
    pub fn held_for_phone(&self, released: bool) -> u32 {
        if released {
            return 0;
        }
        let free = self.capacity - self.booked - self.offer_held;
        u32::try_from(free.min(self.phone_held)).unwrap_or(0)
    }
}

/// A slot as the calendar defines it (capacity and bookings come from the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotDef {
    pub id: SlotId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// `counter.YYYY-MM-DD.HHMM`: names a slot without storing it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId {
    pub counter: String,
    pub date: NaiveDate,
    pub start: NaiveTime,
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.counter,
            self.date.format("%Y-%m-%d"),
            self.start.format("%H%M")
        )
    }
}

impl FromStr for SlotId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.split('.');
        let (Some(counter), Some(date), Some(start), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        if counter.is_empty() || counter.len() > 64 || date.len() != 10 || start.len() != 4 {
            return Err(());
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| ())?;
        // Nothing is booked outside 1900–2100 (and time zones are not history books).
        if !(1900..=2100).contains(&date.year()) {
            return Err(());
        }
        Ok(SlotId {
            counter: counter.to_string(),
            date,
            start: NaiveTime::parse_from_str(start, "%H%M").map_err(|_| ())?,
        })
    }
}

/// What the calendar refuses: an unknown counter or slot, a closed day.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("no such counter")]
    CounterNotFound,
    #[error("no such slot")]
    SlotNotFound,
    #[error("the counter is closed on {date} ({})", reason.as_str())]
    DayClosed {
        date: NaiveDate,
        reason: ClosedReason,
    },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn calendar() -> Calendar {
        Calendar::from_settings(&Settings::defaults().expect("defaults")).expect("calendar")
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn city_hall_has_fifteen_half_hour_slots_from_nine() {
        let cal = calendar();
        let c = cal.counter("city-hall").expect("counter");
        let slots = cal.slots(c, day("2027-01-04"));
        assert_eq!(slots.len(), 15);
        assert_eq!(slots[0].id.to_string(), "city-hall.2027-01-04.0900");
        assert_eq!(slots[14].id.to_string(), "city-hall.2027-01-04.1600");
        assert_eq!(
            slots[14].ends_at.with_timezone(&c.tz).time(),
            NaiveTime::from_hms_opt(16, 30, 0).unwrap()
        );
    }

    #[test]
    fn azuchi_slots_end_by_a_quarter_past_five() {
        let cal = calendar();
        let c = cal.counter("azuchi").expect("counter");
        let slots = cal.slots(c, day("2027-01-04"));
        // 08:30 … 16:30 (ends 17:00); 17:00–17:30 would pass 17:15.
        assert_eq!(slots.len(), 17);
        assert_eq!(
            slots.last().unwrap().id.start,
            NaiveTime::from_hms_opt(16, 30, 0).unwrap()
        );
    }

    #[test]
    fn weekends_holidays_and_the_year_end_close_the_counter() {
        let cal = calendar();
        let c = cal.counter("city-hall").expect("counter");
        assert_eq!(
            cal.day(c, day("2027-01-09")),
            DayStatus::Closed(ClosedReason::Weekend)
        );
        assert_eq!(
            cal.day(c, day("2027-01-11")),
            DayStatus::Closed(ClosedReason::Holiday)
        );
        assert_eq!(
            cal.day(c, day("2027-03-22")),
            DayStatus::Closed(ClosedReason::Holiday)
        );
        for d in ["2026-12-29", "2026-12-31", "2027-01-01", "2027-01-03"] {
            assert_eq!(
                cal.day(c, day(d)),
                DayStatus::Closed(ClosedReason::YearEnd),
                "{d}"
            );
        }
        assert!(matches!(
            cal.day(c, day("2026-12-28")),
            DayStatus::Open { .. }
        ));
        assert!(matches!(
            cal.day(c, day("2027-01-04")),
            DayStatus::Open { .. }
        ));
    }

    #[test]
    fn a_holiday_issuance_day_opens_with_its_own_hours_and_a_closure_wins() {
        let mut s = Settings::defaults().expect("defaults");
        s.counters[0]
            .holiday_issuance_dates
            .insert(day("2027-01-09"));
        s.counters[0].closure_dates.insert(day("2027-01-05"));
        let cal = Calendar::from_settings(&s).expect("calendar");
        let c = cal.counter("city-hall").expect("counter");
        let slots = cal.slots(c, day("2027-01-09"));
        assert_eq!(slots.len(), 7, "08:30–12:00");
        assert_eq!(
            slots[0].id.start,
            NaiveTime::from_hms_opt(8, 30, 0).unwrap()
        );
        assert_eq!(
            cal.day(c, day("2027-01-05")),
            DayStatus::Closed(ClosedReason::Closure)
        );
        assert!(cal.slots(c, day("2027-01-05")).is_empty());
    }

    #[test]
    fn slot_ids_round_trip_and_refuse_junk() {
        let id: SlotId = "city-hall.2027-01-04.0930".parse().expect("parses");
        assert_eq!(id.to_string(), "city-hall.2027-01-04.0930");
        for bad in [
            "",
            "city-hall",
            "city-hall.2027-01-04",
            "city-hall.2027-13-04.0930",
            "x.2027-01-04.0930.1",
            "a.2027-01-04.9930",
        ] {
            assert!(bad.parse::<SlotId>().is_err(), "{bad}");
        }
        let cal = calendar();
        assert!(
            cal.slot(&"city-hall.2027-01-04.0915".parse().unwrap())
                .is_none(),
            "off the grid"
        );
        assert!(
            cal.slot(&"city-hall.2027-01-09.0900".parse().unwrap())
                .is_none(),
            "closed day"
        );
        assert!(cal
            .slot(&"city-hall.2027-01-04.0900".parse().unwrap())
            .is_some());
    }
}
