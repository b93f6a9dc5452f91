/**
 * Bybit v5 public order book (`orderbook.{depth}.{symbol}`), kept by the venue's documented rules
 * (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook, "Process snapshot/delta"):
 *
 *   - "Once you have subscribed successfully, you will receive a snapshot" and "if you receive a
 *     new snapshot message, you will have to reset your local orderbook": every snapshot clears the
 *     book and loads it, whether we asked for it or not (the venue re-sends one when it has a
 *     problem; level-1 books re-send one every 3 s without change, with the same u);
 *   - "u = 1 ... is a snapshot due to the restart of the service, overwrite your local orderbook":
 *     counted as a restart, loaded like any snapshot;
 *   - a delta's size "0" deletes the level; a size for a price we do not have inserts it;
 *     otherwise the size replaces the level's;
 *   - the update id `u` is consecutive per topic: a delta must carry previous u + 1. A higher u is
 *     a gap: the book is cleared, marked unusable, and a resubscribe is requested (Bybit's public
 *     stream has no REST-snapshot bridge for these topics: a new snapshot comes only with a new
 *     subscription). A u at or below the book's is a duplicate or reordered delta and is skipped.
 *     A delta carrying u = 1 on a live book (a restart announced without a snapshot) is a gap.
 *
 * Everything else that could leave a wrong book — a level that is not a positive price and a
 * non-negative size, a missing u, an unknown message type, a book that crosses — is counted, the
 * book is marked unusable and a resubscribe requested; a message is validated whole before any of
 * it is applied. Deltas that arrive while waiting for the snapshot are dropped (and counted).
 *
 * `BybitBookSync` keeps one topic's book. `BybitConnectionBooks` routes one websocket
 * connection's frames: orderbook topics to their syncs, subscribe/error responses and other topics
 * counted (error responses `{"success":false,"ret_msg":...}` with their message), and collects
 * the topics that need a resubscribe.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";

export interface BybitBookCounters {
  snapshots: number;
  /** deltas received (applied or not) */
  diffs: number;
  applied: number;
  /** deltas whose u was at or below the book's: duplicates or reordered, skipped */
  stale: number;
  /** deltas received while the book waited for a snapshot, dropped */
  discarded: number;
  gaps: number;
  crossed: number;
  /** resubscribe requests (gap, crossed book, malformed message) */
  resyncs: number;
  /** snapshots with u == 1: the venue restarted its service */
  restarts: number;
  /** snapshots that replaced a book that was in sync (the venue re-sent one unprompted) */
  unpromptedSnapshots: number;
  /** messages that could not be applied as sent (bad u, levels, type) */
  malformed: number;
}

export type BybitBookResult = "snapshot" | "applied" | "stale" | "discarded" | "gap" | "crossed" | "malformed";

/** The `data` object of an orderbook message, as the venue sends it (fields unchecked). */
export interface BybitOrderbookData {
  s?: unknown;
  b?: unknown;
  a?: unknown;
  u?: unknown;
  seq?: unknown;
}

/** Parsed levels of one message: prices and sizes per side, validated before use. */
class LevelScratch {
  p: Float64Array[] = [new Float64Array(256), new Float64Array(256)];
  q: Float64Array[] = [new Float64Array(256), new Float64Array(256)];
  n = [0, 0];

  /** Parses `[[price, size], ...]` into side `side`; returns an error text or null. */
  parse(side: number, levels: unknown): string | null {
    this.n[side] = 0;
    if (!Array.isArray(levels)) return `${side === BID ? "b" : "a"} is not an array`;
    if (levels.length > this.p[side]!.length) {
      const cap = Math.max(levels.length, this.p[side]!.length * 2);
      this.p[side] = new Float64Array(cap);
      this.q[side] = new Float64Array(cap);
    }
    const P = this.p[side]!, Q = this.q[side]!;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      if (!Array.isArray(lv) || lv.length < 2) return `level ${i} of ${side === BID ? "b" : "a"} is not [price, size]`;
      const p = num(lv[0]), q = num(lv[1]);
      if (!(p > 0) || !(q >= 0) || !Number.isFinite(p) || !Number.isFinite(q)) return `level ${i} of ${side === BID ? "b" : "a"} is not a positive price and a size >= 0: ${JSON.stringify(lv).slice(0, 60)}`;
      P[i] = p;
      Q[i] = q;
    }
    this.n[side] = levels.length;
    return null;
  }
}

const num = (v: unknown): number => (typeof v === "string" && v.length > 0 ? Number(v) : typeof v === "number" ? v : NaN);

