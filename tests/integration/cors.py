#!/usr/bin/python3
"""CORS: cors_origins lists exact origins (or *).  An allowed Origin gets
Access-Control-Allow-Origin: <origin> and Vary: Origin on cached answers
(MISS and HIT); any other origin gets no ACAO; OPTIONS is a 204 preflight."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

ALLOWED = ["http://localhost:3000", "http://127.0.0.1:4000"]
DENIED = ["http://localhost:3001", "https://localhost:3000", "http://evil.localhost:3000",
          "http://localhost:3000.evil.localhost", "null", "http://127.0.0.1:40000"]
s = yth.Stack("spawn-fcgi", workers=2,
              config={"server": {"cors_origins": ", ".join(ALLOWED)}})
fake = s.fake
PATH = "/youtube/v3/videos?part=snippet&id=" + yth.vid("corsVideo01")


def vary_has_origin(r):
    return "origin" in [v.strip().lower() for v in (r.header("vary") or "").split(",")]


# ---------------------------------------------------------------- allowed origins
r = s.get(PATH, {"Origin": ALLOWED[0]})
is_((r.status, r.xcache), (200, "MISS"), "allowed origin: MISS")
is_(r.header("access-control-allow-origin"), ALLOWED[0], "allowed origin, MISS: ACAO is the origin")
ok(vary_has_origin(r), "allowed origin, MISS: Vary: Origin")
body = r.body
for o in ALLOWED:
    r = s.get(PATH, {"Origin": o})
    is_((r.status, r.xcache), (200, "HIT"), "allowed origin %s: HIT" % o)
    is_(r.header("access-control-allow-origin"), o, "allowed origin %s, HIT: ACAO is that origin" % o)
    ok(vary_has_origin(r), "allowed origin %s, HIT: Vary: Origin" % o)
    ok(r.body == body, "allowed origin %s: same bytes" % o)
    is_(r.header("access-control-allow-credentials"), None, "allowed origin %s: no credentials" % o)
h = s.head(PATH, {"Origin": ALLOWED[1]})
is_(h.header("access-control-allow-origin"), ALLOWED[1], "HEAD from an allowed origin: ACAO")

# ---------------------------------------------------------------- other origins, no origin
for o in DENIED:
    r = s.get(PATH, {"Origin": o})
    is_(r.status, 200, "other origin %s: still answered" % o)
    is_(r.header("access-control-allow-origin"), None, "other origin %s: no ACAO" % o)
    ok(r.body == body, "other origin %s: same bytes" % o)
r = s.get(PATH)
is_(r.header("access-control-allow-origin"), None, "no Origin: no ACAO")
is_(fake.calls(), 1, "all of it: one upstream call")

# ---------------------------------------------------------------- preflight
c0 = fake.calls()
pre = {"Origin": ALLOWED[0], "Access-Control-Request-Method": "GET",
       "Access-Control-Request-Headers": "if-none-match"}
r = s.http("OPTIONS", PATH, pre)
is_(r.status, 204, "preflight from an allowed origin: 204")
is_(r.body, b"", "preflight: no body")
is_(r.header("access-control-allow-origin"), ALLOWED[0], "preflight: ACAO is the origin")
methods = [m.strip().upper() for m in (r.header("access-control-allow-methods") or "").split(",")]
ok("GET" in methods, "preflight: Access-Control-Allow-Methods includes GET (%s)"
   % r.header("access-control-allow-methods"))
ok(vary_has_origin(r), "preflight: Vary: Origin")
diag("preflight headers: %s" % {k: v for k, v in r.headers.items() if k.startswith("access-control")})
r = s.http("OPTIONS", PATH, dict(pre, Origin=DENIED[0]))
ok(r.status in (204, 403), "preflight from another origin: 204 or 403 (%s)" % r.status)
is_(r.header("access-control-allow-origin"), None, "preflight from another origin: no ACAO")
is_(fake.calls(), c0, "preflights made no upstream call")

# not required by the design, but worth knowing for browser clients
r = s.get("/youtube/v3/bogus?part=id", {"Origin": ALLOWED[0]})
diag("error answer to an allowed origin: ACAO=%r, Expose-Headers=%r" %
     (r.header("access-control-allow-origin"), r.header("access-control-expose-headers")))

# ---------------------------------------------------------------- cors_origins = *
s.reconfigure(server={"cors_origins": "*"})
for o in ("http://anything.localhost:1234", ALLOWED[0]):
    r = s.get(PATH, {"Origin": o})
    is_((r.status, r.xcache), (200, "HIT"), "cors_origins=*: %s answered" % o)
    ok(r.header("access-control-allow-origin") in ("*", o),
       "cors_origins=*: %s gets ACAO (%r)" % (o, r.header("access-control-allow-origin")))
r = s.http("OPTIONS", PATH, dict(pre, Origin="http://anything.localhost:1234"))
is_(r.status, 204, "cors_origins=*: preflight 204")
ok(r.header("access-control-allow-origin") in ("*", "http://anything.localhost:1234"),
   "cors_origins=*: preflight ACAO")

# ---------------------------------------------------------------- cors_origins empty (default)
s.reconfigure(server={})
for o in ALLOWED:
    r = s.get(PATH, {"Origin": o})
    is_(r.status, 200, "no cors_origins: %s answered" % o)
    is_(r.header("access-control-allow-origin"), None, "no cors_origins: %s gets no ACAO" % o)

yth.done_testing()
