/* Unit tests: query parsing, validation tables and canonicalisation. */
#include <stdio.h>
#include <string.h>
#include "canon.h"
#include "tap.h"

static struct canon c;
static struct yerr e;

static void setup(void) { memset(&c, 0, sizeof c); memset(&e, 0, sizeof e); }
static void teardown(void) { canon_free(&c); }

/* canonical query of a request, or "ERR:<status>:<reason>:<location>" */
static const char *canon_of(const char *res, const char *qs)
{
    static char out[4096];
    if (canon_parse(&c, res, qs, &e) < 0)
        snprintf(out, sizeof out, "ERR:%d:%s:%s", e.status, e.reason, e.location);
    else
        snprintf(out, sizeof out, "%s", c.query.data ? c.query.data : "");
    return out;
}

static void key_of(const char *res, const char *qs, const char *keyid, unsigned char out[CANON_KEY_LEN])
{
    ck_assert_int_eq(canon_parse(&c, res, qs, &e), 0);
    ck_assert_int_eq(canon_cache_key(&c, keyid, out), 0);
}

START_TEST(sorted_and_normalised)
{
    ck_assert_str_eq(canon_of("videos", "part=snippet&id=dQw4w9WgXcQ"), "id=dQw4w9WgXcQ&part=snippet");
    ck_assert_str_eq(canon_of("videos", "id=dQw4w9WgXcQ&part=snippet"), "id=dQw4w9WgXcQ&part=snippet");
    ck_assert_str_eq(canon_of("videos", "part=statistics,%20snippet,+id&id=dQw4w9WgXcQ"),
                     "id=dQw4w9WgXcQ&part=id,snippet,statistics");
    /* part is sorted; an id list keeps the order asked, minus repeats after the first */
    ck_assert_str_eq(canon_of("videos", "part=snippet,snippet,,id&id=bbbbbbbbbbb,aaaaaaaaaaa,bbbbbbbbbbb"),
                     "id=bbbbbbbbbbb,aaaaaaaaaaa&part=id,snippet");
    ck_assert_str_eq(canon_of("videos", "part=id&id=dQw4w9WgXcQ,9bZkp7q19f0,kJQP7kiw5Fk,9bZkp7q19f0,JGwWNGJdvx8"),
                     "id=dQw4w9WgXcQ,9bZkp7q19f0,kJQP7kiw5Fk,JGwWNGJdvx8&part=id");
    ck_assert_str_eq(canon_of("videos", "part=id&id=dQw4w9WgXcQ&id=9bZkp7q19f0,dQw4w9WgXcQ"),
                     "id=dQw4w9WgXcQ,9bZkp7q19f0&part=id");
    ck_assert_str_eq(canon_of("channels", "part=id&id=UCbbbbbbbbbbbbbbbbbbbbbb,UCaaaaaaaaaaaaaaaaaaaaaa"),
                     "id=UCbbbbbbbbbbbbbbbbbbbbbb,UCaaaaaaaaaaaaaaaaaaaaaa&part=id");
}
END_TEST

/* Two orders of the same ids are two entries; neither is the entry the
 * sorted key of the old canonical form named. */
START_TEST(id_order_keys)
{
    unsigned char ab[CANON_KEY_LEN], ba[CANON_KEY_LEN], one[CANON_KEY_LEN], old[CANON_KEY_LEN];
    key_of("videos", "part=id&id=aaaaaaaaaaa,bbbbbbbbbbb", "pool", ab);
    key_of("videos", "part=id&id=bbbbbbbbbbb,aaaaaaaaaaa", "pool", ba);
    ck_assert(memcmp(ab, ba, CANON_KEY_LEN) != 0);
    static const char old_input[] = "videos\npool\nid=aaaaaaaaaaa,bbbbbbbbbbb&part=id";
    util_sha256(old_input, sizeof old_input - 1, old);
    ck_assert(memcmp(ab, old, CANON_KEY_LEN) != 0);
    /* one id: the key is what it was */
    key_of("videos", "part=id&id=aaaaaaaaaaa", "pool", one);
    static const char one_input[] = "videos\npool\nid=aaaaaaaaaaa&part=id";
    util_sha256(one_input, sizeof one_input - 1, old);
    ck_assert(memcmp(one, old, CANON_KEY_LEN) == 0);
}
END_TEST

START_TEST(duplicates)
{
    ck_assert_str_eq(canon_of("videos", "part=snippet&part=id&id=dQw4w9WgXcQ"), "id=dQw4w9WgXcQ&part=id,snippet");
    ck_assert_str_eq(canon_of("videos", "chart=mostPopular&chart=mostPopular&part=id"), "chart=mostPopular&part=id");
    ck_assert_str_eq(canon_of("videos", "chart=mostPopular&part=id&regionCode=US&regionCode=GB"),
                     "ERR:400:invalidParameter:regionCode");
}
END_TEST

