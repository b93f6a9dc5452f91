/**
 * Pre-trade risk in the spirit of SEC 15c3-5 and the FIA's automated-trading guidance: every
 * order passes check() before it can leave. Numbers in, a reason code out, no allocation and no
 * logging, so it sits on the decision path (bench/risk.bench.ts).
 *
 * Rules, in this order (the first one broken is the reason):
 *   kill switch; order sanity; book in sync; book fresh; reference price known; price collar
 *   (|price - ref| <= collar x ref; a market order is priced at ref +- collar, its worst case);
 *   max order amount; max order notional; max position per instrument (net over venues plus the
 *   open orders on the order's side, as if they all filled; an order that reduces the worst case
 *   always passes); max gross exposure (sum |net| x mark, after this order); message rate per
 *   venue (token bucket, a token is taken only when the order passes); daily loss; drawdown;
 *   self-trade (a buy at or above our own best resting ask, a sell at or below our best bid).
 *
 * Limits and counters are in the shared RiskLimits block. check() reads its generation word
 * once (the one atomic on the path); when it moved (a new limit set, a kill-switch trip or
 * reset), the checker copies the limits into its own array under the seqlock and reads the
 * kill word, so every decision is made on one whole set and a trip from any thread stops the
 * next check. The day's PnL is read from the block as its owner last published it. The token
 * buckets belong to this instance: one order-sending thread per venue owns that venue's bucket.
 * Rejections are counted in this checker's own row of the shared counters (a plain increment,
 * no atomic) and their details (instrument, venue, value, limit, time) go into a small ring
 * that the cold path drains into the log.
 */
import type { PositionBook } from "../exec/positions.ts";
import { KillSwitch } from "./kill-switch.ts";
import { G_DAY_PNL, G_DD, G_GROSS, G_LOSS, G_PEAK_PNL, G_STALE_NS, G_STP, I_GEN, I_TRIPPED, PER_INST, PER_VENUE, Reject, REJECT_NAMES, REJECT_TEXT, type RiskLimits } from "./limits.ts";

export { Reject, REJECT_NAMES, REJECT_TEXT, RiskConfig, RiskLimits, type RejectCode, type RiskConfigInput } from "./limits.ts";
export { DEFAULT_TRIGGERS, KILL_REASON_NAMES, KillMonitor, KillReason, KillSwitch, type KillTriggers } from "./kill-switch.ts";

/**
 * What check() reads of the market and of our own orders, per instrument. The engine fills the
 * first three from its C books; OrderTracker keeps the last four.
 */
export interface RiskMarketView {
  /** reference price (mid of an in-sync book, else last trade); NaN or 0: unknown */
  refPrice: Float64Array;
  /** 1 when the book is in sync with the venue */
  usable: Uint8Array;
  /** time of the book's last update, on the clock check() is given (ns) */
  updatedNs: Float64Array;
  /** our best resting buy / sell price (NaN: none) */
  ownBestBid: Float64Array;
  ownBestAsk: Float64Array;
  /** remaining amount of our live buy / sell orders */
  openBuy: Float64Array;
  openSell: Float64Array;
}

export function marketView(instruments: number): RiskMarketView {
  const n = Math.max(1, instruments);
  return {
    refPrice: new Float64Array(n).fill(NaN),
    usable: new Uint8Array(n),
    updatedNs: new Float64Array(n).fill(NaN),
    ownBestBid: new Float64Array(n).fill(NaN),
    ownBestAsk: new Float64Array(n).fill(NaN),
    openBuy: new Float64Array(n),
    openSell: new Float64Array(n),
  };
}

/** relative tolerance on limit comparisons, so 0.1 x 3 does not reject against a limit of 0.3 */
const TOL = 1 + 1e-9;
const RING = 64;
const CAPS = 8;
const RING_FIELDS = 6;

export interface RejectRecord {
  code: number;
  name: string;
  text: string;
  instrument: number;
  venue: number;
  value: number;
  limit: number;
  nowNs: number;
}

