#!/usr/bin/python3
"""Safe to expose (issue 13): one hostile client against the shipped
defaults, through the shipped nginx/ytcache-fastcgi.conf (only paths and
ports substituted) in front of spawn-fcgi.  The fake upstream's own
counters prove what each attack costs:
  * 150 distinct searches from one address at 15 a second: 5 calls;
  * 150 distinct video misses: 100 units, then 429 with Retry-After;
  * a new forged X-Forwarded-For per request from an address that is not a
    trusted proxy: still the same client;
  * with trusted proxies, one address per request out of one IPv6 /64: one
    client;
  * oversized answers, then a normal query: the breaker stays closed;
  * ttl=604800, then another client: the row keeps its configured TTL;
    ttl=60 polling: each refetch is the poller's, everybody else hits;
  * a lockdown [access] configuration: nothing outside its rules reaches
    YouTube;
  * the database killed: the outage budget, not a call per request.
The numbers printed are the README's ("Safe on a public URL").  More
detailed tests of each item: climit.py, ttlreq.py, evict.py (a flood cannot
grow the table past its bound), access.py, breaker.py, websub.py
(a replayed intent GET), outage.py, secrets.py."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, diag, reason, summary  # noqa: E402

K = yth.SERVER_KEY
A = "/youtube/v3/"
CH = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
# The shipped defaults: the harness's generous test limits taken out again.
SHIPPED = {"client_units": None, "client.search": None, "outage_units": None, "outage.search": None,
           "breaker_failures": None}
DBCONF = {"connect_timeout": 2, "retry_interval_ms": 200}
s = yth.Stack(launcher=None, config={"quota": SHIPPED, "database": DBCONF, "cache": {"hot_bytes": 0}})
tmp, db, fake = s.tmp, s.db, s.fake
sf = yth.SpawnFcgi(tmp, s.conf, workers=2, config="arg")
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                            ("root /var/www/html;", "root %s;" % ytdeploy.shipped("www"))],
                           name="nginx-exposed")
fake.mode("ok")
report = {}


def paced(paths, per_second, headers=None):
    """GET each path at per_second (under the shipped limit_req of 20 r/s)."""
    out, t0 = [], time.monotonic()
    for i, p in enumerate(paths):
        wait = t0 + i / per_second - time.monotonic()
        if wait > 0:
            time.sleep(wait)    # pacing a client, not waiting for a condition
        out.append(ng.get(p, headers(i) if callable(headers) else headers))
    return out


def retry_ok(res, status):
    return all(r.header("retry-after", "").isdigit() and int(r.header("retry-after")) > 0
               for r in res if r.status == status)


# ---------------------------------------------------------------- 1. 150 searches, 15 a second
c0, st0 = fake.calls(), fake.stats()
res = paced([A + "search?part=snippet&type=video&q=hostile%03d" % i for i in range(150)], 15)
got = summary(res)
diag("150 distinct searches at 15/s from one address: %s" % got)
is_(got, {"200 MISS": 5, "429 clientQuotaExceeded": 145}, "150 searches: 5 answered from YouTube, 145 refused 429")
ok(retry_ok(res, 429), "every 429 has a Retry-After in seconds")
yth.check_error(res[-1], 429, "clientQuotaExceeded", "the 150th search")
is_(fake.units(K, "search") - fake.units(K, "search", stats=st0), 5, "the fake charged 5 search calls, no more")
report["search"] = fake.calls() - c0

# ---------------------------------------------------------------- 2. 150 video misses
c0 = fake.calls()
res = paced([A + "videos?part=id&id=" + yth.vid("hv%04d" % i) for i in range(150)], 18)
got = summary(res)
diag("150 distinct video misses from one address: %s" % got)
is_(got, {"200 MISS": 100, "429 clientQuotaExceeded": 50}, "150 video misses: 100 from YouTube, 50 refused 429")
ok(retry_ok(res, 429), "every 429 has a Retry-After")
report["default"] = fake.calls() - c0
is_(report["default"], 100, "the fake counted 100 calls: 1 % of the default bucket")

# ---------------------------------------------------------------- 3. forged X-Forwarded-For
c0 = fake.calls()
res = paced([A + "videos?part=id&id=" + yth.vid("hf%04d" % i) for i in range(20)], 18,
            lambda i: {"X-Forwarded-For": "198.51.100.%d" % (i + 1)})
is_(summary(res), {"429 clientQuotaExceeded": 20}, "20 misses, each with a new forged X-Forwarded-For: all refused")
is_(fake.calls(), c0, "forged X-Forwarded-For: no upstream call")
hit = ng.get(A + "videos?part=id&id=" + yth.vid("hv0000"))
is_((hit.status, hit.xcache), (200, "HIT"), "hits stay free for the limited client")

# ---------------------------------------------------------------- 4. oversized answers
st = (s.breaker() or {}).get("state", 0)
fake.mode("ok", pad_bytes=9 * 1024 * 1024)
s.reset_quota()
res = [ng.get(A + "videos?part=snippet&id=" + yth.vid("hb%03d" % i)) for i in range(8)]
is_([(r.status, reason(r)) for r in res], [(502, "upstreamTooLarge")] * 8,
    "8 queries with answers over max_response_bytes: 502 upstreamTooLarge each")
is_((s.breaker() or {}).get("state", 0), st, "the breaker did not open for everyone")
fake.mode("ok")
r = ng.get(A + "videos?part=snippet&id=" + yth.vid("hbnormal"))
is_((r.status, r.xcache), (200, "MISS"), "then a normal query is answered from YouTube")

# ---------------------------------------------------------------- 5. one address per request from a /64
s.write_config(quota=dict(SHIPPED, trusted_proxies="127.0.0.1"), database=DBCONF, cache={"hot_bytes": 0})
sf.restart()
ng.restart()
s.reset_quota()
c0 = fake.calls()
res = paced([A + "search?part=id&type=video&q=v6hostile%03d" % i for i in range(20)], 15,
            lambda i: {"X-Forwarded-For": "2001:db8:7:9:%x::%x" % ((i * 7919) % 0x10000, i + 1)})
is_(summary(res), {"200 MISS": 5, "429 clientQuotaExceeded": 15},
    "20 searches, each from another address of one /64 (via a trusted proxy): one client, 5 calls")
is_(fake.calls() - c0, 5, "the fake counted 5 calls")

# ---------------------------------------------------------------- 5b. ttl= belongs to the request
HOST, OTHER = {"X-Forwarded-For": "198.51.100.66"}, {"X-Forwarded-For": "198.51.100.77"}
P = A + "videos?part=snippet&id=" + yth.vid("popular1")
WHERE = "request LIKE %s" % yth.sql_str("%" + yth.vid("popular1") + "%")
first = ng.get(P, OTHER)
is_((first.status, first.xcache), (200, "MISS"), "a popular row: MISS")
ttl0 = db.value("SELECT ttl FROM cache WHERE " + WHERE)
r = ng.get(P + "&ttl=604800", HOST)
is_((r.status, r.xcache), (200, "HIT"), "ttl=604800 from a stranger: a HIT")
is_(db.value("SELECT ttl FROM cache WHERE " + WHERE), ttl0, "the row keeps its configured TTL (%s s)" % ttl0)
m = re.match(r"^public, max-age=(\d+)$", r.header("cache-control") or "")
ok(m and int(m.group(1)) <= int(ttl0), "its Cache-Control max-age is within the configured TTL (%s)"
   % r.header("cache-control"))
c0, polls = fake.calls(), []
for i in range(5):
    db.sql("UPDATE cache SET fetched_at = fetched_at - INTERVAL 61 SECOND, "
           "expires_at = expires_at - INTERVAL 61 SECOND WHERE " + WHERE)
    # a new order of the same parameters each time: nginx's one-second
    # microcache would answer an identical URI itself
    q = ["part=snippet", "id=" + yth.vid("popular1"), "ttl=60"]
    poll = A + "videos?" + "&".join(q[i % 3:] + q[:i % 3] if i < 3 else list(reversed(q[i % 3:] + q[:i % 3])))
    polls.append((ng.get(poll, HOST).xcache, ng.get(P, OTHER).xcache))
is_(polls, [("MISS", "HIT")] * 5, "ttl=60 polling: each poll a refetch, everybody else a HIT")
is_(fake.calls() - c0, 5, "5 polls, 5 upstream calls (charged to the poller's own limit)")
is_(db.value("SELECT ttl FROM cache WHERE " + WHERE), ttl0, "and the row's TTL is still the configured one")

# ---------------------------------------------------------------- 6. lockdown
LOCK = {"resources": "videos,playlistItems,search", "channelId": CH, "playlistId": "UU" + CH[2:],
        "search_requires": "channelId"}
s.write_config(quota=SHIPPED, database=DBCONF, cache={"hot_bytes": 0}, access=LOCK)
sf.restart()
ng.restart()
s.reset_quota()
mine = [A + "search?part=snippet&channelId=%s&order=date&type=video&maxResults=6" % CH,
        A + "playlistItems?part=snippet&playlistId=UU" + CH[2:]]
hostile = [A + "search?part=snippet&q=lockdown%03d" % i for i in range(30)] + \
          [A + "search?part=snippet&channelId=UC%022d" % i for i in range(30)] + \
          [A + "channels?part=snippet&id=UC%022d" % i for i in range(20)] + \
          [A + "commentThreads?part=snippet&videoId=" + yth.vid("hl%03d" % i) for i in range(20)]
c0 = fake.calls()
bad = paced(hostile, 18)
is_(summary(bad), {"403 forbidden": len(hostile)}, "lockdown: %d requests outside the rules: 403 forbidden" % len(hostile))
is_(fake.calls(), c0, "lockdown: none reached YouTube")
report["lockdown"] = (len(hostile), fake.calls() - c0)
good = [ng.get(p) for p in mine]
is_([(r.status, r.xcache) for r in good], [(200, "MISS")] * 2, "lockdown: the site's own two queries are answered")

# ---------------------------------------------------------------- 7. the database goes away
s.write_config(quota=SHIPPED, database=DBCONF, cache={"hot_bytes": 0})
sf.restart()
ng.restart()
db.kill()
c0 = fake.calls()
res = [ng.get(A + "videos?part=id&id=" + yth.vid("ho%03d" % i)) for i in range(40)]
calls = fake.calls() - c0
diag("database down, 40 distinct misses: %s" % summary(res))
is_(calls, 5, "database down: 40 misses made 5 calls, the host's outage budget (5 a minute, both workers together)")
ok(all(r.status == 200 or reason(r) == "databaseUnavailable" for r in res), "the others: 503 databaseUnavailable")
report["outage"] = calls
db.start()

diag("README: one client, shipped defaults: %d search calls of 150 tried, %d default units of 150 tried;"
     " lockdown: %d of %d hostile requests reached YouTube; outage: %d calls for 40 misses"
     % (report["search"], report["default"], report["lockdown"][1], report["lockdown"][0], report["outage"]))
yth.done_testing()
