/* cache: the cache table: lookup, upsert, hit counts, cross-process fetch locks, purges, the bound (eviction). */
#include "cache.h"
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The server's clock decides freshness, so that every host sharing the
 * database agrees on what has expired. A row past the policy's age limit
 * (util.h) is absent, whatever its windows say. */
#define POLICY_FRESH " AND fetched_at > UTC_TIMESTAMP() - INTERVAL " UTIL_STR(UTIL_POLICY_MAX_AGE_DAYS) " DAY"
static const struct db_stmt SQL_LOOKUP = DB_STMT(
    "SELECT response, status, etag, ttl,"
    " TIMESTAMPDIFF(SECOND, fetched_at, UTC_TIMESTAMP()),"
    " TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at), rev,"
    " MICROSECOND(UTC_TIMESTAMP(6)) DIV 1000"
    " FROM cache WHERE cache_key = ?" POLICY_FRESH);

/* The same row without its body: is a copy held in memory still current?
 * Both queries also say how far into its current second the server's clock
 * is (one statement sees one instant), so that a copy kept in memory ages
 * when the server's seconds tick, not up to a second later. */
static const struct db_stmt SQL_CHECK = DB_STMT(
    "SELECT rev, TIMESTAMPDIFF(SECOND, fetched_at, UTC_TIMESTAMP()),"
    " TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at), MICROSECOND(UTC_TIMESTAMP(6)) DIV 1000"
    " FROM cache WHERE cache_key = ?" POLICY_FRESH);

/* The body is sent once: VALUES(col) repeats the inserted value in the
 * update. It is the one form MariaDB and MySQL 5.7/8.0/8.4 all accept;
 * MySQL 8.0.20 deprecates it (a warning) for a row alias that MariaDB
 * refuses. tests/sqlport.py allows it in this statement only. */
static const struct db_stmt SQL_STORE = DB_STMT(
    "INSERT INTO cache (cache_key, request, response, status, etag, ttl, fetched_at, expires_at, rev, body_bytes)"
    " VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL ? SECOND, ?, ?)"
    " ON DUPLICATE KEY UPDATE request = VALUES(request), response = VALUES(response),"
    " status = VALUES(status), etag = VALUES(etag), ttl = VALUES(ttl),"
    " fetched_at = VALUES(fetched_at), expires_at = VALUES(expires_at), recent_hits = 0, rev = VALUES(rev),"
    " body_bytes = VALUES(body_bytes)");

/* What a store's statement carries besides the body and the request (the
 * other values, the SQL text, the packet header), with room to spare. */
#define STORE_OVERHEAD 4096

static const struct db_stmt SQL_HIT = DB_STMT(
    "UPDATE cache SET hits = hits + ?, recent_hits = recent_hits + ?, last_hit_at = UTC_TIMESTAMP()"
    " WHERE cache_key = ?");
static const struct db_stmt SQL_PURGE_EXPIRED = DB_STMT(
    "DELETE FROM cache WHERE expires_at < UTC_TIMESTAMP() - INTERVAL ? SECOND"
    " OR fetched_at <= UTC_TIMESTAMP() - INTERVAL " UTIL_STR(UTIL_POLICY_MAX_AGE_DAYS) " DAY");
static const struct db_stmt SQL_PURGE_ENDPOINT = DB_STMT("DELETE FROM cache WHERE endpoint = ?");
static const struct db_stmt SQL_PURGE_ALL = DB_STMT("DELETE FROM cache");

