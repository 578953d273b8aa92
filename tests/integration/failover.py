#!/usr/bin/python3
"""[database] host as a list tried in order (issue 17, part 2): a primary
at the first address and a second server (standing in for a promoted
replica) at the next.  The first server is killed (SIGKILL) in the middle
of a load: the workers reconnect to the next address within
connect_timeout, every answer during the switch is the API's bytes or a
JSON 503, no worker dies, no request hangs; afterwards the rows and the
quota accounting are written to the second server.  An old primary that
comes back read-only (fenced) is skipped by new connections.  No
replication between the two: a real deployment needs one (see "Scaling"
in the README)."""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, like, diag  # noqa: E402

CONNECT_TIMEOUT = 2
tmp = yth.make_tmpdir()
a = yth.MariaDB(tmp, name="mariadb-a")
b = yth.MariaDB(tmp, name="mariadb-b")
fake = yth.FakeUpstream(tmp)
DBSEC = {"user": a.user, "password": a.password, "name": a.name,
         "connect_timeout": CONNECT_TIMEOUT, "retry_interval_ms": 200}
conf = yth.write_config(os.path.join(tmp, "ytcache.conf"), None, fake,
                        database=dict(DBSEC, host="127.0.0.1:%d, 127.0.0.1:%d" % (a.port, b.port)),
                        server={"db_outage": "error"})
# the second server's schema, as a promoted replica would have it
conf_b = yth.write_config(os.path.join(tmp, "ytcache-b.conf"), None, fake,
                          database=dict(DBSEC, host="127.0.0.1", port=b.port))
yth.migrate(conf)
yth.migrate(conf_b)
is_(int(a.value("SELECT COUNT(*) FROM schema_version") or 0) > 0, True, "the list's first server migrated")

lis = yth.Listen(tmp, conf, workers=3)
ng = yth.Nginx(tmp, [("/", lis)])
V = "/youtube/v3/videos?part=snippet&id="
HOT = [yth.vid("failHOT%02d" % i) for i in range(8)]
first = [ng.get(V + v) for v in HOT]
is_([(r.status, r.xcache) for r in first], [(200, "MISS")] * len(HOT), "%d misses cached" % len(HOT))
is_(a.count(), len(HOT), "%d rows on the first server" % len(HOT))
is_(b.count(), 0, "none on the second: every worker is on the first address")
workers0 = lis.worker_pids()
EXPECT = {}


def expected(v):
    if v not in EXPECT:
        EXPECT[v] = fake.body("videos?id=%s&part=snippet" % v)
    return EXPECT[v]


for v in HOT:
    expected(v)

# ---------------------------------------------------------------- the load, and the kill
stop = threading.Event()
results = []            # (t_sent, elapsed, vid, status, xcache, body, json reason)
lock = threading.Lock()
n_miss = [0]


def client(t):
    i = 0
    while not stop.is_set():
        i += 1
        if i % 3 == 0:
            with lock:
                n_miss[0] += 1
                v = yth.vid("failMIS%04d" % n_miss[0])
        else:
            v = HOT[(t + i) % len(HOT)]
        t0 = time.monotonic()
        try:
            r = ng.get(V + v, timeout=30)
            row = (t0, time.monotonic() - t0, v, r.status, r.xcache, r.body, r)
        except Exception as e:  # a hang past 30 s or a reset: reported below
            row = (t0, time.monotonic() - t0, v, None, None, repr(e), None)
        with lock:
            results.append(row)


threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(4)]
for th in threads:
    th.start()
yth.wait_for(lambda: len(results) >= 40, 20, what="40 answers before the kill")
t_kill = time.monotonic()
a.kill()
diag("first server killed (SIGKILL) after %d answers" % len(results))
# the switch: rows start to appear on the second server
switched = yth.wait_for(lambda: b.count() > 0, 10, interval=0.02, what="a row on the second server")
t_switch = time.monotonic() - t_kill
ok(switched, "after the kill, rows are written to the second server")
cmp_ok(t_switch, "<", CONNECT_TIMEOUT, "first row on the second server %.2f s after the kill (< connect_timeout %d s)"
       % (t_switch, CONNECT_TIMEOUT))
