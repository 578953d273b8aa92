/* ed25519: Ed25519 signatures keyed by a password, as MariaDB's ed25519 authentication computes them. */
#ifndef YTC_ED25519_H
#define YTC_ED25519_H

#include <stddef.h>

#define ED25519_SIG_LEN 64

/* The Ed25519 signature of msg with the key whose expanded secret is
 * SHA-512(password) (RFC 8032 with the password in place of the 32-byte
 * seed: what the server's auth_ed25519 checks). Not constant-time in the
 * password's length only. */
void ed25519_sign_password(unsigned char sig[ED25519_SIG_LEN], const unsigned char *msg, size_t n,
                           const char *password, size_t pwlen);

#endif
