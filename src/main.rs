//! `madoguchi serve` (the default), `madoguchi migrate`, `madoguchi check-config`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use madoguchi::config::{Settings, Sources};
use madoguchi::startup::{self, Application};
use madoguchi::telemetry;

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
    /// Run the HTTP service (applies pending migrations first). The default.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Revert every migration instead (drops all data).
        #[arg(long)]
        revert_all: bool,
    },
    /// Load and validate the configuration, print a summary, exit.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&Sources::standard(cli.config.clone())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("madoguchi: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate { revert_all } => migrate(&settings, revert_all),
        Command::CheckConfig => {
            println!(
                "configuration is valid: {} counter(s), {} procedure(s), database {}",
                settings.counters.len(),
                settings.procedures.len(),
                madoguchi::db::describe_url(&settings.database.url)
            );
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
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn migrate(settings: &Settings, revert_all: bool) -> anyhow::Result<()> {
    let db = madoguchi::db::Db::connect(&settings.database)?;
    if revert_all {
        let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
        let reverted = madoguchi::db::revert_migrations(&mut conn).map_err(anyhow::Error::msg)?;
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
