#!/usr/bin/python3
"""contrib/ytcache.socket + ytcache.service and ytcache-refresh.service +
ytcache-refresh.timer:

  * `systemd-analyze verify` accepts them (ExecStart pointed at the built
    programs, Documentation= man pages found in man/), with no warning;
    `systemd-analyze security --offline` rates the services well; the
    timer fires every 10 minutes.
  * socket activation, emulated the way systemd does it for
    StandardInput=socket: the test binds and listens on the unit's
    ListenStream= socket with its SocketMode=, starts the unit's ExecStart=
    with its Environment= and the socket as fd 0, and nginx running the
    shipped nginx/ytcache-fastcgi.conf (same socket path) does MISS then
    HIT through it: libfcgi accepts on fd 0.  SIGTERM stops it cleanly.
  * ytcache-refresh.service's ExecStart= with its Environment= runs once
    and exits 0.
No systemd needs to be running."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, diag, skip  # noqa: E402

UNITS = ["ytcache.socket", "ytcache.service", "ytcache-refresh.service", "ytcache-refresh.timer"]
REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")


def parse_unit(text):
    """{section: [(key, value), ...]} of a unit file (no line continuations)."""
    out, sec = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        m = re.match(r"^\[(.+)\]$", line)
        if m:
            sec = m.group(1)
            out.setdefault(sec, [])
            continue
        k, _, v = line.partition("=")
        out.setdefault(sec, []).append((k.strip(), v.strip()))
    return out


def values(unit, sec, key):
    return [v for k, v in unit.get(sec, []) if k == key]


def one(unit, sec, key):
    v = values(unit, sec, key)
    return v[-1] if v else None


def env_of(unit):
    env = {}
    for v in values(unit, "Service", "Environment"):
        for item in shlex.split(v):
            k, _, val = item.partition("=")
            env[k] = val
    return env


s = yth.Stack(launcher=None)          # MariaDB + fake upstream + config + migrate
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake
shipped = {u: ytdeploy.read_file(ytdeploy.shipped("contrib/" + u)).decode() for u in UNITS}
units = {u: parse_unit(t) for u, t in shipped.items()}
sock, svc, rsvc, timer = (units[u] for u in UNITS)

# ---------------------------------------------------------------- what the units say
is_(one(svc, "Service", "StandardInput"), "socket", "ytcache.service: StandardInput=socket")
ok(one(svc, "Service", "StandardOutput") not in (None, "inherit", "socket"),
   "ytcache.service: stdout not onto the socket (StandardOutput=%s)" % one(svc, "Service", "StandardOutput"))
is_(env_of(svc).get("YTCACHE_CONFIG"), "/etc/ytcache/ytcache.conf",
    "ytcache.service: Environment=YTCACHE_CONFIG=/etc/ytcache/ytcache.conf")
is_(env_of(rsvc).get("YTCACHE_CONFIG"), "/etc/ytcache/ytcache.conf",
    "ytcache-refresh.service: same configuration file")
ok("ytcache.socket" in " ".join(values(svc, "Unit", "Requires")), "ytcache.service requires ytcache.socket")
is_(one(sock, "Socket", "Accept"), "no", "ytcache.socket: Accept=no (one service, ytcache accepts)")
listen = one(sock, "Socket", "ListenStream")
ok(listen and ("unix:%s;" % listen) in
   ytdeploy.read_file(ytdeploy.shipped("nginx/ytcache-fastcgi.conf")).decode(),
   "ytcache.socket's ListenStream=%s is the socket nginx/ytcache-fastcgi.conf uses" % listen)
is_(one(rsvc, "Service", "Type"), "oneshot", "ytcache-refresh.service: Type=oneshot")
for u, unit in (("ytcache.service", svc), ("ytcache-refresh.service", rsvc)):
    for k in ("User", "NoNewPrivileges", "ProtectSystem", "PrivateTmp", "SystemCallFilter"):
        ok(values(unit, "Service", k), "%s: %s= set" % (u, k))
    ok(not values(unit, "Service", "DynamicUser") or one(unit, "Service", "DynamicUser") == "no",
       "%s: a fixed User= (it must read the configuration file)" % u)

# ---------------------------------------------------------------- systemd-analyze
sa = shutil.which("systemd-analyze")
if not sa:
    skip("systemd-analyze not installed (Debian package systemd)", 4)
else:
    udir = ytdeploy.mkdir(os.path.join(tmp, "units"))
    for u, text in shipped.items():
        text = text.replace("/usr/local/bin/ytcache-refresh", REFRESH)
        text = text.replace("/usr/local/bin/ytcache", yth.YTCACHE)
        ytdeploy.write(os.path.join(udir, u), text)
    man = os.path.join(tmp, "man")
    for fn in os.listdir(ytdeploy.shipped("man")):
        m = re.match(r".*\.(\d)$", fn)
        if m:
            ytdeploy.mkdir(os.path.join(man, "man" + m.group(1)))
            shutil.copyfile(ytdeploy.shipped("man/" + fn), os.path.join(man, "man" + m.group(1), fn))
    env = dict(os.environ, MANPATH=man, SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
    r = subprocess.run([sa, "verify"] + [os.path.join(udir, u) for u in UNITS],
                       capture_output=True, text=True, env=env, timeout=60, cwd=udir)
    ok(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
       "systemd-analyze verify: the four units, no error or warning")
    if r.returncode or (r.stdout + r.stderr).strip():
        diag(r.stdout + r.stderr)
    for u in ("ytcache.service", "ytcache-refresh.service"):
        r = subprocess.run([sa, "security", "--offline=yes", os.path.join(udir, u)],
                           capture_output=True, text=True, env=env, timeout=60, cwd=udir)
        m = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout + r.stderr)
        ok(m and float(m.group(1)) <= 2.0,
           "systemd-analyze security: %s exposure %s (at most 2.0)" % (u, m.group(1) if m else "?"))
        if not m:
            diag((r.stdout + r.stderr)[-1500:])
    cal = one(timer, "Timer", "OnCalendar")
    r = subprocess.run([sa, "calendar", "--iterations=3", cal], capture_output=True, text=True,
                       env=dict(env, TZ="UTC"), timeout=30)
    times = re.findall(r"\d\d:\d\d:\d\d UTC", r.stdout)
    mins = [int(t[0:2]) * 60 + int(t[3:5]) for t in times]
    steps = sorted(set((b - a) % 1440 for a, b in zip(mins, mins[1:])))
    is_(steps, [10], "ytcache-refresh.timer: OnCalendar=%s fires every 10 minutes" % cal)

# ---------------------------------------------------------------- socket activation, emulated
argv = shlex.split(one(svc, "Service", "ExecStart"))
is_(argv[0], "/usr/local/bin/ytcache", "ytcache.service: ExecStart runs /usr/local/bin/ytcache")
ok("--listen" not in argv, "ytcache.service: no --listen (the socket comes from systemd)")
argv[0] = yth.YTCACHE
env = env_of(svc)
env["YTCACHE_CONFIG"] = conf
sockpath = os.path.join(tmp, "run-ytcache", os.path.basename(listen))
ytdeploy.mkdir(os.path.dirname(sockpath))
act = ytdeploy.InheritedSocket(tmp, conf, argv, env, addr=sockpath, name="ytcache-socket-activated")
mode = one(sock, "Socket", "SocketMode")
if mode:
    os.chmod(sockpath, int(mode, 8))
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [("unix:" + listen, "unix:" + sockpath),
                            ("root /var/www/html;", "root %s;" % ytdeploy.shipped("www"))],
                           name="nginx-socket-activated")
path = "/youtube/v3/videos?part=snippet&id=" + yth.vid("sdActivated")
c0 = fake.calls()
a = ng.get(path)
b = ng.get(path)
is_((a.status, a.xcache), (200, "MISS"), "socket-activated ytcache behind nginx: MISS")
is_((b.status, b.xcache), (200, "HIT"), "socket-activated ytcache behind nginx: HIT")
ok(a.body == b.body and len(a.body) > 100, "socket-activated: identical bodies")
is_(fake.calls() - c0, 1, "socket-activated: one upstream call")
rs = yth.concurrent(lambda i: ng.get(path), 8)
ok(all(getattr(r, "status", None) == 200 for r in rs), "socket-activated: 8 concurrent requests answered")
ok(act.alive(), "socket-activated: still the same process")
ng.stop()
proc = act.procs[0]
proc.p.send_signal(signal.SIGTERM)
try:
    rc = proc.p.wait(30)
except subprocess.TimeoutExpired:
    rc = "still running after 30 s"
is_(rc, 0, "socket-activated: SIGTERM (systemctl stop) -> exit 0")
act.stop()
log = ytdeploy.read_file(act.log).decode("utf-8", "replace")
ok("upstream videos?" in log, "socket-activated: its log went to the journal stand-in (stderr)")

# ---------------------------------------------------------------- ytcache-refresh.service, one run
rargv = shlex.split(one(rsvc, "Service", "ExecStart"))
is_(rargv[0], "/usr/local/bin/ytcache-refresh", "ytcache-refresh.service runs /usr/local/bin/ytcache-refresh")
rargv[0] = REFRESH
renv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
renv.update({k: v for k, v in os.environ.items() if k.startswith(("ASAN_", "UBSAN_", "LSAN_"))})
renv.update(env_of(rsvc))
renv["YTCACHE_CONFIG"] = conf
r = subprocess.run(rargv, capture_output=True, env=renv, timeout=60, stdin=subprocess.DEVNULL)
with open(os.path.join(tmp, "logs", "ytcache-refresh.log"), "ab") as f:
    f.write(r.stdout + r.stderr)
is_(r.returncode, 0, "ytcache-refresh.service: one run with its Environment= exits 0")
if r.returncode:
    diag((r.stdout + r.stderr).decode("utf-8", "replace")[-2000:])

yth.done_testing()
