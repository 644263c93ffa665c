-- 0001: operators and their sessions, contacts and visitor tokens, conversations, messages and
-- the append-only event log that real-time delivery reads. Times are Unix milliseconds.

CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

-- Only the SHA-256 of a session token is stored: a leaked database does not leak sessions.
CREATE TABLE operator_sessions (
    token_hash  BLOB PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX operator_sessions_by_expiry ON operator_sessions (expires_at);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    name       TEXT,
    email      TEXT,
    phone      TEXT,
    created_at INTEGER NOT NULL
);

-- A browser's proof that it is this contact. Hashed like sessions.
CREATE TABLE visitor_tokens (
    token_hash BLOB PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE conversations (
    id                  INTEGER PRIMARY KEY,
    contact_id          INTEGER NOT NULL REFERENCES contacts (id),
    channel             TEXT NOT NULL DEFAULT 'web',
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    assignee_id         INTEGER REFERENCES operators (id),
    page_url            TEXT,
    last_message_id     INTEGER,
    -- Read markers only move forward (conditional UPDATEs), so receipts arriving out of order
    -- never un-read a message.
    visitor_read_up_to  INTEGER NOT NULL DEFAULT 0,
    operator_read_up_to INTEGER NOT NULL DEFAULT 0,
    visitor_read_at     INTEGER,
    operator_read_at    INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE INDEX conversations_by_status_activity ON conversations (status, updated_at DESC, id DESC);
CREATE INDEX conversations_by_contact ON conversations (contact_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    author          TEXT NOT NULL CHECK (author IN ('visitor', 'operator', 'system')),
    operator_id     INTEGER REFERENCES operators (id),
    channel         TEXT NOT NULL DEFAULT 'web',
    body            TEXT NOT NULL,
    -- The sender's idempotency key: a retried POST with the same key stores nothing new.
    client_id       TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, author, client_id)
);

CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
-- Unread counts (visitor messages after the operators' read marker) as an index range count.
CREATE INDEX messages_by_conversation_author ON messages (conversation_id, author, id);

-- The append-only log behind real-time delivery. AUTOINCREMENT guarantees ids are never reused,
-- and SQLite's single writer commits them in id order, so a reader that has seen id N has seen
-- every event below N: a cursor is enough for loss-free, ordered delivery across reconnects.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    kind            TEXT NOT NULL,
    -- 'public' events reach the visitor and operators; 'internal' ones only operators.
    visibility      TEXT NOT NULL CHECK (visibility IN ('public', 'internal')),
    data            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE INDEX events_by_conversation ON events (conversation_id, id);

-- Publishing a message is one INSERT: these triggers record it as the conversation's latest
-- activity (reopening it, and assigning the first operator who replies) and append its event, in
-- the same statement. One statement is one short write transaction, which matters because SQLite
-- has a single writer: fewer round trips while holding the lock means more messages per second.
-- The event's JSON must equal `Message` serialized by serde (a unit test holds them together).
CREATE TRIGGER messages_publish AFTER INSERT ON messages
BEGIN
    UPDATE conversations
       SET last_message_id = NEW.id,
           updated_at = NEW.created_at,
           status = 'open',
           assignee_id = COALESCE(assignee_id, NEW.operator_id)
     WHERE id = NEW.conversation_id;
    INSERT INTO events (conversation_id, kind, visibility, data, created_at)
    VALUES (NEW.conversation_id, 'message.created', 'public',
            json_object('message', json_object(
                'id', NEW.id,
                'conversation_id', NEW.conversation_id,
                'author', NEW.author,
                'operator_name', (SELECT name FROM operators WHERE id = NEW.operator_id),
                'channel', NEW.channel,
                'body', NEW.body,
                'created_at', NEW.created_at,
                'client_id', NEW.client_id)),
            NEW.created_at);
END;

-- A read marker that moved forward publishes its receipt, again within the one UPDATE.
CREATE TRIGGER conversations_visitor_read AFTER UPDATE OF visitor_read_up_to ON conversations
WHEN NEW.visitor_read_up_to > OLD.visitor_read_up_to
BEGIN
    INSERT INTO events (conversation_id, kind, visibility, data, created_at)
    VALUES (NEW.id, 'read', 'public', json_object('by', 'visitor', 'up_to', NEW.visitor_read_up_to),
            NEW.visitor_read_at);
END;

CREATE TRIGGER conversations_operator_read AFTER UPDATE OF operator_read_up_to ON conversations
WHEN NEW.operator_read_up_to > OLD.operator_read_up_to
BEGIN
    INSERT INTO events (conversation_id, kind, visibility, data, created_at)
    VALUES (NEW.id, 'read', 'public', json_object('by', 'operator', 'up_to', NEW.operator_read_up_to),
            NEW.operator_read_at);
END;
