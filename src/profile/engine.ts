/**
 * The engine `bot4 profile` drives: TradingCore with C books, instrument state and indicators,
 * a built-in strategy, and per venue either
 *  - "sim": a SimExchange behind a SimGateway on a virtual clock (paper trading on recorded data,
 *    as `bot4 backtest` sets it up: the simulated venue's matching and book upkeep run in the
 *    engine's thread), or
 *  - "stub": the live path — what the engine does when its venues are elsewhere. A stub venue
 *    answers every order with an ack and every cancel with `cancelled`, delivered before the next
 *    batch as a venue's answers arrive between batches; no fills, no matching in this thread.
 * Built the same way on the main thread and in the pipeline Workers, so every throughput figure
 * runs the same engine work.
 */
import { BookRule, BookSet } from "../../ffi/book.ts";
import { InstrumentState } from "../../ffi/state.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind } from "../domain/tick.ts";
import { TradingCore } from "../engine/trading.ts";
import { SimExchange } from "../exec/sim/exchange.ts";
import { SimGateway, VirtualClock } from "../exec/sim/gateway.ts";
import { BpsFeeModel, ConservativeQueue, ConstantLatency } from "../exec/sim/models.ts";
import { IndicatorSet } from "../signal/indicators.ts";
import type { InstrumentInfo, Strategy } from "../strategy/api.ts";
import type { ExecReport, Gateway, OrderRequest, VenueOrder } from "../domain/order.ts";
import { BUILTIN } from "../strategy/loader.ts";

export const MAX_BATCH = 32;

export interface EngineSpec {
  instruments: Array<{ venue: string; symbol: string; tickSize: number; lotSize: number; firstPrice: number }>;
  strategy: string;
  params?: Record<string, number>;
  seed: number;
  /** receive time of the first record (ns), where the virtual clock starts */
  firstTs: number;
  /** "sim" (default): simulated venues in this thread; "stub": the live path (see the header) */
  venues?: "sim" | "stub";
}

/** A venue elsewhere: acks and cancels answered, delivered by deliver() (between batches). */
export class StubVenue implements Gateway {
  private handler: (r: ExecReport) => void = () => {};
  private pending: ExecReport[] = [];
  private readonly open = new Map<string, OrderRequest>();
  constructor(readonly venue: string) {}
  onReport(h: (r: ExecReport) => void): void {
    this.handler = h;
  }
  submit(req: OrderRequest): void {
    this.open.set(req.clientOrderId, req);
    this.pending.push({ kind: "ack", venue: this.venue, symbol: req.symbol, clientOrderId: req.clientOrderId, side: req.side, lastAmount: 0, lastPrice: 0, filled: 0, remaining: req.amount, fee: 0, venueTimeMs: 0 });
  }
  cancel(symbol: string, clientOrderId: string): void {
    const req = this.open.get(clientOrderId);
    if (!req) return;
    this.open.delete(clientOrderId);
    this.pending.push({ kind: "cancelled", venue: this.venue, symbol, clientOrderId, side: req.side, lastAmount: 0, lastPrice: 0, filled: 0, remaining: req.amount, fee: 0, venueTimeMs: 0 });
  }
  deliver(): void {
    if (this.pending.length === 0) return;
    const p = this.pending;
    this.pending = [];
    for (const r of p) this.handler(r);
  }
  async openOrders(): Promise<VenueOrder[]> {
    return [];
  }
  async fills(): Promise<ExecReport[]> {
    return [];
  }
  async close(): Promise<void> {}
}

export interface Engine {
  core: TradingCore;
  clock: VirtualClock;
  books: BookSet;
  state: InstrumentState;
  indicators: IndicatorSet;
  strategy: Strategy;
  /** delivers the stub venues' answers (no-op with simulated venues) */
  deliver(): void;
}

export function ruleFor(venue: string): number {
  if (venue === "binance") return BookRule.binanceSpot;
  if (venue === "binanceusdm" || venue === "binancecoinm") return BookRule.binanceFutures;
  return BookRule.seq;
}

function baseQuote(symbol: string): { base: string; quote: string } {
  const [pair] = symbol.split(":");
  const [base, quote] = (pair ?? symbol).split("/");
  return { base: base ?? symbol, quote: quote ?? "USD" };
}

function decimals(x: number): number {
  for (let d = 0; d <= 10; d++) {
    const s = x * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-9 * Math.max(1, Math.abs(s))) return d;
  }
  return 10;
}

