/* conf: ytcache.conf (INI) parsing, the table of defaults, env overrides, TTL rules. */
#ifndef YTC_CONF_H
#define YTC_CONF_H

#include <stddef.h>
#include "access.h"

struct canon;

#define CONF_MAX_LIST 32
/* Room for conf_load's "FILE:LINE: message: text" (a path may be long). */
#define CONF_ERRLEN 1200

/* An address or network in 16 bytes; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d),
 * its prefix counted in that form (10.0.0.0/8 has bits 104). */
struct conf_net {
    unsigned char addr[16];
    int bits;
};

/* One [database] host entry: "name", "name:port", "[v6]:port" or a bare IPv6 address. */
#define CONF_MAX_DB_HOSTS 8
struct conf_db_host {
    char name[256];
    long port;             /* 0 = [database] port */
};

struct ttl_rule {
    char resource[32];
    char param[32];        /* "" = whole resource */
    long ttl;              /* seconds */
};

struct quota_bucket {
    char name[32];
    long limit;            /* units per key per Pacific day */
    long reserve;          /* units per key kept back for the refresher */
    long client;           /* units one client may spend per client_window; -1 = client_units */
    long outage;           /* units per minute one host may spend while the database is down; -1 = outage_units */
};

struct quota_cost_rule {
    char resource[32];
    char bucket[32];
    long units;
};

struct quota_budget {
    char bucket[32];
    char region[16];       /* regionCode or relevanceLanguage value */
    long units;            /* per Pacific day, all keys together */
};

struct conf {
    char path[1024];                 /* file actually read, "" if none */

    /* [server] */
    char *cors_origins[CONF_MAX_LIST];
    size_t n_cors;
    int cors_any;                    /* cors_origins = * */
    long log_level;
    long max_query_bytes;
    long db_outage;                  /* CONF_DB_OUTAGE_* */
    char *metrics_allow[CONF_MAX_LIST];
    size_t n_metrics_allow;
    char *metrics_file;              /* shared counters; "" = derived per user and config */
    long debug_core_dumps;           /* 1 = leave core dumps on (they hold keys and passwords) */

    /* [database] */
    char *db_host;                   /* the text as written; parsed into db_hosts */
    struct conf_db_host db_hosts[CONF_MAX_DB_HOSTS];   /* tried in order at each connect */
    size_t n_db_hosts;
    long db_port;
    char *db_socket;
    char *db_user;
    char *db_password;
    char *db_name;
    char *db_option_file;
    char *db_option_group;
    long db_connect_timeout;         /* seconds */
    long db_retry_ms;
    char *db_table_prefix;           /* before every table name ([A-Za-z0-9_]{0,32}) */
    long db_auto_migrate;            /* 1: a process that finds the schema missing or old migrates it */

    /* [upstream] */
    char *base_url;
    char *keys[CONF_MAX_LIST];
    size_t n_keys;
    long key_mode;                   /* CONF_KEY_* */
    long rotate_on_quota;            /* 1: an exhausted key hands over to the next (see quota.c) */
    char *referer;
    long connect_timeout_ms;
    long timeout_ms;
    long max_response_bytes;

    /* [cache] */
    long default_ttl;
    long min_ttl;
    long max_ttl;
    long swr;                        /* stale_while_revalidate, seconds */
    long sie;                        /* stale_if_error, seconds */
    long negative_ttl;
    long lock_wait_ms;
    long hot_bytes;                  /* per FastCGI process; 0 = no hot-entry memory */
    long hot_trust_ms;               /* how long a memory copy is served unchecked */
    long cache_max_rows;             /* rows in the cache table; past it, evict (0 = no bound) */
    long cache_max_bytes;            /* bytes of stored responses; past it, evict (0 = no bound) */

    /* [quota] */
    struct quota_bucket buckets[8];
    size_t n_buckets;
    struct quota_cost_rule costs[32];
    size_t n_costs;
    struct quota_budget budgets[64];
    size_t n_budgets;
    long client_units;               /* per client_window; 0 = no per-client limit */
    long client_window;              /* seconds */
    long client_burst;               /* units; 0 = client_units */
    long outage_units;               /* per minute per host without the database (db_outage = bypass) */
    struct conf_net trusted_proxies[CONF_MAX_LIST];   /* whose X-Forwarded-For is believed */
    size_t n_trusted_proxies;
    long client_ipv6_prefix;         /* bits of an IPv6 address that name one client */
    long breaker_failures;
    long breaker_window;             /* seconds */
    long breaker_cooldown;           /* seconds */

