/* libFuzzer target: the hot-row table against a reference model: put, get, confirm, drop in any order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "hot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS 16                 /* few keys, so operations collide */
#define MAX_BYTES 8192

/* What the table may hold for each key: its last put (if not dropped or
 * evicted since). The table may forget a row (eviction) but must never
 * answer with another row's bytes or a revision it was not given. */
struct model {
    int present;
    uint64_t rev;
    size_t len;
    unsigned char fill;
};

static void key_of(unsigned k, unsigned char key[CANON_KEY_LEN])
{
    memset(key, 0, CANON_KEY_LEN);
    key[0] = (unsigned char)(k * 37);     /* low bits decide the bucket: collide some */
    key[31] = (unsigned char)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char body[255 * 40];     /* the largest put: more than the table holds */
    struct model m[KEYS] = { { 0 } };
    struct hot *h = hot_new(MAX_BYTES, 500);
    if (!h)
        return 0;
    long long now = 0;
    for (size_t i = 0; i + 3 <= size; i += 3) {
        unsigned op = data[i] & 3, k = (data[i] >> 2) % KEYS;
        unsigned char key[CANON_KEY_LEN];
        key_of(k, key);
        now += data[i + 1];
        struct cache_entry v = { 0 };
        int trusted;
        switch (op) {
        case 0: {                   /* put: length up to the whole table */
            size_t len = (size_t)data[i + 2] * 40;
            unsigned char fill = (unsigned char)(data[i + 1] | 1);
            memset(body, fill, len);
            uint64_t rev = data[i + 2] % 4 ? (uint64_t)i + 1 : 0;
            struct cache_entry row = { .data = body, .len = len, .status = 200, .etag = "e", .ttl = 60,
                                       .left = 60, .rev = rev, .phase_ms = data[i + 1] % 1000 };
            int rc = hot_put(h, key, &row, now);
            m[k].present = rc == 0;
            m[k].rev = rev;
            m[k].len = len;
            m[k].fill = fill;
            if (rc == 0 && (rev == 0 || len >= MAX_BYTES / 4))
                __builtin_trap();   /* kept what it must refuse (rev 0, or too large) */
            break;
        }
        case 1:                     /* get */
            if (hot_get(h, key, now, &v, &trusted)) {
                if (!m[k].present || v.rev != m[k].rev || v.len != m[k].len || v.data[v.len] != '\0')
                    __builtin_trap();
                for (size_t j = 0; j < v.len; j++)
                    if ((unsigned char)v.data[j] != m[k].fill)
                        __builtin_trap();
            }
            break;
        case 2:                     /* confirm */
            hot_confirm(h, key, data[i + 2], 60 - data[i + 2], data[i + 1] % 1000, now);
            break;
        default:                    /* drop */
            hot_drop(h, key);
            m[k].present = 0;
            break;
        }
        if (hot_bytes(h) > MAX_BYTES)
            __builtin_trap();
    }
    hot_free(&h);
    return 0;
}
