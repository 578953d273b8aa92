/* Unit tests: the per-process hot-row memory (lookup, trust window, ageing, LRU by bytes). */
#include <string.h>
#include "cache.h"
#include "hot.h"
#include "util.h"
#include "tap.h"

/* A row as cache_lookup gives it (status 200); valid until the next call. */
static const struct cache_entry *row(uint64_t rev, const char *etag, long ttl, long age, long left, int phase_ms,
                                     const char *body, size_t len)
{
    static struct cache_entry e;
    memset(&e, 0, sizeof e);
    e.rev = rev;
    e.status = 200;
    util_copy(e.etag, sizeof e.etag, etag);
    e.ttl = ttl;
    e.age = age;
    e.left = left;
    e.phase_ms = phase_ms;
    e.data = body;
    e.len = len;
    return &e;
}

static void key(unsigned char k[CANON_KEY_LEN], int n)
{
    /* like a digest: the first bytes differ, which is what the table hashes */
    memset(k, 0, CANON_KEY_LEN);
    for (int i = 0; i < CANON_KEY_LEN; i++)
        k[i] = (unsigned char)(n * 131 + i * 7);
}

START_TEST(get_put_confirm)
{
    struct hot *h = hot_new(1 << 20, 1000);
    struct cache_entry v = { 0 };
    int trusted = 0;
    unsigned char k[CANON_KEY_LEN];
    key(k, 1);
    ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 0);
    ck_assert_int_eq(hot_put(h, k, row(42, "tag", 3600, 5, 100, 0, "{\"a\":1}", 7), 10000), 0);
    ck_assert_int_eq(hot_get(h, k, 10000, &v, &trusted), 1);
    ck_assert_int_eq(v.len, 7);
    ck_assert_mem_eq(v.data, "{\"a\":1}", 8);  /* NUL-terminated */
    ck_assert_ptr_null(v.body.data);             /* pointed at, not copied into the entry's buffer */
    ck_assert_str_eq(v.etag, "tag");
    ck_assert_int_eq(v.status, 200);
    ck_assert_int_eq(v.ttl, 3600);
    ck_assert(v.rev == 42);
    ck_assert_int_eq(trusted, 1);
    ck_assert_int_eq(v.age, 5);
    ck_assert_int_eq(v.left, 100);
    /* ageing by the local clock; trust runs out after 1000 ms */
    ck_assert_int_eq(hot_get(h, k, 12500, &v, &trusted), 1);
    ck_assert_int_eq(v.age, 7);
    ck_assert_int_eq(v.left, 98);
    ck_assert_int_eq(trusted, 0);
    hot_confirm(h, k, 8, 90, 0, 12500);
    ck_assert_int_eq(hot_get(h, k, 12600, &v, &trusted), 1);
    ck_assert_int_eq(trusted, 1);
    ck_assert_int_eq(v.age, 8);
    ck_assert_int_eq(v.left, 90);
    /* a clock that went backwards is not trusted */
    ck_assert_int_eq(hot_get(h, k, 100, &v, &trusted), 1);
    ck_assert_int_eq(trusted, 0);
    hot_drop(h, k);
    ck_assert_int_eq(hot_get(h, k, 12600, &v, &trusted), 0);
    ck_assert_int_eq(hot_count(h), 0);
    ck_assert_int_eq(hot_bytes(h), 0);
    hot_free(&h);
    ck_assert_ptr_null(h);
    hot_free(&h);   /* twice is harmless */
}
END_TEST

/* Regression (tests/integration/hot.py): a copy read 700 ms into the
 * server's second must age 300 ms later, as the server's TIMESTAMPDIFF does,
 * not a whole second later. */
START_TEST(ages_with_server_seconds)
{
    struct hot *h = hot_new(1 << 20, 60000);
    struct cache_entry v = { 0 };
    int trusted = 0;
    unsigned char k[CANON_KEY_LEN];
    key(k, 4);
    ck_assert_int_eq(hot_put(h, k, row(9, "", 2, 0, 2, 700, "{}", 2), 1000), 0);
    ck_assert_int_eq(hot_get(h, k, 1299, &v, &trusted), 1);
    ck_assert_int_eq(v.age, 0);
    ck_assert_int_eq(v.left, 2);
    ck_assert_int_eq(hot_get(h, k, 1300, &v, &trusted), 1);
    ck_assert_int_eq(v.age, 1);
    ck_assert_int_eq(v.left, 1);
    ck_assert_int_eq(hot_get(h, k, 2300, &v, &trusted), 1);
    ck_assert_int_eq(v.left, 0);      /* expired exactly when the server says so */
    hot_confirm(h, k, 5, -3, 100, 5000);
    ck_assert_int_eq(hot_get(h, k, 5899, &v, &trusted), 1);
    ck_assert_int_eq(v.age, 5);
    ck_assert_int_eq(hot_get(h, k, 5900, &v, &trusted), 1);
    ck_assert_int_eq(v.age, 6);
    ck_assert_int_eq(v.left, -4);
    hot_free(&h);
}
END_TEST

