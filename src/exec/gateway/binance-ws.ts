/**
 * BinanceWsGateway — native order entry over Binance spot's WebSocket API (`/ws-api/v3`): one
 * connection (WsClient, our byte-level client), `order.place` / `order.cancel` / `order.status`,
 * user data (`executionReport`) on the same connection.
 *
 * Keys: an Ed25519 key logs the session on (`session.logon`) after every connect, then orders
 * carry only `timestamp` (no per-order signature: the cheapest path the venue offers), unless
 * `signEveryRequest`; an HMAC key signs every request (params sorted by name, HMAC-SHA256 hex)
 * and subscribes to user data with `userDataStream.subscribe.signature`.
 *
 * Hot path (`submit`): one FFI call (c/order.c via ffi/sign.ts OrderFrameEncoder) writes the
 * order.place text from pieces prepared at start-up (`"apiKey=<key>&newClientOrderId="`,
 * `recvWindow`, the HMAC key's pad states) and the order's fields (the symbol's id, the numbers
 * formatted as putDecimal does), signs the sorted payload (HMAC-SHA256 hex, SHA-NI where the CPU
 * has it) and wraps it in the masked client frame, which WsClient.sendFrame writes with one
 * socket write; per order it makes a pending entry and the tracker's entry, nothing else.
 * Where the C path declines (a client id JSON cannot carry as is, an API key too long for its
 * context), encodePlaceInto writes the same text in TypeScript (bytes, Bun.CryptoHasher
 * HMAC), framed by WsClient.sendText; encodePlace() is the same text as a string (cold path,
 * tests, Ed25519 keys that sign every order). No queue: an order the rate limiter or a closed
 * connection cannot take now is rejected at once (risk decides what to do), never held.
 *
 * What comes back:
 *  - responses by request id: errors → rejected / cancel_rejected with the venue's code;
 *    -1021 (clock skew) also re-reads the venue's time and corrects our timestamps; 429/418 feed
 *    the RateLimiter; every error feeds ErrorStorm (→ onErrorStorm, new orders refused);
 *  - executionReport events → acks, fills, cancels, expiries through OrderTracker (duplicates
 *    and out-of-order events dropped by cumulative filled and trade id, counted);
 *  - no answer within `timeoutMs`: a placement is asked for by client id (`order.status`), never
 *    resent — found: its state is applied, -2013: rejected as not placed; a cancel is sent again
 *    (idempotent by client id). A reconnect treats every request in flight the same way, after
 *    the new session has logged on and resubscribed.
 */
import type { Logger } from "pino";
import type { ExecReport, Gateway, OrderRequest, ReportKind, VenueOrder } from "../../domain/order.ts";
import { OrderConst, OrderError, OrderFrameEncoder } from "../../../ffi/sign.ts";
import { WsClient } from "../../net/ws-client.ts";
import { MaskKeys } from "../../net/ws-frame.ts";
import { log as rootLog } from "../../telemetry/log.ts";
import { ErrorStorm, RateLimiter, type WindowLimit } from "./rate-limit.ts";
import { Ed25519Signer, HmacSha256Signer, signerFromConfig, wsApiPayload, type Signer } from "./sign.ts";
import { OrderTracker } from "./tracker.ts";

export interface BinanceWsGatewayOptions {
  /** ws://127.0.0.1:port/ws-api/v3 (tests) or wss://ws-api.binance.com:443/ws-api/v3 */
  url: string;
  apiKey: string;
  /** HMAC secret, or an Ed25519 private key (PEM / 32-byte seed): one of the two */
  secret?: string;
  privateKey?: string;
  /** Ed25519: sign every order although the session is logged on (default false) */
  signEveryRequest?: boolean;
  venue?: string;
  /** unified symbol → the venue's id and decimals (default: "BTC/USDT" → "BTCUSDT", shortest decimals) */
  symbols?: Record<string, { id: string; priceDecimals?: number; amountDecimals?: number }>;
  recvWindow?: number;
  /** no answer within this: status query (placements) or resend (cancels); default 5000 ms */
  timeoutMs?: number;
  /** subscribe to user data (default true) */
  userData?: boolean;
  limits?: readonly WindowLimit[];
  errorStorm?: { threshold: number; windowMs: number };
  onErrorStorm?: (info: { venue: string; errors: number; windowMs: number; last: string }) => void;
  /** wall clock for timestamps, ms (tests skew it) */
  clock?: () => number;
  log?: Logger;
  /** WsClient tuning (reconnect backoff, timers) */
  reconnect?: boolean;
}

export interface BinanceWsGatewayCounters {
  submitted: number;
  acks: number;
  fills: number;
  rejects: number;
  cancels: number;
  cancelRejects: number;
  expired: number;
  venueErrors: number;
  timeouts: number;
  statusQueries: number;
  recovered: number;
  lostPlacements: number;
  cancelResends: number;
  clockSkews: number;
  refused: number;
  reconnects: number;
  logons: number;
  events: number;
  badMessages: number;
}

const enum Kind {
  place,
  cancel,
  status,
  control,
}

interface SymEntry {
  id: string;
  idBytes: Uint8Array;
  pd?: number;
  ad?: number;
  /** the decimals as c/order.h takes them: 0..15, SHORTEST (none given) or NO_FORMAT */
  pdC: number;
  adC: number;
}

