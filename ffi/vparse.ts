/**
 * The JSON venues' C path (c/vparse.h) behind a typed wrapper: a frame's text is encoded once into
 * a preallocated buffer and one FFI call parses it into tick records, applies them to the feed's
 * own C books and pushes them into its ring. The frame's results (status, instrument, kind,
 * books that asked for a resync) and the parser's counters are read in place, no call.
 */
import { K } from "./lib.ts";
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { PARSER_BYTES, ParserLayout as P } from "./sym/feed.ts";
import { KrakenBookLayout as KB, KrakenFlag, OkxBookLayout as OB, PARSE_DEFER, PARSE_STALE, VfeedLayout as L, VparseVenue, VparseWhat } from "./sym/vparse.ts";
import type { BookSet } from "./book.ts";
import type { ParserCounters } from "./parse.ts";
import type { SpscRing } from "./ring.ts";

export { KrakenFlag, PARSE_DEFER, PARSE_STALE, VparseVenue, VparseWhat };

export interface VenueParserCounters extends ParserCounters {
  /** frames left to the cold path (Bybit tickers) */
  deferred: number;
}

const enc = new TextEncoder();

export interface VenueFrameParserOptions {
  /** the feed's own books, indexed by instrument id: each book frame is applied in the same call */
  books?: BookSet;
  /** records of every parsed frame are pushed here (drops counted) */
  ring?: SpscRing;
  /** records one frame may make (default 4096, the parser's scratch): Coinbase snapshots carry every level */
  maxRecords?: number;
  /** OKX: keep the books by OKX's procedure (seqId/prevSeqId chain, CRC-32 checksum over each level's received text) */
  okxBooks?: boolean;
  /**
   * Kraken v2: keep `books` pairs' books (instruments 0..books-1) by Kraken's procedure at the
   * subscribed depth (truncation, CRC32 over the top 10 levels' received digits); each pair's
   * precision is set with krakenPair().
   */
  krakenBooks?: { books: number; depth: number };
}

/** One Kraken pair's book outcomes as the C step counted them. */
export interface KrakenBookCounters {
  snapshots: number;
  updates: number;
  applied: number;
  levels: number;
  truncated: number;
  checksumsChecked: number;
  checksumMismatches: number;
  checksumMissing: number;
  skipped: number;
  crossed: number;
  malformed: number;
  resyncs: number;
}

/** One venue connection's C parser (enum VparseVenue), its symbols, books and ring. */
export class VenueFrameParser {
  readonly parserPtr: number;
  readonly ptr: number;
  private readonly pmem: AlignedBuffer;
  private readonly fmem: AlignedBuffer;
  private readonly pu64: BigUint64Array;
  private readonly fi32: Int32Array;
  private readonly fu32: Uint32Array;
  private bytes: Uint8Array;
  private bytesPtr: number;
  private inbuf: AlignedBuffer;
  private readonly frame_ = K.bot4_vfeed_frame;
  private readonly frameNow_ = K.bot4_vfeed_frame_now;
  private readonly recs?: AlignedBuffer;
  private readonly okxMem?: AlignedBuffer;
  private readonly okxU64?: BigUint64Array;
  private readonly krMem?: AlignedBuffer;
  private readonly krU32?: Uint32Array;
  private readonly krU64?: BigUint64Array;
  private readonly krOut = new Float64Array(0);
  readonly krakenDepth: number = 0;
  private readonly symbols = new Map<string, number>();

