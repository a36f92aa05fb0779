//! Accounts, logins and sessions.

use chrono::{DateTime, Duration, Utc};

use super::audit::{self, Change, Detail};
use super::passwords::{check_policy, hash_password, verify_against_dummy, verify_password};
use super::repo::{self, SessionRow, StaffRow};
use super::{Role, StaffUser};
use crate::config::StaffSettings;
use crate::db::{is_unique_violation, lock, DbConnection, Lock, Mode, Tx};
use crate::error::{FieldError, FieldProblem, Invalid};
use crate::text::{contains_individual_number, parse_name};
use crate::tokens::{hash_token, new_token};

/// What account, login and session operations refuse.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("that login is taken")]
    LoginTaken,
    #[error("no such staff account")]
    NotFound,
    #[error("the last enabled administrator must stay")]
    LastAdmin,
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("too many failed logins; free again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("not signed in")]
    Unauthenticated,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub(crate) const LOGIN_MIN: usize = 3;
pub(crate) const LOGIN_MAX: usize = 40;
pub(crate) const DISPLAY_NAME_MAX: usize = 50;

/// A new account as typed by an administrator (or on the command line).
pub struct NewStaff {
    pub login: String,
    pub display_name: String,
    pub role: String,
    pub password: String,
}

pub(crate) struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub role: Role,
    pub display_name: String,
}

/// A staff member's name as shown in the console and the audit log.
fn parse_display_name(raw: &str) -> Result<String, FieldProblem> {
    parse_name(raw, DISPLAY_NAME_MAX)
}

/// A login: a restricted identifier (it is shown in the audit log and logs), and never a
/// place for an individual number.
fn parse_login(raw: &str) -> Result<String, FieldProblem> {
    let login = raw.trim().to_ascii_lowercase();
    if contains_individual_number(&login) {
        return Err(FieldProblem::IndividualNumber);
    }
    if valid_login(&login) {
        Ok(login)
    } else {
        Err(FieldProblem::NotIdentifier {
            min: LOGIN_MIN,
            max: LOGIN_MAX,
        })
    }
}

/// What the audit log and the server's log say of a login typed at a failed sign-in: the login
/// when it could be one, else only how long it was (a stranger's typing is not stored: not an
/// individual number, not 60,000 characters, not a line break or a direction override).
pub(crate) fn login_as_typed(typed: &str) -> String {
    let login = typed.trim().to_ascii_lowercase();
    if valid_login(&login) && !contains_individual_number(&login) {
        login
    } else {
        format!("(not a login: {} characters)", typed.chars().count())
    }
}

