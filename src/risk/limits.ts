/**
 * Risk limits and risk state shared by every thread: one SharedArrayBuffer that the engine, its
 * workers and the CLI attach to. What is guaranteed:
 *  - a limit set is published whole: writers take the sequence word from even to odd, write, and
 *    take it back to even (a seqlock); readers retry while it is odd or when it moved during their
 *    read, so nobody acts on half of an update (test/risk.test.ts checks it across two Workers);
 *  - every change a checker must act on (a new set, a kill-switch trip or reset) bumps one
 *    generation word after it is complete; a checker reads that word once per check and, when
 *    it moved, copies the limits into its own memory under the seqlock, so it always decides on
 *    one whole set;
 *  - reject counters: each checker owns a row (claimed by Atomics.add at construction) that only
 *    it writes, so counting costs a plain increment and no count is lost; readers sum the rows;
 *  - the kill-switch words (tripped, reason, epoch) are set by compare-and-swap (kill-switch.ts).
 * Layout: a 64-byte header of i32 words, then f64 slots (globals, per instrument, per venue,
 * shared PnL state), then 256 bytes of kill detail text, then COUNTER_ROWS rows of one u32
 * counter per reject reason.
 */
import { z } from "zod";

/** Reason codes of check(): 0 passes, anything else names the first rule the order broke. */
export const Reject = {
  OK: 0,
  KILL_SWITCH: 1,
  BAD_ORDER: 2,
  BOOK_DESYNC: 3,
  STALE_BOOK: 4,
  NO_REFERENCE_PRICE: 5,
  PRICE_COLLAR: 6,
  MAX_ORDER_AMOUNT: 7,
  MAX_ORDER_NOTIONAL: 8,
  MAX_POSITION: 9,
  MAX_GROSS_EXPOSURE: 10,
  THROTTLE: 11,
  DAILY_LOSS: 12,
  DRAWDOWN: 13,
  SELF_TRADE: 14,
  /** no consistent copy of the limits could be read (a writer held them too long, or died mid-update) */
  LIMITS_UNAVAILABLE: 15,
} as const;
export type RejectCode = (typeof Reject)[keyof typeof Reject];
/** name by code */
export const REJECT_NAMES: readonly string[] = Object.keys(Reject);
/** what each code means, for logs, the CLI and the strategy's lastReject text */
export const REJECT_TEXT: readonly string[] = [
  "accepted",
  "kill switch is tripped: no new orders until it is reset",
  "order is malformed (unknown instrument or venue, side not 0/1, amount or price not a positive finite number)",
  "the instrument's book is out of sync: nothing trades on it until it resyncs",
  "the instrument's book is stale (no update within the stale timeout)",
  "no reference price for the instrument yet",
  "price outside the collar around the reference price",
  "order amount above the instrument's maximum",
  "order notional above the instrument's maximum",
  "position after the order (open orders included) would exceed the instrument's maximum",
  "gross exposure after the order would exceed the total maximum",
  "message rate to the venue above its throttle",
  "daily loss limit reached",
  "drawdown limit reached",
  "would trade against our own resting order (self-trade prevention)",
  "the risk limits could not be read consistently (a limits update held them too long, or its thread died mid-update): refused, read again on the next order",
];
export const REJECT_COUNT = REJECT_NAMES.length;

const lim = (what: string) => z.number({ error: `${what} must be a number` }).finite(`${what} must be finite`).nonnegative(`${what} must be >= 0 (0 = no limit)`);
const InstrumentLimits = z.strictObject({
  maxOrderAmount: lim("maxOrderAmount").optional(),
  maxOrderNotional: lim("maxOrderNotional").optional(),
  maxPosition: lim("maxPosition").optional(),
  collarBps: lim("collarBps").optional(),
});
const VenueLimits = z.strictObject({ maxMsgsPerSec: lim("maxMsgsPerSec").optional(), msgBurst: lim("msgBurst").optional() });

