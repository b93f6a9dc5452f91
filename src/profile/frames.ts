/**
 * Raw recorded Binance frames for `bot4 profile`, laid out for the feed's C parser: every frame's
 * bytes end to end in one shared, 64-byte aligned buffer, with u32 offsets and u64 receive times
 * beside it (also shared, so feed Workers parse the very same memory without a copy).
 *
 * The frames are grouped into chunks the hot loop parses with one FFI call each
 * (bot4_binance_parse_many): up to CHUNK_FRAMES frames whose records fit the staging buffer. A
 * REST depth snapshot carries no symbol, so it is a chunk of its own parsed with the instrument of
 * the depth frames before it (the same rule as the capture loader).
 *
 * Preparing (cold): one pass through the parser registers the symbols, counts each frame's records
 * and keeps the records as a tape (the "engine only" input, records already parsed).
 */
import { existsSync } from "node:fs";
import { alignedBuffer, alignedRegion, type AlignedBuffer } from "../../ffi/buffers.ts";
import { K } from "../../ffi/lib.ts";
import { BinanceParser, ParseStatus } from "../../ffi/parse.ts";
import { binanceUsdmUnified, InstrumentTable, Venue, venueName } from "../domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind } from "../domain/tick.ts";
import { TickBuffer } from "../domain/tick-buffer.ts";
import { DataFileError, frameSymbol, readCaptureText } from "../feed/recording.ts";

export const CHUNK_FRAMES = 32;
/** staging records per chunk (a chunk never produces more) */
export const STAGE_RECORDS = 16384;
const NO_INSTRUMENT = 0xffffffff;

export class ProfileError extends Error {
  override name = "ProfileError";
  readonly exitCode = 2;
}

/** What a Worker needs to rebuild the frame set over the same shared memory. */
export interface FrameShare {
  blob: { buffer: SharedArrayBuffer; byteOffset: number; bytes: number };
  offs: { buffer: SharedArrayBuffer; byteOffset: number; bytes: number };
  recv: { buffer: SharedArrayBuffer; byteOffset: number; bytes: number };
  /** chunk c covers frames chunkStart[c] .. chunkStart[c+1]-1; chunkInst[c] is the snapshot's instrument or NO_INSTRUMENT */
  chunkStart: Uint32Array;
  chunkInst: Uint32Array;
  symbols: Array<{ raw: string; id: number }>;
  venue: number;
  frames: number;
  records: number;
}

export interface FrameSet extends FrameShare {
  blobMem: AlignedBuffer;
  offsMem: AlignedBuffer;
  recvMem: AlignedBuffer;
  /** records per frame (from the preparing pass) */
  perFrame: Uint32Array;
  /** parsed records, receive time stamped: the engine-only input */
  tape: { mem: AlignedBuffer; u8: Uint8Array; u32: Uint32Array; f64: Float64Array; ptr: number; count: number };
  instruments: Array<{ venue: string; symbol: string }>;
  bytes: number;
  names: string[];
}

