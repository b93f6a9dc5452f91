/**
 * Importers: recorded market data in other formats → one `.b4t` tick file (format.ts).
 *
 * The registry holds one entry per capture format (importers/types.ts: a frame reader plus a
 * normaliser). `importFiles` reads every input as a stream (gzip or plain, bounded memory: a few
 * thousand records per input are held), normalises each frame into records, and writes them with
 * TickFileWriter. Guarantees:
 *   - records of one venue message stay together and in order; one input's messages keep the input's
 *     order; several inputs are merged by receive time at message boundaries (ties to the earlier
 *     input), so a `.ws` log and its `.http` snapshots, or two symbols' captures, interleave as received;
 *   - a line or frame that cannot be read or mapped is counted as malformed with its file and line
 *     number, never fatal, and leaves no record; frames that carry no tick (acks, klines, heartbeats)
 *     are counted as ignored;
 *   - the output appears under its name only when complete (the writer renames `<out>.part`); a run that
 *     fails removes the part file.
 */
import { statSync } from "node:fs";
import { InstrumentTable, Venue, venueName } from "../domain/instruments.ts";
import { TickBuffer } from "../domain/tick-buffer.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind } from "../domain/tick.ts";
import { DataFileError } from "../feed/recording.ts";
import { LOCAL_VENUE_BASE } from "./format.ts";
import { makeBinanceNormaliser } from "./importers/binance.ts";
import { cryptofeedBinance, venueEntries } from "./importers/cryptofeed.ts";
import { tardisImporter } from "./importers/tardis.ts";
import type { BadLine, Frame, ImportContext, ImporterEntry, ImportInput, Normaliser } from "./importers/types.ts";
import { TickFileWriter } from "./writer.ts";

export type { ImporterEntry, Normaliser } from "./importers/types.ts";

/** hftbacktest's Binance captures: `<recv_ns> <json>` lines (combined-stream frames + the REST snapshot). */
export const hftbacktestImporter: ImporterEntry = {
  name: "hftbacktest",
  about: "hftbacktest Binance raw captures: `<recv_ns> <json>` lines (trade, bookTicker, depthUpdate, REST snapshot), gzip or plain",
  detect: ({ head }) => /^\d{16,20} [{[]/.test(head) && /"(stream|lastUpdateId)":/.test(head.slice(0, 65536)) && /binance|@depth|@trade|@bookTicker|@aggTrade|"lastUpdateId"/.test(head),
  async *reader(input: ImportInput): AsyncIterable<Frame | BadLine> {
    let lineNo = 0;
    for await (const batch of input.lines()) {
      for (const line of batch) {
        lineNo++;
        if (line.length === 0) continue;
        const sp = line.indexOf(" ");
        const ts = sp > 0 ? line.slice(0, sp) : "";
        if (!/^\d{1,20}$/.test(ts)) {
          yield { bad: "no receive time (integer ns) before the JSON", line: lineNo };
          continue;
        }
        let frame: unknown;
        try {
          frame = JSON.parse(line.slice(sp + 1));
        } catch {
          yield { bad: "invalid JSON", line: lineNo };
          continue;
        }
        yield { frame, recvNs: BigInt(ts), line: lineNo };
      }
    }
  },
  normaliser: (input) => makeBinanceNormaliser(input.ctx),
};

const BUILTIN: ImporterEntry[] = [hftbacktestImporter, tardisImporter, cryptofeedBinance];

/** Every importer: Binance and Tardis here, then the venue normalisers of src/feed/<venue>/normalize.ts. */
export async function importers(): Promise<ImporterEntry[]> {
  return [...BUILTIN, ...venueEntries()];
}

/** Entries a `--from` name selects: an exact name, or a family prefix (`cryptofeed` → `cryptofeed:*`). */
export function selectImporters(all: ImporterEntry[], from: string): ImporterEntry[] {
  const exact = all.filter((e) => e.name === from);
  return exact.length > 0 ? exact : all.filter((e) => e.name.startsWith(`${from}:`));
}

// ---------------------------------------------------------------------------------------------
// streaming input

const HEAD_BYTES = 65536;

async function isGzip(path: string): Promise<boolean> {
  const b = new Uint8Array(await Bun.file(path).slice(0, 2).arrayBuffer());
  return b.length === 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Decoded text of a file as a stream of chunks; `onBytes` gets the bytes read from disk. */
async function* textChunks(path: string, onBytes: (n: number) => void): AsyncGenerator<string> {
  const gz = await isGzip(path);
  let stream: ReadableStream<Uint8Array> = Bun.file(path).stream().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        onBytes(chunk.length);
        ctl.enqueue(chunk);
      },
    }),
  );
  if (gz) stream = stream.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>);
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) yield decoder.decode(chunk, { stream: true });
  } catch (e) {
    throw new DataFileError(`input ${path} is ${gz ? "a damaged gzip file" : "unreadable"} (${(e as Error).message}); re-copy it`);
  }
  const tail = decoder.decode();
  if (tail) yield tail;
}

