/*
 * sign.h — SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for request signing.
 *
 * Guarantees:
 *  - One compression function is chosen once, at load: the x86 SHA extensions (SHA-NI, via
 *    target-attributed intrinsics, so every build variant — base included — carries it) when
 *    the CPU has them, else the portable C rounds. Both give the same digests bit for bit
 *    (test/sign.test.ts checks both against Bun.CryptoHasher); bot4_sha256_use() forces one,
 *    for tests and benches only (it is process-wide: never call it while signing elsewhere).
 *  - HMAC keys are prepared once (bot4_hmac_key_init): the states after absorbing K ^ ipad and
 *    K ^ opad are kept, so a signature costs the payload's blocks plus one outer block. A key
 *    longer than the 64-byte block is hashed first (RFC 2104 section 2).
 *  - Nothing here allocates, calls the OS or keeps state between calls besides the chosen
 *    compression function; a key struct may be shared by threads (it is only read after init).
 */
#ifndef BOT4_SIGN_H
#define BOT4_SIGN_H

#include "bot4.h"

#define BOT4_SHA256_BLOCK 64
#define BOT4_SHA256_DIGEST 32
#define BOT4_HMAC_MAGIC 0x484d4143u /* "HMAC" */

/* bot4_sha256_use / bot4_sha256_impl */
#define BOT4_SHA256_AUTO 0
#define BOT4_SHA256_PORTABLE 1
#define BOT4_SHA256_SHANI 2

typedef struct bot4_hmac_key {
  uint32_t inner[8]; /* SHA-256 state after the block K ^ ipad */
  uint32_t outer[8]; /* SHA-256 state after the block K ^ opad */
  uint32_t magic;    /* BOT4_HMAC_MAGIC once initialised */
  uint32_t reserved;
} bot4_hmac_key_t;
static_assert(sizeof(bot4_hmac_key_t) == 72, "two states and a magic");

/* Compresses `nblocks` 64-byte blocks at p into state (the chosen implementation). */
void bot4_sha256_blocks(uint32_t state[8], const uint8_t *p, size_t nblocks);
/*
 * Finishes a hash whose state has absorbed `absorbed` bytes (a multiple of 64) so far: the
 * message tail msg[0, len), FIPS 180-4 padding, big-endian digest into out[32].
 */
void bot4_sha256_finish(uint32_t state[8], uint64_t absorbed, const uint8_t *msg, size_t len, uint8_t out[32]);
/* The HMAC outer hash: out = H((K ^ opad) || inner_digest). */
void bot4_hmac_outer(const bot4_hmac_key_t *k, const uint8_t inner_digest[32], uint8_t out[32]);
/* 32 bytes -> 64 lowercase hex digits */
void bot4_hex32(const uint8_t d[32], uint8_t *hex);

BOT4_API void bot4_sha256(const uint8_t *msg, uint32_t len, uint8_t *out32);
/* 0, or -1 when key_len > 0 and key is NULL (an empty key is allowed by RFC 2104; callers refuse it) */
BOT4_API int bot4_hmac_key_init(bot4_hmac_key_t *k, const uint8_t *key, uint32_t key_len);
/* HMAC-SHA256 of msg[0, len): 32 bytes into out32. -1 when the key was never initialised. */
BOT4_API int bot4_hmac_sha256(const bot4_hmac_key_t *k, const uint8_t *msg, uint32_t len, uint8_t *out32);
/* The same, as 64 lowercase hex digits into hex64 (Binance's signature text). */
BOT4_API int bot4_hmac_sha256_hex(const bot4_hmac_key_t *k, const uint8_t *msg, uint32_t len, uint8_t *hex64);
/* Forces an implementation (BOT4_SHA256_*); returns the one now in use (PORTABLE when SHA-NI
 * was asked for on a CPU without it). */
BOT4_API int bot4_sha256_use(int which);
BOT4_API int bot4_sha256_impl(void);
/* 1 when the CPU has the SHA extensions */
BOT4_API int bot4_sha256_has_shani(void);
BOT4_API int bot4_layout_sign(char *buf, int cap);

#endif
