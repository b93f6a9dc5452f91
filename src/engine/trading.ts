/**
 * TradingCore: one engine step over a batch of tick records, the same code for backtests (virtual
 * clock, records from tick files) and paper/live trading (the engine thread, records from rings).
 *
 * Per batch, in this order:
 *   1. books (C, one call), instrument state (C, one call), indicators (C, one call);
 *   2. the risk market view (reference price, book usable, last update) for instruments with books;
 *   3. simulated venues (paper/backtest) see every record at its time: the clock is advanced to
 *      each record's receive stamp first, so acks and fills due earlier happen before it;
 *   4. strategy dispatch: onTrade per trade record, onBook per touched book, timers.
 * Orders: ctx.submit -> pre-trade risk (reason code on refusal, counted) -> the instrument's
 * venue gateway; inside a strategy step the step's submits and cancels are queued and handed over,
 * in order, when its handlers return (each gateway held meanwhile, so it can write them together).
 * Reports flow back through `onReport`: order state, positions and PnL, strategy handlers. Every
 * stage's wall time is recorded into latency histograms.
 *
 * Known simplification: the strategy sees a batch's books as of its end (batches are bounded to
 * `maxBatch` records, 256 by default; in a backtest the driver also bounds them in time).
 */
import { LatencyHistogram } from "../../ffi/hist.ts";
import { now as wallNow } from "../../ffi/clock.ts";
import type { BookSet } from "../../ffi/book.ts";
import type { InstrumentState } from "../../ffi/state.ts";
import type { ExecReport, Gateway, OrderRequest, TimeInForce } from "../domain/order.ts";
import { TERMINAL } from "../domain/order.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../domain/tick.ts";
import type { SimExchange, SymbolRef } from "../exec/sim/exchange.ts";
import type { Clock } from "../exec/sim/gateway.ts";
import { PositionBook } from "../exec/positions.ts";
import { KillMonitor, KillSwitch, marketView, PreTradeRisk, REJECT_NAMES, REJECT_TEXT, RiskLimits, type KillTriggers, type RiskConfigInput } from "../risk/pretrade.ts";
import type { IndicatorSet } from "../signal/indicators.ts";
import { StrategyDispatcher } from "../strategy/dispatch.ts";
import type { IndicatorView, InstrumentInfo, OrderEvent, SideCode, Strategy, StrategyContext } from "../strategy/api.ts";
import { OrderTable } from "./order-table.ts";
import { S, STAGES, type TradingStatus } from "./status.ts";

const TWO32 = 4294967296;
const done0 = (r: ExecReport) => r.kind === "rejected" || r.kind === "cancelled" || r.kind === "expired" || (r.kind === "fill" && r.remaining <= 1e-12);
const NaNIndicators: IndicatorView = {
  sma: () => NaN, ema: () => NaN, bbUpper: () => NaN, bbMiddle: () => NaN, bbLower: () => NaN, rsi: () => NaN,
  macd: () => NaN, macdSignal: () => NaN, macdHist: () => NaN, atr: () => NaN, zscore: () => NaN,
};

export interface CoreOptions {
  instruments: InstrumentInfo[];
  strategy: Strategy;
  params?: Record<string, number>;
  clock: Clock;
  /** gateway per venue name */
  gateways: Map<string, Gateway>;
  /** simulated venues fed from the records (paper and backtest), by venue name */
  sims?: Map<string, SimExchange>;
  books?: BookSet;
  state?: InstrumentState;
  indicators?: IndicatorSet;
  risk?: RiskConfigInput;
  /** shared limits from another thread (the engine's), instead of `risk` */
  limits?: RiskLimits;
  /** equity curve sampling period in engine time (ns) */
  sampleNs?: number;
  /** starting equity in quote currency (equity = capital + PnL) */
  capital?: number;
  /** cold-path log of the strategy and the core */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** ids: `<prefix><counter>`; prefix unique per run (a backtest passes a seeded one) */
  idPrefix?: string;
  /** automatic kill-switch triggers evaluated by maintenance() (live and paper; a backtest leaves them off) */
  killTriggers?: Partial<KillTriggers>;
}

export interface VenueStats {
  venue: string;
  orders: number;
  rejectedByRisk: number;
  rejectedByVenue: number;
  fills: number;
  filledAmount: number;
  orderedAmount: number;
  fees: number;
  turnover: number;
}

