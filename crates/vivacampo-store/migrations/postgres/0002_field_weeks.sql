-- Processed field-weeks: what was seen (scenes, cloud, valid pixels), where the COG is, and the
-- statistics of every index. A week is PLANNED until processed, then OK, CLOUDY or NO_DATA.

ALTER TABLE aoi_weeks ADD COLUMN scene_datetime BIGINT;
ALTER TABLE aoi_weeks ADD COLUMN cloud_fraction DOUBLE PRECISION;
ALTER TABLE aoi_weeks ADD COLUMN valid_pixel_ratio DOUBLE PRECISION;
ALTER TABLE aoi_weeks ADD COLUMN raster_key TEXT;
ALTER TABLE aoi_weeks ADD COLUMN scenes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE aoi_weeks ADD COLUMN processed_at BIGINT;

CREATE TABLE aoi_week_stats (
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
    FOREIGN KEY (aoi_id, year, week) REFERENCES aoi_weeks (aoi_id, year, week) ON DELETE CASCADE
);
CREATE INDEX aoi_week_stats_index ON aoi_week_stats (aoi_id, index_name, year, week);
