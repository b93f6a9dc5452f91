/**
 * Indicator kernels (c/ind.c) against TA-Lib's C library (build/ref/libta.so via ffi/talib.ts) on
 * real candles, against the worked-example sheets of ../shared/data/ta-indicator-reference, the
 * incremental form against the batch form over 1 M updates, variance stability with large offsets,
 * and every runnable build variant against the loaded one.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { K, openVariant, VARIANTS, type Variant } from "../ffi/lib.ts";
import { supportsLevel } from "../ffi/cpu.ts";
import { alignedBuffer } from "../ffi/buffers.ts";
import { batch, NativeIndicatorSet } from "../ffi/ind.ts";
import { taAtr, taBbands, taEma, taMacd, taRsi, taSma } from "../ffi/talib.ts";
import { IndicatorSet } from "../src/signal/indicators.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind } from "../src/domain/tick.ts";

const DATA = `${import.meta.dir}/../../shared/data`;
const BTC = `${DATA}/nautilus_trader/bars/btc-perp-20211231-20220201_1m.csv.gz`;
const KRAKEN = `${DATA}/nautilus_trader/kraken/http_ohlc.json`;
const SHEETS = `${DATA}/ta-indicator-reference`;
const haveData = existsSync(BTC) && existsSync(KRAKEN) && existsSync(SHEETS);
if (!haveData) console.warn(`indicator tests: ${DATA} is absent: the real-data comparisons are skipped`);

interface Candles { name: string; o: Float64Array; h: Float64Array; l: Float64Array; c: Float64Array; v: Float64Array }

function loadBtc(): Candles {
  const rows = gunzipSync(readFileSync(BTC)).toString("utf8").trim().split("\n").slice(1);
  const n = rows.length;
  const o = new Float64Array(n), h = new Float64Array(n), l = new Float64Array(n), c = new Float64Array(n), v = new Float64Array(n);
  rows.forEach((r, i) => {
    const f = r.split(",");
    o[i] = +f[1]!; h[i] = +f[2]!; l[i] = +f[3]!; c[i] = +f[4]!; v[i] = +f[5]!;
  });
  return { name: "FTX BTC-PERP 1m", o, h, l, c, v };
}

function loadKraken(): Candles {
  const rows = (JSON.parse(readFileSync(KRAKEN, "utf8")).result.XBTUSDT as (string | number)[][]);
  const n = rows.length;
  const col = (j: number) => Float64Array.from(rows, (r) => Number(r[j]));
  void n;
  return { name: "Kraken XBTUSDT 1m", o: col(1), h: col(2), l: col(3), c: col(4), v: col(6) };
}

/** the largest relative error seen per indicator (first word of `what`), printed at the end */
const worstSeen = new Map<string, number>();

/** |a-b| <= tol * max(|a|,|b|) (absolute tol near 0); NaN only where the reference has NaN. */
function expectClose(ours: Float64Array, ref: Float64Array, tol: number, what: string, absFloor = 1e-12): void {
  expect(ours.length).toBe(ref.length);
  let worst = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i]!, b = ref[i]!;
    if (Number.isNaN(b) || Number.isNaN(a)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) throw new Error(`${what}: index ${i}: ours ${a}, reference ${b} (warm-up positions differ)`);
      continue;
    }
    const err = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), absFloor);
    if (err > worst) { worst = err; at = i; }
  }
  const key = what.split(/[ (]/)[0]!;
  worstSeen.set(key, Math.max(worstSeen.get(key) ?? 0, worst));
  if (worst > tol) throw new Error(`${what}: relative error ${worst} at index ${at} (ours ${ours[at]}, reference ${ref[at]}) exceeds ${tol}`);
}

/** [t][8] layout of 8 series */
function interleave(series: Float64Array[]): Float64Array {
  const n = series[0]!.length, out = new Float64Array(n * 8);
  for (let l = 0; l < 8; l++) for (let t = 0; t < n; t++) out[t * 8 + l] = series[l]![t]!;
  return out;
}
function lane(x: Float64Array, l: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) out[t] = x[t * 8 + l]!;
  return out;
}

const B = batch();

