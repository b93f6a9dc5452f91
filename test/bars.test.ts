/**
 * Time and volume bars (src/signal/bars.ts over c/ind.c bot4_bars_*) against an independent
 * plain-TS aggregation, on the bundled real Binance USD-M trades and on hand-made records for the
 * stated rules: bucket boundaries, empty intervals, late trades, volume-bar overshoot, flush,
 * rejects, and a full output buffer.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { loadBinanceCapture } from "../src/feed/recording.ts";
import { BarAggregator, BarBuffer, END, type BarSpec } from "../src/signal/bars.ts";
import { IndicatorSet } from "../src/signal/indicators.ts";
import { NativeIndicatorSet } from "../ffi/ind.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind } from "../src/domain/tick.ts";

const DIR = `${import.meta.dir}/../data/binance-usdm`;

interface Recs { ptr: number; n: number; f64: Float64Array; u32: Uint32Array; u8: Uint8Array; ts: BigUint64Array }

interface RefBar {
  tsOpen: bigint; tsClose: bigint; open: number; high: number; low: number; close: number;
  volume: number; notional: number; vwap: number; trades: number; instrument: number;
}

/** Plain-TS reference: one object per open bar, BigInt times, the rules of src/signal/bars.ts. */
function reference(r: Recs, instruments: number, spec: BarSpec, end = true): RefBar[] {
  const out: RefBar[] = [];
  const open = new Map<number, RefBar & { bucket: bigint }>();
  const iv = spec.kind === "time" ? BigInt(spec.intervalNs) : 0n;
  const close = (id: number) => {
    const b = open.get(id)!;
    open.delete(id);
    const { bucket, ...bar } = b;
    if (spec.kind === "time") { bar.tsOpen = bucket * iv; bar.tsClose = (bucket + 1n) * iv; }
    bar.vwap = bar.notional / bar.volume;
    out.push(bar);
  };
  for (let i = 0; i < r.n; i++) {
    if (r.u8[i * TICK_BYTES + T.KIND_U8] !== TickKind.trade) continue;
    const id = r.u32[i * TICK_U32 + T.INSTRUMENT_U32]!;
    const px = r.f64[i * TICK_F64 + T.PRICE_F64]!, q = r.f64[i * TICK_F64 + T.SIZE_F64]!;
    if (id >= instruments || !(q > 0) || !Number.isFinite(px) || !Number.isFinite(q)) continue;
    const ts = r.ts[i * TICK_F64]!;
    let b = open.get(id);
    if (b && spec.kind === "time" && ts / iv > b.bucket) { close(id); b = undefined; }
    if (!b) {
      b = { tsOpen: ts, tsClose: ts, open: px, high: px, low: px, close: px, volume: 0, notional: 0, vwap: 0, trades: 0, instrument: id, bucket: spec.kind === "time" ? ts / iv : 0n };
      open.set(id, b);
    }
    if (px > b.high) b.high = px;
    if (px < b.low) b.low = px;
    b.close = px;
    b.volume += q;
    b.notional += px * q;
    b.trades += 1;
    b.tsClose = ts;
    if (spec.kind === "volume" && b.volume >= spec.volumePerBar) close(id);
  }
  if (end) for (const id of [...open.keys()].sort((a, b) => a - b)) close(id);
  return out;
}

/** Everything in `buf` as plain objects (test side only). */
function drain(buf: BarBuffer, into: RefBar[]): void {
  for (let k = 0; k < buf.count; k++) {
    const v = buf.at(k);
    into.push({
      tsOpen: v.tsOpenBig(), tsClose: v.tsCloseBig(), open: v.open, high: v.high, low: v.low, close: v.close,
      volume: v.volume, notional: v.notional, vwap: v.vwap, trades: v.trades, instrument: v.instrument,
    });
  }
  buf.clear();
}

