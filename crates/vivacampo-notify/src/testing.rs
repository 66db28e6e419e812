//! For tests: a loopback SMTP server speaking real SMTP (greeting, EHLO/HELO, MAIL, RCPT,
//! DATA with dot-unstuffing, RSET, NOOP, QUIT, and on request STARTTLS or implicit TLS and
//! AUTH PLAIN) that keeps what it receives, and helpers to read a received MIME message back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message the server accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-unstuffed, CRLF line ends.
    pub data: String,
    /// Whether the message came over TLS (implicit, or after STARTTLS).
    pub tls: bool,
    /// The user name of AUTH PLAIN, if the client authenticated.
    pub auth_user: Option<String>,
}

impl Received {
    /// A header's value (unfolded, RFC 2047 UTF-8 words decoded).
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.data, name)
    }

    /// The decoded bodies of the message's parts of this content type (`text/plain`, …).
    pub fn parts(&self, content_type: &str) -> Vec<Vec<u8>> {
        parts(&self.data, content_type)
    }

    /// The decoded text of the first part of this content type.
    pub fn text(&self, content_type: &str) -> Option<String> {
        self.parts(content_type)
            .into_iter()
            .next()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

/// Whether and how the server speaks TLS.
#[derive(Debug, Clone, Default)]
pub enum ServerTls {
    /// Plain text only; STARTTLS is not offered.
    #[default]
    None,
    /// STARTTLS is offered (until the connection is protected).
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte (`smtps://`).
    Implicit(Arc<rustls::ServerConfig>),
}

impl ServerTls {
    /// A server TLS configuration from a PEM certificate chain and its PEM private key.
    pub fn config(cert_chain_pem: &[u8], key_pem: &[u8]) -> Arc<rustls::ServerConfig> {
        crate::install_crypto_provider();
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("the test certificate chain is PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem).expect("the test key is PEM");
        Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("the test certificate matches its key"),
        )
    }
}

/// How the server answers.
#[derive(Debug, Clone, Default)]
pub struct ServerBehaviour {
    /// Answer RCPT with this code (e.g. 450 mailbox busy, 550 no such user) instead of 250.
    pub rcpt_code: Option<u16>,
    /// TLS: none (the default), STARTTLS or implicit.
    pub tls: ServerTls,
    /// Offer AUTH PLAIN (any credentials are accepted), before TLS too: the client decides
    /// whether it may send them.
    pub auth: bool,
    /// Follow the 220 that accepts STARTTLS with a reply line in the same write, as a man in
    /// the middle injecting into the plain-text stream would.
    pub inject_after_starttls: bool,
}

/// A command line the server received (the lines of DATA are not listed).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub line: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    commands: Vec<Command>,
}

