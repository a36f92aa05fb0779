use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalogue::ApplicantType;
use crate::db::schema::reservations;

/// Where a reservation stands.
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
pub enum ReservationStatus {
    Confirmed,
    Cancelled,
    CheckedIn,
    Completed,
    NoShow,
}

crate::db::text_enum!(ReservationStatus {
    Confirmed => "confirmed",
    Cancelled => "cancelled",
    CheckedIn => "checked_in",
    Completed => "completed",
    NoShow => "no_show",
});

impl ReservationStatus {
    /// Statuses that hold a seat and count against the per-person limits.
    pub const ACTIVE: [ReservationStatus; 2] =
        [ReservationStatus::Confirmed, ReservationStatus::CheckedIn];

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

/// How a reservation was made.
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
pub enum Channel {
    Web,
    Phone,
}

crate::db::text_enum!(Channel {
    Web => "web",
    Phone => "phone",
});

impl Channel {
    /// Whose seats a booking of this channel takes.
    pub fn taker(self) -> crate::calendar::Taker {
        match self {
            Channel::Web => crate::calendar::Taker::Web,
            Channel::Phone => crate::calendar::Taker::Phone,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = reservations)]
pub struct ReservationRow {
    pub id: String,
    pub reservation_number: String,
    pub manage_token_hash: String,
    pub status: ReservationStatus,
    pub channel: Channel,
    pub counter_id: String,
    pub slot_id: String,
    pub visit_on: NaiveDate,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub procedure_id: String,
    pub applicant_type: ApplicantType,
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
    pub reminder_sent_at: Option<NaiveDateTime>,
    /// The calendar file's SEQUENCE: 0 when booked, one more with each change or cancellation.
    pub ics_sequence: i32,
    /// When retention erased the personal data.
    pub erased_at: Option<NaiveDateTime>,
    /// 1, or 2 for a voluntary proxy's second visit.
    pub visit: i32,
    /// Visit 2: the first visit's reservation.
    pub first_visit_id: Option<String>,
    /// When the desk completed the visit.
    pub completed_at: Option<NaiveDateTime>,
    /// The address as every limit compares it ([`crate::text::email_key`]).
    pub email_key: Option<String>,
    /// What a staff cancellation told the resident (its `cancel_reason` stays in the audit).
    pub cancel_message: Option<String>,
}
