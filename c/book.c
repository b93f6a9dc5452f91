/* book.c — L2 ladders and venue sequence procedures (see book.h for the contract). */
#include "book.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLK BOT4_LADDER_BLOCK

typedef struct {
  double k[BLK];
  double s[BLK];
} lblock_t;

static inline uint8_t *base_of(bot4_ladder_t *l) {
  /* ladders live inside the book header; offsets are from the book's address */
  return (uint8_t *)l - offsetof(bot4_book_t, side) - l->which * sizeof(bot4_ladder_t);
}
static inline double *dmax(bot4_ladder_t *l) { return (double *)(base_of(l) + l->max_off); }
static inline uint32_t *did(bot4_ladder_t *l) { return (uint32_t *)(base_of(l) + l->id_off); }
static inline uint32_t *bcnt(bot4_ladder_t *l) { return (uint32_t *)(base_of(l) + l->cnt_off); }
static inline uint32_t *bfree(bot4_ladder_t *l) { return (uint32_t *)(base_of(l) + l->free_off); }
static inline lblock_t *blk(bot4_ladder_t *l, uint32_t id) { return (lblock_t *)(base_of(l) + l->blk_off) + id; }
static inline bot4_tick_t *pend_of(bot4_book_t *b) { return (bot4_tick_t *)((uint8_t *)b + b->pend_off); }

static inline uint32_t pool_for(uint32_t cap) { return cap / (BLK / 4) + 8; }

static uint64_t ladder_bytes(uint32_t cap) {
  const uint64_t P = pool_for(cap);
  return P * (sizeof(double) + 3 * sizeof(uint32_t)) + P * sizeof(lblock_t) + 64;
}

BOT4_API uint64_t bot4_book_bytes(uint32_t cap, uint32_t pend_cap) {
  return sizeof(bot4_book_t) + 2 * ladder_bytes(cap) + 2ull * BOT4_GRID_SLOTS * sizeof(double) + 64 +
         (uint64_t)pend_cap * sizeof(bot4_tick_t);
}

static void ladder_clear(bot4_ladder_t *l) {
  l->n = 0;
  l->nblk = 0;
  l->nfree = l->pool;
  uint32_t *f = bfree(l);
  for (uint32_t i = 0; i < l->pool; i++) f[i] = l->pool - 1 - i;
}

static uint64_t ladder_init(bot4_ladder_t *l, int which, uint32_t cap, uint64_t at) {
  const uint32_t P = pool_for(cap);
  memset(l, 0, sizeof *l);
  l->which = (uint32_t)which; /* lets base_of() find the book from either ladder */
  l->pool = P;
  at = (at + 63) & ~63ull;
  l->blk_off = at;
  at += (uint64_t)P * sizeof(lblock_t);
  l->max_off = at;
  at += (uint64_t)P * sizeof(double);
  l->id_off = at;
  at += (uint64_t)P * sizeof(uint32_t);
  l->cnt_off = at;
  at += (uint64_t)P * sizeof(uint32_t);
  l->free_off = at;
  at += (uint64_t)P * sizeof(uint32_t);
  ladder_clear(l);
  return at;
}

static inline void dir_insert(bot4_ladder_t *l, uint32_t j, uint32_t id, double max) {
  double *m = dmax(l);
  uint32_t *d = did(l);
  memmove(m + j + 1, m + j, (size_t)(l->nblk - j) * sizeof(double));
  memmove(d + j + 1, d + j, (size_t)(l->nblk - j) * sizeof(uint32_t));
  m[j] = max;
  d[j] = id;
  l->nblk++;
}

static inline void dir_remove(bot4_ladder_t *l, uint32_t j) {
  double *m = dmax(l);
  uint32_t *d = did(l);
  bfree(l)[l->nfree++] = d[j];
  memmove(m + j, m + j + 1, (size_t)(l->nblk - j - 1) * sizeof(double));
  memmove(d + j, d + j + 1, (size_t)(l->nblk - j - 1) * sizeof(uint32_t));
  l->nblk--;
}

/* First index i with a[i] >= key (n when none) in an ascending array: the count of entries
 * below key. Counting compiles to vector compares with no dependent loads and no branches; a
 * binary search here spent most of its time on mispredicted branches or chained loads, because
 * venues update levels at every depth (on a real USD-M stream 70 % of updates are deeper than
 * 100 levels), so no search path is predictable. */
static inline uint32_t lower_bound(const double *a, uint32_t n, double key) {
  uint32_t c = 0;
  for (uint32_t i = 0; i < n; i++) c += a[i] < key;
  return c;
}

/* First directory entry whose maximum is >= key (nblk when key is above every level). */
static inline uint32_t find_dir(bot4_ladder_t *l, double key) { return lower_bound(dmax(l), l->nblk, key); }

