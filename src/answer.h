/* answer: writing one response: head, CORS, ETag/304, errors, and the service's own pages (health, metrics, WebSub). */
#ifndef YTC_ANSWER_H
#define YTC_ANSWER_H

#include "util.h"

#include <stddef.h>

struct conf;
struct db;
struct http_io;
struct up_result;

/* What answering one request needs. All scalars and borrowed pointers, so
 * a caller can zero it per request; the buffers are the caller's, reused
 * from request to request. */
struct answer {
    const struct conf *conf;
    struct http_io *io;
    const char *origin;          /* valid until the response is finished */
    int is_head;
    const char *allow;           /* Allow header of a 405, NULL = GET, HEAD, OPTIONS */
    buf_t *head;                 /* response head */
    buf_t *extra;                /* extra headers of a cached or fetched answer */
    const char *source;          /* [economy]: X-Ytcache-Source of a rewritten request, or NULL */
    buf_t *scratch;              /* error and page bodies */
    int headers_sent;            /* out: the head went out (or was tried) */
    const char *xcache;          /* out: cache result sent, for metrics; NULL if none */
};

/* Google's error shape, never cached. */
void answer_error(struct answer *a, const struct yerr *e);
/* A cached or fetched body. xcache: HIT, MISS, STALE, BYPASS; a matching
 * If-None-Match gets 304. */
void answer_body(struct answer *a, int status, const char *xcache, long age, long max_age, const char *etag,
                 const char *body, size_t len);
/* Google's answer passed on as it came, never cached: a passthrough
 * caller's own key problem is theirs to see. */
void answer_passthrough(struct answer *a, int status, const char *body, size_t len);
/* Our own error for an unusable upstream outcome, from its descriptor;
 * retry_after: what the deciding module knew, 0 for the outcome's default. */
void answer_outcome_error(struct yerr *e, const struct up_result *up, long retry_after);

/* The cache result sent (an enum metrics_cache): MC_NONE if no cached or fetched body went out. */
int answer_cache_result(const struct answer *a);

/* OPTIONS: CORS preflight. */
void answer_preflight(struct answer *a);
/* GET <mount>/health: the database and the breaker, as JSON; 503 without a database. */
void answer_health(struct answer *a, struct db *d);
/* GET <mount>/metrics: Prometheus text format, for the allowed addresses only. */
void answer_metrics(struct answer *a, struct db *d);
/* <mount>/websub: the hub's intent checks (GET) and notifications (POST). */
void answer_websub(struct answer *a, struct db *d, const char *method, const char *qs);

#endif
