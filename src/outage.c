/* outage: what one host may spend on YouTube while the database is unreachable, kept outside it. */
#include "outage.h"
#include "conf.h"
#include "log.h"
#include "quota.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define MINUTE_MS 60000LL

static struct outage_bucket *bucket_of(struct outage *o, const char *name)
{
    size_t n = sizeof o->bucket / sizeof o->bucket[0];
    for (size_t i = 0; i < n; i++)
        if (strcmp(o->bucket[i].name, name) == 0)
            return &o->bucket[i];
    for (size_t i = 0; i < n; i++)
        if (!o->bucket[i].name[0]) {
            util_copy(o->bucket[i].name, sizeof o->bucket[i].name, name);
            return &o->bucket[i];
        }
    return NULL;    /* more buckets than the config can have: refused below */
}

/* The client's entry, made if need be: a free or expired one, else the oldest. */
static struct outage_client *client_of(struct outage *o, const char *id, long long now_ms, long long window_ms,
                                       int make)
{
    struct outage_client *oldest = &o->client[0];
    for (size_t i = 0; i < OUTAGE_CLIENTS; i++)
        if (strcmp(o->client[i].id, id) == 0)
            return &o->client[i];
    if (!make)
        return NULL;
    for (size_t i = 0; i < OUTAGE_CLIENTS; i++) {
        struct outage_client *e = &o->client[i];
        if (!e->id[0] || now_ms - e->window_ms >= window_ms) {
            oldest = e;
            break;
        }
        if (e->window_ms < oldest->window_ms)
            oldest = e;
    }
    util_copy(oldest->id, sizeof oldest->id, id);
    oldest->window_ms = now_ms;
    oldest->spent = 0;
    return oldest;
}

static void client_key(char *out, size_t outlen, const char *client, const char *bucket)
{
    snprintf(out, outlen, "%s|%s", client ? client : "", bucket);
}

static long secs_left(long long since_ms, long long span_ms, long long now_ms)
{
    long long left = since_ms + span_ms - now_ms;
    return left <= 0 ? 1 : (long)((left + 999) / 1000);
}

enum outage_verdict outage_take(struct outage *o, const struct conf *c, const char *client, const char *bucket,
                                long units, long long now_ms, long *retry_after)
{
    struct outage_bucket *b = bucket_of(o, bucket);
    long budget = conf_outage_units(c, bucket);
    if (b && now_ms - b->minute_ms >= MINUTE_MS) {
        b->minute_ms = now_ms;
        b->spent = 0;
    }
    if (!b || b->spent + units > budget) {
        *retry_after = b && budget > 0 ? secs_left(b->minute_ms, MINUTE_MS, now_ms) : 60;
        return OUTAGE_PROCESS;
    }
    long burst = 0, limit = conf_client_units(c, bucket, &burst);
    if (limit > 0 && client) {
        char id[sizeof o->client[0].id];
        long long window_ms = (long long)c->client_window * 1000;
        client_key(id, sizeof id, client, bucket);
        struct outage_client *e = client_of(o, id, now_ms, window_ms, 1);
        if (now_ms - e->window_ms >= window_ms) {
            e->window_ms = now_ms;
            e->spent = 0;
        }
        if (e->spent + units > (burst > limit ? burst : limit)) {
            *retry_after = secs_left(e->window_ms, window_ms, now_ms);
            return OUTAGE_CLIENT;
        }
        e->spent += units;
    }
    b->spent += units;
    return OUTAGE_OK;
}

void outage_unspend(struct outage *o, const struct conf *c, const char *client, const char *bucket, long units)
{
    struct outage_bucket *b = bucket_of(o, bucket);
    if (b)
        b->spent = b->spent > units ? b->spent - units : 0;
    long burst = 0;
    if (client && conf_client_units(c, bucket, &burst) > 0) {
        char id[sizeof o->client[0].id];
        client_key(id, sizeof id, client, bucket);
        struct outage_client *e = client_of(o, id, 0, 0, 0);
        if (e)
            e->spent = e->spent > units ? e->spent - units : 0;
    }
}

void outage_spent(struct outage *o, const char *fp, const char *bucket, long units, const char *day)
{
    for (size_t i = 0; i < o->n_tallies; i++) {
        struct outage_tally *t = &o->tally[i];
        if (strcmp(t->fingerprint, fp) == 0 && strcmp(t->bucket, bucket) == 0 && strcmp(t->day, day) == 0) {
            t->units += units;
            t->calls++;
            return;
        }
    }
    if (o->n_tallies == OUTAGE_TALLIES) {
        o->lost_units += units;     /* only with more keys x buckets x days than slots */
        return;
    }
    struct outage_tally *t = &o->tally[o->n_tallies++];
    util_copy(t->fingerprint, sizeof t->fingerprint, fp);
    util_copy(t->bucket, sizeof t->bucket, bucket);
    util_copy(t->day, sizeof t->day, day);
    t->units = units;
    t->calls = 1;
}

size_t outage_take_tallies(struct outage *o, struct outage_tally *out, long *lost)
{
    size_t n = o->n_tallies;
    memcpy(out, o->tally, n * sizeof *out);
    *lost = o->lost_units;
    o->n_tallies = 0;
    o->lost_units = 0;
    return n;
}

void outage_give_back(struct outage *o, const struct outage_tally *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* outage_spent counts one call per use: add the rest by hand */
        outage_spent(o, t[i].fingerprint, t[i].bucket, t[i].units, t[i].day);
        for (size_t j = 0; j < o->n_tallies; j++) {
            struct outage_tally *u = &o->tally[j];
            if (strcmp(u->fingerprint, t[i].fingerprint) == 0 && strcmp(u->bucket, t[i].bucket) == 0 &&
                strcmp(u->day, t[i].day) == 0)
                u->calls += t[i].calls - 1;
        }
    }
}

int outage_flush(struct db *d, const struct outage_tally *t, size_t n, long lost, size_t *done, char *err,
                 size_t errlen)
{
    long units = 0, calls = 0;
    for (*done = 0; *done < n; (*done)++) {
        const struct outage_tally *x = &t[*done];
        int found = quota_add_usage(d, x->fingerprint, x->bucket, x->day, x->units, x->calls, err, errlen);
        if (found < 0)
            return -1;
        if (found == 0)
            log_msg(YLOG_WARN, "%ld units spent during the database outage on a key no longer in the pool"
                    " are not counted", x->units);
        units += x->units;
        calls += x->calls;
    }
    if (lost)
        log_msg(YLOG_WARN, "%ld units spent during the database outage could not be remembered", lost);
    log_msg(YLOG_INFO, "database back: %ld calls (%ld units) made during the outage added to the key usage",
            calls, units);
    return 0;
}
