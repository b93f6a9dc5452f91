/**
 * The importer contract. One registry entry = a line/frame reader for one capture format plus the
 * normaliser that turns each frame into 64-byte tick records:
 *
 *   reader(input)  → frames in file order, each with its receive time (exact ns) and line number,
 *                    or a `bad` notice for a line that cannot be read (counted, never fatal);
 *   normaliser(input) → `(frame, recvNs, instruments, out, source?) => number`: appends the frame's
 *                    records to `out` and returns how many (0 = a frame that carries no tick:
 *                    subscription acks, heartbeats, klines…; negative = malformed, with nothing left
 *                    in `out` and, where the normaliser can say, `reason` set).
 *
 * The normaliser signature is the one of the venue normalisers in src/feed/<venue>/normalize.ts, so
 * those register as they are; `source` (the REST URL of a recorded HTTP body, for example) is an
 * extra argument they may ignore.
 */
import type { InstrumentTable } from "../../domain/instruments.ts";
import type { TickBuffer } from "../../domain/tick-buffer.ts";

export interface Frame {
  frame: unknown;
  recvNs: bigint;
  /** 1-based line number of the frame (its first line) in the input */
  line: number;
  /** where the frame came from when the format says (a REST URL) */
  source?: string;
}

export interface BadLine {
  bad: string;
  line: number;
}

export type Normaliser = ((frame: unknown, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer, source?: string) => number) & {
  /** why the last negative return happened, when the normaliser says */
  reason?: string;
};

/** What an importer knows about one input before reading it. */
export interface ImportInput {
  path: string;
  /** the first ~64 KiB of the decoded text */
  head: string;
  /** bytes on disk (compressed size for .gz) */
  size: number;
  /** lines of the decoded text in batches; reports compressed bytes consumed to the progress meter */
  lines(): AsyncIterable<string[]>;
  /** shared import state: native symbols and names of file-local venues */
  ctx: ImportContext;
  /** call with bytes consumed when a reader reads the file itself instead of through lines() */
  consumed(bytes: number): void;
}

export interface ImportContext {
  /** instrument id → the venue's own symbol (when the normaliser knows it) */
  native: Map<number, string>;
  /** file-local venue ids (>= 256) → the source's venue name */
  localVenues: Map<number, string>;
  /** venue id of a source venue name, allocating a file-local id for names bot4 has no Venue for */
  venueId(name: string): number;
}

export interface ImporterEntry {
  /** registry key, e.g. `hftbacktest`, `tardis`, `cryptofeed:binance`, `cryptofeed-v3:bybit` */
  name: string;
  about: string;
  /** true when this entry reads the input (decided from its path and first bytes) */
  detect(input: { path: string; head: string }): boolean;
  reader(input: ImportInput): AsyncIterable<Frame | BadLine>;
  normaliser(input: ImportInput): Normaliser;
}
