/*
 * sign.c — SHA-256 (FIPS 180-4) with a SHA-NI and a portable compression function, and
 * HMAC-SHA256 (RFC 2104) over precomputed pad states. See sign.h for the guarantees.
 */
#include "sign.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BOT4_SIGN_X86 1
#endif

/* FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t K256[64] BOT4_ALIGNED(16) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* section 5.3.3: the initial hash value */
static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* section 6.2.2, with the 64-word schedule kept as a 16-word ring */
static void blocks_portable(uint32_t st[8], const uint8_t *p, size_t nblocks) {
  while (nblocks--) {
    uint32_t w[16];
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (int t = 0; t < 64; t++) {
      uint32_t wt;
      if (t < 16) {
        wt = w[t] = load_be32(p + 4 * t);
      } else {
        uint32_t w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
        uint32_t s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
        uint32_t s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
        wt = w[t & 15] = w[t & 15] + s0 + w[(t - 7) & 15] + s1;
      }
      uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] + wt;
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
    p += 64;
  }
}

#ifdef BOT4_SIGN_X86
/*
 * SHA-NI: SHA256RNDS2 runs two rounds on the state split as ABEF / CDGH (A in the top lane);
 * after two rounds the old ABEF is the new CDGH, so the two registers swap roles every call.
 * SHA256MSG1 / SHA256MSG2 with PALIGNR compute four schedule words at a time:
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_shani(uint32_t st[8], const uint8_t *p, size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i abcd = _mm_loadu_si128((const __m128i *)&st[0]);
  __m128i efgh = _mm_loadu_si128((const __m128i *)&st[4]);
  abcd = _mm_shuffle_epi32(abcd, 0xB1);                /* B A D C */
  efgh = _mm_shuffle_epi32(efgh, 0x1B);                /* H G F E */
  __m128i abef = _mm_alignr_epi8(abcd, efgh, 8);       /* lanes F E B A */
  __m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);    /* lanes H G D C */
  while (nblocks--) {
    const __m128i save_abef = abef, save_cdgh = cdgh;
    __m128i m[4];
    for (int j = 0; j < 4; j++) m[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * j)), bswap);
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
      __m128i w;
      if (j < 4) {
        w = m[j];
      } else {
        /* m[j&3] is W[4j-16..], m[(j+1)&3] W[4j-12..], m[(j+2)&3] W[4j-8..], m[(j+3)&3] W[4j-4..] */
        __m128i x = _mm_sha256msg1_epu32(m[j & 3], m[(j + 1) & 3]);
        x = _mm_add_epi32(x, _mm_alignr_epi8(m[(j + 3) & 3], m[(j + 2) & 3], 4));
        w = m[j & 3] = _mm_sha256msg2_epu32(x, m[(j + 3) & 3]);
      }
      __m128i wk = _mm_add_epi32(w, _mm_load_si128((const __m128i *)&K256[4 * j]));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    }
    abef = _mm_add_epi32(abef, save_abef);
    cdgh = _mm_add_epi32(cdgh, save_cdgh);
    p += 64;
  }
  __m128i t = _mm_shuffle_epi32(abef, 0x1B);           /* A B E F */
  cdgh = _mm_shuffle_epi32(cdgh, 0xB1);                /* G H C D */
  _mm_storeu_si128((__m128i *)&st[0], _mm_blend_epi16(t, cdgh, 0xF0)); /* A B C D */
  _mm_storeu_si128((__m128i *)&st[4], _mm_alignr_epi8(cdgh, t, 8));   /* E F G H */
}
#endif

typedef void (*blocks_fn)(uint32_t *, const uint8_t *, size_t);
static blocks_fn g_blocks = blocks_portable;
static int g_impl = BOT4_SHA256_PORTABLE;
static int g_has_shani = -1;

BOT4_API int bot4_sha256_has_shani(void) {
  if (g_has_shani < 0) {
#ifdef BOT4_SIGN_X86
    __builtin_cpu_init();
    g_has_shani = __builtin_cpu_supports("sha") ? 1 : 0;
#else
    g_has_shani = 0;
#endif
  }
  return g_has_shani;
}

BOT4_API int bot4_sha256_use(int which) {
#ifdef BOT4_SIGN_X86
  if (which != BOT4_SHA256_PORTABLE && bot4_sha256_has_shani()) {
    g_blocks = blocks_shani;
    g_impl = BOT4_SHA256_SHANI;
    return g_impl;
  }
#endif
  g_blocks = blocks_portable;
  g_impl = BOT4_SHA256_PORTABLE;
  return g_impl;
}