describe.skipIf(!haveData)("vs TA-Lib C on real candles, 1e-9 relative, same warm-up NaNs", () => {
  const sets = haveData ? [loadBtc(), loadKraken()] : [];
  for (const d of sets) {
    describe(d.name, () => {
      const n = d.c.length;
      // 8 series at once: the closes, opens, highs, lows and four transformed copies
      const eight = [d.c, d.o, d.h, d.l, d.c.map((x) => x * 1e-3), d.c.map((x) => x + 1e6), d.o.map((x) => 1 / x), d.h.map((x) => x * 3.7)];
      const X = interleave(eight);
      const one = new Float64Array(n), wide = new Float64Array(n * 8);
      test(`sizes: ${n} candles`, () => expect(n).toBeGreaterThan(700));
      for (const p of [5, 20, 50]) {
        test(`SMA(${p}), EMA(${p})`, () => {
          B.sma(d.c, n, 1, p, one);
          expectClose(one, taSma(d.c, p), 1e-9, `SMA(${p})`);
          B.ema(d.c, n, 1, p, one);
          expectClose(one, taEma(d.c, p), 1e-9, `EMA(${p})`);
          B.ema(X, n, 8, p, wide);
          for (let l = 0; l < 8; l++) expectClose(lane(wide, l, n), taEma(eight[l]!, p), 1e-9, `EMA(${p}) lane ${l}`);
          B.sma(X, n, 8, p, wide);
          for (let l = 0; l < 8; l++) expectClose(lane(wide, l, n), taSma(eight[l]!, p), 1e-9, `SMA(${p}) lane ${l}`);
        });
      }
      test("BBANDS(20, 2) and BBANDS(10, 1.5), population stddev", () => {
        for (const [p, k] of [[20, 2], [10, 1.5]] as const) {
          const u = new Float64Array(n * 8), m = new Float64Array(n * 8), lo = new Float64Array(n * 8);
          B.bbands(X, n, 8, p, k, u, m, lo);
          for (let l = 0; l < 8; l++) {
            const r = taBbands(eight[l]!, p, k);
            expectClose(lane(u, l, n), r.upper, 1e-9, `BB upper lane ${l}`);
            expectClose(lane(m, l, n), r.middle, 1e-9, `BB middle lane ${l}`);
            expectClose(lane(lo, l, n), r.lower, 1e-9, `BB lower lane ${l}`);
          }
        }
      });
      test("RSI(14), RSI(7): Wilder, SMA-seeded", () => {
        for (const p of [14, 7]) {
          B.rsi(X, n, 8, p, wide);
          for (let l = 0; l < 8; l++) expectClose(lane(wide, l, n), taRsi(eight[l]!, p), 1e-9, `RSI(${p}) lane ${l}`);
          B.rsi(d.c, n, 1, p, one);
          expectClose(one, taRsi(d.c, p), 1e-9, `RSI(${p}) single`);
        }
      });
      test("MACD(12, 26, 9) and MACD(5, 35, 5): TA-Lib's seeding", () => {
        for (const [f, s, g] of [[12, 26, 9], [5, 35, 5]] as const) {
          const a = new Float64Array(n * 8), b = new Float64Array(n * 8), c = new Float64Array(n * 8);
          B.macd(X, n, 8, f, s, g, a, b, c);
          for (let l = 0; l < 8; l++) {
            const r = taMacd(eight[l]!, f, s, g);
            // the line is a difference of two EMAs: relative to the price scale
            expectClose(lane(a, l, n), r.line, 1e-9, `MACD line lane ${l}`, Math.abs(eight[l]![0]!) * 1e-4);
            expectClose(lane(b, l, n), r.signal, 1e-9, `MACD signal lane ${l}`, Math.abs(eight[l]![0]!) * 1e-4);
            expectClose(lane(c, l, n), r.hist, 1e-9, `MACD hist lane ${l}`, Math.abs(eight[l]![0]!) * 1e-4);
          }
        }
      });
      test("ATR(14), ATR(5)", () => {
        for (const p of [14, 5]) {
          B.atr(d.h, d.l, d.c, n, 1, p, one);
          expectClose(one, taAtr(d.h, d.l, d.c, p), 1e-9, `ATR(${p})`);
        }
      });
    });
  }
});

describe("vs TA-Lib C on the bench's 1 M prices (64 series of 15,625, the benched layout; streamed output)", () => {
  test("Bollinger(20, 2), EMA(20), RSI(14): 1e-9 relative, every series", () => {
    const N = 1_000_000, W = 64, steps = N / W;
    let seed = 42;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const x1 = new Float64Array(N);
    for (let i = 0, p = 46000; i < N; i++) x1[i] = p *= 1 + (rnd() - 0.5) * 0.002;
    const X = new Float64Array(N);
    for (let t = 0; t < steps; t++) for (let l = 0; l < W; l++) X[t * W + l] = x1[l * steps + t]!;
    const col = (a: Float64Array, l: number) => {
      const out = new Float64Array(steps);
      for (let t = 0; t < steps; t++) out[t] = a[t * W + l]!;
      return out;
    };
    const u = new Float64Array(N), m = new Float64Array(N), lo = new Float64Array(N), e = new Float64Array(N), r = new Float64Array(N);
    B.bbands(X, steps, W, 20, 2, u, m, lo);
    B.ema(X, steps, W, 20, e);
    B.rsi(X, steps, W, 14, r);
    const before = new Map(worstSeen);
    worstSeen.clear();
    for (let l = 0; l < W; l++) {
      const s = x1.subarray(l * steps, (l + 1) * steps);
      const bb = taBbands(s, 20, 2);
      expectClose(col(u, l), bb.upper, 1e-9, `BB upper series ${l}`);
      expectClose(col(m, l), bb.middle, 1e-9, `BB middle series ${l}`);
      expectClose(col(lo, l), bb.lower, 1e-9, `BB lower series ${l}`);
      expectClose(col(e, l), taEma(s, 20), 1e-9, `EMA(20) series ${l}`);
      expectClose(col(r, l), taRsi(s, 14), 1e-9, `RSI(14) series ${l}`);
    }
    console.log(`indicators.test: 1 M bench prices, largest relative error vs TA-Lib: ${[...worstSeen].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", ")}`);
    for (const [k, v] of before) worstSeen.set(k, Math.max(v, worstSeen.get(k) ?? 0));
  });
});


