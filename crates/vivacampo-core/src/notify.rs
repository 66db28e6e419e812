//! Notifications: webhook events, delivery states, members' e-mail preferences and the payloads
//! of the jobs that deliver them. No I/O: sending lives in `vivacampo-notify`, rows in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::signals::Language;
use crate::wire_enum;

wire_enum!(
    /// What a webhook is told about. `ping` is only sent by the test route.
    WebhookEvent {
        SignalOpened => "signal.opened",
        SignalResolved => "signal.resolved",
        JobDead => "job.dead",
        Ping => "ping",
    }
);

impl WebhookEvent {
    /// Events a webhook may subscribe to (not `ping`).
    pub const SUBSCRIBABLE: &'static [WebhookEvent] = &[
        WebhookEvent::SignalOpened,
        WebhookEvent::SignalResolved,
        WebhookEvent::JobDead,
    ];

    /// Signal events (the ones members get e-mails about).
    pub fn is_signal(self) -> bool {
        matches!(
            self,
            WebhookEvent::SignalOpened | WebhookEvent::SignalResolved
        )
    }
}

wire_enum!(
    /// Where one webhook delivery is. `FAILED` will be retried; `DEAD` is out of attempts.
    DeliveryStatus {
        Pending => "PENDING",
        Delivered => "DELIVERED",
        Failed => "FAILED",
        Dead => "DEAD",
    }
);

wire_enum!(
    /// How a member wants e-mails about signals.
    EmailMode {
        Off => "off",
        Instant => "instant",
        Daily => "daily",
    }
);

/// Longest webhook URL accepted.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2000;
/// Most webhooks per workspace.
pub const MAX_WEBHOOKS_PER_TENANT: i64 = 20;

/// A member's notification preferences (`GET/PUT /v1/me/notifications`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefs {
    pub email: EmailPrefs,
}

/// E-mail part of [`NotificationPrefs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailPrefs {
    pub signals: EmailMode,
    pub language: Language,
}

impl Default for NotificationPrefs {
    /// No e-mail until the member asks; pt-BR, the product's first language.
    fn default() -> Self {
        NotificationPrefs {
            email: EmailPrefs {
                signals: EmailMode::Off,
                language: Language::PtBr,
            },
        }
    }
}

/// A signal's text in one language, as the `NOTIFY` payload carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventText {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub actions: Vec<String>,
}

/// The payload of a `NOTIFY` job: one event to fan out to the tenant's webhooks and members.
/// Signal events carry the Signal JSON (English texts) in `data` and the texts of both
/// languages in `texts` (keys `pt-BR`, `en`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyPayload {
    pub tenant_id: String,
    pub event: WebhookEvent,
    pub data: serde_json::Value,
    #[serde(default)]
    pub texts: BTreeMap<String, EventText>,
}

impl NotifyPayload {
    /// The text in `language`, else the English one, else one made of the data's title.
    pub fn text(&self, language: Language) -> EventText {
        self.texts
            .get(language.as_str())
            .or_else(|| self.texts.get(Language::En.as_str()))
            .cloned()
            .unwrap_or_else(|| EventText {
                title: self.data["title"].as_str().unwrap_or_default().to_owned(),
                explanation: self.data["explanation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                actions: Vec::new(),
            })
    }
}

/// The body of a webhook delivery: `{id, event, created_at, tenant_id, data}` with `created_at`
/// in RFC 3339 (UTC, seconds).
pub fn webhook_body(
    delivery_id: &str,
    event: WebhookEvent,
    created_at_ms: i64,
    tenant_id: &str,
    data: &serde_json::Value,
) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let created_at =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(created_at_ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_default();
    serde_json::json!({
        "id": delivery_id,
        "event": event,
        "created_at": created_at,
        "tenant_id": tenant_id,
        "data": data,
    })
    .to_string()
}

/// The payload of a `DELIVER_WEBHOOK` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverWebhookPayload {
    pub delivery_id: String,
    pub webhook_id: String,
}

/// The payload of a `SEND_EMAIL` job: one event to one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendEmailPayload {
    pub identity_id: String,
    pub notify: NotifyPayload,
}

/// The payload of an `EMAIL_DIGEST` job: one member's signal events of a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailDigestPayload {
    pub identity_id: String,
    /// The day the digest covers (YYYY-MM-DD, UTC).
    pub day: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_round_trip_in_the_contract_shape() {
        let json = serde_json::json!({"email": {"signals": "daily", "language": "en"}});
        let prefs: NotificationPrefs = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(prefs.email.signals, EmailMode::Daily);
        assert_eq!(serde_json::to_value(prefs).unwrap(), json);
        let bad = serde_json::json!({"email": {"signals": "weekly", "language": "en"}});
        assert!(
            serde_json::from_value::<NotificationPrefs>(bad)
                .unwrap_err()
                .to_string()
                .contains("weekly")
        );
    }

    #[test]
    fn webhook_body_has_the_contract_fields() {
        let body = webhook_body(
            "d1",
            WebhookEvent::Ping,
            1_767_225_600_000,
            "t1",
            &serde_json::json!({}),
        );
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "d1", "event": "ping", "created_at": "2026-01-01T00:00:00Z",
                               "tenant_id": "t1", "data": {}})
        );
    }

    #[test]
    fn text_falls_back_to_english_then_data() {
        let mut payload = NotifyPayload {
            tenant_id: "t".into(),
            event: WebhookEvent::SignalOpened,
            data: serde_json::json!({"title": "Low vigor"}),
            texts: BTreeMap::new(),
        };
        assert_eq!(payload.text(Language::PtBr).title, "Low vigor");
        payload.texts.insert(
            "en".into(),
            EventText {
                title: "Low vigour".into(),
                ..EventText::default()
            },
        );
        assert_eq!(payload.text(Language::PtBr).title, "Low vigour");
    }
}
