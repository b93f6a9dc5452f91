/**
 * XGBoost JSON models (Booster.save_model("m.json"), format 1.0 to 3.x) → ModelArrays.
 *
 * Facts of XGBoost's predictor kept here:
 *  - split_conditions are float32; a row value goes left iff (float)x < split; a missing value
 *    (NaN/null) takes default_left. A leaf's value is its split_conditions entry.
 *  - categorical splits (split_type 1): the node's `categories` are the codes that go RIGHT; a
 *    code that is negative, >= 2^24 or outside the set's bitset goes left.
 *  - sums are float32, from the base margin, in tree order; tree_info[t] is its output group.
 *  - base_score (learner_model_param; "[v,...]" since 3.0, a scalar before) is in the
 *    objective's output space: logistic objectives add logit(base_score), poisson/gamma/tweedie
 *    log(base_score), the rest (multi:softprob included) base_score itself.
 */
import { ModelError, NodeKind, type ModelArrays, type Transform } from "../../ffi/model.ts";
import { catBitset, FlatBuilder, foldXgbThreshold, type NodeDesc } from "./flat.ts";

type Link = "identity" | "logit" | "log";
const OBJECTIVES: Record<string, { transform: Transform; link: Link; multi?: boolean }> = {
  "reg:squarederror": { transform: "identity", link: "identity" },
  "reg:linear": { transform: "identity", link: "identity" },
  "reg:squaredlogerror": { transform: "identity", link: "identity" },
  "reg:pseudohubererror": { transform: "identity", link: "identity" },
  "reg:absoluteerror": { transform: "identity", link: "identity" },
  "reg:quantileerror": { transform: "identity", link: "identity" },
  "binary:logitraw": { transform: "identity", link: "logit" },
  "binary:logistic": { transform: "sigmoid", link: "logit" },
  "reg:logistic": { transform: "sigmoid", link: "logit" },
  "binary:hinge": { transform: "hinge", link: "identity" },
  "count:poisson": { transform: "exp", link: "log" },
  "reg:gamma": { transform: "exp", link: "log" },
  "reg:tweedie": { transform: "exp", link: "log" },
  "multi:softprob": { transform: "softmax", link: "identity", multi: true },
  "multi:softmax": { transform: "argmax", link: "identity", multi: true },
};
export const XGBOOST_OBJECTIVES = Object.keys(OBJECTIVES);

type Obj = Record<string, unknown>;

class Reader {
  constructor(readonly file: string | undefined) {}
  fail(reason: string): never {
    throw new ModelError(this.file, reason);
  }
  obj(v: unknown, path: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(`${path} is missing or not an object`);
    return v as Obj;
  }
  str(v: unknown, path: string): string {
    if (typeof v !== "string") this.fail(`${path} is missing or not a string`);
    return v;
  }
  /** Integers written as numbers or as decimal strings (XGBoost writes parameters as strings). */
  int(v: unknown, path: string): number {
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) this.fail(`${path} is missing or not an integer (${JSON.stringify(v)})`);
    return n;
  }
  nums(v: unknown, path: string, len: number): number[] {
    if (!Array.isArray(v)) this.fail(`${path} is missing or not an array`);
    if (len >= 0 && v.length !== len) this.fail(`${path} has ${v.length} entries, tree_param.num_nodes says ${len}`);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === "boolean") v[i] = x ? 1 : 0;
      else if (typeof x !== "number" || !Number.isFinite(x)) this.fail(`${path}[${i}] is not a finite number (${JSON.stringify(x)})`);
    }
    return v as number[];
  }
}

/** base_score as written: "5E-1", "[5E-1]", "[3.3E-1,3.3E-1,3.3E-1]" or a number. */
function baseScores(r: Reader, v: unknown, groups: number): number[] {
  let parts: number[];
  if (typeof v === "number") parts = [v];
  else {
    const s = r.str(v, "learner.learner_model_param.base_score").trim();
    const body = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
    parts = body.split(",").map((p) => (p.trim() === "" ? NaN : Number(p)));
  }
  if (parts.some((p) => !Number.isFinite(p))) r.fail(`learner.learner_model_param.base_score ${JSON.stringify(v)} is not a number or list of numbers`);
  if (parts.length === 1) return Array.from({ length: groups }, () => parts[0]!);
  if (parts.length !== groups) r.fail(`learner.learner_model_param.base_score has ${parts.length} values for ${groups} outputs`);
  return parts;
}

function margin(r: Reader, b: number, link: Link, objective: string): number {
  if (link === "logit") {
    if (!(b > 0 && b < 1)) r.fail(`base_score ${b} must lie in (0, 1) for ${objective}`);
    // XGBoost: -log(1.0f / base_score - 1.0f) in float
    return Math.fround(-Math.log(Math.fround(Math.fround(1 / Math.fround(b)) - 1)));
  }
  if (link === "log") {
    if (!(b > 0)) r.fail(`base_score ${b} must be > 0 for ${objective}`);
    return Math.fround(Math.log(Math.fround(b)));
  }
  return Math.fround(b);
}

