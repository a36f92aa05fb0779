//! Daily figures per counter, day and procedure: booked, cancelled, completed, no-show,
//! walk-ins, and waiting times (check-in or ticket to call) at p50 and p90. Kept in
//! `daily_stats`, which holds no personal data, so they outlive retention.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{JobCtx, JobError};
use crate::db::schema::{daily_stats, reservations, tickets};
use crate::db::{DbConnection, Tx};
use crate::queue::model::TicketKind;
use crate::reservations::model::ReservationStatus;

/// Walk-ins who gave no procedure.
pub(crate) const UNSPECIFIED: &str = "unspecified";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = daily_stats)]
pub struct DailyStatsRow {
    pub counter_id: String,
    pub day: NaiveDate,
    pub procedure_id: String,
    /// Reservations for the day still holding their seat (every status but cancelled).
    pub booked: i64,
    pub cancelled: i64,
    pub completed: i64,
    pub no_show: i64,
    pub walk_ins: i64,
    /// Minutes from check-in (reserved) or ticket (walk-in) to the first call.
    pub wait_p50: Option<i64>,
    pub wait_p90: Option<i64>,
    pub computed_at: NaiveDateTime,
}

/// The nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The figures of one counter's day, computed from reservations and tickets.
pub(crate) fn compute(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> QueryResult<Vec<DailyStatsRow>> {
    let statuses: Vec<(String, ReservationStatus)> = reservations::table
        .filter(reservations::counter_id.eq(counter))
        .filter(reservations::visit_on.eq(day))
        .select((reservations::procedure_id, reservations::status))
        .load(conn)?;
    let ticket_rows: Vec<(
        TicketKind,
        Option<String>,
        NaiveDateTime,
        Option<NaiveDateTime>,
    )> = tickets::table
        .filter(tickets::counter_id.eq(counter))
        .filter(tickets::service_on.eq(day))
        .select((
            tickets::kind,
            tickets::procedure_id,
            tickets::issued_at,
            tickets::called_at,
        ))
        .load(conn)?;
    let mut by_procedure: BTreeMap<String, Acc> = BTreeMap::new();
    for (procedure, status) in statuses {
        by_procedure.entry(procedure).or_default().count(status);
    }
    for (kind, procedure, issued, called) in ticket_rows {
        let a = by_procedure
            .entry(procedure.unwrap_or_else(|| UNSPECIFIED.to_string()))
            .or_default();
        if kind == TicketKind::WalkIn {
            a.walk_ins += 1;
        }
        if let Some(called) = called {
            // Whole minutes, rounded.
            a.waits
                .push(((called - issued).num_seconds().max(0) + 30) / 60);
        }
    }
    Ok(by_procedure
        .into_iter()
        .map(|(procedure_id, a)| a.into_row(counter, day, procedure_id, now))
        .collect())
}

/// One procedure's figures of a day, as they are counted.
#[derive(Default)]
struct Acc {
    booked: i64,
    cancelled: i64,
    completed: i64,
    no_show: i64,
    walk_ins: i64,
    waits: Vec<i64>,
}

impl Acc {
    /// A reservation of the day, by its status.
    fn count(&mut self, status: ReservationStatus) {
        match status {
            ReservationStatus::Cancelled => self.cancelled += 1,
            ReservationStatus::Completed => {
                self.booked += 1;
                self.completed += 1;
            }
            ReservationStatus::NoShow => {
                self.booked += 1;
                self.no_show += 1;
            }
            ReservationStatus::Confirmed | ReservationStatus::CheckedIn => self.booked += 1,
        }
    }

    fn into_row(
        mut self,
        counter: &str,
        day: NaiveDate,
        procedure_id: String,
        now: DateTime<Utc>,
    ) -> DailyStatsRow {
        self.waits.sort_unstable();
        DailyStatsRow {
            counter_id: counter.to_string(),
            day,
            procedure_id,
            booked: self.booked,
            cancelled: self.cancelled,
            completed: self.completed,
            no_show: self.no_show,
            walk_ins: self.walk_ins,
            wait_p50: percentile(&self.waits, 0.5),
            wait_p90: percentile(&self.waits, 0.9),
            computed_at: now.naive_utc(),
        }
    }
}

/// Replaces a counter's day's figures.
pub(crate) fn store(
    conn: &mut DbConnection,
    counter: &str,
    day: NaiveDate,
    rows: &[DailyStatsRow],
) -> QueryResult<()> {
    diesel::delete(
        daily_stats::table
            .filter(daily_stats::counter_id.eq(counter))
            .filter(daily_stats::day.eq(day)),
    )
    .execute(conn)?;
    // One statement per row: batch inserts are not portable through MultiConnection.
    for row in rows {
        diesel::insert_into(daily_stats::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

fn has_figures(conn: &mut DbConnection, counter: &str, day: NaiveDate) -> QueryResult<bool> {
    let n: i64 = daily_stats::table
        .filter(daily_stats::counter_id.eq(counter))
        .filter(daily_stats::day.eq(day))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The job: today's figures (after the no-show run), and those of the last week's days that
/// have none yet (a run missed while the service was down).
pub(crate) fn run(conn: &mut Tx<'_>, ctx: JobCtx<'_>, now: DateTime<Utc>) -> Result<u64, JobError> {
    let mut rows = 0u64;
    for counter in ctx.booking.calendar.counters() {
        let today = counter.today(now);
        for back in 0..=7 {
            let day = today - Duration::days(back);
            if back > 0 && has_figures(conn, &counter.id, day)? {
                continue;
            }
            let figures = compute(conn, &counter.id, day, now)?;
            if figures.is_empty() && back > 0 {
                continue;
            }
            store(conn, &counter.id, day, &figures)?;
            rows += figures.len() as u64;
        }
    }
    Ok(rows)
}

/// Stored figures between two days (inclusive), optionally of one counter.
pub(crate) fn list(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    counter: Option<&str>,
) -> QueryResult<Vec<DailyStatsRow>> {
    let mut q = daily_stats::table
        .filter(daily_stats::day.between(from, to))
        .order((
            daily_stats::day.asc(),
            daily_stats::counter_id.asc(),
            daily_stats::procedure_id.asc(),
        ))
        .select(DailyStatsRow::as_select())
        .into_boxed();
    if let Some(c) = counter {
        q = q.filter(daily_stats::counter_id.eq(c.to_string()));
    }
    q.load(conn)
}

/// The figures between two days (inclusive), optionally of one counter: those stored, and for
/// a past day (before `today`) that had visitors but no stored figures (the job did not run
/// then: the service was down, or restored from a backup) figures computed now from its
/// reservations and tickets, which retention keeps what they need of.
pub(crate) fn list_or_compute(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    counter: Option<&str>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> QueryResult<Vec<DailyStatsRow>> {
    let mut rows = list(conn, from, to, counter)?;
    let last = to.min(today - Duration::days(1));
    if last >= from {
        let stored: std::collections::BTreeSet<(String, NaiveDate)> =
            rows.iter().map(|r| (r.counter_id.clone(), r.day)).collect();
        for (c, day) in days_with_visits(conn, from, last, counter)? {
            if !stored.contains(&(c.clone(), day)) {
                rows.extend(compute(conn, &c, day, now)?);
            }
        }
        rows.sort_by(|a, b| {
            (a.day, &a.counter_id, &a.procedure_id).cmp(&(b.day, &b.counter_id, &b.procedure_id))
        });
    }
    Ok(rows)
}

/// The (counter, day) pairs between two days that have reservations or tickets.
fn days_with_visits(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    counter: Option<&str>,
) -> QueryResult<std::collections::BTreeSet<(String, NaiveDate)>> {
    let mut booked = reservations::table
        .filter(reservations::visit_on.between(from, to))
        .select((reservations::counter_id, reservations::visit_on))
        .distinct()
        .into_boxed();
    let mut served = tickets::table
        .filter(tickets::service_on.between(from, to))
        .select((tickets::counter_id, tickets::service_on))
        .distinct()
        .into_boxed();
    if let Some(c) = counter {
        booked = booked.filter(reservations::counter_id.eq(c.to_string()));
        served = served.filter(tickets::counter_id.eq(c.to_string()));
    }
    let mut days: std::collections::BTreeSet<(String, NaiveDate)> = booked
        .load::<(String, NaiveDate)>(conn)?
        .into_iter()
        .collect();
    days.extend(served.load::<(String, NaiveDate)>(conn)?);
    Ok(days)
}

/// Waiting times by the hour of the day a ticket was taken (the counter's local time), over
/// a range of days: how the day's rush moves, for the console's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HourFigures {
    pub hour: u32,
    /// Tickets taken in that hour that were called.
    pub tickets: i64,
    pub wait_p50: Option<i64>,
    pub wait_p90: Option<i64>,
}

/// A counter's day's waiting times over every procedure (the days' rows are per procedure,
/// and percentiles do not add up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DayWaits {
    pub counter_id: String,
    pub day: NaiveDate,
    pub tickets: i64,
    pub wait_p50: Option<i64>,
    pub wait_p90: Option<i64>,
}

/// The range's called tickets, waiting minutes and all, computed from the tickets (which
/// retention keeps: they hold no personal data).
fn called_tickets(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    counter: Option<&str>,
) -> QueryResult<Vec<(String, NaiveDate, NaiveDateTime, i64)>> {
    let mut q = tickets::table
        .filter(tickets::service_on.between(from, to))
        .filter(tickets::called_at.is_not_null())
        .select((
            tickets::counter_id,
            tickets::service_on,
            tickets::issued_at,
            tickets::called_at,
        ))
        .into_boxed();
    if let Some(c) = counter {
        q = q.filter(tickets::counter_id.eq(c.to_string()));
    }
    let rows: Vec<(String, NaiveDate, NaiveDateTime, Option<NaiveDateTime>)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, day, issued, called)| {
            let called = called?;
            Some((
                c,
                day,
                issued,
                ((called - issued).num_seconds().max(0) + 30) / 60,
            ))
        })
        .collect())
}

/// Sorted waits' count, p50 and p90.
fn spread(mut waits: Vec<i64>) -> (i64, Option<i64>, Option<i64>) {
    waits.sort_unstable();
    let n = waits.len() as i64;
    (n, percentile(&waits, 0.5), percentile(&waits, 0.9))
}

/// The range's waiting times by the hour of the day each ticket was taken (the counter's
/// local time; `tz_of` gives it), and by counter and day over every procedure.
pub(crate) fn waits(
    conn: &mut DbConnection,
    (from, to): (NaiveDate, NaiveDate),
    counter: Option<&str>,
    tz_of: &dyn Fn(&str) -> chrono_tz::Tz,
) -> QueryResult<(Vec<HourFigures>, Vec<DayWaits>)> {
    use chrono::Timelike;
    let mut by_hour: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    let mut by_day: BTreeMap<(NaiveDate, String), Vec<i64>> = BTreeMap::new();
    for (c, day, issued, wait) in called_tickets(conn, from, to, counter)? {
        let hour = issued.and_utc().with_timezone(&tz_of(&c)).hour();
        by_hour.entry(hour).or_default().push(wait);
        by_day.entry((day, c)).or_default().push(wait);
    }
    let hours = by_hour
        .into_iter()
        .map(|(hour, waits)| {
            let (tickets, wait_p50, wait_p90) = spread(waits);
            HourFigures {
                hour,
                tickets,
                wait_p50,
                wait_p90,
            }
        })
        .collect();
    let days = by_day
        .into_iter()
        .map(|((day, counter_id), waits)| {
            let (tickets, wait_p50, wait_p90) = spread(waits);
            DayWaits {
                counter_id,
                day,
                tickets,
                wait_p50,
                wait_p90,
            }
        })
        .collect();
    Ok((hours, days))
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.9), Some(7));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.5), Some(5));
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.9), Some(4));
    }
}
