//! SQLite's writer thread: group commit with a savepoint per write.
//!
//! Every [`super::Db::write`] on SQLite becomes a job on this thread's queue. The thread takes
//! the first job, then every job already waiting (up to `database.write_group_max`), opens one
//! `BEGIN IMMEDIATE`, runs each job in its own savepoint, commits once, and only then answers
//! each caller: a job that failed rolled back to its savepoint and hears its own error; a
//! job that succeeded hears its result once the commit made it durable. A failed BEGIN or
//! COMMIT answers every job of the group with [`RunError::Unavailable`] (nothing of it was
//! written), its refused jobs too (a refusal may rest on a write that was not kept). A job
//! that left a savepoint open (a panic inside its own nested transaction) is rolled back to
//! where it started; a job that waited longer than `database.connect_timeout_seconds` in
//! the queue is not run (its caller is told the database is busy, as a pooled connection
//! would have said); the queue holds at most `QUEUE_MAX` writes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;

use super::{DbConnection, RunError, Tx};

/// What a job leaves to do after the group's commit (or its failure): answer its caller.
type Answer = Box<dyn FnOnce(bool) + Send>;
/// A job: runs on the writer's connection inside the group's transaction (`Some`), or is
/// told that the group could not start (`None`).
type Job = Box<dyn FnOnce(Option<&mut DbConnection>) -> Answer + Send>;

/// Writes waiting at most; beyond, a write is refused at once (503) rather than queued in
/// memory without bound.
const QUEUE_MAX: usize = 16_384;

#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::SyncSender<Job>,
    /// How long a write may wait in the queue before it is no longer run.
    max_wait: Duration,
}

/// A write's own outcome inside its savepoint.
enum Inner<E> {
    Failed(E),
    Panicked(String),
}

impl<E: From<diesel::result::Error>> From<diesel::result::Error> for Inner<E> {
    fn from(e: diesel::result::Error) -> Self {
        Inner::Failed(E::from(e))
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

impl Writer {
    pub(super) fn start(conn: DbConnection, max_group: usize, max_wait: Duration) -> Writer {
        let (queue, jobs) = mpsc::sync_channel::<Job>(QUEUE_MAX);
        let spawned = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, jobs, max_group));
        if let Err(e) = spawned {
            // No thread, no writer: each write then says the database is unavailable.
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
        Writer { queue, max_wait }
    }

    pub(super) async fn submit<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, RunError<E>>>();
        let span = tracing::Span::current();
        let (queued_at, max_wait) = (Instant::now(), self.max_wait);
        let job: Job = Box::new(move |conn: Option<&mut DbConnection>| {
            let conn = match conn {
                Some(conn) if queued_at.elapsed() <= max_wait => conn,
                late => {
                    if late.is_some() {
                        tracing::warn!("a write waited too long for the SQLite writer");
                    }
                    return Box::new(move |_| {
                        let _ = tx.send(Err(RunError::Unavailable));
                    }) as Answer;
                }
            };
            let _entered = span.enter();
            // The job's own savepoint; a panic inside it is caught here so that only the
            // savepoint is rolled back.
            let result: Result<T, Inner<E>> =
                Tx::run(conn, |t| match catch_unwind(AssertUnwindSafe(|| f(t))) {
                    Ok(r) => r.map_err(Inner::Failed),
                    Err(p) => Err(Inner::Panicked(panic_message(p))),
                });
            Box::new(move |committed: bool| {
                let answer = match result {
                    _ if !committed => Err(RunError::Unavailable),
                    Ok(v) => Ok(v),
                    Err(Inner::Failed(e)) => Err(RunError::Failed(e)),
                    Err(Inner::Panicked(m)) => Err(RunError::Panicked(m)),
                };
                let _ = tx.send(answer);
            }) as Answer
        });
        if let Err(e) = self.queue.try_send(job) {
            if matches!(e, mpsc::TrySendError::Full(_)) {
                tracing::warn!("the SQLite writer's queue is full");
            }
            return Err(RunError::Unavailable);
        }
        rx.await
            .unwrap_or_else(|_| Err(RunError::Panicked("the SQLite writer stopped".into())))
    }
}

fn run(mut conn: DbConnection, jobs: mpsc::Receiver<Job>, max_group: usize) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, group);
    }
}