/** Reads captures (paths, or embedded `{ name, bytes }`), merges them by receive time, prepares chunks and the tape. */
export function loadFrames(sources: Array<string | { name: string; bytes: Uint8Array }>, venue: number = Venue.binanceusdm, limitFrames = Infinity): FrameSet {
  const lines: Array<{ t: bigint; body: string; file: number }> = [];
  const names: string[] = [];
  for (const src of sources) {
    const name = typeof src === "string" ? src : src.name;
    if (typeof src === "string" && !existsSync(src)) throw new DataFileError(`profile: data file ${src} does not exist (give raw Binance captures: \`<recv_ns> <json>\` lines, gzip or plain)`);
    names.push(name);
    const text = readCaptureText(name, typeof src === "string" ? undefined : src.bytes);
    let usable = 0;
    for (const line of text.split("\n")) {
      const sp = line.indexOf(" ");
      if (sp <= 0) continue;
      const head = line.slice(0, sp);
      if (!/^\d+$/.test(head)) continue;
      lines.push({ t: BigInt(head), body: line.slice(sp + 1), file: names.length - 1 });
      usable++;
    }
    if (usable === 0) throw new DataFileError(`profile: data file ${name} holds no \`<recv_ns> <json>\` line; it is not a raw Binance capture`);
  }
  // stable merge by receive time (Array.prototype.sort is stable)
  const order = lines.map((_, i) => i).sort((a, b) => (lines[a]!.t < lines[b]!.t ? -1 : lines[a]!.t > lines[b]!.t ? 1 : a - b));
  const n = Math.min(order.length, limitFrames);
  const enc = new TextEncoder();
  const encoded: Uint8Array[] = new Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    encoded[i] = enc.encode(lines[order[i]!]!.body);
    total += encoded[i]!.length;
  }
  const blobMem = alignedBuffer(total, 64, true);
  const offsMem = alignedBuffer((n + 1) * 4, 64, true);
  const recvMem = alignedBuffer(n * 8 + 8, 64, true);
  const blob = new Uint8Array(blobMem.buffer, blobMem.byteOffset, total);
  const offs = new Uint32Array(offsMem.buffer, offsMem.byteOffset, n + 1);
  const recv = new BigUint64Array(recvMem.buffer, recvMem.byteOffset, n + 1);
  let at = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = at;
    blob.set(encoded[i]!, at);
    at += encoded[i]!.length;
    recv[i] = lines[order[i]!]!.t;
  }
  offs[n] = at;

  // preparing pass: the live feed's parser, symbols registered on first sight
  const table = new InstrumentTable();
  const parser = new BinanceParser(venue);
  const symbols: Array<{ raw: string; id: number }> = [];
  const stage = alignedBuffer(STAGE_RECORDS * TICK_BYTES);
  const stageU8 = new Uint8Array(stage.buffer, stage.byteOffset, STAGE_RECORDS * TICK_BYTES);
  const stageU32 = new Uint32Array(stage.buffer, stage.byteOffset, STAGE_RECORDS * TICK_U32);
  const perFrame = new Uint32Array(n);
  const tapeBuf = new TickBuffer(Math.max(1024, n * 2));
  const isSnapshot = new Uint8Array(n);
  const snapInst = new Uint32Array(n).fill(NO_INSTRUMENT);
  // a REST snapshot belongs to the instrument of the depth frames before it in its own file
  const depthInstOf = new Int32Array(names.length).fill(-1);
  for (let i = 0; i < n; i++) {
    const { body, file } = lines[order[i]!]!;
    const depthInst = depthInstOf[file]!;
    const snap = body.startsWith('{"lastUpdateId"');
    const dflt = snap && depthInst >= 0 ? depthInst : NO_INSTRUMENT;
    const len = offs[i + 1]! - offs[i]!;
    let r = parser.parse(blobMem.ptr + offs[i]!, len, Number(recv[i]!), stage.ptr, STAGE_RECORDS, dflt);
    if (r === ParseStatus.unknownSymbol) {
      const sym = frameSymbol(body);
      if (sym !== undefined) {
        const id = table.id(venue, binanceUsdmUnified(sym));
        parser.addSymbol(sym, id);
        symbols.push({ raw: sym, id });
        r = parser.parse(blobMem.ptr + offs[i]!, len, Number(recv[i]!), stage.ptr, STAGE_RECORDS, dflt);
      }
    }
    if (snap) {
      isSnapshot[i] = 1;
      snapInst[i] = dflt;
    }
    if (r <= 0) continue;
    perFrame[i] = r;
    if (stageU8[T.KIND_U8] === TickKind.level) depthInstOf[file] = stageU32[T.INSTRUMENT_U32]!;
    for (let k = 0; k < r; k++) {
      const j = tapeBuf.alloc();
      tapeBuf.u8.set(stageU8.subarray(k * TICK_BYTES, (k + 1) * TICK_BYTES), j * TICK_BYTES);
    }
  }
  const count = tapeBuf.count;
  if (count === 0) throw new DataFileError(`profile: no trade, bookTicker or depth record in ${names.join(", ")}`);
  const tapeMem = alignedBuffer(count * TICK_BYTES, 64, true);
  const u8 = new Uint8Array(tapeMem.buffer, tapeMem.byteOffset, count * TICK_BYTES);
  u8.set(tapeBuf.u8.subarray(0, count * TICK_BYTES));

  // chunks: up to CHUNK_FRAMES frames whose records fit the staging buffer; a snapshot alone
  const starts: number[] = [];
  const insts: number[] = [];
  let i = 0;
  while (i < n) {
    starts.push(i);
    if (isSnapshot[i]) {
      insts.push(snapInst[i]!);
      i++;
      continue;
    }
    insts.push(NO_INSTRUMENT);
    let recs = 0, k = 0;
    while (i < n && k < CHUNK_FRAMES && !isSnapshot[i] && recs + perFrame[i]! <= STAGE_RECORDS) {
      recs += perFrame[i]!;
      i++;
      k++;
    }
  }
  starts.push(n);
  const share = (m: AlignedBuffer) => ({ buffer: m.buffer as SharedArrayBuffer, byteOffset: m.byteOffset, bytes: m.bytes });
  return {
    blob: share(blobMem),
    offs: share(offsMem),
    recv: share(recvMem),
    blobMem,
    offsMem,
    recvMem,
    chunkStart: Uint32Array.from(starts),
    chunkInst: Uint32Array.from(insts),
    symbols,
    venue,
    frames: n,
    records: count,
    perFrame,
    tape: { mem: tapeMem, u8, u32: new Uint32Array(tapeMem.buffer, tapeMem.byteOffset, count * TICK_U32), f64: new Float64Array(tapeMem.buffer, tapeMem.byteOffset, count * TICK_F64), ptr: tapeMem.ptr, count },
    instruments: table.symbols.map((s, id) => ({ venue: venueName(table.venues[id]!), symbol: s })),
    bytes: total,
    names,
  };
}

