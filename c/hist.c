/* hist.c — latency histograms; the contract is in hist.h. */
#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fields other threads may read are stored whole with relaxed atomics (plain movsd on x86-64);
 * readers load them the same way. Only the single writer ever stores. */
#define LD(p) ({ double v_; __atomic_load((p), &v_, __ATOMIC_RELAXED); v_; })
#define ST(p, x) do { double v_ = (x); __atomic_store((p), &v_, __ATOMIC_RELAXED); } while (0)

static const double HIGH = (double)BOT4_HIST_HIGH_NS;
static const double LOW = (double)BOT4_HIST_LOW_NS;

static void hist_clear(bot4_hist_t *h) {
  memset(h->counts, 0, sizeof h->counts);
  ST(&h->count, 0);
  ST(&h->sum, 0);
  ST(&h->min, INFINITY);
  ST(&h->max, -INFINITY);
  ST(&h->underflow, 0);
  ST(&h->overflow, 0);
  ST(&h->invalid, 0);
}

BOT4_API int32_t bot4_hist_bytes(void) { return (int32_t)sizeof(bot4_hist_t); }

BOT4_API int32_t bot4_hist_init(void *mem, int32_t bytes) {
  if (!mem || ((uintptr_t)mem % BOT4_CACHELINE) != 0 || bytes < (int32_t)sizeof(bot4_hist_t)) return -1;
  bot4_hist_t *h = mem;
  h->magic = BOT4_HIST_MAGIC;
  h->buckets = BOT4_HIST_BUCKETS;
  hist_clear(h);
  return 0;
}

BOT4_API bot4_hist_t *bot4_hist_create(void) {
  bot4_hist_t *h = aligned_alloc(BOT4_CACHELINE, sizeof(bot4_hist_t));
  if (h) bot4_hist_init(h, (int32_t)sizeof(bot4_hist_t));
  return h;
}

BOT4_API void bot4_hist_destroy(bot4_hist_t *h) {
  if (h) h->magic = 0; /* a stale pointer used later fails the magic check in debuggers */
  free(h);
}

BOT4_API void bot4_hist_reset(bot4_hist_t *h) { hist_clear(h); }

/* Out-of-range values. Returns 1 when v still counts in count/sum/min/max (not NaN). */
__attribute__((noinline, cold)) static int hist_edge(bot4_hist_t *h, double v, double n) {
  if (v != v) {
    ST(&h->invalid, h->invalid + n);
    return 0;
  }
  if (v > HIGH) {
    ST(&h->overflow, h->overflow + n);
    return 1;
  }
  ST(&h->counts[0], h->counts[0] + n);
  ST(&h->underflow, h->underflow + n);
  return 1;
}

static inline void hist_add(bot4_hist_t *h, double v, double n) {
  if (BOT4_LIKELY(v >= LOW && v <= HIGH)) {
    double *c = &h->counts[bot4_hist_index_in_range(v)];
    ST(c, *c + n);
  } else if (!hist_edge(h, v, n)) {
    return;
  }
  ST(&h->count, h->count + n);
  ST(&h->sum, h->sum + v * n);
  if (v < h->min) ST(&h->min, v);
  if (v > h->max) ST(&h->max, v);
}

BOT4_API void bot4_hist_record(bot4_hist_t *h, double v) { hist_add(h, v, 1.0); }

BOT4_API void bot4_hist_record_n(bot4_hist_t *h, double v, double n) {
  if (n > 0) hist_add(h, v, n); /* n <= 0 (or NaN) records nothing */
}

/* Batches keep count/sum/min/max in registers and publish them once at the end. */
typedef struct {
  double cnt, sum, mn, mx;
} batch_acc_t;

static inline void batch_one(bot4_hist_t *h, batch_acc_t *a, double v) {
  if (BOT4_LIKELY(v >= LOW && v <= HIGH)) {
    double *c = &h->counts[bot4_hist_index_in_range(v)];
    ST(c, *c + 1.0);
  } else if (!hist_edge(h, v, 1.0)) {
    return;
  }
  a->cnt += 1.0;
  a->sum += v;
  a->mn = v < a->mn ? v : a->mn;
  a->mx = v > a->mx ? v : a->mx;
}

static inline void batch_publish(bot4_hist_t *h, const batch_acc_t *a) {
  ST(&h->count, h->count + a->cnt);
  ST(&h->sum, h->sum + a->sum);
  ST(&h->min, a->mn);
  ST(&h->max, a->mx);
}

