/* ed25519: Ed25519 signatures keyed by a password, as MariaDB's ed25519 authentication computes them. */
#include "ed25519.h"

#include <nettle/sha2.h>
#include <stdint.h>
#include <string.h>

/* The self-contained build signs the server's nonce itself: the
 * connector's client_ed25519 plugin is a shared object linked to the
 * system's libcrypto. Field and group arithmetic after TweetNaCl (public
 * domain): GF(2^255-19) in 16 limbs of 16 bits, constant-time in the
 * secret, small rather than fast (one signature per connection). */
typedef int64_t gf[16];

static const gf GF0, GF1 = { 1 };
static const gf D2 = { 0xf159, 0x26b2, 0x9b94, 0xebd6, 0xb156, 0x8283, 0x149a, 0x00e0,
                       0xd130, 0xeef3, 0x80f2, 0x198e, 0xfce7, 0x56df, 0xd9dc, 0x2406 };
static const gf BX = { 0xd51a, 0x8f25, 0x2d60, 0xc956, 0xa7b2, 0x9525, 0xc760, 0x692c,
                       0xdc5c, 0xfdd6, 0xe231, 0xc0a4, 0x53fe, 0xcd6e, 0x36d3, 0x2169 };
static const gf BY = { 0x6658, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666,
                       0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666 };
/* the group order, little-endian bytes */
static const int64_t L[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2,
                               0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };

static void carry25519(gf o)
{
    for (int i = 0; i < 16; i++) {
        o[i] += (int64_t)1 << 16;
        int64_t c = o[i] >> 16;
        o[(i + 1) * (i < 15)] += c - 1 + 37 * (c - 1) * (i == 15);
        o[i] -= c * 65536;
    }
}

/* swap p and q if b (0 or 1), without a branch */
static void sel25519(gf p, gf q, int b)
{
    int64_t c = ~((int64_t)b - 1);
    for (int i = 0; i < 16; i++) {
        int64_t t = c & (p[i] ^ q[i]);
        p[i] ^= t;
        q[i] ^= t;
    }
}

static void pack25519(unsigned char *o, const gf n)
{
    gf m, t;
    memcpy(t, n, sizeof t);
    carry25519(t);
    carry25519(t);
    carry25519(t);
    for (int j = 0; j < 2; j++) {
        m[0] = t[0] - 0xffed;
        for (int i = 1; i < 15; i++) {
            m[i] = t[i] - 0xffff - ((m[i - 1] >> 16) & 1);
            m[i - 1] &= 0xffff;
        }
        m[15] = t[15] - 0x7fff - ((m[14] >> 16) & 1);
        int b = (int)((m[15] >> 16) & 1);
        m[14] &= 0xffff;
        sel25519(t, m, 1 - b);
    }
    for (int i = 0; i < 16; i++) {
        o[2 * i] = (unsigned char)(t[i] & 0xff);
        o[2 * i + 1] = (unsigned char)(t[i] >> 8);
    }
}

static void fadd(gf o, const gf a, const gf b)
{
    for (int i = 0; i < 16; i++)
        o[i] = a[i] + b[i];
}

static void fsub(gf o, const gf a, const gf b)
{
    for (int i = 0; i < 16; i++)
        o[i] = a[i] - b[i];
}

static void fmul(gf o, const gf a, const gf b)
{
    int64_t t[31] = { 0 };
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            t[i + j] += a[i] * b[j];
    for (int i = 0; i < 15; i++)
        t[i] += 38 * t[i + 16];
    memcpy(o, t, sizeof(gf));
    carry25519(o);
    carry25519(o);
}

static void finv(gf o, const gf in)
{
    gf c;
    memcpy(c, in, sizeof c);
    for (int a = 253; a >= 0; a--) {
        fmul(c, c, c);
        if (a != 2 && a != 4)
            fmul(c, c, in);
    }
    memcpy(o, c, sizeof c);
}

/* p += q, extended coordinates */
static void point_add(gf p[4], gf q[4])
{
    gf a, b, c, d, t, e, f, g, h;
    fsub(a, p[1], p[0]);
    fsub(t, q[1], q[0]);
    fmul(a, a, t);
    fadd(b, p[0], p[1]);
    fadd(t, q[0], q[1]);
    fmul(b, b, t);
    fmul(c, p[3], q[3]);
    fmul(c, c, D2);
    fmul(d, p[2], q[2]);
    fadd(d, d, d);
    fsub(e, b, a);
    fsub(f, d, c);
    fadd(g, d, c);
    fadd(h, b, a);
    fmul(p[0], e, f);
    fmul(p[1], h, g);
    fmul(p[2], g, f);
    fmul(p[3], e, h);
}