BOT4_API int bot4_sha256_impl(void) { return g_impl; }

__attribute__((constructor)) static void sign_init(void) { bot4_sha256_use(BOT4_SHA256_AUTO); }

void bot4_sha256_blocks(uint32_t state[8], const uint8_t *p, size_t nblocks) {
  if (nblocks) g_blocks(state, p, nblocks);
}

void bot4_sha256_finish(uint32_t st[8], uint64_t absorbed, const uint8_t *msg, size_t len, uint8_t out[32]) {
  size_t full = len >> 6;
  bot4_sha256_blocks(st, msg, full);
  /* section 5.1.1: 0x80, zeros, the message length in bits as a 64-bit big-endian number */
  uint8_t tail[128] BOT4_ALIGNED(16);
  size_t rest = len & 63;
  memcpy(tail, msg + (full << 6), rest);
  tail[rest] = 0x80;
  size_t tlen = rest < 56 ? 64 : 128;
  memset(tail + rest + 1, 0, tlen - 8 - rest - 1);
  uint64_t bits = (absorbed + len) << 3;
  store_be32(tail + tlen - 8, (uint32_t)(bits >> 32));
  store_be32(tail + tlen - 4, (uint32_t)bits);
  g_blocks(st, tail, tlen >> 6);
  for (int i = 0; i < 8; i++) store_be32(out + 4 * i, st[i]);
}

BOT4_API void bot4_sha256(const uint8_t *msg, uint32_t len, uint8_t *out32) {
  uint32_t st[8];
  memcpy(st, H0, sizeof st);
  bot4_sha256_finish(st, 0, msg, len, out32);
}

BOT4_API int bot4_hmac_key_init(bot4_hmac_key_t *k, const uint8_t *key, uint32_t key_len) {
  if (key_len > 0 && key == NULL) return -1;
  uint8_t kb[64] = {0};
  if (key_len > 64) bot4_sha256(key, key_len, kb);
  else if (key_len > 0) memcpy(kb, key, key_len);
  uint8_t pad[64];
  for (int i = 0; i < 64; i++) pad[i] = kb[i] ^ 0x36;
  memcpy(k->inner, H0, sizeof k->inner);
  bot4_sha256_blocks(k->inner, pad, 1);
  for (int i = 0; i < 64; i++) pad[i] = kb[i] ^ 0x5c;
  memcpy(k->outer, H0, sizeof k->outer);
  bot4_sha256_blocks(k->outer, pad, 1);
  k->magic = BOT4_HMAC_MAGIC;
  k->reserved = 0;
  return 0;
}

void bot4_hmac_outer(const bot4_hmac_key_t *k, const uint8_t inner_digest[32], uint8_t out[32]) {
  uint32_t st[8];
  memcpy(st, k->outer, sizeof st);
  bot4_sha256_finish(st, 64, inner_digest, 32, out);
}

BOT4_API int bot4_hmac_sha256(const bot4_hmac_key_t *k, const uint8_t *msg, uint32_t len, uint8_t *out32) {
  if (BOT4_UNLIKELY(k == NULL || k->magic != BOT4_HMAC_MAGIC)) return -1;
  uint32_t st[8];
  uint8_t d[32];
  memcpy(st, k->inner, sizeof st);
  bot4_sha256_finish(st, 64, msg, len, d);
  bot4_hmac_outer(k, d, out32);
  return 0;
}

void bot4_hex32(const uint8_t d[32], uint8_t *hex) {
  static const char digits[16] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = (uint8_t)digits[d[i] >> 4];
    hex[2 * i + 1] = (uint8_t)digits[d[i] & 15];
  }
}

BOT4_API int bot4_hmac_sha256_hex(const bot4_hmac_key_t *k, const uint8_t *msg, uint32_t len, uint8_t *hex64) {
  uint8_t d[32];
  if (bot4_hmac_sha256(k, msg, len, d) != 0) return -1;
  bot4_hex32(d, hex64);
  return 0;
}

BOT4_API int bot4_layout_sign(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_hmac_key_t);
  BOT4_L_OFF(bot4_hmac_key_t, inner);
  BOT4_L_OFF(bot4_hmac_key_t, outer);
  BOT4_L_OFF(bot4_hmac_key_t, magic);
  BOT4_L_CONST(BOT4_HMAC_MAGIC);
  BOT4_L_CONST(BOT4_SHA256_PORTABLE);
  BOT4_L_CONST(BOT4_SHA256_SHANI);
  return n;
}
