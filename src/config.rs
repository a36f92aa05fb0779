//! Configuration: `config/default.toml` (+ `config/procedures.toml`), an optional city file
//! given with `--config`, then `MADOGUCHI__SECTION__KEY` environment variables.
//!
//! Copies of both files are embedded in the binary, so the service starts from any folder;
//! files on disk are layered over them. Invalid configuration stops the start with a message
//! that names the key.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer};

pub const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");
pub const EMBEDDED_PROCEDURES: &str = include_str!("../config/procedures.toml");
pub const ENV_PREFIX: &str = "MADOGUCHI__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration is invalid:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub city_name: String,
    pub public_url: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub clock: ClockSettings,
    pub log: LogSettings,
    pub booking: BookingSettings,
    pub verification: VerificationSettings,
    pub limits: LimitSettings,
    pub staff: StaffSettings,
    pub queue: QueueSettings,
    pub jobs: JobsSettings,
    pub retention: RetentionSettings,
    /// Scheduled SQLite backups (`jobs.backup`): where, and how many are kept.
    #[serde(default)]
    pub backup: BackupSettings,
    pub waitlist: WaitlistSettings,
    pub second_visit: SecondVisitSettings,
    pub mail: MailSettings,
    pub calendar: CalendarSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    pub counters: Vec<CounterSettings>,
    pub procedures: Vec<ProcedureSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub header_timeout_seconds: u64,
    pub body_timeout_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// host:port of a listener for the staff side alone (phone, desk, administration, the
    /// console and the waiting-room screens), with workers of its own; empty: one listener
    /// serves both sides. When set, `bind` serves the public side only.
    #[serde(default)]
    pub staff_bind: String,
    /// Worker threads of the staff listener.
    #[serde(default = "default_staff_workers")]
    pub staff_workers: usize,
    /// The reverse proxies whose `X-Forwarded-For` is believed (a CIDR list); empty: none, the
    /// client is the peer address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

fn default_staff_workers() -> usize {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_seconds: u64,
    pub busy_timeout_ms: u32,
    /// SQLite: the most writes the writer commits together.
    pub write_group_max: u32,
    /// Connections kept for the staff lane (phone, desk, administration, the waiting-room
    /// screens), beyond `pool_size`: public requests never take them.
    #[serde(default = "default_staff_pool_size")]
    pub staff_pool_size: u32,
    /// How long a public request may wait for its turn at the database (a connection, or the
    /// SQLite writer's queue) before it is answered 503 `busy`.
    #[serde(default = "default_public_wait_ms")]
    pub public_wait_ms: u64,
    /// Public requests that may wait for the database at once; beyond, 503 `busy` at once.
    #[serde(default = "default_public_queue_max")]
    pub public_queue_max: u32,
    /// SQLite's `synchronous`: `normal` (a commit survives the process's crash, not a power
    /// cut) or `full` (it survives both; each commit waits for the disk).
    #[serde(default)]
    pub sqlite_synchronous: Synchronous,
}

/// How far a SQLite commit is on the disk before it is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// The WAL is synced at checkpoints: a crash of the process loses nothing, a power cut may
    /// lose the last commits (never corrupts).
    #[default]
    Normal,
    /// Every commit is synced before it is acknowledged.
    Full,
}

impl Synchronous {
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "PRAGMA synchronous = NORMAL",
            Synchronous::Full => "PRAGMA synchronous = FULL",
        }
    }
}

fn default_staff_pool_size() -> u32 {
    2
}

fn default_public_wait_ms() -> u64 {
    1000
}

fn default_public_queue_max() -> u32 {
    2048
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// RFC 3339; empty means the system clock.
    #[serde(default)]
    pub start: String,
}

