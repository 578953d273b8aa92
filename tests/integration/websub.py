#!/usr/bin/python3
"""WebSub push invalidation against tests/fake_hub.py, a fake hub that
records subscription requests and verifies intent like the real one.

ytcachectl websub subscribe/unsubscribe/list and the hub's intent check;
<mount>/websub refusing intent for anything it did not ask for; a signed
notification expiring exactly the channel's and video's rows (before/after
snapshots of the cache table), and those rows then being fetched afresh;
forged, unsigned, malformed, oversized and entity-expansion payloads changing
nothing and crashing nothing; lease renewal by ytcache-refresh; index use of
the invalidation statements (taken from src/websub.c); metrics."""

import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, like, isnt  # noqa: E402

REFRESH = os.path.join(yth.BUILDDIR, "src", "ytcache-refresh")
FAKE_HUB = os.path.join(yth.SRCDIR, "tests", "fake_hub.py")
WEBSUB_C = os.path.join(yth.SRCDIR, "src", "websub.c")
TOPIC = "https://www.youtube.com/xml/feeds/videos.xml?channel_id="
NS_YT = "http://www.youtube.com/xml/schemas/2015"
NS_AT = "http://purl.org/atompub/tombstones/1.0"
MAX_BODY = 4096
SWR = 300            # [cache] stale_while_revalidate (the default, set explicitly)
WORKERS = 2


def chan(tag):
    """A valid-looking channel id: UC + 22 characters."""
    return "UC" + (re.sub(r"[^A-Za-z0-9_-]", "", tag) + "x" * 22)[:22]


def uploads(channel):
    return "UU" + channel[2:]


# ---------------------------------------------------------------- the fake hub

class FakeHub(yth.FakeServer):
    what = "fake hub"
    timeout = 30

    def __init__(self, tmp):
        self._start(tmp, "fake-hub", FAKE_HUB)
        self.url = "http://127.0.0.1:%d/subscribe" % self.port

    def stats(self):
        return self._call("GET", "/__stats")

    def mode(self, **spec):
        return self._call("POST", "/__mode", spec)

    def requests(self, channel=None, mode=None):
        return [f for f in self.stats()["requests"]
                if (channel is None or f.get("hub.topic") == TOPIC + channel)
                and (mode is None or f.get("hub.mode") == mode)]

    def verifications(self, channel=None, mode=None):
        return [v for v in self.stats()["verifications"]
                if (channel is None or v.get("topic") == TOPIC + channel)
                and (mode is None or v.get("mode") == mode)]

    def notify(self, callback, secret, body, signature=None):
        spec = {"callback": callback, "secret": secret, "body": body}
        if signature is not None:
            spec["signature"] = signature
        return self._call("POST", "/__notify", spec)


s = yth.Stack("spawn-fcgi", workers=WORKERS,
              config={"websub": {"max_body": MAX_BODY},
                      "cache": {"stale_while_revalidate": SWR},
                      "refresh": {"regions": "", "hot_hits": 1000000}})
db = s.db
hub = FakeHub(s.tmp)
CALLBACK = "http://127.0.0.1:%d/websub" % s.nginx.port
# The workers never use hub or callback (only ytcachectl and ytcache-refresh
# do), so the file is completed without restarting them.
s.config["websub"].update({"hub": hub.url, "callback": CALLBACK})
s.write_config(**s.config)
PIDS = sorted(s.launcher.pids())
ctl_outputs = []


def ctl(*args):
    r = s.ctl(*args)
    ctl_outputs.append(r.stdout + r.stderr)
    return r


def sub_row(channel):
    rows = db.sql("SELECT state, lease_seconds, "
                  "TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), lease_expires_at), secret, last_error "
                  "FROM websub_subs WHERE channel_id = %s" % yth.sql_str(channel))
    if not rows:
        return None
    st, ls, left, secret, err = rows[0]
    return {"state": st, "lease_seconds": int(ls), "left": None if left is None else int(left),
            "secret": secret, "last_error": err}


def tok(channel):
    """The callback's path token ytcache derives: HMAC-SHA256(secret, ...), 32 hex digits."""
    row = sub_row(channel) if channel else None
    if not row:
        return "0" * 32
    msg = ("ytcache websub callback " + channel).encode()
    return hmac.new(row["secret"].encode(), msg, hashlib.sha256).hexdigest()[:32]


def metrics():
    r = s.get("/metrics")
    out = {}
    for m in re.finditer(r'(?m)^ytcache_websub_notifications_total\{result="([a-z_]+)"\} (\d+)$',
                         r.body.decode()):
        out[m.group(1)] = int(m.group(2))
    m = re.search(r"(?m)^ytcache_websub_invalidated_rows_total (\d+)$", r.body.decode())
    out["rows"] = int(m.group(1)) if m else None
    return out


def still_alive(label):
    is_(sorted(s.launcher.alive_pids()), PIDS, "%s: worker pids unchanged, all alive" % label)
    is_(s.get("/health").status, 200, "%s: /health still 200" % label)


M0 = metrics()
ok(M0.get("rows") is not None and "verified" in M0 and "bad_signature" in M0,
   "metrics expose the websub counters")

