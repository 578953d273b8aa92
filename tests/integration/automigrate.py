#!/usr/bin/python3
"""No shell needed: a ytcache process that finds the schema missing or older
than itself migrates it, one process at a time under a lock (concurrent
first requests: exactly one migrates, the others wait; a process that
cannot get the lock in [cache] lock_wait_ms answers 503 schemaMigrating with
Retry-After), and synchronises the config file's keys; ytcache-refresh does
the same; [database] auto_migrate = no leaves an empty database alone and
answers 503 schemaMissing."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
WORKERS = 4
s = yth.Stack("spawn-fcgi", workers=WORKERS, migrate=False)
fake, db = s.fake, s.db
OWN = [n for n in yth.DB_NAMES if not n.startswith(("fk_", "response_"))]
MIGRATED = re.compile(r"schema migrated from version (\d+) to (\d+)")


def tables():
    return sorted(r[0] for r in db.sql("SELECT table_name FROM information_schema.tables"
                                       " WHERE table_schema = DATABASE()"))


def drop_all():
    db.sql("SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS %s" % ", ".join(OWN))
    is_(tables(), [], "an empty database again")


def cgi(cfg, v):
    r, rc, err = yth.run_cgi(cfg, path_info="/youtube/v3/videos", query="part=snippet&id=" + yth.vid(v), tmp=s.tmp)
    r.rc, r.err = rc, err.decode("utf-8", "replace")
    return r


def launcher_log():
    return yth.read_file(s.launcher.log).decode("utf-8", "replace")


# ---------------------------------------------------------------- 1. concurrent first requests to an empty database
is_(tables(), [], "the database is empty (no ytcachectl migrate)")
pids = sorted(s.launcher.alive_pids())
is_(len(pids), WORKERS, "%d FastCGI workers" % WORKERS)
N = 12
rs = yth.concurrent(lambda i: s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("first%d" % i)), N)


def waited_or_busy(r):
    """200, or (past lock_wait_ms on a slow machine) 503 schemaMigrating in JSON with Retry-After."""
    if not hasattr(r, "status"):
        return repr(r)
    if r.status == 503:
        e = (r.json() or {}).get("error") or {}
        return "busy" if (e.get("errors") or [{}])[0].get("reason") == "schemaMigrating" and \
            r.header("retry-after") else "503 %r" % r.body[:200]
    return r.status if r.header("x-cache") == "MISS" else "%s %s" % (r.status, r.header("x-cache"))


got = [waited_or_busy(r) for r in rs]
answered = got.count(200)
is_([g for g in got if g not in (200, "busy")], [],
    "%d concurrent first requests: each answered 200 MISS, stored (it waited), or 503 schemaMigrating"
    " with Retry-After" % N)
ok(answered >= N // 2, "%d of %d waited for the migration and got 200" % (answered, N))
ok(yth.wait_for(lambda: MIGRATED.search(launcher_log()), 5), "a worker logged its migration")
got = MIGRATED.findall(launcher_log())
latest = int(db.value("SELECT MAX(version) FROM schema_version") or 0)
is_(got, [("0", str(latest))], "exactly one process migrated, from 0 to %d" % latest)
is_(db.value("SELECT GROUP_CONCAT(version ORDER BY version) FROM schema_version"),
    ",".join(str(v) for v in range(1, latest + 1)), "every version recorded once")
ok(set(yth.table(t) for t in OWN) <= set(tables()), "every table made, with the prefix")
is_(sorted(s.launcher.alive_pids()), pids, "no worker crashed")
is_(db.count(), answered, "the %d answers stored" % answered)
ok(not yth.sanitizer_reports(), "no sanitizer report")

# ---------------------------------------------------------------- 2. a schema older than the program
db.sql("DELETE FROM schema_version WHERE version >= 5")
r = cgi(s.conf, "first0")
is_((r.status, r.header("x-cache")), (200, "HIT"), "schema 4: a new process migrates and serves the row (HIT)")
is_(MIGRATED.findall(r.err), [("4", str(latest))], "... it migrated from 4 to %d" % latest)
is_(int(db.value("SELECT MAX(version) FROM schema_version")), latest, "schema current again")

# ---------------------------------------------------------------- 3. another process migrating: 503 with Retry-After
drop_all()
held = yth.lock_name("ytcache-migrate", db.name)
argv, env = db.session()
holder = yth.Proc(s.tmp, "mariadb-lock-holder", argv + ["--unbuffered"], env=env, stdin=subprocess.PIPE)
holder.p.stdin.write(("SELECT GET_LOCK('%s', 60);\n" % held).encode())
holder.p.stdin.flush()
ok(yth.wait_for(lambda: db.value("SELECT IS_USED_LOCK('%s') IS NOT NULL" % held) == "1", 10,
                what="the test's session to hold the migration lock"), "a session holds the migration lock")
short = s.write_config(os.path.join(s.tmp, "short.conf"), cache={"lock_wait_ms": 1000})
calls = fake.calls()
t0 = time.monotonic()
r = cgi(short, "busy")
waited = time.monotonic() - t0
yth.check_error(r, 503, "schemaMigrating", "while another process migrates")
is_(r.header("retry-after"), "5", "... Retry-After: 5")
ok(waited >= 0.9, "... after waiting lock_wait_ms for the lock (%.2f s)" % waited)
is_(r.rc, 0, "... the process exits normally")
is_(tables(), [], "... nothing made")
is_(fake.calls(), calls, "... no upstream call")
holder.p.stdin.write(("SELECT RELEASE_LOCK('%s');\n" % held).encode())
holder.p.stdin.close()
yth.wait_for(lambda: not holder.alive(), 10)
holder.stop()
r = cgi(short, "busy")
is_((r.status, r.header("x-cache")), (200, "MISS"), "lock released: the next request migrates and answers")

# ---------------------------------------------------------------- 4. ytcache-refresh, and the config file's keys
drop_all()
p = subprocess.run([REFRESH, "--config", s.conf, "--dry-run"], capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)
is_(p.returncode, 0, "ytcache-refresh --dry-run on an empty database: exit 0")
if p.returncode:
    diag((p.stdout + p.stderr).decode("utf-8", "replace"))
is_(int(db.value("SELECT MAX(version) FROM schema_version") or 0), latest, "... it migrated the schema")
is_(db.value("SELECT GROUP_CONCAT(label) FROM api_keys WHERE source = 'config'"), yth.key_label(yth.SERVER_KEY),
    "... and synchronised the config file's key (a dry run fetches nothing)")

# ---------------------------------------------------------------- 5. auto_migrate = no
drop_all()
off = s.write_config(os.path.join(s.tmp, "off.conf"), database={"auto_migrate": "no"})
calls = fake.calls()
r = cgi(off, "off")
e = yth.check_error(r, 503, "schemaMissing", "auto_migrate = no, empty database")
like((e or {}).get("message", ""), r"ytcachectl migrate", "... the message says what to do")
ok(r.header("retry-after") is not None, "... with Retry-After")
like(r.err, r"no ytcache schema .*auto_migrate is off", "... and the log says why")
is_(tables(), [], "... the database is left alone")
is_(fake.calls(), calls, "... no upstream call")
yth.migrate(off)
r = cgi(off, "off")
is_((r.status, r.header("x-cache")), (200, "MISS"), "after ytcachectl migrate: 200")
db.sql("DELETE FROM schema_version WHERE version >= 5")
r = cgi(off, "off")
is_((r.status, r.header("x-cache")), (200, "HIT"), "auto_migrate = no and an older schema: served as it is")
like(r.err, r"older than this build's .*run ytcachectl migrate", "... with a warning in the log")
is_(int(db.value("SELECT MAX(version) FROM schema_version")), 4, "... and left at version 4")

yth.done_testing()