async function readHead(path: string): Promise<string> {
  let head = "";
  const it = textChunks(path, () => {});
  for await (const c of it) {
    head += c;
    if (head.length >= HEAD_BYTES) break;
  }
  await it.return(undefined);
  return head.slice(0, HEAD_BYTES);
}

async function* lineBatches(path: string, onBytes: (n: number) => void): AsyncGenerator<string[]> {
  let rest = "";
  for await (const chunk of textChunks(path, onBytes)) {
    const s = rest + chunk;
    const lines = s.split("\n");
    rest = lines.pop()!;
    if (lines.length > 0) yield lines;
  }
  if (rest.length > 0) yield [rest];
}

// ---------------------------------------------------------------------------------------------
// progress

/** Bytes read / total, records/s and ETA on stderr: redrawn in place on a TTY, else one line per 10 %. */
export class ImportProgress {
  private readonly t0 = performance.now();
  private lastDraw = 0;
  private nextDecile = 1;
  read = 0;
  records = 0;

  constructor(
    readonly total: number,
    private readonly write: (s: string) => void = (s) => process.stderr.write(s),
    private readonly tty = process.stderr.isTTY === true,
  ) {}

  private line(): string {
    const s = (performance.now() - this.t0) / 1000;
    const frac = this.total > 0 ? Math.min(1, this.read / this.total) : 1;
    const rate = s > 0 ? this.records / s : 0;
    const eta = frac > 0 && frac < 1 ? (s / frac) * (1 - frac) : 0;
    return `import: ${(this.read / 1048576).toFixed(1)} / ${(this.total / 1048576).toFixed(1)} MiB (${(frac * 100).toFixed(0)}%), ${this.records} records, ${(rate / 1e6).toFixed(2)} M records/s, ETA ${eta.toFixed(0)} s`;
  }

  update(): void {
    if (this.tty) {
      const now = performance.now();
      if (now - this.lastDraw < 100) return;
      this.lastDraw = now;
      this.write(`\r\x1b[2K${this.line()}`);
      return;
    }
    if (this.total > 0 && this.nextDecile <= 10 && this.read * 10 >= this.nextDecile * this.total) {
      while (this.nextDecile <= 10 && this.read * 10 >= this.nextDecile * this.total) this.nextDecile++;
      this.write(`${this.line()}\n`);
    }
  }

  finish(): void {
    if (this.tty) this.write(`\r\x1b[2K${this.line()}\n`);
    else this.update();
  }
}

// ---------------------------------------------------------------------------------------------
// the run

export interface InputSummary {
  path: string;
  format: string;
  frames: number;
  records: number;
  malformed: number;
  ignored: number;
}

export interface ImportSummary {
  out: string;
  formats: string[];
  inputs: InputSummary[];
  records: number;
  kinds: { trade: number; quote: number; level: number; status: number };
  frames: number;
  ignored: number;
  malformed: number;
  /** first malformed lines, `file:line: reason` */
  malformedAt: string[];
  instruments: Array<{ id: number; venue: string; symbol: string; native: string; records: number }>;
  bytesRead: number;
  seconds: number;
  recordsPerSecond: number;
}

export interface ImportOptions {
  /** registry name or family (`cryptofeed`); detected per input when absent */
  from?: string;
  /** show progress (default: when the inputs total 8 MiB or more) */
  progress?: boolean;
  /** where progress goes (default stderr) */
  progressWrite?: (s: string) => void;
  progressTty?: boolean;
  /** most malformed lines listed in the summary (default 20) */
  keepMalformed?: number;
}

const BATCH_RECORDS = 8192;
const MAX_MALFORMED = 20;

