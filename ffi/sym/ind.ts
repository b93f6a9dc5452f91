/** Symbols of c/ind.c: indicator kernels (8 instruments per group) and bar aggregation. */
import type { LayoutSpec } from "./types.ts";

export const indSymbols = {
  bot4_ind_bytes: { args: ["ptr", "u32"], returns: "u64" },
  bot4_ind_init: { args: ["ptr", "ptr", "u32"], returns: "i32" },
  bot4_ind_reset: { args: ["ptr", "u32"], returns: "i32" },
  bot4_ind_update8: { args: ["ptr", "u32", "ptr", "ptr", "ptr", "ptr", "u32"], returns: "i32" },
  bot4_ind_apply: { args: ["ptr", "ptr", "u32", "u32", "i32"], returns: "i32" },
  bot4_ind_apply_bars: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_ind_batch_sma: { args: ["ptr", "i32", "i32", "u32", "ptr"], returns: "i32" },
  bot4_ind_batch_ema: { args: ["ptr", "i32", "i32", "u32", "ptr"], returns: "i32" },
  bot4_ind_batch_bbands: { args: ["ptr", "i32", "i32", "u32", "f64", "ptr", "ptr", "ptr"], returns: "i32" },
  bot4_ind_batch_zscore: { args: ["ptr", "i32", "i32", "u32", "ptr"], returns: "i32" },
  bot4_ind_batch_rsi: { args: ["ptr", "i32", "i32", "u32", "ptr"], returns: "i32" },
  bot4_ind_batch_macd: { args: ["ptr", "i32", "i32", "u32", "u32", "u32", "ptr", "ptr", "ptr"], returns: "i32" },
  bot4_ind_batch_atr: { args: ["ptr", "ptr", "ptr", "i32", "i32", "u32", "ptr"], returns: "i32" },
  bot4_ind_batch_vwap: { args: ["ptr", "ptr", "ptr", "ptr", "i32", "i32", "u32", "ptr"], returns: "i32" },
  bot4_bars_bytes: { args: ["u32"], returns: "u64" },
  bot4_bars_init: { args: ["ptr", "u32", "u32", "u64", "f64"], returns: "i32" },
  bot4_bars_apply: { args: ["ptr", "ptr", "u32", "u32", "i32", "ptr", "i32", "ptr"], returns: "i32" },
  bot4_bars_flush: { args: ["ptr", "u64", "ptr", "i32"], returns: "i32" },
  bot4_layout_ind: { args: ["ptr", "i32"], returns: "i32" },
} as const;

export const IND_GROUP = 8;
export const IND_BATCH_MAX = 64;
export const IND_MAX_PERIOD = 4096;

/** Mirror of bot4_ind_config_t (c/ind.h): ten u32 periods, then bb_k. */
export const IndConfigLayout = {
  bytes: 48,
  sma: 0, ema: 4, bb: 8, rsi: 12, macdFast: 16, macdSlow: 20, macdSignal: 24, atr: 28, z: 32, vwap: 36, bbK: 40,
} as const;

/** Mirror of bot4_ind_set_t / bot4_ind_group_t: header, then groups of groupBytes (rows + ring). */
export const IndLayout = {
  headerBytes: 128,
  groups: 0, ring: 4, groupBytes: 8, instruments: 12, cfg: 16, applied: 64, skipped: 72, rejected: 80,
  groupStructBytes: 3328,
  /** byte offset of each output row inside a group; each row is 8 doubles (one per lane) */
  rows: {
    last: 0, sma: 64, ema: 128, bbUpper: 192, bbMiddle: 256, bbLower: 320, rsi: 384, macd: 448, macdSignal: 512,
    macdHist: 576, atr: 640, vwap: 704, zscore: 768, count: 832,
  },
} as const;

