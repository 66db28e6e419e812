-- Sentinel-1 radar per field-week (PROCESS_RADAR_WEEK): what was seen, where the radar COG is,
-- and the statistics of the radar indices (rvi, vh_vv, vv_db, vh_db). Separate from the optical
-- week (aoi_weeks) so a CLOUDY optical week can be OK for radar. aoi_radar_orbits pins one orbit
-- direction per field, so its weeks compare (docs/radar.md).

CREATE TABLE aoi_radar_weeks (
    tenant_id         TEXT NOT NULL,
    aoi_id            TEXT NOT NULL REFERENCES aois (id) ON DELETE CASCADE,
    year              INTEGER NOT NULL,
    week              INTEGER NOT NULL,
    week_start        TEXT NOT NULL,
    status            TEXT NOT NULL,
    scene_datetime    INTEGER,
    orbit             TEXT,
    valid_pixel_ratio REAL,
    raster_key        TEXT,
    raster_bytes      INTEGER,
    scenes            TEXT NOT NULL DEFAULT '[]',
    processed_at      INTEGER NOT NULL,
    PRIMARY KEY (aoi_id, year, week)
);
CREATE INDEX aoi_radar_weeks_tenant ON aoi_radar_weeks (tenant_id, aoi_id);

CREATE TABLE aoi_radar_stats (
    tenant_id   TEXT NOT NULL,
    aoi_id      TEXT NOT NULL,
    year        INTEGER NOT NULL,
    week        INTEGER NOT NULL,
    index_name  TEXT NOT NULL,
    pixel_count INTEGER NOT NULL,
    valid_count INTEGER NOT NULL,
    mean        REAL,
    std         REAL,
    min         REAL,
    max         REAL,
    p10         REAL,
    p50         REAL,
    p90         REAL,
    PRIMARY KEY (aoi_id, year, week, index_name),
    FOREIGN KEY (aoi_id, year, week) REFERENCES aoi_radar_weeks (aoi_id, year, week) ON DELETE CASCADE
);

CREATE TABLE aoi_radar_orbits (
    aoi_id     TEXT PRIMARY KEY REFERENCES aois (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    orbit      TEXT NOT NULL,
    decided_at INTEGER NOT NULL
);
