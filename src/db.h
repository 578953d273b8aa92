/* db: the MariaDB/MySQL connection, prepared-statement cache and reconnect-once execution. */
#ifndef YTC_DB_H
#define YTC_DB_H

#include <mysql.h>
#include <stdbool.h>

/* MySQL 8 dropped my_bool; MariaDB Connector/C still has it. */
#if !defined(MARIADB_BASE_VERSION) && !defined(MARIADB_PACKAGE_VERSION) && defined(MYSQL_VERSION_ID) && MYSQL_VERSION_ID >= 80000
typedef bool my_bool;
#endif
#include "util.h"

struct conf;
struct db;

/* Statement slots; each is prepared on first use and again after a reconnect. */
enum db_stmt_id {
    DBS_LOOKUP, DBS_CHECK, DBS_STORE, DBS_HIT, DBS_LOCK, DBS_UNLOCK,
    DBS_PURGE_EXPIRED, DBS_PURGE_ENDPOINT, DBS_PURGE_ALL,
    DBS_VERSION, DBS_SET_VERSION,
    DBS_Q_RESERVE, DBS_Q_NEW_DAY, DBS_Q_SECRET, DBS_Q_REFUND, DBS_Q_EXHAUST, DBS_Q_DISABLE,
    DBS_Q_DISABLE_USAGE, DBS_Q_BUDGET, DBS_Q_BUDGET_NEW, DBS_Q_BUDGET_REFUND, DBS_Q_SYNC_ADD, DBS_Q_SYNC_BACK, DBS_Q_SYNC_BACK_USAGE, DBS_Q_POOL,
    DBS_CL_TAKE, DBS_CL_NEW, DBS_CL_TAT, DBS_CL_REFUND,
    DBS_BR_READ, DBS_BR_PROBE, DBS_BR_OK, DBS_BR_FAIL, DBS_BR_RELEASE,
    DBS_COUNTER,
    DBS_K_ADD, DBS_K_ENABLE, DBS_K_ENABLE_USAGE, DBS_K_DISABLE, DBS_K_DISABLE_USAGE,
    DBS_K_REMOVE_USAGE, DBS_K_REMOVE,
    DBS_WS_LOAD, DBS_WS_ACTIVE, DBS_WS_GONE, DBS_WS_INV_CHANNEL, DBS_WS_INV_UPLOADS, DBS_WS_INV_ID,
    DBS_WS_INV_IDS, DBS_WS_SEEN, DBS_WS_UPSERT, DBS_WS_FAIL, DBS_WS_FORGET, DBS_IDS_DEL, DBS_IDS_ADD,
    DBS__COUNT
};

int db_open(struct db **d, const struct conf *c);
void db_close(struct db **d);

/* Connect if not connected. Honours retry_interval_ms after a failure so a
 * dead server costs one connect attempt per interval, not one per request.
 * 0 connected, -1 not (err filled). */
int db_connect(struct db *d, char *err, size_t errlen);
int db_connected(const struct db *d);
void db_disconnect(struct db *d);
MYSQL *db_handle(struct db *d);

/* The session's sql_mode, set at every connect so that no host's default
 * applies: MySQL 8.0's default plus STRICT_ALL_TABLES (errors, not
 * warnings, on every table, as before). */
#define DB_SQL_MODE "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE," \
                    "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

/* The error number of the last failed plain statement (db_exec_static), 0 if none or disconnected. */
unsigned int db_errno(struct db *d);

/* The server's max_allowed_packet as read at the last connect (0 before one). */
unsigned long db_max_packet(const struct db *d);

/* Execute a prepared statement with `params`; if it has a result, fetch the
 * first row into `results` (nres binds) and set *has_row. For result columns
 * whose `grow[i]` is non-NULL the column is fetched whole into that buffer
 * (bind those with buffer = NULL, buffer_length = 0). On a lost connection
 * it reconnects and tries once more. Returns 0 or -1 (err filled);
 * *affected gets the affected-row count when non-NULL. */
int db_run(struct db *d, enum db_stmt_id id, const char *sql, MYSQL_BIND *params,
           MYSQL_BIND *results, buf_t **grow, int *has_row, unsigned long long *affected,
           char *err, size_t errlen);

/* LAST_INSERT_ID of the last run of a statement (also LAST_INSERT_ID(expr) in an UPDATE). */
unsigned long long db_last_insert_id(struct db *d, enum db_stmt_id id);

/* A parameterless query with one integer result (0 when it has no row). 0 / -1. */
int db_value(struct db *d, enum db_stmt_id id, const char *sql, long long *v, char *err, size_t errlen);

/* A one-off query with many rows (administration, reports): prepared,
 * executed and buffered; the caller fetches and closes it. NULL on error. */
MYSQL_STMT *db_select(struct db *d, const char *sql, MYSQL_BIND *params, MYSQL_BIND *results,
                      char *err, size_t errlen);

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
