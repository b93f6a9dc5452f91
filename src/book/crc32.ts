/**
 * CRC-32 as zlib computes it (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final
 * XOR 0xFFFFFFFF) — the checksum Kraken and OKX put on their books.
 *
 * Two ways in, neither allocating per call:
 *   - `crc32(data)`: a whole ASCII string or a byte array, unsigned result. Strings go to
 *     Bun.hash.crc32 (native, measured faster than the table loop from ~40 bytes up:
 *     bench/checksum.bench.ts); a string holding a non-ASCII character is hashed as its UTF-8 bytes,
 *     which is what Bun does too.
 *   - the streaming form `crc32Begin()` → `crc32Char`/`crc32Ascii`… → `crc32End()`: a
 *     table-driven update a byte at a time, for checksums assembled from many small pieces
 *     (price and size strings, with characters skipped) without building the concatenated string.
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
