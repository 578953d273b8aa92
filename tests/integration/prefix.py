#!/usr/bin/python3
"""[database] table_prefix: good manners in a shared database.

An install made without a prefix (table_prefix = "") is renamed in place to
the default prefix by the first request, rows and all; a database shared
with another application's `cache` and `schema_version` tables gets ytcache's
own prefixed tables and leaves those exactly as they were; two installs on
one server (two prefixes in one database, and a second database) never see
each other's rows and never share a lock (the refresher's run lock and the
fetch lock).  Requests are CGI runs, each a new process that checks the
schema itself."""

import os
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, isnt, like, diag  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
s = yth.Stack(launcher=None, nginx=False, migrate=False)
fake, db = s.fake, s.db
if not db.socket:
    yth.skip_all("makes a second database as root: needs the private MariaDB, not YTC_TEST_DB")
OWN = [n for n in yth.DB_NAMES if not n.startswith(("fk_", "response_"))]     # the tables
V = yth.vid("prefixA")


def conf(name, database):
    return s.write_config(os.path.join(s.tmp, name + ".conf"), database=database)


def get(cfg, v=V):
    r, rc, err = yth.run_cgi(cfg, path_info="/youtube/v3/videos", query="part=snippet&id=" + v, tmp=s.tmp)
    r.rc, r.err = rc, err.decode("utf-8", "replace")
    return r


def tables(dbname="ytcache"):
    return sorted(r[0] for r in db.sql("SELECT table_name FROM information_schema.tables"
                                       " WHERE table_schema = '%s'" % dbname, prefix=""))


def foreign_state(dbname):
    """What another application's tables are: their definitions and rows."""
    return [db.sql("SHOW CREATE TABLE `%s`" % t, db=dbname, prefix="") +
            db.sql("SELECT * FROM `%s` ORDER BY 1" % t, db=dbname, prefix="")
            for t in ("cache", "schema_version")]


# ---------------------------------------------------------------- 1. an install without a prefix, renamed in place
bare = conf("bare", {"table_prefix": '""'})
yth.migrate(bare)
latest = int(db.value("SELECT MAX(version) FROM schema_version", prefix=""))
ok(set(OWN) <= set(tables()), "table_prefix = \"\": ytcachectl migrate made the bare tables (%s ...)" % OWN[:3])
r = get(bare)
is_((r.status, r.header("x-cache")), (200, "MISS"), "the bare install stores an answer")
is_(db.count(prefix=""), 1, "one row in the bare cache table")
keys_before = db.value("SELECT GROUP_CONCAT(label ORDER BY label) FROM api_keys", prefix="")
versions_before = db.value("SELECT GROUP_CONCAT(version ORDER BY version) FROM schema_version", prefix="")
calls = fake.calls()

r = get(s.conf)     # the default prefix, ytcache_, from here on
is_((r.status, r.header("x-cache")), (200, "HIT"), "with the default prefix: the old row is served (HIT)")
is_(fake.calls(), calls, "... without an upstream call")
like(r.err, r"renamed the %d tables of an install without a table prefix to ytcache_\*" % len(OWN),
     "the first process renamed the %d tables, and said so" % len(OWN))
now = tables()
is_([t for t in OWN if t in now], [], "no bare table is left")
is_([t for t in OWN if yth.table(t) not in now], [], "every table has the prefix")
is_(db.count(), 1, "ytcache_cache has the row")
is_(db.value("SELECT GROUP_CONCAT(label ORDER BY label) FROM api_keys"), keys_before, "api_keys rows kept")
is_(db.value("SELECT GROUP_CONCAT(version ORDER BY version) FROM schema_version"), versions_before,
    "schema_version rows kept (%s)" % versions_before)
r = get(s.conf)
is_((r.status, r.header("x-cache")), (200, "HIT"), "a second process: HIT")
ok("renamed" not in r.err, "... and nothing renamed again")

# ---------------------------------------------------------------- 2. a database shared with another application
db.sql("CREATE DATABASE ytcache2 CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;"
       " GRANT ALL PRIVILEGES ON ytcache2.* TO 'ytcache'@'localhost'", db=None)
# Drupal 7's cache table, and a schema_version table of some other software
db.sql("CREATE TABLE cache (cid VARCHAR(255) NOT NULL PRIMARY KEY, data LONGBLOB, expire INT NOT NULL DEFAULT 0,"
       " created INT NOT NULL DEFAULT 0, serialized SMALLINT NOT NULL DEFAULT 0) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;"
       " INSERT INTO cache VALUES ('menu:1', 'a:0:{}', 0, 1700000000, 1), ('theme', 'x', -1, 1700000001, 0);"
       " CREATE TABLE schema_version (module VARCHAR(64) NOT NULL PRIMARY KEY, version INT NOT NULL);"
       " INSERT INTO schema_version VALUES ('system', 7080)", db="ytcache2", prefix="")
