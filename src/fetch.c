/* fetch: one upstream fetch through client limit, breaker, quota reservation, the call and its settlement. */
#include "fetch.h"
#include "db.h"
#include "breaker.h"
#include "canon.h"
#include "climit.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "outage.h"
#include "quota.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void settle_outage(struct fetcher *f);

int fetch_open(struct fetcher *f, const struct conf *c, struct db *d, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->conf = c;
    f->db = d;
    return upstream_open(&f->up, c, err, errlen);
}

void fetch_close(struct fetcher *f)
{
    if (metrics_outage_pending() && db_connected(f->db))
        settle_outage(f);
    upstream_close(&f->up);
}

/* 1 if a body contains the key it was fetched with or a configured key:
 * such a body is never passed on or stored. */
static int leaks_key(const struct conf *c, const char *used, const char *body, size_t len)
{
    size_t kl = used ? strlen(used) : 0;
    if (kl >= 8 && len >= kl && memmem(body, len, used, kl))
        return 1;
    for (size_t i = 0; i < c->n_keys; i++) {
        kl = strlen(c->keys[i]);
        if (kl && len >= kl && memmem(body, len, c->keys[i], kl))
            return 1;
    }
    return 0;
}

/* An outcome stored as our own error body (too large, key echo): the body
 * and status become that error, which is what is stored and answered; Google's
 * bytes are never kept. */
static void our_body(struct up_result *up)
{
    const struct up_outcome *o = up_outcome(up->cls);
    if (!o->our_body)
        return;
    struct yerr e;
    yerr_set(&e, o->status, o->reason, "", "%s", o->message);
    buf_reset(&up->body);
    up->etag[0] = '\0';
    up->status = o->status;
    if (http_error_json(&up->body, &e) < 0) {
        /* nothing valid to store: an unusable answer, told but not kept */
        buf_reset(&up->body);
        up->cls = UP_BAD_BODY;
    }
}

/* One call with a given key; the access-style log line names the key by
 * its label, never by its value. */
static void call_upstream(struct fetcher *f, struct fetch_req *q, const char *key, const char *label)
{
    struct up_result *up = q->up;
    const char *query = q->canon->query.data ? q->canon->query.data : "";
    upstream_fetch(f->up, q->canon->resource, query, key, up);
    if (up_outcome(up->cls)->settle != UP_SETTLE_REFUND)
        q->calls++;     /* reached Google, which charged it */
    if (up->body.len && leaks_key(f->conf, q->upstream_key ? NULL : key, up->body.data, up->body.len)) {
        log_msg(YLOG_ERROR, "upstream answer for %s contained a server key; dropped", q->canon->resource);
        up->cls = UP_KEY_ECHO;
        explicit_bzero(up->body.data, up->body.len);
        buf_reset(&up->body);
    }
    metrics_upstream(up->cls, up->seconds);
    log_msg(YLOG_INFO, "upstream %s?%s status=%ld class=%s reason=%s time=%.3fs key=%s cost=%ld",
            q->canon->resource, query, up->status, up_outcome(up->cls)->name, up->reason[0] ? up->reason : "-",
            up->seconds, label, q->cost);
    our_body(up);
}

/* retry_after: what the deciding module knows (the breaker's cool-down, the
 * client's window), 0 for the outcome's own default. */
static void decided(struct fetch_req *q, enum up_class cls, long retry_after)
{
    metrics_upstream(cls, 0);
    q->up->cls = cls;
    q->up->status = 0;
    buf_reset(&q->up->body);
    q->retry_after = retry_after;
}

/* Without the database there is no accounting (db_outage = error avoids
 * this): this host spends at most its outage budget per minute, each
 * client at most its own limit, kept outside the database (metrics.h) and
 * added to the usage rows when it answers again. Keys are taken as the
 * pool would: the primary first, the next only for a key problem (or on
 * quota when rotate_on_quota is on), each attempt paid from the budget. */
