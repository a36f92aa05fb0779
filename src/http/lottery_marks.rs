//! The lotteries availability marks (undrawn ones: their days show `"lottery":{"id","draw_at"}`),
//! kept in memory and refreshed every second from the database by `http::lottery`, so every
//! instance shows a lottery made or drawn at another within a second. A change tells the
//! calendar's cache that the month's days changed, so kept answers are built again.

use std::sync::RwLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

/// An undrawn lottery's month at a counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    pub counter: String,
    /// `YYYY-MM`.
    pub month: String,
    pub id: String,
    pub draw_at: DateTime<Utc>,
}

#[derive(Default)]
pub(crate) struct LotteryMarks {
    marks: RwLock<Vec<Mark>>,
}

impl LotteryMarks {
    /// The undrawn lottery holding `counter`'s `date`, if any.
    pub(crate) fn at(&self, counter: &str, date: NaiveDate) -> Option<Mark> {
        let month = date.format("%Y-%m").to_string();
        self.marks
            .read()
            .ok()?
            .iter()
            .find(|m| m.counter == counter && m.month == month)
            .cloned()
    }

    /// Replaces the marks; the marks that came or went (to tell the cache), or none.
    pub(crate) fn replace(&self, mut marks: Vec<Mark>) -> Vec<Mark> {
        marks.sort_by(|a, b| a.id.cmp(&b.id));
        let Ok(mut kept) = self.marks.write() else {
            return Vec::new();
        };
        if *kept == marks {
            return Vec::new();
        }
        let changed: Vec<Mark> = kept
            .iter()
            .filter(|m| !marks.contains(m))
            .chain(marks.iter().filter(|m| !kept.contains(m)))
            .cloned()
            .collect();
        *kept = marks;
        changed
    }

    /// Waits for the next refresh.
    pub(crate) async fn wait(&self, every: Duration) {
        tokio::time::sleep(every).await;
    }
}
