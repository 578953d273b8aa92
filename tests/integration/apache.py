#!/usr/bin/python3
"""Apache 2.4, every way the README promises, with the shipped files:

  * mod_fcgid: apache/ytcache-fcgid.conf (AddHandler fcgid-script,
    FcgidInitialEnv YTCACHE_CONFIG, Alias to ytcache.fcgi); Apache starts
    the ytcache processes itself.
  * mod_proxy_fcgi: apache/ytcache-proxy-fcgi.conf (ProxyPass fcgi://) to
    `ytcache --listen 127.0.0.1:PORT --workers 4`, and with the
    "unix:SOCKET|fcgi://" ProxyPass that contrib/ytcache.socket suggests.
  * plain CGI, shared hosting, as the README's walkthrough: the
    self-contained binary (make portable) as ytcache.cgi in the web
    directory with apache/htaccess-cgi.example as its .htaccess (Options
    +ExecCGI, AddHandler cgi-script, RewriteRule; its SetEnv line removed:
    the binary finds ~/ytcache.conf, outside the web root, by itself), at a
    site's document root and in a user directory (/~alice/, RewriteBase
    uncommented); ~/bin/ytcachectl migrate and ~/bin/ytcache-refresh from
    the same build run as the cron panel would (no --config, no
    environment).

Each runs in a private apache2 (tests/lib/ytdeploy.py Apache: its own
ServerRoot, pid file, logs and mutexes here, modules from the system's
module directory; started as root, its children run as www-data) and does
MISS then HIT through the real server."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

s = yth.Stack(launcher=None)          # MariaDB + fake upstream + config + migrate
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake
user = ytdeploy.unprivileged_user()   # Apache's User when we are root
diag("apache2: %s, children run as %s" % (ytdeploy.apache_binary(), user[0] if user else "this user"))


def fresh():
    db.sql("DELETE FROM cache")
    fake.reset()


def private_config(path):
    """A copy of the test configuration readable only by the user the web
    server runs ytcache as (chown www-data, chmod 600)."""
    shutil.copyfile(conf, path)
    os.chmod(path, 0o600)
    ytdeploy.give_to(user, path)
    return path


def install_binary(path, exe=None):
    shutil.copyfile(exe or yth.YTCACHE, path)
    os.chmod(path, 0o755)
    return path


def miss_then_hit(srv, label, vid, prefix=""):
    path = prefix + "/youtube/v3/videos?part=snippet&id=" + vid
    c0 = fake.calls()
    a = srv.get(path)
    b = srv.get(path)
    good = is_((a.status, a.xcache), (200, "MISS"), "%s: first request MISS" % label)
    good &= is_((b.status, b.xcache), (200, "HIT"), "%s: second request HIT" % label)
    good &= ok(a.body == b.body and len(a.body) > 100, "%s: identical bodies" % label)
    good &= is_(fake.calls() - c0, 1, "%s: one upstream call" % label)
    good &= ok(a.body == fake.body("videos?id=%s&part=snippet" % vid), "%s: the API's bytes" % label)
    good &= is_(b.header("content-type"), "application/json; charset=UTF-8", "%s: Content-Type" % label)
    is_(b.header("etag"), '"%s"' % (a.json() or {}).get("etag"), "%s: ETag" % label)
    n = srv.get(path, {"If-None-Match": b.header("etag") or '"x"'})
    is_(n.status, 304, "%s: If-None-Match -> 304" % label)
    yth.check_error(srv.get(prefix + "/youtube/v3/bogus?part=id"), 404, "notFound",
                    "%s: unknown resource" % label)
    if not good:
        diag("%s: %r %r\n%s" % (label, a, b, srv.errors()[-3000:]))
    return b


def uid_of(pid):
    for line in yth.read_file("/proc/%d/status" % pid).decode().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def procs_running(path):
    """pids whose command line starts with path."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and yth._pid_alive(int(d)):
            argv0 = yth.read_file("/proc/%s/cmdline" % d).split(b"\0")[0]
            if argv0 == path.encode():
                out.append(int(d))
    return out


