//! Signal delivery end to end through the worker loop, over real protocols on loopback: a
//! webhook receiver (axum) that checks the signature, a receiver that answers 500, and an SMTP
//! server speaking real SMTP. SQLite, and PostgreSQL when configured.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::watch;
use vivacampo_core::jobs::{JobStatus, JobType};
use vivacampo_core::metrics::Registry;
use vivacampo_core::notify::{
    DeliveryStatus, EmailMode, EmailPrefs, NotificationPrefs, WebhookEvent,
};
use vivacampo_core::signals::Language;
use vivacampo_core::tenancy::Role;
use vivacampo_notify::smtp::{SmtpClient, SmtpConfig};
use vivacampo_notify::testing::{ServerBehaviour, SmtpServer};
use vivacampo_notify::webhook::{WebhookSender, verify};
use vivacampo_store::PageRequest;
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::queue::{JobFilter, NewJob};
use vivacampo_store::testing::{TestDb, make_job_ready};
use vivacampo_worker::handlers::{HandlerResult, JobContext};
use vivacampo_worker::{JobHandler, Notifier, Notifying, Worker, WorkerConfig};

/// The product's other jobs: BACKFILL succeeds doing nothing, RETENTION fails (for job.dead).
struct Others;

impl JobHandler for Others {
    fn handle(&self, ctx: JobContext) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>> {
        Box::pin(async move {
            match ctx.job.job_type {
                JobType::Retention => Err("the sweep failed".into()),
                _ => Ok(serde_json::json!({})),
            }
        })
    }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        worker_id: "notify-test".into(),
        concurrency: 2,
        lease: Duration::from_secs(10),
        heartbeat: Duration::from_millis(500),
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
        job_timeout: None,
    }
}

/// The notifier of the tests, whose receivers are on loopback: `webhook_allow_private` on.
fn notifier(smtp: Option<&SmtpServer>) -> Notifier {
    Notifier {
        webhooks: WebhookSender::new(Duration::from_secs(5), true).unwrap(),
        smtp: smtp.map(|s| {
            SmtpClient::new(SmtpConfig::from_url(&s.url(), "alertas@vivacampo.example").unwrap())
        }),
        public_url: Some("https://app.vivacampo.example".into()),
    }
}

fn start(store: &Store, notifier: Notifier) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let handlers = Notifying {
        inner: Others,
        notifier,
    };
    let worker = Worker::new(store.clone(), handlers, config(), Arc::new(Registry::new()));
    (tx, tokio::spawn(worker.run(rx)))
}

async fn stop((tx, handle): (watch::Sender<bool>, tokio::task::JoinHandle<()>)) {
    tx.send(true).unwrap();
    handle.await.unwrap();
}

