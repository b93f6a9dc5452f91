/**
 * Pre-trade risk, in the spirit of SEC 15c3-5 and the FIA's automated-trading guidance: every
 * order passes `check()` before it can leave. Numbers in, a reason code out, no allocation, so it
 * sits on the decision path (bench/risk.bench.ts).
 *
 * Limits live in a SharedArrayBuffer (`RiskLimits.shared`): every thread that attaches sees the
 * same numbers. Writers publish under a sequence lock (odd while writing), readers retry when the
 * sequence moved, so no reader ever acts on a half-updated set. Rejections are counted per reason
 * in the same shared block; logging them is the cold path's job (`drainRejects`).
 *
 * What check() enforces, in this order (the first failing rule is the reason):
 *   kill switch; order sanity; book in sync and fresh; reference price known; price collar
 *   (limit price within collarBps of the reference; market orders are priced at the reference
 *   plus the collar); max order amount and notional; max position after the order (if filled);
 *   max gross exposure after the order; message rate per venue (token bucket); daily loss and
 *   drawdown from the peak of the day; self-trade (a buy at or above our own best resting ask, a
 *   sell at or below our own best resting bid).
 */
import { z } from "zod";
import type { PositionBook } from "../exec/positions.ts";

export const Reject = {
  OK: 0,
  KILL_SWITCH: 1,
  BAD_ORDER: 2,
  BOOK_UNUSABLE: 3,
  STALE_BOOK: 4,
  NO_REFERENCE_PRICE: 5,
  PRICE_COLLAR: 6,
  MAX_ORDER_AMOUNT: 7,
  MAX_ORDER_NOTIONAL: 8,
  MAX_POSITION: 9,
  MAX_GROSS_EXPOSURE: 10,
  THROTTLE: 11,
  DAILY_LOSS: 12,
  DRAWDOWN: 13,
  SELF_TRADE: 14,
} as const;
export type RejectCode = (typeof Reject)[keyof typeof Reject];
export const REJECT_NAMES = Object.keys(Reject) as Array<keyof typeof Reject>;
export const REJECT_TEXT: Record<number, string> = {
  0: "accepted",
  1: "kill switch is tripped: no new orders until it is reset",
  2: "order is malformed (amount or price not a positive finite number, or unknown instrument)",
  3: "the instrument's book is out of sync: nothing trades on it until it resyncs",
  4: "the instrument's book is stale (no update within the stale timeout)",
  5: "no reference price for the instrument yet",
  6: "limit price outside the collar around the reference price",
  7: "order amount above the instrument's maximum",
  8: "order notional above the instrument's maximum",
  9: "position after the order would exceed the instrument's maximum",
  10: "gross exposure after the order would exceed the total maximum",
  11: "message rate to the venue above its throttle",
  12: "daily loss limit reached",
  13: "drawdown limit reached",
  14: "would trade against our own resting order (self-trade prevention)",
};

const num = (what: string) => z.number({ error: `${what} must be a number` }).nonnegative(`${what} must be >= 0`);
/** Limits as configured (0 = no limit for the max* and loss fields). */
export const RiskConfig = z.object({
  maxOrderAmount: num("maxOrderAmount").default(0),
  maxOrderNotional: num("maxOrderNotional").default(0),
  maxPosition: num("maxPosition").default(0),
  maxGrossExposure: num("maxGrossExposure").default(0),
  collarBps: num("collarBps").default(500),
  maxMsgsPerSec: num("maxMsgsPerSec").default(0),
  dailyLossLimit: num("dailyLossLimit").default(0),
  maxDrawdown: num("maxDrawdown").default(0),
  staleMs: num("staleMs").default(5000),
  selfTradePrevention: z.boolean().default(true),
  /** per-instrument overrides, by instrument id */
  instruments: z.record(z.string(), z.object({ maxOrderAmount: num("maxOrderAmount").optional(), maxOrderNotional: num("maxOrderNotional").optional(), maxPosition: num("maxPosition").optional() })).default({}),
});
export type RiskConfig = z.infer<typeof RiskConfig>;

// shared block layout: i32 words [seq, kill word (reason | generation << 8), last trip reason], then f64 slots
const I_SEQ = 0, I_TRIPPED = 1, I_TRIP_REASON = 2;
const HEADER_BYTES = 64;
const G_GROSS = 0, G_COLLAR = 1, G_LOSS = 2, G_DD = 3, G_STALE_NS = 4, G_STP = 5, G_TRIP_NS = 6, G_MSGS = 7;
const GLOBAL_SLOTS = 8;
const PER_INST = 3; // maxOrderAmount, maxOrderNotional, maxPosition
const COUNTERS = REJECT_NAMES.length;

