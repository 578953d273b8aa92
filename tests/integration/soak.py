#!/usr/bin/python3
"""Soak: one FastCGI worker (spawn-fcgi -F 1) serves 100,000 mixed requests
through nginx -- mostly HITs over 200 cached queries, some MISSes, 4xx
errors, 304s, HEADs and OPTIONS preflights -- and every answer is checked
(status, X-Cache, bytes).

Memory: without sanitizers the worker's VmRSS may grow by at most 1 MiB
between the end of a 10,000-request warm-up and the end.  Under ASan RSS
means nothing (quarantine), so the worker is stopped with SIGTERM instead
and must exit 0 with LeakSanitizer having run (LSAN_OPTIONS=log_threads=1
makes it say so) and reported nothing.  Without sanitizers, when valgrind is
installed, a second worker runs under valgrind --leak-check=full for a
shorter load: no invalid access, no definite leak.

The load goes through wrk (a Lua script generated here checks every answer)
when it is installed, with one Python thread adding the HEAD requests wrk
cannot parse; without wrk, Python threads send the whole mix.  The run is
bounded by time as well as by count (YTC_SOAK_REQUESTS, default 100000), so
that it ends within YTC_TEST_TIMEOUT on a slow or busy machine; the count
reached is reported.  YTC_WRK names the wrk program (YTC_WRK=none: Python
threads only)."""

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

