//! The runner: decides when each job runs, claims the run in the database (once across
//! instances) and calls its body.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::repo::{self, RunStatus};
use super::{no_shows, reminders, retention, stats, Job, JobCtx, JobEnv, JobError, Scheduled};
use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::{Db, RunError, Tx};
use crate::metrics::{JobLabels, Metrics};

/// Runs one job's body now (tests call this directly; the runner calls it for a claimed run).
/// Returns the rows it affected.
pub async fn run_body(
    db: &Db,
    env: &JobEnv,
    job: Job,
    now: DateTime<Utc>,
) -> Result<u64, RunError<JobError>> {
    let body: Body = match job {
        Job::Reminders => return remind(db, env, now).await,
        Job::Backup => return backup(db, env, now).await,
        Job::ExpireVerifications => |conn, ctx, now| {
            let limits = &ctx.booking.settings.limits;
            let links = crate::verification::expire(conn, limits, now)?;
            // Ended holds (their address's key, their client's) go with the links they used.
            let window = chrono::Duration::minutes(i64::from(limits.window_minutes));
            let holds = crate::reservations::holds::delete_ended(conn, now - window)?;
            Ok(links + holds)
        },
        Job::NoShows => no_shows::run,
        Job::Retention => retention::run,
        Job::DailyStats => stats::run,
    };
    let env = env.clone();
    db.write(move |conn| body(conn, env.ctx(), now)).await
}

/// A job whose work is one write transaction.
type Body = fn(&mut Tx<'_>, JobCtx<'_>, DateTime<Utc>) -> Result<u64, JobError>;

/// The reminders: the due reservations read, then each reminded in a write of its own.
async fn remind(db: &Db, env: &JobEnv, now: DateTime<Utc>) -> Result<u64, RunError<JobError>> {
    let e = env.clone();
    let due = db
        .run(move |conn| reminders::due(conn, e.ctx(), now))
        .await?;
    let mut sent = 0;
    for r in due {
        let e = env.clone();
        sent += db
            .write(move |conn| reminders::send(conn, e.ctx(), &r, now))
            .await?;
    }
    Ok(sent)
}

/// A scheduled backup: a copy named after the run's instant (in the counters' zone, so a
/// backup folder reads as the city's days), and only the newest `backup.keep` kept. Outside
/// any transaction: `VACUUM INTO` on a connection of its own reading one snapshot.
async fn backup(db: &Db, env: &JobEnv, now: DateTime<Utc>) -> Result<u64, RunError<JobError>> {
    let tz = env
        .calendar
        .counters()
        .first()
        .map(|c| c.tz)
        .unwrap_or(chrono_tz::Asia::Tokyo);
    let stamp = now.with_timezone(&tz).format("%Y%m%dT%H%M%S").to_string();
    let dir = std::path::PathBuf::from(&env.settings.backup.dir);
    let keep = env.settings.backup.keep as usize;
    // Outside the lanes: a copy takes a while and must not hold a request's connection.
    db.run_background(move |conn| {
        let (file, removed) = crate::db::backup::scheduled(conn, &dir, &stamp, keep)
            .map_err(|e| JobError::Other(anyhow::anyhow!("backup: {e}")))?;
        tracing::info!(file = %file.display(), removed, "backup written");
        Ok::<u64, JobError>(1)
    })
    .await
}

/// Everything the runner holds.
#[derive(Clone)]
pub struct Runner {
    pub db: Db,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
    pub message_domain: Arc<str>,
    pub metrics: Arc<Metrics>,
    pub schedules: Arc<Vec<Scheduled>>,
    /// Who claims runs: this process.
    pub instance: String,
    pub mail_notify: Arc<tokio::sync::Notify>,
}

impl Runner {
    /// What the job bodies need, from what the runner holds.
    pub fn env(&self) -> JobEnv {
        JobEnv {
            calendar: self.calendar.clone(),
            catalogue: self.catalogue.clone(),
            settings: self.settings.clone(),
            message_domain: self.message_domain.clone(),
        }
    }

    pub fn tz(&self) -> Tz {
        self.calendar
            .counters()
            .first()
            .map(|c| c.tz)
            .unwrap_or(chrono_tz::Asia::Tokyo)
    }

    fn lease(&self) -> Duration {
        Duration::minutes(i64::from(self.settings.jobs.lease_minutes.max(1)))
    }

    fn catch_up(&self) -> Duration {
        Duration::hours(i64::from(self.settings.jobs.catch_up_hours))
    }

