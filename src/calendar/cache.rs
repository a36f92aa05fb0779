//! The days availability shows, kept in memory and kept current.
//!
//! A day's slot plan (its slots, booking window and phone release) follows from the
//! configuration alone, which is fixed at run time: it is computed once per day and kept. A
//! day's seats and whether an administrator closed it live in the database, where any
//! instance may change them. They are kept here too, and a read answers from memory alone
//! while the days it asks for are current. A day stops being current when:
//!
//! - a write of this process changes it: the write notes the day ([`crate::db::Tx`]) and the
//!   database layer tells this cache when it commits, before the writer hears back
//!   ([`DayCache::note_changed`]), so a booking shows in the very next read here;
//! - another process changes it (another instance on the same PostgreSQL, the command line or
//!   a second instance on the same SQLite file): the watcher ([`DayCache::watch`], run every
//!   `calendar.watch_ms` on a connection of its own) compares each kept day's fingerprint
//!   (its slot rows' `COUNT(*)` and `SUM(version)`, and its closure) with the database's, in
//!   one index-only query per counter (on SQLite only when `PRAGMA data_version` says another
//!   connection committed), and notes the days that differ.
//!
//! Each change bumps the counter's epoch ([`DayCache::epoch`]), which is what an answer built
//! from these days is kept against. A day is read from the database again only when it is
//! asked for and not current; what was noted while it was being read makes it not current
//! again, so a read never keeps what a concurrent commit changed. Days outside the watched
//! span (from yesterday to `WATCHED_DAYS` ahead: the days anyone can book) are read from the
//! database every time they are asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;

use super::{ClosedReason, Counter, DayStatus, Seats, SlotDef};
use crate::db::schema::slots;
use crate::db::DbConnection;

/// Days kept per map before it is emptied (any date 1900–2100 may be asked for).
const MAX_DAYS: usize = 8192;

/// How far ahead days are kept current (a few months: beyond the furthest day whose booking
/// window can be open).
pub(crate) const WATCHED_DAYS: i64 = 124;

/// A day as the configuration makes it.
#[derive(Debug)]
pub(crate) struct DayPlan {
    pub date: NaiveDate,
    /// The day by the configuration alone; an administrator's closure comes with the seats.
    pub configured: DayStatus,
    pub slots: Vec<SlotDef>,
    /// The slots' ids as stored (`counter.YYYY-MM-DD.HHMM`).
    pub ids: Vec<String>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// When seats held for phone bookings are released (None: none are held).
    pub phone_release_at: Option<DateTime<Utc>>,
}

/// What the cache needs of the calendar: a day's plan from the configuration.
pub(crate) trait Planner {
    fn day_plan(&self, counter: &Counter, date: NaiveDate) -> DayPlan;
}

/// A day's seats as last read.
#[derive(Debug, Default)]
pub(crate) struct DaySeats {
    /// `COUNT(*)` and `SUM(version)` of the day's rows when they were read.
    pub rows: i64,
    pub version: i64,
    /// Per slot of the plan; None: no row yet, the counter's configured seats.
    pub seats: Vec<Option<Seats>>,
}

/// A day now: its plan, its seats, and whether an administrator closed it.
#[derive(Debug, Clone)]
pub(crate) struct DayState {
    pub plan: Arc<DayPlan>,
    pub seats: Arc<DaySeats>,
    pub admin_closed: bool,
}

impl DayState {
    /// The day's status: the configuration's, closed by an administrator's closure.
    pub(crate) fn status(&self) -> DayStatus {
        match self.plan.configured {
            DayStatus::Open { .. } if self.admin_closed => DayStatus::Closed(ClosedReason::Closure),
            other => other,
        }
    }

    /// The slots the day has now (none when it is closed) with their seats.
    pub(crate) fn slots(&self, counter: &Counter) -> impl Iterator<Item = (&SlotDef, Seats)> {
        let open = matches!(self.status(), DayStatus::Open { .. });
        let configured = Seats::configured(counter);
        self.plan
            .slots
            .iter()
            .enumerate()
            .filter(move |_| open)
            .map(move |(i, def)| {
                let seats = self.seats.seats.get(i).copied().flatten();
                (def, seats.unwrap_or(configured))
            })
    }

