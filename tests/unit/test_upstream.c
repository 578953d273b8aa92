/* Unit tests: classification of Google's answers (from the bodies in tests/data), the outcome
 * table, and the libcurl handle keeping no key between requests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "conf.h"
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
        ck_assert_msg(strcmp(up_outcome(got)->name, cls) == 0, "%s (%ld): class %s, want %s",
                      file, status, up_outcome(got)->name, cls);
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
    ck_assert(up_outcome(UP_OK)->cacheable);
    ck_assert(up_outcome(UP_NOT_FOUND)->cacheable);
    ck_assert(up_outcome(UP_BAD_REQUEST)->cacheable);
    ck_assert(!up_outcome(UP_QUOTA)->cacheable);
    ck_assert(!up_outcome(UP_KEY_INVALID)->cacheable);
    ck_assert(!up_outcome(UP_BACKEND)->cacheable);
    ck_assert(!up_outcome(UP_TIMEOUT)->cacheable);
    ck_assert(!up_outcome(UP_BAD_BODY)->cacheable);
    /* a stranger's query must not open the breaker for everyone */
    ck_assert(up_outcome(UP_BAD_BODY)->breaker_failure && up_outcome(UP_BACKEND)->breaker_failure);
    ck_assert(!up_outcome(UP_TOO_LARGE)->breaker_failure && up_outcome(UP_TOO_LARGE)->negative);
    ck_assert(!up_outcome(UP_KEY_ECHO)->breaker_failure && up_outcome(UP_KEY_ECHO)->negative);
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

static int nonempty(const char *s)
{
    return s && *s;
}

/* Every class has an entry, and no entry contradicts itself or another:
 * the modules that read the table rely on these. */
