//! `job_runs`: one row per (job, scheduled instant), claimed by inserting it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Job;
use crate::db::schema::job_runs;
use crate::db::{is_unique_violation, DbConnection};

/// Where a run stands.
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
pub enum RunStatus {
    Running,
    Ok,
    Failed,
    Skipped,
}

crate::db::text_enum!(RunStatus {
    Running => "running",
    Ok => "ok",
    Failed => "failed",
    Skipped => "skipped",
});

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = job_runs)]
pub struct JobRunRow {
    pub id: String,
    pub job: Job,
    pub scheduled_at: NaiveDateTime,
    pub status: RunStatus,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub lease_until: Option<NaiveDateTime>,
    pub instance: Option<String>,
    pub rows: Option<i64>,
    pub error: Option<String>,
}

impl JobRunRow {
    pub fn lease_expired(&self, now: DateTime<Utc>) -> bool {
        self.lease_until.is_some_and(|l| l < now.naive_utc())
    }
}

pub(crate) fn find_run(
    conn: &mut DbConnection,
    job: Job,
    at: DateTime<Utc>,
) -> QueryResult<Option<JobRunRow>> {
    job_runs::table
        .filter(job_runs::job.eq(job))
        .filter(job_runs::scheduled_at.eq(at.naive_utc()))
        .select(JobRunRow::as_select())
        .first(conn)
        .optional()
}

/// The latest scheduled instant recorded for a job, whatever its outcome.
pub(crate) fn latest_scheduled(
    conn: &mut DbConnection,
    job: Job,
) -> QueryResult<Option<DateTime<Utc>>> {
    let at: Option<NaiveDateTime> = job_runs::table
        .filter(job_runs::job.eq(job))
        .select(diesel::dsl::max(job_runs::scheduled_at))
        .first(conn)?;
    Ok(at.map(|t| t.and_utc()))
}

/// Claims the run: inserts its row (`running`, leased to `instance`), or takes over a row
/// whose lease ran out. Some(run id) when this instance has it now; None when another
/// instance has (or had) it. The unique (job, scheduled_at) makes the insert the claim.
pub fn claim(
    conn: &mut DbConnection,
    job: Job,
    at: DateTime<Utc>,
    instance: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> QueryResult<Option<String>> {
    let row = JobRunRow {
        id: uuid::Uuid::new_v4().to_string(),
        job,
        scheduled_at: at.naive_utc(),
        status: RunStatus::Running,
        started_at: Some(now.naive_utc()),
        finished_at: None,
        lease_until: Some(lease_until.naive_utc()),
        instance: Some(instance.to_string()),
        rows: None,
        error: None,
    };
    // In a savepoint: a refused INSERT must not abort the caller's transaction (PostgreSQL).
    match conn.transaction(|c| diesel::insert_into(job_runs::table).values(&row).execute(c)) {
        Ok(_) => return Ok(Some(row.id)),
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    // Taken: take it over only if it is still running and its lease has run out.
    let touched = diesel::update(
        job_runs::table
            .filter(job_runs::job.eq(job))
            .filter(job_runs::scheduled_at.eq(at.naive_utc()))
            .filter(job_runs::status.eq(RunStatus::Running))
            .filter(job_runs::lease_until.lt(now.naive_utc())),
    )
    .set((
        job_runs::instance.eq(instance),
        job_runs::started_at.eq(Some(now.naive_utc())),
        job_runs::lease_until.eq(Some(lease_until.naive_utc())),
        job_runs::error.eq(Some("taken over after the previous run's lease ran out")),
    ))
    .execute(conn)?;
    if touched == 1 {
        Ok(find_run(conn, job, at)?.map(|r| r.id))
    } else {
        Ok(None)
    }
}

/// Records how a claimed run ended (only if this instance still holds it).
pub(crate) fn finish(
    conn: &mut DbConnection,
    id: &str,
    instance: &str,
    status: RunStatus,
    at: DateTime<Utc>,
    rows: Option<u64>,
    error: Option<&str>,
) -> QueryResult<bool> {
    let error = error.map(|e| e.chars().take(1000).collect::<String>());
    let touched = diesel::update(
        job_runs::table
            .find(id)
            .filter(job_runs::instance.eq(instance)),
    )
    .set((
        job_runs::status.eq(status),
        job_runs::finished_at.eq(Some(at.naive_utc())),
        job_runs::lease_until.eq(None::<NaiveDateTime>),
        job_runs::rows.eq(rows.map(|r| i64::try_from(r).unwrap_or(i64::MAX))),
        job_runs::error.eq(error),
    ))
    .execute(conn)?;
    Ok(touched == 1)
}

/// Records a run that will not happen (missed too long ago). False if the instant already
/// has a row.
pub(crate) fn insert_skipped(
    conn: &mut DbConnection,
    job: Job,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    why: &str,
) -> QueryResult<bool> {
    let row = JobRunRow {
        id: uuid::Uuid::new_v4().to_string(),
        job,
        scheduled_at: at.naive_utc(),
        status: RunStatus::Skipped,
        started_at: None,
        finished_at: Some(now.naive_utc()),
        lease_until: None,
        instance: None,
        rows: None,
        error: Some(why.to_string()),
    };
    // In a savepoint: a refused INSERT must not abort the caller's transaction (PostgreSQL).
    match conn.transaction(|c| diesel::insert_into(job_runs::table).values(&row).execute(c)) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A job's latest runs, newest first.
pub fn list_runs(conn: &mut DbConnection, job: Job, limit: i64) -> QueryResult<Vec<JobRunRow>> {
    job_runs::table
        .filter(job_runs::job.eq(job))
        .order(job_runs::scheduled_at.desc())
        .limit(limit)
        .select(JobRunRow::as_select())
        .load(conn)
}
