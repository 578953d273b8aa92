/* upstream: the one reused libcurl handle per process, and classification of Google's answers. */
#include "upstream.h"
#include "conf.h"
#include "log.h"
#include "config.h"
#include "ycurl.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct upstream {
    CURL *curl;
    const struct conf *conf;
    struct curl_slist *headers;
    buf_t url;
    struct up_result *cur;      /* result being filled by the write callback */
    int too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct upstream *u = ud;
    size_t n = size * nmemb;
    if (u->cur->body.len + n > (size_t)u->conf->max_response_bytes) {
        u->too_big = 1;
        return 0;       /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (buf_append(&u->cur->body, p, n) < 0)
        return 0;
    return n;
}

int upstream_open(struct upstream **out, const struct conf *c, char *err, size_t errlen)
{
    struct upstream *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    u->conf = c;
    *out = u;
    return 0;
}

/* The libcurl handle, made when the first request is about to go out:
 * most processes (CGI hits) never need one. */
static int handle(struct upstream *u, char *err, size_t errlen)
{
    if (u->curl)
        return 0;
    if (ycurl_load(err, errlen) < 0)
        return -1;
    if (!(u->curl = ycurl.easy_init())) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    const struct conf *c = u->conf;
    CURL *h = u->curl;
    ycurl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    ycurl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    ycurl.easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    ycurl.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");          /* every encoding libcurl has */
    ycurl.easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    ycurl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    ycurl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    ycurl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    ycurl.easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    ycurl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    ycurl.easy_setopt(h, CURLOPT_WRITEDATA, u);
    ycurl.easy_setopt(h, CURLOPT_USERAGENT, "ytcache/" PACKAGE_VERSION);
    u->headers = ycurl.slist_append(NULL, "Accept: application/json");
    ycurl.easy_setopt(h, CURLOPT_HTTPHEADER, u->headers);
    if (c->referer && *c->referer)
        ycurl.easy_setopt(h, CURLOPT_REFERER, c->referer);
    return 0;
}

void upstream_close(struct upstream **pu)
{
    struct upstream *u = *pu;
    if (!u)
        return;
    if (u->curl)
        ycurl.easy_cleanup(u->curl);
    if (u->headers)
        ycurl.slist_free_all(u->headers);
    buf_free(&u->url);
    free(u);
    *pu = NULL;
}

static int url_append_key(buf_t *b, const char *key)
{
    /* keys are [A-Za-z0-9_-] in practice; escape anything else anyway */
    return util_pct_encode(b, key, "-_.");
}

void upstream_fetch(struct upstream *u, const char *resource, const char *query, const char *key,
                    struct up_result *r)
{
    r->status = 0;
    r->cls = UP_TRANSPORT;
    r->reason[0] = '\0';
    r->etag[0] = '\0';
    r->seconds = 0;
    buf_reset(&r->body);
    if (handle(u, r->reason, sizeof r->reason) < 0)
        return;     /* a transport failure; the caller logs the reason */
    u->cur = r;
    u->too_big = 0;
    buf_reset(&u->url);
    const char *base = u->conf->base_url;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    if (buf_append(&u->url, base, blen) < 0 || buf_append(&u->url, "/", 1) < 0 ||
        buf_appends(&u->url, resource) < 0 || buf_append(&u->url, "?", 1) < 0 ||
        buf_appends(&u->url, query) < 0 ||
        (key && *key && (buf_appends(&u->url, *query ? "&key=" : "key=") < 0 || url_append_key(&u->url, key) < 0))) {
        util_copy(r->reason, sizeof r->reason, "out of memory");
        return;
    }
    ycurl.easy_setopt(u->curl, CURLOPT_URL, u->url.data);
    CURLcode cc = ycurl.easy_perform(u->curl);
    /* the URL holds the key: keep it neither in the handle (a keyless URL
     * replaces it; NULL upset libcurl's reconnect to a restarted server)
     * nor here */
    ycurl.easy_setopt(u->curl, CURLOPT_URL, u->conf->base_url);
    explicit_bzero(u->url.data, u->url.len);
    buf_reset(&u->url);
    double secs = 0;
    ycurl.easy_getinfo(u->curl, CURLINFO_TOTAL_TIME, &secs);
    r->seconds = secs;
    u->cur = NULL;
    if (cc != CURLE_OK) {
        if (u->too_big) {
            r->cls = UP_TOO_LARGE;
            util_copy(r->reason, sizeof r->reason, "response over max_response_bytes");
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            r->cls = UP_TIMEOUT;
            util_copy(r->reason, sizeof r->reason, "timeout");
        } else if (cc == CURLE_PARTIAL_FILE || cc == CURLE_BAD_CONTENT_ENCODING || cc == CURLE_GOT_NOTHING ||
                   cc == CURLE_RECV_ERROR) {
            /* connected, but the answer broke off: a bad answer, not an unreachable host */
            r->cls = UP_BAD_BODY;
            util_copy(r->reason, sizeof r->reason, ycurl.easy_strerror(cc));
        } else {
            r->cls = UP_TRANSPORT;
            util_copy(r->reason, sizeof r->reason, ycurl.easy_strerror(cc));
        }
        return;
    }
    ycurl.easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &r->status);
    r->cls = upstream_classify(r->status, r->body.data ? r->body.data : "", r->body.len,
                               r->reason, sizeof r->reason, r->etag, sizeof r->etag);
}

