//! The audit log: every staff write, recorded in the transaction of the write, and failed
//! logins. Holds no passwords or tokens.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::db::chain::FREE_TEXT_KEYS;
use crate::db::schema::audit_log;
use crate::db::DbConnection;

/// What an entry records (stored as text: `reservation.cancel`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, diesel::AsExpression, diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Action {
    ReservationBook,
    ReservationBookOverride,
    ReservationBookSecondVisit,
    ReservationCancel,
    DeskCheckIn,
    DeskWalkIn,
    DeskCall,
    DeskComplete,
    DeskNoShow,
    DeskRecall,
    StaffCreate,
    StaffUpdate,
    StaffDisable,
    StaffEnable,
    StaffPasswordReset,
    StaffLogin,
    StaffLoginFailed,
    StaffLoginLockout,
    StaffLogout,
    StaffPasswordChange,
    StaffTotpEnrolmentStart,
    StaffTotpEnrol,
    StaffTotpReset,
    StaffRecoveryCodesRenew,
    StaffRecoveryCodeUse,
    SlotCapacity,
    CounterClosure,
    CounterClosureLifted,
    BookingFairStart,
    LotteryCreate,
    LotteryEntry,
    LotteryDraw,
}

crate::db::text_enum!(Action {
    ReservationBook => "reservation.book",
    ReservationBookOverride => "reservation.book_override",
    ReservationBookSecondVisit => "reservation.book_second_visit",
    ReservationCancel => "reservation.cancel",
    DeskCheckIn => "desk.check_in",
    DeskWalkIn => "desk.walk_in",
    DeskCall => "desk.call",
    DeskComplete => "desk.complete",
    DeskNoShow => "desk.no_show",
    DeskRecall => "desk.recall",
    StaffCreate => "staff.create",
    StaffUpdate => "staff.update",
    StaffDisable => "staff.disable",
    StaffEnable => "staff.enable",
    StaffPasswordReset => "staff.password_reset",
    StaffLogin => "staff.login",
    StaffLoginFailed => "staff.login_failed",
    StaffLoginLockout => "staff.login_lockout",
    StaffLogout => "staff.logout",
    StaffPasswordChange => "staff.password_change",
    StaffTotpEnrolmentStart => "staff.totp_enrolment_start",
    StaffTotpEnrol => "staff.totp_enrol",
    StaffTotpReset => "staff.totp_reset",
    StaffRecoveryCodesRenew => "staff.recovery_codes_renew",
    StaffRecoveryCodeUse => "staff.recovery_code_use",
    SlotCapacity => "slot.capacity",
    CounterClosure => "counter.closure",
    CounterClosureLifted => "counter.closure_lifted",
    BookingFairStart => "booking.fair_start",
    LotteryCreate => "lottery.create",
    LotteryEntry => "lottery.entry",
    LotteryDraw => "lottery.draw",
});

/// A value before and after a change.
#[derive(Debug, Serialize)]
pub(crate) struct Change<T> {
    pub from: T,
    pub to: T,
}

