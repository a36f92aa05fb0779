//! The JSON shapes the API answers with, shared by several endpoints. Each is a struct (never
//! a `serde_json::Value` tree), so the OpenAPI spec is generated from the same types the
//! handlers serialise.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use super::state::AppState;
use crate::calendar::availability::SlotView;
use crate::calendar::local_rfc3339;
use crate::catalogue::ApplicantType;
use crate::queue::model::{TicketKind, TicketStatus};
use crate::queue::service::Issued;
use crate::queue::TicketRow;
use crate::reservations::model::{Channel, ReservationRow, ReservationStatus};
use crate::reservations::service::{needs_two_visits, second_visit_range, VisitLinks};
use crate::staff::Role;
use crate::staff::StaffRow;

/// An instant as RFC 3339 with the counter's offset, to the second.
pub(crate) fn instant(at: DateTime<Utc>, tz: Tz) -> String {
    local_rfc3339(at, tz)
}

/// A stored UTC instant, shown in the counter's zone.
pub(crate) fn stored(at: NaiveDateTime, tz: Tz) -> String {
    local_rfc3339(at.and_utc(), tz)
}

/// A bookable (or not) slot: in availability and in a `slot_full` problem's `alternatives`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "city-hall.2027-01-04.0900", "starts_at": "2027-01-04T09:00:00+09:00",
    "ends_at": "2027-01-04T09:30:00+09:00", "capacity": 3, "remaining": 2, "bookable": true}))]
pub(crate) struct SlotJson {
    /// `counter.YYYY-MM-DD.HHMM`.
    pub id: String,
    pub starts_at: String,
    pub ends_at: String,
    pub capacity: u32,
    /// Seats the caller may book now.
    pub remaining: u32,
    /// Whether the caller may book it now (window open, a seat free).
    pub bookable: bool,
    /// Free seats held back for phone bookings until their release (the web cannot book
    /// them yet; phone staff can).
    pub held_for_phone: u32,
}

impl SlotJson {
    pub(crate) fn of(s: &SlotView, tz: Tz) -> SlotJson {
        SlotJson {
            id: s.def.id.to_string(),
            starts_at: instant(s.def.starts_at, tz),
            ends_at: instant(s.def.ends_at, tz),
            capacity: s.capacity,
            remaining: s.remaining,
            bookable: s.bookable,
            held_for_phone: s.held_for_phone,
        }
    }
}

/// The slot a reservation holds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ReservedSlotJson {
    pub id: String,
    pub starts_at: String,
    pub ends_at: String,
}

/// A reservation as the resident sees it; `manage_token` only right after booking and to
/// whoever holds the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "reservation_number": "HJ3K-7WXA", "manage_token": "q0Jd…", "status": "confirmed",
    "channel": "web", "counter": "city-hall", "procedure": "pin-reset", "applicant_type": "holder",
    "name": "山田 太郎", "name_kana": "ヤマダ\u{3000}タロウ", "phone": "09012345678",
    "email": "taro@example.jp", "representative_name": null, "notes": null,
    "slot": {"id": "city-hall.2027-01-04.0900", "starts_at": "2027-01-04T09:00:00+09:00",
             "ends_at": "2027-01-04T09:30:00+09:00"},
    "requirements": ["本人のマイナンバーカード", "本人確認書類(運転免許証、パスポートなど)"],
    "visits": 1, "visit_note": null,
    "created_at": "2026-11-24T10:00:00+09:00", "updated_at": "2026-11-24T10:00:00+09:00",
    "cancelled_at": null}))]
