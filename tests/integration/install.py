#!/usr/bin/python3
"""`make install DESTDIR=... prefix=/usr/local` from the build tree puts
everything where the README says: the three programs in bin/, the man
pages in share/man/man8 and man5, the example configuration in
share/doc/ytcache/, the schema and migrations in share/ytcache/sql/.  The
installed programs run, and `make uninstall` removes every file again."""

import filecmp
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, diag  # noqa: E402

tmp = yth.make_tmpdir()
dest = os.path.join(tmp, "dest")
PREFIX = "/usr/local"
root = dest + PREFIX
log = os.path.join(tmp, "logs", "make-install.log")

# a clean make environment: not the jobserver of a surrounding `make check`
env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


def make(*targets):
    with open(log, "ab") as lf:
        lf.write(("### make %s\n" % " ".join(targets)).encode())
        lf.flush()
        return subprocess.run(["make", "-s"] + list(targets) + ["DESTDIR=" + dest, "prefix=" + PREFIX],
                              cwd=yth.BUILDDIR, env=env, stdout=lf, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=75).returncode


rc = make("install")
if not is_(rc, 0, "make install DESTDIR=... prefix=%s" % PREFIX):
    diag(yth.read_file(log).decode("utf-8", "replace")[-3000:])

EXPECTED = [
    "bin/ytcache", "bin/ytcachectl", "bin/ytcache-refresh",
    "share/man/man8/ytcache.8", "share/man/man8/ytcachectl.8", "share/man/man8/ytcache-refresh.8",
    "share/man/man5/ytcache.conf.5",
    "share/doc/ytcache/ytcache.conf.example",
    "share/ytcache/sql/schema.sql",
]
for rel in EXPECTED:
    ok(os.path.isfile(os.path.join(root, rel)), "installed: %s%s/%s" % ("$DESTDIR", PREFIX, rel))
for rel in EXPECTED[:3]:
    p = os.path.join(root, rel)
    ok(os.access(p, os.X_OK), "%s is executable" % rel)
shipped = sorted(os.path.basename(p) for p in glob.glob(os.path.join(yth.SRCDIR, "sql", "migrations", "*.sql")))
inst = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "share/ytcache/sql/migrations/*.sql")))
ok(shipped, "sql/migrations has migrations (%s)" % ", ".join(shipped))
is_(inst, shipped, "installed: share/ytcache/sql/migrations/*.sql, every migration")
for rel in ["sql/schema.sql"] + ["sql/migrations/" + m for m in inst]:
    ok(filecmp.cmp(os.path.join(yth.SRCDIR, rel), os.path.join(root, "share/ytcache", rel), shallow=False),
       "share/ytcache/%s is the source's" % rel)
ok(filecmp.cmp(os.path.join(yth.SRCDIR, "ytcache.conf.example"),
               os.path.join(root, "share/doc/ytcache/ytcache.conf.example"), shallow=False),
   "ytcache.conf.example is the source's")
for page, sec in (("ytcache", 8), ("ytcachectl", 8), ("ytcache-refresh", 8), ("ytcache.conf", 5)):
    text = yth.read_file(os.path.join(root, "share/man/man%d/%s.%d" % (sec, page, sec)))
    ok(text.startswith(b".") or b"\n.TH" in text or text.startswith(b"'"),
       "man%d/%s.%d is a man page" % (sec, page, sec))

# the installed programs run (ytcache as CGI with no request would wait: ask --help/--version)
for prog in ("ytcache", "ytcachectl", "ytcache-refresh"):
    p = os.path.join(root, "bin", prog)
    try:
        r = subprocess.run([p, "--help"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        good = r.returncode == 0 and b"usage" in (r.stdout + r.stderr).lower()
    except OSError as e:
        r, good = e, False
    ok(good, "installed %s --help runs" % prog)
    if not good:
        diag(repr(r))

# nothing outside the prefix
outside = []
for dirpath, dirnames, filenames in os.walk(dest):
    for fn in filenames:
        full = os.path.join(dirpath, fn)
        if not full.startswith(root + "/"):
            outside.append(full[len(dest):])
is_(outside, [], "nothing installed outside %s" % PREFIX)

rc = make("uninstall")
is_(rc, 0, "make uninstall DESTDIR=...")
left = []
for dirpath, dirnames, filenames in os.walk(dest):
    left += [os.path.join(dirpath, fn)[len(dest):] for fn in filenames]
is_(left, [], "make uninstall leaves no file behind")

yth.done_testing()
