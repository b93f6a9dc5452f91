/**
 * KillSwitch: one shared word in the risk block that any thread can set. Guarantees:
 *  - once tripped, every PreTradeRisk.check() in every thread returns KILL_SWITCH (it reads the
 *    word first), until someone calls reset() explicitly: nothing resets it by itself;
 *  - the first trip wins (compare-and-swap); its reason, time and detail text are what stays;
 *  - cancel-all is emitted once per trip across all threads: each trip bumps an epoch, and the
 *    instance that moves the "emitted" word to that epoch (CAS) is the one that runs its handlers.
 *    A thread that trips it with no handlers leaves the emission to the owner's next poll().
 * KillMonitor evaluates the automatic triggers on the cold path (loss, drawdown, stale data, book
 * desync, venue error rate, latency spike, position mismatch with the venue).
 */
import { G_TRIP_NS, I_DETAIL_LEN, I_EMITTED_EPOCH, I_GEN, I_TRIP_EPOCH, I_TRIP_REASON, I_TRIPPED, type RiskLimits } from "./limits.ts";

export const KillReason = {
  NONE: 0,
  MANUAL: 1,
  SIGNAL: 2,
  LOSS_LIMIT: 3,
  DRAWDOWN: 4,
  STALE_DATA: 5,
  BOOK_DESYNC: 6,
  ERROR_RATE: 7,
  LATENCY_SPIKE: 8,
  POSITION_MISMATCH: 9,
} as const;
export const KILL_REASON_NAMES: readonly string[] = Object.keys(KillReason);

export type CancelAllHandler = (reason: number, detail: string, nowNs: number) => void;

const enc = new TextEncoder();
const dec = new TextDecoder();

export class KillSwitch {
  private readonly handlers: CancelAllHandler[] = [];
  readonly i32: Int32Array;

  constructor(readonly limits: RiskLimits) {
    this.i32 = limits.i32;
  }

  get tripped(): boolean {
    return Atomics.load(this.i32, I_TRIPPED) !== 0;
  }
  get reason(): number {
    return Atomics.load(this.i32, I_TRIP_REASON);
  }
  get reasonName(): string {
    return KILL_REASON_NAMES[this.reason] ?? `UNKNOWN_${this.reason}`;
  }
  /** when it tripped (the tripping caller's ns clock); NaN when not tripped */
  get trippedAtNs(): number {
    return this.tripped ? this.limits.f64[G_TRIP_NS]! : NaN;
  }
  /** the trip's detail text, readable from any thread */
  get detail(): string {
    const n = Atomics.load(this.i32, I_DETAIL_LEN);
    return n > 0 ? dec.decode(this.limits.detail.slice(0, n)) : "";
  }
  /** how many times it has tripped since the block was created */
  get epoch(): number {
    return Atomics.load(this.i32, I_TRIP_EPOCH);
  }

  /** cancel-all: runs once per trip, in the one instance that claims the trip (see poll) */
  onTrip(fn: CancelAllHandler): void {
    this.handlers.push(fn);
    this.poll();
  }

  /** Trips it; the first reason wins. Returns true when this call tripped it. */
  trip(reason: number, detail: string, nowNs: number = Date.now() * 1e6): boolean {
    if (!(reason > 0 && reason < KILL_REASON_NAMES.length)) throw new RangeError(`unknown kill reason ${reason}`);
    const i32 = this.i32;
    // word values: 0 free, 2 being tripped (details not written yet), 1 tripped
    if (Atomics.compareExchange(i32, I_TRIPPED, 0, 2) !== 0) return false;
    const w = enc.encodeInto(detail, this.limits.detail);
    Atomics.store(i32, I_DETAIL_LEN, w.written);
    this.limits.f64[G_TRIP_NS] = nowNs;
    Atomics.store(i32, I_TRIP_REASON, reason);
    Atomics.add(i32, I_TRIP_EPOCH, 1);
    Atomics.store(i32, I_TRIPPED, 1);
    Atomics.add(i32, I_GEN, 1); // checkers pick the trip up at their next check
    this.poll();
    return true;
  }

  /**
   * Emits cancel-all if the switch is tripped and no instance has emitted it for this trip yet.
   * The engine calls it from its maintenance loop so a trip from another thread is acted on.
   * Returns true when this call emitted.
   */
  poll(): boolean {
    if (this.handlers.length === 0 || Atomics.load(this.i32, I_TRIPPED) !== 1) return false;
    const epoch = Atomics.load(this.i32, I_TRIP_EPOCH);
    const seen = Atomics.load(this.i32, I_EMITTED_EPOCH);
    if (seen === epoch || Atomics.compareExchange(this.i32, I_EMITTED_EPOCH, seen, epoch) !== seen) return false;
    const reason = this.reason, detail = this.detail, at = this.limits.f64[G_TRIP_NS]!;
    for (const h of this.handlers) h(reason, detail, at);
    return true;
  }

