use crate::helpers::TestDb;
use diesel::connection::SimpleConnection;
use madoguchi::config::Settings;
use madoguchi::db::{revert_migrations, run_migrations, Db};

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
