/**
 * Smart order routing over a consolidated book.
 *
 * ConsolidatedBook holds, per venue, the top `depth` levels of each side as (price, amount) pairs,
 * best first, in one Float64Array per side: exactly the layout bot4_book_levels writes, so the
 * engine refreshes a venue from its C book with one FFI call into a preallocated view and no
 * allocation (fillFromCBook). Beside the levels: taker fee (bps), health (up, in sync), recent
 * latency (ns) and the time of the last refresh, per venue, in typed arrays.
 *
 * SmartOrderRouter.route() splits a taker order across venues to get the best all-in price:
 * each level's price is adjusted by the venue's taker fee and a latency penalty (bps per ms of
 * recent latency: a slow venue's price is more likely gone when the order lands), and levels are
 * taken from all venues in order of adjusted price, a k-way merge of the per-venue ladders, until
 * the amount is filled or the limit is reached. Because each ladder's adjusted price only worsens
 * down the book, this greedy merge gives the least total adjusted cost for the amount (the test
 * checks it against an exhaustive search on small books and a sort of all levels on real ones).
 * A venue that is down, out of sync, stale, or slower than the latency cap is skipped; a level
 * that is not a valid continuation of its ladder (price not finite/positive, not strictly worse
 * than the one before, amount not > 0) ends that ladder for the decision and is counted.
 *
 * Output goes into a preallocated RouteResult: per child the venue index, amount and limit price
 * (the worst level price it takes, so an IOC at that limit takes exactly the levels counted),
 * children in the order their venues were first chosen. No allocation per decision.
 */
import type { CBook } from "../../ffi/book.ts";
import { K } from "../../ffi/lib.ts";
import type { Side } from "../domain/order.ts";

export interface ConsolidatedBookOptions {
  /** venue names, index = venue id in every array below */
  venues: string[];
  /** levels kept per venue and side */
  depth: number;
}

export class ConsolidatedBook {
  readonly venues: readonly string[];
  readonly depth: number;
  /** venue v's side at [v * depth * 2, ...): price, amount, price, amount ... best first */
  readonly bids: Float64Array;
  readonly asks: Float64Array;
  /** levels present per venue */
  readonly bidCount: Uint32Array;
  readonly askCount: Uint32Array;
  readonly takerFeeBps: Float64Array;
  readonly up: Uint8Array;
  readonly inSync: Uint8Array;
  /** recent order round-trip (or entry) latency per venue, ns */
  readonly latencyNs: Float64Array;
  /** clock time of the last refresh per venue, ns (staleness check) */
  readonly updatedNs: Float64Array;
  /** the venue's order filters for this instrument: amount step, price step, least notional (0: none) */
  readonly lotSize: Float64Array;
  readonly tickSize: Float64Array;
  readonly minNotional: Float64Array;
  private readonly bidViews: Float64Array[];
  private readonly askViews: Float64Array[];

  constructor(opts: ConsolidatedBookOptions) {
    const n = opts.venues.length;
    if (n < 1 || n > 64) throw new RangeError(`a consolidated book needs 1..64 venues, got ${n}`);
    if (!(Number.isInteger(opts.depth) && opts.depth >= 1 && opts.depth <= 5000)) throw new RangeError(`depth must be 1..5000 levels, got ${opts.depth}`);
    if (new Set(opts.venues).size !== n) throw new RangeError(`venue names must be distinct: ${opts.venues.join(", ")}`);
    this.venues = [...opts.venues];
    this.depth = opts.depth;
    this.bids = new Float64Array(n * opts.depth * 2);
    this.asks = new Float64Array(n * opts.depth * 2);
    this.bidCount = new Uint32Array(n);
    this.askCount = new Uint32Array(n);
    this.takerFeeBps = new Float64Array(n);
    this.up = new Uint8Array(n);
    this.inSync = new Uint8Array(n);
    this.latencyNs = new Float64Array(n);
    this.updatedNs = new Float64Array(n);
    this.lotSize = new Float64Array(n);
    this.tickSize = new Float64Array(n);
    this.minNotional = new Float64Array(n);
    const w = opts.depth * 2;
    this.bidViews = this.venues.map((_, v) => this.bids.subarray(v * w, (v + 1) * w));
    this.askViews = this.venues.map((_, v) => this.asks.subarray(v * w, (v + 1) * w));
  }

