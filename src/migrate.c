/* migrate: schema versions: apply sql/schema.sql and later migrations, recorded in schema_version. */
#include "migrate.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "quota.h"
#include "util.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int version;
    const char *sql;
} migrations[] = {
    { 1, migrate_schema_sql },
    { 2, migrate_002_sql },
    { 3, migrate_003_sql },
    { 4, migrate_004_sql },
    { 5, migrate_005_sql },
    { 6, migrate_006_sql },
    { 7, migrate_007_sql },
    { 8, migrate_008_sql },
};

int migrate_latest(void)
{
    return migrations[sizeof migrations / sizeof migrations[0] - 1].version;
}

/* Whether the database has a table called `name` exactly (no prefix added). -1 on error. */
static int has_table(struct db *d, const char *name, char *err, size_t errlen)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?");
    MYSQL_BIND p[1], r[1];
    unsigned long len = strlen(name);
    long long n = 0;
    my_bool isnull = 0;
    int has_row = 0;
    db_bind_str(&p[0], name, &len);
    db_bind_out_long(&r[0], &n, &isnull);
    if (db_row(d, &sql, p, r, &has_row, err, errlen) < 0)
        return -1;
    return has_row && n > 0;
}

/* The name of ytcache's table `bare` in this database: with the prefix. */
static void prefixed(const struct db *d, const char *bare, char out[MIGRATE_NAME_MAX])
{
    snprintf(out, MIGRATE_NAME_MAX, "%s%s", db_prefix(d), bare);
}

int migrate_version(struct db *d, char *err, size_t errlen)
{
    /* every process asks once (CGI: every request): one statement when
     * the table is there, and only when it fails the question why */
    static const struct db_stmt max_version = DB_STMT("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    long long v = 0;
    char name[MIGRATE_NAME_MAX], err2[UTIL_ERRLEN];
    prefixed(d, "schema_version", name);
    /* twice: another process may make the table between the two questions */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (db_value(d, &max_version, &v, err, errlen) == 0)
            return (int)v;
        int has = has_table(d, name, err2, sizeof err2);
        if (has <= 0)
            return has == 0 ? 0 : -1;   /* no table yet: version 0 */
    }
    return -1;
}

/* Whether the bare table `name` exists with all of `columns` (a comma list). -1 on error. */
static int is_ours(struct db *d, const char *name, const char *columns, char *err, size_t errlen)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
        " AND FIND_IN_SET(column_name, ?) > 0");
    MYSQL_BIND p[2], r[1];
    unsigned long l1 = strlen(name), l2 = strlen(columns);
    long long n = 0, want = 1;
    my_bool isnull = 0;
    int has_row = 0;
    for (const char *c = columns; *c; c++)
        want += *c == ',';
    db_bind_str(&p[0], name, &l1);
    db_bind_str(&p[1], columns, &l2);
    db_bind_out_long(&r[0], &n, &isnull);
    if (db_row(d, &sql, p, r, &has_row, err, errlen) < 0)
        return -1;
    return has_row && n == want;
}

/* An install made before [database] table_prefix has its tables under bare
 * names. It is recognised by bare schema_version and cache tables with
 * ytcache's columns while the prefixed schema_version is missing; then each
 * of ytcache's tables that is there bare with ytcache's columns is renamed,
 * all in one RENAME TABLE (atomic, rows and all). A table of another
 * application that has one of the names (Drupal's cache) lacks the columns
 * and stays as it is. Tables of later versions the old install does not
 * have yet are simply not there. *renamed: how many. 0 / -1. */
static int adopt_bare_tables(struct db *d, int *renamed, char *err, size_t errlen)
{
    char name[MIGRATE_NAME_MAX];
    *renamed = 0;
    prefixed(d, "schema_version", name);
    int r = *db_prefix(d) ? has_table(d, name, err, errlen) : 1;
    if (r != 0)
        return r < 0 ? -1 : 0;
    if ((r = is_ours(d, db_names[0].name, db_names[0].columns, err, errlen)) > 0)
        r = is_ours(d, db_names[1].name, db_names[1].columns, err, errlen);
    if (r <= 0)
        return r;
    buf_t sql = { 0 };
    int rc = buf_appends(&sql, "RENAME TABLE");
    for (size_t i = 0; i < db_n_names && rc == 0; i++) {
        if (!db_names[i].columns || (r = is_ours(d, db_names[i].name, db_names[i].columns, err, errlen)) == 0)
            continue;
        if (r < 0 || buf_appendf(&sql, "%s `%s` TO `%s%s`", *renamed ? "," : "", db_names[i].name, db_prefix(d),
                                 db_names[i].name) < 0)
            rc = -1;
        ++*renamed;
    }
    if (rc < 0 && r > 0)
        snprintf(err, errlen, "out of memory");
    /* backquoted names are sent as written: no prefix is added to either side */
    if (rc == 0 && db_exec_static(d, sql.data, err, errlen) < 0)
        rc = -1;
    buf_free(&sql);
    return rc;
}

/* MySQL has no IF NOT EXISTS on ALTER TABLE ADD COLUMN / ADD INDEX or
 * CREATE INDEX, so a migration cut short and run again meets what it
 * already made: duplicate column (1060), key (1061) or table (1050) means
 * that statement's work is done. */
