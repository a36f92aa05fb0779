//! Errors as `application/problem+json` with a stable `code`.
//!
//! Handlers return [`AppError`]: an [`ErrorCode`] with the [`Facts`] of the occurrence, field
//! errors and typed extra members. Domain errors convert into it here, at the edge, so no
//! domain module depends on actix. The response is rendered in English and the [`Problem`]
//! is left in the response extensions; [`problem_middleware`] re-renders it in Japanese for
//! `Accept-Language: ja`, and turns actix's own rejections (unknown path, wrong method, …)
//! into problem+json too, so no error ever leaves as text or HTML.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::documented::DocumentedCodes;
use super::json::{instant, SlotJson};
use crate::calendar::{CalendarError, ClosedReason};
use crate::error::{ErrorCode, Facts, FieldError, FieldProblem, Invalid, Lang};
use crate::operations::AdminError;
use crate::queue::service::DeskError;
use crate::reservations::BookingError;
use crate::staff::service::StaffError;
use crate::verification::VerificationError;

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Members a problem adds for some codes, so a client can act on them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub(crate) struct ProblemExtra {
    /// `slot_full`: up to five bookable slots nearest the one asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<SlotJson>>,
    /// `window_not_open`: when booking for the day opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_opens_at: Option<String>,
    /// `window_closed`: when booking for the day closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_closed_at: Option<String>,
    /// `day_closed`, `day_already_closed`: why the counter is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<ClosedReason>,
    /// `capacity_below_booked`: seats already booked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booked: Option<i64>,
    /// `day_has_reservations`: how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<i64>,
    /// `wrong_counter`: the reservation's counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// `not_today`: the reservation's date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// `already_checked_in`: the ticket the visitor already holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// `active_reservation_exists` for a party: the member (their name as given) who already
    /// holds an active booking for their procedure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_member: Option<String>,
}

/// An error on its way to the client.
#[derive(Debug, thiserror::Error)]
#[error("{}", code.as_str())]
pub(crate) struct AppError {
    pub code: ErrorCode,
    pub facts: Box<Facts>,
    pub errors: Vec<FieldError>,
    pub extra: Box<ProblemExtra>,
    /// A 500's cause, logged once where the response is made; never shown.
    #[source]
    pub cause: Option<anyhow::Error>,
}

impl AppError {
    pub(crate) fn new(code: ErrorCode) -> Self {
        AppError {
            code,
            facts: Box::default(),
            errors: Vec::new(),
            extra: Box::default(),
            cause: None,
        }
    }

    pub(crate) fn with_facts(mut self, facts: Facts) -> Self {
        self.facts = Box::new(facts);
        self
    }

    pub(crate) fn with_extra(mut self, extra: ProblemExtra) -> Self {
        self.extra = Box::new(extra);
        self
    }

    pub(crate) fn unexpected(cause: impl Into<anyhow::Error>) -> Self {
        AppError {
            cause: Some(cause.into()),
            ..AppError::new(ErrorCode::InternalError)
        }
    }

    pub(crate) fn bad_request(what: impl Into<String>) -> Self {
        AppError::new(ErrorCode::BadRequest).with_facts(Facts {
            text: Some(what.into()),
            ..Facts::default()
        })
    }

    /// 503 `busy`: a public request the database could not take in time; the client is told
    /// when to try again.
    pub(crate) fn busy() -> Self {
        AppError::new(ErrorCode::Busy).with_facts(Facts {
            retry_after_s: Some(1),
            ..Facts::default()
        })
    }

    pub(crate) fn rate_limited(retry_after_s: u64) -> Self {
        AppError::new(ErrorCode::RateLimited).with_facts(Facts {
            retry_after_s: Some(retry_after_s.max(1)),
            ..Facts::default()
        })
    }
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::new(code)
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::unexpected(e)
    }
}

