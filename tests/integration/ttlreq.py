#!/usr/bin/python3
"""A client's ttl=/age= belongs to its request, not to the row (issue 13,
item 3), played by hostile clients through nginx: the row is always stored
with its configured TTL ([ttl] videos = 300 here) and the Cache-Control
max-age never promises more than that row has left; ttl=604800 freezes
nothing; ttl=60 polling a popular row refetches it for that client only,
each refetch charged to its per-client limit, then 429 with Retry-After and
no upstream call, while other clients keep getting HITs; out-of-range
values are clamped (200), not refused; ttl=/age= are not part of the cache
key; a stale-while-revalidate loop costs at most one charged refresh."""

import os
import re
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

TTL = 300
UNITS = 3                       # per client per hour: one unit every 1200 s
QUOTA = {"client_units": UNITS, "client_window": "1h", "trusted_proxies": "127.0.0.1"}
CACHE = {"min_ttl": 60, "max_ttl": 604800, "stale_while_revalidate": 300}
s = yth.Stack("spawn-fcgi", workers=2, config={"quota": QUOTA, "cache": CACHE, "ttl": {"videos": TTL}})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=id&id="
n = [0]


def client():
    """A new client identity (its own limit of UNITS)."""
    n[0] += 1
    return "198.51.100.%d" % n[0]


def get(path, who):
    return s.get(path, {"X-Forwarded-For": who})


def where(v):
    return "request LIKE %s" % yth.sql_str("%" + v + "%")


def row(v):
    """[ttl, expires_at - fetched_at] of the one row for video v."""
    rows = db.sql("SELECT ttl, TIMESTAMPDIFF(SECOND, fetched_at, expires_at) FROM cache WHERE " + where(v))
    return rows[0] if len(rows) == 1 else rows


def older(v, secs):
    """Make the copy secs seconds older (secs < TTL: still fresh for
    everybody, too old for a client asking for less)."""
    db.sql("UPDATE cache SET fetched_at = fetched_at - INTERVAL %d SECOND, expires_at = expires_at - INTERVAL %d SECOND "
           "WHERE %s" % (secs, secs, where(v)))


def max_age(r):
    m = re.match(r"^public, max-age=(\d+)$", r.header("cache-control") or "")
    return int(m.group(1)) if m else None


def age(r):
    a = r.header("age") or ""
    return int(a) if a.isdigit() else None


def over(r, label):
    yth.check_error(r, 429, "clientQuotaExceeded", label)
    ra = r.header("retry-after") or ""
    ok(ra.isdigit() and 1190 <= int(ra) <= 1200,
       "%s: Retry-After %s (one unit per 1200 s, the rest of its wait)" % (label, ra))


# ---------------------------------------------------------------- (a) ttl=604800 freezes nothing
A, B = client(), client()
W = yth.vid("ttlWeek0001")
c0 = fake.calls()
r = get(V + W + "&ttl=604800", A)
is_((r.status, r.xcache), (200, "MISS"), "ttl=604800: MISS")
is_(row(W), [str(TTL), str(TTL)], "ttl=604800: the row's ttl and expires_at - fetched_at are the configured %d" % TTL)
cmp_ok(max_age(r) or 10**9, "<=", TTL, "ttl=604800, MISS: Cache-Control max-age bounded by the configured TTL")
b = get(V + W, B)
is_((b.status, b.xcache), (200, "HIT"), "another client's plain request: HIT on the same row")
cmp_ok(max_age(b) or 10**9, "<=", TTL, "plain request: max-age <= %d" % TTL)
older(W, 100)
r = get(V + W + "&ttl=604800", A)
is_(r.xcache, "HIT", "ttl=604800 again on a 100 s old copy: HIT")
ok(max_age(r) is not None and max_age(r) <= TTL - 100,
   "ttl=604800 on a 100 s old copy: max-age %s, what the row has left (<= %d)" % (max_age(r), TTL - 100))
r = get(V + W + "&age=150", A)
is_(r.xcache, "HIT", "age=150 on a 100 s old copy: HIT")
ok(max_age(r) is not None and max_age(r) <= 50 and age(r) is not None and max_age(r) + age(r) <= 150,
   "age=150 on a 100 s old copy: max-age %s, the client's own bound (150 - Age %s)" % (max_age(r), age(r)))
