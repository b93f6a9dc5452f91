/**
 * A local venue that speaks Binance spot's order API — REST (`/api/v3/...`) and the WebSocket API
 * (`/ws-api/v3`) — on 127.0.0.1 only, with the simulated exchange (src/exec/sim/exchange.ts, or
 * anything with its shape: `OrderBackend`) doing the matching. The real ccxt client and our
 * native gateway are tested end to end against it, exactly as they would talk to the venue.
 *
 * What it enforces, as Binance documents it:
 *  - SIGNED requests: `X-MBX-APIKEY` (REST) or `apiKey` (WS) of a known key, else -2014/-2015;
 *    `timestamp` mandatory, `signature` = HMAC-SHA256 hex over the query string followed by the
 *    body (REST), or over the params sorted by name (WS API), or Ed25519 base64 over the same
 *    payload for Ed25519 keys; a bad one is -1022. Timing: `timestamp < serverTime + 1000` and
 *    `serverTime - timestamp <= recvWindow` (default 5000, max 60000), else -1021.
 *  - `session.logon` (Ed25519 keys only) authenticates a WS connection: later requests need only
 *    `timestamp`. `userDataStream.subscribe` (after logon) streams `executionReport` and
 *    `outboundAccountPosition` events as `{"subscriptionId":n,"event":{...}}`.
 *  - weights per endpoint and per IP per minute (`X-MBX-USED-WEIGHT-1M`, WS `rateLimits`), order
 *    counts per 10 s (`X-MBX-ORDER-COUNT-10S`); over a limit: 429 (-1003 / -1015) with
 *    Retry-After (seconds; WS: `retryAfter` epoch ms); requests that keep coming during the
 *    back-off are an IP ban: 418 until the ban ends.
 *  - error bodies `{"code":-2010,"msg":"..."}`; order responses ACK / RESULT / FULL (with fills);
 *    decimals as strings with 8 places; duplicate `newClientOrderId` of an open order: -2010
 *    "Duplicate order sent."; unknown orders: -2011 (cancel) / -2013 (query).
 *
 * Faults, set at any time through `faults`: reject the next N placements with a venue code,
 * process the next N requests but never answer (the client times out), delay every answer,
 * answer the next N requests with an internal error (an error storm), send every user-data event
 * twice. All counted in `counters`.
 */
import type { Server, ServerWebSocket } from "bun";
import { createPublicKey, type KeyObject } from "node:crypto";
import type { ExecReport, OrderRequest, Side, TimeInForce, VenueOrder } from "../domain/order.ts";
import { HmacSha256Signer, hexEqual, verifyEd25519, wsApiPayload } from "../exec/gateway/sign.ts";

/** The part of the simulated exchange this venue drives (SimExchange has this shape). */
export interface OrderBackend {
  symbols(): Array<{ symbol: string; tickSize: number; lotSize: number; minNotional: number; base: string; quote: string }>;
  place(req: OrderRequest, tsNs: number): ExecReport[];
  cancel(symbol: string, clientOrderId: string, tsNs: number): ExecReport;
  balances(): Record<string, { free: number; used: number }>;
  onReport(handler: (r: ExecReport) => void): void;
}

export type VenueKey = { apiKey: string; secret: string } | { apiKey: string; ed25519PublicKey: string };

export interface OrderVenueFaults {
  /** the next n placements are rejected by the venue with this code/message (default -2010) */
  rejectNext?: { n: number; code?: number; msg?: string };
  /** the next n requests are processed but never answered (client-side timeout) */
  dropNext?: number;
  /** every answer is delayed this long */
  delayMs?: number;
  /** the next n requests are answered with an internal error (HTTP 500 / -1001), not processed */
  errorNext?: number;
  /** every user-data event is sent twice */
  duplicateEvents?: boolean;
}

export interface BinanceOrderVenueOptions {
  exchange: OrderBackend;
  keys: VenueKey[];
  venue?: string;
  port?: number;
  hostname?: string;
  /** REQUEST_WEIGHT per minute (Binance spot: 6000) and ORDERS per 10 s (50) */
  weightPerMinute?: number;
  ordersPer10s?: number;
  /** requests received while told to back off before the IP is banned (418) */
  banAfter?: number;
  /** ban length (Binance: from 2 minutes up) */
  banMs?: number;
  /** the venue's clock, ms since epoch (tests skew it) */
  clock?: () => number;
  faults?: OrderVenueFaults;
}

export interface OrderVenueCounters {
  restRequests: number;
  wsRequests: number;
  placed: number;
  rejected: number;
  cancelled: number;
  authFailures: number;
  badSignatures: number;
  timestampRejects: number;
  http429: number;
  http418: number;
  dropped: number;
  injectedErrors: number;
  injectedRejects: number;
  eventsSent: number;
}

interface VenueError {
  status: number;
  code: number;
  msg: string;
  retryAfterMs?: number;
}

interface Fill {
  id: number;
  orderId: number;
  price: number;
  qty: number;
  fee: number;
  feeAsset: string;
  time: number;
  isBuyer: boolean;
  isMaker: boolean;
}

