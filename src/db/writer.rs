//! SQLite's writer thread: group commit with a savepoint per write.
//!
//! Every [`super::Db::write`] on SQLite becomes a job on this thread's queue. The thread takes
//! the first job, then every job already waiting (up to `database.write_group_max`), opens one
//! `BEGIN IMMEDIATE`, runs each job in its own savepoint, commits once, and only then answers
//! each caller: a job that failed rolled back to its savepoint and hears its own error; a
//! job that succeeded hears its result once the commit made it durable. A failed BEGIN or
//! COMMIT answers every job of the group with [`RunError::Unavailable`] (nothing of it was
//! written).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;

use super::{write_tx, DbConnection, RunError};

/// What a job leaves to do after the group's commit (or its failure): answer its caller.
type Answer = Box<dyn FnOnce(bool) + Send>;
/// A job: runs on the writer's connection inside the group's transaction (`Some`), or is
/// told that the group could not start (`None`).
type Job = Box<dyn FnOnce(Option<&mut DbConnection>) -> Answer + Send>;

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
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
    pub fn start(conn: DbConnection, max_group: usize) -> Writer {
        let (queue, jobs) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, jobs, max_group));
        if let Err(e) = spawned {
            // No thread, no writer: each write then says the database is unavailable.
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
        Writer { queue }
    }

    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, RunError<E>>>();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |conn: Option<&mut DbConnection>| {
            let Some(conn) = conn else {
                return Box::new(move |_| {
                    let _ = tx.send(Err(RunError::Unavailable));
                }) as Answer;
            };
            let _entered = span.enter();
            // The job's own savepoint; a panic inside it is caught here so that only the
            // savepoint is rolled back.
            let result: Result<T, Inner<E>> = write_tx(conn, |conn| {
                match catch_unwind(AssertUnwindSafe(|| f(conn))) {
                    Ok(r) => r.map_err(Inner::Failed),
                    Err(p) => Err(Inner::Panicked(panic_message(p))),
                }
            });
            Box::new(move |committed: bool| {
                let answer = match result {
                    Ok(v) if committed => Ok(v),
                    Ok(_) => Err(RunError::Unavailable),
                    Err(Inner::Failed(e)) => Err(RunError::Failed(e)),
                    Err(Inner::Panicked(m)) => Err(RunError::Panicked(m)),
                };
                let _ = tx.send(answer);
            }) as Answer
        });
        if self.queue.send(job).is_err() {
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
    let answers: Vec<Answer> = group.into_iter().map(|job| job(Some(&mut *conn))).collect();
    let committed = match <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
    {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, writes = answers.len(), "the group commit failed; nothing of it was written");
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            false
        }
    };
    for answer in answers {
        answer(committed);
    }
}
