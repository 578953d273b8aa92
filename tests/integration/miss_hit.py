#!/usr/bin/python3
"""MISS then HIT: headers, byte-identical bodies, the canonical cache key
(one row and one upstream call per canonical query), pageToken never
shared, TTL rules and clamping, HEAD, If-None-Match, the compatibility
form ?endpoint=..&age=N, and mounting at /, /ytcache/ and without
PATH_INFO (REQUEST_URI routing)."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like, cmp_ok, diag  # noqa: E402

REFERER = "http://localhost/ytcache-tests/page.html"
s = yth.Stack("spawn-fcgi", workers=2,
              mounts=("/", "/ytcache/", ("/raw/", None, None)),
              config={"upstream": {"referer": REFERER},
                      "ttl": {"videos": 3600, "videos.chart": 900, "search": 21600}})
V = "/youtube/v3/videos"
fake, db = s.fake, s.db


def rows_for(video_id):
    return db.count("request LIKE %s" % yth.sql_str("%" + video_id + "%"))


def row(video_id, cols="ttl"):
    r = db.sql("SELECT %s FROM cache WHERE request LIKE %s" % (cols, yth.sql_str("%" + video_id + "%")))
    return r[0] if len(r) == 1 else r


def max_age(r):
    m = re.match(r"^public, max-age=(\d+)$", r.header("cache-control") or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- MISS then HIT
A = yth.vid("missHitAAAA")
c0 = fake.calls()
r1 = s.get(V + "?part=snippet&id=" + A)
is_(r1.status, 200, "first request: 200")
is_(r1.xcache, "MISS", "first request: X-Cache MISS")
is_(fake.calls() - c0, 1, "first request: one upstream call")
r2 = s.get(V + "?part=snippet&id=" + A)
is_(r2.status, 200, "second request: 200")
is_(r2.xcache, "HIT", "second request: X-Cache HIT")
ok(r1.body == r2.body and len(r1.body) > 100, "HIT body is byte-identical to the MISS body")
is_(fake.calls() - c0, 1, "second request made no upstream call")

st = fake.stats()
sent = st["queries"][-1]
is_(yth.parse_query(sent), [("id", A), ("part", "snippet")],
    "canonical query sent upstream (params sorted by name)")
is_(st["keys"][-1], yth.SERVER_KEY, "pool mode sends the server key upstream")
is_(st["last_referer"], REFERER, "configured Referer sent upstream")

body = r1.json() or {}
for r, label in ((r1, "MISS"), (r2, "HIT")):
    is_(r.header("content-type"), "application/json; charset=UTF-8", label + ": Content-Type")
    is_(r.header("content-length"), str(len(r.body)), label + ": Content-Length matches body")
    is_(r.header("etag"), '"%s"' % body.get("etag"), label + ": ETag is the quoted body etag")
    like(r.header("age"), r"^\d+$", label + ": Age is a number of seconds")
    ma = max_age(r)
    ok(ma is not None and 0 < ma <= 3600, label + ": Cache-Control: public, max-age=N with 0 < N <= ttl")
    if ma is None:
        diag("Cache-Control: %r" % r.header("cache-control"))
cmp_ok(int(r1.header("age") or -1), "<=", 1, "MISS: Age is ~0")
is_(body.get("fakeQuery"), sent, "body is the upstream answer for the query sent")

# upstream bytes, byte for byte (ask the fake directly for the same query)
c1 = fake.calls()
direct = fake.body("videos?" + sent)
ok(direct == r1.body, "MISS body is byte-for-byte the upstream body")
ok("\U0001F3AC".encode() in r2.body and "f\u00fcr".encode() in r2.body,
   "non-ASCII (4-byte UTF-8) survives the database round trip")

# the row
is_(rows_for(A), 1, "one cache row")
is_(row(A, "status, ttl, etag"), ["200", "3600", body.get("etag")], "row: status 200, ttl 3600 ([ttl] videos), etag")
ok((row(A, "response") or [""])[0].encode("utf-8") == r1.body, "row: response column holds the exact bytes")
req = json.loads((row(A, "request") or ["{}"])[0])
is_((req.get("endpoint"), req.get("key")), ("videos", "pool"), "row: request JSON names endpoint and key identity")
ok(yth.SERVER_KEY not in json.dumps(req), "row: request JSON has no server key")
cmp_ok(int((row(A, "hits") or ["0"])[0] or 0), ">=", 1, "row: hits counted")
cmp_ok(int(db.value("SELECT ABS(TIMESTAMPDIFF(SECOND, fetched_at, UTC_TIMESTAMP())) FROM cache WHERE request LIKE %s"
                    % yth.sql_str("%" + A + "%")) or 99), "<=", 5,
       "row: fetched_at is UTC (close to UTC_TIMESTAMP())")

# Age / max-age after the copy has aged 100 s (backdate the row)
db.sql("UPDATE cache SET fetched_at = fetched_at - INTERVAL 100 SECOND, "
       "expires_at = expires_at - INTERVAL 100 SECOND WHERE request LIKE %s" % yth.sql_str("%" + A + "%"))
r = s.get(V + "?part=snippet&id=" + A)
is_(r.xcache, "HIT", "aged copy: still HIT")
age = int(r.header("age") or -1)
ok(100 <= age <= 110, "aged copy: Age ~100 (got %s)" % r.header("age"))
ma = max_age(r)
remaining = int(db.value("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at) FROM cache WHERE request LIKE %s"
                         % yth.sql_str("%" + A + "%")))
ok(ma is not None and ma - age <= remaining + 2,
   "aged copy: a downstream cache would not keep it fresh longer than ytcache (max-age %s - Age %s <= %s)"
   % (ma, age, remaining))

# ---------------------------------------------------------------- HEAD
c1 = fake.calls()
h = s.head(V + "?part=snippet&id=" + A)
is_(h.status, 200, "HEAD: 200")
is_(h.body, b"", "HEAD: no body")
is_(h.xcache, "HIT", "HEAD: X-Cache HIT")
is_(h.header("etag"), r1.header("etag"), "HEAD: same ETag")
is_(h.header("content-length"), str(len(r1.body)), "HEAD: Content-Length of the GET body")
is_(fake.calls(), c1, "HEAD of a cached query: no upstream call")

# ---------------------------------------------------------------- If-None-Match
etag = r1.header("etag") or '"none"'
r = s.get(V + "?part=snippet&id=" + A, {"If-None-Match": etag})
is_(r.status, 304, "If-None-Match with the ETag: 304")
is_(r.body, b"", "304: no body")
is_(r.header("etag"), etag, "304: carries the ETag")
r = s.get(V + "?part=snippet&id=" + A, {"If-None-Match": "W/" + etag})
is_(r.status, 304, "If-None-Match with the weak form W/\"..\" (nginx gzip makes it): 304")
r = s.get(V + "?part=snippet&id=" + A, {"If-None-Match": '"xyz", ' + etag})
is_(r.status, 304, "If-None-Match list containing the ETag: 304")
r = s.get(V + "?part=snippet&id=" + A, {"If-None-Match": '"not-the-etag"'})
is_(r.status, 200, "non-matching If-None-Match: 200")
ok(r.body == r1.body, "non-matching If-None-Match: full body")
is_(fake.calls(), c1, "conditional requests made no upstream call")

# ---------------------------------------------------------------- one row per canonical query
B1, B2 = yth.vid("canonB1xxxx"), yth.vid("canonB2xxxx")
spellings = [
    "part=id,snippet&id=%s,%s" % (B1, B2),
    "id=%s,%s&part=snippet,id" % (B1, B2),                       # order of params and of part items
    "part=snippet,%%20id&id=%s,%%20%s" % (B1, B2),               # part=snippet, id
    "part=snippet,id,snippet&id=%s,%s,%s" % (B1, B2, B1),        # duplicates inside lists
    "part=id&part=snippet&id=%s&id=%s&id=%s" % (B1, B2, B1),     # repeated params
    "part=id%%2Csnippet&id=%s%%2C%s" % (B1, B2),                 # encoded commas
    "part=id,snippet&id=%s,%s&key=AIzaSyCLIENT-key-zzzz&callback=cb&prettyPrint=false"
    "&quotaUser=u1&alt=json" % (B1, B2),                         # dropped params
    "ttl=600&id=%s,%s&part=id,snippet" % (B1, B2),               # ttl is not part of the key
]
c1 = fake.calls()
first = None
for i, sp in enumerate(spellings):
    r = s.get(V + "?" + sp)
    is_((r.status, r.xcache), (200, "MISS" if i == 0 else "HIT"), "spelling %d %s: %s" %
        (i, "MISS" if i == 0 else "HIT", sp[:70]))
    if first is None:
        first = r.body
    elif r.body != first:
        ok(False, "spelling %d: same body" % i)
is_(fake.calls() - c1, 1, "%d spellings: one upstream call" % len(spellings))
is_(rows_for(B1), 1, "%d spellings: one cache row" % len(spellings))
is_(yth.parse_query(fake.stats()["queries"][-1]),
    [("id", "%s,%s" % (B1, B2)), ("part", "id,snippet")],
    "lists sent upstream split, trimmed, de-duplicated; part sorted, ids in the order asked")

# ---------------------------------------------------------------- pageToken never shared
P = V + "?part=snippet&chart=mostPopular&regionCode=DE&maxResults=5"
c1 = fake.calls()
bodies = []
for tok in (None, "CAUQAA", "CAoQAA", "caUQAA", "CAUQAQ"):
    r = s.get(P + ("&pageToken=" + tok if tok else ""))
    is_((r.status, r.xcache), (200, "MISS"), "pageToken=%s: its own MISS" % tok)
    bodies.append(r.body)
is_(fake.calls() - c1, 5, "5 pageToken variants: 5 upstream calls")
is_(len(set(bodies)), 5, "5 pageToken variants: 5 different bodies")
is_(db.count("endpoint = 'videos' AND region_code = 'DE'"), 5, "5 pageToken variants: 5 rows")
r = s.get(P + "&pageToken=CAoQAA")
is_(r.xcache, "HIT", "pageToken variant: HIT on repeat")
ok(r.body == bodies[2], "pageToken variant: HIT returns that page")
is_(db.value("SELECT DISTINCT ttl FROM cache WHERE region_code = 'DE'"), "900",
    "chart=mostPopular rows use the videos.chart TTL rule (900)")

# ---------------------------------------------------------------- ttl= from the client: its request's max age
# The row keeps the configured TTL (3600); the client's value, clamped to
# [min_ttl, max_ttl], bounds only the max-age it is told (tests/integration/ttlreq.py
# plays the clients that abuse it).
for tag, asked, want in (("ttlLow", 5, 60), ("ttlMid", 300, 300), ("ttlHigh", 99999999, 3600)):
    v = yth.vid(tag + "xxxxxxx")
    r = s.get(V + "?part=id&id=%s&ttl=%d" % (v, asked))
    is_(r.status, 200, "ttl=%d: 200" % asked)
    is_((row(v) or ["?"])[0], "3600", "ttl=%d: the row is stored with the configured TTL (3600)" % asked)
    is_(max_age(r), want, "ttl=%d: max-age %d (the smaller of the clamped value and the row's TTL)" % (asked, want))
r = s.get("/youtube/v3/search?part=snippet&q=cats")
is_((r.status, r.xcache), (200, "MISS"), "search: MISS")
is_(db.value("SELECT ttl FROM cache WHERE endpoint = 'search'"), "21600", "search row uses [ttl] search")

# ---------------------------------------------------------------- body sizes
for size in (1000, 10000, 100000):
    v = yth.vid("size%dxxxxxx" % size)
    fake.mode("ok", pad_bytes=size)
    a = s.get(V + "?part=id&id=" + v)
    fake.mode("ok")
    b = s.get(V + "?part=id&id=" + v)
    is_((a.status, a.xcache, b.xcache), (200, "MISS", "HIT"), "%d-byte body: MISS then HIT" % size)
    is_(len(a.body), size, "%d-byte body: full length on MISS" % size)
    ok(a.body == b.body, "%d-byte body: HIT byte-identical" % size)

# ---------------------------------------------------------------- compatibility form
C = yth.vid("compatCxxxx")
c1 = fake.calls()
r = s.get("/?endpoint=videos&part=snippet&id=%s&age=120" % C)
is_((r.status, r.xcache), (200, "MISS"), "compat form ?endpoint=videos&age=120: MISS")
is_((row(C) or ["?"])[0], "3600", "compat form: age=120 is the request's max age, not the row's ttl (3600)")
cmp_ok(max_age(r) or 0, "<=", 120, "compat form: max-age <= 120")
r2 = s.get(V + "?part=snippet&id=" + C)
is_((r2.status, r2.xcache), (200, "HIT"), "path form of the same query: HIT on the compat row")
ok(r.body == r2.body, "compat and path form: same bytes")
r3 = s.get("/ytcache/?endpoint=videos&id=%s&part=snippet" % C)
is_((r3.status, r3.xcache), (200, "HIT"), "compat form under /ytcache/: HIT")
is_(fake.calls() - c1, 1, "compat + path forms: one upstream call")
is_(rows_for(C), 1, "compat + path forms: one row")
is_(yth.parse_query(fake.stats()["queries"][-1]), [("id", C), ("part", "snippet")],
    "compat form: endpoint and age not sent upstream")

# ---------------------------------------------------------------- mounts
c1 = fake.calls()
for prefix in ("/ytcache", "/raw"):
    r = s.get(prefix + V + "?part=snippet&id=" + A)
    is_((r.status, r.xcache), (200, "HIT"), "mounted at %s/: HIT on the row made at /" % prefix)
    ok(r.body == r1.body, "mounted at %s/: same bytes" % prefix)
D = yth.vid("mountDxxxxx")
r = s.get("/ytcache" + V + "?part=snippet&id=" + D)
is_((r.status, r.xcache), (200, "MISS"), "mounted at /ytcache/: MISS on a new query")
r = s.get(V + "?part=snippet&id=" + D)
is_((r.status, r.xcache), (200, "HIT"), "and HIT at /")
is_(fake.calls() - c1, 1, "mounts: one upstream call")
r = s.get("/ytcache/nothing/here?part=snippet&id=" + D)
yth.check_error(r, 404, "notFound", "a path without youtube/v3/<resource> under /ytcache/")

yth.done_testing()
