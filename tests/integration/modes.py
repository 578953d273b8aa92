#!/usr/bin/python3
"""The ways ytcache runs: CGI under fcgiwrap behind nginx, FastCGI under
spawn-fcgi, `ytcache --listen` on a unix socket and on TCP, and plain CGI
run directly (no web server).  Each gives MISS then HIT for the same query
with the same bytes; errors, HEAD and 304 work the same in each."""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like  # noqa: E402

s = yth.Stack(launcher=None)          # MariaDB + fake upstream + config + migrate
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake

launchers = {
    "cgi": yth.Fcgiwrap(tmp, conf, workers=2),
    "fcgi": yth.SpawnFcgi(tmp, conf, workers=2, config="env"),
    "fcgi-arg": yth.SpawnFcgi(tmp, conf, workers=1, config="arg", name="ytcache-spawn-fcgi-arg"),
    "listen": yth.Listen(tmp, conf, workers=2),
    "listen-tcp": yth.Listen(tmp, conf, workers=2, addr="127.0.0.1:%d" % yth.free_port(),
                             name="ytcache-listen-tcp"),
}
nginx = yth.Nginx(tmp, [("/%s/" % name, l, "split") for name, l in launchers.items()] +
                  [("/", launchers["fcgi"], "uri")])

VID = yth.vid("modesVideo1")
Q = "part=snippet&id=" + VID
PATH = "/youtube/v3/videos?" + Q


def fresh():
    db.sql("DELETE FROM cache")
    fake.reset()


reference = None
for name in launchers:
    fresh()
    a = nginx.get("/%s%s" % (name, PATH))
    b = nginx.get("/%s%s" % (name, PATH))
    is_((a.status, a.xcache), (200, "MISS"), "%s: first request MISS" % name)
    is_((b.status, b.xcache), (200, "HIT"), "%s: second request HIT" % name)
    ok(a.body == b.body and len(a.body) > 100, "%s: identical bodies" % name)
    if reference is None:
        reference = a.body
    ok(a.body == reference, "%s: same bytes as the other modes" % name)
    is_(fake.calls(), 1, "%s: one upstream call" % name)
    is_(b.header("content-type"), "application/json; charset=UTF-8", "%s: Content-Type" % name)
    is_(b.header("etag"), '"%s"' % (a.json() or {}).get("etag"), "%s: ETag" % name)
    like(b.header("cache-control"), r"^public, max-age=\d+$", "%s: Cache-Control" % name)
    h = nginx.http("HEAD", "/%s%s" % (name, PATH))
    is_((h.status, h.body, h.xcache), (200, b"", "HIT"), "%s: HEAD" % name)
    n = nginx.get("/%s%s" % (name, PATH), {"If-None-Match": b.header("etag") or '"x"'})
    is_(n.status, 304, "%s: If-None-Match -> 304" % name)
    yth.check_error(nginx.get("/%s/youtube/v3/bogus?part=id" % name), 404, "notFound",
                    "%s: unknown resource" % name)
    yth.check_error(nginx.http("DELETE", "/%s%s" % (name, PATH)), 405, "methodNotAllowed",
                    "%s: DELETE" % name)
    c = nginx.get("/%s/?endpoint=videos&%s" % (name, Q))
    is_((c.status, c.xcache), (200, "HIT"), "%s: compatibility form hits the same row" % name)

# ---------------------------------------------------------------- plain CGI, run directly
fresh()
r, rc, err = yth.run_cgi(conf, "GET", "/youtube/v3/videos", Q, tmp=tmp)
is_(rc, 0, "CGI direct: exit status 0")
ok(any(k.lower() == "status" for k, _ in r.header_list), "CGI direct: output has a Status: header")
is_((r.status, r.xcache), (200, "MISS"), "CGI direct: Status: 200, X-Cache MISS")
ok(r.body == reference, "CGI direct: same bytes as the FastCGI modes")
is_(r.header("content-length"), str(len(r.body)), "CGI direct: Content-Length")
like(r.header("content-type"), r"^application/json", "CGI direct: Content-Type")
r, rc, _ = yth.run_cgi(conf, "GET", "/youtube/v3/videos", Q, tmp=tmp)
is_((rc, r.status, r.xcache), (0, 200, "HIT"), "CGI direct: second run HIT")
ok(r.body == reference, "CGI direct: HIT bytes")
r, rc, _ = yth.run_cgi(conf, "HEAD", "/youtube/v3/videos", Q, tmp=tmp)
is_((rc, r.status, r.xcache), (0, 200, "HIT"), "CGI direct: HEAD")
is_(r.body, b"", "CGI direct: HEAD writes no body")
is_(r.header("content-length"), str(len(reference)), "CGI direct: HEAD has the GET Content-Length")
r, rc, _ = yth.run_cgi(conf, "GET", None, Q, tmp=tmp,
                       env={"REQUEST_URI": "/some/prefix/youtube/v3/videos?" + Q})
