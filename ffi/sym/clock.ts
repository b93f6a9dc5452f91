/** Symbols of c/clock.c: the one latency clock. Struct offsets in bytes, mirrored from c/clock.h. */
import type { LayoutSpec } from "./types.ts";

export const clockSymbols = {
  bot4_clock_init: { args: [], returns: "void" },
  // u64 for C callers; TypeScript uses bot4_clock_now (a double: no BigInt, exact for 104 days)
  bot4_clock_now_ns: { args: [], returns: "u64" },
  bot4_clock_now: { args: [], returns: "f64" },
  bot4_clock_source: { args: [], returns: "i32" },
  bot4_clock_source_name: { args: [], returns: "cstring" },
  bot4_clock_reason: { args: [], returns: "cstring" },
  bot4_clock_tsc_hz: { args: [], returns: "f64" },
  bot4_clock_calib_err: { args: [], returns: "f64" },
  bot4_clock_info: { args: ["ptr"], returns: "void" },
  bot4_clock_recalibrate: { args: [], returns: "f64" },
  bot4_clock_offset_ns: { args: [], returns: "f64" },
  bot4_clock_test_skew: { args: ["f64"], returns: "void" },
  bot4_clock_bench: { args: ["i32", "i32"], returns: "f64" },
  bot4_layout_clock: { args: ["ptr", "i32"], returns: "i32" },
} as const;

export const ClockSource = { monotonic: 1, tsc: 2 } as const;

/** bot4_clock_info_t */
export const ClockInfoOffset = {
  anchorRealtimeNs: 0,
  anchorMonotonicNs: 8,
  realtimeOffsetNs: 16,
  monotonicOffsetNs: 24,
  tscHz: 32,
  calibErr: 40,
  calibBaselineNs: 48,
  initNs: 56,
  lastOffsetNs: 64,
  source: 72,
  forced: 76,
  invariantTsc: 80,
  envInvalid: 84,
  recalibrations: 88,
} as const;
export const CLOCK_INFO_BYTES = 96;

const o = ClockInfoOffset;
export const clockLayouts: LayoutSpec[] = [
  {
    family: "clock",
    fn: "bot4_layout_clock",
    expected: {
      bot4_clock_info_t: CLOCK_INFO_BYTES,
      "bot4_clock_info_t.anchor_realtime_ns": o.anchorRealtimeNs,
      "bot4_clock_info_t.anchor_monotonic_ns": o.anchorMonotonicNs,
      "bot4_clock_info_t.realtime_offset_ns": o.realtimeOffsetNs,
      "bot4_clock_info_t.monotonic_offset_ns": o.monotonicOffsetNs,
      "bot4_clock_info_t.tsc_hz": o.tscHz,
      "bot4_clock_info_t.calib_err": o.calibErr,
      "bot4_clock_info_t.calib_baseline_ns": o.calibBaselineNs,
      "bot4_clock_info_t.init_ns": o.initNs,
      "bot4_clock_info_t.last_offset_ns": o.lastOffsetNs,
      "bot4_clock_info_t.source": o.source,
      "bot4_clock_info_t.forced": o.forced,
      "bot4_clock_info_t.invariant_tsc": o.invariantTsc,
      "bot4_clock_info_t.env_invalid": o.envInvalid,
      "bot4_clock_info_t.recalibrations": o.recalibrations,
      BOT4_CLOCK_MONOTONIC: ClockSource.monotonic,
      BOT4_CLOCK_TSC: ClockSource.tsc,
    },
  },
];
