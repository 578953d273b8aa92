/* Unit tests: configuration defaults, parsing errors and TTL selection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "canon.h"
#include "conf.h"
#include "tap.h"

static char path[64];
static struct conf c;
static char err[CONF_ERRLEN];

static int load_text(const char *text)
{
    snprintf(path, sizeof path, "/tmp/ytc-conf-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = conf_load(&c, path, err, sizeof err);
    unlink(path);
    return rc;
}

static void teardown(void) { conf_free(&c); }

START_TEST(defaults)
{
    conf_defaults(&c);
    ck_assert_str_eq(c.base_url, "https://www.googleapis.com/youtube/v3");
    ck_assert_int_eq(c.default_ttl, 3600);
    ck_assert_int_eq(c.min_ttl, 60);
    ck_assert_int_eq(c.swr, 300);
    ck_assert_int_eq(c.sie, 86400);
    ck_assert_int_eq(c.key_mode, CONF_KEY_POOL);
    ck_assert_int_eq(c.n_keys, 0);
    ck_assert_int_eq(c.max_query_bytes, 8192);
    /* the cache table's bound: 100,000 rows, 512 MiB of answers */
    ck_assert_int_eq(c.cache_max_rows, 100000);
    ck_assert_int_eq(c.cache_max_bytes, 536870912L);
    ck_assert_int_eq(c.channel_search, CONF_CHANNEL_SEARCH_SEARCH);   /* [economy] is opt-in */
    conf_free(&c);
    ck_assert_msg(load_text("[economy]\nchannel_search = uploads\n") == 0, "%s", err);
    ck_assert_int_eq(c.channel_search, CONF_CHANNEL_SEARCH_UPLOADS);
}
END_TEST

START_TEST(parse_ok)
{
    ck_assert_msg(load_text("; comment\n# another\n[server]\ncors_origins = https://a.example, https://b.example ; inline\n"
                            "[upstream]\nkeys = K1,K2 , K3\nkey_mode = passthrough\n"
                            "[database]\npassword = \"p;a#s\\\"s\"\n"
                            "[cache]\nmin_ttl = 30s\nmax_ttl = 2d\n"
                            "[ttl]\nsearch = 1h\nvideos.chart = 5m\n") == 0, "%s", err);
    ck_assert_int_eq(c.n_cors, 2);
    ck_assert_str_eq(c.cors_origins[1], "https://b.example");
    ck_assert_int_eq(c.n_keys, 3);
    ck_assert_str_eq(c.keys[2], "K3");
    ck_assert_int_eq(c.key_mode, CONF_KEY_PASSTHROUGH);
    ck_assert_str_eq(c.db_password, "p;a#s\"s");
    ck_assert_int_eq(c.min_ttl, 30);
    ck_assert_int_eq(c.max_ttl, 172800);
}
END_TEST

/* Each bad file fails naming file, line and key, never the text of the line. */
static const struct { const char *text; const char *want; } bad[] = {
    { "[server]\nbogus = 1\n", ":2: unknown key in [server]: bogus" },
    { "[nosuch]\n", ":1: unknown section: [nosuch]" },
    { "[cache]\n\nmin_ttl = soon\n", ":3: min_ttl must be a duration" },
    { "[cache]\nmin_ttl = 100\nmax_ttl = 50\n", "min_ttl is greater than max_ttl" },
    { "[server]\nlog_level = loud\n", ":2: log_level must be one of error, warn, info, debug" },
    { "[economy]\nchannel_search = cheap\n", ":2: channel_search must be one of search, uploads" },
    { "[server]\nmax_query_bytes = 10\n", ":2: max_query_bytes must be an integer from 256" },
    { "[database]\nport = 70000\n", ":2: port must be an integer from 0 to 65535" },
    { "[database]\nport = 33 06\n", ":2: port must be an integer" },
    { "keys = x\n", ":1: setting outside a [section]: keys" },
    { "[upstream]\njust text\n", ":2: expected key = value" },
    { "[upstream]\nbase_url = ftp://example.org\n", "base_url must start with http:// or https://" },
    { "[ttl]\nnosuch = 10\n", ":2: unknown resource in ttl rule: nosuch" },
    { "[database]\npassword = \"unterminated\n", ":2: password: unterminated quoted value" },
    { "[quota]\ntrust_forwarded = 1\n", ":2: trust_forwarded is no longer supported: list the addresses of your proxies in trusted_proxies" },
    { "[quota]\ntrusted_proxies = 127.0.0.1, 10.0.0.1/8\n", ":2: trusted_proxies: entry 2 is not an address" },
    { "[server]\ndebug_core_dumps = maybe\n", ":2: debug_core_dumps must be one of no, yes" },
    { "[access]\n\nresources = videos,nosuch\n", ":3: a resource ytcache does not serve: resources" },
    { "[database]\n\nhost = db1:3306, db2:99999\n", ":3: host: entry 2 is not NAME, NAME:PORT" },
    { "[database]\nhost = db1:, db2\n", ":2: host: entry 1 is not NAME" },
    { "[database]\nhost = [::1, db2\n", ":2: host: entry 1 is not NAME" },
    { "[database]\nhost = [::1]x\n", ":2: host: entry 1 is not NAME" },
    { "[database]\nhost = a b:3306\n", ":2: host: entry 1 is not NAME" },
    { "[database]\nhost = a,b,c,d,e,f,g,h,i\n", ":2: host: more than 8 addresses" },
    { "[access]\nvideoCategoryId = 10\n", ":2: unknown key in [access]: videoCategoryId" },
    { "[access]\nchannelId = UCa,,UCb\n", ":2: an empty or over-long value in the list: channelId" },
};

