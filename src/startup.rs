//! Builds the application: database (migrated), state, HTTP server and background jobs.

use std::net::TcpListener;
use std::sync::Arc;

use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::{RehearsalClock, SharedClock, SystemClock};
use crate::config::Settings;
use crate::db::Db;
use crate::http::problem::problem_middleware;
use crate::http::{self, AppState};
use crate::mail::deliver::{spawn_worker, Mailer};
use crate::metrics::Metrics;
use tokio::sync::Notify;

pub struct Application {
    port: u16,
    server: Server,
    /// The staff side's own listener (`server.staff_bind`), when it has one.
    staff: Option<Listener>,
    state: AppState,
}

/// A listener's port and its server.
type Listener = (u16, Server);

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Everything (one listener; or the staff listener, whose console also reads the calendar).
    Both,
    /// The public side only: the staff side answers 404 (it has a listener of its own).
    Public,
}

/// The clock the settings ask for: the rehearsal clock under `clock.start`, else the system's.
pub fn clock_from_settings(settings: &Settings) -> anyhow::Result<SharedClock> {
    match settings
        .clock
        .rehearsal_start()
        .map_err(anyhow::Error::msg)?
    {
        Some(start) => {
            tracing::warn!(
                clock.start = %start.to_rfc3339(),
                "REHEARSAL CLOCK: the server's time starts at clock.start and runs forward; never use this in production"
            );
            Ok(Arc::new(RehearsalClock::starting_at(start.to_utc())))
        }
        None => Ok(Arc::new(SystemClock)),
    }
}

/// Connects to the database and applies pending migrations (blocking: call off the reactor).
pub fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database)?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, db = db.target(), "applied migrations");
    }
    // Audit entries written before the chain existed (or by an older instance during a rolling
    // upgrade) are linked now, a thousand a transaction, rather than by the next staff write.
    let mut conn = db.get()?;
    let linked = crate::db::chain::link_backlog(&mut conn, 1000)?;
    if linked > 0 {
        tracing::info!(
            entries = linked,
            "linked earlier audit entries to the hash chain"
        );
    }
    Ok(db)
}

impl Application {
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Application> {
        let db_settings = settings.clone();
        let db = tokio::task::spawn_blocking(move || connect_and_migrate(&db_settings))
            .await
            .context("database start-up task")??;
        let calendar = Calendar::from_settings(&settings).map_err(anyhow::Error::msg)?;
        let mailer = Arc::new(Mailer::from_settings(&settings.mail)?);
        let metrics = Arc::new(Metrics::new());
        let mail_notify = Arc::new(Notify::new());
        if settings.mail.worker {
            spawn_worker(
                db.clone(),
                mailer.clone(),
                metrics.clone(),
                clock.clone(),
                mail_notify.clone(),
            );
        }
        let schedules = Arc::new(crate::jobs::schedules(&settings));
        let openapi = http::openapi_json();
        let displays = Arc::new(http::feeds::Displays::new(
            calendar.counters().iter().map(|c| c.id.clone()),
        ));
        let tickets = Arc::new(http::boards::Boards::new(
            calendar.counters().iter().map(|c| c.id.clone()),
        ));
        let clients = Arc::new(client_addresses(&settings, &db, clock.now()).await?);
        let metrics_access = Arc::new(http::client::MetricsAccess {
            token: settings.metrics.token(),
            networks: crate::config::parse_networks(&settings.metrics.allowed_networks)
                .map_err(anyhow::Error::msg)?,
        });
        let staff_networks = Arc::new(
            crate::staff::networks::StaffNetworks::from_settings(&settings.staff.allowed_networks)
                .map_err(anyhow::Error::msg)?,
        );
        let state = AppState {
            message_domain: Arc::from(mailer.message_domain()),
            mailer,
            metrics,
            mail_notify,
            display_notify: Arc::new(Notify::new()),
            catalogue: Arc::new(Catalogue::from_settings(&settings)),
            calendar: Arc::new(calendar),
            settings: Arc::new(settings),
            clock,
            db,
            openapi: Arc::new(openapi),
            kept: Arc::default(),
            fair_start: Arc::default(),
            lotteries: Arc::default(),
            displays,
            tickets,
            clients,
            metrics_access,
            staff_networks,
            jobs: schedules,
            stopping: Arc::default(),
        };
        if state.settings.jobs.enabled {
            state.job_runner().spawn();
        }
        if state.settings.waitlist.sweep_ms > 0 {
            spawn_waitlist_sweeper(state.clone());
        }
        keep_days_current(&state);
        zero_series(&state);
        spawn_gauge_refresher(state.clone());
        tokio::spawn(http::display::poll_feeds(state.clone()));
        tokio::spawn(http::lottery::run_lotteries(state.clone()));
        tokio::spawn(http::fair_start::serve_draws(state.clone()));
        let (port, server, staff) = Self::listen(&state)?;
        log_start(&state, port, staff.as_ref().map(|(p, _)| *p));
        Ok(Application {
            port,
            server,
            staff,
            state,
        })
    }

