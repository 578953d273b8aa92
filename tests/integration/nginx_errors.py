#!/usr/bin/python3
"""What nginx itself answers under /youtube/v3/, through both shipped nginx
files run as shipped (tests/lib/ytdeploy.py render(): paths and ports
only): every refusal nginx makes is JSON in the API's error shape
(Content-Type application/json; charset=UTF-8, Cache-Control: no-store, no
server version), never an HTML page, and costs no upstream call; and the
file's limit_req lets a page's burst through while a sustained flood gets
JSON 429s with Retry-After.

Hostile requests: a 100 KB query string (414), a path that climbs above the
root (400), an over-long header (494, sent as 400), TRACE (405), a body over
client_max_body_size (413), ytcache not running (502), ytcache not
answering in time (504, with fastcgi_read_timeout shortened: the one
substitution here that is not a path or port).  Every code the files map
is also checked statically: an error_page line in the location, a named
location returning that code with a JSON body."""

import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, cmp_ok, diag  # noqa: E402

CODES = (400, 404, 405, 408, 413, 414, 429, 500, 502, 503, 504)
CT = "application/json; charset=UTF-8"

s = yth.Stack(launcher=None)
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake
WWW = ytdeploy.shipped("www")


def raw(port, data, timeout=30, src="127.0.0.1"):
    """Send bytes, read the whole answer (the server closes): Response or None."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(src, 0))
    chunks = []
    try:
        c.sendall(data)
        while True:
            try:
                b = c.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
    finally:
        c.close()
    r = yth.parse_raw_response(b"".join(chunks))
    return r if r.status is not None else None


def request(method, path, headers=(), body=b""):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode("latin-1") + b"\r\n" + body


def json_error(r, code, label, reason=None):
    """r is nginx's (or ytcache's) JSON error with status code."""
    if r is None:
        ok(False, "%s: an HTTP answer (got none)" % label)
        return
    is_(r.status, code, "%s: status %d" % (label, code))
    is_(r.header("content-type"), CT, "%s: Content-Type" % label)
    like(r.header("cache-control") or "", r"no-store", "%s: Cache-Control: no-store" % label)
    try:
        e = json.loads(r.body.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        ok(False, "%s: a JSON error body (got %r)" % (label, r.body[:200]))
        return
    ok(e.get("code") == code and e.get("message") and (e.get("errors") or [{}])[0].get("reason"),
       "%s: {error:{code,message,errors[0].reason}} (%s)" % (label, (e.get("errors") or [{}])[0].get("reason")))
    if reason:
        is_(e["errors"][0]["reason"], reason, "%s: reason" % label)
    ok(not re.search(rb"nginx/\d|<html|<center", r.body, re.I), "%s: no HTML, no server version" % label)


def static_check(ng, label):
    """Every code of CODES has an error_page in the /youtube/v3/ location
    and a named location returning it as JSON."""
    text = ng.rendered
    loc = text[text.index("location ^~ /youtube/v3/ {"):]
    loc = loc[:loc.index("\n    }\n")]
    mapped = {}
    for m in re.finditer(r"error_page\s+([\d\s]+?)\s+(/ytcache-error/\d+);", loc):
        for c in m.group(1).split():
            mapped[int(c)] = m.group(2)
    missing = [c for c in CODES if c not in mapped]
    is_(missing, [], "%s: every code has an error_page in the location" % label)
    bad = []
    for c, name in sorted(mapped.items()):
        m = re.search(r"location = %s \{\n        internal;(.*?)\n    \}" % re.escape(name), text, re.S)
        want = 400 if c == 494 else c
        if not m:
            bad.append((c, "no location"))
            continue
        body = m.group(1)
        r = re.search(r"return (\d+) '(.*)\\n';", body)
        if not r or int(r.group(1)) != want or 'default_type "%s"' % CT not in body \
                or 'Cache-Control "no-store" always' not in body:
            bad.append((c, "wrong"))
            continue
        try:
            e = json.loads(r.group(2))["error"]
            if e["code"] != want or not e["errors"][0]["reason"]:
                bad.append((c, "json"))
        except (ValueError, KeyError):
            bad.append((c, "json"))
    is_(bad, [], "%s: each named location returns its code as JSON, no-store" % label)


def hostile(ng, label):
    """The requests users' bots send; each answered by nginx as JSON, no upstream call."""
    c0 = fake.calls()
    big = "/youtube/v3/videos?part=snippet&id=" + "a" * 100000
    json_error(raw(ng.port, request("GET", big)), 414, "%s: 100 KB query string" % label, "uriTooLong")
    json_error(raw(ng.port, request("GET", "/youtube/v3/..%2F..%2F..%2Fetc%2Fpasswd")), 400,
               "%s: ..%%2F..%%2F..%%2Fetc%%2Fpasswd (above the root)" % label, "badRequest")
    json_error(raw(ng.port, request("GET", "/youtube/v3/..%2F..%2Fetc%2Fpasswd")), 400,
               "%s: ..%%2F..%%2Fetc%%2Fpasswd (resolves to /etc/passwd, outside the mount)" % label,
               "badRequest")
    json_error(raw(ng.port, request("GET", "/youtube/v3/%2E%2E/%2E%2E/index.html")), 400,
               "%s: %%2E%%2E/%%2E%%2E/index.html (resolves to the site's page)" % label, "badRequest")
    json_error(raw(ng.port, request("GET", "/youtube/v3/videos?part=id&id=x",
                                    [("X-Junk", "j" * 20000)])), 400,
               "%s: a 20 KB header" % label, "badRequest")
    json_error(raw(ng.port, request("TRACE", "/youtube/v3/videos?part=id&id=x")), 405,
               "%s: TRACE" % label, "methodNotAllowed")
    json_error(raw(ng.port, request("POST", "/youtube/v3/websub", [("Content-Type", "application/atom+xml")],
                                    b"x" * 400000)), 413, "%s: a 400 KB body" % label, "requestTooLarge")
    # a request line that is not HTTP at all
    json_error(raw(ng.port, b"\x16\x03\x01\x02\x00 /youtube/v3/ HTTP/1.1\r\n\r\n"), 400,
               "%s: a TLS hello on the plain port" % label)
    # under the mount nothing is the site's: a .mjs path still goes to ytcache
    r = raw(ng.port, request("GET", "/youtube/v3/x.mjs"))
    json_error(r, 404, "%s: /youtube/v3/x.mjs is ytcache's 404" % label, "notFound")
    is_(fake.calls() - c0, 0, "%s: none of it cost an upstream call" % label)


