//! The public reads every browser repeats, kept ready to send: the counters and procedures
//! (fixed by the configuration: made once), and availability answers per counter and range,
//! kept while their counter's days are unchanged ([`crate::calendar`]'s epoch) and the clock
//! has not reached the next instant that changes what they show (a window opening or
//! closing, a phone release). A kept answer costs no database work and no rendering; a 304
//! is decided from its ETag alone.
//!
//! One request at a time builds a range's answer; the others wait for it and are all woken at
//! once when it is kept (no herd of identical rebuilds when a booking changes a day under a
//! storm of reloads, and no convoy of waiters woken one by one behind it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};

use super::encoded::Encoded;

/// Answers kept at most per map before it is emptied (a storm asks for few ranges; a
/// scanner asking for many only empties the map).
const MAX_KEPT: usize = 4096;

/// An availability answer as the public sees it.
pub(crate) struct KeptAnswer {
    /// The counter's epoch the answer's days were read at.
    pub epoch: u64,
    /// What it shows holds until this instant (exclusive).
    pub until: DateTime<Utc>,
    pub body: Encoded,
}

/// A range of days of a counter, as asked for.
pub(crate) type RangeKey = (String, NaiveDate, NaiveDate);

/// Everything a rendered day depends on: its fingerprint, what the clock makes of it, and who
/// looks (staff see every free seat and the waiting list).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RenderKey {
    pub counter: String,
    pub date: NaiveDate,
    pub staff: bool,
    pub fingerprint: (i64, i64, bool),
    pub bookable_now: bool,
    pub released: bool,
    pub waiting: Option<i64>,
    /// An undrawn lottery holding the day: its id and draw instant.
    pub lottery: Option<(String, i64)>,
}

#[derive(Default)]
pub(crate) struct Kept {
    pub counters: OnceLock<Encoded>,
    pub procedures: OnceLock<Encoded>,
    answers: Mutex<HashMap<RangeKey, Arc<KeptAnswer>>>,
    builders: Mutex<HashMap<RangeKey, Arc<tokio::sync::Notify>>>,
    days: Mutex<HashMap<RenderKey, Arc<[u8]>>>,
}

impl Kept {
    /// The kept answer for `key`, if it still holds at `epoch` and `now`.
    pub(crate) fn answer(
        &self,
        key: &RangeKey,
        epoch: u64,
        now: DateTime<Utc>,
    ) -> Option<Arc<KeptAnswer>> {
        let answers = self.answers.lock().ok()?;
        answers
            .get(key)
            .filter(|a| a.epoch == epoch && now < a.until)
            .cloned()
    }

    pub(crate) fn keep(&self, key: RangeKey, answer: Arc<KeptAnswer>) {
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= MAX_KEPT {
                answers.clear();
            }
            answers.insert(key, answer);
        }
    }

    /// Whether this request builds `key`'s answer (`Ok`: the others wait until the guard is
    /// dropped) or waits for another's (`Err`: woken when it is done).
    pub(crate) fn build_or_wait(
        &self,
        key: &RangeKey,
    ) -> Result<Building<'_>, Arc<tokio::sync::Notify>> {
        let Ok(mut builders) = self.builders.lock() else {
            return Ok(Building {
                kept: self,
                key: None,
            });
        };
        if let Some(done) = builders.get(key) {
            return Err(done.clone());
        }
        builders.insert(key.clone(), Arc::default());
        Ok(Building {
            kept: self,
            key: Some(key.clone()),
        })
    }

    /// Whether a request is building `key`'s answer now.
    pub(crate) fn is_building(&self, key: &RangeKey) -> bool {
        self.builders
            .lock()
            .map(|b| b.contains_key(key))
            .unwrap_or(false)
    }

    /// A day as rendered for `key` (by `render` on first use): a day's JSON is the same for
    /// every read with the same key.
    pub(crate) fn day(&self, key: RenderKey, render: impl FnOnce() -> Vec<u8>) -> Arc<[u8]> {
        if let Some(bytes) = self.days.lock().ok().and_then(|r| r.get(&key).cloned()) {
            return bytes;
        }
        let bytes: Arc<[u8]> = render().into();
        if let Ok(mut days) = self.days.lock() {
            if days.len() >= 8 * MAX_KEPT {
                days.clear();
            }
            days.insert(key, bytes.clone());
        }
        bytes
    }
}

/// Held by the request that builds a range's answer; dropped (built, or failed), it wakes
/// every request that waits for that range.
pub(crate) struct Building<'a> {
    kept: &'a Kept,
    key: Option<RangeKey>,
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let done = self
            .kept
            .builders
            .lock()
            .ok()
            .and_then(|mut b| b.remove(&key));
        if let Some(done) = done {
            done.notify_waiters();
        }
    }
}
