/**
 * Coinbase Advanced Trade market-data websocket: the `level2` channel's books for every product on
 * one connection, kept by the venue's documented rules
 * (https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels,
 * "Level2 channel", and the channel reference api-reference/advanced-trade-api/websocket/level2;
 * messages arrive on channel `l2_data`):
 *
 *   - level2 "guarantees delivery of all updates and is the easiest way to keep an order book
 *     snapshot in sync": a `snapshot` event carries the whole book of one product, then `update`
 *     events carry `updates[]` of {side: bid|offer, price_level, new_quantity, event_time};
 *   - "new_quantity is the updated size at a price level (not a delta); a value of "0" means the
 *     level can be removed";
 *   - every message of the connection carries the envelope's `sequence_num`, one counter for the
 *     whole connection (all channels): a message that is not previous + 1 means messages were lost
 *     on this connection, and since we cannot know which product they touched, EVERY book on the
 *     connection is cleared and marked unusable, and a resubscribe of all of them is requested (the
 *     subscription answers with a fresh snapshot per product). A sequence_num at or below the last
 *     one is a duplicate or a reordered message and is skipped.
 *
 * Also handled: `heartbeats`, `subscriptions`, `market_trades`, `ticker`, `ticker_batch`,
 * `candles`, `status` (counted; their sequence_num takes part in the gap check), `{"type":"error"}`
 * frames (counted with their message). An l2 event with a bad side or number, or a book that
 * crosses, makes that product's book unusable and asks for its resubscribe; an event is validated
 * whole before any of it is applied. Updates for a product that waits for its snapshot are dropped.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";

export interface CoinbaseBookCounters {
  /** decoded frames handed in */
  messages: number;
  /** frames skipped because their sequence_num was at or below the last one */
  stale: number;
  /** sequence_num gaps on the connection (each makes every book unusable) */
  gaps: number;
  /** resubscribe requests (per product) */
  resyncs: number;
  l2Messages: number;
  snapshots: number;
  /** l2 update events received, applied, and dropped while their product waited for a snapshot */
  diffs: number;
  applied: number;
  discarded: number;
  crossed: number;
  /** frames or l2 events that could not be used as sent */
  malformed: number;
  heartbeats: number;
  subscriptions: number;
  marketTrades: number;
  tickers: number;
  candles: number;
  /** channels we do not use (status, ticker_batch, ...) and unknown ones */
  otherChannels: number;
  /** `{"type":"error"}` frames */
  errors: number;
}

export type CoinbaseResult = "book" | "gap" | "stale" | "other" | "error" | "malformed";

export interface CoinbaseProductState {
  /** last applied l2 message's sequence_num is `book.lastSeq` */
  book: L2Book;
  needSnapshot: boolean;
  lastProblem: string;
  /** incremented on each snapshot load: tells runs of the book apart */
  epoch: number;
  snapshots: number;
  diffs: number;
  applied: number;
  discarded: number;
  crossed: number;
  malformed: number;
  resyncs: number;
  /** connection gaps that cleared this book */
  gaps: number;
}

type Json = Record<string, unknown>;
const MAX_KEPT = 20;

const num = (v: unknown): number => (typeof v === "string" && v.length > 0 ? Number(v) : typeof v === "number" ? v : NaN);

/** One Advanced Trade connection's level2 books and its sequence_num chain. */
export class CoinbaseBookSync {
  readonly counters: CoinbaseBookCounters = {
    messages: 0, stale: 0, gaps: 0, resyncs: 0, l2Messages: 0, snapshots: 0, diffs: 0, applied: 0, discarded: 0, crossed: 0, malformed: 0,
    heartbeats: 0, subscriptions: 0, marketTrades: 0, tickers: 0, candles: 0, otherChannels: 0, errors: 0,
  };
  readonly products = new Map<string, CoinbaseProductState>();
  /** sequence_num of the last message taken, -1 before the first */
  lastSequence = -1;
  /** why a book last became unusable (any product) */
  lastProblem = "";
  readonly errorMessages: string[] = [];
  readonly malformedWhy: string[] = [];
  private readonly resubscribe = new Set<string>();
  // scratch for validating one event before applying it
  private sides = new Uint8Array(1024);
  private prices = new Float64Array(1024);
  private sizes = new Float64Array(1024);

  constructor(readonly venue = "coinbase") {}

  product(id: string): CoinbaseProductState {
    let p = this.products.get(id);
    if (!p) {
      p = { book: new L2Book(this.venue, id), needSnapshot: true, lastProblem: "", epoch: 0, snapshots: 0, diffs: 0, applied: 0, discarded: 0, crossed: 0, malformed: 0, resyncs: 0, gaps: 0 };
      this.products.set(id, p);
    }
    return p;
  }