  venueIndex(name: string): number {
    const i = this.venues.indexOf(name);
    if (i < 0) throw new RangeError(`unknown venue ${name} (have ${this.venues.join(", ")})`);
    return i;
  }

  /** The preallocated view of venue v's side (0 bid, 1 ask) that a C book writes into. */
  view(v: number, side: 0 | 1): Float64Array {
    return side ? this.askViews[v]! : this.bidViews[v]!;
  }

  /** Refreshes venue v from its C book: two FFI calls, no allocation; in sync = the book's own state. */
  fillFromCBook(v: number, book: CBook, nowNs: number): void {
    this.bidCount[v] = K.bot4_book_levels(book.ptr, 0, this.bidViews[v]!, this.depth);
    this.askCount[v] = K.bot4_book_levels(book.ptr, 1, this.askViews[v]!, this.depth);
    this.inSync[v] = book.synced ? 1 : 0;
    this.updatedNs[v] = nowNs;
  }

  /** Sets venue v's side from parallel arrays (cold path: tests, snapshots); levels are checked. */
  setLevels(v: number, side: Side, prices: ArrayLike<number>, amounts: ArrayLike<number>, nowNs = 0): void {
    if (prices.length !== amounts.length) throw new RangeError("prices and amounts differ in length");
    const n = Math.min(prices.length, this.depth);
    const out = side === "buy" ? this.bidViews[v]! : this.askViews[v]!;
    for (let i = 0; i < n; i++) {
      const p = prices[i]!, a = amounts[i]!;
      if (!(p > 0 && Number.isFinite(p)) || !(a > 0 && Number.isFinite(a))) throw new RangeError(`${this.venues[v]} ${side} level ${i}: price ${p} amount ${a} is not a valid level`);
      if (i > 0 && (side === "buy" ? p >= prices[i - 1]! : p <= prices[i - 1]!)) throw new RangeError(`${this.venues[v]} ${side} levels are not best first at level ${i} (${prices[i - 1]} then ${p})`);
      out[2 * i] = p;
      out[2 * i + 1] = a;
    }
    (side === "buy" ? this.bidCount : this.askCount)[v] = n;
    this.updatedNs[v] = nowNs;
  }

  setVenue(v: number, state: { takerFeeBps?: number; up?: boolean; inSync?: boolean; latencyNs?: number; lotSize?: number; tickSize?: number; minNotional?: number }): void {
    for (const k of ["lotSize", "tickSize", "minNotional"] as const) {
      const x = state[k];
      if (x === undefined) continue;
      if (!(x >= 0 && x < Infinity)) throw new RangeError(`${this.venues[v]}: ${k} ${x} must be a finite number >= 0 (0: no filter)`);
      this[k][v] = x;
    }
    if (state.takerFeeBps !== undefined) {
      if (!Number.isFinite(state.takerFeeBps) || state.takerFeeBps < -100 || state.takerFeeBps > 1000) throw new RangeError(`taker fee ${state.takerFeeBps} bps is not plausible`);
      this.takerFeeBps[v] = state.takerFeeBps;
    }
    if (state.up !== undefined) this.up[v] = state.up ? 1 : 0;
    if (state.inSync !== undefined) this.inSync[v] = state.inSync ? 1 : 0;
    if (state.latencyNs !== undefined) {
      if (!(state.latencyNs >= 0)) throw new RangeError(`latency ${state.latencyNs} ns must be >= 0`);
      this.latencyNs[v] = state.latencyNs;
    }
  }

