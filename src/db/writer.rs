//! SQLite's writer thread: group commit with a savepoint per write.
//!
//! Every [`super::Db::write`] on SQLite becomes a job on this thread's queues, one per lane.
//! The thread takes the first job, then every job already waiting (the staff lane's first, up
//! to `database.write_group_max` in all), opens one `BEGIN IMMEDIATE`, runs each job in its own
//! savepoint, commits once, tells the listeners which days the group changed, and only then
//! answers each caller: a job that failed rolled back to its savepoint and hears its own
//! error; a job that succeeded hears its result once the commit made it durable. A failed
//! BEGIN or COMMIT answers every job of the group with [`RunError::Unavailable`] (nothing of
//! it was written), its refused jobs too (a refusal may rest on a write that was not kept). A
//! job that left a savepoint open (a panic inside its own nested transaction) is rolled back
//! to where it started.
//!
//! The public lane is bounded: a public write that finds `database.public_queue_max` others
//! waiting, or that waited `database.public_wait_ms` before its turn, is not run and hears
//! [`RunError::Busy`] (the client is told to try again). A staff write waits up to
//! `database.connect_timeout_seconds` (then [`RunError::Unavailable`], as a pooled connection
//! would say).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;

use super::lane::Lane;
use super::tx::{DayChanged, Listeners};
use super::{DbConnection, RunError, Tx};

/// What a job leaves to do after the group's commit (or its failure): answer its caller.
type Answer = Box<dyn FnOnce(bool) + Send>;
/// A job: runs on the writer's connection inside the group's transaction (`Some`), or is
/// told that the group could not start (`None`). Besides its answer it returns the days it
/// changed (none when it failed).
type Job = Box<dyn FnOnce(Option<&mut DbConnection>) -> (Answer, Vec<DayChanged>) + Send>;

/// A job's turn: waiting in the queue, taken by the writer, or given up by its caller.
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const GIVEN_UP: u8 = 2;

/// Staff writes waiting at most (a safety bound: staff are few).
const STAFF_QUEUE_MAX: usize = 16_384;

/// The bounds of the writer's lanes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_group: usize,
    pub staff_wait: Duration,
    pub public_wait: Duration,
    pub public_queue: usize,
}

#[derive(Default)]
struct Queues {
    staff: VecDeque<Job>,
    public: VecDeque<Job>,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

#[derive(Clone)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
    limits: Limits,
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
    /// Starts the writer thread on `conn`; `reopen` makes a new connection when diesel has
    /// marked this one broken (an I/O error mid-commit), so writes go on without a restart.
    pub(crate) fn start(
        conn: DbConnection,
        reopen: Reopen,
        limits: Limits,
        listeners: Arc<Listeners>,
    ) -> Writer {
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
        });
        let for_thread = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, reopen, &for_thread, limits.max_group, &listeners));
        if let Err(e) = spawned {
            // No thread, no writer: each write then waits out its time and is refused.
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
        Writer { shared, limits }
    }

    pub(crate) async fn submit<T, E, F>(&self, lane: Lane, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, RunError<E>>>();
        let max_wait = match lane {
            Lane::Public => self.limits.public_wait,
            Lane::Staff => self.limits.staff_wait,
        };
        let turn = Arc::new(AtomicU8::new(QUEUED));
        let job = job(f, lane, max_wait, turn.clone(), tx);
        self.enqueue(lane, job)?;
        let mut rx = rx;
        if lane == Lane::Public {
            // A public write that has not had its turn in time is told busy at once; the job
            // then finds itself given up and does not run. If the writer took it just now,
            // its answer follows.
            if let Ok(answer) = tokio::time::timeout(max_wait, &mut rx).await {
                return answer.unwrap_or_else(|_| {
                    Err(RunError::Panicked("the SQLite writer stopped".into()))
                });
            }
            if turn
                .compare_exchange(QUEUED, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Err(RunError::Busy);
            }
        }
        let answered = rx.await;
        answered.unwrap_or_else(|_| Err(RunError::Panicked("the SQLite writer stopped".into())))
    }

    fn enqueue<E>(&self, lane: Lane, job: Job) -> Result<(), RunError<E>> {
        let Ok(mut queues) = self.shared.queues.lock() else {
            return Err(RunError::Unavailable);
        };
        match lane {
            Lane::Public if queues.public.len() >= self.limits.public_queue => {
                return Err(RunError::Busy);
            }
            Lane::Public => queues.public.push_back(job),
            Lane::Staff if queues.staff.len() >= STAFF_QUEUE_MAX => {
                tracing::warn!("the SQLite writer's staff queue is full");
                return Err(RunError::Unavailable);
            }
            Lane::Staff => queues.staff.push_back(job),
        }
        drop(queues);
        self.shared.ready.notify_one();
        Ok(())
    }
}

