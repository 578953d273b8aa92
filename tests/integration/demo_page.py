#!/usr/bin/python3
"""The demo without an API key looks like the real thing, and says it is
not: headless Chromium loads the widget (www/index.html, www/ytcache.js)
from nginx running the shipped nginx/ytcache-fastcgi.conf, in front of
ytcache whose upstream is tests/fake_upstream.py --demo.

Demo fake: six cards with believable titles (not the plain fake's "Result
N for"), dates, the channel's name and <img> thumbnails loaded from the
fake's own /demo-media/ (generated SVGs; not counted as API calls), and a
visible "Simulated data" notice because the answer carries "simulated":
true.  A screenshot (a PNG decoded here with zlib) shows the notice's
colour and colourful thumbnails.  Chromium's net log proves that nothing
but loopback was asked for.

With [economy] channel_search = uploads the same page shows the same six
videos, fetched from the channel's uploads playlist: no search call.

Plain fake (standing in for the real API, which never sends the marker):
no notice in the DOM or in the screenshot, and grey placeholders instead
of pictures.  Also: --media-base sets the thumbnails' base URL."""

import html
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
import ytdeploy  # noqa: E402
from yth import ok, is_, like, diag  # noqa: E402

Dom = ytdeploy.Dom

CH_DEMO = "UCdemoPageTest00000000A1"       # UC + 22 characters
CH_PLAIN = "UCplainPageTest0000000B2"
WINDOW = (1280, 900)
NOTICE_RGB = (0xff, 0xe2, 0x7a)            # #simulated-notice background in www/index.html
SEARCH = [("part", "snippet"), ("order", "date"), ("type", "video"), ("maxResults", 6)]

s = yth.Stack(launcher=None)               # MariaDB + the plain fake + config + migrate
tmp, db, plain = s.tmp, s.db, s.fake
demo = yth.FakeUpstream(tmp, demo=True)
MEDIA = "http://127.0.0.1:%d/demo-media/" % demo.port
WWW = ytdeploy.shipped("www")


def site(fake, name, **sections):
    """ytcache (its own config, upstream fake) behind the shipped nginx file."""
    conf = yth.write_config(os.path.join(tmp, name + ".conf"), db, fake,
                            server={"log_level": "debug"}, **sections)
    sf = yth.SpawnFcgi(tmp, conf, workers=2, name="ytcache-" + name)
    ng = ytdeploy.ShippedNginx(tmp, "nginx/ytcache-fastcgi.conf",
                               [("unix:/run/ytcache/ytcache.sock", "unix:" + sf.addr),
                                ("root /var/www/html;", "root %s;" % WWW)],
                               name="nginx-" + name)
    return sf, ng


def state(dom):
    body = dom.first(tag="body")
    return body["attrs"].get("data-state") if body else None


def cards(dom):
    """Per .video card: id, title, date text, datetime, channel, img src."""
    out = []
    for li in dom.find(tag="li", cls="video"):
        out.append({"id": li["attrs"].get("data-video-id")})
    for key, els in (("title", [e["text"] for e in dom.find(tag="span", cls="video-title")]),
                     ("date", [e["text"] for e in dom.find(tag="time", cls="video-date")]),
                     ("datetime", [e["attrs"].get("datetime")
                                   for e in dom.find(tag="time", cls="video-date")]),
                     ("channel", [e["text"] for e in dom.find(tag="span", cls="video-channel")]),
                     ("img", [e["attrs"].get("src") for e in dom.find(tag="img", cls="thumb")])):
        for c, v in zip(out, els):
            c[key] = v
    return out


def notice(dom):
    """(present, visible, text) of #simulated-notice."""
    el = dom.first(id="simulated-notice")
    if not el:
        return False, False, ""
    return True, el["attrs"].get("hidden") is None, " ".join(el["text"].split())


def api(ng, channel):
    """The search the page makes, asked of the proxy: (response, body)."""
    r = ng.get("/youtube/v3/search?" + yth.q([("channelId", channel)] + SEARCH))
    try:
        body = json.loads(r.body)
    except ValueError:
        body = {}
    return r, body


def loopback(u):
    """Is u (a URL or host:port) on 127.0.0.1?"""
    host = urllib.parse.urlsplit(u if "//" in u else "//" + u).hostname
    return host == "127.0.0.1"