/// An error type whose values answer with codes of a known set. Each conversion below
/// (`From<…> for AppError`) has its `Refusal` beside it, naming every code its arms produce; a
/// route's row in the table declares the error types its handler returns (`route::codes`), so
/// the OpenAPI document lists what the errors can say, and in a debug build a route that answers
/// a code its document omits fails loudly (see [`problem_middleware`]).
pub(crate) trait Refusal {
    /// Every code a value of this type can answer with.
    fn codes() -> Vec<ErrorCode>;
}

impl Refusal for Invalid {
    fn codes() -> Vec<ErrorCode> {
        vec![
            ErrorCode::ValidationFailed,
            ErrorCode::ContainsIndividualNumber,
        ]
    }
}

impl Refusal for CalendarError {
    fn codes() -> Vec<ErrorCode> {
        vec![
            ErrorCode::CounterNotFound,
            ErrorCode::SlotNotFound,
            ErrorCode::DayClosed,
        ]
    }
}

impl Refusal for VerificationError {
    fn codes() -> Vec<ErrorCode> {
        vec![
            ErrorCode::VerificationNotFound,
            ErrorCode::VerificationExpired,
            ErrorCode::VerificationUsed,
            ErrorCode::RateLimited,
        ]
    }
}

impl Refusal for BookingError {
    fn codes() -> Vec<ErrorCode> {
        use ErrorCode as C;
        let mut codes = vec![
            C::ProcedureNotFound,
            C::ReservationNotFound,
            C::WindowNotOpen,
            C::WindowClosed,
            C::SlotFull,
            C::ActiveReservationExists,
            C::TooLateToCancel,
            C::TooLateToChange,
            C::ReservationCancelled,
            C::SecondVisitNotNeeded,
            C::FirstVisitNotCompleted,
            C::SecondVisitTooEarly,
            C::SecondVisitTooLate,
            C::SecondVisitExists,
            C::LotteryPeriod,
            C::HoldNotFound,
            C::HoldExpired,
            C::HoldOtherSlot,
            C::FairStartDrawing,
            C::RateLimited,
        ];
        codes.extend(Invalid::codes());
        codes.extend(CalendarError::codes());
        codes.extend(VerificationError::codes());
        codes
    }
}

impl Refusal for crate::lottery::LotteryError {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = vec![
            ErrorCode::LotteryNotFound,
            ErrorCode::LotteryEntryNotFound,
            ErrorCode::LotteryConflict,
            ErrorCode::LotteryNotOpen,
            ErrorCode::EntryExists,
            ErrorCode::LotteryDrawn,
        ];
        codes.extend(BookingError::codes());
        codes
    }
}

impl From<crate::lottery::LotteryError> for AppError {
    fn from(e: crate::lottery::LotteryError) -> Self {
        use crate::lottery::LotteryError as L;
        match e {
            L::Invalid(e) => e.into(),
            L::Calendar(e) => e.into(),
            L::Booking(e) => e.into(),
            L::NotFound => ErrorCode::LotteryNotFound.into(),
            L::EntryNotFound => ErrorCode::LotteryEntryNotFound.into(),
            L::Conflict => ErrorCode::LotteryConflict.into(),
            L::NotOpen => ErrorCode::LotteryNotOpen.into(),
            L::EntryExists => ErrorCode::EntryExists.into(),
            L::Drawn => ErrorCode::LotteryDrawn.into(),
            L::LeaseLost => {
                AppError::unexpected(anyhow::anyhow!("a lottery draw's lease was lost"))
            }
            L::Db(e) => e.into(),
        }
    }
}

impl Refusal for crate::waitlist::WaitlistError {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = vec![
            ErrorCode::SeatsAvailable,
            ErrorCode::WaitlistNotFound,
            ErrorCode::OfferExpired,
            ErrorCode::NoOffer,
        ];
        codes.extend(BookingError::codes());
        codes
    }
}

