/* proxy: one request from validation to answer: cache lookup, single flight, upstream, stale serving. */
#include "proxy.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "config.h"
#include "migrate.h"
#include "websub.h"
#include "breaker.h"
#include "climit.h"
#include "quota.h"
#include "hot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONTENT_LENGTH 65536L

int proxy_init(struct proxy *p, const struct conf *c, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->conf = c;
    if (db_open(&p->db, c) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (upstream_open(&p->up, c, err, errlen) < 0) {
        db_close(&p->db);
        return -1;
    }
    char merr[1200];
    if (metrics_open(c, merr, sizeof merr) < 0)
        log_msg(YLOG_WARN, "%s; metrics are counted per process", merr);
    return 0;
}

void proxy_free(struct proxy *p)
{
    struct req *r = &p->req;
    proxy_flush(p);
    canon_free(&r->canon);
    cache_entry_free(&r->entry);
    buf_free(&r->up.body);
    buf_free(&r->out);
    buf_free(&r->extra);
    buf_free(&r->scratch);
    hot_free(&p->hot);
    upstream_close(&p->up);
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

/* ---- response writing ---------------------------------------------------- */

static int origin_allowed(const struct conf *c, const char *origin)
{
    if (!origin || !*origin)
        return 0;
    if (c->cors_any)
        return 1;
    for (size_t i = 0; i < c->n_cors; i++)
        if (strcmp(c->cors_origins[i], origin) == 0)
            return 1;
    return 0;
}

static void add_cors(struct proxy *p, buf_t *h)
{
    const struct conf *c = p->conf;
    if (!c->n_cors)
        return;
    if (origin_allowed(c, p->req.origin)) {
        buf_appendf(h, "Access-Control-Allow-Origin: %s\r\n", c->cors_any ? "*" : p->req.origin);
        buf_appends(h, "Access-Control-Expose-Headers: X-Cache, Age, ETag, Retry-After\r\n");
    }
    if (!c->cors_any)
        buf_appends(h, "Vary: Origin\r\n");
}

/* Send a whole response: head and (unless HEAD / 304 / 204) body, in one go. */
static void send_typed(struct proxy *p, int status, const char *ctype, const char *extra_headers,
                       const char *body, size_t len)
{
    struct req *r = &p->req;
    buf_t *h = &r->out;
    buf_reset(h);
    /* appends, not printf: this is on every hit */
    http_status_line(h, status);
    if (status != 304 && status != 204) {
        buf_appends(h, "Content-Type: ");
        buf_appends(h, ctype);
        buf_appends(h, "\r\nContent-Length: ");
        buf_append_num(h, (long long)len);
        buf_appends(h, "\r\n");
    }
    if (extra_headers)
        buf_appends(h, extra_headers);
    add_cors(p, h);
    buf_appends(h, "\r\n");
    r->headers_sent = 1;
    if (!h->data || http_write(r->io, h->data, h->len) < 0)
        return;
    if (status != 304 && status != 204 && !r->is_head && len)
        http_write(r->io, body, len);
}

static void send_response(struct proxy *p, int status, const char *extra_headers,
                          const char *body, size_t len)
{
    send_typed(p, status, "application/json; charset=UTF-8", extra_headers, body, len);
}

static void send_error(struct proxy *p, const struct yerr *e)
{
    metrics_error(e->reason);
    struct req *r = &p->req;
    char extra[256];
    int n = snprintf(extra, sizeof extra, "Cache-Control: no-store\r\n");
    if (e->retry_after > 0)
        n += snprintf(extra + n, sizeof extra - (size_t)n, "Retry-After: %ld\r\n", e->retry_after);
    if (e->status == 405)
        snprintf(extra + n, sizeof extra - (size_t)n, "Allow: %s\r\n", p->req.allow ? p->req.allow : "GET, HEAD, OPTIONS");
    if (http_error_json(&r->scratch, e) < 0) {
        static const char fallback[] = "{\"error\":{\"code\":500,\"message\":\"Out of memory.\"}}";
        send_response(p, 500, extra, fallback, sizeof fallback - 1);
        return;
    }
    send_response(p, e->status, extra, r->scratch.data, r->scratch.len);
}

/* A cached or fetched body. xcache: HIT, MISS, STALE, BYPASS. */
static void send_body(struct proxy *p, int status, const char *xcache, long age, long max_age,
                      const char *etag, const char *body, size_t len)
{
    struct req *r = &p->req;
    buf_t *x = &r->extra;
    if (max_age < 0)
        max_age = 0;
    r->xcache = xcache;
    if (strcmp(xcache, "STALE") == 0)
        metrics_stale();
    buf_reset(x);
    /* room for every header below, so that no append can fail half way */
    int room = buf_reserve(x, 192 + (etag ? strlen(etag) : 0)) == 0;
    buf_appends(x, "X-Cache: ");
    buf_appends(x, xcache);
    buf_appends(x, "\r\nAge: ");
    buf_append_num(x, age < 0 ? 0 : age);
    if (strcmp(xcache, "BYPASS") == 0) {
        buf_appends(x, "\r\nCache-Control: no-cache\r\n");
    } else {
        buf_appends(x, "\r\nCache-Control: public, max-age=");
        buf_append_num(x, max_age);
        buf_appends(x, "\r\n");
    }
    if (strcmp(xcache, "STALE") == 0)
        buf_appends(x, "Warning: 110 - \"Response is Stale\"\r\n");
    if (etag && *etag) {
        buf_appends(x, "ETag: \"");
        buf_appends(x, etag);
        buf_appends(x, "\"\r\n");
    }
    /* out of memory: send no extra headers rather than half of them */
    const char *extra = room ? x->data : "";
    const char *inm = http_env(r->io, "HTTP_IF_NONE_MATCH");
    if (status == 200 && etag && *etag && http_etag_match(inm, etag)) {
        send_response(p, 304, extra, NULL, 0);
        return;
    }
    send_response(p, status, extra, body, len);
}

/* ---- upstream ------------------------------------------------------------ */

/* 1 if a body contains the key it was fetched with or a configured key:
 * such a body is never passed on or stored. */
static int leaks_key(const struct conf *c, const char *used, const char *body, size_t len)
{
    size_t kl = used ? strlen(used) : 0;
    if (kl >= 8 && len >= kl && memmem(body, len, used, kl))
        return 1;
    for (size_t i = 0; i < c->n_keys; i++) {
        kl = strlen(c->keys[i]);
        if (kl && len >= kl && memmem(body, len, c->keys[i], kl))
            return 1;
    }
    return 0;
}

/* One call with a given key; the access-style log line names the key by
 * its label, never by its value. */
static void call_upstream(struct proxy *p, const char *key, const char *label)
{
    struct req *r = &p->req;
    upstream_fetch(p->up, r->canon.resource, r->canon.query.data ? r->canon.query.data : "", key, &r->up);
    if (up_outcome(r->up.cls)->settle != UP_SETTLE_REFUND)
        r->calls++;     /* reached Google, which charged it */
    metrics_upstream(r->up.cls, r->up.seconds);
    log_msg(YLOG_INFO, "upstream %s?%s status=%ld class=%s reason=%s time=%.3fs key=%s cost=%ld",
            r->canon.resource, r->canon.query.data ? r->canon.query.data : "", r->up.status,
            up_outcome(r->up.cls)->name, r->up.reason[0] ? r->up.reason : "-", r->up.seconds, label,
            r->cost);
    if (r->up.body.len && leaks_key(p->conf, r->upstream_key ? NULL : key, r->up.body.data, r->up.body.len)) {
        log_msg(YLOG_ERROR, "upstream answer for %s contained a server key; dropped", r->canon.resource);
        r->up.cls = UP_BAD_BODY;
        buf_reset(&r->up.body);
    }
}

/* retry_after: what the deciding module knows (the breaker's cool-down, the
 * client's window), 0 for the outcome's own default. */
static void decided(struct req *r, enum up_class cls, long retry_after)
{
    metrics_upstream(cls, 0);
    r->up.cls = cls;
    r->up.status = 0;
    buf_reset(&r->up.body);
    r->retry_after = retry_after;
}

/* Without the database there is no accounting: the config's keys are used
 * in turn (db_outage = error avoids this). */
static void fetch_unaccounted(struct proxy *p)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    if (c->n_keys == 0) {
        decided(r, UP_DB_ERROR, c->db_retry_ms / 1000 + 1);
        return;
    }
    for (size_t i = 0; i < c->n_keys; i++) {
        size_t slot = p->key_next++ % c->n_keys;
        char label[32];
        snprintf(label, sizeof label, "config#%zu", slot + 1);
        call_upstream(p, c->keys[slot], label);
        if (!up_outcome(r->up.cls)->key_problem)
            break;
    }
}

/* Reserve, call, settle; on a key-level failure the same request moves on
 * to the next key, so the client never sees Google's 403 while a key has
 * room. Every outcome is decided before answering. */
static void fetch_pooled(struct proxy *p)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    char err[256];
    if (!p->keys_synced) {
        if (quota_sync_keys(p->db, c, err, sizeof err) < 0)
            log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot synchronise keys: %s", err);
        p->keys_synced = 1;
    }
    const char *region = canon_get(&r->canon, "regionCode");
    if (!region)
        region = canon_get(&r->canon, "relevanceLanguage");
    long tried[1 + CONF_MAX_LIST];
    for (int attempt = 0; attempt < 1 + CONF_MAX_LIST; attempt++) {
        struct quota_grant g;
        enum quota_status qs = quota_reserve(p->db, c, r->canon.resource, region, r->use_reserve, &g, err, sizeof err);
        if (qs == QUOTA_ERROR) {
            log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "quota accounting unavailable: %s", err);
            fetch_unaccounted(p);
            return;
        }
        if (qs != QUOTA_GRANTED) {
            /* nothing to spend: never call upstream in this state. If keys
             * were tried for this request, their last answer tells why. */
            if (attempt > 0)
                return;
            long long nkeys = 0, nactive = 0;
            if (qs == QUOTA_EXHAUSTED && quota_pool_count(p->db, &nkeys, &nactive, err, sizeof err) == 0 &&
                nactive == 0) {
                /* the fix differs: add a key, or enable one that is there */
                if (nkeys == 0)
                    log_burst(LOG_SLOT_UPSTREAM, 60, YLOG_ERROR,
                              "the key pool is empty: set [upstream] keys or use ytcachectl keys add");
                else if (nkeys == 1)
                    log_burst(LOG_SLOT_UPSTREAM, 60, YLOG_ERROR,
                              "the only key of the pool is disabled: ytcachectl keys list shows why, "
                              "ytcachectl keys enable LABEL puts it back in use");
                else
                    log_burst(LOG_SLOT_UPSTREAM, 60, YLOG_ERROR,
                              "all %lld keys of the pool are disabled: ytcachectl keys list shows why, "
                              "ytcachectl keys enable LABEL puts one back in use", nkeys);
                decided(r, UP_NO_KEY, 0);
                return;
            }
            log_msg(YLOG_WARN, "no quota for %s (%s)", r->canon.resource,
                    qs == QUOTA_OVER_BUDGET ? "region budget spent" : "all keys exhausted");
            decided(r, qs == QUOTA_OVER_BUDGET ? UP_OVER_BUDGET : UP_NO_QUOTA, 0);
            return;
        }
        /* each key at most once per request (a rate-limited key stays in the pool) */
        int again = 0;
        for (int i = 0; i < attempt; i++)
            again |= tried[i] == g.key_id;
        if (again) {
            quota_release(p->db, &g);
            memset(g.secret, 0, sizeof g.secret);
            return;
        }
        tried[attempt] = g.key_id;
        call_upstream(p, g.secret, g.label);
        int next = quota_settle(p->db, c, &g, r->up.cls, r->up.reason);
        memset(g.secret, 0, sizeof g.secret);
        if (!next)
            return;
    }
}

