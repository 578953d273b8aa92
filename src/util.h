/* util: growable buffers, checked number parsing, hashing, errors and time helpers. */
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

void util_sha256(const void *p, size_t n, unsigned char out[32]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *p, size_t n, char *out);
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

#endif
