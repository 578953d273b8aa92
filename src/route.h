/* route: what a request asks for: method, size limits, which of the service's routes, which API resource. */
#ifndef YTC_ROUTE_H
#define YTC_ROUTE_H

#include "util.h"

struct conf;
struct http_io;

/* What to do with a request. */
enum route_action {
    ROUTE_ERROR,                 /* answer with the error filled in */
    ROUTE_PREFLIGHT,             /* OPTIONS: CORS preflight */
    ROUTE_API,                   /* a GET or HEAD of the API: resource and qs */
    ROUTE_HEALTH,
    ROUTE_METRICS,
    ROUTE_WEBSUB,                /* any method: the WebSub handler checks it */
};

struct route {
    const char *method;          /* the request's, GET if none */
    const char *qs;              /* the query string, "" if none */
    int is_head;
    int metrics_route;           /* enum metrics_route, as far as it is known */
    char resource[32];           /* ROUTE_API: the resource; "" = the query's endpoint= names it */
};

/* Decide from the request's environment; never fails otherwise. */
enum route_action route_request(const struct conf *c, const struct http_io *io, struct route *rt, struct yerr *e);

#endif