static void fetch(struct proxy *p, int db_ok)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    char err[256];
    r->up.cls = UP_TRANSPORT;
    if (!db_ok) {
        if (r->upstream_key)
            call_upstream(p, r->upstream_key, "client");
        else
            fetch_unaccounted(p);
        return;
    }
    /* the client's limit first: a refused client must not take the breaker's probe */
    long wait = 0;
    int allowed = r->refresher ? 1 : climit_take(p->db, c, r->client, r->cost, &wait, err, sizeof err);
    if (allowed < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "client limit unavailable: %s", err);
    if (allowed == 0) {
        log_msg(YLOG_INFO, "client %s over its quota limit; retry in %ld s", r->client, wait);
        decided(r, UP_CLIENT_LIMIT, wait);
        return;
    }
    struct breaker_ticket t;
    if (!breaker_allow(p->db, c, &t, &wait)) {
        decided(r, UP_BREAKER_OPEN, wait);
    } else {
        if (r->upstream_key)
            call_upstream(p, r->upstream_key, "client");
        else
            fetch_pooled(p);
        if (r->up.status || breaker_is_failure(r->up.cls))
            breaker_record(p->db, c, &t, r->up.cls);
        else
            breaker_release(p->db, &t);
    }
    /* a miss that cost no quota costs the client nothing */
    if (r->calls == 0 && !r->refresher)
        climit_refund(p->db, c, r->client, r->cost);
}

