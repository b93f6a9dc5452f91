/**
 * Loads recorded Binance combined-stream captures (`<recv_ns> <json>` lines, gzip or plain — the
 * hftbacktest format, also the bundled slice) into a tape of 64-byte tick records, parsed once on
 * the cold path so replay copies records without parsing or allocating.
 *
 * Each line goes through the live feed's own C parser (c/parse.c), so a replay carries exactly the
 * records a live run would: `@trade` TRADE, `@bookTicker` QUOTE, depth diffs and the REST snapshot
 * LEVEL records for the engine's books. A line that cannot be read (no receive time, bad JSON,
 * missing or non-numeric fields) is counted in `malformed` and its line number kept for the log;
 * a file with no usable line is refused. Several files are merged by receive time, each venue
 * message's records kept together.
 */
import { existsSync, readFileSync } from "node:fs";
import { alignedBuffer, type AlignedBuffer } from "../../ffi/buffers.ts";
import { binanceUsdmUnified, InstrumentTable, Venue } from "../domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../domain/tick.ts";
import { TickBuffer } from "../domain/tick-buffer.ts";
import { BinanceParser, ParseStatus, parseStatusName } from "../../ffi/parse.ts";

export class DataFileError extends Error {
  override name = "DataFileError";
}

export interface TapeStats {
  files: string[];
  lines: number;
  trades: number;
  quotes: number;
  /** LEVEL records (depth diffs and REST snapshots, one per price level) */
  levels: number;
  ignored: number;
  malformed: number;
  /** first few malformed lines as `file:line: reason` */
  malformedAt: string[];
}

export interface Tape {
  mem: AlignedBuffer;
  f64: Float64Array;
  u32: Uint32Array;
  u8: Uint8Array;
  /** receive time of each record in the recording (ns since epoch, as a double), for pacing */
  recordedRecvNs: Float64Array;
  count: number;
  instruments: InstrumentTable;
  stats: TapeStats;
}

/** A capture file's text, gunzipped when it is gzip; DataFileError when unreadable or damaged. */
/**
 * The symbol a Binance frame names (`s`, in a combined-stream envelope's `data` or bare), read the
 * slow way: for a frame the C parser refused as naming an unregistered symbol (cold path, once per
 * new symbol). undefined when the frame names none.
 */
export function frameSymbol(body: string): string | undefined {
  try {
    const m = JSON.parse(body) as { data?: { s?: unknown }; s?: unknown };
    const s = (m.data ?? m).s;
    return typeof s === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

export function readCaptureText(path: string, bytes?: Uint8Array): string {
  let data: Uint8Array;
  try {
    data = bytes ?? readFileSync(path);
  } catch (e) {
    throw new DataFileError(`cannot read data file ${path}: ${(e as Error).message}`);
  }
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = Bun.gunzipSync(data);
    } catch (e) {
      throw new DataFileError(`data file ${path} is a damaged gzip file (${(e as Error).message}); re-copy it or point BOT4_DATA at another recording`);
    }
  }
  return new TextDecoder().decode(data);
}

/**
 * @param sources file paths, or `{ name, bytes }` for embedded files
 * @param venue venue id stamped on every record (Binance USD-M by default)
 */
