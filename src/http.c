/* http: CGI/FastCGI I/O behind one interface, status texts, Google-shaped error bodies, ETags. */
#include "http.h"

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *http_env(const struct http_io *io, const char *name)
{
    size_t n = strlen(name);
    for (char **e = io->envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int http_write(struct http_io *io, const void *p, size_t n)
{
    if (io->out) {
        while (n > 0) {
            int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
            if (FCGX_PutStr(p, chunk, io->out) != chunk)
                return -1;
            p = (const char *)p + chunk;
            n -= (size_t)chunk;
        }
        return 0;
    }
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(1, s, n);
        if (w < 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int http_read_body(struct http_io *io, size_t len, buf_t *b)
{
    buf_reset(b);
    if (buf_reserve(b, len) < 0)
        return -1;
    while (b->len < len) {
        size_t want = len - b->len;
        int chunk = want > 65536 ? 65536 : (int)want;
        long got;
        if (io->in)
            got = FCGX_GetStr(b->data + b->len, chunk, io->in);
        else
            got = (long)read(0, b->data + b->len, (size_t)chunk);
        if (got <= 0)
            return -1;
        b->len += (size_t)got;
    }
    b->data[b->len] = '\0';
    return 0;
}

/* RFC 9110 section 15 (429 and 431 from RFC 6585), indexed by status. 413
 * is RFC 9110's "Content Too Large", not RFC 7231's "Payload Too Large":
 * the current registry name, and clients ignore the phrase anyway. */
static const char *const reasons[600] = {
    [100] = "Continue",
    [101] = "Switching Protocols",
    [200] = "OK",
    [201] = "Created",
    [202] = "Accepted",
    [203] = "Non-Authoritative Information",
    [204] = "No Content",
    [205] = "Reset Content",
    [206] = "Partial Content",
    [300] = "Multiple Choices",
    [301] = "Moved Permanently",
    [302] = "Found",
    [303] = "See Other",
    [304] = "Not Modified",
    [305] = "Use Proxy",
    [307] = "Temporary Redirect",
    [308] = "Permanent Redirect",
    [400] = "Bad Request",
    [401] = "Unauthorized",
    [402] = "Payment Required",
    [403] = "Forbidden",
    [404] = "Not Found",
    [405] = "Method Not Allowed",
    [406] = "Not Acceptable",
    [407] = "Proxy Authentication Required",
    [408] = "Request Timeout",
    [409] = "Conflict",
    [410] = "Gone",
    [411] = "Length Required",
    [412] = "Precondition Failed",
    [413] = "Content Too Large",
    [414] = "URI Too Long",
    [415] = "Unsupported Media Type",
    [416] = "Range Not Satisfiable",
    [417] = "Expectation Failed",
    [421] = "Misdirected Request",
    [422] = "Unprocessable Content",
    [426] = "Upgrade Required",
    [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [500] = "Internal Server Error",
    [501] = "Not Implemented",
    [502] = "Bad Gateway",
    [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
    [505] = "HTTP Version Not Supported",
};

const char *http_reason(int status)
{
    if (status < 0 || (size_t)status >= sizeof reasons / sizeof reasons[0] || !reasons[status])
        return "";
    return reasons[status];
}

int http_status_line(buf_t *h, int status)
{
    const char *reason = http_reason(status);
    int rc = buf_appends(h, "Status: ");
    rc |= buf_append_num(h, status);
    /* an unregistered code (passed on from upstream) goes without a phrase
     * rather than with an invented one; the web server then supplies its own */
    if (*reason) {
        rc |= buf_appends(h, " ");
        rc |= buf_appends(h, reason);
    }
    rc |= buf_appends(h, "\r\n");
    return rc ? -1 : 0;
}

int http_error_json(buf_t *out, const struct yerr *e)
{
    json_object *root = json_object_new_object();
    json_object *err = json_object_new_object();
    json_object *errors = json_object_new_array();
    json_object *item = json_object_new_object();
    if (!root || !err || !errors || !item) {
        json_object_put(root);
        json_object_put(err);
        json_object_put(errors);
        json_object_put(item);
        return -1;
    }
    json_object_object_add(item, "message", json_object_new_string(e->message));
    json_object_object_add(item, "domain", json_object_new_string("ytcache"));
    json_object_object_add(item, "reason", json_object_new_string(e->reason ? e->reason : "error"));
    if (e->location[0]) {
        json_object_object_add(item, "location", json_object_new_string(e->location));
        json_object_object_add(item, "locationType", json_object_new_string("parameter"));
    }
    json_object_array_add(errors, item);
    json_object_object_add(err, "code", json_object_new_int(e->status));
    json_object_object_add(err, "message", json_object_new_string(e->message));
    json_object_object_add(err, "errors", errors);
    json_object_object_add(root, "error", err);
    return util_json_take(out, root);
}

int http_etag_match(const char *inm, const char *etag)
{
    if (!inm || !etag || !*etag)
        return 0;
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return 0;
        const char *q = strchr(p + 1, '"');
        if (!q)
            return 0;
        if ((size_t)(q - p - 1) == elen && memcmp(p + 1, etag, elen) == 0)
            return 1;
        p = q + 1;
    }
    return 0;
}
