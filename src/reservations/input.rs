//! A booking as typed by a resident or phone staff, parsed into domain values. Every field's
//! problem is reported at once; an individual number anywhere refuses the whole request.

use super::BookingError;
use crate::calendar::{CalendarError, SlotId};
use crate::catalogue::ApplicantType;
use crate::error::{FieldError, FieldProblem, Invalid};
use crate::text::{kana_key, parse_free_text, parse_kana, parse_name, parse_phone, EmailAddress};

/// The raw fields, as they arrive.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawBooking {
    pub slot_id: String,
    pub procedure: String,
    pub applicant_type: String,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub email: Option<String>,
    pub representative_name: Option<String>,
    pub notes: Option<String>,
    /// More slots to try, in order, when `slot_id` is full (at most [`MAX_FALLBACKS`]).
    #[serde(default)]
    pub fallback_slot_ids: Vec<String>,
    /// More people on the same slot, sharing the phone and the address (a party).
    #[serde(default)]
    pub party: Vec<RawMember>,
}

/// One more person of a party, as typed.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub(crate) struct RawMember {
    pub procedure: String,
    /// `holder`, `legal_representative` or `voluntary_proxy`.
    pub applicant_type: String,
    /// The card holder's name.
    pub name: String,
    pub name_kana: String,
    /// Who comes in the holder's place; required unless `applicant_type` is `holder`.
    pub representative_name: Option<String>,
}

/// One more person of a party, parsed: the phone (and the address) are the first person's.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub procedure: String,
    pub applicant_type: ApplicantType,
    pub name: String,
    pub name_kana: String,
    pub representative_name: Option<String>,
}

/// Slots a booking may name beyond its first choice.
pub(crate) const MAX_FALLBACKS: usize = 2;

#[derive(Debug, Clone)]
pub(crate) struct BookingInput {
    pub slot_id: SlotId,
    pub procedure: String,
    pub applicant_type: ApplicantType,
    pub name: String,
    pub name_kana: String,
    pub phone: String,
    pub email: Option<EmailAddress>,
    pub representative_name: Option<String>,
    pub notes: Option<String>,
    /// Tried in order when `slot_id` is full, in the same transaction.
    pub fallbacks: Vec<SlotId>,
    /// The party's other people, all on the same slot (empty: a booking of one).
    pub party: Vec<Member>,
}

impl BookingInput {
    /// The slots to try, in order: the first choice, then its fallbacks.
    pub(crate) fn candidates(&self) -> impl Iterator<Item = &SlotId> {
        std::iter::once(&self.slot_id).chain(self.fallbacks.iter())
    }

    /// The same person across bookings: kana without spaces, and the phone digits.
    pub(crate) fn person_key(&self) -> String {
        person_key(&self.name_kana, &self.phone)
    }

    /// A party member's key: their kana and the party's phone.
    pub(crate) fn member_key(&self, member: &Member) -> String {
        person_key(&member.name_kana, &self.phone)
    }

    /// Seats the booking takes: its people.
    pub(crate) fn people(&self) -> i32 {
        i32::try_from(self.party.len() + 1).unwrap_or(i32::MAX)
    }
}

fn person_key(name_kana: &str, phone: &str) -> String {
    format!("{}|{}", kana_key(name_kana), phone)
}

pub(crate) const NAME_MAX: usize = 50;
pub(crate) const NOTES_MAX: usize = 500;

impl BookingInput {
    /// Every field through its parser, each of which runs the My Number guard: any field
    /// holding one makes the whole request `contains_individual_number`.
    pub(crate) fn parse(raw: RawBooking) -> Result<BookingInput, BookingError> {
        Self::parse_with(raw, None)
    }

    /// The person and procedure of a waiting-list entry: as a booking, for a day rather than
    /// a slot (`slot_id` then names the day's start and is not used).
    pub(crate) fn parse_for_day(
        raw: RawBooking,
        counter: &str,
        date: chrono::NaiveDate,
    ) -> Result<BookingInput, BookingError> {
        let day = SlotId {
            counter: counter.to_string(),
            date,
            start: chrono::NaiveTime::MIN,
        };
        Self::parse_with(raw, Some(day))
    }