START_TEST(dropped_params)
{
    const char *plain = "chart=mostPopular&part=snippet";
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&key=AIzaX&callback=cb&prettyPrint=false&quotaUser=u1&alt=json"), plain);
    ck_assert_str_eq(c.client_key, "AIzaX");
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&ttl=120"), plain);
    ck_assert_int_eq(c.client_ttl, 120);
    ck_assert_str_eq(canon_of(NULL, "endpoint=videos&part=snippet&chart=mostPopular&age=60"), plain);
    ck_assert_str_eq(c.resource, "videos");
    ck_assert_int_eq(c.client_ttl, 60);
    /* out of range: clamped (saturated here, to [min_ttl, max_ttl] by conf), not refused */
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&ttl=-5"), plain);
    ck_assert_int_eq(c.client_ttl, 0);
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&ttl=999999"), plain);
    ck_assert_int_eq(c.client_ttl, 999999);
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&age=99999999999999999999999"), plain);
    ck_assert_int_eq(c.client_ttl, CANON_TTL_MAX);
    /* not a number: refused */
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&ttl=1e9"), "ERR:400:invalidParameter:ttl");
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&ttl=+60"), "ERR:400:invalidParameter:ttl");
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&age="), "ERR:400:invalidParameter:age");
    ck_assert_str_eq(canon_of("videos", "part=snippet&chart=mostPopular&ttl=-"), "ERR:400:invalidParameter:ttl");
}
END_TEST

START_TEST(meaningful_differences)
{
    unsigned char a[CANON_KEY_LEN], b[CANON_KEY_LEN], k1[CANON_KEY_LEN], k2[CANON_KEY_LEN];
    key_of("playlistItems", "part=snippet&playlistId=UUabcdefghij", "pool", a);
    key_of("playlistItems", "part=snippet&playlistId=UUabcdefghij&pageToken=CAUQAA", "pool", b);
    ck_assert(memcmp(a, b, CANON_KEY_LEN) != 0);
    key_of("playlistItems", "part=snippet&playlistId=UUabcdefghij&pageToken=CAoQAA", "pool", k1);
    ck_assert(memcmp(b, k1, CANON_KEY_LEN) != 0);
    /* same request, other key identity: other entry */
    key_of("playlistItems", "part=snippet&playlistId=UUabcdefghij", "fp:0011223344556677", k2);
    ck_assert(memcmp(a, k2, CANON_KEY_LEN) != 0);
    /* same params, other resource: other entry */
    key_of("videos", "part=snippet&id=dQw4w9WgXcQ", "pool", k1);
    key_of("videos", "id=dQw4w9WgXcQ&part=snippet&key=whatever", "pool", k2);
    ck_assert(memcmp(k1, k2, CANON_KEY_LEN) == 0);
}
END_TEST

START_TEST(encoding)
{
    ck_assert_str_eq(canon_of("search", "part=snippet&q=hello+world"), "part=snippet&q=hello%20world");
    ck_assert_str_eq(canon_of("search", "q=%C3%A9t%C3%A9%26co&part=snippet"), "part=snippet&q=%C3%A9t%C3%A9%26co");
    ck_assert_str_eq(canon_of("search", "part=snippet&q=a%2Bb"), "part=snippet&q=a%2Bb");
}
END_TEST

