-- Retention's two selections, indexed so a purge run reads only what it will change.
--
-- Files whose bytes retention has not removed yet, by age. The WHERE is, word for word, the
-- predicate `retention::OLD_ATTACHMENTS` uses, so SQLite can use this partial index (without it
-- every run walked every file's blob).
CREATE INDEX attachments_to_purge ON attachments (created_at)
    WHERE sha256 != 'removed-by-retention';

-- When a conversation was last emptied (by retention or a customer's erasure); NULL while it
-- holds words or files. New content clears it, so a reopened conversation is purged again.
ALTER TABLE conversations ADD COLUMN emptied_at INTEGER;
CREATE INDEX conversations_to_purge ON conversations (updated_at)
    WHERE status = 'resolved' AND emptied_at IS NULL;

CREATE TRIGGER messages_unempty AFTER INSERT ON messages
BEGIN
    UPDATE conversations SET emptied_at = NULL
     WHERE id = NEW.conversation_id AND emptied_at IS NOT NULL;
END;

CREATE TRIGGER attachments_unempty AFTER INSERT ON attachments
BEGIN
    UPDATE conversations SET emptied_at = NULL
     WHERE id = NEW.conversation_id AND emptied_at IS NOT NULL;
END;

CREATE TRIGGER notes_unempty AFTER INSERT ON notes
BEGIN
    UPDATE conversations SET emptied_at = NULL
     WHERE id = NEW.conversation_id AND emptied_at IS NOT NULL;
END;
