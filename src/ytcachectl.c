/* ytcachectl: administration: migrate the schema, check a config, show stats, purge entries. */
#include "config.h"
#include "access.h"
#include "cache.h"
#include "canon.h"
#include "conf.h"
#include "portable.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "quota.h"
#include "websub.h"
#include "util.h"
#include "ycurl.h"

#include <time.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_DB = 2, EXIT_HUB = 3 };

/* Room for a database or hub error and what was being done. */
#define CTL_ERRLEN 512

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: ytcachectl [--config FILE] COMMAND\n"
            "commands:\n"
            "  migrate                 create or upgrade the database schema\n"
            "  check-config            validate the configuration file and exit\n"
            "  stats                   cache rows, bytes and hits per endpoint\n"
            "  purge expired           delete rows past their stale_if_error window or 30 days old\n"
            "  purge endpoint NAME     delete every row of one resource\n"
            "  purge all               delete every row\n"
            "  keys list               the key pool: labels, masked keys, state, reasons\n"
            "  keys add LABEL [KEY]    add a key (read from standard input if not given)\n"
            "  keys import FILE        add keys from lines \"LABEL KEY\" (# comments)\n"
            "  keys disable LABEL [REASON]\n"
            "  keys enable LABEL\n"
            "  keys remove LABEL\n"
            "  websub subscribe CHANNEL_ID...    ask YouTube's hub to push uploads of these channels\n"
            "  websub unsubscribe CHANNEL_ID...\n"
            "  websub list             subscriptions, their state and lease\n"
            "  websub forget CHANNEL_ID...       delete the local subscription without asking the hub\n"
            "                          (one left pending by a failed subscribe)\n"
            "exit status: 0 ok, 1 usage or configuration error, 2 database error, 3 WebSub hub error\n");
}

static int cmd_migrate(struct db *d, const struct conf *c)
{
    char err[CTL_ERRLEN];
    int from = 0, to = 0;
    if (migrate_run(d, &from, &to, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: migrate: %s\n", err);
        return EXIT_DB;
    }
    if (from == to)
        printf("schema is up to date (version %d)\n", to);
    else
        printf("schema migrated from version %d to %d\n", from, to);
    if (quota_sync_keys(d, c, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: migrate: synchronising keys: %s\n", err);
        return EXIT_DB;
    }
    return EXIT_OK;
}

static int stats_quota(struct db *d, const struct conf *c);

static int db_failed(const char *what, const char *err)
{
    fprintf(stderr, "ytcachectl: %s: %s\n", what, err);
    return EXIT_DB;
}

/* The bound (0: none) against what the table holds, and the rows evicted to keep it. */
static void stats_bound(const struct conf *c, long long rows, long long bytes, struct db *d)
{
    char err[CTL_ERRLEN];
    struct cache_usage u;
    printf("bound: max_rows %ld%s, max_bytes %ld%s; the table holds %lld rows, %lld bytes\n",
           c->cache_max_rows, c->cache_max_rows ? "" : " (none)", c->cache_max_bytes,
           c->cache_max_bytes ? "" : " (none)", rows, bytes);
    int got = cache_usage_read(d, &u, err, sizeof err);
    if (got > 0)
        printf("evicted: %lld rows by stores, %lld by ytcache-refresh (since the schema's version 8)\n",
               u.evicted_store, u.evicted_refresh);
    else
        printf("evicted: unknown (%s)\n", got < 0 ? err : "no cache_usage row: run ytcachectl migrate");
}

static int cmd_stats(struct db *d, const struct conf *c)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT endpoint, COUNT(*), COALESCE(SUM(LENGTH(response)), 0), COALESCE(SUM(hits), 0),"
        " COALESCE(SUM(expires_at > UTC_TIMESTAMP()), 0)"
        " FROM cache GROUP BY endpoint ORDER BY endpoint");
    char err[CTL_ERRLEN];
    char endpoint[64];
    unsigned long elen = 0;
    long long rows = 0, bytes = 0, hits = 0, fresh = 0;
    my_bool n[5] = { 0 };
    MYSQL_BIND r[5];
    db_bind_out_str(&r[0], endpoint, sizeof endpoint - 1, &elen, &n[0]);
    db_bind_out_long(&r[1], &rows, &n[1]);
    db_bind_out_long(&r[2], &bytes, &n[2]);
    db_bind_out_long(&r[3], &hits, &n[3]);
    db_bind_out_long(&r[4], &fresh, &n[4]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &sql, NULL, r, err, sizeof err) < 0)
        return db_failed("stats", err);
    printf("%-20s %10s %10s %14s %12s\n", "endpoint", "rows", "fresh", "bytes", "hits");
    long long trows = 0, tbytes = 0, thits = 0, tfresh = 0;
    while (db_rows_next(&rs) == DB_ROW) {
        endpoint[elen < sizeof endpoint ? elen : sizeof endpoint - 1] = '\0';
        printf("%-20s %10lld %10lld %14lld %12lld\n", n[0] ? "(null)" : endpoint, rows, fresh, bytes, hits);
        trows += rows;
        tbytes += bytes;
        thits += hits;
        tfresh += fresh;
    }
    printf("%-20s %10lld %10lld %14lld %12lld\n", "total", trows, tfresh, tbytes, thits);
    db_rows_end(&rs);
    stats_bound(c, trows, tbytes, d);
    return stats_quota(d, c);
}

