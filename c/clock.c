/* clock.c — start-up, calibration and recalibration of the bot4 clock; contract in clock.h. */
#include "clock.h"

#include <cpuid.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

bot4_clock_state_t bot4_clock_g = {.source = BOT4_CLOCK_MONOTONIC, .p = {.tsc1 = UINT64_MAX}};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* recalibration and info */
static bot4_clock_info_t g_info;
static char g_reason[192];

/* One (TSC, CLOCK_MONOTONIC) pair: the TSC read between two clock_gettime calls. */
typedef struct {
  uint64_t tsc;
  int64_t mono; /* midpoint of the bracket */
  int64_t half; /* half its width: the pair's uncertainty */
} sample_t;
static sample_t g_anchor;

static inline int64_t ts_ns(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

uint64_t bot4_clock_mono_since_anchor(void) {
  int64_t d = ts_ns(CLOCK_MONOTONIC) - bot4_clock_g.anchor_mono_ns;
  return d > 0 ? (uint64_t)d : 0;
}

/* Tightest of `tries` brackets: a preemption inside one only widens that one. */
static sample_t take_sample(int tries) {
  sample_t best = {0, 0, INT64_MAX};
  for (int i = 0; i < tries; i++) {
    int64_t m0 = ts_ns(CLOCK_MONOTONIC);
    uint64_t t = bot4_clock_rdtscp();
    int64_t m1 = ts_ns(CLOCK_MONOTONIC);
    int64_t half = (m1 - m0 + 1) / 2;
    if (half < best.half) best = (sample_t){t, m0 + (m1 - m0) / 2, half};
  }
  return best;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, from the tightest of a few brackets. */
static int64_t realtime_minus_mono(void) {
  int64_t best_w = INT64_MAX, off = 0;
  for (int i = 0; i < 8; i++) {
    int64_t m0 = ts_ns(CLOCK_MONOTONIC);
    int64_t r = ts_ns(CLOCK_REALTIME);
    int64_t m1 = ts_ns(CLOCK_MONOTONIC);
    if (m1 - m0 < best_w) {
      best_w = m1 - m0;
      off = r - (m0 + (m1 - m0) / 2);
    }
  }
  return off;
}

static int invariant_tsc(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007) return 0;
  __cpuid(0x80000007, a, b, c, d);
  return (d >> 8) & 1;
}

/* The kernel drops `tsc` from the available clocksources when its own checks find it unstable. */
static void read_line(const char *path, char *out, size_t cap) {
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  if (!fgets(out, (int)cap, f)) out[0] = 0;
  fclose(f);
  out[strcspn(out, "\n")] = 0;
}

static int has_word(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
    if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
  }
  return 0;
}

static uint64_t mult_from(double ns, double ticks) { return (uint64_t)llround(4294967296.0 * ns / ticks); }

