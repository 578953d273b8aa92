#!/usr/bin/python3
"""Hot rows: a FastCGI worker keeps recently served cache rows in memory
([cache] hot_bytes, hot_trust_ms).  Within hot_trust_ms of the database's
last confirmation a copy is served without asking the database; after
that (or once it has expired by its own clock) only the row's revision is
read (no body): no row -> miss, another revision -> full re-read, same
revision -> the copy is served.  Rows with rev 0 and rows larger than
hot_bytes/4 are never kept; least recently used rows make room.
hot_bytes = 0, CGI (fcgiwrap) keep nothing; `ytcache --listen` workers do.
Answers from memory are the same bytes and headers as answers from the
database (HIT, Age, ETag, HEAD, If-None-Match -> 304).

Each ytcache here is one process, so every request of a mount reaches the
same memory; all of them share one MariaDB and one fake upstream:
  /t60/     spawn-fcgi, hot_trust_ms = 60000, hot_bytes = 65536
  /t0/      spawn-fcgi, hot_trust_ms = 0 (always asks for the revision)
  /dflt/    spawn-fcgi, defaults (8 MiB, 1000 ms)
  /off/     spawn-fcgi, hot_bytes = 0 (and hot_trust_ms = 60000)
  /listen/  ytcache --listen --workers 1, as /t60/
  /cgi/     fcgiwrap (CGI), as /t60/"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, isnt, cmp_ok, diag  # noqa: E402

HOT_BYTES = 65536
CACHE = {"min_ttl": 1}
# the own-clock expiry case needs rows that live 2 s: a TTL rule, since a
# client's ttl= no longer sets a row's TTL
TTL = {"videos.maxWidth": 2}
CONFIGS = {
    "t60": dict(CACHE, hot_trust_ms=60000, hot_bytes=HOT_BYTES),
    "t0": dict(CACHE, hot_trust_ms=0),
    "dflt": dict(CACHE, hot_trust_ms=None),     # yth sets 0 for the other tests: drop it
    "off": dict(CACHE, hot_bytes=0, hot_trust_ms=60000),
}
CONFIGS["listen"] = CONFIGS["cgi"] = CONFIGS["t60"]


class ListenOne(yth.Listen):
    """ytcache --listen --workers 1 serves in the process it was started as:
    no worker children to wait for."""

    def start(self):
        self._clear_socket()
        env = {k: v for k, v in os.environ.items() if k != "YTCACHE_CONFIG"}
        self.proc = yth.Proc(self.tmp, self.name, [yth.YTCACHE, "--listen", self.addr, "--workers", "1",
                                                   "--config", self.conf], env=env)
        self._wait_listening(self.proc.alive)


s = yth.Stack(launcher=None, config={"cache": CACHE, "ttl": TTL})   # MariaDB + fake upstream + migrate
tmp, db, fake = s.tmp, s.db, s.fake
confs = {}
for name, cache in CONFIGS.items():
    confs[name] = s.write_config(os.path.join(tmp, "ytcache-%s.conf" % name), cache=cache, ttl=TTL)
launchers = {name: yth.SpawnFcgi(tmp, confs[name], workers=1, name="ytcache-" + name)
             for name in ("t60", "t0", "dflt", "off")}
launchers["listen"] = ListenOne(tmp, confs["listen"], workers=1, name="ytcache-listen")
launchers["cgi"] = yth.Fcgiwrap(tmp, confs["cgi"], workers=1, name="ytcache-cgi")
nginx = yth.Nginx(tmp, [("/%s/" % name, l, "split") for name, l in launchers.items()])

V = "/youtube/v3/videos?part=snippet&id="


def get(mount, path, headers=None, method="GET"):
    return nginx.http(method, "/%s%s" % (mount, path), headers)


def where(v):
    return "request LIKE %s" % yth.sql_str("%" + v + "%")


def delete(v):
    db.sql("DELETE FROM cache WHERE " + where(v))


def warm(mount, path, label):
    """MISS (stored), then HIT (read from the database: now in memory)."""
    a = get(mount, path)
    b = get(mount, path)
    is_((a.status, a.xcache, b.status, b.xcache), (200, "MISS", 200, "HIT"),
        "%s: /%s/ warmed (MISS, then HIT)" % (label, mount))
    return a, b


def status_var(name):
    rows = db.sql("SHOW GLOBAL STATUS LIKE %s" % yth.sql_str(name))
    return int(rows[0][1])


def replace_body(r, **fields):
    """Another valid JSON answer: r's body with fields added (ASCII only)."""
    j = r.json() or {}
    j.update(fields)
    return json.dumps(j)


