-- Issue 7: outgoing webhooks for integrations (shared::webhook).

-- Where admins want events sent. `secret` signs every delivery (HMAC-SHA256); it is kept as
-- shown to the admin because signing needs it, and is replaced when rotated.
CREATE TABLE webhook_endpoints (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Which webhook types each endpoint receives. Keyed by type first: the trigger below looks
-- endpoints up by type on every matching event.
CREATE TABLE webhook_subscriptions (
    event_type  TEXT NOT NULL,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    PRIMARY KEY (event_type, endpoint_id)
) WITHOUT ROWID;

-- The durable outbox of webhook deliveries: one row per (event, endpoint), sent and retried by
-- the private `webhooks` component under a lease. `delivery_id` is the `Webhook-Id` header,
-- the same on every attempt, so receivers can drop repeats. `payload` is written once, at the
-- first attempt, and every retry sends the same bytes. `event_id` is NULL for test pings.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    delivery_id     TEXT NOT NULL UNIQUE,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    event_id        INTEGER REFERENCES events (id),
    type            TEXT NOT NULL,
    payload         TEXT,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    CHECK ((status = 'pending') = (done_at IS NULL))
);

-- "Is anything due?" runs on every operator heartbeat: an index over the open rows only.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE done_at IS NULL;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

-- Events become deliveries in the statement that appends them, so an event and its
-- deliveries commit together: nothing acknowledged can miss its webhook, and no request
-- handler has to remember to queue one. The event kinds map to webhook types:
-- conversation.created, message.created and csat.received as they are; conversation.assigned
-- when someone was assigned (not when it went back to the queue); conversation.status when it
-- became resolved (conversation.resolved). The `WHEN` keeps every other event (typing, reads)
-- at the cost of one comparison. The delivery id is 16 random bytes, never derived from ids.
CREATE TRIGGER events_webhooks AFTER INSERT ON events
WHEN NEW.kind IN ('conversation.created', 'message.created', 'csat.received',
                  'conversation.assigned', 'conversation.status')
BEGIN
    INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event_id, type, next_attempt_at,
                                    created_at)
    SELECT 'wh_' || lower(hex(randomblob(16))), s.endpoint_id, NEW.id, s.event_type,
           NEW.created_at, NEW.created_at
      FROM webhook_subscriptions s
      JOIN webhook_endpoints e ON e.id = s.endpoint_id AND e.active = 1
     WHERE s.event_type = CASE NEW.kind
               WHEN 'conversation.assigned' THEN
                   CASE WHEN json_extract(NEW.data, '$.to') IS NOT NULL
                        THEN 'conversation.assigned' END
               WHEN 'conversation.status' THEN
                   CASE WHEN json_extract(NEW.data, '$.to') = 'resolved'
                        THEN 'conversation.resolved' END
               ELSE NEW.kind END;
END;
