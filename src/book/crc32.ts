/**
 * CRC-32 as zlib computes it (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final
 * XOR 0xFFFFFFFF) — the checksum Kraken and OKX put on their books.
 *
 * Three ways in, none allocating per call:
 *   - `crc32(data)`: a whole string (its UTF-8 bytes; for ASCII, its characters) or a byte array,
 *     unsigned result, through Bun.hash.crc32 — native, ~0.4 ns/byte against 3-8 ns/byte for the
 *     table loop in JavaScript (the dependent chain of lookups does not vectorise), and already
 *     ahead at 40 bytes (bench/checksum.bench.ts);
 *   - `Crc32Scratch`: for checksums assembled from many small pieces (price and size strings with
 *     characters skipped or separators added) — the caller copies the bytes into a preallocated
 *     buffer and one native call hashes them; no string is built. This is what the Kraken and OKX
 *     books use;
 *   - the streaming table form `crc32Begin()` → `crc32Char`/`crc32Ascii`… → `crc32End()`, a byte at
 *     a time: the reference the tests hold the native path to, and the bench's comparison.
 *     The running state is an int32 number; only `crc32End` makes it the unsigned result.
 */

/** The 256-entry lookup table of the reflected IEEE polynomial. */
export const CRC32_TABLE: Int32Array = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Running state before the first byte. */
export function crc32Begin(): number {
  return -1; // 0xFFFFFFFF as int32
}

/** Feeds one byte (0..255); an ASCII character code is its byte. */
export function crc32Char(crc: number, byte: number): number {
  return CRC32_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
}

/** Feeds characters [from, to) of an ASCII string. */
export function crc32Ascii(crc: number, s: string, from = 0, to = s.length): number {
  const t = CRC32_TABLE;
  for (let i = from; i < to; i++) crc = t[(crc ^ s.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** Feeds bytes [from, to) of a byte array. */
export function crc32Bytes(crc: number, b: Uint8Array, from = 0, to = b.length): number {
  const t = CRC32_TABLE;
  for (let i = from; i < to; i++) crc = t[(crc ^ b[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** Final XOR; the checksum as an unsigned 32-bit number (zlib's value). */
export function crc32End(crc: number): number {
  return (crc ^ -1) >>> 0;
}

/** The checksum as a signed 32-bit number (what OKX sends). */
export function crc32EndSigned(crc: number): number {
  return crc ^ -1;
}

/** CRC-32 of a whole string (UTF-8 bytes; for ASCII, the characters) or byte array, unsigned. */
export function crc32(data: string | Uint8Array): number {
  return Bun.hash.crc32(data);
}

/** The same through the table loop alone (reference for tests and the bench; ASCII strings only). */
export function crc32Table(data: string | Uint8Array): number {
  return crc32End(typeof data === "string" ? crc32Ascii(crc32Begin(), data) : crc32Bytes(crc32Begin(), data));
}

/** Signed reinterpretation of an unsigned CRC (OKX's `checksum` field is a signed int32). */
export function toSigned32(u: number): number {
  return u | 0;
}

/**
 * A reusable byte buffer hashed in one native call: `reset()`, append bytes (`ascii`, `byte`, or
 * write `buf` directly after `reserve`), then `crc32()`. The views handed to Bun.hash.crc32 are
 * cached per length, so after warm-up nothing is allocated.
 */
export class Crc32Scratch {
  buf: Uint8Array;
  len = 0;
  private views: Uint8Array[] = [];

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  reset(): void {
    this.len = 0;
  }

  /** Makes room for `n` more bytes (the buffer doubles; cached views are dropped). */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.views = [];
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Appends an ASCII string's characters (each char code & 0xff). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const b = this.buf;
    let len = this.len;
    for (let i = 0; i < n; i++) b[len++] = s.charCodeAt(i);
    this.len = len;
  }

  /** CRC-32 of the bytes appended since `reset()`, unsigned. */
  crc32(): number {
    const n = this.len;
    const v = (this.views[n] ??= this.buf.subarray(0, n));
    return Bun.hash.crc32(v);
  }
}
