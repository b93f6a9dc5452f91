/**
 * Fault injection for the venue simulator: what can go wrong between a venue and a client,
 * applied to the data frames one connection receives, deterministic under a seed.
 *
 * A `FaultPlan` names the faults; `FaultInjector` applies one plan to one connection. Every
 * decision is a function of (plan, seed, connection number, the order of the frames offered to
 * that connection): "every Nth" rules count the frames the plan matches, probability rules draw
 * from a seeded PRNG (mulberry32) that only the injector uses. So the same replay with the same
 * plan injects the same faults, and a test can compare what a client detected with what the
 * counters say was injected:
 *  - drop        the frame never leaves (the client sees a sequence gap)
 *  - corrupt     truncate (always malformed JSON: an object cut short) or flip (one structural
 *                character of the JSON — { } [ ] " : , — replaced by '#': always malformed)
 *  - duplicate   the frame goes out twice
 *  - reorder     the frame is held and goes out right after the next frame the rule matches
 *                (two frames of one stream swap places; other streams pass meanwhile)
 *  - error       a venue error frame goes out after the frame
 *  - delay       latency (ms + jitter) before a frame goes out; order is kept
 *  - disconnect  after N frames or t ms: close handshake, or an abrupt TCP close
 *  - stall       after N frames or t ms nothing more is sent (pings neither), the TCP connection
 *                stays open: only a client's silence watchdog notices
 * Faults apply to data frames only (not to replies to requests, nor to pings), and only to
 * frames of the streams named in the plan's `streams` and the rule's own `streams` when given.
 * A frame that is dropped is not also corrupted, doubled or held; a held frame is not doubled.
 * Everything injected is counted.
 */

/**
 * "every Nth frame this rule matches" and/or "with probability p" (either may be left out);
 * `streams` narrows the rule to frames whose stream name contains one of the strings.
 */
export interface FaultRate {
  every?: number;
  p?: number;
  streams?: string[];
}

export interface FaultPlan {
  /** PRNG seed (default 1); mixed with the connection number */
  seed?: number;
  /** apply to frames whose stream name contains one of these (default: every stream) */
  streams?: string[];
  drop?: FaultRate;
  corrupt?: FaultRate & { mode?: "truncate" | "flip" };
  duplicate?: FaultRate;
  reorder?: FaultRate;
  error?: FaultRate;
  delay?: { ms: number; jitterMs?: number };
  /** after this many data frames offered to the connection, or this long after it opened */
  disconnect?: { afterFrames?: number; afterMs?: number; code?: number; abrupt?: boolean };
  stall?: { afterFrames?: number; afterMs?: number };
}

export interface FaultCounters {
  /** data frames offered to the connection */
  frames: number;
  /** frames the plan's `streams` matched */
  matched: number;
  dropped: number;
  corrupted: number;
  duplicated: number;
  reordered: number;
  errorFrames: number;
  delayed: number;
  disconnects: number;
  stalls: number;
  /** frames discarded because the connection was stalled */
  stalledFrames: number;
}

export const emptyFaultCounters = (): FaultCounters => ({
  frames: 0, matched: 0, dropped: 0, corrupted: 0, duplicated: 0, reordered: 0, errorFrames: 0, delayed: 0, disconnects: 0, stalls: 0, stalledFrames: 0,
});

