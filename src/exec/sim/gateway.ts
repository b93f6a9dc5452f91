/**
 * SimGateway: the Gateway contract over a SimExchange, with modelled latency on a Clock.
 *
 * A request written at clock time t reaches the exchange at t + entry latency; every report the
 * exchange produces at venue time v reaches the report handler at v + response latency; a market
 * data event the venue emits at e is applied to the exchange at e and seen by the strategy at
 * e + feed latency. Each of the three paths is one ordered connection, as a venue's order socket
 * and feed are: a later message never overtakes an earlier one (a sampled latency that would make
 * it is raised to the previous arrival). With a VirtualClock and a seeded latency model, the same
 * inputs give the same reports at the same times.
 */
import type { ExecReport, Gateway, OrderRequest, Side, VenueOrder } from "../../domain/order.ts";
import type { SimExchange } from "./exchange.ts";
import type { LatencyModel } from "./models.ts";

/** Time source and scheduler, in ns since the Unix epoch (the exchange turns it into venue ms). */
export interface Clock {
  now(): number;
  /** runs fn at tsNs (at once, in order, if tsNs is not in the future) */
  at(tsNs: number, fn: () => void): void;
}

/**
 * Virtual time for backtests: events run in (time, scheduling order) when the driver advances
 * the clock, and now() is the time of the event running. Binary heap, no timers.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private heap: Array<{ ts: number; seq: number; fn: () => void }> = [];

  constructor(startNs = 0) {
    this.t = startNs;
  }
  now(): number {
    return this.t;
  }
  at(tsNs: number, fn: () => void): void {
    if (!Number.isFinite(tsNs)) throw new RangeError(`cannot schedule at ${tsNs}`);
    const e = { ts: tsNs < this.t ? this.t : tsNs, seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!VirtualClock.before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }
  /** Runs every event due up to and including tsNs, then sets now to tsNs. */
  advanceTo(tsNs: number): void {
    if (tsNs < this.t) throw new RangeError(`virtual time cannot go back: ${tsNs} < ${this.t}`);
    while (this.heap.length && this.heap[0]!.ts <= tsNs) {
      const e = this.pop();
      this.t = e.ts;
      e.fn();
    }
    this.t = tsNs;
  }
  /** Runs events until none is left. */
  drain(): void {
    while (this.heap.length) {
      const e = this.pop();
      this.t = e.ts;
      e.fn();
    }
  }
  get pending(): number {
    return this.heap.length;
  }
  /** time of the next scheduled event (Infinity when none) */
  get nextAt(): number {
    return this.heap.length ? this.heap[0]!.ts : Infinity;
  }
  private static before(a: { ts: number; seq: number }, b: { ts: number; seq: number }): boolean {
    return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
  }
  private pop(): { ts: number; seq: number; fn: () => void } {
    const h = this.heap, top = h[0]!, last = h.pop()!;
    if (h.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        const cand = (k: number) => k < h.length && VirtualClock.before(h[k]!, m === i ? last : h[m]!);
        if (cand(l)) m = l;
        if (cand(r)) m = r;
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

/** Real time for paper trading: epoch ns from the high-resolution clock, timers for schedule. */
export class RealClock implements Clock {
  now(): number {
    return (performance.timeOrigin + performance.now()) * 1e6;
  }
  at(tsNs: number, fn: () => void): void {
    const ms = (tsNs - this.now()) / 1e6;
    setTimeout(fn, ms > 0 ? ms : 0);
  }
}

export class SimGateway implements Gateway {
  readonly venue: string;
  private readonly handlers: Array<(r: ExecReport) => void> = [];
  private lastEntry = -Infinity;
  private lastResponse = -Infinity;
  private lastFeed = -Infinity;
  private closed = false;

  constructor(
    readonly exchange: SimExchange,
    readonly clock: Clock,
    readonly latency: LatencyModel,
  ) {
    this.venue = exchange.venue;
    exchange.onReport((r) => this.respond([r], this.clock.now()));
  }

  onReport(handler: (r: ExecReport) => void): void {
    this.handlers.push(handler);
  }

  submit(req: OrderRequest): void {
    this.send((ts) => this.respond(this.exchange.place(req, ts), ts));
  }

  cancel(symbol: string, clientOrderId: string): void {
    this.send((ts) => this.respond([this.exchange.cancel(symbol, clientOrderId, ts)], ts));
  }

  /** The venue's book changed at exchange time exchTsNs: applied to the exchange then, seen by `seen` after the feed latency. */
  bookLevel(symbol: string, side: Side, price: number, amount: number, exchTsNs: number, seen?: () => void): void {
    this.clock.at(exchTsNs, () => this.exchange.onBookLevel(symbol, side, price, amount, exchTsNs));
    if (seen) this.clock.at(this.feedArrival(exchTsNs), seen);
  }

  /** A print at exchange time exchTsNs (see bookLevel). */
  trade(symbol: string, price: number, amount: number, takerSide: Side, exchTsNs: number, seen?: () => void): void {
    this.clock.at(exchTsNs, () => this.exchange.onTrade(symbol, price, amount, takerSide, exchTsNs));
    if (seen) this.clock.at(this.feedArrival(exchTsNs), seen);
  }

  async openOrders(symbol?: string): Promise<VenueOrder[]> {
    return this.exchange.openOrders(symbol);
  }

  async fills(symbol: string, sinceMs: number): Promise<ExecReport[]> {
    return this.exchange.fills(symbol, sinceMs);
  }

  /** Stops delivering: requests and reports still in flight are dropped, as on a closed socket. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private send(atVenue: (ts: number) => void): void {
    if (this.closed) throw new Error(`gateway ${this.venue} is closed`);
    const t = this.clock.now();
    let arrive = t + this.latency.entry(t);
    if (arrive < this.lastEntry) arrive = this.lastEntry;
    this.lastEntry = arrive;
    this.clock.at(arrive, () => {
      if (!this.closed) atVenue(arrive);
    });
  }

  private respond(reports: ExecReport[], venueTs: number): void {
    if (this.closed || reports.length === 0) return;
    let at = venueTs + this.latency.response(venueTs);
    if (at < this.lastResponse) at = this.lastResponse;
    this.lastResponse = at;
    this.clock.at(at, () => {
      if (this.closed) return;
      for (const r of reports) for (const h of this.handlers) h(r);
    });
  }

  private feedArrival(exchTsNs: number): number {
    let at = exchTsNs + this.latency.feed(exchTsNs);
    if (at < this.lastFeed) at = this.lastFeed;
    this.lastFeed = at;
    return at;
  }
}