static long store_ttl(const struct proxy *p)
{
    return up_outcome(p->req.up.cls)->negative ? p->conf->negative_ttl : p->req.ttl;
}

static void store(struct proxy *p)
{
    struct req *r = &p->req;
    char err[256];
    if (canon_request_json(&r->canon, r->keyid, &r->scratch) < 0 ||
        cache_store(p->db, r->key, r->scratch.data, r->up.body.data, r->up.body.len, r->up.status,
                    r->up.etag, store_ttl(p), canon_get(&r->canon, "id"), err, sizeof err) < 0)
        log_burst(LOG_SLOT_STORE, 10, YLOG_ERROR, "cannot store %s: %s", r->canon.resource, err);
    /* the next hit reads the new row and its revision; the old copy is gone */
    hot_drop(p->hot, r->key);
    r->have_entry = 0;
}

/* Our own error for an unusable upstream outcome, from its descriptor. */
static void upstream_error(struct proxy *p, struct yerr *e)
{
    struct req *r = &p->req;
    const struct up_outcome *o = up_outcome(r->up.cls);
    if (o->message_status)
        yerr_set(e, o->status, o->reason, "", "%s %ld.", o->message, r->up.status);
    else
        yerr_set(e, o->status, o->reason, "", "%s", o->message);
    if (o->retry == UP_RETRY_MIDNIGHT)
        e->retry_after = util_secs_to_pacific_midnight(time(NULL));
    else if (o->retry == UP_RETRY_SECONDS)
        e->retry_after = r->retry_after > 0 ? r->retry_after : o->retry_after;
}

