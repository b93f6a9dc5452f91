/**
 * Request-rate discipline for one venue account: request weights, order counts, 429/418 handling,
 * retry policy and the error-storm breaker. Cold path (a few calls per order), no allocation per
 * call after construction.
 *
 *  - `RateLimiter`: fixed windows per limit, as venues count them (Binance: REQUEST_WEIGHT 6000
 *    per minute per IP, ORDERS 50 per 10 s and 160,000 per day per account, windows aligned to
 *    the clock). `admit(weight, isOrder, nowMs)` returns 0 when the request may go now, else how
 *    many ms to wait; it charges only what it admits. The venue's own count (Binance:
 *    `X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`, or `rateLimits[].count` on the WebSocket
 *    API) replaces ours when it is higher — the venue is the authority, other processes on the
 *    same IP share the weight.
 *  - 429: back off until Retry-After (seconds, or the `retryAfter` epoch ms of the WebSocket
 *    API); nothing is sent before then. 418 (IP banned: the venue says 429s were ignored): stop
 *    every request until the ban ends and surface it (`banned`), never retry into it.
 *  - retries only for idempotent requests (`isIdempotent`): queries and cancels by client id may
 *    be repeated; an order placement is never blindly resent — after a timeout its fate is asked
 *    for by client order id.
 *  - `ErrorStorm`: venue errors in a sliding window; at the threshold it trips once and calls its
 *    hook (the kill switch), instead of the gateway retrying into a failing venue.
 */

export interface WindowLimit {
  /** what the venue calls it (REQUEST_WEIGHT, ORDERS) */
  kind: "weight" | "orders";
  intervalMs: number;
  limit: number;
}

/** Binance spot's documented limits (exchangeInfo.rateLimits). */
export const BINANCE_SPOT_LIMITS: readonly WindowLimit[] = [
  { kind: "weight", intervalMs: 60_000, limit: 6000 },
  { kind: "orders", intervalMs: 10_000, limit: 50 },
  { kind: "orders", intervalMs: 86_400_000, limit: 160_000 },
];

/** Binance spot REST weights of the order endpoints (per the endpoint docs). */
export const BINANCE_SPOT_WEIGHTS = {
  "POST /api/v3/order": 1,
  "DELETE /api/v3/order": 1,
  "GET /api/v3/order": 4,
  "GET /api/v3/openOrders:symbol": 6,
  "GET /api/v3/openOrders": 80,
  "DELETE /api/v3/openOrders": 1,
  "GET /api/v3/account": 20,
  "GET /api/v3/myTrades": 20,
  "GET /api/v3/exchangeInfo": 20,
  "GET /api/v3/time": 1,
  "GET /api/v3/ping": 1,
} as const;

export interface RateLimiterCounters {
  admitted: number;
  /** requests told to wait by our own accounting */
  throttled: number;
  http429: number;
  http418: number;
  /** venue counts higher than ours (someone else shares the limit, or our clock is off) */
  venueCorrections: number;
}

export class RateLimiter {
  readonly counters: RateLimiterCounters = { admitted: 0, throttled: 0, http429: 0, http418: 0, venueCorrections: 0 };
  private readonly used: Float64Array;
  private readonly windowStart: Float64Array;
  /** no request before this (429 Retry-After), ms since epoch */
  private backoffUntil = 0;
  /** banned (418) until this, ms since epoch */
  private bannedUntil = 0;

  constructor(readonly venue: string, readonly limits: readonly WindowLimit[] = BINANCE_SPOT_LIMITS, private readonly safety = 0.9) {
    this.used = new Float64Array(limits.length);
    this.windowStart = new Float64Array(limits.length);
  }

  get banned(): boolean {
    return this.bannedUntil > Date.now();
  }
  get bannedUntilMs(): number {
    return this.bannedUntil;
  }

  private roll(i: number, now: number): void {
    const iv = this.limits[i]!.intervalMs;
    const start = now - (now % iv);
    if (this.windowStart[i] !== start) {
      this.windowStart[i] = start;
      this.used[i] = 0;
    }
  }

  /** 0: go now (charged); > 0: ms to wait (nothing charged); Infinity while banned. */
  admit(weight: number, isOrder: boolean, now = Date.now()): number {
    if (this.bannedUntil > now) return Infinity;
    if (this.backoffUntil > now) {
      this.counters.throttled++;
      return this.backoffUntil - now;
    }
    let wait = 0;
    for (let i = 0; i < this.limits.length; i++) {
      const l = this.limits[i]!;
      const cost = l.kind === "weight" ? weight : isOrder ? 1 : 0;
      if (cost === 0) continue;
      this.roll(i, now);
      if (this.used[i]! + cost > l.limit * this.safety) wait = Math.max(wait, this.windowStart[i]! + l.intervalMs - now);
    }
    if (wait > 0) {
      this.counters.throttled++;
      return wait;
    }
    for (let i = 0; i < this.limits.length; i++) {
      const l = this.limits[i]!;
      this.used[i] = this.used[i]! + (l.kind === "weight" ? weight : isOrder ? 1 : 0);
    }
    this.counters.admitted++;
    return 0;
  }

