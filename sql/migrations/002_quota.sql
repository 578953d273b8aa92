-- ytcache schema version 2: the key pool, quota accounting, budgets,
-- per-client limits and the shared circuit breaker.
-- Statements are separated by a semicolon at the end of a line.

-- Server API keys. `secret` is the key itself: this table is the one place
-- it is stored, and it is never copied into a response, log line or cache row.
CREATE TABLE IF NOT EXISTS api_keys (
  id              INT UNSIGNED NOT NULL AUTO_INCREMENT,
  label           VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  secret          VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  fingerprint     CHAR(16)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  source          VARCHAR(8)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'ctl',
  state           VARCHAR(8)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'active',
  disabled_reason VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  last_error      VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  last_error_at   DATETIME     NULL,
  created_at      DATETIME     NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_label (label),
  UNIQUE KEY uk_fingerprint (fingerprint)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- Units used per key, bucket and Pacific day; a new day starts new rows.
-- exhausted: 1 = Google said the bucket is empty, 2 = key disabled.
CREATE TABLE IF NOT EXISTS key_usage (
  key_id    INT UNSIGNED NOT NULL,
  bucket    VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  day       DATE         NOT NULL,
  used      INT UNSIGNED NOT NULL DEFAULT 0,
  calls     INT UNSIGNED NOT NULL DEFAULT 0,
  exhausted TINYINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, bucket, day),
  KEY idx_pick (bucket, day, exhausted, used)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS budget_usage (
  bucket VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  region VARCHAR(16) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  day    DATE        NOT NULL,
  used   INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, region, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- GCRA: one row per client with its theoretical arrival time (microseconds since the epoch, database clock).
CREATE TABLE IF NOT EXISTS client_limits (
  client     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  tat_us     BIGINT      NOT NULL,
  PRIMARY KEY (client),
  KEY idx_tat (tat_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- The upstream circuit breaker, shared by every process and host.
-- state: 0 closed, 1 open, 2 half-open (one probe in flight).
CREATE TABLE IF NOT EXISTS breaker (
  name         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  state        TINYINT UNSIGNED NOT NULL DEFAULT 0,
  failures     INT UNSIGNED NOT NULL DEFAULT 0,
  window_start DATETIME(3) NULL,
  opened_at    DATETIME(3) NULL,
  probe_until  DATETIME(3) NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

INSERT IGNORE INTO breaker (name) VALUES ('upstream');

CREATE TABLE IF NOT EXISTS daily_counters (
  day   DATE        NOT NULL,
  name  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  value BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (day, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