/* Secrets, and lines that may be secrets, never appear in an error. */
#define SECRET "AIzaSyS3CRET-never-print-me-000000000"
static const struct { const char *text; const char *want; } secret_errors[] = {
    { "[database]\npassword = \"" SECRET "\n", ":2: password: unterminated quoted value" },
    { "[database]\npassword = \"" SECRET "\" trailing\n", ":2: password: text after quoted value" },
    { "[upstream]\nkeys = \"" SECRET ", K2\n", ":2: keys: unterminated quoted value" },
    { "[upstream]\nkeys = \"K1,\" " SECRET "\n", ":2: keys: text after quoted value" },
    { "[upstream]\nkeys = K1\n  " SECRET "\n", ":3: expected key = value" },
    { "[upstream]\n" SECRET "\n", ":2: expected key = value" },
    { "[upstream]\nkey = " SECRET "\n", ":2: unknown key in [upstream]: key" },
    { "[upstream]\n" SECRET " = 1\n", ":2: unknown key in [upstream]: (name not shown)" },
    { "[upstream]\nsecret key = " SECRET "\n", ":2: unknown key in [upstream]: (name not shown)" },
    { "[" SECRET "]\n", ":1: unknown section: [(name not shown)]" },
    { "[upstream] " SECRET "\n", ":1: bad section header" },
    { "password = " SECRET "\n", ":1: setting outside a [section]: password" },
    { "[server]\nlog_level = " SECRET "\n", ":2: log_level must be one of" },
    { "[database]\nport = " SECRET "\n", ":2: port must be an integer" },
    { "[cache]\nmin_ttl = " SECRET "\n", ":2: min_ttl must be a duration" },
    { "[ttl]\n" SECRET " = 1\n", ":2: bad ttl rule name: (name not shown)" },
    { "[ttl]\nvideos = " SECRET "\n", ":2: ttl must be a duration (seconds, or with s/m/h/d): videos" },
    { "[quota]\nbucket.default = " SECRET "\n", ":2: bucket must be a number of units: bucket.default" },
    { "[access]\nresources = videos," SECRET "\n", ":2: a resource ytcache does not serve: resources" },
    { "[access]\nsearch_requires = " SECRET "\n", ":2: not a parameter name: search_requires" },
    { "[quota]\ntrusted_proxies = " SECRET "\n", ":2: trusted_proxies: entry 1 is not an address" },
};

START_TEST(no_secret_in_errors)
{
    ck_assert_int_eq(load_text(secret_errors[_i].text), -1);
    ck_assert_msg(strstr(err, secret_errors[_i].want) != NULL, "got \"%s\", want \"%s\"", err, secret_errors[_i].want);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error does not name the file: %s", err);
    ck_assert_msg(strstr(err, "S3CRET") == NULL && strstr(err, "AIza") == NULL, "secret in error: %s", err);
}
END_TEST

START_TEST(parse_errors)
{
    ck_assert_int_eq(load_text(bad[_i].text), -1);
    ck_assert_msg(strstr(err, bad[_i].want) != NULL, "got \"%s\", want \"%s\"", err, bad[_i].want);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error does not name the file: %s", err);
}
END_TEST

