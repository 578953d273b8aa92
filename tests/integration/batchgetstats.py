#!/usr/bin/python3
"""videos:batchGetStats (issue 16, item 1), beyond the official client's
MISS/HIT in googleapis.py: validation (id required, its parts only,
onBehalfOfContentOwner refused as OAuth-only, no other parameter), its
own TTL rule (300 s built in, [ttl] videos:batchGetStats overrides), its
own bucket (bucket.batchGetStats overridable; an empty bucket answers 503
quotaExhausted while videos.list still works), WebSub invalidation of its
rows by video id (one id by the id column, several through cache_ids),
and ytcache-refresh refreshing a hot row ahead of expiry."""

import hashlib
import hmac
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
s = yth.Stack("spawn-fcgi", workers=2, config={"quota": {"bucket.batchGetStats": 3}})
fake, db = s.fake, s.db
B = "/youtube/v3/videos:batchGetStats"
V1, V2, V3 = yth.vid("bgsVideo001"), yth.vid("bgsVideo002"), yth.vid("bgsVideo003")
CHANNEL = "UCbatchGetStatsTest00000"


def reason(r):
    try:
        return (r.status, (r.json() or {})["error"]["errors"][0]["reason"])
    except (KeyError, IndexError, TypeError):
        return (r.status, None)


def row(ids, cols):
    r = db.sql("SELECT %s FROM cache WHERE endpoint = 'videos:batchGetStats' AND id = %s"
               % (cols, yth.sql_str(ids)))
    return r[0] if r else None


def used(bucket):
    return int(db.value("SELECT COALESCE(SUM(used), 0) FROM key_usage WHERE bucket = %s" % yth.sql_str(bucket)))


# ---------------------------------------------------------------- validation: no call, no cost
c0 = fake.calls()
for qs, want, label in (
        ("part=statistics", (400, "missingParameter"), "no id"),
        ("part=player&id=" + V1, (400, "invalidParameter"), "a part of videos.list that batchGetStats lacks"),
        ("part=statistics&id=short", (400, "invalidParameter"), "a malformed video id"),
        ("part=statistics&id=%s&onBehalfOfContentOwner=cms" % V1, (400, "oauthNotSupported"),
         "onBehalfOfContentOwner: OAuth only"),
        ("part=statistics&id=%s&maxResults=5" % V1, (400, "unknownParameter"), "maxResults is no parameter of it"),
        ("part=statistics&chart=mostPopular", (400, "unknownParameter"), "no chart")):
    is_(reason(s.get(B + "?" + qs)), want, "validation: " + label)
is_(s.get("/youtube/v3/videos:nonsense?part=id&id=" + V1).status, 404, "another videos:method is unknown: 404")
is_(fake.calls(), c0, "refused requests reached no upstream")

# ---------------------------------------------------------------- MISS, HIT, TTL, bucket
r1 = s.get(B + "?part=statistics,snippet&id=" + V1)
is_((r1.status, r1.xcache), (200, "MISS"), "one id: MISS")
is_((r1.json() or {}).get("kind"), "youtube#batchGetStatsResponse", "the API's kind")
r2 = s.get(B + "?part=snippet,statistics&id=" + V1)
ok(r2.xcache == "HIT" and r2.body == r1.body, "same request, parts in another order: HIT, same bytes")
is_(row(V1, "ttl"), ["300"], "built-in TTL rule videos:batchGetStats: 300 s")
is_((used("batchGetStats"), used("default")), (1, 0), "charged 1 unit to batchGetStats, nothing to default")
is_(fake.units(bucket="batchGetStats"), 1, "upstream counted it in its batchGetStats bucket")

r3 = s.get(B + "?part=statistics&id=%s,%s" % (V2, V3))
is_(r3.xcache, "MISS", "two ids: MISS")
is_(int(db.value("SELECT COUNT(*) FROM cache_ids i JOIN cache c ON c.cache_key = i.cache_key "
                 "WHERE c.endpoint = 'videos:batchGetStats' AND i.id IN (%s, %s)"
                 % (yth.sql_str(V2), yth.sql_str(V3)))), 2, "two ids: each listed in cache_ids")

