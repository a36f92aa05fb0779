//! Backups of the SQLite database while the service runs, and restores.
//!
//! A backup is `VACUUM INTO` on a connection of its own: one read transaction, so the copy is
//! the database as it was at one commit (every booking acknowledged before the backup began is
//! in it, none half-written), and in WAL mode a reader never holds up the writer: bookings go
//! on committing while the copy is written. The copy goes to a hidden file beside the
//! destination and is renamed into place once complete, so a backup folder never holds half a
//! file. PostgreSQL is backed up with its own tools (`pg_dump`); this refuses and says how.
//!
//! A restore checks the file first (`PRAGMA integrity_check`, a migration this binary knows),
//! refuses while any process has the database open (each holds a shared lock on
//! `<database>.lock`), then puts it in place of the configured database. It refuses to replace
//! an existing database without `force`, and keeps the replaced file beside it with its WAL
//! (which would otherwise be replayed over the restored one).

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

use super::{describe_url, sqlite_path, Backend, DbConnection, Manager, SQLITE_MIGRATIONS};
use crate::config::DatabaseSettings;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// PostgreSQL: the command to use instead.
    #[error(
        "the database is PostgreSQL ({target}): back it up with its own tools, e.g.\n  {command}"
    )]
    Postgres { target: String, command: String },
    #[error("{0} already exists (give another name, or remove it first)")]
    Exists(PathBuf),
    #[error("{0} already holds a database: stop the service, then restore with --force to replace it (the replaced file is kept beside it)")]
    WouldReplace(PathBuf),
    #[error("{path}: {cause}")]
    File { path: PathBuf, cause: String },
    #[error(
        "{0} is in use (the service, or another command, has it open): stop the service first"
    )]
    InUse(PathBuf),
    #[error("{path} is not a sound madoguchi database: {cause}")]
    Unsound { path: PathBuf, cause: String },
    #[error("{0}")]
    Database(String),
}

/// What a backup or a restore holds.
#[derive(Debug, Clone)]
pub struct Contents {
    pub file: PathBuf,
    pub bytes: u64,
    /// The last migration applied (its version).
    pub migration: String,
    pub reservations: i64,
    pub audit_entries: i64,
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes): migration {}, {} reservation(s), {} audit entries",
            self.file.display(),
            self.bytes,
            self.migration,
            self.reservations,
            self.audit_entries
        )
    }
}

fn file_error(path: &Path, e: impl ToString) -> BackupError {
    BackupError::File {
        path: path.to_path_buf(),
        cause: e.to_string(),
    }
}

fn postgres_only(settings: &DatabaseSettings, command: String) -> Result<(), BackupError> {
    if Backend::of_url(&settings.url) == Backend::Postgres {
        return Err(BackupError::Postgres {
            target: describe_url(&settings.url),
            command,
        });
    }
    Ok(())
}

/// A consistent copy of the configured SQLite database at `to`, taken while the service runs.
pub fn backup(settings: &DatabaseSettings, to: &Path) -> Result<Contents, BackupError> {
    postgres_only(
        settings,
        format!(
            "pg_dump --format=custom --file='{}' \"$DATABASE_URL\"",
            to.display()
        ),
    )?;
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let source = Path::new(sqlite_path(&settings.url));
    if !source.is_file() {
        return Err(file_error(source, "no database here (database.url)"));
    }
    let mut conn = match Manager::new(settings)
        .establish()
        .map_err(|e| BackupError::Database(e.to_string()))?
    {
        DbConnection::Sqlite(c) => c,
        DbConnection::Pg(_) => unreachable!("the URL named SQLite"),
    };
    copy_into(&mut conn, to)?;
    contents(to)
}

/// `VACUUM INTO` a hidden file beside `to`, then the rename: `to` appears whole or not at all.
pub(crate) fn copy_into(conn: &mut SqliteConnection, to: &Path) -> Result<(), BackupError> {
    let dir = match to.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
    let name = to
        .file_name()
        .ok_or_else(|| file_error(to, "not a file name"))?
        .to_string_lossy()
        .to_string();
    let partial = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_file(&partial);
    let quoted = partial.display().to_string().replace('\'', "''");
    conn.batch_execute(&format!("VACUUM INTO '{quoted}'"))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            BackupError::Database(format!("the copy failed: {e}"))
        })?;
    sync(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| file_error(to, e))?;
    sync_dir(&dir);
    Ok(())
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| file_error(path, e))
}

