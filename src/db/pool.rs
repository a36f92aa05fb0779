//! [`Db`]: the pool, its lanes, and on SQLite the writer, as the service uses them.
//!
//! Two lanes share the database. The public lane (residents' requests) has `pool_size`
//! connections and waits for its turn at most `public_wait_ms`, with at most
//! `public_queue_max` requests waiting: beyond either, [`RunError::Busy`] at once (503
//! `busy`), never a request left to time out. The staff lane (phone, desk, administration,
//! the waiting-room screens, and the service's own background work) has `staff_pool_size`
//! connections of its own, goes first in the SQLite writer's queue and is never busy. Which
//! lane a request is in is said once, by the HTTP layer ([`in_lane`]); work outside any
//! request is the staff lane's.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2;

use super::lane::{current_lane, Lane};
use super::tx::{DayChanged, Listeners};
use super::writer;
use super::Tx;
use super::{
    describe_url, run_migrations, sqlite_path, Backend, DbConnection, DbError, Manager, Pool,
    RunError,
};
use crate::config::DatabaseSettings;

/// A lane's connections: one permit each, and how long and how many may wait for one.
struct Permits {
    permits: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    wait: Duration,
    /// Beyond this many waiting, busy at once (None: wait, then unavailable).
    max_waiting: Option<usize>,
}

impl Permits {
    async fn acquire<E>(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RunError<E>> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        let _left = Leave(&self.waiting);
        if self.max_waiting.is_some_and(|max| waiting > max) {
            return Err(RunError::Busy);
        }
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ if self.max_waiting.is_some() => Err(RunError::Busy),
            _ => {
                tracing::warn!("no database connection within the wait");
                Err(RunError::Unavailable)
            }
        }
    }
}

/// Counts a waiter out when it stops waiting, however it stops.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The pool plus what the app needs to know about the database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    target: String,
    /// SQLite: the one connection that commits the service's writes, in groups.
    writer: Option<writer::Writer>,
    /// Per lane, one permit per connection: a request waits for its turn here, without a
    /// thread, so only as many blocking threads run database work as there are connections.
    public: Arc<Permits>,
    staff: Arc<Permits>,
    listeners: Arc<Listeners>,
    manager: Manager,
    /// SQLite: a shared lock on `<database>.lock` while this process uses the file, so that
    /// `madoguchi restore` (which needs it alone) refuses while the service runs.
    _in_use: Option<Arc<std::fs::File>>,
}

/// The SQLite file's folder made, and the shared lock on its `.lock` taken (a restore, which
/// needs it alone, refuses while it is held; one under way stops this start).
fn sqlite_in_use(manager: &Manager) -> Result<Arc<std::fs::File>, DbError> {
    let path = Path::new(sqlite_path(&manager.url));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DbError::Folder(dir.to_path_buf(), e))?;
    }
    let lock = lock_path(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| manager.connect_error(format!("{}: {e}", lock.display())))?;
    file.try_lock_shared().map_err(|_| {
        manager.connect_error("a restore is replacing the database (madoguchi restore)")
    })?;
    Ok(Arc::new(file))
}

/// The lock file beside a SQLite database.
pub(crate) fn lock_path(database: &Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    std::path::PathBuf::from(name)
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .finish()
    }
}