/* After a fetch: store what may be stored, answer the client. */
static void answer_fetched(struct proxy *p, int db_ok)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    const struct up_outcome *o = up_outcome(r->up.cls);
    if (o->cacheable) {
        if (db_ok)
            store(p);
        long ttl = store_ttl(p);
        send_body(p, (int)r->up.status, db_ok ? "MISS" : "BYPASS", 0, ttl, r->up.etag,
                  r->up.body.data, r->up.body.len);
        return;
    }
    if (r->have_entry && -r->entry.left <= c->sie) {
        log_msg(YLOG_INFO, "serving stale %s: upstream %s", r->canon.resource, o->name);
        send_body(p, (int)r->entry.status, "STALE", r->entry.age, 0, r->entry.etag,
                  r->entry.data, r->entry.len);
        return;
    }
    /* a caller's own key problem in passthrough mode is theirs to see */
    if (r->upstream_key && o->key_problem && r->up.body.len) {
        send_response(p, (int)r->up.status, "Cache-Control: no-store\r\nX-Cache: MISS\r\n",
                      r->up.body.data, r->up.body.len);
        return;
    }
    upstream_error(p, &r->err);
    send_error(p, &r->err);
}

/* ---- request handling ---------------------------------------------------- */

static int fresh_enough(const struct req *r)
{
    if (r->entry.left <= 0)
        return 0;
    /* a client ttl= asks for at most that age, like max-age in a request */
    if (r->canon.client_ttl >= 0 && r->entry.age >= r->ttl)
        return 0;
    return 1;
}

/* The row for r->key into r->entry, like cache_lookup: from this process's
 * hot memory while the database confirmed it less than hot_trust_ms ago and
 * it has not expired, else after asking the database (only for the
 * revision when memory holds a copy: no body crosses the socket). A copy
 * served from memory is not copied: r->entry.data points at it. */
static int lookup(struct proxy *p, char *err, size_t errlen)
{
    struct req *r = &p->req;
    struct cache_entry *e = &r->entry;
    int trusted = 0;
    if (hot_get(p->hot, r->key, util_now_ms(), e, &trusted)) {
        if (trusted && e->left > 0) {
            metrics_hot(MH_MEMORY);
            return 1;
        }
        uint64_t rev = 0;
        long age = 0, left = 0;
        int phase = 0;
        int rc = cache_check(p->db, r->key, &rev, &age, &left, &phase, err, errlen);
        if (rc < 0) {
            if (!fresh_enough(r))
                return -1;
            /* The database is unreachable: a copy that has not expired is a
             * better answer than an error or a call to Google (db_outage =
             * bypass would make one per request). */
            log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "database: %s; serving hot rows from memory", err);
            metrics_hot(MH_MEMORY);
            return 1;
        }
        if (rc == 1 && rev == e->rev) {
            hot_confirm(p->hot, r->key, age, left, phase, util_now_ms());
            e->age = age;
            e->left = left;
            metrics_hot(MH_CHECKED);
            return 1;
        }
        metrics_hot(MH_REREAD);
        hot_drop(p->hot, r->key);
        if (rc == 0)
            return 0;
    }
    int found = cache_lookup(p->db, r->key, e, err, errlen);
    if (found == 1)
        hot_put(p->hot, r->key, e, util_now_ms());
    return found;
}

