/** Symbols of c/model.c (tree-ensemble inference). Offsets mirrored from c/model.h. */
import type { LayoutSpec } from "./types.ts";

export const modelSymbols = {
  bot4_model_init: { args: ["ptr", "u64", "ptr"], returns: "i32" },
  bot4_model_predict: { args: ["ptr", "ptr", "u64", "u64", "ptr", "ptr", "u32"], returns: "i32" },
  bot4_model_predict_row: { args: ["ptr", "ptr", "ptr", "u32"], returns: "i32" },
  bot4_model_outputs: { args: ["ptr", "u32"], returns: "u32" },
  bot4_layout_model: { args: ["ptr", "i32"], returns: "i32" },
} as const;

/** bot4_model_t (c/model.h): byte offsets of the header fields. */
export const ModelHeader = {
  bytes: 128,
  magic: 0,
  nTrees: 4,
  nNodes: 8,
  nFeatures: 12,
  nGroups: 16,
  transform: 20,
  nCatWords: 24,
  flags: 28,
  sigmoidScale: 32,
  rawDiv: 40,
  totalBytes: 48,
  maxDepth: 56,
  scratchRows: 60,
  offNodes: 64,
  offValue: 68,
  offRoot: 72,
  offGroup: 76,
  offDepth: 80,
  offBase: 84,
  offCats: 88,
  offNdepth: 92,
  offScratch: 96,
} as const;

/** bot4_mnode_t: 16 bytes, thr f64 at 0, meta u32 at 8, left i32 at 12. */
export const MODEL_NODE_BYTES = 16;

export const ModelConst = {
  MAGIC: 0x4d4f444c,
  READY: 0x52454459,
  MAX_GROUPS: 1024,
  BLOCK: 8,
  FEAT_MASK: 0x00ffffff,
  DL_SHIFT: 24,
  KIND_SHIFT: 25,
  LEAF: 0x80000000,
  FLAG_FP32: 1,
  FLAG_SLOW: 2,
} as const;

/** Node kinds (BOT4_MK_*). */
export const NodeKind = { num: 0, xgbCategorical: 1, lgbCategorical: 2, lgbZeroMissing: 3 } as const;
/** Output transforms (BOT4_MT_*). */
export const TransformCode = { identity: 0, sigmoid: 1, exp: 2, softmax: 3, argmax: 4, hinge: 5 } as const;

/** Error codes of bot4_model_init / predict (BOT4_ME_*), with what each means. */
export const ModelStatus: Record<number, string> = {
  [-1]: "bad magic (buffer not written by the loader)",
  [-2]: "a region lies outside the buffer, misaligned or overlapping",
  [-3]: "tree, group or feature counts out of range",
  [-4]: "tree node ranges are not contiguous or a tree is empty",
  [-5]: "a child index is outside its tree or not after its parent",
  [-6]: "a node has two parents or is unreachable from its tree's root",
  [-7]: "a split feature index is >= the number of features",
  [-8]: "a node kind is unknown, a split threshold is NaN or a leaf value is not finite",
  [-9]: "a category set lies outside the category table",
  [-10]: "a tree is deeper than 4096",
  [-11]: "unknown output transform or bad scale",
  [-12]: "model not initialised",
  [-13]: "bad arguments (row stride shorter than the feature count)",
};

const H = ModelHeader;
export const modelLayouts: LayoutSpec[] = [
  {
    family: "model",
    fn: "bot4_layout_model",
    expected: {
      bot4_model_t: H.bytes,
      bot4_mnode_t: MODEL_NODE_BYTES,
      "bot4_mnode_t.thr": 0,
      "bot4_mnode_t.meta": 8,
      "bot4_mnode_t.left": 12,
      "bot4_model_t.magic": H.magic,
      "bot4_model_t.n_trees": H.nTrees,
      "bot4_model_t.n_nodes": H.nNodes,
      "bot4_model_t.n_features": H.nFeatures,
      "bot4_model_t.n_groups": H.nGroups,
      "bot4_model_t.transform": H.transform,
      "bot4_model_t.n_cat_words": H.nCatWords,
      "bot4_model_t.flags": H.flags,
      "bot4_model_t.sigmoid_scale": H.sigmoidScale,
      "bot4_model_t.raw_div": H.rawDiv,
      "bot4_model_t.bytes": H.totalBytes,
      "bot4_model_t.max_depth": H.maxDepth,
      "bot4_model_t.scratch_rows": H.scratchRows,
      "bot4_model_t.off_nodes": H.offNodes,
      "bot4_model_t.off_value": H.offValue,
      "bot4_model_t.off_root": H.offRoot,
      "bot4_model_t.off_group": H.offGroup,
      "bot4_model_t.off_depth": H.offDepth,
      "bot4_model_t.off_base": H.offBase,
      "bot4_model_t.off_cats": H.offCats,
      "bot4_model_t.off_ndepth": H.offNdepth,
      "bot4_model_t.off_scratch": H.offScratch,
      BOT4_MODEL_MAGIC: ModelConst.MAGIC,
      BOT4_MODEL_READY: ModelConst.READY,
      BOT4_MODEL_MAX_GROUPS: ModelConst.MAX_GROUPS,
      BOT4_MODEL_BLOCK: ModelConst.BLOCK,
    },
  },
];
