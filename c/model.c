/* model.c — tree-ensemble validation and prediction; contracts in model.h. */
#include "model.h"

#include <math.h>
#include <string.h>

#define M_INLINE static inline __attribute__((always_inline))

#define REGION(m, off, T) ((T *)((char *)(m) + (m)->off))
#define CREGION(m, off, T) ((const T *)((const char *)(m) + (m)->off))

static inline void cat_range(const bot4_mnode_t *nd, uint32_t *off, uint32_t *cnt) {
  uint32_t w[2];
  memcpy(w, &nd->thr, sizeof w);
  *off = w[0];
  *cnt = w[1];
}

static int region_ok(const bot4_model_t *m, uint32_t off, uint64_t size, uint64_t *cursor) {
  if (off % 8 != 0 || off < *cursor) return 0;
  uint64_t end = (uint64_t)off + size;
  if (end > m->bytes) return 0;
  *cursor = end;
  return 1;
}


/* ---- key layout (model.h): built by init, used by every prediction when BOT4_MF_KEYS is set ---- */

/* unsigned order of the key = float order; -0 folded into +0 (f + 0.0f is +0 for both zeros) */
static inline uint32_t fkey(float f) {
  f += 0.0f;
  uint32_t b;
  memcpy(&b, &f, 4);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/* The double threshold the loader folds float32 t into (src/ml/flat.ts foldXgbThreshold): the
 * smallest double that rounds to >= t. A node qualifies for the key layout only when its stored
 * threshold is exactly this for t = (float)thr, so both layouts send every x the same way. */
static double fold_f32(float t) {
  if (t == -INFINITY) return -INFINITY;
  float p = t == 0.0f ? -0x1p-149f : nextafterf(t, -INFINITY);
  double mid = ((double)p + (double)t) / 2;
  return (float)mid >= t ? mid : nextafter(mid, INFINITY);
}

static inline uint64_t keys_start(const bot4_model_t *m) {
  uint64_t end = (uint64_t)m->off_scratch + (uint64_t)m->scratch_rows * m->n_features * 8;
  return (end + 63) & ~(uint64_t)63;
}

static void keys_fill(const bot4_model_t *m, bot4_knode_t *kn, float *leaf, uint32_t src, uint32_t pos, uint32_t d,
                      uint32_t D, int pass) {
  const bot4_mnode_t *nodes = CREGION(m, off_nodes, bot4_mnode_t);
  const double *value = CREGION(m, off_value, double);
  const uint32_t F = m->n_features;
  if (d == D) {
    leaf[pos - ((1u << D) - 1)] = (float)value[src];
    return;
  }
  const bot4_mnode_t *n = &nodes[src];
  if (pass || (n->meta & BOT4_MN_LEAF)) { /* a leaf above depth D: always left, value at every leaf below */
    kn[pos].thr = 0; /* key(t) - 1 for key(t) = 1: below every key but the slot's 0 */
    kn[pos].off = 2 * F * 32;
    keys_fill(m, kn, leaf, src, 2 * pos + 1, d + 1, D, 1);
    keys_fill(m, kn, leaf, src, 2 * pos + 2, d + 1, D, 1);
    return;
  }
  const uint32_t f = n->meta & BOT4_MN_FEAT, dl = (n->meta >> BOT4_MN_DL_SHIFT) & 1;
  kn[pos].thr = fkey((float)n->thr) - 1; /* >= 0x007FFFFE: -inf is the smallest threshold */
  kn[pos].off = (dl ? F + f : f) * 32;
  keys_fill(m, kn, leaf, (uint32_t)n->left, 2 * pos + 1, d + 1, D, 0);
  keys_fill(m, kn, leaf, (uint32_t)n->left + 1, 2 * pos + 2, d + 1, D, 0);
}

/* Builds the key layout when the model qualifies and the buffer holds it; 1 when built. */
static int keys_build(bot4_model_t *m) {
  if ((m->flags & (BOT4_MF_FP32 | BOT4_MF_SLOW)) != BOT4_MF_FP32 || m->n_features > BOT4_MODEL_KEYS_MAX_FEATURES ||
      m->n_groups > BOT4_MODEL_KEYS_MAX_GROUPS || m->max_depth > BOT4_MODEL_KEYS_MAX_DEPTH)
    return 0;
  const bot4_mnode_t *nodes = CREGION(m, off_nodes, bot4_mnode_t);
  for (uint32_t i = 0; i < m->n_nodes; i++) {
    if (nodes[i].meta & BOT4_MN_LEAF) continue;
    const float t = (float)nodes[i].thr;
    if (!(t < INFINITY) || fold_f32(t) != nodes[i].thr) return 0;
  }
  const uint32_t T = m->n_trees;
  const uint32_t *root = CREGION(m, off_root, uint32_t);
  const uint32_t *group = CREGION(m, off_group, uint32_t);
  const uint32_t *depth = CREGION(m, off_depth, uint32_t);
  uint64_t inner = 0, leaves = 0;
  for (uint32_t t = 0; t < T; t++) {
    inner += (1u << depth[t]) - 1;
    leaves += 1u << depth[t];
  }
  const uint64_t start = keys_start(m),
                 need = (uint64_t)T * sizeof(bot4_ktree_t) + inner * sizeof(bot4_knode_t) + leaves * 4 + (uint64_t)T * 64;
  if (start + need > m->bytes || leaves > 0x7FFFFFFFu) return 0;
  bot4_ktree_t *tr = (bot4_ktree_t *)((char *)m + start);
  bot4_knode_t *kn = (bot4_knode_t *)(tr + T);
  float *leaf = (float *)(kn + inner);
  uint64_t ko = 0, lo = 0;
  for (uint32_t t = 0; t < T; t++) {
    const uint32_t D = depth[t];
    tr[t].node = (uint32_t)ko;
    tr[t].depth = D;
    tr[t].lbias = (int32_t)((int64_t)lo - (int64_t)(1u << D));
    tr[t].group = group[t];
    keys_fill(m, kn + ko, leaf + lo, root[t], 0, 0, D, 0);
    ko += (1u << D) - 1;
    lo += 1u << D;
  }
  int32_t *vt = (int32_t *)(leaf + leaves);
  for (uint32_t t = 0; t < T; t++)
    for (uint32_t n = 0; n < 16; n++)
      vt[t * 16 + n] = n + 1 < (1u << tr[t].depth) ? (int32_t)((kn[tr[t].node + n].thr + 1) ^ 0x80000000u) : 0;
  return 1;
}

/* A row's 2F + 1 keys (see model.h), 8 apart: rows are expanded in groups of 8, slot s of row i
 * of a group at s * 8 + i, so a slot of the whole group is one 32-byte row (vector code reads it
 * as such) and a node names its slot by that row's byte offset (slot * 32). A group holds the
 * keys twice: first biased to signed order (key ^ 0x80000000, for AVX2's signed compare), then
 * as they are (for the scalar steps' unsigned compare): 2 * (2F + 1) slots. ku gets the unsigned
 * keys of a row, ks (when not NULL) the signed ones. */
M_INLINE void keys_row(const double *x, const uint32_t *gather, uint32_t F, uint32_t *ku, uint32_t *ks) {
  for (uint32_t f = 0; f < F; f++) {
    const double v = x[gather ? gather[f] : f];
    const uint32_t key = fkey((float)v);
    const int nan = v != v;
    const uint32_t r = nan ? 0xFFFFFFFFu : key, l = nan ? 0u : key;
    ku[f * 8] = r;
    ku[(F + f) * 8] = l;
    if (ks) {
      ks[f * 8] = r ^ 0x80000000u;
      ks[(F + f) * 8] = l ^ 0x80000000u;
    }
  }
  ku[2 * F * 8] = 0;
  if (ks) ks[2 * F * 8] = 0x80000000u;
}

/* the key a node tests: xr is a row's first unsigned key (row i of a group: that part's start + i) */
#define KX(xr, off) (*(const uint32_t *)((const char *)(xr) + (off)))

/* 1 where node i (its 0-based level-order index) sends the row right */
#define KRIGHT(nd, i, xr) ((uint64_t)((nd)[i].thr < KX(xr, (nd)[i].off)))

/* One level down in heap order (root 1, children of k: 2k left, 2k + 1 right; node k is nd[k - 1]):
 * k -> 2k + went right, which compiles to a compare and an add-with-carry. */
M_INLINE uint64_t kstep(const bot4_knode_t *nd, uint64_t k, const uint32_t *xr) {
#if defined(__x86_64__)
  /* the C form below compiles to lea + adc $0 (and often an lea for the node's address): one or
   * two more instructions on the hottest line */
  uint32_t t, o;
  __asm__("movl -8(%[nd],%[k],8), %[t]\n\t"
          "movl -4(%[nd],%[k],8), %[o]\n\t"
          "cmpl (%[x],%q[o]), %[t]\n\t"
          "adcq %[k], %[k]"
          : [k] "+r"(k), [t] "=&r"(t), [o] "=&r"(o)
          : [nd] "r"(nd), [x] "r"(xr), "m"(*(const char(*)[])nd), "m"(*(const char(*)[])xr)
          : "cc");
  return k;
#else
  return 2 * k + KRIGHT(nd, k - 1, xr);
#endif
}

/* The first two levels of a tree of depth >= 2: both level-1 nodes are tested, so the three loads
 * do not wait on each other. Returns the heap index at depth 2. */
M_INLINE uint64_t kpeel2(const bot4_knode_t *nd, const uint32_t *xr) {
  const uint64_t l = 4 + KRIGHT(nd, 1, xr), r = 6 + KRIGHT(nd, 2, xr);
  return KRIGHT(nd, 0, xr) ? r : l;
}

M_INLINE uint64_t kwalk1(const bot4_knode_t *nd, uint32_t D, const uint32_t *xr) {
  uint64_t k = 1;
  for (uint32_t d = 0; d < D; d++) k = kstep(nd, k, xr);
  return k;
}

#if defined(__AVX2__)
#include <immintrin.h>
/* Masks of node n (0-based level order) for two groups of 8 rows (their signed keys at xa, xb): -1
 * where the row goes left (key < thr = node's thr + 1), 0 where it goes right. The threshold is
 * broadcast once for both. */
#define KLT2(n, ma, mb)                                                                            \
  do {                                                                                             \
    const __m256i t_ = _mm256_set1_epi32(vt[n]);                                                   \
    const uint32_t o_ = nd[n].off;                                                                 \
    ma = _mm256_cmpgt_epi32(t_, _mm256_load_si256((const __m256i *)((const char *)xa + o_)));      \
    mb = _mm256_cmpgt_epi32(t_, _mm256_load_si256((const __m256i *)((const char *)xb + o_)));      \
  } while (0)
/* m ? b : a, per 32-bit lane (m: 0 or -1); blendvps reads the lane's sign bit as is */
#define KSEL(a, b, m) \
  _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(m)))

