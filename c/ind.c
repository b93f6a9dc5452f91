/* ind.c — indicator kernels and bar aggregation; see ind.h for the definitions and guarantees. */
/* sqrt of a non-negative variance never sets errno: lets GCC use vsqrtpd on every width */
#pragma GCC optimize("no-math-errno")
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "ind.h"

#define L BOT4_LANES
static inline f64v ld(const double *p) { return f64v_load(p); }
static inline void st(double *p, f64v v) { f64v_store(p, v); }
/* a true broadcast (f64v_splat's {0} + x costs an add, and turns -0.0 into +0.0) */
static inline f64v S(double x) {
#if BOT4_LANES == 8
  return (f64v)_mm512_set1_pd(x);
#elif BOT4_LANES == 4
  return (f64v)_mm256_set1_pd(x);
#else
  return (f64v)_mm_set1_pd(x);
#endif
}
static inline f64v sel(i64v m, f64v a, f64v b) { return f64v_select(m, a, b); }
/* IEEE sqrt is correctly rounded: the same bits at every width */
static inline f64v vsqrt(f64v v) {
#if BOT4_LANES == 8
  return (f64v)_mm512_sqrt_pd((__m512d)v);
#elif BOT4_LANES == 4
  return (f64v)_mm256_sqrt_pd((__m256d)v);
#else
  return (f64v)_mm_sqrt_pd((__m128d)v);
#endif
}
/* a > b ? a : b and a < b ? a : b lane by lane (the second operand where either is NaN) */
static inline f64v vmax(f64v a, f64v b) {
#if BOT4_LANES == 8
  return (f64v)_mm512_max_pd((__m512d)a, (__m512d)b);
#elif BOT4_LANES == 4
  return (f64v)_mm256_max_pd((__m256d)a, (__m256d)b);
#else
  return (f64v)_mm_max_pd((__m128d)a, (__m128d)b);
#endif
}
static inline f64v vmin(f64v a, f64v b) {
#if BOT4_LANES == 8
  return (f64v)_mm512_min_pd((__m512d)a, (__m512d)b);
#elif BOT4_LANES == 4
  return (f64v)_mm256_min_pd((__m256d)a, (__m256d)b);
#else
  return (f64v)_mm_min_pd((__m128d)a, (__m128d)b);
#endif
}
/* keep the old value in lanes without an update */
static inline void put(double *p, i64v has, f64v v) { st(p, sel(has, v, ld(p))); }

/* Per-indicator constants, computed once per call. */
typedef struct prm {
  double sma_p, sma_i, bb_p, bb_i, bb_k, z_p, z_i;
  double ema_p, ema_k;
  double rsi_p, rsi_pm1, rsi_i;
  double mf, ms, mg, mkf, mks, mkg, mstart; /* mstart: first update of the fast seed (s-f+1) */
  double atr_p, atr_pm1, atr_i;
  double vw_p;
  double warm_end; /* a lane whose count is >= this before an update is past every warm-up */
  int sma_is_bb, z_is_bb, z_is_sma; /* equal periods share one window (same arithmetic, same bits) */
  int steady_kind;                  /* update_steady_k's specialisation: 2 * (windowed VWAP) + (SMA and z share BB's window) */
  /* the constants the update reads, each in all 8 lanes: a vector operand straight from memory
   * (a broadcast would be an instruction of its own); 8 lanes whatever the build's width */
  double vc[16][BOT4_GROUP] BOT4_ALIGNED(BOT4_CACHELINE);
} prm_t;
enum { VC_BB_P, VC_BB_I, VC_BB_K, VC_SMA_P, VC_SMA_I, VC_Z_P, VC_Z_I, VC_EMA_K, VC_RSI_PM1, VC_RSI_I, VC_MKF, VC_MKS, VC_MKG,
       VC_ATR_PM1, VC_ATR_I, VC_VW_P };
static inline f64v PV(const prm_t *P, int i) { return ld(P->vc[i]); }
/* a constant in every lane, as a vector constant (an operand from memory, no broadcast); not for -0.0 */
#define VK(c) ((f64v){0} + (c))

static void prm_init(prm_t *P, const bot4_ind_config_t *c) {
  P->sma_p = c->sma; P->sma_i = 1.0 / c->sma;
  P->bb_p = c->bb; P->bb_i = 1.0 / c->bb; P->bb_k = c->bb_k;
  P->z_p = c->z; P->z_i = 1.0 / c->z;
  P->ema_p = c->ema; P->ema_k = 2.0 / (double)(c->ema + 1);
  P->rsi_p = c->rsi; P->rsi_pm1 = c->rsi - 1; P->rsi_i = 1.0 / c->rsi;
  P->mf = c->macd_fast; P->ms = c->macd_slow; P->mg = c->macd_signal;
  P->mkf = 2.0 / (double)(c->macd_fast + 1); P->mks = 2.0 / (double)(c->macd_slow + 1);
  P->mkg = 2.0 / (double)(c->macd_signal + 1);
  P->mstart = (double)(c->macd_slow - c->macd_fast + 1);
  P->atr_p = c->atr; P->atr_pm1 = c->atr - 1; P->atr_i = 1.0 / c->atr;
  P->vw_p = c->vwap;
  uint32_t w = c->sma;
  const uint32_t ends[] = {c->bb, c->z, c->ema, c->rsi + 1, c->macd_slow + c->macd_signal - 1, c->atr + 1, c->vwap};
  for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
    if (ends[i] > w) w = ends[i];
  P->warm_end = w;
  P->sma_is_bb = c->sma == c->bb;
  P->z_is_bb = c->z == c->bb;
  P->z_is_sma = !P->z_is_bb && c->z == c->sma;
  P->steady_kind = 2 * (c->vwap != 0) + (P->sma_is_bb && P->z_is_bb);
  const double vc[16] = {P->bb_p, P->bb_i, P->bb_k, P->sma_p, P->sma_i, P->z_p, P->z_i, P->ema_k, P->rsi_pm1, P->rsi_i,
                         P->mkf, P->mks, P->mkg, P->atr_pm1, P->atr_i, P->vw_p};
  for (int i = 0; i < 16; i++)
    for (int l = 0; l < BOT4_GROUP; l++) P->vc[i][l] = vc[i];
}

/* ---- step functions: one sub-vector (offset o) of a group; `warm` = 0 only when every lane is
 * past its warm-up, which lets batch loops drop the selects (same arithmetic, same bits). ---- */

/* rolling window of p: returns mean and (clamped) population variance after adding x, dropping old */
static inline __attribute__((always_inline)) void win_step(bot4_ind_win_t *w, int o, f64v x, f64v old, i64v has, f64v cnt, double p, double ip,
                            int warm, f64v *mean, f64v *var) {
  const f64v P = S(p), zero = S(0.0);
  f64v K = ld(w->k + o);
  if (warm) K = sel(has & (i64v)(cnt == S(1.0)), x, K);
  const f64v d = x - K;
  const f64v dold = warm ? sel((i64v)(cnt > P), old - K, zero) : old - K;
  const f64v s1 = ld(w->s1 + o) + (d - dold), s2 = ld(w->s2 + o) + (d * d - dold * dold);
  const f64v t1 = ld(w->t1 + o) + d, t2 = ld(w->t2 + o) + d * d, ph = ld(w->ph + o) + S(1.0);
  const i64v wrap = (i64v)(ph == P);
  const f64v delta = t1 * S(ip);
  const f64v s1w = t1 - P * delta;
  const f64v s2w = t2 - delta * (t1 + s1w);
  const f64v K2 = sel(wrap, K + delta, K), S1 = sel(wrap, s1w, s1), S2 = sel(wrap, s2w, s2);
  put(w->k + o, has, K2);
  put(w->s1 + o, has, S1);
  put(w->s2 + o, has, S2);
  put(w->t1 + o, has, sel(wrap, zero, t1));
  put(w->t2 + o, has, sel(wrap, zero, t2));
  put(w->ph + o, has, sel(wrap, zero, ph));
  const f64v m1 = S1 * S(ip);
  const f64v v = S2 * S(ip) - m1 * m1;
  *mean = K2 + m1;
  *var = sel((i64v)(v < S(1e-14)), zero, v); /* TA_IS_ZERO_OR_NEG */
}

/* The EMA's state is its output row: past the warm-up the previous output is the previous EMA (NaN
 * before, where it is not read), so one row is stored per update, not a state row and an output row. */
static inline __attribute__((always_inline)) f64v ema_step(bot4_ind_group_t *G, int o, f64v x, i64v has, f64v cnt, const prm_t *P, int warm) {
  const f64v p = S(P->ema_p);
  const f64v s = ld(G->ema + o);
  const f64v stdy = (x - s) * PV(P, VC_EMA_K) + s;
  if (!warm) { put(G->ema + o, has, stdy); return stdy; }
  const f64v sum = ld(G->ema_sum + o) + x;
  put(G->ema_sum + o, has & (i64v)(cnt <= p), sum);
  const f64v r = sel((i64v)(cnt > p), stdy, sel((i64v)(cnt == p), sum / p, S(NAN)));
  put(G->ema + o, has, r);
  return r;
}

/* prev: the previous close (in a set, its `last` row before this update; not read on a lane's first
 * update, where it is undefined) */
static inline __attribute__((always_inline)) f64v rsi_step(bot4_ind_group_t *G, int o, f64v x, f64v prev, i64v has, f64v cnt, const prm_t *P, int warm) {
  const f64v p = S(P->rsi_p), zero = S(0.0), p1 = p + S(1.0);
  const f64v diff = x - prev;
  /* gain = diff < 0 ? 0 : diff, loss = diff < 0 ? -diff : 0, NaN included (max returns its second
   * operand unless the first is greater) */
  const f64v gain = vmax(zero, diff), loss = vmax(-diff, zero);
  f64v g = ld(G->rsi_g + o), l = ld(G->rsi_l + o);
  const f64v gs = (g * PV(P, VC_RSI_PM1) + gain) * PV(P, VC_RSI_I), ls = (l * PV(P, VC_RSI_PM1) + loss) * PV(P, VC_RSI_I);
  if (warm) {
    const i64v acc = (i64v)(cnt >= S(2.0)) & (i64v)(cnt <= p1);
    const f64v ga = g + gain, la = l + loss;
    const i64v seed = (i64v)(cnt == p1);
    g = sel((i64v)(cnt > p1), gs, sel(acc, sel(seed, ga / p, ga), g));
    l = sel((i64v)(cnt > p1), ls, sel(acc, sel(seed, la / p, la), l));
  } else {
    g = gs;
    l = ls;
  }
  put(G->rsi_g + o, has, g);
  put(G->rsi_l + o, has, l);
  const f64v tot = g + l;
  const f64v r = sel((i64v)(tot < S(1e-14)), zero, S(100.0) * (g / tot)); /* TA_IS_ZERO */
  return warm ? sel((i64v)(cnt >= p1), r, S(NAN)) : r;
}

