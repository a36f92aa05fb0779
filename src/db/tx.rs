//! [`Tx`]: a connection inside a write transaction. Only `db` makes one: [`super::Db::write`]
//! (on SQLite through the writer's group commit, on PostgreSQL a transaction on a pooled
//! connection) and [`Tx::run`] for the command line and tests that hold a connection. A
//! function that takes `&mut Tx` writes in its caller's transaction and never opens one; a
//! function that takes `&mut DbConnection` reads (a `&mut Tx` is one too, by `Deref`).

use std::ops::{Deref, DerefMut};

use super::{write_tx, DbConnection};

pub struct Tx<'c> {
    conn: &'c mut DbConnection,
}

impl Tx<'_> {
    /// Runs `f` in a write transaction on a connection this caller holds (the CLI, tests, and
    /// the writer itself); the service's own path is [`super::Db::write`].
    pub fn run<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        write_tx(conn, |conn| f(&mut Tx { conn }))
    }

    /// `f` in a savepoint of this transaction: its writes are undone alone when it fails.
    pub fn savepoint<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        Tx::run(self.conn, f)
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
