#!/usr/bin/python3
"""Secrets stay secret: after hits, misses, ytcache's own errors, upstream
failures, the upstream refusing the server key, and upstream answers that
quote the key, the server API key and the database password appear in no
response (body or header), no log file, no cache row and no ytcachectl
output.  In passthrough mode the caller's key goes upstream but is kept
only as a fingerprint."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, isnt, cmp_ok, diag  # noqa: E402

SERVER_KEY = yth.SERVER_KEY
OTHER_KEY = "AIzaSyOTHER-valid-key-9999"
CLIENT_KEY = "AIzaSyCLIENT-own-key-5555"
CLIENT_KEY2 = "AIzaSyCLIENT-own-key-6666"
CORS = "http://localhost:3000"
s = yth.Stack("spawn-fcgi", workers=2, fake_keys=(SERVER_KEY, CLIENT_KEY, CLIENT_KEY2),
              config={"server": {"log_level": "debug", "cors_origins": CORS},
                      "upstream": {"referer": "http://localhost/page", "timeout_ms": 1000},
                      "cache": {"min_ttl": 1}})
fake, db = s.fake, s.db
responses = []


def get(path, headers=None, method="GET"):
    r = s.http(method, path, headers)
    responses.append(r)
    return r


def leaks(blob, secrets):
    return [name for name, sec in secrets if sec.encode() in blob]


def response_blob():
    out = []
    for r in responses:
        out.append(("%s %s\n" % (r.status, r.reason)).encode())
        for k, v in r.header_list:
            out.append(("%s: %s\n" % (k, v)).encode("latin-1", "replace"))
        out.append(r.body)
    return b"\n".join(out)


def table_blob():
    rows = db.sql("SELECT * FROM cache")
    return "\n".join("\t".join(c or "" for c in row) for row in rows).encode("utf-8", "surrogateescape")


V = "/youtube/v3/videos?part=snippet&id="
# ---------------------------------------------------------------- ordinary traffic
for i in range(4):
    v = yth.vid("secret%dxxxxx" % i)
    get(V + v, {"Origin": CORS})
    get(V + v)
    get("/?endpoint=videos&part=snippet&id=%s&age=60" % v)
    get(V + v, method="HEAD")
get(V + yth.vid("secret0xxxxx"), {"If-None-Match": '"x"'})
get("/youtube/v3/search?part=snippet&q=secrets&key=" + CLIENT_KEY)     # pool mode: a caller's key is dropped
get("/youtube/v3/videos?part=snippet&id=%s&key=%s&callback=x" % (yth.vid("secretK"), CLIENT_KEY2))
get(V + yth.vid("secret0xxxxx"), {"Origin": CORS, "Access-Control-Request-Method": "GET"}, "OPTIONS")
# ytcache's own errors
for path in ("/youtube/v3/bogus?part=id", "/youtube/v3/videos?part=bogus&id=" + yth.vid("x"),
             "/youtube/v3/videos?part=snippet&id=" + yth.vid("x") + "&mine=true",
             "/youtube/v3/videos?part=snippet&id=" + yth.vid("x") + "&foo=" + CLIENT_KEY,
             "/youtube/v3/search?part=snippet&q=" + "a" * 9000):
    get(path)
get(V + yth.vid("x"), method="POST")
# upstream failures
for mode in ("error500", "quota", "ratelimit", "notfound", "badrequest", "badjson", "truncated",
             "reset", "timeout"):
    s.reset_quota()         # "quota" exhausts the key for the day: every mode gets a fresh one
    fake.mode(mode)
    c0 = fake.calls()
    r = get(V + yth.vid("up" + mode))
    ok(r.status >= 400, "upstream %s: an error answer (%d)" % (mode, r.status))
    cmp_ok(fake.calls() - c0, ">=", 1, "upstream %s: upstream was asked" % mode)
fake.mode("ok")
s.reset_quota()

# ---------------------------------------------------------------- the server key refused
fake.mode("ok", keys=[OTHER_KEY])        # the fake no longer accepts the server key
c0 = fake.calls()
r = get(V + yth.vid("keyRejected1"))
cmp_ok(r.status, ">=", 500, "server key rejected upstream: a 5xx answer (%d)" % r.status)
j = r.json() or {}
diag("server key rejected: %s %s" % (r.status, (j.get("error") or {}).get("errors")))
ok(fake.calls() > c0, "server key rejected: upstream was asked")
is_(db.count("request LIKE '%keyRejected1%'"), 0, "server key rejected: nothing cached")
key_row = s.api_key(SERVER_KEY) or {}
is_(key_row.get("state"), "disabled", "server key rejected: api_keys.state = 'disabled'")
ok(key_row.get("disabled_reason"), "server key rejected: a disabled_reason is kept (%r)" % key_row.get("disabled_reason"))
c0 = fake.calls()
r = get(V + yth.vid("keyRejected2"))
cmp_ok(r.status, ">=", 500, "disabled server key: a 5xx answer (%d)" % r.status)
is_(fake.calls() - c0, 0, "disabled server key: not used again")
r = get(V + yth.vid("secret1xxxxx"))
is_((r.status, r.xcache), (200, "HIT"), "server key rejected: cached answers still served")
# and an expired copy is served stale rather than the refusal
db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL 7200 SECOND, "
       "expires_at = UTC_TIMESTAMP() - INTERVAL 3600 SECOND WHERE request LIKE '%secret2%'")
r = get(V + yth.vid("secret2xxxxx"))
is_((r.status, r.xcache), (200, "STALE"), "server key rejected, expired copy: STALE")

# ---------------------------------------------------------------- upstream answers quoting the key
s.reset_quota()          # the admin re-enables the key
fake.mode("echokey", keys=[SERVER_KEY])
r = get(V + yth.vid("echoKey0001"))
yth.check_error(r, 502, "upstreamKeyEcho", "upstream 200 quoting the server key: not passed on")
ok(SERVER_KEY not in r.body.decode("utf-8", "replace"), "upstream 200 quoting the server key: no key in the answer")
is_(db.sql("SELECT status, LOCATE(%s, response) FROM cache WHERE request LIKE '%%echoKey0001%%'"
           % yth.sql_str(SERVER_KEY)), [["502", "0"]],
    "upstream 200 quoting the server key: only our 502 error kept (negative_ttl), never the key")
fake.mode("echokey_error", keys=[SERVER_KEY])
r = get(V + yth.vid("echoKey0002"))
ok(r.status >= 400, "upstream 400 quoting the server key: an error (%d)" % r.status)
is_(db.count("request LIKE '%%echoKey0002%%' AND LOCATE(%s, response) > 0" % yth.sql_str(SERVER_KEY)), 0,
    "upstream 400 quoting the server key: the key is not cached")
fake.reset()             # mode ok, all start-up keys valid again

# ---------------------------------------------------------------- passthrough mode
s.reconfigure(server={"log_level": "debug"}, upstream={"key_mode": "passthrough", "timeout_ms": 1000})
P = yth.vid("passthru001")
c0 = fake.calls()
r1 = get(V + P + "&key=" + CLIENT_KEY)
is_((r1.status, r1.xcache), (200, "MISS"), "passthrough: caller's key, MISS")
is_(fake.stats()["keys"][-1], CLIENT_KEY, "passthrough: the caller's key is the one sent upstream")
r2 = get(V + P + "&key=" + CLIENT_KEY)
is_((r2.status, r2.xcache), (200, "HIT"), "passthrough: same key, HIT")
r3 = get(V + P + "&key=" + CLIENT_KEY2)
is_((r3.status, r3.xcache), (200, "MISS"), "passthrough: another caller's key, its own entry")
is_(fake.stats()["keys"][-1], CLIENT_KEY2, "passthrough: that key sent upstream")
is_(fake.calls() - c0, 2, "passthrough: one upstream call per caller key")
fp = "fp:" + hashlib.sha256(CLIENT_KEY.encode()).hexdigest()[:16]
is_(db.value("SELECT COUNT(*) FROM cache WHERE apikey = %s" % yth.sql_str(fp)), "1",
    "passthrough: the row's key identity is fp:<16 hex of SHA-256(key)>")
r = get(V + P + "&key=AIzaSyNOT-a-valid-key-0000")
is_(r.status, 400, "passthrough: an invalid caller key -> the API's 400 passed on")

# ---------------------------------------------------------------- the checks
secrets = [("server key", SERVER_KEY), ("database password", yth.DB_PASSWORD)]
caller = [("caller key 1", CLIENT_KEY), ("caller key 2", CLIENT_KEY2)]
is_(leaks(yth.read_file(s.conf), secrets), ["server key", "database password"],
    "self-check: the leak detector finds both secrets in ytcache.conf")
cmp_ok(len(responses), ">", 40, "traffic: %d requests made" % len(responses))
is_(leaks(response_blob(), secrets + caller), [], "no secret in any response body or header")
is_(leaks(table_blob(), secrets + caller), [], "no secret in any cache row (request, response, any column)")
# api_keys.secret is the one place the server key is stored
quota_rows = db.sql("SELECT label, fingerprint, source, state, disabled_reason, last_error FROM api_keys")
for t in ("key_usage", "budget_usage", "client_limits", "breaker", "daily_counters"):
    quota_rows += db.sql("SELECT * FROM " + t)
blob = "\n".join("\t".join(c or "" for c in row) for row in quota_rows).encode("utf-8", "surrogateescape")
is_(leaks(blob, secrets + caller), [], "no secret in the quota tables (api_keys but its secret column, usage, limits)")
for path in s.log_files():
    name = os.path.basename(path)
    if name.startswith("fake-upstream"):
        continue            # Google's side
    blob = yth.read_file(path)
    # nginx's logs record the URLs callers sent (the access log always, the
    # error log with any error), their own keys included: only the server's
    # secrets must be absent there.  ytcache's own logs are separate files.
    check = secrets if name.startswith("nginx") else secrets + caller
    is_(leaks(blob, check), [], "no secret in log %s (%d bytes)" % (name, len(blob)))
logs = s.logs(include_access=False)
cmp_ok(len(logs), ">", 500, "the logs are not empty (debug level)")
for args in (("stats",), ("check-config",), ("purge", "expired")):
    r = s.ctl(*args)
    is_(r.returncode, 0, "ytcachectl %s: exit 0" % " ".join(args))
    is_(leaks(r.stdout + r.stderr, secrets + caller), [], "ytcachectl %s: no secret in its output" % " ".join(args))
for pid in s.launcher.alive_pids():
    ok(SERVER_KEY.encode() not in yth._proc_text(pid, "cmdline"), "worker %d: no key on its command line" % pid)


# ---------------------------------------------------------------- configuration errors never repeat a secret
PW = yth.DB_PASSWORD
bad_files = [
    ("unterminated password", "[database]\npassword = \"%s\n" % PW, ":2: password: unterminated quoted value"),
    ("unterminated keys", "[upstream]\nkeys = \"%s, %s\n" % (SERVER_KEY, OTHER_KEY), ":2: keys: unterminated quoted value"),
    ("text after quoted keys", "[upstream]\nkeys = \"K1\" %s\n" % SERVER_KEY, ":2: keys: text after quoted value"),
    ("a key on a line of its own", "[upstream]\nkeys = K1,\n    %s\n" % SERVER_KEY, ":3: expected key = value"),
    ("a key as a key name", "[upstream]\n%s = 1\n" % SERVER_KEY, ":2: unknown key in [upstream]: (name not shown)"),
    ("an unknown key with a key as value", "[upstream]\nkey = %s\n" % SERVER_KEY, ":2: unknown key in [upstream]: key"),
    ("a misspelt password key", "[database]\npasswd = %s\n" % PW, ":2: unknown key in [database]: passwd"),
    ("a password outside a section", "password = %s\n" % PW, ":1: setting outside a [section]: password"),
    ("a key in a section header", "[%s]\n" % SERVER_KEY, ":1: unknown section: [(name not shown)]"),
    ("a key as a port", "[database]\nport = %s\n" % SERVER_KEY, ":2: port must be an integer"),
]
secret_values = [("server key", SERVER_KEY), ("other key", OTHER_KEY), ("database password", PW)]
for label, text, want in bad_files:
    bad = os.path.join(s.tmp, "bad-secret.conf")
    with open(bad, "w") as f:
        f.write("; a broken file\n" + text)
    r = yth.ytcachectl(bad, "check-config", tmp=s.tmp)
    out = r.stdout + r.stderr
    is_(r.returncode, 1, "check-config, %s: exit 1" % label)
    is_(leaks(out, secret_values), [], "check-config, %s: no secret in its output" % label)
    line = int(want[1]) + 1
    ok(("%s:%d:%s" % (bad, line, want[3:])).encode() in out,
       "check-config, %s: names file, line and key (%s)" % (label, out.decode("utf-8", "replace").strip()))
    p = subprocess.run([yth.YTCACHE, "--config", bad, "--listen", "127.0.0.1:%d" % yth.free_port()],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    is_(p.returncode, 1, "ytcache start, %s: exit 1" % label)
    is_(leaks(p.stdout, secret_values), [], "ytcache start, %s: no secret in its output" % label)
    ok(("%s:%d:" % (bad, line)).encode() in p.stdout, "ytcache start, %s: names file and line" % label)

# ---------------------------------------------------------------- no core dumps (they would hold the key)
# RLIMIT_CORE is seen in /proc/PID/limits.  Whether a process is dumpable
# cannot be asked of another process (PR_GET_DUMPABLE is about oneself), but
# the kernel gives the /proc/PID files of an undumpable process to root
# instead of the process's uid.  That shows only for a worker that is not
# root, so (tests run as root) a `ytcache --listen` runs as nobody for it;
# debug_core_dumps = yes shows its files owned by nobody, the control.
def core_limit(pid):
    for line in yth.read_file("/proc/%d/limits" % pid).decode().splitlines():
        if line.startswith("Max core file size"):
            return tuple(line.split()[4:6])
    return None


def owners(pids):
    return sorted(set(os.stat("/proc/%d/status" % pid).st_uid for pid in pids))


pids = s.launcher.alive_pids()
cmp_ok(len(pids), ">=", 1, "workers running")
for pid in pids:
    is_(core_limit(pid), ("0", "0"), "worker %d: Max core file size 0 (soft and hard)" % pid)
if os.getuid() != 0:
    is_(owners(pids), [0], "workers not dumpable: their /proc/PID files belong to root")
setpriv = yth.which("setpriv")
if os.getuid() != 0 or not setpriv:
    yth.skip("needs root and setpriv to run a worker as nobody", 4)
else:
    NOBODY = 65534
    pub = tempfile.mkdtemp(prefix="ytc-nobody-")
    os.chmod(pub, 0o755)
    for debug in ("no", "yes"):
        conf = os.path.join(pub, "ytcache-%s.conf" % debug)
        yth.write_config(conf, s.db, fake, server={"debug_core_dumps": debug})
        os.chmod(conf, 0o644)
        port = yth.free_port()
        p = yth.Proc(s.tmp, "nobody-" + debug,
                     [setpriv, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", yth.YTCACHE,
                      "--listen", "127.0.0.1:%d" % port, "--workers", "1", "--config", conf], cwd=pub)
        yth.wait_for(lambda: p.children(), 20, what="a ytcache worker running as nobody")
        procs = [p.pid] + p.children()
        uids = sorted(set(int(yth._proc_text(x, "status").split(b"Uid:")[1].split()[0]) for x in procs))
        if debug == "no":
            is_(uids, [NOBODY], "a ytcache run as nobody (%s)" % procs)
            is_(owners(procs), [0], "debug_core_dumps = no: not dumpable (its /proc/PID files belong to root)")
        else:
            is_(owners(procs), [NOBODY], "debug_core_dumps = yes: dumpable (its /proc/PID files are its own)")
            isnt(core_limit(p.pid), ("0", "0"), "debug_core_dumps = yes: the core limit is left as inherited")
        p.stop()
    shutil.rmtree(pub, ignore_errors=True)

yth.done_testing()
