//! Daily weather per grid cell, shared by the fields in the cell (of any tenant: it is public
//! data). A day comes from the archive (reanalysis) or the forecast; an archive day replaces a
//! forecast day, a forecast day never replaces an archive day. Missing values stay NULL.

use sqlx::AssertSqlSafe;
use time::{Date, OffsetDateTime};
use vivacampo_core::geometry::FieldGeometry;
use vivacampo_core::jobs::JobType;
use vivacampo_core::weather::{DailyWeather, GridCell, WeatherDay, centroid};

use crate::queue::{Enqueued, NewJob};
use crate::{Result, Store, StoreError, col, now_ms};

/// A PROCESS_WEATHER job for a cell. Keyed by the cell and the day (the hour, when `run_after`
/// is given; the minute for a forced sync), so the fields of one cell share one job a day.
pub fn weather_job(
    tenant_id: &str,
    aoi_id: Option<&str>,
    cell_id: &str,
    day: Date,
    run_after: Option<OffsetDateTime>,
    force: bool,
) -> NewJob {
    let key = match (run_after, force) {
        (_, true) => format!(
            "WEATHER_SYNC:{cell_id}:{}",
            OffsetDateTime::now_utc().unix_timestamp() / 60
        ),
        (Some(at), false) => format!("WEATHER:{cell_id}:{day}T{:02}", at.hour()),
        (None, false) => format!("WEATHER:{cell_id}:{day}"),
    };
    NewJob {
        tenant_id: tenant_id.to_owned(),
        aoi_id: aoi_id.map(str::to_owned),
        job_type: JobType::ProcessWeather,
        idempotency_key: Some(key),
        payload: serde_json::json!({"cell_id": cell_id, "force": force}),
        run_after: run_after.map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
    }
}

/// A weather cell and how far its series goes.
#[derive(Debug, Clone, PartialEq)]
pub struct WeatherCell {
    /// `era5:LAT_INDEX:LON_INDEX@TIME_ZONE`.
    pub id: String,
    pub cell: GridCell,
    /// The IANA time zone the days are local to.
    pub timezone: String,
    /// Where the service snapped the cell (after the first fetch).
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub elevation: Option<f64>,
    /// Where the days came from: `open-meteo`, `demo`, or the URL of a server speaking its API.
    pub source: Option<String>,
    /// First day of the stored history; `None` until the history is fetched.
    pub history_from: Option<Date>,
    /// Last day the archive had data for.
    pub archive_until: Option<Date>,
    /// Day the archive was last asked (it is asked at most once a day).
    pub archive_date: Option<Date>,
    /// Day the forecast was last fetched.
    pub forecast_date: Option<Date>,
    /// When it was fetched (epoch ms).
    pub forecast_issued_at: Option<i64>,
}

impl WeatherCell {
    /// The id of a cell in a time zone.
    pub fn id_of(cell: GridCell, timezone: &str) -> String {
        format!("{}@{timezone}", cell.key())
    }
}

/// Where a day came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Archive,
    Forecast,
}

impl DayKind {
    fn as_str(self) -> &'static str {
        match self {
            DayKind::Archive => "ARCHIVE",
            DayKind::Forecast => "FORECAST",
        }
    }
}

/// What one fetch brought for a cell.
#[derive(Debug, Clone)]
pub struct WeatherFetch<'a> {
    pub kind: DayKind,
    /// The weather source's name (see [`WeatherCell::source`]).
    pub source: &'a str,
    pub latitude: f64,
    pub longitude: f64,
    pub elevation: Option<f64>,
    pub days: &'a [WeatherDay],
    /// The first day of the history, when this fetch was the history's.
    pub history_from: Option<Date>,
}

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn date_col(row: &sqlx::any::AnyRow, name: &str) -> Result<Option<Date>> {
    let text: Option<String> = col(row, name)?;
    text.map(|t| {
        Date::parse(&t, DATE).map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
    })
    .transpose()
}

fn cell_from(row: &sqlx::any::AnyRow) -> Result<WeatherCell> {
    let lat: i64 = col(row, "lat_index")?;
    let lon: i64 = col(row, "lon_index")?;
    Ok(WeatherCell {
        id: col(row, "id")?,
        cell: GridCell {
            lat_index: lat as i32,
            lon_index: lon as i32,
        },
        timezone: col(row, "timezone")?,
        latitude: col(row, "latitude")?,
        longitude: col(row, "longitude")?,
        elevation: col(row, "elevation")?,
        source: col(row, "source")?,
        history_from: date_col(row, "history_from")?,
        archive_until: date_col(row, "archive_until")?,
        archive_date: date_col(row, "archive_date")?,
        forecast_date: date_col(row, "forecast_date")?,
        forecast_issued_at: col(row, "forecast_issued_at")?,
    })
}

