#!/usr/bin/python3
"""ytdeploy -- the shipped deployment files, run for real, for the
integration tests (on top of yth).

The files users copy (nginx/*.conf, apache/*, contrib/*.service, www/) are
what is tested: render() reads a shipped file and substitutes paths and
ports, and every substitution must match, so a changed file makes the test
stop with a clear message instead of silently testing something else.

  ShippedNginx   nginx running a shipped nginx/*.conf (http{} context file)
  StaticNginx    nginx serving a directory (a second origin for browser tests)
  Apache         a private apache2 (root, port, pid file, logs, mutexes in
                 the test's directory) with modules from the system's module
                 directory and one shipped file included
  InheritedSocket  ytcache on a listening socket passed as fd 0 (systemd
                 socket activation, StandardInput=socket)
  chromium_dom() headless Chromium's rendered DOM of a URL
  chromium_screenshot()  a PNG screenshot of it; png_pixels() decodes one
  Dom            the elements of a rendered DOM, for the page's test hooks

Programs: YTC_APACHE2 (else apache2 or httpd on PATH), YTC_CHROMIUM (else
chromium on PATH), YTC_NGINX as in yth.
"""

import html.parser
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess

import yth
from yth import bail, diag, read_file, wait_for

REPO = yth.SRCDIR


def shipped(relpath):
    return os.path.join(REPO, relpath)


def render(relpath, subs):
    """The text of the shipped file relpath with each (old, new) of subs
    replaced (all occurrences); bails out when an old string is missing."""
    text = read_file(shipped(relpath)).decode("utf-8")
    if not text:
        bail("shipped file %s is missing or empty" % relpath)
    for old, new in subs:
        if old not in text:
            bail("shipped file %s no longer contains %r: update the test that renders it"
                 % (relpath, old))
        text = text.replace(old, new)
    return text


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def mkdir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    return path


