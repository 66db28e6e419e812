//! Processed field-weeks and their index statistics, written by PROCESS_WEEK and read by the
//! history, weeks and raster endpoints.

use vivacampo_core::baseline::baseline;
use vivacampo_core::weeks::IsoWeek;

use crate::{Backend, Result, Store, StoreError, col, now_ms};

/// What a processed week found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekStatus {
    /// Enough clear pixels: statistics are meaningful.
    Ok,
    /// Scenes exist but too few pixels over the field are clear.
    Cloudy,
    /// No scene covers the field this week.
    NoData,
}

impl WeekStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WeekStatus::Ok => "OK",
            WeekStatus::Cloudy => "CLOUDY",
            WeekStatus::NoData => "NO_DATA",
        }
    }
}

/// Statistics of one index over the field's valid pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStats {
    pub index: String,
    pub count: i64,
    pub valid_count: i64,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p10: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

/// One processed week of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekResult {
    pub week: IsoWeek,
    pub status: WeekStatus,
    /// Datetime (epoch ms) of the newest scene used.
    pub scene_datetime: Option<i64>,
    /// Share of the field covered by cloud, shadow or cirrus in the scenes used.
    pub cloud_fraction: Option<f64>,
    pub valid_pixel_ratio: Option<f64>,
    /// Key of the field-week COG in the raster store.
    pub raster_key: Option<String>,
    /// Size of that COG.
    pub raster_bytes: Option<i64>,
    /// The scenes used: `[{id, datetime}]`, so every chart point traces to its images.
    pub scenes: serde_json::Value,
    pub stats: Vec<IndexStats>,
}

/// A stored week with the indices it has statistics for.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekRecord {
    pub week: IsoWeek,
    pub status: String,
    pub scene_datetime: Option<i64>,
    pub cloud_fraction: Option<f64>,
    pub valid_pixel_ratio: Option<f64>,
    pub raster_key: Option<String>,
    pub raster_bytes: Option<i64>,
    pub scenes: serde_json::Value,
    pub indices: Vec<String>,
    /// When the week was last processed (epoch ms): changes on every re-run, so it versions
    /// anything derived from the COG (tile ETags).
    pub processed_at: Option<i64>,
}

/// A field-week COG the store knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRaster {
    pub aoi_id: String,
    pub week: IsoWeek,
    pub key: String,
    pub bytes: Option<i64>,
}

/// One point of an index's time series.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub week: IsoWeek,
    pub status: String,
    pub scene_datetime: Option<i64>,
    pub valid_pixel_ratio: Option<f64>,
    /// `None` unless the week is OK.
    pub stats: Option<IndexStats>,
    pub baseline: Option<f64>,
    pub anomaly: Option<f64>,
}

fn week_from(row: &sqlx::any::AnyRow) -> Result<IsoWeek> {
    let year: i64 = col(row, "year")?;
    let week: i64 = col(row, "week")?;
    IsoWeek::new(year as i32, week as u8)
        .ok_or_else(|| StoreError::Corrupt(format!("week {year}-{week}")))
}

// sqlx 0.9's `Any` driver sends a NULL `f64` to PostgreSQL typed as float4, so a cached
// statement first run with NULL breaks when later run with a number: statements that bind
// optional floats are not cached (`persistent(false)`).