/** Limits as configured. 0 means "no limit" for every max*, loss and rate field. */
export const RiskConfig = z.strictObject({
  /** per order, base units / quote */
  maxOrderAmount: lim("maxOrderAmount").default(0),
  maxOrderNotional: lim("maxOrderNotional").default(0),
  /** |net position| per instrument (all venues), counting open orders as if they filled */
  maxPosition: lim("maxPosition").default(0),
  /** sum over instruments of |net position| x mark, quote */
  maxGrossExposure: lim("maxGrossExposure").default(0),
  /** price collar around the reference price, basis points */
  collarBps: lim("collarBps").default(500),
  /** token bucket per venue: refill rate and bucket size (burst; 0 = one second's worth) */
  maxMsgsPerSec: lim("maxMsgsPerSec").default(0),
  msgBurst: lim("msgBurst").default(0),
  /** day PnL (realised + unrealised - fees) at or below -dailyLossLimit stops new orders */
  dailyLossLimit: lim("dailyLossLimit").default(0),
  /** peak-to-now PnL drop of the day at or above maxDrawdown stops new orders */
  maxDrawdown: lim("maxDrawdown").default(0),
  /** a book with no update for this long is stale */
  staleMs: lim("staleMs").default(5000),
  selfTradePrevention: z.boolean().default(true),
  /** overrides by instrument id ("0", "1", ...) */
  instruments: z.record(z.string().regex(/^\d+$/, "instrument keys are instrument ids"), InstrumentLimits).default({}),
  /** overrides by venue id */
  venues: z.record(z.string().regex(/^\d+$/, "venue keys are venue ids"), VenueLimits).default({}),
});
export type RiskConfig = z.infer<typeof RiskConfig>;
export type RiskConfigInput = z.input<typeof RiskConfig>;

// i32 header words
export const I_SEQ = 0;
export const I_TRIPPED = 1;
export const I_TRIP_REASON = 2;
export const I_TRIP_EPOCH = 3;
export const I_EMITTED_EPOCH = 4;
export const I_DETAIL_LEN = 5;
export const I_GEN = 6;
export const I_ROWS = 7;
const HEADER_BYTES = 64;
// global f64 slots
export const G_GROSS = 0;
export const G_LOSS = 1;
export const G_DD = 2;
export const G_STALE_NS = 3;
export const G_STP = 4;
export const G_TRIP_NS = 5;
export const G_DAY_PNL = 6;
export const G_PEAK_PNL = 7;
const GLOBALS = 8;
/** per instrument: max order amount, max notional, max position, collar (fraction) */
export const PER_INST = 4;
/** per venue: rate (msgs/ns), burst */
export const PER_VENUE = 2;
const DETAIL_BYTES = 256;
/** at most this many PreTradeRisk instances (threads) per block, each with its own counter row */
export const COUNTER_ROWS = 32;
/** seqlock retries before a reader or writer gives up (a writer takes well under a microsecond) */
const SPIN_LIMIT = 1 << 20;

export class RiskLimits {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** reject counters: COUNTER_ROWS rows of REJECT_COUNT u32, one row per checker */
  readonly counters: Uint32Array;
  readonly detail: Uint8Array;
  /** first f64 slot of the instrument / venue blocks */
  readonly instBase = GLOBALS;
  readonly venueBase: number;
  /** a private copy of the last published set (what snapshot() returns) */
  private config: RiskConfig | undefined;

  private constructor(
    readonly shared: SharedArrayBuffer,
    readonly instruments: number,
    readonly venues: number,
  ) {
    const nf = GLOBALS + instruments * PER_INST + venues * PER_VENUE;
    this.i32 = new Int32Array(shared, 0, HEADER_BYTES / 4);
    this.f64 = new Float64Array(shared, HEADER_BYTES, nf);
    this.venueBase = GLOBALS + instruments * PER_INST;
    const cOff = HEADER_BYTES + nf * 8;
    this.detail = new Uint8Array(shared, cOff, DETAIL_BYTES);
    this.counters = new Uint32Array(shared, cOff + DETAIL_BYTES, COUNTER_ROWS * REJECT_COUNT);
  }

