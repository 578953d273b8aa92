/* proxy: the request pipeline: validation, cache lookup, single flight, fetch, stale serving, answer. */
#include "proxy.h"
#include "access.h"
#include "answer.h"
#include "canon.h"
#include "climit.h"
#include "conf.h"
#include "db.h"
#include "economy.h"
#include "hot.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One request's scalars: zeroed at the start of every request. */
struct req_vars {
    struct answer ans;           /* what answering needs, and what was sent */
    struct fetch_req fetch;      /* what a fetch needs, and what it did */
    struct yerr err;             /* the answer when nothing else is sent */
    char keyid[32];              /* "pool" or "fp:<hex>" */
    unsigned char key[CANON_KEY_LEN]; /* cache key */
    long ttl;                    /* the row's TTL: always the configured one */
    long max_age;                /* the client's ttl=/age=, clamped; -1 if none */
    int have_entry;              /* entry holds a row (maybe expired) */
    int defer_hit;               /* count a hit after the response is out */
    int defer_refresh;           /* refresh a stale entry after the response is out */
    int route;                   /* enum metrics_route */
    char client[64];             /* client identity for per-client limits */
    char source[80];             /* [economy]: where a rewritten request is answered from */
};

/* Per-request state, private to the pipeline: the scalars, and buffers
 * whose memory is kept from request to request (freed by proxy_free). */
struct req {
    struct req_vars v;
    struct canon canon;
    struct canon upcanon;        /* [economy]: the cheaper request fetched in its place */
    struct cache_entry entry;
    struct up_result up;
    buf_t head, extra, scratch;
};

