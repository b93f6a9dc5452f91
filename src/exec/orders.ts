/**
 * OrderTracker: the engine's one view of its live orders, keyed by client order id, kept
 * consistent with the venue whatever order its reports arrive in.
 *
 * State machine (status from domain/order.ts):
 *   pending_new      --ack--> open        --fill--> partially_filled --fill (all)--> filled
 *   pending_new/open/partially_filled --requestCancel--> pending_cancel
 *   pending_cancel   --cancelled--> cancelled;  --cancel_rejected--> back to what it was
 *   pending_new (or pending_cancel of one)  --rejected--> rejected
 *   any live status  --cancelled / expired (venue's own: IOC rest, STP, expiry)--> cancelled / expired
 * Rules that keep it right when reports come twice, late or out of order:
 *  - the cumulative `filled` of a fill report is the truth when it moves forward: the fill applied
 *    is (cumulative - what we had), so a lost report is made up by the next one (counted as a gap,
 *    priced at the later fill's price) and nothing is ever counted twice;
 *  - a fill repeated under the same trade id is a duplicate (ignored, counted); a fill whose
 *    cumulative is not above ours came late (ignored, counted);
 *  - a fill before the ack implies the ack; an ack after a fill, or a cancel after the order
 *    filled, is late (ignored, counted); a fill after our cancel was confirmed is the venue racing
 *    the cancel: applied (the trade happened) and counted;
 *  - reports for ids we do not know are counted and kept for reconciliation; reports that
 *    contradict a terminal state (ack or reject after the end) are refused, counted and logged;
 *  - statuses follow these rules, not the reports' timestamps: venue clocks skew.
 * Timeouts: an order pending_new or pending_cancel longer than its timeout is put in "unknown
 * state" (overdue()): the caller asks the venue (Gateway.order) and calls reconcile(); nothing is
 * assumed in the meantime, and a cancel is not re-sent while one is outstanding.
 * For self-trade prevention and position limits it keeps, per instrument, our best live bid/ask
 * and the remaining amount of live buys and sells in caller-given typed arrays.
 * Cold path: one object per order (orders are rare next to ticks), no closures per call.
 */
import type { ExecReport, OrderRequest, OrderStatus, VenueOrder } from "../domain/order.ts";
import { TERMINAL } from "../domain/order.ts";
import { BINANCE_CLIENT_ID } from "./client-id.ts";

/** What apply() and the actions return. FILL and FILL_AFTER_END mean: apply lastFill* to positions. */
export const Outcome = {
  APPLIED: 0,
  FILL: 1,
  FILL_AFTER_END: 2,
  DUPLICATE: 3,
  LATE: 4,
  UNKNOWN_ORDER: 5,
  ILLEGAL: 6,
  BAD_REPORT: 7,
  RETRY: 8,
  REFUSED: 9,
} as const;
export const OUTCOME_NAMES: readonly string[] = Object.keys(Outcome);

export interface OwnOrderArrays {
  ownBestBid: Float64Array;
  ownBestAsk: Float64Array;
  openBuy: Float64Array;
  openSell: Float64Array;
}

export class TrackedOrder {
  status: OrderStatus = "pending_new";
  /** the live status a pending_cancel returns to if the venue refuses the cancel */
  beforeCancel: OrderStatus = "pending_new";
  venueOrderId: string | undefined = undefined;
  filled = 0;
  /** sum of fill amount x price, for the average fill price */
  notional = 0;
  fees = 0;
  ackNs = NaN;
  cancelNs = NaN;
  lastNs: number;
  doneNs = NaN;
  tradeIds: Set<string> | undefined = undefined;
  /** set when a timeout or a contradiction means only the venue can say where it stands */
  unknown = false;
  /** cumulative amount the venue reported (cancel report or reconcile) beyond our fills: fetch its fills */
  missingFill = 0;
  /** cancel-replace links */
  replaces: string | undefined = undefined;
  replacedBy: string | undefined = undefined;
  readonly side: 0 | 1;
  readonly price: number;
  readonly amount: number;
  /** rests on the book once acknowledged (limit GTC/PO): counts for self-trade prevention */
  readonly rests: boolean;

