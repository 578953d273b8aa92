/* hot: a small per-process memory of recently served cache rows, revalidated against the database. */
#ifndef YTC_HOT_H
#define YTC_HOT_H

#include <stddef.h>
#include <stdint.h>
#include "canon.h"

/* A FastCGI worker answers most hits from a few hot rows. Keeping them in
 * memory saves reading the body from the database on every hit; each
 * memory copy is trusted for `trust_ms` after the database last confirmed
 * it (same `rev`), then checked again with a query that reads no body. So
 * a purge, a WebSub invalidation or another process's store is seen within
 * trust_ms. Bounded by bytes; least recently used rows go first. */

struct hot;
struct cache_entry;
struct db;

/* NULL (no memory) or a table holding at most max_bytes of bodies. */
struct hot *hot_new(size_t max_bytes, long trust_ms);
void hot_free(struct hot **h);
/* 1 if the key is held: the row into *e, with e->data pointing into the
 * table (valid until the next hot_* call; e->body is left alone) and age
 * and time left as of now_ms; *trusted is 1 if the database confirmed it
 * less than trust_ms ago. 0 if not held. */
int hot_get(struct hot *h, const unsigned char key[CANON_KEY_LEN], long long now_ms, struct cache_entry *e,
            int *trusted);
/* Remember a row just read from the database (e->data, age/left as the
 * server said e->phase_ms into its current second), taken to be now_ms
 * (read the clock after the query: a copy then expires a little early
 * rather than late). A row too large for the table, or with rev 0 (written
 * before revisions existed), is not kept. 0, or -1 if nothing was kept. */
int hot_put(struct hot *h, const unsigned char key[CANON_KEY_LEN], const struct cache_entry *e, long long now_ms);
/* The database confirmed the held row (same rev) with these age/left. */
void hot_confirm(struct hot *h, const unsigned char key[CANON_KEY_LEN], long age, long left, int phase_ms,
                 long long now_ms);
void hot_drop(struct hot *h, const unsigned char key[CANON_KEY_LEN]);
/* The row for key into *e, like cache_lookup (1, 0, -1): from memory while
 * the database confirmed it less than trust_ms ago and it has not expired,
 * else after asking the database (only for the revision when memory holds
 * a copy: no body crosses the socket). A copy served from memory is not
 * copied: e->data points into the table. While the database is unreachable
 * a held copy that is still fresh (unexpired, and younger than max_age
 * unless that is -1) is served. h may be NULL (then: cache_lookup). */
int hot_lookup(struct hot *h, struct db *d, const unsigned char key[CANON_KEY_LEN], long max_age, struct cache_entry *e,
               char *err, size_t errlen);
/* For tests. */
size_t hot_count(const struct hot *h);
size_t hot_bytes(const struct hot *h);

#endif
