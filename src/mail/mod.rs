//! Mail: written to the outbox in the transaction that causes it, delivered by a worker.
//! No request ever waits on SMTP.
//!
//! What a mail shows is one typed payload ([`ReservationMail`], [`VerificationMail`]),
//! serialised into the outbox row when the mail is written and deserialised by the renderer.

pub(crate) mod deliver;
pub(crate) mod links;
pub(crate) mod outbox;
pub(crate) mod render;
pub(crate) mod smtp;
pub(crate) mod transport;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use outbox::{enqueue, enqueue_json, new_outbox_row};

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct SendError {
    pub message: String,
    pub permanent: bool,
}

/// Which mail a row holds; the renderer picks its templates and payload type by it.
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
pub enum MailKind {
    Verification,
    BookingConfirmed,
    BookingChanged,
    BookingCancelled,
    /// The day before the visit (前日の予約確認メール).
    Reminder,
    /// A voluntary proxy's first visit completed: how to book the second.
    SecondVisit,
    /// Joined the waiting list.
    WaitlistJoined,
    /// A freed seat is held for the resident: accept it through the link.
    WaitlistOffer,
    /// The waiting ended without a seat: the day was closed, or its booking window closed.
    WaitlistEnded,
    /// Entered a lottery (抽選予約): when it is drawn, and the entry's page.
    LotteryEntered,
    /// Not drawn: how to book what is left.
    LotteryLost,
    /// At the counter: the visitor asked to be told when their turn nears (`queue.notify_ahead`).
    TurnNear,
}

crate::db::text_enum!(MailKind {
    Verification => "verification",
    BookingConfirmed => "booking_confirmed",
    BookingChanged => "booking_changed",
    BookingCancelled => "booking_cancelled",
    Reminder => "reminder",
    SecondVisit => "second_visit",
    WaitlistJoined => "waitlist_joined",
    WaitlistOffer => "waitlist_offer",
    WaitlistEnded => "waitlist_ended",
    LotteryEntered => "lottery_entered",
    LotteryLost => "lottery_lost",
    TurnNear => "turn_near",
});

impl MailKind {
    /// Mail that a resident is waiting for right now (the link to book with) goes first.
    pub fn priority(self) -> i32 {
        match self {
            MailKind::Verification | MailKind::WaitlistOffer | MailKind::TurnNear => 0,
            MailKind::BookingConfirmed
            | MailKind::BookingChanged
            | MailKind::BookingCancelled
            | MailKind::Reminder
            | MailKind::SecondVisit
            | MailKind::WaitlistJoined
            | MailKind::WaitlistEnded
            | MailKind::LotteryEntered
            | MailKind::LotteryLost => 1,
        }
    }
}

/// Where an outbox row stands.
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
pub enum OutboxStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

crate::db::text_enum!(OutboxStatus {
    Pending => "pending",
    Sending => "sending",
    Sent => "sent",
    Failed => "failed",
});

/// The verification mail: the one-time link and until when it works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VerificationMail {
    pub city: String,
    pub link: String,
    pub expires_label: String,
    /// The same instant for the English reader (`Mon 4 January 2027, 10:30`).
    #[serde(default)]
    pub expires_label_en: String,
    pub sender_footer: String,
}

/// Everything a reservation mail (confirmed, changed, cancelled) shows, fixed when the mail
/// is written, so a retried delivery says the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReservationMail {
    pub city: String,
    pub name: String,
    pub reservation_number: String,
    pub reservation_id: String,
    /// `2027年1月4日(月)` and `09:00〜09:30`, in the counter's zone.
    pub date_label: String,
    pub time_label: String,
    /// `Mon 4 January 2027, 09:00–09:30`: the same visit for the English reader (empty in
    /// mails written before it was kept).
    #[serde(default)]
    pub when_en: String,
    /// Until when the manage link changes or cancels the visit (its start):
    /// `2027年1月4日(月) 09:00` and `Mon 4 January 2027, 09:00`.
    #[serde(default)]
    pub changes_until: String,
    #[serde(default)]
    pub changes_until_en: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub counter_name: String,
    pub counter_address: String,
    pub procedure_name: String,
    pub procedure_name_en: String,
    pub procedure_notes: Vec<String>,
    /// `任意代理人 / Voluntary proxy`.
    pub applicant_label: String,
    pub representative_name: Option<String>,
    pub requirements: Vec<String>,
    pub visits: u32,
    /// 1, or 2 for a voluntary proxy's second visit.
    #[serde(default = "first_visit")]
    pub visit: u32,
    /// Visit 2: the first visit's reservation number.
    #[serde(default)]
    pub first_visit_number: Option<String>,
    /// The invitation to book visit 2: the link and the days it may be booked.
    #[serde(default)]
    pub second_visit_url: Option<String>,
    #[serde(default)]
    pub second_visit_from: Option<String>,
    #[serde(default)]
    pub second_visit_until: Option<String>,
    pub visit_note: String,
    pub visit_note_en: String,
    /// The manage link, when the writer holds the token (never for staff actions).
    pub manage_url: Option<String>,
    /// The residents' start page, for "book again".
    #[serde(default)]
    pub booking_url: String,
    /// A change: where the visit was before.
    pub previous_label: Option<String>,
    /// A cancellation by staff or a closure: why.
    pub reason: Option<String>,
    /// A cancellation: who cancelled (a closure's mail apologises).
    #[serde(default)]
    pub cancelled_by: Option<CancelledBy>,
    /// The calendar file's SEQUENCE (RFC 5545): grows with each change, so calendars update
    /// the one event instead of adding another.
    #[serde(default)]
    pub ics_sequence: i32,
    pub sender_footer: String,
    /// A party's other people, each with their own number, procedure and what to bring (the
    /// mail goes to the party's one address).
    #[serde(default)]
    pub party: Vec<PartyLine>,
}

