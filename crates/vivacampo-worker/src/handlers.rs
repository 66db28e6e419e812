//! What each job type does.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use vivacampo_core::jobs::JobType;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::store::{aoi_prefix, record_orphans, tenant_prefix};
use vivacampo_store::queue::{Job, NewJob};
use vivacampo_store::{Store, StoreError};

use crate::process_radar::process_radar_week;
use crate::process_week::{Imagery, process_week};
use crate::signals::{after_weather, after_week, detect_signals};
use crate::weather::{Weather, enqueue_for_field, process_weather};

/// What a handler gets: the job and the store.
pub struct JobContext {
    pub store: Store,
    pub job: Job,
}

/// A handler's result: metrics to record with the run, or an error message for the job.
pub type HandlerResult = Result<serde_json::Value, String>;

/// Runs jobs. Implementations must be idempotent: delivery is at least once.
pub trait JobHandler: Send + Sync {
    fn handle(&self, ctx: JobContext) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>>;
}

/// The product's handlers.
pub struct StandardHandlers {
    pub imagery: Imagery,
    /// The weather source; `None`: fields get no weather (PROCESS_WEATHER jobs fail).
    pub weather: Option<Weather>,
}

impl JobHandler for StandardHandlers {
    fn handle(&self, ctx: JobContext) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>> {
        Box::pin(async move {
            match ctx.job.job_type {
                JobType::Backfill => self.backfill_with_weather(&ctx).await,
                JobType::ProcessWeather => match &self.weather {
                    Some(w) => {
                        let mut result = process_weather(&ctx, w).await?;
                        if result.get("skipped").is_none() && result.get("deferred").is_none() {
                            result["detections_enqueued"] = after_weather(&ctx).await?.into();
                        }
                        Ok(result)
                    }
                    None => Err("no weather source is configured".into()),
                },
                JobType::ProcessWeek => {
                    let result = process_week(&ctx, &self.imagery).await?;
                    after_week(&ctx, &result).await?;
                    Ok(result)
                }
                JobType::DetectSignals => detect_signals(&ctx).await,
                // A radar week is evidence too (a CLOUDY optical week may be OK for radar).
                JobType::ProcessRadarWeek => match &self.imagery.radar {
                    Some(r) => {
                        let result = process_radar_week(&ctx, r).await?;
                        after_week(&ctx, &result).await?;
                        Ok(result)
                    }
                    None => Err("no radar source is configured".into()),
                },
                JobType::DeleteAoiAssets => self.delete_aoi_assets(&ctx).await,
                JobType::Retention => self.retention(&ctx).await,
                JobType::Notify
                | JobType::DeliverWebhook
                | JobType::SendEmail
                | JobType::EmailDigest => Err(format!(
                    "{} jobs run in the notification handlers (crate::notify::Notifying)",
                    ctx.job.job_type
                )),
            }
        })
    }
}

fn store_error(e: StoreError) -> String {
    e.to_string()
}

/// The weeks a BACKFILL payload names, newest first: `from_week`..`to_week` when given, else
/// `weeks` weeks ending with the current one.
pub fn backfill_weeks(
    payload: &serde_json::Value,
    today: time::Date,
) -> Result<Vec<IsoWeek>, String> {
    let week_of = |key: &str| -> Option<IsoWeek> {
        let w = payload.get(key)?;
        IsoWeek::new(
            w.get("year")?.as_i64()? as i32,
            w.get("week")?.as_u64()? as u8,
        )
    };
    if let (Some(from), Some(to)) = (week_of("from_week"), week_of("to_week")) {
        return Ok(IsoWeek::spanning(from.start(), to.start()));
    }
    let count = payload.get("weeks").and_then(|w| w.as_u64()).unwrap_or(8);
    if !(1..=104).contains(&count) {
        return Err(format!("weeks must be between 1 and 104, got {count}"));
    }
    Ok(IsoWeek::containing(today).back(count as usize))
}

