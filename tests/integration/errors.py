#!/usr/bin/python3
"""Requests ytcache refuses itself: each answered with JSON in Google's error
shape (domain "ytcache"), none reaching upstream or changing the database.
Cases are data: tests/data/requests/errors.json and injection.json."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, isnt, diag  # noqa: E402

s = yth.Stack("spawn-fcgi", workers=2, mounts=("/", "/ytcache/"))
fake, db = s.fake, s.db
VID = yth.vid("errorsVID01")

# a few good rows first, so that "unchanged" means something
for v in ("errorsRowA", "errorsRowB", "errorsRowC"):
    s.get("/youtube/v3/videos?part=id&id=" + yth.vid(v))
ROWS = s.rows()
is_(ROWS, 3, "three rows cached before the hostile requests")
SCHEMA_VERSION = db.value("SELECT MAX(version) FROM schema_version")
TABLES = db.sql("SHOW TABLES")
yth.cmp_ok(int(SCHEMA_VERSION or 0), ">=", 2, "schema version %s (2: quota economy)" % SCHEMA_VERSION)
fake.reset()


def enc(v):
    return urllib.parse.quote(v, safe="")


# ---------------------------------------------------------------- fixed cases
for case in yth.load_data("requests/errors.json")["cases"]:
    method, path, status, reason = case[:4]
    location = case[4] if len(case) > 4 else None
    names = case[5] if len(case) > 5 else None
    path = path.replace("VID", VID)
    r = s.http(method, path)
    label = "%s %s" % (method, path[:80])
    if method == "HEAD":
        is_(r.status, status, label + ": status %d" % status)
        is_(r.body, b"", label + ": no body")
        continue
    e = yth.check_error(r, status, reason, label, location=location)
    if names and e:
        ok(names in (e.get("message") or ""), label + ": message names %r" % names)
    if status == 405:
        is_(r.header("allow"), "GET, HEAD, OPTIONS", label + ": Allow: GET, HEAD, OPTIONS")
    ok("x-cache" not in r.headers or r.xcache != "HIT", label + ": not a cache hit")

# same under another mount
r = s.get("/ytcache/youtube/v3/bogus?part=snippet")
yth.check_error(r, 404, "notFound", "unknown resource under /ytcache/")
r = s.http("POST", "/ytcache/youtube/v3/videos?part=snippet&id=" + VID, body=b'{"x": 1}',
           headers={"Content-Type": "application/json"})
yth.check_error(r, 405, "methodNotAllowed", "POST with a body under /ytcache/")

# ---------------------------------------------------------------- long query strings
base = "/youtube/v3/search?"
head = "part=snippet&q="
for n in (8193, 20000):
    r = s.get(base + head + "a" * (n - len(head)))
    yth.check_error(r, 414, "uriTooLong", "query of %d bytes" % n)

# ---------------------------------------------------------------- hostile values in every parameter
inj = yth.load_data("requests/injection.json")
count = 0
bad = []
for b in inj["bases"]:
    params = {k: v.replace("VID", VID) for k, v in b["params"].items()}
    targets = [(p, inj["values"]) for p in b["inject"]] + \
              [(p, inj["control_values"]) for p in b.get("free_text", [])]
    for name, values in targets:
        for val in values:
            qp = dict(params)
            qp[name] = val
            query = "&".join("%s=%s" % (enc(k), enc(v)) for k, v in qp.items())
            r = s.get("/youtube/v3/%s?%s" % (b["resource"], query))
            count += 1
            j = r.json() or {}
            e0 = ((j.get("error") or {}).get("errors") or [{}])[0]
            good = (r.status == 400 and (r.header("content-type") or "").startswith("application/json")
                    and e0.get("domain") == "ytcache"
                    and "x-injected" not in r.headers)
            if not good:
                bad.append("%s %s=%r -> %s %r" % (b["resource"], name, val, r.status, r.body[:150]))
ok(not bad, "%d hostile parameter values: all 400 JSON from ytcache, no injected header" % count)
for line in bad[:25]:
    diag("  " + line)
if len(bad) > 25:
    diag("  ... and %d more" % (len(bad) - 25))

# the same, read off the wire: no header line may have been injected
for val in ("a\r\nX-Injected: yes", "\r\n\r\nX-Injected: yes"):
    raw = ("GET /youtube/v3/videos?part=snippet&id=%s&hl=%s HTTP/1.1\r\nHost: localhost\r\n"
           "Origin: http://localhost\r\nConnection: close\r\n\r\n" % (VID, enc(val))).encode()
    out = s.nginx.raw(raw)
    hdr = out.split(b"\r\n\r\n", 1)[0]
    ok(out.startswith(b"HTTP/1.1 400") and b"\nX-Injected" not in hdr,
       "raw request with hl=%r: 400, no injected header line" % val)

# hostile parameter names
for name in ("x' OR 1=1 --", "part\r\nX-Injected: yes", "id\x00", "\\"):
    r = s.get("/youtube/v3/videos?part=snippet&id=%s&%s=1" % (VID, enc(name)))
    ok(r.status == 400 and (r.json() or {}).get("error"), "hostile parameter name %r: 400 JSON" % name)

# ---------------------------------------------------------------- nothing reached upstream or the table
is_(fake.calls(), 0, "no refused request reached upstream")
is_(db.sql("SHOW TABLES LIKE '%s'" % yth.table("cache")), [[yth.table("cache")]], "table cache still exists")
is_(s.rows(), ROWS, "cache row count unchanged")
is_(db.value("SELECT MAX(version) FROM schema_version"), SCHEMA_VERSION, "schema_version intact")
is_(db.sql("SHOW TABLES"), TABLES, "every table still exists (api_keys, key_usage, ... too)")

# ---------------------------------------------------------------- free text is data, not SQL
c0 = fake.calls()
for text in ("' OR 1=1 --", "\"; DROP TABLE cache; --", "back\\slash \\' quote",
             "\u00dcn\u00efc\u00f6d\u00e9 \"x\" \U0001F3AC"):
    path = "/youtube/v3/search?part=snippet&q=" + enc(text)
    r = s.get(path)
    is_((r.status, r.xcache), (200, "MISS"), "search q=%r: answered (MISS)" % text)
    sent = dict(yth.parse_query(fake.stats()["queries"][-1]))
    is_(sent.get("q"), text, "search q=%r: sent upstream unchanged" % text)
    r2 = s.get(path)
    is_((r2.status, r2.xcache), (200, "HIT"), "search q=%r: HIT on repeat" % text)
    ok(r2.body == r.body, "search q=%r: same bytes" % text)
is_(fake.calls() - c0, 4, "free-text searches: one upstream call each")
is_(s.rows(), ROWS + 4, "free-text searches: one row each")
is_(db.sql("SHOW TABLES LIKE '%s'" % yth.table("cache")), [[yth.table("cache")]], "table cache still exists")

# ---------------------------------------------------------------- the limit itself is not an error
r = s.get(base + head + "b" * (8192 - len(head)))
isnt(r.status, 414, "query of exactly max_query_bytes (8192) is accepted")

yth.done_testing()
