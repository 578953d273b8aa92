/* quota: the key pool in the database and exact per-key, per-bucket, per-Pacific-day accounting. */
#include "quota.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* the row states of quota.h, as SQL text */
#define ROW_OPEN UTIL_STR(QUOTA_ROW_OPEN)
#define ROW_EXHAUSTED UTIL_STR(QUOTA_ROW_EXHAUSTED)
#define ROW_DISABLED UTIL_STR(QUOTA_ROW_DISABLED)

/* Picks the least-used key that still has room and charges it, in one
 * statement, so concurrent processes can never overspend; LAST_INSERT_ID(expr)
 * hands back which key it was. */
static const struct db_stmt SQL_RESERVE = DB_STMT(
    "UPDATE key_usage SET used = used + ?, calls = calls + 1, key_id = LAST_INSERT_ID(key_id)"
    " WHERE bucket = ? AND day = ? AND exhausted = " ROW_OPEN " AND used + ? <= ?"
    " ORDER BY used, key_id LIMIT 1");
/* rotate_on_quota = no: the pool is failover, not extra quota (YouTube's
 * developer policies: one API client, one project). Only the primary, the
 * first key in pool order that is not disabled, is charged; an exhausted
 * primary means the pool is exhausted. */
static const struct db_stmt SQL_PRIMARY = DB_STMT(
    "SELECT COALESCE(MIN(key_id), 0) FROM key_usage WHERE bucket = ? AND day = ? AND exhausted <> " ROW_DISABLED);
static const struct db_stmt SQL_RESERVE_PRIMARY = DB_STMT(
    "UPDATE key_usage SET used = used + ?, calls = calls + 1, key_id = LAST_INSERT_ID(key_id)"
    " WHERE bucket = ? AND day = ? AND exhausted = " ROW_OPEN " AND used + ? <= ? AND key_id = ?");
static const struct db_stmt SQL_NEW_DAY = DB_STMT(
    "INSERT IGNORE INTO key_usage (key_id, bucket, day) SELECT id, ?, ? FROM api_keys WHERE state = 'active'");
static const struct db_stmt SQL_SECRET = DB_STMT(
    "SELECT secret, label FROM api_keys WHERE id = ? AND state = 'active'");
static const struct db_stmt SQL_REFUND = DB_STMT(
    "UPDATE key_usage SET used = GREATEST(used, ?) - ?, calls = GREATEST(calls, 1) - 1"
    " WHERE key_id = ? AND bucket = ? AND day = ?");
static const struct db_stmt SQL_EXHAUST = DB_STMT(
    "UPDATE key_usage SET exhausted = " ROW_EXHAUSTED
    " WHERE key_id = ? AND bucket = ? AND day = ? AND exhausted = " ROW_OPEN);
static const struct db_stmt SQL_DISABLE = DB_STMT(
    "UPDATE api_keys SET state = 'disabled', disabled_reason = ?, last_error = ?, last_error_at = UTC_TIMESTAMP()"
    " WHERE id = ?");
static const struct db_stmt SQL_DISABLE_USAGE = DB_STMT(
    "UPDATE key_usage SET exhausted = " ROW_DISABLED " WHERE key_id = ? AND exhausted = " ROW_OPEN);
static const struct db_stmt SQL_BUDGET = DB_STMT(
    "UPDATE budget_usage SET used = used + ? WHERE bucket = ? AND region = ? AND day = ? AND used + ? <= ?");
static const struct db_stmt SQL_BUDGET_NEW = DB_STMT(
    "INSERT IGNORE INTO budget_usage (bucket, region, day) VALUES (?, ?, ?)");
static const struct db_stmt SQL_BUDGET_REFUND = DB_STMT(
    "UPDATE budget_usage SET used = GREATEST(used, ?) - ? WHERE bucket = ? AND region = ? AND day = ?");
static const struct db_stmt SQL_SYNC_ADD = DB_STMT(
    "INSERT IGNORE INTO api_keys (label, secret, fingerprint, source, state, created_at)"
    " VALUES (?, ?, ?, 'config', 'active', UTC_TIMESTAMP())");
/* a config key that comes back into the file is used again (an invalid one stays off) */
static const struct db_stmt SQL_SYNC_BACK = DB_STMT(
    "UPDATE api_keys SET state = 'active', disabled_reason = NULL"
    " WHERE fingerprint = ? AND source = 'config' AND state = 'disabled'"
    " AND disabled_reason = 'removed from the configuration file'");