/* Per key and bucket: used today, left, reset; then hits vs upstream calls. */
static int stats_quota(struct db *d, const struct conf *c)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT k.label, k.state, ku.bucket, ku.used, ku.calls, ku.exhausted"
        " FROM api_keys k JOIN key_usage ku ON ku.key_id = k.id AND ku.day = ?"
        " ORDER BY k.label, ku.bucket");
    static const struct db_stmt sql_hits = DB_STMT(
        "SELECT COALESCE((SELECT value FROM daily_counters WHERE day = ? AND name = 'hits'), 0),"
        " COALESCE((SELECT SUM(calls) FROM key_usage WHERE day = ?), 0)");
    char day[11];
    time_t now = time(NULL);
    util_pacific_date(now, day);
    long left_s = util_secs_to_pacific_midnight(now);
    time_t reset = now + left_s;
    struct tm rt;
    gmtime_r(&reset, &rt);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &rt);
    printf("\nquota for Pacific day %s (resets %s, in %ldh%02ldm)\n", day, when, left_s / 3600, left_s % 3600 / 60);
    char err[CTL_ERRLEN];
    unsigned long dlen = strlen(day);
    MYSQL_BIND p[2];
    db_bind_str(&p[0], day, &dlen);
    db_bind_str(&p[1], day, &dlen);
    char label[65], state[9], bucket[33];
    unsigned long l1 = 0, l2 = 0, l3 = 0;
    long long used = 0, calls = 0, exhausted = 0;
    my_bool n[6] = { 0 };
    MYSQL_BIND r[6];
    db_bind_out_str(&r[0], label, sizeof label - 1, &l1, &n[0]);
    db_bind_out_str(&r[1], state, sizeof state - 1, &l2, &n[1]);
    db_bind_out_str(&r[2], bucket, sizeof bucket - 1, &l3, &n[2]);
    db_bind_out_long(&r[3], &used, &n[3]);
    db_bind_out_long(&r[4], &calls, &n[4]);
    db_bind_out_long(&r[5], &exhausted, &n[5]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &sql, p, r, err, sizeof err) < 0)
        return db_failed("stats", err);
    printf("%-24s %-9s %-13s %10s %10s %10s  %s\n", "key", "state", "bucket", "used", "left", "calls", "note");
    while (db_rows_next(&rs) == DB_ROW) {
        label[l1 < sizeof label ? l1 : sizeof label - 1] = '\0';
        state[l2 < sizeof state ? l2 : sizeof state - 1] = '\0';
        bucket[l3 < sizeof bucket ? l3 : sizeof bucket - 1] = '\0';
        const struct quota_bucket *b = conf_bucket(c, bucket);
        long long limit = b ? b->limit : 0;
        long long left = exhausted != QUOTA_ROW_OPEN || limit < used ? 0 : limit - used;
        printf("%-24s %-9s %-13s %10lld %10lld %10lld  %s\n", label, state, bucket, used, left, calls,
               exhausted == QUOTA_ROW_EXHAUSTED ? "exhausted (Google said so)"
               : exhausted == QUOTA_ROW_DISABLED ? "disabled" : "");
    }
    db_rows_end(&rs);
    long long hits = 0, upstream = 0;
    MYSQL_BIND r2[2];
    db_bind_out_long(&r2[0], &hits, &n[0]);
    db_bind_out_long(&r2[1], &upstream, &n[1]);
    if (db_rows_begin(&rs, d, &sql_hits, p, r2, err, sizeof err) < 0)
        return db_failed("stats", err);
    int got = db_rows_next(&rs);
    db_rows_end(&rs);
    if (got != DB_ROW)
        return db_failed("stats", "no counters row");
    long long total = hits + upstream;
    printf("today: %lld answers from cache, %lld upstream calls", hits, upstream);
    if (total)
        printf(" (%.1f%% of requests cost no quota)", 100.0 * (double)hits / (double)total);
    printf("\n");
    return EXIT_OK;
}

