//! The booking window (予約可能期間), a pure function of (visit date, now) in the counter's zone.
//!
//! 「予約可能期間は、予約日の2ヶ月前の1日正午から予約日の3日前の午前7時までです。」
//! For a visit on local date D it opens at `opening_time` on day `opening_day` of the month
//! `months_ahead` before D's month, and closes at `closing_time` on D − `closing_days_before`.
//! Opening is inclusive, closing exclusive: booked at exactly 12:00:00 succeeds, at exactly
//! 07:00:00 fails.

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

use crate::config::BookingSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingWindow {
    pub months_ahead: u32,
    pub opening_day: u32,
    pub opening_time: NaiveTime,
    pub closing_days_before: u32,
    pub closing_time: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("booking opens at {opens_at}")]
    NotOpen { opens_at: DateTime<Utc> },
    #[error("booking closed at {closed_at}")]
    Closed { closed_at: DateTime<Utc> },
}

impl Default for BookingWindow {
    /// Omihachiman's rule: 12:00 on the 1st two months before, until 07:00 three days before.
    fn default() -> Self {
        BookingWindow {
            months_ahead: 2,
            opening_day: 1,
            opening_time: NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default(),
            closing_days_before: 3,
            closing_time: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default(),
        }
    }
}

impl From<&BookingSettings> for BookingWindow {
    fn from(s: &BookingSettings) -> Self {
        BookingWindow {
            months_ahead: s.months_ahead,
            opening_day: s.opening_day,
            opening_time: s.opening_time,
            closing_days_before: s.closing_days_before,
            closing_time: s.closing_time,
        }
    }
}

impl BookingWindow {
    /// The first instant a visit on `visit_on` may be booked.
    pub fn opens_at(&self, visit_on: NaiveDate, tz: Tz) -> DateTime<Utc> {
        let first_of_visit_month = visit_on.with_day(1).unwrap_or(visit_on);
        let opening_month = first_of_visit_month
            .checked_sub_months(Months::new(self.months_ahead))
            .unwrap_or(NaiveDate::MIN);
        // opening_day is validated to 1..=28, so it exists in every month.
        let opening_on = opening_month
            .with_day(self.opening_day)
            .unwrap_or(opening_month);
        local_instant(tz, opening_on.and_time(self.opening_time))
    }

    /// The first instant a visit on `visit_on` may no longer be booked.
    pub fn closes_at(&self, visit_on: NaiveDate, tz: Tz) -> DateTime<Utc> {
        let closing_on = visit_on
            .checked_sub_days(Days::new(u64::from(self.closing_days_before)))
            .unwrap_or(NaiveDate::MIN);
        local_instant(tz, closing_on.and_time(self.closing_time))
    }

