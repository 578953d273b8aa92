#!/usr/bin/python3
"""Fake YouTube Data API v3 upstream for the ytcache integration tests.

    fake_upstream.py --port 0 --portfile FILE [--keys K1,K2] [--verbose]
                     [--demo [--media-base URL]]

Serves GET /youtube/v3/<resource>?... (also videos:batchGetStats) with
deterministic, Google-shaped list responses; items of an id list come in the
order asked.  The body depends only on the query string as received minus its
key= parameter, so identical queries give identical bytes; "fakeQuery" in the
body shows that query, and "etag" is the base64url SHA-1 of it.

Control endpoints (used by tests/lib/yth.py):
    GET  /__stats   {"calls", "by_resource", "queries", "keys", "buckets",
                     "statuses", "last_referer", "referers", "user_agents",
                     "mode", "units", "ok_calls", "quota_rejected",
                     "key_quota"}
        keys/buckets  the key and quota bucket of every call, in arrival order
        units         {"KEY": {"BUCKET": units charged}}: every request with a
                      valid key is charged, refused ones too (as Google does)
        ok_calls      {"KEY": {"BUCKET": calls answered 200}}
        quota_rejected {"KEY": {"BUCKET": calls refused for quota}}
    POST /__reset   clear counters, mode back to "ok", valid keys back to --keys,
                    no key_quota
    POST /__mode    JSON {"mode": M, "delay_ms": D, "pad_bytes": P,
                          "times": N, "keys": [..], "key_modes": {..},
                          "key_quota": {..}}
        M: ok error500 timeout quota ratelimit search_quota notfound
           badrequest badjson truncated reset big key_invalid referrer_blocked
           echokey echokey_error
           (bodies of the error modes: tests/data/upstream; echokey answers
           200 with the received key inside the JSON, echokey_error a 400
           whose message quotes it: ytcache must never pass either on)
        delay_ms  delays every answer of /youtube/v3
        pad_bytes pads ok/big bodies (a "fakePadding" string) to this size
        times     after N upstream calls in mode M, go back to "ok"
        keys      replace the set of valid keys
        key_modes {"KEY": M}: calls with that key answer in mode M instead
        key_quota {"KEY": {"default": N, "search": M}}: daily units of that
                  key's buckets (a bucket not named is unlimited), counted
                  from the last /__reset.  Cost model: search.list -> bucket
                  "search", 1 unit; videos.batchGetStats -> "batchGetStats",
                  1; captions.list -> "default", 50; anything else ->
                  "default", 1.  A call that would take its bucket
                  over the limit is charged anyway and refused: "default"
                  with 403 quotaExceeded (quota_exceeded.json), "search" with
                  429 rateLimitExceeded naming the per-day limit
                  (search_quota_exceeded.json).  Checked after the key's
                  validity, before M.  Kept until given again or /__reset.
Demo mode (--demo; off by default, and then nothing above changes):
    believable, deterministic data for scripts/demo without an API key.
    search?channelId=UC... (order=date, maxResults, pageToken paging),
    videos?id= / ?chart=mostPopular, channels?id= / forHandle= and
    playlistItems?playlistId= answer with English titles and descriptions
    made from word lists seeded by the channel id and the video's index,
    publishedAt descending from a fixed date (DEMO_REFERENCE), channelTitle,
    and thumbnails default/medium/high (120x90, 320x180, 480x360; channels
    88, 240, 800 square) at MEDIA_BASE<id>/<size>.svg.  MEDIA_BASE is
    --media-base (a "/" is added if missing), by default this server's own
    http://BIND:PORT/demo-media/.  GET /demo-media/<id>/<size>.svg answers
    a generated SVG (image/svg+xml, cacheable, ETag); those requests are
    no API calls: not in calls/queries/units/statuses, only in the extra
    "demo_media" count of /__stats (present in demo mode only).  Every
    JSON answer, error bodies included, carries a top-level
    "simulated": true (which Google never sends); other resources get the
    plain fake's bodies with that marker.  Modes of /__mode apply as usual.
Stdlib only (the main is tests/lib/fakeserve.py).  Quiet unless --verbose
(and then keys are redacted).
"""

import base64
import datetime
import hashlib
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import fakeserve  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "upstream")

KINDS = {
    "search": "youtube#searchListResponse",
    "activities": "youtube#activityListResponse",
    "videoCategories": "youtube#videoCategoryListResponse",
    "videos:batchGetStats": "youtube#batchGetStatsResponse",
}

MODES = ("ok", "error500", "timeout", "quota", "ratelimit", "search_quota", "notfound",
         "badrequest", "badjson", "truncated", "reset", "big", "key_invalid", "referrer_blocked",
         "echokey", "echokey_error")

BIG_DEFAULT = 5 * 1024 * 1024  # over ytcache's default max_response_bytes

# Google's cost model: (bucket, units) per resource, ("default", 1) otherwise
# (videos.batchGetStats: its own 10,000-unit bucket since 3 June 2026)
COSTS = {"search": ("search", 1), "captions": ("default", 50),
         "videos:batchGetStats": ("batchGetStats", 1)}
# the error mode answering a call over its bucket's daily limit
OVER_QUOTA_MODE = {"default": "quota", "search": "search_quota", "batchGetStats": "quota"}


def cost_of(resource):
    return COSTS.get(resource, ("default", 1))


def bump(table, key, bucket, n=1):
    per_key = table.setdefault(key if key is not None else "", {})
    per_key[bucket] = per_key.get(bucket, 0) + n


def singular(resource):
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    if resource.endswith("s"):
        return resource[:-1]
    return resource


