//! One row of the route table, and who may call it. Each area's file lists its own rows
//! (`routes()`); `http::api_routes` joins them, the server registers them and the OpenAPI
//! document is completed from them.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder, Route};

use crate::error::ErrorCode;
use crate::staff::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A bearer token of one of these roles (`admin` is always admitted).
    Staff(&'static [Role]),
}

pub const PHONE: Access = Access::Staff(&[Role::Phone]);
pub const DESK: Access = Access::Staff(&[Role::Desk]);
pub const ANY_STAFF: Access = Access::Staff(&[Role::Phone, Role::Desk]);
pub const ADMIN: Access = Access::Staff(&[]);

/// One row of the route table.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The codes this route answers besides the ones every route of its kind can (see
    /// `openapi::common_errors`).
    pub errors: &'static [ErrorCode],
    pub route: Route,
}

pub(super) fn api<F, Args>(
    method: Method,
    path: &'static str,
    access: Access,
    errors: &'static [ErrorCode],
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

/// Codes that several areas' booking routes share.
pub(super) const BOOKING: &[ErrorCode] = &[
    ErrorCode::ContainsIndividualNumber,
    ErrorCode::SlotNotFound,
    ErrorCode::ProcedureNotFound,
    ErrorCode::DayClosed,
    ErrorCode::SlotFull,
    ErrorCode::WindowNotOpen,
    ErrorCode::WindowClosed,
    ErrorCode::ActiveReservationExists,
];
pub(super) const TICKET: &[ErrorCode] = &[
    ErrorCode::CounterNotFound,
    ErrorCode::TicketNotFound,
    ErrorCode::TicketNotCalled,
];
pub(super) const SECOND_VISIT: &[ErrorCode] = &[
    ErrorCode::ReservationNotFound,
    ErrorCode::SecondVisitNotNeeded,
    ErrorCode::FirstVisitNotCompleted,
    ErrorCode::SecondVisitTooEarly,
    ErrorCode::SecondVisitTooLate,
    ErrorCode::SecondVisitExists,
    ErrorCode::SlotNotFound,
    ErrorCode::DayClosed,
    ErrorCode::SlotFull,
    ErrorCode::WindowNotOpen,
    ErrorCode::WindowClosed,
];
