-- 0003: routing. Per-team routing policies with a backup team for overflow, conversation topic,
-- language and priority, admin-editable topics with detection rules, and what re-routing and
-- honest wait estimates need (who last declined a conversation by not answering, when it was
-- resolved).

-- A team's routing policy (the pool of conversations without a team has the same settings, kept
-- as JSON under the `routing.default` setting). Durations are whole seconds/hours, as admins
-- enter them; NULL turns overflow-on-wait and the answer timeout off.
ALTER TABLE teams ADD COLUMN strategy TEXT NOT NULL DEFAULT 'least_loaded'
    CHECK (strategy IN ('round_robin', 'least_loaded', 'skills', 'manual'));
ALTER TABLE teams ADD COLUMN backup_team_id INTEGER REFERENCES teams (id);
ALTER TABLE teams ADD COLUMN overflow_after_s INTEGER CHECK (overflow_after_s > 0);
ALTER TABLE teams ADD COLUMN stickiness_window_h INTEGER NOT NULL DEFAULT 168
    CHECK (stickiness_window_h >= 0);
ALTER TABLE teams ADD COLUMN skill_wait_s INTEGER NOT NULL DEFAULT 60 CHECK (skill_wait_s >= 0);
ALTER TABLE teams ADD COLUMN answer_timeout_s INTEGER CHECK (answer_timeout_s > 0);

-- What routing knows about a conversation. `classified_at` marks that topic detection ran (it
-- runs once, when the conversation first waits). `priority`: 0 normal, 1 high (VIP customers),
-- 2 urgent (urgent topics). `declined_by`: the operator it was taken from for not answering, so
-- the re-route does not hand it straight back.
ALTER TABLE conversations ADD COLUMN topic TEXT;
ALTER TABLE conversations ADD COLUMN language TEXT;
ALTER TABLE conversations ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
    CHECK (priority BETWEEN 0 AND 2);
ALTER TABLE conversations ADD COLUMN classified_at INTEGER;
ALTER TABLE conversations ADD COLUMN declined_by INTEGER REFERENCES operators (id);
ALTER TABLE conversations ADD COLUMN resolved_at INTEGER;

-- When an operator last changed their presence: "went offline after being assigned" is a change,
-- not a state (everyone starts offline, and a supervisor may assign to someone who never set
-- their presence).
ALTER TABLE operators ADD COLUMN presence_changed_at INTEGER;

-- The queue in serving order: highest priority first, then longest waiting.
CREATE INDEX conversations_queue ON conversations (priority DESC, waiting_since, id)
    WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL;
-- Recent handle times, for the wait estimate shown to visitors.
CREATE INDEX conversations_recently_resolved ON conversations (resolved_at)
    WHERE status = 'resolved' AND assigned_at IS NOT NULL;

-- Topics: what customers write about. `name` is also the skill operators are matched on. A
-- conversation gets its topic from the widget's picker, else the first rule that matches: its
-- channel, its page (URL path prefix), or keywords in the customer's first messages. `team_id`
-- queues it for that team; `priority` 2 marks an urgent topic.
CREATE TABLE topics (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    label      TEXT NOT NULL,
    team_id    INTEGER REFERENCES teams (id),
    priority   INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 2),
    in_picker  INTEGER NOT NULL DEFAULT 1 CHECK (in_picker IN (0, 1)),
    -- JSON arrays of lower-case strings.
    keywords   TEXT NOT NULL DEFAULT '[]',
    channels   TEXT NOT NULL DEFAULT '[]',
    pages      TEXT NOT NULL DEFAULT '[]',
    position   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