static inline uint32_t find_in(const lblock_t *bk, uint32_t c, double key) { return lower_bound(bk->k, c, key); }

/* Removes entry i of directory entry j; merges a block that runs low into a neighbour. */
static void remove_at(bot4_ladder_t *l, uint32_t j, uint32_t i) {
  const uint32_t id = did(l)[j];
  lblock_t *bk = blk(l, id);
  uint32_t *cn = bcnt(l);
  uint32_t c = cn[id];
  memmove(bk->k + i, bk->k + i + 1, (size_t)(c - i - 1) * sizeof(double));
  memmove(bk->s + i, bk->s + i + 1, (size_t)(c - i - 1) * sizeof(double));
  cn[id] = --c;
  l->n--;
  if (c == 0) {
    dir_remove(l, j);
    return;
  }
  if (i == c) dmax(l)[j] = bk->k[c - 1];
  if (c >= BLK / 4) return;
  if (j > 0) {
    const uint32_t lid = did(l)[j - 1];
    if (cn[lid] + c <= BLK) {
      lblock_t *lb = blk(l, lid);
      memcpy(lb->k + cn[lid], bk->k, c * sizeof(double));
      memcpy(lb->s + cn[lid], bk->s, c * sizeof(double));
      cn[lid] += c;
      dmax(l)[j - 1] = dmax(l)[j];
      dir_remove(l, j);
      return;
    }
  }
  if (j + 1 < l->nblk) {
    const uint32_t rid = did(l)[j + 1];
    if (cn[rid] + c <= BLK) {
      lblock_t *rb = blk(l, rid);
      memcpy(bk->k + c, rb->k, cn[rid] * sizeof(double));
      memcpy(bk->s + c, rb->s, cn[rid] * sizeof(double));
      cn[id] += cn[rid];
      dmax(l)[j] = dmax(l)[j + 1];
      dir_remove(l, j + 1);
    }
  }
}

/* One level by key. Returns 0, or 1 when the level was dropped for want of room (counted). */
static int ladder_set(bot4_ladder_t *l, double key, double size) {
  uint32_t *cn = bcnt(l);
  if (BOT4_UNLIKELY(l->nblk == 0)) {
    if (!(size > 0)) return 0;
    const uint32_t id = bfree(l)[--l->nfree];
    lblock_t *bk = blk(l, id);
    bk->k[0] = key;
    bk->s[0] = size;
    cn[id] = 1;
    dir_insert(l, 0, id, key);
    l->n = 1;
    return 0;
  }
  uint32_t j = find_dir(l, key);
  if (j == l->nblk) j--; /* above every level: the end of the last block */
  uint32_t id = did(l)[j];
  lblock_t *bk = blk(l, id);
  uint32_t c = cn[id];
  uint32_t i = find_in(bk, c, key);
  if (i < c && bk->k[i] == key) {
    if (size > 0) bk->s[i] = size;
    else remove_at(l, j, i);
    return 0;
  }
  if (!(size > 0)) return 0; /* deleting a level we do not hold: venues send these */
  if (BOT4_UNLIKELY(c == BLK)) {
    if (l->nfree == 0) return 1;
    /* split: the upper half moves to a new block right after this one */
    const uint32_t nid = bfree(l)[--l->nfree];
    lblock_t *nb = blk(l, nid);
    const uint32_t h = BLK / 2;
    memcpy(nb->k, bk->k + h, h * sizeof(double));
    memcpy(nb->s, bk->s + h, h * sizeof(double));
    cn[nid] = h;
    cn[id] = h;
    dir_insert(l, j + 1, nid, dmax(l)[j]);
    dmax(l)[j] = bk->k[h - 1];
    if (i > h) { /* i == h: between the halves, it becomes the lower block's maximum */
      j++;
      id = nid;
      bk = nb;
      i -= h;
    }
    c = h;
  }
  memmove(bk->k + i + 1, bk->k + i, (size_t)(c - i) * sizeof(double));
  memmove(bk->s + i + 1, bk->s + i, (size_t)(c - i) * sizeof(double));
  bk->k[i] = key;
  bk->s[i] = size;
  cn[id] = c + 1;
  if (i == c) dmax(l)[j] = key;
  l->n++;
  return 0;
}

/* ---- grid window ------------------------------------------------------------------------- */

static inline double *grid_of(bot4_book_t *b, uint32_t side) { return (double *)((uint8_t *)b + b->grid_off[side]); }

/* llrint without the library call: cvtsd2si rounds by the MXCSR mode, round-to-nearest-even
 * unless someone changed it, exactly as llrint does (and the same INT64_MIN for NaN or range). */