/* The [access] section reaches conf (access.c checks the rules); none = open. */
START_TEST(access_section)
{
    ck_assert_int_eq(load_text("[server]\n"), 0);
    ck_assert_int_eq(c.access.list[AR_RESOURCES].set, 0);
    conf_free(&c);
    ck_assert_msg(load_text("[access]\nresources = search, videos\nsearch_requires = channelId\n"
                            "channelId = UC_x5XG1OV2P6uZZ5FSM9Ttw\n") == 0, "%s", err);
    ck_assert_uint_eq(c.access.list[AR_RESOURCES].n, 2);
    ck_assert_str_eq(c.access.list[AR_RESOURCES].v[1], "videos");
    ck_assert_str_eq(c.access.list[AR_SEARCH_REQUIRES].v[0], "channelId");
    ck_assert_uint_eq(c.access.list[AR_CHANNELID].n, 1);
}
END_TEST

START_TEST(missing_explicit_file)
{
    ck_assert_int_eq(conf_load(&c, "/nonexistent/ytcache.conf", err, sizeof err), -1);
    ck_assert(strstr(err, "/nonexistent/ytcache.conf: cannot open") != NULL);
}
END_TEST

START_TEST(env_override)
{
    setenv("YTCACHE_DB_HOST", "db.internal", 1);
    setenv("YTCACHE_DB_PORT", "3307", 1);
    ck_assert_int_eq(load_text("[database]\nhost = ignored\n"), 0);
    ck_assert_str_eq(c.db_host, "db.internal");
    ck_assert_int_eq(c.db_port, 3307);
    ck_assert_str_eq(c.db_hosts[0].name, "db.internal");
    conf_free(&c);
    setenv("YTCACHE_DB_HOST", "db1:3306,db2:bad", 1);
    ck_assert_int_eq(load_text("[database]\n"), -1);
    ck_assert(strstr(err, "$YTCACHE_DB_HOST: host: entry 2") != NULL);
    setenv("YTCACHE_DB_HOST", "db.internal", 1);
    conf_free(&c);
    setenv("YTCACHE_DB_PORT", "x", 1);
    ck_assert_int_eq(load_text("[database]\n"), -1);
    ck_assert(strstr(err, "$YTCACHE_DB_PORT") != NULL);
    unsetenv("YTCACHE_DB_HOST");
    unsetenv("YTCACHE_DB_PORT");
}
END_TEST

/* [database] host: a list tried in order, a port per address or [database] port. */
START_TEST(db_hosts)
{
    ck_assert_msg(load_text("[database]\nhost = db.internal\nport = 3307\n") == 0, "%s", err);
    ck_assert_int_eq(c.n_db_hosts, 1);
    ck_assert_str_eq(c.db_hosts[0].name, "db.internal");
    ck_assert_int_eq(c.db_hosts[0].port, 0);
    conf_free(&c);
    ck_assert_msg(load_text("[database]\nhost = 10.0.0.1:3306, 10.0.0.2:3307 ,replica.internal,"
                            "[fd00::5]:3308, fd00::6\n") == 0, "%s", err);
    ck_assert_int_eq(c.n_db_hosts, 5);
    ck_assert_str_eq(c.db_hosts[0].name, "10.0.0.1");
    ck_assert_int_eq(c.db_hosts[0].port, 3306);
    ck_assert_str_eq(c.db_hosts[1].name, "10.0.0.2");
    ck_assert_int_eq(c.db_hosts[1].port, 3307);
    ck_assert_str_eq(c.db_hosts[2].name, "replica.internal");
    ck_assert_int_eq(c.db_hosts[2].port, 0);
    ck_assert_str_eq(c.db_hosts[3].name, "fd00::5");
    ck_assert_int_eq(c.db_hosts[3].port, 3308);
    ck_assert_str_eq(c.db_hosts[4].name, "fd00::6");
    ck_assert_int_eq(c.db_hosts[4].port, 0);
    conf_free(&c);
    ck_assert_msg(load_text("[database]\nhost =\n") == 0, "%s", err);
    ck_assert_int_eq(c.n_db_hosts, 0);
    conf_free(&c);
    ck_assert_int_eq(load_text("[database]\n"), 0);
    ck_assert_int_eq(c.n_db_hosts, 1);
    ck_assert_str_eq(c.db_hosts[0].name, "localhost");
}
END_TEST