/* The first four levels for two groups of 8 rows at once: all 15 tests of levels 0-3 as vector
 * compares, each row's decisions picked by blends (lk: -1 where the row went left at level k).
 * Returns the heap indices at depth 4 (16 to 31) in *na, *nb. xb may equal xa. */
M_INLINE void kvec4(const bot4_knode_t *nd, const int32_t *vt, const uint32_t *xa, const uint32_t *xb, __m256i *na,
                    __m256i *nb) {
  __m256i l0a, l0b, l1a, l1b, l2a, l2b, l3a, l3b, pa, pb, qa, qb, ra, rb, sa, sb;
  KLT2(0, l0a, l0b);
  KLT2(1, pa, pb);
  KLT2(2, qa, qb);
  l1a = KSEL(qa, pa, l0a);
  l1b = KSEL(qb, pb, l0b);
  /* level 2: l0 ? (l1 ? n3 : n4) : (l1 ? n5 : n6) */
  KLT2(3, pa, pb);
  KLT2(4, qa, qb);
  ra = KSEL(qa, pa, l1a);
  rb = KSEL(qb, pb, l1b);
  KLT2(5, pa, pb);
  KLT2(6, qa, qb);
  l2a = KSEL(KSEL(qa, pa, l1a), ra, l0a);
  l2b = KSEL(KSEL(qb, pb, l1b), rb, l0b);
  /* level 3: nodes 7-10 under the left child (picked by l1 then l2), 11-14 under the right */
  KLT2(7, pa, pb);
  KLT2(8, qa, qb);
  ra = KSEL(qa, pa, l2a);
  rb = KSEL(qb, pb, l2b);
  KLT2(9, pa, pb);
  KLT2(10, qa, qb);
  sa = KSEL(KSEL(qa, pa, l2a), ra, l1a); /* the left child's choice */
  sb = KSEL(KSEL(qb, pb, l2b), rb, l1b);
  KLT2(11, pa, pb);
  KLT2(12, qa, qb);
  ra = KSEL(qa, pa, l2a);
  rb = KSEL(qb, pb, l2b);
  KLT2(13, pa, pb);
  KLT2(14, qa, qb);
  l3a = KSEL(KSEL(KSEL(qa, pa, l2a), ra, l1a), sa, l0a);
  l3b = KSEL(KSEL(KSEL(qb, pb, l2b), rb, l1b), sb, l0b);
  /* heap index 2^k + (path bits, 1 = right) at depth k: with lk = -(went left), n = 2n + lk from
   * n = 0 gives (path bits) - 15 after four levels */
  const __m256i c31 = _mm256_set1_epi32(31);
  __m256i n = l0a;
  n = _mm256_add_epi32(_mm256_add_epi32(n, n), l1a);
  n = _mm256_add_epi32(_mm256_add_epi32(n, n), l2a);
  n = _mm256_add_epi32(_mm256_add_epi32(n, n), l3a);
  *na = _mm256_add_epi32(n, c31);
  n = l0b;
  n = _mm256_add_epi32(_mm256_add_epi32(n, n), l1b);
  n = _mm256_add_epi32(_mm256_add_epi32(n, n), l2b);
  n = _mm256_add_epi32(_mm256_add_epi32(n, n), l3b);
  *nb = _mm256_add_epi32(n, c31);
}
#undef KSEL
#undef KLT2
#endif

