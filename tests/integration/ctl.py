#!/usr/bin/python3
"""ytcachectl: migrate (idempotent, recorded), check-config, stats, purge; the
schema's VIRTUAL columns and their indexes."""
import os
import re
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth

s = yth.Stack(launcher="spawn-fcgi", workers=1)

# migrate ran once in Stack(); a second run changes nothing
r = s.ctl("migrate")
yth.is_(r.returncode, 0, "migrate again exits 0")
# the latest version grows with the schema; 2 (quota economy) at least
latest = int(s.db.value("SELECT MAX(version) FROM schema_version") or 0)
yth.cmp_ok(latest, ">=", 2, "schema version %d (2: quota economy)" % latest)
yth.like(r.stdout.decode(), r"up to date \(version %d\)" % latest, "second migrate reports up to date")
yth.is_(s.db.value("SELECT GROUP_CONCAT(version ORDER BY version) FROM schema_version"),
        ",".join(str(v) for v in range(1, latest + 1)), "schema_version records every version from 1 to %d" % latest)

# the generated columns are VIRTUAL and indexed as the design says
cols = dict(tuple(row) for row in s.db.sql(
    "SELECT column_name, extra FROM information_schema.columns "
    "WHERE table_schema = DATABASE() AND table_name = '%s'" % yth.table("cache")))
for c in ("endpoint", "part", "apikey", "id", "channel_id", "playlist_id", "region_code"):
    yth.like(cols.get(c, ""), r"VIRTUAL", "column %s is VIRTUAL GENERATED" % c)
idx = [tuple(row) for row in s.db.sql(
    "SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics "
    "WHERE table_schema = DATABASE() AND table_name = '%s' GROUP BY index_name" % yth.table("cache"))]
yth.ok(("idx_endpoint_part_apikey", "endpoint,part,apikey") in idx, "composite index (endpoint, part, apikey)")

# fill a few rows through the proxy
v1, v2 = yth.vid("c1"), yth.vid("c2")
for path in ("/youtube/v3/videos?part=snippet&id=" + v1,
             "/youtube/v3/videos?part=snippet&id=" + v2,
             "/youtube/v3/search?part=snippet&q=cats",
             "/youtube/v3/videos?part=snippet&chart=mostPopular&regionCode=JP"):
    yth.is_(s.get(path).status, 200, "fill " + path)
yth.is_(s.rows(), 4, "four rows")
yth.is_(s.db.value("SELECT region_code FROM cache WHERE endpoint='videos' AND region_code IS NOT NULL"),
        "JP", "region_code extracted from the request JSON")
yth.is_(s.db.value("SELECT apikey FROM cache LIMIT 1"), "pool", "key identity is 'pool'")
plan = " ".join(str(x) for row in s.db.sql(
    "EXPLAIN SELECT cache_key FROM cache WHERE endpoint='videos' AND part='snippet' AND apikey='pool'")
    for x in row)
yth.like(plan, r"idx_endpoint_part_apikey", "lookup by (endpoint, part, apikey) uses the index")

r = s.ctl("stats")
yth.is_(r.returncode, 0, "stats exits 0")
out = r.stdout.decode()
yth.like(out, r"(?m)^videos\s+3\s+3\s", "stats: videos has 3 rows, 3 fresh")
yth.like(out, r"(?m)^total\s+4\s", "stats: total 4 rows")

r = s.ctl("purge", "endpoint", "search")
yth.is_(r.returncode, 0, "purge endpoint exits 0")
yth.like(r.stdout.decode(), r"^1 rows deleted", "purge endpoint deleted one row")
yth.is_(s.rows("endpoint='search'"), 0, "no search rows left")

# purge expired removes only rows past their stale_if_error window (86400 s)
s.db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() - INTERVAL 2 DAY WHERE id = '%s'" % v1)
s.db.sql("UPDATE cache SET expires_at = UTC_TIMESTAMP() - INTERVAL 1 HOUR WHERE id = '%s'" % v2)
r = s.ctl("purge", "expired")
yth.like(r.stdout.decode(), r"^1 rows deleted", "purge expired deleted exactly one row")
yth.is_(s.rows("id='%s'" % v1), 0, "row past the stale window is gone")
yth.is_(s.rows("id='%s'" % v2), 1, "expired row inside the stale window stays")
# YouTube's developer policies: no API data kept 30 days without a refresh
s.db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL 31 DAY, "
         "expires_at = UTC_TIMESTAMP() + INTERVAL 1 HOUR WHERE id = '%s'" % v2)
r = s.ctl("purge", "expired")
yth.like(r.stdout.decode(), r"^1 rows deleted", "purge expired deletes a row fetched 31 days ago")
yth.is_(s.rows("id='%s'" % v2), 0, "row fetched 31 days ago is gone, though not expired")

r = s.ctl("purge", "endpoint", "nosuch")
yth.is_(r.returncode, 1, "purge of an unknown endpoint is a usage error")
err = r.stderr.decode()
yth.like(err, r'unknown resource "nosuch"; one of: ', "purge of an unknown endpoint: names it, then the valid names")
names = set(err.split("one of:", 1)[-1].split())
for name in ("activities", "channels", "playlistItems", "search", "videos"):
    yth.ok(name in names, "purge of an unknown endpoint: lists %s" % name)
r = s.ctl("purge", "all")
yth.is_(r.returncode, 0, "purge all exits 0")
yth.is_(s.rows(), 0, "purge all empties the table")

# check-config: good file ok, bad file names file and line
r = s.ctl("check-config")
yth.is_(r.returncode, 0, "check-config ok on the test config")
bad = os.path.join(s.tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("[cache]\nmin_ttl = 10\nnot a setting\n")
r = yth.ytcachectl(bad, "check-config", tmp=s.tmp)
yth.is_(r.returncode, 1, "check-config on a bad file exits 1")
yth.like(r.stderr.decode(), re.escape(bad) + r":3: expected key = value(\n|$)",
         "error names file and line, not the text (it may be a secret)")
long_ = os.path.join(s.tmp, "long.conf")
with open(long_, "w") as f:
    f.write("[cache]\nmax_ttl = 28d\nstale_while_revalidate = 1d\nstale_if_error = 2d\n")
r = yth.ytcachectl(long_, "check-config", tmp=s.tmp)
yth.is_(r.returncode, 1, "check-config refuses max_ttl + stale windows over 30 days")
yth.like(r.stderr.decode(), re.escape(long_) + r": max_ttl \+ stale_while_revalidate \+ stale_if_error .*30 days",
         "the refusal names the file and the 30-day limit")

# database unreachable: exit status 2
s.db.stop()
r = s.ctl("stats")
yth.is_(r.returncode, 2, "stats with the database down exits 2")
yth.ok(yth.SERVER_KEY.encode() not in r.stdout + r.stderr and yth.DB_PASSWORD.encode() not in r.stdout + r.stderr,
       "no secret in ytcachectl output")

yth.done_testing()
