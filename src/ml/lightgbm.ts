/**
 * LightGBM text models (Booster.save_model("m.txt")) → ModelArrays.
 *
 * Facts of LightGBM's predictor kept here:
 *  - a child < 0 is leaf ~child; decision_type bit 0 = categorical, bit 1 = default left,
 *    bits 2-3 = missing type (0 None, 1 Zero, 2 NaN).
 *  - numerical: with missing type other than NaN a NaN reads as 0; Zero-type sends |x| <= 1e-35
 *    (and NaN) to the default child, NaN-type sends NaN there; otherwise left iff x <= threshold
 *    (double).
 *  - categorical: threshold names a bitset in cat_threshold[cat_boundaries[i] ..
 *    cat_boundaries[i+1]); (int)x in it goes left, NaN or a negative code right.
 *  - scores are double sums of leaf values (shrinkage already applied); tree t belongs to class
 *    t % num_tree_per_iteration; average_output divides by the number of iterations.
 */
import { ModelError, NodeKind, type ModelArrays, type Transform } from "../../ffi/model.ts";
import { FlatBuilder, foldLgbThreshold, type NodeDesc } from "./flat.ts";

const IDENTITY = new Set(["regression", "regression_l2", "regression_l1", "l2", "l1", "huber", "fair", "quantile", "mape", "mean_squared_error", "mse", "mae"]);
const EXP = new Set(["poisson", "gamma", "tweedie"]);
export const LIGHTGBM_OBJECTIVES = [...IDENTITY, ...EXP, "binary", "multiclass", "multiclassova", "cross_entropy", "xentropy"];

function objectiveOf(fail: (r: string) => never, line: string, numClass: number): { transform: Transform; scale: number; groups: number } {
  const [name = "", ...opts] = line.trim().split(/\s+/);
  const opt = (k: string) => opts.find((o) => o.startsWith(`${k}:`))?.slice(k.length + 1);
  const scale = opt("sigmoid") === undefined ? 1 : Number(opt("sigmoid"));
  if (!Number.isFinite(scale)) fail(`objective ${line}: sigmoid ${opt("sigmoid")} is not a number`);
  if (opts.includes("sqrt")) fail(`objective ${line}: the sqrt label transform is not supported`);
  if (IDENTITY.has(name)) return { transform: "identity", scale, groups: 1 };
  if (EXP.has(name)) return { transform: "exp", scale, groups: 1 };
  if (name === "binary" || name === "cross_entropy" || name === "xentropy") return { transform: "sigmoid", scale, groups: 1 };
  if (name === "multiclass" || name === "multiclassova") {
    if (numClass < 2 || numClass > 1024) fail(`num_class ${numClass} must be in 2..1024 for ${name}`);
    return { transform: name === "multiclass" ? "softmax" : "sigmoid", scale, groups: numClass };
  }
  return fail(`objective ${name} is not supported (ranking and custom objectives are refused); supported: ${LIGHTGBM_OBJECTIVES.join(", ")}`);
}

