-- 0006: the knowledge base. Articles admins write (title, markdown body, tags, language, an
-- optional topic by name, like `conversations.topic`), and a full-text index over title, body
-- and tags for the assistant's answers and the widget's help search.

CREATE TABLE kb_articles (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    -- JSON array of lower-case strings, like topics' keywords.
    tags       TEXT NOT NULL DEFAULT '[]',
    -- A language tag as admins typed it (`en`, `es`, `pt-BR`).
    language   TEXT NOT NULL DEFAULT 'en',
    -- A `topics.name`, or NULL. Not a foreign key, like `conversations.topic`: renaming or
    -- deleting a topic must not fail or rewrite articles.
    topic      TEXT,
    published  INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX kb_articles_by_title ON kb_articles (title COLLATE NOCASE);

-- External content: the text lives once, in `kb_articles`; the triggers below keep the index in
-- step with every insert, update and delete. `remove_diacritics 2` makes "facturación" match
-- "facturacion" (and the other way round).
CREATE VIRTUAL TABLE kb_articles_fts USING fts5 (
    title, body, tags,
    content = 'kb_articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- The index's vocabulary (term, documents, occurrences): typo correction looks up near terms
-- here, and confidence weighs words by how rare they are.
CREATE VIRTUAL TABLE kb_articles_vocab USING fts5vocab (kb_articles_fts, 'row');

CREATE TRIGGER kb_articles_index AFTER INSERT ON kb_articles
BEGIN
    INSERT INTO kb_articles_fts (rowid, title, body, tags)
    VALUES (NEW.id, NEW.title, NEW.body, NEW.tags);
END;

CREATE TRIGGER kb_articles_unindex AFTER DELETE ON kb_articles
BEGIN
    INSERT INTO kb_articles_fts (kb_articles_fts, rowid, title, body, tags)
    VALUES ('delete', OLD.id, OLD.title, OLD.body, OLD.tags);
END;

CREATE TRIGGER kb_articles_reindex AFTER UPDATE OF title, body, tags ON kb_articles
BEGIN
    INSERT INTO kb_articles_fts (kb_articles_fts, rowid, title, body, tags)
    VALUES ('delete', OLD.id, OLD.title, OLD.body, OLD.tags);
    INSERT INTO kb_articles_fts (rowid, title, body, tags)
    VALUES (NEW.id, NEW.title, NEW.body, NEW.tags);
END;
