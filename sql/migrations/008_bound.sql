-- ytcache schema version 8: a bounded cache table ([cache] max_rows, max_bytes).
-- Statements are separated by a semicolon at the end of a line.

-- The length of each stored response, written by every store, so that
-- the bytes a row frees are known without reading its body.
ALTER TABLE cache ADD COLUMN body_bytes INT UNSIGNED NOT NULL DEFAULT 0;
UPDATE cache SET body_bytes = LENGTH(response) WHERE body_bytes = 0;
-- Eviction takes the least recently hit rows first: never hit (NULL sorts
-- first) by fetch time, then by last hit. An index, so that finding a few
-- victims reads a few index entries, never the table.
ALTER TABLE cache ADD INDEX idx_evict (last_hit_at, fetched_at);

-- One row (id 1): the rows and response bytes of the cache table, kept by
-- every store and eviction (approximate between ytcache-refresh runs, which
-- count them exactly), and the rows evicted since the table was made.
CREATE TABLE IF NOT EXISTS cache_usage (
  id              TINYINT UNSIGNED NOT NULL,
  row_count       BIGINT       NOT NULL DEFAULT 0,
  byte_count      BIGINT       NOT NULL DEFAULT 0,
  evicted_store   BIGINT UNSIGNED NOT NULL DEFAULT 0,
  evicted_refresh BIGINT UNSIGNED NOT NULL DEFAULT 0,
  counted_at      DATETIME     NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
INSERT IGNORE INTO cache_usage (id, row_count, byte_count, counted_at)
  SELECT 1, COUNT(*), COALESCE(SUM(body_bytes), 0), UTC_TIMESTAMP() FROM cache;