/// Records the field-weeks the backfill covers and fans out one PROCESS_WEEK job per week,
/// newest first. The BACKFILL job's progress counts its finished weeks. A later attempt (the
/// retry of a backfill some of whose weeks ended DEAD, or were cancelled) runs those weeks
/// again instead of all of them.
async fn backfill(ctx: &JobContext) -> HandlerResult {
    let job = &ctx.job;
    let aoi_id = job.aoi_id.as_deref().ok_or("BACKFILL job without aoi_id")?;
    let today = time::OffsetDateTime::now_utc().date();
    let weeks = backfill_weeks(&job.payload, today)?;
    let aoi = match ctx.store.aoi(&job.tenant_id, aoi_id).await {
        Ok(aoi) => aoi,
        Err(StoreError::NotFound) => {
            return Ok(serde_json::json!({"skipped": "the field was deleted"}));
        }
        Err(e) => return Err(store_error(e)),
    };
    if let Some(revived) = ctx
        .store
        .revive_children(&job.id)
        .await
        .map_err(store_error)?
    {
        return Ok(serde_json::json!({"weeks_retried": revived}));
    }
    ctx.store
        .plan_aoi_weeks(&job.tenant_id, aoi_id, &weeks)
        .await
        .map_err(store_error)?;
    let version = aoi.geometry_version;
    let children: Vec<NewJob> = weeks
        .iter()
        .map(|week| NewJob {
            tenant_id: job.tenant_id.clone(),
            aoi_id: Some(aoi_id.to_owned()),
            job_type: JobType::ProcessWeek,
            idempotency_key: Some(format!("PROCESS_WEEK:{aoi_id}:v{version}:{week}")),
            payload: serde_json::json!({"aoi_id": aoi_id, "year": week.year, "week": week.week, "geometry_version": version}),
            run_after: None,
        })
        .collect();
    let enqueued = ctx
        .store
        .enqueue_children(&job.id, &children)
        .await
        .map_err(store_error)?;
    Ok(serde_json::json!({
        "weeks": weeks.len(),
        "enqueued": enqueued.iter().filter(|e| e.created).count(),
        "newest": weeks.first().map(ToString::to_string),
        "oldest": weeks.last().map(ToString::to_string),
    }))
}

/// One PROCESS_RADAR_WEEK job per week of the backfill (beside its PROCESS_WEEK children, but
/// not counted in its progress: radar never holds a field's optical weeks back). Returns how
/// many were new.
async fn enqueue_radar_weeks(ctx: &JobContext, aoi_id: &str) -> Result<usize, String> {
    let job = &ctx.job;
    let weeks = backfill_weeks(&job.payload, time::OffsetDateTime::now_utc().date())?;
    let version = match ctx.store.aoi(&job.tenant_id, aoi_id).await {
        Ok(aoi) => aoi.geometry_version,
        Err(StoreError::NotFound) => return Ok(0),
        Err(e) => return Err(store_error(e)),
    };
    let mut created = 0;
    for week in weeks {
        let enqueued = ctx
            .store
            .enqueue(NewJob {
                tenant_id: job.tenant_id.clone(),
                aoi_id: Some(aoi_id.to_owned()),
                job_type: JobType::ProcessRadarWeek,
                idempotency_key: Some(format!("PROCESS_RADAR_WEEK:{aoi_id}:v{version}:{week}")),
                payload: serde_json::json!({"aoi_id": aoi_id, "year": week.year, "week": week.week, "geometry_version": version}),
                run_after: None,
            })
            .await
            .map_err(store_error)?;
        created += usize::from(enqueued.created);
    }
    Ok(created)
}

impl StandardHandlers {
    /// A BACKFILL, then (with a weather source) the field's weather job of the day: a new
    /// field's history, and the daily refresh's update.
    async fn backfill_with_weather(&self, ctx: &JobContext) -> HandlerResult {
        let mut result = backfill(ctx).await?;
        if self.imagery.radar.is_some()
            && result.get("weeks").is_some()
            && let Some(aoi_id) = ctx.job.aoi_id.as_deref()
        {
            result["radar_enqueued"] = enqueue_radar_weeks(ctx, aoi_id).await?.into();
        }
        if self.weather.is_some()
            && let Some(aoi_id) = ctx.job.aoi_id.as_deref()
            && let Some(weather) = enqueue_for_field(ctx, aoi_id).await?
        {
            result["weather"] = weather;
        }
        Ok(result)
    }

    /// Removes every raster of a deleted field from the raster store.
    async fn delete_aoi_assets(&self, ctx: &JobContext) -> HandlerResult {
        let job = &ctx.job;
        let aoi_id = job
            .aoi_id
            .as_deref()
            .ok_or("DELETE_AOI_ASSETS job without aoi_id")?;
        // Ids are UUIDs generated by us; anything else must not become a storage prefix.
        let parse = |id: &str| {
            uuid::Uuid::parse_str(id)
                .map_err(|_| format!("refusing to delete assets for malformed id {id:?}"))
        };
        let prefix = aoi_prefix(parse(&job.tenant_id)?, parse(aoi_id)?);
        let removed = self
            .imagery
            .rasters
            .delete_prefix(&prefix)
            .await
            .map_err(|e| format!("raster store: {e}"))?;
        Ok(serde_json::json!({"files_removed": removed}))
    }

