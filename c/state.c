/* state.c — per-instrument last/volume/VWAP/high/low state; see state.h for the contract. */
#include <math.h>
#include <string.h>
#include "state.h"

BOT4_API size_t bot4_state_bytes(uint32_t instruments) {
  uint32_t groups = (instruments + BOT4_GROUP - 1) / BOT4_GROUP;
  return sizeof(bot4_state_t) + (size_t)groups * sizeof(bot4_state_group_t);
}

/* Initialises caller-owned memory of bot4_state_bytes(instruments) bytes, 64-byte aligned. */
BOT4_API int32_t bot4_state_init(bot4_state_t *s, uint32_t instruments) {
  if (!s || ((uintptr_t)s & (BOT4_CACHELINE - 1))) return -1;
  uint32_t groups = (instruments + BOT4_GROUP - 1) / BOT4_GROUP;
  memset(s, 0, bot4_state_bytes(instruments));
  s->groups = groups;
  for (uint32_t g = 0; g < groups; g++) {
    bot4_state_group_t *G = &s->group[g];
    for (int l = 0; l < BOT4_GROUP; l++) {
      G->last[l] = NAN;
      G->vwap[l] = NAN;
      G->high[l] = -INFINITY;
      G->low[l] = INFINITY;
    }
  }
  return (int32_t)groups;
}

/* Applies n records starting at slot `start` of a record array of mask+1 slots (a ring's record
 * area, or a flat array with mask = 0xffffffff). Returns trades applied. */
BOT4_API int32_t bot4_state_apply(bot4_state_t *restrict s, const bot4_tick_t *restrict rec, uint32_t mask,
                                  uint32_t start, int32_t n) {
  const uint32_t cap = s->groups * BOT4_GROUP;
  int32_t applied = 0;
  uint64_t skipped = 0, rejected = 0;
  for (int32_t k = 0; k < n; k++) {
    const bot4_tick_t *t = &rec[(start + (uint32_t)k) & mask];
    if (t->kind != BOT4_TICK_TRADE) { skipped++; continue; }
    uint32_t id = t->instrument;
    if (BOT4_UNLIKELY(id >= cap)) { rejected++; continue; }
    bot4_state_group_t *G = &s->group[id / BOT4_GROUP];
    const uint32_t l = id % BOT4_GROUP;
    const double px = t->price, q = t->size;
    if (BOT4_UNLIKELY(!(q > 0))) { rejected++; continue; } /* a trade of no size is not a trade */
    G->last[l] = px;
    G->volume[l] += q;
    G->notional[l] += px * q;
    G->vwap[l] = G->volume[l] > 0 ? G->notional[l] / G->volume[l] : NAN;
    if (px > G->high[l]) G->high[l] = px;
    if (px < G->low[l]) G->low[l] = px;
    G->trades[l] += 1;
    G->last_ts[l] = (double)t->ts_recv_ns;
    applied++;
  }
  s->applied += (uint64_t)applied;
  s->skipped += skipped;
  s->rejected += rejected;
  return applied;
}

/* One incremental step for a whole group: lane l takes the trade (px[l], qty[l], ts[l]) when
 * qty[l] > 0 and is left unchanged otherwise. Vector code, written once for every width. */
BOT4_API void bot4_state_update8(bot4_state_group_t *restrict G, const double *restrict px,
                                 const double *restrict qty, const double *restrict ts) {
  const f64v zero = f64v_splat(0.0), one = f64v_splat(1.0);
  for (int k = 0; k < BOT4_STEPS; k++) {
    const int o = k * BOT4_LANES;
    const f64v p = f64v_load(px + o), q = f64v_load(qty + o), t = f64v_load(ts + o);
    const i64v has = (i64v)(q > zero);
    const f64v vol = f64v_load(G->volume + o) + f64v_select(has, q, zero);
    const f64v notional = f64v_load(G->notional + o) + f64v_select(has, p * q, zero);
    f64v_store(G->volume + o, vol);
    f64v_store(G->notional + o, notional);
    f64v_store(G->last + o, f64v_select(has, p, f64v_load(G->last + o)));
    f64v_store(G->last_ts + o, f64v_select(has, t, f64v_load(G->last_ts + o)));
    f64v_store(G->vwap + o, f64v_select((i64v)(vol > zero), notional / vol, f64v_load(G->vwap + o)));
    const f64v hi = f64v_load(G->high + o), lo = f64v_load(G->low + o);
    f64v_store(G->high + o, f64v_select(has & (i64v)(p > hi), p, hi));
    f64v_store(G->low + o, f64v_select(has & (i64v)(p < lo), p, lo));
    f64v_store(G->trades + o, f64v_load(G->trades + o) + f64v_select(has, one, zero));
  }
}

/* Sum of volume and notional over all instruments, vectorised across groups: the
 * engine's per-batch totals. out[0] = volume, out[1] = notional. */
BOT4_API void bot4_state_totals(const bot4_state_t *s, double *out) {
  f64v vol = f64v_splat(0.0), nt = f64v_splat(0.0);
  for (uint32_t g = 0; g < s->groups; g++) {
    const bot4_state_group_t *G = &s->group[g];
    for (int k = 0; k < BOT4_STEPS; k++) {
      vol += f64v_load(G->volume + k * BOT4_LANES);
      nt += f64v_load(G->notional + k * BOT4_LANES);
    }
  }
  double v = 0, n = 0;
  for (int l = 0; l < BOT4_LANES; l++) { v += vol[l]; n += nt[l]; }
  out[0] = v;
  out[1] = n;
}

BOT4_API int bot4_layout_state(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_state_t);
  BOT4_L_OFF(bot4_state_t, groups);
  BOT4_L_OFF(bot4_state_t, applied);
  BOT4_L_OFF(bot4_state_t, skipped);
  BOT4_L_OFF(bot4_state_t, rejected);
  BOT4_L_OFF(bot4_state_t, group);
  BOT4_L_SIZE(bot4_state_group_t);
  BOT4_L_OFF(bot4_state_group_t, last);
  BOT4_L_OFF(bot4_state_group_t, volume);
  BOT4_L_OFF(bot4_state_group_t, notional);
  BOT4_L_OFF(bot4_state_group_t, vwap);
  BOT4_L_OFF(bot4_state_group_t, high);
  BOT4_L_OFF(bot4_state_group_t, low);
  BOT4_L_OFF(bot4_state_group_t, trades);
  BOT4_L_OFF(bot4_state_group_t, last_ts);
  BOT4_L_CONST(BOT4_GROUP);
  return n;
}
