/**
 * `bot4 profile`'s measurements. Everything printed is measured in this run on this machine:
 *
 *  - stages on real recorded data: parse (C parser over the raw frames, one call per chunk of
 *    frames), book / instrument state / indicators (one C call per batch of <= MAX_BATCH records) — each
 *    timed per call with the bot4 clock (TSC) and divided by the records of the call ("batch time
 *    / count"; the distribution is over records, each record counted at its call's mean);
 *    strategy, risk, route, encode/sign, write and the whole order submission — each call timed
 *    on its own with the bot4 clock ("per op");
 *  - the engine step (TradingCore.onRecords) over the parsed records: tick processing per record
 *    (batch time / count) and the engine's own tick-to-decision histogram;
 *  - throughput: the whole replay (raw frames -> parser -> engine) on one thread, and split over a
 *    feed thread and an engine thread joined by an SPSC ring, alternated run by run; the
 *    cross-core cache-line round trip (two C threads pinned to different CPUs, one record each
 *    way over SPSC rings) measured between those runs, since the host moves the vCPUs;
 *  - ML inference inside the strategy callback (XGBoost model from the shared data);
 *  - memory: RSS at start-up, after set-up, through a replay of five venues' recordings (steady
 *    state, peak), JS heap allocation rate, the engine's pools.
 * The workload is seeded (strategy ids, venue queues); timings are not deterministic.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { heapSize as jscHeapSize, memoryUsage as jscMemory } from "bun:jsc";
import btcSlice from "../../data/binance-usdm/btcusdt_20240808_235415-235515.gz" with { type: "file" };
import ethSlice from "../../data/binance-usdm/ethusdt_20240808_235415-235515.gz" with { type: "file" };
import { alignedBuffer } from "../../ffi/buffers.ts";
import { BookSet } from "../../ffi/book.ts";
import { now } from "../../ffi/clock.ts";
import { LatencyHistogram, type HistSummary } from "../../ffi/hist.ts";
import { K } from "../../ffi/lib.ts";
import { enginePools } from "../../ffi/mem.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { InstrumentState } from "../../ffi/state.ts";
import { gaps, processCpus, sendFloor } from "../../ffi/sys.ts";
import { loadConfig } from "../config/load.ts";
import { Venue } from "../domain/instruments.ts";
import type { Gateway, OrderRequest } from "../domain/order.ts";
import { TickBuffer } from "../domain/tick-buffer.ts";
import { T, TICK_BYTES, TICK_U32, TickKind } from "../domain/tick.ts";
import { TradingCore } from "../engine/trading.ts";
import { BinanceWsGateway } from "../exec/gateway/binance-ws.ts";
import { VirtualClock } from "../exec/sim/gateway.ts";
import { modelFromText, type Model } from "../ml/index.ts";
import { ConsolidatedBook, RouteResult, SmartOrderRouter } from "../route/router.ts";
import { IndicatorSet } from "../signal/indicators.ts";
import type { Strategy, StrategyContext } from "../strategy/api.ts";
import { BUILTIN } from "../strategy/loader.ts";
import { COMPILED, workerEntry } from "../sys/workers.ts";
import { SimExchange } from "../exec/sim/exchange.ts";
import { startBinanceOrderVenue } from "../sim/binance-orders.ts";
import { createLogger } from "../telemetry/log.ts";
import { buildEngine, firstRecv, MAX_BATCH, ruleFor, stepsOf, type EngineSpec } from "./engine.ts";
import { ChunkParser, loadFrames, ProfileError, STAGE_RECORDS, type FrameSet } from "./frames.ts";
import type { PipelineJob, PipelineResult } from "./pipeline-worker.ts";

export interface ProfileOptions {
  quick: boolean;
  reps: number;
  /** raw Binance captures; empty: the bundled slice */
  data: string[];
  strategy: string;
  seed: number;
  /** folder holding the other venues' recordings (hftbacktest/, cryptofeed-v3/) and xgboost-models/ */
  sharedData: string | null;
  rssStartMb: number;
  progress: (msg: string) => void;
}

export type Dist = Pick<HistSummary, "count" | "min" | "max" | "mean" | "p50" | "p90" | "p95" | "p99" | "p999">;

export interface StageRow {
  stage: string;
  /** what one sample is */
  unit: string;
  method: "batch time / count" | "per op (TSC)";
  ns: Dist;
  note: string;
}

export interface Goal {
  name: string;
  target: string;
  measured: number;
  unit: string;
  met: boolean;
  how: string;
}

function dist(h: LatencyHistogram): Dist {
  const s = h.summary();
  return { count: s.count, min: s.min, max: s.max, mean: s.mean, p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, p999: s.p999 };
}

const median = (a: number[]) => {
  const b = [...a].sort((x, y) => x - y);
  return b.length ? (b.length & 1 ? b[b.length >> 1]! : (b[b.length / 2 - 1]! + b[b.length / 2]!) / 2) : NaN;
};

/** /proc/self/status fields in MB (VmRSS, VmHWM, RssAnon, RssFile, RssShmem). */
export function procMem(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync("/proc/self/status", "utf8").split("\n")) {
      const m = /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]!] = Number(m[2]) / 1024;
    }
  } catch {
    // not Linux: the process's own figure only
  }
  if (out.VmRSS === undefined) out.VmRSS = process.memoryUsage.rss() / 1048576;
  return out;
}

/** The folder of shared recordings: the one given, else ../shared/data or shared/data beside the working directory or the source. */
export function findSharedData(given: string | null): string | null {
  if (given) {
    if (!existsSync(given)) throw new ProfileError(`profile: --shared-data ${given} does not exist`);
    return resolve(given);
  }
  for (const c of [join(process.cwd(), "../shared/data"), join(process.cwd(), "shared/data"), resolve(import.meta.dir, "../../../shared/data")]) {
    if (existsSync(join(c, "hftbacktest"))) return c;
  }
  return null;
}

function specFor(fs: { instruments: Array<{ venue: string; symbol: string }>; tape: { u8: Uint8Array; u32: Uint32Array; f64: Float64Array; count: number } }, strategy: string, seed: number): EngineSpec {
  const steps = stepsOf(fs.tape.u8, fs.tape.f64, fs.tape.u32, fs.tape.count, fs.instruments.length);
  return {
    instruments: fs.instruments.map((x, i) => ({ ...x, ...steps[i]! })),
    strategy,
    seed,
    firstTs: firstRecv(fs.tape.u32),
  };
}

