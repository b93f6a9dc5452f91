/**
 * Rings of 64-byte tick records in C memory (c/ring.h), used from any Worker of the process.
 *
 * A ring's handle is its address (a number, passed to Workers in workerData); `attach(handle)`
 * checks the header's magic and geometry and builds typed-array views over the header and the
 * records. TypeScript reads and writes records in place through `f64` / `u32` / `u8` (slot s of
 * the ring is elements s*8..s*8+7 of `f64`), never through per-record objects.
 *
 * SPSC protocol from TypeScript (each step one FFI call, ~3 ns; the C side does the
 * acquire/release loads and stores, and an FFI call is a compiler barrier for the JIT, so record
 * writes cannot move past a publish):
 *   producer: n = claim(want); h = headSlot; write slots (h+k) & mask, k < n; publish(n)
 *   consumer: n = available(max); t = tailSlot; read slots (t+k) & mask, k < n; release(n)
 * A producer that cannot wait (a live feed) counts what it could not place with `drop(n)`; the
 * count is readable from any thread as `drops`. Batched copies (push/pop) run in C.
 *
 * One producer thread and one consumer thread per SpscRing; MpmcRing takes any number of each.
 * The memory lives until `free()`: free a ring only after every thread using it has stopped.
 */
import { toArrayBuffer } from "bun:ffi";
import { K } from "./lib.ts";
import { RingConst, RingOffset } from "./sym/ring.ts";

export { RingConst } from "./sym/ring.ts";

export class RingError extends Error {
  override name = "RingError";
}

const CHECK_REASON: Record<number, string> = {
  [-1]: "the handle is null",
  [-2]: "no ring lives at that address (bad magic: never created, or already freed)",
  [-3]: "the ring was made by a different version of the kernel library",
  [-4]: "the ring header's geometry is inconsistent (memory overwritten?)",
};

const create_ = K.bot4_ring_create;
const check_ = K.bot4_ring_check;
const destroy_ = K.bot4_ring_destroy;
const claim_ = K.bot4_ring_claim;
const publish_ = K.bot4_ring_publish;
const available_ = K.bot4_ring_available;
const availableAfter_ = K.bot4_ring_available_after;
const release_ = K.bot4_ring_release;
const push_ = K.bot4_ring_push;
const pushDrop_ = K.bot4_ring_push_drop;
const pop_ = K.bot4_ring_pop;
const mpush_ = K.bot4_mpmc_push;
const mpushDrop_ = K.bot4_mpmc_push_drop;
const mpop_ = K.bot4_mpmc_pop;

const U_HEAD = RingOffset.head / 4;
const U_TAIL = RingOffset.tail / 4;
const F_DROPS = RingOffset.drops / 8;
const F_FULL = RingOffset.full_waits / 8;
const F_EMPTY = RingOffset.empty_polls / 8;

function validCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < RingConst.MIN_CAPACITY || capacity > RingConst.MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RingError(`ring capacity ${capacity} is not a power of two in [${RingConst.MIN_CAPACITY}, ${RingConst.MAX_CAPACITY}]: set BOT4_RING_CAPACITY to one (e.g. 65536)`);
  }
}

function make(kind: number, capacity: number): number {
  validCapacity(capacity);
  const p = create_(kind, capacity);
  if (!p) throw new RingError(`could not map ${(RingConst.HEADER + capacity * RingConst.RECORD) / 1048576} MiB for a ring of ${capacity} records: lower BOT4_RING_CAPACITY or free memory`);
  return Number(p);
}

function checked(handle: number, want: number): void {
  if (typeof handle !== "number" || !Number.isSafeInteger(handle) || handle <= 0) throw new RingError(`not a ring handle: ${String(handle)}`);
  const rc = check_(handle);
  if (rc !== 0) throw new RingError(`cannot attach ring ${handle.toString(16)}: ${CHECK_REASON[rc] ?? `check failed (${rc})`}`);
  const kind = new Uint32Array(toArrayBuffer(handle, 0, RingConst.HEADER))[RingOffset.kind / 4];
  if (kind !== want) throw new RingError(`ring ${handle.toString(16)} is ${kind === RingConst.SPSC ? "SPSC" : "MPMC"}, attached as ${want === RingConst.SPSC ? "SPSC" : "MPMC"}`);
}

/** Views shared by both kinds. */
abstract class RingBase {
  readonly capacity: number;
  readonly mask: number;
  /** address of slot 0 (records are 64-byte aligned) */
  readonly recordsPtr: number;
  /** records viewed as doubles (8 per slot), 32-bit words (16 per slot) and bytes (64 per slot) */
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly u8: Uint8Array;
  protected readonly hdrU32: Uint32Array;
  protected readonly hdrF64: Float64Array;