  /** Best price of a side over venues that are up and in sync (NaN if none). */
  best(side: Side): number {
    const isBid = side === "buy";
    const a = isBid ? this.bids : this.asks, c = isBid ? this.bidCount : this.askCount;
    let best = NaN;
    for (let v = 0; v < this.venues.length; v++) {
      if (!this.up[v] || !this.inSync[v] || c[v] === 0) continue;
      const p = a[v * this.depth * 2]!;
      if (best !== best || (isBid ? p > best : p < best)) best = p;
    }
    return best;
  }
}

/** Preallocated decision output. */
export class RouteResult {
  /** children: venue index, amount, limit price, in the order venues were first chosen */
  readonly venue: Int32Array;
  readonly amount: Float64Array;
  readonly limitPrice: Float64Array;
  count = 0;
  /** amount routed (< requested when depth or the limit ran out) */
  filled = 0;
  /** sum of price x amount over children (quote, before fees) */
  notional = 0;
  /** taker fees of the children (quote) */
  fees = 0;
  /** the objective minimised: adjusted price x amount summed (fees and latency penalty included) */
  score = 0;
  /**
   * amount the venues' lot sizes and minimum notionals left unrouted although depth was there
   * (after moving what it could to other chosen venues): the caller's to send again or drop
   */
  lotRemainder = 0;
  /** children dropped because, rounded down to the lot, they were empty or below min notional */
  dropped = 0;
  constructor(maxVenues: number) {
    this.venue = new Int32Array(maxVenues);
    this.amount = new Float64Array(maxVenues);
    this.limitPrice = new Float64Array(maxVenues);
  }
}

export interface RouterOptions {
  /** price penalty per ms of a venue's recent latency, in bps (0: latency only breaks ties) */
  latencyPenaltyBpsPerMs?: number;
  /** venues slower than this are skipped (default: none skipped) */
  maxLatencyNs?: number;
  /** venues not refreshed within this of `nowNs` are skipped (default: no check) */
  maxStalenessNs?: number;
}

export interface RouterCounters {
  decisions: number;
  /** venues skipped as down, out of sync, stale or too slow (summed over decisions) */
  skippedVenues: number;
  /** ladders cut short at an invalid level */
  badLevels: number;
}

/**
 * Key of a venue's level at index i (its cursor): sgn x price x fee/latency factor, or Infinity
 * when the ladder has ended (i >= count), passed the limit, or the level is not a valid
 * continuation (-1: caller counts it and treats it as Infinity). A plain function of numbers so
 * the JIT inlines it into the merge loop.
 */
function levelKey(lv: Float64Array, o: number, i: number, count: number, sgn: number, limit: number, f: number): number {
  if (i >= count) return Infinity;
  const p = lv[o]!, a = lv[o + 1]!;
  if (!(p > 0 && p < Infinity) || !(a > 0 && a < Infinity) || (i > 0 && sgn * (p - lv[o - 2]!) <= 0)) return -1;
  if (sgn * (p - limit) > 0) return Infinity;
  return sgn * p * f;
}

export class SmartOrderRouter {
  readonly counters: RouterCounters = { decisions: 0, skippedVenues: 0, badLevels: 0 };
  private readonly n: number;
  private readonly fac: Float64Array;
  private readonly cur: Uint32Array;
  private readonly child: Int32Array;
  /** per venue: sign-normalised all-in price of its current level (Infinity: nothing usable left) */
  private readonly key: Float64Array;
  private readonly feeFrac: Float64Array;
  private readonly penalty: number;
  private readonly maxLatencyNs: number;
  private readonly maxStalenessNs: number;

  constructor(readonly book: ConsolidatedBook, opts: RouterOptions = {}) {
    this.n = book.venues.length;
    this.fac = new Float64Array(this.n);
    this.cur = new Uint32Array(this.n);
    this.child = new Int32Array(this.n);
    this.key = new Float64Array(this.n);
    this.feeFrac = new Float64Array(this.n);
    this.penalty = opts.latencyPenaltyBpsPerMs ?? 0;
    this.maxLatencyNs = opts.maxLatencyNs ?? Infinity;
    this.maxStalenessNs = opts.maxStalenessNs ?? Infinity;
    if (!(this.penalty >= 0)) throw new RangeError(`latency penalty must be >= 0 bps/ms, got ${this.penalty}`);
  }

