/**
 * The trading status block: what the engine thread publishes about its trading for the status
 * line, the metrics endpoint and the final report, read by the orchestrator without locks. One
 * SharedArrayBuffer of doubles with a single writer (the engine, on its cold path a few times a
 * second, never per tick); readers may see a block half-updated between two fields, which a
 * status line and a metrics scrape tolerate (each field is itself a whole double).
 */

/** Global slots. */
export const S = {
  PUBLISHED: 0, // engine clock (ns) of the last publish; 0 = not trading yet
  PNL: 1, // realised + unrealised, fees included (quote)
  ORDERS: 2, // orders sent to gateways
  FILLS: 3,
  OPEN: 4, // orders not yet terminal
  RISK_REJECTS: 5,
  VENUE_REJECTS: 6,
  FEES: 7,
  TURNOVER: 8,
  KILL: 9, // 1 = kill switch tripped
  STRATEGY_ERROR: 10, // 1 = the strategy threw and was stopped
  TTD_P99_WINDOW: 11, // tick-to-decision P99 over the last window (ns; 0 = no decision in it)
  DECISIONS: 12, // orders decided since start (tick-to-decision samples)
  // per-stage latency summaries: STAGES x [count, p50, p90, p99, p999, sum]
  STAGE_BASE: 16,
} as const;

export const STAGES = ["tickToDecision", "batch", "strategy", "risk", "submit", "venueSim"] as const;
export type Stage = (typeof STAGES)[number];
export const STAGE_FIELDS = ["count", "p50", "p90", "p99", "p999", "sum"] as const;
const INST_BASE = S.STAGE_BASE + STAGES.length * STAGE_FIELDS.length;

/** Per-instrument slots, INST_FIELDS.length apart from INST_BASE. */
export const INST_FIELDS = ["position", "avgPrice", "realised", "unrealised", "mark", "usable", "open", "fills"] as const;
export type InstField = (typeof INST_FIELDS)[number];

export class TradingStatus {
  readonly f64: Float64Array;
  constructor(
    readonly sab: SharedArrayBuffer,
    readonly instruments: number,
  ) {
    this.f64 = new Float64Array(sab);
    if (this.f64.length < TradingStatus.slots(instruments)) throw new RangeError(`trading status block too small for ${instruments} instruments`);
  }
  static slots(instruments: number): number {
    return INST_BASE + instruments * INST_FIELDS.length;
  }
  static create(instruments: number): TradingStatus {
    return new TradingStatus(new SharedArrayBuffer(TradingStatus.slots(instruments) * 8), instruments);
  }
  get(slot: number): number {
    return this.f64[slot]!;
  }
  set(slot: number, v: number): void {
    this.f64[slot] = v;
  }
  inst(i: number, field: InstField): number {
    return this.f64[INST_BASE + i * INST_FIELDS.length + INST_FIELDS.indexOf(field)]!;
  }
  setInst(i: number, field: number, v: number): void {
    this.f64[INST_BASE + i * INST_FIELDS.length + field] = v;
  }
  stage(s: Stage): { count: number; p50: number; p90: number; p99: number; p999: number; mean: number } {
    const b = S.STAGE_BASE + STAGES.indexOf(s) * STAGE_FIELDS.length;
    const f = this.f64;
    const count = f[b]!;
    return { count, p50: f[b + 1]!, p90: f[b + 2]!, p99: f[b + 3]!, p999: f[b + 4]!, mean: count > 0 ? f[b + 5]! / count : 0 };
  }
  setStage(k: number, count: number, p50: number, p90: number, p99: number, p999: number, sum: number): void {
    const b = S.STAGE_BASE + k * STAGE_FIELDS.length;
    const f = this.f64;
    f[b] = count;
    f[b + 1] = p50;
    f[b + 2] = p90;
    f[b + 3] = p99;
    f[b + 4] = p999;
    f[b + 5] = sum;
  }
}
