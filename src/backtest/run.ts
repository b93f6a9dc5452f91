/**
 * `bot4 backtest`: recorded ticks through the very engine step that trades live (TradingCore:
 * books, state and indicators in C, the strategy, pre-trade risk), with each venue replaced by a
 * SimExchange behind a SimGateway on a virtual clock. Order entry and report latencies are
 * modelled (constant, or the empirical distribution given); resting orders keep their queue
 * position. Nothing reads the wall clock except the latency histograms of the engine's own work,
 * so a seed and the same data give the same orders, fills and results.
 *
 * Venue tick and lot sizes are not in tick files: each instrument's are inferred from the
 * decimals its prices and sizes are quoted with (stated in the results).
 */
import { BookSet, BookRule } from "../../ffi/book.ts";
import { InstrumentState } from "../../ffi/state.ts";
import { baseQuote, Venue, venueName } from "../domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind } from "../domain/tick.ts";
import { TradingCore } from "../engine/trading.ts";
import { SimExchange } from "../exec/sim/exchange.ts";
import { SimGateway, VirtualClock } from "../exec/sim/gateway.ts";
import { BpsFeeModel, ConservativeQueue, ConstantLatency, EmpiricalLatency, ProbQueue, Rng } from "../exec/sim/models.ts";
import type { RiskConfigInput } from "../risk/pretrade.ts";
import { IndicatorSet } from "../signal/indicators.ts";
import type { InstrumentInfo, Strategy } from "../strategy/api.ts";
import { maxDrawdown, resample, returns, sharpe, sortino } from "./stats.ts";

export interface RecordSource {
  u8: Uint8Array;
  u32: Uint32Array;
  f64: Float64Array;
  /** address of record 0 for C */
  ptr: number;
  count: number;
  /** instrument id -> venue name and symbol */
  instruments: Array<{ venue: string; symbol: string }>;
}

export interface BacktestOptions {
  source: RecordSource;
  strategy: Strategy;
  params?: Record<string, number>;
  seed?: number;
  /** one-way order entry and report latency (ns) */
  entryLatencyNs?: number;
  responseLatencyNs?: number;
  /** measured latency distributions (ns samples), drawn with the run's seed; replaces the constants */
  latencySamples?: { entryNs: ArrayLike<number>; responseNs: ArrayLike<number>; feedNs?: ArrayLike<number> };
  makerBps?: number;
  takerBps?: number;
  /** quote capital per venue, and the base inventory each instrument starts with (in quote value) */
  capital?: number;
  queue?: "conservative" | "probabilistic";
  risk?: RiskConfigInput;
  /** records per engine step, and the most engine time one step may span (ns) */
  maxBatch?: number;
  maxBatchSpanNs?: number;
  progress?: (done: number, total: number) => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

function decimalsOf(x: number): number {
  for (let d = 0; d <= 10; d++) {
    const s = x * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-6 * Math.max(1, Math.abs(s)) * 1e-3) return d;
  }
  return 10;
}

/** Per instrument: the most decimals seen in prices and sizes over the first records, and the first price. */
export function inferSteps(src: RecordSource, scan = 200_000): Array<{ tickSize: number; lotSize: number; firstPrice: number }> {
  const n = src.instruments.length;
  const pd = new Int32Array(n), sd = new Int32Array(n);
  const first = new Float64Array(n).fill(NaN);
  const lim = Math.min(src.count, scan);
  for (let i = 0; i < lim; i++) {
    const inst = src.u32[i * TICK_U32 + T.INSTRUMENT_U32]!;
    if (inst >= n) continue;
    const kind = src.u8[i * TICK_BYTES + T.KIND_U8]!;
    if (kind !== TickKind.trade && kind !== TickKind.level) continue;
    const p = src.f64[i * TICK_F64 + T.PRICE_F64]!, q = src.f64[i * TICK_F64 + T.SIZE_F64]!;
    if (p > 0) {
      pd[inst] = Math.max(pd[inst]!, decimalsOf(p));
      if (first[inst] !== first[inst] && kind === TickKind.trade) first[inst] = p;
    }
    if (q > 0) sd[inst] = Math.max(sd[inst]!, decimalsOf(q));
  }
  return Array.from({ length: n }, (_, i) => ({ tickSize: Number((10 ** -pd[i]!).toFixed(10)), lotSize: Number((10 ** -sd[i]!).toFixed(10)), firstPrice: first[i]! }));
}

function ruleFor(venue: string): number {
  if (venue === "binance") return BookRule.binanceSpot;
  if (venue === "binanceusdm" || venue === "binancecoinm") return BookRule.binanceFutures;
  return BookRule.seq;
}

