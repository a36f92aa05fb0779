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

/// A day's tickets as their pages show them, by public id.
pub(crate) type Views = Arc<HashMap<String, Followed>>;

/// One counter's board: the day's tickets by public id, and when it was read.
#[derive(Default, Clone)]
struct Board {
    day: Option<NaiveDate>,
    read_at: Option<Instant>,
    /// The counter's generation when it was read: a later write makes it stale.
    generation: u64,
    views: Views,
}

#[derive(Default)]
struct Slot {
    generation: AtomicU64,
    /// The board pages answer from (held for a copy of an `Arc`, never across a read).
    current: std::sync::Mutex<Board>,
    /// Held by the one request reading the board again.
    reading: Mutex<()>,
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

    /// Whether `counter`'s board of `day` in memory (current or not) holds `public_id`.
    pub(crate) fn holds(&self, (counter, day): (&str, NaiveDate), public_id: &str) -> bool {
        self.slots
            .get(counter)
            .map(|slot| slot.snapshot(|_| false, day).1)
            .is_some_and(|views| views.is_some_and(|v| v.contains_key(public_id)))
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
    /// `read`. One request reads at a time; while it does, the others answer from the board
    /// they have (of the same day), so a waiting room of phones never queues behind the read.
    /// After a read the streams wake and look again.
    pub(crate) async fn board<F>(
        &self,
        db: &Db,
        (counter, day): (&str, NaiveDate),
        max_age: StdDuration,
        read: F,
    ) -> Result<Views, RunError<DeskError>>
    where
        F: FnOnce(&mut DbConnection) -> Result<Vec<Followed>, DeskError> + Send + 'static,
    {
        let Some(slot) = self.slots.get(counter) else {
            return Ok(Arc::default());
        };
        let generation = slot.generation.load(Ordering::SeqCst);
        let current = |b: &Board| {
            b.day == Some(day)
                && b.generation == generation
                && b.read_at.is_some_and(|at| at.elapsed() < max_age)
        };
        let (fresh, of_the_day) = slot.snapshot(current, day);
        if let Some(views) = fresh {
            return Ok(views);
        }
        let _reading = match (slot.reading.try_lock(), of_the_day) {
            (Ok(guard), _) => guard,
            // Another request reads it: answer from the day's board meanwhile.
            (Err(_), Some(views)) => return Ok(views),
            // No board of the day yet: wait for the one being read.
            (Err(_), None) => slot.reading.lock().await,
        };
        if let (Some(views), _) = slot.snapshot(current, day) {
            return Ok(views);
        }
        let views = db.run(read).await?;
        let board = Board {
            day: Some(day),
            read_at: Some(Instant::now()),
            generation,
            views: Arc::new(
                views
                    .into_iter()
                    .map(|v| (v.public_id.clone(), v))
                    .collect(),
            ),
        };
        let views = board.views.clone();
        if let Ok(mut b) = slot.current.lock() {
            *b = board;
        }
        self.changed.notify_waiters();
        Ok(views)
    }
}

impl Slot {
    /// The board's views if `current` holds, and the views of `day`'s board in any case.
    fn snapshot(
        &self,
        current: impl Fn(&Board) -> bool,
        day: NaiveDate,
    ) -> (Option<Views>, Option<Views>) {
        let Ok(b) = self.current.lock() else {
            return (None, None);
        };
        let of_the_day = (b.day == Some(day)).then(|| b.views.clone());
        (current(&b).then(|| b.views.clone()), of_the_day)
    }
}
