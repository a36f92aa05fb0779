//! A staff member's own account: their password, and their second factor (setting up an
//! authenticator app, recovery codes). Open to a session that must enrol first.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Authorized, Myself};
use super::body::JsonBody;
use super::problem::AppError;
use super::route::{api, codes, ApiRoute, MYSELF};
use super::state::AppState;
use crate::error::{FieldError, FieldProblem, Invalid};
use crate::staff::passwords::check_policy;
use crate::staff::second_factor;
use crate::staff::service::{find_account, prepare_password, StaffError};
use crate::staff::sign_in::{self, Failure};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"current_password": "the-one-you-use-now",
    "new_password": "hollow-tangerine-lamp-37"}))]
pub(crate) struct OwnPasswordBody {
    current_password: String,
    new_password: String,
}

/// Changes the signed-in staff member's own password (the current one required; wrong ones
/// are throttled like sign-ins). The account's other sessions end; this one stays.
#[utoipa::path(put, path = "/api/v1/staff/me/password", tag = "staff",
    request_body = OwnPasswordBody,
    responses((status = 204, description = "Changed")))]
pub(crate) async fn put_own_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Authorized<Myself>,
    body: JsonBody<OwnPasswordBody>,
) -> Result<HttpResponse, AppError> {
    let OwnPasswordBody {
        current_password,
        new_password,
    } = body.parse()?;
    let user = user.user;
    // What can be told without the current password first: nothing here is a guess at it.
    let mut errors = Vec::new();
    if current_password.is_empty() {
        errors.push(FieldError::new("current_password", FieldProblem::Required));
    }
    if new_password.is_empty() {
        errors.push(FieldError::new("new_password", FieldProblem::Required));
    } else if let Err(p) = check_policy(
        &new_password,
        &user.login,
        state.settings.staff.password_min_length,
    ) {
        errors.push(FieldError::new("new_password", p));
    }
    if !errors.is_empty() {
        return Err(Invalid::fields(errors).into());
    }
    let ip_key = state.clients.key(&req);
    let now = state.clock.now();
    let (s, u, key) = (state.get_ref().clone(), user.clone(), ip_key.clone());
    let current = current_password.clone();
    let right = state
        .db
        .run(move |conn| {
            sign_in::check_current_password(conn, &u, &current, &key, &s.settings.staff, now)
        })
        .await?;
    if !right {
        let (s, login) = (state.get_ref().clone(), user.login.clone());
        let why = Failure::PasswordChange;
        state
            .db
            .write(move |conn| {
                sign_in::record_failed_login(conn, &login, why, &ip_key, &s.settings.staff, now)
            })
            .await?;
        return Err(why.answer().into());
    }
    if new_password == current_password {
        return Err(Invalid::field("new_password", FieldProblem::PasswordUnchanged).into());
    }
    let (settings, login) = (state.settings.clone(), user.login.clone());
    // Hashed (the slow part) on the blocking pool, outside the transaction.
    let hash = web::block(move || prepare_password(&login, &new_password, &settings.staff))
        .await
        .map_err(|e| AppError::unexpected(anyhow::anyhow!("hashing a password: {e}")))?
        .map_err(|e| match e {
            // The new password's problems are the new_password field's.
            StaffError::Invalid(invalid) => invalid.renamed("password", "new_password").into(),
            other => AppError::from(other),
        })?;
    state
        .db
        .write(move |conn| sign_in::change_own_password(conn, &user, &hash, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TotpEnrolmentJson {
    /// The secret in base32, for typing into an app by hand.
    pub secret: String,
    /// The `otpauth://` URI an authenticator app reads.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG) to scan.
    pub qr_svg: String,
}

/// Starts setting up an authenticator app: a new secret, its `otpauth://` URI and QR code. The
/// second factor is not required until it is confirmed with a code
/// (`POST /api/v1/staff/me/totp/confirm`). Starting again replaces an unconfirmed secret.
#[utoipa::path(post, path = "/api/v1/staff/me/totp", tag = "staff",
    responses((status = 201, description = "Scan the code, then confirm", body = TotpEnrolmentJson)))]
pub(crate) async fn post_totp(
    state: web::Data<AppState>,
    user: Authorized<Myself>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let login = user.login.clone();
    let issuer = format!("{} madoguchi", state.settings.city_name);
    let enrolment = state
        .db
        .write(move |conn| {
            let account = find_account(conn, &login)?;
            second_factor::start_enrolment(conn, &account, &issuer, now)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(TotpEnrolmentJson {
            secret: enrolment.secret,
            otpauth_uri: enrolment.uri,
            qr_svg: enrolment.qr_svg,
        }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"totp": "492039"}))]
pub(crate) struct TotpCodeBody {
    /// The six digits the authenticator app shows now.
    totp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecoveryCodesJson {
    /// One-time codes for signing in without the phone: shown only now; each works once.
    pub recovery_codes: Vec<String>,
}

/// Confirms the authenticator with the code it shows: from now on this account signs in with
/// codes, this session may do all its role may, and the account's other sessions end. Returns
/// the recovery codes, shown only this once.
#[utoipa::path(post, path = "/api/v1/staff/me/totp/confirm", tag = "staff",
    request_body = TotpCodeBody,
    responses((status = 200, description = "Enrolled", body = RecoveryCodesJson)))]
pub(crate) async fn post_totp_confirm(
    state: web::Data<AppState>,
    user: Authorized<Myself>,
    body: JsonBody<TotpCodeBody>,
) -> Result<HttpResponse, AppError> {
    let code = body.parse()?.totp;
    let now = state.clock.now();
    let user = user.user;
    let recovery_codes = state
        .db
        .write(move |conn| {
            let account = find_account(conn, &user.login)?;
            second_factor::confirm_enrolment(conn, &account, &user.session_id, &code, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(RecoveryCodesJson { recovery_codes }))
}

/// New recovery codes (proved with a current code); the old ones stop working.
#[utoipa::path(post, path = "/api/v1/staff/me/totp/recovery-codes", tag = "staff",
    request_body = TotpCodeBody,
    responses((status = 200, description = "The new codes", body = RecoveryCodesJson)))]
pub(crate) async fn post_recovery_codes(
    state: web::Data<AppState>,
    user: Authorized<Myself>,
    body: JsonBody<TotpCodeBody>,
) -> Result<HttpResponse, AppError> {
    let code = body.parse()?.totp;
    let now = state.clock.now();
    let login = user.login.clone();
    let recovery_codes = state
        .db
        .write(move |conn| {
            let account = find_account(conn, &login)?;
            second_factor::renew_recovery_codes(conn, &account, &code, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(RecoveryCodesJson { recovery_codes }))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Method as M;
    let staff = || codes::<StaffError>(&[]);
    vec![
        api(
            M::PUT,
            "/api/v1/staff/me/password",
            MYSELF,
            staff(),
            put_own_password,
        ),
        api(M::POST, "/api/v1/staff/me/totp", MYSELF, staff(), post_totp),
        api(
            M::POST,
            "/api/v1/staff/me/totp/confirm",
            MYSELF,
            staff(),
            post_totp_confirm,
        ),
        api(
            M::POST,
            "/api/v1/staff/me/totp/recovery-codes",
            MYSELF,
            staff(),
            post_recovery_codes,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(put_own_password, post_totp, post_totp_confirm, post_recovery_codes))]
pub(super) struct Paths;