impl Store {
    /// Records a processed week, replacing an earlier result of the same week (re-runs never
    /// duplicate). Returns the raster key the week named before, read in the same transaction,
    /// so the caller can delete exactly the file no row names any more. `NotFound`: the field
    /// is not (or no longer, even if deleted while this ran) in the tenant.
    pub async fn record_aoi_week(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        result: &WeekResult,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let replaced = lock_week(
            &mut tx,
            self.backend,
            OPTICAL,
            tenant_id,
            aoi_id,
            result.week,
        )
        .await?;
        let (year, week) = (i64::from(result.week.year), i64::from(result.week.week));
        let now = now_ms();
        sqlx::query(
            "INSERT INTO aoi_weeks (tenant_id, aoi_id, year, week, week_start, status, updated_at, scene_datetime,
                                    cloud_fraction, valid_pixel_ratio, raster_key, scenes, processed_at, raster_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $7, $13)
             ON CONFLICT (aoi_id, year, week) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at,
                scene_datetime = excluded.scene_datetime, cloud_fraction = excluded.cloud_fraction,
                valid_pixel_ratio = excluded.valid_pixel_ratio, raster_key = excluded.raster_key,
                scenes = excluded.scenes, processed_at = excluded.processed_at, raster_bytes = excluded.raster_bytes",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(year)
        .bind(week)
        .bind(result.week.start().to_string())
        .bind(result.status.as_str())
        .bind(now)
        .bind(result.scene_datetime)
        .bind(result.cloud_fraction)
        .bind(result.valid_pixel_ratio)
        .bind(result.raster_key.as_deref())
        .bind(result.scenes.to_string())
        .bind(result.raster_bytes)
        .persistent(false)
        .execute(&mut *tx)
        .await
        .map_err(field_gone)?;
        replace_week_stats(
            &mut tx,
            OPTICAL,
            tenant_id,
            aoi_id,
            result.week,
            &result.stats,
        )
        .await?;
        tx.commit().await?;
        Ok(replaced
            .flatten()
            .filter(|old| result.raster_key.as_ref() != Some(old)))
    }

    /// A tenant's field-week COGs of weeks that started before `before` (YYYY-MM-DD), oldest
    /// first, at most `limit`.
    pub async fn rasters_before(
        &self,
        tenant_id: &str,
        before: time::Date,
        limit: i64,
    ) -> Result<Vec<StoredRaster>> {
        week_rasters_before(self, OPTICAL, tenant_id, before, limit).await
    }

    /// Forgets a week's COG and keeps its statistics. False when the week meanwhile names
    /// another COG (it was reprocessed), which then stays.
    pub async fn clear_week_raster(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        week: IsoWeek,
        key: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE aoi_weeks SET raster_key = NULL, raster_bytes = NULL, updated_at = $1
             WHERE tenant_id = $2 AND aoi_id = $3 AND year = $4 AND week = $5 AND raster_key = $6",
        )
        .bind(now_ms())
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(i64::from(week.year))
        .bind(i64::from(week.week))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every raster key a tenant's rows name, optical and radar (the orphan sweep keeps these).
    pub async fn raster_keys(&self, tenant_id: &str) -> Result<std::collections::HashSet<String>> {
        let mut conn = self.conn().await?;
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT raster_key FROM aoi_weeks WHERE tenant_id = $1 AND raster_key IS NOT NULL
             UNION SELECT raster_key FROM aoi_radar_weeks WHERE tenant_id = $2 AND raster_key IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(keys.into_iter().collect())
    }

