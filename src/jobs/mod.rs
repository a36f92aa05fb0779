//! Scheduled work on cron expressions (the `cron` crate: seconds first, weekday names) and the
//! injected clock, in the counters' time zone.
//!
//! Each job body is a plain function of (connection, context, now) that tests call directly;
//! the runner only decides when. A run is identified by (job, scheduled instant) and claimed
//! in the database before it starts (a unique row in `job_runs`), so with several instances
//! each run happens once; a run that died is taken over when its lease runs out. After
//! downtime, the latest run missed less than `jobs.catch_up_hours` ago runs once at start-up
//! and older ones are recorded as skipped.

pub(crate) mod no_shows;
pub(crate) mod reminders;
pub(crate) mod repo;
pub(crate) mod retention;
mod runner;
pub(crate) mod stats;

pub use repo::{list_runs, RunStatus};
pub use runner::run_body;
pub(crate) use runner::Runner;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::config::{CronSchedule, Settings};
use crate::reservations::service::Ctx;

/// The scheduled jobs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    Reminders,
    ExpireVerifications,
    NoShows,
    Retention,
    DailyStats,
    /// A copy of the SQLite database (`jobs.backup`, off unless scheduled).
    Backup,
}

crate::db::text_enum!(Job {
    Reminders => "reminders",
    ExpireVerifications => "expire_verifications",
    NoShows => "no_shows",
    Retention => "retention",
    DailyStats => "daily_stats",
    Backup => "backup",
});

/// A job and its schedule (parsed with the settings).
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub job: Job,
    pub schedule: CronSchedule,
}

impl Scheduled {
    pub fn expression(&self) -> &str {
        self.schedule.expression()
    }
}

/// Every job with its `jobs.<name>.schedule`.
pub(crate) fn schedules(settings: &Settings) -> Vec<Scheduled> {
    let j = &settings.jobs;
    [
        (Job::Reminders, &j.reminders.schedule),
        (Job::ExpireVerifications, &j.expire_verifications.schedule),
        (Job::NoShows, &j.no_shows.schedule),
        (Job::Retention, &j.retention.schedule),
        (Job::DailyStats, &j.daily_stats.schedule),
    ]
    .into_iter()
    .map(|(job, schedule)| Scheduled {
        job,
        schedule: schedule.clone(),
    })
    .chain(j.backup.schedule.clone().map(|schedule| Scheduled {
        job: Job::Backup,
        schedule,
    }))
    .collect()
}

impl Scheduled {
    /// The latest scheduled instant at or before `now`, looking back at most `lookback`.
    pub fn latest_due(
        &self,
        now: DateTime<Utc>,
        tz: Tz,
        lookback: Duration,
    ) -> Option<DateTime<Utc>> {
        let from = (now - lookback).with_timezone(&tz);
        self.schedule
            .after(&from)
            .take_while(|t| t.to_utc() <= now)
            .last()
            .map(|t| t.to_utc())
    }

    /// Scheduled instants after `after` up to `now` (inclusive), oldest first.
    pub fn due_between(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Vec<DateTime<Utc>> {
        self.schedule
            .after(&after.with_timezone(&tz))
            .take_while(|t| t.to_utc() <= now)
            .map(|t| t.to_utc())
            .collect()
    }

    /// The next scheduled instant after `now`.
    pub fn next_after(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&now.with_timezone(&tz))
            .next()
            .map(|t| t.to_utc())
    }
}

/// What job bodies need besides the connection.
#[derive(Clone, Copy)]
pub struct JobCtx<'a> {
    pub booking: Ctx<'a>,
}

/// What job bodies need, owned (shared parts, cheap to clone), so that each of a job's writes
/// can take it along to the writer.
#[derive(Clone)]
pub struct JobEnv {
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
    pub settings: Arc<Settings>,
    pub message_domain: Arc<str>,
}

impl JobEnv {
    pub fn ctx(&self) -> JobCtx<'_> {
        JobCtx {
            booking: Ctx {
                calendar: &self.calendar,
                catalogue: &self.catalogue,
                settings: &self.settings,
                message_domain: &self.message_domain,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}