START_TEST(outcome_table)
{
    for (int i = 0; i < UP__COUNT; i++) {
        const struct up_outcome *o = up_outcome((enum up_class)i);
        ck_assert_msg(nonempty(o->name), "class %d has no entry", i);
        const char *n = o->name;
        ck_assert_msg(nonempty(o->label) && strspn(o->label, "abcdefghijklmnopqrstuvwxyz_") == strlen(o->label),
                      "%s: metrics label \"%s\"", n, o->label ? o->label : "(null)");
        ck_assert_msg(nonempty(o->summary), "%s: no summary", n);
        for (int j = 0; j < i; j++) {
            const struct up_outcome *q = up_outcome((enum up_class)j);
            ck_assert_msg(strcmp(q->name, o->name) != 0, "name %s used twice", n);
            ck_assert_msg(strcmp(q->label, o->label) != 0, "label %s used twice", o->label);
        }
        /* decided before any call: nothing to store, reserve, or blame on Google */
        if (o->decided) {
            ck_assert_msg(!o->cacheable, "%s: decided without a call, but cacheable", n);
            ck_assert_msg(!o->breaker_failure, "%s: decided without a call, but a breaker failure", n);
            ck_assert_msg(!o->key_problem, "%s: decided without a call, but a key problem", n);
        }
        ck_assert_msg((o->settle == UP_SETTLE_NONE) == !!o->decided,
                      "%s: settles nothing exactly when decided without a call", n);
        /* an answer about the key, or a failure, is never stored */
        ck_assert_msg(!(o->key_problem && o->cacheable), "%s: a key problem, but cacheable", n);
        ck_assert_msg(!(o->key_problem && o->breaker_failure), "%s: a key problem and a breaker failure", n);
        ck_assert_msg(!(o->breaker_failure && o->cacheable), "%s: a breaker failure, but cacheable", n);
        ck_assert_msg(!o->negative || o->cacheable, "%s: negative-cacheable, but not cacheable", n);
        /* what the units become */
        if (o->cacheable)
            ck_assert_msg(o->settle == UP_SETTLE_CHARGE, "%s: cacheable, so Google charged it", n);
        if (o->settle == UP_SETTLE_EXHAUST)
            ck_assert_msg(o->key_problem && o->cause == UP_CAUSE_QUOTA, "%s: exhausts a key: a quota key problem", n);
        if (o->settle == UP_SETTLE_DISABLE)
            ck_assert_msg(o->key_problem && o->cause == UP_CAUSE_KEY, "%s: disables a key: a key problem", n);
        if (o->settle == UP_SETTLE_REFUND)
            ck_assert_msg(o->breaker_failure, "%s: refunded (never reached Google): a breaker failure", n);
        if (o->key_problem)
            ck_assert_msg(o->cause == UP_CAUSE_QUOTA || o->cause == UP_CAUSE_KEY, "%s: a key problem's cause", n);
        if (o->breaker_failure)
            ck_assert_msg(o->cause == UP_CAUSE_UPSTREAM, "%s: a breaker failure is upstream's", n);
        ck_assert_msg((o->cause == UP_CAUSE_NONE) == (o->cacheable && !o->negative), "%s: cause none: usable", n);
        ck_assert_msg((o->cause == UP_CAUSE_REQUEST) == !!o->negative, "%s: cause request: negative", n);
        /* the client's answer */
        if (o->our_body) {
            /* our error stored in Google's place: a negative entry about the request, never Google's failure */
            ck_assert_msg(o->cacheable && o->negative && o->cause == UP_CAUSE_REQUEST, "%s: our body: negative", n);
            ck_assert_msg(!o->breaker_failure && !o->key_problem && !o->decided, "%s: our body: Google answered", n);
            ck_assert_msg(o->status >= 500 && o->status <= 599, "%s: our body: a gateway status %d", n, o->status);
            ck_assert_msg(nonempty(o->reason) && nonempty(o->message) && !o->message_status &&
                          o->retry == UP_RETRY_NONE, "%s: our body: a fixed error of ours", n);
        } else if (o->cacheable) {
            /* Google's status and body go on as they came */
            ck_assert_msg(o->status >= 200 && o->status < 500, "%s: status %d", n, o->status);
            ck_assert_msg((o->status >= 400) == !!o->negative, "%s: negative exactly when an error status", n);
            ck_assert_msg(o->reason == NULL && o->message == NULL && o->retry == UP_RETRY_NONE,
                          "%s: cacheable, so no error of ours", n);
        }
        if (!o->cacheable || o->our_body) {
            ck_assert_msg(o->status >= 400 && o->status <= 599, "%s: error status %d", n, o->status);
            ck_assert_msg(nonempty(o->reason) && strspn(o->reason, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
                          strlen(o->reason), "%s: error reason", n);
            ck_assert_msg(nonempty(o->message), "%s: error message", n);
            if (!o->message_status)
                ck_assert_msg(o->message[strlen(o->message) - 1] == '.', "%s: a message is a sentence", n);
        }
        ck_assert_msg(!o->message_status || !o->decided, "%s: no HTTP status to tell without a call", n);
        ck_assert_msg((o->retry == UP_RETRY_SECONDS) == (o->retry_after > 0), "%s: retry_after %ld", n,
                      o->retry_after);
        /* out of quota is out until the daily reset */
        ck_assert_msg((o->retry == UP_RETRY_MIDNIGHT) == (o->cause == UP_CAUSE_QUOTA), "%s: retry at midnight", n);
    }
    const struct up_outcome *ok = up_outcome(UP_OK);
    ck_assert_str_eq(ok->name, "ok");
    ck_assert(ok->cacheable && !ok->negative && !ok->decided);
    ck_assert_int_eq(ok->status, 200);
    /* a value past the table gets the unknown failure, never NULL */
    const struct up_outcome *unk = up_outcome(UP__COUNT);
    ck_assert_str_eq(unk->name, "unknown");
    ck_assert(!unk->cacheable && !unk->key_problem && !unk->decided);
    ck_assert_int_eq(unk->status, 502);
    ck_assert_str_eq(unk->reason, "upstreamError");
}
END_TEST

/* A cacheable class's status is the one classification gives it for. */
START_TEST(outcome_status_matches_classify)
{
    static const char body[] = "{\"error\":{\"code\":1,\"errors\":[{\"reason\":\"someReason\"}]}}";
    char reason[64], etag[128];
    int seen = 0;
    for (int i = 0; i < UP__COUNT; i++) {
        const struct up_outcome *o = up_outcome((enum up_class)i);
        if (!o->cacheable || o->our_body)
            continue;   /* our body: decided by the proxy, not by classification */
        enum up_class got = upstream_classify(o->status, body, sizeof body - 1, reason, sizeof reason, etag, sizeof etag);
        ck_assert_msg(got == (enum up_class)i, "HTTP %d: %s, table says %s", o->status, up_outcome(got)->name, o->name);
        seen++;
    }
    ck_assert_int_eq(seen, 4);
}
END_TEST

/* A local server answering n requests with {}. */
static pid_t serve(int n, int *port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    ck_assert_int_ge(ls, 0);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
        for (int i = 0; i < n; i++) {
            int fd = accept(ls, NULL, NULL);
            char req[8192];
            size_t got = 0;
            ssize_t k;
            while (got < sizeof req - 1 && (k = read(fd, req + got, sizeof req - 1 - got)) > 0) {
                got += (size_t)k;
                req[got] = '\0';
                if (strstr(req, "\r\n\r\n"))
                    break;
            }
            if (write(fd, resp, sizeof resp - 1) < 0)
                _exit(1);
            close(fd);
        }
        _exit(0);
    }
    close(ls);
    return pid;
}

/* The URL carries the key: after a request it is gone from the handle. */
START_TEST(no_key_held)
{
    static const char *const proxies[] = { "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY" };
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    int port;
    pid_t pid = serve(2, &port);
    struct conf c;
    char url[64], err[256];
    conf_defaults(&c);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/youtube/v3", port);
    ck_assert_int_eq(conf_set(&c, "upstream", "base_url", url, err, sizeof err), 0);
    struct upstream *u = NULL;
    ck_assert_int_eq(upstream_open(&u, &c, err, sizeof err), 0);
    struct up_result r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 2; i++) {
        upstream_fetch(u, "videos", "part=id&id=dQw4w9WgXcQ", "AIzaUNIT-test-key-0001", &r);
        ck_assert_msg(r.status == 200, "request %d: status %ld (%s)", i, r.status, r.reason);
        ck_assert_msg(strstr(upstream_held_url(u), "key=") == NULL, "the handle still holds %s",
                      upstream_held_url(u));
        ck_assert_str_eq(upstream_held_url(u), url);
    }
    upstream_close(&u);
    buf_free(&r.body);
    conf_free(&c);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

TAP_MAIN("upstream", "classify")
{
    tcase_add_test(t, cases_file);
    tcase_add_test(t, etag_and_cacheability);
    tcase_add_test(t, outcome_table);
    tcase_add_test(t, outcome_status_matches_classify);
    tcase_add_test(t, no_key_held);
}
