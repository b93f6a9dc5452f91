/**
 * Flattening trees for c/model.h, the threshold folding both formats share, and a plain
 * TypeScript walker over the same arrays (the reference the tests and the bench compare C with).
 */
import { ModelConst, ModelError, NodeKind, type ModelArrays, type Transform } from "../../ffi/model.ts";

/** What a loader says about one node of its own numbering. */
export type NodeDesc =
  | { leaf: true; value: number }
  | { leaf: false; feature: number; thr: number; defaultLeft: boolean; kind: number; cats?: Uint32Array; left: number; right: number };

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);

/** The next double above d (d finite or -inf). */
export function nextUp(d: number): number {
  if (d === 0) return Number.MIN_VALUE;
  F64[0] = d;
  U64[0] = d > 0 ? U64[0]! + 1n : U64[0]! - 1n;
  return F64[0]!;
}

/** The float32 just below t (t a float32 value, not -inf). */
function prevFloat(t: number): number {
  if (t === 0) return -1.401298464324817e-45;
  F32[0] = t;
  if (t === Infinity) return 3.4028234663852886e38;
  if (t === -3.4028234663852886e38) return -(2 ** 128); // the rounding boundary beyond the range
  U32[0] = t > 0 ? U32[0]! - 1 : U32[0]! + 1;
  return F32[0]!;
}

/**
 * XGBoost compares `(float)x < t` with t a float32. Rounding to float is monotonic, so the set of
 * doubles x with (float)x < t is {x < t'} for t' the smallest double that rounds to >= t: the
 * midpoint between t and the float below it, or the double above that midpoint when the midpoint
 * itself rounds down (ties go to the even float).
 */
export function foldXgbThreshold(t: number): number {
  if (t === -Infinity) return -Infinity;
  const p = prevFloat(t);
  const mid = (p + t) / 2; // exact: two adjacent floats average exactly in double
  return Math.fround(mid) >= t ? mid : nextUp(mid);
}

/** LightGBM compares `x <= t` in double: the same as x < nextUp(t). */
export function foldLgbThreshold(t: number): number {
  return nextUp(t);
}

/** Collects trees in the layout of c/model.h: per tree breadth-first, children adjacent. */
export class FlatBuilder {
  private thr: number[] = [];
  private meta: number[] = [];
  private left: number[] = [];
  private value: number[] = [];
  private catOff: number[] = [];
  private catWords: number[] = [];
  private cats: number[] = [];
  private treeStart: number[] = [0];
  private treeGroup: number[] = [];

  constructor(
    private readonly source: string | undefined,
    private readonly nFeatures: number,
  ) {}

  /** Adds one tree given by its root id and a describer of its own node ids in [0, count). */
  addTree(label: string, group: number, count: number, root: number, describe: (id: number) => NodeDesc): void {
    const seen = new Uint8Array(count);
    const queue: number[] = [root];
    const first = this.thr.length;
    if (root < 0 || root >= count) throw new ModelError(this.source, `${label}: root ${root} outside its ${count} nodes`);
    seen[root] = 1;
    this.push(); // index `first` for the root
    for (let q = 0; q < queue.length; q++) {
      const id = queue[q]!;
      const at = first + q;
      const d = describe(id);
      if (d.leaf) {
        if (!Number.isFinite(d.value)) throw new ModelError(this.source, `${label}: leaf ${id} has value ${d.value}`);
        this.meta[at] = ModelConst.LEAF;
        this.value[at] = d.value;
        continue;
      }
      if (!Number.isInteger(d.feature) || d.feature < 0 || d.feature >= this.nFeatures) {
        throw new ModelError(this.source, `${label}: node ${id} splits on feature ${d.feature}, the model has ${this.nFeatures}`);
      }
      for (const c of [d.left, d.right]) {
        if (!Number.isInteger(c) || c < 0 || c >= count) throw new ModelError(this.source, `${label}: node ${id} has child ${c} outside its ${count} nodes`);
        if (seen[c]) throw new ModelError(this.source, `${label}: node ${c} is reached twice (the nodes do not form a tree)`);
        seen[c] = 1;
        queue.push(c);
      }
      const childAt = this.thr.length;
      this.push();
      this.push();
      this.left[at] = childAt;
      this.meta[at] = d.feature | ((d.defaultLeft ? 1 : 0) << ModelConst.DL_SHIFT) | (d.kind << ModelConst.KIND_SHIFT);
      if (d.kind === NodeKind.xgbCategorical || d.kind === NodeKind.lgbCategorical) {
        this.catOff[at] = this.cats.length;
        this.catWords[at] = d.cats!.length;
        for (const w of d.cats!) this.cats.push(w);
      } else {
        if (Number.isNaN(d.thr)) throw new ModelError(this.source, `${label}: node ${id} has a NaN threshold`);
        this.thr[at] = d.thr;
      }
    }
    this.treeStart.push(this.thr.length);
    this.treeGroup.push(group);
  }

  private push(): void {
    this.thr.push(0);
    this.meta.push(0);
    this.left.push(0);
    this.value.push(0);
    this.catOff.push(0);
    this.catWords.push(0);
  }

