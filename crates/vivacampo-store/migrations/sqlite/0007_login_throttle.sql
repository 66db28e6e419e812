-- Per-account sign-in backoff, shared by every API replica: wrong passwords in a row for an
-- e-mail address (known or not, so the table says nothing about which accounts exist) and the
-- time before which the next attempt is refused. A successful sign-in deletes the row; rows
-- untouched for a day are deleted as failures are recorded.

CREATE TABLE login_throttle (
    email        TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);
