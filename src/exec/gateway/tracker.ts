/**
 * OrderTracker — what a gateway knows of each of its orders, so that what reaches the engine is
 * consistent whatever the venue (or the network) does:
 *
 *  - fills are keyed by cumulative filled amount (the venue's `z` / `filled`): a report whose
 *    cumulative amount is not above what we already have is a duplicate or arrived out of order —
 *    dropped and counted; one that skips ahead (an update lost) is emitted with the missing amount
 *    as its lastAmount, so positions stay right — counted as a gap;
 *  - a fill repeated under the same venue trade id is dropped (counted) even if its amount differs;
 *  - a fill for an order we already saw cancelled (the venue's race: it filled before our cancel
 *    reached it) is reported — the trade happened — and counted;
 *  - status never goes backwards: an ack after a fill or after the end, a second terminal report,
 *    are dropped and counted; reports for orders we never sent are counted and dropped;
 *  - every order carries its last event time: an event older than the last one applied is stale.
 * Cold path per report; the maps hold live orders and are pruned of terminal ones on `prune()`.
 */
import type { ExecReport, OrderRequest, OrderStatus, ReportKind, Side } from "../../domain/order.ts";
import { TERMINAL } from "../../domain/order.ts";

export interface TrackedOrder {
  req: OrderRequest;
  status: OrderStatus;
  venueOrderId?: string;
  filled: number;
  /** set when a terminal report was applied */
  doneAtMs?: number;
  cancelRequested: boolean;
  /** venue trade ids seen (made at the first fill: nothing allocated for it at submit) */
  tradeIds: Set<string> | undefined;
}

export interface TrackerCounters {
  duplicates: number;
  outOfOrder: number;
  gaps: number;
  fillsAfterCancel: number;
  unknownOrders: number;
  staleStatus: number;
}

const EPS = 1e-12;

export class OrderTracker {
  readonly counters: TrackerCounters = { duplicates: 0, outOfOrder: 0, gaps: 0, fillsAfterCancel: 0, unknownOrders: 0, staleStatus: 0 };
  private readonly orders = new Map<string, TrackedOrder>();
  private readonly byVenueId = new Map<string, string>();

  constructor(readonly venue: string) {}

  track(req: OrderRequest): TrackedOrder {
    const t: TrackedOrder = { req, status: "pending_new", filled: 0, cancelRequested: false, tradeIds: undefined };
    this.orders.set(req.clientOrderId, t);
    return t;
  }

  get(clientOrderId: string): TrackedOrder | undefined {
    return this.orders.get(clientOrderId);
  }

  byVenueOrderId(venueOrderId: string): TrackedOrder | undefined {
    const c = this.byVenueId.get(venueOrderId);
    return c === undefined ? undefined : this.orders.get(c);
  }

  /** Live (non-terminal) orders. */
  live(): TrackedOrder[] {
    const out: TrackedOrder[] = [];
    for (const t of this.orders.values()) if (!TERMINAL.has(t.status)) out.push(t);
    return out;
  }

  setVenueId(t: TrackedOrder, venueOrderId: string | undefined): void {
    if (venueOrderId === undefined || t.venueOrderId === venueOrderId) return;
    t.venueOrderId = venueOrderId;
    this.byVenueId.set(venueOrderId, t.req.clientOrderId);
  }

  /**
   * A venue event on one order, normalised: kind, cumulative filled, this fill's price (fills).
   * Returns the report to emit, or undefined when the event adds nothing (counted).
   */
  event(
    clientOrderId: string,
    kind: ReportKind,
    e: { venueOrderId?: string; filled: number; lastPrice: number; lastAmount?: number; fee: number; taker?: boolean; tradeId?: string; reason?: string; timeMs: number },
  ): ExecReport | undefined {
    const t = this.orders.get(clientOrderId);
    if (!t) {
      this.counters.unknownOrders++;
      return undefined;
    }
    this.setVenueId(t, e.venueOrderId);
    const terminal = TERMINAL.has(t.status);
    if (kind === "fill") {
      if (e.tradeId !== undefined && t.tradeIds?.has(e.tradeId) === true) {
        this.counters.duplicates++;
        return undefined;
      }
      if (e.filled <= t.filled + EPS) {
        // same cumulative amount again (a duplicate) or a smaller one (an older event, late)
        if (e.filled < t.filled - EPS) this.counters.outOfOrder++;
        else this.counters.duplicates++;
        return undefined;
      }
      let last = e.filled - t.filled;
      if (e.lastAmount !== undefined && last > e.lastAmount + EPS) this.counters.gaps++;
      if (t.status === "cancelled" || t.status === "expired" || t.cancelRequested) {
        if (t.status === "cancelled" || t.status === "expired") this.counters.fillsAfterCancel++;
      }
      if (e.tradeId !== undefined) (t.tradeIds ??= new Set()).add(e.tradeId);
      last = Math.min(last, t.req.amount - t.filled);
      t.filled = e.filled;
      const remaining = Math.max(0, t.req.amount - t.filled);
      if (!terminal || t.status !== "filled") t.status = remaining <= EPS * Math.max(1, t.req.amount) ? "filled" : terminal ? t.status : "partially_filled";
      if (t.status === "filled") t.doneAtMs = e.timeMs;
      return this.report(t, "fill", last, e.lastPrice, e.fee, e.timeMs, e.taker, e.tradeId);
    }
    if (kind === "ack") {
      if (t.status !== "pending_new") {
        this.counters.staleStatus++;
        return undefined;
      }
      t.status = "open";
      return this.report(t, "ack", 0, 0, 0, e.timeMs);
    }
    if (kind === "cancel_rejected") {
      t.cancelRequested = false;
      return this.report(t, "cancel_rejected", 0, 0, 0, e.timeMs, undefined, undefined, e.reason);
    }
    // cancelled / expired / rejected: terminal, once
    if (terminal) {
      this.counters.staleStatus++;
      return undefined;
    }
    if (e.filled > t.filled + EPS) {
      // the terminal report says more was filled than the fills we saw: the missing fill is lost
      this.counters.gaps++;
      t.filled = e.filled;
    }
    t.status = kind === "cancelled" ? "cancelled" : kind === "expired" ? "expired" : "rejected";
    t.doneAtMs = e.timeMs;
    return this.report(t, kind, 0, 0, 0, e.timeMs, undefined, undefined, e.reason);
  }

  private report(t: TrackedOrder, kind: ReportKind, lastAmount: number, lastPrice: number, fee: number, timeMs: number, taker?: boolean, tradeId?: string, reason?: string): ExecReport {
    const r: ExecReport = {
      kind, venue: this.venue, symbol: t.req.symbol, clientOrderId: t.req.clientOrderId, side: t.req.side as Side,
      lastAmount, lastPrice, filled: t.filled, remaining: Math.max(0, t.req.amount - t.filled), fee, venueTimeMs: timeMs,
    };
    if (t.venueOrderId !== undefined) r.venueOrderId = t.venueOrderId;
    if (taker !== undefined) r.taker = taker;
    if (tradeId !== undefined) r.tradeId = tradeId;
    if (reason !== undefined) r.reason = reason;
    return r;
  }

  /** Forgets orders that ended more than `olderThanMs` ago (late fills for them count as unknown). */
  prune(nowMs: number, olderThanMs: number): void {
    for (const [cid, t] of this.orders) {
      if (t.doneAtMs !== undefined && nowMs - t.doneAtMs > olderThanMs) {
        this.orders.delete(cid);
        if (t.venueOrderId !== undefined) this.byVenueId.delete(t.venueOrderId);
      }
    }
  }
}
