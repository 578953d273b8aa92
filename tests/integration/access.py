#!/usr/bin/python3
"""[access] rules through nginx: say what may be asked.  With no [access]
section everything is served as before; the README's lockdown ("a site that
only shows its own channel") lets the site's own queries through (MISS then
HIT) and refuses everything else with 403 forbidden JSON, before the cache
and before any cost: no upstream call, no quota unit, no client-limit
charge; each refusal is counted per rule in /metrics, and a burst of 20
refusals makes one log line.  The number of hostile requests tried (none may
reach YouTube) is printed for the README."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

CH = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
UU = "UU_x5XG1OV2P6uZZ5FSM9Ttw"
OTHER = "UC" + "z" * 22
QUOTA = {"client_units": 1000, "client_window": "60s"}
LOCK = {"resources": "search,playlistItems,videos,channels", "channelId": CH, "playlistId": UU,
        "search_requires": "channelId", "id": yth.vid("mine1") + "," + yth.vid("mine2") + "," + CH,
        "q": "cats"}
A = "/youtube/v3/"
MINE = [A + "search?part=snippet&channelId=" + CH, A + "search?part=snippet&q=cats&channelId=" + CH,
        A + "playlistItems?part=snippet&playlistId=" + UU, A + "videos?part=snippet&id=" + yth.vid("mine1"),
        A + "videos?part=snippet&id=" + yth.vid("mine2") + "," + yth.vid("mine1"),
        A + "channels?part=snippet&id=" + CH]
HOSTILE = [  # (path, rule)
    (A + "commentThreads?part=snippet&videoId=" + yth.vid("mine1"), "resources"),
    (A + "search?part=snippet&channelId=" + OTHER, "channelId"),
    (A + "channels?part=snippet&id=" + OTHER, "id"),
    (A + "videos?part=snippet&id=" + yth.vid("mine1") + "," + yth.vid("other1"), "id"),
    (A + "videos?part=snippet&id=" + yth.vid("other1") + "," + yth.vid("mine1"), "id"),
    (A + "search?part=snippet", "search_requires"),
    (A + "search?part=snippet&q=cats", "search_requires"),
    (A + "search?part=snippet&regionCode=US&type=video", "search_requires"),
    (A + "search?part=snippet&channelId=" + CH + "&q=dogs", "q"),
    (A + "search?part=snippet&channelId=" + CH + "&q=Cats", "q"),
    (A + "playlistItems?part=snippet&playlistId=PL" + "x" * 32, "playlistId"),
    (A + "videos?part=snippet&id=" + ",".join(yth.vid(t) for t in ("mine1", "other2", "mine2")), "id"),
    ("/?endpoint=search&part=snippet&channelId=" + OTHER, "channelId"),            # the compatibility form
    ("/?endpoint=commentThreads&part=snippet&videoId=" + yth.vid("x"), "resources"),
]

# one worker: log_burst's "at most once per burst" is per process
s = yth.Stack("spawn-fcgi", workers=1, config={"quota": QUOTA})
fake = s.fake


def refused_metrics():
    m = yth.metric_samples(s.get("/metrics").body.decode())
    return {k: v for k, v in m.items() if k.startswith("ytcache_access_refused_total")}


def charges():
    return (fake.calls(), s.db.value("SELECT COALESCE(SUM(used), 0) FROM key_usage"),
            s.db.value("SELECT CONCAT(COUNT(*), '/', COALESCE(SUM(tat_us), 0)) FROM client_limits"))


# ---------------------------------------------------------------- no [access]: open, as before
r = s.get(HOSTILE[0][0])
is_((r.status, r.xcache), (200, "MISS"), "no [access]: another resource is served")
r = s.get(HOSTILE[1][0])
is_((r.status, r.xcache), (200, "MISS"), "no [access]: another channel is served")
out = s.ctl("check-config")
ok(b"[access]\n(open: no rules)" in out.stdout, "check-config: no rules shown as open")

# ---------------------------------------------------------------- the lockdown
s.reconfigure(quota=QUOTA, access=LOCK)
out = s.ctl("check-config")
is_(out.returncode, 0, "lockdown: check-config ok")
for key in ("resources", "channelId", "playlistId", "id", "q", "search_requires"):
    ok(("%s = %s" % (key, LOCK[key])).encode() in out.stdout, "check-config prints %s" % key)

for p in MINE:
    c0 = fake.calls()
    r1, r2 = s.get(p), s.get(p)
    is_([(r1.status, r1.xcache), (r2.status, r2.xcache)], [(200, "MISS"), (200, "HIT")], "allowed: " + p[12:60])
    is_(fake.calls(), c0 + 1, "allowed: one upstream call")

before, m0 = charges(), refused_metrics()
for p, rule in HOSTILE:
    r = s.get(p)
    e = yth.check_error(r, 403, "forbidden", "refused (%s): %s" % (rule, p[:70]))
    ok(e and ("[access] " + rule) in e.get("message", ""), "the message names [access] %s" % rule)
is_(charges(), before, "%d hostile requests: no upstream call, no quota unit, no client-limit charge" % len(HOSTILE))
m1 = refused_metrics()
for rule in sorted(set(rr for _, rr in HOSTILE)):
    key = 'ytcache_access_refused_total{rule="%s"}' % rule
    want = sum(1 for _, rr in HOSTILE if rr == rule)
    is_(m1.get(key, 0) - m0.get(key, 0), want, "/metrics: %s counts %d" % (key, want))

# a refusal is not answered from the cache either: a cached answer of the open config stays unreachable
c0 = fake.calls()
r = s.get(HOSTILE[0][0])
is_(r.status, 403, "a request cached before the lockdown: refused, not served from the cache")

# ---------------------------------------------------------------- a burst of 20: one log line
log0 = s.logs(include_access=False).count(b"refused by [access]")
for i in range(20):
    s.get(A + "search?part=snippet&channelId=" + OTHER)
log1 = s.logs(include_access=False).count(b"refused by [access]")
ok(log1 >= 1, "refusals are logged")
ok(log1 - log0 <= 1, "a burst of 20 refusals: at most one log line (got %d)" % (log1 - log0))
diag("access: %d refusals, %d log lines" % (len(HOSTILE) + 21, log1))
is_(fake.calls(), c0, "the burst: no upstream call")

# ---------------------------------------------------------------- a bad list is fatal at start, value unshown
bad = os.path.join(s.tmp, "bad_access.conf")
yth.write_config(bad, s.db, fake, access={"resources": "videos,secretThing"})
r = yth.ytcachectl(bad, "check-config", tmp=s.tmp)
is_(r.returncode, 1, "an unknown resource in [access] resources: check-config exits 1")
yth.like(r.stderr.decode(), r"bad_access\.conf:\d+: ", "the message names file and line")
ok(b"secretThing" not in r.stderr, "the value is not echoed")

n = len(HOSTILE) + 21
diag("access: of %d hostile requests tried, %d reached YouTube" % (n, fake.calls() - c0))
yth.done_testing()
