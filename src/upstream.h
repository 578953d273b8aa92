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
    UP_BAD_BODY,      /* not JSON, or truncated */
    /* Google answered, but the answer is not passed on; not Google's failure,
     * so no breaker failure: a stranger's query must not open it for everyone */
    UP_TOO_LARGE,     /* over max_response_bytes */
    UP_KEY_ECHO,      /* the body holds a server key (fetch.c drops it) */
    /* outcomes decided before any call was made */
    UP_NO_QUOTA,      /* every key's bucket is used up for today */
    UP_OVER_BUDGET,   /* the region's budget for today is spent */
    UP_BREAKER_OPEN,  /* upstream failing: no call while the breaker is open */
    UP_CLIENT_LIMIT,  /* this client spent its units for now */
    UP_DB_ERROR,      /* quota accounting unavailable */
    UP_OUTAGE_BUDGET, /* database down: this host's calls without accounting are spent for the minute */
    UP_NO_KEY,        /* the key pool is empty */
    UP__COUNT
};

/* What the units reserved for a call become once its outcome is known
 * (quota_settle does the work). */
enum up_settle {
    UP_SETTLE_NONE,       /* decided before a call: nothing was reserved */
    UP_SETTLE_CHARGE,     /* Google counted the call: the units stay spent */
    UP_SETTLE_REFUND,     /* never reached Google: the units go back */
    UP_SETTLE_EXHAUST,    /* charged, and the key's bucket is full until the reset */
    UP_SETTLE_DISABLE,    /* charged, and the key leaves the pool */
};

/* Why an outcome is not a usable answer, for callers that sort them (ytcache-refresh). */
enum up_cause {
    UP_CAUSE_NONE,        /* a usable answer */
    UP_CAUSE_REQUEST,     /* Google's verdict on the request itself */
    UP_CAUSE_QUOTA,       /* no quota left today: a key's bucket, every key's, or a region's budget */
    UP_CAUSE_KEY,         /* a key rate limited or rejected, or no usable key */
    UP_CAUSE_UPSTREAM,    /* Google failing or unreachable (or the breaker open because of it) */
    UP_CAUSE_CLIENT,      /* the client's own limit */
    UP_CAUSE_DB,          /* the quota accounting's database */
};

/* The Retry-After sent with an outcome's error. */
enum up_retry {
    UP_RETRY_NONE,        /* none */
    UP_RETRY_MIDNIGHT,    /* seconds to the Pacific quota reset */
    UP_RETRY_SECONDS,     /* what the deciding module knew, else retry_after */
};

/* Everything an outcome means, in one place: every module reads this rather
 * than keeping its own list of classes. */
struct up_outcome {
    const char *name;         /* in logs and ytcache-refresh's detail */
    const char *label;        /* class="..." of ytcache_upstream_calls_total */
    const char *summary;      /* a few words for log lines and a disabled key's reason */
    int cacheable;            /* stored, and served as Google sent it (or as our_body) */
    int our_body;             /* cacheable, but what is stored and served is our error body, not Google's */
    int negative;             /* stored for negative_ttl, not the resource's ttl */
    int key_problem;          /* about the key used: the next key may do better */
    int breaker_failure;      /* counts towards opening the breaker */
    int decided;              /* decided without calling upstream: no latency, nothing reserved */
    enum up_settle settle;
    enum up_cause cause;
    /* the client's answer; for a cacheable class, the status Google sends it with */
    int status;
    const char *reason;       /* error.errors[0].reason; NULL when Google's body is passed on */
    const char *message;
    int message_status;       /* the message goes on with Google's HTTP status: "... HTTP 500." */
    enum up_retry retry;
    long retry_after;         /* seconds, for UP_RETRY_SECONDS */
};

/* The descriptor of a class; an out-of-range value gets one for an unknown
 * failure (never cacheable, 502). Never NULL. */
const struct up_outcome *up_outcome(enum up_class cls);

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
/* The URL the libcurl handle holds now (base_url, keyless, between requests), for tests. */
const char *upstream_held_url(struct upstream *u);

/* Classify a status and body as Google sends them. Pure, for unit tests. */
enum up_class upstream_classify(long status, const char *body, size_t len, char *reason, size_t rlen,
                                char *etag, size_t etaglen);

#endif
