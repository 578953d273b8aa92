#!/usr/bin/python3
"""The key pool under Google's daily quota (design.md, "Quota economy"):
misses move on to another key when one is spent, so no client sees a 403
while any key has room; a spent bucket is exhausted for the rest of the
Pacific day (no further upstream call for it, a stale copy or 503
quotaExhausted with Retry-After = seconds to Pacific midnight); the search
bucket is separate; an invalid key is disabled for good and never leaks.
The fake upstream enforces per-key quotas and counts the units it charged."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok, diag  # noqa: E402

A, B, C = yth.SERVER_KEY, "AIzaSyFAKE-server-key-0002", "AIzaSyFAKE-server-key-0003"
KEYS = [A, B, C]
s = yth.Stack("spawn-fcgi", workers=2, fake_keys=KEYS,
              config={"upstream": {"keys": ",".join(KEYS), "rotate_on_quota": "yes"}})
fake, db = s.fake, s.db
V = "/youtube/v3/videos?part=id&id="
S = "/youtube/v3/search?part=snippet&q="
n = [0]


def miss(prefix=V):
    n[0] += 1
    tag = "quota%06d" % n[0]
    return s.get(prefix + (yth.vid(tag) if prefix == V else tag))


def fresh():
    """A new Pacific day for ytcache and for the fake."""
    s.reset_quota()
    fake.reset()


def backdate(v, seconds_past_expiry):
    db.sql("UPDATE cache SET fetched_at = UTC_TIMESTAMP() - INTERVAL (ttl + %d) SECOND, "
           "expires_at = UTC_TIMESTAMP() - INTERVAL %d SECOND WHERE request LIKE %s"
           % (seconds_past_expiry, seconds_past_expiry, yth.sql_str("%" + v + "%")))


def check_quota_503(r, label):
    """503 quotaExhausted with Retry-After = seconds to Pacific midnight."""
    want = yth.secs_to_pacific_midnight()
    yth.check_error(r, 503, "quotaExhausted", label)
    ra = r.header("retry-after") or ""
    ok(ra.isdigit() and abs(int(ra) - want) <= 2,
       "%s: Retry-After %s = seconds to midnight America/Los_Angeles (%.0f, +-2)" % (label, ra, want))


# ---------------------------------------------------------------- rotation past a spent key
fresh()
fake.mode("ok", key_quota={A: {"default": 2}})
answers = [miss() for _ in range(12)]
is_([(r.status, r.xcache) for r in answers], [(200, "MISS")] * 12,
    "key A limited to 2 units: 12 misses all 200 MISS (no 403 reaches a client)")
st = fake.stats()
is_(fake.ok_calls(A, stats=st), 2, "key A: the fake answered it 200 twice")
is_(st["quota_rejected"].get(A, {}).get("default", 0), 1,
    "key A: refused for quota exactly once (then left alone)")
is_(fake.units(A, stats=st), 3, "key A: 3 units charged by the fake (2 + the refused call)")
is_(st["keys"].count(B) + st["keys"].count(C), 12 - 2, "keys B and C carried the other 10 misses")
is_(st["statuses"].count(403), 1, "the fake answered 403 once; ytcache retried that request on another key")
ua = s.key_usage(A) or {}
is_(ua.get("exhausted"), 1, "key_usage: A's default bucket exhausted = 1 (%r)" % ua)
is_([(s.key_usage(k) or {}).get("exhausted") for k in (B, C)], [0, 0], "key_usage: B and C not exhausted")
is_(sum((s.key_usage(k) or {}).get("used", 0) for k in KEYS), 13,
    "key_usage: 13 units used in all (every request charged, the refused one too)")
c0 = fake.stats()["keys"].count(A)
for _ in range(6):
    miss()
is_(fake.stats()["keys"].count(A), c0, "exhausted key A is not used again today")

# ---------------------------------------------------------------- every key spent
fresh()
X = yth.vid("quotaStale1")
first = s.get(V + X)
is_((first.status, first.xcache), (200, "MISS"), "a row to serve stale later")
H = yth.vid("quotaHit001")
s.get(V + H)
backdate(X, 3600)        # past stale_while_revalidate, within stale_if_error
fake.reset()
fake.mode("ok", key_quota={k: {"default": 2} for k in KEYS})
got = []
for _ in range(10):
    r = miss()
    got.append(r.status)
    if r.status != 200:
        break
is_(got[:6], [200] * 6, "3 keys x 2 units: six misses answered")
is_(got[6:], [503], "the 7th miss: 503 (no 403 reaches the client)")
check_quota_503(r, "every key exhausted")
is_(r.xcache, None, "every key exhausted: no X-Cache on the error")
st = fake.stats()
is_(st["statuses"].count(403), 3, "each key refused once by the fake (the 7th miss tried all three)")
is_([fake.units(k, stats=st) for k in KEYS], [3, 3, 3], "the fake charged each key 3 units")
is_([(s.key_usage(k) or {}).get("exhausted") for k in KEYS], [1, 1, 1], "key_usage: all three exhausted")
calls = fake.bucket_calls("default")
for i in range(5):
    r = miss()
    if i == 0:
        check_quota_503(r, "next miss after exhaustion")
    else:
        is_(r.status, 503, "exhausted, miss %d: 503" % (i + 2))
r = s.get(V + X)
is_((r.status, r.xcache), (200, "STALE"), "exhausted: an expired row is served STALE")
ok(r.body == first.body, "exhausted: STALE has the old bytes")
r = s.get(V + H)
is_((r.status, r.xcache), (200, "HIT"), "exhausted: a fresh row is still a HIT")
is_(fake.bucket_calls("default"), calls, "after exhaustion the fake sees no further call in the default bucket")
r = miss(S)
is_((r.status, r.xcache), (200, "MISS"), "default bucket exhausted: a search (own bucket) still works")

# ---------------------------------------------------------------- the search bucket is separate
fresh()
fake.mode("ok", key_quota={k: {"search": 1} for k in KEYS})
got = [miss(S) for _ in range(4)]
is_([r.status for r in got[:3]], [200] * 3, "search bucket of 1 per key: three searches answered")
check_quota_503(got[3], "the 4th search (each key answered 429 per day)")
st = fake.stats()
is_(st["statuses"].count(429), 3, "the fake answered 429 per-day once per key")
is_([(s.key_usage(k, "search") or {}).get("exhausted") for k in KEYS], [1, 1, 1],
    "429 naming a per-day limit: every key's search bucket exhausted")
is_([(s.key_usage(k, "default") or {}).get("exhausted", 0) for k in KEYS], [0, 0, 0],
    "... and no default bucket")
calls = fake.bucket_calls("search")
r = miss(S)
check_quota_503(r, "search bucket exhausted, next search")
is_(fake.bucket_calls("search"), calls, "no further search call upstream")
vids = [miss() for _ in range(4)]
is_([(x.status, x.xcache) for x in vids], [(200, "MISS")] * 4, "search exhausted: videos misses still work")
is_(fake.ok_calls(A) + fake.ok_calls(B) + fake.ok_calls(C), 4, "the fake answered the 4 videos calls")

# ---------------------------------------------------------------- an invalid key is disabled for good
fresh()
fake.mode("ok", keys=[A, C])            # Google no longer knows key B
answers = [miss() for _ in range(15)]
is_([(r.status, r.xcache) for r in answers], [(200, "MISS")] * 15,
    "key B invalid: 15 misses all answered (the request that met B moved on)")
st = fake.stats()
is_(st["keys"].count(B), 1, "key B sent upstream exactly once, never after its rejection")
row = s.api_key(B) or {}
is_(row.get("state"), "disabled", "api_keys: B disabled")
ok(row.get("disabled_reason"), "api_keys: B has a disabled_reason (%r)" % row.get("disabled_reason"))
is_([(s.api_key(k) or {}).get("state") for k in (A, C)], ["active", "active"], "A and C stay active")
is_((s.key_usage(B) or {}).get("exhausted"), 2, "key_usage: B marked disabled (exhausted = 2)")
# a new day does not bring it back
s.reset_quota(keys=False)
fake.reset()
fake.mode("ok", keys=[A, C])
for _ in range(6):
    miss()
is_(fake.stats()["keys"].count(B), 0, "the next Pacific day: disabled B still not used")
logs = s.logs()
ok(B.encode() not in logs, "no log file holds key B's value")
ok(A.encode() not in logs and C.encode() not in logs, "no log file holds any server key")
lines = [ln for ln in logs.decode("utf-8", "replace").splitlines()
         if yth.key_label(B) in ln and "disabled" in ln]
is_(len(lines), 1, "the disabling is logged once, by label (%s)" % (lines[:3],))

# a key restricted to other referrers is disabled the same way
fresh()
fake.mode("ok", key_modes={C: "referrer_blocked"})
answers = [miss() for _ in range(9)]
is_([(r.status, r.xcache) for r in answers], [(200, "MISS")] * 9, "key C referrer-blocked: misses answered")
is_(fake.stats()["keys"].count(C), 1, "key C sent upstream once, then never again")
row = s.api_key(C) or {}
is_(row.get("state"), "disabled", "api_keys: referrer-blocked C disabled")
yth.like(row.get("disabled_reason") or "", r"(?i)block|referer|referrer", "api_keys: C's reason says why (%r)" % row.get("disabled_reason"))

# ---------------------------------------------------------------- the config file and the table
# a key taken out of [upstream] keys leaves the pool; put back, it is used again
fresh()
s.reconfigure(upstream={"keys": ",".join([A, B]), "rotate_on_quota": "yes"})
for _ in range(4):
    miss()
is_((s.api_key(C) or {}).get("state"), "disabled", "C taken out of the config file: disabled")
is_(fake.stats()["keys"].count(C), 0, "C taken out of the config file: not used")
fake.reset()
s.reconfigure(upstream={"keys": ",".join(KEYS), "rotate_on_quota": "yes"})
for _ in range(9):
    miss()
is_((s.api_key(C) or {}).get("state"), "active", "C put back into the config file: active again")
cmp_ok(fake.stats()["keys"].count(C), ">=", 1, "C put back into the config file: used again")

diag("quota: %d misses made" % n[0])
yth.done_testing()