is_((r.status, r.xcache), (200, "HIT"), "CGI direct: no PATH_INFO, routed by REQUEST_URI")
r, rc, _ = yth.run_cgi(conf, "GET", None, "endpoint=videos&" + Q, tmp=tmp,
                       env={"REQUEST_URI": "/cgi-bin/ytcache.cgi?endpoint=videos&" + Q})
is_((r.status, r.xcache), (200, "HIT"), "CGI direct: compatibility form")
r, rc, _ = yth.run_cgi(conf, "GET", "/youtube/v3/videos", Q, tmp=tmp,
                       headers={"If-None-Match": '"%s"' % (json.loads(reference)["etag"])})
is_(r.status, 304, "CGI direct: If-None-Match -> Status: 304")
is_(r.body, b"", "CGI direct: 304 has no body")
r, rc, _ = yth.run_cgi(conf, "GET", "/youtube/v3/bogus", "part=id", tmp=tmp)
is_(rc, 0, "CGI direct: an error answer still exits 0")
yth.check_error(r, 404, "notFound", "CGI direct: unknown resource, Status: 404")
r, rc, _ = yth.run_cgi(conf, "POST", "/youtube/v3/videos", Q, stdin=b'{"a":1}', tmp=tmp,
                       env={"CONTENT_TYPE": "application/json"})
yth.check_error(r, 405, "methodNotAllowed", "CGI direct: POST, Status: 405")
is_(fake.calls(), 1, "CGI direct: one upstream call in all")

# YTCACHE_DB_* override the file (shared hosting)
conf2 = os.path.join(tmp, "ytcache-wrong-db.conf")
yth.write_config(conf2, db, fake, database={"socket": os.path.join(tmp, "no-such.sock"),
                                            "password": "wrong-password", "retry_interval_ms": 0})
r, rc, _ = yth.run_cgi(conf2, "GET", "/youtube/v3/videos", Q, tmp=tmp,
                       env={"YTCACHE_DB_SOCKET": db.socket, "YTCACHE_DB_PASSWORD": db.password})
is_((r.status, r.xcache), (200, "HIT"), "CGI direct: YTCACHE_DB_SOCKET / YTCACHE_DB_PASSWORD override the file")
r, rc, _ = yth.run_cgi(conf2, "GET", "/youtube/v3/videos", Q, tmp=tmp)
is_((r.status, r.xcache), (200, "BYPASS"), "CGI direct: and without them the file's wrong socket means BYPASS")

# a missing explicit configuration file is an error, not a silent default
r, rc, err = yth.run_cgi(os.path.join(tmp, "missing.conf"), "GET", "/youtube/v3/videos", Q, tmp=tmp)
ok(rc >= 0, "CGI direct, missing YTCACHE_CONFIG file: no crash (rc %d)" % rc)
ok(r.status != 200 or rc != 0, "CGI direct, missing YTCACHE_CONFIG file: not served (Status %s, rc %d)"
   % (r.status, rc))
if r.status:
    ok(500 <= r.status < 600 and (r.json() or {}).get("error"), "  ... answered with a 5xx JSON error")

# ---------------------------------------------------------------- stopping
lis = launchers["listen"]
master, workers = lis.proc.pid, lis.worker_pids()
is_(len(workers), 2, "--listen --workers 2: two worker processes")
lis.proc.p.send_signal(signal.SIGTERM)
gone = yth.wait_for(lambda: not any(yth._pid_alive(p) for p in [master] + workers), 10,
                    what="ytcache --listen to stop")
ok(gone, "--listen: SIGTERM to the parent stops it and its workers")
is_(lis.proc.p.wait(5), 0, "--listen: exit status 0 after SIGTERM")
for name in ("fcgi", "cgi"):
    r = nginx.get("/%s%s" % (name, PATH))
    is_((r.status, r.xcache), (200, "HIT"), "%s still serving" % name)
sf = launchers["fcgi"]
pids = sf.pids()
for p in pids:
    os.kill(p, signal.SIGTERM)
ok(yth.wait_for(lambda: not any(yth._pid_alive(p) for p in pids), 10, what="spawn-fcgi children to stop"),
   "spawn-fcgi children stop on SIGTERM")

yth.done_testing()
