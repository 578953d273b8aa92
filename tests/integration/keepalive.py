#!/usr/bin/python3
"""Persistent FastCGI connections must not starve ytcache.

nginx/ytcache-fastcgi.conf suggests `fastcgi_keep_conn on` with an
upstream{} `keepalive 8;` in front of a few workers.  nginx keeps up to 8
idle connections per nginx worker; a ytcache process that waits on an idle
kept-alive connection cannot accept a new one.  With more idle connections
than ytcache processes, requests that open a new connection wait until
fastcgi_read_timeout.  Here: 2 ytcache processes (spawn-fcgi and --listen),
nginx with keepalive 8, bursts of 4 concurrent requests: every request must
be answered promptly (here: within 3 s).  And the FastCGI protocol is kept:
a connection nginx asked to keep (FCGI_KEEP_CONN) is not closed under it,
which nginx reports as "upstream prematurely closed connection"."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import is_, diag  # noqa: E402

WORKERS, POOL, BURST, ROUNDS = 2, 8, 4, 2


class KeepaliveNginx(yth.Nginx):
    def keepalive_pool(self, launcher):
        return POOL


s = yth.Stack(launcher=None)
launchers = {"spawn-fcgi": yth.SpawnFcgi(s.tmp, s.conf, workers=WORKERS),
             "listen": yth.Listen(s.tmp, s.conf, workers=WORKERS)}
nginx = KeepaliveNginx(s.tmp, [("/%s/" % k, l, "split") for k, l in launchers.items()])

for name in launchers:
    late = []
    for rnd in range(ROUNDS):
        t0 = time.monotonic()
        res = yth.concurrent(lambda i: nginx.get("/%s/youtube/v3/videos?part=id&id=%s"
                                                 % (name, yth.vid("ka%d" % i)), timeout=3), BURST)
        bad = [r if not isinstance(r, yth.Response) else r.status for r in res
               if not isinstance(r, yth.Response) or r.status != 200]
        if bad:
            late.append("round %d: %s" % (rnd, bad))
        diag("%s round %d: %.2f s" % (name, rnd, time.monotonic() - t0))
    is_(late, [], "%s, %d processes, nginx keepalive %d: %d rounds of %d concurrent requests all answered within 3 s"
        % (name, WORKERS, POOL, ROUNDS, BURST))
    # one at a time: each request can reuse a pooled connection
    seq = [nginx.get("/%s/youtube/v3/videos?part=id&id=%s" % (name, yth.vid("ka%d" % i)), timeout=3).status
           for i in range(500)]
    is_(seq, [200] * 500, "%s: 500 sequential requests over kept-alive connections answered" % name)

# FCGI_KEEP_CONN asks the application to leave the connection open; closing
# it anyway makes nginx log an error and retry on every reuse of the pool.
errlog = yth.read_file(os.path.join(s.tmp, "logs", "nginx-error.log")).decode("utf-8", "replace")
errors = [line for line in errlog.splitlines() if "[error]" in line or "[crit]" in line]
is_(len(errors), 0, "no FastCGI errors in nginx's error log (connections closed under FCGI_KEEP_CONN?)")
for line in errors[:5]:
    diag("  " + line[:250])

yth.done_testing()
