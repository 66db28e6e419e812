//! Signal delivery: a tenant's webhooks and their delivery log, members' notification
//! preferences, the events kept for daily e-mail digests, and the fan-out of one event into
//! delivery jobs (`DELIVER_WEBHOOK`, `SEND_EMAIL`) in one transaction.
//!
//! A delivery row follows its job: PENDING until the first attempt, DELIVERED on a 2xx, FAILED
//! while attempts remain, DEAD when the job ends DEAD (see `queue::job_ended_dead`).

use vivacampo_core::jobs::JobType;
use vivacampo_core::notify::{
    DeliverWebhookPayload, DeliveryStatus, EmailMode, EmailPrefs, MAX_WEBHOOKS_PER_TENANT,
    NotificationPrefs, NotifyPayload, SendEmailPayload, WebhookEvent, webhook_body,
};

use crate::queue::{self, NewJob};
use crate::{Result, Store, StoreError, col, new_id, now_ms, parse_col};

/// A tenant's webhook. `secret` signs its deliveries; the API shows it only at creation.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
    pub secret: String,
    pub created_at: i64,
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event: WebhookEvent,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub last_error: Option<String>,
    /// The JSON body sent on every attempt.
    pub payload: String,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered { response_status: i64 },
    /// A non-2xx answer (`response_status`) or no answer; the job will retry or end DEAD.
    Failed {
        response_status: Option<i64>,
        error: String,
    },
    /// Not sent and never will be (the receiver's address is not public): DEAD at once.
    Refused { error: String },
}

/// A member an e-mail goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub identity_id: String,
    pub email: String,
    pub name: String,
    pub prefs: NotificationPrefs,
}

/// What a fan-out created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    pub deliveries: usize,
    pub emails: usize,
    pub digest_items: usize,
}

/// One event kept for a member's digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestItem {
    pub id: String,
    pub payload: NotifyPayload,
    pub created_at: i64,
}

const WEBHOOK_COLUMNS: &str = "id, tenant_id, url, events, description, secret, created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event, status, attempts, response_status, last_error, payload, created_at, delivered_at";

fn webhook_from(row: &sqlx::any::AnyRow) -> Result<Webhook> {
    let events: String = col(row, "events")?;
    Ok(Webhook {
        id: col(row, "id")?,
        tenant_id: col(row, "tenant_id")?,
        url: col(row, "url")?,
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?,
        description: col(row, "description")?,
        secret: col(row, "secret")?,
        created_at: col(row, "created_at")?,
    })
}

fn delivery_from(row: &sqlx::any::AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: col(row, "id")?,
        webhook_id: col(row, "webhook_id")?,
        event: parse_col(row, "event")?,
        status: parse_col(row, "status")?,
        attempts: col(row, "attempts")?,
        response_status: col(row, "response_status")?,
        last_error: col(row, "last_error")?,
        payload: col(row, "payload")?,
        created_at: col(row, "created_at")?,
        delivered_at: col(row, "delivered_at")?,
    })
}

/// A new signing secret: 244 random bits as hex, prefixed so it is recognisable in a vault.
fn new_secret() -> String {
    format!(
        "whsec_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Inserts a delivery row and its `DELIVER_WEBHOOK` job. With a `source_key` already delivered
/// to this webhook, does nothing and returns `None`.
async fn insert_delivery(
    conn: &mut sqlx::AnyConnection,
    webhook: &Webhook,
    event: WebhookEvent,
    data: &serde_json::Value,
    source_key: Option<&str>,
) -> Result<Option<Delivery>> {
    if let Some(key) = source_key {
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND source_key = $2",
        )
        .bind(&webhook.id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        if existing.is_some() {
            return Ok(None);
        }
    }
    let id = new_id();
    let now = now_ms();
    let body = webhook_body(&id, event, now, &webhook.tenant_id, data);
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, source_key, tenant_id, webhook_id, event, payload, status, attempts,
                                         created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', 0, $7, $7)",
    )
    .bind(&id)
    .bind(source_key)
    .bind(&webhook.tenant_id)
    .bind(&webhook.id)
    .bind(event.as_str())
    .bind(&body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let payload = DeliverWebhookPayload {
        delivery_id: id.clone(),
        webhook_id: webhook.id.clone(),
    };
    queue::enqueue(
        conn,
        &NewJob {
            tenant_id: webhook.tenant_id.clone(),
            aoi_id: None,
            job_type: JobType::DeliverWebhook,
            idempotency_key: Some(format!("DELIVER_WEBHOOK:{id}")),
            payload: serde_json::to_value(&payload)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            run_after: None,
        },
    )
    .await?;
    Ok(Some(Delivery {
        id,
        webhook_id: webhook.id.clone(),
        event,
        status: DeliveryStatus::Pending,
        attempts: 0,
        response_status: None,
        last_error: None,
        payload: body,
        created_at: now,
        delivered_at: None,
    }))
}

async fn tenant_webhooks(conn: &mut sqlx::AnyConnection, tenant_id: &str) -> Result<Vec<Webhook>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id"
    )))
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(webhook_from).collect()
}

