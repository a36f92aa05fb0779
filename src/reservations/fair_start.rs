//! A fair start at a month's opening (`booking.fair_start_seconds` = N > 0).
//!
//! A web booking for a day whose window opened less than N seconds ago is not served as it
//! comes: it is written down ([`enter`]) and waits. Once the N seconds are over, one instance
//! claims the opening's draw ([`claim`], a lease another instance takes over when it runs
//! out), draws a seed once, and serves the waiting bookings in the order of
//! SHA-256(seed ‖ request id), a uniformly random order nobody can steer by arriving early
//! ([`serve_batch`]). A booking that gets its seat records `Booked` in the same transaction;
//! one refused records `Refused`, and the instance holding the request then answers it the
//! usual way (the seat is gone, so it gets 409 with the alternatives of that moment). A
//! request's body (its verification and manage tokens) is erased as it is served; the row
//! keeps the outcome until the client has had time to ask again, then [`sweep`] deletes it.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::input::{BookingInput, RawBooking};
use super::service::{self, Booked, Origin};
use super::{BookingError, Ctx};
use crate::calendar::SlotId;
use crate::db::schema::{fair_start_draws, fair_start_requests};
use crate::db::{DbConnection, Tx};
use crate::staff::audit::{self, Detail};
use crate::tokens::{hash_token, new_secret, sha256_hex};

/// What a waiting request holds until it is served.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Waiting {
    pub raw: RawBooking,
    pub verification_token: String,
    /// Made when the request came, so the instance that answers knows it.
    pub manage_token: String,
}

/// What serving a request came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The reservation made (its id) and the manage token the client is given.
    Booked {
        reservation_id: String,
        manage_token: String,
    },
    /// Not booked: the client is answered the usual way, which now says why.
    Refused,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Not a fair start's request: serve it as it comes.
    Serve,
    /// Wait for the opening's draw, which starts at `until`.
    Wait {
        opening: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// Just after the N seconds: wait (after the held ones) if the draw is still serving.
    JustAfter {
        opening: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

/// How long after a fair start's N seconds a web booking for that opening still joins the
/// draw (after the held ones) while the draw has not finished, so nobody overtakes the
/// requests it is still serving.
pub(crate) const LATE_SECONDS: i64 = 120;

/// Whether a web booking at `now` waits: when the window of its first choice or of one of its
/// fallbacks opened less than `seconds` ago (`Wait`), or a little longer ago and the draw may
/// still be serving (`JustAfter`: the caller asks [`draw_pending`]).
pub(crate) fn standing(
    ctx: &Ctx<'_>,
    input: &BookingInput,
    seconds: u32,
    now: DateTime<Utc>,
) -> Standing {
    standing_of(ctx, input.candidates(), seconds, now)
}

/// [`standing`] for any slots (a hold names one).
pub(crate) fn standing_of<'s>(
    ctx: &Ctx<'_>,
    slots: impl Iterator<Item = &'s SlotId>,
    seconds: u32,
    now: DateTime<Utc>,
) -> Standing {
    if seconds == 0 {
        return Standing::Serve;
    }
    let n = Duration::seconds(i64::from(seconds));
    let mut late = None;
    for id in slots {
        let Ok((counter, _)) = ctx.calendar.resolve(id) else {
            continue;
        };
        let opening = ctx.calendar.window.opens_at(id.date, counter.tz);
        let until = opening + n;
        if opening <= now && now < until {
            return Standing::Wait { opening, until };
        }
        if until <= now && now < until + Duration::seconds(LATE_SECONDS) {
            late.get_or_insert(Standing::JustAfter { opening, until });
        }
    }
    late.unwrap_or(Standing::Serve)
}

/// Whether a request for these slots could have been held at an opening whose outcome is
/// still kept (from the opening to [`KEEP_MINUTES`] after its N seconds): only then can a
/// client asking again have a held request to be answered from.
pub(crate) fn near_opening(
    ctx: &Ctx<'_>,
    input: &BookingInput,
    seconds: u32,
    now: DateTime<Utc>,
) -> bool {
    let kept = Duration::seconds(i64::from(seconds)) + Duration::minutes(KEEP_MINUTES);
    input.candidates().any(|id| {
        ctx.calendar.resolve(id).is_ok_and(|(counter, _)| {
            let opening = ctx.calendar.window.opens_at(id.date, counter.tz);
            opening <= now && now < opening + kept
        })
    })
}

/// Whether the draw of `opening` is not finished (requests unserved, or never finished).
pub(crate) fn draw_pending(conn: &mut DbConnection, opening: DateTime<Utc>) -> QueryResult<bool> {
    let key = opening.naive_utc();
    let unserved: i64 = fair_start_requests::table
        .filter(fair_start_requests::opening.eq(key))
        .filter(fair_start_requests::served_at.is_null())
        .count()
        .get_result(conn)?;
    if unserved > 0 {
        return Ok(true);
    }
    let unfinished: i64 = fair_start_draws::table
        .filter(fair_start_draws::opening.eq(key))
        .filter(fair_start_draws::finished_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(unfinished > 0)
}

/// A request already written down for this verification link (a client asking again).
pub(crate) struct Existing {
    pub id: String,
    pub outcome: Option<Outcome>,
}

/// The request made with this link, if one is waiting or was served lately.
pub(crate) fn find_for_link(
    conn: &mut DbConnection,
    verification_token: &str,
) -> QueryResult<Option<Existing>> {
    let row: Option<(String, Option<String>)> = fair_start_requests::table
        .filter(fair_start_requests::link_hash.eq(hash_token(verification_token)))
        .select((fair_start_requests::id, fair_start_requests::outcome))
        .order(fair_start_requests::entered_at.desc())
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, outcome)| Existing {
        id,
        outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
    }))
}

