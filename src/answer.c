/* answer: writing one response: head, CORS, ETag/304, errors, and the service's own pages (health, metrics, WebSub). */
#include "answer.h"
#include "breaker.h"
#include "conf.h"
#include "config.h"
#include "economy.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "upstream.h"
#include "websub.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

static void add_cors(const struct answer *a, buf_t *h)
{
    const struct conf *c = a->conf;
    if (!c->n_cors)
        return;
    if (origin_allowed(c, a->origin)) {
        buf_appendf(h, "Access-Control-Allow-Origin: %s\r\n", c->cors_any ? "*" : a->origin);
        buf_appends(h, "Access-Control-Expose-Headers: X-Cache, Age, ETag, Retry-After, " ECONOMY_HEADER "\r\n");
    }
    if (!c->cors_any)
        buf_appends(h, "Vary: Origin\r\n");
}

/* Send a whole response: head and (unless HEAD / 304 / 204) body, in one go. */
static void send_typed(struct answer *a, int status, const char *ctype, const char *extra_headers,
                       const char *body, size_t len)
{
    buf_t *h = a->head;
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
    add_cors(a, h);
    buf_appends(h, "\r\n");
    a->headers_sent = 1;
    if (!h->data || http_write(a->io, h->data, h->len) < 0)
        return;
    if (status != 304 && status != 204 && !a->is_head && len)
        http_write(a->io, body, len);
}

static void send_response(struct answer *a, int status, const char *extra_headers, const char *body, size_t len)
{
    send_typed(a, status, "application/json; charset=UTF-8", extra_headers, body, len);
}

void answer_error(struct answer *a, const struct yerr *e)
{
    metrics_error(e->reason);
    char extra[256];
    int n = snprintf(extra, sizeof extra, "Cache-Control: no-store\r\n");
    if (e->retry_after > 0)
        n += snprintf(extra + n, sizeof extra - (size_t)n, "Retry-After: %ld\r\n", e->retry_after);
    if (e->status == 405)
        snprintf(extra + n, sizeof extra - (size_t)n, "Allow: %s\r\n", a->allow ? a->allow : "GET, HEAD, OPTIONS");
    if (http_error_json(a->scratch, e) < 0) {
        static const char fallback[] = "{\"error\":{\"code\":500,\"message\":\"Out of memory.\"}}";
        send_response(a, 500, extra, fallback, sizeof fallback - 1);
        return;
    }
    send_response(a, e->status, extra, a->scratch->data, a->scratch->len);
}

void answer_body(struct answer *a, int status, const char *xcache, long age, long max_age, const char *etag,
                 const char *body, size_t len)
{
    buf_t *x = a->extra;
    if (max_age < 0)
        max_age = 0;
    a->xcache = xcache;
    if (strcmp(xcache, "STALE") == 0)
        metrics_stale();
    buf_reset(x);
    /* room for every header below, so that no append can fail half way */
    int room = buf_reserve(x, 224 + (etag ? strlen(etag) : 0) + (a->source ? strlen(a->source) : 0)) == 0;
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
    if (a->source) {
        buf_appends(x, ECONOMY_HEADER ": ");
        buf_appends(x, a->source);
        buf_appends(x, "\r\n");
    }
    if (etag && *etag) {
        buf_appends(x, "ETag: \"");
        buf_appends(x, etag);
        buf_appends(x, "\"\r\n");
    }
    /* out of memory: send no extra headers rather than half of them */
    const char *extra = room ? x->data : "";
    const char *inm = http_env(a->io, "HTTP_IF_NONE_MATCH");
    if (status == 200 && etag && *etag && http_etag_match(inm, etag)) {
        send_response(a, 304, extra, NULL, 0);
        return;
    }
    send_response(a, status, extra, body, len);
}

void answer_passthrough(struct answer *a, int status, const char *body, size_t len)
{
    send_response(a, status, "Cache-Control: no-store\r\nX-Cache: MISS\r\n", body, len);
}

int answer_cache_result(const struct answer *a)
{
    const char *x = a->xcache;
    if (!x)
        return MC_NONE;
    return x[0] == 'H' ? MC_HIT : x[0] == 'M' ? MC_MISS : x[0] == 'S' ? MC_STALE : MC_BYPASS;
}

void answer_outcome_error(struct yerr *e, const struct up_result *up, long retry_after)
{
    const struct up_outcome *o = up_outcome(up->cls);
    if (o->message_status)
        yerr_set(e, o->status, o->reason, "", "%s %ld.", o->message, up->status);
    else
        yerr_set(e, o->status, o->reason, "", "%s", o->message);
    if (o->retry == UP_RETRY_MIDNIGHT)
        e->retry_after = util_secs_to_pacific_midnight(time(NULL));
    else if (o->retry == UP_RETRY_SECONDS)
        e->retry_after = retry_after > 0 ? retry_after : o->retry_after;
}

