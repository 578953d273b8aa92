/* migrate: schema versions: apply sql/schema.sql and later migrations, recorded in schema_version. */
#include "migrate.h"
#include "db.h"
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

int migrate_version(struct db *d, char *err, size_t errlen)
{
    static const struct db_stmt has_table = DB_STMT(
        "SELECT COUNT(*) FROM information_schema.tables"
        " WHERE table_schema = DATABASE() AND table_name = 'schema_version'");
    static const struct db_stmt max_version = DB_STMT("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    long long v;
    if (db_value(d, &has_table, &v, err, errlen) < 0)
        return -1;
    if (v == 0)
        return 0;
    MYSQL_BIND r[1];
    my_bool isnull = 0;
    db_bind_out_long(&r[0], &v, &isnull);
    /* not a cached statement: it cannot be prepared before the table exists */
    v = 0;
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &max_version, NULL, r, err, errlen) < 0)
        return -1;
    int rc = db_rows_next(&rs) == DB_ROW ? (int)v : -1;
    if (rc < 0)
        snprintf(err, errlen, "reading schema_version: no row");
    db_rows_end(&rs);
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

int migrate_run(struct db *d, int *from, int *to, char *err, size_t errlen)
{
    static const struct db_stmt record = DB_STMT(
        "INSERT INTO schema_version (version, applied_at) VALUES (?, UTC_TIMESTAMP())");
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