    /// What the day shows apart from the clock: equal fingerprints, equal days.
    pub(crate) fn fingerprint(&self) -> (i64, i64, bool) {
        (self.seats.rows, self.seats.version, self.admin_closed)
    }
}

/// A kept day and the epoch its reading began at.
#[derive(Debug, Clone)]
struct Kept {
    seats: Arc<DaySeats>,
    admin_closed: bool,
    read_at: u64,
}

/// One counter's kept days.
#[derive(Debug, Default)]
struct CounterDays {
    /// Grows with every change noted (see the module's description).
    epoch: u64,
    /// The epoch of each day's last noted change.
    changed: HashMap<NaiveDate, u64>,
    days: HashMap<NaiveDate, Kept>,
    /// Days read before this epoch are not current (after the maps were emptied).
    floor: u64,
}

impl CounterDays {
    fn current(&self, date: NaiveDate) -> Option<&Kept> {
        self.days.get(&date).filter(|k| {
            k.read_at >= self.floor && k.read_at >= self.changed.get(&date).copied().unwrap_or(0)
        })
    }

    fn note(&mut self, day: NaiveDate) {
        self.epoch += 1;
        if self.changed.len() >= MAX_DAYS {
            self.changed.clear();
            self.days.clear();
            self.floor = self.epoch;
        }
        self.changed.insert(day, self.epoch);
    }
}

type Key = (String, NaiveDate);

#[derive(Debug, Default)]
pub(crate) struct DayCache {
    plans: Mutex<HashMap<Key, Arc<DayPlan>>>,
    counters: Mutex<HashMap<String, CounterDays>>,
}

#[derive(QueryableByName)]
struct DayMark {
    #[diesel(sql_type = diesel::sql_types::Date)]
    day: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n_rows: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    v_sum: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    closed: i64,
}

