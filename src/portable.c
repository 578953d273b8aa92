/* portable: what the self-contained build (make portable) sets up before the client library starts. */
#include "portable.h"

#ifdef YTC_PORTABLE
#include "ed25519.h"

#include <limits.h>
#include <stdarg.h>
#include <mysql.h>
#include <mysql/plugin_auth.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* MariaDB's ed25519 authentication: the server sends a 32-byte nonce, the
 * client answers with its Ed25519 signature under the password's key. */
static int ed25519_auth(MYSQL_PLUGIN_VIO *vio, MYSQL *mysql)
{
    unsigned char *nonce, sig[ED25519_SIG_LEN];
    if (vio->read_packet(vio, &nonce) != 32)
        return CR_ERROR;
    const char *pw = mysql->passwd ? mysql->passwd : "";
    ed25519_sign_password(sig, nonce, 32, pw, strlen(pw));
    return vio->write_packet(vio, sig, sizeof sig) ? CR_ERROR : CR_OK;
}

/* An authentication plugin as mysql/client_plugin.h lays it out (that
 * header includes ma_compress.h, which Debian's libmariadb-dev lacks):
 * MYSQL_CLIENT_PLUGIN_HEADER, then the one function. */
struct auth_plugin {
    int type;
    unsigned int interface_version;
    const char *name;
    const char *author;
    const char *desc;
    unsigned int version[3];
    const char *license;
    void *mysql_api;
    int (*init)(char *, size_t, int, va_list);
    int (*deinit)(void);
    int (*options)(const char *option, const void *);
    int (*authenticate_user)(MYSQL_PLUGIN_VIO *vio, MYSQL *mysql);
};

/* Built in: the connector's client_ed25519.so is linked to the system's
 * libcrypto.so.3, which a host need not have (or have in that version). */
static struct auth_plugin ed25519_plugin = {
    .type = 2,                          /* MYSQL_CLIENT_AUTHENTICATION_PLUGIN */
    .interface_version = 0x0100,        /* its interface version */
    .name = "client_ed25519",
    .author = "ytcache",
    .desc = "Ed25519 authentication, built into the self-contained ytcache",
    .version = { 1, 0, 0 },
    .license = "GPL",
    .authenticate_user = ed25519_auth,
};

static void register_plugins(void)
{
    if (mysql_library_init(0, NULL, NULL) != 0)
        return;                 /* the caller's own call reports it */
    MYSQL *m = mysql_init(NULL);
    if (!m)
        return;
    mysql_client_register_plugin(m, (struct st_mysql_client_plugin *)&ed25519_plugin);
    mysql_close(m);
}

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
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash && !getenv("MARIADB_PLUGIN_DIR")) {
        snprintf(slash, sizeof exe - (size_t)(slash - exe), "/plugin");
        setenv("MARIADB_PLUGIN_DIR", exe, 0);
    }
    register_plugins();
}
#else
void portable_init(void)
{
}
#endif
