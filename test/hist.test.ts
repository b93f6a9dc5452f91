/**
 * Latency histograms (c/hist.c, ffi/hist.ts): the error bound proved over every bucket and checked
 * against exact sorted-array percentiles, TS-side recording equal to C's, batches, merge, reset,
 * out-of-range accounting, summaries, and a reader thread beside a writing Worker.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alignedBuffer } from "../ffi/buffers.ts";
import { bucketHigh, bucketIndex, bucketLow, bucketMid, HIST_BYTES, HistConst, LatencyHistogram } from "../ffi/hist.ts";
import { K } from "../ffi/lib.ts";

const BOUND = 2 ** -8; // documented in c/hist.h: half a bucket over its lower bound
const B = HistConst.BUCKETS;

const made: LatencyHistogram[] = [];
function hist(): LatencyHistogram {
  const h = LatencyHistogram.create();
  made.push(h);
  return h;
}
afterAll(() => {
  for (const h of made) h.destroy();
});

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** log-uniform over [lo, hi] */
function logUniform(n: number, lo: number, hi: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n);
  const l = Math.log(lo), span = Math.log(hi) - l;
  for (let i = 0; i < n; i++) a[i] = Math.exp(l + r() * span);
  return a;
}
/** latency-like: lognormal around 2 µs with a heavy tail, whole ns (ties) */
function latencies(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    a[i] = Math.round(2000 * Math.exp(0.6 * g) + (r() < 0.01 ? 1e6 * r() : 0));
  }
  return a;
}
/** exact nearest-rank percentile: the smallest value with at least ceil(q n) values <= it */
function exactPercentile(sorted: Float64Array, q: number): number {
  if (q <= 0) return sorted[0]!;
  if (q >= 1) return sorted[sorted.length - 1]!;
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
function nextDown(v: number): number {
  f64[0] = v;
  u64[0] = u64[0]! - 1n;
  return f64[0]!;
}
function nextUp(v: number): number {
  f64[0] = v;
  u64[0] = u64[0]! + 1n;
  return f64[0]!;
}

describe("bucket geometry and the error bound", () => {
  test("every bucket's half-width is at most 2^-8 of its lower bound, buckets tile [8 ns, 60 s]", () => {
    let worst = 0;
    expect(bucketLow(0)).toBe(8);
    for (let i = 0; i < B; i++) {
      const lo = bucketLow(i), hi = bucketHigh(i), mid = bucketMid(i);
      expect(lo).toBe(K.bot4_hist_bucket_low(i));
      expect(hi).toBe(K.bot4_hist_bucket_high(i));
      if (i + 1 < B) expect(hi).toBe(bucketLow(i + 1));
      expect(mid - lo).toBe((hi - lo) / 2);
      // the C and TS index of the bucket's own bounds
      expect(bucketIndex(lo)).toBe(i);
      if (hi <= HistConst.HIGH_NS) expect(bucketIndex(nextDown(hi))).toBe(i);
      worst = Math.max(worst, (hi - lo) / 2 / lo);
    }
    expect(worst).toBe(BOUND); // the bound is reached (sub-bucket 0 of each power of two), never passed
    expect(bucketIndex(HistConst.HIGH_NS)).toBe(B - 1);
    expect(bucketHigh(B - 1)).toBeGreaterThan(HistConst.HIGH_NS);
    expect(bucketLow(B - 1)).toBeLessThanOrEqual(HistConst.HIGH_NS);
    expect(BOUND).toBeLessThan(0.01);
  });

  test("any value in [8 ns, 60 s] is reported within 2^-8 (0.39 %) by its bucket", () => {
    const vals = logUniform(200_000, 8, HistConst.HIGH_NS, 1);
    let worst = 0;
    for (const v of vals) {
      const err = Math.abs(bucketMid(bucketIndex(v)) - v) / v;
      if (err > worst) worst = err;
    }
    expect(worst).toBeLessThanOrEqual(BOUND);
    expect(worst).toBeGreaterThan(BOUND * 0.9); // the sample does reach the bound: the check is not vacuous
  });

  test("the TypeScript bucket index equals C's for many values, edges included", () => {
    const vals: number[] = [0, -0, -1, -Infinity, Infinity, NaN, 5e-324, 1e-300, 7.999999999, 8, 10, 6e10, nextUp(6e10), nextDown(8), 1e20, Number.MAX_VALUE];
    for (let i = 0; i <= 5000; i++) vals.push(i, i + 0.5);
    for (let i = 0; i < B; i += 7) vals.push(bucketLow(i), nextDown(bucketLow(i)), nextUp(bucketLow(i)), bucketMid(i));
    for (let e = -5; e < 40; e++) vals.push(2 ** e, nextDown(2 ** e), nextUp(2 ** e));
    for (const v of logUniform(100_000, 0.001, 1e12, 2)) vals.push(v, Math.round(v));
    let mismatches = 0;
    for (const v of vals) if (bucketIndex(v) !== K.bot4_hist_bucket(v)) mismatches++;
    expect(mismatches).toBe(0);
    expect(vals.length).toBeGreaterThan(200_000);
    expect(bucketIndex(NaN)).toBe(-1);
    expect(bucketIndex(1e11)).toBe(B);
    expect(bucketIndex(3)).toBe(0);
  });
});

describe("percentiles against exact sorted-array percentiles", () => {
  const QS = [0.5, 0.9, 0.95, 0.99, 0.999];
  for (const q of Array.from({ length: 99 }, (_, i) => (i + 1) / 100)) if (!QS.includes(q)) QS.push(q);
  QS.push(0.0001, 0.9999, 0.99999);

  for (const [name, values] of [
    ["log-uniform 10 ns .. 60 s", logUniform(300_000, 10, 60e9, 3)],
    ["lognormal latencies with a tail (whole ns, ties)", latencies(300_000, 4)],
  ] as const) {
    test(`${name}: every percentile within 2^-8 (< 1 %), count/min/max/mean exact`, () => {
      const h = hist();
      for (const v of values) h.record(v);
      const sorted = Float64Array.from(values).sort();
      let worst = 0;
      for (const q of QS) {
        const want = exactPercentile(sorted, q);
        const got = h.percentile(q);
        const err = Math.abs(got - want) / want;
        if (err > worst) worst = err;
        expect(err).toBeLessThanOrEqual(BOUND);
      }
      expect(worst).toBeLessThan(0.01);
      expect(h.count).toBe(values.length);
      expect(h.min).toBe(sorted[0]!);
      expect(h.max).toBe(sorted[sorted.length - 1]!);
      expect(h.percentile(1)).toBe(sorted[sorted.length - 1]!);
      expect(h.percentile(0)).toBe(sorted[0]!);
      const exactMean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      expect(Math.abs(h.mean - exactMean) / exactMean).toBeLessThan(1e-9);
      expect(h.underflow + h.overflow + h.invalid).toBe(0);
    });
  }

  test("percentiles(): any order of quantiles gives the one-at-a-time answers", () => {
    const h = hist();
    for (const v of latencies(50_000, 5)) h.record(v);
    const qs = Float64Array.from([0.99, 0.5, 0.999, 0.1, 0.5, 1, 0, 0.9]);
    const out = new Float64Array(qs.length);
    h.percentiles(qs, out);
    for (let i = 0; i < qs.length; i++) expect(out[i]!).toBe(h.percentile(qs[i]!));
  });
});

describe("recording paths", () => {
  test("TS-side record, FFI record, batch of doubles and batch of u64 build identical histograms", () => {
    const vals = latencies(100_000, 6);
    vals[10] = 3; // underflow
    vals[20] = 1e11; // overflow
    const viaTs = hist(), viaFfi = hist(), viaBatch = hist(), viaU64 = hist();
    for (const v of vals) viaTs.record(v);
    for (const v of vals) viaFfi.recordFfi(v);
    viaBatch.recordBatch(vals.subarray(0, 1000));
    viaBatch.recordBatch(vals.subarray(1000));
    viaU64.recordBatchU64(BigUint64Array.from(vals, (v) => BigInt(v)));
    expect(viaTs.count).toBe(vals.length);
    expect(viaFfi.view).toEqual(viaTs.view);
    expect(viaBatch.view).toEqual(viaTs.view);
    expect(viaU64.view).toEqual(viaTs.view);
  });

  test("record_n equals n single records; n <= 0 records nothing", () => {
    const a = hist(), b = hist();
    a.recordN(1234, 5);
    a.recordN(99, 0);
    a.recordN(99, -3);
    for (let i = 0; i < 5; i++) b.record(1234);
    expect(a.view).toEqual(b.view);
  });

  test("overflow, underflow and NaN are counted, never silent", () => {
    for (const path of ["ts", "ffi"] as const) {
      const h = hist();
      const rec = (v: number) => (path === "ts" ? h.record(v) : h.recordFfi(v));
      for (const v of [0, -5, 3, nextDown(8)]) rec(v); // below the floor: bucket 0 + underflow
      rec(60e9); // exactly 60 s: still in a bucket
      for (const v of [nextUp(60e9), 1e12, Infinity]) rec(v); // above 60 s: overflow only
      rec(NaN); // invalid only
      expect(h.underflow).toBe(4);
      expect(h.counts[0]).toBe(4);
      expect(h.overflow).toBe(3);
      expect(h.invalid).toBe(1);
      expect(h.count).toBe(8);
      expect(h.counts.reduce((a, b) => a + b, 0) + h.overflow).toBe(h.count);
      expect(h.counts[B - 1]).toBe(1);
      expect(h.min).toBe(-5);
      expect(h.max).toBe(Infinity);
      const s = h.summary();
      expect([s.underflow, s.overflow, s.invalid]).toEqual([4, 3, 1]);
    }
  });

  test("a percentile whose rank falls in the overflow reports the exact max", () => {
    const h = hist();
    for (let i = 0; i < 10; i++) h.record(100);
    for (let i = 0; i < 10; i++) h.record(1e11 + i);
    expect(Math.abs(h.percentile(0.5) - 100) / 100).toBeLessThanOrEqual(BOUND);
    expect(h.percentile(0.9)).toBe(1e11 + 9);
  });
});

describe("merge, reset, summary", () => {
  test("merge equals recording both sets (every field, every bucket)", () => {
    const a = hist(), b = hist(), both = hist(), empty = hist();
    const A = latencies(50_000, 7), Bv = latencies(70_000, 8);
    A[0] = 2; // underflow
    Bv[0] = 7e10; // overflow
    Bv[1] = NaN;
    for (const v of A) a.record(v), both.record(v);
    for (const v of Bv) b.record(v), both.record(v);
    a.merge(b);
    expect(a.view).toEqual(both.view); // whole ns values: sums are exact in any order
    a.merge(empty);
    expect(a.view).toEqual(both.view);
    empty.merge(both);
    expect(empty.view).toEqual(both.view);
    a.merge(a); // merging into itself is refused, not doubled
    expect(a.view).toEqual(both.view);
  });

  test("reset returns to the freshly created state", () => {
    const h = hist(), fresh = hist();
    for (const v of latencies(10_000, 9)) h.record(v);
    h.record(NaN);
    h.record(1e12);
    h.reset();
    expect(h.view).toEqual(fresh.view);
    expect([h.count, h.min, h.max, h.mean, h.percentile(0.5)]).toEqual([0, 0, 0, 0, 0]);
    h.record(500);
    expect([h.count, h.min, h.max]).toEqual([1, 500, 500]);
  });

  test("summary matches the individual calls in one FFI call", () => {
    const h = hist();
    for (const v of latencies(80_000, 10)) h.record(v);
    h.record(1);
    h.record(1e12);
    h.record(NaN);
    const s = h.summary();
    expect(s.count).toBe(h.count);
    expect(s.count).toBe(K.bot4_hist_count(h.ptr));
    expect(s.min).toBe(K.bot4_hist_min(h.ptr));
    expect(s.max).toBe(K.bot4_hist_max(h.ptr));
    expect(s.mean).toBe(K.bot4_hist_mean(h.ptr));
    expect([s.min, s.max, s.mean]).toEqual([h.min, h.max, h.mean]);
    expect([s.p50, s.p90, s.p95, s.p99, s.p999]).toEqual([0.5, 0.9, 0.95, 0.99, 0.999].map((q) => h.percentile(q)));
    expect([s.underflow, s.overflow, s.invalid]).toEqual([1, 1, 1]);
    expect(s.p50).toBeLessThan(s.p90);
  });

  test("an empty histogram summarises to zeros", () => {
    expect(Object.values(hist().summary()).every((v) => v === 0)).toBe(true);
  });
});

describe("memory", () => {
  test("init works on caller memory aligned to 64 bytes and refuses unaligned or short memory", () => {
    const buf = alignedBuffer(HIST_BYTES);
    expect(K.bot4_hist_bytes()).toBe(HIST_BYTES);
    expect(K.bot4_hist_init(buf.ptr + 8, HIST_BYTES)).toBe(-1);
    expect(K.bot4_hist_init(buf.ptr, HIST_BYTES - 8)).toBe(-1);
    expect(K.bot4_hist_init(buf.ptr, HIST_BYTES)).toBe(0);
    const h = LatencyHistogram.attach(buf.ptr);
    h.record(1000);
    h.recordFfi(1000);
    expect(h.count).toBe(2);
    expect(h.percentile(0.5)).toBe(1000);
    expect(() => h.destroy()).toThrow(/only its creator/);
  });

  test("attach gives a second view of the same histogram", () => {
    const h = hist();
    const v = LatencyHistogram.attach(h.ptr);
    h.record(777);
    expect(v.count).toBe(1);
    expect(v.view).toEqual(h.view);
  });
});

describe("threads", () => {
  test("a Worker records while this thread reads: snapshots never go backwards, totals exact at the end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-hist-"));
    const file = join(dir, "writer.ts");
    const histTs = join(import.meta.dir, "..", "ffi", "hist.ts");
    writeFileSync(
      file,
      `import { LatencyHistogram } from ${JSON.stringify(histTs)};
       self.onmessage = (e) => {
         const h = LatencyHistogram.attach(e.data.ptr);
         for (let i = 0; i < e.data.n; i++) h.record(1000 + (i % 1000));
         postMessage("done");
       };`,
    );
    const h = hist();
    const N = 3_000_000;
    const w = new Worker(file);
    const finished = new Promise<void>((resolve, reject) => {
      w.onmessage = () => resolve();
      w.onerror = (e) => reject(e);
    });
    let done = false;
    finished.then(() => (done = true));
    w.postMessage({ ptr: h.ptr, n: N });
    let last = 0, reads = 0, between = 0, backwards = 0, badRange = 0;
    const out = new Float64Array(12);
    while (!done) {
      h.summaryInto(out);
      const c = out[0]!;
      if (c < last) backwards++;
      if (c > 0 && c < N) between++;
      // p50 of 1000..1999 ns (uniform) must be in range whenever anything is recorded
      if (c > 0 && (out[4]! < 1000 || out[4]! > 2000)) badRange++;
      last = c;
      reads++;
      if (reads % 64 === 0) await Bun.sleep(0);
    }
    w.terminate();
    rmSync(dir, { recursive: true, force: true });
    expect(backwards).toBe(0);
    expect(badRange).toBe(0);
    expect(h.count).toBe(N);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(N);
    expect([h.min, h.max]).toEqual([1000, 1999]);
    expect(reads).toBeGreaterThan(0);
    console.log(`  reader: ${reads} summaries, ${between} taken mid-write`);
  });
});
