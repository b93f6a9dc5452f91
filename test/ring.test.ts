/**
 * Rings: full / empty / wrap-around on one thread, then 10 million records across Worker threads
 * (SPSC written and read in place from TypeScript, C batch push/pop on either side, MPMC with
 * several producers and consumers, fan-in of several SPSC rings) with per-producer sequence
 * checks: no loss, no duplicate, no reorder, no torn record.
 */
import { toArrayBuffer } from "bun:ffi";
import { afterAll, describe, expect, test } from "bun:test";
import { alignedBuffer } from "../ffi/buffers.ts";
import { K } from "../ffi/lib.ts";
import { MpmcRing, RingConst, RingError, SpscRing } from "../ffi/ring.ts";
import type { ConsumerResult, Role } from "./fixtures/ring-worker.ts";

const WORKER = new URL("./fixtures/ring-worker.ts", import.meta.url).href;
const live: Array<{ free(): void }> = [];
afterAll(() => {
  for (const r of live) r.free();
});

function spsc(capacity: number): SpscRing {
  const r = SpscRing.create(capacity);
  live.push(r);
  return r;
}

function runWorker<T>(role: Role): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: role } as WorkerOptions);
    w.addEventListener("message", (e) => {
      resolve((e as MessageEvent).data as T);
      w.terminate();
    });
    w.addEventListener("error", (e) => reject(new Error((e as ErrorEvent).message)));
  });
}