impl Refusal for StaffError {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = vec![
            ErrorCode::LoginTaken,
            ErrorCode::StaffNotFound,
            ErrorCode::LastAdmin,
            ErrorCode::InvalidCredentials,
            ErrorCode::RateLimited,
            ErrorCode::Unauthenticated,
            ErrorCode::SecondFactorRequired,
            ErrorCode::TotpEnrolmentRequired,
            ErrorCode::NetworkNotAllowed,
            ErrorCode::TotpAlreadyEnrolled,
            ErrorCode::TotpNotStarted,
            ErrorCode::TotpNotEnrolled,
            ErrorCode::OwnTotp,
        ];
        codes.extend(Invalid::codes());
        codes
    }
}

impl Refusal for AdminError {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = vec![
            ErrorCode::CapacityBelowBooked,
            ErrorCode::DayAlreadyClosed,
            ErrorCode::DayHasReservations,
            ErrorCode::ClosureNotFound,
        ];
        codes.extend(Invalid::codes());
        codes.extend(CalendarError::codes());
        codes.extend(BookingError::codes());
        codes
    }
}

impl Refusal for DeskError {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = vec![
            ErrorCode::ProcedureNotFound,
            ErrorCode::ReservationNotFound,
            ErrorCode::ReservationCancelled,
            ErrorCode::AlreadyCheckedIn,
            ErrorCode::WrongCounter,
            ErrorCode::NotToday,
            ErrorCode::TicketNotFound,
            ErrorCode::TicketNotCalled,
            ErrorCode::DeskServing,
            ErrorCode::AlertUnavailable,
        ];
        codes.extend(CalendarError::codes());
        codes
    }
}

impl<A: Refusal, B: Refusal> Refusal for (A, B) {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = A::codes();
        codes.extend(B::codes());
        codes
    }
}

impl<A: Refusal, B: Refusal, C: Refusal> Refusal for (A, B, C) {
    fn codes() -> Vec<ErrorCode> {
        let mut codes = <(A, B)>::codes();
        codes.extend(C::codes());
        codes
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::unexpected(anyhow::Error::new(e).context("database query"))
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        AppError {
            facts: Box::new(Facts {
                count: Some(e.errors.len() as i64),
                ..Facts::default()
            }),
            errors: e.errors,
            ..AppError::new(e.code)
        }
    }
}

impl From<CalendarError> for AppError {
    fn from(e: CalendarError) -> Self {
        match e {
            CalendarError::CounterNotFound => ErrorCode::CounterNotFound.into(),
            CalendarError::SlotNotFound => ErrorCode::SlotNotFound.into(),
            CalendarError::DayClosed { date, reason } => AppError::new(ErrorCode::DayClosed)
                .with_facts(Facts {
                    date: Some(date),
                    closed_reason: Some(reason.words()),
                    ..Facts::default()
                })
                .with_extra(ProblemExtra {
                    closed_reason: Some(reason),
                    ..ProblemExtra::default()
                }),
            CalendarError::Db(e) => e.into(),
        }
    }
}

impl From<VerificationError> for AppError {
    fn from(e: VerificationError) -> Self {
        match e {
            VerificationError::NotFound => ErrorCode::VerificationNotFound.into(),
            VerificationError::Expired => ErrorCode::VerificationExpired.into(),
            VerificationError::Used => ErrorCode::VerificationUsed.into(),
            VerificationError::RateLimited { retry_after_s } => {
                AppError::rate_limited(retry_after_s)
            }
            VerificationError::Db(e) => e.into(),
        }
    }
}

/// An override on a slot that has started: still `window_closed` (the contract's code), in
/// words that say the slot started, and when.
fn slot_started(date: chrono::NaiveDate, at: String) -> AppError {
    AppError::new(ErrorCode::WindowClosed).with_facts(Facts {
        date: Some(date),
        at: Some(at),
        started: true,
        ..Facts::default()
    })
}

