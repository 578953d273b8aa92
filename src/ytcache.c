/* ytcache: the responder's main: CGI or FastCGI (inherited socket or --listen), thin by design. */
#include "config.h"
#include "conf.h"
#include "portable.h"
#include "http.h"
#include "log.h"
#include "proxy.h"
#include "ycurl.h"

#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <poll.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: ytcache [--config FILE] [--listen ADDR|PATH] [--workers N]\n"
            "       ytcache --version | --help\n"
            "A caching proxy for the YouTube Data API v3, run as CGI or FastCGI.\n"
            "  --config FILE      configuration (default $YTCACHE_CONFIG, then %s)\n"
            "  --listen ADDR      open a FastCGI socket: HOST:PORT, :PORT or a unix socket path\n"
            "  --workers N        serve from N processes sharing the socket (default 1)\n"
            "Without --listen, a FastCGI socket on fd 0 is used if there is one (spawn-fcgi,\n"
            "mod_fcgid, systemd), else one CGI request is served.\n",
            conf_default_path());
}

/* A misconfigured CGI still answers in JSON; details go to the error log only. */
/* Sanitizer builds exit through exit() so that the leak check runs. */
#if defined(__SANITIZE_ADDRESS__)
#define YTC_FULL_TEARDOWN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define YTC_FULL_TEARDOWN 1
#endif
#endif
#ifndef YTC_FULL_TEARDOWN
#define YTC_FULL_TEARDOWN 0
#endif

static void cgi_fatal(void)
{
    static const char rest[] =
        "Content-Type: application/json; charset=UTF-8\r\n"
        "Cache-Control: no-store\r\n\r\n"
        "{\"error\":{\"code\":500,\"message\":\"ytcache is misconfigured; see the server's error log.\","
        "\"errors\":[{\"message\":\"ytcache is misconfigured; see the server's error log.\","
        "\"domain\":\"ytcache\",\"reason\":\"configurationError\"}]}}";
    /* the phrase from http's table like every other answer; no allocation here */
    char msg[64 + sizeof rest];
    int n = snprintf(msg, sizeof msg, "Status: 500 %s\r\n%s", http_reason(500), rest);
    if (n > 0 && (size_t)n < sizeof msg) {
        ssize_t w = write(1, msg, (size_t)n);
        (void)w;
    }
}

/* A libfcgi process serves one connection at a time. Between requests on
 * a kept-alive connection (nginx fastcgi_keep_conn), wait for whichever
 * comes first: the next request on it, or a new connection on the listening
 * socket; in the second case the idle connection is closed so the new one
 * is not left queued behind it. 0 to go on, -1 to stop. */
static int keep_or_drop(FCGX_Request *req, int listen_fd)
{
    if (req->ipcFd < 0)
        return 0;
    struct pollfd fds[2] = { { req->ipcFd, POLLIN, 0 }, { listen_fd, POLLIN, 0 } };
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR && !stopping)
                continue;
            return -1;
        }
        if (fds[0].revents)
            return 0;           /* a request, or the peer closed: libfcgi reads it */
        if (fds[1].revents & POLLIN) {
            FCGX_Free(req, 1);  /* drop the idle connection; Accept takes the new one */
            return 0;
        }
    }
}

/* libfcgi closes a connection the web server does not keep by shutting
 * down its write side and waiting (up to 2 s) for the server to close
 * first: a round trip through the web server's event loop after every
 * request, during which this process serves nobody. Once the request's
 * input has been read to its end nothing is left to protect: detach the
 * request so that FCGX_Finish_r just closes. */
static void finish_request(FCGX_Request *req)
{
    if (!req->keepConnection && req->in) {
        char sink[1024];
        while (FCGX_GetStr(sink, sizeof sink, req->in) > 0)
            ;
        if (FCGX_HasSeenEOF(req->in) == EOF && FCGX_GetError(req->in) == 0)
            FCGX_Detach(req);
    }
    FCGX_Finish_r(req);     /* the client has its answer; envp is gone now */
}

static int serve_fcgi(const struct conf *c, int sock)
{
    struct proxy p;
    char err[UTIL_ERRLEN];
    if (proxy_init(&p, c, err, sizeof err) < 0) {
        log_msg(YLOG_ERROR, "%s", err);
        return 1;
    }
    if (proxy_keep_hot(&p) < 0)
        log_msg(YLOG_WARN, "out of memory for hot rows; every hit reads the database");
    FCGX_Request req;
    if (FCGX_InitRequest(&req, sock, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_msg(YLOG_ERROR, "FCGX_InitRequest failed");
        proxy_free(&p);
        return 1;
    }
    while (!stopping && keep_or_drop(&req, sock) == 0 && FCGX_Accept_r(&req) >= 0) {
        struct http_io io = { req.out, req.envp, req.in };
        proxy_handle(&p, &io);
        finish_request(&req);
        proxy_after(&p);
    }
    FCGX_Free(&req, 1);
    proxy_free(&p);
    return 0;
}

static int serve_cgi(const struct conf *c)
{
    struct proxy p;
    char err[UTIL_ERRLEN];
    if (proxy_init(&p, c, err, sizeof err) < 0) {
        log_msg(YLOG_ERROR, "%s", err);
        cgi_fatal();
        return 1;
    }
    struct http_io io = { NULL, environ, NULL };
    proxy_handle(&p, &io);
    /* close stdout so the web server can finish the response, then do the
     * deferred work (hit counting, stale refresh) */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, 1);
        close(devnull);
    } else {
        close(1);
    }
    proxy_after(&p);
    proxy_free(&p);
    return 0;
}

