//! The audit log: one row per create, update and delete, written in the same transaction as the
//! change it records, so the log and the data cannot disagree.

use sqlx::{Any, Transaction};

use crate::{Page, PageRequest, Result, Store, col, new_id, now_ms};

/// Who did it, to what.
pub(crate) struct AuditEntry<'a> {
    pub tenant_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub details: serde_json::Value,
}

pub(crate) async fn record(
    tx: &mut Transaction<'static, Any>,
    entry: AuditEntry<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor_id, action, resource_type, resource_id, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(entry.tenant_id)
    .bind(entry.actor_id)
    .bind(entry.action)
    .bind(entry.resource_type)
    .bind(entry.resource_id)
    .bind(entry.details.to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub details: serde_json::Value,
    pub created_at: i64,
}

impl Store {
    /// A tenant's audit log, newest first.
    pub async fn audit_log(&self, tenant_id: &str, page: PageRequest) -> Result<Page<AuditRecord>> {
        let mut conn = self.conn().await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(
            "SELECT id, actor_id, action, resource_type, resource_id, details, created_at FROM audit_log
             WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        )
        .bind(tenant_id)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                let details: String = col(r, "details")?;
                Ok(AuditRecord {
                    id: col(r, "id")?,
                    actor_id: col(r, "actor_id")?,
                    action: col(r, "action")?,
                    resource_type: col(r, "resource_type")?,
                    resource_id: col(r, "resource_id")?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                    created_at: col(r, "created_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }
}