/* Every rejection: status, reason, the parameter it names. */
static const struct { const char *res, *qs, *want; } bad[] = {
    { "videos", "part=snippet&id=dQw4w9WgXcQ&bogus=1", "ERR:400:unknownParameter:bogus" },
    { "videos", "part=snippet&myRating=like", "ERR:400:oauthNotSupported:myRating" },
    { "channels", "part=snippet&mine=true", "ERR:400:oauthNotSupported:mine" },
    { "channels", "part=snippet&managedByMe=true", "ERR:400:oauthNotSupported:managedByMe" },
    { "search", "part=snippet&forMine=true", "ERR:400:oauthNotSupported:forMine" },
    { "activities", "part=snippet&home=true", "ERR:400:oauthNotSupported:home" },
    { "videos", "part=snippet&id=dQw4w9WgXcQ&onBehalfOfContentOwner=x", "ERR:400:oauthNotSupported:onBehalfOfContentOwner" },
    { "videos", "part=snippet&id=short", "ERR:400:invalidParameter:id" },
    { "videos", "part=snippet&id=dQw4w9WgXc'", "ERR:400:invalidParameter:id" },
    { "channels", "part=snippet&id=XX_x5XG1OV2P6uZZ5FSM9Ttw", "ERR:400:invalidParameter:id" },
    { "search", "part=snippet&channelId=UC'%20OR%201=1", "ERR:400:invalidParameter:channelId" },
    { "search", "part=snippet&maxResults=51", "ERR:400:invalidParameter:maxResults" },
    { "search", "part=snippet&maxResults=-1", "ERR:400:invalidParameter:maxResults" },
    { "search", "part=snippet&maxResults=1e3", "ERR:400:invalidParameter:maxResults" },
    { "videos", "part=snippet&chart=mostPopular&maxResults=0", "ERR:400:invalidParameter:maxResults" },
    { "videos", "part=snippet,bogus&id=dQw4w9WgXcQ", "ERR:400:invalidParameter:part" },
    { "videos", "id=dQw4w9WgXcQ", "ERR:400:missingParameter:part" },
    { "videos", "part=,,&id=dQw4w9WgXcQ", "ERR:400:missingParameter:part" },
    { "videos", "part=snippet", "ERR:400:missingParameter:chart" },
    { "videos", "part=snippet&chart=mostPopular&id=dQw4w9WgXcQ", "ERR:400:invalidFilters:id" },
    { "videos", "part=snippet&chart=leastPopular", "ERR:400:invalidParameter:chart" },
    { "search", "part=snippet&q=%zz", "ERR:400:invalidParameter:" },
    { "search", "part=snippet&q=%4", "ERR:400:invalidParameter:" },
    { "search", "part=snippet&q=a%0d%0aX-Injected:%201", "ERR:400:invalidParameter:q" },
    { "search", "part=snippet&q=a%00b", "ERR:400:invalidParameter:q" },
    { "search", "part=snippet&q=a%7fb", "ERR:400:invalidParameter:q" },
    { "search", "part=snippet&q=abc%", "ERR:400:invalidParameter:" },
    { "search", "part=snippet&q=abc%4", "ERR:400:invalidParameter:" },
    { "search", "part=snippet&q%00=abc", "ERR:400:invalidParameter:" },
    { "search", "part=snippet&q=%ff%fe", "ERR:400:invalidParameter:q" },
    { "search", "part=snippet&q=%ed%a0%80", "ERR:400:invalidParameter:q" },
    { "search", "part=snippet&regionCode=USA", "ERR:400:invalidParameter:regionCode" },
    { "search", "part=snippet&type=video,movie", "ERR:400:invalidParameter:type" },
    { "search", "part=snippet&order=random", "ERR:400:invalidParameter:order" },
    { "search", "part=snippet&pageToken=abc%2F..%2F", "ERR:400:invalidParameter:pageToken" },
    { "videos", "part=snippet&id=dQw4w9WgXcQ&fields=items(id;drop)", "ERR:400:invalidParameter:fields" },
    { "bogus", "part=snippet", "ERR:404:notFound:" },
    { NULL, "part=snippet", "ERR:404:notFound:" },
    { NULL, "endpoint=../etc&part=snippet", "ERR:404:notFound:" },
};

START_TEST(rejections)
{
    ck_assert_msg(strcmp(canon_of(bad[_i].res, bad[_i].qs), bad[_i].want) == 0, "%s?%s: got %s, want %s",
                  bad[_i].res ? bad[_i].res : "(compat)", bad[_i].qs, canon_of(bad[_i].res, bad[_i].qs), bad[_i].want);
}
END_TEST

/* Every resource accepts a typical real request. */
static const struct { const char *res, *qs; } good[] = {
    { "activities", "part=snippet,contentDetails&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw&maxResults=25" },
    { "captions", "part=snippet&videoId=dQw4w9WgXcQ" },
    { "channelSections", "part=snippet&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw" },
    { "channels", "part=snippet,statistics&id=UC_x5XG1OV2P6uZZ5FSM9Ttw" },
    { "channels", "part=snippet&forHandle=@GoogleDevelopers" },
    { "commentThreads", "part=snippet,replies&videoId=dQw4w9WgXcQ&maxResults=100&order=relevance" },
    { "comments", "part=snippet&parentId=UgzDE2tasfmrYLyNkGt4AaABAg&textFormat=plainText" },
    { "i18nLanguages", "part=snippet&hl=en_US" },
    { "i18nRegions", "part=snippet&hl=ja" },
    { "playlistItems", "part=snippet,contentDetails&playlistId=UU_x5XG1OV2P6uZZ5FSM9Ttw&maxResults=50&pageToken=EAAaBlBUOkNESQ" },
    { "playlists", "part=snippet&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw" },
    { "search", "part=snippet&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw&order=date&type=video&maxResults=6" },
    { "search", "part=snippet&q=cats&regionCode=JP&relevanceLanguage=ja&publishedAfter=2026-01-01T00:00:00Z&location=37.42307,-122.08427&locationRadius=10km&type=video" },
    { "subscriptions", "part=snippet&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw" },
    { "videoCategories", "part=snippet&regionCode=US" },
    { "videos", "part=snippet,statistics,contentDetails&chart=mostPopular&regionCode=GB&maxResults=50&videoCategoryId=10" },
    { "videos", "part=snippet&id=dQw4w9WgXcQ,9bZkp7q19f0&fields=items(id,snippet/title)" },
};

