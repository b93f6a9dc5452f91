/**
 * TickFile: a `.b4t` file (format.ts) mapped with Bun.mmap and checked before any record is handed
 * out. The records are typed-array views over the mapping — no copy of the record area is made; a
 * record at index i is `f64[i * 8 + T.PRICE_F64]` etc., as in a ring or a TickBuffer.
 *
 * A strict open (the default) accepts only a finished file whose every byte checks: both header slots
 * valid and equal, sections inside the meta region, the record area as long as the header says and no
 * longer, the source text and both tables matching their CRCs, every block and the tail matching its
 * CRC, and every record naming an instrument of the table on that instrument's venue, with a known kind.
 * Anything else is refused with a TickFileError giving the byte offset and the reason.
 *
 * `recover: true` opens what a killed writer left (or a damaged copy): the valid header slot with the
 * highest commit sequence, then the longest prefix of its committed records that is present and
 * checks — whole blocks by CRC, then record by record for the table checks. `recovery` says how many
 * records were committed, how many are returned, and why the rest were not.
 *
 * The mapping is private (copy-on-write) and lives as long as any view of it; there is no unmap call
 * in Bun, so drop the TickFile (and its views) to release it.
 */
import { statSync } from "node:fs";
import { addressOfView } from "../../ffi/buffers.ts";
import { InstrumentTable } from "../domain/instruments.ts";
import { T, TICK_U32, TickKind } from "../domain/tick.ts";
import {
  BLOCK_BYTES,
  BLOCK_RECORDS,
  crc32,
  decodeInstruments,
  decodeSlot,
  decodeVenues,
  FLAG_FINISHED,
  H,
  HEADER_BYTES,
  type HeaderFields,
  hex,
  type InstrumentEntry,
  RECORD_ALIGN,
  RECORD_BYTES,
  type Section,
  SLOT_BYTES,
  TickFileError,
} from "./format.ts";

export interface TickFileOpenOptions {
  /** return the valid prefix of an unfinished or damaged file instead of refusing it */
  recover?: boolean;
}

export interface Recovery {
  /** header slot used */
  slot: "A" | "B";
  /** the file was closed by its writer */
  finished: boolean;
  /** records the header commits */
  committed: number;
  /** records returned (a prefix of those) */
  valid: number;
  /** why records were left out (null when none were) */
  reason: string | null;
  /** problems with the other header slot, if any */
  otherSlot: string | null;
}

const MAX_KIND = TickKind.status;

export class TickFile {
  readonly count: number;
  readonly finished: boolean;
  readonly createdNs: bigint;
  readonly committedNs: bigint;
  readonly commitSeq: number;
  readonly source: string;
  readonly venues: Map<number, string>;
  readonly instruments: InstrumentEntry[];
  /** record area offset in the file */
  readonly recordOffset: number;
  /** the records, as bytes / doubles / words / half-words / u64 — views over the mapping */
  readonly bytes: Uint8Array;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly u16: Uint16Array;
  readonly u64: BigUint64Array;
  /** set by a `recover` open */
  readonly recovery: Recovery | null;

  private constructor(
    readonly path: string,
    readonly fileBytes: number,
    map: Uint8Array,
    h: HeaderFields,
    tables: { source: string; venues: Map<number, string>; instruments: InstrumentEntry[] },
    valid: number,
    recovery: Recovery | null,
  ) {
    this.count = valid;
    this.finished = (h.flags & FLAG_FINISHED) !== 0;
    this.createdNs = h.createdNs;
    this.committedNs = h.committedNs;
    this.commitSeq = h.commitSeq;
    this.source = tables.source;
    this.venues = tables.venues;
    this.instruments = tables.instruments;
    this.recordOffset = h.recordOffset;
    const base = map.byteOffset + h.recordOffset;
    this.bytes = map.subarray(h.recordOffset, h.recordOffset + valid * RECORD_BYTES);
    this.f64 = new Float64Array(map.buffer, base, valid * 8);
    this.u32 = new Uint32Array(map.buffer, base, valid * 16);
    this.u16 = new Uint16Array(map.buffer, base, valid * 32);
    this.u64 = new BigUint64Array(map.buffer, base, valid * 8);
    this.recovery = recovery;
  }

  /** Address of record 0 (for C batch copies such as SpscRing.push); 0 for an empty file. */
  get recordsPtr(): number {
    return this.count > 0 ? addressOfView(this.bytes) : 0;
  }

  /** The instrument table as the engine uses it (ids equal the file's). */
  instrumentTable(): InstrumentTable {
    return InstrumentTable.from({ symbols: this.instruments.map((i) => i.symbol), venues: this.instruments.map((i) => i.venue) });
  }

  venueName(id: number): string {
    return this.venues.get(id) ?? `venue#${id}`;
  }