  static bytes(instruments: number, venues: number): number {
    const raw = HEADER_BYTES + (GLOBALS + instruments * PER_INST + venues * PER_VENUE) * 8 + DETAIL_BYTES + COUNTER_ROWS * REJECT_COUNT * 4;
    return (raw + 63) & ~63;
  }

  /** A new shared block holding `cfg` (validated; a bad config throws a zod error naming the field). */
  static create(instruments: number, cfg: RiskConfigInput = {}, venues = 1): RiskLimits {
    if (!(Number.isInteger(instruments) && instruments >= 1 && Number.isInteger(venues) && venues >= 1)) {
      throw new RangeError(`RiskLimits needs at least one instrument and one venue (got ${instruments}, ${venues})`);
    }
    const l = new RiskLimits(new SharedArrayBuffer(RiskLimits.bytes(instruments, venues)), instruments, venues);
    l.set(cfg);
    return l;
  }

  /** The same block seen from another thread (send `shared`, `instruments` and `venues` by postMessage). */
  static attach(shared: SharedArrayBuffer, instruments: number, venues = 1): RiskLimits {
    if (shared.byteLength < RiskLimits.bytes(instruments, venues)) {
      throw new RangeError(`risk block of ${shared.byteLength} bytes is too small for ${instruments} instruments and ${venues} venues`);
    }
    return new RiskLimits(shared, instruments, venues);
  }

  /** Validates and publishes a whole new set; every reader sees the old set or the new one, never a mix. */
  set(input: RiskConfigInput): void {
    const c = RiskConfig.parse(input);
    for (const k of Object.keys(c.instruments)) if (Number(k) >= this.instruments) throw new RangeError(`risk config names instrument ${k}, but there are ${this.instruments}`);
    for (const k of Object.keys(c.venues)) if (Number(k) >= this.venues) throw new RangeError(`risk config names venue ${k}, but there are ${this.venues}`);
    const f = this.f64;
    const seq = this.lock();
    f[G_GROSS] = c.maxGrossExposure || Infinity;
    f[G_LOSS] = c.dailyLossLimit || Infinity;
    f[G_DD] = c.maxDrawdown || Infinity;
    f[G_STALE_NS] = c.staleMs ? c.staleMs * 1e6 : Infinity;
    f[G_STP] = c.selfTradePrevention ? 1 : 0;
    for (let i = 0; i < this.instruments; i++) {
      const o = c.instruments[String(i)] ?? {};
      const b = this.instBase + i * PER_INST;
      f[b] = (o.maxOrderAmount ?? c.maxOrderAmount) || Infinity;
      f[b + 1] = (o.maxOrderNotional ?? c.maxOrderNotional) || Infinity;
      f[b + 2] = (o.maxPosition ?? c.maxPosition) || Infinity;
      // 0 bps is a real collar here (only the reference price itself passes)
      f[b + 3] = (o.collarBps ?? c.collarBps) / 1e4;
    }
    for (let v = 0; v < this.venues; v++) {
      const o = c.venues[String(v)] ?? {};
      const rate = o.maxMsgsPerSec ?? c.maxMsgsPerSec;
      const burst = (o.msgBurst ?? c.msgBurst) || rate;
      const b = this.venueBase + v * PER_VENUE;
      f[b] = rate ? rate / 1e9 : Infinity;
      f[b + 1] = rate ? Math.max(1, burst) : Infinity;
    }
    this.config = c;
    Atomics.store(this.i32, I_SEQ, seq + 2);
    Atomics.add(this.i32, I_GEN, 1);
  }

  /** the generation word: moves after every published set, trip and reset */
  get generation(): number {
    return Atomics.load(this.i32, I_GEN);
  }