export class PreTradeRisk {
  readonly limits: RiskLimits;
  readonly market: RiskMarketView;
  readonly positions: PositionBook;
  readonly kill: KillSwitch;
  readonly venues: number;
  /** the shared block's f64 slots (day PnL and peak are read from here) */
  private readonly f64: Float64Array;
  /** this checker's copy of the limit slots, valid for generation `gen` */
  private readonly lim: Float64Array;
  /**
   * per instrument, derived from `lim` at each refresh (one cache line each): collar multipliers
   * 1+c and 1-c, the same with the comparison tolerance, and the amount, notional and position
   * caps with the tolerance
   */
  private readonly caps: Float64Array;
  private grossCap = Infinity;
  private gen = -1;
  private killed = false;
  private readonly i32: Int32Array;
  /** this checker's own row of the shared reject counters */
  private readonly counters: Uint32Array;
  private readonly instBase: number;
  private readonly venueBase: number;
  private readonly instruments: number;
  // the market and position arrays, held directly (one load each on the hot path)
  private readonly usable: Uint8Array;
  private readonly updatedNs: Float64Array;
  private readonly refPrice: Float64Array;
  private readonly ownBestBid: Float64Array;
  private readonly ownBestAsk: Float64Array;
  private readonly openBuy: Float64Array;
  private readonly openSell: Float64Array;
  private readonly net: Float64Array;
  /** token bucket per venue: tokens now and when they were counted */
  private readonly tokens: Float64Array;
  private readonly tokensNs: Float64Array;
  /** reject details ring: code, inst, venue, value, limit, nowNs */
  private readonly ring = new Float64Array(RING * RING_FIELDS);
  private ringHead = 0;
  private ringDrained = 0;
  private readonly drainedCounts: Uint32Array;
  /** the figure that broke the last rejected rule, and the limit it broke */
  lastValue = NaN;
  lastLimit = NaN;

  constructor(o: { limits: RiskLimits; market: RiskMarketView; positions: PositionBook; kill?: KillSwitch }) {
    const L = o.limits;
    if (o.positions.instruments !== L.instruments) throw new RangeError(`positions cover ${o.positions.instruments} instruments, limits ${L.instruments}`);
    if (o.market.refPrice.length < L.instruments) throw new RangeError(`market view covers ${o.market.refPrice.length} instruments, limits ${L.instruments}`);
    this.limits = L;
    this.market = o.market;
    this.positions = o.positions;
    this.kill = o.kill ?? new KillSwitch(L);
    this.venues = L.venues;
    this.instruments = L.instruments;
    this.f64 = L.f64;
    this.i32 = L.i32;
    this.lim = new Float64Array(L.limitSlots);
    this.caps = new Float64Array(L.instruments * CAPS);
    this.counters = L.claimCounterRow();
    this.instBase = L.instBase;
    this.venueBase = L.venueBase;
    this.tokens = new Float64Array(L.venues).fill(NaN);
    this.tokensNs = new Float64Array(L.venues);
    this.drainedCounts = new Uint32Array(REJECT_NAMES.length);
    const m = o.market;
    this.usable = m.usable;
    this.updatedNs = m.updatedNs;
    this.refPrice = m.refPrice;
    this.ownBestBid = m.ownBestBid;
    this.ownBestAsk = m.ownBestAsk;
    this.openBuy = m.openBuy;
    this.openSell = m.openSell;
    this.net = o.positions.net;
    for (const [k, a] of Object.entries(m)) if ((a as ArrayLike<number>).length < L.instruments) throw new RangeError(`market view ${k} covers ${(a as ArrayLike<number>).length} instruments, limits ${L.instruments}`);
  }

  /** The engine publishes the day's PnL (realised + unrealised - fees) after fills and marks. */
  updatePnl(dayPnl: number): void {
    this.limits.publishPnl(dayPnl);
  }
  /** new trading day: loss and drawdown count from zero */
  resetDay(): void {
    this.limits.resetDay();
  }
  get dayPnl(): number {
    return this.limits.dayPnl;
  }
  get drawdown(): number {
    return this.limits.drawdown;
  }

