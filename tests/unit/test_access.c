/* Unit tests: [access] rules, table-driven: which requests a rule set lets
 * through and which rule refuses the others; and which lists conf refuses. */
#include <stdio.h>
#include <string.h>
#include "access.h"
#include "canon.h"
#include "tap.h"

#define CH "UC_x5XG1OV2P6uZZ5FSM9Ttw"
#define UU "UU_x5XG1OV2P6uZZ5FSM9Ttw"
/* the README's site that only shows its own channel */
#define LOCK "resources=search,playlistItems,videos,channels|channelId=" CH "|playlistId=" UU \
             "|search_requires=channelId|id=dQw4w9WgXcQ,9bZkp7q19f0|q=cats,dogs"

static const struct { const char *rules, *resource, *qs; int want; } cases[] = {
    /* no rules: everything open */
    { "", "search", "part=snippet&q=anything", -1 },
    { "", "commentThreads", "part=snippet&videoId=dQw4w9WgXcQ", -1 },
    /* the lockdown: its own queries pass */
    { LOCK, "search", "part=snippet&channelId=" CH, -1 },
    { LOCK, "search", "part=snippet&channelId=" CH "&q=cats", -1 },
    { LOCK, "playlistItems", "part=snippet&playlistId=" UU, -1 },
    { LOCK, "videos", "part=snippet&id=dQw4w9WgXcQ", -1 },
    { LOCK, "videos", "part=snippet&id=9bZkp7q19f0,dQw4w9WgXcQ", -1 },
    { LOCK, "channels", "part=snippet&id=" CH, AR_ID },
    { LOCK, "videos", "part=snippet&chart=mostPopular", -1 },
    /* and refuses the rest, naming the rule */
    { LOCK, "commentThreads", "part=snippet&videoId=dQw4w9WgXcQ", AR_RESOURCES },
    { LOCK, "search", "part=snippet&channelId=UCzzzzzzzzzzzzzzzzzzzzzz", AR_CHANNELID },
    { LOCK, "search", "part=snippet", AR_SEARCH_REQUIRES },
    { LOCK, "search", "part=snippet&q=cats", AR_SEARCH_REQUIRES },
    { LOCK, "search", "part=snippet&channelId=" CH "&q=birds", AR_Q },
    { LOCK, "search", "part=snippet&channelId=" CH "&q=Cats", AR_Q },            /* exact, case and all */
    { LOCK, "playlistItems", "part=snippet&playlistId=PLother", AR_PLAYLISTID },
    { LOCK, "videos", "part=snippet&id=dQw4w9WgXcQ,aaaaaaaaaaa", AR_ID },        /* one unlisted id */
    { LOCK, "videos", "part=snippet&id=aaaaaaaaaaa,dQw4w9WgXcQ", AR_ID },
    /* a rule only constrains requests that carry its parameter */
    { "regionCode=US,DE", "videos", "part=snippet&chart=mostPopular&regionCode=DE", -1 },
    { "regionCode=US,DE", "videos", "part=snippet&chart=mostPopular&regionCode=FR", AR_REGIONCODE },
    { "regionCode=US,DE", "videos", "part=snippet&chart=mostPopular", -1 },
    { "forUsername=GoogleDevelopers", "channels", "part=snippet&forUsername=GoogleDevelopers", -1 },
    { "forUsername=GoogleDevelopers", "channels", "part=snippet&forUsername=other", AR_FORUSERNAME },
    /* search_requires: any one of the named parameters */
    { "search_requires=channelId,q", "search", "part=snippet&q=x", -1 },
    { "search_requires=channelId,q", "search", "part=snippet&regionCode=US", AR_SEARCH_REQUIRES },
    { "search_requires=channelId", "videos", "part=snippet&chart=mostPopular", -1 },
    /* the last line of a key wins */
    { "channelId=UCa|channelId=" CH, "search", "part=snippet&channelId=" CH, -1 },
};