before = foreign_state("ytcache2")
other_db = conf("otherdb", {"name": "ytcache2"})
calls = fake.calls()
r = get(other_db)
is_((r.status, r.header("x-cache")), (200, "MISS"), "second database: the first request migrates it and answers")
ok("renamed" not in r.err, "... another application's cache and schema_version are not taken for an old install")
is_(foreign_state("ytcache2"), before, "the foreign cache and schema_version tables: definitions and rows untouched")
is_(int(db.value("SELECT MAX(version) FROM schema_version", db="ytcache2")), latest,
    "ytcache_schema_version of ytcache2 is at version %d" % latest)
is_(fake.calls(), calls + 1, "its own cache: the request went upstream (the first database's row is not seen)")
is_(db.count(), 1, "the first database still has its one row")

# two prefixes in one database
site2 = conf("site2", {"table_prefix": "site2_"})
calls = fake.calls()
r = get(site2)
is_((r.status, r.header("x-cache")), (200, "MISS"), "prefix site2_ in the same database: its own, empty cache")
is_(fake.calls(), calls + 1, "... an upstream call")
is_(db.count(prefix="site2_"), 1, "site2_cache: one row")
is_(db.count(), 1, "ytcache_cache: still one row")
r = get(site2)
is_((r.status, r.header("x-cache")), (200, "HIT"), "site2_ hits its own row")
is_(len(db.sql("SELECT 1 FROM information_schema.table_constraints WHERE table_schema = 'ytcache'"
               " AND constraint_name LIKE 'site2\\_%'", prefix="")), 2,
    "its two named constraints carry the prefix (they are named per database)")

# ---------------------------------------------------------------- 3. locks: never shared
held = yth.lock_name("ytcache-refresh", "ytcache", "ytcache_")
holder = yth.Proc(s.tmp, "mariadb-lock-holder", [db.client, "--no-defaults", "--socket=" + db.socket, "--user=root",
                                                 "--batch", "--skip-column-names", "--unbuffered"],
                  stdin=subprocess.PIPE)
holder.p.stdin.write(("SELECT GET_LOCK('%s', 60);\n" % held).encode())
holder.p.stdin.flush()
ok(yth.wait_for(lambda: db.value("SELECT IS_USED_LOCK('%s') IS NOT NULL" % held) == "1", 10,
                what="the test's session to hold the run lock"), "a session holds the run lock of ytcache/ytcache_")


def refresh(cfg):
    p = subprocess.run([REFRESH, "--config", cfg, "--dry-run", "--verbose"], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


BUSY = r"another ytcache-refresh run is in progress"
rc, out = refresh(s.conf)
like(out, BUSY, "ytcache/ytcache_: the refresher finds its run lock held")
for name, cfg in (("ytcache/site2_", site2), ("ytcache2/ytcache_", other_db)):
    rc, out = refresh(cfg)
    ok(rc == 0 and not re.search(BUSY, out), "%s: its refresher runs (rc %d): not the same lock" % (name, rc))
holder.p.stdin.write(("SELECT RELEASE_LOCK('%s');\n" % held).encode())
holder.p.stdin.close()
yth.wait_for(lambda: not holder.alive(), 10)
holder.stop()

# the fetch lock of one request, held by a slow fetch of the first install
key = db.value("SELECT LOWER(LEFT(HEX(cache_key), 32)) FROM cache")
local = "ytcache:" + key
names = {n: yth.lock_name(local, d, p) for n, d, p in
         (("ytcache/ytcache_", "ytcache", "ytcache_"), ("ytcache/site2_", "ytcache", "site2_"),
          ("ytcache2/ytcache_", "ytcache2", "ytcache_"))}
is_(len(set(names.values())), 3, "three installs: three lock names for one request")
diag("lock names: %s" % names)
db.sql("DELETE FROM ytcache_cache; DELETE FROM site2_cache", prefix="")
fake.mode("ok", delay_ms=4000)
calls = fake.calls()
slow = {}
t = threading.Thread(target=lambda: slow.update(r=get(s.conf)), daemon=True)
t.start()
used = lambda n: db.value("SELECT IS_USED_LOCK('%s') IS NOT NULL" % names[n]) == "1"  # noqa: E731
ok(yth.wait_for(lambda: used("ytcache/ytcache_"), 10, what="the slow fetch's lock"),
   "a slow fetch of ytcache/ytcache_ holds its lock (the qualified name)")
ok(not used("ytcache/site2_") and not used("ytcache2/ytcache_"), "... the other installs' names are free")
yth.wait_for(lambda: fake.calls() > calls, 10, what="the slow fetch to reach the fake upstream")
fake.mode("ok")     # the slow call keeps its delay
r = get(site2)
is_((r.status, r.header("x-cache")), (200, "MISS"), "site2_ fetches the same request meanwhile")
ok(used("ytcache/ytcache_"), "... while the first install's fetch is still under way (it did not wait for it)")
t.join(30)
is_(slow.get("r") and slow["r"].status, 200, "the slow fetch ends with 200")
ok(not used("ytcache/ytcache_"), "its lock is released")

yth.done_testing()