static inline __attribute__((always_inline)) void macd_step(bot4_ind_group_t *G, int o, f64v x, i64v has, f64v cnt, const prm_t *P, int warm,
                             f64v *line, f64v *sig, f64v *hist) {
  const f64v fp = S(P->mf), sp = S(P->ms), gend = S(P->ms + P->mg - 1.0);
  f64v fast = ld(G->m_fast + o), slow = ld(G->m_slow + o), sg = ld(G->macd_signal + o);
  const f64v fs = (x - fast) * PV(P, VC_MKF) + fast, ss = (x - slow) * PV(P, VC_MKS) + slow;
  if (warm) {
    const f64v fsum = ld(G->m_fsum + o) + x, ssum = ld(G->m_ssum + o) + x;
    put(G->m_fsum + o, has & (i64v)(cnt >= S(P->mstart)) & (i64v)(cnt <= sp), fsum);
    put(G->m_ssum + o, has & (i64v)(cnt <= sp), ssum);
    const i64v seed = (i64v)(cnt == sp), after = (i64v)(cnt > sp);
    fast = sel(after, fs, sel(seed, fsum / fp, fast));
    slow = sel(after, ss, sel(seed, ssum / sp, slow));
  } else {
    fast = fs;
    slow = ss;
  }
  put(G->m_fast + o, has, fast);
  put(G->m_slow + o, has, slow);
  const f64v ln = fast - slow;
  const f64v gs = (ln - sg) * PV(P, VC_MKG) + sg;
  if (warm) {
    const f64v sigsum = ld(G->m_sigsum + o) + ln;
    put(G->m_sigsum + o, has & (i64v)(cnt >= sp) & (i64v)(cnt <= gend), sigsum);
    sg = sel((i64v)(cnt > gend), gs, sel((i64v)(cnt == gend), sigsum / S(P->mg), sg));
  } else {
    sg = gs;
  }
  if (warm) {
    const i64v out = (i64v)(cnt >= gend);
    *line = sel(out, ln, S(NAN));
    *sig = sel(out, sg, S(NAN));
    *hist = sel(out, ln - sg, S(NAN));
  } else {
    *line = ln;
    *sig = sg;
    *hist = ln - sg;
  }
  put(G->macd_signal + o, has, *sig); /* the signal's state is its output row (see ema_step) */
}

/* pc: the previous close (see rsi_step); the ATR's state is its output row (see ema_step) */
static inline __attribute__((always_inline)) f64v atr_step(bot4_ind_group_t *G, int o, f64v h, f64v lo, f64v pc, i64v has, f64v cnt, const prm_t *P, int warm) {
  const f64v p = S(P->atr_p), p1 = p + S(1.0);
  /* h > pc ? h : pc and lo < pc ? lo : pc, NaN included */
  const f64v tr = vmax(h, pc) - vmin(lo, pc);
  const f64v a = ld(G->atr + o);
  const f64v as = (a * PV(P, VC_ATR_PM1) + tr) * PV(P, VC_ATR_I);
  if (!warm) { put(G->atr + o, has, as); return as; }
  const f64v sum = ld(G->atr_sum + o) + tr;
  put(G->atr_sum + o, has & (i64v)(cnt >= S(2.0)) & (i64v)(cnt <= p1), sum);
  const f64v r = sel((i64v)(cnt > p1), as, sel((i64v)(cnt == p1), sum / p, S(NAN)));
  put(G->atr + o, has, r);
  return r;
}

static inline f64v typical(f64v h, f64v lo, f64v c) {
  return sel((i64v)(h == lo) & (i64v)(lo == c), c, (h + lo + c) / S(3.0));
}

/* VWAP over the last p updates (p = 0: cumulative); pv/v are this update's tp*v and v, pvo/vo the
 * ones leaving the window */
static inline __attribute__((always_inline)) f64v vwap_step(bot4_ind_group_t *G, int o, f64v pv, f64v v, f64v pvo, f64v vo, i64v has, f64v cnt,
                             const prm_t *P, int warm, int cum) {
  const f64v zero = S(0.0);
  f64v spv, sv;
  if (cum) { /* cum: P->vw_p == 0 (callers pass the test, a constant where they specialise on it) */
    spv = ld(G->v_pv + o) + pv;
    sv = ld(G->v_v + o) + v;
  } else {
    const f64v p = S(P->vw_p);
    const i64v full = (i64v)(cnt > p);
    spv = ld(G->v_pv + o) + (pv - (warm ? sel(full, pvo, zero) : pvo));
    sv = ld(G->v_v + o) + (v - (warm ? sel(full, vo, zero) : vo));
    const f64v tpv = ld(G->v_tpv + o) + pv, tv = ld(G->v_tv + o) + v, ph = ld(G->v_ph + o) + S(1.0);
    const i64v wrap = (i64v)(ph == p);
    spv = sel(wrap, tpv, spv);
    sv = sel(wrap, tv, sv);
    put(G->v_tpv + o, has, sel(wrap, zero, tpv));
    put(G->v_tv + o, has, sel(wrap, zero, tv));
    put(G->v_ph + o, has, sel(wrap, zero, ph));
  }
  put(G->v_pv + o, has, spv);
  put(G->v_v + o, has, sv);
  return sel((i64v)(sv > zero), spv / sv, S(NAN));
}

/* ---- the set ---- */

static uint32_t ring_of(const bot4_ind_config_t *c) {
  uint32_t r = c->sma;
  if (c->bb > r) r = c->bb;
  if (c->z > r) r = c->z;
  if (c->vwap > r) r = c->vwap;
  return r;
}

#define SLOT_F64 (3 * BOT4_GROUP)

static int config_ok(const bot4_ind_config_t *c) {
  const uint32_t M = BOT4_IND_MAX_PERIOD;
  if (!c) return 0;
  if (c->sma < 1 || c->sma > M || c->ema < 1 || c->ema > M || c->bb < 2 || c->bb > M || c->rsi < 1 || c->rsi > M) return 0;
  if (c->macd_fast < 1 || c->macd_slow > M || c->macd_fast >= c->macd_slow || c->macd_signal < 1 || c->macd_signal > M) return 0;
  if (c->atr < 1 || c->atr > M || c->z < 2 || c->z > M || c->vwap > M) return 0;
  if (!(c->bb_k > 0) || !isfinite(c->bb_k)) return 0;
  return 1;
}

/* the set's constants (prm_t) are kept after its groups, computed once by bot4_ind_init */
#define PRM_BYTES ((sizeof(prm_t) + BOT4_CACHELINE - 1) / BOT4_CACHELINE * BOT4_CACHELINE)

static size_t group_bytes_of(const bot4_ind_config_t *c) {
  return sizeof(bot4_ind_group_t) + (size_t)ring_of(c) * SLOT_F64 * sizeof(double);
}

/* Bytes for a set of `instruments` under config c; 0 when the config is invalid. */
BOT4_API size_t bot4_ind_bytes(const bot4_ind_config_t *c, uint32_t instruments) {
  if (!config_ok(c) || instruments < 1) return 0;
  uint32_t groups = (instruments + BOT4_GROUP - 1) / BOT4_GROUP;
  return sizeof(bot4_ind_set_t) + (size_t)groups * group_bytes_of(c) + PRM_BYTES;
}

static inline bot4_ind_group_t *group_at(bot4_ind_set_t *s, uint32_t g) {
  return (bot4_ind_group_t *)((uint8_t *)s + sizeof(bot4_ind_set_t) + (size_t)g * s->group_bytes);
}
static inline const prm_t *prm_of(const bot4_ind_set_t *s) {
  return (const prm_t *)((const uint8_t *)s + sizeof(bot4_ind_set_t) + (size_t)s->groups * s->group_bytes);
}

static void group_reset(bot4_ind_group_t *G, uint32_t ring) {
  memset(G, 0, sizeof(*G) + (size_t)ring * SLOT_F64 * sizeof(double));
  double *outs[] = {G->last, G->sma, G->ema, G->bb_upper, G->bb_middle, G->bb_lower, G->rsi, G->macd,
                    G->macd_signal, G->macd_hist, G->atr, G->vwap, G->zscore};
  for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
    for (int l = 0; l < BOT4_GROUP; l++) outs[i][l] = NAN;
}

/* Initialises caller-owned memory (64-byte aligned, bot4_ind_bytes bytes). Returns groups, or -1
 * for a misaligned buffer, -2 for an invalid config. */
BOT4_API int32_t bot4_ind_init(bot4_ind_set_t *s, const bot4_ind_config_t *c, uint32_t instruments) {
  if (!s || ((uintptr_t)s & (BOT4_CACHELINE - 1))) return -1;
  if (!config_ok(c) || instruments < 1) return -2;
  memset(s, 0, sizeof(*s));
  s->groups = (instruments + BOT4_GROUP - 1) / BOT4_GROUP;
  s->ring = ring_of(c);
  s->group_bytes = (uint32_t)group_bytes_of(c);
  s->instruments = instruments;
  s->cfg = *c;
  for (uint32_t g = 0; g < s->groups; g++) group_reset(group_at(s, g), s->ring);
  prm_init((prm_t *)prm_of(s), c);
  return (int32_t)s->groups;
}

static void lock_leave(bot4_ind_group_t *G);

/* Resets one instrument's indicators to their warm-up state (e.g. after a data gap). */
BOT4_API int32_t bot4_ind_reset(bot4_ind_set_t *s, uint32_t instrument) {
  if (instrument >= s->groups * BOT4_GROUP) return -1;
  bot4_ind_group_t *G = group_at(s, instrument / BOT4_GROUP);
  const uint32_t l = instrument % BOT4_GROUP;
  if (G->lock.on) lock_leave(G);
  double *rows = (double *)G;
  const size_t nrows = offsetof(bot4_ind_group_t, lock) / (BOT4_GROUP * sizeof(double));
  for (size_t r = 0; r < nrows; r++) rows[r * BOT4_GROUP + l] = r < 13 ? NAN : 0.0;
  double *ring = (double *)(G + 1);
  for (uint32_t k = 0; k < s->ring * 3; k++) ring[k * BOT4_GROUP + l] = 0.0;
  return 0;
}

/* One update of group g: lane l takes (c[l], h[l], lo[l], v[l]) when bit l of mask is set.
 * Specialised on warm (0: every updated lane is past every warm-up, so the warm-up selects and
 * sums are dropped: the same arithmetic the warm-up path selects, same bits) and full (all 8
 * lanes update: `has` is a constant and the keep-old selects fold away). */
