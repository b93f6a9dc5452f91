/**
 * JournalRing: the write-ahead log of the order journal, a ring of fixed 256-byte records in a
 * file mapped MAP_SHARED (Bun.mmap).
 *
 * Why a mapped file and not a SharedArrayBuffer: a store into a MAP_SHARED page is in the kernel's
 * page cache the moment it retires, so it survives the process being killed (kill -9, OOM, a
 * crash) without a system call. That makes the write-ahead rule cheap: the hot path writes the
 * order intent into the ring (tens of ns, no syscall, no allocation) and only then hands the
 * request to the gateway, so every order that can reach the venue is on disk first. The journal
 * worker maps the same file, moves records into sqlite in batched transactions and publishes how
 * far it got (`applied`); on start the records past `applied` are replayed into sqlite before
 * anything else happens. What this does not survive is the machine losing power before the kernel
 * writes the page back (seconds); sqlite's synchronous=FULL has the same limit for the ring tail,
 * and FULL only makes the rows already in sqlite power-safe. Stated in the journal's header.
 *
 * Record validity: a slot is a record of sequence `seq` iff its stamp (first f64) equals `seq`.
 * The producer writes every other field first and the stamp last (Atomics.store, seq_cst), so a
 * record torn by a kill has a stale stamp and is ignored — and it was never sent, because the
 * gateway is called only after append returns. Sequences are global across sessions (they
 * continue from what sqlite has applied), so a stale stamp from an earlier lap or session never
 * matches.
 *
 * Single producer (the engine thread), single consumer (the journal worker, or the replay at
 * start when no worker runs). The producer re-reads `applied` only when its cached copy says the
 * ring is full; a ring that is really full refuses the append (returns false, counted) rather
 * than block the hot path or let an unjournaled order through.
 */
import { closeSync, existsSync, ftruncateSync, openSync, statSync } from "node:fs";

export const RING_MAGIC = 0x47523442; // "B4RG" little-endian
export const RING_VERSION = 1;
export const RING_HEADER_BYTES = 4096; // one page: slots start page-aligned
export const SLOT_BYTES = 256;
const SLOT_F64 = SLOT_BYTES / 8;

/** header words (Int32 / Float64 views over the first page) */
const H_MAGIC = 0; // i32
const H_VERSION = 1; // i32
const H_SLOT_BYTES = 2; // i32
const H_SLOTS = 3; // i32
const H_APPLIED_F64 = 2; // f64 index 2 = bytes 16..24: last sequence sqlite has committed
/**
 * f64 index 3: wall-clock ms, refreshed by the worker at every poll (<= ~1 ms old while it is
 * idle). Records take their timestamp from here: Date.now() costs ~60 ns on this box, a third of
 * the hot path's budget. A lag L makes an intent look L older, which shortens recovery's
 * in-flight grace by L (ms against a grace of seconds).
 */
export const H_CLOCK_F64 = 3;

/** record kinds */
export const K_SUBMIT = 1;
export const K_CANCEL = 2;
export const K_ROUTE = 3;
export const K_ACK = 4;
export const K_FILL = 5;
export const K_CANCELLED = 6;
export const K_REJECTED = 7;
export const K_EXPIRED = 8;
export const K_CANCEL_REJECTED = 9;

/** f64 field indexes inside a slot */
export const F_STAMP = 0;
export const F_KIND = 1;
export const F_ROUTE = 2;
export const F_FLAGS = 3;
export const F_TS_MS = 4;
export const F_PRICE = 5; // price of a submit, lastPrice of a fill
export const F_AMOUNT = 6; // amount of a submit, lastAmount of a fill
export const F_FILLED = 7;
export const F_REMAINING = 8;
export const F_FEE = 9;
export const F_VENUE_MS = 10;

/** byte offsets of the length-prefixed ASCII string fields inside a slot */
export const S_CID = 96; // client order id (max 39); venue name in a route record
export const S_CID_MAX = 39;
export const S_VID = 136; // venue order id (max 31); strategy in a route record
export const S_VID_MAX = 31;
export const S_TID = 168; // trade id (max 31)
export const S_TID_MAX = 31;
export const S_TEXT = 200; // reason (max 55, truncated); symbol in a route record
export const S_TEXT_MAX = 55;

/** flag bits */
export const FL_SELL = 1;
export const FL_MARKET = 2;
export const FL_TIF_SHIFT = 2; // 2 bits: 0 GTC, 1 IOC, 2 FOK, 3 PO
export const FL_REDUCE_ONLY = 16;
export const FL_TAKER = 32;
export const FL_NO_PRICE = 64;
/** a venue order recovery found and the journal did not know (origin 'adopted') */
export const FL_ADOPTED = 128;

export interface RingCounters {
  /** appends refused because the worker had not freed a slot */
  full: number;
  /** strings that did not fit or were not printable ASCII (the append was refused) */
  badString: number;
}

export class JournalRing {
  readonly path: string;
  readonly slots: number;
  readonly mask: number;
  readonly bytes: Uint8Array;
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly counters: RingCounters = { full: 0, badString: 0 };

