#!/usr/bin/python3
"""Hostile requests that errors.py does not send: query strings of 24+ KB
(through nginx) and 100+ KB (CGI), thousands of repeated parameters, broken percent-encoding in names
and values, path traversal in the resource (plain, %2e%2e, %2f, through
nginx's normalised $uri, the raw REQUEST_URI and a raw CGI PATH_INFO),
absurd maxResults/ttl/age values (1e99, 2^63, 2^64, NaN, ...; a ttl/age
that is a number out of range is clamped and answered, not refused), and the
methods TRACE, CONNECT, PROPFIND and made-up ones.  Each gets a JSON error
in Google's shape from ytcache (domain "ytcache"), no upstream call is made
and the cache table is unchanged.  Requests nginx refuses itself before
ytcache sees them (a request line over large_client_header_buffers, TRACE)
are checked only for not reaching ytcache."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

# max_query_bytes: big enough for thousands of repeated params, small enough
# for nginx, which sends QUERY_STRING and REQUEST_URI (each holding the
# query) in one FastCGI params record of at most 64 KiB; beyond ~32 KB it
# answers 500 "fastcgi request record is too big" itself.  (Stock nginx
# refuses request lines over 8k with its own 414 long before that.)
MAXQ = 24576
# "/"    : PATH_INFO = nginx's normalised $uri
# "/raw/": no PATH_INFO, ytcache routes on the raw REQUEST_URI
# min_ttl 600: a negative ttl= (clamped up to min_ttl) still takes the
# copies made at the start, however long the test has run by then.
s = yth.Stack("spawn-fcgi", workers=2, mounts=("/", ("/raw/", None, None)),
              config={"server": {"max_query_bytes": MAXQ}, "cache": {"min_ttl": 600}})
fake, db = s.fake, s.db
VID = yth.vid("hostileVID1")
V = "/youtube/v3/videos"

for v in ("hostileRowA", "hostileRowB", VID):
    r = s.get(V + "?part=id&id=" + yth.vid(v))
    is_((r.status, r.xcache), (200, "MISS"), "row %s cached" % yth.vid(v))
SNAP = db.sql("SELECT HEX(cache_key), SHA2(response, 256), status, expires_at FROM cache ORDER BY 1")
PIDS = s.launcher.pids()
fake.reset()


def error_of(r):
    """(reason, message) of a ytcache JSON error answer, or None."""
    if not (r.header("content-type") or "").startswith("application/json"):
        return None
    j = r.json()
    try:
        err = j["error"]
        e0 = err["errors"][0]
        if err["code"] == r.status and e0["domain"] == "ytcache" and err["message"]:
            return e0["reason"], err["message"]
    except (TypeError, KeyError, IndexError):
        pass
    return None


def refused(r, label, statuses, reasons):
    """One TAP line: r is a ytcache JSON error with one of statuses/reasons."""
    statuses = statuses if isinstance(statuses, tuple) else (statuses,)
    reasons = reasons if isinstance(reasons, tuple) else (reasons,)
    e = error_of(r)
    good = r.status in statuses and e is not None and e[0] in reasons and r.xcache is None
    if r.status == 405 and good:
        good = r.header("allow") == "GET, HEAD, OPTIONS"
    ok(good, "%s -> %s %s" % (label, "/".join(map(str, statuses)), "/".join(reasons)))
    if not good:
        diag("  got %s %s %r" % (r.status, r.headers.get("content-type"), r.body[:200]))
    return good


def cgi(method, path_info, query="", label=None):
    r, rc, err = yth.run_cgi(s.conf, method=method, path_info=path_info, query=query, tmp=s.tmp)
    if rc != 0:
        diag("CGI %s %s: exit status %d: %s" % (method, path_info, rc, err[-300:]))
    return r


# ---------------------------------------------------------------- long query strings
head = "part=snippet&q="
for n in (MAXQ + 1, 28 * 1024):
    r = s.get("/youtube/v3/search?" + head + "a" * (n - len(head)))
    refused(r, "query of %d bytes through nginx" % n, 414, "uriTooLong")
for n in (100 * 1024, 127 * 1024):      # a CGI environment string may hold up to 128 KiB
    r = cgi("GET", "/youtube/v3/search", head + "b" * (n - len(head)))
    refused(r, "query of %d bytes (CGI)" % n, 414, "uriTooLong")
# over large_client_header_buffers (64k): nginx answers itself
r = s.get("/youtube/v3/search?" + head + "c" * (100 * 1024))
is_(r.status, 414, "100 KB query through nginx: 414 (nginx's own, before ytcache)")

# ---------------------------------------------------------------- repeated parameters
rep = "&".join(["part=id"] * 2500) + "&id=" + VID
refused(s.get(V + "?" + rep), "2500 x part=id (%d bytes)" % len(rep), 400, "invalidParameter")
rep = "part=id&" + "&".join(["id=" + VID] * 1500)
refused(s.get(V + "?" + rep), "1500 x id=VID (%d bytes)" % len(rep), 400, "invalidParameter")
rep = "part=" + ",".join(["id"] * 3000) + "&id=" + VID
refused(s.get(V + "?" + rep), "part=id,id,... 3000 times in one value", 400, "invalidParameter")
rep = "&".join("x%d=1" % i for i in range(3000)) + "&part=id&id=" + VID
refused(s.get(V + "?" + rep), "3000 distinct unknown parameters", 400, ("invalidParameter", "unknownParameter"))
rep = "&".join(["=&="] * 2000) + "&part=id&id=" + VID
refused(s.get(V + "?" + rep), "2000 x '=&=' (empty names)", 400, "invalidParameter")
rep = "endpoint=videos&" + "&".join(["part=id"] * 2500) + "&id=" + VID
refused(s.get("/?" + rep), "compatibility form, 2500 x part=id", 400, "invalidParameter")
# repeats within the limits mean the same query: the cached row, nothing new
r = s.get(V + "?" + "&".join(["part=id"] * 60) + "&id=" + VID + "&id=" + VID)
is_((r.status, r.xcache), (200, "HIT"), "60 x part=id, id twice: the same cache key (HIT)")
r = s.get(V + "?" + "&" * 15000 + "part=id&id=" + VID + "&" * 5000)
is_((r.status, r.xcache), (200, "HIT"), "20,000 empty '&' separators: ignored (HIT)")

# ---------------------------------------------------------------- broken percent-encoding
for q in ("part=id&id=%zz", "pa%zzrt=id&id=VID", "part=id&id=VID%", "part=id&id=VID%4", "part=id&id=%%41",
          "part=id&id=%G0VID", "part%=id&id=VID", "%=x&part=id&id=VID", "part=id&id=VID&%",
          "part=id&id=%E2%82", "part=id&id=%2525VID", "part%00=id&id=VID", "part=id&id=VID%00",
          "part=id&id=%u0041VID", "part=id&hl=%C0%80"):
    q = q.replace("VID", VID)
    refused(s.get(V + "?" + q), "percent-encoding %s" % q, 400, ("invalidParameter", "unknownParameter"))

# ---------------------------------------------------------------- path traversal in the resource
NF = 404
for path in ("/youtube/v3/../../etc/passwd", "/youtube/v3/%2e%2e/%2e%2e/etc/passwd",
             "/youtube/v3/videos/..%2f..%2f..%2fetc%2fpasswd", "/youtube/v3/videos/..",
             "/youtube/v3/videos;/etc/passwd", "/youtube/v3/videos%3B..%2F..%2Fetc%2Fpasswd",
             "/youtube/v3/.%2e/.%2e/youtube/v3/etc", "/youtube/v3/VIDEOS", "/youtube/v3/videos.json",
             "/youtube/v3/videos%20", "/youtube/v3/%76ideos/../../etc/passwd"):
    refused(s.get(path + "?part=id&id=" + VID), "nginx $uri %s" % path, NF, "notFound")
for path in ("/raw/youtube/v3/%2e%2e/%2e%2e/etc/passwd", "/raw/youtube/v3/videos/../../../etc/passwd",
             "/raw/youtube/v3/..%2f..%2fetc%2fpasswd", "/raw/youtube/v3/videos%2f..%2fsearch",
             "/raw/youtube/v3/videos/..", "/raw/youtube/v3/videos%00"):
    r = s.get(path + "?part=id&id=" + VID)
    if r.status == 400 and "html" in (r.header("content-type") or ""):
        ok(True, "raw REQUEST_URI %s -> nginx's own 400" % path)
    else:
        refused(r, "raw REQUEST_URI %s" % path, NF, "notFound")
for path in ("/youtube/v3/../../etc/passwd", "/youtube/v3/videos/../../../../etc/passwd",
             "/youtube/v3/%2e%2e/%2e%2e/etc/passwd", "/youtube/v3/videos/..", "/youtube/v3/videos/../search",
             "/youtube/v3/videos\\..\\..\\etc\\passwd", "/youtube/v3/" + "../" * 2000 + "etc/passwd"):
    refused(cgi("GET", path, "part=id&id=" + VID), "CGI PATH_INFO %s" % path[:60], NF, "notFound")

# ---------------------------------------------------------------- absurd numbers
ABSURD = ("1e99", "18446744073709551616", "18446744073709551615", "9223372036854775808",
          "9223372036854775807", "-9223372036854775809", "-1", "NaN", "Infinity", "-0x10", "0x10",
          "1.5", "9" * 400, "")
for val in ABSURD:
    q = "part=snippet&chart=mostPopular&maxResults=" + urllib.parse.quote(val)
    refused(s.get(V + "?" + q), "maxResults=%s" % val[:24], 400, "invalidParameter")
# ttl=/age= only bound how old a copy the request accepts, so a decimal
# number out of [min_ttl, max_ttl] is clamped (VID's copy is fresh and
# younger than min_ttl: a HIT); anything else is not a number: refused.
NUMBERS = [v for v in ABSURD if v.lstrip("-").isdigit()] + ["99999999999"]
for val in [v for v in ABSURD if v not in NUMBERS] + ["+60"]:
    q = "part=id&id=%s&ttl=%s" % (VID, urllib.parse.quote(val))
    refused(s.get(V + "?" + q), "ttl=%s" % val[:24], 400, "invalidParameter")
for val in NUMBERS:
    r = s.get(V + "?part=id&id=%s&ttl=%s" % (VID, val))
    is_((r.status, r.xcache), (200, "HIT"), "ttl=%s: a number out of range, clamped: 200 HIT" % val[:24])
for val in ("1e99", "NaN"):
    q = "endpoint=videos&part=id&id=%s&age=%s" % (VID, val)
    refused(s.get("/?" + q), "compatibility form age=%s" % val, 400, "invalidParameter")
for val in ("18446744073709551616", "-1"):
    r = s.get("/?endpoint=videos&part=id&id=%s&age=%s" % (VID, val))
    is_((r.status, r.xcache), (200, "HIT"), "compatibility form age=%s: clamped, 200 HIT" % val)

# ---------------------------------------------------------------- methods
for m in ("TRACE", "CONNECT", "PUT", "DELETE", "PATCH", "PROPFIND", "MKCOL", "LOCK", "get", "Get", "",
          "GET " + VID, "X" * 5000):
    refused(cgi(m, V, "part=id&id=" + VID), "CGI method %r" % m[:20], 405, "methodNotAllowed")
for m in ("PROPFIND", "SEARCH", "PURGE", "LINK", "FOO", "M-SEARCH"):
    r = s.http(m, V + "?part=id&id=" + VID)
    refused(r, "method %s through nginx" % m, 405, "methodNotAllowed")
r = s.http("PUT", V + "?part=id&id=" + VID, body=b"x" * (512 * 1024),
           headers={"Content-Type": "application/octet-stream"})
refused(r, "PUT with a 512 KB body", (405, 413), ("methodNotAllowed", "requestTooLarge"))
for m in ("TRACE", "CONNECT"):
    out = s.nginx.raw(("%s %s?part=id&id=%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                       % (m, V, VID)).encode())
    status = out[9:12].decode("latin-1", "replace")
    ok(status in ("400", "405", "501") and b"X-Cache" not in out,
       "%s through nginx: refused (%s), not answered from the cache" % (m, status))

# ---------------------------------------------------------------- nothing reached upstream or the table
r = s.get(V + "?part=id&id=" + VID)
is_((r.status, r.xcache), (200, "HIT"), "a good request still answered (HIT)")
is_(fake.calls(), 0, "no hostile request reached upstream")
is_(db.sql("SELECT HEX(cache_key), SHA2(response, 256), status, expires_at FROM cache ORDER BY 1"), SNAP,
    "cache table unchanged (same keys, bytes, status, expiry)")
is_(db.count("NOT JSON_VALID(response)"), 0, "every row is valid JSON")
is_(s.launcher.alive_pids(), PIDS, "same workers: none crashed")

yth.done_testing()
