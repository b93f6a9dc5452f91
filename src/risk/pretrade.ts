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
 * once; when it moved (a new limit set, a kill-switch trip or reset), the checker copies the
 * limits into its own array under the seqlock and reads the kill word with Atomics, so every
 * decision is made on one whole set and a trip from any thread stops the next check. Gross
 * exposure uses the marks the engine gives PositionBook.mark() (O(1) per mark). The day's PnL is read from the block as its owner last published it. The token
 * buckets belong to this instance: one order-sending thread per venue owns that venue's bucket.
 * Rejections are counted in this checker's own row of the shared counters (a plain increment,
 * no atomic) and their details (instrument, venue, value, limit, time) go into a small ring
 * that the cold path drains into the log.
 *
 * Memory ordering (why the pass path has no Atomics at all):
 *  - writers (RiskLimits.set, KillSwitch.trip/reset) finish their writes, then bump the
 *    generation word with Atomics.add (sequentially consistent); the set itself is also under
 *    the seqlock, and the trip flag is written with compareExchange before the bump;
 *  - check() reads the generation word with a plain load. It cannot tear (aligned Int32), and
 *    it cannot be hoisted out of a caller's loop: the JIT puts every typed-array store in one
 *    alias class, and every check() path stores to one (bucket, counters, ring). On x86 (TSO) a
 *    plain load returns the newest value once the writer's store has left its store buffer, so a
 *    trip is seen by the next check that starts after that, with no fence on the reader;
 *  - when the word moved, refresh() does the synchronising reads: snapshotInto() copies the set
 *    between two Atomics.load of the sequence word (retrying on odd or changed), and the kill
 *    word is read with Atomics.load. Everything check() compares against afterwards is this
 *    checker's own copy, so a half-written set is never acted on;
 *  - the day PnL and peak are single-writer doubles (publishPnl) read plainly: an aligned
 *    8-byte load does not tear on x86-64, and a check that reads the value of one update earlier
 *    is what any reader racing a writer gets anyway.
 * What the pass path costs (bench/risk.bench.ts, and A/B runs of copies of this method with an
 * early return after each rule): ~10 ns for the call, generation and kill test; the order
 * sanity, book and reference rules ~15 ns; collar, size, notional and position ~10 ns; the rest
 * ~6 ns. Sides alternating at random add ~5 ns of branch mispredictions (the same orders all on
 * one side run ~5 ns faster). Tried and measured no better or worse, so not kept: branch-free
 * side selection (both sides computed, then a ternary), one combined condition with a slow path
 * for the reason, the global caps as number fields instead of array slots, the per-instrument
 * market fields interleaved in one array (~2 ns, not worth a second market-view layout).
 * Measured again with executed-instruction counts (valgrind, FTL code, same harness) next to
 * interleaved timing, and not kept either: the six market Float64Arrays as blocks of one array
 * and this checker's caps and buckets in one array (7 typed arrays on the path instead of 11),
 * side chosen by index arithmetic, `| 0` on every index (no overflow checks), one
 * generation-and-kill gate: ~430 -> ~405 instructions per check, time within the noise (pass
 * 0.95-1.0x, reject 0.97-1.03x); every rule as one branch-free condition with the ordered
 * rules as the slow path: ~495 instructions, reject slower; one reject exit for all rules: no
 * better. About 100 of the ~410 instructions are the call itself (prologue, argument checks,
 * this checker's arrays loaded and checked again on every call): a copy cut down to the
 * generation gate and sanity is inlined into the caller's loop by the JIT (~94 instructions per
 * order), the same plus one rule is not (~199); the whole method compiles to ~4 KB, far above
 * what the JIT inlines (~1.5 KB), so that call stays.
 */