    /// Bytes of the field-week COGs the store knows of, per tenant.
    pub async fn raster_bytes_by_tenant(&self) -> Result<Vec<(String, i64)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT tenant_id, CAST(SUM(raster_bytes) AS BIGINT) AS bytes FROM
               (SELECT tenant_id, raster_bytes FROM aoi_weeks WHERE raster_key IS NOT NULL
                UNION ALL SELECT tenant_id, raster_bytes FROM aoi_radar_weeks WHERE raster_key IS NOT NULL) r
             GROUP BY tenant_id ORDER BY tenant_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let bytes: Option<i64> = col(r, "bytes")?;
                Ok((col(r, "tenant_id")?, bytes.unwrap_or(0)))
            })
            .collect()
    }

    /// A field's processed weeks, newest first.
    pub async fn aoi_week_records(&self, tenant_id: &str, aoi_id: &str) -> Result<Vec<WeekRecord>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT year, week, status, scene_datetime, cloud_fraction, valid_pixel_ratio, raster_key, raster_bytes,
                    scenes, processed_at
             FROM aoi_weeks WHERE tenant_id = $1 AND aoi_id = $2 AND status <> 'PLANNED' ORDER BY year DESC, week DESC",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        let indices = sqlx::query(
            "SELECT year, week, index_name FROM aoi_week_stats WHERE tenant_id = $1 AND aoi_id = $2 ORDER BY index_name",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut index_names: Vec<(IsoWeek, String)> = Vec::with_capacity(indices.len());
        for r in &indices {
            index_names.push((week_from(r)?, col(r, "index_name")?));
        }
        rows.iter()
            .map(|r| {
                let week = week_from(r)?;
                let scenes: String = col(r, "scenes")?;
                Ok(WeekRecord {
                    week,
                    status: col(r, "status")?,
                    scene_datetime: col(r, "scene_datetime")?,
                    cloud_fraction: col(r, "cloud_fraction")?,
                    valid_pixel_ratio: col(r, "valid_pixel_ratio")?,
                    raster_key: col(r, "raster_key")?,
                    raster_bytes: col(r, "raster_bytes")?,
                    scenes: serde_json::from_str(&scenes).unwrap_or(serde_json::Value::Null),
                    processed_at: col(r, "processed_at")?,
                    indices: index_names
                        .iter()
                        .filter(|(w, _)| *w == week)
                        .map(|(_, n)| n.clone())
                        .collect(),
                })
            })
            .collect()
    }

    /// The time series of one index of a field, oldest first, within `from..=to` when given.
    /// Baselines come from every OK week of the field (weeks before `from` included), so they do
    /// not depend on the order in which weeks were processed.
    pub async fn aoi_history(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        index: &str,
        from: Option<IsoWeek>,
        to: Option<IsoWeek>,
    ) -> Result<Vec<HistoryPoint>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT w.year, w.week, w.status, w.scene_datetime, w.valid_pixel_ratio,
                    s.pixel_count, s.valid_count, s.mean, s.std, s.min, s.max, s.p10, s.p50, s.p90
             FROM aoi_weeks w
             LEFT JOIN aoi_week_stats s ON s.aoi_id = w.aoi_id AND s.year = w.year AND s.week = w.week AND s.index_name = $3
             WHERE w.tenant_id = $1 AND w.aoi_id = $2 AND w.status <> 'PLANNED'
             ORDER BY w.year, w.week",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(index)
        .fetch_all(&mut *conn)
        .await?;
        history_points(&rows, index, from, to)
    }
}

/// History points from rows of a week table joined with its statistics for `index` (oldest
/// first), with baselines from every OK week, kept within `from..=to`.
pub(crate) fn history_points(
    rows: &[sqlx::any::AnyRow],
    index: &str,
    from: Option<IsoWeek>,
    to: Option<IsoWeek>,
) -> Result<Vec<HistoryPoint>> {
    let mut points = Vec::with_capacity(rows.len());
    for r in rows {
        let status: String = col(r, "status")?;
        let count: Option<i64> = col(r, "pixel_count")?;
        let stats = match (status.as_str(), count) {
            ("OK", Some(count)) => Some(IndexStats {
                index: index.to_owned(),
                count,
                valid_count: col(r, "valid_count")?,
                mean: col(r, "mean")?,
                std: col(r, "std")?,
                min: col(r, "min")?,
                max: col(r, "max")?,
                p10: col(r, "p10")?,
                p50: col(r, "p50")?,
                p90: col(r, "p90")?,
            }),
            _ => None,
        };
        points.push(HistoryPoint {
            week: week_from(r)?,
            status,
            scene_datetime: col(r, "scene_datetime")?,
            valid_pixel_ratio: col(r, "valid_pixel_ratio")?,
            stats,
            baseline: None,
            anomaly: None,
        });
    }
    let series: Vec<(IsoWeek, f64)> = points
        .iter()
        .filter_map(|p| Some((p.week, p.stats.as_ref()?.mean?)))
        .collect();
    for point in &mut points {
        if let Some(mean) = point.stats.as_ref().and_then(|s| s.mean) {
            point.baseline = baseline(point.week, &series);
            point.anomaly = point.baseline.map(|b| mean - b);
        }
    }
    points.retain(|p| from.is_none_or(|f| p.week >= f) && to.is_none_or(|t| p.week <= t));
    Ok(points)
}

/// The tables of one kind of field-week: optical or radar. Their names are the only text
/// these helpers put into SQL, and they are constants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WeekTables {
    weeks: &'static str,
    stats: &'static str,
}

