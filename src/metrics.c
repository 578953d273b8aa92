/* metrics: counters shared by every worker process through a mapped file, and the Prometheus text page. */
#include "metrics.h"
#include "access.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "outage.h"
#include "quota.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const route_names[MR__COUNT] = { "api", "compat", "health", "metrics", "websub", "other" };
static const char *const cache_names[MC__COUNT] = { "HIT", "MISS", "STALE", "BYPASS", "NONE" };
static const double buckets[] = { 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
/* The reasons ytcache itself answers with; anything else counts as "other". */
static const char *const reasons[] = {
    "invalidParameter", "unknownParameter", "missingParameter", "invalidFilters", "oauthNotSupported",
    "notFound", "methodNotAllowed", "requestTooLarge", "uriTooLong", "forbidden",
    "quotaExhausted", "budgetExhausted", "rateLimited", "apiKeyRejected", "clientQuotaExceeded",
    "upstreamUnavailable", "databaseUnavailable", "upstreamError", "upstreamUnreachable",
    "upstreamTimeout", "internalError", "noApiKey", "invalidRequest", "upstreamTooLarge", "upstreamKeyEcho",
    "notCacheable", "notServed", "schemaMigrating", "schemaMissing", "other",
};
#define NREASONS (sizeof reasons / sizeof reasons[0])

static const char *const hot_names[MH__COUNT] = { "memory", "checked", "reread" };

static const char *const websub_kinds[] = { "verified", "bad_signature", "unknown_topic", "malformed",
                                             "oversize", "intent_verified", "intent_refused", "invalidated_rows" };
#define NWEBSUB (sizeof websub_kinds / sizeof websub_kinds[0])

#define MAGIC 0x5954434d45545234ULL   /* "YTCMETR4" */

struct shm {
    uint64_t magic;
    uint64_t size;
    uint64_t requests[MR__COUNT][MC__COUNT];
    uint64_t upstream[UP__COUNT];
    uint64_t latency_bucket[NBUCKETS];
    uint64_t latency_count;
    uint64_t latency_sum_us;
    uint64_t stale;
    uint64_t errors[NREASONS];
    uint64_t websub[NWEBSUB];
    uint64_t hot[MH__COUNT];
    uint64_t access[AR__COUNT];
    /* not a counter: what this host may still spend while the database is
     * down, changed only under metrics_outage_lock */
    struct outage outage;
};

static struct shm local;          /* used when the shared file cannot be had */
static struct shm *m = &local;
static int shm_fd = -1;           /* the mapped file, kept open for flock */

static void add(uint64_t *v, uint64_t n)
{
    __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* The default's directory, /dev/shm/ytcache-UID (/tmp without /dev/shm):
 * made 0700, and used only if it is a real directory of ours that no one
 * else can write, so no one can plant a file or a symlink in it. */
static int private_dir(char *dir, size_t len, char *err, size_t errlen)
{
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, len, "%s/ytcache-%ld", base, (long)getuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "metrics directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "metrics directory %s: %s", dir, errno == ENOTDIR || errno == ELOOP ?
                 "not a directory (a symlink?), refused" : strerror(errno));
        return -1;
    }
    if (fstat(dfd, &st) < 0) {
        snprintf(err, errlen, "metrics directory %s: %s", dir, strerror(errno));
        close(dfd);
        return -1;
    }
    if (st.st_uid != getuid() || (st.st_mode & 022)) {
        snprintf(err, errlen, "metrics directory %s: not ours alone (owner %ld, mode %03o), refused", dir,
                 (long)st.st_uid, (unsigned)(st.st_mode & 0777));
        close(dfd);
        return -1;
    }
    return dfd;
}

/* Create the file, or use an existing one only if it is a regular file of
 * ours that no one else can write: the counters are mapped shared, and a
 * symlink or someone else's file would let them be read or forged. */
