/* mem.c — arena and object pools; the contract is in mem.h. */
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *map_hugetlb(size_t bytes, int *err) {
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
  if (m == MAP_FAILED) {
    *err = errno;
    return NULL;
  }
  return m;
}

/* normal pages, 2 MiB aligned so THP can back whole huge pages */
static void *map_aligned(size_t bytes) {
  const size_t extra = BOT4_HUGE_PAGE;
  uint8_t *m = mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  const uintptr_t a = ((uintptr_t)m + extra - 1) & ~(uintptr_t)(extra - 1);
  const size_t head = a - (uintptr_t)m, tail = extra - head;
  if (head) munmap(m, head);
  if (tail) munmap((uint8_t *)a + bytes, tail);
  return (void *)a;
}

BOT4_API int32_t bot4_arena_thp_mode(void) {
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return BOT4_THP_UNKNOWN;
  char b[128];
  const size_t n = fread(b, 1, sizeof b - 1, f);
  fclose(f);
  b[n] = 0;
  if (strstr(b, "[always]")) return BOT4_THP_ALWAYS;
  if (strstr(b, "[madvise]")) return BOT4_THP_MADVISE;
  if (strstr(b, "[never]")) return BOT4_THP_NEVER;
  return BOT4_THP_UNKNOWN;
}

BOT4_API bot4_arena_t *bot4_arena_create(double bytes_d, int32_t flags) {
  if (!(bytes_d >= (double)sizeof(bot4_arena_t)) || bytes_d > 1e15) {
    errno = EINVAL;
    return NULL;
  }
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t bytes = (size_t)bytes_d;
  int kind = BOT4_ARENA_NORMAL, huge_err = 0, thp_err = 0, thp_mode = BOT4_THP_UNKNOWN;
  void *m = NULL;
  if (flags & BOT4_ARENA_WANT_HUGE) {
    bytes = (bytes + BOT4_HUGE_PAGE - 1) / BOT4_HUGE_PAGE * BOT4_HUGE_PAGE;
    if (!(flags & BOT4_ARENA_NO_HUGETLB)) {
      m = map_hugetlb(bytes, &huge_err);
      if (m) kind = BOT4_ARENA_HUGETLB;
    }
    if (!m) {
      m = map_aligned(bytes);
      if (!m) return NULL;
      thp_mode = bot4_arena_thp_mode();
      if (madvise(m, bytes, MADV_HUGEPAGE) != 0) thp_err = errno;
      else if (thp_mode != BOT4_THP_NEVER) kind = BOT4_ARENA_THP;
    }
  } else {
    bytes = (bytes + page - 1) / page * page;
    m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
  }
  bot4_arena_t *a = m;
  memset(a, 0, sizeof *a);
  a->base = (uint64_t)(uintptr_t)m;
  a->size = bytes;
  a->used = sizeof *a;
  a->kind = kind;
  a->huge_errno = huge_err;
  a->thp_errno = thp_err;
  a->flags = flags;
  a->thp_mode = thp_mode;
  if (flags & BOT4_ARENA_MLOCK) {
    /* mlock also faults every page in */
    if (mlock(m, bytes) == 0) a->locked = 1;
    else a->lock_errno = errno;
  }
  if ((flags & BOT4_ARENA_PREFAULT) && !a->locked) {
    volatile uint8_t *p = m;
    const size_t step = kind == BOT4_ARENA_NORMAL ? page : BOT4_HUGE_PAGE;
    for (size_t off = step; off < bytes; off += step) p[off] = 0;
    if (kind == BOT4_ARENA_THP) /* THP may be granted per 4 KiB page on fallback: touch them all */
      for (size_t off = page; off < bytes; off += page) p[off] = 0;
  }
  return a;
}

BOT4_API void bot4_arena_destroy(bot4_arena_t *a) {
  if (!a) return;
  const size_t bytes = a->size;
  const int locked = a->locked;
  if (locked) munlock(a, bytes);
  munmap(a, bytes);
}

BOT4_API void *bot4_arena_alloc(bot4_arena_t *a, double bytes_d, int32_t align) {
  if (!a || !(bytes_d >= 0) || align <= 0 || align > 4096 || (align & (align - 1))) return NULL;
  const uint64_t bytes = (uint64_t)bytes_d;
  const uint64_t at = (a->used + (uint64_t)align - 1) & ~((uint64_t)align - 1);
  if (at > a->size || bytes > a->size - at) return NULL;
  a->used = at + bytes;
  return (uint8_t *)(uintptr_t)a->base + at;
}

