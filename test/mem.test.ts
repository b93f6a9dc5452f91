/**
 * Arena (huge pages -> THP -> normal, reported truthfully), bump allocation, object pools: reuse,
 * exhaustion naming the setting, double / stray puts refused and counted, no growth over a
 * million get/put cycles, the TypeScript and C paths interoperating on one pool.
 */
import { describe, expect, test } from "bun:test";
import { K } from "../ffi/lib.ts";
import { Arena, enginePools, ObjectPool, PoolError, PoolExhaustedError } from "../ffi/mem.ts";
import { hugepageStatus } from "../ffi/sys.ts";

describe("arena", () => {
  test("asks for huge pages and reports what the machine gave", () => {
    const hp = hugepageStatus();
    const a = Arena.create({ bytes: 8 << 20 });
    try {
      if (hp.free >= 4) expect(a.kind).toBe("hugetlb");
      else {
        expect(a.kind).not.toBe("hugetlb");
        expect(a.hugetlbErrno).toBeGreaterThan(0); // MAP_HUGETLB was tried and refused
        expect(a.kind).toBe(hp.thp === "never" || hp.thp === "unknown" ? "normal" : "thp");
      }
      expect(a.size % (2 << 20)).toBe(0);
      expect(a.ptr % (2 << 20)).toBe(0); // 2 MiB aligned, so THP can back it
      expect(a.describe()).toContain("MiB");
    } finally {
      a.free();
    }
  });

  test("falls back past MAP_HUGETLB, and to normal pages when huge pages are off", () => {
    const thp = Arena.create({ bytes: 4 << 20, noHugetlb: true });
    expect(["thp", "normal"]).toContain(thp.kind);
    expect(thp.hugetlbErrno).toBe(0);
    thp.free();
    const plain = Arena.create({ bytes: 100_000, hugepages: false });
    expect(plain.kind).toBe("normal");
    expect(plain.hugeBytes()).toBe(0);
    plain.free();
  });

  test("bump allocation is aligned and refuses to overrun", () => {
    const a = Arena.create({ bytes: 8192, hugepages: false });
    const p1 = a.alloc(10, 64);
    const p2 = a.alloc(100, 256);
    expect(p1 % 64).toBe(0);
    expect(p2 % 256).toBe(0);
    expect(p2).toBeGreaterThanOrEqual(p1 + 10);
    expect(() => a.alloc(1 << 20)).toThrow(/arena full/);
    expect(K.bot4_arena_alloc(a.ptr, 64, 3)).toBeNull(); // alignment not a power of two
    a.free();
  });

  test("mlock=try reports the outcome instead of failing", () => {
    const a = Arena.create({ bytes: 1 << 20, hugepages: false, mlock: "try" });
    expect(a.locked || a.lockErrno > 0).toBe(true);
    a.free();
  });
});

describe("object pool", () => {
  test("get until exhausted: a clear error naming the setting; reuse after put", () => {
    const p = ObjectPool.create("orders", 128, 4, undefined, "BOT4_POOL_ORDERS");
    expect(p.stride).toBe(128);
    const got = [p.get(), p.get(), p.get(), p.get()];
    expect(new Set(got).size).toBe(4);
    expect(got).toEqual([0, 1, 2, 3]);
    expect(() => p.get()).toThrow(PoolExhaustedError);
    expect(() => p.get()).toThrow(/orders pool exhausted: all 4 in use; raise BOT4_POOL_ORDERS/);
    expect(p.tryGet()).toBe(-1);
    expect(p.stats().exhausted).toBe(3);
    p.put(2);
    expect(p.get()).toBe(2);
    expect(p.stats().highWater).toBe(4);
  });

  test("double put and stray indices are refused and counted", () => {
    const p = ObjectPool.create("signals", 64, 8);
    const i = p.get();
    p.put(i);
    expect(() => p.put(i)).toThrow(/put back twice/);
    expect(() => p.put(8)).toThrow(PoolError);
    expect(() => p.put(-1)).toThrow(/not a slot/);
    expect(() => p.put(1.5)).toThrow(/not a slot/);
    expect(p.stats().badPuts).toBe(4);
    expect(p.available).toBe(8);
  });

  test("slots are distinct, aligned memory that keeps what is written", () => {
    const p = ObjectPool.create("ticks", 64, 100);
    const idx: number[] = [];
    for (let k = 0; k < 100; k++) {
      const i = p.get();
      idx.push(i);
      expect(p.slotPtr(i) % 64).toBe(0);
      p.f64[p.offset(i) / 8] = k * 1.5;
    }
    for (let k = 0; k < 100; k++) expect(p.f64[p.offset(idx[k]!) / 8]).toBe(k * 1.5);
    expect(K.bot4_pool_slot(p.ptr, idx[7]!)).toBe(p.slotPtr(idx[7]!));
  });

  test("a million get/put cycles: no growth, counters exact", () => {
    const p = ObjectPool.create("orders", 128, 1000);
    const held: number[] = [];
    for (let k = 0; k < 500; k++) held.push(p.get());
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < 1_000_000; k++) {
      const i = p.get();
      p.put(i);
    }
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(1 << 20);
    const s = p.stats();
    expect(s.inUse).toBe(500);
    expect(s.gets).toBe(1_000_500);
    expect(s.puts).toBe(1_000_000);
    expect(s.highWater).toBe(501);
  });

  test("TypeScript and C (batch) paths share one pool", () => {
    const p = ObjectPool.create("ticks", 64, 64);
    const a = p.get();
    const out = new Uint32Array(100);
    expect(p.getBatch(out)).toBe(63); // all the rest
    expect(out.subarray(0, 63)).not.toContain(a);
    expect(p.tryGet()).toBe(-1);
    expect(p.putBatch(out, 63)).toBe(0);
    expect(p.putBatch(out, 1)).toBe(1); // already free: refused
    p.put(a);
    expect(p.available).toBe(64);
    expect(K.bot4_pool_get(p.ptr)).toBeGreaterThanOrEqual(0);
    expect(p.inUse).toBe(1);
  });

  test("engine pools come from configuration, in one arena", () => {
    const e = enginePools({ BOT4_POOL_ORDERS: 10_000, BOT4_POOL_TICKS: 100_000, BOT4_POOL_SIGNALS: 1_000, BOT4_HUGEPAGES: true, BOT4_MLOCK: "off" });
    try {
      expect(e.orders.capacity).toBe(10_000);
      expect(e.ticks.capacity).toBe(100_000);
      expect(e.signals.capacity).toBe(1_000);
      expect(e.ticks.ptr).toBeGreaterThan(e.arena.ptr);
      expect(e.ticks.ptr).toBeLessThan(e.arena.ptr + e.arena.size);
      expect(e.describe()).toMatch(/arena .* MiB on .*; pools: 10000 orders, 100000 ticks, 1000 signals/);
    } finally {
      e.free();
    }
  });

  test("invalid geometry is refused", () => {
    expect(() => ObjectPool.create("x", 0, 10)).toThrow(/not a valid pool/);
    expect(() => ObjectPool.create("x", 64, 0)).toThrow(/not a valid pool/);
  });
});