  /** Takes one decoded frame of the connection. */
  onMessage(msg: unknown): CoinbaseResult {
    const c = this.counters;
    c.messages++;
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) return this.bad("frame is not a JSON object");
    const m = msg as Json;
    if (m.type === "error") {
      c.errors++;
      if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(typeof m.message === "string" ? m.message : JSON.stringify(m).slice(0, 200));
      return "error";
    }
    const seq = m.sequence_num;
    if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0) return this.bad(`frame without an integer sequence_num (channel ${JSON.stringify(m.channel)?.slice(0, 30)})`);
    if (this.lastSequence >= 0) {
      if (seq <= this.lastSequence) {
        c.stale++;
        return "stale";
      }
      if (seq !== this.lastSequence + 1) {
        // messages were lost on this connection: no book on it can be trusted
        c.gaps++;
        const expected = this.lastSequence + 1;
        this.lastSequence = seq;
        this.connectionGap(`sequence_num gap on the connection: expected ${expected}, got ${seq} (${seq - expected} lost)`);
        // the message that revealed the gap is itself valid: a snapshot in it starts its book afresh
        this.dispatch(m, seq);
        return "gap";
      }
    }
    this.lastSequence = seq;
    return this.dispatch(m, seq);
  }

  private dispatch(m: Json, seq: number): CoinbaseResult {
    const c = this.counters;
    switch (m.channel) {
      case "l2_data":
        c.l2Messages++;
        return this.l2(m, seq);
      case "heartbeats":
        c.heartbeats++;
        return "other";
      case "subscriptions":
        c.subscriptions++;
        return "other";
      case "market_trades":
        c.marketTrades++;
        return "other";
      case "ticker":
        c.tickers++;
        return "other";
      case "candles":
        c.candles++;
        return "other";
      default:
        if (typeof m.channel !== "string") return this.bad("frame without a channel");
        c.otherChannels++;
        return "other";
    }
  }

  private l2(m: Json, seq: number): CoinbaseResult {
    const events = m.events;
    if (!Array.isArray(events)) return this.bad("l2_data without an events array");
    let result: CoinbaseResult = "book";
    for (const ev of events) {
      if (ev === null || typeof ev !== "object") {
        result = this.bad("l2_data event is not an object");
        continue;
      }
      const e = ev as Json;
      if (typeof e.product_id !== "string" || e.product_id.length === 0) {
        result = this.bad("l2_data event without a product_id");
        continue;
      }
      const p = this.product(e.product_id);
      if (e.type !== "snapshot" && e.type !== "update") {
        p.malformed++;
        this.resyncProduct(p, `l2_data event of unknown type ${JSON.stringify(e.type)?.slice(0, 30)}`);
        result = this.bad(`l2_data event of unknown type for ${e.product_id}`);
        continue;
      }
      const snapshot = e.type === "snapshot";
      if (!snapshot) {
        p.diffs++;
        this.counters.diffs++;
        if (p.needSnapshot) {
          p.discarded++;
          this.counters.discarded++;
          continue;
        }
      }
      const n = this.parse(e.updates);
      if (typeof n === "string") {
        p.malformed++;
        this.resyncProduct(p, `${e.product_id} ${e.type} at sequence_num ${seq}: ${n}`);
        result = this.bad(`${e.product_id}: ${n}`);
        continue;
      }
      const book = p.book;
      if (snapshot) {
        p.snapshots++;
        this.counters.snapshots++;
        book.clear();
      }
      if (snapshot) {
        // snapshots list bids best-first (descending) and offers best-first (ascending); the book
        // stores each side best-last, so loading back to front appends instead of shifting the
        // whole side per level (46,000 levels: O(n) instead of O(n^2)). Prices in a snapshot are
        // distinct, so the order of loading does not change the book.
        for (let i = n - 1; i >= 0; i--) book.set(this.sides[i]!, this.prices[i]!, this.sizes[i]!);
      } else {
        // updates in the order sent: a level may change twice in one message
        for (let i = 0; i < n; i++) book.set(this.sides[i]!, this.prices[i]!, this.sizes[i]!);
      }
      book.lastSeq = seq;
      book.updates++;
      if (!snapshot) {
        p.applied++;
        this.counters.applied++;
      }
      if (book.crossed) {
        p.crossed++;
        this.counters.crossed++;
        this.resyncProduct(p, `crossed book for ${e.product_id} after sequence_num ${seq}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
        result = "book";
        continue;
      }
      if (snapshot) {
        book.synced = true;
        p.needSnapshot = false;
        p.epoch++;
      }
    }
    return result;
  }

  /** Validates `updates[]` into the scratch arrays; returns the count or an error text. */
  private parse(updates: unknown): number | string {
    if (!Array.isArray(updates)) return "updates is not an array";
    if (updates.length > this.prices.length) {
      const cap = Math.max(updates.length, this.prices.length * 2);
      this.sides = new Uint8Array(cap);
      this.prices = new Float64Array(cap);
      this.sizes = new Float64Array(cap);
    }
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i] as Json | null;
      if (u === null || typeof u !== "object") return `update ${i} is not an object`;
      const side = u.side === "bid" ? BID : u.side === "offer" ? ASK : -1;
      if (side < 0) return `update ${i} has side ${JSON.stringify(u.side)?.slice(0, 20)} (bid or offer expected)`;
      const p = num(u.price_level), q = num(u.new_quantity);
      if (!(p > 0) || !(q >= 0) || !Number.isFinite(p) || !Number.isFinite(q)) return `update ${i} is not a positive price_level and a new_quantity >= 0: ${JSON.stringify([u.price_level, u.new_quantity]).slice(0, 60)}`;
      this.sides[i] = side;
      this.prices[i] = p;
      this.sizes[i] = q;
    }
    return updates.length;
  }

  private connectionGap(problem: string): void {
    this.lastProblem = problem;
    for (const p of this.products.values()) {
      p.gaps++;
      this.resyncProduct(p, problem);
    }
  }

  private resyncProduct(p: CoinbaseProductState, problem: string): void {
    p.lastProblem = problem;
    this.lastProblem = problem;
    p.resyncs++;
    this.counters.resyncs++;
    p.book.clear();
    p.needSnapshot = true;
    this.resubscribe.add(p.book.symbol);
  }

  private bad(why: string): CoinbaseResult {
    this.counters.malformed++;
    if (this.malformedWhy.length < MAX_KEPT) this.malformedWhy.push(why);
    return "malformed";
  }

  /** Products that need a level2 resubscribe since the last call (each once). */
  takeResubscribe(): string[] {
    const out = [...this.resubscribe];
    this.resubscribe.clear();
    return out;
  }
}