export async function runBacktest(o: BacktestOptions) {
  const src = o.source;
  const seed = o.seed ?? 1;
  const steps = inferSteps(src);
  const instruments: InstrumentInfo[] = src.instruments.map((x, id) => ({ id, venue: x.venue, symbol: x.symbol, tickSize: steps[id]!.tickSize, lotSize: steps[id]!.lotSize }));
  const clock = new VirtualClock(0);
  const capital = o.capital ?? 100_000;
  const sims = new Map<string, SimExchange>();
  const gateways = new Map<string, SimGateway>();
  const ls = o.latencySamples;
  const latency = ls ? new EmpiricalLatency(ls.entryNs, ls.responseNs, new Rng(seed), ls.feedNs) : new ConstantLatency(o.entryLatencyNs ?? 100_000, o.responseLatencyNs ?? 100_000);
  const funded = new Set<string>();
  for (const i of instruments) {
    let ex = sims.get(i.venue);
    if (!ex) {
      ex = new SimExchange({ venue: i.venue, fees: new BpsFeeModel(o.makerBps ?? 1, o.takerBps ?? 4), queue: o.queue === "probabilistic" ? new ProbQueue() : new ConservativeQueue(), seed });
      sims.set(i.venue, ex);
      gateways.set(i.venue, new SimGateway(ex, clock, latency));
    }
    const { base, quote } = baseQuote(i.symbol);
    ex.listSymbol({ symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize, minNotional: 0, base, quote });
    if (!funded.has(`${i.venue}:${quote}`)) ex.deposit(quote, capital);
    funded.add(`${i.venue}:${quote}`);
    // spot-style venue model: selling needs base, so each instrument starts with base worth the capital
    const px = steps[i.id]!.firstPrice;
    if (px > 0 && !funded.has(`${i.venue}:${base}`)) ex.deposit(base, Number((capital / px).toFixed(8)));
    funded.add(`${i.venue}:${base}`);
  }
  const books = new BookSet(Math.max(1, instruments.length));
  for (const i of instruments) books.add(i.id, ruleFor(i.venue));
  const state = new InstrumentState(Math.max(1, instruments.length));
  const indicators = new IndicatorSet(Math.max(1, instruments.length));
  const core = new TradingCore({
    instruments,
    strategy: o.strategy,
    params: o.params,
    clock,
    gateways,
    sims,
    books,
    state,
    indicators,
    risk: o.risk ?? { collarBps: 500, staleMs: 0 },
    capital: 0,
    idPrefix: `bt${seed}-`,
    log: o.log,
    sampleNs: 1e9,
  });
  const firstTs = src.count ? src.u32[T.TS_RECV_U32 + 1]! * 4294967296 + src.u32[T.TS_RECV_U32]! : 0;
  clock.advanceTo(firstTs);
  core.start();
  const maxBatch = o.maxBatch ?? 256;
  const span = o.maxBatchSpanNs ?? 1e6;
  const wall0 = performance.now();
  const u32 = src.u32;
  let i = 0;
  let lastProgress = 0;
  while (i < src.count) {
    // a step: up to maxBatch records within `span` of engine time
    const t0 = u32[i * TICK_U32 + T.TS_RECV_U32 + 1]! * 4294967296 + u32[i * TICK_U32 + T.TS_RECV_U32]!;
    let n = 1;
    while (n < maxBatch && i + n < src.count) {
      const w = (i + n) * TICK_U32 + T.TS_RECV_U32;
      if (u32[w + 1]! * 4294967296 + u32[w]! - t0 > span) break;
      n++;
    }
    core.onRecords(src.u8, src.u32, src.f64, src.ptr, 0xffffffff, i, n, clock);
    i += n;
    if (o.progress && i - lastProgress >= 65536) {
      lastProgress = i;
      o.progress(i, src.count);
    }
  }
  core.stop();
  clock.drain();
  const wallS = (performance.now() - wall0) / 1000;
  o.progress?.(src.count, src.count);
  return { core, summary: core.summary(), wallS, instruments, sims, books, seed, capital };
}

export type BacktestRun = Awaited<ReturnType<typeof runBacktest>>;

/** The results document (JSON): deterministic figures first, the run's own timings apart. */
export function backtestResults(r: BacktestRun, meta: Record<string, unknown>) {
  const s = r.summary;
  const pts = r.core.curve.t.map((t, k) => ({ tNs: t, equity: r.capital + r.core.curve.equity[k]! }));
  const eq = resample(pts, 60);
  const rets = returns(eq);
  const dd = maxDrawdown(pts);
  const ordered = s.perVenue.reduce((a, v) => a + v.orderedAmount, 0);
  const filled = s.perVenue.reduce((a, v) => a + v.filledAmount, 0);
  const fees = s.perVenue.reduce((a, v) => a + v.fees, 0);
  const turnover = s.perVenue.reduce((a, v) => a + v.turnover, 0);
  return {
    ...meta,
    seed: r.seed,
    records: s.counters.records,
    pnl: s.pnl,
    fees,
    turnover,
    sharpe: sharpe(rets, 60),
    sortino: sortino(rets, 60),
    maxDrawdown: dd.abs,
    maxDrawdownFrac: dd.frac,
    fillRatio: ordered > 0 ? filled / ordered : 0,
    orders: s.perVenue.reduce((a, v) => a + v.orders, 0),
    fills: s.perVenue.reduce((a, v) => a + v.fills, 0),
    perVenue: s.perVenue,
    perInstrument: s.perInstrument,
    instrumentSteps: r.instruments.map((i) => ({ venue: i.venue, symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize, inferred: true })),
    riskRejects: s.riskRejects,
    killSwitch: s.killSwitch,
    strategyError: s.strategyError,
    openOrdersAtEnd: s.openOrders,
    run: { wallS: r.wallS, recordsPerS: s.counters.records / Math.max(1e-9, r.wallS), latencyNs: s.latency },
  };
}

export { Venue, venueName };
