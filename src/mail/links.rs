//! What mails show besides their templates' words: the links they carry (to the pages of
//! `public_url`) and the labels of dates and times, in the counter's zone. One place, so that
//! the verification, reservation and waiting-list mails say a date and point at a page alike.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// The pages' addresses under `public_url`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Links<'a> {
    base: &'a str,
}

impl<'a> Links<'a> {
    pub(crate) fn new(public_url: &'a str) -> Self {
        Links {
            base: public_url.trim_end_matches('/'),
        }
    }

    /// The start page.
    pub(crate) fn booking(&self) -> String {
        format!("{}/", self.base)
    }

    /// A verification link (the English pages with `english`).
    pub(crate) fn verify(&self, token: &str, english: bool) -> String {
        let lang = if english { "&lang=en" } else { "" };
        format!("{}/booking/verify?token={token}{lang}", self.base)
    }

    /// A reservation's manage page.
    pub(crate) fn manage(&self, token: &str) -> String {
        format!("{}/booking/manage?token={token}", self.base)
    }

    /// A lottery entry's page: see, withdraw.
    pub(crate) fn lottery(&self, token: &str) -> String {
        format!("{}/booking/manage?lottery={token}", self.base)
    }

    /// A ticket's page on the visitor's phone.
    pub(crate) fn ticket(&self, public_id: &str) -> String {
        format!("{}/ticket/{public_id}", self.base)
    }

    /// A waiting-list entry's page: see, accept, leave.
    pub(crate) fn waitlist(&self, token: &str) -> String {
        format!("{}/booking/manage?waitlist={token}", self.base)
    }
}

/// A reservation's manage page opened at booking its second visit.
pub(crate) fn second_visit(manage_url: &str) -> String {
    format!("{manage_url}&second_visit=1")
}

/// `2027年1月4日(月)`.
pub(crate) fn date_label(date: NaiveDate) -> String {
    let weekday = WEEKDAYS_JA[date.weekday().num_days_from_monday() as usize];
    format!("{}({weekday})", date.format("%Y年%-m月%-d日"))
}

/// `Mon 4 January 2027`, a date for the English reader.
pub(crate) fn date_label_en(date: NaiveDate) -> String {
    date.format("%a %-d %B %Y").to_string()
}

/// (`2027年2月`, `February 2027`): a month, for the Japanese and the English reader.
pub(crate) fn month_labels(first: NaiveDate) -> (String, String) {
    (
        format!("{}年{}月", first.year(), first.month()),
        first.format("%B %Y").to_string(),
    )
}

/// (`2027年1月4日(月) 09:00〜09:30`, `Mon 4 January 2027, 09:00–09:30`): a visit on one line, for
/// either reader, in the counter's zone.
pub(crate) fn visit_lines(starts: DateTime<Utc>, ends: DateTime<Utc>, tz: Tz) -> (String, String) {
    let (date, time) = visit_labels(starts, ends, tz);
    (
        format!("{date} {time}"),
        visit_labels_en(starts, ends, tz).0,
    )
}

/// (`2027年1月4日(月)`, `09:00〜09:30`) for a visit, in the counter's zone.
pub(crate) fn visit_labels(starts: DateTime<Utc>, ends: DateTime<Utc>, tz: Tz) -> (String, String) {
    let starts = starts.with_timezone(&tz);
    let ends = ends.with_timezone(&tz);
    (
        date_label(starts.date_naive()),
        format!("{}〜{}", starts.format("%H:%M"), ends.format("%H:%M")),
    )
}

/// (`Mon 4 January 2027, 09:00–09:30`, `Mon 4 January 2027, 09:00`) for a visit, in the
/// counter's zone: the English reader's date, and the moment changes end (its start).
pub(crate) fn visit_labels_en(
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    tz: Tz,
) -> (String, String) {
    let starts = starts.with_timezone(&tz);
    let ends = ends.with_timezone(&tz);
    let day = starts.format("%a %-d %B %Y");
    (
        format!("{day}, {}–{}", starts.format("%H:%M"), ends.format("%H:%M")),
        format!("{day}, {}", starts.format("%H:%M")),
    )
}

/// `Mon 4 January 2027, 09:30`, an instant in the counter's zone, for the English reader.
pub(crate) fn instant_label_en(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%a %-d %B %Y, %H:%M")
        .to_string()
}

/// `2027年1月4日 09:30`, an instant in the counter's zone.
pub(crate) fn instant_label(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_labels_read_as_the_mails_always_said_them() {
        let links = Links::new("https://yoyaku.example.jp/");
        assert_eq!(links.booking(), "https://yoyaku.example.jp/");
        assert_eq!(
            links.verify("t0k", true),
            "https://yoyaku.example.jp/booking/verify?token=t0k&lang=en"
        );
        assert_eq!(
            second_visit(&links.manage("m")),
            "https://yoyaku.example.jp/booking/manage?token=m&second_visit=1"
        );
        let tz = chrono_tz::Asia::Tokyo;
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("instant").to_utc();
        assert_eq!(
            visit_labels(at("2027-01-04T00:00:00Z"), at("2027-01-04T00:30:00Z"), tz),
            ("2027年1月4日(月)".to_string(), "09:00〜09:30".to_string())
        );
        assert_eq!(
            instant_label(at("2026-12-01T03:00:00Z"), tz),
            "2026年12月1日 12:00"
        );
    }
}
