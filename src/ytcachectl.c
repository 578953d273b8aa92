/* ytcachectl: administration: migrate the schema, check a config, show stats, purge entries. */
#include "config.h"
#include "cache.h"
#include "canon.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_DB = 2 };

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: ytcachectl [--config FILE] COMMAND\n"
            "commands:\n"
            "  migrate                 create or upgrade the database schema\n"
            "  check-config            validate the configuration file and exit\n"
            "  stats                   cache rows, bytes and hits per endpoint\n"
            "  purge expired           delete rows past their stale_if_error window\n"
            "  purge endpoint NAME     delete every row of one resource\n"
            "  purge all               delete every row\n"
            "exit status: 0 ok, 1 usage or configuration error, 2 database error\n");
}

static int cmd_migrate(struct db *d)
{
    char err[512];
    int from = 0, to = 0;
    if (migrate_run(d, &from, &to, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: migrate: %s\n", err);
        return EXIT_DB;
    }
    if (from == to)
        printf("schema is up to date (version %d)\n", to);
    else
        printf("schema migrated from version %d to %d\n", from, to);
    return EXIT_OK;
}

static int cmd_stats(struct db *d)
{
    static const char sql[] =
        "SELECT endpoint, COUNT(*), COALESCE(SUM(LENGTH(response)), 0), COALESCE(SUM(hits), 0),"
        " COALESCE(SUM(expires_at > UTC_TIMESTAMP()), 0)"
        " FROM cache GROUP BY endpoint ORDER BY endpoint";
    char err[512];
    if (db_connect(d, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: %s\n", err);
        return EXIT_DB;
    }
    MYSQL_STMT *st = mysql_stmt_init(db_handle(d));
    if (!st || mysql_stmt_prepare(st, sql, sizeof sql - 1) != 0 || mysql_stmt_execute(st) != 0) {
        fprintf(stderr, "ytcachectl: stats: %s\n", st ? mysql_stmt_error(st) : "out of memory");
        if (st)
            mysql_stmt_close(st);
        return EXIT_DB;
    }
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
    mysql_stmt_bind_result(st, r);
    printf("%-18s %10s %10s %14s %12s\n", "endpoint", "rows", "fresh", "bytes", "hits");
    long long trows = 0, tbytes = 0, thits = 0, tfresh = 0;
    while (mysql_stmt_fetch(st) == 0) {
        endpoint[elen < sizeof endpoint ? elen : sizeof endpoint - 1] = '\0';
        printf("%-18s %10lld %10lld %14lld %12lld\n", n[0] ? "(null)" : endpoint, rows, fresh, bytes, hits);
        trows += rows;
        tbytes += bytes;
        thits += hits;
        tfresh += fresh;
    }
    printf("%-18s %10lld %10lld %14lld %12lld\n", "total", trows, tfresh, tbytes, thits);
    mysql_stmt_close(st);
    return EXIT_OK;
}

static int cmd_purge(struct db *d, const struct conf *c, int argc, char **argv)
{
    char err[512];
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
            fprintf(stderr, "ytcachectl: purge endpoint: unknown resource\n");
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
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
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
    char err[1200];
    if (conf_load(&c, config, err, sizeof err) < 0) {
        fprintf(stderr, "ytcachectl: %s\n", err);
        conf_free(&c);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "check-config") == 0) {
        printf("%s: ok\n", c.path[0] ? c.path : "(no file: built-in defaults)");
        conf_free(&c);
        return EXIT_OK;
    }
    struct db *d = NULL;
    int rc;
    if (mysql_library_init(0, NULL, NULL) != 0 || db_open(&d, &c) < 0) {
        fprintf(stderr, "ytcachectl: cannot initialise the MySQL client library\n");
        conf_free(&c);
        return EXIT_DB;
    }
    if (strcmp(cmd, "migrate") == 0 && optind + 1 == argc)
        rc = cmd_migrate(d);
    else if (strcmp(cmd, "stats") == 0 && optind + 1 == argc)
        rc = cmd_stats(d);
    else if (strcmp(cmd, "purge") == 0)
        rc = cmd_purge(d, &c, argc - optind - 1, argv + optind + 1);
    else {
        usage(stderr);
        rc = EXIT_USAGE;
    }
    db_close(&d);
    mysql_library_end();
    conf_free(&c);
    return rc;
}
