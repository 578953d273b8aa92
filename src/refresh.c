/* refresh: one ytcache-refresh run: trending pre-warm, refresh-ahead of hot entries, housekeeping. */
#include "refresh.h"
#include "cache.h"
#include "canon.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "proxy.h"
#include "util.h"
#include "websub.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define RUN_LOCK "ytcache-refresh"
#define MAX_CANDIDATES 500       /* spliced into load_candidates' LIMIT */

struct run {
    struct proxy *p;
    const struct conf *c;
    const struct refresh_opts *o;
    FILE *out;
    long units;                  /* spent this run */
    int upstream_failed;
    int quota_short;
    int db_failed;
};

/* Out of this run's budget for one more call of `cost` units? */
static int over_budget(const struct run *r, long cost)
{
    return r->units + cost > r->c->refresh_run_budget;
}

/* The body's nextPageToken, copied into out; "" if none. */
static void next_page(const char *body, size_t len, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!body || !len)
        return;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return;
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    json_object *v;
    if (root && json_object_object_get_ex(root, "nextPageToken", &v) && json_object_is_type(v, json_type_string))
        util_copy(out, outlen, json_object_get_string(v));
    json_object_put(root);
    json_tokener_free(tok);
}

/* Tally one refresh outcome; 0 to go on, -1 to stop the run. */
static int tally(struct run *r, int rc, const struct proxy_refresh_info *info, long *fetched, long *skipped,
                 const char *what)
{
    r->units += info->units;
    switch (rc) {
    case PROXY_REFRESH_FETCHED:
    case PROXY_REFRESH_DUE:
        (*fetched)++;
        return 0;
    case PROXY_REFRESH_FRESH:
    case PROXY_REFRESH_BUSY:
        (*skipped)++;
        return 0;
    case PROXY_REFRESH_NO_QUOTA:
        r->quota_short = 1;
        fprintf(stderr, "ytcache-refresh: %s: no quota left\n", what);
        return 0;
    case PROXY_REFRESH_FAILED:
        r->upstream_failed = 1;
        fprintf(stderr, "ytcache-refresh: %s: upstream failed (%s, HTTP %ld)\n", what, info->detail, info->status);
        return 0;
    case PROXY_REFRESH_INVALID:
        fprintf(stderr, "ytcache-refresh: %s: invalid request: %s\n", what, info->detail);
        r->upstream_failed = 1;
        return 0;
    default:
        r->db_failed = 1;
        fprintf(stderr, "ytcache-refresh: %s: database error: %s\n", what, info->detail);
        return -1;
    }
}

/* Refresh one request if it is due and the run's budget has room for it
 * (the budget is only checked when a call would be made): a
 * PROXY_REFRESH_* status, or -1 when the budget ends this part of the run. */
static int refresh_due(struct run *r, const char *resource, const char *qs, unsigned flags,
                       struct proxy_refresh_info *info)
{
    long within = r->c->refresh_interval;
    int rc = proxy_refresh(r->p, resource, qs, within, flags | PROXY_RF_DRY_RUN, info);
    if (rc != PROXY_REFRESH_DUE || r->o->dry_run)
        return rc;
    if (over_budget(r, info->cost))
        return -1;
    return proxy_refresh(r->p, resource, qs, within, flags, info);
}

