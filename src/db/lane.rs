//! The two lanes requests take to the database ([`super::Db`] says what each lane gets), and
//! which lane the running task is in.

/// Whose turn a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Residents: bounded, and shed when the database cannot take them in time.
    Public,
    /// Staff, the screens and the service's own work: their own connections, never shed.
    Staff,
}

tokio::task_local! {
    static LANE: Lane;
}

/// Runs `f` (a request's handling) in `lane`: every [`Db`] call inside takes that lane.
pub(crate) async fn in_lane<F: std::future::Future>(lane: Lane, f: F) -> F::Output {
    LANE.scope(lane, f).await
}

/// The lane of the task running now (the staff lane outside any request).
pub(crate) fn current_lane() -> Lane {
    LANE.try_with(|l| *l).unwrap_or(Lane::Staff)
}
