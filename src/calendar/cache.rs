//! What availability reads, kept between requests.
//!
//! A day's slot plan (its slots, booking window and phone release) follows from the
//! configuration alone, which is fixed at run time: it is computed once per day and kept.
//! A day's seats live in the database, where any instance may change them. Every read asks
//! one aggregate query for the whole range: per day, `COUNT(*)` and `SUM(version)` of its
//! slot rows (a row's version grows with every change to its seats, so the pair changes with
//! anything on that day) and whether an administrator closed it. Only the days whose pair
//! differs from what is kept are read again, with the seat columns alone. So a read costs one
//! index-only query while nothing changes, and never shows less than what was committed
//! before it began (exact: a booking shows in the next read, from any instance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::{ClosedReason, Counter, DayStatus, Seats, SlotDef};
use crate::db::schema::slots;
use crate::db::DbConnection;

/// Days kept per map before it is emptied (any date 1900–2100 may be asked for).
const MAX_DAYS: usize = 8192;

/// A day as the configuration makes it.
#[derive(Debug)]
pub struct DayPlan {
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
pub trait Planner {
    fn day_plan(&self, counter: &Counter, date: NaiveDate) -> DayPlan;
}

/// A day's seats as last read.
#[derive(Debug, Default)]
pub struct DaySeats {
    /// `COUNT(*)` and `SUM(version)` of the day's rows when they were read.
    pub rows: i64,
    pub version: i64,
    /// Per slot of the plan; None: no row yet, the counter's configured seats.
    pub seats: Vec<Option<Seats>>,
}

/// A day now: its plan, its seats, and whether an administrator closed it.
#[derive(Debug, Clone)]
pub struct DayState {
    pub plan: Arc<DayPlan>,
    pub seats: Arc<DaySeats>,
    pub admin_closed: bool,
}

impl DayState {
    /// The day's status: the configuration's, closed by an administrator's closure.
    pub fn status(&self) -> DayStatus {
        match self.plan.configured {
            DayStatus::Open { .. } if self.admin_closed => DayStatus::Closed(ClosedReason::Closure),
            other => other,
        }
    }

    /// The slots the day has now (none when it is closed) with their seats.
    pub fn slots(&self, counter: &Counter) -> impl Iterator<Item = (&SlotDef, Seats)> {
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
    pub fn fingerprint(&self) -> (i64, i64, bool) {
        (self.seats.rows, self.seats.version, self.admin_closed)
    }
}

type Key = (String, NaiveDate);

/// Everything a rendered day depends on: its fingerprint, what the clock makes of it, and who
/// looks (staff see every free seat and the waiting list).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderKey {
    pub counter: String,
    pub date: NaiveDate,
    pub staff: bool,
    pub fingerprint: (i64, i64, bool),
    pub bookable_now: bool,
    pub released: bool,
    pub waiting: Option<i64>,
}

#[derive(Debug, Default)]
pub struct DayCache {
    plans: Mutex<HashMap<Key, Arc<DayPlan>>>,
    seats: Mutex<HashMap<Key, Arc<DaySeats>>>,
    rendered: Mutex<HashMap<RenderKey, Arc<[u8]>>>,
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
) -> QueryResult<Vec<DayMark>> {
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
    diesel::sql_query(sql)
        .bind::<Text, _>(counter_id)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .load(conn)
}

type SeatRow = (String, NaiveDate, i32, i32, i32, i32, i64);

impl DayCache {
    /// The day's plan, computed on first use.
    pub fn plan(&self, planner: &impl Planner, counter: &Counter, date: NaiveDate) -> Arc<DayPlan> {
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

    /// A day as rendered for `key` (by `render` on first use): a day's JSON is the same for
    /// every read with the same key.
    pub fn rendered(&self, key: RenderKey, render: impl FnOnce() -> Vec<u8>) -> Arc<[u8]> {
        if let Some(bytes) = self.rendered.lock().ok().and_then(|r| r.get(&key).cloned()) {
            return bytes;
        }
        let bytes: Arc<[u8]> = render().into();
        if let Ok(mut rendered) = self.rendered.lock() {
            if rendered.len() >= MAX_DAYS {
                rendered.clear();
            }
            rendered.insert(key, bytes.clone());
        }
        bytes
    }

    /// The days from `from` to `to` (inclusive) as they are now.
    pub fn days(
        &self,
        conn: &mut DbConnection,
        planner: &impl Planner,
        counter: &Counter,
        from: NaiveDate,
        to: NaiveDate,
    ) -> QueryResult<Vec<DayState>> {
        let mut marks: HashMap<NaiveDate, (i64, i64, bool)> = HashMap::new();
        for m in day_marks(conn, &counter.id, from, to)? {
            let e = marks.entry(m.day).or_insert((0, 0, false));
            e.0 += m.n_rows;
            e.1 += m.v_sum;
            e.2 |= m.closed > 0;
        }
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let kept: Vec<Option<Arc<DaySeats>>> = {
            let seats = self.seats.lock().ok();
            days.iter()
                .map(|d| {
                    seats
                        .as_ref()
                        .and_then(|s| s.get(&(counter.id.clone(), *d)).cloned())
                })
                .collect()
        };
        // Days whose rows changed since they were read (or never read, with rows).
        let stale: Vec<NaiveDate> = days
            .iter()
            .zip(&kept)
            .filter(|(d, k)| {
                let (rows, version, _) = marks.get(d).copied().unwrap_or_default();
                match k {
                    Some(k) => k.rows != rows || k.version != version,
                    None => rows > 0,
                }
            })
            .map(|(d, _)| *d)
            .collect();
        let mut fresh: HashMap<NaiveDate, Arc<DaySeats>> = HashMap::new();
        if let (Some(lo), Some(hi)) = (stale.first(), stale.last()) {
            let mut by_day = seat_rows_by_day(conn, &counter.id, *lo, *hi)?;
            for d in &stale {
                let plan = self.plan(planner, counter, *d);
                let rows = by_day.remove(d).unwrap_or_default();
                fresh.insert(*d, Arc::new(seats_of(&plan, &rows)));
            }
            if let Ok(mut seats) = self.seats.lock() {
                if seats.len() + fresh.len() > MAX_DAYS {
                    seats.clear();
                }
                for (d, s) in &fresh {
                    seats.insert((counter.id.clone(), *d), s.clone());
                }
            }
        }
        Ok(days
            .iter()
            .zip(kept)
            .map(|(d, k)| DayState {
                plan: self.plan(planner, counter, *d),
                seats: fresh.get(d).cloned().or(k).unwrap_or_default(),
                admin_closed: marks.get(d).is_some_and(|m| m.2),
            })
            .collect())
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
