/* hot: a small per-process memory of recently served cache rows, revalidated against the database. */
#include "hot.h"
#include "cache.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct hot_entry {
    struct hot_entry *chain;         /* same bucket */
    struct hot_entry *prev, *next;   /* LRU list, most recent first */
    unsigned char key[CANON_KEY_LEN];
    uint64_t rev;
    long status;
    long ttl;
    long age0, left0;                /* as the database said at base_ms... */
    long long base_ms;
    int phase_ms;                    /* ...when its clock was this far into a second */
    long long checked_ms;            /* last confirmation by the database */
    char etag[sizeof ((struct cache_entry *)0)->etag];
    size_t len;
    char body[];                     /* NUL-terminated, like a buf_t */
};

struct hot {
    struct hot_entry **bucket;
    size_t nbucket;                  /* a power of two */
    struct hot_entry *head, *tail;
    size_t count;
    size_t bytes;                    /* bodies plus entry overhead */
    size_t max_bytes;
    long trust_ms;
};

#define HOT_MIN_BUCKETS 64

struct hot *hot_new(size_t max_bytes, long trust_ms)
{
    struct hot *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->bucket = calloc(HOT_MIN_BUCKETS, sizeof *h->bucket);
    if (!h->bucket) {
        free(h);
        return NULL;
    }
    h->nbucket = HOT_MIN_BUCKETS;
    h->max_bytes = max_bytes;
    h->trust_ms = trust_ms < 0 ? 0 : trust_ms;
    return h;
}

void hot_free(struct hot **hp)
{
    struct hot *h = *hp;
    if (!h)
        return;
    struct hot_entry *e = h->head;
    while (e) {
        struct hot_entry *n = e->next;
        free(e);
        e = n;
    }
    free(h->bucket);
    free(h);
    *hp = NULL;
}

/* Cache keys are SHA-256 digests: any 8 of their bytes are a good hash.
 * nbucket is a power of two. */
static size_t slot(const unsigned char key[CANON_KEY_LEN], size_t nbucket)
{
    uint64_t x;
    memcpy(&x, key, sizeof x);
    return (size_t)(x & (nbucket - 1));
}

static struct hot_entry **find(struct hot *h, const unsigned char key[CANON_KEY_LEN])
{
    struct hot_entry **pp = &h->bucket[slot(key, h->nbucket)];
    while (*pp && memcmp((*pp)->key, key, CANON_KEY_LEN) != 0)
        pp = &(*pp)->chain;
    return pp;
}

static void lru_unlink(struct hot *h, struct hot_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        h->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        h->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(struct hot *h, struct hot_entry *e)
{
    e->prev = NULL;
    e->next = h->head;
    if (h->head)
        h->head->prev = e;
    h->head = e;
    if (!h->tail)
        h->tail = e;
}

static size_t cost(const struct hot_entry *e)
{
    return sizeof *e + e->len + 1;
}

static void remove_entry(struct hot *h, struct hot_entry **pp)
{
    struct hot_entry *e = *pp;
    *pp = e->chain;
    lru_unlink(h, e);
    h->count--;
    h->bytes -= cost(e);
    free(e);
}

/* Double the buckets when chains get long; failure only costs speed. */
static void grow(struct hot *h)
{
    size_t n = h->nbucket * 2;
    struct hot_entry **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < h->nbucket; i++) {
        struct hot_entry *e = h->bucket[i];
        while (e) {
            struct hot_entry *next = e->chain;
            size_t s = slot(e->key, n);
            e->chain = b[s];
            b[s] = e;
            e = next;
        }
    }
    free(h->bucket);
    h->bucket = b;
    h->nbucket = n;
}

int hot_get(struct hot *h, const unsigned char key[CANON_KEY_LEN], long long now_ms, struct cache_entry *e,
            int *trusted)
{
    if (!h)
        return 0;
    struct hot_entry **pp = find(h, key);
    struct hot_entry *he = *pp;
    if (!he)
        return 0;
    long long el = now_ms > he->base_ms ? now_ms - he->base_ms : 0;
    long secs = (long)((el + he->phase_ms) / 1000);
    /* past the policy's age limit (util.h) a copy is never served, not even
     * while the database is down */
    if (he->age0 + secs >= UTIL_POLICY_MAX_AGE_SECS) {
        remove_entry(h, pp);
        return 0;
    }
    if (h->head != he) {
        lru_unlink(h, he);
        lru_front(h, he);
    }
    /* secs: the server's whole seconds since the read; they tick when its
     * clock does, which was phase_ms into a second at base_ms */
    e->data = he->body;
    e->len = he->len;
    e->status = he->status;
    memcpy(e->etag, he->etag, sizeof e->etag);
    e->ttl = he->ttl;
    e->age = he->age0 + secs;
    e->left = he->left0 - secs;
    e->rev = he->rev;
    e->phase_ms = (int)((el + he->phase_ms) % 1000);
    *trusted = now_ms - he->checked_ms < h->trust_ms && now_ms >= he->checked_ms;
    return 1;
}

