-- ytcache schema version 5: a revision per cache row.
-- Statements are separated by a semicolon at the end of a line.

-- Every store writes a new random revision. A worker that keeps a hot row
-- in memory asks the database for the revision alone (no body) to know its
-- copy is still current. Rows stored before this version have 0, which no
-- worker keeps in memory; they get a revision when next stored.
ALTER TABLE cache ADD COLUMN rev BIGINT UNSIGNED NOT NULL DEFAULT 0;