static inline __attribute__((always_inline)) void update_group_k(const bot4_ind_set_t *s, const prm_t *P,
                                                                 bot4_ind_group_t *restrict G, const double *c,
                                                                 const double *h, const double *lo, const double *v,
                                                                 uint32_t mask, const int warm, const int full) {
  const uint32_t R = s->ring;
  double *ring = (double *)(G + 1);
  const int own_sma = !P->sma_is_bb, own_z = !P->z_is_bb && !P->z_is_sma, vw = s->cfg.vwap != 0;
  double BOT4_ALIGNED(64) o_sma[8], o_bb[8], o_z[8], o_pv[8], o_v[8], pvn[8];
  const double *pb, *ps = o_sma, *pz = o_z, *ppv = o_pv, *pvv = o_v;
  uint32_t slot[8];
  /* slot of the value leaving a window of p: hd - p wrapped (p <= R; no integer division) */
#define BACK(p) (hd >= (p) ? hd - (p) : hd + R - (p))
  int same = 1;
  for (int l = 1; l < BOT4_GROUP; l++) same &= G->head[l] == G->head[0];
  if (same) {
    /* every lane at the same ring slot (always so when all 8 update together): the leaving
     * values are whole rows, read as vectors in place */
    const uint32_t hd = (uint32_t)G->head[0];
    pb = ring + BACK(s->cfg.bb) * SLOT_F64;
    if (own_sma) ps = ring + BACK(s->cfg.sma) * SLOT_F64;
    if (own_z) pz = ring + BACK(s->cfg.z) * SLOT_F64;
    if (vw) {
      const uint32_t w = BACK(s->cfg.vwap);
      ppv = ring + w * SLOT_F64 + BOT4_GROUP;
      pvv = ring + w * SLOT_F64 + 2 * BOT4_GROUP;
    } else {
      for (int l = 0; l < BOT4_GROUP; l++) o_pv[l] = o_v[l] = 0;
    }
  } else {
    pb = o_bb;
    for (int l = 0; l < BOT4_GROUP; l++) {
      const uint32_t hd = (uint32_t)G->head[l];
      slot[l] = hd;
      o_bb[l] = ring[BACK(s->cfg.bb) * SLOT_F64 + l];
      if (own_sma) o_sma[l] = ring[BACK(s->cfg.sma) * SLOT_F64 + l];
      if (own_z) o_z[l] = ring[BACK(s->cfg.z) * SLOT_F64 + l];
      if (vw) {
        const uint32_t w = BACK(s->cfg.vwap);
        o_pv[l] = ring[w * SLOT_F64 + BOT4_GROUP + l];
        o_v[l] = ring[w * SLOT_F64 + 2 * BOT4_GROUP + l];
      } else {
        o_pv[l] = o_v[l] = 0;
      }
    }
  }
#undef BACK
  /* ticks (h = lo = c in every lane): the typical price is the close, no division */
  int flat = 1;
  for (int l = 0; l < BOT4_GROUP; l++) flat &= (h[l] == c[l]) & (lo[l] == c[l]);
  const i64v bits0 = (i64v){0} + (int64_t)mask;
#pragma GCC unroll 4
  for (int k = 0; k < BOT4_STEPS; k++) {
    const int o = k * L;
    i64v has;
    if (full) {
      has = (i64v){0} - 1;
    } else {
      i64v lanebit;
      for (int j = 0; j < L; j++) lanebit[j] = (int64_t)1 << (o + j);
      has = (bits0 & lanebit) != 0;
    }
    const f64v x = ld(c + o), hh = ld(h + o), ll = ld(lo + o), vv = ld(v + o);
    const f64v cnt = ld(G->count + o) + (full ? S(1.0) : sel(has, S(1.0), S(0.0)));
    const f64v prev = ld(G->last + o);
    put(G->count + o, has, cnt);
    put(G->last + o, has, x);
    f64v mb, vb, ms, vs, mz, vz;
    win_step(&G->w_bb, o, x, ld(pb + o), has, cnt, P->bb_p, P->bb_i, warm, &mb, &vb);
    if (own_sma) win_step(&G->w_sma, o, x, ld(ps + o), has, cnt, P->sma_p, P->sma_i, warm, &ms, &vs);
    else ms = mb, vs = vb;
    if (own_z) win_step(&G->w_z, o, x, ld(pz + o), has, cnt, P->z_p, P->z_i, warm, &mz, &vz);
    else if (P->z_is_bb) mz = mb, vz = vb;
    else mz = ms, vz = vs;
    (void)vs;
    put(G->sma + o, has, warm ? sel((i64v)(cnt >= S(P->sma_p)), ms, S(NAN)) : ms);
    const f64v sdb = vsqrt(vb);
    {
      const f64v w = sdb * S(P->bb_k);
      if (warm) {
        const i64v ok = (i64v)(cnt >= S(P->bb_p));
        put(G->bb_middle + o, has, sel(ok, mb, S(NAN)));
        put(G->bb_upper + o, has, sel(ok, mb + w, S(NAN)));
        put(G->bb_lower + o, has, sel(ok, mb - w, S(NAN)));
      } else {
        put(G->bb_middle + o, has, mb);
        put(G->bb_upper + o, has, mb + w);
        put(G->bb_lower + o, has, mb - w);
      }
    }
    {
      const f64v sd = P->z_is_bb ? sdb : vsqrt(vz);
      const f64v zz = sel((i64v)(sd > S(0.0)), (x - mz) / sd, S(0.0));
      put(G->zscore + o, has, warm ? sel((i64v)(cnt >= S(P->z_p)), zz, S(NAN)) : zz);
    }
    ema_step(G, o, x, has, cnt, P, warm);
    put(G->rsi + o, has, rsi_step(G, o, x, prev, has, cnt, P, warm));
    f64v ln, sg, hs;
    macd_step(G, o, x, has, cnt, P, warm, &ln, &sg, &hs);
    put(G->macd + o, has, ln);
    put(G->macd_hist + o, has, hs);
    atr_step(G, o, hh, ll, prev, has, cnt, P, warm);
    const f64v pv = (flat ? x : typical(hh, ll, x)) * vv;
    st(pvn + o, pv);
    put(G->vwap + o, has, vwap_step(G, o, pv, vv, ld(ppv + o), ld(pvv + o), has, cnt, P, warm, P->vw_p == 0));
  }
  if (same && full) {
    /* the new values are whole rows too (the slot written is the one read p updates later) */
    const uint32_t sl = (uint32_t)G->head[0];
    double *row = ring + sl * SLOT_F64;
    for (int k = 0; k < BOT4_STEPS; k++) {
      st(row + k * L, ld(c + k * L));
      if (vw) {
        st(row + BOT4_GROUP + k * L, ld(pvn + k * L));
        st(row + 2 * BOT4_GROUP + k * L, ld(v + k * L));
      }
    }
    st(G->head, S((double)(sl + 1 == R ? 0 : sl + 1)));
    if (L < BOT4_GROUP) for (int k = 1; k < BOT4_STEPS; k++) st(G->head + k * L, S((double)(sl + 1 == R ? 0 : sl + 1)));
    return;
  }
  if (same)
    for (int l = 0; l < BOT4_GROUP; l++) slot[l] = (uint32_t)G->head[0];
  for (int l = 0; l < BOT4_GROUP; l++) {
    if (!full && !(mask >> l & 1)) continue;
    const uint32_t sl = slot[l];
    ring[sl * SLOT_F64 + l] = c[l];
    if (vw) {
      ring[sl * SLOT_F64 + BOT4_GROUP + l] = pvn[l];
      ring[sl * SLOT_F64 + 2 * BOT4_GROUP + l] = v[l];
    }
    G->head[l] = (double)(sl + 1 == R ? 0 : sl + 1);
  }
}

/* 1 when any lane of a comparison mask is set */
static inline int any_lane(i64v m) {
#if BOT4_LANES == 8
  return _mm512_movepi64_mask((__m512i)m) != 0;
#elif BOT4_LANES == 4
  return _mm256_movemask_pd((__m256d)m) != 0;
#else
  return _mm_movemask_pd((__m128d)m) != 0;
#endif
}

/* win_step for a whole group past its warm-up (warm 0, every lane updating): the same arithmetic,
 * but the period's rebuild (K moves, the fresh pair replaces the running one) is done only when a
 * lane's period ends — once every p updates — instead of computed and discarded every update. */
static inline __attribute__((always_inline)) void win_steady(bot4_ind_win_t *w, int o, f64v x, f64v old, f64v P, f64v ip,
                                                              f64v *mean, f64v *var) {
  const f64v zero = S(0.0);
  const f64v K = ld(w->k + o);
  const f64v d = x - K, dold = old - K;
  f64v S1 = ld(w->s1 + o) + (d - dold), S2 = ld(w->s2 + o) + (d * d - dold * dold);
  const f64v t1 = ld(w->t1 + o) + d, t2 = ld(w->t2 + o) + d * d, ph = ld(w->ph + o) + VK(1.0);
  const i64v wrap = (i64v)(ph == P);
  f64v K2 = K;
  if (BOT4_UNLIKELY(any_lane(wrap))) {
    const f64v delta = t1 * ip;
    const f64v s1w = t1 - P * delta;
    const f64v s2w = t2 - delta * (t1 + s1w);
    K2 = sel(wrap, K + delta, K);
    S1 = sel(wrap, s1w, S1);
    S2 = sel(wrap, s2w, S2);
    st(w->k + o, K2);
    st(w->t1 + o, sel(wrap, zero, t1));
    st(w->t2 + o, sel(wrap, zero, t2));
    st(w->ph + o, sel(wrap, zero, ph));
  } else {
    st(w->t1 + o, t1);
    st(w->t2 + o, t2);
    st(w->ph + o, ph);
  }
  st(w->s1 + o, S1);
  st(w->s2 + o, S2);
  const f64v m1 = S1 * ip;
  const f64v v = S2 * ip - m1 * m1;
  *mean = K2 + m1;
  *var = sel((i64v)(v < VK(1e-14)), zero, v); /* TA_IS_ZERO_OR_NEG */
}

/* win_steady in lockstep (all lanes at one phase: `wrap` says whether this update ends a period for
 * all of them): the same arithmetic, the phase test once for the group instead of per lane. */
static inline __attribute__((always_inline)) void win_lock(bot4_ind_win_t *w, int o, f64v x, f64v old, f64v p, f64v ip,
                                                            int wrap, f64v *mean, f64v *var) {
  const f64v K = ld(w->k + o);
  const f64v d = x - K;
  const f64v t1 = ld(w->t1 + o) + d, t2 = ld(w->t2 + o) + d * d;
  f64v K2 = K, S1, S2;
  if (BOT4_LIKELY(!wrap)) {
    const f64v dold = old - K;
    S1 = ld(w->s1 + o) + (d - dold);
    S2 = ld(w->s2 + o) + (d * d - dold * dold);
    st(w->t1 + o, t1);
    st(w->t2 + o, t2);
  } else { /* the fresh pair replaces the running one (win_steady computes and discards the running sums) */
    const f64v delta = t1 * ip;
    S1 = t1 - p * delta;
    S2 = t2 - delta * (t1 + S1);
    K2 = K + delta;
    st(w->k + o, K2);
    st(w->t1 + o, S(0.0));
    st(w->t2 + o, S(0.0));
  }
  st(w->s1 + o, S1);
  st(w->s2 + o, S2);
  const f64v m1 = S1 * ip;
  const f64v v = S2 * ip - m1 * m1;
  *mean = K2 + m1;
  *var = sel((i64v)(v < VK(1e-14)), S(0.0), v); /* TA_IS_ZERO_OR_NEG */
}

/* 1 when every lane of a comparison mask is set */
static inline int all_lanes(i64v m) {
#if BOT4_LANES == 8
  return _mm512_movepi64_mask((__m512i)m) == 0xff;
#elif BOT4_LANES == 4
  return _mm256_movemask_pd((__m256d)m) == 0xf;
#else
  return _mm_movemask_pd((__m128d)m) == 0x3;
#endif
}

/* The hot case of update_group: all 8 lanes update, every lane is past every warm-up and at the
 * same ring slot (always so for instruments fed together). The step functions' arithmetic with
 * warm 0 and `has` all ones (same bits as update_group_k), without its per-lane bookkeeping: the
 * leaving values are whole ring rows, written back as whole rows. `lock`: the group is in lockstep
 * (G->lock): one phase per window and one ring slot for all lanes, kept in G->lock; else per lane
 * in the phase and head rows.
 * The divider's work (square roots, quotients: long latencies on one unit) comes last in program
 * order, so that while it finishes the next update's other work is already under way. */
