/* Unit tests: the table prefix put before ytcache's names in SQL text, and
 * the [database] table_prefix setting's check. */
#include <string.h>
#include "conf.h"
#include "db.h"
#include "tap.h"

static const struct { const char *sql, *want; } cases[] = {
    { "SELECT response FROM cache WHERE cache_key = ?", "SELECT response FROM p_cache WHERE cache_key = ?" },
    /* every name in the list, and a name that only starts like one */
    { "INSERT INTO key_usage (key_id) SELECT id FROM api_keys",
      "INSERT INTO p_key_usage (key_id) SELECT id FROM p_api_keys" },
    { "UPDATE cache_ids, cache2, xcache SET a = 1", "UPDATE p_cache_ids, cache2, xcache SET a = 1" },
    /* qualified names, REFERENCES and constraint names */
    { "SELECT cache.hits FROM ytc.cache", "SELECT p_cache.hits FROM ytc.p_cache" },
    { "CONSTRAINT fk_cache_ids_cache FOREIGN KEY (cache_key) REFERENCES cache (cache_key)",
      "CONSTRAINT p_fk_cache_ids_cache FOREIGN KEY (cache_key) REFERENCES p_cache (cache_key)" },
    /* strings, backquoted names and comments as they are */
    { "SELECT 'cache', \"breaker\", `cache` FROM breaker", "SELECT 'cache', \"breaker\", `cache` FROM p_breaker" },
    { "SELECT 'it''s cache' FROM cache", "SELECT 'it''s cache' FROM p_cache" },
    { "SELECT 'a\\'cache' FROM cache", "SELECT 'a\\'cache' FROM p_cache" },
    { "SELECT 1 -- cache\nFROM cache /* cache */ # cache", "SELECT 1 -- cache\nFROM p_cache /* cache */ # cache" },
    { "RENAME TABLE `cache` TO `p_cache`", "RENAME TABLE `cache` TO `p_cache`" },
    /* unterminated pieces end the text, nothing is read past it */
    { "SELECT 'cache", "SELECT 'cache" },
    { "SELECT 1 /* cache", "SELECT 1 /* cache" },
    { "", "" },
};

START_TEST(prefix_names)
{
    buf_t out = { 0 };
    ck_assert_int_eq(db_prefix_names("p_", cases[_i].sql, &out), 0);
    ck_assert_str_eq(out.data, cases[_i].want);
    buf_free(&out);
}
END_TEST

START_TEST(every_table_listed_once)
{
    for (size_t i = 0; i < db_n_names; i++)
        for (size_t j = i + 1; j < db_n_names; j++)
            ck_assert_str_ne(db_names[i].name, db_names[j].name);
    ck_assert_str_eq(db_names[0].name, "schema_version");  /* migrate.c recognises an install by these two */
    ck_assert_str_eq(db_names[1].name, "cache");
}
END_TEST

static const struct { const char *value; int ok; } prefixes[] = {
    { "", 1 }, { "ytcache_", 1 }, { "Site2_", 1 }, { "abcdefghijklmnopqrstuvwxyz012345", 1 },
    { "abcdefghijklmnopqrstuvwxyz0123456", 0 }, { "a-b", 0 }, { "a b", 0 }, { "x`", 0 }, { "x;", 0 }, { "x.", 0 },
};

START_TEST(prefix_setting)
{
    struct conf c;
    char err[256] = "";
    conf_defaults(&c);
    ck_assert_str_eq(c.db_table_prefix, "ytcache_");
    ck_assert_int_eq(c.db_auto_migrate, 1);
    int rc = conf_set(&c, "database", "table_prefix", prefixes[_i].value, err, sizeof err);
    ck_assert_int_eq(rc, prefixes[_i].ok ? 0 : -1);
    if (prefixes[_i].ok)
        ck_assert_str_eq(c.db_table_prefix, prefixes[_i].value);
    else
        ck_assert_msg(strstr(err, "table_prefix") != NULL, "%s", err);
    conf_free(&c);
}
END_TEST

TAP_MAIN("db", "db")
{
    tcase_add_loop_test(t, prefix_names, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(t, every_table_listed_once);
    tcase_add_loop_test(t, prefix_setting, 0, sizeof prefixes / sizeof prefixes[0]);
}
