#!/usr/bin/python3
"""Expiry and upstream failures: stale-while-revalidate, stale-if-error,
502/504 JSON errors, negative caching of upstream 400/404, 5xx and broken
answers never cached, the max_response_bytes cap."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

CAP = 65536
CONFIG = {"cache": {"min_ttl": 1, "stale_while_revalidate": 300,
                    "stale_if_error": 86400, "negative_ttl": 300},
          "upstream": {"timeout_ms": 6000, "connect_timeout_ms": 1000,
                       "max_response_bytes": CAP}}
s = yth.Stack("spawn-fcgi", workers=3, config=CONFIG)
fake, db = s.fake, s.db
V = "/youtube/v3/videos"


def like_id(v):
    return "request LIKE %s" % yth.sql_str("%" + v + "%")


def rows_for(v):
    return db.count(like_id(v))


def response_of(v):
    return db.value("SELECT response FROM cache WHERE " + like_id(v))


def backdate(v, seconds_past_expiry):
    db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL (ttl + %d) SECOND, "
           "expires_at = UTC_TIMESTAMP() - INTERVAL %d SECOND WHERE %s"
           % (seconds_past_expiry, seconds_past_expiry, like_id(v)))


# ---------------------------------------------------------------- stale-while-revalidate
S1 = yth.vid("staleSWR001")
p1 = V + "?part=id&id=%s" % S1
r0 = s.get(p1)
is_((r0.status, r0.xcache), (200, "MISS"), "swr: first request MISS")
backdate(S1, 2)     # expired 2 s ago: within stale_while_revalidate
is_(db.count(like_id(S1) + " AND expires_at < UTC_TIMESTAMP()"), 1, "swr: row expired (expires_at < UTC_TIMESTAMP())")
c0 = fake.calls()
fake.mode("ok", delay_ms=2000, pad_bytes=1500)     # the refresh is slow and different
r = s.get(p1)
is_(r.status, 200, "swr: expired row answered 200")
is_(r.xcache, "STALE", "swr: X-Cache STALE")
ok(r.body == r0.body, "swr: the old bytes are served")
is_(r.header("etag"), r0.header("etag"), "swr: the old ETag")
cmp_ok(r.elapsed, "<", 1.5, "swr: answered at once, not after the 2 s upstream call")
is_(yth.wait_for(lambda: fake.calls() - c0 >= 1, 10, what="the background refresh") and fake.calls() - c0, 1,
    "swr: one upstream call after the answer")
ok(yth.wait_for(lambda: len((response_of(S1) or "").encode()) == 1500, 10, what="the refreshed row"),
   "swr: the refresh stored the new upstream answer")
fake.mode("ok")
r = s.get(p1)
ok(r.status == 200 and len(r.body) == 1500, "swr: the next answer is the refreshed copy")
diag("after refresh: X-Cache %s, %d bytes, %d upstream calls" % (r.xcache, len(r.body), fake.calls() - c0))

# ---------------------------------------------------------------- stale-if-error
CONFIG["upstream"]["timeout_ms"] = 1000     # from here on, for the timeout cases
s.reconfigure(**CONFIG)
S2 = yth.vid("staleSIE001")
p2 = V + "?part=snippet&id=" + S2
fake.mode("ok")
good = s.get(p2)
is_((good.status, good.xcache), (200, "MISS"), "sie: row stored")
for mode in ("error500", "quota", "ratelimit", "reset", "badjson", "truncated", "timeout"):
    backdate(S2, 3600)     # beyond stale_while_revalidate, within stale_if_error
    fake.mode(mode)
    c0 = fake.calls()
    r = s.get(p2)
    is_((r.status, r.xcache), (200, "STALE"), "sie: upstream %s -> STALE" % mode)
    ok(r.body == good.body, "sie: upstream %s -> the old bytes" % mode)
    cmp_ok(fake.calls() - c0, ">=", 1, "sie: upstream %s -> upstream was tried" % mode)
    ok((response_of(S2) or "").encode() == good.body, "sie: upstream %s -> row kept" % mode)
    if mode == "quota":
        # quotaExceeded marks the only key's bucket exhausted for the Pacific
        # day: a second expired request is served stale without asking
        backdate(S2, 3600)
        c1 = fake.calls()
        r = s.get(p2)
        is_((r.status, r.xcache, fake.calls() - c1), (200, "STALE", 0),
            "sie: key exhausted by quotaExceeded -> STALE without an upstream call")
        s.reset_quota()     # a new Pacific day, for the cases that follow
backdate(S2, 2 * 86400)     # beyond stale_if_error too
fake.mode("error500")
r = s.get(p2)
yth.check_error(r, 502, "upstreamError", "sie: copy older than stale_if_error, upstream 500")
fake.mode("ok")

# ---------------------------------------------------------------- no copy: 502 / 503 / 504, never cached
# 502 reasons: design.md says upstreamError; ytcache(8) adds upstreamUnreachable
# for transport failures.
BAD_GATEWAY = ("upstreamError", "upstreamUnreachable")
cases = [("error500", 502, "upstreamError"), ("badjson", 502, "upstreamError"),
         ("truncated", 502, BAD_GATEWAY), ("reset", 502, BAD_GATEWAY),
         ("quota", 503, "quotaExhausted"), ("ratelimit", 503, "rateLimited"),
         ("timeout", 504, "upstreamTimeout")]
for mode, status, reason in cases:
    v = yth.vid("fail" + mode + "xxxxxxx")
    fake.mode(mode)
    c0 = fake.calls()
    t0 = time.monotonic()
    r = s.get(V + "?part=id&id=" + v)
    el = time.monotonic() - t0
    yth.check_error(r, status, reason, "upstream %s, nothing cached" % mode)
    if mode == "timeout":
        cmp_ok(el, "<", 5, "timeout: answered soon after timeout_ms (1 s)")
    if status == 503:
        yth.like(r.header("retry-after"), r"^\d+$", "upstream %s: 503 with Retry-After" % mode)
    r = s.get(V + "?part=id&id=" + v)
    is_(r.status, status, "upstream %s: again %d" % (mode, status))
    if mode == "quota":
        # the only key's bucket is exhausted for the day: no second call
        is_(fake.calls() - c0, 1, "upstream quota: the repeat is refused without an upstream call")
        yth.check_error(r, 503, "quotaExhausted", "upstream quota: the repeat")
        s.reset_quota()
    else:
        cmp_ok(fake.calls() - c0, ">=", 2, "upstream %s: not cached, the repeat asked upstream again" % mode)
    is_(rows_for(v), 0, "upstream %s: no row stored" % mode)
fake.mode("ok")

# ---------------------------------------------------------------- max_response_bytes
for size, want in ((CAP - 2000, 200), (CAP * 3, 502)):
    v = yth.vid("cap%dxxxxxxx" % size)
    fake.mode("big", pad_bytes=size)
    r = s.get(V + "?part=id&id=" + v)
    if want == 200:
        is_((r.status, r.xcache, len(r.body)), (200, "MISS", size), "%d-byte answer under the cap: passed on" % size)
        is_(rows_for(v), 1, "%d-byte answer under the cap: stored" % size)
    else:
        yth.check_error(r, 502, "upstreamTooLarge", "%d-byte answer over max_response_bytes=%d" % (size, CAP))
        # the request's doing, not Google's failure: our error kept for negative_ttl, not Google's bytes
        is_(db.sql("SELECT status, LENGTH(response) < 1000 FROM cache WHERE %s" % like_id(v)), [["502", "1"]],
            "answer over the cap: our short 502 error stored, not the answer")
fake.mode("ok")

# ---------------------------------------------------------------- negative caching of upstream 400 / 404
for mode, status, reason in (("notfound", 404, "videoNotFound"), ("badrequest", 400, "invalidPageToken")):
    v = yth.vid("neg" + mode + "xxxxxxx")
    path = V + "?part=snippet&id=" + v
    fake.mode(mode)
    c0 = fake.calls()
    r = s.get(path)
    is_(r.status, status, "upstream %d: passed through" % status)
    j = r.json() or {}
    errs = (j.get("error") or {}).get("errors") or [{}]
    is_(errs[0].get("reason"), reason, "upstream %d: Google's own error body passed through" % status)
    fake.mode("ok")    # would answer 200 now: a repeat must not ask
    r2 = s.get(path)
    is_(r2.status, status, "upstream %d: repeat answered %d" % (status, status))
    ok(r2.body == r.body, "upstream %d: repeat has the same bytes" % status)
    is_(r2.xcache, "HIT", "upstream %d: repeat is a HIT" % status)
    is_(fake.calls() - c0, 1, "upstream %d: repeat made no upstream call" % status)
    is_(db.sql("SELECT status, ttl FROM cache WHERE " + like_id(v)), [[str(status), "300"]],
        "upstream %d: stored with negative_ttl" % status)

# ------------------------------------------------ the developer policies' 30 days
# A row fetched 31 days ago is never served, not even as stale when
# upstream fails, whatever its expiry says.
S9 = yth.vid("stalePolicy1")
p9 = V + "?part=id&id=%s" % S9
is_(s.get(p9).xcache, "MISS", "policy: row stored")
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL 31 DAY, "
       "expires_at = UTC_TIMESTAMP() - INTERVAL 60 SECOND WHERE " + like_id(S9))
fake.mode("error500")
r = s.get(p9)
yth.check_error(r, 502, "upstreamError", "policy: a copy fetched 31 days ago is not served stale")
fake.mode("ok")
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL 31 DAY, "
       "expires_at = UTC_TIMESTAMP() + INTERVAL 1 HOUR WHERE " + like_id(S9))
c0 = fake.calls()
r = s.get(p9)
is_((r.status, r.xcache), (200, "MISS"), "policy: an unexpired row fetched 31 days ago is not a HIT")
is_(fake.calls() - c0, 1, "policy: it is fetched again")

yth.done_testing()
