#!/usr/bin/python3
"""Faults under load ("proof under stress").

1. MariaDB is SIGKILLed in the middle of a load (8 client threads, HITs and
   MISSes) and restarted on the same datadir, once with db_outage = bypass and
   once with db_outage = error: no worker crashes, every answer is either the
   right bytes (HIT, MISS or BYPASS) or a 503 JSON error in Google's shape
   (never an nginx 502/504 page), caching resumes within 2 s of the database
   answering again, and no cache row is lost or altered (SHA2 per row) and
   every row is valid JSON.
2. Upstream failing in each way (500, timeout, connection reset, truncated,
   not JSON): the stale copy is served, the breaker
   opens after breaker_failures = 3 and then answers without a call, nothing
   is stored and no row changes (stale.py covers stale-if-error and the error
   codes of each kind, breaker.py the breaker's states).
3. Writes failing while reads work (SET GLOBAL read_only = 1: the ytcache user
   has no READ ONLY ADMIN/SUPER): misses still answer 200 with the upstream
   bytes, hits still answer, "cannot store" is logged once per burst per
   worker, and rows are stored again once writes work."""

import http.client
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

WORKERS = 2
CLIENTS = 8
CAP = 65536
DBCONF = {"connect_timeout": 2, "retry_interval_ms": 200}
QUOTA = {"breaker_failures": 3, "breaker_window": "60s", "breaker_cooldown": "60s"}
UPSTREAM = {"timeout_ms": 1000, "connect_timeout_ms": 1000, "max_response_bytes": CAP}


def config(outage):
    return {"server": {"db_outage": outage}, "database": DBCONF, "quota": QUOTA,
            "upstream": UPSTREAM, "cache": {"stale_if_error": 86400}}


s = yth.Stack("spawn-fcgi", workers=WORKERS, config=config("bypass"))
fake, db = s.fake, s.db
T0 = time.monotonic()


def path_of(v):
    # already in canonical order (params sorted by name), so the query the
    # fake sees is exactly this one and fake.body() gives the same bytes
    return "/youtube/v3/videos?id=%s&part=id" % v


def table():
    """{id: SHA2(response)} of every row."""
    return {r[0]: r[1] for r in db.sql("SELECT id, SHA2(response, 256) FROM cache")}


def invalid_json_rows():
    return db.count("NOT JSON_VALID(response)")


def google_error(r):
    """r is a JSON error in Google's shape made by ytcache: its reason, else None."""
    if not (r.header("content-type") or "").startswith("application/json"):
        return None
    j = r.json()
    try:
        e0 = j["error"]["errors"][0]
        if j["error"]["code"] == r.status and e0["domain"] == "ytcache":
            return e0["reason"]
    except (TypeError, KeyError, IndexError):
        pass
    return None


# ---------------------------------------------------------------- warm up
HIT_IDS = [yth.vid("fltH%03dxxxx" % i) for i in range(40)]
REF = {}
for v in HIT_IDS:
    r = s.get(path_of(v))
    REF[v] = r.body
ok(all(len(b) > 0 for b in REF.values()), "%d rows cached for the HIT share of the load" % len(HIT_IDS))
is_(fake.body(path_of(HIT_IDS[0])[len("/youtube/v3/"):]), REF[HIT_IDS[0]],
    "the fake answers the canonical query with the bytes ytcache cached")
is_(s.get(path_of(HIT_IDS[0])).xcache, "HIT", "and the repeat is a HIT")


