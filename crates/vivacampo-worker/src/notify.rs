//! The notification jobs, around the product's other handlers ([`Notifying`]):
//!
//! - `NOTIFY`: fans one event (`signal.opened`, `signal.resolved`, `job.dead`) out into a
//!   delivery and a `DELIVER_WEBHOOK` job per subscribed webhook, a `SEND_EMAIL` job per member
//!   who wants instant e-mails and a digest item per member who wants a daily one.
//! - `DELIVER_WEBHOOK`: one signed POST; the delivery row records each attempt; a non-2xx or
//!   no answer fails the attempt, so the queue retries with backoff and ends it DEAD. A
//!   receiver whose address is not public is not retried: its delivery is DEAD at once.
//! - `SEND_EMAIL` / `EMAIL_DIGEST`: the e-mail in the member's language over SMTP.
//!
//! The `webhooks` and `email` flags hold the delivery jobs PENDING (the queue's flag gate).

use std::future::Future;
use std::pin::Pin;

use vivacampo_core::jobs::JobType;
use vivacampo_core::notify::{
    DeliverWebhookPayload, DeliveryStatus, EmailDigestPayload, EmailMode, NotifyPayload,
    SendEmailPayload,
};
use vivacampo_notify::email::{SignalNotice, digest_email, field_link, signal_email};
use vivacampo_notify::outline::outline_png;
use vivacampo_notify::smtp::SmtpClient;
use vivacampo_notify::webhook::{PostOutcome, WebhookSender};
use vivacampo_store::StoreError;
use vivacampo_store::notifications::AttemptOutcome;

use crate::handlers::{HandlerResult, JobContext, JobHandler};

/// Side of the field outline drawn into e-mails (pixels).
const OUTLINE_PX: u32 = 160;

/// What the notification jobs need.
#[derive(Clone)]
pub struct Notifier {
    pub webhooks: WebhookSender,
    /// The SMTP server; `None`: no e-mails are sent (NOTIFY creates no e-mail jobs).
    pub smtp: Option<SmtpClient>,
    /// The web app's address, for links to the field (`public_url`).
    pub public_url: Option<String>,
}

/// Runs the notification jobs and hands every other job to `inner`.
pub struct Notifying<H> {
    pub inner: H,
    pub notifier: Notifier,
}

/// Whether a job type is one of the notification jobs.
pub fn is_notification_job(job_type: JobType) -> bool {
    matches!(
        job_type,
        JobType::Notify | JobType::DeliverWebhook | JobType::SendEmail | JobType::EmailDigest
    )
}

impl<H: JobHandler> JobHandler for Notifying<H> {
    fn handle(&self, ctx: JobContext) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>> {
        match ctx.job.job_type {
            JobType::Notify => Box::pin(async move { self.notifier.notify(&ctx).await }),
            JobType::DeliverWebhook => Box::pin(async move { self.notifier.deliver(&ctx).await }),
            JobType::SendEmail => Box::pin(async move { self.notifier.send_email(&ctx).await }),
            JobType::EmailDigest => Box::pin(async move { self.notifier.digest(&ctx).await }),
            _ => self.inner.handle(ctx),
        }
    }
}

fn payload<T: serde::de::DeserializeOwned>(ctx: &JobContext) -> Result<T, String> {
    serde_json::from_value(ctx.job.payload.clone())
        .map_err(|e| format!("{} payload: {e}", ctx.job.job_type))
}

fn store_error(e: StoreError) -> String {
    e.to_string()
}

fn skipped(reason: &str) -> HandlerResult {
    Ok(serde_json::json!({"skipped": reason}))
}

impl Notifier {
    async fn notify(&self, ctx: &JobContext) -> HandlerResult {
        let event: NotifyPayload = payload(ctx)?;
        if event.tenant_id != ctx.job.tenant_id {
            return Err("NOTIFY payload names another workspace".into());
        }
        let fan = ctx
            .store
            .fan_out(&event, &ctx.job.id, self.smtp.is_some())
            .await
            .map_err(store_error)?;
        Ok(serde_json::json!({
            "event": event.event,
            "deliveries": fan.deliveries,
            "emails": fan.emails,
            "digest_items": fan.digest_items,
        }))
    }

