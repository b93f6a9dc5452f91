/**
 * The engine's memory (c/mem.h) from TypeScript: an Arena mapped once (huge pages when the
 * machine has them) and ObjectPools carved from it. A pool's get/put run in TypeScript over
 * typed-array views of the C pool header, free stack and state bytes — no FFI call, no
 * allocation — following the same protocol as C's bot4_pool_get/put (which the batch forms use).
 * A pool has one owner thread.
 */
import { readFileSync } from "node:fs";
import { toArrayBuffer } from "bun:ffi";
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { K } from "./lib.ts";
import { ArenaOffset, MemConst, POOL_HEADER_BYTES, PoolOffset } from "./sym/mem.ts";

export { MemConst } from "./sym/mem.ts";

export type PageKind = "hugetlb" | "thp" | "normal";
const KIND: Record<number, PageKind> = { [MemConst.ARENA_HUGETLB]: "hugetlb", [MemConst.ARENA_THP]: "thp", [MemConst.ARENA_NORMAL]: "normal" };
export type ThpMode = "always" | "madvise" | "never" | "unknown";
const THP: Record<number, ThpMode> = { [MemConst.THP_ALWAYS]: "always", [MemConst.THP_MADVISE]: "madvise", [MemConst.THP_NEVER]: "never", [MemConst.THP_UNKNOWN]: "unknown" };
const ERRNO: Record<number, string> = { 1: "EPERM", 11: "EAGAIN", 12: "ENOMEM", 22: "EINVAL" };
const errnoText = (e: number) => (ERRNO[e] ? `${ERRNO[e]} (errno ${e})` : `errno ${e}`);

export class MemoryError extends Error {
  override name = "MemoryError";
}
/** A memory setting the machine cannot honour (exit code 2: the operator's to fix). */
export class MemoryConfigError extends Error {
  override name = "ConfigError";
}

export interface ArenaOptions {
  bytes: number;
  /** ask for huge pages (MAP_HUGETLB, then THP); default true */
  hugepages?: boolean;
  /** off: no; try: lock, report failure; require: throw MemoryConfigError on failure */
  mlock?: "off" | "try" | "require";
  /** touch every page now so the hot path never faults; default true */
  prefault?: boolean;
  /** skip MAP_HUGETLB (tests the fallback) */
  noHugetlb?: boolean;
}

/** Bytes of a mapping backed by transparent huge pages, from /proc/self/smaps (0 if unknown). */
function anonHugeBytes(base: number): number {
  let text: string;
  try {
    text = readFileSync("/proc/self/smaps", "utf8");
  } catch {
    return 0;
  }
  const start = base.toString(16);
  const at = text.search(new RegExp(`^0*${start}-`, "m"));
  if (at < 0) return 0;
  const next = text.slice(at).search(/\n[0-9a-f]+-[0-9a-f]+ /);
  const block = next < 0 ? text.slice(at) : text.slice(at, at + next);
  const m = /AnonHugePages:\s+(\d+) kB/.exec(block);
  return m ? Number(m[1]) * 1024 : 0;
}

export class Arena {
  readonly kind: PageKind;
  readonly size: number;
  readonly locked: boolean;
  /** why mlock failed (errno), 0 if it did not */
  readonly lockErrno: number;
  /** why MAP_HUGETLB failed (errno; 12 = ENOMEM: no huge pages reserved), 0 if not tried or granted */
  readonly hugetlbErrno: number;
  /** the kernel's THP mode when the arena fell back to THP ("unknown" when not considered) */
  readonly thpMode: ThpMode;
  private readonly hdr: BigUint64Array;
  private freed = false;

  private constructor(readonly ptr: number) {
    const buf = toArrayBuffer(ptr, 0, 64);
    this.hdr = new BigUint64Array(buf);
    const i32 = new Int32Array(buf);
    this.kind = KIND[i32[ArenaOffset.kind / 4]!] ?? "normal";
    this.size = Number(this.hdr[ArenaOffset.size / 8]);
    this.locked = i32[ArenaOffset.locked / 4] === 1;
    this.lockErrno = i32[ArenaOffset.lock_errno / 4]!;
    this.hugetlbErrno = i32[ArenaOffset.huge_errno / 4]!;
    this.thpMode = THP[i32[ArenaOffset.thp_mode / 4]!] ?? "unknown";
  }

