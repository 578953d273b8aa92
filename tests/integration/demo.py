#!/usr/bin/python3
"""scripts/demo, run as a new user runs it (tests/lib/ytdeploy.py Demo):

  * it runs the shipped nginx/ytcache-fastcgi.conf: its rendered file is the
    shipped one with only paths, ports and the document root substituted;
  * what nginx refuses is JSON, a page's burst of 50 passes, the README's
    /ytcache/health and /ytcache/metrics answer, www/ytcache.mjs is
    JavaScript, the metrics file is in the state directory;
  * it supervises: under load, kill -9 of its MariaDB never gives a refused
    connection or an HTML page, only correct answers or JSON 5xx, and rows
    cached before the kill are HITs with their bytes within 2 s of MariaDB
    accepting connections again; nginx, the ytcache master and the offline
    upstream killed are restarted, one log line each;
  * SIGTERM and Ctrl-C stop it within 10 s with no process left;
  * YTCACHE_EXTRA_CONFIG is appended (later keys win), and a mistake in it
    stops the demo with FILE:LINE: message;
  * with keys it uses YTCACHE_UPSTREAM (here a fake upstream of the test's,
    whose counters show the calls), without keys the simulator.

Headless Chromium on the demo's page: without keys the widget shows the
simulator's videos and the "simulated data" notice; with keys no notice."""

import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, cmp_ok, diag  # noqa: E402

CT = "application/json; charset=UTF-8"
CH = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
SEARCH = "/youtube/v3/search?part=snippet&channelId=%s&order=date&type=video&maxResults=6" % CH
tmp = yth.make_tmpdir()
demos = []


def start(name, env=None, wait=True):
    d = ytdeploy.Demo(tmp, name, env=env, wait=wait)
    demos.append(d)
    return d


def _cleanup():
    for d in demos:
        d.kill_all()


yth.atexit.register(_cleanup)

_addr = [0]


