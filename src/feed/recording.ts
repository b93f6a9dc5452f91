/**
 * Loads recorded Binance combined-stream captures (`<recv_ns> <json>` lines, gzip or plain — the
 * hftbacktest format, also the bundled slice) into a tape of 64-byte tick records, parsed once on
 * the cold path so replay copies records without parsing or allocating.
 *
 * `@trade` lines become TRADE ticks, `@bookTicker` lines QUOTE ticks; depth updates and REST
 * snapshots are counted as `ignored` (the book builder consumes those). A line that cannot be
 * read (no receive time, bad JSON, missing or non-numeric fields) is counted in `malformed` and its
 * line number kept for the log; a file with no usable line is refused.
 */
import { existsSync, readFileSync } from "node:fs";
import { alignedBuffer, type AlignedBuffer } from "../../ffi/buffers.ts";
import { binanceUsdmUnified, InstrumentTable, Venue } from "../domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind, writeU64 } from "../domain/tick.ts";

export class DataFileError extends Error {
  override name = "DataFileError";
}

export interface TapeStats {
  files: string[];
  lines: number;
  trades: number;
  quotes: number;
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

interface Row {
  recv: number;
  kind: number;
  flags: number;
  inst: number;
  exchNs: bigint;
  price: number;
  size: number;
  price2: number;
  size2: number;
  seq: number;
}

/** A capture file's text, gunzipped when it is gzip; DataFileError when unreadable or damaged. */
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

const num = (v: unknown): number => (typeof v === "string" ? Number(v) : typeof v === "number" ? v : NaN);

/**
 * @param sources file paths, or `{ name, bytes }` for embedded files
 * @param venue venue id stamped on every record (Binance USD-M by default)
 */
export function loadBinanceCapture(
  sources: Array<string | { name: string; bytes: Uint8Array }>,
  venue: number = Venue.binanceusdm,
  instruments = new InstrumentTable(),
): Tape {
  const rows: Row[] = [];
  const stats: TapeStats = { files: [], lines: 0, trades: 0, quotes: 0, ignored: 0, malformed: 0, malformedAt: [] };
  for (const src of sources) {
    const name = typeof src === "string" ? src : src.name;
    if (typeof src === "string" && !existsSync(src)) {
      throw new DataFileError(`data file ${src} does not exist; set BOT4_DATA to recorded captures (\`<recv_ns> <json>\` lines, gzip or plain) or leave it empty for the bundled slice`);
    }
    stats.files.push(name);
    const text = readCaptureText(name, typeof src === "string" ? undefined : src.bytes);
    let lineNo = 0;
    let usable = 0;
    const bad = (why: string) => {
      stats.malformed++;
      if (stats.malformedAt.length < 10) stats.malformedAt.push(`${name}:${lineNo}: ${why}`);
    };
    for (const line of text.split("\n")) {
      lineNo++;
      if (line.length === 0) continue;
      stats.lines++;
      const sp = line.indexOf(" ");
      const recv = sp > 0 ? Number(line.slice(0, sp)) : NaN;
      if (!Number.isFinite(recv) || recv <= 0) { bad("no receive time before the JSON"); continue; }
      let msg: { stream?: string; data?: Record<string, unknown> };
      try {
        msg = JSON.parse(line.slice(sp + 1));
      } catch {
        bad("invalid JSON");
        continue;
      }
      const d = msg.data;
      if (typeof msg.stream !== "string" || !d || typeof d !== "object") { stats.ignored++; continue; }
      const at = msg.stream.indexOf("@");
      const channel = msg.stream.slice(at + 1);
      const symbol = typeof d.s === "string" ? d.s : msg.stream.slice(0, at);
      if (channel === "trade") {
        const price = num(d.p), size = num(d.q), t = num(d.T ?? d.E), id = num(d.t);
        if (!(price > 0) || !(size >= 0) || !Number.isFinite(t) || !Number.isFinite(id)) { bad("trade without numeric p/q/T/t"); continue; }
        rows.push({ recv, kind: TickKind.trade, flags: d.m === true ? TickFlag.sell : 0, inst: instruments.id(venue, binanceUsdmUnified(symbol)), exchNs: BigInt(t) * 1_000_000n, price, size, price2: 0, size2: 0, seq: id });
        stats.trades++;
      } else if (channel === "bookTicker") {
        const b = num(d.b), B = num(d.B), a = num(d.a), A = num(d.A), t = num(d.T ?? d.E ?? 0), u = num(d.u);
        if (!(b > 0) || !(a > 0) || !(B >= 0) || !(A >= 0) || !Number.isFinite(u)) { bad("bookTicker without numeric b/B/a/A/u"); continue; }
        rows.push({ recv, kind: TickKind.quote, flags: 0, inst: instruments.id(venue, binanceUsdmUnified(symbol)), exchNs: BigInt(Number.isFinite(t) ? t : 0) * 1_000_000n, price: b, size: B, price2: a, size2: A, seq: u });
        stats.quotes++;
      } else {
        stats.ignored++;
        continue;
      }
      usable++;
    }
    if (usable === 0) {
      throw new DataFileError(`data file ${name} holds no trade or bookTicker line (${stats.malformed} malformed); it is not a Binance combined-stream capture`);
    }
  }
  rows.sort((x, y) => x.recv - y.recv);
  const count = rows.length;
  const mem = alignedBuffer(count * TICK_BYTES, 64, true);
  const f64 = new Float64Array(mem.buffer, mem.byteOffset, count * TICK_F64);
  const u32 = new Uint32Array(mem.buffer, mem.byteOffset, count * TICK_U32);
  const u8 = new Uint8Array(mem.buffer, mem.byteOffset, count * TICK_BYTES);
  const u16 = new Uint16Array(mem.buffer, mem.byteOffset, count * (TICK_BYTES / 2));
  const u64 = new BigUint64Array(mem.buffer, mem.byteOffset, count * TICK_F64);
  const recordedRecvNs = new Float64Array(new SharedArrayBuffer(Math.max(8, count * 8)));
  for (let i = 0; i < count; i++) {
    const r = rows[i]!;
    const f = i * TICK_F64, w = i * TICK_U32, b = i * TICK_BYTES;
    u64[f] = r.exchNs;
    f64[f + T.PRICE_F64] = r.price;
    f64[f + T.SIZE_F64] = r.size;
    f64[f + T.PRICE2_F64] = r.price2;
    f64[f + T.SIZE2_F64] = r.size2;
    writeU64(u32, w + T.SEQ_U32, r.seq);
    u32[w + T.INSTRUMENT_U32] = r.inst;
    u16[i * (TICK_BYTES / 2) + T.VENUE_U16] = venue;
    u8[b + T.KIND_U8] = r.kind;
    u8[b + T.FLAGS_U8] = r.flags | TickFlag.last;
    recordedRecvNs[i] = r.recv;
  }
  return { mem, f64, u32, u8, recordedRecvNs, count, instruments, stats };
}
