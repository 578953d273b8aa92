/* canon: query parsing, per-resource validation and the canonical request / cache key. */
#include "canon.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ptype {
    P_PART,        /* comma list of the resource's part names */
    P_IDLIST,      /* comma list of ids in the resource's id format */
    P_VIDEOID,
    P_CHANNELID,
    P_PLAYLISTID,
    P_TOKEN,       /* pageToken */
    P_REGION,      /* ISO 3166-1 alpha-2 */
    P_LANG,        /* BCP-47-ish language tag */
    P_UINT,        /* integer in [min,max] */
    P_ENUM,
    P_TEXT,        /* free text (q, searchTerms) */
    P_DATETIME,    /* RFC 3339 */
    P_LOCATION,    /* "lat,long" */
    P_RADIUS,      /* "1500m", "10km", "5mi", "2000ft" */
    P_FIELDS,      /* partial-response field mask */
    P_HANDLE,      /* forHandle / forUsername */
    P_GENID,       /* generic id: comment, section, category, caption ids */
    P_TOPIC,       /* Freebase topic id, "/m/..." */
    P_TYPELIST,    /* search type= comma list */
};

enum idfmt { ID_GENERIC, ID_VIDEO, ID_CHANNEL, ID_PLAYLIST, ID_NUMERIC };

struct pspec {
    const char *name;
    enum ptype type;
    long min, max;                  /* P_UINT range; max length for text types */
    const char *const *values;      /* P_ENUM */
};

struct rspec {
    const char *name;
    const char *const *parts;
    const struct pspec *params;     /* terminated by name == NULL */
    const char *const *filters;     /* exactly one required; NULL = none */
    enum idfmt idfmt;
};

#define L(...) (const char *const[]){ __VA_ARGS__, NULL }
#define PART { "part", P_PART, 0, 0, NULL }
#define FIELDS { "fields", P_FIELDS, 0, 1024, NULL }
#define HL { "hl", P_LANG, 0, 0, NULL }
#define PAGE { "pageToken", P_TOKEN, 0, 0, NULL }
#define MAXRES(lo, hi) { "maxResults", P_UINT, lo, hi, NULL }
#define IDS { "id", P_IDLIST, 0, 0, NULL }
#define END { NULL, 0, 0, 0, NULL }

static const char *const text_formats[] = { "html", "plainText", NULL };