/* 8 rows (group xg: its signed keys, the unsigned ones U slots later) through one tree: their
 * heap indices at its depth D */
M_INLINE void ktree8(const bot4_knode_t *nd, const int32_t *vt, uint32_t D, const uint32_t *xg, uint32_t U, uint64_t *j) {
  const uint32_t *xu = xg + (uint64_t)U * 8;
#if defined(__AVX2__)
  if (D >= 4) {
    __m256i n, unused;
    kvec4(nd, vt, xg, xg, &n, &unused);
    uint32_t o[8] __attribute__((aligned(32)));
    _mm256_store_si256((__m256i *)o, n);
    for (int i = 0; i < 8; i++) j[i] = o[i];
    for (uint32_t d = D - 4; d > 0; d--)
      for (int i = 0; i < 8; i++) j[i] = kstep(nd, j[i], xu + i);
    return;
  }
#endif
  if (D >= 2) {
    for (int i = 0; i < 8; i++) j[i] = kpeel2(nd, xu + i);
    for (uint32_t d = D - 2; d > 0; d--)
      for (int i = 0; i < 8; i++) j[i] = kstep(nd, j[i], xu + i);
  } else {
    for (int i = 0; i < 8; i++) j[i] = kwalk1(nd, D, xu + i);
  }
}

#define KEYS_TREE_BLOCK 16 /* trees whose nodes and leaves (<= ~12 KiB at depth 6) stay in L1 with the rows */
/* rows per block: one 48-row pass of keys_rows; their keys (48 x 2(2F + 1) x 4 bytes, 15.7 KiB at
 * F = 20) stay in L1 with a tree block */
#define KEYS_RB 48

#if defined(__AVX2__)
/* keys_row for 8 rows at once (row q at rp[q]): the same conversion, rounding and NaN folding,
 * one vector per slot; the unsigned keys U slots after the signed ones */
M_INLINE void keys_rows8(const double *const *rp, const uint32_t *gather, uint32_t F, uint32_t U, uint32_t *k) {
  const __m256i sgn = _mm256_set1_epi32((int)0x80000000u);
  uint32_t *ku = k + (uint64_t)U * 8;
  for (uint32_t f = 0; f < F; f++) {
    const uint32_t c = gather ? gather[f] : f;
    const __m256d lo = _mm256_set_pd(rp[3][c], rp[2][c], rp[1][c], rp[0][c]);
    const __m256d hi = _mm256_set_pd(rp[7][c], rp[6][c], rp[5][c], rp[4][c]);
    const __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)); /* (float)x, nearest */
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i b = _mm256_castps_si256(_mm256_add_ps(v, _mm256_setzero_ps())); /* -0 -> +0 */
    const __m256i key = _mm256_xor_si256(b, _mm256_or_si256(_mm256_srai_epi32(b, 31), sgn));
    const __m256i r = _mm256_or_si256(key, nan), l = _mm256_andnot_si256(nan, key); /* NaN -> 0xFFFFFFFF, 0 */
    _mm256_store_si256((__m256i *)(ku + f * 8), r);
    _mm256_store_si256((__m256i *)(ku + (F + f) * 8), l);
    _mm256_store_si256((__m256i *)(k + f * 8), _mm256_xor_si256(r, sgn));
    _mm256_store_si256((__m256i *)(k + (F + f) * 8), _mm256_xor_si256(l, sgn));
  }
  _mm256_store_si256((__m256i *)(ku + 2 * F * 8), _mm256_setzero_si256());
  _mm256_store_si256((__m256i *)(k + 2 * F * 8), sgn);
}

/* Steps the 16 rows from their depth-4 indices o[] down L more levels and returns their leaves
 * as two vectors. One row after another: each row's steps depend only on its own loads, so the
 * 16 chains overlap, and few values are live at once. */
#define KDEEP16(L)                                                                                 \
  do {                                                                                             \
    uint64_t j_[16];                                                                               \
    _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) {                                        \
      const uint32_t *xr = (i < 8 ? ua : ub - 8) + i;                                              \
      uint64_t j = o[i];                                                                           \
      _Pragma("GCC unroll 8") for (int d = 0; d < (L); d++) j = kstep(nd, j, xr);                  \
      j_[i] = j;                                                                                   \
    }                                                                                              \
    *va = _mm256_setr_ps(lv[j_[0]], lv[j_[1]], lv[j_[2]], lv[j_[3]], lv[j_[4]], lv[j_[5]], lv[j_[6]], lv[j_[7]]); \
    *vb = _mm256_setr_ps(lv[j_[8]], lv[j_[9]], lv[j_[10]], lv[j_[11]], lv[j_[12]], lv[j_[13]], lv[j_[14]], lv[j_[15]]); \
  } while (0)

/* The first four levels of a tree of depth >= 4 for 16 rows (groups xa, xb): their heap indices
 * at depth 4 into o[16]. */
M_INLINE void khead16(const bot4_knode_t *nd, const int32_t *vt, const uint32_t *xa, const uint32_t *xb, uint32_t *o) {
  /* hides that consecutive calls read the same nodes: the compiler would otherwise keep their 15
   * thresholds and offsets from one call to the next, spilled to the stack, where reading them
   * again costs the same loads */
  __asm__("" : "+r"(nd), "+r"(vt));
  __m256i na, nb;
  kvec4(nd, vt, xa, xb, &na, &nb);
  _mm256_store_si256((__m256i *)o, na);
  _mm256_store_si256((__m256i *)(o + 8), nb);
}

/* The rest of that tree for the 16 rows from o[] (their unsigned keys at ua, ub): the leaf values
 * as two vectors. */
