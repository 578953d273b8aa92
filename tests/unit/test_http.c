/* Unit tests: status lines: every status ytcache writes carries its RFC 9110 reason phrase. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "util.h"
#include "tap.h"

/* The IANA registry's phrases (RFC 9110 section 15; 429 and 431 from RFC
 * 6585), copied here by hand so that the table in src/http.c is checked
 * against the standard, not against itself. */
static const struct { int status; const char *phrase; } rfc[] = {
    { 100, "Continue" }, { 101, "Switching Protocols" },
    { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 203, "Non-Authoritative Information" },
    { 204, "No Content" }, { 205, "Reset Content" }, { 206, "Partial Content" },
    { 300, "Multiple Choices" }, { 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
    { 304, "Not Modified" }, { 305, "Use Proxy" }, { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" }, { 403, "Forbidden" },
    { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
    { 407, "Proxy Authentication Required" }, { 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
    { 411, "Length Required" }, { 412, "Precondition Failed" }, { 413, "Content Too Large" },
    { 414, "URI Too Long" }, { 415, "Unsupported Media Type" }, { 416, "Range Not Satisfiable" },
    { 417, "Expectation Failed" }, { 421, "Misdirected Request" }, { 422, "Unprocessable Content" },
    { 426, "Upgrade Required" }, { 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
    { 500, "Internal Server Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
    { 503, "Service Unavailable" }, { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
};
#define NRFC (sizeof rfc / sizeof rfc[0])

static const char *rfc_phrase(int status)
{
    for (size_t i = 0; i < NRFC; i++)
        if (rfc[i].status == status)
            return rfc[i].phrase;
    return NULL;
}

/* What ytcache answers with of its own accord (src/proxy.c, src/websub.c,
 * src/canon.c, src/ytcache.c); upstream's statuses are passed on as well,
 * which the whole registry above covers. */
static const int emitted[] = { 200, 202, 204, 304, 400, 403, 404, 405, 413, 414, 429, 500, 502, 503, 504 };

START_TEST(registry)
{
    ck_assert_str_eq(http_reason(rfc[_i].status), rfc[_i].phrase);
}
END_TEST

START_TEST(own_statuses)
{
    const char *want = rfc_phrase(emitted[_i]);
    ck_assert_msg(want != NULL, "%d is not in the registry", emitted[_i]);
    ck_assert_str_eq(http_reason(emitted[_i]), want);
}
END_TEST

START_TEST(status_lines)
{
    static const struct { int status; const char *line; } lines[] = {
        { 202, "Status: 202 Accepted\r\n" },
        { 204, "Status: 204 No Content\r\n" },
        { 413, "Status: 413 Content Too Large\r\n" },
        { 500, "Status: 500 Internal Server Error\r\n" },
        /* unregistered: no invented phrase ("Client Error" was one) */
        { 299, "Status: 299\r\n" },
        { 418, "Status: 418\r\n" },
        { 599, "Status: 599\r\n" },
    };
    buf_t b = { 0 };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        buf_reset(&b);
        ck_assert_int_eq(http_status_line(&b, lines[i].status), 0);
        ck_assert_str_eq(b.data, lines[i].line);
    }
    buf_free(&b);
    ck_assert_str_eq(http_reason(-1), "");
    ck_assert_str_eq(http_reason(0), "");
    ck_assert_str_eq(http_reason(600), "");
    ck_assert_str_eq(http_reason(100000), "");
}
END_TEST

/* The literal status of a call at p (just past "name("): the first or the
 * second argument, whichever is a number; 0 if neither is. */
static int literal_status(const char *p)
{
    for (int arg = 0; arg < 2; arg++) {
        while (*p == ' ')
            p++;
        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
            !isdigit((unsigned char)p[3]))
            return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        p = strpbrk(p, ",)\n");
        if (!p || *p != ',')
            return 0;
        p++;
    }
    return 0;
}

/* Every status written by a literal in src/ (errors, WebSub answers, direct
 * sends, the upstream outcome table's .status) is one of those checked above: a new
 * status without its phrase fails here. */
START_TEST(sources)
{
    static const char *const calls[] = { "yerr_set(", "answer(", "send_response(", "send_typed(", ".status = " };
    const char *srcdir = getenv("YTC_SRCDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/src", srcdir ? srcdir : ".");
    DIR *dp = opendir(dir);
    ck_assert_msg(dp != NULL, "cannot open %s", dir);
    int seen[600] = { 0 }, found = 0;
    struct dirent *de;
    static char text[1 << 20];
    while ((de = readdir(dp))) {
        size_t nl = strlen(de->d_name);
        if (nl < 3 || strcmp(de->d_name + nl - 2, ".c") != 0 || strcmp(de->d_name, "sql_embed.c") == 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "r");
        ck_assert_msg(fp != NULL, "cannot open %s", path);
        size_t len = fread(text, 1, sizeof text - 1, fp);
        fclose(fp);
        text[len] = '\0';
        for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++) {
            for (const char *p = text; (p = strstr(p, calls[k])); p++) {
                int st = literal_status(p + strlen(calls[k]));
                if (st < 100 || st > 599)
                    continue;
                const char *want = rfc_phrase(st);
                ck_assert_msg(want != NULL, "%s writes status %d, which has no registered phrase", de->d_name, st);
                ck_assert_msg(strcmp(http_reason(st), want) == 0, "%s: status %d: \"%s\", not \"%s\"", de->d_name,
                              st, http_reason(st), want);
                seen[st] = 1;
                found++;
            }
        }
    }
    closedir(dp);
    /* the scan itself works: it finds the statuses this file lists */
    ck_assert_int_gt(found, 20);
    for (size_t i = 0; i < sizeof emitted / sizeof emitted[0]; i++)
        ck_assert_msg(seen[emitted[i]], "status %d not found in src/", emitted[i]);
}
END_TEST

TAP_MAIN("http", "http")
{
    tcase_add_loop_test(t, registry, 0, NRFC);
    tcase_add_loop_test(t, own_statuses, 0, sizeof emitted / sizeof emitted[0]);
    tcase_add_test(t, status_lines);
    tcase_add_test(t, sources);
}