static int key_result(int rc, const char *what, const char *label, const char *err)
{
    /* a duplicate is refused by the pool's unique keys, not by the command
     * line: exit 2 like the other database refusals (README, ytcachectl(8)) */
    if (rc == 2 || rc < 0) {
        fprintf(stderr, "ytcachectl: keys: %s: %s\n", label, err);
        return EXIT_DB;
    }
    if (rc == 1) {
        fprintf(stderr, "ytcachectl: keys: no key labelled %s\n", label);
        return EXIT_USAGE;
    }
    printf("key %s: %s\n", label, what);
    return EXIT_OK;
}

/* The rules, and the messages that state them. */
#define KEY_CHARS UTIL_ALNUM "._-"
#define LABEL_RULE "a label is 1-64 characters of A-Z a-z 0-9 . _ -"
#define SECRET_RULE "the key must be 8-128 characters of A-Z a-z 0-9 . _ -"

static int valid_label(const char *s)
{
    return util_all_in(s, KEY_CHARS, 1, 64);
}

static int valid_secret(const char *s)
{
    return util_all_in(s, KEY_CHARS, 8, 128);
}

static int keys_list(struct db *d)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT label, secret, fingerprint, source, state, COALESCE(disabled_reason, ''), COALESCE(last_error, '')"
        " FROM api_keys ORDER BY label");
    char err[CTL_ERRLEN];
    char label[65], secret[129], fp[17], source[9], state[9], reason[256], last[256];
    unsigned long len[7] = { 0 };
    my_bool n[7] = { 0 };
    MYSQL_BIND r[7];
    db_bind_out_str(&r[0], label, sizeof label - 1, &len[0], &n[0]);
    db_bind_out_str(&r[1], secret, sizeof secret - 1, &len[1], &n[1]);
    db_bind_out_str(&r[2], fp, sizeof fp - 1, &len[2], &n[2]);
    db_bind_out_str(&r[3], source, sizeof source - 1, &len[3], &n[3]);
    db_bind_out_str(&r[4], state, sizeof state - 1, &len[4], &n[4]);
    db_bind_out_str(&r[5], reason, sizeof reason - 1, &len[5], &n[5]);
    db_bind_out_str(&r[6], last, sizeof last - 1, &len[6], &n[6]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &sql, NULL, r, err, sizeof err) < 0)
        return db_failed("keys list", err);
    char *bufs[7] = { label, secret, fp, source, state, reason, last };
    size_t caps[7] = { sizeof label, sizeof secret, sizeof fp, sizeof source, sizeof state, sizeof reason,
                       sizeof last };
    printf("%-24s %-10s %-16s %-7s %-9s %s\n", "label", "key", "fingerprint", "source", "state", "reason");
    while (db_rows_next(&rs) == DB_ROW) {
        for (int i = 0; i < 7; i++)
            bufs[i][len[i] < caps[i] ? len[i] : caps[i] - 1] = '\0';
        char masked[16];
        quota_mask(secret, masked, sizeof masked);
        memset(secret, 0, sizeof secret);
        printf("%-24s %-10s %-16s %-7s %-9s %s\n", label, masked, fp, source, state, reason[0] ? reason : last);
    }
    db_rows_end(&rs);
    return EXIT_OK;
}