export class BybitBookSync {
  readonly counters: BybitBookCounters = { snapshots: 0, diffs: 0, applied: 0, stale: 0, discarded: 0, gaps: 0, crossed: 0, resyncs: 0, restarts: 0, unpromptedSnapshots: 0, malformed: 0 };
  /** true until a snapshot is loaded, and after anything that made the book unusable */
  needSnapshot = true;
  /** why the book last became unusable */
  lastProblem = "";
  /** cross sequence (`seq`) of the last applied message, -1 when none */
  crossSeq = -1;
  /** exchange time (ms) of the last applied message: `cts` (matching engine) when sent, else `ts` */
  exchMs = 0;
  /** resync epoch: incremented whenever a snapshot (re)starts the book; tells book states of one run apart */
  epoch = 0;
  private readonly scratch = new LevelScratch();

  constructor(
    readonly book: L2Book,
    readonly topic: string,
    /** called once per resubscribe request, with the reason */
    private readonly onResync?: (sync: BybitBookSync, reason: string) => void,
  ) {}

  /** Applies one orderbook message (`type` and `data` of the frame; `ts`/`cts` in ms). */
  onMessage(type: unknown, data: BybitOrderbookData, ts?: unknown, cts?: unknown): BybitBookResult {
    const c = this.counters;
    if (type === "snapshot") return this.snapshot(data, ts, cts);
    if (type !== "delta") {
      c.malformed++;
      this.resync(`orderbook message of unknown type ${JSON.stringify(type)?.slice(0, 30)}`);
      return "malformed";
    }
    c.diffs++;
    const u = data.u;
    if (typeof u !== "number" || !Number.isInteger(u) || u < 1) {
      c.malformed++;
      if (this.needSnapshot) return "malformed";
      this.resync(`delta without an integer update id u (${JSON.stringify(u)?.slice(0, 30)})`);
      return "malformed";
    }
    if (this.needSnapshot) {
      c.discarded++;
      return "discarded";
    }
    const book = this.book;
    const last = book.lastSeq;
    if (u === 1 && last > 1) {
      // u resets to 1 only on a service restart, which the venue announces with a snapshot
      c.gaps++;
      this.resync(`delta with u 1 after u ${last}: the venue restarted without a snapshot`);
      return "gap";
    }
    if (u <= last) {
      c.stale++;
      return "stale";
    }
    if (u !== last + 1) {
      c.gaps++;
      this.resync(`update id gap: previous u ${last}, this delta u ${u} (${u - last - 1} missing)`);
      return "gap";
    }
    const s = this.scratch;
    const bad = s.parse(BID, data.b) ?? s.parse(ASK, data.a);
    if (bad !== null) {
      c.malformed++;
      this.resync(`delta u ${u}: ${bad}`);
      return "malformed";
    }
    this.load(BID);
    this.load(ASK);
    book.lastSeq = u;
    book.updates++;
    c.applied++;
    this.stamp(data, ts, cts);
    if (book.crossed) {
      c.crossed++;
      this.resync(`crossed book after delta u ${u}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
      return "crossed";
    }
    return "applied";
  }

  private snapshot(data: BybitOrderbookData, ts: unknown, cts: unknown): BybitBookResult {
    const c = this.counters;
    const book = this.book;
    c.snapshots++;
    const u = data.u;
    const s = this.scratch;
    const bad = typeof u !== "number" || !Number.isInteger(u) || u < 1 ? `snapshot without an integer update id u (${JSON.stringify(u)?.slice(0, 30)})` : s.parse(BID, data.b) ?? s.parse(ASK, data.a);
    if (bad !== null) {
      c.malformed++;
      this.resync(bad);
      return "malformed";
    }
    if (u === 1) c.restarts++;
    if (!this.needSnapshot) c.unpromptedSnapshots++;
    book.clear();
    this.load(BID, true);
    this.load(ASK, true);
    book.lastSeq = u as number;
    this.stamp(data, ts, cts);
    if (book.crossed) {
      c.crossed++;
      this.resync(`crossed snapshot u ${u}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
      return "crossed";
    }
    book.synced = true;
    this.needSnapshot = false;
    this.epoch++;
    return "snapshot";
  }

  private load(side: number, backToFront = false): void {
    const s = this.scratch, book = this.book;
    const P = s.p[side]!, Q = s.q[side]!, n = s.n[side]!;
    if (backToFront) {
      // snapshot levels come best-first and the book stores best-last: loading from the back
      // appends rather than shifting the side per level; snapshot prices are distinct
      for (let i = n - 1; i >= 0; i--) book.set(side, P[i]!, Q[i]!);
    } else {
      for (let i = 0; i < n; i++) book.set(side, P[i]!, Q[i]!);
    }
  }

  private stamp(data: BybitOrderbookData, ts: unknown, cts: unknown): void {
    const seq = data.seq;
    this.crossSeq = typeof seq === "number" ? seq : -1;
    this.exchMs = typeof cts === "number" ? cts : typeof ts === "number" ? ts : 0;
  }

  private resync(problem: string): void {
    this.lastProblem = problem;
    this.counters.resyncs++;
    this.book.clear();
    this.needSnapshot = true;
    this.onResync?.(this, problem);
  }
}

/** Which Bybit v5 public stream a connection is on, from its URL (`.../v5/public/linear`). */
export type BybitCategory = "linear" | "inverse" | "spot" | "option";

export function bybitCategoryFromUrl(url: string): BybitCategory | null {
  const m = /\/v5\/public\/(linear|inverse|spot|option)\b/.exec(url);
  return m ? (m[1] as BybitCategory) : null;
}

export interface BybitFrameCounters {
  frames: number;
  /** orderbook messages routed to a book */
  book: number;
  /** op responses that succeeded (subscribe, unsubscribe, ping/pong) */
  opOk: number;
  /** `{"success":false,...}` responses */
  errors: number;
  /** other public topics by family (publicTrade, tickers, kline, ...) */
  other: Record<string, number>;
  /** topics of no family we know */
  unknownTopics: number;
  /** frames that are not an object with a topic or an op */
  malformed: number;
}

export type BybitFrameResult = BybitBookResult | "op" | "error" | "other" | "unknown" | "malformed";

const KNOWN_FAMILIES = new Set(["publicTrade", "tickers", "kline", "liquidation", "allLiquidation", "tickers_lt", "kline_lt", "lt", "insurance", "priceLimit", "adlAlert"]);
const MAX_KEPT = 20;

/** One websocket connection's orderbook topics, plus the bookkeeping of everything else it sends. */
export class BybitConnectionBooks {
  readonly syncs = new Map<string, BybitBookSync>();
  readonly counters: BybitFrameCounters = { frames: 0, book: 0, opOk: 0, errors: 0, other: {}, unknownTopics: 0, malformed: 0 };
  /** error responses as `op: ret_msg`, first few */
  readonly errorMessages: string[] = [];
  /** unknown topics seen, first few */
  readonly unknownTopicNames: string[] = [];
  private readonly resubscribe = new Set<string>();