void answer_preflight(struct answer *a)
{
    char extra[512] = "Allow: GET, HEAD, OPTIONS\r\n";
    if (origin_allowed(a->conf, a->origin)) {
        size_t n = strlen(extra);
        snprintf(extra + n, sizeof extra - n,
                 "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: If-None-Match, Content-Type\r\n"
                 "Access-Control-Max-Age: 86400\r\n");
    }
    send_response(a, 204, extra, NULL, 0);
}

void answer_health(struct answer *a, struct db *d)
{
    char err[UTIL_ERRLEN];
    int schema = migrate_version(d, err, sizeof err);
    int state = 0;
    long failures = 0;
    int breaker_ok = schema >= 2 && breaker_read(d, &state, &failures, err, sizeof err) == 0;
    static const char *const states[] = { "closed", "open", "half-open" };
    buf_t *b = a->scratch;
    buf_reset(b);
    if (schema < 0) {
        buf_appendf(b, "{\"status\":\"unavailable\",\"version\":\"%s\",\"database\":{\"ok\":false}}",
                    PACKAGE_VERSION);
        send_response(a, 503, "Cache-Control: no-store\r\nRetry-After: 1\r\n", b->data, b->len);
        return;
    }
    int current = schema >= migrate_latest();
    buf_appendf(b, "{\"status\":\"%s\",\"version\":\"%s\",\"database\":{\"ok\":true,\"schema\":%d,"
                   "\"schema_current\":%s},\"breaker\":{\"state\":\"%s\",\"failures\":%ld}}",
                current && breaker_ok && state == 0 ? "ok" : "degraded", PACKAGE_VERSION, schema,
                current ? "true" : "false",
                breaker_ok && state >= 0 && state <= 2 ? states[state] : "unknown", failures);
    send_response(a, 200, "Cache-Control: no-store\r\n", b->data, b->len);
}

void answer_metrics(struct answer *a, struct db *d)
{
    struct yerr e = { 0 };
    if (!metrics_allowed(a->conf, http_env(a->io, "REMOTE_ADDR"))) {
        yerr_set(&e, 403, "forbidden", "", "Metrics are not available to this address.");
        answer_error(a, &e);
        return;
    }
    if (metrics_render(d, a->conf, a->scratch) < 0) {
        yerr_set(&e, 500, "internalError", "", "Out of memory.");
        answer_error(a, &e);
        return;
    }
    send_typed(a, 200, "text/plain; version=0.0.4; charset=utf-8", "Cache-Control: no-store\r\n",
               a->scratch->data, a->scratch->len);
}

/* A notification's body into a->scratch; 0, or -1 with the error sent. */
static int read_notification(struct answer *a)
{
    const struct conf *c = a->conf;
    struct yerr e = { 0 };
    const char *cl = http_env(a->io, "CONTENT_LENGTH");
    long len = 0;
    if (!cl || util_parse_long(cl, 0, c->websub_max_body, &len) < 0) {
        metrics_websub("oversize", 1);
        log_msg(YLOG_WARN, "websub: notification without a length or over %ld bytes refused", c->websub_max_body);
        yerr_set(&e, 413, "requestTooLarge", "", "Notification body too large.");
        answer_error(a, &e);
        return -1;
    }
    if (http_read_body(a->io, (size_t)len, a->scratch) < 0) {
        yerr_set(&e, 400, "invalidRequest", "", "Incomplete request body.");
        answer_error(a, &e);
        return -1;
    }
    return 0;
}

void answer_websub(struct answer *a, struct db *d, const char *method, const char *qs)
{
    const struct conf *c = a->conf;
    struct websub_answer w = { 0, NULL, { 0 } };
    const char *path = http_env(a->io, "PATH_INFO");
    char buf[WEBSUB_TOKEN_LEN + 1];
    const char *token = websub_path_token(path && *path ? path : http_env(a->io, "REQUEST_URI"), buf, sizeof buf);
    if (strcmp(method, "GET") == 0) {
        websub_verify_intent(d, c, qs, token, &w);
    } else if (strcmp(method, "POST") == 0) {
        if (read_notification(a) < 0)
            return;
        websub_notify(d, c, qs, token, a->scratch->data ? a->scratch->data : "", a->scratch->len,
                      http_env(a->io, "HTTP_X_HUB_SIGNATURE"), &w);
    } else {
        /* HEAD too: verifying intent changes the subscription */
        struct yerr e = { 0 };
        yerr_set(&e, 405, "methodNotAllowed", "", "WebSub uses GET and POST.");
        a->allow = "GET, POST";
        answer_error(a, &e);
        return;
    }
    /* the challenge is the hub's text echoed back: never to be sniffed as HTML */
    send_typed(a, w.status, w.ctype, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
               w.body.data ? w.body.data : "", w.body.len);
    buf_free(&w.body);
}
