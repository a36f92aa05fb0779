//! Connections, the pool, write transactions and migrations for both backends.
//!
//! The backend comes from the URL scheme (`postgres://` or `postgresql://` → PostgreSQL, else a
//! SQLite file), never by trial, and a connection failure reports the real cause with the host.

pub mod schema;
pub mod types;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseSettings;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        let lower = url.trim().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The SQLite file a URL names (`sqlite://path`, `sqlite:path` or a bare path).
pub fn sqlite_path(url: &str) -> &str {
    let url = url.trim();
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Where a URL points, for messages: `host:port/db` for PostgreSQL (never the password), the
/// file for SQLite.
pub fn describe_url(url: &str) -> String {
    match Backend::of_url(url) {
        Backend::Sqlite => format!("SQLite file {}", sqlite_path(url)),
        Backend::Postgres => {
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
            let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
            let rest = rest.split_once('?').map(|(r, _)| r).unwrap_or(rest);
            let (host, db) = rest.split_once('/').unwrap_or((rest, ""));
            let host = if host.is_empty() {
                "localhost (socket)"
            } else {
                host
            };
            format!("PostgreSQL at {host} (database {db:?})")
        }
    }
}

/// Why [`Db::run`] did not return `f`'s answer.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    /// No connection within `database.connect_timeout_seconds`.
    #[error("no database connection")]
    Unavailable,
    /// The blocking task died (a panic in `f`).
    #[error("database task failed: {0}")]
    Panicked(String),
    #[error(transparent)]
    Failed(E),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("cannot create the folder {0} for the SQLite database: {1}")]
    Folder(PathBuf, std::io::Error),
    #[error("migrations on {target} failed: {cause}")]
    Migrate { target: String, cause: String },
}

/// Opens connections of the backend the URL names, configured for concurrent use.
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
    busy_timeout_ms: u32,
}

impl Manager {
    pub fn new(settings: &DatabaseSettings) -> Self {
        Manager {
            url: settings.url.trim().to_string(),
            backend: Backend::of_url(&settings.url),
            busy_timeout_ms: settings.busy_timeout_ms,
        }
    }

    fn connect_error(&self, cause: impl ToString) -> DbError {
        DbError::Connect {
            target: describe_url(&self.url),
            cause: cause.to_string().trim().to_string(),
        }
    }

    pub fn establish(&self) -> Result<DbConnection, DbError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConnection::Pg)
                .map_err(|e| self.connect_error(e)),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))
                    .map_err(|e| self.connect_error(e))?;
                // One PRAGMA per statement; the busy timeout first, so setting WAL can wait too.
                for pragma in [
                    format!("PRAGMA busy_timeout = {}", self.busy_timeout_ms),
                    "PRAGMA journal_mode = WAL".to_string(),
                    "PRAGMA synchronous = NORMAL".to_string(),
                    "PRAGMA foreign_keys = ON".to_string(),
                ] {
                    conn.batch_execute(&pragma)
                        .map_err(|e| self.connect_error(e))?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.ping().map_err(|e| self.connect_error(e))
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;

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
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(f).await,
            None => self.run_background(move |conn| write_tx(conn, f)).await,
        }
    }

    /// Runs `f` in a write transaction and returns once it is committed.
    ///
    /// SQLite has one writer at a time: pooled connections taking turns through
    /// `busy_timeout` sleep and retry in millisecond steps (where the tails came from). So
    /// SQLite writes go to one writer thread, which takes every write waiting, runs each in
    /// its own savepoint (a refused one rolls back only itself), and commits them together:
    /// one `BEGIN IMMEDIATE … COMMIT` for the group. Each caller hears back only after that
    /// commit. PostgreSQL: [`write_tx`] on a pooled connection (row locks let writers run
    /// side by side).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.submit(f).await,
            None => self.run(move |conn| write_tx(conn, f)).await,
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

/// The PostgreSQL advisory lock key held while migrations run ("madoguchi" in ASCII, cut).
const MIGRATION_LOCK: i64 = 0x6d61_646f_6775_6368;

/// Applies the pending migrations of the connection's backend; returns their names.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    fn names(
        applied: diesel::migration::Result<Vec<diesel::migration::MigrationVersion<'_>>>,
    ) -> Result<Vec<String>, String> {
        applied
            .map(|v| v.iter().map(|m| m.to_string()).collect())
            .map_err(|e| e.to_string())
    }
    match conn {
        DbConnection::Sqlite(c) => {
            // The same on SQLite: under the write lock, which the second waits for
            // (busy_timeout), each migration a savepoint inside.
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
                .map_err(|e| e.to_string())?;
            let applied = names(c.run_pending_migrations(SQLITE_MIGRATIONS));
            let ended = match applied {
                Ok(_) => AnsiTransactionManager::commit_transaction(c),
                Err(_) => AnsiTransactionManager::rollback_transaction(c),
            };
            ended.map_err(|e| e.to_string())?;
            applied
        }
        DbConnection::Pg(c) => {
            // Instances starting together on a fresh database take turns: the second finds
            // nothing left to apply (instead of failing on a table the first just made).
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .map_err(|e| e.to_string())?;
            let applied = names(c.run_pending_migrations(POSTGRES_MIGRATIONS));
            let _ = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            applied
        }
    }
}

