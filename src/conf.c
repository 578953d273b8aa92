/* conf: ytcache.conf (INI) parsing, the table of defaults, env overrides, TTL rules. */
#include "conf.h"
#include "canon.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

enum otype {
    O_STR,      /* char * */
    O_LONG,     /* long, plain integer in [min,max] */
    O_SECS,     /* long seconds; accepts s/m/h/d suffix */
    O_LIST,     /* char *[CONF_MAX_LIST] + size_t count, comma separated */
    O_ENUM,     /* long index into enums */
    O_NETS,     /* struct conf_net[CONF_MAX_LIST] + size_t count: addresses and a/n, comma separated */
    O_HOSTS,    /* char * as written + struct conf_db_host[CONF_MAX_DB_HOSTS] + size_t count */
    O_GONE,     /* a removed setting: refused unless its no-op value; enums[0] says what to use */
    O_IDENT,    /* char *: letters, digits and _ only, min to max characters (spliced into SQL names) */
};

struct opt {
    const char *section;
    const char *key;
    enum otype type;
    size_t off;
    size_t count_off;          /* O_LIST, O_NETS, O_HOSTS */
    const char *def;           /* default, parsed like a config value */
    long min, max;
    const char *const *enums;
};

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const outage_modes[] = { "bypass", "error", NULL };
static const char *const key_modes[] = { "pool", "passthrough", NULL };
static const char *const no_yes[] = { "no", "yes", NULL };
static const char *const channel_search_modes[] = { "search", "uploads", NULL };
/* A hop count cannot tell a proxy's entry from one the client wrote; only
 * the connecting address can, so the count is refused rather than mapped. */
static const char *const gone_trust_forwarded[] = {
    "trust_forwarded is no longer supported: list the addresses of your proxies in trusted_proxies", NULL };

#define OFF(f) offsetof(struct conf, f)
#define DAY UTIL_DAY_SECS
#define YEAR UTIL_YEAR_SECS

/* Every setting and its default, in one place. Units: _ms milliseconds,
 * durations (O_SECS) seconds, sizes bytes. */
