/* ycurl: libcurl loaded on first use, so that a CGI cache hit does not pay for loading it. */
#include "ycurl.h"
#include "config.h"
#include "util.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct ycurl_api ycurl;

static void *lib;
static int state;                /* 0 not tried, 1 loaded, -1 failed */
static char failure[256];

/* dlsym returns void *; going through memcpy keeps ISO C's function and
 * object pointers apart without a warning. */
static int sym(const char *name, void *slot, size_t size)
{
    void *p = dlsym(lib, name);
    if (!p) {
        snprintf(failure, sizeof failure, "libcurl lacks %s", name);
        return -1;
    }
    memcpy(slot, &p, size);
    return 0;
}

#define SYM(field, name) sym(name, &ycurl.field, sizeof ycurl.field)

int ycurl_load(char *err, size_t errlen)
{
    if (state == 0) {
        state = -1;
        lib = dlopen(YTC_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            const char *e = dlerror();
            snprintf(failure, sizeof failure, "cannot load %s: %s", YTC_LIBCURL_SONAME, e ? e : "?");
        } else {
            CURLcode (*global_init)(long) = NULL;
            if (SYM(easy_init, "curl_easy_init") == 0 && SYM(easy_cleanup, "curl_easy_cleanup") == 0 &&
                SYM(easy_setopt, "curl_easy_setopt") == 0 && SYM(easy_getinfo, "curl_easy_getinfo") == 0 &&
                SYM(easy_perform, "curl_easy_perform") == 0 && SYM(easy_strerror, "curl_easy_strerror") == 0 &&
                SYM(easy_escape, "curl_easy_escape") == 0 && SYM(free, "curl_free") == 0 &&
                SYM(slist_append, "curl_slist_append") == 0 && SYM(slist_free_all, "curl_slist_free_all") == 0 &&
                sym("curl_global_init", &global_init, sizeof global_init) == 0) {
                if (global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
                    state = 1;
                else
                    snprintf(failure, sizeof failure, "curl_global_init failed");
            }
            if (state != 1) {
                dlclose(lib);
                lib = NULL;
            }
        }
    }
    if (state == 1)
        return 0;
    util_copy(err, errlen, failure);
    return -1;
}

void ycurl_unload(void)
{
    if (state != 1)
        return;
    void (*global_cleanup)(void) = NULL;
    if (sym("curl_global_cleanup", &global_cleanup, sizeof global_cleanup) == 0)
        global_cleanup();
    /* not dlclose'd: libcurl's dependencies may have registered exit handlers */
}
