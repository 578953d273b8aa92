/* db: the MariaDB/MySQL connection, prepared-statement cache and reconnect-once execution. */
#include "db.h"
#include "conf.h"
#include "log.h"

#include <ctype.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prepared handles per connection, keyed by statement object (their
 * addresses are fixed and shared by every thread; the handles are this
 * struct db's alone). Room for every statement one program runs; past
 * that a full table gives up one handle in turn, costing a prepare, not
 * memory. */
#define DB_SLOTS 96
/* a deadlock victim outside a transaction is run again up to this many times */
#define DB_DEADLOCK_RETRIES 3
/* read and write timeouts: this many times connect_timeout */
#define DB_RW_TIMEOUT_FACTOR 5

struct db_slot {
    const struct db_stmt *s;
    MYSQL_STMT *st;
};

struct db {
    const struct conf *conf;
    MYSQL *my;
    struct db_slot slot[DB_SLOTS];
    int nslots;                  /* slots in use, from the first */
    int evict;                   /* the slot a full table gives up next */
    long long failed_at_ms;      /* last failed connect, 0 = none */
    unsigned long max_packet;    /* the server's max_allowed_packet, read at connect */
    int in_txn;                  /* inside db_begin .. db_end: a deadlock undid more than one statement */
    unsigned int exec_errno;     /* the last statement's execute error, 0 = none */
};

/* The columns name a table by what only ytcache's table of that name has:
 * an existing install's bare tables are renamed only when they have them
 * (migrate.c), so another application's `cache` is never taken. */
const struct db_name db_names[] = {
    { "schema_version", "version,applied_at" },
    { "cache", "cache_key,request,response,expires_at" },
    { "api_keys", "label,secret,fingerprint" },
    { "key_usage", "key_id,bucket,day,used" },
    { "budget_usage", "bucket,region,day,used" },
    { "client_limits", "client,tat_us" },
    { "breaker", "name,state,failures,probe_until" },
    { "daily_counters", "day,name,value" },
    { "websub_subs", "channel_id,topic,secret,lease_expires_at" },
    { "cache_ids", "id,cache_key" },
    { "cache_usage", "id,row_count,byte_count" },
    { "fk_cache_ids_cache", NULL },
    { "response_is_json", NULL },
};
const size_t db_n_names = sizeof db_names / sizeof db_names[0];

static int is_word(int ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '$';
}

static int known_name(const char *w, size_t n)
{
    for (size_t i = 0; i < db_n_names; i++)
        if (strlen(db_names[i].name) == n && memcmp(db_names[i].name, w, n) == 0)
            return 1;
    return 0;
}

/* The end of what starts at p and is copied as it is (a quoted string or
 * name, a comment); p itself when none starts there. */
static const char *verbatim_end(const char *p)
{
    if (*p == '\'' || *p == '"' || *p == '`') {
        char q = *p++;
        while (*p && *p != q)
            p += (*p == '\\' && q != '`' && p[1]) ? 2 : 1;
        return *p ? p + 1 : p;   /* a doubled quote is two strings in a row: the same copy */
    }
    if ((p[0] == '-' && p[1] == '-') || p[0] == '#') {
        const char *e = strchr(p, '\n');
        return e ? e : p + strlen(p);
    }
    if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        return e ? e + 2 : p + strlen(p);
    }
    return p;
}

int db_prefix_names(const char *prefix, const char *sql, buf_t *out)
{
    size_t plen = strlen(prefix);
    buf_reset(out);
    for (const char *p = sql; *p;) {
        const char *e = verbatim_end(p);
        if (e == p) {
            e = p + 1;
            if (is_word(*p)) {
                while (is_word(*e))
                    e++;
                if (known_name(p, (size_t)(e - p)) && buf_append(out, prefix, plen) < 0)
                    return -1;
            }
        }
        if (buf_append(out, p, (size_t)(e - p)) < 0)
            return -1;
        p = e;
    }
    return buf_append(out, "", 0);
}

const char *db_prefix(const struct db *d)
{
    return d->conf->db_table_prefix ? d->conf->db_table_prefix : "";
}

/* The text to send for sql: itself without a prefix, else rewritten into
 * *tmp (free it after). NULL out of memory (err filled). */
