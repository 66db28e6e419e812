-- Periodic tasks run by exactly one worker: a lease per task name, and the last day it ran.

CREATE TABLE scheduler_leases (
    name             TEXT PRIMARY KEY,
    owner            TEXT,
    lease_expires_at BIGINT NOT NULL,
    last_run_date    TEXT
);
