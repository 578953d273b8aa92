// Driven by tests/integration/googleapis.py: the official Node.js client
// (@googleapis/youtube) and www/ytcache.js, pointed at a ytcache proxy.
//
//   node googleapis.mjs ROOT_URL KEY YTCACHE_JS IDS_JSON
//
// ROOT_URL is the proxy's root ("http://127.0.0.1:PORT/"; the client adds
// youtube/v3/), KEY a dummy API key, YTCACHE_JS the path of www/ytcache.js,
// IDS_JSON {"videos": [..], "channel": "UC..", "playlist": "PL.."}.
// Prints one JSON object: per call its status, X-Cache and a summary of the
// data, or the error the client raised.
import { youtube } from "@googleapis/youtube";
import { createRequire } from "node:module";

const [rootUrl, key, ytcacheJs, idsJson] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const yt = youtube({ version: "v3", rootUrl, auth: key });

// gaxios gives a Headers object (fetch) or, in older versions, a plain one
function header(h, name) {
  if (!h) return null;
  return (typeof h.get === "function" ? h.get(name) : h[name]) || null;
}

function summary(res) {
  const items = Array.isArray(res.data.items) ? res.data.items : [];
  return {
    status: res.status,
    xcache: header(res.headers, "x-cache"),
    kind: res.data.kind,
    etag: res.data.etag,
    n: items.length,
    ids: items.map((i) => (typeof i.id === "string" ? i.id : null)),
    itemKinds: items.map((i) => i.kind),
    titles: items.map((i) => (i.snippet && i.snippet.title) || null),
  };
}

function failure(e) {
  return {
    error: e.message,
    code: e.code === undefined ? null : e.code,
    status: e.status || (e.response && e.response.status) || null,
    reasons: (Array.isArray(e.errors) ? e.errors
              : ((e.response && e.response.data && e.response.data.error &&
                  e.response.data.error.errors) || [])).map((x) => x.reason),
    errorsField: Array.isArray(e.errors),
  };
}

const calls = {
  "videos.list": () => yt.videos.list({ part: ["snippet", "statistics"], id: ids.videos }),
  "search.list": () => yt.search.list({ part: ["snippet"], q: "ytcache node client", type: ["video"],
                                        maxResults: 5 }),
  "channels.list": () => yt.channels.list({ part: ["snippet", "statistics"], id: [ids.channel] }),
  "playlistItems.list": () => yt.playlistItems.list({ part: ["snippet"], playlistId: ids.playlist,
                                                      maxResults: 5 }),
  // since 3 June 2026: GET videos:batchGetStats, its own quota bucket
  "videos.batchGetStats": () => yt.videos.batchGetStats({ part: ["statistics"], id: ids.videos }),
  "videos.list (bad part)": () => yt.videos.list({ part: ["nonsense"], id: ids.videos }),
};

const out = {};
for (const [name, fn] of Object.entries(calls)) {
  try {
    out[name] = summary(await fn());
  } catch (e) {
    out[name] = failure(e);
  }
}

// www/ytcache.js as a CommonJS module, on Node's own fetch
const ytcache = createRequire(import.meta.url)(ytcacheJs);
const client = ytcache.create({ base: new URL("youtube/v3/", rootUrl).href });
try {
  const r = await client.request("videos", { part: ["snippet", "statistics"], id: ids.videos });
  out["ytcache.js request"] = { status: r.status, xcache: r.cache, etag: r.data.etag, n: r.data.items.length };
} catch (e) {
  out["ytcache.js request"] = { error: e.message, code: e.code, reason: e.reason };
}
try {
  await client.list("videos", { part: "nonsense", id: ids.videos });
  out["ytcache.js error"] = "resolved";
} catch (e) {
  out["ytcache.js error"] = { name: e.name, code: e.code, reason: e.reason, message: e.message };
}

process.stdout.write(JSON.stringify(out) + "\n");