export class TradingCore implements StrategyContext {
  readonly instruments: readonly InstrumentInfo[];
  readonly positions: PositionBook;
  readonly limits: RiskLimits;
  readonly kill: KillSwitch;
  readonly risk: PreTradeRisk;
  readonly market = marketView(0);
  readonly indicators: IndicatorView;
  /**
   * Stage latencies (wall clock ns): batch = books, state, indicators and the market view of one
   * batch (the engine's own work before the strategy); strategy = its handlers for the batch;
   * risk = one pre-trade check; submit = order built and handed to the gateway (journal included);
   * tickToDecision = batch start to an order decided (risk passed, order built, queued for its
   * gateway: the step's requests go out after its handlers return), less venueSim. Orders placed
   * outside a strategy step (a handler answering a report) go at once and are not tick-driven:
   * no tickToDecision sample.
   */
  readonly hist = {
    batch: LatencyHistogram.create(),
    strategy: LatencyHistogram.create(),
    risk: LatencyHistogram.create(),
    submit: LatencyHistogram.create(),
    tickToDecision: LatencyHistogram.create(),
    /** the simulated venues' share of each batch (paper and backtest only) */
    venueSim: LatencyHistogram.create(),
  };
  /** wall time the simulated venues took in the current batch */
  private simWall = 0;
  /** tick-to-decision of the current status window (reset by publish) */
  private readonly ttdWindow = LatencyHistogram.create();
  private readonly monitor: KillMonitor | null;
  private readonly stageOut = new Float64Array(12);
  /** venue rejects already shown to the kill switch's error-rate trigger */
  private errorsSeen = 0;
  lastReject = 0;
  /** engine time of the record being processed (ns) */
  private t = 0;
  private readonly dispatcher: StrategyDispatcher;
  private readonly s: Strategy;
  private readonly clock: Clock;
  private readonly gw: Gateway[];
  private readonly sim: Array<SimExchange | undefined>;
  /** each instrument's symbol in its simulated venue (looked up once, not per record) */
  private readonly simRef: Array<SymbolRef | undefined>;
  private readonly anySim: boolean;
  private readonly venueIdx: Int32Array;
  private readonly venueNames: string[];
  /** this engine's orders: slots by id, live ones per instrument (own-best, cancel-all and limits scan them) */
  private readonly orders: OrderTable;
  /** live orders per instrument (the order table's own counts) */
  private readonly openPerInst: Int32Array;
  /** 1 / lot and 1 / tick per instrument when they are integers (0: the general path) */
  private readonly lotInv: Float64Array;
  private readonly tickInv: Float64Array;
  private readonly params: Record<string, number>;
  private readonly stats: VenueStats[];
  private readonly idPrefix: string;
  private timerPeriod = 0;
  private nextTimer = Infinity;
  private readonly sampleNs: number;
  private nextSample = 0;
  private readonly capital: number;
  /** equity curve and positions, sampled in engine time */
  readonly curve = { t: [] as number[], equity: [] as number[], positions: [] as number[][] };
  private readonly logFn: (msg: string, fields?: Record<string, unknown>) => void;
  private batchStartWall = 0;
  /**
   * Outbox of the strategy step running now: what its handlers submit and cancel is decided at
   * once (risk, order table, tick-to-decision stamped) and handed to the gateways after the
   * handlers return, each gateway held meanwhile (hold / flush) so it can write a step's requests
   * together: a quote update's two cancels and two orders leave in one socket write instead of
   * four, and no socket write sits between the tick and a later decision of the same step.
   */
  private deferring = false;
  private outN = 0;
  private outKind = new Uint8Array(16); // 1 submit, 2 cancel
  private outVenue = new Int32Array(16);
  private outReq: Array<OrderRequest | null> = new Array<OrderRequest | null>(16).fill(null);
  private outSym: string[] = new Array<string>(16).fill("");
  private outId: string[] = new Array<string>(16).fill("");
  /** ns spent building each queued order (its share of the submit histogram before the gateway's) */
  private outBuild = new Float64Array(16);
  private readonly held: Uint8Array;
  private readonly snapshotSeen: Uint8Array;
  private stopped = false;
  /** a strategy handler threw: the strategy is stopped and its orders cancelled */
  strategyError: Error | null = null;
  counters = { records: 0, batches: 0, reports: 0, unknownReports: 0, venueRejects: 0 };

