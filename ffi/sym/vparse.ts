/** Symbols of c/vparse.c (JSON venue parsers and the feed step). Offsets mirrored from c/vparse.h. */
import type { LayoutSpec } from "./types.ts";

export const vparseSymbols = {
  bot4_vfeed_bytes: { args: [], returns: "u64" },
  bot4_vfeed_reset: { args: ["ptr"], returns: "void" },
  bot4_okx_bytes: { args: ["u32"], returns: "u64" },
  bot4_vfeed_okx: { args: ["ptr", "ptr", "u32"], returns: "i32" },
  bot4_crc32: { args: ["ptr", "u32"], returns: "u32" },
  bot4_vfeed_okx_checksum: { args: ["ptr", "u32"], returns: "i32" },
  bot4_vfeed_fail: { args: ["ptr", "u32", "u64"], returns: "i32" },
  bot4_vfeed_scratch: { args: ["ptr", "ptr", "u32"], returns: "i32" },
  bot4_vfeed_init: { args: ["ptr", "ptr", "u32", "ptr", "u32", "ptr"], returns: "i32" },
  bot4_vparse: { args: ["ptr", "ptr", "u32", "f64", "ptr", "u32"], returns: "i32" },
  bot4_vfeed_frame: { args: ["ptr", "ptr", "u32", "f64"], returns: "i32" },
  bot4_vfeed_frame_now: { args: ["ptr", "ptr", "u32"], returns: "i32" },
  bot4_vfeed_frames: { args: ["ptr", "ptr", "ptr", "u32", "ptr"], returns: "i32" },
  bot4_kraken_bytes: { args: ["u32", "u32"], returns: "u64" },
  bot4_vfeed_kraken: { args: ["ptr", "ptr", "u32", "u32"], returns: "i32" },
  bot4_vfeed_kraken_pair: { args: ["ptr", "u32", "u32", "u32"], returns: "i32" },
  bot4_kraken_levels: { args: ["ptr", "u32", "u32", "ptr", "u32"], returns: "u32" },
  bot4_kraken_checksum: { args: ["ptr", "u32"], returns: "u32" },
  bot4_kraken_digits: { args: ["ptr", "u32", "u32", "ptr"], returns: "i32" },
  bot4_layout_vparse: { args: ["ptr", "i32"], returns: "i32" },
} as const;

/** bot4_vfeed_t (c/vparse.h): results of the last frame, read in place. */
export const VfeedLayout = {
  bytes: 192,
  status: 32,
  resyncs: 36,
  instrument: 40,
  what: 44,
  pushed: 48,
  ringDrops: 56,
  seqNext: 64,
  seqGaps: 72,
  seqStale: 80,
  seqLast: 88,
  seqStarted: 96,
  gap: 100,
  scratch: 104,
  scratchCap: 112,
  okx: 128,
  kraken: 168,
  /** bot4_parser_t.deferred (c/parse.h) */
  parserDeferred: 128,
} as const;

/** enum bot4_vparse_venue */
export const VparseVenue = { bybit: 1, coinbase: 2, okx: 3, kraken: 4 } as const;

/** bot4_okx_book_t (c/vparse.h): one OKX book's outcomes, then its level texts; bot4_okx_t.book. */
export const OkxBookLayout = {
  /** counters, the sides' state, lv[2][2048] (16 bytes each), slot[2048] (64), freel[2048] (4) */
  bytes: 128 + 2 * 2048 * 16 + 2048 * 64 + 2048 * 4,
  checked: 0,
  mismatches: 8,
  unchecked: 16,
  heartbeats: 24,
  resets: 32,
  withheld: 40,
  crossed: 48,
  /** bot4_okx_t.book: the first book's offset in the area */
  areaBooks: 4096 * 16,
} as const;
/** enum bot4_vparse_what */
export const VparseWhat = { none: 0, trades: 1, delta: 2, snapshot: 3, heartbeat: 4, subscriptions: 5, status: 6, reply: 7 } as const;