int cache_lookup(struct db *d, const unsigned char key[CANON_KEY_LEN], struct cache_entry *e, char *err, size_t errlen)
{
    MYSQL_BIND p[1], r[8];
    unsigned long klen = CANON_KEY_LEN, blen = 0, elen = 0;
    long long status = 0, ttl = 0, age = 0, left = 0, rev = 0, phase = 0;
    my_bool n_body = 0, n_status = 0, n_etag = 0, n_ttl = 0, n_age = 0, n_left = 0, n_rev = 0, n_phase = 0;
    db_bind_blob(&p[0], key, &klen);
    db_bind_out_grow(&r[0], &blen, &n_body);
    db_bind_out_long(&r[1], &status, &n_status);
    db_bind_out_str(&r[2], e->etag, sizeof e->etag - 1, &elen, &n_etag);
    db_bind_out_long(&r[3], &ttl, &n_ttl);
    db_bind_out_long(&r[4], &age, &n_age);
    db_bind_out_long(&r[5], &left, &n_left);
    db_bind_out_long(&r[6], &rev, &n_rev);
    db_bind_out_long(&r[7], &phase, &n_phase);
    buf_t *grow[8] = { &e->body, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    int has_row = 0;
    if (db_row_grow(d, &SQL_LOOKUP, p, r, grow, &has_row, err, errlen) < 0)
        return -1;
    if (!has_row)
        return 0;
    e->etag[elen < sizeof e->etag ? elen : sizeof e->etag - 1] = '\0';
    if (n_etag)
        e->etag[0] = '\0';
    e->status = (long)status;
    e->ttl = (long)ttl;
    e->age = age < 0 ? 0 : (long)age;
    e->left = (long)left;
    e->rev = n_rev ? 0 : (uint64_t)rev;
    e->phase_ms = phase >= 0 && phase < 1000 ? (int)phase : 0;
    e->data = e->body.data ? e->body.data : "";
    e->len = e->body.len;
    return 1;
}

int cache_check(struct db *d, const unsigned char key[CANON_KEY_LEN], uint64_t *rev, long *age, long *left,
                int *phase_ms, char *err, size_t errlen)
{
    MYSQL_BIND p[1], r[4];
    unsigned long klen = CANON_KEY_LEN;
    long long v = 0, a = 0, l = 0, ph = 0;
    my_bool n_v = 0, n_a = 0, n_l = 0, n_ph = 0;
    db_bind_blob(&p[0], key, &klen);
    db_bind_out_long(&r[0], &v, &n_v);
    db_bind_out_long(&r[1], &a, &n_a);
    db_bind_out_long(&r[2], &l, &n_l);
    db_bind_out_long(&r[3], &ph, &n_ph);
    int has_row = 0;
    if (db_row(d, &SQL_CHECK, p, r, &has_row, err, errlen) < 0)
        return -1;
    if (!has_row)
        return 0;
    *rev = n_v ? 0 : (uint64_t)v;
    *age = a < 0 ? 0 : (long)a;
    *left = (long)l;
    *phase_ms = ph >= 0 && ph < 1000 ? (int)ph : 0;
    return 1;
}

/* A fresh revision for a stored row: random, so that a row deleted and
 * stored again never repeats one; 63 bits to fit a signed binding; never 0. */
static long long new_rev(void)
{
    unsigned long long v = 0;
    if (util_random(&v, sizeof v) < 0)
        v = (unsigned long long)util_now_ms() * 0x9E3779B97F4A7C15ULL ^ (unsigned long long)clock();
    v &= 0x7fffffffffffffffULL;
    return v ? (long long)v : 1;
}

static int cache_store_row(struct db *d, const unsigned char key[CANON_KEY_LEN], const char *request_json,
                           const char *body, size_t len, long status, const char *etag, long ttl,
                           char *err, size_t errlen);

/* For a request of several ids, list each in cache_ids (invalidation by one id). */
static int store_ids(struct db *d, const unsigned char key[CANON_KEY_LEN], const char *ids, char *err, size_t errlen)
{
    static const struct db_stmt SQL_IDS_DEL = DB_STMT("DELETE FROM cache_ids WHERE cache_key = ?");
    static const struct db_stmt SQL_IDS_ADD = DB_STMT("INSERT IGNORE INTO cache_ids (id, cache_key) VALUES (?, ?)");
    MYSQL_BIND p[2];
    unsigned long klen = CANON_KEY_LEN;
    db_bind_blob(&p[0], key, &klen);
    if (db_run(d, &SQL_IDS_DEL, p, err, errlen) < 0)
        return -1;
    const char *s = ids;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n > 0 && n <= 64) {
            char id[65];
            memcpy(id, s, n);
            id[n] = '\0';
            unsigned long ilen = n;
            db_bind_str(&p[0], id, &ilen);
            db_bind_blob(&p[1], key, &klen);
            if (db_run(d, &SQL_IDS_ADD, p, err, errlen) < 0)
                return -1;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    return 0;
}

/* ---- the bound: [cache] max_rows and max_bytes ------------------------------
 *
 * cache_usage's one row keeps the table's rows and response bytes: every
 * store adds what it added, every eviction takes off what it deleted, and
 * ytcache-refresh counts them exactly (cache_usage_recount), correcting what
 * other deletions (purges, expiry) and races between processes left. A store
 * that finds the table over its bound deletes a few of the least recently
 * hit rows at once; so a store costs a primary-key read, an update and a read
 * of that row more, and the eviction an index walk of at most a batch. */

static long bound_rows, bound_bytes;    /* this process's bound; 0 = none */

void cache_bound(long max_rows, long max_bytes)
{
    bound_rows = max_rows > 0 ? max_rows : 0;
    bound_bytes = max_bytes > 0 ? max_bytes : 0;
}

static int bounded(void)
{
    return bound_rows > 0 || bound_bytes > 0;
}

/* Whether the row exists, and the length of its body, before a store replaces it. */
static int old_size(struct db *d, const unsigned char key[CANON_KEY_LEN], int *had, long long *bytes,
                    char *err, size_t errlen)
{
    static const struct db_stmt SQL_SIZE = DB_STMT("SELECT body_bytes FROM cache WHERE cache_key = ?");
    MYSQL_BIND p[1], r[1];
    unsigned long klen = CANON_KEY_LEN;
    my_bool isnull = 0;
    db_bind_blob(&p[0], key, &klen);
    db_bind_out_long(&r[0], bytes, &isnull);
    if (db_row(d, &SQL_SIZE, p, r, had, err, errlen) < 0)
        return -1;
    if (!*had || isnull)
        *bytes = 0;
    return 0;
}

int cache_usage_read(struct db *d, struct cache_usage *u, char *err, size_t errlen)
{
    static const struct db_stmt SQL_USAGE = DB_STMT(
        "SELECT row_count, byte_count, evicted_store, evicted_refresh FROM cache_usage WHERE id = 1");
    MYSQL_BIND r[4];
    my_bool n[4] = { 0 };
    int has_row = 0;
    memset(u, 0, sizeof *u);
    db_bind_out_long(&r[0], &u->rows, &n[0]);
    db_bind_out_long(&r[1], &u->bytes, &n[1]);
    db_bind_out_long(&r[2], &u->evicted_store, &n[2]);
    db_bind_out_long(&r[3], &u->evicted_refresh, &n[3]);
    if (db_row(d, &SQL_USAGE, NULL, r, &has_row, err, errlen) < 0)
        return -1;
    return has_row;
}

int cache_usage_recount(struct db *d, char *err, size_t errlen)
{
    /* a plain read, then the write: a read inside the UPDATE would lock every row it counts */
    static const struct db_stmt SQL_COUNT = DB_STMT(
        "SELECT COUNT(*), COALESCE(SUM(body_bytes), 0) FROM cache");
    static const struct db_stmt SQL_SET = DB_STMT(
        "INSERT INTO cache_usage (id, row_count, byte_count, counted_at) VALUES (1, ?, ?, UTC_TIMESTAMP())"
        " ON DUPLICATE KEY UPDATE row_count = ?, byte_count = ?, counted_at = UTC_TIMESTAMP()");
    MYSQL_BIND p[4], r[2];
    long long rows = 0, bytes = 0;
    my_bool n[2] = { 0 };
    int has_row = 0;
    db_bind_out_long(&r[0], &rows, &n[0]);
    db_bind_out_long(&r[1], &bytes, &n[1]);
    if (db_row(d, &SQL_COUNT, NULL, r, &has_row, err, errlen) < 0)
        return -1;
    db_bind_long(&p[0], &rows);
    db_bind_long(&p[1], &bytes);
    db_bind_long(&p[2], &rows);
    db_bind_long(&p[3], &bytes);
    return db_run(d, &SQL_SET, p, err, errlen);
}

struct victim {
    unsigned char key[CANON_KEY_LEN];
    long long bytes;
};

static int victim_cmp(const void *a, const void *b)
{
    return memcmp(((const struct victim *)a)->key, ((const struct victim *)b)->key, CANON_KEY_LEN);
}

/* Up to `batch` of the least recently hit rows (never hit first, by fetch
 * time; then by last hit), skipping `keep`, enough to cover what is over. */
static long pick_victims(struct db *d, struct victim *v, long batch, const unsigned char *keep,
                         long long over_rows, long long over_bytes, char *err, size_t errlen)
{
    /* an index walk of a few entries: never a scan and a sort of the table */
    static const struct db_stmt SQL_VICTIMS = DB_STMT(
        "SELECT cache_key, body_bytes FROM cache FORCE INDEX (idx_evict)"
        " ORDER BY last_hit_at, fetched_at, cache_key LIMIT ?");
    MYSQL_BIND p[1], r[2];
    long long lim = batch + (keep ? 1 : 0), bytes = 0;
    unsigned char key[CANON_KEY_LEN + 1];     /* room for a terminator the library may add */
    unsigned long klen = 0;
    my_bool n[2] = { 0 };
    db_bind_long(&p[0], &lim);
    db_bind_out_str(&r[0], (char *)key, sizeof key, &klen, &n[0]);
    r[0].buffer_type = MYSQL_TYPE_BLOB;
    db_bind_out_long(&r[1], &bytes, &n[1]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &SQL_VICTIMS, p, r, err, errlen) < 0)
        return -1;
    long got = 0;
    while (got < batch && (over_rows > 0 || over_bytes > 0) && db_rows_next(&rs) == DB_ROW) {
        if (klen != CANON_KEY_LEN || (keep && memcmp(key, keep, CANON_KEY_LEN) == 0))
            continue;
        memcpy(v[got].key, key, CANON_KEY_LEN);
        v[got].bytes = n[1] ? 0 : bytes;
        over_rows--;
        over_bytes -= v[got].bytes;
        got++;
    }
    db_rows_end(&rs);
    return got;
}