static inline int64_t round_i64(double x) {
#ifdef __SSE2__
  return _mm_cvtsd_si64(_mm_set_sd(x));
#else
  return (int64_t)llrint(x);
#endif
}

/* Whether t / scale rounds to key, i.e. the slot's price (grid_key) is key bit for bit. With FMA
 * the division is skipped: r = key*scale - t is exact (key and t are multiples of ulp(key) and
 * key*scale lies within a unit of t, so the difference has few bits), and t/scale rounds to key
 * exactly when |t/scale - key| is under half the gap to key's neighbours, i.e. |r| < scale*ulp/2.
 * Only a tie, a power-of-two key (whose lower gap is half the upper one), or a key outside the
 * normal range (ulp not a plain double) is left to the division. */
static inline int on_unit(double key, double scale, int64_t t) {
#ifdef __FMA__
  uint64_t bits;
  double a = fabs(key);
  memcpy(&bits, &a, 8);
  const uint64_t ex = bits >> 52;
  if (BOT4_LIKELY(ex > 52 && ex < 0x7ff && (bits & 0xfffffffffffffull) != 0)) {
    const uint64_t ub = (ex - 52) << 52;
    double ulp;
    memcpy(&ulp, &ub, 8);
    const double r = fabs(__builtin_fma(key, scale, -(double)t));
    const double h = scale * ulp * 0.5; /* exact: scale is an integer below 2^53, ulp a power of two */
    if (r < h) return 1;
    if (r > h) return 0;
  }
#endif
  return (double)t / scale == key;
}

BOT4_API int32_t bot4_book_unit_check(double key, double scale) { return on_unit(key, scale, round_i64(key * scale)); }

/* Slot of key in the window; -1 outside the window (or no grid); -2 not a multiple of the unit. */
static inline int64_t grid_slot(const bot4_book_t *b, uint32_t side, double key) {
  if (b->scale == 0) return -1;
  const int64_t t = round_i64(key * b->scale);
  if (BOT4_UNLIKELY(!on_unit(key, b->scale, t))) return -2;
  const int64_t i = t - b->gbase[side];
  return (uint64_t)i < b->gslots ? i : -1;
}

static inline double grid_key(const bot4_book_t *b, uint32_t side, int64_t slot) {
  return (double)(b->gbase[side] + slot) / b->scale;
}

/* size is >= 0 (callers refuse anything else). Whether a level is added, updated or removed
 * depends on the data, not on anything a predictor learns, so the common bookkeeping is
 * arithmetic and selects; only taking away the best level branches, to find the next one. */
static inline void grid_set(bot4_book_t *b, uint32_t side, int64_t i, double size, double key) {
  double *g = grid_of(b, side);
  const double old = g[i];
  bot4_ladder_t *l = &b->side[side];
  const int add = size > 0, had = old != 0;
  g[i] = add ? size : 0.0;
  l->gcount += (uint32_t)(add - had);
  const int32_t gb = b->gbest[side];
  const int up = add && i > gb;
  b->gbest[side] = up ? (int32_t)i : gb;
  b->gbest_key[side] = up ? key : b->gbest_key[side]; /* key is the slot's price bit for bit (grid_slot) */
  if (BOT4_UNLIKELY(!add && had && i == gb)) {
    int64_t j = i - 1;
    if (l->gcount == 0) j = -1;
    while (j >= 0 && g[j] == 0) j--;
    b->gbest[side] = (int32_t)j;
    if (j >= 0) b->gbest_key[side] = grid_key(b, side, j);
  }
}

/* Empties both windows by writing only the slots that hold a level: a whole-window memset would
 * make every page of the 512 KB resident where levels never land. */
static void grid_clear(bot4_book_t *b) {
  for (uint32_t s = 0; s < 2; s++) {
    double *g = grid_of(b, s);
    for (uint32_t i = 0, left = b->side[s].gcount; left && i < b->gslots; i++)
      if (g[i] != 0) g[i] = 0, left--;
    b->side[s].gcount = 0;
    b->gbest[s] = -1;
  }
}

static inline void ladder_best(bot4_ladder_t *l, double *key, double *size) {
  if (l->nblk == 0) {
    *key = NAN;
    *size = NAN;
    return;
  }
  const uint32_t id = did(l)[l->nblk - 1];
  const lblock_t *bk = blk(l, id);
  const uint32_t c = bcnt(l)[id];
  *key = bk->k[c - 1];
  *size = bk->s[c - 1];
}

/* The worst level (first entry of the first block). */
static inline double ladder_worst(bot4_ladder_t *l) { return blk(l, did(l)[0])->k[0]; }

