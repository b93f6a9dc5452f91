/**
 * Indicator kernels (c/ind.c) against TA-Lib's C library (build/ref/libta.so) in the same run:
 * ns per price update for Bollinger(20,2), EMA(20) and RSI(14) over 1 M prices — TA-Lib on one
 * series of 1 M, ours on 64 series x 15,625 steps ([t][64], the batch layout), 8 series x 125,000
 * and one series of 1 M — and the incremental update of the full indicator set for a group of 8
 * instruments per call, FFI crossing included.
 * Every batch variant is timed in alternating rounds with TA-Lib, so the ratios compare medians
 * taken under the same load on a shared machine.
 * Goals (indicator issue): batch >= 5x TA-Lib per price on AVX2 (>= 8x on AVX-512); update8 of
 * the full set <= 60 ns per call.
 *
 * BOT4_IND_BASELINE=<lib.so>: also times update8 of another build of c/ind.c in alternated rounds
 * with the loaded one (same process, same load), e.g. the previous commit's:
 *   mkdir -p /tmp/ind0 && git show HEAD~1:c/ind.c > /tmp/ind0/ind.c && git show HEAD~1:c/ind.h > /tmp/ind0/ind.h &&
 *   gcc -O3 -std=gnu11 -fPIC -shared -fvisibility=hidden -fno-plt -ffp-contract=off -D_GNU_SOURCE -march=native -mtune=native -Ic -o /tmp/ind0/lib.so /tmp/ind0/ind.c -lm
 */
import { ptr } from "bun:ffi";
import { alignedBuffer } from "../ffi/buffers.ts";
import { choice } from "../ffi/lib.ts";
import { batch, indKernelsAt, NativeIndicatorSet } from "../ffi/ind.ts";
import { talibSymbols } from "../ffi/talib.ts";
import { measure } from "mitata";
import { done, figure, micro, percentiles, section } from "./harness.ts";

const N = 1_000_000;
let seed = 42;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const x1 = new Float64Array(N);
for (let i = 0, p = 46000; i < N; i++) x1[i] = p *= 1 + (rnd() - 0.5) * 0.002;
const out1 = [new Float64Array(N), new Float64Array(N), new Float64Array(N)];
const ta = talibSymbols();
const beg = new Int32Array(1), nb = new Int32Array(1);
const pb = ptr(beg), pn = ptr(nb), px = ptr(x1), po = out1.map((o) => ptr(o));
const B = batch();

/** Times each function once per round, in turn, so all see the same machine (the box is shared
 * and noisy); p50/p99 per function of ns per price over `reps` rounds (one warm-up round first). */
function alternate(fns: (() => void)[], reps = 21): { p50: number; p99: number }[] {
  const t = fns.map(() => [] as number[]);
  for (let r = 0; r <= reps; r++) {
    fns.forEach((fn, i) => {
      const t0 = performance.now();
      fn();
      if (r > 0) t[i]!.push(((performance.now() - t0) * 1e6) / N);
    });
  }
  return t.map((s) => {
    const p = percentiles(s);
    return { p50: p.p50, p99: p.p99 };
  });
}

section(`batch, ns per price update over ${N.toLocaleString()} prices (kernel variant ${choice.variant})`);
const layouts = [64, 8, 1] as const;
const inputs = new Map<number, Float64Array>(), outs = new Map<number, Float64Array[]>();
for (const w of layouts) {
  const steps = N / w;
  const x = new Float64Array(N);
  for (let t = 0; t < steps; t++) for (let l = 0; l < w; l++) x[t * w + l] = x1[l * steps + t]!; // w independent series
  inputs.set(w, x);
  outs.set(w, [new Float64Array(N), new Float64Array(N), new Float64Array(N)]);
}