  constructor(private readonly o: CoreOptions) {
    const n = o.instruments.length;
    this.instruments = o.instruments;
    this.s = o.strategy;
    this.clock = o.clock;
    this.params = o.params ?? {};
    // an instrument id already names one venue's market: one position slot per instrument
    this.positions = new PositionBook(Math.max(1, n));
    this.venueNames = [...new Set(o.instruments.map((i) => i.venue))];
    this.venueIdx = Int32Array.from(o.instruments.map((i) => this.venueNames.indexOf(i.venue)));
    this.limits = o.limits ?? RiskLimits.create(Math.max(1, n), o.risk ?? {}, Math.max(1, this.venueNames.length));
    this.kill = new KillSwitch(this.limits);
    (this as { market: ReturnType<typeof marketView> }).market = marketView(n);
    this.risk = new PreTradeRisk({ limits: this.limits, market: this.market, positions: this.positions, kill: this.kill });
    this.indicators = o.indicators ?? NaNIndicators;
    this.gw = this.venueNames.map((v) => {
      const g = o.gateways.get(v);
      if (!g) throw new RangeError(`no gateway for venue ${v}: every venue with instruments needs one`);
      return g;
    });
    this.sim = o.instruments.map((i) => o.sims?.get(i.venue));
    this.simRef = o.instruments.map((i, k) => this.sim[k]?.symbolRef(i.symbol));
    this.anySim = this.sim.some((x) => x !== undefined);
    const inv = (step: number) => {
      const k = Math.round(1 / step);
      return step > 0 && k > 0 && Math.abs(k * step - 1) < 1e-12 ? k : 0;
    };
    this.lotInv = Float64Array.from({ length: Math.max(1, n) }, (_, i) => inv(o.instruments[i]?.lotSize ?? 0));
    this.tickInv = Float64Array.from({ length: Math.max(1, n) }, (_, i) => inv(o.instruments[i]?.tickSize ?? 0));
    this.snapshotSeen = new Uint8Array(Math.max(1, n));
    this.held = new Uint8Array(Math.max(1, this.venueNames.length));
    this.stats = this.venueNames.map((venue) => ({ venue, orders: 0, rejectedByRisk: 0, rejectedByVenue: 0, fills: 0, filledAmount: 0, orderedAmount: 0, fees: 0, turnover: 0 }));
    this.sampleNs = o.sampleNs ?? 1e9;
    this.capital = o.capital ?? 0;
    this.idPrefix = o.idPrefix ?? `b4${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}-`;
    this.orders = new OrderTable(n, this.idPrefix);
    this.openPerInst = this.orders.liveN;
    this.logFn = o.log ?? (() => {});
    this.dispatcher = new StrategyDispatcher(this.guarded(o.strategy), n);
    for (const g of this.gw) g.onReport((r) => this.onReport(r));
    this.monitor = o.killTriggers ? new KillMonitor(this.kill, o.killTriggers, Math.max(1, n)) : null;
    this.kill.onTrip((reason, detail) => {
      this.log("kill switch tripped: cancelling every open order", { reason, detail });
      this.cancelAll();
    });
  }

  /** Wraps the strategy so that a throwing handler stops it instead of unwinding the engine. */
  private guarded(s: Strategy): Strategy {
    const self = this;
    const g: Strategy = {};
    for (const k of ["onTrade", "onBook"] as const) {
      const f = s[k] as ((...a: number[]) => void) | undefined;
      if (!f) continue;
      (g as Record<string, unknown>)[k] = function (a: number, b: number, c: number, d: number, e: number) {
        if (self.strategyError) return;
        try {
          f.call(s, a, b, c, d, e);
        } catch (err) {
          self.fail(err as Error, k);
        }
      };
    }
    return g;
  }

  private fail(err: Error, where: string): void {
    if (this.strategyError) return;
    this.strategyError = err;
    this.log(`strategy ${this.s.name ?? "?"} threw in ${where}: stopped, its orders cancelled`, { error: err.message });
    this.cancelAll();
  }

  start(): void {
    this.s.onStart?.(this);
  }

