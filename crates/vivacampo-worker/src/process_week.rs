//! PROCESS_WEEK: one field, one ISO week → a composite COG in the raster store and a statistics
//! row per index.
//!
//! 1. Search the catalog for the week's scenes over the field's bounding box.
//! 2. For each scene, newest first: read the seven reflectance bands the indices use (bilinear)
//!    and the scene classification (nearest) straight into the field's 10 m UTM grid — only the
//!    COG tiles that cover the field are fetched — and measure its cloud fraction over the field.
//! 3. Composite: per pixel the newest clear observation (SCL default policy).
//! 4. Write the COG first, then the rows: a row never points at a missing file. Every run writes
//!    a new key (see [`RasterVersion`]), and the week's previous COG is deleted once no row names
//!    it; if the field was deleted meanwhile, the new COG goes too.
//!
//! The week is OK when the share of clear field pixels reaches the tenant's
//! `min_valid_pixel_ratio`, CLOUDY below it, NO_DATA without any scene. Re-running replaces.

use std::sync::Arc;

use vivacampo_imagery::observation::read_observation;
use vivacampo_imagery::sentinel_hub::{S2_L2A, SentinelHub};
use vivacampo_imagery::source::Sources;
use vivacampo_imagery::stac::{Catalog, Scene, Search};
use vivacampo_imagery::store::{RasterStore, RasterVersion, field_week_key};
use vivacampo_raster::cog::{self, CogOptions, Interleave, Overviews};
use vivacampo_raster::field_week::{self, Composite, FieldGrid, Observation};
use vivacampo_raster::geo::Georef;
use vivacampo_raster::index::Band;
use vivacampo_raster::mask::SclPolicy;
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::BandInfo;
use vivacampo_store::field_weeks::{IndexStats, WeekResult, WeekStatus};

use crate::field_week_job::{self, FIELD_DELETED, JobField, Loaded, settle, text};
use crate::handlers::{HandlerResult, JobContext};

/// Where imagery comes from and where field-week COGs go.
pub struct Imagery {
    pub catalog: Catalog,
    pub sources: Sources,
    pub rasters: RasterStore,
    /// `imagery_source = sentinel-hub`: scenes from its Catalog API and bands from its Process
    /// API instead of `catalog` and `sources`.
    pub sentinel_hub: Option<Arc<SentinelHub>>,
    /// Sentinel-1 (PROCESS_RADAR_WEEK); `None` when `radar_source` is `off`.
    pub radar: Option<crate::process_radar::Radar>,
}

/// The reflectance bands of a field-week COG, with their Sentinel-2 names.
pub const BANDS: [(Band, &str); 7] = [
    (Band::Blue, "B02"),
    (Band::Green, "B03"),
    (Band::Red, "B04"),
    (Band::Rededge1, "B05"),
    (Band::Nir, "B08"),
    (Band::Swir16, "B11"),
    (Band::Swir22, "B12"),
];

/// Scenes of one week read at most, newest first (a week has 1–3 passes; more are duplicates
/// from overlapping orbits).
const MAX_SCENES: usize = 6;

/// How the COG stores reflectance: DN = (reflectance − OFFSET) / SCALE, as Sentinel-2 L2A
/// baseline 04.00 does, so GDAL and QGIS read reflectance through the declared scale/offset.
const SCALE: f64 = 1e-4;
const OFFSET: f64 = -0.1;

/// One scene on the field grid with its cloud fraction over the field, or `None` when the
/// scene does not reach the field. Adds Sentinel Hub processing units spent to `units`.
async fn observe(
    imagery: &Imagery,
    scene: &Scene,
    field: &FieldGrid,
    units: &mut f64,
) -> Result<Option<(Observation, f64)>, String> {
    let bands: Vec<Band> = BANDS.iter().map(|(b, _)| *b).collect();
    let observation = match &imagery.sentinel_hub {
        Some(hub) => hub.read_s2(scene, field.grid, &bands).await.map(|(o, pu)| {
            *units += pu;
            o
        }),
        None => read_observation(&imagery.sources, scene, field.grid, &bands).await,
    }
    .map_err(|e| format!("scene {}: {e}", scene.id))?;
    Ok(observation
        .cloud_fraction(&field.zone)
        .map(|cloud| (observation, cloud)))
}