impl<T> Change<Option<T>> {
    /// Neither side has a value (an account that is not a kiosk has no counter either way).
    fn is_none(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// An entry's detail, one shape per kind of entry: the action follows from the variant
/// ([`Detail::action`]) and the fields are stored as a JSON object. No passwords, tokens or
/// residents' personal data here.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Detail<'a> {
    /// A phone booking (`override_reason`: an administrator's, outside the window).
    Booked {
        slot_id: &'a str,
        procedure: &'a str,
        channel: &'a str,
        override_reason: Option<&'a str>,
        mailed: bool,
    },
    SecondVisitBooked {
        first_visit: &'a str,
        slot_id: &'a str,
    },
    Cancelled {
        reason: &'a str,
        slot_id: &'a str,
        mailed: bool,
    },
    CheckedIn {
        ticket: &'a str,
        counter: &'a str,
    },
    WalkIn {
        counter: &'a str,
        procedure: Option<&'a str>,
    },
    /// A call, or a called ticket's outcome.
    Desk {
        #[serde(skip)]
        outcome: Action,
        counter: &'a str,
        desk: Option<&'a str>,
    },
    StaffCreated {
        role: &'a str,
        display_name: &'a str,
        /// A kiosk's counter.
        #[serde(skip_serializing_if = "Option::is_none")]
        counter: Option<&'a str>,
    },
    StaffChanged {
        role: Change<&'a str>,
        display_name: Change<&'a str>,
        /// A kiosk's counter.
        #[serde(skip_serializing_if = "Change::is_none")]
        counter: Change<Option<&'a str>>,
        sessions_ended: usize,
        #[serde(skip)]
        disabled: Change<bool>,
    },
    PasswordReset {
        sessions_ended: usize,
    },
    LoggedIn {
        /// `totp` or `recovery_code`; None for an account without a second factor.
        second_factor: Option<&'a str>,
        /// The account must enrol a second factor before anything else.
        enrol_only: bool,
        /// Older sessions ended by `staff.max_sessions`.
        sessions_ended: usize,
    },
    /// `password`, `second_factor`, `network` or `password_change`.
    LoginFailed {
        failure: &'a str,
    },
    LoginLockout {
        scope: &'a str,
        failures: i64,
        wait_seconds: i64,
    },
    LoggedOut {},
    /// A staff member changed their own password.
    PasswordChanged {
        sessions_ended: usize,
    },
    TotpEnrolmentStarted {},
    TotpEnrolled {
        sessions_ended: usize,
    },
    /// An administrator removed an account's second factor.
    TotpReset {
        sessions_ended: usize,
    },
    RecoveryCodesRenewed {},
    RecoveryCodeUsed {
        left: i64,
    },
    Capacity {
        from: i32,
        to: i32,
    },
    Closure {
        reason: &'a str,
        /// The reservations cancelled with the day (their numbers).
        cancelled: &'a [String],
        waitlist_ended: u32,
    },
    ClosureLifted {
        reason: &'a str,
    },
    /// A fair start's draw served web bookings of an opening in the order its seed gives
    /// (SHA-256 of the seed's hex and each request's id, ascending).
    FairStart {
        opening: String,
        seed: &'a str,
        served: usize,
        booked: usize,
    },
    /// A lottery made: its month and instants, and the SHA-256 of its seed (published now).
    LotteryCreated {
        counter: &'a str,
        month: &'a str,
        draw_at: String,
        seed_sha256: &'a str,
    },
    /// Phone staff entered a caller in a lottery.
    LotteryEntered {
        lottery: &'a str,
        preferences: usize,
    },
    /// A lottery drawn: the seed revealed, the entries and the winners.
    LotteryDrawn {
        seed: &'a str,
        entries: usize,
        won: usize,
    },
}

impl Detail<'_> {
    /// The action this detail records.
    pub(crate) fn action(&self) -> Action {
        match self {
            Detail::Booked {
                override_reason: Some(_),
                ..
            } => Action::ReservationBookOverride,
            Detail::Booked { .. } => Action::ReservationBook,
            Detail::SecondVisitBooked { .. } => Action::ReservationBookSecondVisit,
            Detail::Cancelled { .. } => Action::ReservationCancel,
            Detail::CheckedIn { .. } => Action::DeskCheckIn,
            Detail::WalkIn { .. } => Action::DeskWalkIn,
            Detail::Desk { outcome, .. } => *outcome,
            Detail::StaffCreated { .. } => Action::StaffCreate,
            Detail::StaffChanged { disabled, .. } => match (disabled.from, disabled.to) {
                (false, true) => Action::StaffDisable,
                (true, false) => Action::StaffEnable,
                _ => Action::StaffUpdate,
            },
            Detail::PasswordReset { .. } => Action::StaffPasswordReset,
            Detail::LoggedIn { .. } => Action::StaffLogin,
            Detail::LoginFailed { .. } => Action::StaffLoginFailed,
            Detail::LoginLockout { .. } => Action::StaffLoginLockout,
            Detail::LoggedOut {} => Action::StaffLogout,
            Detail::PasswordChanged { .. } => Action::StaffPasswordChange,
            Detail::TotpEnrolmentStarted {} => Action::StaffTotpEnrolmentStart,
            Detail::TotpEnrolled { .. } => Action::StaffTotpEnrol,
            Detail::TotpReset { .. } => Action::StaffTotpReset,
            Detail::RecoveryCodesRenewed {} => Action::StaffRecoveryCodesRenew,
            Detail::RecoveryCodeUsed { .. } => Action::StaffRecoveryCodeUse,
            Detail::Capacity { .. } => Action::SlotCapacity,
            Detail::Closure { .. } => Action::CounterClosure,
            Detail::ClosureLifted { .. } => Action::CounterClosureLifted,
            Detail::FairStart { .. } => Action::BookingFairStart,
            Detail::LotteryCreated { .. } => Action::LotteryCreate,
            Detail::LotteryEntered { .. } => Action::LotteryEntry,
            Detail::LotteryDrawn { .. } => Action::LotteryDraw,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub staff_login: Option<String>,
    pub action: Action,
    pub target: String,
    pub detail: String,
    pub ip_key: Option<String>,
}

/// One entry: who (`None` for an unknown name at login), did what (the detail says), to what.
pub(crate) fn record(
    conn: &mut DbConnection,
    staff: Option<&str>,
    target: &str,
    detail: &Detail<'_>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    record_from(conn, staff, target, detail, None, now)
}

/// [`record`] with the client address's key (sign-ins).
pub(crate) fn record_from(
    conn: &mut DbConnection,
    staff: Option<&str>,
    target: &str,
    detail: &Detail<'_>,
    ip_key: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let action = detail.action();
    let detail = serde_json::to_string(detail)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let row = AuditRow {
        id: uuid::Uuid::new_v4().to_string(),
        at: now.naive_utc(),
        staff_login: staff.map(str::to_string),
        action,
        target: target.to_string(),
        detail,
        ip_key: ip_key.map(str::to_string),
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    // Linked to the hash chain when its transaction commits.
    crate::db::chain::note_entry();
    Ok(())
}

pub(crate) fn list_since(
    conn: &mut DbConnection,
    since: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::at.ge(since.naive_utc()))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// Failed logins since `since` and the latest of them: for one login from one client
/// address, for the client address whatever the login, and (counted in client addresses, not
/// failures) for the login from everywhere.
pub(crate) fn login_failures_since(
    conn: &mut DbConnection,
    login: &str,
    ip_key: &str,
    since: DateTime<Utc>,
) -> QueryResult<[(i64, Option<DateTime<Utc>>); 3]> {
    let base = || {
        audit_log::table
            .filter(audit_log::action.eq(Action::StaffLoginFailed))
            .filter(audit_log::at.gt(since.naive_utc()))
            .filter(audit_log::ip_key.eq(ip_key))
    };
    let (pair, latest_pair): (i64, Option<NaiveDateTime>) = base()
        .filter(audit_log::target.eq(login))
        .select((count_star(), max(audit_log::at)))
        .first(conn)?;
    let (by_ip, latest_ip): (i64, Option<NaiveDateTime>) = base()
        .select((count_star(), max(audit_log::at)))
        .first(conn)?;
    let everywhere = audit_log::table
        .filter(audit_log::action.eq(Action::StaffLoginFailed))
        .filter(audit_log::at.gt(since.naive_utc()))
        .filter(audit_log::target.eq(login));
    let (addresses, latest_login): (i64, Option<NaiveDateTime>) = everywhere
        .select((
            diesel::dsl::count(audit_log::ip_key).aggregate_distinct(),
            max(audit_log::at),
        ))
        .first(conn)?;
    Ok([
        (pair, latest_pair.map(|t| t.and_utc())),
        (by_ip, latest_ip.map(|t| t.and_utc())),
        (addresses, latest_login.map(|t| t.and_utc())),
    ])
}

/// Retention: entries written before `before` keep who did what to which reservation, but no
/// free text (a cancellation's or an override's reason may name the resident), no client
/// address hash, and of a failed sign-in no login that is not an account's (what a stranger
/// typed, kept login-shaped only: [`super::service::login_as_typed`]).
pub(crate) fn erase_personal_data_before(
    conn: &mut DbConnection,
    before: DateTime<Utc>,
) -> QueryResult<u64> {
    let old: Vec<AuditRow> = audit_log::table
        .filter(audit_log::at.lt(before.naive_utc()))
        // Linked entries only: one not linked yet is erased at the next run, after its
        // transaction has linked it (never both at once).
        .filter(audit_log::seq.is_not_null())
        // A non-null reason is written `"reason":"…"` (serde_json, no spaces); erased ones
        // say "(erased)", so a second run finds nothing more to do.
        .filter(
            audit_log::ip_key.is_not_null().or(audit_log::detail
                .like("%reason\":\"%")
                .and(audit_log::detail.not_like("%(erased)%"))),
        )
        .select(AuditRow::as_select())
        .load(conn)?;
    let mut changed = 0u64;
    for row in old {
        let mut detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut detail {
            for key in FREE_TEXT_KEYS {
                if map.get(key).is_some_and(|v| !v.is_null()) {
                    map.insert(key.to_string(), Value::String("(erased)".into()));
                }
            }
        }
        changed += diesel::update(audit_log::table.find(&row.id))
            .set((
                audit_log::detail.eq(detail.to_string()),
                audit_log::ip_key.eq(None::<String>),
                // The chain keeps the digest of what went; without its nonce it says nothing.
                audit_log::nonce.eq(None::<String>),
            ))
            .execute(conn)? as u64;
    }
    let accounts = crate::db::schema::staff::table.select(crate::db::schema::staff::login);
    changed += diesel::update(
        audit_log::table
            .filter(audit_log::at.lt(before.naive_utc()))
            .filter(audit_log::seq.is_not_null())
            .filter(audit_log::action.eq_any([Action::StaffLoginFailed, Action::StaffLoginLockout]))
            .filter(audit_log::target.ne("(erased)"))
            .filter(audit_log::target.ne_all(accounts)),
    )
    .set((
        audit_log::target.eq("(erased)"),
        audit_log::nonce.eq(None::<String>),
    ))
    .execute(conn)? as u64;
    Ok(changed)
}
