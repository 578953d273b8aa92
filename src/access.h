/* access: [access] rules, what a request may ask for (resources, parameter values, what a search must carry). */
#ifndef YTC_ACCESS_H
#define YTC_ACCESS_H

#include <stddef.h>
#include "util.h"

struct canon;

/* Values per key: a bound, so a config cannot make every request scan forever. */
#define ACCESS_MAX_VALUES 256
#define ACCESS_MAX_VALUE_LEN 256

/* The rules, in the order /metrics and check-config show them. */
enum access_rule {
    AR_RESOURCES, AR_CHANNELID, AR_PLAYLISTID, AR_ID, AR_REGIONCODE, AR_FORUSERNAME, AR_Q,
    AR_SEARCH_REQUIRES, AR__COUNT
};

struct access_list {
    char **v;
    size_t n;
    int set;              /* 0 = no rule: anything goes */
};

/* Default (all zeros): open. */
struct access {
    struct access_list list[AR__COUNT];
};

/* The key of a rule ("resources", "channelId", ...), NULL past the last. */
const char *access_rule_name(size_t rule);
/* One "key = v1,v2,..." of [access]; a repeated key replaces the list. 0, or
 * -1 with a message in err that never repeats the value. */
int access_set(struct access *a, const char *key, const char *value, char *err, size_t errlen);
/* 0 if the canonical request may be asked; else -1 with *rule set and e a
 * 403 "forbidden" naming the rule. */
int access_check(const struct access *a, const struct canon *c, enum access_rule *rule, struct yerr *e);
/* The effective rules, one "key = v1,v2" line each, "(open)" when none. 0 / -1. */
int access_describe(const struct access *a, buf_t *out);
void access_free(struct access *a);

#endif