static void fetch_unaccounted(struct fetcher *f, struct fetch_req *q)
{
    const struct conf *c = f->conf;
    if (c->n_keys == 0) {
        decided(q, UP_DB_ERROR, db_retry_after(c));
        return;
    }
    const char *bucket = q->bucket ? q->bucket : "default", *client = q->refresher ? NULL : q->client;
    char day[11];
    util_pacific_date(time(NULL), day);
    size_t first = c->rotate_on_quota ? f->key_next++ : 0;
    for (size_t i = 0; i < c->n_keys; i++) {
        long wait = 0;
        enum outage_verdict v = outage_take(metrics_outage_lock(), c, client, bucket, q->cost, util_now_ms(), &wait);
        metrics_outage_unlock();
        if (v != OUTAGE_OK) {
            if (i == 0) {
                log_burst(LOG_SLOT_UPSTREAM, 10, YLOG_WARN, "database unavailable: %s", v == OUTAGE_CLIENT
                          ? "a client is over its limit (kept outside the database meanwhile)"
                          : "this host's budget of calls without accounting is spent for this minute");
                decided(q, v == OUTAGE_CLIENT ? UP_CLIENT_LIMIT : UP_OUTAGE_BUDGET, wait);
            }
            return;
        }
        size_t slot = (first + i) % c->n_keys;
        char label[32], fp[17];
        snprintf(label, sizeof label, "config#%zu", slot + 1);
        long before = q->calls;
        call_upstream(f, q, c->keys[slot], label);
        quota_fingerprint(c->keys[slot], fp);
        struct outage *o = metrics_outage_lock();
        if (q->calls > before)
            outage_spent(o, fp, bucket, q->cost, day);
        else
            outage_unspend(o, c, client, bucket, q->cost);
        metrics_outage_unlock();
        const struct up_outcome *oc = up_outcome(q->up->cls);
        if (!oc->key_problem || (oc->settle == UP_SETTLE_EXHAUST && !c->rotate_on_quota))
            break;
    }
}

/* The database answers again: what the outage spent goes into the usage
 * rows, taken out of the shared state first so that no lock is held while
 * the database is asked, and given back if it cannot all be added. */
static void settle_outage(struct fetcher *f)
{
    char err[UTIL_ERRLEN];
    if (!f->keys_synced) {
        if (quota_sync_keys(f->db, f->conf, err, sizeof err) < 0) {
            log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot synchronise keys: %s", err);
            return;
        }
        f->keys_synced = 1;
    }
    struct outage_tally t[OUTAGE_TALLIES];
    long lost = 0;
    size_t done = 0, n = outage_take_tallies(metrics_outage_lock(), t, &lost);
    metrics_outage_unlock();
    if (outage_flush(f->db, t, n, lost, &done, err, sizeof err) < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot add the outage's calls to the key usage yet: %s", err);
        outage_give_back(metrics_outage_lock(), t + done, n - done);
        metrics_outage_unlock();
    }
}

/* Nothing to spend on the first attempt: never call upstream in this state. */
static void no_grant(struct fetcher *f, struct fetch_req *q, enum quota_status qs)
{
    char err[UTIL_ERRLEN];
    long long nkeys = 0, nactive = 0;
    if (qs == QUOTA_EXHAUSTED && quota_pool_count(f->db, &nkeys, &nactive, err, sizeof err) == 0 && nactive == 0) {
        /* the fix differs: add a key, or enable one that is there */
        if (nkeys == 0)
            log_burst(LOG_SLOT_UPSTREAM, 60, YLOG_ERROR,
                      "the key pool is empty: set [upstream] keys or use ytcachectl keys add");
        else if (nkeys == 1)
            log_burst(LOG_SLOT_UPSTREAM, 60, YLOG_ERROR,
                      "the only key of the pool is disabled: ytcachectl keys list shows why, "
                      "ytcachectl keys enable LABEL puts it back in use");
        else
            log_burst(LOG_SLOT_UPSTREAM, 60, YLOG_ERROR,
                      "all %lld keys of the pool are disabled: ytcachectl keys list shows why, "
                      "ytcachectl keys enable LABEL puts one back in use", nkeys);
        decided(q, UP_NO_KEY, 0);
        return;
    }
    log_msg(YLOG_WARN, "no quota for %s (%s)", q->canon->resource,
            qs == QUOTA_OVER_BUDGET ? "region budget spent" : "all keys exhausted");
    decided(q, qs == QUOTA_OVER_BUDGET ? UP_OVER_BUDGET : UP_NO_QUOTA, 0);
}

