//! A city's mail relay for the tests: SMTP over STARTTLS or implicit TLS, with a certificate
//! from a certificate authority made for the test (rcgen), and AUTH (PLAIN, LOGIN) required
//! before any mail is taken. It refuses mail before TLS (530) and wrong credentials (535), as
//! municipal relays do.

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

pub const USER: &str = "madoguchi@city.example";
pub const PASSWORD: &str = "relay-pass-2027";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// A plain greeting; STARTTLS is offered and required before MAIL.
    Starttls,
    /// TLS from the first byte (port 465's way).
    Implicit,
}

/// A test certificate authority and what it signed.
pub struct Authority {
    /// The authority's certificate (PEM), for `mail.smtp_ca_file`.
    pub ca_pem: String,
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Authority {
    pub fn new() -> Authority {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "madoguchi test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().expect("ca key");
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("ca");
        Authority {
            ca_pem: issuer.pem(),
            issuer,
        }
    }

    /// A server certificate for `host`, and its key (DER).
    fn server(
        &self,
        host: &str,
    ) -> (
        rustls::pki_types::CertificateDer<'static>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        let key = rcgen::KeyPair::generate().expect("server key");
        let params = rcgen::CertificateParams::new(vec![host.to_string()]).expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("server cert");
        (
            cert.der().clone(),
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    }
}

#[derive(Clone)]
pub struct Relay {
    pub port: u16,
    received: Arc<Mutex<Vec<String>>>,
    /// AUTH commands the relay was sent.
    sign_ins: Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    /// A relay on 127.0.0.1 whose certificate names `host`, signed by `ca`.
    pub async fn start(mode: Mode, ca: &Authority, host: &str) -> Relay {
        let (cert, key) = ca.server(host);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let relay = Relay {
            port: listener.local_addr().expect("addr").port(),
            received: Arc::default(),
            sign_ins: Arc::default(),
        };
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (r, acceptor) = (r.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _ = r.serve(mode, acceptor, tcp).await;
                });
            }
        });
        relay
    }

    /// How many times a client tried to sign in.
    pub fn sign_ins(&self) -> usize {
        self.sign_ins.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Recipients of each message taken.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    async fn serve(
        &self,
        mode: Mode,
        acceptor: tokio_rustls::TlsAcceptor,
        tcp: TcpStream,
    ) -> std::io::Result<()> {
        match mode {
            Mode::Implicit => {
                let tls = acceptor.accept(tcp).await?;
                self.talk(tls, true, true).await.map(|_| ())
            }
            Mode::Starttls => {
                if let Some(tcp) = self.talk(tcp, false, true).await? {
                    let tls = acceptor.accept(tcp).await?;
                    // No second greeting: the client speaks first (EHLO) over TLS.
                    self.talk(tls, true, false).await?;
                }
                Ok(())
            }
        }
    }

    /// One SMTP conversation; returns the stream when the client asked for STARTTLS.
    async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        tls: bool,
        greet: bool,
    ) -> std::io::Result<Option<S>> {
        let mut s = BufReader::new(stream);
        if greet {
            say(&mut s, b"220 relay.test ESMTP\r\n").await?;
        }
        let mut signed_in = false;
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if s.read_line(&mut line).await? == 0 {
                return Ok(None);
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                let offer: &[u8] = if tls {
                    b"250-relay.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                } else {
                    b"250-relay.test\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                };
                say(&mut s, offer).await?;
            } else if upper == "STARTTLS" && !tls {
                say(&mut s, b"220 2.0.0 Ready to start TLS\r\n").await?;
                s.flush().await?;
                return Ok(Some(s.into_inner()));
            } else if upper.starts_with("AUTH") && !tls {
                say(
                    &mut s,
                    b"538 5.7.11 Encryption required for requested authentication mechanism\r\n",
                )
                .await?;
            } else if upper.starts_with("AUTH PLAIN") {
                self.sign_ins
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let given = match cmd.split_whitespace().nth(2) {
                    Some(b64) => b64.to_string(),
                    None => {
                        say(&mut s, b"334 \r\n").await?;
                        read_line(&mut s).await?
                    }
                };
                let decoded = decode(&given);
                let parts: Vec<&str> = decoded.split('\0').collect();
                signed_in = parts.len() == 3 && parts[1] == USER && parts[2] == PASSWORD;
                say(&mut s, auth_answer(signed_in)).await?;
            } else if upper.starts_with("AUTH LOGIN") {
                self.sign_ins
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                say(&mut s, b"334 VXNlcm5hbWU6\r\n").await?;
                let user = decode(&read_line(&mut s).await?);
                say(&mut s, b"334 UGFzc3dvcmQ6\r\n").await?;
                let password = decode(&read_line(&mut s).await?);
                signed_in = user == USER && password == PASSWORD;
                say(&mut s, auth_answer(signed_in)).await?;
            } else if upper.starts_with("MAIL FROM:") {
                if !tls {
                    say(&mut s, b"530 5.7.0 Must issue a STARTTLS command first\r\n").await?;
                } else if !signed_in {
                    say(&mut s, b"530 5.7.0 Authentication required\r\n").await?;
                } else {
                    to.clear();
                    say(&mut s, b"250 OK\r\n").await?;
                }
            } else if upper.starts_with("RCPT TO:") {
                to.push(
                    cmd[8..]
                        .trim()
                        .trim_matches(|c| c == '<' || c == '>')
                        .to_string(),
                );
                say(&mut s, b"250 OK\r\n").await?;
            } else if upper == "DATA" {
                say(&mut s, b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                loop {
                    let l = read_line(&mut s).await?;
                    if l == "." {
                        break;
                    }
                }
                self.received.lock().unwrap().extend(to.drain(..));
                say(&mut s, b"250 OK queued\r\n").await?;
            } else if upper == "RSET" || upper == "NOOP" {
                say(&mut s, b"250 OK\r\n").await?;
            } else if upper == "QUIT" {
                say(&mut s, b"221 Bye\r\n").await?;
                return Ok(None);
            } else {
                say(&mut s, b"502 Command not implemented\r\n").await?;
            }
        }
    }
}

async fn say<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    bytes: &[u8],
) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}

fn auth_answer(ok: bool) -> &'static [u8] {
    if ok {
        b"235 2.7.0 Authentication successful\r\n"
    } else {
        b"535 5.7.8 Authentication credentials invalid\r\n"
    }
}

async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
) -> std::io::Result<String> {
    let mut l = String::new();
    s.read_line(&mut l).await?;
    Ok(l.trim_end_matches(['\r', '\n']).to_string())
}

fn decode(b64: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .unwrap_or_default()
}
