//! What the front desk refuses.

use chrono::NaiveDate;

use super::model::TicketStatus;
use crate::calendar::CalendarError;

/// What the front desk refuses.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeskError {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("no such procedure")]
    ProcedureNotFound,
    #[error("no such reservation")]
    ReservationNotFound,
    #[error("the reservation is cancelled")]
    ReservationCancelled,
    #[error("already checked in (ticket {ticket:?})")]
    AlreadyCheckedIn { ticket: Option<String> },
    #[error("the reservation is for counter {counter}")]
    WrongCounter { counter: String },
    #[error("the reservation is for {date}")]
    NotToday { date: NaiveDate },
    #[error("no ticket {label} today")]
    TicketNotFound { label: String },
    #[error("ticket {label} is {status}")]
    TicketNotCalled { label: String, status: TicketStatus },
    #[error("ticket {label} is called to desk {desk} and was not settled")]
    DeskServing { label: String, desk: String },
    #[error("no ticket has that public id")]
    NoSuchTicket,
    #[error("this ticket cannot send a mail when its turn nears")]
    AlertUnavailable,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
