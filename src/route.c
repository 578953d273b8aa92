/* route: what a request asks for: method, size limits, which of the service's routes, which API resource. */
#include "route.h"
#include "canon.h"
#include "conf.h"
#include "http.h"
#include "metrics.h"
#include "websub.h"

#include <string.h>

#define MAX_CONTENT_LENGTH 65536L

/* The service's own routes, wherever they are mounted (also under
 * /youtube/v3/, which the shipped web server configs pass on): its
 * enum metrics_route, or -1. */
static int own_route(const char *path, size_t plen)
{
    static const struct { const char *suffix; int route; } own[] = {
        { "/health", MR_HEALTH }, { "/metrics", MR_METRICS }, { "/websub", MR_WEBSUB },
    };
    char token[WEBSUB_TOKEN_LEN + 1];
    if (websub_path_token(path, token, sizeof token))   /* <mount>/websub/<token>: websub.c checks it */
        return MR_WEBSUB;
    size_t n = plen;
    while (n > 1 && path[n - 1] == '/')
        n--;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t sl = strlen(own[i].suffix);
        if (n >= sl && memcmp(path + n - sl, own[i].suffix, sl) == 0)
            return own[i].route;
    }
    return -1;
}

/* Read methods of the API that ytcache knowingly does not serve, and why
 * (doc/api-methods.md lists every read method; tests/integration/googleapis.py
 * checks this table against the official client's definitions). A path
 * ending in '/' matches as a prefix (captions/{id}). */
static const struct { const char *path; const char *reason; const char *why; } not_served[] = {
    { "captions/", "oauthNotSupported", "captions.download needs the caption owner's OAuth authorisation" },
    { "liveBroadcasts", "oauthNotSupported", "liveBroadcasts.list needs an OAuth-authorised channel owner" },
    { "liveStreams", "oauthNotSupported", "liveStreams.list needs an OAuth-authorised channel owner" },
    { "liveChat/moderators", "oauthNotSupported", "liveChatModerators.list needs the chat owner's OAuth consent" },
    { "members", "oauthNotSupported", "members.list needs the channel owner's OAuth authorisation" },
    { "membershipsLevels", "oauthNotSupported", "membershipsLevels.list needs the channel owner's OAuth consent" },
    { "superChatEvents", "oauthNotSupported", "superChatEvents.list needs the channel owner's OAuth authorisation" },
    { "videos/getRating", "oauthNotSupported", "videos.getRating reads a signed-in user's own ratings" },
    { "videoAbuseReportReasons", "oauthNotSupported", "videoAbuseReportReasons.list needs an OAuth-authorised user" },
    { "liveChat/messages", "notCacheable",
      "liveChatMessages.list is a live chat polled every few seconds: a cached copy would only be late" },
    { "videoTrainability", "notCacheable",
      "videoTrainability.get needs no key and costs no quota: a cache would save nothing" },
    { "playlistImages", "notServed", "playlistImages.list is not served by ytcache: ask the API directly" },
    { "thirdPartyLinks", "notServed", "thirdPartyLinks.list is not served by ytcache: ask the API directly" },
};

/* 0, or -1 with e set when the resource path is one of not_served. */
static int refused_method(const char *name, size_t nlen, struct yerr *e)
{
    for (size_t i = 0; i < sizeof not_served / sizeof not_served[0]; i++) {
        size_t pl = strlen(not_served[i].path);
        int prefix = not_served[i].path[pl - 1] == '/';
        if (prefix ? nlen > pl && memcmp(name, not_served[i].path, pl) == 0
                   : nlen == pl && memcmp(name, not_served[i].path, pl) == 0) {
            yerr_set(e, 400, not_served[i].reason, "", "%s.", not_served[i].why);
            return -1;
        }
    }
    return 0;
}

/* Find the route and the resource in the path; resource "" when the path
 * has no /youtube/v3/<name> part (then the query's endpoint= names it).
 * 0, or -1 with e set for an unknown resource. */
static int parse_path(const struct http_io *io, struct route *rt, struct yerr *e)
{
    const char *path = http_env(io, "PATH_INFO");
    if (!path || !*path) {
        path = http_env(io, "REQUEST_URI");
        if (!path)
            path = http_env(io, "SCRIPT_NAME");
    }
    if (!path)
        path = "/";
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    static const char marker[] = "/youtube/v3/";
    const char *m = NULL;
    for (const char *s = path; (s = memmem(s, plen - (size_t)(s - path), marker, sizeof marker - 1)); s++)
        m = s;
    rt->resource[0] = '\0';
    rt->metrics_route = own_route(path, plen);
    if (rt->metrics_route >= 0)
        return 0;
    const char *name = m ? m + sizeof marker - 1 : NULL;
    size_t nlen = m ? plen - (size_t)(name - path) : 0;
    while (nlen && name[nlen - 1] == '/')
        nlen--;
    if (nlen == 0) {            /* no /youtube/v3/, or /youtube/v3/?endpoint=...: the compatibility form */
        rt->metrics_route = MR_COMPAT;
        return 0;
    }
    rt->metrics_route = MR_API;
    if (refused_method(name, nlen, e) < 0)
        return -1;
    /* digits: i18nLanguages, i18nRegions; ':' the custom method videos:batchGetStats */
    static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:";
    if (nlen >= sizeof rt->resource || strspn(name, name_chars) < nlen) {
        yerr_set(e, 404, "notFound", "", "Unknown resource.");
        return -1;
    }
    memcpy(rt->resource, name, nlen);
    rt->resource[nlen] = '\0';
    if (!canon_resource_known(rt->resource)) {
        yerr_set(e, 404, "notFound", "", "Unknown resource: %s.", rt->resource);
        return -1;
    }
    return 0;
}

enum route_action route_request(const struct conf *c, const struct http_io *io, struct route *rt, struct yerr *e)
{
    rt->metrics_route = MR_OTHER;
    rt->method = http_env(io, "REQUEST_METHOD");
    if (!rt->method)
        rt->method = "GET";
    rt->is_head = 0;
    rt->qs = "";
    if (strcmp(rt->method, "OPTIONS") == 0)
        return ROUTE_PREFLIGHT;
    rt->is_head = strcmp(rt->method, "HEAD") == 0;
    rt->qs = http_env(io, "QUERY_STRING");
    if (!rt->qs)
        rt->qs = "";
    if ((long)strlen(rt->qs) > c->max_query_bytes) {
        yerr_set(e, 414, "uriTooLong", "", "Query string longer than %ld bytes.", c->max_query_bytes);
        return ROUTE_ERROR;
    }
    int routed = parse_path(io, rt, e);
    /* WebSub first: the hub POSTs */
    if (routed == 0 && rt->metrics_route == MR_WEBSUB)
        return ROUTE_WEBSUB;
    if (strcmp(rt->method, "GET") != 0 && !rt->is_head) {
        yerr_set(e, 405, "methodNotAllowed", "", "Only GET, HEAD and OPTIONS are supported.");
        return ROUTE_ERROR;
    }
    if (routed < 0)
        return ROUTE_ERROR;
    const char *cl = http_env(io, "CONTENT_LENGTH");
    long clen = 0;
    if (cl && *cl && (util_parse_long(cl, 0, MAX_CONTENT_LENGTH, &clen) < 0)) {
        yerr_set(e, 413, "requestTooLarge", "", "Request body too large.");
        return ROUTE_ERROR;
    }
    if (rt->metrics_route == MR_HEALTH)
        return ROUTE_HEALTH;
    if (rt->metrics_route == MR_METRICS)
        return ROUTE_METRICS;
    return ROUTE_API;
}