static inline __attribute__((always_inline)) void update_steady_k(const bot4_ind_set_t *s, const prm_t *P,
                                                                  bot4_ind_group_t *restrict G, const double *c,
                                                                  const double *h, const double *lo, const double *v,
                                                                  const int vw, const int shared, const int lock) {
  const uint32_t R = s->ring, hd = lock ? G->lock.hd : (uint32_t)G->head[0];
  double *ring = (double *)(G + 1);
#define BACK(p) (ring + (size_t)(hd >= (p) ? hd - (p) : hd + R - (p)) * SLOT_F64)
  const double *pb = BACK(s->cfg.bb);
  const double *ps = shared || P->sma_is_bb ? pb : BACK(s->cfg.sma);
  const double *pz = shared || P->z_is_bb ? pb : P->z_is_sma ? ps : BACK(s->cfg.z);
  const double *pvw = vw ? BACK(s->cfg.vwap) : NULL;
#undef BACK
  double *row = ring + (size_t)hd * SLOT_F64;
  const i64v all = (i64v){0} - 1;
  const int own_sma = !shared && !P->sma_is_bb, own_z = !shared && !P->z_is_bb && !P->z_is_sma;
  /* lockstep: this update ends a period of the window (phase p-1 before it) */
  const int w_bb = lock && G->lock.ph_bb + 1 == s->cfg.bb, w_sma = lock && own_sma && G->lock.ph_sma + 1 == s->cfg.sma;
  const int w_z = lock && own_z && G->lock.ph_z + 1 == s->cfg.z, w_vw = lock && vw && G->lock.ph_vw + 1 == s->cfg.vwap;
  enum { K = BOT4_STEPS };
  f64v x[K], mb[K], vb[K], mz[K], vz[K], g[K], l[K], spv[K], sv[K];
#pragma GCC unroll 8
  for (int k = 0; k < K; k++) {
    const int o = k * L;
    x[k] = ld(c + o);
    const f64v prev = ld(G->last + o);
    f64v ms, vs;
    if (lock) win_lock(&G->w_bb, o, x[k], ld(pb + o), PV(P, VC_BB_P), PV(P, VC_BB_I), w_bb, &mb[k], &vb[k]);
    else win_steady(&G->w_bb, o, x[k], ld(pb + o), PV(P, VC_BB_P), PV(P, VC_BB_I), &mb[k], &vb[k]);
    if (own_sma) {
      if (lock) win_lock(&G->w_sma, o, x[k], ld(ps + o), PV(P, VC_SMA_P), PV(P, VC_SMA_I), w_sma, &ms, &vs);
      else win_steady(&G->w_sma, o, x[k], ld(ps + o), PV(P, VC_SMA_P), PV(P, VC_SMA_I), &ms, &vs);
    } else {
      ms = mb[k], vs = vb[k];
    }
    if (shared || P->z_is_bb) mz[k] = mb[k], vz[k] = vb[k];
    else if (P->z_is_sma) mz[k] = ms, vz[k] = vs;
    else if (lock) win_lock(&G->w_z, o, x[k], ld(pz + o), PV(P, VC_Z_P), PV(P, VC_Z_I), w_z, &mz[k], &vz[k]);
    else win_steady(&G->w_z, o, x[k], ld(pz + o), PV(P, VC_Z_P), PV(P, VC_Z_I), &mz[k], &vz[k]);
    st(G->sma + o, ms);
    st(G->bb_middle + o, mb[k]);
    { /* rsi_step up to its quotient */
      const f64v diff = x[k] - prev, zero = S(0.0);
      const f64v gain = vmax(zero, diff), loss = vmax(-diff, zero);
      g[k] = (ld(G->rsi_g + o) * PV(P, VC_RSI_PM1) + gain) * PV(P, VC_RSI_I);
      l[k] = (ld(G->rsi_l + o) * PV(P, VC_RSI_PM1) + loss) * PV(P, VC_RSI_I);
      st(G->rsi_g + o, g[k]);
      st(G->rsi_l + o, l[k]);
    }
    ema_step(G, o, x[k], all, S(0.0), P, 0);
    f64v ln, sg, hs;
    macd_step(G, o, x[k], all, S(0.0), P, 0, &ln, &sg, &hs);
    st(G->macd + o, ln);
    st(G->macd_hist + o, hs);
    const f64v hh = ld(h + o), ll = ld(lo + o), vv = ld(v + o);
    atr_step(G, o, hh, ll, prev, all, S(0.0), P, 0);
    /* vwap_step up to its quotient; a tick (h = lo = c) in every lane: the typical price is the
     * close, no division */
    const f64v pv = (all_lanes((i64v)(hh == ll) & (i64v)(ll == x[k])) ? x[k] : typical(hh, ll, x[k])) * vv;
    if (vw) {
      const f64v zero = S(0.0);
      const f64v a = ld(G->v_pv + o) + (pv - ld(pvw + BOT4_GROUP + o)), b = ld(G->v_v + o) + (vv - ld(pvw + 2 * BOT4_GROUP + o));
      const f64v tpv = ld(G->v_tpv + o) + pv, tv = ld(G->v_tv + o) + vv;
      if (lock) {
        spv[k] = w_vw ? tpv : a;
        sv[k] = w_vw ? tv : b;
        st(G->v_tpv + o, w_vw ? zero : tpv);
        st(G->v_tv + o, w_vw ? zero : tv);
      } else {
        const f64v ph = ld(G->v_ph + o) + S(1.0);
        const i64v wrap = (i64v)(ph == PV(P, VC_VW_P));
        spv[k] = sel(wrap, tpv, a);
        sv[k] = sel(wrap, tv, b);
        st(G->v_tpv + o, sel(wrap, zero, tpv));
        st(G->v_tv + o, sel(wrap, zero, tv));
        st(G->v_ph + o, sel(wrap, zero, ph));
      }
    } else {
      spv[k] = ld(G->v_pv + o) + pv;
      sv[k] = ld(G->v_v + o) + vv;
    }
    st(G->v_pv + o, spv[k]);
    st(G->v_v + o, sv[k]);
    st(G->count + o, ld(G->count + o) + VK(1.0));
    st(G->last + o, x[k]);
    st(row + o, x[k]);
    if (vw) {
      st(row + BOT4_GROUP + o, pv);
      st(row + 2 * BOT4_GROUP + o, vv);
    }
  }
  const uint32_t next = hd + 1 == R ? 0 : hd + 1;
  if (lock) {
    G->lock.hd = next;
    G->lock.ph_bb = w_bb ? 0 : G->lock.ph_bb + 1;
    if (own_sma) G->lock.ph_sma = w_sma ? 0 : G->lock.ph_sma + 1;
    if (own_z) G->lock.ph_z = w_z ? 0 : G->lock.ph_z + 1;
    if (vw) G->lock.ph_vw = w_vw ? 0 : G->lock.ph_vw + 1;
  } else {
    for (int k = 0; k < BOT4_STEPS; k++) st(G->head + k * L, S((double)next));
  }
  /* the quotients' operands are read back from the rows just stored (forwarded from the store
   * queue) rather than kept in registers across the first part, which would spill them */
  __asm__ volatile("" ::: "memory");
#pragma GCC unroll 8
  for (int k = 0; k < K; k++) {
    const int o = k * L;
    const f64v mbk = ld(G->bb_middle + o), xk = ld(G->last + o);
    const f64v sdb = vsqrt(vb[k]), wd = sdb * PV(P, VC_BB_K);
    st(G->bb_upper + o, mbk + wd);
    st(G->bb_lower + o, mbk - wd);
    const f64v sd = shared || P->z_is_bb ? sdb : vsqrt(vz[k]);
    const f64v gk = ld(G->rsi_g + o), tot = gk + ld(G->rsi_l + o);
    st(G->rsi + o, sel((i64v)(tot < VK(1e-14)), S(0.0), VK(100.0) * (gk / tot))); /* TA_IS_ZERO */
    const f64v svk = ld(G->v_v + o);
    st(G->vwap + o, sel((i64v)(svk > S(0.0)), ld(G->v_pv + o) / svk, VK(NAN)));
    const f64v mzk = shared || P->z_is_bb ? mbk : mz[k];
    st(G->zscore + o, sel((i64v)(sd > S(0.0)), (xk - mzk) / sd, S(0.0)));
  }
}

/* update_steady_k specialised on a windowed VWAP and on SMA and z-score sharing Bollinger's window
 * (the defaults): the configuration tests fold away */
#define STEADY_FN(name, LOCK)                                                                            \
  static __attribute__((noinline)) void name(const bot4_ind_set_t *s, const prm_t *P, bot4_ind_group_t *restrict G, \
                                             const double *c, const double *h, const double *lo, const double *v) { \
    switch (P->steady_kind) {                                                                            \
    case 0: update_steady_k(s, P, G, c, h, lo, v, 0, 0, LOCK); break;                                    \
    case 1: update_steady_k(s, P, G, c, h, lo, v, 0, 1, LOCK); break;                                    \
    case 2: update_steady_k(s, P, G, c, h, lo, v, 1, 0, LOCK); break;                                    \
    default: update_steady_k(s, P, G, c, h, lo, v, 1, 1, LOCK); break;                                   \
    }                                                                                                    \
  }
STEADY_FN(update_steady, 0)
STEADY_FN(update_lock, 1)

/* Lockstep (G->lock) is entered after an update that leaves every lane with the same count, past
 * every warm-up (so at one ring slot and one phase of each window: the head and phase rows are
 * whole functions of the count), and left before any other path runs or a lane is reset: the
 * per-lane rows are written back. */
static void lock_leave(bot4_ind_group_t *G) {
  const double hd = G->lock.hd, pb = G->lock.ph_bb, ps = G->lock.ph_sma, pz = G->lock.ph_z, pv = G->lock.ph_vw;
  for (int l = 0; l < BOT4_GROUP; l++) {
    G->head[l] = hd;
    G->w_bb.ph[l] = pb;
    G->w_sma.ph[l] = ps;
    G->w_z.ph[l] = pz;
    G->v_ph[l] = pv;
  }
  G->lock.on = 0;
}

static void lock_try(const prm_t *P, bot4_ind_group_t *G) {
  const double c0 = G->count[0];
  if (!(c0 >= P->warm_end)) return;
  for (int l = 1; l < BOT4_GROUP; l++)
    if (G->count[l] != c0 || G->head[l] != G->head[0] || G->w_bb.ph[l] != G->w_bb.ph[0] || G->w_sma.ph[l] != G->w_sma.ph[0] ||
        G->w_z.ph[l] != G->w_z.ph[0] || G->v_ph[l] != G->v_ph[0])
      return;
  G->lock.hd = (uint32_t)G->head[0];
  G->lock.ph_bb = (uint32_t)G->w_bb.ph[0];
  G->lock.ph_sma = (uint32_t)G->w_sma.ph[0];
  G->lock.ph_z = (uint32_t)G->w_z.ph[0];
  G->lock.ph_vw = (uint32_t)G->v_ph[0];
  G->lock.on = 1;
}

/* every lane past its warm-up and at the same ring slot: update_steady's condition */
static inline int group_steady(const prm_t *P, const bot4_ind_group_t *G) {
  const f64v we = S(P->warm_end), h0 = S(G->head[0]);
  i64v off = (i64v){0};
  for (int k = 0; k < BOT4_STEPS; k++) off |= (i64v)(ld(G->count + k * L) < we) | (i64v)(ld(G->head + k * L) != h0);
  return !any_lane(off);
}

static __attribute__((noinline)) void update_general(const bot4_ind_set_t *s, const prm_t *P, bot4_ind_group_t *restrict G,
                                                     const double *c, const double *h, const double *lo, const double *v,
                                                     uint32_t mask) {
  int warm = 0;
  for (int l = 0; l < BOT4_GROUP; l++) warm |= (mask >> l & 1) & (G->count[l] < P->warm_end);
  if (mask == 0xff) {
    if (warm) update_group_k(s, P, G, c, h, lo, v, mask, 1, 1);
    else update_group_k(s, P, G, c, h, lo, v, mask, 0, 1);
  } else {
    if (warm) update_group_k(s, P, G, c, h, lo, v, mask, 1, 0);
    else update_group_k(s, P, G, c, h, lo, v, mask, 0, 0);
  }
}

/* every path but lockstep: leaves lockstep first, tries to enter it after */
static __attribute__((noinline)) void update_other(const bot4_ind_set_t *s, const prm_t *P, bot4_ind_group_t *restrict G,
                                                   const double *c, const double *h, const double *lo, const double *v,
                                                   uint32_t mask) {
  if (G->lock.on) lock_leave(G);
  if (mask == 0xff && group_steady(P, G)) update_steady(s, P, G, c, h, lo, v);
  else update_general(s, P, G, c, h, lo, v, mask);
  lock_try(P, G);
}

static inline void update_group(const bot4_ind_set_t *s, const prm_t *P, bot4_ind_group_t *restrict G, const double *c,
                                const double *h, const double *lo, const double *v, uint32_t mask) {
  if (BOT4_LIKELY(G->lock.on && mask == 0xff)) update_lock(s, P, G, c, h, lo, v);
  else update_other(s, P, G, c, h, lo, v, mask);
}