// ------------------------------------------------------------------ stages over the tape

function stagesC(fs: FrameSet, passes: number) {
  const parse = LatencyHistogram.create(), book = LatencyHistogram.create(), state = LatencyHistogram.create(), ind = LatencyHistogram.create();
  const stageMem = alignedBuffer(STAGE_RECORDS * TICK_BYTES);
  const t = fs.tape;
  const n = Math.max(1, fs.instruments.length);
  let parseNs = 0, parsed = 0;
  for (let p = 0; p < passes; p++) {
    const cp = new ChunkParser(fs);
    for (let c = 0; c < cp.chunks; c++) {
      const t0 = now();
      const r = cp.parse(c, stageMem.ptr, STAGE_RECORDS);
      const dt = now() - t0;
      if (r > 0) {
        parse.recordN(dt / r, r);
        parseNs += dt;
        parsed += r;
      }
    }
    // the same book rules as the engine's
    const books = new BookSet(n);
    fs.instruments.forEach((x, i) => books.add(i, ruleFor(x.venue)));
    const st = new InstrumentState(n);
    const is = new IndicatorSet(n);
    for (let i = 0; i < t.count; i += MAX_BATCH) {
      const m = Math.min(MAX_BATCH, t.count - i);
      let t0 = now();
      books.apply(t.ptr, 0xffffffff, i, m);
      let t1 = now();
      book.recordN((t1 - t0) / m, m);
      t0 = now();
      st.apply(t.ptr, 0xffffffff, i, m);
      t1 = now();
      state.recordN((t1 - t0) / m, m);
      t0 = now();
      is.apply(t.ptr, 0xffffffff, i, m);
      t1 = now();
      ind.recordN((t1 - t0) / m, m);
    }
  }
  return { parse, book, state, ind, parseRate: parsed / (parseNs / 1e9) };
}

// ------------------------------------------------------------------ engine over the tape (one thread)

/** bytes the process's allocators hold: mimalloc in use (native, string buffers) + the JS heap's size */
function allocated(): number {
  return jscMemory().current + jscHeapSize();
}

/**
 * Passes over the tape a throwaway engine (and parser) makes before anything is timed: the JIT
 * reaches its last tier only after a few hundred thousand records, and a running engine spends
 * its life there. Measured here: the engine step's rate over consecutive fresh passes climbs
 * for about three passes (~560k records) and then holds.
 */
export const WARM_PASSES = 3;

/**
 * Records at the start of the tape that every timed engine runs untimed first, rounded to whole
 * engine steps. A fresh engine's first decisions pay once-per-life costs (the books' first
 * snapshot, first touches of its tables' pages, its first calls through code the JIT has not yet
 * specialised for its objects): measured before, its first two orders were the two largest
 * tick-to-decision samples of every run (130-350 µs), which is the P99.9 of ~1,100 orders. A
 * running engine pays them once; the report's figures are steady state.
 */
export const WARM_SHARE = 0.25;
function warmRecords(count: number): number {
  return Math.floor((count * WARM_SHARE) / MAX_BATCH) * MAX_BATCH;
}

function clearHists(core: TradingCore): void {
  for (const h of Object.values(core.hist)) h.reset();
}

function engineRuns(fs: FrameSet, spec: EngineSpec, reps: number) {
  const tick = LatencyHistogram.create();
  const merged = { batch: LatencyHistogram.create(), strategy: LatencyHistogram.create(), risk: LatencyHistogram.create(), submit: LatencyHistogram.create(), tickToDecision: LatencyHistogram.create() };
  const t = fs.tape;
  const rates: number[] = [];
  let orders = 0, batches = 0;
  // warm-up: throwaway engines over the whole tape, so the timed runs see the JIT's last tier
  for (let p = 0; p < WARM_PASSES; p++) {
    const w = buildEngine(spec);
    for (let i = 0; i < t.count; i += MAX_BATCH) {
      w.deliver();
      w.core.onRecords(t.u8, t.u32, t.f64, t.ptr, 0xffffffff, i, Math.min(MAX_BATCH, t.count - i), w.clock);
    }
  }
  // each timed engine first runs the opening share of the tape untimed (its own warm-up), then
  // its histograms are cleared and the rest is timed
  const from = warmRecords(t.count);
  const timedRecords = t.count - from;
  for (let r = 0; r < reps; r++) {
    const e = buildEngine(spec);
    const core = e.core, clock = e.clock;
    for (let i = 0; i < from; i += MAX_BATCH) {
      e.deliver();
      core.onRecords(t.u8, t.u32, t.f64, t.ptr, 0xffffffff, i, Math.min(MAX_BATCH, from - i), clock);
    }
    clearHists(core);
    let busy = 0;
    for (let i = from; i < t.count; i += MAX_BATCH) {
      const m = Math.min(MAX_BATCH, t.count - i);
      const t0 = now();
      e.deliver();
      core.onRecords(t.u8, t.u32, t.f64, t.ptr, 0xffffffff, i, m, clock);
      const dt = now() - t0;
      busy += dt;
      tick.recordN(dt / m, m);
    }
    rates.push(timedRecords / (busy / 1e9));
    for (const key of Object.keys(merged) as Array<keyof typeof merged>) merged[key].merge(core.hist[key]);
    orders = core.summary().perVenue.reduce((a, v) => a + v.orders, 0);
    batches = core.counters.batches;
  }
  // frame by frame: each frame's records (consecutive records with one receive stamp, at most
  // MAX_BATCH) are one engine step, as the engine takes them when frames arrive apart — its
  // decision latency with nothing queued in front (the full batches above are the saturated case)
  const frameTtd = LatencyHistogram.create();
  let frameSteps = 0;
  for (let r = 0; r < reps; r++) {
    const e = buildEngine(spec);
    const recv = (i: number) => t.u32[i * TICK_U32 + T.TS_RECV_U32]! + t.u32[i * TICK_U32 + T.TS_RECV_U32 + 1]! * 4294967296;
    frameSteps = 0;
    let warming = true;
    for (let i = 0; i < t.count; ) {
      if (warming && i >= from) {
        warming = false;
        clearHists(e.core);
        frameSteps = 0;
      }
      const s0 = recv(i);
      let j = i + 1;
      while (j < t.count && j - i < MAX_BATCH && recv(j) === s0) j++;
      e.deliver();
      e.core.onRecords(t.u8, t.u32, t.f64, t.ptr, 0xffffffff, i, j - i, e.clock);
      frameSteps++;
      i = j;
    }
    frameTtd.merge(e.core.hist.tickToDecision);
  }
  // allocation, in a pass of its own: growth of what the allocators hold between batches, summed.
  // Coarse (the allocators report in pages / blocks) and a collection between two samples hides
  // what was allocated before it: an estimate, not an exact count. The probe (memoryUsage())
  // allocates its own result object: the same loop without the engine measures that, and it is
  // taken off
  const probe = (engine: boolean): number => {
    const e = buildEngine(spec);
    let grown = 0;
    let last = allocated();
    for (let i = 0; i < t.count; i += MAX_BATCH) {
      if (engine) {
        e.deliver();
        e.core.onRecords(t.u8, t.u32, t.f64, t.ptr, 0xffffffff, i, Math.min(MAX_BATCH, t.count - i), e.clock);
      }
      const h = allocated();
      if (h > last) grown += h - last;
      last = h;
    }
    return grown;
  };
  const probeOnly = median([probe(false), probe(false), probe(false)]);
  const grown = Math.max(0, median([probe(true), probe(true), probe(true)]) - probeOnly);
  const rate = median(rates);
  return { tick, hist: merged, frameTtd, frameSteps, timedRecords, rate, rates, allocBytesPerTick: grown / t.count, allocBytesPerS: (grown / t.count) * rate, orders, batches };
}

