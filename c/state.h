/*
 * state.h — per-instrument market state, 8 instruments per group (structure of arrays).
 *
 * A group holds one 64-byte row per field, so one f64x8 (AVX-512) or two f64x4 (AVX2) or four
 * f64x2 (SSE2) cover the 8 instruments of a row. Instrument i lives in group i/8, lane i%8.
 *
 * Guarantees:
 *  - bot4_state_apply: O(1) per tick, reads records in place (ring or file memory, wrap-around by
 *    mask), no allocation; only TRADE ticks change state, others are skipped; trades with an
 *    instrument id outside the table or a size <= 0 are counted in `rejected` and never written.
 *  - bot4_state_update8: one incremental step for a whole group (lanes with size 0 unchanged);
 *    same results as eight scalar steps, bit for bit (tested), written once for every width.
 *  - VWAP = notional / volume, NaN while volume is 0 (as TA-Lib reports warm-up).
 *  - Single writer (the engine thread); readers on other threads may see a group mid-update.
 */
#ifndef BOT4_STATE_H
#define BOT4_STATE_H

#include "simd.h"
#include "tick.h"

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_state_group {
  double last[BOT4_GROUP];     /* last trade price */
  double volume[BOT4_GROUP];   /* sum of trade sizes */
  double notional[BOT4_GROUP]; /* sum of price * size */
  double vwap[BOT4_GROUP];     /* notional / volume (NaN before the first trade) */
  double high[BOT4_GROUP];     /* highest trade price (-inf before the first) */
  double low[BOT4_GROUP];      /* lowest trade price (+inf before the first) */
  double trades[BOT4_GROUP];   /* number of trades */
  double last_ts[BOT4_GROUP];  /* ts_recv_ns of the last trade (bot4 clock) */
} bot4_state_group_t;

static_assert(sizeof(bot4_state_group_t) == 8 * BOT4_CACHELINE, "8 rows of one cache line");

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_state {
  uint32_t groups;     /* number of groups (capacity = 8 * groups instruments) */
  uint32_t _pad;
  uint64_t applied;    /* trade ticks applied */
  uint64_t skipped;    /* non-trade ticks seen */
  uint64_t rejected;   /* trades with an instrument id out of range or a size <= 0 */
  uint8_t _pad2[BOT4_CACHELINE - 32];
  bot4_state_group_t group[]; /* `groups` groups follow */
} bot4_state_t;

static_assert(sizeof(bot4_state_t) == BOT4_CACHELINE, "header is one cache line");

#endif
