//! Repository and queue behaviour, run against SQLite and (when `VIVACAMPO_TEST_POSTGRES_URL`
//! is set) PostgreSQL: both engines must behave the same.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use vivacampo_core::jobs::{JobStatus, JobType, Progress};
use vivacampo_core::tenancy::{Role, TenantKind, TenantStatus};
use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::accounts::{NewIdentity, NewTenant, TenantPatch};
use vivacampo_store::aois::{AoiFilter, AoiPatch, NewAoi, Shape};
use vivacampo_store::queue::{JobFilter, LeaseState, NewJob};
use vivacampo_store::testing::TestDb;
use vivacampo_store::{PageRequest, Store, StoreError};

fn square(lon: f64, lat: f64, side_deg: f64, area_ha: f64) -> Shape {
    Shape {
        geometry: serde_json::json!({"type": "MultiPolygon", "coordinates": [[[
            [lon, lat], [lon + side_deg, lat], [lon + side_deg, lat + side_deg], [lon, lat + side_deg], [lon, lat]
        ]]]}),
        area_ha,
        bbox: [lon, lat, lon + side_deg, lat + side_deg],
    }
}

async fn user_with_tenant(store: &Store, email: &str) -> (String, String) {
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

fn new_aoi(farm_id: &str, area_ha: f64) -> NewAoi {
    NewAoi {
        farm_id: farm_id.to_owned(),
        name: "Talhão 1".into(),
        use_type: "CROP".into(),
        shape: square(-49.3, -16.7, 0.01, area_ha),
        backfill_weeks: 8,
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_reported() {
    for db in TestDb::all().await {
        assert!(
            db.store.migrate().await.unwrap().is_empty(),
            "{:?}",
            db.backend()
        );
        let status = db.store.migration_status().await.unwrap();
        assert!(status.iter().all(|s| s.is_current()));
        assert!(db.store.migrations_current().await.unwrap());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn sign_up_sessions_and_revocation() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (identity_id, tenant_id) = user_with_tenant(store, "Ana@Example.com ").await;
        let creds = store.credentials("ana@example.com").await.unwrap().unwrap();
        assert_eq!(creds.identity.id, identity_id);
        assert_eq!(creds.identity.email, "ana@example.com");

        let dup = store
            .sign_up(
                NewIdentity {
                    email: "ana@example.com",
                    name: "X",
                    password_hash: "h",
                    is_system_admin: false,
                },
                "W",
            )
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))));

        let memberships = store.memberships(&identity_id).await.unwrap();
        assert_eq!(memberships.len(), 1);
        assert_eq!(memberships[0].role, Role::TenantAdmin);
        assert_eq!(
            store.tenant(&tenant_id).await.unwrap().kind,
            TenantKind::Personal
        );

        let expires = vivacampo_store::now_ms() + 60_000;
        store
            .create_session("digest-1", &identity_id, &tenant_id, expires)
            .await
            .unwrap();
        let session = store.session("digest-1").await.unwrap().unwrap();
        assert_eq!(session.role, Role::TenantAdmin);
        assert_eq!(session.tenant.id, tenant_id);
        store.revoke_session("digest-1").await.unwrap();
        assert!(store.session("digest-1").await.unwrap().is_none());

        store
            .create_session(
                "digest-2",
                &identity_id,
                &tenant_id,
                vivacampo_store::now_ms() - 1,
            )
            .await
            .unwrap();
        assert!(
            store.session("digest-2").await.unwrap().is_none(),
            "expired sessions are refused"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn tenants_memberships_and_admin_patch() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (identity_id, _) = user_with_tenant(store, "a@x.io").await;
        let company = store
            .create_tenant(
                NewTenant {
                    name: "Agro SA",
                    kind: TenantKind::Company,
                    plan: Some("PRO"),
                    quotas: None,
                },
                None,
            )
            .await
            .unwrap();
        store
            .add_membership(&company.id, &identity_id, Role::Viewer, None)
            .await
            .unwrap();
        assert!(matches!(
            store
                .add_membership(&company.id, &identity_id, Role::Operator, None)
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.memberships(&identity_id).await.unwrap().len(), 2);
        let patched = store
            .update_tenant(
                &company.id,
                TenantPatch {
                    status: Some(TenantStatus::Suspended),
                    max_fields: Some(3),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(patched.status, TenantStatus::Suspended);
        assert_eq!(patched.quotas.max_fields, 3);
        assert_eq!(
            store
                .list_tenants(PageRequest::default())
                .await
                .unwrap()
                .total,
            2
        );
        assert!(matches!(
            store.tenant("nope").await,
            Err(StoreError::NotFound)
        ));
        db.drop_db().await;
    }
}

#[tokio::test]
async fn farms_and_fields_are_scoped_by_tenant() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant_a) = user_with_tenant(store, "ana@x.io").await;
        let (bia, tenant_b) = user_with_tenant(store, "bia@x.io").await;
        let farm = store
            .create_farm(&tenant_a, &ana, "Santa Rita", "America/Sao_Paulo")
            .await
            .unwrap();
        assert_eq!(farm.aoi_count, 0);

        assert!(matches!(
            store.farm(&tenant_b, &farm.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .update_farm(&tenant_b, &bia, &farm.id, Some("x"), None)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_farm(&tenant_b, &bia, &farm.id).await,
            Err(StoreError::NotFound)
        ));

        let (aoi, job_id) = store
            .create_aoi(&tenant_a, &ana, new_aoi(&farm.id, 120.5))
            .await
            .unwrap();
        assert_eq!(aoi.area_ha, 120.5);
        assert_eq!(aoi.pending_jobs, 1);
        // A weather job of the field is not imagery processing: the field's progress ignores it.
        store
            .enqueue(NewJob {
                tenant_id: tenant_a.clone(),
                aoi_id: Some(aoi.id.clone()),
                job_type: JobType::ProcessWeather,
                idempotency_key: None,
                payload: serde_json::json!({}),
                run_after: None,
            })
            .await
            .unwrap();
        assert_eq!(store.aoi(&tenant_a, &aoi.id).await.unwrap().pending_jobs, 1);
        let job = store.job(&tenant_a, &job_id).await.unwrap();
        assert_eq!(
            (job.job_type, job.status),
            (JobType::Backfill, JobStatus::Pending)
        );
        assert!(matches!(
            store.aoi(&tenant_b, &aoi.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.job(&tenant_b, &job_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .create_aoi(&tenant_b, &bia, new_aoi(&farm.id, 1.0))
                .await,
            Err(StoreError::NotFound)
        ));

        let farm = store.farm(&tenant_a, &farm.id).await.unwrap();
        assert_eq!((farm.aoi_count, farm.total_area_ha), (1, 120.5));
        let listed = store
            .list_aois(
                &tenant_a,
                &AoiFilter {
                    farm_id: Some(farm.id.clone()),
                    status: None,
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(listed.total, 1);
        assert_eq!(
            store
                .list_aois(&tenant_b, &AoiFilter::default(), PageRequest::default())
                .await
                .unwrap()
                .total,
            0
        );

        let (patched, backfill) = store
            .update_aoi(
                &tenant_a,
                &ana,
                &aoi.id,
                AoiPatch {
                    name: Some("Pivô".into()),
                    shape: Some(square(-49.3, -16.7, 0.02, 480.0)),
                    ..Default::default()
                },
                8,
            )
            .await
            .unwrap();
        assert_eq!(
            (
                patched.name.as_str(),
                patched.geometry_version,
                patched.area_ha
            ),
            ("Pivô", 2, 480.0)
        );
        assert!(backfill.is_some());
        let versions = store
            .aoi_geometry_versions(&tenant_a, &aoi.id)
            .await
            .unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].2, 120.5);

        let audit = store
            .audit_log(&tenant_a, PageRequest::default())
            .await
            .unwrap();
        let actions: Vec<_> = audit
            .items
            .iter()
            .map(|a| (a.action.as_str(), a.resource_type.as_str()))
            .collect();
        assert!(actions.contains(&("CREATE", "farm")));
        assert!(actions.contains(&("CREATE", "aoi")));
        assert!(actions.contains(&("UPDATE", "aoi")));

        store.delete_farm(&tenant_a, &ana, &farm.id).await.unwrap();
        assert!(matches!(
            store.aoi(&tenant_a, &aoi.id).await,
            Err(StoreError::NotFound)
        ));
        let deletes = store
            .list_jobs(
                Some(&tenant_a),
                &JobFilter {
                    job_type: Some(JobType::DeleteAoiAssets),
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(deletes.total, 1);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn quotas_limit_fields_and_hectares() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant) = user_with_tenant(store, "ana@x.io").await;
        store
            .update_tenant(
                &tenant,
                TenantPatch {
                    max_fields: Some(2),
                    max_hectares: Some(300.0),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let farm = store
            .create_farm(&tenant, &ana, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (first, _) = store
            .create_aoi(&tenant, &ana, new_aoi(&farm.id, 200.0))
            .await
            .unwrap();
        assert!(matches!(
            store
                .create_aoi(&tenant, &ana, new_aoi(&farm.id, 150.0))
                .await,
            Err(StoreError::Quota(_))
        ));
        store
            .create_aoi(&tenant, &ana, new_aoi(&farm.id, 100.0))
            .await
            .unwrap();
        assert!(matches!(
            store
                .create_aoi(&tenant, &ana, new_aoi(&farm.id, 0.5))
                .await,
            Err(StoreError::Quota(_))
        ));
        // Reshaping counts the new area instead of the old one.
        let grow = AoiPatch {
            shape: Some(square(-49.3, -16.7, 0.01, 201.0)),
            ..Default::default()
        };
        assert!(matches!(
            store.update_aoi(&tenant, &ana, &first.id, grow, 8).await,
            Err(StoreError::Quota(_))
        ));
        let shrink = AoiPatch {
            shape: Some(square(-49.3, -16.7, 0.01, 150.0)),
            ..Default::default()
        };
        store
            .update_aoi(&tenant, &ana, &first.id, shrink, 8)
            .await
            .unwrap();
        db.drop_db().await;
    }
}

fn job(tenant: &str, key: Option<&str>) -> NewJob {
    NewJob {
        tenant_id: tenant.to_owned(),
        aoi_id: None,
        job_type: JobType::ProcessWeek,
        idempotency_key: key.map(str::to_owned),
        payload: serde_json::json!({"n": 1}),
        run_after: None,
    }
}

#[tokio::test]
async fn idempotency_key_returns_the_job_in_play() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = user_with_tenant(store, "ana@x.io").await;
        let (_, other) = user_with_tenant(store, "bia@x.io").await;
        let first = store.enqueue(job(&tenant, Some("k1"))).await.unwrap();
        assert!(first.created);
        let again = store.enqueue(job(&tenant, Some("k1"))).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.job.id, first.job.id);
        assert!(
            store
                .enqueue(job(&other, Some("k1")))
                .await
                .unwrap()
                .created,
            "keys are per tenant"
        );

        // Once the job is finished the key is free again.
        let leased = store
            .lease_job("w1", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .complete_job(&leased.job.id, "w1", leased.attempt, serde_json::json!({}))
                .await
                .unwrap()
        );
        let other_leased = store
            .lease_job("w1", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        store
            .complete_job(
                &other_leased.job.id,
                "w1",
                other_leased.attempt,
                serde_json::json!({}),
            )
            .await
            .unwrap();
        assert!(
            store
                .enqueue(job(&tenant, Some("k1")))
                .await
                .unwrap()
                .created
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn failing_job_backs_off_then_dies_with_its_error() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = user_with_tenant(store, "ana@x.io").await;
        let id = store.enqueue(job(&tenant, None)).await.unwrap().job.id;
        for attempt in 1..=3 {
            // Make the job ready now instead of waiting out its backoff.
            sqlx_ready(store, &id).await;
            let leased = store
                .lease_job("w1", Duration::from_secs(30))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(leased.attempt, attempt);
            let status = store
                .fail_job(&id, "w1", attempt, &format!("boom {attempt}"))
                .await
                .unwrap()
                .unwrap();
            let job = store.job(&tenant, &id).await.unwrap();
            if attempt < 3 {
                assert_eq!(status, JobStatus::Failed);
                assert!(
                    job.run_after > vivacampo_store::now_ms() + 5_000,
                    "backoff pushes run_after"
                );
                assert!(
                    store
                        .lease_job("w1", Duration::from_secs(30))
                        .await
                        .unwrap()
                        .is_none()
                );
            } else {
                assert_eq!(status, JobStatus::Dead);
                assert_eq!(job.last_error.as_deref(), Some("boom 3"));
                assert!(job.finished_at.is_some());
            }
        }
        let runs = store.job_runs(&tenant, &id).await.unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs.iter().all(|r| r.status == "FAILED"));

        let retried = store.retry_job(Some(&tenant), &id).await.unwrap();
        assert_eq!((retried.status, retried.attempts), (JobStatus::Pending, 0));
        let leased = store
            .lease_job("w2", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.attempt, 1);
        assert!(matches!(
            store.retry_job(Some(&tenant), &id).await,
            Err(StoreError::Conflict(_))
        ));
        db.drop_db().await;
    }
}

/// Moves a job's `run_after` to the past, as time passing would.
async fn sqlx_ready(store: &Store, id: &str) {
    vivacampo_store::testing::make_job_ready(store, id)
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_lease_is_a_failed_attempt_and_fences_the_old_worker() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = user_with_tenant(store, "ana@x.io").await;
        let id = store.enqueue(job(&tenant, None)).await.unwrap().job.id;
        let leased = store
            .lease_job("dead-worker", Duration::from_millis(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(store.reclaim_expired_leases().await.unwrap(), 1);
        let job = store.job(&tenant, &id).await.unwrap();
        assert_eq!(job.status, JobStatus::Failed);
        assert!(job.last_error.unwrap().contains("lease expired"));

        sqlx_ready(store, &id).await;
        let again = store
            .lease_job("live-worker", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.attempt, 2);
        // The old worker wakes up: it can neither complete, fail nor renew.
        assert!(
            !store
                .complete_job(&id, "dead-worker", leased.attempt, serde_json::json!({}))
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .fail_job(&id, "dead-worker", leased.attempt, "late")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .heartbeat(&id, "dead-worker", leased.attempt, Duration::from_secs(30))
                .await
                .unwrap(),
            LeaseState::Lost
        );
        assert_eq!(
            store
                .heartbeat(&id, "live-worker", 2, Duration::from_secs(30))
                .await
                .unwrap(),
            LeaseState::Held
        );
        store
            .set_job_progress(&id, Progress { done: 1, total: 2 })
            .await
            .unwrap();
        assert!(
            store
                .complete_job(&id, "live-worker", 2, serde_json::json!({"weeks": 2}))
                .await
                .unwrap()
        );
        let job = store.job(&tenant, &id).await.unwrap();
        assert_eq!(
            (job.status, job.progress),
            (JobStatus::Succeeded, Progress { done: 1, total: 2 })
        );
        let runs = store.job_runs(&tenant, &id).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ["LOST", "SUCCEEDED"]
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn cancel_and_release() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = user_with_tenant(store, "ana@x.io").await;
        let id = store.enqueue(job(&tenant, Some("c"))).await.unwrap().job.id;
        let leased = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        let cancelled = store.cancel_job(&tenant, &id).await.unwrap();
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        assert_eq!(
            store
                .heartbeat(&id, "w", leased.attempt, Duration::from_secs(30))
                .await
                .unwrap(),
            LeaseState::Cancelled
        );
        assert!(
            !store
                .complete_job(&id, "w", leased.attempt, serde_json::json!({}))
                .await
                .unwrap()
        );
        assert!(matches!(
            store.cancel_job(&tenant, &id).await,
            Err(StoreError::Conflict(_))
        ));

        let id2 = store.enqueue(job(&tenant, None)).await.unwrap().job.id;
        let leased = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.job.id, id2);
        assert!(store.release_job(&id2, "w", leased.attempt).await.unwrap());
        let job = store.job(&tenant, &id2).await.unwrap();
        assert_eq!((job.status, job.attempts), (JobStatus::Pending, 0));
        db.drop_db().await;
    }
}

#[tokio::test]
async fn concurrent_workers_never_take_the_same_job() {
    for db in TestDb::all().await {
        let store = Arc::new(db.store.clone());
        let (_, tenant) = user_with_tenant(&store, "ana@x.io").await;
        for _ in 0..100 {
            store.enqueue(job(&tenant, None)).await.unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut taken = Vec::new();
                loop {
                    match store.lease_job(&worker, Duration::from_secs(30)).await {
                        Ok(Some(leased)) => {
                            assert!(
                                store
                                    .complete_job(
                                        &leased.job.id,
                                        &worker,
                                        leased.attempt,
                                        serde_json::json!({})
                                    )
                                    .await
                                    .unwrap()
                            );
                            taken.push(leased.job.id);
                        }
                        Ok(None) => break,
                        Err(StoreError::Unavailable(_)) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
                taken
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(all.len(), 100);
        assert_eq!(unique.len(), 100);
        assert_eq!(
            store
                .count_jobs_with_status(JobStatus::Succeeded)
                .await
                .unwrap(),
            100
        );
        // Finished history is not part of the queue figures.
        assert_eq!(store.queue_stats().await.unwrap().depth, vec![]);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn planned_weeks_do_not_duplicate() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant) = user_with_tenant(store, "ana@x.io").await;
        let farm = store
            .create_farm(&tenant, &ana, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (aoi, _) = store
            .create_aoi(&tenant, &ana, new_aoi(&farm.id, 10.0))
            .await
            .unwrap();
        let weeks = IsoWeek::new(2026, 3).unwrap().back(8);
        store
            .plan_aoi_weeks(&tenant, &aoi.id, &weeks)
            .await
            .unwrap();
        store
            .plan_aoi_weeks(&tenant, &aoi.id, &weeks)
            .await
            .unwrap();
        let stored = store.aoi_weeks(&tenant, &aoi.id).await.unwrap();
        assert_eq!(stored.len(), 8);
        assert_eq!(stored[0].week, IsoWeek::new(2026, 3).unwrap());
        assert_eq!(stored[7].week, IsoWeek::new(2025, 48).unwrap());
        assert_eq!(stored[0].week_start, "2026-01-12");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn exhausted_pool_is_unavailable_quickly_and_recovers() {
    let mut dbs = vec![TestDb::sqlite_with(2, Duration::from_millis(300)).await];
    dbs.extend(TestDb::postgres_with(2, Duration::from_millis(300)).await);
    for db in dbs {
        let store = &db.store;
        let held = (
            vivacampo_store::testing::hold_connection(store)
                .await
                .unwrap(),
            vivacampo_store::testing::hold_connection(store)
                .await
                .unwrap(),
        );
        let started = std::time::Instant::now();
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(held);
        store.ping().await.unwrap();
        db.drop_db().await;
    }
}

#[tokio::test]
async fn children_report_progress_to_their_parent() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = user_with_tenant(store, "ana@x.io").await;
        let parent = store
            .enqueue(job(&tenant, Some("parent")))
            .await
            .unwrap()
            .job;
        let children: Vec<NewJob> = (0..3)
            .map(|i| job(&tenant, Some(&format!("child-{i}"))))
            .collect();
        let enqueued = store.enqueue_children(&parent.id, &children).await.unwrap();
        assert_eq!(enqueued.len(), 3);
        assert_eq!(
            store.job(&tenant, &parent.id).await.unwrap().progress,
            Progress { done: 0, total: 3 }
        );
        // Re-running the fan-out adds nothing, and another parent does not take them over.
        let again = store.enqueue_children(&parent.id, &children).await.unwrap();
        assert!(again.iter().all(|e| !e.created));
        let other = store
            .enqueue(job(&tenant, Some("other-parent")))
            .await
            .unwrap()
            .job;
        store.enqueue_children(&other.id, &children).await.unwrap();
        assert_eq!(
            store.job(&tenant, &other.id).await.unwrap().progress,
            Progress { done: 0, total: 0 }
        );
        assert_eq!(
            store.job(&tenant, &parent.id).await.unwrap().progress,
            Progress { done: 0, total: 3 }
        );

        let first = &enqueued[0].job.id;
        store.cancel_job(&tenant, first).await.unwrap();
        let second = &enqueued[1].job.id;
        // Keep the parents and the third child out of the way so the lease takes the second.
        for other in [&parent.id, &other.id, &enqueued[2].job.id] {
            vivacampo_store::testing::delay_job(store, other, Duration::from_secs(3600))
                .await
                .unwrap();
        }
        let leased = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&leased.job.id, second);
        store
            .complete_job(second, "w", leased.attempt, serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(
            store.job(&tenant, &parent.id).await.unwrap().progress,
            Progress { done: 2, total: 3 }
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_parent_runs_until_its_last_child_finishes() {
    use vivacampo_store::testing::{delay_job, make_job_ready};
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = user_with_tenant(store, "ana@x.io").await;
        let lease = Duration::from_secs(30);
        let parent = store
            .enqueue(job(&tenant, Some("parent")))
            .await
            .unwrap()
            .job;
        let leased = store.lease_job("w", lease).await.unwrap().unwrap();
        assert_eq!(leased.job.id, parent.id);
        let children: Vec<NewJob> = (0..2)
            .map(|i| job(&tenant, Some(&format!("child-{i}"))))
            .collect();
        let children = store.enqueue_children(&parent.id, &children).await.unwrap();
        let (first, second) = (&children[0].job.id, &children[1].job.id);
        for child in [first, second] {
            delay_job(store, child, Duration::from_secs(3600))
                .await
                .unwrap();
        }

        // The parent's own attempt succeeds: it waits for its children, holding no lease.
        assert!(
            store
                .complete_job(&parent.id, "w", leased.attempt, serde_json::json!({}))
                .await
                .unwrap()
        );
        let waiting = store.job(&tenant, &parent.id).await.unwrap();
        assert_eq!(
            (waiting.status, waiting.progress, waiting.finished_at),
            (JobStatus::Running, Progress { done: 0, total: 2 }, None)
        );
        assert_eq!(store.reclaim_expired_leases().await.unwrap(), 0);
        assert!(store.lease_job("w", lease).await.unwrap().is_none());
        let runs = store.job_runs(&tenant, &parent.id).await.unwrap();
        assert_eq!(runs[0].status.as_str(), "SUCCEEDED");

        make_job_ready(store, first).await.unwrap();
        let child = store.lease_job("w", lease).await.unwrap().unwrap();
        assert_eq!(&child.job.id, first);
        store
            .complete_job(first, "w", child.attempt, serde_json::json!({}))
            .await
            .unwrap();
        let half = store.job(&tenant, &parent.id).await.unwrap();
        assert_eq!(
            (half.status, half.progress),
            (JobStatus::Running, Progress { done: 1, total: 2 })
        );

        // The last child dies: the parent's attempt fails, naming the child that did not end well.
        let mut status = JobStatus::Failed;
        while status != JobStatus::Dead {
            make_job_ready(store, second).await.unwrap();
            let child = store.lease_job("w", lease).await.unwrap().unwrap();
            status = store
                .fail_job(second, "w", child.attempt, "catalog down")
                .await
                .unwrap()
                .unwrap();
        }
        let done = store.job(&tenant, &parent.id).await.unwrap();
        assert_eq!(
            (done.status, done.progress, done.last_error),
            (
                JobStatus::Failed,
                Progress { done: 2, total: 2 },
                Some(format!("1 of 2 child jobs ended DEAD: {second}"))
            )
        );
        // Its retry runs the dead child again, not the whole fan-out; once it succeeds, so does
        // the parent, and its error goes.
        make_job_ready(store, &parent.id).await.unwrap();
        let retry = store.lease_job("w", lease).await.unwrap().unwrap();
        assert_eq!((&retry.job.id, retry.attempt), (&parent.id, 2));
        assert_eq!(store.revive_children(&parent.id).await.unwrap(), Some(1));
        store
            .complete_job(&parent.id, "w", retry.attempt, serde_json::json!({}))
            .await
            .unwrap();
        let child = store.lease_job("w", lease).await.unwrap().unwrap();
        assert_eq!((&child.job.id, child.attempt), (second, 1));
        store
            .complete_job(second, "w", child.attempt, serde_json::json!({}))
            .await
            .unwrap();
        let healed = store.job(&tenant, &parent.id).await.unwrap();
        assert_eq!(
            (healed.status, healed.progress, healed.last_error),
            (JobStatus::Succeeded, Progress { done: 2, total: 2 }, None)
        );

        // Children that finish before their parent's attempt does: it succeeds at once.
        let quick = store
            .enqueue(job(&tenant, Some("quick-parent")))
            .await
            .unwrap()
            .job;
        let leased = store.lease_job("w", lease).await.unwrap().unwrap();
        assert_eq!(leased.job.id, quick.id);
        let only = store
            .enqueue_children(&quick.id, &[job(&tenant, Some("quick-child"))])
            .await
            .unwrap();
        let child = store.lease_job("w", lease).await.unwrap().unwrap();
        assert_eq!(child.job.id, only[0].job.id);
        store
            .complete_job(&child.job.id, "w", child.attempt, serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(
            store.job(&tenant, &quick.id).await.unwrap().status,
            JobStatus::Running,
            "still held by its own attempt"
        );
        store
            .complete_job(&quick.id, "w", leased.attempt, serde_json::json!({}))
            .await
            .unwrap();
        let quick = store.job(&tenant, &quick.id).await.unwrap();
        assert_eq!(
            (quick.status, quick.progress, quick.last_error),
            (JobStatus::Succeeded, Progress { done: 1, total: 1 }, None)
        );
        db.drop_db().await;
    }
}

/// Many parents whose children finish on several connections at once, some before and some
/// after their parent's own attempt: every parent ends SUCCEEDED with all its children counted.
#[tokio::test]
async fn parents_finish_when_children_finish_concurrently() {
    for db in TestDb::all().await {
        let store = Arc::new(db.store.clone());
        let (_, tenant) = user_with_tenant(&store, "ana@x.io").await;
        for p in 0..20 {
            store
                .enqueue(job(&tenant, Some(&format!("p{p}"))))
                .await
                .unwrap();
        }
        let mut parents = Vec::new();
        for p in 0..20 {
            let leased = store
                .lease_job("fan-out", Duration::from_secs(60))
                .await
                .unwrap()
                .unwrap();
            let children: Vec<NewJob> = (0..3)
                .map(|c| job(&tenant, Some(&format!("p{p}-c{c}"))))
                .collect();
            store
                .enqueue_children(&leased.job.id, &children)
                .await
                .unwrap();
            parents.push((leased.job.id, leased.attempt));
        }
        let mut tasks = Vec::new();
        for w in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                loop {
                    match store.lease_job(&worker, Duration::from_secs(30)).await {
                        Ok(Some(leased)) => {
                            store
                                .complete_job(
                                    &leased.job.id,
                                    &worker,
                                    leased.attempt,
                                    serde_json::json!({}),
                                )
                                .await
                                .unwrap();
                        }
                        Ok(None) => break,
                        Err(StoreError::Unavailable(_)) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }));
        }
        // The parents' own attempts end while their children are being run.
        for (id, attempt) in &parents {
            store
                .complete_job(id, "fan-out", *attempt, serde_json::json!({}))
                .await
                .unwrap();
        }
        for t in tasks {
            t.await.unwrap();
        }
        for (id, _) in &parents {
            let parent = store.job(&tenant, id).await.unwrap();
            assert_eq!(
                (parent.status, parent.progress),
                (JobStatus::Succeeded, Progress { done: 3, total: 3 }),
                "parent {id}"
            );
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn one_scheduler_and_one_refresh_a_day() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant) = user_with_tenant(store, "ana@x.io").await;
        let farm = store.create_farm(&tenant, &ana, "F", "UTC").await.unwrap();
        store
            .create_aoi(&tenant, &ana, new_aoi(&farm.id, 10.0))
            .await
            .unwrap();
        assert!(
            store
                .acquire_schedule_lease("daily", "w1", 60_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .acquire_schedule_lease("daily", "w2", 60_000)
                .await
                .unwrap(),
            "held by w1"
        );
        assert!(
            store
                .acquire_schedule_lease("daily", "w1", 60_000)
                .await
                .unwrap(),
            "renewed"
        );
        assert_eq!(store.schedule_last_run("daily").await.unwrap(), None);
        assert_eq!(
            store
                .enqueue_daily_refresh("daily", "w1", "2026-11-27")
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .enqueue_daily_refresh("daily", "w1", "2026-11-27")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store.schedule_last_run("daily").await.unwrap().as_deref(),
            Some("2026-11-27")
        );
        // An expired lease passes to another worker.
        assert!(
            store
                .acquire_schedule_lease("daily", "w1", -1)
                .await
                .unwrap()
        );
        assert!(
            store
                .acquire_schedule_lease("daily", "w2", 60_000)
                .await
                .unwrap()
        );
        db.drop_db().await;
    }
}

/// A detection waits while imagery weeks of its field are still to run or running, except the
/// week that asked for it (its job asks while it is still RUNNING).
#[tokio::test]
async fn week_jobs_in_play_are_counted_except_the_asking_one() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant, aoi, _, _) = fanned_out_field(store, "wait@x.io", 2).await;
        let week = |w: u8| IsoWeek::new(2026, w).unwrap();
        assert_eq!(
            store
                .pending_week_jobs(&tenant, &aoi, week(2))
                .await
                .unwrap(),
            2
        );
        let first = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        let running = week(first.job.payload["week"].as_u64().unwrap() as u8);
        let other = if running == week(1) { week(2) } else { week(1) };
        assert_eq!(
            store
                .pending_week_jobs(&tenant, &aoi, running)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.pending_week_jobs(&tenant, &aoi, other).await.unwrap(),
            2
        );
        store
            .complete_job(&first.job.id, "w", first.attempt, serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(
            store.pending_week_jobs(&tenant, &aoi, other).await.unwrap(),
            1
        );
        db.drop_db().await;
    }
}

/// A field with its BACKFILL leased and fanned out to `weeks` PROCESS_WEEK children, as the
/// worker's handler does: (actor, tenant, field id, parent job id, child job ids).
async fn fanned_out_field(
    store: &Store,
    email: &str,
    weeks: u8,
) -> (String, String, String, String, Vec<String>) {
    let (ana, tenant) = user_with_tenant(store, email).await;
    let farm = store
        .create_farm(&tenant, &ana, "F", "America/Sao_Paulo")
        .await
        .unwrap();
    let (aoi, backfill) = store
        .create_aoi(&tenant, &ana, new_aoi(&farm.id, 12.0))
        .await
        .unwrap();
    let leased = store
        .lease_job("fan-out", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leased.job.id, backfill);
    let children: Vec<NewJob> = (1..=weeks)
        .map(|w| NewJob {
            tenant_id: tenant.clone(),
            aoi_id: Some(aoi.id.clone()),
            job_type: JobType::ProcessWeek,
            idempotency_key: Some(format!("PROCESS_WEEK:{}:v1:2026-W{w:02}", aoi.id)),
            payload: serde_json::json!({"aoi_id": aoi.id, "year": 2026, "week": w}),
            run_after: None,
        })
        .collect();
    let children = store.enqueue_children(&backfill, &children).await.unwrap();
    store
        .complete_job(&backfill, "fan-out", leased.attempt, serde_json::json!({}))
        .await
        .unwrap();
    let ids = children.into_iter().map(|e| e.job.id).collect();
    (ana, tenant, aoi.id, backfill, ids)
}

/// The jobs of a tenant that are still in play (PENDING, RUNNING or FAILED), by type.
async fn jobs_in_play(store: &Store, tenant: &str) -> Vec<(JobType, JobStatus)> {
    let page = store
        .list_jobs(
            Some(tenant),
            &JobFilter::default(),
            PageRequest::new(Some(1), Some(200)).unwrap(),
        )
        .await
        .unwrap();
    page.items
        .iter()
        .filter(|j| j.status.holds_key())
        .map(|j| (j.job_type, j.status))
        .collect()
}

#[tokio::test]
async fn deleting_a_field_mid_backfill_settles_the_backfill() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant, aoi, backfill, children) = fanned_out_field(store, "ana@x.io", 4).await;
        // One child runs, one already succeeded, two wait.
        let done = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        store
            .complete_job(&done.job.id, "w", done.attempt, serde_json::json!({}))
            .await
            .unwrap();
        let running = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        store.delete_aoi(&tenant, &ana, &aoi).await.unwrap();

        let parent = store.job(&tenant, &backfill).await.unwrap();
        assert_eq!(
            (parent.status, parent.progress),
            (JobStatus::Cancelled, Progress { done: 4, total: 4 })
        );
        assert!(parent.finished_at.is_some());
        assert_eq!(
            jobs_in_play(store, &tenant).await,
            [(JobType::DeleteAoiAssets, JobStatus::Pending)]
        );
        // The running child stops at its next heartbeat and records nothing.
        assert_eq!(
            store
                .heartbeat(
                    &running.job.id,
                    "w",
                    running.attempt,
                    Duration::from_secs(30)
                )
                .await
                .unwrap(),
            LeaseState::Cancelled
        );
        assert!(
            !store
                .complete_job(&running.job.id, "w", running.attempt, serde_json::json!({}))
                .await
                .unwrap()
        );
        let runs = store.job_runs(&tenant, &running.job.id).await.unwrap();
        assert_eq!(runs[0].status, "CANCELLED");
        let statuses: Vec<JobStatus> = {
            let mut s = Vec::new();
            for id in &children {
                s.push(store.job(&tenant, id).await.unwrap().status);
            }
            s
        };
        assert_eq!(
            statuses,
            [
                JobStatus::Succeeded,
                JobStatus::Cancelled,
                JobStatus::Cancelled,
                JobStatus::Cancelled
            ]
        );
        db.drop_db().await;
    }
}

/// Workers lease the field's weeks while the field is deleted: whatever each lease got, nothing
/// stays PENDING or RUNNING, and the backfill is settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_field_while_workers_lease_its_weeks() {
    for db in TestDb::all().await {
        for round in 0..5 {
            let store = Arc::new(db.store.clone());
            let (ana, tenant, aoi, backfill, _) =
                fanned_out_field(&store, &format!("r{round}@x.io"), 6).await;
            let mut workers = Vec::new();
            for w in 0..3 {
                let store = store.clone();
                workers.push(tokio::spawn(async move {
                    let worker = format!("w{round}-{w}");
                    let mut leased = Vec::new();
                    for _ in 0..3 {
                        match store.lease_job(&worker, Duration::from_secs(30)).await {
                            Ok(Some(job)) => leased.push((worker.clone(), job)),
                            Ok(None) => break,
                            Err(StoreError::Unavailable(_)) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    leased
                }));
            }
            store.delete_aoi(&tenant, &ana, &aoi).await.unwrap();
            for w in workers {
                for (worker, job) in w.await.unwrap() {
                    if job.job.job_type == JobType::DeleteAoiAssets {
                        store
                            .complete_job(&job.job.id, &worker, job.attempt, serde_json::json!({}))
                            .await
                            .unwrap();
                        continue;
                    }
                    // A child leased before the delete was cancelled under its worker.
                    assert_eq!(
                        store
                            .heartbeat(&job.job.id, &worker, job.attempt, Duration::from_secs(30))
                            .await
                            .unwrap(),
                        LeaseState::Cancelled
                    );
                }
            }
            let parent = store.job(&tenant, &backfill).await.unwrap();
            assert_eq!(
                (parent.status, parent.progress),
                (JobStatus::Cancelled, Progress { done: 6, total: 6 }),
                "round {round} on {:?}",
                db.backend()
            );
            let in_play = jobs_in_play(&store, &tenant).await;
            assert!(
                in_play.iter().all(|(t, _)| *t == JobType::DeleteAoiAssets),
                "{in_play:?}"
            );
            while let Some(job) = store
                .lease_job("drain", Duration::from_secs(30))
                .await
                .unwrap()
            {
                assert_eq!(job.job.job_type, JobType::DeleteAoiAssets);
                store
                    .complete_job(&job.job.id, "drain", job.attempt, serde_json::json!({}))
                    .await
                    .unwrap();
            }
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn cancelling_a_backfill_cancels_its_unfinished_weeks() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant, _, backfill, children) = fanned_out_field(store, "ana@x.io", 3).await;
        let done = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        store
            .complete_job(&done.job.id, "w", done.attempt, serde_json::json!({}))
            .await
            .unwrap();
        let running = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        let cancelled = store.cancel_job(&tenant, &backfill).await.unwrap();
        assert_eq!(
            (cancelled.status, cancelled.progress),
            (JobStatus::Cancelled, Progress { done: 3, total: 3 })
        );
        assert!(
            store
                .lease_job("w", Duration::from_secs(30))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .heartbeat(
                    &running.job.id,
                    "w",
                    running.attempt,
                    Duration::from_secs(30)
                )
                .await
                .unwrap(),
            LeaseState::Cancelled
        );
        assert!(jobs_in_play(store, &tenant).await.is_empty());
        // A fan-out that comes after the cancel adds nothing.
        let late = NewJob {
            tenant_id: tenant.clone(),
            aoi_id: None,
            job_type: JobType::ProcessWeek,
            idempotency_key: Some("late".into()),
            payload: serde_json::json!({}),
            run_after: None,
        };
        assert!(
            store
                .enqueue_children(&backfill, &[late])
                .await
                .unwrap()
                .is_empty()
        );
        // Retrying the backfill runs the cancelled weeks again, not the finished one.
        store.retry_job(Some(&tenant), &backfill).await.unwrap();
        let retry = store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(retry.job.id, backfill);
        assert_eq!(store.revive_children(&backfill).await.unwrap(), Some(2));
        let statuses: Vec<JobStatus> = {
            let mut s = Vec::new();
            for id in &children {
                s.push(store.job(&tenant, id).await.unwrap().status);
            }
            s
        };
        assert_eq!(
            statuses,
            [JobStatus::Succeeded, JobStatus::Pending, JobStatus::Pending]
        );
        db.drop_db().await;
    }
}

/// Every week of a backfill ends DEAD: the backfill fails naming them, its retries revive them,
/// and once it is out of attempts it is DEAD too, never SUCCEEDED.
#[tokio::test]
async fn a_backfill_whose_weeks_die_fails_and_names_them() {
    use vivacampo_store::testing::make_job_ready;
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant, _, backfill, children) = fanned_out_field(store, "ana@x.io", 2).await;
        let lease = Duration::from_secs(30);
        for parent_attempt in 1..=3 {
            let mut dead = HashSet::new();
            while dead.len() < children.len() {
                for id in &children {
                    make_job_ready(store, id).await.unwrap();
                }
                let child = store.lease_job("w", lease).await.unwrap().unwrap();
                assert!(children.contains(&child.job.id));
                let status = store
                    .fail_job(&child.job.id, "w", child.attempt, "catalog down")
                    .await
                    .unwrap()
                    .unwrap();
                if status == JobStatus::Dead {
                    dead.insert(child.job.id);
                }
            }
            let parent = store.job(&tenant, &backfill).await.unwrap();
            let expected = if parent_attempt < 3 {
                JobStatus::Failed
            } else {
                JobStatus::Dead
            };
            assert_eq!(
                (
                    parent.status,
                    parent.progress,
                    parent.attempts,
                    parent.last_error.as_deref()
                ),
                (
                    expected,
                    Progress { done: 2, total: 2 },
                    parent_attempt,
                    Some("2 of 2 weeks ended DEAD: 2026-W01, 2026-W02")
                )
            );
            if parent_attempt == 3 {
                assert!(parent.finished_at.is_some());
                break;
            }
            make_job_ready(store, &backfill).await.unwrap();
            let retry = store.lease_job("w", lease).await.unwrap().unwrap();
            assert_eq!(retry.job.id, backfill);
            assert_eq!(store.revive_children(&backfill).await.unwrap(), Some(2));
            store
                .complete_job(&backfill, "w", retry.attempt, serde_json::json!({}))
                .await
                .unwrap();
            assert_eq!(
                store.job(&tenant, &backfill).await.unwrap().status,
                JobStatus::Running
            );
        }
        db.drop_db().await;
    }
}

/// Three replicas starting at once on a new database all migrate: one applies every migration,
/// the others wait for it and find nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_run_one_after_the_other() {
    use vivacampo_store::StoreOptions;
    let mut dbs = vec![TestDb::sqlite_empty(4, Duration::from_secs(10)).await];
    dbs.extend(TestDb::postgres_empty(4, Duration::from_secs(10)).await);
    for db in dbs {
        let mut replicas = Vec::new();
        for _ in 0..3 {
            let store = Store::open(&StoreOptions {
                url: db.url.clone(),
                max_connections: 2,
                acquire_timeout: Duration::from_secs(10),
                statement_timeout: Duration::from_secs(10),
            })
            .await
            .unwrap();
            replicas.push(tokio::spawn(async move { store.migrate().await }));
        }
        // Every migration applied once, by one replica or another, none failing.
        let mut applied = Vec::new();
        for r in replicas {
            applied.extend(r.await.unwrap().unwrap());
        }
        applied.sort();
        let all: Vec<i64> = vivacampo_store::migrate::MIGRATIONS
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(applied, all, "{:?}", db.backend());
        assert!(db.store.migrations_current().await.unwrap());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_batch_of_fields_is_created_whole_or_not_at_all() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ana, tenant) = user_with_tenant(store, "batch@example.com").await;
        store
            .update_tenant(
                &tenant,
                TenantPatch {
                    max_fields: Some(3),
                    max_hectares: Some(1000.0),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let farm = store
            .create_farm(&tenant, &ana, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let batch = |n: usize| (0..n).map(|_| new_aoi(&farm.id, 10.0)).collect::<Vec<_>>();
        // Four fields would pass the quota of three: none is created.
        assert!(matches!(
            store.create_aois(&tenant, &ana, &farm.id, &batch(4)).await,
            Err(StoreError::Quota(_))
        ));
        assert!(store.farm_aois(&tenant, &farm.id).await.unwrap().is_empty());
        let created = store
            .create_aois(&tenant, &ana, &farm.id, &batch(3))
            .await
            .unwrap();
        assert_eq!(created.len(), 3);
        let fields = store.farm_aois(&tenant, &farm.id).await.unwrap();
        assert_eq!(fields.len(), 3);
        for (aoi_id, job_id) in &created {
            let job = store.job(&tenant, job_id).await.unwrap();
            assert_eq!(job.job_type, JobType::Backfill);
            assert_eq!(job.aoi_id.as_deref(), Some(aoi_id.as_str()));
        }
        // Another tenant's farm is not found, and nothing is created.
        let (bia, other) = user_with_tenant(store, "batch-b@example.com").await;
        assert!(matches!(
            store.create_aois(&other, &bia, &farm.id, &batch(1)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.farm_aois(&other, &farm.id).await,
            Err(StoreError::NotFound)
        ));
        db.drop_db().await;
    }
}

#[tokio::test]
async fn login_backoff_is_per_account_shared_and_reset_by_success() {
    for db in TestDb::all().await {
        let store = &db.store;
        let backend = db.backend();
        for attempt in 1..=5 {
            let gate = store.begin_login_attempt("ana@x.io").await.unwrap();
            assert_eq!(gate, None, "{backend:?}: attempt {attempt} is free");
        }
        let wait = store.begin_login_attempt(" ANA@x.io").await.unwrap();
        assert!(
            wait.is_some_and(|w| w > Duration::ZERO && w <= Duration::from_secs(1)),
            "{backend:?}: the 6th attempt waits the first backoff (1 s), any case: {wait:?}"
        );
        assert_eq!(
            store.begin_login_attempt("bia@x.io").await.unwrap(),
            None,
            "{backend:?}: another account is not slowed"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(store.begin_login_attempt("ana@x.io").await.unwrap(), None);
        let wait = store
            .begin_login_attempt("ana@x.io")
            .await
            .unwrap()
            .unwrap();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(2),
            "{backend:?}: the wait doubles: {wait:?}"
        );
        store.login_succeeded("Ana@X.io").await.unwrap();
        assert_eq!(
            store.begin_login_attempt("ana@x.io").await.unwrap(),
            None,
            "{backend:?}: success forgets the failures"
        );

        // Parallel guesses (many addresses, many replicas) cannot slip past the backoff while the
        // password hash runs: the attempt is counted before the password is checked.
        let guesses = (0..20).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.begin_login_attempt("carla@x.io").await.unwrap() })
        });
        let mut admitted = 0;
        for guess in guesses {
            if guess.await.unwrap().is_none() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "{backend:?}: exactly the free attempts pass");
        db.drop_db().await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("vivacampo-perm-{}", uuid::Uuid::new_v4()));
    let db = dir.join("data").join("vivacampo.db");
    let store = Store::open(&vivacampo_store::StoreOptions {
        url: format!("sqlite://{}", db.display()),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(3),
        statement_timeout: Duration::from_secs(10),
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("data")), 0o700, "the directory");
    assert_eq!(mode(&db), 0o600, "the database");
    let wal = dir.join("data").join("vivacampo.db-wal");
    assert_eq!(mode(&wal), 0o600, "its write-ahead log");
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