/* Best key and size of a side: the better of the window's top and the ladder's top. */
static inline void side_best(bot4_book_t *b, uint32_t side, double *key, double *size) {
  ladder_best(&b->side[side], key, size);
  const int32_t g = b->gbest[side];
  if (g >= 0) {
    const double gk = b->gbest_key[side];
    if (!(*key >= gk)) { /* NaN (empty ladder) or below the window's top */
      *key = gk;
      *size = grid_of(b, side)[g];
    }
  }
}

static inline void refresh_top(bot4_book_t *b) {
  double k, s;
  side_best(b, 0, &k, &s);
  b->best_bid = k;
  b->best_bid_size = s;
  side_best(b, 1, &k, &s);
  b->best_ask = -k;
  b->best_ask_size = s;
}

static inline void clear_ladder(bot4_book_t *b) {
  ladder_clear(&b->side[0]);
  ladder_clear(&b->side[1]);
  grid_clear(b);
  b->best_bid = b->best_ask = b->best_bid_size = b->best_ask_size = NAN;
}

/* Zeroes [p, p+n) writing only the pages that hold something: a window is 512 KB a side, and
 * fresh memory (a new mapping, a JS ArrayBuffer) already reads as zero without being resident,
 * so a book costs resident memory only where levels land. */
static void zero_pages(uint8_t *p, size_t n) {
  for (size_t off = 0; off < n; off += 4096) {
    const size_t len = n - off < 4096 ? n - off : 4096;
    const uint64_t *w = (const uint64_t *)(p + off);
    uint64_t any = 0;
    for (size_t i = 0; i < len / 8; i++) any |= w[i];
    if (any) memset(p + off, 0, len);
  }
}

BOT4_API int32_t bot4_book_init(bot4_book_t *b, uint32_t cap, uint32_t pend_cap, uint32_t rule, uint32_t instrument) {
  if (!b || ((uintptr_t)b & (BOT4_CACHELINE - 1)) || cap < 1 || rule > BOT4_RULE_SEQ) return -1;
  memset(b, 0, sizeof *b);
  b->magic = BOT4_BOOK_MAGIC;
  b->cap = cap;
  b->rule = rule;
  b->instrument = instrument;
  b->pend_cap = pend_cap;
  uint64_t at = sizeof(bot4_book_t);
  at = ladder_init(&b->side[0], 0, cap, at);
  at = ladder_init(&b->side[1], 1, cap, at);
  at = (at + 63) & ~63ull;
  b->gslots = BOT4_GRID_SLOTS;
  b->digits = -1;
  b->scale = 0;
  for (uint32_t s = 0; s < 2; s++) {
    b->grid_off[s] = at;
    at += (uint64_t)BOT4_GRID_SLOTS * sizeof(double);
    b->gbest[s] = -1;
    /* an empty slot is a zero size, and later clears only wipe windows that held levels: the
     * caller's block may be reused memory, so the windows start zeroed here */
    zero_pages((uint8_t *)grid_of(b, s), (size_t)BOT4_GRID_SLOTS * sizeof(double));
  }
  b->pend_off = (at + 63) & ~63ull;
  clear_ladder(b);
  b->state = rule == BOT4_RULE_NONE ? BOT4_BOOK_SYNCED : BOT4_BOOK_NEED_SNAPSHOT;
  return 0;
}

BOT4_API void bot4_book_reset(bot4_book_t *b) {
  clear_ladder(b);
  b->pend_n = 0;
  b->verdict = V_NONE;
  b->state = b->rule == BOT4_RULE_NONE ? BOT4_BOOK_SYNCED : BOT4_BOOK_NEED_SNAPSHOT;
}

/* One level in the ladder (levels outside the window), with the side's capacity rule. */
static void ladder_put(bot4_book_t *b, uint32_t side, double key, double size) {
  bot4_ladder_t *l = &b->side[side];
  if (BOT4_UNLIKELY(l->n >= b->cap) && size > 0) {
    /* full: a better level displaces the worst one; a worse one is dropped */
    if (key < ladder_worst(l)) {
      b->truncated++;
      return;
    }
    const uint32_t before = l->n;
    ladder_set(l, key, size); /* may be an update of a held level */
    if (l->n > before) {
      b->truncated++;
      remove_at(l, 0, 0);
    }
    return;
  }
  if (BOT4_UNLIKELY(ladder_set(l, key, size))) b->truncated++;
}

static void grid_disable(bot4_book_t *b);

static inline void set_key(bot4_book_t *b, uint32_t side, double key, double size) {
  const int64_t slot = grid_slot(b, side, key);
  if (BOT4_LIKELY(slot >= 0)) {
    grid_set(b, side, slot, size, key);
    return;
  }
  if (BOT4_UNLIKELY(slot == -2)) grid_disable(b); /* a price off the unit: the ladder keeps it all */
  ladder_put(b, side, key, size);
}