async fn tenant(store: &Store) -> (String, String) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email: "ana@x.io",
                name: "Ana",
                password_hash: "h",
                is_system_admin: false,
            },
            "W",
        )
        .await
        .unwrap();
    (identity.id, tenant.id)
}

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook receiver on 127.0.0.1 answering `status`, keeping every request.
async fn receiver(status: StatusCode) -> (String, Arc<Mutex<Vec<Hit>>>) {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let kept = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(Hit { headers, body });
                (status, "receiver says no")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

/// A `signal.opened` NOTIFY payload as the signals engine enqueues it.
fn signal_event(tenant: &str, aoi_id: &str, farm_id: &str) -> serde_json::Value {
    serde_json::json!({
        "tenant_id": tenant,
        "event": "signal.opened",
        "data": {"id": "s1", "aoi_id": aoi_id, "aoi_name": "Pivô", "farm_id": farm_id,
                 "type": "LOW_VIGOR", "severity": "HIGH", "confidence": 0.8, "status": "OPEN",
                 "title": "Low vigour", "explanation": "NDVI 0.41 is 0.22 below the field's seasons.",
                 "actions": ["Visit the field"]},
        "texts": {
            "pt-BR": {"title": "Vigor baixo", "explanation": "NDVI 0,41 está 0,22 abaixo das safras do talhão.",
                      "actions": ["Visite o talhão"]},
            "en": {"title": "Low vigour", "explanation": "NDVI 0.41 is 0.22 below the field's seasons.",
                   "actions": ["Visit the field"]}
        }
    })
}

async fn notify(store: &Store, tenant: &str, payload: serde_json::Value) -> String {
    store
        .enqueue(NewJob {
            tenant_id: tenant.to_owned(),
            aoi_id: None,
            job_type: JobType::Notify,
            idempotency_key: None,
            payload,
            run_after: None,
        })
        .await
        .unwrap()
        .job
        .id
}

/// Polls until `check` returns something, for up to 60 s (the machine may be busy).
async fn until<T, F: Future<Output = Option<T>>>(what: &str, check: impl Fn() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn jobs_of(
    store: &Store,
    tenant: &str,
    job_type: JobType,
) -> Vec<vivacampo_store::queue::Job> {
    let filter = JobFilter {
        job_type: Some(job_type),
        ..JobFilter::default()
    };
    store
        .list_jobs(Some(tenant), &filter, PageRequest::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn a_receiver_gets_signal_opened_with_a_valid_signature() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (url, hits) = receiver(StatusCode::NO_CONTENT).await;
        let webhook = store
            .create_webhook(
                &tenant,
                Some(&actor),
                &url,
                &[WebhookEvent::SignalOpened],
                None,
            )
            .await
            .unwrap();
        // Subscribed to another event only: gets nothing.
        let (other_url, other_hits) = receiver(StatusCode::OK).await;
        store
            .create_webhook(
                &tenant,
                Some(&actor),
                &other_url,
                &[WebhookEvent::JobDead],
                None,
            )
            .await
            .unwrap();
        let worker = start(store, notifier(None));
        notify(store, &tenant, signal_event(&tenant, "a1", "f1")).await;
        let delivery = until("the delivery", || async {
            let d = store
                .webhook_deliveries(&tenant, &webhook.id, 10)
                .await
                .unwrap();
            d.into_iter()
                .find(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        stop(worker).await;
        assert_eq!(
            (delivery.attempts, delivery.response_status),
            (1, Some(204))
        );
        assert!(delivery.delivered_at.is_some());
        let hits = hits.lock().unwrap().clone();
        assert_eq!(hits.len(), 1);
        let hit = &hits[0];
        assert_eq!(hit.headers["x-vivacampo-event"], "signal.opened");
        assert_eq!(hit.headers["x-vivacampo-delivery"], delivery.id.as_str());
        assert_eq!(hit.headers["content-type"], "application/json");
        let signature = hit.headers["x-vivacampo-signature"].to_str().unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(verify(
            &webhook.secret,
            signature,
            &hit.body,
            now,
            Duration::from_secs(300)
        ));
        assert!(!verify(
            "whsec_wrong",
            signature,
            &hit.body,
            now,
            Duration::from_secs(300)
        ));
        let body: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["id"], delivery.id.as_str());
        assert_eq!(body["event"], "signal.opened");
        assert_eq!(body["tenant_id"], tenant.as_str());
        assert_eq!(body["data"]["type"], "LOW_VIGOR");
        assert_eq!(body["data"]["title"], "Low vigour");
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(other_hits.lock().unwrap().is_empty());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_receiver_answering_500_gets_retries_then_the_delivery_is_dead() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (url, hits) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
        // Subscribed to job.dead too: a dead delivery must not become a job.dead event.
        let webhook = store
            .create_webhook(
                &tenant,
                Some(&actor),
                &url,
                &[WebhookEvent::SignalOpened, WebhookEvent::JobDead],
                None,
            )
            .await
            .unwrap();
        let worker = start(store, notifier(None));
        notify(store, &tenant, signal_event(&tenant, "a1", "f1")).await;
        let job = until("the delivery job to be DEAD", || async {
            let jobs = jobs_of(store, &tenant, JobType::DeliverWebhook).await;
            let job = jobs.into_iter().next()?;
            match job.status {
                JobStatus::Dead => Some(job),
                // Time passing: the backoff is a minute and more.
                JobStatus::Failed => {
                    make_job_ready(store, &job.id).await.unwrap();
                    None
                }
                _ => None,
            }
        })
        .await;
        stop(worker).await;
        assert_eq!(job.attempts, 6);
        assert_eq!(hits.lock().unwrap().len(), 6);
        let deliveries = store
            .webhook_deliveries(&tenant, &webhook.id, 10)
            .await
            .unwrap();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        let d = &deliveries[0];
        assert_eq!(
            (d.status, d.attempts, d.response_status),
            (DeliveryStatus::Dead, 6, Some(500))
        );
        assert_eq!(
            d.last_error.as_deref(),
            Some("the receiver answered 500: receiver says no")
        );
        assert!(d.delivered_at.is_none());
        assert_eq!(
            jobs_of(store, &tenant, JobType::Notify).await.len(),
            1,
            "no job.dead loop"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_receiver_on_a_private_address_is_refused_without_retries() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (url, hits) = receiver(StatusCode::OK).await;
        // A name that resolves to loopback (`localhost`: 127.0.0.1, perhaps ::1 too) and an
        // address registered before the API checked URLs: neither is reached.
        let port = url.rsplit(':').next().unwrap();
        let mut webhooks = Vec::new();
        for url in [format!("http://localhost:{port}"), url.clone()] {
            webhooks.push(
                store
                    .create_webhook(
                        &tenant,
                        Some(&actor),
                        &url,
                        &[WebhookEvent::SignalOpened],
                        None,
                    )
                    .await
                    .unwrap(),
            );
        }
        let worker = start(
            store,
            Notifier {
                webhooks: WebhookSender::new(Duration::from_secs(5), false).unwrap(),
                ..notifier(None)
            },
        );
        notify(store, &tenant, signal_event(&tenant, "a1", "f1")).await;
        let jobs = until("both delivery jobs to finish", || async {
            let jobs = jobs_of(store, &tenant, JobType::DeliverWebhook).await;
            (jobs.len() == 2 && jobs.iter().all(|j| j.status == JobStatus::Succeeded))
                .then_some(jobs)
        })
        .await;
        stop(worker).await;
        assert!(jobs.iter().all(|j| j.attempts == 1), "{jobs:?}");
        assert!(
            hits.lock().unwrap().is_empty(),
            "a private receiver was reached"
        );
        for webhook in &webhooks {
            let deliveries = store
                .webhook_deliveries(&tenant, &webhook.id, 10)
                .await
                .unwrap();
            assert_eq!(deliveries.len(), 1, "{deliveries:?}");
            let d = &deliveries[0];
            assert_eq!(
                (d.status, d.attempts, d.response_status),
                (DeliveryStatus::Dead, 1, None),
                "{}",
                webhook.url
            );
            assert_eq!(
                d.last_error.as_deref(),
                Some(
                    "the receiver's address is not a public internet address; webhooks are \
                     only delivered to public addresses"
                )
            );
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_dead_job_is_delivered_as_job_dead() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (url, hits) = receiver(StatusCode::OK).await;
        store
            .create_webhook(&tenant, Some(&actor), &url, &[WebhookEvent::JobDead], None)
            .await
            .unwrap();
        let worker = start(store, notifier(None));
        let failing = store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
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
        let hit = until("the job.dead delivery", || async {
            if let Ok(job) = store.job(&tenant, &failing).await
                && job.status == JobStatus::Failed
            {
                make_job_ready(store, &job.id).await.unwrap();
            }
            hits.lock().unwrap().first().cloned()
        })
        .await;
        stop(worker).await;
        assert_eq!(hit.headers["x-vivacampo-event"], "job.dead");
        let body: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["data"]["job_id"], failing.as_str());
        assert_eq!(body["data"]["type"], "RETENTION");
        assert_eq!(body["data"]["last_error"], "the sweep failed");
        db.drop_db().await;
    }
}

/// A square field of about 1 km² near Brasília.
fn square() -> Shape {
    let field = vivacampo_core::geometry::FieldGeometry::from_geojson(&serde_json::json!({
        "type": "Polygon",
        "coordinates": [[[-47.9, -15.8], [-47.89, -15.8], [-47.89, -15.79], [-47.9, -15.79], [-47.9, -15.8]]]
    }))
    .unwrap();
    Shape {
        geometry: field.to_geojson(),
        area_ha: field.area_ha(),
        bbox: field.bbox(),
    }
}

#[tokio::test]
async fn members_get_the_email_in_their_language() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant) = tenant(store).await;
        let farm = store
            .create_farm(&tenant, &ana, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (aoi, _) = store
            .create_aoi(
                &tenant,
                &ana,
                NewAoi {
                    farm_id: farm.id.clone(),
                    name: "Pivô".into(),
                    use_type: "CROP".into(),
                    shape: square(),
                    backfill_weeks: 1,
                },
            )
            .await
            .unwrap();
        let mut members = vec![(ana.clone(), "ana@x.io")];
        for (email, _) in [("bob@x.io", 0), ("caio@x.io", 1), ("dora@x.io", 2)] {
            let id = store
                .create_identity(NewIdentity {
                    email,
                    name: email,
                    password_hash: "h",
                    is_system_admin: false,
                })
                .await
                .unwrap()
                .id;
            store
                .add_membership(&tenant, &id, Role::Viewer, None)
                .await
                .unwrap();
            members.push((id, email));
        }
        // ana: instant in pt-BR; bob: instant in English; caio: off; dora: daily in English.
        let prefs = [
            (EmailMode::Instant, Language::PtBr),
            (EmailMode::Instant, Language::En),
            (EmailMode::Off, Language::En),
            (EmailMode::Daily, Language::En),
        ];
        for ((id, _), (signals, language)) in members.iter().zip(prefs) {
            store
                .set_notification_prefs(
                    &tenant,
                    id,
                    NotificationPrefs {
                        email: EmailPrefs { signals, language },
                    },
                )
                .await
                .unwrap();
        }
        let server = SmtpServer::start(ServerBehaviour::default()).await.unwrap();
        let worker = start(store, notifier(Some(&server)));
        notify(store, &tenant, signal_event(&tenant, &aoi.id, &farm.id)).await;
        let received = until("two e-mails", || async {
            let r = server.received();
            (r.len() >= 2).then_some(r)
        })
        .await;
        // dora's daily digest goes out when the scheduler's daily check runs at or after
        // `email_digest_at`: not before (a whole day later never comes today), then once.
        let not_yet = vivacampo_worker::scheduler::Schedule {
            digest_at: Duration::from_secs(86_400),
            ..Default::default()
        };
        let ticked = vivacampo_worker::scheduler::tick(store, "w1", not_yet)
            .await
            .unwrap();
        assert_eq!(ticked.digests, None);
        let ticked = vivacampo_worker::scheduler::tick(store, "w1", Default::default())
            .await
            .unwrap();
        assert_eq!(ticked.digests, Some(1));
        let digest = until("the digest", || async {
            server
                .received()
                .into_iter()
                .find(|m| m.rcpt_to == ["dora@x.io"])
        })
        .await;
        stop(worker).await;

        let to = |who: &str| {
            received
                .iter()
                .find(|m| m.rcpt_to == [who])
                .unwrap_or_else(|| panic!("no e-mail to {who}: {received:?}"))
        };
        let pt = to("ana@x.io");
        assert_eq!(pt.mail_from, "alertas@vivacampo.example");
        assert_eq!(
            pt.header("Subject").unwrap(),
            "[VivaCampo] Novo alerta: Pivô · Vigor baixo"
        );
        let text = pt.text("text/plain").unwrap();
        assert!(
            text.starts_with("Um novo alerta foi aberto no talhão Pivô."),
            "{text}"
        );
        assert!(text.contains("NDVI 0,41 está 0,22 abaixo das safras do talhão."));
        assert!(text.contains("Gravidade alta, confiança 80 %"));
        assert!(text.contains("- Visite o talhão"));
        let link = format!(
            "https://app.vivacampo.example/#/farms/{}/fields/{}",
            farm.id, aoi.id
        );
        assert!(text.contains(&link), "{text}");
        let html = pt.text("text/html").unwrap();
        assert!(html.contains("<html lang=\"pt-BR\">"));
        assert!(html.contains(&format!("href=\"{link}\"")));
        assert!(html.contains("src=\"cid:field-outline@vivacampo\""));
        let png = pt.parts("image/png");
        assert_eq!(png.len(), 1);
        assert_eq!(&png[0][..8], b"\x89PNG\r\n\x1a\n");

        let en = to("bob@x.io");
        assert_eq!(
            en.header("Subject").unwrap(),
            "[VivaCampo] New signal: Pivô · Low vigour"
        );
        let text = en.text("text/plain").unwrap();
        assert!(
            text.starts_with("A new signal was opened on field Pivô."),
            "{text}"
        );
        assert!(text.contains("Severity high, confidence 80 %"));
        assert!(received.iter().all(|m| m.rcpt_to != ["caio@x.io"]));

        assert_eq!(
            digest.header("Subject").unwrap(),
            "[VivaCampo] Daily summary: 1"
        );
        assert!(digest.text("text/plain").unwrap().contains("Low vigour"));
        assert!(
            store
                .digest_items(&tenant, &members[3].0)
                .await
                .unwrap()
                .is_empty()
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_refused_recipient_is_retried() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant) = tenant(store).await;
        store
            .set_notification_prefs(
                &tenant,
                &ana,
                NotificationPrefs {
                    email: EmailPrefs {
                        signals: EmailMode::Instant,
                        language: Language::En,
                    },
                },
            )
            .await
            .unwrap();
        let server = SmtpServer::start(ServerBehaviour {
            rcpt_code: Some(450),
            ..ServerBehaviour::default()
        })
        .await
        .unwrap();
        let worker = start(store, notifier(Some(&server)));
        notify(store, &tenant, signal_event(&tenant, "a1", "f1")).await;
        let job = until("a failed attempt", || async {
            jobs_of(store, &tenant, JobType::SendEmail)
                .await
                .into_iter()
                .find(|j| j.status == JobStatus::Failed)
        })
        .await;
        stop(worker).await;
        assert_eq!(
            job.last_error.as_deref(),
            Some("the mail server refused the recipient: 450 recipient refused by the test server")
        );
        assert!(server.received().is_empty());
        db.drop_db().await;
    }
}
