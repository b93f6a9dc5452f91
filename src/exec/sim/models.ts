/**
 * Pluggable behaviour of the simulated exchange, in the manner of hftbacktest's LatencyModel and
 * QueueModel: one engine serves backtests and paper trading, and what varies between venues and
 * studies (fees, how a resting order moves up its queue, how long orders and reports travel) is a
 * model passed in. Every random draw comes from a seeded Rng, so a run is the same for a seed.
 */
import type { Side } from "../../domain/order.ts";

/** Deterministic PRNG (splitmix32 over a 32-bit state): uniform doubles in [0, 1). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x9e3779b9) | 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z ^= z >>> 15;
    return (z >>> 0) / 4294967296;
  }
}

// ---------------------------------------------------------------------------------------------
// Fees

/** Fee of one fill, in quote currency; negative = rebate. */
export interface FeeModel {
  fee(symbol: string, side: Side, price: number, amount: number, taker: boolean): number;
  /** highest fee rate (fraction of notional) any fill can cost: what a buy reserves beyond its notional */
  maxRate(symbol: string): number;
}

/** Maker/taker rates in basis points of notional, optionally per symbol; a negative maker rate is a rebate. */
export class BpsFeeModel implements FeeModel {
  constructor(
    readonly makerBps: number,
    readonly takerBps: number,
    private readonly perSymbol: Record<string, { makerBps: number; takerBps: number }> = {},
  ) {
    for (const [s, r] of [["*", { makerBps, takerBps }] as const, ...Object.entries(perSymbol)]) {
      if (!Number.isFinite(r.makerBps) || !Number.isFinite(r.takerBps)) throw new RangeError(`fee rates for ${s} must be finite bps`);
      if (r.takerBps < 0) throw new RangeError(`taker fee for ${s} must be >= 0 bps, got ${r.takerBps}`);
      if (r.makerBps + r.takerBps < 0) throw new RangeError(`maker rebate for ${s} exceeds the taker fee: a round trip would earn money`);
    }
  }
  fee(symbol: string, _side: Side, price: number, amount: number, taker: boolean): number {
    const r = this.perSymbol[symbol];
    const bps = taker ? (r?.takerBps ?? this.takerBps) : (r?.makerBps ?? this.makerBps);
    return (price * amount * bps) / 1e4;
  }
  maxRate(symbol: string): number {
    const r = this.perSymbol[symbol];
    return Math.max(0, r?.takerBps ?? this.takerBps, r?.makerBps ?? this.makerBps) / 1e4;
  }
}

// ---------------------------------------------------------------------------------------------
// Queue position of resting orders

/**
 * How the venue amount queued ahead of a resting order (`front`) moves when the level's amount
 * changes without a print at that price (cancels and new orders; prints are handled by the
 * exchange itself: a print of q at the order's price always consumes q of the queue first).
 */
export interface QueueModel {
  /** level at the order's price went from `prev` to `next`; returns the new front, 0 <= front <= next */
  levelChanged(front: number, prev: number, next: number): number;
}

/** Conservative: only prints at my price move me up; cancels are assumed to be behind me (front is only capped by the level). */
export class ConservativeQueue implements QueueModel {
  levelChanged(front: number, _prev: number, next: number): number {
    return front < next ? front : next;
  }
}

/**
 * Probabilistic: a decrease of d is taken from ahead of me with probability
 * p = f(back) / (f(back) + f(front)), f(x) = x^power (power 1: in proportion to the amounts; higher
 * powers: cancels come mostly from the larger side). Uses the expected value, d * p, so it needs no
 * draw and a run stays deterministic. Increases join behind me.
 */
export class ProbQueue implements QueueModel {
  constructor(readonly power = 2) {
    if (!(power > 0)) throw new RangeError(`queue power must be > 0, got ${power}`);
  }
  levelChanged(front: number, prev: number, next: number): number {
    if (next >= prev) return front < next ? front : next;
    const back = Math.max(0, prev - front);
    const fb = Math.pow(back, this.power), ff = Math.pow(front, this.power);
    const p = fb + ff > 0 ? fb / (fb + ff) : 0;
    const f = front - (prev - next) * p;
    return f < 0 ? 0 : f < next ? f : next;
  }
}

// ---------------------------------------------------------------------------------------------
// Latency

/**
 * Latencies in ns for an event at `tsNs`: order entry (us -> venue), response (venue's report ->
 * us) and feed (venue's market data event -> us seeing it).
 */
export interface LatencyModel {
  entry(tsNs: number): number;
  response(tsNs: number): number;
  feed(tsNs: number): number;
}

export class ConstantLatency implements LatencyModel {
  constructor(readonly entryNs: number, readonly responseNs: number, readonly feedNs = 0) {
    if (!(entryNs >= 0 && responseNs >= 0 && feedNs >= 0)) throw new RangeError(`latencies must be >= 0 ns, got ${entryNs}/${responseNs}/${feedNs}`);
  }
  entry(): number {
    return this.entryNs;
  }
  response(): number {
    return this.responseNs;
  }
  feed(): number {
    return this.feedNs;
  }
}

/**
 * Latencies drawn from measured samples (e.g. round trips timed on a live session, halved, or a
 * LatencyHistogram's raw values), with a seeded Rng: same seed, same sequence of draws.
 */
export class EmpiricalLatency implements LatencyModel {
  private readonly e: Float64Array;
  private readonly r: Float64Array;
  private readonly f: Float64Array;
  constructor(entrySamplesNs: ArrayLike<number>, responseSamplesNs: ArrayLike<number>, private readonly rng: Rng, feedSamplesNs: ArrayLike<number> = [0]) {
    this.e = EmpiricalLatency.check(entrySamplesNs, "entry");
    this.r = EmpiricalLatency.check(responseSamplesNs, "response");
    this.f = EmpiricalLatency.check(feedSamplesNs, "feed");
  }
  /**
   * Samples that follow a measured distribution given by its quantile function, e.g. a
   * LatencyHistogram's `q => h.percentile(q)` (ns): n evenly spaced quantiles, so a uniform draw
   * among them is an inverse-CDF draw from the histogram.
   */
  static quantileSamples(percentile: (q: number) => number, n = 1000): Float64Array {
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`quantile samples need n >= 1, got ${n}`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = percentile((i + 0.5) / n);
    return out;
  }

  private static check(s: ArrayLike<number>, what: string): Float64Array {
    if (s.length === 0) throw new RangeError(`${what} latency samples are empty`);
    const a = Float64Array.from(s);
    for (const v of a) if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`${what} latency sample ${v} is not a finite ns >= 0`);
    return a;
  }
  entry(): number {
    return this.e[Math.floor(this.rng.next() * this.e.length)]!;
  }
  response(): number {
    return this.r[Math.floor(this.rng.next() * this.r.length)]!;
  }
  feed(): number {
    return this.f.length === 1 ? this.f[0]! : this.f[Math.floor(this.rng.next() * this.f.length)]!;
  }
}
