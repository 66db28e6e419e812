//! Fields (areas of interest): geometry, area, quota checks, geometry versions, field-weeks.

use vivacampo_core::jobs::JobType;
use vivacampo_core::weeks::IsoWeek;

use crate::audit::{self, AuditEntry};
use crate::farms::farm_by_id;
use crate::queue::{self, NewJob};
use crate::{Page, PageRequest, Result, Store, StoreError, col, new_id, now_ms};

/// A field as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Aoi {
    pub id: String,
    pub tenant_id: String,
    pub farm_id: String,
    pub name: String,
    pub use_type: String,
    pub status: String,
    pub area_ha: f64,
    pub bbox: [f64; 4],
    /// GeoJSON MultiPolygon.
    pub geometry: serde_json::Value,
    pub geometry_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Imagery jobs of this field (BACKFILL, PROCESS_WEEK) still in play (PENDING, RUNNING or
    /// FAILED): what the processing progress waits for. Weather jobs have their own state.
    pub pending_jobs: i64,
    /// The newest processed week, if any.
    pub last_processed_week: Option<IsoWeek>,
}

/// A validated shape: GeoJSON MultiPolygon, area and bounding box.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub geometry: serde_json::Value,
    pub area_ha: f64,
    pub bbox: [f64; 4],
}

/// A field to create.
#[derive(Debug, Clone)]
pub struct NewAoi {
    pub farm_id: String,
    pub name: String,
    pub use_type: String,
    pub shape: Shape,
    /// Weeks the initial backfill covers.
    pub backfill_weeks: u32,
}

/// A change to a field; `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct AoiPatch {
    pub name: Option<String>,
    pub use_type: Option<String>,
    pub shape: Option<Shape>,
}

/// Filters of the field list.
#[derive(Debug, Clone, Default)]
pub struct AoiFilter {
    pub farm_id: Option<String>,
    pub status: Option<String>,
}

/// A week a field's backfill planned, as recorded by the BACKFILL job.
#[derive(Debug, Clone, PartialEq)]
pub struct AoiWeek {
    pub week: IsoWeek,
    pub week_start: String,
    pub status: String,
}

const AOI_SELECT: &str = "SELECT a.id, a.tenant_id, a.farm_id, a.name, a.use_type, a.status, a.area_ha,
        a.min_lon, a.min_lat, a.max_lon, a.max_lat, a.geometry, a.geometry_version, a.created_at, a.updated_at,
        (SELECT COUNT(*) FROM jobs j WHERE j.aoi_id = a.id AND j.job_type IN ('BACKFILL', 'PROCESS_WEEK')
            AND j.status IN ('PENDING', 'RUNNING', 'FAILED')) AS pending_jobs,
        (SELECT MAX(w.year * 100 + w.week) FROM aoi_weeks w WHERE w.aoi_id = a.id AND w.status <> 'PLANNED') AS last_week
     FROM aois a";

fn aoi_from(row: &sqlx::any::AnyRow) -> Result<Aoi> {
    let geometry: String = col(row, "geometry")?;
    let last_week: Option<i64> = col(row, "last_week")?;
    Ok(Aoi {
        id: col(row, "id")?,
        tenant_id: col(row, "tenant_id")?,
        farm_id: col(row, "farm_id")?,
        name: col(row, "name")?,
        use_type: col(row, "use_type")?,
        status: col(row, "status")?,
        area_ha: col(row, "area_ha")?,
        bbox: [
            col(row, "min_lon")?,
            col(row, "min_lat")?,
            col(row, "max_lon")?,
            col(row, "max_lat")?,
        ],
        geometry: serde_json::from_str(&geometry)
            .map_err(|e| StoreError::Corrupt(format!("aoi geometry: {e}")))?,
        geometry_version: col(row, "geometry_version")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        pending_jobs: col(row, "pending_jobs")?,
        last_processed_week: last_week
            .and_then(|w| IsoWeek::new((w / 100) as i32, (w % 100) as u8)),
    })
}

async fn aoi_by_id(conn: &mut sqlx::AnyConnection, tenant_id: &str, id: &str) -> Result<Aoi> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{AOI_SELECT} WHERE a.id = $1 AND a.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    aoi_from(&row)
}

