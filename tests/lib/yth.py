#!/usr/bin/python3
"""yth -- harness for the ytcache integration tests.

Every test in tests/integration/ is an executable TAP script:

    import yth
    s = yth.Stack(launcher="spawn-fcgi", workers=2)
    r = s.get("/youtube/v3/videos?part=snippet&id=" + yth.vid("a"))
    yth.is_(r.status, 200, "answered")
    yth.done_testing()

It starts, all on loopback, in one temporary directory:
  * a private MariaDB (own datadir copied from a template kept under
    $YTC_BUILDDIR/tests/.mariadb-template, own unix socket and port),
  * tests/fake_upstream.py, the fake YouTube Data API (FakeUpstream; the
    WebSub hub tests/fake_hub.py is started by tests/integration/websub.py,
    both through FakeServer),
  * ytcache under spawn-fcgi, `ytcache --listen`, or fcgiwrap (CGI),
  * nginx in front of it,
and stops all of it at exit (also on SIGTERM/SIGINT and on a per-test time
limit, YTC_TEST_TIMEOUT seconds, default 120).  The temporary directory is
removed unless YTC_KEEP is set.

Environment:
  YTC_BUILDDIR  build tree (src/ytcache, src/ytcachectl); default: repo root
  YTC_SRCDIR    source tree (sql/schema.sql, tests/); default: repo root
  YTC_KEEP      keep the temporary directory (its path is printed)
  YTC_TEST_TIMEOUT  seconds before a test is aborted (default 120)
  YTC_DB_TIME_ZONE  MariaDB default time zone (default +05:00, deliberately
                not UTC: ytcache must store and compare UTC)
  YTC_DB_PROFILE  mysql80: start the private MariaDB with MySQL 8.0's
                defaults and an old host's: MySQL 8.0's default sql_mode, a
                daylight-saving default time zone (America/New_York unless
                YTC_DB_TIME_ZONE says otherwise), latin1 as the server's and
                the database's default character set, max_allowed_packet=4M
                and COMPACT as the default row format
  YTC_SQL_SEEN  a directory: the private MariaDB keeps a general log, copied
                there at exit (tests/sqlport.py --coverage DIR lists the
                statements of src/ that no test sent)
  YTC_TEST_DB   mysql://USER:PASSWORD@HOST:PORT/PREFIX: use that server (a
                real MySQL, say) instead of a private MariaDB; each test
                makes and drops its own database PREFIX_<pid>.  Tests that
                stop, kill or reconfigure the server bail out.
  YTC_MARIADBD, YTC_MARIADB, YTC_MARIADB_INSTALL_DB, YTC_NGINX,
  YTC_SPAWN_FCGI, YTC_FCGIWRAP  programs to use instead of the ones on PATH
                (mariadbd, nginx and fcgiwrap are in an sbin directory)
No fixed sleeps: everything is waited for with wait_for(cond, timeout).
"""

import atexit
import datetime
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

# ------------------------------------------------------------------ paths

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.path.abspath(os.environ.get("YTC_BUILDDIR") or _REPO)
SRCDIR = os.path.abspath(os.environ.get("YTC_SRCDIR") or _REPO)
YTCACHE = os.path.join(BUILDDIR, "src", "ytcache")
YTCACHECTL = os.path.join(BUILDDIR, "src", "ytcachectl")
SCHEMA = os.path.join(SRCDIR, "sql", "schema.sql")
FAKE_UPSTREAM = os.path.join(SRCDIR, "tests", "fake_upstream.py")
DATADIR = os.path.join(SRCDIR, "tests", "data")
TEMPLATE = os.path.join(BUILDDIR, "tests", ".mariadb-template")

SERVER_KEY = "AIzaSyFAKE-server-key-0001"
DB_USER = "ytcache"
DB_PASSWORD = "Ytc-DB-s3cret-Pw-7781"
DB_NAME = "ytcache"

def which(name, env=None):
    """The program named by $env, else NAME on PATH (mariadbd, nginx and
    fcgiwrap usually live in an sbin directory: it must be on PATH), or None."""
    if env and os.environ.get(env):
        return os.environ[env]
    return shutil.which(name)


def _not_found(what, env):
    bail("%s not found on PATH (add its directory to PATH or set %s)" % (what, env))


# ------------------------------------------------------------------ TAP

_tap_lock = threading.RLock()
_tap = {"n": 0, "failed": 0, "planned": None, "done": False}


def _out(line):
    with _tap_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def plan(n):
    _tap["planned"] = n
    _out("1..%d" % n)


def diag(*msgs):
    text = " ".join(str(m) for m in msgs)
    with _tap_lock:
        for line in (text.splitlines() or [""]):
            _out("# " + line)


note = diag


def _caller():
    for fr in reversed(traceback.extract_stack()[:-1]):
        if os.path.abspath(fr.filename) != os.path.abspath(__file__):
            return "%s line %d" % (os.path.basename(fr.filename), fr.lineno)
    return "?"


def ok(cond, name=""):
    cond = bool(cond)
    with _tap_lock:
        _tap["n"] += 1
        _out("%s %d - %s" % ("ok" if cond else "not ok", _tap["n"], name))
        if not cond:
            _tap["failed"] += 1
            diag("  Failed test '%s'" % name, "\n  at " + _caller())
    return cond


def _short(v, limit=600):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def is_(got, expected, name=""):
    r = ok(got == expected, name)
    if not r:
        diag("         got: " + _short(got))
        diag("    expected: " + _short(expected))
    return r


def isnt(got, unexpected, name=""):
    r = ok(got != unexpected, name)
    if not r:
        diag("         got: " + _short(got))
        diag("    expected: anything else")
    return r


def like(got, regex, name=""):
    r = ok(got is not None and re.search(regex, got) is not None, name)
    if not r:
        diag("         got: " + _short(got))
        diag("    expected: match for /%s/" % regex)
    return r


def cmp_ok(got, op, expected, name=""):
    ops = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
           ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
           "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
           "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}
    try:
        cond = ops[op](got, expected)
    except TypeError:
        cond = False
    r = ok(cond, name)
    if not r:
        diag("    %s" % _short(got))
        diag("        %s" % op)
        diag("    %s" % _short(expected))
    return r


def failed():
    return _tap["failed"]


def skip(reason, count=1):
    for _ in range(count):
        with _tap_lock:
            _tap["n"] += 1
            _out("ok %d # skip %s" % (_tap["n"], reason))


def skip_all(reason):
    _tap["done"] = True
    _out("1..0 # SKIP %s" % reason)
    sys.exit(0)


def bail(reason):
    _tap["done"] = True
    _out("Bail out! %s" % reason)
    _dump_logs_on_failure(force=True)
    sys.exit(255)


def done_testing():
    """Stop everything, fail on sanitizer reports in the logs, print the
    plan and exit (status 1 if anything failed)."""
    _tap["done"] = True
    signal.alarm(60)
    stop_all()
    signal.alarm(0)
    reports = sanitizer_reports()
    if reports:
        ok(False, "no sanitizer report in the logs")
        for line in reports[:40]:
            diag("  " + line)
    n = _tap["n"]
    bad = _tap["failed"]
    if _tap["planned"] is None:
        _out("1..%d" % n)
    elif _tap["planned"] != n:
        diag("planned %d tests but ran %d" % (_tap["planned"], n))
        bad += 1
    if bad:
        diag("failed %d of %d tests" % (_tap["failed"], n))
        _dump_logs_on_failure()
    sys.exit(1 if bad else 0)


def _excepthook(etype, value, tb):
    if etype is SystemExit:
        return
    _tap["done"] = True
    with _tap_lock:
        for line in "".join(traceback.format_exception(etype, value, tb)).splitlines():
            _out("# " + line)
        _tap["n"] += 1
        _tap["failed"] += 1
        _out("not ok %d - uncaught %s: %s" % (_tap["n"], etype.__name__, value))
        if _tap["planned"] is None:
            _out("1..%d" % _tap["n"])
    _dump_logs_on_failure()


sys.excepthook = _excepthook


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout("test exceeded YTC_TEST_TIMEOUT=%s s"
                      % os.environ.get("YTC_TEST_TIMEOUT", "120"))


def _on_term(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGALRM, _on_alarm)
signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGINT, _on_term)
signal.alarm(int(os.environ.get("YTC_TEST_TIMEOUT", "120")))


# ------------------------------------------------------------------ helpers