/// Per day of the range: its rows' count and version sum, and its closures (one query; the
/// slots part reads the `(counter_id, visit_on, version)` index alone).
fn day_marks(
    conn: &mut DbConnection,
    counter_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<HashMap<NaiveDate, (i64, i64, bool)>> {
    use diesel::sql_types::{Date, Text};
    const SQL: &str = "SELECT visit_on AS day, CAST(COUNT(*) AS BIGINT) AS n_rows, \
        CAST(COALESCE(SUM(version), 0) AS BIGINT) AS v_sum, CAST(0 AS BIGINT) AS closed \
        FROM slots WHERE counter_id = ?1 AND visit_on BETWEEN ?2 AND ?3 GROUP BY visit_on \
        UNION ALL \
        SELECT closed_on, CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(1 AS BIGINT) \
        FROM closures WHERE counter_id = ?1 AND closed_on BETWEEN ?2 AND ?3";
    let sql = match conn {
        DbConnection::Pg(_) => SQL.replace('?', "$"),
        DbConnection::Sqlite(_) => SQL.to_string(),
    };
    let rows: Vec<DayMark> = diesel::sql_query(sql)
        .bind::<Text, _>(counter_id)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .load(conn)?;
    let mut marks: HashMap<NaiveDate, (i64, i64, bool)> = HashMap::new();
    for m in rows {
        let e = marks.entry(m.day).or_insert((0, 0, false));
        e.0 += m.n_rows;
        e.1 += m.v_sum;
        e.2 |= m.closed > 0;
    }
    Ok(marks)
}

type SeatRow = (String, NaiveDate, i32, i32, i32, i32, i64);

/// The span of days kept current on `today`.
pub(crate) fn watched(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (
        today - Duration::days(1),
        today + Duration::days(WATCHED_DAYS),
    )
}

impl DayCache {
    /// The day's plan, computed on first use.
    pub(crate) fn plan(
        &self,
        planner: &impl Planner,
        counter: &Counter,
        date: NaiveDate,
    ) -> Arc<DayPlan> {
        let key = (counter.id.clone(), date);
        if let Some(plan) = self.plans.lock().ok().and_then(|p| p.get(&key).cloned()) {
            return plan;
        }
        let plan = Arc::new(planner.day_plan(counter, date));
        if let Ok(mut plans) = self.plans.lock() {
            if plans.len() >= MAX_DAYS {
                plans.clear();
            }
            plans.insert(key, plan.clone());
        }
        plan
    }

    /// The counter's epoch: it grows with every change noted for one of its days, so an
    /// answer built from its days at one epoch stays right while the epoch is the same.
    pub(crate) fn epoch(&self, counter: &str) -> u64 {
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(counter).map(|d| d.epoch))
            .unwrap_or(0)
    }

    /// Days of `counter` changed (by a write of this process, or seen by the watcher).
    pub(crate) fn note_changed<'a>(&self, changed: impl IntoIterator<Item = (&'a str, NaiveDate)>) {
        if let Ok(mut counters) = self.counters.lock() {
            for (counter, day) in changed {
                counters.entry(counter.to_string()).or_default().note(day);
            }
        }
    }

    /// The days from `from` to `to` (inclusive) if every one is kept and current: no database.
    pub(crate) fn days_in_memory(
        &self,
        planner: &impl Planner,
        counter: &Counter,
        from: NaiveDate,
        to: NaiveDate,
        today: NaiveDate,
    ) -> Option<Vec<DayState>> {
        let (first, last) = watched(today);
        if from < first || to > last {
            return None;
        }
        let kept: Vec<Kept> = {
            let counters = self.counters.lock().ok()?;
            let days = counters.get(&counter.id)?;
            from.iter_days()
                .take_while(|d| *d <= to)
                .map(|d| days.current(d).cloned())
                .collect::<Option<Vec<_>>>()?
        };
        Some(
            from.iter_days()
                .zip(kept)
                .map(|(d, k)| DayState {
                    plan: self.plan(planner, counter, d),
                    seats: k.seats,
                    admin_closed: k.admin_closed,
                })
                .collect(),
        )
    }

    /// The days from `from` to `to` (inclusive) as they are now: those kept and current from
    /// memory, the others read (one query for their rows, one for their closures).
    pub(crate) fn days(
        &self,
        conn: &mut DbConnection,
        planner: &impl Planner,
        counter: &Counter,
        from: NaiveDate,
        to: NaiveDate,
        today: NaiveDate,
    ) -> QueryResult<Vec<DayState>> {
        let (first, last) = watched(today);
        let dates: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let (read_at, mut kept): (u64, Vec<Option<Kept>>) = {
            let counters = self.counters.lock().ok();
            let days = counters.as_ref().and_then(|c| c.get(&counter.id));
            let kept = dates
                .iter()
                .map(|d| days.and_then(|days| days.current(*d).cloned()))
                .collect();
            (days.map_or(0, |d| d.epoch), kept)
        };
        let missing: Vec<NaiveDate> = dates
            .iter()
            .zip(&kept)
            .filter(|(_, k)| k.is_none())
            .map(|(d, _)| *d)
            .collect();
        if let (Some(lo), Some(hi)) = (missing.first(), missing.last()) {
            let mut rows = seat_rows_by_day(conn, &counter.id, *lo, *hi)?;
            let closed = super::repo::list_closed_dates(conn, &counter.id, *lo, *hi)?;
            let mut counters = self.counters.lock().ok();
            let days = counters
                .as_mut()
                .map(|c| c.entry(counter.id.clone()).or_default());
            let mut days = days;
            for (d, k) in dates.iter().zip(kept.iter_mut()) {
                if k.is_some() {
                    continue;
                }
                let plan = self.plan(planner, counter, *d);
                let read = Kept {
                    seats: Arc::new(seats_of(&plan, &rows.remove(d).unwrap_or_default())),
                    admin_closed: closed.contains(d),
                    read_at,
                };
                if let Some(days) = days.as_deref_mut() {
                    if (first..=last).contains(d) {
                        if days.days.len() >= MAX_DAYS {
                            days.days.clear();
                            days.floor = days.epoch;
                        }
                        days.days.insert(*d, read.clone());
                    }
                }
                *k = Some(read);
            }
        }
        Ok(dates
            .iter()
            .zip(kept)
            .map(|(d, k)| {
                let k = k.unwrap_or_else(|| Kept {
                    seats: Arc::default(),
                    admin_closed: false,
                    read_at,
                });
                DayState {
                    plan: self.plan(planner, counter, *d),
                    seats: k.seats,
                    admin_closed: k.admin_closed,
                }
            })
            .collect())
    }

    /// One pass of the watcher over `counter`'s kept days in the watched span: the days whose
    /// fingerprint in the database differs from the one kept are noted as changed. Returns
    /// how many.
    pub(crate) fn watch(
        &self,
        conn: &mut DbConnection,
        counter: &Counter,
        today: NaiveDate,
    ) -> QueryResult<usize> {
        let (first, last) = watched(today);
        let kept: Vec<(NaiveDate, (i64, i64, bool))> = {
            let Ok(counters) = self.counters.lock() else {
                return Ok(0);
            };
            let Some(days) = counters.get(&counter.id) else {
                return Ok(0);
            };
            days.days
                .iter()
                .filter(|(d, _)| (first..=last).contains(*d))
                .filter_map(|(d, _)| {
                    days.current(*d)
                        .map(|k| (*d, (k.seats.rows, k.seats.version, k.admin_closed)))
                })
                .collect()
        };
        if kept.is_empty() {
            return Ok(0);
        }
        let marks = day_marks(conn, &counter.id, first, last)?;
        let changed: Vec<NaiveDate> = kept
            .into_iter()
            .filter(|(d, fingerprint)| {
                marks.get(d).copied().unwrap_or((0, 0, false)) != *fingerprint
            })
            .map(|(d, _)| d)
            .collect();
        self.note_changed(changed.iter().map(|d| (counter.id.as_str(), *d)));
        Ok(changed.len())
    }
}

