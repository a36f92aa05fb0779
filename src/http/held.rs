//! The web bookings this instance holds for a fair start's draw (see `http::fair_start`):
//! one sender per request id, answered when the draw has served it.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::reservations::fair_start::Outcome;

/// This instance's held clients, by request id.
pub(crate) struct FairStart {
    pub(crate) instance: String,
    waiters: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
}

impl Default for FairStart {
    fn default() -> Self {
        FairStart {
            instance: format!("instance-{}", uuid::Uuid::new_v4().simple()),
            waiters: Mutex::new(HashMap::new()),
        }
    }
}

impl FairStart {
    pub(super) fn hold(&self, id: &str) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(id.to_string(), tx);
        }
        rx
    }

    pub(super) fn held(&self) -> Vec<String> {
        match self.waiters.lock() {
            Ok(mut w) => {
                w.retain(|_, tx| !tx.is_closed());
                w.keys().cloned().collect()
            }
            Err(_) => Vec::new(),
        }
    }

    pub(super) fn answer(&self, id: &str, outcome: Outcome) {
        let sender = self.waiters.lock().ok().and_then(|mut w| w.remove(id));
        if let Some(tx) = sender {
            let _ = tx.send(outcome);
        }
    }

    pub(super) fn forget(&self, id: &str) {
        if let Ok(mut w) = self.waiters.lock() {
            w.remove(id);
        }
    }
}
