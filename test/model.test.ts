/**
 * Tree-ensemble inference (c/model.c through ffi/model.ts, loaders in src/ml):
 *  - every XGBoost case of ../shared/data/xgboost-models matches XGBoost's own predictions, raw and
 *    transformed, to 1e-5 (the largest error is printed), and the LightGBM multiclass model its
 *    true raw scores and probabilities;
 *  - C agrees with the plain-TypeScript walker on random rows (NaN, negative, huge, non-integer
 *    categories), row-at-a-time, batched, strided and gathered;
 *  - the threshold folding is exact; malformed, truncated, unsupported and structurally broken
 *    models and bad inputs are refused with a ModelError naming the file and the reason.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/model.ts";
import { UsageError } from "../src/cli/args.ts";
import { foldLgbThreshold, foldXgbThreshold, nextUp } from "../src/ml/flat.ts";
import { inputRows, loadModel, Model, ModelError, modelFromText, parseModel, predictReference, type ModelArrays } from "../src/ml/index.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const XGB = `${DATA}xgboost-models/`;
const LGB = `${DATA}lightgbm-models/`;
const hasXgb = existsSync(XGB);
const hasLgb = existsSync(LGB);
if (!hasXgb) console.warn(`model.test: ${XGB} is absent; XGBoost fixture cases are skipped`);
if (!hasLgb) console.warn(`model.test: ${LGB} is absent; LightGBM fixture cases are skipped`);

const CASES = [
  "regression",
  "regression_missing",
  "binary_logistic",
  "binary_logistic_missing",
  "multiclass",
  "multiclass_missing",
  "categorical",
  "categorical_binary",
  "many_trees",
  "single_tree",
];

/** Deterministic xorshift in [0, 1). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const orig = process.stdout.write.bind(process.stdout);
  let out = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = orig;
  }
}

async function refusal(p: () => unknown): Promise<ModelError> {
  try {
    await p();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error("expected a ModelError");
}

describe.skipIf(!hasXgb)("XGBoost fixtures", () => {
  let worstRaw = 0;
  let worstOut = 0;
  for (const c of CASES) {
    test(c, async () => {
      const file = `${XGB}gbtree_${c}.model.json`;
      const model = await loadModel(file);
      const arrays = parseModel(await Bun.file(file).text());
      const { rows, n } = inputRows(await Bun.file(`${XGB}gbtree_${c}.input.json`).json(), model.nFeatures);
      const exp = await Bun.file(`${XGB}gbtree_${c}.expected.json`).json();
      expect(model.objective).toBe(exp.objective);
      for (const raw of [true, false]) {
        const O = model.outputsFor(raw);
        const batch = new Float64Array(n * O);
        model.predictBatch(rows, n, batch, raw);
        const want = ((raw ? exp.predictions : exp.predictions_transformed) as (number | number[])[]).flat();
        expect(want.length).toBe(n * O);
        const one = new Float64Array(O);
        const ref = new Float64Array(O);
        const acc = new Float64Array(model.nGroups);
        for (let r = 0; r < n; r++) {
          model.predictRow(rows.subarray(r * model.nFeatures), one, raw);
          predictReference(arrays, rows, r * model.nFeatures, ref, 0, raw, acc);
          for (let k = 0; k < O; k++) {
            const err = Math.abs(batch[r * O + k]! - want[r * O + k]!);
            if (raw) worstRaw = Math.max(worstRaw, err);
            else worstOut = Math.max(worstOut, err);
            expect(err).toBeLessThanOrEqual(1e-5);
            expect(one[k]).toBe(batch[r * O + k]!);
            expect(ref[k]).toBe(batch[r * O + k]!);
          }
        }
      }
    });
  }
  test("largest errors", () => {
    console.log(`model.test: XGBoost fixtures, largest |error| raw ${worstRaw.toExponential(2)}, transformed ${worstOut.toExponential(2)}`);
    expect(worstRaw).toBeLessThanOrEqual(1e-5);
    expect(worstOut).toBeLessThanOrEqual(1e-5);
  });

  test("C agrees with the TypeScript walker on random rows, batched, strided and gathered", async () => {
    const next = rng(7);
    for (const c of CASES) {
      const text = await Bun.file(`${XGB}gbtree_${c}.model.json`).text();
      const a = parseModel(text);
      const m = new Model(a);
      const F = m.nFeatures;
      const n = 203; // not a multiple of the 8-row block
      const rows = new Float64Array(n * F);
      for (let i = 0; i < rows.length; i++) {
        const u = next();
        // missing, negative/huge/non-integer category codes, values near thresholds
        rows[i] = u < 0.1 ? NaN : u < 0.15 ? -1 - next() * 3 : u < 0.2 ? 3e7 : u < 0.5 ? Math.floor(next() * 6) : (next() - 0.5) * 6;
      }
      for (const raw of [false, true]) {
        const O = m.outputsFor(raw);
        const out = new Float64Array(n * O);
        const ref = new Float64Array(n * O);
        const acc = new Float64Array(m.nGroups);
        m.predictBatch(rows, n, out, raw);
        for (let r = 0; r < n; r++) predictReference(a, rows, r * F, ref, r * O, raw, acc);
        expect(Array.from(out)).toEqual(Array.from(ref));
        // the same rows inside a wider state, features scattered in reverse order
        const stride = F + 3;
        const gather = Uint32Array.from({ length: F }, (_, f) => F + 2 - f);
        const view = new Float64Array(5 + n * stride);
        for (let r = 0; r < n; r++) for (let f = 0; f < F; f++) view[5 + r * stride + gather[f]!] = rows[r * F + f]!;
        const g = new Float64Array(n * O);
        m.predictStrided(view, 5, n, stride, g, raw, gather);
        expect(Array.from(g)).toEqual(Array.from(ref));
        const bound = m.bind(view, gather);
        const one = new Float64Array(O);
        for (let r = 0; r < n; r += 17) {
          bound.predictAt(5 + r * stride, one, raw);
          expect(Array.from(one)).toEqual(Array.from(ref.subarray(r * O, (r + 1) * O)));
        }
      }
    }
  });

  test("bot4 model predict prints the predictions; --raw the margins", async () => {
    const args = ["predict", "--model", `${XGB}gbtree_multiclass_missing.model.json`, "--input", `${XGB}gbtree_multiclass_missing.input.json`];
    const exp = await Bun.file(`${XGB}gbtree_multiclass_missing.expected.json`).json();
    for (const raw of [false, true]) {
      const { code, out } = await capture(() => main(raw ? [...args, "--raw"] : args));
      expect(code).toBe(0);
      const got = JSON.parse(out).predictions as number[][];
      const want = raw ? exp.predictions : exp.predictions_transformed;
      expect(got.length).toBe(want.length);
      for (let r = 0; r < got.length; r++) for (let k = 0; k < 3; k++) expect(Math.abs(got[r]![k]! - want[r][k])).toBeLessThanOrEqual(1e-5);
    }
    const { out } = await capture(() => main(["predict", "--format", "xgboost", "--model", `${XGB}gbtree_binary_logistic.model.json`, "--input", `${XGB}gbtree_binary_logistic.input.json`]));
    const bin = JSON.parse(out).predictions as number[];
    const want = (await Bun.file(`${XGB}gbtree_binary_logistic.expected.json`).json()).predictions_transformed as number[];
    bin.forEach((p, i) => expect(Math.abs(p - want[i]!)).toBeLessThanOrEqual(1e-5));
  });
});

describe.skipIf(!hasLgb)("LightGBM multiclass", () => {
  test("matches LightGBM's raw scores and probabilities", async () => {
    const m = await loadModel(`${LGB}lgmulticlass.model`);
    expect(m.format).toBe("lightgbm");
    expect(m.nGroups).toBe(5);
    const lines = (await Bun.file(`${LGB}multiclass_test.tsv`).text()).trim().split("\n");
    const F = m.nFeatures;
    const n = lines.length;
    const rows = new Float64Array(n * F);
    lines.forEach((l, r) => l.split("\t").slice(1).forEach((v, f) => (rows[r * F + f] = Number(v))));
    let worst = 0;
    for (const [raw, file] of [[true, "lgmulticlass_true_raw_predictions.txt"], [false, "lgmulticlass_true_predictions.txt"]] as const) {
      const want = (await Bun.file(LGB + file).text()).trim().split(/\s+/).map(Number);
      const out = new Float64Array(n * 5);
      m.predictBatch(rows, n, out, raw);
      expect(want.length).toBe(out.length);
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(out[i]! - want[i]!));
    }
    console.log(`model.test: LightGBM multiclass, largest |error| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-9);
  });

  test("C agrees with the TypeScript walker with NaN and zero features", async () => {
    const a = parseModel(await Bun.file(`${LGB}lgmulticlass.model`).text());
    const m = new Model(a);
    const next = rng(11);
    const F = m.nFeatures;
    const n = 101;
    const rows = Float64Array.from({ length: n * F }, () => {
      const u = next();
      return u < 0.1 ? NaN : u < 0.2 ? 0 : (next() - 0.5) * 6;
    });
    const out = new Float64Array(n * 5);
    const ref = new Float64Array(n * 5);
    m.predictBatch(rows, n, out, true);
    const acc = new Float64Array(5);
    for (let r = 0; r < n; r++) predictReference(a, rows, r * F, ref, r * 5, true, acc);
    expect(Array.from(out)).toEqual(Array.from(ref));
  });

  test("truncated text and unsupported objectives are refused", async () => {
    const text = await Bun.file(`${LGB}lgmulticlass.model`).text();
    const cut = text.slice(0, Math.floor(text.length / 3));
    expect((await refusal(() => modelFromText(cut, undefined, "cut.txt"))).message).toContain("cut.txt: truncated");
    const rank = text.replace(/^objective=.*$/m, "objective=lambdarank").replace("num_class=5", "num_class=1").replace("num_tree_per_iteration=5", "num_tree_per_iteration=1");
    expect((await refusal(() => modelFromText(rank))).message).toContain("objective lambdarank is not supported");
    const badLeaf = text.replace(/^leaf_value=(\S+)/m, "leaf_value=abc");
    expect((await refusal(() => modelFromText(badLeaf))).message).toContain("Tree=0: leaf_value[0]");
    const badChild = text.replace(/^left_child=1 /m, "left_child=40 ");
    expect((await refusal(() => modelFromText(badChild))).message).toContain("Tree=0: node 0 has child 40, outside");
  });
});

/**
 * An XGBoost save_model JSON with random trees: depth up to maxDepth, leaves anywhere (so trees are
 * incomplete and of mixed depths, single-leaf trees included), random default directions, and
 * thresholds drawn from `thr`. num_class > 1 gives a multi:softprob model with trees round-robin.
 */
