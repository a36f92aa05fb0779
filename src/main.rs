//! `madoguchi serve` (the default), `madoguchi migrate`, `madoguchi check-config`, `staff`,
//! `backup`, `restore`, `audit verify`, `lottery verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use madoguchi::config::{Settings, Sources};
use madoguchi::startup::{self, Application};
use madoguchi::telemetry;
use madoguchi::Tx;

#[derive(Parser)]
#[command(
    name = "madoguchi",
    version,
    about = "Booking backend for the My Number card special counter (マイナンバー特設窓口)"
)]
struct Cli {
    /// A city's configuration file, layered over config/default.toml.
    #[arg(long, global = true, env = "MADOGUCHI_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (applies pending migrations first); what runs when no command is
    /// given.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Revert every migration instead (drops all data).
        #[arg(long, conflicts_with = "revert_last")]
        revert_all: bool,
        /// Revert the newest migration only (drops what it added; the service applies it again
        /// at its next start).
        #[arg(long)]
        revert_last: bool,
    },
    /// Load and validate the configuration, print a summary, exit.
    CheckConfig,
    /// Staff accounts (the first admin is made here).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// A consistent copy of the SQLite database, taken while the service runs and serves
    /// (PostgreSQL: prints the pg_dump command to use instead).
    Backup {
        /// The new file (it must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Put a backup in place of the configured SQLite database, after checking it (stop the
    /// service first; it applies any newer migrations when it starts).
    Restore {
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Replace an existing database (kept beside it as <name>.replaced).
        #[arg(long)]
        force: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Lotteries (抽選予約).
    Lottery {
        #[command(subcommand)]
        command: LotteryCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain from its first entry: prints `ok` with the count and the head hash
    /// (keep it: a later run must still reach it), or the first entry that does not match
    /// (exit status 1).
    Verify {
        /// A head printed by an earlier run: the chain must still pass through it.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
}

#[derive(Subcommand)]
enum LotteryCommand {
    /// Run a drawn lottery's draw again from its revealed seed and stored entries; prints
    /// `match` or the first difference (exit status 1).
    Verify {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create an account; the password is read from standard input (one line).
    Add {
        #[arg(long)]
        login: String,
        /// phone, desk, admin or kiosk
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// A kiosk's counter (required with `--role kiosk`).
        #[arg(long)]
        counter: Option<String>,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account and end its sessions.
    Disable {
        #[arg(long)]
        login: String,
    },
    /// Remove an account's second factor (a lost phone and lost recovery codes) and end its
    /// sessions; it sets up an authenticator again at its next sign-in.
    ResetTotp {
        #[arg(long)]
        login: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = Sources::standard(cli.config.clone());
    let settings = match Settings::load(&sources) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("madoguchi: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate {
            revert_all,
            revert_last,
        } => migrate(&settings, revert_all, revert_last),
        Command::Staff { command } => staff(&settings, command),
        Command::Audit {
            command: AuditCommand::Verify { expect_head },
        } => return verify_audit(&settings, expect_head.as_deref()),
        Command::Backup { to } => return backup(&settings, &to),
        Command::Restore { from, force } => return restore(&settings, &from, force),
        Command::Lottery {
            command: LotteryCommand::Verify { id },
        } => return verify_lottery(&settings, &id),
        Command::CheckConfig => {
            println!("read: {}", sources.describe());
            println!(
                "configuration is valid: {} counter(s), {} procedure(s), database {}",
                settings.counters.len(),
                settings.procedures.len(),
                madoguchi::describe_url(&settings.database.url)
            );
            println!(
                "city: {}, public URL {}, mail {}",
                settings.city_name,
                settings.public_url,
                match settings.mail.transport {
                    madoguchi::config::MailTransportKind::File =>
                        format!("to files in {}", settings.mail.file_dir.display()),
                    madoguchi::config::MailTransportKind::Smtp => format!(
                        "by SMTP to {}:{}",
                        settings.mail.smtp_host, settings.mail.smtp_port
                    ),
                }
            );
            println!(
                "booking: {} seat(s) a slot held for phone bookings, at most {} active per address",
                settings.booking.phone_seats_per_slot, settings.booking.max_active_per_email
            );
            println!("{}", settings.sign_in_summary());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("madoguchi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let clock = startup::clock_from_settings(&settings)?;
        let app = Application::build(settings, clock).await?;
        app.run_until_signalled().await?;
        Ok(())
    })
}

fn migrate(settings: &Settings, revert_all: bool, revert_last: bool) -> anyhow::Result<()> {
    let db = madoguchi::Db::connect(&settings.database)?;
    if revert_last {
        let mut conn = db.get()?;
        let reverted = madoguchi::revert_last_migration(&mut conn).map_err(anyhow::Error::msg)?;
        println!("reverted migration {reverted} on {}", db.target());
    } else if revert_all {
        let mut conn = db.get()?;
        let reverted = madoguchi::revert_migrations(&mut conn).map_err(anyhow::Error::msg)?;
        println!(
            "reverted {} migration(s) on {}",
            reverted.len(),
            db.target()
        );
    } else {
        let applied = db.migrate()?;
        println!("applied {} migration(s) on {}", applied.len(), db.target());
    }
    Ok(())
}

/// Exit status 2 when the database is PostgreSQL (nothing was done; the message says what to run).
fn backup_failed(e: madoguchi::BackupError) -> ExitCode {
    eprintln!("madoguchi: {e}");
    match e {
        madoguchi::BackupError::Postgres { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

fn backup(settings: &Settings, to: &std::path::Path) -> ExitCode {
    match madoguchi::backup(&settings.database, to) {
        Ok(copied) => {
            println!(
                "backed up {} to {copied}",
                madoguchi::describe_url(&settings.database.url)
            );
            ExitCode::SUCCESS
        }
        Err(e) => backup_failed(e),
    }
}

fn restore(settings: &Settings, from: &std::path::Path, force: bool) -> ExitCode {
    match madoguchi::restore(&settings.database, from, force) {
        Ok(restored) => {
            println!(
                "restored {} (integrity ok) to {}",
                from.display(),
                restored.contents
            );
            if let Some(kept) = restored.replaced {
                println!("the replaced database is kept as {}", kept.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => backup_failed(e),
    }
}

fn verify_audit(settings: &Settings, expect_head: Option<&str>) -> ExitCode {
    // Read only: no migrations applied by a check.
    let verdict = madoguchi::Db::connect(&settings.database)
        .map_err(anyhow::Error::from)
        .and_then(|db| {
            let mut conn = db.get()?;
            madoguchi::verify_audit(&mut conn, expect_head)
                .map_err(|e| anyhow::anyhow!("{e} (is the database migrated? `madoguchi migrate`)"))
        });
    match verdict {
        Ok(madoguchi::ChainVerdict::Intact {
            entries,
            erased,
            unlinked,
            head,
        }) => {
            println!(
                "ok: {entries} entries chained ({erased} with personal data erased by retention, \
                 {unlinked} not yet linked), head {head}"
            );
            ExitCode::SUCCESS
        }
        Ok(madoguchi::ChainVerdict::Broken { seq, id, what }) => {
            if id.is_empty() {
                println!("broken at entry {seq}: {what}");
            } else {
                println!("broken at entry {seq} ({id}): {what}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("madoguchi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn verify_lottery(settings: &Settings, id: &str) -> ExitCode {
    let verdict = startup::connect_and_migrate(settings).and_then(|db| {
        let mut conn = db.get()?;
        Ok(madoguchi::verify_lottery(&mut conn, id)?)
    });
    match verdict {
        Ok(madoguchi::Verdict::Match { entries, won }) => {
            println!("match: {entries} entries, {won} won");
            ExitCode::SUCCESS
        }
        Ok(madoguchi::Verdict::Differs(what)) => {
            println!("difference: {what}");
            ExitCode::FAILURE
        }
        Ok(madoguchi::Verdict::NotDrawn) => {
            eprintln!("madoguchi: lottery {id} is not drawn (or does not exist)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("madoguchi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn staff(settings: &Settings, command: StaffCommand) -> anyhow::Result<()> {
    use madoguchi::list_staff;
    use madoguchi::{create_staff, disable_staff, prepare_staff, reset_totp, NewStaff};

    let db = startup::connect_and_migrate(settings)?;
    let mut conn = db.get()?;
    let now = startup::clock_from_settings(settings)?.now();
    let describe = |e: madoguchi::StaffError| match e {
        madoguchi::StaffError::Invalid(invalid) => anyhow::anyhow!(
            "{}",
            invalid
                .errors
                .iter()
                .map(|f| format!(
                    "{}: {}",
                    f.field,
                    f.problem.message(madoguchi::error::Lang::En)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    };
    match command {
        StaffCommand::Add {
            login,
            role,
            display_name,
            counter,
            password_stdin: _,
        } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            let display_name = display_name.unwrap_or_else(|| login.clone());
            if let Some(c) = counter.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                if !settings.counters.iter().any(|k| k.id == c) {
                    anyhow::bail!("--counter {c:?}: no such counter in the configuration");
                }
            }
            let row = prepare_staff(
                NewStaff {
                    login,
                    display_name,
                    role,
                    password,
                    counter,
                },
                &settings.staff,
                now,
            )
            .map_err(describe)?;
            let row =
                Tx::run(&mut conn, |tx| create_staff(tx, row, "cli", now)).map_err(describe)?;
            println!("created {} ({})", row.login, row.role);
        }
        StaffCommand::List => {
            for s in list_staff(&mut conn)? {
                let state = if s.disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{}\t{}", s.login, s.role, state, s.display_name);
            }
        }
        StaffCommand::Disable { login } => {
            Tx::run(&mut conn, |tx| disable_staff(tx, &login, "cli", now)).map_err(describe)?;
            println!("disabled {login}");
        }
        StaffCommand::ResetTotp { login } => {
            Tx::run(&mut conn, |tx| reset_totp(tx, &login, "cli", now)).map_err(describe)?;
            println!("second factor removed for {login}; its sessions ended");
        }
    }
    Ok(())
}
