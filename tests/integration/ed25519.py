#!/usr/bin/python3
"""A database account that authenticates with ed25519 (MariaDB's
auth_ed25519; the client side is a plugin of MariaDB Connector/C, not built
into the library): the ordinary build (the system's client_ed25519.so) and
the self-contained one (make portable: its own client_ed25519, built in,
src/ed25519.c) both serve a MISS and then a HIT through it, over TCP; the
self-contained one also with MARIADB_PLUGIN_DIR naming an empty directory,
where the ordinary build is refused.  With a wrong password the account is
refused to both: the request is answered without the cache (X-Cache:
BYPASS)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import is_, diag  # noqa: E402

s = yth.Stack(launcher=None)
try:
    if not s.db.value("SELECT COUNT(*) FROM information_schema.plugins WHERE plugin_name = 'ed25519'", db=None) \
            == "1":
        s.db.sql("INSTALL SONAME 'auth_ed25519'", db=None)
    s.db.sql("CREATE USER 'yted'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret-1')", db=None)
    s.db.sql("GRANT ALL PRIVILEGES ON %s.* TO 'yted'@'127.0.0.1'" % s.db.name, db=None)
except yth.SQLError as e:
    yth.skip_all("the server cannot make an ed25519 account: %s" % e)
PORTABLE = yth.make_portable()

yth.plan(9)


def conf(name, password):
    return yth.write_config(os.path.join(s.tmp, name), None, s.fake, database={
        "host": getattr(s.db, "host", None) or "127.0.0.1", "port": s.db.port, "user": "yted", "password": password,
        "name": s.db.name, "connect_timeout": 2, "retry_interval_ms": 0})


good, bad = conf("ed.conf", "ed-secret-1"), conf("ed-bad.conf", "not-the-password")
empty = os.path.join(s.tmp, "no-plugins")
os.makedirs(empty)


def cgi(exe, config, query, env=None):
    e = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
         "REQUEST_METHOD": "GET", "PATH_INFO": "/youtube/v3/videos", "QUERY_STRING": query,
         "REMOTE_ADDR": "127.0.0.1", "YTCACHE_CONFIG": config}
    e.update(env or {})
    p = subprocess.run([exe], env=e, capture_output=True, timeout=60)
    with open(os.path.join(s.tmp, "logs", "ytcache-cgi.log"), "ab") as f:
        f.write(b"### " + exe.encode() + b" " + query.encode() + b"\n" + p.stderr)
    rr = yth.parse_cgi_output(p.stdout)
    return rr.status, rr.xcache


for label, exe in (("ordinary build", yth.YTCACHE), ("portable build", os.path.join(PORTABLE, "ytcache"))):
    q = "part=snippet&id=" + yth.vid("ed" + label[:4])
    is_(cgi(exe, good, q), (200, "MISS"), "%s, ed25519 account: MISS" % label)
    is_(cgi(exe, good, q), (200, "HIT"), "%s, ed25519 account: HIT" % label)
    is_(cgi(exe, bad, q), (200, "BYPASS"), "%s, wrong password: refused, answered without the cache" % label)
q = "part=snippet&id=" + yth.vid("ednoplug")
is_(cgi(yth.YTCACHE, good, q, {"MARIADB_PLUGIN_DIR": empty}), (200, "BYPASS"),
    "ordinary build without a plugin directory: the account cannot be used")
is_(cgi(os.path.join(PORTABLE, "ytcache"), good, q, {"MARIADB_PLUGIN_DIR": empty}), (200, "MISS"),
    "portable build without any plugin directory: MISS through the account (client_ed25519 built in)")
is_(s.db.count("cache_key IS NOT NULL"), 3, "the three rows stored through the ed25519 account")
yth.done_testing()