  constructor(
    readonly kind: number,
    readonly venue: number,
    o: VenueFrameParserOptions = {},
  ) {
    this.pmem = alignedBuffer(PARSER_BYTES);
    this.parserPtr = this.pmem.ptr;
    if (K.bot4_parser_init(this.parserPtr, venue) !== 0) throw new Error("bot4_parser_init refused the buffer (not 64-byte aligned)");
    this.fmem = alignedBuffer(L.bytes);
    this.ptr = this.fmem.ptr;
    const books = o.books;
    if (K.bot4_vfeed_init(this.ptr, this.parserPtr, kind, books ? books.tablePtr : 0, books ? books.instruments : 0, o.ring ? o.ring.handle : 0) !== 0) {
      throw new RangeError(`bot4_vfeed_init refused venue kind ${kind}`);
    }
    if (o.maxRecords !== undefined && o.maxRecords > 4096) {
      this.recs = alignedBuffer(o.maxRecords * 64);
      if (K.bot4_vfeed_scratch(this.ptr, this.recs.ptr, o.maxRecords) !== 0) throw new RangeError("bot4_vfeed_scratch refused the record area");
    }
    if (o.okxBooks) {
      const nb = books ? books.instruments : 0;
      this.okxMem = alignedBuffer(Number(K.bot4_okx_bytes(nb)));
      if (K.bot4_vfeed_okx(this.ptr, this.okxMem.ptr, nb) !== 0) throw new RangeError("bot4_vfeed_okx refused (not an OKX parser)");
      this.okxU64 = new BigUint64Array(this.okxMem.buffer, this.okxMem.byteOffset, this.okxMem.bytes / 8);
    }
    if (o.krakenBooks) {
      const { books: nb, depth } = o.krakenBooks;
      this.krMem = alignedBuffer(Number(K.bot4_kraken_bytes(nb, depth)));
      if (K.bot4_vfeed_kraken(this.ptr, this.krMem.ptr, nb, depth) !== 0) throw new RangeError(`bot4_vfeed_kraken refused (not a Kraken parser, or depth ${depth} < 10)`);
      this.krU32 = new Uint32Array(this.krMem.buffer, this.krMem.byteOffset, (KB.areaBooks + nb * KB.bytes) / 4);
      this.krU64 = new BigUint64Array(this.krMem.buffer, this.krMem.byteOffset, (KB.areaBooks + nb * KB.bytes) / 8);
      this.krOut = new Float64Array(2 * (depth + 1024));
      this.krakenDepth = depth;
    }
    this.pu64 = new BigUint64Array(this.pmem.buffer, this.pmem.byteOffset, P.table / 8);
    this.fi32 = new Int32Array(this.fmem.buffer, this.fmem.byteOffset, L.bytes / 4);
    this.fu32 = new Uint32Array(this.fmem.buffer, this.fmem.byteOffset, L.bytes / 4);
    this.inbuf = alignedBuffer(1 << 20);
    this.bytes = new Uint8Array(this.inbuf.buffer, this.inbuf.byteOffset, this.inbuf.bytes);
    this.bytesPtr = this.inbuf.ptr;
  }

  /** Registers a symbol as the venue writes it in frames (`BTCUSDT`) for an instrument id. */
  addSymbol(name: string, instrument: number): void {
    const b = enc.encode(name);
    if (K.bot4_parser_add_symbol(this.parserPtr, b, b.length, instrument) !== 0) {
      throw new RangeError(`cannot register symbol ${JSON.stringify(name)}: empty, longer than 23 bytes, already registered, or the table is full (192)`);
    }
    this.symbols.set(name, instrument);
  }

  instrumentOf(name: string): number | undefined {
    return this.symbols.get(name);
  }

  /**
   * One text frame: UTF-8 into the input buffer (grown, cold, when a frame does not fit), then
   * parse + books + ring in one call. Returns records produced or a negative ParseStatus /
   * PARSE_DEFER.
   */
  text(text: string, recvNs: number): number {
    let r = enc.encodeInto(text, this.bytes);
    if (r.read! < text.length) {
      this.grow(text.length * 3);
      r = enc.encodeInto(text, this.bytes);
    }
    return this.frame_(this.ptr, this.bytesPtr, r.written!, recvNs);
  }

  /** text() stamped in C with the bot4 clock (ffi/clock.ts now) on entry: one FFI call fewer than text(t, now()). */
  textNow(text: string): number {
    let r = enc.encodeInto(text, this.bytes);
    if (r.read! < text.length) {
      this.grow(text.length * 3);
      r = enc.encodeInto(text, this.bytes);
    }
    return this.frameNow_(this.ptr, this.bytesPtr, r.written!);
  }

  /** frame() stamped in C with the bot4 clock on entry (one FFI call, as textNow). */
  frameNow(bufPtr: number, len: number): number {
    return this.frameNow_(this.ptr, bufPtr, len);
  }