def wait_for(cond, timeout=10.0, interval=0.05, what=None):
    """Poll cond() until it returns a true value or timeout passes.
    Returns the last value (false on timeout).  No other waiting is done
    anywhere in the harness."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except Exception as e:  # a condition that raises counts as false
            v = None
            last_exc = e
        else:
            last_exc = None
        if v:
            return v
        if time.monotonic() >= deadline:
            if what:
                diag("timed out after %.1f s waiting for %s%s" %
                     (timeout, what, (" (last error: %s)" % last_exc) if last_exc else ""))
            return v
        time.sleep(interval)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_connect(addr):
    """addr: ('127.0.0.1', port) or a unix socket path."""
    try:
        if isinstance(addr, str):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        s.connect(addr)
        s.close()
        return True
    except OSError:
        return False


def vid(tag):
    """A valid-looking 11-character YouTube video id made from tag."""
    t = re.sub(r"[^A-Za-z0-9_-]", "", tag)
    return (t + "_" * 11)[:11] if len(t) < 11 else t[:11]


def q(params):
    """Percent-encode an ordered list (or dict) of (name, value) pairs."""
    items = params.items() if isinstance(params, dict) else params
    return "&".join("%s=%s" % (urllib.parse.quote(str(k), safe=""),
                               urllib.parse.quote(str(v), safe=","))
                    for k, v in items)


def parse_query(s):
    return urllib.parse.parse_qsl(s or "", keep_blank_values=True)


def metric_samples(text):
    """The samples of a Prometheus text page: {'name{labels}': value}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def load_data(relpath):
    with open(os.path.join(DATADIR, relpath), "rb") as f:
        data = f.read()
    return json.loads(data) if relpath.endswith(".json") else data


def key_label(secret):
    """The api_keys label ytcache gives a key from the config's [upstream]
    keys: config-<first 8 hex of SHA-256(key)>."""
    return "config-" + hashlib.sha256(secret.encode()).hexdigest()[:8]


def _nth_sunday(year, month, n):
    d = datetime.date(year, month, 1)
    d += datetime.timedelta(days=(6 - d.weekday()) % 7)
    return d + datetime.timedelta(weeks=n - 1)


def _pacific_offset(utc):
    """UTC offset of America/Los_Angeles at the aware UTC datetime utc, by
    the US rule (PDT from the second Sunday in March 2:00 PST to the first
    Sunday in November 2:00 PDT)."""
    y = utc.year
    start = datetime.datetime.combine(_nth_sunday(y, 3, 2), datetime.time(10), datetime.timezone.utc)
    end = datetime.datetime.combine(_nth_sunday(y, 11, 1), datetime.time(9), datetime.timezone.utc)
    return datetime.timedelta(hours=-7 if start <= utc < end else -8)


def _pacific_tz():
    try:
        import zoneinfo
        return zoneinfo.ZoneInfo("America/Los_Angeles")
    except Exception:   # no zoneinfo module or no tz database
        return None


def pacific_now(now=None):
    """Now (or the epoch time now) as an aware datetime in America/Los_Angeles."""
    utc = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    tz = _pacific_tz()
    if tz is not None:
        return utc.astimezone(tz)
    return utc.astimezone(datetime.timezone(_pacific_offset(utc)))


def pacific_date(now=None):
    """Today's date in America/Los_Angeles, 'YYYY-MM-DD' (key_usage.day)."""
    return pacific_now(now).date().isoformat()


def secs_to_pacific_midnight(now=None):
    """Seconds from now to the next midnight in America/Los_Angeles, when
    the YouTube Data API quota resets (23- and 25-hour days included)."""
    now = time.time() if now is None else now
    local = pacific_now(now)
    nxt = local.date() + datetime.timedelta(days=1)
    tz = _pacific_tz()
    if tz is not None:
        midnight = datetime.datetime.combine(nxt, datetime.time(0), tz).timestamp()
    else:
        naive = datetime.datetime.combine(nxt, datetime.time(0))
        # the offset in force at midnight: try the offset of now, then the other
        for off in (local.utcoffset(), datetime.timedelta(hours=-7), datetime.timedelta(hours=-8)):
            cand = (naive - off).replace(tzinfo=datetime.timezone.utc)
            if _pacific_offset(cand) == off:
                break
        midnight = cand.timestamp()
    return midnight - now


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


# ------------------------------------------------------------------ processes and cleanup

_procs = []          # Proc objects, stopped in reverse order
_foreign_pids = []   # pids we own but did not fork directly (spawn-fcgi children)
_tmpdirs = []
_cleanup_lock = threading.Lock()
_cleaned = {"done": False}


def _proc_text(pid, what):
    try:
        with open("/proc/%d/%s" % (pid, what), "rb") as f:
            return f.read()
    except OSError:
        return b""


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    # state is the field after the ")" of the command name
    return st[st.rindex(")") + 2] not in "ZX"


def _pid_owned(pid, marker):
    """True when pid's command line or environment mentions marker (our
    unique temporary directory): used before signalling any pid that is
    not our direct child, so that a recycled pid is never hit."""
    m = marker.encode()
    return m in _proc_text(pid, "cmdline") or m in _proc_text(pid, "environ")


def _signal_pid(pid, sig, marker):
    if _pid_alive(pid) and _pid_owned(pid, marker):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _reap(pids=None):
    """Collect exit statuses of orphans re-parented to us (we are a child
    subreaper), so nothing is left behind, not even a zombie."""
    for pid in (pids if pids is not None else [-1]):
        while True:
            try:
                got, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if got == 0 or pid != -1:
                break


def stop_pids(pids, marker, timeout=10.0):
    for pid in pids:
        _signal_pid(pid, signal.SIGTERM, marker)
    if not wait_for(lambda: not any(_pid_alive(p) for p in pids), timeout):
        for pid in pids:
            _signal_pid(pid, signal.SIGKILL, marker)
        wait_for(lambda: not any(_pid_alive(p) for p in pids), 5.0)
    _reap(pids)


def _become_subreaper():
    """Orphaned descendants (spawn-fcgi's children, workers whose parent
    died) are re-parented to this process instead of init, so they can be
    waited for."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


_become_subreaper()


def netns_argv(netns):
    """The argv prefix that runs a program in network namespace netns
    (none: [])."""
    return ["ip", "netns", "exec", netns] if netns else []


class Proc:
    """A child process in its own session (so its whole process group can
    be signalled), with stdout and stderr appended to logs/NAME.log."""

    def __init__(self, tmp, name, argv, env=None, stdin=subprocess.DEVNULL, cwd=None):
        self.name = name
        self.argv = argv
        self.log = os.path.join(tmp, "logs", name + ".log")
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        with open(self.log, "ab") as logf:
            logf.write(("### %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(argv))).encode())
            logf.flush()
            self.p = subprocess.Popen(argv, stdin=stdin, stdout=logf, stderr=subprocess.STDOUT,
                                      env=env, cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        _procs.append(self)

    def alive(self):
        return self.p.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except OSError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        if self.alive():
            self.signal_group(sig)
            self.signal_group(signal.SIGCONT)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.p.wait(10)
        # stragglers of the group (workers that outlived their parent)
        self.signal_group(signal.SIGKILL)
        if self in _procs:
            _procs.remove(self)
        return self.p.returncode

    def kill(self):
        return self.stop(signal.SIGKILL, 10.0)

    def children(self):
        return child_pids(self.pid)

    def log_text(self):
        return read_file(self.log).decode("utf-8", "replace")


def child_pids(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _proc_text(int(d), "stat").decode("ascii", "replace")
            if st:
                fields = st[st.rindex(")") + 2:].split()
                if len(fields) > 1 and fields[1] == str(ppid) and fields[0] not in "ZX":
                    out.append(int(d))
    return sorted(out)


def _stop_order(p):
    if p.name.startswith("nginx"):
        return 0
    if p.name.startswith(("ytcache", "fcgiwrap")):
        return 1
    if p.name.startswith("mariadb"):
        return 3
    return 2


def stop_all():
    """Stop everything started (web server first, database last), so that
    the ytcache processes exit normally and write any sanitizer report."""
    procs = sorted(reversed(list(_procs)), key=_stop_order)
    foreign_done = False
    for p in procs:
        if _stop_order(p) >= 2 and not foreign_done:
            foreign_done = True
            for tmp in _tmpdirs:
                stop_pids([x for x in _foreign_pids if _pid_alive(x)], tmp)
        try:
            p.stop(timeout=20.0 if p.name.startswith("mariadb") else 10.0)
        except Exception as e:  # keep going: everything must stop
            sys.stderr.write("yth cleanup: %s: %s\n" % (p.name, e))
    for tmp in _tmpdirs:
        # anything still running that mentions our private directory is ours
        leftovers = [int(d) for d in os.listdir("/proc")
                     if d.isdigit() and int(d) != os.getpid() and _pid_alive(int(d))
                     and _pid_owned(int(d), tmp)]
        leftovers += [p for p in _foreign_pids if _pid_alive(p)]
        if leftovers:
            stop_pids(sorted(set(leftovers)), tmp, timeout=5.0)
    _reap()


SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)"
                          r"|runtime error: |SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_reports():
    """Lines of sanitizer reports found in the ytcache-side logs."""
    out = []
    for tmp in _tmpdirs:
        logdir = os.path.join(tmp, "logs")
        if not os.path.isdir(logdir):
            continue
        for fn in sorted(os.listdir(logdir)):
            if fn.startswith(("mariadb", "fake-upstream")):
                continue
            text = read_file(os.path.join(logdir, fn)).decode("utf-8", "replace")
            for i, line in enumerate(text.splitlines()):
                if SANITIZER_RE.search(line):
                    out.append("%s:%d: %s" % (fn, i + 1, line.strip()[:300]))
    return out


def cleanup():
    with _cleanup_lock:
        if _cleaned["done"]:
            return
        _cleaned["done"] = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.alarm(0)
    stop_all()
    for tmp in _tmpdirs:
        seen = os.environ.get("YTC_SQL_SEEN")
        glog = os.path.join(tmp, "mariadb", "general.log")
        if seen and os.path.exists(glog):
            os.makedirs(seen, exist_ok=True)
            shutil.copy(glog, os.path.join(seen, "%s-%d.log" % (os.path.basename(sys.argv[0]), os.getpid())))
        if os.environ.get("YTC_KEEP"):
            sys.stdout.write("# YTC_KEEP: kept %s\n" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


atexit.register(cleanup)


def make_tmpdir():
    tmp = tempfile.mkdtemp(prefix="ytc-")
    os.chmod(tmp, 0o755)
    _tmpdirs.append(tmp)
    os.makedirs(os.path.join(tmp, "logs"))
    return tmp


def _dump_logs_on_failure(force=False):
    """On failure print the tail of the ytcache-side logs as diagnostics."""
    for tmp in _tmpdirs:
        logdir = os.path.join(tmp, "logs")
        if not os.path.isdir(logdir):
            continue
        for fn in sorted(os.listdir(logdir)):
            if not (fn.startswith(("ytcache", "spawn", "fcgiwrap", "nginx-error", "ctl"))
                    or (force and fn.startswith("mariadb"))):
                continue
            lines = read_file(os.path.join(logdir, fn)).decode("utf-8", "replace").splitlines()
            if lines:
                diag("---- last lines of %s ----" % fn)
                for line in lines[-25:]:
                    diag("  " + line[:300])


# ------------------------------------------------------------------ MariaDB

class SQLError(Exception):
    pass


def _db_names():
    """ytcache's table and constraint names: the db_names table of src/db.c."""
    text = open(os.path.join(SRCDIR, "src", "db.c"), encoding="utf-8").read()
    m = re.search(r"const struct db_name db_names\[\] = \{(.*?)\n\};", text, re.S)
    if not m:
        raise SystemExit("yth: no db_names table in src/db.c")
    return re.findall(r'\{\s*"(\w+)",\s*(?:"[^"]*"|NULL)\s*\}', m.group(1))


