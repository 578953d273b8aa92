/* breaker: the upstream circuit breaker, shared by all processes and hosts through the database. */
#ifndef YTC_BREAKER_H
#define YTC_BREAKER_H

#include <stddef.h>
#include "upstream.h"

struct conf;
struct db;

struct breaker_ticket {
    int state_seen;        /* 0 closed, 1 open, 2 half-open */
    long failures_seen;
    int probe;             /* this call is the half-open probe */
};

/* 1 the call may go ahead, 0 the breaker is open (*retry_after seconds).
 * A database error lets the call through (the breaker protects Google, not us). */
int breaker_allow(struct db *d, const struct conf *c, struct breaker_ticket *t, long *retry_after);
/* Record the outcome of an allowed call. */
void breaker_record(struct db *d, const struct conf *c, const struct breaker_ticket *t, enum up_class cls);
/* A probe ticket whose request made no call (no quota, ...) hands the probe back. */
void breaker_release(struct db *d, const struct breaker_ticket *t);
/* Read the shared state without changing it (for /health). 0 / -1. */
int breaker_read(struct db *d, int *state, long *failures, char *err, size_t errlen);
/* 1 if this outcome counts as an upstream failure for the breaker. */
int breaker_is_failure(enum up_class cls);

#endif
