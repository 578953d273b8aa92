/* Unit tests: WebSub Atom parsing (real-looking and hostile feeds from tests/data/websub) and signatures. */
#include <stdio.h>
#include <string.h>
#include "websub.h"
#include "tap.h"

static char body[65536];
static size_t blen;
static struct websub_entry e[WEBSUB_MAX_ENTRIES];
static size_t n;
static char err[UTIL_ERRLEN];

static int parse_file(const char *name)
{
    char rel[128], path[1024];
    snprintf(rel, sizeof rel, "websub/%s", name);
    FILE *fp = fopen(tap_data(rel, path, sizeof path), "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    blen = fread(body, 1, sizeof body, fp);
    fclose(fp);
    return websub_parse_atom(body, blen, e, WEBSUB_MAX_ENTRIES, &n, err, sizeof err);
}

START_TEST(upload)
{
    ck_assert_int_eq(parse_file("upload.xml"), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(e[0].video_id, "dQw4w9WgXcQ");
    ck_assert_str_eq(e[0].channel_id, "UC_x5XG1OV2P6uZZ5FSM9Ttw");
    ck_assert_int_eq(e[0].deleted, 0);
}
END_TEST

START_TEST(deleted)
{
    ck_assert_int_eq(parse_file("deleted.xml"), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(e[0].video_id, "9bZkp7q19f0");
    ck_assert_str_eq(e[0].channel_id, "UC_x5XG1OV2P6uZZ5FSM9Ttw");
    ck_assert_int_eq(e[0].deleted, 1);
}
END_TEST

static const struct { const char *file, *why; } hostile[] = {
    { "billion_laughs.xml", "DOCTYPE not allowed" },
    { "external_entity.xml", "DOCTYPE not allowed" },
    { "malformed.xml", "malformed feed" },
};

START_TEST(refused)
{
    ck_assert_int_eq(parse_file(hostile[_i].file), -1);
    ck_assert_int_eq(n, 0);
    ck_assert_msg(strstr(err, hostile[_i].why) != NULL, "%s: %s", hostile[_i].file, err);
}
END_TEST

START_TEST(bad_ids_dropped)
{
    ck_assert_int_eq(parse_file("bad_ids.xml"), 0);
    ck_assert_int_eq(n, 1);            /* only the entry whose ids have the right shape */
    ck_assert_str_eq(e[0].video_id, "9bZkp7q19f0");
    ck_assert_str_eq(e[0].channel_id, "");
}
END_TEST

START_TEST(signature)
{
    /* HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") */
    static const char msg[] = "The quick brown fox jumps over the lazy dog";
    ck_assert(websub_signature_ok("key", msg, sizeof msg - 1, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"));
    ck_assert(websub_signature_ok("key", msg, sizeof msg - 1, "sha1=DE7C9B85B8B78AA6BC8A7A36F70A90701C9DB4D9"));
    ck_assert(!websub_signature_ok("key", msg, sizeof msg - 1, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d8"));
    ck_assert(!websub_signature_ok("key", msg, sizeof msg - 2, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"));
    ck_assert(!websub_signature_ok("yek", msg, sizeof msg - 1, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"));
    ck_assert(!websub_signature_ok("key", msg, sizeof msg - 1, "sha256=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"));
    ck_assert(!websub_signature_ok("key", msg, sizeof msg - 1, "sha1=de7c"));
    ck_assert(!websub_signature_ok("key", msg, sizeof msg - 1, "sha1=zz7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"));
    ck_assert(!websub_signature_ok("key", msg, sizeof msg - 1, NULL));
    ck_assert(!websub_signature_ok("", msg, sizeof msg - 1, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"));
}
END_TEST

/* The callback's path token is the last segment after /websub/, under any mount. */
START_TEST(path_token)
{
    char t[WEBSUB_TOKEN_LEN + 1];
    const char *tok = "0123456789abcdef0123456789abcdef";
    ck_assert_str_eq(websub_path_token("/websub/0123456789abcdef0123456789abcdef", t, sizeof t), tok);
    ck_assert_str_eq(websub_path_token("/youtube/v3/websub/0123456789abcdef0123456789abcdef/?channel=x", t,
                                       sizeof t), tok);
    ck_assert(websub_path_token("/websub", t, sizeof t) == NULL);
    ck_assert(websub_path_token("/websub/", t, sizeof t) == NULL);
    ck_assert(websub_path_token("/websub?channel=x", t, sizeof t) == NULL);
    ck_assert(websub_path_token("/websub/a/b", t, sizeof t) == NULL);
    ck_assert(websub_path_token("/websub/0123456789abcdef0123456789abcdef0", t, sizeof t) == NULL);   /* too long */
    ck_assert(websub_path_token(NULL, t, sizeof t) == NULL);
}
END_TEST

TAP_MAIN("websub", "websub")
{
    tcase_add_test(t, path_token);
    tcase_add_test(t, upload);
    tcase_add_test(t, deleted);
    tcase_add_loop_test(t, refused, 0, sizeof hostile / sizeof hostile[0]);
    tcase_add_test(t, bad_ids_dropped);
    tcase_add_test(t, signature);
}