  /** One frame already in C-readable memory. */
  frame(bufPtr: number, len: number, recvNs: number): number {
    return this.frame_(this.ptr, bufPtr, len, recvNs);
  }

  /** Frames end to end at bufPtr (offsets offs[0..n]), one call (replay, benchmarks). */
  frames(bufPtr: number, offsPtr: number, n: number, recvNsPtr: number): number {
    return K.bot4_vfeed_frames(this.ptr, bufPtr, offsPtr, n, recvNsPtr);
  }

  /** Parse only, into `cap` records at outPtr (no books, no ring). */
  parse(bufPtr: number, len: number, recvNs: number, outPtr: number, cap: number): number {
    return K.bot4_vparse(this.ptr, bufPtr, len, recvNs, outPtr, cap);
  }

  private grow(bytes: number): void {
    this.inbuf = alignedBuffer(bytes);
    this.bytes = new Uint8Array(this.inbuf.buffer, this.inbuf.byteOffset, this.inbuf.bytes);
    this.bytesPtr = this.inbuf.ptr;
  }

  /** Status of the last frame: records (>= 0) or a negative ParseStatus / PARSE_DEFER. */
  get status(): number {
    return this.fi32[L.status / 4]!;
  }
  /** Books that asked for a resync while the last frame was applied. */
  get resyncs(): number {
    return this.fi32[L.resyncs / 4]!;
  }
  /** The last frame's instrument (0xffffffff when it named none we know). */
  get instrument(): number {
    return this.fu32[L.instrument / 4]!;
  }
  /** What the last frame was (VparseWhat). */
  get what(): number {
    return this.fu32[L.what / 4]!;
  }
  /** Whether the last frame revealed a gap in the connection's sequence (Coinbase). */
  get gap(): boolean {
    return this.fu32[L.gap / 4]! !== 0;
  }
  /** Connection-wide sequence (Coinbase sequence_num): gaps and stale frames counted since init. */
  get seqGaps(): number {
    return this.u64(L.seqGaps);
  }
  get seqStale(): number {
    return this.u64(L.seqStale);
  }
  /** The last sequence number accepted on this connection (-1 before the first). */
  get seqLast(): number {
    return this.fu32[L.seqStarted / 4] ? this.u64(L.seqLast) : -1;
  }

  /** A u64 field read as two u32 halves (exact below 2^53): no BigInt per read on the per-frame path. */
  private u64(off: number): number {
    const u = this.fu32;
    return u[off / 4]! + u[off / 4 + 1]! * 4294967296;
  }

  /** Records the ring had no room for, in all (the last frame's: records made - pushed, roughly). */
  get ringDrops(): number {
    return this.u64(L.ringDrops);
  }

  /**
   * The feed can no longer trust one book (cold: its records were lost to a full ring): cleared,
   * waits for a snapshot, a STATUS record for it into the ring. False when there is no such book.
   */
  failBook(instrument: number, recvNs: number): boolean {
    return K.bot4_vfeed_fail(this.ptr, instrument, recvNs) === 1;
  }

  /** OKX: one book's outcomes as the C step counted them (okxBooks). */
  okxCounters(instrument: number): { checksumsChecked: number; checksumMismatches: number; checksumZero: number; heartbeats: number; resets: number; withheld: number; crossed: number } {
    const u = this.okxU64;
    if (!u) throw new Error("not an OKX parser with books");
    const at = (off: number) => Number(u[(OB.areaBooks + instrument * OB.bytes + off) / 8]);
    return {
      checksumsChecked: at(OB.checked),
      checksumMismatches: at(OB.mismatches),
      checksumZero: at(OB.unchecked),
      heartbeats: at(OB.heartbeats),
      resets: at(OB.resets),
      withheld: at(OB.withheld),
      crossed: at(OB.crossed),
    };
  }

  /** OKX: the checksum of a book as it stands, as OKX computes it (0 when a level's text is missing). */
  okxChecksum(instrument: number): number {
    return K.bot4_vfeed_okx_checksum(this.ptr, instrument);
  }

