#!/usr/bin/python3
"""ytcache-refresh (the cron refresher): trending pre-warm under the browser's
own cache key, no call for lists still fresh, refresh-ahead of hot entries
only (most used first), the per-run unit budget and the bucket's reserve,
one run at a time (database lock), purge in bounded batches, exit statuses,
--dry-run, and silence on success.  Upstream calls are counted by the fake
upstream itself."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
if not os.access(REFRESH, os.X_OK):
    yth.bail("%s not built (run make first)" % REFRESH)

s = yth.Stack("spawn-fcgi", workers=1)
fake, db = s.fake, s.db
n_conf = [0]
# the run lock's name on the server: qualified by the database and the table prefix
RUN_LOCK = "'%s'" % yth.lock_name("ytcache-refresh", db.name)


def conf(refresh=None, quota=None, cache=None, **sections):
    """A config file of its own for one refresher case ([refresh] defaults
    here: pages 1, maxResults 5, no region, interval 10m, hot_hits 3)."""
    r = {"regions": "", "pages": 1, "max_results": 5, "interval": "10m", "hot_hits": 3}
    r.update(refresh or {})
    n_conf[0] += 1
    path = os.path.join(s.tmp, "refresh-%d.conf" % n_conf[0])
    return yth.write_config(path, db, fake, refresh=r, quota=quota or {}, cache=cache or {},
                            **sections)


class Run:
    def __init__(self, p, elapsed):
        self.rc, self.elapsed = p.returncode, elapsed
        self.out = p.stdout.decode("utf-8", "replace")
        self.err = p.stderr.decode("utf-8", "replace")


def log_run(argv, r):
    with open(os.path.join(s.tmp, "logs", "ytcache-refresh.log"), "a") as f:
        f.write("### %s -> %d (%.2f s)\n%s%s" % (" ".join(argv), r.rc, r.elapsed, r.out, r.err))


def refresh(cfg, *args, timeout=40):
    argv = [REFRESH, "--config", cfg] + list(args)
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    r = Run(p, time.monotonic() - t0)
    log_run(argv, r)
    return r


def start_refresh(cfg, *args):
    argv = [REFRESH, "--config", cfg] + list(args)
    return argv, time.monotonic(), subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_refresh(started, timeout=40):
    argv, t0, p = started
    out, err = p.communicate(timeout=timeout)
    p.stdout, p.stderr = out, err
    r = Run(p, time.monotonic() - t0)
    log_run(argv, r)
    return r


def quiet_ok(r, name):
    """Exit 0 and nothing at all on stdout or stderr (cron mails nothing)."""
    good = is_(r.rc, 0, name + ": exit 0")
    good &= is_(r.out + r.err, "", name + ": no output")
    return good


def checksum(*tables):
    return db.sql("CHECKSUM TABLE " + ", ".join(tables))


def row(v, what="expires_at, recent_hits, fetched_at"):
    rows = db.sql("SELECT %s FROM cache WHERE id = %s" % (what, yth.sql_str(v)))
    return rows[0] if rows else None


def due(ids, secs=120, hits=None):
    """Make these entries expire within the interval (and set their hits)."""
    sets = "expires_at = UTC_TIMESTAMP() + INTERVAL %d SECOND" % secs
    db.sql("UPDATE cache SET %s WHERE id IN (%s)" % (sets, ",".join(yth.sql_str(i) for i in ids)))
    for i, h in zip(ids, hits or ()):
        db.sql("UPDATE cache SET recent_hits = %d WHERE id = %s" % (h, yth.sql_str(i)))


def fetched_ids(st):
    """The id= of every videos?id= call the fake saw."""
    out = []
    for qs in st["queries"]:
        for k, v in yth.parse_query(qs):
            if k == "id":
                out.append(v)
    return out


def fetched_regions(st):
    return [dict(yth.parse_query(qs)).get("regionCode") for qs in st["queries"]]


def sp(r):
    if r.rc != 0:
        yth.diag("stdout: " + r.out.strip()[:800])
        yth.diag("stderr: " + r.err.strip()[:800])


# ---------------------------------------------------------------- 1. warm three regions
fake.reset()
c1 = conf({"regions": "US,GB,JP", "pages": 2})
r = refresh(c1)
sp(r)
quiet_ok(r, "first run")
st = fake.stats()
is_(st["calls"], 6, "first run: 3 regions x 2 pages = 6 upstream calls")
is_(sorted(fetched_regions(st)), ["GB", "GB", "JP", "JP", "US", "US"], "every configured region fetched")
is_(sum(1 for q in st["queries"] if "pageToken=CAUQAA" in q), 3, "page 2 of each region follows nextPageToken")
ok(all(dict(yth.parse_query(q)).get("chart") == "mostPopular" and
       dict(yth.parse_query(q)).get("maxResults") == "5" and
       dict(yth.parse_query(q)).get("part") == "contentDetails,snippet,statistics" for q in st["queries"]),
   "chart=mostPopular with the configured part and maxResults")
is_(db.count("region_code IN ('US','GB','JP') AND endpoint = 'videos' AND status = 200"), 6,
    "six trending rows stored")

# the same lists as a browser asks for them: other order, other spelling
r1 = s.get("/youtube/v3/videos?regionCode=GB&maxResults=5&part=statistics%2C%20snippet,contentDetails,snippet"
           "&chart=mostPopular&prettyPrint=false")
is_((r1.status, r1.xcache), (200, "HIT"), "browser's GB trending request is a HIT")
r2 = s.get("/youtube/v3/videos?pageToken=CAUQAA&part=snippet,contentDetails,statistics&chart=mostPopular"
           "&regionCode=JP&maxResults=5")
is_((r2.status, r2.xcache), (200, "HIT"), "browser's JP page 2 request is a HIT")
ok(len((r2.json() or {}).get("items", [])) == 5, "the HIT carries the five trending items")
is_(fake.calls(), 6, "the HITs made no further upstream call")

# ---------------------------------------------------------------- 2. second run within the interval
fake.reset()
r = refresh(c1, "--verbose")
is_(r.rc, 0, "second run: exit 0")
is_(fake.calls(), 0, "second run within the interval: no upstream call")
for reg in ("US", "GB", "JP"):
    like(r.out, r"(?m)^trending %s: fetched 0, skipped 2, units 0$" % reg, "--verbose: %s skipped, 0 units" % reg)
r = refresh(c1)
quiet_ok(r, "quiet second run")
# only what is due within the interval: GB page 1 expires in a minute
fake.reset()
db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() + INTERVAL 60 SECOND "
       "WHERE region_code = 'GB' AND request NOT LIKE '%pageToken%'")
r = refresh(c1)
quiet_ok(r, "run with one list due")
st = fake.stats()
is_(st["calls"], 1, "only the list due within the interval is fetched")
ok(st["queries"] and "regionCode=GB" in st["queries"][0] and "pageToken" not in st["queries"][0],
   "... GB page 1")

# ---------------------------------------------------------------- entries for the later cases
HOT, COLD = yth.vid("rfhot"), yth.vid("rfcold")
H = [yth.vid("rfh%d" % i) for i in range(1, 6)]           # refresh-ahead: budget and reserve
P = [yth.vid("rfp%d" % i) for i in range(1, 8)]           # purge
for v in [HOT, COLD] + H + P:
    resp = s.get("/youtube/v3/videos?part=snippet&id=" + v)
    if resp.status != 200 or resp.xcache != "MISS":
        yth.diag("fill %s: %s %s" % (v, resp.status, resp.xcache))
QS = "q=" + yth.q([("q", "cats & dogs/\u00fc+%ok")]).split("=", 1)[1] + "&part=snippet&maxResults=3&ttl=120"
is_(s.get("/youtube/v3/search?" + QS).xcache, "MISS", "search entry with an awkward q stored")
for _ in range(3):
    is_(s.get("/youtube/v3/videos?id=%s&part=snippet" % HOT).xcache, "HIT", "hot entry used")
is_(s.get("/youtube/v3/videos?id=%s&part=snippet" % COLD).xcache, "HIT", "cold entry used once")
# hits reach the database in batches; a worker flushes at exit
s.launcher.stop()
ok(yth.wait_for(lambda: row(HOT, "recent_hits") == ["3"] and row(COLD, "recent_hits") == ["1"], 10,
                what="recent_hits 3 / 1"), "worker exit flushed the hits: hot 3, cold 1")

# ---------------------------------------------------------------- 3. refresh-ahead: hot yes, cold no
fake.reset()
due([HOT, COLD])
cold_before = row(COLD)
c3 = conf()
r = refresh(c3, "--verbose")
sp(r)
is_(r.rc, 0, "refresh-ahead run: exit 0")
st = fake.stats()
is_(st["calls"], 1, "refresh-ahead: exactly one upstream call")
is_(fetched_ids(st), [HOT], "... for the hot entry")
like(r.out, r"(?m)^refresh-ahead: 1 hot, fetched 1, skipped 0, units 1$", "--verbose: refresh-ahead line")
h = row(HOT, "recent_hits, expires_at > UTC_TIMESTAMP() + INTERVAL 3000 SECOND")
is_(h, ["0", "1"], "hot entry: fetched again with its full TTL, hit count restarted")
is_(row(COLD), cold_before, "cold entry left to expire")

# a hot entry is fetched again under its own key and the configured TTL, whatever
# its query holds; a ttl of 120 written by a client's ttl= before it stopped
# deciding a row's TTL is not kept
fake.reset()
is_(db.value("SELECT ttl FROM cache WHERE endpoint = 'search'"), "21600",
    "the search entry asked with ttl=120 was stored with the configured TTL")
db.sql("UPDATE cache SET recent_hits = 4, ttl = 120, expires_at = UTC_TIMESTAMP() WHERE endpoint = 'search'")
key_before, n_rows = db.value("SELECT HEX(cache_key) FROM cache WHERE endpoint = 'search'"), db.count()
r = refresh(c3)
quiet_ok(r, "refresh-ahead of a search entry")
st = fake.stats()
is_(st["queries"], ["maxResults=3&part=snippet&q=cats%20%26%20dogs%2F%C3%BC%2B%25ok"],
    "the stored request is sent again, percent-encoded as the responder does")
is_(db.sql("SELECT HEX(cache_key), ttl, recent_hits, expires_at > UTC_TIMESTAMP() + INTERVAL 100 SECOND "
           "FROM cache WHERE endpoint = 'search'"), [[key_before, "21600", "0", "1"]],
    "same row refreshed (same key, the configured TTL of [ttl] search, not the row's old 120 s)")
is_(db.count(), n_rows, "no new row")

# ---------------------------------------------------------------- 4. run budget and reserve
fake.reset()
r = refresh(conf({"regions": "US", "run_budget": 2}), "--regions", "KR,TW,SG", "--verbose")
sp(r)
is_(r.rc, 0, "run_budget 2: exit 0")
st = fake.stats()
is_(st["calls"], 2, "run_budget 2 with 3 regions: exactly 2 upstream calls")
is_(fetched_regions(st), ["KR", "TW"], "--regions replaces the configured list; SG waits for the next run")
like(r.out, r"run budget of 2 units reached", "--verbose says the run budget was reached")

# the budget applies to the whole run: 2 trending calls leave 1 for the hottest entry
fake.reset()
due(H[:3], hits=[7, 9, 8])
r = refresh(conf({"regions": "SG,VN", "run_budget": 3}))
sp(r)
is_(r.rc, 0, "run_budget 3 over trending and refresh-ahead: exit 0")
st = fake.stats()
is_(st["calls"], 3, "run_budget 3: exactly 3 upstream calls in the whole run")
is_(fetched_regions(st)[:2], ["SG", "VN"], "trending first")
is_(fetched_ids(st), [H[1]], "then the most-used hot entry only")

# reserve: refresh-ahead stops at limit - reserve, trending may use the reserve
s.reset_quota()
fake.reset()
due(H, hits=[6, 10, 7, 9, 8])
cq = {"bucket.default": 6, "reserve.default": 3}
r = refresh(conf(quota=cq))
is_(r.rc, 4, "refresh-ahead held back by the reserve: exit 4")
like(r.err, r"no quota", "stderr says there is no quota")
st = fake.stats()
is_(st["calls"], 3, "refresh-ahead: 3 calls = bucket 6 - reserve 3")
is_(fetched_ids(st), [H[1], H[3], H[4]], "the three most-used entries, most used first")
is_((s.key_usage() or {}).get("used"), 3, "key_usage: 3 units used")
fake.reset()
r = refresh(conf({"regions": "DE,FR,IT,ES"}, quota=cq))
is_(r.rc, 4, "trending spends the reserve, then runs out: exit 4")
st = fake.stats()
is_(fetched_regions(st), ["DE", "FR", "IT"], "trending used the 3 reserved units, no call beyond")
is_((s.key_usage() or {}).get("used"), 6, "key_usage: the whole bucket (6) used")
s.reset_quota()
db.sql("UPDATE cache SET recent_hits = 0")     # nothing hot for the next cases

# ---------------------------------------------------------------- 5. one run at a time
fake.reset()
c5 = conf({"regions": "BR,MX,AR", "pages": 2})
holder = yth.Proc(s.tmp, "mariadb-lock-holder",
                  [db.client, "--no-defaults", "--socket=" + db.socket, "--user=root", "--batch",
                   "--skip-column-names", "--unbuffered"], stdin=subprocess.PIPE)
holder.p.stdin.write(b"SELECT GET_LOCK(" + RUN_LOCK.encode() + b", 30);\n")
holder.p.stdin.flush()
ok(yth.wait_for(lambda: db.value("SELECT IS_USED_LOCK(%s) IS NOT NULL" % RUN_LOCK) == "1", 10,
                what="the test's session to hold the run lock"), "test session holds GET_LOCK('ytcache-refresh')")
r = refresh(c5, "--verbose")
is_(r.rc, 0, "run while another holds the lock: exit 0")
ok(r.elapsed < 5, "... at once (%.2f s)" % r.elapsed)
like(r.out, r"another ytcache-refresh run is in progress", "--verbose notes the other run")
r = refresh(c5)
quiet_ok(r, "run while locked, without --verbose")
is_(fake.calls(), 0, "no upstream call while another run holds the lock")
holder.p.stdin.write(b"SELECT RELEASE_LOCK(" + RUN_LOCK.encode() + b");\n")
holder.p.stdin.close()
ok(yth.wait_for(lambda: not holder.alive(), 10, what="lock holder to exit"), "lock released")
holder.stop()

# two runs started together (each call slowed down so the runs overlap)
fake.mode("ok", delay_ms=150)
a, b = start_refresh(c5, "--verbose"), start_refresh(c5, "--verbose")
ra, rb = finish_refresh(a), finish_refresh(b)
is_((ra.rc, rb.rc), (0, 0), "two concurrent runs: both exit 0")
is_(fake.calls(), 6, "two concurrent runs: upstream calls = one run's worth (3 regions x 2 pages)")
is_(sum(1 for x in (ra, rb) if "another ytcache-refresh run is in progress" in x.out), 1,
    "exactly one of them found the other running")
fake.mode("ok")

# ---------------------------------------------------------------- 8. --dry-run (before purge: rows to purge exist)
def old(ids, secs):
    db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() - INTERVAL %d SECOND WHERE id IN (%s)"
           % (secs, ",".join(yth.sql_str(i) for i in ids)))


old(P[:5], 7200)       # past stale_if_error = 3600
old(P[5:], 1800)       # expired, inside the stale window
now_us = int(time.time() * 1000000)
db.sql("DELETE FROM client_limits; INSERT INTO client_limits (client, tat_us) VALUES "
       "('rf-gone', %d), ('rf-kept', %d)" % (now_us - 600 * 1000000, now_us + 3600 * 1000000))
due([COLD], hits=[5])                                   # a hot due entry
db.sql("DELETE FROM cache WHERE region_code = 'US'")    # a due region
fake.reset()
c8 = conf({"regions": "US", "purge_batch": 2}, cache={"stale_if_error": 3600})
tables = ("cache", "client_limits", "key_usage", "budget_usage", "daily_counters", "api_keys")
before = checksum(*tables)
n_before = db.count()
r = refresh(c8, "--dry-run")
sp(r)
quiet_ok(r, "--dry-run")
r = refresh(c8, "--dry-run", "--verbose")
is_(r.rc, 0, "--dry-run --verbose: exit 0")
like(r.out, r"(?m)^trending US: would fetch 1, skipped 0", "--verbose: US would be fetched")
like(r.out, r"(?m)^refresh-ahead: 1 hot, would fetch 1", "--verbose: the hot entry would be fetched")
is_(fake.calls(), 0, "--dry-run: no upstream call")
is_(checksum(*tables), before, "--dry-run: no row changed (cache, client_limits, usage, counters)")

# ---------------------------------------------------------------- 6. purge
fake.reset()
r = refresh(c8, "--verbose")
sp(r)
is_(r.rc, 0, "purging run: exit 0")
like(r.out, r"housekeeping: 5 expired rows, 1 client-limit rows", "--verbose: 5 expired rows, 1 client-limit row")
is_(db.count("id IN (%s)" % ",".join(yth.sql_str(i) for i in P[:5])), 0,
    "5 rows past the stale window gone with purge_batch = 2")
is_(db.count("id IN (%s)" % ",".join(yth.sql_str(i) for i in P[5:])), 2, "expired rows inside the stale window kept")
is_(db.count(), n_before - 5 + 1, "nothing else deleted (US page 1 added)")
is_(db.sql("SELECT client FROM client_limits ORDER BY client"), [["rf-kept"]],
    "client_limits: the row whose TAT passed is pruned, the other kept")
is_(fake.calls(), 2, "the same run fetched US and the hot entry")

# ---------------------------------------------------------------- 7. exit statuses
bad = os.path.join(s.tmp, "bad.conf")
with open(bad, "w") as f:
    f.write(yth.read_file(c3).decode() + "\n[refresh]\npages = lots\n")
nline = len(yth.read_file(bad).decode().splitlines())
r = refresh(bad)
is_(r.rc, 1, "bad config: exit 1")
like(r.err, re.escape(bad) + ":%d:" % nline, "message names the file and line")
is_(r.out, "", "bad config: nothing on stdout")
r = refresh(c3, "--no-such-option")
is_(r.rc, 1, "unknown option: exit 1")

nodb = conf(database={"socket": os.path.join(s.tmp, "no-such-mysqld.sock")})
fake.reset()
r = refresh(nodb)
is_(r.rc, 2, "database unreachable: exit 2")
ok(r.err.strip() != "", "database unreachable: error on stderr")
is_(fake.calls(), 0, "database unreachable: no upstream call")

db.sql("DELETE FROM cache WHERE region_code IN ('KR','TW','SG')")
s.reset_quota()
fake.reset()
r = refresh(conf({"regions": "KR,TW,SG"}, quota={"bucket.default": 1}))
is_(r.rc, 4, "quota exhausted: exit 4")
like(r.err, r"no quota", "quota exhausted: stderr says no quota")
is_(fake.calls(), 1, "quota exhausted: one call, then none")
s.reset_quota()

fake.reset()
fake.mode("error500")
r = refresh(conf({"regions": "NL"}))
is_(r.rc, 3, "upstream failing (500): exit 3")
like(r.err, r"upstream", "upstream failing: stderr says so")
ok(fake.calls() >= 1, "the fake was called")

# the responder's breaker: opened by the first failure, no call after it
fake.reset()
fake.mode("error500")
r = refresh(conf({"regions": "NO,SE,FI"}, quota={"breaker_failures": 1}))
is_(r.rc, 3, "breaker opened by a failing upstream: exit 3")
is_(fake.calls(), 1, "breaker open: one call, none for the other regions")
is_((s.breaker() or {}).get("state"), 1, "the shared breaker is open")
fake.mode("ok")
s.reset_quota()

# the responder's region budgets: budget.default.JP
db.sql("DELETE FROM cache WHERE region_code = 'JP'")
fake.reset()
r = refresh(conf({"regions": "JP", "pages": 2}, quota={"budget.default.JP": 1}))
is_(r.rc, 4, "region budget spent: exit 4")
is_(fake.calls(), 1, "budget.default.JP = 1: one call, page 2 not fetched")
s.reset_quota()
# ---------------------------------------------------------------- 8. no usable key: which case, and the fix
# every key disabled is not an empty pool: the message says how many and how to fix it
is_(s.ctl("keys", "add", "rf-spare", "AIzaSyREFRESH-spare-key-0001").returncode, 0, "a second key in the pool")
db.sql("UPDATE api_keys SET state = 'disabled', disabled_reason = 'disabled by ytcachectl'")
nkeys = int(db.value("SELECT COUNT(*) FROM api_keys"))
ok(nkeys >= 1, "the pool has %d key(s), all disabled" % nkeys)
db.sql("DELETE FROM cache WHERE region_code = 'BR'")
fake.reset()
r = refresh(conf({"regions": "BR"}))
is_(r.rc, 3, "every key disabled: exit 3 (upstream)")
like(r.err, r"all %d keys of the pool are disabled" % nkeys if nkeys > 1 else r"the only key of the pool is disabled",
     "every key disabled: says all %d are disabled" % nkeys)
like(r.err, r"ytcachectl keys enable LABEL", "every key disabled: names ytcachectl keys enable LABEL")
ok("pool is empty" not in r.err, "every key disabled: not called an empty pool")
is_(fake.calls(), 0, "every key disabled: no upstream call")
# no key at all: the pool is empty, and the message says how to add one
db.sql("DELETE FROM key_usage")
db.sql("DELETE FROM api_keys")
fake.reset()
r = refresh(conf({"regions": "BR"}, upstream={"keys": None}))
is_(r.rc, 3, "no key at all: exit 3 (upstream)")
like(r.err, r"the key pool is empty", "no key at all: says the pool is empty")
like(r.err, r"ytcachectl keys add", "no key at all: names ytcachectl keys add")
ok("disabled" not in r.err, "no key at all: says nothing of disabled keys")
is_(fake.calls(), 0, "no key at all: no upstream call")
s.ctl("migrate")           # the configuration's key back in the pool
s.reset_quota()

is_(yth.sanitizer_reports(), [], "no sanitizer report")

yth.done_testing()