static void serve_hit(struct proxy *p)
{
    struct req *r = &p->req;
    long left = r->entry.left;
    if (r->canon.client_ttl >= 0 && r->ttl - r->entry.age < left)
        left = r->ttl - r->entry.age;
    send_body(p, (int)r->entry.status, "HIT", r->entry.age, left, r->entry.etag,
              r->entry.data, r->entry.len);
    r->defer_hit = 1;
}

/* Find the resource in the path; NULL with *compat set when the path has no
 * /youtube/v3/ part (then the query's endpoint= names it). */
static int route(struct proxy *p, char *resource, size_t rlen, int *compat, struct yerr *e)
{
    struct req *r = &p->req;
    const char *path = http_env(r->io, "PATH_INFO");
    if (!path || !*path) {
        path = http_env(r->io, "REQUEST_URI");
        if (!path)
            path = http_env(r->io, "SCRIPT_NAME");
    }
    if (!path)
        path = "/";
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    static const char marker[] = "/youtube/v3/";
    const char *m = NULL;
    for (const char *s = path; (s = memmem(s, plen - (size_t)(s - path), marker, sizeof marker - 1)); s++)
        m = s;
    *compat = 0;
    /* the service's own routes, wherever they are mounted (also under
     * /youtube/v3/, which the shipped web server configs pass on) */
    size_t n = plen;
    while (n > 1 && path[n - 1] == '/')
        n--;
    static const struct { const char *suffix; int route; } own[] = {
        { "/health", MR_HEALTH }, { "/metrics", MR_METRICS }, { "/websub", MR_WEBSUB },
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t sl = strlen(own[i].suffix);
        if (n >= sl && memcmp(path + n - sl, own[i].suffix, sl) == 0) {
            r->route = own[i].route;
            return 0;
        }
    }
    if (!m) {
        r->route = MR_COMPAT;
        *compat = 1;
        resource[0] = '\0';
        return 0;
    }
    r->route = MR_API;
    const char *name = m + sizeof marker - 1;
    size_t nlen = plen - (size_t)(name - path);
    while (nlen && name[nlen - 1] == '/')
        nlen--;
    if (nlen == 0) {            /* /youtube/v3/?endpoint=...: the compatibility form */
        r->route = MR_COMPAT;
        *compat = 1;
        resource[0] = '\0';
        return 0;
    }
    if (nlen >= rlen || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") < nlen) {
        yerr_set(e, 404, "notFound", "", "Unknown resource.");
        return -1;
    }
    memcpy(resource, name, nlen);
    resource[nlen] = '\0';
    if (!canon_resource_known(resource)) {
        yerr_set(e, 404, "notFound", "", "Unknown resource: %s.", resource);
        return -1;
    }
    return 0;
}

/* GET <mount>/health: the database and the breaker, as JSON; 503 without a database. */
static void serve_health(struct proxy *p)
{
    struct req *r = &p->req;
    char err[256];
    int schema = migrate_version(p->db, err, sizeof err);
    int state = 0;
    long failures = 0;
    int breaker_ok = schema >= 2 && breaker_read(p->db, &state, &failures, err, sizeof err) == 0;
    static const char *const states[] = { "closed", "open", "half-open" };
    buf_t *b = &r->scratch;
    buf_reset(b);
    if (schema < 0) {
        buf_appendf(b, "{\"status\":\"unavailable\",\"version\":\"%s\",\"database\":{\"ok\":false}}",
                    PACKAGE_VERSION);
        send_response(p, 503, "Cache-Control: no-store\r\nRetry-After: 1\r\n", b->data, b->len);
        return;
    }
    int current = schema >= migrate_latest();
    buf_appendf(b, "{\"status\":\"%s\",\"version\":\"%s\",\"database\":{\"ok\":true,\"schema\":%d,"
                   "\"schema_current\":%s},\"breaker\":{\"state\":\"%s\",\"failures\":%ld}}",
                current && breaker_ok && state == 0 ? "ok" : "degraded", PACKAGE_VERSION, schema, current ? "true" : "false",
                breaker_ok && state >= 0 && state <= 2 ? states[state] : "unknown", failures);
    send_response(p, 200, "Cache-Control: no-store\r\n", b->data, b->len);
}

