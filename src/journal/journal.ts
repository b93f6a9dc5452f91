/**
 * OrderJournal: the engine thread's side of the crash-safe order journal.
 *
 * The choice (issue 5): write-ahead on the hot path, through a memory-mapped ring (ring.ts).
 * `submit(req)` writes the intent into a MAP_SHARED file page and returns; the caller sends the
 * order only after that, so an order can reach the venue only if its intent is already in the
 * page cache — kill -9 at any instant cannot lose it, and the restart replays the ring into sqlite
 * before it does anything else. The hot path pays a handful of typed-array stores (no syscall, no
 * allocation, no wait for a commit); a worker (writer-worker.ts) group-commits the records into
 * sqlite (WAL). The alternatives were worse: waiting for the group commit before each send costs
 * the order tens to hundreds of µs, and "send now, adopt by client-id prefix later" cannot see an
 * order that reached the venue and was cancelled there without a fill (openOrders and fills never
 * list it), so a kill could still lose it. Adoption by prefix stays as the second line (orders
 * sent by a version without a ring, a power loss that took the ring's tail): see recovery.ts.
 *
 * Not covered: power loss or a kernel crash before the kernel writes the ring page back. sqlite's
 * synchronous=FULL makes committed rows power-safe, not the ring tail; a power-safe write-ahead
 * needs an fsync (or a battery-backed disk) per send, which is a latency choice this does not make.
 *
 * Visibility to the worker: the record's stamp is written last; on x86-64 (TSO) stores become
 * visible in program order, and the consumer checks the stamp before reading the record.
 */
import type { ExecReport, OrderRequest } from "../domain/order.ts";
import { workerEntry } from "../sys/workers.ts";
import { RingApplier } from "./apply.ts";
import {
  F_AMOUNT, F_FEE, F_FILLED, F_FLAGS, F_KIND, F_PRICE, F_REMAINING, F_ROUTE, F_STAMP, F_TS_MS, F_VENUE_MS, FL_ADOPTED, FL_MARKET,
  FL_NO_PRICE, FL_REDUCE_ONLY, H_CLOCK_F64, FL_SELL, FL_TAKER, FL_TIF_SHIFT, JournalRing, K_ACK, K_CANCEL, K_CANCEL_REJECTED, K_CANCELLED,
  K_EXPIRED, K_FILL, K_REJECTED, K_ROUTE, K_SUBMIT, S_CID, S_CID_MAX, S_TEXT, S_TEXT_MAX, S_TID, S_TID_MAX, S_VID, S_VID_MAX,
  writeAscii, writeText,
} from "./ring.ts";
import { JournalStore, type Synchronous } from "./store.ts";

export interface JournalOptions {
  /** sqlite file; the ring is `${path}-ring` beside it */
  path: string;
  synchronous?: Synchronous;
  /** ring capacity in records (power of two); the worker must stay within it */
  ringSlots?: number;
  /** most records per sqlite transaction */
  batchMax?: number;
  /** worker's sleep when the ring is empty, ms */
  idleMs?: number;
  /** client ids of this journal start with `${clientIdPrefix}${session in base 36}-` */
  clientIdPrefix?: string;
}

export interface JournalCounters {
  submits: number;
  cancels: number;
  reports: number;
  /** appends refused: ring full (the worker fell behind) or a string that does not fit */
  refused: number;
  /** records replayed from the ring into sqlite at open (written before a crash, not committed) */
  replayed: number;
}

/** GTC 0, IOC 1, FOK 2, PO 3 (the order of TIF_CODES), by the first letter: no property lookup */
function tifCode(tif: string): number {
  const c = tif.charCodeAt(0);
  return c === 73 ? 1 : c === 70 ? 2 : c === 80 ? 3 : 0;
}
const REPORT_CODE: Record<string, number> = { ack: K_ACK, fill: K_FILL, cancelled: K_CANCELLED, rejected: K_REJECTED, expired: K_EXPIRED, cancel_rejected: K_CANCEL_REJECTED };