static const struct opt opts[] = {
    { "server", "cors_origins", O_LIST, OFF(cors_origins), OFF(n_cors), "", 0, 0, NULL },
    { "server", "log_level", O_ENUM, OFF(log_level), 0, "info", 0, 0, log_levels },
    { "server", "max_query_bytes", O_LONG, OFF(max_query_bytes), 0, "8192", 256, 1048576, NULL },
    { "server", "db_outage", O_ENUM, OFF(db_outage), 0, "bypass", 0, 0, outage_modes },
    { "server", "metrics_allow", O_LIST, OFF(metrics_allow), OFF(n_metrics_allow), "127.0.0.1,::1", 0, 0, NULL },
    { "server", "metrics_file", O_STR, OFF(metrics_file), 0, "", 0, 0, NULL },
    { "server", "debug_core_dumps", O_ENUM, OFF(debug_core_dumps), 0, "no", 0, 0, no_yes },

    { "database", "host", O_HOSTS, OFF(db_host), OFF(n_db_hosts), "localhost", 0, 0, NULL },
    { "database", "port", O_LONG, OFF(db_port), 0, "3306", 0, 65535, NULL },
    { "database", "socket", O_STR, OFF(db_socket), 0, "", 0, 0, NULL },
    { "database", "user", O_STR, OFF(db_user), 0, "ytcache", 0, 0, NULL },
    { "database", "password", O_STR, OFF(db_password), 0, "", 0, 0, NULL },
    { "database", "name", O_STR, OFF(db_name), 0, "ytcache", 0, 0, NULL },
    { "database", "option_file", O_STR, OFF(db_option_file), 0, "", 0, 0, NULL },
    { "database", "option_group", O_STR, OFF(db_option_group), 0, "client", 0, 0, NULL },
    { "database", "connect_timeout", O_SECS, OFF(db_connect_timeout), 0, "2", 1, 60, NULL },
    { "database", "retry_interval_ms", O_LONG, OFF(db_retry_ms), 0, "1000", 0, 600000, NULL },
    /* 32: the longest table name (14) after it stays within MySQL's 64 */
    { "database", "table_prefix", O_IDENT, OFF(db_table_prefix), 0, "ytcache_", 0, 32, NULL },
    { "database", "auto_migrate", O_ENUM, OFF(db_auto_migrate), 0, "yes", 0, 0, no_yes },

    { "upstream", "base_url", O_STR, OFF(base_url), 0, "https://www.googleapis.com/youtube/v3", 0, 0, NULL },
    { "upstream", "keys", O_LIST, OFF(keys), OFF(n_keys), "", 0, 0, NULL },
    { "upstream", "key_mode", O_ENUM, OFF(key_mode), 0, "pool", 0, 0, key_modes },
    { "upstream", "rotate_on_quota", O_ENUM, OFF(rotate_on_quota), 0, "no", 0, 0, no_yes },
    { "upstream", "referer", O_STR, OFF(referer), 0, "", 0, 0, NULL },
    { "upstream", "connect_timeout_ms", O_LONG, OFF(connect_timeout_ms), 0, "3000", 1, 600000, NULL },
    { "upstream", "timeout_ms", O_LONG, OFF(timeout_ms), 0, "10000", 1, 600000, NULL },
    { "upstream", "max_response_bytes", O_LONG, OFF(max_response_bytes), 0, "4194304", 1024, 1073741824L, NULL },

    { "cache", "default_ttl", O_SECS, OFF(default_ttl), 0, "3600", 0, YEAR, NULL },
    { "cache", "min_ttl", O_SECS, OFF(min_ttl), 0, "60", 0, YEAR, NULL },
    { "cache", "max_ttl", O_SECS, OFF(max_ttl), 0, "604800", 0, YEAR, NULL },
    { "cache", "stale_while_revalidate", O_SECS, OFF(swr), 0, "300", 0, YEAR, NULL },
    { "cache", "stale_if_error", O_SECS, OFF(sie), 0, "86400", 0, YEAR, NULL },
    { "cache", "negative_ttl", O_SECS, OFF(negative_ttl), 0, "300", 0, YEAR, NULL },
    { "cache", "lock_wait_ms", O_LONG, OFF(lock_wait_ms), 0, "10000", 0, 600000, NULL },
    { "cache", "hot_bytes", O_LONG, OFF(hot_bytes), 0, "8388608", 0, 1073741824L, NULL },
    { "cache", "hot_trust_ms", O_LONG, OFF(hot_trust_ms), 0, "1000", 0, 60000, NULL },
    /* the table's bound (0 = none): ~8 days of one key's 10,000 daily misses
     * fit in 100,000 rows; 512 MiB of bodies stays inside a shared host's
     * usual 1 GiB database with the indexes and InnoDB's page overhead */
    { "cache", "max_rows", O_LONG, OFF(cache_max_rows), 0, "100000", 0, 1000000000L, NULL },
    { "cache", "max_bytes", O_LONG, OFF(cache_max_bytes), 0, "536870912", 0, LONG_MAX, NULL },

    { "quota", "client_units", O_LONG, OFF(client_units), 0, "100", 0, 100000000L, NULL },
    { "quota", "client_window", O_SECS, OFF(client_window), 0, "1h", 1, YEAR, NULL },
    { "quota", "client_burst", O_LONG, OFF(client_burst), 0, "0", 0, 100000000L, NULL },
    /* units per minute per host of a bucket without outage.B, while the database is down */
    { "quota", "outage_units", O_LONG, OFF(outage_units), 0, "5", 0, 100000000L, NULL },
    { "quota", "trusted_proxies", O_NETS, OFF(trusted_proxies), OFF(n_trusted_proxies), "", 0, 0, NULL },
    { "quota", "client_ipv6_prefix", O_LONG, OFF(client_ipv6_prefix), 0, "64", 32, 128, NULL },
    { "quota", "trust_forwarded", O_GONE, 0, 0, "0", 0, 0, gone_trust_forwarded },
    { "quota", "breaker_failures", O_LONG, OFF(breaker_failures), 0, "5", 1, 100000, NULL },
    { "quota", "breaker_window", O_SECS, OFF(breaker_window), 0, "60", 1, DAY, NULL },
    { "quota", "breaker_cooldown", O_SECS, OFF(breaker_cooldown), 0, "30", 1, DAY, NULL },

    /* the nine regions of the TopVideoHub design */
    { "refresh", "regions", O_LIST, OFF(refresh_regions), OFF(n_refresh_regions), "US,GB,JP,KR,TW,SG,VN,TH,HK",
      0, 0, NULL },
    { "refresh", "part", O_STR, OFF(refresh_part), 0, "snippet,statistics,contentDetails", 0, 0, NULL },
    { "refresh", "max_results", O_LONG, OFF(refresh_max_results), 0, "50", 1, 50, NULL },
    { "refresh", "pages", O_LONG, OFF(refresh_pages), 0, "1", 1, 20, NULL },
    { "refresh", "categories", O_LIST, OFF(refresh_categories), OFF(n_refresh_categories), "", 0, 0, NULL },
    { "refresh", "interval", O_SECS, OFF(refresh_interval), 0, "10m", 1, DAY, NULL },
    { "refresh", "hot_hits", O_LONG, OFF(refresh_hot_hits), 0, "3", 1, 1000000000L, NULL },
    { "refresh", "run_budget", O_LONG, OFF(refresh_run_budget), 0, "200", 0, 1000000000L, NULL },
    { "refresh", "purge_batch", O_LONG, OFF(refresh_purge_batch), 0, "1000", 1, 100000, NULL },

    { "websub", "hub", O_STR, OFF(websub_hub), 0, "https://pubsubhubbub.appspot.com/subscribe", 0, 0, NULL },
    { "websub", "callback", O_STR, OFF(websub_callback), 0, "", 0, 0, NULL },
    { "websub", "lease_seconds", O_SECS, OFF(websub_lease), 0, "5d", 60, YEAR, NULL },
    { "websub", "max_body", O_LONG, OFF(websub_max_body), 0, "262144", 1024, 16777216L, NULL },
    { "websub", "renew_before", O_SECS, OFF(websub_renew_before), 0, "1d", 60, YEAR, NULL },
    { "websub", "verify_window", O_SECS, OFF(websub_verify_window), 0, "10m", 1, DAY, NULL },

    /* opt-in: a channel's latest videos from its uploads playlist (1 unit) instead of search (1 of 100) */
    { "economy", "channel_search", O_ENUM, OFF(channel_search), 0, "search", 0, 0, channel_search_modes },
};