  protected constructor(readonly ptr: number) {
    const hdr = toArrayBuffer(ptr, 0, RingConst.HEADER);
    this.hdrU32 = new Uint32Array(hdr);
    this.hdrF64 = new Float64Array(hdr);
    this.capacity = this.hdrU32[RingOffset.capacity / 4]!;
    this.mask = this.capacity - 1;
    this.recordsPtr = ptr + RingConst.HEADER;
    const recs = toArrayBuffer(this.recordsPtr, 0, this.capacity * RingConst.RECORD);
    this.f64 = new Float64Array(recs);
    this.u32 = new Uint32Array(recs);
    this.u8 = new Uint8Array(recs);
  }

  /** The number to pass to another Worker, which calls `attach(handle)`. */
  get handle(): number {
    return this.ptr;
  }
  /** Records in the ring now (a snapshot). */
  get size(): number {
    return K.bot4_ring_size(this.ptr);
  }
  /** Records refused because the ring was full (counted by push_drop / drop). */
  get drops(): number {
    return this.hdrF64[F_DROPS]!;
  }
  /** Producer polls that found the ring full. */
  get fullWaits(): number {
    return this.hdrF64[F_FULL]!;
  }
  /** Consumer polls that found it empty. */
  get emptyPolls(): number {
    return this.hdrF64[F_EMPTY]!;
  }
  /** Unmaps the ring. Every thread must have stopped using it; its views are dead afterwards. */
  free(): void {
    destroy_(this.ptr);
  }
}

export class SpscRing extends RingBase {
  static create(capacity: number): SpscRing {
    return new SpscRing(make(RingConst.SPSC, capacity));
  }
  static attach(handle: number): SpscRing {
    checked(handle, RingConst.SPSC);
    return new SpscRing(handle);
  }

  // ---- producer ----
  /** Room for up to `want` records (0 when full). */
  claim(want: number): number {
    return claim_(this.ptr, want);
  }
  /** Index of the first claimed slot (free-running; slot = (headSlot + k) & mask). */
  get headSlot(): number {
    return this.hdrU32[U_HEAD]!;
  }
  /** Makes the next n claimed records visible to the consumer. */
  publish(n: number): void {
    publish_(this.ptr, n);
  }
  /** Counts n records the producer could not place (never silent). */
  drop(n: number): void {
    this.hdrF64[F_DROPS] = this.hdrF64[F_DROPS]! + n;
  }
  /** Copies n records from `src` (an address) into the ring; returns how many fit. */
  push(src: number, n: number): number {
    return push_(this.ptr, src, n);
  }
  /** As push, counting the records that did not fit as drops. */
  pushDrop(src: number, n: number): number {
    return pushDrop_(this.ptr, src, n);
  }

  // ---- consumer ----
  /** Records ready to read, at most `max`. */
  available(max: number): number {
    return available_(this.ptr, max);
  }
  /**
   * Records ready after the first `held` ones (read, not yet released), at most `max`; they start
   * at index tailSlot + held. A consumer that releases every few thousand records instead of
   * after each batch stops the ping-pong of the ring's two index lines between the cores.
   */
  availableAfter(held: number, max: number): number {
    return availableAfter_(this.ptr, held, max);
  }
  /** Index of the first ready record (free-running; slot = (tailSlot + k) & mask). */
  get tailSlot(): number {
    return this.hdrU32[U_TAIL]!;
  }
  /** Hands the next n read records back to the producer. */
  release(n: number): void {
    release_(this.ptr, n);
  }
  /** Copies up to `max` records out to `dst` (an address); returns how many. */
  pop(dst: number, max: number): number {
    return pop_(this.ptr, dst, max);
  }
}

/** Many producers, many consumers (Vyukov's bounded queue); batched copies through C. */
export class MpmcRing extends RingBase {
  static create(capacity: number): MpmcRing {
    return new MpmcRing(make(RingConst.MPMC, capacity));
  }
  static attach(handle: number): MpmcRing {
    checked(handle, RingConst.MPMC);
    return new MpmcRing(handle);
  }
  push(src: number, n: number): number {
    return mpush_(this.ptr, src, n);
  }
  pushDrop(src: number, n: number): number {
    return mpushDrop_(this.ptr, src, n);
  }
  pop(dst: number, max: number): number {
    return mpop_(this.ptr, dst, max);
  }
}