/* Moves the window's levels into the ladder and turns the grid off for good (a venue that sends
 * a price finer than its snapshots showed). */
static void grid_disable(bot4_book_t *b) {
  for (uint32_t s = 0; s < 2; s++) {
    const double *g = grid_of(b, s);
    if (b->side[s].gcount)
      for (uint32_t i = 0; i < b->gslots; i++)
        if (g[i] != 0) ladder_put(b, s, grid_key(b, s, i), g[i]);
  }
  grid_clear(b);
  b->scale = 0;
  b->digits = -2;
}

/* Puts the side's window around its best level: window -> ladder, then the ladder's top levels
 * that fall in the new window -> window. O(window + moved levels); only when the top drifts. */
static void recenter(bot4_book_t *b, uint32_t side) {
  bot4_ladder_t *l = &b->side[side];
  double *g = grid_of(b, side);
  for (uint32_t i = 0, left = l->gcount; left && i < b->gslots; i++)
    if (g[i] != 0) {
      ladder_put(b, side, grid_key(b, side, i), g[i]);
      g[i] = 0; /* slot by slot, not a memset of the window: see grid_clear */
      left--;
    }
  l->gcount = 0;
  b->gbest[side] = -1;
  b->recenters++;
  if (l->nblk == 0) return;
  double k, sz;
  ladder_best(l, &k, &sz);
  b->gbase[side] = round_i64(k * b->scale) - (int64_t)(b->gslots / 2);
  while (l->nblk) {
    ladder_best(l, &k, &sz);
    const int64_t slot = grid_slot(b, side, k);
    if (slot < 0) break; /* below the window (keys are all on the unit while the grid is on) */
    grid_set(b, side, slot, sz, k);
    const uint32_t j = l->nblk - 1;
    remove_at(l, j, bcnt(l)[did(l)[j]] - 1);
  }
}

/* After a message: keep each side's top inside the middle three quarters of its window. */
static inline void follow_top(bot4_book_t *b) {
  if (b->scale == 0) return;
  for (uint32_t s = 0; s < 2; s++) {
    bot4_ladder_t *l = &b->side[s];
    const int32_t gb = b->gbest[s];
    int drift;
    if (gb < 0) {
      drift = l->nblk != 0; /* every level is outside the window */
    } else {
      double k, sz;
      ladder_best(l, &k, &sz);
      drift = gb < (int32_t)(b->gslots / 8) || gb > (int32_t)(b->gslots - b->gslots / 8) || k > b->gbest_key[s];
    }
    if (BOT4_UNLIKELY(drift)) recenter(b, s);
  }
}

/* The smallest number of decimal digits (<= 8) that writes every level's price exactly; -2 none. */
static int32_t infer_digits(bot4_book_t *b) {
  for (int32_t d = 0; d <= 8; d++) {
    double sc = 1;
    for (int32_t i = 0; i < d; i++) sc *= 10;
    int ok = 1;
    for (uint32_t s = 0; s < 2 && ok; s++) {
      bot4_ladder_t *l = &b->side[s];
      for (uint32_t j = 0; j < l->nblk && ok; j++) {
        const uint32_t id = did(l)[j];
        const lblock_t *bk = blk(l, id);
        for (uint32_t i = 0; i < bcnt(l)[id]; i++) {
          const double k = bk->k[i];
          if ((double)llrint(k * sc) / sc != k) {
            ok = 0;
            break;
          }
        }
      }
    }
    if (ok) return d;
  }
  return -2;
}

/* First snapshot: find the unit, switch the grid on, centre both windows. */
static void grid_start(bot4_book_t *b) {
  if (b->digits != -1) return;
  b->digits = infer_digits(b);
  if (b->digits < 0) return;
  double sc = 1;
  for (int32_t i = 0; i < b->digits; i++) sc *= 10;
  b->scale = sc;
  recenter(b, 0);
  recenter(b, 1);
}

BOT4_API void bot4_book_set(bot4_book_t *b, uint32_t side, double price, double size) {
  set_key(b, side & 1, side & 1 ? -price : price, size);
  follow_top(b);
  refresh_top(b);
}

