/* portable: what the self-contained build (make portable) sets up before the client library starts. */
#ifndef YTC_PORTABLE_H
#define YTC_PORTABLE_H

/* In the self-contained build: keep the built-in OpenSSL from reading the
 * host's openssl.cnf, point the client library at the plugins shipped
 * beside the binary and register the built-in client_ed25519 (it
 * initialises the client library). Nothing in the ordinary build. Call
 * before mysql_library_init. */
void portable_init(void);

#endif