DB_NAMES = _db_names()
# Tests run with the default [database] table_prefix; sql()/value()/count()
# put it before ytcache's table names in the SQL a test writes with bare
# names (FROM cache), as src/db.c does for ytcache's own statements.
TABLE_PREFIX = "ytcache_"
_SQL_PIECE = re.compile(r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|`[^`]*`?|--[^\n]*|#[^\n]*|/\*.*?(?:\*/|$)"
                        r"|[A-Za-z0-9_$]+|.", re.S)


def prefix_sql(query, prefix=None):
    """query with prefix (default TABLE_PREFIX) before every bare word that is
    one of ytcache's names; strings, comments and `backquoted` names as
    they are (the rule of db_prefix_names in src/db.c)."""
    prefix = TABLE_PREFIX if prefix is None else prefix
    if not prefix:
        return query
    return "".join(prefix + t if t in DB_NAMES else t for t in _SQL_PIECE.findall(query))


def table(name, prefix=None):
    """The name of ytcache's table `name` in the database (for information_schema)."""
    return (TABLE_PREFIX if prefix is None else prefix) + name


def lock_name(name, db=DB_NAME, prefix=None):
    """The GET_LOCK name ytcache uses for its lock `name` (db_lock in src/db.c)."""
    prefix = TABLE_PREFIX if prefix is None else prefix
    h = hashlib.sha256(("%s/%s/%s" % (db, prefix, name)).encode()).hexdigest()[:40]
    return name[:23] + ":" + h


def _unescape_batch(s):
    """Undo the escaping of `mariadb --batch` (\\n \\t \\0 \\\\)."""
    if "\\" not in s:
        return s
    out, i = [], 0
    m = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\", "r": "\r", "b": "\b"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(m.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


PROFILE = os.environ.get("YTC_DB_PROFILE", "")
if PROFILE not in ("", "mysql80"):
    raise SystemExit("YTC_DB_PROFILE: unknown profile %r (known: mysql80)" % PROFILE)
# MySQL 8.0's default sql_mode (its manual, "Server SQL Modes")
MYSQL80_SQL_MODE = ("ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION")
DST_ZONE = "America/New_York"


class MariaDB:
    """A private MariaDB server: own datadir, unix socket and loopback port.

    The database `ytcache` and the user ytcache@localhost / ytcache@127.0.0.1
    (password DB_PASSWORD) exist.  root@localhost has no password (this
    server listens on 127.0.0.1 only and lives for one test)."""

    def __init__(self, tmp, start=True, name="mariadb", netns=None, bind="127.0.0.1", port=None,
                 extra_args=()):
        """name: its directory and log (a second server beside the first:
        another name); netns: run it in that network namespace (ip netns
        exec), listening on bind (an address of that namespace);
        extra_args: more server options (a Galera node's wsrep ones)."""
        self.tmp = tmp
        self.extra_args = list(extra_args)
        self.procname = name
        self.netns = netns
        self.bind = bind
        self.dir = os.path.join(tmp, name)
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pidfile = os.path.join(self.dir, "mysqld.pid")
        self.port = port or free_port()
        self.user, self.password, self.name = DB_USER, DB_PASSWORD, DB_NAME
        self.mariadbd = which("mariadbd", "YTC_MARIADBD") or which("mysqld")
        self.client = which("mariadb", "YTC_MARIADB") or which("mysql")
        if not self.mariadbd or not self.client:
            _not_found("mariadbd / mariadb client", "YTC_MARIADBD / YTC_MARIADB")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        template = self._template()
        shutil.copytree(template, self.datadir, symlinks=True)
        self.proc = None
        self.starts = 0
        if start:
            self.start()

    # -- template datadir, made once per build tree under a lock
    def _server_args(self, datadir, sock, port, pidfile, tmpdir, profile=True, bind="127.0.0.1"):
        """profile: apply YTC_DB_PROFILE (not when the template is made:
        its time zone tables are not loaded yet)."""
        args = [self.mariadbd, "--no-defaults",
                "--datadir=" + datadir, "--socket=" + sock,
                "--port=%d" % port, "--bind-address=" + bind,
                "--pid-file=" + pidfile, "--tmpdir=" + tmpdir,
                "--skip-log-bin", "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
                "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=300",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--default-time-zone=" + os.environ.get("YTC_DB_TIME_ZONE", "+05:00")]
        if profile and os.environ.get("YTC_SQL_SEEN"):
            # every statement the server is sent, for tests/sqlport.py --coverage
            args += ["--general-log=1", "--general-log-file=" + os.path.join(os.path.dirname(datadir), "general.log")]
        if profile and PROFILE == "mysql80":
            # later options win: these replace the defaults above
            args += ["--sql-mode=" + MYSQL80_SQL_MODE,
                     "--default-time-zone=" + os.environ.get("YTC_DB_TIME_ZONE", DST_ZONE),
                     "--character-set-server=latin1", "--collation-server=latin1_swedish_ci",
                     "--max-allowed-packet=4M", "--innodb-default-row-format=compact"]
        if os.geteuid() == 0:
            args.append("--user=root")
        return args

    def _version(self):
        r = subprocess.run([self.mariadbd, "--version"], capture_output=True, text=True)
        return r.stdout.strip()

    def _template(self):
        os.makedirs(os.path.dirname(TEMPLATE), exist_ok=True)
        # lock the directory that holds the template: no lock file is left
        # behind (make distcheck wants a clean build tree after distclean)
        lockfd = os.open(os.path.dirname(TEMPLATE), os.O_RDONLY)
        try:
            fcntl.flock(lockfd, fcntl.LOCK_EX)
            return self._make_template()
        finally:
            shutil.rmtree("%s.tmp-%d" % (TEMPLATE, os.getpid()), ignore_errors=True)
            os.close(lockfd)

    def _make_template(self):
        marker = os.path.join(TEMPLATE, "ytc-template-version")
        want = self._version() + "\n" + DB_PASSWORD + "\ntz " + DST_ZONE + "\n"
        if read_file(marker).decode(errors="replace") == want:
            return TEMPLATE
        build = "%s.tmp-%d" % (TEMPLATE, os.getpid())
        shutil.rmtree(build, ignore_errors=True)
        os.makedirs(build)
        ddir = os.path.join(build, "data")
        install = which("mariadb-install-db", "YTC_MARIADB_INSTALL_DB") or \
            which("mysql_install_db")
        log = os.path.join(self.tmp, "logs", "mariadb-install.log")
        args = [install, "--no-defaults", "--datadir=" + ddir,
                "--auth-root-authentication-method=normal",
                "--skip-test-db", "--skip-name-resolve",
                "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"]
        if os.geteuid() == 0:
            args.append("--user=root")
        with open(log, "ab") as lf:
            rc = subprocess.run(args, stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, timeout=300).returncode
        if rc != 0:
            bail("mariadb-install-db failed (rc %d), see %s" % (rc, log))
        # boot it once to create the database and the users
        sock = os.path.join(build, "s.sock")
        port = free_port()
        p = Proc(self.tmp, "mariadb-template",
                 self._server_args(ddir, sock, port, os.path.join(build, "pid"), build, profile=False))
        if not wait_for(lambda: self._ping(sock) or not p.alive(), 60) or not p.alive():
            bail("template MariaDB did not start, see %s" % p.log)
        pw = DB_PASSWORD.replace("'", "''")
        self._sql(sock, None, ";".join([
            "CREATE DATABASE %s CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci" % DB_NAME,
            "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'" % (DB_USER, pw),
            "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'" % (DB_USER, pw),
            "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'localhost'" % (DB_NAME, DB_USER),
            "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'127.0.0.1'" % (DB_NAME, DB_USER),
            "FLUSH PRIVILEGES"]))
        # a daylight-saving zone for YTC_DB_PROFILE=mysql80 (the zone tables
        # are empty after mariadb-install-db)
        tzsql = which("mariadb-tzinfo-to-sql", "YTC_MARIADB_TZINFO_TO_SQL") or which("mysql_tzinfo_to_sql")
        zfile = os.path.join("/usr/share/zoneinfo", DST_ZONE)
        if tzsql and os.path.exists(zfile):
            r = subprocess.run([tzsql, zfile, DST_ZONE], capture_output=True, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                bail("mariadb-tzinfo-to-sql failed: %s" % r.stderr.decode(errors="replace"))
            self._sql(sock, "mysql", r.stdout.decode())
        if p.stop(signal.SIGTERM, 60) not in (0, None):
            bail("template MariaDB did not shut down cleanly, see %s" % p.log)
        for fn in ("s.sock", "pid"):
            try:
                os.unlink(os.path.join(build, fn))
            except OSError:
                pass
        with open(os.path.join(ddir, "ytc-template-version"), "w") as f:
            f.write(want)
        shutil.rmtree(TEMPLATE, ignore_errors=True)
        os.rename(ddir, TEMPLATE)
        shutil.rmtree(build, ignore_errors=True)
        return TEMPLATE

    # -- server control
    def _ping(self, sock):
        try:
            self._sql(sock, None, "SELECT 1", timeout=5)
            return True
        except (SQLError, subprocess.TimeoutExpired):
            return False

    def start(self, timeout=60.0):
        if self.proc and self.proc.alive():
            return
        self.starts += 1
        for attempt in range(3):
            self.proc = Proc(self.tmp, self.procname,
                             netns_argv(self.netns) +
                             self._server_args(self.datadir, self.socket, self.port,
                                               self.pidfile, os.path.join(self.dir, "tmp"),
                                               bind=self.bind) + self.extra_args)
            if wait_for(lambda: not self.proc.alive() or self._ping(self.socket), timeout) \
                    and self.proc.alive():
                if PROFILE == "mysql80" and self.starts == 1:
                    # as on an old host: the database's default is latin1
                    self._sql(self.socket, None, "ALTER DATABASE %s CHARACTER SET latin1"
                              " COLLATE latin1_swedish_ci" % DB_NAME)
                return
            if "already in use" in self.proc.log_text() and attempt < 2:
                self.proc.stop()
                self.port = free_port()     # lost a race for the port: take another
                continue
            break
        bail("MariaDB did not start (see %s):\n%s" % (self.proc.log, self.proc.log_text()[-3000:]))

    def stop(self):
        """Clean shutdown (SIGTERM), waiting for it."""
        if self.proc:
            self.proc.stop(signal.SIGTERM, 60)

    def kill(self):
        """SIGKILL, as in a crash."""
        if self.proc:
            self.proc.kill()

    def pause(self):
        """SIGSTOP: the server hangs (connections open, nothing answered)."""
        if self.proc:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.proc:
            os.kill(self.proc.pid, signal.SIGCONT)

    def alive(self):
        return bool(self.proc and self.proc.alive() and self._ping(self.socket))

    def allow_from(self, host_pattern):
        """Let the ytcache user connect from host_pattern too (e.g.
        '10.77.0.%': the web hosts of a test's network namespaces)."""
        pw = DB_PASSWORD.replace("'", "''")
        self._sql(self.socket, None, ";".join([
            "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY '%s'" % (DB_USER, host_pattern, pw),
            "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%s'" % (DB_NAME, DB_USER, host_pattern)]))

    # -- queries
    def _sql(self, sock, db, query, timeout=30):
        # UTC, as ytcache's own sessions: NOW() in a test compares with what it wrote
        argv = [self.client, "--no-defaults", "--socket=" + sock, "--user=root",
                "--batch", "--skip-column-names", "--default-character-set=utf8mb4",
                "--init-command=SET time_zone = '+00:00'"]
        if db:
            argv.append("--database=" + db)
        argv += ["--execute=" + query]
        r = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise SQLError(r.stderr.decode("utf-8", "replace").strip())
        out = r.stdout.decode("utf-8", "surrogateescape")
        if not out:
            return []
        if out.endswith("\n"):
            out = out[:-1]
        rows = []
        for line in out.split("\n"):
            rows.append([None if c == "NULL" else _unescape_batch(c) for c in line.split("\t")])
        return rows

    def session(self):
        """(argv, env) of a client session on the server (root, over the
        socket; SQL on its standard input), e.g. to hold a lock."""
        return [self.client, "--no-defaults", "--socket=" + self.socket, "--user=root", "--batch",
                "--skip-column-names", "--database=" + DB_NAME], None

    def sql(self, query, db=DB_NAME, prefix=None):
        """Run query (as root, over the socket); return rows as lists of str
        (None for NULL; the batch escaping is undone, so multi-line values
        such as pretty-printed JSON come back intact).  ytcache's table
        names get the table prefix (prefix_sql; prefix="" sends it as is)."""
        return self._sql(self.socket, db, prefix_sql(query, prefix))

    def value(self, query, db=DB_NAME, prefix=None):
        rows = self.sql(query, db, prefix)
        return rows[0][0] if rows and rows[0] else None

    def count(self, where=None, table="cache", prefix=None):
        qry = "SELECT COUNT(*) FROM %s" % table
        if where:
            qry += " WHERE " + where
        return int(self.value(qry, prefix=prefix))


class ExternalDB:
    """An existing server named by YTC_TEST_DB (mysql://user:pass@host:port/prefix):
    a database of this test's own (prefix_<pid>) is made on it and dropped
    at exit.  Queries run as that user over TCP; the same interface as
    MariaDB for what tests do with the rows, none for stopping the server."""

    socket = None

    def __init__(self, tmp, url):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "mysql" or not u.hostname or not u.username:
            bail("YTC_TEST_DB: want mysql://user:password@host:port/prefix, not %r" % url)
        self.tmp = tmp
        self.host, self.port = u.hostname, u.port or 3306
        self.user = urllib.parse.unquote(u.username)
        self.password = urllib.parse.unquote(u.password or "")
        self.name = "%s_%d" % ((u.path.strip("/") or "ytctest"), os.getpid())
        self.client = which("mariadb", "YTC_MARIADB") or which("mysql")
        if not self.client:
            _not_found("mariadb / mysql client", "YTC_MARIADB")
        self.starts = 1
        self._sql(None, None, "DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s`" % (self.name, self.name))
        atexit.register(self._drop)

    def _drop(self):
        try:
            self._sql(None, None, "DROP DATABASE IF EXISTS `%s`" % self.name)
        except Exception as e:  # reported, not fatal: the test is over
            sys.stderr.write("yth: cannot drop %s: %s\n" % (self.name, e))

    def _sql(self, sock, db, query, timeout=30):
        argv = [self.client, "--no-defaults", "--protocol=TCP", "--host=" + self.host,
                "--port=%d" % self.port, "--user=" + self.user, "--batch", "--skip-column-names",
                "--default-character-set=utf8mb4", "--init-command=SET time_zone = '+00:00'"]
        if db:
            argv.append("--database=" + db)
        env = dict(os.environ, MYSQL_PWD=self.password)     # not on the command line
        r = subprocess.run(argv + ["--execute=" + query], capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, env=env)
        if r.returncode != 0:
            raise SQLError(r.stderr.decode("utf-8", "replace").strip())
        out = r.stdout.decode("utf-8", "surrogateescape")
        if out.endswith("\n"):
            out = out[:-1]
        return [[None if c == "NULL" else _unescape_batch(c) for c in line.split("\t")]
                for line in out.split("\n")] if out else []

    def session(self):
        return [self.client, "--no-defaults", "--protocol=TCP", "--host=" + self.host, "--port=%d" % self.port,
                "--user=" + self.user, "--batch", "--skip-column-names", "--database=" + self.name], \
            dict(os.environ, MYSQL_PWD=self.password)

    def sql(self, query, db=None, prefix=None):
        return self._sql(None, self.name if db in (None, DB_NAME) else db, prefix_sql(query, prefix))

    def value(self, query, db=None, prefix=None):
        rows = self.sql(query, db, prefix)
        return rows[0][0] if rows and rows[0] else None

    def count(self, where=None, table="cache", prefix=None):
        return MariaDB.count(self, where, table, prefix)

    def alive(self):
        return True

    def _cannot(self, *a, **kw):
        bail("this test stops or pauses its database server: not with YTC_TEST_DB")

    start = stop = kill = pause = resume = _cannot


