/**
 * CcxtGateway — order entry for any venue ccxt supports, over its unified REST API
 * (createOrder, cancelOrder, fetchOrder, fetchOpenOrders, fetchMyTrades, fetchBalance).
 * Reach, not speed: the native gateways (binance-ws.ts) are the fast path.
 *
 * Contract (besides the Gateway interface's):
 *  - every order carries its client order id to the venue (ccxt's `clientOrderId` param), so a
 *    placement is identified across retries: after a timeout or a network error the gateway asks
 *    the venue for the order by client id (never resubmits it blindly); found → its reports,
 *    not found → rejected (it never reached the matching engine). Cancels, being idempotent,
 *    are retried once after a network error.
 *  - reports come from the responses and from polling (`pollMs`): open orders and trades per
 *    symbol with live orders, through an OrderTracker (duplicates, out-of-order and late fills
 *    counted, never double-counted).
 *  - ccxt errors are mapped and counted by class: InsufficientFunds / InvalidOrder / BadSymbol →
 *    rejected; OrderNotFound on cancel → cancel_rejected; RateLimitExceeded / DDoSProtection →
 *    the RateLimiter backs off (418 bans stop everything); NetworkError / RequestTimeout → the
 *    status query above. Each venue error is recorded by ErrorStorm: at its threshold
 *    `onErrorStorm` is called (the kill switch) and new orders are refused until `resetErrorStorm()`.
 *  - endpoints: with `endpoint`, every ccxt URL points there and any other origin is refused
 *    (same rule as the ccxt feed adapter).
 *
 * Hook for the engine: `submit` is where risk and routing hand over (they run before it); the
 * gateway does no risk checks of its own besides the error-storm stop.
 */
import ccxt from "ccxt";
import type { Logger } from "pino";
import type { ExecReport, Gateway, OrderRequest, ReportKind, VenueOrder, OrderStatus } from "../../domain/order.ts";
import { pointUrlsAt } from "../../feed/ccxt/adapter.ts";
import { log as rootLog } from "../../telemetry/log.ts";
import { ErrorStorm, RateLimiter, type WindowLimit } from "./rate-limit.ts";
import { OrderTracker } from "./tracker.ts";

export interface CcxtGatewayOptions {
  /** ccxt exchange id: "binance", "bybit", "okx", ... */
  exchange: string;
  /** venue name on reports (default: the exchange id) */
  venue?: string;
  apiKey: string;
  secret: string;
  password?: string;
  /** point every REST URL here (the local venue) and refuse any other origin */
  endpoint?: { http: string; ws?: string };
  /** ccxt request timeout (ms, default 10 s) */
  timeoutMs?: number;
  /** poll open orders and trades this often (ms; 0 = never, default 1000) */
  pollMs?: number;
  limits?: readonly WindowLimit[];
  errorStorm?: { threshold: number; windowMs: number };
  onErrorStorm?: (info: { venue: string; errors: number; windowMs: number; last: string }) => void;
  exchangeOptions?: Record<string, unknown>;
  log?: Logger;
}

export interface CcxtGatewayCounters {
  submitted: number;
  acks: number;
  fills: number;
  rejects: number;
  cancels: number;
  cancelRejects: number;
  timeouts: number;
  statusQueries: number;
  /** placements found at the venue after a timeout */
  recovered: number;
  /** placements the venue did not have after a timeout */
  lostPlacements: number;
  refusedByStorm: number;
  polls: number;
  /** errors by ccxt class name */
  errors: Record<string, number>;
}

