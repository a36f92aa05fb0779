//! Authorisation, in one place: a handler names the roles it admits by its extractor type
//! (`Authorized<PhoneStaff>`, `Authorized<DeskStaff>`, `Authorized<AnyStaff>`,
//! `Authorized<AdminOnly>`). No bearer token or a dead one: 401; a role not admitted: 403.
//! `admin` is admitted everywhere.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::problem::AppError;
use super::state::AppState;
use crate::error::ErrorCode;
use crate::staff::service::authenticate;
use crate::staff::{Role, StaffUser};
use crate::tokens::looks_like_token;

/// Which roles an endpoint admits (besides `admin`, which is always admitted).
pub(crate) trait Policy {
    const ROLES: &'static [Role];
}

/// Phone bookings and cancellations: phone staff.
pub(crate) struct PhoneStaff;
/// The day's queue: front-desk staff.
pub(crate) struct DeskStaff;
/// Reading reservations: every staff role.
pub(crate) struct AnyStaff;
/// Administration.
pub(crate) struct AdminOnly;

impl Policy for PhoneStaff {
    const ROLES: &'static [Role] = &[Role::Phone];
}
impl Policy for DeskStaff {
    const ROLES: &'static [Role] = &[Role::Desk];
}
impl Policy for AnyStaff {
    const ROLES: &'static [Role] = &[Role::Phone, Role::Desk];
}
impl Policy for AdminOnly {
    const ROLES: &'static [Role] = &[];
}

pub(crate) struct Authorized<P: Policy> {
    pub user: StaffUser,
    _policy: PhantomData<P>,
}

impl<P: Policy> std::ops::Deref for Authorized<P> {
    type Target = StaffUser;
    fn deref(&self) -> &StaffUser {
        &self.user
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && looks_like_token(token)).then(|| token.to_string())
}

impl<P: Policy + 'static> FromRequest for Authorized<P> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::unexpected(anyhow::anyhow!("no app state")))?;
            let token = token.ok_or(ErrorCode::Unauthenticated)?;
            let now = state.clock.now();
            let user = state
                .db
                .run(move |conn| authenticate(conn, &token, now))
                .await?;
            if user.role == Role::Admin || P::ROLES.contains(&user.role) {
                Ok(Authorized {
                    user,
                    _policy: PhantomData,
                })
            } else {
                Err(ErrorCode::Forbidden.into())
            }
        })
    }
}
