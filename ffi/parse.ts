/**
 * Venue frame parsers in C (c/parse.h) behind a typed wrapper: bytes in, 64-byte tick records
 * out, one FFI call per frame (or per batch of frames). Counters are read in place from the
 * parser's memory, no call needed.
 */
import { K } from "./lib.ts";
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { PARSER_BYTES, ParserLayout as L, ParseStatus } from "./sym/feed.ts";
import type { SpscRing } from "./ring.ts";

export { ParseStatus };

export interface ParserCounters {
  frames: number;
  trades: number;
  quotes: number;
  depth: number;
  snapshots: number;
  levels: number;
  control: number;
  venueErrors: number;
  malformed: number;
  unknownSymbol: number;
  unknownType: number;
  missing: number;
  tooMany: number;
  ringDrops: number;
}

const NO_INSTRUMENT = 0xffffffff;
const enc = new TextEncoder();

/** Binance spot / USD-M / COIN-M frames (raw or combined-stream) and REST depth snapshots. */
export class BinanceParser {
  readonly ptr: number;
  private readonly mem: AlignedBuffer;
  private readonly u64: BigUint64Array;
  private readonly i32: Int32Array;
  private readonly parse_ = K.bot4_binance_parse;
  private readonly toRing_ = K.bot4_binance_to_ring;
  private readonly symbols = new Map<string, number>();

  constructor(readonly venue: number) {
    this.mem = alignedBuffer(PARSER_BYTES);
    this.ptr = this.mem.ptr;
    if (K.bot4_parser_init(this.ptr, venue) !== 0) throw new Error("bot4_parser_init refused the buffer (not 64-byte aligned)");
    this.u64 = new BigUint64Array(this.mem.buffer, this.mem.byteOffset, L.table / 8);
    this.i32 = new Int32Array(this.mem.buffer, this.mem.byteOffset, 4);
  }

  /** Registers a symbol as the venue writes it in frames (`BTCUSDT`) for an instrument id. */
  addSymbol(name: string, instrument: number): void {
    const b = enc.encode(name);
    if (K.bot4_parser_add_symbol(this.ptr, b, b.length, instrument) !== 0) {
      throw new RangeError(`cannot register symbol ${JSON.stringify(name)}: empty, longer than 23 bytes, already registered, or the table is full (192)`);
    }
    this.symbols.set(name, instrument);
  }

  instrumentOf(name: string): number | undefined {
    return this.symbols.get(name);
  }

  /**
   * Parses the frame at `bufPtr` (len bytes) into `cap` records at `outPtr`. `defaultInstrument`
   * names the instrument of a REST snapshot (its body carries no symbol). Returns records
   * written, or a negative ParseStatus.
   */
  parse(bufPtr: number, len: number, recvNs: number, outPtr: number, cap: number, defaultInstrument = NO_INSTRUMENT): number {
    return this.parse_(this.ptr, bufPtr, len, recvNs, defaultInstrument, outPtr, cap);
  }

  /** Parses a frame and pushes its records into an SPSC ring (drops counted when full). */
  toRing(bufPtr: number, len: number, recvNs: number, ring: SpscRing): number {
    return this.toRing_(this.ptr, bufPtr, len, recvNs, ring.handle);
  }

  /** Status of the last frame: records written (>= 0) or a negative ParseStatus. */
  get lastStatus(): number {
    return this.i32[L.lastStatus / 4]!;
  }

  counters(): ParserCounters {
    const at = (off: number) => Number(this.u64[off / 8]);
    return {
      frames: at(L.frames),
      trades: at(L.trades),
      quotes: at(L.quotes),
      depth: at(L.depth),
      snapshots: at(L.snapshots),
      levels: at(L.levels),
      control: at(L.control),
      venueErrors: at(L.venueErrors),
      malformed: at(L.malformed),
      unknownSymbol: at(L.unknownSymbol),
      unknownType: at(L.unknownType),
      missing: at(L.missing),
      tooMany: at(L.tooMany),
      ringDrops: at(L.ringDrops),
    };
  }
}

/** Exact decimal string → double as C parses it (for tests against Number()). */
export function parseDecimalC(s: string): number {
  const b = enc.encode(s);
  return K.bot4_parse_decimal(b, b.length);
}

export const parseStatusName = (s: number): string =>
  (Object.keys(ParseStatus) as Array<keyof typeof ParseStatus>).find((k) => ParseStatus[k] === s) ?? (s >= 0 ? "ok" : `status ${s}`);