    /* [refresh] */
    char *refresh_regions[CONF_MAX_LIST];
    size_t n_refresh_regions;
    char *refresh_part;
    long refresh_max_results;
    long refresh_pages;
    char *refresh_categories[CONF_MAX_LIST];
    size_t n_refresh_categories;
    long refresh_interval;           /* seconds between cron runs */
    long refresh_hot_hits;           /* hits since the last fetch that make an entry hot */
    long refresh_run_budget;         /* units one run may spend */
    long refresh_purge_batch;        /* rows per DELETE */

    /* [websub] */
    char *websub_hub;
    char *websub_callback;           /* public URL of <mount>/websub */
    long websub_lease;               /* seconds */
    long websub_max_body;            /* bytes */
    long websub_renew_before;        /* seconds */
    long websub_verify_window;       /* seconds: how long after a request its intent check is honoured */

    /* [economy] */
    long channel_search;             /* CONF_CHANNEL_SEARCH_* */

    /* [ttl] */
    struct ttl_rule ttl[64];
    size_t n_ttl;

    /* [access]: what may be asked (access.h); all zeros = open */
    struct access access;
};

enum { CONF_DB_OUTAGE_BYPASS = 0, CONF_DB_OUTAGE_ERROR = 1 };
enum { CONF_KEY_POOL = 0, CONF_KEY_PASSTHROUGH = 1 };
enum { CONF_CHANNEL_SEARCH_SEARCH = 0, CONF_CHANNEL_SEARCH_UPLOADS = 1 };

/* Fill c with the built-in defaults. */
void conf_defaults(struct conf *c);
/* Defaults, then the file (if path is NULL: $YTCACHE_CONFIG, then the
 * sysconfdir default, which may be absent), then the environment.
 * 0 on success; -1 with "FILE:LINE: message: text" in err. */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
void conf_free(struct conf *c);
/* Set one setting of the option table from text, with the checks the file's
 * value would get (command-line overrides). Not for the rules a file may
 * also hold ([ttl] entries, [quota] bucket.B, reserve.B, cost.R, budget.B.R:
 * "unknown setting"); the value is taken as it is, not unquoted; and
 * conf_load's consistency checks are not run again. */
int conf_set(struct conf *c, const char *section, const char *key, const char *value, char *err, size_t errlen);
const char *conf_default_path(void);
/* n bytes of s as an IPv4 or IPv6 address in 16 bytes (IPv4 as IPv4-mapped):
 * 1, or 0 if it is not one address in a standard text form. */
int conf_addr_parse(const char *s, size_t n, unsigned char out[16]);

/* The TTL a row of this request is stored with: the most specific [ttl]
 * rule (resource.param beats resource), else default_ttl, clamped to
 * [min_ttl, max_ttl]. A client's ttl=/age= never changes it. */
long conf_ttl_for(const struct conf *c, const char *resource, const struct canon *req);
/* A client's ttl=/age= (canon's client_ttl) as the oldest copy its request
 * accepts: clamped to [min_ttl, max_ttl]; -1 (none asked) stays -1. */
long conf_client_max_age(const struct conf *c, long client_ttl);

/* Units one client may spend of a bucket per client_window, and its burst; 0 = no limit. */
long conf_client_units(const struct conf *c, const char *bucket, long *burst);
/* Units one host may spend of a bucket per minute while the database is unreachable. */
long conf_outage_units(const struct conf *c, const char *bucket);
/* Cost of one call to a resource: its bucket and units. */
void conf_cost_for(const struct conf *c, const char *resource, const char **bucket, long *units);
const struct quota_bucket *conf_bucket(const struct conf *c, const char *name);
/* The daily budget for a bucket and region, or -1 if none is set. */
long conf_budget_for(const struct conf *c, const char *bucket, const char *region);

#endif
