/* migrate: schema versions: apply sql/schema.sql and later migrations, recorded in schema_version. */
#ifndef YTC_MIGRATE_H
#define YTC_MIGRATE_H

#include <stddef.h>

struct db;

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
/* Bring the schema up to the newest version. 0 / -1; *from and *to report. */
int migrate_run(struct db *d, int *from, int *to, char *err, size_t errlen);
/* Newest version this build knows. */
int migrate_latest(void);

#endif
