// Driven by tests/integration/googleapis.py: the read methods of the
// official Node.js client (@googleapis/youtube), from its own definitions.
//
//   node methods.mjs list
//     prints [{"method": "videos.list", "http": "GET", "path": "/youtube/v3/videos"}, ...]:
//     every method whose request is a GET, read from the method's own code
//     (the URL and HTTP method the client would use)
//   node methods.mjs call ROOT_URL KEY CALLS_JSON
//     CALLS_JSON {"videos.list": {params}, ...}: calls each through the
//     client pointed at ROOT_URL; prints per method its status, X-Cache,
//     kind, or the error's status and reasons
import { youtube } from "@googleapis/youtube";

const [mode, rootUrl, key, callsJson] = process.argv.slice(2);

function readMethods(yt) {
  const out = [];
  for (const res of Object.keys(yt).sort()) {
    const r = yt[res];
    if (!r || typeof r !== "object" || !r.context) continue;
    for (const m of Object.getOwnPropertyNames(Object.getPrototypeOf(r)).sort()) {
      if (m === "constructor" || typeof r[m] !== "function") continue;
      const src = r[m].toString();
      const url = /url:\s*\(rootUrl \+ '([^']+)'\)/.exec(src);
      const http = /method:\s*'([A-Z]+)'/.exec(src);
      if (!url || !http) {
        out.push({ method: res + "." + m, http: null, path: null });  // the test fails on these
      } else if (http[1] === "GET") {
        out.push({ method: res + "." + m, http: http[1], path: url[1] });
      }
    }
  }
  return out;
}

function header(h, name) {
  if (!h) return null;
  return (typeof h.get === "function" ? h.get(name) : h[name]) || null;
}

if (mode === "list") {
  process.stdout.write(JSON.stringify(readMethods(youtube({ version: "v3" }))) + "\n");
} else if (mode === "call") {
  const yt = youtube({ version: "v3", rootUrl, auth: key });
  const out = {};
  for (const [name, params] of Object.entries(JSON.parse(callsJson))) {
    const [res, m] = name.split(".");
    try {
      const r = await yt[res][m](params);
      out[name] = { status: r.status, xcache: header(r.headers, "x-cache"), kind: r.data && r.data.kind };
    } catch (e) {
      const data = e.response && e.response.data;
      const errs = (data && data.error && data.error.errors) || [];
      out[name] = { status: e.status || (e.response && e.response.status) || null,
                    reasons: errs.map((x) => x.reason), message: e.message };
    }
  }
  process.stdout.write(JSON.stringify(out) + "\n");
} else {
  process.stderr.write("usage: node methods.mjs list | call ROOT_URL KEY CALLS_JSON\n");
  process.exit(2);
}
