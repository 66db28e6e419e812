-- Size of each field-week COG, so storage per tenant is one query (/metrics), and RETENTION can
-- clear raster_key/raster_bytes while the week's statistics stay.

ALTER TABLE aoi_weeks ADD COLUMN raster_bytes BIGINT;
CREATE INDEX aoi_weeks_rasters ON aoi_weeks (week_start) WHERE raster_key IS NOT NULL;
