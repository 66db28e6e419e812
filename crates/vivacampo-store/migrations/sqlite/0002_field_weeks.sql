-- Processed field-weeks: what was seen (scenes, cloud, valid pixels), where the COG is, and the
-- statistics of every index. A week is PLANNED until processed, then OK, CLOUDY or NO_DATA.

ALTER TABLE aoi_weeks ADD COLUMN scene_datetime INTEGER;
ALTER TABLE aoi_weeks ADD COLUMN cloud_fraction REAL;
ALTER TABLE aoi_weeks ADD COLUMN valid_pixel_ratio REAL;
ALTER TABLE aoi_weeks ADD COLUMN raster_key TEXT;
ALTER TABLE aoi_weeks ADD COLUMN scenes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE aoi_weeks ADD COLUMN processed_at INTEGER;

CREATE TABLE aoi_week_stats (
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
    FOREIGN KEY (aoi_id, year, week) REFERENCES aoi_weeks (aoi_id, year, week) ON DELETE CASCADE
);
CREATE INDEX aoi_week_stats_index ON aoi_week_stats (aoi_id, index_name, year, week);