/* One incremental step for group g: lane l takes close c[l], high h[l], low lo[l], volume v[l]
 * when bit l of mask is set (a tick: h = lo = c = price, v = size). */
BOT4_API int32_t bot4_ind_update8(bot4_ind_set_t *s, uint32_t g, const double *c, const double *h, const double *lo,
                                  const double *v, uint32_t mask) {
  if (BOT4_UNLIKELY(g >= s->groups)) return -1;
  const prm_t *P = prm_of(s);
  bot4_ind_group_t *G = group_at(s, g);
  if (BOT4_LIKELY(G->lock.on && (mask & 0xff) == 0xff)) { /* update_lock, inlined: the hot call */
    switch (P->steady_kind) {
    case 0: update_steady_k(s, P, G, c, h, lo, v, 0, 0, 1); break;
    case 1: update_steady_k(s, P, G, c, h, lo, v, 0, 1, 1); break;
    case 2: update_steady_k(s, P, G, c, h, lo, v, 1, 0, 1); break;
    default: update_steady_k(s, P, G, c, h, lo, v, 1, 1, 1); break;
    }
  } else {
    update_other(s, P, G, c, h, lo, v, mask & 0xff);
  }
  return 0;
}

/* Staging for record batches: consecutive records of one group are gathered lane by lane and
 * applied as one 8-wide step; a second record for a staged lane (or another group) flushes first,
 * so every instrument still sees its records in order. */
typedef struct stage {
  double BOT4_ALIGNED(64) c[8], h[8], l[8], v[8];
  uint32_t g, mask;
} stage_t;

static inline void stage_flush(const bot4_ind_set_t *s, const prm_t *P, stage_t *sg) {
  if (sg->mask) update_group(s, P, group_at((bot4_ind_set_t *)s, sg->g), sg->c, sg->h, sg->l, sg->v, sg->mask);
  sg->mask = 0;
}

static inline void stage_put(const bot4_ind_set_t *s, const prm_t *P, stage_t *sg, uint32_t id, double c, double h,
                             double l, double v) {
  const uint32_t g = id / BOT4_GROUP, lane = id % BOT4_GROUP;
  if (sg->mask && (g != sg->g || (sg->mask >> lane & 1))) stage_flush(s, P, sg);
  sg->g = g;
  sg->c[lane] = c;
  sg->h[lane] = h;
  sg->l[lane] = l;
  sg->v[lane] = v;
  sg->mask |= 1u << lane;
}

static void stage_init(stage_t *sg) {
  for (int l = 0; l < 8; l++) sg->c[l] = sg->h[l] = sg->l[l] = sg->v[l] = 0;
  sg->mask = 0;
  sg->g = 0;
}

/* Applies n tick records at slots start.. (masked) of a ring's record area (or a flat array with
 * mask 0xffffffff): each trade updates its instrument's indicators (price, size). Returns trades
 * applied. */
BOT4_API int32_t bot4_ind_apply(bot4_ind_set_t *restrict s, const bot4_tick_t *restrict rec, uint32_t mask,
                                uint32_t start, int32_t n) {
  const prm_t *P = prm_of(s);
  stage_t sg;
  stage_init(&sg);
  const uint32_t cap = s->instruments;
  int32_t applied = 0;
  uint64_t skipped = 0, rejected = 0;
  for (int32_t k = 0; k < n; k++) {
    const bot4_tick_t *t = &rec[(start + (uint32_t)k) & mask];
    if (t->kind != BOT4_TICK_TRADE) { skipped++; continue; }
    const double px = t->price, q = t->size;
    if (BOT4_UNLIKELY(t->instrument >= cap || !(q > 0) || !isfinite(px) || !isfinite(q))) { rejected++; continue; }
    stage_put(s, P, &sg, t->instrument, px, px, px, q);
    applied++;
  }
  stage_flush(s, P, &sg);
  s->applied += (uint64_t)applied;
  s->skipped += skipped;
  s->rejected += rejected;
  return applied;
}

/* Drives the indicators by closed bars (bot4_bar_t records from bot4_bars_apply): close, high,
 * low and volume of each bar. Returns bars applied. */
BOT4_API int32_t bot4_ind_apply_bars(bot4_ind_set_t *restrict s, const bot4_bar_t *restrict bars, int32_t n) {
  const prm_t *P = prm_of(s);
  stage_t sg;
  stage_init(&sg);
  int32_t applied = 0;
  for (int32_t k = 0; k < n; k++) {
    const bot4_bar_t *b = &bars[k];
    if (BOT4_UNLIKELY(b->instrument >= s->instruments || !isfinite(b->close) || !(b->volume >= 0))) {
      s->rejected++;
      continue;
    }
    stage_put(s, P, &sg, b->instrument, b->close, b->high, b->low, b->volume);
    applied++;
  }
  stage_flush(s, P, &sg);
  s->applied += (uint64_t)applied;
  return applied;
}

/* ---- batch: W series at once, layout [t][W] (W a multiple of 8, <= BOT4_IND_BATCH_MAX), or one
 * series (W = 1, contiguous). Same step functions as the incremental form. ---- */

typedef struct batch {
  bot4_ind_group_t g[BOT4_IND_BATCH_MAX / BOT4_GROUP];
} batch_t;

static int batch_ok(int32_t n, int32_t W) {
  return n >= 0 && (W == 1 || (W > 0 && W % BOT4_GROUP == 0 && W <= BOT4_IND_BATCH_MAX));
}

static void batch_init(batch_t *b, int32_t W) {
  const int32_t groups = W == 1 ? 1 : W / BOT4_GROUP;
  memset(b->g, 0, (size_t)groups * sizeof(bot4_ind_group_t));
}

/* input sub-vector o of group gi at time t; W == 1: the one series in every lane */
static inline f64v in_at(const double *x, int64_t t, int32_t W, int gi, int o) {
  return W == 1 ? S(x[t]) : ld(x + t * W + gi * BOT4_GROUP + o);
}
/* a non-temporal (streaming) store: output that will not be read back soon skips the cache */
static inline void stn(double *p, f64v v) {
#if BOT4_LANES == 8
  _mm512_stream_pd(p, (__m512d)v);
#elif BOT4_LANES == 4
  _mm256_stream_pd(p, (__m256d)v);
#else
  _mm_stream_pd(p, (__m128d)v);
#endif
}
/* ntc: the steady loop of a large batch streams its output (see batch_nt) */
static inline void out_at_(double *y, int64_t t, int32_t W, int gi, int o, f64v v, int ntc) {
  if (W == 1) y[t] = v[0];
  else if (ntc) stn(y + t * W + gi * BOT4_GROUP + o, v);
  else st(y + t * W + gi * BOT4_GROUP + o, v);
}
#define out_at(y, t, W, gi, o, v) out_at_(y, t, W, gi, o, v, ntc)

/* Streaming stores for a single-output batch whose output (n x W doubles) is 4 MiB or more: it is
 * written once and would only evict the input (measured: 1 in / 1 out at 1 M doubles, ~1.0 ns
 * per element streamed vs 1.2-1.5 through the cache). Not for several outputs: their interleaved
 * half-rows split the write-combining buffers (Bollinger went from ~3.6 to ~7 ns per price).
 * Each output must start on a 64-byte boundary (a group's rows are then whole aligned vectors). */
static int batch_nt(int64_t n, int32_t W, double *const *outs, int k) {
  if (k != 1 || W == 1 || n * W * 8 < ((int64_t)4 << 20)) return 0;
  for (int i = 0; i < k; i++)
    if ((uintptr_t)outs[i] & 63) return 0;
  return 1;
}

#define BATCH_LOOP_T(T0, T1, WARM, NTC, ...)                                                     \
  for (int64_t t = (T0); t < (T1); t++) {                                                       \
    const f64v cnt = S((double)(t + 1));                                                        \
    for (int gi = 0; gi < groups_; gi++)                                                        \
      for (int k = 0; k < steps_; k++) {                                                        \
        const int o = k * L, warm = (WARM), ntc = (NTC);                                        \
        bot4_ind_group_t *G = &b.g[gi];                                                         \
        __VA_ARGS__                                                                             \
      }                                                                                         \
  }

/* Runs the body for t = 0..n-1 over every group and sub-vector: warm-up steps (t < WARM_END)
 * with warm = 1, the rest with warm = 0; `nt` (a local of the kernel) streams the steady loop's
 * output. */
#define BATCH_LOOP(WARM_END, ...)                                                               \
  do {                                                                                          \
    const int32_t groups_ = W == 1 ? 1 : W / BOT4_GROUP, steps_ = W == 1 ? 1 : BOT4_STEPS;      \
    const int64_t wend_ = (int64_t)(WARM_END), we_ = wend_ < n ? wend_ : n;                     \
    const i64v has = (i64v){0} - 1;                                                             \
    BATCH_LOOP_T(0, we_, 1, 0, __VA_ARGS__)                                                     \
    if (nt) {                                                                                   \
      BATCH_LOOP_T(we_, n, 0, 1, __VA_ARGS__)                                                   \
      _mm_sfence();                                                                             \
    } else {                                                                                    \
      BATCH_LOOP_T(we_, n, 0, 0, __VA_ARGS__)                                                   \
    }                                                                                           \
  } while (0)

/* the previous input (t = 0: none, 0; the step functions do not read it on a series' first step) */
static inline f64v prev_at(const double *x, int64_t t, int32_t W, int gi, int o) {
  return t > 0 ? in_at(x, t - 1, W, gi, o) : S(0.0);
}
static inline f64v old_at(const double *x, int64_t t, int64_t p, int32_t W, int gi, int o) {
  return t >= p ? in_at(x, t - p, W, gi, o) : S(0.0);
}

static bot4_ind_config_t cfg1(void) {
  bot4_ind_config_t c = {20, 20, 20, 14, 12, 26, 9, 14, 20, 0, 2.0};
  return c;
}

/* ---- one series (W = 1) past its warm-up: the step functions' arithmetic on scalars, state in
 * registers (the vector form broadcasts the one series into every lane and keeps its state in
 * memory: a store and reload on each step's dependency chain). Same operations in the same order,
 * so the same bits as lane 0 of the vector form (IEEE arithmetic, no contraction). ---- */

/* A long series runs as PAR1 chunks side by side (independent dependency chains, one per chunk),
 * each chunk but the first started from a guessed state. Then each later chunk is repaired in
 * order: from the true state (the previous chunk's last, already exact) the steps are recomputed
 * beside the chunk's guessed trajectory (deterministic: the same operations from the same guess)
 * until the two states are equal bit for bit; from there on the chunk's results are the exact
 * ones. Both Wilder's and the EMA's smoothing contract (by (p-1)/p, (p-1)/(p+1) per step), so the
 * repair is some hundreds of steps; if the states never met it would recompute the whole chunk,
 * still exact. Results: the same bits as the sequential form. */
enum { PAR1 = 8, PAR1_MIN = 1 << 15 /* steps: below this, sequential */ };
static inline int same_bits(double a, double b) {
  uint64_t u, v;
  memcpy(&u, &a, 8);
  memcpy(&v, &b, 8);
  return u == v;
}

