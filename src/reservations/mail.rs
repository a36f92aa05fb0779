//! A reservation's mail payload: everything its mails show, fixed when the mail is written
//! (links and date labels from [`crate::mail::links`]).

use chrono::{DateTime, Utc};

use super::model::ReservationRow;
use super::Ctx;
use crate::calendar::Calendar;
use crate::mail::links::{self, Links};
use crate::mail::{PartyLine, ReservationMail};

/// `2027年1月4日(月) 09:00〜09:30`, in the counter's zone.
pub(crate) fn visit_label(calendar: &Calendar, row: &ReservationRow) -> String {
    let (date, time) = visit_labels(calendar, row);
    format!("{date} {time}")
}

fn visit_labels(calendar: &Calendar, row: &ReservationRow) -> (String, String) {
    links::visit_labels(
        row.starts_at.and_utc(),
        row.ends_at.and_utc(),
        zone(calendar, row),
    )
}

fn zone(calendar: &Calendar, row: &ReservationRow) -> chrono_tz::Tz {
    calendar
        .counter(&row.counter_id)
        .map(|c| c.tz)
        .unwrap_or(chrono_tz::Asia::Tokyo)
}

/// Everything a reservation mail shows, fixed when the mail is written.
pub(crate) fn reservation_mail(
    ctx: &Ctx<'_>,
    row: &ReservationRow,
    manage_token: Option<&str>,
    now: DateTime<Utc>,
) -> ReservationMail {
    let counter = ctx.calendar.counter(&row.counter_id);
    let procedure = ctx.catalogue.get(&row.procedure_id);
    let applicant = row.applicant_type;
    let needs = procedure.map(|p| p.applicant(applicant));
    let requirements = needs
        .map(|n| {
            if row.visit == 2 && !n.second_visit_requirements.is_empty() {
                n.second_visit_requirements.clone()
            } else {
                n.requirements.clone()
            }
        })
        .unwrap_or_default();
    let (date_label, time_label) = visit_labels(ctx.calendar, row);
    let tz = zone(ctx.calendar, row);
    let (when_en, changes_until_en) =
        links::visit_labels_en(row.starts_at.and_utc(), row.ends_at.and_utc(), tz);
    let changes_until = format!(
        "{} {}",
        date_label,
        row.starts_at.and_utc().with_timezone(&tz).format("%H:%M")
    );
    let links = Links::new(&ctx.settings.public_url);
    ReservationMail {
        city: ctx.settings.city_name.clone(),
        name: row.name.clone(),
        reservation_number: row.reservation_number.clone(),
        reservation_id: row.id.clone(),
        date_label,
        time_label,
        when_en,
        changes_until,
        changes_until_en,
        starts_at: row.starts_at.and_utc(),
        ends_at: row.ends_at.and_utc(),
        issued_at: now,
        counter_name: counter.map(|c| c.name.clone()).unwrap_or_default(),
        counter_address: counter.map(|c| c.address.clone()).unwrap_or_default(),
        procedure_name: procedure.map(|p| p.name.clone()).unwrap_or_default(),
        procedure_name_en: procedure.map(|p| p.name_en.clone()).unwrap_or_default(),
        procedure_notes: procedure.map(|p| p.notes.clone()).unwrap_or_default(),
        applicant_label: format!("{} / {}", applicant.name_ja(), applicant.name_en()),
        representative_name: row.representative_name.clone(),
        requirements,
        visits: needs.map(|n| n.visits).unwrap_or(1),
        visit: u32::try_from(row.visit).unwrap_or(1),
        first_visit_number: None,
        second_visit_url: None,
        second_visit_from: None,
        second_visit_until: None,
        visit_note: needs.and_then(|n| n.visit_note.clone()).unwrap_or_default(),
        visit_note_en: needs
            .and_then(|n| n.visit_note_en.clone())
            .unwrap_or_default(),
        manage_url: manage_token.map(|t| links.manage(t)),
        booking_url: links.booking(),
        previous_label: None,
        reason: None,
        cancelled_by: None,
        ics_sequence: row.ics_sequence,
        sender_footer: ctx.settings.mail_footer(),
        party: Vec::new(),
    }
}

/// A party's other people as its mail lists them.
pub(crate) fn party_lines(ctx: &Ctx<'_>, members: &[ReservationRow]) -> Vec<PartyLine> {
    members
        .iter()
        .map(|m| {
            let procedure = ctx.catalogue.get(&m.procedure_id);
            PartyLine {
                reservation_number: m.reservation_number.clone(),
                name: m.name.clone(),
                procedure_name: procedure.map(|p| p.name.clone()).unwrap_or_default(),
                procedure_name_en: procedure.map(|p| p.name_en.clone()).unwrap_or_default(),
                applicant_label: format!(
                    "{} / {}",
                    m.applicant_type.name_ja(),
                    m.applicant_type.name_en()
                ),
                representative_name: m.representative_name.clone(),
                requirements: procedure
                    .map(|p| p.applicant(m.applicant_type).requirements.clone())
                    .unwrap_or_default(),
            }
        })
        .collect()
}