export class RiskLimits {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly counters: Float64Array;
  private readonly instBase: number;

  private constructor(
    readonly shared: SharedArrayBuffer,
    readonly instruments: number,
  ) {
    this.i32 = new Int32Array(shared, 0, HEADER_BYTES / 4);
    this.f64 = new Float64Array(shared, HEADER_BYTES);
    this.instBase = GLOBAL_SLOTS;
    this.counters = new Float64Array(shared, HEADER_BYTES + (GLOBAL_SLOTS + instruments * PER_INST) * 8, COUNTERS);
  }

  static create(instruments: number, cfg: Partial<RiskConfig> = {}): RiskLimits {
    const bytes = HEADER_BYTES + (GLOBAL_SLOTS + instruments * PER_INST + COUNTERS) * 8;
    const l = new RiskLimits(new SharedArrayBuffer(bytes), instruments);
    l.set(RiskConfig.parse(cfg));
    return l;
  }

  /** The same limits in another thread (pass `shared` and the instrument count through postMessage). */
  static attach(shared: SharedArrayBuffer, instruments: number): RiskLimits {
    return new RiskLimits(shared, instruments);
  }

  /** Publishes a whole new set atomically (seqlock). 0 = no limit. */
  set(cfg: RiskConfig): void {
    const c = RiskConfig.parse(cfg);
    const f = this.f64;
    Atomics.add(this.i32, I_SEQ, 1); // odd: writing
    f[G_GROSS] = c.maxGrossExposure || Infinity;
    f[G_COLLAR] = c.collarBps / 1e4;
    f[G_LOSS] = c.dailyLossLimit || Infinity;
    f[G_DD] = c.maxDrawdown || Infinity;
    f[G_STALE_NS] = c.staleMs ? c.staleMs * 1e6 : Infinity;
    f[G_STP] = c.selfTradePrevention ? 1 : 0;
    f[G_MSGS] = c.maxMsgsPerSec || Infinity;
    for (let i = 0; i < this.instruments; i++) {
      const o = c.instruments[String(i)] ?? {};
      f[this.instBase + i * PER_INST] = (o.maxOrderAmount ?? c.maxOrderAmount) || Infinity;
      f[this.instBase + i * PER_INST + 1] = (o.maxOrderNotional ?? c.maxOrderNotional) || Infinity;
      f[this.instBase + i * PER_INST + 2] = (o.maxPosition ?? c.maxPosition) || Infinity;
    }
    Atomics.add(this.i32, I_SEQ, 1); // even: published
  }

  get seq(): number {
    return Atomics.load(this.i32, I_SEQ);
  }
  slot(i: number): number {
    return this.f64[i]!;
  }
  inst(i: number, k: number): number {
    return this.f64[this.instBase + i * PER_INST + k]!;
  }
  /** counts per reason name (cold path) */
  rejectCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    REJECT_NAMES.forEach((n, i) => {
      if (i > 0 && this.counters[i]! > 0) out[n] = this.counters[i]!;
    });
    return out;
  }
}

/** What check() reads of the market and of our own orders; the engine keeps these arrays current. */
export interface RiskMarketView {
  /** reference price per instrument (mid of a usable book, else last trade); NaN unknown */
  refPrice: Float64Array;
  /** 1 when the book is in sync */
  usable: Uint8Array;
  /** engine time of the book's last update (ns) */
  updatedNs: Float64Array;
  /** our best resting buy / sell price per instrument (NaN: none) */
  ownBestBid: Float64Array;
  ownBestAsk: Float64Array;
}

export function marketView(instruments: number): RiskMarketView {
  const n = Math.max(1, instruments);
  return {
    refPrice: new Float64Array(n).fill(NaN),
    usable: new Uint8Array(n),
    updatedNs: new Float64Array(n),
    ownBestBid: new Float64Array(n).fill(NaN),
    ownBestAsk: new Float64Array(n).fill(NaN),
  };
}

export class PreTradeRisk {
  /** token buckets per venue: tokens and last refill time */
  private readonly tokens: Float64Array;
  private readonly refillNs: Float64Array;
  /** PnL state the engine updates (after fills and marks) */
  private pnl = 0;
  private peak = 0;
  /** set by check() on a reject: the offending figure and the limit, for the log */
  lastValue = NaN;
  lastLimit = NaN;

