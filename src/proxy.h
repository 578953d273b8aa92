/* proxy: the request pipeline: validation, cache lookup, single flight, fetch, stale serving, answer. */
#ifndef YTC_PROXY_H
#define YTC_PROXY_H

#include "cache.h"
#include "fetch.h"

#include <stddef.h>

struct conf;
struct db;
struct hot;
struct http_io;
struct req;
struct yerr;

/* Per-process state, kept across requests. */
struct proxy {
    const struct conf *conf;
    struct db *db;
    struct fetcher fetch;        /* the upstream handle and key rotation */
    struct cache_hits hits;      /* hit counts not yet written */
    struct hot *hot;             /* hot rows in memory; NULL = none (CGI, tools) */
    struct req *req;             /* the current request: private to proxy.c */
    int schema_ok;               /* migrate_ensure found the schema current */
};

int proxy_init(struct proxy *p, const struct conf *c, char *err, size_t errlen);
/* A process that serves many requests (FastCGI) keeps hot rows in memory
 * ([cache] hot_bytes, hot_trust_ms). 0, or -1 if out of memory. */
int proxy_keep_hot(struct proxy *p);
/* The database connection, for tools that run their own statements. */
struct db *proxy_db(struct proxy *p);
/* The schema checked once per process, and migrated if it is missing or
 * old ([database] auto_migrate): 0 go on (also when the database is down:
 * the request meets that as usual), -1 with e set (503: another process is
 * migrating, or there is no schema and auto_migrate is off). */
int proxy_schema(struct proxy *p, struct yerr *e);
/* Serve one request; always answers (a JSON error if nothing else). */
void proxy_handle(struct proxy *p, struct http_io *io);
/* Work that must not delay the client (hit counting, stale refresh): call
 * after the response has been finished. */
void proxy_after(struct proxy *p);
/* What one refresher fetch did. */
enum proxy_refresh_status {
    PROXY_REFRESH_FETCHED,       /* fetched and stored */
    PROXY_REFRESH_FRESH,         /* stored copy not due yet: nothing done */
    PROXY_REFRESH_BUSY,          /* another process is fetching it */
    PROXY_REFRESH_INVALID,       /* the query does not validate */
    PROXY_REFRESH_NO_QUOTA,      /* no key, bucket or budget has room */
    PROXY_REFRESH_FAILED,        /* upstream failed (or the breaker is open) */
    PROXY_REFRESH_DB_ERROR,
    PROXY_REFRESH_DUE,           /* dry run: would be fetched */
};

/* proxy_refresh's flags. */
enum {
    PROXY_RF_RESERVE = 1 << 0,   /* may spend the bucket's reserve */
    PROXY_RF_DRY_RUN = 1 << 1,   /* only say whether it is due: no fetch */
};

struct proxy_refresh_info {
    long cost;                   /* units one call costs */
    long units;                  /* units spent (0 if nothing was fetched) */
    long status;                 /* upstream HTTP status */
    const char *body;            /* the stored answer, valid until the next call */
    size_t len;
    char detail[256];
};

/* Fetch and store one request the way a browser's request would be stored
 * (same canonical form, cache key and configured TTL), unless the stored
 * copy has more than `due_within` seconds left. flags: PROXY_RF_*. Returns
 * a PROXY_REFRESH_* status. */
int proxy_refresh(struct proxy *p, const char *resource, const char *qs, long due_within, unsigned flags,
                  struct proxy_refresh_info *info);

/* Write pending hit counts now (CGI exit, worker shutdown). */
void proxy_flush(struct proxy *p);
void proxy_free(struct proxy *p);

#endif