  /** why mlock failed and what to do, or null when it was not asked for or worked */
  get lockError(): string | null {
    if (!this.lockErrno) return null;
    return `mlock failed: ${errnoText(this.lockErrno)}; raise the memlock limit (ulimit -l, LimitMEMLOCK=infinity) or set BOT4_MLOCK=off`;
  }

  static create(o: ArenaOptions): Arena {
    const mlock = o.mlock ?? "off";
    const flags =
      (o.hugepages === false ? 0 : MemConst.ARENA_WANT_HUGE) |
      (mlock !== "off" ? MemConst.ARENA_MLOCK : 0) |
      (o.prefault === false ? 0 : MemConst.ARENA_PREFAULT) |
      (o.noHugetlb ? MemConst.ARENA_NO_HUGETLB : 0);
    const p = K.bot4_arena_create(o.bytes, flags);
    if (!p) throw new MemoryError(`could not map a ${(o.bytes / 1048576).toFixed(1)} MiB arena: lower the BOT4_POOL_* sizes or free memory`);
    const a = new Arena(Number(p));
    if (mlock === "require" && !a.locked) {
      a.free();
      throw new MemoryConfigError(`BOT4_MLOCK=require but mlock failed (errno ${a.lockErrno}): raise the memlock limit (ulimit -l, LimitMEMLOCK=infinity) or set BOT4_MLOCK=try`);
    }
    return a;
  }

  get used(): number {
    return Number(this.hdr[ArenaOffset.used / 8]);
  }

  /** `bytes` at `align` from the arena; throws when it is full. */
  alloc(bytes: number, align = 64): number {
    const p = K.bot4_arena_alloc(this.ptr, bytes, align);
    if (!p) throw new MemoryError(`arena full: ${bytes} bytes asked, ${this.size - this.used} of ${this.size} left`);
    return Number(p);
  }

  /** Bytes the kernel backs with transparent huge pages now (the whole arena for hugetlb). */
  hugeBytes(): number {
    return this.kind === "hugetlb" ? this.size : this.kind === "thp" ? anonHugeBytes(this.ptr) : 0;
  }

  describe(): string {
    const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    const pages =
      this.kind === "hugetlb"
        ? "2 MiB huge pages (MAP_HUGETLB)"
        : this.kind === "thp"
          ? `transparent huge pages asked (${mib(this.hugeBytes())} granted)`
          : this.thpMode === "never"
            ? "normal 4 KiB pages (THP mode is never)"
            : "normal 4 KiB pages";
    const lock = this.locked ? ", locked in RAM" : this.lockErrno ? `, mlock failed (${errnoText(this.lockErrno)})` : "";
    return `${mib(this.size)} on ${pages}${lock}`;
  }

  /** Unmaps the arena; every pool in it dies with it. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    K.bot4_arena_destroy(this.ptr);
  }
}

export class PoolExhaustedError extends Error {
  override name = "PoolExhaustedError";
  constructor(
    readonly pool: string,
    readonly capacity: number,
    /** the configuration that sizes the pool, or null */
    readonly setting: string | null,
  ) {
    super(
      setting
        ? `${pool} pool exhausted: all ${capacity} in use; raise ${setting} in .env (now ${capacity}) or release ${pool} sooner`
        : `${pool} pool exhausted: all ${capacity} in use; create it with a larger capacity or release ${pool} sooner`,
    );
  }
}
export class PoolError extends Error {
  override name = "PoolError";
}

const U_TOP = PoolOffset.top / 4;
const F_GETS = PoolOffset.gets / 8;
const F_PUTS = PoolOffset.puts / 8;
const F_EXH = PoolOffset.exhausted / 8;
const F_BADIDX = PoolOffset.bad_index / 8;
const F_DOUBLE = PoolOffset.double_puts / 8;
const F_HW = PoolOffset.high_water / 8;

export interface PoolStats {
  name: string;
  capacity: number;
  inUse: number;
  highWater: number;
  gets: number;
  puts: number;
  exhausted: number;
  /** puts refused: not a slot of this pool */
  badIndex: number;
  /** puts refused: slot not in use */
  doublePuts: number;
}