yth.wait_for(lambda: time.monotonic() > t_kill + CONNECT_TIMEOUT + 1.5
             and len([r for r in results if r[0] > t_kill + CONNECT_TIMEOUT]) >= 40, 30,
             what="40 answers after connect_timeout")
stop.set()
for th in threads:
    th.join(40)

before = [r for r in results if r[0] < t_kill]
after = [r for r in results if r[0] >= t_kill]
bad, c503, slow = [], 0, []
for r in results:
    t0, el, v, status, xc, body, resp = r
    if status == 200 and body == expected(v):
        pass
    elif status == 503 and resp is not None and (resp.header("content-type") or "").startswith("application/json") \
            and '"error"' in body.decode("utf-8", "replace"):
        c503 += 1
    else:
        bad.append(r)
    if el > CONNECT_TIMEOUT + 1.0:
        slow.append(r)
diag("%d answers before the kill, %d after; %d JSON 503s; slowest %.2f s"
     % (len(before), len(after), c503, max(r[1] for r in results)))
is_([(r[2], r[3], r[4], r[5][:200]) for r in bad], [],
    "every answer during the switch: the API's bytes (200) or a JSON 503")
is_([(r[2], round(r[1], 2)) for r in slow], [], "no request took longer than connect_timeout + 1 s")
cmp_ok(len([r for r in after if r[3] == 200 and r[0] > t_kill + CONNECT_TIMEOUT]), ">", 20,
       "after connect_timeout, answers are served again")
is_(lis.worker_pids(), workers0, "no worker died (the same %d processes)" % len(workers0))
like(yth.read_file(lis.log).decode("utf-8", "replace"),
     r"connected to 127\.0\.0\.1:%d, address 2 of 2" % b.port, "the log says the workers moved to address 2")
used_b = int(b.value("SELECT COALESCE(SUM(used), 0) FROM key_usage") or 0)
misses_after = len([r for r in after if r[4] == "MISS"])
cmp_ok(used_b, ">", 0, "quota is accounted on the second server (%d units for %d misses after the kill)"
       % (used_b, misses_after))

# ---------------------------------------------------------------- the old primary comes back fenced
a.start()
a.sql("SET GLOBAL read_only = 1")
b.sql("SET GLOBAL innodb_lock_wait_timeout = 1")     # for the new sessions below
lis.stop()
lis.start()                 # new processes, new connections: tried in order
ng.restart()
rows_a, rows_b = a.count(), b.count()
r = ng.get(V + yth.vid("failFENCE1"))
is_((r.status, r.xcache), (200, "MISS"), "with the old primary back read-only: a miss is answered")
is_((a.count(), b.count()), (rows_a, rows_b + 1), "its row goes to the second server, not the read-only first")
like(yth.read_file(lis.log).decode("utf-8", "replace"),
     r"skipped 127\.0\.0\.1:%d: the server is read-only" % a.port,
     "the skipped read-only address is named in the log")

# ---------------------------------------------------------------- a reservation that lost a race is no outage
# A reservation that loses a race on a live connection (here a lock wait
# timeout behind a session holding the usage rows; on Galera a
# certification conflict that outlived its retries) must not send the miss
# to Google without accounting, as a lost database would: that call would
# overspend what the others reserved.
holder = subprocess.Popen([b.client, "--no-defaults", "--socket=" + b.socket, "--user=root", b.name],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
holder.stdin.write(yth.prefix_sql("BEGIN; SELECT COUNT(*) FROM key_usage FOR UPDATE;\n").encode())
holder.stdin.flush()
# (a loaded machine can take seconds to start the client: poll for long)
ok(yth.wait_for(lambda: int(b.value("SELECT COUNT(*) FROM information_schema.innodb_trx", db=None) or 0) > 0, 60,
                interval=0.2, what="the holding session's transaction"),
   "a session holds the key_usage rows")
c0 = fake.calls()
r = ng.get(V + yth.vid("failLOCKED1"))
holder.stdin.write(b"ROLLBACK;\n")
holder.stdin.close()
holder.wait(20)
yth.check_error(r, 503, "databaseUnavailable", "a reservation that lost a lock wait")
is_(fake.calls(), c0, "... and no upstream call without accounting")
r = ng.get(V + yth.vid("failLOCKED1"))
is_((r.status, r.xcache), (200, "MISS"), "the same miss once the rows are free: answered")

lis.stop()
yth.done_testing()