def good(ng, label, vid):
    r = ng.get("/youtube/v3/videos?part=snippet&id=" + vid)
    is_((r.status, r.header("content-type")), (200, CT), "%s: a normal request still works" % label)


def flood(ng, label, workers=8, seconds=3.0, concurrent=50):
    """A page's burst from one address all passes; a sustained flood gets JSON 429s."""
    path = "/youtube/v3/videos?part=snippet&id=" + yth.vid("flood" + label[:4])
    ng.get(path)                                      # stored: the flood is hits
    src = "127.0.9.%d" % (len(label) % 200 + 1)
    req = request("GET", path)
    got = yth.concurrent(lambda i: raw(ng.port, req, src=src), concurrent)
    st = [getattr(r, "status", None) for r in got]
    is_(st.count(200), concurrent, "%s: %d requests at once from one address all pass" % (label, concurrent))
    # the sustained flood, from another address
    src = "127.0.10.%d" % (len(label) % 200 + 1)
    res = {"200": 0, "429": 0, "other": [], "r429": None}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def hammer():
        while time.monotonic() < stop:
            r = raw(ng.port, req, src=src)
            with lock:
                if r is not None and r.status == 200:
                    res["200"] += 1
                elif r is not None and r.status == 429:
                    res["429"] += 1
                    res["r429"] = r
                else:
                    res["other"].append(getattr(r, "status", None))
    t0 = time.monotonic()
    ts = [threading.Thread(target=hammer) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    total = res["200"] + res["429"] + len(res["other"])
    rate = total / el
    diag("%s: flood of %d requests in %.1f s (%.0f/s): %d passed, %d x 429, other %r"
         % (label, total, el, rate, res["200"], res["429"], res["other"][:5]))
    cmp_ok(rate, ">=", 150, "%s: the flood really is hundreds a second" % label)
    is_(res["other"], [], "%s: every answer in the flood is 200 or 429" % label)
    cmp_ok(res["200"], "<=", 100 + 20 * el + 10, "%s: what passes is the burst plus 20/s" % label)
    cmp_ok(res["429"], ">", total // 3, "%s: most of a sustained flood is refused" % label)
    json_error(res["r429"], 429, "%s: limit_req's 429" % label, "rateLimitExceeded")
    if res["r429"] is not None:
        is_(res["r429"].header("retry-after"), "1", "%s: 429 carries Retry-After" % label)


# ------------------------------------------------------------------ FastCGI file
sf = yth.SpawnFcgi(tmp, conf, workers=2, config="arg")
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                            ("root /var/www/html;", "root %s;" % WWW)])
L = "fastcgi.conf"
static_check(ng, L)
good(ng, L, yth.vid("nerrGood1"))
hostile(ng, L)
flood(ng, L)
r = ng.get("/ytcache.mjs")
is_((r.status, (r.header("content-type") or "").split(";")[0]), (200, "text/javascript"),
    "%s: www/ytcache.mjs is served as JavaScript (an ES module needs it)" % L)