static const char *get_str(json_object *o, const char *k)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

/* case-insensitive search in a byte range that need not be NUL-terminated */
static int strcasestr_n(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n && i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static int is_any(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

enum up_class upstream_classify(long status, const char *body, size_t len, char *reason, size_t rlen,
                                char *etag, size_t etaglen)
{
    if (rlen)
        reason[0] = '\0';
    if (etaglen)
        etag[0] = '\0';
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return UP_BAD_BODY;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success || used != len || !json_object_is_type(root, json_type_object)) {
        /* a body that is not one JSON object cannot be served or stored */
        json_object_put(root);
        if (rlen)
            snprintf(reason, rlen, "non-JSON body (HTTP %ld)", status);
        return status >= 500 ? UP_BACKEND : UP_BAD_BODY;
    }
    enum up_class cls;
    const char *et = get_str(root, "etag");
    if (et && etaglen && util_all_in(et, UTIL_ALNUM "-_/+=.:", 0, etaglen - 1))
        memcpy(etag, et, strlen(et) + 1);
    if (status >= 200 && status < 300) {
        json_object_put(root);
        return UP_OK;
    }
    /* error.errors[0].reason and error.details[].reason */
    json_object *err = NULL, *errors = NULL, *details = NULL;
    const char *r0 = NULL, *dreason = NULL;
    if (json_object_object_get_ex(root, "error", &err)) {
        if (json_object_object_get_ex(err, "errors", &errors) &&
            json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0)
            r0 = get_str(json_object_array_get_idx(errors, 0), "reason");
        if (json_object_object_get_ex(err, "details", &details) &&
            json_object_is_type(details, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(details) && !dreason; i++)
                dreason = get_str(json_object_array_get_idx(details, i), "reason");
        }
    }
    static const char *const quota_r[] = { "quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg", NULL };
    static const char *const rate_r[] = { "rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED", NULL };
    static const char *const keyinv_r[] = { "keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED",
                                            "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED", "accessNotConfigured",
                                            NULL };
    static const char *const blocked_r[] = { "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED",
                                             "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED",
                                             "ipRefererBlocked", NULL };
    if (is_any(dreason, blocked_r) || is_any(r0, blocked_r))
        cls = UP_KEY_BLOCKED;
    else if (is_any(dreason, keyinv_r) || is_any(r0, keyinv_r))
        cls = UP_KEY_INVALID;
    else if (is_any(r0, quota_r) || is_any(dreason, quota_r))
        cls = UP_QUOTA;
    else if (status == 429 || is_any(r0, rate_r) || is_any(dreason, rate_r))
        /* a rate limit that names a per-day limit is a bucket running dry */
        cls = (memmem(body, len, "PerDay", 6) || strcasestr_n(body, len, "per day")) ? UP_QUOTA : UP_RATE_LIMIT;
    else if (status == 400)
        cls = UP_BAD_REQUEST;
    else if (status == 404)
        cls = UP_NOT_FOUND;
    else if (status == 403)
        cls = UP_FORBIDDEN;
    else
        cls = UP_BACKEND;
    if (rlen)
        snprintf(reason, rlen, "%s", dreason && cls != UP_QUOTA ? dreason : r0 ? r0 : "unknown");
    json_object_put(root);
    return cls;
}

#define QUOTA_MESSAGE "The YouTube API quota is exhausted; try again after it resets."
#define KEY_MESSAGE "YouTube rejected the proxy's API key."

static const struct up_outcome up_outcomes[UP__COUNT] = {
    [UP_OK] = { .name = "ok", .label = "ok", .summary = "ok",
                .cacheable = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_NONE, .status = 200 },
    [UP_BAD_REQUEST] = { .name = "bad_request", .label = "bad_request", .summary = "bad request",
                         .cacheable = 1, .negative = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_REQUEST,
                         .status = 400 },
    [UP_NOT_FOUND] = { .name = "not_found", .label = "not_found", .summary = "not found",
                       .cacheable = 1, .negative = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_REQUEST,
                       .status = 404 },
    [UP_FORBIDDEN] = { .name = "forbidden", .label = "forbidden", .summary = "forbidden",
                       .cacheable = 1, .negative = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_REQUEST,
                       .status = 403 },
    [UP_QUOTA] = { .name = "quota", .label = "quota", .summary = "quota exceeded",
                   .key_problem = 1, .settle = UP_SETTLE_EXHAUST, .cause = UP_CAUSE_QUOTA,
                   .status = 503, .reason = "quotaExhausted", .message = QUOTA_MESSAGE, .retry = UP_RETRY_MIDNIGHT },
    [UP_RATE_LIMIT] = { .name = "rate_limit", .label = "rate_limit", .summary = "rate limited",
                        /* a short-term limit on this key: charged, and another key may pass */
                        .key_problem = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_KEY,
                        .status = 503, .reason = "rateLimited",
                        .message = "YouTube is rate limiting requests; try again shortly.",
                        .retry = UP_RETRY_SECONDS, .retry_after = 60 },
    [UP_KEY_INVALID] = { .name = "key_invalid", .label = "key_invalid", .summary = "invalid key",
                         .key_problem = 1, .settle = UP_SETTLE_DISABLE, .cause = UP_CAUSE_KEY,
                         .status = 503, .reason = "apiKeyRejected", .message = KEY_MESSAGE,
                         .retry = UP_RETRY_SECONDS, .retry_after = 300 },
    [UP_KEY_BLOCKED] = { .name = "key_blocked", .label = "key_blocked", .summary = "key blocked",
                         .key_problem = 1, .settle = UP_SETTLE_DISABLE, .cause = UP_CAUSE_KEY,
                         .status = 503, .reason = "apiKeyRejected", .message = KEY_MESSAGE,
                         .retry = UP_RETRY_SECONDS, .retry_after = 300 },
    [UP_BACKEND] = { .name = "backend", .label = "backend", .summary = "upstream error",
                     .breaker_failure = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_UPSTREAM,
                     .status = 502, .reason = "upstreamError", .message = "YouTube answered with HTTP",
                     .message_status = 1 },
    [UP_TIMEOUT] = { .name = "timeout", .label = "timeout", .summary = "timeout",
                     .breaker_failure = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_UPSTREAM,
                     .status = 504, .reason = "upstreamTimeout", .message = "YouTube did not answer in time." },
    [UP_TRANSPORT] = { .name = "transport", .label = "transport", .summary = "unreachable",
                       .breaker_failure = 1, .settle = UP_SETTLE_REFUND, .cause = UP_CAUSE_UPSTREAM,
                       .status = 502, .reason = "upstreamUnreachable", .message = "YouTube could not be reached." },
    [UP_BAD_BODY] = { .name = "bad_body", .label = "bad_body", .summary = "unusable answer",
                      .breaker_failure = 1, .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_UPSTREAM,
                      .status = 502, .reason = "upstreamError",
                      .message = "YouTube sent an answer that could not be used." },
    /* the request's own doing (a query with a huge answer, or one that makes
     * Google echo the key): kept for negative_ttl as our error body, so a
     * repeat costs no call */
    [UP_TOO_LARGE] = { .name = "too_large", .label = "too_large", .summary = "answer too large",
                       .cacheable = 1, .negative = 1, .our_body = 1, .settle = UP_SETTLE_CHARGE,
                       .cause = UP_CAUSE_REQUEST, .status = 502, .reason = "upstreamTooLarge",
                       .message = "YouTube's answer is larger than this proxy passes on." },
    [UP_KEY_ECHO] = { .name = "key_echo", .label = "key_echo", .summary = "answer held a server key",
                      .cacheable = 1, .negative = 1, .our_body = 1, .settle = UP_SETTLE_CHARGE,
                      .cause = UP_CAUSE_REQUEST, .status = 502, .reason = "upstreamKeyEcho",
                      .message = "YouTube's answer contained the proxy's API key; it was dropped." },
    [UP_NO_QUOTA] = { .name = "no_quota", .label = "no_quota", .summary = "all keys exhausted",
                      .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_QUOTA,
                      .status = 503, .reason = "quotaExhausted", .message = QUOTA_MESSAGE, .retry = UP_RETRY_MIDNIGHT },
    [UP_OVER_BUDGET] = { .name = "over_budget", .label = "over_budget", .summary = "region budget spent",
                         .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_QUOTA,
                         .status = 503, .reason = "budgetExhausted",
                         .message = "Today's quota budget for this region is spent.", .retry = UP_RETRY_MIDNIGHT },
    [UP_BREAKER_OPEN] = { .name = "breaker_open", .label = "breaker_open", .summary = "breaker open",
                          .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_UPSTREAM,
                          .status = 503, .reason = "upstreamUnavailable",
                          .message = "YouTube is failing; not calling it for a while.",
                          .retry = UP_RETRY_SECONDS, .retry_after = 1 },
    [UP_CLIENT_LIMIT] = { .name = "client_limit", .label = "client_limit", .summary = "client over its limit",
                          .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_CLIENT,
                          .status = 429, .reason = "clientQuotaExceeded",
                          .message = "This client has used its share of the API quota; slow down.",
                          .retry = UP_RETRY_SECONDS, .retry_after = 1 },
    [UP_DB_ERROR] = { .name = "db_error", .label = "db_error", .summary = "quota accounting unavailable",
                      .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_DB,
                      .status = 503, .reason = "databaseUnavailable", .message = "The cache database is unavailable.",
                      .retry = UP_RETRY_SECONDS, .retry_after = 1 },
    [UP_OUTAGE_BUDGET] = { .name = "outage_budget", .label = "outage_budget", .summary = "outage budget spent",
                           .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_DB,
                           .status = 503, .reason = "databaseUnavailable",
                           .message = "The cache database is unavailable, and so are calls to YouTube it cannot count;"
                                      " try again later.",
                           .retry = UP_RETRY_SECONDS, .retry_after = 60 },
    [UP_NO_KEY] = { .name = "no_key", .label = "no_key", .summary = "no usable key",
                    .decided = 1, .settle = UP_SETTLE_NONE, .cause = UP_CAUSE_KEY,
                    .status = 503, .reason = "noApiKey",
                    .message = "No usable server API key: none is configured, or every key is disabled.",
                    .retry = UP_RETRY_SECONDS, .retry_after = 300 },
};

/* A value no table entry has: a failure of unknown kind, told as Google's status. */
static const struct up_outcome up_unknown = {
    .name = "unknown", .label = "unknown", .summary = "unknown outcome",
    .settle = UP_SETTLE_CHARGE, .cause = UP_CAUSE_UPSTREAM,
    .status = 502, .reason = "upstreamError", .message = "YouTube answered with HTTP", .message_status = 1,
};

const struct up_outcome *up_outcome(enum up_class cls)
{
    return (unsigned)cls < UP__COUNT ? &up_outcomes[cls] : &up_unknown;
}

const char *upstream_held_url(struct upstream *u)
{
    char *url = NULL;
    if (u->curl)
        ycurl.easy_getinfo(u->curl, CURLINFO_EFFECTIVE_URL, &url);
    return url ? url : "";
}
