//! The codes each operation of the served OpenAPI document lists, which every error answer is
//! held to (see `problem::problem_middleware`): the document is the contract, so an answer
//! that the document does not describe is a defect of the route, caught by any test or fuzz
//! run that reaches it.

use serde_json::Value;

use crate::error::ErrorCode;

/// The codes each operation of a served document lists (its problem+json examples), by method
/// and path pattern: what [`super::problem::problem_middleware`] holds an answer to.
#[derive(Debug, Default)]
pub(crate) struct DocumentedCodes(std::collections::HashMap<(String, String), Vec<ErrorCode>>);

impl DocumentedCodes {
    pub(crate) fn of(doc: &Value) -> DocumentedCodes {
        let mut map = std::collections::HashMap::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let mut codes = Vec::new();
                let responses = op["responses"].as_object().cloned().unwrap_or_default();
                for response in responses.values() {
                    let examples = &response["content"]["application/problem+json"]["examples"];
                    for name in examples.as_object().map(|e| e.keys()).into_iter().flatten() {
                        codes.extend(ErrorCode::ALL.iter().filter(|c| c.as_str() == name));
                    }
                }
                map.insert((method.to_ascii_uppercase(), path.clone()), codes);
            }
        }
        DocumentedCodes(map)
    }

    /// Whether the operation at `method` `pattern` documents `code`; None for a path that is
    /// not an operation of the document (an asset, an unknown path).
    pub(crate) fn lists(&self, method: &str, pattern: &str, code: ErrorCode) -> Option<bool> {
        let method = if method == "HEAD" { "GET" } else { method };
        self.0
            .get(&(method.to_string(), pattern.to_string()))
            .map(|codes| codes.contains(&code))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};
    use serde_json::json;

    use super::*;
    use crate::http::problem::{problem_middleware, AppError};

    async fn refuse_with(code: ErrorCode) -> Result<HttpResponse, AppError> {
        Err(AppError::new(code))
    }

    /// A document whose one operation lists `slot_full` only.
    fn document() -> DocumentedCodes {
        DocumentedCodes::of(&json!({"paths": {"/things/{id}": {"post": {"responses": {
            "409": {"content": {"application/problem+json": {"examples": {
                "slot_full": {"value": {}}}}}}}}}}}))
    }

    #[actix_web::test]
    async fn an_answer_with_a_code_its_route_does_not_document_fails_in_a_debug_build() {
        let app = test::init_service(
            App::new()
                .wrap(problem_middleware())
                .app_data(web::Data::new(document()))
                .route(
                    "/things/{id}",
                    web::post().to(|| refuse_with(ErrorCode::DayClosed)),
                )
                .route(
                    "/other/{id}",
                    web::post().to(|| refuse_with(ErrorCode::DayClosed)),
                ),
        )
        .await;
        let res = test::call_service(
            &app,
            test::TestRequest::post().uri("/things/1").to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), 500);
        assert_eq!(
            res.headers()
                .get("x-madoguchi-undocumented-code")
                .and_then(|v| v.to_str().ok()),
            Some("day_closed")
        );
        // A path the document does not describe is not held to it.
        let res =
            test::call_service(&app, test::TestRequest::post().uri("/other/1").to_request()).await;
        assert_eq!(res.status().as_u16(), 409);
    }

    #[actix_web::test]
    async fn a_documented_code_passes_as_it_is() {
        let app = test::init_service(
            App::new()
                .wrap(problem_middleware())
                .app_data(web::Data::new(document()))
                .route(
                    "/things/{id}",
                    web::post().to(|| refuse_with(ErrorCode::SlotFull)),
                ),
        )
        .await;
        let res = test::call_service(
            &app,
            test::TestRequest::post().uri("/things/1").to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), 409);
    }
}