export function parseLightgbmText(text: string, file?: string): ModelArrays {
  const fail = (reason: string): never => {
    throw new ModelError(file, reason);
  };
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== "tree") fail('not a LightGBM text model (the first line is not "tree")');
  const head = new Map<string, string>();
  let i = 1;
  for (; i < lines.length && !lines[i]!.startsWith("Tree="); i++) {
    const l = lines[i]!;
    const eq = l.indexOf("=");
    if (eq > 0) head.set(l.slice(0, eq), l.slice(eq + 1));
    else if (l.trim() !== "") head.set(l.trim(), "");
  }
  const need = (k: string) => head.get(k) ?? fail(`header field ${k} is missing`);
  const int = (v: string, what: string) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n)) fail(`${what} = ${JSON.stringify(v)} is not an integer`);
    return n;
  };
  const numClass = int(need("num_class"), "num_class");
  const perIter = int(need("num_tree_per_iteration"), "num_tree_per_iteration");
  const nFeatures = int(need("max_feature_idx"), "max_feature_idx") + 1;
  if (nFeatures < 1 || nFeatures > 0xffffff) fail(`max_feature_idx ${nFeatures - 1} is out of range`);
  const obj = objectiveOf(fail, need("objective"), numClass);
  if (perIter !== obj.groups) fail(`num_tree_per_iteration ${perIter} does not match ${obj.groups} output(s) of objective ${need("objective")}`);
  if (!text.includes("\nend of trees")) fail('truncated: the "end of trees" line is missing');

  const b = new FlatBuilder(file, nFeatures);
  while (i < lines.length && lines[i]!.startsWith("Tree=")) {
    const label = lines[i]!.trim();
    const f = new Map<string, string>();
    for (i++; i < lines.length && lines[i]!.trim() !== "" && !lines[i]!.startsWith("Tree=") && !lines[i]!.startsWith("end of trees"); i++) {
      const l = lines[i]!;
      const eq = l.indexOf("=");
      if (eq > 0) f.set(l.slice(0, eq), l.slice(eq + 1));
    }
    while (i < lines.length && lines[i]!.trim() === "") i++;
    const field = (k: string) => f.get(k) ?? fail(`${label}: field ${k} is missing`);
    const arr = (k: string, len: number, isInt: boolean) => {
      const parts = field(k).trim().split(/\s+/);
      if (parts.length !== len) fail(`${label}: ${k} has ${parts.length} values, expected ${len}`);
      return parts.map((p, j) => {
        const v = Number(p);
        if (p === "" || !Number.isFinite(v) || (isInt && !Number.isInteger(v))) fail(`${label}: ${k}[${j}] = ${JSON.stringify(p)} is not a ${isInt ? "integer" : "finite number"}`);
        return v;
      });
    };
    if ((f.get("is_linear") ?? "0").trim() !== "0") fail(`${label}: linear trees (linear_tree=true) are not supported`);
    const leaves = int(field("num_leaves"), `${label}: num_leaves`);
    if (leaves < 1) fail(`${label}: num_leaves ${leaves}`);
    const leafValue = arr("leaf_value", leaves, false);
    const group = b.trees % perIter;
    if (leaves === 1) {
      b.addTree(label, group, 1, 0, () => ({ leaf: true, value: leafValue[0]! }));
      continue;
    }
    const inner = leaves - 1;
    const feat = arr("split_feature", inner, true);
    const thr = arr("threshold", inner, false);
    const dt = arr("decision_type", inner, true);
    const lc = arr("left_child", inner, true);
    const rc = arr("right_child", inner, true);
    const numCat = int(f.get("num_cat") ?? "0", `${label}: num_cat`);
    const bounds = numCat > 0 ? arr("cat_boundaries", numCat + 1, true) : [];
    const catWords = numCat > 0 ? arr("cat_threshold", bounds[numCat]!, true) : [];
    // own numbering: internal node k is id k, leaf k is id inner + k
    const id = (n: number, child: number) => {
      if (child >= inner || ~child >= leaves) fail(`${label}: node ${n} has child ${child}, outside its ${inner} nodes and ${leaves} leaves`);
      return child < 0 ? inner + ~child : child;
    };
    b.addTree(label, group, inner + leaves, 0, (n): NodeDesc => {
      if (n >= inner) return { leaf: true, value: leafValue[n - inner]! };
      const d = dt[n]!;
      const missing = (d >> 2) & 3;
      const defaultLeft = (d & 2) !== 0;
      const left = id(n, lc[n]!);
      const right = id(n, rc[n]!);
      if (d & 1) {
        const k = thr[n]!;
        if (!Number.isInteger(k) || k < 0 || k >= numCat) fail(`${label}: categorical node ${n} names category set ${k}, the tree has ${numCat}`);
        const lo = bounds[k]!;
        const hi = bounds[k + 1]!;
        if (!(lo >= 0 && lo <= hi && hi <= catWords.length)) fail(`${label}: cat_boundaries[${k}..${k + 1}] = ${lo}..${hi} is outside cat_threshold`);
        const words = Uint32Array.from(catWords.slice(lo, hi));
        return { leaf: false, feature: feat[n]!, thr: 0, defaultLeft, kind: NodeKind.lgbCategorical, cats: words, left, right };
      }
      if (missing === 3) fail(`${label}: decision_type ${d} of node ${n} has an unknown missing type`);
      const t = foldLgbThreshold(thr[n]!);
      if (missing === 1) return { leaf: false, feature: feat[n]!, thr: t, defaultLeft, kind: NodeKind.lgbZeroMissing, left, right };
      // None: NaN reads as 0, so its direction is fixed: fold it into the default direction
      const dl = missing === 0 ? 0 < t : defaultLeft;
      return { leaf: false, feature: feat[n]!, thr: t, defaultLeft: dl, kind: NodeKind.num, left, right };
    });
  }
  if (b.trees === 0) fail("the model has no trees");
  if (b.trees % perIter !== 0) fail(`${b.trees} trees is not a multiple of num_tree_per_iteration ${perIter}`);
  const rawDiv = head.has("average_output") ? b.trees / perIter : 1;
  return b.finish({ format: "lightgbm", objective: need("objective").trim(), nGroups: obj.groups, transform: obj.transform, sigmoidScale: obj.scale, rawDiv, fp32: false, base: new Array(obj.groups).fill(0) });
}
