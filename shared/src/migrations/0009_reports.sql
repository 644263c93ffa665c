-- Issue 7: customer satisfaction surveys, and the per-conversation facts reports are computed
-- from (folded from the event log by shared::report_facts, never written by request handlers).

-- One survey per conversation, sent when it is resolved: in the widget, or as a message on
-- SMS/email. `message_id` is the survey message on a provider channel.
CREATE TABLE csat_surveys (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations (id),
    channel         TEXT NOT NULL,
    message_id      INTEGER REFERENCES messages (id),
    created_at      INTEGER NOT NULL
);

-- One answer per conversation (the primary key is the rule): 1-5 and an optional comment.
-- `operator_id` is who handled the conversation when it was resolved.
CREATE TABLE csat_responses (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations (id),
    rating          INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment         TEXT,
    channel         TEXT NOT NULL,
    operator_id     INTEGER REFERENCES operators (id),
    created_at      INTEGER NOT NULL
);

-- What each conversation did, as of the last folded event. Times are ms since the epoch.
CREATE TABLE conversation_facts (
    conversation_id          INTEGER PRIMARY KEY REFERENCES conversations (id),
    created_at               INTEGER NOT NULL,
    channel                  TEXT NOT NULL,
    -- The customer's first message; the assistant's handoff; both start the wait for people.
    first_customer_at        INTEGER,
    handoff_at               INTEGER,
    -- The assistant answered from the knowledge base at least once.
    bot_answered             INTEGER NOT NULL DEFAULT 0,
    first_assigned_at        INTEGER,
    first_human_reply_at     INTEGER,
    -- First response in business hours (the team's hours then), when the team had hours.
    first_response_business_ms INTEGER,
    first_resolved_at        INTEGER,
    -- The first time it was reopened after its first resolution.
    reopened_at              INTEGER,
    -- The latest resolution; NULL while it is not resolved.
    resolved_at              INTEGER,
    resolutions              INTEGER NOT NULL DEFAULT 0,
    transfers                INTEGER NOT NULL DEFAULT 0,
    -- Who handled it: the assignee at the latest resolution, else the latest assignee.
    operator_id              INTEGER,
    -- Distinct operators who were assigned or replied, a JSON array of ids.
    operators                TEXT NOT NULL DEFAULT '[]',
    last_customer_at         INTEGER,
    -- Any answer the customer got: a person's reply or the assistant's answer.
    first_answer_at          INTEGER,
    csat                     INTEGER,
    csat_at                  INTEGER
);

CREATE INDEX conversation_facts_by_created ON conversation_facts (created_at);

-- Each stretch of time an operator held a conversation (assignment to unassignment, transfer
-- away or resolution), for concurrent load and handle time.
CREATE TABLE assignment_spans (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    operator_id     INTEGER NOT NULL REFERENCES operators (id),
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER
);

CREATE INDEX assignment_spans_open ON assignment_spans (conversation_id) WHERE ended_at IS NULL;
CREATE INDEX assignment_spans_by_start ON assignment_spans (started_at);

-- How far the event log has been folded into the facts above.
CREATE TABLE report_progress (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL
);
INSERT INTO report_progress (id, last_event_id) VALUES (1, 0);

-- When operators were available (presence 'available' with their console checking in), for
-- the staffing plan's actual roster. A heartbeat within the presence grace period (120 s)
-- extends the current span; a later one, or one after being away, starts a new span; going
-- away or offline closes it.
CREATE TABLE presence_spans (
    id           INTEGER PRIMARY KEY,
    operator_id  INTEGER NOT NULL REFERENCES operators (id),
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    closed       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX presence_spans_by_operator ON presence_spans (operator_id, id);
CREATE INDEX presence_spans_by_time ON presence_spans (last_seen_at);

CREATE TRIGGER operators_presence_closes AFTER UPDATE OF presence ON operators
WHEN NEW.presence != 'available'
BEGIN
    UPDATE presence_spans SET closed = 1 WHERE operator_id = NEW.id AND closed = 0;
END;

CREATE TRIGGER operators_presence_span AFTER UPDATE OF last_seen_at, presence ON operators
WHEN NEW.presence = 'available' AND NEW.last_seen_at IS NOT NULL AND NEW.active = 1
BEGIN
    UPDATE presence_spans SET last_seen_at = NEW.last_seen_at
     WHERE operator_id = NEW.id AND closed = 0
       AND last_seen_at >= NEW.last_seen_at - 120000 AND last_seen_at <= NEW.last_seen_at;
    UPDATE presence_spans SET closed = 1
     WHERE operator_id = NEW.id AND closed = 0 AND last_seen_at < NEW.last_seen_at - 120000;
    INSERT INTO presence_spans (operator_id, started_at, last_seen_at)
    SELECT NEW.id, NEW.last_seen_at, NEW.last_seen_at
     WHERE NOT EXISTS (SELECT 1 FROM presence_spans
                        WHERE operator_id = NEW.id AND closed = 0);
END;
