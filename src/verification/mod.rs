//! Email verification (メール認証): a single-use link mailed to an address, proving the
//! resident can read mail there before they book. Only the token's hash is stored.

pub(crate) mod repo;

use chrono::{DateTime, Duration, Utc};

use crate::config::Settings;
use crate::db::{lock, DbConnection, Lock, Mode, Tx};
use crate::mail::links::{instant_label, instant_label_en, Links};
use crate::mail::{enqueue_json, MailKind, MailPayload, VerificationMail};
use crate::text::{email_key, EmailAddress};
use crate::tokens::{hash_token, new_token};
pub(crate) use repo::VerificationRow;
use repo::{count_since, find_by_hash, insert_verification, use_token};

#[derive(Debug, thiserror::Error)]
pub(crate) enum VerificationError {
    #[error("no such verification")]
    NotFound,
    #[error("verification expired")]
    Expired,
    #[error("verification already used")]
    Used,
    /// Too many requests for the address or from the client; free again after this long.
    #[error("rate limited for {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub(crate) struct VerificationRequest {
    pub email: EmailAddress,
    pub counter: Option<String>,
    pub slot_id: Option<String>,
    pub procedure: Option<String>,
    pub applicant_type: Option<crate::catalogue::ApplicantType>,
    /// The link opens the English pages.
    pub english: bool,
    /// SHA-256 of the client IP: the per-IP limit's key, without keeping the address itself.
    pub ip_key: String,
}

/// Issues a token and writes its mail, within the rate limits. The answer is the same for
/// every well-formed address, whether or not it has booked before.
pub(crate) fn request(
    conn: &mut Tx<'_>,
    req: VerificationRequest,
    settings: &Settings,
    message_domain: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, VerificationError> {
    let limits = &settings.limits;
    let window = Duration::minutes(i64::from(limits.window_minutes));
    let expires_at = now + Duration::minutes(i64::from(settings.verification.ttl_minutes));
    // The token, its row and its mail need no database: made before the transaction.
    let email = req.email.as_str();
    let token = new_token();
    let row = VerificationRow {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: hash_token(&token),
        email: email.to_string(),
        ip_key: req.ip_key.clone(),
        counter_id: req.counter.clone(),
        slot_id: req.slot_id.clone(),
        created_at: now.naive_utc(),
        expires_at: expires_at.naive_utc(),
        used_at: None,
        email_key: Some(email_key(email)),
        refusals: 0,
        procedure_id: req.procedure.clone(),
        applicant_type: req.applicant_type.map(|a| a.as_str().to_string()),
    };
    let key = email_key(email);
    let tz = chrono_tz::Asia::Tokyo;
    let payload = MailPayload::Verification(VerificationMail {
        city: settings.city_name.clone(),
        link: Links::new(&settings.public_url).verify(&token, req.english),
        expires_label: instant_label(expires_at, tz),
        expires_label_en: instant_label_en(expires_at, tz),
        sender_footer: settings.mail_footer(),
    });
    let payload = serde_json::to_string(&payload).map_err(|e| {
        VerificationError::Db(diesel::result::Error::SerializationError(Box::new(e)))
    })?;
    lock(
        conn,
        &[
            (Mode::Exclusive, Lock::VerifyEmail(&key)),
            (Mode::Exclusive, Lock::VerifyAddress(&req.ip_key)),
        ],
    )?;
    let since = now - window;
    for (count, limit) in [
        (
            count_since(conn, repo::Key::Email(&key), since)?,
            limits.verify_per_address,
        ),
        (
            count_since(conn, repo::Key::Ip(&req.ip_key), since)?,
            limits.verify_per_ip,
        ),
    ] {
        if count.0 >= i64::from(limit) {
            // Free again when the oldest request in the window leaves it.
            let free_at = count
                .1
                .map(|oldest| oldest + window)
                .unwrap_or(now + window);
            let retry_after_s = u64::try_from((free_at - now).num_seconds().max(1)).unwrap_or(1);
            return Err(VerificationError::RateLimited { retry_after_s });
        }
    }
    insert_verification(conn, &row)?;
    enqueue_json(
        conn,
        MailKind::Verification,
        email,
        payload,
        None,
        message_domain,
        now,
    )?;
    Ok(expires_at)
}

/// The verification a token names, if it can still be used.
pub(crate) fn lookup(
    conn: &mut DbConnection,
    token: &str,
    max_refusals: i32,
    now: DateTime<Utc>,
) -> Result<VerificationRow, VerificationError> {
    let row = find_by_hash(conn, &hash_token(token))?.ok_or(VerificationError::NotFound)?;
    if row.used_at.is_some() {
        return Err(VerificationError::Used);
    }
    if row.refusals >= max_refusals {
        // Refused bookings used it up (see `limits.refusals_per_link`).
        return Err(VerificationError::Used);
    }
    if row.expires_at <= now.naive_utc() {
        return Err(VerificationError::Expired);
    }
    Ok(row)
}

/// Keeps an unused link valid until at least `until` (a booking held for a fair start's draw
/// was made while it was valid).
pub(crate) fn keep_until(
    conn: &mut DbConnection,
    token: &str,
    until: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    repo::extend_expiry(conn, &hash_token(token), until)
}

/// Uses the token up (inside the booking transaction): one conditional UPDATE, so of two
/// requests with the same token exactly one gets through. A link on which `max_refusals`
/// bookings were refused is used up too.
pub(crate) fn consume(
    conn: &mut DbConnection,
    token: &str,
    max_refusals: i32,
    now: DateTime<Utc>,
) -> Result<VerificationRow, VerificationError> {
    let hash = hash_token(token);
    if let Some(row) = use_token(conn, &hash, max_refusals, now)? {
        return Ok(row);
    }
    // Say why: unknown, used or expired.
    lookup(conn, token, max_refusals, now).and(Err(VerificationError::Used))
}

/// A booking refused on this link in a way that could tell who holds a reservation (the
/// person or the address already booked): counted, and the link is used up after
/// `limits.refusals_per_link` of them, so nobody can probe without end on one link.
pub(crate) fn note_refusal(conn: &mut Tx<'_>, token: &str) -> diesel::QueryResult<()> {
    repo::add_refusal(conn, &hash_token(token))
}

/// The `expire_verifications` job: removes used and expired tokens, once they are older than
/// the rate limits' window (which counts them).
pub(crate) fn expire(
    conn: &mut DbConnection,
    limits: &crate::config::LimitSettings,
    now: DateTime<Utc>,
) -> diesel::QueryResult<u64> {
    let window = Duration::minutes(i64::from(limits.window_minutes));
    repo::delete_spent(conn, now, now - window)
}