  constructor(
    /** venue label for the books, e.g. `bybit-linear` */
    readonly venue: string,
  ) {}

  /** The sync for an orderbook topic, created on first sight. */
  sync(topic: string, symbol: string): BybitBookSync {
    let s = this.syncs.get(topic);
    if (!s) {
      s = new BybitBookSync(new L2Book(this.venue, symbol), topic, (x) => this.resubscribe.add(x.topic));
      this.syncs.set(topic, s);
    }
    return s;
  }

  /** Routes one decoded frame. */
  onFrame(frame: unknown): BybitFrameResult {
    const c = this.counters;
    c.frames++;
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
      c.malformed++;
      return "malformed";
    }
    const f = frame as Record<string, unknown>;
    const topic = f.topic;
    if (typeof topic === "string") {
      const dot = topic.indexOf(".");
      const family = dot < 0 ? topic : topic.slice(0, dot);
      if (family === "orderbook") {
        // orderbook.{depth}.{symbol}
        const parts = topic.split(".");
        const d = f.data;
        if (parts.length !== 3 || parts[2]!.length === 0 || d === null || typeof d !== "object" || Array.isArray(d)) {
          c.malformed++;
          return "malformed";
        }
        c.book++;
        return this.sync(topic, parts[2]!).onMessage(f.type, d as BybitOrderbookData, f.ts, f.cts);
      }
      if (KNOWN_FAMILIES.has(family)) {
        c.other[family] = (c.other[family] ?? 0) + 1;
        return "other";
      }
      c.unknownTopics++;
      if (this.unknownTopicNames.length < MAX_KEPT) this.unknownTopicNames.push(topic.slice(0, 80));
      return "unknown";
    }
    if (typeof f.success === "boolean") {
      // op responses: {"success":true|false,"ret_msg":...,"op":"subscribe",...}
      if (f.success) {
        c.opOk++;
        return "op";
      }
      c.errors++;
      if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(`${typeof f.op === "string" ? f.op : "?"}: ${typeof f.ret_msg === "string" ? f.ret_msg : JSON.stringify(f.ret_msg)}`);
      return "error";
    }
    if (typeof f.op === "string") {
      // pong and similar replies without a success flag
      c.opOk++;
      return "op";
    }
    c.malformed++;
    return "malformed";
  }

  /** Topics that need a resubscribe since the last call (each once). */
  takeResubscribe(): string[] {
    const out = [...this.resubscribe];
    this.resubscribe.clear();
    return out;
  }
}
