#!/usr/bin/python3
"""The server key pool (ytcache.conf(5), keys / key_mode): requests are
spread over the keys in turn; a key the API refuses (quota, invalid,
rate limited) is skipped for the next; only when none is left does the
caller get a 503.  Passthrough mode without key= falls back to the pool."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import yth  # noqa: E402
from yth import ok, is_, cmp_ok  # noqa: E402

K1, K2, K3 = yth.SERVER_KEY, "AIzaSyFAKE-server-key-0002", "AIzaSyFAKE-server-key-0003"
KEYS = [K1, K2, K3]
s = yth.Stack("spawn-fcgi", workers=1, fake_keys=KEYS,
              config={"upstream": {"keys": ",".join(KEYS)}})
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
    fake.mode("ok", key_modes={K1: mode, K3: mode})
    for i in range(3):
        r = miss()
        is_((r.status, r.xcache), (200, "MISS"), "keys 1 and 3 refused (%s): request %d answered" % (mode, i))
    st = fake.stats()
    ok(K2 in st["keys"], "keys 1 and 3 refused (%s): key 2 used" % mode)
    cmp_ok(st["calls"], "<=", 9, "keys 1 and 3 refused (%s): at most one try per key" % mode)

# ---------------------------------------------------------------- all refused
for mode, reason in (("quota", "quotaExhausted"), ("key_invalid", "apiKeyRejected"),
                     ("ratelimit", "rateLimited")):
    fake.reset()
    fake.mode("ok", key_modes={k: mode for k in KEYS})
    r = miss()
    yth.check_error(r, 503, reason, "every key refused (%s)" % mode)
    yth.like(r.header("retry-after"), r"^\d+$", "every key refused (%s): Retry-After" % mode)
    cmp_ok(fake.calls(), "<=", 3, "every key refused (%s): each key tried at most once" % mode)
fake.reset()

# ---------------------------------------------------------------- no keys
s.reconfigure(upstream={"keys": None})
c0 = fake.calls()
r = miss()
yth.check_error(r, 503, "noApiKey", "pool mode without keys")
is_(fake.calls(), c0, "pool mode without keys: nothing sent upstream")

# ---------------------------------------------------------------- passthrough falls back to the pool
s.reconfigure(upstream={"key_mode": "passthrough", "keys": K2})
r = miss()
is_((r.status, r.xcache), (200, "MISS"), "passthrough without key=: served with the server key")
is_(fake.stats()["keys"][-1], K2, "passthrough without key=: the pool's key went upstream")
s.reconfigure(upstream={"key_mode": "passthrough", "keys": None})
c0 = fake.calls()
r = miss()
yth.check_error(r, 400, "missingParameter", "passthrough without key= and without server keys")
is_(fake.calls(), c0, "  ... nothing sent upstream")

yth.done_testing()
