#!/usr/bin/python3
"""A bounded cache table ([cache] max_rows, max_bytes): a store that takes
the table over its bound evicts the least recently hit rows at once (never
hit first, oldest fetch first; hit rows by last hit), so through real nginx
misses the table never holds more than the bound; rows that were hit
survive a flood of one-off queries; the cache_ids rows of evicted rows go
with them; ytcache-refresh recounts the table and evicts down to a lowered
bound; ytcachectl stats and /metrics count the evictions by who made them;
check-config prints the bound; 0 means no bound."""

import os
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
if not os.access(REFRESH, os.X_OK):
    yth.bail("%s not built (run make first)" % REFRESH)

MAX_ROWS = 20
WORKERS = 2
s = yth.Stack("spawn-fcgi", workers=WORKERS, config={"cache": {"max_rows": MAX_ROWS, "max_bytes": 0}})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=id&id="


def ids_present(tags):
    """The tags (first id of each row) whose row is in the table."""
    have = set(r[0] for r in db.sql("SELECT id FROM cache WHERE endpoint = 'videos'"))
    return [t for t in tags if any(h.split(",")[0] == yth.vid(t) for h in have)]


def usage():
    r = db.sql("SELECT row_count, byte_count, evicted_store, evicted_refresh FROM cache_usage WHERE id = 1")
    return dict(zip(("rows", "bytes", "store", "refresh"), (int(x) for x in r[0]))) if r else None


def orphans():
    return db.count("NOT EXISTS (SELECT 1 FROM cache c WHERE c.cache_key = i.cache_key)", table="cache_ids i")


def metrics():
    r = s.get("/metrics")
    is_(r.status, 200, "/metrics answers")
    return yth.metric_samples(r.body.decode())


def stats():
    r = s.ctl("stats")
    is_(r.returncode, 0, "ytcachectl stats: exit 0")
    return r.stdout.decode()