int hot_put(struct hot *h, const unsigned char key[CANON_KEY_LEN], const struct cache_entry *row, long long now_ms)
{
    if (!h)
        return -1;
    struct hot_entry **pp = find(h, key);
    if (*pp)
        remove_entry(h, pp);
    /* one row may use at most a quarter of the table, so a few large rows
     * cannot flush out every small one */
    size_t len = row->len;
    if (row->rev == 0 || sizeof(struct hot_entry) + len + 1 > h->max_bytes / 4)
        return -1;
    struct hot_entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return -1;
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, CANON_KEY_LEN);
    e->rev = row->rev;
    e->status = row->status;
    e->ttl = row->ttl;
    e->age0 = row->age;
    e->left0 = row->left;
    e->phase_ms = row->phase_ms;
    e->base_ms = e->checked_ms = now_ms;
    util_copy(e->etag, sizeof e->etag, row->etag);
    e->len = len;
    if (len)
        memcpy(e->body, row->data, len);
    e->body[len] = '\0';
    while (h->tail && h->bytes + cost(e) > h->max_bytes)
        remove_entry(h, find(h, h->tail->key));
    if (h->count >= h->nbucket)
        grow(h);
    pp = &h->bucket[slot(key, h->nbucket)];
    e->chain = *pp;
    *pp = e;
    lru_front(h, e);
    h->count++;
    h->bytes += cost(e);
    return 0;
}

void hot_confirm(struct hot *h, const unsigned char key[CANON_KEY_LEN], long age, long left, int phase_ms,
                 long long now_ms)
{
    if (!h)
        return;
    struct hot_entry *e = *find(h, key);
    if (!e)
        return;
    e->age0 = age;
    e->left0 = left;
    e->phase_ms = phase_ms;
    e->base_ms = e->checked_ms = now_ms;
}

void hot_drop(struct hot *h, const unsigned char key[CANON_KEY_LEN])
{
    if (!h)
        return;
    struct hot_entry **pp = find(h, key);
    if (*pp)
        remove_entry(h, pp);
}

size_t hot_count(const struct hot *h)
{
    return h ? h->count : 0;
}

size_t hot_bytes(const struct hot *h)
{
    return h ? h->bytes : 0;
}

static int still_fresh(const struct cache_entry *e, long max_age)
{
    return e->left > 0 && !(max_age >= 0 && e->age >= max_age);
}

int hot_lookup(struct hot *h, struct db *d, const unsigned char key[CANON_KEY_LEN], long max_age, struct cache_entry *e,
               char *err, size_t errlen)
{
    int trusted = 0;
    if (hot_get(h, key, util_now_ms(), e, &trusted)) {
        if (trusted && e->left > 0) {
            metrics_hot(MH_MEMORY);
            return 1;
        }
        uint64_t rev = 0;
        long age = 0, left = 0;
        int phase = 0;
        int rc = cache_check(d, key, &rev, &age, &left, &phase, err, errlen);
        if (rc < 0) {
            if (!still_fresh(e, max_age))
                return -1;
            /* The database is unreachable: a copy that has not expired is a
             * better answer than an error or a call to Google (db_outage =
             * bypass would make one per request). */
            log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "database: %s; serving hot rows from memory", err);
            metrics_hot(MH_MEMORY);
            return 1;
        }
        if (rc == 1 && rev == e->rev) {
            hot_confirm(h, key, age, left, phase, util_now_ms());
            e->age = age;
            e->left = left;
            metrics_hot(MH_CHECKED);
            return 1;
        }
        metrics_hot(MH_REREAD);
        hot_drop(h, key);
        if (rc == 0)
            return 0;
    }
    int found = cache_lookup(d, key, e, err, errlen);
    if (found == 1)
        hot_put(h, key, e, util_now_ms());
    return found;
}
