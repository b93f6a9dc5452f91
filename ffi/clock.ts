/**
 * The bot4 clock from TypeScript: the same clock C kernels stamp with (c/clock.h) — ns since a
 * per-process anchor, as a double (exact for 104 days), shared by every Worker of the process.
 * Hot path: `const t = now();` (copy `now` into a local; it is the FFI function itself).
 * Cold path: clockInfo(), recalibrate(), conversions to Unix epoch.
 */
import { K } from "./lib.ts";
import { CLOCK_INFO_BYTES, ClockInfoOffset as O, ClockSource } from "./sym/clock.ts";

/** ns since the process's clock anchor (calibrated TSC, or CLOCK_MONOTONIC). One FFI call. */
export const now: () => number = K.bot4_clock_now;

export type ClockSourceName = "tsc" | "monotonic";

export interface ClockInfo {
  source: ClockSourceName;
  /** why that source was chosen, in words */
  reason: string;
  /** true when BOT4_CLOCK chose the source */
  forced: boolean;
  invariantTsc: boolean;
  /** calibrated TSC ticks per second (0 with the monotonic source) */
  tscHz: number;
  /** bound on the relative rate error of the current calibration (e.g. 3e-5 = 30 ppm) */
  calibErr: number;
  /** baseline the current calibration was measured over, ns */
  calibBaselineNs: number;
  /** how long the start-up calibration took, ns */
  initNs: number;
  recalibrations: number;
  /** offset vs CLOCK_MONOTONIC found (and slewed away) by the last recalibration, ns */
  lastOffsetNs: number;
  /** CLOCK_REALTIME / CLOCK_MONOTONIC at the anchor (clock value 0) */
  anchorRealtimeNs: bigint;
  anchorMonotonicNs: bigint;
  /** Unix epoch ns of clock value 0 as of the last (re)calibration: epoch = this + now() */
  realtimeOffsetNs: bigint;
  monotonicOffsetNs: bigint;
}

export class ClockConfigError extends Error {
  override name = "ConfigError";
}

const infoBuf = new ArrayBuffer(CLOCK_INFO_BYTES);
const infoI64 = new BigInt64Array(infoBuf);
const infoF64 = new Float64Array(infoBuf);
const infoI32 = new Int32Array(infoBuf);

/** Everything the clock knows about itself (cold path: one FFI call and an object). */
export function clockInfo(): ClockInfo {
  K.bot4_clock_info(infoI64);
  const src = infoI32[O.source / 4]!;
  return {
    source: src === ClockSource.tsc ? "tsc" : "monotonic",
    reason: String(K.bot4_clock_reason()),
    forced: infoI32[O.forced / 4] === 1,
    invariantTsc: infoI32[O.invariantTsc / 4] === 1,
    tscHz: infoF64[O.tscHz / 8]!,
    calibErr: infoF64[O.calibErr / 8]!,
    calibBaselineNs: infoF64[O.calibBaselineNs / 8]!,
    initNs: infoF64[O.initNs / 8]!,
    recalibrations: infoI32[O.recalibrations / 4]!,
    lastOffsetNs: infoF64[O.lastOffsetNs / 8]!,
    anchorRealtimeNs: infoI64[O.anchorRealtimeNs / 8]!,
    anchorMonotonicNs: infoI64[O.anchorMonotonicNs / 8]!,
    realtimeOffsetNs: infoI64[O.realtimeOffsetNs / 8]!,
    monotonicOffsetNs: infoI64[O.monotonicOffsetNs / 8]!,
  };
}

const first = clockInfo();
if (infoI32[O.envInvalid / 4] === 1) {
  throw new ClockConfigError(`BOT4_CLOCK=${process.env.BOT4_CLOCK} is not a clock source; expected tsc or monotonic (or unset: TSC when invariant)`);
}

// Unix epoch of clock value 0, split so that ms conversions stay exact in a double
let epochOffset = first.realtimeOffsetNs;
let epochOffsetMs = Number(epochOffset / 1_000_000n);
let epochOffsetRemNs = Number(epochOffset % 1_000_000n);
function refreshEpoch(): void {
  epochOffset = clockInfo().realtimeOffsetNs;
  epochOffsetMs = Number(epochOffset / 1_000_000n);
  epochOffsetRemNs = Number(epochOffset % 1_000_000n);
}

/**
 * Re-measures the TSC rate over the whole time since the anchor (call it once the process has
 * run a while, e.g. after 1 s, and then now and again); the offset found is slewed away, never
 * stepped back. Returns the new rate error bound (0 with the monotonic source).
 */
export function recalibrate(): number {
  const err = K.bot4_clock_recalibrate();
  refreshEpoch();
  return err;
}

/** Unix epoch ns of a clock value (exact integer arithmetic). */
export function toEpochNs(t: number): bigint {
  return epochOffset + BigInt(Math.round(t));
}
/** Unix epoch ms of a clock value, as a double (sub-µs precise). */
export function toEpochMs(t: number): number {
  return epochOffsetMs + (epochOffsetRemNs + t) / 1e6;
}
/** The clock value of a Unix epoch time in ns (negative before the anchor). */
export function fromEpochNs(epochNs: bigint): number {
  return Number(epochNs - epochOffset);
}

/** (CLOCK_MONOTONIC - anchor) - now(), measured in C with a tight bracket: how far the clock is off. */
export function offsetFromMonotonicNs(): number {
  return K.bot4_clock_offset_ns();
}

/** What a C loop pays per clock read, ns (bench support). */
export const C_CLOCK_READS = {
  rdtsc: 0,
  rdtscp: 1,
  lfence_rdtsc: 2,
  clock_gettime_monotonic: 3,
  clock_gettime_realtime: 4,
  bot4_clock_inline: 5,
  bot4_clock_now_ns_call: 6,
} as const;
export function cReadCostNs(which: keyof typeof C_CLOCK_READS, iters = 1_000_000): number {
  return K.bot4_clock_bench(C_CLOCK_READS[which], iters);
}
