-- ytcache schema, version 1. Works on MariaDB 10.3+ and MySQL 5.7+/8.
-- Apply with `ytcachectl migrate` (which records it in schema_version), or by hand.
-- Statements are separated by a semicolon at the end of a line.

CREATE TABLE IF NOT EXISTS schema_version (
  version    INT UNSIGNED NOT NULL PRIMARY KEY,
  applied_at DATETIME     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;

-- One row per canonical request. `request` holds what was asked
-- ({"endpoint":..,"key":..,"params":{..}}); the VIRTUAL columns are computed
-- from it and exist to be indexed. `response` is the upstream body byte for
-- byte: LONGTEXT with a JSON_VALID check rather than the JSON type, because
-- MySQL's JSON type re-serialises documents, which would change the bytes
-- (and the ETag) that clients get back.
CREATE TABLE IF NOT EXISTS cache (
  cache_key   BINARY(32)   NOT NULL,
  request     JSON         NOT NULL,
  endpoint    VARCHAR(32)  AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.endpoint'))) VIRTUAL,
  part        VARCHAR(255) AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.params.part'))) VIRTUAL,
  apikey      VARCHAR(64)  AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.key'))) VIRTUAL,
  id          VARCHAR(2048) AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.params.id'))) VIRTUAL,
  channel_id  VARCHAR(64)  AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.params.channelId'))) VIRTUAL,
  playlist_id VARCHAR(64)  AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.params.playlistId'))) VIRTUAL,
  region_code VARCHAR(8)   AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.params.regionCode'))) VIRTUAL,
  response    LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  status      SMALLINT UNSIGNED NOT NULL,
  etag        VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  ttl         INT UNSIGNED NOT NULL,
  fetched_at  DATETIME     NOT NULL,
  expires_at  DATETIME     NOT NULL,
  hits        BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_hit_at DATETIME     NULL,
  PRIMARY KEY (cache_key),
  KEY idx_endpoint_part_apikey (endpoint, part, apikey),
  KEY idx_id (id(64)),
  KEY idx_channel_id (channel_id),
  KEY idx_playlist_id (playlist_id),
  KEY idx_region (endpoint, region_code),
  KEY idx_expires (expires_at),
  CONSTRAINT response_is_json CHECK (JSON_VALID(response))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
