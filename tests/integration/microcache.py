#!/usr/bin/python3
"""The one-second microcache of nginx/ytcache-fastcgi.conf (on by default),
run as shipped (only paths and ports are substituted, tests/lib/ytdeploy.py
render()), in front of ytcache under spawn-fcgi; and the file's one-line
switch that turns it off.

Requests that reach ytcache are counted with ytcache's own metrics
(ytcache_requests_total, shared by its workers), read through nginx at a
query string of their own, so never from nginx's copy.  Every other request
comes from an address of its own in 127.0.0.0/8: the file's limit_req
(per address) stays out of the way.

Checked: repeats within the second are answered by nginx (one upstream
call, ytcache asked a few times at most); a purge shows once nginx's copy
expires (the lag is reported); errors are never kept, and stay JSON;
If-None-Match is answered from nginx's copy, and nginx stores the full
answer also for a conditional miss; HEAD, also a HEAD before any GET (the
GET right after it must still get the body); CORS per Origin from nginx's
copies; one X-Cache on every answer, HIT on what nginx answered from its
copy, also the expired copy it hands out while one request updates it
(cache_lock, use_stale updating); gzip of cached answers; and /metrics,
whose answer depends on the client's address, stays ytcache's decision.

Timing: nginx keeps a "1s" copy until its clock's second changes twice (1
to 2 s).  Checks that need a copy still fresh redo themselves with a new
URL when the machine was too slow to stay under WINDOW seconds."""

import gzip
import http.client
import itertools
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, cmp_ok, diag  # noqa: E402

T_START = time.monotonic()
ORIGIN_A, ORIGIN_B = "https://a.example", "https://b.example"
s = yth.Stack(launcher=None, config={"server": {"cors_origins": "%s,%s" % (ORIGIN_A, ORIGIN_B)}})
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake

