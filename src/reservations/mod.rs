//! Reservations: booking (web and phone), viewing, cancelling, rescheduling.

pub(crate) mod fair_start;
pub(crate) mod holding;
pub(crate) mod holds;
pub(crate) mod input;
pub(crate) mod mail;
pub(crate) mod model;
pub(crate) mod numbers;
pub(crate) mod repo;
pub(crate) mod service;

pub(crate) use repo::{find_by_id, search};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::calendar::availability::SlotView;
use crate::calendar::{Calendar, CalendarError};
use crate::catalogue::Catalogue;
use crate::config::Settings;
use crate::error::Invalid;
use crate::verification::VerificationError;

/// What the rules need besides the connection.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub calendar: &'a Calendar,
    pub catalogue: &'a Catalogue,
    pub settings: &'a Settings,
    pub message_domain: &'a str,
}

/// What booking, cancelling and rescheduling refuse, with the specifics a resident needs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BookingError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Verification(#[from] VerificationError),
    #[error("no such procedure")]
    ProcedureNotFound,
    #[error("no such reservation")]
    ReservationNotFound,
    #[error("booking for {date} opens at {opens_at}")]
    WindowNotOpen {
        date: NaiveDate,
        opens_at: DateTime<Utc>,
        tz: Tz,
    },
    #[error("booking for {date} closed at {closed_at}")]
    WindowClosed {
        date: NaiveDate,
        closed_at: DateTime<Utc>,
        tz: Tz,
    },
    /// An admin override lifts the booking window, not time itself.
    #[error("the slot started at {starts_at}")]
    SlotStarted {
        date: NaiveDate,
        starts_at: DateTime<Utc>,
        tz: Tz,
    },
    #[error("the slot is full")]
    SlotFull {
        alternatives: Vec<SlotView>,
        tz: Tz,
        /// Whose seats: alternatives are those this taker may book.
        taker: crate::calendar::Taker,
    },
    #[error("this person already holds a reservation for this procedure")]
    PersonHasReservation,
    /// A party's member (by the name given) already holds one for their procedure.
    #[error("a member of the party already holds a reservation for their procedure")]
    MemberHasReservation { name: String },
    #[error("this address already holds {max} active reservations")]
    AddressLimit { max: i64 },
    #[error("too late to cancel")]
    TooLateToCancel,
    #[error("too late to change")]
    TooLateToChange,
    #[error("the reservation is cancelled")]
    Cancelled,
    #[error("this reservation needs no second visit")]
    SecondVisitNotNeeded,
    #[error("the first visit is not completed")]
    FirstVisitNotCompleted,
    #[error("the second visit can be booked from {from}")]
    SecondVisitTooEarly { from: NaiveDate },
    #[error("the second visit can be booked until {until}")]
    SecondVisitTooLate { until: NaiveDate },
    #[error("the second visit is already booked")]
    SecondVisitExists,
    #[error("visits of this month are drawn by lottery")]
    LotteryPeriod,
    #[error("no such hold")]
    HoldNotFound,
    #[error("the hold ran out")]
    HoldExpired,
    #[error("the hold is for another slot")]
    HoldOtherSlot,
    /// A hold asked for while the opening's fair start is drawing (`booking.fair_start_seconds`).
    #[error("seats of this day are being drawn until {until}")]
    FairStartDrawing { until: DateTime<Utc>, tz: Tz },
    /// The client address holds `booking.holds_per_client` live holds.
    #[error("too many holds from this client")]
    HoldLimit { retry_after_s: u64 },
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
