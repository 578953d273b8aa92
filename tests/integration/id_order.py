#!/usr/bin/python3
"""Items in the order the client asked for them (issue 16, item 0): an id
list keeps its order in the canonical request and upstream, only repeats
after the first occurrence are dropped; two orders of the same ids are two
cache rows, each answered byte for byte as the upstream sent it for that
order; a row stored under the old sorted key is not found any more."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_  # noqa: E402

s = yth.Stack("spawn-fcgi", workers=2)
fake, db = s.fake, s.db
V = "/youtube/v3/videos"
IDS = ["dQw4w9WgXcQ", "9bZkp7q19f0", "kJQP7kiw5Fk", "JGwWNGJdvx8", "RgKAFK5djSk"]
REV = list(reversed(IDS))


def ids_of(r):
    return [i.get("id") for i in (r.json() or {}).get("items", [])]


def rows_with(ids):
    return db.count("endpoint = 'videos' AND id = %s" % yth.sql_str(",".join(ids)))


# ---------------------------------------------------------------- one order
c0 = fake.calls()
r1 = s.get(V + "?part=snippet,statistics&id=" + ",".join(IDS))
is_((r1.status, r1.xcache), (200, "MISS"), "first order: 200 MISS")
is_(ids_of(r1), IDS, "first order: items in the order asked, not sorted")
n1 = fake.calls() - c0
sent1 = fake.stats()["queries"][-1]
is_(dict(yth.parse_query(sent1)).get("id"), ",".join(IDS), "first order: the id list went upstream in that order")
ok(r1.body == fake.body("videos?" + sent1), "first order: the body is byte for byte the upstream's")

# ---------------------------------------------------------------- the other order
c1b = fake.calls()
r2 = s.get(V + "?part=snippet,statistics&id=" + ",".join(REV))
is_((r2.status, r2.xcache), (200, "MISS"), "reversed order: its own MISS, not the first order's row")
is_(ids_of(r2), REV, "reversed order: items reversed")
n2 = fake.calls()
sent2 = fake.stats()["queries"][-1]
ok(r2.body == fake.body("videos?" + sent2), "reversed order: byte for byte the upstream's body")
is_((n1, n2 - c1b), (1, 1), "two orders: one upstream call each")
is_((rows_with(IDS), rows_with(REV)), (1, 1), "two orders: two rows")

# ---------------------------------------------------------------- each a HIT in its own order
c1 = fake.calls()
h1 = s.get(V + "?part=statistics,snippet&id=" + ",".join(IDS))
h2 = s.get(V + "?part=snippet,statistics&id=" + ",".join(REV))
is_((h1.xcache, h2.xcache), ("HIT", "HIT"), "both orders HIT (part order still normalised)")
ok(h1.body == r1.body and h2.body == r2.body and h1.body != h2.body,
   "each HIT is its own order's bytes")
is_(fake.calls(), c1, "the HITs made no upstream call")

# ---------------------------------------------------------------- exact repeats dropped after the first
dup = [IDS[2], IDS[0], IDS[2], IDS[1], IDS[0]]
r3 = s.get(V + "?part=id&id=" + ",".join(dup))
is_(ids_of(r3), [IDS[2], IDS[0], IDS[1]], "repeats dropped after their first occurrence, order kept")
is_(dict(yth.parse_query(fake.stats()["queries"][-1])).get("id"), ",".join([IDS[2], IDS[0], IDS[1]]),
    "repeats: the de-duplicated list went upstream")
r4 = s.get(V + "?part=id&id=%s&id=%s,%s" % (IDS[2], IDS[0], IDS[1]))
is_(r4.xcache, "HIT", "repeated id= params are the union in order: the same row")

# ---------------------------------------------------------------- old sorted-key rows are unreachable
# A row as the sorted canonical form stored it: key over "videos\npool\n<query>".
srt = sorted(IDS[:3])
old_query = "id=%s&part=snippet" % ",".join(srt)
old_key = hashlib.sha256(("videos\npool\n" + old_query).encode()).hexdigest()
planted = json.dumps({"kind": "youtube#videoListResponse", "etag": "planted-old-row", "items": []})
db.sql("INSERT INTO cache (cache_key, request, response, status, etag, ttl, fetched_at, expires_at) VALUES "
       "(UNHEX('%s'), %s, %s, 200, 'planted-old-row', 3600, UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL 1 HOUR)"
       % (old_key, yth.sql_str(json.dumps({"endpoint": "videos", "key": "pool",
                                            "params": {"id": ",".join(srt), "part": "snippet"}})),
          yth.sql_str(planted)))
c2 = fake.calls()
r5 = s.get(V + "?part=snippet&id=" + ",".join(srt))
is_(r5.xcache, "MISS", "a row under the old sorted key is not served")
ok(b"planted-old-row" not in r5.body, "the old row's body is not what came back")
is_(ids_of(r5), srt, "the fresh answer has the ids in the order asked")
is_(fake.calls() - c2, 1, "one upstream call for it")
single = "id=%s&part=snippet" % IDS[0]
r6 = s.get(V + "?" + single)
k6 = hashlib.sha256(("videos\npool\n" + single).encode()).hexdigest()
is_(db.count("cache_key = UNHEX('%s')" % k6), 1, "a single id keeps the key it always had (no needless refetch)")
is_(r6.status, 200, "single id: 200")

yth.done_testing()
