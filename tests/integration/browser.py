#!/usr/bin/python3
"""The widget in a real browser: headless Chromium loads www/index.html
(with www/ytcache.js) from nginx running the shipped
nginx/ytcache-fastcgi.conf, which serves www/ and the proxy on one origin.
The rendered DOM must hold the fake upstream's titles, fetched through
ytcache (MISS, then HIT on reload, one upstream call); thumbnails on
i.ytimg.com become <img> elements, any other host a placeholder (Chromium
here resolves no host but 127.0.0.1, so nothing is fetched from outside).

Other origins (plain nginx servers on other ports) serve a copy of the
page whose <meta name="ytcache-base"> points at the proxy: an origin listed
in [server] cors_origins gets the data, any other origin gets none (the
page shows its error state).  An ES-module page on the allowed origin
imports www/ytcache.mjs and checks the client's answers and errors."""

import html
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

CHANNEL = "UCbrowserTest0000000000A"      # UC + 22 characters
VID1, VID2 = yth.vid("browserVid1"), yth.vid("browserVid2")


Dom = ytdeploy.Dom


def load(url, what):
    text = ytdeploy.chromium_dom(tmp, url)
    ok("</html>" in text, "%s: Chromium rendered the page" % what)
    return Dom(text)


def state(dom):
    body = dom.first(tag="body")
    return body["attrs"].get("data-state") if body else None


s = yth.Stack(launcher=None)          # MariaDB + fake upstream + config + migrate
tmp, conf, db, fake = s.tmp, s.conf, s.db, s.fake
WWW = ytdeploy.shipped("www")

# ---------------------------------------------------------------- the other origins
allowed_dir = ytdeploy.mkdir(os.path.join(tmp, "site-allowed"))
denied_dir = ytdeploy.mkdir(os.path.join(tmp, "site-denied"))
allowed = ytdeploy.StaticNginx(tmp, allowed_dir, name="nginx-allowed-origin")
denied = ytdeploy.StaticNginx(tmp, denied_dir, name="nginx-denied-origin")