is_(fake.calls() - c0, 1, "ttl=604800, plain, age=150: one upstream call, one shared row")
is_(db.count(where(W)), 1, "ttl=/age= are not part of the cache key: one row")
r = get(V + yth.vid("ttlShort001") + "&ttl=120", A)
is_((r.status, r.xcache, max_age(r)), (200, "MISS", 120), "ttl=120, MISS: told its own smaller max-age (120)")
is_(row(yth.vid("ttlShort001")), [str(TTL), str(TTL)], "ttl=120: stored with the configured TTL all the same")

# a row a client's ttl=604800 froze before this rule (stored ttl and expiry a
# week): it is no fresher than the configured TTL allows
F = yth.vid("ttlFrozen01")
is_(get(V + F, A).xcache, "MISS", "frozen row: stored")
db.sql("UPDATE cache SET ttl = 604800, fetched_at = UTC_TIMESTAMP() - INTERVAL 100 SECOND, "
       "expires_at = UTC_TIMESTAMP() + INTERVAL 604700 SECOND WHERE " + where(F))
r = get(V + F + "&ttl=604800", B)
is_(r.xcache, "HIT", "a row stored with ttl 604800, 100 s old: HIT")
ok(max_age(r) is not None and max_age(r) <= TTL - 100,
   "... max-age %s: what the configured TTL leaves (<= %d), not the week the row says" % (max_age(r), TTL - 100))
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL %d SECOND WHERE %s" % (TTL + 1, where(F)))
c0 = fake.calls()
r = get(V + F, B)
is_((r.status, r.xcache), (200, "STALE"), "the same row %d s old: past the configured TTL, served STALE" % (TTL + 1))
yth.wait_for(lambda: row(F) == [str(TTL), str(TTL)], 10, what="the frozen row's refresh")
is_(row(F), [str(TTL), str(TTL)], "... and refreshed with the configured TTL")
is_(fake.calls() - c0, 1, "... one upstream call")

# ---------------------------------------------------------------- (b) ttl=60 polling a popular row
POLL, OTHER, FILL = client(), client(), client()
P = yth.vid("ttlPopular1")
is_(get(V + P, FILL).xcache, "MISS", "popular row stored")
for i in range(UNITS):
    older(P, 61)
    c0 = fake.calls()
    r = get(V + P + "&ttl=60", POLL)
    is_((r.status, r.xcache), (200, "MISS"), "ttl=60 poll %d on a 61 s old copy: refetched (MISS)" % (i + 1))
    is_(fake.calls() - c0, 1, "ttl=60 poll %d: one upstream call" % (i + 1))
    cmp_ok(max_age(r) or 10**9, "<=", 60, "ttl=60 poll %d: max-age <= 60" % (i + 1))
    is_(row(P), [str(TTL), str(TTL)], "ttl=60 poll %d: the row keeps the configured TTL" % (i + 1))
    o = get(V + P, OTHER)
    is_((o.status, o.xcache), (200, "HIT"), "ttl=60 poll %d: another client gets a HIT" % (i + 1))
    cmp_ok(max_age(o) or 10**9, "<=", TTL, "ttl=60 poll %d: the other client's max-age <= %d" % (i + 1, TTL))
older(P, 61)
c0 = fake.calls()
r = get(V + P + "&ttl=60", POLL)
over(r, "ttl=60 poll %d, the client's limit spent" % (UNITS + 1))
is_(fake.calls(), c0, "ttl=60 poll over the limit: no upstream call")
r = get(V + P + "&age=60", POLL)
is_(r.status, 429, "age=60 (the compatibility name) over the limit: 429 too")
is_(fake.calls(), c0, "age=60 over the limit: no upstream call")
o = get(V + P, OTHER)
is_((o.status, o.xcache), (200, "HIT"), "the poller refused: other clients still get a HIT")
r = get(V + P, POLL)
is_((r.status, r.xcache), (200, "HIT"), "the poller's own plain request: a HIT (hits are free)")
is_(row(P), [str(TTL), str(TTL)], "after the polling: the row's TTL is still the configured one")
is_(db.count("client = %s" % yth.sql_str(OTHER + "|default"), "client_limits"), 0,
    "the other client was never charged (no client_limits row)")

