/* libFuzzer target: header and number parsing: If-None-Match, X-Forwarded-For, UTF-8, integers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "climit.h"
#include "conf.h"
#include "http.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conf c;
    static int init;
    if (!init) {
        conf_defaults(&c);
        char err[256];
        if (conf_set(&c, "quota", "trusted_proxies", "127.0.0.0/8, 10.0.0.0/8, fd00::/8", err, sizeof err) < 0)
            __builtin_trap();
        init = 1;
    }
    if (size > 8192)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *sep = strchr(s, '|');
    const char *etag = "XI7nbFXulYBIpL0ayR_gDh3eu1k";
    if (sep) {
        *sep = '\0';
        etag = sep + 1;
    }
    http_etag_match(s, etag);
    char client[64];
    climit_client_id(&c, "127.0.0.1", s, client, sizeof client);
    if (strlen(client) >= sizeof client)
        __builtin_trap();
    util_utf8_valid(data, size);
    long long v;
    if (util_parse_ll(s, -1000, 1000, &v) == 0 && (v < -1000 || v > 1000))
        __builtin_trap();
    free(s);
    return 0;
}