function readSheet(name: string): { head: string[]; rows: string[][] } {
  const lines = readFileSync(`${SHEETS}/${name}`, "utf8").trim().split(/\r?\n/);
  return { head: lines[0]!.split(","), rows: lines.slice(1).map((r) => r.split(",")) };
}
function col(s: { head: string[]; rows: string[][] }, name: string): Float64Array {
  const j = s.head.indexOf(name);
  if (j < 0) throw new Error(`column ${name} missing`);
  return Float64Array.from(s.rows, (r) => (r[j] === undefined || r[j] === "" ? NaN : Number(r[j])));
}

describe.skipIf(!haveData)("vs the worked-example sheets (cs-*.csv), to the precision they carry", () => {
  test("cs-bbands: 20-day middle, upper, lower (6 decimals)", () => {
    const s = readSheet("cs-bbands.csv");
    const c = col(s, "Close"), n = c.length;
    const u = new Float64Array(n), m = new Float64Array(n), l = new Float64Array(n);
    B.bbands(c, n, 1, 20, 2, u, m, l);
    const checks: [Float64Array, string][] = [[m, "MiddleBand"], [u, "HighBand"], [l, "LowBand"]];
    for (const [ours, name] of checks) {
      const ref = col(s, name);
      let compared = 0;
      for (let i = 0; i < n; i++) {
        expect(Number.isNaN(ours[i]!)).toBe(Number.isNaN(ref[i]!));
        if (!Number.isNaN(ref[i]!)) { expect(Math.abs(ours[i]! - ref[i]!)).toBeLessThan(1e-6 + 1e-9); compared++; }
      }
      expect(compared).toBe(n - 19);
    }
  });
  test("cs-atr: ATR(14) with Wilder smoothing (10 decimals); the sheet counts the first bar's high-low as a range", () => {
    const s = readSheet("cs-atr.csv");
    const h = col(s, "High"), l = col(s, "Low"), c = col(s, "Close"), ref = col(s, "ATR"), n = c.length;
    // TA-Lib's first range is bar 1's; the sheet also counts bar 0's high - low. A leading bar whose
    // close lies inside bar 0's range gives exactly that, so our kernel must reproduce the sheet shifted by one.
    const pre = (a: Float64Array, x: number) => Float64Array.of(x, ...a);
    const out = new Float64Array(n + 1);
    B.atr(pre(h, h[0]!), pre(l, l[0]!), pre(c, l[0]!), n + 1, 1, 14, out);
    let compared = 0;
    for (let i = 0; i < n; i++) {
      if (ref[i] === 0) { expect(out[i + 1]).toBeNaN(); continue; } // the sheet writes 0 during warm-up
      expect(Math.abs(out[i + 1]! - ref[i]!)).toBeLessThan(1e-9);
      compared++;
    }
    expect(compared).toBe(n - 13);
    const plain = new Float64Array(n);
    B.atr(h, l, c, n, 1, 14, plain);
    expectClose(plain, taAtr(h, l, c, 14), 1e-9, "ATR vs TA-Lib on the sheet's bars");
  });
  test("cs-vwap: typical-price VWAP over the last 14 bars (fewer at the start)", () => {
    const s = readSheet("cs-vwap.csv");
    const h = col(s, "High"), l = col(s, "Low"), c = col(s, "Close"), v = col(s, "Volume"), ref = col(s, "vwap"), n = c.length;
    const out = new Float64Array(n);
    B.vwap(h, l, c, v, n, 1, 14, out);
    expectClose(out, ref, 1e-12, "VWAP(14)");
    B.vwap(h, l, c, v, n, 1, 0, out);
    expectClose(out.subarray(0, 14), ref.subarray(0, 14), 1e-12, "cumulative VWAP before the window fills");
  });
  test("cs-rsi: its closes through our RSI equal TA-Lib's (the sheet's own RSI column seeds its averages from 0, not from the first 14 changes, so it is not TA-Lib's definition)", () => {
    const s = readSheet("cs-rsi.csv");
    const c = col(s, "Close"), n = c.length, out = new Float64Array(n);
    B.rsi(c, n, 1, 14, out);
    expectClose(out, taRsi(c, 14), 1e-9, "RSI vs TA-Lib on the sheet's closes");
    expect(out.filter((x) => !Number.isNaN(x)).length).toBe(n - 14);
  });
});