function randomXgboost(seed: number, trees: number, F: number, maxDepth: number, thr: () => number, numClass = 1): string {
  const next = rng(seed);
  const out = [];
  for (let t = 0; t < trees; t++) {
    const tr = { left_children: [] as number[], right_children: [] as number[], split_indices: [] as number[], split_conditions: [] as number[], default_left: [] as number[], split_type: [] as number[] };
    const grow = (d: number): number => {
      const id = tr.left_children.length;
      tr.left_children.push(-1); tr.right_children.push(-1); tr.split_indices.push(0); tr.split_conditions.push(0); tr.default_left.push(0); tr.split_type.push(0);
      if (d >= maxDepth || (d > 0 && next() < 0.15) || (d === 0 && t % 17 === 5)) {
        tr.split_conditions[id] = Math.fround((next() - 0.5) * 0.4);
        return id;
      }
      tr.split_indices[id] = Math.floor(next() * F);
      tr.split_conditions[id] = Math.fround(thr());
      tr.default_left[id] = next() < 0.5 ? 1 : 0;
      const l = grow(d + 1);
      const r = grow(d + 1);
      tr.left_children[id] = l;
      tr.right_children[id] = r;
      return id;
    };
    grow(0);
    const n = tr.left_children.length;
    out.push({ ...tr, id: t, tree_param: { num_nodes: String(n), num_feature: String(F), num_deleted: "0", size_leaf_vector: "1" }, categories: [], categories_nodes: [], categories_segments: [], categories_sizes: [] });
  }
  const multi = numClass > 1;
  return JSON.stringify({
    version: [3, 1, 1],
    learner: {
      attributes: {}, feature_names: [], feature_types: [],
      learner_model_param: { base_score: multi ? `[${new Array(numClass).fill("5E-1").join(",")}]` : "[5E-1]", boost_from_average: "1", num_class: String(multi ? numClass : 0), num_feature: String(F), num_target: "1" },
      objective: multi ? { name: "multi:softprob", softmax_multiclass_param: { num_class: String(numClass) } } : { name: "binary:logistic", reg_loss_param: { scale_pos_weight: "1" } },
      gradient_booster: { name: "gbtree", model: { gbtree_model_param: { num_parallel_tree: "1", num_trees: String(trees) }, tree_info: Array.from({ length: trees }, (_, i) => (multi ? i % numClass : 0)), iteration_indptr: Array.from({ length: trees + 1 }, (_, i) => i), trees: out, cats: { enc: [], feature_segments: [], sorted_idx: [] } } },
    },
  });
}

