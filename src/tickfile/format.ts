/**
 * The bot4 tick file (`.b4t`): 64-byte tick records (c/tick.h, src/domain/tick.ts) stored exactly as
 * they travel through the rings, so a reader maps the file and views the records in place.
 *
 * Layout (every integer little-endian):
 *
 *   [0, 256)            header slot A
 *   [256, 512)          header slot B (same fields; the two slots are written alternately)
 *   [512, recordOffset) meta region: source text | venue table | instrument table | block index,
 *                       each section with a capacity reserved when the file is created
 *   [recordOffset, …)   record area: `count` records of 64 bytes; recordOffset is a multiple of
 *                       4096, so the records are page- (hence 64-byte-) aligned in any mapping
 *
 * Header slot (256 bytes):
 *   0   u8[8] magic "BOT4TICK"            8  u16 format version (1)        10 u16 slot (0 = A, 1 = B)
 *   12  u32 header size (512)            16  u32 flags (1 = FINISHED: closed by its writer)
 *   20  u32 record size (64)             24  u32 records per checksum block (4096)
 *   32  u64 commit sequence (+1 per checkpoint)
 *   40  u64 record count (committed)     48  u64 created (ns since the Unix epoch)
 *   56  u64 committed at (ns)
 *   64  source text   : u64 offset, u32 length, u32 capacity (UTF-8: what the file was made from)
 *   80  venue table   : same triple      96  instrument table: same     112 block index: same
 *   128 u64 record area offset
 *   144 u32 venue count                  148 u32 instrument count
 *   152 u32 records in the tail block    156 u32 CRC32 of the tail block's records
 *   160 u32 CRC32 of the source text     164 u32 CRC32 of the venue table   168 u32 CRC32 of the instrument table
 *   252 u32 CRC32 (IEEE, as zlib) of bytes 0..251 of the slot
 *   Other bytes are zero.
 *
 * Venue table entry: u16 venue id, u8 name length, name (UTF-8) — the names of src/domain/instruments.ts
 * `Venue`, or for venues that table lacks (Tardis exports of Deribit, BitMEX…) the source's own name
 * under a file-local id >= 256.
 * Instrument table entry: u32 id (entries are ids 0, 1, 2… in order), u16 venue id, u8 length + ccxt
 * unified symbol (`BTC/USDT:USDT`), u8 length + the venue's native symbol (`BTCUSDT`).
 * Block index: one u32 CRC32 per complete block of 4096 records (block k = records k*4096 … k*4096+4095).
 * The last, partial block is covered by the header's tail count and tail CRC instead, so a checksum
 * that changes as records arrive lives only in the header, never in a table rewritten in place.
 *
 * Crash safety. A writer commits (checkpoints) in this order: records, then the new table entries and
 * block-index entries (append-only: bytes a committed header refers to are never rewritten, except the
 * tail block's records, which are rewritten with the same bytes plus more), then one header slot —
 * alternately A and B, with the commit sequence +1. A killed writer therefore leaves one slot that
 * describes a fully written prefix, whatever it was doing: if it died inside a header write, that
 * slot fails its CRC and the other slot (one checkpoint older) is used. Opening with `recover` picks the
 * valid slot with the highest commit sequence and returns the records it commits that pass their
 * checks. A clean close writes both slots with FINISHED and the same sequence; a strict open accepts
 * only such a file (both slots valid, equal, FINISHED) and refuses anything else with the byte offset
 * and the reason. The writer works on `<path>.part` and renames it to `<path>` after the final fsync, so
 * a file under its final name is always a finished one.
 */
import { TICK_BYTES } from "../domain/tick.ts";

export const MAGIC = "BOT4TICK";
export const MAGIC_BYTES = new TextEncoder().encode(MAGIC);
export const FORMAT_VERSION = 1;
export const SLOT_BYTES = 256;
export const HEADER_BYTES = 2 * SLOT_BYTES;
export const RECORD_BYTES = TICK_BYTES;
export const BLOCK_RECORDS = 4096;
export const BLOCK_BYTES = BLOCK_RECORDS * RECORD_BYTES;
/** the record area starts on a page boundary */
export const RECORD_ALIGN = 4096;
export const FLAG_FINISHED = 1;
/** venue ids at or above this are file-local (named only in the venue table) */
export const LOCAL_VENUE_BASE = 256;

/** Byte offsets inside one header slot. */
export const H = {
  magic: 0,
  version: 8,
  slot: 10,
  headerSize: 12,
  flags: 16,
  recordSize: 20,
  blockRecords: 24,
  commitSeq: 32,
  count: 40,
  createdNs: 48,
  committedNs: 56,
  source: 64,
  venues: 80,
  instruments: 96,
  blockIndex: 112,
  recordOffset: 128,
  venueCount: 144,
  instrumentCount: 148,
  tailRecords: 152,
  tailCrc: 156,
  sourceCrc: 160,
  venuesCrc: 164,
  instrumentsCrc: 168,
  crc: 252,
} as const;

/** A section of the meta region: where it starts, how many bytes it holds now, how many it may hold. */
export interface Section {
  offset: number;
  length: number;
  capacity: number;
}