impl ClockSettings {
    pub fn rehearsal_start(&self) -> Result<Option<DateTime<FixedOffset>>, String> {
        let raw = self.start.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc3339(raw).map(Some).map_err(|e| {
            format!("clock.start: {raw:?} is not an RFC 3339 instant such as 2026-12-01T11:59:58+09:00 ({e})")
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    pub months_ahead: u32,
    pub opening_day: u32,
    #[serde(deserialize_with = "de_hhmm")]
    pub opening_time: NaiveTime,
    pub closing_days_before: u32,
    #[serde(deserialize_with = "de_hhmm")]
    pub closing_time: NaiveTime,
    pub max_days_per_request: u32,
    pub max_active_per_email: u32,
    /// Seats of every slot held back from the web for phone bookings (0: none), until
    /// `phone_release_days` before the visit at `opening_time`. Each counter may override both.
    pub phone_seats_per_slot: u32,
    pub phone_release_days: u32,
    /// A fair start: web bookings for days whose window opened less than this many seconds ago
    /// wait until then and are served in one random order (0: first come, first served).
    #[serde(default)]
    pub fair_start_seconds: u32,
    /// People one booking may carry in all (a party), and the most seats one hold may keep.
    #[serde(default = "default_max_party_size")]
    pub max_party_size: u32,
    /// How long a hold (仮押さえ) keeps its seats.
    #[serde(default = "default_hold_minutes")]
    pub hold_minutes: u32,
    /// Live holds one client address may have at once (each verified address has at most one).
    #[serde(default = "default_holds_per_client")]
    pub holds_per_client: u32,
}

fn default_max_party_size() -> u32 {
    4
}

fn default_hold_minutes() -> u32 {
    10
}

fn default_holds_per_client() -> u32 {
    5
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSettings {
    pub ttl_minutes: u32,
}

/// Who may read `GET /metrics`: a bearer token, or a client from a listed network; neither
/// set: nobody (it answers 404, as if it were not there).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    #[serde(default)]
    pub bearer_token: String,
    /// A file holding the token (instead of writing it into the configuration).
    #[serde(default)]
    pub bearer_token_file: String,
    #[serde(default)]
    pub allowed_networks: Vec<String>,
    /// How often the gauges that need the database are read (a scrape reads memory only).
    #[serde(default = "default_metrics_refresh_seconds")]
    pub refresh_seconds: u64,
}

fn default_metrics_refresh_seconds() -> u64 {
    5
}

impl MetricsSettings {
    /// The token, read from its file when one is named.
    pub fn token(&self) -> Option<String> {
        let token = if self.bearer_token_file.trim().is_empty() {
            self.bearer_token.trim().to_string()
        } else {
            std::fs::read_to_string(self.bearer_token_file.trim())
                .map(|t| t.trim().to_string())
                .unwrap_or_default()
        };
        (!token.is_empty()).then_some(token)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub verify_per_address: u32,
    pub verify_per_ip: u32,
    pub window_minutes: u32,
    /// No longer read (the proxies whose `X-Forwarded-For` is believed are
    /// `server.trusted_proxies`); kept so that an older city file still starts, with a warning.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// Bookings refused on one verification link before the link is used up (a refusal does
    /// not use it up otherwise).
    #[serde(default = "default_refusals_per_link")]
    pub refusals_per_link: u32,
    /// Waiting-list entries one address may hold at once.
    #[serde(default = "default_waitlist_per_address")]
    pub waitlist_per_address: u32,
}

fn default_refusals_per_link() -> u32 {
    3
}

fn default_waitlist_per_address() -> u32 {
    3
}

/// Networks (CIDR lists) per role, or one list for every role; empty: anywhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NetworksByRole {
    Everyone(Vec<String>),
    PerRole(std::collections::BTreeMap<String, Vec<String>>),
}

impl Default for NetworksByRole {
    fn default() -> Self {
        NetworksByRole::Everyone(Vec::new())
    }
}

impl NetworksByRole {
    /// Whether the setting names `role` (one list for everyone names every role).
    pub fn names(&self, role: &str) -> bool {
        match self {
            NetworksByRole::Everyone(_) => true,
            NetworksByRole::PerRole(map) => map.contains_key(role),
        }
    }

    /// The networks `role` may sign in from (empty: anywhere).
    pub fn for_role(&self, role: &str) -> &[String] {
        match self {
            NetworksByRole::Everyone(list) => list,
            NetworksByRole::PerRole(map) => map.get(role).map(Vec::as_slice).unwrap_or(&[]),
        }
    }
}

/// The networks of a setting (a CIDR list; a bare address is one host).
pub fn parse_networks(list: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("{s:?} is not a network (a CIDR such as 10.0.0.0/8, or an address)")
                })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSettings {
    pub session_hours: u32,
    pub password_min_length: usize,
    pub login_max_failures: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window_minutes: u32,
    pub login_delay_base_seconds: u32,
    pub login_delay_max_seconds: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Failed sign-ins for one login from this many different client addresses within the
    /// window throttle that login from everywhere (a spread attack on one account); from fewer,
    /// only the addresses they came from wait.
    #[serde(default = "default_login_lockout_addresses")]
    pub login_lockout_addresses: u32,
    /// Roles that must sign in with a second factor (TOTP): until they enrol, their sessions
    /// may only enrol.
    #[serde(default = "default_require_totp_for")]
    pub require_totp_for: Vec<String>,
    /// Where staff may sign in from: one CIDR list for every role, or a list per role; empty:
    /// anywhere.
    #[serde(default)]
    pub allowed_networks: NetworksByRole,
    /// A session unused this long ends (besides `session_hours` after sign-in).
    #[serde(default = "default_idle_minutes")]
    pub idle_minutes: u32,
    /// Sessions one account may hold at once; a new sign-in ends the oldest.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: u32,
}

fn default_login_lockout_addresses() -> u32 {
    10
}

fn default_require_totp_for() -> Vec<String> {
    vec!["admin".into()]
}

fn default_idle_minutes() -> u32 {
    30
}

fn default_max_sessions() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    pub early_minutes: u32,
    pub late_grace_minutes: u32,
    pub default_service_minutes: u32,
    #[serde(default)]
    pub service_minutes: std::collections::BTreeMap<String, u32>,
    pub default_desks: u32,
    pub desk_activity_minutes: u32,
    pub display_backlog: u32,
    pub display_poll_ms: u64,
    pub display_keepalive_seconds: u64,
    /// Waiting-room streams one client address may hold at once.
    #[serde(default = "default_display_streams_per_address")]
    pub display_streams_per_address: u32,
    /// The languages the waiting-room screen shows its words in and speaks each call in,
    /// Japanese first (`DISPLAY_LANGUAGES` lists those it has words for).
    #[serde(default = "default_display_languages")]
    pub display_languages: Vec<String>,
    /// A reserved visitor who asked is mailed when this many people or fewer are ahead.
    #[serde(default = "default_notify_ahead")]
    pub notify_ahead: u32,
    /// Ticket pages one client address may follow live at once (a waiting room's phones share
    /// the hall's address; beyond, 429).
    #[serde(default = "default_ticket_streams_per_address")]
    pub ticket_streams_per_address: u32,
    /// How old (milliseconds) a counter's ticket board may be before a ticket page reads it
    /// again: the database sees one queue read per counter per interval, however many phones
    /// follow their tickets (changes made at this instance refresh it at once).
    #[serde(default = "default_ticket_board_ms")]
    pub ticket_board_ms: u64,
}

/// The languages the waiting-room screen has words for.
pub const DISPLAY_LANGUAGES: &[&str] = &["ja", "en", "zh-Hans", "ko", "vi", "pt", "tl"];

fn default_display_streams_per_address() -> u32 {
    16
}

fn default_display_languages() -> Vec<String> {
    vec!["ja".to_string(), "en".to_string()]
}

fn default_notify_ahead() -> u32 {
    3
}

fn default_ticket_streams_per_address() -> u32 {
    200
}

fn default_ticket_board_ms() -> u64 {
    2000
}

impl QueueSettings {
    pub fn service_minutes_for(&self, procedure: Option<&str>) -> u32 {
        procedure
            .and_then(|p| self.service_minutes.get(p).copied())
            .unwrap_or(self.default_service_minutes)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// A cron expression, seconds first (`0 0 10 * * *`), in the counters' time zone.
    pub schedule: CronSchedule,
}

/// A cron schedule (the `cron` crate: six fields, seconds first, weekday names), parsed when the
/// settings are read, so a bad one stops the start naming its key.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    schedule: cron::Schedule,
}

impl CronSchedule {
    /// The expression as configured.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Instants after `from`, in `from`'s zone.
    pub fn after<'a, Z>(
        &'a self,
        from: &chrono::DateTime<Z>,
    ) -> impl Iterator<Item = chrono::DateTime<Z>> + 'a
    where
        Z: chrono::TimeZone + 'a,
    {
        self.schedule.after(from)
    }
}