/// Reverts every migration (for the up → down → up test and `madoguchi migrate --reset`).
pub fn revert_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
        DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
    };
    reverted
        .map(|v| v.iter().map(|m| m.to_string()).collect())
        .map_err(|e| e.to_string())
}

/// Every write transaction goes through here. On SQLite it opens with `BEGIN IMMEDIATE`, so
/// concurrent writers queue on the busy timeout instead of failing on lock upgrade; on
/// PostgreSQL it is an ordinary transaction (seat rules rely on row locks of conditional
/// updates, not on the isolation level).
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
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
    match conn {
        DbConnection::Sqlite(c) if immediate => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        _ => <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?,
    }
    match f(conn) {
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

/// Serialises transactions that touch the same keys (a person, an address, a day) until commit.
/// PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two transactions
/// cannot deadlock. SQLite: nothing to do, `BEGIN IMMEDIATE` already serialises writers.
pub fn lock_keys(conn: &mut DbConnection, keys: &[&str]) -> diesel::QueryResult<()> {
    advisory_locks(conn, keys, "SELECT pg_advisory_xact_lock($1)")
}

/// Like [`lock_keys`], but shared: shared holders do not wait for each other, only for an
/// exclusive holder (bookings on a day share; closing the day is exclusive).
pub fn lock_keys_shared(conn: &mut DbConnection, keys: &[&str]) -> diesel::QueryResult<()> {
    advisory_locks(conn, keys, "SELECT pg_advisory_xact_lock_shared($1)")
}

/// [`lock_keys_shared`] on `shared` then [`lock_keys`] on `exclusive`, in one statement on
/// PostgreSQL (its select list is evaluated in order, so the order is the same as two calls).
pub fn lock_keys_for(
    conn: &mut DbConnection,
    shared: &[&str],
    exclusive: &[&str],
) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let DbConnection::Pg(pg) = conn else {
        return Ok(());
    };
    let shared = lock_ids(shared);
    let exclusive = lock_ids(exclusive);
    let calls: Vec<String> = shared
        .iter()
        .map(|id| format!("pg_advisory_xact_lock_shared({id})"))
        .chain(
            exclusive
                .iter()
                .map(|id| format!("pg_advisory_xact_lock({id})")),
        )
        .collect();
    if calls.is_empty() {
        return Ok(());
    }
    // The ids are integers computed here, never input: safe to write into the statement.
    diesel::sql_query(format!("SELECT {}", calls.join(", "))).execute(pg)?;
    Ok(())
}

/// Lock ids of keys (the first 60 bits of their SHA-256), sorted, without duplicates or empty
/// keys.
fn lock_ids(keys: &[&str]) -> Vec<i64> {
    let mut ids: Vec<i64> = keys
        .iter()
        .filter(|k| !k.is_empty())
        .map(|k| {
            let hex = crate::tokens::sha256_hex(k.as_bytes());
            i64::from_str_radix(&hex[..15], 16).unwrap_or(0)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn advisory_locks(conn: &mut DbConnection, keys: &[&str], sql: &str) -> diesel::QueryResult<()> {
    let DbConnection::Pg(pg) = conn else {
        return Ok(());
    };
    let ids = lock_ids(keys);
    for id in ids {
        use diesel::RunQueryDsl;
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::BigInt, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

/// The lock key of a counter's day.
pub fn day_key(counter: &str, date: chrono::NaiveDate) -> String {
    format!("day:{counter}:{date}")
}

/// Whether a diesel error is a unique-constraint violation (the same on both backends).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_comes_from_the_scheme() {
        assert_eq!(Backend::of_url("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of_url("postgresql://h/db"), Backend::Postgres);
        assert_eq!(Backend::of_url("var/madoguchi.sqlite3"), Backend::Sqlite);
        assert_eq!(Backend::of_url("sqlite://var/x.db"), Backend::Sqlite);
        assert_eq!(sqlite_path("sqlite://var/x.db"), "var/x.db");
        assert_eq!(sqlite_path("sqlite:var/x.db"), "var/x.db");
    }

    #[test]
    fn messages_name_the_host_but_never_the_password() {
        let d = describe_url("postgres://app:s3cret@db.example:5433/madoguchi?sslmode=require");
        assert_eq!(d, "PostgreSQL at db.example:5433 (database \"madoguchi\")");
        assert!(!d.contains("s3cret"));
    }

    #[test]
    fn an_unreachable_postgres_is_reported_with_its_host() {
        let settings = DatabaseSettings {
            // Port 1 on loopback: nothing listens there.
            url: "postgres://postgres@127.0.0.1:1/madoguchi".into(),
            pool_size: 1,
            connect_timeout_seconds: 2,
            busy_timeout_ms: 100,
            write_group_max: 64,
        };
        let err = Db::connect(&settings)
            .expect_err("nothing listens on port 1")
            .to_string();
        assert!(err.contains("PostgreSQL at 127.0.0.1:1"), "{err}");
        assert!(!err.contains("invalid connection url"), "{err}");
    }
}