impl Db {
    /// Connects (creating a SQLite file's folder), checks one connection for a clear error,
    /// then builds the pool.
    pub fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
        let manager = Manager::new(settings);
        let in_use = match manager.backend {
            Backend::Sqlite => Some(sqlite_in_use(&manager)?),
            Backend::Postgres => None,
        };
        // A first connection reports the real cause (refused, unknown host, bad password).
        drop(manager.establish()?);
        let staff_size = settings.staff_pool_size.max(1);
        let pool = r2d2::Pool::builder()
            // The lanes' connections, and one more: background work (the mail worker) always
            // finds one, however many requests queue at noon.
            .max_size(
                settings
                    .pool_size
                    .saturating_add(staff_size)
                    .saturating_add(1),
            )
            // No idle connections kept by a background thread: connections are made on demand
            // in the caller's thread. A pool thread inside libpq/OpenSSL when the process exits
            // can crash OpenSSL's exit handler (diesel #3441).
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(settings.connect_timeout_seconds.max(1)))
            .build(manager.clone())
            .map_err(|e| manager.connect_error(e))?;
        let listeners = Arc::new(Listeners::default());
        let public_wait = Duration::from_millis(settings.public_wait_ms.max(1));
        let writer = match manager.backend {
            Backend::Sqlite => Some(writer::Writer::start(
                manager.establish()?,
                {
                    let manager = manager.clone();
                    Box::new(move || manager.establish().map_err(|e| e.to_string()))
                },
                writer::Limits {
                    max_group: settings.write_group_max.max(1) as usize,
                    staff_wait: Duration::from_secs(settings.connect_timeout_seconds.max(1)),
                    public_wait,
                    public_queue: settings.public_queue_max.max(1) as usize,
                },
                listeners.clone(),
            )),
            Backend::Postgres => None,
        };
        let permits = |size: u32, wait: Duration, max_waiting: Option<usize>| {
            Arc::new(Permits {
                permits: Arc::new(tokio::sync::Semaphore::new(size.max(1) as usize)),
                waiting: AtomicUsize::new(0),
                wait,
                max_waiting,
            })
        };
        Ok(Db {
            pool,
            backend: manager.backend,
            target: describe_url(&manager.url),
            writer,
            public: permits(
                settings.pool_size,
                public_wait,
                Some(settings.public_queue_max.max(1) as usize),
            ),
            staff: permits(
                staff_size,
                Duration::from_secs(settings.connect_timeout_seconds.max(1)),
                None,
            ),
            listeners,
            manager,
            _in_use: in_use,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// Makes connections of its own, outside the pool (for a watcher that keeps one open
    /// and outlives nothing: it holds no pool).
    pub(crate) fn connector(&self) -> impl Fn() -> Result<DbConnection, DbError> + Send + 'static {
        let manager = self.manager.clone();
        move || manager.establish()
    }

    /// Tells `listener` of the days every committed write changes, before the writer hears
    /// back (a commit is shown at once to the next read in this process).
    pub(crate) fn on_days_changed(&self, listener: impl Fn(&[DayChanged]) + Send + Sync + 'static) {
        self.listeners.add(Box::new(listener));
    }

    /// A pooled connection, for the command line and tests that hold one.
    pub fn get(
        &self,
    ) -> Result<impl std::ops::DerefMut<Target = DbConnection>, RunError<std::convert::Infallible>>
    {
        self.pool.get().map_err(|e| {
            tracing::warn!(error = %e, "no database connection");
            RunError::Unavailable
        })
    }

    fn permits(&self) -> &Permits {
        match current_lane() {
            Lane::Public => &self.public,
            Lane::Staff => &self.staff,
        }
    }

    /// Runs `f` with a pooled connection on the blocking pool, inside the caller's span and
    /// lane, so diesel never blocks an async worker. `f`'s own error comes back as
    /// `RunError::Failed`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let permit = self.permits().acquire().await?;
        self.blocking(Some(permit), f).await
    }

    /// `f` on the blocking pool with a pooled connection, holding `permit` (if any) until done.
    async fn blocking<T, E, F>(
        &self,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        f: F,
    ) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let db = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _entered = span.enter();
            let mut conn = db.pool.get().map_err(|e| {
                tracing::warn!(error = %e, "no database connection");
                RunError::Unavailable
            })?;
            f(&mut conn).map_err(RunError::Failed)
        })
        .await
        .map_err(|e| RunError::Panicked(e.to_string()))?
    }

    /// [`Db::run`] for background work, past the lanes' queues: the pool keeps one connection
    /// beyond their permits, so the mail worker is not starved by a rush of requests (it was:
    /// verification mail waited for the whole burst on PostgreSQL).
    pub async fn run_background<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.blocking(None, f).await
    }

    /// [`Db::write`] for background work (see [`Db::run_background`]).
    pub async fn write_background<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(Lane::Staff, f).await,
            None => {
                let (value, changed) = self
                    .run_background(move |conn| Tx::run_noting(conn, f))
                    .await?;
                self.listeners.tell(&changed);
                Ok(value)
            }
        }
    }

    /// Runs `f` in a write transaction and returns once it is committed.
    ///
    /// SQLite has one writer at a time: pooled connections taking turns through
    /// `busy_timeout` sleep and retry in millisecond steps (where the tails came from). So
    /// SQLite writes go to one writer thread, which takes every write waiting (the staff
    /// lane's first), runs each in its own savepoint (a refused one rolls back only itself),
    /// and commits them together: one `BEGIN IMMEDIATE … COMMIT` for the group. Each caller
    /// hears back only after that commit. PostgreSQL: a transaction ([`Tx::run`]) on a pooled
    /// connection of the caller's lane (row locks let writers run side by side).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(current_lane(), f).await,
            None => {
                let (value, changed) = self.run(move |conn| Tx::run_noting(conn, f)).await?;
                self.listeners.tell(&changed);
                Ok(value)
            }
        }
    }

    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self.pool.get().map_err(|e| DbError::Connect {
            target: self.target.clone(),
            cause: e.to_string(),
        })?;
        run_migrations(&mut conn).map_err(|cause| DbError::Migrate {
            target: self.target.clone(),
            cause,
        })
    }
}