/// Marks the delivery of a `DELIVER_WEBHOOK` job that ended DEAD (called by the queue inside
/// the transaction that ends it).
pub(crate) async fn delivery_job_dead(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    payload: &serde_json::Value,
) -> Result<()> {
    let Some(delivery_id) = payload["delivery_id"].as_str() else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'DEAD', updated_at = $1
         WHERE id = $2 AND tenant_id = $3 AND status <> 'DELIVERED'",
    )
    .bind(now_ms())
    .bind(delivery_id)
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether the tenant has a webhook subscribed to `event`.
pub(crate) async fn has_subscriber(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    event: WebhookEvent,
) -> Result<bool> {
    Ok(tenant_webhooks(conn, tenant_id)
        .await?
        .iter()
        .any(|w| w.events.contains(&event)))
}

impl Store {
    /// Creates a webhook with a fresh secret. At most [`MAX_WEBHOOKS_PER_TENANT`] per tenant.
    pub async fn create_webhook(
        &self,
        tenant_id: &str,
        actor_id: Option<&str>,
        url: &str,
        events: &[WebhookEvent],
        description: Option<&str>,
    ) -> Result<Webhook> {
        let mut tx = self.begin().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= MAX_WEBHOOKS_PER_TENANT {
            return Err(StoreError::Quota(format!(
                "a workspace may have at most {MAX_WEBHOOKS_PER_TENANT} webhooks"
            )));
        }
        let webhook = Webhook {
            id: new_id(),
            tenant_id: tenant_id.to_owned(),
            url: url.to_owned(),
            events: events.to_vec(),
            description: description.map(str::to_owned),
            secret: new_secret(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO webhooks (id, tenant_id, url, events, description, secret, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&webhook.id)
        .bind(tenant_id)
        .bind(url)
        .bind(serde_json::to_string(events).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .bind(description)
        .bind(&webhook.secret)
        .bind(actor_id)
        .bind(webhook.created_at)
        .execute(&mut *tx)
        .await?;
        crate::audit::record(
            &mut tx,
            crate::audit::AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id,
                action: "CREATE",
                resource_type: "webhook",
                resource_id: &webhook.id,
                details: serde_json::json!({"url": url, "events": events}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(webhook)
    }

    /// A tenant's webhooks, oldest first.
    pub async fn webhooks(&self, tenant_id: &str) -> Result<Vec<Webhook>> {
        let mut conn = self.conn().await?;
        tenant_webhooks(&mut conn, tenant_id).await
    }

    /// One of a tenant's webhooks.
    pub async fn webhook(&self, tenant_id: &str, id: &str) -> Result<Webhook> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND tenant_id = $2"
        )))
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?;
        webhook_from(&row.ok_or(StoreError::NotFound)?)
    }

    /// Deletes a webhook and its delivery log; its pending deliveries are skipped.
    pub async fn delete_webhook(
        &self,
        tenant_id: &str,
        id: &str,
        actor_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        crate::audit::record(
            &mut tx,
            crate::audit::AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id,
                action: "DELETE",
                resource_type: "webhook",
                resource_id: id,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A webhook's deliveries, newest first, at most `limit`.
    pub async fn webhook_deliveries(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        self.webhook(tenant_id, webhook_id).await?;
        let mut conn = self.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND tenant_id = $2
             ORDER BY created_at DESC, id LIMIT $3"
        )))
        .bind(webhook_id)
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// One delivery of a tenant.
    pub async fn delivery(&self, tenant_id: &str, id: &str) -> Result<Delivery> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND tenant_id = $2"
        )))
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?;
        delivery_from(&row.ok_or(StoreError::NotFound)?)
    }

    /// Queues a `ping` delivery to a webhook (the test route).
    pub async fn enqueue_webhook_ping(
        &self,
        tenant_id: &str,
        webhook_id: &str,
    ) -> Result<Delivery> {
        let webhook = self.webhook(tenant_id, webhook_id).await?;
        let mut tx = self.begin().await?;
        let data = serde_json::json!({"webhook_id": webhook.id, "message": "Test delivery from VivaCampo."});
        let delivery = insert_delivery(&mut tx, &webhook, WebhookEvent::Ping, &data, None)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a ping has no source key".into()))?;
        tx.commit().await?;
        Ok(delivery)
    }

    /// Records one attempt of a delivery: DELIVERED with its answer, or FAILED (the queue
    /// turns it DEAD when the job runs out of attempts).
    pub async fn record_delivery_attempt(
        &self,
        tenant_id: &str,
        delivery_id: &str,
        attempt: i64,
        outcome: &AttemptOutcome,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        let now = now_ms();
        match outcome {
            AttemptOutcome::Delivered { response_status } => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'DELIVERED', attempts = $1, response_status = $2,
                     last_error = NULL, delivered_at = $3, updated_at = $3 WHERE id = $4 AND tenant_id = $5",
                )
                .bind(attempt)
                .bind(*response_status)
                .bind(now)
                .bind(delivery_id)
                .bind(tenant_id)
                .execute(&mut *conn)
                .await?;
            }
            AttemptOutcome::Failed {
                response_status,
                error,
            } => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'FAILED', attempts = $1, response_status = $2,
                     last_error = $3, updated_at = $4 WHERE id = $5 AND tenant_id = $6 AND status <> 'DELIVERED'",
                )
                .bind(attempt)
                .bind(*response_status)
                .bind(error)
                .bind(now)
                .bind(delivery_id)
                .bind(tenant_id)
                .execute(&mut *conn)
                .await?;
            }
            AttemptOutcome::Refused { error } => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'DEAD', attempts = $1, response_status = NULL,
                     last_error = $2, updated_at = $3 WHERE id = $4 AND tenant_id = $5 AND status <> 'DELIVERED'",
                )
                .bind(attempt)
                .bind(error)
                .bind(now)
                .bind(delivery_id)
                .bind(tenant_id)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }

    /// A member's notification preferences (the defaults when never set).
    pub async fn notification_prefs(
        &self,
        tenant_id: &str,
        identity_id: &str,
    ) -> Result<NotificationPrefs> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT email_signals, language FROM notification_prefs WHERE tenant_id = $1 AND identity_id = $2",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            None => Ok(NotificationPrefs::default()),
            Some(row) => Ok(NotificationPrefs {
                email: EmailPrefs {
                    signals: parse_col(&row, "email_signals")?,
                    language: parse_col(&row, "language")?,
                },
            }),
        }
    }

    /// Stores a member's notification preferences.
    pub async fn set_notification_prefs(
        &self,
        tenant_id: &str,
        identity_id: &str,
        prefs: NotificationPrefs,
    ) -> Result<NotificationPrefs> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO notification_prefs (tenant_id, identity_id, email_signals, language, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, identity_id) DO UPDATE SET email_signals = excluded.email_signals,
                 language = excluded.language, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .bind(prefs.email.signals.as_str())
        .bind(prefs.email.language.as_str())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(prefs)
    }

    /// A member of the tenant, with their e-mail address and preferences; `NotFound` when the
    /// identity is no longer a member.
    pub async fn recipient(&self, tenant_id: &str, identity_id: &str) -> Result<Recipient> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT i.email, i.name, p.email_signals, p.language FROM memberships m
             JOIN identities i ON i.id = m.identity_id
             LEFT JOIN notification_prefs p ON p.tenant_id = m.tenant_id AND p.identity_id = m.identity_id
             WHERE m.tenant_id = $1 AND m.identity_id = $2",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut prefs = NotificationPrefs::default();
        if let Some(mode) = col::<Option<String>>(&row, "email_signals")? {
            prefs.email.signals = mode
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("email_signals: {e}")))?;
            prefs.email.language = parse_col(&row, "language")?;
        }
        Ok(Recipient {
            identity_id: identity_id.to_owned(),
            email: col(&row, "email")?,
            name: col(&row, "name")?,
            prefs,
        })
    }

    /// Fans one event out, in one transaction: a delivery and a `DELIVER_WEBHOOK` job per
    /// webhook subscribed to it; for signal events with `email` on, a `SEND_EMAIL` job per
    /// member who wants instant e-mails and a digest item per member who wants a daily one.
    /// `source_key` (the NOTIFY job's id) makes a second run of the same event add nothing.
    pub async fn fan_out(
        &self,
        payload: &NotifyPayload,
        source_key: &str,
        email: bool,
    ) -> Result<FanOut> {
        let tenant_id = payload.tenant_id.as_str();
        let mut tx = self.begin().await?;
        let mut result = FanOut::default();
        for webhook in tenant_webhooks(&mut tx, tenant_id).await? {
            if !webhook.events.contains(&payload.event) {
                continue;
            }
            if insert_delivery(
                &mut tx,
                &webhook,
                payload.event,
                &payload.data,
                Some(source_key),
            )
            .await?
            .is_some()
            {
                result.deliveries += 1;
            }
        }
        if email && payload.event.is_signal() {
            let members = sqlx::query(
                "SELECT p.identity_id, p.email_signals FROM notification_prefs p
                 JOIN memberships m ON m.tenant_id = p.tenant_id AND m.identity_id = p.identity_id
                 WHERE p.tenant_id = $1 AND p.email_signals <> 'off' ORDER BY p.identity_id",
            )
            .bind(tenant_id)
            .fetch_all(&mut *tx)
            .await?;
            let now = now_ms();
            for row in &members {
                let identity_id: String = col(row, "identity_id")?;
                let mode: EmailMode = parse_col(row, "email_signals")?;
                match mode {
                    EmailMode::Off => {}
                    EmailMode::Instant => {
                        let job = SendEmailPayload {
                            identity_id: identity_id.clone(),
                            notify: payload.clone(),
                        };
                        let created = queue::enqueue(
                            &mut tx,
                            &NewJob {
                                tenant_id: tenant_id.to_owned(),
                                aoi_id: None,
                                job_type: JobType::SendEmail,
                                idempotency_key: Some(format!(
                                    "SEND_EMAIL:{source_key}:{identity_id}"
                                )),
                                payload: serde_json::to_value(&job)
                                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                                run_after: None,
                            },
                        )
                        .await?
                        .created;
                        result.emails += usize::from(created);
                    }
                    EmailMode::Daily => {
                        let inserted = sqlx::query(
                            "INSERT INTO email_digest_items (id, source_key, tenant_id, identity_id, payload, created_at)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (identity_id, source_key) DO NOTHING",
                        )
                        .bind(new_id())
                        .bind(source_key)
                        .bind(tenant_id)
                        .bind(&identity_id)
                        .bind(
                            serde_json::to_string(payload)
                                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        )
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        result.digest_items += inserted.rows_affected() as usize;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(result)
    }

    /// The events waiting for a member's digest, oldest first.
    pub async fn digest_items(
        &self,
        tenant_id: &str,
        identity_id: &str,
    ) -> Result<Vec<DigestItem>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, payload, created_at FROM email_digest_items
             WHERE tenant_id = $1 AND identity_id = $2 AND sent_at IS NULL ORDER BY created_at, id",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                let payload: String = col(row, "payload")?;
                Ok(DigestItem {
                    id: col(row, "id")?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("digest item: {e}")))?,
                    created_at: col(row, "created_at")?,
                })
            })
            .collect()
    }

    /// Marks digest items as sent.
    pub async fn mark_digest_sent(&self, tenant_id: &str, ids: &[String]) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        for id in ids {
            sqlx::query(
                "UPDATE email_digest_items SET sent_at = $1 WHERE id = $2 AND tenant_id = $3",
            )
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The daily digest: one `EMAIL_DIGEST` job per member with unsent digest items, keyed by
    /// date so a second run the same day adds nothing. Records the date and returns how many
    /// jobs it created.
    pub async fn enqueue_daily_digests(
        &self,
        name: &str,
        owner: &str,
        date: &str,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT DISTINCT d.tenant_id, d.identity_id FROM email_digest_items d
             JOIN tenants t ON t.id = d.tenant_id
             WHERE d.sent_at IS NULL AND t.status = 'ACTIVE' ORDER BY d.tenant_id, d.identity_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let tenant_id: String = col(row, "tenant_id")?;
            let identity_id: String = col(row, "identity_id")?;
            jobs.push(NewJob {
                idempotency_key: Some(format!("EMAIL_DIGEST:{identity_id}:{date}")),
                tenant_id,
                aoi_id: None,
                job_type: JobType::EmailDigest,
                payload: serde_json::json!({"identity_id": identity_id, "day": date}),
                run_after: None,
            });
        }
        crate::schedule::record_run(tx, name, owner, date, &jobs).await
    }
}