def database(tmp):
    """The test's database server: YTC_TEST_DB's, else a private MariaDB."""
    url = os.environ.get("YTC_TEST_DB")
    return ExternalDB(tmp, url) if url else MariaDB(tmp)


def sql_str(s):
    """A SQL string literal."""
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


# ------------------------------------------------------------------ fake upstream

class FakeServer:
    """One of the fake servers (tests/fake_upstream.py, tests/fake_hub.py;
    their main is tests/lib/fakeserve.py) on a loopback port, and the JSON
    client of its /__ control endpoints."""

    what = "fake server"     # for messages
    timeout = 10             # seconds per control call
    host = "127.0.0.1"       # where it listens (see netns)
    netns = None             # a network namespace to run it in

    def _start(self, tmp, name, script, args=()):
        """Run script on a free port; its log and port file are named name*."""
        self.portfile = os.path.join(tmp, name + ".port")
        argv = netns_argv(self.netns) + [sys.executable or "python3", script, "--port", "0",
                                         "--portfile", self.portfile, "--bind", self.host] + list(args)
        self.proc = Proc(tmp, name, argv)
        if not wait_for(lambda: os.path.exists(self.portfile) or not self.proc.alive(), 30) \
                or not self.proc.alive():
            bail("%s did not start:\n" % self.what + self.proc.log_text()[-2000:])
        self.port = int(read_file(self.portfile).decode().strip())

    def _call(self, method, path, body=None):
        """A control call: body (if not None) as JSON; the JSON answer, or
        RuntimeError unless the fake answered 200."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            raw = r.read()
            if r.status != 200:
                raise RuntimeError("%s %s %s: %d %r" % (self.what, method, path, r.status, raw))
            return json.loads(raw)
        finally:
            c.close()


class FakeUpstream(FakeServer):
    """tests/fake_upstream.py on a loopback port.  demo=True starts it with
    --demo (made-up believable data marked "simulated": true, pictures
    under /demo-media/; media_base passes --media-base); its files are
    then named fake-upstream-demo* (or name*), so it can run beside another."""

    what = "fake upstream"

    def __init__(self, tmp, keys=(SERVER_KEY,), demo=False, media_base=None, name=None,
                 netns=None, host=None):
        self.tmp = tmp
        self.demo = demo
        if netns:
            self.netns = netns
        if host:
            self.host = host
        name = name or ("fake-upstream-demo" if demo else "fake-upstream")
        self.keys = list(keys)
        args = ["--keys", ",".join(self.keys)]
        if demo:
            args.append("--demo")
            if media_base:
                args += ["--media-base", media_base]
        self._start(tmp, name, FAKE_UPSTREAM, args)
        self.base_url = "http://%s:%d/youtube/v3" % (self.host, self.port)

    def stats(self):
        return self._call("GET", "/__stats")

    def calls(self):
        return self.stats()["calls"]

    def reset(self):
        return self._call("POST", "/__reset", {})

    def mode(self, mode="ok", delay_ms=0, pad_bytes=0, times=None, keys=None, key_modes=None,
             key_quota=None):
        """Set the failure mode (see tests/fake_upstream.py); keys replaces
        the valid keys, key_modes maps a key to a mode of its own,
        key_quota ({KEY: {BUCKET: units}}) sets per-key daily limits (kept
        until given again or reset())."""
        spec = {"mode": mode, "delay_ms": delay_ms, "pad_bytes": pad_bytes}
        if key_modes:
            spec["key_modes"] = dict(key_modes)
        if key_quota is not None:
            spec["key_quota"] = {k: dict(v) for k, v in key_quota.items()}
        if times is not None:
            spec["times"] = times
        if keys is not None:
            spec["keys"] = list(keys)
        return self._call("POST", "/__mode", spec)

    def units(self, key=SERVER_KEY, bucket="default", stats=None):
        """Units the fake charged to key's bucket since the last reset."""
        return ((stats or self.stats())["units"].get(key) or {}).get(bucket, 0)

    def ok_calls(self, key=SERVER_KEY, bucket="default", stats=None):
        """Calls with key in bucket that the fake answered 200."""
        return ((stats or self.stats())["ok_calls"].get(key) or {}).get(bucket, 0)

    def bucket_calls(self, bucket, stats=None):
        """Calls (any key, any answer) in bucket."""
        return (stats or self.stats())["buckets"].count(bucket)

    def wait_calls(self, n, timeout=10.0):
        """Poll until the fake has seen at least n calls; return the count."""
        wait_for(lambda: self.calls() >= n, timeout, what="%d upstream calls" % n)
        return self.calls()

    def body(self, path_and_query):
        """Ask the fake directly (with the server key) and return its bytes."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            sep = "&" if "?" in path_and_query else "?"
            c.request("GET", "/youtube/v3/" + path_and_query.lstrip("/") + sep + "key=" + self.keys[0])
            return c.getresponse().read()
        finally:
            c.close()


# ------------------------------------------------------------------ config and ctl

DEFAULT_TTL = {"videos": 3600, "videos.chart": 900, "search": 21600}


def config_text(db_server=None, fake=None, **sections):
    """The text of an ytcache.conf.  sections: server=, database=,
    upstream=, cache=, ttl=, quota= dicts; a None value removes a key."""
    conf = {"server": {"log_level": "debug"},
            "database": {}, "upstream": {}, "cache": {}, "ttl": dict(DEFAULT_TTL)}
    db = db_server
    if db is not None:
        conf["database"].update({"socket": db.socket, "user": db.user,
                                 "password": db.password, "name": db.name,
                                 "connect_timeout": 2, "retry_interval_ms": 200})
        if not db.socket:   # YTC_TEST_DB: over TCP
            del conf["database"]["socket"]
            conf["database"].update({"host": db.host, "port": db.port})
    if fake is not None:
        conf["upstream"].update({"base_url": fake.base_url, "keys": SERVER_KEY,
                                 "connect_timeout_ms": 2000, "timeout_ms": 8000})
    conf["cache"]["lock_wait_ms"] = 10000
    # Many tests edit cache rows by hand in SQL (backdate, expire, corrupt)
    # and expect the next request to see it.  A worker trusts its hot-row
    # memory for hot_trust_ms (default 1000) before asking the database, so
    # the tests ask it every time; tests/integration/hot.py sets the window.
    conf["cache"]["hot_trust_ms"] = 0
    # The shared circuit breaker (default: 5 consecutive upstream failures
    # within 60 s open it for 30 s) would turn the many deliberate upstream
    # failures of the older tests into 503 upstreamUnavailable without any
    # upstream call.  Tests of the breaker itself (breaker.py) set it back.
    # The shipped per-client limits (5 searches and 100 default units per
    # client per hour) would refuse the many misses the older tests make from
    # one address; tests of the limits (climit.py) set them back (None).
    # Likewise the outage budget (5 default units per minute per process, no
    # search, while the database is down) for the older outage tests;
    # tests/integration/outage.py sets it back.
    conf["quota"] = {"breaker_failures": 1000, "client_units": 1000000, "client.search": 1000000,
                     "outage_units": 1000000, "outage.search": 1000000}
    for sec, vals in sections.items():
        d = conf.setdefault(sec, {})
        for k, v in (vals or {}).items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
    lines = ["; ytcache.conf written by tests/lib/yth.py"]
    for sec in conf:
        if not conf[sec]:
            continue
        lines.append("")
        lines.append("[%s]" % sec)
        for k, v in conf[sec].items():
            if isinstance(v, (list, tuple)):
                v = ",".join(str(x) for x in v)
            lines.append("%s = %s" % (k, v))
    return "\n".join(lines) + "\n"


def write_config(path, db_server=None, fake=None, **sections):
    """Write an ytcache.conf pointing at db_server (a MariaDB) and fake (a
    FakeUpstream); sections as in config_text."""
    with open(path, "w") as f:
        f.write(config_text(db_server, fake, **sections))
    os.chmod(path, 0o600)
    return path


def ytcachectl(conf, *args, tmp=None, timeout=60, env=None, input=None, netns=None):
    """Run ytcachectl --config CONF ARGS (input: bytes for its standard
    input, else none; netns: in that network namespace); returns
    CompletedProcess (bytes).  Its output is also appended to logs/ctl.log."""
    if not os.access(YTCACHECTL, os.X_OK):
        bail("%s not built" % YTCACHECTL)
    argv = netns_argv(netns) + [YTCACHECTL, "--config", conf] + list(args)
    if input is None:
        r = subprocess.run(argv, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, env=env)
    else:
        r = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, env=env)
    logdir = os.path.join(tmp or os.path.dirname(conf), "logs")
    if os.path.isdir(logdir):
        with open(os.path.join(logdir, "ctl.log"), "ab") as f:
            f.write(("### %s -> %d\n" % (" ".join(argv), r.returncode)).encode())
            f.write(r.stdout + r.stderr)
    return r


def migrate(conf):
    r = ytcachectl(conf, "migrate")
    if r.returncode != 0:
        bail("ytcachectl migrate failed (rc %d): %s" %
             (r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")))
    return r


_migrate = migrate      # Stack's argument of that name hides it


def make_portable():
    """Run `make portable` in the build tree (always: a portable/ left from
    older sources must not be what is tested), one test at a time (make
    check runs tests in parallel); return portable/'s path."""
    lockfd = os.open(BUILDDIR, os.O_RDONLY)     # a directory: no lock file left for distcheck
    try:
        fcntl.flock(lockfd, fcntl.LOCK_EX)
        r = subprocess.run(["make", "-C", BUILDDIR, "portable"], capture_output=True, timeout=600)
    finally:
        os.close(lockfd)
    if r.returncode != 0:
        bail("make portable failed: %s" % (r.stdout + r.stderr).decode("utf-8", "replace")[-2000:])
    return os.path.join(BUILDDIR, "portable")