describe("SPSC on one thread", () => {
  test("full, empty, wrap-around over many laps, contents intact", () => {
    const r = spsc(8);
    expect(r.capacity).toBe(8);
    expect(r.available(8)).toBe(0); // empty
    expect(r.emptyPolls).toBe(1);
    expect(r.claim(100)).toBe(8);
    r.publish(5);
    expect(r.claim(100)).toBe(3);
    r.publish(3);
    expect(r.claim(1)).toBe(0); // full
    expect(r.fullWaits).toBe(1);
    expect(r.size).toBe(8);
    expect(r.available(100)).toBe(8);
    r.release(8);
    // 1000 laps of odd-sized batches: every record read back in order, across the wrap point
    let next = 0, expectNext = 0;
    for (let lap = 0; lap < 1000; lap++) {
      const n = r.claim(1 + (lap % 7));
      const h = r.headSlot;
      for (let k = 0; k < n; k++) r.f64[((h + k) & r.mask) * 8 + 2] = next++;
      r.publish(n);
      const m = r.available(1 + ((lap * 3) % 8));
      const t = r.tailSlot;
      for (let k = 0; k < m; k++) expect(r.f64[((t + k) & r.mask) * 8 + 2]).toBe(expectNext++);
      r.release(m);
    }
    const left = r.available(8);
    const t = r.tailSlot;
    for (let k = 0; k < left; k++) expect(r.f64[((t + k) & r.mask) * 8 + 2]).toBe(expectNext++);
    r.release(left);
    expect(expectNext).toBe(next);
    expect(r.tailSlot).toBeGreaterThan(3000);
  });

  test("a consumer holding read records: availableAfter counts past them, the producer gets room only on release", () => {
    const r = spsc(8);
    expect(r.claim(8)).toBe(8);
    for (let k = 0; k < 8; k++) r.f64[k * 8 + 2] = k;
    r.publish(6);
    expect(r.availableAfter(0, 4)).toBe(4);
    expect(r.availableAfter(4, 4)).toBe(2); // records 4 and 5
    expect(r.availableAfter(6, 4)).toBe(0); // nothing after the six published
    expect(r.availableAfter(-1, 4)).toBe(0);
    r.publish(2);
    expect(r.availableAfter(6, 4)).toBe(2); // the two just published, re-read from the head
    // none released yet: the ring is full for the producer
    expect(r.claim(1)).toBe(0);
    r.release(5);
    expect(r.claim(8)).toBe(5);
    expect(r.tailSlot).toBe(5);
    expect(r.availableAfter(0, 8)).toBe(3);
    expect(r.availableAfter(3, 8)).toBe(0);
    // over many laps: read in steps of up to 3, release every 5 or when dry; every record once, in order
    const q = spsc(16);
    let next = 0, expectNext = 0, held = 0;
    for (let lap = 0; lap < 2000; lap++) {
      const n = q.claim(1 + (lap % 6));
      const h = q.headSlot;
      for (let k = 0; k < n; k++) q.f64[((h + k) & q.mask) * 8 + 2] = next++;
      q.publish(n);
      const m = q.availableAfter(held, 3);
      const t = q.tailSlot + held;
      for (let k = 0; k < m; k++) expect(q.f64[((t + k) & q.mask) * 8 + 2]).toBe(expectNext++);
      held += m;
      if (held >= 5 || m === 0) {
        q.release(held);
        held = 0;
      }
    }
    expect(expectNext).toBeGreaterThan(3000);
    expect(next - expectNext).toBeLessThanOrEqual(16);
  });

  test("free-running indices wrap past 2^32", () => {
    const r = spsc(4);
    // move both indices to just below 2^32 (the only writer of each is this thread)
    const u32 = new Uint32Array(toArrayBuffer(r.handle, 0, 256));
    u32[16] = 0xffff_fffe; // head
    u32[17] = 0xffff_fffe; // cached tail
    u32[32] = 0xffff_fffe; // tail
    u32[33] = 0xffff_fffe; // cached head
    for (let i = 0; i < 10; i++) {
      expect(r.claim(3)).toBe(3);
      const h = r.headSlot;
      for (let k = 0; k < 3; k++) r.f64[((h + k) & r.mask) * 8] = i * 3 + k;
      r.publish(3);
      expect(r.available(4)).toBe(3);
      const t = r.tailSlot;
      for (let k = 0; k < 3; k++) expect(r.f64[((t + k) & r.mask) * 8]).toBe(i * 3 + k);
      r.release(3);
    }
    expect(r.headSlot).toBeLessThan(100); // wrapped
  });

  test("C batch push/pop agree with the in-place path; overflow is counted as drops", () => {
    const r = spsc(16);
    const buf = alignedBuffer(32 * 64);
    const f = new Float64Array(buf.buffer, buf.byteOffset, 32 * 8);
    for (let i = 0; i < 32; i++) f[i * 8 + 2] = 100 + i;
    expect(r.push(buf.ptr, 10)).toBe(10);
    expect(r.pushDrop(buf.ptr + 10 * 64, 22)).toBe(6); // 6 fit, 16 dropped
    expect(r.drops).toBe(16);
    r.drop(2); // a TypeScript producer counts its own overflow the same way
    expect(r.drops).toBe(18);
    expect(r.available(100)).toBe(16);
    const t = r.tailSlot;
    for (let k = 0; k < 16; k++) expect(r.f64[((t + k) & r.mask) * 8 + 2]).toBe(100 + k);
    const out = alignedBuffer(16 * 64);
    const o = new Float64Array(out.buffer, out.byteOffset, 16 * 8);
    expect(r.pop(out.ptr, 100)).toBe(16);
    for (let k = 0; k < 16; k++) expect(o[k * 8 + 2]).toBe(100 + k);
    expect(r.pop(out.ptr, 1)).toBe(0);
  });

  test("bad capacity and bad handles are refused with a clear error", () => {
    expect(() => SpscRing.create(1000)).toThrow(/power of two.*BOT4_RING_CAPACITY/);
    expect(() => SpscRing.create(1)).toThrow(RingError);
    expect(() => SpscRing.create(2 ** 27)).toThrow(RingError);
    const junk = alignedBuffer(4096);
    expect(() => SpscRing.attach(junk.ptr)).toThrow(/bad magic/);
    expect(() => SpscRing.attach(0)).toThrow(/not a ring handle/);
    const m = MpmcRing.create(8);
    live.push(m);
    expect(() => SpscRing.attach(m.handle)).toThrow(/is MPMC, attached as SPSC/);
    expect(K.bot4_ring_check(m.handle)).toBe(0);
  });
});

describe("MPMC on one thread", () => {
  test("full, empty, wrap, drops", () => {
    const r = MpmcRing.create(8);
    live.push(r);
    const buf = alignedBuffer(16 * 64);
    const f = new Float64Array(buf.buffer, buf.byteOffset, 16 * 8);
    const out = alignedBuffer(16 * 64);
    const o = new Float64Array(out.buffer, out.byteOffset, 16 * 8);
    expect(r.pop(out.ptr, 4)).toBe(0);
    let next = 0, want = 0;
    for (let lap = 0; lap < 500; lap++) {
      const n = 1 + (lap % 5);
      for (let k = 0; k < n; k++) f[k * 8] = next + k;
      const pushed = r.push(buf.ptr, n);
      next += pushed;
      const m = r.pop(out.ptr, 1 + (lap % 3));
      for (let k = 0; k < m; k++) expect(o[k * 8]).toBe(want++);
    }
    let m: number;
    while ((m = r.pop(out.ptr, 16)) > 0) for (let k = 0; k < m; k++) expect(o[k * 8]).toBe(want++);
    expect(want).toBe(next);
    expect(r.pushDrop(buf.ptr, 12)).toBe(8);
    expect(r.drops).toBe(4);
    expect(r.push(buf.ptr, 1)).toBe(0);
  });
});