# ---------------------------------------------------------------- (c) out-of-range values: clamped, not refused
for i, val in enumerate(("999999999", "99999999999999999999999999", "-1", "0")):
    v = yth.vid("ttlClampNo%d" % i)
    r = get(V + v + "&ttl=" + val, client())
    is_((r.status, r.xcache), (200, "MISS"), "ttl=%s: clamped, answered 200 (MISS)" % val[:26])
    is_(row(v), [str(TTL), str(TTL)], "ttl=%s: stored with the configured TTL" % val[:26])
    cmp_ok(max_age(r) or 10**9, "<=", TTL, "ttl=%s: max-age <= %d" % (val[:26], TTL))
r = get("/?endpoint=videos&part=id&id=%s&age=999999999" % yth.vid("ttlClampCmp"), client())
is_((r.status, r.xcache), (200, "MISS"), "compatibility form age=999999999: 200 (MISS)")
C2 = client()
K = yth.vid("ttlMinClamp")
is_(get(V + K, C2).xcache, "MISS", "min_ttl clamp: row stored")
older(K, 30)
c0 = fake.calls()
r = get(V + K + "&age=1", C2)
is_(r.xcache, "HIT", "age=1 is clamped up to min_ttl 60: a 30 s old copy is a HIT")
ok(max_age(r) is not None and max_age(r) <= 30, "age=1 -> 60 on a 30 s old copy: max-age %s <= 30" % max_age(r))
older(K, 31)
r = get(V + K + "&age=1", C2)
is_(r.xcache, "MISS", "age=1 (60) on a 61 s old copy: refetched")
is_(fake.calls() - c0, 1, "min_ttl clamp: one upstream call")
r = get(V + K + "&ttl=abc", C2)
yth.check_error(r, 400, "invalidParameter", "ttl=abc (not a number): still refused")

# ---------------------------------------------------------------- (d) a stale-while-revalidate loop: one charged refresh
LOOP = client()
S = yth.vid("ttlSWRloop1")
is_(get(V + S, client()).xcache, "MISS", "swr loop: row stored")
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL %d SECOND, "
       "expires_at = UTC_TIMESTAMP() - INTERVAL 10 SECOND WHERE %s" % (TTL + 10, where(S)))
fake.mode("ok", delay_ms=500)       # the refresh overlaps many of the requests
c0 = fake.calls()
got, lock = [], threading.Lock()


def loop(k):
    for j in range(5):
        x = get(V + S + ("&ttl=60" if (k + j) % 2 else ""), LOOP)
        with lock:
            got.append((x.status, x.xcache))


threads = [threading.Thread(target=loop, args=(k,)) for k in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
def refreshed():
    return db.value("SELECT TIMESTAMPDIFF(SECOND, fetched_at, UTC_TIMESTAMP()) < 60 FROM cache WHERE " + where(S))


yth.wait_for(lambda: refreshed() == "1", 10, what="the deferred refresh")
fake.mode("ok")
diag("swr loop answers: %s" % sorted(set(got)))
ok(all(st == 200 and xc in ("STALE", "HIT") for st, xc in got),
   "swr loop: 30 requests (half with ttl=60) from one client, all answered 200 STALE or HIT")
ok(got.count((200, "STALE")) >= 1, "swr loop: the expired copy was served STALE")
is_(fake.calls() - c0, 1, "swr loop: one upstream call (the deferred refresh)")
is_(refreshed(), "1", "swr loop: the row was refreshed")
is_(row(S), [str(TTL), str(TTL)], "swr loop: the refreshed row has the configured TTL")
c0 = fake.calls()
left = [get(V + yth.vid("ttlSWRaft%d" % i), LOOP).status for i in range(UNITS)]
is_(left, [200] * (UNITS - 1) + [429],
    "swr loop: the refresh took exactly one of the client's %d units (%d misses pass, then 429)" % (UNITS, UNITS - 1))
is_(fake.calls() - c0, UNITS - 1, "after the loop: %d upstream calls for the client's last units" % (UNITS - 1))

yth.done_testing()
