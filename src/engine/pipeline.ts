/**
 * The first real path through the engine: replay feeds (one Worker per recorded source) ->
 * one SPSC ring per feed -> the engine thread (state + latency histograms). The orchestrator
 * (this module, on the main thread) owns the rings and the control block, starts everything
 * together, shows progress, and stops on request, at the end of the data, or after a duration.
 */
import type { PoolConfig } from "../../ffi/mem.ts";
import { SpscRing } from "../../ffi/ring.ts";
import type { InstrumentTable } from "../domain/instruments.ts";
import type { LiveFeedInit } from "../feed/live-worker.ts";
import type { TradingInit } from "./paper.ts";
import type { Tape } from "../feed/recording.ts";
import { workerEntry } from "../sys/workers.ts";
import { attachControl, type Control, createControl, F, I } from "./control.ts";

/** A live feed thread (src/feed/live-worker.ts): a venue's native handler or the ccxt adapter, real or simulated venue. */
export type LiveFeedSpec = Omit<LiveFeedInit, "feed" | "control" | "ring" | "cpus"> & {
  /** records this feed's ring must hold at least (a venue whose snapshots are larger than BOT4_RING_CAPACITY: Coinbase's level2) */
  minRingCapacity?: number;
};

/** Whether a live feed serves an instrument (its venue section lists it): the engine's resync requests go to that feed. */
function servesInstrument(l: LiveFeedSpec, instrument: number): boolean {
  const s = l.binance?.symbols ?? l.kraken?.symbols ?? l.bybit?.symbols ?? l.okx?.symbols ?? l.coinbase?.symbols ?? l.ccxt?.symbols ?? [];
  return s.some((x) => x.instrument === instrument);
}

export interface PipelineOptions {
  /** recorded tapes replayed by feed threads */
  tapes: Tape[];
  /** live feed threads (a real venue or the simulator) */
  live?: LiveFeedSpec[];
  /** live books with no update for this long are stale (ms; 0 = never) */
  staleMs?: number;
  instruments: InstrumentTable;
  ringCapacity: number;
  /** 0 = as fast as possible */
  speed: number;
  /** replay feeds: passes over each tape (default 1; 0 = until stopped) */
  loops?: number;
  /** replay feeds: fixed records per second per feed, dropping what a full ring cannot take (0 = off) */
  rate?: number;
  engineCpus: number[];
  feedCpus: number[];
  spinNs: number;
  pools: PoolConfig;
  /** stop after this many seconds (0 = at the end of the data) */
  durationS: number;
  /** called about once a second with live counters */
  onStatus?: (s: LiveStatus) => void;
  /** instruments that keep an L2 book and their venue's sequence rule (none: no books) */
  books?: Array<{ instrument: number; rule: number }>;
  /** live feeds' cold-path notices (reconnects, snapshot failures) */
  onNotice?: (n: { what: string; detail: Record<string, unknown> }) => void;
  /** paper trading in the engine thread (absent: market data only) */
  trading?: TradingInit;
  /** the engine's cold-path log lines (trading: kill-switch trips, refusals, strategy errors) */
  onLog?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface LiveFeedReport {
  feed: number;
  counters: Record<string, number>;
  parser: Record<string, number>;
  pinError: string | null;
  notices: Array<{ what: string; detail: Record<string, unknown> }>;
}

export interface LiveStatus {
  elapsedS: number;
  consumed: number;
  produced: number;
  ratePerS: number;
  p99WindowNs: number;
  waits: number;
}

export interface LatencySummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}

export interface BookReport {
  id: number;
  synced: boolean;
  bid: number;
  ask: number;
  depth: [number, number];
  snapshots: number;
  applied: number;
  gaps: number;
  crossed: number;
  resyncs: number;
  problem: string | null;
}

export interface PipelineResult {
  stoppedBy: "end of data" | "signal" | "duration";
  elapsedS: number;
  feeds: Array<{ feed: number; records: number; produced: number; waits: number; dropped: number }>;
  consumed: number;
  trades: number;
  batches: number;
  parks: number;
  throughputPerS: number;
  latencyNs: LatencySummary;
  counters: { applied: number; skipped: number; rejected: number };
  instruments: Array<{ symbol: string; trades: number; last: number; volume: number; vwap: number; high: number; low: number }>;
  books: Array<BookReport & { symbol: string }>;
  /** live feeds: handler and parser counters */
  live: LiveFeedReport[];
  enginePinned: number[] | null;
  pinError: string | null;
  memory: string;
  /** paper trading's summary (TradingCore.summary() plus shutdown and journal figures) */
  trading: Record<string, any> | null;
}