/// `window_not_open` / `window_closed`: the day and the instant, in the words and as a field of
/// its own (`booking_opens_at` / `booking_closed_at`).
fn window_problem(code: ErrorCode, date: chrono::NaiveDate, at: String) -> AppError {
    let extra = if code == ErrorCode::WindowNotOpen {
        ProblemExtra {
            booking_opens_at: Some(at.clone()),
            ..ProblemExtra::default()
        }
    } else {
        ProblemExtra {
            booking_closed_at: Some(at.clone()),
            ..ProblemExtra::default()
        }
    };
    AppError::new(code)
        .with_facts(Facts {
            date: Some(date),
            at: Some(at),
            ..Facts::default()
        })
        .with_extra(extra)
}

impl From<BookingError> for AppError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::Invalid(e) => e.into(),
            BookingError::Calendar(e) => e.into(),
            BookingError::Verification(e) => e.into(),
            BookingError::ProcedureNotFound => ErrorCode::ProcedureNotFound.into(),
            BookingError::ReservationNotFound => ErrorCode::ReservationNotFound.into(),
            BookingError::WindowNotOpen { date, opens_at, tz } => {
                window_problem(ErrorCode::WindowNotOpen, date, instant(opens_at, tz))
            }
            BookingError::WindowClosed {
                date,
                closed_at,
                tz,
            } => window_problem(ErrorCode::WindowClosed, date, instant(closed_at, tz)),
            BookingError::SlotStarted {
                date,
                starts_at,
                tz,
            } => slot_started(date, instant(starts_at, tz)),
            BookingError::SlotFull {
                alternatives, tz, ..
            } => AppError::new(ErrorCode::SlotFull).with_extra(ProblemExtra {
                alternatives: Some(alternatives.iter().map(|s| SlotJson::of(s, tz)).collect()),
                ..ProblemExtra::default()
            }),
            BookingError::PersonHasReservation => ErrorCode::ActiveReservationExists.into(),
            BookingError::MemberHasReservation { name } => {
                AppError::new(ErrorCode::ActiveReservationExists).with_extra(ProblemExtra {
                    party_member: Some(name),
                    ..ProblemExtra::default()
                })
            }
            BookingError::AddressLimit { max } => AppError::new(ErrorCode::ActiveReservationExists)
                .with_facts(Facts {
                    count: Some(max),
                    ..Facts::default()
                }),
            BookingError::TooLateToCancel => ErrorCode::TooLateToCancel.into(),
            BookingError::TooLateToChange => ErrorCode::TooLateToChange.into(),
            BookingError::Cancelled => ErrorCode::ReservationCancelled.into(),
            BookingError::SecondVisitNotNeeded => ErrorCode::SecondVisitNotNeeded.into(),
            BookingError::FirstVisitNotCompleted => ErrorCode::FirstVisitNotCompleted.into(),
            BookingError::SecondVisitTooEarly { from } => {
                AppError::new(ErrorCode::SecondVisitTooEarly).with_facts(Facts {
                    date: Some(from),
                    ..Facts::default()
                })
            }
            BookingError::SecondVisitTooLate { until } => {
                AppError::new(ErrorCode::SecondVisitTooLate).with_facts(Facts {
                    date: Some(until),
                    ..Facts::default()
                })
            }
            BookingError::SecondVisitExists => ErrorCode::SecondVisitExists.into(),
            BookingError::LotteryPeriod => ErrorCode::LotteryPeriod.into(),
            BookingError::HoldNotFound => ErrorCode::HoldNotFound.into(),
            BookingError::HoldExpired => ErrorCode::HoldExpired.into(),
            BookingError::HoldOtherSlot => ErrorCode::HoldOtherSlot.into(),
            BookingError::FairStartDrawing { until, tz } => {
                let at = instant(until, tz);
                AppError::new(ErrorCode::FairStartDrawing).with_facts(Facts {
                    at: Some(at),
                    ..Facts::default()
                })
            }
            BookingError::HoldLimit { retry_after_s } => AppError::rate_limited(retry_after_s),
            BookingError::Db(e) => e.into(),
            BookingError::Unexpected(e) => e.into(),
        }
    }
}

