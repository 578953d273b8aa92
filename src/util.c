/* util: growable buffers, checked numbers, hashing, percent and hex coding, character classes, errors, time. */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <nettle/hmac.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <sys/random.h>

int buf_reserve(buf_t *b, size_t extra)
{
    if (extra > ((size_t)-1) / 2 - b->len)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_appends(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_appendf(buf_t *b, const char *fmt, ...)
{
    /* format straight into the free space; a second pass only when it was short */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= room) {
        if (buf_reserve(b, (size_t)n) < 0) {
            if (b->data)
                b->data[b->len] = '\0';
            return -1;
        }
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

int buf_append_num(buf_t *b, long long v)
{
    char t[24];
    size_t i = sizeof t;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    return buf_append(b, t + i, sizeof t - i);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int util_parse_ll(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')      /* strtoll would accept leading spaces */
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int util_parse_long(const char *s, long min, long max, long *out)
{
    long long v;
    if (util_parse_ll(s, min, max, &v) < 0)
        return -1;
    *out = (long)v;
    return 0;
}

void util_sha256(const void *p, size_t n, unsigned char out[UTIL_SHA256_LEN])
{
    /* nettle, not OpenSSL 3: its first EVP_MD_fetch initialises providers
     * and configuration, 3 M instructions, 28 % of a CGI hit */
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, n, p);
    sha256_digest(&c, UTIL_SHA256_LEN, out);
}

void util_hmac_sha1(const char *key, size_t keylen, const void *msg, size_t n, unsigned char out[UTIL_SHA1_LEN])
{
    struct hmac_sha1_ctx c;
    hmac_sha1_set_key(&c, keylen, (const uint8_t *)key);
    hmac_sha1_update(&c, n, msg);
    hmac_sha1_digest(&c, UTIL_SHA1_LEN, out);
}

void util_hmac_sha256(const char *key, size_t keylen, const void *msg, size_t n,
                      unsigned char out[UTIL_SHA256_LEN])
{
    struct hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, keylen, (const uint8_t *)key);
    hmac_sha256_update(&c, n, msg);
    hmac_sha256_digest(&c, UTIL_SHA256_LEN, out);
}

int util_equal_ct(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

int util_random(void *p, size_t n)
{
    unsigned char *o = p;
    while (n > 0) {
        ssize_t r = getrandom(o, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        o += r;
        n -= (size_t)r;
    }
    return 0;
}

void util_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int util_hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int util_unhex(const char *hex, size_t n, unsigned char *out)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = util_hexval((unsigned char)hex[i]);
        int lo = util_hexval((unsigned char)hex[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

int util_pct_decode(const char *in, size_t inlen, char *out, size_t outcap, size_t *outlen)
{
    if (!outcap)
        return -1;
    size_t w = 0;
    for (size_t r = 0; r < inlen; r++) {
        if (w + 1 >= outcap)
            return -1;
        char ch = in[r];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (r + 2 >= inlen)
                return -1;
            int hi = util_hexval((unsigned char)in[r + 1]);
            int lo = util_hexval((unsigned char)in[r + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            r += 2;
        }
        out[w++] = ch;
    }
    out[w] = '\0';
    *outlen = w;
    return 0;
}

static int kept(unsigned char ch, const char *keep)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr(keep, ch));
}

int util_pct_encode(buf_t *b, const char *s, const char *keep)
{
    static const char hx[] = "0123456789ABCDEF";
    while (*s) {
        /* a run of characters kept as they are goes in with one append: this
         * runs for every parameter of every request, hits included */
        const char *run = s;
        while (*s && kept((unsigned char)*s, keep))
            s++;
        if (s > run && buf_append(b, run, (size_t)(s - run)) < 0)
            return -1;
        if (!*s)
            break;
        unsigned char ch = (unsigned char)*s++;
        char t[3] = { '%', hx[ch >> 4], hx[ch & 15] };
        if (buf_append(b, t, 3) < 0)
            return -1;
    }
    return 0;
}

int util_all_in(const char *s, const char *set, size_t minlen, size_t maxlen)
{
    size_t n = strlen(s);
    return n >= minlen && n <= maxlen && strspn(s, set) == n;
}

int util_copy(char *dst, size_t dstlen, const char *src)
{
    if (!dstlen)
        return -1;
    size_t n = strlen(src);
    int trunc = n >= dstlen;
    if (trunc)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return trunc ? -1 : 0;
}

char *util_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int util_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned min;
        if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
        else return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

/* Day of month of the n-th Sunday of a month. */
static unsigned nth_sunday(long y, unsigned m, unsigned n)
{
    long d1 = days_from_civil(y, m, 1);
    unsigned wd = (unsigned)((d1 % 7 + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
    unsigned first = wd == 0 ? 1 : 8 - wd;
    return first + 7 * (n - 1);
}

/* UTC offset of America/Los_Angeles at instant t, in seconds: DST from the
 * second Sunday of March 02:00 PST (10:00 UTC) to the first Sunday of
 * November 02:00 PDT (09:00 UTC). */
static long pacific_offset(long t)
{
    time_t tt = (time_t)t;
    struct tm u;
    gmtime_r(&tt, &u);
    long y = u.tm_year + 1900;
    long start = days_from_civil(y, 3, nth_sunday(y, 3, 2)) * UTIL_DAY_SECS + 10 * 3600;
    long end = days_from_civil(y, 11, nth_sunday(y, 11, 1)) * UTIL_DAY_SECS + 9 * 3600;
    return (t >= start && t < end) ? -7 * 3600 : -8 * 3600;
}

long util_secs_to_pacific_midnight(time_t now)
{
    long t = (long)now;
    long offset = pacific_offset(t);
    long local = t + offset;
    long left = UTIL_DAY_SECS - ((local % UTIL_DAY_SECS) + UTIL_DAY_SECS) % UTIL_DAY_SECS;
    /* the days DST starts and ends are 23 and 25 hours long */
    return left + (offset - pacific_offset(t + left));
}

void util_pacific_date(time_t now, char out[11])
{
    time_t local = now + pacific_offset((long)now);
    struct tm u;
    gmtime_r(&local, &u);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(u.tm_year + 1900) % 10000u, (unsigned)(u.tm_mon + 1) % 100u,
             (unsigned)u.tm_mday % 100u);
}

long long util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void yerr_set(struct yerr *e, int status, const char *reason, const char *location,
              const char *fmt, ...)
{
    e->status = status;
    e->reason = reason;
    e->retry_after = 0;
    util_copy(e->location, sizeof e->location, location ? location : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

int util_json_take(buf_t *out, struct json_object *root)
{
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    buf_reset(out);
    int rc = s ? buf_appends(out, s) : -1;
    json_object_put(root);
    return rc;
}