# ---------------------------------------------------------------- 1. SIGKILL under load
class Load:
    """CLIENTS threads, each on its own kept-alive connection to nginx,
    sending 70 % HITs (HIT_IDS) and 30 % MISSes (a new id each time) until
    stopped; every answer is recorded with its start and end times."""

    def __init__(self, tag):
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.log = []       # (t_start, t_end, kind, id, status, xcache, verdict, detail)
        self.miss_bodies = {}
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def count(self, since=0.0):
        with self.lock:
            return sum(1 for e in self.log if e[0] >= since)

    def run(self, i):
        c = http.client.HTTPConnection("127.0.0.1", s.nginx.port, timeout=30)
        n = 0
        while not self.stop.is_set():
            n += 1
            if n % 10 < 7:
                kind, v = "hit", HIT_IDS[(i * 7 + n) % len(HIT_IDS)]
            else:
                kind, v = "miss", yth.vid("f%s%d_%06d" % (self.tag, i, n))
            t0 = time.monotonic()
            try:
                c.request("GET", path_of(v))
                resp = c.getresponse()
                r = yth.Response(resp.status, resp.reason, resp.getheaders(), resp.read())
            except Exception as e:  # noqa: BLE001 -- a broken connection is a finding
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", s.nginx.port, timeout=30)
                with self.lock:
                    self.log.append((t0, time.monotonic(), kind, v, None, None, "bad", repr(e)))
                continue
            t1 = time.monotonic()
            if r.status == 200 and r.xcache in ("HIT", "MISS", "BYPASS"):
                if kind == "hit":
                    verdict = "ok" if r.body == REF[v] else "bad"
                else:
                    verdict = "check"       # compared with the fake's bytes afterwards
                    self.miss_bodies[v] = r.body
                detail = "%d bytes" % len(r.body)
            elif r.status == 503 and google_error(r):
                verdict, detail = "error", google_error(r)
            else:
                verdict = "bad"
                detail = "%s %s %r" % (r.header("content-type"), r.xcache, r.body[:120])
            with self.lock:
                self.log.append((t0, t1, kind, v, r.status, r.xcache, verdict, detail))
        c.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def kill_under_load(outage):
    label = "db_outage=%s" % outage
    pids = s.launcher.pids()
    is_(s.launcher.alive_pids(), pids, "%s: %d workers running" % (label, WORKERS))
    load = Load(outage[0])
    t_load = time.monotonic()
    ok(yth.wait_for(lambda: load.count() >= 100 and time.monotonic() - t_load >= 1.0, 30,
                    what="1 s of load before the kill"), "%s: load running" % label)
    before = table()
    t_kill = time.monotonic()
    db.kill()
    t_dead = time.monotonic()
    ok(not db.alive(), "%s: MariaDB SIGKILLed after %d answers" % (label, load.count()))
    ok(yth.wait_for(lambda: load.count(since=t_dead) >= 50 and time.monotonic() - t_dead >= 1.0, 30,
                    what="1 s of load with the database down"), "%s: load went on with the database down" % label)
    t_start = time.monotonic()
    db.start()
    t_back = time.monotonic()
    diag("%s: database down %.2f s (the restart on the same datadir took %.2f s)"
         % (label, t_back - t_dead, t_back - t_start))

    def cached_after_back():
        with load.lock:
            return [e for e in load.log if e[0] >= t_back and e[5] in ("HIT", "MISS")]
    ok(yth.wait_for(lambda: cached_after_back() and time.monotonic() - t_back >= 3.0, 30,
                    what="3 s of load after the restart"), "%s: load went on after the restart" % label)
    load.finish()
    log = list(load.log)

    # every answer: right bytes, or a 503 JSON error
    for k, e in enumerate(log):
        if e[6] == "check":
            body = load.miss_bodies[e[3]]
            want = fake.body(path_of(e[3])[len("/youtube/v3/"):])
            log[k] = e[:6] + ("ok" if body == want else "bad", "%d bytes, want %d" % (len(body), len(want)))
    bad = [e for e in log if e[6] == "bad"]
    during = [e for e in log if e[1] >= t_kill and e[0] <= t_back]
    kinds = {}
    for e in during:
        key = "%s %s" % (e[4], e[5] or e[7])
        kinds[key] = kinds.get(key, 0) + 1
    diag("%s: %d answers, %d while the database was down: %s" % (label, len(log), len(during), kinds))
    is_(bad[:5], [], "%s: every answer is the right bytes (HIT/MISS/BYPASS) or a 503 JSON error" % label)
    if bad:
        diag("%d bad answers" % len(bad))
    cmp_ok(len(during), ">=", 50, "%s: answers while the database was down" % label)
    errors = sorted(set(e[7] for e in log if e[6] == "error"))
    if outage == "bypass":
        ok(any(e[5] == "BYPASS" for e in during), "%s: BYPASS answers while the database was down" % label)
        is_(errors, [], "%s: no error answers at all" % label)
    else:
        ok(any(e[6] == "error" for e in during), "%s: 503 answers while the database was down" % label)
        is_(errors, ["databaseUnavailable"], "%s: the errors are databaseUnavailable" % label)
    ok(not any(e[4] in (502, 504) for e in log), "%s: no 502/504 from nginx" % label)

    # service resumes
    first = min((e[1] for e in log if e[0] >= t_back and e[5] in ("HIT", "MISS")), default=None)
    ok(first is not None, "%s: HIT/MISS again after the restart" % label)
    if first is not None:
        cmp_ok(round(first - t_back, 3), "<", 2.0,
               "%s: first HIT/MISS %.3f s after the database answered" % (label, first - t_back))
    degraded = [e for e in log if e[0] >= t_back and e[5] not in ("HIT", "MISS")]
    last = max((e[1] for e in degraded), default=t_back)
    diag("%s: %d degraded answers after the restart, the last %.3f s after it"
         % (label, len(degraded), last - t_back))
    is_([e for e in degraded if e[0] >= t_back + 2.0][:3], [],
        "%s: nothing degraded from 2 s after the restart on (every worker reconnected)" % label)
    is_(s.launcher.alive_pids(), pids, "%s: same worker processes, none crashed" % label)

    # rows
    after = table()
    lost = sorted(v for v in before if v not in after)
    changed = sorted(v for v in before if v in after and after[v] != before[v])
    is_(lost, [], "%s: none of the %d rows present before the kill is lost" % (label, len(before)))
    is_(changed, [], "%s: every one of them has the same response bytes (SHA2)" % label)
    stored = sorted(set(e[3] for e in log if e[1] < t_kill and e[5] == "MISS"))
    is_([v for v in stored if v not in after], [],
        "%s: each of the %d MISSes answered before the kill has its row" % (label, len(stored)))
    is_(invalid_json_rows(), 0, "%s: every row's response is valid JSON" % label)
    diag("%s: %d rows before the kill, %d after" % (label, len(before), len(after)))


