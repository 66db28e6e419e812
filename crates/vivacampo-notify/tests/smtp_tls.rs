//! The SMTP client's TLS paths in real conversations with the loopback test server: implicit
//! TLS (`smtps://`), STARTTLS required and opportunistic, a server without STARTTLS, a
//! certificate the client does not trust, and credentials kept back until the connection is
//! protected. The certificates are fixed files made by `scripts/make-smtp-test-certs.sh`: a test
//! CA and a server certificate for `localhost` and 127.0.0.1 it signed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vivacampo_notify::smtp::{SmtpClient, SmtpConfig, load_ca_file};
use vivacampo_notify::testing::{Command, ServerBehaviour, ServerTls, SmtpServer};

const FROM: &str = "alertas@vivacampo.example";
const TO: &str = "ana@fazenda.example";
const MESSAGE: &[u8] = b"Subject: Sinal\r\n\r\nVigor baixo no talhao 3.\r\n";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn server_tls() -> std::sync::Arc<rustls::ServerConfig> {
    ServerTls::config(
        include_bytes!("fixtures/tls/server.pem"),
        include_bytes!("fixtures/tls/server.key"),
    )
}

async fn server(tls: ServerTls) -> SmtpServer {
    SmtpServer::start(ServerBehaviour {
        tls,
        auth: true,
        ..ServerBehaviour::default()
    })
    .await
    .unwrap()
}

/// A client for `url`, trusting the test CA when `trust_test_ca`.
fn client(url: &str, trust_test_ca: bool) -> SmtpClient {
    let mut config = SmtpConfig::from_url(url, FROM).unwrap();
    if trust_test_ca {
        config = config.with_ca_file(&fixture("ca.pem")).unwrap();
    }
    config.timeout = Duration::from_secs(10);
    SmtpClient::new(config)
}

/// The commands' first words, each with whether it came over TLS.
fn verbs(commands: &[Command]) -> Vec<(String, bool)> {
    commands
        .iter()
        .map(|c| {
            let verb = c.line.split([' ', ':']).next().unwrap_or_default();
            (verb.to_ascii_uppercase(), c.tls)
        })
        .collect()
}

#[tokio::test]
async fn smtps_with_the_ca_file_delivers_over_tls() {
    let server = server(ServerTls::Implicit(server_tls())).await;
    let port = server.addr.port();
    client(&format!("smtps://ana:segr%40do@localhost:{port}"), true)
        .send(TO, MESSAGE)
        .await
        .unwrap();
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(received[0].auth_user.as_deref(), Some("ana"));
    assert_eq!(received[0].rcpt_to, vec![TO.to_owned()]);
    assert_eq!(received[0].header("Subject").as_deref(), Some("Sinal"));
    assert!(server.commands().iter().all(|c| c.tls));
}

#[tokio::test]
async fn tls_required_upgrades_with_starttls_before_anything_else() {
    let server = server(ServerTls::StartTls(server_tls())).await;
    let port = server.addr.port();
    client(
        &format!("smtp://ana:segredo@127.0.0.1:{port}?tls=required"),
        true,
    )
    .send(TO, MESSAGE)
    .await
    .unwrap();
    let plain = |v: &str| (v.to_owned(), false);
    let tls = |v: &str| (v.to_owned(), true);
    assert_eq!(
        verbs(&server.commands()),
        vec![
            plain("EHLO"),
            plain("STARTTLS"),
            tls("EHLO"),
            tls("AUTH"),
            tls("MAIL"),
            tls("RCPT"),
            tls("DATA"),
            tls("QUIT"),
        ]
    );
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(received[0].helo, "vivacampo.example");
    assert_eq!(received[0].auth_user.as_deref(), Some("ana"));
}

#[tokio::test]
async fn opportunistic_starttls_is_taken_when_offered() {
    let server = server(ServerTls::StartTls(server_tls())).await;
    client(&format!("smtp://localhost:{}", server.addr.port()), true)
        .send(TO, MESSAGE)
        .await
        .unwrap();
    assert!(server.received()[0].tls);
}