# ---------------------------------------------------------------- mod_fcgid
libdir = ytdeploy.mkdir(os.path.join(tmp, "fcgid-lib"))       # /usr/local/lib/ytcache
fcgi = install_binary(os.path.join(libdir, "ytcache.fcgi"))
etc = ytdeploy.mkdir(os.path.join(tmp, "etc"))
fcgid_conf = private_config(os.path.join(etc, "ytcache.conf"))
body = ytdeploy.render("apache/ytcache-fcgid.conf",
                       [("FcgidInitialEnv YTCACHE_CONFIG /etc/ytcache/ytcache.conf",
                         "FcgidInitialEnv YTCACHE_CONFIG " + fcgid_conf),
                        ("/usr/local/lib/ytcache", libdir)])
ap = ytdeploy.Apache(tmp, "apache-fcgid", body, modules=["fcgid"])
fresh()
miss_then_hit(ap, "mod_fcgid", yth.vid("apacheFcgid"))
pids = procs_running(fcgi)
ok(len(pids) >= 1, "mod_fcgid: Apache started ytcache.fcgi itself (%d process(es))" % len(pids))
if user and pids:
    is_(sorted(set(uid_of(p) for p in pids)), [user[1]], "mod_fcgid: ytcache runs as %s" % user[0])
r = ap.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("apacheFcgid"), {"Accept-Encoding": "gzip"})
is_((r.status, r.xcache), (200, "HIT"), "mod_fcgid: HIT with Accept-Encoding: gzip")
if len(fake.body("videos?id=%s&part=snippet" % yth.vid("apacheFcgid"))) >= 1024:
    is_(r.header("content-encoding"), "gzip", "mod_fcgid: DEFLATE for application/json")
still = [p for p in pids if yth._pid_alive(p)]
ok(pids and still == pids, "mod_fcgid: the same processes serve later requests (FastCGI, not CGI)")
ap.stop()
ok(yth.wait_for(lambda: not procs_running(fcgi), 15, what="ytcache.fcgi to stop"),
   "mod_fcgid: stopping Apache stops the ytcache processes")

# ---------------------------------------------------------------- mod_proxy_fcgi
port = yth.free_port()
lis = yth.Listen(tmp, conf, workers=4, addr="127.0.0.1:%d" % port, name="ytcache-listen-tcp")
body = ytdeploy.render("apache/ytcache-proxy-fcgi.conf",
                       [('"fcgi://127.0.0.1:9000/youtube/v3/"', '"fcgi://127.0.0.1:%d/youtube/v3/"' % port)])
ap = ytdeploy.Apache(tmp, "apache-proxy-fcgi", body, modules=["proxy", "proxy_fcgi"])
fresh()
miss_then_hit(ap, "mod_proxy_fcgi", yth.vid("apacheProxy"))
r = ap.get("/youtube/v3/videos?id=%s&part=snippet" % yth.vid("apacheProxy"))
is_((r.status, r.xcache), (200, "HIT"), "mod_proxy_fcgi: parameters in another order hit the same entry")
ap.stop()
lis.stop()

# ---------------------------------------------------------------- mod_proxy_fcgi to a unix socket
# the ProxyPass form contrib/ytcache.socket suggests for Apache, on a socket
# with that unit's SocketGroup=/SocketMode= (www-data, 0660)
m = re.search(r'^#\s*(ProxyPass\s+"/youtube/v3/"\s+"unix:(\S+?)\|fcgi://[^"]+".*)$',
              ytdeploy.read_file(ytdeploy.shipped("contrib/ytcache.socket")).decode(), re.M)
if ok(m, "contrib/ytcache.socket names a ProxyPass line for its unix socket"):
    sock = os.path.join(ytdeploy.mkdir(os.path.join(tmp, "run-ytcache")), "ytcache.sock")
    lis = yth.Listen(tmp, conf, workers=2, addr=sock, name="ytcache-listen-unix")
    os.chmod(sock, 0o660)
    if user:
        os.chown(sock, 0, user[2])
    body = ytdeploy.render("apache/ytcache-proxy-fcgi.conf",
                           [('ProxyPass "/youtube/v3/" "fcgi://127.0.0.1:9000/youtube/v3/" timeout=30',
                             m.group(1).replace(m.group(2), sock))])
    ap = ytdeploy.Apache(tmp, "apache-proxy-fcgi-unix", body, modules=["proxy", "proxy_fcgi"])
    fresh()
    miss_then_hit(ap, "mod_proxy_fcgi, unix socket", yth.vid("apacheUnix1"))
    ap.stop()
    lis.stop()