sf = yth.SpawnFcgi(tmp, conf, workers=2, config="arg")
CACHE_DIR = ytdeploy.mkdir(os.path.join(tmp, "nginx-microcache"), 0o700)
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [(ytdeploy.MICRO_DIR, CACHE_DIR),
                            ("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                            ("root /var/www/html;", "root %s;" % ytdeploy.shipped("www"))],
                           name="nginx-micro")
diag("rendered nginx/ytcache-fastcgi.conf (microcache on by default): %s/ytcache.conf" % ng.dir)
ok("map $host $ytcache_microcache { default on; }" in ng.rendered
   and "fastcgi_cache ytcache_micro;" in ng.rendered
   and "fastcgi_cache_path %s " % CACHE_DIR in ng.rendered,
   "the microcache lines are enabled, the cache in the test's directory")

V = "/youtube/v3/videos?part=snippet,statistics&id="

# ------------------------------------------------------------------ clients

_addr = itertools.count(1)
_seen = []                  # (method, path, Response): every answer, for the X-Cache check
_seen_lock = threading.Lock()


def next_addr():
    """A loopback source address of its own for each request (limit_req is
    per address)."""
    n = next(_addr)
    return "127.0.%d.%d" % (1 + (n // 250) % 250, 1 + n % 250)


def req(method, path, headers=None, src=None, record=True, timeout=30):
    src = src or next_addr()
    c = http.client.HTTPConnection("127.0.0.1", ng.port, timeout=timeout, source_address=(src, 0))
    t0 = time.monotonic()
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        resp = yth.Response(r.status, r.reason, r.getheaders(), data, time.monotonic() - t0)
    finally:
        c.close()
    resp.t0, resp.t1 = t0, time.monotonic()
    if record:
        with _seen_lock:
            _seen.append((method, path, resp))
    return resp


def get(path, headers=None, **kw):
    return req("GET", path, headers, **kw)


def raw_req(method, path, headers=None, timeout=30):
    """One request over a raw socket (Connection: close) from an address of
    its own: returns (Response, timed_out); Response.body holds every byte
    after the head, so a HEAD that carries a body shows, and so does a
    GET whose body stops short of its Content-Length."""
    s_ = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s_.settimeout(timeout)
    s_.bind((next_addr(), 0))
    s_.connect(("127.0.0.1", ng.port))
    chunks, timed_out = [], False
    try:
        extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        s_.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n"
                    % (method, path, extra)).encode())
        while True:
            b = s_.recv(65536)
            if not b:
                break
            chunks.append(b)
    except socket.timeout:
        timed_out = True
    finally:
        s_.close()
    out = b"".join(chunks)
    head, _, rest = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0])
    hl = []
    for line in lines[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            hl.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    r = yth.Response(int(m.group(1)) if m else None, "", hl, rest)
    with _seen_lock:
        _seen.append((method, path, r))
    return r, timed_out


def xcache_count(r):
    return sum(1 for k, _ in r.header_list if k.lower() == "x-cache")


_probe = itertools.count(1)


def metrics():
    """ytcache's counters, read through nginx from 127.0.0.1 (metrics_allow)
    at a query string never asked before: always answered by ytcache."""
    r = get("/youtube/v3/metrics?probe=%d" % next(_probe), src="127.0.0.1", record=False)
    if r.status != 200:
        yth.bail("cannot read ytcache's metrics through nginx: %r %r" % (r, r.body[:300]))
    return yth.metric_samples(r.body.decode("utf-8", "replace"))


def reached(m):
    """Requests ytcache answered, /metrics itself left out."""
    return int(sum(v for k, v in m.items() if k.startswith("ytcache_requests_total{")
                   and 'route="metrics"' not in k))


def ytc_requests():
    return reached(metrics())


WINDOW = 0.8    # a copy stored less than this ago is certainly still fresh in nginx


def in_window(attempt, what, tries=4):
    """attempt(n) -> (in_time, result): retried (new URL) while the machine
    was too slow to stay inside nginx's one-second window; returns result."""
    res = None
    for n in range(tries):
        in_time, res = attempt(n)
        if in_time:
            return res
        diag("%s: attempt %d took longer than %.1f s, again with a new URL" % (what, n + 1, WINDOW))
    diag("%s: never inside the window in %d attempts (machine too slow)" % (what, tries))
    return res


fake.reset()

# ---------------------------------------------------------------- 1. repeats within the second
A = V + yth.vid("microRep01")
c0 = fake.calls()
n0 = ytc_requests()
first = get(A)
is_((first.status, first.xcache), (200, "MISS"), "repeats: first request MISS (from ytcache)")
ok(len(first.body) > 100 and first.body == fake.body("videos?id=%s&part=snippet,statistics"
                                                     % yth.vid("microRep01")),
   "repeats: the API's bytes")
c0 += 1     # fake.body() asked the fake once itself
n1 = ytc_requests()
is_(n1 - n0, 1, "repeats: the first request reached ytcache")
t_burst = time.monotonic()
got = yth.concurrent(lambda i: get(A), 30)
burst_s = time.monotonic() - t_burst
n2 = ytc_requests()
statuses = [getattr(r, "status", repr(r)) for r in got]
is_(statuses, [200] * 30, "repeats: 30 quick repeats all 200")
ok(all(getattr(r, "body", None) == first.body for r in got), "repeats: all with the same bytes")
hits = sum(1 for r in got if getattr(r, "xcache", None) == "HIT")
cmp_ok(hits, ">=", 1, "repeats: X-Cache: HIT on the repeats (%d of 30)" % hits)
diag("repeats: 30 requests in %.2f s, %d of them reached ytcache" % (burst_s, n2 - n1))
cmp_ok(n2 - n1, "<=", 10, "repeats: most of the 30 answered by nginx itself, not ytcache")
is_(fake.calls() - c0, 1, "repeats: one upstream call")
files = [f for _, _, fs in os.walk(CACHE_DIR) for f in fs]
ok(files, "repeats: nginx keeps its copies in the fastcgi_cache_path directory (%d files)" % len(files))

# ---------------------------------------------------------------- 2. a purge shows after ~1 s


def purge_attempt(n):
    v = yth.vid("microPrg%d" % n)
    P = V + v
    c0 = fake.calls()
    r0 = get(P)
    if (r0.status, r0.xcache) != (200, "MISS"):
        return True, ("not a MISS: %r" % r0, None, None, None, None, None)
    t_stored = r0.t1
    cp = s.ctl("purge", "all")
    t_purged = time.monotonic()
    r1 = get(P)
    in_time = r1.t0 - t_stored < WINDOW
    return in_time, (r0, cp, t_stored, t_purged, r1, c0, P)


res = in_window(purge_attempt, "purge")
if res[1] is None:
    ok(False, "purge: " + res[0])
else:
    r0, cp, t_stored, t_purged, r1, c0, P = res
    is_(cp.returncode, 0, "purge: ytcachectl purge all exits 0 (%.2f s)" % (t_purged - t_stored))
    is_(db.count(), 0, "purge: the table stays empty (the request right after it did not reach ytcache)")
    is_((r1.status, r1.xcache), (200, "HIT"), "purge: right after it, still a HIT (nginx's copy)")
    ok(r1.body == r0.body, "purge: right after it, the same bytes")
    is_(fake.calls() - c0, 1, "purge: right after it, no upstream call")
    before = []

    def missed():
        r = get(P)
        if (r.status, r.xcache) == (200, "MISS"):
            return r
        before.append(r)
        return None
    m = yth.wait_for(missed, 6.0, interval=0.05, what="a MISS after the purge")
    t_miss = m.t0 if m else time.monotonic()
    ok(m, "purge: a MISS within 6 s of the purge")
    diag("purge: lag %.2f s from the end of ytcachectl purge to the MISS; "
         "nginx's copy was %.2f s old then (nginx keeps whole seconds: 1 s means 1 to 2 s)"
         % (t_miss - t_purged, t_miss - t_stored))
    ok(all((r.status, r.xcache) == (200, "HIT") and r.body == r0.body for r in before),
       "purge: until then %d HITs with the old bytes" % len(before))
    is_(fake.calls() - c0, 2, "purge: then exactly one upstream call")

# ---------------------------------------------------------------- 3. errors are never kept
m0 = metrics()
OAUTH = "/youtube/v3/channels?part=snippet&mine=true"
e1, e2 = get(OAUTH), get(OAUTH)
m1 = metrics()
for i, r in enumerate((e1, e2)):
    yth.check_error(r, 400, "oauthNotSupported", "errors: 400 from ytcache, request %d" % (i + 1))
    ok(r.xcache != "HIT", "errors: 400, request %d: not X-Cache: HIT" % (i + 1))
is_(reached(m1) - reached(m0), 2, "errors: both 400s reached ytcache")
key = 'ytcache_errors_total{reason="oauthNotSupported"}'
is_(m1.get(key, 0) - m0.get(key, 0), 2, "errors: ytcache made both 400s")

BOGUS = "/youtube/v3/bogus?part=snippet&id=" + yth.vid("microBogus")
m0 = metrics()
e1, e2 = get(BOGUS), get(BOGUS)
m1 = metrics()
for i, r in enumerate((e1, e2)):
    yth.check_error(r, 404, "notFound", "errors: 404, request %d" % (i + 1))
is_(reached(m1) - reached(m0), 2, "errors: both 404s reached ytcache")

E = V + yth.vid("microErr5x")
fake.mode("error500")
c0 = fake.calls()
e1 = get(E)
c1 = fake.calls()
e2 = get(E)
c2 = fake.calls()
fake.mode("ok")
for i, r in enumerate((e1, e2)):
    yth.check_error(r, 502, "upstreamError", "errors: upstream 500 -> 502, request %d" % (i + 1))
cmp_ok(c1 - c0, ">=", 1, "errors: the first 502 asked upstream")
is_(c2 - c1, c1 - c0, "errors: the second 502 asked upstream again (nothing kept)")
r = get(E)
is_((r.status, r.xcache), (200, "MISS"), "errors: upstream well again: at once a 200 MISS, no 502 kept")

# ---------------------------------------------------------------- 4. If-None-Match


def inm_attempt(n):
    P = V + yth.vid("microInm%d" % n)
    r = get(P)
    etag = r.header("etag")
    nb = ytc_requests()
    r304 = get(P, {"If-None-Match": etag or '"none"'})
    r200 = get(P, {"If-None-Match": '"not-the-etag"'})
    na = ytc_requests()
    return r200.t0 - r.t1 < WINDOW, (r, etag, r304, r200, na - nb)


r, etag, r304, r200, dn = in_window(inm_attempt, "If-None-Match")
is_((r.status, r.xcache), (200, "MISS"), "If-None-Match: warmed (MISS)")
like(etag, r'^"[^"]+"$', "If-None-Match: the answer has a strong ETag")
is_(r304.status, 304, "If-None-Match with the cached ETag: 304")
is_(r304.body, b"", "If-None-Match: 304 without a body")
is_(r304.header("etag"), etag, "If-None-Match: 304 carries the ETag")
is_(r304.xcache, "HIT", "If-None-Match: 304 from nginx's copy (X-Cache: HIT)")
is_(r200.status, 200, "If-None-Match with another ETag: 200")
ok(r200.body == r.body, "If-None-Match with another ETag: the whole body")
is_(dn, 0, "If-None-Match: both answered by nginx, not ytcache")


def cold_inm_attempt(n):
    """A conditional request that misses nginx's cache: ytcache must be
    asked for the full answer (HTTP_IF_NONE_MATCH ""), so nginx stores it."""
    P = V + yth.vid("microCnd%d" % n)
    o = get(P, {"Origin": "https://other.example"})     # another key in nginx: learn the ETag
    etag = o.header("etag") or '"none"'
    rc = get(P, {"If-None-Match": etag})
    nb = ytc_requests()
    rp = get(P)
    na = ytc_requests()
    return rp.t0 - rc.t1 < WINDOW, (o, etag, rc, rp, na - nb)


o, etag, rc, rp, dn = in_window(cold_inm_attempt, "conditional miss")
is_(rc.status, 304, "conditional miss: the client gets 304")
is_(rc.header("etag"), etag, "conditional miss: 304 with the ETag")
is_(rp.status, 200, "conditional miss, then a plain GET: 200")
ok(rp.body == o.body and len(rp.body) > 100, "conditional miss, then a plain GET: the whole body")
is_(dn, 0, "conditional miss: nginx stored ytcache's full answer (the plain GET did not reach ytcache)")

# ---------------------------------------------------------------- 5. HEAD
P = V + yth.vid("microHead1")
g = get(P)
h, _ = raw_req("HEAD", P)
is_(h.status, 200, "HEAD of a cached answer: 200")
is_(h.body, b"", "HEAD: no body on the wire")
for name in ("content-type", "etag"):
    is_(h.header(name), g.header(name), "HEAD: %s as for GET" % name)
is_(h.xcache, "HIT", "HEAD: X-Cache: HIT")

# HEAD first, then GET within the second: the GET must get the whole body,
# not a copy nginx stored from the HEAD (headers and Content-Length, no body)
P = V + yth.vid("microHead2")
h, _ = raw_req("HEAD", P)
g, g_timed_out = raw_req("GET", P, timeout=5)
is_((h.status, h.body), (200, b""), "HEAD before any GET: 200, no body")
ct = g.header("content-length")
diag("GET right after a cold HEAD: status %s, Content-Length %s, %d body bytes%s" %
     (g.status, ct, len(g.body), ", no end within 5 s" if g_timed_out else ""))
is_(g.status, 200, "GET after a cold HEAD: 200")
ok(not g_timed_out and ct is not None and int(ct) == len(g.body) > 100,
   "GET after a cold HEAD: the whole body (Content-Length bytes), not a header-only copy")
j = g.json() or {}
is_(h.header("etag"), '"%s"' % j.get("etag"), "GET after a cold HEAD: JSON with the ETag HEAD gave")
is_(h.header("content-type"), g.header("content-type"), "cold HEAD: Content-Type as for GET")

# ---------------------------------------------------------------- 6. CORS per Origin


def vary_has(r, what):
    return what in [v.strip().lower() for v in (r.header("vary") or "").split(",")]


def cors_attempt(n):
    P = V + yth.vid("microCors%d" % n)
    round1 = [get(P, {"Origin": ORIGIN_A}), get(P, {"Origin": ORIGIN_B}), get(P),
              get(P, {"Origin": "https://c.example"})]
    nb = ytc_requests()
    round2 = [get(P, {"Origin": ORIGIN_A}), get(P, {"Origin": ORIGIN_B}), get(P),
              get(P, {"Origin": "https://c.example"})]
    na = ytc_requests()
    return round2[-1].t0 - round1[0].t1 < WINDOW, (round1, round2, na - nb)


round1, round2, dn = in_window(cors_attempt, "CORS")
is_((round1[0].status, round1[0].xcache), (200, "MISS"), "CORS: first request (Origin a) MISS")
for rnd, rs in (("first", round1), ("second", round2)):
    ra, rb, rn, rc = rs
    is_(ra.header("access-control-allow-origin"), ORIGIN_A, "CORS, %s round: Origin a gets ACAO a" % rnd)
    is_(rb.header("access-control-allow-origin"), ORIGIN_B, "CORS, %s round: Origin b gets ACAO b" % rnd)
    is_(rn.header("access-control-allow-origin"), None, "CORS, %s round: no Origin, no ACAO" % rnd)
    is_(rc.header("access-control-allow-origin"), None, "CORS, %s round: another Origin, no ACAO" % rnd)
    ok(all(r.status == 200 and r.body == round1[0].body for r in rs), "CORS, %s round: 200, same bytes" % rnd)
is_([r.xcache for r in round2], ["HIT"] * 4, "CORS: second round all X-Cache: HIT")
ok(vary_has(round2[0], "origin") and vary_has(round2[1], "origin"), "CORS: Vary: Origin from nginx's copy")
is_(dn, 0, "CORS: the second round answered by nginx's copies, one per Origin")

# ---------------------------------------------------------------- 7. X-Cache while nginx's copy is updated
# ytcache slow to answer (its row gone, upstream 1.5 s): after nginx's copy
# expires one request goes to ytcache (cache_lock), the others get the
# expired copy (use_stale updating).  Each answer still carries one X-Cache.
P = V + yth.vid("microUpd01")
w = get(P)
is_((w.status, w.xcache), (200, "MISS"), "update: warmed (MISS)")
nb = ytc_requests()
c0 = fake.calls()
db.sql("DELETE FROM cache")
fake.mode("ok", delay_ms=1500)
upd = []
threads = []


def fire():
    def one():
        try:
            upd.append(get(P))
        except Exception as e:   # reported below
            upd.append(e)
    t = threading.Thread(target=one, daemon=True)
    t.start()
    threads.append(t)
    # done once the slow request has come back and a few came after it
    done_at = [r.t1 for r in upd if isinstance(r, yth.Response) and r.xcache == "MISS"]
    return done_at and time.monotonic() - done_at[0] > 0.3


yth.wait_for(fire, 8.0, interval=0.05, what="the update of nginx's copy")
for t in threads:
    t.join(30)
fake.mode("ok")
na = ytc_requests()
resps = [r for r in upd if isinstance(r, yth.Response)]
is_(len(resps), len(upd), "update: every request answered (%d)" % len(upd))
ok(all(r.status == 200 and r.body == w.body for r in resps), "update: all 200 with the same bytes")
kinds = {}
for r in resps:
    kinds[r.xcache] = kinds.get(r.xcache, 0) + 1
diag("update: X-Cache of %d answers: %s" % (len(resps), ", ".join(
    "%s x %d" % (k, v) for k, v in sorted(kinds.items(), key=lambda kv: str(kv[0])))))
is_(fake.calls() - c0, 1, "update: one upstream call")
is_(na - nb, 1, "update: one request reached ytcache (cache_lock, use_stale updating)")
is_([xcache_count(r) for r in resps if xcache_count(r) != 1], [],
    "update: exactly one X-Cache on every answer, also the expired copy served while updating")
# only the answer ytcache made (its row was gone: MISS) may say MISS; the
# expired copy nginx hands out meanwhile is nginx answering from its copy
is_(kinds.get("MISS", 0), na - nb,
    "update: X-Cache: MISS only on the answer ytcache made, not on nginx's expired copy")

# ---------------------------------------------------------------- 8. gzip
IDS = ",".join(yth.vid("microGz%d" % i) for i in range(6))
Z1 = V + IDS
p = get(Z1)
cmp_ok(len(p.body), ">=", 1024, "gzip: a JSON answer over gzip_min_length (%d bytes)" % len(p.body))
z = get(Z1, {"Accept-Encoding": "gzip"})
is_((z.status, z.xcache, z.header("content-encoding")), (200, "HIT", "gzip"),
    "gzip: cached answer, Accept-Encoding: gzip -> gzipped HIT")
try:
    unz = gzip.decompress(z.body)
except Exception as e:
    unz = repr(e).encode()
ok(unz == p.body, "gzip: valid gzip, decompresses to the plain bytes")
ok(vary_has(z, "accept-encoding"), "gzip: Vary: Accept-Encoding")


def gzip_first_attempt(n):
    P = V + ",".join(yth.vid("microGy%d%d" % (n, i)) for i in range(6))
    z = get(P, {"Accept-Encoding": "gzip"})
    nb = ytc_requests()
    p = get(P)
    na = ytc_requests()
    return p.t0 - z.t1 < WINDOW, (z, p, na - nb)


z, p, dn = in_window(gzip_first_attempt, "gzip first")
is_((z.status, z.header("content-encoding")), (200, "gzip"), "gzip first: cold gzipped answer")
is_((p.status, p.header("content-encoding")), (200, None), "gzip first, then plain: not gzipped")
ok(p.body == (gzip.decompress(z.body) if z.header("content-encoding") == "gzip" else None),
   "gzip first, then plain: the plain bytes of the gzipped answer")
is_(dn, 0, "gzip first, then plain: from nginx's (uncompressed) copy")

# ---------------------------------------------------------------- 9. /metrics stays ytcache's decision
# ytcache answers /metrics only to [server] metrics_allow (127.0.0.1 here);
# nginx's copy must not hand it to another address within the second.
leak = []
for i in range(3):
    MP = "/youtube/v3/metrics?leak=%d" % i
    a = get(MP, src="127.0.0.1")
    b = get(MP, src="127.0.0.2")
    if a.status != 200:
        diag("metrics for 127.0.0.1: %r" % a)
    leak.append((a.status, b.status, b.xcache, b"ytcache_requests_total" in b.body))
diag("metrics for 127.0.0.1, then at once for 127.0.0.2 (status, status, X-Cache, metrics in body): %r"
     % leak)
is_([x[:2] for x in leak], [(200, 403)] * 3,
    "metrics: 200 for an allowed address, still 403 for another one right after it")
ok(not any(x[3] for x in leak), "metrics: no metrics in any answer to a not-allowed address")

# ---------------------------------------------------------------- X-Cache everywhere
with _seen_lock:
    seen = list(_seen)
two = [(m_, p_, r.status, r.header("x-cache")) for m_, p_, r in seen if xcache_count(r) > 1]
is_(two, [], "X-Cache: never two X-Cache headers in one answer (%d answers)" % len(seen))
api200 = [(m_, p_, r.status, xcache_count(r)) for m_, p_, r in seen
          if r.status in (200, 304) and "/metrics" not in p_ and xcache_count(r) != 1]
is_(api200, [], "X-Cache: exactly one on every 200/304 API answer")

# ---------------------------------------------------------------- the one-line switch
SWITCH = "map $host $ytcache_microcache { default on; }"
ng.stop()
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [(SWITCH, SWITCH.replace(" on;", " off;")),
                            ("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                            ("root /var/www/html;", "root %s;" % ytdeploy.shipped("www"))],
                           name="nginx-nomicro")
diff = [ln for ln in ng.rendered.splitlines() if ln.startswith("map $host $ytcache_microcache")]
is_(diff, [SWITCH.replace(" on;", " off;")], "switch: one line turns the microcache off")
P = V + yth.vid("microOff01")
n0 = ytc_requests()
a = get(P)
got = [get(P) for _ in range(5)]
n1 = ytc_requests()
is_((a.status, a.xcache), (200, "MISS"), "switch off: first request MISS")
is_([(r.status, r.xcache) for r in got], [(200, "HIT")] * 5, "switch off: repeats are ytcache's HITs")
is_(n1 - n0, 6, "switch off: every request reached ytcache")
etag = a.header("etag")
r = get(P, headers={"If-None-Match": etag})
is_((r.status, r.body), (304, b""), "switch off: If-None-Match reaches ytcache, which answers 304")
is_(ytc_requests() - n1, 1, "switch off: ... and it was ytcache that answered")
files = [f for _, _, fs in os.walk(os.path.join(ng.dir, "micro")) for f in fs]
is_(files, [], "switch off: nginx keeps no copies")

sf_alive = sf.alive_pids()
is_(len(sf_alive), 2, "both ytcache workers still alive")
ng.stop()
sf.stop()
diag("microcache test ran %.1f s" % (time.monotonic() - T_START))
yth.done_testing()
