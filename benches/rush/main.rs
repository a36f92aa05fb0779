//! The noon rush on the 1st, at the machine's limit, with its ceilings measured in the same run.
//!
//!   scripts/bench                     # SQLite and PostgreSQL: every run below
//!   MADOGUCHI_BENCH_BACKENDS=sqlite MADOGUCHI_BENCH_RUNS="rush storm" scripts/bench
//!
//! Runs (`MADOGUCHI_BENCH_RUNS`, default all):
//!
//! - `rush`: the real server (the release binary, as its own process, default settings but
//!   for the rate limits) serves 2,000 residents, each a client of one load generator (256
//!   connections), in phases: [`prepare`] (every resident asks for a verification link at
//!   11:59:30 on the rehearsal clock and gets it the real way: API → outbox → SMTP → the link
//!   in the mail), [`views`] (the February month view read for a few seconds), the rush at
//!   12:00:00 on the server's clock (everyone books a random February city-hall slot, 810
//!   seats; `slot_full` is retried with its first alternative, `busy` after its Retry-After),
//!   the month view again, then [`checks`] (seats taken equal bookings acknowledged, none over
//!   capacity);
//! - `history`: the same rush on a database holding 100,000 past reservations and their mail;
//! - `slow-smtp`: an SMTP server taking 2 s per message (tokens seeded, so only the bookings'
//!   own mail meets the slow relay);
//! - `storm` ([`storm`]): wrk refreshing February's month view at 1,000 connections (200s,
//!   then 304s) while one phone operator books callers one after another, a waiting-room
//!   screen listens for a call, against bare actix-web answering the same bytes;
//! - `lottery` ([`lottery`]): a lottery of 20,000 entries (`MADOGUCHI_BENCH_LOTTERY_ENTRIES`)
//!   made through the API, and how long its draw takes;
//! - `storm-staff`: the same storm with the staff side on a listener of its own
//!   (`server.staff_bind`): the operator and the screen on it, wrk on the public one;
//! - `curve` ([`curve`]): how the figures grow with the work: the rush at 2,000 / 10,000 /
//!   20,000 clients, a large city's calendar (10 counters × 6 seats a slot), the storm at 1,000
//!   and 5,000 connections, one and three instances on one PostgreSQL; tables and SVG plots
//!   written to `docs/benchmarks/`.
//!
//! Ceilings, measured in the same run on the same machine (`common::ceilings`): the raw
//! database rate of the booking's shape of transaction, the SMTP listener's own rate, a bare
//! actix-web server answering the same bytes from memory (its own process), under the same
//! load generator. Every figure is printed as one line with its ratio to its ceiling.

#[path = "../common/mod.rs"]
mod common;
mod curve;
mod lottery;
mod phones;
mod plot;
mod storm;

use std::time::Duration;

use chrono::DateTime;
use common::ceilings::{bare_ceiling, bare_server, db_ceiling, smtp_ceiling};
use common::report::Report;
use common::*;

struct RunOpts {
    name: &'static str,
    history: bool,
    smtp_delay: Option<Duration>,
    /// Server settings beyond the bench's own (the durability run's `full`).
    extra: &'static [(&'static str, &'static str)],
}

struct RunResult {
    rush: Rush,
    avail_before: f64,
    avail_after: f64,
    month_bytes: Vec<u8>,
    mail_rate: Option<f64>,
    mail_p50: Option<Duration>,
    mail_p99: Option<Duration>,
    rss_mb: f64,
    server_errors: usize,
}

/// A run's server, its residents' tokens and the slots they book.
struct Prepared {
    db: BenchDb,
    _sink: smtp::SmtpSink,
    server: Server,
    c: reqwest::Client,
    tokens: Vec<String>,
    slots: Vec<String>,
    month_bytes: Vec<u8>,
    mail: Option<(f64, Duration, Duration)>,
}