/* The quota model of late 2026: search.list has its own 100-call bucket
 * (1 June 2026), videos.batchGetStats its own 10,000 units (3 June 2026),
 * everything else shares 10,000 units, captions.list costs 50. */
static const char *const default_quota[][2] = {
    { "bucket.default", "10000" },
    { "bucket.search", "100" },
    { "bucket.batchGetStats", "10000" },
    { "cost.videos:batchGetStats", "batchGetStats:1" },
    /* one client may spend 5 % of search and (client_units) 1 % of default per hour */
    { "client.search", "5" },
    /* with 100 calls a day, one minute of an outage could spend them all: none without accounting */
    { "outage.search", "0" },
    { "cost.search", "search:1" },
    { "cost.captions", "default:50" },
};

/* Built-in TTLs per resource (seconds); "resource.param" applies when the
 * request has that param (videos.chart = the trending lists). */
static const struct { const char *rule; long ttl; } default_ttls[] = {
    { "videos", 3600 },          { "videos.chart", 900 },
    { "search", 21600 },         { "channels", DAY },
    { "playlists", 3600 },       { "playlistItems", 1800 },
    { "commentThreads", 900 },   { "comments", 900 },
    { "videoCategories", DAY },  { "i18nRegions", DAY },
    { "i18nLanguages", DAY },    { "activities", 1800 },
    { "channelSections", DAY },  { "captions", DAY },
    { "subscriptions", 3600 },
    { "videos:batchGetStats", 300 },   /* statistics: counts move by the minute */
};

/* Environment overrides: shared hosts often hand out database settings this way. */
static const struct { const char *env; const char *section; const char *key; } env_overrides[] = {
    { "YTCACHE_DB_HOST", "database", "host" },
    { "YTCACHE_DB_PORT", "database", "port" },
    { "YTCACHE_DB_SOCKET", "database", "socket" },
    { "YTCACHE_DB_USER", "database", "user" },
    { "YTCACHE_DB_PASSWORD", "database", "password" },
    { "YTCACHE_DB_NAME", "database", "name" },
    { "YTCACHE_DB_OPTION_FILE", "database", "option_file" },
};

#ifdef YTC_PORTABLE
/* The self-contained build is uploaded, not installed: its file is
 * ytcache.conf in the parent of the binary's directory (~/public_html/
 * ytcache.cgi and ~/bin/ytcachectl both read ~/ytcache.conf, outside the
 * web root), found from /proc/self/exe since suEXEC drops YTCACHE_CONFIG. */
const char *conf_default_path(void)
{
    static char path[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return SYSCONFDIR "/ytcache.conf";
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    }
    snprintf(path, sizeof path, "%s/ytcache.conf", exe);
    return path;
}
#else
const char *conf_default_path(void)
{
    return SYSCONFDIR "/ytcache.conf";
}
#endif

static int parse_secs(const char *v, long min, long max, long *out)
{
    char num[32];
    size_t n = strlen(v);
    if (n == 0 || n >= sizeof num)
        return -1;
    long mult = 1;
    memcpy(num, v, n + 1);
    switch (num[n - 1]) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = DAY; break;
    default: mult = 0; break;
    }
    if (mult)
        num[n - 1] = '\0';
    else
        mult = 1;
    long long x;
    if (util_parse_ll(num, 0, YEAR, &x) < 0)
        return -1;
    x *= mult;
    if (x < min || x > max)
        return -1;
    *out = (long)x;
    return 0;
}

int conf_addr_parse(const char *s, size_t n, unsigned char out[16])
{
    char t[64];
    if (n == 0 || n >= sizeof t)
        return 0;
    memcpy(t, s, n);
    t[n] = '\0';
    if (inet_pton(AF_INET, t, out + 12) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        return 1;
    }
    return inet_pton(AF_INET6, t, out) == 1;
}

/* One trusted_proxies entry: an address, or a/n with no bits set past n. */
static int parse_net(const char *s, size_t n, struct conf_net *net)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (!conf_addr_parse(s, alen, net->addr))
        return -1;
    int v4 = memchr(s, ':', alen) == NULL;
    long bits = v4 ? 32 : 128;
    if (slash) {
        char b[8];
        size_t blen = n - alen - 1;
        if (blen == 0 || blen >= sizeof b)
            return -1;
        memcpy(b, slash + 1, blen);
        b[blen] = '\0';
        if (util_parse_long(b, 0, v4 ? 32 : 128, &bits) < 0)
            return -1;
    }
    net->bits = (int)bits + (v4 ? 96 : 0);
    for (int i = net->bits; i < 128; i++)
        if (net->addr[i / 8] & (0x80 >> (i % 8)))
            return -1;
    return 0;
}

static void free_list(char **list, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free(list[i]);
        list[i] = NULL;
    }
    *n = 0;
}

