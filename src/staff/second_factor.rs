//! The second factor of a staff sign-in: TOTP (RFC 6238: HMAC-SHA-1, six digits, 30-second
//! steps, one step either side accepted for a phone's clock) and one-time recovery codes.
//!
//! An account enrols in two steps: [`start_enrolment`] makes a secret (20 random bytes) and
//! keeps it pending; [`confirm_enrolment`] takes a code from the authenticator, which proves the
//! secret reached it, and only then does the account need codes to sign in. A code's time step
//! is remembered when it is accepted, so a code seen once (over a shoulder, in a proxy's log)
//! cannot be used again. Recovery codes are ten random codes of ten characters (about 49 bits
//! each), shown once and kept only as hashes; each signs in once. Every step is audited.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::Rng;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use unicode_normalization::UnicodeNormalization;

use super::audit::{self, Detail};
use super::repo::{self, StaffRow};
use super::service::StaffError;
use crate::db::schema::{staff, staff_recovery_codes, staff_sessions};
use crate::db::{DbConnection, Tx};
use crate::error::{FieldProblem, Invalid};
use crate::tokens::hash_token;

/// Recovery codes made at enrolment (and each time they are renewed).
pub(crate) const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code: no 0/o, 1/l/i, so a code read aloud or from paper is typed
/// right.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const RECOVERY_LEN: usize = 10;
const SECRET_BYTES: usize = 20;

/// What an authenticator needs to start: the secret (base32, to type by hand), the
/// `otpauth://` URI and the URI as a QR code (SVG).
pub(crate) struct Enrolment {
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
}

/// A second factor as typed at sign-in, once recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
    /// Six digits (full-width digits and spaces accepted, as an input method types them).
    Totp(String),
    /// A recovery code, normalised (lower case, no hyphens or spaces).
    Recovery(String),
}

impl Code {
    /// What was typed in the `totp` field; None when it is neither shape.
    pub(crate) fn parse(typed: &str) -> Option<Code> {
        let cleaned: String = typed
            .nfkc()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '‐' | '−' | 'ー'))
            .flat_map(char::to_lowercase)
            .collect();
        if cleaned.len() == 6 && cleaned.bytes().all(|b| b.is_ascii_digit()) {
            Some(Code::Totp(cleaned))
        } else if cleaned.len() == RECOVERY_LEN
            && cleaned.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
        {
            Some(Code::Recovery(cleaned))
        } else {
            None
        }
    }
}

/// What a code proved at sign-in, to be made good in the sign-in's transaction (a step used
/// once, a recovery code spent once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proof {
    Step(i64),
    RecoveryCode(String),
}

impl Proof {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Proof::Step(_) => "totp",
            Proof::RecoveryCode(_) => "recovery_code",
        }
    }
}

fn totp(secret: &[u8]) -> Result<Totp, StaffError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::from(secret.to_vec()))
        .build()
        .map_err(|e| StaffError::Unexpected(anyhow::anyhow!("totp: {e:?}")))
}

fn decode(secret_base32: &str) -> Result<Vec<u8>, StaffError> {
    Secret::try_from_base32(secret_base32)
        .map(|s| s.as_ref().to_vec())
        .map_err(|e| StaffError::Unexpected(anyhow::anyhow!("stored totp secret: {e:?}")))
}