/** Runs the aggregator over all records in chunks of `chunk`, draining whenever the buffer fills; flush(END) last. */
function run(r: Recs, instruments: number, spec: BarSpec, cap: number, chunk: number, stats?: { short: number }): RefBar[] {
  const agg = new BarAggregator(instruments, spec);
  const buf = new BarBuffer(cap);
  const got: RefBar[] = [];
  for (let s = 0; s < r.n; ) {
    const n = Math.min(chunk, r.n - s);
    const used = agg.apply(r.ptr, 0xffffffff, s, n, buf);
    if (used < n) {
      expect(buf.full).toBe(true); // it stops early only for a full buffer
      if (stats) stats.short++;
    }
    s += used;
    if (buf.full || used < n) drain(buf, got);
  }
  while (agg.flush(END, buf) > 0) drain(buf, got);
  drain(buf, got);
  expect(agg.counters().emitted).toBe(got.length);
  return got;
}

function realTrades(): { r: Recs; instruments: number; trades: number } {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".gz")).sort().map((f) => `${DIR}/${f}`);
  const tape = loadBinanceCapture(files);
  const r: Recs = {
    ptr: tape.mem.ptr, n: tape.count, f64: tape.f64, u32: tape.u32, u8: tape.u8,
    ts: new BigUint64Array(tape.mem.buffer, tape.mem.byteOffset, tape.count * TICK_F64),
  };
  let trades = 0, maxId = 0;
  for (let i = 0; i < r.n; i++) {
    if (r.u8[i * TICK_BYTES + T.KIND_U8] !== TickKind.trade) continue;
    trades++;
    maxId = Math.max(maxId, r.u32[i * TICK_U32 + T.INSTRUMENT_U32]!);
  }
  return { r, instruments: maxId + 1, trades };
}

function synthetic(rows: Array<[id: number, tsNs: bigint, px: number, q: number, kind?: number]>): Recs {
  const n = rows.length;
  const mem = alignedBuffer(Math.max(n, 1) * TICK_BYTES);
  const r: Recs = {
    ptr: mem.ptr, n,
    f64: new Float64Array(mem.buffer, mem.byteOffset, n * TICK_F64),
    u32: new Uint32Array(mem.buffer, mem.byteOffset, n * TICK_U32),
    u8: new Uint8Array(mem.buffer, mem.byteOffset, n * TICK_BYTES),
    ts: new BigUint64Array(mem.buffer, mem.byteOffset, n * TICK_F64),
  };
  rows.forEach(([id, ts, px, q, kind], i) => {
    r.ts[i * TICK_F64] = ts;
    r.f64[i * TICK_F64 + T.PRICE_F64] = px;
    r.f64[i * TICK_F64 + T.SIZE_F64] = q;
    r.u32[i * TICK_U32 + T.INSTRUMENT_U32] = id;
    r.u8[i * TICK_BYTES + T.KIND_U8] = kind ?? TickKind.trade;
  });
  return r;
}

const SEC = 1_000_000_000n;