# ================================================================ 1. subscribe through ytcachectl
A, D, U = chan("wsChannelA"), chan("wsChannelD"), chan("wsChannelU")
r = ctl("websub", "subscribe", A)
is_(r.returncode, 0, "websub subscribe: exit 0")
like(r.stdout.decode(), r"%s: subscribe requested" % A, "websub subscribe: says it was requested")
reqs = hub.requests(A, "subscribe")
is_(len(reqs), 1, "the hub got one subscription request")
form = reqs[0] if reqs else {}
is_(form.get("_content_type"), "application/x-www-form-urlencoded", "hub request is a form POST")
is_(form.get("hub.mode"), "subscribe", "hub.mode=subscribe")
is_(form.get("hub.topic"), TOPIC + A, "hub.topic is the channel's feed")
is_(form.get("hub.callback"), CALLBACK + "/" + tok(A) + "?channel=" + A,
    "hub.callback is [websub] callback /TOKEN ?channel=ID")
is_(form.get("hub.lease_seconds"), str(5 * 86400), "hub.lease_seconds: the configured lease (5d)")
SECRET_A = form.get("hub.secret", "")
like(SECRET_A, r"^[0-9a-f]{32,}$", "hub.secret: at least 32 hex characters")
ver = yth.wait_for(lambda: hub.verifications(A, "subscribe"), 15, what="the hub's verification of A")
ok(ver and ver[0]["echoed"], "the hub's intent check got its challenge echoed (200, exact body)")
if ver and not ver[0]["echoed"]:
    yth.diag("verification: %r" % ver[0])
row = yth.wait_for(lambda: (sub_row(A) or {}).get("state") == "active" and sub_row(A), 10,
                   what="A active")
ok(row, "subscription A is active after the verification")
row = row or {}
ok(row.get("left") is not None and 5 * 86400 - 120 <= row["left"] <= 5 * 86400 + 5,
   "lease_expires_at is about now + the granted lease")
is_(row.get("secret"), SECRET_A, "the stored secret is the one given to the hub")
r = ctl("websub", "list")
is_(r.returncode, 0, "websub list: exit 0")
like(r.stdout.decode(), r"(?m)^%s\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d\s" % A, "websub list: A active with a lease end")

r = ctl("websub", "subscribe", D)
is_(r.returncode, 0, "subscribe D: exit 0")
ok(yth.wait_for(lambda: (sub_row(D) or {}).get("state") == "active", 15, what="D active"), "D active")

# unsubscribe: the row goes only once the hub has verified the unsubscription
r = ctl("websub", "subscribe", U)
ok(yth.wait_for(lambda: (sub_row(U) or {}).get("state") == "active", 15, what="U active"), "U active")
SECRET_U = (hub.requests(U, "subscribe") or [{}])[0].get("hub.secret", "")
hub.mode(verify=False)
r = ctl("websub", "unsubscribe", U)
is_(r.returncode, 0, "websub unsubscribe: exit 0")
ureq = hub.requests(U, "unsubscribe")
is_(len(ureq), 1, "the hub got one unsubscription request")
ureq = ureq[0] if ureq else {}
is_((ureq.get("hub.mode"), ureq.get("hub.topic"), ureq.get("hub.callback")),
    ("unsubscribe", TOPIC + U, CALLBACK + "/" + tok(U) + "?channel=" + U), "unsubscription: mode, topic, callback")
is_((sub_row(U) or {}).get("state"), "unsubscribing", "row kept (unsubscribing) until the hub verifies")
# the hub's verification, by hand, as the hub would send it
r = s.get("/websub/" + tok(U) + "?" + yth.q([("channel", U), ("hub.mode", "unsubscribe"), ("hub.topic", TOPIC + U),
                              ("hub.challenge", "unsub-challenge-42")]))
is_((r.status, r.body), (200, b"unsub-challenge-42"),
    "unsubscribe intent: 200 with the challenge")
is_(sub_row(U), None, "row removed after the hub's unsubscribe verification")
hub.mode(verify=True)
# and the whole round trip through the hub
U2 = chan("wsChannelU2")
ctl("websub", "subscribe", U2)
ok(yth.wait_for(lambda: (sub_row(U2) or {}).get("state") == "active", 15, what="U2 active"), "U2 active")
SECRET_U2 = (hub.requests(U2, "subscribe") or [{}])[0].get("hub.secret", "")
is_(ctl("websub", "unsubscribe", U2).returncode, 0, "unsubscribe U2: exit 0")
uv = yth.wait_for(lambda: hub.verifications(U2, "unsubscribe"), 15, what="unsubscribe verification")
ok(uv and uv[0]["echoed"], "the hub's unsubscribe verification got its challenge echoed")
ok(yth.wait_for(lambda: sub_row(U2) is None, 10, what="U2 row removed"), "U2 row removed")
listed = ctl("websub", "list").stdout.decode()
ok(U2 not in listed and U not in listed, "websub list no longer shows unsubscribed channels")

# a hub that fails: exit status, last_error, no verification
E = chan("wsChannelE")
hub.mode(status=500)
r = ctl("websub", "subscribe", E)
isnt(r.returncode, 0, "hub answering 500: non-zero exit")
like(r.stderr.decode(), r"HTTP 500", "hub answering 500: reported")
like((sub_row(E) or {}).get("last_error") or "", r"HTTP 500", "hub answering 500: last_error kept")
is_((sub_row(E) or {}).get("state"), "pending", "hub answering 500: still pending")
hub.mode(status=202)
SECRET_E = (hub.requests(E) or [{}])[0].get("hub.secret", "")

