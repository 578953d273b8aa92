#!/usr/bin/python3
"""What README.md says is true: every command line it shows is run against
scripts/demo (tests/lib/ytdeploy.py Demo), or listed here with the reason it
cannot run on a test machine.

Commands are extracted from README.md itself:
  * every ```sh fenced block: one command per line, `\\` continuation lines
    joined, comments after `#` (outside quotes) and comment-only lines
    dropped, a heredoc (`<<'EOF'` ... `EOF`) kept as the command's input;
  * inline code spans (`...`, also across a line break) that start with a
    program of INLINE_PROGRAMS and have at least one argument.
Other fenced blocks (ini, yaml, json, js, html, python, the crontab line)
are not commands; the ini, yaml, json and crontab ones are checked as data
below (the minimal configuration file, the [websub] fragment, the scrape
job's metrics_path, the /health answer, contrib/crontab.example).

Each command is either in RUN (run, in README order, after the
substitutions of SUBS, with its documented exit status and output asserted),
in EXPAND (a synopsis such as `keys disable|enable|remove LABEL`, run as the
concrete commands it stands for), or in LISTED (not run, with a one-line
reason).  A README command in none of them fails the test: add it to the
table or make it runnable.  A table entry the README no longer has fails
too, so the table cannot rot.

The demo runs in keys mode (YOUTUBE_API_KEYS) against a yth.FakeUpstream
(YTCACHE_UPSTREAM), with the README's [websub] fragment (callback through
the demo's nginx, hub = tests/fake_hub.py) as YTCACHE_EXTRA_CONFIG; the
README's `YTCACHE_EXTRA_CONFIG=/tmp/try.conf scripts/demo` starts a second
one.  Afterwards, on the same demo, what the README states about output:
ytcachectl's and ytcache-refresh's exit statuses and messages, the
configuration file's errors and overrides, /health (literally the README's
example), /metrics (every metric named, metrics_allow), the HTTP interface
(X-Cache MISS then HIT with one upstream call, the error shape, 304, 405,
the canonical key), the files it names, the demo's variables, and that no
server key reaches a log."""

import json
import os
import pwd
import re
import shlex
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, cmp_ok, diag  # noqa: E402

README = os.path.join(yth.SRCDIR, "README.md")
YTCACHE_REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
ME = pwd.getpwuid(os.getuid()).pw_name
CH = "UC_x5XG1OV2P6uZZ5FSM9Ttw"          # a real-looking channel id
CH_FAIL = "UCreadmeHubDownxxxxxxxxx"      # subscribed while the hub is unreachable
KEYS = ("AIzaREADME-test-key-0001", "AIzaREADME-test-key-0002")
SPARE = {"spare-1": "AIzaREADME-spare-key-0001", "spare-2": "AIzaREADME-spare-key-0002",
         "spare-3": "AIzaREADME-spare-key-0003"}
CT = "application/json; charset=UTF-8"

tmp = yth.make_tmpdir()
work = ytdeploy.mkdir(os.path.join(tmp, "work"))      # the directory commands run in
demos = []


def _cleanup():
    for d in demos:
        d.kill_all()


yth.atexit.register(_cleanup)

# ================================================================== data

# Inline code spans starting with one of these (and with an argument) are
# command lines.
INLINE_PROGRAMS = ("ytcachectl", "ytcache", "ytcache-refresh", "curl", "spawn-fcgi", "scripts/demo",
                   "scripts/check", "scripts/fuzz", "bench/run", "make", "./configure", "autoreconf",
                   "man", "journalctl", "systemctl", "mariadb", "apt-get")

# Commands not run here, each with its reason (matched exactly, as
# extracted: whitespace collapsed, comments dropped).
LISTED = {
    "scripts/check": "runs the whole test suite, this test included (make check)",
    "apt-get install build-essential autoconf automake libtool pkg-config libfcgi-dev libcurl4-openssl-dev "
    "libjson-c-dev default-libmysqlclient-dev libssl-dev libexpat1-dev nettle-dev": "installs packages",
    "apt-get install check mariadb-server mariadb-client nginx fcgiwrap spawn-fcgi python3 curl "
    "python3-prometheus-client clang libclang-rt-14-dev apache2 libapache2-mod-fcgid chromium systemd wrk valgrind "
    "iproute2 galera-4 rsync":
        "installs packages",
    "./configure && make && make install": "installs into / (make install DESTDIR=... is run below)",
    "autoreconf -fi": "regenerates this tree's build system (done before the build this test runs on)",
    "./configure --sysconfdir=/etc/ytcache": "reconfigures this tree",
    "useradd --system --no-create-home --shell /usr/sbin/nologin ytcache": "creates a system user",
    "install -d -m 750 -g ytcache /etc/ytcache": "writes to /etc (and needs the ytcache group)",
    "install -m 640 -g ytcache ytcache.conf.example /etc/ytcache/ytcache.conf": "writes to /etc",
    "install -m 644 contrib/ytcache.socket contrib/ytcache.service /etc/systemd/system/":
        "writes to /etc/systemd (tests/integration/systemd.py verifies the units)",
    "systemctl daemon-reload && systemctl enable --now ytcache.socket": "needs systemd",
    "install -m 644 contrib/ytcache-refresh.service contrib/ytcache-refresh.timer /etc/systemd/system/":
        "writes to /etc/systemd",
    "systemctl daemon-reload && systemctl enable --now ytcache-refresh.timer": "needs systemd",
    "journalctl -u ytcache": "needs systemd's journal",
    "journalctl -u ytcache-refresh": "needs systemd's journal",
    "./configure --prefix=$HOME/ytcache && make && make install":
        "builds and installs into the home directory of a shared host",
    "make portable": "rebuilds portable/ (tests/integration/portable.py and ed25519.py run it and its output)",
    "bench/cgi-cost": "a benchmark (about a minute); its numbers are the README's table",
    "ytcachectl keys enable": "a mention without its LABEL; `ytcachectl keys enable LABEL` is run",
    "make check": "runs the test suite, this test included",
    "make distcheck": "builds and tests a tarball (minutes; scripts/check runs it)",
    "./configure --enable-werror --enable-sanitizers": "reconfigures this tree (scripts/check does it)",
    "./configure --enable-fuzzing CC=clang": "reconfigures this tree for clang and libFuzzer",
    "make tests/fuzz/fuzz_canon": "needs the --enable-fuzzing CC=clang build",
    "scripts/fuzz SECONDS [TARGET...]": "a synopsis; builds and runs the fuzzers (minutes)",
    "./configure && make": "rebuilds this tree (the test runs on the build it is given)",
    "bench/run": "a benchmark (about 5 minutes); `bench/run --help` is run",
    "bench/run --rounds 3 --profile": "a benchmark (8 minutes)",
    "bench/run --targets proxy_cache,fastcgi,fastcgi_bare --no-zipf": "a benchmark (minutes)",
    "bench/run --alt-build ../ytcache-patched": "a benchmark against a second build tree",
    "bench/run --profile": "a benchmark (minutes)",
    "bench/run --alt-build DIR": "a benchmark against a second build tree",
}

