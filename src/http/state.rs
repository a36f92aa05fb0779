//! What every handler may use: the state shared by the workers.

use std::sync::Arc;

use chrono_tz::Tz;
use tokio::sync::Notify;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::mail::deliver::Mailer;
use crate::metrics::Metrics;
use crate::reservations::service::Ctx;

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
    pub clock: SharedClock,
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub metrics: Arc<Metrics>,
    /// Poked after a write that enqueued mail, so the worker sends it without waiting to poll.
    pub mail_notify: Arc<Notify>,
    /// Woken after a call or recall, so waiting-room screens show it at once.
    pub display_notify: Arc<Notify>,
    /// The domain of Message-IDs (the sender's).
    pub message_domain: Arc<str>,
    /// Who is asking: the client's address behind trusted proxies, and its keyed hash.
    pub(crate) clients: Arc<super::client::ClientAddresses>,
    /// The ticket pages' boards, one per counter, and their streams.
    pub(crate) tickets: Arc<super::boards::Boards>,
    /// The waiting-room screens' feeds, one per counter.
    pub(crate) displays: Arc<super::feeds::Displays>,
    /// Who may read `/metrics`.
    pub(crate) metrics_access: Arc<super::client::MetricsAccess>,
    /// Where staff may sign in and work from, per role.
    pub(crate) staff_networks: Arc<crate::staff::networks::StaffNetworks>,
    /// The public reads kept ready to send (counters, procedures, availability).
    pub(crate) kept: Arc<super::kept::Kept>,
    /// Web bookings held for a fair start's draw (this instance's).
    pub(crate) fair_start: Arc<super::held::FairStart>,
    /// Undrawn lotteries, as availability marks their days.
    pub(crate) lotteries: Arc<super::lottery_marks::LotteryMarks>,
    /// The OpenAPI document, generated once at start-up.
    pub openapi: Arc<String>,
    /// The scheduled jobs and their parsed schedules.
    pub jobs: Arc<Vec<crate::jobs::Scheduled>>,
    /// Set when the process is told to stop (SIGTERM): new requests are answered 503 `busy`,
    /// the waiting-room streams end, the requests already taken finish.
    pub(crate) stopping: Arc<Stopping>,
}

/// The process is stopping: a flag, and a wake-up for whoever waits on something long.
#[derive(Default)]
pub(crate) struct Stopping {
    flag: std::sync::atomic::AtomicBool,
    pub(crate) notify: Notify,
}

impl Stopping {
    pub(crate) fn begin(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl AppState {
    /// A full slot's alternatives, read after (outside) the booking's transaction, from the
    /// days kept in memory (read first when they are not); none when they cannot be read
    /// (the refusal still stands).
    pub(crate) async fn alternatives(
        &self,
        slot: &crate::calendar::SlotId,
        taker: crate::calendar::Taker,
        seats: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<crate::calendar::availability::SlotView> {
        let Ok((counter, def)) = self.calendar.resolve(slot) else {
            return Vec::new();
        };
        let (from, to) = crate::reservations::service::alternative_days(&def);
        let today = counter.today(now);
        let calendar = self.calendar.clone();
        let days = match calendar
            .cache
            .days_in_memory(calendar.as_ref(), counter, from, to, today)
        {
            Some(days) => Ok(days),
            None => {
                let c = counter.clone();
                self.db
                    .run_background(move |conn| {
                        calendar
                            .cache
                            .days(conn, calendar.as_ref(), &c, from, to, today)
                    })
                    .await
            }
        };
        match days {
            Ok(days) => crate::reservations::service::alternatives(
                &days,
                counter,
                &def,
                (taker, seats),
                now,
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not list alternatives");
                Vec::new()
            }
        }
    }

    pub fn booking_ctx(&self) -> Ctx<'_> {
        Ctx {
            calendar: &self.calendar,
            catalogue: &self.catalogue,
            settings: &self.settings,
            message_domain: &self.message_domain,
        }
    }

    /// The zone instants are shown in when no counter is named (the first counter's).
    pub fn default_tz(&self) -> Tz {
        self.calendar
            .counters()
            .first()
            .map(|c| c.tz)
            .unwrap_or(chrono_tz::Asia::Tokyo)
    }

    /// A counter's zone (the default one for an unknown id).
    pub fn tz_of(&self, counter_id: &str) -> Tz {
        self.calendar
            .counter(counter_id)
            .map(|c| c.tz)
            .unwrap_or_else(|| self.default_tz())
    }
}

impl AppState {
    /// The scheduler of this process.
    pub fn job_runner(&self) -> crate::jobs::Runner {
        crate::jobs::Runner {
            db: self.db.clone(),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
            calendar: self.calendar.clone(),
            catalogue: self.catalogue.clone(),
            message_domain: self.message_domain.clone(),
            metrics: self.metrics.clone(),
            schedules: self.jobs.clone(),
            instance: format!("instance-{}", uuid::Uuid::new_v4().simple()),
            mail_notify: self.mail_notify.clone(),
        }
    }
}