export class OrderJournal {
  readonly path: string;
  readonly ring: JournalRing;
  /** the engine thread's own connection: reads, events, start-up replay (the worker writes rows) */
  readonly store: JournalStore;
  readonly session: { id: number; prefix: string };
  /** first sequence this session writes (rows with seq >= it were written by this session) */
  readonly firstSeq: number;
  readonly counters: JournalCounters = { submits: 0, cancels: 0, reports: 0, refused: 0, replayed: 0 };
  private readonly f64: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly routeIds = new Map<string, Map<string, Map<string, number>>>();
  private nextRoute: number;
  private lastVenue = "";
  private lastSymbol = "";
  private lastStrategy = "";
  private lastRoute = -1;
  private next: number;
  private appliedCache: number;
  private readonly slots: number;
  private worker: Worker | null = null;
  private flushId = 0;
  private readonly waiters = new Map<number, (applied: number) => void>();
  private workerError: string | null = null;
  private closed = false;

  private constructor(opts: JournalOptions, store: JournalStore, ring: JournalRing) {
    this.path = opts.path;
    this.store = store;
    this.ring = ring;
    this.f64 = ring.f64;
    this.bytes = ring.bytes;
    this.slots = ring.slots;
    ring.setClock(Date.now());
    ring.prefault();
    // start-up replay: what reached the ring but not sqlite before the last stop
    const applier = new RingApplier(ring, store);
    const from = store.appliedSeq + 1;
    const to = applier.available(from, ring.slots);
    if (to >= from) {
      applier.applyBatch(from, to);
      this.counters.replayed = to - from + 1;
      store.event("ring_replay", null, { from, to });
    } else ring.setApplied(from - 1);
    this.next = store.appliedSeq + 1;
    this.firstSeq = this.next;
    this.appliedCache = this.next - 1;
    let maxRoute = 0;
    for (const r of store.routes()) {
      this.remember(r.venue, r.symbol, r.strategy, r.id);
      if (r.id > maxRoute) maxRoute = r.id;
    }
    this.nextRoute = maxRoute + 1;
    const base = opts.clientIdPrefix ?? "b4";
    this.session = store.newSession((id) => `${base}${id.toString(36)}-`, Date.now());
  }

  /**
   * Opens (creating or migrating) the journal, replays the ring's uncommitted tail, starts a
   * session and the writer worker. Refuses a corrupt or foreign file with its path and what to do.
   */
  static async open(opts: JournalOptions): Promise<OrderJournal> {
    const store = new JournalStore(opts.path, { synchronous: opts.synchronous });
    let ring: JournalRing;
    try {
      ring = JournalRing.open(`${opts.path}-ring`, opts.ringSlots);
    } catch (e) {
      store.close();
      throw e;
    }
    const j = new OrderJournal(opts, store, ring);
    await j.startWorker(opts);
    return j;
  }

  private startWorker(opts: JournalOptions): Promise<void> {
    const w = new Worker(workerEntry("journal/writer-worker.ts"), {
      workerData: { dbPath: opts.path, ringPath: `${opts.path}-ring`, synchronous: opts.synchronous ?? "NORMAL", batchMax: opts.batchMax ?? 4096, idleMs: opts.idleMs ?? 1 },
    } as WorkerOptions);
    this.worker = w;
    return new Promise((resolve, reject) => {
      w.addEventListener("error", (e) => {
        this.workerError = (e as ErrorEvent).message;
        reject(new Error(`journal worker: ${this.workerError}`));
      });
      w.addEventListener("message", (e: MessageEvent) => {
        const m = e.data as { type: string; id?: number; applied?: number; message?: string };
        if (m.type === "ready") resolve();
        else if (m.type === "flushed" || m.type === "closed") {
          const k = m.type === "closed" ? -1 : m.id!;
          const f = this.waiters.get(k);
          this.waiters.delete(k);
          f?.(m.applied!);
        } else if (m.type === "error") {
          this.workerError = m.message ?? "unknown";
          for (const f of this.waiters.values()) f(-1);
          this.waiters.clear();
        }
      });
    });
  }

  /** the prefix every client id of this session starts with */
  get prefix(): string {
    return this.session.prefix;
  }
  /** the sequence the next record will carry */
  get nextSeq(): number {
    return this.next;
  }
  /** sequences written but not yet committed to sqlite */
  get backlog(): number {
    return this.next - 1 - this.ring.applied;
  }

  // ------------------------------------------------------------------------------ hot path