START_TEST(quota_model)
{
    const char *bucket;
    long units;
    conf_defaults(&c);
    conf_cost_for(&c, "search", &bucket, &units);
    ck_assert_str_eq(bucket, "search");
    ck_assert_int_eq(units, 1);
    conf_cost_for(&c, "captions", &bucket, &units);
    ck_assert_str_eq(bucket, "default");
    ck_assert_int_eq(units, 50);
    conf_cost_for(&c, "videos", &bucket, &units);
    ck_assert_str_eq(bucket, "default");
    ck_assert_int_eq(units, 1);
    ck_assert_int_eq(conf_bucket(&c, "default")->limit, 10000);
    ck_assert_int_eq(conf_bucket(&c, "search")->limit, 100);
    /* videos.batchGetStats: 1 unit from a 10,000-unit bucket of its own (3 June 2026) */
    conf_cost_for(&c, "videos:batchGetStats", &bucket, &units);
    ck_assert_str_eq(bucket, "batchGetStats");
    ck_assert_int_eq(units, 1);
    ck_assert_int_eq(conf_bucket(&c, "batchGetStats")->limit, 10000);
    long bgs_burst;
    ck_assert_int_eq(conf_client_units(&c, "batchGetStats", &bgs_burst), 100);   /* client_units, as default */
    /* shipped per-client limits: 5 % of search, 1 % of default, an hour */
    long burst;
    ck_assert_int_eq(conf_client_units(&c, "search", &burst), 5);
    ck_assert_int_eq(burst, 5);
    ck_assert_int_eq(conf_client_units(&c, "default", &burst), 100);
    ck_assert_int_eq(burst, 100);
    ck_assert_int_eq(c.client_window, 3600);
    /* the outage budget: 5 units a minute per process, no search */
    ck_assert_int_eq(conf_outage_units(&c, "default"), 5);
    ck_assert_int_eq(conf_outage_units(&c, "search"), 0);
    conf_free(&c);
    ck_assert_msg(load_text("[quota]\noutage_units = 2\noutage.search = 1\n") == 0, "%s", err);
    ck_assert_int_eq(conf_outage_units(&c, "default"), 2);
    ck_assert_int_eq(conf_outage_units(&c, "search"), 1);
    conf_free(&c);
    ck_assert_msg(load_text("[quota]\noutage.nosuch = 1\n") < 0, "outage.B without bucket.B is refused");
    conf_free(&c);
    ck_assert_msg(load_text("[quota]\nclient.default = 7\nclient.search = 2\nclient_burst = 9\n") == 0, "%s", err);
    ck_assert_int_eq(conf_client_units(&c, "default", &burst), 7);
    ck_assert_int_eq(conf_client_units(&c, "search", &burst), 2);
    ck_assert_int_eq(burst, 2);
    conf_free(&c);
    ck_assert_msg(load_text("[quota]\nclient_units = 0\n") == 0, "%s", err);
    ck_assert_int_eq(conf_client_units(&c, "search", &burst), 0);
    conf_free(&c);
    /* the pre-2026 model, and a budget and reserve */
    ck_assert_msg(load_text("[quota]\ncost.search = default:100\nbucket.default = 5000\nreserve.default = 200\n"
                            "budget.default.JP = 2000\nclient_units = 50\nclient_window = 10m\n") == 0, "%s", err);
    conf_cost_for(&c, "search", &bucket, &units);
    ck_assert_str_eq(bucket, "default");
    ck_assert_int_eq(units, 100);
    ck_assert_int_eq(conf_bucket(&c, "default")->limit, 5000);
    ck_assert_int_eq(conf_bucket(&c, "default")->reserve, 200);
    ck_assert_int_eq(conf_budget_for(&c, "default", "jp"), 2000);
    ck_assert_int_eq(conf_budget_for(&c, "default", "US"), -1);
    ck_assert_int_eq(conf_budget_for(&c, "default", NULL), -1);
    ck_assert_int_eq(c.client_units, 50);
    ck_assert_int_eq(c.client_window, 600);
}
END_TEST