M_INLINE void kdeep16(const bot4_knode_t *nd, uint32_t D, const float *lv, const uint32_t *o, const uint32_t *ua,
                      const uint32_t *ub, __m256 *va, __m256 *vb) {
  switch (D) {
  case 4: KDEEP16(0); return;
  case 5: KDEEP16(1); return;
  case 6: KDEEP16(2); return;
  case 7: KDEEP16(3); return;
  default: break;
  }
  uint64_t j[16];
  for (int i = 0; i < 16; i++) j[i] = o[i];
  for (uint32_t d = D - 4; d > 0; d--)
    for (int i = 0; i < 16; i++) j[i] = kstep(nd, j[i], (i < 8 ? ua : ub - 8) + i);
  *va = _mm256_setr_ps(lv[j[0]], lv[j[1]], lv[j[2]], lv[j[3]], lv[j[4]], lv[j[5]], lv[j[6]], lv[j[7]]);
  *vb = _mm256_setr_ps(lv[j[8]], lv[j[9]], lv[j[10]], lv[j[11]], lv[j[12]], lv[j[13]], lv[j[14]], lv[j[15]]);
}

/* The leaf values of one tree of depth < 4 for 16 rows as two vectors. */
M_INLINE void kshallow16(const bot4_knode_t *nd, uint32_t D, const float *lv, const uint32_t *xa, const uint32_t *xb,
                         uint32_t U, __m256 *va, __m256 *vb) {
  uint64_t j[16];
  ktree8(nd, NULL, D, xa, U, j); /* D < 4: no vector levels */
  ktree8(nd, NULL, D, xb, U, j + 8);
  *va = _mm256_setr_ps(lv[j[0]], lv[j[1]], lv[j[2]], lv[j[3]], lv[j[4]], lv[j[5]], lv[j[6]], lv[j[7]]);
  *vb = _mm256_setr_ps(lv[j[8]], lv[j[9]], lv[j[10]], lv[j[11]], lv[j[12]], lv[j[13]], lv[j[14]], lv[j[15]]);
}
#undef KDEEP16
#endif

/* R rows (a multiple of 8) of keys in groups of 8 (S slots each, the unsigned keys from slot U)
 * through every tree: rows walk one tree together, 48 or 16 at a time with AVX2 and one output
 * group (the first four levels as vector compares, the rest as scalar steps), 8 otherwise
 * (independent descents in flight). Trees go in blocks of KEYS_TREE_BLOCK, rows inside a block
 * (rows x trees interchanged, so a block's nodes stay in L1); with one output group the rows'
 * sums stay in registers through a block. acc[r * G + g] holds float32 sums, added in tree
 * order. */
static void keys_rows(const bot4_model_t *m, const uint32_t *xk, uint32_t S, uint32_t U, uint32_t R, float *acc) {
  const uint64_t start = keys_start(m);
  const bot4_ktree_t *tr = (const bot4_ktree_t *)((const char *)m + start);
  const uint32_t T = m->n_trees, G = m->n_groups;
  const bot4_knode_t *kn = (const bot4_knode_t *)(tr + T);
  const float *leaf = (const float *)(kn + tr[T - 1].node + ((1u << tr[T - 1].depth) - 1));
  const int32_t *vthr = (const int32_t *)(leaf + tr[T - 1].lbias + (2u << tr[T - 1].depth)); /* after the last leaf */
  for (uint32_t t0 = 0; t0 < T; t0 += KEYS_TREE_BLOCK) {
    const uint32_t t1 = T - t0 > KEYS_TREE_BLOCK ? t0 + KEYS_TREE_BLOCK : T;
    uint32_t r = 0;
#if defined(__AVX2__)
    if (G == 1) {
      const uint64_t h = (uint64_t)8 * S, u = (uint64_t)U * 8; /* the second group of a pair; the unsigned keys */
      /* 48 rows per pass: the vector levels of three pairs of groups, then their scalar levels, so
       * 48 descents are in flight (measured faster than 16 or 32 per pass, and than 64) */
      for (; r + 48 <= R; r += 48) {
        const uint32_t *x0 = xk + (uint64_t)r * S, *x1 = x0 + 2 * h, *x2 = x1 + 2 * h;
        __m256 a0 = _mm256_loadu_ps(acc + r), a1 = _mm256_loadu_ps(acc + r + 8);
        __m256 a2 = _mm256_loadu_ps(acc + r + 16), a3 = _mm256_loadu_ps(acc + r + 24);
        __m256 a4 = _mm256_loadu_ps(acc + r + 32), a5 = _mm256_loadu_ps(acc + r + 40);
        uint32_t o0[16] __attribute__((aligned(32))), o1[16] __attribute__((aligned(32)));
        uint32_t o2[16] __attribute__((aligned(32)));
        for (uint32_t t = t0; t < t1; t++) {
          const bot4_knode_t *nd = kn + tr[t].node;
          const uint32_t D = tr[t].depth;
          const float *lv = leaf + tr[t].lbias;
          __m256 v0, v1, v2, v3, v4, v5;
          if (D >= 4) {
            khead16(nd, vthr + t * 16, x0, x0 + h, o0);
            khead16(nd, vthr + t * 16, x1, x1 + h, o1);
            khead16(nd, vthr + t * 16, x2, x2 + h, o2);
            kdeep16(nd, D, lv, o0, x0 + u, x0 + h + u, &v0, &v1);
            kdeep16(nd, D, lv, o1, x1 + u, x1 + h + u, &v2, &v3);
            kdeep16(nd, D, lv, o2, x2 + u, x2 + h + u, &v4, &v5);
          } else {
            kshallow16(nd, D, lv, x0, x0 + h, U, &v0, &v1);
            kshallow16(nd, D, lv, x1, x1 + h, U, &v2, &v3);
            kshallow16(nd, D, lv, x2, x2 + h, U, &v4, &v5);
          }
          a0 = _mm256_add_ps(a0, v0);
          a1 = _mm256_add_ps(a1, v1);
          a2 = _mm256_add_ps(a2, v2);
          a3 = _mm256_add_ps(a3, v3);
          a4 = _mm256_add_ps(a4, v4);
          a5 = _mm256_add_ps(a5, v5);
        }
        _mm256_storeu_ps(acc + r, a0);
        _mm256_storeu_ps(acc + r + 8, a1);
        _mm256_storeu_ps(acc + r + 16, a2);
        _mm256_storeu_ps(acc + r + 24, a3);
        _mm256_storeu_ps(acc + r + 32, a4);
        _mm256_storeu_ps(acc + r + 40, a5);
      }
      for (; r + 16 <= R; r += 16) {
        const uint32_t *x0 = xk + (uint64_t)r * S;
        __m256 a0 = _mm256_loadu_ps(acc + r), a1 = _mm256_loadu_ps(acc + r + 8);
        uint32_t o0[16] __attribute__((aligned(32)));
        for (uint32_t t = t0; t < t1; t++) {
          const bot4_knode_t *nd = kn + tr[t].node;
          const uint32_t D = tr[t].depth;
          const float *lv = leaf + tr[t].lbias;
          __m256 v0, v1;
          if (D >= 4) {
            khead16(nd, vthr + t * 16, x0, x0 + h, o0);
            kdeep16(nd, D, lv, o0, x0 + u, x0 + h + u, &v0, &v1);
          } else {
            kshallow16(nd, D, lv, x0, x0 + h, U, &v0, &v1);
          }
          a0 = _mm256_add_ps(a0, v0);
          a1 = _mm256_add_ps(a1, v1);
        }
        _mm256_storeu_ps(acc + r, a0);
        _mm256_storeu_ps(acc + r + 8, a1);
      }
    }
#endif
    for (; r < R; r += 8) {
      const uint32_t *xg = xk + (uint64_t)r * S;
      uint64_t j[8];
      if (G == 1) {
        float a[8];
        for (int i = 0; i < 8; i++) a[i] = acc[r + (uint32_t)i];
        for (uint32_t t = t0; t < t1; t++) {
          ktree8(kn + tr[t].node, vthr + t * 16, tr[t].depth, xg, U, j);
          const float *lv = leaf + tr[t].lbias;
          for (int i = 0; i < 8; i++) a[i] += lv[j[i]];
        }
        for (int i = 0; i < 8; i++) acc[r + (uint32_t)i] = a[i];
      } else {
        for (uint32_t t = t0; t < t1; t++) {
          ktree8(kn + tr[t].node, vthr + t * 16, tr[t].depth, xg, U, j);
          const float *lv = leaf + tr[t].lbias;
          for (int i = 0; i < 8; i++) acc[(r + (uint32_t)i) * G + tr[t].group] += lv[j[i]];
        }
      }
    }
  }
}