/* ema_step, warm 0 */
static inline double ema1_step(double s, double xv, double k) { return (xv - s) * k + s; }
static void ema1_seq(const double *restrict x, int64_t t0, int64_t n, double s, double k, double *restrict out) {
  for (int64_t t = t0; t < n; t++) out[t] = s = ema1_step(s, x[t], k);
}
static void ema1_steady(const double *restrict x, int64_t t0, int64_t n, double s, double k, double *restrict out) {
  const int64_t c = (n - t0) / PAR1;
  if (n - t0 < PAR1_MIN) {
    ema1_seq(x, t0, n, s, k, out);
    return;
  }
  double st[PAR1], guess[PAR1];
  for (int j = 0; j < PAR1; j++) st[j] = guess[j] = j == 0 ? s : x[t0 + j * c - 1];
  const double *xs = x + t0;
  double *os = out + t0;
  for (int64_t i = 0; i < c; i++)
    for (int j = 0; j < PAR1; j++) os[j * c + i] = st[j] = ema1_step(st[j], xs[j * c + i], k);
  ema1_seq(x, t0 + PAR1 * c, n, st[PAR1 - 1], k, out); /* the remainder after the last chunk */
  for (int j = 1; j < PAR1; j++) {
    const int64_t b0 = t0 + j * c, b1 = j == PAR1 - 1 ? n : b0 + c;
    double tr = out[b0 - 1], gs = guess[j];
    for (int64_t t = b0; t < b1; t++) {
      tr = ema1_step(tr, x[t], k);
      gs = ema1_step(gs, x[t], k);
      if (same_bits(tr, gs)) break;
      out[t] = tr;
    }
  }
}

/* rsi_step, warm 0 */
typedef struct { double g, l; } rsi1_t;
static inline rsi1_t rsi1_step(rsi1_t s, double diff, double pm1, double ri) {
  /* the selects as masks in SSE registers (a branch on the sign of a price change is a coin toss) */
  const __m128d dv = _mm_set_sd(diff), neg = _mm_cmplt_sd(dv, _mm_setzero_pd());
  const double gain = _mm_cvtsd_f64(_mm_andnot_pd(neg, dv));
  const double loss = _mm_cvtsd_f64(_mm_and_pd(neg, _mm_xor_pd(dv, _mm_set_sd(-0.0))));
  return (rsi1_t){(s.g * pm1 + gain) * ri, (s.l * pm1 + loss) * ri};
}
static inline double rsi1_out(rsi1_t s) {
  const double tot = s.g + s.l;
  return tot < 1e-14 ? 0.0 : 100.0 * (s.g / tot); /* TA_IS_ZERO */
}
static void rsi1_seq(const double *restrict x, int64_t t0, int64_t n, rsi1_t s, double pm1, double ri, double *restrict out) {
  for (int64_t t = t0; t < n; t++) {
    s = rsi1_step(s, x[t] - x[t - 1], pm1, ri);
    out[t] = rsi1_out(s);
  }
}
static void rsi1_steady(const double *restrict x, int64_t t0, int64_t n, double g, double l, double pm1, double ri,
                        double *restrict out) {
  const rsi1_t s0 = {g, l};
  const int64_t c = (n - t0) / PAR1;
  if (n - t0 < PAR1_MIN) {
    rsi1_seq(x, t0, n, s0, pm1, ri, out);
    return;
  }
  /* chains side by side: gains and losses per block into small buffers, then the ratio as vectors */
  enum { RB = 256 };
  double gb[PAR1][RB], lb[PAR1][RB];
  rsi1_t st[PAR1], guess[PAR1];
  for (int j = 0; j < PAR1; j++) {
    const double d = fabs(x[t0 + j * c] - x[t0 + j * c - 1]);
    st[j] = guess[j] = j == 0 ? s0 : (rsi1_t){d, d};
  }
  for (int64_t i0 = 0; i0 < c; i0 += RB) {
    const int m = c - i0 < RB ? (int)(c - i0) : RB;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < PAR1; j++) {
        const int64_t t = t0 + j * c + i0 + i;
        st[j] = rsi1_step(st[j], x[t] - x[t - 1], pm1, ri);
        gb[j][i] = st[j].g;
        lb[j][i] = st[j].l;
      }
    for (int j = 0; j < PAR1; j++) {
      double *o = out + t0 + j * c + i0;
      int i = 0;
      for (; i + L <= m; i += L) {
        f64v gv, lv;
        memcpy(&gv, gb[j] + i, sizeof gv);
        memcpy(&lv, lb[j] + i, sizeof lv);
        const f64v tot = gv + lv;
        const f64v r = sel((i64v)(tot < S(1e-14)), S(0.0), S(100.0) * (gv / tot));
        memcpy(o + i, &r, sizeof r);
      }
      for (; i < m; i++) o[i] = rsi1_out((rsi1_t){gb[j][i], lb[j][i]});
    }
  }
  rsi1_seq(x, t0 + PAR1 * c, n, st[PAR1 - 1], pm1, ri, out);
  /* repair: the true state at a chunk's start is the previous chunk's last (st[j] after the side by
   * side pass, exact once that chunk is repaired); recompute beside the guessed trajectory until
   * they meet */
  rsi1_t tr = st[0];
  for (int j = 1; j < PAR1; j++) {
    const int64_t b0 = t0 + j * c, b1 = j == PAR1 - 1 ? n : b0 + c;
    rsi1_t gs = guess[j];
    int met = 0;
    for (int64_t t = b0; t < b1 && !met; t++) {
      const double d = x[t] - x[t - 1];
      tr = rsi1_step(tr, d, pm1, ri);
      gs = rsi1_step(gs, d, pm1, ri);
      met = same_bits(tr.g, gs.g) && same_bits(tr.l, gs.l);
      out[t] = rsi1_out(tr);
    }
    if (met) tr = st[j]; /* the chunk's own end state is exact (never read for the last chunk) */
  }
}

/* win_steady on one series, Bollinger outputs. Every step of a batch is an update, so the window's
 * phase is t mod p: the rebuild falls on t = p-1 mod p (the warm-up ends on one, at t = p-1).
 * Blocks of BB1_BLOCK steps: the running sums in scalar registers write mean and variance (middle
 * and upper as scratch), then the square roots and bands are vectors over the block. */
enum { BB1_BLOCK = 512 };
static void bb1_steady(const double *restrict x, int64_t t0, int64_t n, uint32_t p, double k_dev, bot4_ind_win_t *w,
                       double *restrict upper, double *restrict middle, double *restrict lower) {
  const double P = p, ip = 1.0 / p;
  double K = w->k[0], S1 = w->s1[0], S2 = w->s2[0], T1 = w->t1[0], T2 = w->t2[0];
  int64_t left = (int64_t)p - 1 - t0 % p; /* steps before the next rebuild */
  for (int64_t b0 = t0; b0 < n; b0 += BB1_BLOCK) {
    const int64_t b1 = b0 + BB1_BLOCK < n ? b0 + BB1_BLOCK : n;
    for (int64_t t = b0; t < b1;) {
      const int64_t run = left < b1 - t ? left : b1 - t; /* steps without a rebuild */
      for (const int64_t e = t + run; t < e; t++) {
        const double d = x[t] - K, dold = x[t - p] - K;
        S1 = S1 + (d - dold);
        S2 = S2 + (d * d - dold * dold);
        T1 = T1 + d;
        T2 = T2 + d * d;
        const double m1 = S1 * ip, v = S2 * ip - m1 * m1;
        middle[t] = K + m1;
        upper[t] = v < 1e-14 ? 0.0 : v; /* TA_IS_ZERO_OR_NEG */
      }
      left -= run;
      if (t == b1) break;
      /* the rebuild step (left == 0) */
      const double d = x[t] - K;
      /* the fresh pair replaces the running one (win_steady computes and discards the running sums) */
      const double t1 = T1 + d, t2 = T2 + d * d;
      const double delta = t1 * ip;
      const double s1w = t1 - P * delta;
      S2 = t2 - delta * (t1 + s1w);
      S1 = s1w;
      K = K + delta;
      T1 = 0.0;
      T2 = 0.0;
      const double m1 = S1 * ip, v = S2 * ip - m1 * m1;
      middle[t] = K + m1;
      upper[t] = v < 1e-14 ? 0.0 : v;
      left = p - 1;
      t++;
    }
    const f64v kd = S(k_dev);
    int64_t t = b0;
    for (; t + L <= b1; t += L) {
      f64v m, v;
      memcpy(&m, middle + t, sizeof m);
      memcpy(&v, upper + t, sizeof v);
      const f64v wd = vsqrt(v) * kd, u = m + wd, lo = m - wd;
      memcpy(upper + t, &u, sizeof u);
      memcpy(lower + t, &lo, sizeof lo);
    }
    for (; t < b1; t++) {
      const double wd = sqrt(upper[t]) * k_dev, m = middle[t];
      upper[t] = m + wd;
      lower[t] = m - wd;
    }
  }
}

/* EMA past the warm-up, W a multiple of 8: ema_step's arithmetic (same bits). A long batch runs as
 * 2 or EMAW_C chunks of rows side by side (more streams in flight: one stream in and one out reads
 * and writes memory ~1.5x slower than two or four here). Chunk j > 0 starts `ov` rows early from a guess
 * (the price), so by its first own row its state has forgotten the guess (the smoothing contracts
 * by 1-k per row; ov rows take 2^-60 off); then it is repaired: from the true state (the previous
 * chunk's last row, exact by then) rows are recomputed until a recomputed row equals the chunk's
 * row bit for bit, from where on the chunk is the exact result. */
enum { EMAW_C = 4 };
static void emaw_steady(const double *x, int64_t t0, int64_t n, int32_t W, double k, const batch_t *b, double *out,
                        int nt) {
  double st_[EMAW_C][BOT4_IND_BATCH_MAX] __attribute__((aligned(64)));
  const int32_t nv = W / L;
  const f64v kv = S(k);
  for (int gi = 0; gi < W / BOT4_GROUP; gi++) memcpy(st_[0] + gi * BOT4_GROUP, b->g[gi].ema, sizeof b->g[gi].ema);
  const int64_t R = n - t0;
  const double a = 1.0 - k;
  const int64_t ov = a > 0 ? (int64_t)ceil(-60.0 * M_LN2 / log(a)) + 1 : 1;
  /* measured (Zen3, 1 M prices): 64 series 2 chunks (1.12 vs 1.22 ns per price; 4: 1.25), 8 series 4 (0.96 vs 1.37) */
  int C = W >= 32 ? 2 : EMAW_C;
  if (R < (int64_t)C * (4 * ov + 256)) C = 1; /* the overlap at most a quarter of a chunk */
  if ((uintptr_t)out < (uintptr_t)(x + n * W) && (uintptr_t)x < (uintptr_t)(out + n * W)) C = 1; /* in place: the repair re-reads x */
  const int64_t c = C == 1 ? R : (R - ov) / C; /* rows per chunk (own rows) */
  int64_t beg[EMAW_C] = {0}, own[EMAW_C] = {0};
  for (int j = 0; j < C; j++) {
    own[j] = t0 + ov + j * c; /* first row the chunk writes (chunk 0: t0) */
    beg[j] = j == 0 ? t0 : own[j] - ov;
    if (j == 0) own[0] = t0;
  }
  for (int j = 1; j < C; j++) memcpy(st_[j], x + (beg[j] - 1) * W, (size_t)W * 8); /* the guess */
  const int64_t len = C == 1 ? R : c + ov; /* rows each chunk runs (chunk 0: ov + c as well) */
  for (int64_t i = 0; i < len; i++)
    for (int j = 0; j < C; j++) {
      const int64_t t = beg[j] + i;
      const double *xt = x + t * W;
      double *sj = st_[j], *yt = out + t * W;
      const int write = t >= own[j];
      for (int v = 0; v < nv; v++) {
        const f64v s = ld(sj + v * L);
        const f64v y = (ld(xt + v * L) - s) * kv + s;
        st(sj + v * L, y);
        if (write) {
          if (nt) stn(yt + v * L, y);
          else st(yt + v * L, y);
        }
      }
    }
  /* rows after the last chunk (fewer than C) */
  for (int64_t t = beg[C - 1] + len; t < n; t++)
    for (int v = 0; v < nv; v++) {
      const f64v s = ld(st_[C - 1] + v * L);
      const f64v y = (ld(x + t * W + v * L) - s) * kv + s;
      st(st_[C - 1] + v * L, y);
      if (nt) stn(out + t * W + v * L, y);
      else st(out + t * W + v * L, y);
    }
  if (nt) _mm_sfence();
  /* repair, chunk by chunk */
  for (int j = 1; j < C; j++) {
    for (int64_t t = own[j]; t < n; t++) {
      const double *prev = out + (t - 1) * W, *xt = x + t * W;
      double *yt = out + t * W;
      i64v diff = (i64v){0};
      for (int v = 0; v < nv; v++) {
        const f64v s = ld(prev + v * L);
        const f64v y = (ld(xt + v * L) - s) * kv + s;
        diff |= (i64v)y ^ (i64v)ld(yt + v * L);
        st(yt + v * L, y);
      }
      if (!any_lane(diff != (i64v){0})) break; /* this row was already the exact one: so are the rest */
    }
  }
}

