-- Sentinel-1 radar per field-week (PROCESS_RADAR_WEEK): what was seen, where the radar COG is,
-- and the statistics of the radar indices (rvi, vh_vv, vv_db, vh_db). Separate from the optical
-- week (aoi_weeks) so a CLOUDY optical week can be OK for radar. aoi_radar_orbits pins one orbit
-- direction per field, so its weeks compare (docs/radar.md).

CREATE TABLE aoi_radar_weeks (
    tenant_id         TEXT NOT NULL,
    aoi_id            TEXT NOT NULL REFERENCES aois (id) ON DELETE CASCADE,
    year              BIGINT NOT NULL,
    week              BIGINT NOT NULL,
    week_start        TEXT NOT NULL,
    status            TEXT NOT NULL,
    scene_datetime    BIGINT,
    orbit             TEXT,
    valid_pixel_ratio DOUBLE PRECISION,
    raster_key        TEXT,
    raster_bytes      BIGINT,
    scenes            TEXT NOT NULL DEFAULT '[]',
    processed_at      BIGINT NOT NULL,
    PRIMARY KEY (aoi_id, year, week)
);
CREATE INDEX aoi_radar_weeks_tenant ON aoi_radar_weeks (tenant_id, aoi_id);

CREATE TABLE aoi_radar_stats (
    tenant_id   TEXT NOT NULL,
    aoi_id      TEXT NOT NULL,
    year        BIGINT NOT NULL,
    week        BIGINT NOT NULL,
    index_name  TEXT NOT NULL,
    pixel_count BIGINT NOT NULL,
    valid_count BIGINT NOT NULL,
    mean        DOUBLE PRECISION,
    std         DOUBLE PRECISION,
    min         DOUBLE PRECISION,
    max         DOUBLE PRECISION,
    p10         DOUBLE PRECISION,
    p50         DOUBLE PRECISION,
    p90         DOUBLE PRECISION,
    PRIMARY KEY (aoi_id, year, week, index_name),
    FOREIGN KEY (aoi_id, year, week) REFERENCES aoi_radar_weeks (aoi_id, year, week) ON DELETE CASCADE
);

CREATE TABLE aoi_radar_orbits (
    aoi_id     TEXT PRIMARY KEY REFERENCES aois (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    orbit      TEXT NOT NULL,
    decided_at BIGINT NOT NULL
);
