//! Webhooks, deliveries, notification preferences and the event fan-out on both engines:
//! tenant isolation, a NOTIFY that runs twice delivers once, a DELIVER_WEBHOOK job that ends
//! DEAD marks its delivery DEAD, and any other dead job becomes a `job.dead` event.

use vivacampo_core::jobs::{JobStatus, JobType};
use vivacampo_core::notify::{
    DeliveryStatus, EmailMode, EmailPrefs, NotificationPrefs, NotifyPayload, WebhookEvent,
};
use vivacampo_core::signals::Language;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::notifications::AttemptOutcome;
use vivacampo_store::queue::{JobFilter, NewJob};
use vivacampo_store::testing::{TestDb, make_job_ready};
use vivacampo_store::{PageRequest, Store, StoreError};

async fn tenant(store: &Store, email: &str) -> (String, String) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email,
                name: "Ana",
                password_hash: "hash",
                is_system_admin: false,
            },
            "Fazenda",
        )
        .await
        .unwrap();
    (identity.id, tenant.id)
}

fn opened(tenant: &str) -> NotifyPayload {
    serde_json::from_value(serde_json::json!({
        "tenant_id": tenant, "event": "signal.opened",
        "data": {"id": "s1", "type": "LOW_VIGOR", "title": "Low vigour"},
        "texts": {"pt-BR": {"title": "Vigor baixo", "explanation": "", "actions": []},
                  "en": {"title": "Low vigour", "explanation": "", "actions": []}}
    }))
    .unwrap()
}

async fn jobs(store: &Store, tenant: &str, job_type: JobType) -> Vec<vivacampo_store::queue::Job> {
    store
        .list_jobs(
            Some(tenant),
            &JobFilter {
                job_type: Some(job_type),
                ..JobFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn webhooks_belong_to_their_tenant() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, t1) = tenant(store, "ana@x.io").await;
        let (_, t2) = tenant(store, "bia@x.io").await;
        let hook = store
            .create_webhook(
                &t1,
                Some(&ana),
                "https://example.com/hook",
                &[WebhookEvent::SignalOpened, WebhookEvent::JobDead],
                Some("ERP"),
            )
            .await
            .unwrap();
        assert!(hook.secret.starts_with("whsec_") && hook.secret.len() == 70);
        assert_eq!(store.webhooks(&t1).await.unwrap(), vec![hook.clone()]);
        assert!(store.webhooks(&t2).await.unwrap().is_empty());
        assert!(matches!(
            store.webhook(&t2, &hook.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.webhook_deliveries(&t2, &hook.id, 10).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.enqueue_webhook_ping(&t2, &hook.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_webhook(&t2, &hook.id, None).await,
            Err(StoreError::NotFound)
        ));
        let ping = store.enqueue_webhook_ping(&t1, &hook.id).await.unwrap();
        assert_eq!(
            (ping.event, ping.status, ping.attempts),
            (WebhookEvent::Ping, DeliveryStatus::Pending, 0)
        );
        let body: serde_json::Value = serde_json::from_str(&ping.payload).unwrap();
        assert_eq!(body["id"], ping.id.as_str());
        assert_eq!(body["event"], "ping");
        assert_eq!(body["tenant_id"], t1.as_str());
        let job = &jobs(store, &t1, JobType::DeliverWebhook).await[0];
        assert_eq!(job.payload["delivery_id"], ping.id.as_str());
        store
            .record_delivery_attempt(
                &t1,
                &ping.id,
                1,
                &AttemptOutcome::Delivered {
                    response_status: 200,
                },
            )
            .await
            .unwrap();
        let listed = store.webhook_deliveries(&t1, &hook.id, 10).await.unwrap();
        assert_eq!(
            (
                listed[0].status,
                listed[0].attempts,
                listed[0].response_status
            ),
            (DeliveryStatus::Delivered, 1, Some(200))
        );
        store
            .delete_webhook(&t1, &hook.id, Some(&ana))
            .await
            .unwrap();
        assert!(store.webhooks(&t1).await.unwrap().is_empty());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_workspace_has_at_most_20_webhooks() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, t) = tenant(store, "ana@x.io").await;
        for i in 0..20 {
            store
                .create_webhook(
                    &t,
                    None,
                    &format!("https://example.com/{i}"),
                    &[WebhookEvent::JobDead],
                    None,
                )
                .await
                .unwrap();
        }
        let err = store
            .create_webhook(
                &t,
                None,
                "https://example.com/x",
                &[WebhookEvent::JobDead],
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "a workspace may have at most 20 webhooks");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn fan_out_is_idempotent_and_follows_preferences() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, t) = tenant(store, "ana@x.io").await;
        let (bia, other) = tenant(store, "bia@x.io").await;
        assert_eq!(
            store.notification_prefs(&t, &ana).await.unwrap(),
            NotificationPrefs::default()
        );
        let daily = NotificationPrefs {
            email: EmailPrefs {
                signals: EmailMode::Daily,
                language: Language::En,
            },
        };
        assert_eq!(
            store.set_notification_prefs(&t, &ana, daily).await.unwrap(),
            daily
        );
        assert_eq!(store.notification_prefs(&t, &ana).await.unwrap(), daily);
        // Preferences are per workspace: bia's own workspace keeps hers.
        store
            .set_notification_prefs(
                &other,
                &bia,
                NotificationPrefs {
                    email: EmailPrefs {
                        signals: EmailMode::Instant,
                        language: Language::PtBr,
                    },
                },
            )
            .await
            .unwrap();
        store
            .create_webhook(
                &t,
                None,
                "https://example.com/a",
                &[WebhookEvent::SignalOpened],
                None,
            )
            .await
            .unwrap();
        store
            .create_webhook(
                &t,
                None,
                "https://example.com/b",
                &[WebhookEvent::SignalResolved],
                None,
            )
            .await
            .unwrap();
        let first = store.fan_out(&opened(&t), "notify-1", true).await.unwrap();
        assert_eq!(
            (first.deliveries, first.emails, first.digest_items),
            (1, 0, 1)
        );
        let again = store.fan_out(&opened(&t), "notify-1", true).await.unwrap();
        assert_eq!(
            (again.deliveries, again.emails, again.digest_items),
            (0, 0, 0)
        );
        assert_eq!(jobs(store, &t, JobType::DeliverWebhook).await.len(), 1);
        let items = store.digest_items(&t, &ana).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].payload.text(Language::En).title, "Low vigour");
        // Without a mail server no e-mail work is created.
        let no_mail = store.fan_out(&opened(&t), "notify-2", false).await.unwrap();
        assert_eq!((no_mail.deliveries, no_mail.digest_items), (1, 0));
        // The other workspace's instant member gets nothing from this one's events.
        assert!(jobs(store, &other, JobType::SendEmail).await.is_empty());

        assert!(
            store
                .acquire_schedule_lease("daily-digest", "w1", 60_000)
                .await
                .unwrap()
        );
        let created = store
            .enqueue_daily_digests("daily-digest", "w1", "2026-12-05")
            .await
            .unwrap();
        assert_eq!(created, 1);
        let digest = &jobs(store, &t, JobType::EmailDigest).await[0];
        assert_eq!(digest.payload["identity_id"], ana.as_str());
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        store.mark_digest_sent(&t, &ids).await.unwrap();
        assert!(store.digest_items(&t, &ana).await.unwrap().is_empty());
        db.drop_db().await;
    }
}