  /**
   * Splits a taker order of `amount` (buy takes asks, sell hits bids) across venues, taking no
   * level priced beyond `limitPrice` (raw venue price). Writes into `out`; returns out.count.
   */
  route(side: Side, amount: number, out: RouteResult, limitPrice = side === "buy" ? Infinity : 0, nowNs = NaN): number {
    const b = this.book, n = this.n, D2 = b.depth * 2;
    const isBuy = side === "buy";
    const lv = isBuy ? b.asks : b.bids, cnt = isBuy ? b.askCount : b.bidCount;
    const fac = this.fac, cur = this.cur, child = this.child, key = this.key, feeFrac = this.feeFrac, lat = b.latencyNs;
    const sgn = isBuy ? 1 : -1;
    this.counters.decisions++;
    out.count = 0;
    out.filled = 0;
    out.notional = 0;
    out.fees = 0;
    out.score = 0;
    out.lotRemainder = 0;
    out.dropped = 0;
    if (!(amount > 0) || out.venue.length < n) {
      if (!(amount > 0)) return 0;
      throw new RangeError(`RouteResult holds ${out.venue.length} children, the book has ${n} venues`);
    }
    const checkAge = nowNs === nowNs && this.maxStalenessNs !== Infinity;
    for (let v = 0; v < n; v++) {
      cur[v] = 0;
      child[v] = -1;
      if (!b.up[v] || !b.inSync[v] || lat[v]! > this.maxLatencyNs || (checkAge && nowNs - b.updatedNs[v]! > this.maxStalenessNs)) {
        fac[v] = NaN;
        this.counters.skippedVenues++;
      } else {
        feeFrac[v] = b.takerFeeBps[v]! / 1e4;
        // buy: pay price x (1 + fee + penalty); sell: receive price x (1 - fee - penalty)
        fac[v] = 1 + (sgn * (b.takerFeeBps[v]! + this.penalty * lat[v]! * 1e-6)) / 1e4;
      }
    }
    for (let v = 0; v < n; v++) {
      const f = fac[v]!;
      let k = f !== f ? Infinity : levelKey(lv, v * D2, 0, cnt[v]!, sgn, limitPrice, f);
      if (k === -1) {
        this.counters.badLevels++;
        k = Infinity;
      }
      key[v] = k;
    }
    let left = amount, totalNotional = 0, fees = 0, score = 0;
    while (left > 0) {
      // best and second-best venue by key (sign-normalised all-in price: lower is better)
      let best = -1, bk = Infinity, sk = Infinity;
      for (let v = 0; v < n; v++) {
        const k = key[v]!;
        if (k === Infinity) continue;
        if (best < 0 || k < bk || (k === bk && lat[v]! < lat[best]!)) {
          if (best >= 0) sk = bk;
          best = v;
          bk = k;
        } else if (k < sk) sk = k;
      }
      if (best < 0) break;
      let k = child[best]!;
      if (k < 0) {
        k = child[best] = out.count++;
        out.venue[k] = best;
        out.amount[k] = 0;
      }
      // take from this venue while its next level still beats every other venue's (ties: rescan)
      const f = fac[best]!, end = cnt[best]!;
      let i = cur[best]!, o = best * D2 + 2 * i;
      let took = 0, notional = 0, p = 0;
      for (;;) {
        p = lv[o]!;
        const a = lv[o + 1]!;
        const take = a < left ? a : left;
        took += take;
        notional += take * p;
        score += take * bk;
        left -= take;
        i++;
        o += 2;
        if (i >= end) {
          bk = Infinity;
          break;
        }
        // the next level must continue the ladder (valid, strictly worse) and be within the limit
        const np = lv[o]!, na = lv[o + 1]!;
        if (!(np > 0 && np < Infinity) || !(na > 0 && na < Infinity) || sgn * (np - p) <= 0) {
          this.counters.badLevels++;
          bk = Infinity;
          break;
        }
        if (sgn * (np - limitPrice) > 0) {
          bk = Infinity;
          break;
        }
        bk = sgn * np * f;
        if (!(left > 0) || !(bk < sk)) break;
      }
      cur[best] = i;
      key[best] = bk;
      out.amount[k]! += took;
      out.limitPrice[k] = p;
      totalNotional += notional;
      fees += notional * feeFrac[best]!;
    }
    out.notional = totalNotional;
    out.fees = fees;
    out.score = sgn * score;
    out.filled = amount - (left > 0 ? left : 0);
    let filters = false;
    for (let k = 0; k < out.count; k++) {
      const v = out.venue[k]!;
      if (b.lotSize[v]! > 0 || b.tickSize[v]! > 0 || b.minNotional[v]! > 0) filters = true;
    }
    if (filters) this.applyFilters(out, sgn, limitPrice);
    return out.count;
  }

