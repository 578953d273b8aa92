#!/usr/bin/python3
"""Apache's own errors under /youtube/v3/ are JSON in Google's error shape,
through each shipped Apache file (tests/lib/ytdeploy.py Apache, as in
apache.py): apache/ytcache-fcgid.conf, apache/ytcache-proxy-fcgi.conf and
apache/htaccess-cgi.example as a site's .htaccess.

Hostile or broken requests that Apache answers itself (a 100 KB query
string, a request line too long, malformed or oversized header fields, a
client that stalls in its header, TRACE, ytcache not running, crashing,
hung or missing) must come back with their status, "Content-Type:
application/json; charset=UTF-8", "Cache-Control: no-store" and a body
{"error":{"code":STATUS,...,"errors":[{"domain":"apache","reason":...}]}}
that names no server or version.  What cannot be covered is checked only for what it is: an
encoded "../" path is refused (Apache's own 404, before any per-URL
configuration), an unknown method gets ytcache's own JSON 405, and a
.htaccess cannot reach errors made before it is read (no early-error or
TRACE checks there).  The ErrorDocuments are scoped: a 404 elsewhere keeps
Apache's HTML page.  ytcache's own answers pass through: MISS then HIT
(with ytcache's Cache-Control) and its JSON 404.

The stand-ins for a failing ytcache (a script killed by SIGSEGV, a port
that hangs up or never answers) are there because the real program cannot
be made to crash or hang on demand."""

import json
import os
import re
import shutil
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

s = yth.Stack(launcher=None)
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake
user = ytdeploy.unprivileged_user()
JSON_TYPE = "application/json; charset=UTF-8"
VIDEOS = "/youtube/v3/videos?part=snippet&id="


def private_config(path):
    shutil.copyfile(conf, path)
    os.chmod(path, 0o600)
    ytdeploy.give_to(user, path)
    return path


def install(path, src=None, text=None):
    if text is not None:
        ytdeploy.write(path, text, 0o755)
    else:
        shutil.copyfile(src or yth.YTCACHE, path)
        os.chmod(path, 0o755)
    return path


# A stand-in for a ytcache that crashes at once (the real one cannot be made
# to crash on demand): killed by SIGSEGV before it writes anything.
CRASHER = "#!/bin/sh\nkill -SEGV $$\n"


def raw(srv, data, timeout=30, finish=True):
    """Send raw request bytes, return a yth.Response (status None if no
    status line came back). Apache may answer and close before a long
    request is all sent: what it answered is still read. finish=False
    keeps the connection open for writing (a client that stalls)."""
    sk = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    out = b""
    try:
        try:
            sk.sendall(data)
            if finish:
                sk.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while True:
            try:
                b = sk.recv(65536)
            except OSError:
                break
            if not b:
                break
            out += b
    finally:
        sk.close()
    r = yth.parse_raw_response(out)
    if r.status is None:
        return r
    body = r.body
    if (dict((k.lower(), v) for k, v in r.header_list).get("transfer-encoding") or "").lower() == "chunked":
        body = dechunk(body)
    return yth.Response(r.status, r.reason, r.header_list, body)


def dechunk(b):
    out = b""
    while b:
        size, _, rest = b.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2:]
    return out