interface Ord {
  orderId: number;
  symbol: string; // Binance symbol
  unified: string;
  clientOrderId: string;
  side: Side;
  type: "LIMIT" | "MARKET" | "LIMIT_MAKER";
  tif: "GTC" | "IOC" | "FOK";
  price: number;
  origQty: number;
  executedQty: number;
  cumQuote: number;
  status: "NEW" | "PARTIALLY_FILLED" | "FILLED" | "CANCELED" | "REJECTED" | "EXPIRED";
  time: number;
  updateTime: number;
  fills: Fill[];
}

interface Auth {
  key: KeyState;
}
interface KeyState {
  apiKey: string;
  hmac?: HmacSha256Signer;
  ed?: KeyObject;
}

interface WsData {
  logon?: KeyState;
  subscriptionId?: number;
}

type Params = Record<string, string>;

const LOCAL = "127.0.0.1";
const f8 = (x: number) => x.toFixed(8);
const D8 = f8(0);

/** What each operation costs and needs (weights per Binance spot's endpoint docs). */
const OPS: Record<string, { weight: number; signed: boolean; order?: boolean }> = {
  ping: { weight: 1, signed: false },
  time: { weight: 1, signed: false },
  exchangeInfo: { weight: 20, signed: false },
  "order.place": { weight: 1, signed: true, order: true },
  "order.cancel": { weight: 1, signed: true },
  "order.status": { weight: 4, signed: true },
  "openOrders.status": { weight: 6, signed: true },
  "openOrders.cancelAll": { weight: 1, signed: true },
  "account.status": { weight: 20, signed: true },
  myTrades: { weight: 20, signed: true },
  "session.logon": { weight: 2, signed: true },
  "session.status": { weight: 2, signed: false },
  "session.logout": { weight: 2, signed: false },
  "userDataStream.subscribe": { weight: 2, signed: false },
  "userDataStream.subscribe.signature": { weight: 2, signed: true },
  "userDataStream.unsubscribe": { weight: 2, signed: false },
};

const REST_ROUTES: Record<string, string> = {
  "GET /api/v3/ping": "ping",
  "GET /api/v3/time": "time",
  "GET /api/v3/exchangeInfo": "exchangeInfo",
  "POST /api/v3/order": "order.place",
  "DELETE /api/v3/order": "order.cancel",
  "GET /api/v3/order": "order.status",
  "GET /api/v3/openOrders": "openOrders.status",
  "DELETE /api/v3/openOrders": "openOrders.cancelAll",
  "GET /api/v3/account": "account.status",
  "GET /api/v3/myTrades": "myTrades",
};

const err = (status: number, code: number, msg: string): VenueError => ({ status, code, msg });
/** A query string or body without its `signature` parameter: what the client signed. */
function unsigned(raw: string): string {
  const i = raw.search(/(^|&)signature=/);
  if (i < 0) return raw;
  const start = raw[i] === "&" ? i : i;
  const end = raw.indexOf("&", i + 1);
  return end < 0 ? raw.slice(0, start) : raw.slice(0, start) + raw.slice(raw[i] === "&" ? end : end + 1);
}

/** The matching engine's reasons read "-2010 Account has insufficient balance ...": code, then message. */
function venueReason(reason: string | undefined, code: number, msg: string): VenueError {
  const m = reason ? /^(-\d+)\s+(.*)$/.exec(reason) : null;
  return m ? err(400, Number(m[1]), m[2]!) : err(400, code, reason ?? msg);
}
const isErr = (x: unknown): x is VenueError => typeof x === "object" && x !== null && "code" in x && "msg" in x && "status" in x;

export class BinanceOrderVenue {
  readonly counters: OrderVenueCounters = { restRequests: 0, wsRequests: 0, placed: 0, rejected: 0, cancelled: 0, authFailures: 0, badSignatures: 0, timestampRejects: 0, http429: 0, http418: 0, dropped: 0, injectedErrors: 0, injectedRejects: 0, eventsSent: 0 };
  faults: OrderVenueFaults;
  readonly venue: string;
  private readonly server: Server<WsData>;
  private readonly ex: OrderBackend;
  private readonly keys = new Map<string, KeyState>();
  private readonly byClient = new Map<string, Ord>(); // symbol + "\0" + clientOrderId
  private readonly byId = new Map<number, Ord>();
  private nextOrderId = 1000;
  private nextTradeId = 5000;
  private nextSubId = 0;
  private readonly subscribers = new Set<ServerWebSocket<WsData>>();
  private readonly conns = new Set<ServerWebSocket<WsData>>();
  private readonly clock: () => number;
  private readonly weightLimit: number;
  private readonly orderLimit: number;
  private weightWindow = 0;
  private weightUsed = 0;
  private orderWindow = 0;
  private ordersUsed = 0;
  private backoffUntil = 0;
  private ignoredBackoffs = 0;
  private bannedUntil = 0;
  private readonly pendingDrops: Array<() => void> = [];
  private readonly binToUnified = new Map<string, string>();
  private readonly unifiedToBin = new Map<string, string>();

