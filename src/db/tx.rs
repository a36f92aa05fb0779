//! [`Tx`]: a connection inside a write transaction. Only `db` makes one: [`super::Db::write`]
//! (on SQLite through the writer's group commit, on PostgreSQL a transaction on a pooled
//! connection) and [`Tx::run`] for the command line and tests that hold a connection. A
//! function that takes `&mut Tx` writes in its caller's transaction and never opens one; a
//! function that takes `&mut DbConnection` reads (a `&mut Tx` is one too, by `Deref`).
//!
//! A write that changes a counter's day (its seats, or whether it is closed) says so with
//! [`Tx::day_changed`]; once the transaction commits, [`super::Db`] tells whoever keeps days in
//! memory (the calendar's cache), before the writer hears back, so the next read in this
//! process shows the change. What a rolled-back savepoint noted is dropped with it.

use std::ops::{Deref, DerefMut};
use std::sync::RwLock;

use chrono::NaiveDate;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, SqliteConnection};

use super::{chain, DbConnection};

/// A counter's day whose seats or closure a write changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DayChanged {
    pub counter: String,
    pub day: NaiveDate,
}

/// Who is told of the days a committed write changed (the calendar's cache).
type DayListener = Box<dyn Fn(&[DayChanged]) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Listeners(RwLock<Vec<DayListener>>);

impl Listeners {
    pub(crate) fn add(&self, listener: DayListener) {
        if let Ok(mut listeners) = self.0.write() {
            listeners.push(listener);
        }
    }

    pub(crate) fn tell(&self, changed: &[DayChanged]) {
        if changed.is_empty() {
            return;
        }
        if let Ok(listeners) = self.0.read() {
            for listener in listeners.iter() {
                listener(changed);
            }
        }
    }
}

pub struct Tx<'c> {
    conn: &'c mut DbConnection,
    changed: Vec<DayChanged>,
}

impl Tx<'_> {
    /// Runs `f` in a write transaction on a connection this caller holds (the CLI, tests, and
    /// the writer itself); the service's own path is [`super::Db::write`].
    pub fn run<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        Tx::run_noting(conn, f).map(|(value, _)| value)
    }

    /// [`Tx::run`], returning the days the committed transaction changed.
    pub(crate) fn run_noting<T, E, F>(
        conn: &mut DbConnection,
        f: F,
    ) -> Result<(T, Vec<DayChanged>), E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        write_tx(conn, |conn| {
            let mut tx = Tx {
                conn,
                changed: Vec::new(),
            };
            let value = f(&mut tx)?;
            Ok((value, tx.changed))
        })
    }

    /// `f` in a savepoint of this transaction: its writes are undone alone when it fails.
    pub fn savepoint<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let (value, changed) = Tx::run_noting(self.conn, f)?;
        self.changed.extend(changed);
        Ok(value)
    }

    /// This transaction changes `counter`'s `day` (a seat taken or freed, a capacity, a
    /// closure): readers that keep the day in memory learn of it when it commits.
    pub(crate) fn day_changed(&mut self, counter: &str, day: NaiveDate) {
        let changed = DayChanged {
            counter: counter.to_string(),
            day,
        };
        if !self.changed.contains(&changed) {
            self.changed.push(changed);
        }
    }
}

impl Deref for Tx<'_> {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.conn
    }
}

/// Every write transaction goes through here. On SQLite it opens with `BEGIN IMMEDIATE`, so
/// concurrent writers queue on the busy timeout instead of failing on lock upgrade; on
/// PostgreSQL it is an ordinary transaction (seat rules rely on row locks of conditional
/// updates, not on the isolation level).
pub(crate) fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // Outermost on SQLite: BEGIN IMMEDIATE. Inside a transaction (the writer's group): a
    // savepoint. PostgreSQL: BEGIN, or a savepoint when nested.
    let immediate = match conn {
        DbConnection::Sqlite(c) => !in_transaction(c),
        DbConnection::Pg(_) => false,
    };
    // The outermost transaction links the audit entries it wrote just before it commits (the
    // SQLite writer's group does the same for its writes).
    let outermost = matches!(
        <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth(),
        Ok(None)
    );
    if outermost {
        // Entries of an earlier transaction on this thread were sealed or rolled back.
        chain::take_pending();
    }
    match conn {
        DbConnection::Sqlite(c) if immediate => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        _ => <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?,
    }
    let result = f(conn).and_then(|value| {
        if outermost && chain::take_pending() {
            chain::seal(conn)?;
        }
        Ok(value)
    });
    match result {
        Ok(value) => {
            match <DbConnection as Connection>::TransactionManager::commit_transaction(conn) {
                Ok(()) => Ok(value),
                Err(commit_error) => {
                    // A failed COMMIT may leave the transaction open: roll it back before reuse.
                    let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(
                        conn,
                    );
                    Err(commit_error.into())
                }
            }
        }
        Err(e) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

fn in_transaction(c: &mut SqliteConnection) -> bool {
    !matches!(
        AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
        Ok(None)
    )
}
