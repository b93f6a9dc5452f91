/**
 * Tree-ensemble inference (c/model.c through ffi/model.ts): a 100-tree, depth-6 XGBoost model
 * (generated here from a seeded RNG as a valid save_model JSON, 20 features, ~5 % missing
 * values), single-row latency including the FFI call (median, p99) and batched rows/s, on the key
 * layout (c/model.h). References in the same run: a plain-TypeScript walker over the same
 * flattened arrays (src/ml/flat.ts), and C's node walk over them (the model built without the
 * key layout).
 * XGBoost's own predictor cannot run here (no Python/XGBoost on the machine), so it is not timed.
 * Goals: <= 2 us per single-row prediction, >= 2 M rows/s batched.
 */
import { Model, modelFromText, parseModel, predictReference } from "../src/ml/index.ts";
import { do_not_optimize, done, figure, micro, percentiles, perItem, section } from "./harness.ts";

const TREES = 100;
const DEPTH = 6;
const FEATURES = 20;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A complete depth-6 XGBoost tree per round, thresholds drawn from N(0,1)-ish values. */
function syntheticXgboost(seed: number): string {
  const next = rng(seed);
  const trees = [];
  for (let t = 0; t < TREES; t++) {
    const n = 2 ** (DEPTH + 1) - 1;
    const inner = 2 ** DEPTH - 1;
    const tree = { left_children: [] as number[], right_children: [] as number[], split_indices: [] as number[], split_conditions: [] as number[], default_left: [] as number[], split_type: [] as number[] };
    for (let i = 0; i < n; i++) {
      const leaf = i >= inner;
      tree.left_children.push(leaf ? -1 : 2 * i + 1);
      tree.right_children.push(leaf ? -1 : 2 * i + 2);
      tree.split_indices.push(leaf ? 0 : Math.floor(next() * FEATURES));
      tree.split_conditions.push(Math.fround(leaf ? (next() - 0.5) * 0.2 : (next() + next() + next() - 1.5) * 1.5));
      tree.default_left.push(next() < 0.5 ? 1 : 0);
      tree.split_type.push(0);
    }
    trees.push({ ...tree, id: t, tree_param: { num_nodes: String(n), num_feature: String(FEATURES), num_deleted: "0", size_leaf_vector: "1" }, categories: [], categories_nodes: [], categories_segments: [], categories_sizes: [] });
  }
  return JSON.stringify({
    version: [3, 1, 1],
    learner: {
      attributes: {},
      feature_names: [],
      feature_types: [],
      learner_model_param: { base_score: "[5E-1]", boost_from_average: "1", num_class: "0", num_feature: String(FEATURES), num_target: "1" },
      objective: { name: "binary:logistic", reg_loss_param: { scale_pos_weight: "1" } },
      gradient_booster: { name: "gbtree", model: { gbtree_model_param: { num_parallel_tree: "1", num_trees: String(TREES) }, tree_info: new Array(TREES).fill(0), iteration_indptr: Array.from({ length: TREES + 1 }, (_, i) => i), trees, cats: { enc: [], feature_segments: [], sorted_idx: [] } } },
    },
  });
}

const text = syntheticXgboost(42);
const arrays = parseModel(text);
const model: Model = modelFromText(text);
const N = 1 << 16;
const next = rng(7);
const rows = Float64Array.from({ length: N * FEATURES }, () => (next() < 0.05 ? NaN : (next() + next() + next() - 1.5) * 1.5));
const out = new Float64Array(N);
const ref = new Float64Array(N);
const acc = new Float64Array(1);

// same answers before timing anything
model.predictBatch(rows, N, out);
for (let r = 0; r < N; r++) predictReference(arrays, rows, r * FEATURES, ref, r, false, acc);
for (let r = 0; r < N; r++) if (out[r] !== ref[r]) throw new Error(`row ${r}: C ${out[r]} vs TS ${ref[r]}`);

section(`XGBoost binary:logistic, ${TREES} trees of depth ${DEPTH} (${model.nNodes} nodes), ${FEATURES} features`);
const ROWS_1 = 1024;
const rowViews = Array.from({ length: ROWS_1 }, (_, r) => rows.subarray(r * FEATURES, (r + 1) * FEATURES));
const one = new Float64Array(1);
let k = 0;
if (!model.keyLayout) throw new Error("the bench model should run on the key layout");
const cRow = await micro("predict_row", () => {
  model.predictRow(rowViews[k++ & (ROWS_1 - 1)]!, one);
  return one[0];
});
// indicator-state style: rows read in place through a gather index, address bound once
const gather = Uint32Array.from({ length: FEATURES }, (_, f) => FEATURES - 1 - f);
const bound = model.bind(rows, gather);
await micro("predict_row_gathered", () => {
  bound.predictAt((k++ & (ROWS_1 - 1)) * FEATURES, one);
  return one[0];
});
const tsRow = await micro("ts_reference_row", () => {
  predictReference(arrays, rows, (k++ & (ROWS_1 - 1)) * FEATURES, one, 0, false, acc);
  return one[0];
});
figure("row_speedup_vs_ts", tsRow / cRow, "x", "goal <= 2000 ns per row");

// the key layout and C's node walk over the same trees (the model built without the key layout),
// timed alternately so both see the same machine: medians of 31 runs each
const walk = new Model(arrays, undefined, { keyLayout: false });
const tKeys: number[] = [];
const tWalk: number[] = [];
for (let r = 0; r < 32; r++) {
  const t0 = performance.now();
  model.predictBatch(rows, N, out);
  const t1 = performance.now();
  walk.predictBatch(rows, N, ref);
  const t2 = performance.now();
  if (r > 0) {
    tKeys.push(((t1 - t0) * 1e6) / N);
    tWalk.push(((t2 - t1) * 1e6) / N);
  }
}
for (let r = 0; r < N; r++) if (out[r] !== ref[r]) throw new Error(`row ${r}: key layout ${out[r]} vs node walk ${ref[r]}`);
const perRow = percentiles(tKeys).p50;
const walkPerRow = percentiles(tWalk).p50;
const tsPerRow = perItem(() => {
  for (let r = 0; r < N; r++) predictReference(arrays, rows, r * FEATURES, ref, r, false, acc);
}, N, 7);
do_not_optimize(out[0]! + ref[0]!);
figure("batch_ns_per_row", perRow, "ns");
figure("batch_rows_per_s", 1e9 / perRow, "rows/s", "goal >= 2e6");
figure("ts_reference_batch_rows_per_s", 1e9 / tsPerRow, "rows/s");
figure("batch_speedup_vs_ts", tsPerRow / perRow, "x");
figure("node_walk_batch_rows_per_s", 1e9 / walkPerRow, "rows/s", "C without the key layout, same run");
figure("batch_speedup_vs_node_walk", walkPerRow / perRow, "x");
done();