BOT4_API uint32_t bot4_book_levels(bot4_book_t *b, uint32_t side, double *out, uint32_t n) {
  side &= 1;
  bot4_ladder_t *l = &b->side[side];
  const double sign = side ? -1.0 : 1.0;
  const double *g = grid_of(b, side);
  int64_t gi = l->gcount ? b->gbest[side] : -1;
  uint32_t gleft = l->gcount; /* grid levels not yet copied: none left, no scan for the next */
  int64_t j = (int64_t)l->nblk - 1, i = j >= 0 ? (int64_t)bcnt(l)[did(l)[j]] - 1 : -1;
  uint32_t w = 0;
  while (w < n) {
    const int has_l = j >= 0, has_g = gi >= 0;
    if (!has_l && !has_g) break;
    const double lk = has_l ? blk(l, did(l)[j])->k[i] : 0;
    const double gk = has_g ? grid_key(b, side, gi) : 0;
    if (has_g && (!has_l || gk > lk)) {
      out[2 * w] = sign * gk;
      out[2 * w + 1] = g[gi];
      w++;
      if (--gleft == 0 || w == n) {
        gi = -1; /* the window's last level, or all that was asked for: no scan past it */
        continue;
      }
      for (gi--; gi >= 0 && g[gi] == 0; gi--) {
      }
    } else {
      out[2 * w] = sign * lk;
      out[2 * w + 1] = blk(l, did(l)[j])->s[i];
      w++;
      if (--i < 0 && --j >= 0) i = (int64_t)bcnt(l)[did(l)[j]] - 1;
    }
  }
  return w;
}

/* Snapshot levels go through the same insert (venues send them best first; the blocks absorb
 * any order). A size of 0 in a snapshot is skipped. */
static inline void snap_append(bot4_book_t *b, uint32_t side, double key, double size) {
  if (size > 0) set_key(b, side, key, size);
}

static inline int crossed(bot4_book_t *b) {
  /* NaN (an empty side) compares false */
  return b->best_bid >= b->best_ask;
}

static inline void desync(bot4_book_t *b, uint32_t problem, uint64_t seq, int32_t *resyncs) {
  clear_ladder(b);
  b->state = BOT4_BOOK_NEED_SNAPSHOT;
  b->problem = problem;
  b->problem_seq = seq;
  b->resync_requests++;
  (*resyncs)++;
}

static void record(bot4_book_t *b, const bot4_tick_t *r, int32_t *resyncs, int draining);

/* Verdict for a message, from its first record (the venue's documented sync procedure). */
static void start_message(bot4_book_t *b, const bot4_tick_t *r, int32_t *resyncs, int draining) {
  if (!draining) b->msgs++;
  if (r->flags & BOT4_FLAG_SNAPSHOT) {
    clear_ladder(b);
    b->snap_seq = r->seq;
    b->verdict = V_SNAPSHOT;
    return;
  }
  const uint64_t u = r->seq, last = b->last_seq;
  const uint64_t U = (uint64_t)r->price2;
  const int has_pu = r->size2 >= 0;
  const uint64_t pu = has_pu ? (uint64_t)r->size2 : 0;
  switch (b->state) {
  case BOT4_BOOK_NEED_SNAPSHOT:
    if (b->rule == BOT4_RULE_SEQ) {
      b->verdict = V_SKIP; /* a WS-snapshot venue resyncs by resubscribing; diffs are useless */
      return;
    }
    b->verdict = V_BUFFER;
    b->buffered++;
    return;
  case BOT4_BOOK_AWAIT_BRIDGE: {
    const uint64_t L = b->snap_seq;
    int stale, bridges;
    if (b->rule == BOT4_RULE_BINANCE_FUTURES) {
      stale = u < L;            /* "drop any event where u is < lastUpdateId in the snapshot" */
      /* "first event should have U <= lastUpdateId AND u >= lastUpdateId"; an event whose pu
       * (the previous event's u) equals lastUpdateId starts exactly where the snapshot ends and
       * continues it as surely (a snapshot taken between two events, as a simulator serves) */
      bridges = U <= L || (has_pu && pu == L);
    } else {
      stale = u <= L;           /* spot: "discard any event where u is <= lastUpdateId" */
      bridges = U <= L + 1;     /* spot: "first event U <= lastUpdateId+1 <= u" */
    }
    if (stale) {
      b->verdict = V_SKIP;
      b->stale++;
      return;
    }
    if (bridges) {
      b->verdict = V_APPLY;
      b->state = BOT4_BOOK_SYNCED;
      return;
    }
    /* the snapshot is older than anything the stream can still bridge: fetch another */
    b->snapshots_rejected++;
    desync(b, BOT4_BOOK_SNAPSHOT_TOO_OLD, u, resyncs);
    b->verdict = V_BUFFER;
    b->buffered++;
    return;
  }
  default: {
    int next, old;
    switch (b->rule) {
    case BOT4_RULE_BINANCE_SPOT: next = U == last + 1; old = u <= last; break;
    case BOT4_RULE_BINANCE_FUTURES: next = has_pu && pu == last; old = u <= last; break;
    case BOT4_RULE_SEQ: next = u == last + 1; old = u <= last; break;
    default: next = 1; old = 0; break;
    }
    if (next) {
      b->verdict = V_APPLY;
      return;
    }
    if (old) {
      b->verdict = V_SKIP;
      b->stale++;
      return;
    }
    b->gaps++;
    desync(b, BOT4_BOOK_GAP, u, resyncs);
    if (b->rule == BOT4_RULE_SEQ) {
      b->verdict = V_SKIP;
    } else {
      b->verdict = V_BUFFER; /* this diff is newer than the lost ones: keep it for the bridge */
      b->buffered++;
    }
    return;
  }
  }
}

