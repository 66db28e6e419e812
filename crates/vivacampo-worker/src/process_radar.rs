//! PROCESS_RADAR_WEEK: one field, one ISO week → a radar COG (VV, VH, mask; linear power) in
//! the raster store and statistics of the radar indices (docs/radar.md).
//!
//! 1. The field's orbit direction: pinned for the field once (`aoi_radar_orbits`), as the
//!    direction with most scenes over the field in the eight weeks up to the first week
//!    processed (ties: descending). Every week then uses only scenes of that direction, so
//!    weeks compare (backscatter depends on the look direction and incidence angle).
//! 2. The week's scenes of that direction, newest first (at most [`MAX_SCENES`]): VV and VH
//!    read onto the field's 10 m grid (only the covering COG tiles are fetched).
//! 3. Composite: per pixel the newest valid pixel (VV and VH finite and > 0); then the 3 × 3
//!    boxcar speckle filter (`vivacampo_raster::radar`).
//! 4. COG first, then the rows; the week's previous radar COG is deleted once no row names it.
//!
//! The week is OK when some field pixel is valid, NO_DATA otherwise. Re-running replaces.

use std::sync::Arc;

use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::radar::{RadarObservation, RadarScene, RadarSource};
use vivacampo_imagery::stac::Search;
use vivacampo_imagery::store::{RasterStore, RasterVersion};
use vivacampo_raster::cog::{self, CogOptions, Interleave, Overviews};
use vivacampo_raster::field_week::{self, FieldGrid};
use vivacampo_raster::geo::Georef;
use vivacampo_raster::radar::RadarComposite;
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::BandInfo;
use vivacampo_store::StoreError;
use vivacampo_store::field_weeks::IndexStats;
use vivacampo_store::radar::{RadarStatus, RadarWeekResult};

use crate::field_week_job::{self, FIELD_DELETED, JobField, Loaded, settle, text};
use crate::handlers::{HandlerResult, JobContext};

/// Where radar scenes come from and where radar COGs go.
#[derive(Clone)]
pub struct Radar {
    pub source: Arc<dyn RadarSource>,
    pub rasters: RasterStore,
}

/// Scenes of one week read at most, newest first (one orbit direction passes a field once or
/// twice a week).
pub const MAX_SCENES: usize = 4;
/// Weeks searched to choose a field's orbit direction.
const ORBIT_WEEKS: i64 = 8;
/// The direction chosen when both have as many scenes.
const DEFAULT_ORBIT: &str = "descending";

pub use vivacampo_imagery::store::radar_week_key;

/// The direction with most scenes (ties: [`DEFAULT_ORBIT`]); `None` without any direction.
pub fn majority_orbit(scenes: &[RadarScene]) -> Option<String> {
    let count = |d: &str| {
        scenes
            .iter()
            .filter(|s| s.orbit.as_deref() == Some(d))
            .count()
    };
    let (asc, desc) = (count("ascending"), count("descending"));
    match (asc, desc) {
        (0, 0) => None,
        (a, d) if a > d => Some("ascending".into()),
        (a, d) if d > a => Some("descending".into()),
        _ => Some(DEFAULT_ORBIT.into()),
    }
}