/// Fails a leased job once; returns its new status.
async fn fail_once(store: &Store, id: &str) -> JobStatus {
    make_job_ready(store, id).await.unwrap();
    let leased = store
        .lease_job("w1", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a ready job");
    assert_eq!(leased.job.id, id);
    store
        .fail_job(id, "w1", leased.attempt, "it broke")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn dead_jobs_become_job_dead_events_and_dead_deliveries() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, t) = tenant(store, "ana@x.io").await;
        let hook = store
            .create_webhook(
                &t,
                None,
                "https://example.com/a",
                &[WebhookEvent::JobDead],
                None,
            )
            .await
            .unwrap();
        let id = store
            .enqueue(NewJob {
                tenant_id: t.clone(),
                aoi_id: None,
                job_type: JobType::Retention,
                idempotency_key: None,
                payload: serde_json::json!({}),
                run_after: None,
            })
            .await
            .unwrap()
            .job
            .id;
        assert_eq!(fail_once(store, &id).await, JobStatus::Failed);
        assert!(jobs(store, &t, JobType::Notify).await.is_empty());
        assert_eq!(fail_once(store, &id).await, JobStatus::Failed);
        assert_eq!(fail_once(store, &id).await, JobStatus::Dead);
        let notify = jobs(store, &t, JobType::Notify).await;
        assert_eq!(notify.len(), 1);
        let payload: NotifyPayload = serde_json::from_value(notify[0].payload.clone()).unwrap();
        assert_eq!(payload.event, WebhookEvent::JobDead);
        assert_eq!(payload.data["job_id"], id.as_str());
        assert_eq!(payload.data["last_error"], "it broke");

        // The delivery job of that event, out of attempts: its delivery is DEAD, and no new
        // job.dead event follows (no loop).
        store.cancel_job(&t, &notify[0].id).await.unwrap();
        store.fan_out(&payload, &notify[0].id, false).await.unwrap();
        let deliver = jobs(store, &t, JobType::DeliverWebhook).await[0].id.clone();
        for _ in 0..5 {
            assert_eq!(fail_once(store, &deliver).await, JobStatus::Failed);
        }
        assert_eq!(fail_once(store, &deliver).await, JobStatus::Dead);
        let deliveries = store.webhook_deliveries(&t, &hook.id, 10).await.unwrap();
        assert_eq!(deliveries[0].status, DeliveryStatus::Dead);
        assert_eq!(jobs(store, &t, JobType::Notify).await.len(), 1);
        db.drop_db().await;
    }
}
