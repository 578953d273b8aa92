/* Unit tests: number parsing, percent and hex coding, character classes, UTF-8,
 * Pacific midnight, ETag matching, error bodies. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "http.h"
#include "util.h"
#include "tap.h"

START_TEST(numbers)
{
    long long v;
    ck_assert_int_eq(util_parse_ll("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(util_parse_ll("-3", -5, 5, &v), 0);
    ck_assert_int_eq(util_parse_ll("", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_ll(" 4", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_ll("4 ", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_ll("0x10", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_ll("101", 0, 100, &v), -1);
    ck_assert_int_eq(util_parse_ll("99999999999999999999", 0, 100, &v), -1);
}
END_TEST

/* One decode of a C string with room for outcap bytes: the text, or "ERR". */
static const char *pct_of(const char *in, size_t outcap, size_t *outlen)
{
    static char out[256];
    ck_assert_uint_le(outcap, sizeof out);
    return util_pct_decode(in, strlen(in), out, outcap, outlen) < 0 ? "ERR" : out;
}

/* What canon.c (query parameters, in place) and websub.c (hub query
 * parameters into a bounded buffer) both relied on. */
static const struct { const char *in, *want; size_t len; } pct_cases[] = {
    { "", "", 0 },
    { "abc", "abc", 3 },
    { "hello+world", "hello world", 11 },          /* '+' is a space ... */
    { "a%2Bb", "a+b", 3 },                         /* ... and %2B a plus */
    { "%20%2b", " +", 2 },                         /* either case of hex digit */
    { "%C3%A9t%c3%a9", "\xc3\xa9t\xc3\xa9", 5 },   /* bytes, not characters */
    { "%2541", "%41", 3 },                         /* decoded once, not twice */
    { "%3D%26", "=&", 2 },
    { "%7F%1f", "\x7f\x1f", 2 },                   /* control bytes pass: callers refuse them */
    { "%", "ERR", 0 },                             /* a bad escape is refused, never passed on */
    { "abc%", "ERR", 0 },
    { "%4", "ERR", 0 },
    { "ab%4", "ERR", 0 },
    { "%zz", "ERR", 0 },
    { "%g0", "ERR", 0 },
    { "%0g", "ERR", 0 },
    { "% 41", "ERR", 0 },
    { "%+41", "ERR", 0 },
};

START_TEST(pct_decode)
{
    size_t n = 99;
    const char *got = pct_of(pct_cases[_i].in, 256, &n);
    ck_assert_msg(strcmp(got, pct_cases[_i].want) == 0, "%s: got \"%s\"", pct_cases[_i].in, got);
    if (strcmp(pct_cases[_i].want, "ERR") != 0)
        ck_assert_uint_eq(n, pct_cases[_i].len);
}
END_TEST

