/* Unit tests: classification of Google's answers, from the bodies in tests/data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "upstream.h"
#include "tap.h"

static char *slurp(const char *rel, size_t *len)
{
    char path[1024];
    FILE *fp = fopen(tap_data(rel, path, sizeof path), "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    static char buf[65536];
    *len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    return buf;
}

START_TEST(cases_file)
{
    char path[1024];
    FILE *fp = fopen(tap_data("classify/cases.txt", path, sizeof path), "r");
    ck_assert(fp != NULL);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        char file[256], cls[64], reason[64];
        long status;
        if (line[0] == '#' || sscanf(line, "%255s %ld %63s %63s", file, &status, cls, reason) != 4)
            continue;
        size_t len;
        char *body = slurp(file, &len);
        char got_reason[64], etag[128];
        enum up_class got = upstream_classify(status, body, len, got_reason, sizeof got_reason, etag, sizeof etag);
        ck_assert_msg(strcmp(upstream_class_name(got), cls) == 0, "%s (%ld): class %s, want %s",
                      file, status, upstream_class_name(got), cls);
        if (strcmp(reason, "-") != 0)
            ck_assert_msg(strcmp(got_reason, reason) == 0, "%s: reason %s, want %s", file, got_reason, reason);
        n++;
    }
    fclose(fp);
    ck_assert_int_ge(n, 10);
}
END_TEST

START_TEST(etag_and_cacheability)
{
    size_t len;
    char *body = slurp("classify/ok_list.json", &len);
    char reason[64], etag[128];
    ck_assert_int_eq(upstream_classify(200, body, len, reason, sizeof reason, etag, sizeof etag), UP_OK);
    ck_assert_str_eq(etag, "XI7nbFXulYBIpL0ayR_gDh3eu1k");
    ck_assert(upstream_cacheable(UP_OK));
    ck_assert(upstream_cacheable(UP_NOT_FOUND));
    ck_assert(upstream_cacheable(UP_BAD_REQUEST));
    ck_assert(!upstream_cacheable(UP_QUOTA));
    ck_assert(!upstream_cacheable(UP_KEY_INVALID));
    ck_assert(!upstream_cacheable(UP_BACKEND));
    ck_assert(!upstream_cacheable(UP_TIMEOUT));
    ck_assert(!upstream_cacheable(UP_BAD_BODY));
    /* trailing garbage and a bare array are not one JSON object */
    ck_assert_int_eq(upstream_classify(200, "{} x", 4, reason, sizeof reason, etag, sizeof etag), UP_BAD_BODY);
    ck_assert_int_eq(upstream_classify(200, "[1]", 3, reason, sizeof reason, etag, sizeof etag), UP_BAD_BODY);
    ck_assert_int_eq(upstream_classify(200, "{\"a\":\"\xff\"}", 8, reason, sizeof reason, etag, sizeof etag), UP_BAD_BODY);
    /* an etag that could break a header is not taken */
    static const char crlf[] = "{\"etag\":\"a\\r\\nX: y\"}";
    ck_assert_int_eq(upstream_classify(200, crlf, sizeof crlf - 1, reason, sizeof reason, etag, sizeof etag), UP_OK);
    ck_assert_str_eq(etag, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upstream");
    TCase *t = tcase_create("classify");
    tcase_add_test(t, cases_file);
    tcase_add_test(t, etag_and_cacheability);
    suite_add_tcase(s, t);
    return tap_run(s);
}
