//! The one place that reads the system time. Every rule takes `now` from a [`Clock`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
    /// True for the rehearsal clock: responses then say so in headers.
    fn is_rehearsal(&self) -> bool {
        false
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Production: the system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the only sanctioned read of the system time
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// `clock.start`: starts at a configured instant, then runs forward in real time.
/// For rehearsing a month opening against a real deployment.
#[derive(Debug)]
pub struct RehearsalClock {
    start: DateTime<Utc>,
    started: Instant,
}

impl RehearsalClock {
    #[allow(clippy::disallowed_methods)] // a monotonic reference point, not a wall-clock read
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        RehearsalClock {
            start,
            started: Instant::now(),
        }
    }
}

impl Clock for RehearsalClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Duration::from_std(self.started.elapsed()).unwrap_or(Duration::zero());
        self.start + elapsed
    }
    fn is_rehearsal(&self) -> bool {
        true
    }
}

/// Tests: stands still until told to move.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }
    pub fn advance(&self, by: Duration) {
        let mut guard = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *guard += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T11:59:59+09:00")
            .unwrap()
            .to_utc();
        let clock = ManualClock::at(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::seconds(1));
        assert_eq!(clock.now(), t0 + Duration::seconds(1));
    }

    #[test]
    fn a_rehearsal_clock_starts_at_its_instant_and_runs_forward() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T11:59:58+09:00")
            .unwrap()
            .to_utc();
        let clock = RehearsalClock::starting_at(t0);
        let a = clock.now();
        assert!(a >= t0 && a < t0 + Duration::seconds(5));
        assert!(clock.now() >= a);
        assert!(clock.is_rehearsal());
    }
}