/// The job of one write: runs `f` in its own savepoint if its caller still waits and it has not
/// waited past `max_wait`, and answers through `tx` once the group's fate is known.
fn job<T, E, F>(
    f: F,
    lane: Lane,
    max_wait: Duration,
    writers_turn: Arc<AtomicU8>,
    tx: tokio::sync::oneshot::Sender<Result<T, RunError<E>>>,
) -> Job
where
    F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<diesel::result::Error> + Send + 'static,
{
    let span = tracing::Span::current();
    let queued_at = Instant::now();
    Box::new(move |conn: Option<&mut DbConnection>| {
        // Run only if the caller still waits (it may have been told busy meanwhile).
        let taken = writers_turn
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        let conn = match conn {
            Some(conn) if taken && queued_at.elapsed() <= max_wait => conn,
            late => {
                let refusal = match (late.is_some(), lane) {
                    (true, Lane::Public) => RunError::Busy,
                    (true, Lane::Staff) => {
                        tracing::warn!("a write waited too long for the SQLite writer");
                        RunError::Unavailable
                    }
                    (false, _) => RunError::Unavailable,
                };
                let answer = Box::new(move |_| {
                    let _ = tx.send(Err(refusal));
                }) as Answer;
                return (answer, Vec::new());
            }
        };
        let _entered = span.enter();
        // The job's own savepoint; a panic inside it is caught here so that only the
        // savepoint is rolled back.
        let result: Result<(T, Vec<DayChanged>), Inner<E>> =
            Tx::run_noting(conn, |t| match catch_unwind(AssertUnwindSafe(|| f(t))) {
                Ok(r) => r.map_err(Inner::Failed),
                Err(p) => Err(Inner::Panicked(panic_message(p))),
            });
        let (result, changed) = match result {
            Ok((value, changed)) => (Ok(value), changed),
            Err(e) => (Err(e), Vec::new()),
        };
        let answer = Box::new(move |committed: bool| {
            let answer = match result {
                _ if !committed => Err(RunError::Unavailable),
                Ok(v) => Ok(v),
                Err(Inner::Failed(e)) => Err(RunError::Failed(e)),
                Err(Inner::Panicked(m)) => Err(RunError::Panicked(m)),
            };
            let _ = tx.send(answer);
        }) as Answer;
        (answer, changed)
    })
}

/// The next group: every staff job waiting, then public ones, `max_group` at most.
fn next_group(shared: &Shared, max_group: usize) -> Option<Vec<Job>> {
    let mut queues = shared.queues.lock().ok()?;
    while queues.staff.is_empty() && queues.public.is_empty() {
        queues = shared.ready.wait(queues).ok()?;
    }
    let mut group = Vec::with_capacity(max_group.min(queues.staff.len() + queues.public.len()));
    while group.len() < max_group {
        match queues
            .staff
            .pop_front()
            .or_else(|| queues.public.pop_front())
        {
            Some(job) => group.push(job),
            None => break,
        }
    }
    Some(group)
}

/// Opens the writer's connection again.
pub(crate) type Reopen = Box<dyn FnMut() -> Result<DbConnection, String> + Send>;