  constructor(
    readonly limits: RiskLimits,
    readonly market: RiskMarketView,
    readonly positions: PositionBook,
    readonly venueOf: Int32Array,
    venues: number,
    readonly kill: KillSwitch,
  ) {
    this.tokens = new Float64Array(Math.max(1, venues)).fill(NaN);
    this.refillNs = new Float64Array(Math.max(1, venues));
  }

  /** The engine reports total PnL (realised + unrealised - fees) since the start of the day. */
  updatePnl(pnl: number): void {
    this.pnl = pnl;
    if (pnl > this.peak) this.peak = pnl;
  }
  /** new trading day: loss and drawdown count from here */
  resetDay(): void {
    this.peak = this.pnl = 0;
  }
  get dayPnl(): number {
    return this.pnl;
  }
  get drawdown(): number {
    return this.peak - this.pnl;
  }

  /**
   * 0 when the order may go, else a Reject code (counted). side 0 buy / 1 sell; price NaN =
   * market order. Does not consume a throttle token when rejecting for another reason.
   */
  check(inst: number, side: number, price: number, amount: number, nowNs: number): number {
    const L = this.limits;
    for (;;) {
      const seq = L.seq;
      if (seq & 1) continue; // a writer is mid-update
      const code = this.rules(inst, side, price, amount, nowNs);
      if (L.seq !== seq) continue; // limits moved under us: decide again on the new set
      if (code !== 0) L.counters[code]!++;
      else this.take(this.venueOf[inst]!, nowNs);
      return code;
    }
  }

  private rules(inst: number, side: number, price: number, amount: number, nowNs: number): number {
    const L = this.limits;
    const m = this.market;
    if (this.kill.tripped) return Reject.KILL_SWITCH;
    if ((side !== 0 && side !== 1) || !((inst >>> 0) === inst && inst < L.instruments) || !(amount > 0 && amount < Infinity) || (price === price && !(price > 0 && price < Infinity))) return Reject.BAD_ORDER;
    if (m.usable[inst] !== 1) return Reject.BOOK_UNUSABLE;
    if (nowNs - m.updatedNs[inst]! > L.slot(G_STALE_NS)) return this.fail(nowNs - m.updatedNs[inst]!, L.slot(G_STALE_NS), Reject.STALE_BOOK);
    const ref = m.refPrice[inst]!;
    if (!(ref > 0)) return Reject.NO_REFERENCE_PRICE;
    const collar = L.slot(G_COLLAR);
    const px = price === price ? price : side === 0 ? ref * (1 + collar) : ref * (1 - collar);
    if (Math.abs(px - ref) > ref * collar * (1 + 1e-12)) return this.fail(px, ref, Reject.PRICE_COLLAR);
    if (amount > L.inst(inst, 0)) return this.fail(amount, L.inst(inst, 0), Reject.MAX_ORDER_AMOUNT);
    const notional = amount * px;
    if (notional > L.inst(inst, 1)) return this.fail(notional, L.inst(inst, 1), Reject.MAX_ORDER_NOTIONAL);
    const pos = this.positions.amount[inst]!;
    const after = side === 0 ? pos + amount : pos - amount;
    if (Math.abs(after) > L.inst(inst, 2) * (1 + 1e-12) && (Math.abs(after) > Math.abs(pos) || after * pos < 0)) return this.fail(Math.abs(after), L.inst(inst, 2), Reject.MAX_POSITION);
    const grossLimit = L.slot(G_GROSS);
    if (grossLimit !== Infinity && Math.abs(after) > Math.abs(pos)) {
      const gross = this.positions.grossExposure(m.refPrice) + (Math.abs(after) - Math.abs(pos)) * ref;
      if (gross > grossLimit) return this.fail(gross, grossLimit, Reject.MAX_GROSS_EXPOSURE);
    }
    if (!this.hasToken(this.venueOf[inst]!, nowNs)) return Reject.THROTTLE;
    if (-this.pnl >= L.slot(G_LOSS)) return this.fail(-this.pnl, L.slot(G_LOSS), Reject.DAILY_LOSS);
    if (this.peak - this.pnl >= L.slot(G_DD)) return this.fail(this.peak - this.pnl, L.slot(G_DD), Reject.DRAWDOWN);
    if (L.slot(G_STP) === 1) {
      if (side === 0 && px >= m.ownBestAsk[inst]!) return this.fail(px, m.ownBestAsk[inst]!, Reject.SELF_TRADE);
      if (side === 1 && px <= m.ownBestBid[inst]!) return this.fail(px, m.ownBestBid[inst]!, Reject.SELF_TRADE);
    }
    return Reject.OK;
  }