export class ObjectPool {
  readonly capacity: number;
  /** bytes per slot (object size rounded up to 64) */
  readonly stride: number;
  /** address of slot 0 */
  readonly slotsPtr: number;
  /** the slots, as bytes, doubles and a DataView (made once): slot i starts at byte i * stride
   * (double i * stride / 8) */
  readonly u8: Uint8Array;
  readonly f64: Float64Array;
  readonly view: DataView;
  private readonly hdrU32: Uint32Array;
  private readonly hdrF64: Float64Array;
  private readonly free: Uint32Array;
  private readonly state: Uint8Array;
  /** keeps JS-owned memory alive when the pool is not in an arena */
  private readonly owner: AlignedBuffer | null;

  private constructor(
    readonly name: string,
    readonly ptr: number,
    /** the setting that sizes this pool, named in the exhaustion error */
    readonly setting: string | null,
    owner: AlignedBuffer | null,
  ) {
    this.owner = owner;
    const head = new Uint32Array(toArrayBuffer(ptr, 0, POOL_HEADER_BYTES));
    const cap = head[PoolOffset.capacity / 4]!;
    const stride = head[PoolOffset.stride / 4]!;
    const slotsOff = head[PoolOffset.slots_off / 4]!; // < 2^32 for every pool geometry allowed
    const whole = toArrayBuffer(ptr, 0, slotsOff + cap * stride);
    this.capacity = cap;
    this.stride = stride;
    this.hdrU32 = new Uint32Array(whole, 0, POOL_HEADER_BYTES / 4);
    this.hdrF64 = new Float64Array(whole, 0, POOL_HEADER_BYTES / 8);
    this.free = new Uint32Array(whole, head[PoolOffset.free_off / 4]!, cap);
    this.state = new Uint8Array(whole, head[PoolOffset.state_off / 4]!, cap);
    this.u8 = new Uint8Array(whole, slotsOff, cap * stride);
    this.f64 = new Float64Array(whole, slotsOff, (cap * stride) / 8);
    this.view = new DataView(whole, slotsOff, cap * stride);
    this.slotsPtr = ptr + slotsOff;
  }

  /** Bytes a pool needs (header, free stack, state bytes, slots). */
  static bytes(objBytes: number, capacity: number): number {
    return K.bot4_pool_bytes(objBytes, capacity);
  }

  /**
   * A pool of `capacity` objects of `objBytes`, in `arena` when given (else JS-owned memory).
   * `setting` names the configuration that sizes it, for the exhaustion message.
   */
  static create(name: string, objBytes: number, capacity: number, arena?: Arena, setting: string | null = null): ObjectPool {
    const bytes = ObjectPool.bytes(objBytes, capacity);
    if (!bytes) throw new PoolError(`${name} pool: ${capacity} objects of ${objBytes} bytes is not a valid pool (1..2^28 objects of 1..1 MiB)`);
    const owner = arena ? null : alignedBuffer(bytes);
    const mem = arena ? arena.alloc(bytes, 64) : owner!.ptr;
    if (!K.bot4_pool_init(mem, objBytes, capacity)) throw new PoolError(`${name} pool: initialisation failed`);
    return new ObjectPool(name, mem, setting, owner);
  }

  /** A free slot's index, or -1 when the pool is empty (counted as exhausted). */
  tryGet(): number {
    const u = this.hdrU32;
    let top = u[U_TOP]!;
    const f = this.hdrF64;
    if (top === 0) {
      f[F_EXH] = f[F_EXH]! + 1;
      return -1;
    }
    top--;
    const idx = this.free[top]!;
    u[U_TOP] = top;
    this.state[idx] = 1;
    f[F_GETS] = f[F_GETS]! + 1;
    const inUse = this.capacity - top;
    if (inUse > f[F_HW]!) f[F_HW] = inUse;
    return idx;
  }

  /** A free slot's index; throws PoolExhaustedError (naming the setting to raise) when empty. */
  get(): number {
    const idx = this.tryGet();
    if (idx < 0) throw new PoolExhaustedError(this.name, this.capacity, this.setting);
    return idx;
  }