def b64sha1(text):
    d = hashlib.sha1(text.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(d).decode("ascii").rstrip("=")


def fake_id(seed, length=11):
    """A deterministic id made of YouTube id characters."""
    return b64sha1(seed)[:length]


def strip_key(raw_query):
    """The query exactly as received, minus every key= parameter."""
    if not raw_query:
        return ""
    kept = []
    for seg in raw_query.split("&"):
        name = urllib.parse.unquote_plus(seg.split("=", 1)[0])
        if name == "key":
            continue
        kept.append(seg)
    return "&".join(kept)


def list_param(params, name):
    out = []
    for v in params.get(name, []):
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def one(params, name, default=None):
    v = params.get(name)
    return v[-1] if v else default


class Fake:
    def __init__(self, keys, demo=None):
        self.demo = demo          # a Demo in demo mode, else None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.start_keys = list(keys)
        self.errors = {}
        with open(os.path.join(DATA, "modes.json"), "rb") as f:
            self.error_modes = json.load(f)
        for m, spec in self.error_modes.items():
            if m.startswith("_"):
                continue
            files = [spec["body"]] + list(spec.get("by_resource", {}).values())
            for fn in files:
                with open(os.path.join(DATA, fn), "rb") as f:
                    self.errors[fn] = f.read()
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = 0
            self.by_resource = {}
            self.queries = []
            self.keys_used = []
            self.buckets = []
            self.units = {}
            self.ok_calls = {}
            self.quota_rejected = {}
            self.key_quota = {}
            self.statuses = []
            self.referers = []
            self.user_agents = []
            self.last_referer = None
            self.mode = "ok"
            self.delay_ms = 0
            self.pad_bytes = 0
            self.times = None
            self.key_modes = {}
            self.valid_keys = set(self.start_keys)
        if self.demo:
            with self.demo.lock:
                self.demo.media = 0

    def stats(self):
        with self.lock:
            out = {
                "calls": self.calls,
                "by_resource": dict(self.by_resource),
                "queries": list(self.queries),
                "keys": list(self.keys_used),
                "buckets": list(self.buckets),
                "units": {k: dict(v) for k, v in self.units.items()},
                "ok_calls": {k: dict(v) for k, v in self.ok_calls.items()},
                "quota_rejected": {k: dict(v) for k, v in self.quota_rejected.items()},
                "key_quota": {k: dict(v) for k, v in self.key_quota.items()},
                "statuses": list(self.statuses),
                "last_referer": self.last_referer,
                "referers": list(self.referers),
                "user_agents": list(self.user_agents),
                "mode": self.mode,
                "delay_ms": self.delay_ms,
                "pad_bytes": self.pad_bytes,
            }
        if self.demo:
            with self.demo.lock:
                out["demo_media"] = self.demo.media
        return out

    def body(self, resource, params, query, pad):
        """The 200 body of a call: the plain fake's, or in demo mode the
        demo's (the plain one, marked, for what the demo does not imitate)."""
        if not self.demo:
            return build_body(resource, params, query, pad)
        obj = self.demo.body(resource, params, query)
        if obj is None:
            return build_body(resource, params, query, pad, simulated=True)
        return padded(obj, pad)

    def marked(self, data):
        """data, with "simulated": true in demo mode."""
        return mark_simulated(data) if self.demo else data

    def set_mode(self, spec):
        mode = spec.get("mode", "ok")
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        with self.lock:
            self.mode = mode
            self.delay_ms = int(spec.get("delay_ms", 0) or 0)
            self.pad_bytes = int(spec.get("pad_bytes", 0) or 0)
            t = spec.get("times")
            self.times = int(t) if t is not None else None
            if "keys" in spec and spec["keys"] is not None:
                self.valid_keys = set(spec["keys"])
            km = spec.get("key_modes") or {}
            for m in km.values():
                if m not in MODES:
                    raise ValueError("unknown mode %r" % m)
            self.key_modes = dict(km)
            if spec.get("key_quota") is not None:
                kq = {}
                for k, buckets in spec["key_quota"].items():
                    if not isinstance(buckets, dict):
                        raise ValueError("key_quota of a key must map bucket to units")
                    kq[k] = {b: int(n) for b, n in buckets.items()}
                self.key_quota = kq

    def record(self, resource, query, key, referer, ua):
        """Count one upstream call and charge its key; return the mode,
        delay, pad in force, whether the key is valid, and its bucket."""
        bucket, units = cost_of(resource)
        with self.lock:
            self.calls += 1
            self.by_resource[resource] = self.by_resource.get(resource, 0) + 1
            self.queries.append(query)
            self.keys_used.append(key)
            self.buckets.append(bucket)
            self.last_referer = referer
            self.referers.append(referer)
            self.user_agents.append(ua)
            mode, delay, pad = self.key_modes.get(key, self.mode), self.delay_ms, self.pad_bytes
            if self.times is not None and mode != "ok":
                self.times -= 1
                if self.times <= 0:
                    self.mode, self.times = "ok", None
            key_ok = (key in self.valid_keys) if self.valid_keys else bool(key)
            if key_ok:
                # Google charges every request, refused ones included
                limit = self.key_quota.get(key, {}).get(bucket)
                used = self.units.get(key, {}).get(bucket, 0)
                bump(self.units, key, bucket, units)
                if limit is not None and used + units > limit:
                    bump(self.quota_rejected, key, bucket)
                    mode = OVER_QUOTA_MODE[bucket]
            return mode, delay, pad, key_ok, bucket

    def note_status(self, status, key=None, bucket=None):
        with self.lock:
            self.statuses.append(status)
            if status == 200 and bucket is not None:
                bump(self.ok_calls, key, bucket)


# ---------------------------------------------------------------- bodies

def thumbnails(vid):
    base = "https://i.ytimg.invalid/vi/%s/" % vid
    return {
        "default": {"url": base + "default.jpg", "width": 120, "height": 90},
        "medium": {"url": base + "mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": base + "hqdefault.jpg", "width": 480, "height": 360},
    }


def video_item(vid, parts):
    cid = "UC" + fake_id("channel:" + vid, 22)
    item = {"kind": "youtube#video", "etag": b64sha1("video:" + vid), "id": vid}
    for p in parts:
        if p == "id":
            continue
        if p == "snippet":
            item["snippet"] = {
                "publishedAt": "2021-03-04T05:06:07Z",
                "channelId": cid,
                "title": "Video %s" % vid,
                "description": "Beschreibung f\u00fcr %s \u2014 \"quoted\" & <tag> \U0001F3AC" % vid,
                "thumbnails": thumbnails(vid),
                "channelTitle": "Channel %s" % cid,
                "categoryId": "22",
                "liveBroadcastContent": "none",
            }
        elif p == "statistics":
            n = int(hashlib.sha1(vid.encode()).hexdigest()[:6], 16)
            item["statistics"] = {"viewCount": str(n), "likeCount": str(n // 10),
                                  "favoriteCount": "0", "commentCount": str(n // 100)}
        elif p == "contentDetails":
            item["contentDetails"] = {"duration": "PT4M13S", "dimension": "2d",
                                      "definition": "hd", "caption": "false",
                                      "licensedContent": True, "projection": "rectangular"}
        else:
            item[p] = {}
    return item


def video_stats_item(vid, parts):
    """A youtube#videoStats of videos.batchGetStats (its own, smaller shape)."""
    item = {"kind": "youtube#videoStats", "etag": b64sha1("videoStats:" + vid), "id": vid}
    full = video_item(vid, [p for p in parts if p in ("statistics", "contentDetails")])
    for p in parts:
        if p == "snippet":
            item["snippet"] = {"publishTime": "2021-03-04T05:06:07Z"}
        elif p == "statistics":
            st = full["statistics"]
            item["statistics"] = {k: st[k] for k in ("viewCount", "likeCount", "commentCount")}
        elif p == "contentDetails":
            item["contentDetails"] = {"duration": full["contentDetails"]["duration"],
                                      "durationMillis": "253000"}
    return item


def uploaded(i, minutes):
    """The i-th newest upload's time (a playlist entry is added minutes after)."""
    t = datetime.datetime(2021, 3, 28, 5, 0, 0) - datetime.timedelta(hours=i) + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def generic_item(resource, rid, parts):
    item = {"kind": "youtube#" + singular(resource),
            "etag": b64sha1(resource + ":" + rid), "id": rid}
    for p in parts:
        if p == "id":
            continue
        if p == "snippet":
            item["snippet"] = {"title": "%s %s" % (singular(resource).capitalize(), rid),
                               "publishedAt": "2021-03-04T05:06:07Z",
                               "thumbnails": thumbnails(rid)}
        else:
            item[p] = {}
    return item


def build_body(resource, params, query, pad, simulated=False):
    parts = list_param(params, "part") or ["snippet"]
    ids = list_param(params, "id")
    try:
        max_results = max(0, min(50, int(one(params, "maxResults", "5"))))
    except ValueError:
        max_results = 5
    page = one(params, "pageToken")
    seed = "%s|%s|%s|%s" % (resource, query, page or "", one(params, "regionCode", ""))
    paged = not ids
    if resource == "videos:batchGetStats":
        items = [video_stats_item(v, parts) for v in ids]
    elif resource == "videos":
        if not ids:
            region = one(params, "regionCode", "US")
            ids = [fake_id("popular:%s:%s:%d" % (region, page or "", i))
                   for i in range(max_results)]
        items = [video_item(v, parts) for v in ids]
    elif resource == "search":
        items = []
        for i in range(max_results):
            vid = fake_id("search:%s:%d" % (seed, i))
            it = {"kind": "youtube#searchResult", "etag": b64sha1("sr:" + vid),
                  "id": {"kind": "youtube#video", "videoId": vid}}
            if "snippet" in parts:
                it["snippet"] = {"publishedAt": "2021-03-04T05:06:07Z",
                                 "channelId": "UC" + fake_id("channel:" + vid, 22),
                                 "title": "Result %d for %s" % (i, one(params, "q", "")),
                                 "thumbnails": thumbnails(vid)}
            items.append(it)
    elif resource == "playlistItems" and not ids:
        pl = one(params, "playlistId", "")
        items = []
        for i in range(max_results):
            vid = fake_id("pl:%s:%s:%d" % (pl, page or "", i))
            it = {"kind": "youtube#playlistItem", "etag": b64sha1("pi:" + vid),
                  "id": fake_id("plitem:" + vid, 40)}
            owner = "UC" + pl[2:] if pl.startswith("UU") else "UC" + fake_id("owner:" + pl, 22)
            if "snippet" in parts:
                it["snippet"] = {"publishedAt": uploaded(i, 5), "channelId": owner,
                                 "title": "Video %s" % vid, "description": "About %s" % vid,
                                 "thumbnails": thumbnails(vid), "channelTitle": "Channel %s" % owner,
                                 "playlistId": pl, "position": i,
                                 "resourceId": {"kind": "youtube#video", "videoId": vid}}
            if "contentDetails" in parts:
                it["contentDetails"] = {"videoId": vid, "videoPublishedAt": uploaded(i, 0)}
            items.append(it)
    else:
        if not ids:
            sel = [one(params, n) for n in ("forHandle", "forUsername", "channelId",
                                            "videoId", "regionCode", "hl") if one(params, n)]
            if resource == "channels" and sel:
                ids = ["UC" + fake_id("handle:" + sel[0], 22)]
            else:
                ids = [fake_id("%s:%d" % (seed, i)) for i in range(min(3, max_results) or 3)]
        items = [generic_item(resource, r, parts) for r in ids]

    body = {"kind": KINDS.get(resource, "youtube#%sListResponse" % singular(resource)),
            "etag": b64sha1(query),
            "fakeQuery": query}
    if paged:
        body["nextPageToken"] = "CAoQAA" if page == "CAUQAA" else "CAUQAA"
        if page:
            body["prevPageToken"] = "CAUQAQ"
    if resource == "search":
        body["regionCode"] = one(params, "regionCode", "US")
    body["pageInfo"] = {"totalResults": 1000000 if paged else len(items),
                        "resultsPerPage": max_results if paged else len(items)}
    body["items"] = items
    if simulated:
        body["simulated"] = True
    return padded(body, pad)


def padded(body, pad):
    """The bytes of body, padded with "fakePadding" to pad bytes if shorter."""
    data = dump(body)
    if pad and pad > len(data):
        body["fakePadding"] = ""
        need = pad - len(dump(body))
        if need > 0:
            body["fakePadding"] = ("0123456789abcdef" * (need // 16 + 1))[:need]
        data = dump(body)
    return data


def dump(obj):
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------- demo mode
#
# --demo: believable, deterministic data for a demo without an API key.
# A channel id maps to a "persona" (topic, title, upload rhythm, number of
# videos); its i-th newest video has an id that encodes the persona's seed
# and i, so videos?id= and the thumbnails find the same title and date
# again without any state.  Every body carries "simulated": true.

DEMO_REFERENCE = datetime.datetime(2025, 6, 13, 16, 0, 0, tzinfo=datetime.timezone.utc)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
IDX_BITS = 30                    # 5 id characters for the index
IDX_MUL = 0x2545F491             # odd: a bijection on 30-bit numbers
IDX_INV = pow(IDX_MUL, -1, 1 << IDX_BITS)

# sizes of the media the thumbnails point at: videos 16:9 / 4:3 as YouTube's,
# channel avatars square
VIDEO_SIZES = {"default": (120, 90), "medium": (320, 180), "high": (480, 360),
               "standard": (640, 480), "maxres": (1280, 720)}
CHANNEL_SIZES = {"default": (88, 88), "medium": (240, 240), "high": (800, 800)}

TOPICS = [
    {"channels": ["Tinker Bench", "Solder & Sparks", "The Circuit Garden", "Volt Street Workshop"],
     "about": "electronics projects, repairs and the occasional magic smoke",
     "things": ["weather station", "LED matrix clock", "solar-powered radio", "e-ink calendar",
                "plant watering robot", "retro game console", "soil moisture sensor",
                "mechanical keyboard", "bench power supply", "tube amplifier"],
     "adj": ["tiny", "solar", "pocket-sized", "battery-powered", "open-source", "cheap",
             "weatherproof", "wireless"],
     "verb": ["build", "wire up", "repair", "design"]},
    {"channels": ["Flour & Fire", "Small Kitchen Big Flavour", "Sunday Stove", "The Hungry Apron"],
     "about": "home cooking, baking and recipes that actually work on a weeknight",
     "things": ["sourdough loaf", "Sunday roast", "ramen broth", "lemon tart", "weeknight curry",
                "apple pie", "fresh pasta", "vegetable stir-fry", "focaccia", "chocolate cake"],
     "adj": ["easy", "30-minute", "one-pan", "crispy", "no-knead", "foolproof", "rustic",
             "budget"],
     "verb": ["cook", "bake", "make", "prepare"]},
    {"channels": ["Oak & Ash Studio", "Sawdust Sundays", "The Crooked Chisel", "Grain Direction"],
     "about": "woodworking with hand tools and a very small garage",
     "things": ["walnut side table", "cutting board", "workbench", "bookshelf", "birdhouse",
                "oak coffee table", "tool chest", "picture frame", "garden bench", "spice rack"],
     "adj": ["simple", "hand-cut", "reclaimed", "Shaker-style", "minimalist", "sturdy",
             "scrap-wood", "dovetailed"],
     "verb": ["build", "restore", "finish", "make"]},
    {"channels": ["Muddy Boots Garden", "The Balcony Allotment", "Green Thumb Diaries",
                  "Compost & Coffee"],
     "about": "growing food and flowers in a small city garden",
     "things": ["tomato bed", "herb spiral", "compost heap", "wildflower meadow", "greenhouse",
                "raised bed", "apple tree", "wildlife pond", "potato patch", "strawberry tower"],
     "adj": ["no-dig", "low-cost", "balcony", "organic", "drought-proof", "beginner", "small",
             "shady"],
     "verb": ["plant", "set up", "grow", "build"]},
    {"channels": ["Gravel & Grit", "Long Way Round Rides", "Two Wheels North",
                  "The Saddle Diaries"],
     "about": "bike rides, routes and gear for people who like a long day out",
     "things": ["coastal trail ride", "mountain pass climb", "gravel route", "night ride",
                "bike commute", "hut-to-hut tour", "canal towpath ride", "forest loop",
                "bikepacking setup", "touring bike build"],
     "adj": ["epic", "windy", "200 km", "rainy", "car-free", "scenic", "overnight", "hilly"],
     "verb": ["ride", "plan", "film", "try"]},
    {"channels": ["Byte-Sized Builds", "Null Pointer Cafe", "Commit Often", "The Tiny Terminal"],
     "about": "programming projects from first line to working software",
     "things": ["tiny web server", "text adventure", "chess engine", "budget tracker",
                "command-line tool", "Raspberry Pi dashboard", "static site generator",
                "chat bot", "ray tracer", "key-value store"],
     "adj": ["tiny", "fast", "dependency-free", "weekend", "minimal", "multiplayer",
             "from-scratch", "500-line"],
     "verb": ["write", "code", "debug", "ship"]},
    {"channels": ["Bedroom Studio Tapes", "Four Chords Later", "Lo-Fi Lighthouse",
                  "The Practice Room"],
     "about": "music making at home: songs, covers and studio experiments",
     "things": ["lo-fi beat", "guitar riff", "piano cover", "synth patch", "drum groove",
                "film score sketch", "ukulele song", "home studio", "bass line", "vocal harmony"],
     "adj": ["chill", "moody", "one-take", "late-night", "jazzy", "upbeat", "acoustic",
             "analog"],
     "verb": ["record", "write", "mix", "play"]},
    {"channels": ["Dark Sky Notes", "Backyard Cosmos", "The Patient Astronomer",
                  "Clear Skies Club"],
     "about": "astronomy and night photography from a suburban back garden",
     "things": ["Milky Way photo", "lunar eclipse photo", "backyard observatory",
                "star trail timelapse", "Saturn photo", "Orion Nebula image",
                "meteor shower timelapse", "night sky panorama", "solar filter",
                "Jupiter timelapse"],
     "adj": ["first", "suburban", "clear-night", "budget", "freezing", "deep-sky", "unplanned",
             "moonlit"],
     "verb": ["photograph", "find", "capture", "set up"]},
]

TITLES = [
    "Building a {adj} {thing} \u2014 part {part}",
    "{Adj} {thing} in {time}: how it went",
    "{n} mistakes I made with my {thing}",
    "My {thing}, one year later",
    "Can you {verb} a {thing} for under ${price}?",
    "Beginner's guide to the perfect {thing}",
    "I tried to {verb} a {thing} every day for a week",
    "Fixing my {thing} (it didn't go to plan)",
    "Live Q&A: your {thing} questions answered",
    "{Adj} {thing}, start to finish",
    "Weekend project: a {adj} {thing}",
    "Why my {thing} failed \u2014 and what I changed",
    "The {adj} {thing} nobody talks about",
    "{n} tips for a better {thing}",
    "Let's {verb} a {adj} {thing} together",
    "Is a {adj} {thing} worth it? Honest review",
]

DESCRIPTIONS = [
    "In this video I {verb} a {adj} {thing} from scratch and show every step, "
    "including the parts that went wrong.",
    "A {thing} has been on my list for ages, so this week I finally tried to {verb} one. "
    "Here is what worked and what I would do differently.",
    "You asked for it: a closer look at my {thing}, with the questions from the comments "
    "answered along the way.",
    "Today's video: a {adj} {thing}. It took longer than planned, but the result was worth it.",
]

SCHEDULE = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def demo_rng(*parts):
    return random.Random("|".join(str(p) for p in parts))


def enc_b64(n, length):
    out = []
    for _ in range(length):
        out.append(B64[n & 63])
        n >>= 6
    return "".join(reversed(out))


def dec_b64(s):
    n = 0
    for ch in s:
        i = B64.find(ch)
        if i < 0:
            return None
        n = (n << 6) | i
    return n


def id_offset(seed):
    return int(hashlib.sha1(seed.encode("ascii")).hexdigest()[:8], 16)


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def page_token(offset, prev=False):
    """A Google-looking page token (field 1 = offset, field 2 = direction)."""
    raw = bytearray(b"\x08")
    n = offset
    while True:
        b = n & 0x7F
        n >>= 7
        raw.append(b | (0x80 if n else 0))
        if not n:
            break
    raw += b"\x10\x01" if prev else b"\x10\x00"
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii").rstrip("=")


def token_offset(token):
    """The offset in a page_token (0 for none or one that is not ours)."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return 0
    if len(raw) < 2 or raw[0] != 0x08:
        return 0
    n, shift = 0, 0
    for b in raw[1:]:
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n
    return 0


def articles(text):
    """ "a" before a vowel sound made "an" ("an easy", but "a one-pan")."""
    return re.sub(r"\b([Aa]) (?=(?!one|uni|use)[aeiouAEIOU])", r"\1n ", text)


def html_escape(text):
    """search.list titles and descriptions come HTML-escaped from Google."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class Persona:
    """What a channel is about: all of it from its seed (6 id characters)."""

    def __init__(self, seed):
        self.seed = seed
        r = demo_rng("persona", seed)
        self.topic = TOPICS[r.randrange(len(TOPICS))]
        self.title = r.choice(self.topic["channels"])
        self.gap_h = r.randrange(40, 200)          # hours between uploads, on average
        self.lead_h = r.randrange(0, 48)           # since the newest upload
        self.total = r.randrange(36, 420)          # videos on the channel
        self.subscribers = r.randrange(800, 2400000)
        self.day = r.choice(SCHEDULE)
        self.since = DEMO_REFERENCE - datetime.timedelta(
            hours=self.lead_h + self.gap_h * self.total + r.randrange(24 * 30, 24 * 400))

    def published(self, index):
        """Strictly newer for a smaller index: the jitter stays under the gap."""
        r = demo_rng("date", self.seed, index)
        seconds = (self.lead_h + self.gap_h * index) * 3600 + r.randrange(0, self.gap_h * 2160)
        return DEMO_REFERENCE - datetime.timedelta(seconds=seconds)

    def video(self, index):
        t = self.topic
        r = demo_rng("video", self.seed, index)
        thing, adj, verb = r.choice(t["things"]), r.choice(t["adj"]), r.choice(t["verb"])
        slots = {"thing": thing, "adj": adj, "Adj": adj[:1].upper() + adj[1:], "verb": verb,
                 "part": r.randrange(2, 7), "n": r.choice([3, 5, 7, 10, 12]),
                 "time": r.choice(["one weekend", "48 hours", "a single afternoon", "10 days"]),
                 "price": r.choice([20, 50, 100])}
        title = articles(r.choice(TITLES).format(**slots))
        title = title[:1].upper() + title[1:]
        desc = articles(r.choice(DESCRIPTIONS).format(**slots))
        minutes = r.randrange(3, 42)
        chapters = ["00:00 Intro", "0%d:%02d The plan" % (r.randrange(1, 3), r.randrange(60)),
                    "%02d:%02d The result" % (minutes - 1, r.randrange(60))]
        desc_full = "%s\n\n%s\n\nNew videos every %s. Thanks for watching!" % (
            desc, "\n".join(chapters), self.day)
        return {"title": title, "description": desc_full, "short": desc,
                "published": rfc3339(self.published(index)),
                "duration": "PT%dM%dS" % (minutes, r.randrange(60)),
                "views": int(self.subscribers * r.uniform(0.02, 0.9)) + r.randrange(50, 900),
                "hue": r.randrange(360), "tags": [thing, verb, self.title]}


class Demo:
    def __init__(self, media_base):
        self.media_base = media_base if media_base.endswith("/") else media_base + "/"
        self.lock = threading.Lock()
        self.owners = {}          # persona seed -> a channel id asked for
        self.media = 0            # /demo-media/ requests answered (not API calls)

    # -- ids
    def seed_of(self, channel_id):
        seed = fake_id("demo-channel:" + channel_id, 6)
        with self.lock:
            if len(self.owners) < 10000:
                self.owners.setdefault(seed, channel_id)
        return seed

    def owner(self, seed):
        with self.lock:
            cid = self.owners.get(seed)
        return cid or "UC" + fake_id("demo-owner:" + seed, 22)

    @staticmethod
    def video_id(seed, index):
        mask = (1 << IDX_BITS) - 1
        return seed + enc_b64((index * IDX_MUL + id_offset(seed)) & mask, 5)

    @staticmethod
    def parse_video_id(vid):
        """(persona seed, index) of any 11-character id."""
        if len(vid) != 11:
            return None
        n = dec_b64(vid[6:])
        if n is None or dec_b64(vid[:6]) is None:
            return None
        mask = (1 << IDX_BITS) - 1
        return vid[:6], ((n - id_offset(vid[:6])) * IDX_INV) & mask

    def lookup(self, vid):
        """(persona, index, video dict) for a video id, or None."""
        p = self.parse_video_id(vid)
        if not p:
            return None
        persona = Persona(p[0])
        index = p[1] % persona.total
        return persona, index, persona.video(index)

    def thumbs(self, rid, sizes):
        base = self.media_base + urllib.parse.quote(rid, safe="") + "/"
        return {name: {"url": base + name + ".svg", "width": w, "height": h}
                for name, (w, h) in sizes.items()}

    def video_thumbs(self, vid, all_sizes=False):
        names = VIDEO_SIZES if all_sizes else ("default", "medium", "high")
        return self.thumbs(vid, {n: VIDEO_SIZES[n] for n in names})

    # -- items
    def search_item(self, persona, index, parts):
        vid = self.video_id(persona.seed, index)
        it = {"kind": "youtube#searchResult", "etag": b64sha1("demo-sr:" + vid),
              "id": {"kind": "youtube#video", "videoId": vid}}
        if "snippet" in parts:
            v = persona.video(index)
            it["snippet"] = {"publishedAt": v["published"], "channelId": self.owner(persona.seed),
                             "title": html_escape(v["title"]),
                             "description": html_escape(v["short"]),
                             "thumbnails": self.video_thumbs(vid),
                             "channelTitle": persona.title,
                             "liveBroadcastContent": "none", "publishTime": v["published"]}
        return it

    def video_item(self, vid, parts):
        found = self.lookup(vid)
        if not found:
            return None
        persona, index, v = found
        item = {"kind": "youtube#video", "etag": b64sha1("demo-video:" + vid), "id": vid}
        for p in parts:
            if p == "snippet":
                item["snippet"] = {
                    "publishedAt": v["published"], "channelId": self.owner(persona.seed),
                    "title": v["title"], "description": v["description"],
                    "thumbnails": self.video_thumbs(vid, all_sizes=True),
                    "channelTitle": persona.title, "tags": v["tags"], "categoryId": "26",
                    "liveBroadcastContent": "none", "defaultAudioLanguage": "en",
                    "localized": {"title": v["title"], "description": v["description"]}}
            elif p == "statistics":
                n = v["views"]
                item["statistics"] = {"viewCount": str(n), "likeCount": str(n // 27),
                                      "favoriteCount": "0", "commentCount": str(n // 310)}
            elif p == "contentDetails":
                item["contentDetails"] = {"duration": v["duration"], "dimension": "2d",
                                          "definition": "hd", "caption": "false",
                                          "licensedContent": False, "contentRating": {},
                                          "projection": "rectangular"}
            elif p == "status":
                item["status"] = {"uploadStatus": "processed", "privacyStatus": "public",
                                  "license": "youtube", "embeddable": True,
                                  "publicStatsViewable": True, "madeForKids": False}
            elif p != "id":
                item[p] = {}
        return item

    def channel_item(self, cid, parts):
        persona = Persona(self.seed_of(cid))
        item = {"kind": "youtube#channel", "etag": b64sha1("demo-channel:" + cid), "id": cid}
        for p in parts:
            if p == "snippet":
                desc = "Welcome to %s: %s. New videos every %s." % (
                    persona.title, persona.topic["about"], persona.day)
                item["snippet"] = {
                    "title": persona.title, "description": desc,
                    "customUrl": "@" + "".join(c for c in persona.title.lower() if c.isalnum()),
                    "publishedAt": rfc3339(persona.since),
                    "thumbnails": self.thumbs(cid, CHANNEL_SIZES),
                    "localized": {"title": persona.title, "description": desc},
                    "country": "GB"}
            elif p == "statistics":
                item["statistics"] = {"viewCount": str(persona.subscribers * 37),
                                      "subscriberCount": str(persona.subscribers),
                                      "hiddenSubscriberCount": False,
                                      "videoCount": str(persona.total)}
            elif p == "contentDetails":
                item["contentDetails"] = {"relatedPlaylists": {"likes": "",
                                                               "uploads": "UU" + cid[2:]}}
            elif p != "id":
                item[p] = {}
        return item

    def playlist_item(self, pl, persona, index, position, parts):
        vid = self.video_id(persona.seed, index)
        v = persona.video(index)
        cid = self.owner(persona.seed)
        it = {"kind": "youtube#playlistItem", "etag": b64sha1("demo-pi:%s:%s" % (pl, vid)),
              "id": fake_id("demo-plitem:%s:%s" % (pl, vid), 40)}
        for p in parts:
            if p == "snippet":
                it["snippet"] = {"publishedAt": v["published"], "channelId": cid,
                                 "title": v["title"], "description": v["description"],
                                 "thumbnails": self.video_thumbs(vid, all_sizes=True),
                                 "channelTitle": persona.title, "playlistId": pl,
                                 "position": position,
                                 "resourceId": {"kind": "youtube#video", "videoId": vid},
                                 "videoOwnerChannelTitle": persona.title,
                                 "videoOwnerChannelId": cid}
            elif p == "contentDetails":
                it["contentDetails"] = {"videoId": vid, "videoPublishedAt": v["published"]}
            elif p == "status":
                it["status"] = {"privacyStatus": "public"}
            elif p != "id":
                it[p] = {}
        return it

    # -- bodies
    def body(self, resource, params, query):
        """The demo answer (a dict), or None for what demo mode does not
        imitate (then the plain fake answers, marked as simulated)."""
        parts = list_param(params, "part") or ["snippet"]
        ids = list_param(params, "id")
        try:
            max_results = max(0, min(50, int(one(params, "maxResults", "5"))))
        except ValueError:
            max_results = 5
        offset = token_offset(one(params, "pageToken"))
        total = None
        if resource == "search":
            cid = one(params, "channelId")
            if cid:
                persona = Persona(self.seed_of(cid))
                total = persona.total
                items = [self.search_item(persona, i, parts)
                         for i in range(offset, min(total, offset + max_results))]
            else:
                total = 1000000
                q = one(params, "q", "")
                items = []
                for i in range(offset, offset + max_results):
                    persona = Persona(fake_id("demo-q:%s:%d" % (q, i), 6))
                    items.append(self.search_item(persona, i % 4, parts))
            kind = KINDS["search"]
        elif resource == "videos":
            if not ids:
                if one(params, "chart") is None:
                    return None
                region = one(params, "regionCode", "US")
                total = 200
                ids = []
                for i in range(offset, min(total, offset + max_results)):
                    seed = fake_id("demo-popular:%s:%d" % (region, i), 6)
                    ids.append(self.video_id(seed, i % 3))
            items = [it for it in (self.video_item(v, parts) for v in ids) if it]
            kind = "youtube#videoListResponse"
        elif resource == "channels":
            if not ids:
                sel = [one(params, n) for n in ("forHandle", "forUsername") if one(params, n)]
                if not sel:
                    return None
                ids = ["UC" + fake_id("handle:" + sel[0], 22)]
            items = [self.channel_item(c, parts) for c in ids]
            kind = "youtube#channelListResponse"
        elif resource == "playlistItems" and not ids:
            pl = one(params, "playlistId", "")
            if pl.startswith("UU"):
                persona = Persona(self.seed_of("UC" + pl[2:]))
            else:
                persona = Persona(fake_id("demo-playlist:" + pl, 6))
            total = persona.total
            items = [self.playlist_item(pl, persona, i, i, parts)
                     for i in range(offset, min(total, offset + max_results))]
            kind = "youtube#playlistItemListResponse"
        else:
            return None
        body = {"kind": kind, "etag": b64sha1("demo:" + query), "simulated": True}
        if total is not None:
            if offset + max_results < total:
                body["nextPageToken"] = page_token(offset + max_results)
            if offset:
                body["prevPageToken"] = page_token(offset, prev=True)
        if resource == "search":
            body["regionCode"] = one(params, "regionCode", "US")
        body["pageInfo"] = {"totalResults": total if total is not None else len(items),
                            "resultsPerPage": max_results if total is not None else len(items)}
        body["items"] = items
        return body

    # -- pictures
    def media_svg(self, rid, size):
        """The SVG of /demo-media/<rid>/<size>.svg, or None."""
        if rid.startswith("UC") and len(rid) == 24 and size in CHANNEL_SIZES:
            return self.avatar_svg(rid, *CHANNEL_SIZES[size])
        if size not in VIDEO_SIZES:
            return None
        found = self.lookup(rid)
        if not found:
            return None
        persona, _, v = found
        return self.thumb_svg(v, persona, *VIDEO_SIZES[size])

    @staticmethod
    def thumb_svg(v, persona, w, h):
        hue = v["hue"]
        r = demo_rng("art", v["title"], hue)
        # the picture is 16:9 (320 x 180 units); 4:3 sizes get black bars, as on YouTube
        scale = min(w / 320.0, h / 180.0)
        pw, ph = 320 * scale, 180 * scale
        tx, ty = (w - pw) / 2, (h - ph) / 2
        words, lines, line = v["title"].split(), [], ""
        for word in words:
            if line and len(line) + 1 + len(word) > 26:
                lines.append(line)
                line = word
            else:
                line = (line + " " + word).strip()
        lines.append(line)
        if len(lines) > 3:
            lines = lines[:3]
            lines[2] += "\u2026"
        shapes = []
        for _ in range(5):
            shapes.append('<circle cx="%d" cy="%d" r="%d" fill="hsl(%d,80%%,%d%%)" '
                          'fill-opacity="0.35"/>' % (r.randrange(320), r.randrange(180),
                                                     r.randrange(18, 70),
                                                     (hue + r.randrange(90, 270)) % 360,
                                                     r.randrange(40, 80)))
        hills = ('<path d="M0 %d Q80 %d 160 %d T320 %d V180 H0 Z" fill="hsl(%d,55%%,22%%)" '
                 'fill-opacity="0.55"/>' % (r.randrange(120, 150), r.randrange(90, 130),
                                             r.randrange(120, 150), r.randrange(110, 150),
                                             (hue + 30) % 360))
        text = "".join('<text x="14" y="%d">%s</text>' % (30 + 21 * i, xml_escape(t))
                       for i, t in enumerate(lines))
        minutes = int(v["duration"][2:].split("M")[0])
        secs = int(v["duration"].split("M")[1].rstrip("S"))
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
            '<rect width="%d" height="%d" fill="#000"/>'
            '<g transform="translate(%.2f %.2f) scale(%.4f)">'
            '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
            '<stop offset="0" stop-color="hsl(%d,75%%,58%%)"/>'
            '<stop offset="1" stop-color="hsl(%d,70%%,30%%)"/></linearGradient></defs>'
            '<rect width="320" height="180" fill="url(#g)"/>%s%s'
            '<g font-family="DejaVu Sans, Verdana, sans-serif" font-weight="700" font-size="17" '
            'fill="#fff" stroke="#000" stroke-opacity="0.35" stroke-width="3" '
            'paint-order="stroke">%s</g>'
            '<g transform="translate(160 116)"><rect x="-30" y="-21" width="60" height="42" '
            'rx="11" fill="#e52d27"/><path d="M-9 -11 L13 0 L-9 11 Z" fill="#fff"/></g>'
            '<text x="16" y="168" font-family="DejaVu Sans, Verdana, sans-serif" font-size="11" '
            'fill="#fff" fill-opacity="0.9">%s</text>'
            '<rect x="262" y="154" width="50" height="18" rx="3" fill="#000" fill-opacity="0.8"/>'
            '<text x="287" y="167" text-anchor="middle" font-family="DejaVu Sans, Verdana, '
            'sans-serif" font-size="11" fill="#fff">%d:%02d</text>'
            '</g></svg>\n' % (w, h, w, h, w, h, tx, ty, scale, hue, (hue + 50) % 360,
                              "".join(shapes), hills, text, xml_escape(persona.title),
                              minutes, secs)).encode("utf-8")

    def avatar_svg(self, cid, w, h):
        persona = Persona(self.seed_of(cid))
        hue = demo_rng("avatar", persona.seed).randrange(360)
        initials = "".join(word[0] for word in persona.title.split() if word[0].isalpha())[:2]
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 100 100">'
            '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
            '<stop offset="0" stop-color="hsl(%d,70%%,60%%)"/>'
            '<stop offset="1" stop-color="hsl(%d,70%%,35%%)"/></linearGradient></defs>'
            '<rect width="100" height="100" fill="url(#g)"/>'
            '<text x="50" y="63" text-anchor="middle" '
            'font-family="DejaVu Sans, Verdana, sans-serif" '
            'font-weight="700" font-size="36" fill="#fff">%s</text></svg>\n'
            % (w, h, hue, (hue + 40) % 360, xml_escape(initials))).encode("utf-8")


MEDIA_PREFIX = "/demo-media/"
MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def mark_simulated(data):
    """A JSON body with "simulated": true added (other bodies unchanged)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except ValueError:
        return data
    if not isinstance(obj, dict):
        return data
    obj["simulated"] = True
    return dump(obj)


# ---------------------------------------------------------------- server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "ESF"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            msg = fmt % args
            for k in list(self.server.fake.valid_keys):
                msg = msg.replace(k, "<key>")
            sys.stderr.write("fake_upstream: %s\n" % msg)

    def send(self, status, body, ctype="application/json; charset=UTF-8",
             length=None, close=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        fake = self.server.fake
        path = urllib.parse.urlsplit(self.path).path
        raw = self.read_body()
        if path == "/__reset":
            fake.reset()
            return self.send(200, b'{"ok":true}\n')
        if path == "/__mode":
            try:
                fake.set_mode(json.loads(raw.decode("utf-8") or "{}"))
            except (ValueError, TypeError) as e:
                return self.send(400, dump({"error": str(e)}))
            return self.send(200, b'{"ok":true}\n')
        return self.send(405, b'{"error":"method not allowed"}\n')

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        fake = self.server.fake
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/__stats":
            return self.send(200, dump(fake.stats()))
        if fake.demo and parts.path.startswith(MEDIA_PREFIX):
            return self.media(parts.path[len(MEDIA_PREFIX):])
        prefix = "/youtube/v3/"
        if not parts.path.startswith(prefix):
            return self.send(404, fake.errors["not_found.json"])
        resource = parts.path[len(prefix):]
        params = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        key = one(params, "key")
        query = strip_key(parts.query)
        mode, delay, pad, key_ok, bucket = fake.record(resource, query, key,
                                                       self.headers.get("Referer"),
                                                       self.headers.get("User-Agent"))

        def ok200():
            fake.note_status(200, key, bucket)

        if delay and fake.stop.wait(delay / 1000.0):
            return self.drop()
        if not key_ok:
            return self.answer_error("key_invalid", resource)
        if mode == "ok":
            ok200()
            return self.send(200, fake.body(resource, params, query, pad))
        if mode == "big":
            ok200()
            return self.send(200, fake.body(resource, params, query, pad or BIG_DEFAULT))
        if mode == "timeout":
            if fake.stop.wait(30):
                return self.drop()
            ok200()
            return self.send(200, fake.body(resource, params, query, pad))
        if mode == "badjson":
            ok200()
            return self.send(200, b'{"kind": "youtube#videoListResponse", "items": [ {"id": \n'
                             b'<html>this is not JSON</html>\n')
        if mode == "truncated":
            ok200()
            body = fake.body(resource, params, query, pad)
            cut = body[: len(body) // 2]
            return self.send(200, cut, length=len(body) + 1000, close=True)
        if mode == "reset":
            fake.note_status(0)
            return self.drop()
        if mode == "echokey":
            ok200()
            return self.send(200, fake.marked(dump({
                "kind": "youtube#%sListResponse" % singular(resource),
                "etag": b64sha1("echo:" + query),
                "debug": {"requestUrl": self.path, "key": key},
                "items": []})))
        if mode == "echokey_error":
            fake.note_status(400)
            msg = "API key %s is not valid for this request." % key
            return self.send(400, fake.marked(dump({"error": {
                "code": 400, "message": msg, "errors": [
                    {"message": msg, "domain": "global", "reason": "badRequest"}],
                "status": "INVALID_ARGUMENT"}})))
        return self.answer_error(mode, resource)

    def media(self, rest):
        """GET /demo-media/<id>/<size>.svg in demo mode: a generated
        picture.  Not an API call: neither counted nor charged."""
        demo = self.server.fake.demo
        bits = rest.split("/")
        svg = None
        if len(bits) == 2 and bits[1].endswith(".svg") and MEDIA_ID.match(bits[0]):
            svg = demo.media_svg(bits[0], bits[1][:-4])
        if svg is None:
            return self.send(404, b"no such picture\n", ctype="text/plain; charset=utf-8")
        with demo.lock:
            demo.media += 1
        etag = '"%s"' % b64sha1(svg.decode("utf-8"))
        inm = self.headers.get("If-None-Match")
        status = 304 if inm and etag in [t.strip() for t in inm.split(",")] else 200
        self.send_response(status)
        self.send_header("Content-Type", "image/svg+xml")
        self.send_header("Cache-Control", "public, max-age=86400")
        self.send_header("ETag", etag)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(svg) if status == 200 else 0))
        self.end_headers()
        if self.command != "HEAD" and status == 200:
            self.wfile.write(svg)
        self.wfile.flush()

    def answer_error(self, mode, resource):
        fake = self.server.fake
        spec = fake.error_modes[mode]
        fn = spec.get("by_resource", {}).get(resource, spec["body"])
        fake.note_status(spec["status"])
        return self.send(spec["status"], fake.marked(fake.errors[fn]))

    def drop(self):
        """Close the connection without answering (RST if possible)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            os.close(self.connection.detach())
        except OSError:
            pass


class Server(fakeserve.Server):
    block_on_close = False
    request_queue_size = 128


def main():
    ap = fakeserve.arg_parser(__doc__)
    ap.add_argument("--keys", default="", help="comma list of valid server keys "
                    "(empty: any non-empty key is valid)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--demo", action="store_true",
                    help="believable made-up data for a demo, marked \"simulated\": true, "
                    "with pictures served under /demo-media/")
    ap.add_argument("--media-base", metavar="URL",
                    help="with --demo: the URL the thumbnail URLs start with (default: "
                    "this server's own http://BIND:PORT/demo-media/)")
    args = ap.parse_args()
    if args.media_base and not args.demo:
        ap.error("--media-base needs --demo")

    keys = [k.strip() for k in args.keys.split(",") if k.strip()]
    srv = Server((args.bind, args.port), Handler)
    demo = None
    if args.demo:
        media = args.media_base
        if not media:
            host = args.bind if args.bind not in ("", "0.0.0.0", "::") else "127.0.0.1"
            if ":" in host:
                host = "[%s]" % host
            media = "http://%s:%d%s" % (host, srv.server_address[1], MEDIA_PREFIX)
        demo = Demo(media)
    fake = Fake(keys, demo)
    srv.fake = fake
    srv.verbose = args.verbose
    return fakeserve.serve(srv, fake.stop, args.portfile)


if __name__ == "__main__":
    sys.exit(main())
