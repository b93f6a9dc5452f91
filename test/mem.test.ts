/**
 * Arena (huge pages -> THP -> normal, reported truthfully), bump allocation, object pools: reuse,
 * exhaustion naming the setting, double / stray puts refused and counted, no growth over a
 * million get/put cycles, the TypeScript and C paths interoperating on one pool.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { K } from "../ffi/lib.ts";
import { Arena, enginePools, ObjectPool, ORDER_BYTES, PoolError, PoolExhaustedError, SIGNAL_BYTES, TICK_SLOT_BYTES } from "../ffi/mem.ts";
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
        expect(a.thpMode).toBe(hp.thp as typeof a.thpMode);
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

  test("the THP mode C reads is the one /sys reports", () => {
    const modes = ["unknown", "always", "madvise", "never"];
    expect(modes[K.bot4_arena_thp_mode()]).toBe(hugepageStatus().thp);
  });

  test("mlock=try reports the outcome instead of failing; require refuses", () => {
    const a = Arena.create({ bytes: 1 << 20, hugepages: false, mlock: "try" });
    expect(a.locked || a.lockErrno > 0).toBe(true);
    if (a.locked) expect(a.lockError).toBeNull();
    else expect(a.lockError).toMatch(/mlock failed: .*memlock limit/);
    expect(K.bot4_arena_locked(a.ptr)).toBe(a.locked ? 1 : 0);
    a.free();
    // What mlock must do here: CAP_IPC_LOCK (bit 14 of CapEff) lifts the limit; without it an
    // arena over RLIMIT_MEMLOCK cannot be locked, and `require` refuses to go on.
    const status = readFileSync("/proc/self/status", "utf8");
    const capIpcLock = (BigInt("0x" + /^CapEff:\s*([0-9a-f]+)/m.exec(status)![1]) >> 14n) & 1n;
    const limit = /^Max locked memory\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"))![1]!;
    if (capIpcLock || limit === "unlimited") {
      expect(a.locked).toBe(true);
      const r = Arena.create({ bytes: 4 << 20, hugepages: false, mlock: "require" });
      expect(r.locked).toBe(true);
      expect(r.describe()).toContain("locked in RAM");
      r.free();
    } else {
      const over = Number(limit) + (4 << 20);
      expect(() => Arena.create({ bytes: over, hugepages: false, prefault: false, mlock: "require" })).toThrow(/BOT4_MLOCK=require but mlock failed .*memlock limit/);
    }
  });

  test("C accessors agree with the header TypeScript reads", () => {
    const a = Arena.create({ bytes: 3 << 20, noHugetlb: true });
    expect(K.bot4_arena_size(a.ptr)).toBe(a.size);
    expect(a.size).toBe(4 << 20); // rounded up to whole huge pages
    expect(K.bot4_arena_used(a.ptr)).toBe(a.used);
    expect(["hugetlb", "thp", "normal"][K.bot4_arena_kind(a.ptr) - 1]).toBe(a.kind);
    expect(K.bot4_arena_lock_errno(a.ptr)).toBe(0);
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
    try {
      p.get();
    } catch (e) {
      expect(e).toBeInstanceOf(PoolExhaustedError);
      const x = e as PoolExhaustedError;
      expect([x.pool, x.capacity, x.setting]).toEqual(["orders", 4, "BOT4_POOL_ORDERS"]);
    }
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
    expect(p.stats().doublePuts).toBe(1);
    expect(p.stats().badIndex).toBe(3);
    expect(p.available).toBe(8);
    // the C path refuses and counts the same way
    expect(K.bot4_pool_put(p.ptr, i)).toBe(-2);
    expect(K.bot4_pool_put(p.ptr, 99)).toBe(-1);
    expect(K.bot4_pool_put(p.ptr, -5)).toBe(-1);
    expect(p.stats()).toMatchObject({ doublePuts: 2, badIndex: 5, puts: 1, inUse: 0 });
  });

  test("a pool without a configured setting still says what to do", () => {
    const p = ObjectPool.create("scratch", 64, 1);
    p.get();
    expect(() => p.get()).toThrow(/scratch pool exhausted: all 1 in use; create it with a larger capacity/);
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
    for (let k = 0; k < 100; k++) expect(p.view.getFloat64(p.offset(idx[k]!), true)).toBe(k * 1.5);
    expect(K.bot4_pool_slot(p.ptr, idx[7]!)).toBe(p.slotPtr(idx[7]!));
    expect(K.bot4_pool_slot(p.ptr, 100)).toBeNull();
  });

  test("a million get/put cycles: no growth, counters exact", () => {
    const arena = Arena.create({ bytes: 1 << 20, hugepages: false });
    const p = ObjectPool.create("orders", 128, 1000, arena);
    const held: number[] = [];
    for (let k = 0; k < 500; k++) held.push(p.get());
    const arenaUsed = arena.used;
    Bun.gc(true);
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < 1_000_000; k++) {
      const i = p.get();
      p.put(i);
    }
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(1 << 20);
    expect(arena.used).toBe(arenaUsed);
    expect(p.available).toBe(500);
    const s = p.stats();
    expect(s.inUse).toBe(500);
    expect(s.gets).toBe(1_000_500);
    expect(s.puts).toBe(1_000_000);
    expect(s.highWater).toBe(501);
    arena.free();
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

  test("batch get/put through C hands out exactly what the TypeScript path would", () => {
    const ts = ObjectPool.create("ticks", 64, 300);
    const c = ObjectPool.create("ticks", 64, 300);
    const out = new Uint32Array(300);
    for (let round = 0; round < 5; round++) {
      const n = 20 + round * 13;
      const a: number[] = [];
      for (let k = 0; k < n; k++) a.push(ts.get());
      expect(c.getBatch(out, n)).toBe(n);
      expect(Array.from(out.subarray(0, n))).toEqual(a);
      // return every other one, in a shuffled order, both ways
      const back = a.filter((_, k) => k % 2 === 0).reverse();
      for (const i of back) ts.put(i);
      expect(c.putBatch(Uint32Array.from(back))).toBe(0);
      expect(c.stats()).toEqual(ts.stats());
    }
    // refusals inside a batch: a stray index, a slot already free, the same slot twice
    const held = c.getBatch(out, 2);
    expect(held).toBe(2);
    const mixed = Uint32Array.from([out[0]!, 300, out[0]!, out[1]!]);
    expect(c.putBatch(mixed)).toBe(2);
    expect(c.stats()).toMatchObject({ badIndex: 1, doublePuts: 1 });
  });

  test("C pool_create: in an arena, or owned and freed by pool_destroy", () => {
    const owned = K.bot4_pool_create(null, 100, 10);
    expect(owned).not.toBeNull();
    expect(K.bot4_pool_get(owned)).toBe(0);
    expect(K.bot4_pool_slot(owned, 1)! - K.bot4_pool_slot(owned, 0)!).toBe(128); // 100 -> 128
    K.bot4_pool_destroy(owned);
    const a = Arena.create({ bytes: 64 << 10, hugepages: false });
    const inArena = K.bot4_pool_create(a.ptr, 64, 100);
    expect(inArena).toBeGreaterThan(a.ptr);
    expect(K.bot4_pool_create(a.ptr, 64, 10_000)).toBeNull(); // does not fit: arena full
    K.bot4_pool_destroy(inArena); // not owned: a no-op, the arena still holds it
    expect(K.bot4_pool_get(inArena)).toBe(0);
    a.free();
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
      expect([e.orders.stride, e.ticks.stride, e.signals.stride]).toEqual([ORDER_BYTES, TICK_SLOT_BYTES, SIGNAL_BYTES]);
      for (let k = 0; k < 10_000; k++) e.orders.get();
      expect(() => e.orders.get()).toThrow(/orders pool exhausted: all 10000 in use; raise BOT4_POOL_ORDERS in .env/);
    } finally {
      e.free();
    }
  });

  test("invalid geometry is refused", () => {
    expect(() => ObjectPool.create("x", 0, 10)).toThrow(/not a valid pool/);
    expect(() => ObjectPool.create("x", 64, 0)).toThrow(/not a valid pool/);
  });
});