    async fn deliver(&self, ctx: &JobContext) -> HandlerResult {
        let p: DeliverWebhookPayload = payload(ctx)?;
        let tenant = ctx.job.tenant_id.as_str();
        let webhook = match ctx.store.webhook(tenant, &p.webhook_id).await {
            Ok(w) => w,
            Err(StoreError::NotFound) => return skipped("the webhook was deleted"),
            Err(e) => return Err(store_error(e)),
        };
        let delivery = match ctx.store.delivery(tenant, &p.delivery_id).await {
            Ok(d) => d,
            Err(StoreError::NotFound) => return skipped("the delivery was deleted"),
            Err(e) => return Err(store_error(e)),
        };
        if delivery.status == DeliveryStatus::Delivered {
            return skipped("already delivered");
        }
        let unix = time::OffsetDateTime::now_utc().unix_timestamp();
        let outcome = self
            .webhooks
            .post(
                &webhook.url,
                &webhook.secret,
                delivery.event.as_str(),
                &delivery.id,
                &delivery.payload,
                unix,
            )
            .await;
        let (record, result) = match outcome {
            PostOutcome::Delivered { status } => (
                AttemptOutcome::Delivered {
                    response_status: i64::from(status),
                },
                Ok(serde_json::json!({"delivery_id": delivery.id, "response_status": status})),
            ),
            PostOutcome::Rejected { status, error } => (
                AttemptOutcome::Failed {
                    response_status: Some(i64::from(status)),
                    error: error.clone(),
                },
                Err(error),
            ),
            PostOutcome::Unreachable { error } => (
                AttemptOutcome::Failed {
                    response_status: None,
                    error: error.clone(),
                },
                Err(error),
            ),
            // The URL or what its name resolves to will not turn public within the retries'
            // minutes, and retrying a DNS-rebinding host only gives it more tries: the
            // delivery ends DEAD now and the job succeeds, having nothing more to do.
            PostOutcome::NotPublic { error } => (
                AttemptOutcome::Refused {
                    error: error.clone(),
                },
                Ok(serde_json::json!({"delivery_id": delivery.id, "refused": error})),
            ),
        };
        ctx.store
            .record_delivery_attempt(tenant, &delivery.id, ctx.job.attempts, &record)
            .await
            .map_err(store_error)?;
        result
    }

    fn smtp(&self) -> Result<&SmtpClient, String> {
        self.smtp
            .as_ref()
            .ok_or_else(|| "no mail server is configured (smtp_url)".to_owned())
    }

    async fn send_email(&self, ctx: &JobContext) -> HandlerResult {
        let smtp = self.smtp()?;
        let p: SendEmailPayload = payload(ctx)?;
        let tenant = ctx.job.tenant_id.as_str();
        let recipient = match ctx.store.recipient(tenant, &p.identity_id).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => return skipped("no longer a member"),
            Err(e) => return Err(store_error(e)),
        };
        if recipient.prefs.email.signals == EmailMode::Off {
            return skipped("the member turned signal e-mails off");
        }
        let language = recipient.prefs.email.language;
        let text = p.notify.text(language);
        let data = &p.notify.data;
        let image = match data["aoi_id"].as_str() {
            Some(aoi_id) => match ctx.store.aoi(tenant, aoi_id).await {
                Ok(aoi) => outline_png(&aoi.geometry, OUTLINE_PX),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(store_error(e)),
            },
            None => None,
        };
        let notice = SignalNotice {
            event: p.notify.event,
            text: &text,
            data,
            link: self
                .public_url
                .as_deref()
                .and_then(|url| field_link(url, data)),
        };
        let email = signal_email(
            &smtp.config().from,
            &recipient.email,
            language,
            &notice,
            image,
        );
        smtp.send(
            &recipient.email,
            &email.to_message(time::OffsetDateTime::now_utc()),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(serde_json::json!({"language": language, "event": p.notify.event}))
    }

    async fn digest(&self, ctx: &JobContext) -> HandlerResult {
        let smtp = self.smtp()?;
        let p: EmailDigestPayload = payload(ctx)?;
        let tenant = ctx.job.tenant_id.as_str();
        let items = ctx
            .store
            .digest_items(tenant, &p.identity_id)
            .await
            .map_err(store_error)?;
        if items.is_empty() {
            return skipped("nothing to send");
        }
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        let recipient = match ctx.store.recipient(tenant, &p.identity_id).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => {
                ctx.store
                    .mark_digest_sent(tenant, &ids)
                    .await
                    .map_err(store_error)?;
                return skipped("no longer a member");
            }
            Err(e) => return Err(store_error(e)),
        };
        if recipient.prefs.email.signals != EmailMode::Daily {
            ctx.store
                .mark_digest_sent(tenant, &ids)
                .await
                .map_err(store_error)?;
            return skipped("the member no longer wants a daily digest");
        }
        let language = recipient.prefs.email.language;
        let texts: Vec<_> = items.iter().map(|i| i.payload.text(language)).collect();
        let notices: Vec<SignalNotice<'_>> = items
            .iter()
            .zip(&texts)
            .map(|(item, text)| SignalNotice {
                event: item.payload.event,
                text,
                data: &item.payload.data,
                link: self
                    .public_url
                    .as_deref()
                    .and_then(|url| field_link(url, &item.payload.data)),
            })
            .collect();
        let email = digest_email(&smtp.config().from, &recipient.email, language, &notices);
        smtp.send(
            &recipient.email,
            &email.to_message(time::OffsetDateTime::now_utc()),
        )
        .await
        .map_err(|e| e.to_string())?;
        ctx.store
            .mark_digest_sent(tenant, &ids)
            .await
            .map_err(store_error)?;
        Ok(serde_json::json!({"events": ids.len(), "language": language, "day": p.day}))
    }
}
