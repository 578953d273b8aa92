#!/usr/bin/python3
"""The nginx files users copy, run as shipped: nginx/ytcache-fastcgi.conf in
front of ytcache under spawn-fcgi and under `ytcache --listen` (as that
file's comment says), and nginx/ytcache-fcgiwrap.conf in front of
fcgiwrap running the binary as CGI.  Only paths and ports are substituted
(tests/lib/ytdeploy.py render()); the system's fastcgi_params is
included.  Each does MISS then HIT; the fastcgi file also serves www/,
gzips JSON, and lets a page's burst through."""

import gzip
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

s = yth.Stack(launcher=None)          # MariaDB + fake upstream + config + migrate
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake
WWW = ytdeploy.shipped("www")


def fresh():
    db.sql("DELETE FROM cache")
    fake.reset()


def miss_then_hit(ng, label, vid):
    """MISS then HIT of one query through ng; returns the HIT response."""
    path = "/youtube/v3/videos?part=snippet,statistics&id=" + vid
    c0 = fake.calls()
    a = ng.get(path)
    b = ng.get(path)
    is_((a.status, a.xcache), (200, "MISS"), "%s: first request MISS" % label)
    is_((b.status, b.xcache), (200, "HIT"), "%s: second request HIT" % label)
    ok(a.body == b.body and len(a.body) > 100, "%s: identical bodies" % label)
    is_(fake.calls() - c0, 1, "%s: one upstream call" % label)
    ok(a.body == fake.body("videos?id=%s&part=snippet,statistics" % vid),
       "%s: the API's bytes" % label)
    is_(b.header("content-type"), "application/json; charset=UTF-8", "%s: Content-Type" % label)
    is_(b.header("etag"), '"%s"' % (a.json() or {}).get("etag"), "%s: ETag" % label)
    return b


def flood(ng, label, path, json_429=None):
    """45 requests at once from one address (a page with many widgets):
    all answered (limit_req's burst is sized for pages; the sustained
    flood and its JSON 429 are tests/integration/nginx_errors.py's)."""
    got = yth.concurrent(lambda i: ng.get(path), 45)
    statuses = [getattr(r, "status", repr(r)) for r in got]
    is_(statuses.count(200), 45, "%s: a burst of 45 from one address all answered (%r)"
        % (label, sorted(set(statuses))))


# ---------------------------------------------------------------- fastcgi.conf + spawn-fcgi
sf = yth.SpawnFcgi(tmp, conf, workers=2, config="arg")
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                            ("root /var/www/html;", "root %s;" % WWW)],
                           name="nginx-fastcgi")
diag("rendered nginx/ytcache-fastcgi.conf: %s/ytcache.conf" % ng.dir)
fresh()
hit = miss_then_hit(ng, "fastcgi.conf + spawn-fcgi", yth.vid("shippedSF01"))
n = ng.get("/youtube/v3/videos?part=snippet,statistics&id=" + yth.vid("shippedSF01"),
           {"If-None-Match": hit.header("etag") or '"x"'})
is_(n.status, 304, "fastcgi.conf + spawn-fcgi: If-None-Match -> 304")

# gzip for JSON (the file's gzip_* lines); nginx weakens the ETag
SEARCH = "/youtube/v3/search?part=snippet&channelId=UC_x5XG1OV2P6uZZ5FSM9Ttw&order=date&type=video&maxResults=6"
plain = ng.get(SEARCH)
is_((plain.status, plain.xcache), (200, "MISS"), "fastcgi.conf: search MISS")
z = ng.get(SEARCH, {"Accept-Encoding": "gzip"})
is_((z.status, z.xcache), (200, "HIT"), "fastcgi.conf: search HIT")
if len(plain.body) >= 1024:
    is_(z.header("content-encoding"), "gzip", "fastcgi.conf: JSON of %d bytes gzipped" % len(plain.body))
    ok(z.header("content-encoding") == "gzip" and gzip.decompress(z.body) == plain.body,
       "fastcgi.conf: gzipped body decompresses to the same bytes")
    like(z.header("vary") or "", r"(?i)accept-encoding", "fastcgi.conf: Vary: Accept-Encoding")
    weak = z.header("etag") or ""
    like(weak, r'^W/"', "fastcgi.conf: nginx turns the ETag weak when it compresses")
    n = ng.get(SEARCH, {"Accept-Encoding": "gzip", "If-None-Match": weak})
    is_(n.status, 304, "fastcgi.conf: the weak ETag a browser sends back still gives 304")
else:
    diag("search answer is %d bytes, under gzip_min_length: gzip not checked" % len(plain.body))

# the site next to the proxy (root): www/
r = ng.get("/")
ok(r.status == 200 and b'id="videos"' in r.body, "fastcgi.conf: root serves www/index.html")
r = ng.get("/ytcache.js")
ok(r.status == 200 and b"ytcache" in r.body, "fastcgi.conf: www/ytcache.js served")
like(r.header("content-type") or "", r"javascript", "fastcgi.conf: ytcache.js as JavaScript")
# 429 as JSON from @ytcache_429
flood(ng, "fastcgi.conf + spawn-fcgi", "/youtube/v3/videos?part=snippet,statistics&id="
      + yth.vid("shippedSF01"), json_429=True)
ng.stop()
sf.stop()

# ---------------------------------------------------------------- fastcgi.conf + ytcache --listen
lis = yth.Listen(tmp, conf, workers=4)      # --listen SOCKET --workers 4, as the file says
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [("unix:/run/ytcache/ytcache.sock", "unix:" + lis.addr),
                            ("root /var/www/html;", "root %s;" % WWW)],
                           name="nginx-fastcgi-listen")
fresh()
miss_then_hit(ng, "fastcgi.conf + ytcache --listen", yth.vid("shippedLI01"))
ng.stop()
lis.stop()

# ---------------------------------------------------------------- fcgiwrap.conf + fcgiwrap
fw, ng = ytdeploy.fcgiwrap_nginx(tmp, conf, workers=2)
fresh()
miss_then_hit(ng, "fcgiwrap.conf + fcgiwrap", yth.vid("shippedFW01"))
flood(ng, "fcgiwrap.conf + fcgiwrap", "/youtube/v3/videos?part=snippet,statistics&id="
      + yth.vid("shippedFW01"), json_429=False)
ng.stop()
fw.stop()

yth.done_testing()
