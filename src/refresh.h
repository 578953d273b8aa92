/* refresh: one ytcache-refresh run: trending pre-warm, refresh-ahead of hot entries, housekeeping. */
#ifndef YTC_REFRESH_H
#define YTC_REFRESH_H

#include <stdio.h>

struct conf;
struct proxy;

/* Exit statuses: what failed. */
enum {
    REFRESH_OK = 0,
    REFRESH_EXIT_CONFIG = 1,
    REFRESH_EXIT_DB = 2,
    REFRESH_EXIT_UPSTREAM = 3,
    REFRESH_EXIT_QUOTA = 4,
};

struct refresh_opts {
    int dry_run;
    int verbose;                 /* per-region report on `out` */
};

/* One run under the cross-host run lock; returns a REFRESH_* status. */
int refresh_run(struct proxy *p, const struct conf *c, const struct refresh_opts *o, FILE *out);

#endif