static const char *sql_text(const struct db *d, const char *sql, buf_t *tmp, char *err, size_t errlen)
{
    if (!*db_prefix(d))
        return sql;
    if (db_prefix_names(db_prefix(d), sql, tmp) < 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return tmp->data;
}

int db_open(struct db **out, const struct conf *c)
{
    struct db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->conf = c;
    *out = d;
    return 0;
}

void db_disconnect(struct db *d)
{
    /* prepared handles belong to the connection */
    for (int i = 0; i < d->nslots; i++)
        mysql_stmt_close(d->slot[i].st);
    d->nslots = 0;
    d->evict = 0;
    if (d->my) {
        mysql_close(d->my);
        d->my = NULL;
    }
    d->in_txn = 0;
}

int db_connected(const struct db *d)
{
    return d->my != NULL;
}

void db_close(struct db **pd)
{
    if (!*pd)
        return;
    db_disconnect(*pd);
    free(*pd);
    *pd = NULL;
}

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* Remember when a connect attempt gave up: the next attempt waits for
 * retry_interval_ms after that. Taken when it gave up, not when it began:
 * against a hung server each attempt takes connect_timeout, and every
 * statement of a request would otherwise wait that long again. */
static void mark_failed(struct db *d)
{
    long long t = util_now_ms();
    d->failed_at_ms = t ? t : 1;
}

long db_retry_after(const struct conf *c)
{
    return c->db_retry_ms / 1000 + 1;
}

/* The server's max_allowed_packet and read_only, in one round trip. */
static int server_vars(MYSQL *my, unsigned long *maxp, int *read_only)
{
    MYSQL_RES *res = NULL;
    *maxp = 0;
    *read_only = 0;
    if (mysql_query(my, "SELECT @@max_allowed_packet, @@read_only") == 0 && (res = mysql_store_result(my)) != NULL) {
        MYSQL_ROW row = mysql_fetch_row(res);
        if (row && row[0])
            *maxp = strtoul(row[0], NULL, 10);
        if (row && row[1])
            *read_only = strcmp(row[1], "0") != 0;
    }
    if (res)
        mysql_free_result(res);
    return *maxp ? 0 : -1;
}

#define DB_CONNECT_ERR "cannot connect to the database: "

/* One connection to host:port (or the socket), with the session set up;
 * NULL with a message in err. skip_ro: a read-only server (a replica not
 * yet promoted, an old primary fenced) counts as a failed address. */
static MYSQL *connect_one(const struct conf *c, const char *host, unsigned int port, int skip_ro,
                          unsigned long *maxp, char *err, size_t errlen)
{
    MYSQL *my = mysql_init(NULL);
    if (!my) {
        snprintf(err, errlen, "mysql_init failed");
        return NULL;
    }
    unsigned int to = (unsigned int)c->db_connect_timeout;
    unsigned int rw = (unsigned int)(c->db_connect_timeout * DB_RW_TIMEOUT_FACTOR);
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &to);
    mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (nz(c->db_option_file)) {
        mysql_options(my, MYSQL_READ_DEFAULT_FILE, c->db_option_file);
        mysql_options(my, MYSQL_READ_DEFAULT_GROUP, nz(c->db_option_group) ? c->db_option_group : "client");
    }
    /* The session's terms, whatever the server's defaults: utf8mb4 by name
     * (an 8.0 client asking a 5.7 server for it at handshake falls back to
     * latin1 silently), UTC (NOW() and UNIX_TIMESTAMP(NOW()) in a daylight-
     * saving zone jump an hour twice a year) and one strict sql_mode, the
     * same on MariaDB and MySQL. One statement, so one round trip. A
     * statement longer than max_allowed_packet drops the connection: stores
     * are capped below it. */
    int ro = 0;
    if (!mysql_real_connect(my, host, nz(c->db_user), c->db_password ? c->db_password : NULL,
                            nz(c->db_name), port, nz(c->db_socket), CLIENT_FOUND_ROWS))
        snprintf(err, errlen, "%s%s", DB_CONNECT_ERR, mysql_error(my));
    else if (mysql_query(my, "SET NAMES utf8mb4 COLLATE utf8mb4_bin, time_zone = '+00:00',"
                             " sql_mode = '" DB_SQL_MODE "'") != 0)
        snprintf(err, errlen, "cannot set the session (names, time zone, sql_mode): %s", mysql_error(my));
    else if (server_vars(my, maxp, &ro) < 0)
        snprintf(err, errlen, "cannot read max_allowed_packet: %s", mysql_error(my));
    else if (ro && skip_ro)
        snprintf(err, errlen, "the server is read-only (a replica not promoted yet?)");
    else
        return my;
    mysql_close(my);
    return NULL;
}