static const struct rspec resources[] = {
    { "activities", L("contentDetails", "id", "snippet"),
      (const struct pspec[]){ PART, FIELDS, PAGE, MAXRES(0, 50),
          { "channelId", P_CHANNELID, 0, 0, NULL },
          { "publishedAfter", P_DATETIME, 0, 0, NULL },
          { "publishedBefore", P_DATETIME, 0, 0, NULL },
          { "regionCode", P_REGION, 0, 0, NULL }, END },
      L("channelId"), ID_GENERIC },
    { "captions", L("id", "snippet"),
      (const struct pspec[]){ PART, FIELDS, IDS,
          { "videoId", P_VIDEOID, 0, 0, NULL }, END },
      L("videoId"), ID_GENERIC },
    { "channelSections", L("contentDetails", "id", "snippet"),
      (const struct pspec[]){ PART, FIELDS, HL, IDS,
          { "channelId", P_CHANNELID, 0, 0, NULL }, END },
      L("channelId", "id"), ID_GENERIC },
    { "channels", L("auditDetails", "brandingSettings", "contentDetails", "contentOwnerDetails",
                    "id", "localizations", "snippet", "statistics", "status", "topicDetails"),
      (const struct pspec[]){ PART, FIELDS, HL, PAGE, MAXRES(0, 50), IDS,
          { "forHandle", P_HANDLE, 0, 0, NULL },
          { "forUsername", P_HANDLE, 0, 0, NULL }, END },
      L("forHandle", "forUsername", "id"), ID_CHANNEL },
    { "commentThreads", L("id", "replies", "snippet"),
      (const struct pspec[]){ PART, FIELDS, PAGE, MAXRES(1, 100), IDS,
          { "allThreadsRelatedToChannelId", P_CHANNELID, 0, 0, NULL },
          { "videoId", P_VIDEOID, 0, 0, NULL },
          { "order", P_ENUM, 0, 0, L("time", "relevance") },
          { "searchTerms", P_TEXT, 0, 500, NULL },
          { "textFormat", P_ENUM, 0, 0, text_formats }, END },
      L("allThreadsRelatedToChannelId", "id", "videoId"), ID_GENERIC },
    { "comments", L("id", "snippet"),
      (const struct pspec[]){ PART, FIELDS, PAGE, MAXRES(1, 100), IDS,
          { "parentId", P_GENID, 0, 0, NULL },
          { "textFormat", P_ENUM, 0, 0, text_formats }, END },
      L("id", "parentId"), ID_GENERIC },
    { "i18nLanguages", L("snippet"),
      (const struct pspec[]){ PART, FIELDS, HL, END }, NULL, ID_GENERIC },
    { "i18nRegions", L("snippet"),
      (const struct pspec[]){ PART, FIELDS, HL, END }, NULL, ID_GENERIC },
    { "playlistItems", L("contentDetails", "id", "snippet", "status"),
      (const struct pspec[]){ PART, FIELDS, PAGE, MAXRES(0, 50), IDS,
          { "playlistId", P_PLAYLISTID, 0, 0, NULL },
          { "videoId", P_VIDEOID, 0, 0, NULL }, END },
      L("id", "playlistId"), ID_GENERIC },
    { "playlists", L("contentDetails", "id", "localizations", "player", "snippet", "status"),
      (const struct pspec[]){ PART, FIELDS, HL, PAGE, MAXRES(0, 50), IDS,
          { "channelId", P_CHANNELID, 0, 0, NULL },
          { "maxHeight", P_UINT, 72, 8192, NULL },
          { "maxWidth", P_UINT, 72, 8192, NULL }, END },
      L("channelId", "id"), ID_PLAYLIST },
    { "search", L("id", "snippet"),
      (const struct pspec[]){ PART, FIELDS, PAGE, MAXRES(0, 50),
          { "channelId", P_CHANNELID, 0, 0, NULL },
          { "channelType", P_ENUM, 0, 0, L("any", "show") },
          { "eventType", P_ENUM, 0, 0, L("completed", "live", "upcoming") },
          { "location", P_LOCATION, 0, 0, NULL },
          { "locationRadius", P_RADIUS, 0, 0, NULL },
          { "order", P_ENUM, 0, 0, L("date", "rating", "relevance", "title", "videoCount", "viewCount") },
          { "publishedAfter", P_DATETIME, 0, 0, NULL },
          { "publishedBefore", P_DATETIME, 0, 0, NULL },
          { "q", P_TEXT, 0, 500, NULL },
          { "regionCode", P_REGION, 0, 0, NULL },
          { "relevanceLanguage", P_LANG, 0, 0, NULL },
          { "safeSearch", P_ENUM, 0, 0, L("moderate", "none", "strict") },
          { "topicId", P_TOPIC, 0, 0, NULL },
          { "type", P_TYPELIST, 0, 0, NULL },
          { "videoCaption", P_ENUM, 0, 0, L("any", "closedCaption", "none") },
          { "videoCategoryId", P_UINT, 0, 9999, NULL },
          { "videoDefinition", P_ENUM, 0, 0, L("any", "high", "standard") },
          { "videoDimension", P_ENUM, 0, 0, L("2d", "3d", "any") },
          { "videoDuration", P_ENUM, 0, 0, L("any", "long", "medium", "short") },
          { "videoEmbeddable", P_ENUM, 0, 0, L("any", "true") },
          { "videoLicense", P_ENUM, 0, 0, L("any", "creativeCommon", "youtube") },
          { "videoPaidProductPlacement", P_ENUM, 0, 0, L("any", "true") },
          { "videoSyndicated", P_ENUM, 0, 0, L("any", "true") },
          { "videoType", P_ENUM, 0, 0, L("any", "episode", "movie") }, END },
      NULL, ID_GENERIC },
    { "subscriptions", L("contentDetails", "id", "snippet", "subscriberSnippet"),
      (const struct pspec[]){ PART, FIELDS, PAGE, MAXRES(0, 50), IDS,
          { "channelId", P_CHANNELID, 0, 0, NULL },
          { "forChannelId", P_IDLIST, 0, 0, NULL },
          { "order", P_ENUM, 0, 0, L("alphabetical", "relevance", "unread") }, END },
      L("channelId", "id"), ID_CHANNEL },
    { "videoCategories", L("snippet"),
      (const struct pspec[]){ PART, FIELDS, HL, IDS,
          { "regionCode", P_REGION, 0, 0, NULL }, END },
      L("id", "regionCode"), ID_NUMERIC },
    /* since 3 June 2026; the resource name is the method's path */
    { "videos:batchGetStats", L("contentDetails", "id", "snippet", "statistics"),
      (const struct pspec[]){ PART, FIELDS, IDS, END },
      L("id"), ID_VIDEO },
    { "videos", L("contentDetails", "fileDetails", "id", "liveStreamingDetails", "localizations",
                  "paidProductPlacementDetails", "player", "processingDetails", "recordingDetails",
                  "snippet", "statistics", "status", "suggestions", "topicDetails"),
      (const struct pspec[]){ PART, FIELDS, HL, PAGE, MAXRES(1, 50), IDS,
          { "chart", P_ENUM, 0, 0, L("mostPopular") },
          { "maxHeight", P_UINT, 72, 8192, NULL },
          { "maxWidth", P_UINT, 72, 8192, NULL },
          { "regionCode", P_REGION, 0, 0, NULL },
          { "videoCategoryId", P_UINT, 0, 9999, NULL }, END },
      L("chart", "id"), ID_VIDEO },
};

