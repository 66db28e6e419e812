//! A small SMTP client (RFC 5321): enough to hand one message to a relay or a provider's
//! submission port.
//!
//! Configured by one URL (setting `smtp_url`):
//! - `smtps://[user:pass@]host[:465]`: TLS from the first byte (implicit TLS).
//! - `smtp://[user:pass@]host[:587]?tls=required`: STARTTLS, refused if the server lacks it.
//! - `smtp://host[:25]` (or `?tls=opportunistic`): STARTTLS when the server offers it, else
//!   plain; for a relay on the same host or network.
//! - `smtp://host?tls=none`: never TLS (a loopback relay, tests).
//!
//! Certificates are checked against the Mozilla roots (webpki-roots) and, for a relay with a
//! private CA, the certificates of `smtp_ca_file` ([`SmtpConfig::with_ca_file`]). Credentials
//! (AUTH PLAIN) are only sent over TLS, or to a loopback address.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Longest reply line read from a server.
const MAX_LINE: usize = 4096;
/// Most lines in one reply.
const MAX_REPLY_LINES: usize = 100;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`).
    Tls,
    /// STARTTLS, or fail.
    StartTlsRequired,
    /// STARTTLS when offered.
    StartTlsOpportunistic,
    /// Plain text only.
    None,
}

/// Where and how to send.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    credentials: Option<(String, String)>,
    /// CA certificates trusted besides the Mozilla roots (`smtp_ca_file`).
    extra_roots: Vec<CertificateDer<'static>>,
    /// The envelope sender and `From:` address.
    pub from: String,
    /// How long one whole conversation may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "(redacted)"),
            )
            .field("extra_roots", &self.extra_roots.len())
            .field("from", &self.from)
            .finish()
    }
}

/// Why a message was not sent. Messages name no password.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("{0}")]
    Config(String),
    #[error("cannot connect to the mail server: {0}")]
    Connect(std::io::Error),
    #[error("the mail server connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// A whole sentence: why the connection could not be protected.
    #[error("{0}")]
    Tls(String),
    #[error("the mail server did not answer in time")]
    Timeout,
    #[error("the mail server refused {step}: {code} {text}")]
    Refused {
        step: &'static str,
        code: u16,
        text: String,
    },
    #[error("the mail server sent a malformed reply")]
    Malformed,
}

impl SmtpError {
    /// A 5xx answer: trying again will not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Refused { code, .. } if *code >= 500)
            || matches!(self, SmtpError::Config(_))
    }
}

/// Reads the CA certificates of `smtp_ca_file`: one or more PEM `CERTIFICATE` sections, each
/// usable as a trust anchor. The error is one sentence about the file, without its path (the
/// caller names the setting).
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::Error as PemError;
    let describe = |e: PemError| match e {
        PemError::Io(e) => format!("cannot read the file ({})", io_reason(&e)),
        _ => "the file is not valid PEM".to_owned(),
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(describe)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(describe)?;
    if certs.is_empty() {
        return Err("the file holds no PEM certificate".to_owned());
    }
    let mut store = rustls::RootCertStore::empty();
    for cert in &certs {
        store
            .add(cert.clone())
            .map_err(|_| "a certificate in the file is not a valid CA certificate".to_owned())?;
    }
    Ok(certs)
}

/// An I/O error's reason without the "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// Checks an address for the envelope: `local@domain`, no spaces, brackets or line breaks.
pub fn check_address(address: &str) -> Result<(), String> {
    let bad = address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '"'));
    let ok = !bad
        && address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!("{address:?} is not an e-mail address"))
    }
}

impl SmtpConfig {
    /// Reads `smtp_url` (see the module docs) and `smtp_from`.
    pub fn from_url(smtp_url: &str, from: &str) -> Result<SmtpConfig, SmtpError> {
        let url = url::Url::parse(smtp_url)
            .map_err(|e| SmtpError::Config(format!("smtp_url: not a URL ({e})")))?;
        let host = url
            .host_str()
            .ok_or_else(|| SmtpError::Config("smtp_url: no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (url.scheme(), tls_param.as_deref()) {
            ("smtps", None | Some("implicit")) => (Security::Tls, 465),
            ("smtp", Some("required" | "starttls")) => (Security::StartTlsRequired, 587),
            ("smtp", None | Some("opportunistic")) => (Security::StartTlsOpportunistic, 25),
            ("smtp", Some("none")) => (Security::None, 25),
            ("smtp" | "smtps", Some(other)) => {
                return Err(SmtpError::Config(format!(
                    "smtp_url: tls={other:?}: use required, opportunistic or none (smtps:// is TLS)"
                )));
            }
            (scheme, _) => {
                return Err(SmtpError::Config(format!(
                    "smtp_url: scheme {scheme:?}: use smtp:// or smtps://"
                )));
            }
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            ))
        };
        check_address(from).map_err(|e| SmtpError::Config(format!("smtp_from: {e}")))?;
        Ok(SmtpConfig {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            extra_roots: Vec::new(),
            from: from.to_owned(),
            timeout: Duration::from_secs(60),
        })
    }

    /// Also trusts the CA certificates of `path` (setting `smtp_ca_file`, see [`load_ca_file`]).
    pub fn with_ca_file(mut self, path: &Path) -> Result<SmtpConfig, SmtpError> {
        self.extra_roots =
            load_ca_file(path).map_err(|e| SmtpError::Config(format!("smtp_ca_file: {e}")))?;
        Ok(self)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The name this client gives in EHLO: the domain of the from-address.
    fn helo_name(&self) -> &str {
        self.from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One SMTP conversation.
struct Session {
    io: BufReader<Box<dyn Io>>,
}

/// A server reply: the code and its lines' text.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl Session {
    async fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.io)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .await?;
            if n == 0 {
                return Err(SmtpError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                )));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if line.len() < 3 || lines.len() >= MAX_REPLY_LINES {
                return Err(SmtpError::Malformed);
            }
            let code: u16 = line[..3].parse().map_err(|_| SmtpError::Malformed)?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or_default().to_owned());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    async fn command(
        &mut self,
        line: &str,
        step: &'static str,
        expect: &[u16],
    ) -> Result<Reply, SmtpError> {
        let io = self.io.get_mut();
        io.write_all(line.as_bytes()).await?;
        io.write_all(b"\r\n").await?;
        io.flush().await?;
        let reply = self.read_reply().await?;
        if expect.contains(&reply.code) {
            Ok(reply)
        } else {
            Err(SmtpError::Refused {
                step,
                code: reply.code,
                text: reply.text(),
            })
        }
    }

    /// EHLO; the extensions the server announced (upper case keywords with their arguments).
    async fn ehlo(&mut self, name: &str) -> Result<Vec<String>, SmtpError> {
        let reply = self
            .command(&format!("EHLO {name}"), "EHLO", &[250])
            .await?;
        Ok(reply
            .lines
            .iter()
            .skip(1)
            .map(|l| l.to_ascii_uppercase())
            .collect())
    }
}

fn tls_connector(extra_roots: &[CertificateDer<'static>]) -> tokio_rustls::TlsConnector {
    crate::install_crypto_provider();
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // Checked by `load_ca_file`.
    roots.add_parsable_certificates(extra_roots.iter().cloned());
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn start_tls(io: Box<dyn Io>, config: &SmtpConfig) -> Result<Box<dyn Io>, SmtpError> {
    let name = rustls::pki_types::ServerName::try_from(config.host.clone()).map_err(|_| {
        SmtpError::Tls(format!(
            "{:?} is not a host name TLS can check the mail server's certificate against",
            config.host
        ))
    })?;
    let stream = tls_connector(&config.extra_roots)
        .connect(name, io)
        .await
        .map_err(|e| SmtpError::Tls(handshake_failure(&e, &config.host)))?;
    Ok(Box::new(stream))
}

/// One sentence on a failed TLS handshake, naming the cause an operator can act on.
fn handshake_failure(e: &std::io::Error, host: &str) -> String {
    use rustls::CertificateError as Cert;
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!(
            "the TLS handshake with the mail server failed ({})",
            io_reason(e)
        );
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => "the mail server's certificate is not signed by a trusted \
                 authority (for a relay with a private CA, set smtp_ca_file)"
                .to_owned(),
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                format!("the mail server's certificate is not valid for {host}")
            }
            Cert::Expired | Cert::ExpiredContext { .. } => {
                "the mail server's certificate has expired".to_owned()
            }
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "the mail server's certificate is not valid yet".to_owned()
            }
            Cert::Revoked => "the mail server's certificate is revoked".to_owned(),
            _ => "the mail server's certificate was refused".to_owned(),
        },
        rustls::Error::AlertReceived(_) => "the mail server refused the TLS handshake".to_owned(),
        _ => "the TLS handshake with the mail server failed".to_owned(),
    }
}

/// Sends messages through one server.
#[derive(Debug, Clone)]
pub struct SmtpClient {
    config: SmtpConfig,
}

impl SmtpClient {
    pub fn new(config: SmtpConfig) -> SmtpClient {
        SmtpClient { config }
    }

    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Hands `message` (a whole RFC 5322 message, CRLF or LF line ends) for `to` to the server.
    pub async fn send(&self, to: &str, message: &[u8]) -> Result<(), SmtpError> {
        check_address(to).map_err(SmtpError::Config)?;
        tokio::time::timeout(self.config.timeout, self.conversation(to, message))
            .await
            .map_err(|_| SmtpError::Timeout)?
    }

    async fn conversation(&self, to: &str, message: &[u8]) -> Result<(), SmtpError> {
        let c = &self.config;
        let tcp = TcpStream::connect((c.host.as_str(), c.port))
            .await
            .map_err(SmtpError::Connect)?;
        let mut io: Box<dyn Io> = Box::new(tcp);
        let mut secure = false;
        if c.security == Security::Tls {
            io = start_tls(io, c).await?;
            secure = true;
        }
        let mut session = Session {
            io: BufReader::new(io),
        };
        let greeting = session.read_reply().await?;
        if greeting.code != 220 {
            return Err(SmtpError::Refused {
                step: "the connection",
                code: greeting.code,
                text: greeting.text(),
            });
        }
        let mut extensions = session.ehlo(c.helo_name()).await?;
        let offers_tls = extensions.iter().any(|e| e == "STARTTLS");
        let wants_tls = matches!(
            c.security,
            Security::StartTlsRequired | Security::StartTlsOpportunistic
        );
        if wants_tls && offers_tls {
            session.command("STARTTLS", "STARTTLS", &[220]).await?;
            // Whatever followed the 220 came in plain text, where anyone on the path could
            // have put it, and would be read as if protected.
            if !session.io.buffer().is_empty() {
                return Err(SmtpError::Tls(
                    "the mail server sent data before the TLS handshake".into(),
                ));
            }
            let io = session.io.into_inner();
            session = Session {
                io: BufReader::new(start_tls(io, c).await?),
            };
            secure = true;
            extensions = session.ehlo(c.helo_name()).await?;
        } else if c.security == Security::StartTlsRequired {
            return Err(SmtpError::Tls(
                "the mail server does not offer STARTTLS, which smtp_url requires (tls=required)"
                    .into(),
            ));
        }
        if let Some((user, password)) = &c.credentials {
            if !secure && !c.is_loopback() {
                return Err(SmtpError::Config(
                    "smtp_url: credentials are only sent over TLS: use smtps:// or tls=required"
                        .into(),
                ));
            }
            let plain = extensions
                .iter()
                .any(|e| e.starts_with("AUTH") && e.split(' ').any(|m| m == "PLAIN"));
            if !plain {
                return Err(SmtpError::Config(
                    "the server does not offer AUTH PLAIN".into(),
                ));
            }
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            session
                .command(&format!("AUTH PLAIN {token}"), "the credentials", &[235])
                .await?;
        }
        session
            .command(&format!("MAIL FROM:<{}>", c.from), "the sender", &[250])
            .await?;
        session
            .command(&format!("RCPT TO:<{to}>"), "the recipient", &[250, 251])
            .await?;
        session.command("DATA", "DATA", &[354]).await?;
        let io = session.io.get_mut();
        io.write_all(&dot_stuffed(message)).await?;
        io.flush().await?;
        let reply = session.read_reply().await?;
        if reply.code != 250 {
            return Err(SmtpError::Refused {
                step: "the message",
                code: reply.code,
                text: reply.text(),
            });
        }
        // The message is accepted; a failed QUIT changes nothing.
        let _ = session.command("QUIT", "QUIT", &[221]).await;
        Ok(())
    }
}

/// The DATA section: CRLF line ends, lines starting with '.' doubled, then "CRLF.CRLF".
pub fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let text = message.strip_suffix(b"\n").unwrap_or(message);
    for line in text.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_security_and_port() {
        let c = SmtpConfig::from_url("smtps://u:p%40ss@mail.example.com", "a@example.com").unwrap();
        assert_eq!((c.security, c.port), (Security::Tls, 465));
        assert_eq!(c.credentials, Some(("u".to_owned(), "p@ss".to_owned())));
        assert!(!format!("{c:?}").contains("p@ss"));
        let c =
            SmtpConfig::from_url("smtp://mail.example.com?tls=required", "a@example.com").unwrap();
        assert_eq!((c.security, c.port), (Security::StartTlsRequired, 587));
        let c = SmtpConfig::from_url("smtp://127.0.0.1:2525", "a@example.com").unwrap();
        assert_eq!(
            (c.security, c.port),
            (Security::StartTlsOpportunistic, 2525)
        );
        assert_eq!(
            SmtpConfig::from_url("http://x", "a@example.com")
                .unwrap_err()
                .to_string(),
            "smtp_url: scheme \"http\": use smtp:// or smtps://"
        );
        assert!(
            SmtpConfig::from_url("smtp://x?tls=maybe", "a@example.com")
                .unwrap_err()
                .to_string()
                .contains("tls=\"maybe\"")
        );
        assert!(
            SmtpConfig::from_url("smtp://x", "not an address")
                .unwrap_err()
                .to_string()
                .starts_with("smtp_from:")
        );
    }

    #[test]
    fn data_is_dot_stuffed_with_crlf() {
        assert_eq!(
            dot_stuffed(b"Subject: x\n\n.hidden\nend\n"),
            b"Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n".to_vec()
        );
    }
}