// ------------------------------------------------------------------ ML inference inside the strategy callback

function mlRun(fs: FrameSet, spec: EngineSpec, modelPath: string) {
  const model: Model = modelFromText(readFileSync(modelPath, "utf8"));
  const F = model.nFeatures;
  const row = new Float64Array(F);
  const out = new Float64Array(Math.max(1, model.outputs));
  const h = LatencyHistogram.create();
  let sink = 0;
  /** the built-in strategy, whose book callback first computes features from the engine's book and indicators and predicts */
  const withModel = (): Strategy => {
    const inner = BUILTIN[spec.strategy]!.make(spec.params ?? {});
    let ctx!: StrategyContext;
    let ind!: { rsi(i: number): number; zscore(i: number): number };
    return {
      name: `${inner.name ?? spec.strategy}+ml`,
      onStart(c) {
        ctx = c;
        ind = (c as unknown as { indicators: typeof ind }).indicators;
        inner.onStart?.(c);
      },
      onTrade: inner.onTrade ? (a, b, c, d, e) => inner.onTrade!(a, b, c, d, e) : undefined,
      onBook(inst, ts) {
        const bid = ctx.bid(inst), ask = ctx.ask(inst), bs = ctx.bidSize(inst), as = ctx.askSize(inst);
        row[0] = (ask - bid) / ((ask + bid) / 2);
        if (F > 1) row[1] = (bs - as) / (bs + as);
        if (F > 2) row[2] = ind.rsi(inst);
        if (F > 3) row[3] = ind.zscore(inst);
        for (let f = 4; f < F; f++) row[f] = Math.log(bs + as);
        const t0 = now();
        model.predictRow(row, out);
        h.record(now() - t0);
        sink += out[0]!;
        inner.onBook?.(inst, ts);
      },
      onOrder: inner.onOrder ? (ev) => inner.onOrder!(ev) : undefined,
      onFill: inner.onFill ? (ev) => inner.onFill!(ev) : undefined,
      onTimer: inner.onTimer ? (t) => inner.onTimer!(t) : undefined,
      onStop: inner.onStop ? () => inner.onStop!() : undefined,
    };
  };
  const t = fs.tape;
  // passes with fresh engines: the warm-up ones are discarded, the last one is timed
  for (let pass = 0; pass <= WARM_PASSES; pass++) {
    h.reset();
    const e = buildEngine(spec, withModel());
    for (let i = 0; i < t.count; i += MAX_BATCH) e.core.onRecords(t.u8, t.u32, t.f64, t.ptr, 0xffffffff, i, Math.min(MAX_BATCH, t.count - i), e.clock);
    if (e.core.strategyError) throw new ProfileError(`profile: the ML strategy failed: ${e.core.strategyError.message}`);
  }
  return { hist: h, model: `${modelPath.split("/").pop()} (${model.nTrees} trees, ${F} features)`, finite: Number.isFinite(sink) };
}

// ------------------------------------------------------------------ one core vs two

function startWorker(job: PipelineJob): { w: Worker; ready: Promise<void>; result: Promise<PipelineResult> } {
  const w = new Worker(workerEntry("profile/pipeline-worker.ts"), { workerData: job } as WorkerOptions);
  let onReady!: () => void, onResult!: (r: PipelineResult) => void, onFail!: (e: Error) => void;
  const ready = new Promise<void>((r, j) => {
    onReady = r;
    onFail = j;
  });
  const result = new Promise<PipelineResult>((r, j) => {
    onResult = r;
    const prev = onFail;
    onFail = (e) => {
      prev(e);
      j(e);
    };
  });
  w.addEventListener("message", (ev) => {
    const d = (ev as MessageEvent).data;
    if (d?.ready) onReady();
    else if (d?.result) onResult(d.result as PipelineResult);
  });
  w.addEventListener("error", (ev) => onFail(new ProfileError(`profile: pipeline worker (${job.role}) failed: ${(ev as ErrorEvent).message}`)));
  result.catch(() => {});
  ready.catch(() => {});
  return { w, ready, result };
}

/** @param ringRecords capacity of the feed -> engine ring (the engine's BOT4_RING_CAPACITY) */
async function pipelineRun(fs: FrameSet, spec: EngineSpec, roles: Array<"both" | "feed" | "engine">, warmPasses: number, ringRecords: number): Promise<PipelineResult[]> {
  const ring = roles.length > 1 ? SpscRing.create(ringRecords) : null;
  const flags = new SharedArrayBuffer(32);
  const share = { blob: fs.blob, offs: fs.offs, recv: fs.recv, chunkStart: fs.chunkStart, chunkInst: fs.chunkInst, symbols: fs.symbols, venue: fs.venue, frames: fs.frames, records: fs.records };
  const ws = roles.map((role) => startWorker({ role, frames: share, spec, ring: ring?.handle ?? 0, flags, warmPasses, ringRecords, warmShare: WARM_SHARE }));
  try {
    await Promise.all(ws.map((w) => w.ready));
    new Float64Array(flags, 8, 1)[0] = now();
    const i32 = new Int32Array(flags, 0, 2);
    Atomics.store(i32, 0, 1);
    Atomics.notify(i32, 0);
    return await Promise.all(ws.map((w) => w.result));
  } finally {
    for (const w of ws) w.w.terminate();
    ring?.free();
  }
}