/* Connect to the socket, or to [database] host's addresses in order: the
 * first that answers and takes writes wins, so a primary's replica at the
 * next address takes over once promoted (read_only off). */
int db_connect(struct db *d, char *err, size_t errlen)
{
    if (d->my)
        return 0;
    const struct conf *c = d->conf;
    long long now = util_now_ms();
    if (d->failed_at_ms && now - d->failed_at_ms < c->db_retry_ms) {
        snprintf(err, errlen, "database unavailable (waiting before the next connect attempt)");
        return -1;
    }
    /* With an option file, its values win unless the config names them. */
    size_t n = nz(c->db_socket) || c->n_db_hosts == 0 ? 1 : c->n_db_hosts;
    unsigned long maxp = 0;
    MYSQL *my = NULL;
    char tried[UTIL_ERRLEN] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && !my; i++) {
        const struct conf_db_host *h = c->n_db_hosts ? &c->db_hosts[i] : NULL;
        const char *host = nz(c->db_socket) ? "localhost" : h ? h->name : NULL;
        unsigned int port = (unsigned int)(h && h->port ? h->port : c->db_port);
        char one[UTIL_ERRLEN];
        my = connect_one(c, host, port, n > 1, &maxp, one, sizeof one);
        const char *why = strncmp(one, DB_CONNECT_ERR, strlen(DB_CONNECT_ERR)) ? one : one + strlen(DB_CONNECT_ERR);
        if (!my && n == 1)
            snprintf(err, errlen, "%s", one);
        else if (!my && used < sizeof tried)
            used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s:%u: %s", i ? "; " : "", host, port, why);
        else if (my && i > 0)
            log_msg(YLOG_WARN, "database: connected to %s:%u, address %zu of %zu (skipped %s)", host, port, i + 1, n,
                    tried);
    }
    if (!my && n > 1)
        snprintf(err, errlen, "%s%s", DB_CONNECT_ERR, tried);
    if (!my) {
        mark_failed(d);
        return -1;
    }
    d->max_packet = maxp;
    d->my = my;
    d->failed_at_ms = 0;
    return 0;
}

static int is_conn_error(unsigned int e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == CR_COMMANDS_OUT_OF_SYNC ||
#ifdef ER_CONNECTION_KILLED
           e == ER_CONNECTION_KILLED ||     /* MariaDB only (1927) */
#endif
           e == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8) */ || e == ER_SERVER_SHUTDOWN;
}

unsigned int db_errno(struct db *d)
{
    return d->my ? mysql_errno(d->my) : 0;
}

int db_conflict(const struct db *d)
{
    return d->my && (d->exec_errno == ER_LOCK_DEADLOCK || d->exec_errno == ER_LOCK_WAIT_TIMEOUT);
}

unsigned long db_max_packet(const struct db *d)
{
    return d->max_packet;
}

/* The fetched row's growable columns (grow[i] non-NULL) read whole into
 * their buffers; 0, or -1 with err set. */
static int fetch_grown(MYSQL_STMT *st, MYSQL_BIND *results, buf_t **grow, unsigned int *errnum, char *err,
                       size_t errlen)
{
    unsigned int ncols = mysql_stmt_field_count(st);
    for (unsigned int i = 0; i < ncols; i++) {
        if (!grow[i] || (results[i].is_null && *results[i].is_null))
            continue;
        unsigned long len = *results[i].length;
        buf_reset(grow[i]);
        if (buf_reserve(grow[i], len) < 0) {
            snprintf(err, errlen, "out of memory for a %lu-byte column", len);
            return -1;
        }
        MYSQL_BIND col;
        memset(&col, 0, sizeof col);
        unsigned long got = 0;
        col.buffer_type = MYSQL_TYPE_BLOB;
        col.buffer = grow[i]->data;
        col.buffer_length = len;
        col.length = &got;
        if (len && mysql_stmt_fetch_column(st, &col, i, 0) != 0) {
            *errnum = mysql_stmt_errno(st);
            snprintf(err, errlen, "fetch column: %s", mysql_stmt_error(st));
            return -1;
        }
        grow[i]->len = len;
        grow[i]->data[len] = '\0';
    }
    return 0;
}

/* What a run hands back besides its status; NULL members are not wanted. */
struct run_out {
    MYSQL_BIND *results;
    buf_t **grow;
    int *has_row;
    unsigned long long *affected;
};

