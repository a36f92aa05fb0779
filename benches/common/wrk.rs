//! wrk (Debian's package) as the load generator of the storms: its own process, so the load
//! it makes does not share this program's runtime with what measures the server.

use std::process::Command;
use std::time::Duration;

/// What a wrk run says.
#[derive(Debug, Default, Clone)]
pub struct Wrk {
    pub requests_per_s: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Requests wrk gave up on after its timeout (2 s).
    pub timeouts: u64,
    /// Connection errors (refused, reset).
    pub errors: u64,
    /// Answers that were not 2xx or 3xx.
    pub non_2xx_3xx: u64,
    pub requests: u64,
}

/// Whether wrk is installed (scripts/bench installs it).
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false)
}

/// `wrk` against `url` with `connections` connections for `secs`, with extra `headers`;
/// every request that takes longer than 2 s counts as a timeout.
pub async fn wrk(url: &str, connections: usize, secs: u64, headers: &[(&str, &str)]) -> Wrk {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{secs}s"),
        "--latency",
        "--timeout",
        "2s",
    ]);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    cmd.arg(url);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("wrk task")
        .expect("wrk runs (apt-get install wrk)");
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn duration(s: &str) -> Duration {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let v: f64 = num.parse().unwrap_or(f64::NAN);
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "m" => v * 60.0,
        _ => v,
    };
    Duration::from_secs_f64(secs.max(0.0))
}

fn parse(text: &str) -> Wrk {
    let mut w = Wrk::default();
    for line in text.lines() {
        let t = line.trim();
        let fields: Vec<&str> = t.split_whitespace().collect();
        match fields.as_slice() {
            ["Requests/sec:", v] => w.requests_per_s = v.parse().unwrap_or(0.0),
            ["50%", v] => w.p50 = duration(v),
            ["99%", v] => w.p99 = duration(v),
            ["Latency", _avg, _stdev, max, ..] => w.max = duration(max),
            [n, "requests", "in", ..] => w.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => w.non_2xx_3xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", ..] => {
                // Socket errors: connect 0, read 0, write 0, timeout 12
                let nums: Vec<u64> = t
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse().ok())
                    .collect();
                if let [connect, read, write, timeout] = nums.as_slice() {
                    w.errors = connect + read + write;
                    w.timeouts = *timeout;
                }
            }
            _ => {}
        }
    }
    w
}
