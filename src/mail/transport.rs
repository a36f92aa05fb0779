//! Where mail goes: `.eml` files (the default) or an SMTP server (lettre's protocol over the
//! pooled connections of [`super::smtp`]).

use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use super::smtp::SmtpPool;
use super::SendError;
use crate::config::{MailSettings, MailTransportKind};

pub(crate) enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(Box<SmtpPool>),
}

impl Transport {
    pub(crate) fn from_settings(m: &MailSettings) -> anyhow::Result<Transport> {
        match m.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&m.file_dir).map_err(|e| {
                    anyhow::anyhow!("mail.file_dir: cannot create {}: {e}", m.file_dir.display())
                })?;
                Ok(Transport::File(AsyncFileTransport::new(&m.file_dir)))
            }
            MailTransportKind::Smtp => Ok(Transport::Smtp(Box::new(SmtpPool::new(m)?))),
        }
    }

    /// Whether a message could go out now (no message is sent).
    pub(crate) async fn check(&self) -> Result<(), String> {
        match self {
            Transport::File(_) => Ok(()),
            Transport::Smtp(pool) => pool.check().await,
        }
    }

    pub(crate) async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::File(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                message: format!("file transport: {e}"),
                permanent: false,
            }),
            Transport::Smtp(pool) => {
                let bytes = message.formatted();
                pool.send(message.envelope(), &bytes).await
            }
        }
    }
}
