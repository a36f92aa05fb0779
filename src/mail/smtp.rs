//! SMTP connections, pooled, with Nagle's algorithm off.
//!
//! lettre writes a message's body and its closing `\r\n.\r\n` in two writes. On a socket with
//! Nagle's algorithm on, the second (5 bytes) waits until the first is acknowledged, and the
//! server, waiting for the end of the data, delays that acknowledgement (40 ms on Linux): a
//! fixed ~40 ms stall per message, whatever the server's speed (docs/benchmarks.md). So the
//! connections are opened here, on a `TcpStream` with `TCP_NODELAY`, and handed to lettre's
//! `AsyncSmtpConnection`, which speaks the protocol (EHLO, STARTTLS, AUTH, the envelope and
//! the data). Up to `mail.concurrency` messages are in flight at once, each on its own
//! connection; a connection is reused while it is healthy and idle for less than a minute.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::SendError;
use crate::config::{MailSettings, SmtpTls};

/// What a failed TLS handshake is about.
const TLS_FAILED: &str = "smtp: TLS with the relay failed (its certificate must name mail.smtp_host and come from a trusted authority: mail.smtp_ca_file)";

/// What a refused sign-in is about.
const SIGN_IN: &str =
    "smtp: the relay refused the sign-in (mail.smtp_username, mail.smtp_password)";
/// A sign-in attempted without TLS.
const NO_TLS_SIGN_IN: &str = "smtp: no sign-in without TLS (mail.smtp_tls is \"none\"; relays take a password over \"starttls\" or \"tls\" only)";
/// After a TLS or sign-in failure, how long no connection is tried.
const CONNECT_PAUSE: Duration = Duration::from_secs(30);

/// How long an idle connection is kept for the next message.
const IDLE_FOR: Duration = Duration::from_secs(60);
/// Idle longer than this, a connection is probed with NOOP before it is used again.
const PROBE_AFTER: Duration = Duration::from_secs(2);

pub(crate) struct SmtpPool {
    host: String,
    port: u16,
    tls: SmtpTls,
    tls_parameters: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    permits: Semaphore,
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// After a failed TLS handshake or sign-in: until when no connection is tried, and why.
    /// A wrong password then costs the relay one sign-in per pause, not one per waiting mail
    /// (relays lock accounts that fail too often).
    paused: std::sync::Mutex<Option<(Instant, String)>>,
}

fn transient(message: String) -> SendError {
    SendError {
        message,
        permanent: false,
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    // 530: the relay wants TLS or a sign-in first. A setting to fix, not a bad message: the
    // mail is kept and tried again.
    if e.status().is_some_and(|c| c.to_string() == "530") {
        return transient(format!(
            "smtp: the relay requires TLS or a sign-in first (mail.smtp_tls, mail.smtp_username): {e}"
        ));
    }
    SendError {
        permanent: e.is_permanent(),
        message: format!("smtp: {e}"),
    }
}

/// A failure while connecting (TLS, sign-in): the relay or the settings, never the message,
/// so it is kept and tried again; `why` says what to look at.
fn connection_error(why: &str) -> impl FnOnce(SendError) -> SendError + '_ {
    move |e| transient(format!("{why}: {}", e.message))
}

/// TLS towards `host`: the public roots, and the city's own authority when `smtp_ca_file` names
/// one. The certificate must name the host (never switched off).
fn tls_parameters(m: &MailSettings, host: &str) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_string());
    let ca = m.smtp_ca_file.trim();
    if !ca.is_empty() {
        let pem = std::fs::read(ca)
            .map_err(|e| anyhow::anyhow!("mail.smtp_ca_file: cannot read {ca}: {e}"))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            anyhow::anyhow!("mail.smtp_ca_file: {ca} is not a PEM certificate: {e}")
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("mail.smtp_tls: {e}"))
}

