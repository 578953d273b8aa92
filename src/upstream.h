/* upstream: the one reused libcurl handle per process, and classification of Google's answers. */
#ifndef YTC_UPSTREAM_H
#define YTC_UPSTREAM_H

#include "util.h"

struct conf;
struct upstream;

enum up_class {
    UP_OK,            /* 2xx with a JSON body */
    UP_BAD_REQUEST,   /* 400 about the request itself: cacheable for negative_ttl */
    UP_NOT_FOUND,     /* 404: cacheable for negative_ttl */
    UP_FORBIDDEN,     /* 403 about the resource (commentsDisabled, ...): cacheable */
    UP_QUOTA,         /* 403 quotaExceeded / dailyLimitExceeded */
    UP_RATE_LIMIT,    /* 429 or 403 rateLimitExceeded / userRateLimitExceeded */
    UP_KEY_INVALID,   /* 400 keyInvalid / API_KEY_INVALID, 403 keyExpired ... */
    UP_KEY_BLOCKED,   /* 403 referrer / ip / service blocked for this key */
    UP_BACKEND,       /* 5xx, or any other unusable status */
    UP_TIMEOUT,       /* no complete answer in time */
    UP_TRANSPORT,     /* connect refused, reset, TLS ... */
    UP_BAD_BODY,      /* not JSON, truncated, or over max_response_bytes */
    /* outcomes decided before any call was made */
    UP_NO_QUOTA,      /* every key's bucket is used up for today */
    UP_OVER_BUDGET,   /* the region's budget for today is spent */
    UP_BREAKER_OPEN,  /* upstream failing: no call while the breaker is open */
    UP_CLIENT_LIMIT,  /* this client spent its units for now */
    UP_DB_ERROR,      /* quota accounting unavailable */
    UP_NO_KEY,        /* the key pool is empty */
};

struct up_result {
    long status;               /* HTTP status from upstream, 0 if none */
    buf_t body;
    enum up_class cls;
    char reason[64];           /* errors[0].reason or details[].reason, for logs */
    char etag[128];            /* the body's "etag" member, "" if none */
    double seconds;
};

int upstream_open(struct upstream **u, const struct conf *c, char *err, size_t errlen);
/* GET base_url/resource?query&key=KEY. Never fails hard: the class tells. */
void upstream_fetch(struct upstream *u, const char *resource, const char *query, const char *key,
                    struct up_result *r);
void upstream_close(struct upstream **u);

/* Classify a status and body as Google sends them. Pure, for unit tests. */
enum up_class upstream_classify(long status, const char *body, size_t len, char *reason, size_t rlen,
                                char *etag, size_t etaglen);
/* 1 if answers of this class may be stored. */
int upstream_cacheable(enum up_class cls);
const char *upstream_class_name(enum up_class cls);

#endif
