//! Tickets (整理券): their kind and where they stand.

use serde::{Deserialize, Serialize};

/// A reserved visitor's ticket (`R-012`) or a walk-in's (`W-034`).
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
pub enum TicketKind {
    Reserved,
    WalkIn,
}

crate::db::text_enum!(TicketKind {
    Reserved => "reserved",
    WalkIn => "walk_in",
});

impl TicketKind {
    /// The label's prefix: `R-012`, `W-034`.
    pub fn prefix(self) -> &'static str {
        match self {
            TicketKind::Reserved => "R",
            TicketKind::WalkIn => "W",
        }
    }
}

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
pub enum TicketStatus {
    Waiting,
    Called,
    Completed,
    NoShow,
}

crate::db::text_enum!(TicketStatus {
    Waiting => "waiting",
    Called => "called",
    Completed => "completed",
    NoShow => "no_show",
});