kill_under_load("bypass")
s.reconfigure(**config("error"))
yth.wait_for(lambda: s.get(path_of(HIT_IDS[0])).xcache == "HIT", 20, what="the restarted workers")
kill_under_load("error")
s.reconfigure(**config("bypass"))
diag("database kills done after %.1f s" % (time.monotonic() - T0))

# ---------------------------------------------------------------- 2. upstream failing, breaker_failures = 3
STALE_ID = HIT_IDS[1]


def backdate(v):
    db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL (ttl + 3600) SECOND, "
           "expires_at = UTC_TIMESTAMP() - INTERVAL 3600 SECOND WHERE id = %s" % yth.sql_str(v))


BAD_GATEWAY = ("upstreamError", "upstreamUnreachable")
MODES = [("error500", {}, 502, "upstreamError"), ("timeout", {}, 504, "upstreamTimeout"),
         ("reset", {}, 502, BAD_GATEWAY), ("truncated", {}, 502, BAD_GATEWAY),
         ("badjson", {}, 502, "upstreamError")]     # over max_response_bytes is no failure: breaker.py
for mode, kw, status, reason in MODES:
    s.reset_quota()
    is_(s.breaker(), {"state": 0, "failures": 0}, "%s: breaker closed to begin with" % mode)
    backdate(STALE_ID)
    before = table()
    expiry = db.value("SELECT expires_at FROM cache WHERE id = %s" % yth.sql_str(STALE_ID))
    fake.mode(mode, **kw)
    c0 = fake.calls()
    r = s.get(path_of(STALE_ID))
    is_((r.status, r.xcache), (200, "STALE"), "%s: the expired row is served STALE" % mode)
    ok(r.body == REF[STALE_ID], "%s: with its old bytes" % mode)
    fresh = [yth.vid("fb%s%dxxxxxxx" % (mode[:5], i)) for i in range(3)]
    r = s.get(path_of(fresh[0]))
    yth.check_error(r, status, reason, "%s: a miss without a copy" % mode)
    is_(s.breaker(), {"state": 0, "failures": 2}, "%s: 2 failures: breaker still closed" % mode)
    r = s.get(path_of(fresh[1]))
    yth.check_error(r, status, reason, "%s: the 3rd failure" % mode)
    is_((s.breaker() or {}).get("state"), 1, "%s: 3 failures open the breaker" % mode)
    is_(fake.calls() - c0, 3, "%s: 3 upstream calls so far" % mode)
    c1 = fake.calls()
    r = s.get(path_of(fresh[2]))
    yth.check_error(r, 503, "upstreamUnavailable", "%s: breaker open, a miss" % mode)
    r = s.get(path_of(STALE_ID))
    is_((r.status, r.xcache), (200, "STALE"), "%s: breaker open, the expired row still STALE" % mode)
    ok(r.body == REF[STALE_ID], "%s: breaker open, the old bytes" % mode)
    is_(fake.calls(), c1, "%s: breaker open: no upstream call" % mode)
    # nothing bad cached
    after = table()
    is_(sorted(set(after) - set(before)), [], "%s: no new row" % mode)
    is_(sorted(v for v in before if after.get(v) != before[v]), [], "%s: no row changed" % mode)
    is_(db.value("SELECT expires_at FROM cache WHERE id = %s" % yth.sql_str(STALE_ID)), expiry,
        "%s: the stale row's expiry untouched" % mode)
    is_(invalid_json_rows(), 0, "%s: no row with a non-JSON response" % mode)
