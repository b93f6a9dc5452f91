/**
 * TickFileWriter: streams 64-byte tick records into a `.b4t` file (layout and crash-safety rules in
 * format.ts) block by block, with bounded memory (one 256 KiB block is staged).
 *
 * Guarantees:
 *   - every complete block of 4096 records is committed as soon as it is full (records, then new table
 *     and index entries, then one header slot), and `checkpoint()` commits a partial tail block too; a
 *     writer killed at any point leaves `<path>.part` readable up to its last commit (TickFile.open with
 *     `recover`);
 *   - with `sync: "checkpoint"` each commit is also fdatasync'd before and after its header write, so it
 *     survives power loss, not only process death; `close()` always fsyncs, writes both header slots as
 *     FINISHED, fsyncs again and renames `<path>.part` to `<path>` (then fsyncs the directory), so a file
 *     under its final name is complete;
 *   - a record whose instrument or venue is not in the tables when it is committed is refused
 *     (TickFileError), so a committed file never holds a record its tables cannot name.
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { InstrumentTable } from "../domain/instruments.ts";
import { venueName } from "../domain/instruments.ts";
import type { TickBuffer } from "../domain/tick-buffer.ts";
import { T, TICK_U32 } from "../domain/tick.ts";
import {
  alignUp,
  BLOCK_BYTES,
  BLOCK_RECORDS,
  crc32,
  encodeInstrument,
  encodeSlot,
  encodeVenue,
  FLAG_FINISHED,
  HEADER_BYTES,
  type HeaderFields,
  type InstrumentEntry,
  RECORD_ALIGN,
  RECORD_BYTES,
  type Section,
  SLOT_BYTES,
  TickFileError,
} from "./format.ts";

export interface TickFileWriterOptions {
  /** what the file was made from (inputs, format, tool); kept in the file */
  source?: string;
  /** creation time, ns since the Unix epoch (default: now) */
  createdNs?: bigint;
  /** most records the file may hold; sizes the block index (default 2^28 = 268 M records, 1 MiB of index) */
  maxRecords?: number;
  /** bytes reserved for the instrument table (default 64 KiB, about 2000 instruments) */
  instrumentBytes?: number;
  /** bytes reserved for the venue table (default 4 KiB) */
  venueBytes?: number;
  /** "checkpoint": fdatasync every commit (recorders); "close" (default): only at close (importers) */
  sync?: "checkpoint" | "close";
  /** write `<path>.part` and rename on close (default true); false writes `<path>` in place */
  atomic?: boolean;
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

class GrowableBytes {
  bytes = new Uint8Array(256);
  length = 0;
  append(b: Uint8Array): void {
    if (this.length + b.length > this.bytes.length) {
      const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + b.length));
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
    }
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

