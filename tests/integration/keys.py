#!/usr/bin/python3
"""The server key pool (ytcache.conf(5), keys / key_mode): requests are
spread over the keys; a key the API refuses (quota, invalid, rate limited)
is skipped for the next; only when none is left does the caller get a 503.
Since the quota economy (schema 2) a quotaExceeded key stays out for the
Pacific day and an invalid key stays disabled (until `ytcachectl keys
enable`), so each case starts from a fresh quota state.  Passthrough mode
without key= falls back to the pool."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok  # noqa: E402

K1, K2, K3 = yth.SERVER_KEY, "AIzaSyFAKE-server-key-0002", "AIzaSyFAKE-server-key-0003"
KEYS = [K1, K2, K3]
s = yth.Stack("spawn-fcgi", workers=1, fake_keys=KEYS,
              config={"upstream": {"keys": ",".join(KEYS), "rotate_on_quota": "yes"}})
fake = s.fake
V = "/youtube/v3/videos?part=id&id="
n = [0]


def miss():
    n[0] += 1
    return s.get(V + yth.vid("keys%07d" % n[0]))


# ---------------------------------------------------------------- spread in turn
for _ in range(6):
    r = miss()
    is_((r.status, r.xcache), (200, "MISS"), "pool of 3: miss answered")
used = fake.stats()["keys"]
is_(sorted(set(used)), sorted(KEYS), "6 misses over a pool of 3 keys use all three (%s)" %
    ",".join(k[-4:] for k in used))

# ---------------------------------------------------------------- a refused key is skipped
for mode in ("quota", "key_invalid", "ratelimit"):
    fake.reset()
    s.reset_quota()
    fake.mode("ok", key_modes={K1: mode, K3: mode})
    for i in range(3):
        r = miss()
        is_((r.status, r.xcache), (200, "MISS"), "keys 1 and 3 refused (%s): request %d answered" % (mode, i))
    st = fake.stats()
    ok(K2 in st["keys"], "keys 1 and 3 refused (%s): key 2 used" % mode)
    cmp_ok(st["calls"], "<=", 9, "keys 1 and 3 refused (%s): at most one try per key" % mode)
    # what ytcache remembers about keys 1 and 3
    want = {"quota": ("active", 1), "key_invalid": ("disabled", 2), "ratelimit": ("active", 0)}[mode]
    for k in (K1, K3):
        row, use = s.api_key(k) or {}, s.key_usage(k) or {}
        is_((row.get("state"), use.get("exhausted")), want,
            "keys 1 and 3 refused (%s): key %s state/exhausted" % (mode, k[-4:]))
    is_((s.api_key(K2) or {}).get("state"), "active", "keys 1 and 3 refused (%s): key 2 active" % mode)
    if mode != "ratelimit":
        fake.reset()
        for i in range(3):
            miss()
        is_(sorted(set(fake.stats()["keys"])), [K2],
            "keys 1 and 3 refused (%s): afterwards only key 2 is used" % mode)

# ---------------------------------------------------------------- all refused
for mode, reason in (("quota", "quotaExhausted"), ("key_invalid", "apiKeyRejected"),
                     ("ratelimit", "rateLimited")):
    fake.reset()
    s.reset_quota()
    fake.mode("ok", key_modes={k: mode for k in KEYS})
    r = miss()
    yth.check_error(r, 503, reason, "every key refused (%s)" % mode)
    yth.like(r.header("retry-after"), r"^\d+$", "every key refused (%s): Retry-After" % mode)
    cmp_ok(fake.calls(), "<=", 3, "every key refused (%s): each key tried at most once" % mode)
    # the next miss: exhausted and disabled keys are not tried again today,
    # a short-term rate limit is
    c0 = fake.calls()
    r = miss()
    is_(r.status, 503, "every key refused (%s), next miss: 503" % mode)
    if mode == "ratelimit":
        cmp_ok(fake.calls() - c0, ">=", 1, "every key rate limited, next miss: upstream asked again")
    else:
        # spent keys wait for Pacific midnight; invalid ones are out of the pool for good
        yth.check_error(r, 503, "noApiKey" if mode == "key_invalid" else "quotaExhausted",
                        "every key refused (%s), next miss" % mode)
        is_(fake.calls() - c0, 0, "every key refused (%s), next miss: no upstream call" % mode)
fake.reset()

# ---------------------------------------------------------------- no keys
s.reconfigure(upstream={"keys": None})
c0 = fake.calls()
r = miss()
# the config's old keys are out of the pool and none was added with
# ytcachectl: the pool is empty
yth.check_error(r, 503, "noApiKey", "pool mode without keys")
is_(fake.calls(), c0, "pool mode without keys: nothing sent upstream")
is_(sorted((s.api_key(k) or {}).get("state") for k in KEYS), ["disabled"] * 3,
    "keys removed from the config file are disabled")

# ---------------------------------------------------------------- passthrough falls back to the pool
# K2 (and K3) were disabled as invalid: that survives a restart, and so does
# the disabled state of keys removed from the file -- unless the key comes back
s.db.sql("UPDATE api_keys SET state = 'disabled', disabled_reason = 'invalid key: API_KEY_INVALID'"
         " WHERE label = '%s'" % yth.key_label(K3))
s.reconfigure(upstream={"key_mode": "passthrough", "keys": K3})
c0 = fake.calls()
r = miss()
yth.check_error(r, 503, "noApiKey", "passthrough without key=, pool key disabled as invalid")
is_(fake.calls(), c0, "  ... nothing sent upstream")
is_((s.api_key(K3) or {}).get("state"), "disabled", "a key disabled as invalid stays disabled across a restart")
s.reconfigure(upstream={"key_mode": "passthrough", "keys": K2})
r = miss()
is_((r.status, r.xcache), (200, "MISS"), "a key put back into the file is enabled again and used")
is_(fake.stats()["keys"][-1], K2, "  ... K2 went upstream")
s.reconfigure(upstream={"key_mode": "passthrough", "keys": K3})
rc = s.ctl("keys", "enable", yth.key_label(K3))
is_(rc.returncode, 0, "ytcachectl keys enable %s" % yth.key_label(K3))
r = miss()
is_((r.status, r.xcache), (200, "MISS"), "passthrough without key=: served with the server key")
is_(fake.stats()["keys"][-1], K3, "passthrough without key=: the pool's key went upstream")
s.reconfigure(upstream={"key_mode": "passthrough", "keys": None})
c0 = fake.calls()
r = miss()
yth.check_error(r, 400, "missingParameter", "passthrough without key= and without server keys")
is_(fake.calls(), c0, "  ... nothing sent upstream")

# ---------------------------------------------------------------- rotate_on_quota
# The default, no: the pool is failover, not extra quota (one API client,
# one project): an exhausted key does not hand over to the next.
for rotate in ("no", "yes"):
    s.reconfigure(upstream={"keys": ",".join([K1, K2]), "rotate_on_quota": rotate})
    fake.reset()
    s.reset_quota()
    fake.mode("ok", key_modes={K1: "quota"})
    r = miss()
    if rotate == "no":
        yth.check_error(r, 503, "quotaExhausted", "rotate_on_quota = no: first key over quota -> 503")
        yth.like(r.header("retry-after"), r"^\d+$", "rotate_on_quota = no: Retry-After")
        r = miss()
        yth.check_error(r, 503, "quotaExhausted", "rotate_on_quota = no: the next miss is 503 too")
        is_(fake.stats()["keys"], [K1], "rotate_on_quota = no: the second key is never called")
    else:
        is_((r.status, r.xcache), (200, "MISS"), "rotate_on_quota = yes: first key over quota -> next key")
        is_(fake.stats()["keys"], [K1, K2], "rotate_on_quota = yes: the second key is called")
s.reconfigure(upstream={"keys": ",".join([K1, K2])})
fake.reset()
s.reset_quota()
fake.mode("ok", key_modes={K1: "key_invalid"})
r = miss()
is_((r.status, r.xcache), (200, "MISS"), "rotate_on_quota = no (default): an invalid key still fails over")
is_(fake.stats()["keys"], [K1, K2], "rotate_on_quota = no: the invalid key, then the second")
r = miss()
is_((r.status, fake.stats()["keys"][-1]), (200, K2), "rotate_on_quota = no: the second key is the primary now")

yth.done_testing()
