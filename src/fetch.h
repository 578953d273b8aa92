/* fetch: one upstream fetch through client limit, breaker, quota reservation, the call and its settlement. */
#ifndef YTC_FETCH_H
#define YTC_FETCH_H

#include "upstream.h"

#include <stddef.h>

struct canon;
struct conf;
struct db;

/* Per-process: the upstream handle and where the config's keys stand. */
struct fetcher {
    const struct conf *conf;
    struct db *db;
    struct upstream *up;
    size_t key_next;             /* round-robin position in the config's keys */
    int keys_synced;             /* config keys copied into api_keys */
};

/* One fetch: what it needs of the request, and what it did. All scalars
 * and borrowed pointers, so a caller can zero it per request. */
struct fetch_req {
    const struct canon *canon;   /* resource and canonical query */
    const char *upstream_key;    /* the caller's key (passthrough); NULL = the pool */
    const char *client;          /* identity for the per-client limit */
    long cost;                   /* units one call costs */
    const char *bucket;          /* the bucket the cost is taken from (conf's name) */
    int refresher;               /* a refresh done for every client: no client limit */
    int use_reserve;             /* may spend the bucket's reserve */
    struct up_result *up;        /* out: the outcome, into the caller's reused buffer */
    long calls;                  /* out: calls Google charged for (adds up over fetches) */
    long retry_after;            /* out: for outcomes decided without a call */
};

int fetch_open(struct fetcher *f, const struct conf *c, struct db *d, char *err, size_t errlen);
/* Every outcome is decided before returning: q->up->cls tells which.
 * db_ok = 0: the database is unavailable, so nothing is accounted. */
void fetch_run(struct fetcher *f, struct fetch_req *q, int db_ok);
void fetch_close(struct fetcher *f);

#endif