static void publish(const bot4_clock_params_t *p) {
  uint32_t s = __atomic_load_n(&bot4_clock_g.seq, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.seq, s + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  __atomic_store_n(&bot4_clock_g.p.tsc0, p->tsc0, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.p.ns0, p->ns0, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.p.mult0, p->mult0, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.p.tsc1, p->tsc1, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.p.ns1, p->ns1, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.p.mult1, p->mult1, __ATOMIC_RELAXED);
  __atomic_store_n(&bot4_clock_g.seq, s + 2, __ATOMIC_RELEASE);
}

static void clock_init_once(void) {
  const int64_t t_start = ts_ns(CLOCK_MONOTONIC);
  const char *env = getenv("BOT4_CLOCK");
  int want = 0; /* 0 auto */
  if (env && *env) {
    if (!strcmp(env, "monotonic")) want = BOT4_CLOCK_MONOTONIC;
    else if (!strcmp(env, "tsc")) want = BOT4_CLOCK_TSC;
    else g_info.env_invalid = 1;
  }
  g_info.invariant_tsc = invariant_tsc();
  char avail[256], current[64];
  read_line("/sys/devices/system/clocksource/clocksource0/available_clocksource", avail, sizeof avail);
  read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", current, sizeof current);

  int source;
  if (want) {
    source = want;
    g_info.forced = 1;
    snprintf(g_reason, sizeof g_reason, "forced by BOT4_CLOCK=%s%s", env,
             want == BOT4_CLOCK_TSC && !g_info.invariant_tsc ? " (this CPU does not report an invariant TSC)" : "");
  } else if (!g_info.invariant_tsc) {
    source = BOT4_CLOCK_MONOTONIC;
    snprintf(g_reason, sizeof g_reason, "no invariant TSC (CPUID 0x80000007 EDX bit 8 clear)");
  } else if (avail[0] && !has_word(avail, "tsc")) {
    source = BOT4_CLOCK_MONOTONIC;
    snprintf(g_reason, sizeof g_reason, "invariant TSC, but the kernel does not trust it (clocksources: %s)", avail);
  } else {
    source = BOT4_CLOCK_TSC;
    snprintf(g_reason, sizeof g_reason, "invariant TSC (CPUID 0x80000007 EDX bit 8); kernel clocksource %s",
             current[0] ? current : "unknown");
  }
  if (g_info.env_invalid) {
    size_t n = strlen(g_reason);
    snprintf(g_reason + n, sizeof g_reason - n, "; BOT4_CLOCK=%s ignored (expected tsc or monotonic)", env);
  }

  g_anchor = take_sample(16);
  const int64_t real_off = realtime_minus_mono();
  bot4_clock_g.anchor_mono_ns = g_anchor.mono;
  g_info.anchor_monotonic_ns = g_anchor.mono;
  g_info.anchor_realtime_ns = g_anchor.mono + real_off;
  g_info.realtime_offset_ns = g_info.anchor_realtime_ns;
  g_info.monotonic_offset_ns = g_anchor.mono;
  g_info.source = source;

  if (source == BOT4_CLOCK_TSC) {
    while (ts_ns(CLOCK_MONOTONIC) - g_anchor.mono < BOT4_CLOCK_CALIB_NS) __builtin_ia32_pause();
    sample_t b = take_sample(16);
    double ns = (double)(b.mono - g_anchor.mono), ticks = (double)(b.tsc - g_anchor.tsc);
    uint64_t mult = mult_from(ns, ticks);
    bot4_clock_params_t p = {g_anchor.tsc, 0, mult, UINT64_MAX, 0, mult};
    publish(&p);
    g_info.tsc_hz = ticks * 1e9 / ns;
    g_info.calib_err = (double)(g_anchor.half + b.half) / ns;
    g_info.calib_baseline_ns = ns;
  }
  __atomic_store_n(&bot4_clock_g.source, source, __ATOMIC_RELEASE);
  g_info.init_ns = (double)(ts_ns(CLOCK_MONOTONIC) - t_start);
}

BOT4_API void bot4_clock_init(void) { pthread_once(&g_once, clock_init_once); }

/* Before any other constructor of the library (default priority is 65535). */
__attribute__((constructor(101))) static void clock_ctor(void) { bot4_clock_init(); }

BOT4_API uint64_t bot4_clock_now_ns(void) { return bot4_clock_ns(); }
BOT4_API double bot4_clock_now(void) { return (double)bot4_clock_ns(); }
BOT4_API int32_t bot4_clock_source(void) { return bot4_clock_g.source; }
BOT4_API const char *bot4_clock_source_name(void) { return bot4_clock_g.source == BOT4_CLOCK_TSC ? "tsc" : "monotonic"; }
BOT4_API const char *bot4_clock_reason(void) { return g_reason; }

BOT4_API void bot4_clock_info(bot4_clock_info_t *out) {
  pthread_mutex_lock(&g_mu);
  *out = g_info;
  pthread_mutex_unlock(&g_mu);
}
BOT4_API double bot4_clock_tsc_hz(void) {
  bot4_clock_info_t i;
  bot4_clock_info(&i);
  return i.tsc_hz;
}
BOT4_API double bot4_clock_calib_err(void) {
  bot4_clock_info_t i;
  bot4_clock_info(&i);
  return i.calib_err;
}

BOT4_API double bot4_clock_recalibrate(void) {
  if (bot4_clock_g.source != BOT4_CLOCK_TSC) return 0;
  pthread_mutex_lock(&g_mu);
  const sample_t b = take_sample(16);
  const double ns = (double)(b.mono - g_anchor.mono), ticks = (double)(b.tsc - g_anchor.tsc);
  const double err = (double)(g_anchor.half + b.half) / ns;
  if (ns > g_info.calib_baseline_ns) {
    const bot4_clock_params_t cur = bot4_clock_g.p; /* only this thread writes it */
    const uint64_t c = bot4_clock_convert(&cur, b.tsc);
    const double e = (double)(b.mono - g_anchor.mono) - (double)c; /* > 0: the clock is behind */
    const double window = fmax((double)BOT4_CLOCK_MIN_SLEW_NS, fabs(e) / BOT4_CLOCK_MAX_SLEW);
    const double mult_true = 4294967296.0 * ns / ticks;
    const double window_ticks = window * ticks / ns;
    bot4_clock_params_t p;
    p.tsc0 = b.tsc;
    p.ns0 = c;
    p.mult0 = (uint64_t)llround(mult_true * (1.0 + e / window));
    p.tsc1 = b.tsc + (uint64_t)window_ticks;
    p.ns1 = c + (uint64_t)(((unsigned __int128)(p.tsc1 - p.tsc0) * p.mult0) >> 32); /* continuous */
    p.mult1 = (uint64_t)llround(mult_true);
    publish(&p);
    g_info.tsc_hz = ticks * 1e9 / ns;
    g_info.calib_err = err;
    g_info.calib_baseline_ns = ns;
    g_info.last_offset_ns = e;
    g_info.recalibrations++;
    /* once the slew is done the clock is CLOCK_MONOTONIC - anchor again */
    g_info.realtime_offset_ns = g_anchor.mono + realtime_minus_mono();
  }
  const double out = g_info.calib_err;
  pthread_mutex_unlock(&g_mu);
  return out;
}

BOT4_API void bot4_clock_test_skew(double rel) {
  if (bot4_clock_g.source != BOT4_CLOCK_TSC) return;
  pthread_mutex_lock(&g_mu);
  const bot4_clock_params_t cur = bot4_clock_g.p;
  const uint64_t t = bot4_clock_rdtscp();
  const uint64_t mult = t >= cur.tsc1 ? cur.mult1 : cur.mult0;
  bot4_clock_params_t p = {t, bot4_clock_convert(&cur, t), (uint64_t)llround((double)mult * (1.0 + rel)), UINT64_MAX, 0, 0};
  publish(&p);
  pthread_mutex_unlock(&g_mu);
}

BOT4_API double bot4_clock_offset_ns(void) {
  int64_t best_w = INT64_MAX;
  double off = 0;
  for (int i = 0; i < 16; i++) {
    int64_t m0 = ts_ns(CLOCK_MONOTONIC);
    uint64_t c = bot4_clock_ns();
    int64_t m1 = ts_ns(CLOCK_MONOTONIC);
    if (m1 - m0 < best_w) {
      best_w = m1 - m0;
      off = (double)(m0 + (m1 - m0) / 2 - bot4_clock_g.anchor_mono_ns) - (double)c;
    }
  }
  return off;
}

static volatile uint64_t g_sink;

BOT4_API double bot4_clock_bench(int32_t which, int32_t iters) {
  if (iters <= 0) return -1;
  uint64_t acc = 0;
  unsigned aux;
  struct timespec ts;
  const int64_t t0 = ts_ns(CLOCK_MONOTONIC);
  switch (which) {
  case 0: for (int32_t i = 0; i < iters; i++) acc += __rdtsc(); break;
  case 1: for (int32_t i = 0; i < iters; i++) acc += __rdtscp(&aux); break;
  case 2: for (int32_t i = 0; i < iters; i++) { _mm_lfence(); acc += __rdtsc(); } break;
  case 3: for (int32_t i = 0; i < iters; i++) { clock_gettime(CLOCK_MONOTONIC, &ts); acc += (uint64_t)ts.tv_nsec; } break;
  case 4: for (int32_t i = 0; i < iters; i++) { clock_gettime(CLOCK_REALTIME, &ts); acc += (uint64_t)ts.tv_nsec; } break;
  case 5: for (int32_t i = 0; i < iters; i++) acc += bot4_clock_ns(); break;
  case 6: for (int32_t i = 0; i < iters; i++) acc += bot4_clock_now_ns(); break;
  default: return -1;
  }
  const int64_t t1 = ts_ns(CLOCK_MONOTONIC);
  g_sink = acc;
  return (double)(t1 - t0) / iters;
}

BOT4_API int bot4_layout_clock(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_clock_info_t);
  BOT4_L_OFF(bot4_clock_info_t, anchor_realtime_ns);
  BOT4_L_OFF(bot4_clock_info_t, anchor_monotonic_ns);
  BOT4_L_OFF(bot4_clock_info_t, realtime_offset_ns);
  BOT4_L_OFF(bot4_clock_info_t, monotonic_offset_ns);
  BOT4_L_OFF(bot4_clock_info_t, tsc_hz);
  BOT4_L_OFF(bot4_clock_info_t, calib_err);
  BOT4_L_OFF(bot4_clock_info_t, calib_baseline_ns);
  BOT4_L_OFF(bot4_clock_info_t, init_ns);
  BOT4_L_OFF(bot4_clock_info_t, last_offset_ns);
  BOT4_L_OFF(bot4_clock_info_t, source);
  BOT4_L_OFF(bot4_clock_info_t, forced);
  BOT4_L_OFF(bot4_clock_info_t, invariant_tsc);
  BOT4_L_OFF(bot4_clock_info_t, env_invalid);
  BOT4_L_OFF(bot4_clock_info_t, recalibrations);
  BOT4_L_CONST(BOT4_CLOCK_MONOTONIC);
  BOT4_L_CONST(BOT4_CLOCK_TSC);
  return n;
}