/// The field-week COG: the reflectance bands as DN plus a validity mask (1 = clear pixel), and
/// the field's outline (GeoJSON) in its metadata. Pixels outside the field are nodata in every
/// band, so GIS tools (GDAL's per-band nodata mask) show the field's shape, not its square.
fn field_week_cog(
    field: &FieldGrid,
    outline: String,
    composite: &Composite,
) -> Result<Vec<u8>, String> {
    let n = field.grid.width * field.grid.height;
    let mut data = Vec::with_capacity(n * (BANDS.len() + 1));
    for (band, _) in BANDS {
        let values = composite.band(band).ok_or("composite lacks a band")?;
        data.extend(values.iter().zip(&field.zone).map(|(&r, &inside)| {
            if inside && r.is_finite() {
                ((r - OFFSET) / SCALE).round().clamp(1.0, 65535.0) as u16
            } else {
                0
            }
        }));
    }
    data.extend(
        composite
            .source
            .iter()
            .zip(&field.zone)
            .map(|(s, z)| u16::from(s.is_some() && *z)),
    );
    let raster = Raster {
        width: field.grid.width,
        height: field.grid.height,
        bands: BANDS.len() + 1,
        data: Buffer::U16(data),
    };
    let mut options = CogOptions::new(Georef {
        epsg: Some(field.grid.epsg),
        transform: field.grid.transform,
    });
    options.nodata = Some(0.0);
    options.overviews = Overviews::Average;
    // A tile of one index reads two or three of the eight bands: one plane per band.
    options.interleave = Interleave::Band;
    options.metadata = vec![(field_week::FIELD_ITEM.to_owned(), outline)];
    options.bands = BANDS
        .iter()
        .map(|(_, name)| BandInfo {
            description: Some((*name).to_owned()),
            scale: Some(SCALE),
            offset: Some(OFFSET),
        })
        .chain(std::iter::once(BandInfo {
            description: Some("mask".into()),
            scale: None,
            offset: None,
        }))
        .collect();
    cog::write(&raster, &options).map_err(text)
}

fn scene_json(scene: &Scene, cloud: f64) -> serde_json::Value {
    let datetime = scene
        .datetime
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({"id": scene.id, "datetime": datetime, "cloud_fraction": cloud, "scene_cloud_cover": scene.cloud_cover})
}

/// Records the week, then deletes the COG it replaced. `Ok(false)`: the field is gone (deleted
/// while the week was processed), and so is the COG just written for it.
async fn record(
    ctx: &JobContext,
    imagery: &Imagery,
    aoi_id: &str,
    result: &WeekResult,
) -> Result<bool, String> {
    let recorded = ctx
        .store
        .record_aoi_week(&ctx.job.tenant_id, aoi_id, result)
        .await;
    settle(&imagery.rasters, recorded, result.raster_key.as_deref()).await
}