#[tokio::test]
async fn tls_required_fails_when_the_server_has_no_starttls() {
    let server = server(ServerTls::None).await;
    let port = server.addr.port();
    let error = client(
        &format!("smtp://ana:segredo@127.0.0.1:{port}?tls=required"),
        true,
    )
    .send(TO, MESSAGE)
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the mail server does not offer STARTTLS, which smtp_url requires (tls=required)"
    );
    assert_eq!(verbs(&server.commands()), vec![("EHLO".to_owned(), false)]);
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    const UNTRUSTED: &str = "the mail server's certificate is not signed by a trusted authority \
                             (for a relay with a private CA, set smtp_ca_file)";
    // Without the CA file only the public roots are trusted, which did not sign the test CA.
    let implicit = server(ServerTls::Implicit(server_tls())).await;
    let error = client(
        &format!("smtps://localhost:{}", implicit.addr.port()),
        false,
    )
    .send(TO, MESSAGE)
    .await
    .unwrap_err();
    assert_eq!(error.to_string(), UNTRUSTED);
    assert!(implicit.commands().is_empty());

    // Opportunistic STARTTLS does not fall back to plain text when the certificate is bad.
    let starttls = server(ServerTls::StartTls(server_tls())).await;
    let error = client(&format!("smtp://localhost:{}", starttls.addr.port()), false)
        .send(TO, MESSAGE)
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), UNTRUSTED);
    assert_eq!(
        verbs(&starttls.commands()),
        vec![("EHLO".to_owned(), false), ("STARTTLS".to_owned(), false)]
    );
    assert!(starttls.received().is_empty());
}

#[tokio::test]
async fn data_sent_before_the_tls_handshake_is_refused() {
    let server = SmtpServer::start(ServerBehaviour {
        tls: ServerTls::StartTls(server_tls()),
        inject_after_starttls: true,
        ..ServerBehaviour::default()
    })
    .await
    .unwrap();
    let error = client(
        &format!("smtp://127.0.0.1:{}?tls=required", server.addr.port()),
        true,
    )
    .send(TO, MESSAGE)
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the mail server sent data before the TLS handshake"
    );
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn credentials_wait_for_tls_unless_the_server_is_loopback() {
    let server = server(ServerTls::None).await;
    let port = server.addr.port();
    // The IPv4-mapped form of 127.0.0.1 reaches the loopback server, but the client does not
    // count it as a loopback host: it stands for a relay elsewhere that offers no STARTTLS.
    let error = client(
        &format!("smtp://ana:segredo@[::ffff:127.0.0.1]:{port}"),
        true,
    )
    .send(TO, MESSAGE)
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "smtp_url: credentials are only sent over TLS: use smtps:// or tls=required"
    );
    assert_eq!(verbs(&server.commands()), vec![("EHLO".to_owned(), false)]);

    // To a loopback relay they may go in plain text.
    client(
        &format!("smtp://ana:segredo@127.0.0.1:{port}?tls=none"),
        false,
    )
    .send(TO, MESSAGE)
    .await
    .unwrap();
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(!received[0].tls);
    assert_eq!(received[0].auth_user.as_deref(), Some("ana"));
}

#[test]
fn the_ca_file_must_hold_ca_certificates() {
    assert_eq!(load_ca_file(&fixture("ca.pem")).unwrap().len(), 1);
    let error = |path: &Path| load_ca_file(path).unwrap_err();
    assert_eq!(
        error(&fixture("missing.pem")),
        "cannot read the file (No such file or directory)"
    );
    assert_eq!(
        error(&fixture("server.key")),
        "the file holds no PEM certificate"
    );
    let dir = std::env::temp_dir().join(format!("vc-smtp-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert_eq!(error(&broken), "the file is not valid PEM");
    let not_a_certificate = dir.join("garbage.pem");
    std::fs::write(
        &not_a_certificate,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert_eq!(
        error(&not_a_certificate),
        "a certificate in the file is not a valid CA certificate"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let config = SmtpConfig::from_url("smtps://mail.example.com", FROM).unwrap();
    assert_eq!(
        config
            .with_ca_file(&fixture("server.key"))
            .unwrap_err()
            .to_string(),
        "smtp_ca_file: the file holds no PEM certificate"
    );
}
