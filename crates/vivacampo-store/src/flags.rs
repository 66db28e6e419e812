//! Feature flags in the `feature_flags` table, and the short-lived cache every replica reads
//! them through: a change reaches every process within [`FLAG_TTL`].
//!
//! Job types whose flag is off are not leased at all (see [`job_flag_gate`]): they stay
//! PENDING and run when the flag is on again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vivacampo_core::flags::{Flag, FlagSet};
use vivacampo_core::jobs::JobType;

use crate::audit::{self, AuditEntry};
use crate::{Result, Store, col, now_ms};

/// How long a replica trusts its copy of the flags.
pub const FLAG_TTL: Duration = Duration::from_secs(5);

/// The cached copy of the flags one process reads.
#[derive(Default)]
pub(crate) struct FlagCache {
    copy: Mutex<Option<(Instant, Arc<FlagSet>)>>,
}

impl FlagCache {
    fn fresh(&self) -> Option<Arc<FlagSet>> {
        let copy = self.copy.lock().unwrap_or_else(|e| e.into_inner());
        copy.as_ref()
            .filter(|(at, _)| at.elapsed() < FLAG_TTL)
            .map(|(_, set)| set.clone())
    }

    fn stale(&self) -> Option<Arc<FlagSet>> {
        let copy = self.copy.lock().unwrap_or_else(|e| e.into_inner());
        copy.as_ref().map(|(_, set)| set.clone())
    }

    fn put(&self, set: Arc<FlagSet>) {
        *self.copy.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), set));
    }

    fn clear(&self) {
        *self.copy.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A SQL condition, for a query over `jobs`, that is false for jobs whose flag is off for their
/// tenant (or globally, without a tenant value).
pub(crate) fn job_flag_gate() -> String {
    let arms: String = JobType::ALL
        .iter()
        .filter_map(|t| {
            Flag::for_job(*t).map(|f| format!(" WHEN '{}' THEN '{}'", t.as_str(), f.as_str()))
        })
        .collect();
    let key = format!("CASE jobs.job_type{arms} END");
    format!(
        "COALESCE((SELECT f.enabled FROM feature_flags f WHERE f.flag = {key} AND f.tenant_id = jobs.tenant_id),
                  (SELECT f.enabled FROM feature_flags f WHERE f.flag = {key} AND f.tenant_id = ''), 1) = 1"
    )
}

impl Store {
    /// Every stored flag value, read from the database now.
    pub async fn flag_values(&self) -> Result<FlagSet> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query("SELECT flag, tenant_id, enabled FROM feature_flags")
            .fetch_all(&mut *conn)
            .await?;
        let mut set = FlagSet::default();
        for row in &rows {
            let key: String = col(row, "flag")?;
            // A key a newer release wrote is ignored by this one.
            let Ok(flag) = key.parse::<Flag>() else {
                continue;
            };
            let tenant: String = col(row, "tenant_id")?;
            let enabled: i64 = col(row, "enabled")?;
            set.insert(
                flag,
                (!tenant.is_empty()).then_some(tenant.as_str()),
                enabled != 0,
            );
        }
        Ok(set)
    }

    /// The flags, at most [`FLAG_TTL`] old. When the database cannot be read, the last copy
    /// stays in force for another [`FLAG_TTL`] (or every flag is on, if there is none): flags
    /// never take a feature down, and a failed read is not retried by every request.
    pub async fn flags(&self) -> Arc<FlagSet> {
        if let Some(set) = self.flags.fresh() {
            return set;
        }
        match self.flag_values().await {
            Ok(set) => {
                let set = Arc::new(set);
                self.flags.put(set.clone());
                set
            }
            Err(e) => {
                // Keep the last values for another period, so requests do not each wait for a
                // saturated or absent database.
                tracing::warn!(error = %e, "cannot read feature flags; keeping the last values");
                let set = self.flags.stale().unwrap_or_default();
                self.flags.put(set.clone());
                set
            }
        }
    }

    /// Whether a feature is on for a tenant (`None`: the global value), through the cache.
    pub async fn flag_enabled(&self, flag: Flag, tenant_id: Option<&str>) -> bool {
        self.flags().await.enabled(flag, tenant_id)
    }

    /// Sets a flag globally (`tenant_id` `None`) or for one tenant, and records it in the audit
    /// log. This process sees the change at once, others within [`FLAG_TTL`].
    pub async fn set_flag(
        &self,
        flag: Flag,
        tenant_id: Option<&str>,
        enabled: bool,
        actor_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        if let Some(t) = tenant_id {
            let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE id = $1")
                .bind(t)
                .fetch_one(&mut *tx)
                .await?;
            if exists == 0 {
                return Err(crate::StoreError::NotFound);
            }
        }
        let now = now_ms();
        sqlx::query(
            "INSERT INTO feature_flags (flag, tenant_id, enabled, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (flag, tenant_id) DO UPDATE SET enabled = excluded.enabled,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(flag.as_str())
        .bind(tenant_id.unwrap_or(""))
        .bind(i64::from(enabled))
        .bind(now)
        .bind(actor_id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id,
                actor_id,
                action: "SET_FLAG",
                resource_type: "feature_flag",
                resource_id: flag.as_str(),
                details: serde_json::json!({"enabled": enabled, "tenant_id": tenant_id}),
            },
        )
        .await?;
        tx.commit().await?;
        self.flags.clear();
        Ok(())
    }
}
