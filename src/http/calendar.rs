//! Public calendar: counters, procedures, availability.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use std::sync::Arc;

use super::auth::{Authorized, PhoneStaff};
use super::encoded::Encoded;
use super::json::{instant, SlotJson};
use super::kept::{KeptAnswer, RenderKey};
use super::problem::AppError;
use super::route::{api, codes, own, Access, ApiRoute};
use super::state::AppState;
use crate::calendar::availability::{self, DayClock, DayView};
use crate::calendar::cache::DayState;
use crate::calendar::CalendarError;
use crate::calendar::{ClosedReason, Counter, DayStatus, Hours, Taker};
use crate::catalogue::ApplicantType;
use crate::config::ApplicantSettings;
use crate::error::{FieldProblem, Invalid};
use actix_web::http::Method;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct HoursJson {
    /// Local time `HH:MM`.
    #[schema(example = "09:00")]
    pub opens: String,
    #[schema(example = "16:30")]
    pub closes: String,
}

impl From<Hours> for HoursJson {
    fn from(h: Hours) -> Self {
        HoursJson {
            opens: h.opens.format("%H:%M").to_string(),
            closes: h.closes.format("%H:%M").to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CounterJson {
    /// A slug: `city-hall`, `azuchi`.
    #[schema(example = "city-hall")]
    pub id: String,
    #[schema(example = "近江八幡市役所 マイナンバー特設窓口")]
    pub name: String,
    pub name_en: String,
    #[schema(example = "滋賀県近江八幡市桜宮町236")]
    pub address: String,
    /// For residents who prefer to call (may be empty).
    #[schema(example = "0748-36-5560")]
    pub phone: String,
    #[schema(example = "Asia/Tokyo")]
    pub timezone: String,
    pub slot_minutes: u32,
    pub capacity_per_slot: u32,
    pub weekday_hours: HoursJson,
    /// Hours on holiday issuance days (休日交付日), when the counter has them.
    pub holiday_hours: Option<HoursJson>,
    /// `booking.fair_start_seconds`: web bookings in this many seconds after a month's opening
    /// are served together in a random order (0: first come, first served).
    pub fair_start_seconds: u32,
    /// `booking.hold_minutes`: how long a chosen slot is kept while the form is filled in.
    pub hold_minutes: u32,
    /// `booking.max_party_size`: people one booking may carry in all.
    pub max_party_size: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CountersJson {
    /// The city, as pages and mails name it.
    #[schema(example = "近江八幡市")]
    pub city_name: String,
    /// The sender of the service's mail (residents allow it in their spam filters).
    #[schema(example = "noreply@madoguchi.example")]
    pub mail_from: String,
    pub counters: Vec<CounterJson>,
    /// `queue.display_languages`: the waiting-room screen's languages, Japanese first.
    #[schema(example = json!(["ja", "en"]))]
    pub display_languages: Vec<String>,
}

/// The counters and their hours (fixed by the configuration: made once, kept compressed).
#[utoipa::path(get, path = "/api/v1/counters", tag = "calendar",
    responses((status = 200, description = "Every counter", body = CountersJson)))]
pub(crate) async fn get_counters(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = state.kept.counters.get_or_init(|| {
        let counters = state
            .calendar
            .counters()
            .iter()
            .map(|c| CounterJson {
                id: c.id.clone(),
                name: c.name.clone(),
                name_en: c.name_en.clone(),
                address: c.address.clone(),
                phone: c.phone.clone(),
                timezone: c.tz.name().to_string(),
                slot_minutes: c.slot_minutes,
                capacity_per_slot: c.capacity_per_slot,
                weekday_hours: c.weekday_hours.into(),
                holiday_hours: c.holiday_hours.map(Into::into),
                fair_start_seconds: state.settings.booking.fair_start_seconds,
                hold_minutes: state.settings.booking.hold_minutes,
                max_party_size: state.settings.booking.max_party_size,
            })
            .collect();
        let json = CountersJson {
            city_name: state.settings.city_name.clone(),
            mail_from: state.mailer.from_address(),
            counters,
            display_languages: state.settings.queue.display_languages.clone(),
        };
        Encoded::hashed(
            "application/json",
            serde_json::to_vec(&json).unwrap_or_default(),
        )
    });
    answer.respond(&req, public_read)
}

/// What one kind of applicant brings, and how many visits it takes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApplicantJson {
    #[schema(example = json!(["本人のマイナンバーカード", "本人確認書類(運転免許証、パスポートなど)"]))]
    pub requirements: Vec<String>,
    pub visits: u32,
    pub visit_note: Option<String>,
    pub visit_note_en: Option<String>,
}

impl From<&ApplicantSettings> for ApplicantJson {
    fn from(a: &ApplicantSettings) -> Self {
        ApplicantJson {
            requirements: a.requirements.clone(),
            visits: a.visits,
            visit_note: a.visit_note.clone(),
            visit_note_en: a.visit_note_en.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApplicantsJson {
    pub holder: ApplicantJson,
    pub legal_representative: ApplicantJson,
    pub voluntary_proxy: ApplicantJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProcedureJson {
    #[schema(example = "pin-reset")]
    pub id: String,
    #[schema(example = "暗証番号の再設定・ロック解除(初期化)")]
    pub name: String,
    pub name_en: String,
    /// What to know before booking (in Japanese; `notes_en` in English).
    pub notes: Vec<String>,
    pub notes_en: Vec<String>,
    pub applicants: ApplicantsJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProceduresJson {
    pub procedures: Vec<ProcedureJson>,
}

/// The procedures, with what to bring for each applicant type (made once, kept compressed).
#[utoipa::path(get, path = "/api/v1/procedures", tag = "calendar",
    responses((status = 200, description = "The procedure catalogue", body = ProceduresJson)))]
pub(crate) async fn get_procedures(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = state.kept.procedures.get_or_init(|| {
        let procedures = state
            .catalogue
            .all()
            .iter()
            .map(|p| ProcedureJson {
                id: p.id.clone(),
                name: p.name.clone(),
                name_en: p.name_en.clone(),
                notes: p.notes.clone(),
                notes_en: p.notes_en.clone(),
                applicants: ApplicantsJson {
                    holder: p.applicant(ApplicantType::Holder).into(),
                    legal_representative: p.applicant(ApplicantType::LegalRepresentative).into(),
                    voluntary_proxy: p.applicant(ApplicantType::VoluntaryProxy).into(),
                },
            })
            .collect();
        let json = ProceduresJson { procedures };
        Encoded::hashed(
            "application/json",
            serde_json::to_vec(&json).unwrap_or_default(),
        )
    });
    answer.respond(&req, public_read)
}

/// `Cache-Control` of the public reads: a shared cache (a city's reverse proxy or CDN) may
/// keep them a second and serve them while it revalidates, so a storm of reloads reaches the
/// service as one request a second per range; the service's own pages ask with
/// `cache: "no-cache"` and so always revalidate (a 304, from memory). Staff answers are
/// never kept by anyone (`STAFF_READ`).
pub(crate) const PUBLIC_READ: &str = "public, max-age=1, stale-while-revalidate=5";
const STAFF_READ: &str = "private, no-store";

fn public_read(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, PUBLIC_READ));
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AvailabilityQuery {
    /// First day (`YYYY-MM-DD`, the counter's local date); default today.
    #[param(value_type = Option<String>, format = Date, example = "2027-01-04")]
    from: Option<NaiveDate>,
    /// Last day, inclusive; default a week from `from`. At most 62 days.
    #[param(value_type = Option<String>, format = Date, example = "2027-01-15")]
    to: Option<NaiveDate>,
}

/// Availability. The handler writes this shape from days rendered once per state (see
/// [`crate::calendar::cache`]); the server's clock is in every answer's `X-Madoguchi-Now`.
#[derive(Serialize, ToSchema)]
pub(crate) struct AvailabilityJson {
    pub counter: String,
    pub timezone: &'static str,
    pub days: Vec<DayJson>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DayJson {
    #[schema(example = "2027-01-04")]
    pub date: String,
    pub open: bool,
    /// Why the counter is closed, when `open` is false.
    pub closed_reason: Option<ClosedReason>,
    /// A holiday issuance day (休日交付日), with its own hours.
    pub holiday_issuance: bool,
    pub hours: Option<HoursJson>,
    /// 12:00 on the 1st of the month two months before (inclusive).
    #[schema(example = "2026-11-01T12:00:00+09:00")]
    pub booking_opens_at: String,
    /// 07:00 three days before (exclusive).
    #[schema(example = "2027-01-01T07:00:00+09:00")]
    pub booking_closes_at: String,
    pub bookable_now: bool,
    /// When seats held for phone bookings become bookable by anyone (none held: null).
    pub phone_release_at: Option<String>,
    /// Staff only: residents on the day's waiting list (waiting or offered a seat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<i64>,
    /// The day's month is drawn by a lottery not drawn yet (bookings: 409 `lottery_period`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lottery: Option<LotteryMarkJson>,
    pub slots: Vec<SlotJson>,
}

/// A lottery holding a day: its id and when it is drawn.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LotteryMarkJson {
    pub id: String,
    pub draw_at: String,
}

/// Dates outside 1900–2100 are refused: nothing real is booked there, and chrono's answers
/// for year 0 (local mean time offsets) would mislead.
pub(crate) fn check_date_range(field: &str, d: NaiveDate) -> Result<NaiveDate, Invalid> {
    use chrono::Datelike;
    if (1900..=2100).contains(&d.year()) {
        Ok(d)
    } else {
        Err(Invalid::field(field, FieldProblem::DateOutOfRange))
    }
}

/// The days from `from` to `to` with their slots, seats and booking window. Without a token,
/// `remaining` is what the web may book (seats held for phone bookings excluded until their
/// release); with a phone or admin token, every free seat, and each day's waiting list.
#[utoipa::path(get, path = "/api/v1/counters/{counter}/availability", tag = "calendar",
    params(("counter" = String, Path, description = "Counter id", example = "city-hall"), AvailabilityQuery),
    responses((status = 200, description = "Days and slots", body = AvailabilityJson)))]
pub(crate) async fn get_availability(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AvailabilityQuery>,
    staff: Option<Authorized<PhoneStaff>>,
) -> Result<HttpResponse, AppError> {
    let counter = state.calendar.get_counter(&path.into_inner())?.clone();
    let now = state.clock.now();
    let (from, to) = range(&state, &counter, &query, now)?;
    // The answer names the instant it was judged at, not the one it left at: a page that sees
    // noon in this header sees the days opened at noon in the body.
    let judged_at = super::middleware::now_header(&state, now);
    let answer = match staff {
        Some(_) => Arc::new(staff_answer(&state, &counter, from, to, now).await?),
        None => public_answer(&state, &counter, from, to, now).await?,
    };
    let cache_control = if answer.epoch == STAFF_EPOCH {
        STAFF_READ
    } else {
        PUBLIC_READ
    };
    Ok(answer.body.respond(&req, |res| {
        res.insert_header((header::CACHE_CONTROL, cache_control));
        if let Some(judged_at) = judged_at {
            res.insert_header((super::middleware::X_MADOGUCHI_NOW, judged_at));
        }
    }))
}

/// The range asked for: without dates, the next week from the counter's today; at most
/// `booking.max_days_per_request` days.
fn range(
    state: &AppState,
    counter: &Counter,
    query: &AvailabilityQuery,
    now: DateTime<Utc>,
) -> Result<(NaiveDate, NaiveDate), AppError> {
    let max_days = state.settings.booking.max_days_per_request;
    let from = check_date_range("from", query.from.unwrap_or_else(|| counter.today(now)))?;
    let to = check_date_range("to", query.to.unwrap_or(from + Duration::days(6)))?;
    if to < from {
        return Err(Invalid::field("to", FieldProblem::BeforeFrom).into());
    }
    if (to - from).num_days() >= i64::from(max_days) {
        return Err(Invalid::field("to", FieldProblem::RangeTooLong { max_days }).into());
    }
    Ok((from, to))
}

/// The public's answer: kept while it holds, else built by one request while the others wait.
async fn public_answer(
    state: &AppState,
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Arc<KeptAnswer>, AppError> {
    let key = (counter.id.clone(), from, to);
    let cache = &state.calendar.cache;
    let _building = loop {
        if let Some(answer) = state.kept.answer(&key, cache.epoch(&counter.id), now) {
            return Ok(answer);
        }
        match state.kept.build_or_wait(&key) {
            Ok(building) => break building,
            Err(done) => {
                // Woken when the builder is done, then read what it kept (or build, if the
                // days changed again meanwhile).
                let woken = done.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                if state.kept.is_building(&key) {
                    woken.await;
                }
            }
        }
    };
    // Read the epoch before the days: a change while they are read leaves the answer behind
    // the epoch, so the next read builds it again.
    let epoch = cache.epoch(&counter.id);
    let days = days_of(state, counter, from, to, now).await?;
    let keys = render_keys(state, counter, &days, &[], Taker::Web, now);
    let until = days
        .iter()
        .filter_map(|d| DayClock::next_change(d, now))
        .min()
        .unwrap_or(now + Duration::hours(1));
    let body = render_body(state, counter, &days, keys, Taker::Web, now)?;
    let answer = Arc::new(KeptAnswer { epoch, until, body });
    state.kept.keep(key, answer.clone());
    Ok(answer)
}

/// Marks a staff answer (never kept: it holds the waiting list, read every time).
const STAFF_EPOCH: u64 = u64::MAX;

/// What phone staff see: every free seat, and each day's waiting list.
async fn staff_answer(
    state: &AppState,
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<KeptAnswer, AppError> {
    let days = days_of(state, counter, from, to, now).await?;
    let id = counter.id.clone();
    let waiting = state
        .db
        .run(move |conn| crate::waitlist::count_by_day(conn, &id, from, to))
        .await?;
    let keys = render_keys(state, counter, &days, &waiting, Taker::Phone, now);
    let body = render_body(state, counter, &days, keys, Taker::Phone, now)?;
    Ok(KeptAnswer {
        epoch: STAFF_EPOCH,
        until: now,
        body,
    })
}

/// The days, from memory when every one is kept and current, else from the database (on the
/// background connection: a cache fill is shared by every reader and never shed).
async fn days_of(
    state: &AppState,
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<DayState>, AppError> {
    let calendar = state.calendar.clone();
    let today = counter.today(now);
    if let Some(days) = calendar
        .cache
        .days_in_memory(calendar.as_ref(), counter, from, to, today)
    {
        return Ok(days);
    }
    let c = counter.clone();
    let days = state
        .db
        .run_background(move |conn| {
            calendar
                .cache
                .days(conn, calendar.as_ref(), &c, from, to, today)
        })
        .await?;
    Ok(days)
}

/// Each day's render key: what the day shows follows from it alone.
fn render_keys(
    state: &AppState,
    counter: &Counter,
    days: &[DayState],
    waiting: &[(NaiveDate, i64)],
    taker: Taker,
    now: DateTime<Utc>,
) -> Vec<RenderKey> {
    days.iter()
        .map(|d| {
            let clock = DayClock::at(d, now);
            RenderKey {
                counter: counter.id.clone(),
                date: d.plan.date,
                staff: taker == Taker::Phone,
                fingerprint: d.fingerprint(),
                bookable_now: clock.bookable_now,
                released: clock.released,
                lottery: state
                    .lotteries
                    .at(&counter.id, d.plan.date)
                    .map(|m| (m.id, m.draw_at.timestamp())),
                waiting: (taker == Taker::Phone).then(|| {
                    waiting
                        .iter()
                        .find(|(date, _)| *date == d.plan.date)
                        .map(|(_, n)| *n)
                        .unwrap_or(0)
                }),
            }
        })
        .collect()
}

/// The answer's ETag: the hash of its days' keys (and of the configuration and format).
fn etag_of(state: &AppState, keys: &[RenderKey]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (AVAILABILITY_FORMAT, state.calendar.tag, keys).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The answer, each day as rendered for its key (reused when rendered before).
fn render_body(
    state: &AppState,
    counter: &Counter,
    days: &[DayState],
    keys: Vec<RenderKey>,
    taker: Taker,
    now: DateTime<Utc>,
) -> Result<Encoded, AppError> {
    let tag = etag_of(state, &keys);
    let mut body = Vec::with_capacity(64 + days.len() * 2048);
    body.extend_from_slice(b"{\"counter\":");
    serde_json::to_writer(&mut body, &counter.id).map_err(anyhow::Error::from)?;
    body.extend_from_slice(b",\"timezone\":");
    serde_json::to_writer(&mut body, counter.tz.name()).map_err(anyhow::Error::from)?;
    body.extend_from_slice(b",\"days\":[");
    for (i, (day, key)) in days.iter().zip(keys).enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let waiting = key.waiting;
        let lottery = key.lottery.clone();
        let rendered = state.kept.day(key, || {
            let mut json = day_json(&availability::view(counter, day, now, taker), counter.tz);
            json.waiting = waiting;
            json.lottery = lottery.and_then(|(id, at)| {
                let draw_at = DateTime::from_timestamp(at, 0)?;
                Some(LotteryMarkJson {
                    id,
                    draw_at: instant(draw_at, counter.tz),
                })
            });
            serde_json::to_vec(&json).unwrap_or_default()
        });
        body.extend_from_slice(&rendered);
    }
    body.extend_from_slice(b"]}");
    Ok(Encoded::new("application/json", tag, body))
}

/// Changes when the rendered JSON's shape changes, so no old ETag matches a new shape.
const AVAILABILITY_FORMAT: u32 = 3;

fn day_json(d: &DayView, tz: chrono_tz::Tz) -> DayJson {
    let (open, closed_reason, hours, holiday_issuance) = match d.status {
        DayStatus::Open {
            hours,
            holiday_issuance,
        } => (true, None, Some(hours.into()), holiday_issuance),
        DayStatus::Closed(reason) => (false, Some(reason), None, false),
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
        phone_release_at: d.phone_release_at.map(|t| instant(t, tz)),
        waiting: None,
        lottery: None,
        slots: d.slots.iter().map(|s| SlotJson::of(s, tz)).collect(),
    }
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    vec![
        api(M::GET, "/api/v1/counters", Public, own(&[]), get_counters),
        api(
            M::GET,
            "/api/v1/procedures",
            Public,
            own(&[]),
            get_procedures,
        ),
        api(
            M::GET,
            "/api/v1/counters/{counter}/availability",
            Public,
            codes::<CalendarError>(&[]),
            get_availability,
        ),
    ]
}

/// This area's operations in the OpenAPI document (joined by `http::openapi_json`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_counters, get_procedures, get_availability))]
pub(super) struct Paths;