impl From<crate::waitlist::WaitlistError> for AppError {
    fn from(e: crate::waitlist::WaitlistError) -> Self {
        use crate::waitlist::WaitlistError as W;
        match e {
            W::Booking(e) => e.into(),
            W::SeatsAvailable => ErrorCode::SeatsAvailable.into(),
            W::NotFound => ErrorCode::WaitlistNotFound.into(),
            W::OfferExpired => ErrorCode::OfferExpired.into(),
            W::NoOffer => ErrorCode::NoOffer.into(),
            W::Db(e) => e.into(),
        }
    }
}

impl From<StaffError> for AppError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::Invalid(e) => e.into(),
            StaffError::LoginTaken => ErrorCode::LoginTaken.into(),
            StaffError::NotFound => ErrorCode::StaffNotFound.into(),
            StaffError::LastAdmin => ErrorCode::LastAdmin.into(),
            StaffError::InvalidCredentials => ErrorCode::InvalidCredentials.into(),
            StaffError::RateLimited { retry_after_s } => AppError::rate_limited(retry_after_s),
            StaffError::Unauthenticated => ErrorCode::Unauthenticated.into(),
            StaffError::SecondFactorRequired => ErrorCode::SecondFactorRequired.into(),
            StaffError::EnrolmentRequired => ErrorCode::TotpEnrolmentRequired.into(),
            StaffError::NetworkNotAllowed => ErrorCode::NetworkNotAllowed.into(),
            StaffError::TotpAlreadyEnrolled => ErrorCode::TotpAlreadyEnrolled.into(),
            StaffError::TotpNotStarted => ErrorCode::TotpNotStarted.into(),
            StaffError::TotpNotEnrolled => ErrorCode::TotpNotEnrolled.into(),
            StaffError::OwnTotp => ErrorCode::OwnTotp.into(),
            StaffError::WrongCode => Invalid::field("totp", FieldProblem::WrongCode).into(),
            StaffError::WrongCurrentPassword => {
                Invalid::field("current_password", FieldProblem::WrongPassword).into()
            }
            StaffError::Db(e) => e.into(),
            StaffError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AdminError> for AppError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(e) => e.into(),
            AdminError::Calendar(e) => e.into(),
            AdminError::Booking(e) => e.into(),
            AdminError::CapacityBelowBooked { booked } => {
                AppError::new(ErrorCode::CapacityBelowBooked)
                    .with_facts(Facts {
                        count: Some(i64::from(booked)),
                        ..Facts::default()
                    })
                    .with_extra(ProblemExtra {
                        booked: Some(i64::from(booked)),
                        ..ProblemExtra::default()
                    })
            }
            AdminError::DayAlreadyClosed { date, reason } => {
                AppError::new(ErrorCode::DayAlreadyClosed)
                    .with_facts(Facts {
                        date: Some(date),
                        closed_reason: Some(reason.words()),
                        ..Facts::default()
                    })
                    .with_extra(ProblemExtra {
                        closed_reason: Some(reason),
                        ..ProblemExtra::default()
                    })
            }
            AdminError::DayHasReservations { date, count } => {
                AppError::new(ErrorCode::DayHasReservations)
                    .with_facts(Facts {
                        date: Some(date),
                        count: Some(count as i64),
                        ..Facts::default()
                    })
                    .with_extra(ProblemExtra {
                        reservations: Some(count as i64),
                        ..ProblemExtra::default()
                    })
            }
            AdminError::ClosureNotFound => ErrorCode::ClosureNotFound.into(),
            AdminError::Db(e) => e.into(),
        }
    }
}