  /**
   * Journals an order intent. Call before the gateway's submit; send only if it returns true
   * (false: ring full or an id that does not fit the record — counted in `refused`).
   */
  submit(req: OrderRequest): boolean {
    const route = this.routeId(req.venue, req.symbol, req.strategy ?? "");
    if (route < 0) return this.refuse();
    const seq = this.claim();
    if (seq < 0) return false;
    const byte = this.ring.slotByte(seq);
    if (!writeAscii(this.bytes, byte + S_CID, req.clientOrderId, S_CID_MAX)) return this.refuse();
    const f = this.f64, b = byte >> 3;
    let flags = (req.side === "sell" ? FL_SELL : 0) | (req.type === "market" ? FL_MARKET : 0) | (tifCode(req.timeInForce) << FL_TIF_SHIFT);
    if (req.reduceOnly) flags |= FL_REDUCE_ONLY;
    if (req.price === undefined) flags |= FL_NO_PRICE;
    f[b + F_KIND] = K_SUBMIT;
    f[b + F_ROUTE] = route;
    f[b + F_FLAGS] = flags;
    f[b + F_TS_MS] = f[H_CLOCK_F64]!;
    f[b + F_PRICE] = req.price ?? 0;
    f[b + F_AMOUNT] = req.amount;
    f[b + F_STAMP] = seq;
    this.next = seq + 1;
    this.counters.submits++;
    return true;
  }

  /** Journals a cancel request (before the gateway's cancel). */
  cancel(venue: string, symbol: string, clientOrderId: string): boolean {
    const route = this.routeId(venue, symbol, "");
    if (route < 0) return this.refuse();
    const seq = this.claim();
    if (seq < 0) return false;
    const byte = this.ring.slotByte(seq);
    if (!writeAscii(this.bytes, byte + S_CID, clientOrderId, S_CID_MAX)) return this.refuse();
    const f = this.f64, b = byte >> 3;
    f[b + F_KIND] = K_CANCEL;
    f[b + F_ROUTE] = route;
    f[b + F_FLAGS] = 0;
    f[b + F_TS_MS] = f[H_CLOCK_F64]!;
    f[b + F_STAMP] = seq;
    this.next = seq + 1;
    this.counters.cancels++;
    return true;
  }

  /** Journals an execution report as it arrives (fills keep their trade id: stored once). */
  report(r: ExecReport): boolean {
    return this.writeReport(r, 0);
  }

  /** Journals an order found at the venue that the journal did not know (recovery's adoption). */
  adopt(req: OrderRequest): boolean {
    const route = this.routeId(req.venue, req.symbol, req.strategy ?? "");
    if (route < 0) return this.refuse();
    const seq = this.claim();
    if (seq < 0) return false;
    const byte = this.ring.slotByte(seq);
    if (!writeAscii(this.bytes, byte + S_CID, req.clientOrderId, S_CID_MAX)) return this.refuse();
    const f = this.f64, b = byte >> 3;
    f[b + F_KIND] = K_SUBMIT;
    f[b + F_ROUTE] = route;
    f[b + F_FLAGS] = (req.side === "sell" ? FL_SELL : 0) | (req.type === "market" ? FL_MARKET : 0) | FL_ADOPTED | (req.price === undefined ? FL_NO_PRICE : 0);
    f[b + F_TS_MS] = f[H_CLOCK_F64]!;
    f[b + F_PRICE] = req.price ?? 0;
    f[b + F_AMOUNT] = req.amount;
    f[b + F_STAMP] = seq;
    this.next = seq + 1;
    return true;
  }

  private writeReport(r: ExecReport, extraFlags: number): boolean {
    const route = this.routeId(r.venue, r.symbol, "");
    if (route < 0) return this.refuse();
    const seq = this.claim();
    if (seq < 0) return false;
    const byte = this.ring.slotByte(seq), bytes = this.bytes;
    if (!writeAscii(bytes, byte + S_CID, r.clientOrderId, S_CID_MAX)) return this.refuse();
    if (!writeAscii(bytes, byte + S_VID, r.venueOrderId ?? "", S_VID_MAX)) return this.refuse();
    if (!writeAscii(bytes, byte + S_TID, r.tradeId ?? "", S_TID_MAX)) return this.refuse();
    if (r.reason === undefined) bytes[byte + S_TEXT] = 0;
    else writeText(bytes, byte + S_TEXT, r.reason, S_TEXT_MAX);
    const f = this.f64, b = byte >> 3;
    f[b + F_KIND] = REPORT_CODE[r.kind] ?? 0;
    f[b + F_ROUTE] = route;
    f[b + F_FLAGS] = (r.side === "sell" ? FL_SELL : 0) | (r.taker ? FL_TAKER : 0) | extraFlags;
    f[b + F_TS_MS] = f[H_CLOCK_F64]!;
    f[b + F_PRICE] = r.lastPrice;
    f[b + F_AMOUNT] = r.lastAmount;
    f[b + F_FILLED] = r.filled;
    f[b + F_REMAINING] = r.remaining;
    f[b + F_FEE] = r.fee;
    f[b + F_VENUE_MS] = r.venueTimeMs;
    f[b + F_STAMP] = seq;
    this.next = seq + 1;
    this.counters.reports++;
    return true;
  }

