/* proxy: one request from validation to answer: cache lookup, single flight, upstream, stale serving. */
#ifndef YTC_PROXY_H
#define YTC_PROXY_H

#include "cache.h"
#include "canon.h"
#include "http.h"
#include "upstream.h"

struct conf;
struct db;
struct hot;

/* Per-request state: everything one request needs, reset at its start. */
struct req {
    struct http_io *io;
    int headers_sent;
    int is_head;
    const char *origin;          /* valid until the response is finished */
    struct canon canon;
    char keyid[32];              /* "pool" or "fp:<hex>" */
    const char *upstream_key;    /* NULL = use the pool */
    unsigned char key[32];       /* cache key */
    long ttl;
    int have_entry;              /* entry holds a row (maybe expired) */
    struct cache_entry entry;
    struct up_result up;
    buf_t out;                   /* response head */
    buf_t extra;                 /* extra headers of a cached or fetched answer */
    buf_t scratch;               /* error bodies, request JSON */
    struct yerr err;
    int defer_hit;               /* count a hit after the response is out */
    int defer_refresh;           /* refresh a stale entry after the response is out */
    long cost;                   /* units one upstream call of this request costs */
    char client[64];             /* client identity for per-client limits */
    long calls;                  /* upstream calls Google charged for this request */
    int refresher;               /* a ytcache-refresh fetch: no client limit */
    int use_reserve;             /* may spend the bucket's reserve */
    long retry_after;            /* for outcomes decided without a call */
    const char *xcache;          /* cache result sent, for metrics; NULL if none */
    const char *allow;           /* Allow header of a 405, NULL = GET, HEAD, OPTIONS */
    int route;                   /* enum metrics_route */
};

/* Per-process state, kept across requests. */
struct proxy {
    const struct conf *conf;
    struct db *db;
    struct upstream *up;
    size_t key_next;             /* round-robin position in the key pool */
    struct cache_hits hits;      /* hit counts not yet written */
    struct hot *hot;             /* hot rows in memory; NULL = none (CGI, tools) */
    int keys_synced;             /* config keys copied into api_keys */
    struct req req;
};

int proxy_init(struct proxy *p, const struct conf *c, char *err, size_t errlen);
/* A process that serves many requests (FastCGI) keeps hot rows in memory
 * ([cache] hot_bytes, hot_trust_ms). 0, or -1 if out of memory. */
int proxy_keep_hot(struct proxy *p);
/* Serve one request; always answers (a JSON error if nothing else). */
void proxy_handle(struct proxy *p, struct http_io *io);
/* Work that must not delay the client (hit counting, stale refresh): call
 * after the response has been finished. */
void proxy_after(struct proxy *p);
/* What one refresher fetch did. */
enum {
    PROXY_REFRESH_FETCHED,       /* fetched and stored */
    PROXY_REFRESH_FRESH,         /* stored copy not due yet: nothing done */
    PROXY_REFRESH_BUSY,          /* another process is fetching it */
    PROXY_REFRESH_INVALID,       /* the query does not validate */
    PROXY_REFRESH_NO_QUOTA,      /* no key, bucket or budget has room */
    PROXY_REFRESH_FAILED,        /* upstream failed (or the breaker is open) */
    PROXY_REFRESH_DB_ERROR,
    PROXY_REFRESH_DUE,           /* dry run: would be fetched */
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
 * (same canonical form and cache key), unless the stored copy has more than
 * `due_within` seconds left. ttl > 0 keeps a row's own TTL. */
int proxy_refresh(struct proxy *p, const char *resource, const char *qs, long due_within, long ttl,
                  int use_reserve, int dry_run, struct proxy_refresh_info *info);

/* Write pending hit counts now (CGI exit, worker shutdown). */
void proxy_flush(struct proxy *p);
void proxy_free(struct proxy *p);

#endif