int proxy_init(struct proxy *p, const struct conf *c, char *err, size_t errlen)
{
    char merr[UTIL_ERRLEN];
    memset(p, 0, sizeof *p);
    p->conf = c;
    p->req = calloc(1, sizeof *p->req);
    if (!p->req || db_open(&p->db, c) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (fetch_open(&p->fetch, c, p->db, err, errlen) < 0)
        goto fail;
    if (metrics_open(c, merr, sizeof merr) < 0)
        log_msg(YLOG_WARN, "%s; metrics are counted per process", merr);
    cache_bound(c->cache_max_rows, c->cache_max_bytes);
    return 0;
fail:
    db_close(&p->db);
    free(p->req);
    p->req = NULL;
    return -1;
}

void proxy_free(struct proxy *p)
{
    struct req *r = p->req;
    proxy_flush(p);
    if (r) {
        canon_free(&r->canon);
        canon_free(&r->upcanon);
        cache_entry_free(&r->entry);
        buf_free(&r->up.body);
        buf_free(&r->head);
        buf_free(&r->extra);
        buf_free(&r->scratch);
        free(r);
        p->req = NULL;
    }
    hot_free(&p->hot);
    fetch_close(&p->fetch);
    db_close(&p->db);
}

int proxy_keep_hot(struct proxy *p)
{
    const struct conf *c = p->conf;
    if (c->hot_bytes <= 0 || p->hot)
        return 0;
    p->hot = hot_new((size_t)c->hot_bytes, c->hot_trust_ms);
    return p->hot ? 0 : -1;
}

struct db *proxy_db(struct proxy *p)
{
    return p->db;
}

static struct req *reset_req(struct proxy *p, struct http_io *io)
{
    struct req *r = p->req;
    memset(&r->v, 0, sizeof r->v);
    buf_reset(&r->head);
    buf_reset(&r->extra);
    buf_reset(&r->scratch);
    r->v.ans = (struct answer){ .conf = p->conf, .io = io, .head = &r->head, .extra = &r->extra,
                                .scratch = &r->scratch };
    r->v.fetch = (struct fetch_req){ .canon = &r->canon, .client = r->v.client, .up = &r->up };
    r->v.route = MR_OTHER;
    r->v.max_age = -1;
    return r;
}

/* ---- the cache ------------------------------------------------------------ */

/* Seconds the copy stays fresh: until its expiry, and never past the
 * configured TTL (a row stored with a client's ttl= by an older version,
 * or before the configured TTL was lowered, lives no longer than it). */
static long time_left(const struct req *r)
{
    long cap = r->entry.status == 200 ? r->v.ttl : r->v.ans.conf->negative_ttl;
    return cap - r->entry.age < r->entry.left ? cap - r->entry.age : r->entry.left;
}

/* A client's ttl=/age= asks for at most that age, like max-age in a
 * request: it decides whether this request takes the stored copy, never
 * how long the row lives for everybody else. */
static int fresh_enough(const struct req *r)
{
    return time_left(r) > 0 && !(r->v.max_age >= 0 && r->entry.age >= r->v.max_age);
}

static long store_ttl(const struct proxy *p)
{
    return up_outcome(p->req->up.cls)->negative ? p->conf->negative_ttl : p->req->v.ttl;
}

/* The max-age a client is told: what the copy has left, and no more than
 * the client's own ttl=/age= leaves (it asked for copies no older). */
static long told_max_age(const struct req *r, long left, long age)
{
    if (r->v.max_age >= 0 && r->v.max_age - age < left)
        left = r->v.max_age - age;
    return left;
}

static void store(struct proxy *p)
{
    struct req *r = p->req;
    char err[UTIL_ERRLEN];
    if (canon_request_json(&r->canon, r->v.keyid, &r->scratch) < 0 ||
        cache_store(p->db, r->v.key, r->scratch.data, r->up.body.data, r->up.body.len, r->up.status,
                    r->up.etag, store_ttl(p), canon_get(&r->canon, "id"), err, sizeof err) < 0)
        log_burst(LOG_SLOT_STORE, 10, YLOG_ERROR, "cannot store %s: %s", r->canon.resource, err);
    /* the next hit reads the new row and its revision; the old copy is gone */
    hot_drop(p->hot, r->v.key);
    r->v.have_entry = 0;
}

/* ---- answering from the cache or the fetch ------------------------------- */

static void send_entry(struct req *r, const char *xcache, long max_age)
{
    answer_body(&r->v.ans, (int)r->entry.status, xcache, r->entry.age, max_age, r->entry.etag, r->entry.data,
                r->entry.len);
}

static void serve_hit(struct req *r)
{
    send_entry(r, "HIT", told_max_age(r, time_left(r), r->entry.age));
    r->v.defer_hit = 1;
}

static void db_unavailable(struct req *r, const struct conf *c)
{
    yerr_set(&r->v.err, 503, "databaseUnavailable", "", "The cache database is unavailable.");
    r->v.err.retry_after = db_retry_after(c);
}

/* The client's identity for its limit, worked out only for what may cost
 * quota (a hit never does), and kept as a copy: a deferred refresh runs
 * after the environment is gone. */
static void identify_client(struct proxy *p)
{
    struct req *r = p->req;
    climit_client_id(p->conf, http_env(r->v.ans.io, "REMOTE_ADDR"), http_env(r->v.ans.io, "HTTP_X_FORWARDED_FOR"),
                     r->v.client, sizeof r->v.client);
}

/* The fetch; a request fetched in another form ([economy]) gets its answer
 * back in the form asked for, or none that could be stored. */
static void run_fetch(struct proxy *p, int db_ok)
{
    struct req *r = p->req;
    fetch_run(&p->fetch, &r->v.fetch, db_ok);
    if (r->v.fetch.canon != &r->canon && r->up.cls == UP_OK && economy_search_body(&r->canon, &r->up.body) < 0) {
        log_msg(YLOG_WARN, "%s: the %s answer could not be rewritten; not served", r->canon.resource,
                r->v.fetch.canon->resource);
        buf_reset(&r->up.body);
        r->up.cls = UP_BAD_BODY;
    }
}

/* Fetch, store what may be stored, answer the client. */
static void fetch_and_answer(struct proxy *p, int db_ok)
{
    struct req *r = p->req;
    struct answer *a = &r->v.ans;
    identify_client(p);
    run_fetch(p, db_ok);
    const struct up_outcome *o = up_outcome(r->up.cls);
    /* a client over its limit that asked for fresher copies than the stored
     * one is told so (429, Retry-After), not handed the copy it refused */
    int stale_ok = r->v.have_entry && -time_left(r) <= p->conf->sie &&
                   !(o->cause == UP_CAUSE_CLIENT && r->v.max_age >= 0);
    /* our own error in Google's place is no better than a usable stale copy */
    if (o->cacheable && !(o->our_body && stale_ok)) {
        if (db_ok)
            store(p);
        answer_body(a, (int)r->up.status, db_ok ? "MISS" : "BYPASS", 0, told_max_age(r, store_ttl(p), 0),
                    r->up.etag, r->up.body.data, r->up.body.len);
        return;
    }
    if (stale_ok) {
        log_msg(YLOG_INFO, "serving stale %s: upstream %s", r->canon.resource, o->name);
        send_entry(r, "STALE", 0);
        return;
    }
    /* a caller's own key problem in passthrough mode is theirs to see */
    if (r->v.fetch.upstream_key && o->key_problem && r->up.body.len) {
        answer_passthrough(a, (int)r->up.status, r->up.body.data, r->up.body.len);
        return;
    }
    answer_outcome_error(&r->v.err, &r->up, r->v.fetch.retry_after);
    answer_error(a, &r->v.err);
}

/* The miss path: one fetch across all processes (GET_LOCK), then answer. */
static void miss(struct proxy *p)
{
    struct req *r = p->req;
    const struct conf *c = p->conf;
    char err[UTIL_ERRLEN];
    int locked = cache_lock(p->db, r->v.key, c->lock_wait_ms, err, sizeof err);
    if (locked < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "fetch lock unavailable: %s", err);
        if (c->db_outage == CONF_DB_OUTAGE_ERROR) {
            /* the database went away after the lookup: same answer as before it */
            db_unavailable(r, c);
            return;
        }
    }
    if (locked >= 0) {
        /* someone else may have fetched it while we waited */
        int found = cache_lookup(p->db, r->v.key, &r->entry, err, sizeof err);
        if (found == 1) {
            r->v.have_entry = 1;
            if (fresh_enough(r)) {
                if (locked == 1)
                    cache_unlock(p->db, r->v.key, err, sizeof err);
                serve_hit(r);
                return;
            }
        }
        if (locked == 0)
            log_msg(YLOG_WARN, "waited %ld ms for another fetch of %s; fetching", c->lock_wait_ms, r->canon.resource);
    }
    fetch_and_answer(p, locked >= 0);
    if (locked == 1 && cache_unlock(p->db, r->v.key, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot release fetch lock: %s", err);
}

/* A valid request: the hit, stale or miss path. */
static void serve(struct proxy *p)
{
    struct req *r = p->req;
    const struct conf *c = p->conf;
    char err[UTIL_ERRLEN];
    /* hot memory first, then the database */
    int found = hot_lookup(p->hot, p->db, r->v.key, r->v.max_age, &r->entry, err, sizeof err);
    if (found < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "database: %s", err);
        if (c->db_outage == CONF_DB_OUTAGE_ERROR) {
            db_unavailable(r, c);
            return;
        }
        fetch_and_answer(p, 0);
        return;
    }
    if (found == 1) {
        r->v.have_entry = 1;
        if (fresh_enough(r)) {
            serve_hit(r);
            return;
        }
        if (-time_left(r) <= c->swr && time_left(r) <= 0) {
            send_entry(r, "STALE", 0);
            identify_client(p);
            r->v.defer_refresh = 1;
            return;
        }
    }
    miss(p);
}

/* ---- the request ---------------------------------------------------------- */

/* The service's own pages are answered here; 1 for an API request to serve. */
static int admit(struct proxy *p, struct route *rt)
{
    struct req *r = p->req;
    struct answer *a = &r->v.ans;
    enum route_action act = route_request(p->conf, a->io, rt, &r->v.err);
    r->v.route = rt->metrics_route;
    a->is_head = rt->is_head;
    if (act == ROUTE_PREFLIGHT)
        answer_preflight(a);
    else if (act == ROUTE_WEBSUB)
        answer_websub(a, p->db, rt->method, rt->qs);
    else if (act == ROUTE_HEALTH)
        answer_health(a, p->db);
    else if (act == ROUTE_METRICS)
        answer_metrics(a, p->db);
    return act == ROUTE_API;
}

/* The parsed request's cache key and cost; -1 out of memory. */
static int key_and_cost(struct proxy *p)
{
    struct req *r = p->req;
    char keyid[sizeof r->v.keyid + 16];
    util_copy(keyid, sizeof keyid, r->v.keyid);
    /* [economy]: fetched as the cheaper request, charged as it, kept apart from the plain answer */
    if (economy_uploads(p->conf, &r->canon, &r->upcanon, r->v.source, sizeof r->v.source) == 1) {
        r->v.fetch.canon = &r->upcanon;
        r->v.ans.source = r->v.source;
        snprintf(keyid, sizeof keyid, "%s uploads", r->v.keyid);
    }
    if (canon_cache_key(&r->canon, keyid, r->v.key) < 0)
        return -1;
    conf_cost_for(p->conf, r->v.fetch.canon->resource, &r->v.fetch.bucket, &r->v.fetch.cost);
    return 0;
}

/* [access] decides what may be asked, so a refusal comes before the cache
 * (a cached answer is still an answer to a forbidden question) and before
 * any cost is worked out. 0, or -1 with r->v.err set. */
static int allowed(struct proxy *p)
{
    struct req *r = p->req;
    enum access_rule rule;
    if (access_check(&p->conf->access, &r->canon, &rule, &r->v.err) == 0)
        return 0;
    metrics_access(rule);
    log_burst(LOG_SLOT_ACCESS, 10, YLOG_WARN, "access: a request refused by [access] %s",
              access_rule_name(rule));
    return -1;
}

/* The canonical request and whose key goes with it: the pool's, or
 * (passthrough) the caller's; then its cache key, cost and TTL. 0, or -1
 * with r->v.err set. */
static int parse_request(struct proxy *p, const char *resource, const char *qs)
{
    struct req *r = p->req;
    const struct conf *c = p->conf;
    if (canon_parse(&r->canon, resource, qs, &r->v.err) < 0 || allowed(p) < 0)
        return -1;
    if (c->key_mode == CONF_KEY_PASSTHROUGH && r->canon.client_key && *r->canon.client_key) {
        r->v.fetch.upstream_key = r->canon.client_key;
        canon_key_fingerprint(r->v.fetch.upstream_key, r->v.keyid, sizeof r->v.keyid);
    } else if (c->key_mode == CONF_KEY_PASSTHROUGH && c->n_keys == 0) {
        yerr_set(&r->v.err, 400, "missingParameter", "key", "Required parameter: key.");
        return -1;
    } else {
        /* the pool: config keys and keys added with ytcachectl */
        util_copy(r->v.keyid, sizeof r->v.keyid, "pool");
    }
    if (key_and_cost(p) < 0) {
        yerr_set(&r->v.err, 500, "internalError", "", "Out of memory.");
        return -1;
    }
    r->v.ttl = conf_ttl_for(c, r->canon.resource, &r->canon);
    r->v.max_age = conf_client_max_age(c, r->canon.client_ttl);
    return 0;
}

/* The one way out: an error if nothing was sent yet, then the metrics. */
static void finish(struct req *r)
{
    struct yerr *e = &r->v.err;
    if (!r->v.ans.headers_sent) {
        if (!e->status)
            yerr_set(e, 500, "internalError", "", "Internal error.");
        answer_error(&r->v.ans, e);
    }
    metrics_request((enum metrics_route)r->v.route, answer_cache_result(&r->v.ans));
    r->v.ans.origin = NULL;    /* the environment dies with the request */
}

int proxy_schema(struct proxy *p, struct yerr *e)
{
    char err[UTIL_ERRLEN];
    if (p->schema_ok)
        return 0;
    switch (migrate_ensure(p->db, p->conf, err, sizeof err)) {
    case MIGRATE_READY:
        p->schema_ok = 1;
        return 0;
    case MIGRATE_BUSY:
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "%s: answering 503", err);
        yerr_set(e, 503, "schemaMigrating", "", "The cache database is being migrated to a new schema; try again.");
        e->retry_after = MIGRATE_RETRY_AFTER;
        return -1;
    case MIGRATE_MISSING:
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "%s", err);
        yerr_set(e, 503, "schemaMissing", "", "The cache database has no schema and automatic migration is off:"
                 " run ytcachectl migrate.");
        e->retry_after = db_retry_after(p->conf);
        return -1;
    case MIGRATE_ERROR:
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "schema check: %s", err);
        break;
    }
    return 0;
}

