//! The ceilings every figure is compared with, measured in the same run on the same machine:
//! the raw database rate of the booking's shape of transaction, the SMTP listener's own rate,
//! and a bare actix-web server answering the same bytes from memory.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{client, free_port, read_load, smtp, Backend, BenchDb, MONTH};

/// Ceiling (a): the raw database rate of the booking's shape of transaction.
pub fn db_ceiling(backend: Backend, total: usize) -> f64 {
    let db = BenchDb::create(backend, "ceiling");
    db.execute(
        "CREATE TABLE slots (id TEXT PRIMARY KEY, capacity INTEGER NOT NULL, booked INTEGER NOT NULL);
         CREATE TABLE reservations (id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, slot_id TEXT NOT NULL, payload TEXT NOT NULL);",
    );
    let mut setup = String::new();
    for i in 0..810 {
        setup.push_str(&format!(
            "INSERT INTO slots VALUES ('slot-{i}', 1000000, 0);"
        ));
    }
    db.execute(&setup);
    if backend == Backend::Sqlite {
        // WAL once, before the writers: switching it from several connections at once can be
        // refused at once with "database is locked" (the busy timeout does not apply).
        db.execute("PRAGMA journal_mode = WAL;");
    }
    let threads = match backend {
        Backend::Sqlite => 4,
        Backend::Postgres => 8,
    };
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (url, done) = (db.url.clone(), done.clone());
            std::thread::spawn(move || {
                let payload = "x".repeat(200);
                let tx = |i: usize| {
                    format!(
                        "UPDATE slots SET booked = booked + 1 WHERE id = 'slot-{}' AND booked < capacity;
                         INSERT INTO reservations VALUES ('{}', '{}', 'slot-{}', '{payload}');",
                        i % 810,
                        uuid::Uuid::new_v4(),
                        &uuid::Uuid::new_v4().simple().to_string()[..12],
                        i % 810
                    )
                };
                match backend {
                    Backend::Sqlite => {
                        let mut c = SqliteConnection::establish(&url).expect("sqlite");
                        c.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;")
                            .expect("pragmas");
                        loop {
                            let i = done.fetch_add(1, Ordering::SeqCst);
                            if i >= total {
                                break;
                            }
                            c.batch_execute(&format!("BEGIN IMMEDIATE; {} COMMIT;", tx(i + t)))
                                .expect("tx");
                        }
                    }
                    Backend::Postgres => {
                        let mut c = PgConnection::establish(&url).expect("pg");
                        loop {
                            let i = done.fetch_add(1, Ordering::SeqCst);
                            if i >= total {
                                break;
                            }
                            c.batch_execute(&format!("BEGIN; {} COMMIT;", tx(i + t)))
                                .expect("tx");
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Reads one SMTP answer (its continuation lines included).
pub async fn answer(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).await.expect("answer");
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
}

/// Ceiling (b): the SMTP listener's own rate: 4 clients, one connection each, one write per
/// step (a client that waits for each answer never meets Nagle's algorithm).
pub async fn smtp_ceiling(per_client: usize) -> f64 {
    let sink = smtp::SmtpSink::start().await;
    let body = format!(
        "From: a@example.jp\r\nTo: b@example.jp\r\nSubject: x\r\n\r\n{}\r\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n".repeat(40)
    );
    let started = Instant::now();
    let clients = (0..4).map(|_| {
        let body = body.clone();
        let port = sink.port;
        tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (r, mut w) = stream.into_split();
            let mut r = BufReader::new(r);
            answer(&mut r).await;
            w.write_all(b"EHLO bench\r\n").await.unwrap();
            answer(&mut r).await;
            for _ in 0..per_client {
                w.write_all(b"MAIL FROM:<a@example.jp>\r\n").await.unwrap();
                answer(&mut r).await;
                w.write_all(b"RCPT TO:<b@example.jp>\r\n").await.unwrap();
                answer(&mut r).await;
                w.write_all(b"DATA\r\n").await.unwrap();
                answer(&mut r).await;
                w.write_all(format!("{body}.\r\n").as_bytes())
                    .await
                    .unwrap();
                answer(&mut r).await;
            }
        })
    });
    for c in clients.collect::<Vec<_>>() {
        c.await.expect("client");
    }
    (4 * per_client) as f64 / started.elapsed().as_secs_f64()
}

/// Ceiling (c): a bare actix-web server (its own process: this program re-run with
/// `--bare-server`) answering the month-view bytes from memory.
pub fn bare_server(port: u16, file: &str) {
    let body = actix_web::web::Bytes::from(std::fs::read(file).expect("body"));
    actix_web::rt::System::new().block_on(async move {
        actix_web::HttpServer::new(move || {
            let body = body.clone();
            actix_web::App::new().default_service(actix_web::web::to(move || {
                let body = body.clone();
                async move {
                    actix_web::HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(2)
        .bind(("127.0.0.1", port))
        .expect("bind")
        .run()
        .await
        .expect("bare server");
    });
}

pub async fn bare_ceiling(body: &[u8], connections: usize, secs: f64) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("month.json");
    std::fs::write(&file, body).expect("write");
    let port = free_port();
    let mut child = Command::new(std::env::current_exe().expect("self"))
        .args([
            "--bare-server",
            &port.to_string(),
            &file.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bare server");
    let c = client(connections);
    let url = format!("http://127.0.0.1:{port}{MONTH}");
    for _ in 0..200 {
        if c.get(&url).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (rate, _) = read_load(&c, &url, connections, secs, false).await;
    let _ = child.kill();
    let _ = child.wait();
    rate
}

/// A bare actix-web process answering `body` from memory, for as long as it is kept.
struct Bare {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Bare {
    async fn start(body: &[u8]) -> Bare {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("body");
        std::fs::write(&file, body).expect("write");
        let port = free_port();
        let child = Command::new(std::env::current_exe().expect("self"))
            .args([
                "--bare-server",
                &port.to_string(),
                &file.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bare server");
        let url = format!("http://127.0.0.1:{port}{MONTH}");
        let c = client(1);
        for _ in 0..200 {
            if c.get(&url).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Bare {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bare server answering `body`, loaded by wrk as the service is.
pub async fn bare_wrk(
    body: &[u8],
    connections: usize,
    secs: u64,
    headers: &[(&str, &str)],
) -> super::wrk::Wrk {
    let bare = Bare::start(body).await;
    super::wrk::wrk(&bare.url, connections, secs, headers).await
}