fake.mode("ok")
s.reset_quota()
r = s.get(path_of(STALE_ID))
is_((r.status, r.xcache), (200, "MISS"), "upstream good again: the expired row is refreshed (MISS)")
REF[STALE_ID] = r.body
diag("upstream failures done after %.1f s" % (time.monotonic() - T0))

# ---------------------------------------------------------------- 3. writes fail, reads work
RO_IDS = [yth.vid("fRO%02dxxxxxx" % i) for i in range(20)]
want = {v: fake.body(path_of(v)[len("/youtube/v3/"):]) for v in RO_IDS}
rows0 = s.rows()
logpos = os.path.getsize(s.launcher.log)
db.sql("SET GLOBAL read_only = 1")
try:
    is_(db.value("SELECT @@GLOBAL.read_only"), "1", "read_only = 1 (writes refused to the ytcache user)")
    t0 = time.monotonic()
    res = [s.get(path_of(v)) for v in RO_IDS]
    elapsed = time.monotonic() - t0
    is_([(r.status, r.xcache in ("MISS", "BYPASS")) for r in res], [(200, True)] * len(RO_IDS),
        "read-only: %d misses answered 200, X-Cache MISS or BYPASS (%s)"
        % (len(RO_IDS), sorted(set(r.xcache for r in res))))
    ok(all(r.body == want[v] for r, v in zip(res, RO_IDS)), "read-only: each with the upstream bytes")
    hits = [s.get(path_of(v)) for v in HIT_IDS[:6]]
    is_([(r.status, r.xcache) for r in hits], [(200, "HIT")] * 6, "read-only: hits still answered")
    ok(all(r.body == REF[v] for r, v in zip(hits, HIT_IDS[:6])), "read-only: hits with their bytes")
    is_(s.rows(), rows0, "read-only: no row stored")
    text = yth.read_file(s.launcher.log)[logpos:].decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if "cannot store" in ln]
    per_pid = {}
    for ln in lines:
        m = re.search(r"ytcache\[(\d+)\]", ln)
        per_pid[m.group(1) if m else "?"] = per_pid.get(m.group(1) if m else "?", 0) + 1
    diag("read-only: %d misses in %.2f s; 'cannot store' lines per worker: %s" % (len(RO_IDS), elapsed, per_pid))
    for ln in lines[:3]:
        diag("  " + ln[:200])
    cmp_ok(len(lines), ">=", 1, "read-only: the store failure is logged")
    bursts = 1 + int(elapsed // 10)         # log_burst: once per 10 s per worker
    cmp_ok(len(lines), "<=", WORKERS * bursts,
           "read-only: logged once per burst per worker, not once per request (%d lines for %d misses)"
           % (len(lines), len(RO_IDS)))
    ok(all(n <= bursts for n in per_pid.values()), "read-only: no worker logged it twice in one burst")
finally:
    db.sql("SET GLOBAL read_only = 0")
res = [s.get(path_of(v)) for v in RO_IDS]
is_([(r.status, r.xcache) for r in res], [(200, "MISS")] * len(RO_IDS), "writable again: the same queries MISS")
is_(s.rows(), rows0 + len(RO_IDS), "writable again: %d rows stored" % len(RO_IDS))
res = [s.get(path_of(v)) for v in RO_IDS[:5]]
is_([(r.status, r.xcache) for r in res], [(200, "HIT")] * 5, "writable again: and they are HITs")
ok(all(r.body == want[v] for r, v in zip(res, RO_IDS)), "writable again: with the upstream bytes")
is_(invalid_json_rows(), 0, "every row's response is valid JSON at the end")
diag("faults: %.1f s" % (time.monotonic() - T0))

yth.done_testing()
