#!/usr/bin/python3
"""[economy] channel_search = uploads (issue 16, item 3): a channel's
latest videos (search with channelId, order=date, type=video and nothing
but part, maxResults, pageToken) answered from the channel's uploads
playlist: a well-formed youtube#searchListResponse built from the playlist
items, X-Ytcache-Source naming the playlist, 1 unit of the default bucket
and nothing of search's 100; paging through nextPageToken; HIT the second
time; searches the playlist cannot answer (q=, publishedAfter, another
order or type, ...) still go to search; WebSub invalidation and
refresh-ahead reach the rewritten rows; with the option off (the default)
the same search is a search.list call again, in a cache row of its own."""

import hashlib
import hmac
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
ECON = {"economy": {"channel_search": "uploads"}}
s = yth.Stack("spawn-fcgi", workers=2, config=ECON)
fake, db = s.fake, s.db
CHANNEL = "UCeconomyUploads00000000"          # UC + 22
UPLOADS = "UU" + CHANNEL[2:]
S = "/youtube/v3/search?"
LATEST = yth.q([("part", "snippet"), ("channelId", CHANNEL), ("order", "date"), ("type", "video"),
                ("maxResults", 6)])


def used(bucket):
    return int(db.value("SELECT COALESCE(SUM(used), 0) FROM key_usage WHERE bucket = %s" % yth.sql_str(bucket)))


def source(r):
    return r.header("x-ytcache-source")


# ---------------------------------------------------------------- the latest six, from the uploads playlist
fake.reset()
r1 = s.get(S + LATEST)
is_((r1.status, r1.xcache), (200, "MISS"), "latest videos: 200 MISS")
is_(source(r1), "uploads; playlistId=" + UPLOADS, "X-Ytcache-Source names the uploads playlist")
st = fake.stats()
is_(st["by_resource"], {"playlistItems": 1}, "one upstream call, to playlistItems, none to search")
is_(yth.parse_query(st["queries"][-1]),
    [("maxResults", "6"), ("part", "contentDetails,snippet"), ("playlistId", UPLOADS)],
    "the uploads playlist was asked for (UC -> UU), six items")
is_((fake.units(bucket="search", stats=st), fake.units(bucket="default", stats=st)), (0, 1),
    "upstream: search bucket untouched, 1 unit of default")
is_((used("search"), used("default")), (0, 1), "ytcache's accounting: search 0, default 1")

body = r1.json() or {}
pl = json.loads(fake.body("playlistItems?" + st["queries"][-1]))     # asks the fake itself: one more call
is_(body.get("kind"), "youtube#searchListResponse", "kind: youtube#searchListResponse")
is_(body.get("etag"), pl.get("etag"), "etag: the playlist answer's")
is_((body.get("nextPageToken"), body.get("pageInfo")), (pl.get("nextPageToken"), pl.get("pageInfo")),
    "nextPageToken and pageInfo carried over")
items = body.get("items") or []
is_([(i.get("kind"), i.get("id")) for i in items],
    [("youtube#searchResult", {"kind": "youtube#video", "videoId": p["contentDetails"]["videoId"]})
     for p in pl["items"]], "six youtube#searchResult items, id.videoId of each upload, newest first")
sn, psn, pcd = items[0].get("snippet") or {}, pl["items"][0]["snippet"], pl["items"][0]["contentDetails"]
is_(sorted(sn), sorted(["publishedAt", "channelId", "title", "description", "thumbnails", "channelTitle",
                        "liveBroadcastContent", "publishTime"]), "snippet: the fields search gives")
is_((sn.get("publishedAt"), sn.get("publishTime")), (pcd["videoPublishedAt"], pcd["videoPublishedAt"]),
    "snippet.publishedAt/publishTime: when the video was published (contentDetails)")
is_((sn.get("channelId"), sn.get("title"), sn.get("thumbnails")),
    (CHANNEL, psn["title"], psn["thumbnails"]), "snippet: channel, title, thumbnails mapped")
ok(r1.header("etag") == '"%s"' % pl.get("etag"), "ETag header: the body's etag")

r2 = s.get(S + LATEST)
ok(r2.xcache == "HIT" and r2.body == r1.body and source(r2) == source(r1),
   "again: HIT, same bytes, still marked")
is_(fake.calls(), 2, "the HIT made no call (the two: ytcache's, and the test's own look)")

# ---------------------------------------------------------------- paging through ytcache
tok = body.get("nextPageToken")
r3 = s.get(S + LATEST + "&pageToken=" + tok)
is_((r3.status, r3.xcache), (200, "MISS"), "next page: 200 MISS")
is_(dict(yth.parse_query(fake.stats()["queries"][-1])).get("pageToken"), tok,
    "next page: the token went to playlistItems")
b3 = r3.json() or {}
ok(b3.get("prevPageToken") and b3.get("items") and b3["items"][0]["id"] != items[0]["id"],
   "next page: other videos, with a prevPageToken")

# ---------------------------------------------------------------- part=id
r4 = s.get(S + yth.q([("part", "id"), ("channelId", CHANNEL), ("order", "date"), ("type", "video")]))
b4 = r4.json() or {}
ok(source(r4) and b4.get("items") and all(sorted(i) == ["etag", "id", "kind"] for i in b4["items"]),
   "part=id: items without snippet")
is_(len(b4.get("items") or []), 5, "no maxResults: five, as both methods default")