START_TEST(pct_decode_edges)
{
    size_t n = 0;
    char buf[16];
    /* %00 is a NUL byte that the length counts: canon.c refuses it by
     * strlen() != length, websub.c as a control byte */
    memcpy(buf, "a%00b", 6);
    ck_assert_int_eq(util_pct_decode(buf, 5, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(buf, "a\0b", 4), 0);
    ck_assert_uint_eq(strlen(buf), 1);
    /* in place, the way canon.c decodes (room: the text and its NUL) */
    memcpy(buf, "x%41+%42y", 10);
    ck_assert_int_eq(util_pct_decode(buf, 9, buf, 10, &n), 0);
    ck_assert_str_eq(buf, "xA By");
    ck_assert_uint_eq(n, 5);
    /* only inlen bytes are read: the rest of a query string is not */
    ck_assert_int_eq(util_pct_decode("ab&c=d", 2, buf, sizeof buf, &n), 0);
    ck_assert_str_eq(buf, "ab");
    ck_assert_int_eq(util_pct_decode("%41%", 3, buf, sizeof buf, &n), 0);
    ck_assert_str_eq(buf, "A");
    /* websub.c's bounded buffers: what fits with its NUL, else -1, never a cut value */
    ck_assert_str_eq(pct_of("abcd", 5, &n), "abcd");
    ck_assert_str_eq(pct_of("abcde", 5, &n), "ERR");
    ck_assert_str_eq(pct_of("%41%42%43%44", 5, &n), "ABCD");
    ck_assert_str_eq(pct_of("%41%42%43%44%45", 5, &n), "ERR");
    ck_assert_str_eq(pct_of("", 1, &n), "");
    ck_assert_str_eq(pct_of("a", 1, &n), "ERR");
    ck_assert_int_eq(util_pct_decode("", 0, buf, 0, &n), -1);
}
END_TEST

START_TEST(pct_encode)
{
    buf_t b = { 0 };
    /* canon.c's set (every cache key depends on it): ',' and '~' kept */
    ck_assert_int_eq(util_pct_encode(&b, "Az09-_.~, +/%&=\xc3\xa9\x7f", "-_.~,"), 0);
    ck_assert_str_eq(b.data, "Az09-_.~,%20%2B%2F%25%26%3D%C3%A9%7F");
    /* upstream.c's set for key=: ',' and '~' escaped; hex is upper case */
    buf_reset(&b);
    ck_assert_int_eq(util_pct_encode(&b, "AIza-_.~,\xff", "-_."), 0);
    ck_assert_str_eq(b.data, "AIza-_.%7E%2C%FF");
    buf_reset(&b);
    ck_assert_int_eq(util_pct_encode(&b, "", "-_."), 0);
    ck_assert_uint_eq(b.len, 0);
    /* every byte comes back from the decoder ('+' is never written) */
    char all[256], back[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    for (int set = 0; set < 2; set++) {
        buf_reset(&b);
        ck_assert_int_eq(util_pct_encode(&b, all, set ? "-_." : "-_.~,"), 0);
        ck_assert_ptr_null(strchr(b.data, '+'));
        size_t n = 0;
        ck_assert_int_eq(util_pct_decode(b.data, b.len, back, sizeof back, &n), 0);
        ck_assert_uint_eq(n, 255);
        ck_assert_int_eq(memcmp(back, all, 255), 0);
    }
    buf_free(&b);
}
END_TEST

START_TEST(hex)
{
    for (int ch = 0; ch < 256; ch++) {
        int want = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        ck_assert_int_eq(util_hexval(ch), want);
    }
    ck_assert_int_eq(util_hexval(-1), -1);
    unsigned char out[20];
    ck_assert_int_eq(util_unhex("00ff7Fa0", 8, out), 0);     /* either case (X-Hub-Signature) */
    ck_assert_int_eq(memcmp(out, "\x00\xff\x7f\xa0", 4), 0);
    ck_assert_int_eq(util_unhex("", 0, out), 0);
    ck_assert_int_eq(util_unhex("abc", 3, out), -1);          /* odd */
    ck_assert_int_eq(util_unhex("0g", 2, out), -1);
    ck_assert_int_eq(util_unhex("g0", 2, out), -1);
    ck_assert_int_eq(util_unhex("0 ", 2, out), -1);
    ck_assert_int_eq(util_unhex("\xff" "0", 2, out), -1);
    /* and back: util_hex writes lower case */
    static const char sig[] = "DE7C9B85B8B78AA6BC8A7A36F70A90701C9DB4D9";
    char text[41];
    ck_assert_int_eq(util_unhex(sig, 40, out), 0);
    util_hex(out, 20, text);
    ck_assert_str_eq(text, "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
}
END_TEST

START_TEST(hashes)
{
    /* FIPS 180-2 and RFC 4231 / RFC 2202 vectors: cache keys, the WebSub
     * signature and the callback token must not change with the library */
    static const struct { const char *msg; size_t reps; const char *txt; } sha[] = {
        { "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "a", 1000, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3" },
    };
    unsigned char d[UTIL_SHA256_LEN];
    char txt[2 * UTIL_SHA256_LEN + 1], big[1000], key[131];
    for (size_t i = 0; i < sizeof sha / sizeof sha[0]; i++) {
        size_t n = strlen(sha[i].msg);
        for (size_t r = 0; r < sha[i].reps; r++)
            memcpy(big + r * n, sha[i].msg, n);
        util_sha256(big, n * sha[i].reps, d);
        util_hex(d, sizeof d, txt);
        ck_assert_str_eq(txt, sha[i].txt);
    }
    memset(key, 0x0b, 20);
    util_hmac_sha256(key, 20, "Hi There", 8, d);
    util_hex(d, sizeof d, txt);
    ck_assert_str_eq(txt, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    static const char longmsg[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    memset(key, 0xaa, sizeof key);
    util_hmac_sha256(key, sizeof key, longmsg, sizeof longmsg - 1, d);
    util_hex(d, sizeof d, txt);
    ck_assert_str_eq(txt, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    util_hmac_sha1(key, 80, longmsg, sizeof longmsg - 1, d);
    util_hex(d, UTIL_SHA1_LEN, txt);
    ck_assert_str_eq(txt, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    ck_assert(util_equal_ct("abcd", "abcd", 4));
    ck_assert(!util_equal_ct("abcd", "abce", 4));
    ck_assert(!util_equal_ct("xbcd", "abcd", 4));
    unsigned char r1[16] = { 0 }, r2[16] = { 0 };
    ck_assert_int_eq(util_random(r1, sizeof r1), 0);
    ck_assert_int_eq(util_random(r2, sizeof r2), 0);
    ck_assert(memcmp(r1, r2, sizeof r1) != 0);
}
END_TEST

START_TEST(char_classes)
{
    ck_assert(util_all_in("dQw4w9WgXcQ", UTIL_B64URL, 11, 11));
    ck_assert(!util_all_in("dQw4w9WgXc", UTIL_B64URL, 11, 11));        /* bounds are inclusive */
    ck_assert(!util_all_in("dQw4w9WgXcQQ", UTIL_B64URL, 11, 11));
    ck_assert(!util_all_in("dQw4w9WgXc'", UTIL_B64URL, 11, 11));
    ck_assert(!util_all_in("dQw4w9WgXc.", UTIL_B64URL, 11, 11));
    ck_assert(util_all_in("dQw4w9WgXc.", UTIL_B64URL ".", 11, 11));
    ck_assert(util_all_in("", UTIL_ALNUM, 0, 5));                      /* the etag check allows "" */
    ck_assert(!util_all_in("", UTIL_ALNUM, 1, 5));
    ck_assert(util_all_in("US", UTIL_ALPHA, 2, 2));
    ck_assert(!util_all_in("U5", UTIL_ALPHA, 2, 2));
    ck_assert(util_all_in("0123456789", UTIL_DIGIT, 1, 10));
    ck_assert(!util_all_in("12a", UTIL_DIGIT, 1, 10));
    ck_assert(!util_all_in("\xc3\xa9", UTIL_ALNUM, 1, 10));            /* bytes >= 0x80 are no letters */
    ck_assert(!util_all_in("ab", "", 0, 10));
    ck_assert_uint_eq(strlen(UTIL_ALNUM), 62);
    ck_assert_uint_eq(strlen(UTIL_B64URL), 64);
}
END_TEST

START_TEST(buffers)
{
    buf_t b = { 0 };
    char want[600];
    /* buf_appendf: formats once into free space, twice when it must grow */
    ck_assert_int_eq(buf_appendf(&b, "%s-%d", "a", 1), 0);
    ck_assert_str_eq(b.data, "a-1");
    memset(want, 'x', 299);
    want[299] = '\0';
    ck_assert_int_eq(buf_appendf(&b, "%s", want), 0);    /* crosses the first 256 bytes */
    ck_assert_uint_eq(b.len, 302);
    ck_assert_int_eq(strncmp(b.data + 3, want, 299), 0);
    ck_assert_int_eq(b.data[b.len], '\0');
    size_t room = b.cap - b.len - 1;                      /* fill it exactly */
    memset(want, 'y', room);
    want[room] = '\0';
    ck_assert_int_eq(buf_appendf(&b, "%s", want), 0);
    ck_assert_uint_eq(b.len, b.cap - 1);
    ck_assert_int_eq(buf_appendf(&b, "%c", 'z'), 0);     /* no room at all */
    ck_assert_int_eq(b.data[b.len - 1], 'z');
    ck_assert_int_eq(b.data[b.len], '\0');
    buf_reset(&b);
    /* buf_append_num */
    static const struct { long long v; const char *s; } nums[] = {
        { 0, "0" }, { 7, "7" }, { -7, "-7" }, { 1218, "1218" }, { 100000, "100000" },
        { LLONG_MAX, "9223372036854775807" }, { LLONG_MIN, "-9223372036854775808" },
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        buf_reset(&b);
        ck_assert_int_eq(buf_append_num(&b, nums[i].v), 0);
        ck_assert_str_eq(b.data, nums[i].s);
    }
    buf_free(&b);
}
END_TEST

START_TEST(utf8)
{
    static const char ok[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
    ck_assert(util_utf8_valid((const unsigned char *)ok, sizeof ok - 1));
    ck_assert(!util_utf8_valid((const unsigned char *)"\xc0\xaf", 2));          /* overlong */
    ck_assert(!util_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));      /* surrogate */
    ck_assert(!util_utf8_valid((const unsigned char *)"\xe2\x82", 2));          /* truncated */
    ck_assert(!util_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
}
END_TEST

/* Quota resets at midnight America/Los_Angeles. */
static const struct { const char *when; long long t; long want; } pacific[] = {
    { "2026-11-23 12:00 UTC (PST, 04:00)", 1795435200LL, 20 * 3600 },
    { "2026-07-01 00:00 UTC (PDT, 17:00)", 1782864000LL, 7 * 3600 },
    { "2026-03-08 08:00 UTC (PST midnight, DST starts: 23 h day)", 1772956800LL, 23 * 3600 },
    { "2026-11-01 07:00 UTC (PDT midnight, DST ends: 25 h day)", 1793516400LL, 25 * 3600 },
    { "2026-11-02 07:59:59 UTC (one second to PST midnight)", 1793606399LL, 1 },
};

START_TEST(pacific_midnight)
{
    long got = util_secs_to_pacific_midnight((time_t)pacific[_i].t);
    ck_assert_msg(got == pacific[_i].want, "%s: got %ld, want %ld", pacific[_i].when, got, pacific[_i].want);
}
END_TEST

/* The quota day is the Pacific date, not the UTC one. */
static const struct { long long t; const char *want; } pdays[] = {
    { 1795435200LL, "2026-11-23" },   /* 12:00 UTC = 04:00 PST */
    { 1795392000LL, "2026-11-22" },   /* 00:00 UTC = 16:00 PST the day before */
    { 1772956799LL, "2026-03-07" },   /* one second before PST midnight, DST-start day */
    { 1772956800LL, "2026-03-08" },
    { 1793516399LL, "2026-10-31" },   /* one second before PDT midnight, DST-end day */
    { 1793516400LL, "2026-11-01" },
    { 1793606399LL, "2026-11-01" },   /* 25-hour day: still Nov 1 at 23:59:59 PST */
    { 1793606400LL, "2026-11-02" },
};

START_TEST(pacific_date)
{
    char day[11];
    util_pacific_date((time_t)pdays[_i].t, day);
    ck_assert_str_eq(day, pdays[_i].want);
}
END_TEST

START_TEST(etag_match)
{
    ck_assert(http_etag_match("\"abc\"", "abc"));
    ck_assert(http_etag_match("W/\"abc\"", "abc"));
    ck_assert(http_etag_match("\"x\", \"abc\"", "abc"));
    ck_assert(http_etag_match("*", "abc"));
    ck_assert(!http_etag_match("\"abcd\"", "abc"));
    ck_assert(!http_etag_match("abc", "abc"));
    ck_assert(!http_etag_match(NULL, "abc"));
    ck_assert(!http_etag_match("\"\"", ""));
}
END_TEST

START_TEST(error_shape)
{
    struct yerr e;
    buf_t b = { 0 };
    yerr_set(&e, 400, "invalidParameter", "maxResults", "Parameter %s is out of range.", "maxResults");
    ck_assert_int_eq(http_error_json(&b, &e), 0);
    ck_assert_str_eq(b.data, "{\"error\":{\"code\":400,\"message\":\"Parameter maxResults is out of range.\","
                             "\"errors\":[{\"message\":\"Parameter maxResults is out of range.\",\"domain\":\"ytcache\","
                             "\"reason\":\"invalidParameter\",\"location\":\"maxResults\",\"locationType\":\"parameter\"}]}}");
    buf_free(&b);
}
END_TEST

TAP_MAIN("util", "util")
{
    tcase_add_test(t, numbers);
    tcase_add_test(t, buffers);
    tcase_add_loop_test(t, pct_decode, 0, sizeof pct_cases / sizeof pct_cases[0]);
    tcase_add_test(t, pct_decode_edges);
    tcase_add_test(t, pct_encode);
    tcase_add_test(t, hex);
    tcase_add_test(t, hashes);
    tcase_add_test(t, char_classes);
    tcase_add_test(t, utf8);
    tcase_add_loop_test(t, pacific_midnight, 0, sizeof pacific / sizeof pacific[0]);
    tcase_add_loop_test(t, pacific_date, 0, sizeof pdays / sizeof pdays[0]);
    tcase_add_test(t, etag_match);
    tcase_add_test(t, error_shape);
}
