/**
 * Object pool get+put (goal <= 10 ns): the TypeScript path over the C pool's memory, the same
 * through one FFI call each, batches of 64 through C, beside a plain TypeScript free list (an
 * array used as a stack) and `new` of a small object, in the same run. Arena creation with
 * prefault, on the page kind this machine gives.
 */
import { K } from "../ffi/lib.ts";
import { Arena, ObjectPool } from "../ffi/mem.ts";
import { hugepageStatus } from "../ffi/sys.ts";
import { do_not_optimize, done, figure, mitataSuite, section } from "./harness.ts";

const pool = ObjectPool.create("orders", 128, 10_000);
for (let k = 0; k < 100; k++) pool.get(); // a pool in use, not empty
const ptr = pool.ptr;
const get = K.bot4_pool_get;
const put = K.bot4_pool_put;
const batch = new Uint32Array(64);

/** The reference: what a TypeScript engine would write without the C pool. */
class JsFreeList {
  private readonly free: number[] = [];
  constructor(n: number) {
    for (let i = n - 1; i >= 0; i--) this.free.push(i);
  }
  get(): number {
    const i = this.free.pop();
    if (i === undefined) throw new Error("empty");
    return i;
  }
  put(i: number): void {
    this.free.push(i);
  }
}
const js = new JsFreeList(10_000);

section("object pool get+put (10,000 orders of 128 bytes)");
const m = await mitataSuite((bench) => {
  bench("pool_getput_ts", () => {
    const i = pool.tryGet();
    pool.put(i);
    return i;
  });
  bench("pool_getput_ffi", () => {
    const i = get(ptr);
    put(ptr, i);
    return i;
  });
  bench("pool_getput_batch64_ffi", () => {
    pool.getBatch(batch, 64);
    return pool.putBatch(batch, 64);
  });
  bench("ref_js_freelist_getput", () => {
    const i = js.get();
    js.put(i);
    return i;
  });
  bench("ref_js_new_object", () => do_not_optimize({ id: 1, price: 2.5, size: 1, side: 0, state: 0 }));
});
figure("pool_getput_ns", m.pool_getput_ts!, "ns", "TypeScript path, no FFI call; goal <= 10");
figure("pool_getput_ffi_ns", m.pool_getput_ffi!, "ns", "bot4_pool_get + bot4_pool_put, one FFI call each");
figure("pool_getput_batch_per_object_ns", m.pool_getput_batch64_ffi! / 64, "ns", "get+put per object in batches of 64, two FFI calls a batch");
figure("ref_js_freelist_getput_ns", m.ref_js_freelist_getput!, "ns", "plain TypeScript array free list, same run");
figure("pool_vs_js_freelist_x", m.ref_js_freelist_getput! / m.pool_getput_ts!, "x", "> 1: the pool is faster");

// The first huge-page arena of a process pays for the kernel finding (compacting) free 2 MiB
// blocks; later ones show the steady cost. Median of 5 after the first.
section(`arena (${hugepageStatus().describe})`);
const MIB = 64;
function createMs(o: { hugepages: boolean; noHugetlb?: boolean }): { ms: number; what: string } {
  const t0 = performance.now();
  const a = Arena.create({ bytes: MIB << 20, prefault: true, ...o });
  const ms = performance.now() - t0;
  const what = a.describe();
  a.free();
  return { ms, what };
}
const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
const first = createMs({ hugepages: true });
figure(`arena_create_${MIB}mib_prefault_first_ms`, first.ms, "ms", first.what);
const huge = Array.from({ length: 5 }, () => createMs({ hugepages: true }));
figure(`arena_create_${MIB}mib_prefault_ms`, median(huge.map((r) => r.ms)), "ms", huge[0]!.what);
const plain = Array.from({ length: 5 }, () => createMs({ hugepages: false }));
figure(`arena_create_${MIB}mib_prefault_normal_ms`, median(plain.map((r) => r.ms)), "ms", plain[0]!.what);
done();