    /// The listeners: `server.bind`, and the staff side's own when `server.staff_bind` is set
    /// (the public one then serves the public side only).
    fn listen(state: &AppState) -> anyhow::Result<(u16, Server, Option<Listener>)> {
        let listener = TcpListener::bind(&state.settings.server.bind).with_context(|| {
            format!(
                "cannot listen on server.bind = {}",
                state.settings.server.bind
            )
        })?;
        let port = listener.local_addr()?.port();
        let staff_bind = state.settings.server.staff_bind.trim().to_string();
        let staff = if staff_bind.is_empty() {
            None
        } else {
            let listener = TcpListener::bind(&staff_bind)
                .with_context(|| format!("cannot listen on server.staff_bind = {staff_bind}"))?;
            let port = listener.local_addr()?.port();
            let workers = state.settings.server.staff_workers.max(1);
            Some((
                port,
                Self::server(listener, state.clone(), Side::Both, workers)?,
            ))
        };
        let side = if staff.is_some() {
            Side::Public
        } else {
            Side::Both
        };
        let workers = match state.settings.server.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let server = Self::server(listener, state.clone(), side, workers)?;
        Ok((port, server, staff))
    }

    fn server(
        listener: TcpListener,
        state: AppState,
        side: Side,
        workers: usize,
    ) -> anyhow::Result<Server> {
        let header_timeout =
            Duration::from_secs(state.settings.server.header_timeout_seconds.max(1));
        let origins = state.settings.server.cors_allowed_origins.clone();
        let state_shutdown_timeout = state.settings.server.shutdown_timeout_seconds;
        let documented = web::Data::new(http::documented::DocumentedCodes::of(
            &serde_json::from_str(&state.openapi).unwrap_or_default(),
        ));
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            let openapi = data.openapi.clone();
            App::new()
                .wrap(Condition::new(
                    side == Side::Public,
                    from_fn(http::public_side_only),
                ))
                .wrap(problem_middleware())
                .wrap(from_fn(http::refuse_while_stopping))
                .wrap(Condition::new(!origins.is_empty(), http::cors(&origins)))
                .wrap(from_fn(http::frame))
                .app_data(data.clone())
                .app_data(documented.clone())
                .configure(|cfg| http::routes(cfg, openapi))
        })
        .workers(workers)
        .client_request_timeout(header_timeout)
        // A graceful stop waits this long for open connections (waiting-room screens keep one
        // open for ever; they reconnect to the next process by themselves).
        .shutdown_timeout(state_shutdown_timeout)
        // SIGTERM and SIGINT are handled by `run_until_signalled` (busy answers and the
        // screens' streams closed before the graceful stop).
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The staff listener's port (`server.staff_bind`), if it has one.
    pub fn staff_port(&self) -> Option<u16> {
        self.staff.as_ref().map(|(p, _)| *p)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully: from that moment new requests are
    /// answered 503 `busy` (with `Retry-After`, and the connection closed), the waiting-room
    /// streams end (screens reconnect by themselves), and the requests already taken (a
    /// booking waiting for its commit among them) finish, for up to
    /// `server.shutdown_timeout_seconds`.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handles: Vec<actix_web::dev::ServerHandle> = std::iter::once(self.server.handle())
            .chain(self.staff.as_ref().map(|(_, s)| s.handle()))
            .collect();
        let stopping = self.state.stopping.clone();
        tokio::spawn(async move {
            let signal = stop_signal().await;
            tracing::info!(
                signal,
                "stopping: new requests are answered busy, the ones taken finish"
            );
            stopping.begin();
            for h in &handles {
                h.stop(true).await;
            }
        });
        self.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    }

    /// Serves until the server is stopped (its handle, or the runtime's end in tests).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.staff {
            Some((_, staff)) => futures_util::future::try_join(self.server, staff)
                .await
                .map(|_| ()),
            None => self.server.await,
        }
    }
}

