/* libFuzzer target: configuration parsing (conf_load on a memory file). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    int fd = memfd_create("ytcache-conf", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[CONF_ERRLEN];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct conf c;
    if (conf_load(&c, path, err, sizeof err) < 0 && strncmp(err, path, strlen(path)) != 0)
        __builtin_trap();       /* every error names the file */
    conf_free(&c);
    close(fd);
    return 0;
}
