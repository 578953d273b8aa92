#!/usr/bin/python3
"""Spending limits of the quota economy (design.md, "Quota economy"):
  * never overspend: many processes reserving at once take exactly the
    bucket's units from one key, not one more, and every other miss is a
    503 quotaExhausted (no 403 from Google reaches a client);
  * region budgets (budget.<bucket>.<REGION>) refuse with 503
    budgetExhausted before any upstream call, other regions unaffected;
  * reserve.<bucket> keeps units back from client misses;
  * cost.<resource> overrides the built-in cost model."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag, reason, summary  # noqa: E402

K = yth.SERVER_KEY
WORKERS = 20
s = yth.Stack("spawn-fcgi", workers=WORKERS, config={"quota": {"bucket.default": 30}})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=id&id="
n = [0]


def miss():
    n[0] += 1
    return s.get(V + yth.vid("budget%05d" % n[0]))


def used(bucket="default"):
    return (s.key_usage(K, bucket) or {}).get("used", 0)


# ---------------------------------------------------------------- never overspend
# Google would refuse the 31st unit too: an overspend shows as a 403 and as
# 31 units charged by the fake.
fake.mode("ok", delay_ms=30, key_quota={K: {"default": 30}})
THREADS, PER_THREAD = 24, 5
ids = ["spend%03d" % i for i in range(THREADS * PER_THREAD)]


def worker(t):
    out = []
    for j in range(PER_THREAD):
        out.append(s.get(V + yth.vid(ids[t * PER_THREAD + j])))
    return out


results = [r for batch in yth.concurrent(worker, THREADS)
           for r in (batch if isinstance(batch, list) else [batch])]
got = summary(results)
diag("120 concurrent misses over %d processes: %s" % (WORKERS, got))
is_(got, {"200 MISS": 30, "503 quotaExhausted": 90},
    "120 distinct concurrent misses, bucket of 30: 30 MISS and 90 503 quotaExhausted")
st = fake.stats()
is_(fake.units(K, stats=st), 30, "the fake charged the key exactly 30 units (not 31)")
is_(st["statuses"].count(403), 0, "Google never had to refuse a call (no 403)")
is_(fake.ok_calls(K, stats=st), 30, "the fake answered 30 calls")
is_(used(), 30, "key_usage.used = 30")
is_((s.key_usage(K) or {}).get("calls"), 30, "key_usage.calls = 30")
ok(all(r.header("retry-after", "").isdigit() for r in results
       if not isinstance(r, Exception) and r.status == 503), "every 503 has a Retry-After")
c0 = fake.calls()
r = miss()
is_((r.status, reason(r), fake.calls() - c0), (503, "quotaExhausted", 0),
    "bucket spent: the next miss is refused without an upstream call")

# ---------------------------------------------------------------- region budget
s.reconfigure(quota={"bucket.default": 1000, "budget.default.JP": 3})
s.reset_quota()
fake.reset()
CHART = "/youtube/v3/videos?part=snippet&chart=mostPopular&regionCode=%s&maxResults=%d"
jp = [s.get(CHART % ("JP", i + 1)) for i in range(3)]
is_([(r.status, r.xcache) for r in jp], [(200, "MISS")] * 3, "budget.default.JP = 3: three JP trending misses")
c0 = fake.calls()
r = s.get(CHART % ("JP", 4))
yth.check_error(r, 503, "budgetExhausted", "the 4th distinct JP trending miss")
yth.like(r.header("retry-after"), r"^\d+$", "budgetExhausted: Retry-After")
is_(fake.calls(), c0, "the 4th JP miss made no upstream call")
r = s.get(CHART % ("JP", 1))
is_((r.status, r.xcache), (200, "HIT"), "JP budget spent: a cached JP answer is still a HIT")
r = s.get(CHART % ("US", 4))
is_((r.status, r.xcache), (200, "MISS"), "JP budget spent: a US trending miss still works")
r = s.get("/youtube/v3/search?part=snippet&q=budget&regionCode=JP")
is_((r.status, r.xcache), (200, "MISS"), "JP budget is for the default bucket: a JP search still works")
is_(db.value("SELECT used FROM budget_usage WHERE bucket = 'default' AND region = 'JP' AND day = %s"
             % yth.sql_str(yth.pacific_date())), "3", "budget_usage: JP used 3")
is_(used(), 4, "key_usage: 4 default units (3 JP + 1 US; nothing for the refused miss)")
r = s.get("/youtube/v3/videos?part=snippet&chart=mostPopular&regionCode=jp&maxResults=9")
yth.check_error(r, 503, "budgetExhausted", "regionCode=jp (lower case) counts against budget.default.JP too")

# ---------------------------------------------------------------- reserve
s.reconfigure(quota={"bucket.default": 10, "reserve.default": 5})
s.reset_quota()
fake.reset()
got = [miss() for _ in range(8)]
is_([r.status for r in got], [200] * 5 + [503] * 3, "bucket 10, reserve 5: client misses stop after 5 units")
yth.check_error(got[5], 503, "quotaExhausted", "the 6th miss (only the reserve left)")
is_(fake.units(K), 5, "the fake charged 5 units")
is_(used(), 5, "key_usage.used = 5")
is_((s.key_usage(K) or {}).get("exhausted"), 0, "the key is not marked exhausted (it has 5 units left)")

# ---------------------------------------------------------------- cost from the config
s.reconfigure(quota={"bucket.default": 20, "cost.videos": "default:7"})
s.reset_quota()
fake.reset()
got = [miss() for _ in range(2)]
is_([(r.status, r.xcache) for r in got], [(200, "MISS")] * 2, "cost.videos = default:7, bucket 20: two misses")
c0 = fake.calls()
r = miss()
yth.check_error(r, 503, "quotaExhausted", "the 3rd videos miss (14 + 7 > 20)")
is_(fake.calls(), c0, "the 3rd miss made no upstream call")
is_(used(), 14, "key_usage.used = 14 (2 x 7)")
r = s.get("/youtube/v3/channels?part=id&id=UC" + "b" * 22)
is_((r.status, r.xcache), (200, "MISS"), "channels (built-in cost 1) still fits in the 6 units left")
is_(used(), 15, "key_usage.used = 15")

# ---------------------------------------------------------------- the built-in cost of captions.list: 50
s.reconfigure(quota={"bucket.default": 120})
s.reset_quota()
fake.reset()
CAP = "/youtube/v3/captions?part=snippet&videoId="
got = [s.get(CAP + yth.vid("budgetCap%d" % i)) for i in range(2)]
is_([(r.status, r.xcache) for r in got], [(200, "MISS")] * 2, "bucket 120: two captions misses (2 x 50)")
c0 = fake.calls()
r = s.get(CAP + yth.vid("budgetCap3"))
yth.check_error(r, 503, "quotaExhausted", "a 3rd captions miss (150 > 120)")
is_(fake.calls(), c0, "the 3rd captions miss made no upstream call")
r = miss()
is_((r.status, r.xcache), (200, "MISS"), "a videos miss (1 unit) still fits")
is_((used(), fake.units(K)), (101, 101), "key_usage.used and the fake's charge agree: 101 units")

diag("budget: %d sequential misses" % n[0])
yth.done_testing()
