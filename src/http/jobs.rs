//! Administration of scheduled work: the jobs and their runs, and the daily figures.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminOnly, Authorized};
use super::calendar::check_date_range;
use super::json::{instant, stored};
use super::problem::AppError;
use super::route::{api, codes, own, ApiRoute, ADMIN};
use super::state::AppState;
use crate::calendar::CalendarError;
use crate::error::{ErrorCode, FieldProblem, Invalid};
use crate::jobs::stats::{self, DailyStatsRow};
use crate::jobs::Job;
use crate::jobs::{list_runs, RunStatus};
use actix_web::http::Method;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobRunJson {
    pub scheduled_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// `ok`, `failed` or `skipped`; null while it runs.
    pub outcome: Option<RunStatus>,
    /// `running` or the outcome.
    pub status: RunStatus,
    /// Rows the run affected (mails written, reservations marked, …).
    pub rows: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobJson {
    pub name: Job,
    /// The cron expression (seconds first), in the counters' time zone.
    #[schema(example = "0 0 10 * * *")]
    pub schedule: String,
    pub next_run_at: Option<String>,
    /// The latest runs, newest first.
    pub runs: Vec<JobRunJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobsJson {
    pub jobs: Vec<JobJson>,
}

/// Every scheduled job with its next run and its latest runs.
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin",
    responses((status = 200, description = "Jobs and runs", body = JobsJson)))]
pub(crate) async fn get_jobs(
    state: web::Data<AppState>,
    _user: Authorized<AdminOnly>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let tz = state.default_tz();
    let mut jobs = Vec::with_capacity(state.jobs.len());
    for s in state.jobs.iter() {
        let job = s.job;
        let runs = state.db.run(move |conn| list_runs(conn, job, 20)).await?;
        jobs.push(JobJson {
            name: job,
            schedule: s.expression().to_string(),
            next_run_at: s.next_after(now, tz).map(|t| instant(t, tz)),
            runs: runs
                .iter()
                .map(|r| JobRunJson {
                    scheduled_at: stored(r.scheduled_at, tz),
                    started_at: r.started_at.map(|t| stored(t, tz)),
                    finished_at: r.finished_at.map(|t| stored(t, tz)),
                    outcome: (r.status != RunStatus::Running).then_some(r.status),
                    status: r.status,
                    rows: r.rows,
                    error: r.error.clone(),
                })
                .collect(),
        });
    }
    Ok(HttpResponse::Ok().json(JobsJson { jobs }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// First day; default 30 days ago.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last day, inclusive; default today. At most 366 days.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// One counter; default every counter.
    counter: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WaitJson {
    /// Minutes from check-in (reserved) or ticket (walk-in) to the call.
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DayStatsJson {
    pub date: String,
    pub counter: String,
    /// A procedure id, or `unspecified` for walk-ins who gave none.
    pub procedure: String,
    pub booked: i64,
    pub cancelled: i64,
    pub completed: i64,
    pub no_show: i64,
    pub walk_ins: i64,
    pub wait_minutes: WaitJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HourStatsJson {
    /// 0–23, the counter's local time.
    pub hour: u32,
    /// Tickets taken in that hour and called.
    pub tickets: i64,
    pub wait_minutes: WaitJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsJson {
    pub days: Vec<DayStatsJson>,
    /// Waiting times over the whole range by the hour of the day the ticket was taken (the
    /// counter's local time), hours with called tickets only.
    pub hours: Vec<HourStatsJson>,
    /// Waiting times per counter and day over every procedure (the days' rows are per
    /// procedure, and percentiles do not add up); days with called tickets only.
    pub day_waits: Vec<DayWaitsJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DayWaitsJson {
    pub date: String,
    pub counter: String,
    /// Tickets of the day that were called.
    pub tickets: i64,
    pub wait_minutes: WaitJson,
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|m| {
                let m = m.split(';').next().unwrap_or("").trim();
                m.eq_ignore_ascii_case("text/csv")
            })
        })
}

/// One CSV field: quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(rows: &[DailyStatsRow]) -> String {
    let mut out = String::from(
        "date,counter,procedure,booked,cancelled,completed,no_show,walk_ins,wait_p50_minutes,wait_p90_minutes\r\n",
    );
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\r\n",
            r.day,
            csv_field(&r.counter_id),
            csv_field(&r.procedure_id),
            r.booked,
            r.cancelled,
            r.completed,
            r.no_show,
            r.walk_ins,
            opt(r.wait_p50),
            opt(r.wait_p90),
        ));
    }
    out
}