T0 = time.monotonic()
LIMIT = float(os.environ.get("YTC_TEST_TIMEOUT", "120"))
TARGET = int(os.environ.get("YTC_SOAK_REQUESTS", "100000"))
WARMUP = min(10000, TARGET // 4)
RSS_GROWTH_KB = 1024
VG_REQUESTS = 2000


def asan_build(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


ASAN = asan_build(yth.YTCACHE)
WRK = shutil.which(os.environ.get("YTC_WRK") or "wrk")
VALGRIND = shutil.which("valgrind") if not ASAN else None
diag("ytcache %s; load by %s; valgrind %s" % (
    "built with ASan" if ASAN else "without sanitizers", "wrk + Python (HEAD)" if WRK else "Python threads",
    VALGRIND or ("not with ASan" if ASAN else "not installed")))

launcher_env = {}
if ASAN:
    # log_threads: LeakSanitizer names each thread it scans, i.e. it did run
    launcher_env["LSAN_OPTIONS"] = ":".join(x for x in (os.environ.get("LSAN_OPTIONS"), "log_threads=1") if x)
# the shipped hot-row settings (the harness asks the database on every hit):
# the worker's memory of hot rows is part of what is soaked
s = yth.Stack("spawn-fcgi", workers=1, launcher_kw={"env": launcher_env},
              config={"server": {"log_level": "warn"}, "cache": {"hot_trust_ms": None}})
fake, db = s.fake, s.db
ACCESS_LOG = os.path.join(s.tmp, "logs", "nginx-access.log")
pid = s.launcher.pids()[0]


# ---------------------------------------------------------------- the cached queries
def query(i):
    k = i % 10
    if k < 5:
        return "/youtube/v3/videos?part=id&id=" + yth.vid("soak%04dxxx" % i)
    if k < 8:
        return "/youtube/v3/videos?part=snippet,statistics&id=" + yth.vid("soak%04dyyy" % i)
    if k == 8:
        return "/youtube/v3/channels?part=snippet&id=UC" + ("soakChannel%04d" % i).ljust(22, "x")
    return "/youtube/v3/playlistItems?part=snippet&maxResults=5&playlistId=PLsoak%04dabcdefgh" % i


PATHS = [query(i) for i in range(200)]
BODIES, ETAGS = [], []
for p in PATHS:
    r = s.get(p)
    BODIES.append(r.body)
    ETAGS.append(r.header("etag") or "")
bad = [p for p, b, e in zip(PATHS, BODIES, ETAGS) if not b or not e]
is_(bad, [], "%d queries cached, each with a body and an ETag" % len(PATHS))
r = s.get(PATHS[0])
is_((r.status, r.xcache, r.body == BODIES[0]), (200, "HIT", True), "and served as HITs")
diag("priming: %.1f s" % (time.monotonic() - T0))

VID = yth.vid("soakErrVID1")
LONG_Q = "/youtube/v3/search?part=snippet&q=" + "a" * 9000
# the mix, per 100 requests (the wrk script adds none; the Python thread
# beside it sends HEADs, which wrk cannot parse, and some HITs and 304s)
SPECS = {
    "hit": 86, "inm": 4, "options": 2, "miss": 1, "e400": 2, "e404": 2, "e405": 2, "e414": 1,
}
# kind: (method, path, status, reason in the JSON error)
ERRORS = {"e400": ("GET", "/youtube/v3/videos?part=snippet,bogus&id=" + VID, 400, "invalidParameter"),
          "e404": ("GET", "/youtube/v3/bogus?part=id&id=" + VID, 404, "notFound"),
          "e405": ("PUT", "/youtube/v3/videos?part=id&id=" + VID, 405, "methodNotAllowed"),
          "e414": ("GET", LONG_Q, 414, "uriTooLong")}


def cycle(spec):
    """A list of 100 kinds, spread out (not in runs)."""
    out = []
    left = dict(spec)
    while any(left.values()):
        for k in spec:
            if left[k]:
                out.append(k)
                left[k] -= 1
    return out


KINDS = cycle(SPECS)


def index(n, tid):
    return (n * 7 + tid * 31) % len(PATHS)


def miss_id(tag, tid, n):
    return "%s%02d%08d" % (tag, tid % 100, n % 100000000)


def py_request(kind, n, tid, tag):
    """(method, path, headers, check(status, xcache, body) -> bool)."""
    i = index(n, tid)
    if kind == "hit":
        return "GET", PATHS[i], {}, lambda st, xc, b: st == 200 and xc == "HIT" and b == BODIES[i]
    if kind == "head":
        return "HEAD", PATHS[i], {}, lambda st, xc, b: st == 200 and xc == "HIT" and b == b""
    if kind == "inm":
        return "GET", PATHS[i], {"If-None-Match": ETAGS[i]}, lambda st, xc, b: st == 304 and b == b""
    if kind == "options":
        return "OPTIONS", PATHS[i], {}, lambda st, xc, b: st == 204 and b == b""
    if kind == "miss":
        v = miss_id(tag, tid, n)
        return ("GET", "/youtube/v3/videos?part=id&id=" + v, {},
                lambda st, xc, b: st == 200 and xc == "MISS" and v.encode() in b)
    method, path, status, reason = ERRORS[kind]
    want = ('"reason":"%s"' % reason).encode()
    return method, path, {}, lambda st, xc, b: st == status and want in b


class PyClient(threading.Thread):
    """One kept-alive connection, kinds in turn, until stop is set or
    limit requests are sent."""

    def __init__(self, port, kinds, tid, tag, stop, limit=None):
        super().__init__(daemon=True)
        self.port, self.kinds, self.tid, self.tag, self.stop_ev, self.limit = port, kinds, tid, tag, stop, limit
        self.counts = {}
        self.bad = []
        self.start()

    def run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        n = 0
        while not self.stop_ev.is_set() and (self.limit is None or n < self.limit):
            n += 1
            kind = self.kinds[n % len(self.kinds)]
            method, path, headers, check = py_request(kind, n, self.tid, self.tag)
            try:
                c.request(method, path, headers=headers)
                r = c.getresponse()
                body = r.read()
                good = check(r.status, r.getheader("X-Cache"), body)
                detail = "%s %s %s %r" % (kind, r.status, r.getheader("X-Cache"), body[:100])
            except Exception as e:  # noqa: BLE001 -- reported below
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                good, detail = False, "%s %s" % (kind, e)
            cnt = self.counts.setdefault(kind, [0, 0])
            cnt[0 if good else 1] += 1
            if not good and len(self.bad) < 5:
                self.bad.append(detail)
        c.close()


def lua_str(b):
    """A Lua string literal of bytes b (decimal escapes of 3 digits)."""
    out = []
    for ch in b:
        if 32 <= ch < 127 and ch not in (34, 92):
            out.append(chr(ch))
        else:
            out.append("\\%03d" % ch)
    return '"' + "".join(out) + '"'


def lua_script(tag):
    L = ["-- generated by tests/integration/soak.py"]
    L.append("local paths = {%s}" % ", ".join(lua_str(p.encode()) for p in PATHS))
    L.append("local bodies = {%s}" % ", ".join(lua_str(b) for b in BODIES))
    L.append("local etags = {%s}" % ", ".join(lua_str(e.encode()) for e in ETAGS))
    L.append("local kinds = {%s}" % ", ".join(lua_str(k.encode()) for k in KINDS))
    L.append("local errors = {%s}" % ", ".join(
        "%s = {%s, %s, %d, %s}" % (k, lua_str(m.encode()), lua_str(p.encode()), st, lua_str(('"reason":"%s"' % rs).encode()))
        for k, (m, p, st, rs) in ERRORS.items()))
    L.append("local tag = %s" % lua_str(tag.encode()))
    L.append(r'''
local threads = {}
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

-- one connection per thread, no pipelining: an answer is always to the
-- thread's latest request (wrk also calls request() once more, on thread
-- 1's state, to check the script: that one is never sent)
n = 0
cur = nil
nbad = 0

function request()
  n = n + 1
  local k = kinds[(n % #kinds) + 1]
  local i = ((n * 7 + tid * 31) % #paths) + 1
  local req, x
  if k == "hit" then
    req = wrk.format("GET", paths[i])
  elseif k == "inm" then
    req = wrk.format("GET", paths[i], {["If-None-Match"] = etags[i]})
  elseif k == "options" then
    req = wrk.format("OPTIONS", paths[i])
  elseif k == "miss" then
    x = string.format("%s%02d%08d", tag, tid % 100, n % 100000000)
    req = wrk.format("GET", "/youtube/v3/videos?part=id&id=" .. x)
  else
    local e = errors[k]
    req = wrk.format(e[1], e[2])
  end
  cur = {k, i, x}
  return req
end

function response(status, headers, body)
  local e = cur or {"unmatched", 0, nil}
  cur = nil
  local k, i, x = e[1], e[2], e[3]
  local xc = headers["X-Cache"]
  local good = false
  if k == "hit" then
    good = status == 200 and xc == "HIT" and body == bodies[i]
  elseif k == "inm" then
    good = status == 304 and body == ""
  elseif k == "options" then
    good = status == 204 and body == ""
  elseif k == "miss" then
    good = status == 200 and xc == "MISS" and string.find(body, x, 1, true) ~= nil
  elseif errors[k] then
    good = status == errors[k][3] and string.find(body, errors[k][4], 1, true) ~= nil
  end
  -- flat globals: wrk's thread:get() copies strings and numbers safely
  -- (its copy of a table leaves the Lua stack unbalanced)
  if good then
    local name = "ok_" .. k
    _G[name] = (_G[name] or 0) + 1
  else
    local name = "bad_" .. k
    _G[name] = (_G[name] or 0) + 1
    if nbad < 5 then
      nbad = nbad + 1
      _G["sample" .. nbad] = string.format("%s %d %s %q", k, status, tostring(xc), string.sub(body, 1, 100))
    end
  end
end

function done(summary, latency, requests)
  local all = {"unmatched"}
  for k, _ in pairs(errors) do
    table.insert(all, k)
  end
  for _, k in ipairs({"hit", "inm", "options", "miss"}) do
    table.insert(all, k)
  end
  for _, t in ipairs(threads) do
    for _, k in ipairs(all) do
      local g, b = t:get("ok_" .. k) or 0, t:get("bad_" .. k) or 0
      if g + b > 0 then
        io.write(string.format("SOAK %s %d %d\n", k, g, b))
      end
    end
    for j = 1, 5 do
      local b = t:get("sample" .. j)
      if b then
        io.write("SOAKBAD " .. string.gsub(b, "\n", " ") .. "\n")
      end
    end
  end
  local e = summary.errors
  io.write(string.format("SOAKERR connect=%d read=%d write=%d timeout=%d\n",
                         e.connect, e.read, e.write, e.timeout))
end
''')
    return "\n".join(L) + "\n"


class AccessCount:
    """Requests nginx has logged since it was created (polled, incremental)."""

    def __init__(self, path):
        self.path = path
        self.pos = os.path.getsize(path) if os.path.exists(path) else 0
        self.n = 0

    def __call__(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        nl = data.rfind(b"\n") + 1
        self.pos += nl
        self.n += data.count(b"\n", 0, nl)
        return self.n


def rss_kb(p):
    for line in yth.read_file("/proc/%d/status" % p).decode().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def merge(total, counts):
    for k, (g, b) in counts.items():
        t = total.setdefault(k, [0, 0])
        t[0] += g
        t[1] += b


def run_load(port, count, target, deadline, tag, with_wrk, on_count=None, clients=3):
    """Load until count() >= target or the deadline; on_count(n) is polled.
    Returns (counts per kind, bad samples, wrk socket errors or None)."""
    stop = threading.Event()
    totals, bad, errs = {}, [], None
    wrk = None
    if with_wrk:
        script = os.path.join(s.tmp, "soak-%s.lua" % tag)
        with open(script, "w") as f:
            f.write(lua_script(tag))
        secs = max(1, int(deadline - time.monotonic()) + 5)
        wrk = subprocess.Popen([WRK, "-t%d" % clients, "-c%d" % clients, "-d%ds" % secs, "--timeout", "30s",
                                "-s", script, "http://127.0.0.1:%d/" % port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        py = [PyClient(port, ["head", "head", "hit", "inm"], 90, tag, stop)]
    else:
        py = [PyClient(port, KINDS + ["head"] * 2, 90 + i, tag, stop) for i in range(clients)]
    marks = {}

    def poll():
        n = count()
        if on_count:
            on_count(n, marks)
        return n >= target or (wrk is not None and wrk.poll() is not None)
    yth.wait_for(poll, max(1.0, deadline - time.monotonic()), interval=0.2)
    if on_count:
        on_count(count(), marks, final=True)
    stop.set()
    if wrk is not None:
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
        out = wrk.communicate(timeout=60)[0].decode("utf-8", "replace")
        for line in out.splitlines():
            m = re.match(r"SOAK (\S+) (\d+) (\d+)$", line)
            if m:
                merge(totals, {m.group(1): (int(m.group(2)), int(m.group(3)))})
            elif line.startswith("SOAKBAD "):
                bad.append("wrk: " + line[8:])
            elif line.startswith("SOAKERR "):
                errs = line[8:]
        if errs is None:
            bad.append("wrk printed no summary: " + out[-500:])
    for c in py:
        c.join(60)
        merge(totals, c.counts)
        bad += ["py: " + b for b in c.bad]
    return totals, bad, errs


# ---------------------------------------------------------------- the soak
reserve = 20.0 + (22.0 if VALGRIND else 0.0)
deadline = T0 + LIMIT - reserve
count = AccessCount(ACCESS_LOG)
rss = {}


def on_count(n, marks, final=False):
    if "warm" not in marks and n >= WARMUP:
        marks["warm"] = n
        rss["warm"] = (n, rss_kb(pid))
    if final:
        rss["end"] = (n, rss_kb(pid))


t_load = time.monotonic()
totals, bad, errs = run_load(s.nginx.port, count, TARGET, deadline, "S", bool(WRK), on_count)
elapsed = time.monotonic() - t_load
served = count()
answered = sum(g + b for g, b in totals.values())
diag("soak: %d requests in %.1f s (%.0f/s), %d answers checked: %s" % (
    served, elapsed, served / max(elapsed, 0.001), answered,
    ", ".join("%s %d" % (k, g + b) for k, (g, b) in sorted(totals.items()))))
if served < TARGET:
    diag("soak: the time budget (%.0f s) ended the load before %d requests" % (deadline - t_load, TARGET))
cmp_ok(served, ">=", 2 * WARMUP, "soak: at least %d requests served (warm-up + as many again)" % (2 * WARMUP))
is_(bad[:10], [], "soak: every answer as expected (status, X-Cache, bytes)")
is_(sum(b for g, b in totals.values()), 0, "soak: no bad answer")
if errs is not None:
    is_(errs, "connect=0 read=0 write=0 timeout=0", "soak: wrk saw no socket error")
cmp_ok(answered, ">=", served - 10, "soak: (nearly) every request's answer was checked")
for k in ("hit", "inm", "head", "options", "miss", "e400", "e404", "e405", "e414"):
    cmp_ok(totals.get(k, [0, 0])[0], ">", 0, "soak: some %s requests" % k)
is_(s.launcher.alive_pids(), [pid], "soak: the one worker served it all, same pid")
r = s.get(PATHS[1])
is_((r.status, r.xcache, r.body == BODIES[1]), (200, "HIT", True), "soak: still serving after it")
is_(db.count("NOT JSON_VALID(response)"), 0, "soak: every row is valid JSON")

warm_n, warm_rss = rss.get("warm", (None, None))
end_n, end_rss = rss.get("end", (None, None))
diag("worker VmRSS: %s kB after %s requests, %s kB after %s (%s kB growth)" % (
    warm_rss, warm_n, end_rss, end_n,
    (end_rss - warm_rss) if warm_rss is not None and end_rss is not None else "?"))
if ASAN:
    yth.skip("RSS growth is not meaningful under ASan (quarantine); LeakSanitizer checks instead")
elif warm_rss is None or end_rss is None:
    ok(False, "worker VmRSS measured after the warm-up and at the end")
else:
    cmp_ok(end_rss - warm_rss, "<=", RSS_GROWTH_KB,
           "VmRSS grew by %d kB from request %d to %d (limit %d kB)" % (end_rss - warm_rss, warm_n, end_n, RSS_GROWTH_KB))


# ---------------------------------------------------------------- SIGTERM: a normal exit (and LSan)
def stop_worker(p, timeout=60.0):
    """SIGTERM p (a worker re-parented to us, the harness being a child
    subreaper) and wait for it: its exit status, or None if it could not be
    waited for."""
    os.kill(p, signal.SIGTERM)
    st = {}

    def gone():
        try:
            got, status = os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            st["status"] = None
            return not yth._pid_alive(p)
        if got == p:
            st["status"] = status
            return True
        return False
    if not yth.wait_for(gone, timeout, interval=0.1, what="worker %d to exit" % p):
        return "still running"
    return st.get("status")


logpos = os.path.getsize(s.launcher.log)
t_stop = time.monotonic()
status = stop_worker(pid)
diag("worker %d: SIGTERM -> exit status %r after %.1f s" % (pid, status, time.monotonic() - t_stop))
if status is None:
    yth.skip("the worker is not our child here (no subreaper): exit status unknown")
else:
    ok(status != "still running" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
       "SIGTERM: the worker exits normally with status 0")
tail = yth.read_file(s.launcher.log)[logpos:].decode("utf-8", "replace")
if ASAN:
    asan_opts = os.environ.get("ASAN_OPTIONS", "")
    if re.search(r"(^|:)detect_leaks=(0|false)", asan_opts):
        yth.skip("LeakSanitizer disabled by ASAN_OPTIONS=%s" % asan_opts, 2)
    else:
        like = yth.like(tail, r"Processing thread %d\." % pid, "ASan: LeakSanitizer ran at the worker's exit")
        if not like:
            diag("worker log after SIGTERM: " + tail[-1500:])
        ok("LeakSanitizer" not in tail and "AddressSanitizer" not in tail,
           "ASan: LeakSanitizer reported nothing")
else:
    ok(not re.search(r"Sanitizer|runtime error", tail), "no sanitizer output at exit")


# ---------------------------------------------------------------- valgrind (no sanitizers only)
if ASAN:
    yth.skip("valgrind and ASan do not mix: valgrind run skipped", 5)
elif not VALGRIND:
    yth.skip("valgrind not installed", 5)
else:
    vglog = os.path.join(s.tmp, "logs", "valgrind.log")
    wrapper = os.path.join(s.tmp, "ytcache-valgrind")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec "%s" --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite '
                '--error-exitcode=99 --log-file="%s" "%s" "$@"\n' % (VALGRIND, vglog, yth.YTCACHE))
    os.chmod(wrapper, 0o755)
    real, yth.YTCACHE = yth.YTCACHE, wrapper
    try:
        vg = yth.SpawnFcgi(s.tmp, s.conf, 1, name="ytcache-valgrind")
    finally:
        yth.YTCACHE = real
    vpid = vg.pids()[0]
    ng = yth.Nginx(s.tmp, [("/", vg, "uri")], name="nginx-valgrind")
    vcount = AccessCount(os.path.join(s.tmp, "logs", "nginx-valgrind-access.log"))
    # valgrind starts slowly: the first answer tells it is serving
    r = ng.get(PATHS[2], timeout=60)
    is_((r.status, r.xcache, r.body == BODIES[2]), (200, "HIT", True), "valgrind: the worker answers")
    t_vg = time.monotonic()
    vdeadline = T0 + LIMIT - 18
    vtotals, vbad, _ = run_load(ng.port, vcount, VG_REQUESTS, vdeadline, "V", False, clients=2)
    vserved = vcount()
    diag("valgrind: %d requests in %.1f s: %s" % (
        vserved, time.monotonic() - t_vg, ", ".join("%s %d" % (k, g + b) for k, (g, b) in sorted(vtotals.items()))))
    is_(vbad[:10] + ["%s: %d bad" % (k, b) for k, (g, b) in vtotals.items() if b], [],
        "valgrind: %d answers as expected" % vserved)
    ng.stop()
    vstatus = stop_worker(vpid, timeout=max(10.0, T0 + LIMIT - 8 - time.monotonic()))
    text = yth.read_file(vglog).decode("utf-8", "replace")
    summary = re.findall(r"ERROR SUMMARY: .*", text)
    definite = re.findall(r"definitely lost: .*", text)
    diag("valgrind: exit status %r; %s; %s" % (vstatus, summary[-1:] or "no summary", definite[-1:] or "no leak summary"))
    ok(vstatus is None or (vstatus != "still running" and os.WIFEXITED(vstatus) and os.WEXITSTATUS(vstatus) == 0),
       "valgrind: the worker exits 0 (--error-exitcode=99: no error, no definite leak)")
    ok(summary and summary[-1].startswith("ERROR SUMMARY: 0 errors"), "valgrind: ERROR SUMMARY 0 errors")
    ok(not re.search(r"Invalid (read|write|free)|uninitialised|Mismatched free", text),
       "valgrind: no invalid access, no use of uninitialised memory")
    if not (summary and summary[-1].startswith("ERROR SUMMARY: 0 errors")):
        diag(text[-3000:])

diag("soak: %.1f s in all" % (time.monotonic() - T0))
yth.done_testing()
