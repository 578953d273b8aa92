/* http: CGI/FastCGI I/O behind one interface, status texts, Google-shaped error bodies, ETags. */
#ifndef YTC_HTTP_H
#define YTC_HTTP_H

#include <stddef.h>
#include "util.h"

typedef struct FCGX_Stream FCGX_Stream;

/* Where a request comes from and its answer goes: FastCGI streams, or the
 * process's real environment and stdout for CGI. */
struct http_io {
    FCGX_Stream *out;     /* NULL for CGI */
    char **envp;          /* FastCGI params, or environ for CGI */
    FCGX_Stream *in;      /* request body; NULL for CGI (fd 0) */
};

const char *http_env(const struct http_io *io, const char *name);
int http_write(struct http_io *io, const void *p, size_t n);
/* Read a request body of exactly `len` bytes into b. 0 / -1 (short or failed read). */
int http_read_body(struct http_io *io, size_t len, buf_t *b);

/* The RFC 9110 reason phrase of a status, "" for one not registered. */
const char *http_reason(int status);
/* Append "Status: NNN Reason\r\n", the CGI status header. 0 / -1 (out of memory). */
int http_status_line(buf_t *h, int status);
/* Google's error shape with domain "ytcache". */
int http_error_json(buf_t *out, const struct yerr *e);
/* 1 if an If-None-Match header value matches the (unquoted) etag. */
int http_etag_match(const char *inm, const char *etag);

#endif
