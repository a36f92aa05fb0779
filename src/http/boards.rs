//! The ticket pages' boards, kept in memory: each counter's day of tickets as their pages show
//! them, read from the database at most once per `queue.ticket_board_ms` however many phones
//! follow their tickets, and at once after a desk's write at this instance (check-in, walk-in,
//! call, outcome). Another instance's writes show within the interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::NaiveDate;
use tokio::sync::{Mutex, Notify};

use super::feeds::Displays;
use crate::db::{Db, DbConnection, RunError};
use crate::queue::follow::Followed;
use crate::queue::service::DeskError;

/// One counter's board: the day's tickets by public id, and when it was read.
#[derive(Default)]
struct Board {
    day: Option<NaiveDate>,
    read_at: Option<Instant>,
    /// The counter's generation when it was read: a later write makes it stale.
    generation: u64,
    views: Arc<HashMap<String, Followed>>,
}

#[derive(Default)]
struct Slot {
    generation: AtomicU64,
    board: Mutex<Board>,
}

/// Every counter's board, the wake-up of the ticket streams, and the streams each client
/// address holds.
#[derive(Default)]
pub(crate) struct Boards {
    slots: HashMap<String, Slot>,
    /// Woken after a desk's write here: the ticket streams look again at once.
    pub(crate) changed: Notify,
    /// The ticket streams open per client address (counted as the screens' are).
    pub(crate) streams: Arc<Displays>,
}

impl Boards {
    pub(crate) fn new(counters: impl IntoIterator<Item = String>) -> Boards {
        Boards {
            slots: counters.into_iter().map(|c| (c, Slot::default())).collect(),
            changed: Notify::new(),
            streams: Arc::new(Displays::new(std::iter::empty())),
        }
    }

    /// A desk changed `counter`'s queue: its board is read again when next asked for, and the
    /// streams wake.
    pub(crate) fn touch(&self, counter: &str) {
        if let Some(slot) = self.slots.get(counter) {
            slot.generation.fetch_add(1, Ordering::SeqCst);
        }
        self.changed.notify_waiters();
    }

    /// `counter`'s board of `day`: the one in memory while it is current (read for the same
    /// day, since the counter's last write here, less than `max_age` ago), else read again by
    /// `read` (one reader at a time per counter; the others wait for what it reads).
    pub(crate) async fn board<F>(
        &self,
        db: &Db,
        (counter, day): (&str, NaiveDate),
        max_age: StdDuration,
        read: F,
    ) -> Result<Arc<HashMap<String, Followed>>, RunError<DeskError>>
    where
        F: FnOnce(&mut DbConnection) -> Result<Vec<Followed>, DeskError> + Send + 'static,
    {
        let Some(slot) = self.slots.get(counter) else {
            return Ok(Arc::default());
        };
        let generation = slot.generation.load(Ordering::SeqCst);
        let mut board = slot.board.lock().await;
        let current = board.day == Some(day)
            && board.generation == generation
            && board.read_at.is_some_and(|at| at.elapsed() < max_age);
        if current {
            return Ok(board.views.clone());
        }
        let views = db.run(read).await?;
        board.views = Arc::new(
            views
                .into_iter()
                .map(|v| (v.public_id.clone(), v))
                .collect(),
        );
        board.day = Some(day);
        board.read_at = Some(Instant::now());
        board.generation = generation;
        Ok(board.views.clone())
    }
}