static MYSQL_STMT *cached(struct db *d, const struct db_stmt *s)
{
    for (int i = 0; i < d->nslots; i++)
        if (d->slot[i].s == s)
            return d->slot[i].st;
    return NULL;
}

/* The connection's prepared handle for `s`, prepared now if it has none. */
static MYSQL_STMT *prepared(struct db *d, const struct db_stmt *s, unsigned int *errnum, char *err, size_t errlen)
{
    MYSQL_STMT *st = cached(d, s);
    if (st)
        return st;
    st = mysql_stmt_init(d->my);
    if (!st) {
        *errnum = mysql_errno(d->my);
        snprintf(err, errlen, "mysql_stmt_init: %s", mysql_error(d->my));
        return NULL;
    }
    /* the prefixed text is made once per statement and connection: the handle is kept */
    buf_t tmp = { 0 };
    const char *sql = sql_text(d, s->sql, &tmp, err, errlen);
    if (!sql || mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        if (sql) {
            *errnum = mysql_stmt_errno(st);
            snprintf(err, errlen, "prepare: %s", mysql_stmt_error(st));
        }
        buf_free(&tmp);
        mysql_stmt_close(st);
        return NULL;
    }
    buf_free(&tmp);
    struct db_slot *sl;
    if (d->nslots < DB_SLOTS) {
        sl = &d->slot[d->nslots++];
    } else {
        sl = &d->slot[d->evict];
        d->evict = (d->evict + 1) % DB_SLOTS;
        mysql_stmt_close(sl->st);
    }
    sl->s = s;
    sl->st = st;
    return st;
}

/* The first row into out->results; the rest is consumed so the statement
 * can run again. */
static int fetch_first(MYSQL_STMT *st, const struct run_out *out, unsigned int *errnum, char *err, size_t errlen)
{
    int rc = 0;
    if (mysql_stmt_bind_result(st, out->results) != 0) {
        *errnum = mysql_stmt_errno(st);
        snprintf(err, errlen, "bind result: %s", mysql_stmt_error(st));
        mysql_stmt_free_result(st);
        return -1;
    }
    int f = mysql_stmt_fetch(st);
    if (f == 0 || f == MYSQL_DATA_TRUNCATED) {
        if (out->has_row)
            *out->has_row = 1;
        if (out->grow)
            rc = fetch_grown(st, out->results, out->grow, errnum, err, errlen);
        while (mysql_stmt_fetch(st) == 0)
            ;
    } else if (f == 1) {
        *errnum = mysql_stmt_errno(st);
        snprintf(err, errlen, "fetch: %s", mysql_stmt_error(st));
        rc = -1;
    }
    mysql_stmt_free_result(st);
    return rc;
}

static int run_once(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, const struct run_out *out,
                    unsigned int *errnum, char *err, size_t errlen)
{
    *errnum = 0;
    d->exec_errno = 0;
    MYSQL_STMT *st = prepared(d, s, errnum, err, errlen);
    if (!st)
        return -1;
    if (out->has_row)
        *out->has_row = 0;
    if ((params && mysql_stmt_bind_param(st, params) != 0) || mysql_stmt_execute(st) != 0) {
        *errnum = mysql_stmt_errno(st);
        d->exec_errno = *errnum;
        snprintf(err, errlen, "execute: %s", mysql_stmt_error(st));
        return -1;
    }
    if (out->affected)
        *out->affected = mysql_stmt_affected_rows(st);
    if (out->results)
        return fetch_first(st, out, errnum, err, errlen);
    /* drain any result (SELECT RELEASE_LOCK(...) has one) */
    if (mysql_stmt_field_count(st) > 0) {
        mysql_stmt_store_result(st);
        mysql_stmt_free_result(st);
    }
    return 0;
}

/* A lost connection is tried once more on a new one, outside a transaction. A deadlock victim
 * outside a transaction is tried again too: InnoDB undid just that one
 * statement, and the concurrent reservations that make deadlocks (key_usage
 * under many processes) are exactly where an error must not become a
 * fetch without accounting. Inside db_begin .. db_end the caller decides. */
static int run(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, const struct run_out *out, char *err,
               size_t errlen)
{
    int reconnects = 0, deadlocks = 0;
    for (;;) {
        if (db_connect(d, err, errlen) < 0)
            return -1;
        unsigned int e = 0;
        if (run_once(d, s, params, out, &e, err, errlen) == 0)
            return 0;
        if (e == ER_LOCK_DEADLOCK && !d->in_txn && deadlocks++ < DB_DEADLOCK_RETRIES)
            continue;
        /* a transaction dies with its connection: its next statement alone
         * on a new one would commit half of it, so the caller hears of it */
        if (e == 0 || !is_conn_error(e) || d->in_txn || reconnects++ > 0) {
            if (e && is_conn_error(e))
                db_disconnect(d);
            return -1;
        }
        /* connection gone: drop it (and its statements) and try once more */
        db_disconnect(d);
    }
}