/// A counter's slot rows of the days `lo` to `hi`, by day.
fn seat_rows_by_day(
    conn: &mut DbConnection,
    counter: &str,
    lo: NaiveDate,
    hi: NaiveDate,
) -> QueryResult<HashMap<NaiveDate, Vec<SeatRow>>> {
    let rows: Vec<SeatRow> = slots::table
        .filter(slots::counter_id.eq(counter))
        .filter(slots::visit_on.between(lo, hi))
        .select((
            slots::id,
            slots::visit_on,
            slots::capacity,
            slots::booked,
            slots::phone_held,
            slots::offer_held,
            slots::version,
        ))
        .load(conn)?;
    let mut by_day: HashMap<NaiveDate, Vec<SeatRow>> = HashMap::new();
    for r in rows {
        by_day.entry(r.1).or_default().push(r);
    }
    Ok(by_day)
}

/// A day's seats from its rows, aligned with the plan's slots; the count and version sum are
/// the rows' own (so what is kept always matches what was read).
fn seats_of(plan: &DayPlan, rows: &[SeatRow]) -> DaySeats {
    let mut seats = vec![None; plan.slots.len()];
    for (id, _, capacity, booked, phone_held, offer_held, _) in rows {
        if let Some(i) = plan.ids.iter().position(|p| p == id) {
            seats[i] = Some(Seats {
                capacity: *capacity,
                booked: *booked,
                offer_held: *offer_held,
                phone_held: *phone_held,
            });
        }
    }
    DaySeats {
        rows: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        version: rows.iter().map(|r| r.6).sum(),
        seats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_day_noted_while_it_was_read_is_not_current() {
        let mut days = CounterDays::default();
        let read_at = days.epoch;
        days.note(d("2027-02-10"));
        days.days.insert(
            d("2027-02-10"),
            Kept {
                seats: Arc::default(),
                admin_closed: false,
                read_at,
            },
        );
        assert!(days.current(d("2027-02-10")).is_none());
        // Read again after the change: current, until the next change.
        let read_at = days.epoch;
        days.days.get_mut(&d("2027-02-10")).expect("kept").read_at = read_at;
        assert!(days.current(d("2027-02-10")).is_some());
        days.note(d("2027-02-11"));
        assert!(days.current(d("2027-02-10")).is_some(), "another day");
        days.note(d("2027-02-10"));
        assert!(days.current(d("2027-02-10")).is_none());
    }
}
