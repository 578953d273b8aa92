#!/usr/bin/python3
"""ytcachectl keys add|list|disable|enable|import|remove and the quota part
of ytcachectl stats (design.md, "Quota economy"): keys managed in the
database join the pool and are used for misses; list never shows a whole
key; disable / enable / remove take effect for the running processes;
usage errors exit 1 (a bad label says what a label may be), a label or key
already in the pool and an unreachable database exit 2, as README and
ytcachectl(8) document."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, like, diag  # noqa: E402

K = yth.SERVER_KEY
N1 = "AIzaSyCTL-added-key-one-1111"
N2 = "AIzaSyCTL-added-key-two-2222"
I1 = "AIzaSyCTL-imported-key-3333"
I2 = "AIzaSyCTL-imported-key-4444"
SECRETS = [K, N1, N2, I1, I2]
s = yth.Stack("spawn-fcgi", workers=2, fake_keys=SECRETS, config={"upstream": {"rotate_on_quota": "yes"}})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=id&id="
n = [0]
outputs = []


def ctl(*args, **kw):
    r = s.ctl(*args, **kw)
    outputs.append(r.stdout + r.stderr)
    return r


def text(r):
    return (r.stdout + r.stderr).decode("utf-8", "replace")


def misses(k):
    fake.reset()
    out = []
    for _ in range(k):
        n[0] += 1
        out.append(s.get(V + yth.vid("ctlkeys%04d" % n[0])))
    return out, fake.stats()["keys"]


def whole_secret_in(blob):
    return [sec[-4:] for sec in SECRETS if sec.encode() in blob]


# today's key_usage rows exist before any key is added (keys are added to a running pool)
got, used = misses(2)
is_([(r.status, r.xcache) for r in got], [(200, "MISS")] * 2, "the config key serves misses")
is_(set(used), {K}, "only the config key so far")

# ---------------------------------------------------------------- list
r = ctl("keys", "list")
is_(r.returncode, 0, "keys list: exit 0")
like(text(r), re.escape(yth.key_label(K)), "keys list shows the config key's label")
like(text(r), re.escape(K[-4:]), "keys list shows the key's last 4 characters")
is_(whole_secret_in(r.stdout + r.stderr), [], "keys list: no whole key")

# ---------------------------------------------------------------- add (argument and standard input)
r = ctl("keys", "add", "ctl-one", N1)
is_(r.returncode, 0, "keys add ctl-one KEY: exit 0 (%s)" % text(r).strip())
r = ctl("keys", "add", "ctl-two", input=(N2 + "\n").encode())
is_(r.returncode, 0, "keys add ctl-two (key on standard input): exit 0 (%s)" % text(r).strip())
rows = db.sql("SELECT label, source, state, secret FROM api_keys WHERE label LIKE 'ctl-%' ORDER BY label")
is_(rows, [["ctl-one", "ctl", "active", N1], ["ctl-two", "ctl", "active", N2]],
    "api_keys: both added, source ctl, active, the key stored as given")
r = ctl("keys", "list")
like(text(r), r"ctl-one", "keys list shows ctl-one")
like(text(r), r"ctl-two", "keys list shows ctl-two")
is_(whole_secret_in(r.stdout + r.stderr), [], "keys list with 3 keys: no whole key")
for sec in (K, N1, N2):
    like(text(r), re.escape(sec[-4:]), "keys list: ...%s shown masked" % sec[-4:])

got, used = misses(9)
is_([x.status for x in got], [200] * 9, "9 misses after adding two keys: answered")
diag("keys used: %s" % ",".join(k[-4:] for k in used))
ok(N1 in used and N2 in used,
   "keys added with ytcachectl are used for misses while the config key still has room")

# ---------------------------------------------------------------- disable / enable
r = ctl("keys", "disable", "ctl-one", "rotated out")
is_(r.returncode, 0, "keys disable ctl-one REASON: exit 0")
is_(db.sql("SELECT state, disabled_reason FROM api_keys WHERE label = 'ctl-one'"), [["disabled", "rotated out"]],
    "api_keys: ctl-one disabled with the reason given")
got, used = misses(9)
is_([x.status for x in got], [200] * 9, "after disable: misses answered")
is_(used.count(N1), 0, "a disabled key is not used")
r = ctl("keys", "list")
like(text(r), r"ctl-one.*disabled", "keys list shows ctl-one disabled")
r = ctl("keys", "enable", "ctl-one")
is_(r.returncode, 0, "keys enable ctl-one: exit 0")
is_(db.value("SELECT state FROM api_keys WHERE label = 'ctl-one'"), "active", "api_keys: ctl-one active")
got, used = misses(9)
cmp_ok(used.count(N1), ">=", 1, "after enable: ctl-one used again")
r = ctl("keys", "enable", "ctl-one")
is_(r.returncode, 0, "keys enable of an already active key: exit 0 (%s)" % text(r).strip())
r = ctl("keys", "disable", yth.key_label(K))
is_(r.returncode, 0, "keys disable of the config key: exit 0")
got, used = misses(6)
is_((used.count(K), [x.status for x in got]), (0, [200] * 6), "config key disabled: not used, misses answered")
ctl("keys", "enable", yth.key_label(K))

# ---------------------------------------------------------------- remove
r = ctl("keys", "remove", "ctl-two")
is_(r.returncode, 0, "keys remove ctl-two: exit 0")
is_(db.count("label = 'ctl-two'", "api_keys"), 0, "api_keys: ctl-two gone")
got, used = misses(9)
is_(used.count(N2), 0, "a removed key is not used")
r = ctl("keys", "list")
ok("ctl-two" not in text(r), "keys list: ctl-two no longer listed")
r = ctl("keys", "remove", "ctl-two")
is_(r.returncode, 1, "keys remove of an unknown label: exit 1")

# ---------------------------------------------------------------- import
imp = os.path.join(s.tmp, "keys.txt")
with open(imp, "w") as f:
    f.write("# keys for the pool\n\nimp-one %s\n   # an indented comment\nimp-two\t%s\n" % (I1, I2))
r = ctl("keys", "import", imp)
is_(r.returncode, 0, "keys import FILE (2 keys, comments, blank line): exit 0 (%s)" % text(r).strip())
is_(db.sql("SELECT label, source, state FROM api_keys WHERE label LIKE 'imp-%' ORDER BY label"),
    [["imp-one", "ctl", "active"], ["imp-two", "ctl", "active"]], "api_keys: both imported keys")
is_(whole_secret_in(r.stdout + r.stderr), [], "keys import: no whole key in its output")
got, used = misses(12)
ok(I1 in used and I2 in used, "imported keys are used for misses")

# ---------------------------------------------------------------- usage errors: exit 1
bad = os.path.join(s.tmp, "bad-keys.txt")
with open(bad, "w") as f:
    f.write("only-a-label\n")
for args, kw in ((("keys",), {}), (("keys", "frobnicate", "x"), {}), (("keys", "add"), {}),
                 (("keys", "add", "bad/label", "AIzaSyVALID-looking-key-77"), {}),
                 (("keys", "add", "short-key", "abc"), {}),
                 (("keys", "add", "empty-stdin"), {"input": b""}),
                 (("keys", "list", "extra"), {}),
                 (("keys", "disable", "no-such-label"), {}),
                 (("keys", "enable", "no-such-label"), {}),
                 (("keys", "import", os.path.join(s.tmp, "missing.txt")), {}),
                 (("keys", "import", bad), {})):
    r = ctl(*args, **kw)
    is_(r.returncode, 1, "ytcachectl %s: exit 1" % " ".join(args).replace(s.tmp, "TMP"))
is_(db.count("label IN ('bad/label', 'short-key', 'empty-stdin')", "api_keys"), 0, "nothing added by the bad calls")
for args in (("keys", "add", "bad/label", "AIzaSyVALID-looking-key-77"), ("keys", "disable", "x" * 65),
             ("keys", "enable", ""), ("keys", "remove", "sp ace")):
    r = ctl(*args)
    like(text(r), r"bad label.*: a label is 1-64 characters of A-Z a-z 0-9 \. _ -",
         "ytcachectl keys %s with a bad label: the error states the rule" % args[1])
    ok(not text(r).startswith("usage:"), "  ... instead of only the usage")
with open(bad, "w") as f:
    f.write("bad/label %s\n" % I1)
r = ctl("keys", "import", bad)
is_(r.returncode, 1, "keys import with a bad label: exit 1")
like(text(r), r":1: bad label \(a label is 1-64", "keys import with a bad label: the error states the rule")
is_(whole_secret_in(r.stdout + r.stderr), [], "  ... without quoting the key")

# ---------------------------------------------------------------- already in the pool: exit 2 (documented)
r = ctl("keys", "add", "ctl-dup", N1)
is_(r.returncode, 2, "keys add of a key already in the pool: exit 2, as documented")
like(text(r), r"already exists", "  ... says it already exists")
is_(whole_secret_in(r.stdout + r.stderr), [], "  ... without quoting the key")
r = ctl("keys", "add", "ctl-one", "AIzaSyCTL-another-key-6666")
is_(r.returncode, 2, "keys add with a label already in use: exit 2, as documented")
is_(db.value("SELECT secret FROM api_keys WHERE label = 'ctl-one'"), N1, "  ... the existing key is unchanged")
dup = os.path.join(s.tmp, "dup-keys.txt")
with open(dup, "w") as f:
    f.write("imp-new AIzaSyCTL-imported-key-new-9999\nimp-one AIzaSyCTL-imported-key-dup-8888\n")
r = ctl("keys", "import", dup)
is_(r.returncode, 2, "keys import with a label already in the pool: exit 2, as documented")
like(text(r), r"dup-keys\.txt:2: .*already exists", "  ... names the line")
is_(db.count("label = 'imp-new'", "api_keys"), 1, "  ... the key before it stays")
is_(ctl("keys", "remove", "imp-new").returncode, 0, "  ... (removed again: the fake upstream does not know it)")
is_(db.count("label IN ('ctl-dup')", "api_keys"), 0, "no duplicate was added")

# ---------------------------------------------------------------- stats, quota part
fake.reset()
H = yth.vid("ctlkeysHIT1")
s.get(V + H)
for _ in range(5):
    s.get(V + H)
s.launcher.stop()        # the processes flush their hit counts when they exit
r = ctl("stats")
out = text(r)
is_(r.returncode, 0, "stats: exit 0")
is_(whole_secret_in(r.stdout + r.stderr), [], "stats: no whole key")
day = yth.pacific_date()
like(out, re.escape(day), "stats names today's Pacific date %s" % day)
like(out, r"(?i)reset", "stats says when the quota resets")
usage = db.sql("SELECT k.label, ku.bucket, ku.used FROM key_usage ku JOIN api_keys k ON k.id = ku.key_id "
               "WHERE ku.day = %s AND ku.used > 0" % yth.sql_str(day))
cmp_ok(len(usage), ">=", 1, "key_usage has rows for today")
for label, bucket, used_units in usage:
    left = 10000 - int(used_units) if bucket == "default" else 100 - int(used_units)
    like(out, r"(?m)^%s\s.*\b%s\b\s+%s\s+%d\b" % (re.escape(label), bucket, used_units, left),
         "stats: %s %s used %s left %d" % (label, bucket, used_units, left))
calls = int(db.value("SELECT SUM(calls) FROM key_usage WHERE day = %s" % yth.sql_str(day)))
hits = int(db.value("SELECT COALESCE(SUM(value), 0) FROM daily_counters WHERE day = %s AND name = 'hits'"
                    % yth.sql_str(day)))
cmp_ok(hits, ">=", 5, "daily_counters: today's hits counted (%d)" % hits)
m = re.search(r"(\d+) answers from cache, (\d+) upstream calls", out)
ok(m, "stats prints today's hits vs upstream calls")
if m:
    is_((int(m.group(1)), int(m.group(2))), (hits, calls), "stats: hits and upstream calls as in the database")

# ---------------------------------------------------------------- database down: exit 2
s.db.stop()
for args in (("keys", "list"), ("keys", "add", "ctl-three", "AIzaSyCTL-never-stored-5555"),
             ("keys", "disable", "ctl-one"), ("keys", "enable", "ctl-one"), ("keys", "remove", "ctl-one"),
             ("keys", "import", imp), ("stats",)):
    r = ctl(*args)
    is_(r.returncode, 2, "database down: ytcachectl %s: exit 2" % " ".join(args).replace(s.tmp, "TMP"))

is_(whole_secret_in(b"\n".join(outputs)), [], "no ytcachectl output ever held a whole key")
yth.done_testing()
