/** Symbols of c/core.c: build identity, FFI-cost probes, the tick layout. */
import { TICK_BYTES, TickFlag, TickKind, TickOffset } from "../../src/domain/tick.ts";
import type { LayoutSpec } from "./types.ts";

export const coreSymbols = {
  bot4_variant: { args: [], returns: "cstring" },
  bot4_isa: { args: [], returns: "cstring" },
  bot4_lanes: { args: [], returns: "i32" },
  bot4_noop: { args: [], returns: "void" },
  bot4_noop_ptr_len: { args: ["ptr", "i32"], returns: "i32" },
  bot4_layout_tick: { args: ["ptr", "i32"], returns: "i32" },
} as const;

const o = TickOffset;
export const coreLayouts: LayoutSpec[] = [
  {
    family: "tick",
    fn: "bot4_layout_tick",
    expected: {
      bot4_tick_t: TICK_BYTES,
      "bot4_tick_t.ts_exchange_ns": o.tsExchangeNs,
      "bot4_tick_t.ts_recv_ns": o.tsRecvNs,
      "bot4_tick_t.price": o.price,
      "bot4_tick_t.size": o.size,
      "bot4_tick_t.price2": o.price2,
      "bot4_tick_t.size2": o.size2,
      "bot4_tick_t.seq": o.seq,
      "bot4_tick_t.instrument": o.instrument,
      "bot4_tick_t.venue": o.venue,
      "bot4_tick_t.kind": o.kind,
      "bot4_tick_t.flags": o.flags,
      BOT4_TICK_TRADE: TickKind.trade,
      BOT4_TICK_QUOTE: TickKind.quote,
      BOT4_TICK_LEVEL: TickKind.level,
      BOT4_TICK_STATUS: TickKind.status,
      BOT4_FLAG_SELL: TickFlag.sell,
      BOT4_FLAG_ASK: TickFlag.ask,
      BOT4_FLAG_SNAPSHOT: TickFlag.snapshot,
      BOT4_FLAG_LAST: TickFlag.last,
      BOT4_FLAG_NOLEVEL: TickFlag.nolevel,
    },
  },
];
