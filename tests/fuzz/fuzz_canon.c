/* libFuzzer target: query parsing, validation and canonicalisation (canon_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "canon.h"

static const char *const resources[] = { NULL, "videos", "search", "channels", "playlistItems",
                                         "commentThreads", "playlists", "activities", "captions" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct canon c, again;
    if (size < 1 || size > 16384)
        return 0;
    const char *res = resources[data[0] % (sizeof resources / sizeof resources[0])];
    char *qs = malloc(size);
    if (!qs)
        return 0;
    memcpy(qs, data + 1, size - 1);
    qs[size - 1] = '\0';
    struct yerr e;
    if (canon_parse(&c, res, qs, &e) == 0) {
        unsigned char key[CANON_KEY_LEN];
        buf_t json = { 0 };
        if (canon_cache_key(&c, "pool", key) < 0 || canon_request_json(&c, "pool", &json) < 0)
            abort();
        buf_free(&json);
        /* the canonical form is a fixed point: parsing it again changes nothing */
        char *canonical = c.query.data ? strdup(c.query.data) : strdup("");
        if (canon_parse(&again, c.resource, canonical, &e) != 0 || strcmp(again.query.data ? again.query.data : "", canonical) != 0)
            abort();
        free(canonical);
    } else if (e.status < 400 || e.status > 599 || !e.reason) {
        abort();
    }
    free(qs);
    return 0;
}