  /** Explicit reset (operator action): new orders may pass again. */
  reset(): void {
    if (Atomics.load(this.i32, I_TRIPPED) === 2) throw new Error("kill switch is being tripped right now: reset refused");
    Atomics.store(this.i32, I_TRIP_REASON, 0);
    Atomics.store(this.i32, I_DETAIL_LEN, 0);
    Atomics.store(this.i32, I_TRIPPED, 0);
    Atomics.add(this.i32, I_GEN, 1);
  }

  /** `kill -USR2 <pid>` trips it (the CLI's kill command sends this). Returns the uninstaller. */
  installSignalTrip(signal: NodeJS.Signals = "SIGUSR2"): () => void {
    const h = (): void => {
      this.trip(KillReason.SIGNAL, `manual: ${signal} received`);
    };
    process.on(signal, h);
    return () => {
      process.off(signal, h);
    };
  }
}

/** Thresholds of the automatic triggers; 0 turns a trigger off. */
export interface KillTriggers {
  /** day PnL at or below -lossLimit (quote) */
  lossLimit: number;
  /** peak-to-now drop of the day's PnL at or above this (quote) */
  maxDrawdown: number;
  /** an instrument with open orders has had no market data for this long (ns) */
  staleDataNs: number;
  /** an instrument with open orders has been out of sync for this long (ns) */
  desyncNs: number;
  /** more than maxErrors venue errors (rejects, 5XX, timeouts) within errorWindowNs */
  maxErrors: number;
  errorWindowNs: number;
  /** p99 of the latency samples of the last latencyWindowNs above maxP99Ns, once at least latencyMinSamples are in the window */
  maxP99Ns: number;
  latencyWindowNs: number;
  latencyMinSamples: number;
  /** |tracked position - venue position| above this (base units) on any instrument */
  maxPositionMismatch: number;
}

export const DEFAULT_TRIGGERS: KillTriggers = {
  lossLimit: 0,
  maxDrawdown: 0,
  staleDataNs: 10e9,
  desyncNs: 5e9,
  maxErrors: 20,
  errorWindowNs: 10e9,
  maxP99Ns: 0,
  latencyWindowNs: 10e9,
  latencyMinSamples: 100,
  maxPositionMismatch: 0,
};

/** What the monitor reads of the market, per instrument (the same arrays PreTradeRisk reads). */
export interface MonitoredMarket {
  usable: Uint8Array;
  updatedNs: Float64Array;
}

/**
 * Evaluates the automatic triggers. Samples go into fixed rings (no allocation per sample);
 * `evaluate` runs a few times a second on the cold path.
 */
export class KillMonitor {
  readonly t: KillTriggers;
  private readonly errT: Float64Array;
  private errHead = 0;
  private errN = 0;
  private readonly latT: Float64Array;
  private readonly latOver: Uint8Array;
  private latHead = 0;
  private latN = 0;
  private latOverN = 0;
  private readonly desyncSince: Float64Array;

  constructor(
    readonly kill: KillSwitch,
    triggers: Partial<KillTriggers>,
    readonly instruments: number,
    ringSize = 4096,
  ) {
    this.t = { ...DEFAULT_TRIGGERS, ...triggers };
    for (const [k, v] of Object.entries(this.t)) if (!(typeof v === "number" && v >= 0 && Number.isFinite(v))) throw new RangeError(`kill trigger ${k} must be a finite number >= 0 (got ${v})`);
    this.errT = new Float64Array(Math.max(this.t.maxErrors + 1, 1));
    this.latT = new Float64Array(ringSize);
    this.latOver = new Uint8Array(ringSize);
    this.desyncSince = new Float64Array(Math.max(1, instruments)).fill(NaN);
  }

  /** A venue error (reject, 5XX, timeout, disconnect). Trips on more than maxErrors within the window. */
  error(nowNs: number): boolean {
    const t = this.t;
    if (!t.maxErrors) return false;
    const cap = this.errT.length;
    // drop errors older than the window, oldest first
    while (this.errN > 0 && nowNs - this.errT[(this.errHead - this.errN + cap) % cap]! > t.errorWindowNs) this.errN--;
    this.errT[this.errHead] = nowNs;
    this.errHead = (this.errHead + 1) % cap;
    if (this.errN < cap) this.errN++;
    if (this.errN > t.maxErrors) return this.kill.trip(KillReason.ERROR_RATE, `${this.errN} venue errors within ${t.errorWindowNs / 1e9} s (limit ${t.maxErrors})`, nowNs);
    return false;
  }