def screenshot(ng, channel, name):
    path = os.path.join(tmp, name + ".png")
    ytdeploy.chromium_screenshot(tmp, ng.origin() + "/?channel=" + channel, path, window=WINDOW)
    data = yth.read_file(path)
    ok(len(data) > 10000, "%s: Chromium wrote a screenshot (%d bytes)" % (name, len(data)))
    try:
        w, h, rows = ytdeploy.png_pixels(data)
    except ValueError as e:
        ok(False, "%s: the screenshot decodes as PNG (%s)" % (name, e))
        return None
    is_((w, h), WINDOW, "%s: the screenshot is %dx%d" % ((name,) + WINDOW))
    return rows


def near(px, rgb, tol=3):
    return all(abs(a - b) <= tol for a, b in zip(px, rgb))


def analyse(rows):
    """Pixels of the notice's colour, their bounding rows, and colours in
    the card area (the rows below the form, where the thumbnails are):
    distinct ones and distinct saturated ones (not grey)."""
    notice_px, top, bottom = 0, None, None
    for y, row in enumerate(rows):
        n = sum(1 for x in range(0, len(row), 3)
                if near((row[x], row[x + 1], row[x + 2]), NOTICE_RGB))
        if n:
            notice_px += n
            top = y if top is None else top
            bottom = y
    distinct, saturated = set(), set()
    for row in rows[CARD_TOP:]:
        for x in range(0, len(row), 3):
            px = (row[x], row[x + 1], row[x + 2])
            distinct.add(px)
            if max(px) - min(px) >= 60:
                saturated.add(px)
    return notice_px, (top, bottom), len(distinct), len(saturated)


# Rows of the card grid: below the heading, the notice and the form (the
# grid starts at about 235 px with the notice, 165 without, at WINDOW).
CARD_TOP = 300

demo_sf, demo_ng = site(demo, "demo")
plain_sf, plain_ng = site(plain, "plain")
diag("demo site %s (media %s); plain site %s" % (demo_ng.origin(), MEDIA, plain_ng.origin()))

# ---------------------------------------------------------------- demo: the DOM
demo.reset()
netlog = os.path.join(tmp, "netlog-demo.json")
text = ytdeploy.chromium_dom(tmp, demo_ng.origin() + "/?channel=" + CH_DEMO, window=WINDOW,
                             args=ytdeploy.netlog_args(netlog))
ok("</html>" in text, "demo: Chromium rendered the page")
dom = Dom(text)
is_(state(dom), "ready", "demo: body[data-state=ready]")
st = demo.stats()
is_((st["calls"], st["by_resource"]), (1, {"search": 1}),
    "demo: one upstream call, the search (thumbnails are no API calls)")
r, body = api(demo_ng, CH_DEMO)
is_((r.status, r.xcache), (200, "HIT"), "demo: the page's search is cached now")
is_(body.get("simulated"), True, "demo: the answer through ytcache carries \"simulated\": true")
items = body.get("items") or []
want = [(i["id"]["videoId"], html.unescape(i["snippet"]["title"]), i["snippet"]["publishedAt"],
         i["snippet"]["channelTitle"]) for i in items]
got = cards(dom)
demo_cards = [(c.get("id"), c.get("title"), c.get("datetime"), c.get("channel")) for c in got]
is_(len(got), 6, "demo: six cards")
is_([(c.get("id"), c.get("title"), c.get("datetime"), c.get("channel")) for c in got], want,
    "demo: the cards show the API's ids, titles, dates and channel")
titles = [c.get("title") or "" for c in got]
diag("demo titles: %s" % titles)
is_([t for t in titles if re.match(r"^Result \d+ for", t)], [], "demo: no \"Result N for\" title")
ok(len(titles) == 6 and all(len(t.split()) >= 3 and re.search(r"[a-z]{4}", t) for t in titles),
   "demo: titles are several words of English")