# Synopses run as the commands they stand for.
EXPAND = {
    "ytcachectl keys disable|enable|remove LABEL": [
        "ytcachectl keys disable LABEL", "ytcachectl keys enable LABEL", "ytcachectl keys remove LABEL"],
}

# What the README's paths, addresses, programs and placeholders are on the
# demo: (README text, the demo's), applied in this order to every command
# run, its heredoc, and the README's ini blocks used (the minimal file, the
# [websub] fragment).  {names} are filled in once the demo runs; a regular
# expression matches a program at the start of a simple command.
S = {}
SUBS = [
    ("/etc/ytcache/ytcache.conf", "{conf}"),                 # the demo's configuration file
    ("/run/ytcache/ytcache.sock", "{tmp}/readme-fcgi.sock"),  # a socket of the test's
    ("127.0.0.1:9000", "127.0.0.1:{port9000}"),              # a free loopback port
    ("/usr/local/bin/ytcache", "{builddir}/src/ytcache"),    # the build's programs...
    ("http://127.0.0.1:8080", "{origin}"),                   # the demo's nginx
    ("https://YOUR-DOMAIN", "{origin}"),
    ("AIza...,AIza...", "{keys}"),                           # the fake upstream's keys
    ("UCxxxxxxxxxxxxxxxxxxxxxx", CH),
    ("UC...", CH),
    ("/tmp/try.conf", "{tmp}/try.conf"),
    ("/tmp/stage", "{tmp}/stage"),
    ("--config FILE", "--config {conf}"),
    ("LABEL", "spare-1"),
    # the heredoc: the demo's MariaDB through its socket, as its
    # administrator (unix-socket authentication, like root's on Debian);
    # the demo has a database and an account `ytcache` already, so the
    # README's SQL creates `readme` ones, used by the minimal file below
    ("mariadb -u root", "mariadb --no-defaults --socket={dbsock} -u {me}"),
    ("DATABASE ytcache ", "DATABASE readme "),
    ("'ytcache'@'localhost'", "'readme'@'localhost'"),
    ("ON ytcache.*", "ON readme.*"),
    # the minimal file: the database and account that SQL creates
    ("socket = /run/mysqld/mysqld.sock", "socket = {dbsock}"),
    ("user = ytcache", "user = readme"),
    ("name = ytcache", "name = readme"),
    # the installed programs: the build's
    (re.compile(r"(?m)(^|&& |\|\| |; |\| |-- )ytcachectl(?= |$)"), "{ytcachectl}"),
    (re.compile(r"(?m)(^|&& |\|\| |; |\| |-- )ytcache-refresh(?= |$)"), "{ytcache_refresh}"),
    (re.compile(r"(?m)(^|&& |\|\| |; |\| |-- )ytcache(?= |$)"), "{ytcache}"),
]


def subst(text, commands=True):
    """text with SUBS applied (commands=False: not the programs, for SQL)."""
    for old, new in SUBS:
        if isinstance(old, re.Pattern):
            if commands:
                text = old.sub(lambda m: m.group(1) + new.format(**S), text)
        elif old in text:
            text = text.replace(old, new.format(**S))
    return text


# ================================================================== extraction

def strip_comment(line):
    """line without a shell comment (a # at a word's start, outside quotes)."""
    q = None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def fenced_blocks(lines):
    """[(lang, first line number, [lines without the fence's indentation])]"""
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        ind, lang, start, body = len(m.group(1)), m.group(2), i + 1, []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][ind:] if lines[i][:ind].strip() == "" else lines[i])
            i += 1
        out.append((lang, start + 1, body))
        i += 1
    return out


def sh_commands(body, first_line):
    """[(line number, command, heredoc text or None)] of a ```sh block."""
    out, i = [], 0
    while i < len(body):
        lineno = first_line + i
        code = strip_comment(body[i]).rstrip()
        i += 1
        while code.endswith("\\") and i < len(body):
            code = code[:-1] + " " + strip_comment(body[i]).rstrip()
            i += 1
        if not code.strip():
            continue
        heredoc = None
        m = re.search(r"<<-?\s*(['\"]?)(\w+)\1", code)
        if m:
            text = []
            while i < len(body) and body[i].strip() != m.group(2):
                text.append(body[i])
                i += 1
            i += 1
            heredoc = "\n".join(text) + "\n"
        out.append((lineno, norm(code), heredoc))
    return out


def extract(text):
    lines = text.split("\n")
    blocks = fenced_blocks(lines)
    cmds = []
    for lang, start, body in blocks:
        if lang == "sh":
            cmds += [(n, c, h, "block") for n, c, h in sh_commands(body, start)]
    # inline spans, in the text outside fenced blocks
    prose = list(lines)
    for lang, start, body in blocks:
        for k in range(start - 2, start + len(body)):
            prose[k] = ""
    prose_text = "\n".join(prose)
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose_text):
        if "\n\n" in m.group(1):
            continue
        span = norm(m.group(1))
        words = span.split(" ")
        if words[0] in INLINE_PROGRAMS and len(words) > 1:
            cmds.append((prose_text.count("\n", 0, m.start()) + 1, span, None, "inline"))
    cmds.sort(key=lambda c: c[0])
    return cmds, blocks


README_TEXT = yth.read_file(README).decode("utf-8")
COMMANDS, BLOCKS = extract(README_TEXT)


def block_with(lang, needle):
    for lg, start, body in BLOCKS:
        if lg == lang and needle in "\n".join(body):
            return "\n".join(body) + "\n"
    return None


# ================================================================== helpers