/* GET <mount>/metrics: Prometheus text format, for the allowed addresses only. */
static void serve_metrics(struct proxy *p)
{
    struct req *r = &p->req;
    if (!metrics_allowed(p->conf, http_env(r->io, "REMOTE_ADDR"))) {
        yerr_set(&r->err, 403, "forbidden", "", "Metrics are not available to this address.");
        send_error(p, &r->err);
        return;
    }
    if (metrics_render(p->db, p->conf, &r->scratch) < 0) {
        yerr_set(&r->err, 500, "internalError", "", "Out of memory.");
        send_error(p, &r->err);
        return;
    }
    send_typed(p, 200, "text/plain; version=0.0.4; charset=utf-8", "Cache-Control: no-store\r\n",
               r->scratch.data, r->scratch.len);
}

/* <mount>/websub: the hub's intent checks (GET) and notifications (POST). */
static void serve_websub(struct proxy *p, const char *method, const char *qs)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    struct websub_answer a = { 0, NULL, { 0 } };
    if (strcmp(method, "GET") == 0) {
        websub_verify_intent(p->db, c, qs, &a);
    } else if (strcmp(method, "POST") == 0) {
        const char *cl = http_env(r->io, "CONTENT_LENGTH");
        long len = 0;
        if (!cl || util_parse_long(cl, 0, c->websub_max_body, &len) < 0) {
            metrics_websub("oversize", 1);
            log_msg(YLOG_WARN, "websub: notification without a length or over %ld bytes refused", c->websub_max_body);
            yerr_set(&r->err, 413, "requestTooLarge", "", "Notification body too large.");
            send_error(p, &r->err);
            return;
        }
        if (http_read_body(r->io, (size_t)len, &r->scratch) < 0) {
            yerr_set(&r->err, 400, "invalidRequest", "", "Incomplete request body.");
            send_error(p, &r->err);
            return;
        }
        websub_notify(p->db, c, qs, r->scratch.data ? r->scratch.data : "", r->scratch.len,
                      http_env(r->io, "HTTP_X_HUB_SIGNATURE"), &a);
    } else {
        /* HEAD too: verifying intent changes the subscription */
        yerr_set(&r->err, 405, "methodNotAllowed", "", "WebSub uses GET and POST.");
        r->allow = "GET, POST";
        send_error(p, &r->err);
        return;
    }
    send_typed(p, a.status, a.ctype, "Cache-Control: no-store\r\n", a.body.data ? a.body.data : "", a.body.len);
    buf_free(&a.body);
}

static void preflight(struct proxy *p)
{
    struct req *r = &p->req;
    char extra[512] = "Allow: GET, HEAD, OPTIONS\r\n";
    if (origin_allowed(p->conf, r->origin)) {
        size_t n = strlen(extra);
        snprintf(extra + n, sizeof extra - n,
                 "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: If-None-Match, Content-Type\r\n"
                 "Access-Control-Max-Age: 86400\r\n");
    }
    send_response(p, 204, extra, NULL, 0);
}

static void reset_req(struct req *r, struct http_io *io)
{
    r->io = io;
    r->headers_sent = 0;
    r->is_head = 0;
    r->origin = NULL;
    r->keyid[0] = '\0';
    r->upstream_key = NULL;
    r->ttl = 0;
    r->have_entry = 0;
    r->defer_hit = 0;
    r->defer_refresh = 0;
    r->retry_after = 0;
    r->cost = 0;
    r->calls = 0;
    r->xcache = NULL;
    r->allow = NULL;
    r->route = MR_OTHER;
    r->refresher = 0;
    r->use_reserve = 0;
    memset(&r->err, 0, sizeof r->err);
}