/** One input being read: its frames normalised into a buffer of whole messages. */
class InputCursor {
  readonly tb = new TickBuffer(BATCH_RECORDS * 2);
  /** end index (exclusive) of each buffered message */
  ends: number[] = [];
  next = 0;
  /** records of the buffer already emitted */
  taken = 0;
  done = false;
  private readonly it: AsyncIterator<Frame | BadLine>;

  constructor(
    readonly input: ImportInput,
    readonly entry: ImporterEntry,
    private readonly normalise: Normaliser,
    private readonly instruments: InstrumentTable,
    readonly stats: InputSummary,
    private readonly onBad: (path: string, line: number, why: string) => void,
  ) {
    this.it = entry.reader(input)[Symbol.asyncIterator]();
  }

  get pending(): boolean {
    return this.next < this.ends.length;
  }

  /** receive time of the next message's first record */
  get nextRecv(): bigint {
    const start = this.next === 0 ? this.taken : this.ends[this.next - 1]!;
    return this.tb.u64[start * TICK_F64 + 1]!;
  }

  async fill(): Promise<void> {
    if (this.next === this.ends.length) {
      this.tb.clear();
      this.ends = [];
      this.next = 0;
      this.taken = 0;
    }
    const tb = this.tb, st = this.stats;
    while (!this.done && tb.count - this.taken < BATCH_RECORDS) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const f = r.value;
      if ("bad" in f) {
        st.malformed++;
        this.onBad(this.input.path, f.line, f.bad);
        continue;
      }
      st.frames++;
      const start = tb.count;
      let n: number;
      try {
        n = this.normalise(f.frame, f.recvNs, this.instruments, tb, f.source);
      } catch (e) {
        // a normaliser that throws on a frame it cannot read is treated like one that reports it
        tb.count = start;
        n = -1;
        this.normalise.reason = `normaliser failed: ${(e as Error).message}`;
      }
      if (n < 0) {
        tb.count = start;
        st.malformed++;
        this.onBad(this.input.path, f.line, this.normalise.reason ?? "frame not understood by the normaliser");
      } else if (n === 0 || tb.count === start) {
        tb.count = start;
        st.ignored++;
      } else {
        this.ends.push(tb.count);
      }
    }
  }

  /** Takes the next k messages: [fromRecord, toRecord). */
  take(k: number): [number, number] {
    const from = this.next === 0 ? this.taken : this.ends[this.next - 1]!;
    this.next += k;
    const to = this.ends[this.next - 1]!;
    this.taken = to;
    return [from, to];
  }
}