  private constructor(path: string, map: Uint8Array) {
    this.path = path;
    this.bytes = map;
    this.f64 = new Float64Array(map.buffer, map.byteOffset, map.byteLength >> 3);
    this.i32 = new Int32Array(map.buffer, map.byteOffset, map.byteLength >> 2);
    this.slots = this.i32[H_SLOTS]!;
    this.mask = this.slots - 1;
  }

  /**
   * Maps the ring file, creating it (zeroed) when absent. An existing file of another layout is
   * refused with the path and what to do: the ring may hold records sqlite has not seen yet.
   */
  static open(path: string, slots = 1 << 16): JournalRing {
    if (!(slots >= 16 && (slots & (slots - 1)) === 0)) throw new RangeError(`journal ring: slots must be a power of two >= 16, got ${slots}`);
    const size = RING_HEADER_BYTES + slots * SLOT_BYTES;
    if (!existsSync(path)) {
      const fd = openSync(path, "w+");
      try {
        ftruncateSync(fd, size);
      } finally {
        closeSync(fd);
      }
      const m = Bun.mmap(path);
      const i32 = new Int32Array(m.buffer, m.byteOffset, 4);
      i32[H_VERSION] = RING_VERSION;
      i32[H_SLOT_BYTES] = SLOT_BYTES;
      i32[H_SLOTS] = slots;
      Atomics.store(i32, H_MAGIC, RING_MAGIC);
    }
    const st = statSync(path);
    if (st.size < RING_HEADER_BYTES) throw new Error(`journal ring ${path}: ${st.size} bytes is not a Bot4 journal ring; move it away if it is not yours (a Bot4 ring would hold unjournaled orders)`);
    const m = Bun.mmap(path);
    const i32 = new Int32Array(m.buffer, m.byteOffset, 4);
    if (i32[H_MAGIC] !== RING_MAGIC || i32[H_VERSION] !== RING_VERSION || i32[H_SLOT_BYTES] !== SLOT_BYTES) {
      throw new Error(`journal ring ${path}: not a Bot4 journal ring of version ${RING_VERSION} (magic/version/slot size differ); it is not safe to overwrite — move it away, or replay it with the Bot4 version that wrote it`);
    }
    const n = i32[H_SLOTS]!;
    if (!(n >= 16 && (n & (n - 1)) === 0) || st.size !== RING_HEADER_BYTES + n * SLOT_BYTES) {
      throw new Error(`journal ring ${path}: header says ${n} slots but the file has ${st.size} bytes; the file is damaged — move it away and recover from the venue`);
    }
    return new JournalRing(path, m);
  }

  /** last sequence committed to sqlite (written by the consumer after each commit) */
  get applied(): number {
    return this.f64[H_APPLIED_F64]!;
  }
  setApplied(seq: number): void {
    this.f64[H_APPLIED_F64] = seq;
  }

  setClock(ms: number): void {
    this.f64[H_CLOCK_F64] = ms;
  }

  /**
   * Touches every page of the mapping so the hot path does not take the first-write fault of a
   * file page (one per 16 records on the first lap). Cold path, at open.
   */
  prefault(): void {
    const b = this.bytes;
    for (let i = RING_HEADER_BYTES; i < b.length; i += 4096) b[i] = b[i]!;
  }

  /** f64 index of the slot that holds sequence seq */
  slotF64(seq: number): number {
    return (RING_HEADER_BYTES >> 3) + (seq & this.mask) * SLOT_F64;
  }
  /** byte offset of the slot that holds sequence seq */
  slotByte(seq: number): number {
    return RING_HEADER_BYTES + (seq & this.mask) * SLOT_BYTES;
  }

  /** reads a length-prefixed ASCII string field (cold path and consumer) */
  readString(seq: number, off: number): string {
    const b = this.slotByte(seq) + off;
    const n = this.bytes[b]!;
    let s = "";
    for (let i = 1; i <= n; i++) s += String.fromCharCode(this.bytes[b + i]!);
    return s;
  }

  /** true if the slot holds a valid record of sequence seq */
  valid(seq: number): boolean {
    return this.f64[this.slotF64(seq)] === seq;
  }
}

/**
 * Writes an ASCII string into a slot field without allocating; returns false if it is too long or
 * holds a character outside printable ASCII (client ids, venue ids, trade ids, symbols).
 */
export function writeAscii(bytes: Uint8Array, at: number, s: string, max: number): boolean {
  const n = s.length;
  if (n > max) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c > 126) return false;
    bytes[at + 1 + i] = c;
  }
  bytes[at] = n;
  return true;
}

/** Like writeAscii, but truncates and replaces non-ASCII (free text: reject reasons). */
export function writeText(bytes: Uint8Array, at: number, s: string, max: number): void {
  const n = s.length < max ? s.length : max;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    bytes[at + 1 + i] = c >= 32 && c <= 126 ? c : 63;
  }
  bytes[at] = n;
}

export const TIF_CODES = ["GTC", "IOC", "FOK", "PO"] as const;