/* Trending lists per region (and category), following pages. */
static int warm_trending(struct run *r)
{
    const struct conf *c = r->c;
    size_t ncat = c->n_refresh_categories ? c->n_refresh_categories : 1;
    for (size_t i = 0; i < c->n_refresh_regions; i++) {
        const char *region = c->refresh_regions[i];
        long fetched = 0, skipped = 0, units_before = r->units;
        for (size_t k = 0; k < ncat; k++) {
            const char *cat = c->n_refresh_categories ? c->refresh_categories[k] : NULL;
            char token[256] = "";
            for (long page = 0; page < c->refresh_pages; page++) {
                if (page > 0 && !token[0])
                    break;
                buf_t qs = { 0 };
                buf_appendf(&qs, "chart=mostPopular&maxResults=%ld&part=", c->refresh_max_results);
                canon_append_encoded(&qs, c->refresh_part);
                buf_appends(&qs, "&regionCode=");
                canon_append_encoded(&qs, region);
                if (cat) {
                    buf_appends(&qs, "&videoCategoryId=");
                    canon_append_encoded(&qs, cat);
                }
                if (token[0]) {
                    buf_appends(&qs, "&pageToken=");
                    canon_append_encoded(&qs, token);
                }
                struct proxy_refresh_info info;
                char what[96];
                snprintf(what, sizeof what, "trending %s%s%s page %ld", region, cat ? " category " : "", cat ? cat : "",
                         page + 1);
                int rc = refresh_due(r, "videos", qs.data ? qs.data : "", PROXY_RF_RESERVE, &info);
                buf_free(&qs);
                if (rc < 0) {
                    if (r->o->verbose)
                        fprintf(r->out, "%s: run budget of %ld units reached\n", what, c->refresh_run_budget);
                    return 0;
                }
                if (tally(r, rc, &info, &fetched, &skipped, what) < 0)
                    return -1;
                next_page(info.body, info.len, token, sizeof token);
                if (rc != PROXY_REFRESH_FETCHED && rc != PROXY_REFRESH_FRESH)
                    break;
            }
        }
        if (r->o->verbose)
            fprintf(r->out, "trending %s: %s %ld, skipped %ld, units %ld\n", region,
                    r->o->dry_run ? "would fetch" : "fetched", fetched, skipped, r->units - units_before);
    }
    return 0;
}

/* A stored row clients use that expires soon: a refresh-ahead candidate. */
struct candidate {
    char *request;
    long hits;
};

static int load_candidates(struct run *r, struct candidate *cand, size_t *n)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT request, recent_hits FROM cache"
        " WHERE recent_hits >= ? AND expires_at < UTC_TIMESTAMP() + INTERVAL ? SECOND"
        " AND apikey = 'pool' AND status = 200"
        " ORDER BY recent_hits DESC LIMIT " UTIL_STR(MAX_CANDIDATES));
    char err[UTIL_ERRLEN];
    *n = 0;
    struct db *d = proxy_db(r->p);
    long long threshold = r->c->refresh_hot_hits, within = r->c->refresh_interval;
    MYSQL_BIND p[2];
    db_bind_long(&p[0], &threshold);
    db_bind_long(&p[1], &within);
    char req[8192];
    unsigned long rlen = 0;
    long long hits = 0;
    my_bool nl[2] = { 0 };
    MYSQL_BIND res[2];
    db_bind_out_str(&res[0], req, sizeof req - 1, &rlen, &nl[0]);
    db_bind_out_long(&res[1], &hits, &nl[1]);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &sql, p, res, err, sizeof err) < 0) {
        fprintf(stderr, "ytcache-refresh: hot entries: %s\n", err);
        return -1;
    }
    int f;
    while ((f = db_rows_next(&rs)) == DB_ROW || f == DB_ROW_TRUNCATED) {
        if (f == DB_ROW_TRUNCATED || *n >= MAX_CANDIDATES)
            continue;      /* a request this large is not one we made */
        cand[*n].request = util_strndup(req, rlen);
        cand[*n].hits = (long)hits;
        if (cand[*n].request)
            (*n)++;
    }
    db_rows_end(&rs);
    return 0;
}

/* The query string of a stored request JSON; 0 / -1. */
static int request_query(const char *json, char *resource, size_t rlen, buf_t *qs)
{
    json_object *root = json_tokener_parse(json), *ep, *params;
    int rc = -1;
    if (root && json_object_object_get_ex(root, "endpoint", &ep) && json_object_is_type(ep, json_type_string) &&
        json_object_object_get_ex(root, "params", &params) && json_object_is_type(params, json_type_object) &&
        util_copy(resource, rlen, json_object_get_string(ep)) == 0) {
        rc = 0;
        json_object_object_foreach(params, k, v) {
            if (!json_object_is_type(v, json_type_string)) {
                rc = -1;
                break;
            }
            if ((qs->len && buf_append(qs, "&", 1) < 0) || canon_append_encoded(qs, k) < 0 ||
                buf_append(qs, "=", 1) < 0 || canon_append_encoded(qs, json_object_get_string(v)) < 0) {
                rc = -1;
                break;
            }
        }
    }
    json_object_put(root);
    return rc;
}

