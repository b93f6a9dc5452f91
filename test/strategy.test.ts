import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { StrategyDispatcher } from "../src/strategy/dispatch.ts";
import { loadStrategy, parseParams, StrategyError } from "../src/strategy/loader.ts";
import type { Strategy } from "../src/strategy/api.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind, writeU64 } from "../src/domain/tick.ts";

/** a ring-like record area of `cap` slots (power of two) */
function area(cap: number) {
  const buf = new ArrayBuffer(cap * TICK_BYTES);
  return { u8: new Uint8Array(buf), u32: new Uint32Array(buf), f64: new Float64Array(buf), cap };
}
function put(a: ReturnType<typeof area>, slot: number, kind: number, inst: number, price: number, size: number, flags: number, ts: number) {
  a.u8.fill(0, slot * TICK_BYTES, (slot + 1) * TICK_BYTES);
  a.u8[slot * TICK_BYTES + T.KIND_U8] = kind;
  a.u8[slot * TICK_BYTES + T.FLAGS_U8] = flags;
  a.u32[slot * TICK_U32 + T.INSTRUMENT_U32] = inst;
  a.f64[slot * TICK_F64 + T.PRICE_F64] = price;
  a.f64[slot * TICK_F64 + T.SIZE_F64] = size;
  writeU64(a.u32, slot * TICK_U32 + T.TS_RECV_U32, ts);
}

describe("StrategyDispatcher", () => {
  test("trades in order with their numbers, one onBook per touched book after the batch, wrap-around by mask", () => {
    const a = area(8);
    const seen: string[] = [];
    const s: Strategy = {
      onTrade: (i, p, q, side, ts) => seen.push(`T${i}:${p}:${q}:${side}:${ts}`),
      onBook: (i, ts) => seen.push(`B${i}@${ts}`),
    };
    const d = new StrategyDispatcher(s, 4);
    // slots 6,7,0,1,2 (wrapping): trade, level(1), level(1), trade sell, status(2)
    put(a, 6, TickKind.trade, 0, 100.5, 2, 0, 1_000);
    put(a, 7, TickKind.level, 1, 99, 1, 0, 1_001);
    put(a, 0, TickKind.level, 1, 101, 1, TickFlag.ask | TickFlag.last, 1_002);
    put(a, 1, TickKind.trade, 3, 7, 0.25, TickFlag.sell, 2 ** 40 + 5);
    put(a, 2, TickKind.status, 2, 1, 0, 0, 1_004);
    d.dispatch(a.u8, a.u32, a.f64, a.cap - 1, 6, 5);
    expect(seen).toEqual(["T0:100.5:2:0:1000", `T3:7:0.25:1:${2 ** 40 + 5}`, "B1@1004", "B2@1004"]);
    expect([d.records, d.trades, d.books]).toEqual([5, 2, 2]);
    // touched marks are cleared: the next batch reports book 1 again
    seen.length = 0;
    put(a, 3, TickKind.level, 1, 98, 1, 0, 2_000);
    d.dispatch(a.u8, a.u32, a.f64, a.cap - 1, 3, 1);
    expect(seen).toEqual(["B1@2000"]);
  });

  test("records for instruments the engine does not carry are skipped, not dispatched", () => {
    const a = area(4);
    let n = 0;
    const d = new StrategyDispatcher({ onTrade: () => n++, onBook: () => n++ }, 2);
    put(a, 0, TickKind.trade, 2, 1, 1, 0, 1);
    put(a, 1, TickKind.level, 7, 1, 1, 0, 1);
    d.dispatch(a.u8, a.u32, a.f64, 3, 0, 2);
    expect(n).toBe(0);
  });
});

describe("loadStrategy", () => {
  test("built-ins by name, with parameters", async () => {
    const mm = await loadStrategy("market-maker", parseParams("gamma=0.2,quoteAmount=0.002"));
    expect(mm.name).toBe("market-maker");
    expect(typeof mm.onBook).toBe("function");
    expect((await loadStrategy("arbitrage")).name).toBe("arbitrage");
    expect((await loadStrategy("bollinger")).name).toBe("bollinger");
  });

  test("a user's file by path: default-exported class constructed with the parameters", async () => {
    const s = (await loadStrategy(join(import.meta.dir, "fixtures/user-strategy.ts"), { k: 3 })) as Strategy & { params: Record<string, number> };
    expect(s.name).toBe("counting");
    expect(s.params).toEqual({ k: 3 });
  });

  test("refusals say what is wrong", async () => {
    await expect(loadStrategy("no-such-thing")).rejects.toThrow(/neither a built-in .* nor a file/);
    await expect(loadStrategy("market-maker", { gamma: -1 })).rejects.toThrow(/gamma must be > 0/);
    await expect(loadStrategy(join(import.meta.dir, "fixtures/bad-strategy.ts"))).rejects.toThrow(/has none of the handlers onTrade, onBook/);
    await expect(loadStrategy(join(import.meta.dir, "fixtures/bad-strategy.ts"))).rejects.toBeInstanceOf(StrategyError);
    expect(() => parseParams("gamma=abc")).toThrow(/not name=number/);
    expect(() => parseParams("=1")).toThrow(/not name=number/);
    expect(parseParams(" a=1, b=-2.5e-3 ")).toEqual({ a: 1, b: -0.0025 });
  });
});