const cases = {
  bbands: {
    ta: () => ta.TA_BBANDS(0, N - 1, px, 20, 2, 2, 0, pb, pn, po[0]!, po[1]!, po[2]!),
    ours: (w: number) => { const o = outs.get(w)!; B.bbands(inputs.get(w)!, N / w, w, 20, 2, o[0]!, o[1]!, o[2]!); },
  },
  ema: {
    ta: () => ta.TA_EMA(0, N - 1, px, 20, pb, pn, po[0]!),
    ours: (w: number) => B.ema(inputs.get(w)!, N / w, w, 20, outs.get(w)![0]!),
  },
  rsi: {
    ta: () => ta.TA_RSI(0, N - 1, px, 14, pb, pn, po[0]!),
    ours: (w: number) => B.rsi(inputs.get(w)!, N / w, w, 14, outs.get(w)![0]!),
  },
};

for (const [name, c] of Object.entries(cases)) {
  const [r, o64, o8, o1] = alternate([() => { c.ta(); }, () => c.ours(64), () => c.ours(8), () => c.ours(1)]) as [
    { p50: number; p99: number }, { p50: number; p99: number }, { p50: number; p99: number }, { p50: number; p99: number },
  ];
  figure(`${name}_talib_ns_per_price`, r.p50, "ns", `p99 ${r.p99.toFixed(2)}`);
  for (const [w, o] of [[64, o64], [8, o8], [1, o1]] as const) {
    figure(`${name}_ours_w${w}_ns_per_price`, o.p50, "ns", `p99 ${o.p99.toFixed(2)}; ${(r.p50 / o.p50).toFixed(1)}x TA-Lib`);
  }
  figure(`${name}_speedup_vs_talib`, r.p50 / o64.p50, "x", "64 series at once vs TA-Lib, medians of the same alternated rounds");
}

section("incremental: full indicator set (SMA, EMA, BB, RSI, MACD, ATR, VWAP, z) for 8 instruments, one tick each");
const PERIODS = { sma: 20, ema: 20, bb: 20, bbK: 2, rsi: 14, macdFast: 12, macdSlow: 26, macdSignal: 9, atr: 14, z: 20, vwap: 0 };
/** the bench's call: one price moves between calls, all 8 lanes update */
function updater(set: NativeIndicatorSet): () => number {
  const io = alignedBuffer(256);
  const lanes = new Float64Array(io.buffer, io.byteOffset, 32);
  for (let l = 0; l < 8; l++) { lanes[l] = lanes[8 + l] = lanes[16 + l] = 100 + l; lanes[24 + l] = 1; }
  const pc = io.ptr, ph = io.ptr + 64, pl = io.ptr + 128, pv = io.ptr + 192;
  let k = 0;
  const update = set.update8.bind(set);
  for (let i = 0; i < 1000; i++) update(0, pc, ph, pl, pv, 0xff);
  return () => {
    lanes[k & 7] = 100 + (k & 31) * 0.01; // the price moves between calls
    k++;
    return update(0, pc, ph, pl, pv, 0xff);
  };
}
const ours = updater(new NativeIndicatorSet(8, PERIODS));
await micro("update8_full_set_8_instruments", ours);
const baselineLib = process.env.BOT4_IND_BASELINE;
if (baselineLib) {
  const base = updater(new NativeIndicatorSet(8, PERIODS, indKernelsAt(baselineLib)));
  const t: number[][] = [[], []];
  for (let r = 0; r < 11; r++) {
    t[0]!.push((await measure(base, { min_cpu_time: 100e6 })).p50);
    t[1]!.push((await measure(ours, { min_cpu_time: 100e6 })).p50);
  }
  const med = (a: number[]) => percentiles(a).p50;
  figure("update8_baseline_alternated_ns", med(t[0]!), "ns", `${baselineLib}: median of 11 alternated rounds' p50`);
  figure("update8_ours_alternated_ns", med(t[1]!), "ns", "the loaded kernels, same rounds");
  figure("update8_ours_vs_baseline", med(t[1]!.map((x, i) => x / t[0]![i]!)), "x", "median of the per-round ratios");
}
done();
