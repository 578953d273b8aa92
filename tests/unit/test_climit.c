/* Unit tests: the client identity, which no client can multiply: IPv4 by
 * address, IPv6 by network, X-Forwarded-For only from trusted proxies. */
#include <string.h>
#include "climit.h"
#include "conf.h"
#include "tap.h"

#define PROXIES "127.0.0.1, 10.0.0.0/8, 192.0.2.128/25, fd00::/8, 2001:db8:ff::/48"

static const struct { const char *trusted, *remote, *xff, *want; } cases[] = {
    /* IPv4 by address, in its one spelling */
    { "", "203.0.113.9", NULL, "203.0.113.9" },
    { "", "::ffff:203.0.113.9", NULL, "203.0.113.9" },                   /* IPv4-mapped = the IPv4 client */
    { "", "::FFFF:cb00:7109", NULL, "203.0.113.9" },
    /* IPv6 by /64, however written */
    { "", "2001:db8:1:2::1", NULL, "2001:db8:1:2::/64" },
    { "", "2001:db8:1:2:ffff:ffff:ffff:ffff", NULL, "2001:db8:1:2::/64" },
    { "", "2001:0DB8:0001:0002:0000:0000:0000:0042", NULL, "2001:db8:1:2::/64" },
    { "", "2001:db8:1:3::1", NULL, "2001:db8:1:3::/64" },                 /* the next /64: another client */
    { "", "::1", NULL, "::/64" },
    /* garbage is one fixed identity, never the raw text */
    { "", "not an address", NULL, CLIMIT_INVALID },
    { "", "", NULL, CLIMIT_INVALID },
    { "", NULL, NULL, CLIMIT_INVALID },
    { "", "203.0.113.9 ", NULL, CLIMIT_INVALID },
    { "", "203.0.113.009", NULL, CLIMIT_INVALID },
    { "", "1.2.3.4.5", NULL, CLIMIT_INVALID },
    { "", "fe80::1%eth0", NULL, CLIMIT_INVALID },
    { "", "[2001:db8::1]", NULL, CLIMIT_INVALID },
    { "", "2001:db8::1::2", NULL, CLIMIT_INVALID },
    /* X-Forwarded-For from an untrusted connecting address: ignored */
    { "", "127.0.0.1", "198.51.100.1", "127.0.0.1" },
    { PROXIES, "203.0.113.9", "198.51.100.1", "203.0.113.9" },
    { PROXIES, "10.255.255.255", "198.51.100.1", "198.51.100.1" },
    { PROXIES, "11.0.0.0", "198.51.100.1", "11.0.0.0" },
    { PROXIES, "2001:db8:1::1", "198.51.100.1", "2001:db8:1::/64" },
    /* from a trusted proxy: the rightmost entry that is not a trusted proxy */
    { PROXIES, "127.0.0.1", "198.51.100.1", "198.51.100.1" },
    { PROXIES, "::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1" },      /* mapped proxy address */
    { PROXIES, "127.0.0.1", "203.0.113.66, 198.51.100.1", "198.51.100.1" },           /* forged leftmost */
    { PROXIES, "127.0.0.1", "evil, 1.1.1.1, 198.51.100.1", "198.51.100.1" },          /* forged garbage */
    { PROXIES, "127.0.0.1", "198.51.100.1, 10.1.2.3", "198.51.100.1" },               /* chain */
    { PROXIES, "127.0.0.1", "198.51.100.1, 10.1.2.3, fd12::5, 10.0.0.1", "198.51.100.1" },
    { PROXIES, "127.0.0.1", "\t198.51.100.1 ,10.1.2.3 ", "198.51.100.1" },
    { PROXIES, "127.0.0.1", "10.9.9.9, 10.1.2.3", "10.9.9.9" },          /* all trusted: the leftmost */
    { PROXIES, "127.0.0.1", "2001:db8:5:6:7::8, 10.1.2.3", "2001:db8:5:6::/64" },
    { PROXIES, "fd00::1", "::ffff:198.51.100.1", "198.51.100.1" },
    { PROXIES, "127.0.0.1", "", "127.0.0.1" },
    /* a trusted proxy passing on something that is not an address */
    { PROXIES, "127.0.0.1", "198.51.100.1, unknown", CLIMIT_INVALID },
    { PROXIES, "127.0.0.1", "198.51.100.1,,10.1.2.3", CLIMIT_INVALID },
    { PROXIES, "127.0.0.1", ",10.1.2.3", CLIMIT_INVALID },
    { PROXIES, "127.0.0.1", "198.51.100.1:443", CLIMIT_INVALID },
    /* CIDR edges: 192.0.2.128/25 is .128 to .255; 2001:db8:ff::/48 */
    { PROXIES, "192.0.2.127", "198.51.100.1", "192.0.2.127" },
    { PROXIES, "192.0.2.128", "198.51.100.1", "198.51.100.1" },
    { PROXIES, "192.0.2.255", "198.51.100.1", "198.51.100.1" },
    { PROXIES, "2001:db8:fe:ffff:ffff:ffff:ffff:ffff", "198.51.100.1", "2001:db8:fe:ffff::/64" },
    { PROXIES, "2001:db8:ff:ffff::1", "198.51.100.1", "198.51.100.1" },
    { PROXIES, "2001:db8:100::1", "198.51.100.1", "2001:db8:100::/64" },
    { PROXIES, "fcff:ffff::1", "198.51.100.1", "fcff:ffff::/64" },        /* fd00::/8: fc.. is outside */
    { PROXIES, "fdff:ffff::1", "198.51.100.1", "198.51.100.1" },
    { "0.0.0.0/0", "203.0.113.9", "198.51.100.1", "198.51.100.1" },       /* /0 trusts every IPv4 */
    { "0.0.0.0/0", "2001:db8::1", "198.51.100.1", "2001:db8::/64" },      /* but no IPv6 */
    { "::/0", "2001:db8::1", "198.51.100.1", "198.51.100.1" },            /* and ::/0 every address */
};

