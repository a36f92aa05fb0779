//! Public calendar: counters, procedures, availability.

use actix_web::{web, HttpResponse};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{instant, AppState};
use crate::calendar::availability::{self, DayView};
use crate::calendar::DayStatus;
use crate::catalogue::ApplicantType;
use crate::error::{AppError, FieldError};

pub async fn get_counters(state: web::Data<AppState>) -> HttpResponse {
    let counters: Vec<_> = state
        .calendar
        .counters()
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "name_en": c.name_en,
                "address": c.address,
                "phone": c.phone,
                "timezone": c.tz.name(),
                "slot_minutes": c.slot_minutes,
                "capacity_per_slot": c.capacity_per_slot,
                "weekday_hours": hours_json(c.weekday_hours),
                "holiday_hours": c.holiday_hours.map(hours_json),
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ "counters": counters }))
}

pub async fn get_procedures(state: web::Data<AppState>) -> HttpResponse {
    let procedures: Vec<_> = state
        .catalogue
        .all()
        .iter()
        .map(|p| {
            let mut applicants = serde_json::Map::new();
            for t in ApplicantType::ALL {
                let a = p.applicant(t);
                applicants.insert(
                    t.as_str().to_string(),
                    json!({
                        "requirements": a.requirements,
                        "visits": a.visits,
                        "visit_note": a.visit_note,
                        "visit_note_en": a.visit_note_en,
                    }),
                );
            }
            json!({
                "id": p.id,
                "name": p.name,
                "name_en": p.name_en,
                "notes": p.notes,
                "notes_en": p.notes_en,
                "applicants": applicants,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ "procedures": procedures }))
}

#[derive(Debug, Deserialize)]
pub struct AvailabilityQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// Availability, rendered through typed structs: a month is 420 slots, and building a
/// `serde_json::Value` tree for them cost more than the query (docs/benchmarks.md).
#[derive(Serialize)]
struct AvailabilityJson {
    counter: String,
    timezone: &'static str,
    /// The server's clock when it answered: pages count down to `booking_opens_at` from it.
    now: String,
    days: Vec<DayJson>,
}

#[derive(Serialize)]
struct DayJson {
    date: String,
    open: bool,
    closed_reason: Option<&'static str>,
    holiday_issuance: bool,
    hours: Option<HoursJson>,
    booking_opens_at: String,
    booking_closes_at: String,
    bookable_now: bool,
    slots: Vec<SlotJson>,
}

#[derive(Serialize)]
struct SlotJson {
    id: String,
    starts_at: String,
    ends_at: String,
    capacity: u32,
    remaining: u32,
    bookable: bool,
}

#[derive(Serialize)]
struct HoursJson {
    opens: String,
    closes: String,
}

pub async fn get_availability(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, AppError> {
    let counter_id = path.into_inner();
    let counter = state
        .calendar
        .counter(&counter_id)
        .ok_or(AppError::NotFound("counter_not_found"))?
        .clone();
    let now = state.clock.now();
    let max_days = state.settings.booking.max_days_per_request;
    // Without dates: the next week from the counter's today.
    let from = query.from.unwrap_or_else(|| counter.today(now));
    let to = query.to.unwrap_or(from + Duration::days(6));
    if to < from {
        return Err(AppError::Invalid {
            code: "validation_failed",
            errors: vec![FieldError::new("to", "must not be before from")],
        });
    }
    if (to - from).num_days() >= i64::from(max_days) {
        return Err(AppError::Invalid {
            code: "validation_failed",
            errors: vec![FieldError::new(
                "to",
                format!("at most {max_days} days per request"),
            )],
        });
    }
    let calendar = state.calendar.clone();
    let c = counter.clone();
    let days = state
        .db
        .run(move |conn| availability::load(conn, &calendar, &c, from, to, now))
        .await?;
    let days = days.iter().map(|d| day_json(d, counter.tz)).collect();
    Ok(HttpResponse::Ok().json(AvailabilityJson {
        counter: counter.id.clone(),
        timezone: counter.tz.name(),
        now: instant(now, counter.tz),
        days,
    }))
}

fn hours_json(h: crate::calendar::Hours) -> HoursJson {
    HoursJson {
        opens: h.opens.format("%H:%M").to_string(),
        closes: h.closes.format("%H:%M").to_string(),
    }
}

fn day_json(d: &DayView, tz: chrono_tz::Tz) -> DayJson {
    let (open, closed_reason, hours, holiday_issuance) = match d.status {
        DayStatus::Open {
            hours,
            holiday_issuance,
        } => (true, None, Some(hours_json(hours)), holiday_issuance),
        DayStatus::Closed(reason) => (false, Some(reason.as_str()), None, false),
    };
    DayJson {
        date: d.date.format("%Y-%m-%d").to_string(),
        open,
        closed_reason,
        holiday_issuance,
        hours,
        booking_opens_at: instant(d.booking_opens_at, tz),
        booking_closes_at: instant(d.booking_closes_at, tz),
        bookable_now: d.bookable_now,
        slots: d
            .slots
            .iter()
            .map(|s| SlotJson {
                id: s.def.id.to_string(),
                starts_at: instant(s.def.starts_at, tz),
                ends_at: instant(s.def.ends_at, tz),
                capacity: s.capacity,
                remaining: s.remaining,
                bookable: s.bookable,
            })
            .collect(),
    }
}