/// The field's pinned orbit direction, choosing and pinning it on the first week.
async fn field_orbit(
    ctx: &JobContext,
    radar: &Radar,
    aoi_id: &str,
    bbox: [f64; 4],
    week: IsoWeek,
) -> Result<Option<String>, String> {
    let tenant = &ctx.job.tenant_id;
    if let Some(o) = ctx.store.radar_orbit(tenant, aoi_id).await.map_err(text)? {
        return Ok(Some(o));
    }
    let week_search = Search::iso_week(bbox, week.year, week.week).map_err(text)?;
    let search = Search::bbox(
        bbox,
        week_search.start - time::Duration::weeks(ORBIT_WEEKS - 1),
        week_search.end,
    );
    let scenes = radar
        .source
        .scenes(&search)
        .await
        .map_err(|e| format!("radar catalog search: {e}"))?;
    let Some(choice) = majority_orbit(&scenes) else {
        return Ok(None);
    };
    match ctx.store.pin_radar_orbit(tenant, aoi_id, &choice).await {
        Ok(o) => Ok(Some(o)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(text(e)),
    }
}

/// The radar COG: VV and VH (float32 linear power, NaN outside the field and where invalid)
/// and the mask (1 = valid pixel), the field's outline in the metadata.
fn radar_cog(
    field: &FieldGrid,
    outline: String,
    composite: &RadarComposite,
) -> Result<Vec<u8>, String> {
    let n = field.grid.width * field.grid.height;
    let mut data: Vec<f32> = Vec::with_capacity(n * 3);
    for band in [&composite.vv, &composite.vh] {
        data.extend(band.iter().zip(&field.zone).map(|(&v, &inside)| {
            if inside && v.is_finite() {
                v as f32
            } else {
                f32::NAN
            }
        }));
    }
    data.extend(
        composite
            .source
            .iter()
            .zip(&field.zone)
            .map(|(s, &z)| if s.is_some() && z { 1.0 } else { 0.0 }),
    );
    let raster = Raster {
        width: field.grid.width,
        height: field.grid.height,
        bands: 3,
        data: Buffer::F32(data),
    };
    let mut options = CogOptions::new(Georef {
        epsg: Some(field.grid.epsg),
        transform: field.grid.transform,
    });
    options.nodata = Some(f64::NAN);
    options.overviews = Overviews::Average;
    options.interleave = Interleave::Band;
    options.metadata = vec![(field_week::FIELD_ITEM.to_owned(), outline)];
    options.bands = ["VV", "VH", "mask"]
        .iter()
        .map(|name| BandInfo {
            description: Some((*name).to_owned()),
            scale: None,
            offset: None,
        })
        .collect();
    cog::write(&raster, &options).map_err(text)
}

/// Records the week, then deletes the COG it replaced. `Ok(false)`: the field is gone (deleted
/// while the week was processed), and so is the COG just written for it.
async fn record(
    ctx: &JobContext,
    radar: &Radar,
    aoi_id: &str,
    result: &RadarWeekResult,
) -> Result<bool, String> {
    let recorded = ctx
        .store
        .record_radar_week(&ctx.job.tenant_id, aoi_id, result)
        .await;
    settle(&radar.rasters, recorded, result.raster_key.as_deref()).await
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub async fn process_radar_week(ctx: &JobContext, radar: &Radar) -> HandlerResult {
    let job = &ctx.job;
    let JobField {
        aoi,
        week,
        version,
        outline,
        grid: field,
    } = match field_week_job::load(ctx, "PROCESS_RADAR_WEEK").await? {
        Loaded::Field(field) => *field,
        Loaded::Skipped(why) => return Ok(why),
    };
    let aoi_id = aoi.id.as_str();
    let orbit = field_orbit(ctx, radar, aoi_id, aoi.bbox, week).await?;
    let search = Search::iso_week(aoi.bbox, week.year, week.week).map_err(text)?;
    let mut scenes: Vec<RadarScene> = radar
        .source
        .scenes(&search)
        .await
        .map_err(|e| format!("radar catalog search: {e}"))?
        .into_iter()
        .filter(|s| orbit.is_none() || s.orbit == orbit)
        .collect();
    scenes.sort_by(|a, b| b.datetime.cmp(&a.datetime).then(a.id.cmp(&b.id)));
    scenes.truncate(MAX_SCENES);

    let mut observations: Vec<RadarObservation> = Vec::with_capacity(scenes.len());
    for scene in &scenes {
        let o = radar
            .source
            .read(scene, field.grid)
            .await
            .map_err(|e| format!("radar scene {}: {e}", scene.id))?;
        observations.push(o);
    }
    let (composite, used, valid_ratio, stats, cog) = tokio::task::spawn_blocking(move || {
        let len = field.grid.width * field.grid.height;
        let inputs: Vec<(&[f64], &[f64])> = observations
            .iter()
            .map(|o| (o.vv.as_slice(), o.vh.as_slice()))
            .collect();
        let raw = RadarComposite::newest_valid(&inputs, len);
        let filtered = raw.speckle_filtered(field.grid.width, field.grid.height);
        let valid_ratio = filtered.valid_ratio(&field.zone);
        let mut used: Vec<usize> = filtered
            .source
            .iter()
            .zip(&field.zone)
            .filter_map(|(s, &z)| if z { *s } else { None })
            .collect();
        used.sort_unstable();
        used.dedup();
        if used.is_empty() {
            return Ok::<_, String>((len, used, valid_ratio, Vec::new(), None));
        }
        let stats = filtered.index_stats(&field.zone);
        let cog = radar_cog(&field, outline, &filtered)?;
        Ok((len, used, valid_ratio, stats, Some(cog)))
    })
    .await
    .map_err(text)??;

    let Some(cog) = cog else {
        let result = RadarWeekResult {
            week,
            status: RadarStatus::NoData,
            scene_datetime: None,
            orbit: orbit.clone(),
            valid_pixel_ratio: None,
            raster_key: None,
            raster_bytes: None,
            scenes: serde_json::json!([]),
            stats: Vec::new(),
        };
        if !record(ctx, radar, aoi_id, &result).await? {
            return Ok(serde_json::json!({"skipped": FIELD_DELETED}));
        }
        return Ok(serde_json::json!({"status": "NO_DATA", "scenes_found": scenes.len()}));
    };
    let used_scenes: Vec<&RadarScene> = used.iter().map(|&i| &scenes[i]).collect();
    let newest = used_scenes[0];
    let scenes_json: Vec<_> = used_scenes
        .iter()
        .map(|s| serde_json::json!({"id": s.id, "datetime": rfc3339(s.datetime), "orbit": s.orbit, "relative_orbit": s.relative_orbit}))
        .collect();
    let tenant_uuid = uuid::Uuid::parse_str(&job.tenant_id).map_err(text)?;
    let aoi_uuid = uuid::Uuid::parse_str(aoi_id).map_err(text)?;
    let raster_version = RasterVersion {
        geometry: version.max(1) as u32,
        stamp: time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 / 1_000_000,
    };
    let key = radar_week_key(tenant_uuid, aoi_uuid, week.year, week.week, raster_version);
    let cog_bytes = cog.len();
    radar
        .rasters
        .put(&key, cog.into())
        .await
        .map_err(|e| format!("raster store: {e}"))?;
    let stats = stats
        .into_iter()
        .map(|(index, s)| IndexStats {
            index: index.to_owned(),
            count: s.count as i64,
            valid_count: s.valid_count as i64,
            mean: s.mean,
            std: s.std,
            min: s.min,
            max: s.max,
            p10: s.p10,
            p50: s.p50,
            p90: s.p90,
        })
        .collect();
    let result = RadarWeekResult {
        week,
        status: RadarStatus::Ok,
        scene_datetime: Some((newest.datetime.unix_timestamp_nanos() / 1_000_000) as i64),
        orbit: newest.orbit.clone().or(orbit),
        valid_pixel_ratio: Some(valid_ratio),
        raster_key: Some(key.clone()),
        raster_bytes: Some(cog_bytes as i64),
        scenes: serde_json::Value::Array(scenes_json),
        stats,
    };
    if !record(ctx, radar, aoi_id, &result).await? {
        return Ok(serde_json::json!({"skipped": FIELD_DELETED}));
    }
    Ok(serde_json::json!({
        "status": "OK",
        "scenes": used_scenes.len(),
        "pixels": composite,
        "valid_pixel_ratio": valid_ratio,
        "cog_bytes": cog_bytes,
        "raster_key": key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(orbit: Option<&str>) -> RadarScene {
        RadarScene {
            id: "s".into(),
            datetime: time::OffsetDateTime::UNIX_EPOCH,
            orbit: orbit.map(str::to_owned),
            relative_orbit: None,
            scene: None,
        }
    }

    #[test]
    fn the_majority_direction_wins_and_ties_go_descending() {
        let a = scene(Some("ascending"));
        let d = scene(Some("descending"));
        assert_eq!(
            majority_orbit(&[a.clone(), a.clone(), d.clone()]).as_deref(),
            Some("ascending")
        );
        assert_eq!(majority_orbit(&[a, d]).as_deref(), Some("descending"));
        assert_eq!(majority_orbit(&[scene(None)]), None);
    }
}
