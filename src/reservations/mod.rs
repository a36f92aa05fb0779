//! Reservations: booking (web and phone), viewing, cancelling, rescheduling.

pub mod input;
pub mod model;
pub mod numbers;
pub mod repo;
pub mod service;
