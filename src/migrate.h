/* migrate: schema versions: apply sql/schema.sql and later migrations, recorded in schema_version. */
#ifndef YTC_MIGRATE_H
#define YTC_MIGRATE_H

#include <stddef.h>

struct conf;
struct db;

/* The migration lock (db_lock): one process migrates at a time. */
#define MIGRATE_LOCK "ytcache-migrate"
/* How long ytcachectl migrate waits for another process's migration. */
#define MIGRATE_CTL_WAIT_S 600
/* Retry-After of the answer while another process migrates. */
#define MIGRATE_RETRY_AFTER 5
/* Room for a prefixed table name (prefix <= 32, MySQL's names <= 64). */
#define MIGRATE_NAME_MAX 65

extern const char migrate_schema_sql[];   /* generated from sql/schema.sql */
extern const char migrate_002_sql[];      /* sql/migrations/002_quota.sql */
extern const char migrate_003_sql[];      /* sql/migrations/003_refresh.sql */
extern const char migrate_004_sql[];      /* sql/migrations/004_websub.sql */
extern const char migrate_005_sql[];      /* sql/migrations/005_rev.sql */
extern const char migrate_006_sql[];      /* sql/migrations/006_portable.sql */
extern const char migrate_007_sql[];      /* sql/migrations/007_client_bucket.sql */
extern const char migrate_008_sql[];      /* sql/migrations/008_bound.sql */

/* Current schema version (0 = none), or -1 on error. */
int migrate_version(struct db *d, char *err, size_t errlen);
/* Bring the schema up to the newest version, under the migration lock
 * (waiting for another process's migration); an install without a table
 * prefix has its tables renamed to the prefix first. 0 / -1; *from and *to
 * report. */
int migrate_run(struct db *d, int *from, int *to, char *err, size_t errlen);

/* What migrate_ensure found. */
enum migrate_state {
    MIGRATE_READY,      /* current (or migrated now, or older with auto_migrate off) */
    MIGRATE_BUSY,       /* another process is migrating: answer 503 with Retry-After */
    MIGRATE_MISSING,    /* no schema and auto_migrate = no (err says what to do) */
    MIGRATE_ERROR,      /* the database failed (err filled): the request meets it as usual */
};
/* A process's check before its first request reaches the database: a
 * schema missing or older than this build is migrated now, one process at
 * a time ([cache] lock_wait_ms is waited for another's), and the config
 * file's keys synchronised, unless [database] auto_migrate = no. */
enum migrate_state migrate_ensure(struct db *d, const struct conf *c, char *err, size_t errlen);
/* Newest version this build knows. */
int migrate_latest(void);

#endif
