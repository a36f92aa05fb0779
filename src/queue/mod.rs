//! The front desk: the day's queue, check-in, walk-in tickets, calling (reserved visitors
//! first), outcomes, and the call events the waiting-room screens show.

pub mod model;
pub mod next_to_call;
pub mod repo;
pub mod service;

pub use repo::{calls_after, count_waiting, last_call_id, recent_calls, CallEvent, TicketRow};