impl std::str::FromStr for CronSchedule {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        let expression = raw.trim().to_string();
        cron::Schedule::from_str(&expression)
            .map(|schedule| CronSchedule {
                expression: expression.clone(),
                schedule,
            })
            .map_err(|e| {
                format!(
                    "{raw:?} is not a schedule ({e}); write six fields, seconds first, e.g. \"0 0 10 * * *\" for 10:00 daily or \"0 0 10 * * Mon-Fri\""
                )
            })
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// Run the scheduler in this process (every instance may: each run happens once).
    pub enabled: bool,
    /// After downtime, the latest run missed less than this long ago runs at start-up.
    pub catch_up_hours: u32,
    /// A claimed run not finished after this long is taken over by another instance.
    pub lease_minutes: u32,
    /// How often the scheduler looks at the clock.
    pub poll_ms: u64,
    pub reminders: JobSettings,
    pub expire_verifications: JobSettings,
    pub no_shows: JobSettings,
    pub retention: JobSettings,
    pub daily_stats: JobSettings,
    /// Off unless a schedule is given (SQLite only).
    #[serde(default)]
    pub backup: OptionalJobSettings,
}

/// A job that runs only when given a schedule (an empty one: off).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionalJobSettings {
    #[serde(default, deserialize_with = "optional_schedule")]
    pub schedule: Option<CronSchedule>,
}

fn optional_schedule<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CronSchedule>, D::Error> {
    let raw = String::deserialize(d)?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(serde::de::Error::custom)
}

