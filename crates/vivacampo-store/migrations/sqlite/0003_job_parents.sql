-- Jobs that fan out (BACKFILL) know their children, and report progress as they finish.

ALTER TABLE jobs ADD COLUMN parent_job_id TEXT;
CREATE INDEX jobs_parent ON jobs (parent_job_id);
