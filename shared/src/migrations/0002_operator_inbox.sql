-- 0002: the operator inbox. Conversation states (pending, snoozed) with an optimistic-concurrency
-- version, assignment and teams, tags, internal notes with mentions, canned responses, contact
-- details and merging, operator presence/capacity/skills, invitations, settings, and full-text
-- search over messages.

-- Teams first: the rebuilt conversations table refers to them.
CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id     INTEGER NOT NULL REFERENCES teams (id),
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    PRIMARY KEY (team_id, operator_id)
) WITHOUT ROWID;
CREATE INDEX team_members_by_operator ON team_members (operator_id, team_id);

-- SQLite cannot change a CHECK constraint in place, so `conversations` is rebuilt the way the
-- SQLite manual prescribes (create, copy, drop, rename); every row and id is kept. `migrate()`
-- turns foreign-key enforcement off while migrations run (so the drop does not delete-check the
-- rows that refer to it) and runs `foreign_key_check` before committing. The triggers that name
-- the table are dropped first and recreated below.
DROP TRIGGER messages_publish;

CREATE TABLE conversations_rebuilt (
    id                  INTEGER PRIMARY KEY,
    -- The customer, as operators see them: merging contacts moves conversations here.
    contact_id          INTEGER NOT NULL REFERENCES contacts (id),
    -- The contact whose widget tokens own this conversation. Merges never change it: merging is
    -- an operator's judgement about who someone is, never a grant of access to a browser.
    visitor_contact_id  INTEGER NOT NULL REFERENCES contacts (id),
    channel             TEXT NOT NULL DEFAULT 'web',
    status              TEXT NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    -- Bumped by every change of status, assignee or team. Callers send the version they saw and
    -- the UPDATE matches on it, so a concurrent change makes the loser's request a 409.
    version             INTEGER NOT NULL DEFAULT 1,
    snoozed_until       INTEGER,
    assignee_id         INTEGER REFERENCES operators (id),
    assigned_at         INTEGER,
    team_id             INTEGER REFERENCES teams (id),
    -- Since when an open, unassigned conversation with a customer message has been waiting.
    waiting_since       INTEGER,
    page_url            TEXT,
    last_message_id     INTEGER,
    visitor_read_up_to  INTEGER NOT NULL DEFAULT 0,
    operator_read_up_to INTEGER NOT NULL DEFAULT 0,
    visitor_read_at     INTEGER,
    operator_read_at    INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK ((status = 'snoozed') = (snoozed_until IS NOT NULL))
);

INSERT INTO conversations_rebuilt
       (id, contact_id, visitor_contact_id, channel, status, assignee_id, page_url,
        last_message_id, visitor_read_up_to, operator_read_up_to, visitor_read_at,
        operator_read_at, created_at, updated_at, waiting_since)
SELECT id, contact_id, contact_id, channel, status, assignee_id, page_url, last_message_id,
       visitor_read_up_to, operator_read_up_to, visitor_read_at, operator_read_at,
       created_at, updated_at,
       CASE WHEN status = 'open' AND assignee_id IS NULL
            THEN (SELECT MIN(m.created_at) FROM messages m
                   WHERE m.conversation_id = conversations.id AND m.author = 'visitor') END
  FROM conversations;

DROP TABLE conversations;
ALTER TABLE conversations_rebuilt RENAME TO conversations;

CREATE INDEX conversations_by_status_activity ON conversations (status, updated_at DESC, id DESC);
-- "All conversations, newest first".
CREATE INDEX conversations_by_activity ON conversations (updated_at DESC, id DESC);
CREATE INDEX conversations_by_contact ON conversations (contact_id, updated_at DESC);
CREATE INDEX conversations_by_visitor_contact ON conversations (visitor_contact_id);
-- Load per operator (capacity checks) and "assigned to me".
CREATE INDEX conversations_by_assignee ON conversations (assignee_id, status, updated_at DESC);
CREATE INDEX conversations_by_team ON conversations (team_id, status, updated_at DESC);
-- The queue: open, unassigned, oldest wait first.
CREATE INDEX conversations_waiting ON conversations (waiting_since)
    WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL;
-- Snoozes due to wake.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

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

