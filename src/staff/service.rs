//! Accounts, logins and sessions.

use chrono::{DateTime, Utc};

use super::audit::{self, Change, Detail};
use super::passwords::{check_policy, hash_password};
use super::repo::{self, StaffRow};
use super::Role;
use crate::config::StaffSettings;
use crate::db::{is_unique_violation, lock, DbConnection, Lock, Mode, Tx};
use crate::error::{FieldError, FieldProblem, Invalid};
use crate::text::{contains_individual_number, parse_name};

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
    #[error("the second factor is missing or wrong")]
    SecondFactorRequired,
    #[error("this session may only enrol a second factor")]
    EnrolmentRequired,
    #[error("not from a network this role may sign in from")]
    NetworkNotAllowed,
    #[error("a second factor is already enrolled")]
    TotpAlreadyEnrolled,
    #[error("no enrolment started")]
    TotpNotStarted,
    #[error("the account has no second factor")]
    TotpNotEnrolled,
    #[error("one's own second factor is removed by someone else")]
    OwnTotp,
    #[error("not the code the authenticator shows now")]
    WrongCode,
    #[error("not the current password")]
    WrongCurrentPassword,
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
    /// A kiosk's counter (required for `kiosk`, ignored for other roles; the caller checks
    /// that it exists).
    pub counter: Option<String>,
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
    let counter = kiosk_counter(role.as_ref().ok().copied(), input.counter, &mut errors);
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
        totp_enrolled_at: None,
        counter_id: counter,
    })
}

/// The counter an account will have: the role it will have decides (a kiosk keeps, or is
/// given, one; another role has none).
fn counter_after(
    role: Role,
    given: Option<String>,
    before: &StaffRow,
) -> Result<Option<String>, StaffError> {
    let mut errors = Vec::new();
    let counter = kiosk_counter(Some(role), given.or(before.counter_id.clone()), &mut errors);
    match errors.is_empty() {
        true => Ok(counter),
        false => Err(Invalid::fields(errors).into()),
    }
}

/// A kiosk works at one counter, named when the account is made: required for `kiosk`, and
/// no other role has one.
fn kiosk_counter(
    role: Option<Role>,
    counter: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let counter = counter
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    match role {
        Some(Role::Kiosk) if counter.is_none() => {
            errors.push(FieldError::new("counter", FieldProblem::Required));
            None
        }
        Some(Role::Kiosk) => counter,
        _ => None,
    }
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
            counter: row.counter_id.as_deref(),
        },
        now,
    )?;
    Ok(row)
}

/// What an administrator changes on an account; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct StaffChanges {
    pub role: Option<String>,
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
    /// A kiosk's counter (the caller checks that it exists).
    pub counter: Option<String>,
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
    let counter = counter_after(role.unwrap_or(before.role), changes.counter, &before)?;
    let counter_changed = counter != before.counter_id;
    repo::update_staff(
        conn,
        &login,
        (role, counter_changed.then_some(counter.as_deref())),
        display_name.as_deref(),
        changes.disabled,
        now,
    )?;
    let role_changed = role.is_some_and(|r| r != before.role) || counter_changed;
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
        counter: Change {
            from: before.counter_id.as_deref(),
            to: after.counter_id.as_deref(),
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