fn valid_login(login: &str) -> bool {
    (LOGIN_MIN..=LOGIN_MAX).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Checks and hashes a new account (the slow part, outside any transaction).
pub fn prepare_staff(
    input: NewStaff,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<StaffRow, StaffError> {
    let mut errors = Vec::new();
    let login = match parse_login(&input.login) {
        Ok(l) => l,
        Err(p) => {
            errors.push(FieldError::new("login", p));
            String::new()
        }
    };
    let role = input.role.parse::<Role>();
    if role.is_err() {
        errors.push(FieldError::new("role", FieldProblem::OneOf(Role::STRINGS)));
    }
    let display_name = match parse_display_name(&input.display_name) {
        Ok(d) => d,
        Err(p) => {
            errors.push(FieldError::new("display_name", p));
            String::new()
        }
    };
    if let Err(p) = check_policy(&input.password, &login, settings.password_min_length) {
        errors.push(FieldError::new("password", p));
    }
    let (Ok(role), true) = (role, errors.is_empty()) else {
        return Err(Invalid::fields(errors).into());
    };
    let password_hash = hash_password(&input.password, settings).map_err(anyhow::Error::msg)?;
    Ok(StaffRow {
        id: uuid::Uuid::new_v4().to_string(),
        login,
        display_name,
        role,
        password_hash,
        disabled: false,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    })
}

/// Stores a prepared account, audited as `actor`'s write. 409 `login_taken`.
pub fn create_staff(
    conn: &mut Tx<'_>,
    row: StaffRow,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<StaffRow, StaffError> {
    if repo::find_staff_by_login(conn, &row.login)?.is_some() {
        return Err(StaffError::LoginTaken);
    }
    repo::insert_staff(conn, &row).map_err(|e| {
        if is_unique_violation(&e) {
            StaffError::LoginTaken
        } else {
            e.into()
        }
    })?;
    audit::record(
        conn,
        Some(actor),
        &row.login,
        &Detail::StaffCreated {
            role: row.role.as_str(),
            display_name: &row.display_name,
        },
        now,
    )?;
    Ok(row)
}

/// How long a client must wait after `failures` recent failures, the latest at `latest`:
/// nothing up to `free` failures, then `base` seconds doubling with each further failure, up to
/// `max`. None when it may try now.
pub(crate) fn login_wait(
    failures: i64,
    latest: Option<DateTime<Utc>>,
    free: u32,
    base_s: u32,
    max_s: u32,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let over = failures - i64::from(free);
    let latest = latest?;
    if over < 0 {
        return None;
    }
    let exp = u32::try_from(over).unwrap_or(u32::MAX).min(20);
    let delay = u64::from(base_s)
        .saturating_mul(1u64 << exp)
        .min(u64::from(max_s));
    let free_at = latest + Duration::seconds(i64::try_from(delay).unwrap_or(i64::MAX / 2));
    (free_at > now).then(|| free_at - now)
}

/// Signs in, step one, on a read connection (the password hash is checked outside any write
/// transaction): throttled per (login, client address) and per client address, so wrong
/// passwords typed elsewhere cannot lock the owner out of their own desk; a login is throttled
/// from everywhere only when failures for it come from `staff.login_lockout_addresses`
/// different addresses (an attack spread over many addresses, which no single address's
/// limit would stop; a stranger with one address, or a few, cannot cause it). Past
/// `staff.login_max_failures` failures in the window the client waits
/// `staff.login_delay_base_seconds`, doubling with each further failure (up to
/// `login_delay_max_seconds`); while it waits, attempts are refused (429) unchecked. Step two is
/// [`start_session`] or [`record_failed_login`]: every failure, every lockout and every
/// success is in the audit log.
pub(crate) fn check_login(
    conn: &mut DbConnection,
    login: &str,
    password: &str,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<LoginCheck, StaffError> {
    let login = login_as_typed(login);
    let window = Duration::minutes(i64::from(settings.login_window_minutes));
    let [pair, by_ip, everywhere] =
        audit::login_failures_since(conn, &login, ip_key, now - window)?;
    let limits = [
        (pair, settings.login_max_failures),
        (by_ip, settings.login_max_failures_per_ip),
        (everywhere, settings.login_lockout_addresses),
    ];
    for ((failures, latest), free) in limits {
        if let Some(wait) = login_wait(
            failures,
            latest,
            free,
            settings.login_delay_base_seconds,
            settings.login_delay_max_seconds,
            now,
        ) {
            let retry_after_s = u64::try_from(wait.num_seconds().max(1)).unwrap_or(1);
            return Err(StaffError::RateLimited { retry_after_s });
        }
    }
    let account = repo::find_staff_by_login(conn, &login)?;
    let ok = match &account {
        Some(a) if !a.disabled => verify_password(password, &a.password_hash),
        _ => {
            verify_against_dummy(password, settings);
            false
        }
    };
    Ok(match (ok, account) {
        (true, Some(a)) => LoginCheck::Verified(Box::new(a)),
        _ => LoginCheck::Failed { login },
    })
}

/// What [`check_login`] found.
pub(crate) enum LoginCheck {
    Verified(Box<StaffRow>),
    /// The login (normalised) whose password was wrong, or that is unknown or disabled.
    Failed {
        login: String,
    },
}

/// Records a failed sign-in (and the lockout it starts or lengthens); the caller answers
/// `invalid_credentials` once this is committed.
pub(crate) fn record_failed_login(
    conn: &mut Tx<'_>,
    login: &str,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let window = Duration::minutes(i64::from(settings.login_window_minutes));
    // Serialise failures per client address so concurrent guesses are all counted.
    lock(conn, &[(Mode::Exclusive, Lock::LoginAddress(ip_key))])?;
    audit::record_from(
        conn,
        None,
        login,
        &Detail::LoginFailed {},
        Some(ip_key),
        now,
    )?;
    // This failure starts (or lengthens) a wait: a lockout, audited as such.
    let [pair, by_ip, everywhere] = audit::login_failures_since(conn, login, ip_key, now - window)?;
    for (scope, (failures, latest), free) in [
        ("login_and_address", pair, settings.login_max_failures),
        ("address", by_ip, settings.login_max_failures_per_ip),
        (
            "login_from_many_addresses",
            everywhere,
            settings.login_lockout_addresses,
        ),
    ] {
        if let Some(wait) = login_wait(
            failures,
            latest,
            free,
            settings.login_delay_base_seconds,
            settings.login_delay_max_seconds,
            now,
        ) {
            audit::record_from(
                conn,
                None,
                login,
                &Detail::LoginLockout {
                    scope,
                    failures,
                    wait_seconds: wait.num_seconds(),
                },
                Some(ip_key),
                now,
            )?;
        }
    }
    // Debug-formatted: a login with a line break cannot forge a log line.
    tracing::warn!(staff.login = ?login, "failed staff login");
    Ok(())
}

/// A verified sign-in's session, audited.
pub(crate) fn start_session(
    conn: &mut Tx<'_>,
    account: &StaffRow,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<Session, StaffError> {
    let token = new_token();
    let expires_at = now + Duration::hours(i64::from(settings.session_hours));
    repo::insert_session(
        conn,
        &SessionRow {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: hash_token(&token),
            staff_id: account.id.clone(),
            created_at: now.naive_utc(),
            expires_at: expires_at.naive_utc(),
            revoked_at: None,
        },
    )?;
    audit::record_from(
        conn,
        Some(&account.login),
        &account.login,
        &Detail::LoggedIn {},
        Some(ip_key),
        now,
    )?;
    Ok(Session {
        token,
        expires_at,
        role: account.role,
        display_name: account.display_name.clone(),
    })
}

/// The signed-in staff member a bearer token names; 401 when none (expired, revoked, disabled).
pub(crate) fn authenticate(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<StaffUser, StaffError> {
    let (session, staff) = repo::find_live_session(conn, &hash_token(token), now)?
        .ok_or(StaffError::Unauthenticated)?;
    let role = staff.role;
    Ok(StaffUser {
        login: staff.login,
        display_name: staff.display_name,
        role,
        session_id: session.id,
    })
}

pub(crate) fn logout(
    conn: &mut Tx<'_>,
    user: &StaffUser,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    repo::revoke_session(conn, &user.session_id, now)?;
    audit::record(
        conn,
        Some(&user.login),
        &user.login,
        &Detail::LoggedOut {},
        now,
    )?;
    Ok(())
}

/// What an administrator changes on an account; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct StaffChanges {
    pub role: Option<String>,
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
}

/// Changes an account: role, display name, enabled or disabled. Disabling (or a role change)
/// ends the account's sessions, so the change takes effect at once. The last enabled
/// administrator cannot be disabled or demoted (`last_admin`).
pub(crate) fn update_staff(
    conn: &mut Tx<'_>,
    login: &str,
    changes: StaffChanges,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<StaffRow, StaffError> {
    let mut errors = Vec::new();
    let role = match changes.role.as_deref().map(str::parse::<Role>) {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(())) => {
            errors.push(FieldError::new("role", FieldProblem::OneOf(Role::STRINGS)));
            None
        }
    };
    let display_name = match changes.display_name.as_deref().map(parse_display_name) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(p)) => {
            errors.push(FieldError::new("display_name", p));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Invalid::fields(errors).into());
    }
    let login = login.trim().to_ascii_lowercase();
    lock(conn, &[(Mode::Exclusive, Lock::Admins)])?;
    let before = repo::find_staff_by_login(conn, &login)?.ok_or(StaffError::NotFound)?;
    let loses_admin = before.role == Role::Admin
        && !before.disabled
        && (changes.disabled == Some(true) || role.is_some_and(|r| r != Role::Admin));
    if loses_admin && repo::count_enabled_admins(conn)? <= 1 {
        return Err(StaffError::LastAdmin);
    }
    repo::update_staff(
        conn,
        &login,
        role,
        display_name.as_deref(),
        changes.disabled,
        now,
    )?;
    let role_changed = role.is_some_and(|r| r != before.role);
    let ended = if changes.disabled == Some(true) || role_changed {
        repo::revoke_sessions_of(conn, &before.id, now)?
    } else {
        0
    };
    let after = repo::find_staff_by_login(conn, &login)?.ok_or(StaffError::NotFound)?;
    let detail = Detail::StaffChanged {
        role: Change {
            from: before.role.as_str(),
            to: after.role.as_str(),
        },
        display_name: Change {
            from: &before.display_name,
            to: &after.display_name,
        },
        sessions_ended: ended,
        disabled: Change {
            from: before.disabled,
            to: after.disabled,
        },
    };
    audit::record(conn, Some(actor), &login, &detail, now)?;
    Ok(after)
}

/// Disables an account and ends its sessions (the command line's `staff disable`).
pub fn disable_staff(
    conn: &mut Tx<'_>,
    login: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    update_staff(
        conn,
        login,
        StaffChanges {
            disabled: Some(true),
            ..Default::default()
        },
        actor,
        now,
    )
    .map(|_| ())
}

/// The account a login names (404 `staff_not_found`).
pub(crate) fn find_account(conn: &mut DbConnection, login: &str) -> Result<StaffRow, StaffError> {
    let login = login.trim().to_ascii_lowercase();
    repo::find_staff_by_login(conn, &login)?.ok_or(StaffError::NotFound)
}

/// Checks and hashes a password an administrator chose for `login` (the slow part, outside
/// any transaction).
pub(crate) fn prepare_password(
    login: &str,
    password: &str,
    settings: &StaffSettings,
) -> Result<String, StaffError> {
    check_policy(password, login, settings.password_min_length)
        .map_err(|p| Invalid::field("password", p))?;
    Ok(hash_password(password, settings).map_err(anyhow::Error::msg)?)
}

/// Sets a password hashed by [`prepare_password`] and ends the account's sessions. The
/// password itself is never stored, logged or audited.
pub(crate) fn reset_password(
    conn: &mut Tx<'_>,
    login: &str,
    password_hash: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let login = login.trim().to_ascii_lowercase();
    let account = repo::find_staff_by_login(conn, &login)?.ok_or(StaffError::NotFound)?;
    let hash = password_hash;
    repo::set_password_hash(conn, &login, hash, now)?;
    let ended = repo::revoke_sessions_of(conn, &account.id, now)?;
    audit::record(
        conn,
        Some(actor),
        &login,
        &Detail::PasswordReset {
            sessions_ended: ended,
        },
        now,
    )?;
    Ok(())
}