  /** Kraken: a pair's price and qty precision (the checksum pads each number's digits to them). */
  krakenPair(instrument: number, pricePrecision: number, qtyPrecision: number): void {
    if (K.bot4_vfeed_kraken_pair(this.ptr, instrument, pricePrecision, qtyPrecision) !== 0) {
      throw new RangeError(`bot4_vfeed_kraken_pair refused instrument ${instrument} (precision ${pricePrecision}/${qtyPrecision}: 0..18)`);
    }
  }

  private krAt32(instrument: number, off: number): number {
    return this.krU32![(KB.areaBooks + instrument * KB.bytes + off) / 4]!;
  }
  private krAt64(instrument: number, off: number): number {
    return Number(this.krU64![(KB.areaBooks + instrument * KB.bytes + off) / 8]);
  }

  /** Kraken: a pair's book state (BookState: 0 waits for a snapshot, 2 synced), its last problem and flags. */
  krakenState(instrument: number): { state: number; problem: number; flags: number; lastVenue: number; lastBook: number } {
    if (!this.krU32) throw new Error("not a Kraken parser with books");
    return { state: this.krAt32(instrument, KB.state), problem: this.krAt32(instrument, KB.problem), flags: this.krAt32(instrument, KB.flags), lastVenue: this.krAt64(instrument, KB.lastVenue), lastBook: this.krAt64(instrument, KB.lastBook) };
  }

  /** Kraken: the flags a pair's book gathered (KrakenFlag), cleared. */
  krakenTakeFlags(instrument: number): number {
    const u = this.krU32!;
    const i = (KB.areaBooks + instrument * KB.bytes + KB.flags) / 4;
    const f = u[i]!;
    u[i] = 0;
    return f;
  }

  /** Kraken: levels a side holds (0 bids, 1 asks). */
  krakenDepthOf(instrument: number, side: number): number {
    return this.krAt32(instrument, KB.n + 4 * (side & 1));
  }

  /** Kraken: a pair's levels best first as [price, size] pairs (cold: tests, reports). */
  krakenLevels(instrument: number, side: number, n = Infinity): Array<[number, number]> {
    const out = this.krOut;
    const m = K.bot4_kraken_levels(this.ptr, instrument, side, out, Math.min(n, out.length / 2));
    const r: Array<[number, number]> = [];
    for (let i = 0; i < m; i++) r.push([out[2 * i]!, out[2 * i + 1]!]);
    return r;
  }

  /** Kraken: the checksum of a pair's book as it stands. */
  krakenChecksum(instrument: number): number {
    return K.bot4_kraken_checksum(this.ptr, instrument) >>> 0;
  }

  /** Kraken: data elements naming pairs not configured, in all. */
  get krakenUnknown(): number {
    return Number(this.krU64![KB.areaUnknown / 8]);
  }

  krakenCounters(instrument: number): KrakenBookCounters {
    if (!this.krU64) throw new Error("not a Kraken parser with books");
    const at = (off: number) => this.krAt64(instrument, off);
    return {
      snapshots: at(KB.snapshots), updates: at(KB.updates), applied: at(KB.applied), levels: at(KB.levels), truncated: at(KB.truncated),
      checksumsChecked: at(KB.checked), checksumMismatches: at(KB.mismatches), checksumMissing: at(KB.missing), skipped: at(KB.skipped),
      crossed: at(KB.crossed), malformed: at(KB.malformed), resyncs: at(KB.resyncs),
    };
  }

  /** A new connection (cold): the sequence starts afresh and every book waits for its snapshot. */
  reset(): void {
    K.bot4_vfeed_reset(this.ptr);
  }

  /** Records the ring took of the last frame. */
  get pushed(): number {
    return this.fu32[L.pushed / 4]!;
  }

  counters(): VenueParserCounters {
    const at = (off: number) => Number(this.pu64[off / 8]);
    return {
      frames: at(P.frames),
      trades: at(P.trades),
      quotes: at(P.quotes),
      depth: at(P.depth),
      snapshots: at(P.snapshots),
      levels: at(P.levels),
      control: at(P.control),
      venueErrors: at(P.venueErrors),
      malformed: at(P.malformed),
      unknownSymbol: at(P.unknownSymbol),
      unknownType: at(P.unknownType),
      missing: at(P.missing),
      tooMany: at(P.tooMany),
      ringDrops: at(P.ringDrops),
      deferred: at(L.parserDeferred),
    };
  }
}