  /**
   * A latency sample (e.g. order ack round trip or tick-to-trade). p99 > threshold exactly when
   * more than 1 % of the window's samples are above it, so the ring counts those and trips then.
   */
  latency(ns: number, nowNs: number): boolean {
    const t = this.t;
    if (!t.maxP99Ns) return false;
    const cap = this.latT.length;
    while (this.latN > 0) {
      const o = (this.latHead - this.latN + cap) % cap;
      if (nowNs - this.latT[o]! <= t.latencyWindowNs && this.latN < cap) break;
      this.latOverN -= this.latOver[o]!;
      this.latN--;
    }
    const over = ns > t.maxP99Ns ? 1 : 0;
    this.latT[this.latHead] = nowNs;
    this.latOver[this.latHead] = over;
    this.latHead = (this.latHead + 1) % cap;
    this.latN++;
    this.latOverN += over;
    if (this.latN >= t.latencyMinSamples && this.latOverN * 100 > this.latN) {
      return this.kill.trip(KillReason.LATENCY_SPIKE, `latency p99 above ${t.maxP99Ns} ns: ${this.latOverN} of ${this.latN} samples in the last ${t.latencyWindowNs / 1e9} s`, nowNs);
    }
    return false;
  }

  /** Loss and drawdown against the shared PnL state (RiskLimits.publishPnl). */
  pnl(nowNs: number): boolean {
    const t = this.t, L = this.kill.limits;
    if (t.lossLimit && L.dayPnl <= -t.lossLimit) return this.kill.trip(KillReason.LOSS_LIMIT, `day PnL ${L.dayPnl.toFixed(2)} at or below -${t.lossLimit}`, nowNs);
    if (t.maxDrawdown && L.drawdown >= t.maxDrawdown) return this.kill.trip(KillReason.DRAWDOWN, `drawdown ${L.drawdown.toFixed(2)} at or above ${t.maxDrawdown}`, nowNs);
    return false;
  }

  /**
   * Market-data triggers: an instrument with open orders (openOrders[i] > 0) whose data has been
   * silent longer than staleDataNs, or whose book has been out of sync longer than desyncNs.
   */
  market(m: MonitoredMarket, openOrders: ArrayLike<number>, nowNs: number): boolean {
    const t = this.t;
    for (let i = 0; i < this.instruments; i++) {
      if (!(openOrders[i]! > 0)) {
        this.desyncSince[i] = NaN;
        continue;
      }
      const age = nowNs - m.updatedNs[i]!;
      if (t.staleDataNs && !(age <= t.staleDataNs)) return this.kill.trip(KillReason.STALE_DATA, `instrument ${i}: no market data for ${(age / 1e9).toFixed(3)} s with ${openOrders[i]} open orders`, nowNs);
      if (m.usable[i] === 1) {
        this.desyncSince[i] = NaN;
        continue;
      }
      if (this.desyncSince[i] !== this.desyncSince[i]) this.desyncSince[i] = nowNs;
      if (t.desyncNs && nowNs - this.desyncSince[i]! >= t.desyncNs) {
        return this.kill.trip(KillReason.BOOK_DESYNC, `instrument ${i}: book out of sync for ${((nowNs - this.desyncSince[i]!) / 1e9).toFixed(3)} s with open orders`, nowNs);
      }
    }
    return false;
  }

  /** Reconciliation: our tracked net positions against the venue's, per instrument. */
  positions(ours: ArrayLike<number>, venue: ArrayLike<number>, nowNs: number): boolean {
    const lim = this.t.maxPositionMismatch;
    if (!lim) return false;
    for (let i = 0; i < this.instruments; i++) {
      const d = Math.abs(ours[i]! - venue[i]!);
      if (!(d <= lim)) return this.kill.trip(KillReason.POSITION_MISMATCH, `instrument ${i}: tracked position ${ours[i]} vs venue ${venue[i]} (tolerance ${lim})`, nowNs);
    }
    return false;
  }

  /** Manual trip (CLI command, operator UI). */
  manual(detail: string, nowNs?: number): boolean {
    return this.kill.trip(KillReason.MANUAL, `manual: ${detail}`, nowNs);
  }
}
