//! Radar field-weeks (Sentinel-1): written by PROCESS_RADAR_WEEK, read by the history, weeks and
//! radar.tif endpoints. Kept apart from the optical week, so a CLOUDY optical week can have radar.

use vivacampo_core::weeks::IsoWeek;

use crate::field_weeks::{
    HistoryPoint, IndexStats, RADAR, StoredRaster, history_points, lock_week, replace_week_stats,
    week_rasters_before,
};
use crate::{Result, Store, StoreError, col, now_ms};

/// What a processed radar week found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadarStatus {
    /// A scene of the field's orbit direction covers the field.
    Ok,
    /// No such scene this week.
    NoData,
}

impl RadarStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RadarStatus::Ok => "OK",
            RadarStatus::NoData => "NO_DATA",
        }
    }
}

/// One processed radar week of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarWeekResult {
    pub week: IsoWeek,
    pub status: RadarStatus,
    /// Datetime (epoch ms) of the newest scene used.
    pub scene_datetime: Option<i64>,
    /// `ascending` / `descending`.
    pub orbit: Option<String>,
    pub valid_pixel_ratio: Option<f64>,
    pub raster_key: Option<String>,
    pub raster_bytes: Option<i64>,
    /// The scenes used: `[{id, datetime, orbit}]`.
    pub scenes: serde_json::Value,
    pub stats: Vec<IndexStats>,
}

/// A stored radar week.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarWeekRecord {
    pub week: IsoWeek,
    pub status: String,
    pub scene_datetime: Option<i64>,
    pub orbit: Option<String>,
    pub valid_pixel_ratio: Option<f64>,
    pub raster_key: Option<String>,
    pub raster_bytes: Option<i64>,
    pub scenes: serde_json::Value,
    pub processed_at: i64,
}

fn week_from(row: &sqlx::any::AnyRow) -> Result<IsoWeek> {
    let year: i64 = col(row, "year")?;
    let week: i64 = col(row, "week")?;
    IsoWeek::new(year as i32, week as u8)
        .ok_or_else(|| StoreError::Corrupt(format!("week {year}-{week}")))
}

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

impl Store {
    /// Records a processed radar week, replacing an earlier result of the same week. Returns
    /// the radar COG key the week named before (to delete). `NotFound`: the field is gone.
    pub async fn record_radar_week(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        result: &RadarWeekResult,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let replaced =
            lock_week(&mut tx, self.backend, RADAR, tenant_id, aoi_id, result.week).await?;
        let (year, week) = (i64::from(result.week.year), i64::from(result.week.week));
        sqlx::query(
            "INSERT INTO aoi_radar_weeks (tenant_id, aoi_id, year, week, week_start, status, scene_datetime, orbit,
                                          valid_pixel_ratio, raster_key, raster_bytes, scenes, processed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (aoi_id, year, week) DO UPDATE SET status = excluded.status,
                scene_datetime = excluded.scene_datetime, orbit = excluded.orbit,
                valid_pixel_ratio = excluded.valid_pixel_ratio, raster_key = excluded.raster_key,
                raster_bytes = excluded.raster_bytes, scenes = excluded.scenes, processed_at = excluded.processed_at",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(year)
        .bind(week)
        .bind(result.week.start().to_string())
        .bind(result.status.as_str())
        .bind(result.scene_datetime)
        .bind(result.orbit.as_deref())
        .bind(result.valid_pixel_ratio)
        .bind(result.raster_key.as_deref())
        .bind(result.raster_bytes)
        .bind(result.scenes.to_string())
        .bind(now_ms())
        .persistent(false)
        .execute(&mut *tx)
        .await
        .map_err(field_gone)?;
        replace_week_stats(
            &mut tx,
            RADAR,
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

    /// The tenant's radar COGs of weeks starting before `before`, oldest first (RETENTION).
    pub async fn radar_rasters_before(
        &self,
        tenant_id: &str,
        before: time::Date,
        limit: i64,
    ) -> Result<Vec<StoredRaster>> {
        week_rasters_before(self, RADAR, tenant_id, before, limit).await
    }

    /// Forgets a radar week's COG and keeps its statistics. False when the week meanwhile
    /// names another COG (it was reprocessed), which then stays.
    pub async fn clear_radar_week_raster(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        week: IsoWeek,
        key: &str,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE aoi_radar_weeks SET raster_key = NULL, raster_bytes = NULL
             WHERE tenant_id = $1 AND aoi_id = $2 AND year = $3 AND week = $4 AND raster_key = $5",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(i64::from(week.year))
        .bind(i64::from(week.week))
        .bind(key)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A field's processed radar weeks, newest first.
    pub async fn radar_week_records(
        &self,
        tenant_id: &str,
        aoi_id: &str,
    ) -> Result<Vec<RadarWeekRecord>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT year, week, status, scene_datetime, orbit, valid_pixel_ratio, raster_key, raster_bytes,
                    scenes, processed_at
             FROM aoi_radar_weeks WHERE tenant_id = $1 AND aoi_id = $2 ORDER BY year DESC, week DESC",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let scenes: String = col(r, "scenes")?;
                Ok(RadarWeekRecord {
                    week: week_from(r)?,
                    status: col(r, "status")?,
                    scene_datetime: col(r, "scene_datetime")?,
                    orbit: col(r, "orbit")?,
                    valid_pixel_ratio: col(r, "valid_pixel_ratio")?,
                    raster_key: col(r, "raster_key")?,
                    raster_bytes: col(r, "raster_bytes")?,
                    scenes: serde_json::from_str(&scenes).unwrap_or(serde_json::Value::Null),
                    processed_at: col(r, "processed_at")?,
                })
            })
            .collect()
    }

    /// The time series of one radar index of a field, oldest first, within `from..=to`:
    /// every processed radar week, with statistics where the week is OK.
    pub async fn radar_history(
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
             FROM aoi_radar_weeks w
             LEFT JOIN aoi_radar_stats s ON s.aoi_id = w.aoi_id AND s.year = w.year AND s.week = w.week AND s.index_name = $3
             WHERE w.tenant_id = $1 AND w.aoi_id = $2
             ORDER BY w.year, w.week",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .bind(index)
        .fetch_all(&mut *conn)
        .await?;
        history_points(&rows, index, from, to)
    }

    /// The orbit direction pinned for a field's radar weeks, if any.
    pub async fn radar_orbit(&self, tenant_id: &str, aoi_id: &str) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT orbit FROM aoi_radar_orbits WHERE tenant_id = $1 AND aoi_id = $2",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// Pins `orbit` for the field unless one is pinned already, and returns the pinned one:
    /// weeks processed concurrently all end up with the first writer's choice.
    pub async fn pin_radar_orbit(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        orbit: &str,
    ) -> Result<String> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO aoi_radar_orbits (aoi_id, tenant_id, orbit, decided_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (aoi_id) DO NOTHING",
        )
        .bind(aoi_id)
        .bind(tenant_id)
        .bind(orbit)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(field_gone)?;
        let pinned: String = sqlx::query_scalar(
            "SELECT orbit FROM aoi_radar_orbits WHERE tenant_id = $1 AND aoi_id = $2",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(pinned)
    }
}