/** deterministic random walk */
function walk(n: number, lanes: number, seed: number, base = 100, offset = 0): Float64Array {
  const out = new Float64Array(n * lanes);
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const px = Array.from({ length: lanes }, (_, l) => base * (1 + l));
  for (let t = 0; t < n; t++)
    for (let l = 0; l < lanes; l++) {
      px[l] = Math.max(1, px[l]! * (1 + (rnd() - 0.5) * 0.002) + (rnd() < 0.01 ? 0 : 0));
      out[t * lanes + l] = offset + (rnd() < 0.05 ? px[l]! : Math.round(px[l]! * 100) / 100);
    }
  return out;
}

const PERIODS = { sma: 20, ema: 20, bb: 20, bbK: 2, rsi: 14, macdFast: 12, macdSlow: 26, macdSignal: 9, atr: 14, z: 30, vwap: 0 };

function same(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * One series (W = 1) runs its own kernels past the warm-up: scalar chains, and for EMA and RSI a
 * long series in chunks side by side, each chunk repaired from the exact state of the one before
 * (c/ind.c ema1_steady, rsi1_steady). They must give lane 0 of the 8-wide kernels bit for bit:
 * series long enough for the chunks (>= 2^15 steps), odd lengths (a remainder after the chunks),
 * period ends at every phase, prices with a large offset, flat stretches (RSI 0/0, zero variance).
 */
describe("one series (W = 1) equals lane 0 of the 8-wide batch, bit for bit", () => {
  const cases: [string, number, Float64Array][] = [
    ["random walk", 1_000_003, walk(1_000_003, 1, 11)],
    ["offset 1e9", 300_001, walk(300_001, 1, 12, 100, 1e9)],
    ["short (sequential)", 5_000, walk(5_000, 1, 13)],
  ];
  // flat stretches: repeats of 2000 equal prices every 50,000 steps
  const flat = walk(200_000, 1, 14);
  for (let t = 0; t < flat.length; t++) if (t % 50_000 < 2000) flat[t] = flat[t - (t % 50_000)]!;
  cases.push(["flat stretches", flat.length, flat]);
  for (const [name, n, x1] of cases) {
    test(`${name}: ${n} steps`, () => {
      const x8 = new Float64Array(n * 8);
      for (let t = 0; t < n; t++) x8.fill(x1[t]!, t * 8, t * 8 + 8);
      const col0 = (a: Float64Array) => Float64Array.from({ length: n }, (_, t) => a[t * 8]!);
      const check = (one: Float64Array, wide: Float64Array, what: string) => {
        const ref = col0(wide);
        for (let t = 0; t < n; t++)
          if (!same(one[t]!, ref[t]!)) throw new Error(`${name} ${what}: step ${t}: W=1 ${one[t]}, W=8 lane 0 ${ref[t]}`);
        expect(Number.isFinite(one[n - 1]!)).toBe(true);
      };
      for (const p of [14, 20, 97]) {
        const one = new Float64Array(n), wide = new Float64Array(n * 8);
        B.ema(x1, n, 1, p, one); B.ema(x8, n, 8, p, wide); check(one, wide, `EMA(${p})`);
        B.rsi(x1, n, 1, p, one); B.rsi(x8, n, 8, p, wide); check(one, wide, `RSI(${p})`);
        const u = new Float64Array(n), m = new Float64Array(n), l = new Float64Array(n);
        const U = new Float64Array(n * 8), M = new Float64Array(n * 8), Lw = new Float64Array(n * 8);
        B.bbands(x1, n, 1, p, 2, u, m, l); B.bbands(x8, n, 8, p, 2, U, M, Lw);
        check(u, U, `BB(${p}) upper`); check(m, M, `BB(${p}) middle`); check(l, Lw, `BB(${p}) lower`);
      }
    }, 60_000);
  }
});

/**
 * EMA past the warm-up runs long batches as chunks of rows side by side, each chunk started early
 * from a guess and repaired from the exact state of the one before (c/ind.c emaw_steady): 64
 * series at once must give what 8 at a time give, bit for bit (the 8-wide form is itself checked
 * against the incremental update8 above; the chunk boundaries differ between the two widths).
 */
describe("EMA over 64 series equals 8 series at a time, bit for bit", () => {
  const n = 20_000, W = 64;
  const X = walk(n, W, 21);
  for (const p of [5, 20, 97]) {
    test(`EMA(${p}), ${n} steps x ${W} series`, () => {
      const wide = new Float64Array(n * W);
      B.ema(X, n, W, p, wide);
      for (let g = 0; g < W / 8; g++) {
        const x8 = new Float64Array(n * 8), y8 = new Float64Array(n * 8);
        for (let t = 0; t < n; t++) for (let l = 0; l < 8; l++) x8[t * 8 + l] = X[t * W + g * 8 + l]!;
        B.ema(x8, n, 8, p, y8);
        for (let t = 0; t < n; t++)
          for (let l = 0; l < 8; l++)
            if (!same(wide[t * W + g * 8 + l]!, y8[t * 8 + l]!)) throw new Error(`EMA(${p}) step ${t} series ${g * 8 + l}: W=64 ${wide[t * W + g * 8 + l]}, W=8 ${y8[t * 8 + l]}`);
      }
      expect(Number.isFinite(wide[n * W - 1]!)).toBe(true);
    });
  }
});

describe("incremental update8 equals the batch kernels, bit for bit, over 1 M updates", () => {
  test("8 lanes x 125,000 steps (one lane skipped on every 7th step)", () => {
    const steps = 125_000, n = steps;
    const X = walk(n, 8, 7);
    const H = X.map((x, i) => x + (i % 5) * 0.01), Lo = X.map((x, i) => x - (i % 3) * 0.01), V = X.map((_, i) => 1 + (i % 11));
    const set = new NativeIndicatorSet(8, PERIODS);
    const io = alignedBuffer(4 * 64);
    const c = new Float64Array(io.buffer, io.byteOffset, 8), h = new Float64Array(io.buffer, io.byteOffset + 64, 8);
    const l = new Float64Array(io.buffer, io.byteOffset + 128, 8), v = new Float64Array(io.buffer, io.byteOffset + 192, 8);
    // lane 3 skips every 7th step: its batch series is the subsequence it saw
    const rows = ["sma", "ema", "bbUpper", "bbLower", "rsi", "macd", "macdSignal", "atr", "zscore", "vwap"] as const;
    const got = rows.map(() => new Float64Array(n * 8).fill(NaN));
    const g = set.groupView(0);
    const idx = rows.map((r) => set.rowIndex(0, r) - set.rowIndex(0, "last"));
    const seen3: number[] = [];
    let updates = 0;
    for (let t = 0; t < n; t++) {
      c.set(X.subarray(t * 8, t * 8 + 8)); h.set(H.subarray(t * 8, t * 8 + 8)); l.set(Lo.subarray(t * 8, t * 8 + 8)); v.set(V.subarray(t * 8, t * 8 + 8));
      const skip3 = t % 7 === 6;
      const mask = skip3 ? 0xf7 : 0xff;
      updates += skip3 ? 7 : 8;
      expect(set.update8(0, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, mask)).toBe(0);
      if (!skip3) seen3.push(t);
      const row = skip3 ? -1 : seen3.length - 1;
      for (let r = 0; r < rows.length; r++) {
        const out = got[r]!, base = idx[r]!;
        for (let k = 0; k < 8; k++) {
          if (k === 3) { if (row >= 0) out[row * 8 + 3] = g[base + 3]!; }
          else out[t * 8 + k] = g[base + k]!;
        }
      }
    }
    expect(updates).toBeGreaterThan(980_000);
    // batch inputs: lane 3 replaced by its subsequence, padded at the end by repeats (not compared)
    const fix = (A: Float64Array) => {
      const B2 = A.slice();
      for (let j = 0; j < n; j++) B2[j * 8 + 3] = A[seen3[Math.min(j, seen3.length - 1)]! * 8 + 3]!;
      return B2;
    };
    const Xb = fix(X), Hb = fix(H), Lb = fix(Lo), Vb = fix(V);
    const want = rows.map(() => new Float64Array(n * 8));
    const [sma, ema, up, lo, rsi, macd, sig, atr, z, vwap] = want as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
    B.sma(Xb, n, 8, 20, sma);
    B.ema(Xb, n, 8, 20, ema);
    const mid = new Float64Array(n * 8);
    B.bbands(Xb, n, 8, 20, 2, up, mid, lo);
    B.rsi(Xb, n, 8, 14, rsi);
    const hist = new Float64Array(n * 8);
    B.macd(Xb, n, 8, 12, 26, 9, macd, sig, hist);
    B.atr(Hb, Lb, Xb, n, 8, 14, atr);
    B.zscore(Xb, n, 8, 30, z);
    B.vwap(Hb, Lb, Xb, Vb, n, 8, 0, vwap);
    for (let r = 0; r < rows.length; r++) {
      const a = got[r]!, b = want[r]!;
      let mismatches = 0, first = -1;
      for (let i = 0; i < n * 8; i++) {
        if ((i & 7) === 3 && (i >> 3) >= seen3.length) continue;
        if (!same(a[i]!, b[i]!)) { mismatches++; if (first < 0) first = i; }
      }
      if (mismatches) throw new Error(`${rows[r]}: ${mismatches} values differ, first at step ${first >> 3} lane ${first & 7}: incremental ${a[first]}, batch ${b[first]}`);
    }
    // a test that can fail: the outputs are real numbers after warm-up
    expect(rsi[n * 8 - 1]).toBeGreaterThan(0);
    expect(atr[n * 8 - 1]).toBeGreaterThan(0);
  });
});

/**
 * All 8 lanes every step (mask 0xff, lanes at one ring slot): update8 takes its steady-state path
 * (c/ind.c update_steady) once every lane is warm. Every output row against the batch kernels,
 * bit for bit, for configurations that share or own their windows, cumulative and windowed VWAP,
 * ticks (h = l = c), bars, and both mixed within one update.
 */
/**
 * opts.history: that many updates of other prices first, then every lane reset (bot4_ind_reset):
 * the compared run starts from a reset group whose ring holds old prices. opts.idleEvery: an update
 * with no lane (mask 0) every that many steps: the group leaves lockstep (its per-lane head and
 * phase rows written back) and enters it again on the next update.
 */
function steadyAgainstBatch(P: typeof PERIODS, n: number, seed: number, kind: "ticks" | "bars" | "mixed",
                            opts: { history?: number; idleEvery?: number } = {}): number {
  const X = walk(n, 8, seed);
  const tick = (i: number) => kind === "ticks" || (kind === "mixed" && ((i >> 3) + (i & 7)) % 3 !== 0);
  const H = X.map((x, i) => (tick(i) ? x : x + (i % 5) * 0.01)), Lo = X.map((x, i) => (tick(i) ? x : x - (i % 3) * 0.01));
  const V = X.map((_, i) => 0.5 + (i % 11));
  const set = new NativeIndicatorSet(8, P);
  const io = alignedBuffer(4 * 64);
  const c = new Float64Array(io.buffer, io.byteOffset, 8), h = new Float64Array(io.buffer, io.byteOffset + 64, 8);
  const l = new Float64Array(io.buffer, io.byteOffset + 128, 8), v = new Float64Array(io.buffer, io.byteOffset + 192, 8);
  const rows = ["sma", "ema", "bbUpper", "bbMiddle", "bbLower", "rsi", "macd", "macdSignal", "macdHist", "atr", "zscore", "vwap"] as const;
  const got = rows.map(() => new Float64Array(n * 8));
  const g = set.groupView(0);
  const idx = rows.map((r) => set.rowIndex(0, r) - set.rowIndex(0, "last"));
  if (opts.history) {
    const old = walk(opts.history, 8, seed + 1000, 50);
    for (let t = 0; t < opts.history; t++) {
      c.set(old.subarray(t * 8, t * 8 + 8)); h.set(c); l.set(c); v.fill(1);
      set.update8(0, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, 0xff);
    }
    for (let i = 0; i < 8; i++) set.reset(i);
  }
  for (let t = 0; t < n; t++) {
    c.set(X.subarray(t * 8, t * 8 + 8)); h.set(H.subarray(t * 8, t * 8 + 8)); l.set(Lo.subarray(t * 8, t * 8 + 8)); v.set(V.subarray(t * 8, t * 8 + 8));
    if (opts.idleEvery && t % opts.idleEvery === opts.idleEvery - 1) set.update8(0, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, 0);
    expect(set.update8(0, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, 0xff)).toBe(0);
    for (let r = 0; r < rows.length; r++) got[r]!.set(g.subarray(idx[r]!, idx[r]! + 8), t * 8);
  }
  const want = rows.map(() => new Float64Array(n * 8));
  const [sma, ema, up, mid, lo, rsi, macd, sig, hist, atr, z, vwap] = want as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  B.sma(X, n, 8, P.sma, sma);
  B.ema(X, n, 8, P.ema, ema);
  B.bbands(X, n, 8, P.bb, P.bbK, up, mid, lo);
  B.rsi(X, n, 8, P.rsi, rsi);
  B.macd(X, n, 8, P.macdFast, P.macdSlow, P.macdSignal, macd, sig, hist);
  B.atr(H, Lo, X, n, 8, P.atr, atr);
  B.zscore(X, n, 8, P.z, z);
  B.vwap(H, Lo, X, V, n, 8, P.vwap, vwap);
  for (let r = 0; r < rows.length; r++) {
    const a = got[r]!, b = want[r]!;
    for (let i = 0; i < n * 8; i++) {
      if (!same(a[i]!, b[i]!)) throw new Error(`${rows[r]} (${JSON.stringify(P)}, ${kind}): step ${i >> 3} lane ${i & 7}: incremental ${a[i]}, batch ${b[i]}`);
    }
  }
  expect(Number.isFinite(got[10]![n * 8 - 1]!)).toBe(true); // z-score: real numbers after warm-up
  return n * 8;
}

describe("update8 with every lane updating (the steady-state path) equals the batch kernels, bit for bit", () => {
  test("shared windows (SMA = BB = z = 20), cumulative VWAP, ticks: 1 M updates", () => {
    expect(steadyAgainstBatch({ ...PERIODS, z: 20 }, 125_000, 21, "ticks")).toBe(1_000_000);
  });
  test("own SMA(10) and z(30) windows, VWAP over 14, bars", () => {
    steadyAgainstBatch({ ...PERIODS, sma: 10, z: 30, vwap: 14 }, 20_000, 22, "bars");
  });
  test("z shares SMA(30), BB(7), VWAP over 5, ticks and bars mixed within an update", () => {
    steadyAgainstBatch({ ...PERIODS, sma: 30, bb: 7, z: 30, vwap: 5 }, 20_000, 23, "mixed");
  });
  test("lockstep left and entered again (an update with no lane every 37 steps), own windows, VWAP over 14", () => {
    steadyAgainstBatch({ ...PERIODS, sma: 10, z: 30, vwap: 14 }, 20_000, 24, "bars", { idleEvery: 37 });
    steadyAgainstBatch({ ...PERIODS, z: 20 }, 20_000, 25, "ticks", { idleEvery: 5 });
  });
  test("every lane reset after 5000 updates of other prices: the reset group warms up and runs as a fresh one", () => {
    steadyAgainstBatch({ ...PERIODS, z: 20 }, 20_000, 26, "ticks", { history: 5000 });
    steadyAgainstBatch({ ...PERIODS, sma: 30, bb: 7, z: 30, vwap: 5 }, 20_000, 27, "mixed", { history: 4999, idleEvery: 101 });
  });
});

describe("numerical stability: no drift over 1 M updates with large offsets", () => {
  test("rolling variance and z-score stay exact with prices at 1e9 + noise (naive running sums drift)", () => {
    const n = 1_000_000, p = 20;
    const x = new Float64Array(n);
    let s = 99;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let i = 0; i < n; i++) x[i] = 1e9 + Math.round((rnd() - 0.5) * 2000) / 100; // 1e9 +/- 10, cents
    const u = new Float64Array(n), m = new Float64Array(n), lo = new Float64Array(n);
    B.bbands(x, n, 1, p, 1, u, m, lo);
    // exact reference: deviations from 1e9 are exact multiples of 0.01 -> integers in cents
    let worst = 0, naiveWorst = 0, s1 = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      s1 += x[i]!; s2 += x[i]! * x[i]!;
      if (i >= p) { s1 -= x[i - p]!; s2 -= x[i - p]! * x[i - p]!; }
      if (i < p - 1 || i % 997 !== 0) continue;
      let a = 0, b = 0;
      for (let j = i - p + 1; j <= i; j++) { const c = Math.round((x[j]! - 1e9) * 100); a += c; b += c * c; }
      const varExact = (b / p - (a / p) ** 2) / 1e4, sd = Math.sqrt(varExact);
      const ours = (u[i]! - lo[i]!) / 2;
      worst = Math.max(worst, Math.abs(ours - sd) / sd);
      const naive = Math.sqrt(Math.max(0, s2 / p - (s1 / p) ** 2));
      naiveWorst = Math.max(naiveWorst, Math.abs(naive - sd) / sd);
    }
    // bands are 1e9 +/- sd: their difference keeps ~7 significant digits of sd at this offset
    expect(worst).toBeLessThan(1e-6);
    expect(naiveWorst).toBeGreaterThan(1e-2); // the running-sum method is useless here
    const z = new Float64Array(n);
    B.zscore(x, n, 1, p, z);
    // z of the last value against an exact two-pass computation in cents
    let a = 0, b = 0;
    for (let j = n - p; j < n; j++) { const c = Math.round((x[j]! - 1e9) * 100); a += c; b += c * c; }
    const zc = (Math.round((x[n - 1]! - 1e9) * 100) - a / p) / Math.sqrt(b / p - (a / p) ** 2);
    expect(Math.abs(z[n - 1]! - zc)).toBeLessThan(1e-6);
  });
});