/** Mirror of bot4_bar_t (128 bytes) and bot4_bars_t (64-byte header). */
export const BarLayout = {
  bytes: 128,
  tsOpen: 0, tsClose: 8, open: 16, high: 24, low: 32, close: 40, volume: 48, notional: 56, vwap: 64, trades: 72,
  instrument: 80, kind: 84,
} as const;
export const BarsLayout = { bytes: 64, applied: 24, skipped: 32, rejected: 40, emitted: 48, instruments: 56 } as const;
export const BarKind = { time: 1, volume: 2 } as const;

const c = IndConfigLayout, s = IndLayout, r = IndLayout.rows, b = BarLayout;
export const indLayouts: LayoutSpec[] = [
  {
    family: "ind",
    fn: "bot4_layout_ind",
    expected: {
      bot4_ind_config_t: c.bytes,
      "bot4_ind_config_t.sma": c.sma,
      "bot4_ind_config_t.ema": c.ema,
      "bot4_ind_config_t.bb": c.bb,
      "bot4_ind_config_t.rsi": c.rsi,
      "bot4_ind_config_t.macd_fast": c.macdFast,
      "bot4_ind_config_t.macd_slow": c.macdSlow,
      "bot4_ind_config_t.macd_signal": c.macdSignal,
      "bot4_ind_config_t.atr": c.atr,
      "bot4_ind_config_t.z": c.z,
      "bot4_ind_config_t.vwap": c.vwap,
      "bot4_ind_config_t.bb_k": c.bbK,
      bot4_ind_set_t: s.headerBytes,
      "bot4_ind_set_t.groups": s.groups,
      "bot4_ind_set_t.ring": s.ring,
      "bot4_ind_set_t.group_bytes": s.groupBytes,
      "bot4_ind_set_t.instruments": s.instruments,
      "bot4_ind_set_t.cfg": s.cfg,
      "bot4_ind_set_t.applied": s.applied,
      "bot4_ind_set_t.skipped": s.skipped,
      "bot4_ind_set_t.rejected": s.rejected,
      bot4_ind_group_t: s.groupStructBytes,
      "bot4_ind_group_t.last": r.last,
      "bot4_ind_group_t.sma": r.sma,
      "bot4_ind_group_t.ema": r.ema,
      "bot4_ind_group_t.bb_upper": r.bbUpper,
      "bot4_ind_group_t.bb_middle": r.bbMiddle,
      "bot4_ind_group_t.bb_lower": r.bbLower,
      "bot4_ind_group_t.rsi": r.rsi,
      "bot4_ind_group_t.macd": r.macd,
      "bot4_ind_group_t.macd_signal": r.macdSignal,
      "bot4_ind_group_t.macd_hist": r.macdHist,
      "bot4_ind_group_t.atr": r.atr,
      "bot4_ind_group_t.vwap": r.vwap,
      "bot4_ind_group_t.zscore": r.zscore,
      "bot4_ind_group_t.count": r.count,
      bot4_bar_t: b.bytes,
      "bot4_bar_t.ts_open_ns": b.tsOpen,
      "bot4_bar_t.ts_close_ns": b.tsClose,
      "bot4_bar_t.open": b.open,
      "bot4_bar_t.high": b.high,
      "bot4_bar_t.low": b.low,
      "bot4_bar_t.close": b.close,
      "bot4_bar_t.volume": b.volume,
      "bot4_bar_t.notional": b.notional,
      "bot4_bar_t.vwap": b.vwap,
      "bot4_bar_t.trades": b.trades,
      "bot4_bar_t.instrument": b.instrument,
      "bot4_bar_t.kind": b.kind,
      bot4_bars_t: BarsLayout.bytes,
      "bot4_bars_t.applied": BarsLayout.applied,
      "bot4_bars_t.skipped": BarsLayout.skipped,
      "bot4_bars_t.rejected": BarsLayout.rejected,
      "bot4_bars_t.emitted": BarsLayout.emitted,
      "bot4_bars_t.instruments": BarsLayout.instruments,
      BOT4_IND_BATCH_MAX: IND_BATCH_MAX,
      BOT4_IND_MAX_PERIOD: IND_MAX_PERIOD,
    },
  },
];
