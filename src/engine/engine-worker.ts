/**
 * The engine thread. Drains every feed ring in batches: reads each record's receive stamp in
 * place (typed views over ring memory), records receive-to-consume latency, applies the batch to
 * per-instrument state and to the L2 books in C (one FFI call each per batch), releases the slots. No allocation and no
 * logging inside the loop. When all rings stay empty it spins for BOT4 spin budget, then parks on
 * a futex until a feed publishes (feeds wake it), the orchestrator stops it, or 100 ms pass.
 */
import { workerData } from "node:worker_threads";
import { now } from "../../ffi/clock.ts";
import { LatencyHistogram } from "../../ffi/hist.ts";
import { enginePools, type PoolConfig } from "../../ffi/mem.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { InstrumentState } from "../../ffi/state.ts";
import { BookSet } from "../../ffi/book.ts";
import { pinThisThread } from "../../ffi/sys.ts";
import { T, TICK_U32 } from "../domain/tick.ts";
import { attachControl, F, I } from "./control.ts";
import type { PaperTrading, TradingInit } from "./paper.ts";
import { TradingStatus } from "./status.ts";

export interface EngineInit {
  control: SharedArrayBuffer;
  rings: number[];
  instruments: number;
  cpus: number[];
  /** busy-poll this long after the last record before parking (ns) */
  spinNs: number;
  pools: PoolConfig;
  /** instruments that keep an L2 book, and the venue's sequence rule for each (ffi/book.ts BookRule) */
  books: Array<{ instrument: number; rule: number }>;
  /** a synced book with no update for this long is stale (0 = never: replays) */
  staleNs: number;
  /** paper trading: strategy, risk, simulated venues, journal (absent: market data only) */
  trading?: TradingInit;
}

const MAX_BATCH = 1024;