const runnable: Variant[] = VARIANTS.filter((v) => (v === "v4" ? supportsLevel("v4") : v === "v3" ? supportsLevel("v3") : true));

describe("every build variant gives the same bits", () => {
  for (const v of VARIANTS.filter((x) => !runnable.includes(x))) {
    test.skip(`${v}: this CPU lacks ${v === "v4" ? "AVX-512" : "AVX2"}; run the suite on such a machine to check it`, () => {});
  }
  const n = 20_000;
  const X = walk(n, 8, 3);
  const ref = new Float64Array(n * 8 * 4);
  const run = (k: typeof K, out: Float64Array) => {
    const b = batch(k);
    const w = n * 8;
    b.bbands(X, n, 8, 20, 2, out.subarray(0, w), out.subarray(w, 2 * w), new Float64Array(w));
    b.rsi(X, n, 8, 14, out.subarray(2 * w, 3 * w));
    b.macd(X, n, 8, 12, 26, 9, out.subarray(3 * w, 4 * w), new Float64Array(w), new Float64Array(w));
  };
  run(K, ref);
  /* update8 through every path: warm-up, lockstep, left for a lane's missing tick, a reset lane,
   * bars (h, l apart from c); the group's 13 output rows after every update */
  const steps = 6000;
  const updates = (k: typeof K): Float64Array => {
    const set = new NativeIndicatorSet(8, { ...PERIODS, vwap: 14 }, k);
    const io = alignedBuffer(4 * 64);
    const f = new Float64Array(io.buffer, io.byteOffset, 32);
    const g = set.groupView(0), rows = 13 * 8, out = new Float64Array(steps * rows);
    for (let t = 0; t < steps; t++) {
      for (let l = 0; l < 8; l++) {
        const x = X[t * 8 + l]!;
        f[l] = x; f[8 + l] = t % 3 ? x : x + 0.01 * l; f[16 + l] = t % 5 ? x : x - 0.02; f[24 + l] = 1 + (t % 7);
      }
      if (t === 3000) set.reset(5);
      set.update8(0, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, t % 997 === 996 ? 0xfb : 0xff);
      out.set(g.subarray(0, rows), t * rows);
    }
    return out;
  };
  const refUpdates = updates(K);
  for (const v of runnable) {
    test(v, () => {
      const out = new Float64Array(n * 8 * 4);
      run(openVariant(v).symbols, out);
      expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(ref.buffer))).toBe(0);
      expect(Number.isFinite(out[n * 8 * 4 - 1]!)).toBe(true);
      const u = updates(openVariant(v).symbols);
      expect(Buffer.compare(Buffer.from(u.buffer), Buffer.from(refUpdates.buffer))).toBe(0);
      expect(Number.isFinite(u[u.length - 1]!)).toBe(true);
    });
  }
});