    /// At start-up: for each job, the latest run missed within `jobs.catch_up_hours` runs
    /// once; runs missed longer ago (since the job's last recorded run, at most a week back)
    /// are recorded as skipped.
    pub async fn catch_up_at_start(&self) -> Vec<(Job, DateTime<Utc>, RunStatus)> {
        let now = self.clock.now();
        let mut done = Vec::new();
        for s in self.schedules.iter() {
            let job = s.job;
            let last = self
                .db
                .run(move |conn| repo::latest_scheduled(conn, job))
                .await
                .ok()
                .flatten();
            let since = match last {
                Some(t) => t.max(now - Duration::days(7)),
                // Never ran here: only the window to catch up.
                None => now - self.catch_up(),
            };
            let missed = s.due_between(since, now, self.tz());
            let Some((&latest, older)) = missed.split_last() else {
                continue;
            };
            // A database that never ran the job missed nothing: no skipped runs for the
            // hours before it existed, only the latest run within the window.
            let older = if last.is_some() { older } else { &[] };
            let cutoff = now - self.catch_up();
            let mut skipped = Vec::new();
            for &at in older.iter().rev().take(50) {
                if self
                    .record_skipped(job, at, now, "missed while the service was down")
                    .await
                {
                    skipped.push(at);
                }
                done.push((job, at, RunStatus::Skipped));
            }
            // One line per job, not one per missed run (a 5-minute job down for four hours
            // would otherwise write 50), in the counters' time like the rest of the log.
            if let (Some(first), Some(last)) = (skipped.iter().min(), skipped.iter().max()) {
                tracing::warn!(
                    job = %job,
                    skipped = skipped.len(),
                    from = %self.local(*first),
                    to = %self.local(*last),
                    "scheduled runs missed while the service was down were recorded as skipped \
                     (the latest one within jobs.catch_up_hours runs now instead)"
                );
            }
            if latest >= cutoff {
                if let Some(status) = self.claim_and_run(job, latest).await {
                    done.push((job, latest, status));
                }
            } else {
                let why = "missed while the service was down, longer ago than jobs.catch_up_hours";
                if self.record_skipped(job, latest, now, why).await {
                    tracing::warn!(job = %job, scheduled_at = %self.local(latest), "scheduled run skipped: {why}");
                }
                done.push((job, latest, RunStatus::Skipped));
            }
        }
        done
    }

    /// Records a run as skipped (counted in the metrics); false when it was recorded already.
    async fn record_skipped(
        &self,
        job: Job,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        why: &'static str,
    ) -> bool {
        let inserted = self
            .db
            .write(move |conn| repo::insert_skipped(conn, job, at, now, why))
            .await;
        let inserted = matches!(inserted, Ok(true));
        if inserted {
            self.count(job, RunStatus::Skipped);
        }
        inserted
    }

    /// An instant as the log shows it: the counters' time (`2027-01-12 09:05:00 JST`).
    fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz())
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    fn count(&self, job: Job, status: RunStatus) {
        self.metrics
            .job_runs
            .get_or_create(&JobLabels {
                job: job.as_str().into(),
                outcome: status.as_str().into(),
            })
            .inc();
    }

    /// Claims the run of `job` scheduled at `at` (or takes over one whose lease ran out) and
    /// runs it. None when another instance has it (or had it).
    pub async fn claim_and_run(&self, job: Job, at: DateTime<Utc>) -> Option<RunStatus> {
        let now = self.clock.now();
        let (instance, lease) = (self.instance.clone(), self.lease());
        let claimed = self
            .db
            .write(move |conn| repo::claim(conn, job, at, &instance, now, now + lease))
            .await;
        let run_id = match claimed {
            Ok(Some(id)) => id,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(job = %job, error = %e, "could not claim a scheduled run");
                return None;
            }
        };
        let started = std::time::Instant::now();
        let result = run_body(&self.db, &self.env(), job, now).await;
        let finished = self.clock.now();
        let (status, rows, error) = match result {
            Ok(rows) => (RunStatus::Ok, Some(rows), None),
            Err(e) => (RunStatus::Failed, None, Some(e.to_string())),
        };
        let id = run_id.clone();
        let instance = self.instance.clone();
        let err = error.clone();
        let _ = self
            .db
            .write(move |conn| {
                repo::finish(conn, &id, &instance, status, finished, rows, err.as_deref())
            })
            .await;
        self.count(job, status);
        match &error {
            None => {
                tracing::info!(job = %job, scheduled_at = %self.local(at), rows = rows.unwrap_or(0), elapsed_ms = started.elapsed().as_millis() as u64, "scheduled run done")
            }
            Some(e) => {
                tracing::error!(job = %job, scheduled_at = %self.local(at), error = %e, "scheduled run failed")
            }
        }
        if job == Job::Reminders {
            self.mail_notify.notify_one();
        }
        Some(status)
    }

    /// One pass: every job whose latest scheduled instant has come and is not yet claimed
    /// (or whose claim's lease ran out) runs.
    pub async fn tick(&self) {
        let now = self.clock.now();
        // Only instants within the catch-up window: older ones are the start-up's business
        // (recorded as skipped), never run late by a pass.
        let lookback = self.catch_up().max(Duration::minutes(2));
        for s in self.schedules.iter() {
            let Some(due) = s.latest_due(now, self.tz(), lookback) else {
                continue;
            };
            let job = s.job;
            let state = self
                .db
                .run(move |conn| repo::find_run(conn, job, due))
                .await;
            let needs_run = match state {
                Ok(None) => true,
                Ok(Some(row)) => row.status == RunStatus::Running && row.lease_expired(now),
                Err(_) => false,
            };
            if needs_run {
                self.claim_and_run(job, due).await;
            }
        }
    }

    /// The loop: catch up once, then a pass every `jobs.poll_seconds`.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let poll = StdDuration::from_millis(self.settings.jobs.poll_ms.max(50));
        tokio::spawn(async move {
            self.catch_up_at_start().await;
            loop {
                tokio::time::sleep(poll).await;
                self.tick().await;
            }
        })
    }
}