# ------------------------------------------------------------------ ytcache launchers

def _require_binary():
    if not os.access(YTCACHE, os.X_OK):
        bail("%s not built (run make first)" % YTCACHE)


class Launcher:
    """Base: something that answers FastCGI at self.fastcgi (nginx syntax:
    'unix:PATH' or '127.0.0.1:PORT')."""
    kind = "?"
    extra_params = {}     # fastcgi_param lines nginx must add
    keep_conn = True

    def __init__(self, tmp, conf, workers=2, addr=None, name=None):
        _require_binary()
        self.tmp, self.conf, self.workers = tmp, conf, workers
        self.name = name or "ytcache-" + self.kind
        if addr is None:
            addr = os.path.join(tmp, self.name + ".sock")
        self.addr = addr
        if addr.startswith("/"):
            self.fastcgi = "unix:" + addr
            self.connect_addr = addr
        else:
            host, port = addr.rsplit(":", 1)
            self.fastcgi = addr
            self.connect_addr = (host, int(port))
        self.log = os.path.join(tmp, "logs", self.name + ".log")

    def _wait_listening(self, alive):
        if not wait_for(lambda: can_connect(self.connect_addr) or not alive(), 20) or not alive():
            bail("%s did not start listening on %s:\n%s" %
                 (self.kind, self.addr, read_file(self.log).decode("utf-8", "replace")[-3000:]))

    def _clear_socket(self):
        if self.addr.startswith("/") and os.path.exists(self.addr):
            os.unlink(self.addr)

    def pids(self):
        return []

    def alive_pids(self):
        return [p for p in self.pids() if _pid_alive(p)]

    def restart(self, conf=None):
        self.stop()
        if conf:
            self.conf = conf
        self.start()