def unprivileged_user():
    """(name, uid, gid) of the user web servers switch to when the tests run
    as root (www-data, else nobody), or None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("www-data", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return name, pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    bail("running as root but neither www-data nor nobody exists for apache2's User")


def give_to(user, *paths):
    """chown paths to user (a tuple from unprivileged_user(); None: no-op)."""
    if user:
        for p in paths:
            os.chown(p, user[1], user[2])


# ------------------------------------------------------------------ nginx

def nginx_conf_dir():
    """Directory of the system nginx's own configuration (fastcgi_params,
    mime.types), from `nginx -V`."""
    bin_ = yth.which("nginx", "YTC_NGINX")
    if not bin_:
        bail("nginx not found on PATH (add its directory to PATH or set YTC_NGINX)")
    r = subprocess.run([bin_, "-V"], capture_output=True, text=True, timeout=30)
    m = re.search(r"--conf-path=(\S+)", r.stdout + r.stderr)
    d = os.path.dirname(m.group(1)) if m else None
    if not d or not os.path.exists(os.path.join(d, "fastcgi_params")):
        bail("cannot find nginx's fastcgi_params (nginx -V gives conf path %r)" % d)
    return d


# where nginx/ytcache-fastcgi.conf keeps its one-second microcache
MICRO_DIR = "/var/lib/nginx/ytcache-micro"


class ShippedNginx(yth.Nginx):
    """nginx with a shipped http{}-context file (nginx/*.conf) included
    as users do (/etc/nginx/conf.d/), after substituting subs; its
    `listen 80;` becomes this server's loopback port.  The system's
    fastcgi_params and mime.types are copied next to the main file, so
    `include fastcgi_params;` finds the real one."""

    def __init__(self, tmp, relpath, subs, name="nginx-shipped", netns=None, host=None):
        if netns:
            self.netns = netns     # run in that network namespace, listening on host
        if host:
            self.host = host
        self.relpath = relpath
        self.subs = list(subs)
        self.rendered = None
        super().__init__(tmp, [], workers=1, name=name)

    def conf_text(self):
        d = self.dir
        os.makedirs(d, exist_ok=True)
        sysconf = nginx_conf_dir()
        for fn in ("fastcgi_params", "mime.types"):
            shutil.copyfile(os.path.join(sysconf, fn), os.path.join(d, fn))
        subs = self.subs + [("listen 80;", "listen %s:%d;" % (self.host, self.port))]
        # the shipped microcache's directory, unless the test chose one
        if MICRO_DIR in read_file(shipped(self.relpath)).decode("utf-8") and \
                not any(old == MICRO_DIR for old, _ in self.subs):
            subs.append((MICRO_DIR, mkdir(os.path.join(d, "micro"), 0o700)))
        self.rendered = render(self.relpath, subs)
        write(os.path.join(d, "ytcache.conf"), self.rendered)
        out = ["daemon off;", "master_process on;", "worker_processes 1;",
               "pid %s/nginx.pid;" % d,
               "error_log %s/logs/%s-error.log notice;" % (self.tmp, self.name)]
        if os.geteuid() == 0:
            out.append("user root;")
        out += ["events { worker_connections 256; }",
                "http {",
                "    include mime.types;",
                "    default_type application/octet-stream;",
                "    access_log %s/logs/%s-access.log;" % (self.tmp, self.name),
                "    client_body_temp_path %s/client_body;" % d,
                "    fastcgi_temp_path %s/fastcgi_temp;" % d,
                "    proxy_temp_path %s/proxy_temp;" % d,
                "    uwsgi_temp_path %s/uwsgi_temp;" % d,
                "    scgi_temp_path %s/scgi_temp;" % d,
                "    # the shipped file, as in /etc/nginx/conf.d/",
                "    include ytcache.conf;",
                "}"]
        return "\n".join(out) + "\n"

    def origin(self):
        return "http://%s:%d" % (self.host, self.port)


class StaticNginx(yth.Nginx):
    """nginx serving the files of root on its own port: another origin."""

    TYPES = {"text/html": "html", "application/javascript": "js mjs",
             "application/json": "json", "text/css": "css"}

    def __init__(self, tmp, root, name="nginx-static"):
        self.root = root
        super().__init__(tmp, [], workers=1, name=name)

    def conf_text(self):
        d = self.dir
        types = " ".join("%s %s;" % (t, e) for t, e in self.TYPES.items())
        out = ["daemon off;", "master_process on;", "worker_processes 1;",
               "pid %s/nginx.pid;" % d,
               "error_log %s/logs/%s-error.log notice;" % (self.tmp, self.name)]
        if os.geteuid() == 0:
            out.append("user root;")
        out += ["events { worker_connections 64; }",
                "http {",
                "    types { %s }" % types,
                "    default_type application/octet-stream;",
                "    access_log %s/logs/%s-access.log;" % (self.tmp, self.name),
                "    client_body_temp_path %s/client_body;" % d,
                "    proxy_temp_path %s/proxy_temp;" % d,
                "    fastcgi_temp_path %s/fastcgi_temp;" % d,
                "    uwsgi_temp_path %s/uwsgi_temp;" % d,
                "    scgi_temp_path %s/scgi_temp;" % d,
                "    server {",
                "        listen 127.0.0.1:%d;" % self.port,
                "        root %s;" % self.root,
                "        index index.html;",
                "    }",
                "}"]
        return "\n".join(out) + "\n"

    def origin(self):
        return "http://127.0.0.1:%d" % self.port


def fcgiwrap_nginx(tmp, conf, workers=2, name="nginx-fcgiwrap"):
    """nginx/ytcache-fcgiwrap.conf as its comment says: the binary installed
    (install -m 755) where SCRIPT_FILENAME points, in tmp/cgi-bin; fcgiwrap
    on a socket of its own; the configuration passed as YTCACHE_CONFIG.
    Returns (Fcgiwrap, ShippedNginx)."""
    cgi = os.path.join(mkdir(os.path.join(tmp, "cgi-bin")), "ytcache")
    shutil.copyfile(yth.YTCACHE, cgi)
    os.chmod(cgi, 0o755)
    fw = yth.Fcgiwrap(tmp, conf, workers=workers)
    ng = ShippedNginx(tmp, "nginx/ytcache-fcgiwrap.conf",
                      [("/usr/local/lib/cgi-bin/ytcache", cgi),
                       ("fastcgi_param YTCACHE_CONFIG /etc/ytcache/ytcache.conf;",
                        "fastcgi_param YTCACHE_CONFIG %s;" % conf),
                       ("unix:/run/fcgiwrap.socket", "unix:" + fw.addr),
                       ("root /var/www/html;", "root %s;" % shipped("www"))],
                      name=name)
    return fw, ng


# ------------------------------------------------------------------ apache2

def apache_binary():
    b = yth.which("apache2", "YTC_APACHE2") or yth.which("httpd")
    if not b:
        bail("apache2 not found on PATH (Debian: apt-get install apache2; or set YTC_APACHE2)")
    return b


def apache_root(binary):
    """HTTPD_ROOT of the apache2 binary (`apache2 -V`)."""
    r = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, APACHE_RUN_DIR="/nonexistent"))
    m = re.search(r'HTTPD_ROOT="([^"]+)"', r.stdout + r.stderr)
    return m.group(1) if m else None


def apache_module(binary, name):
    """The shared object of apache module NAME (e.g. "fcgid"), from the
    system's LoadModule line for it (Debian: HTTPD_ROOT/mods-available/
    NAME.load), or from $YTC_APACHE_MODULES/mod_NAME.so."""
    d = os.environ.get("YTC_APACHE_MODULES")
    if d:
        return os.path.join(d, "mod_%s.so" % name)
    root = apache_root(binary)
    if root:
        text = read_file(os.path.join(root, "mods-available", name + ".load")).decode("utf-8", "replace")
        m = re.search(r"^\s*LoadModule\s+(\S+)\s+(\S+)", text, re.M)
        if m:
            return m.group(2) if m.group(2).startswith("/") else os.path.join(root, m.group(2))
    return None


class _HTTPClient:
    """http()/get() on 127.0.0.1:self.port, for the servers below."""

    def http(self, method, path, headers=None, body=None, timeout=60):
        return _http(self.port, method, path, headers, body, timeout)

    def get(self, path, headers=None, **kw):
        return self.http("GET", path, headers, **kw)


class Apache(_HTTPClient):
    """A private apache2 on a loopback port: ServerRoot, PidFile, ErrorLog,
    Mutex and runtime directories in the test's directory, modules loaded
    from the system's module directory, the event MPM, and body (the
    rendered shipped file plus what the test needs) at server level.
    When the tests run as root, Apache's children run as www-data."""

    BASE_MODULES = ["mpm_event", "authz_core", "authz_host", "mime", "alias", "dir", "env",
                    "filter", "deflate", "headers"]

    def __init__(self, tmp, name, body, modules=(), docroot=None):
        self.tmp, self.name, self.body = tmp, name, body
        self.bin = apache_binary()
        self.modules = self.BASE_MODULES + [m for m in modules if m not in self.BASE_MODULES]
        self.dir = mkdir(os.path.join(tmp, name))
        self.docroot = docroot or mkdir(os.path.join(self.dir, "htdocs"))
        self.user = unprivileged_user()
        self.errlog = os.path.join(tmp, "logs", name + "-error.log")
        self.pidfile = os.path.join(self.dir, "apache2.pid")
        self.port = yth.free_port()
        self.proc = None
        self.start()

    def module_lines(self):
        out = []
        for m in self.modules:
            so = apache_module(self.bin, m)
            if not so or not os.path.exists(so):
                bail("apache module %s not found (%r); Debian: apache2%s" %
                     (m, so, ", libapache2-mod-fcgid" if m == "fcgid" else ""))
            out.append("LoadModule %s_module %s" % (m, so))
        return out

    def conf_text(self):
        d = self.dir
        run = mkdir(os.path.join(d, "run"), 0o755)
        mutex = mkdir(os.path.join(d, "mutex"), 0o755)
        write(os.path.join(d, "mime.types"),
              "text/html html\napplication/javascript js mjs\napplication/json json\n")
        out = ["# %s: written by tests/lib/ytdeploy.py" % self.name,
               'ServerRoot "%s"' % d,
               "ServerName 127.0.0.1",
               "Listen 127.0.0.1:%d" % self.port,
               'PidFile "%s"' % self.pidfile,
               'DefaultRuntimeDir "%s"' % run,
               'Mutex file:%s default' % mutex,
               'ErrorLog "%s"' % self.errlog,
               "LogLevel warn",
               'TypesConfig "%s/mime.types"' % d]
        out += self.module_lines()
        if self.user:
            out += ["User %s" % self.user[0], "Group #%d" % self.user[2]]
        out += ['LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{X-Cache}o\\"" ytc',
                'CustomLog "%s/logs/%s-access.log" ytc' % (self.tmp, self.name),
                "StartServers 1", "ServerLimit 2", "ThreadsPerChild 16",
                "MaxRequestWorkers 32", "MinSpareThreads 4", "MaxSpareThreads 32",
                "Timeout 60", "KeepAlive Off",
                'DocumentRoot "%s"' % self.docroot,
                "<Directory />", "    AllowOverride None", "    Require all denied", "</Directory>",
                '<Directory "%s">' % self.docroot, "    Require all granted", "</Directory>"]
        if "cgid" in self.modules:
            out.append('ScriptSock "%s/cgisock"' % run)
        if "fcgid" in self.modules:
            ipc = mkdir(os.path.join(d, "fcgid"), 0o755)
            give_to(self.user, ipc)
            out += ['FcgidIPCDir "%s"' % ipc,
                    'FcgidProcessTableFile "%s/fcgid_shm"' % run]
        out += ["", "# ---- test body", self.body]
        return "\n".join(out) + "\n"

    def start(self):
        self.conf = os.path.join(self.dir, "apache2.conf")
        env = {k: v for k, v in os.environ.items() if not k.startswith("YTCACHE_")}
        for attempt in range(3):
            write(self.conf, self.conf_text())
            if os.path.exists(self.pidfile):
                os.unlink(self.pidfile)
            t = subprocess.run([self.bin, "-d", self.dir, "-f", self.conf, "-t"],
                               capture_output=True, text=True, env=env, timeout=30)
            if t.returncode != 0:
                bail("apache2 -t rejects the configuration of %s:\n%s\n---- %s\n%s" %
                     (self.name, t.stdout + t.stderr, self.conf, read_file(self.conf).decode()))
            self.proc = yth.Proc(self.tmp, self.name, [self.bin, "-d", self.dir, "-f", self.conf,
                                                      "-DFOREGROUND"], env=env)
            if wait_for(lambda: not self.proc.alive() or (os.path.exists(self.pidfile) and
                                                          yth.can_connect(("127.0.0.1", self.port))),
                        30) and self.proc.alive():
                return
            self.proc.stop()
            log = read_file(self.errlog).decode("utf-8", "replace") + self.proc.log_text()
            if "in use" in log and attempt < 2:
                self.port = yth.free_port()
                continue
            break
        bail("apache2 %s did not start:\n%s" % (self.name, (read_file(self.errlog).decode(
            "utf-8", "replace") + self.proc.log_text())[-3000:]))

    def stop(self):
        """Stop Apache (and with it the processes mod_fcgid started)."""
        if self.proc:
            self.proc.stop(signal.SIGTERM, 20)
            self.proc = None

    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def errors(self):
        return read_file(self.errlog).decode("utf-8", "replace")


def http_get(port, path, headers=None, timeout=60):
    """GET path from 127.0.0.1:port: a yth.Response."""
    return _http(port, "GET", path, headers, None, timeout)


def _http(port, method, path, headers=None, body=None, timeout=60):
    import http.client
    import time
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return yth.Response(r.status, r.reason, r.getheaders(), data, time.monotonic() - t0)
    finally:
        c.close()


# ------------------------------------------------------------------ socket activation

class InheritedSocket(yth.Launcher):
    """ytcache started the way systemd starts a socket-activated service
    with StandardInput=socket: the test binds and listens on a unix socket
    (ListenStream=) and passes it as fd 0; argv and environment come from
    the caller (rendered from the shipped unit).  stdout and stderr go to
    logs/<name>.log (StandardOutput=journal)."""
    kind = "socket-activated"

    def __init__(self, tmp, conf, argv, env, addr=None, name=None, processes=1):
        self.argv, self.env = list(argv), dict(env)
        self.processes = processes
        super().__init__(tmp, conf, processes, addr, name)
        self.procs = []
        self.sock = None
        self.start()

    def start(self):
        self._clear_socket()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.addr)
        os.chmod(self.addr, 0o660)
        self.sock.listen(128)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for k, v in os.environ.items():
            if k.startswith(("ASAN_", "UBSAN_", "LSAN_")):
                env[k] = v
        env.update(self.env)
        self.procs = [yth.Proc(self.tmp, self.name, self.argv, env=env, stdin=self.sock.fileno())
                      for _ in range(self.processes)]
        # the socket listens already: what matters is that ytcache lives and answers
        self.sock.close()       # ours; the children keep their fd 0

    def pids(self):
        return [p.pid for p in self.procs]

    def alive(self):
        return all(p.alive() for p in self.procs)

    def stop(self):
        for p in self.procs:
            p.stop(signal.SIGTERM, 10)
        rcs = [p.p.returncode for p in self.procs]
        self.procs = []
        return rcs


# ------------------------------------------------------------------ chromium

def chromium_binary():
    b = yth.which("chromium", "YTC_CHROMIUM") or yth.which("chromium-browser")
    if not b:
        bail("chromium not found on PATH (Debian: apt-get install chromium; or set YTC_CHROMIUM)")
    return b


_chromium_runs = [0]


def _chromium(tmp, url, action, budget_ms, timeout, window=None):
    """Run headless Chromium on url with action (its output options);
    return its stdout (bytes).  Its stderr goes to logs/chromium.log."""
    _chromium_runs[0] += 1
    n = _chromium_runs[0]
    home = mkdir(os.path.join(tmp, "chromium", "home"))
    profile = mkdir(os.path.join(tmp, "chromium", "profile-%d" % n))
    argv = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            # loopback only: any other host name fails at once, nothing leaves the machine
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--user-data-dir=" + profile, "--virtual-time-budget=%d" % budget_ms]
    if window:
        argv.append("--window-size=%d,%d" % window)
    argv += list(action) + [url]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_CONFIG_HOME": os.path.join(home, ".config"),
           "XDG_CACHE_HOME": os.path.join(home, ".cache"), "LANG": "C.UTF-8"}
    log = os.path.join(tmp, "logs", "chromium.log")
    with open(log, "ab") as lf:
        lf.write(("### %s\n" % " ".join(argv)).encode())
        lf.flush()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=lf, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            diag("chromium timed out after %d s on %s" % (timeout, url))
        finally:
            # helpers (zygote, crashpad) of this run, by its process group
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
    return out


# ------------------------------------------------------------------ scripts/demo

DEMO = os.path.join(REPO, "scripts", "demo")


def _cmdline(pid):
    return read_file("/proc/%d/cmdline" % pid).replace(b"\0", b" ").decode("utf-8", "replace")


class Demo(_HTTPClient):
    """scripts/demo run as a user runs it: in the foreground, its state
    directory (YTCACHE_STATE_DIR) and address (YTCACHE_LISTEN) the test's,
    the programs of this build tree (YTCACHE_BUILD_DIR), env added to its
    environment.  Its output goes to logs/NAME.log.  wait: until its banner
    ("Press Ctrl-C") or its exit."""

    def __init__(self, tmp, name="demo", env=None, wait=True, timeout=180):
        self.tmp, self.name = tmp, name
        self.state = os.path.join(tmp, name + "-state")
        self.port = yth.free_port()
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
             "LANG": "C.UTF-8", "YTCACHE_STATE_DIR": self.state,
             "YTCACHE_LISTEN": "127.0.0.1:%d" % self.port, "YTCACHE_BUILD_DIR": yth.BUILDDIR}
        for k, v in os.environ.items():
            if k.startswith(("ASAN_", "UBSAN_", "LSAN_")):
                e[k] = v
        e.update(env or {})
        self.env = e
        self.proc = yth.Proc(tmp, name, ["bash", DEMO], env=e)
        if wait and not wait_for(lambda: "Press Ctrl-C" in self.output() or not self.proc.alive(),
                                 timeout):
            bail("scripts/demo did not come up in %d s:\n%s" % (timeout, self.output()[-3000:]))

    def output(self):
        return self.proc.log_text()

    def up(self):
        return self.proc.alive() and "Press Ctrl-C" in self.output()

    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def child(self, what):
        """pid of the demo's child running WHAT (a substring of its command
        line: "mariadbd", "nginx", "src/ytcache ", "fake_upstream"), or None."""
        for pid in yth.child_pids(self.proc.pid):
            if what in _cmdline(pid):
                return pid
        return None

    def processes(self):
        """pids of every process that still refers to the state directory."""
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != os.getpid() and self.state in _cmdline(int(d)):
                out.append(int(d))
        return out

    def db_ping(self):
        mysqladmin = yth.which("mariadb-admin") or yth.which("mysqladmin")
        r = subprocess.run([mysqladmin, "--no-defaults", "--socket=" + os.path.join(self.state, "mysql.sock"),
                            "-u", pwd.getpwuid(os.getuid()).pw_name, "--connect-timeout=1", "ping"],
                           capture_output=True, timeout=30)
        return r.returncode == 0

    def sql(self, query):
        """query (ytcache's tables named bare, as in yth's sql()) on the demo's database."""
        mysql = yth.which("mariadb") or yth.which("mysql")
        r = subprocess.run([mysql, "--no-defaults", "--socket=" + os.path.join(self.state, "mysql.sock"),
                            "-u", pwd.getpwuid(os.getuid()).pw_name, "-N", "-B", "ytcache", "-e",
                            yth.prefix_sql(query)],
                           capture_output=True, text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal the demo itself (not its children: it must stop them);
        returns (exit status, seconds it took)."""
        import time
        t0 = time.monotonic()
        if self.proc.alive():
            os.kill(self.proc.pid, sig)
            try:
                self.proc.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        took = time.monotonic() - t0
        rc = self.proc.p.returncode
        return rc, took

    def kill_all(self):
        """What a failed test leaves: the demo and anything of its state."""
        self.proc.stop(signal.SIGKILL, 10)
        for pid in self.processes():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


class Dom(html.parser.HTMLParser):
    """Elements of a serialized DOM (chromium_dom()) as dicts: tag, attrs,
    text (all text inside), children are not kept.  Enough for the page's
    stable hooks: find(tag=, cls=, id=, attr=), first(...)."""
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.stack = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(el)
        if tag not in self.VOID:
            self.stack.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

    def find(self, tag=None, cls=None, id=None, attr=None):
        out = []
        for el in self.elements:
            a = el["attrs"]
            if tag and el["tag"] != tag:
                continue
            if cls and cls not in (a.get("class") or "").split():
                continue
            if id and a.get("id") != id:
                continue
            if attr and attr not in a:
                continue
            out.append(el)
        return out

    def first(self, **kw):
        f = self.find(**kw)
        return f[0] if f else None


def netlog_args(path):
    """Chromium options that log every network request it makes to path
    (JSON; read it with netlog_summary())."""
    return ["--log-net-log=" + os.path.abspath(path), "--net-log-capture-mode=Default"]


def netlog_summary(path):
    """What a Chromium net log (netlog_args()) says Chromium did:
      requests  [{"url", "initiator", "net_error"}] of every URL request
                (net_error None when it succeeded; -105 ERR_NAME_NOT_RESOLVED)
      connects  every address ("host:port") a TCP connection was attempted
                to, and every UDP address data was sent to
      probes    UDP sockets connected without sending anything (Chromium
                does that to learn its own address; no packet leaves)
    None when the log is missing or not JSON."""
    import json
    try:
        log = json.loads(read_file(path).decode("utf-8", "replace"))
        names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
        phases = {v: k for k, v in log["constants"]["logEventPhase"].items()}
        events = log.get("events") or []
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    reqs, order, udp, sent, connects = {}, [], {}, set(), []
    for ev in events:
        name, phase = names.get(ev.get("type")), phases.get(ev.get("phase"))
        src = (ev.get("source") or {}).get("id")
        params = ev.get("params") or {}
        if name == "REQUEST_ALIVE" and phase == "PHASE_BEGIN" and params.get("url"):
            reqs[src] = {"url": params["url"], "initiator": None, "net_error": None}
            order.append(src)
        elif name == "URL_REQUEST_START_JOB" and phase == "PHASE_BEGIN" and src in reqs:
            reqs[src]["initiator"] = params.get("initiator")
        elif name == "REQUEST_ALIVE" and phase == "PHASE_END" and src in reqs:
            reqs[src]["net_error"] = params.get("net_error")
        elif name == "TCP_CONNECT_ATTEMPT" and params.get("address"):
            connects.append(params["address"])
        elif name == "UDP_CONNECT" and params.get("address"):
            udp[src] = params["address"]
        elif name == "UDP_BYTES_SENT":
            sent.add(src)
            if params.get("address"):
                connects.append(params["address"])
    connects += [udp[s] for s in sorted(sent) if s in udp]
    return {"requests": [reqs[s] for s in order], "connects": connects,
            "probes": [a for s, a in sorted(udp.items()) if s not in sent]}


def chromium_dom(tmp, url, budget_ms=15000, timeout=60, window=None, args=()):
    """Load url in headless Chromium, let it run (virtual time budget: the
    page's fetches finish first), return the serialized DOM (str).  Its
    stderr goes to logs/chromium.log.  window: (width, height) of the
    window (Chromium's default if None); args: more Chromium options."""
    return _chromium(tmp, url, list(args) + ["--dump-dom"], budget_ms, timeout,
                     window).decode("utf-8", "replace")


def chromium_screenshot(tmp, url, path, window=(1280, 900), budget_ms=15000, timeout=60, args=()):
    """Load url in headless Chromium as chromium_dom() does and write a PNG
    screenshot of the window (width, height) to path; returns path (the
    file is missing if Chromium wrote none)."""
    if os.path.exists(path):
        os.unlink(path)
    _chromium(tmp, url, list(args) + ["--screenshot=" + os.path.abspath(path), "--hide-scrollbars"],
              budget_ms, timeout, window)
    return path


def png_pixels(data):
    """Decode PNG bytes (8-bit RGB or RGBA, not interlaced; what Chromium
    writes) with zlib: (width, height, rows), rows a list of bytes objects
    of width * 3 RGB values.  Raises ValueError on anything else."""
    import struct
    import zlib
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif ctype == b"IDAT":
            idat.append(chunk)
        elif ctype == b"IEND":
            break
    if not ihdr:
        raise ValueError("PNG without IHDR")
    w, h, depth, color, _, _, interlace = ihdr
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError("PNG depth %d colour type %d interlace %d not handled"
                         % (depth, color, interlace))
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if ftype == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif ftype == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif ftype == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif ftype == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        elif ftype != 0:
            raise ValueError("PNG filter type %d" % ftype)
        prev = line
        if bpp == 4:
            rgb = bytearray(w * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            rows.append(bytes(rgb))
        else:
            rows.append(bytes(line))
    return w, h, rows
