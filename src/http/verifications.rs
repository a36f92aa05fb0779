//! Public: email verification (メールを認証して進む).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::json::instant;
use super::json::stored;
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute};
use super::state::AppState;
use crate::calendar::{CalendarError, SlotId};
use crate::catalogue::ApplicantType;
use crate::error::{ErrorCode, FieldProblem, Invalid};
use crate::text::{contains_individual_number, EmailAddress};
use crate::tokens::looks_like_token;
use crate::verification::{self, VerificationError, VerificationRequest};
use actix_web::http::Method;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "taro@example.jp", "counter": "city-hall", "slot_id": "city-hall.2027-01-04.0900", "procedure": "pin-reset", "applicant_type": "holder"}))]
pub(crate) struct VerificationBody {
    /// The address the link is mailed to.
    #[serde(default)]
    email: String,
    /// The counter the resident was looking at (the page returns to it).
    counter: Option<String>,
    /// The slot the resident chose before verifying (the page returns to it).
    slot_id: Option<String>,
    /// The procedure chosen before verifying (the page returns to it, in whichever browser
    /// the link is opened); one not offered is left out.
    procedure: Option<String>,
    /// Who comes: `holder`, `legal_representative` or `voluntary_proxy` (likewise).
    applicant_type: Option<String>,
    /// `en` for the English pages: the mailed link opens them in English.
    lang: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerificationRequestedJson {
    /// Until when the mailed link works (once).
    #[schema(example = "2026-11-24T10:30:00+09:00")]
    pub expires_at: String,
}

/// Mails a one-time link to the address. The same answer for every well-formed address.
#[utoipa::path(post, path = "/api/v1/verifications", tag = "booking",
    request_body = VerificationBody,
    responses((status = 202, description = "The link is on its way", body = VerificationRequestedJson)))]
pub(crate) async fn post_verification(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<VerificationBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.parse()?;
    let email = EmailAddress::parse(&body.email).map_err(|p| {
        let code = match p {
            FieldProblem::Required => ErrorCode::ValidationFailed,
            FieldProblem::IndividualNumber => ErrorCode::ContainsIndividualNumber,
            _ => ErrorCode::InvalidEmail,
        };
        Invalid::field("email", p).with_code(code)
    })?;
    // Fields the service reads as hints and may leave out still never carry an individual
    // number through: refused like any other field. (Not the counter and the slot: they are
    // ids, answered 404 unless they name one, and a slot id's digits, 2027-01-18.0900, can
    // look like a number with its check digit.)
    for (field, value) in [("procedure", &body.procedure), ("lang", &body.lang)] {
        if value.as_deref().is_some_and(contains_individual_number) {
            return Err(Invalid::field(field, FieldProblem::IndividualNumber)
                .with_code(ErrorCode::ContainsIndividualNumber)
                .into());
        }
    }
    if let Some(c) = &body.counter {
        state.calendar.get_counter(c)?;
    }
    if let Some(s) = &body.slot_id {
        let id: SlotId = s.parse().map_err(|_| CalendarError::SlotNotFound)?;
        state.calendar.resolve(&id)?;
    }
    // Only a hint for the page the link opens: a procedure no longer offered (a page loaded
    // before the city changed its list) is left out rather than refusing the link.
    let procedure = body
        .procedure
        .as_deref()
        .map(str::trim)
        .and_then(|p| state.catalogue.get(p))
        .map(|known| known.id.clone());
    let applicant_type = match body.applicant_type.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(a.parse::<ApplicantType>().map_err(|_| {
            Invalid::field(
                "applicant_type",
                FieldProblem::OneOf(ApplicantType::STRINGS),
            )
        })?),
    };
    let request = VerificationRequest {
        email,
        counter: body.counter,
        slot_id: body.slot_id,
        procedure,
        applicant_type,
        english: body.lang.as_deref().map(str::trim) == Some("en"),
        ip_key: state.clients.key(&req),
    };
    let now = state.clock.now();
    let s = state.get_ref().clone();
    let expires_at = state
        .db
        .write(move |conn| {
            verification::request(conn, request, &s.settings, &s.message_domain, now)
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Accepted().json(VerificationRequestedJson {
        expires_at: instant(expires_at, state.default_tz()),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerificationJson {
    pub email: String,
    pub expires_at: String,
    pub counter: Option<String>,
    pub slot_id: Option<String>,
    /// The procedure chosen before the link was asked for, if one was.
    pub procedure: Option<String>,
    /// Who comes, if it was chosen.
    pub applicant_type: Option<String>,
}

/// What a verification link holds, while it can still be used.
#[utoipa::path(get, path = "/api/v1/verifications/{token}", tag = "booking",
    params(("token" = String, Path, description = "The token from the mailed link")),
    responses((status = 200, description = "The verified address", body = VerificationJson)))]
pub(crate) async fn get_verification(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    if !looks_like_token(&token) {
        return Err(VerificationError::NotFound.into());
    }
    let now = state.clock.now();
    let max_refusals = i32::try_from(state.settings.limits.refusals_per_link).unwrap_or(i32::MAX);
    let row = state
        .db
        .run(move |conn| verification::lookup(conn, &token, max_refusals, now))
        .await?;
    let tz = state.default_tz();
    Ok(HttpResponse::Ok().json(VerificationJson {
        email: row.email,
        expires_at: stored(row.expires_at, tz),
        counter: row.counter_id,
        slot_id: row.slot_id,
        procedure: row.procedure_id,
        applicant_type: row.applicant_type,
    }))
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use ErrorCode as E;
    use Method as M;
    vec![
        api(
            M::POST,
            "/api/v1/verifications",
            Public,
            codes::<(Invalid, CalendarError, VerificationError)>(&[E::InvalidEmail]),
            post_verification,
        ),
        api(
            M::GET,
            "/api/v1/verifications/{token}",
            Public,
            codes::<VerificationError>(&[]),
            get_verification,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(post_verification, get_verification))]
pub(super) struct Paths;