interface EngineDone {
  type: "done";
  consumed: number;
  trades: number;
  batches: number;
  parks: number;
  pinned: number[] | null;
  pinError: string | null;
  latency: LatencySummary;
  counters: { applied: number; skipped: number; rejected: number };
  perInstrument: Array<{ id: number; last: number; trades: number; volume: number; vwap: number; high: number; low: number }>;
  books: BookReport[];
  resyncs: number;
  ringDrops: number[];
  memory: string;
  trading: Record<string, any> | null;
}

/** The engine thread could not start (e.g. a strategy file that does not load). */
export class EngineStartError extends Error {
  override name = "EngineStartError";
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/**
 * `p`, or `fallback` after `ms`, whichever comes first; the timer is cleared when `p` wins, so a
 * finished run does not wait out the timeout before the process can exit.
 */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class Pipeline {
  readonly control: Control = createControl();
  private stopReason: PipelineResult["stoppedBy"] = "end of data";

  constructor(private readonly opts: PipelineOptions) {
    if (opts.tapes.length + (opts.live?.length ?? 0) === 0) throw new Error("no feed: neither recorded data nor a venue");
  }

  /**
   * Asks every thread to stop. Live feeds stop producing first; once they are done (or after
   * two seconds) the engine is told too, and it drains what is already in the rings.
   */
  stop(reason: PipelineResult["stoppedBy"] = "signal"): void {
    const i32 = this.control.i32;
    if (Atomics.load(i32, I.STOP) === 1) return;
    const live = this.opts.live?.length ?? 0;
    if (live > 0) {
      if (Atomics.load(i32, I.FEEDS_STOP) === 1) return;
      this.stopReason = reason;
      Atomics.store(i32, I.FEEDS_STOP, 1);
      const first = this.opts.tapes.length, t0 = performance.now();
      const poll = setInterval(() => {
        let done = true;
        for (let f = first; f < first + live; f++) if (Atomics.load(i32, I.FEED_DONE + f) !== 1) done = false;
        if (done || performance.now() - t0 > 2000) {
          clearInterval(poll);
          this.stopNow();
        }
      }, 10);
      return;
    }
    this.stopReason = reason;
    this.stopNow();
  }

  private stopNow(): void {
    const i32 = this.control.i32;
    if (Atomics.load(i32, I.STOP) === 1) return;
    Atomics.store(i32, I.STOP, 1);
    for (const slot of [I.STOP, I.START, I.WAKE]) Atomics.notify(i32, slot);
    Atomics.add(i32, I.WAKE, 1);
    Atomics.notify(i32, I.WAKE);
  }

  async run(): Promise<PipelineResult> {
    const o = this.opts;
    const ctl = this.control;
    const live = o.live ?? [];
    const rings = [...o.tapes.map(() => o.ringCapacity), ...live.map((l) => Math.max(o.ringCapacity, l.minRingCapacity ?? 0))].map((n) => SpscRing.create(n));
    let fail!: (e: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => {}); // observed through the race below
    const spawn = (rel: string, data: unknown) => {
      const w = new Worker(workerEntry(rel), { workerData: data } as WorkerOptions);
      w.addEventListener("error", (e) => {
        this.stop("signal");
        fail(new Error(`${rel} failed: ${(e as ErrorEvent).message}`));
      });
      return w;
    };
    const engine = spawn("engine/engine-worker.ts", {
      control: ctl.sab,
      rings: rings.map((r) => r.handle),
      instruments: o.instruments.size,
      cpus: o.engineCpus,
      spinNs: o.spinNs,
      pools: o.pools,
      books: o.books ?? [],
      staleNs: (o.staleMs ?? 0) * 1e6,
      trading: o.trading,
    });
    let engineReady!: () => void;
    const ready = new Promise<void>((resolve) => (engineReady = resolve));
    const liveWorkers: Worker[] = [];
    const engineDone = new Promise<EngineDone>((resolve) =>
      engine.addEventListener("message", (e) => {
        const d = (e as MessageEvent).data as EngineDone | { type: "ready" } | { type: "resync"; instrument: number } | { type: "log"; msg: string; fields?: Record<string, unknown> } | { type: "fatal"; message: string; name: string };
        if (d.type === "ready") engineReady();
        else if (d.type === "log") o.onLog?.(d.msg, d.fields);
        else if (d.type === "fatal") {
          this.stop("signal");
          fail(d.name === "StrategyError" || d.name === "ConfigError" ? Object.assign(new Error(d.message), { name: d.name }) : new EngineStartError(`engine thread: ${d.message}`, 1));
        }
        else if (d.type === "resync") {
          // the book's venue feed fetches the snapshot (replays have nobody to ask)
          live.forEach((l, k) => {
            if (servesInstrument(l, d.instrument)) liveWorkers[k]?.postMessage(d);
          });
        } else resolve(d);
      }),
    );
    const feeds = o.tapes.map((tape, f) =>
      spawn("feed/replay-worker.ts", {
        feed: f,
        control: ctl.sab,
        ring: rings[f]!.handle,
        tape: { buffer: tape.mem.buffer, byteOffset: tape.mem.byteOffset, count: tape.count },
        recordedRecvNs: tape.recordedRecvNs,
        speed: o.speed,
        loops: o.loops ?? 1,
        rate: o.rate ?? 0,
        cpus: o.feedCpus,
      }),
    );
    live.forEach((l, k) => {
      const f = o.tapes.length + k;
      const { minRingCapacity: _, ...init } = l;
      liveWorkers.push(spawn("feed/live-worker.ts", { ...init, feed: f, control: ctl.sab, ring: rings[f]!.handle, cpus: o.feedCpus } satisfies LiveFeedInit));
    });
    const liveDone = liveWorkers.map(
      (w) =>
        new Promise<LiveFeedReport>((resolve) =>
          w.addEventListener("message", (e) => {
            const d = (e as MessageEvent).data as ({ type: "done" } & LiveFeedReport) | { type: "notice"; what: string; detail: Record<string, unknown> };
            if (d.type === "notice") o.onNotice?.({ what: d.what, detail: d.detail });
            else if (d.type === "done") resolve(d);
          }),
        ),
    );
    const feedsDone = feeds.map((w) => new Promise<void>((resolve) => w.addEventListener("message", () => resolve())));

    // the feeds start only when the engine polls: records never wait for a thread still loading
    // on failure the rings are left mapped: a terminating worker may still touch them
    const cleanup = (free = true) => {
      for (const w of [...feeds, ...liveWorkers, engine]) w.terminate();
      if (free) for (const r of rings) r.free();
    };
    try {
      await Promise.race([ready, failed]);
    } catch (e) {
      cleanup(false);
      throw e;
    }
    const t0 = performance.now();
    Atomics.store(ctl.i32, I.START, 1);
    Atomics.notify(ctl.i32, I.START);
    let lastConsumed = 0;
    let lastT = t0;
    const timer = setInterval(() => {
      const t = performance.now();
      if (o.durationS > 0 && t - t0 >= o.durationS * 1000) this.stop("duration");
      const consumed = ctl.f64[F.CONSUMED]!;
      let produced = 0, waits = 0;
      for (let f = 0; f < rings.length; f++) {
        produced += ctl.f64[F.FEED_PRODUCED + f]!;
        waits += ctl.f64[F.FEED_WAITS + f]!;
      }
      o.onStatus?.({ elapsedS: (t - t0) / 1000, consumed, produced, ratePerS: ((consumed - lastConsumed) * 1000) / (t - lastT), p99WindowNs: ctl.f64[F.LAT_LAST_P99]!, waits });
      lastConsumed = consumed;
      lastT = t;
    }, 1000);
    let done: EngineDone;
    try {
      done = await Promise.race([engineDone, failed]).finally(() => clearInterval(timer));
    } catch (e) {
      cleanup(false);
      throw e;
    }
    const elapsedS = (performance.now() - t0) / 1000;
    this.stopNow();
    await within(Promise.all(feedsDone), 2000, undefined);
    const liveReports = await within(Promise.all(liveDone), 3000, [] as LiveFeedReport[]);
    cleanup();
    return {
      stoppedBy: this.stopReason,
      elapsedS,
      feeds: [
        ...o.tapes.map((t, f) => ({ feed: f, records: t.count, produced: ctl.f64[F.FEED_PRODUCED + f]!, waits: ctl.f64[F.FEED_WAITS + f]!, dropped: Math.max(done.ringDrops[f] ?? 0, ctl.f64[F.FEED_DROPPED + f]!) })),
        ...live.map((_, k) => {
          const f = o.tapes.length + k;
          return { feed: f, records: ctl.f64[F.FEED_PRODUCED + f]!, produced: ctl.f64[F.FEED_PRODUCED + f]!, waits: 0, dropped: done.ringDrops[f] ?? 0 };
        }),
      ],
      live: liveReports,
      consumed: done.consumed,
      trades: done.trades,
      batches: done.batches,
      parks: done.parks,
      throughputPerS: done.consumed / elapsedS,
      latencyNs: done.latency,
      counters: done.counters,
      instruments: done.perInstrument.map((p) => ({ symbol: o.instruments.label(p.id), trades: p.trades, last: p.last, volume: p.volume, vwap: p.vwap, high: p.high, low: p.low })),
      books: done.books.map((b) => ({ symbol: o.instruments.label(b.id), ...b })),
      enginePinned: done.pinned,
      pinError: done.pinError,
      memory: done.memory,
      trading: done.trading,
    };
  }
}

export { attachControl };
