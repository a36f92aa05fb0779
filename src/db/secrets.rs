//! Secrets the service makes for itself (the key of client-address hashes): made at the first
//! start, kept in the database, so every instance on it uses the same one.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::secrets;
use super::{DbConnection, Tx};

/// The secret `name`, made now (256 random bits) if there is none yet. Two instances starting
/// together agree: the second insert is ignored and both read the first.
pub(crate) fn secret(
    conn: &mut DbConnection,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    Tx::run(conn, |tx| {
        let value = crate::tokens::new_secret();
        let row = (
            secrets::name.eq(name),
            secrets::value.eq(&value),
            secrets::created_at.eq(now.naive_utc()),
        );
        match &mut **tx {
            DbConnection::Sqlite(c) => diesel::insert_into(secrets::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)?,
            DbConnection::Pg(c) => diesel::insert_into(secrets::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
        secrets::table
            .find(name)
            .select(secrets::value)
            .first::<String>(&mut **tx)
    })
}