export interface HeaderFields {
  slot: number;
  flags: number;
  commitSeq: number;
  count: number;
  createdNs: bigint;
  committedNs: bigint;
  source: Section;
  venues: Section;
  instruments: Section;
  blockIndex: Section;
  recordOffset: number;
  venueCount: number;
  instrumentCount: number;
  tailRecords: number;
  tailCrc: number;
  sourceCrc: number;
  venuesCrc: number;
  instrumentsCrc: number;
}

/** A file that is not a valid tick file, or a damaged one; the message says at which byte and why. */
export class TickFileError extends Error {
  override name = "TickFileError";
  constructor(
    message: string,
    /** byte offset of the problem in the file (-1 when it has none) */
    readonly offset = -1,
  ) {
    super(message);
  }
}

export const crc32 = (bytes: Uint8Array): number => Bun.hash.crc32(bytes) >>> 0;

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

/** Encodes one header slot (256 bytes) with its CRC. */
export function encodeSlot(h: HeaderFields): Uint8Array {
  const b = new Uint8Array(SLOT_BYTES);
  const v = new DataView(b.buffer);
  b.set(MAGIC_BYTES, H.magic);
  v.setUint16(H.version, FORMAT_VERSION, true);
  v.setUint16(H.slot, h.slot, true);
  v.setUint32(H.headerSize, HEADER_BYTES, true);
  v.setUint32(H.flags, h.flags, true);
  v.setUint32(H.recordSize, RECORD_BYTES, true);
  v.setUint32(H.blockRecords, BLOCK_RECORDS, true);
  v.setBigUint64(H.commitSeq, BigInt(h.commitSeq), true);
  v.setBigUint64(H.count, BigInt(h.count), true);
  v.setBigUint64(H.createdNs, h.createdNs, true);
  v.setBigUint64(H.committedNs, h.committedNs, true);
  const sec = (at: number, s: Section) => {
    v.setBigUint64(at, BigInt(s.offset), true);
    v.setUint32(at + 8, s.length, true);
    v.setUint32(at + 12, s.capacity, true);
  };
  sec(H.source, h.source);
  sec(H.venues, h.venues);
  sec(H.instruments, h.instruments);
  sec(H.blockIndex, h.blockIndex);
  v.setBigUint64(H.recordOffset, BigInt(h.recordOffset), true);
  v.setUint32(H.venueCount, h.venueCount, true);
  v.setUint32(H.instrumentCount, h.instrumentCount, true);
  v.setUint32(H.tailRecords, h.tailRecords, true);
  v.setUint32(H.tailCrc, h.tailCrc, true);
  v.setUint32(H.sourceCrc, h.sourceCrc, true);
  v.setUint32(H.venuesCrc, h.venuesCrc, true);
  v.setUint32(H.instrumentsCrc, h.instrumentsCrc, true);
  v.setUint32(H.crc, crc32(b.subarray(0, H.crc)), true);
  return b;
}

/**
 * Decodes and checks one slot that starts at file offset `base` (0 or 256). Returns the fields, or a
 * TickFileError naming the first bad field's offset.
 */
export function decodeSlot(file: Uint8Array, base: number): HeaderFields | TickFileError {
  const name = base === 0 ? "A" : "B";
  const b = file.subarray(base, base + SLOT_BYTES);
  const v = new DataView(b.buffer, b.byteOffset, SLOT_BYTES);
  for (let i = 0; i < 8; i++) {
    if (b[i] !== MAGIC_BYTES[i]) {
      const got = new TextDecoder().decode(b.subarray(0, 8)).replace(/[^\x20-\x7e]/g, "?");
      return new TickFileError(`bad magic at ${base + i}: header slot ${name} starts "${got}", a bot4 tick file starts "${MAGIC}"`, base + i);
    }
  }
  const stored = v.getUint32(H.crc, true);
  const computed = crc32(b.subarray(0, H.crc));
  if (stored !== computed) {
    return new TickFileError(`header slot ${name} CRC mismatch at offset ${base}..${base + SLOT_BYTES - 1} (stored ${hex(stored)} at ${base + H.crc}, computed ${hex(computed)})`, base);
  }
  const version = v.getUint16(H.version, true);
  if (version !== FORMAT_VERSION) {
    return new TickFileError(`unsupported format version ${version} at offset ${base + H.version} (this bot4 reads version ${FORMAT_VERSION})`, base + H.version);
  }
  const expect = (at: number, want: number, what: string, got: number): TickFileError | null =>
    got === want ? null : new TickFileError(`header slot ${name}: ${what} is ${got} at offset ${base + at}, expected ${want}`, base + at);
  const e =
    expect(H.slot, base === 0 ? 0 : 1, "slot number", v.getUint16(H.slot, true)) ??
    expect(H.headerSize, HEADER_BYTES, "header size", v.getUint32(H.headerSize, true)) ??
    expect(H.recordSize, RECORD_BYTES, "record size", v.getUint32(H.recordSize, true)) ??
    expect(H.blockRecords, BLOCK_RECORDS, "records per block", v.getUint32(H.blockRecords, true));
  if (e) return e;
  const n = (at: number) => Number(v.getBigUint64(at, true));
  const sec = (at: number): Section => ({ offset: n(at), length: v.getUint32(at + 8, true), capacity: v.getUint32(at + 12, true) });
  return {
    slot: v.getUint16(H.slot, true),
    flags: v.getUint32(H.flags, true),
    commitSeq: n(H.commitSeq),
    count: n(H.count),
    createdNs: v.getBigUint64(H.createdNs, true),
    committedNs: v.getBigUint64(H.committedNs, true),
    source: sec(H.source),
    venues: sec(H.venues),
    instruments: sec(H.instruments),
    blockIndex: sec(H.blockIndex),
    recordOffset: n(H.recordOffset),
    venueCount: v.getUint32(H.venueCount, true),
    instrumentCount: v.getUint32(H.instrumentCount, true),
    tailRecords: v.getUint32(H.tailRecords, true),
    tailCrc: v.getUint32(H.tailCrc, true),
    sourceCrc: v.getUint32(H.sourceCrc, true),
    venuesCrc: v.getUint32(H.venuesCrc, true),
    instrumentsCrc: v.getUint32(H.instrumentsCrc, true),
  };
}