/* Entries clients use, fetched before they expire, most used first. They
 * never dip into the bucket's reserve. */
static int refresh_ahead(struct run *r)
{
    struct candidate *cand = calloc(MAX_CANDIDATES, sizeof *cand);
    size_t n = 0;
    long fetched = 0, skipped = 0, units_before = r->units;
    int rc = 0;
    if (!cand || load_candidates(r, cand, &n) < 0) {
        free(cand);
        r->db_failed = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char resource[32];
        buf_t qs = { 0 };
        if (request_query(cand[i].request, resource, sizeof resource, &qs) < 0) {
            buf_free(&qs);
            continue;
        }
        struct proxy_refresh_info info;
        char what[64];
        snprintf(what, sizeof what, "hot %s entry (%ld hits)", resource, cand[i].hits);
        /* never the bucket's reserve: no PROXY_RF_RESERVE */
        int pr = refresh_due(r, resource, qs.data ? qs.data : "", 0, &info);
        buf_free(&qs);
        if (pr < 0) {
            if (r->o->verbose)
                fprintf(r->out, "refresh-ahead: run budget of %ld units reached\n", r->c->refresh_run_budget);
            break;
        }
        if (tally(r, pr, &info, &fetched, &skipped, what) < 0) {
            rc = -1;
            break;
        }
    }
    if (r->o->verbose)
        fprintf(r->out, "refresh-ahead: %zu hot, %s %ld, skipped %ld, units %ld\n", n,
                r->o->dry_run ? "would fetch" : "fetched", fetched, skipped, r->units - units_before);
    for (size_t i = 0; i < n; i++)
        free(cand[i].request);
    free(cand);
    return rc;
}

/* Delete in bounded batches so no statement holds locks for long. */
static long long purge_batches(struct run *r, const char *what, const struct db_stmt *s, long long arg)
{
    char err[UTIL_ERRLEN];
    long long total = 0;
    struct db *d = proxy_db(r->p);
    for (;;) {
        if (db_connect(d, err, sizeof err) < 0)
            break;
        long long batch = r->c->refresh_purge_batch;
        MYSQL_BIND p[2];
        db_bind_long(&p[0], &arg);
        db_bind_long(&p[1], &batch);
        unsigned long long affected = 0;
        if (db_run_affected(d, s, p, &affected, err, sizeof err) < 0) {
            fprintf(stderr, "ytcache-refresh: purging %s: %s\n", what, err);
            r->db_failed = 1;
            return -1;
        }
        long long n = (long long)affected;
        total += n;
        if (n < batch)
            break;
    }
    return total;
}

/* Count the table exactly (what purges, expiry and races changed), then
 * evict the least recently hit rows in batches until it is within its bound. */
static void keep_bound(struct run *r)
{
    char err[UTIL_ERRLEN];
    struct db *d = proxy_db(r->p);
    const struct conf *c = r->c;
    long long evicted = 0, n = 0;
    if (cache_usage_recount(d, err, sizeof err) < 0) {
        fprintf(stderr, "ytcache-refresh: counting the cache table: %s\n", err);
        r->db_failed = 1;
        return;
    }
    if (c->cache_max_rows > 0 || c->cache_max_bytes > 0)
        while ((n = cache_evict(d, c->cache_max_rows, c->cache_max_bytes, c->refresh_purge_batch, 1, NULL,
                                err, sizeof err)) > 0)
            evicted += n;
    if (n < 0) {
        fprintf(stderr, "ytcache-refresh: evicting: %s\n", err);
        r->db_failed = 1;
        return;
    }
    struct cache_usage u;
    if (r->o->verbose && cache_usage_read(d, &u, err, sizeof err) > 0)
        fprintf(r->out, "bound: %lld rows evicted; %lld rows (max_rows %ld), %lld bytes (max_bytes %ld)\n",
                evicted, u.rows, c->cache_max_rows, u.bytes, c->cache_max_bytes);
}

