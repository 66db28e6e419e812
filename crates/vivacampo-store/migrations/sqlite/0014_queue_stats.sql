-- Queue figures (`/metrics` on every replica, `ops status`) count the unfinished and dead jobs
-- by type and status: with this index PostgreSQL answers from the index alone and never reads
-- the finished history that makes up most of the table.

CREATE INDEX jobs_status_type ON jobs (status, job_type);
