/* ring.c — lock-free SPSC and MPMC rings; the contract is in ring.h. */
#include "ring.h"

#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static inline uint8_t *recs_of(bot4_ring_t *r) { return (uint8_t *)r + r->records_off; }
static inline uint32_t *seqs_of(bot4_ring_t *r) { return (uint32_t *)((uint8_t *)r + r->seqs_off); }

/* single-writer counters: whole-double relaxed stores, so readers on other threads see no tearing */
static inline void add_double(double *p, double x) {
  double v;
  __atomic_load(p, &v, __ATOMIC_RELAXED);
  v += x;
  __atomic_store(p, &v, __ATOMIC_RELAXED);
}

/* many writers (MPMC producers): compare-exchange on the double's bits */
static void add_double_shared(double *p, double x) {
  uint64_t *w = (uint64_t *)p;
  uint64_t old = __atomic_load_n(w, __ATOMIC_RELAXED), upd;
  do {
    double d;
    memcpy(&d, &old, 8);
    d += x;
    memcpy(&upd, &d, 8);
  } while (!__atomic_compare_exchange_n(w, &old, upd, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

BOT4_API bot4_ring_t *bot4_ring_create(int32_t kind, int32_t capacity) {
  if ((kind != BOT4_RING_SPSC && kind != BOT4_RING_MPMC) || capacity < (int32_t)BOT4_RING_MIN_CAPACITY ||
      (uint32_t)capacity > BOT4_RING_MAX_CAPACITY || (capacity & (capacity - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t bytes = BOT4_RING_HEADER + (size_t)capacity * BOT4_RING_RECORD;
  size_t seqs_off = 0;
  if (kind == BOT4_RING_MPMC) {
    seqs_off = bytes;
    bytes += (size_t)capacity * sizeof(uint32_t);
  }
  bytes = (bytes + page - 1) / page * page;
  /* MAP_POPULATE prefaults: no page fault on the first lap of the hot path */
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (m == MAP_FAILED) return NULL;
  bot4_ring_t *r = m; /* mmap memory is zeroed */
  r->version = BOT4_RING_VERSION;
  r->kind = (uint32_t)kind;
  r->capacity = (uint32_t)capacity;
  r->mask = (uint32_t)capacity - 1;
  r->record_bytes = BOT4_RING_RECORD;
  r->map_bytes = bytes;
  r->records_off = BOT4_RING_HEADER;
  r->seqs_off = seqs_off;
  if (kind == BOT4_RING_MPMC) {
    uint32_t *s = seqs_of(r);
    for (uint32_t i = 0; i < (uint32_t)capacity; i++) s[i] = i;
  }
  STORE_REL(&r->magic, BOT4_RING_MAGIC);
  return r;
}

BOT4_API void bot4_ring_destroy(bot4_ring_t *r) {
  if (!r || r->magic != BOT4_RING_MAGIC) return;
  size_t bytes = r->map_bytes;
  STORE_REL(&r->magic, 0u);
  munmap(r, bytes);
}

BOT4_API int32_t bot4_ring_check(const bot4_ring_t *r) {
  if (!r) return -1;
  if (LOAD_ACQ(&r->magic) != BOT4_RING_MAGIC) return -2;
  if (r->version != BOT4_RING_VERSION) return -3;
  const uint32_t c = r->capacity;
  if ((r->kind != BOT4_RING_SPSC && r->kind != BOT4_RING_MPMC) || c < BOT4_RING_MIN_CAPACITY ||
      c > BOT4_RING_MAX_CAPACITY || (c & (c - 1)) || r->mask != c - 1 || r->record_bytes != BOT4_RING_RECORD ||
      r->records_off != BOT4_RING_HEADER)
    return -4;
  return 0;
}

BOT4_API void *bot4_ring_records(bot4_ring_t *r) { return recs_of(r); }

BOT4_API int32_t bot4_ring_size(const bot4_ring_t *r) {
  return (int32_t)(LOAD_ACQ(&r->head) - LOAD_ACQ(&r->tail));
}

/* ---- SPSC ---------------------------------------------------------------------------------- */

/* Room for up to `want` records: uses the cached tail, reloads it only when that says full. */
static inline uint32_t spsc_room(bot4_ring_t *r, uint32_t head, uint32_t want) {
  uint32_t room = r->capacity - (head - r->cached_tail);
  if (room < want) {
    r->cached_tail = LOAD_ACQ(&r->tail);
    room = r->capacity - (head - r->cached_tail);
  }
  return room < want ? room : want;
}

static inline uint32_t spsc_ready(bot4_ring_t *r, uint32_t tail, uint32_t want) {
  uint32_t ready = r->cached_head - tail;
  if (ready < want) {
    r->cached_head = LOAD_ACQ(&r->head);
    ready = r->cached_head - tail;
  }
  return ready < want ? ready : want;
}

/* copies n records between the ring (starting at index `at`) and a flat buffer, in at most two runs */
static inline void copy_in(bot4_ring_t *r, uint32_t at, const uint8_t *src, uint32_t n) {
  const uint32_t slot = at & r->mask, first = r->capacity - slot < n ? r->capacity - slot : n;
  memcpy(recs_of(r) + (size_t)slot * BOT4_RING_RECORD, src, (size_t)first * BOT4_RING_RECORD);
  if (n > first) memcpy(recs_of(r), src + (size_t)first * BOT4_RING_RECORD, (size_t)(n - first) * BOT4_RING_RECORD);
}

static inline void copy_out(bot4_ring_t *r, uint32_t at, uint8_t *dst, uint32_t n) {
  const uint32_t slot = at & r->mask, first = r->capacity - slot < n ? r->capacity - slot : n;
  memcpy(dst, recs_of(r) + (size_t)slot * BOT4_RING_RECORD, (size_t)first * BOT4_RING_RECORD);
  if (n > first) memcpy(dst + (size_t)first * BOT4_RING_RECORD, recs_of(r), (size_t)(n - first) * BOT4_RING_RECORD);
}

BOT4_API int32_t bot4_ring_claim(bot4_ring_t *r, int32_t want) {
  if (want <= 0) return 0;
  const uint32_t k = spsc_room(r, LOAD_RLX(&r->head), (uint32_t)want);
  if (k == 0) add_double(&r->full_waits, 1);
  return (int32_t)k;
}

BOT4_API void bot4_ring_publish(bot4_ring_t *r, int32_t n) {
  if (n > 0) STORE_REL(&r->head, LOAD_RLX(&r->head) + (uint32_t)n);
}

BOT4_API int32_t bot4_ring_available(bot4_ring_t *r, int32_t max) {
  return bot4_ring_available_after(r, 0, max);
}

BOT4_API int32_t bot4_ring_available_after(bot4_ring_t *r, int32_t held, int32_t max) {
  if (max <= 0 || held < 0) return 0;
  const uint32_t from = LOAD_RLX(&r->tail) + (uint32_t)held;
  const uint32_t k = spsc_ready(r, from, (uint32_t)max);
  if (k == 0) {
    add_double(&r->empty_polls, 1);
    return 0;
  }
  /* The records were written on the producer's core: ask for all of their lines now, so the
   * cross-core transfers overlap instead of each one stalling the first reader in turn (the
   * consumer reads them right after this call). One line per record; never faults. */
  uint8_t *base = recs_of(r);
  for (uint32_t i = 0; i < k; i++) __builtin_prefetch(base + (size_t)((from + i) & r->mask) * BOT4_RING_RECORD, 0, 3);
  return (int32_t)k;
}

/* copies in and publishes as many of the n records as fit; returns how many */
static inline uint32_t spsc_push_some(bot4_ring_t *r, const void *recs, uint32_t n) {
  const uint32_t head = LOAD_RLX(&r->head);
  const uint32_t k = spsc_room(r, head, n);
  if (k) {
    copy_in(r, head, recs, k);
    STORE_REL(&r->head, head + k);
  }
  return k;
}

BOT4_API int32_t bot4_ring_push(bot4_ring_t *r, const void *recs, int32_t n) {
  if (n <= 0) return 0;
  const uint32_t k = spsc_push_some(r, recs, (uint32_t)n);
  if (k == 0) add_double(&r->full_waits, 1);
  return (int32_t)k;
}

BOT4_API int32_t bot4_ring_push_drop(bot4_ring_t *r, const void *recs, int32_t n) {
  if (n <= 0) return 0;
  const uint32_t k = spsc_push_some(r, recs, (uint32_t)n);
  if (k < (uint32_t)n) add_double(&r->drops, (double)((uint32_t)n - k));
  return (int32_t)k;
}

BOT4_API int32_t bot4_ring_pop(bot4_ring_t *r, void *out, int32_t max) {
  if (max <= 0) return 0;
  const uint32_t tail = LOAD_RLX(&r->tail);
  const uint32_t k = spsc_ready(r, tail, (uint32_t)max);
  if (k == 0) {
    add_double(&r->empty_polls, 1);
    return 0;
  }
  copy_out(r, tail, out, k);
  STORE_REL(&r->tail, tail + k);
  return (int32_t)k;
}

BOT4_API int32_t bot4_ring_peek(bot4_ring_t *r, int32_t max, uint32_t *start) {
  const uint32_t tail = LOAD_RLX(&r->tail);
  *start = tail;
  return max <= 0 ? 0 : (int32_t)spsc_ready(r, tail, (uint32_t)max);
}

BOT4_API void bot4_ring_release(bot4_ring_t *r, int32_t n) {
  if (n > 0) STORE_REL(&r->tail, LOAD_RLX(&r->tail) + (uint32_t)n);
}

/* ---- MPMC (Vyukov) ------------------------------------------------------------------------- */

/* Claims up to n consecutive indices whose slots are free (producer) or full (consumer) for this
 * lap. `want_off` is 0 for producers (slot seq == index), 1 for consumers (seq == index + 1). */
static uint32_t mpmc_claim(bot4_ring_t *r, uint32_t *counter, uint32_t want_off, uint32_t n, uint32_t *first) {
  const uint32_t *seq = seqs_of(r);
  uint32_t pos = LOAD_RLX(counter);
  for (;;) {
    uint32_t k = 0;
    while (k < n) {
      const int32_t dif = (int32_t)(LOAD_ACQ(&seq[(pos + k) & r->mask]) - (pos + k + want_off));
      if (dif != 0) break;
      k++;
    }
    if (k == 0) {
      const int32_t dif = (int32_t)(LOAD_ACQ(&seq[pos & r->mask]) - (pos + want_off));
      if (dif < 0) return 0; /* full (producer) / empty (consumer) */
      pos = LOAD_RLX(counter);
      continue;
    }
    if (__atomic_compare_exchange_n(counter, &pos, pos + k, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      *first = pos;
      return k;
    }
    /* pos now holds the current value; try again */
  }
}

BOT4_API int32_t bot4_mpmc_push(bot4_ring_t *r, const void *recs, int32_t n) {
  if (n <= 0) return 0;
  uint32_t first;
  const uint32_t k = mpmc_claim(r, &r->head, 0, (uint32_t)n, &first);
  if (k == 0) {
    add_double_shared(&r->full_waits, 1);
    return 0;
  }
  uint32_t *seq = seqs_of(r);
  const uint8_t *src = recs;
  for (uint32_t i = 0; i < k; i++) {
    const uint32_t idx = first + i;
    memcpy(recs_of(r) + (size_t)(idx & r->mask) * BOT4_RING_RECORD, src + (size_t)i * BOT4_RING_RECORD, BOT4_RING_RECORD);
    STORE_REL(&seq[idx & r->mask], idx + 1);
  }
  return (int32_t)k;
}

BOT4_API int32_t bot4_mpmc_push_drop(bot4_ring_t *r, const void *recs, int32_t n) {
  int32_t done = 0;
  /* a partial claim (another producer raced) is followed by one more try for the rest */
  for (int tries = 0; done < n && tries < 2; tries++) {
    const int32_t k = bot4_mpmc_push(r, (const uint8_t *)recs + (size_t)done * BOT4_RING_RECORD, n - done);
    if (k == 0) break;
    done += k;
  }
  if (done < n) add_double_shared(&r->drops, (double)(n - done));
  return done;
}

BOT4_API int32_t bot4_mpmc_pop(bot4_ring_t *r, void *out, int32_t max) {
  if (max <= 0) return 0;
  uint32_t first;
  const uint32_t k = mpmc_claim(r, &r->tail, 1, (uint32_t)max, &first);
  if (k == 0) {
    add_double_shared(&r->empty_polls, 1);
    return 0;
  }
  uint32_t *seq = seqs_of(r);
  uint8_t *dst = out;
  for (uint32_t i = 0; i < k; i++) {
    const uint32_t idx = first + i;
    memcpy(dst + (size_t)i * BOT4_RING_RECORD, recs_of(r) + (size_t)(idx & r->mask) * BOT4_RING_RECORD, BOT4_RING_RECORD);
    STORE_REL(&seq[idx & r->mask], idx + r->capacity);
  }
  return (int32_t)k;
}

/* ---- hardware reference measurements --------------------------------------------------------- */

static int pin_self(int32_t cpu) {
  if (cpu < 0) return 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

typedef struct {
  bot4_ring_t *in, *out;
  int32_t n, cpu;
  int err;
} echo_args_t;

static void *echo_main(void *p) {
  echo_args_t *a = p;
  a->err = pin_self(a->cpu);
  uint8_t rec[BOT4_RING_RECORD];
  for (int32_t i = 0; i < a->n; i++) {
    while (bot4_ring_pop(a->in, rec, 1) == 0) __builtin_ia32_pause();
    while (bot4_ring_push(a->out, rec, 1) == 0) __builtin_ia32_pause();
  }
  return NULL;
}

BOT4_API int32_t bot4_ring_rtt_native(int32_t n, double *out_ns, int32_t cpu_a, int32_t cpu_b) {
  if (n <= 0) return 0;
  bot4_ring_t *ping = bot4_ring_create(BOT4_RING_SPSC, 64), *pong = bot4_ring_create(BOT4_RING_SPSC, 64);
  if (!ping || !pong) {
    bot4_ring_destroy(ping);
    bot4_ring_destroy(pong);
    return ENOMEM;
  }
  echo_args_t a = {ping, pong, n, cpu_b, 0};
  pthread_t th;
  cpu_set_t saved;
  pthread_getaffinity_np(pthread_self(), sizeof saved, &saved);
  int err = pin_self(cpu_a);
  if (!err) err = pthread_create(&th, NULL, echo_main, &a);
  if (err) {
    pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    bot4_ring_destroy(ping);
    bot4_ring_destroy(pong);
    return err;
  }
  uint8_t rec[BOT4_RING_RECORD] = {0};
  for (int32_t i = 0; i < n; i++) {
    const uint64_t t0 = bot4_clock_ns();
    memcpy(rec, &t0, 8);
    while (bot4_ring_push(ping, rec, 1) == 0) __builtin_ia32_pause();
    while (bot4_ring_pop(pong, rec, 1) == 0) __builtin_ia32_pause();
    out_ns[i] = (double)(bot4_clock_ns() - t0);
  }
  pthread_join(th, NULL);
  pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
  bot4_ring_destroy(ping);
  bot4_ring_destroy(pong);
  return a.err;
}

typedef struct {
  bot4_ring_t *r;
  int32_t n, batch;
} prod_args_t;

static void *producer_main(void *p) {
  prod_args_t *a = p;
  uint8_t buf[256 * BOT4_RING_RECORD] __attribute__((aligned(64)));
  memset(buf, 0, sizeof buf);
  const int32_t batch = a->batch < 1 ? 1 : a->batch > 256 ? 256 : a->batch;
  uint64_t seq = 0;
  while ((int64_t)seq < a->n) {
    int32_t k = batch;
    if ((int64_t)seq + k > a->n) k = (int32_t)(a->n - (int64_t)seq);
    for (int32_t i = 0; i < k; i++) {
      uint64_t s = seq + (uint64_t)i;
      memcpy(buf + (size_t)i * BOT4_RING_RECORD + 48, &s, 8);
    }
    int32_t done = 0;
    while (done < k) {
      const int32_t m = bot4_ring_push(a->r, buf + (size_t)done * BOT4_RING_RECORD, k - done);
      if (m == 0) __builtin_ia32_pause();
      done += m;
    }
    seq += (uint64_t)k;
  }
  return NULL;
}

BOT4_API double bot4_ring_throughput_native(int32_t n, int32_t batch, int32_t capacity) {
  bot4_ring_t *r = bot4_ring_create(BOT4_RING_SPSC, capacity);
  if (!r) return -1;
  prod_args_t a = {r, n, batch};
  pthread_t th;
  const uint64_t t0 = bot4_clock_ns();
  if (pthread_create(&th, NULL, producer_main, &a)) {
    bot4_ring_destroy(r);
    return -1;
  }
  uint64_t expect = 0;
  int bad = 0;
  while ((int64_t)expect < n) {
    uint32_t start;
    const int32_t k = bot4_ring_peek(r, 256, &start);
    if (k == 0) {
      __builtin_ia32_pause();
      continue;
    }
    for (int32_t i = 0; i < k; i++) {
      uint64_t s;
      memcpy(&s, recs_of(r) + (size_t)((start + (uint32_t)i) & r->mask) * BOT4_RING_RECORD + 48, 8);
      bad |= s != expect++;
    }
    bot4_ring_release(r, k);
  }
  const uint64_t t1 = bot4_clock_ns();
  pthread_join(th, NULL);
  bot4_ring_destroy(r);
  return bad ? -1 : (double)n / ((double)(t1 - t0) / 1e9);
}

BOT4_API int bot4_layout_ring(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_ring_t);
  BOT4_L_OFF(bot4_ring_t, magic);
  BOT4_L_OFF(bot4_ring_t, version);
  BOT4_L_OFF(bot4_ring_t, kind);
  BOT4_L_OFF(bot4_ring_t, capacity);
  BOT4_L_OFF(bot4_ring_t, mask);
  BOT4_L_OFF(bot4_ring_t, record_bytes);
  BOT4_L_OFF(bot4_ring_t, map_bytes);
  BOT4_L_OFF(bot4_ring_t, records_off);
  BOT4_L_OFF(bot4_ring_t, seqs_off);
  BOT4_L_OFF(bot4_ring_t, head);
  BOT4_L_OFF(bot4_ring_t, cached_tail);
  BOT4_L_OFF(bot4_ring_t, drops);
  BOT4_L_OFF(bot4_ring_t, full_waits);
  BOT4_L_OFF(bot4_ring_t, tail);
  BOT4_L_OFF(bot4_ring_t, cached_head);
  BOT4_L_OFF(bot4_ring_t, empty_polls);
  BOT4_L_CONST(BOT4_RING_MAGIC);
  BOT4_L_CONST(BOT4_RING_VERSION);
  BOT4_L_CONST(BOT4_RING_SPSC);
  BOT4_L_CONST(BOT4_RING_MPMC);
  BOT4_L_CONST(BOT4_RING_RECORD);
  BOT4_L_CONST(BOT4_RING_MIN_CAPACITY);
  BOT4_L_CONST(BOT4_RING_MAX_CAPACITY);
  BOT4_L_CONST(BOT4_RING_HEADER);
  return n;
}