/// The daily figures, as JSON or (with `Accept: text/csv`) as CSV with a header line.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin",
    params(StatsQuery),
    responses((status = 200, description = "Figures per counter, day and procedure (CSV with Accept: text/csv)",
               content((StatsJson = "application/json"), (String = "text/csv")))))]
pub(crate) async fn get_stats(
    state: web::Data<AppState>,
    req: HttpRequest,
    _user: Authorized<AdminOnly>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    let StatsQuery { from, to, counter } = query.into_inner();
    if let Some(c) = &counter {
        state.calendar.get_counter(c)?;
    }
    let today = state
        .calendar
        .counters()
        .first()
        .map(|c| c.today(state.clock.now()))
        .unwrap_or_default();
    let to = check_date_range("to", to.unwrap_or(today))?;
    let from = check_date_range("from", from.unwrap_or(to - Duration::days(30)))?;
    if to < from {
        return Err(Invalid::field("to", FieldProblem::BeforeFrom).into());
    }
    if (to - from).num_days() > 366 {
        return Err(Invalid::field("to", FieldProblem::RangeTooLong { max_days: 366 }).into());
    }
    let now = state.clock.now();
    let as_csv = wants_csv(&req);
    let calendar = state.calendar.clone();
    let (rows, waits) = state
        .db
        .run(move |conn| {
            let rows = stats::list_or_compute(conn, from, to, counter.as_deref(), today, now)?;
            // The CSV is the days' table; the hours go to the JSON (the console's chart).
            let tz_of = |c: &str| calendar.counter(c).map_or(chrono_tz::Asia::Tokyo, |c| c.tz);
            let waits = match as_csv {
                true => Default::default(),
                false => stats::waits(conn, (from, to), counter.as_deref(), &tz_of)?,
            };
            Ok::<_, diesel::result::Error>((rows, waits))
        })
        .await?;
    if as_csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"madoguchi-stats-{from}-{to}.csv\""),
            ))
            .body(csv(&rows)));
    }
    let accept_ok = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.split(',').any(|m| {
                let m = m.split(';').next().unwrap_or("").trim();
                m.is_empty() || m == "*/*" || m == "application/*" || m == "application/json"
            })
        });
    if !accept_ok {
        return Err(ErrorCode::NotAcceptable.into());
    }
    Ok(HttpResponse::Ok().json(stats_json(rows, waits)))
}

/// The figures as JSON: the days' rows and the range's hours.
fn stats_json(
    rows: Vec<DailyStatsRow>,
    (hours, day_waits): (Vec<stats::HourFigures>, Vec<stats::DayWaits>),
) -> StatsJson {
    StatsJson {
        days: rows
            .into_iter()
            .map(|r| DayStatsJson {
                date: r.day.to_string(),
                counter: r.counter_id,
                procedure: r.procedure_id,
                booked: r.booked,
                cancelled: r.cancelled,
                completed: r.completed,
                no_show: r.no_show,
                walk_ins: r.walk_ins,
                wait_minutes: WaitJson {
                    p50: r.wait_p50,
                    p90: r.wait_p90,
                },
            })
            .collect(),
        hours: hours
            .into_iter()
            .map(|h| HourStatsJson {
                hour: h.hour,
                tickets: h.tickets,
                wait_minutes: WaitJson {
                    p50: h.wait_p50,
                    p90: h.wait_p90,
                },
            })
            .collect(),
        day_waits: day_waits
            .into_iter()
            .map(|d| DayWaitsJson {
                date: d.day.to_string(),
                counter: d.counter_id,
                tickets: d.tickets,
                wait_minutes: WaitJson {
                    p50: d.wait_p50,
                    p90: d.wait_p90,
                },
            })
            .collect(),
    }
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use ErrorCode as E;
    use Method as M;
    vec![
        api(M::GET, "/api/v1/admin/jobs", ADMIN, own(&[]), get_jobs),
        api(
            M::GET,
            "/api/v1/admin/stats",
            ADMIN,
            codes::<CalendarError>(&[E::NotAcceptable]),
            get_stats,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_jobs, get_stats))]
pub(super) struct Paths;