pub(crate) struct ReservationJson {
    pub reservation_number: String,
    pub manage_token: Option<String>,
    pub status: ReservationStatus,
    pub channel: Channel,
    pub counter: String,
    pub procedure: String,
    pub applicant_type: ApplicantType,
    /// The card holder's name, kana and phone.
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub email: Option<String>,
    /// Who comes in the holder's place (legal representative, voluntary proxy).
    pub representative_name: Option<String>,
    pub notes: Option<String>,
    pub slot: ReservedSlotJson,
    /// What to bring, for this procedure and applicant type.
    pub requirements: Vec<String>,
    /// How many visits the procedure takes for this applicant type.
    pub visits: u32,
    /// Which visit this is: 1, or 2 for a voluntary proxy's second visit.
    pub visit: u32,
    /// A second visit: the first visit's reservation number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_visit: Option<String>,
    /// A first visit of two, once the desk completed it: when the second may be booked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_visit: Option<SecondVisitJson>,
    pub visit_note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled_at: Option<String>,
    /// The first person of a party: the party's other people, each with their own number (the
    /// first person's manage link moves or cancels them all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub party: Vec<PartyMemberJson>,
}

/// One more person of a party.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PartyMemberJson {
    pub reservation_number: String,
    pub name: String,
    pub name_kana: String,
    pub procedure: String,
    pub applicant_type: ApplicantType,
    pub status: ReservationStatus,
    /// Who comes in the holder's place, when not the holder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub representative_name: Option<String>,
    pub requirements: Vec<String>,
}

/// The second visit of a completed first visit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SecondVisitJson {
    /// First and last day it may be booked (`YYYY-MM-DD`), inside the booking window.
    pub bookable_from: String,
    pub bookable_until: String,
    /// Null until it is booked.
    pub reservation_number: Option<String>,
}