export function parseXgboostJson(text: string, file?: string): ModelArrays {
  const r = new Reader(file);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    r.fail(`not valid JSON (${(e as Error).message}); is the file truncated, or a binary/UBJSON model? Save it with save_model("m.json")`);
  }
  const root = r.obj(doc, "the top level");
  const learner = r.obj(root.learner, "learner");
  const lmp = r.obj(learner.learner_model_param, "learner.learner_model_param");
  const objective = r.str(r.obj(learner.objective, "learner.objective").name, "learner.objective.name");
  const spec =
    OBJECTIVES[objective] ?? r.fail(`objective ${objective} is not supported (ranking and survival models are refused); supported: ${XGBOOST_OBJECTIVES.join(", ")}`);
  const numFeature = r.int(lmp.num_feature, "learner.learner_model_param.num_feature");
  if (numFeature < 1 || numFeature > 0xffffff) r.fail(`learner.learner_model_param.num_feature ${numFeature} is out of range`);
  const numClass = r.int(lmp.num_class ?? "0", "learner.learner_model_param.num_class");
  const numTarget = lmp.num_target === undefined ? 1 : r.int(lmp.num_target, "learner.learner_model_param.num_target");
  if (numTarget !== 1) r.fail(`multi-target models (num_target ${numTarget}) are not supported`);
  let groups = 1;
  if (spec.multi) {
    if (numClass < 2 || numClass > 1024) r.fail(`learner.learner_model_param.num_class ${numClass} must be in 2..1024 for ${objective}`);
    groups = numClass;
  } else if (numClass > 1) {
    r.fail(`num_class ${numClass} with the single-output objective ${objective}`);
  }
  const base = baseScores(r, lmp.base_score ?? "0.5", groups).map((b) => margin(r, b, spec.link, objective));

  const gb = r.obj(learner.gradient_booster, "learner.gradient_booster");
  const gbName = r.str(gb.name, "learner.gradient_booster.name");
  if (gbName !== "gbtree") r.fail(`booster ${gbName} is not supported (only gbtree; dart and gblinear are refused)`);
  const model = r.obj(gb.model, "learner.gradient_booster.model");
  const trees: unknown[] = Array.isArray(model.trees) && model.trees.length > 0 ? model.trees : r.fail("learner.gradient_booster.model.trees is missing or empty");
  const treeInfo = r.nums(model.tree_info, "learner.gradient_booster.model.tree_info", trees.length);

  const b = new FlatBuilder(file, numFeature);
  for (let t = 0; t < trees.length; t++) {
    const p = `trees[${t}]`;
    const tr = r.obj(trees[t], p);
    const tp = r.obj(tr.tree_param, `${p}.tree_param`);
    const n = r.int(tp.num_nodes, `${p}.tree_param.num_nodes`);
    if (n < 1) r.fail(`${p}.tree_param.num_nodes is ${n}`);
    const leftC = r.nums(tr.left_children, `${p}.left_children`, n);
    const rightC = r.nums(tr.right_children, `${p}.right_children`, n);
    const feat = r.nums(tr.split_indices, `${p}.split_indices`, n);
    const cond = r.nums(tr.split_conditions, `${p}.split_conditions`, n);
    const dl = r.nums(tr.default_left, `${p}.default_left`, n);
    const stype = tr.split_type === undefined ? null : r.nums(tr.split_type, `${p}.split_type`, n);
    const catSets = new Map<number, Uint32Array>();
    if (stype && stype.some((s) => s === 1)) {
      const cats = r.nums(tr.categories, `${p}.categories`, -1);
      const nodes = r.nums(tr.categories_nodes, `${p}.categories_nodes`, -1);
      const segs = r.nums(tr.categories_segments, `${p}.categories_segments`, -1);
      const sizes = r.nums(tr.categories_sizes, `${p}.categories_sizes`, -1);
      if (segs.length !== nodes.length || sizes.length !== nodes.length) r.fail(`${p}: categories_nodes, _segments and _sizes differ in length`);
      for (let k = 0; k < nodes.length; k++) {
        const s = segs[k]!;
        const z = sizes[k]!;
        if (s < 0 || z < 0 || s + z > cats.length) r.fail(`${p}: category segment ${k} (${s}+${z}) is outside categories (${cats.length})`);
        const codes = cats.slice(s, s + z);
        for (const c of codes) if (!Number.isInteger(c) || c < 0 || c >= 16777216) r.fail(`${p}: category ${c} is not a code in 0..2^24`);
        catSets.set(nodes[k]!, catBitset(codes));
      }
    }
    const group = treeInfo[t]!;
    if (!Number.isInteger(group) || group < 0 || group >= groups) r.fail(`learner.gradient_booster.model.tree_info[${t}] = ${group}, the model has ${groups} output(s)`);
    b.addTree(p, group, n, 0, (id): NodeDesc => {
      const l = leftC[id]!;
      if (l === -1) {
        if (rightC[id] !== -1) r.fail(`${p}: node ${id} has no left child but a right child`);
        return { leaf: true, value: Math.fround(cond[id]!) };
      }
      const st = stype ? stype[id]! : 0;
      if (st === 1) {
        const set = catSets.get(id);
        if (!set) r.fail(`${p}: categorical node ${id} has no category set`);
        return { leaf: false, feature: feat[id]!, thr: 0, defaultLeft: dl[id] === 1, kind: NodeKind.xgbCategorical, cats: set, left: l, right: rightC[id]! };
      }
      if (st !== 0) r.fail(`${p}.split_type[${id}] = ${st} is unknown`);
      return { leaf: false, feature: feat[id]!, thr: foldXgbThreshold(Math.fround(cond[id]!)), defaultLeft: dl[id] === 1, kind: NodeKind.num, left: l, right: rightC[id]! };
    });
  }
  return b.finish({ format: "xgboost", objective, nGroups: groups, transform: spec.transform, sigmoidScale: 1, rawDiv: 1, fp32: true, base });
}
