/* libFuzzer target: classification of upstream answers (upstream_classify). */
#include <stdint.h>
#include <string.h>
#include "upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    long status = 100 + (data[0] << 8 | data[1]) % 500;
    char reason[64], etag[128];
    enum up_class cls = upstream_classify(status, (const char *)data + 2, size - 2, reason, sizeof reason,
                                          etag, sizeof etag);
    /* an etag that is taken must be safe inside a header */
    for (const char *p = etag; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\')
            __builtin_trap();
    if (strlen(reason) >= sizeof reason || (int)cls < 0)
        __builtin_trap();
    return 0;
}
