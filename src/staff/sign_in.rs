//! Signing in and staying signed in: the throttle, the networks, the second factor, sessions
//! (an absolute lifetime, an idle timeout, a cap per account), signing out, and a staff
//! member changing their own password. Every step that can be abused is audited.
//!
//! A sign-in is checked on a read connection (the password hash and the code are checked
//! outside any write transaction, [`check_login`]) and made good in a write ([`start_session`]
//! or [`record_failed_login`]).

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::audit::{self, Detail};
use super::networks::StaffNetworks;
use super::passwords::{verify_against_dummy, verify_password};
use super::repo::{self, SessionRow, StaffRow};
use super::second_factor::{self, Proof};
use super::service::{login_as_typed, StaffError};
use super::StaffUser;
use crate::config::StaffSettings;
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::tokens::{hash_token, new_token};

/// A session started.
pub(crate) struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub role: super::Role,
    pub display_name: String,
    /// The account must enrol a second factor before it may do anything else.
    pub enrol_only: bool,
}

/// What a sign-in attempt carries.
pub(crate) struct Attempt {
    pub login: String,
    pub password: String,
    /// A TOTP code or a recovery code, when the account has a second factor.
    pub code: Option<String>,
    /// The client's address (for `staff.allowed_networks`) and the key it is kept under.
    pub ip: Option<IpAddr>,
    pub ip_key: String,
}

/// Why a sign-in failed, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Unknown login, disabled account or wrong password (the answer never says which).
    Password,
    /// The right password, a wrong (or reused) code.
    SecondFactor,
    /// From a network the account's role may not sign in from.
    Network,
    /// A signed-in staff member's wrong current password, when changing it.
    PasswordChange,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Password => "password",
            Failure::SecondFactor => "second_factor",
            Failure::Network => "network",
            Failure::PasswordChange => "password_change",
        }
    }

    /// What the client is answered once the failure is recorded.
    pub(crate) fn answer(self) -> StaffError {
        match self {
            Failure::Password => StaffError::InvalidCredentials,
            Failure::SecondFactor => StaffError::SecondFactorRequired,
            Failure::Network => StaffError::NetworkNotAllowed,
            Failure::PasswordChange => StaffError::WrongCurrentPassword,
        }
    }
}

/// What [`check_login`] found.
pub(crate) enum LoginCheck {
    Verified {
        account: Box<StaffRow>,
        /// What the second factor proved (None: the account has none).
        proof: Option<Proof>,
    },
    Failed {
        /// The login as the audit log may keep it ([`login_as_typed`]).
        login: String,
        why: Failure,
    },
}

/// How long a client must wait after `failures` recent failures, the latest at `latest`:
/// nothing for the first `free` failures, then `base` seconds doubling with each further
/// failure, up to `max`. None when it may try now.
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