export class TickFileWriter {
  /** the path written now (`<path>.part` until close when atomic) */
  readonly workPath: string;
  private fd: number;
  private readonly sync: boolean;
  private readonly h: HeaderFields;
  private readonly maxRecords: number;
  /** staged block: records [blockStart, blockStart + staged) */
  private readonly stage = new Uint8Array(BLOCK_BYTES);
  private readonly stageU32 = new Uint32Array(this.stage.buffer);
  private readonly stageU16 = new Uint16Array(this.stage.buffer);
  private staged = 0;
  /** staged records already checked against the tables */
  private checked = 0;
  private blocks = 0;
  private readonly venueIds = new Map<number, string>();
  private readonly instrumentList: InstrumentEntry[] = [];
  private readonly venueBytes = new GrowableBytes();
  private readonly instrumentBytes = new GrowableBytes();
  /** table bytes already written to the file */
  private venuesWritten = 0;
  private instrumentsWritten = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    opts: TickFileWriterOptions,
  ) {
    this.sync = opts.sync === "checkpoint";
    this.workPath = opts.atomic === false ? path : `${path}.part`;
    this.maxRecords = Math.max(BLOCK_RECORDS, Math.floor(opts.maxRecords ?? 2 ** 28));
    const source = new TextEncoder().encode(opts.source ?? "");
    if (source.length > 0xffff_ffff) throw new TickFileError("source description too long");
    const venueCap = opts.venueBytes ?? 4096;
    const instCap = opts.instrumentBytes ?? 65536;
    const indexCap = Math.ceil(this.maxRecords / BLOCK_RECORDS) * 4;
    const s: Section = { offset: HEADER_BYTES, length: source.length, capacity: source.length };
    const v: Section = { offset: s.offset + s.capacity, length: 0, capacity: venueCap };
    const i: Section = { offset: v.offset + venueCap, length: 0, capacity: instCap };
    const x: Section = { offset: i.offset + instCap, length: 0, capacity: indexCap };
    const created = opts.createdNs ?? nowNs();
    this.h = {
      slot: 0,
      flags: 0,
      commitSeq: 0,
      count: 0,
      createdNs: created,
      committedNs: created,
      source: s,
      venues: v,
      instruments: i,
      blockIndex: x,
      recordOffset: alignUp(x.offset + x.capacity, RECORD_ALIGN),
      venueCount: 0,
      instrumentCount: 0,
      tailRecords: 0,
      tailCrc: 0,
      sourceCrc: crc32(source),
      venuesCrc: crc32(new Uint8Array(0)),
      instrumentsCrc: crc32(new Uint8Array(0)),
    };
    try {
      this.fd = openSync(this.workPath, "w+");
    } catch (e) {
      throw new TickFileError(`cannot create ${this.workPath}: ${(e as Error).message}`);
    }
    ftruncateSync(this.fd, this.h.recordOffset); // the meta region exists (as a hole) from the start
    this.pwrite(source, s.offset);
    this.commit(); // a fresh file is already a valid (empty) recovering file
  }

  static create(path: string, opts: TickFileWriterOptions = {}): TickFileWriter {
    return new TickFileWriter(path, opts);
  }

  /** Records appended so far (committed or staged). */
  get count(): number {
    return this.blocks * BLOCK_RECORDS + this.staged;
  }

  /** Instruments in the file's table so far. */
  get instrumentCount(): number {
    return this.instrumentList.length;
  }

  /** Names a venue id (idempotent; a different name for a known id is an error). */
  venue(id: number, name: string = venueName(id)): void {
    const known = this.venueIds.get(id);
    if (known !== undefined) {
      if (known !== name) throw new TickFileError(`venue ${id} is already named "${known}", not "${name}"`);
      return;
    }
    const e = encodeVenue(id, name);
    if (this.venueBytes.length + e.length > this.h.venues.capacity) throw new TickFileError(`venue table full (${this.h.venues.capacity} bytes): create the file with a larger venueBytes`);
    this.venueIds.set(id, name);
    this.venueBytes.append(e);
  }

  /** Adds the instrument with the next id (ids are dense: 0, 1, 2…); its venue is named if new. */
  instrument(id: number, venue: number, symbol: string, native = symbol): void {
    const have = this.instrumentList[id];
    if (have) {
      if (have.venue !== venue || have.symbol !== symbol) throw new TickFileError(`instrument ${id} is already ${venueName(have.venue)}:${have.symbol}, not ${venueName(venue)}:${symbol}`);
      return;
    }
    if (id !== this.instrumentList.length) throw new TickFileError(`instrument ids are dense: next is ${this.instrumentList.length}, got ${id}`);
    if (!this.venueIds.has(venue)) this.venue(venue);
    const entry = { id, venue, symbol, native };
    const e = encodeInstrument(entry);
    if (this.instrumentBytes.length + e.length > this.h.instruments.capacity) throw new TickFileError(`instrument table full (${this.h.instruments.capacity} bytes): create the file with a larger instrumentBytes`);
    this.instrumentList.push(entry);
    this.instrumentBytes.append(e);
  }

  /** Adds every instrument of `table` not yet in the file (native symbols from `native`, else the unified one). */
  instruments(table: InstrumentTable, native?: (id: number) => string | undefined): void {
    for (let id = this.instrumentList.length; id < table.size; id++) this.instrument(id, table.venues[id]!, table.symbols[id]!, native?.(id) ?? table.symbols[id]!);
  }

  /** Appends the records of a TickBuffer. */
  append(tb: TickBuffer): void {
    this.appendBytes(tb.bytes());
  }

  /** Appends raw records (a whole number of 64-byte records, c/tick.h layout). */
  appendBytes(src: Uint8Array): void {
    if (this.closed) throw new TickFileError(`${this.path}: writer is closed`);
    if (src.length % RECORD_BYTES !== 0) throw new TickFileError(`appendBytes takes whole 64-byte records; got ${src.length} bytes`);
    let at = 0;
    while (at < src.length) {
      const n = Math.min(src.length - at, (BLOCK_RECORDS - this.staged) * RECORD_BYTES);
      if (this.count + n / RECORD_BYTES > this.maxRecords) throw new TickFileError(`${this.workPath}: file full at ${this.maxRecords} records (maxRecords); start a new file`);
      this.stage.set(src.subarray(at, at + n), this.staged * RECORD_BYTES);
      this.staged += n / RECORD_BYTES;
      at += n;
      if (this.staged === BLOCK_RECORDS) this.commit();
    }
  }

  /** Commits everything appended so far (the partial tail block included). */
  checkpoint(): void {
    if (this.closed) throw new TickFileError(`${this.path}: writer is closed`);
    this.commit();
  }

  /** Finishes the file: commit, FINISHED in both slots, fsync, rename into place. Returns the final path. */
  close(): string {
    if (this.closed) return this.path;
    this.commit(FLAG_FINISHED);
    this.closed = true;
    fsyncSync(this.fd);
    closeSync(this.fd);
    if (this.workPath !== this.path) {
      renameSync(this.workPath, this.path);
      try {
        const d = openSync(dirname(this.path), "r");
        fsyncSync(d);
        closeSync(d);
      } catch {
        // directories that cannot be opened for fsync (some filesystems): the rename itself is still atomic
      }
    }
    return this.path;
  }

  /** Gives up: closes and deletes the work file. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(this.workPath, { force: true });
  }

  private pwrite(b: Uint8Array, at: number): void {
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done, at + done);
  }

  /** Refuses staged records whose instrument or venue the tables cannot name. */
  private checkStaged(): void {
    const u32 = this.stageU32, u16 = this.stageU16;
    const nInst = this.instrumentList.length;
    for (let i = this.checked; i < this.staged; i++) {
      const inst = u32[i * TICK_U32 + T.INSTRUMENT_U32]!;
      const venue = u16[i * (RECORD_BYTES / 2) + T.VENUE_U16]!;
      if (inst >= nInst) throw new TickFileError(`record ${this.blocks * BLOCK_RECORDS + i} names instrument ${inst}, but the file's table holds ${nInst}: add instruments before committing records that use them`);
      if (this.instrumentList[inst]!.venue !== venue) throw new TickFileError(`record ${this.blocks * BLOCK_RECORDS + i} has venue ${venue}, its instrument ${inst} is on venue ${this.instrumentList[inst]!.venue}`);
    }
    this.checked = this.staged;
  }

  /** records → new table bytes and index entry → (sync) → header slot → (sync). */
  private commit(flags = 0): void {
    this.checkStaged();
    const h = this.h;
    const full = this.staged === BLOCK_RECORDS;
    if (this.staged > 0) this.pwrite(this.stage.subarray(0, this.staged * RECORD_BYTES), h.recordOffset + this.blocks * BLOCK_BYTES);
    if (this.venueBytes.length > this.venuesWritten) {
      this.pwrite(this.venueBytes.view().subarray(this.venuesWritten), h.venues.offset + this.venuesWritten);
      this.venuesWritten = this.venueBytes.length;
    }
    if (this.instrumentBytes.length > this.instrumentsWritten) {
      this.pwrite(this.instrumentBytes.view().subarray(this.instrumentsWritten), h.instruments.offset + this.instrumentsWritten);
      this.instrumentsWritten = this.instrumentBytes.length;
    }
    const stagedCrc = crc32(this.stage.subarray(0, this.staged * RECORD_BYTES));
    if (full) {
      const e = new Uint8Array(4);
      new DataView(e.buffer).setUint32(0, stagedCrc, true);
      this.pwrite(e, h.blockIndex.offset + this.blocks * 4);
      this.blocks++;
      this.staged = 0;
      this.checked = 0;
    }
    h.count = this.blocks * BLOCK_RECORDS + this.staged;
    h.tailRecords = this.staged;
    h.tailCrc = this.staged > 0 ? stagedCrc : 0;
    h.blockIndex.length = this.blocks * 4;
    h.venues.length = this.venueBytes.length;
    h.venueCount = this.venueIds.size;
    h.venuesCrc = crc32(this.venueBytes.view());
    h.instruments.length = this.instrumentBytes.length;
    h.instrumentCount = this.instrumentList.length;
    h.instrumentsCrc = crc32(this.instrumentBytes.view());
    h.committedNs = nowNs();
    h.flags = flags;
    h.commitSeq++;
    if (this.sync || flags) fdatasyncSync(this.fd);
    if (flags & FLAG_FINISHED) {
      h.slot = 0;
      this.pwrite(encodeSlot(h), 0);
      h.slot = 1;
      this.pwrite(encodeSlot(h), SLOT_BYTES);
    } else {
      h.slot = (h.commitSeq + 1) & 1; // commit 1 → A, 2 → B, 3 → A …
      this.pwrite(encodeSlot(h), h.slot * SLOT_BYTES);
    }
    if (this.sync) fdatasyncSync(this.fd);
  }
}