impl From<DeskError> for AppError {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Calendar(e) => e.into(),
            DeskError::ProcedureNotFound => ErrorCode::ProcedureNotFound.into(),
            DeskError::ReservationNotFound => ErrorCode::ReservationNotFound.into(),
            DeskError::ReservationCancelled => ErrorCode::ReservationCancelled.into(),
            DeskError::AlreadyCheckedIn { ticket } => AppError::new(ErrorCode::AlreadyCheckedIn)
                .with_facts(Facts {
                    ticket: ticket.clone(),
                    ..Facts::default()
                })
                .with_extra(ProblemExtra {
                    ticket,
                    ..ProblemExtra::default()
                }),
            DeskError::WrongCounter { counter } => AppError::new(ErrorCode::WrongCounter)
                .with_facts(Facts {
                    counter: Some(counter.clone()),
                    ..Facts::default()
                })
                .with_extra(ProblemExtra {
                    counter: Some(counter),
                    ..ProblemExtra::default()
                }),
            DeskError::NotToday { date } => AppError::new(ErrorCode::NotToday)
                .with_facts(Facts {
                    date: Some(date),
                    ..Facts::default()
                })
                .with_extra(ProblemExtra {
                    date: Some(date.to_string()),
                    ..ProblemExtra::default()
                }),
            DeskError::TicketNotFound { label } => AppError::new(ErrorCode::TicketNotFound)
                .with_facts(Facts {
                    ticket: Some(label),
                    ..Facts::default()
                }),
            DeskError::TicketNotCalled { label, .. } => AppError::new(ErrorCode::TicketNotCalled)
                .with_facts(Facts {
                    ticket: Some(label),
                    ..Facts::default()
                }),
            DeskError::DeskServing { label, desk } => AppError::new(ErrorCode::DeskServing)
                .with_facts(Facts {
                    ticket: Some(label),
                    desk: Some(desk),
                    ..Facts::default()
                }),
            DeskError::NoSuchTicket => ErrorCode::TicketNotFound.into(),
            DeskError::AlertUnavailable => ErrorCode::AlertUnavailable.into(),
            DeskError::Db(e) => e.into(),
            DeskError::Unexpected(e) => e.into(),
        }
    }
}

/// One field's problem as the client sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FieldErrorJson {
    /// The JSON path of the field (`name`, `slot_id`, `body` for the whole body).
    pub field: String,
    /// A stable name for the problem (`required`, `too_long`, `not_katakana`, …).
    pub code: &'static str,
    /// In the response's language.
    pub message: String,
}

/// `application/problem+json` (RFC 9457), with a stable `code`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://madoguchi.example/problems/slot-full", "title": "この時間帯は満員です。ほかの時間帯をお選びください。",
    "status": 409, "detail": "この時間帯は満員です。ほかの時間帯をお選びください。", "code": "slot_full",
    "alternatives": [{"id": "city-hall.2027-01-04.0930", "starts_at": "2027-01-04T09:30:00+09:00",
        "ends_at": "2027-01-04T10:00:00+09:00", "capacity": 3, "remaining": 1, "bookable": true}]}))]
pub(crate) struct ProblemJson {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorJson>,
    #[serde(flatten)]
    pub extra: ProblemExtra,
}

/// What an error response says; kept in the response extensions for the language pass.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub code: ErrorCode,
    pub facts: Facts,
    pub errors: Vec<FieldError>,
    pub extra: ProblemExtra,
}

impl Problem {
    pub(crate) fn of_status(status: StatusCode) -> Problem {
        Problem {
            code: ErrorCode::of_status(status.as_u16()),
            facts: Facts::default(),
            errors: Vec::new(),
            extra: ProblemExtra::default(),
        }
    }

    pub(crate) fn render(&self, lang: Lang) -> ProblemJson {
        ProblemJson {
            type_: format!(
                "https://madoguchi.example/problems/{}",
                self.code.as_str().replace('_', "-")
            ),
            title: self.code.title(lang).to_string(),
            status: self.code.status(),
            detail: self.code.detail(lang, &self.facts),
            code: self.code,
            errors: self
                .errors
                .iter()
                .map(|e| FieldErrorJson {
                    field: e.field.clone(),
                    code: e.problem.code(),
                    message: e.problem.message(lang),
                })
                .collect(),
            extra: self.extra.clone(),
        }
    }