/// Every series the alert rules select on exists from the start, at 0 (per mail kind, per job
/// and outcome): `increase()` over a series that appears only with its first failure would miss
/// that failure (`deploy/prometheus/alerts.yml`).
fn zero_series(state: &AppState) {
    use crate::metrics::{JobLabels, MailLabels};
    let m = &state.metrics;
    for kind in crate::mail::MailKind::STRINGS {
        let labels = MailLabels {
            kind: kind.to_string(),
        };
        for family in [&m.mail_sent, &m.mail_failed, &m.mail_retried] {
            let _ = family.get_or_create(&labels);
        }
        let _ = m.mail_delivery_seconds.get_or_create(&labels);
    }
    for scheduled in state.jobs.iter() {
        for outcome in ["ok", "failed", "skipped"] {
            let _ = m.job_runs.get_or_create(&JobLabels {
                job: scheduled.job.as_str().into(),
                outcome: outcome.into(),
            });
        }
    }
}

/// The first SIGTERM or SIGINT (Ctrl-C), by name.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Says at start-up what is in use: the database, the mail transport, the public URL (and
/// whether it points at this server), and warns of a rehearsal clock.
fn log_start(state: &AppState, port: u16, staff_port: Option<u16>) {
    let s = &state.settings;
    tracing::info!(
        addr = %s.server.bind,
        port,
        staff.addr = %s.server.staff_bind,
        staff.port = staff_port.map(|p| p.to_string()).unwrap_or_else(|| "(the same listener)".into()),
        db = state.db.target(),
        mail.transport = state.mailer.kind(),
        mail.target = %state.mailer.describe(),
        public_url = %s.public_url,
        "madoguchi listening"
    );
    if let Some(warning) = public_url_mismatch(&s.public_url, &s.server.bind, port) {
        tracing::warn!(public_url = %s.public_url, bind = %s.server.bind, "{warning}");
    }
}

/// A warning when `public_url` cannot reach `server.bind` directly: a different port with no
/// proxy in front, or a loopback bind behind a public name. Behind a reverse proxy the
/// difference is expected, so this only warns.
pub fn public_url_mismatch(public_url: &str, bind: &str, port: u16) -> Option<String> {
    let rest = public_url
        .strip_prefix("http://")
        .or_else(|| public_url.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let default_port = if public_url.starts_with("https://") {
        443
    } else {
        80
    };
    let (host, url_port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().unwrap_or(default_port)),
        None => (authority, default_port),
    };
    let bind_host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or(bind);
    let loopback = |h: &str| h == "127.0.0.1" || h == "localhost" || h == "[::1]" || h == "::1";
    if url_port != port {
        return Some(format!(
            "public_url uses port {url_port} but the server listens on {port}: links in mails will not reach this server unless a proxy forwards them"
        ));
    }
    if loopback(bind_host) && !loopback(host) {
        return Some(format!(
            "public_url names {host} but the server listens on loopback only ({bind}): residents following mail links cannot reach it"
        ));
    }
    None
}

/// One pass of the sweeper: holds whose time is up end and free their seats (offered to the
/// waiting list in the same write), then the waiting list's steps; each read first, then
/// each in a write of its own.
pub async fn sweep(state: &AppState) -> Result<u32, String> {
    let now = state.clock.now();
    let mut done = expire_holds(state, now).await?;
    tell_near(state, now).await;
    let s = state.clone();
    let steps = state
        .db
        .run(move |conn| crate::waitlist::sweep_steps(conn, &s.booking_ctx(), now))
        .await
        .map_err(|e| e.to_string())?;
    for step in steps {
        let s = state.clone();
        done += state
            .db
            .write(move |conn| crate::waitlist::sweep_step(conn, &s.booking_ctx(), &step, now))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(done)
}

/// Mails the visitors whose turn neared without a call (`queue::follow::sweep_near`); a
/// failure is logged and left for the next pass.
async fn tell_near(state: &AppState, now: chrono::DateTime<chrono::Utc>) {
    use crate::queue::follow::{counters_with_alerts, sweep_near};
    let s = state.clone();
    let counters = state
        .db
        .run(move |conn| counters_with_alerts(conn, &s.booking_ctx(), now))
        .await;
    let counters = match counters {
        Ok(c) if c.is_empty() => return,
        Ok(c) => c,
        Err(e) => {
            return tracing::warn!(error = %e, "the tickets waiting for a mail could not be read")
        }
    };
    let s = state.clone();
    let told = state
        .db
        .write(move |tx| sweep_near(tx, &s.booking_ctx(), &counters, now))
        .await;
    match told {
        Ok(()) => state.mail_notify.notify_one(),
        Err(e) => tracing::warn!(error = %e, "the visitors whose turn neared could not be mailed"),
    }
}

/// Ends the holds whose time is up at `now`, each in a write of its own.
async fn expire_holds(state: &AppState, now: chrono::DateTime<chrono::Utc>) -> Result<u32, String> {
    let expired = state
        .db
        .run(move |conn| crate::reservations::holds::list_expired(conn, now))
        .await
        .map_err(|e| e.to_string())?;
    let mut done = 0;
    for hold in expired {
        let s = state.clone();
        // One hold that cannot end is logged and left for the next pass: the rest of the pass
        // (the other holds, the waiting list) goes on.
        match state
            .db
            .write(move |tx| crate::operations::expire_hold(tx, &s.booking_ctx(), &hold, now))
            .await
        {
            Ok(ended) => done += u32::from(ended),
            Err(e) => tracing::warn!(error = %e, "a hold that ran out could not end"),
        }
    }
    Ok(done)
}

/// Ends holds that ran out, passes on waiting-list offers that ran out and offers seats released for phone bookings,
/// every `waitlist.sweep_ms` (each pass is safe to run from every instance at once).
fn spawn_waitlist_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_millis(state.settings.waitlist.sweep_ms.max(100));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match sweep(&state).await {
                Ok(n) if n > 0 => state.mail_notify.notify_one(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "waiting-list sweep failed"),
            }
        }
    })
}