    /// Ok when `now` is inside [opens_at, closes_at).
    pub fn check(
        &self,
        visit_on: NaiveDate,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<(), WindowError> {
        let opens_at = self.opens_at(visit_on, tz);
        if now < opens_at {
            return Err(WindowError::NotOpen { opens_at });
        }
        let closed_at = self.closes_at(visit_on, tz);
        if now >= closed_at {
            return Err(WindowError::Closed { closed_at });
        }
        Ok(())
    }

    pub fn is_open(&self, visit_on: NaiveDate, tz: Tz, now: DateTime<Utc>) -> bool {
        self.check(visit_on, tz, now).is_ok()
    }
}

/// A local wall-clock time as an instant. In a gap (a DST jump forward) the first instant after
/// it; in an overlap the earlier one. Asia/Tokyo has neither, but counters may be elsewhere.
pub(crate) fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..=4 {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    const TOKYO: Tz = chrono_tz::Asia::Tokyo;

    fn jst(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .to_utc()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn booking_opens_at_noon_on_the_first_two_months_before() {
        let w = BookingWindow::default();
        assert_eq!(
            w.opens_at(day("2027-03-15"), TOKYO),
            jst("2027-01-01T12:00:00+09:00")
        );
        assert_eq!(
            w.opens_at(day("2027-01-04"), TOKYO),
            jst("2026-11-01T12:00:00+09:00")
        );
        assert_eq!(
            w.opens_at(day("2027-02-28"), TOKYO),
            jst("2026-12-01T12:00:00+09:00")
        );
    }

    #[test]
    fn a_whole_month_opens_at_the_same_instant() {
        let w = BookingWindow::default();
        let first = w.opens_at(day("2027-02-01"), TOKYO);
        for d in 1..=28 {
            let visit = NaiveDate::from_ymd_opt(2027, 2, d).unwrap();
            assert_eq!(w.opens_at(visit, TOKYO), first, "{visit}");
        }
    }

    #[test]
    fn booking_closes_at_seven_three_days_before() {
        let w = BookingWindow::default();
        assert_eq!(
            w.closes_at(day("2027-03-15"), TOKYO),
            jst("2027-03-12T07:00:00+09:00")
        );
        assert_eq!(
            w.closes_at(day("2027-01-04"), TOKYO),
            jst("2027-01-01T07:00:00+09:00")
        );
        // Across a month and a leap day.
        assert_eq!(
            w.closes_at(day("2028-03-02"), TOKYO),
            jst("2028-02-28T07:00:00+09:00")
        );
    }

    #[test]
    fn the_opening_second_is_inclusive() {
        let w = BookingWindow::default();
        let visit = day("2027-02-15");
        assert_eq!(
            w.check(visit, TOKYO, jst("2026-12-01T11:59:59+09:00")),
            Err(WindowError::NotOpen {
                opens_at: jst("2026-12-01T12:00:00+09:00")
            })
        );
        assert_eq!(
            w.check(visit, TOKYO, jst("2026-12-01T12:00:00+09:00")),
            Ok(())
        );
    }

    #[test]
    fn the_closing_second_is_exclusive() {
        let w = BookingWindow::default();
        let visit = day("2027-02-15");
        assert_eq!(
            w.check(visit, TOKYO, jst("2027-02-12T06:59:59+09:00")),
            Ok(())
        );
        assert_eq!(
            w.check(visit, TOKYO, jst("2027-02-12T07:00:00+09:00")),
            Err(WindowError::Closed {
                closed_at: jst("2027-02-12T07:00:00+09:00")
            })
        );
    }

    #[test]
    fn january_opens_in_november_of_the_year_before() {
        let w = BookingWindow::default();
        assert_eq!(
            w.opens_at(day("2027-01-31"), TOKYO),
            jst("2026-11-01T12:00:00+09:00")
        );
        assert_eq!(
            w.opens_at(day("2027-02-01"), TOKYO),
            jst("2026-12-01T12:00:00+09:00")
        );
        assert_eq!(
            w.opens_at(day("2026-12-31"), TOKYO),
            jst("2026-10-01T12:00:00+09:00")
        );
    }

    #[test]
    fn the_rule_is_read_in_the_counters_zone_not_utc() {
        // 12:00 JST is 03:00 UTC on the same day.
        let w = BookingWindow::default();
        assert_eq!(
            w.opens_at(day("2027-01-10"), TOKYO),
            jst("2026-11-01T03:00:00Z")
        );
    }

    #[test]
    fn settings_change_the_window() {
        let w = BookingWindow {
            months_ahead: 1,
            opening_day: 15,
            opening_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            closing_days_before: 1,
            closing_time: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        };
        assert_eq!(
            w.opens_at(day("2027-03-01"), TOKYO),
            jst("2027-02-15T09:00:00+09:00")
        );
        assert_eq!(
            w.closes_at(day("2027-03-01"), TOKYO),
            jst("2027-02-28T17:00:00+09:00")
        );
    }

    fn any_visit_date() -> impl Strategy<Value = NaiveDate> {
        // 2000-01-01 .. 2099-12-31, weighted towards January, February, December and leap years.
        prop_oneof![
            (2000i32..2100, 1u32..=366)
                .prop_filter_map("valid ordinal", |(y, o)| NaiveDate::from_yo_opt(y, o)),
            (
                2000i32..2100,
                prop::sample::select(vec![1u32, 2, 12]),
                1u32..=31
            )
                .prop_filter_map("valid date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
            (500i32..525, 1u32..=29).prop_filter_map("leap February", |(q, d)| {
                NaiveDate::from_ymd_opt(q * 4, 2, d)
            }),
        ]
    }

    proptest! {
        #[test]
        fn opening_is_noon_on_the_first_two_months_before(visit in any_visit_date()) {
            let w = BookingWindow::default();
            let opens = w.opens_at(visit, TOKYO).with_timezone(&TOKYO);
            prop_assert_eq!(opens.day(), 1);
            prop_assert_eq!(opens.time(), NaiveTime::from_hms_opt(12, 0, 0).unwrap());
            let months_between = (visit.year() - opens.year()) * 12 + visit.month() as i32 - opens.month() as i32;
            prop_assert_eq!(months_between, 2);
        }

        #[test]
        fn closing_is_seven_on_d_minus_three(visit in any_visit_date()) {
            let w = BookingWindow::default();
            let closes = w.closes_at(visit, TOKYO).with_timezone(&TOKYO);
            prop_assert_eq!(closes.date_naive() + Duration::days(3), visit);
            prop_assert_eq!(closes.time(), NaiveTime::from_hms_opt(7, 0, 0).unwrap());
        }

        #[test]
        fn the_edges_are_exact_to_the_second(visit in any_visit_date()) {
            let w = BookingWindow::default();
            let opens = w.opens_at(visit, TOKYO);
            let closes = w.closes_at(visit, TOKYO);
            prop_assert!(opens < closes);
            let not_open = matches!(w.check(visit, TOKYO, opens - Duration::seconds(1)), Err(WindowError::NotOpen { .. }));
            prop_assert!(not_open);
            prop_assert!(w.check(visit, TOKYO, opens).is_ok());
            prop_assert!(w.check(visit, TOKYO, closes - Duration::seconds(1)).is_ok());
            let closed = matches!(w.check(visit, TOKYO, closes), Err(WindowError::Closed { .. }));
            prop_assert!(closed);
        }

        #[test]
        fn every_day_of_a_month_shares_its_opening(visit in any_visit_date()) {
            let w = BookingWindow::default();
            let first = visit.with_day(1).unwrap();
            prop_assert_eq!(w.opens_at(visit, TOKYO), w.opens_at(first, TOKYO));
        }
    }
}