int db_run(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, char *err, size_t errlen)
{
    struct run_out out = { 0 };
    return run(d, s, params, &out, err, errlen);
}

int db_run_affected(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, unsigned long long *affected,
                    char *err, size_t errlen)
{
    struct run_out out = { .affected = affected };
    return run(d, s, params, &out, err, errlen);
}

int db_row(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, MYSQL_BIND *results, int *has_row,
           char *err, size_t errlen)
{
    struct run_out out = { .results = results, .has_row = has_row };
    return run(d, s, params, &out, err, errlen);
}

int db_row_grow(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, MYSQL_BIND *results, buf_t **grow,
                int *has_row, char *err, size_t errlen)
{
    struct run_out out = { .results = results, .grow = grow, .has_row = has_row };
    return run(d, s, params, &out, err, errlen);
}

int db_exec_static(struct db *d, const char *sql, char *err, size_t errlen)
{
    if (db_connect(d, err, errlen) < 0)
        return -1;
    buf_t tmp = { 0 };
    const char *text = sql_text(d, sql, &tmp, err, errlen);
    if (!text)
        return -1;
    int bad = mysql_real_query(d->my, text, strlen(text)) != 0;
    buf_free(&tmp);
    if (bad) {
        snprintf(err, errlen, "%s", mysql_error(d->my));
        if (is_conn_error(mysql_errno(d->my)))
            db_disconnect(d);
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(d->my);
    if (res)
        mysql_free_result(res);
    return 0;
}

int db_begin(struct db *d, char *err, size_t errlen)
{
    if (db_exec_static(d, "START TRANSACTION", err, errlen) < 0)
        return -1;
    d->in_txn = 1;
    return 0;
}

int db_end(struct db *d, int commit, char *err, size_t errlen)
{
    d->in_txn = 0;
    return db_exec_static(d, commit ? "COMMIT" : "ROLLBACK", err, errlen);
}

long long db_run_str(struct db *d, const struct db_stmt *s, const char *arg, char *err, size_t errlen)
{
    MYSQL_BIND p[1];
    unsigned long len = strlen(arg);
    unsigned long long n = 0;
    db_bind_str(&p[0], arg, &len);
    if (db_run_affected(d, s, p, &n, err, errlen) < 0)
        return -1;
    return (long long)n;
}

/* An input buffer of *len bytes (the library reads, never writes, it). */
static void bind_bytes(MYSQL_BIND *b, enum enum_field_types type, const void *p, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = type;
    b->buffer = (void *)p;
    b->buffer_length = *len;
    b->length = len;
}

void db_bind_blob(MYSQL_BIND *b, const void *p, unsigned long *len)
{
    bind_bytes(b, MYSQL_TYPE_BLOB, p, len);
}

void db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
    bind_bytes(b, MYSQL_TYPE_STRING, s, len);
}

void db_bind_long(MYSQL_BIND *b, long long *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = v;
}

void db_bind_out_long(MYSQL_BIND *b, long long *v, my_bool *is_null)
{
    db_bind_long(b, v);
    b->is_null = is_null;
}

void db_bind_out_str(MYSQL_BIND *b, char *buf, unsigned long cap, unsigned long *len, my_bool *is_null)
{
    db_bind_str(b, buf, len);
    b->buffer_length = cap;
    b->is_null = is_null;
}

void db_bind_out_grow(MYSQL_BIND *b, unsigned long *len, my_bool *is_null)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = NULL;
    b->buffer_length = 0;
    b->length = len;
    b->is_null = is_null;
}

unsigned long long db_last_insert_id(struct db *d, const struct db_stmt *s)
{
    MYSQL_STMT *st = cached(d, s);
    return st ? mysql_stmt_insert_id(st) : 0;
}

