/* climit: per-client limits on quota spending (GCRA, one row per client in the database). */
#ifndef YTC_CLIMIT_H
#define YTC_CLIMIT_H

#include <stddef.h>

struct conf;
struct db;
struct http_io;

/* The client's identity: REMOTE_ADDR, or the X-Forwarded-For entry
 * `trust_forwarded` hops from the right. out >= 64 bytes. */
void climit_client_id(const struct conf *c, const char *remote_addr, const char *xff, char *out, size_t outlen);

/* Charge `units` to the client. 1 allowed, 0 over the limit (*retry_after
 * set, exact, in seconds), -1 database error. Always 1 when limits are off. */
int climit_take(struct db *d, const struct conf *c, const char *client, long units, long *retry_after,
                char *err, size_t errlen);

/* Give back units charged for a miss that made no upstream call. */
void climit_refund(struct db *d, const struct conf *c, const char *client, long units);

#endif