/* Delete the victims (in key order, the order hit flushes lock rows in) and
 * take them off the usage row, in one transaction: one commit for the lot. */
static long long delete_victims(struct db *d, struct victim *v, long n, int by_refresh, char *err, size_t errlen)
{
    static const struct db_stmt SQL_EVICT = DB_STMT("DELETE FROM cache WHERE cache_key = ?");
    static const struct db_stmt SQL_EVICTED = DB_STMT(
        "UPDATE cache_usage SET row_count = row_count - ?, byte_count = byte_count - ?,"
        " evicted_store = evicted_store + ?, evicted_refresh = evicted_refresh + ? WHERE id = 1");
    qsort(v, (size_t)n, sizeof *v, victim_cmp);
    if (db_begin(d, err, errlen) < 0)
        return -1;
    long long rows = 0, bytes = 0, zero = 0;
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        MYSQL_BIND p[1];
        unsigned long klen = CANON_KEY_LEN;
        unsigned long long affected = 0;
        db_bind_blob(&p[0], v[i].key, &klen);
        rc = db_run_affected(d, &SQL_EVICT, p, &affected, err, errlen);
        if (rc == 0 && affected) {     /* another process may have deleted it first */
            rows++;
            bytes += v[i].bytes;
        }
    }
    if (rc == 0) {
        MYSQL_BIND p[4];
        db_bind_long(&p[0], &rows);
        db_bind_long(&p[1], &bytes);
        db_bind_long(&p[2], by_refresh ? &zero : &rows);
        db_bind_long(&p[3], by_refresh ? &rows : &zero);
        rc = db_run(d, &SQL_EVICTED, p, err, errlen);
    }
    char err2[UTIL_ERRLEN];
    if (db_end(d, rc == 0, err2, sizeof err2) < 0 && rc == 0) {
        util_copy(err, errlen, err2);
        rc = -1;
    }
    return rc == 0 ? rows : -1;
}

