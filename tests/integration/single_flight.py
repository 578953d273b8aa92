#!/usr/bin/python3
"""Single flight: 50 concurrent misses on one key, spread over 8 FastCGI
processes (spawn-fcgi -F 8), make exactly one upstream call; all 50 get
200 and the same bytes.  Then the same across two keys at once, and once
more through an expired row (the refresh is single-flight too)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

N = 50
s = yth.Stack("spawn-fcgi", workers=8,
              config={"cache": {"lock_wait_ms": 15000, "stale_while_revalidate": 0,
                                "stale_if_error": 0}})
fake = s.fake
V = "/youtube/v3/videos"


def burst(paths):
    """GET paths[i % len(paths)] from N threads released together."""
    return yth.concurrent(lambda i: s.get(paths[i % len(paths)], timeout=90), N)


def summary(results):
    codes, xc = {}, {}
    for r in results:
        k = r.status if isinstance(r, yth.Response) else repr(r)[:80]
        codes[k] = codes.get(k, 0) + 1
        if isinstance(r, yth.Response):
            xc[r.xcache] = xc.get(r.xcache, 0) + 1
    return codes, xc


# ---------------------------------------------------------------- one key
path = V + "?part=snippet,statistics&id=" + yth.vid("singleFlgt1")
fake.mode("ok", delay_ms=1500)
t0 = time.monotonic()
res = burst([path])
elapsed = time.monotonic() - t0
codes, xc = summary(res)
diag("one key: statuses %s, X-Cache %s, %.2f s" % (codes, xc, elapsed))
is_(fake.calls(), 1, "50 concurrent misses on one key: exactly 1 upstream call")
is_(codes, {200: N}, "all 50 answered 200")
bodies = set(r.body for r in res if isinstance(r, yth.Response))
is_(len(bodies), 1, "all 50 bodies identical")
ok(all(len(b) > 100 for b in bodies), "bodies are real answers")
is_(xc.get("MISS", 0), 1, "exactly one answer says MISS")
is_(s.rows(), 1, "one cache row")
cmp_ok(elapsed, "<", 12, "the waiters did not each wait for their own fetch")

# ---------------------------------------------------------------- two keys at once
fake.reset()
fake.mode("ok", delay_ms=1000)
paths = [V + "?part=id&id=" + yth.vid("singleFlgt2"), V + "?part=id&id=" + yth.vid("singleFlgt3")]
res = burst(paths)
codes, xc = summary(res)
diag("two keys: statuses %s, X-Cache %s" % (codes, xc))
is_(fake.calls(), 2, "50 concurrent misses on two keys: exactly 2 upstream calls")
is_(codes, {200: N}, "two keys: all answered 200")
for i, p in enumerate(paths):
    bs = set(r.body for j, r in enumerate(res) if j % 2 == i and isinstance(r, yth.Response))
    is_(len(bs), 1, "two keys: key %d answered with one body" % i)

# ---------------------------------------------------------------- an expired row, refreshed once
fake.reset()
db = s.db
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL 2 HOUR, "
       "expires_at = UTC_TIMESTAMP() - INTERVAL 1 HOUR")
fake.mode("ok", delay_ms=1500, pad_bytes=3000)
res = burst([path])
codes, xc = summary(res)
diag("expired row: statuses %s, X-Cache %s" % (codes, xc))
is_(fake.calls(), 1, "50 concurrent requests for an expired row: 1 upstream call")
is_(codes, {200: N}, "expired row: all answered 200")
new = set(r.body for r in res if isinstance(r, yth.Response))
is_(len(new), 1, "expired row: all 50 got the refreshed body")
ok(new and len(next(iter(new))) == 3000, "expired row: the body is the new upstream answer")
is_(db.count("expires_at > UTC_TIMESTAMP() AND request LIKE '%singleFlgt1%'"), 1,
    "expired row: refreshed in place")
is_(s.rows(), 3, "expired row: no extra row")

yth.done_testing()
