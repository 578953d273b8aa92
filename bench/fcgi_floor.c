/* bench/fcgi_floor.c -- the FastCGI floor of bench/run: a libfcgi responder
 * that answers from memory, with no database, no parsing and no hashing.
 *
 *     fcgi_floor QUERY_STRING=FILE ...      (on a FastCGI socket at fd 0)
 *
 * A request whose QUERY_STRING is one of the given ones gets that file's
 * bytes with ytcache's headers; anything else a 404. Whatever ytcache-FastCGI
 * costs above this is ytcache's own; what this costs is the price of the
 * FastCGI hop itself (nginx <-> one process per connection). With
 * FLOOR_LINGER set it closes connections the way FCGX_Finish_r does by
 * default (shutdown, then wait for the web server to close first);
 * otherwise it detaches the finished request so the close is a plain close.
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry { const char *qs; char *data; size_t len; };

int main(int argc, char **argv)
{
    struct entry *e = calloc((size_t)argc, sizeof *e);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        char *sep = strstr(argv[i], "=/");      /* QUERY_STRING=/path/to/file */
        if (!sep)
            continue;
        *sep = '\0';
        FILE *f = fopen(sep + 1, "rb");
        if (!f) {
            perror(sep + 1);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        rewind(f);
        char body[256];
        int hl = snprintf(body, sizeof body, "Status: 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
                          "Content-Length: %ld\r\nX-Cache: HIT\r\nAge: 0\r\nCache-Control: public, max-age=3600\r\n\r\n", sz);
        e[n].data = malloc((size_t)hl + (size_t)sz);
        memcpy(e[n].data, body, (size_t)hl);
        if (fread(e[n].data + hl, 1, (size_t)sz, f) != (size_t)sz) {
            perror(sep + 1);
            return 1;
        }
        fclose(f);
        e[n].len = (size_t)hl + (size_t)sz;
        e[n].qs = argv[i];
        n++;
    }
    int linger = getenv("FLOOR_LINGER") != NULL;
    static const char nf[] = "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n";
    FCGX_Init();
    FCGX_Request req;
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        const char *qs = FCGX_GetParam("QUERY_STRING", req.envp);
        int i = 0;
        while (i < n && !(qs && strcmp(qs, e[i].qs) == 0))
            i++;
        if (i < n)
            FCGX_PutStr(e[i].data, (int)e[i].len, req.out);
        else
            FCGX_PutStr(nf, (int)sizeof nf - 1, req.out);
        if (!linger && !req.keepConnection) {
            char sink[4096];
            while (FCGX_GetStr(sink, sizeof sink, req.in) > 0)
                ;
            FCGX_Detach(&req);
        }
        FCGX_Finish_r(&req);
    }
    return 0;
}