  constructor(
    readonly req: OrderRequest,
    readonly inst: number,
    readonly venue: number,
    readonly sentNs: number,
  ) {
    this.side = req.side === "buy" ? 0 : 1;
    this.price = req.type === "limit" ? req.price! : NaN;
    this.amount = req.amount;
    this.rests = req.type === "limit" && (req.timeInForce === "GTC" || req.timeInForce === "PO");
    this.lastNs = sentNs;
  }
  get id(): string {
    return this.req.clientOrderId;
  }
  get remaining(): number {
    return Math.max(0, this.amount - this.filled);
  }
  get avgFillPrice(): number {
    return this.filled > 0 ? this.notional / this.filled : NaN;
  }
  get live(): boolean {
    return !TERMINAL.has(this.status);
  }
}

export interface TrackerCounters {
  submitted: number;
  retries: number;
  refused: number;
  reports: number;
  acks: number;
  fills: number;
  duplicates: number;
  late: number;
  gaps: number;
  fillsAfterEnd: number;
  unknownOrders: number;
  illegal: number;
  badReports: number;
  venueRejects: number;
  cancelRejects: number;
  unsolicitedCancels: number;
  timeouts: number;
  reconciled: number;
  /** reports whose venue time was further from our clock than clockSkewMs */
  clockSkew: number;
}

export interface TrackerOptions {
  instruments: number;
  own?: OwnOrderArrays;
  /** pending_new longer than this is unknown state (ns, default 5 s) */
  ackTimeoutNs?: number;
  /** pending_cancel longer than this is unknown state (ns, default 5 s) */
  cancelTimeoutNs?: number;
  /**
   * Reports whose venueTimeMs is further than this from our clock (nowNs / 1e6, same epoch) are
   * counted and logged as clock skew (0: not checked). Skew never changes a decision: statuses
   * follow the rules above, not timestamps.
   */
  clockSkewMs?: number;
  /** cold-path log of every anomaly */
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

const EPS = 1e-9;
const UNKNOWN_KEEP = 256;

export class OrderTracker {
  readonly orders = new Map<string, TrackedOrder>();
  /** live orders per instrument */
  private readonly liveByInst: Set<TrackedOrder>[];
  readonly counters: TrackerCounters = {
    submitted: 0, retries: 0, refused: 0, reports: 0, acks: 0, fills: 0, duplicates: 0, late: 0, gaps: 0, fillsAfterEnd: 0,
    unknownOrders: 0, illegal: 0, badReports: 0, venueRejects: 0, cancelRejects: 0, unsolicitedCancels: 0, timeouts: 0, reconciled: 0, clockSkew: 0,
  };
  /** largest |venue time - our time| seen (ms), when clockSkewMs is set */
  maxSkewMs = 0;
  readonly clockSkewMs: number;
  /** reports for ids we do not know (newest last, at most 256), for reconciliation */
  readonly unknownReports: ExecReport[] = [];
  /** the fill the last apply() produced (amount 0: none) and the order it belongs to */
  lastFillAmount = 0;
  lastFillPrice = NaN;
  lastFillFee = 0;
  lastOrder: TrackedOrder | undefined = undefined;
  /** why the last action was refused */
  lastRefusal = "";
  readonly ackTimeoutNs: number;
  readonly cancelTimeoutNs: number;
  private readonly own: OwnOrderArrays | undefined;
  private readonly logFn: (msg: string, fields: Record<string, unknown>) => void;

  constructor(o: TrackerOptions) {
    this.liveByInst = Array.from({ length: Math.max(1, o.instruments) }, () => new Set<TrackedOrder>());
    this.own = o.own;
    this.ackTimeoutNs = o.ackTimeoutNs ?? 5e9;
    this.cancelTimeoutNs = o.cancelTimeoutNs ?? 5e9;
    this.clockSkewMs = o.clockSkewMs ?? 0;
    this.logFn = o.log ?? (() => {});
  }

  get(id: string): TrackedOrder | undefined {
    return this.orders.get(id);
  }
  /** live orders of an instrument (all instruments when omitted) */
  *live(inst?: number): IterableIterator<TrackedOrder> {
    if (inst !== undefined) yield* this.liveByInst[inst] ?? [];
    else for (const s of this.liveByInst) yield* s;
  }
  get liveCount(): number {
    let n = 0;
    for (const s of this.liveByInst) n += s.size;
    return n;
  }

  // ------------------------------------------------------------------ actions

