//! Japanese national holidays (国民の祝日, with substitute and citizens' holidays) from the
//! rule-based `yasumi` crate, with corrections from configuration: the equinox days are fixed
//! by law only about two years ahead, so a city lists changes in `calendar.extra_holidays`
//! and `calendar.not_holidays`.

use std::collections::BTreeSet;

use chrono::NaiveDate;

#[derive(Debug, Clone, Default)]
pub struct Holidays {
    extra: BTreeSet<NaiveDate>,
    not: BTreeSet<NaiveDate>,
}

impl Holidays {
    pub fn new(extra: BTreeSet<NaiveDate>, not: BTreeSet<NaiveDate>) -> Self {
        Holidays { extra, not }
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        if self.not.contains(&date) {
            return false;
        }
        self.extra.contains(&date) || yasumi::is_holiday(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn holidays_of(year: i32) -> Vec<String> {
        let h = Holidays::default();
        let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let mut out = Vec::new();
        while d.year() == year {
            if h.is_holiday(d) {
                out.push(d.format("%m-%d").to_string());
            }
            d = d.succ_opt().unwrap();
        }
        out
    }

    /// 内閣府「国民の祝日について」, 令和8年(2026年).
    #[test]
    fn matches_the_cabinet_office_list_for_2026() {
        assert_eq!(
            holidays_of(2026),
            [
                "01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05",
                "05-06", // 振替休日 (憲法記念日 is a Sunday)
                "07-20", "08-11", "09-21",
                "09-22", // 国民の休日 (between 敬老の日 and 秋分の日)
                "09-23", "10-12", "11-03", "11-23",
            ]
        );
    }

    /// 内閣府「国民の祝日について」, 令和9年(2027年).
    #[test]
    fn matches_the_cabinet_office_list_for_2027() {
        assert_eq!(
            holidays_of(2027),
            [
                "01-01", "01-11", "02-11", "02-23", "03-21",
                "03-22", // 振替休日 (春分の日 is a Sunday)
                "04-29", "05-03", "05-04", "05-05", "07-19", "08-11", "09-20", "09-23", "10-11",
                "11-03", "11-23",
            ]
        );
    }

    #[test]
    fn configuration_corrects_the_rules() {
        let extra = NaiveDate::from_ymd_opt(2030, 3, 19).unwrap();
        let not = NaiveDate::from_ymd_opt(2030, 3, 20).unwrap();
        let h = Holidays::new([extra].into(), [not].into());
        assert!(h.is_holiday(extra));
        assert!(!h.is_holiday(not));
    }
}
