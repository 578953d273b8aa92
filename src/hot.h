/* hot: a small per-process memory of recently served cache rows, revalidated against the database. */
#ifndef YTC_HOT_H
#define YTC_HOT_H

#include <stddef.h>
#include <stdint.h>

/* A FastCGI worker answers most hits from a few hot rows. Keeping them in
 * memory saves reading the body from the database on every hit; each
 * memory copy is trusted for `trust_ms` after the database last confirmed
 * it (same `rev`), then checked again with a query that reads no body. So
 * a purge, a WebSub invalidation or another process's store is seen within
 * trust_ms. Bounded by bytes; least recently used rows go first. */

struct hot;

struct hot_view {
    const char *body;
    size_t len;
    long status;
    const char *etag;
    long ttl;
    long age;            /* seconds since fetched, as of now */
    long left;           /* seconds until expiry, as of now */
    uint64_t rev;
    int trusted;         /* 1 if confirmed by the database less than trust_ms ago */
};

/* NULL (no memory) or a table holding at most max_bytes of bodies. */
struct hot *hot_new(size_t max_bytes, long trust_ms);
void hot_free(struct hot **h);
/* 1 and a view (valid until the next hot_* call) if the key is held, else 0. */
int hot_get(struct hot *h, const unsigned char key[32], long long now_ms, struct hot_view *v);
/* Remember a row just read from the database: age/left as the server said
 * phase_ms into its current second, taken to be now_ms (read the clock after
 * the query: a copy then expires a little early rather than late). A
 * row too large for the table, or with rev 0 (written before revisions
 * existed), is not kept. 0, or -1 if nothing was kept. */
int hot_put(struct hot *h, const unsigned char key[32], uint64_t rev, long status, const char *etag,
            long ttl, long age, long left, int phase_ms, const char *body, size_t len, long long now_ms);
/* The database confirmed the held row (same rev) with these age/left. */
void hot_confirm(struct hot *h, const unsigned char key[32], long age, long left, int phase_ms,
                 long long now_ms);
void hot_drop(struct hot *h, const unsigned char key[32]);
/* For tests and metrics. */
size_t hot_count(const struct hot *h);
size_t hot_bytes(const struct hot *h);

#endif