function crossCoreRtt(n: number): { p50: number; p99: number; pinned: string } {
  const cpus = processCpus();
  const a = cpus.length >= 2 ? cpus[0]! : -1, b = cpus.length >= 2 ? cpus[1]! : -1;
  const out = alignedBuffer(n * 8);
  const rc = K.bot4_ring_rtt_native(n, out.ptr, a, b);
  if (rc !== 0) throw new ProfileError(`profile: the cross-core round trip could not run (errno ${rc})`);
  const v = new Float64Array(out.buffer, out.byteOffset, n).slice().sort();
  return { p50: v[n >> 1]!, p99: v[Math.floor(n * 0.99)]!, pinned: a >= 0 ? `CPU ${a} <-> CPU ${b}` : "not pinned (one CPU allowed)" };
}

// ------------------------------------------------------------------ five venues: memory, route book

const ROUTE_DEPTH = 50;

export interface FiveVenueResult {
  venues: string[];
  /** pools and rings the process held beside the engine */
  held: { pools: string; rings: string };
  instruments: number;
  records: number;
  rate: number;
  rssSamplesMb: number[];
  rssSteadyMb: number;
  rssPeakMb: number;
  proc: Record<string, number>;
  tickFileMb: number;
  /** per venue with a synced BTC book: its top levels (price, amount pairs) */
  btcBooks: Array<{ venue: string; symbol: string; bids: number[]; asks: number[] }>;
}

/**
 * In a process of its own (`bot4 profile --rss-child FILE`): the engine over a tick file of five
 * venues' recordings, RSS sampled every 64 batches. Prints one JSON object.
 */
export async function fiveVenueChild(file: string, strategy: string, seed: number, quick: boolean): Promise<FiveVenueResult> {
  const { TickFile } = await import("../tickfile/reader.ts");
  const tf = TickFile.open(file);
  const instruments = tf.instruments.map((i) => ({ venue: tf.venueName(i.venue), symbol: i.symbol }));
  const venues = [...new Set(instruments.map((i) => i.venue))];
  const count = quick ? Math.min(tf.count, 150_000) : tf.count;
  const spec = specFor({ instruments, tape: { u8: tf.bytes, u32: tf.u32, f64: tf.f64, count } }, strategy, seed);
  const rss: number[] = [];
  // what an engine process holds besides the engine step: its pools, and a feed ring per venue
  // (every page written once, as a ring's pages are once data has gone round it)
  const config = loadConfig();
  const pools = enginePools(config);
  const rings = venues.map(() => SpscRing.create(config.BOT4_RING_CAPACITY));
  for (const r of rings) {
    for (let done = 0; done < r.capacity; ) {
      const n = r.push(tf.recordsPtr, Math.min(MAX_BATCH, r.capacity - done, tf.count));
      r.release(r.available(n));
      done += n;
    }
  }
  const e = buildEngine(spec);
  const t0 = now();
  let k = 0;
  for (let i = 0; i < count; i += MAX_BATCH) {
    e.core.onRecords(tf.bytes, tf.u32, tf.f64, tf.recordsPtr, 0xffffffff, i, Math.min(MAX_BATCH, count - i), e.clock);
    if ((++k & 63) === 0) rss.push(process.memoryUsage.rss() / 1048576);
  }
  const wall = now() - t0;
  rss.push(process.memoryUsage.rss() / 1048576);
  const btcBooks: FiveVenueResult["btcBooks"] = [];
  const lv = new Float64Array(ROUTE_DEPTH * 2);
  for (const v of venues) {
    const i = instruments.findIndex((x) => x.venue === v && x.symbol.startsWith("BTC/") && e.books.get(instruments.indexOf(x))?.synced);
    if (i < 0) continue;
    const b = e.books.get(i)!;
    const nb = K.bot4_book_levels(b.ptr, 0, lv, ROUTE_DEPTH);
    const bids = Array.from(lv.subarray(0, nb * 2));
    const na = K.bot4_book_levels(b.ptr, 1, lv, ROUTE_DEPTH);
    btcBooks.push({ venue: v, symbol: instruments[i]!.symbol, bids, asks: Array.from(lv.subarray(0, na * 2)) });
  }
  const held = { pools: pools.describe(), rings: `${rings.length} x ${config.BOT4_RING_CAPACITY} records (${((rings.length * config.BOT4_RING_CAPACITY * TICK_BYTES) / 1048576).toFixed(1)} MiB)` };
  return {
    venues,
    held,
    instruments: instruments.length,
    records: count,
    rate: count / (wall / 1e9),
    rssSamplesMb: rss,
    rssSteadyMb: median(rss.slice(rss.length >> 1)),
    rssPeakMb: Math.max(...rss),
    proc: procMem(),
    tickFileMb: (tf.count * TICK_BYTES) / 1048576,
    btcBooks,
  };
}