/* One row, 8 trees at a time (independent descents in flight) when they have the same depth,
 * otherwise one by one. Node indices are absolute (kn[j], j = r + k - 1 for heap index k in the
 * tree whose root is kn[r]), so the 8 descents share one base; a step is
 * j -> 2j + 1 - r + went right. Sums in tree order; with one output
 * group the running sum stays in a register (the float adds form one chain in any case). */
M_INLINE void keys_one_g(const bot4_model_t *m, const uint32_t *xr, float *acc, const int one) {
  const uint64_t start = keys_start(m);
  const bot4_ktree_t *tr = (const bot4_ktree_t *)((const char *)m + start);
  const uint32_t T = m->n_trees;
  const bot4_knode_t *kn = (const bot4_knode_t *)(tr + T);
  const float *leaf = (const float *)(kn + tr[T - 1].node + ((1u << tr[T - 1].depth) - 1));
  float a0 = acc[0];
  uint32_t t = 0;
  for (; t + 8 <= T; t += 8) {
    const uint32_t D = tr[t].depth;
    int same = D >= 2;
    for (int k = 1; k < 8; k++) same &= tr[t + k].depth == D;
    float v[8];
    if (same) {
      uint64_t j[8], c[8];
      for (int k = 0; k < 8; k++) {
        const uint64_t r = tr[t + k].node;
        c[k] = 1 - r;
        j[k] = r - 1 + kpeel2(kn + r, xr);
      }
      for (uint32_t d = D - 2; d > 0; d--)
        for (int k = 0; k < 8; k++) j[k] = 2 * j[k] + c[k] + KRIGHT(kn, j[k], xr);
      for (int k = 0; k < 8; k++) v[k] = leaf[(int64_t)tr[t + k].lbias + (int64_t)(j[k] + c[k])];
    } else {
      for (int k = 0; k < 8; k++) {
        const bot4_ktree_t *q = &tr[t + k];
        v[k] = leaf[q->lbias + (int64_t)kwalk1(kn + q->node, q->depth, xr)];
      }
    }
    if (one)
      for (int k = 0; k < 8; k++) a0 += v[k];
    else
      for (int k = 0; k < 8; k++) acc[tr[t + k].group] += v[k];
  }
  for (; t < T; t++) {
    const float v = leaf[tr[t].lbias + (int64_t)kwalk1(kn + tr[t].node, tr[t].depth, xr)];
    if (one) a0 += v;
    else acc[tr[t].group] += v;
  }
  if (one) acc[0] = a0;
}

static void keys_one(const bot4_model_t *m, const uint32_t *xr, float *acc) {
  if (m->n_groups == 1) keys_one_g(m, xr, acc, 1);
  else keys_one_g(m, xr, acc, 0);
}