/* Dropped before canonicalisation: they do not change the answer. */
static const char *const dropped[] = { "key", "callback", "prettyPrint", "quotaUser", "alt",
                                       "ttl", "age", "endpoint", "userIp", "_", NULL };
/* Need a signed-in user: an API key cannot answer them. */
static const char *const oauth_only[] = { "mine", "myRating", "forMine", "managedByMe", "home",
                                          "mySubscribers", "myRecentSubscribers", "forContentOwner",
                                          "forDeveloper", "access_token", "oauth_token", NULL };

static int in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static const struct rspec *find_resource(const char *name)
{
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++)
        if (strcmp(resources[i].name, name) == 0)
            return &resources[i];
    return NULL;
}

int canon_resource_known(const char *name)
{
    return find_resource(name) != NULL;
}

const char *canon_resource_name(size_t i)
{
    return i < sizeof resources / sizeof resources[0] ? resources[i].name : NULL;
}

/* Bump allocation inside scratch, whose capacity was reserved up front so
 * pointers handed out stay valid for the whole request. */
static char *scratch_alloc(struct canon *c, size_t n)
{
    if (c->scratch.len + n + 1 >= c->scratch.cap)
        return NULL;
    char *p = c->scratch.data + c->scratch.len;
    p[n] = '\0';
    c->scratch.len += n + 1;
    return p;
}

