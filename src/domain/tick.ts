/**
 * The 64-byte tick record, mirrored from c/tick.h. Offsets are in bytes; the `*_F64`/`*_U32`
 * indices address the record through Float64Array / Uint32Array views whose element 0 is the
 * record's first byte, so a record at slot i is read as `f64[i * TICK_F64 + TICK.PRICE_F64]`
 * with no object per record. ffi/layout.ts checks every offset against the C compiler's at start-up.
 */
export const TICK_BYTES = 64;
export const TICK_F64 = TICK_BYTES / 8; // f64 (and u64) slots per record
export const TICK_U32 = TICK_BYTES / 4;

export const TickOffset = {
  tsExchangeNs: 0,
  tsRecvNs: 8,
  price: 16,
  size: 24,
  price2: 32,
  size2: 40,
  seq: 48,
  instrument: 56,
  venue: 60,
  kind: 62,
  flags: 63,
} as const;

/** Element indices inside one record for each typed view. */
export const T = {
  TS_EXCHANGE_U32: TickOffset.tsExchangeNs / 4, // lo word; hi word at +1
  TS_RECV_U32: TickOffset.tsRecvNs / 4,
  PRICE_F64: TickOffset.price / 8,
  SIZE_F64: TickOffset.size / 8,
  PRICE2_F64: TickOffset.price2 / 8,
  SIZE2_F64: TickOffset.size2 / 8,
  SEQ_U32: TickOffset.seq / 4,
  INSTRUMENT_U32: TickOffset.instrument / 4,
  VENUE_U16: TickOffset.venue / 2,
  KIND_U8: TickOffset.kind,
  FLAGS_U8: TickOffset.flags,
} as const;

export const TickKind = { trade: 1, quote: 2, level: 3, status: 4 } as const;
/** STATUS record codes (price field), c/tick.h enum bot4_status. */
export const TickStatus = { disconnected: 1, stalled: 2 } as const;
export const TickFlag = { sell: 1, ask: 2, snapshot: 4, last: 8, nolevel: 16 } as const;

const TWO32 = 4294967296;
/** Writes a non-negative integer < 2^53 as u64 at u32 index i (little-endian), no BigInt. */
export function writeU64(u32: Uint32Array, i: number, v: number): void {
  u32[i] = v >>> 0;
  u32[i + 1] = (v / TWO32) >>> 0;
}
/** Reads a u64 at u32 index i as a number (exact below 2^53). */
export function readU64(u32: Uint32Array, i: number): number {
  return u32[i + 1]! * TWO32 + u32[i]!;
}
