#!/usr/bin/python3
"""A database outage is not a quota drain (db_outage = bypass):
  * the processes of one host together spend at most outage_units per
    minute per bucket on calls they cannot account (shared through the
    counters file, so also one CGI process per request); past that a JSON
    503 databaseUnavailable with a Retry-After of at most a minute, and no
    upstream call;
  * search, with its 100 calls a day, gets no such budget by default;
  * the per-client limit keeps working from memory meanwhile (429, no call);
  * when the database is back, the calls made during the outage are added
    to key_usage, so the day's count matches what Google charged;
  * missing tables are such an outage too."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

K = yth.SERVER_KEY
V = "/youtube/v3/videos?part=id&id="
S = "/youtube/v3/search?part=id&type=video&q="
DBCONF = {"connect_timeout": 2, "retry_interval_ms": 200}
BUDGET = 3
n = [0]


def miss(stack, headers=None):
    n[0] += 1
    return stack.get(V + yth.vid("outage%04d" % n[0]), headers)


def retry_after(r):
    v = r.header("retry-after", "")
    return int(v) if v.isdigit() else None


def used(stack):
    u = stack.key_usage(K) or {}
    return u.get("used"), u.get("calls")


# Two workers and no FastCGI keep-alive preference: the budget is the host's.
s = yth.Stack("spawn-fcgi", workers=2,
              config={"server": {"db_outage": "bypass"}, "database": DBCONF, "cache": {"hot_bytes": 0},
                      "quota": {"outage_units": BUDGET, "outage.search": None}})
fake, db = s.fake, s.db
fake.mode("ok")

# ---------------------------------------------------------------- the budget
r = miss(s)
is_((r.status, r.xcache), (200, "MISS"), "database up: a miss (the key's usage row exists)")
is_(used(s), (1, 1), "key_usage: 1 unit, 1 call")
db.kill()
ok(not db.alive(), "MariaDB killed")
c0 = fake.calls()
res = [miss(s) for _ in range(BUDGET + 5)]
is_([(r.status, r.xcache) for r in res[:BUDGET]], [(200, "BYPASS")] * BUDGET,
    "database down: the first %d new queries are answered from YouTube (BYPASS)" % BUDGET)
for i, r in enumerate(res[BUDGET:BUDGET + 2]):
    yth.check_error(r, 503, "databaseUnavailable", "database down, budget spent: query %d" % (BUDGET + i + 1))
rest = res[BUDGET:]
is_([r.status for r in rest], [503] * len(rest), "database down: every query past the budget answers 503")
ok(all(retry_after(r) is not None and 1 <= retry_after(r) <= 60 for r in rest),
   "each with a Retry-After of 1..60 s (the end of the minute): %s" % sorted(set(retry_after(r) for r in rest)))
is_(fake.calls() - c0, BUDGET, "the fake upstream counted exactly %d calls during the outage" % BUDGET)

c1 = fake.calls()
r = s.get(S + "outage")
yth.check_error(r, 503, "databaseUnavailable", "database down: a search (no outage budget by default)")
is_(fake.calls(), c1, "database down: the search made no upstream call")

# ---------------------------------------------------------------- back: the outage is counted
db.start()
ok(yth.wait_for(lambda: miss(s).xcache == "MISS", 20, interval=0.2, what="caching to resume"),
   "database back: misses are accounted again")
st = fake.stats()
charged = fake.units(K, stats=st)
diag("the fake charged %d units in all" % charged)
is_(used(s), (charged, charged), "key_usage (used, calls) = what the fake charged (%d), the outage included" % charged)
is_(charged, 1 + BUDGET + 1, "1 before, %d during, 1 after" % BUDGET)
text = yth.read_file(s.launcher.log).decode("utf-8", "replace")
ok("made during the outage added to the key usage" in text, "the worker logged that it added the outage's calls")
ok(K not in text, "the key is in no log line")

# ---------------------------------------------------------------- per-client limit from memory
ONE, TWO = "198.51.100.7", "203.0.113.9"
s = yth.Stack("spawn-fcgi", workers=1,
              config={"server": {"db_outage": "bypass"}, "database": DBCONF, "cache": {"hot_bytes": 0},
                      "quota": {"outage_units": 100, "client_units": 2, "client_window": "1h",
                                "trusted_proxies": "127.0.0.1"}})
fake, db = s.fake, s.db
fake.mode("ok")
is_(miss(s, {"X-Forwarded-For": TWO}).xcache, "MISS", "second stack: database up, a miss")
db.kill()
c0 = fake.calls()
a = [miss(s, {"X-Forwarded-For": ONE}) for _ in range(4)]
is_([(r.status, r.xcache) for r in a[:2]], [(200, "BYPASS")] * 2, "database down: client one's first 2 misses answered")
for i, r in enumerate(a[2:]):
    yth.check_error(r, 429, "clientQuotaExceeded", "database down: client one over its limit (%d)" % (i + 3))
ok(all(retry_after(r) and retry_after(r) > 60 for r in a[2:]),
   "with a Retry-After to the end of its window (%s s)" % [retry_after(r) for r in a[2:]])
b = miss(s, {"X-Forwarded-For": TWO})
is_((b.status, b.xcache), (200, "BYPASS"), "database down: client two still has its own share")
is_(fake.calls() - c0, 3, "the fake counted 3 calls: the refused ones made none")
db.start()

# ---------------------------------------------------------------- CGI: one process per request
s = yth.Stack("fcgiwrap", workers=2,
              config={"server": {"db_outage": "bypass"}, "database": DBCONF, "cache": {"hot_bytes": 0},
                      "quota": {"outage_units": BUDGET}})
fake, db = s.fake, s.db
fake.mode("ok")
is_(miss(s).xcache, "MISS", "CGI (fcgiwrap): a miss")
db.kill()
c0 = fake.calls()
res = [miss(s) for _ in range(BUDGET + 4)]
is_([(r.status, r.xcache) for r in res[:BUDGET]], [(200, "BYPASS")] * BUDGET,
    "CGI, database down: %d new queries answered, each by a new process" % BUDGET)
is_([r.status for r in res[BUDGET:]], [503] * 4, "CGI: then 503: the budget outlives each process")
is_(fake.calls() - c0, BUDGET, "CGI: the fake counted %d calls" % BUDGET)
db.start()
ok(yth.wait_for(lambda: miss(s).xcache == "MISS", 20, interval=0.2, what="caching to resume"),
   "CGI, database back: misses are accounted again")
is_(used(s), (fake.units(K), fake.units(K)), "CGI: key_usage = what the fake charged (%d), the outage included"
    % fake.units(K))

# ---------------------------------------------------------------- tables missing: the same budget
s = yth.Stack("spawn-fcgi", workers=1,
              config={"server": {"db_outage": "bypass"}, "database": DBCONF, "cache": {"hot_bytes": 0},
                      "quota": {"outage_units": BUDGET}})
fake, db = s.fake, s.db
fake.mode("ok")
is_(miss(s).xcache, "MISS", "third stack: a miss")
db.sql("RENAME TABLE cache TO cache_gone, key_usage TO key_usage_gone")
c0 = fake.calls()
res = [miss(s) for _ in range(BUDGET + 4)]
is_([r.status for r in res], [200] * BUDGET + [503] * 4,
    "tables missing: %d new queries answered, then 503 (the outage budget, not a call per request)" % BUDGET)
is_(fake.calls() - c0, BUDGET, "tables missing: the fake counted %d calls" % BUDGET)
db.sql("RENAME TABLE cache_gone TO cache, key_usage_gone TO key_usage")
yth.done_testing()