is_(len(set(titles)), 6, "demo: six different titles")
dates = [c.get("datetime") or "" for c in got]
ok(all(re.match(r"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d) for d in dates) and len(dates) == 6,
   "demo: each card has a date (%s .. %s)" % (dates[:1], dates[-1:]))
is_(sorted(dates, reverse=True), dates, "demo: newest first")
is_(len(set(dates)), 6, "demo: six different dates")
ok(all(re.search(r"\b20\d\d\b", c.get("date") or "") for c in got),
   "demo: the dates are shown (%r)" % (got[0].get("date") if got else None))
chans = set(c.get("channel") for c in got)
ok(len(chans) == 1 and all(chans) and not any(re.search(r"UC[\w-]{22}", c or "") for c in chans),
   "demo: one channel name on every card, not an id (%r)" % chans)
imgs = [c.get("img") for c in got]
ok(len(imgs) == 6 and all(u and u.startswith(MEDIA) for u in imgs),
   "demo: six <img> thumbnails from the fake's media base (%s)" % (imgs[:1],))
is_(imgs, [MEDIA + c["id"] + "/medium.svg" for c in got],
    "demo: each the medium picture of its video")
is_(dom.find(tag="span", cls="placeholder"), [], "demo: no placeholder")
present, visible, ntext = notice(dom)
ok(present and visible, "demo: the simulated-data notice is visible")
like(ntext, r"Simulated data.*without an API key.*made up.*YOUTUBE_API_KEYS",
     "demo: the notice says what is going on")

# the pictures came from the fake, as pictures, and were not API calls
st = demo.stats()
ok(st.get("demo_media", 0) >= 6, "demo: Chromium fetched the pictures from the fake (%d)"
   % st.get("demo_media", 0))
is_((st["calls"], len(st["queries"]), len(st["statuses"]), st["units"]),
    (1, 1, 1, {yth.SERVER_KEY: {"search": 1}}),
    "demo: picture requests are not counted or charged as API calls")
net = ytdeploy.netlog_summary(netlog) or {"requests": [], "connects": [], "probes": []}
reqs = net["requests"]
page = [q for q in reqs if (q["initiator"] or "").startswith(demo_ng.origin()) or
        q["url"].startswith(demo_ng.origin() + "/")]
diag("net log: %d requests, %d of the page: %s" % (len(reqs), len(page),
                                                  [q["url"][:90] for q in page]))
is_(sorted(q["url"] for q in page if q["url"].startswith(MEDIA)), sorted(imgs, key=str),
    "demo: the net log shows the page loading its six pictures from the media base")
is_([q["url"] for q in page if not loopback(q["url"])], [],
    "demo: the page asked for nothing but 127.0.0.1")
is_([q["url"] for q in page if q["net_error"] and not q["url"].endswith("/favicon.ico")], [],
    "demo: all the page's requests succeeded")
outside = [q for q in reqs if not loopback(q["url"])]
diag("Chromium's own requests elsewhere: %s" % sorted(set(
    urllib.parse.urlsplit(q["url"]).netloc for q in outside)))
is_([q["url"] for q in outside if q["net_error"] != -105], [],
    "demo: Chromium's own requests to other hosts stopped at the resolver (ERR_NAME_NOT_RESOLVED)")
ok(net["connects"] and not [a for a in net["connects"] if not loopback(a)],
   "demo: Chromium connected to 127.0.0.1 only (%s)" % sorted(set(net["connects"])))

# a picture, directly: an SVG of the right size, cacheable, not an API call
vid = got[0]["id"] if got else yth.vid("none")
c0 = demo.stats()
r = ytdeploy.http_get(demo.port, "/demo-media/%s/high.svg" % vid)
is_((r.status, r.header("content-type")), (200, "image/svg+xml"), "media: an SVG picture")
like(r.header("cache-control") or "", r"max-age=\d{3,}", "media: cacheable")
m = re.search(rb'<svg[^>]* width="(\d+)" height="(\d+)"', r.body)
is_(m and (int(m.group(1)), int(m.group(2))), (480, 360),
    "media: high.svg is 480x360, as its thumbnail says")
ok(html.escape(want[0][1], quote=False).encode()[:16] in r.body if want else False,
   "media: the picture shows the video's title")
r2 = ytdeploy.http_get(demo.port, "/demo-media/%s/high.svg" % vid,
                       {"If-None-Match": r.header("etag") or "-"})
is_(r2.status, 304, "media: If-None-Match of its ETag -> 304")
is_(ytdeploy.http_get(demo.port, "/demo-media/%s/huge.svg" % vid).status, 404,
    "media: unknown size -> 404")
c1 = demo.stats()
is_((c1["calls"], c1["queries"], c1["units"], c1["statuses"]),
    (c0["calls"], c0["queries"], c0["units"], c0["statuses"]),
    "media: direct picture requests leave the API counters alone")
is_(c1["demo_media"] - c0["demo_media"], 2, "media: counted as pictures (200 and 304; not the 404)")

# ---------------------------------------------------------------- demo: the screenshot
rows = screenshot(demo_ng, CH_DEMO, "demo")
if rows:
    n, (top, bottom), distinct, saturated = analyse(rows)
    diag("demo screenshot: %d notice pixels (rows %s..%s), %d colours, %d saturated below row %d"
         % (n, top, bottom, distinct, saturated, CARD_TOP))
    ok(n > 20000, "demo screenshot: the notice's colour is on it (%d pixels)" % n)
    ok(top is not None and bottom < CARD_TOP, "demo screenshot: the notice is above the cards")
    ok(saturated > 300 and distinct > 1000,
       "demo screenshot: the thumbnails are pictures (%d colours, %d saturated)"
       % (distinct, saturated))

# ---------------------------------------------------------------- plain fake, for the real API
plain.reset()
text = ytdeploy.chromium_dom(tmp, plain_ng.origin() + "/?channel=" + CH_PLAIN, window=WINDOW)
ok("</html>" in text, "plain: Chromium rendered the page")
dom = Dom(text)
is_(state(dom), "ready", "plain: body[data-state=ready]")
r, body = api(plain_ng, CH_PLAIN)
ok(r.status == 200 and "simulated" not in body, "plain: the answer has no \"simulated\" marker")
got = cards(dom)
is_([(c.get("id"), c.get("title")) for c in got],
    [(i["id"]["videoId"], html.unescape(i["snippet"]["title"])) for i in body.get("items") or []],
    "plain: the plain fake's results rendered")
ok(len(got) == 6 and all(re.match(r"^Result \d+ for", c.get("title") or "") for c in got),
   "plain: its titles are the plain fake's \"Result N for\"")
present, visible, _ = notice(dom)
ok(present and not visible, "plain: the notice is in the page, hidden")
is_(dom.find(tag="img", cls="thumb"), [], "plain: no pictures (not on i.ytimg.com)")
is_(len(dom.find(tag="span", cls="placeholder")), 6, "plain: six placeholders")
st = plain.stats()
is_(st["calls"], 1, "plain: one upstream call")
ok("demo_media" not in st, "plain: the plain fake's stats are as before (no demo_media)")
r = ytdeploy.http_get(plain.port, "/demo-media/%s/medium.svg" % (got[0]["id"] if got else "x"))
is_((r.status, r.json()), (404, yth.load_data("upstream/not_found.json")),
    "plain: no /demo-media/ without --demo (the fake's usual 404)")

rows = screenshot(plain_ng, CH_PLAIN, "plain")
if rows:
    n, _, distinct, saturated = analyse(rows)
    diag("plain screenshot: %d notice pixels, %d colours, %d saturated below row %d"
         % (n, distinct, saturated, CARD_TOP))
    is_(n, 0, "plain screenshot: no notice colour")
    ok(saturated < 50, "plain screenshot: grey placeholders, no pictures (%d saturated colours)"
       % saturated)

# ---------------------------------------------------------------- --media-base
other = yth.FakeUpstream(tmp, demo=True, media_base="http://127.0.0.1:1/pics",
                         name="fake-upstream-media")
b = json.loads(other.body("search?" + yth.q([("channelId", CH_DEMO)] + SEARCH)))
thumbs = [t["url"] for i in b.get("items") or [] for t in i["snippet"]["thumbnails"].values()]
ok(len(thumbs) == 18 and all(u.startswith("http://127.0.0.1:1/pics/") for u in thumbs),
   "--media-base: the thumbnails start with it (a slash added)")
is_([i["snippet"]["title"] for i in b.get("items") or []], [i["snippet"]["title"] for i in items],
    "--media-base: the same titles (deterministic data)")

# ---------------------------------------------------------------- [economy] channel_search = uploads
# the same page and demo channel, the latest videos from the uploads playlist
eco_sf, eco_ng = site(demo, "economy", economy={"channel_search": "uploads"})
demo.reset()
text = ytdeploy.chromium_dom(tmp, eco_ng.origin() + "/?channel=" + CH_DEMO, window=WINDOW)
edom = Dom(text)
is_(state(edom), "ready", "economy: body[data-state=ready]")
st = demo.stats()
is_((st["calls"], st["by_resource"]), (1, {"playlistItems": 1}),
    "economy: one upstream call, to the uploads playlist, none to search")
is_((demo.units(bucket="search", stats=st), demo.units(bucket="default", stats=st)), (0, 1),
    "economy: the search bucket untouched, 1 unit of default")
r, _ = api(eco_ng, CH_DEMO)
is_((r.status, r.xcache, r.header("x-ytcache-source")), (200, "HIT", "uploads; playlistId=UU" + CH_DEMO[2:]),
    "economy: the page's search is a HIT now, marked as from the uploads playlist")
is_([(c.get("id"), c.get("title"), c.get("datetime"), c.get("channel")) for c in cards(edom)],
    demo_cards, "economy: the same six videos as from search (ids, titles, dates, channel)")

eco_ng.stop()
eco_sf.stop()
plain_ng.stop()
demo_ng.stop()
plain_sf.stop()
demo_sf.stop()
yth.done_testing()