  /**
   * Registers an order about to be sent. A known id is a retry: RETRY while it is still
   * pending_new (send the same request again; the venue dedupes by client id), REFUSED once the
   * venue has answered. Malformed requests are REFUSED (lastRefusal says why).
   */
  submit(req: OrderRequest, inst: number, venue: number, nowNs: number): number {
    const known = this.orders.get(req.clientOrderId);
    if (known) {
      if (known.status === "pending_new" && !known.unknown) {
        this.counters.retries++;
        return Outcome.RETRY;
      }
      return this.refuse(`client order id ${req.clientOrderId} is already ${known.status}${known.unknown ? " (unknown state: query the venue)" : ""}: not sent again`);
    }
    const bad = this.invalid(req, inst);
    if (bad) return this.refuse(bad);
    const o = new TrackedOrder(req, inst, venue, nowNs);
    this.orders.set(req.clientOrderId, o);
    this.liveByInst[inst]!.add(o);
    this.counters.submitted++;
    this.refreshOwn(inst);
    return Outcome.APPLIED;
  }

  private invalid(req: OrderRequest, inst: number): string {
    if (!BINANCE_CLIENT_ID.test(req.clientOrderId)) return `client order id "${req.clientOrderId}" is not venue-legal`;
    if (!((inst >>> 0) === inst && inst < this.liveByInst.length)) return `instrument ${inst} out of range`;
    if (!(req.amount > 0 && req.amount < Infinity)) return `amount ${req.amount} is not a positive number`;
    if (req.type === "limit" && !(req.price! > 0 && req.price! < Infinity)) return `limit order without a positive price (${req.price})`;
    if (req.side !== "buy" && req.side !== "sell") return `side ${req.side} is neither buy nor sell`;
    return "";
  }

  /**
   * Marks a cancel as sent. REFUSED for unknown ids, finished orders and a cancel already
   * outstanding (one cancel at a time; overdue() surfaces one that gets no answer).
   */
  requestCancel(id: string, nowNs: number): number {
    const o = this.orders.get(id);
    if (!o) return this.refuse(`cancel of unknown order ${id}`);
    if (!o.live) return this.refuse(`cancel of ${id}: already ${o.status}`);
    if (o.status === "pending_cancel") return this.refuse(`cancel of ${id}: a cancel is already outstanding`);
    o.beforeCancel = o.status;
    o.status = "pending_cancel";
    o.cancelNs = nowNs;
    o.lastNs = nowNs;
    return Outcome.APPLIED;
  }

  /**
   * Cancel-replace: cancels `oldId` and registers `next` (a new client id) linked to it. The old
   * order may still fill before the venue takes the cancel; such fills arrive as usual and the
   * link (replacedBy) lets the caller shrink the replacement. REFUSED when either half is refused.
   */
  replace(oldId: string, next: OrderRequest, inst: number, venue: number, nowNs: number): number {
    const o = this.orders.get(oldId);
    if (!o) return this.refuse(`replace of unknown order ${oldId}`);
    if (next.clientOrderId === oldId || this.orders.has(next.clientOrderId)) return this.refuse(`replace of ${oldId}: the replacement needs a new client order id`);
    if (o.inst !== inst || o.req.side !== next.side) return this.refuse(`replace of ${oldId}: instrument and side must stay the same`);
    const bad = this.invalid(next, inst);
    if (bad) return this.refuse(bad);
    if (this.requestCancel(oldId, nowNs) !== Outcome.APPLIED) return Outcome.REFUSED;
    this.submit(next, inst, venue, nowNs);
    o.replacedBy = next.clientOrderId;
    this.orders.get(next.clientOrderId)!.replaces = oldId;
    return Outcome.APPLIED;
  }

  private refuse(why: string): number {
    this.counters.refused++;
    this.lastRefusal = why;
    this.logFn("order action refused", { why });
    return Outcome.REFUSED;
  }

  // ------------------------------------------------------------------ reports