describe("bars on real Binance USD-M trades vs a plain-TS aggregation", () => {
  const { r, instruments, trades } = realTrades();
  test("the bundled capture has trades of at least two instruments", () => {
    expect(trades).toBeGreaterThan(1000);
    expect(instruments).toBeGreaterThanOrEqual(2);
  });
  const specs: BarSpec[] = [
    { kind: "time", intervalNs: SEC },
    { kind: "time", intervalNs: 100_000_000 },
    { kind: "volume", volumePerBar: 2 },
    { kind: "volume", volumePerBar: 0.25 },
  ];
  for (const spec of specs) {
    test(`${spec.kind} bars ${JSON.stringify(spec, (_, v) => (typeof v === "bigint" ? Number(v) : v))}: identical bars, every trade in exactly one bar`, () => {
      const ref = reference(r, instruments, spec);
      const got = run(r, instruments, spec, 4096, 777);
      expect(got.length).toBe(ref.length);
      expect(got.length).toBeGreaterThan(50);
      for (let k = 0; k < ref.length; k++) expect(got[k]).toEqual(ref[k]!); // same ops in the same order: bit for bit
      expect(got.reduce((s, b) => s + b.trades, 0)).toBe(trades);
      for (const b of got) {
        expect(b.low).toBeLessThanOrEqual(Math.min(b.open, b.close));
        expect(b.high).toBeGreaterThanOrEqual(Math.max(b.open, b.close));
        expect(b.vwap).toBeGreaterThanOrEqual(b.low * (1 - 1e-15));
        expect(b.vwap).toBeLessThanOrEqual(b.high * (1 + 1e-15));
        expect(b.tsClose >= b.tsOpen).toBe(true);
      }
      if (spec.kind === "time") {
        const iv = BigInt(spec.intervalNs);
        for (const b of got) expect(b.tsClose - b.tsOpen).toBe(iv);
        // empty intervals leave gaps: some instrument's consecutive bars are more than one interval apart
        const last = new Map<number, bigint>();
        let gaps = 0;
        for (const b of got) {
          const prev = last.get(b.instrument);
          if (prev !== undefined) {
            expect(b.tsOpen >= prev).toBe(true);
            if (b.tsOpen > prev) gaps++;
          }
          last.set(b.instrument, b.tsClose);
        }
        if (iv === 100_000_000n) expect(gaps).toBeGreaterThan(0);
      } else {
        // all but each instrument's last bar reached the threshold
        const lastOf = new Map<number, number>();
        got.forEach((b, k) => lastOf.set(b.instrument, k));
        got.forEach((b, k) => { if (lastOf.get(b.instrument) !== k) expect(b.volume).toBeGreaterThanOrEqual(spec.volumePerBar); });
      }
    });
  }
  test("a small output buffer: apply stops when it is full, resuming gives the same bars", () => {
    const spec: BarSpec = { kind: "time", intervalNs: 100_000_000 };
    const stats = { short: 0 };
    const small = run(r, instruments, spec, 7, 5000, stats);
    expect(stats.short).toBeGreaterThan(5);
    expect(small).toEqual(reference(r, instruments, spec));
    // apply on a full buffer consumes nothing
    const agg = new BarAggregator(instruments, spec);
    const buf = new BarBuffer(1);
    let s = 0;
    while (!buf.full) s += agg.apply(r.ptr, 0xffffffff, s, 1000, buf);
    expect(agg.apply(r.ptr, 0xffffffff, s, 1000, buf)).toBe(0);
    expect(agg.flush(END, buf)).toBe(0);
  });
  test("a ring's record area with a mask: slots wrap around", () => {
    // copy the first 4096 records into a 4096-slot ring starting at slot 3000
    const N = 4096, M = N - 1;
    const ring = alignedBuffer(N * TICK_BYTES);
    const dst = new Uint8Array(ring.buffer, ring.byteOffset, N * TICK_BYTES);
    for (let i = 0; i < N; i++) dst.set(r.u8.subarray(i * TICK_BYTES, (i + 1) * TICK_BYTES), ((3000 + i) & M) * TICK_BYTES);
    const spec: BarSpec = { kind: "volume", volumePerBar: 1 };
    const agg = new BarAggregator(instruments, spec);
    const buf = new BarBuffer(4096);
    expect(agg.apply(ring.ptr, M, 3000, N, buf)).toBe(N);
    agg.flush(END, buf);
    const got: RefBar[] = [];
    drain(buf, got);
    expect(got).toEqual(reference({ ...r, n: N }, instruments, spec));
  });
});