pub async fn process_week(ctx: &JobContext, imagery: &Imagery) -> HandlerResult {
    let job = &ctx.job;
    let store = &ctx.store;
    let JobField {
        aoi,
        week,
        version,
        outline,
        grid: field,
    } = match field_week_job::load(ctx, "PROCESS_WEEK").await? {
        Loaded::Field(field) => *field,
        Loaded::Skipped(why) => return Ok(why),
    };
    let aoi_id = aoi.id.as_str();
    let min_valid = store
        .tenant(&job.tenant_id)
        .await
        .map_err(text)?
        .min_valid_pixel_ratio;

    let search = Search::iso_week(aoi.bbox, week.year, week.week).map_err(text)?;
    let mut scenes = match &imagery.sentinel_hub {
        Some(hub) => hub.search(S2_L2A, aoi.bbox, search.start, search.end).await,
        None => imagery.catalog.search(&search).await,
    }
    .map_err(|e| format!("catalog search: {e}"))?;
    scenes.sort_by_key(|s| std::cmp::Reverse(s.datetime));
    scenes.truncate(MAX_SCENES);

    let mut observations = Vec::new();
    let mut used = Vec::new();
    let mut units = 0.0;
    for scene in &scenes {
        if let Some((observation, cloud)) = observe(imagery, scene, &field, &mut units).await? {
            observations.push(observation);
            used.push((scene, cloud));
        }
    }
    let Some(&(newest, _)) = used.first() else {
        let result = WeekResult {
            week,
            status: WeekStatus::NoData,
            scene_datetime: None,
            cloud_fraction: None,
            valid_pixel_ratio: None,
            raster_key: None,
            raster_bytes: None,
            scenes: serde_json::json!([]),
            stats: Vec::new(),
        };
        if !record(ctx, imagery, aoi_id, &result).await? {
            return Ok(serde_json::json!({"skipped": FIELD_DELETED}));
        }
        let mut out = serde_json::json!({"status": "NO_DATA", "scenes_found": scenes.len()});
        if imagery.sentinel_hub.is_some() {
            out["processing_units"] = serde_json::json!(units);
        }
        return Ok(out);
    };
    let scene_datetime = (newest.datetime.unix_timestamp_nanos() / 1_000_000) as i64;
    let best_cloud = used.iter().map(|(_, c)| *c).fold(f64::INFINITY, f64::min);
    let scenes_json: Vec<_> = used.iter().map(|(s, c)| scene_json(s, *c)).collect();

    let (composite, valid_ratio, stats, cog) = tokio::task::spawn_blocking(move || {
        let len = field.grid.width * field.grid.height;
        let composite =
            Composite::newest_clear(&observations, SclPolicy::Default, len).map_err(text)?;
        let valid_ratio = composite.valid_ratio(&field.zone);
        let stats = composite.index_stats(&field.zone).map_err(text)?;
        let cog = field_week_cog(&field, outline, &composite)?;
        Ok::<_, String>((composite.source.len(), valid_ratio, stats, cog))
    })
    .await
    .map_err(text)??;

    let status = if valid_ratio >= min_valid {
        WeekStatus::Ok
    } else {
        WeekStatus::Cloudy
    };
    let tenant_uuid = uuid::Uuid::parse_str(&job.tenant_id).map_err(text)?;
    let aoi_uuid = uuid::Uuid::parse_str(aoi_id).map_err(text)?;
    let raster_version = RasterVersion {
        geometry: version.max(1) as u32,
        stamp: time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 / 1_000_000,
    };
    let key = field_week_key(tenant_uuid, aoi_uuid, week.year, week.week, raster_version);
    let cog_bytes = cog.len();
    imagery
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
    let result = WeekResult {
        week,
        status,
        scene_datetime: Some(scene_datetime),
        cloud_fraction: Some(best_cloud),
        valid_pixel_ratio: Some(valid_ratio),
        raster_key: Some(key.clone()),
        raster_bytes: Some(cog_bytes as i64),
        scenes: serde_json::Value::Array(scenes_json),
        stats,
    };
    if !record(ctx, imagery, aoi_id, &result).await? {
        return Ok(serde_json::json!({"skipped": FIELD_DELETED}));
    }
    let mut out = serde_json::json!({
        "status": status.as_str(),
        "scenes": used.len(),
        "pixels": composite,
        "valid_pixel_ratio": valid_ratio,
        "cog_bytes": cog_bytes,
        "raster_key": key,
    });
    // Sentinel Hub bills per processing unit: the tenant's spend is in its jobs' results.
    if imagery.sentinel_hub.is_some() {
        out["processing_units"] = serde_json::json!(units);
    }
    Ok(out)
}