  /**
   * One batch of records (slots start..start+n-1 masked) seen through views whose element 0 is
   * slot 0's first byte; `ptr` is that address for C. Returns how many books asked for a resync
   * in this batch (the caller's feed fetches the snapshots).
   */
  onRecords(u8: Uint8Array, u32: Uint32Array, f64: Float64Array, ptr: number, mask: number, start: number, n: number, virtual?: { advanceTo(t: number): void }): number {
    const w0 = wallNow();
    this.batchStartWall = w0;
    const asked = this.o.books ? this.o.books.apply(ptr, mask, start, n) : 0;
    if (this.o.state) this.o.state.apply(ptr, mask, start, n);
    if (this.o.indicators) this.o.indicators.apply(ptr, mask, start, n);
    const latest = this.refreshMarket(u8, u32, mask, start, n);
    // simulated venues see each record at its time; due order events run before it. Their work
    // is the venue's, not the engine's: it is timed apart and left out of tick-to-decision.
    const ws = wallNow();
    if (!this.anySim) {
      // no simulated venue: only engine time moves, to the batch's latest receive stamp (one
      // clock advance per batch; the records are not walked again)
      if (latest > this.t) this.t = latest;
      if (virtual) virtual.advanceTo(this.t);
    } else for (let k = 0; k < n; k++) {
      const slot = (start + k) & mask;
      const w = slot * TICK_U32 + T.TS_RECV_U32;
      const ts = u32[w + 1]! * TWO32 + u32[w]!;
      if (virtual) virtual.advanceTo(ts > this.t ? ts : this.t);
      if (ts > this.t) this.t = ts;
      const inst = u32[slot * TICK_U32 + T.INSTRUMENT_U32]!;
      const ex = this.sim[inst];
      if (ex === undefined) continue;
      const kind = u8[slot * TICK_BYTES + T.KIND_U8]!;
      const flags = u8[slot * TICK_BYTES + T.FLAGS_U8]!;
      const r = slot * TICK_F64;
      const ref = this.simRef[inst] ?? this.lookupSim(inst);
      if (kind === TickKind.level) {
        if (flags & TickFlag.nolevel) continue;
        if (flags & TickFlag.snapshot && this.snapshotSeen[inst] === 2) this.clearSimBook(ex, this.instruments[inst]!.symbol);
        this.snapshotSeen[inst] = flags & TickFlag.snapshot ? (flags & TickFlag.last ? 2 : 1) : 2;
        ex.bookLevelOf(ref, (flags & TickFlag.ask) === 0, f64[r + T.PRICE_F64]!, f64[r + T.SIZE_F64]!, ts);
      } else if (kind === TickKind.trade) {
        ex.tradeOf(ref, f64[r + T.PRICE_F64]!, f64[r + T.SIZE_F64]!, (flags & TickFlag.sell) !== 0, ts);
      }
    }
    const w1 = wallNow();
    this.simWall = w1 - ws;
    this.hist.venueSim.record(this.simWall);
    this.hist.batch.record(w1 - w0 - this.simWall);
    if (!this.strategyError && !this.stopped) {
      this.deferring = true;
      let w2 = 0;
      try {
        this.dispatcher.dispatch(u8, u32, f64, mask, start, n);
        if (this.t >= this.nextTimer) this.fireTimer();
      } finally {
        this.deferring = false;
        w2 = wallNow();
        if (this.outN > 0) this.flushOutbox();
      }
      this.hist.strategy.record(w2 - w1);
    }
    if (this.t >= this.nextSample) this.sample();
    this.counters.records += n;
    this.counters.batches++;
    return asked;
  }

  /**
   * Cold path, a few times a second (the engine's maintenance): acts on a kill-switch trip from
   * another thread (signal, CLI), evaluates the automatic triggers (stale data, book desync,
   * venue error rate, loss and drawdown), and logs the pre-trade rejections since the last call.
   * `nowNs` is the engine clock, the domain of the records' receive stamps.
   */
  maintenance(nowNs: number): void {
    this.kill.poll();
    const m = this.monitor;
    if (m && !this.kill.tripped) {
      m.market(this.market, this.openPerInst, nowNs);
      const errs = this.counters.venueRejects;
      for (; this.errorsSeen < errs; this.errorsSeen++) if (m.error(nowNs)) break;
      this.errorsSeen = errs;
      m.pnl(nowNs);
    }
    this.risk.drainRejects((msg, fields) => this.logFn(msg, fields as unknown as Record<string, unknown>));
  }

