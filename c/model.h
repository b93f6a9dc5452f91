/*
 * model.h — gradient-boosted tree ensembles (XGBoost, LightGBM) evaluated in C.
 *
 * The model lives in ONE caller-owned buffer (64-byte aligned): a bot4_model_t header, then the
 * regions it names by byte offset. TypeScript (src/ml) parses the model file and writes the
 * regions; bot4_model_init validates every index before any prediction may run and fills the
 * derived fields, so a buffer that passed init can never make a kernel read outside it.
 *
 * Guarantees:
 *  - Nodes are 16 bytes: `go left iff x < thr`. Loaders fold each format's comparison into thr:
 *    XGBoost's `(float)x < t` (t float) is exactly `x < t'` for the smallest double t' with
 *    (float)t' >= t; LightGBM's `x <= t` is exactly `x < nextafter(t, +inf)`. So no per-node
 *    rounding and one compare for both formats.
 *  - Missing (NaN): kind NUM goes to the default child (bit DL). LightGBM's missing type None
 *    (NaN read as 0) is folded at load into DL = (0 < thr); Zero-type missing and categorical
 *    splits are the "slow" kinds, taken on a predicted-not-taken branch.
 *  - Children are adjacent: the right child is left + 1, and every child index is greater than
 *    its parent's (checked), so descent is `j = left + 1 - goleft`, branch-free. Leaves are
 *    absorbing (init rewrites them to thr = NaN, left = self - 1), so a tree is walked for a fixed
 *    count of steps (its depth, computed by init) and rows can be interleaved with no
 *    per-row exit test.
 *  - Accumulation: XGBoost sums in float32 from the base margin in tree order, as XGBoost does
 *    (results agree bit for bit with its own predictions); LightGBM sums in double.
 *  - Threads: predictions only read the model, except gathered/strided input on the node walk,
 *    which is copied into the model's scratch region: one thread per model handle for those calls.
 *    The key layout (below) expands rows on the stack instead.
 */
#ifndef BOT4_MODEL_H
#define BOT4_MODEL_H

#include "bot4.h"

#define BOT4_MODEL_MAGIC 0x4d4f444cu /* "MODL" while being written */
#define BOT4_MODEL_READY 0x52454459u /* "REDY" after bot4_model_init succeeded */
#define BOT4_MODEL_MAX_GROUPS 1024   /* outputs per row (classes) */
#define BOT4_MODEL_MAX_DEPTH 4096
#define BOT4_MODEL_BLOCK 8           /* rows walked together in batch mode */
#define BOT4_MODEL_MAX_FEATURES 0x00FFFFFFu

/* node meta bits */
#define BOT4_MN_FEAT 0x00FFFFFFu
#define BOT4_MN_DL_SHIFT 24
#define BOT4_MN_DL (1u << BOT4_MN_DL_SHIFT)
#define BOT4_MN_KIND_SHIFT 25
#define BOT4_MN_KIND (7u << BOT4_MN_KIND_SHIFT)
#define BOT4_MN_LEAF (1u << 31)

enum {
  BOT4_MK_NUM = 0,   /* x < thr; NaN -> default child */
  BOT4_MK_XCAT = 1,  /* XGBoost categorical: (int)(float)x in set -> right; invalid -> left; NaN -> default */
  BOT4_MK_LCAT = 2,  /* LightGBM categorical: (int)x in set -> left; NaN or negative -> right */
  BOT4_MK_LZERO = 3, /* LightGBM missing type Zero: NaN or |x| <= 1e-35f -> default child */
};

enum {
  BOT4_MT_IDENTITY = 0,
  BOT4_MT_SIGMOID = 1,  /* 1 / (1 + exp(-scale * x)), per output */
  BOT4_MT_EXP = 2,
  BOT4_MT_SOFTMAX = 3,
  BOT4_MT_ARGMAX = 4,   /* XGBoost multi:softmax: the class index, one output per row */
  BOT4_MT_HINGE = 5,    /* XGBoost binary:hinge: 1 if x > 0 else 0 */
};

#define BOT4_MF_FP32 1u /* accumulate in float32 (XGBoost) */
#define BOT4_MF_SLOW 2u /* has categorical / zero-missing nodes (set by init) */
#define BOT4_MF_KEYS 4u /* set by init: the key layout below was built and predictions use it */

/*
 * Key layout (XGBoost models: BOT4_MF_FP32, no slow kinds, n_features <= BOT4_MODEL_KEYS_MAX_FEATURES,
 * n_groups <= BOT4_MODEL_KEYS_MAX_GROUPS, every tree at most BOT4_MODEL_KEYS_MAX_DEPTH deep, every
 * threshold the fold of a finite or -inf float32). Built by init from the validated nodes into the
 * region that starts at the first 64-byte boundary after the scratch region, when the buffer
 * reaches that far (the loader sizes it; a buffer too short just keeps the node walk):
 *   bot4_ktree_t tree[n_trees]                      16 bytes each
 *   bot4_knode_t node[sum over trees of 2^D - 1]    each tree padded to a complete tree of its
 *                                                   depth D, level order: heap index k (root 1,
 *                                                   children 2k, 2k + 1) is the tree's node[k - 1]
 *   float        leaf[sum over trees of 2^D]        leaf values as float32 (XGBoost adds in float)
 *   int32_t      vthr[16 * n_trees]                 per tree, the signed keys (below) of the
 *                                                   thresholds of its nodes 0-14 (levels 0-3; 0
 *                                                   past the tree), for the vector compares
 * A leaf above depth D becomes pass-through nodes that always go left, its value at every leaf
 * below. Comparisons are on 32-bit keys: key(x) = the bits of (float)x + 0.0f mapped so that
 * unsigned order is float order (-0 folded into +0), so `(float)x < t` is `key(x) < key(t)`, one
 * integer compare. Each row is expanded once into 2F + 1 keys: slot f for nodes whose missing
 * value goes right (NaN -> 0xFFFFFFFF, above every threshold key), slot F + f for nodes whose
 * missing value goes left (NaN -> 0, below every key), slot 2F = 0 for the pass-through nodes
 * (threshold key 1). A node stores key(t) - 1 (every threshold key is >= 1), so the scalar step
 * is k -> 2k + (thr < key(x)): one compare and an add-with-carry. With AVX2, 8 rows are compared
 * at once on their signed keys (key ^ 0x80000000, so signed order is float order, for the signed
 * vector compare), kept beside the unsigned ones. Same decisions, same float32 sums in tree
 * order: bit-identical results.
 */