  constructor(private readonly o: BinanceOrderVenueOptions) {
    if (o.hostname !== undefined && o.hostname !== LOCAL) throw new Error(`the order venue listens on ${LOCAL} only (asked for ${o.hostname})`);
    this.ex = o.exchange;
    this.venue = o.venue ?? "binance";
    this.faults = o.faults ?? {};
    this.clock = o.clock ?? Date.now;
    this.weightLimit = o.weightPerMinute ?? 6000;
    this.orderLimit = o.ordersPer10s ?? 50;
    for (const k of o.keys) {
      if ("secret" in k) this.keys.set(k.apiKey, { apiKey: k.apiKey, hmac: new HmacSha256Signer(k.secret) });
      else this.keys.set(k.apiKey, { apiKey: k.apiKey, ed: createPublicKey(k.ed25519PublicKey) });
    }
    this.ex.onReport((r) => {
      const ev = this.apply(r);
      if (ev) this.publish(ev);
    });
    const self = this;
    this.server = Bun.serve<WsData>({
      hostname: LOCAL,
      port: o.port ?? 0,
      fetch(req, srv) {
        const url = new URL(req.url);
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
          if (url.pathname !== "/ws-api/v3") return Response.json({ code: -1, msg: `no WebSocket API at ${url.pathname}` }, { status: 404 });
          return srv.upgrade(req, { data: {} }) ? undefined : new Response("upgrade failed", { status: 400 });
        }
        return self.rest(req, url);
      },
      websocket: {
        perMessageDeflate: false,
        idleTimeout: 0,
        open: (ws) => {
          self.conns.add(ws);
        },
        message: (ws, msg) => self.wsMessage(ws, typeof msg === "string" ? msg : msg.toString("utf8")),
        close: (ws) => {
          self.conns.delete(ws);
          self.subscribers.delete(ws);
        },
      },
    });
  }

  get port(): number {
    return this.server.port!;
  }
  get httpUrl(): string {
    return `http://${LOCAL}:${this.port}`;
  }
  get wsUrl(): string {
    return `ws://${LOCAL}:${this.port}`;
  }
  get wsApiUrl(): string {
    return `${this.wsUrl}/ws-api/v3`;
  }

  async stop(): Promise<void> {
    for (const d of this.pendingDrops.splice(0)) d();
    await this.server.stop(true);
  }

  /** Closes every WebSocket API connection (a venue-side disconnect). */
  disconnectAll(code = 1001, reason = "going away"): void {
    for (const ws of [...this.conns]) ws.close(code, reason);
  }

  // ---- symbols -------------------------------------------------------------------------------

  private binSymbol(unified: string): string {
    let b = this.unifiedToBin.get(unified);
    if (b === undefined) {
      this.refreshSymbols();
      b = this.unifiedToBin.get(unified) ?? unified.replace("/", "").split(":")[0]!;
    }
    return b;
  }
  private unified(bin: string): string | undefined {
    let u = this.binToUnified.get(bin);
    if (u === undefined) {
      this.refreshSymbols();
      u = this.binToUnified.get(bin);
    }
    return u;
  }
  private refreshSymbols(): void {
    for (const s of this.ex.symbols()) {
      const b = s.base + s.quote;
      this.binToUnified.set(b, s.symbol);
      this.unifiedToBin.set(s.symbol, b);
    }
  }

  // ---- limits and auth -----------------------------------------------------------------------

  /** Charges the request; an error when over a limit or banned. */
  private charge(weight: number, isOrder: boolean): VenueError | undefined {
    const now = this.clock();
    if (this.bannedUntil > now) {
      this.counters.http418++;
      const e = err(418, -1003, `Way too much request weight used; IP banned until ${this.bannedUntil}. Please use WebSocket Streams for live updates to avoid bans.`);
      e.retryAfterMs = this.bannedUntil;
      return e;
    }
    if (this.backoffUntil > now) {
      if (++this.ignoredBackoffs >= (this.o.banAfter ?? 5)) {
        this.bannedUntil = now + (this.o.banMs ?? 120_000);
        this.ignoredBackoffs = 0;
        this.counters.http418++;
        const e = err(418, -1003, `Way too much request weight used; IP banned until ${this.bannedUntil}. Please use WebSocket Streams for live updates to avoid bans.`);
        e.retryAfterMs = this.bannedUntil;
        return e;
      }
      this.counters.http429++;
      const e = err(429, -1003, `Too much request weight used; current limit is ${this.weightLimit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`);
      e.retryAfterMs = this.backoffUntil;
      return e;
    }
    const wStart = now - (now % 60_000);
    if (wStart !== this.weightWindow) {
      this.weightWindow = wStart;
      this.weightUsed = 0;
    }
    const oStart = now - (now % 10_000);
    if (oStart !== this.orderWindow) {
      this.orderWindow = oStart;
      this.ordersUsed = 0;
    }
    this.weightUsed += weight;
    if (this.weightUsed > this.weightLimit) {
      this.backoffUntil = wStart + 60_000;
      this.counters.http429++;
      const e = err(429, -1003, `Too much request weight used; current limit is ${this.weightLimit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`);
      e.retryAfterMs = this.backoffUntil;
      return e;
    }
    if (isOrder && ++this.ordersUsed > this.orderLimit) {
      this.backoffUntil = oStart + 10_000;
      this.counters.http429++;
      const e = err(429, -1015, `Too many new orders; current limit is ${this.orderLimit} orders per 10 SECOND.`);
      e.retryAfterMs = this.backoffUntil;
      return e;
    }
    return undefined;
  }

  /** Checks key, signature and timing of a SIGNED request. */
  private authenticate(apiKey: string | null | undefined, payload: string, p: Params, session?: KeyState): Auth | VenueError {
    let key: KeyState | undefined;
    if (session && !p.signature) key = session;
    else {
      if (!apiKey) {
        this.counters.authFailures++;
        return err(401, -2014, "API-key format invalid.");
      }
      key = this.keys.get(apiKey);
      if (!key) {
        this.counters.authFailures++;
        return err(401, -2015, "Invalid API-key, IP, or permissions for action.");
      }
    }
    if (p.timestamp === undefined || p.timestamp === "") return err(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
    if (key !== session || p.signature) {
      const sig = p.signature;
      if (!sig) return err(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
      const ok = key.hmac ? hexEqual(key.hmac.sign(payload), sig) : verifyEd25519(key.ed!, payload, sig);
      if (!ok) {
        this.counters.badSignatures++;
        return err(400, -1022, "Signature for this request is not valid.");
      }
    }
    const ts = Number(p.timestamp);
    const rw = p.recvWindow === undefined ? 5000 : Number(p.recvWindow);
    if (!Number.isFinite(ts)) return err(400, -1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.");
    if (!(rw > 0 && rw <= 60_000)) return err(400, -1131, "recvWindow must be less than 60000");
    const server = this.clock();
    if (!(ts < server + 1000 && server - ts <= rw)) {
      this.counters.timestampRejects++;
      return err(400, -1021, ts >= server + 1000 ? "Timestamp for this request was 1000ms ahead of the server's time." : "Timestamp for this request is outside of the recvWindow.");
    }
    return { key };
  }

  private faultBefore(): VenueError | "drop" | undefined {
    const f = this.faults;
    if (f.errorNext && f.errorNext > 0) {
      f.errorNext--;
      this.counters.injectedErrors++;
      return err(500, -1001, "Internal error; unable to process your request. Please try again.");
    }
    if (f.dropNext && f.dropNext > 0) {
      f.dropNext--;
      this.counters.dropped++;
      return "drop";
    }
    return undefined;
  }

  // ---- REST ----------------------------------------------------------------------------------

  private async rest(req: Request, url: URL): Promise<Response> {
    this.counters.restRequests++;
    const op = REST_ROUTES[`${req.method} ${url.pathname}`];
    if (!op) return Response.json({ code: -1, msg: `no such endpoint: ${req.method} ${url.pathname}` }, { status: 404 });
    const body = req.method === "POST" || req.method === "PUT" || req.method === "DELETE" ? await req.text() : "";
    const query = url.search.length > 1 ? url.search.slice(1) : "";
    const p: Params = {};
    for (const [k, v] of new URLSearchParams(query)) p[k] = v;
    if (body) for (const [k, v] of new URLSearchParams(body)) p[k] = v;
    const spec = OPS[op]!;
    const weight = op === "openOrders.status" && !p.symbol ? 80 : spec.weight;
    const limited = this.charge(weight, spec.order === true);
    const headers: Record<string, string> = { "content-type": "application/json;charset=UTF-8", "x-mbx-used-weight-1m": String(this.weightUsed), "x-mbx-used-weight": String(this.weightUsed) };
    if (spec.order) headers["x-mbx-order-count-10s"] = String(this.ordersUsed);
    let out: unknown;
    let status = 200;
    const fault = limited ? undefined : this.faultBefore();
    if (fault === "drop") {
      // processed, never answered: the client's timeout decides
      this.run(op, p, spec.signed ? this.authenticate(req.headers.get("x-mbx-apikey"), unsigned(query) + unsigned(body), p) : undefined);
      return new Promise<Response>((resolve) => this.pendingDrops.push(() => resolve(new Response(null, { status: 504 }))));
    }
    const e = limited ?? fault;
    if (e) {
      status = e.status;
      out = { code: e.code, msg: e.msg };
      if (e.retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil((e.retryAfterMs - this.clock()) / 1000)));
    } else {
      const auth = spec.signed ? this.authenticate(req.headers.get("x-mbx-apikey"), unsigned(query) + unsigned(body), p) : undefined;
      const r = this.run(op, p, auth);
      if (isErr(r)) {
        status = r.status;
        out = { code: r.code, msg: r.msg };
      } else out = r;
    }
    if (this.faults.delayMs) await Bun.sleep(this.faults.delayMs);
    return new Response(JSON.stringify(out), { status, headers });
  }

  // ---- WebSocket API -------------------------------------------------------------------------

  private wsMessage(ws: ServerWebSocket<WsData>, text: string): void {
    this.counters.wsRequests++;
    let m: { id?: unknown; method?: unknown; params?: Record<string, unknown> };
    try {
      m = JSON.parse(text);
    } catch {
      this.wsSend(ws, JSON.stringify({ id: null, status: 400, error: { code: -1100, msg: "Malformed JSON request." } }));
      return;
    }
    const id = m.id ?? null;
    const method = typeof m.method === "string" ? m.method : "";
    const spec = OPS[method];
    if (!spec || method === "myTrades") {
      this.wsSend(ws, JSON.stringify({ id, status: 400, error: { code: -1100, msg: `Unknown method '${method}'.` } }));
      return;
    }
    const raw = m.params ?? {};
    const p: Params = {};
    for (const k in raw) p[k] = String(raw[k]);
    const weight = method === "openOrders.status" && !p.symbol ? 80 : spec.weight;
    const limited = this.charge(weight, spec.order === true);
    const fault = limited ? undefined : this.faultBefore();
    const reply = (status: number, body: string) => {
      const d = this.faults.delayMs;
      if (d) setTimeout(() => this.wsSend(ws, body), d);
      else this.wsSend(ws, body);
    };
    const auth = () => (spec.signed ? this.authenticate(p.apiKey, wsApiPayload(raw as Record<string, string | number | boolean>), p, method === "session.logon" ? undefined : ws.data.logon) : undefined);
    if (fault === "drop") {
      this.runWs(ws, method, p, auth());
      return;
    }
    const e = limited ?? fault;
    if (e) {
      const error: Record<string, unknown> = { code: e.code, msg: e.msg };
      if (e.retryAfterMs !== undefined) error.data = { serverTime: this.clock(), retryAfter: e.retryAfterMs };
      reply(e.status, JSON.stringify({ id, status: e.status, error, rateLimits: this.rateLimits(spec.order === true) }));
      return;
    }
    const r = this.runWs(ws, method, p, auth());
    if (isErr(r)) reply(r.status, JSON.stringify({ id, status: r.status, error: { code: r.code, msg: r.msg }, rateLimits: this.rateLimits(spec.order === true) }));
    else reply(200, JSON.stringify({ id, status: 200, result: r, rateLimits: this.rateLimits(spec.order === true) }));
  }

  private runWs(ws: ServerWebSocket<WsData>, method: string, p: Params, auth: Auth | VenueError | undefined): unknown {
    switch (method) {
      case "session.logon": {
        if (isErr(auth)) return auth;
        if (!auth!.key.ed) return err(400, -4056, "HMAC_SHA256 API key is not supported.");
        ws.data.logon = auth!.key;
        return { apiKey: auth!.key.apiKey, authorizedSince: this.clock(), connectedSince: this.clock(), returnRateLimits: true, serverTime: this.clock(), userDataStream: ws.data.subscriptionId !== undefined };
      }
      case "session.status":
        return { apiKey: ws.data.logon?.apiKey ?? null, serverTime: this.clock(), userDataStream: ws.data.subscriptionId !== undefined };
      case "session.logout":
        ws.data.logon = undefined;
        ws.data.subscriptionId = undefined;
        this.subscribers.delete(ws);
        return { apiKey: null, serverTime: this.clock(), userDataStream: false };
      case "userDataStream.subscribe":
        if (!ws.data.logon) return err(401, -2015, "Invalid API-key, IP, or permissions for action.");
        if (ws.data.subscriptionId === undefined) ws.data.subscriptionId = this.nextSubId++;
        this.subscribers.add(ws);
        return { subscriptionId: ws.data.subscriptionId };
      case "userDataStream.subscribe.signature":
        if (isErr(auth)) return auth;
        if (ws.data.subscriptionId === undefined) ws.data.subscriptionId = this.nextSubId++;
        this.subscribers.add(ws);
        return { subscriptionId: ws.data.subscriptionId };
      case "userDataStream.unsubscribe":
        ws.data.subscriptionId = undefined;
        this.subscribers.delete(ws);
        return {};
      default:
        return this.run(method, p, auth);
    }
  }

  private rateLimits(isOrder: boolean): unknown[] {
    const rl: unknown[] = [{ rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: this.weightLimit, count: this.weightUsed }];
    if (isOrder) rl.unshift({ rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: this.orderLimit, count: this.ordersUsed });
    return rl;
  }

  private wsSend(ws: ServerWebSocket<WsData>, text: string): void {
    ws.send(text);
  }

  // ---- operations (shared by REST and WS) -----------------------------------------------------

  private run(op: string, p: Params, auth: Auth | VenueError | undefined): unknown {
    if (isErr(auth)) return auth;
    switch (op) {
      case "ping":
        return {};
      case "time":
        return { serverTime: this.clock() };
      case "exchangeInfo":
        return this.exchangeInfo();
      case "order.place":
        return this.place(p);
      case "order.cancel":
        return this.cancelOne(p);
      case "order.status": {
        const o = this.find(p);
        return isErr(o) ? (o.code === -2011 ? err(400, -2013, "Order does not exist.") : o) : this.orderJson(o);
      }
      case "openOrders.status": {
        const out: unknown[] = [];
        for (const o of this.byId.values()) if ((o.status === "NEW" || o.status === "PARTIALLY_FILLED") && (!p.symbol || o.symbol === p.symbol)) out.push(this.orderJson(o));
        return out;
      }
      case "openOrders.cancelAll": {
        if (!p.symbol) return err(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
        const out: unknown[] = [];
        for (const o of [...this.byId.values()]) {
          if (o.symbol !== p.symbol || (o.status !== "NEW" && o.status !== "PARTIALLY_FILLED")) continue;
          const r = this.cancelOrd(o, undefined);
          if (!isErr(r)) out.push(r);
        }
        if (out.length === 0) return err(400, -2011, "Unknown order sent.");
        return out;
      }
      case "account.status":
        return this.account();
      case "myTrades":
        return this.myTrades(p);
    }
    return err(400, -1100, `unsupported operation ${op}`);
  }

  private exchangeInfo(): unknown {
    const symbols = this.ex.symbols().map((s) => ({
      symbol: s.base + s.quote,
      status: "TRADING",
      baseAsset: s.base,
      baseAssetPrecision: 8,
      quoteAsset: s.quote,
      quotePrecision: 8,
      quoteAssetPrecision: 8,
      baseCommissionPrecision: 8,
      quoteCommissionPrecision: 8,
      orderTypes: ["LIMIT", "LIMIT_MAKER", "MARKET"],
      icebergAllowed: false,
      ocoAllowed: false,
      otoAllowed: false,
      quoteOrderQtyMarketAllowed: false,
      allowTrailingStop: false,
      cancelReplaceAllowed: false,
      allowAmend: false,
      isSpotTradingAllowed: true,
      isMarginTradingAllowed: false,
      filters: [
        { filterType: "PRICE_FILTER", minPrice: f8(s.tickSize), maxPrice: "1000000.00000000", tickSize: f8(s.tickSize) },
        { filterType: "LOT_SIZE", minQty: f8(s.lotSize), maxQty: "9000.00000000", stepSize: f8(s.lotSize) },
        { filterType: "NOTIONAL", minNotional: f8(s.minNotional), applyMinToMarket: true, maxNotional: "9000000.00000000", applyMaxToMarket: false, avgPriceMins: 5 },
      ],
      permissions: [],
      permissionSets: [["SPOT"]],
      defaultSelfTradePreventionMode: "NONE",
      allowedSelfTradePreventionModes: ["NONE"],
    }));
    return {
      timezone: "UTC",
      serverTime: this.clock(),
      rateLimits: [
        { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: this.weightLimit },
        { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: this.orderLimit },
      ],
      exchangeFilters: [],
      symbols,
    };
  }

  private place(p: Params): unknown {
    for (const k of ["symbol", "side", "type"]) if (!p[k]) return err(400, -1102, `Mandatory parameter '${k}' was not sent, was empty/null, or malformed.`);
    const unified = this.unified(p.symbol!);
    if (!unified) return err(400, -1121, "Invalid symbol.");
    if (p.side !== "BUY" && p.side !== "SELL") return err(400, -1100, "Illegal characters found in parameter 'side'.");
    const type = p.type;
    if (type !== "LIMIT" && type !== "MARKET" && type !== "LIMIT_MAKER") return err(400, -1116, "Invalid orderType.");
    if (p.quoteOrderQty !== undefined) return err(400, -1104, "Not all sent parameters were read; quoteOrderQty is not supported by this venue.");
    const qty = Number(p.quantity);
    if (!p.quantity || !(qty > 0)) return err(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.");
    let price = 0;
    let tif: "GTC" | "IOC" | "FOK" = "GTC";
    if (type === "LIMIT" || type === "LIMIT_MAKER") {
      price = Number(p.price);
      if (!p.price || !(price > 0)) return err(400, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.");
    }
    if (type === "LIMIT") {
      if (!p.timeInForce) return err(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.");
      if (p.timeInForce !== "GTC" && p.timeInForce !== "IOC" && p.timeInForce !== "FOK") return err(400, -1115, "Invalid timeInForce.");
      tif = p.timeInForce;
    } else if (p.timeInForce !== undefined) return err(400, -1106, "Parameter 'timeInForce' sent when not required.");
    const cid = p.newClientOrderId || `sim-${this.nextOrderId}`;
    if (!/^[.A-Za-z0-9_-]{1,36}$/.test(cid)) return err(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.");
    const existing = this.byClient.get(p.symbol + "\0" + cid);
    if (existing && (existing.status === "NEW" || existing.status === "PARTIALLY_FILLED")) {
      this.counters.rejected++;
      return err(400, -2010, "Duplicate order sent.");
    }
    const inj = this.faults.rejectNext;
    if (inj && inj.n > 0) {
      inj.n--;
      this.counters.injectedRejects++;
      this.counters.rejected++;
      return err(400, inj.code ?? -2010, inj.msg ?? "Account has insufficient balance for requested action.");
    }
    const now = this.clock();
    const ord: Ord = { orderId: this.nextOrderId++, symbol: p.symbol!, unified, clientOrderId: cid, side: p.side === "BUY" ? "buy" : "sell", type, tif, price, origQty: qty, executedQty: 0, cumQuote: 0, status: "NEW", time: now, updateTime: now, fills: [] };
    const req: OrderRequest = { clientOrderId: cid, venue: this.venue, symbol: unified, side: ord.side, type: type === "MARKET" ? "market" : "limit", amount: qty, timeInForce: type === "LIMIT_MAKER" ? "PO" : (tif as TimeInForce) };
    if (type !== "MARKET") req.price = price;
    const reports = this.ex.place(req, now * 1e6);
    const first = reports[0];
    if (!first) return err(500, -1001, "Internal error; the matching engine gave no answer.");
    if (first.kind === "rejected") {
      this.counters.rejected++;
      return venueReason(first.reason, -2010, "Order rejected.");
    }
    this.byClient.set(p.symbol + "\0" + cid, ord);
    this.byId.set(ord.orderId, ord);
    this.counters.placed++;
    const events: unknown[] = [];
    for (const r of reports) {
      const ev = this.apply(r);
      if (ev) events.push(ev);
    }
    const resp = p.newOrderRespType ?? (type === "LIMIT_MAKER" ? "ACK" : "FULL");
    let out: Record<string, unknown> = { symbol: ord.symbol, orderId: ord.orderId, orderListId: -1, clientOrderId: cid, transactTime: now };
    if (resp === "RESULT" || resp === "FULL") {
      const { status, timeInForce, type: t, side, ...amounts } = this.orderCore(ord);
      out = { ...out, ...amounts, origQuoteOrderQty: D8, status, timeInForce, type: t, side, workingTime: now, selfTradePreventionMode: p.selfTradePreventionMode ?? "NONE" };
      if (resp === "FULL") out.fills = ord.fills.map((f) => ({ price: f8(f.price), qty: f8(f.qty), commission: f8(f.fee), commissionAsset: f.feeAsset, tradeId: f.id }));
    }
    // the venue answers, then streams the events
    if (events.length > 0) queueMicrotask(() => {
      for (const ev of events) this.publish(ev);
    });
    return out;
  }

  private find(p: Params): Ord | VenueError {
    if (!p.symbol) return err(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    if (!this.unified(p.symbol)) return err(400, -1121, "Invalid symbol.");
    let o: Ord | undefined;
    if (p.orderId) o = this.byId.get(Number(p.orderId));
    else if (p.origClientOrderId) o = this.byClient.get(p.symbol + "\0" + p.origClientOrderId);
    else return err(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    if (!o || o.symbol !== p.symbol) return err(400, -2011, "Unknown order sent.");
    return o;
  }

  private cancelOne(p: Params): unknown {
    const o = this.find(p);
    if (isErr(o)) return o;
    return this.cancelOrd(o, p.newClientOrderId);
  }

  private cancelOrd(o: Ord, newCid: string | undefined): unknown {
    if (o.status !== "NEW" && o.status !== "PARTIALLY_FILLED") return err(400, -2011, "Unknown order sent.");
    const now = this.clock();
    const r = this.ex.cancel(o.unified, o.clientOrderId, now * 1e6);
    if (r.kind !== "cancelled") return venueReason(r.reason, -2011, "Unknown order sent.");
    const ev = this.apply(r);
    this.counters.cancelled++;
    if (ev) queueMicrotask(() => this.publish(ev));
    return { symbol: o.symbol, origClientOrderId: o.clientOrderId, orderId: o.orderId, orderListId: -1, clientOrderId: newCid ?? `cancel-${o.orderId}`, transactTime: now, ...this.orderCore(o), selfTradePreventionMode: "NONE" };
  }

  private orderCore(o: Ord): Record<string, unknown> {
    return { price: f8(o.price), origQty: f8(o.origQty), executedQty: f8(o.executedQty), cummulativeQuoteQty: f8(o.cumQuote), status: o.status, timeInForce: o.tif, type: o.type, side: o.side === "buy" ? "BUY" : "SELL" };
  }

  private orderJson(o: Ord): unknown {
    return { symbol: o.symbol, orderId: o.orderId, orderListId: -1, clientOrderId: o.clientOrderId, ...this.orderCore(o), stopPrice: D8, icebergQty: D8, time: o.time, updateTime: o.updateTime, isWorking: true, workingTime: o.time, origQuoteOrderQty: D8, selfTradePreventionMode: "NONE" };
  }

  private account(): unknown {
    const b = this.ex.balances();
    return {
      makerCommission: 10, takerCommission: 10, buyerCommission: 0, sellerCommission: 0,
      commissionRates: { maker: "0.00100000", taker: "0.00100000", buyer: D8, seller: D8 },
      canTrade: true, canWithdraw: false, canDeposit: false, brokered: false, requireSelfTradePrevention: false, preventSor: false,
      updateTime: this.clock(), accountType: "SPOT",
      balances: Object.entries(b).map(([asset, v]) => ({ asset, free: f8(v.free), locked: f8(v.used) })),
      permissions: ["SPOT"], uid: 1,
    };
  }

  private myTrades(p: Params): unknown {
    if (!p.symbol) return err(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    if (!this.unified(p.symbol)) return err(400, -1121, "Invalid symbol.");
    const start = p.startTime ? Number(p.startTime) : -Infinity;
    const end = p.endTime ? Number(p.endTime) : Infinity;
    const fromId = p.fromId ? Number(p.fromId) : -Infinity;
    const oid = p.orderId ? Number(p.orderId) : undefined;
    const limit = Math.min(1000, p.limit ? Number(p.limit) : 500);
    const out: Array<Record<string, unknown>> = [];
    for (const o of this.byId.values()) {
      if (o.symbol !== p.symbol || (oid !== undefined && o.orderId !== oid)) continue;
      for (const f of o.fills) {
        if (f.time < start || f.time > end || f.id < fromId) continue;
        out.push({ symbol: o.symbol, id: f.id, orderId: o.orderId, orderListId: -1, price: f8(f.price), qty: f8(f.qty), quoteQty: f8(f.price * f.qty), commission: f8(f.fee), commissionAsset: f.feeAsset, time: f.time, isBuyer: f.isBuyer, isMaker: f.isMaker, isBestMatch: true });
      }
    }
    out.sort((a, b) => (a.id as number) - (b.id as number));
    return out.slice(0, limit);
  }

  // ---- reports -> venue state -> user-data events ------------------------------------------------

  /** Applies one report of the matching engine to the venue's order; the executionReport event, if any. */
  private apply(r: ExecReport): unknown {
    const bin = this.binSymbol(r.symbol);
    const o = this.byClient.get(bin + "\0" + r.clientOrderId);
    if (!o) return undefined; // an order this venue did not place (or rejected before it existed)
    const now = r.venueTimeMs || this.clock();
    o.updateTime = now;
    let exec = "NEW";
    let fill: Fill | undefined;
    switch (r.kind) {
      case "ack":
        o.status = "NEW";
        break;
      case "fill": {
        o.executedQty = r.filled;
        o.cumQuote += r.lastAmount * r.lastPrice;
        o.status = r.remaining <= 1e-12 ? "FILLED" : "PARTIALLY_FILLED";
        fill = { id: this.nextTradeId++, orderId: o.orderId, price: r.lastPrice, qty: r.lastAmount, fee: r.fee, feeAsset: this.quoteOf(o.unified), time: now, isBuyer: o.side === "buy", isMaker: r.taker === false };
        o.fills.push(fill);
        exec = "TRADE";
        break;
      }
      case "cancelled":
        o.status = "CANCELED";
        exec = "CANCELED";
        break;
      case "expired":
        o.status = "EXPIRED";
        exec = "EXPIRED";
        break;
      case "rejected":
        o.status = "REJECTED";
        exec = "REJECTED";
        break;
      default:
        return undefined;
    }
    return {
      e: "executionReport", E: now, s: o.symbol, c: o.clientOrderId, S: o.side === "buy" ? "BUY" : "SELL", o: o.type, f: o.tif,
      q: f8(o.origQty), p: f8(o.price), P: D8, F: D8, g: -1, C: exec === "CANCELED" ? o.clientOrderId : "", x: exec, X: o.status,
      r: r.kind === "rejected" ? (r.reason ?? "NONE") : "NONE", i: o.orderId, l: f8(fill?.qty ?? 0), z: f8(o.executedQty), L: f8(fill?.price ?? 0),
      n: f8(fill?.fee ?? 0), N: fill ? fill.feeAsset : null, T: now, t: fill ? fill.id : -1, I: 0, w: o.status === "NEW" || o.status === "PARTIALLY_FILLED",
      m: fill ? fill.isMaker : false, M: false, O: o.time, Z: f8(o.cumQuote), Y: f8(fill ? fill.price * fill.qty : 0), Q: D8, W: o.time, V: "NONE",
    };
  }

  private quoteOf(unified: string): string {
    return unified.split("/")[1]?.split(":")[0] ?? "";
  }

  private publish(ev: unknown): void {
    if (this.subscribers.size === 0) return;
    const e = ev as { E: number; x: string };
    const bal = this.ex.balances();
    const acct = { e: "outboundAccountPosition", E: e.E, u: e.E, B: Object.entries(bal).map(([a, v]) => ({ a, f: f8(v.free), l: f8(v.used) })) };
    for (const ws of this.subscribers) {
      const sid = ws.data.subscriptionId;
      const s = JSON.stringify({ subscriptionId: sid, event: ev });
      const times = this.faults.duplicateEvents ? 2 : 1;
      for (let k = 0; k < times; k++) {
        ws.send(s);
        this.counters.eventsSent++;
      }
      if (e.x === "TRADE") ws.send(JSON.stringify({ subscriptionId: sid, event: acct }));
    }
  }
}

export function startBinanceOrderVenue(o: BinanceOrderVenueOptions): BinanceOrderVenue {
  return new BinanceOrderVenue(o);
}
