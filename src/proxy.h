/* proxy: one request from validation to answer: cache lookup, single flight, upstream, stale serving. */
#ifndef YTC_PROXY_H
#define YTC_PROXY_H

#include "cache.h"
#include "canon.h"
#include "http.h"
#include "upstream.h"

struct conf;
struct db;

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
    buf_t scratch;               /* error bodies, request JSON */
    struct yerr err;
    int defer_hit;               /* count a hit after the response is out */
    int defer_refresh;           /* refresh a stale entry after the response is out */
    long cost;                   /* units one upstream call of this request costs */
    char client[64];             /* client identity for per-client limits */
    long retry_after;            /* for outcomes decided without a call */
};

/* Per-process state, kept across requests. */
struct proxy {
    const struct conf *conf;
    struct db *db;
    struct upstream *up;
    size_t key_next;             /* round-robin position in the key pool */
    struct cache_hits hits;      /* hit counts not yet written */
    int keys_synced;             /* config keys copied into api_keys */
    struct req req;
};

int proxy_init(struct proxy *p, const struct conf *c, char *err, size_t errlen);
/* Serve one request; always answers (a JSON error if nothing else). */
void proxy_handle(struct proxy *p, struct http_io *io);
/* Work that must not delay the client (hit counting, stale refresh): call
 * after the response has been finished. */
void proxy_after(struct proxy *p);
/* Write pending hit counts now (CGI exit, worker shutdown). */
void proxy_flush(struct proxy *p);
void proxy_free(struct proxy *p);

#endif
