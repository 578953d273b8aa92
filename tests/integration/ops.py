#!/usr/bin/python3
"""Operations: /health and /metrics. Metrics are parsed by the Prometheus
client library's own text parser and checked line by line; counters are
shared by every worker process; access is limited by [server] metrics_allow."""
import hashlib
import json
import os
import re
import stat
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth
from prometheus_client.parser import text_string_to_metric_families

WORKERS = 4
s = yth.Stack(launcher="spawn-fcgi", workers=WORKERS, mounts=("/", "/ytcache/"))

# ---- /health
SCHEMA = int(s.db.value("SELECT MAX(version) FROM schema_version"))
yth.cmp_ok(SCHEMA, ">=", 4, "schema migrated to version 4 or later")
for path in ("/health", "/ytcache/health", "/youtube/v3/health"):
    r = s.get(path)
    yth.is_(r.status, 200, "%s: 200" % path)
    yth.like(r.header("content-type", ""), r"^application/json", "%s: JSON" % path)
    h = r.json() or {}
    yth.is_(h.get("status"), "ok", "%s: status ok" % path)
    yth.is_((h.get("database") or {}).get("ok"), True, "%s: database ok" % path)
    yth.is_((h.get("database") or {}).get("schema"), SCHEMA, "%s: schema version as in schema_version" % path)
    yth.is_((h.get("database") or {}).get("schema_current"), True, "%s: schema is current" % path)
    yth.is_((h.get("breaker") or {}).get("state"), "closed", "%s: breaker closed" % path)
yth.is_(s.fake.calls(), 0, "health costs no upstream call")

# ---- traffic: N requests spread over the workers
N_MISS, N_HIT, N_BAD = 6, 14, 5
for i in range(N_MISS):
    yth.is_(s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("ops%d" % i)).xcache, "MISS", "miss %d" % i)
for i in range(N_HIT):
    yth.is_(s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("ops%d" % (i % N_MISS))).xcache, "HIT", "hit %d" % i)
for i in range(N_BAD):
    yth.is_(s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("x") + "&bogus=%d" % i).status, 400, "bad %d" % i)
# a method ytcache refuses by name: its own reason, not "other"
N_NOT_SERVED = 2
for i in range(N_NOT_SERVED):
    yth.is_(s.get("/youtube/v3/thirdPartyLinks?part=snippet&linkingToken=t%d" % i).status, 400, "not served %d" % i)
pids_used = len(set(s.launcher.pids()))

# ---- /metrics, parsed by a real parser
r = s.get("/metrics")
yth.is_(r.status, 200, "metrics: 200")
yth.like(r.header("content-type", ""), r"^text/plain; version=0\.0\.4", "metrics: exposition content type")
text = r.body.decode()
families = {f.name: f for f in text_string_to_metric_families(text)}
yth.ok("ytcache_requests" in families, "requests_total family parsed")


def sample(name, **labels):
    for fam in families.values():
        for smp in fam.samples:
            if smp.name == name and all(smp.labels.get(k) == v for k, v in labels.items()):
                return smp.value
    return None