/** Tick and lot size per instrument from the decimals its prices and sizes carry, and its first trade price (cold). */
export function stepsOf(u8: Uint8Array, f64: Float64Array, u32: Uint32Array, count: number, instruments: number, scan = 200_000) {
  const pd = new Int32Array(instruments), sd = new Int32Array(instruments);
  const first = new Float64Array(instruments).fill(NaN);
  for (let i = 0; i < Math.min(count, scan); i++) {
    const inst = u32[i * TICK_U32 + T.INSTRUMENT_U32]!;
    if (inst >= instruments) continue;
    const kind = u8[i * TICK_BYTES + T.KIND_U8]!;
    if (kind !== TickKind.trade && kind !== TickKind.level && kind !== TickKind.quote) continue;
    const p = f64[i * TICK_F64 + T.PRICE_F64]!, q = f64[i * TICK_F64 + T.SIZE_F64]!;
    if (p > 0) {
      pd[inst] = Math.max(pd[inst]!, decimals(p));
      if (first[inst] !== first[inst]) first[inst] = p;
    }
    if (q > 0) sd[inst] = Math.max(sd[inst]!, decimals(q));
  }
  return Array.from({ length: instruments }, (_, i) => ({ tickSize: Number((10 ** -pd[i]!).toFixed(10)), lotSize: Number((10 ** -sd[i]!).toFixed(10)), firstPrice: first[i]! }));
}

export function buildEngine(spec: EngineSpec, strategy?: Strategy): Engine {
  const b = BUILTIN[spec.strategy];
  if (!strategy && !b) throw new RangeError(`unknown built-in strategy ${spec.strategy}`);
  const s = strategy ?? b!.make(spec.params ?? {});
  const instruments: InstrumentInfo[] = spec.instruments.map((x, id) => ({ id, venue: x.venue, symbol: x.symbol, tickSize: x.tickSize, lotSize: x.lotSize }));
  const clock = new VirtualClock(0);
  const sims = new Map<string, SimExchange>();
  const gateways = new Map<string, Gateway>();
  const stubs: StubVenue[] = [];
  const stub = spec.venues === "stub";
  const latency = new ConstantLatency(100_000, 100_000);
  const funded = new Set<string>();
  const capital = 100_000;
  for (const i of spec.instruments.map((x, id) => ({ ...x, id }))) {
    if (stub) {
      if (!gateways.has(i.venue)) {
        const v = new StubVenue(i.venue);
        stubs.push(v);
        gateways.set(i.venue, v);
      }
      continue;
    }
    let ex = sims.get(i.venue);
    if (!ex) {
      ex = new SimExchange({ venue: i.venue, fees: new BpsFeeModel(1, 4), queue: new ConservativeQueue(), seed: spec.seed });
      sims.set(i.venue, ex);
      gateways.set(i.venue, new SimGateway(ex, clock, latency));
    }
    const { base, quote } = baseQuote(i.symbol);
    ex.listSymbol({ symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize, minNotional: 0, base, quote });
    if (!funded.has(`${i.venue}:${quote}`)) ex.deposit(quote, capital);
    funded.add(`${i.venue}:${quote}`);
    if (i.firstPrice > 0 && !funded.has(`${i.venue}:${base}`)) ex.deposit(base, Number((capital / i.firstPrice).toFixed(8)));
    funded.add(`${i.venue}:${base}`);
  }
  const n = Math.max(1, instruments.length);
  const books = new BookSet(n);
  for (const i of instruments) books.add(i.id, ruleFor(i.venue));
  const state = new InstrumentState(n);
  const indicators = new IndicatorSet(n);
  const core = new TradingCore({
    instruments,
    strategy: s,
    params: spec.params,
    clock,
    gateways,
    sims: stub ? undefined : sims,
    books,
    state,
    indicators,
    risk: { collarBps: 500, staleMs: 0 },
    capital: 0,
    idPrefix: `pf${spec.seed}-`,
    sampleNs: 1e9,
  });
  clock.advanceTo(spec.firstTs);
  core.start();
  const deliver = stubs.length === 0 ? () => {} : () => {
    for (const v of stubs) v.deliver();
  };
  return { core, clock, books, state, indicators, strategy: s, deliver };
}

/** Feeds records start..start+n-1 (masked) to the engine in steps of at most MAX_BATCH. */
export function step(e: Engine, u8: Uint8Array, u32: Uint32Array, f64: Float64Array, ptr: number, mask: number, start: number, n: number): void {
  let k = 0;
  while (k < n) {
    const m = n - k < MAX_BATCH ? n - k : MAX_BATCH;
    e.deliver();
    e.core.onRecords(u8, u32, f64, ptr, mask, start + k, m, e.clock);
    k += m;
  }
}

export function firstRecv(u32: Uint32Array): number {
  return u32[T.TS_RECV_U32 + 1]! * 4294967296 + u32[T.TS_RECV_U32]!;
}
