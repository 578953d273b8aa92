/* quota: the key pool in the database and exact per-key, per-bucket, per-Pacific-day accounting. */
#ifndef YTC_QUOTA_H
#define YTC_QUOTA_H

#include <stddef.h>
#include "upstream.h"

struct conf;
struct db;

/* key_usage.exhausted, one row per key, bucket and Pacific day: open, emptied
 * for the day (Google said so), or its key disabled (invalid, blocked or
 * turned off by ytcachectl) until enabled again. */
#define QUOTA_ROW_OPEN 0
#define QUOTA_ROW_EXHAUSTED 1
#define QUOTA_ROW_DISABLED 2

/* Units reserved on one key for one upstream call. */
struct quota_grant {
    long key_id;
    char label[65];
    char secret[129];
    char bucket[32];
    long units;
    char day[11];              /* Pacific date the units count against */
    char region[16];           /* region budget charged, "" if none */
};

enum quota_status {
    QUOTA_GRANTED,
    QUOTA_EXHAUSTED,           /* no active key has room in the bucket */
    QUOTA_OVER_BUDGET,         /* the region's budget for today is spent */
    QUOTA_ERROR,               /* database error */
};

/* Copy the config's [upstream] keys into api_keys (label config-<fp>) and
 * disable config keys that are no longer in the file. */
int quota_sync_keys(struct db *d, const struct conf *c, char *err, size_t errlen);

/* Create today's usage rows for every active key and bucket (a key added
 * mid-day is then picked at once rather than when the others are full). */
int quota_prime_day(struct db *d, const struct conf *c, char *err, size_t errlen);

/* Reserve the cost of one call to `resource` on the key with the most room,
 * atomically across processes. `region` (may be NULL) selects a budget;
 * `refresher` may dip into the bucket's reserve. */
enum quota_status quota_reserve(struct db *d, const struct conf *c, const char *resource,
                                const char *region, int refresher, struct quota_grant *g,
                                char *err, size_t errlen);

/* Settle a reservation from Google's answer, as the outcome's settle action
 * says: a call that never reached Google is refunded; quotaExceeded marks the
 * key's bucket exhausted for the day; an invalid or blocked key is disabled.
 * Returns 1 (a key problem) if another key should be tried for the same request. */
int quota_settle(struct db *d, const struct conf *c, struct quota_grant *g, enum up_class cls,
                 const char *reason);
/* Hand a reservation back unused: the key's units and the region's budget. */
void quota_release(struct db *d, struct quota_grant *g);

/* Key administration (ytcachectl keys). 0 ok, -1 error, 1 no such label,
 * 2 (add) the label or key is already in the pool. */
int quota_key_add(struct db *d, const char *label, const char *secret, char *err, size_t errlen);
int quota_key_enable(struct db *d, const char *label, char *err, size_t errlen);
int quota_key_disable(struct db *d, const char *label, const char *reason, char *err, size_t errlen);
int quota_key_remove(struct db *d, const char *label, char *err, size_t errlen);
/* "AIza...wxyz" style: the last four characters only. out >= 16 bytes. */
void quota_mask(const char *secret, char *out, size_t outlen);

/* Keys in the pool: all of them, and the active ones (so that "no key" and
 * "every key disabled" can be told apart). 0 / -1. */
int quota_pool_count(struct db *d, long long *total, long long *active, char *err, size_t errlen);

/* Add calls made without accounting (a database outage) to the usage of
 * the key with that fingerprint. 1 added, 0 no such key, -1 error. */
int quota_add_usage(struct db *d, const char *fingerprint, const char *bucket, const char *day, long units,
                    long calls, char *err, size_t errlen);

/* 16 hex digits identifying a key without revealing it. */
void quota_fingerprint(const char *secret, char out[17]);

#endif