/// Writes a request down to wait for its opening's draw; its id. A link that cannot book
/// (unknown, used, expired) is refused now: only a request that could book waits.
pub(crate) fn enter(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    waiting: &Waiting,
    opening: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String, BookingError> {
    let max = i32::try_from(ctx.settings.limits.refusals_per_link).unwrap_or(i32::MAX);
    crate::verification::lookup(tx, &waiting.verification_token, max, now)?;
    // A link valid when the request came stays valid until the draw has served it.
    let served_by = (now.max(opening) + Duration::seconds(LATE_SECONDS * 2)).naive_utc();
    crate::verification::keep_until(tx, &waiting.verification_token, served_by)?;
    let id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_string(waiting)
        .map_err(|e| anyhow::anyhow!("a fair start's request: {e}"))?;
    let conn: &mut DbConnection = tx;
    diesel::insert_into(fair_start_requests::table)
        .values((
            fair_start_requests::id.eq(&id),
            fair_start_requests::opening.eq(opening.naive_utc()),
            fair_start_requests::link_hash.eq(hash_token(&waiting.verification_token)),
            fair_start_requests::body.eq(Some(body)),
            fair_start_requests::entered_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Openings with requests still to serve whose N seconds are over at `now`.
pub(crate) fn openings_due(
    conn: &mut DbConnection,
    seconds: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let before = (now - Duration::seconds(i64::from(seconds))).naive_utc();
    let due: Vec<NaiveDateTime> = fair_start_requests::table
        .filter(fair_start_requests::served_at.is_null())
        .filter(fair_start_requests::opening.le(before))
        .select(fair_start_requests::opening)
        .distinct()
        .load(conn)?;
    Ok(due.into_iter().map(|o| o.and_utc()).collect())
}

/// How long a claim on a draw lasts without being renewed (each batch renews it).
const LEASE_SECONDS: i64 = 10;

/// The opening's draw for `instance`: its seed, or None while another instance holds it. The
/// first claim draws the seed; one taking over a lapsed lease keeps it (the same order).
pub(crate) fn claim(
    tx: &mut Tx<'_>,
    opening: DateTime<Utc>,
    instance: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<String>> {
    let conn: &mut DbConnection = tx;
    let key = opening.naive_utc();
    let lease = (now + Duration::seconds(LEASE_SECONDS)).naive_utc();
    let seed = new_secret();
    let values = (
        fair_start_draws::opening.eq(key),
        fair_start_draws::seed.eq(&seed),
        fair_start_draws::claimed_by.eq(instance),
        fair_start_draws::lease_until.eq(lease),
    );
    let inserted = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(fair_start_draws::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Pg(c) => diesel::insert_into(fair_start_draws::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    if inserted == 0 {
        let taken = diesel::update(fair_start_draws::table.find(key))
            .filter(
                fair_start_draws::claimed_by
                    .eq(instance)
                    .or(fair_start_draws::lease_until.lt(now.naive_utc())),
            )
            .set((
                fair_start_draws::claimed_by.eq(instance),
                fair_start_draws::lease_until.eq(lease),
            ))
            .execute(conn)?;
        if taken == 0 {
            return Ok(None);
        }
    }
    fair_start_draws::table
        .find(key)
        .select(fair_start_draws::seed)
        .first(conn)
        .map(Some)
}

/// A request's place in the draw: SHA-256 of the seed and its id (hex, compared as text).
pub(crate) fn rank(seed: &str, id: &str) -> String {
    sha256_hex(format!("{seed}{id}").as_bytes())
}

/// The opening's requests still to serve, in the draw's order: those that came in the N
/// seconds first, by SHA-256(seed ‖ id); those that came after them (while the draw was still
/// serving) next, in the same order among themselves.
pub(crate) fn order(
    conn: &mut DbConnection,
    opening: DateTime<Utc>,
    seconds: u32,
    seed: &str,
) -> QueryResult<Vec<String>> {
    let until = (opening + Duration::seconds(i64::from(seconds))).naive_utc();
    let rows: Vec<(String, NaiveDateTime)> = fair_start_requests::table
        .filter(fair_start_requests::opening.eq(opening.naive_utc()))
        .filter(fair_start_requests::served_at.is_null())
        .select((fair_start_requests::id, fair_start_requests::entered_at))
        .load(conn)?;
    let mut keyed: Vec<((bool, String), String)> = rows
        .into_iter()
        .map(|(id, at)| ((at >= until, rank(seed, &id)), id))
        .collect();
    keyed.sort();
    Ok(keyed.into_iter().map(|(_, id)| id).collect())
}

/// What a batch served: per request, its id and outcome.
pub(crate) struct Served {
    pub outcomes: Vec<(String, Outcome)>,
}

/// Serves `ids` in order, each booking in its own savepoint, its outcome written with it; the
/// lease renewed. A request another instance served meanwhile is skipped.
pub(crate) fn serve_batch(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    opening: DateTime<Utc>,
    instance: &str,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<Served, BookingError> {
    // The lease first: an instance whose lease lapsed (another took the draw over) stops here;
    // on PostgreSQL the row lock also keeps two instances' batches apart.
    let held = diesel::update(fair_start_draws::table.find(opening.naive_utc()))
        .filter(fair_start_draws::claimed_by.eq(instance))
        .set(fair_start_draws::lease_until.eq((now + Duration::seconds(LEASE_SECONDS)).naive_utc()))
        .execute(&mut **tx)?;
    if held == 0 {
        return Ok(Served {
            outcomes: Vec::new(),
        });
    }
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        let body: Option<Option<String>> = fair_start_requests::table
            .find(id)
            .filter(fair_start_requests::served_at.is_null())
            .select(fair_start_requests::body)
            .first(&mut **tx)
            .optional()?;
        let Some(body) = body else { continue };
        let outcome = match body.and_then(|b| serde_json::from_str::<Waiting>(&b).ok()) {
            Some(waiting) => match tx.savepoint(|t| book_one(t, ctx, waiting, now)) {
                Ok(booked) => Outcome::Booked {
                    reservation_id: booked.row.id,
                    manage_token: booked.manage_token,
                },
                Err(e @ (BookingError::Db(_) | BookingError::Unexpected(_))) => {
                    // Its savepoint is undone; the draw goes on, and the client is answered
                    // the usual way (which says what is wrong, or books).
                    tracing::warn!(fair_start.request = %id, error = %e, "a held booking failed in the draw");
                    Outcome::Refused
                }
                Err(_) => Outcome::Refused,
            },
            None => Outcome::Refused,
        };
        let stored = serde_json::to_string(&outcome)
            .map_err(|e| anyhow::anyhow!("a fair start's outcome: {e}"))?;
        let conn: &mut DbConnection = tx;
        diesel::update(fair_start_requests::table.find(id))
            .set((
                fair_start_requests::body.eq(None::<String>),
                fair_start_requests::outcome.eq(Some(stored)),
                fair_start_requests::served_at.eq(Some(now.naive_utc())),
            ))
            .execute(conn)?;
        outcomes.push((id.clone(), outcome));
    }
    let conn: &mut DbConnection = tx;
    diesel::update(fair_start_draws::table.find(opening.naive_utc()))
        .filter(fair_start_draws::claimed_by.eq(instance))
        .set(fair_start_draws::served.eq(fair_start_draws::served + outcomes.len() as i32))
        .execute(conn)?;
    Ok(Served { outcomes })
}

fn book_one(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    waiting: Waiting,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    let input = BookingInput::parse(waiting.raw)?;
    let origin = Origin::Web {
        verification_token: waiting.verification_token,
        hold_id: None,
    };
    let plan = service::plan_booking_with(ctx, input, origin, waiting.manage_token, now)?;
    service::book_planned(tx, ctx, plan, now)
}

/// The draw of `opening` has nothing left to serve: it is finished, and the audit log keeps
/// its seed with what it served.
pub(crate) fn finish(
    tx: &mut Tx<'_>,
    opening: DateTime<Utc>,
    seed: &str,
    served: usize,
    booked: usize,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let conn: &mut DbConnection = tx;
    diesel::update(fair_start_draws::table.find(opening.naive_utc()))
        .set(fair_start_draws::finished_at.eq(Some(now.naive_utc())))
        .execute(conn)?;
    let detail = Detail::FairStart {
        opening: opening.to_rfc3339(),
        seed,
        served,
        booked,
    };
    audit::record(conn, None, &opening.to_rfc3339(), &detail, now)
}

/// The outcomes of these requests that have been served.
pub(crate) fn outcomes(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, Outcome)>> {
    let rows: Vec<(String, Option<String>)> = fair_start_requests::table
        .filter(fair_start_requests::id.eq_any(ids))
        .filter(fair_start_requests::served_at.is_not_null())
        .select((fair_start_requests::id, fair_start_requests::outcome))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, o)| {
            let outcome = o
                .and_then(|o| serde_json::from_str(&o).ok())
                .unwrap_or(Outcome::Refused);
            (id, outcome)
        })
        .collect())
}

/// How long a served request's outcome is kept for a client that asks again.
pub(crate) const KEEP_MINUTES: i64 = 15;

/// Deletes requests served more than [`KEEP_MINUTES`] ago (their manage tokens with them).
pub(crate) fn sweep(tx: &mut Tx<'_>, now: DateTime<Utc>) -> QueryResult<usize> {
    let before = (now - Duration::minutes(KEEP_MINUTES)).naive_utc();
    let conn: &mut DbConnection = tx;
    diesel::delete(fair_start_requests::table.filter(fair_start_requests::served_at.lt(before)))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rank_depends_on_the_seed_and_the_id_only() {
        let a = rank("00ff", "a");
        assert_eq!(a, rank("00ff", "a"));
        assert_ne!(a, rank("00fe", "a"));
        assert_ne!(a, rank("00ff", "b"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn an_outcome_is_stored_as_tagged_json() {
        let o = Outcome::Booked {
            reservation_id: "r".into(),
            manage_token: "t".into(),
        };
        let s = serde_json::to_string(&o).unwrap();
        assert!(s.contains("\"outcome\":\"booked\""), "{s}");
        assert_eq!(serde_json::from_str::<Outcome>(&s).unwrap(), o);
        assert_eq!(
            serde_json::to_string(&Outcome::Refused).unwrap(),
            r#"{"outcome":"refused"}"#
        );
    }
}
