-- 0004: channels. A provider's id for each inbound message (MessageSid, mid, wamid, RFC
-- Message-ID), unique per channel so a provider's retries store one message; and the ids a
-- customer has on channels that are not a phone number or an email address (Messenger PSID,
-- Instagram IGSID, WhatsApp id).
ALTER TABLE messages ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX messages_by_external_id ON messages (channel, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE contact_identities (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    contact_id  INTEGER NOT NULL REFERENCES contacts (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (channel, external_id)
) WITHOUT ROWID;
CREATE INDEX contact_identities_by_contact ON contact_identities (contact_id);