  /** a counter row of its own for a new checker (throws when all COUNTER_ROWS are taken) */
  claimCounterRow(): Uint32Array {
    const row = Atomics.add(this.i32, I_ROWS, 1);
    if (row >= COUNTER_ROWS) throw new RangeError(`more than ${COUNTER_ROWS} risk checkers on one limits block`);
    return this.counters.subarray(row * REJECT_COUNT, (row + 1) * REJECT_COUNT);
  }

  /** rejects counted under `code`, all checkers together */
  count(code: number): number {
    let n = 0;
    for (let r = 0; r < COUNTER_ROWS; r++) n += Atomics.load(this.counters, r * REJECT_COUNT + code);
    return n;
  }

  /** the limit slots (f64 index 0 ..) a checker copies */
  get limitSlots(): number {
    return GLOBALS + this.instruments * PER_INST + this.venues * PER_VENUE;
  }

  /**
   * seqlock write side: waits for any other writer, leaves the word odd; returns the even value
   * it found. A writer that died mid-update (the word stays odd) makes this throw, not hang.
   */
  private lock(): number {
    for (let n = 0; n < SPIN_LIMIT; n++) {
      const s = Atomics.load(this.i32, I_SEQ);
      if ((s & 1) === 0 && Atomics.compareExchange(this.i32, I_SEQ, s, s + 1) === s) return s;
    }
    throw new Error("risk limits are locked by a writer that never finished (its thread died mid-update?): restart with a fresh block");
  }

  /** the sequence word: even when no write is in progress; changes with every published set */
  get seq(): number {
    return Atomics.load(this.i32, I_SEQ);
  }

  /**
   * Copies the limits into `out` (length >= f64.length) as one consistent set and returns the
   * sequence number it belongs to, or -1 when no consistent copy could be taken (a writer
   * died mid-update): the caller must then treat the limits as unknown.
   */
  snapshotInto(out: Float64Array): number {
    const n = GLOBALS + this.instruments * PER_INST + this.venues * PER_VENUE;
    for (let k = 0; k < SPIN_LIMIT; k++) {
      const s = Atomics.load(this.i32, I_SEQ);
      if (s & 1) continue;
      for (let i = 0; i < n; i++) out[i] = this.f64[i]!;
      if (Atomics.load(this.i32, I_SEQ) === s) return s;
    }
    return -1;
  }

  /** per-instrument limit k (0 order amount, 1 order notional, 2 position, 3 collar fraction); Infinity = none */
  inst(i: number, k: number): number {
    return this.f64[this.instBase + i * PER_INST + k]!;
  }
  /** per-venue throttle: k 0 = rate in messages per ns, 1 = bucket size */
  venue(v: number, k: number): number {
    return this.f64[this.venueBase + v * PER_VENUE + k]!;
  }

  /** The config last published from this thread (undefined in a thread that only attached). */
  get current(): RiskConfig | undefined {
    return this.config;
  }

  /**
   * Shared PnL state for the loss and drawdown rules: the owner of positions publishes the day's
   * PnL after fills and marks; the peak follows it. Single writer (the thread that owns positions).
   */
  publishPnl(dayPnl: number): void {
    const f = this.f64;
    f[G_DAY_PNL] = dayPnl;
    if (dayPnl > f[G_PEAK_PNL]!) f[G_PEAK_PNL] = dayPnl;
  }
  /** a new trading day: loss and drawdown count from zero again */
  resetDay(): void {
    this.f64[G_DAY_PNL] = 0;
    this.f64[G_PEAK_PNL] = 0;
  }
  get dayPnl(): number {
    return this.f64[G_DAY_PNL]!;
  }
  get drawdown(): number {
    return this.f64[G_PEAK_PNL]! - this.f64[G_DAY_PNL]!;
  }

  /** counts per reason name, non-zero ones only (cold path) */
  rejectCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 1; i < REJECT_COUNT; i++) {
      const n = this.count(i);
      if (n > 0) out[REJECT_NAMES[i]!] = n;
    }
    return out;
  }
}
