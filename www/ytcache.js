/*
 * ytcache.js -- a small client for a ytcache proxy (YouTube Data API v3),
 * for website JavaScript. No dependencies; no API key (the proxy adds its
 * own).
 *
 *   <script src="ytcache.js"></script>
 *   <script>
 *     ytcache.list("videos", { part: "snippet", id: "dQw4w9WgXcQ" })
 *       .then(function (res) { console.log(res.items); })
 *       .catch(function (err) { console.log(err.code, err.reason, err.message); });
 *   </script>
 *
 * or as an ES module:  import ytcache from "./ytcache.mjs";
 * or in Node.js:       const ytcache = require("./ytcache.js");
 *
 * Where the proxy is (the base URL, ending in /youtube/v3/), first found of:
 *   - ytcache.base = "https://YOUR-DOMAIN/youtube/v3/"  (or the base option
 *     of a call, or of ytcache.create({ base: ... }))
 *   - <meta name="ytcache-base" content="..."> in the page; a relative URL
 *     is resolved against the page ("youtube/v3/" = next to the page)
 *   - the page's own origin + "/youtube/v3/"
 *
 * ytcache.list(resource, params[, options]) -> Promise of the API's JSON.
 *   resource: "videos", "search", "channels", "playlistItems", ...
 *   params:   { part: "snippet", id: ["a", "b"], maxResults: 6 }; arrays
 *             are joined with commas; undefined and null are left out.
 *   options:  { base, signal (an AbortSignal), timeoutMs, fetch, headers }
 * ytcache.request(...) -> Promise of { data, status, cache, age, etag,
 *   simulated, headers }: the same call, with X-Cache ("HIT", "MISS",
 *   "STALE", "BYPASS"), Age and ETag of the answer. A cross-origin page
 *   sees X-Cache and Age only if the proxy exposes them
 *   (Access-Control-Expose-Headers). simulated is true when the answer
 *   carries "simulated": true, which Google never sends: it comes from the
 *   offline imitation of the API (tests/fake_upstream.py --demo) that
 *   scripts/demo runs without an API key, and its data is made up.
 * ytcache.url(resource, params[, options]) -> the URL a call would fetch.
 * ytcache.create(options) -> a client of its own with these defaults.
 *
 * A failed call rejects with an Error (name "YtcacheError") that carries,
 * from the Google-shaped JSON error of the proxy or the API:
 *   err.code     HTTP status in the error body (0: no answer at all, such
 *                as a network failure or a cross-origin request the proxy
 *                did not allow)
 *   err.reason   errors[0].reason: "quotaExhausted", "invalidParameter",
 *                "notFound", ...; "networkError", "timeout", "aborted",
 *                "httpError" (an error without a JSON body), or
 *                "invalidResponse" (an answer that is not JSON)
 *   err.message  error.message
 *   err.status   the HTTP status (0 without an answer), err.errors (the
 *                errors array), err.response (the parsed body, if any),
 *                err.simulated (the body says "simulated": true)
 */