/// Refuses a change that would take the tenant past its quotas. `replaced_ha` is the area of a
/// field being reshaped (it no longer counts).
async fn check_quota(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    extra_fields: i64,
    new_ha: f64,
    replaced_ha: f64,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT t.max_fields, t.max_hectares,
            (SELECT COUNT(*) FROM aois a WHERE a.tenant_id = t.id AND a.status = 'ACTIVE') AS fields,
            (SELECT CAST(COALESCE(SUM(a.area_ha), 0) AS DOUBLE PRECISION) FROM aois a
              WHERE a.tenant_id = t.id AND a.status = 'ACTIVE') AS hectares
         FROM tenants t WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let quotas = vivacampo_core::tenancy::Quotas {
        max_fields: col(&row, "max_fields")?,
        max_hectares: col(&row, "max_hectares")?,
    };
    let fields: i64 = col(&row, "fields")?;
    let hectares: f64 = col(&row, "hectares")?;
    quotas
        .check(fields, hectares - replaced_ha, extra_fields, new_ha)
        .map_err(StoreError::Quota)
}

/// The job that removes a deleted field's rasters from storage.
pub(crate) fn delete_assets_job(tenant_id: &str, aoi_id: &str) -> NewJob {
    NewJob {
        tenant_id: tenant_id.to_owned(),
        aoi_id: Some(aoi_id.to_owned()),
        job_type: JobType::DeleteAoiAssets,
        idempotency_key: Some(format!("DELETE_AOI_ASSETS:{aoi_id}")),
        payload: serde_json::json!({"aoi_id": aoi_id}),
        run_after: None,
    }
}

/// Most weeks one backfill covers (two years), as the API allows.
const MAX_BACKFILL_WEEKS: usize = 104;

/// The BACKFILL that reprocesses a reshaped field: every week from `oldest` (its oldest recorded
/// week) to the current one, at most the newest [`MAX_BACKFILL_WEEKS`]; `None` if that span is
/// empty (a clock set back).
fn reprocess_job(
    tenant_id: &str,
    aoi_id: &str,
    geometry_version: i64,
    oldest: IsoWeek,
    today: time::Date,
) -> Option<NewJob> {
    let mut weeks = IsoWeek::spanning(oldest.start(), today);
    weeks.truncate(MAX_BACKFILL_WEEKS);
    let (from, to) = (*weeks.last()?, *weeks.first()?);
    Some(NewJob {
        tenant_id: tenant_id.to_owned(),
        aoi_id: Some(aoi_id.to_owned()),
        job_type: JobType::Backfill,
        idempotency_key: Some(format!(
            "BACKFILL:{aoi_id}:v{geometry_version}:{from}..{to}"
        )),
        payload: serde_json::json!({
            "aoi_id": aoi_id,
            "geometry_version": geometry_version,
            "weeks": weeks.len(),
            "from_week": {"year": from.year, "week": from.week},
            "to_week": {"year": to.year, "week": to.week},
            "reason": "new shape",
        }),
        run_after: None,
    })
}

fn backfill_job(tenant_id: &str, aoi_id: &str, geometry_version: i64, weeks: u32) -> NewJob {
    NewJob {
        tenant_id: tenant_id.to_owned(),
        aoi_id: Some(aoi_id.to_owned()),
        job_type: JobType::Backfill,
        idempotency_key: Some(format!("BACKFILL:{aoi_id}:v{geometry_version}:w{weeks}")),
        payload: serde_json::json!({"aoi_id": aoi_id, "weeks": weeks, "geometry_version": geometry_version}),
        run_after: None,
    }
}

