#!/usr/bin/python3
"""Fake WebSub (PubSubHubbub) hub for the ytcache integration tests.

    fake_hub.py --port 0 --portfile FILE [--verbose]

Subscription requests:
    POST /subscribe (any path not starting with /__)  form-encoded
        hub.mode, hub.topic, hub.callback, hub.lease_seconds, hub.secret, ...
        Every request is recorded.  The hub answers 202 Accepted (or the
        status set with /__mode) and then, in a thread, verifies the
        subscriber's intent as the real hub does: a GET to hub.callback with
        hub.mode, hub.topic, a random hub.challenge and (for subscribe)
        hub.lease_seconds.  The subscriber confirms by answering 200 with
        exactly the challenge as its body; the outcome is recorded.

Control endpoints:
    GET  /__stats   {"requests": [{form fields}, ...],
                     "verifications": [{"mode", "topic", "callback",
                        "challenge", "lease_seconds", "status", "body",
                        "echoed", "error"}, ...],
                     "mode": {...}}
    POST /__reset   forget everything, mode back to the defaults
    POST /__mode    JSON {"status": 202, "verify": true, "lease_seconds": null}
        status         the answer to subscription requests (e.g. 500);
                       a non-2xx answer is never followed by a verification
        verify         false: accept requests but never verify them (the
                       subscription stays pending at the subscriber)
        lease_seconds  the lease the hub grants (default: the one requested)
    POST /__notify  JSON {"callback": URL, "secret": S, "body": TEXT,
                          "signature": optional literal X-Hub-Signature}
        POSTs body (an Atom feed) to callback as the hub delivers content:
        Content-Type application/atom+xml and, with a secret,
        X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, body)>.
        Answers {"status": N, "body": TEXT} of the callback's answer.

Stdlib only (the main is tests/lib/fakeserve.py).  Quiet unless --verbose,
and never prints a secret.
"""

import hashlib
import hmac
import http.client
import json
import os
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import fakeserve  # noqa: E402


def sign(secret, body):
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def http_call(method, url, body=None, headers=None, timeout=20):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        raise ValueError("only http callbacks are supported by the fake hub")
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Hub:
    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.verifications = []
            self.mode = {"status": 202, "verify": True, "lease_seconds": None}

    def snapshot(self):
        with self.lock:
            return {"requests": list(self.requests), "verifications": list(self.verifications),
                    "mode": dict(self.mode)}

    def verify(self, form, lease):
        """The hub's intent verification: GET callback?...&hub.challenge=..."""
        mode = form.get("hub.mode", "")
        callback = form.get("hub.callback", "")
        challenge = secrets.token_urlsafe(24)
        params = [("hub.mode", mode), ("hub.topic", form.get("hub.topic", "")),
                  ("hub.challenge", challenge)]
        if mode == "subscribe" and lease:
            params.append(("hub.lease_seconds", str(lease)))
        sep = "&" if "?" in callback else "?"
        url = callback + sep + urllib.parse.urlencode(params)
        rec = {"mode": mode, "topic": form.get("hub.topic", ""), "callback": callback,
               "challenge": challenge, "lease_seconds": lease if mode == "subscribe" else None,
               "status": None, "body": None, "echoed": False, "error": None}
        try:
            status, body = http_call("GET", url)
            rec["status"] = status
            rec["body"] = body.decode("utf-8", "replace")
            rec["echoed"] = status == 200 and body == challenge.encode()
        except Exception as e:  # recorded, never fatal
            rec["error"] = "%s: %s" % (type(e).__name__, e)
        with self.lock:
            self.verifications.append(rec)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            # the request line never holds a secret (the form is in the body)
            sys.stderr.write("fake_hub: %s\n" % (fmt % args))

    def send(self, status, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        hub = self.server.hub
        if self.path == "/__stats":
            return self.send(200, hub.snapshot())
        return self.send(405, b"the hub takes POST\n", "text/plain")

    def do_POST(self):
        hub = self.server.hub
        raw = self.read_body()
        if self.path == "/__reset":
            hub.reset()
            return self.send(200, {"ok": True})
        if self.path == "/__mode":
            spec = json.loads(raw or b"{}")
            with hub.lock:
                for k in ("status", "verify", "lease_seconds"):
                    if k in spec:
                        hub.mode[k] = spec[k]
                mode = dict(hub.mode)
            return self.send(200, mode)
        if self.path == "/__notify":
            spec = json.loads(raw or b"{}")
            body = spec.get("body", "")
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            headers = {"Content-Type": "application/atom+xml"}
            if spec.get("signature") is not None:
                headers["X-Hub-Signature"] = spec["signature"]
            elif spec.get("secret"):
                headers["X-Hub-Signature"] = sign(spec["secret"], body)
            try:
                status, answer = http_call("POST", spec["callback"], body, headers)
            except Exception as e:
                return self.send(502, {"error": "%s: %s" % (type(e).__name__, e)})
            return self.send(200, {"status": status, "body": answer.decode("utf-8", "replace")})
        if self.path.startswith("/__"):
            return self.send(404, b"no such control endpoint\n", "text/plain")

        # a subscription request
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        form["_content_type"] = ctype
        form["_path"] = self.path
        with hub.lock:
            hub.requests.append(form)
            mode = dict(hub.mode)
        missing = [f for f in ("hub.mode", "hub.topic", "hub.callback") if not form.get(f)]
        if missing or form["hub.mode"] not in ("subscribe", "unsubscribe"):
            return self.send(400, b"bad subscription request\n", "text/plain")
        status = int(mode["status"])
        self.send(status, b"" if status == 202 else b"hub says %d\n" % status, "text/plain")
        if 200 <= status < 300 and mode["verify"]:
            lease = mode["lease_seconds"]
            if lease is None:
                try:
                    lease = int(form.get("hub.lease_seconds") or 432000)
                except ValueError:
                    lease = 432000
            threading.Thread(target=hub.verify, args=(form, lease), daemon=True).start()


def main():
    ap = fakeserve.arg_parser(__doc__)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    hub = Hub()
    srv = fakeserve.Server((args.bind, args.port), Handler)
    srv.hub = hub
    srv.verbose = args.verbose
    return fakeserve.serve(srv, hub.stop, args.portfile)


if __name__ == "__main__":
    sys.exit(main())
