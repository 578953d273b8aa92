/* outage: what one host may spend on YouTube while the database is unreachable, kept outside it. */
#ifndef YTC_OUTAGE_H
#define YTC_OUTAGE_H

#include <stddef.h>

struct conf;
struct db;

/* Clients and unsettled key/bucket/day tallies held at once. A full client
 * table forgets its oldest window (the process budget still binds). */
#define OUTAGE_CLIENTS 128
#define OUTAGE_TALLIES 32

struct outage_client {
    char id[80];                 /* "<identity>|<bucket>" */
    long long window_ms;         /* start of its client_window */
    long spent;                  /* units in that window */
};

struct outage_bucket {
    char name[32];
    long long minute_ms;         /* start of the current minute */
    long spent;                  /* units this minute */
};

/* Calls that reached Google and no usage row counts yet. */
struct outage_tally {
    char fingerprint[17];        /* of the key used (quota_fingerprint) */
    char bucket[32];
    char day[11];                /* Pacific date */
    long units, calls;
};

struct outage {
    struct outage_client client[OUTAGE_CLIENTS];
    struct outage_bucket bucket[8];
    struct outage_tally tally[OUTAGE_TALLIES];
    size_t n_tallies;
    long lost_units;             /* tallies that found no room (logged, counted) */
};

enum outage_verdict {
    OUTAGE_OK,                   /* go ahead; outage_spent or outage_unspend follows */
    OUTAGE_PROCESS,              /* this process's budget for the bucket is spent this minute */
    OUTAGE_CLIENT,               /* the client's limit, kept in memory meanwhile */
};

/* May `client` spend `units` of `bucket` on a call the database cannot
 * account? Takes them if so. *retry_after: seconds until it may (refusals). */
enum outage_verdict outage_take(struct outage *o, const struct conf *c, const char *client, const char *bucket,
                                long units, long long now_ms, long *retry_after);
/* Give back what outage_take took for a call that never reached Google. */
void outage_unspend(struct outage *o, const struct conf *c, const char *client, const char *bucket, long units);
/* A call reached Google with the key of fingerprint `fp`: remember it for the usage rows. */
void outage_spent(struct outage *o, const char *fp, const char *bucket, long units, const char *day);
/* Move the remembered calls out (to add them to the usage rows without
 * holding the state's lock), and give back those that could not be added. */
size_t outage_take_tallies(struct outage *o, struct outage_tally *out, long *lost);
void outage_give_back(struct outage *o, const struct outage_tally *t, size_t n);
/* Add calls to key_usage; those of keys unknown to api_keys are dropped
 * (logged). 0, or -1 (err filled) with *done of them added. */
int outage_flush(struct db *d, const struct outage_tally *t, size_t n, long lost, size_t *done, char *err,
                 size_t errlen);

#endif
