//! [`Db`]: the pool, its permits, and on SQLite the writer, as the service uses them.

use std::path::Path;
use std::time::Duration;

use diesel::r2d2;

use super::writer;
use super::Tx;
use super::{
    describe_url, run_migrations, sqlite_path, Backend, DbConnection, DbError, Manager, Pool,
    RunError,
};
use crate::config::DatabaseSettings;

/// The pool plus what the app needs to know about the database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    target: String,
    /// SQLite: the one connection that commits the service's writes, in groups.
    writer: Option<writer::Writer>,
    /// One per pooled connection: a request waits for its turn here, without a thread, so
    /// only as many blocking threads run database work as there are connections (hundreds
    /// of threads parked in the pool's wait were most of the rush's memory).
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    wait: Duration,
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
        if manager.backend == Backend::Sqlite {
            let path = Path::new(sqlite_path(&manager.url));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| DbError::Folder(dir.to_path_buf(), e))?;
            }
        }
        // A first connection reports the real cause (refused, unknown host, bad password).
        drop(manager.establish()?);
        let pool = r2d2::Pool::builder()
            // One connection more than the requests may hold at once: background work (the
            // mail worker) always finds one, however many requests queue at noon.
            .max_size(settings.pool_size.saturating_add(1))
            // No idle connections kept by a background thread: connections are made on demand
            // in the caller's thread. A pool thread inside libpq/OpenSSL when the process exits
            // can crash OpenSSL's exit handler (diesel #3441).
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(settings.connect_timeout_seconds.max(1)))
            .build(manager.clone())
            .map_err(|e| manager.connect_error(e))?;
        let writer = match manager.backend {
            Backend::Sqlite => Some(writer::Writer::start(
                manager.establish()?,
                settings.write_group_max.max(1) as usize,
                Duration::from_secs(settings.connect_timeout_seconds.max(1)),
            )),
            Backend::Postgres => None,
        };
        Ok(Db {
            pool,
            backend: manager.backend,
            target: describe_url(&manager.url),
            writer,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(settings.pool_size as usize)),
            wait: Duration::from_secs(settings.connect_timeout_seconds.max(1)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn get(
        &self,
    ) -> Result<r2d2::PooledConnection<Manager>, RunError<std::convert::Infallible>> {
        self.pool.get().map_err(|e| {
            tracing::warn!(error = %e, "no database connection");
            RunError::Unavailable
        })
    }

    /// Runs `f` with a pooled connection on the blocking pool, inside the caller's span, so
    /// diesel never blocks an async worker. `f`'s own error comes back as `RunError::Failed`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    tracing::warn!("no database connection within the wait");
                    return Err(RunError::Unavailable);
                }
            };
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

    /// [`Db::run`] for background work, past the requests' queue: the pool keeps one
    /// connection beyond their permits, so the mail worker is not starved by a rush of
    /// requests (it was: verification mail waited for the whole burst on PostgreSQL).
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
            Some(writer) => writer.submit(f).await,
            None => self.run_background(move |conn| Tx::run(conn, f)).await,
        }
    }

    /// Runs `f` in a write transaction and returns once it is committed.
    ///
    /// SQLite has one writer at a time: pooled connections taking turns through
    /// `busy_timeout` sleep and retry in millisecond steps (where the tails came from). So
    /// SQLite writes go to one writer thread, which takes every write waiting, runs each in
    /// its own savepoint (a refused one rolls back only itself), and commits them together:
    /// one `BEGIN IMMEDIATE … COMMIT` for the group. Each caller hears back only after that
    /// commit. PostgreSQL: a transaction ([`Tx::run`]) on a pooled connection (row locks let writers run
    /// side by side).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(f).await,
            None => self.run(move |conn| Tx::run(conn, f)).await,
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
