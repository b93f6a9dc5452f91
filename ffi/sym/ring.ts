/** Symbols of c/ring.c: SPSC and MPMC rings of 64-byte records. Offsets mirrored from c/ring.h. */
import type { LayoutSpec } from "./types.ts";

export const ringSymbols = {
  bot4_ring_create: { args: ["i32", "i32"], returns: "ptr" },
  bot4_ring_destroy: { args: ["ptr"], returns: "void" },
  bot4_ring_check: { args: ["ptr"], returns: "i32" },
  bot4_ring_records: { args: ["ptr"], returns: "ptr" },
  bot4_ring_size: { args: ["ptr"], returns: "i32" },
  bot4_ring_claim: { args: ["ptr", "i32"], returns: "i32" },
  bot4_ring_publish: { args: ["ptr", "i32"], returns: "void" },
  bot4_ring_available: { args: ["ptr", "i32"], returns: "i32" },
  bot4_ring_available_after: { args: ["ptr", "i32", "i32"], returns: "i32" },
  bot4_ring_release: { args: ["ptr", "i32"], returns: "void" },
  bot4_ring_push: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_ring_push_drop: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_ring_pop: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_ring_peek: { args: ["ptr", "i32", "ptr"], returns: "i32" },
  bot4_mpmc_push: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_mpmc_push_drop: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_mpmc_pop: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_ring_rtt_native: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
  bot4_ring_throughput_native: { args: ["i32", "i32", "i32"], returns: "f64" },
  bot4_layout_ring: { args: ["ptr", "i32"], returns: "i32" },
} as const;

export const RingConst = {
  MAGIC: 0x524e4734,
  VERSION: 1,
  SPSC: 1,
  MPMC: 2,
  RECORD: 64,
  MIN_CAPACITY: 2,
  MAX_CAPACITY: 1 << 26,
  HEADER: 256,
} as const;

/** bot4_ring_t: line 0 geometry, line 1 producer, line 2 consumer, line 3 spare. */
export const RingOffset = {
  magic: 0,
  version: 4,
  kind: 8,
  capacity: 12,
  mask: 16,
  record_bytes: 20,
  map_bytes: 24,
  records_off: 32,
  seqs_off: 40,
  head: 64,
  cached_tail: 68,
  drops: 72,
  full_waits: 80,
  tail: 128,
  cached_head: 132,
  empty_polls: 136,
} as const;

export const ringLayouts: LayoutSpec[] = [
  {
    family: "ring",
    fn: "bot4_layout_ring",
    expected: {
      bot4_ring_t: RingConst.HEADER,
      ...Object.fromEntries(Object.entries(RingOffset).map(([k, v]) => [`bot4_ring_t.${k}`, v])),
      BOT4_RING_MAGIC: RingConst.MAGIC,
      BOT4_RING_VERSION: RingConst.VERSION,
      BOT4_RING_SPSC: RingConst.SPSC,
      BOT4_RING_MPMC: RingConst.MPMC,
      BOT4_RING_RECORD: RingConst.RECORD,
      BOT4_RING_MIN_CAPACITY: RingConst.MIN_CAPACITY,
      BOT4_RING_MAX_CAPACITY: RingConst.MAX_CAPACITY,
      BOT4_RING_HEADER: RingConst.HEADER,
    },
  },
];
