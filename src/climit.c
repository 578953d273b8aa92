/* climit: per-client limits on quota spending (GCRA, one row per client in the database). */
#include "climit.h"
#include "conf.h"
#include "db.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* GCRA: a client has a theoretical arrival time (TAT); a call of cost u
 * moves it to max(TAT, now) + u*T and is allowed while that stays within
 * the burst tolerance of now. No window, so no boundary burst; one atomic
 * statement per miss. The database clock is used so every host agrees. */
#define NOW_US "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)"
static const struct db_stmt SQL_TAKE = DB_STMT(
    "UPDATE client_limits SET tat_us = GREATEST(tat_us, " NOW_US ") + ?"
    " WHERE client = ? AND GREATEST(tat_us, " NOW_US ") + ? - " NOW_US " <= ?");
static const struct db_stmt SQL_NEW = DB_STMT("INSERT IGNORE INTO client_limits (client, tat_us) VALUES (?, " NOW_US ")");
static const struct db_stmt SQL_TAT = DB_STMT("SELECT GREATEST(tat_us, " NOW_US ") - " NOW_US " FROM client_limits WHERE client = ?");

static int valid_addr(const char *s, size_t n)
{
    if (n == 0 || n > 45)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF.:", s[i]))
            return 0;
    return 1;
}

void climit_client_id(const struct conf *c, const char *remote_addr, const char *xff, char *out, size_t outlen)
{
    const char *ra = remote_addr && *remote_addr ? remote_addr : "unknown";
    snprintf(out, outlen, "%s", valid_addr(ra, strlen(ra)) ? ra : "unknown");
    if (c->trust_forwarded <= 0 || !xff || !*xff)
        return;
    /* walk the list from the right: hop 1 is the last entry */
    const char *end = xff + strlen(xff);
    long hop = 0;
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *s = start, *e = end;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        hop++;
        if (valid_addr(s, (size_t)(e - s))) {
            snprintf(out, outlen, "%.*s", (int)(e - s), s);
            if (hop >= c->trust_forwarded)
                return;
        } else {
            return;     /* a malformed hop: trust nothing further left */
        }
        end = start > xff ? start - 1 : xff;
    }
}

int climit_take(struct db *d, const struct conf *c, const char *client, long units, long *retry_after,
                char *err, size_t errlen)
{
    *retry_after = 0;
    if (c->client_units <= 0)
        return 1;
    long long t_us = (long long)c->client_window * 1000000LL / c->client_units;   /* per unit */
    long long burst = c->client_burst > 0 ? c->client_burst : c->client_units;
    long long inc = t_us * units, tau = t_us * burst;
    if (inc > tau) {
        *retry_after = c->client_window;
        return 0;
    }
    unsigned long clen = strlen(client);
    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL_BIND p[4];
        unsigned long long affected = 0;
        db_bind_long(&p[0], &inc);
        db_bind_str(&p[1], client, &clen);
        db_bind_long(&p[2], &inc);
        db_bind_long(&p[3], &tau);
        if (db_run_affected(d, &SQL_TAKE, p, &affected, err, errlen) < 0)
            return -1;
        if (affected == 1)
            return 1;
        if (attempt == 1)
            break;
        MYSQL_BIND q[1];
        db_bind_str(&q[0], client, &clen);
        if (db_run_affected(d, &SQL_NEW, q, &affected, err, errlen) < 0)
            return -1;
    }
    /* over: the call fits again when max(TAT, now) + inc - tau <= now */
    MYSQL_BIND q[1], r[1];
    long long ahead = 0;
    my_bool isnull = 0;
    int has_row = 0;
    db_bind_str(&q[0], client, &clen);
    db_bind_out_long(&r[0], &ahead, &isnull);
    if (db_row(d, &SQL_TAT, q, r, &has_row, err, errlen) < 0)
        return -1;
    long long wait_us = ahead + inc - tau;
    *retry_after = wait_us <= 0 ? 1 : (long)((wait_us + 999999) / 1000000);
    return 0;
}

void climit_refund(struct db *d, const struct conf *c, const char *client, long units)
{
    static const struct db_stmt sql = DB_STMT("UPDATE client_limits SET tat_us = tat_us - ? WHERE client = ?");
    char err[UTIL_ERRLEN];
    if (c->client_units <= 0)
        return;
    long long inc = (long long)c->client_window * 1000000LL / c->client_units * units;
    unsigned long clen = strlen(client);
    MYSQL_BIND p[2];
    db_bind_long(&p[0], &inc);
    db_bind_str(&p[1], client, &clen);
    db_run(d, &sql, p, err, sizeof err);
}