r = ng.get("/ytcache/health")
is_((r.status, r.header("content-type")), (200, CT), "%s: /ytcache/health reaches ytcache" % L)
r = ng.get("/ytcache/metrics")
ok(r.status == 200 and b"ytcache_requests_total" in r.body, "%s: /ytcache/metrics reaches ytcache" % L)
r = raw(ng.port, request("GET", "/youtube/v3/x/../health"))
is_((getattr(r, "status", None), getattr(r, "header", lambda k: None)("content-type")), (200, CT),
    "%s: a path that stays under the mount is still served" % L)
r = ng.get("/nothing-here.html")
ok(r.status == 404 and b"<html" in r.body.lower(), "%s: the site's own 404 stays the site's" % L)
# a long query that fits max_query_bytes reaches ytcache (nginx's buffer is sized for it)
q = "/youtube/v3/videos?part=snippet&id=" + yth.vid("nerrLong1") + "&fields=" + "a" * 7900
r = ng.get(q)
ok(r.status != 414 or b'"domain":"ytcache"' in r.body,
   "%s: a query within max_query_bytes is not refused by nginx (%s)" % (L, r.status))
q = "/youtube/v3/videos?part=snippet&id=" + yth.vid("nerrLong2") + "&fields=" + "a" * 9000
r = ng.get(q)
json_error(r, 414, "%s: over max_query_bytes: ytcache's own 414" % L, "uriTooLong")
ok(b'"domain":"ytcache"' in r.body, "%s: ... made by ytcache, not nginx" % L)

# ytcache gone: nginx's 502, as JSON
sf.stop()
c0 = fake.calls()
r = ng.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("nerrDown1"))
json_error(r, 502, "%s: ytcache not running" % L, "backendUnavailable")
is_(r.header("retry-after"), "5", "%s: 502 carries Retry-After" % L)
ng.stop()

# ytcache too slow: nginx's 504 (the read timeout shortened to 1 s for the test)
lis = yth.Listen(tmp, conf, workers=1)
ng2 = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                            [("unix:/run/ytcache/ytcache.sock", "unix:" + lis.addr),
                             ("root /var/www/html;", "root %s;" % WWW),
                             ("fastcgi_read_timeout 30s;", "fastcgi_read_timeout 1s;")],
                            name="nginx-timeout")
fake.mode("ok", delay_ms=4000, times=1)
r = ng2.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("nerrSlow1"))
json_error(r, 504, "%s: ytcache slower than fastcgi_read_timeout" % L, "backendTimeout")
fake.mode("ok")
ng2.stop()
lis.stop()

# ------------------------------------------------------------------ fcgiwrap file
fw, ngw = ytdeploy.fcgiwrap_nginx(tmp, conf, workers=4)
L = "fcgiwrap.conf"
static_check(ngw, L)
good(ngw, L, yth.vid("nerrGood2"))
hostile(ngw, L)
fw.stop()
r = ngw.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("nerrDown2"))
json_error(r, 502, "%s: fcgiwrap not running" % L, "backendUnavailable")
ngw.stop()

yth.done_testing()
