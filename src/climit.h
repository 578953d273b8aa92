/* climit: per-client limits on quota spending (GCRA, one row per client and bucket in the database). */
#ifndef YTC_CLIMIT_H
#define YTC_CLIMIT_H

#include <stddef.h>

struct conf;
struct db;
struct http_io;

/* The identity a client cannot multiply: an IPv4 address ("192.0.2.1"), an
 * IPv6 network of client_ipv6_prefix bits ("2001:db8:1:2::/64"), or
 * CLIMIT_INVALID. The address is REMOTE_ADDR; only when that is one of
 * trusted_proxies is X-Forwarded-For walked from the right, past trusted
 * proxies, to the first address that is not one (the leftmost if all are).
 * out >= 64 bytes. */
#define CLIMIT_INVALID "invalid"
void climit_client_id(const struct conf *c, const char *remote_addr, const char *xff, char *out, size_t outlen);

/* client_limits.client: "<identity>|<bucket>" (VARCHAR(128), migration 007). */
#define CLIMIT_ROW_LEN 128

/* Charge `units` of `bucket` (NULL = "default") to the client. 1 allowed, 0 over the limit (*retry_after
 * set, exact, in seconds), -1 database error. Always 1 when limits are off. */
int climit_take(struct db *d, const struct conf *c, const char *client, const char *bucket, long units,
                long *retry_after, char *err, size_t errlen);

/* Give back units charged for a miss that made no upstream call. */
void climit_refund(struct db *d, const struct conf *c, const char *client, const char *bucket, long units);

#endif
