/**
 * TickBuffer: an append-only, growable array of 64-byte tick records (c/tick.h layout) for the
 * cold path — importers, capture normalisers, simulators and tests build records here, then hand
 * the flat bytes to a tick file, a ring or a replay tape. Records are written in place through
 * typed views; there is no object per record. The hot path writes into ring slots instead.
 */
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "./tick.ts";

const TWO32 = 4294967296;

export interface TickFields {
  kind: number;
  flags?: number;
  venue: number;
  instrument: number;
  /**
   * Timestamps in ns since the Unix epoch. Today's epoch ns (~1.7e18) exceed 2^53, so a number
   * loses up to ~256 ns: pass a bigint (e.g. `BigInt(ms) * 1_000_000n`) for exact values.
   */
  tsExchangeNs: number | bigint;
  tsRecvNs: number | bigint;
  price: number;
  size: number;
  price2?: number;
  size2?: number;
  seq?: number | bigint;
}

export class TickBuffer {
  private buf: ArrayBuffer;
  f64: Float64Array;
  u32: Uint32Array;
  u16: Uint16Array;
  u8: Uint8Array;
  u64: BigUint64Array;
  count = 0;

  constructor(initialRecords = 1024) {
    this.buf = new ArrayBuffer(Math.max(1, initialRecords) * TICK_BYTES);
    this.f64 = new Float64Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.u16 = new Uint16Array(this.buf);
    this.u8 = new Uint8Array(this.buf);
    this.u64 = new BigUint64Array(this.buf);
  }

  get capacity(): number {
    return this.buf.byteLength / TICK_BYTES;
  }

  private grow(): void {
    const next = new ArrayBuffer(this.buf.byteLength * 2);
    new Uint8Array(next).set(this.u8);
    this.buf = next;
    this.f64 = new Float64Array(next);
    this.u32 = new Uint32Array(next);
    this.u16 = new Uint16Array(next);
    this.u8 = new Uint8Array(next);
    this.u64 = new BigUint64Array(next);
  }

  /** Appends one zeroed record and returns its index; fill it through the views. */
  alloc(): number {
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    this.u8.fill(0, i * TICK_BYTES, (i + 1) * TICK_BYTES);
    return i;
  }

  /** Appends one record from named fields (cold path convenience). Returns its index. */
  push(t: TickFields): number {
    // every byte of the record is written below, so no zero-fill first
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    const f = i * TICK_F64, w = i * TICK_U32, b = i * TICK_BYTES;
    setU64(this, f + 0, w + 0, t.tsExchangeNs);
    setU64(this, f + 1, w + 2, t.tsRecvNs);
    this.f64[f + T.PRICE_F64] = t.price;
    this.f64[f + T.SIZE_F64] = t.size;
    this.f64[f + T.PRICE2_F64] = t.price2 ?? 0;
    this.f64[f + T.SIZE2_F64] = t.size2 ?? 0;
    setU64(this, f + 6, w + T.SEQ_U32, t.seq ?? 0);
    this.u32[w + T.INSTRUMENT_U32] = t.instrument;
    this.u16[i * (TICK_BYTES / 2) + T.VENUE_U16] = t.venue;
    this.u8[b + T.KIND_U8] = t.kind;
    this.u8[b + T.FLAGS_U8] = t.flags ?? 0;
    return i;
  }

  /** Marks record i as the last of its venue message. */
  markLast(i: number): void {
    this.u8[i * TICK_BYTES + T.FLAGS_U8]! |= TickFlag.last;
  }

  kind(i: number): number {
    return this.u8[i * TICK_BYTES + T.KIND_U8]!;
  }

  /** The records written so far, as bytes (a view, not a copy). */
  bytes(): Uint8Array {
    return this.u8.subarray(0, this.count * TICK_BYTES);
  }

  clear(): void {
    this.count = 0;
  }
}

function setU64(t: TickBuffer, f64Index: number, u32Index: number, v: number | bigint): void {
  if (typeof v === "bigint") {
    t.u64[f64Index] = v;
    return;
  }
  t.u32[u32Index] = v >>> 0;
  t.u32[u32Index + 1] = (v / TWO32) >>> 0;
}

export { TickFlag, TickKind };