static char *scratch_put(struct canon *c, const char *s, size_t n)
{
    char *p = scratch_alloc(c, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static int has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}


static int valid_id(enum idfmt f, const char *s)
{
    switch (f) {
    case ID_VIDEO:
        return util_all_in(s, UTIL_B64URL, 11, 11);
    case ID_CHANNEL:
        return strncmp(s, "UC", 2) == 0 && util_all_in(s, UTIL_B64URL, 24, 24);
    case ID_PLAYLIST:
        return util_all_in(s, UTIL_B64URL, 2, 64);
    case ID_NUMERIC:
        return util_all_in(s, UTIL_DIGIT, 1, 9);
    case ID_GENERIC:
        return util_all_in(s, UTIL_B64URL ".", 1, 128);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Split a comma list, trim spaces, drop empties and duplicates after their
 * first occurrence, check each item; sort unless `keep_order` (id lists:
 * Google answers their items in the order asked); write the normalised list
 * into scratch. */
static const char *norm_list(struct canon *c, const char *v, const char *name,
                             int (*check)(const void *ctx, const char *item), const void *ctx,
                             int keep_order, struct yerr *e)
{
    const char *items[CANON_MAX_IDS + 1];
    size_t n = 0;
    char tmp[4096];
    if (util_copy(tmp, sizeof tmp, v) < 0) {
        yerr_set(e, 400, "invalidParameter", name, "Parameter %s is too long.", name);
        return NULL;
    }
    char *p = tmp;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *s = p, *end = p + strlen(p);
        while (*s == ' ') s++;
        while (end > s && end[-1] == ' ') *--end = '\0';
        if (*s) {
            if (!check(ctx, s)) {
                yerr_set(e, 400, "invalidParameter", name, "Invalid value in parameter %s.", name);
                return NULL;
            }
            if (n >= CANON_MAX_IDS) {
                yerr_set(e, 400, "invalidParameter", name,
                         "Parameter %s has more than %d values.", name, CANON_MAX_IDS);
                return NULL;
            }
            size_t j = 0;
            while (j < n && strcmp(items[j], s) != 0)
                j++;
            if (j == n)
                items[n++] = s;
        }
        p = comma ? comma + 1 : NULL;
    }
    if (n == 0) {
        yerr_set(e, 400, "missingParameter", name, "Parameter %s is empty.", name);
        return NULL;
    }
    if (!keep_order)
        qsort(items, n, sizeof items[0], cmp_str);
    if (n > 1 && keep_order)
        c->ordered_list = 1;
    char out[4096];
    size_t olen = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        if (olen + l + 2 > sizeof out)
            break;   /* cannot happen: out is as large as tmp */
        if (olen)
            out[olen++] = ',';
        memcpy(out + olen, items[i], l);
        olen += l;
    }
    const char *r = scratch_put(c, out, olen);
    if (!r)
        yerr_set(e, 500, "internalError", name, "Out of request memory.");
    return r;
}

static int check_part(const void *ctx, const char *s)
{
    return in_list(((const struct rspec *)ctx)->parts, s);
}

static int check_id(const void *ctx, const char *s)
{
    return valid_id(*(const enum idfmt *)ctx, s);
}

static int check_type(const void *ctx, const char *s)
{
    static const char *const types[] = { "channel", "playlist", "video", NULL };
    return in_list(types, s);
}

static int valid_scalar(const struct pspec *ps, const char *v)
{
    size_t n = strlen(v);
    switch (ps->type) {
    case P_VIDEOID: return valid_id(ID_VIDEO, v);
    case P_CHANNELID: return valid_id(ID_CHANNEL, v);
    case P_PLAYLISTID: return valid_id(ID_PLAYLIST, v);
    case P_TOKEN: return util_all_in(v, UTIL_B64URL, 1, 256);
    case P_REGION: return util_all_in(v, UTIL_ALPHA, 2, 2);
    case P_LANG: return util_all_in(v, UTIL_B64URL, 1, 35);
    case P_UINT: {
        long x;
        return v[0] != '-' && v[0] != '+' && util_parse_long(v, ps->min, ps->max, &x) == 0;
    }
    case P_ENUM: return in_list(ps->values, v);
    case P_TEXT: return n >= 1 && (long)n <= ps->max && util_utf8_valid((const unsigned char *)v, n);
    case P_DATETIME: return util_all_in(v, UTIL_DIGIT "TZtz:.+-", 10, 40);
    case P_LOCATION: return util_all_in(v, UTIL_DIGIT ".,+-", 3, 64) && strchr(v, ',') != NULL;
    case P_RADIUS: return util_all_in(v, UTIL_DIGIT ".kmfti", 2, 16);
    case P_FIELDS: return util_all_in(v, UTIL_ALNUM "_,/()*", 1, (size_t)ps->max);
    case P_HANDLE: return util_all_in(v, UTIL_B64URL "@.", 1, 100);
    case P_GENID: return valid_id(ID_GENERIC, v);
    case P_TOPIC: return util_all_in(v, UTIL_B64URL "/", 2, 64);
    default: return 0;
    }
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const struct canon_param *)a)->name, ((const struct canon_param *)b)->name);
}