  private fail(value: number, limit: number, code: number): number {
    this.lastValue = value;
    this.lastLimit = limit;
    return code;
  }

  /** token bucket: maxMsgsPerSec per second, burst of one second's worth */
  private hasToken(v: number, nowNs: number): boolean {
    const rate = this.limits.slot(G_MSGS);
    if (rate === Infinity) return true;
    let t = this.tokens[v]!;
    if (t !== t) t = rate;
    t = Math.min(rate, t + ((nowNs - this.refillNs[v]!) / 1e9) * rate);
    this.tokens[v] = t;
    this.refillNs[v] = nowNs;
    return t >= 1;
  }
  private take(v: number, nowNs: number): void {
    if (this.limits.slot(G_MSGS) === Infinity) return;
    this.tokens[v]! -= 1;
    this.refillNs[v] = nowNs;
  }
}

export const KillReason = {
  MANUAL: 1,
  LOSS_LIMIT: 2,
  DRAWDOWN: 3,
  STALE_DATA: 4,
  BOOK_DESYNC: 5,
  ERROR_RATE: 6,
  LATENCY_SPIKE: 7,
  POSITION_MISMATCH: 8,
  SIGNAL: 9,
} as const;
export const KILL_REASON_NAMES: Record<number, string> = Object.fromEntries(Object.entries(KillReason).map(([k, v]) => [v, k]));

/**
 * The kill switch: one shared word any thread can set. Once tripped, every check() rejects with
 * KILL_SWITCH and the owner's cancel-all runs once (the thread that trips it runs its own
 * handlers; others see it at their next `poll()`). Reset only explicitly.
 */
export class KillSwitch {
  private readonly handlers: Array<(reason: number, detail: string) => void> = [];
  /** the trip generation whose handlers this thread has run (0: none yet) */
  private handledGen = 0;
  detail = "";

  constructor(readonly limits: RiskLimits) {}

  // One shared word holds the whole state: low 8 bits the reason (0: not tripped), the rest a
  // trip generation bumped by every trip. Tripping is one compare-exchange, so no thread ever
  // sees "tripped" without its reason, and a thread that missed a reset still runs its handlers
  // for the next trip (the generation moved).
  get tripped(): boolean {
    return (this.limits.i32[I_TRIPPED]! & 0xff) !== 0;
  }
  get reason(): number {
    return Atomics.load(this.limits.i32, I_TRIPPED) & 0xff;
  }
  get reasonName(): string {
    return KILL_REASON_NAMES[this.reason] ?? "NONE";
  }

  /** runs once per trip, in the thread that observes it: cancel all open orders, alert */
  onTrip(fn: (reason: number, detail: string) => void): void {
    this.handlers.push(fn);
  }

  /** trips it (first reason wins); returns true when this call tripped it */
  trip(reason: number, detail: string, nowNs = Date.now() * 1e6): boolean {
    const i32 = this.limits.i32;
    const r = reason & 0xff || KillReason.MANUAL;
    for (;;) {
      const w = Atomics.load(i32, I_TRIPPED);
      if (w & 0xff) return false;
      const next = ((((w >>> 8) + 1) & 0xffffff) << 8) | r;
      if (Atomics.compareExchange(i32, I_TRIPPED, w, next) !== w) continue;
      Atomics.store(i32, I_TRIP_REASON, r);
      this.limits.f64[G_TRIP_NS] = nowNs;
      this.detail = detail;
      this.poll();
      return true;
    }
  }

  /** call from the engine's maintenance: runs the handlers once if another thread tripped it */
  poll(): void {
    const w = Atomics.load(this.limits.i32, I_TRIPPED);
    if (!(w & 0xff)) return;
    const gen = (w >>> 8) | 0x1000000; // never 0, so generation 0 (wrapped) still counts
    if (gen === this.handledGen) return;
    this.handledGen = gen;
    for (const h of this.handlers) h(w & 0xff, this.detail);
  }

  reset(): void {
    const i32 = this.limits.i32;
    for (;;) {
      const w = Atomics.load(i32, I_TRIPPED);
      if (!(w & 0xff) || Atomics.compareExchange(i32, I_TRIPPED, w, w & ~0xff) === w) break;
    }
    Atomics.store(i32, I_TRIP_REASON, 0);
    this.detail = "";
  }