static int open_file(int dfd, const char *name, const char *path, char *err, size_t errlen)
{
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "metrics file %s: %s", path, errno == ELOOP ? "a symlink, refused" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "metrics file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) {
        snprintf(err, errlen, "metrics file %s: not a regular file of ours that only we can write "
                 "(owner %ld, mode %03o), refused", path, (long)st.st_uid, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    return fd;
}

int metrics_open(const struct conf *c, char *err, size_t errlen)
{
    char path[1100], name[64];
    int dfd = AT_FDCWD;
    const char *base = path;
    if (c->metrics_file && *c->metrics_file) {
        util_copy(path, sizeof path, c->metrics_file);
    } else {
        /* one file per user and configuration, where shared memory lives */
        unsigned char h[UTIL_SHA256_LEN];
        char hex[17], dir[64];
        util_sha256(c->path, strlen(c->path), h);
        util_hex(h, 8, hex);
        if ((dfd = private_dir(dir, sizeof dir, err, errlen)) < 0)
            return -1;
        snprintf(name, sizeof name, "metrics-%s", hex);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        base = name;
    }
    int fd = open_file(dfd, base, path, err, errlen);
    if (dfd != AT_FDCWD)
        close(dfd);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || (st.st_size != (off_t)sizeof(struct shm) && ftruncate(fd, sizeof(struct shm)) < 0)) {
        snprintf(err, errlen, "metrics file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "metrics file %s: mmap: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (shm_fd >= 0)
        close(shm_fd);
    shm_fd = fd;
    struct shm *s = p;
    /* a file from another layout starts over; a fresh file is all zeros */
    if (s->magic != MAGIC || s->size != sizeof(struct shm)) {
        memset(s, 0, sizeof *s);
        s->size = sizeof(struct shm);
        __atomic_store_n(&s->magic, MAGIC, __ATOMIC_RELEASE);
    }
    m = s;
    return 0;
}

struct outage *metrics_outage_lock(void)
{
    /* flock, not a mutex in the mapping: a process killed holding it lets go */
    while (shm_fd >= 0 && flock(shm_fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    return &m->outage;
}

void metrics_outage_unlock(void)
{
    if (shm_fd >= 0)
        flock(shm_fd, LOCK_UN);
}

int metrics_outage_pending(void)
{
    /* unlocked and so only a hint: the flush looks again under the lock */
    return __atomic_load_n(&m->outage.n_tallies, __ATOMIC_RELAXED) > 0 ||
           __atomic_load_n(&m->outage.lost_units, __ATOMIC_RELAXED) > 0;
}

void metrics_request(enum metrics_route route, enum metrics_cache cache)
{
    if ((unsigned)route < MR__COUNT && (unsigned)cache < MC__COUNT)
        add(&m->requests[route][cache], 1);
}

void metrics_upstream(enum up_class cls, double seconds)
{
    if ((unsigned)cls >= UP__COUNT)
        return;
    add(&m->upstream[cls], 1);
    if (up_outcome(cls)->decided)
        return;     /* no call: no latency */
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i])
            add(&m->latency_bucket[i], 1);
    add(&m->latency_count, 1);
    add(&m->latency_sum_us, (uint64_t)(seconds * 1e6));
}

void metrics_hot(enum metrics_hot kind)
{
    if ((unsigned)kind < MH__COUNT)
        add(&m->hot[kind], 1);
}

void metrics_stale(void)
{
    add(&m->stale, 1);
}

void metrics_error(const char *reason)
{
    size_t i;
    for (i = 0; i < NREASONS - 1; i++)
        if (reason && strcmp(reason, reasons[i]) == 0)
            break;
    add(&m->errors[i], 1);
}

void metrics_access(int rule)
{
    if (rule >= 0 && rule < AR__COUNT)
        add(&m->access[rule], 1);
}

void metrics_websub(const char *kind, unsigned long long n)
{
    for (size_t i = 0; i < NWEBSUB; i++)
        if (strcmp(kind, websub_kinds[i]) == 0)
            add(&m->websub[i], n);
}

/* Label values: backslash, quote and newline escaped, as the format asks. */
static void label_value(buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_appendf(b, "\\%c", *s);
        else if (*s == '\n')
            buf_appends(b, "\\n");
        else
            buf_append(b, s, 1);
    }
}

/* Units used and left today per key and bucket. */
static void quota_gauges(struct db *d, const struct conf *c, buf_t *b)
{
    char err[UTIL_ERRLEN];
    char day[11];
    util_pacific_date(time(NULL), day);
    unsigned long dlen = strlen(day);

    /* units per key and bucket, today */
    static const struct db_stmt q_units = DB_STMT(
        "SELECT k.label, ku.bucket, ku.used, ku.exhausted FROM api_keys k"
        " JOIN key_usage ku ON ku.key_id = k.id AND ku.day = ? ORDER BY k.label, ku.bucket");
    MYSQL_BIND p[1];
    db_bind_str(&p[0], day, &dlen);
    char label[65], bucket[33];
    unsigned long l1 = 0, l2 = 0;
    long long used = 0, exhausted = 0;
    my_bool nu[4] = { 0 };
    MYSQL_BIND ru[4];
    db_bind_out_str(&ru[0], label, sizeof label - 1, &l1, &nu[0]);
    db_bind_out_str(&ru[1], bucket, sizeof bucket - 1, &l2, &nu[1]);
    db_bind_out_long(&ru[2], &used, &nu[2]);
    db_bind_out_long(&ru[3], &exhausted, &nu[3]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &q_units, p, ru, err, sizeof err) == 0) {
        buf_t used_lines = { 0 }, left_lines = { 0 };
        while (db_rows_next(&rs) == DB_ROW) {
            label[l1 < sizeof label ? l1 : sizeof label - 1] = '\0';
            bucket[l2 < sizeof bucket ? l2 : sizeof bucket - 1] = '\0';
            const struct quota_bucket *qb = conf_bucket(c, bucket);
            long long left = !qb || exhausted != QUOTA_ROW_OPEN || qb->limit < used ? 0 : qb->limit - used;
            buf_appends(&used_lines, "ytcache_quota_units_used{key=\"");
            label_value(&used_lines, label);
            buf_appends(&used_lines, "\",bucket=\"");
            label_value(&used_lines, bucket);
            buf_appendf(&used_lines, "\"} %lld\n", used);
            buf_appends(&left_lines, "ytcache_quota_units_left{key=\"");
            label_value(&left_lines, label);
            buf_appends(&left_lines, "\",bucket=\"");
            label_value(&left_lines, bucket);
            buf_appendf(&left_lines, "\"} %lld\n", left);
        }
        buf_appends(b, "# HELP ytcache_quota_units_used Units spent today (Pacific day) per key and bucket.\n"
                       "# TYPE ytcache_quota_units_used gauge\n");
        if (used_lines.len)
            buf_append(b, used_lines.data, used_lines.len);
        buf_appends(b, "# HELP ytcache_quota_units_left Units left today per key and bucket.\n"
                       "# TYPE ytcache_quota_units_left gauge\n");
        if (left_lines.len)
            buf_append(b, left_lines.data, left_lines.len);
        buf_free(&used_lines);
        buf_free(&left_lines);
        db_rows_end(&rs);
    }
}