# websub forget: the pending row a failed subscribe leaves, deleted without the hub
F = chan("wsChannelF")
hub.mode(status=500)
r = ctl("websub", "subscribe", F)
is_(r.returncode, 3, "failed subscribe of F: exit 3 (hub error)")
is_((sub_row(F) or {}).get("state"), "pending", "failed subscribe of F: a pending row is left")
hub.mode(status=202)
n_hub = len(hub.stats()["requests"])
r = ctl("websub", "forget", F)
is_(r.returncode, 0, "websub forget F: exit 0")
like(r.stdout.decode(), r"^%s: subscription forgotten" % F, "websub forget F: says so")
is_(sub_row(F), None, "websub forget F: the row is gone")
is_(len(hub.stats()["requests"]), n_hub, "websub forget: the hub is not contacted")
ok(F not in ctl("websub", "list").stdout.decode(), "websub list no longer shows F")
r = ctl("websub", "forget", F)
is_(r.returncode, 1, "websub forget of a channel without a subscription: exit 1")
like(r.stderr.decode(), r"websub forget %s: no subscription for this channel" % F,
     "websub forget of a channel without a subscription: says so")
r = ctl("websub", "forget", "UCshort")
is_(r.returncode, 1, "websub forget of a non-channel id: exit 1")
like(r.stderr.decode(), r"not a channel id", "websub forget of a non-channel id: says so")
is_((sub_row(E) or {}).get("state"), "pending", "websub forget of others leaves E alone")
like(ctl("--help").stdout.decode(), r"(?m)^\s+websub forget CHANNEL_ID", "ytcachectl --help shows websub forget")
is_(ctl("websub", "subscribe", "UCshort").returncode, 1, "not a channel id: usage exit 1")

# ================================================================ 2. intent verification
P, P2, X = chan("wsChannelP"), chan("wsChannelP2"), chan("wsNeverAsked")
hub.mode(verify=False)
ctl("websub", "subscribe", P)
ctl("websub", "subscribe", P2)
hub.mode(verify=True)
is_((sub_row(P) or {}).get("state"), "pending", "P pending (the hub has not verified)")
SECRET_P = (hub.requests(P) or [{}])[0].get("hub.secret", "")
SECRET_P2 = (hub.requests(P2) or [{}])[0].get("hub.secret", "")


def intent(channel, mode, topic, challenge="chal-XYZ-123", lease="3600", extra=(), path="/websub"):
    params = []
    if channel is not None:
        params.append(("channel", channel))
    params += [("hub.mode", mode), ("hub.topic", topic)]
    if challenge is not None:
        params.append(("hub.challenge", challenge))
    if lease is not None:
        params.append(("hub.lease_seconds", lease))
    return s.get(path + "/" + tok(channel) + "?" + yth.q(list(params) + list(extra)))


refused = [
    ("unknown channel", intent(X, "subscribe", TOPIC + X)),
    ("no channel", intent(None, "subscribe", TOPIC + P)),
    ("wrong mode (unsubscribe for a pending subscription)", intent(P, "unsubscribe", TOPIC + P)),
    ("bogus mode", intent(P, "denied", TOPIC + P)),
    ("topic of another channel", intent(P, "subscribe", TOPIC + A)),
    ("topic not a channel feed", intent(P, "subscribe", "https://www.youtube.com/xml/feeds/videos.xml?playlist_id=" + uploads(P))),
    ("unknown topic for an unknown channel", intent(X, "subscribe", TOPIC + P)),
    ("no challenge", intent(P, "subscribe", TOPIC + P, challenge=None)),
    ("unsubscribe for an active subscription", intent(A, "unsubscribe", TOPIC + A)),
]
for label, r in refused:
    is_(r.status, 404, "intent refused: %s -> 404" % label)
    ok(b"chal-XYZ-123" not in r.body, "intent refused: %s: challenge not echoed" % label)
N_REFUSED = len(refused)
is_((sub_row(P) or {}).get("state"), "pending", "refusals leave P pending")
is_((sub_row(A) or {}).get("state"), "active", "refusals leave A active")
# at the callback ytcache.conf(5) gives as its example: under /youtube/v3/ is the endpoint too
r = intent(P, "subscribe", TOPIC + P, challenge="chal-P-ok-777", lease="7200", path="/youtube/v3/websub")
is_((r.status, r.body), (200, b"chal-P-ok-777"),
    "pending topic, at /youtube/v3/websub: 200 with exactly the challenge")
row = sub_row(P) or {}
is_(row.get("state"), "active", "P active after verification")
is_(row.get("lease_seconds"), 7200, "the hub's lease_seconds is stored")
ok(row.get("left") is not None and 7200 - 120 <= row["left"] <= 7205, "lease ends in the hub's lease")
N_VERIFIED_BY_HAND = 2   # U's unsubscribe and P's subscribe