BOT4_API void bot4_hist_record_batch(bot4_hist_t *h, const double *v, int32_t n) {
  batch_acc_t a = {0, 0, h->min, h->max};
  for (int32_t i = 0; i < n; i++) batch_one(h, &a, v[i]);
  batch_publish(h, &a);
}

BOT4_API void bot4_hist_record_batch_u64(bot4_hist_t *h, const uint64_t *v, int32_t n) {
  batch_acc_t a = {0, 0, h->min, h->max};
  for (int32_t i = 0; i < n; i++) batch_one(h, &a, (double)v[i]);
  batch_publish(h, &a);
}

BOT4_API void bot4_hist_merge(bot4_hist_t *dst, const bot4_hist_t *src) {
  if (dst == src) return;
  /* per bucket: aligned 8-byte elements, each read and written whole */
  for (int32_t i = 0; i < BOT4_HIST_BUCKETS; i++) dst->counts[i] += src->counts[i];
  double smin = LD(&src->min), smax = LD(&src->max);
  ST(&dst->count, dst->count + LD(&src->count));
  ST(&dst->sum, dst->sum + LD(&src->sum));
  ST(&dst->underflow, dst->underflow + LD(&src->underflow));
  ST(&dst->overflow, dst->overflow + LD(&src->overflow));
  ST(&dst->invalid, dst->invalid + LD(&src->invalid));
  if (smin < dst->min) ST(&dst->min, smin);
  if (smax > dst->max) ST(&dst->max, smax);
}

/* ---- readers ---- */

BOT4_API double bot4_hist_count(const bot4_hist_t *h) { return LD(&h->count); }
BOT4_API double bot4_hist_min(const bot4_hist_t *h) { return LD(&h->count) > 0 ? LD(&h->min) : 0; }
BOT4_API double bot4_hist_max(const bot4_hist_t *h) { return LD(&h->count) > 0 ? LD(&h->max) : 0; }
BOT4_API double bot4_hist_mean(const bot4_hist_t *h) {
  double c = LD(&h->count);
  return c > 0 ? LD(&h->sum) / c : 0;
}

static inline double bucket_bits_double(uint64_t bits) {
  double d;
  __builtin_memcpy(&d, &bits, 8);
  return d;
}

BOT4_API double bot4_hist_bucket_low(int32_t i) {
  return bucket_bits_double((uint64_t)(i + BOT4_HIST_INDEX_BASE) << BOT4_HIST_INDEX_SHIFT);
}
BOT4_API double bot4_hist_bucket_high(int32_t i) { return bot4_hist_bucket_low(i + 1); }
/* midpoint: the next mantissa bit below the bucket's set */
static inline double bucket_mid(uint32_t i) {
  return bucket_bits_double(((uint64_t)(i + BOT4_HIST_INDEX_BASE) << BOT4_HIST_INDEX_SHIFT) |
                            (1ULL << (BOT4_HIST_INDEX_SHIFT - 1)));
}

BOT4_API int32_t bot4_hist_bucket(double v) {
  if (v != v) return -1;
  if (v > HIGH) return BOT4_HIST_BUCKETS;
  if (v < LOW) return 0;
  return (int32_t)bot4_hist_index_in_range(v);
}

static inline double sum8(const double *c) {
  double a0 = LD(c + 0) + LD(c + 1), a1 = LD(c + 2) + LD(c + 3);
  double a2 = LD(c + 4) + LD(c + 5), a3 = LD(c + 6) + LD(c + 7);
  return (a0 + a1) + (a2 + a3);
}

/* The walk of bot4_hist_percentiles; returns the count its ranks were taken over. Read while
 * another thread writes, the count read first may run ahead of the buckets read after it (a
 * writer's stores seen in another order, e.g. count before bucket on the first record, when min
 * and max are not published either); buckets only grow, so ranks taken over the smaller of the
 * count and the buckets' own total are always found in the walk. */
