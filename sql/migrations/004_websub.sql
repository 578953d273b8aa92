-- ytcache schema version 4: WebSub (PubSubHubbub) subscriptions to YouTube
-- channel feeds, and the ids of multi-id requests for invalidation.
-- Statements are separated by a semicolon at the end of a line.

-- One row per channel subscription. `secret` signs the hub's notifications
-- (HMAC-SHA1); it is generated per subscription and never leaves the server
-- except in the subscription request to the hub.
CREATE TABLE IF NOT EXISTS websub_subs (
  channel_id       VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  topic            VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  secret           VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  state            VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  lease_seconds    INT UNSIGNED NOT NULL,
  lease_expires_at DATETIME     NULL,
  requested_at     DATETIME     NOT NULL,
  verified_at      DATETIME     NULL,
  last_notified_at DATETIME     NULL,
  notifications    BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_error       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  PRIMARY KEY (channel_id),
  KEY idx_lease (state, lease_expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- A request for several ids (videos?id=a,b,c) stores "a,b,c" in the indexed
-- `id` column, where an index cannot find "b". Such rows also list each id
-- here, so invalidation by one id is an index lookup, not a scan.
CREATE TABLE IF NOT EXISTS cache_ids (
  id        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  cache_key BINARY(32)  NOT NULL,
  PRIMARY KEY (id, cache_key),
  KEY idx_cache_key (cache_key),
  CONSTRAINT fk_cache_ids_cache FOREIGN KEY (cache_key) REFERENCES cache (cache_key) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