# ================================================================ 3. cache rows
B, C = chan("wsChannelB"), chan("wsChannelC")
V1, V2, V3, V4, V5, V6 = (yth.vid("wsVid%d" % i) for i in range(1, 7))
ROWS = [
    # (label, path, whose: set of (kind, value) that expire it)
    ("search A by date", "search?part=snippet&channelId=%s&order=date&type=video" % A, {("ch", A)}),
    ("search A with q", "search?part=snippet&channelId=%s&q=cats" % A, {("ch", A)}),
    ("activities A", "activities?part=snippet&channelId=%s" % A, {("ch", A)}),
    ("uploads of A", "playlistItems?part=snippet&playlistId=%s&maxResults=10" % uploads(A), {("ch", A)}),
    ("channels A", "channels?part=snippet,statistics&id=%s" % A, {("ch", A)}),
    ("channels A,B", "channels?part=snippet&id=%s,%s" % (B, A), {("ch", A), ("ch", B)}),
    ("videos V1", "videos?part=snippet&id=%s" % V1, {("v", V1)}),
    ("videos V1 stats", "videos?part=statistics&id=%s" % V1, {("v", V1)}),
    ("videos V2,V1", "videos?part=snippet&id=%s,%s" % (V2, V1), {("v", V1), ("v", V2)}),
    ("videos V4", "videos?part=snippet&id=%s" % V4, {("v", V4)}),
    ("videos V5,V4,V3", "videos?part=snippet&id=%s,%s,%s" % (V5, V4, V3), {("v", V3), ("v", V4), ("v", V5)}),
    # not A's, not V1's or V4's
    ("search B", "search?part=snippet&channelId=%s" % B, {("ch", B)}),
    ("search q only", "search?part=snippet&q=%s" % V1, set()),
    ("activities B", "activities?part=snippet&channelId=%s" % B, {("ch", B)}),
    ("uploads of B", "playlistItems?part=snippet&playlistId=%s" % uploads(B), {("ch", B)}),
    ("playlist PL of A", "playlistItems?part=snippet&playlistId=PL%s" % A[2:], set()),
    ("channels B", "channels?part=snippet&id=%s" % B, {("ch", B)}),
    ("channels B,C", "channels?part=snippet&id=%s,%s" % (B, C), {("ch", B), ("ch", C)}),
    ("videos V2", "videos?part=snippet&id=%s" % V2, {("v", V2)}),
    ("videos V2,V3", "videos?part=snippet&id=%s,%s" % (V2, V3), {("v", V2), ("v", V3)}),
    ("videos V6", "videos?part=snippet&id=%s" % V6, {("v", V6)}),
    ("commentThreads V1", "commentThreads?part=snippet&videoId=%s" % V1, set()),
]


def snapshot():
    """{hex key: (expires_at, expired past the stale window?, still in the future?)}"""
    rows = db.sql("SELECT HEX(cache_key), expires_at, expires_at <= UTC_TIMESTAMP() - INTERVAL %d SECOND, "
                  "expires_at > UTC_TIMESTAMP() FROM cache ORDER BY 1" % SWR)
    return {k: (e, p == "1", f == "1") for k, e, p, f in rows}


KEY = {}     # label -> hex cache key
PATH = {}
for label, path, _ in ROWS:
    before = snapshot()
    r = s.get("/youtube/v3/" + path)
    is_((r.status, r.xcache), (200, "MISS"), "populate: %s" % label)
    new = set(snapshot()) - set(before)
    is_(len(new), 1, "populate: %s made one row" % label)
    KEY[label] = new.pop() if new else None
    PATH[label] = path
is_(int(db.value("SELECT COUNT(*) FROM cache_ids WHERE cache_key IN (%s)" %
                 ",".join("UNHEX('%s')" % KEY[lbl] for lbl in ("channels A,B", "videos V2,V1", "videos V5,V4,V3")))),
    7, "multi-id rows list each id in cache_ids")
LABEL = {v: k for k, v in KEY.items()}
ALL = snapshot()
ok(all(f for _, _, f in ALL.values()), "every populated row is fresh")


def moved(before, after):
    return {LABEL.get(k, k) for k in before if k in after and after[k][0] != before[k][0]}


def check_exact(label, before, after, expect):
    """expect: labels whose expires_at must have moved past the stale window;
    every other row must be byte-for-byte the same."""
    got = moved(before, after)
    is_(sorted(got), sorted(expect), "%s: exactly these rows expired" % label)
    ok(all(after[KEY[lbl]][1] for lbl in expect), "%s: their expires_at is past the stale window" % label)
    same = all(after.get(k) == v for k, v in before.items() if LABEL.get(k) not in expect)
    ok(same and set(after) == set(before), "%s: every other row untouched, none added or removed" % label)
    return len(got)


def feed(entries, channel_for_self=A):
    """An Atom feed as YouTube's hub pushes it; entries: (video, channel)."""
    out = ["<?xml version='1.0' encoding='UTF-8'?>",
           '<feed xmlns:yt="%s" xmlns="http://www.w3.org/2005/Atom">' % NS_YT,
           ' <link rel="hub" href="%s"/>' % hub.url,
           ' <link rel="self" href="%s%s"/>' % (TOPIC, channel_for_self),
           " <title>YouTube video feed</title>",
           " <updated>2026-01-02T03:04:05.123456789+00:00</updated>"]
    for video, channel in entries:
        out += [" <entry>",
                "  <id>yt:video:%s</id>" % video,
                "  <yt:videoId>%s</yt:videoId>" % video,
                "  <yt:channelId>%s</yt:channelId>" % channel,
                "  <title>New &amp; improved &lt;video&gt; \u00e9\u00e8</title>",
                '  <link rel="alternate" href="https://www.youtube.com/watch?v=%s"/>' % video,
                "  <author>",
                "   <name>Channel</name>",
                "   <uri>https://www.youtube.com/channel/%s</uri>" % channel,
                "  </author>",
                "  <published>2026-01-02T03:00:00+00:00</published>",
                "  <updated>2026-01-02T03:04:05.123456789+00:00</updated>",
                " </entry>"]
    out.append("</feed>")
    return "\n".join(out) + "\n"


