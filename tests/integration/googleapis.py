#!/usr/bin/python3
"""The official Node.js client, @googleapis/youtube, pointed at ytcache
with rootUrl (and a dummy key): videos.list, search.list, channels.list,
playlistItems.list and videos.batchGetStats succeed through the proxy,
with the data the API (the fake upstream) gave; run again, every one is a
HIT and the upstream sees no new call.  videos.batchGetStats is charged
to its own bucket (batchGetStats), not to default, upstream and in
ytcache's accounting, which `ytcachectl stats` and /metrics show.

Every read method of the client, from the installed package's own
definitions (tests/node/methods.mjs), must have a row in
doc/api-methods.md (and every row a method of the client, with the same
path); each served one is called through the client and answers 200, each
refused one answers 400 with the table's reason and makes no upstream
call.  A new read method in the client fails this test until the table
covers it.  A request the proxy rejects raises the client's own
error with the status and reason.  www/ytcache.js, loaded in Node.js as a
CommonJS module, gets the same cache entries.

The client is installed with `npm ci` from tests/node/package.json and
package-lock.json into $YTC_BUILDDIR/tests/.node (not the source tree),
once per lock file.  No npm, no network: the test fails."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

NODE_SRC = os.path.join(yth.SRCDIR, "tests", "node")
NODE_DIR = os.path.join(yth.BUILDDIR, "tests", ".node")
FILES = ("package.json", "package-lock.json", "googleapis.mjs", "methods.mjs")


def npm_install():
    """npm ci into NODE_DIR unless the same lock file is installed there."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not ok(node and npm, "node and npm installed (%s, %s)" % (node, npm)):
        yth.bail("node/npm missing: install Node.js and npm")
    os.makedirs(NODE_DIR, exist_ok=True)
    for fn in FILES:
        shutil.copyfile(os.path.join(NODE_SRC, fn), os.path.join(NODE_DIR, fn))
    lock = yth.read_file(os.path.join(NODE_SRC, "package-lock.json"))
    want = hashlib.sha256(lock).hexdigest() + "\n"
    stamp = os.path.join(NODE_DIR, "node_modules", ".ytc-installed")
    if yth.read_file(stamp).decode() == want and \
            os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@googleapis", "youtube")):
        ok(True, "@googleapis/youtube already installed from this package-lock.json")
        return node
    log = os.path.join(tmp, "logs", "npm.log")
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false")
    with open(log, "ab") as lf:
        try:
            rc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=warn"],
                                cwd=NODE_DIR, stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, timeout=70).returncode
        except subprocess.TimeoutExpired:
            rc = "timed out after 70 s"
    if not is_(rc, 0, "npm ci installs @googleapis/youtube into the build tree"):
        diag(yth.read_file(log).decode("utf-8", "replace")[-3000:])
        yth.bail("npm ci failed (no network or no registry?): see above")
    with open(stamp, "w") as f:
        f.write(want)
    return node


s = yth.Stack("spawn-fcgi", workers=2)
tmp, fake = s.tmp, s.fake
node = npm_install()
installed = json.loads(yth.read_file(os.path.join(NODE_DIR, "node_modules", "@googleapis", "youtube",
                                                  "package.json")) or b"{}")
diag("@googleapis/youtube %s, node %s" % (installed.get("version"),
                                          subprocess.run([node, "--version"], capture_output=True,
                                                         text=True).stdout.strip()))

ROOT = "http://127.0.0.1:%d/" % s.nginx.port
IDS = {"videos": [yth.vid("nodeVideo01"), yth.vid("nodeVideo02")],
       "channel": "UCnodeClientTest000000AA", "playlist": "PLnodeClientTestPlaylist00000000AA"}
DUMMY_KEY = "AIzaDUMMY-node-client-key"
LISTS = ["videos.list", "search.list", "channels.list", "playlistItems.list", "videos.batchGetStats"]


