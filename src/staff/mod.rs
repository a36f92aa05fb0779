//! Staff: accounts and roles, password hashing, signing in (networks, a second factor,
//! sessions), and the audit log.

pub(crate) mod audit;
pub(crate) mod networks;
pub(crate) mod passwords;
pub(crate) mod repo;
pub(crate) mod second_factor;
pub(crate) mod service;
pub(crate) mod sign_in;

pub use repo::list_staff;
pub(crate) use repo::StaffRow;

/// What a staff account may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Phone staff: book for callers, find and cancel bookings.
    Phone,
    /// Front desk: the day's queue.
    Desk,
    /// Administrators: everything, plus capacity, closures, accounts, audit and outbox.
    Admin,
    /// A self-service terminal on the floor: checks reserved visitors in and issues walk-in
    /// tickets at its own counter (named when the account is made), nothing else.
    Kiosk,
}

crate::db::text_enum!(Role {
    Phone => "phone",
    Desk => "desk",
    Admin => "admin",
    Kiosk => "kiosk",
});

/// A signed-in staff member, as the authorisation extractor yields it.
#[derive(Debug, Clone)]
pub(crate) struct StaffUser {
    /// The account's id.
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// A kiosk's counter (other roles: None).
    pub counter: Option<String>,
    pub session_id: String,
    /// The session may only enrol a second factor (its role requires one).
    pub enrol_only: bool,
    /// The session's last use is over a minute old: note this one.
    pub touch: bool,
}