def deleted_feed(video, channel):
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            '<feed xmlns:at="%s" xmlns="http://www.w3.org/2005/Atom">\n'
            ' <at:deleted-entry ref="yt:video:%s" when="2026-01-02T03:04:05.123456789+00:00">\n'
            '  <link href="https://www.youtube.com/watch?v=%s"/>\n'
            "  <at:by>\n   <name>Channel</name>\n"
            "   <uri>https://www.youtube.com/channel/%s</uri>\n  </at:by>\n"
            " </at:deleted-entry>\n</feed>\n" % (NS_AT, video, video, channel))


def sign(secret, body):
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def post(channel, body, signature=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    h = {"Content-Type": "application/atom+xml"}
    if signature is not None:
        h["X-Hub-Signature"] = signature
    h.update(headers or {})
    return s.http("POST", "/websub/" + tok(channel) + "?" + yth.q([("channel", channel)]), h, data)


CB_A = form.get("hub.callback")
expected_rows = 0
expected = {"verified": 0, "bad_signature": 0, "malformed": 0, "oversize": 0, "unknown_topic": 0}

# ================================================================ 4. a signed upload notification (through the hub)
before = snapshot()
calls0 = s.fake.calls()
r = hub.notify(CB_A, SECRET_A, feed([(V1, A)]))
ok(200 <= r["status"] < 300, "signed notification: acknowledged 2xx (%s)" % r["status"])
after = snapshot()
expect1 = ["search A by date", "search A with q", "activities A", "uploads of A", "channels A",
           "channels A,B", "videos V1", "videos V1 stats", "videos V2,V1"]
n_moved = check_exact("upload of V1 by A", before, after, expect1)
expected_rows += n_moved
expected["verified"] += 1
is_(metrics()["rows"] - M0["rows"], expected_rows,
    "metrics: invalidated_rows_total grew by the %d rows this push expired" % n_moved)
is_(s.fake.calls(), calls0, "a notification makes no upstream call")
is_(db.value("SELECT notifications FROM websub_subs WHERE channel_id = %s" % yth.sql_str(A)), "1",
    "the subscription counts the notification")

# the next request for such a row is a MISS that goes upstream, then fresh again
for lbl in ("search A by date", "uploads of A", "channels A,B", "videos V2,V1", "videos V1"):
    n0 = s.fake.calls()
    r = s.get("/youtube/v3/" + PATH[lbl])
    is_((r.status, r.xcache), (200, "MISS"), "after the push: %s is a MISS" % lbl)
    is_(s.fake.calls(), n0 + 1, "after the push: %s called upstream once" % lbl)
    is_(r.header("age"), "0", "after the push: %s is a fresh answer (Age 0)" % lbl)
    is_(snapshot()[KEY[lbl]][2], True, "after the push: %s row fresh again" % lbl)
    r2 = s.get("/youtube/v3/" + PATH[lbl])
    is_((r2.xcache, r2.body), ("HIT", r.body), "after the push: %s then a HIT with the new body" % lbl)
n0 = s.fake.calls()
for lbl in ("search B", "channels B", "videos V2", "videos V2,V3", "playlist PL of A"):
    is_(s.get("/youtube/v3/" + PATH[lbl]).xcache, "HIT", "untouched row still a HIT: %s" % lbl)
is_(s.fake.calls(), n0, "untouched rows cost no upstream call")

# ================================================================ 5. a deleted video (posted directly, signed)
before = snapshot()
m_before = metrics()["rows"]
body = deleted_feed(V4, A)
r = post(A, body, sign(SECRET_A, body.encode()))
ok(200 <= r.status < 300, "deleted-entry notification: 2xx (%s)" % r.status)
is_((r.status, r.reason), (204, "No Content"), "deleted-entry notification: 204 No Content")
after = snapshot()
fresh_a = [lbl for lbl in expect1 if lbl.startswith(("search A", "activities A", "uploads of A", "channels A"))
           and before[KEY[lbl]][2]]
n_moved = check_exact("deleted V4", before, after, ["videos V4", "videos V5,V4,V3"] + fresh_a)
expected_rows += n_moved
expected["verified"] += 1
# A's rows not fetched again since the first push were already expired: the
# deletion leaves them as they are, so they are no rows "expired" by it
got = metrics()["rows"] - m_before
is_(got, n_moved, "metrics: invalidated_rows_total grew by the %d rows this deletion expired "
    "(not by rows that were already expired)" % n_moved)
if got != n_moved:
    yth.diag("the counter counts rows matched (CLIENT_FOUND_ROWS), not rows whose expires_at moved")
for lbl in ("videos V4", "videos V5,V4,V3"):
    n0 = s.fake.calls()
    r = s.get("/youtube/v3/" + PATH[lbl])
    is_((r.status, r.xcache, s.fake.calls()), (200, "MISS", n0 + 1), "after the deletion: %s fetched again" % lbl)

# ================================================================ 6. entries that must not touch anything
# an entry of another channel inside A's signed feed
before = snapshot()
body = feed([(V2, B), (V6, B)])
r = post(A, body, sign(SECRET_A, body.encode()))
ok(200 <= r.status < 300, "entries of channel B in A's feed: 2xx")
is_(snapshot(), before, "entries of channel B in A's feed: nothing changed")
expected["verified"] += 1

# a channel we are not subscribed to (signed with a secret of its own, and with A's)
body = feed([(V2, B)], B)
for label, ch, sig in (("unsubscribed channel B", B, sign("0" * 48, body.encode())),
                       ("unsubscribed channel B, A's secret", B, sign(SECRET_A, body.encode())),
                       ("pending channel P2", P2, sign(SECRET_P2, body.encode())),
                       ("channel that is not an id", "nonsense", sign(SECRET_A, body.encode()))):
    r = post(ch, body, sig)
    ok(200 <= r.status < 300, "%s: acknowledged 2xx (%s)" % (label, r.status))
    is_((r.status, r.reason), (202, "Accepted"), "%s: 202 Accepted" % label)
    is_(snapshot(), before, "%s: nothing changed" % label)
    expected["unknown_topic"] += 1

# ================================================================ 7. forged, broken and hostile payloads
good = feed([(V6, A), (V2, A)])
BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
                  + "".join(' <!ENTITY lol%d "%s">\n' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10)
                            for i in range(1, 10))
                  + ']>\n<feed xmlns:yt="%s" xmlns="http://www.w3.org/2005/Atom"><entry>'
                    "<yt:videoId>%s</yt:videoId><yt:channelId>%s</yt:channelId><title>&lol9;</title>"
                    "</entry></feed>\n" % (NS_YT, V6, A))