  static open(path: string, opts: TickFileOpenOptions = {}): TickFile {
    const recover = opts.recover === true;
    let size: number;
    try {
      size = statSync(path).size;
    } catch (e) {
      throw new TickFileError(`cannot open tick file ${path}: ${(e as Error).message}`);
    }
    const fail = (msg: string, offset: number) => new TickFileError(`${path}: ${msg}`, offset);
    if (size === 0) throw fail("empty file (0 bytes), bad magic at 0: not a bot4 tick file", 0);
    let map: Uint8Array;
    try {
      map = Bun.mmap(path, { shared: false });
    } catch (e) {
      throw new TickFileError(`cannot map tick file ${path}: ${(e as Error).message}`);
    }
    if (size < HEADER_BYTES) {
      // still name a wrong magic first: a short file that is not a tick file at all says so
      const m = decodeSlot(padded(map, HEADER_BYTES), 0);
      if (m instanceof TickFileError && m.message.startsWith("bad magic") && m.offset < size) throw fail(m.message, m.offset);
      throw fail(`file is ${size} bytes, shorter than the ${HEADER_BYTES}-byte header: truncated at offset ${size}`, size);
    }

    // ---- header slots ----
    const a = decodeSlot(map, 0), b = decodeSlot(map, SLOT_BYTES);
    let h: HeaderFields;
    let otherSlot: string | null = null;
    if (!recover) {
      if (a instanceof TickFileError) throw fail(a.message, a.offset);
      if (b instanceof TickFileError) throw fail(b.message, b.offset);
      if (!(a.flags & FLAG_FINISHED) || !(b.flags & FLAG_FINISHED)) {
        const last = a.commitSeq >= b.commitSeq ? a : b;
        throw fail(`not closed by its writer (FINISHED flag clear at offset ${(last === a ? 0 : SLOT_BYTES) + H.flags}): a crash or a recording still in progress; ${last.count} records committed — open with recover to read them`, (last === a ? 0 : SLOT_BYTES) + H.flags);
      }
      for (let i = 0; i < H.crc; i++) {
        if (i === H.slot || i === H.slot + 1) continue;
        if (map[i] !== map[SLOT_BYTES + i]) throw fail(`header slots A and B of a finished file disagree at offset ${i} / ${SLOT_BYTES + i}`, SLOT_BYTES + i);
      }
      h = a;
    } else {
      const ok = [a, b].filter((x): x is HeaderFields => !(x instanceof TickFileError));
      if (ok.length === 0) throw fail(`no valid header slot: ${(a as TickFileError).message}; ${(b as TickFileError).message}`, (a as TickFileError).offset);
      h = ok.length === 2 && ok[1]!.commitSeq > ok[0]!.commitSeq ? ok[1]! : ok[0]!;
      const other = h === a ? b : a;
      otherSlot = other instanceof TickFileError ? other.message : null;
    }
    const hb = h.slot * SLOT_BYTES;

    // ---- geometry ----
    if (h.recordOffset % RECORD_ALIGN !== 0 || h.recordOffset < HEADER_BYTES) {
      throw fail(`record area offset ${h.recordOffset} (header at ${hb + H.recordOffset}) is not a multiple of ${RECORD_ALIGN} after the header`, hb + H.recordOffset);
    }
    const sections: Array<[string, Section, number]> = [
      ["source text", h.source, H.source],
      ["venue table", h.venues, H.venues],
      ["instrument table", h.instruments, H.instruments],
      ["block index", h.blockIndex, H.blockIndex],
    ];
    for (const [name, s, at] of sections) {
      if (s.offset < HEADER_BYTES || s.length > s.capacity || s.offset + s.capacity > h.recordOffset) {
        throw fail(`${name} section (offset ${s.offset}, length ${s.length}, capacity ${s.capacity}; header at ${hb + at}) lies outside the meta region [${HEADER_BYTES}, ${h.recordOffset})`, hb + at);
      }
    }
    const sorted = [...sections].sort((x, y) => x[1].offset - y[1].offset);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1]!, q = sorted[i]!;
      if (p[1].offset + p[1].capacity > q[1].offset) throw fail(`${p[0]} and ${q[0]} sections overlap at offset ${q[1].offset}`, hb + q[2]);
    }
    const fullBlocks = Math.floor(h.count / BLOCK_RECORDS);
    if (h.blockIndex.length !== fullBlocks * 4 || h.tailRecords !== h.count % BLOCK_RECORDS) {
      throw fail(`header's record count ${h.count} disagrees with its block index (${h.blockIndex.length} bytes) or tail (${h.tailRecords} records) at offset ${hb + H.count}`, hb + H.count);
    }
    if (size < h.recordOffset) {
      throw fail(`file ends at offset ${size}, inside the meta region (records would start at ${h.recordOffset}): truncated`, size);
    }
    const end = h.recordOffset + h.count * RECORD_BYTES;
    let present = h.count;
    let reason: string | null = null;
    if (size < end) {
      const msg = `record area shorter than the header says: ${h.count} records need bytes ${h.recordOffset}..${end - 1}, the file ends at offset ${size}`;
      if (!recover) throw fail(msg, size);
      present = Math.floor((size - h.recordOffset) / RECORD_BYTES);
      reason = msg;
    } else if (size > end && !recover) {
      throw fail(`${size - end} bytes after the record area at offset ${end} (the header says ${h.count} records)`, end);
    }

    // ---- tables (needed to read any record: refused even when recovering) ----
    const sectionBytes = (s: Section, name: string, crc: number, crcAt: number): Uint8Array => {
      const bytes = map.subarray(s.offset, s.offset + s.length);
      const c = crc32(bytes);
      if (c !== crc) throw fail(`${name} CRC mismatch at offset ${s.offset}..${s.offset + s.length - 1} (stored ${hex(crc)} at ${hb + crcAt}, computed ${hex(c)})`, s.offset);
      return bytes;
    };
    const srcBytes = sectionBytes(h.source, "source text", h.sourceCrc, H.sourceCrc);
    const venues = decodeVenues(sectionBytes(h.venues, "venue table", h.venuesCrc, H.venuesCrc), h.venueCount, h.venues.offset);
    const instruments = decodeInstruments(sectionBytes(h.instruments, "instrument table", h.instrumentsCrc, H.instrumentsCrc), h.instrumentCount, h.instruments.offset, venues);
    const source = new TextDecoder().decode(srcBytes);

    // ---- records: block CRCs, then per-record table checks ----
    let valid = present;
    const idx = new DataView(map.buffer, map.byteOffset + h.blockIndex.offset, h.blockIndex.length);
    const blocksPresent = Math.floor(present / BLOCK_RECORDS);
    for (let k = 0; k < blocksPresent; k++) {
      const from = h.recordOffset + k * BLOCK_BYTES;
      const stored = idx.getUint32(k * 4, true);
      const c = crc32(map.subarray(from, from + BLOCK_BYTES));
      if (c !== stored) {
        const msg = `block ${k} CRC mismatch at offset ${from}..${from + BLOCK_BYTES - 1} (records ${k * BLOCK_RECORDS}..${(k + 1) * BLOCK_RECORDS - 1}; stored ${hex(stored)} at index offset ${h.blockIndex.offset + k * 4}, computed ${hex(c)})`;
        if (!recover) throw fail(msg, from);
        valid = k * BLOCK_RECORDS;
        reason = msg;
        break;
      }
    }
    if (valid === present && present % BLOCK_RECORDS !== 0) {
      const from = h.recordOffset + blocksPresent * BLOCK_BYTES;
      const tailComplete = present === h.count; // the committed tail is all there
      const c = tailComplete ? crc32(map.subarray(from, from + h.tailRecords * RECORD_BYTES)) : 0;
      if (!tailComplete || c !== h.tailCrc) {
        const msg = tailComplete
          ? `tail block ${blocksPresent} CRC mismatch at offset ${from}..${from + h.tailRecords * RECORD_BYTES - 1} (stored ${hex(h.tailCrc)} at ${hb + H.tailCrc}, computed ${hex(c)})`
          : `${reason}; block ${blocksPresent} is incomplete and cannot be checked`;
        if (!recover) throw fail(msg, from);
        valid = blocksPresent * BLOCK_RECORDS;
        reason = msg;
      }
    }
    const u32 = new Uint32Array(map.buffer, map.byteOffset + h.recordOffset, valid * TICK_U32);
    const nInst = instruments.length;
    const instVenue = new Uint16Array(Math.max(1, nInst));
    for (let i = 0; i < nInst; i++) instVenue[i] = instruments[i]!.venue;
    for (let i = 0; i < valid; i++) {
      const w = i * TICK_U32;
      const inst = u32[w + T.INSTRUMENT_U32]!;
      const tail = u32[w + 15]!; // venue (lo 16 bits), kind, flags
      const venue = tail & 0xffff, kind = (tail >>> 16) & 0xff;
      if (inst < nInst && venue === instVenue[inst] && kind >= 1 && kind <= MAX_KIND) continue;
      const off = h.recordOffset + i * RECORD_BYTES;
      const msg =
        inst >= nInst
          ? `instrument id ${inst} out of table (${nInst} instruments) at record ${i} offset ${off + 56}`
          : venue !== instVenue[inst]
            ? `venue ${venue} at record ${i} offset ${off + 60} differs from its instrument ${inst}'s venue ${instVenue[inst]}`
            : `unknown record kind ${kind} at record ${i} offset ${off + 62}`;
      if (!recover) throw fail(msg, off);
      valid = i;
      reason = msg;
      break;
    }
    const recovery: Recovery | null = recover
      ? { slot: h.slot === 0 ? "A" : "B", finished: (h.flags & FLAG_FINISHED) !== 0, committed: h.count, valid, reason, otherSlot }
      : null;
    return new TickFile(path, size, map, h, { source, venues, instruments }, valid, recovery);
  }
}

function padded(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(b.subarray(0, n));
  return out;
}
