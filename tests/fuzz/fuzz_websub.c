/* libFuzzer target: WebSub notification feeds (websub_parse_atom) and signature headers. */
#include <stdint.h>
#include <string.h>
#include "websub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct websub_entry e[WEBSUB_MAX_ENTRIES];
    size_t n = 0;
    char err[UTIL_ERRLEN];
    if (websub_parse_atom((const char *)data, size, e, WEBSUB_MAX_ENTRIES, &n, err, sizeof err) == 0) {
        if (n > WEBSUB_MAX_ENTRIES)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (strlen(e[i].video_id) != 11)
                __builtin_trap();
    }
    /* the first line as a signature header for the rest */
    const uint8_t *nl = memchr(data, '\n', size < 128 ? size : 128);
    if (nl) {
        char header[129];
        size_t hl = (size_t)(nl - data);
        memcpy(header, data, hl);
        header[hl] = '\0';
        websub_signature_ok("secret", (const char *)nl + 1, size - hl - 1, header);
    }
    return 0;
}