const CELL_COLUMNS: &str =
    "c.id, c.lat_index, c.lon_index, c.timezone, c.latitude, c.longitude, c.elevation, c.source,
     c.history_from, c.archive_until, c.archive_date, c.forecast_date, c.forecast_issued_at";

/// Rows per INSERT statement.
const CHUNK: usize = 100;

impl Store {
    /// The weather cell a tenant's field belongs to (its centroid's) and its farm's time zone.
    pub async fn field_weather_cell(
        &self,
        tenant_id: &str,
        aoi_id: &str,
    ) -> Result<(GridCell, String)> {
        let aoi = self.aoi(tenant_id, aoi_id).await?;
        let farm = self.farm(tenant_id, &aoi.farm_id).await?;
        let geometry = FieldGeometry::from_geojson(&aoi.geometry)
            .map_err(|e| StoreError::Corrupt(format!("geometry of field {aoi_id}: {e}")))?;
        let (lon, lat) = centroid(geometry.multi_polygon())
            .ok_or_else(|| StoreError::Corrupt(format!("field {aoi_id} has an empty geometry")))?;
        Ok((GridCell::containing(lon, lat), farm.timezone))
    }

    /// Links a field to its weather cell and enqueues the cell's PROCESS_WEATHER job of the day
    /// (`force`: a sync, which fetches the forecast again even if it was fetched today).
    pub async fn enqueue_field_weather(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        force: bool,
    ) -> Result<(WeatherCell, Enqueued)> {
        let (cell, timezone) = self.field_weather_cell(tenant_id, aoi_id).await?;
        let cell = self
            .link_weather_cell(tenant_id, aoi_id, cell, &timezone)
            .await?;
        let today = OffsetDateTime::now_utc().date();
        let job = weather_job(tenant_id, Some(aoi_id), &cell.id, today, None, force);
        let enqueued = self.enqueue(job).await?;
        Ok((cell, enqueued))
    }