import type { PositionBook } from "../exec/positions.ts";
import { KillSwitch } from "./kill-switch.ts";
import { G_DAY_PNL, G_DD, G_GROSS, G_LOSS, G_PEAK_PNL, G_STALE_NS, G_STP, I_GEN, I_TRIPPED, PER_INST, Reject, REJECT_NAMES, REJECT_TEXT, type RiskLimits } from "./limits.ts";

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
// caps array: globals, then C_SLOTS per instrument
const K_STALE = 0, K_GROSS = 1, K_LOSS = 2, K_DD = 3, K_STP = 4, K_SLOTS = 8;
const C_HI = 0, C_LO = 1, C_HI_TOL = 2, C_LO_TOL = 3, C_AMOUNT = 4, C_NOTIONAL = 5, C_POSITION = 6, C_SLOTS = 8;
// bucket array, per venue
const B_RATE = 0, B_BURST = 1, B_TOKENS = 2, B_REFILL_NS = 3, B_SLOTS = 4;
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
  /** this checker's copy of the limit slots (as published), valid for generation `gen` */
  private readonly lim: Float64Array;
  /**
   * What the rules compare against, derived from `lim` at each refresh, in one array: the
   * globals first (K_*), then one 8-slot line per instrument (C_*: collar multipliers, the same
   * with the comparison tolerance, amount / notional / position caps with the tolerance).
   * Fewer distinct arrays on the hot path is measurably faster here than one array per field.
   */
  private readonly caps: Float64Array;
  /** per venue: rate (per ns), bucket size, tokens, time of the last refill */
  private readonly bucket: Float64Array;
  private gen = -1;
  private killed = false;
  /** the last refresh found no consistent copy of the limits (fail closed until one is read) */
  private unreadable = false;
  private readonly i32: Int32Array;
  /** this checker's own row of the shared reject counters */
  private readonly counters: Uint32Array;
  private readonly instBase: number;
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
  private readonly exposure: Float64Array;
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
    const m = o.market;
    for (const [k, a] of Object.entries(m)) if ((a as ArrayLike<number>).length < L.instruments) throw new RangeError(`market view ${k} covers ${(a as ArrayLike<number>).length} instruments, limits ${L.instruments}`);
    this.limits = L;
    this.market = m;
    this.positions = o.positions;
    this.kill = o.kill ?? new KillSwitch(L);
    this.venues = L.venues;
    this.instruments = L.instruments;
    this.f64 = L.f64;
    this.i32 = L.i32;
    this.lim = new Float64Array(L.limitSlots);
    this.caps = new Float64Array(K_SLOTS + L.instruments * C_SLOTS);
    this.bucket = new Float64Array(L.venues * B_SLOTS);
    for (let v = 0; v < L.venues; v++) this.bucket[v * B_SLOTS + B_TOKENS] = NaN;
    this.counters = L.claimCounterRow();
    this.instBase = L.instBase;
    this.drainedCounts = new Uint32Array(REJECT_NAMES.length);
    this.usable = m.usable;
    this.updatedNs = m.updatedNs;
    this.refPrice = m.refPrice;
    this.ownBestBid = m.ownBestBid;
    this.ownBestAsk = m.ownBestAsk;
    this.openBuy = m.openBuy;
    this.openSell = m.openSell;
    this.net = o.positions.net;
    this.exposure = o.positions.exposure;
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
   * market order; nowNs on the same clock as market.updatedNs. The rules are written out in
   * this one method: split into a helper, the JIT left a call on the path (~10 ns here).
   */
  check(inst: number, venue: number, side: number, price: number, amount: number, nowNs: number): number {
    // A plain read: an Int32 read is tear-free under the ECMAScript memory model, and every
    // path below stores to a typed array, so the JIT cannot hoist this load out of a caller's
    // loop; what it guards is then read with Atomics (seqlock, kill word) in refresh().
    // Atomics.load here costs ~9 ns per check in Bun on this machine (bench/risk.bench.ts).
    const g = this.i32[I_GEN]!;
    if (g !== this.gen) this.refresh(g);
    if (this.killed) return this.reject(inst, venue, nowNs, this.unreadable ? Reject.LIMITS_UNAVAILABLE : Reject.KILL_SWITCH, this.kill.reason, 0);
    // NaN fails every comparison, so a NaN instrument, venue or amount is refused here; a NaN
    // price is a market order, and a price <= 0 or infinite is refused
    if (
      !(inst >= 0 && inst < this.instruments && venue >= 0 && venue < this.venues && (side === 0 || side === 1) && amount > 0 && amount < Infinity && !(price <= 0 || price === Infinity)) ||
      (inst | 0) !== inst ||
      (venue | 0) !== venue
    ) {
      return this.reject(inst, venue, nowNs, Reject.BAD_ORDER, amount, price);
    }
    const c = this.caps;
    if (this.usable[inst] !== 1) return this.reject(inst, venue, nowNs, Reject.BOOK_DESYNC, 0, 1);
    const age = nowNs - this.updatedNs[inst]!;
    if (!(age <= c[K_STALE]!)) return this.reject(inst, venue, nowNs, Reject.STALE_BOOK, age, c[K_STALE]!);
    const ref = this.refPrice[inst]!;
    if (!(ref > 0 && ref < Infinity)) return this.reject(inst, venue, nowNs, Reject.NO_REFERENCE_PRICE, ref, 0);
    const o = K_SLOTS + inst * C_SLOTS;
    const px = price === price ? price : side === 0 ? ref * c[o + C_HI]! : ref * c[o + C_LO]!;
    if (px > ref * c[o + C_HI_TOL]! || px < ref * c[o + C_LO_TOL]!) return this.reject(inst, venue, nowNs, Reject.PRICE_COLLAR, px, ref);
    if (amount > c[o + C_AMOUNT]!) return this.reject(inst, venue, nowNs, Reject.MAX_ORDER_AMOUNT, amount, this.limit(inst, 0));
    const notional = amount * px;
    if (notional > c[o + C_NOTIONAL]!) return this.reject(inst, venue, nowNs, Reject.MAX_ORDER_NOTIONAL, notional, this.limit(inst, 1));
    const net = this.net[inst]!;
    if (side === 0) {
      const worst = net + this.openBuy[inst]! + amount;
      if (worst > c[o + C_POSITION]!) return this.reject(inst, venue, nowNs, Reject.MAX_POSITION, worst, this.limit(inst, 2));
    } else {
      const worst = this.openSell[inst]! + amount - net;
      if (worst > c[o + C_POSITION]!) return this.reject(inst, venue, nowNs, Reject.MAX_POSITION, -worst, this.limit(inst, 2));
    }
    const grows = Math.abs(side === 0 ? net + amount : net - amount) - Math.abs(net);
    if (grows > 0) {
      const gross = this.exposure[0]! + grows * ref;
      if (gross > c[K_GROSS]!) return this.reject(inst, venue, nowNs, Reject.MAX_GROSS_EXPOSURE, gross, this.lim[G_GROSS]!);
    }
    // token bucket: refilled here, a token taken only once every rule passed
    const b = this.bucket;
    const vb = venue * B_SLOTS;
    const rate = b[vb + B_RATE]!;
    if (rate !== Infinity) {
      const burst = b[vb + B_BURST]!;
      let t = b[vb + B_TOKENS]!;
      if (t !== t) {
        t = burst;
        b[vb + B_REFILL_NS] = nowNs;
      } else {
        const dt = nowNs - b[vb + B_REFILL_NS]!;
        // a clock that steps back refills nothing and does not move the bucket's time back
        if (dt > 0) {
          t += dt * rate;
          if (t > burst) t = burst;
          b[vb + B_REFILL_NS] = nowNs;
        }
      }
      b[vb + B_TOKENS] = t;
      if (t < 1) return this.reject(inst, venue, nowNs, Reject.THROTTLE, t, 1);
    } else b[vb + B_TOKENS] = Infinity;
    const pnl = this.f64[G_DAY_PNL]!;
    if (-pnl >= c[K_LOSS]!) return this.reject(inst, venue, nowNs, Reject.DAILY_LOSS, -pnl, c[K_LOSS]!);
    const dd = this.f64[G_PEAK_PNL]! - pnl;
    if (dd >= c[K_DD]!) return this.reject(inst, venue, nowNs, Reject.DRAWDOWN, dd, c[K_DD]!);
    if (c[K_STP] === 1) {
      if (side === 0 ? px >= this.ownBestAsk[inst]! : px <= this.ownBestBid[inst]!) return this.reject(inst, venue, nowNs, Reject.SELF_TRADE, px, side === 0 ? this.ownBestAsk[inst]! : this.ownBestBid[inst]!);
    }
    b[vb + B_TOKENS]! -= 1;
    return Reject.OK;
    }

  /** a rejection: its figures kept for the caller and the log ring, counted in this checker's row */
  private reject(inst: number, venue: number, nowNs: number, code: number, value: number, limit: number): number {
    this.lastValue = value;
    this.lastLimit = limit;
    this.counters[code]!++;
    const o = (this.ringHead++ & (RING - 1)) * RING_FIELDS;
    const r = this.ring;
    r[o] = code;
    r[o + 1] = inst;
    r[o + 2] = venue;
    r[o + 3] = value;
    r[o + 4] = limit;
    r[o + 5] = nowNs;
    return code;
  }

  /** a new generation: copy the whole limit set (seqlock-consistent), derive the caps, read the kill word */
  private refresh(g: number): void {
    const f = this.lim, c = this.caps, b = this.bucket;
    if (this.limits.snapshotInto(f) < 0) {
      // limits unreadable (a writer held them past the spin limit, e.g. descheduled on a busy
      // host, or died mid-update): refuse every order as LIMITS_UNAVAILABLE, read again next check
      this.killed = true;
      this.unreadable = true;
      return;
    }
    this.unreadable = false;
    c[K_STALE] = f[G_STALE_NS]!;
    c[K_GROSS] = f[G_GROSS]! * TOL;
    c[K_LOSS] = f[G_LOSS]!;
    c[K_DD] = f[G_DD]!;
    c[K_STP] = f[G_STP]!;
    for (let i = 0; i < this.instruments; i++) {
      const ib = this.instBase + i * PER_INST, o = K_SLOTS + i * C_SLOTS, collar = f[ib + 3]!;
      c[o + C_HI] = 1 + collar;
      c[o + C_LO] = 1 - collar;
      c[o + C_HI_TOL] = (1 + collar) * TOL;
      c[o + C_LO_TOL] = (1 - collar) / TOL;
      c[o + C_AMOUNT] = f[ib]! * TOL;
      c[o + C_NOTIONAL] = f[ib + 1]! * TOL;
      c[o + C_POSITION] = f[ib + 2]! * TOL;
    }
    for (let v = 0; v < this.venues; v++) {
      const burst = this.limits.venue(v, 1);
      b[v * B_SLOTS + B_RATE] = this.limits.venue(v, 0);
      b[v * B_SLOTS + B_BURST] = burst;
      // an unthrottled venue reads as unlimited at once (not only after its next order); a bucket
      // fuller than its new size (or unthrottled until now) starts full
      if (b[v * B_SLOTS + B_RATE] === Infinity) b[v * B_SLOTS + B_TOKENS] = Infinity;
      else if (!(b[v * B_SLOTS + B_TOKENS]! <= burst)) b[v * B_SLOTS + B_TOKENS] = NaN;
    }
    this.killed = Atomics.load(this.i32, I_TRIPPED) !== 0;
    this.gen = g;
  }

  /** a per-instrument limit as configured (for the reject log) */
  private limit(inst: number, k: number): number {
    return this.lim[this.instBase + inst * PER_INST + k]!;
  }

  /** tokens left in a venue's bucket as of its last check (Infinity: no throttle) */
  tokensLeft(venue: number): number {
    const t = this.bucket[venue * B_SLOTS + B_TOKENS]!;
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