-- Full-text search over message bodies (contentless-style external content: the text lives once,
-- in `messages`). Messages are never edited; deleting one must delete its FTS row too.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- Publishing a message is still one INSERT. The trigger, in order: records a reopen (a customer
-- writing to a pending, snoozed or resolved conversation) and a claim (the first operator to reply
-- to an unassigned one, if they have room below their capacity) in the timeline, reading the
-- state before it changes; updates the conversation (a customer message bumps `version`, so an
-- operator who has not seen it cannot resolve over it); appends the message event (its JSON must
-- equal `Message` serialized by serde, a unit test holds them together); indexes the text.
CREATE TRIGGER messages_publish AFTER INSERT ON messages
BEGIN
    INSERT INTO events (conversation_id, kind, visibility, data, created_at)
    SELECT id, 'conversation.status', 'internal',
           json_object('from', status, 'to', 'open', 'by', NULL,
                       'reason', 'the customer wrote again', 'snoozed_until', NULL),
           NEW.created_at
      FROM conversations
     WHERE id = NEW.conversation_id AND NEW.author = 'visitor' AND status != 'open';
    INSERT INTO events (conversation_id, kind, visibility, data, created_at)
    SELECT c.id, 'conversation.assigned', 'internal',
           json_object('from', NULL, 'to', json_object('id', o.id, 'name', o.name),
                       'by', json_object('id', o.id, 'name', o.name), 'reason', 'replied first'),
           NEW.created_at
      FROM conversations c JOIN operators o ON o.id = NEW.operator_id
     WHERE c.id = NEW.conversation_id AND c.assignee_id IS NULL
       AND (SELECT COUNT(*) FROM conversations l
             WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending')) < o.capacity;
    UPDATE operators SET last_assigned_at = NEW.created_at
     WHERE id = NEW.operator_id
       AND EXISTS (SELECT 1 FROM conversations c
                    WHERE c.id = NEW.conversation_id AND c.assignee_id IS NULL)
       AND (SELECT COUNT(*) FROM conversations l
             WHERE l.assignee_id = operators.id AND l.status IN ('open', 'pending')) < capacity;
    UPDATE conversations
       SET assignee_id = NEW.operator_id, assigned_at = NEW.created_at, waiting_since = NULL,
           version = version + 1
     WHERE id = NEW.conversation_id AND assignee_id IS NULL
       AND (SELECT COUNT(*) FROM conversations l
             WHERE l.assignee_id = NEW.operator_id AND l.status IN ('open', 'pending'))
           < (SELECT capacity FROM operators WHERE id = NEW.operator_id);
    UPDATE conversations
       SET last_message_id = NEW.id,
           updated_at = NEW.created_at,
           version = version + (NEW.author = 'visitor'),
           status = CASE WHEN NEW.author = 'visitor' THEN 'open' ELSE status END,
           snoozed_until = CASE WHEN NEW.author = 'visitor' THEN NULL ELSE snoozed_until END,
           waiting_since = CASE
               WHEN assignee_id IS NOT NULL THEN NULL
               WHEN NEW.author = 'visitor' THEN COALESCE(waiting_since, NEW.created_at)
               ELSE waiting_since END
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
    INSERT INTO messages_fts (rowid, body) VALUES (NEW.id, NEW.body);
END;

-- Contacts: custom attributes (a JSON object), and merging. A merged contact stays as a tombstone
-- pointing at the survivor, so links to it still lead somewhere.
ALTER TABLE contacts ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN updated_at INTEGER;
ALTER TABLE contacts ADD COLUMN merged_into INTEGER REFERENCES contacts (id);
CREATE INDEX contacts_by_email ON contacts (email COLLATE NOCASE) WHERE email IS NOT NULL;
CREATE INDEX contacts_by_phone ON contacts (phone) WHERE phone IS NOT NULL;

-- Operators: how many conversations they take at once, the presence they chose and when their
-- console last checked in (presence counts only within a grace period of that).
ALTER TABLE operators ADD COLUMN capacity INTEGER NOT NULL DEFAULT 3 CHECK (capacity BETWEEN 0 AND 50);
ALTER TABLE operators ADD COLUMN presence TEXT NOT NULL DEFAULT 'offline'
    CHECK (presence IN ('available', 'away', 'offline'));
ALTER TABLE operators ADD COLUMN last_seen_at INTEGER;
ALTER TABLE operators ADD COLUMN last_assigned_at INTEGER;

CREATE TABLE operator_skills (
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    skill       TEXT NOT NULL COLLATE NOCASE,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    PRIMARY KEY (operator_id, skill)
) WITHOUT ROWID;

CREATE TABLE operator_languages (
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    language    TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (operator_id, language)
) WITHOUT ROWID;

-- One-time links to choose a password (invitations and resets). Stored hashed, like sessions.
CREATE TABLE operator_invites (
    token_hash  BLOB PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX operator_invites_by_operator ON operator_invites (operator_id);

CREATE TABLE tags (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    color      TEXT NOT NULL DEFAULT '#64748b',
    created_at INTEGER NOT NULL
);

CREATE TABLE conversation_tags (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    tag_id          INTEGER NOT NULL REFERENCES tags (id),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX conversation_tags_by_tag ON conversation_tags (tag_id, conversation_id);

-- Internal notes live apart from messages, so no query that serves the visitor can reach them.
CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    operator_id     INTEGER NOT NULL REFERENCES operators (id),
    body            TEXT NOT NULL,
    client_id       TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, operator_id, client_id)
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, id);

CREATE TABLE note_mentions (
    operator_id INTEGER NOT NULL REFERENCES operators (id),
    note_id     INTEGER NOT NULL REFERENCES notes (id),
    read_at     INTEGER,
    PRIMARY KEY (operator_id, note_id)
) WITHOUT ROWID;

-- Canned responses: team-wide (owner_id NULL, managed by admins) or one operator's own.
-- Shortcuts are unique within a scope.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER REFERENCES operators (id),
    shortcut   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX canned_responses_by_shortcut
    ON canned_responses (COALESCE(owner_id, 0), lower(shortcut));

-- Business settings admins edit in the console (key -> text).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