static void drain_pending(bot4_book_t *b, int32_t *resyncs) {
  bot4_tick_t *p = pend_of(b);
  const uint32_t n = b->pend_n;
  b->pend_n = 0;
  /* records re-buffered while draining land at an index <= the one being read: safe in place */
  for (uint32_t i = 0; i < n; i++) {
    bot4_tick_t r = p[i];
    record(b, &r, resyncs, 1);
  }
}

static void end_message(bot4_book_t *b, const bot4_tick_t *r, int32_t *resyncs) {
  const uint32_t v = b->verdict;
  b->verdict = V_NONE;
  if (v == V_APPLY) {
    b->last_seq = r->seq;
    b->last_recv_ns = r->ts_recv_ns;
    b->applied++;
    follow_top(b);
    refresh_top(b);
    if (BOT4_UNLIKELY(crossed(b))) {
      b->crossed++;
      desync(b, BOT4_BOOK_CROSSED, r->seq, resyncs);
    }
  } else if (v == V_SNAPSHOT) {
    if (b->digits == -1) grid_start(b);
    else follow_top(b);
    refresh_top(b);
    b->snapshots++;
    b->last_seq = b->snap_seq;
    b->last_recv_ns = r->ts_recv_ns;
    if (crossed(b)) {
      b->crossed++;
      b->snapshots_rejected++;
      desync(b, BOT4_BOOK_CROSSED, r->seq, resyncs);
      return;
    }
    if (b->rule == BOT4_RULE_SEQ || b->rule == BOT4_RULE_NONE) {
      b->state = BOT4_BOOK_SYNCED;
      b->pend_n = 0;
    } else {
      b->state = BOT4_BOOK_AWAIT_BRIDGE;
      drain_pending(b, resyncs);
    }
  }
}

static void record(bot4_book_t *b, const bot4_tick_t *r, int32_t *resyncs, int draining) {
  if (b->verdict == V_NONE) start_message(b, r, resyncs, draining);
  switch (b->verdict) {
  case V_APPLY:
    if (!(r->flags & BOT4_FLAG_NOLEVEL)) {
      if (BOT4_UNLIKELY(!(r->price > 0) || !(r->size >= 0))) {
        b->bad_levels++;
        b->problem = BOT4_BOOK_BAD_LEVEL;
        b->problem_seq = r->seq;
      } else {
        const uint32_t side = (r->flags & BOT4_FLAG_ASK) ? 1 : 0;
        set_key(b, side, side ? -r->price : r->price, r->size);
        b->level_updates++;
      }
    }
    break;
  case V_SNAPSHOT:
    if (!(r->flags & BOT4_FLAG_NOLEVEL)) {
      const uint32_t side = (r->flags & BOT4_FLAG_ASK) ? 1 : 0;
      snap_append(b, side, side ? -r->price : r->price, r->size);
    }
    break;
  case V_BUFFER:
    if (BOT4_UNLIKELY(b->pend_n == b->pend_cap)) {
      /* the oldest buffered diffs are the least useful: the next snapshot will be newer */
      b->pend_dropped += b->pend_n; /* counted apart: `problem` keeps the cause of the desync */
      b->pend_n = 0;
      if (b->pend_cap == 0) break;
    }
    pend_of(b)[b->pend_n++] = *r;
    break;
  default:
    break;
  }
  if (r->flags & BOT4_FLAG_LAST) end_message(b, r, resyncs);
}