/**
 * The feed's hot step over shared frames (any Worker): one FFI call per chunk of frames.
 */
export class ChunkParser {
  readonly parser: BinanceParser;
  private readonly blobPtr: number;
  private readonly offsPtr: number;
  private readonly recvPtr: number;
  private readonly recv: BigUint64Array;
  private readonly offs: Uint32Array;
  private readonly many = K.bot4_binance_parse_many;

  constructor(private readonly s: FrameShare) {
    this.parser = new BinanceParser(s.venue);
    for (const x of s.symbols) this.parser.addSymbol(x.raw, x.id);
    this.blobPtr = alignedRegion(s.blob.buffer, s.blob.byteOffset, s.blob.bytes).ptr;
    this.offsPtr = alignedRegion(s.offs.buffer, s.offs.byteOffset, s.offs.bytes).ptr;
    this.recvPtr = alignedRegion(s.recv.buffer, s.recv.byteOffset, s.recv.bytes).ptr;
    this.recv = new BigUint64Array(s.recv.buffer, s.recv.byteOffset, s.frames + 1);
    this.offs = new Uint32Array(s.offs.buffer, s.offs.byteOffset, s.frames + 1);
  }

  get chunks(): number {
    return this.s.chunkStart.length - 1;
  }

  /** Parses chunk c into `out` (cap records) with one FFI call; returns the records written. */
  parse(c: number, outPtr: number, cap: number): number {
    const a = this.s.chunkStart[c]!, b = this.s.chunkStart[c + 1]!;
    const inst = this.s.chunkInst[c]!;
    if (inst !== NO_INSTRUMENT) {
      // a REST depth snapshot: no symbol in its body, the depth frames' instrument given
      const r = this.parser.parse(this.blobPtr + this.offs[a]!, this.offs[a + 1]! - this.offs[a]!, Number(this.recv[a]!), outPtr, cap, inst);
      return r > 0 ? r : 0;
    }
    return this.many(this.parser.ptr, this.blobPtr, this.offsPtr + a * 4, b - a, this.recvPtr + a * 8, outPtr, cap);
  }
}