static int read_secret_stdin(char *out, size_t outlen)
{
    if (!fgets(out, (int)outlen, stdin))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int keys_import(struct db *d, const struct conf *c, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "ytcachectl: keys import: %s: cannot open\n", path);
        return EXIT_USAGE;
    }
    char line[512], err[CTL_ERRLEN];
    long lineno = 0, added = 0;
    int rc = EXIT_OK;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *s = line + strspn(line, " \t");
        s[strcspn(s, "\r\n")] = '\0';
        if (!*s || *s == '#')
            continue;
        char *sp = s + strcspn(s, " \t");
        if (!*sp) {
            fprintf(stderr, "ytcachectl: keys import: %s:%ld: expected LABEL KEY\n", path, lineno);
            rc = EXIT_USAGE;
            break;
        }
        *sp++ = '\0';
        sp += strspn(sp, " \t");
        char *end = sp + strcspn(sp, " \t");
        *end = '\0';
        if (!valid_label(s) || !valid_secret(sp)) {
            fprintf(stderr, "ytcachectl: keys import: %s:%ld: bad %s (%s)\n", path, lineno,
                    valid_label(s) ? "key" : "label", valid_label(s) ? SECRET_RULE : LABEL_RULE);
            rc = EXIT_USAGE;
            break;
        }
        if (quota_key_add(d, s, sp, err, sizeof err) != 0) {
            /* a duplicate too: exit 2, as for keys add */
            fprintf(stderr, "ytcachectl: keys import: %s:%ld: %s\n", path, lineno, err);
            rc = EXIT_DB;
            break;
        }
        added++;
    }
    fclose(fp);
    if (added && quota_prime_day(d, c, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: keys import: %s\n", err);
        rc = EXIT_DB;
    }
    printf("%ld keys imported\n", added);
    return rc;
}

static int cmd_keys(struct db *d, const struct conf *c, int argc, char **argv)
{
    char err[CTL_ERRLEN];
    if (argc < 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[0];
    if (strcmp(sub, "list") == 0 && argc == 1)
        return keys_list(d);
    if (strcmp(sub, "import") == 0 && argc == 2)
        return keys_import(d, c, argv[1]);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    static const char *const by_label[] = { "add", "disable", "enable", "remove" };
    int takes_label = 0;
    for (size_t i = 0; i < sizeof by_label / sizeof by_label[0]; i++)
        takes_label |= strcmp(sub, by_label[i]) == 0;
    if (!takes_label) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!valid_label(argv[1])) {
        fprintf(stderr, "ytcachectl: keys %s: bad label \"%.64s\": %s\n", sub, argv[1], LABEL_RULE);
        return EXIT_USAGE;
    }
    const char *label = argv[1];
    if (strcmp(sub, "add") == 0 && argc <= 3) {
        char secret[256];
        if (argc == 3)
            util_copy(secret, sizeof secret, argv[2]);
        else if (read_secret_stdin(secret, sizeof secret) < 0)
            secret[0] = '\0';
        if (!valid_secret(secret)) {
            fprintf(stderr, "ytcachectl: keys add: %s\n", SECRET_RULE);
            return EXIT_USAGE;
        }
        int rc = quota_key_add(d, label, secret, err, sizeof err);
        memset(secret, 0, sizeof secret);
        if (rc == 0)
            rc = quota_prime_day(d, c, err, sizeof err);
        return key_result(rc, "added", label, err);
    }
    if (strcmp(sub, "disable") == 0 && argc <= 3)
        return key_result(quota_key_disable(d, label, argc == 3 ? argv[2] : "disabled by ytcachectl", err, sizeof err),
                          "disabled", label, err);
    if (strcmp(sub, "enable") == 0 && argc == 2) {
        int rc = quota_key_enable(d, label, err, sizeof err);
        if (rc == 0)
            rc = quota_prime_day(d, c, err, sizeof err);
        return key_result(rc, "enabled", label, err);
    }
    if (strcmp(sub, "remove") == 0 && argc == 2)
        return key_result(quota_key_remove(d, label, err, sizeof err), "removed", label, err);
    usage(stderr);
    return EXIT_USAGE;
}