/// A running loopback SMTP server; stops when dropped.
pub struct SmtpServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Starts a server on 127.0.0.1 on a free port.
    pub async fn start(behaviour: ServerBehaviour) -> std::io::Result<SmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let log = shared.clone();
                let behaviour = behaviour.clone();
                tokio::spawn(async move {
                    let _ = connection(socket, behaviour, log).await;
                });
            }
        });
        Ok(SmtpServer { addr, log, task })
    }

    /// `smtp://127.0.0.1:PORT?tls=none`.
    pub fn url(&self) -> String {
        format!("smtp://{}?tls=none", self.addr)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Messages accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.log().received.clone()
    }

    /// The command lines received so far, in order, over every connection.
    pub fn commands(&self) -> Vec<Command> {
        self.log().commands.clone()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connection(
    socket: tokio::net::TcpStream,
    behaviour: ServerBehaviour,
    log: Arc<Mutex<Log>>,
) -> std::io::Result<()> {
    let (io, tls): (Box<dyn Io>, bool) = match &behaviour.tls {
        ServerTls::Implicit(config) => {
            let stream = tokio_rustls::TlsAcceptor::from(config.clone())
                .accept(socket)
                .await?;
            (Box::new(stream), true)
        }
        _ => (Box::new(socket), false),
    };
    session(BufReader::new(io), tls, &behaviour, &log).await
}

async fn session(
    mut io: BufReader<Box<dyn Io>>,
    mut tls: bool,
    behaviour: &ServerBehaviour,
    log: &Mutex<Log>,
) -> std::io::Result<()> {
    let lock = || log.lock().unwrap_or_else(|e| e.into_inner());
    io.get_mut()
        .write_all(b"220 loopback ESMTP test server\r\n")
        .await?;
    io.get_mut().flush().await?;
    let fresh = |tls| Received {
        helo: String::new(),
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        data: String::new(),
        tls,
        auth_user: None,
    };
    let mut current = fresh(tls);
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        lock().commands.push(Command {
            line: line.to_owned(),
            tls,
        });
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO ") {
            current.helo = line[5..].to_owned();
            let mut reply = "250-loopback greets you\r\n250-8BITMIME\r\n".to_owned();
            if matches!(behaviour.tls, ServerTls::StartTls(_)) && !tls {
                reply.push_str("250-STARTTLS\r\n");
            }
            if behaviour.auth {
                reply.push_str("250-AUTH PLAIN\r\n");
            }
            reply.push_str("250 SIZE 10485760\r\n");
            reply
        } else if upper.starts_with("HELO ") {
            current.helo = line[5..].to_owned();
            "250 loopback\r\n".into()
        } else if upper == "STARTTLS" {
            match &behaviour.tls {
                ServerTls::StartTls(config) if !tls => {
                    let go_ahead: &[u8] = if behaviour.inject_after_starttls {
                        b"220 go ahead\r\n250 injected\r\n"
                    } else {
                        b"220 go ahead\r\n"
                    };
                    io.get_mut().write_all(go_ahead).await?;
                    let stream = tokio_rustls::TlsAcceptor::from(config.clone())
                        .accept(io.into_inner())
                        .await?;
                    io = BufReader::new(Box::new(stream));
                    tls = true;
                    // RFC 3207: the client starts over with EHLO.
                    current = fresh(true);
                    continue;
                }
                _ => "502 STARTTLS not offered\r\n".into(),
            }
        } else if upper.starts_with("AUTH PLAIN ") && behaviour.auth {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(line[11..].trim())
                .unwrap_or_default();
            let user = decoded.split(|b| *b == 0).nth(1).unwrap_or_default();
            current.auth_user = Some(String::from_utf8_lossy(user).into_owned());
            "235 authenticated\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            current.mail_from = address(&line[10..]);
            current.rcpt_to.clear();
            "250 OK\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            if current.mail_from.is_empty() {
                "503 MAIL first\r\n".into()
            } else if let Some(code) = behaviour.rcpt_code {
                format!("{code} recipient refused by the test server\r\n")
            } else {
                current.rcpt_to.push(address(&line[8..]));
                "250 OK\r\n".into()
            }
        } else if upper == "DATA" {
            if current.rcpt_to.is_empty() {
                "503 RCPT first\r\n".into()
            } else {
                io.get_mut()
                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                    .await?;
                io.get_mut().flush().await?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if io.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    let l = l.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(l));
                    data.push_str("\r\n");
                }
                current.data = data;
                lock().received.push(current.clone());
                current.mail_from.clear();
                current.rcpt_to.clear();
                "250 queued\r\n".into()
            }
        } else if upper == "RSET" {
            current.mail_from.clear();
            current.rcpt_to.clear();
            "250 OK\r\n".into()
        } else if upper == "NOOP" {
            "250 OK\r\n".into()
        } else if upper == "QUIT" {
            io.get_mut().write_all(b"221 bye\r\n").await?;
            io.get_mut().flush().await?;
            return Ok(());
        } else {
            "502 command not implemented\r\n".into()
        };
        io.get_mut().write_all(reply.as_bytes()).await?;
        io.get_mut().flush().await?;
    }
}

fn address(arg: &str) -> String {
    arg.trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Decodes RFC 2047 `=?UTF-8?B?…?=` words (other text is kept).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    for word in value.split_whitespace() {
        match word
            .strip_prefix("=?UTF-8?B?")
            .and_then(|w| w.strip_suffix("?="))
        {
            Some(b64) => out.push_str(&String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap_or_default(),
            )),
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

/// A header of `message` (the first block before an empty line), unfolded and decoded.
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next()?;
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| decode_words(value.trim()))
    })
}

/// Decoded bodies of the parts of `message` whose Content-Type is `content_type`, found by
/// walking every MIME boundary (base64 or plain).
pub fn parts(message: &str, content_type: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for chunk in message.split("\r\n--") {
        let Some((head, body)) = chunk.split_once("\r\n\r\n") else {
            continue;
        };
        let head = format!("{head}\r\n\r\n");
        let Some(kind) = header(&head, "Content-Type") else {
            continue;
        };
        if !kind
            .split(';')
            .next()
            .is_some_and(|k| k.trim().eq_ignore_ascii_case(content_type))
        {
            continue;
        }
        let encoding = header(&head, "Content-Transfer-Encoding").unwrap_or_default();
        if encoding.eq_ignore_ascii_case("base64") {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_default(),
            );
        } else {
            out.push(body.as_bytes().to_vec());
        }
    }
    out
}
