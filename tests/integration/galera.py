#!/usr/bin/python3
"""A MariaDB Galera cluster under several web hosts (issue 17, part 3):
three Galera nodes (Debian's galera-4) and three web hosts, each a network
namespace (tests/lib/ytnetns.py), web host N pointed at node N first and
at the two others after it ([database] host list), each running the
shipped nginx/ytcache-fastcgi.conf in front of `ytcache --listen`.
What differs from one server, measured with the fake upstream's counters:
  * GET_LOCK is local to a node: single flight holds per node, so 60
    concurrent misses for one query over the three hosts make at most 3
    upstream calls (one per node), never more;
  * quota reservations conflict across nodes (certification, error 1213,
    retried): 120 concurrent distinct misses against a bucket of 30 spend
    exactly 30 units, never 31, and every other answer is a JSON 503;
  * a node killed in the middle of a load: the hosts that used it go on
    with the next node, answers are the API's bytes or JSON 503s, no worker
    dies.
Skips (TAP) without root, ip netns, or the Galera provider."""

import os
import pwd
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytnetns  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, cmp_ok, diag, reason, summary  # noqa: E402

PROVIDER = os.environ.get("YTC_GALERA_PROVIDER", "/usr/lib/galera/libgalera_smm.so")
if not os.path.exists(PROVIDER):
    yth.skip_all("no Galera provider at %s (Debian: galera-4; or set YTC_GALERA_PROVIDER)" % PROVIDER)
net = ytnetns.Net()
NODES = ["10.77.0.21", "10.77.0.22", "10.77.0.23"]
UP_ADDR, CLIENT = "10.77.0.3", "10.77.0.100"
WEB = ["10.77.0.11", "10.77.0.12", "10.77.0.13"]
ns_node = [net.host("db%d" % (i + 1), a) for i, a in enumerate(NODES)]
ns_up = net.host("upstream", UP_ADDR)
ns_web = [net.host("web%d" % (i + 1), a) for i, a in enumerate(WEB)]
net.host("client", CLIENT)
net.enter("%s-client" % net.tag)
K = yth.SERVER_KEY
WORKERS = 3
tmp = yth.make_tmpdir()


def wsrep_args(i):
    a = NODES[i]
    return ["--wsrep-on=ON", "--wsrep-provider=" + PROVIDER, "--wsrep-cluster-name=ytc",
            "--wsrep-cluster-address=gcomm://" + ("" if i == 0 else ",".join(NODES)),
            "--wsrep-node-address=" + a, "--wsrep-node-name=db%d" % (i + 1),
            "--wsrep-sst-method=rsync", "--wsrep-sst-receive-address=" + a,
            "--wsrep-provider-options=gcache.size=16M;gmcast.listen_addr=tcp://%s:4567" % a,
            "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2", "--default-storage-engine=InnoDB"]


def status(n, var):
    rows = n.sql("SHOW STATUS LIKE '%s'" % var, db=None)
    return rows[0][1] if rows else None


def synced(n, i):
    return ok(yth.wait_for(lambda: status(n, "wsrep_local_state_comment") == "Synced", 60),
              "node db%d synced" % (i + 1))


# Node 1 bootstraps the cluster; nodes 2 and 3 join it with a state
# transfer (rsync).  The joiner's rsync daemon, started as root, runs as
# nobody: their data directories are given to nobody (the servers, root,
# read them all the same).
t0 = time.monotonic()
nodes = [yth.MariaDB(tmp, name="mariadb-db%d" % (i + 1), netns=ns_node[i], bind=NODES[i], port=3306,
                     extra_args=wsrep_args(i), start=False) for i in range(3)]
nobody = pwd.getpwnam("nobody")
for n in nodes[1:]:
    for d, dirs, files in os.walk(n.datadir):
        for x in [d] + [os.path.join(d, f) for f in files]:
            os.lchown(x, nobody.pw_uid, nobody.pw_gid)
for i, n in enumerate(nodes):
    n.start(timeout=90)
    synced(n, i)
is_(status(nodes[0], "wsrep_cluster_size"), "3", "a cluster of 3 nodes (%.1f s to start)" % (time.monotonic() - t0))
nodes[0].allow_from("10.77.0.%")         # replicated to the other nodes
fake = yth.FakeUpstream(tmp, netns=ns_up, host=UP_ADDR)


def host_conf(i):
    order = [NODES[(i + k) % 3] + ":3306" for k in range(3)]
    return yth.write_config(
        os.path.join(tmp, "web%d.conf" % (i + 1)), None, fake,
        server={"log_level": "info", "db_outage": "error"},
        database={"host": ", ".join(order), "user": nodes[0].user, "password": nodes[0].password,
                  "name": nodes[0].name, "connect_timeout": 2, "retry_interval_ms": 200},
        cache={"hot_trust_ms": 1000},
        quota={"bucket.default": 30, "trusted_proxies": CLIENT})


confs = [host_conf(i) for i in range(3)]
r = yth.ytcachectl(confs[0], "migrate", tmp=tmp, netns=ns_web[0])
is_(r.returncode, 0, "ytcachectl migrate through node 1: %s" % r.stderr.decode(errors="replace")[-300:])
ok(yth.wait_for(lambda: nodes[2].count(table="schema_version") > 0, 20), "the schema replicated to node 3")
hosts = []
for i, ns in enumerate(ns_web):
    lis = yth.Listen(tmp, confs[i], workers=WORKERS, name="ytcache-web%d" % (i + 1), netns=ns)
    ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                               [("unix:/run/ytcache/ytcache.sock", "unix:" + lis.addr)],
                               name="nginx-web%d" % (i + 1), netns=ns, host=WEB[i])
    hosts.append((lis, ng))