static void point_pack(unsigned char r[32], gf p[4])
{
    gf tx, ty, zi;
    unsigned char x[32];
    finv(zi, p[2]);
    fmul(tx, p[0], zi);
    fmul(ty, p[1], zi);
    pack25519(r, ty);
    pack25519(x, tx);
    r[31] ^= (unsigned char)((x[0] & 1) << 7);
}

/* p = s * B, a ladder over all 256 bits */
static void scalarbase(gf p[4], const unsigned char s[32])
{
    gf q[4];
    memcpy(q[0], BX, sizeof(gf));
    memcpy(q[1], BY, sizeof(gf));
    memcpy(q[2], GF1, sizeof(gf));
    fmul(q[3], BX, BY);
    memcpy(p[0], GF0, sizeof(gf));
    memcpy(p[1], GF1, sizeof(gf));
    memcpy(p[2], GF1, sizeof(gf));
    memcpy(p[3], GF0, sizeof(gf));
    for (int i = 255; i >= 0; i--) {
        int b = (s[i / 8] >> (i & 7)) & 1;
        for (int k = 0; k < 4; k++)
            sel25519(p[k], q[k], b);
        point_add(q, p);
        point_add(p, p);
        for (int k = 0; k < 4; k++)
            sel25519(p[k], q[k], b);
    }
}

/* r = x mod L, x: 64 signed limbs of 8 bits */
static void mod_l(unsigned char r[32], int64_t x[64])
{
    int64_t carry;
    for (int i = 63; i >= 32; i--) {
        int j;
        carry = 0;
        for (j = i - 32; j < i - 12; j++) {
            x[j] += carry - 16 * x[i] * L[j - (i - 32)];
            carry = (x[j] + 128) >> 8;
            x[j] -= carry * 256;
        }
        x[j] += carry;
        x[i] = 0;
    }
    carry = 0;
    for (int j = 0; j < 32; j++) {
        x[j] += carry - (x[31] >> 4) * L[j];
        carry = x[j] >> 8;
        x[j] &= 255;
    }
    for (int j = 0; j < 32; j++)
        x[j] -= carry * L[j];
    for (int i = 0; i < 32; i++) {
        x[i + 1] += x[i] >> 8;
        r[i] = (unsigned char)(x[i] & 255);
    }
}

static void reduce64(unsigned char r[64])
{
    int64_t x[64];
    for (int i = 0; i < 64; i++)
        x[i] = r[i];
    memset(r, 0, 64);
    mod_l(r, x);
}

static void sha512_of(unsigned char out[64], const void *a, size_t an, const void *b, size_t bn,
                      const void *c, size_t cn)
{
    struct sha512_ctx h;
    sha512_init(&h);
    sha512_update(&h, an, a);
    if (bn)
        sha512_update(&h, bn, b);
    if (cn)
        sha512_update(&h, cn, c);
    sha512_digest(&h, SHA512_DIGEST_SIZE, out);
}

void ed25519_sign_password(unsigned char sig[ED25519_SIG_LEN], const unsigned char *msg, size_t n,
                           const char *password, size_t pwlen)
{
    unsigned char az[64], r[64], h[64], pk[32];
    gf p[4];
    int64_t x[64] = { 0 };
    sha512_of(az, password, pwlen, NULL, 0, NULL, 0);
    az[0] &= 248;
    az[31] &= 63;
    az[31] |= 64;
    scalarbase(p, az);
    point_pack(pk, p);
    sha512_of(r, az + 32, 32, msg, n, NULL, 0);
    reduce64(r);
    scalarbase(p, r);
    point_pack(sig, p);
    sha512_of(h, sig, 32, pk, 32, msg, n);
    reduce64(h);
    for (int i = 0; i < 32; i++)
        x[i] = r[i];
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 32; j++)
            x[i + j] += (int64_t)h[i] * az[j];
    mod_l(sig + 32, x);
    memset(az, 0, sizeof az);
}