/// Phase 1: a fresh database (history written in when asked), the server at 11:59:30, every
/// resident verified (the real way, or tokens seeded when the relay is slow).
async fn prepare(backend: Backend, opts: &RunOpts, clients: usize, connections: usize) -> Prepared {
    let db = BenchDb::create(backend, opts.name);
    let sink = smtp::SmtpSink::start().await;
    let c = client(connections);
    // Migrate first (history is written into the real schema), then serve.
    migrate(&db);
    if opts.history {
        seed_history(&db, 100_000);
    }
    // Half a minute before noon: the verification and the first month view take seconds.
    let extra: Vec<(&str, String)> = opts
        .extra
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    let server = Server::start(&db, sink.port, "2026-12-01T11:59:30+09:00", &extra);
    server.wait_up(&c).await;
    let (tokens, mail) = if let Some(delay) = opts.smtp_delay {
        sink.set_delay(delay);
        let now = server.now(&c).await;
        (seed_tokens(&db, clients, now), None)
    } else {
        let (tokens, lat, wall) = verify_all(&server, &sink, clients, connections).await;
        let rate = clients as f64 / wall.as_secs_f64();
        (tokens, Some((rate, pct(&lat, 0.5), pct(&lat, 0.99))))
    };
    let (slots, month_bytes) = february_slots(&server, &c).await;
    assert_eq!(
        slots.len(),
        18 * 15,
        "February: 18 open days of 15 slots (810 seats)"
    );
    Prepared {
        db,
        _sink: sink,
        server,
        c,
        tokens,
        slots,
        month_bytes,
        mail,
    }
}

/// Phase 2 (and 4): the month view read by every connection for `secs`: requests a second.
async fn views(p: &Prepared, connections: usize, secs: f64) -> f64 {
    let url = format!("{}{MONTH}", p.server.base);
    read_load(&p.c, &url, connections, secs, false).await.0
}

