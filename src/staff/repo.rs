use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::Role;
use crate::db::schema::{staff, staff_sessions};
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff)]
pub struct StaffRow {
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the account finished enrolling a second factor (None: it signs in without one).
    pub totp_enrolled_at: Option<NaiveDateTime>,
    /// A kiosk's counter (other roles: None).
    pub counter_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_sessions)]
pub struct SessionRow {
    pub id: String,
    pub token_hash: String,
    pub staff_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// When a request last used the session (noted at most once a minute).
    pub last_seen_at: Option<NaiveDateTime>,
    /// A session of an account that must enrol a second factor first: it may only enrol.
    pub enrol_only: bool,
}

pub(crate) fn insert_staff(conn: &mut DbConnection, row: &StaffRow) -> QueryResult<()> {
    diesel::insert_into(staff::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub(crate) fn find_staff_by_login(
    conn: &mut DbConnection,
    login: &str,
) -> QueryResult<Option<StaffRow>> {
    staff::table
        .filter(staff::login.eq(login))
        .select(StaffRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_staff(conn: &mut DbConnection) -> QueryResult<Vec<StaffRow>> {
    staff::table
        .order(staff::login.asc())
        .select(StaffRow::as_select())
        .load(conn)
}

pub(crate) fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(staff_sessions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A live session (not expired, not revoked) of an enabled account, by token hash.
pub(crate) fn find_live_session(
    conn: &mut DbConnection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<(SessionRow, StaffRow)>> {
    staff_sessions::table
        .inner_join(staff::table)
        .filter(staff_sessions::token_hash.eq(token_hash))
        .filter(staff_sessions::revoked_at.is_null())
        .filter(staff_sessions::expires_at.gt(now.naive_utc()))
        .filter(staff::disabled.eq(false))
        .select((SessionRow::as_select(), StaffRow::as_select()))
        .first(conn)
        .optional()
}

pub(crate) fn revoke_session(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(
        staff_sessions::table
            .find(id)
            .filter(staff_sessions::revoked_at.is_null()),
    )
    .set(staff_sessions::revoked_at.eq(Some(now.naive_utc())))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Revokes an account's sessions but one (a password change, an enrolment).
pub(crate) fn revoke_sessions_except(
    conn: &mut DbConnection,
    staff_id: &str,
    keep: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        staff_sessions::table
            .filter(staff_sessions::staff_id.eq(staff_id))
            .filter(staff_sessions::id.ne(keep))
            .filter(staff_sessions::revoked_at.is_null()),
    )
    .set(staff_sessions::revoked_at.eq(Some(now.naive_utc())))
    .execute(conn)
}

/// Ends an account's oldest live sessions so that at most `keep` stay; how many ended.
pub(crate) fn revoke_oldest_beyond(
    conn: &mut DbConnection,
    staff_id: &str,
    keep: usize,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let live: Vec<String> = staff_sessions::table
        .filter(staff_sessions::staff_id.eq(staff_id))
        .filter(staff_sessions::revoked_at.is_null())
        .filter(staff_sessions::expires_at.gt(now.naive_utc()))
        .order((staff_sessions::created_at.desc(), staff_sessions::id.desc()))
        .select(staff_sessions::id)
        .load(conn)?;
    let old: Vec<&String> = live.iter().skip(keep).collect();
    if old.is_empty() {
        return Ok(0);
    }
    diesel::update(staff_sessions::table.filter(staff_sessions::id.eq_any(old)))
        .set(staff_sessions::revoked_at.eq(Some(now.naive_utc())))
        .execute(conn)
}

/// Notes that a session was used at `now`.
pub(crate) fn touch_session(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(staff_sessions::table.find(id))
        .set(staff_sessions::last_seen_at.eq(Some(now.naive_utc())))
        .execute(conn)
        .map(|_| ())
}

/// Revokes every session of an account (when it is disabled).
pub(crate) fn revoke_sessions_of(
    conn: &mut DbConnection,
    staff_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        staff_sessions::table
            .filter(staff_sessions::staff_id.eq(staff_id))
            .filter(staff_sessions::revoked_at.is_null()),
    )
    .set(staff_sessions::revoked_at.eq(Some(now.naive_utc())))
    .execute(conn)
}

/// Changes an account's role, display name or disabled flag (whichever are given).
pub(crate) fn update_staff(
    conn: &mut DbConnection,
    login: &str,
    (role, counter): (Option<Role>, Option<Option<&str>>),
    display_name: Option<&str>,
    disabled: Option<bool>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let target = staff::table.filter(staff::login.eq(login));
    let touched = diesel::update(target)
        .set((
            role.map(|r| staff::role.eq(r)),
            counter.map(|c| staff::counter_id.eq(c.map(str::to_string))),
            display_name.map(|d| staff::display_name.eq(d.to_string())),
            disabled.map(|d| staff::disabled.eq(d)),
            staff::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(touched == 1)
}

pub(crate) fn set_password_hash(
    conn: &mut DbConnection,
    login: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let touched = diesel::update(staff::table.filter(staff::login.eq(login)))
        .set((
            staff::password_hash.eq(hash),
            staff::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(touched == 1)
}

/// Admin accounts that are enabled (the last one cannot be disabled or demoted).
pub(crate) fn count_enabled_admins(conn: &mut DbConnection) -> QueryResult<i64> {
    staff::table
        .filter(staff::role.eq(Role::Admin))
        .filter(staff::disabled.eq(false))
        .count()
        .get_result(conn)
}
