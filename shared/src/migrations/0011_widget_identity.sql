-- 0011: the widget's JS API and "continue elsewhere".

-- A signed-in user of the business's own site, verified by the HMAC the business's server
-- computed (`setUser({id, hash})`), and the one contact that is them. The primary key makes
-- "one contact per user id" hold however many browsers verify at once.
CREATE TABLE widget_identities (
    user_id    TEXT PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX widget_identities_by_contact ON widget_identities (contact_id);

-- Where the visitor asked to continue the conversation (sms or email) and when: replies
-- default there until the customer writes on another channel after that moment.
ALTER TABLE conversations ADD COLUMN preferred_channel TEXT
    CHECK (preferred_channel IN ('sms', 'email'));
ALTER TABLE conversations ADD COLUMN preferred_at INTEGER;
