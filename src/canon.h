/* canon: query parsing, per-resource validation and the canonical request / cache key. */
#ifndef YTC_CANON_H
#define YTC_CANON_H

#include "util.h"

#define CANON_MAX_PARAMS 40
#define CANON_MAX_IDS 50
/* The cache key: a SHA-256 (the cache table's BINARY(32) cache_key). */
#define CANON_KEY_LEN UTIL_SHA256_LEN
/* Where a larger ttl=/age= is saturated; [cache] max_ttl clamps it further. */
#define CANON_TTL_MAX (10 * UTIL_YEAR_SECS)

/* The cache key's version line for requests with an ordered id list of 2+ ids. */
#define CANON_ORDERED_KEY "ids-in-order"

struct canon_param {
    const char *name;
    const char *value;
};

struct canon {
    char resource[32];
    struct canon_param params[CANON_MAX_PARAMS];   /* sorted by name after parsing */
    size_t n;
    const char *client_key;   /* caller's key= (used only in passthrough mode), or NULL */
    long client_ttl;          /* ttl= / age=: the oldest copy (s) this request accepts, -1 if absent */
    int ordered_list;         /* an id list of 2+ ids, kept in the order asked */
    buf_t scratch;            /* decoded strings live here */
    buf_t query;              /* canonical query: what goes upstream and into the key */
    buf_t keybuf;             /* scratch for the cache key's input */
};

/* 1 if `name` is a resource ytcache serves. */
int canon_resource_known(const char *name);
/* The i-th resource ytcache serves (for listing them), NULL past the last. */
const char *canon_resource_name(size_t i);

/* Parse and validate a query string for `resource`; when resource is NULL
 * (the compatibility form) it comes from the `endpoint` param. On failure
 * fills e (400/404) and returns -1. The struct is reusable across requests. */
int canon_parse(struct canon *c, const char *resource, const char *qs, struct yerr *e);

const char *canon_get(const struct canon *c, const char *name);

/* SHA-256 of resource, key identity and canonical query. 0, or -1 out of
 * memory (out is then zeroed and must not be used). */
int canon_cache_key(struct canon *c, const char *keyid, unsigned char out[CANON_KEY_LEN]);

/* {"endpoint":..,"key":..,"params":{..}} for the cache row. 0 / -1. */
int canon_request_json(const struct canon *c, const char *keyid, buf_t *out);

/* Key identity for passthrough mode: "fp:" + 16 hex of SHA-256(key). out >= 20 bytes. */
void canon_key_fingerprint(const char *key, char *out, size_t outlen);

/* Percent-encode a value the way the canonical query does. 0 / -1. */
int canon_append_encoded(buf_t *b, const char *s);

void canon_free(struct canon *c);

#endif