/* --workers: a small supervisor that keeps N children accepting on one socket. */
static int supervise(const struct conf *c, int sock, long workers)
{
    pid_t kids[256];
    long n = 0;
    for (; n < workers; n++) {
        pid_t pid = fork();
        if (pid < 0) {
            log_msg(YLOG_ERROR, "fork: %s", strerror(errno));
            break;
        }
        if (pid == 0)
            _exit(serve_fcgi(c, sock));
        kids[n] = pid;
    }
    while (!stopping) {
        int status;
        pid_t dead = waitpid(-1, &status, 0);
        if (dead < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (long i = 0; i < n; i++) {
            if (kids[i] != dead || stopping)
                continue;
            log_msg(YLOG_WARN, "worker %ld exited (status %d); restarting", (long)dead, status);
            pid_t pid = fork();
            if (pid == 0)
                _exit(serve_fcgi(c, sock));
            kids[i] = pid > 0 ? pid : 0;
        }
    }
    for (long i = 0; i < n; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    return 0;
}

/* A core file of a worker holds the API keys, the database password and
 * the requests in flight, and may land where others can read it: none are
 * written unless debug_core_dumps asks. Not dumpable also keeps other
 * processes of our uid from ptrace and /proc/PID/mem. */
static void core_dumps_off(const struct conf *c)
{
    if (c->debug_core_dumps)
        return;
    struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none) < 0)
        log_msg(YLOG_WARN, "cannot turn core dumps off: setrlimit: %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L) < 0)
        log_msg(YLOG_WARN, "cannot turn core dumps off: prctl: %s", strerror(errno));
}

/* SIGTERM/SIGINT/SIGUSR1 stop the accept loop; a closed client is not fatal. */
static void catch_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;     /* no SA_RESTART: accept() must return */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* FastCGI on --listen's socket, or on an inherited one (spawn-fcgi,
 * systemd, mod_fcgid: fd 0); with workers > 1, forked and supervised. */
static int serve(const struct conf *c, const char *listen_addr, long workers)
{
    int sock = 0;
    if (listen_addr) {
        sock = FCGX_OpenSocket(listen_addr, 128);
        if (sock < 0) {
            log_msg(YLOG_ERROR, "cannot listen on %s: %s", listen_addr, strerror(errno));
            return 1;
        }
        log_msg(YLOG_INFO, "listening on %s with %ld worker(s)", listen_addr, workers);
    }
    return workers > 1 ? supervise(c, sock, workers) : serve_fcgi(c, sock);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "workers", required_argument, NULL, 'w' },
        UTIL_COMMON_LONGOPTS,
    };
    const char *config = NULL, *listen_addr = NULL;
    long workers = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:l:w:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'l': listen_addr = optarg; break;
        case 'w':
            if (util_parse_long(optarg, 1, 256, &workers) < 0) {
                fprintf(stderr, "ytcache: --workers must be 1..256\n");
                return 1;
            }
            break;
        case 'V': printf("ytcache %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "ytcache: FCGX_Init failed\n");
        return 1;
    }
    int cgi = !listen_addr && FCGX_IsCGI();
    struct conf c;
    char err[CONF_ERRLEN];
    if (conf_load(&c, config, err, sizeof err) < 0) {
        log_msg(YLOG_ERROR, "%s", err);
        if (cgi)
            cgi_fatal();
        conf_free(&c);
        return 1;
    }
    log_set_level((int)c.log_level);
    core_dumps_off(&c);
    /* libcurl is loaded when the first upstream request is made (ycurl.h) */
    portable_init();
    if (mysql_library_init(0, NULL, NULL) != 0) {
        log_msg(YLOG_ERROR, "cannot initialise the MySQL client library");
        if (cgi)
            cgi_fatal();
        conf_free(&c);
        return 1;
    }
    catch_signals();
    int rc = cgi ? serve_cgi(&c) : serve(&c, listen_addr, workers);
    if (cgi && !YTC_FULL_TEARDOWN) {
        /* the answer is written (unbuffered) and the database connection
         * closed: what exit() would add is the libraries' teardown, which the
         * kernel does anyway (OpenSSL's alone was 0.7 M instructions a hit) */
        fflush(NULL);
        _exit(rc);
    }
    mysql_library_end();
    ycurl_unload();
    conf_free(&c);
    return rc;
}