/// The relay's password: from `smtp_password_file` when set (its first line), else the setting.
fn password(m: &MailSettings) -> anyhow::Result<String> {
    let file = m.smtp_password_file.trim();
    if file.is_empty() {
        return Ok(m.smtp_password.clone());
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("mail.smtp_password_file: cannot read {file}: {e}"))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

impl SmtpPool {
    pub(crate) fn new(m: &MailSettings) -> anyhow::Result<SmtpPool> {
        let host = m.smtp_host.trim().to_string();
        let tls_parameters = match m.smtp_tls {
            SmtpTls::None => None,
            SmtpTls::Starttls | SmtpTls::Tls => Some(tls_parameters(m, &host)?),
        };
        let credentials = (!m.smtp_username.is_empty())
            .then(|| -> anyhow::Result<Credentials> {
                Ok(Credentials::new(m.smtp_username.clone(), password(m)?))
            })
            .transpose()?;
        Ok(SmtpPool {
            host,
            port: m.smtp_port,
            tls: m.smtp_tls,
            tls_parameters,
            credentials,
            timeout: Duration::from_secs(m.smtp_timeout_seconds.max(1)),
            hello: ClientId::default(),
            permits: Semaphore::new(m.concurrency.max(1) as usize),
            idle: std::sync::Mutex::new(Vec::new()),
            paused: std::sync::Mutex::new(None),
        })
    }

    async fn timed<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(result) => result.map_err(smtp_error),
            Err(_) => Err(transient(format!(
                "smtp: no answer to {what} within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    /// A new connection: TCP with `TCP_NODELAY`, the greeting and EHLO, TLS as configured,
    /// then AUTH when there are credentials.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        if let Some(why) = self.pause_in_force() {
            return Err(transient(why));
        }
        let connected = self.connect_now().await;
        if let Err(e) = &connected {
            if e.message.contains(TLS_FAILED) || e.message.contains(SIGN_IN) {
                if let Ok(mut paused) = self.paused.lock() {
                    *paused = Some((Instant::now() + CONNECT_PAUSE, e.message.clone()));
                }
            }
        }
        connected
    }

    /// Why no connection is tried now (a pause after a TLS or sign-in failure), if so.
    fn pause_in_force(&self) -> Option<String> {
        let mut paused = self.paused.lock().ok()?;
        match paused.as_ref() {
            Some((until, why)) if Instant::now() < *until => Some(format!(
                "{why} (not tried again for {} s after such a failure)",
                CONNECT_PAUSE.as_secs()
            )),
            Some(_) => {
                *paused = None;
                None
            }
            None => None,
        }
    }

    async fn connect_now(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = match tokio::time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                return Err(transient(format!(
                    "smtp: cannot connect to {}:{}: {e}",
                    self.host, self.port
                )))
            }
            Err(_) => {
                return Err(transient(format!(
                    "smtp: no connection to {}:{} within {} s",
                    self.host,
                    self.port,
                    self.timeout.as_secs()
                )))
            }
        };
        tcp.set_nodelay(true)
            .map_err(|e| transient(format!("smtp: TCP_NODELAY: {e}")))?;
        let mut conn = match (&self.tls, &self.tls_parameters) {
            (SmtpTls::Tls, Some(params)) => {
                // Implicit TLS: the handshake first, then the greeting over it.
                #[allow(deprecated)]
                let mut stream =
                    lettre::transport::smtp::client::AsyncNetworkStream::use_existing_tokio1(
                        Box::new(tcp),
                    );
                self.timed("the TLS handshake", stream.upgrade_tls(params.clone()))
                    .await
                    .map_err(connection_error(TLS_FAILED))?;
                self.timed(
                    "the greeting",
                    AsyncSmtpConnection::connect_with_transport(
                        Box::new(TlsStream(stream)),
                        &self.hello,
                    ),
                )
                .await?
            }
            _ => {
                self.timed(
                    "the greeting",
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello),
                )
                .await?
            }
        };
        if let (SmtpTls::Starttls, Some(params)) = (&self.tls, &self.tls_parameters) {
            if !conn.can_starttls() {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.abort()).await;
                return Err(transient(
                    "smtp: the server does not offer STARTTLS (mail.smtp_tls = \"starttls\")"
                        .into(),
                ));
            }
            self.timed("STARTTLS", conn.starttls(params.clone(), &self.hello))
                .await
                .map_err(connection_error(TLS_FAILED))?;
        }
        if let Some(credentials) = &self.credentials {
            self.timed(
                "AUTH",
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            .map_err(connection_error(match self.tls {
                SmtpTls::None => NO_TLS_SIGN_IN,
                _ => SIGN_IN,
            }))?;
        }
        Ok(conn)
    }

    /// An idle connection that is still fresh, else a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let candidate = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
            match candidate {
                Some((conn, since)) if since.elapsed() < PROBE_AFTER && !conn.has_broken() => {
                    return Ok(conn)
                }
                // Idle for a while: the relay may have closed it (idle timeouts, a 421 after
                // so many messages). A NOOP tells, as lettre's own pool does, rather than a
                // failed send costing the mail an attempt and a retry delay.
                Some((mut conn, since)) if since.elapsed() < IDLE_FOR && !conn.has_broken() => {
                    let alive = tokio::time::timeout(Duration::from_secs(5), conn.test_connected())
                        .await
                        .unwrap_or(false);
                    if alive {
                        return Ok(conn);
                    }
                }
                Some((mut stale, _)) => {
                    // Past its idle time: say goodbye without waiting long for the answer.
                    let _ = tokio::time::timeout(Duration::from_secs(1), stale.quit()).await;
                }
                None => return self.connect().await,
            }
        }
    }

    /// Sends one message. On success the connection goes back to the pool; after any error
    /// it is dropped (its state is unknown).
    pub(crate) async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| transient("smtp: the mailer is shutting down".into()))?;
        let mut conn = self.checkout().await?;
        match self.timed("the message", conn.send(envelope, bytes)).await {
            Ok(_) => {
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push((conn, Instant::now()));
                }
                Ok(())
            }
            Err(e) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.abort()).await;
                Err(e)
            }
        }
    }

    /// Whether a connection can be made and greeted now (nothing is sent).
    pub(crate) async fn check(&self) -> Result<(), String> {
        let mut conn = self.connect().await.map_err(|e| e.message)?;
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
        Ok(())
    }
}

/// lettre's TLS stream (futures-io) as the tokio stream its connection takes.
#[allow(deprecated)]
#[derive(Debug)]
struct TlsStream(lettre::transport::smtp::client::AsyncNetworkStream);

#[allow(deprecated)]
impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        use futures_util::io::AsyncRead as _;
        match Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[allow(deprecated)]
impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        use futures_util::io::AsyncWrite as _;
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        use futures_util::io::AsyncWrite as _;
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        use futures_util::io::AsyncWrite as _;
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[allow(deprecated)]
impl lettre::transport::smtp::client::AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}