/* Set one option from its text. -1 with a message in err. */
/* The next comma-separated item of *p with its blanks trimmed, as [*s, *e);
 * empty items are skipped. 0 when there is none left. */
static int next_item(const char **p, const char **s, const char **e)
{
    while (**p) {
        const char *comma = strchr(*p, ',');
        const char *a = *p, *b = comma ? comma : *p + strlen(*p);
        *p = comma ? comma + 1 : b;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            *s = a;
            *e = b;
            return 1;
        }
    }
    return 0;
}

/* O_ENUM: the index of v among o->enums; the error lists them (not v). */
static int set_enum(struct conf *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
    for (long i = 0; o->enums[i]; i++)
        if (strcmp(v, o->enums[i]) == 0) {
            *(long *)((char *)c + o->off) = i;
            return 0;
        }
    snprintf(err, errlen, "%s must be one of", o->key);
    for (long i = 0; o->enums[i]; i++) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, "%s %s", i ? "," : "", o->enums[i]);
    }
    return -1;
}

/* O_NETS: a comma list of addresses and network/bits. */
static int set_nets(struct conf *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
    struct conf_net *list = (struct conf_net *)((char *)c + o->off);
    size_t *n = (size_t *)((char *)c + o->count_off), k = 0;
    const char *p = v, *s, *e;
    *n = 0;
    while (next_item(&p, &s, &e)) {
        k++;
        if (*n >= CONF_MAX_LIST) {
            snprintf(err, errlen, "%s: more than %d entries", o->key, CONF_MAX_LIST);
            return -1;
        }
        if (parse_net(s, (size_t)(e - s), &list[*n]) < 0) {
            snprintf(err, errlen, "%s: entry %zu is not an address or a network address/bits "
                     "(with no bits set past the prefix)", o->key, k);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

/* One host entry: "name", "name:port", "[v6]" or "[v6]:port", or a bare
 * IPv6 address (two colons or more, no port). */
static int parse_db_host(const char *s, size_t n, struct conf_db_host *h)
{
    const char *name = s, *colon = NULL;
    size_t nlen = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return -1;
        name = s + 1;
        nlen = (size_t)(close - name);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        const char *c1 = memchr(s, ':', n);
        if (c1 && !memchr(c1 + 1, ':', (size_t)(s + n - c1 - 1))) {
            colon = c1;
            nlen = (size_t)(c1 - s);
        }
    }
    if (nlen == 0 || nlen >= sizeof h->name)
        return -1;
    for (size_t i = 0; i < nlen; i++)
        if (isspace((unsigned char)name[i]) || name[i] == '[' || name[i] == ']')
            return -1;
    memcpy(h->name, name, nlen);
    h->name[nlen] = '\0';
    h->port = 0;
    if (colon) {
        char b[8];
        size_t blen = (size_t)(s + n - colon - 1);
        if (blen == 0 || blen >= sizeof b)
            return -1;
        memcpy(b, colon + 1, blen);
        b[blen] = '\0';
        if (util_parse_long(b, 1, 65535, &h->port) < 0)
            return -1;
    }
    return 0;
}

/* O_HOSTS: the text as written (a char *) and its comma list of hosts;
 * empty leaves the host to the option file or the client library. */
static int set_hosts(struct conf *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
    struct conf_db_host hosts[CONF_MAX_DB_HOSTS];
    size_t n = 0, k = 0;
    const char *p = v, *s, *e;
    while (next_item(&p, &s, &e)) {
        k++;
        if (n >= CONF_MAX_DB_HOSTS) {
            snprintf(err, errlen, "%s: more than %d addresses", o->key, CONF_MAX_DB_HOSTS);
            return -1;
        }
        if (parse_db_host(s, (size_t)(e - s), &hosts[n]) < 0) {
            snprintf(err, errlen, "%s: entry %zu is not NAME, NAME:PORT, [IPv6] or [IPv6]:PORT "
                     "(port 1 to 65535)", o->key, k);
            return -1;
        }
        n++;
    }
    char *d = util_strndup(v, strlen(v));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char **text = (char **)((char *)c + o->off);
    free(*text);
    *text = d;
    memcpy(c->db_hosts, hosts, n * sizeof hosts[0]);
    *(size_t *)((char *)c + o->count_off) = n;
    return 0;
}

/* O_LIST: a comma list of strings. */
static int set_list(struct conf *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
    char **list = (char **)((char *)c + o->off);
    size_t *n = (size_t *)((char *)c + o->count_off);
    const char *p = v, *s, *e;
    free_list(list, n);
    while (next_item(&p, &s, &e)) {
        if (*n >= CONF_MAX_LIST) {
            snprintf(err, errlen, "%s: more than %d entries", o->key, CONF_MAX_LIST);
            return -1;
        }
        list[*n] = util_strndup(s, (size_t)(e - s));
        if (!list[*n]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        (*n)++;
    }
    return 0;
}

static int set_opt(struct conf *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
    char *base = (char *)c;
    switch (o->type) {
    case O_IDENT:
        if (!util_all_in(v, UTIL_ALNUM "_", (size_t)o->min, (size_t)o->max)) {
            snprintf(err, errlen, "%s must be letters, digits and _ only, at most %ld of them", o->key, o->max);
            return -1;
        }
        /* FALLTHROUGH */
    case O_STR: {
        char **p = (char **)(base + o->off);
        char *d = util_strndup(v, strlen(v));
        if (!d) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(*p);
        *p = d;
        return 0;
    }
    case O_LONG: {
        long x;
        if (util_parse_long(v, o->min, o->max, &x) < 0) {
            snprintf(err, errlen, "%s must be an integer from %ld to %ld", o->key, o->min, o->max);
            return -1;
        }
        *(long *)(base + o->off) = x;
        return 0;
    }
    case O_SECS: {
        long x;
        if (parse_secs(v, o->min, o->max, &x) < 0) {
            snprintf(err, errlen, "%s must be a duration (seconds, or with s/m/h/d) from %ld to %ld s",
                     o->key, o->min, o->max);
            return -1;
        }
        *(long *)(base + o->off) = x;
        return 0;
    }
    case O_ENUM:
        return set_enum(c, o, v, err, errlen);
    case O_GONE:
        if (strcmp(v, o->def) == 0)
            return 0;
        snprintf(err, errlen, "%s", o->enums[0]);
        return -1;
    case O_NETS:
        return set_nets(c, o, v, err, errlen);
    case O_HOSTS:
        return set_hosts(c, o, v, err, errlen);
    case O_LIST:
        return set_list(c, o, v, err, errlen);
    }
    return -1;
}

static const struct opt *find_opt(const char *section, const char *key)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

static int set_ttl_rule(struct conf *c, const char *key, const char *v, char *err, size_t errlen)
{
    struct ttl_rule r;
    memset(&r, 0, sizeof r);
    const char *dot = strchr(key, '.');
    size_t rlen = dot ? (size_t)(dot - key) : strlen(key);
    if (rlen == 0 || rlen >= sizeof r.resource) {
        snprintf(err, errlen, "bad ttl rule name");
        return -1;
    }
    memcpy(r.resource, key, rlen);
    if (!canon_resource_known(r.resource)) {
        snprintf(err, errlen, "unknown resource in ttl rule");
        return -1;
    }
    if (dot && (util_copy(r.param, sizeof r.param, dot + 1) < 0 || !r.param[0])) {
        snprintf(err, errlen, "bad ttl rule parameter");
        return -1;
    }
    if (parse_secs(v, 0, YEAR, &r.ttl) < 0) {
        snprintf(err, errlen, "ttl must be a duration (seconds, or with s/m/h/d)");
        return -1;
    }
    for (size_t i = 0; i < c->n_ttl; i++)
        if (strcmp(c->ttl[i].resource, r.resource) == 0 && strcmp(c->ttl[i].param, r.param) == 0) {
            c->ttl[i] = r;
            return 0;
        }
    if (c->n_ttl >= sizeof c->ttl / sizeof c->ttl[0]) {
        snprintf(err, errlen, "too many ttl rules");
        return -1;
    }
    c->ttl[c->n_ttl++] = r;
    return 0;
}

/* A bucket or region name that fits a field of `size` bytes. */
static int valid_name(const char *s, size_t size)
{
    return util_all_in(s, UTIL_ALNUM "_-", 1, size - 1);
}

static struct quota_bucket *find_bucket(struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->n_buckets; i++)
        if (strcmp(c->buckets[i].name, name) == 0)
            return &c->buckets[i];
    return NULL;
}

long conf_outage_units(const struct conf *c, const char *bucket)
{
    const struct quota_bucket *b = conf_bucket(c, bucket);
    return b && b->outage >= 0 ? b->outage : c->outage_units;
}

long conf_client_units(const struct conf *c, const char *bucket, long *burst)
{
    const struct quota_bucket *b = bucket ? conf_bucket(c, bucket) : NULL;
    *burst = 0;
    if (c->client_units <= 0)
        return 0;           /* client_units = 0 turns every per-client limit off */
    if (b && b->client >= 0) {
        *burst = b->client; /* a bucket's own limit is its own burst */
        return b->client;
    }
    *burst = c->client_burst > 0 ? c->client_burst : c->client_units;
    return c->client_units;
}

/* [quota] keys with a name in them: bucket.B, reserve.B, client.B, outage.B, cost.RESOURCE, budget.B.REGION */
static const char *bucket_key_name(char which)
{
    return which == 'b' ? "bucket" : which == 'r' ? "reserve" : which == 'o' ? "outage" : "client";
}

/* bucket.NAME, reserve.NAME, client.NAME or outage.NAME = UNITS (which: 'b', 'r', 'c' or 'o'). */
static int set_bucket(struct conf *c, char which, const char *name, const char *v, char *err, size_t errlen)
{
    long units;
    if (!valid_name(name, sizeof c->buckets[0].name)) {
        snprintf(err, errlen, "bad bucket name");
        return -1;
    }
    if (util_parse_long(v, 0, 1000000000L, &units) < 0) {
        snprintf(err, errlen, "%s must be a number of units", bucket_key_name(which));
        return -1;
    }
    struct quota_bucket *b = find_bucket(c, name);
    if (!b) {
        if (c->n_buckets >= sizeof c->buckets / sizeof c->buckets[0]) {
            snprintf(err, errlen, "too many buckets");
            return -1;
        }
        b = &c->buckets[c->n_buckets++];
        memset(b, 0, sizeof *b);
        util_copy(b->name, sizeof b->name, name);
        b->limit = -1;      /* a reserve alone does not define a bucket */
        b->client = -1;
        b->outage = -1;
    }
    if (which == 'b')
        b->limit = units;
    else if (which == 'r')
        b->reserve = units;
    else if (which == 'o')
        b->outage = units;
    else
        b->client = units;
    return 0;
}

/* cost.RESOURCE = BUCKET:UNITS; a later rule for a resource replaces the earlier. */
static int set_cost(struct conf *c, const char *name, const char *v, char *err, size_t errlen)
{
    struct quota_cost_rule r;
    memset(&r, 0, sizeof r);
    if (!canon_resource_known(name)) {
        snprintf(err, errlen, "unknown resource in cost rule");
        return -1;
    }
    util_copy(r.resource, sizeof r.resource, name);
    const char *colon = strchr(v, ':');
    size_t blen = colon ? (size_t)(colon - v) : 0;
    if (!colon || blen == 0 || blen >= sizeof r.bucket || util_parse_long(colon + 1, 0, 1000000L, &r.units) < 0) {
        snprintf(err, errlen, "cost must be BUCKET:UNITS");
        return -1;
    }
    memcpy(r.bucket, v, blen);
    for (size_t i = 0; i < c->n_costs; i++)
        if (strcmp(c->costs[i].resource, r.resource) == 0) {
            c->costs[i] = r;
            return 0;
        }
    if (c->n_costs >= sizeof c->costs / sizeof c->costs[0]) {
        snprintf(err, errlen, "too many cost rules");
        return -1;
    }
    c->costs[c->n_costs++] = r;
    return 0;
}

/* budget.BUCKET.REGION = UNITS; a later one for the same pair replaces the earlier. */
static int set_budget(struct conf *c, const char *name, const char *v, char *err, size_t errlen)
{
    struct quota_budget b;
    memset(&b, 0, sizeof b);
    const char *dot2 = strchr(name, '.');
    size_t blen = dot2 ? (size_t)(dot2 - name) : 0;
    if (!dot2 || blen == 0 || blen >= sizeof b.bucket || !valid_name(dot2 + 1, sizeof b.region)) {
        snprintf(err, errlen, "budget key must be budget.BUCKET.REGION");
        return -1;
    }
    memcpy(b.bucket, name, blen);
    util_copy(b.region, sizeof b.region, dot2 + 1);
    if (util_parse_long(v, 0, 1000000000L, &b.units) < 0) {
        snprintf(err, errlen, "budget must be a number of units");
        return -1;
    }
    for (size_t i = 0; i < c->n_budgets; i++)
        if (strcmp(c->budgets[i].bucket, b.bucket) == 0 && strcasecmp(c->budgets[i].region, b.region) == 0) {
            c->budgets[i] = b;
            return 0;
        }
    if (c->n_budgets >= sizeof c->budgets / sizeof c->budgets[0]) {
        snprintf(err, errlen, "too many budgets");
        return -1;
    }
    c->budgets[c->n_budgets++] = b;
    return 0;
}

static int set_quota_rule(struct conf *c, const char *key, const char *v, char *err, size_t errlen)
{
    char k[96];
    if (util_copy(k, sizeof k, key) < 0) {
        snprintf(err, errlen, "key too long");
        return -1;
    }
    char *dot = strchr(k, '.');
    if (!dot) {
        snprintf(err, errlen, "unknown key in [quota]");
        return -1;
    }
    *dot = '\0';
    const char *name = dot + 1;
    if (strcmp(k, "bucket") == 0 || strcmp(k, "reserve") == 0 || strcmp(k, "client") == 0 ||
        strcmp(k, "outage") == 0)
        return set_bucket(c, k[0], name, v, err, errlen);
    if (strcmp(k, "cost") == 0)
        return set_cost(c, name, v, err, errlen);
    if (strcmp(k, "budget") == 0)
        return set_budget(c, name, v, err, errlen);
    snprintf(err, errlen, "unknown key in [quota]");
    return -1;
}

void conf_defaults(struct conf *c)
{
    char err[UTIL_ERRLEN];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (set_opt(c, &opts[i], opts[i].def, err, sizeof err) < 0)
            abort();    /* a broken default table is a programming error */
    for (size_t i = 0; i < sizeof default_ttls / sizeof default_ttls[0]; i++) {
        char v[32];
        snprintf(v, sizeof v, "%ld", default_ttls[i].ttl);
        if (set_ttl_rule(c, default_ttls[i].rule, v, err, sizeof err) < 0)
            abort();
    }
    for (size_t i = 0; i < sizeof default_quota / sizeof default_quota[0]; i++)
        if (set_quota_rule(c, default_quota[i][0], default_quota[i][1], err, sizeof err) < 0)
            abort();
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A value is either "quoted" (\" and \\ escapes) or bare, where an inline
 * comment starts at whitespace followed by ';' or '#'. */
static int unquote_value(char *v, char *err, size_t errlen)
{
    if (*v != '"') {
        for (char *p = v; *p; p++)
            if ((*p == ';' || *p == '#') && p > v && isspace((unsigned char)p[-1])) {
                *p = '\0';
                break;
            }
        char *t = trim(v);
        memmove(v, t, strlen(t) + 1);
        return 0;
    }
    char *r = v + 1, *w = v;
    while (*r && *r != '"') {
        if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
            r++;
        *w++ = *r++;
    }
    if (*r != '"') {
        snprintf(err, errlen, "unterminated quoted value");
        return -1;
    }
    r++;
    while (isspace((unsigned char)*r))
        r++;
    if (*r && *r != ';' && *r != '#') {
        snprintf(err, errlen, "text after quoted value");
        return -1;
    }
    *w = '\0';
    return 0;
}

static int check_consistency(const struct conf *c, char *err, size_t errlen)
{
    if (c->min_ttl > c->max_ttl) {
        snprintf(err, errlen, "min_ttl is greater than max_ttl");
        return -1;
    }
    /* [ttl] rules are clamped to max_ttl, so this bounds every row's life */
    if (c->max_ttl + c->swr + c->sie > UTIL_POLICY_MAX_AGE_SECS) {
        snprintf(err, errlen,
                 "max_ttl + stale_while_revalidate + stale_if_error is %ld seconds, more than the %d days"
                 " YouTube's developer policies allow API data to be kept without refreshing it",
                 c->max_ttl + c->swr + c->sie, UTIL_POLICY_MAX_AGE_DAYS);
        return -1;
    }
    for (size_t i = 0; i < c->n_buckets; i++)
        if (c->buckets[i].limit < 0) {
            snprintf(err, errlen, "%s.%s given but no bucket.%s",
                     c->buckets[i].reserve ? "reserve" : c->buckets[i].client >= 0 ? "client" : "outage",
                     c->buckets[i].name, c->buckets[i].name);
            return -1;
        }
    for (size_t i = 0; i < c->n_buckets; i++)
        if (c->buckets[i].reserve > c->buckets[i].limit) {
            snprintf(err, errlen, "reserve.%s is larger than bucket.%s", c->buckets[i].name, c->buckets[i].name);
            return -1;
        }
    for (size_t i = 0; i < c->n_costs; i++)
        if (!find_bucket((struct conf *)c, c->costs[i].bucket)) {
            snprintf(err, errlen, "cost.%s names an unknown bucket", c->costs[i].resource);
            return -1;
        }
    for (size_t i = 0; i < c->n_budgets; i++)
        if (!find_bucket((struct conf *)c, c->budgets[i].bucket)) {
            snprintf(err, errlen, "budget.%s.%s names an unknown bucket", c->budgets[i].bucket, c->budgets[i].region);
            return -1;
        }
    if (!find_bucket((struct conf *)c, "default")) {
        snprintf(err, errlen, "bucket.default is required");
        return -1;
    }
    if (strncmp(c->base_url, "http://", 7) != 0 && strncmp(c->base_url, "https://", 8) != 0) {
        snprintf(err, errlen, "base_url must start with http:// or https://");
        return -1;
    }
    return 0;
}

/* Errors name file, line and key, never the line: a value may be a password
 * or an API key, and a stray line may be one pasted in. A name that does not
 * look like a setting's is not repeated either. */
static const char *shown(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 48 || strstr(name, "AIza"))
        return "(name not shown)";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
            return "(name not shown)";
    return name;
}

/* A "[name]" line (s, trimmed) names the section that follows; 0, or -1 with msg set. */
static int section_header(char *s, char *section, size_t slen, char *msg, size_t msglen)
{
    char *end = strchr(s, ']');
    if (!end || *trim(end + 1)) {
        snprintf(msg, msglen, "bad section header");
        return -1;
    }
    *end = '\0';
    char *name = trim(s + 1);
    if (strcmp(name, "server") && strcmp(name, "database") && strcmp(name, "upstream") &&
        strcmp(name, "cache") && strcmp(name, "ttl") && strcmp(name, "quota") &&
        strcmp(name, "refresh") && strcmp(name, "websub") && strcmp(name, "access") && strcmp(name, "economy")) {
        snprintf(msg, msglen, "unknown section: [%s]", shown(name));
        return -1;
    }
    util_copy(section, slen, name);
    return 0;
}

static int parse_file(struct conf *c, const char *path, FILE *fp, char *err, size_t errlen)
{
    char line[4096];
    char section[32] = "";
    long lineno = 0;
    char msg[UTIL_ERRLEN];
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%ld: line too long", path, lineno);
            return -1;
        }
        char *s = trim(line);
        if (!*s || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            if (section_header(s, section, sizeof section, msg, sizeof msg) < 0) {
                snprintf(err, errlen, "%s:%ld: %s", path, lineno, msg);
                return -1;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%ld: expected key = value", path, lineno);
            return -1;
        }
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        if (!section[0]) {
            snprintf(err, errlen, "%s:%ld: setting outside a [section]: %s", path, lineno, shown(key));
            return -1;
        }
        if (unquote_value(val, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s:%ld: %s: %s", path, lineno, shown(key), msg);
            return -1;
        }
        if (strcmp(section, "ttl") == 0 || strcmp(section, "access") == 0) {
            int rc = section[0] == 't' ? set_ttl_rule(c, key, val, msg, sizeof msg)
                                       : access_set(&c->access, key, val, msg, sizeof msg);
            if (rc < 0) {
                snprintf(err, errlen, "%s:%ld: %s: %s", path, lineno, msg, shown(key));
                return -1;
            }
            continue;
        }
        const struct opt *o = find_opt(section, key);
        if (!o && strcmp(section, "quota") == 0 && strchr(key, '.')) {
            if (set_quota_rule(c, key, val, msg, sizeof msg) < 0) {
                snprintf(err, errlen, "%s:%ld: %s: %s", path, lineno, msg, shown(key));
                return -1;
            }
            continue;
        }
        if (!o) {
            snprintf(err, errlen, "%s:%ld: unknown key in [%s]: %s", path, lineno, section, shown(key));
            return -1;
        }
        if (set_opt(c, o, val, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s:%ld: %s", path, lineno, msg);
            return -1;
        }
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
    conf_defaults(c);
    int explicit_path = path != NULL;
    if (!path) {
        const char *e = getenv("YTCACHE_CONFIG");
        if (e && *e) {
            path = e;
            explicit_path = 1;
        } else {
            path = conf_default_path();
        }
    }
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (explicit_path || errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
    } else {
        util_copy(c->path, sizeof c->path, path);
        int rc = parse_file(c, path, fp, err, errlen);
        fclose(fp);
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof env_overrides / sizeof env_overrides[0]; i++) {
        const char *v = getenv(env_overrides[i].env);
        if (!v)
            continue;
        char msg[UTIL_ERRLEN];
        if (set_opt(c, find_opt(env_overrides[i].section, env_overrides[i].key), v, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "$%s: %s", env_overrides[i].env, msg);
            return -1;
        }
    }
    for (size_t i = 0; i < c->n_cors; i++)
        if (strcmp(c->cors_origins[i], "*") == 0)
            c->cors_any = 1;
    if (check_consistency(c, err, errlen) < 0) {
        char msg[UTIL_ERRLEN];
        util_copy(msg, sizeof msg, err);
        snprintf(err, errlen, "%s: %s", c->path[0] ? c->path : "(defaults)", msg);
        return -1;
    }
    return 0;
}

void conf_free(struct conf *c)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char *base = (char *)c;
        if (opts[i].type == O_STR || opts[i].type == O_IDENT || opts[i].type == O_HOSTS) {
            char **p = (char **)(base + opts[i].off);
            free(*p);
            *p = NULL;
        } else if (opts[i].type == O_LIST) {
            free_list((char **)(base + opts[i].off), (size_t *)(base + opts[i].count_off));
        }
    }
    access_free(&c->access);
}

static long clamp_ttl(const struct conf *c, long ttl)
{
    return ttl < c->min_ttl ? c->min_ttl : ttl > c->max_ttl ? c->max_ttl : ttl;
}

long conf_client_max_age(const struct conf *c, long client_ttl)
{
    return client_ttl < 0 ? -1 : clamp_ttl(c, client_ttl);
}

long conf_ttl_for(const struct conf *c, const char *resource, const struct canon *req)
{
    long ttl = c->default_ttl;
    int best = 0;   /* 1 = resource rule, 2 = resource.param rule */
    for (size_t i = 0; i < c->n_ttl; i++) {
        const struct ttl_rule *r = &c->ttl[i];
        if (strcmp(r->resource, resource) != 0)
            continue;
        if (!r->param[0] && best < 1) {
            ttl = r->ttl;
            best = 1;
        } else if (r->param[0] && req && canon_get(req, r->param) && best < 2) {
            ttl = r->ttl;
            best = 2;
        }
    }
    return clamp_ttl(c, ttl);
}

void conf_cost_for(const struct conf *c, const char *resource, const char **bucket, long *units)
{
    for (size_t i = 0; i < c->n_costs; i++)
        if (strcmp(c->costs[i].resource, resource) == 0) {
            *bucket = c->costs[i].bucket;
            *units = c->costs[i].units;
            return;
        }
    *bucket = "default";
    *units = 1;
}

const struct quota_bucket *conf_bucket(const struct conf *c, const char *name)
{
    return find_bucket((struct conf *)c, name);
}

long conf_budget_for(const struct conf *c, const char *bucket, const char *region)
{
    for (size_t i = 0; region && i < c->n_budgets; i++)
        if (strcmp(c->budgets[i].bucket, bucket) == 0 && strcasecmp(c->budgets[i].region, region) == 0)
            return c->budgets[i].units;
    return -1;
}

int conf_set(struct conf *c, const char *section, const char *key, const char *value, char *err, size_t errlen)
{
    const struct opt *o = find_opt(section, key);
    if (!o) {
        snprintf(err, errlen, "unknown setting [%s] %s", section, shown(key));
        return -1;
    }
    return set_opt(c, o, value, err, errlen);
}
