#!/usr/bin/python3
"""Per-client limits on quota spending (design.md, "Quota economy"): a GCRA
per client over the units its misses cost.  client_units per client_window
with a burst of client_units; over it, 429 clientQuotaExceeded with the
exact Retry-After and no upstream call; HITs cost nothing; clients are told
apart by address (IPv4) or /64 (IPv6), from REMOTE_ADDR or, when that is one
of trusted_proxies, from X-Forwarded-For walked right to left past trusted
proxies; a forged X-Forwarded-For from anyone else changes nothing; no burst
at a window boundary (a refill of one unit lets one miss through)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

QUOTA = {"client_units": 3, "client_window": "60s", "trusted_proxies": "127.0.0.1"}
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
is_(s.db.count("client IN (%s, %s)" % (yth.sql_str(ONE + "|default"), yth.sql_str(TWO + "|default")),
               "client_limits"), 2, "client_limits: one row per client and bucket, by address (<address>|default)")

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

# ---------------------------------------------------------------- IPv6: one /64 is one client
s.reconfigure(quota=QUOTA)
s.reset_quota()
NET = "2001:db8:77:7"
c0 = fake.calls()
got = [miss("%s:%x:%x:%x:%x" % (NET, i * 4099 % 65536, i, 7 * i, 65535 - i)) for i in range(4)]
is_([x.status for x in got], [200, 200, 200, 429],
    "4 addresses of one /64 (one per request): one shared limit of 3 (4th: 429)")
is_(fake.calls() - c0, 3, "one /64: 3 upstream calls for 4 misses")
c0 = fake.calls()
r = miss("%s::1, 10.9.8.7" % NET)
is_(r.status, 200, "an address of that /64, then 10.9.8.7 (not trusted): 10.9.8.7 is the client (%d)" % r.status)
r = miss("2001:0DB8:0077:0007:0000:0000:0000:00aa")
is_(r.status, 429, "that /64 in its long spelling: the same client (429)")
is_(fake.calls() - c0, 1, "only the new client 10.9.8.7 cost a call")
got = [miss("2001:db8:77:8::%x" % (i + 1)) for i in range(3)]
is_([x.status for x in got], [200] * 3, "the next /64: another client, its own 3 units")
got = [miss("::ffff:198.51.100.50"), miss("198.51.100.50")]
is_([x.status for x in got], [200, 200], "IPv4-mapped and plain IPv4: 2 misses of one client")
rows = sorted(r[0].rsplit("|", 1)[0] for r in s.db.sql("SELECT client FROM client_limits"))
diag("client_limits: %s" % rows)
ok("2001:db8:77:7::/64" in rows and "2001:db8:77:8::/64" in rows and "198.51.100.50" in rows,
   "client_limits rows are the canonical identities (a /64, an IPv4 address)")
ok(not [x for x in rows if x.startswith("::ffff:") or "2001:0db8" in x.lower() or x.count(":") > 7],
   "no row for a raw spelling")
miss("not-an-address")
miss("evil'; DROP TABLE")
is_(s.db.count("client LIKE '%evil%' OR client LIKE '%not-an%'", "client_limits"), 0,
    "garbage X-Forwarded-For: never stored as the client's identity")

# ---------------------------------------------------------------- trusted proxies chained, the client to their left
s.reconfigure(quota=dict(QUOTA, trusted_proxies="127.0.0.1, 10.0.0.0/8, fd00::/8"))
s.reset_quota()
c0 = fake.calls()
got = [miss("203.0.113.%d, 198.51.100.60, 10.%d.0.1, fd00::%x" % (i, i, i + 1)) for i in range(4)]
is_([x.status for x in got], [200, 200, 200, 429],
    "chain of trusted proxies: the client is the first untrusted address from the right; forged leftmost ignored")
is_(fake.calls() - c0, 3, "chain: 3 upstream calls")
r = miss("10.1.1.1, 10.2.2.2")
is_(r.status, 200, "all trusted: the leftmost (10.1.1.1) is the client")
is_(s.db.count("client = '10.1.1.1|default'", "client_limits"), 1, "all trusted: the row is the leftmost address")

# ---------------------------------------------------------------- X-Forwarded-For from an untrusted address: ignored
s.reconfigure(quota=dict(QUOTA, trusted_proxies="10.0.0.0/8"))
s.reset_quota()
c0 = fake.calls()
got = [miss("192.0.2.%d" % i) for i in range(4)]
is_([x.status for x in got], [200, 200, 200, 429],
    "127.0.0.1 not a trusted proxy: forged X-Forwarded-For ignored, all are 127.0.0.1 (4th: 429)")
is_(fake.calls() - c0, 3, "forged X-Forwarded-For: 3 upstream calls, not 4")
is_(s.db.count(None, "client_limits"), 1, "forged X-Forwarded-For: one client_limits row")
is_(s.db.value("SELECT client FROM client_limits"), "127.0.0.1|default", "that row is the connecting address")

# ---------------------------------------------------------------- the old hop count is refused, pointing the way
bad = os.path.join(s.tmp, "trust_forwarded.conf")
yth.write_config(bad, s.db, fake, quota=dict(QUOTA, trust_forwarded=1))
r = yth.ytcachectl(bad, "check-config", tmp=s.tmp)
is_(r.returncode, 1, "trust_forwarded = 1: check-config exits 1")
yth.like(r.stderr.decode(), r":\d+: trust_forwarded is no longer supported: list the addresses of your proxies "
         r"in trusted_proxies", "trust_forwarded = 1: the message names trusted_proxies")
yth.write_config(bad, s.db, fake, quota=dict(QUOTA, trust_forwarded=0))
is_(yth.ytcachectl(bad, "check-config", tmp=s.tmp).returncode, 0, "trust_forwarded = 0 (a no-op): accepted")

# ---------------------------------------------------------------- shipped defaults, per bucket
# No client limit is overridden here (None removes the harness's generous
# ones): what one client can spend per hour with the shipped configuration.
SHIPPED = {"client_units": None, "client.search": None, "client_window": None, "trusted_proxies": "127.0.0.1"}
s.reconfigure(quota=SHIPPED)
s.reset_quota()
S = "/youtube/v3/search?part=snippet&q="
FOUR, FIVE = "198.51.100.20", "198.51.100.21"
c0, b0 = fake.calls(), fake.bucket_calls("search")
got = [s.get(S + "climitq%03d" % i, {"X-Forwarded-For": FOUR}) for i in range(150)]
is_(fake.bucket_calls("search") - b0, 5, "shipped defaults: 150 distinct searches by one client, 5 upstream search calls")
is_(sum(1 for x in got if x.status == 200), 5, "shipped defaults: 5 searches answered")
refused = [x for x in got if x.status == 429]
is_(len(refused), 145, "shipped defaults: 145 searches refused with 429")
ok(all(x.header("content-type", "").startswith("application/json") and (x.header("retry-after") or "").isdigit()
       for x in refused), "the 145 refusals: JSON with a Retry-After")
over(refused[0], "6th search (5 per hour: 720 s per unit)", 720, 2)
is_(fake.calls() - c0, 5, "no other upstream call for the searches")
c0 = fake.calls()
t0 = time.monotonic()
got = [miss(FOUR) for _ in range(100)]
diag("100 video misses took %.1f s" % (time.monotonic() - t0))
is_([x.status for x in got], [200] * 100, "shipped defaults: the same client's 100 video misses pass (default bucket, its own limit)")
r = miss(FOUR)
yth.check_error(r, 429, "clientQuotaExceeded", "101st video miss")
ra = r.header("retry-after") or ""
ok(ra.isdigit() and 1 <= int(ra) <= 36, "101st video miss: Retry-After %s (100 per hour: one unit every 36 s)" % ra)
is_(fake.calls() - c0, 100, "default bucket: 100 upstream calls, none for the 101st")
r = s.get(S + "climitq-other", {"X-Forwarded-For": FIVE})
is_(r.status, 200, "another client: its search is answered")
is_(s.db.count("client = %s" % yth.sql_str(FOUR + "|search"), "client_limits"), 1, "client_limits: a row <client>|search")

# ---------------------------------------------------------------- deferred refreshes are charged to the client
SIX, SEVEN = "198.51.100.22", "198.51.100.23"
STALE = S + "climitstale"
is_(s.get(STALE, {"X-Forwarded-For": SIX}).status, 200, "a search cached for the stale test")


def make_stale():
    s.db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL (ttl + 10) SECOND, "
             "expires_at = UTC_TIMESTAMP() - INTERVAL 10 SECOND WHERE request LIKE '%climitstale%'")


make_stale()
b0 = fake.bucket_calls("search")
r = s.get(STALE, {"X-Forwarded-For": FOUR})
is_((r.status, r.xcache), (200, "STALE"), "client over its search limit: the stale copy is served")
time.sleep(1)
is_(fake.bucket_calls("search") - b0, 0, "client over its search limit: no refresh call")
tat = s.db.value("SELECT tat_us FROM client_limits WHERE client = %s" % yth.sql_str(SEVEN + "|search"))
is_(tat, None, "client 7 has no search row yet")
r = s.get(STALE, {"X-Forwarded-For": SEVEN})
is_((r.status, r.xcache), (200, "STALE"), "client within its limit: the stale copy is served")
yth.wait_for(lambda: fake.bucket_calls("search") - b0 == 1, 5, what="the deferred refresh")
is_(fake.bucket_calls("search") - b0, 1, "client within its limit: the deferred refresh made one call")
ok(s.db.value("SELECT tat_us FROM client_limits WHERE client = %s" % yth.sql_str(SEVEN + "|search")) is not None,
   "the deferred refresh was charged to the client that triggered it (its client_limits row moved)")
r = s.get(STALE, {"X-Forwarded-For": FOUR})
is_(r.xcache, "HIT", "after the refresh: a HIT, free even for the client over its limit")

diag("climit: %d misses" % n[0])
yth.done_testing()