  /** SIGUSR2 (or another signal) trips it manually: `kill -USR2 <pid>` or `bot4 kill <pid>` */
  installSignalTrip(signal: NodeJS.Signals = "SIGUSR2"): () => void {
    const h = () => this.trip(KillReason.SIGNAL, `manual: ${signal} received`);
    process.on(signal, h);
    return () => process.off(signal, h);
  }
}

/** Thresholds of the automatic triggers, evaluated by `KillMonitor.evaluate` on the cold path. */
export interface KillTriggers {
  /** trip when day PnL <= -lossLimit (0: off) */
  lossLimit: number;
  maxDrawdown: number;
  /** market data silent this long while we have open orders (ns, 0: off) */
  staleDataNs: number;
  /** a book we have open orders on stays out of sync this long (ns, 0: off) */
  desyncNs: number;
  /** more venue errors than this within errorWindowNs (0: off) */
  maxErrors: number;
  errorWindowNs: number;
  /** tick-to-decision p99 over the last window above this (ns, 0: off) */
  maxP99Ns: number;
  /** |our position - venue position| above this, in base units (0: off) */
  maxPositionMismatch: number;
}

export class KillMonitor {
  private errorTimes: number[] = [];
  private desyncSince: Float64Array;

  constructor(
    readonly kill: KillSwitch,
    readonly t: KillTriggers,
    instruments: number,
  ) {
    this.desyncSince = new Float64Array(Math.max(1, instruments)).fill(NaN);
  }

  /** a venue error (reject storms, 5XX, timeouts) */
  error(nowNs: number): void {
    if (!this.t.maxErrors) return;
    this.errorTimes.push(nowNs);
    while (this.errorTimes.length && nowNs - this.errorTimes[0]! > this.t.errorWindowNs) this.errorTimes.shift();
    if (this.errorTimes.length > this.t.maxErrors) this.kill.trip(KillReason.ERROR_RATE, `${this.errorTimes.length} venue errors within ${this.t.errorWindowNs / 1e9} s`, nowNs);
  }

  /** the cold-path check, a few times a second */
  evaluate(s: { nowNs: number; dayPnl: number; drawdown: number; lastDataNs: number; openOrders: number; p99Ns: number; usable: Uint8Array; openPerInst: ArrayLike<number> }): void {
    const t = this.t;
    if (t.lossLimit && s.dayPnl <= -t.lossLimit) this.kill.trip(KillReason.LOSS_LIMIT, `day PnL ${s.dayPnl.toFixed(2)} <= -${t.lossLimit}`, s.nowNs);
    if (t.maxDrawdown && s.drawdown >= t.maxDrawdown) this.kill.trip(KillReason.DRAWDOWN, `drawdown ${s.drawdown.toFixed(2)} >= ${t.maxDrawdown}`, s.nowNs);
    if (t.staleDataNs && s.openOrders > 0 && s.nowNs - s.lastDataNs > t.staleDataNs) this.kill.trip(KillReason.STALE_DATA, `no market data for ${((s.nowNs - s.lastDataNs) / 1e9).toFixed(1)} s with ${s.openOrders} open orders`, s.nowNs);
    if (t.maxP99Ns && s.p99Ns > t.maxP99Ns) this.kill.trip(KillReason.LATENCY_SPIKE, `tick-to-decision p99 ${Math.round(s.p99Ns)} ns > ${t.maxP99Ns} ns`, s.nowNs);
    if (t.desyncNs) {
      for (let i = 0; i < this.desyncSince.length; i++) {
        if (s.usable[i] === 1 || !(s.openPerInst[i]! > 0)) {
          this.desyncSince[i] = NaN;
          continue;
        }
        if (this.desyncSince[i] !== this.desyncSince[i]) this.desyncSince[i] = s.nowNs;
        else if (s.nowNs - this.desyncSince[i]! > t.desyncNs) this.kill.trip(KillReason.BOOK_DESYNC, `book of instrument ${i} out of sync for ${((s.nowNs - this.desyncSince[i]!) / 1e9).toFixed(1)} s with open orders`, s.nowNs);
      }
    }
  }

  /** compares our positions with the venue's (reconciliation) */
  positions(ours: ArrayLike<number>, venue: ArrayLike<number>, nowNs: number): void {
    if (!this.t.maxPositionMismatch) return;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i]! - venue[i]!);
      if (d > this.t.maxPositionMismatch) {
        this.kill.trip(KillReason.POSITION_MISMATCH, `instrument ${i}: ours ${ours[i]} vs venue ${venue[i]}`, nowNs);
        return;
      }
    }
  }
}
