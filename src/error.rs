//! Errors as `application/problem+json` with a stable `code`.
//!
//! Handlers return [`AppError`]. Its `error_response` renders English and leaves a [`Problem`]
//! in the response extensions; the [`problem_middleware`] then re-renders it in Japanese for
//! `Accept-Language: ja`, and turns actix's own rejections (unknown path, wrong method, …) into
//! problem+json too, so no error ever leaves as text or HTML.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 bad_request: malformed JSON, query or header.
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("not signed in")]
    Unauthenticated,
    /// 401 invalid_credentials: a login with a wrong name or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("role not allowed")]
    Forbidden,
    /// 404 with a specific code (`slot_not_found`, `counter_not_found`, …).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 409 with a rule's code; `extra` fields are merged into the problem (e.g. `alternatives`).
    #[error("conflict: {code}")]
    Conflict {
        code: &'static str,
        detail: Option<String>,
        extra: Option<serde_json::Value>,
    },
    /// 410: a token that was good and is no longer.
    #[error("gone: {0}")]
    Gone(&'static str),
    /// 413 payload_too_large.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 unsupported_media_type.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422 with `validation_failed` or a more specific code; each field named.
    #[error("invalid input: {code}")]
    Invalid {
        code: &'static str,
        errors: Vec<FieldError>,
    },
    /// 429 rate_limited + Retry-After.
    #[error("rate limited")]
    RateLimited { retry_after_s: u64 },
    /// 503: a dependency (the database) is not reachable.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// 500: logged once with its cause chain; the client sees a generic problem.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn conflict(code: &'static str) -> Self {
        AppError::Conflict {
            code,
            detail: None,
            extra: None,
        }
    }
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code: "validation_failed",
            errors: vec![FieldError::new(field, message)],
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Forbidden => "forbidden",
            AppError::NotFound(code) | AppError::Gone(code) | AppError::Unavailable(code) => code,
            AppError::Conflict { code, .. } | AppError::Invalid { code, .. } => code,
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unexpected(_) => "internal_error",
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Unexpected(anyhow::Error::new(e).context("database query"))
    }
}

