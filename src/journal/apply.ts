/**
 * The consumer side of the ring: decodes records and applies them to the store, in sequence order,
 * in one transaction per batch together with the new `applied_seq` — so a batch is in sqlite
 * entirely or not at all, and a replay after a crash resumes exactly after the last committed
 * record (records are applied at most once; ring records past applied_seq at least once).
 */
import type { ExecReport, OrderRequest, ReportKind } from "../domain/order.ts";
import {
  F_AMOUNT, F_FEE, F_FILLED, F_FLAGS, FL_ADOPTED, F_KIND, F_PRICE, F_REMAINING, F_ROUTE, F_TS_MS, F_VENUE_MS, FL_MARKET, FL_NO_PRICE,
  FL_REDUCE_ONLY, FL_SELL, FL_TAKER, FL_TIF_SHIFT, JournalRing, K_ACK, K_CANCEL, K_CANCEL_REJECTED, K_CANCELLED, K_EXPIRED,
  K_FILL, K_REJECTED, K_ROUTE, K_SUBMIT, S_CID, S_TEXT, S_TID, S_VID, TIF_CODES,
} from "./ring.ts";
import type { JournalStore } from "./store.ts";

interface Route {
  venue: string;
  symbol: string;
  strategy: string;
}

const REPORT_KIND: Record<number, ReportKind> = {
  [K_ACK]: "ack", [K_FILL]: "fill", [K_CANCELLED]: "cancelled", [K_REJECTED]: "rejected", [K_EXPIRED]: "expired", [K_CANCEL_REJECTED]: "cancel_rejected",
};

export class RingApplier {
  private readonly routes = new Map<number, Route>();
  /** records skipped because their route was unknown (cannot happen unless the ring is damaged) */
  badRecords = 0;

  constructor(readonly ring: JournalRing, readonly store: JournalStore) {
    for (const r of store.routes()) this.routes.set(r.id, r);
  }

  /** Highest sequence s such that every record from `from` to s is valid in the ring. */
  available(from: number, limit: number): number {
    let s = from;
    while (s - from < limit && this.ring.valid(s)) s++;
    return s - 1;
  }

  /** Applies records from..to (inclusive) and sets applied_seq = to, in one transaction. */
  applyBatch(from: number, to: number): void {
    if (to < from) return;
    this.store.tx(() => {
      for (let s = from; s <= to; s++) this.applyOne(s);
      this.store.setAppliedSeq(to);
    });
    this.ring.setApplied(to);
  }

  private applyOne(seq: number): void {
    const ring = this.ring, f = ring.f64, b = ring.slotF64(seq);
    const kind = f[b + F_KIND]!;
    const tsMs = f[b + F_TS_MS]!;
    if (kind === K_ROUTE) {
      const r = { venue: ring.readString(seq, S_CID), symbol: ring.readString(seq, S_TEXT), strategy: ring.readString(seq, S_VID) };
      const id = f[b + F_ROUTE]!;
      this.routes.set(id, r);
      this.store.route(id, r.venue, r.symbol, r.strategy);
      return;
    }
    const route = this.routes.get(f[b + F_ROUTE]!);
    if (!route) {
      this.badRecords++;
      this.store.event("ring_record_without_route", null, { seq, kind, route: f[b + F_ROUTE] }, tsMs);
      return;
    }
    const flags = f[b + F_FLAGS]!;
    const cid = ring.readString(seq, S_CID);
    if (kind === K_SUBMIT) {
      const req: OrderRequest = {
        clientOrderId: cid, venue: route.venue, symbol: route.symbol, side: flags & FL_SELL ? "sell" : "buy",
        type: flags & FL_MARKET ? "market" : "limit", amount: f[b + F_AMOUNT]!, timeInForce: TIF_CODES[(flags >> FL_TIF_SHIFT) & 3]!,
        strategy: route.strategy,
      };
      if (!(flags & FL_NO_PRICE)) req.price = f[b + F_PRICE]!;
      if (flags & FL_REDUCE_ONLY) req.reduceOnly = true;
      this.store.intent(req, tsMs, seq, flags & FL_ADOPTED ? "adopted" : "local");
      return;
    }
    if (kind === K_CANCEL) {
      this.store.cancelIntent(cid, tsMs);
      return;
    }
    const rk = REPORT_KIND[kind];
    if (!rk) {
      this.badRecords++;
      this.store.event("ring_record_bad_kind", cid, { seq, kind }, tsMs);
      return;
    }
    const vid = ring.readString(seq, S_VID), tid = ring.readString(seq, S_TID), reason = ring.readString(seq, S_TEXT);
    const r: ExecReport = {
      kind: rk, venue: route.venue, symbol: route.symbol, clientOrderId: cid, side: flags & FL_SELL ? "sell" : "buy",
      lastAmount: f[b + F_AMOUNT]!, lastPrice: f[b + F_PRICE]!, filled: f[b + F_FILLED]!, remaining: f[b + F_REMAINING]!,
      fee: f[b + F_FEE]!, venueTimeMs: f[b + F_VENUE_MS]!,
    };
    if (vid) r.venueOrderId = vid;
    if (tid) r.tradeId = tid;
    if (reason) r.reason = reason;
    if (flags & FL_TAKER) r.taker = true;
    this.store.report(r, seq, tsMs);
  }
}