yth.is_(sample("ytcache_requests_total", route="api", cache="MISS"), float(N_MISS), "MISS counted across workers")
yth.is_(sample("ytcache_requests_total", route="api", cache="HIT"), float(N_HIT), "HIT counted across workers")
yth.is_(sample("ytcache_requests_total", route="api", cache="NONE"), float(N_BAD + N_NOT_SERVED), "errors counted")
yth.is_(sample("ytcache_requests_total", route="health", cache="NONE"), 3.0, "health requests counted")
yth.is_(sample("ytcache_errors_total", reason="unknownParameter"), float(N_BAD), "errors by reason")
yth.is_(sample("ytcache_errors_total", reason="notServed"), float(N_NOT_SERVED), "a refused method by its own reason")
yth.is_(sample("ytcache_errors_total", reason="other"), 0.0, "no error counted as other")
yth.is_(sample("ytcache_upstream_calls_total", **{"class": "ok"}), float(N_MISS), "upstream calls by class")
yth.is_(sample("ytcache_upstream_duration_seconds_count"), float(N_MISS), "latency histogram count")
yth.is_(sample("ytcache_upstream_duration_seconds_bucket", le="+Inf"), float(N_MISS), "histogram +Inf bucket")
yth.is_(sample("ytcache_cache_rows"), float(N_MISS), "cache rows gauge")
yth.ok((sample("ytcache_cache_bytes") or 0) > 0, "cache bytes gauge")
yth.is_(sample("ytcache_breaker_state"), 0.0, "breaker state gauge")
yth.is_(sample("ytcache_database_up"), 1.0, "database up")
used = sample("ytcache_quota_units_used", bucket="default")
left = sample("ytcache_quota_units_left", bucket="default")
yth.is_(used, float(N_MISS), "units used per key and bucket")
yth.is_(left, 10000.0 - N_MISS, "units left per key and bucket")
yth.ok(yth.SERVER_KEY not in text, "no key in the metrics")

# strict format check: every line a HELP/TYPE comment or a sample of a typed family
typed, bad = set(), []
for line in text.splitlines():
    m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$", line)
    if m:
        if m.group(1) == "TYPE":
            typed.add(m.group(2))
            if m.group(3) not in ("counter", "gauge", "histogram", "summary", "untyped"):
                bad.append(line)
        continue
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)\})? (-?[0-9.e+]+|\+Inf|NaN)$', line)
    if not m:
        bad.append(line)
        continue
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    if m.group(1) not in typed and base not in typed:
        bad.append("untyped sample: " + line)
yth.is_(bad, [], "every line of /metrics is well-formed and typed")
yth.ok(text.endswith("\n"), "exposition ends with a newline")

# ---- the shipped web server configs pass only /youtube/v3/ on: the own routes work there too
r = s.get("/youtube/v3/metrics")
yth.is_(r.status, 200, "/youtube/v3/metrics reaches the metrics")
r = s.head("/youtube/v3/websub?channel=UC_x5XG1OV2P6uZZ5FSM9Ttw&hub.mode=subscribe&hub.challenge=x")
yth.is_(r.status, 405, "HEAD on /websub: 405 (verifying intent changes state)")
yth.is_(r.header("allow"), "GET, POST", "405 on /websub names GET, POST")

# ---- access restriction
s.reconfigure(server={"metrics_allow": "10.0.0.0/8"})
r = s.get("/metrics")
yth.is_(r.status, 403, "metrics from a non-allowed address: 403")
yth.is_((r.json() or {}).get("error", {}).get("errors", [{}])[0].get("reason"), "forbidden", "403 in Google's error shape")
yth.ok(b"ytcache_requests_total" not in r.body, "no metrics in the refusal")
s.reconfigure(server={"metrics_allow": "10.0.0.0/8, 127.0.0.0/8"})
yth.is_(s.get("/metrics").status, 200, "CIDR entry admits 127.0.0.1")

# ---- logs: one access-style line per upstream call, with its cost, never a key
logs = s.logs()
lines = re.findall(rb"upstream videos\?\S+ status=200 class=ok .*cost=1", logs)
yth.is_(len(lines), N_MISS, "one access-style log line per upstream call, with its cost")
yth.ok(yth.SERVER_KEY.encode() not in logs, "no server key in any log")

# ---- the metrics file: ours alone (a symlink or another's file is refused)
def mode_of(path):
    st = os.lstat(path)
    return (stat.S_ISREG(st.st_mode), st.st_uid, stat.S_IMODE(st.st_mode))


def warnings_for(path):
    """The pids that logged a refusal of this metrics file, one entry per line."""
    pat = rb"ytcache\[(\d+)\]: warn: metrics file " + re.escape(path.encode()) + rb": ([^\n]*); metrics are counted per process"
    return [(int(pid), why.decode()) for pid, why in re.findall(pat, s.logs(include_access=False))]


