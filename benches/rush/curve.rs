//! How the figures grow with the work: the rush at 2,000 / 10,000 / 20,000 residents (more
//! connections than the machine can serve at once: busy answers are the shedding), a large
//! city's calendar (10 counters × 6 seats a slot), the storm at 1,000 and 5,000 connections,
//! and one and three instances on one PostgreSQL. Each size is its own fresh run; the tables
//! go to the report, the plots to `docs/benchmarks/*.svg`.

use std::time::Duration;

use serde_json::Value;

use crate::common::report::Report;
use crate::common::*;
use crate::plot::{svg, Series};
use crate::storm::{storm, StormOpts};

/// One rush of the curve.
struct Size {
    clients: usize,
    connections: usize,
    /// A city file (the large city's counters), or none: the defaults.
    city: Option<&'static str>,
    instances: usize,
}

struct Point {
    rate: f64,
    p99: Duration,
    max: Duration,
    rush: Rush,
}

/// A large city: 10 counters of 6 seats a slot, 10 slots a weekday (about 10,000 seats in
/// February).
const LARGE_CITY: &str = "large-city";

fn large_city_toml() -> String {
    let mut t = String::new();
    for i in 1..=10 {
        t.push_str(&format!(
            "[[counters]]\nid = \"counter-{i:02}\"\nname = \"窓口{i}\"\nname_en = \"Counter {i}\"\naddress = \"\"\ntimezone = \"Asia/Tokyo\"\nslot_minutes = 30\ncapacity_per_slot = 6\nweekday_hours = {{ opens = \"09:00\", closes = \"14:00\" }}\n\n"
        ));
    }
    t
}