/** One row of the instrument table. */
export interface InstrumentEntry {
  id: number;
  venue: number;
  /** ccxt unified symbol */
  symbol: string;
  /** the venue's own symbol */
  native: string;
}

const enc = new TextEncoder();

function shortString(s: string, what: string): Uint8Array {
  const b = enc.encode(s);
  if (b.length > 255) throw new TickFileError(`${what} "${s.slice(0, 40)}…" is ${b.length} bytes; at most 255 fit a tick file table`);
  return b;
}

export function encodeVenue(id: number, name: string): Uint8Array {
  const nb = shortString(name, "venue name");
  const b = new Uint8Array(3 + nb.length);
  new DataView(b.buffer).setUint16(0, id, true);
  b[2] = nb.length;
  b.set(nb, 3);
  return b;
}

export function encodeInstrument(e: InstrumentEntry): Uint8Array {
  const s = shortString(e.symbol, "symbol"), n = shortString(e.native, "native symbol");
  const b = new Uint8Array(8 + s.length + n.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, e.id, true);
  v.setUint16(4, e.venue, true);
  b[6] = s.length;
  b.set(s, 7);
  b[7 + s.length] = n.length;
  b.set(n, 8 + s.length);
  return b;
}

const dec = new TextDecoder("utf-8", { fatal: true });

/** Parses the venue table (its bytes at file offset `base`); TickFileError at the entry that does not parse. */
export function decodeVenues(b: Uint8Array, count: number, base: number): Map<number, string> {
  const out = new Map<number, string>();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 3 > b.length || at + 3 + b[at + 2]! > b.length) throw new TickFileError(`venue table entry ${i} at offset ${base + at} runs past the table's ${b.length} bytes`, base + at);
    const id = v.getUint16(at, true), len = b[at + 2]!;
    let name: string;
    try {
      name = dec.decode(b.subarray(at + 3, at + 3 + len));
    } catch {
      throw new TickFileError(`venue table entry ${i} at offset ${base + at} is not UTF-8`, base + at);
    }
    if (out.has(id)) throw new TickFileError(`venue table entry ${i} at offset ${base + at} repeats venue id ${id}`, base + at);
    out.set(id, name);
    at += 3 + len;
  }
  if (at !== b.length) throw new TickFileError(`venue table holds ${b.length - at} bytes after its ${count} entries, at offset ${base + at}`, base + at);
  return out;
}

export function decodeInstruments(b: Uint8Array, count: number, base: number, venues: Map<number, string>): InstrumentEntry[] {
  const out: InstrumentEntry[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const bad = (why: string) => new TickFileError(`instrument table entry ${i} at offset ${base + at}: ${why}`, base + at);
    if (at + 8 > b.length) throw bad(`runs past the table's ${b.length} bytes`);
    const id = v.getUint32(at, true), venue = v.getUint16(at + 4, true), sl = b[at + 6]!;
    if (at + 8 + sl > b.length) throw bad(`runs past the table's ${b.length} bytes`);
    const nl = b[at + 7 + sl]!;
    if (at + 8 + sl + nl > b.length) throw bad(`runs past the table's ${b.length} bytes`);
    if (id !== i) throw bad(`holds id ${id}, expected ${i} (ids are dense and in order)`);
    if (!venues.has(venue)) throw bad(`names venue ${venue}, which the venue table lacks`);
    let symbol: string, native: string;
    try {
      symbol = dec.decode(b.subarray(at + 7, at + 7 + sl));
      native = dec.decode(b.subarray(at + 8 + sl, at + 8 + sl + nl));
    } catch {
      throw bad("is not UTF-8");
    }
    out.push({ id, venue, symbol, native });
    at += 8 + sl + nl;
  }
  if (at !== b.length) throw new TickFileError(`instrument table holds ${b.length - at} bytes after its ${count} entries, at offset ${base + at}`, base + at);
  return out;
}