static const struct db_stmt SQL_SYNC_BACK_USAGE = DB_STMT(
    "UPDATE key_usage ku JOIN api_keys k ON k.id = ku.key_id SET ku.exhausted = " ROW_OPEN
    " WHERE k.fingerprint = ? AND k.state = 'active' AND ku.exhausted = " ROW_DISABLED);
static const struct db_stmt SQL_SYNC_LIST = DB_STMT(
    "SELECT id, fingerprint FROM api_keys WHERE source = 'config' AND state = 'active'");

void quota_fingerprint(const char *secret, char out[17])
{
    unsigned char h[UTIL_SHA256_LEN];
    util_sha256(secret, strlen(secret), h);
    util_hex(h, 8, out);
}

/* bind helpers for the recurring (bucket, day) pair */
struct sbind {
    unsigned long len;
};

static void bind_s(MYSQL_BIND *b, const char *s, struct sbind *l)
{
    l->len = strlen(s);
    db_bind_str(b, s, &l->len);
}

static int disable_key(struct db *d, long key_id, const char *label, const char *reason, char *err, size_t errlen)
{
    MYSQL_BIND p[3];
    struct sbind l1, l2;
    long long id = key_id;
    bind_s(&p[0], reason, &l1);
    bind_s(&p[1], reason, &l2);
    db_bind_long(&p[2], &id);
    if (db_run(d, &SQL_DISABLE, p, err, errlen) < 0)
        return -1;
    MYSQL_BIND q[1];
    db_bind_long(&q[0], &id);
    if (db_run(d, &SQL_DISABLE_USAGE, q, err, errlen) < 0)
        return -1;
    log_msg(YLOG_ERROR, "key %s disabled: %s", label, reason);
    return 0;
}