BOT4_API int bot4_model_init(bot4_model_t *m, uint64_t bytes, int64_t *where) {
  if (where) *where = -1;
  if (bytes < sizeof(bot4_model_t) || m->magic != BOT4_MODEL_MAGIC) return BOT4_ME_MAGIC;
  if (m->bytes != bytes) return BOT4_ME_LAYOUT;
  if (m->n_nodes == 0 || m->n_nodes > 0x7FFFFFF0u || m->n_features == 0 || m->n_features > BOT4_MODEL_MAX_FEATURES ||
      m->n_groups == 0 || m->n_groups > BOT4_MODEL_MAX_GROUPS || m->scratch_rows == 0)
    return BOT4_ME_COUNTS;
  if (m->transform > BOT4_MT_HINGE || !(m->raw_div > 0) || !isfinite(m->sigmoid_scale)) return BOT4_ME_TRANSFORM;
  uint64_t cur = sizeof(bot4_model_t);
  if (!region_ok(m, m->off_nodes, (uint64_t)m->n_nodes * sizeof(bot4_mnode_t), &cur) ||
      !region_ok(m, m->off_value, (uint64_t)m->n_nodes * 8, &cur) ||
      !region_ok(m, m->off_root, ((uint64_t)m->n_trees + 1) * 4, &cur) ||
      !region_ok(m, m->off_group, (uint64_t)m->n_trees * 4, &cur) ||
      !region_ok(m, m->off_depth, (uint64_t)m->n_trees * 4, &cur) ||
      !region_ok(m, m->off_base, (uint64_t)m->n_groups * 8, &cur) ||
      !region_ok(m, m->off_cats, (uint64_t)m->n_cat_words * 4, &cur) ||
      !region_ok(m, m->off_ndepth, (uint64_t)m->n_nodes * 2, &cur) ||
      !region_ok(m, m->off_scratch, (uint64_t)m->scratch_rows * m->n_features * 8, &cur))
    return BOT4_ME_LAYOUT;

  bot4_mnode_t *nodes = REGION(m, off_nodes, bot4_mnode_t);
  const double *value = REGION(m, off_value, double);
  const uint32_t *root = REGION(m, off_root, uint32_t);
  const uint32_t *group = REGION(m, off_group, uint32_t);
  uint32_t *depth = REGION(m, off_depth, uint32_t);
  uint16_t *nd = REGION(m, off_ndepth, uint16_t);
  if (root[0] != 0 || root[m->n_trees] != m->n_nodes) return BOT4_ME_ROOT;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    if (root[t] >= root[t + 1]) {
      if (where) *where = t;
      return BOT4_ME_ROOT;
    }
    if (group[t] >= m->n_groups) {
      if (where) *where = t;
      return BOT4_ME_COUNTS;
    }
  }
  for (uint32_t i = 0; i < m->n_nodes; i++) nd[i] = 0xFFFF;
  uint32_t flags = m->flags & BOT4_MF_FP32, max_depth = 0;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    uint32_t lo = root[t], hi = root[t + 1], tdepth = 0;
    nd[lo] = 0;
    for (uint32_t i = lo; i < hi; i++) {
      if (where) *where = i;
      bot4_mnode_t *n = &nodes[i];
      if (nd[i] == 0xFFFF) return BOT4_ME_SHAPE;
      if (n->meta & BOT4_MN_LEAF) {
        if (!isfinite(value[i])) return BOT4_ME_KIND;
        n->thr = NAN; /* x < NaN is false and DL is clear: the walk stays on the leaf */
        n->meta = BOT4_MN_LEAF;
        n->left = (int32_t)i - 1;
        if (nd[i] > tdepth) tdepth = nd[i];
        continue;
      }
      uint32_t kind = (n->meta & BOT4_MN_KIND) >> BOT4_MN_KIND_SHIFT;
      if ((n->meta & BOT4_MN_FEAT) >= m->n_features) return BOT4_ME_FEATURE;
      if (kind == BOT4_MK_NUM || kind == BOT4_MK_LZERO) {
        if (isnan(n->thr)) return BOT4_ME_KIND;
        if (kind == BOT4_MK_LZERO) flags |= BOT4_MF_SLOW;
      } else if (kind == BOT4_MK_XCAT || kind == BOT4_MK_LCAT) {
        uint32_t off, cnt;
        cat_range(n, &off, &cnt);
        if ((uint64_t)off + cnt > m->n_cat_words) return BOT4_ME_CATS;
        flags |= BOT4_MF_SLOW;
      } else {
        return BOT4_ME_KIND;
      }
      if (n->left <= (int32_t)i || (uint32_t)n->left + 1 >= hi) return BOT4_ME_CHILD;
      uint32_t d = (uint32_t)nd[i] + 1;
      if (d > BOT4_MODEL_MAX_DEPTH) return BOT4_ME_DEPTH;
      for (uint32_t c = (uint32_t)n->left; c <= (uint32_t)n->left + 1; c++) {
        if (nd[c] != 0xFFFF) return BOT4_ME_SHAPE;
        nd[c] = (uint16_t)d;
      }
    }
    depth[t] = tdepth;
    if (tdepth > max_depth) max_depth = tdepth;
  }
  if (where) *where = -1;
  m->max_depth = max_depth;
  m->flags = flags;
  if (keys_build(m)) m->flags |= BOT4_MF_KEYS;
  m->magic = BOT4_MODEL_READY;
  return 0;
}

BOT4_API uint32_t bot4_model_outputs(const bot4_model_t *m, uint32_t raw) {
  return (!raw && m->transform == BOT4_MT_ARGMAX) ? 1 : m->n_groups;
}

/* The next node for the slow kinds (categorical, zero-as-missing). */
static __attribute__((noinline)) uint32_t next_slow(const bot4_model_t *m, const bot4_mnode_t *n, double x) {
  uint32_t left = (uint32_t)n->left;
  uint32_t kind = (n->meta & BOT4_MN_KIND) >> BOT4_MN_KIND_SHIFT;
  uint32_t dl = (n->meta >> BOT4_MN_DL_SHIFT) & 1;
  const uint32_t *cats = CREGION(m, off_cats, uint32_t);
  uint32_t off, cnt;
  switch (kind) {
  case BOT4_MK_XCAT: {
    /* XGBoost: missing -> default; a category that is negative, >= 2^24 or past the set's words
     * goes left; one in the set goes right. The category is the float32 value truncated. */
    if (x != x) return left + 1 - dl;
    float f = (float)x;
    if (!(f >= 0.0f) || f >= 16777216.0f) return left;
    uint32_t c = (uint32_t)f;
    cat_range(n, &off, &cnt);
    if ((c >> 5) >= cnt) return left;
    return left + ((cats[off + (c >> 5)] >> (c & 31)) & 1);
  }
  case BOT4_MK_LCAT: {
    /* LightGBM: NaN and negative (int)x go right; (int)x in the set goes left. */
    if (x != x || x <= -1.0 || x >= 2147483648.0) return left + 1;
    uint32_t c = (uint32_t)(int32_t)x;
    cat_range(n, &off, &cnt);
    if ((c >> 5) >= cnt) return left + 1;
    return left + 1 - ((cats[off + (c >> 5)] >> (c & 31)) & 1);
  }
  default: { /* BOT4_MK_LZERO: NaN counts as 0, and |x| <= kZeroThreshold (1e-35f) is missing */
    if (x != x) x = 0.0;
    if (x >= -(double)1e-35f && x <= (double)1e-35f) return left + 1 - dl;
    return left + 1 - (x < n->thr);
  }
  }
}

M_INLINE uint32_t step(const bot4_model_t *m, const bot4_mnode_t *nodes, uint32_t j, const double *x, const int slow) {
  const bot4_mnode_t *n = &nodes[j];
  uint32_t mt = n->meta;
  double v = x[mt & BOT4_MN_FEAT];
  if (slow && BOT4_UNLIKELY(mt & BOT4_MN_KIND)) return next_slow(m, n, v);
  uint32_t gl = (uint32_t)(v < n->thr) | (((mt >> BOT4_MN_DL_SHIFT) & 1) & (uint32_t)(v != v));
  return (uint32_t)n->left + 1 - gl;
}

M_INLINE void add_leaf(double *a, double v, const int fp32) {
  if (fp32)
    *a = (double)((float)*a + (float)v);
  else
    *a += v;
}

