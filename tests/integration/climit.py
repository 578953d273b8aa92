#!/usr/bin/python3
"""Per-client limits on quota spending (design.md, "Quota economy"): a GCRA
per client over the units its misses cost.  client_units per client_window
with a burst of client_units; over it, 429 clientQuotaExceeded with the
exact Retry-After and no upstream call; HITs cost nothing; clients are told
apart by REMOTE_ADDR or, with trust_forwarded, by X-Forwarded-For; no burst
at a window boundary (a refill of one unit lets one miss through)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

QUOTA = {"client_units": 3, "client_window": "60s", "trust_forwarded": 1}
s = yth.Stack("spawn-fcgi", workers=2, config={"quota": QUOTA})
fake = s.fake
V = "/youtube/v3/videos?part=id&id="
n = [0]


def miss(client, tag=None):
    if tag is None:
        n[0] += 1
        tag = "climit%05d" % n[0]
    h = {"X-Forwarded-For": client} if client else {}
    return s.get(V + yth.vid(tag), h)


def over(r, label, retry_after, slack=1):
    yth.check_error(r, 429, "clientQuotaExceeded", label)
    ra = r.header("retry-after") or ""
    ok(ra.isdigit() and abs(int(ra) - retry_after) <= slack,
       "%s: Retry-After %s (want %d +-%d)" % (label, ra, retry_after, slack))


# ---------------------------------------------------------------- 3 units per minute: burst 3, then 20 s per unit
ONE, TWO = "198.51.100.7", "198.51.100.8"
HIT = yth.vid("climitHIT01")
first = [miss(ONE) for _ in range(2)] + [miss(ONE, "climitHIT01")]
is_([(r.status, r.xcache) for r in first], [(200, "MISS")] * 3, "client 1: three misses within the burst")
c0 = fake.calls()
r = miss(ONE)
over(r, "client 1, 4th miss", 20)
is_(fake.calls(), c0, "client 1, 4th miss: no upstream call")
hits = [s.get(V + HIT, {"X-Forwarded-For": ONE}) for _ in range(10)]
is_([(h.status, h.xcache) for h in hits], [(200, "HIT")] * 10, "client 1 over its limit: HITs still served (not charged)")
r = miss(ONE)
is_(r.status, 429, "client 1: still over after its HITs")
r = miss("203.0.113.99, " + ONE)
is_(r.status, 429, "client 1 behind a forged leftmost X-Forwarded-For entry: still client 1 (429)")
got = [miss(TWO) for _ in range(3)]
is_([(x.status, x.xcache) for x in got], [(200, "MISS")] * 3, "client 2 (another X-Forwarded-For): unaffected")
r = miss(None)
is_((r.status, r.xcache), (200, "MISS"), "a client without X-Forwarded-For (REMOTE_ADDR): unaffected")
is_(s.db.count("client IN (%s, %s)" % (yth.sql_str(ONE), yth.sql_str(TWO)), "client_limits"), 2,
    "client_limits: one row per client, by address")

# ---------------------------------------------------------------- no boundary burst (1 s per unit)
s.reconfigure(quota=dict(QUOTA, client_window="3s"))
THREE = "198.51.100.9"
got = [miss(THREE) for _ in range(3)]
is_([x.status for x in got], [200] * 3, "window 3 s: three misses in the burst")
r = miss(THREE, "climitRETRY")
over(r, "window 3 s, 4th miss", 1)
t0 = time.monotonic()
passed = yth.wait_for(lambda: miss(THREE, "climitRETRY").status == 200, 5, interval=0.05,
                      what="a unit to refill")
ok(passed, "a refill of one unit lets a miss through (after %.2f s)" % (time.monotonic() - t0))
after = [miss(THREE) for _ in range(3)]
is_([x.status for x in after], [429] * 3, "right after it: no burst of 3 (GCRA, not a fixed window)")
if after and after[0].status == 429:
    over(after[0], "right after the refill", 1)

# ---------------------------------------------------------------- trust_forwarded = 0: X-Forwarded-For ignored
s.reconfigure(quota=dict(QUOTA, trust_forwarded=0))
s.reset_quota()
got = [miss("192.0.2.%d" % i) for i in range(4)]
is_([x.status for x in got], [200, 200, 200, 429],
    "trust_forwarded = 0: X-Forwarded-For is not trusted, all are 127.0.0.1 (4th: 429)")

diag("climit: %d misses" % n[0])
yth.done_testing()