(function (root, factory) {
  "use strict";
  var api = factory(root);
  if (typeof module === "object" && module && typeof module.exports === "object") {
    module.exports = api;          /* CommonJS (Node.js) */
  } else if (root) {
    root.ytcache = api;            /* plain <script>, or imported by ytcache.mjs */
  }
})(typeof globalThis !== "undefined" ? globalThis
   : typeof self !== "undefined" ? self : this, function (root) {
  "use strict";

  var RESOURCE = /^[A-Za-z][A-Za-z0-9]*$/;

  function YtcacheError(message, code, reason, status, body) {
    var err = new Error(message);
    err.name = "YtcacheError";
    err.code = code;
    err.reason = reason;
    err.status = status;
    err.errors = (body && body.error && Array.isArray(body.error.errors)) ? body.error.errors : [];
    err.response = body || null;
    err.simulated = isSimulated(body);
    return err;
  }

  function isSimulated(body) {
    return !!(body && typeof body === "object" && body.simulated === true);
  }

  function pageBase() {
    var doc = root && root.document;
    if (doc && typeof doc.querySelector === "function") {
      var meta = doc.querySelector('meta[name="ytcache-base"]');
      var content = meta && meta.getAttribute("content");
      if (content) {
        return new URL(content, doc.baseURI).href;
      }
    }
    var loc = root && root.location;
    if (loc && loc.origin && loc.origin !== "null") {
      return loc.origin + "/youtube/v3/";
    }
    return null;
  }

  function withSlash(base) {
    base = String(base);
    return base.charAt(base.length - 1) === "/" ? base : base + "/";
  }

  function query(params) {
    var out = [];
    Object.keys(params || {}).forEach(function (name) {
      var v = params[name];
      if (v === undefined || v === null) return;
      if (Array.isArray(v)) v = v.join(",");
      out.push(encodeURIComponent(name) + "=" +
               encodeURIComponent(String(v)).replace(/%2C/gi, ","));
    });
    return out.join("&");
  }

  function header(res, name) {
    var v = res.headers && res.headers.get(name);
    return v === undefined ? null : v;
  }

  function create(defaults) {
    defaults = defaults || {};
    var client = { base: defaults.base || null };

    function opt(options, name) {
      if (options && options[name] !== undefined) return options[name];
      if (defaults[name] !== undefined) return defaults[name];
      return undefined;
    }

    client.url = function (resource, params, options) {
      if (typeof resource !== "string" || !RESOURCE.test(resource)) {
        throw new TypeError("ytcache: not a resource name: " + resource);
      }
      var base = (options && options.base) || client.base || pageBase();
      if (!base) {
        throw new TypeError("ytcache: no base URL (set ytcache.base)");
      }
      var qs = query(params);
      return withSlash(base) + resource + (qs ? "?" + qs : "");
    };

    client.request = function (resource, params, options) {
      var url;
      try {
        url = client.url(resource, params, options);
      } catch (e) {
        return Promise.reject(YtcacheError(e.message, 0, "invalidParameter", 0, null));
      }
      var fetchFn = opt(options, "fetch") || (root && root.fetch);
      if (typeof fetchFn !== "function") {
        return Promise.reject(YtcacheError("ytcache: no fetch() here", 0, "networkError", 0, null));
      }
      var headers = { "Accept": "application/json" };
      var extra = opt(options, "headers") || {};
      Object.keys(extra).forEach(function (k) { headers[k] = extra[k]; });
      var init = { method: "GET", headers: headers };

      var signal = opt(options, "signal");
      var timeoutMs = opt(options, "timeoutMs");
      var controller = null;
      var timer = null;
      var timedOut = false;
      if ((timeoutMs || signal) && typeof AbortController === "function") {
        controller = new AbortController();
        if (signal) {
          if (signal.aborted) controller.abort();
          else signal.addEventListener("abort", function () { controller.abort(); });
        }
        if (timeoutMs) {
          timer = setTimeout(function () { timedOut = true; controller.abort(); }, timeoutMs);
        }
        init.signal = controller.signal;
      }
      function done() { if (timer !== null) clearTimeout(timer); }

      return Promise.resolve()
        .then(function () { return fetchFn.call(root, url, init); })
        .then(function (res) {
          return res.text().then(function (text) {
            done();
            var body = null;
            try { body = JSON.parse(text); } catch (e) { body = null; }
            var e = body && typeof body === "object" ? body.error : null;
            if (!res.ok || e) {
              if (e && typeof e === "object") {
                var first = (Array.isArray(e.errors) && e.errors[0]) || {};
                throw YtcacheError(e.message || ("HTTP " + res.status), e.code || res.status,
                                   first.reason || e.status || "httpError", res.status, body);
              }
              throw YtcacheError("HTTP " + res.status + (res.statusText ? " " + res.statusText : ""),
                                 res.status, "httpError", res.status, body);
            }
            if (body === null || typeof body !== "object") {
              throw YtcacheError("ytcache: the answer is not JSON", res.status, "invalidResponse",
                                 res.status, null);
            }
            var age = header(res, "Age");
            return {
              data: body,
              status: res.status,
              cache: header(res, "X-Cache"),
              age: age === null ? null : Number(age),
              etag: header(res, "ETag"),
              simulated: isSimulated(body),
              headers: res.headers
            };
          });
        }, function (err) {
          done();
          if (timedOut) {
            throw YtcacheError("ytcache: no answer within " + timeoutMs + " ms", 0, "timeout", 0, null);
          }
          if (err && err.name === "AbortError") {
            throw YtcacheError("ytcache: request aborted", 0, "aborted", 0, null);
          }
          throw YtcacheError("ytcache: network error" + (err && err.message ? ": " + err.message : ""),
                             0, "networkError", 0, null);
        });
    };

    client.list = function (resource, params, options) {
      return client.request(resource, params, options).then(function (r) { return r.data; });
    };

    client.create = create;
    return client;
  }

  return create();
});
