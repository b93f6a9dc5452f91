/*
 * clock.h — the one clock for every latency stamp, in C kernels and in TypeScript.
 *
 * Guarantees:
 *  - Values are ns since a per-process anchor taken when the library is loaded: u64 in C
 *    (bot4_clock_now_ns), double in TypeScript (bot4_clock_now) — the same number, exact in a
 *    double for 2^53 ns = 104 days. One anchor per loaded library: every Worker thread of the
 *    process shares it (the library is loaded once per process per variant).
 *  - Source: the TSC (read with RDTSCP, which waits for earlier instructions, so a stamp taken
 *    after seeing another thread's write is never earlier than that thread's stamp) when CPUID
 *    0x80000007 EDX bit 8 (invariant TSC) is set and the kernel's clocksource is `tsc`;
 *    otherwise CLOCK_MONOTONIC. BOT4_CLOCK=monotonic|tsc (read once, at load) forces one.
 *  - Calibration against CLOCK_MONOTONIC takes BOT4_CLOCK_CALIB_NS (2 ms) at load, bracketing
 *    each (TSC, CLOCK_MONOTONIC) pair between two clock_gettime calls and keeping the tightest
 *    of several; calib_err is the resulting bound on the relative rate error.
 *    bot4_clock_recalibrate() re-measures the rate over the whole time since the anchor (longer
 *    baseline, smaller error) and removes the offset accumulated so far by slewing (rate change
 *    of at most BOT4_CLOCK_MAX_SLEW = 1e-4 over at least 100 ms) — never by stepping back.
 *  - Monotonic: never decreases in one thread; across threads, a stamp taken after observing
 *    another thread's stamp is >= it (TSC synchronised across cores, which the kernel checks
 *    before it keeps `tsc` as clocksource). Readers never block: recalibration publishes its
 *    parameters through a sequence lock.
 *  - Unix epoch: epoch_ns = realtime_offset_ns + clock value, where realtime_offset_ns =
 *    CLOCK_REALTIME - clock at the last (re)calibration (later NTP steps are not followed).
 *  - Note: a second variant of the library opened in the same process (tests do that) has its
 *    own anchor; compare only stamps from the same library.
 */
#ifndef BOT4_CLOCK_H
#define BOT4_CLOCK_H

#include "bot4.h"

enum bot4_clock_source { BOT4_CLOCK_MONOTONIC = 1, BOT4_CLOCK_TSC = 2 };

#define BOT4_CLOCK_CALIB_NS 2000000   /* start-up calibration baseline: 2 ms */
#define BOT4_CLOCK_MIN_SLEW_NS 100000000 /* an offset is slewed away over at least 100 ms */
#define BOT4_CLOCK_MAX_SLEW 1e-4      /* ... at a rate change of at most 100 ppm */

/* Everything bot4_clock_info reports (cold path; TypeScript reads it through ffi/clock.ts). */
typedef struct bot4_clock_info {
  int64_t anchor_realtime_ns;  /* CLOCK_REALTIME at the anchor (clock value 0) */
  int64_t anchor_monotonic_ns; /* CLOCK_MONOTONIC at the anchor */
  int64_t realtime_offset_ns;  /* CLOCK_REALTIME - clock, at the last (re)calibration */
  int64_t monotonic_offset_ns; /* CLOCK_MONOTONIC - clock, at the last (re)calibration */
  double tsc_hz;               /* calibrated TSC ticks per second (0 with CLOCK_MONOTONIC) */
  double calib_err;            /* bound on the relative rate error of the current calibration */
  double calib_baseline_ns;    /* length of the baseline it was measured over */
  double init_ns;              /* time the start-up (anchor + calibration) took */
  double last_offset_ns;       /* offset vs CLOCK_MONOTONIC found (and slewed) by the last recalibration */
  int32_t source;              /* enum bot4_clock_source */
  int32_t forced;              /* 1 when BOT4_CLOCK chose the source */
  int32_t invariant_tsc;       /* CPUID 0x80000007 EDX bit 8 */
  int32_t env_invalid;         /* 1 when BOT4_CLOCK held something else than tsc/monotonic */
  int32_t recalibrations;
  int32_t reserved;
} bot4_clock_info_t;
static_assert(sizeof(bot4_clock_info_t) == 96, "clock info is 96 bytes");

/* Conversion parameters: segment 0 from tsc0 (ns0, mult0), then from tsc1 (ns1, mult1);
 * ns = ns_k + ((tsc - tsc_k) * mult_k >> 32). Written only under the sequence lock. */
