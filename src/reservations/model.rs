use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::reservations;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Cancelled,
    CheckedIn,
    Completed,
    NoShow,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::Cancelled => "cancelled",
            Status::CheckedIn => "checked_in",
            Status::Completed => "completed",
            Status::NoShow => "no_show",
        }
    }

    /// Statuses that hold a seat and count against the per-person limits.
    pub const ACTIVE: [&'static str; 2] = ["confirmed", "checked_in"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Web,
    Phone,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Phone => "phone",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reservations)]
pub struct ReservationRow {
    pub id: String,
    pub reservation_number: String,
    pub manage_token_hash: String,
    pub status: String,
    pub channel: String,
    pub counter_id: String,
    pub slot_id: String,
    pub visit_on: NaiveDate,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub procedure_id: String,
    pub applicant_type: String,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub email: Option<String>,
    pub representative_name: Option<String>,
    pub notes: Option<String>,
    pub person_key: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancel_reason: Option<String>,
    pub created_by: Option<String>,
}
