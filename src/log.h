/* log: one line per event on stderr (the web server's error log), with a level. */
#ifndef YTC_LOG_H
#define YTC_LOG_H

enum { YLOG_ERROR = 0, YLOG_WARN, YLOG_INFO, YLOG_DEBUG };

void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like log_msg, but at most once per `interval` seconds for this `slot`;
 * the next line says how many were suppressed. Slots: small integers. */
void log_burst(int slot, int interval, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_SLOT_DB 0
#define LOG_SLOT_STORE 1
#define LOG_SLOT_UPSTREAM 2
#define LOG_SLOT_WEBSUB 3
#define LOG_SLOT_ACCESS 4
#define LOG_SLOTS 5

#endif