pub(crate) const OPTICAL: WeekTables = WeekTables {
    weeks: "aoi_weeks",
    stats: "aoi_week_stats",
};

pub(crate) const RADAR: WeekTables = WeekTables {
    weeks: "aoi_radar_weeks",
    stats: "aoi_radar_stats",
};

/// In the transaction that records a week: `NotFound` unless the field is the tenant's, else
/// the COG key the week names now (`None`: no row yet). Two attempts of one week (a lost lease)
/// must not both see the same old key: on PostgreSQL the row is locked; SQLite's write
/// transaction already serialises them.
pub(crate) async fn lock_week(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    tables: WeekTables,
    tenant_id: &str,
    aoi_id: &str,
    week: IsoWeek,
) -> Result<Option<Option<String>>> {
    let exists: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM aois WHERE id = $1 AND tenant_id = $2")
            .bind(aoi_id)
            .bind(tenant_id)
            .fetch_one(&mut **tx)
            .await?;
    if exists == 0 {
        return Err(StoreError::NotFound);
    }
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let previous = format!(
        "SELECT raster_key FROM {} WHERE tenant_id = $1 AND aoi_id = $2 AND year = $3 AND week = $4{lock}",
        tables.weeks
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(previous))
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(i64::from(week.year))
        .bind(i64::from(week.week))
        .fetch_optional(&mut **tx)
        .await?)
}

/// In the transaction that records a week: its statistics rows become `stats`.
pub(crate) async fn replace_week_stats(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tables: WeekTables,
    tenant_id: &str,
    aoi_id: &str,
    week: IsoWeek,
    stats: &[IndexStats],
) -> Result<()> {
    let (year, week) = (i64::from(week.year), i64::from(week.week));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {} WHERE aoi_id = $1 AND year = $2 AND week = $3",
        tables.stats
    )))
    .bind(aoi_id)
    .bind(year)
    .bind(week)
    .execute(&mut **tx)
    .await?;
    let insert = format!(
        "INSERT INTO {} (tenant_id, aoi_id, year, week, index_name, pixel_count, valid_count,
                         mean, std, min, max, p10, p50, p90)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        tables.stats
    );
    for s in stats {
        sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
            .bind(tenant_id)
            .bind(aoi_id)
            .bind(year)
            .bind(week)
            .bind(&s.index)
            .bind(s.count)
            .bind(s.valid_count)
            .bind(s.mean)
            .bind(s.std)
            .bind(s.min)
            .bind(s.max)
            .bind(s.p10)
            .bind(s.p50)
            .bind(s.p90)
            .persistent(false)
            .execute(&mut **tx)
            .await
            .map_err(field_gone)?;
    }
    Ok(())
}

/// A tenant's COGs of weeks that started before `before`, oldest first, at most `limit`.
pub(crate) async fn week_rasters_before(
    store: &Store,
    tables: WeekTables,
    tenant_id: &str,
    before: time::Date,
    limit: i64,
) -> Result<Vec<StoredRaster>> {
    let mut conn = store.conn().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT aoi_id, year, week, raster_key, raster_bytes FROM {}
         WHERE tenant_id = $1 AND raster_key IS NOT NULL AND week_start < $2
         ORDER BY week_start, aoi_id LIMIT $3",
        tables.weeks
    )))
    .bind(tenant_id)
    .bind(before.to_string())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredRaster {
                aoi_id: col(r, "aoi_id")?,
                week: week_from(r)?,
                key: col(r, "raster_key")?,
                bytes: col(r, "raster_bytes")?,
            })
        })
        .collect()
}

/// A field deleted after the existence check (its delete committed while the week was being
/// recorded, possible on PostgreSQL) makes the insert break the foreign key: the field is gone,
/// as if the check had not found it. SQLSTATE 23503 on PostgreSQL, extended code 787
/// (SQLITE_CONSTRAINT_FOREIGNKEY) on SQLite.
fn field_gone(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db)
            if db.is_foreign_key_violation()
                || matches!(db.code().as_deref(), Some("23503" | "787")) =>
        {
            StoreError::NotFound
        }
        _ => err.into(),
    }
}