static int already_applied(unsigned int e)
{
    return e == ER_DUP_FIELDNAME || e == ER_DUP_KEYNAME || e == ER_TABLE_EXISTS_ERROR;
}

/* Run a script of statements, each ending with ';' at the end of a line;
 * lines starting with "--" are comments. */
static int run_script(struct db *d, const char *sql, char *err, size_t errlen)
{
    buf_t stmt = { 0 };
    const char *p = sql;
    int rc = 0;
    while (*p && rc == 0) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *s = p;
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        if (!(len >= 2 && s[0] == '-' && s[1] == '-')) {
            if (buf_append(&stmt, p, nl ? (size_t)(nl - p) : strlen(p)) < 0 || buf_append(&stmt, "\n", 1) < 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            size_t l = stmt.len;
            while (l && (stmt.data[l - 1] == '\n' || stmt.data[l - 1] == ' '))
                l--;
            if (l && stmt.data[l - 1] == ';') {
                stmt.data[l - 1] = '\0';
                if (db_exec_static(d, stmt.data, err, errlen) < 0 && !already_applied(db_errno(d)))
                    rc = -1;
                buf_reset(&stmt);
            }
        }
        p = nl ? nl + 1 : p + strlen(p);
    }
    buf_free(&stmt);
    return rc;
}

/* Apply what is missing; the caller holds the migration lock. 0 / -1. */
static int apply(struct db *d, int *from, int *to, char *err, size_t errlen)
{
    static const struct db_stmt record = DB_STMT(
        "INSERT INTO schema_version (version, applied_at) VALUES (?, UTC_TIMESTAMP())");
    int renamed = 0;
    if (adopt_bare_tables(d, &renamed, err, errlen) < 0)
        return -1;
    if (renamed)
        log_msg(YLOG_INFO, "renamed the %d tables of an install without a table prefix to %s*", renamed,
                db_prefix(d));
    int v = migrate_version(d, err, errlen);
    if (v < 0)
        return -1;
    *from = *to = v;
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
        if (migrations[i].version <= v)
            continue;
        if (run_script(d, migrations[i].sql, err, errlen) < 0)
            return -1;
        MYSQL_BIND p[1];
        long long ver = migrations[i].version;
        db_bind_long(&p[0], &ver);
        if (db_run(d, &record, p, err, errlen) < 0)
            return -1;
        *to = migrations[i].version;
    }
    return 0;
}

/* apply under the migration lock, waited for up to wait_ms; then, if
 * c is given, the config file's keys synchronised under it too. 1 done,
 * 0 another process held the lock all along, -1 error. */
static int locked_apply(struct db *d, const struct conf *c, long wait_ms, int *from, int *to, char *err,
                        size_t errlen)
{
    int got = db_lock(d, MIGRATE_LOCK, wait_ms, err, errlen);
    if (got <= 0)
        return got;
    int rc = apply(d, from, to, err, errlen);
    if (rc == 0 && c && quota_sync_keys(d, c, err, errlen) < 0)
        rc = -1;
    char err2[UTIL_ERRLEN];
    if (db_unlock(d, MIGRATE_LOCK, err2, sizeof err2) < 0 && rc == 0)
        log_msg(YLOG_WARN, "cannot release the migration lock: %s", err2);
    return rc < 0 ? -1 : 1;
}

int migrate_run(struct db *d, int *from, int *to, char *err, size_t errlen)
{
    /* a web process may be migrating: wait for it in steps shorter than
     * the connection's read timeout, up to MIGRATE_CTL_WAIT_S in all */
    for (int waited = 0; waited < MIGRATE_CTL_WAIT_S; waited += 2) {
        int rc = locked_apply(d, NULL, 2000, from, to, err, errlen);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (waited == 0)
            log_msg(YLOG_INFO, "another process is migrating the schema: waiting for it");
    }
    snprintf(err, errlen, "another process held the migration lock for %d s", MIGRATE_CTL_WAIT_S);
    return -1;
}

enum migrate_state migrate_ensure(struct db *d, const struct conf *c, char *err, size_t errlen)
{
    int v = migrate_version(d, err, errlen);
    if (v < 0)
        return MIGRATE_ERROR;
    if (v >= migrate_latest())
        return MIGRATE_READY;
    if (!c->db_auto_migrate && v == 0) {
        snprintf(err, errlen, "the database has no ytcache schema (table prefix \"%s\") and [database]"
                 " auto_migrate is off: run ytcachectl migrate", db_prefix(d));
        return MIGRATE_MISSING;
    }
    if (!c->db_auto_migrate) {
        log_burst(LOG_SLOT_DB, 600, YLOG_WARN, "schema version %d is older than this build's %d and [database]"
                  " auto_migrate is off: run ytcachectl migrate", v, migrate_latest());
        return MIGRATE_READY;
    }
    int from = v, to = v;
    int rc = locked_apply(d, c, c->lock_wait_ms, &from, &to, err, errlen);
    if (rc < 0)
        return MIGRATE_ERROR;
    if (rc == 0) {
        snprintf(err, errlen, "another process is migrating the schema");
        return MIGRATE_BUSY;
    }
    if (to != from)
        log_msg(YLOG_INFO, "schema migrated from version %d to %d", from, to);
    return MIGRATE_READY;
}
