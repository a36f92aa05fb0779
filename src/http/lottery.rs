//! Lotteries (抽選予約): an administrator makes one for a counter's month, residents and phone
//! staff enter, anyone reads a lottery (its seed once drawn); every instance runs
//! [`draw_due`], and the draw of a lottery runs once (see `lottery`).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminOnly, Authorized, PhoneStaff};
use super::body::{path_token, JsonBody};
use super::json::instant;
use super::lottery_marks::Mark;
use super::problem::AppError;
use super::route::{api, codes, Access, ApiRoute, ADMIN, PHONE};
use super::state::AppState;
use crate::lottery::{
    self, Entrant, EntryRow, EntryStatus, LotteryError, LotteryRow, LotteryStatus,
};
use crate::reservations::input::{BookingInput, RawBooking};
use crate::tokens::looks_like_token;
use crate::verification::VerificationError;
use actix_web::http::Method;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[schema(example = json!({"counter": "city-hall", "month": "2027-02",
    "applications_open": "2026-11-20T09:00:00+09:00", "applications_close": "2026-11-27T17:00:00+09:00",
    "draw_at": "2026-11-30T12:00:00+09:00"}))]
pub(crate) struct LotteryBody {
    counter: String,
    /// `YYYY-MM`: the month of visits drawn.
    month: String,
    applications_open: String,
    applications_close: String,
    draw_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LotteryJson {
    id: String,
    counter: String,
    month: String,
    applications_open: String,
    applications_close: String,
    draw_at: String,
    status: LotteryStatus,
    /// Entries not withdrawn.
    entries: i64,
    /// The hex SHA-256 of the seed's hex string, published when the lottery is made.
    seed_sha256: String,
    /// Revealed once drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    /// Entries that won, once drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    won: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LotteriesJson {
    lotteries: Vec<LotteryJson>,
}

fn lottery_json(
    state: &AppState,
    row: &LotteryRow,
    (entries, won): (i64, i64),
    now: DateTime<Utc>,
) -> LotteryJson {
    let tz = state.tz_of(&row.counter_id);
    let drawn = row.drawn_at.is_some();
    LotteryJson {
        id: row.id.clone(),
        counter: row.counter_id.clone(),
        month: row.month.clone(),
        applications_open: instant(row.applications_open.and_utc(), tz),
        applications_close: instant(row.applications_close.and_utc(), tz),
        draw_at: instant(row.draw_at.and_utc(), tz),
        status: row.status(now),
        entries,
        seed_sha256: row.seed_sha256.clone(),
        seed: drawn.then(|| row.seed.clone()),
        won: drawn.then_some(won),
    }
}

/// Makes a lottery for a counter's month (its booking window not yet open).
#[utoipa::path(post, path = "/api/v1/admin/lotteries", tag = "lottery",
    request_body = LotteryBody,
    responses((status = 201, description = "Made", body = LotteryJson)))]
pub(crate) async fn post_lottery(
    state: web::Data<AppState>,
    user: Authorized<AdminOnly>,
    body: JsonBody<LotteryBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.parse()?;
    let new = lottery::NewLottery::parse(
        &b.counter,
        &b.month,
        &b.applications_open,
        &b.applications_close,
        &b.draw_at,
    )?;
    let now = state.clock.now();
    let (s, actor) = (state.get_ref().clone(), user.login.clone());
    let row = state
        .db
        .write(move |tx| lottery::create(tx, &s.booking_ctx(), new, &actor, now))
        .await?;
    // Read your own writes: the next availability read here shows the month's mark.
    refresh_marks(&state).await?;
    Ok(HttpResponse::Created().json(lottery_json(&state, &row, (0, 0), now)))
}

/// A lottery; its seed once drawn.
#[utoipa::path(get, path = "/api/v1/lotteries/{id}", tag = "lottery",
    params(("id" = String, Path)),
    responses((status = 200, description = "The lottery", body = LotteryJson)))]
pub(crate) async fn get_lottery(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (row, counts) = state
        .db
        .run(move |conn| {
            let row = lottery::find(conn, &id)?.ok_or(LotteryError::NotFound)?;
            let counts = lottery::counts(conn, &row.id)?;
            Ok::<_, LotteryError>((row, counts))
        })
        .await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(lottery_json(&state, &row, counts, now)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct LotteriesQuery {
    /// One counter's lotteries.
    counter: Option<String>,
}

/// Every lottery (of a counter), newest month first.
#[utoipa::path(get, path = "/api/v1/lotteries", tag = "lottery",
    params(LotteriesQuery),
    responses((status = 200, description = "The lotteries", body = LotteriesJson)))]