int canon_append_encoded(buf_t *b, const char *s)
{
    /* RFC 3986 unreserved, and ',' so that id lists stay readable; changing
     * this set changes every cache key */
    return util_pct_encode(b, s, "-_.~,");
}

static struct canon_param *find_param(struct canon *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->params[i].name, name) == 0)
            return &c->params[i];
    return NULL;
}

/* A client's ttl=/age=: any decimal integer, saturated to [0, CANON_TTL_MAX]
 * (config clamps it further): a number out of range is clamped, not refused,
 * since it only says how old a copy this request accepts. -1: not a number. */
static int client_seconds(const char *v, long *out)
{
    const char *d = v[0] == '-' ? v + 1 : v;
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return -1;
    if (v[0] == '-')
        *out = 0;
    else if (util_parse_long(d, 0, CANON_TTL_MAX, out) < 0)
        *out = CANON_TTL_MAX;   /* all digits: only too large */
    return 0;
}

/* One name=value pair (already decoded) into the request. */
static int add_param(struct canon *c, const struct rspec *rs, const char *name, const char *value,
                     struct yerr *e)
{
    if (strcmp(name, "key") == 0) {
        c->client_key = value;
        return 0;
    }
    if (strcmp(name, "ttl") == 0 || strcmp(name, "age") == 0) {
        if (client_seconds(value, &c->client_ttl) < 0) {
            yerr_set(e, 400, "invalidParameter", name,
                     "Parameter %s must be a number of seconds.", name);
            return -1;
        }
        return 0;
    }
    if (in_list(dropped, name))
        return 0;
    if (in_list(oauth_only, name) || strncmp(name, "onBehalfOf", 10) == 0) {
        yerr_set(e, 400, "oauthNotSupported", name,
                 "Parameter %s needs an OAuth-authorised user; ytcache only serves API-key requests.",
                 name);
        return -1;
    }
    const struct pspec *ps = NULL;
    for (const struct pspec *p = rs->params; p->name; p++)
        if (strcmp(p->name, name) == 0) {
            ps = p;
            break;
        }
    if (!ps) {
        yerr_set(e, 400, "unknownParameter", name, "Unknown parameter %s for %s.", name, rs->name);
        return -1;
    }
    struct canon_param *dup = find_param(c, ps->name);
    int is_list = ps->type == P_PART || ps->type == P_IDLIST || ps->type == P_TYPELIST;
    if (dup) {
        if (strcmp(dup->value, value) == 0)
            return 0;
        if (!is_list) {
            yerr_set(e, 400, "invalidParameter", name,
                     "Parameter %s is repeated with different values.", name);
            return -1;
        }
        /* a repeated list param means the union: normalised later */
        size_t a = strlen(dup->value), b = strlen(value);
        char *m = scratch_alloc(c, a + b + 1);
        if (!m) {
            yerr_set(e, 500, "internalError", name, "Out of request memory.");
            return -1;
        }
        memcpy(m, dup->value, a);
        m[a] = ',';
        memcpy(m + a + 1, value, b + 1);
        dup->value = m;
        return 0;
    }
    if (c->n >= CANON_MAX_PARAMS) {
        yerr_set(e, 400, "invalidParameter", name, "Too many parameters.");
        return -1;
    }
    c->params[c->n].name = ps->name;   /* static storage */
    c->params[c->n].value = value;
    c->n++;
    return 0;
}

