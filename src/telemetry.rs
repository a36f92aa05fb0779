//! Structured logs with tracing (each request's span is made by `http::frame`: method, route
//! pattern, request id, status).
//!
//! Never logged: names, addresses, phone numbers, tokens, passwords. The request span records
//! the route *pattern* (`/api/v1/reservations/{manage_token}`), never the path itself, since
//! paths carry tokens.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber (once; later calls are ignored). `RUST_LOG` wins over config.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: files, journald and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