def apache_error(r, statuses, label):
    """r is one of Apache's own errors, made JSON by the shipped file:
    status (one of statuses), type, no-store, Google's shape with
    error.code == status and domain "apache", no server name or version."""
    statuses = statuses if isinstance(statuses, (tuple, list)) else (statuses,)
    good = ok(r.status in statuses, "%s: status %s (one of %s)" % (label, r.status, "/".join(map(str, statuses))))
    good &= is_(r.header("content-type"), JSON_TYPE, "%s: Content-Type" % label)
    good &= is_(r.header("cache-control"), "no-store", "%s: Cache-Control: no-store" % label)
    try:
        j = json.loads(r.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        j = None
    e = j.get("error") if isinstance(j, dict) else None
    e0 = (e.get("errors") or [None])[0] if isinstance(e, dict) and isinstance(e.get("errors"), list) else None
    good &= ok(isinstance(e, dict) and e.get("code") == r.status and isinstance(e.get("message"), str)
               and e["message"], "%s: JSON body, error.code == status" % label)
    good &= ok(isinstance(e0, dict) and e0.get("reason") and e0.get("domain") == "apache",
               "%s: errors[0] has a reason, domain apache (Apache's own error)" % label)
    good &= ok(not re.search(rb"Apache|Debian|Server at|\d+\.\d+\.\d+|<", r.body),
               "%s: no server name, version or HTML in the body" % label)
    if not good:
        diag("%s: %r %r\n%s" % (label, r, r.header_list, r.body[:600]))
    return good


def miss_then_hit(srv, label, vid, prefix=""):
    path = prefix + VIDEOS + vid
    a = srv.get(path)
    b = srv.get(path)
    is_((a.status, a.xcache), (200, "MISS"), "%s: first request MISS" % label)
    is_((b.status, b.xcache), (200, "HIT"), "%s: second request HIT" % label)
    is_(b.header("content-type"), JSON_TYPE, "%s: Content-Type of a HIT" % label)
    like_cc = b.header("cache-control") or ""
    ok(like_cc.startswith("public, max-age="), "%s: a HIT keeps ytcache's Cache-Control (%s)" % (label, like_cc))
    yth.check_error(srv.get(prefix + "/youtube/v3/bogus?part=id"), 404, "notFound",
                    "%s: ytcache's own 404 passes through" % label)


def hostile(srv, label, prefix="", early=True):
    """The requests every setup must answer with Apache's JSON. early:
    what only server-level configuration can change (errors before the
    URL is mapped, TRACE): not possible in a .htaccess."""
    m = prefix + "/youtube/v3/"
    if early:
        r = raw(srv, b"GET " + m.encode() + b"videos?part=id&id=" + b"a" * 100000 +
                b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        apache_error(r, 414, "%s: 100 KB query string" % label)
        r = raw(srv, b"GET " + m.encode() + b"x" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        apache_error(r, 414, "%s: request line too long" % label)
        r = raw(srv, b"GET " + m.encode() + b"videos?part=id HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Bad header line\r\n\r\n")
        apache_error(r, 400, "%s: malformed header field" % label)
        r = raw(srv, b"GET " + m.encode() + b"videos HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                b"b" * 10000 + b"\r\n\r\n")
        apache_error(r, 400, "%s: header field over LimitRequestFieldSize" % label)
        # the test's RequestReadTimeout header=1 (mod_reqtimeout): a client
        # that stops half way through its header fields
        r = raw(srv, b"GET " + m.encode() + b"videos HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1",
                finish=False)
        apache_error(r, 408, "%s: request header not finished in time" % label)
    # %2F in the path is refused (AllowEncodedSlashes Off) before Apache
    # maps the URL: the server's own 404 page, not JSON (see the files)
    r = srv.get(m + "..%2F..%2Fetc%2Fpasswd")
    ok(r.status in (400, 404) and b"root:" not in r.body,
       "%s: ..%%2F..%%2Fetc%%2Fpasswd refused (%s), no /etc/passwd" % (label, r.status))
    if early:
        r = srv.http("TRACE", m + "videos?part=id")
        apache_error(r, 405, "%s: TRACE" % label)
        ok(b"TRACE /" not in r.body, "%s: TRACE does not echo the request" % label)
    else:
        # answered before any .htaccess is read: only TraceEnable off helps
        yth.skip("%s: TRACE is answered before .htaccess is read" % label, 2)
    # ytcache answers other methods itself: its own JSON 405
    yth.check_error(srv.http("BREW", m + "videos?part=id"), 405, "methodNotAllowed",
                    "%s: unknown method" % label)


# The server's own request read timeout (mod_reqtimeout, on by default on
# Debian), short so that a stalled client gets its 408 at once.
SLOW = "\nRequestReadTimeout header=1 body=10\n"

# ---------------------------------------------------------------- mod_fcgid
libdir = ytdeploy.mkdir(os.path.join(tmp, "fcgid-lib"))
fcgi = install(os.path.join(libdir, "ytcache.fcgi"))
crashdir = ytdeploy.mkdir(os.path.join(tmp, "fcgid-crash"))
install(os.path.join(crashdir, "ytcache.fcgi"), text=CRASHER)
fcgid_conf = private_config(os.path.join(ytdeploy.mkdir(os.path.join(tmp, "etc")), "ytcache.conf"))
subs = [("FcgidInitialEnv YTCACHE_CONFIG /etc/ytcache/ytcache.conf", "FcgidInitialEnv YTCACHE_CONFIG " + fcgid_conf)]
body = ytdeploy.render("apache/ytcache-fcgid.conf", subs + [("/usr/local/lib/ytcache", libdir)])
ap = ytdeploy.Apache(tmp, "apache-fcgid-errors", body + SLOW, modules=["fcgid", "reqtimeout"])
s.db.sql("DELETE FROM cache")
fake.reset()
miss_then_hit(ap, "mod_fcgid", yth.vid("apErrFcgid"))
hostile(ap, "mod_fcgid")
r = ap.get("/elsewhere/missing.html")
ok(r.status == 404 and (r.header("content-type") or "").startswith("text/html"),
   "mod_fcgid: a 404 outside the mount keeps Apache's own page (%s, %s)" % (r.status, r.header("content-type")))
ap.stop()

# the same file with a ytcache.fcgi that crashes
body = ytdeploy.render("apache/ytcache-fcgid.conf", subs + [("/usr/local/lib/ytcache", crashdir)])
ap = ytdeploy.Apache(tmp, "apache-fcgid-crash", body, modules=["fcgid"])
apache_error(ap.get(VIDEOS + yth.vid("apErrCrash")), (500, 502, 503), "mod_fcgid: ytcache crashes")
ap.stop()

# ---------------------------------------------------------------- mod_proxy_fcgi
port = yth.free_port()
lis = yth.Listen(tmp, conf, workers=2, addr="127.0.0.1:%d" % port, name="ytcache-listen-errors")
body = ytdeploy.render("apache/ytcache-proxy-fcgi.conf",
                       [('"fcgi://127.0.0.1:9000/youtube/v3/"', '"fcgi://127.0.0.1:%d/youtube/v3/"' % port)])
ap = ytdeploy.Apache(tmp, "apache-proxy-fcgi-errors", body + SLOW, modules=["proxy", "proxy_fcgi", "reqtimeout"])
s.db.sql("DELETE FROM cache")
fake.reset()
miss_then_hit(ap, "mod_proxy_fcgi", yth.vid("apErrProxy"))
hostile(ap, "mod_proxy_fcgi")
lis.stop()
ok(yth.wait_for(lambda: not yth.can_connect(("127.0.0.1", port)), 10, what="ytcache to close its port"),
   "mod_proxy_fcgi: ytcache stopped")
apache_error(ap.get(VIDEOS + yth.vid("apErrDown")), 503, "mod_proxy_fcgi: ytcache not running")
ap.stop()


def backend(port, behaviour):
    """A stand-in for a ytcache that fails on its FastCGI port: "close"
    accepts and hangs up at once (a crash mid-request), "silent" never
    accepts (a hung process: the kernel completes the handshake)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    if behaviour == "close":
        def loop():
            while True:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return
                c.close()
        threading.Thread(target=loop, daemon=True).start()
    return ls


for behaviour, statuses, label in (("close", (502, 503), "ytcache crashes mid-request"),
                                   ("silent", 504, "ytcache does not answer within timeout=30")):
    bport = yth.free_port()
    ls = backend(bport, behaviour)
    body = ytdeploy.render("apache/ytcache-proxy-fcgi.conf",
                           [('"fcgi://127.0.0.1:9000/youtube/v3/"', '"fcgi://127.0.0.1:%d/youtube/v3/"' % bport)])
    ap = ytdeploy.Apache(tmp, "apache-proxy-fcgi-" + behaviour, body, modules=["proxy", "proxy_fcgi"])
    apache_error(ap.get(VIDEOS + yth.vid("apErr" + behaviour), timeout=90), statuses, "mod_proxy_fcgi: " + label)
    ap.stop()
    ls.close()

# ---------------------------------------------------------------- plain CGI + .htaccess
home = ytdeploy.mkdir(os.path.join(tmp, "home"))
site = ytdeploy.mkdir(os.path.join(home, "site"))
pub = ytdeploy.mkdir(os.path.join(site, "public_html"))
cfg = private_config(os.path.join(site, "ytcache.conf"))
install(os.path.join(pub, "ytcache.cgi"))
ytdeploy.write(os.path.join(pub, ".htaccess"), ytdeploy.render(
    "apache/htaccess-cgi.example",
    [("SetEnv YTCACHE_CONFIG /home/USER/ytcache/etc/ytcache.conf", "SetEnv YTCACHE_CONFIG " + cfg)]))
body = "\n".join([
    '<Directory "%s">' % pub,
    "    AllowOverride Options=ExecCGI FileInfo AuthConfig",
    "    Require all granted",
    "</Directory>"])
ap = ytdeploy.Apache(tmp, "apache-cgi-errors", body, modules=["cgid", "rewrite"], docroot=pub)
s.db.sql("DELETE FROM cache")
fake.reset()
miss_then_hit(ap, ".htaccess CGI", yth.vid("apErrCgi"))
hostile(ap, ".htaccess CGI", early=False)
r = ap.get("/missing.html")
ok(r.status == 404 and (r.header("content-type") or "").startswith("text/html"),
   ".htaccess CGI: a 404 elsewhere on the site keeps Apache's own page (%s, %s)"
   % (r.status, r.header("content-type")))
install(os.path.join(pub, "ytcache.cgi"), text=CRASHER)
apache_error(ap.get(VIDEOS + yth.vid("apErrCgiCrash")), 500, ".htaccess CGI: ytcache crashes")
os.unlink(os.path.join(pub, "ytcache.cgi"))
apache_error(ap.get(VIDEOS + yth.vid("apErrCgiGone")), 404, ".htaccess CGI: ytcache.cgi missing")
ap.stop()

yth.done_testing()