# ---------------------------------------------------------------- plain CGI + .htaccess
home = ytdeploy.mkdir(os.path.join(tmp, "home"))


PORTABLE_YTCACHE = os.path.join(yth.make_portable(), "ytcache")     # the README's upload


def user_site(name, subs):
    """~name/public_html with the self-contained ytcache as ytcache.cgi and
    the shipped .htaccess without its SetEnv line (as the README's upload),
    and ~name/ytcache.conf outside the web root, which the self-contained
    build finds by itself (the parent of its directory)."""
    h = ytdeploy.mkdir(os.path.join(home, name))
    pub = ytdeploy.mkdir(os.path.join(h, "public_html"))
    private_config(os.path.join(h, "ytcache.conf"))
    install_binary(os.path.join(pub, "ytcache.cgi"), PORTABLE_YTCACHE)
    ytdeploy.write(os.path.join(pub, ".htaccess"), ytdeploy.render(
        "apache/htaccess-cgi.example",
        [("SetEnv YTCACHE_CONFIG /home/USER/ytcache/etc/ytcache.conf", "# no SetEnv: ../ytcache.conf")] + subs))
    ytdeploy.write(os.path.join(pub, "stray.conf"), "[database]\npassword = leaked\n")
    bindir = ytdeploy.mkdir(os.path.join(h, "bin"))
    for prog in ("ytcachectl", "ytcache-refresh"):
        install_binary(os.path.join(bindir, prog), os.path.join(os.path.dirname(PORTABLE_YTCACHE), prog))
    return pub


def cron_job(name, prog, *args):
    """What the README has the cron panel run: ~name/bin/PROG, no --config, no environment."""
    r = subprocess.run([os.path.join(home, name, "bin", prog)] + list(args), capture_output=True,
                       env={"PATH": "/usr/bin:/bin"}, timeout=120)
    diag("%s %s -> %d: %s" % (prog, " ".join(args), r.returncode, (r.stdout + r.stderr).decode()[-300:]))
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


site = user_site("site", [])                                         # a site's document root
rc, out = cron_job("site", "ytcachectl", "migrate")
is_(rc, 0, "~/bin/ytcachectl migrate (self-contained, no --config: ~/ytcache.conf): exit 0")
like(out, r"version", "migrate reports the schema version")
alice = user_site("alice", [("#RewriteBase /", "RewriteBase /~alice/")])   # a user directory
body = "\n".join([
    "# shared hosting: users may set CGI options, handlers and rewrites in .htaccess",
    "UserDir %s/*/public_html" % home,
    '<Directory "%s/*/public_html">' % home,
    "    AllowOverride Options=ExecCGI FileInfo AuthConfig",
    "    Require all granted",
    "</Directory>"])
ap = ytdeploy.Apache(tmp, "apache-cgi", body, modules=["cgid", "rewrite", "userdir"], docroot=site)
fresh()
miss_then_hit(ap, ".htaccess CGI at the document root", yth.vid("apacheCgiRt"))
miss_then_hit(ap, ".htaccess CGI in ~alice", yth.vid("apacheCgiAl"), prefix="/~alice")
r = ap.get("/~alice/youtube/v3/videos?part=snippet&id=" + yth.vid("apacheCgiRt"))
is_((r.status, r.xcache), (200, "HIT"), ".htaccess CGI: both sites share the cache")
r = ap.get("/ytcache.cgi/youtube/v3/videos?part=snippet&id=" + yth.vid("apacheCgiRt"))
is_((r.status, r.xcache), (200, "HIT"), ".htaccess CGI: the script's own URL works too")
r = ap.get("/stray.conf")
is_(r.status, 403, ".htaccess CGI: *.conf in the web directory is not served")
ok(b"leaked" not in r.body, ".htaccess CGI: its content is not shown")
for path in ("/ytcache.conf", "/../ytcache.conf", "/~alice/../ytcache.conf"):
    r = ap.get(path)
    ok(r.status in (400, 403, 404) and b"password" not in r.body,
       ".htaccess CGI: %s not served (%s): the configuration is outside the web root" % (path, r.status))
rc, out = cron_job("site", "ytcache-refresh")
is_(rc, 0, "~/bin/ytcache-refresh from the cron panel (self-contained, ~/ytcache.conf): exit 0")
ap.stop()

yth.done_testing()