def drive(label):
    r = subprocess.run([node, os.path.join(NODE_DIR, "googleapis.mjs"), ROOT, DUMMY_KEY,
                        os.path.join(yth.SRCDIR, "www", "ytcache.js"), json.dumps(IDS)],
                       cwd=NODE_DIR, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    with open(os.path.join(tmp, "logs", "node.log"), "a") as f:
        f.write("### %s: rc %d\n%s\n%s\n" % (label, r.returncode, r.stdout, r.stderr))
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = {}
    if not ok(r.returncode == 0 and out, "%s: the node client ran" % label):
        diag(r.stdout[-2000:] + r.stderr[-2000:])
    return out


fake.reset()
first = drive("first run")
calls_after_first = fake.calls()
for name in LISTS:
    res = first.get(name) or {}
    ok(res.get("status") == 200 and res.get("n", 0) >= 1,
       "%s through the proxy: 200 with items (%s)" % (name, {k: res.get(k) for k in ("status", "n", "error")}))
    is_(res.get("xcache"), "MISS", "%s: MISS the first time" % name)
by = fake.stats()["by_resource"]
is_({k: by.get(k) for k in ("videos", "search", "channels", "playlistItems", "videos:batchGetStats")},
    {"videos": 1, "search": 1, "channels": 1, "playlistItems": 1, "videos:batchGetStats": 1},
    "first run: one upstream call per resource")

# ---------------------------------------------------------------- videos.batchGetStats
bgs = first.get("videos.batchGetStats") or {}
is_((bgs.get("kind"), bgs.get("ids"), bgs.get("itemKinds")),
    ("youtube#batchGetStatsResponse", IDS["videos"], ["youtube#videoStats"] * len(IDS["videos"])),
    "batchGetStats: the API's answer, items in the order asked")
st = fake.stats()
is_((fake.units(bucket="batchGetStats", stats=st), fake.units(bucket="default", stats=st)), (1, 3),
    "upstream: batchGetStats charged 1 unit to its own bucket; default paid only videos, channels, "
    "playlistItems")
used = dict((b, int(u)) for b, u in s.db.sql("SELECT bucket, SUM(used) FROM key_usage GROUP BY bucket"))
is_(used, {"default": 3, "search": 1, "batchGetStats": 1},
    "ytcache's accounting: batchGetStats 1 in its own bucket, not in default")
stats_out = s.ctl("stats").stdout.decode()
like(stats_out, r"(?m)^\S+\s+active\s+batchGetStats\s+1\s+9999\s+1\s", "ytcachectl stats: the batchGetStats bucket, 1 used, 9999 left")
metrics = s.get("/metrics").body.decode()
like(metrics, r'(?m)^ytcache_quota_units_used\{key="[^"]+",bucket="batchGetStats"\} 1$',
     "/metrics: units used in the batchGetStats bucket")
like(metrics, r'(?m)^ytcache_quota_units_left\{key="[^"]+",bucket="batchGetStats"\} 9999$',
     "/metrics: units left in the batchGetStats bucket")
calls_after_first = fake.calls()
is_(first.get("videos.list", {}).get("titles"), ["Video %s" % v for v in IDS["videos"]],
    "videos.list: the API's titles (repeated part= and id= of the client merged)")
keys = set(fake.stats()["keys"])
is_(keys, {yth.SERVER_KEY}, "upstream saw only the server key, never the client's dummy key")
ok(all(DUMMY_KEY not in q for q in fake.stats()["queries"]), "the dummy key went nowhere upstream")

bad = first.get("videos.list (bad part)") or {}
is_((bad.get("status"), bad.get("code")), (400, 400), "bad part: the client raises its error with status 400")
is_(bad.get("reasons"), ["invalidParameter"], "bad part: error.errors[].reason from ytcache's Google-shaped error")

js = first.get("ytcache.js request") or {}
is_((js.get("status"), js.get("xcache"), js.get("n")), (200, "HIT", 2),
    "ytcache.js in Node: the videos.list entry of the official client is a HIT")
is_(js.get("etag"), first.get("videos.list", {}).get("etag"), "ytcache.js in Node: same data")
jse = first.get("ytcache.js error") or {}
is_((jse.get("name"), jse.get("code"), jse.get("reason")), ("YtcacheError", 400, "invalidParameter"),
    "ytcache.js in Node: rejected with code and reason")
is_(fake.calls(), calls_after_first, "nothing after the four lists reached the upstream")

# ---------------------------------------------------------------- again: all HITs
second = drive("second run")
for name in LISTS:
    a, b = first.get(name) or {}, second.get(name) or {}
    is_((b.get("status"), b.get("xcache")), (200, "HIT"), "%s again: HIT" % name)
    is_((b.get("etag"), b.get("titles")), (a.get("etag"), a.get("titles")), "%s again: same data" % name)
is_(fake.calls(), calls_after_first, "second run: no upstream call at all")

# ---------------------------------------------------------------- every read method of the client
def node_json(*args):
    r = subprocess.run([node, os.path.join(NODE_DIR, "methods.mjs")] + list(args), cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    with open(os.path.join(tmp, "logs", "node.log"), "a") as f:
        f.write("### methods.mjs %s: rc %d\n%s\n%s\n" % (args[0], r.returncode, r.stdout, r.stderr))
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        diag(r.stderr[-2000:])
        return None


def method_table():
    """doc/api-methods.md: {method: (path, answer)} from its table rows."""
    rows = {}
    for line in yth.read_file(os.path.join(yth.SRCDIR, "doc", "api-methods.md")).decode().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and cells[1].startswith("`GET "):
            rows[cells[0].strip("`")] = (cells[1].strip("`")[len("GET "):], cells[5])
    return rows


client_methods = node_json("list") or []
ok(len(client_methods) >= 20, "the client's definitions list its read methods (%d)" % len(client_methods))
is_([m["method"] for m in client_methods if not m.get("path")], [],
    "every method's URL and HTTP method could be read from the client")
table = method_table()
client_paths = {m["method"]: m["path"] for m in client_methods if m.get("path")}
is_(sorted(set(client_paths) - set(table)), [],
    "doc/api-methods.md covers every read method of @googleapis/youtube %s" % installed.get("version"))
is_(sorted(set(table) - set(client_paths)), [], "doc/api-methods.md names no method the client lacks")
is_({m: table[m][0] for m in client_paths if m in table and table[m][0] != client_paths[m]}, {},
    "each row's path is the client's")

CH, VID = "UCnodeClientTest000000AA", yth.vid("nodeVideo01")
SERVED_PARAMS = {
    "activities.list": {"part": ["snippet"], "channelId": CH},
    "captions.list": {"part": ["snippet"], "videoId": VID},
    "channelSections.list": {"part": ["snippet"], "channelId": CH},
    "channels.list": {"part": ["snippet"], "id": [CH]},
    "commentThreads.list": {"part": ["snippet"], "videoId": VID},
    "comments.list": {"part": ["snippet"], "parentId": "UgzNodeClientParent"},
    "i18nLanguages.list": {"part": ["snippet"]},
    "i18nRegions.list": {"part": ["snippet"]},
    "playlistItems.list": {"part": ["snippet"], "playlistId": IDS["playlist"]},
    "playlists.list": {"part": ["snippet"], "channelId": CH},
    "search.list": {"part": ["snippet"], "channelId": CH, "order": "date"},
    "subscriptions.list": {"part": ["snippet"], "channelId": CH},
    "videoCategories.list": {"part": ["snippet"], "regionCode": "DE"},
    "videos.list": {"part": ["statistics"], "id": [VID]},
    "videos.batchGetStats": {"part": ["snippet"], "id": [VID]},
}
served = sorted(m for m in client_paths if m in table and table[m][1].startswith("served"))
refused = sorted(m for m in client_paths if m in table and table[m][1].startswith("refused: `"))
is_(sorted(set(client_paths) & set(table)), sorted(served + refused),
    "every row is either served or refused: `reason`")
is_([m for m in served if m not in SERVED_PARAMS], [], "every served method has a request to try here")
calls = {m: SERVED_PARAMS[m] for m in served if m in SERVED_PARAMS}
# refused ones: the parameters the client requires, any value
for m in refused:
    calls[m] = {"part": ["snippet"], "id": "x1", "liveChatId": "chat1"}
c_methods = fake.calls()
by_before = dict(fake.stats()["by_resource"])
got = node_json("call", ROOT, DUMMY_KEY, json.dumps(calls)) or {}
for m in served:
    res = got.get(m) or {}
    ok(res.get("status") == 200 and res.get("xcache") in ("MISS", "HIT"),
       "%s through the client: 200 from ytcache (%s)" % (m, res))
for m in refused:
    res = got.get(m) or {}
    want = table[m][1][len("refused: `"):].split("`")[0]
    is_((res.get("status"), res.get("reasons")), (400, [want]), "%s through the client: 400 %s" % (m, want))
by_after = fake.stats()["by_resource"]
reached = sorted(r for r in by_after if by_after[r] != by_before.get(r, 0))
ok(not [r for r in reached if r.split("/")[0] in ("liveBroadcasts", "liveStreams", "liveChat", "members",
                                                   "membershipsLevels", "superChatEvents", "playlistImages",
                                                   "thirdPartyLinks", "videoAbuseReportReasons",
                                                   "videoTrainability")]
   and "captions/x1" not in reached and "videos/getRating" not in reached,
   "no refused method reached the upstream (%s)" % reached)
ok(fake.calls() > c_methods, "the served ones that were not cached yet did")

yth.done_testing()
