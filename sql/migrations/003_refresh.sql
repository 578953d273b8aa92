-- ytcache schema version 3: hits since the last fetch, for ytcache-refresh's
-- refresh-ahead (entries clients actually use are fetched again before they
-- expire; the rest are left to expire).
-- Statements are separated by a semicolon at the end of a line.

ALTER TABLE cache ADD COLUMN recent_hits INT UNSIGNED NOT NULL DEFAULT 0 AFTER hits;
