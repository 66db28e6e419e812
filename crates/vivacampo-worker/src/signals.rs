//! DETECT_SIGNALS: judges one field with the rules of `vivacampo_core::signals` and applies the
//! signal lifecycle (open, update, resolve; NOTIFY jobs for openings and resolutions).
//!
//! Enqueued when a PROCESS_WEEK succeeds (for its week) and after a PROCESS_WEATHER (for the
//! newest processed week of every field of the cell), one job per field-week, coalesced with one
//! already in play. The field is judged at its newest processed week (image time, never
//! processing time), from every processed week it has (earlier seasons are its baseline) and its
//! weather, so weeks processed out of order (a backfill runs newest first) or reprocessed give
//! the same rows. While imagery weeks of the field are still waiting to run or running (other
//! than the one that asked), the job does nothing: each of them asks for its own detection when
//! it succeeds, so a new field's backfill is judged once, when its history is there, instead of
//! once per week, and never at a week older than one being processed.

use vivacampo_core::signals::evaluate;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::StoreError;
use vivacampo_store::signals::detect_job;

use crate::handlers::{HandlerResult, JobContext};

/// Runs one DETECT_SIGNALS job.
pub async fn detect_signals(ctx: &JobContext) -> HandlerResult {
    let job = &ctx.job;
    let tenant = &job.tenant_id;
    let aoi_id = job
        .payload
        .get("aoi_id")
        .and_then(|v| v.as_str())
        .or(job.aoi_id.as_deref())
        .ok_or("DETECT_SIGNALS payload needs aoi_id")?;
    let asked = IsoWeek::new(
        job.payload["year"].as_i64().unwrap_or(0) as i32,
        job.payload["week"].as_u64().unwrap_or(0) as u8,
    )
    .ok_or("DETECT_SIGNALS payload needs year and week")?;
    let waiting = ctx
        .store
        .pending_week_jobs(tenant, aoi_id, asked)
        .await
        .map_err(|e| e.to_string())?;
    if waiting > 0 {
        return Ok(serde_json::json!({
            "skipped": "the field has weeks waiting to be processed",
            "weeks_waiting": waiting,
        }));
    }
    let series = match ctx.store.field_series(tenant, aoi_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => {
            return Ok(serde_json::json!({"skipped": "the field was deleted"}));
        }
        Err(e) => return Err(e.to_string()),
    };
    let Some(at) = series.weeks.iter().map(|w| w.week).max() else {
        return Ok(serde_json::json!({"skipped": "the field has no processed week"}));
    };
    let evaluation = evaluate(&series, at);
    let applied = match ctx
        .store
        .apply_evaluation(tenant, aoi_id, &evaluation)
        .await
    {
        Ok(a) => a,
        Err(StoreError::NotFound) => {
            return Ok(serde_json::json!({"skipped": "the field was deleted"}));
        }
        Err(e) => return Err(e.to_string()),
    };
    Ok(serde_json::json!({
        "week": at.to_string(),
        "asked_week": asked.to_string(),
        "weeks": series.weeks.len(),
        "weather_weeks": series.weather.len(),
        "detected": evaluation.detections.iter().map(|d| d.signal_type.as_str()).collect::<Vec<_>>(),
        "opened": applied.opened.len(),
        "updated": applied.updated.len(),
        "resolved": applied.resolved.len(),
        "unchanged": applied.unchanged,
    }))
}

/// Enqueues the detection that follows a processed week of a field.
pub async fn after_week(ctx: &JobContext, result: &serde_json::Value) -> Result<(), String> {
    if result.get("skipped").is_some() {
        return Ok(());
    }
    let job = &ctx.job;
    let (Some(aoi_id), Some(week)) = (
        job.aoi_id.as_deref(),
        IsoWeek::new(
            job.payload["year"].as_i64().unwrap_or(0) as i32,
            job.payload["week"].as_u64().unwrap_or(0) as u8,
        ),
    ) else {
        return Ok(());
    };
    ctx.store
        .enqueue(detect_job(&job.tenant_id, aoi_id, week))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Enqueues the detections that follow a weather update: every field of the cell, at its
/// newest processed week. Returns how many were enqueued.
pub async fn after_weather(ctx: &JobContext) -> Result<usize, String> {
    let Some(cell) = ctx.job.payload["cell_id"].as_str() else {
        return Ok(0);
    };
    let fields = ctx
        .store
        .fields_of_weather_cells(&[cell.to_owned()])
        .await
        .map_err(|e| e.to_string())?;
    for (tenant, aoi, week) in &fields {
        ctx.store
            .enqueue(detect_job(tenant, aoi, *week))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(fields.len())
}