START_TEST(acceptances)
{
    ck_assert_msg(canon_parse(&c, good[_i].res, good[_i].qs, &e) == 0, "%s?%s rejected: %s (%s)",
                  good[_i].res, good[_i].qs, e.message, e.location);
}
END_TEST

START_TEST(id_list_cap)
{
    char qs[2048] = "part=id&id=";
    for (int i = 0; i < 51; i++) {
        char id[16];
        snprintf(id, sizeof id, "%s%010d", i ? "," : "", i);
        strncat(qs, id, sizeof qs - strlen(qs) - 1);
    }
    ck_assert_str_eq(canon_of("videos", qs), "ERR:400:invalidParameter:id");
}
END_TEST

START_TEST(request_json)
{
    buf_t b = { 0 };
    ck_assert_int_eq(canon_parse(&c, "search", "part=snippet&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw&q=a\"b", &e), 0);
    ck_assert_int_eq(canon_request_json(&c, "pool", &b), 0);
    ck_assert_str_eq(b.data, "{\"endpoint\":\"search\",\"key\":\"pool\",\"params\":{\"channelId\":\"UC_x5XG1OV2P6uZZ5FSM9Ttw\",\"part\":\"snippet\",\"q\":\"a\\\"b\"}}");
    buf_free(&b);
    char fp[32];
    canon_key_fingerprint("AIzaSyFAKE", fp, sizeof fp);
    ck_assert_int_eq(strlen(fp), 19);
    ck_assert(strncmp(fp, "fp:", 3) == 0);
    ck_assert(strstr(fp, "AIza") == NULL);
}
END_TEST

#ifdef YTC_WRAP_REALLOC
/* Linked with -Wl,--wrap=realloc: the library's own realloc calls (buf_t's)
 * come here, and fail while fail_realloc is set, as they would out of memory. */
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static int fail_realloc;

void *__wrap_realloc(void *p, size_t n)
{
    return fail_realloc ? NULL : __real_realloc(p, n);
}

/* Out of memory, the cache key is an error, not the all-zero key every such
 * request would share (and look up and store under). */
START_TEST(cache_key_out_of_memory)
{
    static const unsigned char zero[CANON_KEY_LEN];
    unsigned char k[CANON_KEY_LEN], want[CANON_KEY_LEN];
    buf_t b = { 0 };
    fail_realloc = 1;
    int seam = buf_appends(&b, "x");
    fail_realloc = 0;
    ck_assert_msg(seam == -1, "the realloc seam does not reach the library");
    ck_assert_int_eq(canon_parse(&c, "videos", "part=snippet&id=dQw4w9WgXcQ", &e), 0);
    ck_assert_uint_eq(c.keybuf.cap, 0);     /* hashing has to allocate */
    memset(k, 0xaa, sizeof k);
    fail_realloc = 1;
    int rc = canon_cache_key(&c, "pool", k);
    fail_realloc = 0;
    ck_assert_int_eq(rc, -1);
    ck_assert(memcmp(k, zero, sizeof k) == 0);
    /* with memory again, the same struct makes the right key */
    ck_assert_int_eq(canon_cache_key(&c, "pool", k), 0);
    ck_assert(memcmp(k, zero, sizeof k) != 0);
    key_of("videos", "id=dQw4w9WgXcQ&part=snippet", "pool", want);
    ck_assert(memcmp(k, want, sizeof k) == 0);
}
END_TEST
#endif

TAP_MAIN("canon", "canon")
{
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, sorted_and_normalised);
    tcase_add_test(t, id_order_keys);
    tcase_add_test(t, duplicates);
    tcase_add_test(t, dropped_params);
    tcase_add_test(t, meaningful_differences);
#ifdef YTC_WRAP_REALLOC
    tcase_add_test(t, cache_key_out_of_memory);
#endif
    tcase_add_test(t, encoding);
    tcase_add_loop_test(t, rejections, 0, sizeof bad / sizeof bad[0]);
    tcase_add_loop_test(t, acceptances, 0, sizeof good / sizeof good[0]);
    tcase_add_test(t, id_list_cap);
    tcase_add_test(t, request_json);
}
