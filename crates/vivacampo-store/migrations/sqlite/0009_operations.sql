-- Operations: feature flags (global when tenant_id is ''), one row per running process (its
-- deploy record and heartbeat, with a small rolling summary of its own counters), and an index
-- for purging finished jobs after the job_history period.

CREATE TABLE feature_flags (
    flag       TEXT NOT NULL,
    tenant_id  TEXT NOT NULL DEFAULT '',
    enabled    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT,
    PRIMARY KEY (flag, tenant_id)
);

CREATE TABLE processes (
    id           TEXT PRIMARY KEY,
    role         TEXT NOT NULL,
    version      TEXT NOT NULL,
    git_commit   TEXT NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER,
    summary      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX processes_heartbeat ON processes (heartbeat_at);

CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
