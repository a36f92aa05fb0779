//! Serialising transactions that touch the same things (a day, a person, an address) until they
//! commit. PostgreSQL: transaction-scoped advisory locks. SQLite: nothing to do, one writer at a
//! time (`BEGIN IMMEDIATE`, the writer thread) already serialises them.
//!
//! [`Lock`]'s rank ([`Lock::rank`], its declaration order, where a person and an address share
//! one and so do the two kinds of verification lock) is the lock order: a transaction takes its
//! locks rank by rank (all of one step in one call to [`lock`], which sorts them by rank and,
//! within a rank, by lock id, as the string-keyed locks before them did, so that instances of
//! both versions on one database agree), and never one of a lower rank than a lock it already
//! holds; so no two transactions can wait for each other in a circle. Slot rows come after
//! every lock here.

use chrono::NaiveDate;

use super::DbConnection;

/// A thing to serialise on, declared in lock order ([`Lock::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock<'a> {
    /// The administrators as a group (the last active admin stays).
    Admins,
    /// Failed sign-ins from one client address (its key), so concurrent guesses all count.
    LoginAddress(&'a str),
    /// Verification requests for one address.
    VerifyEmail(&'a str),
    /// Verification requests from one client address (its key).
    VerifyAddress(&'a str),
    /// A counter's waiting list of a day: taken by whoever frees or holds a seat of the day
    /// (a cancellation, a move, a capacity change, a closure, an offer) before the day.
    Waitlist { counter: &'a str, day: NaiveDate },
    /// A voluntary proxy's second visit, by the first visit's id.
    SecondVisit(&'a str),
    /// A counter's day: shared by what books or checks in on it, exclusive for what closes or
    /// reopens it.
    Day { counter: &'a str, day: NaiveDate },
    /// A counter's queue of a day: calls and recalls, so display events stay in order.
    Queue { counter: &'a str, day: NaiveDate },
    /// A person (the key of their kana and phone).
    Person(&'a str),
    /// A verified address.
    Email(&'a str),
}

/// Whether holders of the same lock wait for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mode {
    /// Shared holders do not wait for each other, only for an exclusive one.
    Shared,
    Exclusive,
}

impl Lock<'_> {
    /// The lock order: lower ranks first.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Lock::Admins => 0,
            Lock::LoginAddress(_) => 1,
            Lock::VerifyEmail(_) | Lock::VerifyAddress(_) => 2,
            Lock::Waitlist { .. } => 3,
            Lock::SecondVisit(_) => 4,
            Lock::Day { .. } => 5,
            Lock::Queue { .. } => 6,
            Lock::Person(_) | Lock::Email(_) => 7,
        }
    }

    /// The key the lock id is derived from (stable across versions: instances of two versions
    /// on one database take the same locks).
    fn key(&self) -> String {
        match self {
            Lock::Admins => "staff:admins".into(),
            Lock::LoginAddress(k) => format!("login-ip:{k}"),
            Lock::VerifyEmail(e) => format!("verify-email:{e}"),
            Lock::VerifyAddress(k) => format!("verify-ip:{k}"),
            Lock::Waitlist { counter, day } => format!("waitlist:{counter}:{day}"),
            Lock::SecondVisit(id) => format!("second-visit:{id}"),
            Lock::Day { counter, day } => format!("day:{counter}:{day}"),
            Lock::Queue { counter, day } => format!("queue:{counter}:{day}"),
            Lock::Person(k) => format!("person:{k}"),
            Lock::Email(e) => format!("email:{e}"),
        }
    }

    /// The advisory lock id: the first 60 bits of the key's SHA-256 (PostgreSQL's
    /// `madoguchi_lock_id` derives the same).
    pub(crate) fn id(&self) -> i64 {
        let hex = crate::tokens::sha256_hex(self.key().as_bytes());
        i64::from_str_radix(&hex[..15], 16).unwrap_or(0)
    }
}

/// Takes `locks` until the transaction ends, in lock order (sorted here: by rank, then by id;
/// a lock named twice is taken once, exclusively if either asks so), in one statement on
/// PostgreSQL.
pub(crate) fn lock(conn: &mut DbConnection, locks: &[(Mode, Lock<'_>)]) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let DbConnection::Pg(pg) = conn else {
        return Ok(());
    };
    // Exclusive after shared for the same lock, so the dedup below keeps the exclusive one.
    let mut sorted: Vec<(u8, i64, Mode)> = locks
        .iter()
        .map(|(mode, lock)| (lock.rank(), lock.id(), *mode))
        .collect();
    sorted.sort();
    let mut calls: Vec<String> = Vec::with_capacity(sorted.len());
    for (i, (rank, id, mode)) in sorted.iter().enumerate() {
        if sorted
            .get(i + 1)
            .is_some_and(|(r, next, _)| r == rank && next == id)
        {
            continue;
        }
        let f = match mode {
            Mode::Shared => "pg_advisory_xact_lock_shared",
            Mode::Exclusive => "pg_advisory_xact_lock",
        };
        calls.push(format!("{f}({id})"));
    }
    if calls.is_empty() {
        return Ok(());
    }
    // The select list is evaluated in order. The ids are integers computed here, never input:
    // safe to write into the statement.
    diesel::sql_query(format!("SELECT {}", calls.join(", "))).execute(pg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_order_puts_the_waiting_list_before_the_day_and_the_day_before_people() {
        let day = NaiveDate::from_ymd_opt(2027, 2, 1).expect("date");
        let waitlist = Lock::Waitlist { counter: "c", day };
        let day = Lock::Day { counter: "c", day };
        assert!(waitlist.rank() < day.rank());
        assert!(day.rank() < Lock::Person("k").rank());
        // A person and an address are one rank: taken by id, as the string-keyed locks were.
        assert_eq!(
            Lock::Person("k").rank(),
            Lock::Email("a@example.org").rank()
        );
    }

    #[test]
    fn the_booking_functions_locks_are_these() {
        // migrations/postgres/…_book_function takes the address's lock as
        // madoguchi_lock_id('email:' || key), in one rank with the person's, after the days'.
        assert_eq!(Lock::Email("a@example.jp").key(), "email:a@example.jp");
        let day = NaiveDate::from_ymd_opt(2027, 2, 1).expect("date");
        assert!(Lock::Day { counter: "c", day }.rank() < Lock::Email("k").rank());
        assert_eq!(Lock::Person("k").rank(), Lock::Email("k").rank());
    }

    #[test]
    fn lock_ids_are_those_of_the_keys_earlier_versions_took() {
        // day:city-hall:2027-02-01 as the string-keyed locks hashed it.
        let day = NaiveDate::from_ymd_opt(2027, 2, 1).expect("date");
        let hex = crate::tokens::sha256_hex(b"day:city-hall:2027-02-01");
        let expected = i64::from_str_radix(&hex[..15], 16).expect("hex");
        assert_eq!(
            Lock::Day {
                counter: "city-hall",
                day
            }
            .id(),
            expected
        );
    }
}
