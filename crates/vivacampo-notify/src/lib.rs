//! Signal delivery for VivaCampo: one job, deliver.
//!
//! - [`webhook`]: signs a webhook body (`X-VivaCampo-Signature: t=UNIX,v1=HEX`, HEX =
//!   HMAC-SHA256(secret, "UNIX.BODY")) and POSTs it with a timeout; any 2xx is delivered.
//! - [`smtp`]: a small SMTP client (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) over
//!   plain TCP, STARTTLS or implicit TLS (`smtps://`), configured by one URL.
//! - [`email`]: the e-mail about a signal (or a day's digest) in the member's language, plain
//!   text and HTML, with a link to the field and its outline as an inline PNG.
//!
//! Nothing here reads the database: the worker's handlers load rows and call these.

pub mod email;
pub mod outline;
pub mod smtp;
pub mod testing;
pub mod webhook;

/// Installs rustls' ring crypto provider once (reqwest is built without one).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