async function main(init: EngineInit): Promise<void> {
  const ctl = attachControl(init.control);
  const pin = init.cpus.length ? pinThisThread(init.cpus) : { ok: true as const, message: "not pinned" };
  const rings = init.rings.map((h) => SpscRing.attach(h));
  // the engine's memory, mapped (and prefaulted / locked) before the first tick
  const pools = enginePools(init.pools);
  const state = new InstrumentState(Math.max(1, init.instruments));
  const books = new BookSet(Math.max(1, init.instruments));
  for (const b of init.books) books.add(b.instrument, b.rule);
  const hasBooks = init.books.length > 0;
  // what each book had asked for when last reported: the feed owning it gets one request per ask
  const askedSoFar = new Float64Array(Math.max(1, init.instruments));
  const askForSnapshots = () => {
    for (const b of books.all()) {
      const r = b.resyncRequests;
      if (r > askedSoFar[b.instrument]!) {
        askedSoFar[b.instrument] = r;
        postMessage({ type: "resync", instrument: b.instrument });
      }
    }
  };
  const total = LatencyHistogram.create();
  const window = LatencyHistogram.create();
  const { i32, f64 } = ctl;
  const feeds = rings.length;
  let consumed = 0, trades = 0, batches = 0, parks = 0, resyncs = 0;
  // paper trading: the strategy trades through risk and the simulated venues in this thread
  const logs: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log = (msg: string, fields?: Record<string, unknown>) => {
    // cold path only (the core logs refusals, trips and strategy errors): handed to the main thread
    postMessage({ type: "log", msg, fields });
    if (logs.length < 50) logs.push({ msg, fields });
  };
  let paper: PaperTrading | null = null;
  let status: TradingStatus | null = null;
  if (init.trading) {
    const { startPaperTrading } = await import("./paper.ts");
    try {
      paper = await startPaperTrading(init.trading, { books, state, nowNs: now(), log });
    } catch (e) {
      postMessage({ type: "fatal", message: (e as Error).message, name: (e as Error).name });
      pools.free();
      return;
    }
    status = new TradingStatus(init.trading.status, Math.max(1, init.instruments));
  }
  const core = paper?.core ?? null;
  // a strategy sees a batch's books as of its end, and decides after the whole batch: trading keeps
  // batches short (32 records: tick-to-decision ~2x lower than at 256 for ~10 % more per-batch work)
  const maxBatch = core ? 32 : MAX_BATCH;
  const yieldsToLoop = paper?.live ?? false;
  let lastYield = now();
  // cold path, four times a second at most: books whose stream went quiet are taken out of use;
  // the trading core acts on kill-switch trips and publishes its status
  let lastCheck = now();
  const maintenance = (t: number) => {
    lastCheck = t;
    if (hasBooks && init.staleNs > 0 && books.checkStale(t, init.staleNs) > 0) askForSnapshots();
    if (core) {
      core.maintenance(t);
      core.publish(status!, t);
      let tr = 0;
      for (let i = 0; i < init.instruments; i++) tr += state.trades(i);
      trades = tr;
      f64[F.TRADES] = trades;
    }
  };
  postMessage({ type: "ready" });
  let lastSpin = now();
  let windowStart = lastSpin;

  for (;;) {
    let got = 0;
    for (let r = 0; r < feeds; r++) {
      const ring = rings[r]!;
      const n = ring.available(maxBatch);
      if (n === 0) continue;
      const start = ring.tailSlot;
      const mask = ring.mask;
      const u32 = ring.u32;
      const t = now();
      for (let k = 0; k < n; k++) {
        const w = ((start + k) & mask) * TICK_U32 + T.TS_RECV_U32;
        const lat = t - (u32[w + 1]! * 4294967296 + u32[w]!);
        total.record(lat);
        window.record(lat);
      }
      if (core) {
        // books, state and indicators (C, one call each), the simulated venues, the strategy
        const asked = core.onRecords(ring.u8, u32, ring.f64, ring.recordsPtr, mask, start, n, paper!.advance);
        paper!.afterBatch();
        if (asked > 0) {
          resyncs += asked;
          askForSnapshots();
        }
      } else {
        trades += state.apply(ring.recordsPtr, mask, start, n);
      }
      // LEVEL and STATUS records into the books, same batch, one call; a book that asks for a
      // resync is counted here (a replay has no venue to ask; a live feed gets the request)
      if (hasBooks && !core) {
        const asked = books.apply(ring.recordsPtr, mask, start, n);
        if (asked > 0) {
          resyncs += asked;
          askForSnapshots(); // cold path: a gap or crossed book, rare
        }
      }
      ring.release(n);
      got += n;
      batches++;
      if (t - lastCheck > 250e6) maintenance(t);
      if (t - windowStart > 1e9) {
        f64[F.LAT_LAST_P99] = window.percentile(0.99);
        window.reset();
        windowStart = t;
      }
    }
    if (got > 0) {
      consumed += got;
      f64[F.CONSUMED] = consumed;
      f64[F.TRADES] = trades;
      f64[F.BATCHES] = batches;
      lastSpin = -1;
      // live gateways live on this thread's event loop (acks, fills, timers): a busy engine lets
      // it run at least once a millisecond
      if (yieldsToLoop) {
        const t = now();
        if (t - lastYield > 1e6) {
          lastYield = t;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
      continue;
    }
    if (Atomics.load(i32, I.STOP) === 1) break;
    let allDone = true;
    for (let r = 0; r < feeds; r++) if (Atomics.load(i32, I.FEED_DONE + r) !== 1) allDone = false;
    if (allDone) {
      // feeds set DONE after their last publish: one more empty pass proves the rings are drained
      let left = 0;
      for (let r = 0; r < feeds; r++) left += rings[r]!.available(1);
      if (left === 0) break;
      continue;
    }
    const t = now();
    // no data waiting: simulated venues' acks and fills due by now happen now
    if (paper && paper.clock.nextAt <= t) paper.clock.advanceTo(t);
    if (t - lastCheck > 250e6) maintenance(t);
    if (lastSpin < 0) lastSpin = t;
    if (t - lastSpin < init.spinNs) continue;
    // park: announce, re-check (a publish may have raced the announcement), then sleep
    const seq = Atomics.load(i32, I.WAKE);
    Atomics.store(i32, I.ENGINE_PARKED, 1);
    let pending = 0;
    for (let r = 0; r < feeds; r++) pending += rings[r]!.available(1);
    if (pending === 0) {
      // a simulated venue's next event bounds the sleep (a fill due in 2 ms is not 100 ms late)
      const due = paper ? (paper.clock.nextAt - now()) / 1e6 : Infinity;
      const ms = due < 100 ? (due > 0 ? due : 0) : 100;
      // with live gateways the park is asynchronous: their sockets are served while it sleeps
      if (yieldsToLoop) {
        const w = Atomics.waitAsync(i32, I.WAKE, seq, ms);
        if (w.async) await w.value;
        lastYield = now();
      } else Atomics.wait(i32, I.WAKE, seq, ms);
      parks++;
      f64[F.PARKS] = parks;
    }
    Atomics.store(i32, I.ENGINE_PARKED, 0);
    lastSpin = now();
  }

  let trading: Record<string, unknown> | null = null;
  if (paper && core) {
    const end = now();
    const shut = await paper.shutdown(end);
    core.maintenance(end);
    core.publish(status!, end);
    const sum = core.summary();
    trading = {
      ...sum,
      orders: sum.perVenue.reduce((a, v) => a + v.orders, 0),
      fills: sum.perVenue.reduce((a, v) => a + v.fills, 0),
      shutdown: shut,
      recovery: paper.recovery,
      journal: paper.journal ? { path: paper.journal.path, ...paper.journal.counters } : null,
      logs,
    };
  }
  const perInstrument = [];
  for (let i = 0; i < init.instruments; i++) {
    perInstrument.push({ id: i, last: state.last(i), trades: state.trades(i), volume: state.volume(i), vwap: state.vwap(i), high: state.high(i), low: state.low(i) });
  }
  const bookReport = books.all().map((b) => {
    const c = b.counters();
    return { id: b.instrument, synced: b.synced, bid: b.bestBid, ask: b.bestAsk, depth: [b.depth(0), b.depth(1)], snapshots: c.snapshots, applied: c.applied, gaps: c.gaps, crossed: c.crossed, resyncs: c.resyncRequests, problem: b.problem?.what ?? null };
  });
  Atomics.store(i32, I.ENGINE_DONE, 1);
  postMessage({
    type: "done",
    consumed,
    trades,
    batches,
    parks,
    pinned: pin.ok ? (init.cpus.length ? init.cpus : null) : null,
    pinError: pin.ok ? null : pin.message,
    latency: total.summary(),
    counters: state.counters(),
    perInstrument,
    books: bookReport,
    resyncs,
    ringDrops: rings.map((r) => r.drops),
    memory: pools.describe(),
    trading,
  });
  pools.free();
}

main(workerData as EngineInit).catch((e) => postMessage({ type: "fatal", message: (e as Error).message, name: (e as Error).name }));