    /// Records that a field's weather comes from `cell` in `timezone` (creating the cell on
    /// first use) and returns the cell.
    pub async fn link_weather_cell(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        cell: GridCell,
        timezone: &str,
    ) -> Result<WeatherCell> {
        let id = WeatherCell::id_of(cell, timezone);
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO weather_cells (id, lat_index, lon_index, timezone, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(i64::from(cell.lat_index))
        .bind(i64::from(cell.lon_index))
        .bind(timezone)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let linked = sqlx::query(
            "INSERT INTO aoi_weather_cells (aoi_id, tenant_id, cell_id)
             SELECT id, tenant_id, $3 FROM aois WHERE id = $1 AND tenant_id = $2
             ON CONFLICT (aoi_id) DO UPDATE SET cell_id = excluded.cell_id",
        )
        .bind(aoi_id)
        .bind(tenant_id)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        if linked.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CELL_COLUMNS} FROM weather_cells c WHERE c.id = $1"
        )))
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        cell_from(&row)
    }

    /// The weather cell of a tenant's field; `None` before its first weather job.
    pub async fn aoi_weather_cell(
        &self,
        tenant_id: &str,
        aoi_id: &str,
    ) -> Result<Option<WeatherCell>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CELL_COLUMNS} FROM aoi_weather_cells l JOIN weather_cells c ON c.id = l.cell_id
             WHERE l.aoi_id = $1 AND l.tenant_id = $2"
        )))
        .bind(aoi_id)
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?;
        row.as_ref().map(cell_from).transpose()
    }

    /// A cell by id.
    pub async fn weather_cell(&self, id: &str) -> Result<WeatherCell> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CELL_COLUMNS} FROM weather_cells c WHERE c.id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        cell_from(&row)
    }

    /// Cells in `timezone` with a history whose forecast was not fetched on `today`, at most
    /// `limit`, with at least one field: what one daily refresh request can batch.
    pub async fn due_weather_cells(
        &self,
        timezone: &str,
        today: Date,
        limit: i64,
    ) -> Result<Vec<WeatherCell>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CELL_COLUMNS} FROM weather_cells c
             WHERE c.timezone = $1 AND c.history_from IS NOT NULL
               AND (c.forecast_date IS NULL OR c.forecast_date < $2)
               AND EXISTS (SELECT 1 FROM aoi_weather_cells l WHERE l.cell_id = c.id)
             ORDER BY c.id LIMIT $3"
        )))
        .bind(timezone)
        .bind(today.to_string())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(cell_from).collect()
    }

    /// Stores one fetch of a cell's days and moves its markers: the archive's last day with
    /// data, the forecast's date. An archive day that has no value at all is not stored (the
    /// archive has not got it yet); a day with some values keeps the missing ones NULL.
    pub async fn store_weather(
        &self,
        cell_id: &str,
        fetch: &WeatherFetch<'_>,
        today: Date,
    ) -> Result<usize> {
        let empty = |w: &DailyWeather| *w == DailyWeather::default();
        let days: Vec<&WeatherDay> = fetch
            .days
            .iter()
            .filter(|d| fetch.kind == DayKind::Forecast || !empty(&d.weather))
            .collect();
        let mut tx = self.begin().await?;
        let now = now_ms();
        let guard = match fetch.kind {
            DayKind::Archive => "",
            DayKind::Forecast => " WHERE weather_days.kind = 'FORECAST'",
        };
        for chunk in days.chunks(CHUNK) {
            let mut sql = String::from(
                "INSERT INTO weather_days (cell_id, date, kind, t_min, t_max, t_mean, precip_mm, et0_mm,
                                           rh_mean, wind_max_kmh, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 11;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10,
                    b + 11
                ));
            }
            sql.push_str(&format!(
                " ON CONFLICT (cell_id, date) DO UPDATE SET kind = excluded.kind, t_min = excluded.t_min,
                   t_max = excluded.t_max, t_mean = excluded.t_mean, precip_mm = excluded.precip_mm,
                   et0_mm = excluded.et0_mm, rh_mean = excluded.rh_mean,
                   wind_max_kmh = excluded.wind_max_kmh, updated_at = excluded.updated_at{guard}"
            ));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for d in chunk {
                let w = &d.weather;
                q = q
                    .bind(cell_id)
                    .bind(d.date.to_string())
                    .bind(fetch.kind.as_str())
                    .bind(w.t_min)
                    .bind(w.t_max)
                    .bind(w.t_mean)
                    .bind(w.precip_mm)
                    .bind(w.et0_mm)
                    .bind(w.rh_mean)
                    .bind(w.wind_max_kmh)
                    .bind(now);
            }
            // Optional floats: not cached (see field_weeks.rs on sqlx's NULL typing).
            q.persistent(false).execute(&mut *tx).await?;
        }
        let last_with_data = days.iter().map(|d| d.date).max();
        match fetch.kind {
            DayKind::Archive => {
                sqlx::query(
                    "UPDATE weather_cells SET latitude = $1, longitude = $2, elevation = $3, source = $8,
                        history_from = COALESCE(history_from, $4),
                        archive_until = CASE WHEN archive_until IS NULL OR archive_until < $5 THEN $5 ELSE archive_until END,
                        archive_date = $9, updated_at = $6 WHERE id = $7",
                )
                .bind(fetch.latitude)
                .bind(fetch.longitude)
                .bind(fetch.elevation)
                .bind(fetch.history_from.map(|d| d.to_string()))
                .bind(last_with_data.map(|d| d.to_string()))
                .bind(now)
                .bind(cell_id)
                .bind(fetch.source)
                .bind(today.to_string())
                .persistent(false)
                .execute(&mut *tx)
                .await?;
            }
            DayKind::Forecast => {
                sqlx::query(
                    "UPDATE weather_cells SET latitude = COALESCE(latitude, $1), longitude = COALESCE(longitude, $2),
                        elevation = COALESCE(elevation, $3), source = $7, forecast_date = $4, forecast_issued_at = $5,
                        updated_at = $5 WHERE id = $6",
                )
                .bind(fetch.latitude)
                .bind(fetch.longitude)
                .bind(fetch.elevation)
                .bind(today.to_string())
                .bind(now)
                .bind(cell_id)
                .bind(fetch.source)
                .persistent(false)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(days.len())
    }

    /// A cell's stored days `from..=to`, oldest first.
    pub async fn weather_days(
        &self,
        cell_id: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<WeatherDay>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT date, t_min, t_max, t_mean, precip_mm, et0_mm, rh_mean, wind_max_kmh
             FROM weather_days WHERE cell_id = $1 AND date >= $2 AND date <= $3 ORDER BY date",
        )
        .bind(cell_id)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WeatherDay {
                    date: date_col(r, "date")?.ok_or_else(|| StoreError::Corrupt("date".into()))?,
                    weather: DailyWeather {
                        t_min: col(r, "t_min")?,
                        t_max: col(r, "t_max")?,
                        t_mean: col(r, "t_mean")?,
                        precip_mm: col(r, "precip_mm")?,
                        et0_mm: col(r, "et0_mm")?,
                        rh_mean: col(r, "rh_mean")?,
                        wind_max_kmh: col(r, "wind_max_kmh")?,
                    },
                })
            })
            .collect()
    }
}