/// Waits for noon on the server's clock.
async fn until_noon(p: &Prepared) {
    let noon = DateTime::parse_from_rfc3339(NOON).expect("noon");
    while p.server.now(&p.c).await < noon {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Phase 5: seats taken equal bookings acknowledged (every day counted: alternatives may lie
/// outside February), and no slot is over capacity.
fn checks(p: &Prepared, r: &Rush) {
    let db = &p.db;
    let taken = db.count("SELECT CAST(COALESCE(SUM(booked), 0) AS BIGINT) AS n FROM slots WHERE visit_on >= '2026-12-01'");
    let seated = db.count("SELECT COUNT(*) AS n FROM reservations WHERE status <> 'cancelled' AND visit_on >= '2026-12-01'");
    let over = db.count("SELECT COUNT(*) AS n FROM slots WHERE booked + offer_held > capacity");
    assert_eq!(
        taken as usize, r.booked,
        "seats taken = bookings acknowledged"
    );
    assert_eq!(
        seated as usize, r.booked,
        "reservations = bookings acknowledged"
    );
    assert_eq!(over, 0, "no slot over capacity");
    assert_eq!(
        r.other, 0,
        "every answer is 201, 409 or 503 busy: {:?}",
        r.others
    );
}

async fn run(
    backend: Backend,
    opts: &RunOpts,
    clients: usize,
    connections: usize,
    avail_secs: f64,
) -> RunResult {
    let p = prepare(backend, opts, clients, connections).await;
    let avail_before = views(&p, connections, avail_secs).await;
    until_noon(&p).await;
    let r = rush(
        std::slice::from_ref(&p.server.base),
        &p.c,
        &p.tokens,
        &p.slots,
        connections,
    )
    .await;
    let avail_after = views(&p, connections, avail_secs).await;
    let rss_mb = p.server.peak_rss_mb();
    checks(&p, &r);
    RunResult {
        mail_rate: p.mail.map(|m| m.0),
        mail_p50: p.mail.map(|m| m.1),
        mail_p99: p.mail.map(|m| m.2),
        rush: r,
        avail_before,
        avail_after,
        month_bytes: p.month_bytes.clone(),
        rss_mb,
        server_errors: p.server.errors_5xx_in_log(),
    }
}

/// The figures of one run, next to their ceilings.
fn report_run(report: &Report, tag: &str, r: &RunResult, db_rate: f64, smtp_rate: f64, bare: f64) {
    let rate = r.rush.answers as f64 / r.rush.wall.as_secs_f64();
    let p99 = pct(&r.rush.latencies, 0.99);
    report.add(
        format!(
            "{tag}: booking answers/s ({} 201, {} 409, {} busy)",
            r.rush.booked, r.rush.refused, r.rush.busy
        ),
        format!("{rate:.0}/s"),
        format!("{db_rate:.0} raw tx/s"),
        Some(rate / db_rate),
    );
    report.add(
        format!("{tag}: booking p50 / p99"),
        format!("{:.0} / {:.0} ms", ms(pct(&r.rush.latencies, 0.5)), ms(p99)),
        "target p99 < 250 ms".into(),
        None,
    );
    if let (Some(rate), Some(p50), Some(p99)) = (r.mail_rate, r.mail_p50, r.mail_p99) {
        report.add(
            format!("{tag}: verification mail delivered/s"),
            format!("{rate:.0}/s"),
            format!("{smtp_rate:.0} msg/s the sink accepts"),
            Some(rate / smtp_rate),
        );
        report.add(
            format!("{tag}: verification mail latency p50 / p99"),
            format!("{:.0} / {:.0} ms", ms(p50), ms(p99)),
            "request to SMTP acceptance; target p99 < 5 s".into(),
            None,
        );
    }
    for (when, value) in [("before", r.avail_before), ("after", r.avail_after)] {
        report.add(
            format!("{tag}: month view req/s {when} the rush"),
            format!("{value:.0}/s"),
            format!("{bare:.0}/s bare actix, same bytes"),
            Some(value / bare),
        );
    }
    report.add(
        format!("{tag}: peak RSS of the server"),
        format!("{:.1} MB", r.rss_mb),
        "target < 64 MB".into(),
        None,
    );
    report.add(
        format!("{tag}: 5xx / transport errors / seats consistent"),
        format!("{} / {} / yes", r.server_errors, r.rush.other),
        String::new(),
        None,
    );
}

/// The rush runs of one backend (rush, history, slow-smtp), each against the empty run.
async fn rush_runs(
    report: &Report,
    backend: Backend,
    runs: &str,
    (clients, connections, avail_secs): (usize, usize, f64),
    smtp_rate: f64,
) {
    let b = backend.name();
    let db_rate = tokio::task::spawn_blocking(move || db_ceiling(backend, 10_000))
        .await
        .expect("ceiling");
    report.add(
        format!("{b}: raw tx/s (ceiling a)"),
        format!("{db_rate:.0} tx/s"),
        "UPDATE slot + INSERT row, committed".into(),
        None,
    );
    let mut base: Option<(f64, f64, f64, Duration)> = None;
    for name in ["rush", "history", "slow-smtp", "durability"] {
        if !runs.split_whitespace().any(|r| r == name) {
            continue;
        }
        if name == "durability" && backend != Backend::Sqlite {
            continue; // PostgreSQL's durability is the server's synchronous_commit
        }
        let opts = RunOpts {
            name,
            history: name == "history",
            smtp_delay: (name == "slow-smtp").then(|| Duration::from_secs(2)),
            extra: if name == "durability" {
                &[("MADOGUCHI__DATABASE__SQLITE_SYNCHRONOUS", "full")]
            } else {
                &[]
            },
        };
        let r = run(backend, &opts, clients, connections, avail_secs).await;
        let bare = bare_ceiling(&r.month_bytes, connections, avail_secs).await;
        let tag = format!("{b} [{name}]");
        report_run(report, &tag, &r, db_rate, smtp_rate, bare);
        let rate = r.rush.answers as f64 / r.rush.wall.as_secs_f64();
        let ratios = (rate / db_rate, r.avail_before / bare, r.avail_after / bare);
        let p99 = pct(&r.rush.latencies, 0.99);
        match (name, base) {
            ("rush", _) => base = Some((ratios.0, ratios.1, ratios.2, p99)),
            ("history", Some((b0, a0, a1, _))) => report.add(
                format!("{tag}: ratios against the empty run"),
                format!(
                    "{:.2} {:.2} {:.2}",
                    ratios.0 / b0,
                    ratios.1 / a0,
                    ratios.2 / a1
                ),
                "booking, view before, view after; target within 10 %".into(),
                None,
            ),
            ("durability", Some((b0, .., p0))) => report.add(
                format!("{tag}: sqlite_synchronous = full against normal (the rush run)"),
                format!(
                    "{:.2} of the rate, p99 {:.0} vs {:.0} ms",
                    ratios.0 / b0,
                    ms(p99),
                    ms(p0)
                ),
                "what a commit that survives a power cut costs".into(),
                None,
            ),
            ("slow-smtp", Some((.., p0))) => report.add(
                format!("{tag}: booking p99 against the fast-SMTP run"),
                format!("{:.0} vs {:.0} ms", ms(p99), ms(p0)),
                "target: unchanged".into(),
                None,
            ),
            _ => {}
        }
    }
}

async fn bench() {
    let clients = env_usize("MADOGUCHI_BENCH_CLIENTS", 2000);
    let connections = env_usize("MADOGUCHI_BENCH_CONNECTIONS", 256);
    let avail_secs = env_usize("MADOGUCHI_BENCH_AVAILABILITY_SECONDS", 5) as f64;
    let backends = backends();
    let runs = std::env::var("MADOGUCHI_BENCH_RUNS")
        .unwrap_or_else(|_| "rush history slow-smtp storm curve".into());
    let report = Report::default();
    println!(
        "\n# madoguchi noon rush: {clients} residents, {connections} connections, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let smtp_rate = smtp_ceiling(500).await;
    report.add(
        "SMTP listener accepts (ceiling b)",
        format!("{smtp_rate:.0} msg/s"),
        "4 clients, connections reused".into(),
        None,
    );
    for &backend in &backends {
        rush_runs(
            &report,
            backend,
            &runs,
            (clients, connections, avail_secs),
            smtp_rate,
        )
        .await;
        if runs.split_whitespace().any(|r| r == "storm") {
            storm::storm(&report, backend, &storm::StormOpts::default()).await;
        }
        if runs.split_whitespace().any(|r| r == "phones") {
            let connections = env_usize("MADOGUCHI_BENCH_STORM_CONNECTIONS", 1000);
            let secs = env_usize("MADOGUCHI_BENCH_STORM_SECONDS", 10) as u64;
            phones::phones(&report, backend, connections, secs).await;
        }
        if runs.split_whitespace().any(|r| r == "lottery") {
            let entries = env_usize("MADOGUCHI_BENCH_LOTTERY_ENTRIES", 20_000);
            lottery::lottery(&report, backend, entries).await;
        }
        if runs.split_whitespace().any(|r| r == "storm-staff") {
            // The same storm with the staff side on a listener of its own (server.staff_bind).
            let opts = storm::StormOpts {
                staff_listener: true,
                tag: "storm, staff_bind".into(),
                ..storm::StormOpts::default()
            };
            storm::storm(&report, backend, &opts).await;
        }
    }
    if runs.split_whitespace().any(|r| r == "curve") {
        curve::curve(&report, &backends).await;
    }
    println!("\n{}", report.markdown());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--bare-server") {
        bare_server(args[2].parse().expect("port"), &args[3]);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}
