-- Daily weather per weather grid cell (ERA5's 0.25° grid, in the farm's time zone), shared by
-- every field whose centroid falls in the cell, whatever its tenant: public data, fetched once.

CREATE TABLE weather_cells (
    id                 TEXT PRIMARY KEY,
    lat_index          INTEGER NOT NULL,
    lon_index          INTEGER NOT NULL,
    timezone           TEXT NOT NULL,
    latitude           DOUBLE PRECISION,
    longitude          DOUBLE PRECISION,
    elevation          DOUBLE PRECISION,
    source             TEXT,
    history_from       TEXT,
    archive_until      TEXT,
    archive_date       TEXT,
    forecast_date      TEXT,
    forecast_issued_at BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- kind: ARCHIVE (reanalysis) or FORECAST (forecast model; replaced by ARCHIVE when it comes).
CREATE TABLE weather_days (
    cell_id      TEXT NOT NULL REFERENCES weather_cells (id) ON DELETE CASCADE,
    date         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    t_min        DOUBLE PRECISION,
    t_max        DOUBLE PRECISION,
    t_mean       DOUBLE PRECISION,
    precip_mm    DOUBLE PRECISION,
    et0_mm       DOUBLE PRECISION,
    rh_mean      DOUBLE PRECISION,
    wind_max_kmh DOUBLE PRECISION,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (cell_id, date)
);

-- The cell of each field (from its centroid and its farm's time zone).
CREATE TABLE aoi_weather_cells (
    aoi_id    TEXT PRIMARY KEY REFERENCES aois (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    cell_id   TEXT NOT NULL REFERENCES weather_cells (id)
);
CREATE INDEX aoi_weather_cells_cell ON aoi_weather_cells (cell_id);