/// The time step of `code` for `secret` at `now` (this step or one either side), if it matches.
pub(crate) fn matching_step(
    secret_base32: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StaffError> {
    let totp = totp(&decode(secret_base32)?)?;
    let Ok(time) = u64::try_from(now.timestamp()) else {
        return Ok(None);
    };
    Ok(totp.check(code, time).and_then(|s| i64::try_from(s).ok()))
}

/// The code an authenticator shows at `now` (tests and the command line's checks).
pub fn code_at(secret_base32: &str, now: DateTime<Utc>) -> Option<String> {
    let totp = totp(&decode(secret_base32).ok()?).ok()?;
    Some(
        totp.generate(u64::try_from(now.timestamp()).ok()?)
            .to_string(),
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `otpauth://` URI authenticator apps read (issuer: the city's name and the service's).
fn otpauth_uri(issuer: &str, login: &str, secret_base32: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{login}?secret={secret_base32}&issuer={issuer}\
         &algorithm=SHA1&digits=6&period=30",
        login = percent_encode(login),
    )
}

fn qr_svg(text: &str) -> Result<String, StaffError> {
    crate::qr::svg(text, 200).map_err(StaffError::Unexpected)
}

/// The second-factor columns of an account.
#[derive(Debug, Clone, Queryable)]
struct SecondFactorRow {
    secret: Option<String>,
    enrolled_at: Option<chrono::NaiveDateTime>,
}

fn second_factor_of(
    conn: &mut DbConnection,
    staff_id: &str,
) -> Result<SecondFactorRow, StaffError> {
    staff::table
        .find(staff_id)
        .select((staff::totp_secret, staff::totp_enrolled_at))
        .first::<SecondFactorRow>(conn)
        .optional()?
        .ok_or(StaffError::NotFound)
}

/// Starts (or starts again) an enrolment: a new pending secret. 409 `totp_already_enrolled`
/// when the account has one; an administrator removes it first ([`reset`]).
pub(crate) fn start_enrolment(
    tx: &mut Tx<'_>,
    account: &StaffRow,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<Enrolment, StaffError> {
    let conn: &mut DbConnection = tx;
    if second_factor_of(conn, &account.id)?.enrolled_at.is_some() {
        return Err(StaffError::TotpAlreadyEnrolled);
    }
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill(&mut bytes[..]);
    let secret = Secret::from(bytes).to_base32();
    diesel::update(staff::table.find(&account.id))
        .set((
            staff::totp_secret.eq(Some(&secret)),
            staff::totp_last_step.eq(None::<i64>),
            staff::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        Some(&account.login),
        &account.login,
        &Detail::TotpEnrolmentStarted {},
        now,
    )?;
    let uri = otpauth_uri(issuer, &account.login, &secret);
    let qr_svg = qr_svg(&uri)?;
    Ok(Enrolment {
        secret,
        uri,
        qr_svg,
    })
}

/// Finishes an enrolment with a code from the authenticator: from now on the account signs in
/// with codes. This session may do everything its role may; the account's other sessions
/// (signed in with a password alone) end. Returns the recovery codes, shown only now.
pub(crate) fn confirm_enrolment(
    tx: &mut Tx<'_>,
    account: &StaffRow,
    session_id: &str,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StaffError> {
    let conn: &mut DbConnection = tx;
    let row = second_factor_of(conn, &account.id)?;
    if row.enrolled_at.is_some() {
        return Err(StaffError::TotpAlreadyEnrolled);
    }
    let secret = row.secret.ok_or(StaffError::TotpNotStarted)?;
    if typed.trim().is_empty() {
        return Err(Invalid::field("totp", FieldProblem::Required).into());
    }
    let step = match Code::parse(typed) {
        Some(Code::Totp(code)) => matching_step(&secret, &code, now)?,
        _ => None,
    }
    .ok_or(StaffError::WrongCode)?;
    diesel::update(staff::table.find(&account.id))
        .set((
            staff::totp_enrolled_at.eq(Some(now.naive_utc())),
            staff::totp_last_step.eq(Some(step)),
            staff::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    diesel::update(staff_sessions::table.find(session_id))
        .set(staff_sessions::enrol_only.eq(false))
        .execute(conn)?;
    let ended = repo::revoke_sessions_except(conn, &account.id, session_id, now)?;
    let codes = replace_recovery_codes(conn, &account.id, now)?;
    audit::record(
        conn,
        Some(&account.login),
        &account.login,
        &Detail::TotpEnrolled {
            sessions_ended: ended,
        },
        now,
    )?;
    Ok(codes)
}

/// New recovery codes for a signed-in, enrolled account, proved with a current code; the old
/// ones stop working.
pub(crate) fn renew_recovery_codes(
    tx: &mut Tx<'_>,
    account: &StaffRow,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StaffError> {
    let conn: &mut DbConnection = tx;
    let row = second_factor_of(conn, &account.id)?;
    let (Some(secret), Some(_)) = (row.secret, row.enrolled_at) else {
        return Err(StaffError::TotpNotEnrolled);
    };
    if typed.trim().is_empty() {
        return Err(Invalid::field("totp", FieldProblem::Required).into());
    }
    let step = match Code::parse(typed) {
        Some(Code::Totp(code)) => matching_step(&secret, &code, now)?,
        _ => None,
    }
    .ok_or(StaffError::WrongCode)?;
    if !use_step(conn, &account.id, step)? {
        return Err(StaffError::WrongCode);
    }
    let codes = replace_recovery_codes(conn, &account.id, now)?;
    audit::record(
        conn,
        Some(&account.login),
        &account.login,
        &Detail::RecoveryCodesRenewed {},
        now,
    )?;
    Ok(codes)
}

fn new_recovery_code() -> String {
    let mut rng = rand::rng();
    (0..RECOVERY_LEN)
        .map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char)
        .collect()
}

/// A recovery code as it is shown: two groups of five.
fn shown(code: &str) -> String {
    format!("{}-{}", &code[..5], &code[5..])
}

fn replace_recovery_codes(
    conn: &mut DbConnection,
    staff_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StaffError> {
    diesel::delete(staff_recovery_codes::table.filter(staff_recovery_codes::staff_id.eq(staff_id)))
        .execute(conn)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    for code in &codes {
        diesel::insert_into(staff_recovery_codes::table)
            .values((
                staff_recovery_codes::id.eq(uuid::Uuid::new_v4().to_string()),
                staff_recovery_codes::staff_id.eq(staff_id),
                staff_recovery_codes::code_hash.eq(hash_token(code)),
                staff_recovery_codes::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(codes.iter().map(|c| shown(c)).collect())
}

/// Recovery codes an account has not used.
pub(crate) fn recovery_codes_left(conn: &mut DbConnection, staff_id: &str) -> QueryResult<i64> {
    staff_recovery_codes::table
        .filter(staff_recovery_codes::staff_id.eq(staff_id))
        .filter(staff_recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

/// Whether the account has finished enrolling.
pub(crate) fn is_enrolled(account: &StaffRow) -> bool {
    account.totp_enrolled_at.is_some()
}

/// Checks a code typed at sign-in (on a read connection): what it proves, or None when it is
/// wrong. [`make_good`] then spends it in the sign-in's transaction.
pub(crate) fn check(
    conn: &mut DbConnection,
    account: &StaffRow,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Option<Proof>, StaffError> {
    let row = second_factor_of(conn, &account.id)?;
    let (Some(secret), Some(_)) = (row.secret, row.enrolled_at) else {
        return Ok(None);
    };
    Ok(match Code::parse(typed) {
        Some(Code::Totp(code)) => matching_step(&secret, &code, now)?.map(Proof::Step),
        Some(Code::Recovery(code)) => {
            let hash = hash_token(&code);
            let unused: i64 = staff_recovery_codes::table
                .filter(staff_recovery_codes::staff_id.eq(&account.id))
                .filter(staff_recovery_codes::code_hash.eq(&hash))
                .filter(staff_recovery_codes::used_at.is_null())
                .count()
                .get_result(conn)?;
            (unused > 0).then_some(Proof::RecoveryCode(hash))
        }
        None => None,
    })
}

/// Spends what a code proved, in the sign-in's transaction: false when another sign-in spent
/// it first (the same code twice, or a step not after the last one used).
pub(crate) fn make_good(
    tx: &mut Tx<'_>,
    account: &StaffRow,
    proof: &Proof,
    now: DateTime<Utc>,
) -> Result<bool, StaffError> {
    let conn: &mut DbConnection = tx;
    match proof {
        Proof::Step(step) => use_step(conn, &account.id, *step),
        Proof::RecoveryCode(hash) => {
            let spent = diesel::update(
                staff_recovery_codes::table
                    .filter(staff_recovery_codes::staff_id.eq(&account.id))
                    .filter(staff_recovery_codes::code_hash.eq(hash))
                    .filter(staff_recovery_codes::used_at.is_null()),
            )
            .set(staff_recovery_codes::used_at.eq(Some(now.naive_utc())))
            .execute(conn)?;
            if spent == 1 {
                let left = recovery_codes_left(conn, &account.id)?;
                audit::record(
                    conn,
                    Some(&account.login),
                    &account.login,
                    &Detail::RecoveryCodeUsed { left },
                    now,
                )?;
            }
            Ok(spent == 1)
        }
    }
}

/// Takes `step` as the account's last used one, if it is after the last.
fn use_step(conn: &mut DbConnection, staff_id: &str, step: i64) -> Result<bool, StaffError> {
    let taken = diesel::update(
        staff::table.find(staff_id).filter(
            staff::totp_last_step
                .is_null()
                .or(staff::totp_last_step.lt(step)),
        ),
    )
    .set(staff::totp_last_step.eq(Some(step)))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Removes an account's second factor (a lost phone and lost codes, or an enrolment begun and
/// not finished): an administrator's act, or the command line's; 409 `totp_not_enrolled` when
/// there is none. The account's sessions end; it enrols again at its next sign-in when its
/// role requires a second factor.
pub fn reset(
    tx: &mut Tx<'_>,
    login: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let conn: &mut DbConnection = tx;
    let login = login.trim().to_ascii_lowercase();
    let account = repo::find_staff_by_login(conn, &login)?.ok_or(StaffError::NotFound)?;
    if second_factor_of(conn, &account.id)?.secret.is_none() {
        return Err(StaffError::TotpNotEnrolled);
    }
    diesel::update(staff::table.find(&account.id))
        .set((
            staff::totp_secret.eq(None::<String>),
            staff::totp_enrolled_at.eq(None::<chrono::NaiveDateTime>),
            staff::totp_last_step.eq(None::<i64>),
            staff::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    diesel::delete(
        staff_recovery_codes::table.filter(staff_recovery_codes::staff_id.eq(&account.id)),
    )
    .execute(conn)?;
    let ended = repo::revoke_sessions_of(conn, &account.id, now)?;
    audit::record(
        conn,
        Some(actor),
        &login,
        &Detail::TotpReset {
            sessions_ended: ended,
        },
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret ("12345678901234567890") in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn the_rfc_test_vectors_hold() {
        // Appendix B gives eight digits; six are their last six.
        for (t, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(RFC_SECRET, at(t)).unwrap(), eight[2..], "T={t}");
        }
    }

    #[test]
    fn a_code_is_good_for_its_step_and_one_either_side_only() {
        let now = at(1_234_567_890);
        let step = 1_234_567_890 / 30;
        for (offset, good) in [
            (-60, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = code_at(RFC_SECRET, at(1_234_567_890 + offset)).unwrap();
            let found = matching_step(RFC_SECRET, &code, now).unwrap();
            assert_eq!(found.is_some(), good, "offset {offset}");
            if good {
                assert_eq!(found, Some(step + offset / 30));
            }
        }
    }

    #[test]
    fn codes_are_read_as_people_type_them() {
        assert_eq!(Code::parse("123 456"), Some(Code::Totp("123456".into())));
        assert_eq!(
            Code::parse("１２３４５６"),
            Some(Code::Totp("123456".into()))
        );
        assert_eq!(
            Code::parse("ABCDE-FGHJK"),
            Some(Code::Recovery("abcdefghjk".into()))
        );
        assert_eq!(Code::parse("12345"), None);
        assert_eq!(Code::parse("abcde-fghi1"), None, "1 and i are not in codes");
        assert_eq!(Code::parse(""), None);
    }

    #[test]
    fn recovery_codes_are_shown_in_two_groups_and_read_back() {
        let code = new_recovery_code();
        assert_eq!(code.len(), RECOVERY_LEN);
        let shown = shown(&code);
        assert_eq!(Code::parse(&shown), Some(Code::Recovery(code)));
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let uri = otpauth_uri("近江八幡市 madoguchi", "chief", RFC_SECRET);
        assert!(uri.starts_with("otpauth://totp/%E8%BF%91"), "{uri}");
        assert!(uri.contains(":chief?secret=GEZDGNBV"), "{uri}");
        assert!(uri.contains("&period=30"), "{uri}");
        assert!(!uri.contains(' '));
    }
}