  /**
   * 0 when the order may go, else a Reject code (counted). side 0 buy, 1 sell; price NaN for a
   * market order; nowNs on the same clock as market.updatedNs.
   */
  check(inst: number, venue: number, side: number, price: number, amount: number, nowNs: number): number {
    // A plain read: an Int32 read is tear-free under the ECMAScript memory model, and every
    // path below stores to a typed array, so the JIT cannot hoist this load out of a caller's
    // loop; what it guards is then read with Atomics (seqlock, kill word) in refresh().
    // Atomics.load here costs ~9 ns per check in Bun on this machine (bench/risk.bench.ts).
    const g = this.i32[I_GEN]!;
    if (g !== this.gen) this.refresh(g);
    const code = this.rules(inst, venue, side, price, amount, nowNs);
    if (code === 0) {
      this.tokens[venue]! -= 1;
      return 0;
    }
    this.counters[code]!++;
    this.record(code, inst, venue, nowNs);
    return code;
  }

  /** a new generation: copy the whole limit set (seqlock-consistent) and the kill word */
  private refresh(g: number): void {
    const f = this.lim, c = this.caps;
    if (this.limits.snapshotInto(f) < 0) {
      // limits unreadable (a writer died mid-update): refuse every order, try again next check
      this.killed = true;
      return;
    }
    for (let i = 0; i < this.instruments; i++) {
      const ib = this.instBase + i * PER_INST, o = i * CAPS, collar = f[ib + 3]!;
      c[o] = 1 + collar;
      c[o + 1] = 1 - collar;
      c[o + 2] = (1 + collar) * TOL;
      c[o + 3] = (1 - collar) / TOL;
      c[o + 4] = f[ib]! * TOL;
      c[o + 5] = f[ib + 1]! * TOL;
      c[o + 6] = f[ib + 2]! * TOL;
    }
    this.grossCap = f[G_GROSS]! * TOL;
    this.killed = Atomics.load(this.i32, I_TRIPPED) !== 0;
    this.gen = g;
  }

  private rules(inst: number, venue: number, side: number, price: number, amount: number, nowNs: number): number {
    if (this.killed) return this.fail(Reject.KILL_SWITCH, this.kill.reason, 0);
    // NaN fails every comparison, so a NaN instrument, venue or amount is refused here; a NaN
    // price is a market order, and a price <= 0 or infinite is refused
    if (
      !(inst >= 0 && inst < this.instruments && venue >= 0 && venue < this.venues && (side === 0 || side === 1) && amount > 0 && amount < Infinity && !(price <= 0 || price === Infinity)) ||
      (inst | 0) !== inst ||
      (venue | 0) !== venue
    ) {
      return this.fail(Reject.BAD_ORDER, amount, price);
    }
    const f = this.lim;
    if (this.usable[inst] !== 1) return this.fail(Reject.BOOK_DESYNC, 0, 1);
    const age = nowNs - this.updatedNs[inst]!;
    if (!(age <= f[G_STALE_NS]!)) return this.fail(Reject.STALE_BOOK, age, f[G_STALE_NS]!);
    const ref = this.refPrice[inst]!;
    if (!(ref > 0 && ref < Infinity)) return this.fail(Reject.NO_REFERENCE_PRICE, ref, 0);
    const c = this.caps;
    const o = inst * CAPS;
    const px = price === price ? price : side === 0 ? ref * c[o]! : ref * c[o + 1]!;
    if (px > ref * c[o + 2]! || px < ref * c[o + 3]!) return this.fail(Reject.PRICE_COLLAR, px, ref);
    const ib = this.instBase + inst * PER_INST;
    if (amount > c[o + 4]!) return this.fail(Reject.MAX_ORDER_AMOUNT, amount, f[ib]!);
    const notional = amount * px;
    if (notional > c[o + 5]!) return this.fail(Reject.MAX_ORDER_NOTIONAL, notional, f[ib + 1]!);
    const net = this.net[inst]!;
    const posCap = c[o + 6]!;
    if (side === 0) {
      const worst = net + this.openBuy[inst]! + amount;
      if (worst > posCap) return this.fail(Reject.MAX_POSITION, worst, f[ib + 2]!);
    } else {
      const worst = this.openSell[inst]! + amount - net;
      if (worst > posCap) return this.fail(Reject.MAX_POSITION, -worst, f[ib + 2]!);
    }
    const grows = Math.abs(side === 0 ? net + amount : net - amount) - Math.abs(net);
    if (grows > 0) {
      const gross = this.positions.gross + grows * ref;
      if (gross > this.grossCap) return this.fail(Reject.MAX_GROSS_EXPOSURE, gross, f[G_GROSS]!);
    }
    // token bucket (refilled here; the token is taken by check() once every rule passed)
    const vb = this.venueBase + venue * PER_VENUE;
    const rate = f[vb]!;
    if (rate !== Infinity) {
      const burst = f[vb + 1]!;
      let t = this.tokens[venue]!;
      if (t !== t) {
        t = burst;
        this.tokensNs[venue] = nowNs;
      } else {
        const dt = nowNs - this.tokensNs[venue]!;
        // a clock that steps back refills nothing and does not move the bucket's time back
        if (dt > 0) {
          t += dt * rate;
          if (t > burst) t = burst;
          this.tokensNs[venue] = nowNs;
        }
      }
      this.tokens[venue] = t;
      if (t < 1) return this.fail(Reject.THROTTLE, t, 1);
    } else this.tokens[venue] = Infinity;
    const pnl = this.f64[G_DAY_PNL]!;
    if (-pnl >= f[G_LOSS]!) return this.fail(Reject.DAILY_LOSS, -pnl, f[G_LOSS]!);
    const dd = this.f64[G_PEAK_PNL]! - pnl;
    if (dd >= f[G_DD]!) return this.fail(Reject.DRAWDOWN, dd, f[G_DD]!);
    if (f[G_STP] === 1) {
      if (side === 0 ? px >= this.ownBestAsk[inst]! : px <= this.ownBestBid[inst]!) return this.fail(Reject.SELF_TRADE, px, side === 0 ? this.ownBestAsk[inst]! : this.ownBestBid[inst]!);
    }
    return Reject.OK;
  }