/* Walks B rows (row i at x + i * stride) through every tree; acc[i * G + g] gets the sums. */
M_INLINE void walk(const bot4_model_t *m, const double *x, uint64_t stride, double *acc, const int B, const int slow,
                   const int fp32) {
  const bot4_mnode_t *nodes = CREGION(m, off_nodes, bot4_mnode_t);
  const double *value = CREGION(m, off_value, double);
  const uint32_t *root = CREGION(m, off_root, uint32_t);
  const uint32_t *group = CREGION(m, off_group, uint32_t);
  const uint32_t *depth = CREGION(m, off_depth, uint32_t);
  const uint32_t G = m->n_groups, T = m->n_trees;
  uint32_t j[BOT4_MODEL_BLOCK];
  for (uint32_t t = 0; t < T; t++) {
    for (int i = 0; i < B; i++) j[i] = root[t];
    for (uint32_t d = depth[t]; d > 0; d--)
      for (int i = 0; i < B; i++) j[i] = step(m, nodes, j[i], x + (uint64_t)i * stride, slow);
    uint32_t g = group[t];
    for (int i = 0; i < B; i++) add_leaf(&acc[(uint32_t)i * G + g], value[j[i]], fp32);
  }
}

/* One row through BOT4_MODEL_BLOCK trees at a time: independent descents in flight together
 * (leaves absorb, so the group walks its deepest tree's depth); sums still in tree order. */
M_INLINE void walk_trees(const bot4_model_t *m, const double *x, double *acc, const int slow, const int fp32) {
  const bot4_mnode_t *nodes = CREGION(m, off_nodes, bot4_mnode_t);
  const double *value = CREGION(m, off_value, double);
  const uint32_t *root = CREGION(m, off_root, uint32_t);
  const uint32_t *group = CREGION(m, off_group, uint32_t);
  const uint32_t *depth = CREGION(m, off_depth, uint32_t);
  const uint32_t T = m->n_trees;
  enum { K = BOT4_MODEL_BLOCK };
  uint32_t t = 0;
  for (; t + K <= T; t += K) {
    uint32_t j[K], D = 0;
    for (int k = 0; k < K; k++) {
      j[k] = root[t + k];
      D = depth[t + k] > D ? depth[t + k] : D;
    }
    for (uint32_t d = D; d > 0; d--)
      for (int k = 0; k < K; k++) j[k] = step(m, nodes, j[k], x, slow);
    for (int k = 0; k < K; k++) add_leaf(&acc[group[t + k]], value[j[k]], fp32);
  }
  for (; t < T; t++) {
    uint32_t jj = root[t];
    for (uint32_t d = depth[t]; d > 0; d--) jj = step(m, nodes, jj, x, slow);
    add_leaf(&acc[group[t]], value[jj], fp32);
  }
}

static void finish(const bot4_model_t *m, const double *acc, double *out, uint32_t raw) {
  const uint32_t G = m->n_groups;
  double s[BOT4_MODEL_MAX_GROUPS];
  for (uint32_t g = 0; g < G; g++) s[g] = m->raw_div == 1.0 ? acc[g] : acc[g] / m->raw_div;
  if (raw || m->transform == BOT4_MT_IDENTITY) {
    for (uint32_t g = 0; g < G; g++) out[g] = s[g];
    return;
  }
  switch (m->transform) {
  case BOT4_MT_SIGMOID:
    for (uint32_t g = 0; g < G; g++) out[g] = 1.0 / (1.0 + exp(-m->sigmoid_scale * s[g]));
    break;
  case BOT4_MT_EXP:
    for (uint32_t g = 0; g < G; g++) out[g] = exp(s[g]);
    break;
  case BOT4_MT_HINGE:
    for (uint32_t g = 0; g < G; g++) out[g] = s[g] > 0.0 ? 1.0 : 0.0;
    break;
  case BOT4_MT_SOFTMAX: {
    double mx = s[0], sum = 0.0;
    for (uint32_t g = 1; g < G; g++) mx = s[g] > mx ? s[g] : mx;
    for (uint32_t g = 0; g < G; g++) sum += (out[g] = exp(s[g] - mx));
    for (uint32_t g = 0; g < G; g++) out[g] /= sum;
    break;
  }
  default: { /* ARGMAX: first maximum, as XGBoost's multi:softmax */
    uint32_t best = 0;
    for (uint32_t g = 1; g < G; g++)
      if (s[g] > s[best]) best = g;
    out[0] = (double)best;
  }
  }
}


/* ---- predictions on the key layout ---- */

#define KEYS_BUF 8192 /* row keys per block, on the stack (32 KiB) */
#define KEYS_ACC 4096 /* float32 sums per block */

static void keys_predict(const bot4_model_t *m, const double *x, uint64_t n, uint64_t stride, const uint32_t *gather,
                         double *out, uint32_t raw) {
  const uint32_t F = m->n_features, G = m->n_groups, O = bot4_model_outputs(m, raw);
  const double *base = CREGION(m, off_base, double);
  uint32_t xk[KEYS_BUF] __attribute__((aligned(64)));
  float acc[KEYS_ACC];
  double sum[BOT4_MODEL_KEYS_MAX_GROUPS];
  if (n == 1) { /* scalar steps only: the unsigned keys */
    keys_row(x, gather, F, xk, NULL);
    for (uint32_t g = 0; g < G; g++) acc[g] = (float)base[g];
    keys_one(m, xk, acc);
    for (uint32_t g = 0; g < G; g++) sum[g] = acc[g];
    finish(m, sum, out, raw);
    return;
  }
#if defined(__AVX2__)
  const uint32_t U = 2 * F + 1, S = 2 * U; /* signed keys for the vector levels, then the unsigned ones */
#else
  const uint32_t U = 0, S = 2 * F + 1; /* the unsigned keys only */
#endif
  uint32_t RB = KEYS_BUF / S;
  if (RB > KEYS_RB) RB = KEYS_RB;
  if (RB * G > KEYS_ACC) RB = KEYS_ACC / G;
  RB &= ~7u; /* >= 8: S <= 1022 and G <= 512 */
  for (uint64_t r = 0; r < n; r += RB) {
    const uint32_t nb = n - r < RB ? (uint32_t)(n - r) : RB, R8 = (nb + 7) & ~7u;
    /* a short last block repeats its last row up to a multiple of 8; those sums are dropped */
#if defined(__AVX2__)
    for (uint32_t i = 0; i < R8; i += 8) {
      const double *rp[8];
      for (uint32_t q = 0; q < 8; q++) rp[q] = x + (r + (i + q < nb ? i + q : nb - 1)) * stride;
      keys_rows8(rp, gather, F, U, xk + (uint64_t)(i / 8) * S * 8);
    }
#else
    for (uint32_t i = 0; i < R8; i++)
      keys_row(x + (r + (i < nb ? i : nb - 1)) * stride, gather, F, xk + (uint64_t)(i / 8) * S * 8 + i % 8, NULL);
#endif
    for (uint32_t i = 0; i < R8; i++)
      for (uint32_t g = 0; g < G; g++) acc[i * G + g] = (float)base[g];
    keys_rows(m, xk, S, U, R8, acc);
    for (uint32_t i = 0; i < nb; i++) {
      for (uint32_t g = 0; g < G; g++) sum[g] = acc[i * G + g];
      finish(m, sum, out + (r + i) * O, raw);
    }
  }
}