  /** Publishes positions, PnL, order counts and stage latencies into the shared status block (cold path). */
  publish(st: TradingStatus, nowNs: number): void {
    const f = st.f64;
    let orders = 0, fills = 0, riskRejects = 0, venueRejects = 0, fees = 0, turnover = 0;
    for (const v of this.stats) {
      orders += v.orders;
      fills += v.fills;
      riskRejects += v.rejectedByRisk;
      venueRejects += v.rejectedByVenue;
      fees += v.fees;
      turnover += v.turnover;
    }
    let open = 0;
    for (let i = 0; i < this.instruments.length; i++) open += this.openPerInst[i]!;
    const marks = this.market.refPrice;
    f[S.PNL] = this.positions.totalPnl(marks);
    f[S.ORDERS] = orders;
    f[S.FILLS] = fills;
    f[S.OPEN] = open;
    f[S.RISK_REJECTS] = riskRejects;
    f[S.VENUE_REJECTS] = venueRejects;
    f[S.FEES] = fees;
    f[S.TURNOVER] = turnover;
    f[S.KILL] = this.kill.tripped ? 1 : 0;
    f[S.STRATEGY_ERROR] = this.strategyError ? 1 : 0;
    f[S.TTD_P99_WINDOW] = this.ttdWindow.count > 0 ? this.ttdWindow.percentile(0.99) : 0;
    f[S.DECISIONS] = this.hist.tickToDecision.count;
    this.ttdWindow.reset();
    const out = this.stageOut;
    for (let k = 0; k < STAGES.length; k++) {
      const h = this.hist[STAGES[k]!];
      h.summaryInto(out); // count, min, max, mean, p50, p90, p95, p99, p999, ...
      st.setStage(k, out[0]!, out[4]!, out[5]!, out[7]!, out[8]!, out[0]! * out[3]!);
    }
    for (let i = 0; i < this.instruments.length; i++) {
      st.setInst(i, 0, this.positions.amount[i]!);
      st.setInst(i, 1, this.positions.avgPrice[i]!);
      st.setInst(i, 2, this.positions.realised[i]!);
      st.setInst(i, 3, this.positions.unrealised(i, marks[i]!));
      st.setInst(i, 4, marks[i]!);
      st.setInst(i, 5, this.market.usable[i]!);
      st.setInst(i, 6, this.openPerInst[i]!);
      st.setInst(i, 7, this.positions.fills[i]!);
    }
    f[S.PUBLISHED] = nowNs;
  }

  /** a symbol listed on its simulated venue after this engine was made (cold: once it is found) */
  private lookupSim(inst: number): SymbolRef | undefined {
    return (this.simRef[inst] = this.sim[inst]?.symbolRef(this.instruments[inst]!.symbol));
  }

  /** a new snapshot replaces the simulated venue's book (cold path) */
  private clearSimBook(ex: SimExchange, sym: string): void {
    for (const side of ["buy", "sell"] as const) for (const [p] of ex.levels(sym, side)) ex.onBookLevel(sym, side, p, 0, this.t);
  }

  /** the market view after a batch; returns the batch's latest receive stamp (0: none) */
  private refreshMarket(u8: Uint8Array, u32: Uint32Array, mask: number, start: number, n: number): number {
    const m = this.market;
    const books = this.o.books;
    const state = this.o.state;
    let latest = 0;
    for (let k = 0; k < n; k++) {
      const slot = (start + k) & mask;
      const w = slot * TICK_U32 + T.TS_RECV_U32;
      const ts = u32[w + 1]! * TWO32 + u32[w]!;
      if (ts > latest) latest = ts;
      const inst = u32[slot * TICK_U32 + T.INSTRUMENT_U32]!;
      if (inst >= this.instruments.length) continue;
      m.updatedNs[inst] = ts;
    }
    for (let i = 0; i < this.instruments.length; i++) {
      const b = books?.get(i);
      if (b) {
        const ok = b.synced && b.bestBid < b.bestAsk;
        m.usable[i] = ok ? 1 : 0;
        if (ok) {
          const mid = (b.bestBid + b.bestAsk) / 2;
          if (mid !== m.refPrice[i]) {
            m.refPrice[i] = mid;
            this.positions.mark(i, mid);
          }
        }
      } else if (state) {
        // no book kept: the last trade is the reference, and there is no book to be out of sync
        m.usable[i] = 1;
        const last = state.last(i);
        if (last > 0 && last !== m.refPrice[i]) {
          m.refPrice[i] = last;
          this.positions.mark(i, last);
        }
      }
    }
    void u8;
    return latest;
  }

  private fireTimer(): void {
    // periods missed while no record came (or since a timer set before the first record) are not replayed one by one
    this.nextTimer = (Math.floor(this.t / this.timerPeriod) + 1) * this.timerPeriod;
    try {
      this.s.onTimer?.(this.t);
    } catch (e) {
      this.fail(e as Error, "onTimer");
    }
  }

  private sample(): void {
    this.nextSample = (Math.floor(this.t / this.sampleNs) + 1) * this.sampleNs;
    this.curve.t.push(this.t);
    this.curve.equity.push(this.capital + this.positions.totalPnl(this.market.refPrice));
    this.curve.positions.push(Array.from(this.positions.amount));
    this.risk.updatePnl(this.positions.totalPnl(this.market.refPrice));
  }

  // ------------------------------------------------------------------ StrategyContext