fn commit_group(conn: &mut DbConnection, group: Vec<Job>) {
    let began = match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Pg(_) => {
            <DbConnection as Connection>::TransactionManager::begin_transaction(conn)
        }
    };
    if let Err(e) = began {
        tracing::warn!(error = %e, writes = group.len(), "cannot begin the write transaction");
        for job in group {
            job(None)(false);
        }
        return;
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
    let mut intact = true;
    for job in group {
        // Each job starts in the group's transaction and nothing deeper; one that cannot
        // (the transaction is gone: SQLite rolled it back on an I/O error) is not run, lest
        // it commit on its own outside the group.
        intact = intact && settle_depth(conn);
        answers.push(job(intact.then_some(&mut *conn)));
    }
    intact = intact && settle_depth(conn);
    let committed = intact
        && match <DbConnection as Connection>::TransactionManager::commit_transaction(conn) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, writes = answers.len(), "the group commit failed; nothing of it was written");
                false
            }
        };
    if !committed {
        // Whatever is left of the transaction goes, savepoints and all.
        while depth(conn).is_some_and(|d| d > 0) {
            if <DbConnection as Connection>::TransactionManager::rollback_transaction(conn).is_err()
            {
                break;
            }
        }
        if depth(conn).is_none() {
            tracing::error!("the SQLite writer's connection is broken; writes fail until restart");
        }
    }
    for answer in answers {
        answer(committed);
    }
}

/// The connection's transaction depth (0: none); None when diesel lost track (broken).
fn depth(conn: &mut DbConnection) -> Option<u32> {
    <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .map(|d| d.map_or(0, |d| d.get()))
}

/// Back to the group's own transaction (depth 1): a savepoint a job left open (a panic
/// unwound through its nested transaction) is rolled back. False when the group's
/// transaction is gone.
fn settle_depth(conn: &mut DbConnection) -> bool {
    loop {
        match depth(conn) {
            Some(1) => return true,
            Some(d) if d > 1 => {
                tracing::warn!(depth = d, "a write left a savepoint open; rolled back");
                if <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
                    .is_err()
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::write_tx;
    use diesel::connection::SimpleConnection;
    use diesel::{RunQueryDsl, SqliteConnection};

    fn writer(dir: &tempfile::TempDir) -> (Writer, String) {
        let path = dir.path().join("w.sqlite3").display().to_string();
        let mut conn = SqliteConnection::establish(&path).expect("sqlite");
        conn.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL);")
            .expect("table");
        let w = Writer::start(DbConnection::Sqlite(conn), 64, Duration::from_secs(5));
        (w, path)
    }

    fn insert(conn: &mut DbConnection, v: i32) -> Result<(), diesel::result::Error> {
        diesel::sql_query(format!("INSERT INTO t (v) VALUES ({v})"))
            .execute(conn)
            .map(|_| ())
    }

    fn values(path: &str) -> Vec<i32> {
        #[derive(diesel::QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            v: i32,
        }
        let mut conn = SqliteConnection::establish(path).expect("sqlite");
        let rows: Vec<V> = diesel::sql_query("SELECT v FROM t ORDER BY v")
            .load(&mut conn)
            .expect("select");
        rows.into_iter().map(|r| r.v).collect()
    }

    #[tokio::test]
    async fn a_panic_inside_a_nested_transaction_loses_only_its_own_write() {
        let dir = tempfile::tempdir().expect("dir");
        let (w, path) = writer(&dir);
        let ok = w.submit(|conn| insert(conn, 1));
        let bad = w.submit(|conn| {
            write_tx(conn, |conn| {
                insert(conn, 2)?;
                write_tx(conn, |conn| -> Result<(), diesel::result::Error> {
                    insert(conn, 3)?;
                    panic!("a bug inside a nested transaction")
                })
            })
        });
        let after = w.submit(|conn| insert(conn, 4));
        let (ok, bad, after) = tokio::join!(ok, bad, after);
        assert!(matches!(ok, Ok(())), "{ok:?}");
        assert!(matches!(bad, Err(RunError::Panicked(_))), "{bad:?}");
        assert!(matches!(after, Ok(())), "{after:?}");
        // The writer still works, and what it said was written is written.
        let later: Result<(), RunError<diesel::result::Error>> =
            w.submit(|conn| insert(conn, 5)).await;
        assert!(later.is_ok(), "{later:?}");
        assert_eq!(values(&path), vec![1, 4, 5]);
    }

    #[tokio::test]
    async fn a_refusal_rolls_back_only_itself() {
        let dir = tempfile::tempdir().expect("dir");
        let (w, path) = writer(&dir);
        let a = w.submit(|conn| insert(conn, 1));
        let b = w.submit(|conn| {
            insert(conn, 2)?;
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        });
        let c = w.submit(|conn| insert(conn, 3));
        let (a, b, c) = tokio::join!(a, b, c);
        assert!(a.is_ok() && c.is_ok(), "{a:?} {c:?}");
        assert!(matches!(b, Err(RunError::Failed(_))), "{b:?}");
        assert_eq!(values(&path), vec![1, 3]);
    }
}