impl ReservationJson {
    pub(crate) fn of(
        state: &AppState,
        row: &ReservationRow,
        manage_token: Option<&str>,
        links: &VisitLinks,
    ) -> Self {
        let tz = state.tz_of(&row.counter_id);
        let needs = state
            .catalogue
            .get(&row.procedure_id)
            .map(|p| p.applicant(row.applicant_type));
        let ctx = state.booking_ctx();
        let second_visit = (row.visit == 1 && needs_two_visits(&ctx, row))
            .then(|| second_visit_range(&ctx, row))
            .flatten()
            .map(|(from, until)| SecondVisitJson {
                bookable_from: from.to_string(),
                bookable_until: until.to_string(),
                reservation_number: links.second_visit.clone(),
            });
        let requirements = needs
            .map(|n| {
                if row.visit == 2 && !n.second_visit_requirements.is_empty() {
                    n.second_visit_requirements.clone()
                } else {
                    n.requirements.clone()
                }
            })
            .unwrap_or_default();
        ReservationJson {
            reservation_number: row.reservation_number.clone(),
            manage_token: manage_token.map(str::to_string),
            status: row.status,
            channel: row.channel,
            counter: row.counter_id.clone(),
            procedure: row.procedure_id.clone(),
            applicant_type: row.applicant_type,
            name: row.name.clone(),
            name_kana: row.name_kana.clone(),
            phone: row.phone.clone(),
            email: row.email.clone(),
            representative_name: row.representative_name.clone(),
            notes: row.notes.clone(),
            slot: ReservedSlotJson {
                id: row.slot_id.clone(),
                starts_at: stored(row.starts_at, tz),
                ends_at: stored(row.ends_at, tz),
            },
            requirements,
            visits: needs.map(|n| n.visits).unwrap_or(1),
            visit: u32::try_from(row.visit).unwrap_or(1),
            first_visit: links.first_visit.clone(),
            second_visit,
            visit_note: needs.and_then(|n| n.visit_note.clone()),
            created_at: stored(row.created_at, tz),
            updated_at: stored(row.updated_at, tz),
            cancelled_at: row.cancelled_at.map(|t| stored(t, tz)),
            party: links
                .party
                .iter()
                .map(|m| PartyMemberJson {
                    reservation_number: m.reservation_number.clone(),
                    name: m.name.clone(),
                    name_kana: m.name_kana.clone(),
                    procedure: m.procedure_id.clone(),
                    applicant_type: m.applicant_type,
                    status: m.status,
                    representative_name: m.representative_name.clone(),
                    requirements: state
                        .catalogue
                        .get(&m.procedure_id)
                        .map(|p| p.applicant(m.applicant_type).requirements.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// A reservation as staff see it: never the manage token; who entered it and why it was
/// cancelled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StaffReservationJson {
    #[serde(flatten)]
    pub reservation: ReservationJson,
    /// The staff login that entered a phone booking.
    pub created_by: Option<String>,
    pub cancel_reason: Option<String>,
    /// What the resident was told of a staff cancellation (the reason is never mailed).
    pub cancel_message: Option<String>,
}

impl StaffReservationJson {
    pub(crate) fn of(state: &AppState, row: &ReservationRow, links: &VisitLinks) -> Self {
        StaffReservationJson {
            reservation: ReservationJson::of(state, row, None, links),
            created_by: row.created_by.clone(),
            cancel_reason: row.cancel_reason.clone(),
            cancel_message: row.cancel_message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StaffReservationsJson {
    pub reservations: Vec<StaffReservationJson>,
}

/// A queue ticket (整理券).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"ticket": "R-001", "kind": "reserved", "status": "waiting",
    "reservation_number": "HJ3K-7WXA", "procedure": "pin-reset",
    "slot_starts_at": "2027-01-04T09:00:00+09:00", "issued_at": "2027-01-04T08:52:10+09:00",
    "called_at": null, "desk": null, "calls": 0, "position": 1, "estimated_wait_minutes": 0}))]
pub(crate) struct TicketJson {
    /// `R-012` (reserved) or `W-034` (walk-in); unique per counter and day.
    pub ticket: String,
    pub kind: TicketKind,
    pub status: TicketStatus,
    pub reservation_number: Option<String>,
    pub procedure: Option<String>,
    pub slot_starts_at: Option<String>,
    pub issued_at: String,
    pub called_at: Option<String>,
    pub desk: Option<String>,
    /// How many times it was called (a recall calls again).
    pub calls: i32,
    /// Place in the calling order, for waiting tickets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// A lower bound in the morning: reserved visitors not yet arrived may still go first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_minutes: Option<u32>,
    /// In the queue view: 2 marks a voluntary proxy's second visit (the returned inquiry
    /// form is to be checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit: Option<u32>,
    /// What the ticket's QR code names: its page is `/ticket/{public_id}` (for the visitor's
    /// phone), its view `GET /api/v1/tickets/{public_id}`.
    pub public_id: String,
}

impl TicketJson {
    pub(crate) fn of(state: &AppState, t: &TicketRow, reservation_number: Option<&str>) -> Self {
        let tz = state.tz_of(&t.counter_id);
        TicketJson {
            ticket: t.label.clone(),
            kind: t.kind,
            status: t.status,
            reservation_number: reservation_number.map(str::to_string),
            procedure: t.procedure_id.clone(),
            slot_starts_at: t.slot_starts_at.map(|s| stored(s, tz)),
            issued_at: stored(t.issued_at, tz),
            called_at: t.called_at.map(|s| stored(s, tz)),
            desk: t.desk.clone(),
            calls: t.calls,
            public_id: t.public_id.clone(),
            position: None,
            estimated_wait_minutes: None,
            visit: None,
        }
    }

    pub(crate) fn issued(state: &AppState, i: &Issued) -> Self {
        TicketJson {
            position: i.position,
            estimated_wait_minutes: i.estimated_wait_minutes,
            ..TicketJson::of(state, &i.ticket, i.reservation_number.as_deref())
        }
    }
}

/// A staff account (never its password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StaffJson {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    /// The account signs in with an authenticator app (a second factor).
    pub totp_enrolled: bool,
    /// A kiosk's counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl StaffJson {
    pub(crate) fn of(state: &AppState, row: &StaffRow) -> Self {
        let tz = state.default_tz();
        StaffJson {
            login: row.login.clone(),
            display_name: row.display_name.clone(),
            role: row.role,
            disabled: row.disabled,
            totp_enrolled: row.totp_enrolled_at.is_some(),
            counter: row.counter_id.clone(),
            created_at: stored(row.created_at, tz),
            updated_at: stored(row.updated_at, tz),
        }
    }
}
