-- Signals: what the rules found about a field, with the evidence and texts in pt-BR and en.
-- One open (OPEN or ACK) signal per field and type, enforced by a partial unique index; a
-- recurrence updates it, a recovery resolves it (resolved_by 'system'). RESOLVED and DISMISSED
-- rows are history. A deleted field takes its signals with it.

CREATE TABLE signals (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    aoi_id           TEXT NOT NULL REFERENCES aois (id) ON DELETE CASCADE,
    signal_type      TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
    confidence       DOUBLE PRECISION NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('OPEN', 'ACK', 'RESOLVED', 'DISMISSED')),
    year             INTEGER NOT NULL,
    week             INTEGER NOT NULL,
    first_seen_year  INTEGER NOT NULL,
    first_seen_week  INTEGER NOT NULL,
    evidence         TEXT NOT NULL,
    texts            TEXT NOT NULL,
    resolved_by      TEXT,
    resolution       TEXT,
    note             TEXT,
    useful           INTEGER,
    status_changed_by TEXT,
    status_changed_at BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX signals_one_open ON signals (aoi_id, signal_type)
    WHERE status IN ('OPEN', 'ACK');
CREATE INDEX signals_tenant ON signals (tenant_id, created_at);
CREATE INDEX signals_aoi ON signals (aoi_id, status);