# bucket.batchGetStats = 3 in this config: the third unit is the last
r4 = s.get(B + "?part=id&id=" + V1)
is_((r4.status, used("batchGetStats")), (200, 3), "third call: the bucket is full (3 of 3)")
r5 = s.get(B + "?part=contentDetails&id=" + V1)
is_(reason(r5), (503, "quotaExhausted"), "bucket.batchGetStats spent: 503 quotaExhausted, no call")
is_(fake.units(bucket="batchGetStats"), 3, "the refused request never reached the upstream")
r6 = s.get("/youtube/v3/videos?part=statistics&id=" + V1)
is_((r6.status, r6.xcache), (200, "MISS"), "videos.list still answers: its bucket is default")

# ---------------------------------------------------------------- WebSub invalidation by video id
SECRET = "b" * 48
db.sql("INSERT INTO websub_subs (channel_id, topic, secret, state, lease_seconds, lease_expires_at, requested_at)"
       " VALUES (%s, %s, %s, 'active', 864000, UTC_TIMESTAMP() + INTERVAL 10 DAY, UTC_TIMESTAMP())"
       % (yth.sql_str(CHANNEL), yth.sql_str("https://www.youtube.com/xml/feeds/videos.xml?channel_id=" + CHANNEL),
          yth.sql_str(SECRET)))
token = hmac.new(SECRET.encode(), ("ytcache websub callback " + CHANNEL).encode(), hashlib.sha256).hexdigest()[:32]


def notify(video):
    body = ("<?xml version='1.0' encoding='UTF-8'?>\n"
            '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">\n'
            " <entry>\n  <id>yt:video:%s</id>\n  <yt:videoId>%s</yt:videoId>\n"
            "  <yt:channelId>%s</yt:channelId>\n  <title>t</title>\n </entry>\n</feed>\n"
            % (video, video, CHANNEL)).encode()
    sig = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    return s.http("POST", "/websub/%s?%s" % (token, yth.q([("channel", CHANNEL)])),
                  {"Content-Type": "application/atom+xml", "X-Hub-Signature": sig}, body)


def expired(ids):
    return row(ids, "expires_at < UTC_TIMESTAMP()") == ["1"]


ok(not expired(V1) and not expired(V2 + "," + V3), "before the notification: rows fresh")
is_(notify(V1).status, 204, "notification for the one-id row's video: 204")
ok(expired(V1), "the one-id batchGetStats row expired (id column)")
ok(not expired(V2 + "," + V3), "the two-id row of other videos untouched")
is_(notify(V3).status, 204, "notification for the second video of the two-id row: 204")
ok(expired(V2 + "," + V3), "the two-id row expired through cache_ids")

# ---------------------------------------------------------------- refresh-ahead
cfg = yth.write_config(os.path.join(s.tmp, "refresh.conf"), db, fake,
                       refresh={"regions": "", "hot_hits": 3, "interval": "10m"})
fake.reset()
db.sql("UPDATE cache SET recent_hits = 5, expires_at = UTC_TIMESTAMP() + INTERVAL 60 SECOND "
       "WHERE endpoint = 'videos:batchGetStats' AND id = %s" % yth.sql_str(V2 + "," + V3))
p = subprocess.run([REFRESH, "--config", cfg], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
is_(p.returncode, 0, "ytcache-refresh: exit 0 (%s)" % p.stderr.decode()[:200].strip())
st = fake.stats()
is_(st["by_resource"], {"videos:batchGetStats": 1}, "refresh-ahead replayed the hot batchGetStats row")
is_(dict(yth.parse_query(st["queries"][-1])).get("id"), V2 + "," + V3, "with its ids in their order")
ok(row(V2 + "," + V3, "expires_at > UTC_TIMESTAMP() + INTERVAL 200 SECOND") == ["1"],
   "the row got a new lifetime")
is_(fake.units(bucket="batchGetStats", stats=st), 1, "charged to batchGetStats upstream")


yth.done_testing()
