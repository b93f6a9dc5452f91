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
  rows(m, x, 0, out, raw, 1);
  return 0;
}

BOT4_API int bot4_model_predict(bot4_model_t *m, const double *x, uint64_t n, uint64_t stride, const uint32_t *gather,
                                double *out, uint32_t raw) {
  if (BOT4_UNLIKELY(m->magic != BOT4_MODEL_READY)) return BOT4_ME_NOT_READY;
  const uint32_t F = m->n_features, O = bot4_model_outputs(m, raw);
  if (!gather && stride < F && n > 1) return BOT4_ME_ARGS;
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