static void housekeeping(struct run *r)
{
    static const struct db_stmt sql_rows = DB_STMT(
        "DELETE FROM cache WHERE expires_at < UTC_TIMESTAMP() - INTERVAL ? SECOND"
        " OR fetched_at <= UTC_TIMESTAMP() - INTERVAL " UTIL_STR(UTIL_POLICY_MAX_AGE_DAYS) " DAY LIMIT ?");
    /* a client whose theoretical arrival time has passed has no state left */
    static const struct db_stmt sql_clients = DB_STMT(
        "DELETE FROM client_limits WHERE tat_us < CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED) - ? LIMIT ?");
    static const struct db_stmt sql_usage = DB_STMT(
        "DELETE FROM key_usage WHERE day < UTC_DATE() - INTERVAL ? DAY LIMIT ?");
    static const struct db_stmt sql_budgets = DB_STMT(
        "DELETE FROM budget_usage WHERE day < UTC_DATE() - INTERVAL ? DAY LIMIT ?");
    static const struct db_stmt sql_counters = DB_STMT(
        "DELETE FROM daily_counters WHERE day < UTC_DATE() - INTERVAL ? DAY LIMIT ?");
    if (r->o->dry_run)
        return;
    long long rows = purge_batches(r, "expired rows", &sql_rows, r->c->sie);
    long long clients = purge_batches(r, "client limits", &sql_clients, 0);
    long long usage = purge_batches(r, "old usage", &sql_usage, 90);
    purge_batches(r, "old budgets", &sql_budgets, 90);
    purge_batches(r, "old counters", &sql_counters, 400);
    if (!r->db_failed)
        keep_bound(r);
    if (r->o->verbose)
        fprintf(r->out, "housekeeping: %lld expired rows, %lld client-limit rows, %lld old usage rows deleted\n",
                rows < 0 ? 0 : rows, clients < 0 ? 0 : clients, usage < 0 ? 0 : usage);
    /* WebSub leases lapse silently: renew those ending before renew_before */
    char err[UTIL_ERRLEN];
    int renewed = websub_renew(proxy_db(r->p), r->c, r->c->websub_renew_before + r->c->refresh_interval,
                               err, sizeof err);
    if (renewed < 0) {
        fprintf(stderr, "ytcache-refresh: websub renewals: %s\n", err);
        r->db_failed = 1;
    } else if (r->o->verbose) {
        fprintf(r->out, "websub: %d subscriptions renewed\n", renewed);
    }
}

int refresh_run(struct proxy *p, const struct conf *c, const struct refresh_opts *o, FILE *out)
{
    char err[UTIL_ERRLEN];
    struct run r = { p, c, o, out, 0, 0, 0, 0 };
    int locked = cache_lock_named(proxy_db(p), RUN_LOCK, 0, err, sizeof err);
    if (locked < 0) {
        fprintf(stderr, "ytcache-refresh: database: %s\n", err);
        return REFRESH_EXIT_DB;
    }
    if (locked == 0) {
        if (o->verbose)
            fprintf(out, "another ytcache-refresh run is in progress; nothing to do\n");
        return REFRESH_OK;
    }
    if (warm_trending(&r) == 0 && !r.db_failed)
        refresh_ahead(&r);
    if (!r.db_failed)
        housekeeping(&r);
    proxy_flush(p);
    if (o->verbose)
        fprintf(out, "units spent this run: %ld (budget %ld)\n", r.units, c->refresh_run_budget);
    cache_unlock_named(proxy_db(p), RUN_LOCK, err, sizeof err);
    if (r.db_failed)
        return REFRESH_EXIT_DB;
    if (r.upstream_failed)
        return REFRESH_EXIT_UPSTREAM;
    if (r.quota_short)
        return REFRESH_EXIT_QUOTA;
    return REFRESH_OK;
}
