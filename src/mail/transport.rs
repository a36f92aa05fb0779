//! Where mail goes: `.eml` files (the default) or an SMTP server, through lettre.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, MailTransportKind, SmtpTls};

pub enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

impl Transport {
    pub fn from_settings(m: &MailSettings) -> anyhow::Result<Transport> {
        match m.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&m.file_dir).map_err(|e| {
                    anyhow::anyhow!("mail.file_dir: cannot create {}: {e}", m.file_dir.display())
                })?;
                Ok(Transport::File(AsyncFileTransport::new(&m.file_dir)))
            }
            MailTransportKind::Smtp => {
                let host = m.smtp_host.trim();
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(m.smtp_port);
                let tls = |h: &str| {
                    TlsParameters::new(h.to_string())
                        .map_err(|e| anyhow::anyhow!("mail.smtp_tls: {e}"))
                };
                builder = match m.smtp_tls {
                    SmtpTls::None => builder.tls(Tls::None),
                    SmtpTls::Starttls => builder.tls(Tls::Required(tls(host)?)),
                    SmtpTls::Tls => builder.tls(Tls::Wrapper(tls(host)?)),
                };
                if !m.smtp_username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        m.smtp_username.clone(),
                        m.smtp_password.clone(),
                    ));
                }
                let timeout = Duration::from_secs(m.smtp_timeout_seconds.max(1));
                Ok(Transport::Smtp(builder.timeout(Some(timeout)).build()))
            }
        }
    }

    /// Whether a message could go out now (no message is sent).
    pub async fn check(&self) -> Result<(), String> {
        match self {
            Transport::File(_) => Ok(()),
            Transport::Smtp(t) => match t.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the SMTP server did not accept a connection".into()),
                Err(e) => Err(format!("smtp: {e}")),
            },
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::File(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                message: format!("file transport: {e}"),
                permanent: false,
            }),
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: format!("smtp: {e}"),
            }),
        }
    }
}
