//! The pages' rows of the route table (the handlers are in `crate::web`).

use actix_web::http::Method;

use super::route::{api, own, Access, ApiRoute};

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use crate::web as pages;
    use Access::Public;
    use Method as M;
    vec![
        api(M::GET, "/", Public, own(&[]), pages::get_resident_page),
        api(
            M::GET,
            "/accessibility",
            Public,
            own(&[]),
            pages::get_accessibility_page,
        ),
        api(
            M::GET,
            "/booking/verify",
            Public,
            own(&[]),
            pages::get_verify_page,
        ),
        api(
            M::GET,
            "/booking/manage",
            Public,
            own(&[]),
            pages::get_manage_page,
        ),
        api(
            M::GET,
            "/staff",
            Public,
            own(&[]),
            pages::get_staff_redirect,
        ),
        api(M::GET, "/staff/", Public, own(&[]), pages::get_staff_page),
        api(
            M::GET,
            "/display/{counter}",
            Public,
            own(&[]),
            pages::get_display_page,
        ),
        api(
            M::GET,
            "/ticket/{public_id}",
            Public,
            own(&[]),
            pages::get_ticket_page,
        ),
        api(
            M::GET,
            "/kiosk/{counter}",
            Public,
            own(&[]),
            pages::get_kiosk_page,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    crate::web::get_resident_page,
    crate::web::get_accessibility_page,
    crate::web::get_verify_page,
    crate::web::get_manage_page,
    crate::web::get_staff_redirect,
    crate::web::get_staff_page,
    crate::web::get_display_page,
    crate::web::get_ticket_page,
    crate::web::get_kiosk_page
))]
pub(super) struct Paths;
