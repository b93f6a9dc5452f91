/**
 * Per-instrument state (c/state.h) with typed views over it, so strategies read last price,
 * volume and VWAP in place: `vwap(i)` is one Float64Array load, no FFI call.
 */
import { K } from "./lib.ts";
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { STATE_GROUP, StateLayout } from "./sym/state.ts";

const ROW = StateLayout.rows;
const GROUP_F64 = StateLayout.groupBytes / 8;
const HEADER_F64 = StateLayout.headerBytes / 8;

export class InstrumentState {
  readonly capacity: number;
  readonly groups: number;
  readonly ptr: number;
  private readonly mem: AlignedBuffer;
  private readonly f64: Float64Array;
  private readonly u64: BigUint64Array;
  private readonly apply_ = K.bot4_state_apply;

  constructor(instruments: number) {
    if (!Number.isInteger(instruments) || instruments < 1) throw new RangeError(`instrument count must be a positive integer, got ${instruments}`);
    const bytes = Number(K.bot4_state_bytes(instruments));
    this.mem = alignedBuffer(bytes);
    this.ptr = this.mem.ptr;
    this.groups = K.bot4_state_init(this.ptr, instruments);
    if (this.groups < 0) throw new Error("bot4_state_init refused the buffer (not 64-byte aligned)");
    this.capacity = this.groups * STATE_GROUP;
    this.f64 = new Float64Array(this.mem.buffer, this.mem.byteOffset, bytes / 8);
    this.u64 = new BigUint64Array(this.mem.buffer, this.mem.byteOffset, HEADER_F64);
  }

  /**
   * Applies `n` tick records in place: slots `start .. start+n-1` (masked) of the record array at
   * `recordsPtr` (a ring's record area with mask = capacity-1, or a flat array with 0xffffffff).
   * One FFI call per batch. Returns the number of trades applied.
   */
  apply(recordsPtr: number, mask: number, start: number, n: number): number {
    return this.apply_(this.ptr, recordsPtr, mask, start, n);
  }

  private at(i: number, row: number): number {
    return this.f64[HEADER_F64 + (i >>> 3) * GROUP_F64 + row / 8 + (i & 7)]!;
  }
  last(i: number): number { return this.at(i, ROW.last); }
  volume(i: number): number { return this.at(i, ROW.volume); }
  notional(i: number): number { return this.at(i, ROW.notional); }
  vwap(i: number): number { return this.at(i, ROW.vwap); }
  high(i: number): number { return this.at(i, ROW.high); }
  low(i: number): number { return this.at(i, ROW.low); }
  trades(i: number): number { return this.at(i, ROW.trades); }
  lastTsNs(i: number): number { return this.at(i, ROW.lastTs); }

  /** Counters kept by C: trade ticks applied, other ticks skipped, out-of-range ids rejected. */
  counters(): { applied: number; skipped: number; rejected: number } {
    return {
      applied: Number(this.u64[StateLayout.applied / 8]),
      skipped: Number(this.u64[StateLayout.skipped / 8]),
      rejected: Number(this.u64[StateLayout.rejected / 8]),
    };
  }

  /** Pointer to group g (for the 8-wide kernel). */
  groupPtr(g: number): number {
    return this.ptr + StateLayout.group + g * StateLayout.groupBytes;
  }
}
