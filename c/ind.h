/*
 * ind.h — technical indicators over structure-of-arrays state, 8 instruments per group, and
 * time / volume bar aggregation from trade ticks.
 *
 * Indicators (definitions are TA-Lib's, so results match TA-Lib 0.4 to rounding):
 *   SMA(p)          mean of the last p closes
 *   EMA(p)          k = 2/(p+1), seeded with the SMA of the first p closes (TA-Lib's default)
 *   BBANDS(p, k)    middle = SMA(p), upper/lower = middle +/- k * population stddev of the window;
 *                   a variance below 1e-14 counts as 0 (TA_IS_ZERO_OR_NEG)
 *   RSI(p)          Wilder: gains/losses of the first p changes averaged, then avg = (avg*(p-1)+x)/p;
 *                   RSI = 100 * gain / (gain + loss), 0 when gain + loss is below 1e-14 (TA_IS_ZERO)
 *   MACD(f, s, g)   line = EMA(f) - EMA(s), signal = EMA(g) of the line, hist = line - signal; as in
 *                   TA-Lib the fast EMA is seeded with the SMA of the f closes ending where the slow
 *                   EMA's seed ends (closes s-f .. s-1), and all three are NaN until close s+g-2
 *   ATR(p)          true range max(h, prev c) - min(l, prev c) from the second bar, seeded with the
 *                   SMA of the first p ranges, then Wilder smoothing
 *   VWAP            sum(tp * v) / sum(v), tp = (h+l+c)/3 (= the price for a tick, h = l = c);
 *                   cumulative when vwap period is 0, else over the last p updates
 *   z-score(p)      (close - SMA(p)) / population stddev(p); 0 when the window is flat
 * Warm-up outputs are NaN, at exactly the positions TA-Lib leaves out (first output of SMA/EMA at
 * update p, RSI/ATR at p+1, MACD at s+g-1).
 *
 * Numerical stability: a rolling window keeps its sums of (x - K) and (x - K)^2 about a shift K
 * near the window's mean, so large price offsets do not cancel; and beside the running sums (add
 * the new value, drop the old) it accumulates a fresh pair over the current period. Every p updates
 * the fresh pair *is* the window: it replaces the running pair and K moves to the window mean. So
 * rounding never accumulates over more than 2p operations: no drift however long it runs, and each
 * update stays O(1) (no re-summation pass). Where TA-Lib divides by a constant period in a loop,
 * we multiply by its reciprocal (1 ulp per step, contractive smoothing: ~1e-15 relative).
 *
 * Guarantees:
 *  - bot4_ind_update8: one update of a whole group, lanes whose mask bit is 0 unchanged; O(1), no
 *    allocation. bot4_ind_apply reads 64-byte tick records in place (wrap-around by mask); trades
 *    with an id out of range or a non-positive size are counted in `rejected` and never applied.
 *  - Batch kernels (bot4_ind_batch_*) run the same step functions as the incremental form on W
 *    series at once (layout [t][W], W a multiple of 8, at most BOT4_IND_BATCH_MAX): incremental and
 *    batch agree bit for bit (tested over 1 M updates), in every build variant. One series (W = 1)
 *    runs EMA, RSI and Bollinger past the warm-up on scalar chains (EMA and RSI as chunks side by
 *    side, each repaired from the exact state of the one before): the same bits as lane 0 of the
 *    8-wide form (tested over 1 M steps). A single-output
 *    batch of 4 MiB or more into 64-byte aligned memory is written with streaming stores (it does
 *    not stay in the cache afterwards).
 *  - update8 with all 8 lanes updating, every lane warm and at one ring slot (instruments fed
 *    together) takes a path without per-lane bookkeeping; same arithmetic, same bits. With equal
 *    counts in every lane as well (fed together from their start or last reset) the group runs in
 *    lockstep: one ring slot and one phase per window for the group, tested once per update.
 *  - Vector code written once against f64v (simd.h); -ffp-contract=off keeps variants identical.
 *  - Single writer; readers may see a group mid-update.
 */
#ifndef BOT4_IND_H
#define BOT4_IND_H

#include "simd.h"
#include "tick.h"

#define BOT4_IND_MAX_PERIOD 4096
#define BOT4_IND_BATCH_MAX 64 /* series per batch call (8 groups: enough independent chains) */

typedef struct bot4_ind_config {
  uint32_t sma, ema, bb, rsi, macd_fast, macd_slow, macd_signal, atr, z, vwap; /* periods (vwap 0 = cumulative) */
  double bb_k;
} bot4_ind_config_t;