fn run(
    mut conn: DbConnection,
    mut reopen: Reopen,
    shared: &Shared,
    max_group: usize,
    listeners: &Listeners,
) {
    while let Some(group) = next_group(shared, max_group) {
        if broken(&mut conn) {
            match reopen() {
                Ok(fresh) => {
                    tracing::warn!("the SQLite writer's connection was broken; opened it again");
                    conn = fresh;
                }
                Err(e) => {
                    // Tried again for the next group; these writes are refused (503), not lost.
                    tracing::error!(error = %e, writes = group.len(), "the SQLite writer cannot open its connection again");
                    for job in group {
                        job(None).0(false);
                    }
                    continue;
                }
            }
        }
        commit_group(&mut conn, group, listeners);
    }
}

/// Whether diesel gave up on the connection (lost track of its transaction, or marked it).
fn broken(conn: &mut DbConnection) -> bool {
    use diesel::r2d2::R2D2Connection;
    depth(conn).is_none() || conn.is_broken()
}

fn commit_group(conn: &mut DbConnection, group: Vec<Job>, listeners: &Listeners) {
    // This group's audit entries only: an earlier group's were sealed or rolled back.
    super::chain::take_pending();
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
            job(None).0(false);
        }
        return;
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
    let mut changed: Vec<DayChanged> = Vec::new();
    let mut intact = true;
    for job in group {
        // Each job starts in the group's transaction and nothing deeper; one that cannot
        // (the transaction is gone: SQLite rolled it back on an I/O error) is not run, lest
        // it commit on its own outside the group.
        intact = intact && settle_depth(conn);
        let (answer, days) = job(intact.then_some(&mut *conn));
        answers.push(answer);
        changed.extend(days);
    }
    intact = intact && settle_depth(conn);
    // The group's audit entries are linked to the chain just before it commits.
    if intact && super::chain::take_pending() {
        if let Err(e) = super::chain::seal(conn) {
            tracing::warn!(error = %e, writes = answers.len(), "cannot link the audit entries; the group is not committed");
            intact = false;
        }
    }
    let committed = intact
        && match <DbConnection as Connection>::TransactionManager::commit_transaction(conn) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, writes = answers.len(), "the group commit failed; nothing of it was written");
                false
            }
        };
    if committed {
        listeners.tell(&changed);
    } else {
        // Whatever is left of the transaction goes, savepoints and all.
        while depth(conn).is_some_and(|d| d > 0) {
            if <DbConnection as Connection>::TransactionManager::rollback_transaction(conn).is_err()
            {
                break;
            }
        }
        if depth(conn).is_none() {
            tracing::error!(
                "the SQLite writer's connection is broken; it is opened again for the next write"
            );
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
    use crate::db::tx::write_tx;
    use diesel::connection::SimpleConnection;
    use diesel::{RunQueryDsl, SqliteConnection};

    fn writer(dir: &tempfile::TempDir) -> (Writer, String) {
        writer_with(
            dir,
            Limits {
                max_group: 64,
                staff_wait: Duration::from_secs(5),
                public_wait: Duration::from_secs(5),
                public_queue: 64,
            },
        )
    }

    fn writer_with(dir: &tempfile::TempDir, limits: Limits) -> (Writer, String) {
        let path = dir.path().join("w.sqlite3").display().to_string();
        let mut conn = SqliteConnection::establish(&path).expect("sqlite");
        conn.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL);")
            .expect("table");
        let again = path.clone();
        let reopen: Reopen = Box::new(move || {
            SqliteConnection::establish(&again)
                .map(DbConnection::Sqlite)
                .map_err(|e| e.to_string())
        });
        let w = Writer::start(DbConnection::Sqlite(conn), reopen, limits, Arc::default());
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
        let ok = w.submit(Lane::Staff, |conn| insert(conn, 1));
        let bad = w.submit(Lane::Staff, |conn| {
            write_tx(conn, |conn| {
                insert(conn, 2)?;
                write_tx(conn, |conn| -> Result<(), diesel::result::Error> {
                    insert(conn, 3)?;
                    panic!("a bug inside a nested transaction")
                })
            })
        });
        let after = w.submit(Lane::Staff, |conn| insert(conn, 4));
        let (ok, bad, after) = tokio::join!(ok, bad, after);
        assert!(matches!(ok, Ok(())), "{ok:?}");
        assert!(matches!(bad, Err(RunError::Panicked(_))), "{bad:?}");
        assert!(matches!(after, Ok(())), "{after:?}");
        // The writer still works, and what it said was written is written.
        let later: Result<(), RunError<diesel::result::Error>> =
            w.submit(Lane::Staff, |conn| insert(conn, 5)).await;
        assert!(later.is_ok(), "{later:?}");
        assert_eq!(values(&path), vec![1, 4, 5]);
    }

    #[tokio::test]
    async fn a_broken_connection_is_opened_again_and_the_next_write_succeeds() {
        let dir = tempfile::tempdir().expect("dir");
        let (w, path) = writer(&dir);
        let before: Result<(), RunError<diesel::result::Error>> =
            w.submit(Lane::Staff, |conn| insert(conn, 1)).await;
        assert!(before.is_ok(), "{before:?}");
        // What diesel does after an I/O error it cannot recover from: the connection's
        // transaction state is marked broken, and every later transaction on it fails.
        let breaking: Result<(), RunError<diesel::result::Error>> = w
            .submit(Lane::Staff, |conn| {
                insert(conn, 2)?;
                let conn: &mut DbConnection = conn;
                <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(
                    conn,
                )
                .set_in_error();
                Ok(())
            })
            .await;
        assert!(breaking.is_err(), "the broken group is not acknowledged");
        let after: Result<(), RunError<diesel::result::Error>> =
            w.submit(Lane::Public, |conn| insert(conn, 3)).await;
        assert!(after.is_ok(), "the next write succeeds: {after:?}");
        assert_eq!(values(&path), vec![1, 3]);
    }

    #[tokio::test]
    async fn a_refusal_rolls_back_only_itself() {
        let dir = tempfile::tempdir().expect("dir");
        let (w, path) = writer(&dir);
        let a = w.submit(Lane::Staff, |conn| insert(conn, 1));
        let b = w.submit(Lane::Staff, |conn| {
            insert(conn, 2)?;
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        });
        let c = w.submit(Lane::Staff, |conn| insert(conn, 3));
        let (a, b, c) = tokio::join!(a, b, c);
        assert!(a.is_ok() && c.is_ok(), "{a:?} {c:?}");
        assert!(matches!(b, Err(RunError::Failed(_))), "{b:?}");
        assert_eq!(values(&path), vec![1, 3]);
    }

    #[tokio::test]
    async fn staff_writes_go_first_and_the_public_lane_is_told_busy_instead_of_waiting() {
        let dir = tempfile::tempdir().expect("dir");
        let limits = Limits {
            max_group: 64,
            staff_wait: Duration::from_secs(5),
            public_wait: Duration::from_millis(150),
            public_queue: 1,
        };
        let (w, path) = writer_with(&dir, limits);
        // The writer is busy for 600 ms.
        let blocker = {
            let w = w.clone();
            tokio::spawn(async move {
                w.submit(Lane::Staff, |conn| {
                    std::thread::sleep(Duration::from_millis(600));
                    insert(conn, 1)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued = {
            let w = w.clone();
            tokio::spawn(async move {
                let asked = Instant::now();
                let r = w.submit(Lane::Public, |conn| insert(conn, 2)).await;
                (r, asked.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The public queue holds one: a second is refused at once.
        let asked = Instant::now();
        let full = w.submit(Lane::Public, |conn| insert(conn, 3)).await;
        assert!(matches!(full, Err(RunError::Busy)), "{full:?}");
        assert!(asked.elapsed() < Duration::from_millis(100));
        // A staff write is not refused: it waits its turn and goes first.
        let staff = w.submit(Lane::Staff, |conn| insert(conn, 4));
        let (queued, staff) = tokio::join!(queued, staff);
        let (queued, waited) = queued.expect("task");
        assert!(matches!(queued, Err(RunError::Busy)), "{queued:?}");
        assert!(
            waited < Duration::from_millis(450),
            "told busy after {waited:?}, not when the writer got to it"
        );
        assert!(staff.is_ok(), "{staff:?}");
        assert!(blocker.await.expect("task").is_ok());
        // What was told busy was never written; the rest was.
        assert_eq!(values(&path), vec![1, 4]);
    }
}
