#!/usr/bin/python3
"""Several web hosts on one database (issue 17, part 1), each a network
namespace of its own (tests/lib/ytnetns.py): three web hosts running the
shipped nginx/ytcache-fastcgi.conf (only paths, address and port
substituted) in front of `ytcache --listen`, a database host running
MariaDB on its namespace's address, the fake upstream on a fourth, and the
test's client (standing in for a load balancer: it is the web hosts'
trusted_proxies and sends X-Forwarded-For) on a fifth.  Everything the
hosts share goes through the database.  The fake upstream's counters
prove:
  * 60 concurrent misses for one query spread over the hosts: 1 upstream call;
  * 120 concurrent distinct misses across the hosts, a bucket of 30 units:
    exactly 30 units spent, the 90 others 503 quotaExhausted;
  * one client spread over the hosts spends its client_units, not 3 times that;
  * `ytcachectl purge` on one host: the other hosts stop serving the row
    within hot_trust_ms (asked with a new Origin each time, so nginx's
    microcache, whose key holds the Origin, adds nothing);
  * the breaker opened by failures seen on one host holds on the others;
  * /metrics is per host: the hosts' upstream call counts add up to the
    fake's, the database's gauges are the same on each.
Skips (TAP) where namespaces are unavailable (not root, no ip)."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytnetns  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, cmp_ok, diag, reason, summary  # noqa: E402

net = ytnetns.Net()
DB_ADDR, UP_ADDR, CLIENT = "10.77.0.2", "10.77.0.3", "10.77.0.100"
WEB = ["10.77.0.11", "10.77.0.12", "10.77.0.13"]
ns_db = net.host("db", DB_ADDR)
ns_up = net.host("upstream", UP_ADDR)
ns_web = [net.host("web%d" % (i + 1), a) for i, a in enumerate(WEB)]
ns_client = net.host("client", CLIENT)
net.enter(ns_client)            # the test's own connections come from the client host
diag("namespaces %s: db %s, upstream %s, web %s, client %s" % (net.tag, DB_ADDR, UP_ADDR, WEB, CLIENT))

K = yth.SERVER_KEY
HOT_TRUST_MS = 1000
WORKERS = 3
tmp = yth.make_tmpdir()
db = yth.MariaDB(tmp, netns=ns_db, bind=DB_ADDR, port=3306)
db.allow_from("10.77.0.%")
fake = yth.FakeUpstream(tmp, netns=ns_up, host=UP_ADDR)


def host_conf(i):
    return yth.write_config(
        os.path.join(tmp, "web%d.conf" % (i + 1)), None, fake,
        server={"log_level": "info", "metrics_allow": CLIENT},
        database={"host": DB_ADDR, "port": 3306, "user": db.user, "password": db.password,
                  "name": db.name, "connect_timeout": 2, "retry_interval_ms": 200},
        cache={"hot_trust_ms": HOT_TRUST_MS},
        quota={"bucket.default": 30, "client_units": 5, "client.search": None, "trusted_proxies": CLIENT,
               "breaker_failures": 3, "breaker_window": 60, "breaker_cooldown": 30})


confs = [host_conf(i) for i in range(len(WEB))]
r = yth.ytcachectl(confs[0], "migrate", tmp=tmp, netns=ns_web[0])
is_(r.returncode, 0, "ytcachectl migrate from web1 over the network: %s" % r.stderr.decode(errors="replace")[-200:])
hosts = []
for i, ns in enumerate(ns_web):
    lis = yth.Listen(tmp, confs[i], workers=WORKERS, name="ytcache-web%d" % (i + 1), netns=ns)
    ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                               [("unix:/run/ytcache/ytcache.sock", "unix:" + lis.addr)],
                               name="nginx-web%d" % (i + 1), netns=ns, host=WEB[i])
    hosts.append((lis, ng))
V = "/youtube/v3/videos?part=snippet&id="
calls_total = [0]        # the fake's calls over the whole test (it is reset between parts)


def reset():
    calls_total[0] += fake.calls()
    fake.reset()
    db.sql("DELETE FROM key_usage; DELETE FROM client_limits; UPDATE breaker SET state = 0, failures = 0, "
           "window_start = NULL, opened_at = NULL, probe_until = NULL")


def get(h, path, client=None, origin=None, timeout=40):
    hd = {}
    if client:
        hd["X-Forwarded-For"] = client
    if origin:
        hd["Origin"] = origin
    return hosts[h][1].get(path, hd, timeout=timeout)


# ---------------------------------------------------------------- single flight across hosts
vid = yth.vid("mhSINGLE1")
want = fake.body("videos?id=%s&part=snippet" % vid)
fake.reset()                             # that call was the test's own
fake.mode("ok", delay_ms=400)            # the first fetch is in flight while the others arrive
got = yth.concurrent(lambda i: get(i % 3, V + vid, client="10.1.0.%d" % (i + 1)), 60)
is_(fake.calls(), 1, "60 concurrent misses for one query over 3 hosts: exactly 1 upstream call")
is_([r.status if not isinstance(r, Exception) else repr(r) for r in got], [200] * 60, "all 60 answered 200")
ok(all(not isinstance(r, Exception) and r.body == want for r in got), "all 60 with the API's bytes")
diag("single flight: %s" % summary(got))

# ---------------------------------------------------------------- exact quota across hosts
reset()
fake.mode("ok", delay_ms=30, key_quota={K: {"default": 30}})
THREADS, PER = 24, 5


def spender(t):
    out = []
    for j in range(PER):
        n = t * PER + j
        out.append(get(t % 3, V + yth.vid("mhSPEND%03d" % n), client="10.2.%d.%d" % (n // 200, n % 200 + 1)))
    return out


res = [r for batch in yth.concurrent(spender, THREADS) for r in (batch if isinstance(batch, list) else [batch])]
got = summary(res)
diag("120 distinct misses over 3 hosts x %d processes: %s" % (WORKERS, got))
is_(got, {"200 MISS": 30, "503 quotaExhausted": 90},
    "120 concurrent distinct misses across hosts, bucket of 30: 30 MISS, 90 503 quotaExhausted")
st = fake.stats()
is_(fake.units(K, stats=st), 30, "the fake charged exactly 30 units (not 31)")
is_(st["statuses"].count(403), 0, "Google never had to refuse a call (no 403)")
is_(int(db.value("SELECT COALESCE(SUM(used), 0) FROM key_usage") or 0), 30, "key_usage says 30 units too")

# ---------------------------------------------------------------- one client's limit across hosts
reset()
ONE = "203.0.113.7"
res = [get(j % 3, V + yth.vid("mhCLIENT%02d" % j), client=ONE) for j in range(15)]
got = summary(res)
is_(got, {"200 MISS": 5, "429 clientQuotaExceeded": 10},
    "one client (X-Forwarded-For) over 3 hosts, client_units 5: 5 misses, then 429 on every host")
is_(fake.calls(), 5, "the fake saw 5 calls for that client, not 15")
is_(sorted(set(j % 3 for j, r in enumerate(res) if r.status == 429)), [0, 1, 2], "refused on all three hosts")

# ---------------------------------------------------------------- purge on one host, the others follow
reset()
PV = yth.vid("mhPURGE01")
r = get(0, V + PV, client="10.3.0.1")
is_((r.status, r.xcache), (200, "MISS"), "a row to purge, fetched through web1")
old = r.body
seq = [0]


def origin():
    seq[0] += 1
    return "https://probe%d.example" % seq[0]


# every worker of every host has the row in memory (hot), served unchecked for hot_trust_ms
warm = [get(h, V + PV, origin=origin()) for h in (0, 1, 2) for _ in range(3 * WORKERS)]
is_([(x.status, x.xcache, x.body == old) for x in warm], [(200, "HIT", True)] * len(warm),
    "the row served as a HIT by all three hosts")
fake.mode("ok", pad_bytes=len(old) + 500)      # a fetch after the purge gives other bytes
t0 = time.monotonic()
r = yth.ytcachectl(confs[1], "purge", "endpoint", "videos", tmp=tmp, netns=ns_web[1])
t_purged = time.monotonic()
is_(r.returncode, 0, "ytcachectl purge endpoint videos on web2")
seen = {0: [], 1: [], 2: []}
stop = threading.Event()


def prober(h):
    while not stop.is_set():
        ts = time.monotonic() - t_purged
        x = get(h, V + PV, origin=origin())
        seen[h].append((ts, x.status, x.body == old))
        stop.wait(0.05)          # a steady probe rate (nginx's limit_req: 20/s per address)


th = [threading.Thread(target=prober, args=(h,), daemon=True) for h in (0, 1, 2)]
for t in th:
    t.start()
yth.wait_for(lambda: time.monotonic() - t_purged > HOT_TRUST_MS / 1000.0 + 1.5, 10)
stop.set()
for t in th:
    t.join(30)
lags = {}
for h in (0, 1, 2):
    olds = [ts for ts, st_, is_old in seen[h] if is_old]
    lags[h] = max(olds) if olds else 0.0
diag("purge took %.3f s; last old copy asked for after the purge: %s"
     % (t_purged - t0, ", ".join("web%d %.3f s" % (h + 1, lags[h]) for h in lags)))
cmp_ok(max(lags.values()), "<", HOT_TRUST_MS / 1000.0, "no host served the purged row later than hot_trust_ms")
is_([seen[h][-1][1:] if seen[h] else None for h in (0, 1, 2)], [(200, False)] * 3,
    "every host serves the newly fetched bytes at the end")
ok(all(len(seen[h]) >= 10 for h in (0, 1, 2)), "each host was asked >= 10 times over the window")

# ---------------------------------------------------------------- the breaker is shared
reset()
fake.mode("error500")
fails = [get(0, V + yth.vid("mhBREAK%02d" % j), client="10.4.0.%d" % (j + 1)) for j in range(3)]
is_([x.status for x in fails], [502] * 3, "3 upstream failures seen by web1")
is_(int(db.value("SELECT state FROM breaker") or 0), 1, "the breaker (in the database) is open")
c0 = fake.calls()
fake.mode("ok")
others = [get(h, V + yth.vid("mhBREAKOK%d" % h), client="10.4.1.%d" % h) for h in (1, 2)]
is_([(x.status, reason(x)) for x in others], [(503, "upstreamUnavailable")] * 2,
    "web2 and web3: 503 upstreamUnavailable, though Google would answer them now")
is_(fake.calls(), c0, "no upstream call from web2 or web3 while the breaker is open")

# ---------------------------------------------------------------- /metrics per host
calls_total[0] += fake.calls()
pages = [yth.metric_samples(get(h, "/ytcache/metrics").body.decode("utf-8", "replace")) for h in (0, 1, 2)]
counts = [int(p.get("ytcache_upstream_duration_seconds_count", -1)) for p in pages]
diag("upstream calls per host (ytcache_upstream_duration_seconds_count): %s; the fake saw %d"
     % (counts, calls_total[0]))
is_(sum(counts), calls_total[0], "the hosts' upstream call counts add up to the fake's calls")
ok(all(0 < c < calls_total[0] for c in counts), "each host counts only its own calls")
rows = [p.get("ytcache_cache_rows") for p in pages]
is_(len(set(rows)), 1, "ytcache_cache_rows, read from the shared database, is the same on every host (%s)" % rows)

yth.done_testing()