  instrument(venue: string, symbol: string): number {
    const i = this.instruments.find((x) => x.venue === venue && x.symbol === symbol);
    return i ? i.id : -1;
  }
  now(): number {
    return this.t;
  }
  bid(i: number): number {
    return this.o.books?.get(i)?.bestBid ?? NaN;
  }
  ask(i: number): number {
    return this.o.books?.get(i)?.bestAsk ?? NaN;
  }
  bidSize(i: number): number {
    return this.o.books?.get(i)?.bestBidSize ?? NaN;
  }
  askSize(i: number): number {
    return this.o.books?.get(i)?.bestAskSize ?? NaN;
  }
  bookUsable(i: number): boolean {
    return this.market.usable[i] === 1;
  }
  last(i: number): number {
    return this.o.state ? this.o.state.last(i) : NaN;
  }
  vwap(i: number): number {
    return this.o.state ? this.o.state.vwap(i) : NaN;
  }
  position(i: number): number {
    return this.positions.amount[i]!;
  }
  avgPrice(i: number): number {
    return this.positions.avgPrice[i]!;
  }
  realisedPnl(i: number): number {
    return this.positions.realised[i]!;
  }
  unrealisedPnl(i: number): number {
    return this.positions.unrealised(i, this.market.refPrice[i]!);
  }
  openOrders(i: number): number {
    return this.openPerInst[i]!;
  }
  rejectText(code: number): string {
    return `${REJECT_NAMES[code] ?? code}: ${REJECT_TEXT[code] ?? "unknown reason"}`;
  }
  setTimer(periodNs: number): void {
    this.timerPeriod = periodNs > 0 ? periodNs : 0;
    this.nextTimer = this.timerPeriod > 0 ? this.t + this.timerPeriod : Infinity;
  }
  param(name: string, fallback: number): number {
    const v = this.params[name];
    return v !== undefined && Number.isFinite(v) ? v : fallback;
  }
  log(msg: string, fields?: Record<string, unknown>): void {
    this.logFn(msg, { strategy: this.s.name, ...fields });
  }

  submit(inst: number, side: SideCode, amount: number, price: number, tif: TimeInForce = "GTC"): string {
    if (this.stopped || this.strategyError) {
      this.lastReject = 1;
      return "";
    }
    const info = this.instruments[inst];
    if (info === undefined) {
      this.lastReject = 2;
      return "";
    }
    // venue steps: amounts down to the lot, prices to the tick (buys down, sells up: never more aggressive than asked)
    // steps that are 1/integer (0.1, 0.001, 0.25 is not): multiply by the integer and divide back,
    // which lands on the double nearest the decimal (61803.2, not 61803.200000000004) with no
    // string formatting; other steps take the general path
    const li = this.lotInv[inst]!, ti = this.tickInv[inst]!;
    if (li > 0) amount = Math.floor(amount * li + 1e-9) / li;
    else {
      if (info.lotSize > 0) amount = Math.floor(amount / info.lotSize + 1e-9) * info.lotSize;
      amount = Number(amount.toFixed(12));
    }
    if (price === price) {
      if (ti > 0) {
        const q = price * ti;
        price = (side === 0 ? Math.floor(q + 1e-9) : Math.ceil(q - 1e-9)) / ti;
      } else if (info.tickSize > 0) {
        const q = price / info.tickSize;
        price = Number(((side === 0 ? Math.floor(q + 1e-9) : Math.ceil(q - 1e-9)) * info.tickSize).toFixed(12));
      }
    }
    const w0 = wallNow();
    const code = this.risk.check(inst, this.venueIdx[inst]!, side, price, amount, this.t);
    const w1 = wallNow();
    this.hist.risk.record(w1 - w0);
    const v = this.venueIdx[inst]!;
    if (code !== 0) {
      this.lastReject = code;
      this.stats[v]!.rejectedByRisk++;
      return "";
    }
    const slot = this.orders.open(inst, side, amount, price);
    const id = this.orders.id(slot);
    const req: OrderRequest = {
      clientOrderId: id,
      venue: info.venue,
      symbol: info.symbol,
      side: side === 0 ? "buy" : "sell",
      type: price === price ? "limit" : "market",
      amount,
      price: price === price ? price : undefined,
      timeInForce: price === price ? tif : "IOC",
      strategy: this.s.name,
    };
    this.updateOwnBest(inst);
    const st = this.stats[v]!;
    st.orders++;
    st.orderedAmount += amount;
    if (this.deferring) {
      // decided: stamped here, handed to the gateway when the step's handlers return
      const w2 = wallNow();
      const k = this.queue(1, v);
      this.outReq[k] = req;
      this.outBuild[k] = w2 - w1;
      this.hist.tickToDecision.record(w2 - this.batchStartWall - this.simWall);
      this.ttdWindow.record(w2 - this.batchStartWall - this.simWall);
    } else {
      // outside a strategy step (a handler answering a report, a caller of its own): at once
      this.gw[v]!.submit(req);
      this.hist.submit.record(wallNow() - w1);
    }
    this.lastReject = 0;
    return id;
  }