/** bot4_kraken_book_t (c/vparse.h): one Kraken pair's book state and counters; bot4_kraken_t.book. */
export const KrakenBookLayout = {
  bytes: 256,
  state: 0,
  problem: 4,
  flags: 8,
  n: 16,
  lastVenue: 48,
  lastBook: 56,
  snapshots: 64,
  updates: 72,
  applied: 80,
  levels: 88,
  truncated: 96,
  checked: 104,
  mismatches: 112,
  missing: 120,
  skipped: 128,
  crossed: 136,
  malformed: 144,
  resyncs: 152,
  /** bot4_kraken_t.unknown: data elements naming a pair not configured */
  areaUnknown: 16,
  /** bot4_kraken_t.book: the first book's offset in the area */
  areaBooks: 64 + 64 * 24 + 4096 * 16,
} as const;
/** enum bot4_kr_flag */
export const KrakenFlag = { resync: 1, snapped: 2 } as const;
/** BOT4_PARSE_DEFER: a frame the C path leaves to the cold path */
export const PARSE_DEFER = -8;
/** BOT4_PARSE_STALE: Coinbase sequence_num at or below the last one (frame skipped) */
export const PARSE_STALE = -9;

const V = VfeedLayout;
export const vparseLayouts: LayoutSpec[] = [
  {
    family: "vparse",
    fn: "bot4_layout_vparse",
    expected: {
      bot4_vfeed_t: V.bytes,
      "bot4_vfeed_t.status": V.status,
      "bot4_vfeed_t.resyncs": V.resyncs,
      "bot4_vfeed_t.instrument": V.instrument,
      "bot4_vfeed_t.what": V.what,
      "bot4_vfeed_t.pushed": V.pushed,
      "bot4_vfeed_t.ring_drops": V.ringDrops,
      "bot4_vfeed_t.seq_next": V.seqNext,
      "bot4_vfeed_t.seq_gaps": V.seqGaps,
      "bot4_vfeed_t.seq_stale": V.seqStale,
      "bot4_vfeed_t.seq_last": V.seqLast,
      "bot4_vfeed_t.seq_started": V.seqStarted,
      "bot4_vfeed_t.gap": V.gap,
      "bot4_vfeed_t.scratch": V.scratch,
      "bot4_vfeed_t.scratch_cap": V.scratchCap,
      "bot4_vfeed_t.okx": V.okx,
      "bot4_vfeed_t.kraken": V.kraken,
      bot4_kraken_book_t: KrakenBookLayout.bytes,
      "bot4_kraken_book_t.state": KrakenBookLayout.state,
      "bot4_kraken_book_t.problem": KrakenBookLayout.problem,
      "bot4_kraken_book_t.flags": KrakenBookLayout.flags,
      "bot4_kraken_book_t.n": KrakenBookLayout.n,
      "bot4_kraken_book_t.last_venue": KrakenBookLayout.lastVenue,
      "bot4_kraken_book_t.last_book": KrakenBookLayout.lastBook,
      "bot4_kraken_book_t.snapshots": KrakenBookLayout.snapshots,
      "bot4_kraken_book_t.updates": KrakenBookLayout.updates,
      "bot4_kraken_book_t.applied": KrakenBookLayout.applied,
      "bot4_kraken_book_t.levels": KrakenBookLayout.levels,
      "bot4_kraken_book_t.truncated": KrakenBookLayout.truncated,
      "bot4_kraken_book_t.checked": KrakenBookLayout.checked,
      "bot4_kraken_book_t.mismatches": KrakenBookLayout.mismatches,
      "bot4_kraken_book_t.missing": KrakenBookLayout.missing,
      "bot4_kraken_book_t.skipped": KrakenBookLayout.skipped,
      "bot4_kraken_book_t.crossed": KrakenBookLayout.crossed,
      "bot4_kraken_book_t.malformed": KrakenBookLayout.malformed,
      "bot4_kraken_book_t.resyncs": KrakenBookLayout.resyncs,
      "bot4_kraken_t.unknown": KrakenBookLayout.areaUnknown,
      "bot4_kraken_t.book": KrakenBookLayout.areaBooks,
      bot4_okx_book_t: OkxBookLayout.bytes,
      "bot4_okx_book_t.checked": OkxBookLayout.checked,
      "bot4_okx_book_t.mismatches": OkxBookLayout.mismatches,
      "bot4_okx_book_t.unchecked": OkxBookLayout.unchecked,
      "bot4_okx_book_t.heartbeats": OkxBookLayout.heartbeats,
      "bot4_okx_book_t.resets": OkxBookLayout.resets,
      "bot4_okx_book_t.withheld": OkxBookLayout.withheld,
      "bot4_okx_book_t.crossed": OkxBookLayout.crossed,
      "bot4_okx_t.book": OkxBookLayout.areaBooks,
      "bot4_parser_t.deferred": V.parserDeferred,
    },
  },
];