long long cache_evict(struct db *d, long max_rows, long max_bytes, long batch, int by_refresh,
                      const unsigned char *keep, char *err, size_t errlen)
{
    struct cache_usage u;
    int got = cache_usage_read(d, &u, err, errlen);
    if (got <= 0)
        return got;
    long long over_rows = max_rows > 0 ? u.rows - max_rows : 0;
    long long over_bytes = max_bytes > 0 ? u.bytes - max_bytes : 0;
    if ((over_rows <= 0 && over_bytes <= 0) || batch <= 0)
        return 0;
    struct victim *v = calloc((size_t)batch, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    long n = pick_victims(d, v, batch, keep, over_rows, over_bytes, err, errlen);
    long long rc = n <= 0 ? n : delete_victims(d, v, n, by_refresh, err, errlen);
    free(v);
    return rc;
}

/* What a store changed in the usage row, and a batch of evictions if that
 * took the table over its bound. Errors are logged, not the store's: the
 * answer is stored, and ytcache-refresh corrects the count. */
static void after_store(struct db *d, const unsigned char key[CANON_KEY_LEN], long long rows, long long bytes)
{
    static const struct db_stmt SQL_ADD = DB_STMT(
        "UPDATE cache_usage SET row_count = row_count + ?, byte_count = byte_count + ? WHERE id = 1");
    char err[UTIL_ERRLEN];
    MYSQL_BIND p[2];
    db_bind_long(&p[0], &rows);
    db_bind_long(&p[1], &bytes);
    if ((rows || bytes) && db_run(d, &SQL_ADD, p, err, sizeof err) < 0) {
        log_burst(LOG_SLOT_STORE, 10, YLOG_ERROR, "cannot count a store in cache_usage: %s", err);
        return;
    }
    if (cache_evict(d, bound_rows, bound_bytes, CACHE_STORE_EVICT_BATCH, 0, key, err, sizeof err) < 0)
        log_burst(LOG_SLOT_STORE, 10, YLOG_ERROR, "cannot evict from the cache table: %s", err);
}

int cache_store(struct db *d, const unsigned char key[CANON_KEY_LEN], const char *request_json,
                const char *body, size_t len, long status, const char *etag, long ttl,
                const char *ids, char *err, size_t errlen)
{
    /* A statement over the server's max_allowed_packet drops the connection
     * (and every statement prepared on it): such an answer is served but not
     * stored, and said once per process. */
    if (db_connect(d, err, errlen) < 0)
        return -1;
    unsigned long maxp = db_max_packet(d);
    if (len + strlen(request_json) + strlen(etag) + STORE_OVERHEAD > maxp) {
        static int said;
        if (!said) {
            said = 1;
            log_msg(YLOG_WARN, "not storing a %zu-byte answer: over the database's max_allowed_packet (%lu);"
                    " such answers are served but not cached (this is said once)", len, maxp);
        }
        return 1;
    }
    int had_row = 0;
    long long old_bytes = 0;
    if (bounded() && old_size(d, key, &had_row, &old_bytes, err, errlen) < 0)
        return -1;
    int multi = ids && strchr(ids, ',');
    if (multi && db_begin(d, err, errlen) < 0)
        return -1;
    int rc = cache_store_row(d, key, request_json, body, len, status, etag, ttl, err, errlen);
    if (multi) {
        if (rc == 0)
            rc = store_ids(d, key, ids, err, errlen);
        char err2[UTIL_ERRLEN];
        if (db_end(d, rc == 0, err2, sizeof err2) < 0 && rc == 0) {
            util_copy(err, errlen, err2);
            rc = -1;
        }
    }
    if (rc == 0 && bounded())
        after_store(d, key, had_row ? 0 : 1, (long long)len - old_bytes);
    return rc;
}

static int cache_store_row(struct db *d, const unsigned char key[CANON_KEY_LEN], const char *request_json,
                           const char *body, size_t len, long status, const char *etag, long ttl,
                           char *err, size_t errlen)
{
    MYSQL_BIND p[9];
    unsigned long klen = CANON_KEY_LEN, rlen = strlen(request_json), blen = len, elen = strlen(etag);
    long long st = status, t = ttl, rev = new_rev(), size = (long long)len;
    db_bind_blob(&p[0], key, &klen);
    db_bind_str(&p[1], request_json, &rlen);
    db_bind_blob(&p[2], body, &blen);
    db_bind_long(&p[3], &st);
    db_bind_str(&p[4], etag, &elen);
    db_bind_long(&p[5], &t);
    db_bind_long(&p[6], &t);
    db_bind_long(&p[7], &rev);
    db_bind_long(&p[8], &size);
    return db_run(d, &SQL_STORE, p, err, errlen);
}

void cache_hits_add(struct cache_hits *h, const unsigned char key[CANON_KEY_LEN])
{
    for (size_t i = 0; i < h->used; i++)
        if (memcmp(h->key[i], key, CANON_KEY_LEN) == 0) {
            h->count[i]++;
            return;
        }
    if (h->used == CACHE_HIT_SLOTS)
        return;     /* full: the caller flushes before adding more */
    memcpy(h->key[h->used], key, CANON_KEY_LEN);
    h->count[h->used++] = 1;
}

int cache_hits_due(const struct cache_hits *h, long long now_ms)
{
    return h->used > 0 && (h->used == CACHE_HIT_SLOTS || now_ms - h->last_flush_ms >= 1000);
}

int cache_hits_flush(struct db *d, struct cache_hits *h, char *err, size_t errlen)
{
    int rc = 0;
    h->last_flush_ms = util_now_ms();
    if (!h->used)
        return 0;
    if (db_begin(d, err, errlen) < 0) {
        h->used = 0;
        return -1;
    }
    /* every worker updates rows in key order, so concurrent flushes cannot deadlock */
    size_t order[CACHE_HIT_SLOTS];
    for (size_t i = 0; i < h->used; i++) {
        size_t j = i;
        while (j > 0 && memcmp(h->key[order[j - 1]], h->key[i], CANON_KEY_LEN) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t k = 0; k < h->used && rc == 0; k++) {
        size_t i = order[k];
        MYSQL_BIND p[3];
        unsigned long klen = CANON_KEY_LEN;
        long long n = (long long)h->count[i];
        db_bind_long(&p[0], &n);
        db_bind_long(&p[1], &n);
        db_bind_blob(&p[2], h->key[i], &klen);
        rc = db_run(d, &SQL_HIT, p, err, errlen);
    }
    if (db_end(d, rc == 0, err, errlen) < 0)
        rc = -1;
    if (rc == 0) {
        /* today's answers from cache, for the quota-saved figure in stats */
        static const struct db_stmt SQL_COUNT = DB_STMT(
            "INSERT INTO daily_counters (day, name, value) VALUES (?, 'hits', ?)"
            " ON DUPLICATE KEY UPDATE value = value + ?");
        char day[11];
        long long total = 0;
        for (size_t i = 0; i < h->used; i++)
            total += (long long)h->count[i];
        util_pacific_date(time(NULL), day);
        MYSQL_BIND p[3];
        unsigned long dlen = strlen(day);
        db_bind_str(&p[0], day, &dlen);
        db_bind_long(&p[1], &total);
        db_bind_long(&p[2], &total);
        if (db_run(d, &SQL_COUNT, p, err, errlen) < 0)
            rc = -1;
    }
    h->used = 0;
    return rc;
}

static void lock_name(const unsigned char key[CANON_KEY_LEN], char out[48])
{
    memcpy(out, "ytcache:", 8);
    util_hex(key, 16, out + 8);     /* 32 hex digits + NUL: 41 bytes in all */
}

int cache_lock(struct db *d, const unsigned char key[CANON_KEY_LEN], long wait_ms, char *err, size_t errlen)
{
    char name[48];
    lock_name(key, name);
    return cache_lock_named(d, name, wait_ms, err, errlen);
}

int cache_lock_named(struct db *d, const char *name, long wait_ms, char *err, size_t errlen)
{
    return db_lock(d, name, wait_ms, err, errlen);
}

int cache_unlock(struct db *d, const unsigned char key[CANON_KEY_LEN], char *err, size_t errlen)
{
    char name[48];
    lock_name(key, name);
    return cache_unlock_named(d, name, err, errlen);
}

int cache_unlock_named(struct db *d, const char *name, char *err, size_t errlen)
{
    return db_unlock(d, name, err, errlen);
}

long long cache_purge_expired(struct db *d, long grace_secs, char *err, size_t errlen)
{
    MYSQL_BIND p[1];
    long long g = grace_secs;
    unsigned long long n = 0;
    db_bind_long(&p[0], &g);
    if (db_run_affected(d, &SQL_PURGE_EXPIRED, p, &n, err, errlen) < 0)
        return -1;
    return (long long)n;
}

long long cache_purge_endpoint(struct db *d, const char *endpoint, char *err, size_t errlen)
{
    return db_run_str(d, &SQL_PURGE_ENDPOINT, endpoint, err, errlen);
}

long long cache_purge_all(struct db *d, char *err, size_t errlen)
{
    unsigned long long n = 0;
    if (db_run_affected(d, &SQL_PURGE_ALL, NULL, &n, err, errlen) < 0)
        return -1;
    return (long long)n;
}

void cache_entry_free(struct cache_entry *e)
{
    buf_free(&e->body);
}
