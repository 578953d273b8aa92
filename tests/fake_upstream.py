#!/usr/bin/python3
"""Fake YouTube Data API v3 upstream for the ytcache integration tests.

    fake_upstream.py --port 0 --portfile FILE [--keys K1,K2] [--verbose]

Serves GET /youtube/v3/<resource>?... with deterministic, Google-shaped list
responses.  The body depends only on the query string as received minus its
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
                  "search", 1 unit; captions.list -> "default", 50; anything
                  else -> "default", 1.  A call that would take its bucket
                  over the limit is charged anyway and refused: "default"
                  with 403 quotaExceeded (quota_exceeded.json), "search" with
                  429 rateLimitExceeded naming the per-day limit
                  (search_quota_exceeded.json).  Checked after the key's
                  validity, before M.  Kept until given again or /__reset.
Stdlib only.  Quiet unless --verbose (and then keys are redacted).
"""

import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "upstream")

KINDS = {
    "search": "youtube#searchListResponse",
    "activities": "youtube#activityListResponse",
    "videoCategories": "youtube#videoCategoryListResponse",
}

MODES = ("ok", "error500", "timeout", "quota", "ratelimit", "search_quota", "notfound",
         "badrequest", "badjson", "truncated", "reset", "big", "key_invalid", "referrer_blocked",
         "echokey", "echokey_error")

BIG_DEFAULT = 5 * 1024 * 1024  # over ytcache's default max_response_bytes

# Google's cost model: (bucket, units) per resource, ("default", 1) otherwise
COSTS = {"search": ("search", 1), "captions": ("default", 50)}
# the error mode answering a call over its bucket's daily limit
OVER_QUOTA_MODE = {"default": "quota", "search": "search_quota"}


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
    def __init__(self, keys):
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

    def stats(self):
        with self.lock:
            return {
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


def build_body(resource, params, query, pad):
    parts = list_param(params, "part") or ["snippet"]
    ids = list_param(params, "id")
    try:
        max_results = max(0, min(50, int(one(params, "maxResults", "5"))))
    except ValueError:
        max_results = 5
    page = one(params, "pageToken")
    seed = "%s|%s|%s|%s" % (resource, query, page or "", one(params, "regionCode", ""))
    paged = not ids
    if resource == "videos":
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
            if "snippet" in parts:
                it["snippet"] = {"playlistId": pl, "position": i, "title": "Video %s" % vid,
                                 "resourceId": {"kind": "youtube#video", "videoId": vid},
                                 "thumbnails": thumbnails(vid)}
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
            return self.send(200, build_body(resource, params, query, pad))
        if mode == "big":
            ok200()
            return self.send(200, build_body(resource, params, query, pad or BIG_DEFAULT))
        if mode == "timeout":
            if fake.stop.wait(30):
                return self.drop()
            ok200()
            return self.send(200, build_body(resource, params, query, pad))
        if mode == "badjson":
            ok200()
            return self.send(200, b'{"kind": "youtube#videoListResponse", "items": [ {"id": \n'
                             b'<html>this is not JSON</html>\n')
        if mode == "truncated":
            ok200()
            body = build_body(resource, params, query, pad)
            cut = body[: len(body) // 2]
            return self.send(200, cut, length=len(body) + 1000, close=True)
        if mode == "reset":
            fake.note_status(0)
            return self.drop()
        if mode == "echokey":
            ok200()
            return self.send(200, dump({"kind": "youtube#%sListResponse" % singular(resource),
                                        "etag": b64sha1("echo:" + query),
                                        "debug": {"requestUrl": self.path, "key": key},
                                        "items": []}))
        if mode == "echokey_error":
            fake.note_status(400)
            msg = "API key %s is not valid for this request." % key
            return self.send(400, dump({"error": {"code": 400, "message": msg, "errors": [
                {"message": msg, "domain": "global", "reason": "badRequest"}],
                "status": "INVALID_ARGUMENT"}}))
        return self.answer_error(mode, resource)

    def answer_error(self, mode, resource):
        fake = self.server.fake
        spec = fake.error_modes[mode]
        fn = spec.get("by_resource", {}).get(resource, spec["body"])
        fake.note_status(spec["status"])
        return self.send(spec["status"], fake.errors[fn])

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


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--portfile")
    ap.add_argument("--keys", default="", help="comma list of valid server keys "
                    "(empty: any non-empty key is valid)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    keys = [k.strip() for k in args.keys.split(",") if k.strip()]
    fake = Fake(keys)
    srv = Server((args.bind, args.port), Handler)
    srv.fake = fake
    srv.verbose = args.verbose

    def on_signal(signum, frame):
        fake.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    port = srv.server_address[1]
    if args.portfile:
        tmp = args.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.portfile)
    else:
        print(port, flush=True)
    while not fake.stop.wait(1.0):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