describe("bar rules on hand-made records", () => {
  test("time bars: boundary trade opens the new bucket, empty intervals emit nothing, late trade joins, flush by clock", () => {
    const iv = SEC;
    const recs = synthetic([
      [0, 10n * SEC + 1n, 100, 1],
      [1, 10n * SEC + 5n, 50, 2],
      [0, 11n * SEC - 1n, 101, 1], // last ns of bucket 10
      [0, 11n * SEC, 99, 1], // exactly on the boundary: bucket 11, closes bucket 10
      [0, 10n * SEC + 7n, 98, 3], // late (bucket 10): joins the open bucket-11 bar
      [0, 14n * SEC + 2n, 102, 1], // buckets 12, 13 empty: closes 11, opens 14
    ]);
    const agg = new BarAggregator(2, { kind: "time", intervalNs: iv });
    const buf = new BarBuffer(16);
    expect(agg.apply(recs.ptr, 0xffffffff, 0, recs.n, buf)).toBe(6);
    expect(buf.count).toBe(2);
    let b = buf.at(0);
    expect([b.instrument, b.tsOpenBig(), b.tsCloseBig(), b.open, b.high, b.low, b.close, b.volume, b.trades]).toEqual([0, 10n * SEC, 11n * SEC, 100, 101, 100, 101, 2, 2]);
    expect(b.kind).toBe("time");
    expect(b.vwap).toBe((100 * 1 + 101 * 1) / 2);
    b = buf.at(1);
    expect([b.instrument, b.tsOpenBig(), b.open, b.high, b.low, b.close, b.volume, b.trades]).toEqual([0, 11n * SEC, 99, 99, 98, 98, 4, 2]);
    expect(b.vwap).toBe((99 * 1 + 98 * 3) / 4);
    expect(b.tsOpenNs).toBe(Number(11n * SEC));
    buf.clear();
    // flush: instrument 1's bucket 10 is due at 11 s; instrument 0's bucket 14 is not due before 15 s
    expect(agg.flush(11n * SEC - 1n, buf)).toBe(0);
    expect(agg.flush(11n * SEC, buf)).toBe(1);
    expect([buf.at(0).instrument, buf.at(0).volume, buf.at(0).tsOpenBig()]).toEqual([1, 2, 10n * SEC]);
    expect(agg.flush(15n * SEC - 1n, buf)).toBe(0);
    expect(agg.flush(15n * SEC, buf)).toBe(1);
    expect([buf.at(1).instrument, buf.at(1).tsOpenBig(), buf.at(1).close]).toEqual([0, 14n * SEC, 102]);
    expect(agg.flush(END, buf)).toBe(0); // nothing left open
    expect(agg.counters()).toEqual({ applied: 6, skipped: 0, rejected: 0, emitted: 4 });
  });

  test("volume bars: the closing trade is not split; an exact hit closes; flush only at END", () => {
    const recs = synthetic([
      [0, 1n, 10, 0.6],
      [0, 2n, 11, 0.6], // 1.2 >= 1: closes holding 1.2
      [0, 3n, 12, 0.5],
      [0, 4n, 13, 0.5], // exactly 1: closes
      [0, 5n, 14, 5], // one trade over the threshold: a bar of its own
      [0, 6n, 15, 0.1], // stays open
    ]);
    const agg = new BarAggregator(1, { kind: "volume", volumePerBar: 1 });
    const buf = new BarBuffer(8);
    agg.apply(recs.ptr, 0xffffffff, 0, recs.n, buf);
    expect(buf.count).toBe(3);
    const v = (k: number) => { const b = buf.at(k); return [b.tsOpenBig(), b.tsCloseBig(), b.open, b.close, b.volume, b.trades]; };
    expect(v(0)).toEqual([1n, 2n, 10, 11, 1.2, 2]);
    expect(v(1)).toEqual([3n, 4n, 12, 13, 1, 2]);
    expect(v(2)).toEqual([5n, 5n, 14, 14, 5, 1]);
    expect(buf.at(0).kind).toBe("volume");
    expect(agg.flush(1_000_000n * SEC, buf)).toBe(0); // volume bars do not close by the clock
    expect(agg.flush(END, buf)).toBe(1);
    expect(v(3)).toEqual([6n, 6n, 15, 15, 0.1, 1]);
  });

  test("quotes are skipped; bad ids, non-positive or non-finite sizes and prices are rejected", () => {
    const recs = synthetic([
      [0, 1n, 10, 1],
      [0, 2n, 10, 1, TickKind.quote],
      [3, 3n, 10, 1], // id 3 >= 3 instruments (inside the 8-lane group, still refused)
      [1, 4n, 10, 0],
      [1, 5n, 10, -1],
      [1, 6n, NaN, 1],
      [1, 7n, 10, Infinity],
      [2, 8n, 20, 2],
    ]);
    const agg = new BarAggregator(3, { kind: "volume", volumePerBar: 100 });
    const buf = new BarBuffer(8);
    expect(agg.apply(recs.ptr, 0xffffffff, 0, recs.n, buf)).toBe(recs.n);
    expect(agg.counters()).toEqual({ applied: 2, skipped: 1, rejected: 5, emitted: 0 });
    expect(agg.flush(END, buf)).toBe(2);
    expect([buf.at(0).instrument, buf.at(0).volume, buf.at(1).instrument, buf.at(1).volume]).toEqual([0, 1, 2, 2]);
  });

  test("bad parameters are refused; the view is one reused object", () => {
    expect(() => new BarAggregator(2, { kind: "time", intervalNs: 0 })).toThrow(/invalid bar parameters/);
    expect(() => new BarAggregator(2, { kind: "volume", volumePerBar: 0 })).toThrow(/invalid bar parameters/);
    expect(() => new BarAggregator(0, { kind: "volume", volumePerBar: 1 })).toThrow(RangeError);
    expect(() => new BarBuffer(0)).toThrow(RangeError);
    const buf = new BarBuffer(4);
    expect(() => buf.at(0)).toThrow(RangeError);
    const agg = new BarAggregator(1, { kind: "volume", volumePerBar: 1 });
    const recs = synthetic([[0, 1n, 1, 1], [0, 2n, 2, 1]]);
    agg.apply(recs.ptr, 0xffffffff, 0, 2, buf);
    expect(buf.at(0)).toBe(buf.at(1));
  });

  test("closed bars drive the indicators (applyBars reads the buffer in place)", () => {
    const { r, instruments } = realTrades();
    const agg = new BarAggregator(instruments, { kind: "volume", volumePerBar: 0.5 });
    const buf = new BarBuffer(8192);
    expect(agg.apply(r.ptr, 0xffffffff, 0, r.n, buf)).toBe(r.n);
    expect(buf.count).toBeGreaterThan(100);
    const periods = { sma: 5, ema: 5, bb: 5, rsi: 5, macdFast: 3, macdSlow: 6, macdSignal: 3, atr: 5, z: 5, vwap: 0 };
    const set = new IndicatorSet(instruments, periods);
    expect(set.applyBars(buf.ptr, buf.count)).toBe(buf.count);
    const direct = new NativeIndicatorSet(instruments, { ...periods, bbK: 2 });
    const io = alignedBuffer(256);
    const lanes = new Float64Array(io.buffer, io.byteOffset, 32);
    for (let k = 0; k < buf.count; k++) {
      const b = buf.at(k), l = b.instrument & 7;
      lanes[l] = b.close; lanes[8 + l] = b.high; lanes[16 + l] = b.low; lanes[24 + l] = b.volume;
      direct.update8(b.instrument >> 3, io.ptr, io.ptr + 64, io.ptr + 128, io.ptr + 192, 1 << l);
    }
    for (let i = 0; i < instruments; i++) {
      for (const row of ["sma", "ema", "rsi", "atr", "vwap", "macd"] as const) {
        expect(Object.is(set.native.f64[set.native.rowIndex(i, row)], direct.f64[direct.rowIndex(i, row)])).toBe(true);
      }
      expect(Number.isFinite(set.atr(i))).toBe(true);
    }
  });
});
