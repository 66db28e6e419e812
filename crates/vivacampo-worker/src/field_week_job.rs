//! What PROCESS_WEEK and PROCESS_RADAR_WEEK share: the field and week a job names, and recording
//! a week whose COG may have to go.

use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::store::RasterStore;
use vivacampo_raster::field_week::FieldGrid;
use vivacampo_raster::mask;
use vivacampo_store::StoreError;
use vivacampo_store::aois::Aoi;

use crate::handlers::JobContext;

/// The result of a job whose field was deleted while it waited or ran.
pub const FIELD_DELETED: &str = "the field was deleted";

pub fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The field of a field-week job, at the shape the job was made for.
pub struct JobField {
    pub aoi: Aoi,
    pub week: IsoWeek,
    /// The shape the job was made for (`geometry_version`).
    pub version: i64,
    /// The field's GeoJSON geometry, as the COG's metadata keeps it.
    pub outline: String,
    pub grid: FieldGrid,
}

/// What a field-week job has to work on.
pub enum Loaded {
    Field(Box<JobField>),
    /// Nothing to do; the job's result says why.
    Skipped(serde_json::Value),
}

/// Loads the field and week a `job_type` job names. Skipped when the field is gone or its
/// shape changed since (a newer job processes the new shape).
pub async fn load(ctx: &JobContext, job_type: &str) -> Result<Loaded, String> {
    let job = &ctx.job;
    let aoi_id = job
        .aoi_id
        .as_deref()
        .ok_or_else(|| format!("{job_type} job without aoi_id"))?;
    let (week, version) = payload_week(&job.payload, job_type)?;
    let aoi = match ctx.store.aoi(&job.tenant_id, aoi_id).await {
        Ok(aoi) => aoi,
        Err(StoreError::NotFound) => {
            return Ok(Loaded::Skipped(
                serde_json::json!({"skipped": FIELD_DELETED}),
            ));
        }
        Err(e) => return Err(text(e)),
    };
    if aoi.geometry_version != version {
        return Ok(Loaded::Skipped(
            serde_json::json!({"skipped": "the field's shape changed; a newer job processes it"}),
        ));
    }
    // Reprojecting and rasterising a field of thousands of vertices is CPU work.
    let outline = aoi.geometry.to_string();
    let grid = {
        let outline = outline.clone();
        tokio::task::spawn_blocking(move || {
            let polygons = mask::polygons_from_geojson(&outline).map_err(text)?;
            FieldGrid::new(&polygons).map_err(text)
        })
        .await
        .map_err(text)??
    };
    Ok(Loaded::Field(Box::new(JobField {
        aoi,
        week,
        version,
        outline,
        grid,
    })))
}

fn payload_week(payload: &serde_json::Value, job_type: &str) -> Result<(IsoWeek, i64), String> {
    let year = payload["year"]
        .as_i64()
        .ok_or_else(|| format!("{job_type} payload without year"))?;
    let week = payload["week"]
        .as_u64()
        .ok_or_else(|| format!("{job_type} payload without week"))?;
    let iso = IsoWeek::new(year as i32, week as u8)
        .ok_or_else(|| format!("week {year}-W{week} does not exist"))?;
    Ok((iso, payload["geometry_version"].as_i64().unwrap_or(1)))
}

/// After the week's rows were written (`recorded`: the key of the COG they replaced), deletes
/// the COG no row names any more: the one replaced, or, when the field was deleted meanwhile,
/// the one just `written` for it. `Ok(false)`: the field is gone. A failed delete only leaves
/// an unreferenced file behind (the storage sweep's), so it is logged.
pub async fn settle(
    rasters: &RasterStore,
    recorded: Result<Option<String>, StoreError>,
    written: Option<&str>,
) -> Result<bool, String> {
    let (unreferenced, field_exists) = match recorded {
        Ok(replaced) => (replaced, true),
        Err(StoreError::NotFound) => (written.map(str::to_owned), false),
        Err(e) => return Err(text(e)),
    };
    if let Some(key) = unreferenced
        && let Err(e) = rasters.delete(&key).await
    {
        tracing::warn!(key = %key, error = %e, "cannot delete an unreferenced raster");
    }
    Ok(field_exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_an_existing_week() {
        let ok = serde_json::json!({"year": 2026, "week": 53, "geometry_version": 2});
        assert_eq!(
            payload_week(&ok, "PROCESS_WEEK").unwrap(),
            (IsoWeek::new(2026, 53).unwrap(), 2)
        );
        let missing = payload_week(&serde_json::json!({"week": 3}), "PROCESS_RADAR_WEEK");
        assert_eq!(
            missing.unwrap_err(),
            "PROCESS_RADAR_WEEK payload without year"
        );
        let none = payload_week(
            &serde_json::json!({"year": 2025, "week": 53}),
            "PROCESS_WEEK",
        );
        assert_eq!(none.unwrap_err(), "week 2025-W53 does not exist");
    }
}
