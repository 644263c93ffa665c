-- 0008: the assistant (AI first line). A conversation the assistant owns has `bot_active` set:
-- it is not waiting for an operator (the routing queue never sees it) until the assistant hands
-- it off, which clears the flag and starts the wait; an operator can hand it back. The
-- assistant's own messages are system messages with `sender = 'assistant'`, so every client can
-- tell them from notices, and no human-response metric counts them.
ALTER TABLE conversations ADD COLUMN bot_active INTEGER NOT NULL DEFAULT 0;
-- The newest customer message the assistant has dealt with: a turn claims the messages after it
-- with one conditional UPDATE, so concurrent calls never answer twice.
ALTER TABLE conversations ADD COLUMN bot_seen_up_to INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN handed_off_at INTEGER;
-- Where the assistant's current stint began (the newest message when an operator handed the
-- conversation back): what was said before is the people's business, not a new trigger.
ALTER TABLE conversations ADD COLUMN bot_started_after INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN sender TEXT;
-- Topics the assistant must never answer (it hands them to people at once).
ALTER TABLE topics ADD COLUMN human_only INTEGER NOT NULL DEFAULT 0;

-- The assistant stops the moment a person owns the conversation, however that happened (a
-- reply that claims it, an assignment, routing after a transfer).
CREATE TRIGGER conversations_assigned_stop_assistant
AFTER UPDATE OF assignee_id ON conversations
WHEN NEW.assignee_id IS NOT NULL AND NEW.bot_active = 1
BEGIN
    UPDATE conversations SET bot_active = 0 WHERE id = NEW.id;
END;

-- As in 0005, except: a customer message in a conversation the assistant owns does not start a
-- wait for an operator, and message.created carries `sender`.
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
               WHEN NEW.author = 'visitor' AND bot_active = 0 THEN COALESCE(waiting_since, NEW.created_at)
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
                'sender', NEW.sender,
                'delivery', NEW.delivery,
                'delivery_error', NEW.delivery_error,
                'attachments', json((SELECT json_group_array(json_object(
                    'id', id, 'name', name, 'content_type', content_type, 'size', size))
                    FROM attachments WHERE message_id = NEW.id)))),
            NEW.created_at);
    INSERT INTO messages_fts (rowid, body) VALUES (NEW.id, NEW.body);
END;