  get trees(): number {
    return this.treeGroup.length;
  }

  finish(head: {
    format: ModelArrays["format"];
    objective: string;
    nGroups: number;
    transform: Transform;
    sigmoidScale: number;
    rawDiv: number;
    fp32: boolean;
    base: number[];
  }): ModelArrays {
    if (this.thr.length === 0) throw new ModelError(this.source, "the model has no trees");
    return {
      ...head,
      nFeatures: this.nFeatures,
      base: Float64Array.from(head.base),
      thr: Float64Array.from(this.thr),
      meta: Uint32Array.from(this.meta),
      left: Int32Array.from(this.left),
      value: Float64Array.from(this.value),
      catOff: Uint32Array.from(this.catOff),
      catWords: Uint32Array.from(this.catWords),
      cats: Uint32Array.from(this.cats),
      treeStart: Uint32Array.from(this.treeStart),
      treeGroup: Uint32Array.from(this.treeGroup),
    };
  }
}

/** Bitset words holding the given category codes. */
export function catBitset(codes: number[]): Uint32Array {
  let max = -1;
  for (const c of codes) if (c > max) max = c;
  const words = new Uint32Array((max >> 5) + 1);
  for (const c of codes) words[c >> 5]! |= 1 << (c & 31);
  return words;
}

function inSet(a: ModelArrays, node: number, c: number): boolean {
  const w = c >>> 5;
  if (w >= a.catWords[node]!) return false;
  return ((a.cats[a.catOff[node]! + w]! >>> (c & 31)) & 1) === 1;
}

/**
 * Plain TypeScript prediction over the flattened arrays: one row at x[off + f], outputs into
 * out[outOff ..]. The same semantics as c/model.c, written independently (loop until a leaf).
 */
export function predictReference(a: ModelArrays, x: Float64Array, off: number, out: Float64Array, outOff: number, raw: boolean, acc: Float64Array): void {
  const G = a.nGroups;
  const fp32 = a.fp32;
  for (let g = 0; g < G; g++) acc[g] = fp32 ? Math.fround(a.base[g]!) : a.base[g]!;
  const T = a.treeGroup.length;
  const { meta, thr, left, value, treeStart, treeGroup } = a;
  for (let t = 0; t < T; t++) {
    let j = treeStart[t]!;
    for (;;) {
      const m = meta[j]!;
      if (m & ModelConst.LEAF) break;
      const v = x[off + (m & ModelConst.FEAT_MASK)]!;
      const dl = (m >>> ModelConst.DL_SHIFT) & 1;
      const kind = (m >>> ModelConst.KIND_SHIFT) & 7;
      const l = left[j]!;
      if (kind === NodeKind.num) {
        j = v !== v ? (dl ? l : l + 1) : v < thr[j]! ? l : l + 1;
      } else if (kind === NodeKind.xgbCategorical) {
        if (v !== v) j = dl ? l : l + 1;
        else {
          const f = Math.fround(v);
          j = f < 0 || f >= 16777216 ? l : inSet(a, j, Math.trunc(f)) ? l + 1 : l;
        }
      } else if (kind === NodeKind.lgbCategorical) {
        j = v !== v || Math.trunc(v) < 0 || v >= 2147483648 ? l + 1 : inSet(a, j, Math.trunc(v)) ? l : l + 1;
      } else {
        const z = v !== v ? 0 : v;
        j = Math.abs(z) <= 1.0000000180025095e-35 ? (dl ? l : l + 1) : z < thr[j]! ? l : l + 1;
      }
    }
    const g = treeGroup[t]!;
    acc[g] = fp32 ? Math.fround(acc[g]! + value[j]!) : acc[g]! + value[j]!;
  }
  for (let g = 0; g < G; g++) if (a.rawDiv !== 1) acc[g] = acc[g]! / a.rawDiv;
  if (raw || a.transform === "identity") {
    for (let g = 0; g < G; g++) out[outOff + g] = acc[g]!;
    return;
  }
  switch (a.transform) {
    case "sigmoid":
      for (let g = 0; g < G; g++) out[outOff + g] = 1 / (1 + Math.exp(-a.sigmoidScale * acc[g]!));
      return;
    case "exp":
      for (let g = 0; g < G; g++) out[outOff + g] = Math.exp(acc[g]!);
      return;
    case "hinge":
      for (let g = 0; g < G; g++) out[outOff + g] = acc[g]! > 0 ? 1 : 0;
      return;
    case "softmax": {
      let mx = acc[0]!;
      for (let g = 1; g < G; g++) if (acc[g]! > mx) mx = acc[g]!;
      let sum = 0;
      for (let g = 0; g < G; g++) sum += out[outOff + g] = Math.exp(acc[g]! - mx);
      for (let g = 0; g < G; g++) out[outOff + g] = out[outOff + g]! / sum;
      return;
    }
    default: {
      let best = 0;
      for (let g = 1; g < G; g++) if (acc[g]! > acc[best]!) best = g;
      out[outOff] = best;
    }
  }
}