int quota_prime_day(struct db *d, const struct conf *c, char *err, size_t errlen)
{
    char day[11];
    util_pacific_date(time(NULL), day);
    for (size_t i = 0; i < c->n_buckets; i++) {
        MYSQL_BIND q[2];
        struct sbind l1, l2;
        bind_s(&q[0], c->buckets[i].name, &l1);
        bind_s(&q[1], day, &l2);
        if (db_run(d, &SQL_NEW_DAY, q, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int quota_sync_keys(struct db *d, const struct conf *c, char *err, size_t errlen)
{
    char fps[CONF_MAX_LIST][17];
    for (size_t i = 0; i < c->n_keys; i++) {
        char label[32];
        quota_fingerprint(c->keys[i], fps[i]);
        snprintf(label, sizeof label, "config-%.8s", fps[i]);
        MYSQL_BIND p[3];
        struct sbind l1, l2, l3;
        bind_s(&p[0], label, &l1);
        bind_s(&p[1], c->keys[i], &l2);
        bind_s(&p[2], fps[i], &l3);
        if (db_run(d, &SQL_SYNC_ADD, p, err, errlen) < 0)
            return -1;
        unsigned long long back = 0;
        if (db_run_affected(d, &SQL_SYNC_BACK, &p[2], &back, err, errlen) < 0)
            return -1;
        if (back && db_run(d, &SQL_SYNC_BACK_USAGE, &p[2], err, errlen) < 0)
            return -1;
        if (back)
            log_msg(YLOG_INFO, "key %s is back in the configuration file: enabled", label);
    }
    /* config keys that left the file stop being used */
    long long id = 0;
    char fp[17];
    unsigned long fplen = 0;
    my_bool n1 = 0, n2 = 0;
    MYSQL_BIND r[2];
    db_bind_out_long(&r[0], &id, &n1);
    db_bind_out_str(&r[1], fp, sizeof fp - 1, &fplen, &n2);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &SQL_SYNC_LIST, NULL, r, err, errlen) < 0)
        return -1;
    long gone[64];
    size_t ngone = 0;
    while (db_rows_next(&rs) == DB_ROW) {
        fp[fplen < 16 ? fplen : 16] = '\0';
        int present = 0;
        for (size_t i = 0; i < c->n_keys; i++)
            if (strcmp(fps[i], fp) == 0)
                present = 1;
        if (!present && ngone < sizeof gone / sizeof gone[0])
            gone[ngone++] = (long)id;
    }
    db_rows_end(&rs);
    for (size_t i = 0; i < ngone; i++) {
        char label[32];
        snprintf(label, sizeof label, "#%ld", gone[i]);
        if (disable_key(d, gone[i], label, "removed from the configuration file", err, errlen) < 0)
            return -1;
    }
    /* a key new to the pool gets today's rows now, so it is picked at once */
    return quota_prime_day(d, c, err, errlen);
}

/* Charge a region budget; 1 charged, 0 over budget, -1 error. */
static int budget_take(struct db *d, const char *bucket, const char *region, const char *day, long units,
                       long budget, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL_BIND p[6];
        struct sbind l1, l2, l3;
        long long u = units, b = budget;
        unsigned long long affected = 0;
        db_bind_long(&p[0], &u);
        bind_s(&p[1], bucket, &l1);
        bind_s(&p[2], region, &l2);
        bind_s(&p[3], day, &l3);
        db_bind_long(&p[4], &u);
        db_bind_long(&p[5], &b);
        if (db_run_affected(d, &SQL_BUDGET, p, &affected, err, errlen) < 0)
            return -1;
        if (affected == 1)
            return 1;
        if (attempt == 1)
            break;
        MYSQL_BIND q[3];
        bind_s(&q[0], bucket, &l1);
        bind_s(&q[1], region, &l2);
        bind_s(&q[2], day, &l3);
        /* a row made by another process just now counts too: always try again */
        if (db_run_affected(d, &SQL_BUDGET_NEW, q, &affected, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static void budget_refund(struct db *d, const struct quota_grant *g)
{
    char err[UTIL_ERRLEN];
    MYSQL_BIND p[5];
    struct sbind l1, l2, l3;
    long long u = g->units;
    db_bind_long(&p[0], &u);
    db_bind_long(&p[1], &u);
    bind_s(&p[2], g->bucket, &l1);
    bind_s(&p[3], g->region, &l2);
    bind_s(&p[4], g->day, &l3);
    if (db_run(d, &SQL_BUDGET_REFUND, p, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "budget refund: %s", err);
}

/* The primary's id (0: no row today) into *id; 0 or -1. */
static int primary_key(struct db *d, const struct quota_grant *g, long long *id, char *err, size_t errlen)
{
    MYSQL_BIND p[2], r[1];
    struct sbind l1, l2;
    int has_row = 0;
    bind_s(&p[0], g->bucket, &l1);
    bind_s(&p[1], g->day, &l2);
    db_bind_long(&r[0], id);
    *id = 0;
    return db_row(d, &SQL_PRIMARY, p, r, &has_row, err, errlen);
}

/* One key reservation; 1 granted (g->key_id set), 0 none, -1 error. */
static int reserve_key(struct db *d, struct quota_grant *g, long limit, int rotate, char *err, size_t errlen)
{
    const struct db_stmt *s = rotate ? &SQL_RESERVE : &SQL_RESERVE_PRIMARY;
    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL_BIND p[6];
        struct sbind l1, l2;
        long long u = g->units, lim = limit, primary = 0;
        unsigned long long affected = 0;
        if (!rotate && primary_key(d, g, &primary, err, errlen) < 0)
            return -1;
        db_bind_long(&p[0], &u);
        bind_s(&p[1], g->bucket, &l1);
        bind_s(&p[2], g->day, &l2);
        db_bind_long(&p[3], &u);
        db_bind_long(&p[4], &lim);
        db_bind_long(&p[5], &primary);
        if ((rotate || primary) && db_run_affected(d, s, p, &affected, err, errlen) < 0)
            return -1;
        if (affected == 1) {
            g->key_id = (long)db_last_insert_id(d, s);
            return 1;
        }
        if (!rotate && primary)
            break;     /* the primary has no room: the pool has none */
        if (attempt == 1)
            break;
        /* first call of a Pacific day (or a new key): create today's rows */
        MYSQL_BIND q[2];
        bind_s(&q[0], g->bucket, &l1);
        bind_s(&q[1], g->day, &l2);
        if (db_run_affected(d, &SQL_NEW_DAY, q, &affected, err, errlen) < 0)
            return -1;
    }
    return 0;
}

enum quota_status quota_reserve(struct db *d, const struct conf *c, const char *resource,
                                const char *region, int refresher, struct quota_grant *g,
                                char *err, size_t errlen)
{
    const char *bucket;
    memset(g, 0, sizeof *g);
    conf_cost_for(c, resource, &bucket, &g->units);
    util_copy(g->bucket, sizeof g->bucket, bucket);
    util_pacific_date(time(NULL), g->day);
    const struct quota_bucket *b = conf_bucket(c, bucket);
    long limit = b->limit - (refresher ? 0 : b->reserve);
    long budget = conf_budget_for(c, bucket, region);
    if (budget >= 0) {
        int got = budget_take(d, bucket, region, g->day, g->units, budget, err, errlen);
        if (got < 0)
            return QUOTA_ERROR;
        if (got == 0)
            return QUOTA_OVER_BUDGET;
        util_copy(g->region, sizeof g->region, region);
    }
    int got = reserve_key(d, g, limit, (int)c->rotate_on_quota, err, errlen);
    if (got == 1) {
        MYSQL_BIND p[1], r[2];
        long long id = g->key_id;
        unsigned long slen = 0, llen = 0;
        my_bool n1 = 0, n2 = 0;
        int has_row = 0;
        db_bind_long(&p[0], &id);
        db_bind_out_str(&r[0], g->secret, sizeof g->secret - 1, &slen, &n1);
        db_bind_out_str(&r[1], g->label, sizeof g->label - 1, &llen, &n2);
        if (db_row(d, &SQL_SECRET, p, r, &has_row, err, errlen) < 0)
            got = -1;
        else if (!has_row)
            got = 0;        /* disabled between the two statements */
        else {
            g->secret[slen < sizeof g->secret ? slen : sizeof g->secret - 1] = '\0';
            g->label[llen < sizeof g->label ? llen : sizeof g->label - 1] = '\0';
            return QUOTA_GRANTED;
        }
    }
    if (g->region[0])
        budget_refund(d, g);
    return got < 0 ? QUOTA_ERROR : QUOTA_EXHAUSTED;
}

void quota_release(struct db *d, struct quota_grant *g)
{
    char err[UTIL_ERRLEN];
    MYSQL_BIND p[5];
    struct sbind l1, l2;
    long long id = g->key_id, u = g->units;
    db_bind_long(&p[0], &u);
    db_bind_long(&p[1], &u);
    db_bind_long(&p[2], &id);
    bind_s(&p[3], g->bucket, &l1);
    bind_s(&p[4], g->day, &l2);
    if (db_run(d, &SQL_REFUND, p, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "quota refund: %s", err);
    if (g->region[0])
        budget_refund(d, g);
}

int quota_settle(struct db *d, const struct conf *c, struct quota_grant *g, enum up_class cls,
                 const char *reason)
{
    char err[UTIL_ERRLEN];
    MYSQL_BIND p[3];
    struct sbind l1, l2;
    long long id = g->key_id;
    const struct up_outcome *o = up_outcome(cls);
    (void)c;
    switch (o->settle) {
    case UP_SETTLE_NONE:
    case UP_SETTLE_CHARGE:
        break;
    case UP_SETTLE_REFUND:
        quota_release(d, g);
        break;
    case UP_SETTLE_EXHAUST:
        db_bind_long(&p[0], &id);
        bind_s(&p[1], g->bucket, &l1);
        bind_s(&p[2], g->day, &l2);
        if (db_run(d, &SQL_EXHAUST, p, err, sizeof err) < 0)
            log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "marking key exhausted: %s", err);
        log_msg(YLOG_WARN, "key %s: bucket %s exhausted until Pacific midnight (%s)", g->label, g->bucket, reason);
        break;
    case UP_SETTLE_DISABLE: {
        char why[128];
        snprintf(why, sizeof why, "%s: %s", o->summary, reason);
        if (disable_key(d, g->key_id, g->label, why, err, sizeof err) < 0)
            log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "disabling key: %s", err);
        break;
    }
    }
    return o->key_problem;
}

static const struct db_stmt SQL_KEY_ADD = DB_STMT(
    "INSERT INTO api_keys (label, secret, fingerprint, source, state, created_at)"
    " VALUES (?, ?, ?, 'ctl', 'active', UTC_TIMESTAMP())");
static const struct db_stmt SQL_KEY_ENABLE = DB_STMT(
    "UPDATE api_keys SET state = 'active', disabled_reason = NULL WHERE label = ?");
static const struct db_stmt SQL_KEY_ENABLE_USAGE = DB_STMT(
    "UPDATE key_usage ku JOIN api_keys k ON k.id = ku.key_id SET ku.exhausted = " ROW_OPEN
    " WHERE k.label = ? AND ku.exhausted = " ROW_DISABLED);
static const struct db_stmt SQL_KEY_DISABLE = DB_STMT(
    "UPDATE api_keys SET state = 'disabled', disabled_reason = ? WHERE label = ?");
static const struct db_stmt SQL_KEY_DISABLE_USAGE = DB_STMT(
    "UPDATE key_usage ku JOIN api_keys k ON k.id = ku.key_id SET ku.exhausted = " ROW_DISABLED
    " WHERE k.label = ? AND ku.exhausted = " ROW_OPEN);
static const struct db_stmt SQL_KEY_REMOVE_USAGE = DB_STMT(
    "DELETE ku FROM key_usage ku JOIN api_keys k ON k.id = ku.key_id WHERE k.label = ?");
static const struct db_stmt SQL_KEY_REMOVE = DB_STMT("DELETE FROM api_keys WHERE label = ?");

int quota_key_add(struct db *d, const char *label, const char *secret, char *err, size_t errlen)
{
    char fp[17];
    quota_fingerprint(secret, fp);
    MYSQL_BIND p[3];
    struct sbind l1, l2, l3;
    bind_s(&p[0], label, &l1);
    bind_s(&p[1], secret, &l2);
    bind_s(&p[2], fp, &l3);
    if (db_run(d, &SQL_KEY_ADD, p, err, errlen) < 0) {
        /* the server's message may quote the duplicate value: say it ourselves */
        if (strstr(err, "Duplicate")) {
            snprintf(err, errlen, "a key with that label or value already exists");
            return 2;
        }
        return -1;
    }
    return 0;
}

/* Run a statement on one label; 1 if no row matched. */
static int by_label(struct db *d, const struct db_stmt *s, const char *label,
                    const char *reason, char *err, size_t errlen)
{
    MYSQL_BIND p[2];
    struct sbind l1, l2;
    unsigned long long affected = 0;
    int n = 0;
    if (reason)
        bind_s(&p[n++], reason, &l1);
    bind_s(&p[n++], label, &l2);
    if (db_run_affected(d, s, p, &affected, err, errlen) < 0)
        return -1;
    return affected == 0 ? 1 : 0;
}

int quota_key_enable(struct db *d, const char *label, char *err, size_t errlen)
{
    int rc = by_label(d, &SQL_KEY_ENABLE, label, NULL, err, errlen);
    if (rc != 0)
        return rc;
    return by_label(d, &SQL_KEY_ENABLE_USAGE, label, NULL, err, errlen) < 0 ? -1 : 0;
}

int quota_key_disable(struct db *d, const char *label, const char *reason, char *err, size_t errlen)
{
    int rc = by_label(d, &SQL_KEY_DISABLE, label, reason, err, errlen);
    if (rc != 0)
        return rc;
    return by_label(d, &SQL_KEY_DISABLE_USAGE, label, NULL, err, errlen) < 0 ? -1 : 0;
}

int quota_key_remove(struct db *d, const char *label, char *err, size_t errlen)
{
    if (by_label(d, &SQL_KEY_REMOVE_USAGE, label, NULL, err, errlen) < 0)
        return -1;
    return by_label(d, &SQL_KEY_REMOVE, label, NULL, err, errlen);
}

void quota_mask(const char *secret, char *out, size_t outlen)
{
    size_t n = strlen(secret);
    snprintf(out, outlen, "...%s", n > 8 ? secret + n - 4 : "");
}

int quota_pool_count(struct db *d, long long *total, long long *active, char *err, size_t errlen)
{
    static const struct db_stmt sql = DB_STMT("SELECT COUNT(*), COALESCE(SUM(state = 'active'), 0) FROM api_keys");
    MYSQL_BIND r[2];
    my_bool n[2] = { 0 };
    int has_row = 0;
    *total = *active = 0;
    db_bind_out_long(&r[0], total, &n[0]);
    db_bind_out_long(&r[1], active, &n[1]);
    return db_row(d, &sql, NULL, r, &has_row, err, errlen) < 0 ? -1 : 0;
}

int quota_add_usage(struct db *d, const char *fingerprint, const char *bucket, const char *day, long units,
                    long calls, char *err, size_t errlen)
{
    /* the row may not exist yet: an outage that began before the day's first call */
    static const struct db_stmt sql = DB_STMT(
        "INSERT INTO key_usage (key_id, bucket, day, used, calls) SELECT id, ?, ?, ?, ? FROM api_keys"
        " WHERE fingerprint = ? ON DUPLICATE KEY UPDATE used = used + ?, calls = calls + ?");
    MYSQL_BIND p[7];
    struct sbind l1, l2, l3;
    long long u = units, n = calls;
    unsigned long long affected = 0;
    bind_s(&p[0], bucket, &l1);
    bind_s(&p[1], day, &l2);
    db_bind_long(&p[2], &u);
    db_bind_long(&p[3], &n);
    bind_s(&p[4], fingerprint, &l3);
    db_bind_long(&p[5], &u);
    db_bind_long(&p[6], &n);
    if (db_run_affected(d, &sql, p, &affected, err, errlen) < 0)
        return -1;
    return affected > 0;
}
