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

#[derive(Serialize)]
struct AvailabilityJson {
    counter: String,
    timezone: String,
    days: Vec<serde_json::Value>,
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
        timezone: counter.tz.name().into(),
        days,
    }))
}

fn hours_json(h: crate::calendar::Hours) -> serde_json::Value {
    json!({ "opens": h.opens.format("%H:%M").to_string(), "closes": h.closes.format("%H:%M").to_string() })
}

fn day_json(d: &DayView, tz: chrono_tz::Tz) -> serde_json::Value {
    let (open, closed_reason, hours, holiday_issuance) = match d.status {
        DayStatus::Open {
            hours,
            holiday_issuance,
        } => (true, None, Some(hours_json(hours)), holiday_issuance),
        DayStatus::Closed(reason) => (false, Some(reason.as_str()), None, false),
    };
    let slots: Vec<_> = d
        .slots
        .iter()
        .map(|s| {
            json!({
                "id": s.def.id.to_string(),
                "starts_at": instant(s.def.starts_at, tz),
                "ends_at": instant(s.def.ends_at, tz),
                "capacity": s.capacity,
                "remaining": s.remaining,
                "bookable": s.bookable,
            })
        })
        .collect();
    json!({
        "date": d.date.format("%Y-%m-%d").to_string(),
        "open": open,
        "closed_reason": closed_reason,
        "holiday_issuance": holiday_issuance,
        "hours": hours,
        "booking_opens_at": instant(d.booking_opens_at, tz),
        "booking_closes_at": instant(d.booking_closes_at, tz),
        "bookable_now": d.bookable_now,
        "slots": slots,
    })
}
