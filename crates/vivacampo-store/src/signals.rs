//! Signals: what the rules of `vivacampo_core::signals` found about a field, kept with their
//! evidence and texts (pt-BR and en) and their lifecycle.
//!
//! - One open (OPEN or ACK) signal per field and type, enforced by the partial unique index
//!   `signals_one_open`; [`Store::apply_evaluation`] applies `lifecycle::plan` in one
//!   transaction: a recurrence updates the open signal, a recovery or a harvest resolves it
//!   (`resolved_by: "system"`). Applying the same evaluation again changes nothing.
//! - Where a signal opens or resolves, a `NOTIFY` job carrying the event is enqueued in the same
//!   transaction ([`notify_payload`]).
//! - Members ack, resolve or dismiss with a note and "useful?" feedback
//!   ([`Store::set_signal_status`]).
//! - A deleted field takes its signals with it (foreign key, ON DELETE CASCADE).
//!
//! [`Signal::json`] is the one builder of the Signal JSON: the API answers with it and the
//! NOTIFY payload carries it.

use std::collections::HashMap;

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;
use vivacampo_core::jobs::JobType;
use vivacampo_core::signals::lifecycle::{self, Change, OpenSignal, Resolution};
use vivacampo_core::signals::{
    CropKind, Evaluation, FieldSeries, FieldUse, FieldWeek, IndexStat, Language, RadarStat,
    Severity, SignalStatus, SignalType, Texts, WeatherWeek, WeekStatus,
};
use vivacampo_core::weather::{DEFAULT_GDD_BASE, weekly};
use vivacampo_core::weeks::IsoWeek;

use crate::audit::{self, AuditEntry};
use crate::queue::{self, NewJob};
use crate::{
    Backend, Page, PageRequest, Result, Store, StoreError, col, new_id, now_ms, parse_col,
};

/// A signal as stored, with its field's name and farm.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    pub tenant_id: String,
    pub aoi_id: String,
    pub aoi_name: String,
    pub farm_id: String,
    pub signal_type: SignalType,
    pub severity: Severity,
    pub confidence: f64,
    pub status: SignalStatus,
    /// The week of the evaluation that last opened or updated it.
    pub week: IsoWeek,
    pub first_seen_week: IsoWeek,
    pub evidence: serde_json::Value,
    pub texts: Texts,
    /// `system` (recovery, harvest) or `member` once RESOLVED.
    pub resolved_by: Option<String>,
    /// Why the system resolved it: `RECOVERED` or `HARVEST`.
    pub resolution: Option<String>,
    /// The member's note with the last status change.
    pub note: Option<String>,
    /// The member's "useful?" feedback.
    pub useful: Option<bool>,
    /// Identity id of the member who last changed the status.
    pub status_changed_by: Option<String>,
    pub status_changed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Epoch ms as `YYYY-MM-DDTHH:MM:SSZ`, as the API writes times.
fn rfc3339(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

impl Signal {
    /// The Signal JSON of the contract, with title, explanation and actions in `language`.
    pub fn json(&self, language: Language) -> serde_json::Value {
        let text = self.texts.get(language);
        serde_json::json!({
            "id": self.id,
            "aoi_id": self.aoi_id,
            "aoi_name": self.aoi_name,
            "farm_id": self.farm_id,
            "type": self.signal_type,
            "severity": self.severity,
            "confidence": self.confidence,
            "status": self.status,
            "year": self.week.year,
            "week": self.week.week,
            "first_seen_week": self.first_seen_week,
            "title": text.title,
            "explanation": text.explanation,
            "actions": text.actions,
            "language": language,
            "evidence": self.evidence,
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
            "note": self.note,
            "useful": self.useful,
            "status_changed_at": self.status_changed_at.map(rfc3339),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

/// A signal event for delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    Opened,
    Resolved,
}

impl SignalEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalEvent::Opened => "signal.opened",
            SignalEvent::Resolved => "signal.resolved",
        }
    }
}

/// The payload of the NOTIFY job of an event: `{tenant_id, event, data, texts}`, `data` being
/// the Signal JSON in English and `texts` its title, explanation and actions in every language.
pub fn notify_payload(signal: &Signal, event: SignalEvent) -> serde_json::Value {
    serde_json::json!({
        "tenant_id": signal.tenant_id,
        "event": event.as_str(),
        "data": signal.json(Language::En),
        "texts": signal.texts,
    })
}

/// What one evaluation changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Ids of the signals opened.
    pub opened: Vec<String>,
    /// Ids of the open signals whose contents changed.
    pub updated: Vec<String>,
    /// Ids of the signals the system resolved.
    pub resolved: Vec<String>,
    /// Open signals detected again with nothing new.
    pub unchanged: usize,
}

