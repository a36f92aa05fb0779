//! Personal data does not outlive its use (APPI): reservations whose visit is older than
//! `retention.days` lose their personal data (what statistics need stays), mail older than
//! that loses its body and address, and audit entries keep who did what but no resident's
//! personal data (free-text reasons, client address hashes); entries of lotteries drawn that
//! long ago lose theirs too (what verifying the draw needs stays).

use chrono::{DateTime, Duration, Utc};

use super::{JobCtx, JobError};
use crate::db::Tx;
use crate::mail::outbox;
use crate::reservations::repo;
use crate::staff::audit;

pub(crate) fn run(conn: &mut Tx<'_>, ctx: JobCtx<'_>, now: DateTime<Utc>) -> Result<u64, JobError> {
    let days = i64::from(ctx.booking.settings.retention.days);
    let tz = ctx
        .booking
        .calendar
        .counters()
        .first()
        .map(|c| c.tz)
        .unwrap_or(chrono_tz::Asia::Tokyo);
    // A visit on a day before this one is older than `days`.
    let before_day = now.with_timezone(&tz).date_naive() - Duration::days(days);
    let before_instant = now - Duration::days(days);
    let mut rows = repo::erase_personal_data_before(conn, before_day, now)?;
    rows += outbox::erase_before(conn, before_instant)?;
    rows += audit::erase_personal_data_before(conn, before_instant)?;
    rows += crate::verification::repo::delete_created_before(conn, before_instant)?;
    rows += crate::waitlist::repo::erase_before(conn, before_day)?;
    rows += crate::lottery::erase_before(conn, before_instant)?;
    Ok(rows)
}
