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
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE INDEX conversations_by_status_activity ON conversations (status, updated_at DESC);
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
