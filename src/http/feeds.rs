//! The waiting-room screens' feeds: one per counter, the calls kept in memory (see
//! `display`, which fills them and streams them).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::queue::CallEvent;

/// Calls kept per counter (a screen that reconnects after more than this reads the database).
const KEPT: usize = 256;

/// One counter's calls, as the screens read them.
#[derive(Default)]
pub(crate) struct Feed {
    calls: Mutex<VecDeque<CallEvent>>,
    /// The latest call's id, once the poller has read the database (None before).
    latest: Mutex<Option<i64>>,
    /// Woken when calls arrive.
    pub(crate) arrived: Notify,
}

impl Feed {
    /// The calls after `cursor`, if this feed holds them all (None: read the database).
    pub(crate) fn after(&self, cursor: i64) -> Option<Vec<CallEvent>> {
        let calls = self.calls.lock().ok()?;
        let oldest = calls.front().map(|c| c.id);
        if oldest.is_some_and(|o| o > cursor + 1) && calls.len() >= KEPT {
            return None;
        }
        Some(calls.iter().filter(|c| c.id > cursor).cloned().collect())
    }

    /// Today's last `n` calls, and the latest call's id (None until the first poll).
    pub(crate) fn backlog(
        &self,
        n: usize,
        today: chrono::NaiveDate,
    ) -> Option<(Vec<CallEvent>, i64)> {
        let latest = (*self.latest.lock().ok()?)?;
        let calls = self.calls.lock().ok()?;
        let today: Vec<CallEvent> = calls
            .iter()
            .filter(|c| c.service_on == today)
            .cloned()
            .collect();
        let skip = today.len().saturating_sub(n);
        Some((today.into_iter().skip(skip).collect(), latest))
    }

    pub(crate) fn push(&self, new: Vec<CallEvent>, latest: i64) {
        let arrived = !new.is_empty();
        if let Ok(mut calls) = self.calls.lock() {
            for c in new {
                if calls.len() >= KEPT {
                    calls.pop_front();
                }
                calls.push_back(c);
            }
        }
        if let Ok(mut l) = self.latest.lock() {
            *l = Some(latest);
        }
        if arrived {
            self.arrived.notify_waiters();
        }
    }
}

/// Every counter's feed, and the streams each client address holds.
#[derive(Default)]
pub(crate) struct Displays {
    feeds: HashMap<String, Arc<Feed>>,
    streams: Mutex<HashMap<String, usize>>,
}

impl Displays {
    pub(crate) fn new(counters: impl IntoIterator<Item = String>) -> Displays {
        Displays {
            feeds: counters.into_iter().map(|c| (c, Arc::default())).collect(),
            streams: Mutex::default(),
        }
    }

    pub(crate) fn feed(&self, counter: &str) -> Option<Arc<Feed>> {
        self.feeds.get(counter).cloned()
    }

    /// A stream for `client`, if it holds fewer than `max`; released when dropped.
    pub(crate) fn open(self: &Arc<Self>, client: String, max: usize) -> Option<StreamSlot> {
        let mut streams = self.streams.lock().ok()?;
        let n = streams.entry(client.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            displays: self.clone(),
            client,
        })
    }
}

/// One open stream of a client address.
pub(crate) struct StreamSlot {
    displays: Arc<Displays>,
    client: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.displays.streams.lock() {
            if let Some(n) = streams.get_mut(&self.client) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    streams.remove(&self.client);
                }
            }
        }
    }
}