XXE = ('<?xml version="1.0"?>\n<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
       '<feed xmlns:yt="%s" xmlns="http://www.w3.org/2005/Atom"><entry><yt:videoId>%s</yt:videoId>'
       "<yt:channelId>%s</yt:channelId><title>&xxe;</title></entry></feed>\n" % (NS_YT, V6, A))
XXE_PARAM = ('<?xml version="1.0"?>\n<!DOCTYPE feed [ <!ENTITY %% ext SYSTEM "file:///etc/passwd"> %%ext; ]>\n'
             '<feed xmlns:yt="%s" xmlns="http://www.w3.org/2005/Atom"><entry><yt:videoId>%s</yt:videoId>'
             "</entry></feed>\n" % (NS_YT, V6))
UNDECLARED = ('<feed xmlns:yt="%s" xmlns="http://www.w3.org/2005/Atom"><entry><yt:videoId>%s</yt:videoId>'
              "<title>&xxe;</title></entry></feed>\n" % (NS_YT, V6))
MALFORMED = good.replace("</feed>", "")
DEEP = ('<feed xmlns:yt="%s" xmlns="http://www.w3.org/2005/Atom"><entry>' % NS_YT
        + "<x>" * 200 + "</x>" * 200 + "<yt:videoId>%s</yt:videoId></entry></feed>" % V6)
OVERSIZE = good + "<!--" + "p" * (MAX_BODY + 100 - len(good)) + "-->\n"
ok(len(OVERSIZE.encode()) > MAX_BODY, "the oversize body is over [websub] max_body")
hostile = [
    ("bad signature", good, sign(SECRET_A[::-1], good.encode()), "bad_signature", 202),
    ("missing signature", good, None, "bad_signature", 202),
    ("sha256 signature", good, "sha256=" + hmac.new(SECRET_A.encode(), good.encode(), hashlib.sha256).hexdigest(),
     "bad_signature", 202),
    ("signature of another body", good, sign(SECRET_A, feed([(V6, A)]).encode()), "bad_signature", 202),
    ("malformed XML", MALFORMED, "sign", "malformed", 202),
    ("not XML at all", '{"json": true}', "sign", "malformed", 202),
    ("billion laughs (DOCTYPE)", BILLION_LAUGHS, "sign", "malformed", 202),
    ("external entity SYSTEM file:///etc/passwd", XXE, "sign", "malformed", 202),
    ("external parameter entity", XXE_PARAM, "sign", "malformed", 202),
    ("undeclared entity", UNDECLARED, "sign", "malformed", 202),
    ("nesting 200 deep", DEEP, "sign", "malformed", 202),
    ("oversize body", OVERSIZE, "sign", "oversize", 413),
]
before = snapshot()
for label, body, sig, kind, want in hostile:
    data = body.encode()
    if sig == "sign":
        sig = sign(SECRET_A, data)
    t0 = time.monotonic()
    r = post(A, data, sig)
    if want == 413:
        is_((r.status, r.reason), (413, "Content Too Large"), "%s: 413 Content Too Large" % label)
    else:
        ok(200 <= r.status < 300, "%s: acknowledged 2xx (%s)" % (label, r.status))
        # the reason phrase is RFC 9110's (it was "202 OK")
        is_((r.status, r.reason), (202, "Accepted"), "%s: 202 Accepted" % label)
    ok(b"root:" not in r.body and b"lol" not in r.body, "%s: nothing of the payload in the answer" % label)
    ok(time.monotonic() - t0 < 5, "%s: answered at once" % label)
    is_(snapshot(), before, "%s: nothing changed" % label)
    still_alive(label)
    expected[kind] += 1
is_(db.value("SELECT notifications FROM websub_subs WHERE channel_id = %s" % yth.sql_str(A)), "3",
    "only the three verified notifications were counted for A")

