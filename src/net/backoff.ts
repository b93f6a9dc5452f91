/**
 * Connection supervision primitives shared by the network clients.
 *
 * FullJitterBackoff — reconnect delays that grow exponentially and are spread uniformly over
 * [0, min(cap, base * 2^attempt)) ("full jitter"), so a fleet of clients dropped together by a
 * venue does not come back in lock step. A connection that stayed up for `stableMs` or longer
 * resets the exponent: the next failure starts again from `base`.
 *
 * Timers — the clock and one-shot timers a client runs on. `systemTimers` is the real thing;
 * tests pass a manual implementation so stalls and backoff can be driven without waiting.
 */

/** Milliseconds clock plus one-shot timers. Handles are opaque to the caller. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface BackoffOptions {
  /** ceiling of the first delay, ms (default 250) */
  baseMs?: number;
  /** largest ceiling, ms (default 30 000) */
  capMs?: number;
  /** a connection up this long resets the exponent, ms (default 60 000) */
  stableMs?: number;
  /** uniform [0, 1) source (tests make it deterministic) */
  random?: () => number;
}

export class FullJitterBackoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly stableMs: number;
  private readonly random: () => number;
  /** failures since the last stable connection */
  private attempts = 0;
  private upSince = -1;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? 250;
    this.capMs = o.capMs ?? 30_000;
    this.stableMs = o.stableMs ?? 60_000;
    this.random = o.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs) || !(this.stableMs >= 0)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs and stableMs >= 0 (got ${this.baseMs}, ${this.capMs}, ${this.stableMs})`);
    }
  }

  /** Failures counted toward the exponent. */
  get attempt(): number {
    return this.attempts;
  }

  /** Upper bound of the next delay. */
  ceiling(): number {
    // 2^attempts overflows to Infinity long after it passed any sane cap; min() keeps it finite
    return Math.min(this.capMs, this.baseMs * 2 ** this.attempts);
  }

  /** Delay before the next attempt, uniform in [0, ceiling); counts one more failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempts++;
    return delay;
  }

  /** The connection is up (handshake done) at `now`. */
  up(now: number): void {
    this.upSince = now;
  }

  /** The connection went down at `now`; a stable one resets the exponent. */
  down(now: number): void {
    if (this.upSince >= 0 && now - this.upSince >= this.stableMs) this.attempts = 0;
    this.upSince = -1;
  }

  reset(): void {
    this.attempts = 0;
    this.upSince = -1;
  }
}