BOT4_API int32_t bot4_arena_kind(const bot4_arena_t *a) { return a->kind; }
BOT4_API double bot4_arena_size(const bot4_arena_t *a) { return (double)a->size; }
BOT4_API double bot4_arena_used(const bot4_arena_t *a) { return (double)a->used; }
BOT4_API int32_t bot4_arena_locked(const bot4_arena_t *a) { return a->locked; }
BOT4_API int32_t bot4_arena_lock_errno(const bot4_arena_t *a) { return a->lock_errno; }

/* ---- pools ------------------------------------------------------------------------------------ */

static inline uint32_t round_up(uint64_t v, uint64_t to) { return (uint32_t)((v + to - 1) / to * to); }

typedef struct {
  uint32_t stride, free_off, state_off;
  uint64_t slots_off, total;
} pool_geom_t;

static int geometry(int32_t obj_bytes, int32_t capacity, pool_geom_t *g) {
  if (obj_bytes <= 0 || obj_bytes > (1 << 20) || capacity <= 0 || capacity > (1 << 28)) return -1;
  g->stride = round_up((uint64_t)obj_bytes, BOT4_CACHELINE);
  g->free_off = sizeof(bot4_pool_t);
  g->state_off = round_up((uint64_t)g->free_off + 4ull * (uint64_t)capacity, BOT4_CACHELINE);
  g->slots_off = round_up((uint64_t)g->state_off + (uint64_t)capacity, BOT4_CACHELINE);
  g->total = g->slots_off + (uint64_t)g->stride * (uint64_t)capacity;
  return 0;
}

static inline uint32_t *free_of(bot4_pool_t *p) { return (uint32_t *)((uint8_t *)p + p->free_off); }
static inline uint8_t *state_of(bot4_pool_t *p) { return (uint8_t *)p + p->state_off; }

BOT4_API double bot4_pool_bytes(int32_t obj_bytes, int32_t capacity) {
  pool_geom_t g;
  return geometry(obj_bytes, capacity, &g) ? 0 : (double)g.total;
}

BOT4_API bot4_pool_t *bot4_pool_init(void *mem, int32_t obj_bytes, int32_t capacity) {
  pool_geom_t g;
  if (!mem || ((uintptr_t)mem & (BOT4_CACHELINE - 1)) || geometry(obj_bytes, capacity, &g)) return NULL;
  memset(mem, 0, g.total);
  bot4_pool_t *p = mem;
  p->stride = g.stride;
  p->capacity = (uint32_t)capacity;
  p->free_off = g.free_off;
  p->state_off = g.state_off;
  p->slots_off = g.slots_off;
  /* lowest index on top: a fresh pool hands out slots in address order */
  uint32_t *f = free_of(p);
  for (uint32_t i = 0; i < (uint32_t)capacity; i++) f[i] = (uint32_t)capacity - 1 - i;
  p->top = (uint32_t)capacity;
  p->magic = BOT4_POOL_MAGIC;
  return p;
}

BOT4_API bot4_pool_t *bot4_pool_create(bot4_arena_t *arena, int32_t obj_bytes, int32_t capacity) {
  pool_geom_t g;
  if (geometry(obj_bytes, capacity, &g)) return NULL;
  if (arena) return bot4_pool_init(bot4_arena_alloc(arena, (double)g.total, BOT4_CACHELINE), obj_bytes, capacity);
  void *mem = aligned_alloc(BOT4_CACHELINE, (g.total + BOT4_CACHELINE - 1) / BOT4_CACHELINE * BOT4_CACHELINE);
  bot4_pool_t *p = bot4_pool_init(mem, obj_bytes, capacity);
  if (!p) {
    free(mem);
    return NULL;
  }
  p->owned = 1;
  return p;
}

BOT4_API void bot4_pool_destroy(bot4_pool_t *p) {
  if (p && p->magic == BOT4_POOL_MAGIC && p->owned) {
    p->magic = 0;
    free(p);
  }
}

BOT4_API int32_t bot4_pool_get(bot4_pool_t *p) {
  if (BOT4_UNLIKELY(p->top == 0)) {
    p->exhausted += 1;
    return -1;
  }
  const uint32_t idx = free_of(p)[--p->top];
  state_of(p)[idx] = 1;
  p->gets += 1;
  const double in_use = (double)(p->capacity - p->top);
  if (in_use > p->high_water) p->high_water = in_use;
  return (int32_t)idx;
}

BOT4_API int32_t bot4_pool_put(bot4_pool_t *p, int32_t idx) {
  if (BOT4_UNLIKELY((uint32_t)idx >= p->capacity)) {
    p->bad_index += 1;
    return -1;
  }
  uint8_t *st = state_of(p);
  if (BOT4_UNLIKELY(st[idx] != 1)) {
    p->double_puts += 1;
    return -2;
  }
  st[idx] = 0;
  free_of(p)[p->top++] = (uint32_t)idx;
  p->puts += 1;
  return 0;
}

