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
 * limits into its own arrays under the seqlock and reads the kill word with Atomics, so every
 * decision is made on one whole set and a trip from any thread stops the next check. Gross
 * exposure uses the marks the engine gives PositionBook.mark() (O(1) per mark). The day's PnL
 * is read from the block as its owner last published it. The token buckets belong to this
 * instance: one order-sending thread per venue owns that venue's bucket. Rejections are counted
 * in this checker's own row of the shared counters (a plain increment, no atomic) and their
 * details (instrument, venue, value, limit, time) go into a small ring that the cold path
 * drains into the log.
 *
 * Memory ordering (why the pass path has no Atomics at all):
 *  - writers (RiskLimits.set, KillSwitch.trip/reset) finish their writes, then bump the
 *    generation word with Atomics.add (sequentially consistent); the set itself is also under
 *    the seqlock, and the trip flag is written with compareExchange before the bump;
 *  - check() reads the generation word with a plain load. It cannot tear (aligned Int32), and
 *    it cannot be hoisted out of a caller's loop: the JIT puts every typed-array store in one
 *    alias class, and every check() path stores to one (bucket, counters, ring) or calls out
 *    (refresh). On x86 (TSO) a plain load returns the newest value once the writer's store has
 *    left its store buffer, so a trip is seen by the next check that starts after that, with
 *    no fence on the reader;
 *  - when the word moved, refresh() does the synchronising reads: snapshotInto() copies the set
 *    between two Atomics.load of the sequence word (retrying on odd or changed), and the kill
 *    word is read with Atomics.load. Everything check() compares against afterwards is this
 *    checker's own copy, so a half-written set is never acted on;
 *  - the day PnL and peak are single-writer doubles (publishPnl) read plainly: an aligned
 *    8-byte load does not tear on x86-64, and a check that reads the value of one update earlier
 *    is what any reader racing a writer gets anyway.
 *
 * Where the time went, and why check() is compiled per checker (bench/risk.bench.ts, and
 * executed instructions counted with valgrind on FTL code, since this host's two vCPUs share a
 * core and wall time swings ~1.7x with the other one's load): as a class method, each of the ~11
 * typed arrays on the path was a field of `this` whose type the JIT cannot know, so every use
 * cost a field load, a cell check, a structure check, a length load, a length-overflow check and
 * a bounds check (~10 instructions, ~4 branches); a loop calling check() ran ~480 instructions
 * per passing order, ~500 per rejected one. JavaScriptCore folds a closure's captured constants
 * into its compiled code when the closure's scope is the only one that code was ever created for
 * (singleton scope inference): each array is then one load at a constant address, its length a
 * constant, and the bounds checks on `inst` and `venue` go once the sanity rule has proved them
 * below it. One function text shared by several checkers loses that (a second scope), so each
 * checker evaluates the program below from its own copy of the text (new Function over
 * checkProgram's source, with its own sourceURL): ~330 instructions per passing order, ~360 per
 * rejected one, ~200 of them in check() itself. The rules are one function with one reject exit
 * that counts and records in place (no call): split into pieces for the JIT's inliner, its
 * choices changed from run to run. Tried and not kept: the side (buy or sell at random) picked
 * with integer arithmetic instead of branches (~3 ns of mispredictions per check measured
 * against all-buy orders, yet 3 % slower overall); everything that depends on the side under
 * one branch (position, exposure and the self-trade test decided together): within +-3 % of
 * this, pass and reject, in interleaved runs. Where code generation from strings is not
 * allowed, the same program runs as an ordinary closure (shared code: correct, without the
 * folding; `ownCode` says which).
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
const RING_FIELDS = 6;
// global caps (this checker's copy): stale timeout, gross exposure cap (with the tolerance), loss, drawdown, self-trade on
const K_STALE = 0, K_GROSS = 1, K_LOSS = 2, K_DD = 3, K_STP = 4, K_SLOTS = 8;
// state words: the generation the copies are for, why orders are refused (0 none, 1 kill switch,
// 2 limits unreadable), reject ring head, how deep gate() is nested in the current check
const S_GEN = 0, S_BLOCKED = 1, S_RING = 2, S_GATE_DEPTH = 3, S_SLOTS = 4;
/** copies one check may take while writers keep publishing under it; then it refuses the order as LIMITS_UNAVAILABLE */
const GATE_RETRIES = 8;

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

/** check(): 0 when the order may go, else the Reject code it was refused with (counted, in the ring) */
export type CheckFn = (inst: number, venue: number, side: number, price: number, amount: number, nowNs: number) => number;

/** What the compiled check reads and writes; every array is held for the checker's lifetime. */
interface CheckEnv {
  /** the shared block's i32 header (generation word, kill reason) and f64 slots (day PnL, peak, configured limits' copy is `lim`) */
  i32: Int32Array;
  f64: Float64Array;
  /** this checker's state words (S_*), global caps (K_*) and copy of the configured limits */
  st: Int32Array;
  glob: Float64Array;
  lim: Float64Array;
  /** per instrument, derived at refresh: collar multipliers (market-order price), the same with the tolerance, caps with the tolerance */
  hi: Float64Array;
  lo: Float64Array;
  hiTol: Float64Array;
  loTol: Float64Array;
  maxAmount: Float64Array;
  maxNotional: Float64Array;
  maxPosition: Float64Array;
  /** per venue token bucket: refill rate (per ns; Infinity = no throttle), size, tokens, time of the last refill */
  rate: Float64Array;
  burst: Float64Array;
  tokens: Float64Array;
  refillNs: Float64Array;
  market: RiskMarketView;
  net: Float64Array;
  exposure: Float64Array;
  counters: Uint32Array;
  ring: Float64Array;
  instruments: number;
  venues: number;
  /** layout of the shared block and the reject codes, passed in (the program text cannot see this module) */
  layout: { I_GEN: number; G_DAY_PNL: number; G_PEAK_PNL: number; G_GROSS: number; instBase: number; PER_INST: number; RING: number; RING_FIELDS: number; K_STALE: number; K_GROSS: number; K_LOSS: number; K_DD: number; K_STP: number; S_GEN: number; S_BLOCKED: number; S_RING: number };
  codes: typeof Reject;
  /** the generation moved or orders are blocked: refresh, then check again or refuse (PreTradeRisk.gate) */
  gate: CheckFn;
}

/**
 * The rules as one program over the arrays of `e`. Self-contained on purpose: PreTradeRisk
 * evaluates its text once per checker (see the header), where only the globals (Math, Infinity)
 * and `e` are in scope; test/risk.test.ts runs every rule, pass and reject, through compiled
 * copies, so a reference to anything else would fail there.
 */
function checkProgram(e: CheckEnv): CheckFn {
  const i32 = e.i32, f64 = e.f64, st = e.st, glob = e.glob, lim = e.lim;
  const hi = e.hi, lo = e.lo, hiTol = e.hiTol, loTol = e.loTol, maxAmount = e.maxAmount, maxNotional = e.maxNotional, maxPosition = e.maxPosition;
  const rate = e.rate, burst = e.burst, tokens = e.tokens, refillNs = e.refillNs;
  const usable = e.market.usable, updatedNs = e.market.updatedNs, refPrice = e.market.refPrice, ownBestBid = e.market.ownBestBid, ownBestAsk = e.market.ownBestAsk;
  const openBuy = e.market.openBuy, openSell = e.market.openSell, netPos = e.net, exposure = e.exposure;
  const counters = e.counters, ring = e.ring, instruments = e.instruments, venues = e.venues, gate = e.gate;
  const L = e.layout;
  const I_GEN = L.I_GEN, G_DAY_PNL = L.G_DAY_PNL, G_PEAK_PNL = L.G_PEAK_PNL, G_GROSS = L.G_GROSS, INST_BASE = L.instBase, PER_INST = L.PER_INST;
  const RING_MASK = L.RING - 1, RING_FIELDS = L.RING_FIELDS, K_STALE = L.K_STALE, K_GROSS = L.K_GROSS, K_LOSS = L.K_LOSS, K_DD = L.K_DD, K_STP = L.K_STP;
  const S_GEN = L.S_GEN, S_BLOCKED = L.S_BLOCKED, S_RING = L.S_RING;
  const C = e.codes;
  const BAD_ORDER = C.BAD_ORDER, BOOK_DESYNC = C.BOOK_DESYNC, STALE_BOOK = C.STALE_BOOK, NO_REFERENCE_PRICE = C.NO_REFERENCE_PRICE, PRICE_COLLAR = C.PRICE_COLLAR;
  const MAX_ORDER_AMOUNT = C.MAX_ORDER_AMOUNT, MAX_ORDER_NOTIONAL = C.MAX_ORDER_NOTIONAL, MAX_POSITION = C.MAX_POSITION, MAX_GROSS_EXPOSURE = C.MAX_GROSS_EXPOSURE;
  const THROTTLE = C.THROTTLE, DAILY_LOSS = C.DAILY_LOSS, DRAWDOWN = C.DRAWDOWN, SELF_TRADE = C.SELF_TRADE;

  /**
   * The rules in their stated order; the first one broken sets the code, the figure that broke
   * it and its limit, and leaves the block for the one reject exit. Every comparison is the one
   * the rule states (NaN fails it, so NaN inputs are refused, never passed). The token bucket is
   * refilled into locals: written back with a token taken when the order passes, without one
   * when a rule from THROTTLE on refuses it (the rules before the throttle passed), not at all
   * when an earlier rule refuses it.
   */
  return function check(inst: number, venue: number, side: number, price: number, amount: number, nowNs: number): number {
    if (i32[I_GEN] !== st[S_GEN] || st[S_BLOCKED] !== 0) return gate(inst, venue, side, price, amount, nowNs);
    let code = BAD_ORDER, value = amount, limit = price, px = price, r = Infinity, t = Infinity, dt = 0;
    rules: {
      // NaN fails every comparison, so a NaN instrument, venue or amount is refused here; a NaN
      // price is a market order, and a price <= 0 or infinite is refused
      if (
        !(inst >= 0 && inst < instruments && venue >= 0 && venue < venues && (side === 0 || side === 1) && amount > 0 && amount < Infinity && !(price <= 0 || price === Infinity)) ||
        (inst | 0) !== inst ||
        (venue | 0) !== venue
      ) break rules;
      if (usable[inst] !== 1) {
        (code = BOOK_DESYNC), (value = 0), (limit = 1);
        break rules;
      }
      const age = nowNs - updatedNs[inst]!;
      if (!(age <= glob[K_STALE]!)) {
        (code = STALE_BOOK), (value = age), (limit = glob[K_STALE]!);
        break rules;
      }
      const ref = refPrice[inst]!;
      if (!(ref > 0 && ref < Infinity)) {
        (code = NO_REFERENCE_PRICE), (value = ref), (limit = 0);
        break rules;
      }
      if (price !== price) px = side === 0 ? ref * hi[inst]! : ref * lo[inst]!;
      if (px > ref * hiTol[inst]! || px < ref * loTol[inst]!) {
        (code = PRICE_COLLAR), (value = px), (limit = ref);
        break rules;
      }
      if (amount > maxAmount[inst]!) {
        (code = MAX_ORDER_AMOUNT), (value = amount), (limit = lim[INST_BASE + inst * PER_INST]!);
        break rules;
      }
      const notional = amount * px;
      if (notional > maxNotional[inst]!) {
        (code = MAX_ORDER_NOTIONAL), (value = notional), (limit = lim[INST_BASE + inst * PER_INST + 1]!);
        break rules;
      }
      const net = netPos[inst]!;
      const worst = side === 0 ? net + openBuy[inst]! + amount : openSell[inst]! + amount - net;
      if (worst > maxPosition[inst]!) {
        (code = MAX_POSITION), (value = side === 0 ? worst : -worst), (limit = lim[INST_BASE + inst * PER_INST + 2]!);
        break rules;
      }
      const grows = Math.abs(side === 0 ? net + amount : net - amount) - Math.abs(net);
      if (grows > 0) {
        const gross = exposure[0]! + grows * ref;
        if (gross > glob[K_GROSS]!) {
          (code = MAX_GROSS_EXPOSURE), (value = gross), (limit = lim[G_GROSS]!);
          break rules;
        }
      }
      // token bucket: an Infinity rate is no throttle (refresh() keeps such a bucket at Infinity
      // and starts any other one full)
      r = rate[venue]!;
      if (r !== Infinity) {
        t = tokens[venue]!;
        // a clock that steps back refills nothing and does not move the bucket's time back
        dt = nowNs - refillNs[venue]!;
        if (dt > 0) {
          t += dt * r;
          if (t > burst[venue]!) t = burst[venue]!;
        }
        if (t < 1) {
          (code = THROTTLE), (value = t), (limit = 1);
          break rules;
        }
      }
      const pnl = f64[G_DAY_PNL]!;
      if (-pnl >= glob[K_LOSS]!) {
        (code = DAILY_LOSS), (value = -pnl), (limit = glob[K_LOSS]!);
        break rules;
      }
      const dd = f64[G_PEAK_PNL]! - pnl;
      if (dd >= glob[K_DD]!) {
        (code = DRAWDOWN), (value = dd), (limit = glob[K_DD]!);
        break rules;
      }
      if (glob[K_STP] === 1) {
        const own = side === 0 ? ownBestAsk[inst]! : ownBestBid[inst]!;
        if (side === 0 ? px >= own : px <= own) {
          (code = SELF_TRADE), (value = px), (limit = own);
          break rules;
        }
      }
      if (r !== Infinity) {
        if (dt > 0) refillNs[venue] = nowNs;
        tokens[venue] = t - 1;
      }
      return 0;
    }
    if (code >= THROTTLE && r !== Infinity) {
      if (dt > 0) refillNs[venue] = nowNs;
      tokens[venue] = t;
    }
    counters[code]!++;
    const o = (st[S_RING]++ & RING_MASK) * RING_FIELDS;
    ring[o] = code;
    ring[o + 1] = inst;
    ring[o + 2] = venue;
    ring[o + 3] = value;
    ring[o + 4] = limit;
    ring[o + 5] = nowNs;
    return code;
  };
}

/** checkProgram's text, evaluated once per checker (see the header) */
const PROGRAM = `"use strict"; return (${checkProgram.toString()})(e);`;
let compiled = 0;

/** Each call returns a program with code of its own (its own sourceURL makes the text unique). */
function compileCheck(e: CheckEnv): { check: CheckFn; ownCode: boolean } {
  let make: ((env: CheckEnv) => CheckFn) | undefined;
  try {
    make = new Function("e", `${PROGRAM}\n//# sourceURL=bot4-risk-check-${++compiled}.js`) as typeof make;
  } catch {
    // code generation from strings not allowed here: the shared closure, same rules
    return { check: checkProgram(e), ownCode: false };
  }
  return { check: make!(e), ownCode: true };
}

export class PreTradeRisk {
  readonly limits: RiskLimits;
  readonly market: RiskMarketView;
  readonly positions: PositionBook;
  readonly kill: KillSwitch;
  readonly venues: number;
  /**
   * 0 when the order may go, else a Reject code (counted, its figures in the reject ring). side
   * 0 buy, 1 sell; price NaN for a market order; nowNs on the same clock as market.updatedNs.
   * Compiled for this checker at construction (see the header).
   */
  readonly check: CheckFn;
  /** this checker's copy of the limit slots (as published), valid for generation st[S_GEN] */
  private readonly lim: Float64Array;
  private readonly st = new Int32Array(S_SLOTS);
  private readonly glob = new Float64Array(K_SLOTS);
  private readonly inst: { hi: Float64Array; lo: Float64Array; hiTol: Float64Array; loTol: Float64Array; maxAmount: Float64Array; maxNotional: Float64Array; maxPosition: Float64Array };
  private readonly bucket: { rate: Float64Array; burst: Float64Array; tokens: Float64Array; refillNs: Float64Array };
  private readonly i32: Int32Array;
  /** this checker's own row of the shared reject counters */
  private readonly counters: Uint32Array;
  /** reject details ring: code, inst, venue, value, limit, nowNs; head in st[S_RING] */
  private readonly ring = new Float64Array(RING * RING_FIELDS);
  private ringDrained = 0;
  private readonly drainedCounts: Uint32Array;
  /** false where code generation from strings is not allowed and check() runs as the shared closure */
  readonly ownCode: boolean;

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
    this.i32 = L.i32;
    this.lim = new Float64Array(L.limitSlots);
    const n = L.instruments, f = () => new Float64Array(n);
    this.inst = { hi: f(), lo: f(), hiTol: f(), loTol: f(), maxAmount: f(), maxNotional: f(), maxPosition: f() };
    const v = () => new Float64Array(L.venues);
    this.bucket = { rate: v(), burst: v(), tokens: v().fill(NaN), refillNs: v() };
    this.counters = L.claimCounterRow();
    this.drainedCounts = new Uint32Array(REJECT_NAMES.length);
    this.st[S_GEN] = -1;
    this.st[S_BLOCKED] = 1; // nothing passes before the first refresh
    const gate: CheckFn = (inst, venue, side, price, amount, nowNs) => this.gate(inst, venue, side, price, amount, nowNs);
    const prog = compileCheck({
      i32: L.i32,
      f64: L.f64,
      st: this.st,
      glob: this.glob,
      lim: this.lim,
      ...this.inst,
      ...this.bucket,
      market: m,
      net: o.positions.net,
      exposure: o.positions.exposure,
      counters: this.counters,
      ring: this.ring,
      instruments: n,
      venues: L.venues,
      layout: { I_GEN, G_DAY_PNL, G_PEAK_PNL, G_GROSS, instBase: L.instBase, PER_INST, RING, RING_FIELDS, K_STALE, K_GROSS, K_LOSS, K_DD, K_STP, S_GEN, S_BLOCKED, S_RING },
      codes: Reject,
      gate,
    });
    this.check = prog.check;
    this.ownCode = prog.ownCode;
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

  /** the figure that broke the last rejected rule, and the limit it broke (NaN before any reject) */
  get lastValue(): number {
    return this.st[S_RING] === 0 ? NaN : this.ring[((this.st[S_RING]! - 1) & (RING - 1)) * RING_FIELDS + 3]!;
  }
  get lastLimit(): number {
    return this.st[S_RING] === 0 ? NaN : this.ring[((this.st[S_RING]! - 1) & (RING - 1)) * RING_FIELDS + 4]!;
  }

  /**
   * check()'s way out when the generation word moved or orders are blocked: copy the new set
   * (refresh; again while the limits were unreadable), then refuse (kill switch, unreadable
   * limits) or run the rules on the new copy. A writer that publishes again before the rules
   * start sends them back here; after GATE_RETRIES copies in one check the order is refused as
   * LIMITS_UNAVAILABLE rather than chasing the writer.
   */
  private gate(inst: number, venue: number, side: number, price: number, amount: number, nowNs: number): number {
    const st = this.st;
    if (st[S_GATE_DEPTH]! >= GATE_RETRIES) return this.record(Reject.LIMITS_UNAVAILABLE, inst, venue, this.kill.reason, 0, nowNs);
    const g = this.i32[I_GEN]!;
    if (g !== st[S_GEN] || st[S_BLOCKED] === 2) this.refresh(g);
    const blocked = st[S_BLOCKED]!;
    if (blocked !== 0) return this.record(blocked === 2 ? Reject.LIMITS_UNAVAILABLE : Reject.KILL_SWITCH, inst, venue, this.kill.reason, 0, nowNs);
    st[S_GATE_DEPTH]!++;
    const code = this.check(inst, venue, side, price, amount, nowNs);
    st[S_GATE_DEPTH]!--;
    return code;
  }

  /** a refusal decided here (kill switch, unreadable limits): counted and in the ring, as check() does its own */
  private record(code: number, inst: number, venue: number, value: number, limit: number, nowNs: number): number {
    this.counters[code]!++;
    const o = (this.st[S_RING]!++ & (RING - 1)) * RING_FIELDS, r = this.ring;
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
    const f = this.lim, c = this.glob, I = this.inst, B = this.bucket, L = this.limits;
    if (L.snapshotInto(f) < 0) {
      // limits unreadable (a writer held them past the spin limit, e.g. descheduled on a busy
      // host, or died mid-update): refuse every order as LIMITS_UNAVAILABLE, read again next check
      this.st[S_BLOCKED] = 2;
      return;
    }
    c[K_STALE] = f[G_STALE_NS]!;
    c[K_GROSS] = f[G_GROSS]! * TOL;
    c[K_LOSS] = f[G_LOSS]!;
    c[K_DD] = f[G_DD]!;
    c[K_STP] = f[G_STP]!;
    for (let i = 0; i < L.instruments; i++) {
      const ib = L.instBase + i * PER_INST, collar = f[ib + 3]!;
      I.hi[i] = 1 + collar;
      I.lo[i] = 1 - collar;
      I.hiTol[i] = (1 + collar) * TOL;
      I.loTol[i] = (1 - collar) / TOL;
      I.maxAmount[i] = f[ib]! * TOL;
      I.maxNotional[i] = f[ib + 1]! * TOL;
      I.maxPosition[i] = f[ib + 2]! * TOL;
    }
    for (let v = 0; v < L.venues; v++) {
      const rate = L.venue(v, 0), burst = L.venue(v, 1);
      B.rate[v] = rate;
      B.burst[v] = burst;
      if (rate === Infinity) B.tokens[v] = Infinity;
      else if (!(B.tokens[v]! <= burst)) {
        // a bucket that was unthrottled, is new, or is fuller than its new size starts full at
        // its new size: with its refill time at -Infinity the next check refills it to exactly
        // `burst` and stamps that check's time, as a first check on a fresh bucket would
        B.tokens[v] = burst;
        B.refillNs[v] = -Infinity;
      }
    }
    this.st[S_BLOCKED] = Atomics.load(this.i32, I_TRIPPED) !== 0 ? 1 : 0;
    this.st[S_GEN] = g;
  }

  /** tokens left in a venue's bucket as of its last check (Infinity: no throttle) */
  tokensLeft(venue: number): number {
    const t = this.bucket.tokens[venue]!;
    return t === t ? t : this.limits.venue(venue, 1);
  }

  /**
   * Cold path: logs the rejects recorded since the last drain (the newest 64 in detail; older ones
   * as "not detailed"), and returns how many rejects this instance recorded since then.
   */
  drainRejects(log: (msg: string, fields: RejectRecord | { missed: number }) => void): number {
    const head = this.st[S_RING]!;
    const n = (head - this.ringDrained) | 0;
    const missed = n > RING ? n - RING : 0;
    if (missed > 0) log("risk rejects not detailed (ring overrun between drains)", { missed });
    for (let k = this.ringDrained + missed; k !== head; k = (k + 1) | 0) {
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
    this.ringDrained = head;
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