static double percentiles_at(const bot4_hist_t *h, const double *qs, double *out, int32_t n) {
  double count = LD(&h->count);
  const double mn = LD(&h->min), mx = LD(&h->max);
  if (count > 0) {
    double seen = LD(&h->overflow);
    for (int32_t b = 0; b < BOT4_HIST_BUCKETS; b += 8) seen += sum8(&h->counts[b]);
    if (seen < count) count = seen;
  }
  /* walk state: cum = sum of counts[0..i); ascending quantiles continue where the last stopped */
  int32_t i = 0;
  double cum = 0, last_rank = 0;
  for (int32_t k = 0; k < n; k++) {
    const double q = qs[k];
    if (!(count > 0)) { out[k] = 0; continue; }
    if (!(q > 0)) { out[k] = mn; continue; } /* q <= 0 or NaN: the minimum */
    if (q >= 1) { out[k] = mx; continue; }
    double rank = ceil(q * count);
    if (rank < 1) rank = 1;
    if (rank < last_rank) { i = 0; cum = 0; }
    last_rank = rank;
    for (;;) {
      if (i >= BOT4_HIST_BUCKETS) { out[k] = mx; break; } /* rank lies in the overflow */
      if ((i & 7) == 0) {
        double s = sum8(&h->counts[i]);
        if (cum + s < rank) { cum += s; i += 8; continue; }
      }
      double c = LD(&h->counts[i]);
      if (cum + c >= rank) {
        double v = bucket_mid((uint32_t)i);
        /* min/max published after the first record's bucket: no clamp until both are there */
        out[k] = !(mn <= mx) ? v : v < mn ? mn : v > mx ? mx : v;
        break;
      }
      cum += c;
      i++;
    }
  }
  return count;
}

BOT4_API void bot4_hist_percentiles(const bot4_hist_t *h, const double *qs, double *out, int32_t n) {
  percentiles_at(h, qs, out, n);
}

BOT4_API double bot4_hist_percentile(const bot4_hist_t *h, double q) {
  double out;
  bot4_hist_percentiles(h, &q, &out, 1);
  return out;
}

BOT4_API void bot4_hist_summary(const bot4_hist_t *h, bot4_hist_summary_t *out) {
  static const double qs[5] = {0.5, 0.9, 0.95, 0.99, 0.999};
  double p[5];
  /* the count the percentiles were taken over: a snapshot's count and percentiles agree */
  const double count = percentiles_at(h, qs, p, 5);
  out->count = count;
  out->min = count > 0 ? LD(&h->min) : 0;
  out->max = count > 0 ? LD(&h->max) : 0;
  out->mean = count > 0 ? LD(&h->sum) / count : 0;
  out->p50 = p[0];
  out->p90 = p[1];
  out->p95 = p[2];
  out->p99 = p[3];
  out->p999 = p[4];
  out->underflow = LD(&h->underflow);
  out->overflow = LD(&h->overflow);
  out->invalid = LD(&h->invalid);
}

BOT4_API int bot4_layout_hist(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_hist_t);
  BOT4_L_OFF(bot4_hist_t, count);
  BOT4_L_OFF(bot4_hist_t, sum);
  BOT4_L_OFF(bot4_hist_t, min);
  BOT4_L_OFF(bot4_hist_t, max);
  BOT4_L_OFF(bot4_hist_t, underflow);
  BOT4_L_OFF(bot4_hist_t, overflow);
  BOT4_L_OFF(bot4_hist_t, invalid);
  BOT4_L_OFF(bot4_hist_t, magic);
  BOT4_L_OFF(bot4_hist_t, buckets);
  BOT4_L_OFF(bot4_hist_t, counts);
  BOT4_L_SIZE(bot4_hist_summary_t);
  BOT4_L_OFF(bot4_hist_summary_t, count);
  BOT4_L_OFF(bot4_hist_summary_t, min);
  BOT4_L_OFF(bot4_hist_summary_t, max);
  BOT4_L_OFF(bot4_hist_summary_t, mean);
  BOT4_L_OFF(bot4_hist_summary_t, p50);
  BOT4_L_OFF(bot4_hist_summary_t, p90);
  BOT4_L_OFF(bot4_hist_summary_t, p95);
  BOT4_L_OFF(bot4_hist_summary_t, p99);
  BOT4_L_OFF(bot4_hist_summary_t, p999);
  BOT4_L_OFF(bot4_hist_summary_t, underflow);
  BOT4_L_OFF(bot4_hist_summary_t, overflow);
  BOT4_L_OFF(bot4_hist_summary_t, invalid);
  BOT4_L_CONST(BOT4_HIST_SUB_BITS);
  BOT4_L_CONST(BOT4_HIST_LOW_EXP);
  BOT4_L_CONST(BOT4_HIST_LOW_NS);
  BOT4_L_CONST(BOT4_HIST_HIGH_NS);
  BOT4_L_CONST(BOT4_HIST_INDEX_SHIFT);
  BOT4_L_CONST(BOT4_HIST_INDEX_BASE);
  BOT4_L_CONST(BOT4_HIST_BUCKETS);
  BOT4_L_CONST(BOT4_HIST_MAGIC);
  return n;
}
