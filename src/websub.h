/* websub: YouTube push notifications: subscriptions, intent verification, signed Atom feeds, invalidation. */
#ifndef YTC_WEBSUB_H
#define YTC_WEBSUB_H

#include <stddef.h>
#include "util.h"

struct conf;
struct db;

#define WEBSUB_MAX_ENTRIES 64

struct websub_entry {
    char video_id[16];
    char channel_id[32];
    int deleted;                 /* <at:deleted-entry> */
};

/* Parse a notification feed with expat. DOCTYPEs (and so entity
 * definitions) are refused. 0, or -1 with a message. Pure: for tests and fuzzing. */
int websub_parse_atom(const char *body, size_t len, struct websub_entry *entries, size_t max, size_t *n,
                      char *err, size_t errlen);

/* 1 if header is "sha1=<hex>" and matches HMAC-SHA1(secret, body), compared
 * in constant time; 0 otherwise. */
int websub_signature_ok(const char *secret, const char *body, size_t len, const char *header);

/* What the endpoint answers. */
struct websub_answer {
    int status;
    const char *ctype;
    buf_t body;
};

/* Hex digits of the callback's path token, <callback>/<token>?channel=UC... */
#define WEBSUB_TOKEN_LEN 32

/* GET: the hub's intent verification. qs is the raw query string, token the
 * path's last segment after /websub/ (NULL if none): refused unless it is the
 * subscription's. Honoured only for a recent, outstanding request. */
void websub_verify_intent(struct db *d, const struct conf *c, const char *qs, const char *token,
                          struct websub_answer *a);
/* POST: a notification for the channel named by the callback's ?channel=. */
void websub_notify(struct db *d, const struct conf *c, const char *qs, const char *token, const char *body,
                   size_t len, const char *signature, struct websub_answer *a);
/* The path token of <mount>/websub/<token> (copied into out), or NULL. */
const char *websub_path_token(const char *path, char *out, size_t outlen);

/* Expire the cache rows a change to this channel/video makes wrong; returns
 * rows touched or -1. */
long long websub_invalidate(struct db *d, const struct conf *c, const char *channel_id, const char *video_id,
                            char *err, size_t errlen);

/* Subscribe or unsubscribe at the hub (records the subscription first). 0 / -1. */
int websub_request(struct db *d, const struct conf *c, const char *channel_id, int subscribe, char *err,
                   size_t errlen);
/* Delete the local subscription row without contacting the hub (one whose
 * hub request failed, or a hub that is gone). 0 deleted, 1 no such
 * subscription, 2 not a channel id, -1 database error; err filled unless 0. */
int websub_forget(struct db *d, const char *channel_id, char *err, size_t errlen);
/* Renew subscriptions whose lease ends within `within` seconds; returns how many, or -1. */
int websub_renew(struct db *d, const struct conf *c, long within, char *err, size_t errlen);

#endif