  /** Returns slot `idx`; a stray index or a slot not in use (double put) is refused and counted. */
  put(idx: number): void {
    // `idx >>> 0 === idx`: a whole number in 0..2^32-1, in one compare
    if (idx >>> 0 !== idx || idx >= this.capacity || this.state[idx] !== 1) return this.refuse(idx);
    this.state[idx] = 0;
    const u = this.hdrU32;
    const top = u[U_TOP]!;
    this.free[top] = idx;
    u[U_TOP] = top + 1;
    const f = this.hdrF64;
    f[F_PUTS] = f[F_PUTS]! + 1;
  }

  /** The cold half of put, kept out of it so put stays small enough to inline. */
  private refuse(idx: number): never {
    const f = this.hdrF64;
    if (idx >>> 0 !== idx || idx >= this.capacity) {
      f[F_BADIDX] = f[F_BADIDX]! + 1;
      throw new PoolError(`${this.name} pool: put of index ${idx}, which is not a slot of this pool (0..${this.capacity - 1})`);
    }
    f[F_DOUBLE] = f[F_DOUBLE]! + 1;
    throw new PoolError(`${this.name} pool: slot ${idx} put back twice (it is not in use): a double release in the caller`);
  }

  /** Byte offset of slot idx in `u8` (divide by 8 for `f64`). */
  offset(idx: number): number {
    return idx * this.stride;
  }
  slotPtr(idx: number): number {
    return this.slotsPtr + idx * this.stride;
  }

  /** Fills `out` with up to n indices in one FFI call; returns how many (short: pool empty). */
  getBatch(out: Uint32Array, n = out.length): number {
    return K.bot4_pool_get_batch(this.ptr, out, Math.min(n, out.length));
  }
  /** Returns n indices in one FFI call; returns how many were refused (stray or double puts). */
  putBatch(idx: Uint32Array, n = idx.length): number {
    return K.bot4_pool_put_batch(this.ptr, idx, Math.min(n, idx.length));
  }

  get inUse(): number {
    return this.capacity - this.hdrU32[U_TOP]!;
  }
  get available(): number {
    return this.hdrU32[U_TOP]!;
  }
  stats(): PoolStats {
    const f = this.hdrF64;
    return { name: this.name, capacity: this.capacity, inUse: this.inUse, highWater: f[F_HW]!, gets: f[F_GETS]!, puts: f[F_PUTS]!, exhausted: f[F_EXH]!, badIndex: f[F_BADIDX]!, doublePuts: f[F_DOUBLE]! };
  }
}

/** Slot sizes of the engine's pools. */
export const ORDER_BYTES = 128;
export const TICK_SLOT_BYTES = 64;
export const SIGNAL_BYTES = 64;

export interface PoolConfig {
  BOT4_POOL_ORDERS: number;
  BOT4_POOL_TICKS: number;
  BOT4_POOL_SIGNALS: number;
  BOT4_HUGEPAGES: boolean;
  BOT4_MLOCK: "off" | "try" | "require";
}

export interface EnginePools {
  arena: Arena;
  orders: ObjectPool;
  ticks: ObjectPool;
  signals: ObjectPool;
  describe(): string;
  free(): void;
}

/** The engine's arena and its three pools, sized from configuration. */
export function enginePools(c: PoolConfig): EnginePools {
  const sizes = [
    ["orders", ORDER_BYTES, c.BOT4_POOL_ORDERS, "BOT4_POOL_ORDERS"],
    ["ticks", TICK_SLOT_BYTES, c.BOT4_POOL_TICKS, "BOT4_POOL_TICKS"],
    ["signals", SIGNAL_BYTES, c.BOT4_POOL_SIGNALS, "BOT4_POOL_SIGNALS"],
  ] as const;
  const bytes = sizes.reduce((a, [, b, n]) => a + ObjectPool.bytes(b, n) + 64, 64);
  const arena = Arena.create({ bytes, hugepages: c.BOT4_HUGEPAGES, mlock: c.BOT4_MLOCK });
  const [orders, ticks, signals] = sizes.map(([name, b, n, setting]) => ObjectPool.create(name, b, n, arena, setting)) as [ObjectPool, ObjectPool, ObjectPool];
  return {
    arena,
    orders,
    ticks,
    signals,
    describe: () => `arena ${arena.describe()}; pools: ${orders.capacity} orders, ${ticks.capacity} ticks, ${signals.capacity} signals`,
    free: () => arena.free(),
  };
}
