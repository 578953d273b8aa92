/* ytcache-refresh: main of the cron-driven refresher (trending pre-warm, refresh-ahead, housekeeping). */
#include "config.h"
#include "conf.h"
#include "portable.h"
#include "log.h"
#include "proxy.h"
#include "refresh.h"
#include "util.h"
#include "ycurl.h"

#include <getopt.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: ytcache-refresh [--config FILE] [--regions US,GB,...] [--dry-run] [--verbose]\n"
            "Keeps trending lists and often-used entries of the ytcache cache warm; meant for cron.\n"
            "Quiet on success. Exit status: 0 ok, 1 configuration, 2 database, 3 upstream, 4 quota.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "regions", required_argument, NULL, 'r' },
        { "dry-run", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        UTIL_COMMON_LONGOPTS,
    };
    const char *config = NULL, *regions = NULL;
    struct refresh_opts o = { 0, 0 };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:r:nvVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'r': regions = optarg; break;
        case 'n': o.dry_run = 1; break;
        case 'v': o.verbose = 1; break;
        case 'V': printf("ytcache-refresh %s\n", PACKAGE_VERSION); return REFRESH_OK;
        case 'h': usage(stdout); return REFRESH_OK;
        default: usage(stderr); return REFRESH_EXIT_CONFIG;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return REFRESH_EXIT_CONFIG;
    }
    struct conf c;
    char err[1200];
    if (conf_load(&c, config, err, sizeof err) < 0 ||
        (regions && conf_set(&c, "refresh", "regions", regions, err, sizeof err) < 0)) {
        fprintf(stderr, "ytcache-refresh: %s\n", err);
        conf_free(&c);
        return REFRESH_EXIT_CONFIG;
    }
    /* cron mails whatever is printed: only warnings and errors by default */
    log_set_level(o.verbose ? (int)c.log_level : YLOG_WARN);
    portable_init();
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "ytcache-refresh: cannot initialise the MySQL client library\n");
        conf_free(&c);
        return REFRESH_EXIT_CONFIG;
    }
    struct proxy p;
    int rc;
    if (proxy_init(&p, &c, err, sizeof err) < 0) {
        fprintf(stderr, "ytcache-refresh: %s\n", err);
        rc = REFRESH_EXIT_CONFIG;
    } else {
        /* a cron job is often the first of ytcache to meet a new database */
        struct yerr e;
        memset(&e, 0, sizeof e);
        if (proxy_schema(&p, &e) < 0) {
            fprintf(stderr, "ytcache-refresh: %s\n", e.message);
            rc = REFRESH_EXIT_DB;
        } else {
            rc = refresh_run(&p, &c, &o, stdout);
        }
        proxy_free(&p);
    }
    mysql_library_end();
    ycurl_unload();
    conf_free(&c);
    return rc;
}
