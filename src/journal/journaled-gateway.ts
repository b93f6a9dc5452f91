/**
 * JournaledGateway: any Gateway with the journal in front. It keeps the write-ahead rule for the
 * engine: an order is journaled before the inner gateway's submit is called, and not sent at all
 * if the journal refuses it (the caller gets a `rejected` report saying why); every report is
 * journaled before the engine's handler sees it. Recovery (recovery.ts) runs before the first new
 * order; shutdown cancels what is open (configurable), waits for the venue's answers, flushes and
 * closes the journal.
 */
import type { ExecReport, Gateway, OrderRequest, VenueOrder } from "../domain/order.ts";
import { TERMINAL } from "../domain/order.ts";
import type { OrderJournal } from "./journal.ts";
import { recover, type RecoveryOptions, type RecoveryReport } from "./recovery.ts";

export interface ShutdownOptions {
  /** cancel every live order of this venue first (default true) */
  cancelOpen?: boolean;
  /** how long to wait for the venue's answers to those cancels, ms (default 3000) */
  timeoutMs?: number;
}

export interface ShutdownReport {
  cancelsSent: number;
  /** live orders still not terminal when the wait ended */
  stillLive: number;
  waitedMs: number;
}

export class JournaledGateway implements Gateway {
  readonly venue: string;
  /** orders refused by the journal (never sent) */
  refused = 0;
  private handler: (r: ExecReport) => void = () => {};
  /** set when shutdown starts: new orders are refused from then on */
  private stopping = false;

  constructor(readonly inner: Gateway, readonly journal: OrderJournal) {
    this.venue = inner.venue;
    inner.onReport((r) => {
      if (!journal.report(r)) this.refused++;
      this.handler(r);
    });
  }

  onReport(handler: (r: ExecReport) => void): void {
    this.handler = handler;
  }

  submit(req: OrderRequest): void {
    if (!this.stopping && this.journal.submit(req)) {
      this.inner.submit(req);
      return;
    }
    this.refused++;
    this.handler({
      kind: "rejected", venue: req.venue, symbol: req.symbol, clientOrderId: req.clientOrderId, side: req.side, lastAmount: 0, lastPrice: 0,
      filled: 0, remaining: req.amount, fee: 0, reason: this.stopping ? "shutting down: no new orders" : "journal refused the order (ring full or id too long); not sent", venueTimeMs: Date.now(),
    });
  }

  cancel(symbol: string, clientOrderId: string): void {
    // a cancel is sent even if the journal cannot take it: it only reduces risk, and recovery
    // settles the order's state from the venue either way
    if (!this.journal.cancel(this.venue, symbol, clientOrderId)) this.refused++;
    this.inner.cancel(symbol, clientOrderId);
  }

  hold(): void {
    this.inner.hold?.();
  }
  flush(): void {
    this.inner.flush?.();
  }

  openOrders(symbol?: string): Promise<VenueOrder[]> {
    return this.inner.openOrders(symbol);
  }
  fills(symbol: string, sinceMs: number): Promise<ExecReport[]> {
    return this.inner.fills(symbol, sinceMs);
  }

  /** Reconciles the journal with the venue (see recovery.ts); call before the first new order. */
  recover(opts?: RecoveryOptions): Promise<RecoveryReport> {
    return recover(this.journal, this.inner, opts);
  }

  /** Graceful stop: cancel open orders (configurable), wait for the answers, flush, close. */
  async shutdown(opts: ShutdownOptions = {}): Promise<ShutdownReport> {
    this.stopping = true;
    const t0 = Date.now();
    const out: ShutdownReport = { cancelsSent: 0, stillLive: 0, waitedMs: 0 };
    await this.journal.flush();
    const store = this.journal.store;
    if (opts.cancelOpen ?? true) {
      for (const o of store.liveOrders()) {
        if (o.venue !== this.venue) continue;
        this.cancel(o.symbol, o.client_id);
        out.cancelsSent++;
      }
      const deadline = t0 + (opts.timeoutMs ?? 3000);
      for (;;) {
        await this.journal.flush();
        out.stillLive = store.liveOrders().filter((o) => o.venue === this.venue && !TERMINAL.has(o.status)).length;
        if (out.stillLive === 0 || Date.now() >= deadline) break;
        await Bun.sleep(5);
      }
    }
    out.waitedMs = Date.now() - t0;
    store.event("shutdown", null, out);
    await this.journal.close(true);
    await this.inner.close();
    return out;
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.journal.close(true);
    await this.inner.close();
  }

  /**
   * SIGINT/SIGTERM → shutdown(opts), then exit 0 (1 if it failed). Returns a function that
   * removes the handlers.
   */
  installSignalHandlers(opts: ShutdownOptions = {}, onDone?: (r: ShutdownReport) => void): () => void {
    let started = false;
    const h = (): void => {
      if (started) return;
      started = true;
      this.shutdown(opts).then(
        (r) => {
          onDone?.(r);
          process.exit(0);
        },
        (e) => {
          console.error(`bot4: shutdown failed: ${(e as Error).message}`);
          process.exit(1);
        },
      );
    };
    process.on("SIGINT", h);
    process.on("SIGTERM", h);
    return () => {
      process.off("SIGINT", h);
      process.off("SIGTERM", h);
    };
  }
}