# ================================================================ 8. the invalidation statements use the indexes
src = yth.read_file(WEBSUB_C).decode()
fn = re.search(r"long long websub_invalidate\(.*?\n}\n", src, re.S)
stmts = {}
for name, lits in re.findall(r'static const char (sql_\w+)\[\] =\s*((?:"(?:[^"\\]|\\.)*"\s*)+);',
                             fn.group(0) if fn else ""):
    stmts[name] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', lits))
is_(sorted(stmts), ["sql_channel", "sql_id", "sql_ids", "sql_uploads"],
    "the four invalidation statements found in websub_invalidate")


def bind(sql, *vals):
    for v in vals:
        sql = sql.replace("?", str(v) if isinstance(v, int) else yth.sql_str(v), 1)
    ok("?" not in sql, "all parameters bound")
    return sql


def explain(sql):
    rows = db.sql("EXPLAIN " + sql)
    # id select_type table type possible_keys key key_len ref rows Extra
    return [(r_[2], r_[3], r_[5]) for r_ in rows]


plans = [
    ("channel lists", bind(stmts.get("sql_channel", ""), SWR + 1, A, SWR + 1), {"cache": "idx_channel_id"}),
    ("uploads playlist", bind(stmts.get("sql_uploads", ""), SWR + 1, uploads(A), SWR + 1), {"cache": "idx_playlist_id"}),
    ("channels by id", bind(stmts.get("sql_id", ""), SWR + 1, "channels", A, SWR + 1), {"cache": "idx_id"}),
    ("videos by id", bind(stmts.get("sql_id", ""), SWR + 1, "videos", V1, SWR + 1), {"cache": "idx_id"}),
    ("multi-id rows", bind(stmts.get("sql_ids", ""), SWR + 1, V1, SWR + 1), {"i": "PRIMARY", "c": "PRIMARY"}),
]
for label, sql, want in plans:
    try:
        plan = explain(sql)
    except yth.SQLError as e:
        ok(False, "EXPLAIN %s: %s" % (label, e))
        continue
    # EXPLAIN names a table without an alias by its name in the database
    got = {t[len(yth.TABLE_PREFIX):] if t.startswith(yth.TABLE_PREFIX) else t: k for t, _, k in plan}
    is_(got, want, "EXPLAIN %s: index used (%s)" % (label, ", ".join("%s %s" % kv for kv in want.items())))
    ok(all(ty != "ALL" for _, ty, _ in plan), "EXPLAIN %s: no full scan" % label)

# ================================================================ 9. metrics
M1 = metrics()
for kind in ("verified", "bad_signature", "malformed", "oversize", "unknown_topic"):
    is_(M1.get(kind, 0) - M0.get(kind, 0), expected[kind], "metrics: websub %s counted" % kind)
is_(M1["rows"] - M0["rows"], expected_rows, "metrics: invalidated rows = %d rows expired" % expected_rows)
like(s.get("/metrics").body.decode(), r'(?m)^ytcache_websub_notifications_total\{result="verified"\} %d$'
     % (M0["verified"] + expected["verified"]), "metrics: the verified line as exposed")
# intent checks: the hub's own (A, D, U, U2 subscribe; U2 unsubscribe) plus those made by hand
is_(M1.get("intent_verified", 0) - M0.get("intent_verified", 0), 5 + N_VERIFIED_BY_HAND,
    "metrics: intent checks verified")
is_(M1.get("intent_refused", 0) - M0.get("intent_refused", 0), N_REFUSED, "metrics: intent checks refused")

# ================================================================ 10. renewal by ytcache-refresh
if not os.access(REFRESH, os.X_OK):
    yth.bail("%s not built" % REFRESH)
db.sql("UPDATE websub_subs SET lease_expires_at = UTC_TIMESTAMP() + INTERVAL 1 HOUR WHERE channel_id = %s"
       % yth.sql_str(A))
n_a, n_d = len(hub.requests(A, "subscribe")), len(hub.requests(D, "subscribe"))
n_p = len(hub.requests(P, "subscribe"))
argv = [REFRESH, "--config", s.conf, "--verbose"]
p = subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
ctl_outputs.append(p.stdout + p.stderr)
with open(os.path.join(s.tmp, "logs", "ytcache-refresh.log"), "ab") as f:
    f.write(b"### " + " ".join(argv).encode() + b" -> %d\n" % p.returncode + p.stdout + p.stderr)
is_(p.returncode, 0, "ytcache-refresh: exit 0")
like(p.stdout.decode(), r"(?m)^websub: 2 subscriptions renewed$",
     "ytcache-refresh --verbose: A (1 h left) and P (2 h left) renewed")
ra = hub.requests(A, "subscribe")
is_(len(ra), n_a + 1, "renewal: the hub sees a new subscribe for A")
if len(ra) > n_a:
    is_((ra[-1].get("hub.callback"), ra[-1].get("hub.secret")), (CB_A, SECRET_A),
        "renewal: same callback and secret")
is_(len(hub.requests(P, "subscribe")), n_p + 1, "renewal: P (lease of 2 h) renewed too")
is_(len(hub.requests(D, "subscribe")), n_d, "renewal: D (lease of 5 days) not renewed")
ok(yth.wait_for(lambda: (sub_row(A) or {}).get("left", 0) > 4 * 86400, 15, what="A's lease extended"),
   "renewal: the hub's verification extends A's lease")
is_((sub_row(A) or {}).get("state"), "active", "renewal: A still active")
ok(yth.wait_for(lambda: (sub_row(P) or {}).get("left", 0) > 4 * 86400, 15, what="P's lease extended"),
   "renewal: P's lease extended too")