  /**
   * The venues' filters on the children the merge chose (only when a chosen venue has one):
   *  1. each child's amount rounded down to its venue's lot (a hair under a whole lot, from
   *     summing level amounts, counts as the whole lot);
   *  2. a child below its venue's min notional, or empty, is dropped;
   *  3. what 1-2 cut is offered to the surviving children in order of their next level's all-in
   *     price, each taking whole lots of depth it has left within the limit;
   *  4. each child's notional, fees, score and limit price are recomputed from the levels it now
   *     takes (a prefix of its venue's ladder, as in the merge), the limit rounded to the venue's
   *     tick away from the market (buy up, sell down) so it still covers the last level;
   *  5. what is still cut is out.lotRemainder; out.filled is what the children carry.
   * Cold-ish path (venues with filters only); no allocation.
   */
  private applyFilters(out: RouteResult, sgn: number, limitPrice: number): void {
    const b = this.book, D2 = b.depth * 2, isBuy = sgn > 0;
    const lv = isBuy ? b.asks : b.bids, cnt = isBuy ? b.askCount : b.bidCount;
    let cut = 0;
    for (let k = 0; k < out.count; k++) {
      const v = out.venue[k]!, lot = b.lotSize[v]!;
      const a = out.amount[k]!;
      // a hair under a whole number of lots (level amounts summed in floating point) is that many
      let keep = lot > 0 ? Math.floor(a / lot + 1e-9) * lot : a;
      if (Math.abs(keep - a) <= lot * 1e-9) keep = a; // already whole lots (up to rounding): unchanged
      else if (keep < a) cut += a - keep;
      out.amount[k] = keep;
    }
    // drop empty and below-minimum children (compacting the arrays), then hand the cut around
    let w = 0;
    for (let k = 0; k < out.count; k++) {
      const v = out.venue[k]!, a = out.amount[k]!;
      const minN = b.minNotional[v]!;
      if (!(a > 0) || (minN > 0 && this.notionalOf(lv, v * D2, cnt[v]!, a) < minN * (1 - 1e-12))) {
        cut += a;
        out.dropped++;
        continue;
      }
      out.venue[w] = v;
      out.amount[w] = a;
      w++;
    }
    out.count = w;
    if (cut === 0 && out.dropped === 0) {
      // the common case: every child already whole lots and above the minimum; only the tick
      for (let k = 0; k < w; k++) {
        const tick = b.tickSize[out.venue[k]!]!, p = out.limitPrice[k]!;
        if (tick > 0) out.limitPrice[k] = (isBuy ? Math.ceil(p / tick - 1e-9) : Math.floor(p / tick + 1e-9)) * tick;
      }
      return;
    }
    // reassignment: best next all-in price first (children are few: a scan per pass)
    const done = this.cur; // reused as a per-child "offered" flag
    for (let k = 0; k < w; k++) done[k] = 0;
    for (let pass = 0; pass < w && cut > 0; pass++) {
      let best = -1, bestKey = Infinity;
      for (let k = 0; k < w; k++) {
        if (done[k]) continue;
        const v = out.venue[k]!;
        const key = this.nextKey(lv, v * D2, cnt[v]!, out.amount[k]!, sgn, v);
        if (key < bestKey) {
          bestKey = key;
          best = k;
        }
      }
      if (best < 0) break;
      done[best] = 1;
      const v = out.venue[best]!, lot = b.lotSize[v]!, have = out.amount[best]!;
      // depth left within the limit, counted only as far as the cut needs
      const cap = this.depthWithin(lv, v * D2, cnt[v]!, sgn, limitPrice, have + cut) - have;
      let add = cut < cap ? cut : cap;
      if (lot > 0) add = Math.floor(add / lot + 1e-9) * lot;
      if (add > cap) add -= lot; // the slack must not take depth that is not there
      if (!(add > 0)) continue;
      out.amount[best]! += add;
      cut -= add;
    }
    // notional, fees, score and limit price from the levels each child takes
    let notional = 0, fees = 0, score = 0, filled = 0;
    for (let k = 0; k < w; k++) {
      const v = out.venue[k]!, o = v * D2, end = cnt[v]!, f = this.fac[v]!;
      let left = out.amount[k]!, p = 0, nk = 0;
      const eps = left * 1e-9; // the lot slack above: not a reason to touch the next level
      filled += left;
      for (let i = 0; i < end && left > eps; i++) {
        p = lv[o + 2 * i]!;
        const a = lv[o + 2 * i + 1]!;
        const take = a < left ? a : left;
        nk += take * p;
        score += take * sgn * p * f;
        left -= take;
      }
      notional += nk;
      fees += nk * this.feeFrac[v]!;
      const tick = b.tickSize[v]!;
      out.limitPrice[k] = tick > 0 ? (isBuy ? Math.ceil(p / tick - 1e-9) : Math.floor(p / tick + 1e-9)) * tick : p;
    }
    out.notional = notional;
    out.fees = fees;
    out.score = sgn * score;
    out.filled = filled;
    out.lotRemainder = cut > 1e-12 ? cut : 0;
  }