  /** Applies one execution report; see Outcome. After FILL / FILL_AFTER_END, lastFill* is the fill to book. */
  apply(r: ExecReport, nowNs: number): number {
    this.counters.reports++;
    this.lastFillAmount = 0;
    this.lastFillPrice = NaN;
    this.lastFillFee = 0;
    const o = this.orders.get(r.clientOrderId);
    this.lastOrder = o;
    if (!(r.filled >= 0 && r.filled < Infinity && r.lastAmount >= 0 && r.lastAmount < Infinity && Number.isFinite(r.fee) && r.lastPrice >= 0 && r.lastPrice < Infinity)) {
      return this.bad(r, "numbers out of range");
    }
    if (!o) {
      this.counters.unknownOrders++;
      if (this.unknownReports.length >= UNKNOWN_KEEP) this.unknownReports.shift();
      this.unknownReports.push(r);
      this.logFn("report for an unknown order id: kept for reconciliation", { id: r.clientOrderId, kind: r.kind, venue: r.venue, symbol: r.symbol });
      return Outcome.UNKNOWN_ORDER;
    }
    if (this.clockSkewMs > 0 && r.venueTimeMs > 0) {
      const skew = Math.abs(r.venueTimeMs - nowNs / 1e6);
      if (skew > this.maxSkewMs) this.maxSkewMs = skew;
      if (skew > this.clockSkewMs) {
        this.counters.clockSkew++;
        this.logFn("venue clock differs from ours beyond the tolerance (state follows the report order rules, not timestamps)", { id: r.clientOrderId, venueTimeMs: r.venueTimeMs, ourMs: nowNs / 1e6, skewMs: skew });
      }
    }
    if (r.venueOrderId !== undefined) o.venueOrderId ??= r.venueOrderId;
    o.lastNs = nowNs;
    let out: number;
    switch (r.kind) {
      case "fill":
        out = this.onFill(o, r, nowNs);
        break;
      case "ack":
        out = this.onAck(o, nowNs);
        break;
      case "cancelled":
      case "expired":
        out = this.onEnd(o, r, r.kind, nowNs);
        break;
      case "rejected":
        out = this.onReject(o, r, nowNs);
        break;
      case "cancel_rejected":
        out = this.onCancelReject(o, r);
        break;
      default:
        return this.bad(r, `unknown report kind ${String((r as { kind: unknown }).kind)}`);
    }
    this.settle(o, nowNs);
    return out;
  }

  private onFill(o: TrackedOrder, r: ExecReport, nowNs: number): number {
    if (r.tradeId !== undefined && o.tradeIds?.has(r.tradeId)) {
      this.counters.duplicates++;
      return Outcome.DUPLICATE;
    }
    if (!(r.lastAmount > 0 && r.lastPrice > 0) || r.filled + EPS < r.lastAmount) return this.bad(r, "fill without amount and price, or cumulative below this fill");
    if (r.filled > o.amount * (1 + EPS)) {
      o.unknown = true;
      return this.bad(r, `cumulative ${r.filled} above the order amount ${o.amount}`);
    }
    if (r.tradeId !== undefined) (o.tradeIds ??= new Set()).add(r.tradeId);
    const delta = r.filled - o.filled;
    if (!(delta > EPS * o.amount)) {
      // already counted through a later cumulative (or a repeat without trade id)
      this.counters.late++;
      if (r.tradeId === undefined) this.counters.duplicates++;
      return Outcome.LATE;
    }
    if (delta > r.lastAmount * (1 + EPS)) {
      this.counters.gaps++;
      this.logFn("fill report skipped ahead: missing fills booked at this fill's price", { id: o.id, had: o.filled, cumulative: r.filled, lastAmount: r.lastAmount });
    }
    const wasDone = o.status === "cancelled" || o.status === "expired" || o.status === "rejected";
    if (o.status === "pending_new") {
      o.ackNs = nowNs; // a fill implies the ack
      o.status = "open";
    } else if (o.status === "pending_cancel" && o.beforeCancel === "pending_new") o.beforeCancel = "open";
    o.filled = r.filled >= o.amount * (1 - EPS) ? o.amount : r.filled;
    o.missingFill = Math.max(0, o.missingFill - delta);
    o.notional += delta * r.lastPrice;
    o.fees += r.fee;
    this.counters.fills++;
    this.lastFillAmount = delta;
    this.lastFillPrice = r.lastPrice;
    this.lastFillFee = r.fee;
    const full = o.filled >= o.amount;
    if (full) o.status = "filled";
    else if (o.status === "open") o.status = "partially_filled";
    else if (o.status === "pending_cancel") o.beforeCancel = "partially_filled";
    if (wasDone) {
      this.counters.fillsAfterEnd++;
      this.logFn("fill for an order already ended: the venue filled it before our cancel took effect; applied", { id: o.id, cumulative: r.filled });
      return Outcome.FILL_AFTER_END;
    }
    return Outcome.FILL;
  }