/* A rolling window's state (see "Numerical stability"): 6 rows. */
typedef struct bot4_ind_win {
  double k[BOT4_GROUP], s1[BOT4_GROUP], s2[BOT4_GROUP], t1[BOT4_GROUP], t2[BOT4_GROUP], ph[BOT4_GROUP];
} bot4_ind_win_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_ind_group {
  /* outputs, read in place by strategies (NaN during warm-up) */
  double last[BOT4_GROUP], sma[BOT4_GROUP], ema[BOT4_GROUP];
  double bb_upper[BOT4_GROUP], bb_middle[BOT4_GROUP], bb_lower[BOT4_GROUP];
  double rsi[BOT4_GROUP], macd[BOT4_GROUP], macd_signal[BOT4_GROUP], macd_hist[BOT4_GROUP];
  double atr[BOT4_GROUP], vwap[BOT4_GROUP], zscore[BOT4_GROUP], count[BOT4_GROUP];
  /* state (the EMA's, ATR's and MACD signal's own state is their output row; the previous close
   * is `last`) */
  bot4_ind_win_t w_sma, w_bb, w_z;
  double ema_sum[BOT4_GROUP];
  double rsi_g[BOT4_GROUP], rsi_l[BOT4_GROUP];
  double m_fast[BOT4_GROUP], m_slow[BOT4_GROUP], m_fsum[BOT4_GROUP], m_ssum[BOT4_GROUP], m_sigsum[BOT4_GROUP];
  double atr_sum[BOT4_GROUP];
  double v_pv[BOT4_GROUP], v_v[BOT4_GROUP], v_tpv[BOT4_GROUP], v_tv[BOT4_GROUP], v_ph[BOT4_GROUP];
  double head[BOT4_GROUP]; /* next ring slot per lane */
  /* In lockstep (every lane past every warm-up with the same count, so at one ring slot and one
   * phase of every window; set and left by ind.c) the ring slot and the windows' phases are kept
   * here once for the group, and the per-lane head and phase rows are written back only on leaving. */
  struct {
    uint32_t on, hd;
    uint32_t ph_bb, ph_sma, ph_z, ph_vw;
  } BOT4_ALIGNED(BOT4_CACHELINE) lock;
  uint8_t _spare[4 * BOT4_CACHELINE];
  /* ring of `ring` slots follows the group: slot = {close[8], pv[8], v[8]} */
} bot4_ind_group_t;

static_assert(sizeof(bot4_ind_group_t) % BOT4_CACHELINE == 0, "rows are whole cache lines");
static_assert(sizeof(bot4_ind_group_t) == 52 * BOT4_CACHELINE, "group size as mirrored in ffi/sym/ind.ts");

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_ind_set {
  uint32_t groups, ring, group_bytes, instruments;
  bot4_ind_config_t cfg;
  uint64_t applied, skipped, rejected;
  uint8_t _pad[2 * BOT4_CACHELINE - 16 - sizeof(bot4_ind_config_t) - 24];
  /* `groups` groups of group_bytes each follow (group + ring), then the set's constants (ind.c prm_t,
   * computed once by bot4_ind_init; included in bot4_ind_bytes) */
} bot4_ind_set_t;

static_assert(sizeof(bot4_ind_set_t) == 2 * BOT4_CACHELINE, "header is two cache lines");

/* Bars. A closed bar is one 128-byte record in the caller's output buffer. */
enum bot4_bar_kind { BOT4_BAR_TIME = 1, BOT4_BAR_VOLUME = 2 };

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_bar {
  uint64_t ts_open_ns;  /* time bars: bucket start; volume bars: first trade's ts_exchange_ns */
  uint64_t ts_close_ns; /* time bars: bucket end (exclusive); volume bars: last trade's ts */
  double open, high, low, close, volume, notional, vwap, trades;
  uint32_t instrument, kind;
  uint8_t _pad[128 - 88];
} bot4_bar_t;

static_assert(sizeof(bot4_bar_t) == 2 * BOT4_CACHELINE, "bar record is two cache lines");

/* Per-instrument open bar (row per field, 8 instruments per group as elsewhere). */
typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_bars_group {
  double open[BOT4_GROUP], high[BOT4_GROUP], low[BOT4_GROUP], close[BOT4_GROUP];
  double volume[BOT4_GROUP], notional[BOT4_GROUP], trades[BOT4_GROUP];
  uint64_t ts_open[BOT4_GROUP], ts_last[BOT4_GROUP], bucket[BOT4_GROUP];
} bot4_bars_group_t;

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_bars {
  uint32_t groups, kind;
  uint64_t interval_ns;   /* time bars */
  double volume_per_bar;  /* volume bars: a bar closes on the trade that brings it to >= this */
  uint64_t applied, skipped, rejected, emitted;
  uint32_t instruments;   /* ids >= instruments are rejected */
  uint8_t _pad[BOT4_CACHELINE - 60];
} bot4_bars_t;

static_assert(sizeof(bot4_bars_t) == BOT4_CACHELINE, "bars header is one cache line");

#endif