def src_addr():
    """A loopback address per request: limit_req counts per address, and
    the load below must measure the demo, not the rate limit."""
    _addr[0] += 1
    n = _addr[0]
    return "127.1.%d.%d" % (1 + (n // 250) % 250, 1 + n % 250)


def get(d, path, src=None, headers=None, timeout=30):
    """GET through the demo's nginx: Response, or the exception (refused...)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout,
                                   source_address=(src or src_addr(), 0))
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return yth.Response(r.status, r.reason, r.getheaders(), r.read())
    except (OSError, http.client.HTTPException) as e:
        return e
    finally:
        c.close()


def is_json_error(r):
    if not isinstance(r, yth.Response) or r.header("content-type") != CT:
        return False
    try:
        e = json.loads(r.body.decode("utf-8"))["error"]
        return e["code"] == r.status and bool(e["errors"][0]["reason"])
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return False


NOTICE_RGB = (0xff, 0xe2, 0x7a)            # #simulated-notice background in www/index.html


def notice_pixels(name):
    """Pixels of the notice's colour in a screenshot of the demo's page (-1: no screenshot)."""
    path = ytdeploy.chromium_screenshot(tmp, d.origin() + "/", os.path.join(tmp, name + ".png"))
    data = yth.read_file(path)
    try:
        w, h, rows = ytdeploy.png_pixels(data)
    except ValueError as e:
        diag("%s: no screenshot (%s)" % (name, e))
        return -1
    return sum(1 for row in rows for x in range(0, len(row), 3)
               if all(abs(a - b) <= 3 for a, b in zip(row[x:x + 3], NOTICE_RGB)))


def stop_clean(d, sig, label):
    rc, took = d.stop(sig)
    cmp_ok(took, "<", 10, "%s: the demo stops within 10 s (%.1f s)" % (label, took))
    ok(rc is not None, "%s: the demo exited (status %r)" % (label, rc))
    left = []
    yth.wait_for(lambda: not d.processes(), 3)
    left = d.processes()
    is_(left, [], "%s: no process of the demo is left" % label)


# ------------------------------------------------------------------ without keys: the simulator
d = start("demo")
out = d.output()
like(out, r"SIMULATED DATA", "no keys: the banner says the data is simulated")
ok(d.child("fake_upstream.py --demo"), "no keys: the offline upstream runs in its demo mode")

# 1. the shipped file, rendered
rendered = ytdeploy.read_file(os.path.join(d.state, "nginx", "ytcache.conf")).decode("utf-8")
expected = ytdeploy.render("nginx/ytcache-fastcgi.conf", [
    ("listen 80;", "listen 127.0.0.1:%d;" % d.port),
    ("unix:/run/ytcache/ytcache.sock", "unix:%s/ytcache.sock" % d.state),
    ("root /var/www/html;", "root %s;" % ytdeploy.shipped("www")),
    (ytdeploy.MICRO_DIR, "%s/nginx/micro" % d.state)])
if rendered.rstrip("\n") != expected.rstrip("\n"):
    import difflib
    diag("".join(difflib.unified_diff(expected.splitlines(True), rendered.splitlines(True),
                                      "shipped, substituted", "the demo's"))[:3000])
ok(rendered.rstrip("\n") == expected.rstrip("\n"),
   "the demo's nginx file is nginx/ytcache-fastcgi.conf with only paths, ports and root substituted")
main_conf = ytdeploy.read_file(os.path.join(d.state, "nginx", "nginx.conf")).decode("utf-8")
ok("include ytcache.conf;" in main_conf and "location" not in main_conf and "server {" not in main_conf,
   "the demo's main nginx file only wraps the shipped one (no server or location of its own)")

# 2. answers
a = get(d, SEARCH)
b = get(d, SEARCH)
ok(isinstance(a, yth.Response) and a.status == 200 and a.header("content-type") == CT,
   "no keys: the widget's search answers 200 JSON")
ok(isinstance(b, yth.Response) and b.status == 200 and b.xcache == "HIT" and b.body == a.body,
   "no keys: asked again, a HIT with the same bytes")
r = get(d, "/youtube/v3/videos?part=snippet&id=" + "a" * 100000)
ok(is_json_error(r) and r.status == 414, "hostile: a 100 KB query string gets JSON 414 (%r)"
   % (getattr(r, "status", r),))
r = get(d, "/youtube/v3/..%2F..%2Fetc%2Fpasswd")
ok(is_json_error(r) and r.status == 400, "hostile: ..%%2F..%%2Fetc%%2Fpasswd gets JSON 400 (%r)"
   % (getattr(r, "status", r),))
one = src_addr()
got = yth.concurrent(lambda i: get(d, SEARCH, src=one), 50)
is_([getattr(x, "status", repr(x)) for x in got].count(200), 50,
    "50 requests at once from one address all pass")
r = get(d, "/ytcache/health")
ok(isinstance(r, yth.Response) and r.status == 200 and (r.json() or {}).get("status") == "ok",
   "/ytcache/health (as the README shows it) answers")
r = get(d, "/ytcache/metrics", src="127.0.0.1")
ok(isinstance(r, yth.Response) and r.status == 200 and b"ytcache_requests_total" in r.body,
   "/ytcache/metrics (the README's Prometheus metrics_path) answers")
r = get(d, "/ytcache.mjs")
ok(isinstance(r, yth.Response) and r.status == 200
   and (r.header("content-type") or "").startswith("text/javascript"),
   "www/ytcache.mjs is served as JavaScript (%r)" % (getattr(r, "header", lambda k: r)("content-type"),))
ok(os.path.exists(os.path.join(d.state, "metrics")), "the metrics file is in the demo's state directory")

# 3. Chromium on the page
dom = ytdeploy.chromium_dom(tmp, d.origin() + "/")
notice = [e for e in ytdeploy.Dom(dom).elements if e["attrs"].get("id") == "simulated-notice"]
ok(notice and "hidden" not in notice[0]["attrs"] and re.search(r"[Ss]imulated data", notice[0]["text"]),
   "Chromium: the page shows the simulated-data notice")
ok("Result 0 for" not in dom and dom.count("<img") >= 6,
   "Chromium: six videos with pictures, not placeholders")
shot_sim = notice_pixels("demo-simulated")
cmp_ok(shot_sim, ">", 20000, "screenshot without keys: the notice is visible (%d pixels)" % shot_sim)

# 4. MariaDB killed under load
WARM = ["/youtube/v3/videos?part=snippet,statistics&id=" + yth.vid("demoWarm%d" % i) for i in range(6)]
orig = {}
for p in WARM:
    r = get(d, p)
    orig[p] = r.body if isinstance(r, yth.Response) and r.status == 200 else None
ok(all(orig.values()), "load: six rows cached before the kill")
rows_before = d.sql("SELECT COUNT(*) FROM cache")
answers = []
stop_load = threading.Event()


def load(k):
    i = 0
    while not stop_load.is_set():
        p = WARM[i % len(WARM)] if i % 3 else "/youtube/v3/videos?part=id&id=" + yth.vid("demoL%d%d" % (k, i))
        answers.append((time.monotonic(), p, get(d, p, timeout=40)))
        i += 1


threads = [threading.Thread(target=load, args=(k,)) for k in range(3)]
for t in threads:
    t.start()
yth.wait_for(lambda: len(answers) > 20, 20)
dbpid = d.child("mariadbd")
ok(dbpid, "load: the demo's mariadbd is running (pid %s)" % dbpid)
t_kill = time.monotonic()
os.kill(dbpid, signal.SIGKILL)
ok(yth.wait_for(lambda: d.child("mariadbd") not in (None, dbpid), 30),
   "MariaDB: restarted by the demo")
ok(yth.wait_for(d.db_ping, 60, interval=0.05), "MariaDB: accepts connections again")
t_up = time.monotonic()
diag("MariaDB back %.1f s after the kill" % (t_up - t_kill))


def all_hits():
    for p in WARM:
        r = get(d, p)
        if not (isinstance(r, yth.Response) and r.status == 200 and r.xcache == "HIT" and r.body == orig[p]):
            return False
    return True


ok(yth.wait_for(all_hits, 10, interval=0.05), "MariaDB back: the rows cached before are HITs with their bytes")
t_hit = time.monotonic()
cmp_ok(t_hit - t_up, "<=", 2.0, "... within 2 s of MariaDB accepting connections (%.2f s)" % (t_hit - t_up))
stop_load.set()
for t in threads:
    t.join(60)
bad = []
for t_, p, r in answers:
    if isinstance(r, yth.Response) and r.status == 200 and r.header("content-type") == CT:
        if p in orig and r.body != orig[p]:
            bad.append((p, "other bytes"))
        continue
    if isinstance(r, yth.Response) and r.status >= 500 and is_json_error(r):
        continue
    bad.append((p, getattr(r, "status", repr(r)), getattr(r, "body", b"")[:80]))
during = [a_ for a_ in answers if t_kill <= a_[0] <= t_up]
diag("load: %d answers, %d of them during the outage; statuses %r" % (
    len(answers), len(during), sorted(set(getattr(r, "status", "exc") for _, _, r in answers))))
cmp_ok(len(during), ">", 10, "load: requests really ran during the outage")
is_(bad[:5], [], "load: every answer is a correct one or a JSON 5xx, never refused or HTML")
# A worker that failed to connect just before waits retry_interval_ms (1 s)
# before it tries again, answering BYPASS meanwhile: poll with new queries.
_n = [0]


def stored_miss():
    _n[0] += 1
    v = yth.vid("demoAft%d" % _n[0])
    r = get(d, "/youtube/v3/videos?part=snippet&id=" + v)
    return (isinstance(r, yth.Response) and r.status == 200 and r.xcache == "MISS"
            and d.sql("SELECT COUNT(*) FROM cache WHERE id = '%s'" % v) == "1")


ok(yth.wait_for(stored_miss, 10, interval=0.05), "MariaDB back: a new query is a MISS stored in the database")
t_miss = time.monotonic()
cmp_ok(t_miss - t_up, "<=", 2.5, "... within 2.5 s of MariaDB accepting connections (%.2f s, after %d tries)"
       % (t_miss - t_up, _n[0]))
diag("rows before the kill %s, now %s" % (rows_before, d.sql("SELECT COUNT(*) FROM cache")))
like(d.output(), r"demo: mariadb \(pid %d\) exited with status 137; restarting it in \d+ s" % dbpid,
     "the demo logs the restart")

# 5. the other children
for what, name, probe in (("nginx: master", "nginx", "/"),
                          ("src/ytcache ", "ytcache", WARM[0]),
                          ("fake_upstream.py", "upstream", None)):
    pid = d.child(what)
    if not pid:
        ok(False, "%s: running" % name)
        continue
    n0 = len(re.findall(r"demo: %s \(pid" % name, d.output()))
    os.kill(pid, signal.SIGKILL)
    ok(yth.wait_for(lambda: d.child(what) not in (None, pid), 30), "%s killed: restarted" % name)
    if probe:
        ok(yth.wait_for(lambda: getattr(get(d, probe), "status", None) == 200, 30),
           "%s killed: the demo answers again" % name)
    else:
        port = int(ytdeploy.read_file(os.path.join(d.state, "fake_upstream.port")).decode().strip() or 0)
        ok(yth.wait_for(lambda: yth.can_connect(("127.0.0.1", port)), 30),
           "%s killed: listening again on its port (%d)" % (name, port))
        # misses that failed meanwhile may have opened ytcache's breaker
        # ([quota] breaker_cooldown, 30 s): poll gently past it
        p = "/youtube/v3/videos?part=snippet&id=" + yth.vid("demoUp2")
        ok(yth.wait_for(lambda: getattr(get(d, p), "status", None) == 200, 45, interval=1.0),
           "%s killed: misses are answered again (same port)" % name)
    is_(len(re.findall(r"demo: %s \(pid" % name, d.output())) - n0, 1, "%s killed: one log line" % name)
stop_clean(d, signal.SIGTERM, "SIGTERM")

# ------------------------------------------------------------------ with keys, and an extra configuration
fake = yth.FakeUpstream(tmp, keys=("AIzaDEMO-test-key-0001",))
extra = ytdeploy.write(os.path.join(tmp, "extra.conf"),
                       "; tried by the test\n[server]\ncors_origins = https://extra.example\n"
                       "[server]\nlog_level = warn\n")
d = start("demo-keys", env={"YOUTUBE_API_KEYS": "AIzaDEMO-test-key-0001", "YTCACHE_UPSTREAM": fake.base_url,
                            "YTCACHE_EXTRA_CONFIG": extra})
ok(d.up(), "keys: the demo runs")
ok("SIMULATED" not in d.output() and not d.child("fake_upstream.py"), "keys: no simulator")
c0 = fake.calls()
r = get(d, SEARCH, headers={"Origin": "https://extra.example"})
ok(isinstance(r, yth.Response) and r.status == 200, "keys: the search answers")
is_(fake.calls() - c0, 1, "keys: from YTCACHE_UPSTREAM (one call at the test's fake)")
is_(getattr(r, "header", lambda k: None)("access-control-allow-origin"), "https://extra.example",
    "YTCACHE_EXTRA_CONFIG: its cors_origins is in force")
ylog = ytdeploy.read_file(os.path.join(d.state, "log", "ytcache.log")).decode("utf-8", "replace")
ok("info: upstream" not in ylog and "log_level = info" in
   ytdeploy.read_file(os.path.join(d.state, "ytcache.conf")).decode("utf-8"),
   "YTCACHE_EXTRA_CONFIG: later keys win (its log_level = warn after the demo's info: no info line for the miss)")
dom = ytdeploy.chromium_dom(tmp, d.origin() + "/")
notice = [e for e in ytdeploy.Dom(dom).elements if e["attrs"].get("id") == "simulated-notice"]
ok("Result 0 for" in dom, "Chromium with keys: the widget rendered the upstream's (plain fake's) videos")
ok(not notice or "hidden" in notice[0]["attrs"], "Chromium with keys: no simulated-data notice")
shot_keys = notice_pixels("demo-keys")
is_(shot_keys, 0, "screenshot with keys: no notice")
stop_clean(d, signal.SIGINT, "Ctrl-C")

# ------------------------------------------------------------------ a mistake in the extra file
bad_extra = ytdeploy.write(os.path.join(tmp, "bad.conf"), "[cache]\ndefault_ttl = 1h\n\n[server]\nno_such_key = 1\n")
d = start("demo-bad", env={"YOUTUBE_API_KEYS": "AIzaDEMO-test-key-0001", "YTCACHE_UPSTREAM": fake.base_url,
                           "YTCACHE_EXTRA_CONFIG": bad_extra}, wait=False)
ok(yth.wait_for(lambda: not d.proc.alive(), 120), "bad extra config: the demo stops")
is_(d.proc.p.returncode, 1, "bad extra config: exit status 1")
like(d.output(), r"demo: %s:5: unknown key in \[server\]" % re.escape(bad_extra),
     "bad extra config: FILE:LINE: message")
ok(yth.wait_for(lambda: not d.processes(), 10), "bad extra config: nothing left running")

yth.done_testing()