#define BOT4_MODEL_KEYS_MAX_DEPTH 10
#define BOT4_MODEL_KEYS_MAX_FEATURES 255
#define BOT4_MODEL_KEYS_MAX_GROUPS 512

typedef struct {
  uint32_t thr; /* key of the float32 threshold minus 1: go right iff thr < key(x) */
  uint32_t off; /* byte offset of the tested slot in a group of 8 expanded rows: 32 x its index into the 2F + 1 keys */
} bot4_knode_t;

typedef struct {
  uint32_t node;  /* index of the tree's root in node[] */
  uint32_t depth; /* D: steps from the root to a leaf */
  int32_t lbias;  /* leaf[lbias + k] is the value at heap index k (2^D <= k < 2^(D+1)) */
  uint32_t group; /* output group */
} bot4_ktree_t;

/* Errors of init and predict. */
enum {
  BOT4_ME_MAGIC = -1,
  BOT4_ME_LAYOUT = -2,    /* a region outside the buffer, misaligned or overlapping */
  BOT4_ME_COUNTS = -3,    /* zero/too many trees, groups, features */
  BOT4_ME_ROOT = -4,      /* tree ranges not contiguous or empty */
  BOT4_ME_CHILD = -5,     /* child index out of its tree or not after its parent */
  BOT4_ME_SHAPE = -6,     /* a node with two parents, or unreachable */
  BOT4_ME_FEATURE = -7,   /* feature index >= n_features */
  BOT4_ME_KIND = -8,
  BOT4_ME_CATS = -9,      /* category set outside the cat region */
  BOT4_ME_DEPTH = -10,
  BOT4_ME_TRANSFORM = -11,
  BOT4_ME_NOT_READY = -12,
  BOT4_ME_ARGS = -13,
};

typedef struct {
  double thr;    /* categorical kinds: two u32 (word offset into cats, word count) */
  uint32_t meta; /* feature | DL | kind | LEAF */
  int32_t left;  /* absolute index of the left child; right child = left + 1 */
} bot4_mnode_t;

typedef struct BOT4_ALIGNED(64) {
  uint32_t magic;
  uint32_t n_trees;
  uint32_t n_nodes;
  uint32_t n_features;
  uint32_t n_groups;    /* raw outputs per row */
  uint32_t transform;
  uint32_t n_cat_words;
  uint32_t flags;
  double sigmoid_scale;
  double raw_div;       /* raw sums are divided by it (LightGBM average_output); 1 otherwise */
  uint64_t bytes;       /* size of the whole buffer */
  uint32_t max_depth;   /* set by init */
  uint32_t scratch_rows;/* rows the scratch region holds (gathered input) */
  /* byte offsets from the header start */
  uint32_t off_nodes;   /* bot4_mnode_t[n_nodes] */
  uint32_t off_value;   /* double[n_nodes]: leaf values (read only at leaves) */
  uint32_t off_root;    /* uint32[n_trees + 1]: tree t owns nodes [root[t], root[t+1]) */
  uint32_t off_group;   /* uint32[n_trees]: output group of each tree */
  uint32_t off_depth;   /* uint32[n_trees]: steps to reach any leaf (set by init) */
  uint32_t off_base;    /* double[n_groups]: base margin */
  uint32_t off_cats;    /* uint32[n_cat_words]: category bitsets */
  uint32_t off_ndepth;  /* uint16[n_nodes]: init's scratch for the shape check */
  uint32_t off_scratch; /* double[scratch_rows * n_features] */
  uint32_t pad_;
} bot4_model_t;

static_assert(sizeof(bot4_mnode_t) == 16, "node is 16 bytes");
static_assert(sizeof(bot4_knode_t) == 8, "key node is 8 bytes");
static_assert(sizeof(bot4_ktree_t) == 16, "key tree record is 16 bytes");
static_assert(sizeof(bot4_model_t) == 128, "header is two cache lines");

/* Validates the buffer written by the loader and fills max_depth, depth[], flags; rewrites leaves
 * to be absorbing. Returns 0 or a BOT4_ME_* code; `where` gets the offending tree or node. */
BOT4_API int bot4_model_init(bot4_model_t *m, uint64_t bytes, int64_t *where);

/* Predicts n rows. Row r, feature f is x[r * stride + (gather ? gather[f] : f)]; the caller
 * guarantees every such index is inside x (ffi/model.ts checks it). out gets
 * bot4_model_outputs(m, raw) doubles per row. Returns 0 or a BOT4_ME_* code. */
BOT4_API int bot4_model_predict(bot4_model_t *m, const double *x, uint64_t n, uint64_t stride,
                                const uint32_t *gather, double *out, uint32_t raw);
/* One contiguous row, no options: the lowest-latency entry. */
BOT4_API int bot4_model_predict_row(const bot4_model_t *m, const double *x, double *out, uint32_t raw);
BOT4_API uint32_t bot4_model_outputs(const bot4_model_t *m, uint32_t raw);

BOT4_API int bot4_layout_model(char *buf, int cap);

#endif
