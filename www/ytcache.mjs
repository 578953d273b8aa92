/*
 * ytcache.mjs -- ytcache.js as an ES module (keep both files side by side):
 *
 *   import ytcache from "./ytcache.mjs";
 *   const res = await ytcache.list("videos", { part: "snippet", id: "dQw4w9WgXcQ" });
 *
 * Named exports: list, request, url, create. See ytcache.js for the API.
 */
import * as loaded from "./ytcache.js";

// In a browser ytcache.js sets the global ytcache; in Node.js it is a
// CommonJS module whose exports arrive as the default export.
const ytcache = (loaded && loaded.default && typeof loaded.default.list === "function")
  ? loaded.default : globalThis.ytcache;

export default ytcache;
export const list = ytcache.list;
export const request = ytcache.request;
export const url = ytcache.url;
export const create = ytcache.create;
