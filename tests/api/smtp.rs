//! A real SMTP server on 127.0.0.1:0 for the tests: it speaks the protocol lettre speaks,
//! records every message, and can be taken "down" (it then answers 421 and hangs up, as an
//! overloaded or stopped relay would).

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_parser::MimeHeaders;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Received {
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
    /// When the sink accepted it (answered 250 to the data).
    pub accepted_at: Instant,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    down: Arc<AtomicBool>,
    /// Milliseconds the sink waits before accepting each message (a slow relay).
    delay_ms: Arc<AtomicU64>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink::start_on(0).await
    }

    /// A sink on a given loopback port (0: any free one); the SMTP-down drill starts it late
    /// on the port the server was told to use.
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind smtp sink");
        let port = listener.local_addr().expect("addr").port();
        let sink = SmtpSink {
            port,
            received: Arc::default(),
            down: Arc::default(),
            delay_ms: Arc::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    /// Makes the sink take `delay` to accept each message.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        if self.is_down() {
            write
                .write_all(b"421 sink.test Service not available\r\n")
                .await?;
            return Ok(());
        }
        write
            .write_all(b"220 sink.test ESMTP test sink\r\n")
            .await?;
        let mut from = String::new();
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.trim_end().to_ascii_uppercase();
            if self.is_down() {
                write
                    .write_all(b"421 sink.test Service not available\r\n")
                    .await?;
                return Ok(());
            }
            if upper.starts_with("EHLO") {
                write
                    .write_all(
                        b"250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n",
                    )
                    .await?;
            } else if upper.starts_with("HELO") {
                write.write_all(b"250 sink.test\r\n").await?;
            } else if upper.starts_with("MAIL FROM:") {
                from = addr_of(&line);
                to.clear();
                write.write_all(b"250 OK\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                to.push(addr_of(&line));
                write.write_all(b"250 OK\r\n").await?;
            } else if upper == "DATA" {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = Vec::new();
                loop {
                    let mut l = String::new();
                    if lines.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    let l = l
                        .strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l);
                    data.extend_from_slice(l.as_bytes());
                }
                let delay = self.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                self.received.lock().unwrap().push(Received {
                    envelope_from: from.clone(),
                    envelope_to: to.clone(),
                    raw: data,
                    accepted_at: Instant::now(),
                });
                write.write_all(b"250 OK queued\r\n").await?;
            } else if upper == "RSET" || upper == "NOOP" {
                write.write_all(b"250 OK\r\n").await?;
            } else if upper == "QUIT" {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else {
                write.write_all(b"502 Command not implemented\r\n").await?;
            }
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.received().iter().map(Mail::parse).collect()
    }

    pub fn messages_to(&self, addr: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(addr)))
            .collect()
    }

    /// The one message to `addr` whose subject contains `marker`.
    pub fn only_message_to(&self, addr: &str, marker: &str) -> Mail {
        let found: Vec<Mail> = self
            .messages_to(addr)
            .into_iter()
            .filter(|m| m.subject.contains(marker))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one mail to {addr} with {marker:?}, got {}",
            found.len()
        );
        found.into_iter().next().unwrap()
    }
}

fn addr_of(line: &str) -> String {
    let start = line.find('<').map(|i| i + 1).unwrap_or(0);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end.max(start)].trim().to_string()
}

/// A received message, parsed as MIME.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub message_id: String,
    pub from: String,
    pub attachments: Vec<(String, String, String)>,
}

impl Mail {
    fn parse(r: &Received) -> Mail {
        let msg = mail_parser::MessageParser::default()
            .parse(&r.raw)
            .expect("a MIME message");
        let from = msg
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        let attachments = msg
            .attachments()
            .map(|a| {
                let ct = a
                    .content_type()
                    .map(|c| {
                        let base = format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default());
                        match c.attribute("method") {
                            Some(m) => format!("{base}; method={m}"),
                            None => base,
                        }
                    })
                    .unwrap_or_default();
                (
                    a.attachment_name().unwrap_or_default().to_string(),
                    ct,
                    String::from_utf8_lossy(a.contents()).to_string(),
                )
            })
            .collect();
        Mail {
            to: r.envelope_to.clone(),
            subject: msg.subject().unwrap_or_default().to_string(),
            text: msg.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
            message_id: msg.message_id().unwrap_or_default().to_string(),
            from,
            attachments,
        }
    }

    /// The token of the first link to `path` (`/booking/verify`, `/booking/manage`).
    pub fn link_token(&self, path: &str) -> String {
        let marker = format!("{path}?token=");
        let start = self
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {path} link in:\n{}", self.text))
            + marker.len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}
