//! One row of the route table, and who may call it. Each area's file lists its own rows
//! (`routes()`); `http::api_routes` joins them, the server registers them and the OpenAPI
//! document is completed from them.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder, Route};

use super::problem::Refusal;
use crate::error::ErrorCode;
use crate::staff::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A bearer token of one of these roles (`admin` is always admitted).
    Staff(&'static [Role]),
}

pub(crate) const PHONE: Access = Access::Staff(&[Role::Phone]);
pub(crate) const DESK: Access = Access::Staff(&[Role::Desk]);
/// Check-ins and walk-in tickets (`auth::CounterStaff`): a kiosk too, at its own counter.
pub(crate) const COUNTER: Access = Access::Staff(&[Role::Desk, Role::Kiosk]);
pub(crate) const ANY_STAFF: Access = Access::Staff(&[Role::Phone, Role::Desk]);
pub(crate) const ADMIN: Access = Access::Staff(&[]);
/// A staff member's own account (`auth::Myself`): every role but a kiosk.
pub(crate) const MYSELF: Access = ANY_STAFF;
/// One's own session, who am I and sign out (`auth::OwnSession`): every role.
pub(crate) const OWN_SESSION: Access = Access::Staff(&[Role::Phone, Role::Desk, Role::Kiosk]);

/// One row of the route table.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The codes this route answers besides the ones every route of its kind can (see
    /// `openapi::common_errors`): those of the error types its handler returns, and the
    /// codes it answers by itself ([`codes`]).
    pub errors: Vec<ErrorCode>,
    pub route: Route,
}

pub(super) fn api<F, Args>(
    method: Method,
    path: &'static str,
    access: Access,
    errors: Vec<ErrorCode>,
    handler: F,
) -> ApiRoute
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    ApiRoute {
        method,
        path,
        access,
        errors,
        route: web::route().to(handler),
    }
}

/// A route's codes: every code of the error types `T` its handler returns (a tuple for
/// several; see [`Refusal`]), and `own`, the codes the handler answers by itself.
pub(super) fn codes<T: Refusal>(own: &[ErrorCode]) -> Vec<ErrorCode> {
    let mut all = T::codes();
    all.extend_from_slice(own);
    let mut seen = Vec::with_capacity(all.len());
    for c in all {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen
}

/// The codes of a handler that returns no domain error, only codes of its own.
pub(super) fn own(codes: &[ErrorCode]) -> Vec<ErrorCode> {
    codes.to_vec()
}