  /** a slot in the outbox (grows, cold, past 16 requests in one step) */
  private queue(kind: number, venue: number): number {
    const k = this.outN++;
    if (k === this.outKind.length) {
      const m = k * 2;
      const kinds = new Uint8Array(m), venues = new Int32Array(m), build = new Float64Array(m);
      kinds.set(this.outKind);
      venues.set(this.outVenue);
      build.set(this.outBuild);
      this.outKind = kinds;
      this.outVenue = venues;
      this.outBuild = build;
      for (let i = k; i < m; i++) {
        this.outReq.push(null);
        this.outSym.push("");
        this.outId.push("");
      }
    }
    this.outKind[k] = kind;
    this.outVenue[k] = venue;
    return k;
  }

  /** The step's requests to their gateways, in the order decided; each gateway held until the last. */
  private flushOutbox(): void {
    const n = this.outN;
    this.outN = 0;
    const held = this.held;
    for (let k = 0; k < n; k++) {
      const v = this.outVenue[k]!;
      if (held[v] === 0) {
        held[v] = 1;
        this.gw[v]!.hold?.();
      }
    }
    try {
      for (let k = 0; k < n; k++) {
        const g = this.gw[this.outVenue[k]!]!;
        if (this.outKind[k] === 1) {
          const req = this.outReq[k]!;
          this.outReq[k] = null;
          const w0 = wallNow();
          try {
            g.submit(req);
          } catch (err) {
            this.gatewayThrew(req, err as Error);
          }
          this.hist.submit.record(this.outBuild[k]! + (wallNow() - w0));
        } else {
          try {
            g.cancel(this.outSym[k]!, this.outId[k]!);
          } catch (err) {
            // the order stays open here; the venue's own state settles it (reconciliation)
            this.log("gateway threw on a cancel: the order is still open", { id: this.outId[k], venue: g.venue, error: (err as Error).message });
          }
        }
      }
    } finally {
      for (let v = 0; v < held.length; v++) {
        if (held[v] === 0) continue;
        held[v] = 0;
        this.gw[v]!.flush?.();
      }
    }
  }

  /** A gateway that throws on an order (a bug, not a venue answer): the order is rejected, logged, and the next one still goes. */
  private gatewayThrew(req: OrderRequest, err: Error): void {
    this.log("gateway threw on an order: rejected, not sent", { id: req.clientOrderId, venue: req.venue, error: err.message });
    this.onReport({
      kind: "rejected", venue: req.venue, symbol: req.symbol, clientOrderId: req.clientOrderId, side: req.side, lastAmount: 0, lastPrice: 0,
      filled: 0, remaining: req.amount, fee: 0, reason: `gateway error: ${err.message}`, venueTimeMs: Date.now(),
    });
  }

  cancel(clientOrderId: string): boolean {
    const t = this.orders;
    const s = t.find(clientOrderId);
    if (s < 0 || t.terminal[s] === 1) return false;
    const inst = t.inst[s]!;
    this.sendCancel(inst, clientOrderId);
    return true;
  }

  /** a cancel to the instrument's venue: queued during a strategy step, else at once */
  private sendCancel(inst: number, clientOrderId: string): void {
    const v = this.venueIdx[inst]!;
    if (!this.deferring) {
      this.gw[v]!.cancel(this.instruments[inst]!.symbol, clientOrderId);
      return;
    }
    const k = this.queue(2, v);
    this.outSym[k] = this.instruments[inst]!.symbol;
    this.outId[k] = clientOrderId;
  }

  cancelAll(inst?: number): number {
    const t = this.orders;
    let n = 0;
    // the ids first: a synchronous gateway may answer inside cancel (ending the order), and a
    // strategy answering that with a new order may make the table grow, which moves slots
    for (const id of t.liveSlots(inst).map((x) => t.id(x))) {
      const s = t.find(id);
      if (s < 0 || t.terminal[s] === 1) continue;
      this.sendCancel(t.inst[s]!, id);
      n++;
    }
    return n;
  }