/// One throttle: its scope (as the audit log names it), the failures it counts and the latest
/// of them, and how many it lets pass.
type Throttle = (&'static str, (i64, Option<DateTime<Utc>>), u32);

/// The three throttles, with what each allows free: per (login, address), per address, and
/// for the login from everywhere (counted in addresses, not failures).
fn limits(
    conn: &mut DbConnection,
    login: &str,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<[Throttle; 3], StaffError> {
    let window = Duration::minutes(i64::from(settings.login_window_minutes));
    let [pair, by_ip, everywhere] = audit::login_failures_since(conn, login, ip_key, now - window)?;
    Ok([
        ("login_and_address", pair, settings.login_max_failures),
        ("address", by_ip, settings.login_max_failures_per_ip),
        (
            "login_from_many_addresses",
            everywhere,
            settings.login_lockout_addresses,
        ),
    ])
}

/// 429 while `login` from `ip_key` waits.
fn throttle(
    conn: &mut DbConnection,
    login: &str,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    for (_, (failures, latest), free) in limits(conn, login, ip_key, settings, now)? {
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
    Ok(())
}

/// Signs in, step one, on a read connection. In order:
/// 1. the throttle: per (login, client address) and per client address, so wrong passwords
///    typed elsewhere cannot lock the owner out of their own desk; a login is throttled from
///    everywhere only once failures for it come from `staff.login_lockout_addresses`
///    different addresses (an attack spread over many addresses, which no single address's
///    limit would stop; a stranger with one address, or a few, cannot cause it). Past
///    `staff.login_max_failures` failures in the window the client waits
///    `staff.login_delay_base_seconds`, doubling with each further failure (up to
///    `login_delay_max_seconds`); while it waits, attempts are refused (429) unchecked;
/// 2. the network: an address no role may sign in from is refused before the password is
///    looked at; one the account's role may not, after;
/// 3. the password (the same work for an unknown login);
/// 4. the second factor of an enrolled account: no code at all is 401
///    `second_factor_required` and no failure (the console asks for it next); a wrong one is
///    a failure like a wrong password.
///
/// Step two is [`start_session`] or [`record_failed_login`]: every failure, every lockout and
/// every success is in the audit log.
pub(crate) fn check_login(
    conn: &mut DbConnection,
    attempt: &Attempt,
    networks: &StaffNetworks,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<LoginCheck, StaffError> {
    let login = login_as_typed(&attempt.login);
    let failed = |why| {
        Ok(LoginCheck::Failed {
            login: login.clone(),
            why,
        })
    };
    throttle(conn, &login, &attempt.ip_key, settings, now)?;
    if !networks.admits_some_role(attempt.ip) {
        return failed(Failure::Network);
    }
    let account = repo::find_staff_by_login(conn, &login)?;
    let ok = match &account {
        Some(a) if !a.disabled => verify_password(&attempt.password, &a.password_hash),
        _ => {
            verify_against_dummy(&attempt.password, settings);
            false
        }
    };
    let account = match (ok, account) {
        (true, Some(a)) => a,
        _ => return failed(Failure::Password),
    };
    if !networks.admits(account.role, attempt.ip) {
        return failed(Failure::Network);
    }
    let proof = if second_factor::is_enrolled(&account) {
        let typed = attempt
            .code
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .ok_or(StaffError::SecondFactorRequired)?;
        match second_factor::check(conn, &account, typed, now)? {
            Some(proof) => Some(proof),
            None => return failed(Failure::SecondFactor),
        }
    } else {
        None
    };
    Ok(LoginCheck::Verified {
        account: Box::new(account),
        proof,
    })
}

/// Records a failed sign-in (and the lockout it starts or lengthens); the caller answers
/// [`Failure::answer`] once this is committed.
pub(crate) fn record_failed_login(
    conn: &mut Tx<'_>,
    login: &str,
    why: Failure,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    // Serialise failures per client address so concurrent guesses are all counted.
    lock(conn, &[(Mode::Exclusive, Lock::LoginAddress(ip_key))])?;
    audit::record_from(
        conn,
        None,
        login,
        &Detail::LoginFailed {
            failure: why.as_str(),
        },
        Some(ip_key),
        now,
    )?;
    // This failure starts (or lengthens) a wait: a lockout, audited as such.
    for (scope, (failures, latest), free) in limits(conn, login, ip_key, settings, now)? {
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
    tracing::warn!(staff.login = ?login, reason = why.as_str(), "failed staff login");
    Ok(())
}

/// A verified sign-in's session, audited. The second factor's proof is spent here (a code
/// used by another sign-in meanwhile: `second_factor_required`, and the caller records the
/// failure). An account whose role must have a second factor and has none gets a session
/// that may only enrol. Beyond `staff.max_sessions` live sessions, the oldest end.
pub(crate) fn start_session(
    conn: &mut Tx<'_>,
    account: &StaffRow,
    proof: Option<&Proof>,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<Session, StaffError> {
    if let Some(proof) = proof {
        if !second_factor::make_good(conn, account, proof, now)? {
            return Err(StaffError::SecondFactorRequired);
        }
    }
    let enrol_only = !second_factor::is_enrolled(account)
        && settings
            .require_totp_for
            .iter()
            .any(|r| r == account.role.as_str());
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
            last_seen_at: Some(now.naive_utc()),
            enrol_only,
        },
    )?;
    let keep = usize::try_from(settings.max_sessions.max(1)).unwrap_or(1);
    let ended = repo::revoke_oldest_beyond(conn, &account.id, keep, now)?;
    audit::record_from(
        conn,
        Some(&account.login),
        &account.login,
        &Detail::LoggedIn {
            second_factor: proof.map(Proof::kind),
            enrol_only,
            sessions_ended: ended,
        },
        Some(ip_key),
        now,
    )?;
    Ok(Session {
        token,
        expires_at,
        role: account.role,
        display_name: account.display_name.clone(),
        enrol_only,
    })
}

/// A session is noted as used at most this often (a write per staff request would cost the
/// writer at the rush for nothing: the idle timeout is in minutes).
const TOUCH_EVERY_S: i64 = 60;

/// The signed-in staff member a bearer token names; 401 when none (expired, idle past
/// `staff.idle_minutes`, revoked, or the account disabled). A kiosk's session does not idle
/// out: the terminal stands unused between visitors and may only check in and issue tickets
/// at its counter; `staff.session_hours` still ends it. `touch` says the session's last use
/// should be noted.
pub(crate) fn authenticate(
    conn: &mut DbConnection,
    token: &str,
    idle_minutes: u32,
    now: DateTime<Utc>,
) -> Result<StaffUser, StaffError> {
    let (session, staff) = repo::find_live_session(conn, &hash_token(token), now)?
        .ok_or(StaffError::Unauthenticated)?;
    let last = session.last_seen_at.unwrap_or(session.created_at).and_utc();
    let idles = staff.role != super::Role::Kiosk;
    if idles && idle_minutes > 0 && last + Duration::minutes(i64::from(idle_minutes)) <= now {
        return Err(StaffError::Unauthenticated);
    }
    Ok(StaffUser {
        id: staff.id,
        login: staff.login,
        display_name: staff.display_name,
        role: staff.role,
        counter: staff.counter_id,
        session_id: session.id,
        enrol_only: session.enrol_only,
        touch: now - last >= Duration::seconds(TOUCH_EVERY_S),
    })
}

/// Notes a session's use (see [`authenticate`]).
pub(crate) fn touch(
    conn: &mut Tx<'_>,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    Ok(repo::touch_session(conn, session_id, now)?)
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

/// A staff member's own password change, step one (read connection): throttled like a
/// sign-in, and the current password checked. `Ok(false)`: it was wrong (the caller records
/// the failure, then answers).
pub(crate) fn check_current_password(
    conn: &mut DbConnection,
    user: &StaffUser,
    current: &str,
    ip_key: &str,
    settings: &StaffSettings,
    now: DateTime<Utc>,
) -> Result<bool, StaffError> {
    throttle(conn, &user.login, ip_key, settings, now)?;
    let account =
        repo::find_staff_by_login(conn, &user.login)?.ok_or(StaffError::Unauthenticated)?;
    Ok(verify_password(current, &account.password_hash))
}

/// Step two: the new hash (made by [`super::service::prepare_password`]) set, the account's
/// other sessions ended, audited.
pub(crate) fn change_own_password(
    conn: &mut Tx<'_>,
    user: &StaffUser,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    repo::set_password_hash(conn, &user.login, password_hash, now)?;
    let ended = repo::revoke_sessions_except(conn, &user.id, &user.session_id, now)?;
    audit::record(
        conn,
        Some(&user.login),
        &user.login,
        &Detail::PasswordChanged {
            sessions_ended: ended,
        },
        now,
    )?;
    Ok(())
}