/// The rename itself on the disk (best effort: not every file system syncs a folder).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[derive(diesel::QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Checks a database file (integrity, a migration this binary knows) and says what it holds.
pub(crate) fn contents(path: &Path) -> Result<Contents, BackupError> {
    let unsound = |cause: String| BackupError::Unsound {
        path: path.to_path_buf(),
        cause,
    };
    let bytes = std::fs::metadata(path)
        .map_err(|e| file_error(path, e))?
        .len();
    // Read only: checking a file must not change it (it exists: its size was read above).
    let mut conn = SqliteConnection::establish(&path.display().to_string())
        .map_err(|e| unsound(e.to_string()))?;
    conn.batch_execute("PRAGMA query_only = ON")
        .map_err(|e| unsound(e.to_string()))?;
    let checks: Vec<Text> =
        diesel::sql_query("SELECT integrity_check AS value FROM pragma_integrity_check")
            .load(&mut conn)
            .map_err(|e| unsound(e.to_string()))?;
    let verdict: Vec<String> = checks.into_iter().map(|t| t.value).collect();
    if verdict != ["ok"] {
        return Err(unsound(format!("integrity check: {}", verdict.join("; "))));
    }
    let migration = diesel::sql_query(
        "SELECT CAST(MAX(version) AS TEXT) AS value FROM __diesel_schema_migrations",
    )
    .get_result::<Text>(&mut conn)
    .map_err(|e| unsound(format!("no migrations recorded ({e})")))?
    .value;
    let known: Vec<String> =
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .map_err(|e| BackupError::Database(e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
    if !known.contains(&migration) {
        return Err(unsound(format!(
            "its last migration {migration} is not one this madoguchi knows (a newer version made it?)"
        )));
    }
    let mut count = |table: &str| -> Result<i64, BackupError> {
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<Count>(&mut conn)
            .map(|c| c.n)
            .map_err(|e| unsound(e.to_string()))
    };
    Ok(Contents {
        file: path.to_path_buf(),
        bytes,
        migration,
        reservations: count("reservations")?,
        audit_entries: count("audit_log")?,
    })
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub contents: Contents,
    /// Where the replaced database was kept, if there was one.
    pub replaced: Option<PathBuf>,
}

/// Puts the backup `from` in place of the configured SQLite database (the service stopped).
pub fn restore(
    settings: &DatabaseSettings,
    from: &Path,
    force: bool,
) -> Result<Restored, BackupError> {
    postgres_only(
        settings,
        format!(
            "pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" '{}'",
            from.display()
        ),
    )?;
    contents(from)?;
    let target = PathBuf::from(sqlite_path(&settings.url));
    let exists = target.exists();
    if exists && !force {
        return Err(BackupError::WouldReplace(target));
    }
    let lock = alone_with(&target)?;
    let dir = match target.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
    let name = target
        .file_name()
        .ok_or_else(|| file_error(&target, "not a file name"))?
        .to_string_lossy()
        .to_string();
    let incoming = dir.join(format!(".{name}.restoring"));
    std::fs::copy(from, &incoming).map_err(|e| file_error(&incoming, e))?;
    sync(&incoming)?;
    let mut replaced = None;
    if exists {
        // The first free name: an earlier restore's kept file stays.
        let kept = (1..)
            .map(|n| match n {
                1 => dir.join(format!("{name}.replaced")),
                n => dir.join(format!("{name}.replaced-{n}")),
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| dir.join(format!("{name}.replaced")));
        std::fs::rename(&target, &kept).map_err(|e| file_error(&kept, e))?;
        // Its log goes with it (it may hold its last commits; SQLite replays a file's
        // `-wal` when that file is opened); left here it would be replayed over the restored
        // one. The shared-memory index is rebuilt from the log.
        let wal = dir.join(format!("{name}-wal"));
        if wal.exists() {
            let mut kept_wal = kept.as_os_str().to_owned();
            kept_wal.push("-wal");
            std::fs::rename(&wal, PathBuf::from(kept_wal)).map_err(|e| file_error(&wal, e))?;
        }
        replaced = Some(kept);
    }
    for suffix in ["-wal", "-shm"] {
        let side = dir.join(format!("{name}{suffix}"));
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| file_error(&side, e))?;
        }
    }
    std::fs::rename(&incoming, &target).map_err(|e| file_error(&target, e))?;
    sync_dir(&dir);
    drop(lock);
    Ok(Restored {
        contents: contents(&target)?,
        replaced,
    })
}

/// The database's `.lock` held alone: every process that opens the file holds it shared
/// (`Db::connect`), so this fails while the service (or a command) has it open.
fn alone_with(target: &Path) -> Result<std::fs::File, BackupError> {
    let lock_file = super::pool::lock_path(target);
    if let Some(dir) = lock_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_file)
        .map_err(|e| file_error(&lock_file, e))?;
    if lock.try_lock().is_err() {
        return Err(BackupError::InUse(target.to_path_buf()));
    }
    Ok(lock)
}

/// Scheduled backups: a copy named after `stamp` in `dir`, and only the newest `keep` of them
/// kept (by name, which sorts as time does). Returns the copy and how many old ones went.
pub(crate) fn scheduled(
    conn: &mut DbConnection,
    dir: &Path,
    stamp: &str,
    keep: usize,
) -> Result<(PathBuf, usize), BackupError> {
    let DbConnection::Sqlite(c) = conn else {
        return Err(BackupError::Database(
            "scheduled backups are for SQLite; back PostgreSQL up with pg_dump".into(),
        ));
    };
    let to = dir.join(format!("madoguchi-{stamp}.sqlite3"));
    if !to.exists() {
        copy_into(c, &to)?;
    }
    let mut ours: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| file_error(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("madoguchi-") && n.ends_with(".sqlite3"))
        })
        .collect();
    ours.sort();
    let mut removed = 0;
    while ours.len() > keep.max(1) {
        let old = ours.remove(0);
        std::fs::remove_file(&old).map_err(|e| file_error(&old, e))?;
        removed += 1;
    }
    Ok((to, removed))
}
