/* portable: what the self-contained build (make portable) sets up before the client library starts. */
#include "portable.h"

#ifdef YTC_PORTABLE
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void portable_init(void)
{
    /* The OpenSSL linked in is not the host's: the host's openssl.cnf is
     * written for another version, and reading it (with the providers it
     * names) was most of the connector's start-up. Asked first, "no
     * configuration" holds when the connector initialises OpenSSL. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    /* the connector's plugins (dialog, mysql_clear_password, ...) shipped
     * in plugin/ beside the binary; MARIADB_PLUGIN_DIR set by the user wins */
    char exe[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, PATH_MAX - 1);
    if (n <= 0 || getenv("MARIADB_PLUGIN_DIR"))
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    snprintf(slash, sizeof exe - (size_t)(slash - exe), "/plugin");
    setenv("MARIADB_PLUGIN_DIR", exe, 0);
}
#else
void portable_init(void)
{
}
#endif