  /** our best resting bid/ask and open amounts per instrument, for self-trade prevention and position limits (cold: on order changes) */
  private updateOwnBest(inst: number): void {
    let bb = NaN, ba = NaN, ob = 0, os = 0;
    const t = this.orders;
    const n = t.liveN[inst]!;
    for (let k = 0; k < n; k++) {
      const s = t.liveSlot(inst, k);
      const left = t.amount[s]! - t.filled[s]!;
      const px = t.price[s]!;
      if (t.side[s] === 0) {
        ob += left;
        if (px === px) bb = bb === bb ? (px > bb ? px : bb) : px;
      } else {
        os += left;
        if (px === px) ba = ba === ba ? (px < ba ? px : ba) : px;
      }
    }
    const m = this.market;
    m.ownBestBid[inst] = bb;
    m.ownBestAsk[inst] = ba;
    m.openBuy[inst] = ob;
    m.openSell[inst] = os;
  }

  // ------------------------------------------------------------------ reports

  onReport(r: ExecReport): void {
    this.counters.reports++;
    const t = this.orders;
    const o = t.find(r.clientOrderId);
    if (o < 0) {
      this.counters.unknownReports++;
      this.log("report for an order this engine did not send: left to reconciliation", { id: r.clientOrderId, kind: r.kind, venue: r.venue });
      return;
    }
    const ev = r as OrderEvent;
    const inst = t.inst[o]!;
    (ev as { instrument: number }).instrument = inst;
    const st = this.stats[this.venueIdx[inst]!]!;
    if (r.kind === "fill" && r.lastAmount > 0) {
      this.positions.apply(inst, t.side[o]!, r.lastAmount, r.lastPrice, r.fee);
      t.filled[o] = t.filled[o]! + r.lastAmount;
      if (!done0(r)) this.updateOwnBest(inst);
      st.fills++;
      st.filledAmount += r.lastAmount;
      st.fees += r.fee;
      st.turnover += r.lastAmount * r.lastPrice;
      this.risk.updatePnl(this.positions.totalPnl(this.market.refPrice));
    }
    if (r.kind === "rejected") {
      st.rejectedByVenue++;
      this.counters.venueRejects++;
      if (this.counters.venueRejects <= 20) this.log("venue rejected an order", { id: r.clientOrderId, venue: r.venue, symbol: r.symbol, reason: r.reason });
    }
    const done = r.kind === "rejected" || r.kind === "cancelled" || r.kind === "expired" || (r.kind === "fill" && r.remaining <= 1e-12);
    if (done && t.terminal[o] === 0) {
      // the order stays known (its slot) until the table reuses the slot: a cancel answer or a
      // late report for it is not "unknown"
      t.finish(o);
      this.updateOwnBest(inst);
    }
    if (this.strategyError) return;
    try {
      if (r.kind === "fill") this.s.onFill?.(ev);
      else this.s.onOrder?.(ev);
    } catch (e) {
      this.fail(e as Error, r.kind === "fill" ? "onFill" : "onOrder");
    }
  }

  /** orders sent and not yet terminal */
  get openOrderCount(): number {
    return this.orders.liveCount();
  }

  /** Stops the strategy, cancels what is open; the caller then drains its clock / gateways. */
  stop(): void {
    if (this.stopped) return;
    try {
      if (!this.strategyError) this.s.onStop?.();
    } catch (e) {
      this.fail(e as Error, "onStop");
    }
    this.stopped = true;
    this.cancelAll();
  }

  /** final sample, then the figures of the run */
  summary() {
    this.sample();
    const marks = this.market.refPrice;
    const perInstrument = this.instruments.map((i) => ({
      id: i.id,
      venue: i.venue,
      symbol: i.symbol,
      position: this.positions.amount[i.id]!,
      avgPrice: this.positions.avgPrice[i.id]!,
      realised: this.positions.realised[i.id]!,
      unrealised: this.positions.unrealised(i.id, marks[i.id]!),
      fees: this.positions.fees[i.id]!,
      turnover: this.positions.turnover[i.id]!,
      fills: this.positions.fills[i.id]!,
      mark: marks[i.id]!,
    }));
    return {
      pnl: this.positions.totalPnl(marks),
      perInstrument,
      perVenue: this.stats,
      openOrders: this.orders.liveCount(),
      riskRejects: this.limits.rejectCounts(),
      killSwitch: this.kill.tripped ? { reason: this.kill.reasonName, detail: this.kill.detail } : null,
      strategyError: this.strategyError?.message ?? null,
      counters: { ...this.counters, dispatchedTrades: this.dispatcher.trades, bookCallbacks: this.dispatcher.books },
      latency: Object.fromEntries(Object.entries(this.hist).map(([k, h]) => [k, h.summary()])),
    };
  }
}

export { TERMINAL };