export function loadBinanceCapture(
  sources: Array<string | { name: string; bytes: Uint8Array }>,
  venue: number = Venue.binanceusdm,
  instruments = new InstrumentTable(),
): Tape {
  const stats: TapeStats = { files: [], lines: 0, trades: 0, quotes: 0, levels: 0, ignored: 0, malformed: 0, malformedAt: [] };
  const parser = new BinanceParser(venue);
  const enc = new TextEncoder();
  let inBuf = alignedBuffer(1 << 20);
  let inBytes = new Uint8Array(inBuf.buffer, inBuf.byteOffset, 1 << 20);
  const OUT = 16384;
  const out = alignedBuffer(OUT * TICK_BYTES);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, OUT * TICK_BYTES);
  // every file's records, in file order; files are merged by receive time below
  const parts: Array<{ recs: TickBuffer; recv: number[] }> = [];
  for (const src of sources) {
    const name = typeof src === "string" ? src : src.name;
    if (typeof src === "string" && !existsSync(src)) {
      throw new DataFileError(`data file ${src} does not exist; set BOT4_DATA to recorded captures (\`<recv_ns> <json>\` lines, gzip or plain) or leave it empty for the bundled slice`);
    }
    stats.files.push(name);
    const text = readCaptureText(name, typeof src === "string" ? undefined : src.bytes);
    const recs = new TickBuffer(4096);
    const recv: number[] = [];
    let lineNo = 0, usable = 0, depthInst = -1;
    const bad = (why: string) => {
      stats.malformed++;
      if (stats.malformedAt.length < 10) stats.malformedAt.push(`${name}:${lineNo}: ${why}`);
    };
    for (const line of text.split("\n")) {
      lineNo++;
      if (line.length === 0) continue;
      stats.lines++;
      const sp = line.indexOf(" ");
      const t = sp > 0 ? Number(line.slice(0, sp)) : NaN;
      if (!Number.isFinite(t) || t <= 0) {
        bad("no receive time before the JSON");
        continue;
      }
      const body = line.slice(sp + 1);
      if (body.length * 3 > inBytes.length) {
        inBuf = alignedBuffer(body.length * 3);
        inBytes = new Uint8Array(inBuf.buffer, inBuf.byteOffset, body.length * 3);
      }
      const len = enc.encodeInto(body, inBytes).written!;
      // the live feed's own parser (c/parse.c): the tape holds exactly what a live run would see
      let n = parser.parse(inBuf.ptr, len, 0, out.ptr, OUT, depthInst >= 0 ? depthInst : 0xffffffff);
      if (n === ParseStatus.unknownSymbol) {
        const sym = frameSymbol(body);
        if (sym === undefined) {
          bad("frame names no symbol that can be registered");
          continue;
        }
        parser.addSymbol(sym, instruments.id(venue, binanceUsdmUnified(sym)));
        n = parser.parse(inBuf.ptr, len, 0, out.ptr, OUT, depthInst >= 0 ? depthInst : 0xffffffff);
      }
      if (n === ParseStatus.control || n === ParseStatus.unknownType) {
        stats.ignored++;
        continue;
      }
      if (n < 0) {
        bad(n === ParseStatus.missing && depthInst < 0 && body.startsWith('{"lastUpdateId"') ? "depth snapshot before any depth frame (no symbol to attribute it to)" : `refused by the parser: ${parseStatusName(n)}`);
        continue;
      }
      const kind = outBytes[T.KIND_U8]!;
      if (kind === TickKind.trade) stats.trades++;
      else if (kind === TickKind.quote) stats.quotes++;
      else if (kind === TickKind.level) {
        stats.levels += n;
        depthInst = new Uint32Array(out.buffer, out.byteOffset, 16)[T.INSTRUMENT_U32]!;
      }
      for (let k = 0; k < n; k++) {
        const i = recs.alloc();
        recs.u8.set(outBytes.subarray(k * TICK_BYTES, (k + 1) * TICK_BYTES), i * TICK_BYTES);
        recv.push(t);
      }
      usable++;
    }
    if (usable === 0) {
      throw new DataFileError(`data file ${name} holds no trade, bookTicker or depth line (${stats.malformed} malformed); it is not a Binance combined-stream capture`);
    }
    parts.push({ recs, recv });
  }
  // merge the files by receive time; a stable merge keeps each message's records together
  let count = 0;
  for (const p of parts) count += p.recs.count;
  const mem = alignedBuffer(count * TICK_BYTES, 64, true);
  const u8 = new Uint8Array(mem.buffer, mem.byteOffset, count * TICK_BYTES);
  const f64 = new Float64Array(mem.buffer, mem.byteOffset, count * TICK_F64);
  const u32 = new Uint32Array(mem.buffer, mem.byteOffset, count * TICK_U32);
  const recordedRecvNs = new Float64Array(new SharedArrayBuffer(Math.max(8, count * 8)));
  const at = parts.map(() => 0);
  for (let w = 0; w < count; w++) {
    let best = -1;
    for (let j = 0; j < parts.length; j++) {
      if (at[j]! < parts[j]!.recs.count && (best < 0 || parts[j]!.recv[at[j]!]! < parts[best]!.recv[at[best]!]!)) best = j;
    }
    const p = parts[best]!, i = at[best]!;
    // keep a whole message together: take its records up to the one flagged LAST
    let end = i;
    while (end < p.recs.count - 1 && !(p.recs.u8[end * TICK_BYTES + T.FLAGS_U8]! & TickFlag.last)) end++;
    u8.set(p.recs.u8.subarray(i * TICK_BYTES, (end + 1) * TICK_BYTES), w * TICK_BYTES);
    for (let k = i; k <= end; k++) recordedRecvNs[w + k - i] = p.recv[k]!;
    w += end - i;
    at[best] = end + 1;
  }
  return { mem, f64, u32, u8, recordedRecvNs, count, instruments, stats };
}