/** decimals for the C formatter: what putDecimal formats itself, else "decline" (text path) */
function cDecimals(d: number | undefined): number {
  if (d === undefined) return OrderConst.SHORTEST;
  return Number.isInteger(d) && d >= 0 && d <= 15 ? d : OrderConst.NO_FORMAT;
}
const symEntry = (id: string, pd?: number, ad?: number): SymEntry => ({ id, idBytes: ASCII(id), pd, ad, pdC: cDecimals(pd), adC: cDecimals(ad) });

interface Pending {
  kind: Kind;
  cid: string;
  symbol: string;
  sentAt: number;
  tries: number;
}

type ExecEvent = { e: string; E: number; s: string; c: string; C?: string; S: string; x: string; X: string; r?: string; i: number; l: string; z: string; L: string; n: string; N: string | null; t: number; m: boolean; T: number; q: string };

const utf8 = new TextDecoder();

/** Shortest decimal text of a number (no exponent), or fixed decimals when given. */
export function decimalText(x: number, decimals?: number): string {
  if (decimals !== undefined) return x.toFixed(decimals);
  const s = String(x);
  if (s.indexOf("e") < 0) return s;
  return x.toFixed(20).replace(/\.?0+$/, "");
}

const POW10 = Float64Array.from({ length: 19 }, (_, i) => 10 ** i);
const ASCII = (t: string): Uint8Array => {
  const b = new Uint8Array(t.length);
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c > 126 || c < 32) throw new RangeError(`not printable ASCII: ${JSON.stringify(t)}`);
    b[i] = c;
  }
  return b;
};

/** Writes a whole number 0 <= m < 2^53 in decimal at `at`; returns the position after it. */
function putUint(buf: Uint8Array, at: number, m: number): number {
  if (m < 1e9) return putSmall(buf, at, m | 0);
  // above 10^9: the high part, then the low 9 digits zero-padded, each in int32 arithmetic
  const hi = Math.floor(m / 1e9);
  at = putUint(buf, at, hi);
  return putPadded(buf, at, (m - hi * 1e9) | 0, 9);
}

/** 0 <= v < 10^9, no leading zeros */
function putSmall(buf: Uint8Array, at: number, v: number): number {
  let n = 1;
  while (n < 9 && v >= POW10[n]!) n++;
  return putPadded(buf, at, v, n);
}

/** 0 <= v < 10^n as exactly n digits (leading zeros) */
function putPadded(buf: Uint8Array, at: number, v: number, n: number): number {
  for (let i = n - 1; i >= 0; i--) {
    const q = (v / 10) | 0;
    buf[at + i] = 48 + v - q * 10;
    v = q;
  }
  return at + n;
}

/** m / 10^d written with exactly d decimals (d >= 0), no exponent; returns the position after it. */
function putScaled(buf: Uint8Array, at: number, m: number, d: number): number {
  if (d === 0) return putUint(buf, at, m);
  const p = POW10[d]!;
  const ip = Math.floor(m / p);
  at = putUint(buf, at, ip);
  buf[at++] = 46; // "."
  // the fraction, 0 <= f < 10^d <= 10^15: in int32 pieces of up to 9 digits
  const f = m - ip * p;
  if (d <= 9) return putPadded(buf, at, f | 0, d);
  const lowP = POW10[d - 9]!;
  const fh = Math.floor(f / lowP);
  at = putPadded(buf, at, fh | 0, 9);
  return putPadded(buf, at, (f - fh * lowP) | 0, d - 9);
}

/**
 * decimalText(x, decimals) written as ASCII bytes at `at` without making a string; returns the
 * position after it, or -1 when x is outside what the byte path does exactly (not a positive
 * finite number below 2^53 / 10^d, or a toFixed tie too close to call) — the caller then
 * writes decimalText's string. Same text as decimalText (test/binance-ws-gateway.test.ts).
 */
export function putDecimal(buf: Uint8Array, at: number, x: number, decimals?: number): number {
  if (!(x > 0 && x < 1e15)) return -1;
  if (decimals !== undefined) {
    if (!(decimals >= 0 && decimals <= 15 && (decimals | 0) === decimals)) return -1;
    const y = x * POW10[decimals]!;
    if (!(y < 9e15)) return -1;
    const fl = Math.floor(y);
    // toFixed rounds the exact binary value; the product is off by at most an ulp, so a
    // fraction this close to one half could go either way: leave it to toFixed
    if (Math.abs(y - fl - 0.5) < 1e-6) return -1;
    return putScaled(buf, at, y - fl > 0.5 ? fl + 1 : fl, decimals);
  }
  // shortest: the fewest decimals whose text reads back as x (what String(x) gives without an exponent)
  for (let d = 0; d <= 15; d++) {
    const p = POW10[d]!;
    const m = Math.round(x * p);
    if (m > 9e15) return -1;
    if (m / p === x) return putScaled(buf, at, m, d);
  }
  return -1;
}

/** copies all of `src` into `dst` at `at` (a JIT-compiled loop: TypedArray.set costs a native call) */
function put(dst: Uint8Array, at: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) dst[at + i] = src[i]!;
  return at + src.length;
}

function copyWithin(dst: Uint8Array, at: number, src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) dst[at++] = src[i]!;
  return at;
}

