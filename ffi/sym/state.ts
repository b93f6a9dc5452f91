/** Symbols of c/state.c: per-instrument state, 8 instruments per group. */
import type { LayoutSpec } from "./types.ts";

export const stateSymbols = {
  bot4_state_bytes: { args: ["u32"], returns: "u64" },
  bot4_state_init: { args: ["ptr", "u32"], returns: "i32" },
  bot4_state_apply: { args: ["ptr", "ptr", "u32", "u32", "i32"], returns: "i32" },
  bot4_state_update8: { args: ["ptr", "ptr", "ptr", "ptr"], returns: "void" },
  bot4_state_totals: { args: ["ptr", "ptr"], returns: "void" },
  bot4_layout_state: { args: ["ptr", "i32"], returns: "i32" },
} as const;

/** Mirror of bot4_state_t / bot4_state_group_t (c/state.h). */
export const STATE_GROUP = 8;
export const StateLayout = {
  headerBytes: 64,
  groupBytes: 512,
  groups: 0,
  applied: 8,
  skipped: 16,
  rejected: 24,
  group: 64,
  /** byte offset of each row inside a group; each row is 8 doubles */
  rows: { last: 0, volume: 64, notional: 128, vwap: 192, high: 256, low: 320, trades: 384, lastTs: 448 },
} as const;

const r = StateLayout.rows;
export const stateLayouts: LayoutSpec[] = [
  {
    family: "state",
    fn: "bot4_layout_state",
    expected: {
      bot4_state_t: StateLayout.headerBytes,
      "bot4_state_t.groups": StateLayout.groups,
      "bot4_state_t.applied": StateLayout.applied,
      "bot4_state_t.skipped": StateLayout.skipped,
      "bot4_state_t.rejected": StateLayout.rejected,
      "bot4_state_t.group": StateLayout.group,
      bot4_state_group_t: StateLayout.groupBytes,
      "bot4_state_group_t.last": r.last,
      "bot4_state_group_t.volume": r.volume,
      "bot4_state_group_t.notional": r.notional,
      "bot4_state_group_t.vwap": r.vwap,
      "bot4_state_group_t.high": r.high,
      "bot4_state_group_t.low": r.low,
      "bot4_state_group_t.trades": r.trades,
      "bot4_state_group_t.last_ts": r.lastTs,
      BOT4_GROUP: STATE_GROUP,
    },
  },
];