/* Bollinger past the warm-up, W a multiple of 8: win_steady's arithmetic (same bits) without its
 * per-lane phase row — every lane of a batch updates on every step, so all wrap together, on
 * t = p-1 mod p (the warm-up ends on one) — and the period's rebuild as its own loop. Measured
 * (Zen3, 1 M prices, same run): 1.86-1.96 vs 2.01-2.04 ns per price for 64 series; 15-25% less
 * where the data sits in cache. Streaming stores lose here (3 outputs: 4.3-7.3 ns in every
 * arrangement tried: whole lines in turn, staged runs). */
static void bbw_steady(const double *x, int64_t t0, int64_t n, int32_t W, uint32_t p, double k_dev, batch_t *b,
                       double *upper, double *middle, double *lower) {
  const int32_t groups = W / BOT4_GROUP;
  const f64v Pv = S((double)p), ipv = S(1.0 / p), eps = S(1e-14), zero = S(0.0), kd = S(k_dev);
  uint32_t left = p - 1 - (uint32_t)(t0 % p); /* steps before the next rebuild */
  for (int64_t t = t0; t < n; t++) {
    const double *xt = x + t * W, *xo = x + (t - p) * W;
    double *mt = middle + t * W, *ut = upper + t * W, *lt = lower + t * W;
    if (BOT4_LIKELY(left != 0)) {
      left--;
      for (int gi = 0; gi < groups; gi++) {
        bot4_ind_win_t *w = &b->g[gi].w_bb;
        for (int k = 0; k < BOT4_STEPS; k++) {
          const int o = k * L, go = gi * BOT4_GROUP + o;
          const f64v K = ld(w->k + o);
          const f64v d = ld(xt + go) - K, dold = ld(xo + go) - K;
          const f64v S1 = ld(w->s1 + o) + (d - dold), S2 = ld(w->s2 + o) + (d * d - dold * dold);
          st(w->t1 + o, ld(w->t1 + o) + d);
          st(w->t2 + o, ld(w->t2 + o) + d * d);
          st(w->s1 + o, S1);
          st(w->s2 + o, S2);
          const f64v m1 = S1 * ipv;
          const f64v v = S2 * ipv - m1 * m1;
          const f64v mean = K + m1;
          const f64v wd = vsqrt(sel((i64v)(v < eps), zero, v)) * kd; /* TA_IS_ZERO_OR_NEG */
          st(mt + go, mean);
          st(ut + go, mean + wd);
          st(lt + go, mean - wd);
        }
      }
    } else { /* the rebuild: the fresh pair replaces the running one, K moves to the period's mean */
      left = p - 1;
      for (int gi = 0; gi < groups; gi++) {
        bot4_ind_win_t *w = &b->g[gi].w_bb;
        for (int k = 0; k < BOT4_STEPS; k++) {
          const int o = k * L, go = gi * BOT4_GROUP + o;
          const f64v K = ld(w->k + o);
          const f64v d = ld(xt + go) - K;
          const f64v t1 = ld(w->t1 + o) + d, t2 = ld(w->t2 + o) + d * d;
          const f64v delta = t1 * ipv;
          const f64v S1 = t1 - Pv * delta;
          const f64v S2 = t2 - delta * (t1 + S1);
          const f64v K2 = K + delta;
          st(w->k + o, K2);
          st(w->t1 + o, zero);
          st(w->t2 + o, zero);
          st(w->s1 + o, S1);
          st(w->s2 + o, S2);
          const f64v m1 = S1 * ipv;
          const f64v v = S2 * ipv - m1 * m1;
          const f64v mean = K2 + m1;
          const f64v wd = vsqrt(sel((i64v)(v < eps), zero, v)) * kd;
          st(mt + go, mean);
          st(ut + go, mean + wd);
          st(lt + go, mean - wd);
        }
      }
    }
  }
}

BOT4_API int32_t bot4_ind_batch_sma(const double *x, int32_t n, int32_t W, uint32_t p, double *out) {
  if (!batch_ok(n, W) || p < 1 || p > BOT4_IND_MAX_PERIOD) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {out};
  const int nt = batch_nt(n, W, outs_, 1);
  const double P = p, ip = 1.0 / p;
  BATCH_LOOP(p, {
    f64v mean, var;
    if (warm) win_step(&G->w_sma, o, in_at(x, t, W, gi, o), old_at(x, t, p, W, gi, o), has, cnt, P, ip, 1, &mean, &var);
    else win_steady(&G->w_sma, o, in_at(x, t, W, gi, o), in_at(x, t - p, W, gi, o), S(P), S(ip), &mean, &var);
    out_at(out, t, W, gi, o, warm ? sel((i64v)(cnt >= S(P)), mean, S(NAN)) : mean);
  });
  return 0;
}

BOT4_API int32_t bot4_ind_batch_bbands(const double *x, int32_t n, int32_t W, uint32_t p, double k_dev, double *upper,
                                       double *middle, double *lower) {
  if (!batch_ok(n, W) || p < 2 || p > BOT4_IND_MAX_PERIOD || !(k_dev > 0)) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {upper, middle, lower};
  const int nt = batch_nt(n, W, outs_, 3);
  const double P = p, ip = 1.0 / p;
  const int32_t n_all = n;
  if (n > (int32_t)p) n = p; /* the generic form for the warm-up only */
  BATCH_LOOP(p, {
    f64v mean, var;
    if (warm) win_step(&G->w_bb, o, in_at(x, t, W, gi, o), old_at(x, t, p, W, gi, o), has, cnt, P, ip, 1, &mean, &var);
    else win_steady(&G->w_bb, o, in_at(x, t, W, gi, o), in_at(x, t - p, W, gi, o), S(P), S(ip), &mean, &var);
    const f64v w = vsqrt(var) * S(k_dev);
    const i64v ok = (i64v)(cnt >= S(P));
    out_at(middle, t, W, gi, o, warm ? sel(ok, mean, S(NAN)) : mean);
    out_at(upper, t, W, gi, o, warm ? sel(ok, mean + w, S(NAN)) : mean + w);
    out_at(lower, t, W, gi, o, warm ? sel(ok, mean - w, S(NAN)) : mean - w);
  });
  if (n_all > n && W == 1) bb1_steady(x, n, n_all, p, k_dev, &b.g[0].w_bb, upper, middle, lower);
  else if (n_all > n) bbw_steady(x, n, n_all, W, p, k_dev, &b, upper, middle, lower);
  return 0;
}

BOT4_API int32_t bot4_ind_batch_zscore(const double *x, int32_t n, int32_t W, uint32_t p, double *out) {
  if (!batch_ok(n, W) || p < 2 || p > BOT4_IND_MAX_PERIOD) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {out};
  const int nt = batch_nt(n, W, outs_, 1);
  const double P = p, ip = 1.0 / p;
  BATCH_LOOP(p, {
    f64v mean, var;
    const f64v xv = in_at(x, t, W, gi, o);
    if (warm) win_step(&G->w_z, o, xv, old_at(x, t, p, W, gi, o), has, cnt, P, ip, 1, &mean, &var);
    else win_steady(&G->w_z, o, xv, in_at(x, t - p, W, gi, o), S(P), S(ip), &mean, &var);
    const f64v sd = vsqrt(var);
    const f64v zz = sel((i64v)(sd > S(0.0)), (xv - mean) / sd, S(0.0));
    out_at(out, t, W, gi, o, warm ? sel((i64v)(cnt >= S(P)), zz, S(NAN)) : zz);
  });
  return 0;
}

BOT4_API int32_t bot4_ind_batch_ema(const double *x, int32_t n, int32_t W, uint32_t p, double *out) {
  if (!batch_ok(n, W) || p < 1 || p > BOT4_IND_MAX_PERIOD) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {out};
  const int nt = batch_nt(n, W, outs_, 1);
  bot4_ind_config_t c = cfg1();
  c.ema = p;
  prm_t Pm;
  prm_init(&Pm, &c);
  const int32_t n_all = n;
  if (n > (int32_t)p) n = p; /* the generic form for the warm-up only */
  BATCH_LOOP(p, { out_at(out, t, W, gi, o, ema_step(G, o, in_at(x, t, W, gi, o), has, cnt, &Pm, warm)); });
  if (n_all > n && W == 1) ema1_steady(x, n, n_all, b.g[0].ema[0], Pm.ema_k, out);
  else if (n_all > n) emaw_steady(x, n, n_all, W, Pm.ema_k, &b, out, batch_nt(n_all, W, outs_, 1));
  return 0;
}

BOT4_API int32_t bot4_ind_batch_rsi(const double *x, int32_t n, int32_t W, uint32_t p, double *out) {
  if (!batch_ok(n, W) || p < 1 || p > BOT4_IND_MAX_PERIOD) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {out};
  const int nt = batch_nt(n, W, outs_, 1);
  bot4_ind_config_t c = cfg1();
  c.rsi = p;
  prm_t Pm;
  prm_init(&Pm, &c);
  const int32_t n_all = n;
  if (W == 1 && (int64_t)n > (int64_t)p + 1) n = p + 1; /* one series: the vector form for the warm-up only */
  BATCH_LOOP(p + 1, { out_at(out, t, W, gi, o, rsi_step(G, o, in_at(x, t, W, gi, o), prev_at(x, t, W, gi, o), has, cnt, &Pm, warm)); });
  if (n_all > n) {
    const bot4_ind_group_t *G = &b.g[0];
    rsi1_steady(x, n, n_all, G->rsi_g[0], G->rsi_l[0], Pm.rsi_pm1, Pm.rsi_i, out);
  }
  return 0;
}

BOT4_API int32_t bot4_ind_batch_macd(const double *x, int32_t n, int32_t W, uint32_t fast, uint32_t slow, uint32_t signal,
                                     double *line, double *sig, double *hist) {
  if (!batch_ok(n, W) || fast < 1 || fast >= slow || slow > BOT4_IND_MAX_PERIOD || signal < 1 || signal > BOT4_IND_MAX_PERIOD)
    return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {line, sig, hist};
  const int nt = batch_nt(n, W, outs_, 3);
  bot4_ind_config_t c = cfg1();
  c.macd_fast = fast;
  c.macd_slow = slow;
  c.macd_signal = signal;
  prm_t Pm;
  prm_init(&Pm, &c);
  BATCH_LOOP((int64_t)slow + signal - 1, {
    f64v ln, sg, hs;
    macd_step(G, o, in_at(x, t, W, gi, o), has, cnt, &Pm, warm, &ln, &sg, &hs);
    out_at(line, t, W, gi, o, ln);
    out_at(sig, t, W, gi, o, sg);
    out_at(hist, t, W, gi, o, hs);
  });
  return 0;
}

