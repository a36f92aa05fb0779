//! The day's end (18:00): confirmed reservations never checked in, and called tickets never
//! completed, become `no_show` (their reservations too).

use chrono::{DateTime, Utc};

use super::{JobCtx, JobError};
use crate::db::Tx;
use crate::queue::repo as tickets;
use crate::reservations::repo;

pub(crate) fn run(conn: &mut Tx<'_>, ctx: JobCtx<'_>, now: DateTime<Utc>) -> Result<u64, JobError> {
    // Every visit that has ended without a check-in (today's, and any a missed run left).
    let mut rows = repo::mark_no_shows_ended(conn, now)?;
    for counter in ctx.booking.calendar.counters() {
        let today = counter.today(now);
        for t in tickets::list_called_until(conn, &counter.id, today)? {
            rows += tickets::mark_ticket_no_show(conn, &t.id, now)?;
            if let Some(rid) = &t.reservation_id {
                rows += repo::mark_checked_in_no_show(conn, rid, now)?;
                // A party's others checked in under the same ticket.
                for m in repo::party_mates(conn, rid)? {
                    rows += repo::mark_checked_in_no_show(conn, &m.id, now)?;
                }
            }
        }
    }
    Ok(rows)
}
