//! Farms: named groups of fields with a time zone.

use crate::aois::delete_assets_job;
use crate::audit::{self, AuditEntry};
use crate::queue;
use crate::{Page, PageRequest, Result, Store, StoreError, col, new_id, now_ms};

/// A farm with the number of its active fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Farm {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub timezone: String,
    pub aoi_count: i64,
    pub total_area_ha: f64,
    pub created_at: i64,
    pub updated_at: i64,
}

const FARM_SELECT: &str =
    "SELECT f.id, f.tenant_id, f.name, f.timezone, f.created_at, f.updated_at,
        (SELECT COUNT(*) FROM aois a WHERE a.farm_id = f.id AND a.status = 'ACTIVE') AS aoi_count,
        (SELECT CAST(COALESCE(SUM(a.area_ha), 0) AS DOUBLE PRECISION) FROM aois a
          WHERE a.farm_id = f.id AND a.status = 'ACTIVE') AS total_area_ha
     FROM farms f";

fn farm_from(row: &sqlx::any::AnyRow) -> Result<Farm> {
    Ok(Farm {
        id: col(row, "id")?,
        tenant_id: col(row, "tenant_id")?,
        name: col(row, "name")?,
        timezone: col(row, "timezone")?,
        aoi_count: col(row, "aoi_count")?,
        total_area_ha: col(row, "total_area_ha")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

pub(crate) async fn farm_by_id(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Farm> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{FARM_SELECT} WHERE f.id = $1 AND f.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    farm_from(&row)
}

impl Store {
    /// Creates a farm.
    pub async fn create_farm(
        &self,
        tenant_id: &str,
        actor_id: &str,
        name: &str,
        timezone: &str,
    ) -> Result<Farm> {
        let mut tx = self.begin().await?;
        let id = new_id();
        let now = now_ms();
        sqlx::query("INSERT INTO farms (id, tenant_id, name, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(&id)
            .bind(tenant_id)
            .bind(name)
            .bind(timezone)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id: Some(actor_id),
                action: "CREATE",
                resource_type: "farm",
                resource_id: &id,
                details: serde_json::json!({"name": name, "timezone": timezone}),
            },
        )
        .await?;
        let farm = farm_by_id(&mut tx, tenant_id, &id).await?;
        tx.commit().await?;
        Ok(farm)
    }

    /// A tenant's farm.
    pub async fn farm(&self, tenant_id: &str, id: &str) -> Result<Farm> {
        let mut conn = self.conn().await?;
        farm_by_id(&mut conn, tenant_id, id).await
    }

    /// A tenant's farms by name.
    pub async fn list_farms(&self, tenant_id: &str, page: PageRequest) -> Result<Page<Farm>> {
        let mut conn = self.conn().await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM farms WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FARM_SELECT} WHERE f.tenant_id = $1 ORDER BY f.name, f.id LIMIT $2 OFFSET $3"
        )))
        .bind(tenant_id)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await?;
        let items = rows.iter().map(farm_from).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    /// Renames a farm or changes its time zone.
    pub async fn update_farm(
        &self,
        tenant_id: &str,
        actor_id: &str,
        id: &str,
        name: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<Farm> {
        let mut tx = self.begin().await?;
        let before = farm_by_id(&mut tx, tenant_id, id).await?;
        let new_name = name.unwrap_or(&before.name);
        let new_timezone = timezone.unwrap_or(&before.timezone);
        sqlx::query("UPDATE farms SET name = $1, timezone = $2, updated_at = $3 WHERE id = $4 AND tenant_id = $5")
            .bind(new_name)
            .bind(new_timezone)
            .bind(now_ms())
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id: Some(actor_id),
                action: "UPDATE",
                resource_type: "farm",
                resource_id: id,
                details: serde_json::json!({
                    "before": {"name": before.name, "timezone": before.timezone},
                    "after": {"name": new_name, "timezone": new_timezone},
                }),
            },
        )
        .await?;
        let farm = farm_by_id(&mut tx, tenant_id, id).await?;
        tx.commit().await?;
        Ok(farm)
    }

    /// Deletes a farm and its fields; each field's rasters are removed by a DELETE_AOI_ASSETS job.
    pub async fn delete_farm(&self, tenant_id: &str, actor_id: &str, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let farm = farm_by_id(&mut tx, tenant_id, id).await?;
        let aoi_ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM aois WHERE farm_id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant_id)
                .fetch_all(&mut *tx)
                .await?;
        for aoi_id in &aoi_ids {
            queue::enqueue(&mut tx, &delete_assets_job(tenant_id, aoi_id)).await?;
        }
        sqlx::query("DELETE FROM aois WHERE farm_id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM farms WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id: Some(actor_id),
                action: "DELETE",
                resource_type: "farm",
                resource_id: id,
                details: serde_json::json!({"name": farm.name, "deleted_aois": aoi_ids}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