    fn parse_with(raw: RawBooking, day: Option<SlotId>) -> Result<BookingInput, BookingError> {
        let mut errors = Vec::new();
        let e = &mut errors;
        let name = take(e, "name", parse_name(&raw.name, NAME_MAX));
        let name_kana = take(e, "name_kana", parse_kana(&raw.name_kana));
        let phone = take(e, "phone", parse_phone(&raw.phone));
        let email =
            non_empty(raw.email.as_deref()).and_then(|v| take(e, "email", EmailAddress::parse(v)));
        let applicant_type = take(
            e,
            "applicant_type",
            if raw.applicant_type.trim().is_empty() {
                Err(FieldProblem::Required)
            } else {
                raw.applicant_type
                    .trim()
                    .parse::<ApplicantType>()
                    .map_err(|_| FieldProblem::OneOf(ApplicantType::STRINGS))
            },
        );
        let representative_name = non_empty(raw.representative_name.as_deref())
            .and_then(|v| take(e, "representative_name", parse_name(v, NAME_MAX)));
        if applicant_type.is_some_and(|t| t != ApplicantType::Holder)
            && non_empty(raw.representative_name.as_deref()).is_none()
        {
            e.push(FieldError::new(
                "representative_name",
                FieldProblem::RepresentativeRequired,
            ));
        }
        let notes = raw
            .notes
            .as_deref()
            .and_then(|v| take(e, "notes", parse_free_text(v, NOTES_MAX)))
            .filter(|n| !n.is_empty());
        if raw.procedure.trim().is_empty() {
            e.push(FieldError::new("procedure", FieldProblem::Required));
        }
        if day.is_none() && raw.slot_id.trim().is_empty() {
            e.push(FieldError::new("slot_id", FieldProblem::Required));
        }
        if raw.fallback_slot_ids.len() > MAX_FALLBACKS {
            e.push(FieldError::new(
                "fallback_slot_ids",
                FieldProblem::TooMany { max: MAX_FALLBACKS },
            ));
        }
        let party = parse_party(e, &raw.party, name_kana.as_deref());
        let (Some(name), Some(name_kana), Some(phone), Some(applicant_type), true) =
            (name, name_kana, phone, applicant_type, errors.is_empty())
        else {
            return Err(Invalid::fields(errors).into());
        };
        // A well-formed request for a slot that cannot exist is a 404, not a 422.
        let slot_id = match day {
            Some(day) => day,
            None => raw
                .slot_id
                .trim()
                .parse::<SlotId>()
                .map_err(|_| CalendarError::SlotNotFound)?,
        };
        Ok(BookingInput {
            fallbacks: parse_fallbacks(&raw.fallback_slot_ids, &slot_id)?,
            slot_id,
            procedure: raw.procedure.trim().to_string(),
            applicant_type,
            name,
            name_kana,
            phone,
            email,
            representative_name,
            notes,
            party,
        })
    }
}

/// A party's other people, each field through its parser (named `party[i].field`); the same
/// person twice, or the first person again, is refused on the member's kana.
fn parse_party(e: &mut Vec<FieldError>, raw: &[RawMember], lead_kana: Option<&str>) -> Vec<Member> {
    let mut party = Vec::new();
    let mut seen: Vec<String> = lead_kana.map(kana_key).into_iter().collect();
    for (i, m) in raw.iter().enumerate() {
        let f = |field: &str| format!("party[{i}].{field}");
        let name = take(e, &f("name"), parse_name(&m.name, NAME_MAX));
        let name_kana = take(e, &f("name_kana"), parse_kana(&m.name_kana));
        let applicant_type = take(
            e,
            &f("applicant_type"),
            m.applicant_type
                .trim()
                .parse::<ApplicantType>()
                .map_err(|_| FieldProblem::OneOf(ApplicantType::STRINGS)),
        );
        let representative_name = non_empty(m.representative_name.as_deref())
            .and_then(|v| take(e, &f("representative_name"), parse_name(v, NAME_MAX)));
        if applicant_type.is_some_and(|t| t != ApplicantType::Holder)
            && representative_name.is_none()
        {
            e.push(FieldError::new(
                f("representative_name"),
                FieldProblem::RepresentativeRequired,
            ));
        }
        if m.procedure.trim().is_empty() {
            e.push(FieldError::new(f("procedure"), FieldProblem::Required));
        }
        if let Some(kana) = &name_kana {
            if seen.contains(&kana_key(kana)) {
                e.push(FieldError::new(f("name_kana"), FieldProblem::SamePerson));
            }
            seen.push(kana_key(kana));
        }
        if let (Some(name), Some(name_kana), Some(applicant_type)) =
            (name, name_kana, applicant_type)
        {
            party.push(Member {
                procedure: m.procedure.trim().to_string(),
                applicant_type,
                name,
                name_kana,
                representative_name,
            });
        }
    }
    party
}

/// The fallback slots, each once and never the first choice; one that cannot exist is a 404.
fn parse_fallbacks(raw: &[String], first: &SlotId) -> Result<Vec<SlotId>, CalendarError> {
    let mut fallbacks: Vec<SlotId> = Vec::new();
    for raw_id in raw {
        let id = raw_id
            .trim()
            .parse::<SlotId>()
            .map_err(|_| CalendarError::SlotNotFound)?;
        if id != *first && !fallbacks.contains(&id) {
            fallbacks.push(id);
        }
    }
    Ok(fallbacks)
}

/// The parsed value, or None with the field's problem recorded.
fn take<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    parsed: Result<T, FieldProblem>,
) -> Option<T> {
    parsed
        .map_err(|p| errors.push(FieldError::new(field, p)))
        .ok()
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}