BOT4_API int32_t bot4_books_apply(bot4_book_t **books, uint32_t nbooks, const bot4_tick_t *recs, uint32_t mask,
                                  uint32_t start, uint32_t n) {
  int32_t resyncs = 0;
  for (uint32_t i = 0; i < n; i++) {
    const bot4_tick_t *r = &recs[(start + i) & mask];
    /* replayed and ring-fed records arrive as a stream of lines not yet in cache, and the book
     * work per record is short enough that the hardware prefetcher falls behind: ask ahead (a
     * prefetch never faults, so past the end of a flat array is harmless) */
    __builtin_prefetch(&recs[(start + i + 24) & mask]);
    if (r->instrument >= nbooks || (r->kind != BOT4_TICK_LEVEL && r->kind != BOT4_TICK_STATUS)) continue;
    bot4_book_t *b = books[r->instrument];
    if (!b) continue;
    /* the bulk of the records: a level inside a message already judged to apply, neither its
     * first nor its last record, a valid price and size — applied here without the call into
     * record(), whose other paths (verdicts, buffering, message ends) these records never take */
    if (BOT4_LIKELY(b->verdict == V_APPLY && r->kind == BOT4_TICK_LEVEL &&
                    !(r->flags & (BOT4_FLAG_LAST | BOT4_FLAG_NOLEVEL)) && r->price > 0 && r->size >= 0)) {
      const uint32_t side = (r->flags & BOT4_FLAG_ASK) ? 1 : 0;
      set_key(b, side, side ? -r->price : r->price, r->size);
      b->level_updates++;
      continue;
    }
    if (BOT4_UNLIKELY(r->kind == BOT4_TICK_STATUS)) {
      /* the stream is down: nothing in this book can be trusted until a snapshot resyncs it */
      b->interruptions++;
      b->verdict = V_NONE;
      b->pend_n = 0;
      if (b->state != BOT4_BOOK_NEED_SNAPSHOT) desync(b, BOT4_BOOK_INTERRUPTED, r->seq, &resyncs);
      else clear_ladder(b);
      continue;
    }
    record(b, r, &resyncs, 0);
  }
  return resyncs;
}

BOT4_API int32_t bot4_books_check_stale(bot4_book_t **books, uint32_t nbooks, uint64_t now_ns, uint64_t max_age_ns) {
  int32_t stale = 0;
  for (uint32_t i = 0; i < nbooks; i++) {
    bot4_book_t *b = books[i];
    if (!b || b->state != BOT4_BOOK_SYNCED || b->snapshots == 0) continue; /* never synced: nothing to age */
    if (now_ns > b->last_recv_ns && now_ns - b->last_recv_ns > max_age_ns) {
      b->stale_books++;
      b->verdict = V_NONE;
      b->pend_n = 0;
      desync(b, BOT4_BOOK_STALE, b->last_seq, &stale);
    }
  }
  return stale;
}

BOT4_API int bot4_layout_book(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_book_t);
  BOT4_L_OFF(bot4_book_t, magic);
  BOT4_L_OFF(bot4_book_t, cap);
  BOT4_L_OFF(bot4_book_t, rule);
  BOT4_L_OFF(bot4_book_t, state);
  BOT4_L_OFF(bot4_book_t, instrument);
  BOT4_L_OFF(bot4_book_t, pend_cap);
  BOT4_L_OFF(bot4_book_t, pend_n);
  BOT4_L_OFF(bot4_book_t, verdict);
  BOT4_L_OFF(bot4_book_t, problem);
  BOT4_L_OFF(bot4_book_t, last_seq);
  BOT4_L_OFF(bot4_book_t, snap_seq);
  BOT4_L_OFF(bot4_book_t, problem_seq);
  BOT4_L_OFF(bot4_book_t, best_bid);
  BOT4_L_OFF(bot4_book_t, best_bid_size);
  BOT4_L_OFF(bot4_book_t, best_ask);
  BOT4_L_OFF(bot4_book_t, best_ask_size);
  BOT4_L_OFF(bot4_book_t, pend_off);
  BOT4_L_OFF(bot4_book_t, side);
  BOT4_L_SIZE(bot4_ladder_t);
  BOT4_L_OFF(bot4_ladder_t, n);
  BOT4_L_OFF(bot4_ladder_t, gcount);
  BOT4_L_OFF(bot4_book_t, scale);
  BOT4_L_OFF(bot4_book_t, digits);
  BOT4_L_OFF(bot4_book_t, recenters);
  BOT4_L_CONST(BOT4_GRID_SLOTS);
  BOT4_L_CONST(BOT4_LADDER_BLOCK);
  BOT4_L_OFF(bot4_book_t, msgs);
  BOT4_L_OFF(bot4_book_t, applied);
  BOT4_L_OFF(bot4_book_t, stale);
  BOT4_L_OFF(bot4_book_t, buffered);
  BOT4_L_OFF(bot4_book_t, snapshots);
  BOT4_L_OFF(bot4_book_t, snapshots_rejected);
  BOT4_L_OFF(bot4_book_t, gaps);
  BOT4_L_OFF(bot4_book_t, crossed);
  BOT4_L_OFF(bot4_book_t, resync_requests);
  BOT4_L_OFF(bot4_book_t, truncated);
  BOT4_L_OFF(bot4_book_t, pend_dropped);
  BOT4_L_OFF(bot4_book_t, bad_levels);
  BOT4_L_OFF(bot4_book_t, level_updates);
  BOT4_L_OFF(bot4_book_t, interruptions);
  BOT4_L_OFF(bot4_book_t, stale_books);
  BOT4_L_OFF(bot4_book_t, last_recv_ns);
  return n;
}