pub(crate) async fn get_lotteries(
    state: web::Data<AppState>,
    query: web::Query<LotteriesQuery>,
) -> Result<HttpResponse, AppError> {
    let counter = query.into_inner().counter;
    let rows = state
        .db
        .run(move |conn| {
            let rows = lottery::list(conn, counter.as_deref())?;
            rows.into_iter()
                .map(|r| lottery::counts(conn, &r.id).map(|c| (r, c)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(LotteriesJson {
        lotteries: rows
            .iter()
            .map(|(r, c)| lottery_json(&state, r, *c, now))
            .collect(),
    }))
}

/// Every field optional at the JSON level, so all missing fields are named at once (422).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct EntryBody {
    /// Residents: the token from the verification mail; used up by the entry.
    verification_token: String,
    lottery: String,
    /// 1 to 3 slot ids of the lottery's counter and month, in order of preference.
    preferences: Vec<String>,
    procedure: String,
    applicant_type: String,
    name: String,
    name_kana: String,
    phone: String,
    /// Phone staff: the caller's address (mails the entry and the result).
    email: Option<String>,
    representative_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EntryJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    manage_token: Option<String>,
    status: EntryStatus,
    lottery: String,
    preferences: Vec<String>,
    procedure: String,
    name: String,
    /// Won: the reservation's number and slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    reservation: Option<EntryReservationJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EntryReservationJson {
    reservation_number: String,
    slot_id: String,
}

fn person(b: &EntryBody, email: Option<String>) -> Result<BookingInput, AppError> {
    Ok(BookingInput::parse(RawBooking {
        slot_id: b.preferences.first().cloned().unwrap_or_default(),
        procedure: b.procedure.clone(),
        applicant_type: b.applicant_type.clone(),
        name: b.name.clone(),
        name_kana: b.name_kana.clone(),
        phone: b.phone.clone(),
        email,
        representative_name: b.representative_name.clone(),
        notes: None,
        fallback_slot_ids: Vec::new(),
        party: Vec::new(),
    })?)
}

async fn enter(
    state: &AppState,
    b: EntryBody,
    entrant: Entrant,
    email: Option<String>,
) -> Result<HttpResponse, AppError> {
    let preferences = lottery::parse_preferences(&b.preferences)?;
    let input = person(&b, email)?;
    let now = state.clock.now();
    let s = state.clone();
    let (row, token) = state
        .db
        .write(move |tx| {
            lottery::enter(
                tx,
                &s.booking_ctx(),
                &b.lottery,
                &preferences,
                &input,
                entrant,
                now,
            )
        })
        .await?;
    state.mail_notify.notify_one();
    Ok(HttpResponse::Created().json(entry_json(&row, Some(token), None)))
}

fn entry_json(row: &EntryRow, token: Option<String>, number: Option<String>) -> EntryJson {
    EntryJson {
        manage_token: token,
        status: row.status,
        lottery: row.lottery_id.clone(),
        preferences: row.preference_ids(),
        procedure: row.procedure_id.clone(),
        name: row.name.clone(),
        reservation: match (number, &row.won_slot) {
            (Some(n), Some(slot)) => Some(EntryReservationJson {
                reservation_number: n,
                slot_id: slot.clone(),
            }),
            _ => None,
        },
    }
}

/// Enters a lottery with a verified address (once per person and per address).
#[utoipa::path(post, path = "/api/v1/lottery-entries", tag = "lottery",
    request_body = EntryBody,
    responses((status = 201, description = "Entered", body = EntryJson)))]
pub(crate) async fn post_entry(
    state: web::Data<AppState>,
    body: JsonBody<EntryBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.parse()?;
    let token = b.verification_token.trim().to_string();
    if !looks_like_token(&token) {
        return Err(VerificationError::NotFound.into());
    }
    enter(
        &state,
        b,
        Entrant::Web {
            verification_token: token,
        },
        None,
    )
    .await
}

/// Enters a caller in a lottery (phone staff).
#[utoipa::path(post, path = "/api/v1/staff/lottery-entries", tag = "lottery",
    request_body = EntryBody,
    responses((status = 201, description = "Entered", body = EntryJson)))]
pub(crate) async fn post_staff_entry(
    state: web::Data<AppState>,
    user: Authorized<PhoneStaff>,
    body: JsonBody<EntryBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.parse()?;
    let email = b.email.clone().filter(|e| !e.trim().is_empty());
    let entrant = Entrant::Phone {
        staff_login: user.login.clone(),
    };
    enter(&state, b, entrant, email).await
}

fn entry_token(path: web::Path<String>) -> Result<String, LotteryError> {
    path_token(path, LotteryError::EntryNotFound)
}

/// A lottery entry: `entered`, `won` (with its reservation), `lost` or `withdrawn`.
#[utoipa::path(get, path = "/api/v1/lottery-entries/{manage_token}", tag = "lottery",
    params(("manage_token" = String, Path)),
    responses((status = 200, description = "The entry", body = EntryJson)))]
pub(crate) async fn get_entry(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = entry_token(path)?;
    let (entry, number) = state
        .db
        .run(move |conn| {
            let (entry, _) = lottery::entry_by_token(conn, &token)?;
            let number = match &entry.reservation_id {
                Some(id) => {
                    crate::reservations::find_by_id(conn, id)?.map(|r| r.reservation_number)
                }
                None => None,
            };
            Ok::<_, LotteryError>((entry, number))
        })
        .await?;
    Ok(HttpResponse::Ok().json(entry_json(&entry, None, number)))
}

