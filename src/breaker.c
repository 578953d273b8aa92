/* breaker: the upstream circuit breaker, shared by all processes and hosts through the database. */
#include "breaker.h"
#include "conf.h"
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static const struct db_stmt SQL_READ = DB_STMT(
    "SELECT state, failures,"
    " COALESCE(TIMESTAMPDIFF(MICROSECOND, opened_at, NOW(3)) DIV 1000, 0),"
    " COALESCE(probe_until < NOW(3), 1)"
    " FROM breaker WHERE name = 'upstream'");
/* Claim the single half-open probe: after the cool-down from open, or when
 * the previous probe never reported back. */
static const struct db_stmt SQL_PROBE = DB_STMT(
    "UPDATE breaker SET state = 2, probe_until = NOW(3) + INTERVAL ? SECOND"
    " WHERE name = 'upstream' AND ((state = 1 AND opened_at <= NOW(3) - INTERVAL ? SECOND)"
    " OR (state = 2 AND probe_until < NOW(3)))");
static const struct db_stmt SQL_OK = DB_STMT(
    "UPDATE breaker SET state = 0, failures = 0, window_start = NULL, probe_until = NULL WHERE name = 'upstream'");
/* Assignments run left to right (MySQL; MariaDB without SIMULTANEOUS_ASSIGNMENT):
 * each IF sees the columns already updated to its left. */
static const struct db_stmt SQL_FAIL = DB_STMT(
    "UPDATE breaker SET"
    " failures = IF(window_start IS NOT NULL AND window_start > NOW(3) - INTERVAL ? SECOND, failures + 1, 1),"
    " window_start = IF(failures = 1, NOW(3), window_start),"
    " state = IF(state = 2 OR failures >= ?, 1, state),"
    " opened_at = IF(state = 1, NOW(3), opened_at),"
    " probe_until = IF(state = 1, NULL, probe_until)"
    " WHERE name = 'upstream'");

int breaker_is_failure(enum up_class cls)
{
    return up_outcome(cls)->breaker_failure;
}

int breaker_allow(struct db *d, const struct conf *c, struct breaker_ticket *t, long *retry_after)
{
    char err[UTIL_ERRLEN];
    MYSQL_BIND r[4];
    long long state = 0, failures = 0, open_ms = 0, probe_gone = 1;
    my_bool n[4] = { 0 };
    int has_row = 0;
    memset(t, 0, sizeof *t);
    *retry_after = 0;
    db_bind_out_long(&r[0], &state, &n[0]);
    db_bind_out_long(&r[1], &failures, &n[1]);
    db_bind_out_long(&r[2], &open_ms, &n[2]);
    db_bind_out_long(&r[3], &probe_gone, &n[3]);
    if (db_row(d, &SQL_READ, NULL, r, &has_row, err, sizeof err) < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "breaker: %s", err);
        return 1;
    }
    if (!has_row || state == 0) {
        t->failures_seen = (long)failures;
        return 1;
    }
    t->state_seen = (int)state;
    long cool_ms = c->breaker_cooldown * 1000;
    if (state == 1 && open_ms < cool_ms) {
        *retry_after = (cool_ms - open_ms + 999) / 1000;
        return 0;
    }
    if (state == 2 && !probe_gone) {
        *retry_after = 1;
        return 0;
    }
    MYSQL_BIND p[2];
    long long probe_s = c->timeout_ms / 1000 + 5, cool_s = c->breaker_cooldown;
    unsigned long long affected = 0;
    db_bind_long(&p[0], &probe_s);
    db_bind_long(&p[1], &cool_s);
    if (db_run_affected(d, &SQL_PROBE, p, &affected, err, sizeof err) < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "breaker: %s", err);
        return 1;
    }
    if (affected != 1) {
        *retry_after = 1;
        return 0;
    }
    t->probe = 1;
    log_msg(YLOG_INFO, "breaker half-open: letting one probe through");
    return 1;
}

void breaker_record(struct db *d, const struct conf *c, const struct breaker_ticket *t, enum up_class cls)
{
    char err[UTIL_ERRLEN];
    if (!breaker_is_failure(cls)) {
        /* success (or an answer that proves Google is up): close if not closed */
        if (t->state_seen == 0 && t->failures_seen == 0 && !t->probe)
            return;
        if (db_run(d, &SQL_OK, NULL, err, sizeof err) < 0)
            log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "breaker: %s", err);
        else if (t->state_seen != 0 || t->probe)
            log_msg(YLOG_INFO, "breaker closed: upstream answered");
        return;
    }
    MYSQL_BIND p[2];
    long long window = c->breaker_window, threshold = c->breaker_failures;
    db_bind_long(&p[0], &window);
    db_bind_long(&p[1], &threshold);
    if (db_run(d, &SQL_FAIL, p, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "breaker: %s", err);
    else if (t->probe || t->failures_seen + 1 >= c->breaker_failures)
        log_burst(LOG_SLOT_UPSTREAM, 10, YLOG_WARN, "breaker open: upstream failing (%s)", up_outcome(cls)->name);
}

int breaker_read(struct db *d, int *state, long *failures, char *err, size_t errlen)
{
    MYSQL_BIND r[4];
    long long st = 0, f = 0, open_ms = 0, probe_gone = 1;
    my_bool n[4] = { 0 };
    int has_row = 0;
    db_bind_out_long(&r[0], &st, &n[0]);
    db_bind_out_long(&r[1], &f, &n[1]);
    db_bind_out_long(&r[2], &open_ms, &n[2]);
    db_bind_out_long(&r[3], &probe_gone, &n[3]);
    if (db_row(d, &SQL_READ, NULL, r, &has_row, err, errlen) < 0)
        return -1;
    *state = has_row ? (int)st : 0;
    *failures = has_row ? (long)f : 0;
    return 0;
}

void breaker_release(struct db *d, const struct breaker_ticket *t)
{
    static const struct db_stmt sql = DB_STMT(
        "UPDATE breaker SET state = 1, probe_until = NULL WHERE name = 'upstream' AND state = 2");
    char err[UTIL_ERRLEN];
    if (!t->probe)
        return;
    /* opened_at is unchanged, so the next miss may take the probe at once */
    if (db_run(d, &sql, NULL, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "breaker: %s", err);
}