static int websub_list(struct db *d)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT channel_id, state, COALESCE(DATE_FORMAT(lease_expires_at, '%Y-%m-%d %H:%i'), '-'),"
        " COALESCE(DATE_FORMAT(last_notified_at, '%Y-%m-%d %H:%i'), '-'), notifications, COALESCE(last_error, '')"
        " FROM websub_subs ORDER BY channel_id");
    char err[CTL_ERRLEN];
    char ch[33], state[17], lease[24], seen[24], last[256];
    long long count = 0;
    unsigned long len[6] = { 0 };
    my_bool n[6] = { 0 };
    MYSQL_BIND r[6];
    db_bind_out_str(&r[0], ch, sizeof ch - 1, &len[0], &n[0]);
    db_bind_out_str(&r[1], state, sizeof state - 1, &len[1], &n[1]);
    db_bind_out_str(&r[2], lease, sizeof lease - 1, &len[2], &n[2]);
    db_bind_out_str(&r[3], seen, sizeof seen - 1, &len[3], &n[3]);
    db_bind_out_long(&r[4], &count, &n[4]);
    db_bind_out_str(&r[5], last, sizeof last - 1, &len[5], &n[5]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &sql, NULL, r, err, sizeof err) < 0)
        return db_failed("websub list", err);
    char *bufs[6] = { ch, state, lease, seen, NULL, last };
    size_t caps[6] = { sizeof ch, sizeof state, sizeof lease, sizeof seen, 0, sizeof last };
    printf("%-26s %-14s %-17s %-17s %8s  %s\n", "channel", "state", "lease ends (UTC)", "last push (UTC)",
           "pushes", "error");
    while (db_rows_next(&rs) == DB_ROW) {
        for (int i = 0; i < 6; i++)
            if (bufs[i])
                bufs[i][len[i] < caps[i] ? len[i] : caps[i] - 1] = '\0';
        printf("%-26s %-14s %-17s %-17s %8lld  %s\n", ch, state, lease, seen, count, last);
    }
    db_rows_end(&rs);
    return EXIT_OK;
}

static int cmd_websub(struct db *d, const struct conf *c, int argc, char **argv)
{
    char err[CTL_ERRLEN];
    if (argc == 1 && strcmp(argv[0], "list") == 0)
        return websub_list(d);
    if (argc >= 2 && strcmp(argv[0], "forget") == 0) {
        int rc = EXIT_OK;
        for (int i = 1; i < argc; i++) {
            int got = websub_forget(d, argv[i], err, sizeof err);
            if (got == 0) {
                printf("%s: subscription forgotten (the hub was not told)\n", argv[i]);
                continue;
            }
            fprintf(stderr, "ytcachectl: websub forget %s: %s\n", argv[i], err);
            rc = got < 0 ? EXIT_DB : EXIT_USAGE;
        }
        return rc;
    }
    if (argc < 2 || (strcmp(argv[0], "subscribe") != 0 && strcmp(argv[0], "unsubscribe") != 0)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int subscribe = argv[0][0] == 's', rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (websub_request(d, c, argv[i], subscribe, err, sizeof err) < 0) {
            fprintf(stderr, "ytcachectl: websub %s %s: %s\n", argv[0], argv[i], err);
            rc = strstr(err, "not a channel id") || strstr(err, "callback") ? EXIT_USAGE
               : strncmp(err, "hub", 3) == 0 ? EXIT_HUB : EXIT_DB;
        } else {
            printf("%s: %s requested; the hub will verify it\n", argv[i], argv[0]);
        }
    }
    return rc;
}