class SpawnFcgi(Launcher):
    """spawn-fcgi -s SOCKET -F N -- ytcache, with YTCACHE_CONFIG in the
    environment (config='env') or --config (config='arg').  Each child's
    stderr is appended to logs/<name>.log (spawn-fcgi itself sends it
    nowhere, so the child is started through sh -c 'exec ... 2>>LOG')."""
    kind = "spawn-fcgi"

    def __init__(self, tmp, conf, workers=2, addr=None, config="env", name=None, env=None):
        super().__init__(tmp, conf, workers, addr, name)
        self.config = config
        self.env_extra = env or {}
        self._pids = []
        self.start()

    def start(self):
        self._clear_socket()
        sf = which("spawn-fcgi", "YTC_SPAWN_FCGI")
        sh = which("sh")
        if not sf:
            _not_found("spawn-fcgi", "YTC_SPAWN_FCGI")
        env = dict(os.environ)
        env.update(self.env_extra)
        env["YTC_STDERR_LOG"] = self.log
        app = [YTCACHE]
        if self.config == "env":
            env["YTCACHE_CONFIG"] = self.conf
        else:
            app += ["--config", self.conf]
        argv = [sf, "-F", str(self.workers)]
        if self.addr.startswith("/"):
            argv += ["-s", self.addr]
        else:
            host, port = self.addr.rsplit(":", 1)
            argv += ["-a", host, "-p", port]
        argv += ["--", sh, "-c", 'exec "$@" 2>>"$YTC_STDERR_LOG"', "sh"] + app
        r = subprocess.run(argv, capture_output=True, env=env, timeout=30,
                           stdin=subprocess.DEVNULL)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        with open(self.log, "a") as f:
            f.write("### spawn-fcgi: %s\n%s" % (" ".join(argv), out))
        self._pids = [int(m) for m in re.findall(r"PID: (\d+)", out)]
        _foreign_pids.extend(self._pids)
        if r.returncode != 0 or len(self._pids) != self.workers:
            bail("spawn-fcgi failed (rc %d): %s\n%s" %
                 (r.returncode, out, read_file(self.log).decode("utf-8", "replace")[-2000:]))
        self._wait_listening(lambda: any(_pid_alive(p) for p in self._pids))

    def pids(self):
        return list(self._pids)

    def stop(self):
        stop_pids(self._pids, self.tmp)
        self._pids = []


class Listen(Launcher):
    """ytcache --listen ADDR --workers N --config CONF."""
    kind = "listen"

    def __init__(self, tmp, conf, workers=2, addr=None, name=None, env=None, netns=None):
        super().__init__(tmp, conf, workers, addr, name)
        self.env_extra = env or {}
        self.netns = netns       # a network namespace to run it in (ip netns exec)
        self.proc = None
        self.start()

    def start(self):
        self._clear_socket()
        env = dict(os.environ)
        env.update(self.env_extra)
        env.pop("YTCACHE_CONFIG", None)
        argv = netns_argv(self.netns) + [YTCACHE, "--listen", self.addr, "--workers", str(self.workers),
                                         "--config", self.conf]
        self.proc = Proc(self.tmp, self.name, argv, env=env)
        self._wait_listening(self.proc.alive)
        # the workers are forked after the socket is open: wait for them
        wait_for(lambda: len(self.proc.children()) >= self.workers, 10,
                 what="%d ytcache --listen workers" % self.workers)

    def pids(self):
        if not self.proc:
            return []
        return [self.proc.pid] + self.proc.children()

    def worker_pids(self):
        return self.proc.children() if self.proc else []

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 10)
            self.proc = None


class Fcgiwrap(Launcher):
    """fcgiwrap -c N -s unix:SOCKET running ytcache as a CGI program; nginx
    passes SCRIPT_FILENAME (the binary) and YTCACHE_CONFIG as FastCGI params,
    which fcgiwrap turns into the CGI environment.  The CGI's stderr goes to
    fcgiwrap's stderr, i.e. logs/<name>.log."""
    kind = "fcgiwrap"
    keep_conn = False

    def __init__(self, tmp, conf, workers=2, addr=None, name=None):
        super().__init__(tmp, conf, workers, addr, name)
        self.extra_params = {"SCRIPT_FILENAME": YTCACHE, "YTCACHE_CONFIG": conf}
        self.proc = None
        self.start()

    def start(self):
        self._clear_socket()
        fw = which("fcgiwrap", "YTC_FCGIWRAP")
        if not fw:
            _not_found("fcgiwrap", "YTC_FCGIWRAP")
        sock = ("unix:" + self.addr) if self.addr.startswith("/") else ("tcp:" + self.addr)
        env = {k: v for k, v in os.environ.items() if k != "YTCACHE_CONFIG"}
        self.proc = Proc(self.tmp, self.name, [fw, "-c", str(self.workers), "-s", sock], env=env)
        self._wait_listening(self.proc.alive)

    def pids(self):
        return [self.proc.pid] + self.proc.children() if self.proc else []

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 10)
            self.proc = None


LAUNCHERS = {"spawn-fcgi": SpawnFcgi, "listen": Listen, "fcgiwrap": Fcgiwrap}


# ------------------------------------------------------------------ CGI, run directly

