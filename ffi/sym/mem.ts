/** Symbols of c/mem.c (arena, object pools) and c/sys.c (thread placement). Offsets from c/mem.h. */
import type { LayoutSpec } from "./types.ts";

export const memSymbols = {
  bot4_arena_create: { args: ["f64", "i32"], returns: "ptr" },
  bot4_arena_destroy: { args: ["ptr"], returns: "void" },
  bot4_arena_alloc: { args: ["ptr", "f64", "i32"], returns: "ptr" },
  bot4_arena_kind: { args: ["ptr"], returns: "i32" },
  bot4_arena_size: { args: ["ptr"], returns: "f64" },
  bot4_arena_used: { args: ["ptr"], returns: "f64" },
  bot4_arena_locked: { args: ["ptr"], returns: "i32" },
  bot4_arena_lock_errno: { args: ["ptr"], returns: "i32" },
  bot4_arena_thp_mode: { args: [], returns: "i32" },
  bot4_pool_bytes: { args: ["i32", "i32"], returns: "f64" },
  bot4_pool_init: { args: ["ptr", "i32", "i32"], returns: "ptr" },
  bot4_pool_create: { args: ["ptr", "i32", "i32"], returns: "ptr" },
  bot4_pool_destroy: { args: ["ptr"], returns: "void" },
  bot4_pool_get: { args: ["ptr"], returns: "i32" },
  bot4_pool_put: { args: ["ptr", "i32"], returns: "i32" },
  bot4_pool_slot: { args: ["ptr", "i32"], returns: "ptr" },
  bot4_pool_get_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_pool_put_batch: { args: ["ptr", "ptr", "i32"], returns: "i32" },
  bot4_layout_mem: { args: ["ptr", "i32"], returns: "i32" },
  bot4_sys_pin: { args: ["ptr", "i32"], returns: "i32" },
  bot4_sys_cpu: { args: [], returns: "i32" },
  bot4_sys_affinity: { args: ["ptr", "i32"], returns: "i32" },
  bot4_sys_mlockall: { args: ["i32"], returns: "i32" },
  bot4_sys_tid: { args: [], returns: "i32" },
  bot4_sys_send_floor: { args: ["i32", "i32", "ptr"], returns: "i32" },
  bot4_sys_gaps: { args: ["f64", "ptr"], returns: "i32" },
  bot4_layout_sys: { args: ["ptr", "i32"], returns: "i32" },
} as const;

export const MemConst = {
  HUGE_PAGE: 2 << 20,
  ARENA_HUGETLB: 1,
  ARENA_THP: 2,
  ARENA_NORMAL: 3,
  ARENA_WANT_HUGE: 1,
  ARENA_MLOCK: 2,
  ARENA_PREFAULT: 4,
  ARENA_NO_HUGETLB: 8,
  THP_UNKNOWN: 0,
  THP_ALWAYS: 1,
  THP_MADVISE: 2,
  THP_NEVER: 3,
  POOL_MAGIC: 0x4c4f4f50,
} as const;

export const SysConst = { MLOCK_CURRENT: 1, MLOCK_FUTURE: 2, MLOCK_ONFAULT: 4, CPU_SETSIZE: 1024 } as const;

export const ArenaOffset = { base: 0, size: 8, used: 16, kind: 24, locked: 28, lock_errno: 32, huge_errno: 36, thp_errno: 40, flags: 44, thp_mode: 48 } as const;
export const ARENA_BYTES = 64;

export const PoolOffset = {
  magic: 0,
  stride: 4,
  capacity: 8,
  top: 12,
  free_off: 16,
  state_off: 20,
  slots_off: 24,
  gets: 32,
  puts: 40,
  high_water: 48,
  exhausted: 56,
  bad_index: 64,
  double_puts: 72,
  owned: 80,
} as const;
export const POOL_HEADER_BYTES = 128;

const C = MemConst;
export const memLayouts: LayoutSpec[] = [
  {
    family: "mem",
    fn: "bot4_layout_mem",
    expected: {
      bot4_arena_t: ARENA_BYTES,
      ...Object.fromEntries(Object.entries(ArenaOffset).map(([k, v]) => [`bot4_arena_t.${k}`, v])),
      bot4_pool_t: POOL_HEADER_BYTES,
      ...Object.fromEntries(Object.entries(PoolOffset).map(([k, v]) => [`bot4_pool_t.${k}`, v])),
      BOT4_HUGE_PAGE: C.HUGE_PAGE,
      BOT4_ARENA_HUGETLB: C.ARENA_HUGETLB,
      BOT4_ARENA_THP: C.ARENA_THP,
      BOT4_ARENA_NORMAL: C.ARENA_NORMAL,
      BOT4_ARENA_WANT_HUGE: C.ARENA_WANT_HUGE,
      BOT4_ARENA_MLOCK: C.ARENA_MLOCK,
      BOT4_ARENA_PREFAULT: C.ARENA_PREFAULT,
      BOT4_ARENA_NO_HUGETLB: C.ARENA_NO_HUGETLB,
      BOT4_THP_UNKNOWN: C.THP_UNKNOWN,
      BOT4_THP_ALWAYS: C.THP_ALWAYS,
      BOT4_THP_MADVISE: C.THP_MADVISE,
      BOT4_THP_NEVER: C.THP_NEVER,
      BOT4_POOL_MAGIC: C.POOL_MAGIC,
    },
  },
  {
    family: "sys",
    fn: "bot4_layout_sys",
    expected: {
      BOT4_MLOCK_CURRENT: SysConst.MLOCK_CURRENT,
      BOT4_MLOCK_FUTURE: SysConst.MLOCK_FUTURE,
      BOT4_MLOCK_ONFAULT: SysConst.MLOCK_ONFAULT,
      CPU_SETSIZE: SysConst.CPU_SETSIZE,
    },
  },
];