describe("key layout (c/model.h: complete trees, integer keys)", () => {
  /** rows whose values sit on and around the model's thresholds, plus the special values */
  function edgeRows(a: ModelArrays, n: number, seed: number): Float64Array {
    const next = rng(seed);
    const thr: number[] = [];
    for (let i = 0; i < a.thr.length; i++) if (!(a.meta[i]! & 0x80000000)) thr.push(a.thr[i]!);
    const special = [NaN, 0, -0, Infinity, -Infinity, 1e39, -1e39, 3.4028235677973366e38, 1e-45, -1e-45, 5e-324];
    return Float64Array.from({ length: n * a.nFeatures }, () => {
      const u = next();
      if (u < 0.15) return special[Math.floor(next() * special.length)]!;
      if (u < 0.75 && thr.length) {
        const tp = thr[Math.floor(next() * thr.length)]!; // folded: x < tp <=> (float)x < t
        const t = Math.fround(tp);
        const c = [tp, -nextUp(-tp), nextUp(tp), t, -nextUp(-t), nextUp(t)];
        return c[Math.floor(next() * c.length)]!;
      }
      return (next() - 0.5) * 8;
    });
  }

  /** C on `m` = the TypeScript walker = C's node walk (the same arrays without the key layout), bit for bit */
  function agree(m: Model, a: ModelArrays, rows: Float64Array, n: number): void {
    const F = m.nFeatures;
    const walk = new Model(a, undefined, { keyLayout: false });
    expect(walk.keyLayout).toBe(false);
    for (const raw of [false, true]) {
      const O = m.outputsFor(raw);
      const out = new Float64Array(n * O);
      const ref = new Float64Array(n * O);
      const viaWalk = new Float64Array(n * O);
      const acc = new Float64Array(m.nGroups);
      m.predictBatch(rows, n, out, raw);
      walk.predictBatch(rows, n, viaWalk, raw);
      for (let r = 0; r < n; r++) predictReference(a, rows, r * F, ref, r * O, raw, acc);
      expect(Array.from(out)).toEqual(Array.from(ref));
      expect(Array.from(viaWalk)).toEqual(Array.from(ref));
      const one = new Float64Array(O);
      for (let r = 0; r < n; r += 7) {
        m.predictRow(rows.subarray(r * F, (r + 1) * F), one, raw);
        expect(Array.from(one)).toEqual(Array.from(ref.subarray(r * O, (r + 1) * O)));
      }
      const stride = F + 2;
      const gather = Uint32Array.from({ length: F }, (_, f) => F + 1 - f);
      const view = new Float64Array(3 + n * stride).fill(12345);
      for (let r = 0; r < n; r++) for (let f = 0; f < F; f++) view[3 + r * stride + gather[f]!] = rows[r * F + f]!;
      const g = new Float64Array(n * O);
      m.predictStrided(view, 3, n, stride, g, raw, gather);
      expect(Array.from(g)).toEqual(Array.from(ref));
    }
  }

  test.skipIf(!hasXgb)("numeric XGBoost fixtures use it; categorical ones keep the node walk", async () => {
    const used: string[] = [];
    for (const c of CASES) {
      const m = await loadModel(`${XGB}gbtree_${c}.model.json`);
      if (m.keyLayout) used.push(c);
      expect(m.keyLayout).toBe(!c.startsWith("categorical") && m.maxDepth <= 10);
    }
    console.log(`model.test: key layout used by ${used.join(", ")}`);
    expect(used.length).toBeGreaterThanOrEqual(6);
  });

  test.skipIf(!hasXgb)("fixtures: same bits as the node walk for values on, just below and above every threshold", async () => {
    for (const c of CASES) {
      const text = await Bun.file(`${XGB}gbtree_${c}.model.json`).text();
      const a = parseModel(text);
      const m = new Model(a);
      agree(m, a, edgeRows(a, 157, 5), 157);
    }
  });

  test("random incomplete trees of mixed depth (0 to 10), binary and 3-class, every block size", () => {
    let seed = 100;
    // binary models take C's 48- and 16-row passes (vector levels, then 0 to 6 scalar ones, and trees
    // under 4 deep), then 8-row ones; 3-class ones the 8-row passes. Row counts around each.
    const shapes = [[37, 5, 6, 1], [100, 20, 6, 1], [30, 6, 10, 1], [40, 7, 5, 1], [24, 9, 10, 3], [9, 3, 2, 1], [1, 1, 1, 1]] as const;
    for (const [trees, F, depth, classes] of shapes) {
      const next = rng(seed++);
      const text = randomXgboost(seed++, trees, F, depth, () => (next() - 0.5) * 4, classes);
      const a = parseModel(text);
      const m = new Model(a);
      expect(m.keyLayout).toBe(true);
      for (const n of [1, 7, 8, 9, 16, 17, 47, 48, 49, 64, 65, 97, 203]) agree(m, a, edgeRows(a, n, seed++), n);
    }
  });

  test.skipIf(!hasXgb)("fixtures: batched = one row at a time, bit for bit, for counts around the 8-, 16- and 48-row passes", async () => {
    const counts = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 50, 63, 64, 65, 95, 96, 97, 113, 160];
    const N = counts[counts.length - 1]!;
    for (const c of CASES) {
      const text = await Bun.file(`${XGB}gbtree_${c}.model.json`).text();
      const a = parseModel(text);
      const m = new Model(a);
      const F = m.nFeatures;
      const rows = edgeRows(a, N, 77);
      for (const raw of [false, true]) {
        const O = m.outputsFor(raw);
        const single = new Float64Array(N * O);
        for (let r = 0; r < N; r++) m.predictRow(rows.subarray(r * F, (r + 1) * F), single.subarray(r * O, (r + 1) * O), raw);
        const bits = new BigUint64Array(single.buffer);
        for (const n of counts) {
          const out = new Float64Array(n * O + 1).fill(-7); // one value past the end: must stay untouched
          m.predictBatch(rows, n, out, raw);
          expect(out[n * O]).toBe(-7);
          expect(Array.from(new BigUint64Array(out.buffer, 0, n * O))).toEqual(Array.from(bits.subarray(0, n * O)));
        }
      }
    }
  });

  test("deeper than 10, or over 255 features: the node walk, same answers", () => {
    const next = rng(9);
    const deep = randomXgboost(3, 12, 4, 13, () => (next() - 0.5) * 4);
    const a = parseModel(deep);
    const m = new Model(a);
    expect(m.maxDepth).toBeGreaterThan(10);
    expect(m.keyLayout).toBe(false);
    agree(m, a, edgeRows(a, 50, 1), 50);
    const wide = parseModel(randomXgboost(4, 6, 300, 5, () => (next() - 0.5) * 4));
    const w = new Model(wide);
    expect(w.keyLayout).toBe(false);
    agree(w, wide, edgeRows(wide, 20, 2), 20);
  });
});

