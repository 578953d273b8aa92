#!/usr/bin/python3
"""The database goes away.  With db_outage = bypass requests are still
answered from upstream (X-Cache: BYPASS) and no worker crashes; with
db_outage = error they get 503 JSON (databaseUnavailable) with Retry-After
and nothing goes upstream.  When MariaDB is back, caching resumes by
itself (MISS/HIT), with the same worker processes."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

WORKERS = 2
DBCONF = {"connect_timeout": 2, "retry_interval_ms": 200}
# No hot rows: this is about the database path (a copy a worker holds in
# memory is served while the database is gone: tests/integration/hot.py).
s = yth.Stack("spawn-fcgi", workers=WORKERS,
              config={"server": {"db_outage": "bypass"}, "database": DBCONF, "cache": {"hot_bytes": 0}})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=snippet&id="
Q1, Q2, Q3 = V + yth.vid("dbdownQ1xxx"), V + yth.vid("dbdownQ2xxx"), V + yth.vid("dbdownQ3xxx")


def serving(xcaches, n=2 * WORKERS, path=Q1):
    """n requests in a row (so that every worker answers) all with an
    X-Cache in xcaches."""
    for _ in range(n):
        r = s.get(path, timeout=30)
        if r.status != 200 or r.xcache not in xcaches:
            return False
    return True


# ---------------------------------------------------------------- warm up
a = s.get(Q1)
b = s.get(Q1)
is_((a.xcache, b.xcache), ("MISS", "HIT"), "database up: MISS then HIT")
pids = s.launcher.pids()
is_(len(s.launcher.alive_pids()), WORKERS, "%d workers running" % WORKERS)

# ---------------------------------------------------------------- bypass
db.kill()
ok(not db.alive(), "MariaDB killed (SIGKILL)")
c0 = fake.calls()
slow = []
for i in range(3 * WORKERS):
    r = s.get(Q1, timeout=30)
    is_((r.status, r.xcache), (200, "BYPASS"), "database down, bypass: request %d answered, X-Cache BYPASS" % i)
    ok(r.body == a.body, "database down, bypass: request %d has the upstream bytes" % i)
    if r.elapsed > 5:
        slow.append(r.elapsed)
is_(slow, [], "database down, bypass: every answer within 5 s")
is_(fake.calls() - c0, 3 * WORKERS, "database down, bypass: each request went upstream")
r = s.get(Q2)
is_((r.status, r.xcache), (200, "BYPASS"), "database down, bypass: a new query answered (BYPASS)")
yth.check_error(s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("x") + "&mine=true"), 400,
                "oauthNotSupported", "database down: a refused request is still refused")
is_(s.launcher.alive_pids(), pids, "database down: no worker crashed or was replaced")

# ---------------------------------------------------------------- back
db.start()
ok(yth.wait_for(lambda: serving(("HIT", "MISS")), 20, interval=0.2, what="caching to resume"),
   "database back: every worker answers HIT/MISS again")
r = s.get(Q1)
is_((r.status, r.xcache), (200, "HIT"), "database back: the row cached before the crash is a HIT")
c0 = fake.calls()
r1, r2 = s.get(Q3), s.get(Q3)
is_((r1.xcache, r2.xcache), ("MISS", "HIT"), "database back: new query MISS then HIT")
is_(fake.calls() - c0, 1, "database back: one upstream call")
is_(s.launcher.alive_pids(), pids, "database back: same worker processes")

# ---------------------------------------------------------------- a hung database (SIGSTOP)
db.pause()
try:
    t0 = time.monotonic()
    try:
        r = s.get(Q2, timeout=25)
        diag("hung database: %s X-Cache=%s after %.1f s" % (r.status, r.xcache, time.monotonic() - t0))
    except Exception as e:  # client timeout
        r = None
        diag("hung database: no answer (%s) after %.1f s" % (e, time.monotonic() - t0))
    ok(r is not None and r.status == 200 and r.xcache in ("BYPASS", "HIT", "MISS", "STALE"),
       "hung database, bypass: still answered")
    cmp_ok(time.monotonic() - t0, "<", 15, "hung database, bypass: answered within 15 s")
finally:
    db.resume()
ok(yth.wait_for(lambda: serving(("HIT", "MISS")), 30, interval=0.2, what="caching to resume after SIGCONT"),
   "hung database resumed: HIT/MISS again")
is_(s.launcher.alive_pids(), pids, "hung database: same worker processes")

# ---------------------------------------------------------------- db_outage = error
db.kill()
s.reconfigure(server={"db_outage": "error"}, database=DBCONF, cache={"hot_bytes": 0})
pids = s.launcher.pids()
c0 = fake.calls()
for i in range(2 * WORKERS):
    r = s.get(Q1 if i % 2 else Q2, timeout=30)
    yth.check_error(r, 503, "databaseUnavailable", "database down, db_outage=error: request %d" % i)
    yth.like(r.header("retry-after"), r"^\d+$", "database down, db_outage=error: Retry-After")
    cmp_ok(r.elapsed, "<", 5, "database down, db_outage=error: answered within 5 s")
is_(fake.calls(), c0, "database down, db_outage=error: nothing went upstream")
is_(s.launcher.alive_pids(), pids, "database down, db_outage=error: no worker crashed")
db.start()
ok(yth.wait_for(lambda: serving(("HIT", "MISS")), 20, interval=0.2, what="caching to resume"),
   "database back, db_outage=error: HIT/MISS again")
is_(s.launcher.alive_pids(), pids, "database back, db_outage=error: same worker processes")

# ---------------------------------------------------------------- a clean restart too
db.stop()
r = s.get(Q1, timeout=30)
yth.check_error(r, 503, "databaseUnavailable", "database shut down cleanly, db_outage=error")
db.start()
ok(yth.wait_for(lambda: serving(("HIT",)), 20, interval=0.2, what="HITs after a clean restart"),
   "database restarted cleanly: HIT again")

# ---------------------------------------------------------------- regression: connect back-off
# retry_interval_ms counts from when a failed connect attempt gave up. It
# used to count from when the attempt began: against a hung server every
# attempt takes connect_timeout, so with retry_interval_ms below that every
# statement made a new attempt and waited connect_timeout again.
s.reconfigure(server={"db_outage": "bypass"}, database={"connect_timeout": 2, "retry_interval_ms": 1500},
              cache={"hot_bytes": 0})
db.pause()          # new workers: their first statement connects to a hung server
try:
    first = yth.concurrent(lambda i: s.get(V + yth.vid("dbdownBO%02d" % i), timeout=30), 2 * WORKERS)
    then = yth.concurrent(lambda i: s.get(V + yth.vid("dbdownBF%02d" % i), timeout=30), 2 * WORKERS)
finally:
    db.resume()
answers = [(getattr(r, "status", repr(r)), getattr(r, "xcache", None)) for r in first + then]
is_(answers, [(200, "BYPASS")] * (4 * WORKERS), "hung database, new workers: every request answered (BYPASS)")
cmp_ok(max(getattr(r, "elapsed", 0) for r in first), ">=", 1.5,
       "hung database: the first requests waited for a connect attempt (connect_timeout 2 s)")
slow = [round(r.elapsed, 2) for r in first + then if getattr(r, "elapsed", 99) >= 2 * 2 + 1]
is_(slow, [], "hung database: no request waited for two connect attempts")
late = [round(r.elapsed, 2) for r in then if getattr(r, "elapsed", 99) >= 1.0]
is_(late, [], "hung database: right after a failed attempt no new one is made (follow-ups within 1 s)")

yth.done_testing()