describe("tick records and the facade", () => {
  test("bot4_ind_apply over tick records equals update8, counts rejects, skips non-trades", () => {
    const set = new IndicatorSet(16, PERIODS);
    const direct = new NativeIndicatorSet(16, PERIODS);
    const N = 3000;
    const recs = alignedBuffer(N * TICK_BYTES);
    const f64 = new Float64Array(recs.buffer, recs.byteOffset, N * TICK_F64);
    const u32 = new Uint32Array(recs.buffer, recs.byteOffset, N * TICK_U32);
    const u8 = new Uint8Array(recs.buffer, recs.byteOffset, N * TICK_BYTES);
    const io = alignedBuffer(256);
    const c = new Float64Array(io.buffer, io.byteOffset, 32);
    let seed = 5, bad = 0, quotes = 0;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let i = 0; i < N; i++) {
      const id = Math.floor(rnd() * 16), px = 100 + id + rnd(), q = 0.5 + rnd();
      const kind = rnd() < 0.1 ? TickKind.quote : TickKind.trade;
      const badId = kind === TickKind.trade && rnd() < 0.02;
      f64[i * TICK_F64 + T.PRICE_F64] = px;
      f64[i * TICK_F64 + T.SIZE_F64] = q;
      u32[i * TICK_U32 + T.INSTRUMENT_U32] = badId ? 99 : id;
      u8[i * TICK_BYTES + T.KIND_U8] = kind;
      if (kind === TickKind.quote) { quotes++; continue; }
      if (badId) { bad++; continue; }
      const mask = 1 << (id & 7);
      c.fill(0);
      c[id & 7] = px; c[8 + (id & 7)] = px; c[16 + (id & 7)] = px; c[24 + (id & 7)] = q;
      direct.update8(id >> 3, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, mask);
    }
    // in two batches through a ring-like mask: slots wrap around
    const applied = set.apply(recs.ptr, 0xffffffff, 0, 1000) + set.apply(recs.ptr, 0xffffffff, 1000, N - 1000);
    expect(applied).toBe(N - quotes - bad);
    expect(set.counters()).toEqual({ applied: N - quotes - bad, skipped: quotes, rejected: bad });
    for (let i = 0; i < 16; i++) {
      for (const r of ["sma", "ema", "bbUpper", "rsi", "macd", "atr", "zscore", "vwap"] as const) {
        expect(same(set.native.f64[set.native.rowIndex(i, r)]!, direct.f64[direct.rowIndex(i, r)]!)).toBe(true);
      }
      expect(set.ema(i)).toBe(direct.f64[direct.rowIndex(i, "ema")]!);
      expect(set.rsi(i)).toBeGreaterThanOrEqual(0);
      expect(set.rsi(i)).toBeLessThanOrEqual(100);
      expect(set.count(i)).toBeGreaterThan(100);
    }
  });
  test("bad periods are refused with a clear message", () => {
    expect(() => new IndicatorSet(8, { ...PERIODS, macdFast: 30 })).toThrow(/invalid indicator periods/);
    expect(() => new IndicatorSet(8, { ...PERIODS, bb: 1 })).toThrow(/invalid indicator periods/);
    expect(() => batch().ema(new Float64Array(16), 2, 3, 5, new Float64Array(16))).toThrow(/invalid arguments/);
  });
});

describe.skipIf(!haveData)("largest relative error vs TA-Lib", () => {
  test("printed per indicator (each comparison above holds it to 1e-9)", () => {
    const line = [...worstSeen].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", ");
    console.log(`indicators.test: largest relative error vs TA-Lib: ${line}`);
    expect(worstSeen.size).toBeGreaterThan(0);
    for (const v of worstSeen.values()) expect(v).toBeLessThanOrEqual(1e-9);
  });
});