def parse_raw_response(out):
    """The bytes a server sent on a connection (head and body) as a
    Response; status None ("no status line") when it is not HTTP."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ?([^\r\n]*)\r\n", out)
    if not m:
        return Response(None, "no status line", [], out)
    head, _, body = out.partition(b"\r\n\r\n")
    hl = []
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            hl.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    return Response(int(m.group(1)), m.group(2).decode("latin-1"), hl, body)


class Response:
    def __init__(self, status, reason, header_list, body, elapsed=0.0):
        self.status = status
        self.reason = reason
        self.header_list = header_list          # [(name, value)] as received
        self.headers = {}
        for k, v in header_list:
            k = k.lower()
            self.headers[k] = (self.headers[k] + ", " + v) if k in self.headers else v
        self.body = body
        self.elapsed = elapsed

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def xcache(self):
        return self.headers.get("x-cache")

    def __repr__(self):
        return "<Response %s %s x-cache=%s %d bytes>" % (
            self.status, self.reason, self.xcache, len(self.body or b""))


def parse_cgi_output(out):
    """Split a CGI program's stdout into a Response (status from Status:)."""
    sep = re.search(rb"\r?\n\r?\n", out)
    if not sep:
        return Response(None, "no header/body separator", [], out)
    head, body = out[:sep.start()], out[sep.end():]
    hl = []
    for line in re.split(rb"\r?\n", head):
        if b":" in line:
            k, v = line.split(b":", 1)
            hl.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    status, reason = None, ""
    for k, v in hl:
        if k.lower() == "status":
            m = re.match(r"(\d{3})\s*(.*)", v)
            if m:
                status, reason = int(m.group(1)), m.group(2)
    r = Response(status, reason, hl, body)
    return r


def run_cgi(conf=None, method="GET", path_info=None, query="", headers=None,
            env=None, stdin=b"", tmp=None, use_env_config=True, timeout=30):
    """Run ytcache as a CGI program (no FastCGI) for one request; return
    (Response, returncode, stderr bytes)."""
    _require_binary()
    e = {"PATH": os.environ.get("PATH", ""), "GATEWAY_INTERFACE": "CGI/1.1",
         "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
         "QUERY_STRING": query, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
         "REMOTE_ADDR": "127.0.0.1", "SCRIPT_NAME": "/cgi-bin/ytcache",
         "REQUEST_URI": "/cgi-bin/ytcache%s%s" % (path_info or "", ("?" + query) if query else "")}
    if path_info is not None:
        e["PATH_INFO"] = path_info
    if conf and use_env_config:
        e["YTCACHE_CONFIG"] = conf
    for k, v in (headers or {}).items():
        e["HTTP_" + k.upper().replace("-", "_")] = v
    if stdin:
        e["CONTENT_LENGTH"] = str(len(stdin))
    e.update(env or {})
    e = {k: v for k, v in e.items() if v is not None}
    t0 = time.monotonic()
    p = subprocess.run([YTCACHE], input=stdin, capture_output=True, env=e, timeout=timeout)
    r = parse_cgi_output(p.stdout)
    r.elapsed = time.monotonic() - t0
    r.raw = p.stdout
    if tmp:
        with open(os.path.join(tmp, "logs", "ytcache-cgi.log"), "ab") as f:
            f.write(("### CGI %s %s?%s -> rc %d\n" % (method, path_info, query, p.returncode)).encode())
            f.write(p.stderr)
    return r, p.returncode, p.stderr


# ------------------------------------------------------------------ nginx

FASTCGI_PARAMS = """\
        fastcgi_param QUERY_STRING       $query_string;
        fastcgi_param REQUEST_METHOD     $request_method;
        fastcgi_param CONTENT_TYPE       $content_type;
        fastcgi_param CONTENT_LENGTH     $content_length;
        fastcgi_param SCRIPT_NAME        $fastcgi_script_name;
        fastcgi_param REQUEST_URI        $request_uri;
        fastcgi_param DOCUMENT_URI       $document_uri;
        fastcgi_param DOCUMENT_ROOT      $document_root;
        fastcgi_param SERVER_PROTOCOL    $server_protocol;
        fastcgi_param REQUEST_SCHEME     $scheme;
        fastcgi_param HTTPS              $https if_not_empty;
        fastcgi_param GATEWAY_INTERFACE  CGI/1.1;
        fastcgi_param SERVER_SOFTWARE    nginx/$nginx_version;
        fastcgi_param REMOTE_ADDR        $remote_addr;
        fastcgi_param REMOTE_PORT        $remote_port;
        fastcgi_param SERVER_ADDR        $server_addr;
        fastcgi_param SERVER_PORT        $server_port;
        fastcgi_param SERVER_NAME        $server_name;
        fastcgi_param REDIRECT_STATUS    200;
"""