/* The miss path: one fetch across all processes (GET_LOCK), then answer. */
static void miss(struct proxy *p)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    char err[256];
    int locked = cache_lock(p->db, r->key, c->lock_wait_ms, err, sizeof err);
    if (locked < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "fetch lock unavailable: %s", err);
        if (c->db_outage == CONF_DB_OUTAGE_ERROR) {
            /* the database went away after the lookup: same answer as before it */
            yerr_set(&r->err, 503, "databaseUnavailable", "", "The cache database is unavailable.");
            r->err.retry_after = c->db_retry_ms / 1000 + 1;
            return;
        }
    }
    if (locked >= 0) {
        /* someone else may have fetched it while we waited */
        int found = cache_lookup(p->db, r->key, &r->entry, err, sizeof err);
        if (found == 1) {
            r->have_entry = 1;
            if (fresh_enough(r)) {
                if (locked == 1)
                    cache_unlock(p->db, r->key, err, sizeof err);
                serve_hit(p);
                return;
            }
        }
        if (locked == 0)
            log_msg(YLOG_WARN, "waited %ld ms for another fetch of %s; fetching", c->lock_wait_ms, r->canon.resource);
    }
    fetch(p, locked >= 0);
    answer_fetched(p, locked >= 0);
    if (locked == 1 && cache_unlock(p->db, r->key, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot release fetch lock: %s", err);
}

void proxy_handle(struct proxy *p, struct http_io *io)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    struct yerr *e = &r->err;
    char err[256];
    reset_req(r, io);
    r->origin = http_env(io, "HTTP_ORIGIN");
    /* kept as a copy: deferred work runs after the environment is gone */
    climit_client_id(c, http_env(io, "REMOTE_ADDR"), http_env(io, "HTTP_X_FORWARDED_FOR"), r->client, sizeof r->client);

    const char *method = http_env(io, "REQUEST_METHOD");
    if (!method)
        method = "GET";
    char resource[32];
    int compat = 0;
    if (strcmp(method, "OPTIONS") == 0) {
        preflight(p);
        goto finish;
    }
    r->is_head = strcmp(method, "HEAD") == 0;
    const char *qs = http_env(io, "QUERY_STRING");
    if (!qs)
        qs = "";
    if ((long)strlen(qs) > c->max_query_bytes) {
        yerr_set(e, 414, "uriTooLong", "", "Query string longer than %ld bytes.", c->max_query_bytes);
        goto finish;
    }
    int routed = route(p, resource, sizeof resource, &compat, e);
    if (routed == 0 && r->route == MR_WEBSUB) {
        serve_websub(p, method, qs);
        goto finish;
    }
    if (strcmp(method, "GET") != 0 && !r->is_head) {
        yerr_set(e, 405, "methodNotAllowed", "", "Only GET, HEAD and OPTIONS are supported.");
        goto finish;
    }
    if (routed < 0)
        goto finish;
    const char *cl = http_env(io, "CONTENT_LENGTH");
    long clen = 0;
    if (cl && *cl && (util_parse_long(cl, 0, MAX_CONTENT_LENGTH, &clen) < 0)) {
        yerr_set(e, 413, "requestTooLarge", "", "Request body too large.");
        goto finish;
    }
    if (r->route == MR_HEALTH) {
        serve_health(p);
        goto finish;
    }
    if (r->route == MR_METRICS) {
        serve_metrics(p);
        goto finish;
    }
    if (canon_parse(&r->canon, compat ? NULL : resource, qs, e) < 0)
        goto finish;

    /* whose key: the pool's, or (passthrough) the caller's */
    if (c->key_mode == CONF_KEY_PASSTHROUGH && r->canon.client_key && *r->canon.client_key) {
        r->upstream_key = r->canon.client_key;
        canon_key_fingerprint(r->upstream_key, r->keyid, sizeof r->keyid);
    } else if (c->key_mode == CONF_KEY_PASSTHROUGH && c->n_keys == 0) {
        yerr_set(e, 400, "missingParameter", "key", "Required parameter: key.");
        goto finish;
    } else {
        /* the pool: config keys and keys added with ytcachectl */
        util_copy(r->keyid, sizeof r->keyid, "pool");
    }
    if (canon_cache_key(&r->canon, r->keyid, r->key) < 0) {
        yerr_set(e, 500, "internalError", "", "Out of memory.");
        goto finish;
    }
    r->ttl = conf_ttl_for(c, r->canon.resource, &r->canon, r->canon.client_ttl);
    {
        const char *bucket;
        conf_cost_for(c, r->canon.resource, &bucket, &r->cost);
    }

    int found = lookup(p, err, sizeof err);
    if (found < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "database: %s", err);
        if (c->db_outage == CONF_DB_OUTAGE_ERROR) {
            yerr_set(e, 503, "databaseUnavailable", "", "The cache database is unavailable.");
            e->retry_after = c->db_retry_ms / 1000 + 1;
            goto finish;
        }
        fetch(p, 0);
        answer_fetched(p, 0);
        goto finish;
    }
    if (found == 1) {
        r->have_entry = 1;
        if (fresh_enough(r)) {
            serve_hit(p);
            goto finish;
        }
        if (-r->entry.left <= c->swr && r->entry.left <= 0) {
            send_body(p, (int)r->entry.status, "STALE", r->entry.age, 0, r->entry.etag,
                      r->entry.data, r->entry.len);
            r->defer_refresh = 1;
            goto finish;
        }
    }
    miss(p);