BOT4_API void *bot4_pool_slot(bot4_pool_t *p, int32_t idx) {
  if ((uint32_t)idx >= p->capacity) return NULL;
  return (uint8_t *)p + p->slots_off + (uint64_t)p->stride * (uint32_t)idx;
}

/* The batch forms keep the stack top and counters in registers and store them once: the state
 * bytes are char-typed and may alias anything, so the one-at-a-time path reloads them per slot. */
BOT4_API int32_t bot4_pool_get_batch(bot4_pool_t *p, uint32_t *restrict out, int32_t n) {
  uint32_t top = p->top;
  const uint32_t *restrict f = free_of(p);
  uint8_t *restrict st = state_of(p);
  const int32_t k = n <= 0 ? 0 : (uint32_t)n > top ? (int32_t)top : n;
  for (int32_t j = 0; j < k; j++) {
    const uint32_t idx = f[--top];
    st[idx] = 1;
    out[j] = idx;
  }
  p->top = top;
  p->gets += k;
  if (k < n) p->exhausted += 1;
  const double in_use = (double)(p->capacity - top);
  if (in_use > p->high_water) p->high_water = in_use;
  return k;
}

BOT4_API int32_t bot4_pool_put_batch(bot4_pool_t *p, const uint32_t *restrict idx, int32_t n) {
  uint32_t top = p->top;
  const uint32_t cap = p->capacity;
  uint32_t *restrict f = free_of(p);
  uint8_t *restrict st = state_of(p);
  int32_t bad = 0, dbl = 0;
  for (int32_t k = 0; k < n; k++) {
    const uint32_t i = idx[k];
    if (BOT4_UNLIKELY(i >= cap)) {
      bad++;
      continue;
    }
    if (BOT4_UNLIKELY(st[i] != 1)) { /* also the second of a pair inside this batch */
      dbl++;
      continue;
    }
    st[i] = 0;
    f[top++] = i;
  }
  p->top = top;
  if (n > 0) p->puts += n - bad - dbl;
  if (bad) p->bad_index += bad;
  if (dbl) p->double_puts += dbl;
  return bad + dbl;
}

BOT4_API int bot4_layout_mem(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_arena_t);
  BOT4_L_OFF(bot4_arena_t, base);
  BOT4_L_OFF(bot4_arena_t, size);
  BOT4_L_OFF(bot4_arena_t, used);
  BOT4_L_OFF(bot4_arena_t, kind);
  BOT4_L_OFF(bot4_arena_t, locked);
  BOT4_L_OFF(bot4_arena_t, lock_errno);
  BOT4_L_OFF(bot4_arena_t, huge_errno);
  BOT4_L_OFF(bot4_arena_t, thp_errno);
  BOT4_L_OFF(bot4_arena_t, flags);
  BOT4_L_OFF(bot4_arena_t, thp_mode);
  BOT4_L_SIZE(bot4_pool_t);
  BOT4_L_OFF(bot4_pool_t, magic);
  BOT4_L_OFF(bot4_pool_t, stride);
  BOT4_L_OFF(bot4_pool_t, capacity);
  BOT4_L_OFF(bot4_pool_t, top);
  BOT4_L_OFF(bot4_pool_t, free_off);
  BOT4_L_OFF(bot4_pool_t, state_off);
  BOT4_L_OFF(bot4_pool_t, slots_off);
  BOT4_L_OFF(bot4_pool_t, gets);
  BOT4_L_OFF(bot4_pool_t, puts);
  BOT4_L_OFF(bot4_pool_t, high_water);
  BOT4_L_OFF(bot4_pool_t, exhausted);
  BOT4_L_OFF(bot4_pool_t, bad_index);
  BOT4_L_OFF(bot4_pool_t, double_puts);
  BOT4_L_OFF(bot4_pool_t, owned);
  BOT4_L_CONST(BOT4_HUGE_PAGE);
  BOT4_L_CONST(BOT4_ARENA_HUGETLB);
  BOT4_L_CONST(BOT4_ARENA_THP);
  BOT4_L_CONST(BOT4_ARENA_NORMAL);
  BOT4_L_CONST(BOT4_ARENA_WANT_HUGE);
  BOT4_L_CONST(BOT4_ARENA_MLOCK);
  BOT4_L_CONST(BOT4_ARENA_PREFAULT);
  BOT4_L_CONST(BOT4_ARENA_NO_HUGETLB);
  BOT4_L_CONST(BOT4_THP_UNKNOWN);
  BOT4_L_CONST(BOT4_THP_ALWAYS);
  BOT4_L_CONST(BOT4_THP_MADVISE);
  BOT4_L_CONST(BOT4_THP_NEVER);
  BOT4_L_CONST(BOT4_POOL_MAGIC);
  return n;
}
