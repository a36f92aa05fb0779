//! Connections, the pool, write transactions and migrations for both backends.
//!
//! The backend comes from the URL scheme (`postgres://` or `postgresql://` → PostgreSQL, else a
//! SQLite file), never by trial, and a connection failure reports the real cause with the host.

pub(crate) mod backup;
pub(crate) mod chain;
mod lane;
mod locks;
mod pool;
pub(crate) mod schema;
mod secrets;
mod tx;
mod types;
pub(crate) use types::text_enum;
mod writer;

pub(crate) use lane::{in_lane, Lane};
pub(crate) use locks::{lock, Lock, Mode};
pub use pool::Db;
pub(crate) use secrets::secret;
pub use tx::Tx;

use std::path::PathBuf;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseSettings;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, DbConnection::Pg(_))
    }
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
pub(crate) fn sqlite_path(url: &str) -> &str {
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
    /// A public request that could not have its turn in time (`database.public_wait_ms`,
    /// `database.public_queue_max`): answered at once, to be tried again.
    #[error("the database is busy")]
    Busy,
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
pub(crate) struct Manager {
    url: String,
    backend: Backend,
    busy_timeout_ms: u32,
    synchronous: crate::config::Synchronous,
}

impl Manager {
    pub(crate) fn new(settings: &DatabaseSettings) -> Self {
        Manager {
            url: settings.url.trim().to_string(),
            backend: Backend::of_url(&settings.url),
            busy_timeout_ms: settings.busy_timeout_ms,
            synchronous: settings.sqlite_synchronous,
        }
    }

    fn connect_error(&self, cause: impl ToString) -> DbError {
        DbError::Connect {
            target: describe_url(&self.url),
            cause: cause.to_string().trim().to_string(),
        }
    }

    pub(crate) fn establish(&self) -> Result<DbConnection, DbError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConnection::Pg)
                .map_err(|e| self.connect_error(e)),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))
                    .map_err(|e| self.connect_error(e))?;
                // One PRAGMA per statement; the busy timeout first, so setting WAL can wait too.
                conn.batch_execute(&format!("PRAGMA busy_timeout = {}", self.busy_timeout_ms))
                    .map_err(|e| self.connect_error(e))?;
                self.enter_wal(&mut conn)?;
                for pragma in [self.synchronous.pragma(), "PRAGMA foreign_keys = ON"] {
                    conn.batch_execute(pragma)
                        .map_err(|e| self.connect_error(e))?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl Manager {
    /// `journal_mode = WAL`, retried for up to the busy timeout: on a new file that others open
    /// at the same moment, the switch can answer "database is locked" at once, without waiting
    /// on the busy timeout (seen with four instances starting together). Once one connection
    /// has switched, the file stays in WAL and the others find it so.
    fn enter_wal(&self, conn: &mut SqliteConnection) -> Result<(), DbError> {
        let deadline = std::time::Instant::now()
            + std::time::Duration::from_millis(u64::from(self.busy_timeout_ms));
        loop {
            match conn.batch_execute("PRAGMA journal_mode = WAL") {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.to_string().contains("locked") && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(self.connect_error(e)),
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

pub(crate) type Pool = r2d2::Pool<Manager>;

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

/// Reverts the newest migration (`madoguchi migrate --revert-last`); returns its version.
pub fn revert_last_migration(conn: &mut DbConnection) -> Result<String, String> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
        DbConnection::Pg(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
    };
    reverted.map(|v| v.to_string()).map_err(|e| e.to_string())
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

/// Whether another connection may have committed since `last` (which is updated): on SQLite
/// `PRAGMA data_version` of this connection changed; on PostgreSQL always (no such counter).
pub(crate) fn others_committed(conn: &mut DbConnection, last: &mut Option<i64>) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        data_version: i64,
    }
    use diesel::RunQueryDsl;
    match conn {
        DbConnection::Pg(_) => true,
        DbConnection::Sqlite(_) => {
            let now = diesel::sql_query("PRAGMA data_version")
                .get_result::<Version>(conn)
                .map(|v| v.data_version)
                .ok();
            let changed = now.is_none() || now != *last;
            *last = now;
            changed
        }
    }
}

/// Whether a diesel error is a unique-constraint violation (the same on both backends).
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
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
            staff_pool_size: 1,
            public_wait_ms: 1000,
            public_queue_max: 16,
            sqlite_synchronous: Default::default(),
        };
        let err = Db::connect(&settings)
            .expect_err("nothing listens on port 1")
            .to_string();
        assert!(err.contains("PostgreSQL at 127.0.0.1:1"), "{err}");
        assert!(!err.contains("invalid connection url"), "{err}");
    }
}