type CcxtOrder = { id?: string; clientOrderId?: string; status?: string; symbol?: string; side?: string; type?: string; price?: number; amount?: number; filled?: number; average?: number; timestamp?: number; trades?: CcxtTrade[]; fee?: { cost?: number } };
type CcxtTrade = { id?: string; order?: string; symbol?: string; side?: string; price?: number; amount?: number; fee?: { cost?: number; currency?: string }; takerOrMaker?: string; timestamp?: number };
type CcxtRest = {
  id: string;
  urls: Record<string, unknown>;
  options: Record<string, unknown>;
  markets?: Record<string, unknown>;
  timeout: number;
  fetchImplementation?: unknown;
  loadMarkets(): Promise<unknown>;
  createOrder(symbol: string, type: string, side: string, amount: number, price?: number, params?: Record<string, unknown>): Promise<CcxtOrder>;
  cancelOrder(id: string | undefined, symbol: string, params?: Record<string, unknown>): Promise<CcxtOrder>;
  fetchOrder(id: string | undefined, symbol: string, params?: Record<string, unknown>): Promise<CcxtOrder>;
  fetchOpenOrders(symbol?: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<CcxtOrder[]>;
  fetchMyTrades(symbol: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<CcxtTrade[]>;
  fetchBalance(params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close?(): Promise<void>;
  last_response_headers?: Record<string, string>;
};

const ORIGIN = /^(https?|wss?):\/\/[^/?#]+/i;
const originOf = (u: string) => (ORIGIN.exec(u)?.[0] ?? "").toLowerCase();

/** ccxt error class → how the gateway treats it. */
function classify(e: unknown): "funds" | "invalid" | "notfound" | "ratelimit" | "ddos" | "timeout" | "network" | "unknown" | "auth" | "nonce" | "other" {
  const E = ccxt as unknown as Record<string, new (...a: unknown[]) => Error>;
  // Binance: a 5XX or -1001 means the execution status is UNKNOWN (it may have been executed)
  if ((E.OperationFailed && e instanceof E.OperationFailed && /"code":-1001\b/.test((e as Error).message)) || (E.ExchangeNotAvailable && e instanceof E.ExchangeNotAvailable)) return "unknown";
  if (e instanceof E.InsufficientFunds!) return "funds";
  if (e instanceof E.OrderNotFound!) return "notfound";
  if (e instanceof E.InvalidNonce!) return "nonce";
  if (e instanceof E.InvalidOrder! || e instanceof E.BadSymbol! || e instanceof E.BadRequest!) return "invalid";
  if (e instanceof E.AuthenticationError!) return "auth";
  if (e instanceof E.RateLimitExceeded!) return "ratelimit";
  if (e instanceof E.DDoSProtection!) return "ddos";
  if (e instanceof E.RequestTimeout!) return "timeout";
  if (e instanceof E.NetworkError!) return "network";
  return "other";
}

const STATUS: Record<string, OrderStatus> = { open: "open", closed: "filled", canceled: "cancelled", cancelled: "cancelled", expired: "expired", rejected: "rejected" };

export class CcxtGateway implements Gateway {
  readonly venue: string;
  readonly counters: CcxtGatewayCounters = { submitted: 0, acks: 0, fills: 0, rejects: 0, cancels: 0, cancelRejects: 0, timeouts: 0, statusQueries: 0, recovered: 0, lostPlacements: 0, refusedByStorm: 0, polls: 0, errors: {} };
  readonly tracker: OrderTracker;
  readonly limiter: RateLimiter;
  readonly storm: ErrorStorm;
  readonly offEndpoint: string[] = [];
  private readonly ex: CcxtRest;
  private readonly handlers: Array<(r: ExecReport) => void> = [];
  private readonly log: Logger;
  private ready: Promise<unknown> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly tradesSince = new Map<string, number>();

  constructor(private readonly o: CcxtGatewayOptions) {
    const Rest = (ccxt as unknown as Record<string, new (cfg: Record<string, unknown>) => CcxtRest>)[o.exchange];
    if (typeof Rest !== "function") throw new Error(`ccxt has no exchange \`${o.exchange}\` (ccxt ${ccxt.version})`);
    this.venue = o.venue ?? o.exchange;
    this.log = (o.log ?? rootLog()).child({ gateway: "ccxt", exchange: o.exchange });
    const ex = new Rest({ apiKey: o.apiKey, secret: o.secret, password: o.password, enableRateLimit: false, timeout: o.timeoutMs ?? 10_000 });
    this.ex = ex;
    // Binance spot: markets of spot only (ccxt otherwise also loads margin and derivatives markets from other hosts); binanceusdm / binancecoinm are their own ccxt classes
    if (o.exchange === "binance") Object.assign(ex.options, { fetchCurrencies: false, fetchMargins: false, adjustForTimeDifference: false, fetchMarkets: { types: ["spot"] }, defaultType: "spot" });
    // recovery asks for every open order in one call; the gateway's own limiter charges it the
    // venue's weight for that (80), so ccxt's refusal-by-default of a symbol-less call is off
    ex.options.warnOnFetchOpenOrdersWithoutSymbol = false;
    if (o.exchangeOptions) Object.assign(ex.options, o.exchangeOptions);
    if (o.endpoint) {
      const http = o.endpoint.http.replace(/\/$/, "");
      const ws = (o.endpoint.ws ?? http.replace(/^http/, "ws")).replace(/\/$/, "");
      ex.urls = { ...ex.urls, api: pointUrlsAt(ex.urls.api, http, ws) };
      const allowed = [originOf(http), originOf(ws)];
      ex.fetchImplementation = (url: string, init?: RequestInit) => {
        if (!allowed.includes(originOf(String(url)))) {
          this.offEndpoint.push(String(url));
          throw new Error(`${o.exchange}: request to ${url} refused: only ${allowed.join(", ")} may be reached`);
        }
        return fetch(url, init).then((r) => {
          this.limiter.observeHeaders(r.headers);
          return r;
        });
      };
    }
    this.tracker = new OrderTracker(this.venue);
    this.limiter = new RateLimiter(this.venue, o.limits);
    this.storm = new ErrorStorm(this.venue, { threshold: o.errorStorm?.threshold ?? 20, windowMs: o.errorStorm?.windowMs ?? 10_000, onErrorStorm: (i) => {
      this.log.error(i, "venue error storm: calling the kill switch");
      o.onErrorStorm?.(i);
    } });
  }

  /** Loads markets; starts polling. Called by the first submit if not called before. */
  start(): Promise<void> {
    if (!this.ready) {
      this.ready = this.ex.loadMarkets().catch((e) => {
        this.ready = undefined; // the next call tries again
        if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
        this.pollTimer = undefined;
        throw e;
      });
      const ms = this.o.pollMs ?? 1000;
      if (ms > 0) this.pollTimer = setInterval(() => void this.poll(), ms);
    }
    return this.ready.then(() => undefined);
  }

  onReport(handler: (r: ExecReport) => void): void {
    this.handlers.push(handler);
  }

  private emit(r: ExecReport | undefined): void {
    if (!r) return;
    if (r.kind === "ack") this.counters.acks++;
    else if (r.kind === "fill") this.counters.fills++;
    else if (r.kind === "rejected") this.counters.rejects++;
    else if (r.kind === "cancelled") this.counters.cancels++;
    else if (r.kind === "cancel_rejected") this.counters.cancelRejects++;
    for (const h of this.handlers) h(r);
  }

  private countError(e: unknown): string {
    const name = (e as Error)?.constructor?.name ?? "Error";
    this.counters.errors[name] = (this.counters.errors[name] ?? 0) + 1;
    return name;
  }

  /** Applies an error to the limiter and the storm breaker; returns its class. */
  private venueError(e: unknown, what: string): ReturnType<typeof classify> {
    const c = classify(e);
    const name = this.countError(e);
    const msg = (e as Error)?.message ?? String(e);
    if (c === "ratelimit" || c === "ddos") {
      const h = this.ex.last_response_headers ?? {};
      const ra = Number(h["Retry-After"] ?? h["retry-after"]);
      if (/\b418\b/.test(msg)) this.limiter.on418(Number.isFinite(ra) ? Date.now() + ra * 1000 : undefined);
      else this.limiter.on429(Number.isFinite(ra) ? ra : undefined);
    }
    this.log.warn({ what, error: name, msg: msg.slice(0, 300) }, "venue error");
    this.storm.record(`${what}: ${name}`);
    return c;
  }

  private track<T>(p: Promise<T>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  submit(req: OrderRequest): void {
    this.counters.submitted++;
    const t = this.tracker.track(req);
    if (this.storm.tripped || this.closed) {
      this.counters.refusedByStorm++;
      t.status = "pending_new";
      this.emit(this.tracker.event(req.clientOrderId, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: Date.now(), reason: this.closed ? "gateway closed" : "error storm: the kill switch stopped new orders" }));
      return;
    }
    this.track(this.place(req));
  }

  /** ccxt's param naming a client order id (Binance's own name, else ccxt's unified one). */
  private byClientId(cid: string): Record<string, unknown> {
    return this.o.exchange.startsWith("binance") ? { origClientOrderId: cid } : { clientOrderId: cid };
  }

  private params(req: OrderRequest): Record<string, unknown> {
    const p: Record<string, unknown> = { clientOrderId: req.clientOrderId };
    if (req.timeInForce === "PO") p.postOnly = true;
    else if (req.type === "limit") p.timeInForce = req.timeInForce;
    if (req.reduceOnly) p.reduceOnly = true;
    return p;
  }

  private async waitAdmit(weight: number, isOrder: boolean): Promise<boolean> {
    for (;;) {
      const w = this.limiter.admit(weight, isOrder);
      if (w === 0) return true;
      if (!Number.isFinite(w)) return false;
      await Bun.sleep(Math.min(w, 60_000));
    }
  }

  private async place(req: OrderRequest): Promise<void> {
    const cid = req.clientOrderId;
    try {
      await this.start();
    } catch (e) {
      // nothing was sent: the order is refused here, not lost
      this.emit(this.tracker.event(cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: Date.now(), reason: `markets could not be loaded (${this.venueError(e, "loadMarkets")}): not sent` }));
      return;
    }
    try {
      if (!(await this.waitAdmit(1, true))) {
        this.emit(this.tracker.event(cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: Date.now(), reason: `IP banned by the venue until ${new Date(this.limiter.bannedUntilMs).toISOString()} (418)` }));
        return;
      }
      const o = await this.ex.createOrder(req.symbol, req.type, req.side, req.amount, req.type === "limit" ? req.price : undefined, this.params(req));
      this.applyOrder(cid, o);
    } catch (e) {
      const c = this.venueError(e, "createOrder");
      if (c === "timeout" || c === "network" || c === "unknown") {
        this.counters.timeouts++;
        await this.recoverPlacement(req);
        return;
      }
      this.emit(this.tracker.event(cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: Date.now(), reason: `${c}: ${(e as Error).message}` }));
    }
  }

  /** After a timeout: ask for the order by client id; never resubmit. */
  private async recoverPlacement(req: OrderRequest): Promise<void> {
    const cid = req.clientOrderId;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.counters.statusQueries++;
      try {
        await this.waitAdmit(4, false);
        const o = await this.ex.fetchOrder(undefined, req.symbol, this.byClientId(cid));
        this.counters.recovered++;
        this.applyOrder(cid, o);
        return;
      } catch (e) {
        const c = this.venueError(e, "fetchOrder");
        if (c === "notfound") {
          this.counters.lostPlacements++;
          this.emit(this.tracker.event(cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: Date.now(), reason: "timed out and the venue has no order with this client id: not placed" }));
          return;
        }
        if (c !== "timeout" && c !== "network") break;
      }
    }
    // status unknown: leave it pending_new; polling (open orders / trades) settles it
    this.log.error({ clientOrderId: cid }, "placement status unknown after timeouts: left to polling");
  }

  /** A ccxt order (response of create/cancel/fetch) → reports. */
  private applyOrder(cid: string, o: CcxtOrder): void {
    const now = o.timestamp ?? Date.now();
    const venueOrderId = o.id;
    const t = this.tracker.get(cid);
    if (!t) return;
    if (t.status === "pending_new" && o.status !== "rejected") this.emit(this.tracker.event(cid, "ack", { venueOrderId, filled: 0, lastPrice: 0, fee: 0, timeMs: now }));
    const trades = o.trades ?? [];
    if (trades.length > 0) {
      let cum = t.filled;
      for (const tr of trades) {
        if (tr.id !== undefined && t.tradeIds?.has(tr.id) === true) continue;
        cum += tr.amount ?? 0;
        this.emit(this.tracker.event(cid, "fill", { venueOrderId, filled: cum, lastPrice: tr.price ?? 0, lastAmount: tr.amount, fee: tr.fee?.cost ?? 0, taker: tr.takerOrMaker !== "maker", tradeId: tr.id, timeMs: tr.timestamp ?? now }));
      }
    } else if ((o.filled ?? 0) > t.filled) {
      this.emit(this.tracker.event(cid, "fill", { venueOrderId, filled: o.filled!, lastPrice: o.average ?? o.price ?? 0, fee: 0, timeMs: now }));
    }
    const st = STATUS[o.status ?? ""];
    if (st === "cancelled" || st === "expired" || st === "rejected") this.emit(this.tracker.event(cid, st as ReportKind, { venueOrderId, filled: o.filled ?? t.filled, lastPrice: 0, fee: 0, timeMs: now }));
    else if (st === "filled" && t.status !== "filled" && (o.filled ?? 0) > t.filled) this.emit(this.tracker.event(cid, "fill", { venueOrderId, filled: o.filled!, lastPrice: o.average ?? o.price ?? 0, fee: 0, timeMs: now }));
  }

  cancel(symbol: string, clientOrderId: string): void {
    const t = this.tracker.get(clientOrderId);
    if (t) t.cancelRequested = true;
    this.track(this.cancelAsync(symbol, clientOrderId));
  }

  private async cancelAsync(symbol: string, cid: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.start();
        if (!(await this.waitAdmit(1, false))) break;
        const o = await this.ex.cancelOrder(undefined, symbol, this.byClientId(cid));
        if (this.tracker.get(cid)) this.applyOrder(cid, { ...o, status: o.status ?? "canceled" });
        return;
      } catch (e) {
        const c = this.venueError(e, "cancelOrder");
        if ((c === "timeout" || c === "network") && attempt === 0) continue; // cancel by client id: idempotent, retried once
        const t = this.tracker.get(cid);
        if (t) this.emit(this.tracker.event(cid, "cancel_rejected", { filled: t.filled, lastPrice: 0, fee: 0, timeMs: Date.now(), reason: `${c}: ${(e as Error).message}` }));
        else {
          this.counters.cancelRejects++;
          const r: ExecReport = { kind: "cancel_rejected", venue: this.venue, symbol, clientOrderId: cid, side: "buy", lastAmount: 0, lastPrice: 0, filled: 0, remaining: 0, fee: 0, reason: `${c}: ${(e as Error).message}`, venueTimeMs: Date.now() };
          for (const h of this.handlers) h(r);
        }
        return;
      }
    }
  }

  async openOrders(symbol?: string): Promise<VenueOrder[]> {
    await this.start();
    await this.waitAdmit(symbol ? 6 : 80, false);
    try {
      const list = await this.ex.fetchOpenOrders(symbol);
      return list.map((o) => ({
        clientOrderId: o.clientOrderId ?? "", venueOrderId: o.id ?? "", symbol: o.symbol ?? symbol ?? "", side: o.side === "sell" ? "sell" : "buy",
        type: o.type === "market" ? "market" : "limit", price: o.price ?? 0, amount: o.amount ?? 0, filled: o.filled ?? 0,
        status: (o.filled ?? 0) > 0 ? "partially_filled" : "open", timeMs: o.timestamp ?? 0,
      }));
    } catch (e) {
      this.venueError(e, "fetchOpenOrders");
      throw e;
    }
  }

  async fills(symbol: string, sinceMs: number): Promise<ExecReport[]> {
    await this.start();
    await this.waitAdmit(20, false);
    let trades: CcxtTrade[];
    try {
      trades = await this.ex.fetchMyTrades(symbol, sinceMs);
    } catch (e) {
      this.venueError(e, "fetchMyTrades");
      throw e;
    }
    return trades.map((tr) => {
      const t = tr.order !== undefined ? this.tracker.byVenueOrderId(tr.order) : undefined;
      const r: ExecReport = {
        kind: "fill", venue: this.venue, symbol: tr.symbol ?? symbol, clientOrderId: t?.req.clientOrderId ?? "", side: tr.side === "sell" ? "sell" : "buy",
        lastAmount: tr.amount ?? 0, lastPrice: tr.price ?? 0, filled: t?.filled ?? 0, remaining: t ? Math.max(0, t.req.amount - t.filled) : 0,
        fee: tr.fee?.cost ?? 0, taker: tr.takerOrMaker !== "maker", venueTimeMs: tr.timestamp ?? 0,
      };
      if (tr.order !== undefined) r.venueOrderId = tr.order;
      if (tr.id !== undefined) r.tradeId = tr.id;
      return r;
    });
  }

  /** Balances by asset (ccxt's unified fetchBalance). */
  async balances(): Promise<Record<string, { free: number; used: number; total: number }>> {
    await this.start();
    await this.waitAdmit(20, false);
    const b = (await this.ex.fetchBalance()) as Record<string, unknown>;
    const out: Record<string, { free: number; used: number; total: number }> = {};
    const free = (b.free ?? {}) as Record<string, number>;
    const used = (b.used ?? {}) as Record<string, number>;
    const total = (b.total ?? {}) as Record<string, number>;
    for (const a of Object.keys(total)) out[a] = { free: free[a] ?? 0, used: used[a] ?? 0, total: total[a] ?? 0 };
    return out;
  }

  /**
   * One polling pass: trades since the last pass for every symbol with live orders (fills, via
   * the tracker: duplicates never double-count), then each live order missing from the open list
   * is asked for by client id (its end: filled, cancelled, expired).
   */
  async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    this.counters.polls++;
    try {
      const live = this.tracker.live();
      const symbols = new Set(live.map((t) => t.req.symbol));
      for (const s of symbols) {
        const since = this.tradesSince.get(s) ?? Date.now() - 60_000;
        const fills = await this.fills(s, since);
        for (const f of fills) {
          const t = f.venueOrderId !== undefined ? this.tracker.byVenueOrderId(f.venueOrderId) : undefined;
          if (!t) continue;
          this.emit(this.tracker.event(t.req.clientOrderId, "fill", { venueOrderId: f.venueOrderId, filled: t.filled + f.lastAmount, lastAmount: f.lastAmount, lastPrice: f.lastPrice, fee: f.fee, taker: f.taker, tradeId: f.tradeId, timeMs: f.venueTimeMs }));
          if (f.venueTimeMs > (this.tradesSince.get(s) ?? 0)) this.tradesSince.set(s, f.venueTimeMs);
        }
        const open = new Set((await this.openOrders(s)).map((o) => o.clientOrderId));
        for (const t of live) {
          if (t.req.symbol !== s || open.has(t.req.clientOrderId) || t.status === "pending_new") continue;
          await this.waitAdmit(4, false);
          const o = await this.ex.fetchOrder(undefined, s, this.byClientId(t.req.clientOrderId));
          this.applyOrder(t.req.clientOrderId, o);
        }
      }
      this.tracker.prune(Date.now(), 600_000);
    } catch (e) {
      this.venueError(e, "poll");
    } finally {
      this.polling = false;
    }
  }

  /** Lets new orders through again after an error storm (an operator's decision). */
  resetErrorStorm(): void {
    this.storm.reset();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    await Promise.allSettled([...this.inflight]);
    await this.ex.close?.();
  }
}