START_TEST(client_id)
{
    struct conf c;
    char out[64], err[256];
    conf_defaults(&c);
    ck_assert_msg(conf_set(&c, "quota", "trusted_proxies", cases[_i].trusted, err, sizeof err) == 0, "%s", err);
    climit_client_id(&c, cases[_i].remote, cases[_i].xff, out, sizeof out);
    ck_assert_msg(strcmp(out, cases[_i].want) == 0, "case %d: %s / %s: got \"%s\", want \"%s\"", _i,
                  cases[_i].remote ? cases[_i].remote : "(null)", cases[_i].xff ? cases[_i].xff : "(null)",
                  out, cases[_i].want);
    conf_free(&c);
}
END_TEST

/* Every address of one /64 is one client; other networks are others. */
START_TEST(one_net_one_client)
{
    struct conf c;
    char a[64], b[64], first[64];
    conf_defaults(&c);
    climit_client_id(&c, "2001:db8:aa:bb::", NULL, first, sizeof first);
    for (unsigned i = 0; i < 2000; i++) {
        snprintf(a, sizeof a, "2001:db8:aa:bb:%x:%x:%x:%x", i * 7919 % 65536, i, i * 31 % 65536, 65535 - i);
        climit_client_id(&c, a, NULL, b, sizeof b);
        ck_assert_str_eq(b, first);
        snprintf(a, sizeof a, "2001:db8:aa:%x::1", 0xbc + i);
        climit_client_id(&c, a, NULL, b, sizeof b);
        ck_assert_str_ne(b, first);
    }
    conf_free(&c);
}
END_TEST

/* client_ipv6_prefix moves the boundary; the identity carries it. */
static const struct { const char *prefix, *remote, *want; } prefixes[] = {
    { "48", "2001:db8:1:ffff::1", "2001:db8:1::/48" },
    { "56", "2001:db8:1:2ff::1", "2001:db8:1:200::/56" },
    { "57", "2001:db8:1:2ff::1", "2001:db8:1:280::/57" },
    { "128", "2001:db8:1:2::42", "2001:db8:1:2::42/128" },
    { "32", "2001:db8:1:2::42", "2001:db8::/32" },
    { "32", "198.51.100.1", "198.51.100.1" },
};

START_TEST(ipv6_prefix)
{
    struct conf c;
    char out[64], err[256];
    conf_defaults(&c);
    ck_assert_int_eq(c.client_ipv6_prefix, 64);
    ck_assert_msg(conf_set(&c, "quota", "client_ipv6_prefix", prefixes[_i].prefix, err, sizeof err) == 0, "%s", err);
    climit_client_id(&c, prefixes[_i].remote, NULL, out, sizeof out);
    ck_assert_str_eq(out, prefixes[_i].want);
    conf_free(&c);
}
END_TEST

static const struct { const char *key, *value; } bad_settings[] = {
    { "client_ipv6_prefix", "31" },
    { "client_ipv6_prefix", "129" },
    { "trusted_proxies", "10.0.0.1/8" },           /* bits past the prefix: a typo, not a network */
    { "trusted_proxies", "10.0.0.0/33" },
    { "trusted_proxies", "fd00::/129" },
    { "trusted_proxies", "10.0.0.0/" },
    { "trusted_proxies", "10.0.0.0/x" },
    { "trusted_proxies", "proxy.example" },
    { "trusted_proxies", "127.0.0.1, ::1, 10.0.0.0/8/8" },
    { "trust_forwarded", "1" },
};

START_TEST(bad_setting)
{
    struct conf c;
    char err[256];
    conf_defaults(&c);
    ck_assert_int_eq(conf_set(&c, "quota", bad_settings[_i].key, bad_settings[_i].value, err, sizeof err), -1);
    ck_assert_msg(strstr(err, bad_settings[_i].key) != NULL, "%s", err);
    conf_free(&c);
}
END_TEST

TAP_MAIN("climit", "climit")
{
    tcase_add_loop_test(t, client_id, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(t, one_net_one_client);
    tcase_add_loop_test(t, ipv6_prefix, 0, sizeof prefixes / sizeof prefixes[0]);
    tcase_add_loop_test(t, bad_setting, 0, sizeof bad_settings / sizeof bad_settings[0]);
}
