#!/usr/bin/python3
"""libcurl is loaded only when a request goes upstream (src/ycurl.c): a CGI
process answering a cache hit never loads it and its 26 dependencies.
The binary runs as CGI directly (no web server needed to see what the
dynamic loader loads); LD_DEBUG=libs makes the loader name every library it
opens, dlopen included.  Also: the binary is not linked against libcurl, and
a libcurl that cannot be loaded costs the miss a JSON 502, not the process,
while hits go on being served."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

s = yth.Stack(launcher=None)          # MariaDB + fake upstream + config + migrate
fake = s.fake


def cgi(query, extra_env=None, ld_debug=True):
    """One CGI request to src/ytcache; (status, headers dict, body, loader log)."""
    env = dict(os.environ, YTCACHE_CONFIG=s.conf, GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="GET",
               PATH_INFO="/youtube/v3/videos", QUERY_STRING=query, REMOTE_ADDR="127.0.0.1",
               SERVER_PROTOCOL="HTTP/1.1")
    if ld_debug:
        env["LD_DEBUG"] = "libs"
    env.update(extra_env or {})
    p = subprocess.run([yth.YTCACHE], env=env, capture_output=True, timeout=60)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int((hdrs.get("status") or "0").split()[0] or 0)
    return status, hdrs, body, p.stderr.decode("utf-8", "replace"), p.returncode


def loads_curl(log):
    return "libcurl.so" in log


Q = "part=snippet&id=" + yth.vid("lazyCurl")

# linked: libcurl is not among the binary's needed libraries
ldd = shutil.which("ldd")
if ldd:
    out = subprocess.run([ldd, yth.YTCACHE], capture_output=True, text=True).stdout
    ok("libcurl" not in out and "libfcgi" in out, "src/ytcache is not linked against libcurl (ldd)")
else:
    yth.skip("ldd not installed")

# a miss loads it
c0 = fake.calls()
st, h, body, log, rc = cgi(Q)
is_((st, h.get("x-cache"), rc), (200, "MISS", 0), "miss: 200 MISS, exit 0")
is_(fake.calls() - c0, 1, "miss: one upstream call")
ok(loads_curl(log), "miss: the loader opened libcurl (LD_DEBUG=libs names it)")

# a hit does not
st, h, body2, log, rc = cgi(Q)
is_((st, h.get("x-cache"), rc), (200, "HIT", 0), "hit: 200 HIT, exit 0")
ok(body2 == body, "hit: the same bytes")
ok(not loads_curl(log), "hit: libcurl was never loaded")
ok("libmariadb" in log, "hit: LD_DEBUG did report libraries (libmariadb)")
is_(fake.calls() - c0, 1, "hit: no upstream call")

# a bad request does not either
st, h, body3, log, rc = cgi("part=snippet&id=" + yth.vid("lazyBad") + "&maxResults=999999")
is_((st // 100, rc), (4, 0), "invalid request: 4xx, exit 0")
ok(not loads_curl(log), "invalid request: libcurl was never loaded")

# a libcurl that cannot be loaded: the miss gets a JSON error, the hit is served
bogus = os.path.join(s.tmp, "bogus-lib")
os.makedirs(bogus, exist_ok=True)
with open(os.path.join(bogus, "libcurl.so.4"), "wb") as f:
    f.write(b"not a shared object\n")
c1 = fake.calls()
st, h, body4, log, rc = cgi("part=snippet&id=" + yth.vid("lazyNoCurl"), {"LD_LIBRARY_PATH": bogus}, ld_debug=False)
is_(rc, 0, "no usable libcurl: the process exits normally")
like(h.get("content-type", ""), r"^application/json", "no usable libcurl: the miss is answered in JSON")
err = ((json.loads(body4 or b"{}") if body4.startswith(b"{") else {}).get("error") or {})
is_((st, err.get("code")), (502, 502), "no usable libcurl: 502 in Google's error shape")
is_(fake.calls() - c1, 0, "no usable libcurl: no upstream call")
st, h, body5, log, rc = cgi(Q, {"LD_LIBRARY_PATH": bogus}, ld_debug=False)
is_((st, h.get("x-cache"), rc), (200, "HIT", 0), "no usable libcurl: hits are still served")
ok(b"lazyNoCurl" not in body5 and body5 == body, "no usable libcurl: the hit's bytes")

yth.done_testing()