/// The calendar's days kept in memory follow the database: this process's writes tell the
/// cache as they commit; a watcher thread (every `calendar.watch_ms`, on a connection of its
/// own) finds what other processes changed. The thread ends when the application is gone.
fn keep_days_current(state: &AppState) {
    let calendar = Arc::downgrade(&state.calendar);
    state.db.on_days_changed(move |changed| {
        if let Some(calendar) = calendar.upgrade() {
            calendar
                .cache
                .note_changed(changed.iter().map(|c| (c.counter.as_str(), c.day)));
        }
    });
    let every = state.settings.calendar.watch_ms;
    if every == 0 {
        return;
    }
    let calendar = Arc::downgrade(&state.calendar);
    let clock = state.clock.clone();
    let connect = state.db.connector();
    let spawned = std::thread::Builder::new()
        .name("calendar-watcher".into())
        .spawn(move || watch_days(&calendar, &clock, &connect, Duration::from_millis(every)));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the calendar watcher; other instances' changes will not show");
    }
}

fn watch_days(
    calendar: &std::sync::Weak<Calendar>,
    clock: &SharedClock,
    connect: &dyn Fn() -> Result<crate::db::DbConnection, crate::db::DbError>,
    every: Duration,
) {
    let mut conn = None;
    let mut last_version = None;
    let mut failing = false;
    loop {
        std::thread::sleep(every);
        let Some(calendar) = calendar.upgrade() else {
            return;
        };
        if conn.is_none() {
            conn = connect().ok();
        }
        let Some(c) = conn.as_mut() else {
            continue;
        };
        if !crate::db::others_committed(c, &mut last_version) {
            continue;
        }
        let now = clock.now();
        let result: diesel::QueryResult<usize> =
            calendar.counters().iter().try_fold(0, |n, counter| {
                Ok(n + calendar.cache.watch(c, counter, counter.today(now))?)
            });
        match result {
            Ok(_) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "the calendar watcher cannot read the database; it tries again");
                }
                failing = true;
                conn = None;
                last_version = None;
            }
        }
    }
}

/// The client addresses: the trusted proxies of the settings, and the key of the addresses'
/// hashes (made at the first start and kept in the database).
async fn client_addresses(
    settings: &Settings,
    db: &Db,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<http::client::ClientAddresses> {
    let trusted = crate::config::parse_networks(&settings.server.trusted_proxies)
        .map_err(anyhow::Error::msg)?;
    if settings.limits.trust_forwarded_for {
        tracing::warn!(
            "limits.trust_forwarded_for is no longer read: list the reverse proxies whose X-Forwarded-For is believed in server.trusted_proxies"
        );
    }
    let secret = db
        .run_background(move |conn| crate::db::secret(conn, "client_address_key", now))
        .await
        .map_err(|e| anyhow::anyhow!("reading the client address key: {e}"))?;
    Ok(http::client::ClientAddresses::new(
        trusted,
        secret.into_bytes(),
    ))
}

/// The metrics' database gauges (outbox, queues, database up), read every few seconds in the
/// background so a scrape reads memory only.
fn spawn_gauge_refresher(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            http::metrics::refresh_gauges(&state).await;
            let every = state.settings.metrics.refresh_seconds.max(1);
            tokio::time::sleep(Duration::from_secs(every)).await;
        }
    })
}
