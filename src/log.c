/* log: one line per event on stderr (the web server's error log), with a level. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int current_level = YLOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };

void log_set_level(int level)
{
    current_level = level;
}

static void vlog(int level, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "ytcache[%ld]: %s: ", (long)getpid(), names[level]);
    if (n < 0)
        return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* One write per line so lines from several workers do not interleave;
     * control characters from outside data are flattened. */
    size_t len = strlen(line);
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20)
            line[i] = ' ';
    if (len < sizeof line - 1)
        line[len++] = '\n';
    else
        line[len - 1] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
}

void log_msg(int level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void log_burst(int slot, int interval, int level, const char *fmt, ...)
{
    static time_t last[LOG_SLOTS];
    static unsigned long suppressed[LOG_SLOTS];
    if (level > current_level || slot < 0 || slot >= LOG_SLOTS)
        return;
    time_t now = time(NULL);
    if (last[slot] && now - last[slot] < interval) {
        suppressed[slot]++;
        return;
    }
    last[slot] = now;
    if (suppressed[slot]) {
        log_msg(level, "(%lu similar messages suppressed)", suppressed[slot]);
        suppressed[slot] = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}