  /** next free sequence, or -1 (counted) when the worker has not freed a slot */
  private claim(): number {
    const seq = this.next;
    if (seq - this.appliedCache > this.slots) {
      this.appliedCache = this.ring.applied;
      if (seq - this.appliedCache > this.slots) {
        this.counters.refused++;
        return -1;
      }
    }
    return seq;
  }

  private refuse(): false {
    this.counters.refused++;
    return false;
  }

  private routeId(venue: string, symbol: string, strategy: string): number {
    // the last route, compared by string identity first: an engine sends the same strings again
    if (venue === this.lastVenue && symbol === this.lastSymbol && strategy === this.lastStrategy) return this.lastRoute;
    const id = this.routeIds.get(venue)?.get(symbol)?.get(strategy);
    const r = id === undefined ? this.newRoute(venue, symbol, strategy) : id;
    if (r >= 0) {
      this.lastVenue = venue;
      this.lastSymbol = symbol;
      this.lastStrategy = strategy;
      this.lastRoute = r;
    }
    return r;
  }

  /** cold path: the first order of a (venue, symbol, strategy) writes a route record first */
  private newRoute(venue: string, symbol: string, strategy: string): number {
    const seq = this.claim();
    if (seq < 0) return -1;
    const byte = this.ring.slotByte(seq), bytes = this.bytes;
    if (!writeAscii(bytes, byte + S_CID, venue, S_CID_MAX) || !writeAscii(bytes, byte + S_TEXT, symbol, S_TEXT_MAX) || !writeAscii(bytes, byte + S_VID, strategy, S_VID_MAX)) {
      this.ring.counters.badString++;
      return -1;
    }
    const id = this.nextRoute++;
    const f = this.f64, b = byte >> 3;
    f[b + F_KIND] = K_ROUTE;
    f[b + F_ROUTE] = id;
    f[b + F_TS_MS] = f[H_CLOCK_F64]!;
    f[b + F_STAMP] = seq;
    this.next = seq + 1;
    this.remember(venue, symbol, strategy, id);
    return id;
  }

  private remember(venue: string, symbol: string, strategy: string, id: number): void {
    let bySym = this.routeIds.get(venue);
    if (!bySym) this.routeIds.set(venue, (bySym = new Map()));
    let byStrat = bySym.get(symbol);
    if (!byStrat) bySym.set(symbol, (byStrat = new Map()));
    byStrat.set(strategy, id);
  }

  // ------------------------------------------------------------------------------ cold path

  /** Resolves once every record written before the call is committed to sqlite. */
  flush(): Promise<number> {
    if (this.workerError) return Promise.reject(new Error(`journal worker failed: ${this.workerError}`));
    if (!this.worker) return Promise.resolve(this.ring.applied);
    const id = ++this.flushId;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, (a) => (a < 0 ? reject(new Error(`journal worker failed: ${this.workerError}`)) : resolve(a)));
      this.worker!.postMessage({ type: "flush", id });
    });
  }

  /** Flushes, stops the worker, ends the session (clean = a graceful stop) and closes. */
  async close(clean = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.worker) {
      const w = this.worker;
      await new Promise<number>((resolve) => {
        this.waiters.set(-1, resolve);
        w.postMessage({ type: "close" });
      });
      w.terminate();
      this.worker = null;
    }
    this.store.endSession(this.session.id, clean, Date.now());
    this.store.event(clean ? "session_end" : "session_abort", null, { session: this.session.id, counters: this.counters });
    this.store.close();
  }
}