describe("threshold folding", () => {
  test("(float)x < t  <=>  x < foldXgb(t), and x <= t  <=>  x < foldLgb(t)", () => {
    const next = rng(3);
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    for (let k = 0; k < 20000; k++) {
      u32[0] = (next() * 4294967296) >>> 0;
      const t = f32[0]!;
      if (!Number.isFinite(t)) continue;
      const tp = foldXgbThreshold(t);
      // doubles around t, around the float below it, and the midpoints
      u32[0] = u32[0]! + (t > 0 ? -1 : t < 0 ? 1 : 0);
      const p = t === 0 ? -1.401298464324817e-45 : f32[0]!;
      const mid = (p + t) / 2;
      for (const x of [t, p, mid, nextUp(mid), -nextUp(-mid), nextUp(t), -nextUp(-t), (p + mid) / 2, (mid + t) / 2]) {
        expect(Math.fround(x) < t).toBe(x < tp);
      }
      const d = (next() - 0.5) * 10 ** Math.floor(next() * 20 - 10);
      const dp = foldLgbThreshold(d);
      for (const x of [d, nextUp(d), -nextUp(-d)]) expect(x <= d).toBe(x < dp);
    }
  });
});

describe.skipIf(!hasXgb)("refusals", () => {
  const dir = mkdtempSync(join(tmpdir(), "bot4-model-"));
  const load = async (name: string) => JSON.parse(await Bun.file(`${XGB}gbtree_${name}.model.json`).text());
  const write = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, body);
    return p;
  };

  test("malformed JSON and a truncated file name the file", async () => {
    const p = write("bad.json", "{ not json");
    const e = await refusal(() => loadModel(p));
    expect(e.file).toBe(p);
    expect(e.message).toContain("not valid JSON");
    const text = await Bun.file(`${XGB}gbtree_regression.model.json`).text();
    const t = write("trunc.json", text.slice(0, text.length - 40));
    expect((await refusal(() => loadModel(t))).message).toStartWith(`${t}: not valid JSON`);
    expect((await refusal(() => loadModel(join(dir, "absent.json")))).message).toContain("no such file");
    expect((await refusal(() => loadModel(write("bin.ubj", "\u0000\u0001{L\u0000")))).message).toContain("unrecognised model format");
  });

  test("unsupported objectives and boosters", async () => {
    for (const obj of ["rank:pairwise", "survival:cox", "rank:ndcg", "survival:aft"]) {
      const m = await load("regression");
      m.learner.objective.name = obj;
      const e = await refusal(() => modelFromText(JSON.stringify(m), undefined, "m.json"));
      expect(e.message).toContain(`m.json: objective ${obj} is not supported`);
    }
    const d = await load("regression");
    d.learner.gradient_booster.name = "dart";
    expect((await refusal(() => modelFromText(JSON.stringify(d)))).message).toContain("booster dart is not supported");
  });

  test("missing and inconsistent fields are named", async () => {
    const cases: [(m: any) => void, string][] = [
      [(m) => delete m.learner.learner_model_param.num_feature, "learner.learner_model_param.num_feature is missing"],
      [(m) => delete m.learner.gradient_booster.model.trees[1].left_children, "trees[1].left_children is missing"],
      [(m) => m.learner.gradient_booster.model.trees[0].split_conditions.pop(), "trees[0].split_conditions has"],
      [(m) => (m.learner.gradient_booster.model.trees[0].split_indices[0] = 99), "splits on feature 99"],
      [(m) => (m.learner.gradient_booster.model.trees[0].left_children[0] = 99), "node 0 has child 99 outside"],
      [(m) => (m.learner.gradient_booster.model.trees[0].left_children[1] = 1), "node 1 is reached twice"],
      [(m) => (m.learner.gradient_booster.model.trees[0].right_children[0] = 1), "reached twice"],
      [(m) => (m.learner.learner_model_param.base_score = "[abc]"), "base_score"],
      [(m) => (m.learner.gradient_booster.model.tree_info[0] = 3), "tree_info[0] = 3"],
      [(m) => delete m.learner, "learner is missing"],
    ];
    for (const [mutate, msg] of cases) {
      const m = await load("regression");
      mutate(m);
      expect((await refusal(() => modelFromText(JSON.stringify(m)))).message).toContain(msg);
    }
    const bin = await load("binary_logistic");
    bin.learner.learner_model_param.base_score = "[1.5E0]";
    expect((await refusal(() => modelFromText(JSON.stringify(bin)))).message).toContain("must lie in (0, 1)");
  });

  test("C refuses structurally broken arrays on its own", async () => {
    const a = parseModel(await Bun.file(`${XGB}gbtree_regression.model.json`).text());
    const broken: [string, (x: ModelArrays) => void, string][] = [
      ["child before parent", (x) => (x.left[1] = 0), "child index"],
      ["child outside the tree", (x) => (x.left[0] = x.treeStart[1]! - 1), "child index"],
      ["feature out of range", (x) => (x.meta[0] = (x.meta[0]! & ~0xffffff) | 77), "feature index"],
      ["non-finite leaf", (x) => (x.value[x.treeStart[1]! - 1] = Infinity), "leaf value"],
      ["group out of range", (x) => (x.treeGroup[0] = 4), "counts"],
    ];
    for (const [what, mutate, msg] of broken) {
      const copy: ModelArrays = { ...a, left: a.left.slice(), meta: a.meta.slice(), value: a.value.slice(), treeGroup: a.treeGroup.slice() };
      mutate(copy);
      const e = await refusal(() => new Model(copy, what));
      expect(e.message).toContain(msg);
    }
  });

  test("a row with the wrong feature count is refused", async () => {
    const m = await loadModel(`${XGB}gbtree_regression.model.json`);
    expect((await refusal(() => inputRows({ features: [[1, 2, 3]] }, m.nFeatures, "in.json"))).message).toContain("in.json: features[0] has 3 values, the model needs 5");
    expect((await refusal(() => inputRows({ features: [[1, 2, "x", 4, 5]] }, m.nFeatures))).message).toContain('features[0][2] is "x"');
    expect((await refusal(() => inputRows({ rows: [] }, m.nFeatures))).message).toContain('"features" is missing');
    const out = new Float64Array(1);
    expect((await refusal(() => m.predictRow(new Float64Array(4), out))).message).toContain("row has 4 features");
    expect((await refusal(() => m.predictBatch(new Float64Array(14), 3, new Float64Array(3)))).message).toContain("need 15 values");
    expect((await refusal(() => m.bind(new Float64Array(10), Uint32Array.from([0, 1, 2, 3, 10])))).message).toContain("needs 11 values");
    const p = write("short.json", JSON.stringify({ features: [[1, 2, 3, 4, 5], [1, 2]] }));
    await expect(main(["predict", "--model", `${XGB}gbtree_regression.model.json`, "--input", p])).rejects.toThrow("features[1] has 2 values");
  });

  test("CLI flags: unknown flag, missing --model, bad --format", async () => {
    await expect(main(["predict", "--bogus"])).rejects.toBeInstanceOf(UsageError);
    await expect(main(["predict", "--input", "x.json"])).rejects.toThrow("--model is required");
    await expect(main(["predict", "--model", "m", "--input", "i", "--format", "onnx"])).rejects.toThrow("--format onnx");
    await expect(main(["train"])).rejects.toBeInstanceOf(UsageError);
  });
});