START_TEST(trust_zero_and_null)
{
    struct hot *h = hot_new(1 << 20, 0);
    struct cache_entry v = { 0 };
    int trusted = 0;
    unsigned char k[CANON_KEY_LEN];
    key(k, 2);
    ck_assert_int_eq(hot_put(h, k, row(1, "", 60, 0, 60, 0, "{}", 2), 5), 0);
    ck_assert_int_eq(hot_get(h, k, 5, &v, &trusted), 1);
    ck_assert_int_eq(trusted, 0);    /* 0 = always ask the database */
    hot_free(&h);
    /* no table: every call is a harmless no-op */
    ck_assert_int_eq(hot_get(NULL, k, 0, &v, &trusted), 0);
    ck_assert_int_eq(hot_put(NULL, k, row(1, "", 60, 0, 60, 0, "{}", 2), 5), -1);
    hot_confirm(NULL, k, 0, 0, 0, 0);
    hot_drop(NULL, k);
    ck_assert_int_eq(hot_count(NULL), 0);
}
END_TEST

/* The developer policies' 30 days: a copy that ages past them in memory is
 * gone, even though its windows (and a database outage) would serve it. */
START_TEST(policy_max_age)
{
    struct hot *h = hot_new(1 << 20, 60000);
    struct cache_entry v = { 0 };
    int trusted = 0;
    unsigned char k[CANON_KEY_LEN];
    key(k, 3);
    long age = UTIL_POLICY_MAX_AGE_SECS - 2;
    ck_assert_int_eq(hot_put(h, k, row(1, "", 60, age, 60, 0, "{}", 2), 0), 0);
    ck_assert_int_eq(hot_get(h, k, 999, &v, &trusted), 1);
    ck_assert_int_eq(hot_get(h, k, 2000, &v, &trusted), 0);
    ck_assert_int_eq(hot_count(h), 0);
    hot_free(&h);
}
END_TEST

START_TEST(refuses_rev0_and_big)
{
    struct hot *h = hot_new(4096, 1000);
    unsigned char k[CANON_KEY_LEN];
    static char big[2048];
    memset(big, 'x', sizeof big);
    key(k, 3);
    ck_assert_int_eq(hot_put(h, k, row(0, "", 60, 0, 60, 0, "{}", 2), 0), -1);
    ck_assert_int_eq(hot_put(h, k, row(7, "", 60, 0, 60, 0, big, sizeof big), 0), -1);  /* > max/4 */
    ck_assert_int_eq(hot_count(h), 0);
    /* replacing an entry with one that is refused leaves nothing stale behind */
    ck_assert_int_eq(hot_put(h, k, row(7, "", 60, 0, 60, 0, "{}", 2), 0), 0);
    ck_assert_int_eq(hot_put(h, k, row(8, "", 60, 0, 60, 0, big, sizeof big), 0), -1);
    struct cache_entry v = { 0 };
    int trusted = 0;
    ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 0);
    hot_free(&h);
}
END_TEST

START_TEST(lru_order)
{
    struct hot *h = hot_new(16 * 1024, 1000);
    static char b[1000];
    memset(b, 'y', sizeof b);
    unsigned char k[CANON_KEY_LEN];
    struct cache_entry v = { 0 };
    int trusted = 0;
    size_t fit = 0;
    for (int n = 0; n < 100; n++) {
        key(k, n);
        ck_assert_int_eq(hot_put(h, k, row((uint64_t)n + 1, "", 60, 0, 60, 0, b, sizeof b), 0), 0);
        ck_assert(hot_bytes(h) <= 16 * 1024);
        if (hot_count(h) < (size_t)n + 1) {
            fit = (size_t)n;
            break;
        }
        key(k, 0);
        ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 1);   /* keep row 0 the most recent */
    }
    ck_assert_uint_gt(fit, 4);
    key(k, 0);
    ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 1);       /* touched: survived */
    key(k, 1);
    ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 0);       /* least recent: evicted */
    key(k, 2);
    ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 1);
    hot_free(&h);
}
END_TEST

START_TEST(many_keys_grow)
{
    /* enough rows to grow the bucket array several times; all stay findable */
    struct hot *h = hot_new(64u << 20, 1000);
    unsigned char k[CANON_KEY_LEN];
    struct cache_entry v = { 0 };
    int trusted = 0;
    for (int n = 0; n < 5000; n++) {
        key(k, n);
        k[8] = (unsigned char)(n >> 8);   /* distinct keys even where n*131 wraps */
        k[9] = (unsigned char)n;
        ck_assert_int_eq(hot_put(h, k, row(1, "", 60, 0, 60, 0, "{}", 2), 0), 0);
    }
    ck_assert_int_eq(hot_count(h), 5000);
    for (int n = 0; n < 5000; n++) {
        key(k, n);
        k[8] = (unsigned char)(n >> 8);
        k[9] = (unsigned char)n;
        ck_assert_int_eq(hot_get(h, k, 0, &v, &trusted), 1);
    }
    hot_free(&h);
}
END_TEST

TAP_MAIN("hot", "hot")
{
    tcase_add_test(t, get_put_confirm);
    tcase_add_test(t, ages_with_server_seconds);
    tcase_add_test(t, trust_zero_and_null);
    tcase_add_test(t, policy_max_age);
    tcase_add_test(t, refuses_rev0_and_big);
    tcase_add_test(t, lru_order);
    tcase_add_test(t, many_keys_grow);
}
