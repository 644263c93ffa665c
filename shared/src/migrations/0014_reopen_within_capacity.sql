-- Issue 9: no operator over capacity, even when a customer reopens a conversation. As in 0008,
-- except that a customer's message to a resolved or snoozed conversation whose assignee is at
-- capacity puts it back in the queue instead of reopening it with them.
DROP TRIGGER messages_publish;
CREATE TRIGGER messages_publish AFTER INSERT ON messages
BEGIN
    UPDATE attachments SET message_id = NEW.id
     WHERE conversation_id = NEW.conversation_id AND message_id IS NULL;
    -- Capacity limits every assignment, a reopening included: when the customer writes again
    -- to a conversation that was not counting against its assignee (resolved or snoozed) and
    -- that operator is already at capacity, it goes back to the queue (the router, with
    -- stickiness, gives it back to them once they have room) instead of pushing them over.
    -- First, so that the timeline reads: back to the queue, then reopened.
    INSERT INTO events (conversation_id, kind, visibility, data, created_at)
    SELECT c.id, 'conversation.assigned', 'internal',
           json_object('from', json_object('id', o.id, 'name', o.name), 'to', NULL, 'by', NULL,
                       'reason', o.name || ' was at capacity when the customer wrote again; back to the queue'),
           NEW.created_at
      FROM conversations c JOIN operators o ON o.id = c.assignee_id
     WHERE c.id = NEW.conversation_id AND NEW.author = 'visitor'
       AND c.status NOT IN ('open', 'pending')
       AND (SELECT COUNT(*) FROM conversations l
             WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending')) >= o.capacity;
    UPDATE conversations
       SET assignee_id = NULL, assigned_at = NULL, version = version + 1
     WHERE id = NEW.conversation_id AND NEW.author = 'visitor'
       AND status NOT IN ('open', 'pending') AND assignee_id IS NOT NULL
       AND (SELECT COUNT(*) FROM conversations l
             WHERE l.assignee_id = conversations.assignee_id AND l.status IN ('open', 'pending'))
           >= (SELECT capacity FROM operators WHERE id = conversations.assignee_id);
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
