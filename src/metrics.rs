//! Prometheus metrics (`GET /metrics`), with `prometheus-client`: one registry per running
//! application (no global state, so tests that run several apps in one process stay apart).
//!
//! Counters and histograms are updated where things happen (the HTTP middleware, the booking
//! handlers, the mail worker, the job runner); gauges that describe stored state (outbox depth,
//! people waiting) are read from the database when scraped.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ErrorCode;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v1/counters/{counter}/availability`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BookingLabels {
    /// `web` or `phone`.
    pub channel: String,
    /// `booked`, or the refusal's code (`slot_full`, `window_not_open`, …).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CounterLabels {
    pub counter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
    /// `ok`, `failed` or `skipped`.
    pub outcome: String,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

fn delivery_buckets() -> impl Iterator<Item = f64> {
    [
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
    ]
    .into_iter()
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub bookings: Family<BookingLabels, Counter>,
    pub mail_sent: Family<MailLabels, Counter>,
    pub mail_failed: Family<MailLabels, Counter>,
    pub mail_retried: Family<MailLabels, Counter>,
    pub mail_delivery_seconds: Family<MailLabels, Histogram>,
    pub outbox_depth: Family<StatusLabels, Gauge>,
    pub queue_waiting: Family<CounterLabels, Gauge>,
    pub job_runs: Family<JobLabels, Counter>,
    pub db_ready: Gauge,
    /// Serialises scrapes: gauges are set from the database, then encoded.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

type MailFamilies = (
    Family<MailLabels, Counter>,
    Family<MailLabels, Counter>,
    Family<MailLabels, Counter>,
    Family<MailLabels, Histogram>,
);

/// The mail worker's metrics: sent, failed, retried, and the delivery time.
fn register_mail(registry: &mut Registry) -> MailFamilies {
    let mail_sent = registered(
        registry,
        "mail_sent",
        "Mails the transport accepted",
        Family::<MailLabels, Counter>::default(),
    );
    let mail_failed = registered(
        registry,
        "mail_failed",
        "Mails given up on (permanent refusal or too many attempts)",
        Family::<MailLabels, Counter>::default(),
    );
    let mail_retried = registered(
        registry,
        "mail_retried",
        "Delivery attempts that failed and will be retried",
        Family::<MailLabels, Counter>::default(),
    );
    let mail_delivery_seconds = registered(
        registry,
        "mail_delivery_seconds",
        "From the mail being written to the outbox to the transport accepting it",
        Family::<MailLabels, Histogram>::new_with_constructor(
            || Histogram::new(delivery_buckets()),
        ),
    );
    (mail_sent, mail_failed, mail_retried, mail_delivery_seconds)
}

/// `metric` registered under `name` with its help text; the handle to update it.
fn registered<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("madoguchi");
        let http_requests = registered(
            &mut registry,
            "http_requests",
            "HTTP requests by method, route template and status",
            Family::<HttpLabels, Counter>::default(),
        );
        let http_duration = registered(
            &mut registry,
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            Family::<RouteLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(latency_buckets())
            }),
        );
        let bookings = registered(
            &mut registry,
            "bookings",
            "Booking attempts by channel and outcome (booked or the refusal's code)",
            Family::<BookingLabels, Counter>::default(),
        );
        let (mail_sent, mail_failed, mail_retried, mail_delivery_seconds) =
            register_mail(&mut registry);
        let outbox_depth = registered(
            &mut registry,
            "outbox",
            "Outbox rows by status (pending, sending, failed) when scraped",
            Family::<StatusLabels, Gauge>::default(),
        );
        let queue_waiting = registered(
            &mut registry,
            "queue_waiting",
            "Tickets waiting today, per counter, when scraped",
            Family::<CounterLabels, Gauge>::default(),
        );
        let job_runs = registered(
            &mut registry,
            "job_runs",
            "Scheduled job runs by job and outcome",
            Family::<JobLabels, Counter>::default(),
        );
        let db_ready = registered(
            &mut registry,
            "database_up",
            "1 when the database answered the last scrape",
            Gauge::default(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            bookings,
            mail_sent,
            mail_failed,
            mail_retried,
            mail_delivery_seconds,
            outbox_depth,
            queue_waiting,
            job_runs,
            db_ready,
            scrape: Mutex::new(()),
        }
    }

    /// A booking attempt's outcome.
    pub fn booking(&self, channel: &str, outcome: Result<(), ErrorCode>) {
        let outcome = match outcome {
            Ok(()) => "booked",
            Err(code) => code.as_str(),
        };
        self.bookings
            .get_or_create(&BookingLabels {
                channel: channel.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Sets the scrape-time gauges with `fill`, then encodes everything as Prometheus text.
    pub fn render(&self, fill: impl FnOnce(&Metrics)) -> Result<String, std::fmt::Error> {
        let _guard = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        fill(self);
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
