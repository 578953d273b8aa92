/* util: growable buffers, checked numbers, hashing, percent and hex coding, character classes, errors, time. */
#ifndef YTC_UTIL_H
#define YTC_UTIL_H

#include <stddef.h>
#include <time.h>

/* A growable byte buffer; data is always NUL-terminated when non-NULL. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *p, size_t n);
int buf_appends(buf_t *b, const char *s);
int buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal, without printf (response headers on the hit path). */
int buf_append_num(buf_t *b, long long v);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);

/* Checked decimal parsing: whole string, no sign surprises, inside [min,max]. 0 or -1. */
int util_parse_ll(const char *s, long long min, long long max, long long *out);
int util_parse_long(const char *s, long min, long max, long *out);

/* Seconds; the year is a long one: these are bounds, not calendar sums. */
#define UTIL_DAY_SECS 86400L
#define UTIL_YEAR_SECS (366 * UTIL_DAY_SECS)
/* YouTube API Services Developer Policies: API data may be kept at most 30
 * days without being refreshed. No row older than this since its fetch is
 * served, stale or not, and such rows are purged; no configuration can
 * make max_ttl plus the stale windows exceed it. */
#define UTIL_POLICY_MAX_AGE_DAYS 30
#define UTIL_POLICY_MAX_AGE_SECS (UTIL_POLICY_MAX_AGE_DAYS * UTIL_DAY_SECS)

/* The text of a number macro, to splice into SQL: "LIMIT " UTIL_STR(N). */
#define UTIL_STR_(x) #x
#define UTIL_STR(x) UTIL_STR_(x)

/* Room for one error message ("what: why") filled through err/errlen. */
#define UTIL_ERRLEN 256

#define UTIL_SHA256_LEN 32
void util_sha256(const void *p, size_t n, unsigned char out[UTIL_SHA256_LEN]);
#define UTIL_SHA1_LEN 20
/* HMAC-SHA1 / HMAC-SHA256 of msg keyed with key (RFC 2104). */
void util_hmac_sha1(const char *key, size_t keylen, const void *msg, size_t n, unsigned char out[UTIL_SHA1_LEN]);
void util_hmac_sha256(const char *key, size_t keylen, const void *msg, size_t n,
                      unsigned char out[UTIL_SHA256_LEN]);
/* 1 if the n bytes at a and b are equal, in time that does not depend on where they differ. */
int util_equal_ct(const void *a, const void *b, size_t n);
/* n bytes from the kernel's random source (getrandom); 0, or -1. */
int util_random(void *p, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *p, size_t n, char *out);
/* The value of one hex digit of either case, or -1. */
int util_hexval(int ch);
/* n hex digits of either case into n/2 bytes: 0, or -1 if n is odd or a
 * character is not a hex digit (out is then partly written). */
int util_unhex(const char *hex, size_t n, unsigned char *out);

/* Percent-decode in[0..inlen) into out, which may be in (in place: decoding
 * never grows): '+' is a space (query strings and HTML forms), %XX takes
 * hex digits of either case, and a '%' without two of them is an error,
 * never passed on. %00 gives a NUL byte that *outlen counts, so a caller
 * can tell it from the end and refuse it. out is NUL-terminated and holds
 * outcap bytes with the terminator. 0, or -1 on a bad escape or if the
 * result does not fit (never a cut value). */
int util_pct_decode(const char *in, size_t inlen, char *out, size_t outcap, size_t *outlen);
/* Append s percent-encoded: A-Z a-z 0-9 and the bytes in keep as they are,
 * every other byte as %XX with upper-case hex (RFC 3986, 2.1). 0 / -1. */
int util_pct_encode(buf_t *b, const char *s, const char *keep);

/* Character classes for util_all_in. */
#define UTIL_ALPHA "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define UTIL_DIGIT "0123456789"
#define UTIL_ALNUM UTIL_ALPHA UTIL_DIGIT
#define UTIL_B64URL UTIL_ALNUM "-_"
/* 1 if s has minlen..maxlen bytes, all of them in set. */
int util_all_in(const char *s, const char *set, size_t minlen, size_t maxlen);
/* Bounded copy that always terminates; returns -1 if truncated. */
int util_copy(char *dst, size_t dstlen, const char *src);
/* Duplicate, or NULL on allocation failure. */
char *util_strndup(const char *s, size_t n);
/* 1 if the n bytes are valid UTF-8 (no overlongs, no surrogates). */
int util_utf8_valid(const unsigned char *s, size_t n);
/* Seconds from now until the next midnight in America/Los_Angeles, when
 * YouTube's daily quota resets (US daylight-saving rules since 2007). */
long util_secs_to_pacific_midnight(time_t now);
/* The Pacific date (YYYY-MM-DD) at `now`: the quota day. */
void util_pacific_date(time_t now, char out[11]);
/* Monotonic milliseconds. */
long long util_now_ms(void);

/* An error that will become an HTTP answer in Google's error shape. */
struct yerr {
    int status;             /* HTTP status */
    const char *reason;     /* Google-style reason, static string */
    char location[64];      /* parameter name, or "" */
    char message[256];
    long retry_after;       /* seconds, 0 = no Retry-After */
};
void yerr_set(struct yerr *e, int status, const char *reason, const char *location,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Serialise root into out (plain, "/" not escaped: the form stored and
 * sent), then release root. 0, or -1 out of memory. */
struct json_object;
int util_json_take(buf_t *out, struct json_object *root);

/* The getopt_long entries every program takes (--config, --version,
 * --help), to end its own table with: { ..., UTIL_COMMON_LONGOPTS }. */
#define UTIL_COMMON_LONGOPTS                                  \
    { "config", required_argument, NULL, 'c' },               \
    { "version", no_argument, NULL, 'V' },                    \
    { "help", no_argument, NULL, 'h' },                       \
    { NULL, 0, NULL, 0 }

#endif
