/* climit: per-client limits on quota spending (GCRA, one row per client and bucket in the database). */
#include "climit.h"
#include "conf.h"
#include "db.h"
#include "util.h"

#include <arpa/inet.h>
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
static const struct db_stmt SQL_NEW = DB_STMT(
    "INSERT IGNORE INTO client_limits (client, tat_us) VALUES (?, " NOW_US ")");
static const struct db_stmt SQL_TAT = DB_STMT(
    "SELECT GREATEST(tat_us, " NOW_US ") - " NOW_US " FROM client_limits WHERE client = ?");

static int in_net(const unsigned char a[16], const struct conf_net *n)
{
    int whole = n->bits / 8, rest = n->bits % 8;
    if (memcmp(a, n->addr, (size_t)whole) != 0)
        return 0;
    return rest == 0 || ((a[whole] ^ n->addr[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

static int trusted(const struct conf *c, const unsigned char a[16])
{
    for (size_t i = 0; i < c->n_trusted_proxies; i++)
        if (in_net(a, &c->trusted_proxies[i]))
            return 1;
    return 0;
}

/* One canonical spelling per identity, whatever form the address came in. */
static void format_id(const struct conf *c, const unsigned char a[16], char *out, size_t outlen)
{
    static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
    char t[INET6_ADDRSTRLEN];
    if (memcmp(a, mapped, sizeof mapped) == 0) {
        if (inet_ntop(AF_INET, a + 12, t, sizeof t))
            snprintf(out, outlen, "%s", t);
        else
            snprintf(out, outlen, "%s", CLIMIT_INVALID);
        return;
    }
    unsigned char net[16];
    int bits = (int)c->client_ipv6_prefix;
    memcpy(net, a, sizeof net);
    for (int i = bits; i < 128; i++)
        net[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
    if (inet_ntop(AF_INET6, net, t, sizeof t))
        snprintf(out, outlen, "%s/%d", t, bits);
    else
        snprintf(out, outlen, "%s", CLIMIT_INVALID);
}

void climit_client_id(const struct conf *c, const char *remote_addr, const char *xff, char *out, size_t outlen)
{
    unsigned char a[16];
    if (!remote_addr || !conf_addr_parse(remote_addr, strlen(remote_addr), a)) {
        snprintf(out, outlen, "%s", CLIMIT_INVALID);
        return;
    }
    if (xff && *xff && trusted(c, a)) {
        /* each proxy appends the address it was connected from: the entries
         * right of the first untrusted one were written by our proxies */
        const char *end = xff + strlen(xff);
        for (;;) {
            const char *start = end;
            while (start > xff && start[-1] != ',')
                start--;
            const char *s = start, *e = end;
            while (s < e && (*s == ' ' || *s == '\t')) s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
            if (!conf_addr_parse(s, (size_t)(e - s), a)) {
                /* a trusted proxy passed on something that is not an address */
                snprintf(out, outlen, "%s", CLIMIT_INVALID);
                return;
            }
            if (!trusted(c, a) || start == xff)
                break;
            end = start - 1;
        }
    }
    format_id(c, a, out, outlen);
}

/* The row's name: each bucket is limited on its own, so a client's searches
 * do not use up its video lookups or the other way round. */
static void row_key(char out[CLIMIT_ROW_LEN], const char *client, const char *bucket)
{
    snprintf(out, CLIMIT_ROW_LEN, "%s|%s", client, bucket ? bucket : "default");
}

int climit_take(struct db *d, const struct conf *c, const char *who, const char *bucket, long units,
                long *retry_after, char *err, size_t errlen)
{
    long limit, burst;
    *retry_after = 0;
    if ((limit = conf_client_units(c, bucket, &burst)) <= 0)
        return 1;
    char client[CLIMIT_ROW_LEN];
    row_key(client, who, bucket);
    long long t_us = (long long)c->client_window * 1000000LL / limit;   /* per unit */
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

void climit_refund(struct db *d, const struct conf *c, const char *who, const char *bucket, long units)
{
    static const struct db_stmt sql = DB_STMT("UPDATE client_limits SET tat_us = tat_us - ? WHERE client = ?");
    char err[UTIL_ERRLEN], client[CLIMIT_ROW_LEN];
    long limit, burst;
    if ((limit = conf_client_units(c, bucket, &burst)) <= 0)
        return;
    row_key(client, who, bucket);
    long long inc = (long long)c->client_window * 1000000LL / limit * units;
    unsigned long clen = strlen(client);
    MYSQL_BIND p[2];
    db_bind_long(&p[0], &inc);
    db_bind_str(&p[1], client, &clen);
    db_run(d, &sql, p, err, sizeof err);
}
