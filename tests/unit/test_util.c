/* Unit tests: number parsing, UTF-8, Pacific midnight, ETag matching, error bodies. */
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

int main(void)
{
    Suite *s = suite_create("util");
    TCase *t = tcase_create("util");
    tcase_add_test(t, numbers);
    tcase_add_test(t, buffers);
    tcase_add_test(t, utf8);
    tcase_add_loop_test(t, pacific_midnight, 0, sizeof pacific / sizeof pacific[0]);
    tcase_add_loop_test(t, pacific_date, 0, sizeof pdays / sizeof pdays[0]);
    tcase_add_test(t, etag_match);
    tcase_add_test(t, error_shape);
    suite_add_tcase(s, t);
    return tap_run(s);
}