int db_rows_begin(struct db_rows *rows, struct db *d, const struct db_stmt *s, MYSQL_BIND *params,
                  MYSQL_BIND *results, char *err, size_t errlen)
{
    rows->st = NULL;
    if (db_connect(d, err, errlen) < 0)
        return -1;
    /* its own handle, not the cache's: the caller may run other statements
     * between rows, and a reconnect then must not close this one */
    MYSQL_STMT *st = mysql_stmt_init(d->my);
    buf_t tmp = { 0 };
    const char *sql = st ? sql_text(d, s->sql, &tmp, err, errlen) : NULL;
    if (!sql) {
        snprintf(err, errlen, "out of memory");
        if (st)
            mysql_stmt_close(st);
        return -1;
    }
    int bad = mysql_stmt_prepare(st, sql, strlen(sql)) != 0;
    buf_free(&tmp);
    if (bad || (params && mysql_stmt_bind_param(st, params) != 0) ||
        mysql_stmt_execute(st) != 0 || mysql_stmt_store_result(st) != 0 ||
        (results && mysql_stmt_bind_result(st, results) != 0)) {
        snprintf(err, errlen, "%s", mysql_stmt_error(st));
        int gone = is_conn_error(mysql_stmt_errno(st));
        mysql_stmt_close(st);
        if (gone)
            db_disconnect(d);
        return -1;
    }
    rows->st = st;
    return 0;
}

int db_rows_next(struct db_rows *rows)
{
    switch (mysql_stmt_fetch(rows->st)) {
    case 0:
        return DB_ROW;
    case MYSQL_DATA_TRUNCATED:
        return DB_ROW_TRUNCATED;
    case MYSQL_NO_DATA:
        return DB_ROWS_END;
    default:
        return -1;
    }
}

void db_rows_end(struct db_rows *rows)
{
    if (rows->st)
        mysql_stmt_close(rows->st);
    rows->st = NULL;
}

int db_value(struct db *d, const struct db_stmt *s, long long *v, char *err, size_t errlen)
{
    MYSQL_BIND r[1];
    my_bool isnull = 0;
    int has_row = 0;
    *v = 0;
    db_bind_out_long(&r[0], v, &isnull);
    if (db_row(d, s, NULL, r, &has_row, err, errlen) < 0)
        return -1;
    if (!has_row || isnull)
        *v = 0;
    return 0;
}

/* The lock's name worked out by the server from its own DATABASE(): an
 * option file may name the database, and two installs differ by it. */
#define LOCK_NAME "CONCAT(LEFT(?, 23), ':', LEFT(SHA2(CONCAT_WS('/', DATABASE(), ?, ?), 256), 40))"
static const struct db_stmt SQL_LOCK = DB_STMT("SELECT GET_LOCK(" LOCK_NAME ", ?)");
static const struct db_stmt SQL_UNLOCK = DB_STMT("SELECT RELEASE_LOCK(" LOCK_NAME ")");

/* The three parameters of LOCK_NAME; lens: room for their lengths. */
static void bind_lock_name(const struct db *d, MYSQL_BIND *p, const char *name, unsigned long lens[3])
{
    lens[0] = lens[2] = strlen(name);
    lens[1] = strlen(db_prefix(d));
    db_bind_str(&p[0], name, &lens[0]);
    db_bind_str(&p[1], db_prefix(d), &lens[1]);
    db_bind_str(&p[2], name, &lens[2]);
}

int db_lock(struct db *d, const char *name, long wait_ms, char *err, size_t errlen)
{
    MYSQL_BIND p[4], r[1];
    unsigned long lens[3];
    /* GET_LOCK takes whole seconds on MySQL; round up so 0 < wait stays > 0.
     * And less than the read timeout (db_connect): a wait as long as it ends
     * with the client giving up on a live server, a reconnect and a second wait. */
    long long secs = (wait_ms + 999) / 1000, most = d->conf->db_connect_timeout * DB_RW_TIMEOUT_FACTOR - 1;
    if (secs > most)
        secs = most > 0 ? most : 0;
    long long got = 0;
    my_bool isnull = 0;
    bind_lock_name(d, p, name, lens);
    db_bind_long(&p[3], &secs);
    db_bind_out_long(&r[0], &got, &isnull);
    int has_row = 0;
    if (db_row(d, &SQL_LOCK, p, r, &has_row, err, errlen) < 0)
        return -1;
    if (!has_row || isnull) {
        snprintf(err, errlen, "GET_LOCK returned NULL");
        return -1;
    }
    return got == 1 ? 1 : 0;
}

int db_unlock(struct db *d, const char *name, char *err, size_t errlen)
{
    MYSQL_BIND p[3];
    unsigned long lens[3];
    bind_lock_name(d, p, name, lens);
    return db_run(d, &SQL_UNLOCK, p, err, errlen);
}