static const struct { const char *text; const char *want; } bad_quota[] = {
    { "[quota]\ncost.videos = nosuch:1\n", "cost.videos names an unknown bucket" },
    { "[quota]\ncost.videos = 5\n", ":2: cost must be BUCKET:UNITS" },
    { "[quota]\ncost.nosuch = default:1\n", ":2: unknown resource in cost rule" },
    { "[quota]\nbudget.default = 5\n", ":2: budget key must be budget.BUCKET.REGION" },
    { "[quota]\nbudget.other.JP = 5\n", "budget.other.JP names an unknown bucket" },
    { "[quota]\nreserve.other = 5\n", "reserve.other given but no bucket.other" },
    { "[quota]\nclient.other = 5\n", "client.other given but no bucket.other" },
    { "[quota]\nbucket.default = lots\n", ":2: bucket must be a number of units" },
    { "[cache]\nmax_rows = -1\n", ":2: max_rows must be an integer from 0 to 1000000000" },
    { "[cache]\nmax_bytes = 512M\n", ":2: max_bytes must be an integer" },
    { "[quota]\nbreaker_failures = 0\n", ":2: breaker_failures must be an integer from 1" },
    { "[quota]\nbucket.default = 100\nreserve.default = 101\n", "reserve.default is larger than bucket.default" },
};

START_TEST(quota_errors)
{
    ck_assert_int_eq(load_text(bad_quota[_i].text), -1);
    ck_assert_msg(strstr(err, bad_quota[_i].want) != NULL, "got \"%s\", want \"%s\"", err, bad_quota[_i].want);
}
END_TEST

START_TEST(ttl_selection)
{
    struct canon q;
    struct yerr e;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(load_text("[cache]\nmin_ttl = 60\nmax_ttl = 1d\ndefault_ttl = 500\n[ttl]\nsearch = 2h\n"), 0);
    ck_assert_int_eq(canon_parse(&q, "videos", "part=id&id=dQw4w9WgXcQ", &e), 0);
    ck_assert_int_eq(conf_ttl_for(&c, "videos", &q), 3600);              /* built-in */
    ck_assert_int_eq(canon_parse(&q, "videos", "part=id&chart=mostPopular&ttl=120", &e), 0);
    ck_assert_int_eq(conf_ttl_for(&c, "videos", &q), 900);               /* rule on chart, not ttl= */
    ck_assert_int_eq(conf_client_max_age(&c, q.client_ttl), 120);        /* ttl= is the request's max age */
    ck_assert_int_eq(conf_client_max_age(&c, -1), -1);                   /* none asked */
    ck_assert_int_eq(conf_client_max_age(&c, 5), 60);                    /* clamped up */
    ck_assert_int_eq(conf_client_max_age(&c, 999999), 86400);            /* clamped down */
    ck_assert_int_eq(canon_parse(&q, "search", "part=snippet&q=x", &e), 0);
    ck_assert_int_eq(conf_ttl_for(&c, "search", &q), 7200);          /* configured */
    ck_assert_int_eq(canon_parse(&q, "videos:batchGetStats", "part=statistics&id=dQw4w9WgXcQ", &e), 0);
    ck_assert_int_eq(conf_ttl_for(&c, "videos:batchGetStats", &q), 300);   /* its own short rule */
    conf_free(&c);
    ck_assert_int_eq(load_text("[ttl]\nvideos:batchGetStats = 2m\n[quota]\nbucket.batchGetStats = 500\n"
                               "cost.videos:batchGetStats = default:1\n"), 0);
    ck_assert_int_eq(conf_ttl_for(&c, "videos:batchGetStats", &q), 120);
    ck_assert_int_eq(conf_bucket(&c, "batchGetStats")->limit, 500);
    const char *bucket;
    long units;
    conf_cost_for(&c, "videos:batchGetStats", &bucket, &units);
    ck_assert_str_eq(bucket, "default");
    canon_free(&q);
}
END_TEST

TAP_MAIN("conf", "conf")
{
    tcase_add_checked_fixture(t, NULL, teardown);
    tcase_add_test(t, defaults);
    tcase_add_test(t, parse_ok);
    tcase_add_loop_test(t, parse_errors, 0, sizeof bad / sizeof bad[0]);
    tcase_add_loop_test(t, no_secret_in_errors, 0, sizeof secret_errors / sizeof secret_errors[0]);
    tcase_add_test(t, missing_explicit_file);
    tcase_add_test(t, access_section);
    tcase_add_test(t, env_override);
    tcase_add_test(t, db_hosts);
    tcase_add_test(t, ttl_selection);
    tcase_add_test(t, quota_model);
    tcase_add_loop_test(t, quota_errors, 0, sizeof bad_quota / sizeof bad_quota[0]);
}