/// Where scheduled backups go and how many are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    pub dir: String,
    pub keep: u32,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            dir: "var/backups".into(),
            keep: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitlistSettings {
    /// How long a freed seat is held for the resident it is offered to.
    pub offer_minutes: u32,
    /// How often holds and offers that ran out end, offers pass on and released phone seats
    /// are offered.
    pub sweep_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondVisitSettings {
    /// Visit 2 may be booked from this many days after visit 1 was completed…
    pub min_days_after: u32,
    /// …up to this many days after.
    pub max_days_after: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Personal data of visits older than this many days is erased.
    pub days: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub from: String,
    pub file_dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: String,
    /// A file holding the password (one line; it wins over `smtp_password`), so that the
    /// password stays out of the configuration and the environment.
    #[serde(default)]
    pub smtp_password_file: String,
    /// A PEM file of the certificate authority to trust for the relay (a city's own CA);
    /// empty: the public roots (Mozilla's, built in).
    #[serde(default)]
    pub smtp_ca_file: String,
    pub smtp_timeout_seconds: u64,
    pub worker: bool,
    pub poll_interval_ms: u64,
    pub batch_size: u32,
    pub max_attempts: u32,
    pub retry_base_seconds: u32,
    pub retry_max_seconds: u32,
    pub lease_seconds: u32,
    /// Messages in flight at once (SMTP connections).
    pub concurrency: u32,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the SMTP password.
        f.debug_struct("MailSettings")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password_file", &self.smtp_password_file)
            .field("smtp_ca_file", &self.smtp_ca_file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    pub year_end_start: String,
    pub year_end_end: String,
    #[serde(default)]
    pub extra_holidays: BTreeSet<NaiveDate>,
    #[serde(default)]
    pub not_holidays: BTreeSet<NaiveDate>,
    /// How often the days kept in memory are checked against the database for changes made
    /// by other processes (another instance, the command line); 0: never (one process alone).
    #[serde(default = "default_watch_ms")]
    pub watch_ms: u64,
}

fn default_watch_ms() -> u64 {
    50
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterSettings {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub address: String,
    #[serde(default)]
    pub phone: String,
    pub timezone: String,
    pub slot_minutes: u32,
    pub capacity_per_slot: u32,
    pub weekday_hours: HoursSettings,
    #[serde(default)]
    pub holiday_hours: Option<HoursSettings>,
    #[serde(default)]
    pub holiday_issuance_dates: BTreeSet<NaiveDate>,
    #[serde(default)]
    pub closure_dates: BTreeSet<NaiveDate>,
    /// Overrides `booking.phone_seats_per_slot` for this counter.
    #[serde(default)]
    pub phone_seats_per_slot: Option<u32>,
    /// Overrides `booking.phone_release_days` for this counter.
    #[serde(default)]
    pub phone_release_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSettings {
    #[serde(deserialize_with = "de_hhmm")]
    pub opens: NaiveTime,
    #[serde(deserialize_with = "de_hhmm")]
    pub closes: NaiveTime,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureSettings {
    pub id: String,
    pub name: String,
    pub name_en: String,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub notes_en: Vec<String>,
    pub applicants: ApplicantsSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantsSettings {
    pub holder: ApplicantSettings,
    pub legal_representative: ApplicantSettings,
    pub voluntary_proxy: ApplicantSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantSettings {
    pub visits: u32,
    pub requirements: Vec<String>,
    /// What to bring at the second visit (a voluntary proxy's), when it differs.
    #[serde(default)]
    pub second_visit_requirements: Vec<String>,
    #[serde(default)]
    pub visit_note: Option<String>,
    #[serde(default)]
    pub visit_note_en: Option<String>,
}

fn de_hhmm<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    let raw = String::deserialize(d)?;
    parse_hhmm(&raw).map_err(serde::de::Error::custom)
}

pub fn parse_hhmm(raw: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .map_err(|_| format!("{raw:?} is not a local time HH:MM"))
}

/// Parses `MM-DD` into (month, day).
pub fn parse_month_day(raw: &str) -> Result<(u32, u32), String> {
    let err = || format!("{raw:?} is not a month-day MM-DD");
    let (m, d) = raw.trim().split_once('-').ok_or_else(err)?;
    let (m, d): (u32, u32) = (m.parse().map_err(|_| err())?, d.parse().map_err(|_| err())?);
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, m, d).ok_or_else(err)?;
    Ok((m, d))
}

/// Where the settings come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Folder with `default.toml` / `procedures.toml` layered over the embedded copies
    /// (`config/` in the working folder by default; absent files are skipped).
    pub config_dir: Option<PathBuf>,
    /// A city's own file, layered over the defaults; it must exist.
    pub file: Option<PathBuf>,
    /// Read `MADOGUCHI__…` variables (off in tests).
    pub env: bool,
}

impl Sources {
    /// What `load` reads, in order, as `check-config` names it: the built-in defaults, the
    /// files on disk that exist, the city's file, and the `MADOGUCHI__…` variables set.
    pub fn describe(&self) -> String {
        let mut read = vec!["built-in defaults".to_string()];
        if let Some(dir) = &self.config_dir {
            for name in ["default.toml", "procedures.toml"] {
                let path = dir.join(name);
                if path.is_file() {
                    read.push(path.display().to_string());
                }
            }
        }
        if let Some(file) = &self.file {
            read.push(file.display().to_string());
        }
        if self.env {
            let set = std::env::vars_os()
                .filter(|(k, _)| k.to_string_lossy().starts_with(ENV_PREFIX))
                .count();
            if set > 0 {
                read.push(format!("{set} {ENV_PREFIX}… variable(s)"));
            }
        }
        read.join(", ")
    }

    pub fn standard(file: Option<PathBuf>) -> Self {
        Sources {
            config_dir: Some(PathBuf::from("config")),
            file,
            env: true,
        }
    }
}

impl Settings {
    pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
        let mut figment = Figment::new()
            .merge(Toml::string(EMBEDDED_DEFAULTS))
            .merge(Toml::string(EMBEDDED_PROCEDURES));
        if let Some(dir) = &sources.config_dir {
            // Files on disk are optional here: the embedded copies stand in for absent ones.
            for name in ["default.toml", "procedures.toml"] {
                let path = dir.join(name);
                if path.is_file() {
                    figment = figment.merge(Toml::file_exact(path));
                }
            }
        }
        if let Some(file) = &sources.file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file.clone()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        if sources.env {
            figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The last lines of every mail: who sent it and how to reach them.
    pub fn mail_footer(&self) -> String {
        let mut lines = vec![format!("{} マイナンバー特設窓口", self.city_name)];
        for c in &self.counters {
            if c.phone.is_empty() {
                lines.push(c.name.clone());
            } else {
                lines.push(format!("{}(電話 {})", c.name, c.phone));
            }
        }
        lines.push("このメールは送信専用です。/ This address does not receive replies.".into());
        lines.join("\n")
    }

    /// Who may sign in as staff, from where and with what, in one line (`check-config`): what
    /// a city's security officer asks first.
    pub fn sign_in_summary(&self) -> String {
        let st = &self.staff;
        let second = if st.require_totp_for.is_empty() {
            "no role must use a second factor".to_string()
        } else {
            format!(
                "a second factor (TOTP) for {}",
                st.require_totp_for.join(", ")
            )
        };
        let networks = match &st.allowed_networks {
            NetworksByRole::Everyone(list) if list.is_empty() => "from any network".to_string(),
            NetworksByRole::Everyone(list) => format!("only from {}", list.join(", ")),
            NetworksByRole::PerRole(map) => map
                .iter()
                .map(|(role, list)| format!("{role} only from {}", list.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let idle = match st.idle_minutes {
            0 => "no idle timeout".to_string(),
            m => format!("idle sessions end after {m} min"),
        };
        let proxies = if self.server.trusted_proxies.is_empty() {
            "X-Forwarded-For ignored".to_string()
        } else {
            format!(
                "X-Forwarded-For believed from {}",
                self.server.trusted_proxies.join(", ")
            )
        };
        format!(
            "staff sign-in: {second}; {networks}; {idle}, sessions last {h} h, at most {n} per \
             account; {proxies}",
            h = st.session_hours,
            n = st.max_sessions,
        )
    }

    /// The defaults alone (embedded copies), for tests and tools.
    pub fn defaults() -> Result<Settings, ConfigError> {
        Settings::load(&Sources::default())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut check = Checks::default();
        self.check_service(&mut check);
        self.check_networks(&mut check);
        self.check_booking(&mut check);
        self.check_counters(&mut check);
        self.check_procedures(&mut check);
        if check.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(check.errors))
        }
    }

    /// Scheduled backups: SQLite only, and at least one kept.
    fn check_backup(&self, check: &mut Checks) {
        let postgres = {
            let url = self.database.url.trim().to_ascii_lowercase();
            url.starts_with("postgres://") || url.starts_with("postgresql://")
        };
        check.that(
            !(postgres && self.jobs.backup.schedule.is_some()),
            "jobs.backup.schedule: scheduled backups copy the SQLite file; on PostgreSQL use \
             pg_dump (docs/operations.md, Backups) and leave the schedule empty"
                .to_string(),
        );
        check.that(
            self.backup.keep >= 1,
            "backup.keep: keep at least 1 backup".to_string(),
        );
    }

    /// The waiting-room screen's languages (Japanese first, each one it has words for) and
    /// the ticket pages' limits.
    fn check_queue(&self, check: &mut Checks) {
        let q = &self.queue;
        check.that(
            q.display_languages.first().map(String::as_str) == Some("ja"),
            "queue.display_languages: must start with \"ja\" (Japanese first)".into(),
        );
        for lang in &q.display_languages {
            check.that(
                DISPLAY_LANGUAGES.contains(&lang.as_str()),
                format!(
                    "queue.display_languages: {lang:?} is not one of {}",
                    DISPLAY_LANGUAGES.join(", ")
                ),
            );
        }
        check.that(
            q.ticket_streams_per_address >= 1,
            "queue.ticket_streams_per_address: must be at least 1".into(),
        );
        check.that(
            (100..=60_000).contains(&q.ticket_board_ms),
            "queue.ticket_board_ms: must be between 100 and 60000".into(),
        );
    }

    /// The server, database, mail, clock, retention, waiting list, second visit and log.
    fn check_service(&self, check: &mut Checks) {
        self.check_backup(check);
        check.that(
            self.public_url.starts_with("http://") || self.public_url.starts_with("https://"),
            format!(
                "public_url: {:?} must start with http:// or https://",
                self.public_url
            ),
        );
        check.that(
            self.server.bind.parse::<std::net::SocketAddr>().is_ok()
                || self
                    .server
                    .bind
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok()),
            format!("server.bind: {:?} is not host:port", self.server.bind),
        );
        check.that(
            self.server.max_body_bytes >= 1024,
            "server.max_body_bytes: must be at least 1024".into(),
        );
        check.that(
            !self.database.url.trim().is_empty(),
            "database.url: must not be empty".into(),
        );
        if let Some((scheme, _)) = self.database.url.trim().split_once("://") {
            check.that(
                ["sqlite", "postgres", "postgresql"].contains(&scheme.to_ascii_lowercase().as_str()),
                format!(
                    "database.url: {scheme}:// is not supported; use a file path (or sqlite://path) for SQLite or postgres://… for PostgreSQL"
                ),
            );
        }
        check.that(
            (1..=256).contains(&self.database.pool_size),
            "database.pool_size: must be between 1 and 256".into(),
        );
        check.that(
            (1..=10_000).contains(&self.database.write_group_max),
            "database.write_group_max: must be between 1 and 10000".into(),
        );
        check.that(
            (1..=256).contains(&self.mail.concurrency),
            "mail.concurrency: must be between 1 and 256".into(),
        );
        if let Err(e) = self.clock.rehearsal_start() {
            check.fail(e);
        }
        check.that(
            self.retention.days >= 1,
            "retention.days: must be at least 1".into(),
        );
        self.check_queue(check);
        check.that(
            self.waitlist.offer_minutes >= 1,
            "waitlist.offer_minutes: must be at least 1".into(),
        );
        check.that(
            self.second_visit.min_days_after <= self.second_visit.max_days_after,
            "second_visit.min_days_after: must not be after second_visit.max_days_after".into(),
        );
        check.that(
            self.log
                .filter
                .parse::<tracing_subscriber::EnvFilter>()
                .is_ok(),
            format!("log.filter: {:?} is not a tracing filter", self.log.filter),
        );
    }

    /// The network lists and the roles they name.
    fn check_networks(&self, check: &mut Checks) {
        if let Err(e) = parse_networks(&self.server.trusted_proxies) {
            check.fail(format!("server.trusted_proxies: {e}"));
        }
        if let Err(e) = parse_networks(&self.metrics.allowed_networks) {
            check.fail(format!("metrics.allowed_networks: {e}"));
        }
        // The roles of `staff::Role` (config sits below staff, so it names them itself).
        const ROLES: [&str; 4] = ["phone", "desk", "admin", "kiosk"];
        match &self.staff.allowed_networks {
            NetworksByRole::Everyone(list) => {
                if let Err(e) = parse_networks(list) {
                    check.fail(format!("staff.allowed_networks: {e}"));
                }
            }
            NetworksByRole::PerRole(map) => {
                for (role, list) in map {
                    check.that(
                        ROLES.contains(&role.as_str()),
                        format!(
                            "staff.allowed_networks: {role:?} is not a role ({})",
                            ROLES.join(", ")
                        ),
                    );
                    if let Err(e) = parse_networks(list) {
                        check.fail(format!("staff.allowed_networks.{role}: {e}"));
                    }
                }
            }
        }
        for role in &self.staff.require_totp_for {
            check.that(
                ROLES.contains(&role.as_str()),
                format!(
                    "staff.require_totp_for: {role:?} is not a role ({})",
                    ROLES.join(", ")
                ),
            );
        }
    }

    fn check_booking(&self, check: &mut Checks) {
        let b = &self.booking;
        check.that(
            (1..=12).contains(&b.months_ahead),
            "booking.months_ahead: must be 1 to 12".into(),
        );
        check.that(
            (1..=28).contains(&b.opening_day),
            "booking.opening_day: must be 1 to 28".into(),
        );
        check.that(
            b.closing_days_before <= 60,
            "booking.closing_days_before: must be 0 to 60".into(),
        );
        check.that(
            (1..=366).contains(&b.max_days_per_request),
            "booking.max_days_per_request: must be 1 to 366".into(),
        );
        check.that(
            b.max_active_per_email >= 1,
            "booking.max_active_per_email: must be at least 1".into(),
        );
        check.that(
            b.fair_start_seconds <= 300,
            "booking.fair_start_seconds: must be 0 to 300".into(),
        );
        check.that(
            (1..=10).contains(&b.max_party_size),
            "booking.max_party_size: must be 1 to 10".into(),
        );
        check.that(
            (1..=60).contains(&b.hold_minutes),
            "booking.hold_minutes: must be 1 to 60".into(),
        );
        check.that(
            b.holds_per_client >= 1,
            "booking.holds_per_client: must be at least 1".into(),
        );
        for (key, raw) in [
            ("calendar.year_end_start", &self.calendar.year_end_start),
            ("calendar.year_end_end", &self.calendar.year_end_end),
        ] {
            if let Err(e) = parse_month_day(raw) {
                check.fail(format!("{key}: {e}"));
            }
        }
    }

    fn check_counters(&self, check: &mut Checks) {
        check.that(
            !self.counters.is_empty(),
            "counters: at least one counter is needed".into(),
        );
        let mut ids = BTreeSet::new();
        for (i, c) in self.counters.iter().enumerate() {
            let key = format!("counters[{i}] ({})", c.id);
            check.that(
                is_slug(&c.id),
                format!("{key}.id: must be a slug of a-z, 0-9 and -"),
            );
            check.that(ids.insert(c.id.clone()), format!("{key}.id: appears twice"));
            check.that(
                chrono_tz::Tz::from_str(&c.timezone).is_ok(),
                format!("{key}.timezone: {:?} is not an IANA time zone", c.timezone),
            );
            check.that(
                (5..=240).contains(&c.slot_minutes),
                format!("{key}.slot_minutes: must be 5 to 240"),
            );
            check.that(
                (1..=1000).contains(&c.capacity_per_slot),
                format!("{key}.capacity_per_slot: must be 1 to 1000"),
            );
            for (name, hours) in [
                ("weekday_hours", Some(c.weekday_hours)),
                ("holiday_hours", c.holiday_hours),
            ] {
                if let Some(h) = hours {
                    check.that(
                        h.opens < h.closes,
                        format!("{key}.{name}: opens must be before closes"),
                    );
                }
            }
            check.that(
                c.holiday_issuance_dates.is_empty() || c.holiday_hours.is_some(),
                format!("{key}.holiday_issuance_dates: needs holiday_hours"),
            );
        }
    }

    fn check_procedures(&self, check: &mut Checks) {
        let mut proc_ids = BTreeSet::new();
        for (i, p) in self.procedures.iter().enumerate() {
            let key = format!("procedures[{i}] ({})", p.id);
            check.that(
                is_slug(&p.id),
                format!("{key}.id: must be a slug of a-z, 0-9 and -"),
            );
            check.that(
                proc_ids.insert(p.id.clone()),
                format!("{key}.id: appears twice"),
            );
            for (name, a) in [
                ("holder", &p.applicants.holder),
                ("legal_representative", &p.applicants.legal_representative),
                ("voluntary_proxy", &p.applicants.voluntary_proxy),
            ] {
                check.that(
                    (1..=5).contains(&a.visits),
                    format!("{key}.applicants.{name}.visits: must be 1 to 5"),
                );
            }
        }
        check.that(
            !self.procedures.is_empty(),
            "procedures: at least one procedure is needed".into(),
        );
    }
}

/// The problems found so far, each naming its key.
#[derive(Default)]
struct Checks {
    errors: Vec<String>,
}

impl Checks {
    fn that(&mut self, ok: bool, msg: String) {
        if !ok {
            self.errors.push(msg);
        }
    }

    fn fail(&mut self, msg: String) {
        self.errors.push(msg);
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// One line per error: the dotted key as written in default.toml, what is wrong, where from.
/// Serde's words for the types it expected, in a city administrator's words.
fn humanise_types(message: &str) -> String {
    let mut out = message.to_string();
    for (rust, words) in [
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number (0 to 65535)"),
        ("expected i64", "expected a number"),
        ("expected i32", "expected a number"),
        ("expected bool", "expected true or false"),
        ("expected a boolean", "expected true or false"),
    ] {
        out = out.replace(rust, words);
    }
    out
}

fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = e
                .path
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(".");
            let from = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(figment::Source::File(path)) => path.display().to_string(),
                    Some(figment::Source::Code(_)) | None => match m.name.as_ref() {
                        "TOML source string" => "the built-in defaults".to_string(),
                        other => other.to_string(),
                    },
                    Some(other) => other.to_string(),
                })
                .unwrap_or_else(|| "the built-in defaults".into());
            let what = humanise_types(&e.kind.to_string());
            if key.is_empty() {
                format!("{what} (in {from})")
            } else {
                format!("{key}: {what} (in {from})")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_valid_and_omihachimans() {
        let s = Settings::defaults().expect("defaults load");
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        let ids: Vec<_> = s.counters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["city-hall", "azuchi"]);
        assert_eq!(s.counters[0].capacity_per_slot, 3);
        assert_eq!(s.counters[1].capacity_per_slot, 1);
        let procs: Vec<_> = s.procedures.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            procs,
            [
                "pin-reset",
                "pin-change",
                "cert-renewal",
                "cert-new",
                "face-auth-switch"
            ]
        );
        assert!(s
            .procedures
            .iter()
            .all(|p| p.applicants.voluntary_proxy.visits == 2));
    }

    #[test]
    fn the_files_on_disk_match_the_embedded_copies() {
        // The Dockerfile and `--config` users read config/; the binary embeds the same text.
        let on_disk = std::fs::read_to_string("config/default.toml").expect("config/default.toml");
        assert_eq!(on_disk, EMBEDDED_DEFAULTS);
    }

    #[test]
    fn the_catalogue_names_the_id_documents_that_count_now() {
        // New health insurance cards are no longer issued since 2 December 2024; the
        // certificate of eligibility (資格確認書) replaced them as an ID document.
        let s = Settings::defaults().expect("defaults");
        for p in &s.procedures {
            for t in crate::catalogue::ApplicantType::ALL {
                for r in &p.applicant(*t).requirements {
                    let names_old_card_as_id =
                        r.contains("健康保険証など") || r.contains("、健康保険証");
                    assert!(!names_old_card_as_id, "{} {t}: {r}", p.id);
                }
            }
        }
        let text = EMBEDDED_PROCEDURES;
        assert!(text.contains("資格確認書"));
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let mut s = Settings::defaults().expect("defaults");
        s.counters[0].timezone = "Mars/Olympus".into();
        s.booking.opening_day = 31;
        let msg = s.validate().expect_err("invalid").to_string();
        assert!(msg.contains("counters[0] (city-hall).timezone"), "{msg}");
        assert!(msg.contains("booking.opening_day"), "{msg}");
    }

    fn city_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("city.toml");
        std::fs::write(&path, text).expect("write city file");
        (dir, path)
    }

    #[test]
    fn a_city_file_that_lists_counters_replaces_the_default_ones() {
        let (_dir, path) = city_file(
            r#"
city_name = "大東市"
[[counters]]
id = "main"
name = "大東市役所 市民課"
address = "大阪府大東市谷川1-1-1"
timezone = "Asia/Tokyo"
slot_minutes = 20
capacity_per_slot = 2
weekday_hours = { opens = "09:00", closes = "17:00" }
"#,
        );
        let s = Settings::load(&Sources {
            file: Some(path),
            ..Sources::default()
        })
        .expect("loads");
        let ids: Vec<&str> = s.counters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["main"], "replaced, not appended");
        assert_eq!(s.city_name, "大東市");
        assert_eq!(s.procedures.len(), 5, "the catalogue stays");
    }

    #[test]
    fn a_config_error_names_the_file_and_the_key_in_plain_words() {
        let (_dir, path) = city_file("[server]\nworkers = \"lots\"\n");
        let e = Settings::load(&Sources {
            file: Some(path.clone()),
            ..Sources::default()
        })
        .expect_err("a string for a number")
        .to_string();
        assert!(e.contains("server.workers"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("expected a whole number"), "{e}");
        assert!(!e.contains("usize"), "{e}");
    }

    #[test]
    fn an_unknown_database_scheme_is_refused() {
        let mut s = Settings::defaults().expect("defaults");
        s.database.url = "mysql://root@localhost/madoguchi".into();
        let e = s.validate().expect_err("mysql").to_string();
        assert!(e.contains("database.url: mysql:// is not supported"), "{e}");
        for ok in [
            "var/x.sqlite3",
            "sqlite://var/x.db",
            "postgres://u@h/db",
            "postgresql://h/db",
        ] {
            s.database.url = ok.into();
            assert!(s.validate().is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_rehearsal_start_must_be_rfc3339() {
        let c = ClockSettings {
            start: "2026-12-01 noon".into(),
        };
        assert!(c.rehearsal_start().unwrap_err().starts_with("clock.start"));
        let c = ClockSettings {
            start: "2026-12-01T11:59:58+09:00".into(),
        };
        assert!(c.rehearsal_start().unwrap().is_some());
    }

    #[test]
    fn month_days_are_checked() {
        assert_eq!(parse_month_day("12-29"), Ok((12, 29)));
        assert!(parse_month_day("13-01").is_err());
        assert!(parse_month_day("1229").is_err());
    }
}
