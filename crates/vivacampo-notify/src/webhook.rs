//! Webhook delivery: the signature receivers verify and the POST that carries it.
//!
//! Unless `webhook_allow_private` is set, a POST only goes to public internet addresses
//! ([`vivacampo_core::net::is_public_ip`]): the URL's host may not be a non-public IP address,
//! and a host name (`localhost` too) is resolved here, refused if any of its addresses is not
//! public, and connected to at the addresses checked, so that a name answering differently on
//! a second lookup (DNS rebinding) cannot lead the connection elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Header naming the event (`signal.opened`, `ping`, …).
pub const EVENT_HEADER: &str = "X-VivaCampo-Event";
/// Header carrying the delivery id (receivers dedupe by it).
pub const DELIVERY_HEADER: &str = "X-VivaCampo-Delivery";
/// Header carrying `t=UNIX,v1=HEX`.
pub const SIGNATURE_HEADER: &str = "X-VivaCampo-Signature";

/// How long one POST may take, connection included, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest part of a receiver's answer kept in the delivery log.
const MAX_ERROR_BODY: usize = 200;

/// HEX of HMAC-SHA256(`secret`, "`unix`.`body`").
pub fn signature_hex(secret: &str, unix: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `X-VivaCampo-Signature` value: `t=UNIX,v1=HEX`.
pub fn signature_header(secret: &str, unix: i64, body: &[u8]) -> String {
    format!("t={unix},v1={}", signature_hex(secret, unix, body))
}

/// Checks a `X-VivaCampo-Signature` value against the body, as a receiver does: the HMAC must
/// match and the timestamp be within `tolerance` of `now_unix`.
pub fn verify(secret: &str, header: &str, body: &[u8], now_unix: i64, tolerance: Duration) -> bool {
    let mut unix = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => unix = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(unix) = unix else { return false };
    if now_unix.abs_diff(unix) > tolerance.as_secs() {
        return false;
    }
    let expected = signature_hex(secret, unix, body);
    // Constant time over the hex: no early exit on the first differing byte.
    candidates.iter().any(|c| {
        c.len() == expected.len()
            && c.bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

/// What one POST got.
#[derive(Debug, Clone, PartialEq)]
pub enum PostOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// A non-2xx answer; `error` names the status and the start of the body.
    Rejected { status: u16, error: String },
    /// No answer: refused, unreachable, timed out.
    Unreachable { error: String },
    /// Not sent: the receiver's address is not public (and `webhook_allow_private` is off).
    /// Trying again will not help.
    NotPublic { error: String },
}

/// The error of a receiver whose address is not public. It names no address: the delivery
/// log would otherwise tell a workspace administrator what internal names resolve to.
const NOT_PUBLIC: &str = "the receiver's address is not a public internet address; webhooks \
                          are only delivered to public addresses";

/// A host name resolved to an address that is not public.
#[derive(Debug, thiserror::Error)]
#[error("{NOT_PUBLIC}")]
struct NotPublic;

/// Resolves host names for the webhook client, refusing a name if any of its addresses is not
/// public: all of them, since the connection may try each.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs
                .iter()
                .any(|a| !vivacampo_core::net::is_public_ip(a.ip()))
            {
                return Err(NotPublic.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends webhook deliveries.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookSender {
    /// A sender whose POSTs give up after `timeout`; with `allow_private` false (setting
    /// `webhook_allow_private`), only to public addresses. Redirects are not followed (a
    /// receiver must name its final URL; a redirect could send the body elsewhere, a private
    /// address included).
    pub fn new(timeout: Duration, allow_private: bool) -> Result<WebhookSender, reqwest::Error> {
        crate::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("VivaCampo-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(WebhookSender {
            client: builder.build()?,
            allow_private,
        })
    }

    /// Whether `url`'s host is refused before any lookup: a non-public IP address, which the
    /// client connects to without resolving. Names, `localhost` included, go to [`PublicOnly`].
    fn refuses_host(&self, url: &str) -> bool {
        if self.allow_private {
            return false;
        }
        match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
            Some(url::Host::Ipv4(ip)) => !vivacampo_core::net::is_public_ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => !vivacampo_core::net::is_public_ip(ip.into()),
            Some(url::Host::Domain(_)) | None => false,
        }
    }

    /// POSTs `body` (JSON) to `url`, signed with `secret` at `unix` (seconds).
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        event: &str,
        delivery_id: &str,
        body: &str,
        unix: i64,
    ) -> PostOutcome {
        if self.refuses_host(url) {
            return PostOutcome::NotPublic {
                error: NOT_PUBLIC.to_owned(),
            };
        }
        let request = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header(EVENT_HEADER, event)
            .header(DELIVERY_HEADER, delivery_id)
            .header(
                SIGNATURE_HEADER,
                signature_header(secret, unix, body.as_bytes()),
            )
            .body(body.to_owned());
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                if response.status().is_success() {
                    return PostOutcome::Delivered { status };
                }
                let text = response.text().await.unwrap_or_default();
                let excerpt: String = text.chars().take(MAX_ERROR_BODY).collect();
                let error = if excerpt.trim().is_empty() {
                    format!("the receiver answered {status}")
                } else {
                    format!("the receiver answered {status}: {}", excerpt.trim())
                };
                PostOutcome::Rejected { status, error }
            }
            Err(e) if caused_by_not_public(&e) => PostOutcome::NotPublic {
                error: NOT_PUBLIC.to_owned(),
            },
            Err(e) if e.is_timeout() => PostOutcome::Unreachable {
                error: "the receiver did not answer in time".into(),
            },
            Err(e) if e.is_connect() => PostOutcome::Unreachable {
                error: "the receiver could not be reached".into(),
            },
            Err(e) => PostOutcome::Unreachable {
                error: format!("the request failed: {}", without_url(&e)),
            },
        }
    }
}

/// Whether the resolver refused the receiver's host (somewhere in the error's causes).
fn caused_by_not_public(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<NotPublic>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A reqwest error's message without the URL (which may hold a token in its query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "(url)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2, and one computed with Python's `hmac` module:
    /// `hmac.new(b"whsec_test", b"1767225600.{\"id\":\"d1\"}", "sha256").hexdigest()`.
    #[test]
    fn signature_matches_reference_values() {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            signature_header("whsec_test", 1_767_225_600, br#"{"id":"d1"}"#),
            format!("t=1767225600,v1={}", PYTHON_REFERENCE)
        );
    }

    const PYTHON_REFERENCE: &str =
        "35a088a69a10894f3a183c40b865f2cad97d009df0cb9254b4aa6fd199dadaf6";

    #[test]
    fn verify_checks_mac_and_age() {
        let body = br#"{"event":"ping"}"#;
        let header = signature_header("s3cret", 1000, body);
        let tolerance = Duration::from_secs(300);
        assert!(verify("s3cret", &header, body, 1100, tolerance));
        assert!(!verify("other", &header, body, 1100, tolerance));
        assert!(!verify("s3cret", &header, b"{}", 1100, tolerance));
        assert!(!verify("s3cret", &header, body, 2000, tolerance));
        assert!(!verify("s3cret", "v1=abc", body, 1000, tolerance));
    }
}