/* Rows and bytes of the cache table, and the shared breaker. One pass over
 * the table and its stored sizes (body_bytes), not over the bodies. */
static void table_gauges(struct db *d, buf_t *b)
{
    char err[UTIL_ERRLEN];
    struct db_rows rs;
    static const struct db_stmt q_misc = DB_STMT(
        "SELECT (SELECT COUNT(*) FROM cache), (SELECT COALESCE(SUM(body_bytes), 0) FROM cache),"
        " COALESCE((SELECT state FROM breaker WHERE name = 'upstream'), 0),"
        " COALESCE((SELECT failures FROM breaker WHERE name = 'upstream'), 0)");
    long long rows = 0, bytes = 0, state = 0, failures = 0;
    my_bool n[4] = { 0 };
    MYSQL_BIND r[4];
    db_bind_out_long(&r[0], &rows, &n[0]);
    db_bind_out_long(&r[1], &bytes, &n[1]);
    db_bind_out_long(&r[2], &state, &n[2]);
    db_bind_out_long(&r[3], &failures, &n[3]);
    int got = db_rows_begin(&rs, d, &q_misc, NULL, r, err, sizeof err);
    if (got == 0 && db_rows_next(&rs) == DB_ROW) {
        buf_appendf(b, "# HELP ytcache_cache_rows Rows in the cache table.\n# TYPE ytcache_cache_rows gauge\n"
                       "ytcache_cache_rows %lld\n", rows);
        buf_appendf(b, "# HELP ytcache_cache_bytes Bytes of stored responses.\n# TYPE ytcache_cache_bytes gauge\n"
                       "ytcache_cache_bytes %lld\n", bytes);
        buf_appendf(b, "# HELP ytcache_breaker_state Upstream circuit breaker: 0 closed, 1 open, 2 half-open.\n"
                       "# TYPE ytcache_breaker_state gauge\nytcache_breaker_state %lld\n", state);
        buf_appendf(b, "# HELP ytcache_breaker_failures Consecutive upstream failures counted by the breaker.\n"
                       "# TYPE ytcache_breaker_failures gauge\nytcache_breaker_failures %lld\n", failures);
    }
    if (got == 0)
        db_rows_end(&rs);
}

