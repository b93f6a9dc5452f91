/*
 * hist.h — latency histograms (HDR-style log-linear buckets), values in ns as doubles.
 *
 * Guarantees:
 *  - Buckets: 2^BOT4_HIST_SUB_BITS = 128 equal sub-buckets per power of two, from 2^3 = 8 ns up
 *    to the bucket holding 60 s (BOT4_HIST_BUCKETS = 4192 buckets). A bucket's index is the
 *    double's biased exponent and top 7 mantissa bits, `(bits(v) >> 45) - BOT4_HIST_INDEX_BASE`,
 *    so C and TypeScript (ffi/hist.ts) compute the same index with no log().
 *  - Error bound: a bucket [L, L + w) has w = L_pow2 / 128 <= L / 128, and values are reported
 *    as the bucket midpoint clamped to [min, max]; so any reported percentile or bucket value
 *    differs from a true value in its bucket by at most w / 2 <= 2^-8 * value = 0.390625 %.
 *    Percentiles use the nearest-rank rule (the smallest recorded value with at least
 *    ceil(q * count) values <= it), so P_q is within 0.39 % of the exact sorted-array answer for
 *    every value in [8 ns, 60 s]. count, min, max and sum (hence mean) are exact.
 *  - Values below 8 ns (also 0 and negatives) count in bucket 0 and in `underflow`; values above
 *    60 s (BOT4_HIST_HIGH_NS, also +inf) count only in `overflow` (never in a bucket; a
 *    percentile whose rank falls there reports the exact max); NaN counts only in `invalid` and
 *    is not in count, sum, min or max. Nothing is dropped silently.
 *  - Counts are doubles holding whole numbers (exact below 2^53 per bucket: 285 years at 1e6
 *    records/s), so TypeScript increments them in place with no BigInt.
 *  - Threads: ONE writer per histogram (C or TypeScript, never both at once): record*, merge
 *    into it, reset. Any number of readers (other threads included) may call count/min/max/
 *    mean/percentile/summary or merge it into another histogram while it is written: every
 *    8-byte field is written whole (no torn numbers), but a snapshot is not atomic: totals may
 *    lag buckets by the records in flight during the read (never more), and min/max/sum by one.
 *    Percentiles (and a summary's count) are taken over the smaller of the count and the
 *    buckets' own total, so a reader never ranks past what the buckets show.
 *  - The record paths never allocate and never call the OS. Memory: bot4_hist_create/destroy
 *    (aligned_alloc, cold path) or bot4_hist_init on caller memory aligned to 64 bytes.
 */
#ifndef BOT4_HIST_H
#define BOT4_HIST_H

#include "bot4.h"

#define BOT4_HIST_SUB_BITS 7
#define BOT4_HIST_SUB (1 << BOT4_HIST_SUB_BITS)
#define BOT4_HIST_LOW_EXP 3                                         /* first bucket starts at 2^3 ns */
#define BOT4_HIST_LOW_NS (1 << BOT4_HIST_LOW_EXP)                   /* 8 ns */
#define BOT4_HIST_HIGH_NS 60000000000ULL                            /* 60 s: above it is overflow */
#define BOT4_HIST_INDEX_SHIFT (52 - BOT4_HIST_SUB_BITS)             /* on the double's 64 bits */
#define BOT4_HIST_INDEX_BASE ((1023 + BOT4_HIST_LOW_EXP) << BOT4_HIST_SUB_BITS)
/* index of 60 s is 32 * 128 + 95 = 4191: 33 powers of two, the last one partly */
#define BOT4_HIST_BUCKETS 4192
#define BOT4_HIST_MAGIC 0x48495354u /* "HIST" */

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_hist {
  double count;     /* values recorded, under- and overflow included, NaN not */
  double sum;       /* of the recorded values (mean = sum / count) */
  double min;       /* +inf when empty */
  double max;       /* -inf when empty */
  double underflow; /* values < 8 ns (also counted in counts[0]) */
  double overflow;  /* values > 60 s (in no bucket) */
  double invalid;   /* NaN values (in nothing else) */
  uint32_t magic;
  uint32_t buckets;
  double counts[BOT4_HIST_BUCKETS];
} bot4_hist_t;

static_assert(offsetof(bot4_hist_t, counts) == BOT4_CACHELINE, "header is one cache line");
static_assert(sizeof(bot4_hist_t) == BOT4_CACHELINE + BOT4_HIST_BUCKETS * 8, "no padding after counts");
static_assert(BOT4_HIST_BUCKETS % 8 == 0, "counts walk in 8-bucket steps");

/* What bot4_hist_summary fills: one FFI call for a report line. Empty histogram: all zeros. */
typedef struct bot4_hist_summary {
  double count, min, max, mean;
  double p50, p90, p95, p99, p999;
  double underflow, overflow, invalid;
} bot4_hist_summary_t;
static_assert(sizeof(bot4_hist_summary_t) == 12 * 8, "summary is 12 doubles");

/* Bucket index of v in [BOT4_HIST_LOW_NS, BOT4_HIST_HIGH_NS] (the caller checks the range). */
static inline uint32_t bot4_hist_index_in_range(double v) {
  uint64_t b;
  __builtin_memcpy(&b, &v, 8);
  return (uint32_t)(b >> BOT4_HIST_INDEX_SHIFT) - BOT4_HIST_INDEX_BASE;
}

/* Memory */
BOT4_API bot4_hist_t *bot4_hist_create(void);   /* NULL on out-of-memory */
BOT4_API void bot4_hist_destroy(bot4_hist_t *h); /* NULL is fine */
BOT4_API int32_t bot4_hist_init(void *mem, int32_t bytes); /* 0, or -1 if too small or not 64-aligned */
BOT4_API int32_t bot4_hist_bytes(void);

/* Writer */
BOT4_API void bot4_hist_record(bot4_hist_t *h, double v);
BOT4_API void bot4_hist_record_n(bot4_hist_t *h, double v, double n);
BOT4_API void bot4_hist_record_batch(bot4_hist_t *h, const double *v, int32_t n);
BOT4_API void bot4_hist_record_batch_u64(bot4_hist_t *h, const uint64_t *v, int32_t n);
BOT4_API void bot4_hist_merge(bot4_hist_t *dst, const bot4_hist_t *src);
BOT4_API void bot4_hist_reset(bot4_hist_t *h);

/* Readers (any thread) */
BOT4_API double bot4_hist_count(const bot4_hist_t *h);
BOT4_API double bot4_hist_min(const bot4_hist_t *h);
BOT4_API double bot4_hist_max(const bot4_hist_t *h);
BOT4_API double bot4_hist_mean(const bot4_hist_t *h);
BOT4_API double bot4_hist_percentile(const bot4_hist_t *h, double q); /* q in [0, 1] */
/* out[i] = percentile(qs[i]) for n quantiles in one pass over the buckets */
BOT4_API void bot4_hist_percentiles(const bot4_hist_t *h, const double *qs, double *out, int32_t n);
BOT4_API void bot4_hist_summary(const bot4_hist_t *h, bot4_hist_summary_t *out);

/* Bucket geometry (for tests and exporters) */
BOT4_API int32_t bot4_hist_bucket(double v); /* bucket v counts in; BUCKETS = overflow; -1 = NaN */
BOT4_API double bot4_hist_bucket_low(int32_t i);  /* inclusive lower bound of bucket i */
BOT4_API double bot4_hist_bucket_high(int32_t i); /* exclusive upper bound */

BOT4_API int bot4_layout_hist(char *buf, int cap);

#endif