/// What an error response says; kept in the response extensions for the language pass.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    /// An English detail specific to this occurrence, when the table's is too general.
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub extra: Option<serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Problem {
            status,
            code,
            detail: None,
            errors: Vec::new(),
            extra: None,
        }
    }

    pub fn from_status(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthenticated",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            406 => "not_acceptable",
            408 => "request_timeout",
            413 => "payload_too_large",
            414 => "uri_too_long",
            415 => "unsupported_media_type",
            429 => "rate_limited",
            431 => "headers_too_large",
            503 => "unavailable",
            s if s < 500 => "bad_request",
            _ => "internal_error",
        };
        Problem::new(status, code)
    }

    pub fn render(&self, lang: Lang) -> serde_json::Value {
        let (title_en, title_ja) = titles(self.code, self.status);
        let (title, detail) = match lang {
            Lang::En => (
                title_en,
                self.detail.clone().unwrap_or_else(|| title_en.to_string()),
            ),
            Lang::Ja => (title_ja, title_ja.to_string()),
        };
        let mut body = serde_json::json!({
            "type": format!("https://madoguchi.example/problems/{}", self.code.replace('_', "-")),
            "title": title,
            "status": self.status.as_u16(),
            "detail": detail,
            "code": self.code,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::json!(self.errors);
        }
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
            (&self.extra, body.as_object_mut())
        {
            for (k, v) in extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        body
    }

    pub fn response(self, lang: Lang) -> HttpResponse {
        let mut res = HttpResponse::build(self.status)
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .body(self.render(lang).to_string());
        res.extensions_mut().insert(self);
        res
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut problem = Problem::new(self.status_code(), self.code());
        match self {
            AppError::BadRequest(detail) => problem.detail = Some(detail.clone()),
            AppError::Conflict { detail, extra, .. } => {
                problem.detail = detail.clone();
                problem.extra = extra.clone();
            }
            AppError::Invalid { errors, .. } => problem.errors = errors.clone(),
            AppError::Unexpected(e) => {
                // The one place a 500 is logged, with its whole cause chain.
                tracing::error!(error.chain = %format!("{e:#}"), "unexpected error");
            }
            _ => {}
        }
        let retry = match self {
            AppError::RateLimited { retry_after_s } => Some(*retry_after_s),
            _ => None,
        };
        let mut res = problem.response(Lang::En);
        if matches!(self, AppError::Unauthenticated) {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        res
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// Japanese when the request prefers `ja` over English; English otherwise.
    pub fn of(req: &HttpRequest) -> Lang {
        let Some(value) = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "ja" || tag.starts_with("ja-") {
                Lang::Ja
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }
}

/// Titles by code, English and Japanese: the one table of what errors say.
fn titles(code: &str, status: StatusCode) -> (&'static str, &'static str) {
    match code {
        "bad_request" => (
            "The request is malformed.",
            "リクエストの形式が正しくありません。",
        ),
        "unauthenticated" => ("Sign in first.", "ログインが必要です。"),
        "forbidden" => (
            "Your role may not do this.",
            "この操作を行う権限がありません。",
        ),
        "not_found" => ("Nothing is here.", "指定されたものは見つかりません。"),
        "method_not_allowed" => (
            "This method is not allowed here.",
            "このメソッドは使用できません。",
        ),
        "payload_too_large" => (
            "The request body is too large.",
            "リクエストが大きすぎます。",
        ),
        "unsupported_media_type" => (
            "Send JSON (Content-Type: application/json).",
            "JSON形式で送信してください。",
        ),
        "validation_failed" => ("Some fields are not valid.", "入力内容に誤りがあります。"),
        "rate_limited" => (
            "Too many requests; try again later.",
            "リクエストが多すぎます。しばらくしてから再度お試しください。",
        ),
        "counter_not_found" => ("No such counter.", "指定された窓口はありません。"),
        "slot_not_found" => ("No such slot.", "指定された予約枠はありません。"),
        "procedure_not_found" => ("No such procedure.", "指定された手続きはありません。"),
        "range_too_long" => ("The date range is too long.", "期間が長すぎます。"),
        "invalid_credentials" => ("The login or password is wrong.", "ログイン名またはパスワードが違います。"),
        "login_taken" => ("That login is taken.", "そのログイン名は使われています。"),
        "staff_not_found" => ("No such staff account.", "その職員アカウントはありません。"),
        "last_admin" => (
            "The last enabled administrator cannot be disabled or given another role.",
            "有効な管理者が一人だけのため、無効化や役割の変更はできません。",
        ),
        "closure_not_found" => ("This day is not closed by an administrator.", "この日は管理者による休止日ではありません。"),
        "capacity_below_booked" => (
            "The capacity cannot be set below the seats already booked.",
            "予約済みの人数より少ない定員には変更できません。",
        ),
        "day_has_reservations" => (
            "The day has reservations; ask to cancel them to close it.",
            "この日には予約があります。予約を取り消して休止する場合は cancel_reservations を指定してください。",
        ),
        "day_already_closed" => ("The day is already closed.", "この日はすでに休止になっています。"),
        "invalid_email" => ("The email address is not valid.", "メールアドレスの形式が正しくありません。"),
        "contains_individual_number" => (
            "Do not enter an individual number (My Number); it is never needed here.",
            "マイナンバー(個人番号)は入力しないでください。予約には必要ありません。",
        ),
        "verification_not_found" => ("This verification link is not valid.", "この確認用リンクは無効です。"),
        "verification_expired" => (
            "This verification link has expired; ask for a new one.",
            "確認用リンクの有効期限が切れています。もう一度メールアドレスの確認からやり直してください。",
        ),
        "verification_used" => (
            "This verification link has already been used; ask for a new one.",
            "この確認用リンクは使用済みです。もう一度メールアドレスの確認からやり直してください。",
        ),
        "reservation_not_found" => ("No such reservation.", "予約が見つかりません。"),
        "slot_full" => ("This slot is full; see the alternatives.", "この時間帯は満員です。ほかの時間帯をお選びください。"),
        "window_not_open" => ("Booking for this day has not opened yet.", "この日の予約受付はまだ始まっていません。"),
        "window_closed" => ("Booking for this day has closed.", "この日の予約受付は終了しました。"),
        "day_closed" => ("The counter is closed on this day.", "この日は窓口が休みです。"),
        "active_reservation_exists" => (
            "An active reservation already exists for this person or address.",
            "同じ方(またはメールアドレス)の有効な予約がすでにあります。",
        ),
        "too_late_to_cancel" => ("It is too late to cancel this reservation.", "この予約は取り消しできません(開始時刻を過ぎています)。"),
        "too_late_to_change" => ("It is too late to change this reservation.", "この予約は変更できません(開始時刻を過ぎています)。"),
        "reservation_cancelled" => ("This reservation has been cancelled.", "この予約は取り消されています。"),
        "database_unavailable" => (
            "The database cannot be reached.",
            "データベースに接続できません。",
        ),
        "internal_error" => (
            "Something went wrong on our side.",
            "システムエラーが発生しました。",
        ),
        _ => match status.as_u16() {
            s if s >= 500 => (
                "Something went wrong on our side.",
                "システムエラーが発生しました。",
            ),
            _ => (
                "The request cannot be completed.",
                "リクエストを処理できません。",
            ),
        },
    }
}

/// Wrap the app with this: every 4xx/5xx leaves as problem+json in the client's language.
pub fn problem_middleware<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let lang = Lang::of(res.request());
        let existing = res.response().extensions().get::<Problem>().cloned();
        let already_problem = res
            .response()
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
        let problem = match existing {
            Some(p) if lang == Lang::Ja => p,
            Some(_) => return Ok(ErrorHandlerResponse::Response(res.map_into_left_body())),
            None if already_problem => {
                return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()))
            }
            None => Problem::from_status(res.status()),
        };
        let (req, old) = res.into_parts();
        let mut new = problem.response(lang);
        // Keep headers such as Retry-After and Allow.
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        let res = ServiceResponse::new(req, new)
            .map_into_boxed_body()
            .map_into_right_body();
        Ok(ErrorHandlerResponse::Response(res))
    })
}

/// Type of the body the problem middleware produces.
pub type ProblemBody<B> = EitherBody<B, BoxBody>;