const enc = new TextEncoder();
// order.place text and signature payload, in the pieces between the variable fields
const P_ID = enc.encode(`{"id":`);
const P_RESP = enc.encode(`","newOrderRespType":"RESULT",`);
const P_PRICE = enc.encode(`"price":"`);
const P_QTY = enc.encode(`"quantity":"`);
const P_SYMBOL = enc.encode(`","symbol":"`);
const P_TIF = enc.encode(`"timeInForce":"`);
const P_TS = enc.encode(`"timestamp":`);
const P_TYPE = enc.encode(`,"type":"`);
const P_SIG = enc.encode(`,"signature":"`);
const B_BUY = enc.encode("BUY");
const B_SELL = enc.encode("SELL");
const T_MARKET = enc.encode("MARKET");
const T_LIMIT = enc.encode("LIMIT");
const T_LIMIT_MAKER = enc.encode("LIMIT_MAKER");
const Q_RESP = enc.encode("&newOrderRespType=RESULT");
const Q_PRICE = enc.encode("&price=");
const Q_QTY = enc.encode("&quantity=");
const Q_BUY = enc.encode("BUY&symbol=");
const Q_SELL = enc.encode("SELL&symbol=");
const Q_TIF = enc.encode("&timeInForce=");
const Q_TS = enc.encode("&timestamp=");
const Q_TYPE = enc.encode("&type=");

function putText(buf: Uint8Array, at: number, t: string): number {
  for (let i = 0; i < t.length; i++) buf[at + i] = t.charCodeAt(i);
  return at + t.length;
}

export class BinanceWsGateway implements Gateway {
  readonly venue: string;
  readonly counters: BinanceWsGatewayCounters = { submitted: 0, acks: 0, fills: 0, rejects: 0, cancels: 0, cancelRejects: 0, expired: 0, venueErrors: 0, timeouts: 0, statusQueries: 0, recovered: 0, lostPlacements: 0, cancelResends: 0, clockSkews: 0, refused: 0, reconnects: 0, logons: 0, events: 0, badMessages: 0 };
  readonly tracker: OrderTracker;
  readonly limiter: RateLimiter;
  readonly storm: ErrorStorm;
  readonly client: WsClient;
  private readonly signer: Signer;
  private readonly session: boolean;
  private readonly signOrders: boolean;
  private readonly handlers: Array<(r: ExecReport) => void> = [];
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Map<number, (m: { status: number; result?: unknown; error?: { code: number; msg: string } }) => void>();
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly timeoutMs: number;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly keyPart: string;
  private readonly rwPart: string;
  /** byte path (encodePlaceInto): the frame text buffer and the fixed pieces that depend on options */
  private readonly frame = new Uint8Array(1024);
  private readonly frameViews: Array<Uint8Array | undefined> = [];
  private readonly hmac: HmacSha256Signer | null;
  private readonly headBytes: Uint8Array;
  private readonly rwBytes: Uint8Array;
  private readonly keyPartBytes: Uint8Array;
  private readonly rwQBytes: Uint8Array;
  /** submit writes order.place from bytes (false: an Ed25519 key signing every order) */
  private readonly bytePath: boolean;
  /**
   * The C path (c/order.c): text + HMAC signature + masked frame in one FFI call, sent with
   * WsClient.sendFrame. null where the byte path is off or the pieces do not fit its context.
   */
  private readonly cenc: OrderFrameEncoder | null;
  /** order.cancel frames in one C call (c/order.c bot4_order_cancel_frame); null: the TypeScript text */
  private readonly ccancel: OrderFrameEncoder | null;
  /** mask keys for the frames the C path builds (xoshiro128**, seeded from the OS CSPRNG) */
  private readonly masks = new MaskKeys();
  private readonly symIds = new Map<string, SymEntry>();
  private seq = 0;
  private offsetMs = 0;
  private ready = false;
  private readyWaiters: Array<() => void> = [];
  private userDataOn = false;
  private closed = false;

  constructor(private readonly o: BinanceWsGatewayOptions) {
    this.venue = o.venue ?? "binance";
    this.log = (o.log ?? rootLog()).child({ gateway: "binance-ws" });
    this.signer = signerFromConfig({ apiKey: o.apiKey, secret: o.secret, privateKey: o.privateKey });
    this.session = this.signer instanceof Ed25519Signer;
    this.signOrders = !this.session || o.signEveryRequest === true;
    this.clock = o.clock ?? Date.now;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.keyPart = this.signOrders ? `apiKey=${o.apiKey}&` : "";
    this.rwPart = `&recvWindow=${o.recvWindow ?? 5000}`;
    this.hmac = this.signOrders && this.signer instanceof HmacSha256Signer ? this.signer : null;
    this.bytePath = !this.signOrders || this.hmac !== null;
    this.headBytes = ASCII(`,"method":"order.place","params":{${this.signOrders ? `"apiKey":"${o.apiKey}",` : ""}"newClientOrderId":"`);
    this.rwBytes = ASCII(`","recvWindow":${o.recvWindow ?? 5000},"side":"`);
    this.keyPartBytes = ASCII(`${this.keyPart}newClientOrderId=`);
    this.rwQBytes = ASCII(`${this.rwPart}&side=`);
    for (const [u, s] of Object.entries(o.symbols ?? {})) this.symIds.set(u, symEntry(s.id, s.priceDecimals, s.amountDecimals));
    this.cenc = this.bytePath ? this.makeEncoder() : null;
    this.ccancel = this.cenc !== null ? this.makeCancelEncoder(o) : null;
    this.tracker = new OrderTracker(this.venue);
    this.limiter = new RateLimiter(this.venue, o.limits);
    this.storm = new ErrorStorm(this.venue, { threshold: o.errorStorm?.threshold ?? 20, windowMs: o.errorStorm?.windowMs ?? 10_000, onErrorStorm: (i) => {
      this.log.error(i, "venue error storm: calling the kill switch");
      o.onErrorStorm?.(i);
    } });
    this.client = new WsClient({
      url: o.url,
      onMessage: (buf, start, end) => this.onMessage(buf, start, end),
      onOpen: () => this.onOpen(),
      onClose: (reason, again) => this.onClose(reason, again),
      stallMs: 0,
      reconnect: o.reconnect ?? true,
      backoff: { baseMs: 50, capMs: 2000 },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(250, this.timeoutMs / 4)));
  }