  private onAck(o: TrackedOrder, nowNs: number): number {
    if (o.status === "pending_new") {
      o.status = "open";
      o.ackNs = nowNs;
      this.counters.acks++;
      return Outcome.APPLIED;
    }
    if (o.status === "pending_cancel" && o.beforeCancel === "pending_new") {
      o.beforeCancel = "open";
      o.ackNs = nowNs;
      this.counters.acks++;
      return Outcome.APPLIED;
    }
    if (o.status === "rejected") return this.illegal(o, "ack after the venue rejected the order");
    // open / partially filled / filled / cancelled already: a duplicate or late ack
    this.counters.late++;
    return Outcome.LATE;
  }

  private onEnd(o: TrackedOrder, r: ExecReport, kind: "cancelled" | "expired", nowNs: number): number {
    if (o.status === kind) {
      this.counters.duplicates++;
      return Outcome.DUPLICATE;
    }
    if (o.status === "filled") {
      this.counters.late++;
      this.logFn(`${kind} report after the order filled: ignored`, { id: o.id });
      return Outcome.LATE;
    }
    if (!o.live) return this.illegal(o, `${kind} after ${o.status}`);
    if (kind === "cancelled" && o.status !== "pending_cancel") {
      this.counters.unsolicitedCancels++;
      this.logFn("venue cancelled an order we did not ask to cancel", { id: o.id, reason: r.reason });
    }
    if (r.filled > o.filled * (1 + EPS) + EPS) {
      // the venue says more filled than the fills we saw: their reports are late or lost
      o.missingFill = r.filled - o.filled;
      this.counters.gaps++;
      this.logFn(`${kind} report carries fills we have not seen: fetch the order's fills`, { id: o.id, ours: o.filled, venue: r.filled });
    }
    o.status = kind;
    o.doneNs = nowNs;
    return Outcome.APPLIED;
  }

  private onReject(o: TrackedOrder, r: ExecReport, nowNs: number): number {
    if (o.status === "rejected") {
      this.counters.duplicates++;
      return Outcome.DUPLICATE;
    }
    if (o.status === "pending_new" || (o.status === "pending_cancel" && o.beforeCancel === "pending_new")) {
      o.status = "rejected";
      o.doneNs = nowNs;
      this.counters.venueRejects++;
      this.logFn("venue rejected the order", { id: o.id, reason: r.reason });
      return Outcome.APPLIED;
    }
    return this.illegal(o, `reject after ${o.status}`);
  }

  private onCancelReject(o: TrackedOrder, r: ExecReport): number {
    this.counters.cancelRejects++;
    if (o.status !== "pending_cancel") {
      // our cancel crossed a fill or the end of the order: nothing to undo
      this.counters.late++;
      return Outcome.LATE;
    }
    o.status = o.filled >= o.amount ? "filled" : o.beforeCancel;
    o.cancelNs = NaN;
    // "unknown order" and the like: the order may have ended without our seeing it
    o.unknown = true;
    this.logFn("venue refused our cancel: order state to be confirmed with the venue", { id: o.id, reason: r.reason, status: o.status });
    return Outcome.APPLIED;
  }

  private illegal(o: TrackedOrder, what: string): number {
    this.counters.illegal++;
    o.unknown = true;
    this.logFn("report contradicts the order's state: refused, order to be reconciled with the venue", { id: o.id, what, status: o.status });
    return Outcome.ILLEGAL;
  }

  private bad(r: ExecReport, why: string): number {
    this.counters.badReports++;
    this.logFn("malformed execution report refused", { id: r.clientOrderId, kind: r.kind, why });
    return Outcome.BAD_REPORT;
  }

  /** after a change: terminal orders leave the live set; the instrument's own-order arrays follow */
  private settle(o: TrackedOrder, nowNs: number): void {
    if (!o.live) {
      if (Number.isNaN(o.doneNs)) o.doneNs = nowNs;
      this.liveByInst[o.inst]!.delete(o);
    } else this.liveByInst[o.inst]!.add(o);
    this.refreshOwn(o.inst);
  }