/// One more person of a party, as the party's mail lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartyLine {
    pub reservation_number: String,
    pub name: String,
    pub procedure_name: String,
    pub procedure_name_en: String,
    pub applicant_label: String,
    pub representative_name: Option<String>,
    pub requirements: Vec<String>,
}

fn first_visit() -> u32 {
    1
}

/// Who cancelled a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CancelledBy {
    Resident,
    Staff,
    Closure,
}

/// A waiting-list mail: joined (with the place in line), offered a seat (until when), or ended
/// (the day closed, with the administrator's reason, or its booking window closed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WaitlistMail {
    pub city: String,
    pub name: String,
    pub date_label: String,
    /// The dates and the procedure for the English reader (empty in mails queued before they
    /// were added: the templates fall back to the Japanese).
    #[serde(default)]
    pub date_label_en: String,
    pub counter_name: String,
    pub counter_address: String,
    pub procedure_name: String,
    #[serde(default)]
    pub procedure_name_en: String,
    pub position: Option<i64>,
    pub offer_label: Option<String>,
    #[serde(default)]
    pub offer_label_en: Option<String>,
    pub offer_expires_label: Option<String>,
    #[serde(default)]
    pub offer_expires_label_en: Option<String>,
    /// The entry's page (`/booking/manage?waitlist=…`): see, accept, leave.
    pub link: Option<String>,
    /// Why an ended entry ended: the day was closed for this reason (`None`: the day's booking
    /// window closed with no seat freed).
    #[serde(default)]
    pub closure_reason: Option<String>,
    pub booking_url: String,
    pub sender_footer: String,
}

/// A lottery mail: entered (the preferences, when it is drawn, the entry's page) or not drawn
/// (when what is left opens for booking).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LotteryMail {
    pub city: String,
    pub name: String,
    /// `2027年2月`.
    pub month_label: String,
    /// The labels for the English reader (empty in mails queued before they were added: the
    /// templates fall back to the Japanese).
    #[serde(default)]
    pub month_label_en: String,
    pub counter_name: String,
    pub counter_address: String,
    pub procedure_name: String,
    #[serde(default)]
    pub procedure_name_en: String,
    /// Each preference as `2027年2月10日(水) 09:00〜09:30`, in order.
    pub preferences: Vec<String>,
    /// The same as `Wed 10 February 2027, 09:00–09:30`.
    #[serde(default)]
    pub preferences_en: Vec<String>,
    pub draw_label: String,
    #[serde(default)]
    pub draw_label_en: String,
    /// When the seats left open for booking.
    pub opens_label: String,
    #[serde(default)]
    pub opens_label_en: String,
    pub link: Option<String>,
    pub booking_url: String,
    pub sender_footer: String,
}

/// A mail's payload, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum MailPayload {
    Verification(VerificationMail),
    Reservation(Box<ReservationMail>),
    Waitlist(Box<WaitlistMail>),
    Lottery(Box<LotteryMail>),
    Turn(TurnMail),
}

/// A visitor's turn nears: their ticket, how many are ahead, and its page. Nothing of who they
/// are (a phone's lock screen in a waiting room shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TurnMail {
    pub counter_name: String,
    pub ticket: String,
    pub ahead: u32,
    pub estimated_wait_minutes: Option<u32>,
    /// Called already: the desk to go to, as said (`3番窓口`, `総合案内`) and in English.
    #[serde(default)]
    pub desk: Option<String>,
    #[serde(default)]
    pub desk_en: Option<String>,
    pub ticket_url: String,
    pub sender_footer: String,
}

/// A mail to send, as the outbox keeps it until delivery.
pub(crate) struct NewMail<'a> {
    pub kind: MailKind,
    pub recipient: &'a str,
    pub payload: MailPayload,
    pub reservation_id: Option<&'a str>,
}