  /** The venue's count for a window (header or rateLimits[]): ours follows it when it is higher. */
  observe(kind: WindowLimit["kind"], intervalMs: number, count: number, now = Date.now()): void {
    for (let i = 0; i < this.limits.length; i++) {
      const l = this.limits[i]!;
      if (l.kind !== kind || l.intervalMs !== intervalMs) continue;
      this.roll(i, now);
      if (count > this.used[i]!) {
        this.used[i] = count;
        this.counters.venueCorrections++;
      }
    }
  }

  /** Binance REST response headers: X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S / -1D. */
  observeHeaders(h: { get(name: string): string | null } | Record<string, string | undefined>, now = Date.now()): void {
    const get = (n: string): string | null | undefined => (typeof (h as { get?: unknown }).get === "function" ? (h as { get(n: string): string | null }).get(n) : (h as Record<string, string | undefined>)[n] ?? (h as Record<string, string | undefined>)[n.toLowerCase()]);
    const w = get("x-mbx-used-weight-1m");
    if (w) this.observe("weight", 60_000, Number(w), now);
    const o10 = get("x-mbx-order-count-10s");
    if (o10) this.observe("orders", 10_000, Number(o10), now);
    const o1d = get("x-mbx-order-count-1d");
    if (o1d) this.observe("orders", 86_400_000, Number(o1d), now);
  }

  /** Binance WebSocket API `rateLimits` array of a response. */
  observeWsRateLimits(rl: ReadonlyArray<{ rateLimitType: string; interval: string; intervalNum: number; count: number }>, now = Date.now()): void {
    for (const r of rl) {
      const unit = r.interval === "SECOND" ? 1000 : r.interval === "MINUTE" ? 60_000 : r.interval === "HOUR" ? 3_600_000 : 86_400_000;
      this.observe(r.rateLimitType === "ORDERS" ? "orders" : "weight", unit * r.intervalNum, r.count, now);
    }
  }

  /** HTTP 429: nothing goes out before Retry-After (seconds; default 1 s when absent). */
  on429(retryAfterSeconds: number | undefined, now = Date.now()): void {
    this.counters.http429++;
    const ms = retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 1000;
    this.backoffUntil = Math.max(this.backoffUntil, now + ms);
  }

  /** HTTP 418: banned until `untilMs` (epoch ms; default 2 minutes, the venue's shortest ban). */
  on418(untilMs: number | undefined, now = Date.now()): void {
    this.counters.http418++;
    this.bannedUntil = Math.max(this.bannedUntil, untilMs !== undefined && untilMs > now ? untilMs : now + 120_000);
  }

  /** 429 on the WebSocket API: `retryAfter` is an epoch ms, not seconds. */
  on429Until(untilMs: number, now = Date.now()): void {
    this.counters.http429++;
    this.backoffUntil = Math.max(this.backoffUntil, untilMs > now ? untilMs : now + 1000);
  }
}

/** Requests that may be repeated without changing the venue's state twice. */
export function isIdempotent(method: string, kind: "place" | "cancel" | "query"): boolean {
  if (kind === "query") return true;
  // a cancel by client id cancels that order or says it is unknown/closed: repeating it is harmless
  if (kind === "cancel") return true;
  // a placement is never resent blindly: its fate is asked for by client order id
  return method === "GET";
}

export interface ErrorStormOptions {
  /** errors within windowMs that trip the breaker */
  threshold: number;
  windowMs: number;
  /** called once when it trips (the kill switch) */
  onErrorStorm?: (info: { venue: string; errors: number; windowMs: number; last: string }) => void;
}

/** Counts venue errors in a sliding window (a ring of timestamps); trips once at the threshold. */
export class ErrorStorm {
  tripped = false;
  private readonly at: Float64Array;
  private n = 0;
  private head = 0;

  constructor(readonly venue: string, private readonly o: ErrorStormOptions) {
    if (!(o.threshold >= 1)) throw new Error(`ErrorStorm: threshold must be >= 1 (got ${o.threshold})`);
    this.at = new Float64Array(o.threshold);
  }

  /** Records one error; true when this error tripped the breaker. */
  record(what: string, now = performance.now()): boolean {
    const cap = this.at.length;
    this.at[this.head] = now;
    this.head = (this.head + 1) % cap;
    if (this.n < cap) this.n++;
    if (this.tripped || this.n < cap) return false;
    const oldest = this.at[this.head]!; // ring full: head points at the oldest
    if (now - oldest > this.o.windowMs) return false;
    this.tripped = true;
    this.o.onErrorStorm?.({ venue: this.venue, errors: cap, windowMs: this.o.windowMs, last: what });
    return true;
  }

  reset(): void {
    this.tripped = false;
    this.n = 0;
    this.head = 0;
  }
}
