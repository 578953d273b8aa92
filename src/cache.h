/* cache: the cache table: lookup, upsert, hit counts, cross-process fetch locks, purges, the bound (eviction). */
#ifndef YTC_CACHE_H
#define YTC_CACHE_H

#include "canon.h"
#include "util.h"

#include <stdint.h>

struct db;

struct cache_entry {
    buf_t body;    /* storage for a row read from the database */
    const char *data;  /* the answer's bytes: body's, or a hot row's in memory (hot.h) */
    size_t len;
    long status;
    char etag[130];
    long ttl;
    long age;      /* seconds since fetched */
    long left;     /* seconds until expiry; <= 0 means expired */
    uint64_t rev;  /* changes with every store; 0 for rows stored before revisions */
    int phase_ms;  /* how far into its current second the server's clock was */
};

/* 1 found, 0 not found, -1 database error. Reuses e->body's memory; e->data
 * points at it. */
int cache_lookup(struct db *d, const unsigned char key[CANON_KEY_LEN], struct cache_entry *e, char *err, size_t errlen);
/* The row's revision, age and time left, without its body: 1, 0 (no row), -1. */
int cache_check(struct db *d, const unsigned char key[CANON_KEY_LEN], uint64_t *rev, long *age, long *left,
                int *phase_ms, char *err, size_t errlen);
/* Upsert a row (with a new revision); `ids` (the id param, may be NULL) with several ids also
 * fills cache_ids, in the same transaction. 0 stored, 1 not stored (too big for the
 * server's max_allowed_packet; logged once), -1 error (err filled). */
int cache_store(struct db *d, const unsigned char key[CANON_KEY_LEN], const char *request_json,
                const char *body, size_t len, long status, const char *etag, long ttl,
                const char *ids, char *err, size_t errlen);
/* Hit counts are gathered per process and written in one transaction at
 * most once a second, so a cache hit costs one primary-key read and no
 * write (a write per hit means an fsync per hit). */
#define CACHE_HIT_SLOTS 64
struct cache_hits {
    unsigned char key[CACHE_HIT_SLOTS][CANON_KEY_LEN];
    unsigned long count[CACHE_HIT_SLOTS];
    size_t used;
    long long last_flush_ms;
};
void cache_hits_add(struct cache_hits *h, const unsigned char key[CANON_KEY_LEN]);
/* 1 if a flush is due: a full table, or a second since the last flush. */
int cache_hits_due(const struct cache_hits *h, long long now_ms);
/* Write the gathered counts; the table is emptied even on error (counts are advisory). */
int cache_hits_flush(struct db *d, struct cache_hits *h, char *err, size_t errlen);
/* Cross-process fetch lock (GET_LOCK). 1 got it, 0 timed out, -1 error. */
int cache_lock(struct db *d, const unsigned char key[CANON_KEY_LEN], long wait_ms, char *err, size_t errlen);
int cache_unlock(struct db *d, const unsigned char key[CANON_KEY_LEN], char *err, size_t errlen);
/* The same for any name (at most 64 characters), e.g. the refresher's run lock. */
int cache_lock_named(struct db *d, const char *name, long wait_ms, char *err, size_t errlen);
int cache_unlock_named(struct db *d, const char *name, char *err, size_t errlen);
/* The bound this process's stores keep ([cache] max_rows, max_bytes; 0 = none),
 * set once per process (proxy_init). A store that takes the table over it
 * evicts at most CACHE_STORE_EVICT_BATCH of the least recently hit rows. */
#define CACHE_STORE_EVICT_BATCH 32
void cache_bound(long max_rows, long max_bytes);
/* The cache_usage row: rows and response bytes as counted (approximate
 * between recounts), and rows evicted by stores and by ytcache-refresh. */
struct cache_usage {
    long long rows, bytes, evicted_store, evicted_refresh;
};
/* 1 read, 0 no row (schema before version 8?), -1 error. */
int cache_usage_read(struct db *d, struct cache_usage *u, char *err, size_t errlen);
/* Count rows and bytes exactly (a scan of the table: not for requests). 0 / -1. */
int cache_usage_recount(struct db *d, char *err, size_t errlen);
/* Delete up to `batch` of the least recently hit rows (never hit first,
 * oldest fetch first; `keep`, if not NULL, is spared) while the counted
 * usage is over max_rows / max_bytes (0 = no bound); their cache_ids rows
 * go with them (ON DELETE CASCADE). Rows deleted, or -1. */
long long cache_evict(struct db *d, long max_rows, long max_bytes, long batch, int by_refresh,
                      const unsigned char *keep, char *err, size_t errlen);
/* Purges; return rows deleted or -1. */
long long cache_purge_expired(struct db *d, long grace_secs, char *err, size_t errlen);
long long cache_purge_endpoint(struct db *d, const char *endpoint, char *err, size_t errlen);
long long cache_purge_all(struct db *d, char *err, size_t errlen);
void cache_entry_free(struct cache_entry *e);

#endif