static int validate(struct canon *c, const struct rspec *rs, struct yerr *e)
{
    if (!find_param(c, "part")) {
        yerr_set(e, 400, "missingParameter", "part", "Required parameter: part.");
        return -1;
    }
    if (rs->filters) {
        const char *seen = NULL;
        for (const char *const *f = rs->filters; *f; f++) {
            if (!find_param(c, *f))
                continue;
            if (seen) {
                yerr_set(e, 400, "invalidFilters", *f,
                         "Parameters %s and %s cannot be used together.", seen, *f);
                return -1;
            }
            seen = *f;
        }
        if (!seen) {
            char names[256] = "";
            size_t off = 0;
            for (const char *const *f = rs->filters; *f; f++) {
                int w = snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "", *f);
                if (w < 0 || (size_t)w >= sizeof names - off)
                    break;
                off += (size_t)w;
            }
            yerr_set(e, 400, "missingParameter", rs->filters[0],
                     "One of these parameters is required: %s.", names);
            return -1;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        struct canon_param *p = &c->params[i];
        const struct pspec *ps = NULL;
        for (const struct pspec *q = rs->params; q->name; q++)
            if (q->name == p->name)
                ps = q;
        const char *v = NULL;
        enum idfmt f = rs->idfmt;
        switch (ps->type) {
        case P_PART:
            v = norm_list(c, p->value, p->name, check_part, rs, 0, e);
            break;
        case P_IDLIST:
            if (strcmp(p->name, "forChannelId") == 0)
                f = ID_CHANNEL;
            v = norm_list(c, p->value, p->name, check_id, &f, 1, e);
            break;
        case P_TYPELIST:
            v = norm_list(c, p->value, p->name, check_type, NULL, 0, e);
            break;
        default:
            if (!valid_scalar(ps, p->value)) {
                yerr_set(e, 400, "invalidParameter", p->name,
                         ps->type == P_UINT ? "Parameter %s is out of range or not a number."
                                            : "Invalid value for parameter %s.", p->name);
                return -1;
            }
            v = p->value;
            break;
        }
        if (!v)
            return -1;
        p->value = v;
    }
    return 0;
}

/* Decode one name=value pair in place and check it: a name of 1-64
 * characters, no control characters or NULs, UTF-8, a bounded value. */
static int decode_pair(char *name, char *value, struct yerr *e)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (util_pct_decode(name, nl, name, nl + 1, &nl) < 0 ||
        util_pct_decode(value, vl, value, vl + 1, &vl) < 0) {
        yerr_set(e, 400, "invalidParameter", "", "Malformed percent-encoding in the query string.");
        return -1;
    }
    if (nl == 0 || nl > 64 || has_ctl(name, nl) || strlen(name) != nl) {
        yerr_set(e, 400, "invalidParameter", "", "Malformed parameter name.");
        return -1;
    }
    if (has_ctl(value, vl) || strlen(value) != vl) {
        yerr_set(e, 400, "invalidParameter", name, "Parameter %s contains a control character.", name);
        return -1;
    }
    if (!util_utf8_valid((const unsigned char *)value, vl)) {
        yerr_set(e, 400, "invalidParameter", name, "Parameter %s is not valid UTF-8.", name);
        return -1;
    }
    if (vl > 2048) {
        yerr_set(e, 400, "invalidParameter", name, "Parameter %s is too long.", name);
        return -1;
    }
    return 0;
}

/* The canonical query: parameters sorted by name, values re-encoded. */
static int build_query(struct canon *c, struct yerr *e)
{
    qsort(c->params, c->n, sizeof c->params[0], cmp_param);
    for (size_t i = 0; i < c->n; i++) {
        if ((i && buf_append(&c->query, "&", 1) < 0) || buf_appends(&c->query, c->params[i].name) < 0 ||
            buf_append(&c->query, "=", 1) < 0 || canon_append_encoded(&c->query, c->params[i].value) < 0) {
            yerr_set(e, 500, "internalError", "", "Out of memory.");
            return -1;
        }
    }
    return 0;
}

