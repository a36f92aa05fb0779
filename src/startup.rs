//! Builds the application: database (migrated), state, HTTP server and background jobs.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::calendar::Calendar;
use crate::catalogue::Catalogue;
use crate::clock::{RehearsalClock, SharedClock, SystemClock};
use crate::config::Settings;
use crate::db::Db;
use crate::error::problem_middleware;
use crate::http::{self, AppState};
use crate::mail::deliver::{spawn_worker, Mailer};
use crate::telemetry::RequestSpan;
use tokio::sync::Notify;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
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
        let mail_notify = Arc::new(Notify::new());
        if settings.mail.worker {
            spawn_worker(
                db.clone(),
                mailer.clone(),
                clock.clone(),
                mail_notify.clone(),
            );
        }
        let state = AppState {
            message_domain: Arc::from(mailer.message_domain()),
            mailer,
            mail_notify,
            display_notify: Arc::new(Notify::new()),
            catalogue: Arc::new(Catalogue::from_settings(&settings)),
            calendar: Arc::new(calendar),
            settings: Arc::new(settings),
            clock,
            db,
        };
        let listener = TcpListener::bind(&state.settings.server.bind).with_context(|| {
            format!(
                "cannot listen on server.bind = {}",
                state.settings.server.bind
            )
        })?;
        let port = listener.local_addr()?.port();
        let server = Self::server(listener, state.clone())?;
        tracing::info!(
            addr = %state.settings.server.bind,
            port,
            db = state.db.target(),
            "madoguchi listening"
        );
        Ok(Application {
            port,
            server,
            state,
        })
    }

    fn server(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
        let workers = match state.settings.server.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let max_body = state.settings.server.max_body_bytes;
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(problem_middleware())
                .wrap(from_fn(http::rehearsal_headers))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(data.clone())
                .configure(|cfg| http::routes(cfg, max_body))
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the server is stopped (a signal in production, the runtime's end in tests).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