const N = 10_000_000;

describe("10 million records across threads", () => {
  test("SPSC, TypeScript producer -> TypeScript consumer, in place", async () => {
    const r = spsc(1 << 14);
    const [, res] = await Promise.all([
      runWorker({ role: "ts-producer", ring: r.handle, id: 0, count: N, batch: 256 }),
      runWorker<ConsumerResult>({ role: "ts-consumer", rings: [r.handle], producers: 1, count: N, batch: 512 }),
    ]);
    expect(res.firstError).toBeNull();
    expect(res.errors).toBe(0);
    expect(res.received).toBe(N);
    expect(res.perProducer).toEqual([N]);
    expect(r.size).toBe(0);
    expect(r.drops).toBe(0);
  }, 120_000);

  test("SPSC, C batch push -> C batch pop, records checked in TypeScript", async () => {
    const r = spsc(4096);
    const [, res] = await Promise.all([
      runWorker({ role: "c-producer", ring: r.handle, id: 0, count: N, batch: 64 }),
      runWorker<ConsumerResult>({ role: "c-consumer", ring: r.handle, producers: 1, count: N, batch: 256 }),
    ]);
    expect(res.firstError).toBeNull();
    expect(res.received).toBe(N);
  }, 120_000);

  test("fan-in: three SPSC rings (two TypeScript producers, one C) -> one consumer", async () => {
    const per = Math.ceil(N / 3);
    const rings = [spsc(4096), spsc(4096), spsc(4096)];
    const [, , , res] = await Promise.all([
      runWorker({ role: "ts-producer", ring: rings[0]!.handle, id: 0, count: per, batch: 128 }),
      runWorker({ role: "ts-producer", ring: rings[1]!.handle, id: 1, count: per, batch: 1 }),
      runWorker({ role: "c-producer", ring: rings[2]!.handle, id: 2, count: per, batch: 32 }),
      runWorker<ConsumerResult>({ role: "ts-consumer", rings: rings.map((r) => r.handle), producers: 3, count: 3 * per, batch: 256 }),
    ]);
    expect(res.firstError).toBeNull();
    expect(res.perProducer).toEqual([per, per, per]);
  }, 180_000);

  test("MPMC: three producers, two consumers, every record exactly once and in order per producer", async () => {
    const per = Math.ceil(N / 3);
    const r = MpmcRing.create(1 << 12);
    live.push(r);
    const seen = new SharedArrayBuffer(3 * per);
    const done = new SharedArrayBuffer(4);
    const consumer = (batch: number): Role => ({ role: "mpmc-consumer", ring: r.handle, producers: 3, perProducer: per, count: 3 * per, batch, seen, done });
    const results = await Promise.all([
      runWorker({ role: "mpmc-producer", ring: r.handle, id: 0, count: per, batch: 64 }),
      runWorker({ role: "mpmc-producer", ring: r.handle, id: 1, count: per, batch: 1 }),
      runWorker({ role: "mpmc-producer", ring: r.handle, id: 2, count: per, batch: 16 }),
      runWorker<ConsumerResult>(consumer(128)),
      runWorker<ConsumerResult>(consumer(32)),
    ]);
    const cons = results.slice(3) as ConsumerResult[];
    for (const c of cons) expect(c.firstError).toBeNull();
    expect(cons[0]!.received + cons[1]!.received).toBe(3 * per);
    const tally = new Uint8Array(seen);
    let missing = 0;
    for (let i = 0; i < tally.length; i++) if (tally[i] !== 1) missing++;
    expect(missing).toBe(0);
    expect(r.size).toBe(0);
  }, 180_000);
});

test("ring header layout matches C (checked at start-up too)", () => {
  const r = spsc(64);
  const u32 = new Uint32Array(toArrayBuffer(r.handle, 0, 256));
  expect(u32[0]).toBe(RingConst.MAGIC);
  expect(u32[3]).toBe(64);
  expect(K.bot4_ring_records(r.handle)).toBe(r.recordsPtr);
});
