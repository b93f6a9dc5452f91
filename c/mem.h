/*
 * mem.h — the engine's memory: one arena mapped at start-up, fixed-size object pools carved from it.
 *
 * Arena: asks for 2 MiB huge pages (MAP_HUGETLB, needs vm.nr_hugepages); failing that maps
 * normal pages 2 MiB-aligned and asks for transparent huge pages (madvise MADV_HUGEPAGE); when
 * that fails or the THP mode is "never", normal pages. It records which it got (`kind`; whether THP were actually granted is
 * visible in /proc/self/smaps, which ffi/mem.ts reads). Optionally mlock()ed and prefaulted, so
 * the hot path takes no page fault. Bump allocation only; the arena is freed whole.
 *
 * Pool: `capacity` slots of `stride` bytes (object size rounded up to 64), a stack of free slot
 * indices (u32) and one state byte per slot (1 = in use). get pops an index, put pushes it back:
 * O(1), no allocation, ever. An empty stack is counted (`exhausted`) and reported to the caller;
 * a put of a slot not in use (double put) or of an index that is no slot is refused and counted,
 * each in its own counter. The header, stack and state bytes are plain memory that ffi/mem.ts
 * reads and writes directly (no FFI call per get/put); the C functions follow the same protocol
 * (and the batch forms do many in one call). Everything a get or put writes, counters included,
 * sits in the header's first cache line, the stack top and the slot's state byte.
 *
 * Threads: a pool has ONE owner thread (get, put, batch, counters); there are no atomics. Hand a
 * slot's index to another thread through a ring, never the pool.
 */
#ifndef BOT4_MEM_H
#define BOT4_MEM_H

#include "bot4.h"

#define BOT4_HUGE_PAGE (2u << 20)

#define BOT4_ARENA_HUGETLB 1
#define BOT4_ARENA_THP 2
#define BOT4_ARENA_NORMAL 3

/* bot4_arena_create flags */
#define BOT4_ARENA_WANT_HUGE 1
#define BOT4_ARENA_MLOCK 2
#define BOT4_ARENA_PREFAULT 4
#define BOT4_ARENA_NO_HUGETLB 8 /* skip MAP_HUGETLB (tests the fallback) */

/* The kernel's transparent huge page mode (/sys/kernel/mm/transparent_hugepage/enabled). In
 * "never" madvise(MADV_HUGEPAGE) still returns 0 but grants nothing, so the arena says NORMAL. */
#define BOT4_THP_UNKNOWN 0 /* no such file: kernel built without THP */
#define BOT4_THP_ALWAYS 1
#define BOT4_THP_MADVISE 2
#define BOT4_THP_NEVER 3

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_arena {
  uint64_t base;     /* address of the mapping (this header sits at its start) */
  uint64_t size;     /* bytes mapped */
  uint64_t used;     /* bytes handed out, header included */
  int32_t kind;      /* BOT4_ARENA_* */
  int32_t locked;    /* 1 if mlock succeeded */
  int32_t lock_errno;
  int32_t huge_errno; /* why MAP_HUGETLB failed (0 if not tried or it worked) */
  int32_t thp_errno;  /* why madvise(MADV_HUGEPAGE) failed */
  int32_t flags;
  int32_t thp_mode;   /* BOT4_THP_*, read when THP was considered */
  uint8_t pad[BOT4_CACHELINE - 52];
} bot4_arena_t;
static_assert(sizeof(bot4_arena_t) == BOT4_CACHELINE, "arena header is one cache line");

#define BOT4_POOL_MAGIC 0x4c4f4f50u /* "POOL" */

typedef struct BOT4_ALIGNED(BOT4_CACHELINE) bot4_pool {
  uint32_t magic;
  uint32_t stride;   /* bytes per slot (multiple of 64) */
  uint32_t capacity;
  uint32_t top;      /* free indices on the stack */
  uint32_t free_off; /* offsets from the pool's address */
  uint32_t state_off;
  uint64_t slots_off;
  /* counters are doubles holding whole numbers, so TypeScript bumps them in place */
  double gets;
  double puts;
  double high_water; /* most slots in use at once */
  double exhausted;  /* gets refused: pool empty (a short batch counts once) */
  /* second line: touched only on refusals */
  double bad_index;   /* puts refused: index not a slot of this pool */
  double double_puts; /* puts refused: slot not in use (put twice) */
  uint32_t owned;     /* 1: made by bot4_pool_create without an arena; bot4_pool_destroy frees it */
  uint8_t pad[2 * BOT4_CACHELINE - 84];
} bot4_pool_t;
static_assert(sizeof(bot4_pool_t) == 2 * BOT4_CACHELINE, "pool header is two cache lines");
static_assert(offsetof(bot4_pool_t, exhausted) + 8 <= BOT4_CACHELINE, "get/put touch only the first line");

BOT4_API bot4_arena_t *bot4_arena_create(double bytes, int32_t flags); /* NULL + errno on failure */
BOT4_API void bot4_arena_destroy(bot4_arena_t *a);
/* `bytes` at `align` (a power of two <= 4096) from the arena, or NULL when it is full. */
BOT4_API void *bot4_arena_alloc(bot4_arena_t *a, double bytes, int32_t align);
BOT4_API int32_t bot4_arena_kind(const bot4_arena_t *a);       /* BOT4_ARENA_HUGETLB/THP/NORMAL */
BOT4_API double bot4_arena_size(const bot4_arena_t *a);
BOT4_API double bot4_arena_used(const bot4_arena_t *a);
BOT4_API int32_t bot4_arena_locked(const bot4_arena_t *a);
BOT4_API int32_t bot4_arena_lock_errno(const bot4_arena_t *a);
BOT4_API int32_t bot4_arena_thp_mode(void); /* BOT4_THP_*, from sysfs now */

/* Bytes a pool of `capacity` objects of `obj_bytes` needs (0 if the arguments are invalid). */
BOT4_API double bot4_pool_bytes(int32_t obj_bytes, int32_t capacity);
/* Lays a pool out in `mem` (64-byte aligned, bot4_pool_bytes long): every slot free, zeroed. */
BOT4_API bot4_pool_t *bot4_pool_init(void *mem, int32_t obj_bytes, int32_t capacity);
/* A pool in `arena` (NULL: aligned_alloc'd, owned); NULL if the arena is full or out of memory. */
BOT4_API bot4_pool_t *bot4_pool_create(bot4_arena_t *arena, int32_t obj_bytes, int32_t capacity);
BOT4_API void bot4_pool_destroy(bot4_pool_t *p); /* frees an owned pool; arena pools die with the arena */
BOT4_API int32_t bot4_pool_get(bot4_pool_t *p);              /* slot index, or -1 (counted) */
BOT4_API int32_t bot4_pool_put(bot4_pool_t *p, int32_t idx); /* 0, or -1 bad index / -2 double put */
BOT4_API void *bot4_pool_slot(bot4_pool_t *p, int32_t idx);
/* Batch forms: fill / return `n` indices in one call; get returns how many it got (stops when
 * empty, counting one exhaustion); put returns how many it refused (each counted as above). */
BOT4_API int32_t bot4_pool_get_batch(bot4_pool_t *p, uint32_t *out, int32_t n);
BOT4_API int32_t bot4_pool_put_batch(bot4_pool_t *p, const uint32_t *idx, int32_t n); /* refused count */

BOT4_API int bot4_layout_mem(char *buf, int cap);

#endif