  private refreshOwn(inst: number): void {
    const own = this.own;
    if (!own) return;
    let bb = NaN, ba = NaN, buy = 0, sell = 0;
    for (const o of this.liveByInst[inst]!) {
      if (o.side === 0) {
        buy += o.remaining;
        if (o.rests && !(o.price <= bb)) bb = o.price;
      } else {
        sell += o.remaining;
        if (o.rests && !(o.price >= ba)) ba = o.price;
      }
    }
    own.ownBestBid[inst] = bb;
    own.ownBestAsk[inst] = ba;
    own.openBuy[inst] = buy;
    own.openSell[inst] = sell;
  }

  // ------------------------------------------------------------------ timeouts and reconciliation

  /**
   * Orders whose new or cancel request has had no answer within its timeout: marked unknown
   * (status unchanged), counted and logged once, and pushed to `out`. Query the venue for each
   * and call reconcile(). Returns how many are overdue now.
   */
  overdue(nowNs: number, out: TrackedOrder[]): number {
    let n = 0;
    for (const s of this.liveByInst) {
      for (const o of s) {
        const late = (o.status === "pending_new" && nowNs - o.sentNs > this.ackTimeoutNs) || (o.status === "pending_cancel" && nowNs - o.cancelNs > this.cancelTimeoutNs);
        if (!late) continue;
        if (!o.unknown) {
          o.unknown = true;
          this.counters.timeouts++;
          this.logFn("no answer from the venue in time: order state unknown, query the venue", { id: o.id, status: o.status, waitedNs: nowNs - (o.status === "pending_new" ? o.sentNs : o.cancelNs) });
        }
        out.push(o);
        n++;
      }
    }
    return n;
  }

  /**
   * The venue's answer for one order (Gateway.order): its status becomes ours; an amount filled
   * beyond our fills is left in missingFill for the caller to fetch as fill reports (apply()
   * books them by cumulative, once). `undefined` means the venue never had it: a pending_new
   * order never arrived and is expired; anything else is left unknown and logged.
   */
  reconcile(id: string, v: VenueOrder | undefined, nowNs: number): number {
    const o = this.orders.get(id);
    if (!o) return this.refuse(`reconcile of unknown order ${id}`);
    this.counters.reconciled++;
    if (v === undefined) {
      if (o.status === "pending_new" || (o.status === "pending_cancel" && o.beforeCancel === "pending_new")) {
        o.status = "expired";
        o.unknown = false;
        this.logFn("order never reached the venue: expired", { id });
      } else {
        this.logFn("venue does not know an order it acknowledged: left unknown", { id, status: o.status });
        return Outcome.ILLEGAL;
      }
    } else {
      o.venueOrderId ??= v.venueOrderId;
      if (v.filled > o.filled * (1 + EPS) + EPS) o.missingFill = v.filled - o.filled;
      if (v.status === "pending_new" || v.status === "pending_cancel") {
        // the venue itself is still processing: stay unknown, ask again later
        o.lastNs = nowNs;
        return Outcome.APPLIED;
      }
      o.status = v.status === "filled" && o.filled < o.amount && o.missingFill === 0 ? "partially_filled" : v.status;
      o.unknown = false;
      if (!TERMINAL.has(o.status)) o.cancelNs = NaN;
      if (o.missingFill > 0) this.logFn("venue reports fills we have not seen: fetch the order's fills", { id, ours: o.filled, venue: v.filled });
    }
    this.settle(o, nowNs);
    return Outcome.APPLIED;
  }

  /**
   * Every order only the venue can settle now: unknown state (timeout, refused cancel, a report
   * that contradicted us) or fills the venue reported that we have not seen (missingFill).
   * Pushed to `out`; returns how many.
   */
  toReconcile(out: TrackedOrder[]): number {
    let n = 0;
    for (const o of this.orders.values()) {
      if (o.unknown || o.missingFill > 0) {
        out.push(o);
        n++;
      }
    }
    return n;
  }

  /** Forgets finished orders that ended more than `keepNs` ago (late reports for them then count as unknown). */
  prune(nowNs: number, keepNs: number): number {
    let n = 0;
    for (const [id, o] of this.orders) {
      if (!o.live && !o.unknown && o.missingFill === 0 && nowNs - o.doneNs > keepNs) {
        this.orders.delete(id);
        n++;
      }
    }
    return n;
  }
}