async function fiveVenues(o: ProfileOptions, shared: string | null, strategy: string): Promise<FiveVenueResult> {
  const dir = mkdtempSync(join(tmpdir(), "bot4-profile-"));
  try {
    const inputs: string[] = [];
    for (const p of [btcSlice, ethSlice]) {
      const f = join(dir, p.split("/").pop()!);
      writeFileSync(f, readFileSync(p));
      inputs.push(f);
    }
    if (shared) {
      for (const rel of ["hftbacktest/binance-spot/btcusdt_20240808.gz", "hftbacktest/binance-coinm/btcusd_perp_20240808.gz", "cryptofeed-v3/BYBIT.jsonl.gz", "cryptofeed-v3/COINBASE.jsonl.gz"]) {
        const f = join(shared, rel);
        if (existsSync(f)) inputs.push(f);
      }
    }
    const { importFiles } = await import("../tickfile/import.ts");
    const out = join(dir, "five.b4t");
    await importFiles(inputs, out, { progress: false });
    // a process of its own, so its RSS is the engine's and not this profile's other work
    const self = COMPILED ? [process.execPath] : [process.execPath, resolve(import.meta.dir, "../cli/main.ts")];
    const child = Bun.spawn([...self, "profile", "--rss-child", out, "--strategy", strategy, "--seed", String(o.seed), ...(o.quick ? ["--quick"] : [])], { stdout: "pipe", stderr: "pipe", env: process.env });
    const [text, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new ProfileError(`profile: the five-venue replay process failed (exit ${code}): ${err.trim().split("\n").pop()}`);
    return JSON.parse(text) as FiveVenueResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ order entry: decision -> bytes on a loopback socket

/**
 * A quote update as a running engine sends it: one engine step (a trade record) whose strategy
 * cancels its two resting quotes and places two new ones. Timed from the step's start to the
 * step's return, when its requests are on the socket: through the engine's outbox (the gateway
 * held, the four frames in one write) and, alternating in the same run, through a wrapper that
 * hides hold/flush (one write per request, as before the outbox). Between updates the venue's
 * answers are awaited, untimed.
 */
async function quoteUpdates(gw: BinanceWsGateway, mid: number, n: number) {
  const px = (x: number) => Math.round(x * 100) / 100;
  const unheld: Gateway = {
    venue: gw.venue,
    onReport: (h) => gw.onReport(h),
    submit: (r) => gw.submit(r),
    cancel: (s, id) => gw.cancel(s, id),
    openOrders: (s) => gw.openOrders(s),
    fills: (s, t) => gw.fills(s, t),
    close: () => gw.close(),
  };
  const tape = new TickBuffer(4);
  tape.push({ kind: TickKind.trade, venue: Venue.binance, instrument: 0, tsExchangeNs: 1, tsRecvNs: 1, price: mid, size: 0.001 });
  const make = (g: Gateway, prefix: string) => {
    let ctx!: StrategyContext;
    const ids = ["", ""];
    let k = 0;
    const strategy: Strategy = {
      name: "profile-quotes",
      onStart: (c) => void (ctx = c),
      onTrade: (inst) => {
        k++;
        for (const id of ids) if (id) ctx.cancel(id);
        ids[0] = ctx.submit(inst, 0, 0.001, px(mid * 0.998) - (k % 5) * 0.01, "PO");
        ids[1] = ctx.submit(inst, 1, 0.001, px(mid * 1.002) + (k % 5) * 0.01, "PO");
      },
    };
    const core = new TradingCore({
      instruments: [{ id: 0, venue: "binance", symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001 }],
      strategy,
      clock: new VirtualClock(0),
      gateways: new Map([["binance", g]]),
      risk: { collarBps: 500, staleMs: 0 },
      idPrefix: prefix,
    });
    core.market.refPrice[0] = mid;
    core.market.usable[0] = 1;
    core.start();
    return core;
  };
  const held = make(gw, "pfq-"), apart = make(unheld, "pfu-");
  const one = LatencyHistogram.create(), each = LatencyHistogram.create();
  const writes = { one: 0, each: 0 };
  const WARM = 100;
  for (let i = 0; i < 2 * (n + WARM); i++) {
    const core = (i & 1) === 0 ? held : apart;
    const w0 = gw.client.counters.writes;
    const t0 = now();
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 0, 1);
    const dt = now() - t0;
    if (i >= 2 * WARM) {
      if ((i & 1) === 0) {
        one.record(dt);
        writes.one += gw.client.counters.writes - w0;
      } else {
        each.record(dt);
        writes.each += gw.client.counters.writes - w0;
      }
    }
    // the venue's answers before the next update (untimed): at most the two new quotes stay open
    const until = performance.now() + 5000;
    while (core.openOrders(0) > 2) {
      if (performance.now() > until) throw new ProfileError("profile: the local order venue did not confirm cancels within 5 s");
      await Bun.sleep(0);
    }
  }
  held.cancelAll();
  apart.cancelAll();
  await Bun.sleep(20);
  return { one, each, writesPerUpdate: { one: writes.one / Math.max(1, one.count), each: writes.each / Math.max(1, each.count) } };
}

async function orderEntry(n: number, mid: number, book: ConsolidatedBook) {
  const quiet = createLogger({ level: "silent" });
  // throwaway credentials for the local venue on 127.0.0.1
  const apiKey = randomBytes(32).toString("hex"), secret = randomBytes(32).toString("hex");
  const px = (x: number) => Math.round(x * 100) / 100;
  const ex = new SimExchange({ venue: "binance", balances: { USDT: 1e12, BTC: 1e6 } });
  ex.listSymbol({ symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001, minNotional: 0, base: "BTC", quote: "USDT" });
  ex.onBookLevel("BTC/USDT", "buy", px(mid * 0.9999), 5, Date.now() * 1e6);
  ex.onBookLevel("BTC/USDT", "sell", px(mid * 1.0001), 5, Date.now() * 1e6);
  const venue = startBinanceOrderVenue({ exchange: ex, keys: [{ apiKey, secret }], weightPerMinute: 1e12, ordersPer10s: 1e12 });
  const gw = new BinanceWsGateway({ url: venue.wsApiUrl, apiKey, secret, userData: false, limits: [], timeoutMs: 1e9, reconnect: false, log: quiet });
  try {
    await gw.start();
    const core = new TradingCore({
      instruments: [{ id: 0, venue: "binance", symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001 }],
      strategy: { name: "profile-orders" },
      clock: new VirtualClock(0),
      gateways: new Map([["binance", gw]]),
      risk: { collarBps: 500, staleMs: 0 },
      idPrefix: "pfo-",
    });
    core.market.refPrice[0] = mid;
    core.market.usable[0] = 1;
    core.market.updatedNs[0] = 0;
    const sor = new SmartOrderRouter(book, { latencyPenaltyBpsPerMs: 0.5 });
    const routed = new RouteResult(Math.max(1, book.venues.length));
    const SIZES = [0.001, 0.002, 0.005, 0.01, 0.05, 0.1];
    const whole = LatencyHistogram.create(), route = LatencyHistogram.create(), enc = LatencyHistogram.create(), write = LatencyHistogram.create();
    const WARM = Math.min(1000, n);
    const BURST = 8;
    let refused = 0;
    const ids: string[] = [];
    for (let i = 0; i < n + WARM; i++) {
      const side = (i & 1) as 0 | 1;
      const amount = SIZES[i % SIZES.length]!;
      // a resting limit order a little off the mid: inside the collar, never crossing
      const price = side === 0 ? px(mid * 0.999) - (i % 7) * 0.01 : px(mid * 1.001) + (i % 7) * 0.01;
      const t0 = now();
      sor.route(side === 0 ? "buy" : "sell", amount, routed);
      const t1 = now();
      const id = core.submit(0, side, amount, price);
      const t2 = now();
      if (id === "") {
        refused++;
        continue;
      }
      ids.push(id);
      if (i >= WARM) {
        whole.record(t2 - t0);
        route.record(t1 - t0);
      }
      // as a quoting strategy does: a burst of orders, then they are replaced, so open orders stay few (not timed)
      if (ids.length === BURST) {
        for (const x of ids) core.cancel(x);
        ids.length = 0;
        const until = performance.now() + 5000;
        while (core.openOrders(0) > 0) {
          if (performance.now() > until) throw new ProfileError("profile: the local order venue did not confirm cancels within 5 s");
          await Bun.sleep(0);
        }
      }
    }
    if (refused > 0) throw new ProfileError(`profile: ${refused} of ${n + WARM} orders were refused by risk (${core.rejectText(core.lastReject)}): the order-entry figure would not be one`);
    // the gateway's submit in two halves, each timed on its own: encode + sign, then the socket write
    const req: OrderRequest = { clientOrderId: "pfo-x", venue: "binance", symbol: "BTC/USDT", side: "buy", type: "limit", amount: 0.001, price: px(mid * 0.999), timeInForce: "GTC" };
    let frameLen = 0;
    for (let i = 0; i < n + WARM; i++) {
      req.clientOrderId = `pfo-e${i}`;
      const t0 = now();
      frameLen = gw.encodeForSubmit(1_000_000 + i, req, 1_700_000_000_000 + i);
      const t1 = now();
      if (i >= WARM) enc.record(t1 - t0);
    }
    const text = gw.encodePlace(1_000_000, req, 1_700_000_000_000);
    // a ping frame the venue answers with nothing that changes state
    const ping = JSON.stringify({ id: "pf-ping", method: "ping" });
    const frameBytes = { ping: ping.length, order: text.length };
    for (let i = 0; i < n + WARM; i++) {
      const t0 = now();
      gw.client.send(ping);
      const t1 = now();
      if (i >= WARM) write.record(t1 - t0);
      if ((i & 63) === 63) await Bun.sleep(0);
    }
    await Bun.sleep(50);
    const quotes = await quoteUpdates(gw, mid, Math.max(200, Math.floor(n / 10)));
    // the kernel's floor under the write: C send() of a frame of the order's size (WebSocket
    // header with its mask key: 8 bytes at this length) on a loopback socket, in this run
    const kernel = LatencyHistogram.create();
    kernel.recordBatch(sendFloor(n, text.length + (text.length < 126 ? 6 : 8)));
    const encoder = gw.cEncoder ? `one C call (c/order.c): order.place text, HMAC-SHA256 (SHA-NI where the CPU has it), masked frame of ${frameLen} bytes` : "TypeScript byte path: order.place text, HMAC-SHA256 (Bun.CryptoHasher)";
    return { whole, route, risk: core.hist.risk, submit: core.hist.submit, enc, encoder, write, kernel, frameBytes, quotes, sent: gw.counters.submitted, acks: gw.counters.acks, cancels: gw.counters.cancels, venueOrders: venue.counters.placed };
  } finally {
    await gw.close();
    await venue.stop();
  }
}

// ------------------------------------------------------------------ the report

/** 1-minute load average of the machine (other processes compete for the same CPUs); NaN where unreadable */
function loadAvg(): number {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

export async function runProfile(o: ProfileOptions) {
  const started = now();
  const loadStart = loadAvg();
  const gapMs = o.quick ? 200 : 500;
  const gapsStart = gaps(gapMs);
  const { gatherInfo } = await import("../engine/machine.ts");
  const config = loadConfig();
  const machine = await gatherInfo(config);
  const reps = o.reps;
  o.progress("loading recorded frames");
  const sources = o.data.length ? o.data : [btcSlice, ethSlice].map((p) => ({ name: p.split("/").pop()!, bytes: new Uint8Array(readFileSync(p)) }));
  const fs = loadFrames(sources, Venue.binanceusdm);
  const spec = specFor(fs, o.strategy, o.seed);
  const rssLoadedMb = procMem().VmRSS!;

  o.progress("stages: parse, book, state, indicators");
  const c = stagesC(fs, reps);
  o.progress("engine step over the parsed records: live path (venues elsewhere), then paper (simulated venues in the engine thread)");
  const live = { ...spec, venues: "stub" as const };
  const eng = engineRuns(fs, live, reps);
  const paper = engineRuns(fs, spec, reps);

  const shared = o.sharedData;
  let ml: ReturnType<typeof mlRun> | null = null;
  const modelPath = shared ? join(shared, "xgboost-models/gbtree_many_trees.model.json") : "";
  if (shared && existsSync(modelPath)) {
    o.progress("ML inference in the strategy callback");
    ml = mlRun(fs, spec, modelPath);
  }

  o.progress(`one core vs two (ring of ${config.BOT4_RING_CAPACITY} records, alternating runs) and the cross-core round trip`);
  const one: number[] = [], two: number[] = [], ratios: number[] = [], rtts: Array<{ p50: number; p99: number }> = [];
  /** two-core runs: share of the run the engine thread spent in the engine step (the rest it waited for records), and the feed's naps on a full ring */
  const engineBusy: number[] = [], feedNaps: number[] = [];
  let pinned = "";
  const rttN = o.quick ? 20_000 : 100_000;
  let oneOrders = 0, twoOrders = 0, oneBatches = 0, twoBatches = 0;
  for (let r = 0; r < reps; r++) {
    const x = crossCoreRtt(rttN);
    pinned = x.pinned;
    rtts.push(x);
    const [b] = await pipelineRun(fs, live, ["both"], WARM_PASSES, config.BOT4_RING_CAPACITY);
    const [f, e] = await pipelineRun(fs, live, ["feed", "engine"], WARM_PASSES, config.BOT4_RING_CAPACITY);
    engineBusy.push(e!.busyNs / e!.ns);
    feedNaps.push(f!.fullWaits);
    if (b!.records + b!.warmRecords !== fs.records || e!.records + e!.warmRecords !== fs.records || f!.records !== e!.records) throw new ProfileError(`profile: the pipeline lost records (${b!.warmRecords} + ${b!.records} / ${e!.warmRecords} + ${e!.records} of ${fs.records})`);
    one.push(b!.records / (b!.ns / 1e9));
    two.push(e!.records / (e!.ns / 1e9));
    ratios.push(b!.ns / e!.ns);
    oneOrders = b!.orders;
    twoOrders = e!.orders;
    oneBatches = b!.batches;
    twoBatches = e!.batches;
  }
  rtts.push(crossCoreRtt(rttN));

  o.progress("five venues: memory through a replay");
  const five = await fiveVenues(o, shared, o.strategy);

  o.progress("order entry: decision -> bytes on a loopback socket");
  const btcMid = (() => {
    const i = fs.instruments.findIndex((x) => x.symbol.startsWith("BTC/"));
    return i >= 0 && spec.instruments[i]!.firstPrice > 0 ? spec.instruments[i]!.firstPrice : 50_000;
  })();
  const routeBook = new ConsolidatedBook({ venues: five.btcBooks.length ? five.btcBooks.map((b) => b.venue) : ["none"], depth: ROUTE_DEPTH });
  five.btcBooks.forEach((b, v) => {
    routeBook.setLevels(v, "buy", b.bids.filter((_, j) => j % 2 === 0), b.bids.filter((_, j) => j % 2 === 1));
    routeBook.setLevels(v, "sell", b.asks.filter((_, j) => j % 2 === 0), b.asks.filter((_, j) => j % 2 === 1));
    routeBook.setVenue(v, { takerFeeBps: 4, up: true, inSync: true, latencyNs: 1e6 });
  });
  if (five.btcBooks.length === 0) throw new ProfileError("profile: no venue's BTC book came in sync in the five-venue replay: nothing to route over");
  const oe = await orderEntry(o.quick ? 2000 : 10_000, btcMid, routeBook);

  const pools = enginePools(config);
  const poolInfo = { describe: pools.describe(), pools: [pools.orders.stats(), pools.ticks.stats(), pools.signals.stats()] };
  pools.free();
  const pm = procMem();

  const stages: StageRow[] = [
    { stage: "parse", unit: "ns per record", method: "batch time / count", ns: dist(c.parse), note: `C parser, one call per chunk of <= 32 raw frames (${fs.frames} frames, ${fs.records} records)` },
    { stage: "book", unit: "ns per record", method: "batch time / count", ns: dist(c.book), note: `BookSet.apply, one call per <= ${MAX_BATCH} records` },
    { stage: "state", unit: "ns per record", method: "batch time / count", ns: dist(c.state), note: `InstrumentState.apply (last, VWAP), one call per <= ${MAX_BATCH} records` },
    { stage: "indicators", unit: "ns per record", method: "batch time / count", ns: dist(c.ind), note: `IndicatorSet.apply, one call per <= ${MAX_BATCH} records` },
    { stage: "engine step", unit: "ns per record", method: "batch time / count", ns: dist(eng.tick), note: "live path: TradingCore.onRecords = book, state, indicators, market view, strategy (its orders to venues elsewhere, answered between batches)" },
    { stage: "engine step, paper", unit: "ns per record", method: "batch time / count", ns: dist(paper.tick), note: "the same plus the simulated venues' matching and book upkeep in the engine thread (bot4 run with no .env, bot4 backtest)" },
    { stage: "strategy", unit: "ns per batch", method: "per op (TSC)", ns: dist(eng.hist.strategy), note: `${o.strategy} dispatch per engine batch (includes its submits), live path` },
    { stage: "risk", unit: "ns per order", method: "per op (TSC)", ns: dist(oe.risk), note: "pre-trade risk check (TradingCore.submit), order-entry run" },
    { stage: "route", unit: "ns per decision", method: "per op (TSC)", ns: dist(oe.route), note: `SmartOrderRouter over the BTC books of ${five.btcBooks.length} venues as the replay left them (${five.btcBooks.map((b) => `${b.venue}:${b.symbol}`).join(", ")}), ${ROUTE_DEPTH} levels a side` },
    { stage: "gateway submit", unit: "ns per order", method: "per op (TSC)", ns: dist(oe.submit), note: "BinanceWsGateway.submit as TradingCore calls it after risk: tracking, rate limiter, encode, sign, write" },
    { stage: "encode/sign", unit: "ns per order", method: "per op (TSC)", ns: dist(oe.enc), note: `what BinanceWsGateway.submit runs before the write: ${oe.encoder}` },
    { stage: "write", unit: "ns per order", method: "per op (TSC)", ns: dist(oe.write), note: `WebSocket send of one text frame (a ${oe.frameBytes.ping}-byte ping; orders are ${oe.frameBytes.order} bytes) to the local venue on 127.0.0.1` },
    { stage: "kernel send()", unit: "ns per write", method: "per op (TSC)", ns: dist(oe.kernel), note: `reference, not bot4 code: the kernel's own cost of writing one ${oe.frameBytes.order + 8}-byte order frame to a loopback TCP socket (C send(), TCP_NODELAY, timed alone; the floor under "write" and "order submission" on this machine)` },
    { stage: "quote update, one write", unit: "ns per update", method: "per op (TSC)", ns: dist(oe.quotes.one), note: `an engine step whose strategy cancels its two quotes and places two: step start -> the four requests on the socket, through the engine's outbox (gateway held, ${oe.quotes.writesPerUpdate.one.toFixed(2)} socket writes per update)` },
    { stage: "quote update, write each", unit: "ns per update", method: "per op (TSC)", ns: dist(oe.quotes.each), note: `the same steps alternated in this run with the gateway's hold/flush hidden: one socket write per request (${oe.quotes.writesPerUpdate.each.toFixed(2)} per update), as before the outbox` },
    { stage: "order submission", unit: "ns per order", method: "per op (TSC)", ns: dist(oe.whole), note: "route + risk + encode + sign + write: TradingCore.submit -> BinanceWsGateway -> local Binance WS-API venue on 127.0.0.1 (each order cancelled after, untimed)" },
    { stage: "tick-to-decision", unit: "ns per order", method: "per op (TSC)", ns: dist(eng.frameTtd), note: `live path, frame by frame: one engine step per frame's records (${eng.frameSteps} steps, ${(eng.timedRecords / Math.max(1, eng.frameSteps)).toFixed(1)} records each on average), step start -> order decided (risk passed, order built and queued; the step's requests go to the venue gateway, held and written together, when its handlers return)` },
    { stage: "tick-to-decision, saturated", unit: "ns per order", method: "per op (TSC)", ns: dist(eng.hist.tickToDecision), note: `live path, records replayed as fast as possible: full engine steps of ${MAX_BATCH} records, step start -> order decided (risk passed, order built and queued; the step's requests go to the venue gateway, held and written together, when its handlers return) (every record of the step is applied before the strategy runs)` },
    { stage: "tick-to-decision, paper", unit: "ns per order", method: "per op (TSC)", ns: dist(paper.hist.tickToDecision), note: "the same with simulated venues (their own work excluded, as TradingCore times it)" },
  ];
  if (ml) stages.push({ stage: "ML inference", unit: "ns per prediction", method: "per op (TSC)", ns: dist(ml.hist), note: `${ml.model}, in the strategy's book callback` });

  const oneMed = median(one), twoMed = median(two), ratio = median(ratios);
  const d = (s: string) => stages.find((x) => x.stage === s)!.ns;
  const goals: Goal[] = [
    { name: "tick-to-decision P99", target: "<= 5 µs", measured: d("tick-to-decision").p99 / 1e3, unit: "µs", met: d("tick-to-decision").p99 <= 5e3, how: "live path, frame by frame (the saturated figure is in the stage table)" },
    { name: "tick-to-decision P99.9", target: "<= 20 µs", measured: d("tick-to-decision").p999 / 1e3, unit: "µs", met: d("tick-to-decision").p999 <= 20e3, how: "live path, frame by frame" },
    { name: "tick processing P99", target: "<= 1 µs", measured: d("engine step").p99 / 1e3, unit: "µs", met: d("engine step").p99 <= 1e3, how: "engine step per record, live path (batch time / count)" },
    { name: "order submission P99", target: "<= 20 µs", measured: d("order submission").p99 / 1e3, unit: "µs", met: d("order submission").p99 <= 20e3, how: `decision -> bytes on a loopback socket (the kernel's send() alone: P50 ${(d("kernel send()").p50 / 1e3).toFixed(1)} µs, P99 ${(d("kernel send()").p99 / 1e3).toFixed(1)} µs in this run)` },
    { name: "replay throughput, one core", target: ">= 5 M ticks/s", measured: oneMed / 1e6, unit: "M ticks/s", met: oneMed >= 5e6, how: "raw frames -> parser -> engine (live path) on one thread, median" },
    { name: "two cores vs one", target: ">= 1.8x", measured: ratio, unit: "x", met: ratio >= 1.8, how: "feed + engine threads over an SPSC ring vs one thread, median of paired runs" },
    { name: `RSS steady state, ${five.venues.length} venues`, target: "<= 200 MB", measured: five.rssSteadyMb, unit: "MB", met: five.rssSteadyMb <= 200 && five.venues.length >= 5, how: `whole process during a replay of ${five.venues.join(", ")}` },
  ];
  if (ml) {
    const m = d("ML inference");
    goals.push({ name: "ML inference in the loop P99", target: "<= 5 µs", measured: m.p99 / 1e3, unit: "µs", met: m.p99 <= 5e3, how: "predictRow inside the strategy callback" });
  }

  return {
    version: 1,
    when: new Date().toISOString(),
    mode: o.quick ? "quick" : "full",
    reps,
    seed: o.seed,
    strategy: o.strategy,
    data: { files: fs.names, frames: fs.frames, records: fs.records, instruments: fs.instruments.map((i) => `${i.venue}:${i.symbol}`), bytes: fs.bytes },
    machine: {
      cpu: machine.cpu,
      kernel: machine.kernel,
      clock: machine.clock,
      cpusAllowed: machine.threads.cpusAllowed,
      bun: Bun.version,
      loadAverage1m: { start: loadStart, end: loadAvg() },
      gaps: [gapsStart, gaps(gapMs)],
    },
    goals,
    stages,
    throughput: {
      oneCorePerS: oneMed,
      twoCorePerS: twoMed,
      twoVsOne: ratio,
      oneCoreRuns: one,
      twoCoreRuns: two,
      ratios,
      warmPasses: WARM_PASSES,
      warmShare: WARM_SHARE,
      engineOnlyPerS: eng.rate,
      paperEngineOnlyPerS: paper.rate,
      parseOnlyPerS: c.parseRate,
      fiveVenueEnginePerS: five.rate,
      oneCore: { orders: oneOrders, batches: oneBatches },
      twoCore: { orders: twoOrders, batches: twoBatches, engineBusyShare: median(engineBusy), feedNapsOnFullRing: median(feedNaps) },
      crossCoreRtt: { pinned, windowsP50Ns: rtts.map((x) => x.p50), windowsP99Ns: rtts.map((x) => x.p99), minP50Ns: Math.min(...rtts.map((x) => x.p50)), maxP50Ns: Math.max(...rtts.map((x) => x.p50)), roundTripsPerWindow: rttN },
    },
    memory: {
      rssStartMb: o.rssStartMb,
      rssAfterSetupMb: rssLoadedMb,
      rssSteadyMb: five.rssSteadyMb,
      rssPeakMb: five.rssPeakMb,
      vmHwmMb: five.proc.VmHWM ?? five.rssPeakMb,
      profileProcessVmHwmMb: pm.VmHWM ?? pm.VmRSS!,
      rssBreakdownMb: { anon: five.proc.RssAnon ?? NaN, file: five.proc.RssFile ?? NaN, shmem: five.proc.RssShmem ?? NaN },
      fiveVenues: { venues: five.venues, instruments: five.instruments, records: five.records, tickFileMb: five.tickFileMb, held: five.held },
      heapAllocBytesPerS: eng.allocBytesPerS,
      heapAllocBytesPerTick: eng.allocBytesPerTick,
      pools: poolInfo,
    },
    orderEntry: { orders: oe.sent, acks: oe.acks, cancels: oe.cancels, placedAtVenue: oe.venueOrders },
    engine: { orders: eng.orders, batches: eng.batches, paperOrders: paper.orders },
    elapsedS: (now() - started) / 1e9,
  };
}

export type ProfileReport = Awaited<ReturnType<typeof runProfile>>;
