//! argon2id password hashes (PHC strings). Passwords are never logged, stored or returned.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::StaffSettings;
use crate::error::FieldProblem;

fn hasher(settings: &StaffSettings) -> Result<Argon2<'static>, String> {
    let params = Params::new(
        settings.argon2_memory_kib,
        settings.argon2_iterations,
        1,
        None,
    )
    .map_err(|e| format!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub(crate) fn hash_password(password: &str, settings: &StaffSettings) -> Result<String, String> {
    hasher(settings)?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing: {e}"))
}

/// Checks a password against a stored hash (its own parameters are used).
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Spends the same work as a real check when the login does not exist, so the response time
/// does not tell which logins exist.
pub(crate) fn verify_against_dummy(password: &str, settings: &StaffSettings) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY
        .get_or_init(|| hash_password("madoguchi-dummy-password", settings).unwrap_or_default());
    let _ = verify_password(password, dummy);
}

/// What a new password must be: long enough, not the login, not a few characters repeated,
/// and not easy to guess. The last is zxcvbn's estimate (its lists of common passwords,
/// English words, names and keyboard patterns, shipped in the binary; the login and the
/// service's own words count as guessable too): below score 3, about 10⁸ guesses, the password
/// is refused (`password_common`).
pub(crate) const PASSWORD_MAX: usize = 256;

/// zxcvbn's score a password must reach (0–4; 3: "safely unguessable" for an online attack
/// and a slow hash offline).
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Words a guesser of this service's passwords tries first.
const SERVICE_WORDS: [&str; 8] = [
    "madoguchi",
    "mynumber",
    "my-number",
    "counter",
    "staff",
    "admin",
    "password",
    "omihachiman",
];

pub(crate) fn check_policy(
    password: &str,
    login: &str,
    min_length: usize,
) -> Result<(), FieldProblem> {
    let chars = password.chars().count();
    if chars < min_length {
        return Err(FieldProblem::PasswordTooShort { min: min_length });
    }
    if chars > PASSWORD_MAX {
        return Err(FieldProblem::TooLong { max: PASSWORD_MAX });
    }
    if !login.is_empty() && password.to_lowercase().contains(&login.to_lowercase()) {
        return Err(FieldProblem::PasswordContainsLogin);
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(FieldProblem::PasswordTooSimple);
    }
    let mut guessable: Vec<&str> = SERVICE_WORDS.to_vec();
    if !login.is_empty() {
        guessable.push(login);
    }
    if zxcvbn::zxcvbn(password, &guessable).score() < MIN_SCORE {
        return Err(FieldProblem::PasswordCommon);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> StaffSettings {
        let mut s = crate::config::Settings::defaults().expect("defaults").staff;
        s.argon2_memory_kib = 256;
        s.argon2_iterations = 1;
        s
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse battery", &cheap()).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse battery!", &h));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(
            h,
            hash_password("correct horse battery", &cheap()).unwrap(),
            "salted"
        );
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_policy("short", "taro", 12).is_err());
        assert!(check_policy("aaaaaaaaaaaaaaaa", "taro", 12).is_err());
        assert!(check_policy("tanaka.hanako", "tanaka.hanako", 12).is_err());
        assert!(check_policy("hollow-tangerine-lamp-37", "taro", 12).is_ok());
    }

    #[test]
    fn common_passwords_and_patterns_are_refused() {
        for common in [
            "password1234",
            "Password1234!",
            "qwertyuiop123",
            "1234567890ab",
            "madoguchi2027!",
            "iloveyou12345",
            "p@ssw0rd12345",
        ] {
            assert_eq!(
                check_policy(common, "taro", 12),
                Err(FieldProblem::PasswordCommon),
                "{common}"
            );
        }
    }
}