def sh(cmd, heredoc=None, env=None, timeout=60, cwd=None):
    """Run cmd with bash in the work directory; CompletedProcess (text)."""
    e = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        e.pop(k, None)
    e["YTCACHE_CONFIG"] = S["conf"]      # where `ytcachectl` without --config looks here
    e.update(env or {})
    script = cmd
    if heredoc is not None:     # the heredoc's text and its delimiter after the command line
        script += "\n" + heredoc + re.search(r"<<-?\s*(['\"]?)(\w+)\1", cmd).group(2) + "\n"
    r = subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=e, cwd=cwd or work, timeout=timeout)
    with open(os.path.join(tmp, "logs", "commands.log"), "a") as f:
        f.write("### %s -> %d\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r


def get(path, src="127.0.0.1", headers=None, port=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port or S["port"], timeout=30, source_address=(src, 0))
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return yth.Response(r.status, r.reason, r.getheaders(), r.read())
    finally:
        c.close()


def fcgi_get(addr, path):
    """One FastCGI GET (responder role) to addr (unix path or (host, port));
    returns the responder's stdout (CGI headers and body) as bytes."""
    def rec(t, content, rid=1):
        pad = (8 - len(content) % 8) % 8
        return struct.pack("!BBHHBx", 1, t, rid, len(content), pad) + content + b"\0" * pad

    def nv(k, v):
        k, v = k.encode(), v.encode()
        ln = lambda n: struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)  # noqa: E731
        return ln(len(k)) + ln(len(v)) + k + v
    params = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path.split("?")[0],
              "REQUEST_URI": path, "QUERY_STRING": path.partition("?")[2], "REMOTE_ADDR": "127.0.0.1",
              "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80"}
    s = socket.socket(socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(addr)
        body = b"".join(nv(k, v) for k, v in params.items())
        s.sendall(rec(1, struct.pack("!HB5x", 1, 0)) + rec(4, body) + rec(4, b"") + rec(5, b""))
        data, out = b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        while len(data) >= 8:
            _, t, _, clen, plen = struct.unpack("!BBHHBx", data[:8])
            if t == 6:
                out += data[8:8 + clen]
            data = data[8 + clen + plen:]
        return out
    except OSError as e:
        return ("error: %s" % e).encode()
    finally:
        s.close()


def listening(addr):
    return yth.can_connect(addr)


class FakeHub:
    def __init__(self):
        self.portfile = os.path.join(tmp, "fake-hub.port")
        self.proc = yth.Proc(tmp, "fake-hub", [sys.executable or "python3",
                                               os.path.join(yth.SRCDIR, "tests", "fake_hub.py"),
                                               "--port", "0", "--portfile", self.portfile])
        if not yth.wait_for(lambda: os.path.exists(self.portfile) or not self.proc.alive(), 30) \
                or not self.proc.alive():
            yth.bail("fake hub did not start:\n" + self.proc.log_text()[-2000:])
        self.port = int(yth.read_file(self.portfile).decode().strip())
        self.url = "http://127.0.0.1:%d/subscribe" % self.port

    def stats(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/__stats")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def requests(self, mode, channel):
        return [r for r in self.stats()["requests"]
                if r.get("hub.mode") == mode and r.get("hub.topic", "").endswith("channel_id=" + channel)]


def start_demo(name, env, port=None):
    """scripts/demo as the README runs it, in keys mode against the fake
    upstream; the port is chosen first so the configuration can name it."""
    port = port or yth.free_port()
    # TMPDIR: mariadb-install-db's bootstrap otherwise keeps its temporary
    # tables in /tmp, where two at once (make -j check) can trip over each
    # other ("Unknown table 'mysql.tmp_user_sys'")
    e = {"YOUTUBE_API_KEYS": ",".join(KEYS), "YTCACHE_UPSTREAM": fake.base_url,
         "YTCACHE_LISTEN": "127.0.0.1:%d" % port, "TMPDIR": ytdeploy.mkdir(os.path.join(tmp, name + "-tmp"))}
    e.update(env)
    d = ytdeploy.Demo(tmp, name, env=e, wait=False)
    d.port = port
    demos.append(d)
    if not yth.wait_for(lambda: "Press Ctrl-C" in d.output() or not d.proc.alive(), 120):
        yth.bail("scripts/demo (%s) did not come up:\n%s" % (name, d.output()[-3000:]))
    if not d.up():
        diag("scripts/demo (%s) stopped:\n%s" % (name, d.output()[-3000:]))
    return d


def ctl_rc(*args, conf=None, input=None):
    r = subprocess.run([yth.YTCACHECTL, "--config", conf or S["conf"]] + list(args), capture_output=True,
                       text=True, input=input if input is not None else "", timeout=60)
    return r


# ================================================================== the demo

fake = yth.FakeUpstream(tmp, keys=KEYS + tuple(SPARE.values()))
hub = FakeHub()
S.update(tmp=tmp, builddir=yth.BUILDDIR, me=ME, keys=",".join(KEYS), port9000=yth.free_port(),
         ytcachectl=yth.YTCACHECTL, ytcache_refresh=YTCACHE_REFRESH, ytcache=yth.YTCACHE)

websub_ini = block_with("ini", "callback =")
ok(websub_ini and "[websub]" in websub_ini, "README: the [websub] callback fragment is there")
# the demo's port is chosen first: the [websub] callback names it
demo_port = yth.free_port()
S.update(origin="http://127.0.0.1:%d" % demo_port, port=demo_port)
extra = ytdeploy.write(os.path.join(tmp, "websub.conf"),
                       subst(websub_ini or "") + "hub = %s\n" % hub.url, 0o600)
demo = start_demo("demo", {"YTCACHE_EXTRA_CONFIG": extra}, port=demo_port)
S.update(conf=os.path.join(demo.state, "ytcache.conf"), dbsock=os.path.join(demo.state, "mysql.sock"))
ok(demo.up(), "the demo runs (keys mode, YTCACHE_UPSTREAM = the test's fake, the README's [websub])")


def rows(where="1"):
    v = demo.sql("SELECT COUNT(*) FROM cache WHERE " + where)
    return int(v) if v is not None else None


def subs_state(channel):
    return demo.sql("SELECT state FROM websub_subs WHERE channel_id = '%s'" % channel)


# ================================================================== the runners

# What each README command must do.  A runner gets (command as run,
# heredoc as run) and makes its assertions; `label` is the README's text.

def expect(rc=0, out=None, err=None, then=None):
    def run(label, cmd, heredoc):
        r = sh(cmd, heredoc)
        is_(r.returncode, rc, "`%s`: exit status %d" % (label, rc)) or diag(r.stdout + r.stderr)
        if out is not None:
            like(r.stdout, out, "`%s`: prints %s" % (label, out))
        if err is not None:
            like(r.stderr, err, "`%s`: says %s" % (label, err))
        if then:
            then(label, r)
    return run


def run_demo_plain(label, cmd, heredoc):
    ok(demo.up(), "`%s`: the demo runs (here with keys: the fake upstream)" % label)
    master = demo.child("src/ytcache ")
    is_(len(yth.child_pids(master)) if master else None, 4, "`%s`: ytcache as a FastCGI server with 4 workers" % label)
    r = get("/")
    ok(r.status == 200 and (r.header("content-type") or "").startswith("text/html"),
       "`%s`: open %s/ : the page (%d %s)" % (label, S["origin"], r.status, r.header("content-type")))


def run_demo_keys(label, cmd, heredoc):
    like(cmd, r"^YOUTUBE_API_KEYS=%s scripts/demo$" % re.escape(",".join(KEYS)),
         "`%s`: the command is the demo's start with keys" % label)
    ok("SIMULATED" not in demo.output() and not demo.child("fake_upstream.py --demo"),
       "`%s`: with keys, no simulated data" % label)
    c0 = fake.calls()
    r = get("/youtube/v3/videos?part=snippet&id=" + yth.vid("readmeKeys"))
    ok(r.status == 200 and r.xcache == "MISS", "`%s`: a new query is a MISS (%d)" % (label, r.status))
    is_(fake.calls() - c0, 1, "`%s`: ... fetched from the upstream it was given" % label)


def check_try_conf(label, r):
    is_(yth.read_file(os.path.join(tmp, "try.conf")).decode(), "[quota]\nclient_units = 20\n",
        "`%s`: writes the two lines" % label)


def run_demo_try(label, cmd, heredoc):
    env = {}
    words = shlex.split(cmd)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        k, _, v = words.pop(0).partition("=")
        env[k] = v
    is_(words, ["scripts/demo"], "`%s`: scripts/demo with %s" % (label, ", ".join(env)))
    d = start_demo("demo-try", env)
    conf = yth.read_file(os.path.join(d.state, "ytcache.conf")).decode()
    ok("client_units = 20" in conf, "`%s`: the fragment is in the demo's configuration" % label)
    # a per-client limit of 20 units: 20 misses from one address pass, the 21st does not
    got = [get("/youtube/v3/videos?part=id&id=" + yth.vid("readmeTry%d" % i), src="127.9.9.9", port=d.port)
           for i in range(21)]
    is_([g.status for g in got[:20]], [200] * 20, "`%s`: 20 misses of one client pass" % label)
    last = got[20]
    e = (last.json() or {}).get("error", {})
    ok(last.status == 429 and (e.get("errors") or [{}])[0].get("reason") == "clientQuotaExceeded"
       and int(last.header("retry-after") or 0) > 0,
       "`%s`: the 21st gets 429 clientQuotaExceeded with Retry-After (%d %r)" % (label, last.status, e))
    rc, took = d.stop()
    cmp_ok(took, "<", 10, "`%s`: Ctrl-C/SIGTERM stops it within 10 s (%.1f s)" % (label, took))


def run_heredoc(label, cmd, heredoc):
    r = sh(cmd, heredoc)
    is_(r.returncode, 0, "`%s` with its SQL: exit status 0" % label) or diag(r.stdout + r.stderr)
    minimal = block_with("ini", "[database]")
    ok(minimal and "password = change-me" in minimal, "README: the minimal file uses the SQL's password")
    path = ytdeploy.write(os.path.join(tmp, "minimal.conf"), subst(minimal or ""), 0o600)
    m = ctl_rc("migrate", conf=path)
    is_(m.returncode, 0, "the README's minimal file and the account its SQL made: `ytcachectl migrate` "
        "creates the tables") or diag(m.stdout + m.stderr)
    k = ctl_rc("keys", "list", conf=path)
    ok(k.returncode == 0 and len(re.findall(r"\bconfig\s+active\b", k.stdout)) == 2,
       "... and copies the two keys of [upstream] keys into the key pool") or diag(k.stdout + k.stderr)


def check_migrate(label, r):
    like(r.stdout + r.stderr, r"up to date", "`%s`: on an up-to-date schema it changes nothing" % label)


def check_stats(label, r):
    like(r.stdout, r"(?m)^videos\s+\d+\s+\d+\s+\d+\s+\d+", "`%s`: rows, fresh rows, bytes, hits per resource" % label)
    like(r.stdout, r"(?m)^key\s+state\s+bucket\s+used\s+left", "`%s`: per key and bucket: used, left" % label)
    like(r.stdout, r"resets .*\d", "`%s`: ... and the reset" % label)
    like(r.stdout, r"answers from cache, \d+ upstream calls", "`%s`: hits vs upstream calls" % label)


def check_keys_list(label, r):
    ok(not any(k in r.stdout for k in KEYS + tuple(SPARE.values())), "`%s`: keys masked" % label)
    like(r.stdout, r"(?m)^label\s+key\s+fingerprint\s+source\s+state\s+reason",
         "`%s`: labels, masked keys, source, state, reason" % label)


def run_purge_endpoint(label, cmd, heredoc):
    get("/youtube/v3/search?part=snippet&channelId=%s&order=date&type=video&maxResults=6" % CH)
    n = rows("endpoint = 'search'")
    others = rows("endpoint <> 'search'")
    cmp_ok(n, ">", 0, "`%s`: there are cached searches" % label)
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label)
    like(r.stdout, r"^%d rows deleted" % n, "`%s`: prints how many rows it deleted" % label)
    is_((rows("endpoint = 'search'"), rows("endpoint <> 'search'")), (0, others),
        "`%s`: every cached search gone, the rest kept" % label)


def run_purge_all(label, cmd, heredoc):
    p = "/youtube/v3/videos?part=snippet&id=" + yth.vid("readmePurge")
    get(p)
    ok(yth.wait_for(lambda: get(p).xcache == "HIT", 5), "`%s`: a row served from the cache first" % label)
    r = sh(cmd)
    t0 = time.monotonic()
    is_(r.returncode, 0, "`%s`: exit status 0" % label)
    is_(rows(), 0, "`%s`: no row left" % label)
    ok(yth.wait_for(lambda: get(p).xcache == "MISS", 10), "`%s`: the purged row is fetched again" % label)
    took = time.monotonic() - t0
    # hot_trust_ms (1 s), plus the microcache's up to two seconds (nginx section)
    cmp_ok(took, "<=", 3.5, "`%s`: ... within hot_trust_ms plus the microcache's 2 s (%.2f s)" % (label, took))


def run_subscribe(label, cmd, heredoc):
    n0 = len(hub.requests("subscribe", CH))
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
    is_(len(hub.requests("subscribe", CH)) - n0, 1, "`%s`: the hub is asked" % label)
    ok(yth.wait_for(lambda: subs_state(CH) == "active", 15),
       "`%s`: the hub verifies through the demo's nginx (/youtube/v3/websub): active" % label)


def run_forget(label, cmd, heredoc):
    n0 = len(hub.stats()["requests"])
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
    ok(subs_state(CH) in (None, ""), "`%s`: the subscription is gone" % label)
    is_(len(hub.stats()["requests"]), n0, "`%s`: without asking the hub" % label)


def run_websub_list(label, cmd, heredoc):
    seen = []

    def active():
        r = sh(cmd)
        m = re.search(r"(?m)^%s\s+(\S+)(.*)$" % CH, r.stdout)
        seen.append((r.returncode, m.group(1) if m else None))
        return r.returncode == 0 and m and m.group(1) == "active" and re.search(r"\d{4}-\d\d-\d\d", m.group(2))
    ok(yth.wait_for(active, 15), "`%s`: the channel active, with a lease end (%r)" % (label, seen[-3:]))


def run_unsubscribe(label, cmd, heredoc):
    n0 = len(hub.requests("unsubscribe", CH))
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
    is_(len(hub.requests("unsubscribe", CH)) - n0, 1, "`%s`: the hub is asked to stop" % label)


def run_listen(label, cmd, heredoc):
    sock = S["tmp"] + "/readme-fcgi.sock"
    p = yth.Proc(tmp, "readme-listen", ["bash", "-c", "exec " + cmd],
                 env=dict(os.environ, YTCACHE_CONFIG=S["conf"]))
    up = yth.wait_for(lambda: listening(sock) and len(p.children()) == 4, 20)
    ok(up, "`%s`: listens, with 4 worker processes (%d)" % (label, len(p.children())))
    out = fcgi_get(sock, "/youtube/v3/health")
    like(out.decode("utf-8", "replace"), r'\{"status":"ok"', "`%s`: answers FastCGI (health)" % label)
    victim = p.children()[0] if p.children() else None
    if victim:
        os.kill(victim, 9)
    ok(victim and yth.wait_for(lambda: len(p.children()) == 4 and victim not in p.children(), 10),
       "`%s`: the parent restarts a worker that exits" % label)
    kids = p.children()
    t0 = time.monotonic()
    p.p.send_signal(15)
    try:
        p.p.wait(10)
    except subprocess.TimeoutExpired:
        pass
    gone = yth.wait_for(lambda: not any(os.path.exists("/proc/%d" % k) and yth._pid_alive(k) for k in kids), 10)
    ok(p.p.returncode is not None and gone, "`%s`: SIGTERM to the parent stops them all (%.1f s)"
       % (label, time.monotonic() - t0))
    p.stop()


def run_listen_tcp(label, cmd, heredoc):
    addr = ("127.0.0.1", S["port9000"])
    p = yth.Proc(tmp, "readme-listen-tcp", ["bash", "-c", "exec " + cmd],
                 env=dict(os.environ, YTCACHE_CONFIG=S["conf"]))
    ok(yth.wait_for(lambda: listening(addr) and len(p.children()) == 4, 20),
       "`%s`: HOST:PORT, 4 workers, the configuration from $YTCACHE_CONFIG" % label)
    like(fcgi_get(addr, "/youtube/v3/health").decode("utf-8", "replace"), r'\{"status":"ok"',
         "`%s`: answers FastCGI" % label)
    p.stop()


def run_spawn_fcgi(label, cmd, heredoc):
    sock = S["tmp"] + "/readme-fcgi.sock"
    if os.path.exists(sock):
        os.unlink(sock)
    r = sh(cmd)
    pids = [int(x) for x in re.findall(r"PID: (\d+)", r.stdout + r.stderr)]
    ok(r.returncode == 0 and len(pids) == 4, "`%s`: spawns 4 processes (%r)" % (label, pids)) \
        or diag(r.stdout + r.stderr)
    like(fcgi_get(sock, "/youtube/v3/health").decode("utf-8", "replace"), r'\{"status":"ok"',
         "`%s`: ytcache serves FastCGI on the inherited socket" % label)
    yth.stop_pids(pids, "ytcache")


def run_keys_add(label, cmd, heredoc):
    ytdeploy.write(os.path.join(work, "spare-1.key"), SPARE["spare-1"] + "\n", 0o600)
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
    like(r.stdout, r"key spare-1: added", "`%s`: key spare-1: added" % label)
    ok(SPARE["spare-1"] not in r.stdout + r.stderr, "`%s`: the key is not printed" % label)
    r = sh(cmd)
    is_(r.returncode, 2, "`%s` again: exit status 2 (a label already in the pool)" % label)


def run_keys_import(label, cmd, heredoc):
    ytdeploy.write(os.path.join(work, "keys.txt"), "# LABEL KEY\nspare-2 %s\n\nspare-3\t%s\n"
                   % (SPARE["spare-2"], SPARE["spare-3"]), 0o600)
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
    like(r.stdout, r"2 keys imported", "`%s`: lines LABEL KEY, comments skipped" % label)


def key_state(label):
    r = ctl_rc("keys", "list")
    m = re.search(r"(?m)^%s\s+\S+\s+\S+\s+\S+\s+(\S+)" % re.escape(label), r.stdout)
    return m.group(1) if m else None


def run_key_state(want):
    def run(label, cmd, heredoc):
        r = sh(cmd)
        is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
        is_(key_state("spare-1"), want, "`%s`: spare-1 is then %s" % (label, want or "gone"))
    return run


def run_refresh_dry(label, cmd, heredoc):
    c0, n0 = fake.calls(), rows()
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag(r.stdout + r.stderr)
    like(r.stdout + r.stderr, r"would fetch", "`%s`: shows what a run would fetch" % label)
    is_((fake.calls() - c0, rows()), (0, n0), "`%s`: without fetching or deleting anything" % label)


def run_version(label, cmd, heredoc):
    r = sh(cmd)
    is_(r.returncode, 0, "`%s`: exit status 0" % label)
    m = re.match(r"ytcache (\S+)", r.stdout)
    ok(m, "`%s`: prints the version (%r)" % (label, r.stdout[:60]))
    S["version"] = m.group(1) if m else None


def run_make_install(label, cmd, heredoc):
    r = sh(cmd, cwd=yth.BUILDDIR, timeout=90)
    is_(r.returncode, 0, "`%s`: exit status 0" % label) or diag((r.stdout + r.stderr)[-2000:])
    mk = yth.read_file(os.path.join(yth.BUILDDIR, "Makefile")).decode("utf-8", "replace")
    m = re.search(r"(?m)^prefix = (.*)$", mk)
    root = S["tmp"] + "/stage" + (m.group(1).strip() if m else "/usr/local")
    # the README's table of what is installed under $(prefix)
    sect = README_TEXT.split("This installs, under", 1)[-1].split("\n\n", 2)[1]
    want, d = [], ""
    for row in sect.split("\n")[2:]:
        for item in re.findall(r"`([^`]+)`", row.split("|")[1]):
            d = os.path.dirname(item) if "/" in item else d
            want.append(item if "/" in item else os.path.join(d, item))
    import glob
    missing = [w for w in want if not glob.glob(os.path.join(root, w))]
    ok(len(want) >= 9 and not missing, "`%s`: the README's table of installed files is true (%d paths; "
       "missing %r)" % (label, len(want), missing))
    ok(os.path.exists(os.path.join(root, "share/doc/ytcache/README.md")), "`%s`: and this README" % label)


def run_man(label, cmd, heredoc):
    if not yth.which("man"):
        yth.skip("man is not installed", 1)
        return
    r = sh(cmd, env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"}, cwd=yth.SRCDIR)
    ok(r.returncode == 0 and "ytcache" in r.stdout, "`%s`: from the source tree" % label)


def run_bench_help(label, cmd, heredoc):
    r = sh(cmd, cwd=yth.SRCDIR)
    is_(r.returncode, 0, "`%s`: exit status 0" % label)
    opts = sorted(set(o for c in LISTED if c.startswith("bench/run ") for o in re.findall(r"--[\w-]+", c)))
    missing = [o for o in opts if o not in r.stdout]
    is_(missing, [], "`%s`: lists every option the README gives bench/run (%s)" % (label, " ".join(opts)))


def check_config_ok(label, r):
    bad = ytdeploy.write(os.path.join(tmp, "bad.conf"), "[server]\nlog_level = info\nno_such_key = 1\n", 0o600)
    b = ctl_rc("check-config", conf=bad)
    ok(b.returncode == 1 and re.search(r"%s:3: " % re.escape(bad), b.stderr),
       "a bad key stops it with FILE:LINE: message (%d %r)" % (b.returncode, b.stderr.strip()))


RUN = {
    "scripts/demo": run_demo_plain,
    "YOUTUBE_API_KEYS=AIza...,AIza... scripts/demo": run_demo_keys,
    "printf '[quota]\\nclient_units = 20\\n' > /tmp/try.conf": expect(0, then=check_try_conf),
    "YTCACHE_EXTRA_CONFIG=/tmp/try.conf scripts/demo": run_demo_try,
    "make install DESTDIR=/tmp/stage": run_make_install,
    "ytcachectl --config FILE check-config": expect(0, then=check_config_ok),
    "mariadb -u root <<'EOF'": run_heredoc,
    "ytcachectl --config /etc/ytcache/ytcache.conf migrate": expect(0, then=check_migrate),
    "ytcachectl migrate": expect(0, then=check_migrate),
    "ytcachectl stats": expect(0, then=check_stats),
    "ytcachectl keys list": expect(0, then=check_keys_list),
    "ytcachectl purge expired": expect(0, out=r"^\d+ rows deleted"),
    "ytcachectl purge endpoint search": run_purge_endpoint,
    "ytcachectl purge all": run_purge_all,
    "ytcachectl websub subscribe UC...": run_subscribe,
    "ytcachectl websub forget UC...": run_forget,
    "ytcache --config /etc/ytcache/ytcache.conf --listen /run/ytcache/ytcache.sock --workers 4": run_listen,
    "spawn-fcgi -s /run/ytcache/ytcache.sock -F 4 -- /usr/local/bin/ytcache --config /etc/ytcache/ytcache.conf":
        run_spawn_fcgi,
    "ytcache --listen 127.0.0.1:9000 --workers 4": run_listen_tcp,
    "ytcachectl keys add spare-1 < spare-1.key": run_keys_add,
    "ytcachectl keys import keys.txt": run_keys_import,
    "ytcachectl keys disable LABEL": run_key_state("disabled"),
    "ytcachectl keys enable LABEL": run_key_state("active"),
    "ytcachectl keys remove LABEL": run_key_state(None),
    "ytcache-refresh --dry-run --verbose": run_refresh_dry,
    "ytcachectl websub subscribe UCxxxxxxxxxxxxxxxxxxxxxx": run_subscribe,
    "ytcachectl websub list": run_websub_list,
    "ytcachectl websub unsubscribe UC...": run_unsubscribe,
    "ytcache --version": run_version,
    "man -l man/ytcache.8": run_man,
    "bench/run --help": run_bench_help,
}

# ================================================================== the commands

diag("%d command lines in README.md (%d distinct)" % (len(COMMANDS), len(set(c[1] for c in COMMANDS))))
ok(len(COMMANDS) > 30, "README.md's commands extracted (%d)" % len(COMMANDS))
unknown, done, n_run, n_listed = [], set(), 0, 0
for lineno, cmd, heredoc, where in COMMANDS:
    if cmd in done:
        continue
    done.add(cmd)
    if cmd in LISTED:
        n_listed += 1
        diag("README.md:%d: not run: `%s`: %s" % (lineno, cmd, LISTED[cmd]))
        continue
    concrete = EXPAND.get(cmd, [cmd])
    if not all(c in RUN for c in concrete):
        unknown.append("README.md:%d: %s" % (lineno, cmd))
        continue
    for c in concrete:
        done.add(c)
        n_run += 1
        run_cmd = subst(c)
        diag("README.md:%d: %s`%s`%s" % (lineno, "" if c == cmd else "(%s) " % cmd, run_cmd,
                                          " (with its heredoc)" if heredoc else ""))
        try:
            RUN[c](c, run_cmd, subst(heredoc, commands=False) if heredoc else None)
        except yth.TestTimeout:
            raise
        except Exception as e:      # one broken command must not hide the others'
            ok(False, "`%s`: %s: %s" % (c, type(e).__name__, e))
is_(unknown, [], "every command in README.md is run or listed "
    "(new command in README: add it to the table or make it runnable)")
stale = sorted(set(list(LISTED) + list(EXPAND) +
                   [c for c in RUN if not any(c in v for v in EXPAND.values())]) - done)
is_(stale, [], "every command of the tables is still in README.md (else remove it from the table)")
is_([c for c, reason in LISTED.items() if not reason.strip()], [], "every listed command has a reason")
distinct = set(c[1] for c in COMMANDS)
diag("%d distinct commands in README.md: %d run (%d runs of a command line), %d listed with a reason, %d unknown"
     % (len(distinct), len(distinct) - n_listed - len(unknown), n_run, n_listed, len(unknown)))

# ================================================================== the README's statements

# Exit status: 0 ok, 1 usage or configuration error (also an unknown or
# invalid key label, an invalid channel id, [websub] callback not set, or
# websub forget of a channel without a subscription), 2 database error
# (also a key or label already in the pool), 3 WebSub hub error.
para = re.search(r"Exit status: 0 ok.*?\n\n", README_TEXT, re.S)
ok(para and "2 database error" in norm(para.group(0)) and "3 WebSub hub error" in norm(para.group(0)),
   "README: the exit statuses of ytcachectl are stated")
is_(ctl_rc("keys", "add", "spare-9", input=KEYS[0] + "\n").returncode, 2,
    "exit 2: a key already in the pool (under another label)")
is_(ctl_rc("keys", "enable", "no-such-label").returncode, 1, "exit 1: an unknown key label")
is_(ctl_rc("keys", "add", "bad label!", input="AIzaREADME-other\n").returncode, 1, "exit 1: an invalid key label")
is_(ctl_rc("websub", "subscribe", "not-a-channel").returncode, 1, "exit 1: an invalid channel id")
is_(ctl_rc("websub", "forget", "UCreadmeNeverSubscribedxx"[:24]).returncode, 1,
    "exit 1: websub forget of a channel without a subscription")
conf_text = yth.read_file(S["conf"]).decode()
base = conf_text.split("\n; ---- from", 1)[0] + "\n"
nocb = ytdeploy.write(os.path.join(tmp, "no-callback.conf"), base, 0o600)
is_(ctl_rc("websub", "subscribe", CH, conf=nocb).returncode, 1, "exit 1: [websub] callback not set")
down = ytdeploy.write(os.path.join(tmp, "hub-down.conf"), conf_text.replace(
    hub.url, "http://127.0.0.1:%d/subscribe" % yth.free_port()), 0o600)
is_(ctl_rc("websub", "subscribe", CH_FAIL, conf=down).returncode, 3, "exit 3: the hub could not be reached")
is_(subs_state(CH_FAIL), "pending", "... which leaves the subscription pending")
is_(ctl_rc("websub", "forget", CH_FAIL).returncode, 0, "websub forget drops the pending one")
is_(ctl_rc("websub", "forget", CH_FAIL).returncode, 1, "... and a second forget exits 1")
r = ctl_rc("purge", "endpoint", "no-such-resource")
m = re.search(r"Resources: (.*?) — what an API key can read", README_TEXT, re.S)
readme_res = re.findall(r"`([\w:]+)`", m.group(1)) if m else []
ok(r.returncode == 1 and readme_res and all(x in r.stderr for x in readme_res),
   "purge endpoint of an unknown name: exit 1, the valid names listed (the README's resources: %d)"
   % len(readme_res)) or diag(r.stderr)
code_res = re.findall(r"[a-zA-Z0-9:]+", r.stderr.split("one of:", 1)[-1])
is_(sorted(code_res), sorted(readme_res), "the README's list of resources is ytcache's")

# Configuration: a missing file you named is an error; YTCACHE_DB_*
# override the file
r = subprocess.run([yth.YTCACHECTL, "--config", S["conf"], "check-config"], capture_output=True, timeout=60,
                   env=dict(os.environ, YTCACHE_CONFIG=os.path.join(tmp, "no-such.conf")))
is_(r.returncode, 0, "--config comes before $YTCACHE_CONFIG")
is_(ctl_rc("check-config", conf=os.path.join(tmp, "no-such.conf")).returncode, 1,
    "--config naming a missing file: an error (exit 1)")
r = subprocess.run([yth.YTCACHECTL, "--config", S["conf"], "stats"], capture_output=True, text=True, timeout=60,
                   env=dict(os.environ, YTCACHE_DB_SOCKET=os.path.join(tmp, "no-such.sock")))
is_(r.returncode, 2, "YTCACHE_DB_SOCKET overrides the file's socket (stats: database error, exit 2)")

r = subprocess.run([yth.YTCACHECTL, "check-config"], capture_output=True, text=True, timeout=60,
                   env=dict(os.environ, YTCACHE_CONFIG=os.path.join(tmp, "no-such.conf")))
is_(r.returncode, 1, "YTCACHE_CONFIG naming a missing file: an error too (exit 1)")

# the shared-hosting .htaccess: what the README says it uses is in the file
para = README_TEXT.split("The `.htaccess` uses", 1)[-1].split("\n\n", 1)[0]
htaccess = [x.strip() for x in yth.read_file(os.path.join(yth.SRCDIR, "apache", "htaccess-cgi.example"))
            .decode().split("\n")]
said = [norm(x) for x in re.findall(r"`([^`]+)`", para)
        if re.match(r"#?(Options|AddHandler|SetEnv|RewriteRule|RewriteBase) ", norm(x))]
cmp_ok(len(said), ">=", 5, "README: the .htaccess directives are named (%d)" % len(said))
is_([x for x in said if x not in htaccess and not x.startswith("RewriteBase /~USER/")], [],
    "every .htaccess line the README quotes is in apache/htaccess-cgi.example")

# ytcache-refresh: prints nothing on success (warnings and errors only)
c0 = fake.calls()
r = subprocess.run([YTCACHE_REFRESH, "--config", S["conf"]], capture_output=True, text=True, timeout=60)
is_((r.returncode, r.stdout + r.stderr), (0, ""), "ytcache-refresh: exit 0, prints nothing on success")
cmp_ok(fake.calls() - c0, ">=", 9, "... having fetched the trending lists of the 9 default regions")

# ytcache-refresh: exit 3 for a pool whose keys are all disabled, the
# message says so, and `ytcachectl keys enable LABEL` fixes it
labels = re.findall(r"(?m)^(\S+)\s+\S+\s+[0-9a-f]{16}\s+\S+\s+active\b", ctl_rc("keys", "list").stdout)
ok(labels and all(ctl_rc("keys", "disable", x).returncode == 0 for x in labels),
   "every key of the pool disabled (%s)" % " ".join(labels))
demo.sql("DELETE FROM cache")
r = subprocess.run([YTCACHE_REFRESH, "--config", S["conf"]], capture_output=True, text=True, timeout=60)
ok(r.returncode == 3 and re.search(r"all \d+ keys of the pool are disabled: .*ytcachectl keys enable LABEL",
                                   r.stderr), "ytcache-refresh with every key disabled: exit 3, says so (%d %r)"
   % (r.returncode, r.stderr.strip()[-200:]))
ok(ctl_rc("keys", "enable", labels[0]).returncode == 0 if labels else False, "ytcachectl keys enable LABEL")
r = subprocess.run([YTCACHE_REFRESH, "--config", S["conf"]], capture_output=True, text=True, timeout=60)
is_(r.returncode, 0, "... and ytcache-refresh succeeds again") or diag(r.stderr)
for x in labels[1:]:
    ctl_rc("keys", "enable", x)

# the packages: the README's two apt-get lines are what scripts/check
# installs, and hold what scripts/demo needs
readme_pkgs = set(w for c in LISTED if c.startswith("apt-get install ") and c in done for w in c.split()[2:])


def bash_array(path, name):
    m = re.search(r"(?ms)^\s*%s=\((.*?)\)" % name, yth.read_file(os.path.join(yth.SRCDIR, path)).decode())
    return set(m.group(1).split()) if m else set()


check_pkgs, demo_pkgs = bash_array("scripts/check", "packages"), bash_array("scripts/demo", "PACKAGES")
ok(check_pkgs and demo_pkgs, "scripts/check's and scripts/demo's package lists (%d, %d)" % (len(check_pkgs), len(demo_pkgs)))
is_((sorted(readme_pkgs - check_pkgs), sorted(check_pkgs - readme_pkgs)), ([], []),
    "the README's apt-get lines install what scripts/check does")
is_(sorted(demo_pkgs - readme_pkgs), [], "... and every package scripts/demo needs")

# the files the README links to or names exist
import glob  # noqa: E402
named = set(re.findall(r"\]\(([^)#:]+)\)", README_TEXT)) | set(re.findall(
    r"`((?:tests|contrib|nginx|apache|www|bench|src|sql|man|doc|scripts)/[^` ]+)`", README_TEXT))
cmp_ok(len(named), ">=", 30, "README: files named (%d)" % len(named))
# a test's .log is what running it writes, not part of the tree
is_(sorted(x for x in named if not x.endswith(".log") and not glob.glob(os.path.join(yth.SRCDIR, x))), [],
    "every file the README links to or names is in the source tree")
ok("`run/nginx/ytcache.conf`" in README_TEXT and os.path.isfile(os.path.join(demo.state, "nginx", "ytcache.conf")),
   "the demo's rendered nginx file is where the README says (run/ = its state directory)")

# the demo's variables: the README's table is scripts/demo's
demo_src = yth.read_file(ytdeploy.DEMO).decode()
table = re.findall(r"(?m)^\| `([A-Z_]+)` \| ([^|]+) \|", README_TEXT.split("## Why", 1)[0])
ok(len(table) >= 6, "README: the demo's variables table (%d rows)" % len(table))
is_([v for v, _ in table if not re.search(r"\$\{?%s\b" % v, demo_src)], [],
    "every variable of the table is read by scripts/demo")
for v, default in table:
    m = re.match(r"`([^`]+)`$", default.strip())
    if m:
        ok("${%s:-%s}" % (v, m.group(1)) in demo_src, "%s: default %s, as scripts/demo has it" % (v, m.group(1)))
like(demo.output(), re.escape(S["origin"] + "/"), "the demo's banner shows the page's address")

# /health: the README's example answer, literally (but the version)
m = re.search(r"`(\{\"status\":\"ok\".*?\})`", README_TEXT)
readme_health = json.loads(m.group(1)) if m else None
ok(readme_health, "README: the /health answer is shown")
r = get("/ytcache/health")
h = r.json() or {}
is_(r.status, 200, "/ytcache/health through the shipped nginx file: 200")
is_(r.header("content-type"), CT, "/ytcache/health: JSON")
if readme_health:
    readme_health["version"] = S.get("version")
is_(h, readme_health, "/ytcache/health answers what the README shows (version = ytcache --version's)")
is_(get("/youtube/v3/health").json(), h, "/youtube/v3/health: the same")

# without a database: 503, {"status":"unavailable",...}
r = subprocess.run([yth.YTCACHE], capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                   env=dict(os.environ, YTCACHE_CONFIG=S["conf"], YTCACHE_DB_SOCKET=os.path.join(tmp, "no-such.sock"),
                            GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="GET", PATH_INFO="/youtube/v3/health",
                            QUERY_STRING="", REMOTE_ADDR="127.0.0.1"))
head, _, body = r.stdout.partition(b"\r\n\r\n") if b"\r\n\r\n" in r.stdout else r.stdout.partition(b"\n\n")
ok(re.search(rb"(?m)^Status: 503", head) and (json.loads(body or b"{}").get("status") == "unavailable"),
   "/health without a database: 503, status unavailable (%r)" % r.stdout[:200])

# /metrics: the scrape job's metrics_path through the shipped nginx file,
# every metric the README names, 403 to an address not in metrics_allow
yml = block_with("yaml", "metrics_path")
m = re.search(r"metrics_path: (\S+)", yml or "")
ok(m, "README: the scrape job has a metrics_path")
r = get(m.group(1) if m else "/ytcache/metrics")
is_(r.status, 200, "the scrape job's metrics_path (%s) answers through the shipped nginx file"
    % (m.group(1) if m else None))
para = README_TEXT.split("**Metrics.**", 1)[-1].split("```", 1)[0]
names = sorted(set(re.findall(r"\bytcache_[a-z_]+", para)))
types = set(re.findall(r"(?m)^# TYPE (\S+)", r.body.decode("utf-8", "replace")))
cmp_ok(len(names), ">=", 15, "README: the metrics are named (%d)" % len(names))
is_([n for n in names if n not in types], [], "every metric the README names is exported")
r = get("/ytcache/metrics", src="127.0.0.2")
ok(r.status == 403 and ((r.json() or {}).get("error", {}).get("errors") or [{}])[0].get("reason") == "forbidden",
   "/metrics from an address not in metrics_allow: 403 forbidden (%d)" % r.status)

# the example page's request: MISS, then HIT, one upstream call
m = re.search(r"`(youtube/v3/search\?[^`]+)`", README_TEXT)
path = "/" + m.group(1).replace("channelId=...", "channelId=" + CH) if m else None
ok(path, "README: the example page's request (%s)" % path)
c0 = fake.calls()
a = get(path)
b = get(path)
is_((a.status, a.xcache, b.status, b.xcache), (200, "MISS", 200, "HIT"), "the page's request: MISS, then HIT")
is_(fake.calls() - c0, 1, "... one upstream call")
ok(b.body == a.body and a.header("content-type") == CT, "... the same JSON bytes")
is_(a.header("cache-control"), "public, max-age=21600", "Cache-Control: public, max-age=N (search: 6 hours)")
# HTTP interface: Anything else 404 JSON; a signed-in request
# oauthNotSupported; If-None-Match with the ETag 304; OPTIONS 204;
# another method 405 with Allow


def reason(r):
    return (((r.json() or {}).get("error") or {}).get("errors") or [{}])[0].get("reason")


def http(method, path, headers=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", S["port"], timeout=30)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return yth.Response(r.status, r.reason, r.getheaders(), r.read())
    finally:
        c.close()


r = get("/youtube/v3/nosuchresource?part=id")
is_((r.status, r.header("content-type"), reason(r)), (404, CT, "notFound"), "an unknown resource: 404 JSON notFound")
r = get("/youtube/v3/videos?part=snippet&myRating=like")
is_((r.status, reason(r)), (400, "oauthNotSupported"), "a request that needs a signed-in user: oauthNotSupported")
etag = a.header("etag")
r = get(path, headers={"If-None-Match": etag or '"x"'})
is_((bool(etag), r.status), (True, 304), "If-None-Match with the ETag: 304")
r = http("OPTIONS", path, {"Origin": S["origin"], "Access-Control-Request-Method": "GET"})
is_(r.status, 204, "OPTIONS: 204")
r = http("DELETE", path)
is_((r.status, r.header("allow")), (405, "GET, HEAD, OPTIONS"), "DELETE: 405 with Allow: GET, HEAD, OPTIONS")
r = http("HEAD", path)
ok(r.status == 200 and r.body == b"" and r.header("x-cache") in ("HIT", "MISS", "STALE"), "HEAD: headers only")

# Errors: Google's shape, as the README's example
m = re.search(r"```json\n(.*?)\n```", README_TEXT, re.S)
shape = json.loads(m.group(1)) if m else {}
r = get("/youtube/v3/videos?part=nonsense&id=" + yth.vid("readmeErr"))
e = r.json() or {}


def keys_of(x):
    return sorted(x.keys()) if isinstance(x, dict) else None


ok(shape.get("error"), "README: an error in Google's shape is shown")
is_((r.status, keys_of(e), keys_of(e.get("error")), keys_of((e.get("error", {}).get("errors") or [{}])[0])),
    (400, keys_of(shape), keys_of(shape.get("error")), keys_of((shape.get("error", {}).get("errors") or [{}])[0])),
    "a bad part: 400 with the README's error shape (error.code, message, errors[])")
is_(((e.get("error", {}).get("errors") or [{}])[0].get("domain"), reason(r), r.header("cache-control")),
    ("ytcache", "invalidParameter", "no-store"), "... domain ytcache, invalidParameter, Cache-Control: no-store")

# nginx: a page's burst passes (20 a second per address, burst 100,
# nodelay); a client sending hundreds at once gets JSON 429s, Retry-After: 1
got = yth.concurrent(lambda i: get(path, src="127.5.5.5"), 200)
statuses = [getattr(g, "status", repr(g)) for g in got]
too_many = [g for g in got if getattr(g, "status", None) == 429]
ok(statuses.count(200) >= 100 and too_many and statuses.count(200) + len(too_many) == 200,
   "200 at once from one address: the burst of 100 passes, the rest 429 (%d 200s, %d 429s)"
   % (statuses.count(200), len(too_many)))
ok(too_many and all(g.header("content-type") == CT and reason(g) and g.header("retry-after") == "1"
                    for g in too_many), "... JSON 429s with Retry-After: 1")

# the canonical key: part=snippet,id&id=b,a and id=b,a&part=id,snippet are one entry, id=a,b another
va, vb = yth.vid("readmeA"), yth.vid("readmeB")
c0 = fake.calls()
a = get("/youtube/v3/videos?part=snippet,id&id=%s,%s" % (vb, va))
b = get("/youtube/v3/videos?id=%s,%s&part=id,snippet" % (vb, va))
c = get("/youtube/v3/videos?id=%s,%s&part=id,snippet" % (va, vb))
is_((a.xcache, b.xcache, c.xcache, fake.calls() - c0), ("MISS", "HIT", "MISS", 2),
    "the README's orders: part's order is one entry, the ids' order another")
# the crontab line quotes contrib/crontab.example
cron = next((body for lg, _, body in BLOCKS if lg == "" and any("ytcache-refresh" in x for x in body)), [])
crontab = yth.read_file(os.path.join(yth.SRCDIR, "contrib", "crontab.example")).decode()
ok(cron and all(x in crontab.split("\n") for x in cron), "the README's crontab line is contrib/crontab.example's")

# Security: keys are not written to logs (the demo's logs, its terminal,
# and the output of every command run above)
secrets = KEYS + tuple(SPARE.values())
logs = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(demo.state, "log")) for f in fs]
texts = [yth.read_file(f).decode("utf-8", "replace") for f in logs] + [demo.output()] + \
    [yth.read_file(os.path.join(tmp, "logs", "commands.log")).decode("utf-8", "replace")]
cmp_ok(len(logs), ">=", 3, "the demo's logs (%d files)" % len(logs))
is_([k for k in secrets if any(k in t for t in texts)], [], "no server key in any log or command output")

demo.stop()
yth.done_testing()