/// Withdraws an entry before the draw (idempotent); 409 `lottery_drawn` after it began.
#[utoipa::path(delete, path = "/api/v1/lottery-entries/{manage_token}", tag = "lottery",
    params(("manage_token" = String, Path)),
    responses((status = 200, description = "Withdrawn", body = EntryJson)))]
pub(crate) async fn delete_entry(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = entry_token(path)?;
    let now = state.clock.now();
    let (entry, _) = state
        .db
        .write(move |tx| lottery::withdraw(tx, &token, now))
        .await?;
    Ok(HttpResponse::Ok().json(entry_json(&entry, None, None)))
}

/// Draws every due lottery this instance can claim: the plan once, then its entries in
/// batches (each batch one transaction), then the lottery marked drawn.
pub(crate) async fn draw_due(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now();
    let due = state.db.run(move |conn| lottery::due(conn, now)).await?;
    let mut drawn = 0;
    for id in due {
        let (s, instance) = (state.clone(), state.fair_start.instance.clone());
        let plan = state
            .db
            .write(move |tx| {
                let now = s.clock.now();
                let Some(row) = lottery::claim(tx, &id, &instance, now)? else {
                    return Ok::<_, LotteryError>(None);
                };
                let plan = lottery::prepare(tx, &s.booking_ctx(), &row, now)?;
                Ok(Some((row, plan)))
            })
            .await?;
        let Some((row, plan)) = plan else { continue };
        let mut won = 0;
        let instance = state.fair_start.instance.clone();
        for batch in plan.chunks(200) {
            let (s, row, batch, i) = (state.clone(), row.clone(), batch.to_vec(), instance.clone());
            won += state
                .db
                .write(move |tx| {
                    let now = s.clock.now();
                    lottery::apply(tx, &s.booking_ctx(), &row, &i, &batch, now)
                })
                .await?;
            state.mail_notify.notify_one();
        }
        let (s, entries) = (state.clone(), plan.len());
        let winners = plan.iter().filter(|a| a.slot.is_some()).count();
        state
            .db
            .write(move |tx| lottery::finish(tx, &row, &instance, entries, winners, s.clock.now()))
            .await?;
        tracing::info!(entries, won, "lottery drawn");
        drawn += 1;
    }
    if drawn > 0 {
        refresh_marks(state).await?;
    }
    Ok(drawn)
}

/// Reads the undrawn lotteries into the marks availability shows; a change tells the
/// calendar's cache that those months' days changed.
async fn refresh_marks(state: &AppState) -> Result<(), AppError> {
    let rows = state.db.run_background(lottery::undrawn).await?;
    let marks = rows
        .into_iter()
        .map(|r| Mark {
            counter: r.counter_id,
            month: r.month,
            id: r.id,
            draw_at: r.draw_at.and_utc(),
        })
        .collect();
    let changed = state.lotteries.replace(marks);
    let days: Vec<(String, chrono::NaiveDate)> = changed
        .iter()
        .filter_map(|m| {
            let (first, last) = lottery::month_days(&m.month)?;
            Some(
                first
                    .iter_days()
                    .take_while(move |d| *d <= last)
                    .map(move |d| (m.counter.clone(), d)),
            )
        })
        .flatten()
        .collect();
    state
        .calendar
        .cache
        .note_changed(days.iter().map(|(c, d)| (c.as_str(), *d)));
    Ok(())
}

/// Every second: draws what is due, and keeps the marks availability shows current.
pub(crate) async fn run_lotteries(state: AppState) {
    loop {
        if let Err(e) = draw_due(&state).await {
            tracing::warn!(error = %e, "a lottery's draw failed; it is tried again");
        }
        if let Err(e) = refresh_marks(&state).await {
            tracing::warn!(error = %e, "could not read the lotteries");
        }
        state
            .lotteries
            .wait(std::time::Duration::from_secs(1))
            .await;
    }
}

/// This area's rows of the route table.
pub(super) fn routes() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let refusals = || codes::<LotteryError>(&[]);
    vec![
        api(
            M::POST,
            "/api/v1/admin/lotteries",
            ADMIN,
            refusals(),
            post_lottery,
        ),
        api(
            M::GET,
            "/api/v1/lotteries",
            Public,
            refusals(),
            get_lotteries,
        ),
        api(
            M::GET,
            "/api/v1/lotteries/{id}",
            Public,
            refusals(),
            get_lottery,
        ),
        api(
            M::POST,
            "/api/v1/lottery-entries",
            Public,
            refusals(),
            post_entry,
        ),
        api(
            M::POST,
            "/api/v1/staff/lottery-entries",
            PHONE,
            refusals(),
            post_staff_entry,
        ),
        api(
            M::GET,
            "/api/v1/lottery-entries/{manage_token}",
            Public,
            refusals(),
            get_entry,
        ),
        api(
            M::DELETE,
            "/api/v1/lottery-entries/{manage_token}",
            Public,
            refusals(),
            delete_entry,
        ),
    ]
}

/// This area's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    post_lottery,
    get_lotteries,
    get_lottery,
    post_entry,
    post_staff_entry,
    get_entry,
    delete_entry
))]
pub(super) struct Paths;
