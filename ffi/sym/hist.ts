/** Symbols of c/hist.c: latency histograms. Struct offsets in bytes, mirrored from c/hist.h. */
import type { LayoutSpec } from "./types.ts";

export const histSymbols = {
  bot4_hist_create: { args: [], returns: "ptr" },
  bot4_hist_destroy: { args: ["ptr"], returns: "void" },
  bot4_hist_init: { args: ["ptr", "i32"], returns: "i32" },
  bot4_hist_bytes: { args: [], returns: "i32" },
  bot4_hist_record: { args: ["ptr", "f64"], returns: "void" },
  bot4_hist_record_n: { args: ["ptr", "f64", "f64"], returns: "void" },
  bot4_hist_record_batch: { args: ["ptr", "ptr", "i32"], returns: "void" },
  bot4_hist_record_batch_u64: { args: ["ptr", "ptr", "i32"], returns: "void" },
  bot4_hist_merge: { args: ["ptr", "ptr"], returns: "void" },
  bot4_hist_reset: { args: ["ptr"], returns: "void" },
  bot4_hist_count: { args: ["ptr"], returns: "f64" },
  bot4_hist_min: { args: ["ptr"], returns: "f64" },
  bot4_hist_max: { args: ["ptr"], returns: "f64" },
  bot4_hist_mean: { args: ["ptr"], returns: "f64" },
  bot4_hist_percentile: { args: ["ptr", "f64"], returns: "f64" },
  bot4_hist_percentiles: { args: ["ptr", "ptr", "ptr", "i32"], returns: "void" },
  bot4_hist_summary: { args: ["ptr", "ptr"], returns: "void" },
  bot4_hist_bucket: { args: ["f64"], returns: "i32" },
  bot4_hist_bucket_low: { args: ["i32"], returns: "f64" },
  bot4_hist_bucket_high: { args: ["i32"], returns: "f64" },
  bot4_layout_hist: { args: ["ptr", "i32"], returns: "i32" },
} as const;

/** Bucket geometry (c/hist.h): 128 sub-buckets per power of two from 8 ns to 60 s. */
export const HistConst = {
  SUB_BITS: 7,
  LOW_EXP: 3,
  LOW_NS: 8,
  HIGH_NS: 60_000_000_000,
  INDEX_SHIFT: 45,
  /** (1023 + LOW_EXP) << SUB_BITS */
  INDEX_BASE: 131328,
  BUCKETS: 4192,
  MAGIC: 0x48495354,
} as const;

/** bot4_hist_t: a 64-byte header of doubles, then BUCKETS double counts. */
export const HistOffset = {
  count: 0,
  sum: 8,
  min: 16,
  max: 24,
  underflow: 32,
  overflow: 40,
  invalid: 48,
  magic: 56,
  buckets: 60,
  counts: 64,
} as const;
export const HIST_BYTES = HistOffset.counts + HistConst.BUCKETS * 8;

/** bot4_hist_summary_t: 12 doubles, in this order. */
export const SUMMARY_FIELDS = ["count", "min", "max", "mean", "p50", "p90", "p95", "p99", "p999", "underflow", "overflow", "invalid"] as const;
export const SUMMARY_BYTES = SUMMARY_FIELDS.length * 8;

export const histLayouts: LayoutSpec[] = [
  {
    family: "hist",
    fn: "bot4_layout_hist",
    expected: {
      bot4_hist_t: HIST_BYTES,
      ...Object.fromEntries(Object.entries(HistOffset).map(([k, v]) => [`bot4_hist_t.${k}`, v])),
      bot4_hist_summary_t: SUMMARY_BYTES,
      ...Object.fromEntries(SUMMARY_FIELDS.map((k, i) => [`bot4_hist_summary_t.${k}`, i * 8])),
      BOT4_HIST_SUB_BITS: HistConst.SUB_BITS,
      BOT4_HIST_LOW_EXP: HistConst.LOW_EXP,
      BOT4_HIST_LOW_NS: HistConst.LOW_NS,
      BOT4_HIST_HIGH_NS: HistConst.HIGH_NS,
      BOT4_HIST_INDEX_SHIFT: HistConst.INDEX_SHIFT,
      BOT4_HIST_INDEX_BASE: HistConst.INDEX_BASE,
      BOT4_HIST_BUCKETS: HistConst.BUCKETS,
      BOT4_HIST_MAGIC: HistConst.MAGIC,
    },
  },
];