/** Imports `paths` into `out`; returns the summary. DataFileError for inputs that cannot be read at all. */
export async function importFiles(paths: string[], out: string, opts: ImportOptions = {}): Promise<ImportSummary> {
  if (paths.length === 0) throw new DataFileError("import needs at least one input file");
  const all = await importers();
  const selected = opts.from ? selectImporters(all, opts.from) : all;
  if (opts.from && selected.length === 0) throw new DataFileError(`unknown input format \`${opts.from}\`; formats: ${all.map((e) => e.name).join(", ")}`);

  const sizes = paths.map((p) => {
    try {
      const st = statSync(p);
      if (!st.isFile()) throw new Error("not a regular file");
      return st.size;
    } catch (e) {
      throw new DataFileError(`input ${p} cannot be read: ${(e as Error).message}`);
    }
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  const showProgress = opts.progress ?? total >= 8 * 1048576;
  const progress = new ImportProgress(total, opts.progressWrite, opts.progressTty);

  const localVenues = new Map<number, string>();
  const localByName = new Map<string, number>();
  const ctx: ImportContext = {
    native: new Map(),
    localVenues,
    venueId(name: string): number {
      const known = (Venue as Record<string, number>)[name];
      if (known !== undefined) return known;
      let id = localByName.get(name);
      if (id === undefined) {
        id = LOCAL_VENUE_BASE + localByName.size;
        localByName.set(name, id);
        localVenues.set(id, name);
      }
      return id;
    },
  };
  const instruments = new InstrumentTable();
  const malformedAt: string[] = [];
  const keep = opts.keepMalformed ?? MAX_MALFORMED;
  const onBad = (path: string, line: number, why: string) => {
    if (malformedAt.length < keep) malformedAt.push(`${path}:${line}: ${why}`);
  };

  const cursors: InputCursor[] = [];
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i]!;
    const head = await readHead(path);
    const entry = selected.find((e) => e.detect({ path, head })) ?? (opts.from && selected.length === 1 ? selected[0] : undefined);
    if (!entry) {
      throw new DataFileError(
        opts.from
          ? `input ${path} is not a ${opts.from} file (its first line: ${JSON.stringify(head.slice(0, 80))})`
          : `cannot tell the format of ${path} (its first line: ${JSON.stringify(head.slice(0, 80))}); name it with --from (${all.map((e) => e.name).join(", ")})`,
      );
    }
    let counted = 0;
    const input: ImportInput = {
      path,
      head,
      size: sizes[i]!,
      ctx,
      lines: () => lineBatches(path, (n) => {
        counted += n;
        progress.read += n;
      }),
      consumed: (n) => {
        const add = Math.max(0, Math.min(n, sizes[i]!) - counted);
        counted += add;
        progress.read += add;
      },
    };
    const stats: InputSummary = { path, format: entry.name, frames: 0, records: 0, malformed: 0, ignored: 0 };
    cursors.push(new InputCursor(input, entry, entry.normaliser(input), instruments, stats, onBad));
  }

  const formats = [...new Set(cursors.map((c) => c.entry.name))];
  const writer = TickFileWriter.create(out, { source: `bot4 import (${formats.join(", ")}): ${paths.join(" ")}` });
  const kinds = { trade: 0, quote: 0, level: 0, status: 0 };
  const perInstrument: number[] = [];
  const t0 = performance.now();
  let written = 0;
  try {
    const emit = (c: InputCursor, k: number) => {
      const [from, to] = c.take(k);
      if (instruments.size > writer.instrumentCount) {
        for (const [id, name] of localVenues) writer.venue(id, name);
        writer.instruments(instruments, (id) => ctx.native.get(id));
      }
      const u8 = c.tb.u8, u32 = c.tb.u32;
      for (let r = from; r < to; r++) {
        const kind = u8[r * TICK_BYTES + T.KIND_U8]!;
        if (kind === TickKind.trade) kinds.trade++;
        else if (kind === TickKind.quote) kinds.quote++;
        else if (kind === TickKind.level) kinds.level++;
        else kinds.status++;
        const inst = u32[r * TICK_U32 + T.INSTRUMENT_U32]!;
        perInstrument[inst] = (perInstrument[inst] ?? 0) + 1;
      }
      writer.appendBytes(u8.subarray(from * TICK_BYTES, to * TICK_BYTES));
      c.stats.records += to - from;
      written += to - from;
      progress.records = written;
    };
    for (;;) {
      for (const c of cursors) if (!c.pending && !c.done) await c.fill();
      const live = cursors.filter((c) => c.pending);
      if (live.length === 0) break;
      if (live.length === 1 && cursors.every((c) => c === live[0] || (c.done && !c.pending))) {
        const c = live[0]!;
        emit(c, c.ends.length - c.next); // only one input left: its whole batch in one step
      } else {
        let best = live[0]!;
        let bestRecv = best.nextRecv;
        for (let i = 1; i < live.length; i++) {
          const r = live[i]!.nextRecv;
          if (r < bestRecv) {
            best = live[i]!;
            bestRecv = r;
          }
        }
        emit(best, 1);
      }
      if (showProgress) progress.update();
    }
    if (written === 0) {
      const bad = cursors.reduce((a, c) => a + c.stats.malformed, 0);
      throw new DataFileError(`no record could be imported from ${paths.join(", ")} (${bad} malformed lines${malformedAt[0] ? `, first: ${malformedAt[0]}` : ""})`);
    }
    for (const [id, name] of localVenues) writer.venue(id, name);
    writer.instruments(instruments, (id) => ctx.native.get(id));
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
  if (showProgress) progress.finish();
  const seconds = (performance.now() - t0) / 1000;
  return {
    out,
    formats,
    inputs: cursors.map((c) => c.stats),
    records: written,
    kinds,
    frames: cursors.reduce((a, c) => a + c.stats.frames, 0),
    ignored: cursors.reduce((a, c) => a + c.stats.ignored, 0),
    malformed: cursors.reduce((a, c) => a + c.stats.malformed, 0),
    malformedAt,
    instruments: instruments.symbols.map((symbol, id) => ({
      id,
      venue: localVenues.get(instruments.venues[id]!) ?? venueName(instruments.venues[id]!),
      symbol,
      native: ctx.native.get(id) ?? symbol,
      records: perInstrument[id] ?? 0,
    })),
    bytesRead: progress.read,
    seconds,
    recordsPerSecond: seconds > 0 ? written / seconds : 0,
  };
}
