/* ycurl: libcurl loaded on first use, so that a CGI cache hit does not pay for loading it. */
#ifndef YTC_YCURL_H
#define YTC_YCURL_H

/* libcurl and the 26 libraries it brings (TLS, HTTP/2, LDAP, Kerberos, ...)
 * took half of the start-up of a CGI process, which on a hit never makes a
 * request. So it is opened with dlopen when the first request is about to
 * be made (the technique systemd uses for its optional libraries). Calls go
 * through the table below. Without curl.h's type-checking macros: the
 * function pointers cannot carry them. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stddef.h>

struct ycurl_api {
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    CURLcode (*easy_perform)(CURL *h);
    const char *(*easy_strerror)(CURLcode code);
    char *(*easy_escape)(CURL *h, const char *s, int len);
    void (*free)(void *p);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
};

/* Valid after ycurl_load() returned 0. */
extern struct ycurl_api ycurl;

/* Load libcurl and run curl_global_init once per process. 0, or -1 with
 * the reason in err; a failure is remembered, not retried on every call. */
int ycurl_load(char *err, size_t errlen);
/* curl_global_cleanup, if loaded; at process exit. */
void ycurl_unload(void);

#endif