/* Rows evicted to keep the cache table within [cache] max_rows / max_bytes,
 * by stores and by ytcache-refresh: counted in the database (cache_usage),
 * so every host and the refresher, whatever its metrics file, add to them. */
static void eviction_counters(struct db *d, buf_t *b)
{
    static const struct db_stmt q_evicted = DB_STMT(
        "SELECT evicted_store, evicted_refresh FROM cache_usage WHERE id = 1");
    char err[UTIL_ERRLEN];
    long long by_store = 0, by_refresh = 0;
    my_bool n[2] = { 0 };
    MYSQL_BIND r[2];
    int has_row = 0;
    db_bind_out_long(&r[0], &by_store, &n[0]);
    db_bind_out_long(&r[1], &by_refresh, &n[1]);
    if (db_row(d, &q_evicted, NULL, r, &has_row, err, sizeof err) < 0)
        return;
    buf_appendf(b, "# HELP ytcache_cache_evictions_total Least recently hit rows deleted to keep the cache table"
                   " within max_rows and max_bytes, by who deleted them.\n"
                   "# TYPE ytcache_cache_evictions_total counter\n"
                   "ytcache_cache_evictions_total{by=\"store\"} %lld\n"
                   "ytcache_cache_evictions_total{by=\"refresh\"} %lld\n", by_store, by_refresh);
}

static void db_gauges(struct db *d, const struct conf *c, buf_t *b)
{
    char err[UTIL_ERRLEN];
    int up = db_connect(d, err, sizeof err) == 0;
    buf_appends(b, "# HELP ytcache_database_up Whether the cache database answered this scrape.\n"
                   "# TYPE ytcache_database_up gauge\n");
    buf_appendf(b, "ytcache_database_up %d\n", up);
    if (!up)
        return;
    quota_gauges(d, c, b);
    table_gauges(d, b);
    eviction_counters(d, b);
}

/* One sample per name of a counter with one label: NAME{LABEL="names[i]"} vals[i]. */
static void counter_family(buf_t *b, const char *name, const char *label, const char *const *names,
                           const uint64_t *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_appendf(b, "%s{%s=\"%s\"} %llu\n", name, label, names[i], (unsigned long long)get(&vals[i]));
}