    /// The storage sweep of one tenant. With a `before` date (YYYY-MM-DD) in the payload, it
    /// removes the field-week COGs of weeks before it (the weeks' statistics stay): the file
    /// goes first, then the row lets go of it, so a failed delete leaves the row to retry and
    /// never an unnamed file. Then it deletes the tenant's objects no row names (left by a
    /// writer that could not record or delete them) once older than `orphan_grace_s` seconds
    /// (default 24 h), so a COG being written and recorded right now is never taken.
    async fn retention(&self, ctx: &JobContext) -> HandlerResult {
        const BATCH: i64 = 200;
        let job = &ctx.job;
        let before = match job.payload.get("before") {
            None => None,
            Some(value) => Some(
                value
                    .as_str()
                    .and_then(|d| {
                        time::Date::parse(
                            d,
                            time::macros::format_description!("[year]-[month]-[day]"),
                        )
                        .ok()
                    })
                    .ok_or("RETENTION payload needs before: YYYY-MM-DD")?,
            ),
        };
        let (mut removed, mut bytes) = (0u64, 0i64);
        let (mut radar_removed, mut radar_bytes) = (0u64, 0i64);
        // The optical COGs, then the radar COGs (`aoi_radar_weeks`), alike.
        for radar in [false, true] {
            while let Some(before) = before {
                // Batches until one is short, or one clears nothing (every week in it was
                // reprocessed meanwhile and names a newer COG).
                let batch = if radar {
                    ctx.store
                        .radar_rasters_before(&job.tenant_id, before, BATCH)
                        .await
                } else {
                    ctx.store
                        .rasters_before(&job.tenant_id, before, BATCH)
                        .await
                }
                .map_err(store_error)?;
                let mut cleared = 0;
                for raster in &batch {
                    self.imagery
                        .rasters
                        .delete(&raster.key)
                        .await
                        .map_err(|e| format!("raster store: {e}"))?;
                    let (tenant, aoi, week, key) =
                        (&job.tenant_id, &raster.aoi_id, raster.week, &raster.key);
                    let forgot = if radar {
                        ctx.store
                            .clear_radar_week_raster(tenant, aoi, week, key)
                            .await
                    } else {
                        ctx.store.clear_week_raster(tenant, aoi, week, key).await
                    }
                    .map_err(store_error)?;
                    if forgot {
                        cleared += 1;
                        let (n, b) = if radar {
                            (&mut radar_removed, &mut radar_bytes)
                        } else {
                            (&mut removed, &mut bytes)
                        };
                        *n += 1;
                        *b += raster.bytes.unwrap_or(0);
                    }
                }
                if (batch.len() as i64) < BATCH || cleared == 0 {
                    break;
                }
            }
        }
        let grace = job.payload["orphan_grace_s"]
            .as_u64()
            .map(Duration::from_secs)
            .unwrap_or(crate::scheduler::DEFAULT_ORPHAN_GRACE);
        let (orphans, orphans_removed) = self.sweep_orphans(ctx, grace).await?;
        let mut metrics = serde_json::json!({"rasters_removed": removed, "bytes_removed": bytes,
                                             "radar_rasters_removed": radar_removed,
                                             "radar_bytes_removed": radar_bytes,
                                             "orphans_found": orphans, "orphans_removed": orphans_removed});
        if let Some(before) = before {
            metrics["before"] = before.to_string().into();
        }
        Ok(metrics)
    }

    /// Deletes the tenant's stored objects that no row names and that are older than `grace`.
    /// Returns (orphans found past the grace period, orphans deleted).
    async fn sweep_orphans(&self, ctx: &JobContext, grace: Duration) -> Result<(u64, u64), String> {
        let tenant = uuid::Uuid::parse_str(&ctx.job.tenant_id)
            .map_err(|_| "refusing to sweep the storage of a malformed tenant id".to_owned())?;
        let rasters = &self.imagery.rasters;
        // List before reading the rows: a COG recorded meanwhile is then named, and one written
        // after the listing is not in it.
        let stored = rasters
            .list(&tenant_prefix(tenant))
            .await
            .map_err(|e| format!("raster store: {e}"))?;
        let named = ctx
            .store
            .raster_keys(&ctx.job.tenant_id)
            .await
            .map_err(store_error)?;
        let cutoff = time::OffsetDateTime::now_utc() - grace;
        let orphans: Vec<_> = stored
            .iter()
            .filter(|e| !named.contains(&e.key) && e.modified < cutoff)
            .collect();
        let mut deleted = 0;
        let mut failed = None;
        for orphan in &orphans {
            match rasters.delete(&orphan.key).await {
                Ok(()) => deleted += 1,
                Err(e) => failed = Some(e),
            }
        }
        record_orphans(orphans.len() as u64, deleted);
        if !orphans.is_empty() {
            tracing::info!(
                found = orphans.len(),
                deleted,
                "swept raster files no row names"
            );
        }
        match failed {
            Some(e) => Err(format!("raster store: {e}")),
            None => Ok((orphans.len() as u64, deleted)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn backfill_weeks_from_count_or_range() {
        let today = date!(2026 - 03 - 18);
        let weeks = backfill_weeks(&serde_json::json!({"weeks": 3}), today).unwrap();
        assert_eq!(
            weeks.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["2026-W12", "2026-W11", "2026-W10"]
        );
        let range = serde_json::json!({"from_week": {"year": 2025, "week": 52}, "to_week": {"year": 2026, "week": 2}});
        assert_eq!(backfill_weeks(&range, today).unwrap().len(), 3);
        assert!(backfill_weeks(&serde_json::json!({"weeks": 0}), today).is_err());
        assert_eq!(
            backfill_weeks(&serde_json::json!({}), today).unwrap().len(),
            8
        );
    }
}