finish:
    if (!r->headers_sent) {
        if (!e->status)
            yerr_set(e, 500, "internalError", "", "Internal error.");
        send_error(p, e);
    }
    {
        enum metrics_cache mc = MC_NONE;
        if (r->xcache)
            mc = r->xcache[0] == 'H' ? MC_HIT : r->xcache[0] == 'M' ? MC_MISS : r->xcache[0] == 'S' ? MC_STALE : MC_BYPASS;
        metrics_request((enum metrics_route)r->route, mc);
    }
    r->origin = NULL;    /* the environment dies with the request */
}

void proxy_flush(struct proxy *p)
{
    char err[256];
    if (p->hits.used && cache_hits_flush(p->db, &p->hits, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot count hits: %s", err);
}

void proxy_after(struct proxy *p)
{
    struct req *r = &p->req;
    char err[256];
    if (r->defer_hit) {
        if (p->hits.used == CACHE_HIT_SLOTS)
            proxy_flush(p);
        cache_hits_add(&p->hits, r->key);
    }
    if (cache_hits_due(&p->hits, util_now_ms()))
        proxy_flush(p);
    if (r->defer_refresh) {
        /* only one process refreshes; the others keep serving the stale copy */
        if (cache_lock(p->db, r->key, 0, err, sizeof err) == 1) {
            r->refresher = 1;   /* done for every client: nobody's limit is charged */
            if (cache_lookup(p->db, r->key, &r->entry, err, sizeof err) == 1 && !fresh_enough(r)) {
                fetch(p, 1);
                if (up_outcome(r->up.cls)->cacheable)
                    store(p);
            }
            cache_unlock(p->db, r->key, err, sizeof err);
        }
    }
    r->defer_hit = r->defer_refresh = 0;
}

int proxy_refresh(struct proxy *p, const char *resource, const char *qs, long due_within, long ttl,
                  int use_reserve, int dry_run, struct proxy_refresh_info *info)
{
    struct req *r = &p->req;
    const struct conf *c = p->conf;
    char err[256];
    static struct http_io no_io = { NULL, NULL, NULL };
    reset_req(r, &no_io);
    memset(info, 0, sizeof *info);
    util_copy(r->client, sizeof r->client, "refresher");
    r->refresher = 1;
    r->use_reserve = use_reserve;
    if (canon_parse(&r->canon, resource, qs, &r->err) < 0) {
        util_copy(info->detail, sizeof info->detail, r->err.message);
        return PROXY_REFRESH_INVALID;
    }
    util_copy(r->keyid, sizeof r->keyid, "pool");
    if (canon_cache_key(&r->canon, r->keyid, r->key) < 0) {
        util_copy(info->detail, sizeof info->detail, "out of memory");
        return PROXY_REFRESH_FAILED;
    }
    r->ttl = ttl > 0 ? ttl : conf_ttl_for(c, r->canon.resource, &r->canon, -1);
    const char *bucket;
    conf_cost_for(c, r->canon.resource, &bucket, &r->cost);
    info->cost = r->cost;
    int found = cache_lookup(p->db, r->key, &r->entry, err, sizeof err);
    if (found < 0) {
        util_copy(info->detail, sizeof info->detail, err);
        return PROXY_REFRESH_DB_ERROR;
    }
    if (found == 1 && r->entry.left > due_within) {
        info->body = r->entry.data;
        info->len = r->entry.len;
        return PROXY_REFRESH_FRESH;
    }
    if (dry_run)
        return PROXY_REFRESH_DUE;
    int locked = cache_lock(p->db, r->key, 0, err, sizeof err);
    if (locked < 0) {
        util_copy(info->detail, sizeof info->detail, err);
        return PROXY_REFRESH_DB_ERROR;
    }
    if (locked == 0)
        return PROXY_REFRESH_BUSY;
    fetch(p, 1);
    int rc;
    const struct up_outcome *o = up_outcome(r->up.cls);
    if (o->cacheable) {
        store(p);
        info->body = r->up.body.data;
        info->len = r->up.body.len;
        rc = PROXY_REFRESH_FETCHED;
    } else if (o->cause == UP_CAUSE_QUOTA) {
        rc = PROXY_REFRESH_NO_QUOTA;
    } else if (o->cause == UP_CAUSE_DB) {
        rc = PROXY_REFRESH_DB_ERROR;
    } else {
        rc = PROXY_REFRESH_FAILED;
    }
    info->units = r->calls * r->cost;
    info->status = r->up.status;
    util_copy(info->detail, sizeof info->detail, o->name);
    cache_unlock(p->db, r->key, err, sizeof err);
    return rc;
}