/// Inserts a field, its BACKFILL job and the audit entry; returns (field id, job id).
async fn insert_aoi(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant_id: &str,
    actor_id: &str,
    new: &NewAoi,
) -> Result<(String, String)> {
    let id = new_id();
    let now = now_ms();
    let [min_lon, min_lat, max_lon, max_lat] = new.shape.bbox;
    sqlx::query(
        "INSERT INTO aois (id, tenant_id, farm_id, name, use_type, status, area_ha, min_lon, min_lat, max_lon, max_lat,
                           geometry, geometry_version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7, $8, $9, $10, $11, 1, $12, $12)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(&new.farm_id)
    .bind(&new.name)
    .bind(&new.use_type)
    .bind(new.shape.area_ha)
    .bind(min_lon)
    .bind(min_lat)
    .bind(max_lon)
    .bind(max_lat)
    .bind(new.shape.geometry.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let job = queue::enqueue(tx, &backfill_job(tenant_id, &id, 1, new.backfill_weeks)).await?;
    audit::record(
        tx,
        AuditEntry {
            tenant_id: Some(tenant_id),
            actor_id: Some(actor_id),
            action: "CREATE",
            resource_type: "aoi",
            resource_id: &id,
            details: serde_json::json!({"name": new.name, "farm_id": new.farm_id, "use_type": new.use_type,
                                        "area_ha": new.shape.area_ha}),
        },
    )
    .await?;
    Ok((id, job.job.id))
}

impl Store {
    /// Creates a field after the quota check and enqueues its backfill, in one transaction.
    /// Returns the field and the backfill job id.
    pub async fn create_aoi(
        &self,
        tenant_id: &str,
        actor_id: &str,
        new: NewAoi,
    ) -> Result<(Aoi, String)> {
        let mut tx = self.begin().await?;
        farm_by_id(&mut tx, tenant_id, &new.farm_id).await?;
        check_quota(&mut tx, tenant_id, 1, new.shape.area_ha, 0.0).await?;
        let (id, job_id) = insert_aoi(&mut tx, tenant_id, actor_id, &new).await?;
        let aoi = aoi_by_id(&mut tx, tenant_id, &id).await?;
        tx.commit().await?;
        Ok((aoi, job_id))
    }

    /// Creates many fields of one farm and enqueues their backfills in one transaction: all of
    /// them or, on any error (a quota, a missing farm), none. The quotas are checked once for the
    /// whole batch. Returns each field's id and backfill job id, in order.
    pub async fn create_aois(
        &self,
        tenant_id: &str,
        actor_id: &str,
        farm_id: &str,
        fields: &[NewAoi],
    ) -> Result<Vec<(String, String)>> {
        let mut tx = self.begin().await?;
        farm_by_id(&mut tx, tenant_id, farm_id).await?;
        let hectares: f64 = fields.iter().map(|f| f.shape.area_ha).sum();
        check_quota(&mut tx, tenant_id, fields.len() as i64, hectares, 0.0).await?;
        let mut created = Vec::with_capacity(fields.len());
        for new in fields {
            if new.farm_id != farm_id {
                return Err(StoreError::NotFound);
            }
            created.push(insert_aoi(&mut tx, tenant_id, actor_id, new).await?);
        }
        tx.commit().await?;
        Ok(created)
    }

    /// Every active field of a farm, by name (for export and import checks).
    pub async fn farm_aois(&self, tenant_id: &str, farm_id: &str) -> Result<Vec<Aoi>> {
        let mut conn = self.conn().await?;
        farm_by_id(&mut conn, tenant_id, farm_id).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AOI_SELECT} WHERE a.tenant_id = $1 AND a.farm_id = $2 AND a.status = 'ACTIVE'
             ORDER BY a.name, a.id"
        )))
        .bind(tenant_id)
        .bind(farm_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(aoi_from).collect()
    }

    /// A tenant's field.
    pub async fn aoi(&self, tenant_id: &str, id: &str) -> Result<Aoi> {
        let mut conn = self.conn().await?;
        aoi_by_id(&mut conn, tenant_id, id).await
    }

    /// A tenant's fields, by name.
    pub async fn list_aois(
        &self,
        tenant_id: &str,
        filter: &AoiFilter,
        page: PageRequest,
    ) -> Result<Page<Aoi>> {
        let mut conn = self.conn().await?;
        let mut clauses = vec!["a.tenant_id = $1".to_owned()];
        let mut args = vec![tenant_id.to_owned()];
        if let Some(farm) = &filter.farm_id {
            args.push(farm.clone());
            clauses.push(format!("a.farm_id = ${}", args.len()));
        }
        if let Some(status) = &filter.status {
            args.push(status.clone());
            clauses.push(format!("a.status = ${}", args.len()));
        }
        let where_sql = clauses.join(" AND ");
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM aois a WHERE {where_sql}"
        )));
        for a in &args {
            count = count.bind(a.clone());
        }
        let total = count.fetch_one(&mut *conn).await?;
        let mut list = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{AOI_SELECT} WHERE {where_sql} ORDER BY a.name, a.id LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        )));
        for a in &args {
            list = list.bind(a.clone());
        }
        let rows = list
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&mut *conn)
            .await?;
        let items = rows.iter().map(aoi_from).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    /// Changes a field. A new shape is checked against the quota, the old one is kept as a
    /// version, and the field's weeks are reprocessed by a new backfill (whose id is returned):
    /// every week from its oldest recorded one to the current week (at most 104), so no week
    /// keeps the old shape's statistics; `backfill_weeks` weeks when none is recorded yet.
    pub async fn update_aoi(
        &self,
        tenant_id: &str,
        actor_id: &str,
        id: &str,
        patch: AoiPatch,
        backfill_weeks: u32,
    ) -> Result<(Aoi, Option<String>)> {
        let mut tx = self.begin().await?;
        let before = aoi_by_id(&mut tx, tenant_id, id).await?;
        let now = now_ms();
        let mut backfill = None;
        let mut version = before.geometry_version;
        if let Some(shape) = &patch.shape {
            check_quota(&mut tx, tenant_id, 0, shape.area_ha, before.area_ha).await?;
            sqlx::query(
                "INSERT INTO aoi_geometry_versions (aoi_id, tenant_id, version, geometry, area_ha, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(tenant_id)
            .bind(before.geometry_version)
            .bind(before.geometry.to_string())
            .bind(before.area_ha)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            version += 1;
            let [min_lon, min_lat, max_lon, max_lat] = shape.bbox;
            sqlx::query(
                "UPDATE aois SET geometry = $1, area_ha = $2, min_lon = $3, min_lat = $4, max_lon = $5, max_lat = $6,
                 geometry_version = $7 WHERE id = $8 AND tenant_id = $9",
            )
            .bind(shape.geometry.to_string())
            .bind(shape.area_ha)
            .bind(min_lon)
            .bind(min_lat)
            .bind(max_lon)
            .bind(max_lat)
            .bind(version)
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(year * 100 + week) FROM aoi_weeks WHERE aoi_id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
            let today = time::OffsetDateTime::now_utc().date();
            let job = oldest
                .and_then(|w| IsoWeek::new((w / 100) as i32, (w % 100) as u8))
                .and_then(|oldest| reprocess_job(tenant_id, id, version, oldest, today))
                .unwrap_or_else(|| backfill_job(tenant_id, id, version, backfill_weeks));
            backfill = Some(queue::enqueue(&mut tx, &job).await?.job.id);
        }
        let name = patch.name.clone().unwrap_or_else(|| before.name.clone());
        let use_type = patch
            .use_type
            .clone()
            .unwrap_or_else(|| before.use_type.clone());
        sqlx::query("UPDATE aois SET name = $1, use_type = $2, updated_at = $3 WHERE id = $4 AND tenant_id = $5")
            .bind(&name)
            .bind(&use_type)
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        let mut details = serde_json::json!({
            "before": {"name": before.name, "use_type": before.use_type},
            "after": {"name": name, "use_type": use_type},
        });
        if let Some(shape) = &patch.shape {
            details["before"]["area_ha"] = before.area_ha.into();
            details["before"]["geometry_version"] = before.geometry_version.into();
            details["after"]["area_ha"] = shape.area_ha.into();
            details["after"]["geometry_version"] = version.into();
        }
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id: Some(actor_id),
                action: "UPDATE",
                resource_type: "aoi",
                resource_id: id,
                details,
            },
        )
        .await?;
        let aoi = aoi_by_id(&mut tx, tenant_id, id).await?;
        tx.commit().await?;
        Ok((aoi, backfill))
    }

    /// The earlier shapes of a field, oldest first: (version, GeoJSON, area).
    pub async fn aoi_geometry_versions(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Vec<(i64, serde_json::Value, f64)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT version, geometry, area_ha FROM aoi_geometry_versions WHERE aoi_id = $1 AND tenant_id = $2 ORDER BY version",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let geometry: String = col(r, "geometry")?;
                Ok((
                    col(r, "version")?,
                    serde_json::from_str(&geometry)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    col(r, "area_ha")?,
                ))
            })
            .collect()
    }

    /// Deletes a field; its rasters are removed by a DELETE_AOI_ASSETS job enqueued here.
    pub async fn delete_aoi(&self, tenant_id: &str, actor_id: &str, id: &str) -> Result<String> {
        let mut tx = self.begin().await?;
        let aoi = aoi_by_id(&mut tx, tenant_id, id).await?;
        let job = queue::enqueue(&mut tx, &delete_assets_job(tenant_id, id)).await?;
        // Jobs that would work on the deleted field are pointless now: running ones stop at
        // their next heartbeat, and their parents are settled. The second pass sees children a
        // fan-out committed while the first waited for their parent's row.
        let mut cancelled = Vec::new();
        for _ in 0..2 {
            let rows = sqlx::query(
                "UPDATE jobs SET status = 'CANCELLED', finished_at = $1, updated_at = $1
                 WHERE aoi_id = $2 AND tenant_id = $3 AND status IN ('PENDING', 'RUNNING', 'FAILED')
                   AND job_type <> 'DELETE_AOI_ASSETS'
                 RETURNING id, parent_job_id",
            )
            .bind(now_ms())
            .bind(id)
            .bind(tenant_id)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                cancelled.push((
                    col::<String>(row, "id")?,
                    col::<Option<String>>(row, "parent_job_id")?,
                ));
            }
        }
        let ids: Vec<String> = cancelled.iter().map(|(id, _)| id.clone()).collect();
        queue::close_cancelled_runs(&mut tx, &ids).await?;
        let mut parents: Vec<String> = cancelled.into_iter().filter_map(|(_, p)| p).collect();
        parents.sort();
        parents.dedup();
        for parent in parents {
            queue::settle_parent(&mut tx, &parent).await?;
        }
        sqlx::query("DELETE FROM aois WHERE id = $1 AND tenant_id = $2")
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
                resource_type: "aoi",
                resource_id: id,
                details: serde_json::json!({"name": aoi.name, "area_ha": aoi.area_ha}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(job.job.id)
    }

    /// Enqueues a backfill of the given weeks (newest first) for a field.
    pub async fn request_backfill(
        &self,
        tenant_id: &str,
        actor_id: &str,
        id: &str,
        weeks: &[IsoWeek],
    ) -> Result<String> {
        let mut tx = self.begin().await?;
        let aoi = aoi_by_id(&mut tx, tenant_id, id).await?;
        let (first, last) = match (weeks.last(), weeks.first()) {
            (Some(first), Some(last)) => (*first, *last),
            _ => return Err(StoreError::Conflict("no weeks to backfill".into())),
        };
        let job = queue::enqueue(
            &mut tx,
            &NewJob {
                tenant_id: tenant_id.to_owned(),
                aoi_id: Some(id.to_owned()),
                job_type: JobType::Backfill,
                idempotency_key: Some(format!(
                    "BACKFILL:{id}:v{}:{first}..{last}",
                    aoi.geometry_version
                )),
                payload: serde_json::json!({
                    "aoi_id": id,
                    "geometry_version": aoi.geometry_version,
                    "weeks": weeks.len(),
                    "from_week": {"year": first.year, "week": first.week},
                    "to_week": {"year": last.year, "week": last.week},
                }),
                run_after: None,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id: Some(actor_id),
                action: "BACKFILL_REQUEST",
                resource_type: "aoi",
                resource_id: id,
                details: serde_json::json!({"job_id": job.job.id, "from": first.to_string(), "to": last.to_string()}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(job.job.id)
    }

    /// Records the weeks a backfill will process (status `PLANNED` until processed). Existing
    /// weeks keep their status, so a re-run never duplicates or downgrades them.
    pub async fn plan_aoi_weeks(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        weeks: &[IsoWeek],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        for week in weeks {
            sqlx::query(
                "INSERT INTO aoi_weeks (tenant_id, aoi_id, year, week, week_start, status, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'PLANNED', $6) ON CONFLICT (aoi_id, year, week) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(aoi_id)
            .bind(i64::from(week.year))
            .bind(i64::from(week.week))
            .bind(week.start().to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The weeks recorded for a field, newest first.
    pub async fn aoi_weeks(&self, tenant_id: &str, aoi_id: &str) -> Result<Vec<AoiWeek>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT year, week, week_start, status FROM aoi_weeks WHERE tenant_id = $1 AND aoi_id = $2 ORDER BY year DESC, week DESC",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let year: i64 = col(r, "year")?;
                let week: i64 = col(r, "week")?;
                Ok(AoiWeek {
                    week: IsoWeek::new(year as i32, week as u8)
                        .ok_or_else(|| StoreError::Corrupt(format!("week {year}-{week}")))?,
                    week_start: col(r, "week_start")?,
                    status: col(r, "status")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_reshaped_field_is_reprocessed_from_its_oldest_week() {
        let today = date!(2026 - 03 - 18);
        let oldest = IsoWeek::new(2025, 50).unwrap();
        let job = reprocess_job("t", "a", 2, oldest, today).unwrap();
        assert_eq!(job.payload["weeks"], 15);
        assert_eq!(
            (&job.payload["from_week"], &job.payload["to_week"]),
            (
                &serde_json::json!({"year": 2025, "week": 50}),
                &serde_json::json!({"year": 2026, "week": 12})
            )
        );
        assert_eq!(
            job.idempotency_key.as_deref(),
            Some("BACKFILL:a:v2:2025-W50..2026-W12")
        );
        // Three years of weeks: the newest 104.
        let job = reprocess_job("t", "a", 2, IsoWeek::new(2023, 1).unwrap(), today).unwrap();
        assert_eq!(job.payload["weeks"], 104);
        assert_eq!(
            job.payload["from_week"],
            serde_json::json!({"year": 2024, "week": 13})
        );
        assert!(reprocess_job("t", "a", 2, IsoWeek::new(2026, 20).unwrap(), today).is_none());
    }
}