# ---------------------------------------------------------------- what only search can answer
for extra, label in ((("q", "cats"),), "q="), ((("publishedAfter", "2024-01-01T00:00:00Z"),), "publishedAfter"), \
        ((("eventType", "completed"),), "eventType"), ((("videoDuration", "short"),), "videoDuration"), \
        ((("regionCode", "DE"),), "regionCode"), ((("fields", "items(id)"),), "fields"):
    params = [("part", "snippet"), ("channelId", CHANNEL), ("order", "date"), ("type", "video")] + list(extra)
    c = fake.calls()
    r = s.get(S + yth.q(params))
    ok(r.status == 200 and source(r) is None and fake.stats()["by_resource"].get("search", 0) >= 1
       and fake.stats()["queries"][-1].startswith("channelId=") and fake.calls() == c + 1,
       "with %s: a search.list call, unmarked" % label)
for params, label in (([("part", "snippet"), ("channelId", CHANNEL), ("order", "viewCount"), ("type", "video")],
                       "order=viewCount"),
                      ([("part", "snippet"), ("channelId", CHANNEL), ("order", "date")], "no type"),
                      ([("part", "snippet"), ("channelId", CHANNEL), ("order", "date"), ("type", "video,playlist")],
                       "type=video,playlist"),
                      ([("part", "snippet"), ("order", "date"), ("type", "video"), ("q", "x")], "no channelId")):
    r = s.get(S + yth.q(params))
    ok(r.status == 200 and source(r) is None, "%s: searched as asked, unmarked" % label)
searches = fake.stats()["by_resource"].get("search", 0)
is_(searches, 10, "the ten searches the playlist cannot answer went to search.list")

# ---------------------------------------------------------------- WebSub reaches the rewritten rows
SECRET = "c" * 48
db.sql("INSERT INTO websub_subs (channel_id, topic, secret, state, lease_seconds, lease_expires_at, requested_at)"
       " VALUES (%s, %s, %s, 'active', 864000, UTC_TIMESTAMP() + INTERVAL 10 DAY, UTC_TIMESTAMP())"
       % (yth.sql_str(CHANNEL), yth.sql_str("https://www.youtube.com/xml/feeds/videos.xml?channel_id=" + CHANNEL),
          yth.sql_str(SECRET)))
token = hmac.new(SECRET.encode(), ("ytcache websub callback " + CHANNEL).encode(), hashlib.sha256).hexdigest()[:32]
VNEW = yth.vid("economyNew1")
feed = ("<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">\n'
        " <entry>\n  <id>yt:video:%s</id>\n  <yt:videoId>%s</yt:videoId>\n"
        "  <yt:channelId>%s</yt:channelId>\n  <title>t</title>\n </entry>\n</feed>\n" % (VNEW, VNEW, CHANNEL)).encode()
sig = "sha1=" + hmac.new(SECRET.encode(), feed, hashlib.sha1).hexdigest()
r = s.http("POST", "/websub/%s?%s" % (token, yth.q([("channel", CHANNEL)])),
           {"Content-Type": "application/atom+xml", "X-Hub-Signature": sig}, feed)
is_(r.status, 204, "a new upload's notification: 204")
c = fake.calls()
r5 = s.get(S + LATEST)
ok(r5.xcache in ("MISS", "STALE") and source(r5), "after it the latest videos are fetched again (%s)" % r5.xcache)
ok(yth.wait_for(lambda: fake.calls() == c + 1, 10, what="the refetch"), "one call: the uploads playlist again")
is_(dict(yth.parse_query(fake.stats()["queries"][-1])).get("playlistId"), UPLOADS, "refetched from playlistItems")

# ---------------------------------------------------------------- refresh-ahead
cfg = yth.write_config(os.path.join(s.tmp, "refresh.conf"), db, fake,
                       refresh={"regions": "", "hot_hits": 3, "interval": "10m"}, **ECON)
yth.wait_for(lambda: db.value("SELECT COUNT(*) FROM cache WHERE endpoint = 'search' AND channel_id = %s "
                              "AND expires_at > UTC_TIMESTAMP()" % yth.sql_str(CHANNEL)) != "0", 10)
db.sql("UPDATE cache SET recent_hits = 5, expires_at = UTC_TIMESTAMP() + INTERVAL 60 SECOND "
       "WHERE endpoint = 'search' AND channel_id = %s AND request LIKE '%%maxResults%%' "
       "AND request NOT LIKE '%%pageToken%%' AND request NOT LIKE '%%\"q\"%%'" % yth.sql_str(CHANNEL))
fake.reset()
p = subprocess.run([REFRESH, "--config", cfg], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
is_(p.returncode, 0, "ytcache-refresh: exit 0 (%s)" % p.stderr.decode()[:200].strip())
st = fake.stats()
is_(st["by_resource"], {"playlistItems": 1}, "refresh-ahead fetched the hot row from the uploads playlist")
is_((fake.units(bucket="search", stats=st), fake.units(bucket="default", stats=st)), (0, 1),
    "refresh-ahead: search bucket untouched")
r6 = s.get(S + LATEST)
ok(r6.xcache == "HIT" and source(r6) and (r6.json() or {}).get("kind") == "youtube#searchListResponse",
   "the refreshed row: a HIT, still a searchListResponse")

# ---------------------------------------------------------------- off (the default)
s.reconfigure()
fake.reset()
r7 = s.get(S + LATEST)
is_((r7.status, r7.xcache, source(r7)), (200, "MISS", None), "option off: a MISS of its own, unmarked")
is_(fake.stats()["by_resource"], {"search": 1}, "option off: one search.list call")
is_(fake.units(bucket="search"), 1, "option off: charged to search")
like((r7.json() or {}).get("fakeQuery", ""), r"^channelId=", "option off: the search's own answer")

yth.done_testing()
