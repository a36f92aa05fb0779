//! The audit log: every staff write, recorded in the transaction of the write, and failed
//! logins. Holds no passwords or tokens.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_log;
use crate::db::DbConnection;

pub const LOGIN_FAILED: &str = "staff.login_failed";
pub const LOGIN_LOCKOUT: &str = "staff.login_lockout";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub staff_login: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip_key: Option<String>,
}

/// One entry: who (`None` for an unknown name at login), did what, to what, with what detail.
pub fn record(
    conn: &mut DbConnection,
    staff: Option<&str>,
    action: &str,
    target: &str,
    detail: Value,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    record_from(conn, staff, action, target, detail, None, now)
}

pub fn record_from(
    conn: &mut DbConnection,
    staff: Option<&str>,
    action: &str,
    target: &str,
    detail: Value,
    ip_key: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let row = AuditRow {
        id: uuid::Uuid::new_v4().to_string(),
        at: now.naive_utc(),
        staff_login: staff.map(str::to_string),
        action: action.to_string(),
        target: target.to_string(),
        detail: detail.to_string(),
        ip_key: ip_key.map(str::to_string),
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}

pub fn list_since(
    conn: &mut DbConnection,
    since: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::at.ge(since.naive_utc()))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// Failed logins since `since` and the latest of them: for one login from one client
/// address, and for the client address whatever the login.
pub fn login_failures_since(
    conn: &mut DbConnection,
    login: &str,
    ip_key: &str,
    since: DateTime<Utc>,
) -> QueryResult<[(i64, Option<DateTime<Utc>>); 2]> {
    let base = || {
        audit_log::table
            .filter(audit_log::action.eq(LOGIN_FAILED))
            .filter(audit_log::at.gt(since.naive_utc()))
            .filter(audit_log::ip_key.eq(ip_key))
    };
    let (pair, latest_pair): (i64, Option<NaiveDateTime>) = base()
        .filter(audit_log::target.eq(login))
        .select((count_star(), max(audit_log::at)))
        .first(conn)?;
    let (by_ip, latest_ip): (i64, Option<NaiveDateTime>) = base()
        .select((count_star(), max(audit_log::at)))
        .first(conn)?;
    Ok([
        (pair, latest_pair.map(|t| t.and_utc())),
        (by_ip, latest_ip.map(|t| t.and_utc())),
    ])
}

/// Keys of audit details that may hold a resident's personal data (staff's free text).
const FREE_TEXT_KEYS: [&str; 2] = ["reason", "override_reason"];

/// Retention: entries written before `before` keep who did what to which reservation, but no
/// free text (a cancellation's or an override's reason may name the resident) and no client
/// address hash.
pub fn erase_personal_data_before(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
) -> QueryResult<u64> {
    let old: Vec<AuditRow> = audit_log::table
        .filter(audit_log::at.lt(before.naive_utc()))
        // A non-null reason is written `"reason":"…"` (serde_json, no spaces); erased ones
        // say "(erased)", so a second run finds nothing more to do.
        .filter(
            audit_log::ip_key.is_not_null().or(audit_log::detail
                .like("%reason\":\"%")
                .and(audit_log::detail.not_like("%(erased)%"))),
        )
        .select(AuditRow::as_select())
        .load(conn)?;
    let mut changed = 0u64;
    for row in old {
        let mut detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut detail {
            for key in FREE_TEXT_KEYS {
                if map.get(key).is_some_and(|v| !v.is_null()) {
                    map.insert(key.to_string(), Value::String("(erased)".into()));
                }
            }
        }
        changed += diesel::update(audit_log::table.find(&row.id))
            .set((
                audit_log::detail.eq(detail.to_string()),
                audit_log::ip_key.eq(None::<String>),
            ))
            .execute(conn)? as u64;
    }
    Ok(changed)
}