export function addFaultCounters(into: FaultCounters, c: FaultCounters): FaultCounters {
  for (const k of Object.keys(into) as Array<keyof FaultCounters>) into[k] += c[k];
  return into;
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; enough for fault schedules. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkRate(name: string, r: FaultRate | undefined): void {
  if (!r) return;
  if (r.every !== undefined && !(Number.isInteger(r.every) && r.every >= 1)) throw new RangeError(`fault ${name}.every must be an integer >= 1, got ${r.every}`);
  if (r.p !== undefined && !(r.p >= 0 && r.p <= 1)) throw new RangeError(`fault ${name}.p must be in [0, 1], got ${r.p}`);
}

export function validateFaultPlan(p: FaultPlan): FaultPlan {
  checkRate("drop", p.drop);
  checkRate("corrupt", p.corrupt);
  checkRate("duplicate", p.duplicate);
  checkRate("reorder", p.reorder);
  checkRate("error", p.error);
  if (p.delay && !(p.delay.ms >= 0 && (p.delay.jitterMs ?? 0) >= 0)) throw new RangeError("fault delay.ms and delay.jitterMs must be >= 0");
  return p;
}

function matches(filter: string[] | undefined, stream: string): boolean {
  if (!filter) return true;
  for (let i = 0; i < filter.length; i++) if (stream.includes(filter[i]!)) return true;
  return false;
}

const STRUCTURAL = new Set([0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x3a, 0x2c]); // { } [ ] " : ,

/** What the connection must do after a frame was fed. */
export const FaultAction = { none: 0, disconnect: 1, stall: 2 } as const;
export type FaultAction = (typeof FaultAction)[keyof typeof FaultAction];

export class FaultInjector {
  readonly counters = emptyFaultCounters();
  stalled = false;
  private readonly rng: () => number;
  private held: string | undefined;
  readonly plan: FaultPlan;

  constructor(plan: FaultPlan | undefined, connNumber: number, private readonly errorFrame: () => string) {
    this.plan = validateFaultPlan(plan ?? {});
    this.rng = mulberry32(((this.plan.seed ?? 1) ^ Math.imul(connNumber + 1, 0x9e3779b1)) >>> 0);
  }

  get hasDelay(): boolean {
    return this.plan.delay !== undefined;
  }

  /** Latency for the next frame that goes out (0 without a delay rule). */
  delayMs(): number {
    const d = this.plan.delay;
    if (!d) return 0;
    this.counters.delayed++;
    return d.ms + (d.jitterMs ? this.rng() * d.jitterMs : 0);
  }

  /** frames each rule matched so far (for "every Nth") */
  private readonly seen = new Map<FaultRate, number>();

  /** Whether rule `r` fires on this frame; every rule that matches the frame counts it. */
  private hit(r: FaultRate | undefined, stream: string): boolean {
    if (!r || !matches(r.streams, stream)) return false;
    const k = (this.seen.get(r) ?? 0) + 1;
    this.seen.set(r, k);
    if (r.every !== undefined && k % r.every === 0) return true;
    return r.p !== undefined && r.p > 0 && this.rng() < r.p;
  }

  /**
   * Feeds one data frame of `stream`; whatever goes on the wire is passed to `emit` (zero, one
   * or more frames). Returns what the connection must do next.
   */
  feed(stream: string, frame: string, emit: (s: string) => void): FaultAction {
    const c = this.counters, p = this.plan;
    if (this.stalled) {
      c.stalledFrames++;
      return FaultAction.none;
    }
    c.frames++;
    let out: string | undefined = frame;
    let dup = false, hold = false, err = false, release = false;
    if (matches(p.streams, stream)) {
      c.matched++;
      // every rule sees every frame it matches, so "every Nth" counts do not depend on the others
      const drop = this.hit(p.drop, stream);
      const corrupt = this.hit(p.corrupt, stream);
      const reorder = this.hit(p.reorder, stream);
      const duplicate = this.hit(p.duplicate, stream);
      err = this.hit(p.error, stream);
      release = this.held !== undefined && matches(p.reorder?.streams, stream);
      if (drop) {
        c.dropped++;
        out = undefined;
      } else {
        if (corrupt) {
          c.corrupted++;
          out = this.corrupt(frame, p.corrupt!.mode ?? "truncate");
        }
        if (reorder && this.held === undefined) {
          c.reordered++;
          hold = true;
        } else if (duplicate) {
          c.duplicated++;
          dup = true;
        }
      }
    }
    if (out !== undefined) {
      if (hold) this.held = out;
      else {
        emit(out);
        if (dup) emit(out);
        if (release) {
          emit(this.held!);
          this.held = undefined;
        }
      }
    }
    if (err) {
      c.errorFrames++;
      emit(this.errorFrame());
    }
    const d = p.disconnect;
    if (d?.afterFrames !== undefined && c.frames >= d.afterFrames) {
      c.disconnects++;
      return FaultAction.disconnect;
    }
    const st = p.stall;
    if (st?.afterFrames !== undefined && c.frames >= st.afterFrames) {
      this.stallNow();
      return FaultAction.stall;
    }
    return FaultAction.none;
  }

  /** A frame held for reordering goes out now (the stream ended or the connection closes). */
  flush(emit: (s: string) => void): void {
    if (this.held !== undefined && !this.stalled) emit(this.held);
    this.held = undefined;
  }

  stallNow(): void {
    if (this.stalled) return;
    this.stalled = true;
    this.counters.stalls++;
  }

  /** A time-based disconnect fired (the server owns the timer). */
  countDisconnect(): void {
    this.counters.disconnects++;
  }

  private corrupt(frame: string, mode: "truncate" | "flip"): string {
    if (frame.length < 2) return "#";
    if (mode === "truncate") return frame.slice(0, 1 + Math.floor(this.rng() * (frame.length - 1)));
    // flip: pick the k-th structural character outside strings, k uniform over those present
    const at: number[] = [];
    let inStr = false;
    for (let i = 0; i < frame.length; i++) {
      const ch = frame.charCodeAt(i);
      if (inStr) {
        if (ch === 0x5c) i++; // backslash: skip the escaped character
        else if (ch === 0x22) {
          inStr = false;
          at.push(i);
        }
      } else if (STRUCTURAL.has(ch)) {
        if (ch === 0x22) inStr = true;
        at.push(i);
      }
    }
    if (at.length === 0) return frame.slice(0, frame.length - 1);
    const i = at[Math.floor(this.rng() * at.length)]!;
    return `${frame.slice(0, i)}#${frame.slice(i + 1)}`;
  }
}
