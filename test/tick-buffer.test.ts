import { expect, test } from "bun:test";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { readU64, T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../src/domain/tick.ts";

test("TickBuffer grows past its initial capacity and keeps every field of every record", () => {
  const tb = new TickBuffer(2);
  const ns = 1723161255123000000n; // above 2^53: must survive exactly as a bigint
  for (let i = 0; i < 1000; i++) {
    tb.push({ kind: TickKind.trade, flags: i % 2 ? TickFlag.sell : 0, venue: 2, instrument: i % 7, tsExchangeNs: ns + BigInt(i), tsRecvNs: i * 1000, price: 100 + i, size: i / 10, seq: i * 3 });
  }
  expect(tb.count).toBe(1000);
  expect(tb.capacity).toBeGreaterThanOrEqual(1000);
  for (const i of [0, 1, 2, 511, 999]) {
    const f = i * TICK_F64, w = i * TICK_U32, b = i * TICK_BYTES;
    expect(tb.u64[f]).toBe(ns + BigInt(i));
    expect(readU64(tb.u32, w + T.TS_RECV_U32)).toBe(i * 1000);
    expect(tb.f64[f + T.PRICE_F64]).toBe(100 + i);
    expect(tb.f64[f + T.SIZE_F64]).toBe(i / 10);
    expect(readU64(tb.u32, w + T.SEQ_U32)).toBe(i * 3);
    expect(tb.u32[w + T.INSTRUMENT_U32]).toBe(i % 7);
    expect(tb.u8[b + T.KIND_U8]).toBe(TickKind.trade);
    expect(tb.u8[b + T.FLAGS_U8]).toBe(i % 2 ? TickFlag.sell : 0);
  }
  tb.markLast(4);
  expect(tb.u8[4 * TICK_BYTES + T.FLAGS_U8]).toBe(TickFlag.last);
  expect(tb.bytes().length).toBe(1000 * TICK_BYTES);
  const j = tb.alloc();
  expect(tb.bytes().subarray(j * TICK_BYTES).every((x) => x === 0)).toBe(true);
});
