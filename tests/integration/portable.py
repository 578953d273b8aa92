#!/usr/bin/python3
"""The self-contained build (make portable) on a bare host: a root directory
holding the host's glibc files (dpkg -L libc6) and nothing else, entered
with unshare + chroot (a private /proc mounted in it), the test MariaDB over
TCP.  ytcache runs there as a CGI program, uploaded as www/ytcache.cgi with
its configuration in /ytcache.conf (the parent of the binary's directory:
found without YTCACHE_CONFIG, as under suEXEC):
  * a MISS, libcurl and its libraries added for it in a directory of their
    own (LD_LIBRARY_PATH for that one run): the one run-time dependency;
  * the database account is an ed25519 one where the server can make it;
  * that directory removed, a HIT with the same bytes, the loader
    (LD_DEBUG=libs) opening nothing but glibc's files;
  * ytcachectl from the same build: check-config, stats, purge all (the
    row is gone from the database), keys list.
Skipped, with the reason, where unshare/chroot cannot be used (not root
and no user namespaces) or dpkg cannot list glibc's files."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402



def glibc_files():
    r = subprocess.run(["dpkg", "-L", "libc6"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return [p for p in r.stdout.split("\n") if p.startswith("/") and not p.startswith("/usr/share")
            and "/gconv/" not in p and (os.path.islink(p) or os.path.isfile(p))]


def assemble_root(root, files):
    """root/ with the host's top-level symlinks (merged /usr) and glibc's files."""
    for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if os.path.islink("/" + d):
            os.symlink(os.readlink("/" + d), os.path.join(root, d))
    for p in files:
        dst = root + os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst):
            continue
        if os.path.islink(p):
            os.symlink(os.readlink(p), dst)
        else:
            shutil.copy2(p, dst)
    for d in ("proc", "tmp", "www", "bin-user", "opt/libcurl"):
        os.makedirs(os.path.join(root, d), exist_ok=True)


def add_libcurl(root):
    """libcurl.so.4 and every library it loads that glibc does not provide, in root/opt/libcurl."""
    curl = None
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu"):
        if os.path.exists(os.path.join(d, "libcurl.so.4")):
            curl = os.path.join(d, "libcurl.so.4")
            break
    if not curl:
        return False
    out = subprocess.run(["ldd", curl], capture_output=True, text=True).stdout
    libs = [curl] + [ln.split("=>")[1].split("(")[0].strip() for ln in out.split("\n") if "=>" in ln]
    for lib in libs:
        name = os.path.basename(lib)
        dst = os.path.join(root, "opt", "libcurl", name)
        if lib and not os.path.exists(root + os.path.realpath(lib)) and not os.path.exists(dst):
            shutil.copy(lib, dst)
    return True


def enter(root):
    """The argv prefix that runs a program inside root, or None."""
    unshare, chroot = shutil.which("unshare"), shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin")
    if not unshare or not chroot:
        diag("unshare or chroot not installed")
        return None
    base = [unshare, "--mount", "--pid", "--fork", "--mount-proc=" + os.path.join(root, "proc")]
    if os.geteuid() != 0:
        base.insert(1, "--map-root-user")
    argv = base + [chroot, root, "/www/ytcache.cgi", "--version"]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        diag("cannot enter the root: %s" % e)
        return None
    if r.returncode != 0 or b"ytcache" not in r.stdout:
        diag("cannot enter the root: %s" % (r.stdout + r.stderr).decode("utf-8", "replace")[-500:])
        return None
    return base + [chroot, root]


def cgi(prefix, query, extra=None):
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET",
           "PATH_INFO": "/youtube/v3/videos", "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
           "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SCRIPT_NAME": "/ytcache.cgi", "PATH": "/bin"}
    env.update(extra or {})
    p = subprocess.run(prefix + ["/www/ytcache.cgi"], env=env, capture_output=True, timeout=60)
    r = yth.parse_cgi_output(p.stdout)
    return r, p.returncode, p.stderr.decode("utf-8", "replace")


PORTABLE = yth.make_portable()
files = glibc_files()
if not files:
    yth.skip_all("dpkg cannot list glibc's files (dpkg -L libc6): no way to assemble a bare root")
s = yth.Stack(launcher=None)
fake = s.fake
root = os.path.join(s.tmp, "root")
os.makedirs(root)
assemble_root(root, files)
shutil.copy(os.path.join(PORTABLE, "ytcache"), os.path.join(root, "www", "ytcache.cgi"))
shutil.copy(os.path.join(PORTABLE, "ytcachectl"), os.path.join(root, "bin-user", "ytcachectl"))
# over TCP: the chroot shares the network, not the file system; as an
# ed25519 account (the connector's client_ed25519.so needs libcrypto.so.3,
# which the root does not have: the self-contained build's is built in)
user, password = s.db.user, s.db.password
try:
    if s.db.value("SELECT COUNT(*) FROM information_schema.plugins WHERE plugin_name = 'ed25519'", db=None) != "1":
        s.db.sql("INSTALL SONAME 'auth_ed25519'", db=None)
    s.db.sql("CREATE USER 'ytbare'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('bare-pw-7')", db=None)
    s.db.sql("GRANT ALL PRIVILEGES ON %s.* TO 'ytbare'@'127.0.0.1'" % s.db.name, db=None)
    user, password = "ytbare", "bare-pw-7"
except yth.SQLError as e:
    diag("no ed25519 account (%s): the bare root uses a password account" % e)
yth.write_config(os.path.join(root, "ytcache.conf"), None, fake, database={
    "host": getattr(s.db, "host", None) or "127.0.0.1", "port": s.db.port, "user": user, "password": password,
    "name": s.db.name, "connect_timeout": 2})
if not add_libcurl(root):
    yth.skip_all("libcurl.so.4 not found on this machine")
prefix = enter(root)
if prefix is None:
    yth.skip_all("cannot enter a bare root here (unshare --mount --pid and chroot need root or user namespaces)")

yth.plan(15)
needed = subprocess.run(["objdump", "-p", os.path.join(PORTABLE, "ytcache")], capture_output=True, text=True).stdout
needs = sorted(ln.split()[1] for ln in needed.split("\n") if "NEEDED" in ln)
ok(needs and all(n.startswith(("libc.so", "libm.so", "ld-linux", "libdl.so", "libpthread.so")) for n in needs),
   "portable/ytcache needs glibc's libraries only: %s" % " ".join(needs))

versions = set()
for prog in ("ytcache", "ytcachectl", "ytcache-refresh"):
    out = subprocess.run(["objdump", "-T", os.path.join(PORTABLE, prog)], capture_output=True, text=True).stdout
    versions |= {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)\)?\s", out)}
newest = max(versions) if versions else (99,)
ok(newest <= (2, 28), "the programs need glibc 2.28 or older (newest symbol version %s; portable/GLIBC says %s)"
   % (".".join(map(str, newest)), open(os.path.join(PORTABLE, "GLIBC")).read().strip()))

Q = "part=snippet&id=" + yth.vid("bareRoot")
c0 = fake.calls()
r, rc, err = cgi(prefix, Q, {"LD_LIBRARY_PATH": "/opt/libcurl"})
is_((r.status, r.xcache, rc), (200, "MISS", 0), "bare root, libcurl beside: MISS, exit 0")
is_(fake.calls() - c0, 1, "the miss made one upstream call")
is_(s.db.count(), 1, "the answer is stored in the test database (as %s)" % user)

shutil.rmtree(os.path.join(root, "opt"))
r2, rc, err = cgi(prefix, Q, {"LD_DEBUG": "libs"})
is_((r2.status, r2.xcache, rc), (200, "HIT", 0), "bare root, glibc only: HIT, exit 0")
ok(r2.body == r.body and len(r.body) > 100, "the hit has the same bytes (%d)" % len(r.body))
is_(fake.calls() - c0, 1, "the hit made no upstream call")
glibc_names = {os.path.basename(p) for p in files}
loaded = sorted(set(re.findall(r"calling init: (\S+)", err)))
ok(loaded and all(os.path.basename(n) in glibc_names for n in loaded),
   "the loader opened glibc's files only: %s" % " ".join(loaded))

ctl = prefix + ["/bin-user/ytcachectl"]
r = subprocess.run(ctl + ["check-config"], capture_output=True, timeout=60, env={"PATH": "/bin"})
is_(r.returncode, 0, "ytcachectl check-config in the bare root: exit 0")
r = subprocess.run(ctl + ["stats"], capture_output=True, timeout=60, env={"PATH": "/bin"})
is_(r.returncode, 0, "ytcachectl stats: exit 0 (the database it reads is the one /ytcache.conf names: found by itself)")
like(r.stdout.decode(), r"videos", "stats lists the videos row")
r = subprocess.run(ctl + ["keys", "list"], capture_output=True, timeout=60, env={"PATH": "/bin"})
is_(r.returncode, 0, "ytcachectl keys list: exit 0")
r = subprocess.run(ctl + ["purge", "all"], capture_output=True, timeout=60, env={"PATH": "/bin"})
is_(r.returncode, 0, "ytcachectl purge all: exit 0")
is_(s.db.count(), 0, "purge all from the bare root emptied the cache table")
yth.done_testing()