  /** Connects; resolves when the session is ready (logged on and subscribed, as configured). */
  start(): Promise<void> {
    this.client.start();
    return this.whenReady();
  }

  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((r) => this.readyWaiters.push(r));
  }

  get isReady(): boolean {
    return this.ready;
  }

  onReport(handler: (r: ExecReport) => void): void {
    this.handlers.push(handler);
  }

  private emit(r: ExecReport | undefined): void {
    if (!r) return;
    switch (r.kind) {
      case "ack": this.counters.acks++; break;
      case "fill": this.counters.fills++; break;
      case "rejected": this.counters.rejects++; break;
      case "cancelled": this.counters.cancels++; break;
      case "cancel_rejected": this.counters.cancelRejects++; break;
      case "expired": this.counters.expired++; break;
    }
    for (let i = 0; i < this.handlers.length; i++) this.handlers[i]!(r);
  }

  private sym(unified: string): SymEntry {
    let s = this.symIds.get(unified);
    if (!s) {
      const id = unified.split(":")[0]!.replace("/", "");
      s = symEntry(id);
      this.symIds.set(unified, s);
    }
    return s;
  }

  // ---- encoding (hot path) ---------------------------------------------------------------------

  /**
   * The text of an order.place request. Params are written in sorted-name order, so the signed
   * payload is the params joined as they appear (Binance: payload = params sorted by name).
   */
  encodePlace(id: number, req: OrderRequest, tsMs: number): string {
    const s = this.sym(req.symbol);
    const side = req.side === "buy" ? "BUY" : "SELL";
    const limit = req.type === "limit";
    const type = !limit ? "MARKET" : req.timeInForce === "PO" ? "LIMIT_MAKER" : "LIMIT";
    const qty = decimalText(req.amount, s.ad);
    const px = limit ? decimalText(req.price!, s.pd) : "";
    const tif = type === "LIMIT" ? req.timeInForce : "";
    let j = `{"id":${id},"method":"order.place","params":{`;
    if (this.signOrders) j += `"apiKey":"${this.o.apiKey}",`;
    j += `"newClientOrderId":"${req.clientOrderId}","newOrderRespType":"RESULT",`;
    if (limit) j += `"price":"${px}",`;
    j += `"quantity":"${qty}","recvWindow":${this.o.recvWindow ?? 5000},"side":"${side}","symbol":"${s.id}",`;
    if (tif) j += `"timeInForce":"${tif}",`;
    j += `"timestamp":${tsMs},"type":"${type}"`;
    if (this.signOrders) {
      let p = this.keyPart + "newClientOrderId=" + req.clientOrderId + "&newOrderRespType=RESULT";
      if (limit) p += "&price=" + px;
      p += "&quantity=" + qty + this.rwPart + "&side=" + side + "&symbol=" + s.id;
      if (tif) p += "&timeInForce=" + tif;
      p += "&timestamp=" + tsMs + "&type=" + type;
      j += `,"signature":"${this.signer.sign(p)}"`;
    }
    return j + "}}";
  }

  /**
   * encodePlace written as ASCII bytes into `this.frame` (returned length), the signature
   * payload built beside it in the HMAC signer's own buffer and signed there: no strings, no
   * allocation per order (toFixed-style decimals and the shortest decimals are written by
   * putDecimal). The same text as encodePlace, byte for byte (test/binance-ws-gateway.test.ts).
   * -1: the client order id is not plain ASCII without quote or backslash (JSON would break).
   */
  encodePlaceInto(id: number, req: OrderRequest, tsMs: number): number {
    const s = this.sym(req.symbol);
    const b = this.frame;
    const cid = req.clientOrderId;
    if (cid.length > 64) return -1;
    for (let i = 0; i < cid.length; i++) {
      const c = cid.charCodeAt(i);
      if (c < 32 || c > 126 || c === 34 || c === 92) return -1;
    }
    const buy = req.side === "buy";
    const limit = req.type === "limit";
    const type = !limit ? T_MARKET : req.timeInForce === "PO" ? T_LIMIT_MAKER : T_LIMIT;
    const tif = type === T_LIMIT ? req.timeInForce ?? "" : "";
    if (s.idBytes.length > 40 || tif.length > 8) return -1;
    let j = put(b, 0, P_ID);
    j = putUint(b, j, id);
    j = put(b, j, this.headBytes);
    j = putText(b, j, cid);
    j = put(b, j, P_RESP);
    let priceAt = 0, priceEnd = 0;
    if (limit) {
      j = put(b, j, P_PRICE);
      priceAt = j;
      j = this.putNumber(b, j, req.price!, s.pd);
      priceEnd = j;
      b[j++] = 34; // "
      b[j++] = 44; // ,
    }
    j = put(b, j, P_QTY);
    const qtyAt = j;
    j = this.putNumber(b, j, req.amount, s.ad);
    const qtyEnd = j;
    j = put(b, j, this.rwBytes);
    const sideB = buy ? B_BUY : B_SELL;
    j = put(b, j, sideB);
    j = put(b, j, P_SYMBOL);
    j = put(b, j, s.idBytes);
    b[j++] = 34;
    b[j++] = 44;
    if (tif) {
      j = put(b, j, P_TIF);
      j = putText(b, j, tif);
      b[j++] = 34;
      b[j++] = 44;
    }
    j = put(b, j, P_TS);
    const tsAt = j;
    j = putUint(b, j, tsMs);
    const tsEnd = j;
    j = put(b, j, P_TYPE);
    j = put(b, j, type);
    b[j++] = 34;
    if (this.hmac !== null) {
      // payload: the same params in the same (sorted) order, k=v joined by &
      const h = this.hmac, q = h.payload;
      let k = 0;
      k = put(q, k, this.keyPartBytes);
      k = putText(q, k, cid);
      k = put(q, k, Q_RESP);
      if (limit) {
        k = put(q, k, Q_PRICE);
        k = copyWithin(q, k, b, priceAt, priceEnd);
      }
      k = put(q, k, Q_QTY);
      k = copyWithin(q, k, b, qtyAt, qtyEnd);
      k = put(q, k, this.rwQBytes);
      const sq = buy ? Q_BUY : Q_SELL;
      k = put(q, k, sq);
      k = put(q, k, s.idBytes);
      if (tif) {
        k = put(q, k, Q_TIF);
        k = putText(q, k, tif);
      }
      k = put(q, k, Q_TS);
      k = copyWithin(q, k, b, tsAt, tsEnd);
      k = put(q, k, Q_TYPE);
      k = put(q, k, type);
      j = put(b, j, P_SIG);
      h.signHexInto(k, b, j);
      j += 64;
      b[j++] = 34;
    }
    b[j++] = 125;
    b[j++] = 125;
    return j;
  }

  /**
   * The C path: order.place as a complete masked client frame in `e.out` (returned length, the
   * same text as encodePlaceInto; test/order-c.test.ts), or a negative OrderError when it
   * declines (the caller then takes the byte path above).
   */
  encodeFrame(e: OrderFrameEncoder, id: number, req: OrderRequest, tsMs: number, mask: number): number {
    const s = this.sym(req.symbol);
    const limit = req.type === "limit";
    const type = !limit ? OrderConst.MARKET : req.timeInForce === "PO" ? OrderConst.LIMIT_MAKER : OrderConst.LIMIT;
    const tif = type === OrderConst.LIMIT ? req.timeInForce ?? "" : "";
    const n = e.place(id, tsMs, req.side !== "buy", type, limit ? req.price! : 0, s.pdC, req.amount, s.adC, req.clientOrderId, s.idBytes, tif, mask);
    if (n !== OrderError.number) return n;
    // a number the byte formatter declines (as putDecimal does): decimalText's string, cold
    return e.numbersAsText(limit ? decimalText(req.price!, s.pd) : "", decimalText(req.amount, s.ad));
  }

  /**
   * What submit does between its bookkeeping and the socket write, on its own (measurement): the
   * C call's frame length, or the byte path's text length when there is no C encoder or it declines.
   */
  encodeForSubmit(id: number, req: OrderRequest, tsMs: number): number {
    const e = this.cenc;
    if (e !== null) {
      const f = this.encodeFrame(e, id, req, tsMs, this.masks.next());
      if (f > 0) return f;
    }
    return this.bytePath ? this.encodePlaceInto(id, req, tsMs) : this.encodePlace(id, req, tsMs).length;
  }

  /** true when orders are encoded, signed and framed by the C call */
  get cEncoder(): boolean {
    return this.cenc !== null;
  }

  /** the C encoder for this gateway's fixed pieces (null, logged, when they do not fit it) */
  private makeEncoder(): OrderFrameEncoder | null {
    try {
      return new OrderFrameEncoder({ secret: this.hmac !== null ? this.o.secret : undefined, head: this.headBytes, rw: this.rwBytes, keyPart: this.keyPartBytes, rwQuery: this.rwQBytes });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "C order encoder unavailable: orders are encoded in TypeScript");
      return null;
    }
  }

  /** the C cancel encoder: order.cancel by client id with this gateway's key and recvWindow */
  private makeCancelEncoder(o: BinanceWsGatewayOptions): OrderFrameEncoder | null {
    try {
      return new OrderFrameEncoder({
        method: "cancel",
        secret: this.hmac !== null ? o.secret : undefined,
        head: ASCII(`,"method":"order.cancel","params":{${this.signOrders ? `"apiKey":"${o.apiKey}",` : ""}"origClientOrderId":"`),
        rw: ASCII(`","recvWindow":${o.recvWindow ?? 5000},"symbol":"`),
        keyPart: ASCII(`${this.keyPart}origClientOrderId=`),
        rwQuery: ASCII(`${this.rwPart}&symbol=`),
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "C cancel encoder unavailable: cancels are encoded in TypeScript");
      return null;
    }
  }

  /** The order.cancel frame in the C encoder's `out` (its length), or <= 0 when it declines (the TypeScript text then). */
  encodeCancelFrame(id: number, symbol: string, cid: string, tsMs: number, mask: number): number {
    const e = this.ccancel;
    return e === null ? 0 : e.cancel(id, tsMs, cid, this.sym(symbol).idBytes, mask);
  }

  /** The TypeScript order.cancel text (the path without the C encoder, and the reference for its tests). */
  encodeCancel(id: number, symbol: string, cid: string, tsMs: number): string {
    const p: Record<string, string | number> = { symbol: this.sym(symbol).id, origClientOrderId: cid, timestamp: tsMs, recvWindow: this.o.recvWindow ?? 5000 };
    if (this.signOrders) {
      p.apiKey = this.o.apiKey;
      p.signature = this.signer.sign(wsApiPayload(p));
    }
    return JSON.stringify({ id, method: "order.cancel", params: p });
  }

  /** true when submit builds frames in C (c/order.c) */
  get nativeFrames(): boolean {
    return this.cenc !== null;
  }

  private putNumber(b: Uint8Array, at: number, x: number, decimals: number | undefined): number {
    const e = putDecimal(b, at, x, decimals);
    return e >= 0 ? e : putText(b, at, decimalText(x, decimals));
  }

  private encodeSigned(id: number, method: string, params: Record<string, string | number>): string {
    const p: Record<string, string | number> = { ...params, timestamp: this.now(), recvWindow: this.o.recvWindow ?? 5000 };
    if (this.signOrders) {
      p.apiKey = this.o.apiKey;
      p.signature = this.signer.sign(wsApiPayload(p));
    }
    return JSON.stringify({ id, method, params: p });
  }

  private now(): number {
    return Math.round(this.clock() + this.offsetMs);
  }

  // ---- orders ------------------------------------------------------------------------------------

  /** The engine's hand-over point: risk and routing have run before this call. */
  submit(req: OrderRequest): void {
    this.counters.submitted++;
    this.tracker.track(req);
    const cid = req.clientOrderId;
    if (!this.ready || this.storm.tripped || this.closed) {
      this.refuse(cid, this.storm.tripped ? "error storm: the kill switch stopped new orders" : this.closed ? "gateway closed" : "not connected");
      return;
    }
    const wait = this.limiter.admit(1, true);
    if (wait !== 0) {
      this.refuse(cid, Number.isFinite(wait) ? `rate limit: no order before ${wait} ms` : `IP banned by the venue until ${new Date(this.limiter.bannedUntilMs).toISOString()} (418)`);
      return;
    }
    const id = ++this.seq;
    this.pending.set(id, { kind: Kind.place, cid, symbol: req.symbol, sentAt: performance.now(), tries: 0 });
    const ts = this.now();
    const e = this.cenc;
    if (e !== null) {
      const f = this.encodeFrame(e, id, req, ts, this.masks.next());
      if (f > 0) {
        this.client.sendFrame(e.out, f);
        return;
      }
    }
    const n = this.bytePath ? this.encodePlaceInto(id, req, ts) : -1;
    if (n >= 0) {
      // a whole-array view per length, made once: the frame writer copies it without a subarray
      let v = this.frameViews[n];
      if (v === undefined) v = this.frameViews[n] = this.frame.subarray(0, n);
      this.client.sendText(v);
    } else this.client.send(this.encodePlace(id, req, ts));
  }

  /** One engine step's requests follow: their frames go out in one socket write at flush(). */
  hold(): void {
    this.client.cork();
  }
  flush(): void {
    this.client.uncork();
  }

  private refuse(cid: string, reason: string): void {
    this.counters.refused++;
    this.emit(this.tracker.event(cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: this.now(), reason }));
  }

  cancel(symbol: string, clientOrderId: string): void {
    const t = this.tracker.get(clientOrderId);
    if (t) t.cancelRequested = true;
    this.sendCancel(symbol, clientOrderId, 0);
  }

  private sendCancel(symbol: string, cid: string, tries: number): void {
    if (!this.ready) {
      this.emitCancelReject(symbol, cid, "not connected");
      return;
    }
    const wait = this.limiter.admit(1, false);
    if (wait !== 0) {
      this.emitCancelReject(symbol, cid, `rate limit: no request before ${wait} ms`);
      return;
    }
    const id = ++this.seq;
    this.pending.set(id, { kind: Kind.cancel, cid, symbol, sentAt: performance.now(), tries });
    const ts = this.now();
    const f = this.encodeCancelFrame(id, symbol, cid, ts, this.masks.next());
    if (f > 0) this.client.sendFrame(this.ccancel!.out, f);
    else this.client.send(this.encodeCancel(id, symbol, cid, ts));
  }

  private sendStatus(symbol: string, cid: string, tries: number): void {
    const id = ++this.seq;
    this.counters.statusQueries++;
    this.pending.set(id, { kind: Kind.status, cid, symbol, sentAt: performance.now(), tries });
    this.limiter.admit(4, false);
    this.client.send(this.encodeSigned(id, "order.status", { symbol: this.sym(symbol).id, origClientOrderId: cid }));
  }

  private emitCancelReject(symbol: string, cid: string, reason: string): void {
    if (this.tracker.get(cid)) this.emit(this.tracker.event(cid, "cancel_rejected", { filled: this.tracker.get(cid)!.filled, lastPrice: 0, fee: 0, timeMs: this.now(), reason }));
    else {
      this.counters.cancelRejects++;
      const r: ExecReport = { kind: "cancel_rejected", venue: this.venue, symbol, clientOrderId: cid, side: "buy", lastAmount: 0, lastPrice: 0, filled: 0, remaining: 0, fee: 0, reason, venueTimeMs: this.now() };
      for (const h of this.handlers) h(r);
    }
  }

  /** A control request (cold path): resolves with the venue's answer. */
  request(method: string, params?: Record<string, string | number>, signed = false): Promise<{ status: number; result?: unknown; error?: { code: number; msg: string } }> {
    const id = ++this.seq;
    const text = signed ? this.encodeSigned(id, method, params ?? {}) : JSON.stringify(params ? { id, method, params } : { id, method });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`${method}: no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiters.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      if (this.client.send(text) < 0) {
        clearTimeout(timer);
        this.waiters.delete(id);
        reject(new Error(`${method}: not connected`));
      }
    });
  }

  async openOrders(symbol?: string): Promise<VenueOrder[]> {
    const m = await this.request("openOrders.status", symbol ? { symbol: this.sym(symbol).id } : {}, true);
    if (m.error) throw new Error(`openOrders.status: ${m.error.code} ${m.error.msg}`);
    const back = new Map([...this.symIds].map(([u, s]) => [s.id, u]));
    return (m.result as Array<Record<string, string | number>>).map((o) => ({
      clientOrderId: String(o.clientOrderId), venueOrderId: String(o.orderId), symbol: back.get(String(o.symbol)) ?? String(o.symbol),
      side: o.side === "SELL" ? "sell" : "buy", type: o.type === "MARKET" ? "market" : "limit", price: Number(o.price), amount: Number(o.origQty),
      filled: Number(o.executedQty), status: o.status === "PARTIALLY_FILLED" ? "partially_filled" : "open", timeMs: Number(o.time),
    }));
  }

  /**
   * Fills since `sinceMs`, as this gateway saw them. The WebSocket API's `myTrades` is not part
   * of the order-entry path; reconciliation of fills missed while disconnected goes through the
   * REST gateway (CcxtGateway.fills) — here the tracker's view is returned.
   */
  async fills(symbol: string, sinceMs: number): Promise<ExecReport[]> {
    return this.seenFills.filter((f) => f.symbol === symbol && f.venueTimeMs >= sinceMs);
  }
  private readonly seenFills: ExecReport[] = [];

  // ---- connection ------------------------------------------------------------------------------

  private onOpen(): void {
    if (this.client.counters.connects > 1) this.counters.reconnects++;
    void this.handshake();
  }

  private async handshake(attempt = 0): Promise<void> {
    try {
      if (this.session) {
        const p: Record<string, string | number> = { apiKey: this.o.apiKey, timestamp: this.now() };
        p.signature = this.signer.sign(wsApiPayload(p));
        const r = await this.request("session.logon", p);
        if (r.error?.code === -1021 && attempt === 0) {
          // our clock is off the venue's: correct it and log on again
          this.counters.clockSkews++;
          await this.resyncClock();
          return this.handshake(1);
        }
        if (r.error) throw new Error(`session.logon refused: ${r.error.code} ${r.error.msg}`);
        this.counters.logons++;
      }
      if (this.o.userData ?? true) {
        const r = this.session ? await this.request("userDataStream.subscribe") : await this.request("userDataStream.subscribe.signature", { apiKey: this.o.apiKey }, true);
        if (r.error) throw new Error(`user data subscribe refused: ${r.error.code} ${r.error.msg}`);
        this.userDataOn = true;
      }
      this.ready = true;
      for (const w of this.readyWaiters.splice(0)) w();
      // requests in flight across a reconnect have an unknown fate: ask
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        if (p.kind === Kind.place || p.kind === Kind.status) this.sendStatus(p.symbol, p.cid, p.tries + 1);
        else if (p.kind === Kind.cancel) this.sendCancel(p.symbol, p.cid, p.tries + 1);
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "WebSocket API session set-up failed");
      this.storm.record(`session: ${(e as Error).message}`);
    }
  }

  private onClose(reason: string, willReconnect: boolean): void {
    this.ready = false;
    this.userDataOn = false;
    this.log.warn({ reason, willReconnect }, "WebSocket API connection lost");
  }

  /** Requests older than timeoutMs: placements → status query, cancels → resend, statuses → again. */
  private sweep(): void {
    if (!this.ready) return;
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (now - p.sentAt < this.timeoutMs) continue;
      this.pending.delete(id);
      this.counters.timeouts++;
      this.storm.record("request timeout");
      if (p.tries >= 3) {
        this.log.error({ clientOrderId: p.cid }, "order state unknown after repeated timeouts");
        continue;
      }
      if (p.kind === Kind.place || p.kind === Kind.status) this.sendStatus(p.symbol, p.cid, p.tries + 1);
      else if (p.kind === Kind.cancel) {
        this.counters.cancelResends++;
        this.sendCancel(p.symbol, p.cid, p.tries + 1);
      }
    }
  }

  // ---- inbound ---------------------------------------------------------------------------------

  private onMessage(buf: Uint8Array, start: number, end: number): void {
    let m: { id?: number | string | null; status?: number; result?: unknown; error?: { code: number; msg: string; data?: { retryAfter?: number } }; rateLimits?: Array<{ rateLimitType: string; interval: string; intervalNum: number; count: number }>; event?: ExecEvent & { e: string } };
    try {
      m = JSON.parse(utf8.decode(buf.subarray(start, end)));
    } catch {
      this.counters.badMessages++;
      return;
    }
    if (m.event !== undefined) {
      this.counters.events++;
      if (m.event.e === "executionReport") this.onExecution(m.event);
      return;
    }
    if (m.rateLimits) this.limiter.observeWsRateLimits(m.rateLimits);
    if (m.status === 429 || m.status === 418) {
      const until = m.error?.data?.retryAfter;
      if (m.status === 418) this.limiter.on418(until);
      else this.limiter.on429Until(until ?? Date.now() + 1000);
    }
    const id = typeof m.id === "number" ? m.id : Number(m.id);
    const w = this.waiters.get(id);
    if (w) {
      this.waiters.delete(id);
      w({ status: m.status ?? 0, result: m.result, error: m.error });
      return;
    }
    const p = this.pending.get(id);
    if (!p) {
      this.counters.badMessages++; // an answer to nothing we asked (or already timed out)
      return;
    }
    this.pending.delete(id);
    if (m.error) this.onError(p, m.error);
    else this.onResult(p, m.result as Record<string, string | number>);
  }

  private onError(p: Pending, e: { code: number; msg: string }): void {
    this.counters.venueErrors++;
    const reason = `${e.code} ${e.msg}`;
    this.storm.record(reason);
    if (e.code === -1021) {
      this.counters.clockSkews++;
      void this.resyncClock();
    }
    if (p.kind === Kind.place) {
      if (e.code === -1001 || e.code === -1006 || e.code === -1007) {
        // Binance: status UNKNOWN — it may have been executed; ask
        this.sendStatus(p.symbol, p.cid, p.tries + 1);
        return;
      }
      this.emit(this.tracker.event(p.cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: this.now(), reason }));
    } else if (p.kind === Kind.cancel) {
      this.emitCancelReject(p.symbol, p.cid, reason);
    } else if (p.kind === Kind.status) {
      if (e.code === -2013 || e.code === -2011) {
        const t = this.tracker.get(p.cid);
        if (t && t.status === "pending_new") {
          this.counters.lostPlacements++;
          this.emit(this.tracker.event(p.cid, "rejected", { filled: 0, lastPrice: 0, fee: 0, timeMs: this.now(), reason: "no answer and the venue has no order with this client id: not placed" }));
        }
      } else if (p.tries < 3) this.sendStatus(p.symbol, p.cid, p.tries + 1);
    }
  }

  private onResult(p: Pending, r: Record<string, string | number>): void {
    const t = this.tracker.get(p.cid);
    if (!t) return;
    if (p.kind === Kind.status && t.status === "pending_new") this.counters.recovered++;
    const time = Number(r.transactTime ?? r.updateTime ?? r.time ?? this.now());
    const venueOrderId = r.orderId !== undefined ? String(r.orderId) : undefined;
    const status = String(r.status);
    if (t.status === "pending_new" && status !== "REJECTED") this.emit(this.tracker.event(p.cid, "ack", { venueOrderId, filled: 0, lastPrice: 0, fee: 0, timeMs: time }));
    // fills come from executionReports (with trade ids and prices); without user data, from the result
    const filled = Number(r.executedQty ?? 0);
    if (!this.userDataOn && filled > t.filled) {
      const quote = Number(r.cummulativeQuoteQty ?? 0);
      this.emit(this.tracker.event(p.cid, "fill", { venueOrderId, filled, lastPrice: filled > 0 ? quote / filled : 0, fee: 0, timeMs: time }));
    }
    if (!this.userDataOn || p.kind === Kind.status) {
      const k: ReportKind | undefined = status === "CANCELED" ? "cancelled" : status === "EXPIRED" || status === "EXPIRED_IN_MATCH" ? "expired" : status === "REJECTED" ? "rejected" : undefined;
      if (k) this.emit(this.tracker.event(p.cid, k, { venueOrderId, filled, lastPrice: 0, fee: 0, timeMs: time }));
    }
  }

  private onExecution(ev: ExecEvent): void {
    const cid = ev.x === "CANCELED" && ev.C ? ev.C : ev.c;
    const t = this.tracker.get(cid);
    const venueOrderId = String(ev.i);
    const time = ev.T || ev.E;
    switch (ev.x) {
      case "NEW":
        if (t && t.status !== "pending_new") return; // the response already acknowledged it
        this.emit(this.tracker.event(cid, "ack", { venueOrderId, filled: 0, lastPrice: 0, fee: 0, timeMs: time }));
        return;
      case "TRADE": {
        const price = Number(ev.L);
        const fee = ev.N !== null && t && ev.N !== t.req.symbol.split("/")[1]?.split(":")[0] ? Number(ev.n) * price : Number(ev.n);
        const r = this.tracker.event(cid, "fill", { venueOrderId, filled: Number(ev.z), lastAmount: Number(ev.l), lastPrice: price, fee, taker: !ev.m, tradeId: String(ev.t), timeMs: time });
        if (r) this.seenFills.push(r);
        this.emit(r);
        return;
      }
      case "CANCELED":
        this.emit(this.tracker.event(cid, "cancelled", { venueOrderId, filled: Number(ev.z), lastPrice: 0, fee: 0, timeMs: time }));
        return;
      case "EXPIRED":
      case "TRADE_PREVENTION":
        this.emit(this.tracker.event(cid, "expired", { venueOrderId, filled: Number(ev.z), lastPrice: 0, fee: 0, timeMs: time }));
        return;
      case "REJECTED":
        this.emit(this.tracker.event(cid, "rejected", { venueOrderId, filled: 0, lastPrice: 0, fee: 0, timeMs: time, reason: ev.r }));
        return;
    }
  }

  /** After -1021: the venue's time minus ours becomes the offset of every later timestamp. */
  private async resyncClock(): Promise<void> {
    try {
      const t0 = this.clock();
      const r = await this.request("time");
      const t1 = this.clock();
      const server = (r.result as { serverTime?: number } | undefined)?.serverTime;
      if (typeof server === "number") {
        this.offsetMs = server - (t0 + t1) / 2;
        this.log.warn({ offsetMs: this.offsetMs }, "clock skew against the venue: timestamps corrected");
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "time resync failed");
    }
  }

  get clockOffsetMs(): number {
    return this.offsetMs;
  }

  resetErrorStorm(): void {
    this.storm.reset();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ready = false;
    clearInterval(this.sweeper);
    await this.client.close();
  }
}
