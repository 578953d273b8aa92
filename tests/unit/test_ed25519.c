/* test_ed25519: the built-in client_ed25519's signatures (RFC 8032, and MariaDB's password-keyed form). */
#include "ed25519.h"
#include "util.h"

#include <string.h>

#include "tap.h"

static void sig_hex(const unsigned char *msg, size_t n, const char *pw, size_t pwlen, char out[129])
{
    unsigned char sig[ED25519_SIG_LEN];
    ed25519_sign_password(sig, msg, n, pw, pwlen);
    util_hex(sig, sizeof sig, out);
}

START_TEST(rfc8032)
{
    /* RFC 8032 7.1 TEST 1 and TEST 2: a 32-byte password is the seed */
    unsigned char seed[32], m1 = 0x72;
    char got[129];
    ck_assert_int_eq(util_unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", 64, seed), 0);
    sig_hex((const unsigned char *)"", 0, (const char *)seed, sizeof seed, got);
    ck_assert_str_eq(got, "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
                          "6bd25bf5f0595bbe24655141438e7a100b");
    ck_assert_int_eq(util_unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", 64, seed), 0);
    sig_hex(&m1, 1, (const char *)seed, sizeof seed, got);
    ck_assert_str_eq(got, "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d"
                          "8c387b2eaeb4302aeeb00d291612bb0c00");
}
END_TEST

START_TEST(passwords)
{
    /* what the server's auth_ed25519 checks for a 32-byte nonce, from an
     * independent implementation of RFC 8032 with SHA-512(password) */
    unsigned char nonce[32];
    char got[129];
    for (int i = 0; i < 32; i++)
        nonce[i] = (unsigned char)i;
    sig_hex(nonce, sizeof nonce, "ed-secret-1", 11, got);
    ck_assert_str_eq(got, "c5a3d9d7edee88e38077e7a0f4b7ce238d8cd83eaedc2ffc8097a3dcfa6654b8b5d7e21540a110516f481303f128e0"
                          "b11d6986494b601efb7c4d32147332760e");
    for (int i = 0; i < 32; i++)
        nonce[i] = (unsigned char)(100 + i);
    sig_hex(nonce, sizeof nonce, "", 0, got);
    ck_assert_str_eq(got, "7b84c95e25d8ad9d23463e7da22e708c8097da5f924c8e4a4c851481ad3346e37cee3f839806400279679f69d12a2e"
                          "b1c7a9ba89b0b557777bdbafc13d0b4403");
}
END_TEST

TAP_MAIN("ed25519", "ed25519")
{
    tcase_add_test(t, rfc8032);
    tcase_add_test(t, passwords);
}