/* Reserve, call, settle; on a key-level failure the same request moves on
 * to the next key, so the client never sees Google's 403 while a key has
 * room. Every outcome is decided before answering. */
static void fetch_pooled(struct fetcher *f, struct fetch_req *q)
{
    const struct conf *c = f->conf;
    char err[UTIL_ERRLEN];
    if (!f->keys_synced) {
        if (quota_sync_keys(f->db, c, err, sizeof err) < 0)
            log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "cannot synchronise keys: %s", err);
        f->keys_synced = 1;
    }
    const char *region = canon_get(q->canon, "regionCode");
    if (!region)
        region = canon_get(q->canon, "relevanceLanguage");
    long tried[1 + CONF_MAX_LIST];
    for (int attempt = 0; attempt < 1 + CONF_MAX_LIST; attempt++) {
        struct quota_grant g;
        enum quota_status qs = quota_reserve(f->db, c, q->canon->resource, region, q->use_reserve, &g, err, sizeof err);
        if (qs == QUOTA_ERROR) {
            log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "quota accounting unavailable: %s", err);
            /* A reservation that lost a race (a deadlock or Galera
             * certification conflict that outlived its retries, a lock wait
             * timeout) is no outage: the others are reserving, and a call
             * without accounting would overspend what they reserved. */
            if (db_conflict(f->db))
                decided(q, UP_DB_ERROR, db_retry_after(c));
            else
                fetch_unaccounted(f, q);
            return;
        }
        if (qs != QUOTA_GRANTED) {
            /* if keys were tried for this request, their last answer tells why */
            if (attempt == 0)
                no_grant(f, q, qs);
            return;
        }
        /* each key at most once per request (a rate-limited key stays in the pool) */
        int again = 0;
        for (int i = 0; i < attempt; i++)
            again |= tried[i] == g.key_id;
        if (again) {
            quota_release(f->db, &g);
            memset(g.secret, 0, sizeof g.secret);
            return;
        }
        tried[attempt] = g.key_id;
        call_upstream(f, q, g.secret, g.label);
        int next = quota_settle(f->db, c, &g, q->up->cls, q->up->reason);
        memset(g.secret, 0, sizeof g.secret);
        if (!next)
            return;
    }
}

void fetch_run(struct fetcher *f, struct fetch_req *q, int db_ok)
{
    const struct conf *c = f->conf;
    char err[UTIL_ERRLEN];
    q->up->cls = UP_TRANSPORT;
    if (!db_ok) {
        if (q->upstream_key)
            call_upstream(f, q, q->upstream_key, "client");
        else
            fetch_unaccounted(f, q);
        return;
    }
    if (metrics_outage_pending())
        settle_outage(f);
    /* the client's limit first: a refused client must not take the breaker's probe */
    long wait = 0;
    int allowed = q->refresher ? 1 : climit_take(f->db, c, q->client, q->bucket, q->cost, &wait, err, sizeof err);
    if (allowed < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "client limit unavailable: %s", err);
    if (allowed == 0) {
        log_msg(YLOG_INFO, "client %s over its quota limit; retry in %ld s", q->client, wait);
        decided(q, UP_CLIENT_LIMIT, wait);
        return;
    }
    struct breaker_ticket t;
    if (!breaker_allow(f->db, c, &t, &wait)) {
        decided(q, UP_BREAKER_OPEN, wait);
    } else {
        if (q->upstream_key)
            call_upstream(f, q, q->upstream_key, "client");
        else
            fetch_pooled(f, q);
        if (q->up->status || breaker_is_failure(q->up->cls))
            breaker_record(f->db, c, &t, q->up->cls);
        else
            breaker_release(f->db, &t);
    }
    /* a miss that cost no quota costs the client nothing */
    if (q->calls == 0 && !q->refresher)
        climit_refund(f->db, c, q->client, q->bucket, q->cost);
}
