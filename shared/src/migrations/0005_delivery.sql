-- 0005: replies out through the customer's channel, and email threading.

-- Each outbound message on a provider channel records how far it got. Delivery only moves
-- forward (queued < sent < delivered < read); failed is final unless it was already delivered.
-- `external_id` (0004) holds the provider's id for the message once the provider accepted it
-- (Twilio MessageSid, Meta mid/wamid) or our own Message-ID for email, so status callbacks and
-- email replies find it through the unique (channel, external_id) index.
ALTER TABLE messages ADD COLUMN delivery TEXT
    CHECK (delivery IN ('queued', 'sent', 'delivered', 'read', 'failed'));
ALTER TABLE messages ADD COLUMN delivery_error TEXT;
ALTER TABLE messages ADD COLUMN delivery_at INTEGER;

-- The durable outbox: one row per outbound message, written in the transaction that stores the
-- message, so an acknowledged reply is never lost. `dispatch` claims due rows with a lease (a
-- crashed sender's rows become due again when the lease ends), sends, and records the outcome:
-- done, or the next attempt after a backoff, or failed for good with the provider's error.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    channel         TEXT NOT NULL,
    -- Who receives it: an E.164 number, an email address, or a channel user id (PSID, IGSID).
    recipient       TEXT NOT NULL,
    -- Channel specifics fixed when the reply was written (email subject and threading headers).
    details         TEXT NOT NULL DEFAULT '{}',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    done_at         INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE done_at IS NULL;

-- Email threading: the token in a conversation's reply address (support+<token>@...), random,
-- one per conversation; and each email message's subject and References, for the reply's
-- headers. An email's RFC Message-ID is its messages.external_id.
CREATE TABLE email_threads (
    token           TEXT PRIMARY KEY,
    conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations (id)
) WITHOUT ROWID;

CREATE TABLE email_details (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id),
    subject    TEXT NOT NULL,
    refs       TEXT NOT NULL DEFAULT ''
);

-- Webhook replay protection: a signed request's one-time token (Mailgun) is accepted once.
-- Rows older than the signature's freshness window are useless and pruned.
CREATE TABLE webhook_nonces (
    provider TEXT NOT NULL,
    nonce    TEXT NOT NULL,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, nonce)
) WITHOUT ROWID;

-- Files customers and operators exchange (MMS media, email attachments, Meta media, widget
-- uploads), kept in the database so one backup holds everything. Served only to the
-- conversation's visitor and to operators.
CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    message_id      INTEGER REFERENCES messages (id),
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    data            BLOB NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id);

-- Media a provider hosts (MMS media, Messenger/Instagram attachment URLs, WhatsApp media ids),
-- fetched into `attachments` after the message is stored: the webhook answers at once, and a
-- provider that is slow or down is retried like a reply. One row per (message, source).
CREATE TABLE media_fetches (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages (id),
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    channel         TEXT NOT NULL,
    -- A URL, or `whatsapp-media:<id>` for a WhatsApp Cloud media id.
    source          TEXT NOT NULL,
    content_type    TEXT,
    name            TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    done_at         INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (message_id, source)
);
CREATE INDEX media_fetches_due ON media_fetches (next_attempt_at) WHERE done_at IS NULL;

-- message.created now carries the delivery state (a console shows "queued" at once) and the
-- message's attachments. Attachments are inserted just before their message, in the same
-- transaction, with no message yet; the message's insert claims them. Writers are serialised,
-- so unclaimed rows of a conversation are exactly this message's.
DROP TRIGGER messages_publish;
CREATE TRIGGER messages_publish AFTER INSERT ON messages
BEGIN
    UPDATE attachments SET message_id = NEW.id
     WHERE conversation_id = NEW.conversation_id AND message_id IS NULL;
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
                'client_id', NEW.client_id,
                'delivery', NEW.delivery,
                'delivery_error', NEW.delivery_error,
                'attachments', json((SELECT json_group_array(json_object(
                    'id', id, 'name', name, 'content_type', content_type, 'size', size))
                    FROM attachments WHERE message_id = NEW.id)))),
            NEW.created_at);
    INSERT INTO messages_fts (rowid, body) VALUES (NEW.id, NEW.body);
END;
