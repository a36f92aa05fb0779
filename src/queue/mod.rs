//! The front desk: the day's queue, check-in, walk-in tickets, calling (reserved visitors
//! first), outcomes, and the call events the waiting-room screens show.

pub(crate) mod error;
pub(crate) mod follow;
pub(crate) mod model;
pub(crate) mod next_to_call;
pub(crate) mod repo;
pub(crate) mod service;
pub(crate) mod waiting;

pub(crate) use repo::{
    calls_after, count_waiting, last_call_id, recent_calls, CallEvent, TicketRow,
};
