/* Unit tests: which address is the client, with and without trusted proxies. */
#include <string.h>
#include "climit.h"
#include "conf.h"
#include "tap.h"

static const struct { long trust; const char *remote, *xff, *want; } cases[] = {
    { 0, "203.0.113.9", "198.51.100.1", "203.0.113.9" },            /* XFF ignored unless trusted */
    { 1, "127.0.0.1", "198.51.100.1", "198.51.100.1" },
    { 1, "127.0.0.1", "10.0.0.1, 198.51.100.1", "198.51.100.1" },   /* hop 1 = rightmost */
    { 2, "127.0.0.1", "198.51.100.7, 192.0.2.1", "198.51.100.7" },
    { 3, "127.0.0.1", "198.51.100.7, 192.0.2.1", "198.51.100.7" },  /* fewer hops than trusted */
    { 2, "127.0.0.1", "evil'; DROP, 192.0.2.1", "192.0.2.1" },      /* garbage stops the walk */
    { 1, "127.0.0.1", "", "127.0.0.1" },
    { 1, "127.0.0.1", "2001:db8::1", "2001:db8::1" },
    { 0, "not an address", NULL, "unknown" },
};

START_TEST(client_id)
{
    struct conf c;
    char out[64];
    conf_defaults(&c);
    c.trust_forwarded = cases[_i].trust;
    climit_client_id(&c, cases[_i].remote, cases[_i].xff, out, sizeof out);
    ck_assert_str_eq(out, cases[_i].want);
    conf_free(&c);
}
END_TEST

TAP_MAIN("climit", "climit")
{
    tcase_add_loop_test(t, client_id, 0, sizeof cases / sizeof cases[0]);
}