int canon_parse(struct canon *c, const char *resource, const char *qs, struct yerr *e)
{
    size_t qslen = strlen(qs);
    c->n = 0;
    c->client_key = NULL;
    c->client_ttl = -1;
    c->ordered_list = 0;
    c->resource[0] = '\0';
    buf_reset(&c->scratch);
    buf_reset(&c->query);
    /* decoded text never grows, merged lists at most double: reserve once */
    if (buf_reserve(&c->scratch, 3 * qslen + 64) < 0) {
        yerr_set(e, 500, "internalError", "", "Out of memory.");
        return -1;
    }
    char *copy = scratch_put(c, qs, qslen);
    const char *endpoint = NULL;
    char *p = copy;
    /* first pass: split and decode in place */
    struct { char *name; char *value; } pairs[CANON_MAX_PARAMS * 2];
    size_t npairs = 0;
    while (p && *p) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        if (*p) {
            char *eq = strchr(p, '=');
            char *name = p, *value = eq ? eq + 1 : p + strlen(p);
            if (eq)
                *eq = '\0';
            if (decode_pair(name, value, e) < 0)
                return -1;
            if (npairs >= sizeof pairs / sizeof pairs[0]) {
                yerr_set(e, 400, "invalidParameter", "", "Too many parameters.");
                return -1;
            }
            pairs[npairs].name = name;
            pairs[npairs].value = value;
            npairs++;
            if (strcmp(name, "endpoint") == 0)
                endpoint = value;
        }
        p = amp ? amp + 1 : NULL;
    }
    if (!resource)
        resource = endpoint;
    if (!resource || !*resource) {
        yerr_set(e, 404, "notFound", "", "No resource: use /youtube/v3/<resource>?... or ?endpoint=<resource>.");
        return -1;
    }
    const struct rspec *rs = find_resource(resource);
    if (!rs) {
        yerr_set(e, 404, "notFound", "", "Unknown resource.");
        return -1;
    }
    util_copy(c->resource, sizeof c->resource, rs->name);
    for (size_t i = 0; i < npairs; i++)
        if (add_param(c, rs, pairs[i].name, pairs[i].value, e) < 0)
            return -1;
    if (validate(c, rs, e) < 0)
        return -1;
    return build_query(c, e);
}

const char *canon_get(const struct canon *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->params[i].name, name) == 0)
            return c->params[i].value;
    return NULL;
}

int canon_cache_key(struct canon *c, const char *keyid, unsigned char out[CANON_KEY_LEN])
{
    /* the buffer lives with the struct: no allocation per request */
    buf_t *b = &c->keybuf;
    buf_reset(b);
    /* Rows stored when id lists were sorted are not found for a list of
     * several ids: such keys carry a version line of their own. */
    if ((c->ordered_list && buf_appends(b, CANON_ORDERED_KEY "\n") < 0) ||
        buf_appends(b, c->resource) < 0 || buf_append(b, "\n", 1) < 0 || buf_appends(b, keyid) < 0 ||
        buf_append(b, "\n", 1) < 0 || buf_append(b, c->query.data ? c->query.data : "", c->query.len) < 0) {
        /* no key rather than one every failed request would share */
        memset(out, 0, CANON_KEY_LEN);
        return -1;
    }
    util_sha256(b->data, b->len, out);
    return 0;
}

int canon_request_json(const struct canon *c, const char *keyid, buf_t *out)
{
    json_object *root = json_object_new_object();
    json_object *params = json_object_new_object();
    if (!root || !params) {
        json_object_put(root);
        json_object_put(params);
        return -1;
    }
    json_object_object_add(root, "endpoint", json_object_new_string(c->resource));
    json_object_object_add(root, "key", json_object_new_string(keyid));
    for (size_t i = 0; i < c->n; i++)
        json_object_object_add(params, c->params[i].name, json_object_new_string(c->params[i].value));
    json_object_object_add(root, "params", params);
    return util_json_take(out, root);
}

void canon_key_fingerprint(const char *key, char *out, size_t outlen)
{
    unsigned char h[UTIL_SHA256_LEN];
    char hex[2 * UTIL_SHA256_LEN + 1];
    util_sha256(key, strlen(key), h);
    util_hex(h, 8, hex);
    snprintf(out, outlen, "fp:%s", hex);
}

void canon_free(struct canon *c)
{
    buf_free(&c->scratch);
    buf_free(&c->query);
    buf_free(&c->keybuf);
}