class Nginx:
    """nginx in front of one or more launchers (host: the address it listens
    on and is asked at; netns: a network namespace to run it in).

    mounts: list of (prefix, launcher) or (prefix, launcher, path_info) where
    path_info is "uri" (PATH_INFO = $uri, for prefix "/"), "split" (PATH_INFO
    = the part after the prefix), or None (no PATH_INFO: ytcache must route
    on REQUEST_URI)."""

    host = "127.0.0.1"
    netns = None

    def __init__(self, tmp, mounts, workers=1, name="nginx"):
        self.tmp = tmp
        self.name = name
        self.dir = os.path.join(tmp, name)
        self.port = free_port()
        self.mounts = [m if len(m) == 3 else (m[0], m[1], "uri" if m[0] == "/" else "split")
                       for m in mounts]
        self.workers = workers
        self.bin = which("nginx", "YTC_NGINX")
        if not self.bin:
            _not_found("nginx", "YTC_NGINX")
        self.proc = None
        self.start()

    def conf_text(self):
        d = self.dir
        out = ["daemon off;", "master_process on;",
               "worker_processes %d;" % self.workers,
               "pid %s/nginx.pid;" % d,
               "error_log %s/logs/%s-error.log notice;" % (self.tmp, self.name)]
        if os.geteuid() == 0:
            out.append("user root;")
        out += ["events { worker_connections 1024; }", "http {",
                "    access_log %s/logs/%s-access.log;" % (self.tmp, self.name),
                "    client_body_temp_path %s/client_body;" % d,
                "    fastcgi_temp_path %s/fastcgi_temp;" % d,
                "    proxy_temp_path %s/proxy_temp;" % d,
                "    uwsgi_temp_path %s/uwsgi_temp;" % d,
                "    scgi_temp_path %s/scgi_temp;" % d,
                "    large_client_header_buffers 4 64k;",
                "    server_tokens off;",
                "    default_type application/octet-stream;"]
        # One upstream{} per launcher.  libfcgi serves a kept-alive FastCGI
        # connection until nginx closes it, so every idle connection in
        # nginx's keepalive pool pins one ytcache process: the pool must be
        # smaller than the number of processes, or new connections wait in
        # the listen backlog until fastcgi_read_timeout.
        self.backends = []
        for prefix, l, _ in self.mounts:
            if l not in self.backends:
                self.backends.append(l)
        for i, l in enumerate(self.backends):
            pool = self.keepalive_pool(l)
            out.append("    upstream backend%d { server %s; %s}" %
                       (i, l.fastcgi, ("keepalive %d; " % pool) if pool else ""))
        out += ["    server {",
                "        listen 127.0.0.1:%d;" % self.port,
                "        server_name localhost;",
                "        root %s/html;" % d]
        for i, (prefix, l, pi) in enumerate(self.mounts):
            out.append("        location %s {" % prefix)
            out.append(FASTCGI_PARAMS.rstrip("\n"))
            if pi == "uri":
                out.append("        fastcgi_param PATH_INFO $uri;")
            elif pi == "split":
                p = re.escape(prefix.rstrip("/"))
                out.append("        fastcgi_split_path_info ^(%s)(/.*)$;" % p)
                out.append("        fastcgi_param PATH_INFO $fastcgi_path_info;")
            for k, v in l.extra_params.items():
                out.append("        fastcgi_param %s %s;" % (k, v))
            if self.keepalive_pool(l):
                out.append("        fastcgi_keep_conn on;")
            out.append("        fastcgi_read_timeout 60s;")
            out.append("        fastcgi_pass backend%d;" % self.backends.index(l))
            out.append("        }")
        out += ["    }", "}"]
        return "\n".join(out) + "\n"

    def keepalive_pool(self, launcher):
        if not launcher.keep_conn:
            return 0
        return max(0, (launcher.workers - 1) // self.workers)

    def start(self):
        os.makedirs(os.path.join(self.dir, "html"), exist_ok=True)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(self.conf_text())
        errlog = os.path.join(self.tmp, "logs", self.name + "-error.log")
        pidfile = os.path.join(self.dir, "nginx.pid")
        for attempt in range(3):
            if os.path.exists(pidfile):
                os.unlink(pidfile)
            self.proc = Proc(self.tmp, self.name + "-master",
                             netns_argv(self.netns) +
                             [self.bin, "-p", self.dir + "/", "-c", self.conf, "-e", errlog])
            # the pid file is written only once the listening socket is bound
            # (so a port taken by someone else is never mistaken for ours)
            if wait_for(lambda: not self.proc.alive() or (os.path.exists(pidfile) and
                                                          can_connect((self.host, self.port))), 20) \
                    and self.proc.alive():
                return
            self.proc.stop()
            if "in use" in read_file(errlog).decode(errors="replace") and attempt < 2:
                self.port = free_port()
                with open(self.conf, "w") as f:
                    f.write(self.conf_text())
                continue
            break
        bail("nginx did not start:\n%s\n%s" % (self.proc.log_text()[-2000:],
                                               read_file(errlog).decode(errors="replace")[-2000:]))

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGTERM, 10)
            self.proc = None

    def restart(self):
        self.stop()
        self.start()

    # -- clients
    def http(self, method, path, headers=None, body=None, timeout=60):
        t0 = time.monotonic()
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.getheaders(), data, time.monotonic() - t0)
        finally:
            c.close()

    def get(self, path, headers=None, **kw):
        return self.http("GET", path, headers, **kw)

    def raw(self, data, timeout=30):
        """Send raw bytes (a whole request, Connection: close); return the
        raw answer bytes."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            s.close()

    def raw_response(self, data, timeout=30):
        return parse_raw_response(self.raw(data, timeout))


# ------------------------------------------------------------------ the whole stack

class Stack:
    """MariaDB + fake upstream + ytcache (launcher) + nginx in one temp dir.

    config: dict of sections for write_config (e.g. {"cache": {"min_ttl": 1}})
    migrate: run ytcachectl migrate first (False: an empty database, which
            ytcache migrates itself unless [database] auto_migrate = no)
    mounts: prefixes nginx mounts ytcache at ("/" -> PATH_INFO=$uri,
            other prefixes -> PATH_INFO after the prefix); or full tuples.
    """

    def __init__(self, launcher="spawn-fcgi", workers=2, mounts=("/",), config=None,
                 fake_keys=(SERVER_KEY,), launcher_kw=None, nginx=True, migrate=True):
        self.tmp = make_tmpdir()
        diag("stack: %s, tmp %s" % (("%s, %d workers" % (launcher, workers)) if launcher
                                    else "no ytcache launcher", self.tmp))
        self.db = database(self.tmp)
        self.fake = FakeUpstream(self.tmp, keys=fake_keys)
        self.config = config or {}
        self.conf = os.path.join(self.tmp, "ytcache.conf")
        write_config(self.conf, self.db, self.fake, **self.config)
        if migrate:
            _migrate(self.conf)
        self.launcher = None
        self.nginx = None
        if launcher:
            self.launcher = LAUNCHERS[launcher](self.tmp, self.conf, workers, **(launcher_kw or {}))
            if nginx:
                ms = []
                for m in mounts:
                    m = (m,) if isinstance(m, str) else tuple(m)
                    ms.append((m[0], m[1] if len(m) > 1 and m[1] else self.launcher) + m[2:])
                self.nginx = Nginx(self.tmp, ms)

    # -- requests
    def http(self, method, path, headers=None, body=None, **kw):
        return self.nginx.http(method, path, headers, body, **kw)

    def get(self, path, headers=None, **kw):
        return self.nginx.http("GET", path, headers, **kw)

    def head(self, path, headers=None, **kw):
        return self.nginx.http("HEAD", path, headers, **kw)

    # -- configuration
    def write_config(self, path=None, **sections):
        return write_config(path or self.conf, self.db, self.fake, **sections)

    def reconfigure(self, **sections):
        """Rewrite ytcache.conf with these sections and restart ytcache (and
        nginx, so no FastCGI keep-alive connection to an old worker is
        reused)."""
        self.config = sections
        write_config(self.conf, self.db, self.fake, **sections)
        if self.launcher:
            self.launcher.restart()
        if self.nginx:
            self.nginx.restart()

    def ctl(self, *args, **kw):
        return ytcachectl(self.conf, *args, tmp=self.tmp, **kw)

    # -- quota state in the database
    def reset_quota(self, usage=True, keys=True, budgets=True, clients=True, breaker=True):
        """Forget today's quota state, as if a new Pacific day had begun
        and the admin had re-enabled every key: key_usage rows (ytcache
        makes new ones), disabled keys active again, region budgets,
        per-client limits, the circuit breaker closed."""
        stmts = []
        if usage:
            stmts.append("DELETE FROM key_usage")
        if keys:
            stmts.append("UPDATE api_keys SET state = 'active', disabled_reason = NULL")
        if budgets:
            stmts.append("DELETE FROM budget_usage")
        if clients:
            stmts.append("DELETE FROM client_limits")
        if breaker:
            stmts.append("UPDATE breaker SET state = 0, failures = 0, window_start = NULL, "
                         "opened_at = NULL, probe_until = NULL")
        if stmts:
            self.db.sql("; ".join(stmts))

    def key_usage(self, secret=None, bucket="default", day=None, label=None):
        """Today's key_usage row of a key (by secret or label) and bucket as
        a dict {used, calls, exhausted} of ints, or None."""
        label = label or key_label(secret or SERVER_KEY)
        rows = self.db.sql(
            "SELECT ku.used, ku.calls, ku.exhausted FROM key_usage ku JOIN api_keys k ON k.id = ku.key_id "
            "WHERE k.label = %s AND ku.bucket = %s AND ku.day = %s"
            % (sql_str(label), sql_str(bucket), sql_str(day or pacific_date())))
        if not rows:
            return None
        return {"used": int(rows[0][0]), "calls": int(rows[0][1]), "exhausted": int(rows[0][2])}

    def api_key(self, secret=None, label=None):
        """The api_keys row of a key (by secret or label) as a dict, or None."""
        label = label or key_label(secret or SERVER_KEY)
        rows = self.db.sql("SELECT id, label, fingerprint, source, state, disabled_reason, last_error "
                           "FROM api_keys WHERE label = %s" % sql_str(label))
        if not rows:
            return None
        return dict(zip(("id", "label", "fingerprint", "source", "state", "disabled_reason",
                         "last_error"), rows[0]))

    def breaker(self):
        """The breaker row: {state, failures} as ints."""
        rows = self.db.sql("SELECT state, failures FROM breaker WHERE name = 'upstream'")
        return {"state": int(rows[0][0]), "failures": int(rows[0][1])} if rows else None

    # -- inspection
    def rows(self, where=None):
        return self.db.count(where)

    def logs(self, include_upstream=False, include_access=True):
        """Concatenated bytes of every log file (the fake upstream's own
        log is left out unless asked: it is "Google's" side)."""
        out = []
        logdir = os.path.join(self.tmp, "logs")
        for fn in sorted(os.listdir(logdir)):
            if fn.startswith("fake-upstream") and not include_upstream:
                continue
            if "access" in fn and not include_access:
                continue
            out.append(read_file(os.path.join(logdir, fn)))
        return b"\n".join(out)

    def log_files(self):
        logdir = os.path.join(self.tmp, "logs")
        return [os.path.join(logdir, fn) for fn in sorted(os.listdir(logdir))]


# ------------------------------------------------------------------ assertions shared by tests


def reason(r):
    """errors[0].reason of a Google-shaped JSON error, None for anything else."""
    try:
        return r.json()["error"]["errors"][0]["reason"]
    except (TypeError, KeyError, IndexError, AttributeError):
        return None


def summary(results):
    """Answers counted by kind: "200 MISS", "503 quotaExhausted",
    "exception TimeoutError" (results of concurrent() may be exceptions)."""
    out = {}
    for r in results:
        k = ("exception %s" % type(r).__name__) if isinstance(r, Exception) else \
            "%s %s" % (r.status, r.xcache if r.status == 200 else reason(r))
        out[k] = out.get(k, 0) + 1
    return out


def check_error(r, status, reason=None, name="", location=None):
    """Assert r is a ytcache-made JSON error: status, Google's error shape,
    domain "ytcache", and the given reason.  Returns the parsed error or None."""
    label = name or ("%s -> %s" % (reason if isinstance(reason, str) else "/".join(reason or ()), status))
    good = is_(r.status, status, "%s: status %s" % (label, status))
    ct = r.header("content-type") or ""
    good &= like(ct, r"^application/json", "%s: JSON content type" % label)
    j = r.json()
    shape = (isinstance(j, dict) and isinstance(j.get("error"), dict)
             and j["error"].get("code") == status
             and isinstance(j["error"].get("message"), str) and j["error"]["message"]
             and isinstance(j["error"].get("errors"), list) and j["error"]["errors"]
             and isinstance(j["error"]["errors"][0], dict))
    good &= ok(shape, "%s: Google error shape with code %s" % (label, status))
    if not shape:
        diag("body: " + _short(r.body))
        return None
    e0 = j["error"]["errors"][0]
    good &= is_(e0.get("domain"), "ytcache", "%s: domain ytcache" % label)
    if isinstance(reason, (tuple, list)):
        good &= ok(e0.get("reason") in reason, "%s: reason one of %s" % (label, "/".join(reason)))
        if e0.get("reason") not in reason:
            diag("         got: %r" % e0.get("reason"))
    elif reason:
        good &= is_(e0.get("reason"), reason, "%s: reason %s" % (label, reason))
    if location:
        good &= is_(e0.get("location"), location, "%s: location %s" % (label, location))
    return j["error"] if good else j["error"]


def concurrent(fn, n, barrier=True):
    """Run fn(i) in n threads started together; return the list of results
    (an exception is returned in place of a result)."""
    results = [None] * n
    b = threading.Barrier(n) if barrier else None

    def run(i):
        try:
            if b:
                b.wait(30)
            results[i] = fn(i)
        except Exception as e:  # reported by the caller
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
