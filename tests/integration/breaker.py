#!/usr/bin/python3
"""The shared upstream circuit breaker (design.md, "Quota economy"):
breaker_failures consecutive upstream failures (5xx, timeout, connection,
bad bodies) within breaker_window open it; while open a miss makes no
upstream call and answers 503 upstreamUnavailable with Retry-After (or a
stale copy); after breaker_cooldown exactly one probe goes upstream
(half-open): a failing probe opens it again, a good one closes it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag, reason  # noqa: E402

QUOTA = {"breaker_failures": 3, "breaker_window": "60s", "breaker_cooldown": "2s"}
s = yth.Stack("spawn-fcgi", workers=4, config={"quota": QUOTA})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=id&id="
n = [0]


def miss():
    n[0] += 1
    return s.get(V + yth.vid("breaker%04d" % n[0]))


def unavailable(r, label):
    yth.check_error(r, 503, "upstreamUnavailable", label)
    ra = r.header("retry-after") or ""
    ok(ra.isdigit() and 1 <= int(ra) <= 2, "%s: Retry-After %s (1..2 s: the cool-down)" % (label, ra))


def cooled_down():
    """Poll the shared breaker row until its cool-down (2 s) is over."""
    return yth.wait_for(lambda: db.value(
        "SELECT state = 1 AND opened_at <= NOW(3) - INTERVAL 2 SECOND FROM breaker WHERE name = 'upstream'") == "1",
        10, what="the breaker's cool-down")


def burst(k):
    """k concurrent distinct misses; (statuses/reasons summary, responses)."""
    base = n[0]
    n[0] += k
    res = yth.concurrent(lambda i: s.get(V + yth.vid("breaker%04d" % (base + i + 1))), k)
    out = {}
    for r in res:
        key = repr(r) if isinstance(r, Exception) else "%s %s" % (r.status, r.xcache or reason(r))
        out[key] = out.get(key, 0) + 1
    return out, res


# a row to serve stale while the breaker is open
X = yth.vid("breakerSTAL")
first = s.get(V + X)
is_((first.status, first.xcache), (200, "MISS"), "a row to serve stale later")
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL (ttl + 3600) SECOND, "
       "expires_at = UTC_TIMESTAMP() - INTERVAL 3600 SECOND WHERE request LIKE %s" % yth.sql_str("%" + X + "%"))

# ---------------------------------------------------------------- only consecutive failures count
fake.mode("error500")
for _ in range(2):
    miss()
fake.mode("notfound")        # a 404 proves Google is up
r = miss()
is_(r.status, 404, "a 404 between failures")
fake.mode("error500")
for _ in range(2):
    miss()
is_((s.breaker() or {}).get("state"), 0, "2 failures, a 404, 2 failures: breaker still closed")
c0 = fake.calls()
r = miss()
yth.check_error(r, 502, "upstreamError", "the 3rd consecutive failure")
is_(fake.calls() - c0, 1, "the 3rd consecutive failure went upstream")
is_((s.breaker() or {}).get("state"), 1, "3 consecutive failures: breaker open (state 1)")

# ---------------------------------------------------------------- open: no call
c0 = fake.calls()
r = miss()
unavailable(r, "breaker open, a miss")
r = miss()
unavailable(r, "breaker open, another miss")
r = s.get(V + X)
is_((r.status, r.xcache), (200, "STALE"), "breaker open, an expired row: STALE")
ok(r.body == first.body, "breaker open: the stale copy's bytes")
is_(fake.calls(), c0, "breaker open: no upstream call at all")

# ---------------------------------------------------------------- half-open: one probe, which fails
ok(cooled_down(), "cool-down of 2 s over")
fake.mode("error500", delay_ms=1000)     # the probe stays in flight while the others arrive
c0 = fake.calls()
got, res = burst(8)
diag("after the cool-down, 8 concurrent misses, upstream failing: %s" % got)
is_(fake.calls() - c0, 1, "half-open: exactly one probe went upstream")
is_(got.get("502 upstreamError"), 1, "half-open: the probe's caller got the failure (502)")
is_(got.get("503 upstreamUnavailable"), 7, "half-open: the 7 others got 503 upstreamUnavailable")
is_((s.breaker() or {}).get("state"), 1, "failed probe: open again")
c0 = fake.calls()
r = miss()
unavailable(r, "after the failed probe")
is_(fake.calls(), c0, "after the failed probe: no upstream call")

# ---------------------------------------------------------------- half-open: the probe succeeds
fake.mode("ok", delay_ms=1000)
ok(cooled_down(), "second cool-down over")
c0 = fake.calls()
got, res = burst(8)
diag("after the cool-down, 8 concurrent misses, upstream good: %s" % got)
is_(fake.calls() - c0, 1, "half-open again: exactly one probe went upstream")
is_(got.get("200 MISS"), 1, "the probe succeeded (200 MISS)")
is_(got.get("503 upstreamUnavailable"), 7, "the others still got 503 while it was in flight")
is_(db.sql("SELECT state, failures FROM breaker WHERE name = 'upstream'"), [["0", "0"]],
    "good probe: breaker row state 0, failures 0")
fake.mode("ok")
c0 = fake.calls()
got = [miss() for _ in range(5)]
is_([(r.status, r.xcache) for r in got], [(200, "MISS")] * 5, "closed: misses flow again")
is_(fake.calls() - c0, 5, "closed: every miss went upstream")

# ---------------------------------------------------------------- other failure kinds count; the window ends
s.reconfigure(quota=dict(QUOTA, breaker_window="1s"), upstream={"timeout_ms": 1000})
fake.mode("timeout")
miss()
fake.mode("badjson")        # right after: the window starts when the timeout is recorded
miss()
is_((s.breaker() or {}).get("failures"), 2, "a timeout and a bad body: 2 failures counted")
ok(yth.wait_for(lambda: db.value("SELECT window_start <= NOW(3) - INTERVAL 1 SECOND FROM breaker "
                                 "WHERE name = 'upstream'") == "1", 10, what="the 1 s window to pass"),
   "the 1 s window is over")
fake.mode("error500")
miss()
is_(s.breaker(), {"state": 0, "failures": 1}, "a failure after the window: a new count (1), still closed")
fake.mode("reset")
miss()
fake.mode("error500")
miss()
is_((s.breaker() or {}).get("state"), 1, "3 failures (500, connection reset, 500) within 1 s: open")
fake.mode("ok")

# ---------------------------------------------------------------- a refused miss does not use up the probe
# A miss that is answered without calling upstream (here: its client is over
# its own limit, 429) must not take the half-open probe away from the next
# miss that can go upstream.
s.reconfigure(quota=dict(QUOTA, client_units=1, client_window="1h", trusted_proxies="127.0.0.1"))
s.reset_quota()
SPENT = {"X-Forwarded-For": "198.51.100.200"}
r = s.get(V + yth.vid("breakerP001"), SPENT)
is_((r.status, r.xcache), (200, "MISS"), "client P spends its one unit")
fake.mode("error500")
for i in range(3):
    s.get(V + yth.vid("breakerQ%03d" % i), {"X-Forwarded-For": "198.51.100.%d" % (10 + i)})
is_((s.breaker() or {}).get("state"), 1, "3 failures (3 other clients): open")
fake.mode("ok")
ok(cooled_down(), "cool-down over")
r = s.get(V + yth.vid("breakerP002"), SPENT)
is_(r.status, 429, "half-open: client P, over its limit, gets 429 (%s)" % reason(r))
c0 = fake.calls()
r = s.get(V + yth.vid("breakerR001"), {"X-Forwarded-For": "198.51.100.201"})
is_((r.status, r.xcache or reason(r)), (200, "MISS"),
    "the next miss (client R) is the probe: it goes upstream and succeeds")
is_(fake.calls() - c0, 1, "  ... one upstream call")

# ---------------------------------------------------------------- answers not passed on are not Google's failures
# An answer over max_response_bytes, or one quoting a server key, is the
# request's doing (a stranger can pick such a query): it must not open the
# breaker for every client. Each is our JSON 502, kept for negative_ttl.
CAP = 8192
s.reconfigure(quota=QUOTA, upstream={"max_response_bytes": CAP})
s.reset_quota()


def not_passed_on(mode, kw, why, label):
    fake.mode(mode, **kw)
    c0 = fake.calls()
    paths = [V + yth.vid("brk%s%03d" % (label[:3], i)) for i in range(10)]
    got = [s.get(pth) for pth in paths]
    is_(fake.calls() - c0, 10, "%s: 10 distinct queries, 10 upstream calls" % label)
    is_([(r.status, reason(r)) for r in got], [(502, why)] * 10, "%s: each answered 502 %s" % (label, why))
    yth.check_error(got[0], 502, why, "%s: the answer" % label)
    ok(SERVER_KEY not in got[0].body.decode("utf-8", "replace"), "%s: the answer holds no key" % label)
    is_(s.breaker(), {"state": 0, "failures": 0}, "%s: 10 of them: breaker closed, no failure counted" % label)
    rows = db.sql("SELECT status, JSON_VALID(response), LOCATE(%s, response) FROM cache WHERE request LIKE %s"
                  % (yth.sql_str(SERVER_KEY), yth.sql_str("%" + paths[3][len(V):] + "%")))
    is_(rows, [["502", "1", "0"]], "%s: stored as a negative row: status 502, valid JSON, no key" % label)
    c0 = fake.calls()
    r = s.get(paths[3])
    is_((r.status, reason(r), r.xcache), (502, why, "HIT"), "%s: a repeat within negative_ttl: the same error" % label)
    ok(r.body == got[3].body, "%s: the repeat's bytes are the first answer's" % label)
    is_(fake.calls(), c0, "%s: the repeat costs no upstream call" % label)
    fake.mode("ok")
    c0 = fake.calls()
    r = miss()
    is_((r.status, r.xcache), (200, "MISS"), "%s: then a normal query is a MISS from upstream" % label)
    is_(fake.calls() - c0, 1, "%s: ... one upstream call" % label)


SERVER_KEY = yth.SERVER_KEY
not_passed_on("ok", {"pad_bytes": CAP * 3}, "upstreamTooLarge", "oversized")
not_passed_on("echokey", {}, "upstreamKeyEcho", "key echo")

# real failures still open it
fake.mode("error500")
for _ in range(3):
    miss()
is_((s.breaker() or {}).get("state"), 1, "after those, 3 consecutive 500s still open the breaker")
c0 = fake.calls()
unavailable(miss(), "open again, a miss")
is_(fake.calls(), c0, "open again: no upstream call")
fake.mode("ok")

diag("breaker: %d misses" % n[0])
yth.done_testing()