def refresh(cache):
    """One ytcache-refresh run with a config of its own (no trending, nothing hot)."""
    path = os.path.join(s.tmp, "refresh-%d.conf" % len(os.listdir(s.tmp)))
    yth.write_config(path, db, fake, cache=cache, refresh={"regions": "", "hot_hits": 1000})
    p = subprocess.run([REFRESH, "--config", path, "--verbose"], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    with open(os.path.join(s.tmp, "logs", "ytcache-refresh.log"), "a") as f:
        f.write("### %s\n%s%s" % (cache, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    return p


def hit_until_flushed(tags):
    """Hit these rows until the database has their last hit (hits are written
    in batches, at most once a second per worker, after a later request)."""
    def flushed():
        for t in tags:
            r = s.get(V + yth.vid(t))
            if r.header("x-cache") != "HIT":
                return False
        where = " OR ".join("id = %s" % yth.sql_str(yth.vid(t)) for t in tags)
        return db.count("last_hit_at IS NOT NULL AND (%s)" % where) == len(tags)
    return yth.wait_for(flushed, 20, interval=0.2, what="last_hit_at of %s" % tags)


# ---- check-config prints the bound; the shipped defaults
r = s.ctl("check-config")
ok(b"max_rows = %d\n" % MAX_ROWS in r.stdout and b"max_bytes = 0 (no bound)" in r.stdout,
   "check-config prints the effective bound")
dflt = yth.write_config(os.path.join(s.tmp, "defaults.conf"), db, fake, cache={})
r = yth.ytcachectl(dflt, "check-config", tmp=s.tmp)
ok(b"max_rows = 100000\n" in r.stdout and b"max_bytes = 536870912\n" in r.stdout,
   "shipped defaults: max_rows = 100000, max_bytes = 536870912 (512 MiB)")
bad = yth.write_config(os.path.join(s.tmp, "bad.conf"), db, fake, cache={"max_rows": -1})
r = yth.ytcachectl(bad, "check-config", tmp=s.tmp)
is_(r.returncode, 1, "max_rows = -1: a configuration error")

# ---- the store path: the bound is kept at every store
OLD = ["old%02d" % i for i in range(5)]          # stored first, then hit: they stay
COLD = ["cold%02d" % i for i in range(15)]       # stored next, never hit: evicted first
NEW = ["new%02d" % i for i in range(10)]
for t in OLD:
    is_(s.get(V + yth.vid(t)).header("x-cache"), "MISS", "store %s" % t)
for t in COLD:
    # several ids: each is listed in cache_ids too
    r = s.get(V + yth.vid(t) + "," + yth.vid(t + "b"))
    ok(r.status == 200 and r.header("x-cache") == "MISS", "store %s (two ids)" % t)
is_(s.rows(), MAX_ROWS, "%d rows: exactly the bound" % MAX_ROWS)
is_(usage()["rows"], MAX_ROWS, "cache_usage counts them")
ids_before = db.count(table="cache_ids")
is_(ids_before, 2 * len(COLD), "cache_ids lists both ids of each two-id row")
ok(hit_until_flushed(OLD), "the oldest rows were hit and their last hit written")

calls0 = fake.calls()
most = 0
for t in NEW:
    r = s.get(V + yth.vid(t))
    is_(r.header("x-cache"), "MISS", "new row %s: a miss, stored" % t)
    most = max(most, s.rows())
is_(fake.calls() - calls0, len(NEW), "%d upstream calls for %d new rows" % (len(NEW), len(NEW)))
is_(most, MAX_ROWS, "after every store the table held at most max_rows = %d rows (most: %d)" % (MAX_ROWS, most))
is_(ids_present(OLD), OLD, "the hit rows, though stored first, all survive")
is_(ids_present(NEW), NEW, "the new rows are all there")
gone = [t for t in COLD if t not in ids_present(COLD)]
is_(len(gone), len(NEW), "%d never-hit rows evicted, one per new row: %s" % (len(gone), gone))
u = usage()
is_((u["rows"], u["store"], u["refresh"]), (MAX_ROWS, len(NEW), 0),
    "cache_usage: %d rows, %d evicted by stores, 0 by the refresher" % (MAX_ROWS, len(NEW)))
is_(db.count(table="cache_ids"), ids_before - 2 * len(NEW), "the evicted rows' cache_ids rows went with them")
is_(orphans(), 0, "no cache_ids row without its cache row")
plan = db.sql("EXPLAIN SELECT cache_key, body_bytes FROM cache FORCE INDEX (idx_evict)"
              " ORDER BY last_hit_at, fetched_at, cache_key LIMIT 33")
text = " ".join(" ".join(str(c) for c in row) for row in plan)
ok("idx_evict" in text and "filesort" not in text.lower(),
   "finding victims walks the idx_evict index, no sort of the table (%s)" % text)

m = metrics()
is_(m.get('ytcache_cache_evictions_total{by="store"}'), float(len(NEW)), "/metrics: evictions by stores")
is_(m.get('ytcache_cache_evictions_total{by="refresh"}'), 0.0, "/metrics: none by the refresher yet")
out = stats()
ok(re.search(r"^evicted: %d rows by stores, 0 by ytcache-refresh" % len(NEW), out, re.M),
   "ytcachectl stats: the evictions")
ok(re.search(r"^bound: max_rows %d, max_bytes 0 \(none\); the table holds %d rows" % (MAX_ROWS, MAX_ROWS), out,
             re.M), "ytcachectl stats: the bound and what the table holds")

# ---- ytcache-refresh: a recount (a hand-made deletion left the count high), then down to a lower bound
db.sql("DELETE FROM cache WHERE id = %s" % yth.sql_str(yth.vid(NEW[0])))
is_(usage()["rows"], MAX_ROWS, "a deletion by hand is not counted (the count is %d, the table %d)"
    % (MAX_ROWS, s.rows()))
LOW = 8
p = refresh({"max_rows": LOW, "max_bytes": 0})
is_(p.returncode, 0, "ytcache-refresh with max_rows = %d: exit 0" % LOW)
is_(s.rows(), LOW, "ytcache-refresh brought the table down to %d rows" % LOW)
is_(ids_present(OLD), OLD, "the hit rows are among those kept")
u = usage()
is_((u["rows"], u["refresh"]), (LOW, MAX_ROWS - 1 - LOW),
    "cache_usage recounted (%d rows), %d evicted by the refresher" % (LOW, MAX_ROWS - 1 - LOW))
ok(re.search(r"bound: %d rows evicted" % (MAX_ROWS - 1 - LOW), p.stdout.decode()), "--verbose says so")
is_(orphans(), 0, "still no orphaned cache_ids row")
m = metrics()
is_(m.get('ytcache_cache_evictions_total{by="refresh"}'), float(MAX_ROWS - 1 - LOW), "/metrics: evictions by the refresher")
ok(re.search(r"^evicted: %d rows by stores, %d by ytcache-refresh" % (len(NEW), MAX_ROWS - 1 - LOW), stats(), re.M),
   "ytcachectl stats: both counts")
p = refresh({"max_rows": LOW, "max_bytes": 0})
is_((p.returncode, s.rows(), usage()["refresh"]), (0, LOW, MAX_ROWS - 1 - LOW),
    "a second run within the bound evicts nothing")

# ---- a hostile client: many distinct searches, four at a time, cannot grow the table past its bound
HOSTILE = 150
# (a search bucket of 1000 a day: the shipped 100 would end the flood first)
s.reconfigure(cache={"max_rows": MAX_ROWS, "max_bytes": 0}, quota={"bucket.search": 1000})
ok(hit_until_flushed(OLD), "the hit rows, hit again")
seen, lock = [], threading.Lock()


def flood(k):
    for i in range(k, HOSTILE, 4):
        r = s.get("/youtube/v3/search?part=snippet&q=" + "spam%03d" % i)
        n = s.rows()
        with lock:
            seen.append((r.status, n))


calls0 = fake.calls()
threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
is_(sorted(set(st for st, _ in seen)), [200], "%d distinct searches answered 200" % HOSTILE)
is_(fake.calls() - calls0, HOSTILE, "each one an upstream call and a store")
cmp_ok(max(n for _, n in seen), "<=", MAX_ROWS + WORKERS,
       "while they ran, the table never held more than max_rows + one row per worker (%d; most: %d)"
       % (MAX_ROWS + WORKERS, max(n for _, n in seen)))
cmp_ok(s.rows(), "<=", MAX_ROWS, "after them, at most max_rows = %d rows (%d)" % (MAX_ROWS, s.rows()))
is_(ids_present(OLD), OLD, "the rows real visitors hit survive the flood")
flood_evicted = usage()["store"] - len(NEW)
is_(flood_evicted, LOW + HOSTILE - s.rows(), "every row the flood took out is counted (%d)" % flood_evicted)
p = refresh({"max_rows": MAX_ROWS, "max_bytes": 0})
is_(usage()["rows"], s.rows(), "the refresher's recount matches the table (%d)" % s.rows())

# ---- max_bytes: the stored lengths of the bodies
PAD = 3000
BYTES = 10 * PAD
s.reconfigure(cache={"max_rows": 0, "max_bytes": BYTES})
fake.mode("ok", pad_bytes=PAD)
most = 0
for i in range(25):
    r = s.get(V + yth.vid("big%02d" % i))
    ok(r.status == 200 and len(r.body) >= PAD, "padded answer %d: %d bytes" % (i, len(r.body)))
    most = max(most, int(db.value("SELECT COALESCE(SUM(LENGTH(response)), 0) FROM cache")))
cmp_ok(most, "<=", BYTES, "after every store the bodies took at most max_bytes = %d bytes (most: %d)" % (BYTES, most))
is_(db.value("SELECT COUNT(*) FROM cache WHERE body_bytes <> LENGTH(response)"), "0",
    "body_bytes is each row's stored length")
ok(db.count("id LIKE 'big%'") >= 5, "the newest big rows are kept (%d)" % db.count("id LIKE 'big%'"))
fake.mode("ok")

# ---- 0: no bound
s.reconfigure(cache={"max_rows": 0, "max_bytes": 0})
before, evicted = s.rows(), usage()["store"]
for i in range(5):
    s.get(V + yth.vid("free%02d" % i))
is_(s.rows(), before + 5, "max_rows = max_bytes = 0: five more rows, nothing evicted")
is_(usage()["store"], evicted, "no eviction counted")

yth.done_testing()