V = "/youtube/v3/videos?part=snippet&id="


def get(h, path, client=None, timeout=40):
    return hosts[h][1].get(path, {"X-Forwarded-For": client} if client else {}, timeout=timeout)


def is_json_503(r):
    return not isinstance(r, Exception) and r.status == 503 and \
        (r.header("content-type") or "").startswith("application/json") and reason(r) is not None


# ---------------------------------------------------------------- single flight: per node
vid = yth.vid("galSINGLE1")
want = fake.body("videos?id=%s&part=snippet" % vid)
fake.reset()
fake.mode("ok", delay_ms=400)
got = yth.concurrent(lambda i: get(i % 3, V + vid, client="10.1.0.%d" % (i + 1)), 60)
calls = fake.calls()
diag("60 concurrent misses for one query over 3 hosts on 3 nodes: %d upstream calls; %s" % (calls, summary(got)))
cmp_ok(calls, "<=", 3, "at most one upstream call per node (GET_LOCK is node-local): %d" % calls)
ok(all(not isinstance(r, Exception) and r.status == 200 and r.body == want for r in got),
   "all 60 answered with the API's bytes")

# ---------------------------------------------------------------- exact quota across nodes
fake.reset()
nodes[0].sql("DELETE FROM key_usage; DELETE FROM client_limits")
conflicts0 = sum(int(status(n, "wsrep_local_cert_failures")) for n in nodes)
fake.mode("ok", delay_ms=30, key_quota={K: {"default": 30}})
THREADS, PER = 24, 5


def spender(t):
    out = []
    for j in range(PER):
        n = t * PER + j
        out.append(get(t % 3, V + yth.vid("galSPEND%03d" % n), client="10.2.%d.%d" % (n // 200, n % 200 + 1)))
    return out


res = [r for batch in yth.concurrent(spender, THREADS) for r in (batch if isinstance(batch, list) else [batch])]
got = summary(res)
conflicts = sum(int(status(n, "wsrep_local_cert_failures")) for n in nodes) - conflicts0
diag("120 distinct misses over 3 nodes: %s; certification failures: %d" % (got, conflicts))
st = fake.stats()
is_(fake.units(K, stats=st), 30, "the fake charged exactly 30 units across the nodes (not 31)")
is_(got.get("200 MISS"), 30, "30 answered")
ok(all(r.status == 200 or is_json_503(r) for r in res if not isinstance(r, Exception)) and
   not any(isinstance(r, Exception) for r in res), "every other answer a JSON 503")
is_(st["statuses"].count(403), 0, "Google never had to refuse a call (no 403)")
used = [int(n.value("SELECT COALESCE(SUM(used), 0) FROM key_usage") or 0) for n in nodes]
ok(yth.wait_for(lambda: [int(n.value("SELECT COALESCE(SUM(used), 0) FROM key_usage") or 0) for n in nodes]
                == [30, 30, 30], 10), "key_usage says 30 on every node (%s)" % used)

# ---------------------------------------------------------------- a node lost mid-load
fake.reset()
fake.mode("ok")
nodes[0].sql("DELETE FROM key_usage")
HOT = [yth.vid("galHOT%02d" % i) for i in range(6)]
for v in HOT:
    get(1, V + v, client="10.5.0.1")
expected = {v: fake.body("videos?id=%s&part=snippet" % v) for v in HOT}
stop = threading.Event()
results = []
lock = threading.Lock()
seq = [0]


def client(t):
    i = 0
    while not stop.is_set():
        i += 1
        h = (t + i) % 3
        if i % 3 == 0:
            with lock:
                seq[0] += 1
                v = yth.vid("galMIS%04d" % seq[0])
        else:
            v = HOT[i % len(HOT)]
        t1 = time.monotonic()
        try:
            r = get(h, V + v, client="10.6.%d.%d" % (t, i % 250 + 1), timeout=30)
        except Exception as e:
            r = e
        with lock:
            results.append((t1, time.monotonic() - t1, h, v, r))


workers0 = [l.worker_pids() for l, _ in hosts]
th = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(3)]
for t in th:
    t.start()
yth.wait_for(lambda: len(results) >= 30, 20)
t_kill = time.monotonic()
nodes[0].kill()
diag("node db1 killed (SIGKILL) after %d answers" % len(results))
yth.wait_for(lambda: time.monotonic() > t_kill + 4 and
             len([x for x in results if x[2] == 0 and x[0] > t_kill + 2.5]) >= 10, 30)
stop.set()
for t in th:
    t.join(40)
for x in results:
    if x[3] not in expected:
        expected[x[3]] = fake.body("videos?id=%s&part=snippet" % x[3])
bad, n503 = [], 0
for t1, el, h, v, r in results:
    if isinstance(r, Exception):
        bad.append((h, v, repr(r)))
    elif r.status == 200:
        if r.body != expected[v]:
            bad.append((h, v, "wrong bytes"))
    elif is_json_503(r):
        n503 += 1
    else:
        bad.append((h, v, r.status, r.body[:120]))
after = [x for x in results if x[0] > t_kill + 2.5 and x[2] == 0]
diag("%d answers, %d JSON 503s; slowest %.2f s" % (len(results), n503, max(x[1] for x in results)))
is_(bad, [], "every answer while node 1 went away: the API's bytes or a JSON 503")
cmp_ok(len([x for x in after if not isinstance(x[4], Exception) and x[4].status == 200]), ">=", 10,
       "web1 (node 1 first in its list) answers 200 again from node 2 after connect_timeout")
is_([l.worker_pids() for l, _ in hosts], workers0, "no worker died")
is_(status(nodes[1], "wsrep_cluster_size"), "2", "the cluster goes on with 2 nodes")

yth.done_testing()
