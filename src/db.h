/* db: the MariaDB/MySQL connection, prepared-statement cache and reconnect-once execution. */
#ifndef YTC_DB_H
#define YTC_DB_H

#include <mysql.h>
#include <stdbool.h>

/* MySQL 8 dropped my_bool; MariaDB Connector/C still has it. */
#if !defined(MARIADB_BASE_VERSION) && !defined(MARIADB_PACKAGE_VERSION) && defined(MYSQL_VERSION_ID) && \
    MYSQL_VERSION_ID >= 80000
typedef bool my_bool;
#endif
#include "util.h"

struct conf;
struct db;

/* A statement, declared by the module that runs it next to its code:
 *     static const struct db_stmt SQL_LOOKUP = DB_STMT("SELECT ...");
 * db.c prepares it on first use per connection and keeps the handle,
 * keyed by the object's address, until the connection goes. */
struct db_stmt {
    const char *sql;
};
#define DB_STMT(text) { (text) }

/* A name ytcache gives an object of its database that must be unique in
 * it: its tables, and its named constraints (InnoDB's foreign keys and
 * MySQL 8's CHECK constraints are named per database, not per table).
 * Statements, sql/schema.sql and sql/migrations/ write them bare; db.c puts
 * [database] table_prefix before each when it prepares or runs a statement.
 * A new table is added to this list (db.c), or it stays unprefixed. */
struct db_name {
    const char *name;
    const char *columns;        /* a table: columns ytcache's table of this name has; NULL: a constraint */
};
extern const struct db_name db_names[];
extern const size_t db_n_names;

/* sql with `prefix` put before every bare word that is one of db_names,
 * into out (reset first). Quoted strings, comments and names in backquotes
 * are copied as they are (`cache` is the table called cache, whatever the
 * prefix). 0, or -1 out of memory. */
int db_prefix_names(const char *prefix, const char *sql, buf_t *out);
/* The connection's [database] table_prefix. */
const char *db_prefix(const struct db *d);

/* A named lock (GET_LOCK) of this install alone: the name is qualified by
 * the database and the table prefix and hashed, so that two installs on one
 * server never share a lock ("NAME:<40 hex digits of SHA-256 of
 * DATABASE()/prefix/NAME>", NAME cut to 23 characters: 64 in all, MySQL's
 * limit). wait_ms is rounded up to whole seconds. 1 got it, 0 timed out,
 * -1 error (err filled). */
int db_lock(struct db *d, const char *name, long wait_ms, char *err, size_t errlen);
/* RELEASE_LOCK of db_lock's lock. 0 / -1. */
int db_unlock(struct db *d, const char *name, char *err, size_t errlen);

/* A many-row query in progress (db_rows_begin .. db_rows_end). */
struct db_rows {
    MYSQL_STMT *st;
};

/* What db_rows_next found. */
enum { DB_ROWS_END = 0, DB_ROW = 1, DB_ROW_TRUNCATED = 2 };

int db_open(struct db **d, const struct conf *c);
void db_close(struct db **d);
/* Retry-After for an answer made without the database: whole seconds
 * until the next connect attempt ([database] retry_interval_ms), at least 1. */
long db_retry_after(const struct conf *c);

/* Connect if not connected. Honours retry_interval_ms after a failure so a
 * dead server costs one connect attempt per interval, not one per request.
 * 0 connected, -1 not (err filled). */
int db_connect(struct db *d, char *err, size_t errlen);
void db_disconnect(struct db *d);
/* 1 while a connection is up (a failed statement on it was not an outage). */
int db_connected(const struct db *d);

/* The session's sql_mode, set at every connect so that no host's default
 * applies: MySQL 8.0's default plus STRICT_ALL_TABLES (errors, not
 * warnings, on every table, as before). */
#define DB_SQL_MODE "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE," \
                    "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

/* The error number of the last failed plain statement (db_exec_static), 0 if none or disconnected. */
unsigned int db_errno(struct db *d);

/* 1 when the last statement lost a race on a live connection: a deadlock
 * victim (also a Galera certification conflict) after its retries, or a
 * lock wait timeout. The database works; another process got there first. */
int db_conflict(const struct db *d);

/* The server's max_allowed_packet as read at the last connect (0 before one). */
unsigned long db_max_packet(const struct db *d);

/* Execute `s` with `params` (NULL: none) and drain any result. On a lost
 * connection it reconnects and tries once more. 0, or -1 with err filled. */
int db_run(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, char *err, size_t errlen);
/* db_run that also reports the affected-row count. */
int db_run_affected(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, unsigned long long *affected,
                    char *err, size_t errlen);
/* db_run of a statement with one string parameter: the affected rows, or -1 (err filled). */
long long db_run_str(struct db *d, const struct db_stmt *s, const char *arg, char *err, size_t errlen);
/* db_run that fetches the first row into `results` and sets *has_row. */
int db_row(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, MYSQL_BIND *results, int *has_row,
           char *err, size_t errlen);
/* db_row where the result columns with `grow[i]` non-NULL are fetched whole
 * into that buffer (bind those with db_bind_out_grow). */
int db_row_grow(struct db *d, const struct db_stmt *s, MYSQL_BIND *params, MYSQL_BIND *results, buf_t **grow,
                int *has_row, char *err, size_t errlen);

/* LAST_INSERT_ID of the last run of `s` (also LAST_INSERT_ID(expr) in an UPDATE). */
unsigned long long db_last_insert_id(struct db *d, const struct db_stmt *s);

/* A parameterless query with one integer result (0 when it has no row). 0 / -1. */
int db_value(struct db *d, const struct db_stmt *s, long long *v, char *err, size_t errlen);

/* A many-row query (administration, reports): prepared for this run alone,
 * executed and buffered, without the reconnect-once retry. 0, or -1 with
 * err filled. Then db_rows_next until it returns less than DB_ROW (or
 * DB_ROW_TRUNCATED where a row too long for its buffers is skipped), and
 * always db_rows_end after a successful begin. */
int db_rows_begin(struct db_rows *rows, struct db *d, const struct db_stmt *s, MYSQL_BIND *params,
                  MYSQL_BIND *results, char *err, size_t errlen);
/* DB_ROW, DB_ROW_TRUNCATED (a column did not fit its buffer), DB_ROWS_END, or -1 on error. */
int db_rows_next(struct db_rows *rows);
void db_rows_end(struct db_rows *rows);

/* A transaction: db_begin, statements, db_end(commit or not). Inside it a
 * deadlock is not retried statement by statement. 0 / -1. */
int db_begin(struct db *d, char *err, size_t errlen);
int db_end(struct db *d, int commit, char *err, size_t errlen);

/* Plain statement without parameters (static DDL for migrations only). */
int db_exec_static(struct db *d, const char *sql, char *err, size_t errlen);

/* Bind helpers. */
void db_bind_blob(MYSQL_BIND *b, const void *p, unsigned long *len);
void db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len);
void db_bind_long(MYSQL_BIND *b, long long *v);
void db_bind_out_long(MYSQL_BIND *b, long long *v, my_bool *is_null);
void db_bind_out_str(MYSQL_BIND *b, char *buf, unsigned long cap, unsigned long *len, my_bool *is_null);
void db_bind_out_grow(MYSQL_BIND *b, unsigned long *len, my_bool *is_null);

#endif