def headers_except(r, skip=("date", "age", "cache-control")):
    return [(k.lower(), v) for k, v in r.header_list if k.lower() not in skip]


def hot_metrics(mount):
    """ytcache_hot_lookups_total of a mount's process, by result."""
    samples = yth.metric_samples(get(mount, "/youtube/v3/metrics").body.decode("utf-8", "replace"))
    return {k: int(samples.get('ytcache_hot_lookups_total{result="%s"}' % k, -1))
            for k in ("memory", "checked", "reread")}


def max_age(r):
    m = re.match(r"^public, max-age=(\d+)$", r.header("cache-control") or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- schema
cmp_ok(int(db.value("SELECT MAX(version) FROM schema_version") or 0), ">=", 5, "schema version 5 or later")
is_(db.value("SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() "
             "AND table_name = '%s' AND column_name = 'rev'" % yth.table("cache")), "bigint(20) unsigned",
    "cache.rev is BIGINT UNSIGNED")

# ---------------------------------------------------------------- 1. memory serves hits without the database
A = yth.vid("hotMemAAAAA")
a1, a2 = warm("t60", V + A, "memory")
ok(a1.body == a2.body and len(a1.body) > 100, "memory: the HIT from the database has the MISS bytes")
revA = db.value("SELECT rev FROM cache WHERE " + where(A))
isnt(revA, "0", "a stored row has a revision other than 0")
delete(A)
c0 = fake.calls()
r = get("t60", V + A)
is_((r.status, r.xcache), (200, "HIT"), "memory: row deleted in MariaDB, still a HIT (hot_trust_ms 60000)")
ok(r.body == a2.body, "memory: the HIT has the old bytes")
is_(fake.calls() - c0, 0, "memory: no upstream call")
is_(db.count(where(A)), 0, "memory: and the row was not stored again")

# statements executed for 50 hits within the trust window
B = yth.vid("hotStmtBBBB")
b1, b2 = warm("t60", V + B, "statements")
hm0 = hot_metrics("t60")
n0, t0 = status_var("Com_stmt_execute"), time.monotonic()
res = [get("t60", V + B) for _ in range(50)]
elapsed = time.monotonic() - t0
n1 = status_var("Com_stmt_execute")
is_([(x.status, x.xcache) for x in res if (x.status, x.xcache) != (200, "HIT")], [],
    "statements: 50 requests, 50 HITs")
ok(all(x.body == b2.body for x in res), "statements: 50 HITs, the same bytes")
# hit counts are written at most once a second (a few statements each)
bound = min(25, 3 * (int(elapsed) + 2))
cmp_ok(n1 - n0, "<=", bound, "statements: 50 hits from memory executed %d statements in %.1f s (<= %d)"
       % (n1 - n0, elapsed, bound))
hm1 = hot_metrics("t60")
is_(hm1.get("memory", 0) - hm0.get("memory", -999), 50,
    "metrics: ytcache_hot_lookups_total{result=\"memory\"} rose by the 50 hits")
is_((hm1.get("checked"), hm1.get("reread")), (hm0.get("checked"), hm0.get("reread")),
    "metrics: and nothing was checked or read again")
revB = db.value("SELECT rev FROM cache WHERE " + where(B))
isnt(revB, revA, "two stores, two revisions")
# hits served from memory are still counted
ok(yth.wait_for(lambda: get("t60", V + B).xcache == "HIT"
                and int(db.value("SELECT hits FROM cache WHERE " + where(B)) or 0) >= 51, 10, 0.2,
                what="the hit count of memory hits"),
   "statements: hits served from memory are counted in cache.hits")

# the same with hot_bytes = 0: every hit reads the database
C = yth.vid("hotStmtCCCC")
warm("off", V + C, "statements, hot_bytes 0")
n0 = status_var("Com_stmt_execute")
res = [get("off", V + C) for _ in range(50)]
n1 = status_var("Com_stmt_execute")
is_(sum(1 for x in res if x.xcache == "HIT"), 50, "statements, hot_bytes 0: 50 HITs")
cmp_ok(n1 - n0, ">=", 50, "statements, hot_bytes 0: at least one statement per hit (%d)" % (n1 - n0))

# ---------------------------------------------------------------- 5. hot_bytes = 0 keeps nothing
O = yth.vid("hotOffOOOOO")
warm("off", V + O, "hot_bytes 0")
delete(O)
c0 = fake.calls()
r = get("off", V + O)
is_((r.status, r.xcache), (200, "MISS"), "hot_bytes 0: row deleted -> the next request is a MISS")
is_(fake.calls() - c0, 1, "hot_bytes 0: one upstream call")

# ---------------------------------------------------------------- rev 0 is never kept
Z = yth.vid("hotRevZeroZ")
r = get("t60", V + Z)
is_((r.status, r.xcache), (200, "MISS"), "rev 0: MISS")
db.sql("UPDATE cache SET rev = 0 WHERE " + where(Z))     # as stored before schema version 5
r = get("t60", V + Z)
is_((r.status, r.xcache), (200, "HIT"), "rev 0: HIT from the database")
delete(Z)
r = get("t60", V + Z)
is_((r.status, r.xcache), (200, "MISS"), "rev 0: not kept in memory (deleted row -> MISS)")

# ---------------------------------------------------------------- 6. large rows, least recently used
fake.mode("ok", pad_bytes=8000)
S = yth.vid("hotSmall8kS")
warm("t60", V + S, "8000-byte row")
delete(S)
r = get("t60", V + S)
is_((r.status, r.xcache, len(r.body)), (200, "HIT", 8000), "8000-byte row (< hot_bytes/4): kept in memory")
fake.mode("ok", pad_bytes=20000)
L = yth.vid("hotLarge20k")
warm("t60", V + L, "20000-byte row")
delete(L)
c0 = fake.calls()
r = get("t60", V + L)
is_((r.status, r.xcache, len(r.body)), (200, "MISS", 20000),
    "20000-byte row (> hot_bytes/4 = %d): not kept (deleted row -> MISS)" % (HOT_BYTES // 4))
is_(fake.calls() - c0, 1, "20000-byte row: one upstream call")
# five rows of 12000 bytes fit in 65536, six do not: the first one goes
fake.mode("ok", pad_bytes=12000)
E = [yth.vid("hotLru%dxxxxx" % i) for i in range(6)]
for e in E:
    warm("t60", V + e, "12000-byte row %s" % e)
for e in E:
    delete(e)
r5, r1, r0 = get("t60", V + E[5]), get("t60", V + E[1]), get("t60", V + E[0])
is_((r5.xcache, r1.xcache, r0.xcache), ("HIT", "HIT", "MISS"),
    "six 12000-byte rows in 65536 bytes: the newest and the second are kept, the least recently used is not")
fake.mode("ok")

# ---------------------------------------------------------------- own clock: an expired copy is checked
# Two rows of TTL 2 s (the videos.maxWidth rule) read into memory late in a wall-clock second (the database
# counts age and time left in whole seconds of UTC_TIMESTAMP()).  X1 is then
# deleted: once its copy has expired by the worker's own count, the worker
# must ask the database (-> MISS).  X2 is left alone: every answer must carry
# the Age and max-age the database gives at that moment, and no HIT may be
# served at or after its expires_at.
X1, X2 = yth.vid("hotOwnClock"), yth.vid("hotExpiryAt")
P1, P2 = V + X1 + "&maxWidth=72", V + X2 + "&maxWidth=72"
is_((get("t60", P1).xcache, get("t60", P2).xcache), ("MISS", "MISS"), "TTL 2 s rows: MISS")
fetched2, expires2 = (int(x) for x in db.sql(
    "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01', fetched_at), TIMESTAMPDIFF(SECOND, '1970-01-01', expires_at) "
    "FROM cache WHERE " + where(X2))[0])
yth.wait_for(lambda: time.time() % 1 >= 0.7, 2, 0.01)
is_((get("t60", P1).xcache, get("t60", P2).xcache), ("HIT", "HIT"), "TTL 2 s rows: HIT (read into memory)")
delete(X1)
t0 = time.monotonic()
seen1, seen2, late, wrong = [], [], [], []
deadline = time.monotonic() + 10
while time.monotonic() < deadline and (not seen1 or seen1[-1] == "HIT" or not seen2 or seen2[-1] == "HIT"):
    if not seen1 or seen1[-1] == "HIT":
        seen1.append(get("t60", P1).xcache)
    if not seen2 or seen2[-1] == "HIT":
        tb = time.time()
        r = get("t60", P2)
        ta = time.time()
        seen2.append(r.xcache)
        if r.xcache == "HIT":
            if tb >= expires2:
                late.append("HIT %.2f s after expires_at" % (tb - expires2))
            # the database's figures for this second; within 50 ms of a
            # second's edge the worker's estimate of the server's phase
            # (measured by a query, so off by its latency under load) may
            # fall either side, and the sample says nothing
            if int(tb) == int(ta) and tb % 1 > 0.05 and ta % 1 < 0.95:
                want = (int(tb) - fetched2, expires2 - int(tb))
                got = (int(r.header("age") or -1), max_age(r))
                if got != want:
                    wrong.append("%.2f s before expires_at: Age, max-age %s, the database says %s"
                                 % (expires2 - tb, got, want))
    time.sleep(0.04)
is_(seen1[-1], "MISS", "hot_trust_ms 60000, TTL 2 s: once the copy expires by its own count the database "
    "is asked (deleted row -> MISS)")
diag("TTL 2 s, deleted: %d HITs from memory, then %s after %.2f s" % (seen1.count("HIT"), seen1[-1],
                                                                    time.monotonic() - t0))
is_(seen2[-1], "STALE", "hot_trust_ms 60000, TTL 2 s: the expired copy is answered STALE")
is_(late[:3], [], "hot_trust_ms 60000, TTL 2 s: no HIT from memory at or after the row's expires_at")
is_(wrong[:3], [], "hot_trust_ms 60000, TTL 2 s: Age and max-age from memory are the database's")
diag("TTL 2 s, kept: %d HITs checked" % seen2.count("HIT"))

# the documented bound: within hot_trust_ms an expiry made in the database is not seen
W = yth.vid("hotTrustWin")
w1, w2 = warm("t60", V + W, "trust window")
db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 SECOND WHERE " + where(W))
r = get("t60", V + W)
is_((r.xcache, r.body == w2.body), ("HIT", True),
    "hot_trust_ms 60000: a copy confirmed less than hot_trust_ms ago is served although the row expired "
    "in the database")

# ---------------------------------------------------------------- 7. headers, HEAD and 304 from memory
T = yth.vid("hotHeadersT")
warm("t60", V + T, "headers")
etag = get("off", V + T).header("etag") or '"none"'
CASES = (("GET", "GET", None), ("HEAD", "HEAD", None),
         ("If-None-Match", "GET", {"If-None-Match": etag}),
         ("non-matching If-None-Match", "GET", {"If-None-Match": '"other"'}))
ref = {label: get("off", V + T, hdrs, method) for label, method, hdrs in CASES}    # from the database
is_((ref["GET"].xcache, ref["HEAD"].xcache, ref["If-None-Match"].status), ("HIT", "HIT", 304),
    "headers: reference answers from the database (hot_bytes 0)")
# change the body in the database, same revision: /t60/ must answer from memory
db.sql("UPDATE cache SET response = %s WHERE %s" % (yth.sql_str(replace_body(ref["GET"], hot="changed")), where(T)))
for label, method, hdrs in CASES:
    rd = ref[label]
    rm = get("t60", V + T, hdrs, method)
    is_(rm.status, rd.status, "headers, %s from memory: status %s" % (label, rd.status))
    ok(rm.body == rd.body, "headers, %s from memory: byte-identical body (%d bytes)" % (label, len(rd.body)))
    is_(headers_except(rm), headers_except(rd),
        "headers, %s from memory: same headers as from the database (Date, Age, Cache-Control aside)" % label)
    if rd.status == 200:
        cmp_ok(abs(int(rm.header("age") or -9) - int(rd.header("age") or 9)), "<=", 1,
               "headers, %s from memory: Age as from the database" % label)
        cmp_ok(abs((max_age(rm) or -9) - (max_age(rd) or 9)), "<=", 1,
               "headers, %s from memory: Cache-Control max-age as from the database" % label)
h = get("t60", V + T, method="HEAD")
is_((h.status, h.body, h.xcache, h.header("etag"), h.header("content-length")),
    (200, b"", "HIT", etag, str(len(ref["GET"].body))), "HEAD from memory: HIT, no body, ETag, Content-Length")
n = get("t60", V + T, {"If-None-Match": etag})
is_((n.status, n.body, n.header("etag")), (304, b"", etag), "If-None-Match with the ETag, from memory: 304")

# ---------------------------------------------------------------- --listen workers keep hot rows, CGI does not
for mount, want in (("listen", "HIT"), ("cgi", "MISS")):
    v = yth.vid("hotMode" + mount)
    warm(mount, V + v, mount)
    delete(v)
    r = get(mount, V + v)
    is_((r.status, r.xcache), (200, want), "/%s/ (hot_trust_ms 60000): row deleted -> %s" % (mount, want))

# ---------------------------------------------------------------- 2. validation (hot_trust_ms = 0)
D = yth.vid("hotValidDel")
warm("t0", V + D, "validation")
hm0 = hot_metrics("t0")
r = get("t0", V + D)
hm1 = hot_metrics("t0")
is_((hm1.get("checked", 0) - hm0.get("checked", -999), hm1.get("memory"), hm1.get("reread")),
    (1, hm0.get("memory"), hm0.get("reread")),
    "metrics, hot_trust_ms 0: a hit is counted as checked (revision read), not as memory")
delete(D)
c0 = fake.calls()
r = get("t0", V + D)
hm2 = hot_metrics("t0")
is_(hm2.get("reread", 0) - hm1.get("reread", -999), 1, "metrics: a deleted row is counted as reread")
is_((r.status, r.xcache), (200, "MISS"), "hot_trust_ms 0: row deleted -> MISS")
is_(fake.calls() - c0, 1, "hot_trust_ms 0: row deleted -> one upstream call")

R = yth.vid("hotValidRev")
r1, r2 = warm("t0", V + R, "new revision")
new = replace_body(r2, hot="new revision")
db.sql("UPDATE cache SET response = %s, rev = rev + 1 WHERE %s" % (yth.sql_str(new), where(R)))
r = get("t0", V + R)
is_((r.status, r.xcache), (200, "HIT"), "hot_trust_ms 0: another revision -> HIT")
ok(r.body == new.encode(), "hot_trust_ms 0: another revision -> the new bytes, read again")
newer = replace_body(r2, hot="same revision")
db.sql("UPDATE cache SET response = %s WHERE %s" % (yth.sql_str(newer), where(R)))
r = get("t0", V + R)
is_((r.status, r.xcache), (200, "HIT"), "hot_trust_ms 0: same revision -> HIT")
ok(r.body == new.encode(), "hot_trust_ms 0: same revision -> the copy in memory (only the revision is read)")

# another process stores the row: /off/ serves it STALE and refreshes it
Y = yth.vid("hotOtherPro")
y1, y2 = warm("t0", V + Y, "other process")
db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 SECOND WHERE " + where(Y))
fake.mode("ok", pad_bytes=1500)
r = get("off", V + Y)
is_((r.status, r.xcache), (200, "STALE"), "other process: /off/ answers the expired row STALE")
ok(yth.wait_for(lambda: len((db.value("SELECT response FROM cache WHERE " + where(Y)) or "").encode()) == 1500,
                10, what="the refresh by /off/"), "other process: /off/ stored the refreshed answer")
fake.mode("ok")
r = get("t0", V + Y)
is_((r.status, r.xcache, len(r.body)), (200, "HIT", 1500),
    "hot_trust_ms 0: a store by another process is seen at once (the refreshed 1500 bytes)")

# only the revision crosses the socket: bytes MariaDB sends for 20 hits of a 30000-byte row
fake.mode("ok", pad_bytes=30000)
G = yth.vid("hotBytesGGG")
warm("t0", V + G, "bytes sent")
warm("off", V + G + "&hl=x", "bytes sent")
fake.mode("ok")
for mount, extra in (("t0", ""), ("off", "&hl=x")):
    b0 = status_var("Bytes_sent")
    res = [get(mount, V + G + extra) for _ in range(20)]
    b1 = status_var("Bytes_sent")
    is_([(x.xcache, len(x.body)) for x in res], [("HIT", 30000)] * 20,
        "bytes sent, /%s/: 20 HITs of 30000 bytes" % mount)
    if mount == "t0":
        cmp_ok(b1 - b0, "<", 30000, "bytes sent, hot_trust_ms 0: MariaDB sent %d bytes for 20 checks "
               "(less than one body)" % (b1 - b0))
    else:
        cmp_ok(b1 - b0, ">=", 20 * 30000, "bytes sent, hot_bytes 0: MariaDB sent %d bytes for 20 hits "
               "(every body)" % (b1 - b0))

# ---------------------------------------------------------------- 3. expiry in the database (WebSub) is seen
X3 = yth.vid("hotExpireDB")
x1, x2 = warm("t0", V + X3, "expiry")
db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 SECOND WHERE " + where(X3))
c0 = fake.calls()
r = get("t0", V + X3)
is_((r.status, r.xcache), (200, "STALE"),
    "hot_trust_ms 0: expires_at lowered in the database -> STALE (stale_while_revalidate 300)")
ok(r.body == x2.body, "expiry: the stale copy has the old bytes")
ok(yth.wait_for(lambda: fake.calls() - c0 >= 1, 10, what="the background refresh"), "expiry: refreshed upstream")
ok(yth.wait_for(lambda: db.count(where(X3) + " AND expires_at > UTC_TIMESTAMP()") == 1, 10,
                what="the refreshed row"), "expiry: the refreshed row is stored")
r = get("t0", V + X3)
is_((r.status, r.xcache), (200, "HIT"), "expiry: after the refresh, HIT")

# ---------------------------------------------------------------- 8. ytcachectl purge
SP = "/youtube/v3/search?part=snippet&q=hotPurgeSearch"
warm("t0", SP, "purge endpoint")
cp = s.ctl("purge", "endpoint", "search")
is_(cp.returncode, 0, "ytcachectl purge endpoint search exits 0")
r = get("t0", SP)
is_((r.status, r.xcache), (200, "MISS"), "hot_trust_ms 0: after ytcachectl purge endpoint search -> MISS")

# ---------------------------------------------------------------- 4. default hot_trust_ms (1000 ms)
F = yth.vid("hotDefaultF")
r = get("dflt", V + F)
is_((r.status, r.xcache), (200, "MISS"), "default hot_trust_ms: MISS")
hit_start = time.monotonic()            # the copy is confirmed after this
r = get("dflt", V + F)
is_((r.status, r.xcache), (200, "HIT"), "default hot_trust_ms: HIT (read into memory)")
delete(F)
t0 = time.monotonic()
seen = []


def poll_default():
    r = get("dflt", V + F)
    seen.append((r.xcache, time.monotonic()))
    return r.xcache == "MISS"


got = yth.wait_for(poll_default, 5, 0.02, what="a MISS after the delete (default hot_trust_ms)")
ok(got, "default hot_trust_ms: a deleted row is a MISS within 5 s")
lag = seen[-1][1] - t0
cmp_ok(lag, ">=", 0, "default hot_trust_ms: lag measured")
# a MISS means the copy was older than hot_trust_ms when that request came
cmp_ok(seen[-1][1] - hit_start, ">=", 1.0,
       "default hot_trust_ms: the copy was trusted for 1000 ms (MISS %.3f s after the HIT that read it)"
       % (seen[-1][1] - hit_start))
diag("default hot_trust_ms: %d HITs from memory, MISS %.3f s after the delete" %
     (sum(1 for x in seen if x[0] == "HIT"), lag))

# purge all (last: it empties the table)
PA = yth.vid("hotPurgeAll")
warm("t0", V + PA, "purge all")
cp = s.ctl("purge", "all")
is_(cp.returncode, 0, "ytcachectl purge all exits 0")
r = get("t0", V + PA)
is_((r.status, r.xcache), (200, "MISS"), "hot_trust_ms 0: after ytcachectl purge all -> MISS")

# ---------------------------------------------------------------- 9. the database gone (last: it stops MariaDB)
# A copy in memory that has not expired is served when the revision cannot
# be read; without one, db_outage = bypass fetches from upstream as before.
DA, DB_ = yth.vid("hotDbGoneAA"), yth.vid("hotDbGoneBB")
da1, da2 = warm("t0", V + DA, "database gone")
warm("off", V + DB_, "database gone, hot_bytes 0")
m0 = hot_metrics("t0")
db.kill()
ok(yth.wait_for(lambda: not db.alive(), 10, what="MariaDB gone"), "database gone: MariaDB killed")
c0 = fake.calls()
r = get("t0", V + DA)
is_((r.status, r.xcache), (200, "HIT"), "database gone: a copy in memory is served (hot_trust_ms 0)")
ok(r.body == da2.body, "database gone: the copy's bytes")
is_(fake.calls() - c0, 0, "database gone: no upstream call for it")
c0 = fake.calls()
r = get("off", V + DB_)
is_((r.status, r.xcache), (200, "BYPASS"), "database gone, hot_bytes 0: db_outage = bypass fetches it")
is_(fake.calls() - c0, 1, "database gone, hot_bytes 0: one upstream call")

yth.done_testing()