static int cmd_purge(struct db *d, const struct conf *c, int argc, char **argv)
{
    char err[CTL_ERRLEN];
    long long n;
    if (argc < 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[0], "expired") == 0 && argc == 1) {
        n = cache_purge_expired(d, c->sie, err, sizeof err);
    } else if (strcmp(argv[0], "all") == 0 && argc == 1) {
        n = cache_purge_all(d, err, sizeof err);
    } else if (strcmp(argv[0], "endpoint") == 0 && argc == 2) {
        if (!canon_resource_known(argv[1])) {
            fprintf(stderr, "ytcachectl: purge endpoint: unknown resource \"%.64s\"; one of:", argv[1]);
            for (size_t i = 0; canon_resource_name(i); i++)
                fprintf(stderr, " %s", canon_resource_name(i));
            fprintf(stderr, "\n");
            return EXIT_USAGE;
        }
        n = cache_purge_endpoint(d, argv[1], err, sizeof err);
    } else {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (n < 0) {
        fprintf(stderr, "ytcachectl: purge: %s\n", err);
        return EXIT_DB;
    }
    printf("%lld rows deleted\n", n);
    /* the bound's count of rows and bytes, made right at once rather than at the next refresher run */
    if (n > 0 && cache_usage_recount(d, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: purge: counting the cache table: %s\n", err);
        return EXIT_DB;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        UTIL_COMMON_LONGOPTS,
    };
    const char *config = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "+c:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'V': printf("ytcachectl %s\n", PACKAGE_VERSION); return EXIT_OK;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    struct conf c;
    char err[CONF_ERRLEN];
    if (conf_load(&c, config, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: %s\n", err);
        conf_free(&c);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "check-config") == 0) {
        printf("%s: ok\n", c.path[0] ? c.path : "(no file: built-in defaults)");
        if (c.rotate_on_quota)
            fprintf(stderr, "ytcachectl: warning: rotate_on_quota = yes spreads one client's calls over the quota"
                            " of several keys; YouTube's developer policies forbid that across projects\n");
        printf("[cache]\nmax_rows = %ld%s\nmax_bytes = %ld%s\n", c.cache_max_rows,
               c.cache_max_rows ? "" : " (no bound)", c.cache_max_bytes, c.cache_max_bytes ? "" : " (no bound)");
        buf_t rules = { 0 };
        if (access_describe(&c.access, &rules) == 0)
            printf("[access]\n%s", rules.data);
        buf_free(&rules);
        conf_free(&c);
        return EXIT_OK;
    }
    struct db *d = NULL;
    int rc;
    portable_init();
    if (mysql_library_init(0, NULL, NULL) != 0 || db_open(&d, &c) < 0) {
        fprintf(stderr, "ytcachectl: cannot initialise the MySQL client library\n");
        conf_free(&c);
        return EXIT_DB;
    }
    if (strcmp(cmd, "migrate") == 0 && optind + 1 == argc)
        rc = cmd_migrate(d, &c);
    else if (strcmp(cmd, "stats") == 0 && optind + 1 == argc)
        rc = cmd_stats(d, &c);
    else if (strcmp(cmd, "purge") == 0)
        rc = cmd_purge(d, &c, argc - optind - 1, argv + optind + 1);
    else if (strcmp(cmd, "keys") == 0)
        rc = cmd_keys(d, &c, argc - optind - 1, argv + optind + 1);
    else if (strcmp(cmd, "websub") == 0)
        rc = cmd_websub(d, &c, argc - optind - 1, argv + optind + 1);
    else {
        usage(stderr);
        rc = EXIT_USAGE;
    }
    db_close(&d);
    mysql_library_end();
    ycurl_unload();
    conf_free(&c);
    return rc;
}
