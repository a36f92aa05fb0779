//! Staff: accounts and roles, password hashing, bearer sessions, and the audit log.

pub mod audit;
pub mod passwords;
pub mod repo;
pub mod service;

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Phone staff: book for callers, find and cancel bookings.
    Phone,
    /// Front desk: the day's queue.
    Desk,
    /// Administrators: everything, plus capacity, closures, accounts, audit and outbox.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Phone, Role::Desk, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Phone => "phone",
            Role::Desk => "desk",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

/// A signed-in staff member, as the authorisation extractor yields it.
#[derive(Debug, Clone)]
pub struct StaffUser {
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub session_id: String,
}