/* "k=v|k=v" into a; 0, or -1 with err. */
static int set_rules(struct access *a, const char *rules, char *err, size_t errlen)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", rules);
    for (char *save = NULL, *kv = strtok_r(buf, "|", &save); kv; kv = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if (access_set(a, kv, eq + 1, err, errlen) < 0)
            return -1;
    }
    return 0;
}

START_TEST(rules)
{
    struct access a = { 0 };
    struct canon c = { 0 };
    struct yerr e = { 0 };
    char err[256];
    ck_assert_msg(set_rules(&a, cases[_i].rules, err, sizeof err) == 0, "case %d: %s", _i, err);
    ck_assert_msg(canon_parse(&c, cases[_i].resource, cases[_i].qs, &e) == 0, "case %d: %s", _i, e.message);
    enum access_rule rule = AR__COUNT;
    int rc = access_check(&a, &c, &rule, &e);
    if (cases[_i].want < 0) {
        ck_assert_msg(rc == 0, "case %d: refused by %s: %s", _i, access_rule_name(rule), e.message);
    } else {
        ck_assert_msg(rc == -1 && (int)rule == cases[_i].want, "case %d: rc %d rule %d", _i, rc, (int)rule);
        ck_assert_int_eq(e.status, 403);
        ck_assert_str_eq(e.reason, "forbidden");
        ck_assert_msg(strstr(e.message, "[access]") && strstr(e.message, access_rule_name(rule)), "%s",
                      e.message);
        ck_assert_msg(!strstr(e.message, "aaaaaaaaaaa") && !strstr(e.message, "UCzzzz"), "echoes the value");
    }
    canon_free(&c);
    access_free(&a);
}
END_TEST

static const struct { const char *key, *value; } bad[] = {
    { "resources", "videos,nonsense" },
    { "resources", "" },
    { "channelId", "UCa,,UCb" },
    { "channelId", "UCa,\x01" },
    { "search_requires", "channel-Id" },
    { "videoCategoryId", "10" },
    { "Resources", "videos" },
};

START_TEST(bad_lists)
{
    struct access a = { 0 };
    char err[256] = "";
    ck_assert_int_eq(access_set(&a, bad[_i].key, bad[_i].value, err, sizeof err), -1);
    ck_assert_msg(err[0] && !strstr(err, "nonsense") && !strstr(err, "UCa"), "case %d: %s", _i, err);
    access_free(&a);
}
END_TEST

/* At most ACCESS_MAX_VALUES values a key; the bound itself is fine. */
START_TEST(bounded)
{
    struct access a = { 0 };
    char err[256], v[ACCESS_MAX_VALUES * 8 + 16] = "";
    for (int i = 0; i < ACCESS_MAX_VALUES; i++)
        snprintf(v + strlen(v), sizeof v - strlen(v), "%sv%d", i ? "," : "", i);
    ck_assert_msg(access_set(&a, "id", v, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(a.list[AR_ID].n, ACCESS_MAX_VALUES);
    strcat(v, ",one");
    ck_assert_int_eq(access_set(&a, "id", v, err, sizeof err), -1);
    ck_assert_uint_eq(a.list[AR_ID].n, ACCESS_MAX_VALUES);    /* the old list stays */
    buf_t out = { 0 };
    ck_assert_int_eq(access_describe(&a, &out), 0);
    ck_assert(strncmp(out.data, "id = v0,v1,", 11) == 0);
    buf_free(&out);
    access_free(&a);
    ck_assert_int_eq(access_describe(&a, &out), 0);
    ck_assert_str_eq(out.data, "(open: no rules)\n");
    buf_free(&out);
}
END_TEST

TAP_MAIN("access", "access")
{
    tcase_add_loop_test(t, rules, 0, sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(t, bad_lists, 0, sizeof bad / sizeof bad[0]);
    tcase_add_test(t, bounded);
}
