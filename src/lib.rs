//! madoguchi (窓口): the booking backend for a city's My Number card special counter.
//!
//! The library's interface is small: the modules a caller configures and starts the service
//! with (`config`, `clock`, `startup`, `telemetry`, and the leaves `error` and `tokens`), the
//! database handle and the staff accounts the command line manages. Every other module is
//! private to the crate (`ARCHITECTURE.md` draws them), so the compiler sees each item's
//! callers and names dead code; `unreachable_pub` keeps an item `pub(crate)` unless this
//! interface reaches it.
#![recursion_limit = "256"]
#![warn(unreachable_pub)]

pub mod clock;
pub mod config;
pub mod error;
pub mod startup;
pub mod telemetry;
pub mod tokens;

mod calendar;
mod catalogue;
mod db;
mod http;
mod jobs;
mod lottery;
mod mail;
mod metrics;
mod operations;
mod qr;
mod queue;
mod reservations;
mod staff;
mod text;
mod verification;
mod waitlist;
mod web;

// What the command line (src/main.rs) uses besides the modules above.
pub use db::backup::{backup, restore, BackupError, Contents, Restored};
pub use db::chain::{verify as verify_audit, ChainVerdict};
pub use db::{
    describe_url, revert_last_migration, revert_migrations, run_migrations, Db, DbConnection, Tx,
};
pub use http::AppState;
pub use lottery::{verify_lottery, Verdict};
pub use staff::second_factor::reset as reset_totp;
pub use staff::service::{create_staff, disable_staff, prepare_staff, NewStaff, StaffError};
pub use staff::{list_staff, Role};

/// Internals the integration tests and benchmarks reach into, named here so that the rest of
/// the crate stays private to it. Not an interface of the service.
#[doc(hidden)]
pub mod testing {
    pub use crate::calendar::repo::list_slot_rows;
    pub use crate::db::schema::slots;
    pub use crate::http::{api_routes, Access};
    pub use crate::jobs::repo::claim;
    pub use crate::jobs::{list_runs, run_body, Job, RunStatus};
    pub use crate::mail::deliver::{run_once, DeliveryReport, Mailer};
    pub use crate::mail::outbox::{claim_due, list_outbox};
    pub use crate::mail::OutboxStatus;
    pub use crate::reservations::repo::count_seated_in_slot;
    pub use crate::staff::second_factor::code_at as totp_code_at;

    /// Runs `f` as a resident's request would run: in the public lane at the database.
    pub async fn in_public_lane<F: std::future::Future>(f: F) -> F::Output {
        crate::db::in_lane(crate::db::Lane::Public, f).await
    }
}