ok(all(v["echoed"] for v in hub.verifications()), "every verification by the hub was answered with its challenge")

# ================================================================ 10b. replays, stale intents, callback tokens
def subs_snapshot():
    return db.sql("SELECT channel_id, state, lease_seconds, lease_expires_at, requested_at, verified_at,"
                  " last_notified_at, notifications FROM websub_subs ORDER BY channel_id")


def log_lines(pattern):
    return len(re.findall(pattern.encode(), s.logs()))


# a replayed intent for an active subscription, with a long lease: refused, nothing changes
before = subs_snapshot()
r = intent(A, "subscribe", TOPIC + A, challenge="chal-replay-1", lease=str(90 * 86400))
is_(r.status, 404, "replayed subscribe intent for active A: 404")
ok(b"chal-replay-1" not in r.body, "replayed intent: challenge not echoed")
is_(subs_snapshot(), before, "replayed intent: no subscription row or lease changed")

# a lease longer than asked for is clamped to [websub] lease_seconds; the challenge is not sniffable
L, S, T = chan("wsChannelL"), chan("wsChannelS"), chan("wsChannelT")
hub.mode(verify=False)
for ch in (L, S, T):
    ctl("websub", "subscribe", ch)
hub.mode(verify=True)
r = intent(L, "subscribe", TOPIC + L, challenge="chal-L-long", lease=str(50 * 86400))
is_((r.status, r.body), (200, b"chal-L-long"), "pending L, lease of 50 days: verified")
is_(r.header("X-Content-Type-Options"), "nosniff", "the echoed challenge has X-Content-Type-Options: nosniff")
like(r.header("Content-Type") or "", r"^text/plain", "the echoed challenge is text/plain")
is_((sub_row(L) or {}).get("lease_seconds"), 5 * 86400, "a lease longer than requested is clamped to 5 days")
ok((sub_row(L) or {}).get("left", 0) <= 5 * 86400 + 5, "lease_expires_at within the requested lease")

# an intent older than [websub] verify_window (10 min): refused, nothing changes
db.sql("UPDATE websub_subs SET requested_at = UTC_TIMESTAMP() - INTERVAL 11 MINUTE WHERE channel_id = %s"
       % yth.sql_str(S))
before = subs_snapshot()
r = intent(S, "subscribe", TOPIC + S, challenge="chal-S-stale")
is_(r.status, 404, "intent for a request older than verify_window: 404")
is_(subs_snapshot(), before, "stale intent: nothing changed")

# the callback's path token: missing or wrong -> 404, no write
before = subs_snapshot()
for label, path in (("no token", "/websub?"), ("wrong token", "/websub/" + "ab" * 16 + "?"),
                    ("token of another channel", "/websub/" + tok(A) + "?")):
    r = s.get(path + yth.q([("channel", T), ("hub.mode", "subscribe"), ("hub.topic", TOPIC + T),
                            ("hub.challenge", "chal-T-tok"), ("hub.lease_seconds", "3600")]))
    is_(r.status, 404, "intent with %s: 404" % label)
    ok(b"chal-T-tok" not in r.body, "intent with %s: challenge not echoed" % label)
is_(subs_snapshot(), before, "intents without the right token change nothing (T still pending)")
body = feed([(V6, A)]).encode()
cache_before = snapshot()
for label, path in (("no token", "/websub?"), ("wrong token", "/websub/" + "cd" * 16 + "?")):
    r = s.http("POST", path + yth.q([("channel", A)]),
               {"Content-Type": "application/atom+xml", "X-Hub-Signature": sign(SECRET_A, body)}, body)
    is_(r.status, 404, "signed notification with %s: 404" % label)
is_(subs_snapshot(), before, "notifications without the right token: no subscription row changed")
is_(moved(cache_before, snapshot()), set(), "notifications without the right token: no cache row expired")

# a burst of refused requests: one log line per worker at most, not one per request
n0 = log_lines(r"websub: refused")
for i in range(20):
    s.get("/websub/" + tok(A) + "?" + yth.q([("channel", A), ("hub.mode", "unsubscribe"), ("hub.topic", TOPIC + A),
                                              ("hub.challenge", "burst-%d" % i)]))
time.sleep(0.5)
n1 = log_lines(r"websub: refused")
ok(n1 > 0, "refused requests are logged (%d lines in all)" % n1)
ok(n1 - n0 <= WORKERS, "20 refused intents: at most one log line per worker (%d)" % (n1 - n0))

# ================================================================ 11. the secrets stay secret
secrets = [x for x in (SECRET_A, SECRET_U, SECRET_U2, SECRET_E, SECRET_P, SECRET_P2,
                       (hub.requests(D) or [{}])[0].get("hub.secret", "")) if x]
is_(len(secrets), 7, "every secret was seen by the hub")
ok(all(re.match(r"^[0-9a-f]{32,}$", x) for x in secrets) and len(set(secrets)) == 7,
   "every subscription has a secret of its own")
logs = s.logs()
leaked = [x for x in secrets if x.encode() in logs]
is_(leaked, [], "no secret in any log")
outs = b"".join(ctl_outputs)
is_([x for x in secrets if x.encode() in outs], [], "no secret in any ytcachectl or ytcache-refresh output")
still_alive("at the end")
yth.done_testing()