int metrics_render(struct db *d, const struct conf *c, buf_t *b)
{
    buf_reset(b);
    buf_appends(b, "# HELP ytcache_requests_total Requests answered, by route and cache result.\n"
                   "# TYPE ytcache_requests_total counter\n");
    for (int i = 0; i < MR__COUNT; i++)
        for (int j = 0; j < MC__COUNT; j++)
            buf_appendf(b, "ytcache_requests_total{route=\"%s\",cache=\"%s\"} %llu\n", route_names[i],
                        cache_names[j], (unsigned long long)get(&m->requests[i][j]));
    buf_appends(b, "# HELP ytcache_upstream_calls_total Upstream outcomes, including calls refused before "
                   "being made (no_quota, breaker_open, ...).\n# TYPE ytcache_upstream_calls_total counter\n");
    for (int i = 0; i < (int)UP__COUNT; i++)
        buf_appendf(b, "ytcache_upstream_calls_total{class=\"%s\"} %llu\n", up_outcome((enum up_class)i)->label,
                    (unsigned long long)get(&m->upstream[i]));
    buf_appends(b, "# HELP ytcache_upstream_duration_seconds Time of upstream calls.\n"
                   "# TYPE ytcache_upstream_duration_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        buf_appendf(b, "ytcache_upstream_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                    (unsigned long long)get(&m->latency_bucket[i]));
    unsigned long long count = get(&m->latency_count);
    buf_appendf(b, "ytcache_upstream_duration_seconds_bucket{le=\"+Inf\"} %llu\n", count);
    buf_appendf(b, "ytcache_upstream_duration_seconds_sum %.6f\n", (double)get(&m->latency_sum_us) / 1e6);
    buf_appendf(b, "ytcache_upstream_duration_seconds_count %llu\n", count);
    buf_appendf(b, "# HELP ytcache_stale_served_total Expired copies served (stale-while-revalidate, "
                   "stale-if-error).\n# TYPE ytcache_stale_served_total counter\nytcache_stale_served_total %llu\n",
                (unsigned long long)get(&m->stale));
    buf_appends(b, "# HELP ytcache_hot_lookups_total Cache lookups that found a copy in a worker's memory: served "
                   "without the database (memory), after the database confirmed its revision (checked), or "
                   "read again because the row had changed or gone (reread).\n"
                   "# TYPE ytcache_hot_lookups_total counter\n");
    counter_family(b, "ytcache_hot_lookups_total", "result", hot_names, m->hot, MH__COUNT);
    buf_appends(b, "# HELP ytcache_errors_total Error answers made by ytcache, by reason.\n"
                   "# TYPE ytcache_errors_total counter\n");
    counter_family(b, "ytcache_errors_total", "reason", reasons, m->errors, NREASONS);
    const char *rules[AR__COUNT];
    for (size_t i = 0; i < AR__COUNT; i++)
        rules[i] = access_rule_name(i);
    buf_appends(b, "# HELP ytcache_access_refused_total Requests refused by [access], by the rule that refused "
                   "them.\n# TYPE ytcache_access_refused_total counter\n");
    counter_family(b, "ytcache_access_refused_total", "rule", rules, m->access, AR__COUNT);
    buf_appends(b, "# HELP ytcache_websub_notifications_total WebSub notifications and intent checks, by outcome.\n"
                   "# TYPE ytcache_websub_notifications_total counter\n");
    for (size_t i = 0; i + 1 < NWEBSUB; i++)
        buf_appendf(b, "ytcache_websub_notifications_total{result=\"%s\"} %llu\n", websub_kinds[i],
                    (unsigned long long)get(&m->websub[i]));
    buf_appendf(b, "# HELP ytcache_websub_invalidated_rows_total Cache rows expired by WebSub notifications.\n"
                   "# TYPE ytcache_websub_invalidated_rows_total counter\nytcache_websub_invalidated_rows_total %llu\n",
                (unsigned long long)get(&m->websub[NWEBSUB - 1]));
    db_gauges(d, c, b);
    return b->data ? 0 : -1;
}

/* addr matches an exact entry, or an IPv4 a.b.c.d/n entry */
static int addr_match(const char *entry, const char *addr)
{
    const char *slash = strchr(entry, '/');
    if (!slash)
        return strcmp(entry, addr) == 0;
    char net[64];
    size_t n = (size_t)(slash - entry);
    long bits;
    if (n >= sizeof net || util_parse_long(slash + 1, 0, 32, &bits) < 0)
        return 0;
    memcpy(net, entry, n);
    net[n] = '\0';
    struct in_addr a, b;
    if (inet_pton(AF_INET, net, &a) != 1 || inet_pton(AF_INET, addr, &b) != 1)
        return 0;
    uint32_t mask = bits == 0 ? 0 : htonl(0xFFFFFFFFu << (32 - bits));
    return (a.s_addr & mask) == (b.s_addr & mask);
}

int metrics_allowed(const struct conf *c, const char *addr)
{
    if (!addr)
        return 0;
    for (size_t i = 0; i < c->n_metrics_allow; i++)
        if (addr_match(c->metrics_allow[i], addr))
            return 1;
    return 0;
}
