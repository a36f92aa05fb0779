//! Authorisation, in one place: a handler names the roles it admits by its extractor type
//! (`Authorized<PhoneStaff>`, `Authorized<DeskStaff>`, `Authorized<AnyStaff>`,
//! `Authorized<AdminOnly>`, `Authorized<Myself>`). No bearer token or a dead one (expired,
//! idle too long, ended): 401; a role not admitted: 403; from a network the role may not work
//! from: 403 `network_not_allowed`; a session that must enrol a second factor first: 403
//! `totp_enrolment_required` everywhere but `Myself`'s routes. `admin` is admitted everywhere.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::problem::AppError;
use super::state::AppState;
use crate::error::ErrorCode;
use crate::staff::service::StaffError;
use crate::staff::sign_in::{authenticate, touch};
use crate::staff::{Role, StaffUser};
use crate::tokens::looks_like_token;

/// Which roles an endpoint admits (besides `admin`, which is always admitted).
pub(crate) trait Policy {
    const ROLES: &'static [Role];
    /// Whether a session that must enrol a second factor first may use the route.
    const DURING_ENROLMENT: bool = false;
}

/// Phone bookings and cancellations: phone staff.
pub(crate) struct PhoneStaff;
/// The day's queue: front-desk staff.
pub(crate) struct DeskStaff;
/// Checking in and issuing tickets at a counter: front-desk staff, and a kiosk at its own
/// counter (the handler checks which with [`Authorized::serves`]).
pub(crate) struct CounterStaff;
/// Reading reservations: every staff role but a kiosk.
pub(crate) struct AnyStaff;
/// Administration.
pub(crate) struct AdminOnly;
/// A staff member's own account (who am I, sign out, password, second factor): every role,
/// and a session that must enrol first.
pub(crate) struct Myself;
/// One's own session (who am I, sign out): every role, a kiosk too (which has no password or
/// second factor of its own to change: the city's staff set it up).
pub(crate) struct OwnSession;

impl Policy for PhoneStaff {
    const ROLES: &'static [Role] = &[Role::Phone];
}
impl Policy for DeskStaff {
    const ROLES: &'static [Role] = &[Role::Desk];
}
impl Policy for CounterStaff {
    const ROLES: &'static [Role] = &[Role::Desk, Role::Kiosk];
}
impl Policy for AnyStaff {
    const ROLES: &'static [Role] = &[Role::Phone, Role::Desk];
}
impl Policy for AdminOnly {
    const ROLES: &'static [Role] = &[];
}
impl Policy for Myself {
    const ROLES: &'static [Role] = &[Role::Phone, Role::Desk];
    const DURING_ENROLMENT: bool = true;
}
impl Policy for OwnSession {
    const ROLES: &'static [Role] = &[Role::Phone, Role::Desk, Role::Kiosk];
    const DURING_ENROLMENT: bool = true;
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

impl<P: Policy> Authorized<P> {
    /// Whether the account may work at `counter`: a kiosk only at its own (403 elsewhere),
    /// every other role admitted by the policy anywhere.
    pub(crate) fn serves(&self, counter: &str) -> Result<(), AppError> {
        match (self.user.role, self.user.counter.as_deref()) {
            (Role::Kiosk, Some(own)) if own == counter => Ok(()),
            (Role::Kiosk, _) => Err(ErrorCode::Forbidden.into()),
            _ => Ok(()),
        }
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
        let ip = state.as_ref().and_then(|s| s.clients.addr(req));
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::unexpected(anyhow::anyhow!("no app state")))?;
            let token = token.ok_or(ErrorCode::Unauthenticated)?;
            let now = state.clock.now();
            let idle = state.settings.staff.idle_minutes;
            let user = state
                .db
                .run(move |conn| authenticate(conn, &token, idle, now))
                .await?;
            if user.touch {
                // At most once a minute per session; a failure to note it does not refuse.
                let session = user.session_id.clone();
                let noted = state.db.write(move |conn| touch(conn, &session, now)).await;
                if let Err(e) = noted {
                    tracing::warn!(error = %e, "a session's last use could not be noted");
                }
            }
            if !state.staff_networks.admits(user.role, ip) {
                return Err(StaffError::NetworkNotAllowed.into());
            }
            if user.enrol_only && !P::DURING_ENROLMENT {
                return Err(StaffError::EnrolmentRequired.into());
            }
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