  /** amount on a ladder at prices within the limit, up to its first invalid level (stops once past `enough`) */
  private depthWithin(lv: Float64Array, o: number, count: number, sgn: number, limit: number, enough: number): number {
    let sum = 0;
    for (let i = 0; i < count && sum < enough; i++) {
      const p = lv[o + 2 * i]!, a = lv[o + 2 * i + 1]!;
      if (!(p > 0 && p < Infinity) || !(a > 0 && a < Infinity) || (i > 0 && sgn * (p - lv[o + 2 * i - 2]!) <= 0) || sgn * (p - limit) > 0) break;
      sum += a;
    }
    return sum;
  }

  /** quote notional of taking `amount` from the top of a ladder */
  private notionalOf(lv: Float64Array, o: number, count: number, amount: number): number {
    let left = amount, n = 0;
    for (let i = 0; i < count && left > 1e-15; i++) {
      const a = lv[o + 2 * i + 1]!;
      const take = a < left ? a : left;
      n += take * lv[o + 2 * i]!;
      left -= take;
    }
    return n;
  }

  /** all-in key of the level where a child of `taken` continues (Infinity: ladder used up) */
  private nextKey(lv: Float64Array, o: number, count: number, taken: number, sgn: number, v: number): number {
    let left = taken;
    for (let i = 0; i < count; i++) {
      const a = lv[o + 2 * i + 1]!;
      if (left < a - 1e-15) return sgn * lv[o + 2 * i]! * this.fac[v]!;
      left -= a;
    }
    return Infinity;
  }
}
