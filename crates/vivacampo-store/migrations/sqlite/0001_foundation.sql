-- Foundation: identities, tenants, memberships, sessions, farms, fields, audit log, job queue.
-- Times are Unix epoch milliseconds (INTEGER); ids are UUID strings.

CREATE TABLE identities (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    is_system_admin INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

CREATE TABLE tenants (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    kind                  TEXT NOT NULL CHECK (kind IN ('COMPANY', 'PERSONAL')),
    status                TEXT NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED')),
    plan                  TEXT NOT NULL,
    max_fields            INTEGER NOT NULL,
    max_hectares          REAL NOT NULL,
    min_valid_pixel_ratio REAL NOT NULL DEFAULT 0.15,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE memberships (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('TENANT_ADMIN', 'OPERATOR', 'VIEWER')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, identity_id)
);
CREATE INDEX memberships_identity ON memberships (identity_id);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE farms (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    timezone   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX farms_tenant ON farms (tenant_id, created_at);

CREATE TABLE aois (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    farm_id          TEXT NOT NULL REFERENCES farms (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    use_type         TEXT NOT NULL CHECK (use_type IN ('CROP', 'PASTURE')),
    status           TEXT NOT NULL CHECK (status IN ('ACTIVE', 'ARCHIVED')),
    area_ha          REAL NOT NULL,
    min_lon          REAL NOT NULL,
    min_lat          REAL NOT NULL,
    max_lon          REAL NOT NULL,
    max_lat          REAL NOT NULL,
    geometry         TEXT NOT NULL,
    geometry_version INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX aois_tenant_farm ON aois (tenant_id, farm_id, status);

CREATE TABLE aoi_geometry_versions (
    aoi_id     TEXT NOT NULL REFERENCES aois (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    geometry   TEXT NOT NULL,
    area_ha    REAL NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (aoi_id, version)
);

CREATE TABLE aoi_weeks (
    tenant_id  TEXT NOT NULL,
    aoi_id     TEXT NOT NULL REFERENCES aois (id) ON DELETE CASCADE,
    year       INTEGER NOT NULL,
    week       INTEGER NOT NULL,
    week_start TEXT NOT NULL,
    status     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (aoi_id, year, week)
);

CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT,
    actor_id      TEXT,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    details       TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, created_at);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    aoi_id           TEXT,
    job_type         TEXT NOT NULL,
    idempotency_key  TEXT,
    status           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    timeout_ms       INTEGER NOT NULL,
    progress_done    INTEGER NOT NULL DEFAULT 0,
    progress_total   INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    run_after        INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_active_key ON jobs (tenant_id, idempotency_key)
    WHERE status IN ('PENDING', 'RUNNING', 'FAILED');
CREATE INDEX jobs_ready ON jobs (status, run_after);
CREATE INDEX jobs_tenant ON jobs (tenant_id, created_at);
CREATE INDEX jobs_aoi ON jobs (aoi_id);

CREATE TABLE job_runs (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    worker_id   TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT,
    metrics     TEXT,
    PRIMARY KEY (job_id, attempt)
);
