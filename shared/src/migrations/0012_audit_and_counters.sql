-- Issue 9: the audit log of operator and admin actions, and counters for operational events
-- that leave no row of their own (webhooks refused for a bad signature, for example).

-- Append-only: nothing in the app updates or deletes a row (retention aside). The actor's
-- email is copied so the line still says who it was after the operator is removed.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor_id INTEGER,
    actor_email TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    client_addr TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at_ms);
CREATE INDEX audit_log_by_action ON audit_log (action, at_ms);

-- One row per counter and UTC hour (unix ms / 3,600,000), bumped with an upsert so concurrent
-- requests on any node count exactly.
CREATE TABLE ops_counters (
    name TEXT NOT NULL,
    hour INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, hour)
) WITHOUT ROWID;
