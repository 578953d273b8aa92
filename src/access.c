/* access: [access] rules, what a request may ask for (resources, parameter values, what a search must carry). */
#include "access.h"
#include "canon.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index = enum access_rule; the parameter rules' key is the parameter's name. */
static const char *const rule_names[AR__COUNT] = {
    [AR_RESOURCES] = "resources",     [AR_CHANNELID] = "channelId", [AR_PLAYLISTID] = "playlistId",
    [AR_ID] = "id",                   [AR_REGIONCODE] = "regionCode", [AR_FORUSERNAME] = "forUsername",
    [AR_Q] = "q",                     [AR_SEARCH_REQUIRES] = "search_requires",
};

const char *access_rule_name(size_t rule)
{
    return rule < AR__COUNT ? rule_names[rule] : NULL;
}

static void free_list(struct access_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

void access_free(struct access *a)
{
    for (size_t i = 0; i < AR__COUNT; i++)
        free_list(&a->list[i]);
}

/* A parameter name for search_requires: what canon could hold. */
static int param_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

/* One list element of rule r: 0, or -1 with err set. */
static int check_value(enum access_rule r, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0 || n > ACCESS_MAX_VALUE_LEN) {
        snprintf(err, errlen, "an empty or over-long value in the list");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(err, errlen, "a control character in a value");
            return -1;
        }
    char name[40] = "";
    if (n < sizeof name)
        memcpy(name, s, n);
    if (r == AR_RESOURCES && (n >= sizeof name || !canon_resource_known(name))) {
        snprintf(err, errlen, "a resource ytcache does not serve");
        return -1;
    }
    if (r == AR_SEARCH_REQUIRES && !param_name_ok(s, n)) {
        snprintf(err, errlen, "not a parameter name");
        return -1;
    }
    return 0;
}

/* Split "v1,v2,..." (elements trimmed) into l. 0, or -1 with err set. */
static int parse_list(enum access_rule r, const char *value, struct access_list *l, char *err, size_t errlen)
{
    const char *p = value;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        if (check_value(r, p, n, err, errlen) < 0)
            return -1;
        if (l->n >= ACCESS_MAX_VALUES) {
            snprintf(err, errlen, "more than %d values", ACCESS_MAX_VALUES);
            return -1;
        }
        char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
        if (!nv || !(nv[l->n] = malloc(n + 1))) {
            if (nv)
                l->v = nv;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        l->v = nv;
        memcpy(l->v[l->n], p, n);
        l->v[l->n++][n] = '\0';
        if (!end)
            return 0;
        p = end + 1;
    }
}

int access_set(struct access *a, const char *key, const char *value, char *err, size_t errlen)
{
    size_t r;
    for (r = 0; r < AR__COUNT; r++)
        if (strcmp(rule_names[r], key) == 0)
            break;
    if (r == AR__COUNT) {
        snprintf(err, errlen, "unknown key in [access]");
        return -1;
    }
    struct access_list l = { 0 };
    if (parse_list((enum access_rule)r, value, &l, err, errlen) < 0) {
        free_list(&l);
        return -1;
    }
    free_list(&a->list[r]);
    a->list[r] = l;
    a->list[r].set = 1;
    return 0;
}

static int listed(const struct access_list *l, const char *s, size_t n)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == n && memcmp(l->v[i], s, n) == 0)
            return 1;
    return 0;
}

/* Every comma-separated element of v is listed (id); other parameters are one value. */
static int value_allowed(enum access_rule r, const struct access_list *l, const char *v)
{
    if (r != AR_ID)
        return listed(l, v, strlen(v));
    for (;;) {
        const char *end = strchr(v, ',');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        if (!listed(l, v, n))
            return 0;
        if (!end)
            return 1;
        v = end + 1;
    }
}

/* The message names the rule, not the value: it is the client's own text. */
static int refuse(enum access_rule r, enum access_rule *rule, struct yerr *e, const char *location)
{
    *rule = r;
    if (r == AR_RESOURCES)
        yerr_set(e, 403, "forbidden", "", "This resource is not allowed by [access] resources.");
    else if (r == AR_SEARCH_REQUIRES)
        yerr_set(e, 403, "forbidden", "", "A search without one of the parameters of [access] search_requires"
                 " is not allowed.");
    else
        yerr_set(e, 403, "forbidden", location, "%s is not allowed by [access] %s.", location, location);
    return -1;
}

int access_check(const struct access *a, const struct canon *c, enum access_rule *rule, struct yerr *e)
{
    const struct access_list *res = &a->list[AR_RESOURCES];
    if (res->set && !listed(res, c->resource, strlen(c->resource)))
        return refuse(AR_RESOURCES, rule, e, "");
    for (size_t r = AR_CHANNELID; r <= AR_Q; r++) {
        if (!a->list[r].set)
            continue;    /* open: the hit path pays nothing for rules it has not got */
        const char *v = canon_get(c, rule_names[r]);
        if (v && !value_allowed((enum access_rule)r, &a->list[r], v))
            return refuse((enum access_rule)r, rule, e, rule_names[r]);
    }
    const struct access_list *req = &a->list[AR_SEARCH_REQUIRES];
    if (req->set && strcmp(c->resource, "search") == 0) {
        size_t i;
        for (i = 0; i < req->n; i++)
            if (canon_get(c, req->v[i]))
                break;
        if (i == req->n)
            return refuse(AR_SEARCH_REQUIRES, rule, e, "");
    }
    return 0;
}

int access_describe(const struct access *a, buf_t *out)
{
    int rc = 0, any = 0;
    for (size_t r = 0; r < AR__COUNT; r++) {
        const struct access_list *l = &a->list[r];
        if (!l->set)
            continue;
        any = 1;
        rc |= buf_appendf(out, "%s = ", rule_names[r]);
        for (size_t i = 0; i < l->n; i++)
            rc |= buf_appendf(out, "%s%s", i ? "," : "", l->v[i]);
        rc |= buf_appends(out, "\n");
    }
    if (!any)
        rc |= buf_appends(out, "(open: no rules)\n");
    return rc ? -1 : 0;
}