BOT4_API int32_t bot4_ind_batch_atr(const double *h, const double *lo, const double *c, int32_t n, int32_t W, uint32_t p,
                                    double *out) {
  if (!batch_ok(n, W) || p < 1 || p > BOT4_IND_MAX_PERIOD) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {out};
  const int nt = batch_nt(n, W, outs_, 1);
  bot4_ind_config_t cf = cfg1();
  cf.atr = p;
  prm_t Pm;
  prm_init(&Pm, &cf);
  BATCH_LOOP(p + 1, {
    out_at(out, t, W, gi, o,
           atr_step(G, o, in_at(h, t, W, gi, o), in_at(lo, t, W, gi, o), prev_at(c, t, W, gi, o), has, cnt, &Pm, warm));
  });
  return 0;
}

BOT4_API int32_t bot4_ind_batch_vwap(const double *h, const double *lo, const double *c, const double *v, int32_t n,
                                     int32_t W, uint32_t p, double *out) {
  if (!batch_ok(n, W) || p > BOT4_IND_MAX_PERIOD) return -1;
  batch_t b;
  batch_init(&b, W);
  double *const outs_[] = {out};
  const int nt = batch_nt(n, W, outs_, 1);
  bot4_ind_config_t cf = cfg1();
  cf.vwap = p;
  prm_t Pm;
  prm_init(&Pm, &cf);
  BATCH_LOOP(p, {
    const f64v vv = in_at(v, t, W, gi, o);
    const f64v pv = typical(in_at(h, t, W, gi, o), in_at(lo, t, W, gi, o), in_at(c, t, W, gi, o)) * vv;
    f64v pvo = S(0.0), vo = S(0.0);
    if (p && t >= p) {
      vo = in_at(v, t - p, W, gi, o);
      pvo = typical(in_at(h, t - p, W, gi, o), in_at(lo, t - p, W, gi, o), in_at(c, t - p, W, gi, o)) * vo;
    }
    out_at(out, t, W, gi, o, vwap_step(G, o, pv, vv, pvo, vo, has, cnt, &Pm, warm, p == 0));
  });
  return 0;
}

/* ---- bars ---- */

BOT4_API size_t bot4_bars_bytes(uint32_t instruments) {
  uint32_t groups = (instruments + BOT4_GROUP - 1) / BOT4_GROUP;
  return sizeof(bot4_bars_t) + (size_t)groups * sizeof(bot4_bars_group_t);
}

static inline bot4_bars_group_t *bars_group(bot4_bars_t *b, uint32_t g) {
  return (bot4_bars_group_t *)((uint8_t *)b + sizeof(bot4_bars_t)) + g;
}

/* kind BOT4_BAR_TIME with interval_ns > 0, or BOT4_BAR_VOLUME with volume_per_bar > 0. Returns
 * groups, -1 misaligned, -2 bad parameters. */
BOT4_API int32_t bot4_bars_init(bot4_bars_t *b, uint32_t instruments, uint32_t kind, uint64_t interval_ns,
                                double volume_per_bar) {
  if (!b || ((uintptr_t)b & (BOT4_CACHELINE - 1))) return -1;
  if (instruments < 1 || (kind == BOT4_BAR_TIME && interval_ns == 0) ||
      (kind == BOT4_BAR_VOLUME && !(volume_per_bar > 0 && isfinite(volume_per_bar))) ||
      (kind != BOT4_BAR_TIME && kind != BOT4_BAR_VOLUME))
    return -2;
  memset(b, 0, bot4_bars_bytes(instruments));
  b->groups = (instruments + BOT4_GROUP - 1) / BOT4_GROUP;
  b->instruments = instruments;
  b->kind = kind;
  b->interval_ns = interval_ns;
  b->volume_per_bar = volume_per_bar;
  return (int32_t)b->groups;
}

static inline void bar_emit(bot4_bars_t *b, bot4_bars_group_t *G, uint32_t l, uint32_t id, bot4_bar_t *out) {
  if (b->kind == BOT4_BAR_TIME) {
    out->ts_open_ns = G->bucket[l] * b->interval_ns;
    out->ts_close_ns = (G->bucket[l] + 1) * b->interval_ns;
  } else {
    out->ts_open_ns = G->ts_open[l];
    out->ts_close_ns = G->ts_last[l];
  }
  out->open = G->open[l];
  out->high = G->high[l];
  out->low = G->low[l];
  out->close = G->close[l];
  out->volume = G->volume[l];
  out->notional = G->notional[l];
  out->vwap = G->notional[l] / G->volume[l];
  out->trades = G->trades[l];
  out->instrument = id;
  out->kind = b->kind;
  G->trades[l] = 0;
  G->volume[l] = 0;
  G->notional[l] = 0;
  b->emitted++;
}

/* Aggregates n records at slots start.. (masked) into bars. Closed bars go to out[0..cap); the
 * call stops before a record when out is full, so nothing is lost: it returns the records consumed
 * and writes the bars written to *n_out. A time bar closes on the first trade of a later bucket
 * (a late trade joins the open bar); a volume bar closes on the trade that brings its volume to
 * volume_per_bar or more (the trade is not split). */
BOT4_API int32_t bot4_bars_apply(bot4_bars_t *restrict b, const bot4_tick_t *restrict rec, uint32_t mask, uint32_t start,
                                 int32_t n, bot4_bar_t *restrict out, int32_t cap, int32_t *n_out) {
  const uint32_t capi = b->instruments;
  int32_t k = 0, m = 0;
  for (; k < n; k++) {
    if (m >= cap) break;
    const bot4_tick_t *t = &rec[(start + (uint32_t)k) & mask];
    if (t->kind != BOT4_TICK_TRADE) { b->skipped++; continue; }
    const uint32_t id = t->instrument;
    const double px = t->price, q = t->size;
    if (BOT4_UNLIKELY(id >= capi || !(q > 0) || !isfinite(px) || !isfinite(q))) { b->rejected++; continue; }
    bot4_bars_group_t *G = bars_group(b, id / BOT4_GROUP);
    const uint32_t l = id % BOT4_GROUP;
    if (b->kind == BOT4_BAR_TIME) {
      const uint64_t bucket = t->ts_exchange_ns / b->interval_ns;
      if (G->trades[l] > 0 && bucket > G->bucket[l]) bar_emit(b, G, l, id, &out[m++]);
      if (G->trades[l] == 0) G->bucket[l] = bucket;
    }
    if (G->trades[l] == 0) {
      G->open[l] = G->high[l] = G->low[l] = px;
      G->ts_open[l] = t->ts_exchange_ns;
    }
    if (px > G->high[l]) G->high[l] = px;
    if (px < G->low[l]) G->low[l] = px;
    G->close[l] = px;
    G->volume[l] += q;
    G->notional[l] += px * q;
    G->trades[l] += 1;
    G->ts_last[l] = t->ts_exchange_ns;
    b->applied++;
    if (b->kind == BOT4_BAR_VOLUME && G->volume[l] >= b->volume_per_bar) bar_emit(b, G, l, id, &out[m++]);
  }
  *n_out = m;
  return k;
}

/* Closes open time bars whose bucket ended at or before now_ns (a quiet instrument's bar closes
 * on the clock, not on its next trade). Volume bars: closes every open bar when now_ns is
 * UINT64_MAX (end of data). Returns bars written (at most cap; call again while it returns cap). */
BOT4_API int32_t bot4_bars_flush(bot4_bars_t *b, uint64_t now_ns, bot4_bar_t *out, int32_t cap) {
  int32_t m = 0;
  for (uint32_t g = 0; g < b->groups; g++) {
    bot4_bars_group_t *G = bars_group(b, g);
    for (uint32_t l = 0; l < BOT4_GROUP && m < cap; l++) {
      if (G->trades[l] == 0) continue;
      const int due = b->kind == BOT4_BAR_TIME ? (G->bucket[l] + 1) * b->interval_ns <= now_ns : now_ns == UINT64_MAX;
      if (due) bar_emit(b, G, l, g * BOT4_GROUP + l, &out[m++]);
    }
  }
  return m;
}

BOT4_API int bot4_layout_ind(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_ind_config_t);
  BOT4_L_OFF(bot4_ind_config_t, sma);
  BOT4_L_OFF(bot4_ind_config_t, ema);
  BOT4_L_OFF(bot4_ind_config_t, bb);
  BOT4_L_OFF(bot4_ind_config_t, rsi);
  BOT4_L_OFF(bot4_ind_config_t, macd_fast);
  BOT4_L_OFF(bot4_ind_config_t, macd_slow);
  BOT4_L_OFF(bot4_ind_config_t, macd_signal);
  BOT4_L_OFF(bot4_ind_config_t, atr);
  BOT4_L_OFF(bot4_ind_config_t, z);
  BOT4_L_OFF(bot4_ind_config_t, vwap);
  BOT4_L_OFF(bot4_ind_config_t, bb_k);
  BOT4_L_SIZE(bot4_ind_set_t);
  BOT4_L_OFF(bot4_ind_set_t, groups);
  BOT4_L_OFF(bot4_ind_set_t, ring);
  BOT4_L_OFF(bot4_ind_set_t, group_bytes);
  BOT4_L_OFF(bot4_ind_set_t, instruments);
  BOT4_L_OFF(bot4_ind_set_t, cfg);
  BOT4_L_OFF(bot4_ind_set_t, applied);
  BOT4_L_OFF(bot4_ind_set_t, skipped);
  BOT4_L_OFF(bot4_ind_set_t, rejected);
  BOT4_L_SIZE(bot4_ind_group_t);
  BOT4_L_OFF(bot4_ind_group_t, last);
  BOT4_L_OFF(bot4_ind_group_t, sma);
  BOT4_L_OFF(bot4_ind_group_t, ema);
  BOT4_L_OFF(bot4_ind_group_t, bb_upper);
  BOT4_L_OFF(bot4_ind_group_t, bb_middle);
  BOT4_L_OFF(bot4_ind_group_t, bb_lower);
  BOT4_L_OFF(bot4_ind_group_t, rsi);
  BOT4_L_OFF(bot4_ind_group_t, macd);
  BOT4_L_OFF(bot4_ind_group_t, macd_signal);
  BOT4_L_OFF(bot4_ind_group_t, macd_hist);
  BOT4_L_OFF(bot4_ind_group_t, atr);
  BOT4_L_OFF(bot4_ind_group_t, vwap);
  BOT4_L_OFF(bot4_ind_group_t, zscore);
  BOT4_L_OFF(bot4_ind_group_t, count);
  BOT4_L_SIZE(bot4_bar_t);
  BOT4_L_OFF(bot4_bar_t, ts_open_ns);
  BOT4_L_OFF(bot4_bar_t, ts_close_ns);
  BOT4_L_OFF(bot4_bar_t, open);
  BOT4_L_OFF(bot4_bar_t, high);
  BOT4_L_OFF(bot4_bar_t, low);
  BOT4_L_OFF(bot4_bar_t, close);
  BOT4_L_OFF(bot4_bar_t, volume);
  BOT4_L_OFF(bot4_bar_t, notional);
  BOT4_L_OFF(bot4_bar_t, vwap);
  BOT4_L_OFF(bot4_bar_t, trades);
  BOT4_L_OFF(bot4_bar_t, instrument);
  BOT4_L_OFF(bot4_bar_t, kind);
  BOT4_L_SIZE(bot4_bars_t);
  BOT4_L_OFF(bot4_bars_t, applied);
  BOT4_L_OFF(bot4_bars_t, skipped);
  BOT4_L_OFF(bot4_bars_t, rejected);
  BOT4_L_OFF(bot4_bars_t, emitted);
  BOT4_L_OFF(bot4_bars_t, instruments);
  BOT4_L_CONST(BOT4_IND_BATCH_MAX);
  BOT4_L_CONST(BOT4_IND_MAX_PERIOD);
  return n;
}