M_INLINE void start_acc(const bot4_model_t *m, double *acc, int B) {
  const double *base = CREGION(m, off_base, double);
  const uint32_t G = m->n_groups;
  for (int i = 0; i < B; i++)
    for (uint32_t g = 0; g < G; g++) acc[(uint32_t)i * G + g] = (m->flags & BOT4_MF_FP32) ? (double)(float)base[g] : base[g];
}

M_INLINE void rows(const bot4_model_t *m, const double *x, uint64_t stride, double *out, uint32_t raw, const int B) {
  double acc[BOT4_MODEL_BLOCK * BOT4_MODEL_MAX_GROUPS];
  const uint32_t G = m->n_groups, O = bot4_model_outputs(m, raw);
  start_acc(m, acc, B);
  if (B == 1) {
    switch (m->flags & (BOT4_MF_SLOW | BOT4_MF_FP32)) {
    case 0: walk_trees(m, x, acc, 0, 0); break;
    case BOT4_MF_FP32: walk_trees(m, x, acc, 0, 1); break;
    case BOT4_MF_SLOW: walk_trees(m, x, acc, 1, 0); break;
    default: walk_trees(m, x, acc, 1, 1); break;
    }
  } else {
    switch (m->flags & (BOT4_MF_SLOW | BOT4_MF_FP32)) {
    case 0: walk(m, x, stride, acc, B, 0, 0); break;
    case BOT4_MF_FP32: walk(m, x, stride, acc, B, 0, 1); break;
    case BOT4_MF_SLOW: walk(m, x, stride, acc, B, 1, 0); break;
    default: walk(m, x, stride, acc, B, 1, 1); break;
    }
  }
  for (int i = 0; i < B; i++) finish(m, &acc[(uint32_t)i * G], &out[(uint64_t)i * O], raw);
}

BOT4_API int bot4_model_predict_row(const bot4_model_t *m, const double *x, double *out, uint32_t raw) {
  if (BOT4_UNLIKELY(m->magic != BOT4_MODEL_READY)) return BOT4_ME_NOT_READY;
  if (m->flags & BOT4_MF_KEYS) {
    keys_predict(m, x, 1, 0, NULL, out, raw);
    return 0;
  }
  rows(m, x, 0, out, raw, 1);
  return 0;
}

BOT4_API int bot4_model_predict(bot4_model_t *m, const double *x, uint64_t n, uint64_t stride, const uint32_t *gather,
                                double *out, uint32_t raw) {
  if (BOT4_UNLIKELY(m->magic != BOT4_MODEL_READY)) return BOT4_ME_NOT_READY;
  const uint32_t F = m->n_features, O = bot4_model_outputs(m, raw);
  if (!gather && stride < F && n > 1) return BOT4_ME_ARGS;
  if (m->flags & BOT4_MF_KEYS) { /* reads the rows (and gather) itself: no scratch, no copy */
    keys_predict(m, x, n, stride, gather, out, raw);
    return 0;
  }
  double *scratch = REGION(m, off_scratch, double);
  const uint64_t cap = m->scratch_rows < BOT4_MODEL_BLOCK ? 1 : BOT4_MODEL_BLOCK;
  uint64_t r = 0;
  while (r < n) {
    const uint64_t left = n - r;
    const int B = left >= BOT4_MODEL_BLOCK && (!gather || cap == BOT4_MODEL_BLOCK) ? BOT4_MODEL_BLOCK : 1;
    const double *xb = x + r * stride;
    uint64_t s = stride;
    if (gather) {
      for (int i = 0; i < B; i++)
        for (uint32_t f = 0; f < F; f++) scratch[(uint64_t)i * F + f] = xb[(uint64_t)i * stride + gather[f]];
      xb = scratch;
      s = F;
    }
    if (B == BOT4_MODEL_BLOCK)
      rows(m, xb, s, out + r * O, raw, BOT4_MODEL_BLOCK);
    else
      rows(m, xb, s, out + r * O, raw, 1);
    r += (uint64_t)B;
  }
  return 0;
}

BOT4_API int bot4_layout_model(char *buf, int cap) {
  int n = 0;
  BOT4_L_SIZE(bot4_model_t);
  BOT4_L_SIZE(bot4_mnode_t);
  BOT4_L_OFF(bot4_mnode_t, thr);
  BOT4_L_OFF(bot4_mnode_t, meta);
  BOT4_L_OFF(bot4_mnode_t, left);
  BOT4_L_OFF(bot4_model_t, magic);
  BOT4_L_OFF(bot4_model_t, n_trees);
  BOT4_L_OFF(bot4_model_t, n_nodes);
  BOT4_L_OFF(bot4_model_t, n_features);
  BOT4_L_OFF(bot4_model_t, n_groups);
  BOT4_L_OFF(bot4_model_t, transform);
  BOT4_L_OFF(bot4_model_t, n_cat_words);
  BOT4_L_OFF(bot4_model_t, flags);
  BOT4_L_OFF(bot4_model_t, sigmoid_scale);
  BOT4_L_OFF(bot4_model_t, raw_div);
  BOT4_L_OFF(bot4_model_t, bytes);
  BOT4_L_OFF(bot4_model_t, max_depth);
  BOT4_L_OFF(bot4_model_t, scratch_rows);
  BOT4_L_OFF(bot4_model_t, off_nodes);
  BOT4_L_OFF(bot4_model_t, off_value);
  BOT4_L_OFF(bot4_model_t, off_root);
  BOT4_L_OFF(bot4_model_t, off_group);
  BOT4_L_OFF(bot4_model_t, off_depth);
  BOT4_L_OFF(bot4_model_t, off_base);
  BOT4_L_OFF(bot4_model_t, off_cats);
  BOT4_L_OFF(bot4_model_t, off_ndepth);
  BOT4_L_OFF(bot4_model_t, off_scratch);
  BOT4_L_CONST(BOT4_MODEL_MAGIC);
  BOT4_L_CONST(BOT4_MODEL_READY);
  BOT4_L_CONST(BOT4_MODEL_MAX_GROUPS);
  BOT4_L_CONST(BOT4_MODEL_BLOCK);
  return n;
}