    pub(crate) fn response(self, lang: Lang) -> HttpResponse {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self.render(lang)).unwrap_or_default();
        let mut res = HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .insert_header((header::CONTENT_LANGUAGE, lang.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body);
        if self.code.status() == 401 {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.facts.retry_after_s {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        res.extensions_mut().insert(self);
        res
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        if let Some(cause) = &self.cause {
            // The one place a 500 is logged, with its whole cause chain.
            tracing::error!(error.chain = %format!("{cause:#}"), "unexpected error");
        }
        Problem {
            code: self.code,
            facts: (*self.facts).clone(),
            errors: self.errors.clone(),
            extra: (*self.extra).clone(),
        }
        .response(Lang::En)
    }
}

/// The language a request asks for.
pub(crate) fn lang_of(req: &HttpRequest) -> Lang {
    Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Wrap the app with this: every 4xx/5xx leaves as problem+json in the client's language.
pub(crate) fn problem_middleware<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let lang = lang_of(res.request());
        let existing = res.response().extensions().get::<Problem>().cloned();
        let already_problem = res
            .response()
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
        if let Some(p) = &existing {
            if let Some(undocumented) = undocumented(&res, p.code) {
                return Ok(ErrorHandlerResponse::Response(undocumented));
            }
        }
        let problem = match existing {
            Some(p) if lang == Lang::Ja => p,
            Some(_) => return Ok(ErrorHandlerResponse::Response(res.map_into_left_body())),
            None if already_problem => {
                return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()))
            }
            None => Problem::of_status(res.status()),
        };
        let (req, old) = res.into_parts();
        let mut new = problem.response(lang);
        // Keep headers such as Retry-After, Allow and CORS.
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE
                && name != header::CONTENT_LENGTH
                && name != header::CONTENT_LANGUAGE
            {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        let res = ServiceResponse::new(req, new)
            .map_into_boxed_body()
            .map_into_right_body();
        Ok(ErrorHandlerResponse::Response(res))
    })
}

/// Marks an answer given before any route was asked (a listener that does not serve a
/// path): the route's documented codes do not apply to it.
pub(crate) struct NotTheRoutes;

/// A debug build's check that the answer's code is one its route documents (the OpenAPI
/// document lists every code of the error types a route's handler returns): a code outside
/// that list is a 500 that names it, so any test or fuzz run that reaches it fails. A
/// release build logs it and answers as it would.
fn undocumented<B: MessageBody + 'static>(
    res: &ServiceResponse<B>,
    code: ErrorCode,
) -> Option<ServiceResponse<ProblemBody<B>>> {
    if res.response().extensions().contains::<NotTheRoutes>() {
        return None;
    }
    let req = res.request();
    let documented = req.app_data::<actix_web::web::Data<DocumentedCodes>>()?;
    let pattern = req.match_pattern()?;
    if documented.lists(req.method().as_str(), &pattern, code)? {
        return None;
    }
    tracing::error!(
        route = %pattern,
        method = %req.method(),
        code = code.as_str(),
        "a route answered a code its OpenAPI description does not list"
    );
    if !cfg!(debug_assertions) {
        return None;
    }
    let mut new = Problem::of_status(StatusCode::INTERNAL_SERVER_ERROR).response(Lang::En);
    new.headers_mut().insert(
        header::HeaderName::from_static("x-madoguchi-undocumented-code"),
        HeaderValue::from_static(code.as_str()),
    );
    Some(
        ServiceResponse::new(req.clone(), new)
            .map_into_boxed_body()
            .map_into_right_body(),
    )
}

/// Type of the body the problem middleware produces.
pub(crate) type ProblemBody<B> = EitherBody<B, BoxBody>;

impl<E: Into<AppError>> From<crate::db::RunError<E>> for AppError {
    fn from(e: crate::db::RunError<E>) -> Self {
        match e {
            crate::db::RunError::Unavailable => ErrorCode::DatabaseUnavailable.into(),
            crate::db::RunError::Busy => AppError::busy(),
            crate::db::RunError::Panicked(m) => AppError::unexpected(anyhow::anyhow!(m)),
            crate::db::RunError::Failed(e) => e.into(),
        }
    }
}

impl From<std::convert::Infallible> for AppError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}