void proxy_handle(struct proxy *p, struct http_io *io)
{
    struct req *r = reset_req(p, io);
    r->v.ans.origin = http_env(io, "HTTP_ORIGIN");
    struct route rt;
    if (admit(p, &rt) && parse_request(p, rt.resource[0] ? rt.resource : NULL, rt.qs) == 0 &&
        proxy_schema(p, &r->v.err) == 0)
        serve(p);
    finish(r);
}

/* ---- after the response, and the refresher -------------------------------- */

void proxy_flush(struct proxy *p)
{
    char err[UTIL_ERRLEN];
    if (p->hits.used && cache_hits_flush(p->db, &p->hits, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot count hits: %s", err);
}

void proxy_after(struct proxy *p)
{
    struct req *r = p->req;
    char err[UTIL_ERRLEN];
    if (r->v.defer_hit) {
        if (p->hits.used == CACHE_HIT_SLOTS)
            proxy_flush(p);
        cache_hits_add(&p->hits, r->v.key);
    }
    if (cache_hits_due(&p->hits, util_now_ms()))
        proxy_flush(p);
    if (r->v.defer_refresh) {
        /* only one process refreshes; the others keep serving the stale copy */
        if (cache_lock(p->db, r->v.key, 0, err, sizeof err) == 1) {
            /* charged to the client that found it stale, within its limit:
             * over it, the stale copy it already got is all it gets */
            if (cache_lookup(p->db, r->v.key, &r->entry, err, sizeof err) == 1 && !fresh_enough(r)) {
                run_fetch(p, 1);
                /* our own error never replaces the copy being refreshed */
                if (up_outcome(r->up.cls)->cacheable && !up_outcome(r->up.cls)->our_body)
                    store(p);
            }
            cache_unlock(p->db, r->v.key, err, sizeof err);
        }
    }
    r->v.defer_hit = r->v.defer_refresh = 0;
}

/* A refresher's fetch, under the key's lock: store it, say what it did. */
static int refresh_fetch(struct proxy *p, struct proxy_refresh_info *info)
{
    struct req *r = p->req;
    run_fetch(p, 1);
    const struct up_outcome *o = up_outcome(r->up.cls);
    int rc = o->cause == UP_CAUSE_QUOTA ? PROXY_REFRESH_NO_QUOTA
             : o->cause == UP_CAUSE_DB  ? PROXY_REFRESH_DB_ERROR
                                        : PROXY_REFRESH_FAILED;
    if (o->cacheable && !o->our_body) {
        store(p);
        info->body = r->up.body.data;
        info->len = r->up.body.len;
        rc = PROXY_REFRESH_FETCHED;
    }
    info->units = r->v.fetch.calls * r->v.fetch.cost;
    info->status = r->up.status;
    util_copy(info->detail, sizeof info->detail, o->name);
    return rc;
}

int proxy_refresh(struct proxy *p, const char *resource, const char *qs, long due_within, unsigned flags,
                  struct proxy_refresh_info *info)
{
    static struct http_io no_io = { NULL, NULL, NULL };
    struct req *r = reset_req(p, &no_io);
    char err[UTIL_ERRLEN];
    memset(info, 0, sizeof *info);
    util_copy(r->v.client, sizeof r->v.client, "refresher");
    r->v.fetch.refresher = 1;
    r->v.fetch.use_reserve = (flags & PROXY_RF_RESERVE) != 0;
    if (canon_parse(&r->canon, resource, qs, &r->v.err) < 0) {
        util_copy(info->detail, sizeof info->detail, r->v.err.message);
        return PROXY_REFRESH_INVALID;
    }
    util_copy(r->v.keyid, sizeof r->v.keyid, "pool");
    if (key_and_cost(p) < 0) {
        util_copy(info->detail, sizeof info->detail, "out of memory");
        return PROXY_REFRESH_FAILED;
    }
    /* the configured TTL, also for a row stored with a client's ttl= before
     * ttl= stopped deciding it */
    r->v.ttl = conf_ttl_for(p->conf, r->canon.resource, &r->canon);
    info->cost = r->v.fetch.cost;
    int found = cache_lookup(p->db, r->v.key, &r->entry, err, sizeof err);
    if (found < 0) {
        util_copy(info->detail, sizeof info->detail, err);
        return PROXY_REFRESH_DB_ERROR;
    }
    if (found == 1 && time_left(r) > due_within) {
        info->body = r->entry.data;
        info->len = r->entry.len;
        return PROXY_REFRESH_FRESH;
    }
    if (flags & PROXY_RF_DRY_RUN)
        return PROXY_REFRESH_DUE;
    int locked = cache_lock(p->db, r->v.key, 0, err, sizeof err);
    if (locked < 0) {
        util_copy(info->detail, sizeof info->detail, err);
        return PROXY_REFRESH_DB_ERROR;
    }
    if (locked == 0)
        return PROXY_REFRESH_BUSY;
    int rc = refresh_fetch(p, info);
    cache_unlock(p->db, r->v.key, err, sizeof err);
    return rc;
}
