use crate::helpers::TestDb;
use diesel::connection::SimpleConnection;
use madoguchi::config::Settings;
use madoguchi::{revert_migrations, run_migrations, Db};

#[test]
fn migrations_run_up_down_up() {
    let test_db = TestDb::create();
    let mut settings = Settings::defaults().unwrap().database;
    settings.url = test_db.url().to_string();
    let db = Db::connect(&settings).expect("connects");
    let mut conn = db.get().expect("connection");
    let up = run_migrations(&mut conn).expect("up");
    assert!(!up.is_empty());
    conn.batch_execute("SELECT id, booked, capacity FROM slots")
        .expect("slots exists after up");
    let down = revert_migrations(&mut conn).expect("down");
    assert_eq!(down.len(), up.len());
    assert!(
        conn.batch_execute("SELECT id FROM slots").is_err(),
        "slots is gone after down"
    );
    let again = run_migrations(&mut conn).expect("up again");
    assert_eq!(again, up);
    assert!(run_migrations(&mut conn)
        .expect("nothing pending")
        .is_empty());
}

/// Instances starting together on a fresh database: each one's migrations succeed, and they
/// are applied once (on PostgreSQL they take turns under an advisory lock; SQLite's file lock
/// serialises them anyway).
#[test]
fn instances_migrating_at_once_all_start() {
    let test_db = TestDb::create();
    let mut settings = Settings::defaults().unwrap().database;
    settings.url = test_db.url().to_string();
    let applied: Vec<Result<Vec<String>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let settings = settings.clone();
                scope.spawn(move || {
                    let db = Db::connect(&settings).map_err(|e| e.to_string())?;
                    let mut conn = db.get().map_err(|e| format!("{e:?}"))?;
                    run_migrations(&mut conn)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let mut names: Vec<&String> = Vec::new();
    for result in &applied {
        names.extend(
            result
                .as_ref()
                .expect("every instance's migrations succeed"),
        );
    }
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        total,
        "each migration applied once: {applied:?}"
    );
    let db = Db::connect(&settings).expect("connects");
    let mut conn = db.get().expect("connection");
    assert!(run_migrations(&mut conn).expect("nothing").is_empty());
    assert!(total > 0, "{applied:?}");
    conn.batch_execute("SELECT id FROM tickets")
        .expect("tables exist");
}

/// The newest migration reverted and applied again from the command line, as
/// `docs/operations.md` describes for an upgrade that did not apply cleanly.
#[test]
fn the_newest_migration_is_reverted_and_applied_again_from_the_command_line() {
    let test_db = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = crate::cli::madoguchi(dir.path())
            .env("MADOGUCHI__DATABASE__URL", test_db.url())
            .args(args)
            .output()
            .expect("madoguchi runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, said) = run(&["migrate"]);
    assert!(
        ok && said.contains("applied ") && !said.contains("applied 0 "),
        "{said}"
    );
    let (ok, said) = run(&["migrate", "--revert-last"]);
    assert!(ok && said.contains("reverted migration 2"), "{said}");
    let (ok, said) = run(&["migrate"]);
    assert!(ok && said.contains("applied 1 migration(s)"), "{said}");
    let (ok, said) = run(&["audit", "verify"]);
    assert!(ok && said.starts_with("ok: 0 entries chained"), "{said}");
}