# ---------------------------------------------------------------- ytcache + the shipped nginx file
s.write_config(server={"log_level": "debug", "cors_origins": allowed.origin()})
sf = yth.SpawnFcgi(tmp, conf, workers=2)
ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                           [("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                            ("root /var/www/html;", "root %s;" % WWW)],
                           name="nginx-site")
PROXY = ng.origin() + "/youtube/v3/"
diag("site and proxy: %s; allowed origin %s; denied origin %s"
     % (ng.origin(), allowed.origin(), denied.origin()))

SEARCH = yth.q([("part", "snippet"), ("channelId", CHANNEL), ("order", "date"), ("type", "video"),
                ("maxResults", 6)])


def expected_titles():
    """The (id, title) pairs the proxy serves for the page's search (a HIT
    by now), and the thumbnail the page should show for each: the medium
    (else high, else default) URL when it is on i.ytimg.com, else None
    (a placeholder)."""
    r = ng.get("/youtube/v3/search?" + SEARCH)
    is_((r.status, r.xcache), (200, "HIT"), "the page's search is cached now (HIT)")
    items = (r.json() or {}).get("items") or []
    thumbs = []
    for i in items:
        t = i["snippet"].get("thumbnails") or {}
        u = (t.get("medium") or t.get("high") or t.get("default") or {}).get("url") or ""
        thumbs.append(u if u.startswith("https://i.ytimg.com/") else None)
    return [(i["id"]["videoId"], html.unescape(i["snippet"]["title"])) for i in items], thumbs


def rendered(dom):
    out = []
    for li in dom.find(tag="li", cls="video"):
        out.append(li["attrs"].get("data-video-id"))
    titles = [el["text"] for el in dom.find(tag="span", cls="video-title")]
    return list(zip(out, titles))


# ---------------------------------------------------------------- same origin: MISS, then HIT
fake.reset()
dom = load(ng.origin() + "/?channel=" + CHANNEL, "same origin")
is_(state(dom), "ready", "same origin: body[data-state=ready]")
is_(fake.calls(), 1, "same origin: the page's request reached the upstream once")
is_(fake.stats()["by_resource"], {"search": 1}, "same origin: it was a search.list")
want, thumbs = expected_titles()
is_(len(want), 6, "same origin: 6 results upstream")
is_(rendered(dom), want, "same origin: the fake upstream's ids and titles rendered (.video, .video-title)")
like((dom.first(id="cache-status") or {}).get("text"), r"^ytcache: MISS", "same origin: #cache-status MISS")
imgs = [el["attrs"].get("src") for el in dom.find(tag="img", cls="thumb")]
is_(imgs, [u for u in thumbs if u], "same origin: <img> thumbnails are the API's i.ytimg.com URLs")
is_(len(dom.find(tag="span", cls="placeholder")), thumbs.count(None),
    "same origin: thumbnails on other hosts shown as placeholders (%d of %d)" % (thumbs.count(None), len(thumbs)))
others = [el["attrs"].get("src") for el in dom.find(tag="img")
          if not (el["attrs"].get("src") or "").startswith("https://i.ytimg.com/")]
is_(others, [], "same origin: no image from any other host")
ok((dom.first(id="error") or {"attrs": {}})["attrs"].get("hidden") is not None,
   "same origin: #error hidden")
ok((dom.first(id="simulated-notice") or {"attrs": {}})["attrs"].get("hidden") is not None,
   "same origin: #simulated-notice hidden (no \"simulated\" marker in the answer)")

dom = load(ng.origin() + "/index.html?channel=" + CHANNEL, "same origin, reload")
is_(state(dom), "ready", "reload: ready")
like((dom.first(id="cache-status") or {}).get("text"), r"^ytcache: HIT", "reload: #cache-status HIT")
is_(rendered(dom), want, "reload: the same titles")
is_(fake.calls(), 1, "reload: no upstream call")

# ---------------------------------------------------------------- other origins
meta = '<meta name="ytcache-base" content="youtube/v3/">'
page = ytdeploy.read_file(os.path.join(WWW, "index.html")).decode()
ok(meta in page, "index.html has the ytcache-base meta a second site edits")
for d in (allowed_dir, denied_dir):
    ytdeploy.write(os.path.join(d, "index.html"),
                   page.replace(meta, '<meta name="ytcache-base" content="%s">' % PROXY))
    for fn in ("ytcache.js", "ytcache.mjs"):
        shutil.copyfile(os.path.join(WWW, fn), os.path.join(d, fn))

dom = load(allowed.origin() + "/?channel=" + CHANNEL, "allowed origin")
is_(state(dom), "ready", "allowed origin (in cors_origins): ready")
is_(rendered(dom), want, "allowed origin: the same titles, through the proxy")
is_(fake.calls(), 1, "allowed origin: served from the cache")

c0 = fake.calls()
dom = load(denied.origin() + "/?channel=" + CHANNEL, "denied origin")
is_(state(dom), "error", "denied origin (not in cors_origins): body[data-state=error]")
is_(rendered(dom), [], "denied origin: no data on the page")
err = dom.first(id="error") or {"attrs": {}, "text": ""}
ok(err["attrs"].get("hidden") is None and err["text"].strip(), "denied origin: #error shown (%r)"
   % err["text"].strip())
is_(err["attrs"].get("data-reason"), "networkError", "denied origin: the client reports networkError")
acc = ytdeploy.read_file(os.path.join(tmp, "logs", "nginx-site-access.log")).decode()
ok("/youtube/v3/search" in acc.splitlines()[-1], "denied origin: the browser did ask the proxy")
is_(fake.calls(), c0, "denied origin: no upstream call")

# ---------------------------------------------------------------- ytcache.mjs in the browser
ytdeploy.write(os.path.join(allowed_dir, "module.html"), """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta name="ytcache-base" content="%(proxy)s">
<title>ytcache.mjs</title></head>
<body data-state="loading"><pre id="results"></pre>
<script type="module">
import ytcache, { list, url } from "./ytcache.mjs";
const r = {};
r.url = url("videos", { part: ["snippet", "id"], id: ["%(v1)s", "%(v2)s"], skip: null });
try {
  const res = await list("videos", { part: ["snippet"], id: ["%(v1)s", "%(v2)s"] });
  r.titles = res.items.map((i) => i.snippet.title);
} catch (e) { r.titles = "rejected: " + e.message; }
try {
  const res = await ytcache.request("videos", { part: "snippet", id: "%(v1)s,%(v2)s" });
  r.second = { cache: res.cache, status: res.status, n: res.data.items.length };
} catch (e) { r.second = "rejected: " + e.message; }
for (const [name, params] of [["bad", { part: "nonsense", id: "%(v1)s" }],
                              ["unknownResource", { part: "id" }]]) {
  try {
    await ytcache.list(name === "bad" ? "videos" : "bogusResource", params);
    r[name] = "resolved";
  } catch (e) {
    r[name] = { name: e.name, code: e.code, reason: e.reason, message: e.message, status: e.status };
  }
}
document.getElementById("results").textContent = JSON.stringify(r);
document.body.dataset.state = "done";
</script></body></html>
""" % {"proxy": PROXY, "v1": VID1, "v2": VID2})
c0 = fake.calls()
dom = load(allowed.origin() + "/module.html", "ES module page")
is_(state(dom), "done", "ytcache.mjs: the module ran")
try:
    res = json.loads((dom.first(id="results") or {}).get("text") or "null") or {}
except ValueError:
    res = {}
diag("module page results: %s" % json.dumps(res)[:1500])
is_(res.get("url"), PROXY + "videos?part=snippet,id&id=%s,%s" % (VID1, VID2),
    "ytcache.mjs: url() joins arrays with commas, drops null, uses the meta base")
is_(res.get("titles"), ["Video %s" % VID1, "Video %s" % VID2], "ytcache.mjs: list() resolves to the API's JSON")
sec = res.get("second") or {}
is_((sec.get("status"), sec.get("n")), (200, 2), "ytcache.mjs: request() resolves with status and data")
ok(sec.get("cache") in ("HIT", "MISS"),
   "ytcache.mjs: request() reads X-Cache cross-origin (%r; the browser's own cache may replay the MISS)"
   % sec.get("cache"))
is_(fake.calls() - c0, 1, "ytcache.mjs: the same ids as a comma list hit the same cache entry")
bad = res.get("bad") or {}
is_((bad.get("name"), bad.get("code"), bad.get("status")), ("YtcacheError", 400, 400),
    "ytcache.mjs: a rejected request rejects with a YtcacheError, code 400 "
    "(needs Access-Control-Allow-Origin on error answers)")
is_(bad.get("reason"), "invalidParameter", "ytcache.mjs: err.reason from the Google-shaped error")
ok(isinstance(bad.get("message"), str) and len(bad.get("message") or "") > 5 and "HTTP" not in bad["message"],
   "ytcache.mjs: err.message is the error's message (%r)" % bad.get("message"))
unk = res.get("unknownResource") or {}
is_((unk.get("code"), unk.get("reason")), (404, "notFound"), "ytcache.mjs: unknown resource -> 404 notFound")

allowed.stop()
denied.stop()
ng.stop()
sf.stop()
yth.done_testing()