/// Filters of the signal list.
#[derive(Debug, Clone, Default)]
pub struct SignalFilter {
    pub status: Option<SignalStatus>,
    pub aoi_id: Option<String>,
    pub farm_id: Option<String>,
    pub signal_type: Option<SignalType>,
    pub severity: Option<Severity>,
}

/// A member's status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    Ack,
    Resolve,
    Dismiss,
}

const SIGNAL_SELECT: &str = "SELECT s.id, s.tenant_id, s.aoi_id, a.name AS aoi_name, a.farm_id, s.signal_type,
        s.severity, s.confidence, s.status, s.year, s.week, s.first_seen_year, s.first_seen_week, s.evidence,
        s.texts, s.resolved_by, s.resolution, s.note, s.useful, s.status_changed_by, s.status_changed_at,
        s.created_at, s.updated_at
     FROM signals s JOIN aois a ON a.id = s.aoi_id";

fn week_of(year: i64, week: i64) -> Result<IsoWeek> {
    IsoWeek::new(year as i32, week as u8)
        .ok_or_else(|| StoreError::Corrupt(format!("signal week {year}-{week}")))
}

fn signal_from(row: &sqlx::any::AnyRow) -> Result<Signal> {
    let evidence: String = col(row, "evidence")?;
    let texts: String = col(row, "texts")?;
    let useful: Option<i64> = col(row, "useful")?;
    Ok(Signal {
        id: col(row, "id")?,
        tenant_id: col(row, "tenant_id")?,
        aoi_id: col(row, "aoi_id")?,
        aoi_name: col(row, "aoi_name")?,
        farm_id: col(row, "farm_id")?,
        signal_type: parse_col(row, "signal_type")?,
        severity: parse_col(row, "severity")?,
        confidence: col(row, "confidence")?,
        status: parse_col(row, "status")?,
        week: week_of(col(row, "year")?, col(row, "week")?)?,
        first_seen_week: week_of(col(row, "first_seen_year")?, col(row, "first_seen_week")?)?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Corrupt(format!("signal evidence: {e}")))?,
        texts: serde_json::from_str(&texts)
            .map_err(|e| StoreError::Corrupt(format!("signal texts: {e}")))?,
        resolved_by: col(row, "resolved_by")?,
        resolution: col(row, "resolution")?,
        note: col(row, "note")?,
        useful: useful.map(|u| u != 0),
        status_changed_by: col(row, "status_changed_by")?,
        status_changed_at: col(row, "status_changed_at")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

async fn signal_by_id(conn: &mut sqlx::AnyConnection, tenant_id: &str, id: &str) -> Result<Signal> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "{SIGNAL_SELECT} WHERE s.id = $1 AND s.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    signal_from(&row)
}

async fn enqueue_notify(
    conn: &mut sqlx::AnyConnection,
    signal: &Signal,
    event: SignalEvent,
) -> Result<()> {
    queue::enqueue(
        conn,
        &NewJob {
            tenant_id: signal.tenant_id.clone(),
            // Not tied to the field: an event already raised is delivered even if the field
            // is deleted meanwhile (the payload names it).
            aoi_id: None,
            job_type: JobType::Notify,
            idempotency_key: Some(format!("NOTIFY:{}:{}", event.as_str(), signal.id)),
            payload: notify_payload(signal, event),
            run_after: None,
        },
    )
    .await?;
    Ok(())
}

/// The DETECT_SIGNALS job of a field-week (coalesced with one already in play).
pub fn detect_job(tenant_id: &str, aoi_id: &str, week: IsoWeek) -> NewJob {
    NewJob {
        tenant_id: tenant_id.to_owned(),
        aoi_id: Some(aoi_id.to_owned()),
        job_type: JobType::DetectSignals,
        idempotency_key: Some(format!("DETECT_SIGNALS:{aoi_id}:{week}")),
        payload: serde_json::json!({"aoi_id": aoi_id, "year": week.year, "week": week.week}),
        run_after: None,
    }
}

/// A stored field-week's status as the rules read it.
fn week_status(text: &str) -> Option<WeekStatus> {
    text.parse().ok()
}

impl Store {
    /// Everything the rules need about a field: its use, every processed week (earlier seasons
    /// included) with NDVI (mean, p10, p90), NDMI and BSI means, cloud fraction and scene ids,
    /// and its weather weeks over the same span. `NotFound` for a field not in the tenant.
    pub async fn field_series(&self, tenant_id: &str, aoi_id: &str) -> Result<FieldSeries> {
        let mut conn = self.conn().await?;
        let use_type: String =
            sqlx::query_scalar("SELECT use_type FROM aois WHERE id = $1 AND tenant_id = $2")
                .bind(aoi_id)
                .bind(tenant_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
        let field_use = match use_type.as_str() {
            "PASTURE" => FieldUse::Pasture,
            _ => FieldUse::Crop(None::<CropKind>),
        };
        let rows = sqlx::query(
            "SELECT year, week, status, scene_datetime, cloud_fraction, valid_pixel_ratio, scenes
             FROM aoi_weeks WHERE tenant_id = $1 AND aoi_id = $2 AND status <> 'PLANNED'
             ORDER BY year, week",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        let stats = sqlx::query(
            "SELECT year, week, index_name, mean, p10, p90 FROM aoi_week_stats
             WHERE tenant_id = $1 AND aoi_id = $2 AND index_name IN ('ndvi', 'ndmi', 'bsi')",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_week: HashMap<(IsoWeek, String), IndexStat> = HashMap::new();
        for r in &stats {
            let mean: Option<f64> = col(r, "mean")?;
            if let Some(mean) = mean.filter(|m| m.is_finite()) {
                by_week.insert(
                    (
                        week_of(col(r, "year")?, col(r, "week")?)?,
                        col(r, "index_name")?,
                    ),
                    IndexStat {
                        mean,
                        p10: col(r, "p10")?,
                        p90: col(r, "p90")?,
                    },
                );
            }
        }
        // Radar (Sentinel-1) of the same weeks: a CLOUDY optical week may be OK for radar.
        let radar_rows = sqlx::query(
            "SELECT s.year, s.week, s.index_name, s.mean FROM aoi_radar_stats s
             JOIN aoi_radar_weeks w ON w.aoi_id = s.aoi_id AND w.year = s.year AND w.week = s.week
             WHERE w.tenant_id = $1 AND w.aoi_id = $2 AND w.status = 'OK'
               AND s.index_name IN ('rvi', 'vh_db')",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut radar_by_week: HashMap<(IsoWeek, String), f64> = HashMap::new();
        for r in &radar_rows {
            let mean: Option<f64> = col(r, "mean")?;
            if let Some(mean) = mean.filter(|m| m.is_finite()) {
                radar_by_week.insert(
                    (
                        week_of(col(r, "year")?, col(r, "week")?)?,
                        col(r, "index_name")?,
                    ),
                    mean,
                );
            }
        }
        let mut weeks = Vec::with_capacity(rows.len());
        for r in &rows {
            let week = week_of(col(r, "year")?, col(r, "week")?)?;
            let status_text: String = col(r, "status")?;
            let Some(status) = week_status(&status_text) else {
                continue;
            };
            let scenes: String = col(r, "scenes")?;
            let scene_ids = serde_json::from_str::<serde_json::Value>(&scenes)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|s| s.get("id").and_then(|i| i.as_str()).map(str::to_owned))
                .collect();
            let scene_datetime: Option<i64> = col(r, "scene_datetime")?;
            let stat = |name: &str| by_week.get(&(week, name.to_owned())).copied();
            weeks.push(FieldWeek {
                week,
                status,
                image_date: scene_datetime.and_then(|ms| {
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                        .ok()
                        .map(|t| t.date())
                }),
                cloud_fraction: col(r, "cloud_fraction")?,
                valid_pixel_ratio: col(r, "valid_pixel_ratio")?,
                ndvi: stat("ndvi"),
                ndmi: stat("ndmi"),
                bsi: stat("bsi"),
                scene_ids,
                radar: match (
                    radar_by_week.get(&(week, "rvi".to_owned())),
                    radar_by_week.get(&(week, "vh_db".to_owned())),
                ) {
                    (Some(&rvi), Some(&vh_db)) => Some(RadarStat { rvi, vh_db }),
                    _ => None,
                },
            });
        }
        drop(conn);
        let mut weather = Vec::new();
        if let (Some(first), Some(last)) = (weeks.first(), weeks.last())
            && let Some(cell) = self.aoi_weather_cell(tenant_id, aoi_id).await?
        {
            // Earlier years' weather over the same weeks is the rules' reference for a deficit.
            let from = first.week.start() - time::Duration::weeks(52 * 5);
            let days = self.weather_days(&cell.id, from, last.week.end()).await?;
            weather = weekly(&days, DEFAULT_GDD_BASE)
                .into_iter()
                .filter(|w| w.days == 7)
                .map(|w| WeatherWeek {
                    week: w.week,
                    precip_mm: w.precip_mm,
                    et0_mm: w.et0_mm,
                })
                .collect();
        }
        Ok(FieldSeries {
            field_use,
            weeks,
            weather,
        })
    }

    /// Imagery weeks of a field still to run (PENDING, or FAILED and to be retried) or running,
    /// besides `asked`, the week whose detection this is: each will ask for its own detection
    /// when it succeeds. The asking week's job is left out because it asks while it is still
    /// RUNNING, its rows already written.
    pub async fn pending_week_jobs(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        asked: IsoWeek,
    ) -> Result<i64> {
        let mut conn = self.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND aoi_id = $2
             AND job_type = 'PROCESS_WEEK'
             AND (status IN ('PENDING', 'FAILED')
                  OR status = 'RUNNING' AND idempotency_key NOT LIKE $3)",
        )
        .bind(tenant_id)
        .bind(aoi_id)
        // PROCESS_WEEK keys end with the week: `PROCESS_WEEK:{aoi}:v{version}:{year}-W{week}`.
        .bind(format!("%:{asked}"))
        .fetch_one(&mut *conn)
        .await?)
    }

    /// The newest processed week of each field whose weather comes from one of `cells`, every
    /// tenant's (for the detections that follow a weather update).
    pub async fn fields_of_weather_cells(
        &self,
        cells: &[String],
    ) -> Result<Vec<(String, String, IsoWeek)>> {
        let mut out = Vec::new();
        let mut conn = self.conn().await?;
        for cell in cells {
            let rows = sqlx::query(
                "SELECT l.tenant_id, l.aoi_id,
                        (SELECT MAX(w.year * 100 + w.week) FROM aoi_weeks w
                         WHERE w.aoi_id = l.aoi_id AND w.status <> 'PLANNED') AS last_week
                 FROM aoi_weather_cells l WHERE l.cell_id = $1 ORDER BY l.aoi_id",
            )
            .bind(cell)
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                let last: Option<i64> = col(r, "last_week")?;
                if let Some(w) = last.and_then(|w| IsoWeek::new((w / 100) as i32, (w % 100) as u8))
                {
                    out.push((col(r, "tenant_id")?, col(r, "aoi_id")?, w));
                }
            }
        }
        Ok(out)
    }

    /// Applies one evaluation of a field to its signals, in one transaction: opens, updates and
    /// resolves as `lifecycle::plan` says, and enqueues a NOTIFY job for each opening and each
    /// resolution. Applying the same evaluation again changes nothing. `NotFound`: the field is
    /// not (or no longer) in the tenant.
    pub async fn apply_evaluation(
        &self,
        tenant_id: &str,
        aoi_id: &str,
        evaluation: &Evaluation,
    ) -> Result<Applied> {
        let mut tx = self.begin().await?;
        // One evaluation of a field at a time: the field's row is the lock (SQLite's write
        // transaction already serialises writers).
        let lock = match self.backend {
            Backend::Postgres => "SELECT id FROM aois WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            Backend::Sqlite => "SELECT id FROM aois WHERE id = $1 AND tenant_id = $2",
        };
        sqlx::query(lock)
            .bind(aoi_id)
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SIGNAL_SELECT} WHERE s.tenant_id = $1 AND s.aoi_id = $2 AND s.status IN ('OPEN', 'ACK')"
        )))
        .bind(tenant_id)
        .bind(aoi_id)
        .fetch_all(&mut *tx)
        .await?;
        let open: Vec<Signal> = rows.iter().map(signal_from).collect::<Result<_>>()?;
        let open_signals: Vec<OpenSignal> = open
            .iter()
            .map(|s| OpenSignal {
                signal_type: s.signal_type,
                status: s.status,
                first_seen_week: s.first_seen_week,
            })
            .collect();
        let mut applied = Applied::default();
        let now = now_ms();
        for change in lifecycle::plan(&open_signals, evaluation) {
            match change {
                Change::Open(d) => {
                    let id = new_id();
                    let first = d.first_seen_week;
                    sqlx::query(
                        "INSERT INTO signals (id, tenant_id, aoi_id, signal_type, severity, confidence, status,
                             year, week, first_seen_year, first_seen_week, evidence, texts, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, 'OPEN', $7, $8, $9, $10, $11, $12, $13, $13)",
                    )
                    .bind(&id)
                    .bind(tenant_id)
                    .bind(aoi_id)
                    .bind(d.signal_type.as_str())
                    .bind(d.severity.as_str())
                    .bind(d.confidence)
                    .bind(i64::from(d.year))
                    .bind(i64::from(d.week))
                    .bind(i64::from(first.year))
                    .bind(i64::from(first.week))
                    .bind(evidence_text(&d.evidence)?)
                    .bind(texts_text(&d.text)?)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let signal = signal_by_id(&mut tx, tenant_id, &id).await?;
                    enqueue_notify(&mut tx, &signal, SignalEvent::Opened).await?;
                    applied.opened.push(id);
                }
                Change::Update(d) => {
                    let Some(current) = open.iter().find(|s| s.signal_type == d.signal_type) else {
                        continue;
                    };
                    // Parsed from the text it would be stored as, so equal evidence compares equal.
                    let evidence_text = evidence_text(&d.evidence)?;
                    let evidence: serde_json::Value = serde_json::from_str(&evidence_text)
                        .map_err(|e| StoreError::Corrupt(format!("evidence: {e}")))?;
                    let same = current.severity == d.severity
                        && current.confidence == d.confidence
                        && current.week == d.iso_week()
                        && current.first_seen_week == d.first_seen_week
                        && current.evidence == evidence
                        && current.texts == d.text;
                    if same {
                        applied.unchanged += 1;
                        continue;
                    }
                    sqlx::query(
                        "UPDATE signals SET severity = $1, confidence = $2, year = $3, week = $4,
                             first_seen_year = $5, first_seen_week = $6, evidence = $7, texts = $8, updated_at = $9
                         WHERE id = $10 AND tenant_id = $11",
                    )
                    .bind(d.severity.as_str())
                    .bind(d.confidence)
                    .bind(i64::from(d.year))
                    .bind(i64::from(d.week))
                    .bind(i64::from(d.first_seen_week.year))
                    .bind(i64::from(d.first_seen_week.week))
                    .bind(evidence_text)
                    .bind(texts_text(&d.text)?)
                    .bind(now)
                    .bind(&current.id)
                    .bind(tenant_id)
                    .execute(&mut *tx)
                    .await?;
                    applied.updated.push(current.id.clone());
                }
                Change::Resolve {
                    signal_type,
                    reason,
                } => {
                    let Some(current) = open.iter().find(|s| s.signal_type == signal_type) else {
                        continue;
                    };
                    let reason = match reason {
                        Resolution::Recovered => "RECOVERED",
                        Resolution::Harvest => "HARVEST",
                    };
                    sqlx::query(
                        "UPDATE signals SET status = 'RESOLVED', resolved_by = 'system', resolution = $1,
                             status_changed_by = NULL, status_changed_at = $2, updated_at = $2
                         WHERE id = $3 AND tenant_id = $4",
                    )
                    .bind(reason)
                    .bind(now)
                    .bind(&current.id)
                    .bind(tenant_id)
                    .execute(&mut *tx)
                    .await?;
                    let signal = signal_by_id(&mut tx, tenant_id, &current.id).await?;
                    enqueue_notify(&mut tx, &signal, SignalEvent::Resolved).await?;
                    applied.resolved.push(current.id.clone());
                }
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// A tenant's signal.
    pub async fn signal(&self, tenant_id: &str, id: &str) -> Result<Signal> {
        let mut conn = self.conn().await?;
        signal_by_id(&mut conn, tenant_id, id).await
    }

    /// A tenant's signals, newest first.
    pub async fn list_signals(
        &self,
        tenant_id: &str,
        filter: &SignalFilter,
        page: PageRequest,
    ) -> Result<Page<Signal>> {
        let mut conn = self.conn().await?;
        let mut clauses = vec!["s.tenant_id = $1".to_owned()];
        let mut args = vec![tenant_id.to_owned()];
        let mut add = |column: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(v);
                clauses.push(format!("{column} = ${}", args.len()));
            }
        };
        add("s.status", filter.status.map(|s| s.as_str().to_owned()));
        add("s.aoi_id", filter.aoi_id.clone());
        add("a.farm_id", filter.farm_id.clone());
        add(
            "s.signal_type",
            filter.signal_type.map(|s| s.as_str().to_owned()),
        );
        add("s.severity", filter.severity.map(|s| s.as_str().to_owned()));
        let where_sql = clauses.join(" AND ");
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM signals s JOIN aois a ON a.id = s.aoi_id WHERE {where_sql}"
        )));
        for a in &args {
            count = count.bind(a.clone());
        }
        let total = count.fetch_one(&mut *conn).await?;
        let mut list = sqlx::query(AssertSqlSafe(format!(
            "{SIGNAL_SELECT} WHERE {where_sql} ORDER BY s.created_at DESC, s.id DESC LIMIT ${} OFFSET ${}",
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
        Ok(Page {
            items: rows.iter().map(signal_from).collect::<Result<_>>()?,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    /// The type and severity of every open signal of a tenant's fields, by field (the health
    /// badge, `lifecycle::health`).
    pub async fn open_signals_by_aoi(
        &self,
        tenant_id: &str,
    ) -> Result<HashMap<String, Vec<(SignalType, Severity)>>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT aoi_id, signal_type, severity FROM signals
             WHERE tenant_id = $1 AND status IN ('OPEN', 'ACK')",
        )
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut out: HashMap<String, Vec<(SignalType, Severity)>> = HashMap::new();
        for r in &rows {
            out.entry(col(r, "aoi_id")?)
                .or_default()
                .push((parse_col(r, "signal_type")?, parse_col(r, "severity")?));
        }
        Ok(out)
    }

    /// A member acks, resolves or dismisses a signal, with an optional note and "useful?"
    /// feedback (kept to measure precision). Ack needs an OPEN or ACK signal, resolve and
    /// dismiss an open one; anything else is a `Conflict`. A resolution is delivered as
    /// `signal.resolved`. Audited.
    pub async fn set_signal_status(
        &self,
        tenant_id: &str,
        actor_id: &str,
        id: &str,
        action: SignalAction,
        note: Option<&str>,
        useful: Option<bool>,
    ) -> Result<Signal> {
        let mut tx = self.begin().await?;
        let current = signal_by_id(&mut tx, tenant_id, id).await?;
        if !matches!(current.status, SignalStatus::Open | SignalStatus::Ack) {
            return Err(StoreError::Conflict(format!(
                "the signal is already {}",
                current.status.as_str()
            )));
        }
        let (status, resolved_by) = match action {
            SignalAction::Ack => (SignalStatus::Ack, None),
            SignalAction::Resolve => (SignalStatus::Resolved, Some("member")),
            SignalAction::Dismiss => (SignalStatus::Dismissed, None),
        };
        let now = now_ms();
        sqlx::query(
            "UPDATE signals SET status = $1, resolved_by = COALESCE($2, resolved_by),
                 note = COALESCE($3, note), useful = COALESCE($4, useful),
                 status_changed_by = $5, status_changed_at = $6, updated_at = $6
             WHERE id = $7 AND tenant_id = $8",
        )
        .bind(status.as_str())
        .bind(resolved_by)
        .bind(note)
        .bind(useful.map(i64::from))
        .bind(actor_id)
        .bind(now)
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        let signal = signal_by_id(&mut tx, tenant_id, id).await?;
        if status == SignalStatus::Resolved {
            enqueue_notify(&mut tx, &signal, SignalEvent::Resolved).await?;
        }
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id: Some(actor_id),
                action: match action {
                    SignalAction::Ack => "SIGNAL_ACK",
                    SignalAction::Resolve => "SIGNAL_RESOLVE",
                    SignalAction::Dismiss => "SIGNAL_DISMISS",
                },
                resource_type: "signal",
                resource_id: id,
                details: serde_json::json!({"note": note, "useful": useful}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(signal)
    }
}

fn evidence_text(evidence: &vivacampo_core::signals::Evidence) -> Result<String> {
    serde_json::to_string(evidence).map_err(|e| StoreError::Corrupt(format!("evidence: {e}")))
}

fn texts_text(texts: &Texts) -> Result<String> {
    serde_json::to_string(texts).map_err(|e| StoreError::Corrupt(format!("texts: {e}")))
}
