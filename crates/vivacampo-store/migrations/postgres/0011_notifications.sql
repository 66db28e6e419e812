-- Signal delivery: tenants' webhooks and their delivery log, members' notification
-- preferences, and the events waiting for a member's daily e-mail digest.

-- events: a JSON array of event names. secret: the HMAC key deliveries are signed with (shown
-- once, at creation).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    description TEXT,
    secret      TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at);

-- status: PENDING, DELIVERED, FAILED (will be retried) or DEAD (out of attempts).
-- payload: the exact JSON body sent (the same bytes on every attempt). source_key: the event
-- that caused it (the NOTIFY job), so a NOTIFY that runs twice delivers once.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    source_key      TEXT,
    tenant_id       TEXT NOT NULL,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    response_status BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
CREATE UNIQUE INDEX webhook_deliveries_source ON webhook_deliveries (webhook_id, source_key);

-- One row per member who changed the defaults (no e-mail, pt-BR).
-- email_signals: off, instant or daily; language: pt-BR or en.
CREATE TABLE notification_prefs (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identity_id   TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    email_signals TEXT NOT NULL,
    language      TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, identity_id)
);

-- Signal events kept for a member's daily digest; sent_at is set when the digest went out.
CREATE TABLE email_digest_items (
    id          TEXT PRIMARY KEY,
    source_key  TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT
);
CREATE UNIQUE INDEX email_digest_items_source ON email_digest_items (identity_id, source_key);
CREATE INDEX email_digest_items_pending ON email_digest_items (sent_at, tenant_id, identity_id);