  private fail(code: number, value: number, limit: number): number {
    this.lastValue = value;
    this.lastLimit = limit;
    return code;
  }

  private record(code: number, inst: number, venue: number, nowNs: number): void {
    const o = (this.ringHead++ & (RING - 1)) * RING_FIELDS;
    const r = this.ring;
    r[o] = code;
    r[o + 1] = inst;
    r[o + 2] = venue;
    r[o + 3] = this.lastValue;
    r[o + 4] = this.lastLimit;
    r[o + 5] = nowNs;
  }

  /** tokens left in a venue's bucket as of its last check (Infinity: no throttle) */
  tokensLeft(venue: number): number {
    const t = this.tokens[venue]!;
    return t === t ? t : this.limits.venue(venue, 1);
  }

  /**
   * Cold path: logs the rejects recorded since the last drain (the newest 64 in detail; older ones
   * as "not detailed"), and returns how many rejects this instance recorded since then.
   */
  drainRejects(log: (msg: string, fields: RejectRecord | { missed: number }) => void): number {
    const n = this.ringHead - this.ringDrained;
    const missed = n > RING ? n - RING : 0;
    if (missed > 0) log("risk rejects not detailed (ring overrun between drains)", { missed });
    for (let k = this.ringDrained + missed; k < this.ringHead; k++) {
      const o = (k & (RING - 1)) * RING_FIELDS;
      const r = this.ring;
      const code = r[o]!;
      log("order rejected by pre-trade risk", {
        code,
        name: REJECT_NAMES[code] ?? String(code),
        text: REJECT_TEXT[code] ?? "",
        instrument: r[o + 1]!,
        venue: r[o + 2]!,
        value: r[o + 3]!,
        limit: r[o + 4]!,
        nowNs: r[o + 5]!,
      });
    }
    this.ringDrained = this.ringHead;
    return n;
  }

  /** shared counters that moved since this instance last asked (all threads' rejects), by name */
  counterDeltas(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < REJECT_NAMES.length; i++) {
      const now = this.limits.count(i);
      const d = (now - this.drainedCounts[i]!) >>> 0;
      if (d > 0) out[REJECT_NAMES[i]!] = d;
      this.drainedCounts[i] = now;
    }
    return out;
  }
}

/** "NAME: text" for a reject code */
export function describeReject(code: number): string {
  return `${REJECT_NAMES[code] ?? code}: ${REJECT_TEXT[code] ?? "unknown reason"}`;
}