uid = os.getuid()
private = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp", "ytcache-%d" % uid)
st = os.lstat(private)
yth.ok(stat.S_ISDIR(st.st_mode) and st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o700,
       "default metrics directory %s: a directory of ours, mode 0700" % private)
default_file = os.path.join(private, "metrics-" + hashlib.sha256(s.conf.encode()).hexdigest()[:16])
yth.is_(mode_of(default_file), (True, uid, 0o600), "default metrics file: a regular file of ours, mode 0600")

mine = os.path.join(s.tmp, "counters")
s.reconfigure(server={"metrics_file": mine})
for i in range(WORKERS * 2):
    s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("ops%d" % (i % N_MISS)))
yth.is_(mode_of(mine), (True, uid, 0o600), "metrics_file set: created as a regular file of ours, mode 0600")
fams = {f.name: f for f in text_string_to_metric_families(s.get("/metrics").body.decode())}
hits = sum(x.value for x in fams["ytcache_requests"].samples
           if x.name.endswith("_total") and x.labels.get("cache") == "HIT")
yth.cmp_ok(hits, ">=", WORKERS * 2, "metrics_file set: the counters are shared (%d hits seen)" % hits)
yth.is_(warnings_for(mine), [], "metrics_file set: no warning")

target = os.path.join(s.tmp, "target")
with open(target, "wb") as f:
    f.write(b"not yours\n")
planted = os.path.join(s.tmp, "planted")
os.symlink(target, planted)
s.reconfigure(server={"metrics_file": planted})
for i in range(WORKERS * 2):
    yth.is_(s.get("/metrics").status, 200, "symlink planted at metrics_file: metrics still answer (%d)" % i)
yth.is_(yth.read_file(target), b"not yours\n", "symlink planted: its target is untouched")
yth.ok(os.path.islink(planted), "symlink planted: left alone")
w = warnings_for(planted)
yth.ok(w and all("symlink, refused" in why for _, why in w), "symlink planted: refused, a warning says why (%s)" % (w[:1],))
yth.is_(len(w), len(set(p for p, _ in w)), "symlink planted: the warning is logged once per process")
yth.cmp_ok(len(w), "<=", WORKERS, "symlink planted: at most one warning per worker")

others = os.path.join(s.tmp, "others")
with open(others, "wb"):
    pass
os.chmod(others, 0o600)
os.chown(others, 65534, 65534)
s.reconfigure(server={"metrics_file": others})
yth.is_(s.get("/metrics").status, 200, "another user's file at metrics_file: metrics still answer")
yth.is_(os.path.getsize(others), 0, "another user's file: not written to")
w = warnings_for(others)
yth.ok(w and all("owner 65534" in why and "refused" in why for _, why in w),
       "another user's file: refused, a warning names the owner (%s)" % (w[:1],))

loose = os.path.join(s.tmp, "loose")
with open(loose, "wb"):
    pass
os.chmod(loose, 0o622)
s.reconfigure(server={"metrics_file": loose})
yth.is_(s.get("/metrics").status, 200, "a file others may write at metrics_file: metrics still answer")
yth.is_(os.path.getsize(loose), 0, "a file others may write: not used")
yth.ok(warnings_for(loose), "a file others may write: refused with a warning")
s.reconfigure(server={})

# ---- health with the database gone
s.db.stop()
r = s.get("/health")
yth.is_(r.status, 503, "health without a database: 503")
yth.is_((r.json() or {}).get("database", {}).get("ok"), False, "health says the database is not ok")
r = s.get("/metrics")
yth.is_(r.status, 200, "metrics still answer without a database")
yth.like(r.body.decode(), r"(?m)^ytcache_database_up 0$", "database_up 0")
yth.done_testing()
