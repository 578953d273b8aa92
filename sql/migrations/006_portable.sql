-- ytcache schema version 6: the same tables on every server.
-- Statements are separated by a semicolon at the end of a line.

-- Tables made before this version took the database's defaults where they
-- named none: latin1 on many old hosts, utf8mb4_0900_ai_ci on MySQL 8.0,
-- COMPACT rows where innodb_default_row_format says so (and then the cache
-- table's composite index is over COMPACT's 767-byte key prefix limit).
-- Each table gets an explicit character set and collation (utf8mb4_bin for
-- text, ascii_bin for ids and words, which YouTube compares case for case)
-- and DYNAMIC rows; the columns that named no collation are restated.
-- budget_usage.region alone compares without case: a region code is one
-- whatever its case (regionCode=jp counts against the JP budget).
ALTER TABLE schema_version ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE cache ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE api_keys ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY label           VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY fingerprint     CHAR(16)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  MODIFY source          VARCHAR(8)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'ctl',
  MODIFY state           VARCHAR(8)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'active',
  MODIFY disabled_reason VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  MODIFY last_error      VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
ALTER TABLE key_usage ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY bucket VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
ALTER TABLE budget_usage ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY bucket VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  MODIFY region VARCHAR(16) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL;
ALTER TABLE client_limits ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY client VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
ALTER TABLE breaker ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
ALTER TABLE daily_counters ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
ALTER TABLE websub_subs ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY channel_id VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  MODIFY topic      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  MODIFY secret     VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  MODIFY state      VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  MODIFY last_error VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
ALTER TABLE cache_ids ROW_FORMAT=DYNAMIC, DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