/// Every open February slot of every counter.
async fn february(server: &Server, c: &reqwest::Client) -> Vec<String> {
    let counters: Value = c
        .get(format!("{}/api/v1/counters", server.base))
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("counters json");
    let mut slots = Vec::new();
    for counter in counters["counters"].as_array().cloned().unwrap_or_default() {
        let id = counter["id"].as_str().unwrap_or_default();
        let month: Value = c
            .get(format!(
                "{}/api/v1/counters/{id}/availability?from=2027-02-01&to=2027-02-28",
                server.base
            ))
            .send()
            .await
            .expect("month")
            .json()
            .await
            .expect("month json");
        for d in month["days"].as_array().cloned().unwrap_or_default() {
            for s in d["slots"].as_array().cloned().unwrap_or_default() {
                slots.push(s["id"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    slots
}

async fn rush_at(backend: Backend, size: &Size) -> Point {
    let db = BenchDb::create(backend, "curve");
    migrate(&db);
    let dir = tempfile::tempdir().expect("dir");
    let mut extra = vec![(
        "MADOGUCHI__LIMITS__VERIFY_PER_ADDRESS",
        "1000000".to_string(),
    )];
    if size.city == Some(LARGE_CITY) {
        let file = dir.path().join("city.toml");
        std::fs::write(&file, large_city_toml()).expect("city file");
        extra.push(("MADOGUCHI_CONFIG", file.display().to_string()));
    }
    let sink = smtp::SmtpSink::start().await;
    let c = client(size.connections);
    let servers: Vec<Server> = (0..size.instances)
        .map(|_| Server::start(&db, sink.port, NOON, &extra))
        .collect();
    for s in &servers {
        s.wait_up(&c).await;
    }
    let now = servers[0].now(&c).await;
    let tokens = seed_tokens(&db, size.clients, now);
    let slots = february(&servers[0], &c).await;
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let r = rush(&bases, &c, &tokens, &slots, size.connections).await;
    let taken = db.count("SELECT CAST(COALESCE(SUM(booked), 0) AS BIGINT) AS n FROM slots");
    let over = db.count("SELECT COUNT(*) AS n FROM slots WHERE booked + offer_held > capacity");
    // An answer lost on the way (a transport error) may have booked a seat nobody heard of.
    assert!(
        taken as usize >= r.booked && taken as usize <= r.booked + r.other,
        "seats taken ({taken}) = bookings acknowledged ({}), give or take {} lost answers",
        r.booked,
        r.other
    );
    assert_eq!(over, 0, "no slot over capacity");
    if r.other > 0 {
        // Say what they were, with what the servers logged, in the bench's output.
        eprintln!(
            "unexpected answers: {:?}",
            &r.others[..r.others.len().min(20)]
        );
        for s in &servers {
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "server log ({}), last lines:\n{}",
                s.base,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }

    Point {
        rate: r.answers as f64 / r.wall.as_secs_f64(),
        p99: pct(&r.latencies, 0.99),
        max: r.latencies.last().copied().unwrap_or_default(),
        rush: r,
    }
}

fn write_plot(name: &str, body: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.svg"));
    match std::fs::write(&path, body) {
        Ok(()) => eprintln!("plot written: {}", path.display()),
        Err(e) => eprintln!("plot {name} not written: {e}"),
    }
}

pub async fn curve(report: &Report, backends: &[Backend]) {
    // One backend's run writes plots of its own (`rush-answers-postgres.svg`), so that the
    // backends may be run apart.
    let suffix = match backends {
        [one] => format!("-{}", one.name()),
        _ => String::new(),
    };
    let sizes = [(2_000, 256), (10_000, 1_000), (20_000, 2_000)];
    let mut rate_series = Vec::new();
    let mut p99_series = Vec::new();
    let mut storm_series = Vec::new();
    for &backend in backends {
        let b = backend.name();
        let mut rates = Vec::new();
        let mut p99s = Vec::new();
        for (clients, connections) in sizes {
            let size = Size {
                clients,
                connections,
                city: None,
                instances: 1,
            };
            let p = rush_at(backend, &size).await;
            report_point(
                report,
                &format!("{b} [curve: {clients} residents, {connections} connections]"),
                &p,
            );
            rates.push((clients as f64, p.rate));
            p99s.push((clients as f64, ms(p.p99)));
        }
        let large = Size {
            clients: 20_000,
            connections: 2_000,
            city: Some(LARGE_CITY),
            instances: 1,
        };
        let p = rush_at(backend, &large).await;
        report_point(
            report,
            &format!("{b} [curve: large city, 10 counters × 6 seats, 20000 residents]"),
            &p,
        );
        if backend == Backend::Postgres {
            let three = Size {
                clients: 10_000,
                connections: 1_000,
                city: None,
                instances: 3,
            };
            let p = rush_at(backend, &three).await;
            report_point(
                report,
                &format!("{b} [curve: three instances, 10000 residents, 1000 connections]"),
                &p,
            );
        }
        rate_series.push(Series {
            name: format!("{b}: answers/s"),
            points: rates,
        });
        p99_series.push(Series {
            name: format!("{b}: p99 ms"),
            points: p99s,
        });
        let mut storm_points = Vec::new();
        let mut bare_points = Vec::new();
        for connections in [1_000, 5_000] {
            let opts = StormOpts {
                connections,
                tag: "curve storm".into(),
                ..StormOpts::default()
            };
            if let Some(r) = storm(report, backend, &opts).await {
                storm_points.push((connections as f64, r.view304.requests_per_s));
                bare_points.push((connections as f64, r.bare304.requests_per_s));
            }
        }
        storm_series.push(Series {
            name: format!("{b}: 304/s"),
            points: storm_points,
        });
        if backend == backends[0] {
            storm_series.push(Series {
                name: "bare actix: empty 200/s".into(),
                points: bare_points,
            });
        }
    }
    write_plot(
        &format!("rush-answers{suffix}"),
        &svg(
            "The rush: booking answers a second",
            "residents (connections grow with them)",
            "answers/s",
            &rate_series,
        ),
    );
    write_plot(
        &format!("rush-p99{suffix}"),
        &svg(
            "The rush: booking latency p99",
            "residents (connections grow with them)",
            "ms",
            &p99_series,
        ),
    );
    write_plot(
        &format!("storm-304{suffix}"),
        &svg(
            "The storm: revalidations (304) a second",
            "wrk connections",
            "requests/s",
            &storm_series,
        ),
    );
}

fn report_point(report: &Report, tag: &str, p: &Point) {
    if p.rush.other > 0 {
        // Reported, not asserted: one size's odd answer should not cost the rest of the curve.
        report.add(
            format!("{tag}: answers neither 201, 409 nor busy"),
            format!("{}", p.rush.other),
            format!("{:?}", &p.rush.others[..p.rush.others.len().min(3)]),
            None,
        );
    }
    report.add(
        format!(
            "{tag}: answers/s ({} 201, {} 409, {} busy)",
            p.rush.booked, p.rush.refused, p.rush.busy
        ),
        format!("{:.0}/s", p.rate),
        String::new(),
        None,
    );
    report.add(
        format!("{tag}: p99 / max"),
        format!("{:.0} / {:.0} ms", ms(p.p99), ms(p.max)),
        "every answer within 2 s".into(),
        None,
    );
}
