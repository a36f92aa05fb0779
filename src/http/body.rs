//! Request bodies: read within a size limit and a time limit, parsed only when the handler
//! asks, after authentication and authorisation have run.
//!
//! actix polls a handler's extractors together, so a `web::Json` next to the staff extractor
//! could answer 400/415 before the token is checked, telling a stranger the body's shape.
//! [`JsonBody`] never fails as an extractor: it keeps what went wrong (too large, too slow,
//! not JSON) and reports it from [`JsonBody::parse`]. Malformed JSON is 400 `bad_request`;
//! well-formed JSON of the wrong shape (`null`, a wrong type, a missing field) is 422
//! `validation_failed` naming the field, never a Rust type.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::problem::AppError;
use super::state::AppState;
use crate::error::{ErrorCode, Facts, FieldError, FieldProblem, Invalid, JsonType};

/// A JSON body, read but not yet parsed.
pub(crate) struct JsonBody<T> {
    read: Result<Bytes, AppError>,
    json_content_type: bool,
    _type: PhantomData<T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as `T`: 413 / 408 / 415 / 400 / 422 as described above.
    pub(crate) fn parse(self) -> Result<T, AppError> {
        let bytes = self.read?;
        if !self.json_content_type {
            return Err(ErrorCode::UnsupportedMediaType.into());
        }
        parse_json(&bytes)
    }

    /// Like [`JsonBody::parse`], but an empty body (with or without a content type) is `None`.
    pub(crate) fn parse_optional(self) -> Result<Option<T>, AppError> {
        match &self.read {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(None),
            _ => self.parse().map(Some),
        }
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

impl<T: 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (limit, timeout) = req
            .app_data::<web::Data<AppState>>()
            .map(|s| {
                (
                    s.settings.server.max_body_bytes,
                    Duration::from_secs(s.settings.server.body_timeout_seconds.max(1)),
                )
            })
            .unwrap_or((64 * 1024, Duration::from_secs(10)));
        let json_content_type = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let too_large = || {
                AppError::new(ErrorCode::PayloadTooLarge).with_facts(Facts {
                    count: Some(limit as i64),
                    ..Facts::default()
                })
            };
            let read = if declared.is_some_and(|n| n > limit) {
                Err(too_large())
            } else {
                let reading = async {
                    let mut buf = BytesMut::new();
                    while let Some(chunk) = payload.next().await {
                        let chunk =
                            chunk.map_err(|e| AppError::bad_request(format!("body: {e}")))?;
                        if buf.len() + chunk.len() > limit {
                            return Err(too_large());
                        }
                        buf.extend_from_slice(&chunk);
                    }
                    Ok(buf.freeze())
                };
                // A body trickled a byte at a time must not hold its connection for ever.
                match tokio::time::timeout(timeout, reading).await {
                    Ok(r) => r,
                    Err(_) => Err(ErrorCode::RequestTimeout.into()),
                }
            };
            Ok(JsonBody {
                read,
                json_content_type,
                _type: PhantomData,
            })
        })
    }
}

/// Parses JSON: a syntax error is 400, a wrong shape 422 naming the field.
/// A token from the path (a manage link's), or `missing` when it cannot be one: refused
/// before any database work, and the same refusal as a token that matches nothing.
pub(crate) fn path_token<E>(path: actix_web::web::Path<String>, missing: E) -> Result<String, E> {
    let token = path.into_inner();
    if crate::tokens::looks_like_token(&token) {
        Ok(token)
    } else {
        Err(missing)
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // Well-formed first (so `{} {}` is malformed, not a missing field), then the shape.
    let mut check = serde_json::Deserializer::from_slice(bytes);
    serde::de::IgnoredAny::deserialize(&mut check)
        .and_then(|_| check.end())
        .map_err(|e| {
            AppError::bad_request(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
    // Every body is an object: `[]` must not fill a struct from a list, as serde allows.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Invalid::field(
            "body",
            FieldProblem::WrongType {
                expected: JsonType::Object,
            },
        )
        .into());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        shape_error(&path, &inner)
    })?;
    de.end().map_err(|e| {
        AppError::bad_request(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    Ok(value)
}

fn shape_error(path: &str, e: &serde_json::Error) -> AppError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => AppError::bad_request(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        )),
        Category::Data => {
            let message = e.to_string();
            let here = if path == "." || path.is_empty() {
                String::new()
            } else {
                path.to_string()
            };
            let (field, problem) = if let Some(missing) = between(&message, "missing field `", "`")
            {
                let field = if here.is_empty() {
                    missing.to_string()
                } else {
                    format!("{here}.{missing}")
                };
                (field, FieldProblem::Required)
            } else if let Some(expected) = message.split("expected ").nth(1) {
                let field = if here.is_empty() { "body".into() } else { here };
                (
                    field,
                    FieldProblem::WrongType {
                        expected: json_type(expected),
                    },
                )
            } else {
                let field = if here.is_empty() { "body".into() } else { here };
                (
                    field,
                    FieldProblem::WrongType {
                        expected: JsonType::String,
                    },
                )
            };
            Invalid::fields(vec![FieldError::new(field, problem)]).into()
        }
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = s.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

/// The JSON type serde expected, from its message ("expected a string", "expected u32",
/// "expected struct X"), in JSON's words.
fn json_type(expected: &str) -> JsonType {
    let e = expected.trim();
    if e.starts_with("struct") || e.starts_with("a map") || e.starts_with("map") {
        JsonType::Object
    } else if e.starts_with("a sequence") || e.starts_with("a tuple") || e.starts_with("tuple") {
        JsonType::Array
    } else if e.starts_with("a boolean") || e.starts_with("bool") {
        JsonType::Boolean
    } else if e.starts_with("f32") || e.starts_with("f64") || e.starts_with("a float") {
        JsonType::Number
    } else if e.starts_with('i') || e.starts_with('u') || e.starts_with("an integer") {
        JsonType::Integer
    } else {
        JsonType::String
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        capacity: i32,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    fn fail(json: &str) -> AppError {
        parse_json::<Body>(json.as_bytes()).expect_err(json)
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        for j in ["{", "{\"name\": }", "not json", "{} {}"] {
            assert_eq!(fail(j).code, ErrorCode::BadRequest, "{j}");
        }
    }

    #[test]
    fn the_wrong_shape_names_the_field_and_never_a_rust_type() {
        let e = fail("null");
        assert_eq!(e.code, ErrorCode::ValidationFailed);
        assert_eq!(e.errors[0].field, "body");
        assert_eq!(
            e.errors[0].problem,
            FieldProblem::WrongType {
                expected: JsonType::Object
            }
        );
        let e = fail(r#"{"name": 3, "capacity": 1}"#);
        assert_eq!(e.errors[0].field, "name");
        let e = fail(r#"{"name": "a", "capacity": "x"}"#);
        assert_eq!(
            (e.errors[0].field.as_str(), &e.errors[0].problem),
            (
                "capacity",
                &FieldProblem::WrongType {
                    expected: JsonType::Integer
                }
            )
        );
        let e = fail(r#"{"name": "a"}"#);
        assert_eq!(
            (e.errors[0].field.as_str(), &e.errors[0].problem),
            ("capacity", &FieldProblem::Required)
        );
        let e = fail(r#"{"name": "a", "capacity": 1, "inner": {"flag": "yes"}}"#);
        assert_eq!(e.errors[0].field, "inner.flag");
        for lang in [crate::error::Lang::En, crate::error::Lang::Ja] {
            let m = e.errors[0].problem.message(lang);
            assert!(!m.contains("struct") && !m.contains("bool"), "{m}");
        }
    }
}