typedef struct bot4_clock_params {
  uint64_t tsc0, ns0, mult0;
  uint64_t tsc1, ns1, mult1;
} bot4_clock_params_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_clock_state {
  uint32_t seq; /* odd while parameters are being written */
  int32_t source;
  bot4_clock_params_t p;
  int64_t anchor_mono_ns; /* for the CLOCK_MONOTONIC source */
} bot4_clock_state_t;
static_assert(sizeof(bot4_clock_state_t) == BOT4_CACHELINE, "hot clock state is one cache line");

/* Inside the library (the same .so) kernels read the clock inline. */
extern bot4_clock_state_t bot4_clock_g __attribute__((visibility("hidden")));
uint64_t bot4_clock_mono_since_anchor(void) __attribute__((visibility("hidden")));

static inline uint64_t bot4_clock_rdtscp(void) {
  uint32_t lo, hi, aux;
  __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
  return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t bot4_clock_convert(const bot4_clock_params_t *p, uint64_t t) {
  if (t >= p->tsc1) return p->ns1 + (uint64_t)(((unsigned __int128)(t - p->tsc1) * p->mult1) >> 32);
  if (t <= p->tsc0) return p->ns0; /* a TSC read just before a recalibration: hold, never go back */
  return p->ns0 + (uint64_t)(((unsigned __int128)(t - p->tsc0) * p->mult0) >> 32);
}

static inline uint64_t bot4_clock_ns(void) {
  if (BOT4_UNLIKELY(bot4_clock_g.source != BOT4_CLOCK_TSC)) return bot4_clock_mono_since_anchor();
  const uint64_t t = bot4_clock_rdtscp();
  for (;;) {
    uint32_t s0 = __atomic_load_n(&bot4_clock_g.seq, __ATOMIC_ACQUIRE);
    bot4_clock_params_t p;
    p.tsc0 = __atomic_load_n(&bot4_clock_g.p.tsc0, __ATOMIC_RELAXED);
    p.ns0 = __atomic_load_n(&bot4_clock_g.p.ns0, __ATOMIC_RELAXED);
    p.mult0 = __atomic_load_n(&bot4_clock_g.p.mult0, __ATOMIC_RELAXED);
    p.tsc1 = __atomic_load_n(&bot4_clock_g.p.tsc1, __ATOMIC_RELAXED);
    p.ns1 = __atomic_load_n(&bot4_clock_g.p.ns1, __ATOMIC_RELAXED);
    p.mult1 = __atomic_load_n(&bot4_clock_g.p.mult1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (BOT4_LIKELY(!(s0 & 1) && s0 == __atomic_load_n(&bot4_clock_g.seq, __ATOMIC_RELAXED)))
      return bot4_clock_convert(&p, t);
  }
}

BOT4_API void bot4_clock_init(void); /* idempotent; runs at library load */
BOT4_API uint64_t bot4_clock_now_ns(void);
BOT4_API double bot4_clock_now(void);
BOT4_API int32_t bot4_clock_source(void);
BOT4_API const char *bot4_clock_source_name(void); /* "tsc" or "monotonic" */
BOT4_API const char *bot4_clock_reason(void);      /* why that source, in words */
BOT4_API double bot4_clock_tsc_hz(void);
BOT4_API double bot4_clock_calib_err(void);
BOT4_API void bot4_clock_info(bot4_clock_info_t *out);
/* Refines the rate over the time since the anchor and slews the offset away; returns the new
 * calib_err (0 with CLOCK_MONOTONIC). Safe from any thread, at any time. */
BOT4_API double bot4_clock_recalibrate(void);
/* (CLOCK_MONOTONIC - anchor) - clock, measured now with a tight bracket (tests, monitoring). */
BOT4_API double bot4_clock_offset_ns(void);
/* Tests only: from now on run the rate off by `rel` (continuously, no jump), to prove that
 * bot4_clock_recalibrate slews a real offset away. No-op with CLOCK_MONOTONIC. */
BOT4_API void bot4_clock_test_skew(double rel);
/* Per-call cost in ns of a C loop of `iters` reads: 0 rdtsc, 1 rdtscp, 2 lfence+rdtsc,
 * 3 clock_gettime(MONOTONIC), 4 clock_gettime(REALTIME), 5 bot4_clock_ns (inline),
 * 6 bot4_clock_now_ns (call). Bench support; -1 for an unknown `which`. */
BOT4_API double bot4_clock_bench(int32_t which, int32_t iters);

BOT4_API int bot4_layout_clock(char *buf, int cap);

#endif
