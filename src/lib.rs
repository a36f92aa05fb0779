//! madoguchi (窓口): the booking backend for a city's My Number card special counter.
#![recursion_limit = "256"]

pub mod calendar;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod operations;
pub mod queue;
pub mod reservations;
pub mod staff;
pub mod startup;
pub mod telemetry;
pub mod text;
pub mod tokens;
pub mod verification;
pub mod waitlist;
pub mod web;
