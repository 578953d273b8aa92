/* metrics: counters shared by every worker process through a mapped file, and the Prometheus text page. */
#ifndef YTC_METRICS_H
#define YTC_METRICS_H

#include <stddef.h>
#include "upstream.h"
#include "util.h"

struct conf;
struct outage;
struct db;

enum metrics_route { MR_API, MR_COMPAT, MR_HEALTH, MR_METRICS, MR_WEBSUB, MR_OTHER, MR__COUNT };
enum metrics_cache { MC_HIT, MC_MISS, MC_STALE, MC_BYPASS, MC_NONE, MC__COUNT };

/* Map the shared counters ([server] metrics_file, or a per-user file derived
 * from the config path). On failure counting stays per process; 0 / -1. */
int metrics_open(const struct conf *c, char *err, size_t errlen);

/* The outage budget of this host (outage.h): every process of one
 * configuration shares it through the counters file (a CGI process lives
 * for one request, so memory of its own would be no budget), under an
 * exclusive lock held for no longer than a few comparisons. Without the
 * file, this process's own. */
struct outage *metrics_outage_lock(void);
void metrics_outage_unlock(void);
/* 1 if outage calls may wait to be added to the usage rows (a hint, unlocked). */
int metrics_outage_pending(void);

void metrics_request(enum metrics_route route, enum metrics_cache cache);
void metrics_upstream(enum up_class cls, double seconds);
void metrics_stale(void);
/* A lookup that found a hot row in memory (hot.h). */
enum metrics_hot { MH_MEMORY, MH_CHECKED, MH_REREAD, MH__COUNT };
void metrics_hot(enum metrics_hot kind);
void metrics_error(const char *reason);
/* A request refused by an [access] rule (enum access_rule). */
void metrics_access(int rule);
/* WebSub outcomes: verified, bad_signature, unknown_topic, malformed, oversize,
 * intent_verified, intent_refused; invalidated_rows counts rows. */
void metrics_websub(const char *kind, unsigned long long n);

/* The exposition: shared counters plus gauges read from the database
 * (units per key and bucket, breaker, cache rows and bytes). */
int metrics_render(struct db *d, const struct conf *c, buf_t *out);

/* 1 if addr may read /metrics ([server] metrics_allow: addresses or IPv4 CIDRs). */
int metrics_allowed(const struct conf *c, const char *addr);

#endif
