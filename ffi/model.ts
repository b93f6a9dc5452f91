/**
 * Model: a tree ensemble (XGBoost or LightGBM, parsed by src/ml) held by the C kernels of
 * c/model.c. The flattened trees are written once into one 64-byte-aligned JS-owned buffer that
 * C validates (bot4_model_init) before any prediction; afterwards every prediction is one FFI
 * call with no allocation:
 *   predictRow(x, out)              one contiguous row
 *   predictBatch(rows, n, out)      n row-major rows (walked 8 at a time through each tree in C)
 *   predictStrided(view, ...)       rows read in place from any Float64Array (indicator state):
 *                                   a row stride, and optionally a gather index naming the slot
 *                                   of each feature; C reads the slots itself, nothing is copied
 *                                   on the TypeScript side
 * `raw` selects margins (sum of leaves + base) instead of the objective's transformed output.
 */
import { addressOfView, alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { K } from "./lib.ts";
import { MODEL_NODE_BYTES, ModelConst, ModelHeader as H, ModelStatus, TransformCode } from "./sym/model.ts";

export { ModelConst, NodeKind, TransformCode } from "./sym/model.ts";

/** A model file or input that cannot be used: names the file (when known) and the reason. */
export class ModelError extends Error {
  override name = "ModelError";
  /** the user's to fix: the CLI exits with 2 */
  readonly exitCode = 2;
  constructor(
    readonly file: string | undefined,
    readonly reason: string,
  ) {
    super(file ? `${file}: ${reason}` : reason);
  }
}

export type Transform = keyof typeof TransformCode;

/**
 * Trees flattened for c/model.h: nodes of all trees in one array, each tree's nodes contiguous
 * ([treeStart[t], treeStart[t+1])), root first, children adjacent (right = left + 1) and after
 * their parent. `thr` already holds the folded threshold (go left iff x < thr). Leaves carry
 * ModelConst.LEAF in meta and their value in `value`. Categorical nodes name their set by
 * `catOff`/`catWords` into `cats` (bitsets of 32-bit words).
 */
export interface ModelArrays {
  format: "xgboost" | "lightgbm";
  objective: string;
  nFeatures: number;
  nGroups: number;
  transform: Transform;
  sigmoidScale: number;
  /** raw sums are divided by this (LightGBM average_output), 1 otherwise */
  rawDiv: number;
  /** accumulate in float32 as XGBoost does */
  fp32: boolean;
  base: Float64Array;
  thr: Float64Array;
  meta: Uint32Array;
  left: Int32Array;
  value: Float64Array;
  catOff: Uint32Array;
  catWords: Uint32Array;
  cats: Uint32Array;
  treeStart: Uint32Array;
  treeGroup: Uint32Array;
}

const r8 = (n: number) => Math.ceil(n / 8) * 8;

/** c/model.h BOT4_MF_KEYS: init built the key layout and predictions use it. */
export const MODEL_FLAG_KEYS = 4;
/** c/model.h BOT4_MODEL_KEYS_MAX_*: the models the key layout takes. */
const KEYS_MAX_DEPTH = 10;
const KEYS_MAX_FEATURES = 255;
const KEYS_MAX_GROUPS = 512;

/**
 * Bytes of the key layout region (c/model.h) for these arrays, 0 when the model cannot use it:
 * per tree a 16-byte record, 2^D - 1 8-byte nodes, 2^D float leaves and 16 int32 thresholds of
 * its first four levels for the vector compares, D the tree's depth. C rebuilds the same sizes
 * from the validated nodes and only uses the layout when it fits.
 */
export function keyLayoutBytes(a: ModelArrays): number {
  if (!a.fp32 || a.nFeatures > KEYS_MAX_FEATURES || a.nGroups > KEYS_MAX_GROUPS) return 0;
  const T = a.treeStart.length - 1;
  const depth = new Uint16Array(a.thr.length);
  let inner = 0;
  let leaves = 0;
  for (let t = 0; t < T; t++) {
    let d = 0;
    for (let i = a.treeStart[t]!; i < a.treeStart[t + 1]!; i++) {
      const m = a.meta[i]!;
      if (m & ModelConst.LEAF) {
        if (depth[i]! > d) d = depth[i]!;
        continue;
      }
      if ((m >>> ModelConst.KIND_SHIFT) & 7) return 0; // categorical / zero-missing: node walk
      const l = a.left[i]!;
      if (l <= i || l + 1 >= a.thr.length) return 0; // C refuses the model anyway
      depth[l] = depth[l + 1] = depth[i]! + 1;
    }
    if (d > KEYS_MAX_DEPTH) return 0;
    inner += 2 ** d - 1;
    leaves += 2 ** d;
  }
  return T * 16 + inner * 8 + leaves * 4 + T * 64;
}

export class Model {
  readonly ptr: number;
  readonly nFeatures: number;
  readonly nGroups: number;
  readonly nTrees: number;
  readonly nNodes: number;
  readonly maxDepth: number;
  /** predictions run on the key layout (c/model.h: XGBoost trees up to depth 10) */
  readonly keyLayout: boolean;
  readonly transform: Transform;
  readonly format: ModelArrays["format"];
  readonly objective: string;
  /** outputs per row: transformed (multi:softmax gives 1 class index) and raw */
  readonly outputs: number;
  readonly rawOutputs: number;
  private readonly mem: AlignedBuffer;
  private readonly predictRowFn = K.bot4_model_predict_row;
  private readonly predictFn = K.bot4_model_predict;

  /**
   * Writes the arrays into C-visible memory and has C validate them. `source` names the file in
   * errors. `opts.keyLayout: false` leaves out the key layout (c/model.h), so every prediction
   * takes the node walk: for comparing the two, never needed otherwise.
   */
  constructor(a: ModelArrays, source?: string, opts: { keyLayout?: boolean } = {}) {
    const T = a.treeStart.length - 1;
    const N = a.thr.length;
    const G = a.nGroups;
    const W = a.cats.length;
    const F = a.nFeatures;
    const scratchRows = ModelConst.BLOCK;
    let off: number = H.bytes;
    const offNodes = off;
    off += N * MODEL_NODE_BYTES;
    const offValue = off;
    off += N * 8;
    const offRoot = off;
    off = r8(off + (T + 1) * 4);
    const offGroup = off;
    off = r8(off + T * 4);
    const offDepth = off;
    off = r8(off + T * 4);
    const offBase = off;
    off += G * 8;
    const offCats = off;
    off = r8(off + W * 4);
    const offNdepth = off;
    off = r8(off + N * 2);
    const offScratch = off;
    off += scratchRows * F * 8;
    const keys = opts.keyLayout === false ? 0 : keyLayoutBytes(a); // after the scratch region, from the next 64-byte boundary
    if (keys > 0) off = Math.ceil(off / 64) * 64 + r8(keys);
    if (off > 0xffffffff) throw new ModelError(source, `model too large for one buffer (${off} bytes)`);
    const mem = alignedBuffer(off);
    const b = mem.buffer as ArrayBuffer;
    const dv = new DataView(b, mem.byteOffset, off);
    dv.setUint32(H.magic, ModelConst.MAGIC, true);
    dv.setUint32(H.nTrees, T, true);
    dv.setUint32(H.nNodes, N, true);
    dv.setUint32(H.nFeatures, F, true);
    dv.setUint32(H.nGroups, G, true);
    dv.setUint32(H.transform, TransformCode[a.transform], true);
    dv.setUint32(H.nCatWords, W, true);
    dv.setUint32(H.flags, a.fp32 ? ModelConst.FLAG_FP32 : 0, true);
    dv.setFloat64(H.sigmoidScale, a.sigmoidScale, true);
    dv.setFloat64(H.rawDiv, a.rawDiv, true);
    dv.setBigUint64(H.totalBytes, BigInt(off), true);
    dv.setUint32(H.scratchRows, scratchRows, true);
    const offs: [number, number][] = [
      [H.offNodes, offNodes],
      [H.offValue, offValue],
      [H.offRoot, offRoot],
      [H.offGroup, offGroup],
      [H.offDepth, offDepth],
      [H.offBase, offBase],
      [H.offCats, offCats],
      [H.offNdepth, offNdepth],
      [H.offScratch, offScratch],
    ];
    for (const [field, v] of offs) dv.setUint32(field, v, true);
    const base = mem.byteOffset;
    const f64 = new Float64Array(b, base + offNodes, N * 2);
    const u32 = new Uint32Array(b, base + offNodes, N * 4);
    const i32 = new Int32Array(b, base + offNodes, N * 4);
    for (let i = 0; i < N; i++) {
      const kind = (a.meta[i]! >>> ModelConst.KIND_SHIFT) & 7;
      if (kind === 1 || kind === 2) {
        u32[4 * i] = a.catOff[i]!;
        u32[4 * i + 1] = a.catWords[i]!;
      } else {
        f64[2 * i] = a.thr[i]!;
      }
      u32[4 * i + 2] = a.meta[i]!;
      i32[4 * i + 3] = a.left[i]!;
    }
    new Float64Array(b, base + offValue, N).set(a.value);
    new Uint32Array(b, base + offRoot, T + 1).set(a.treeStart);
    new Uint32Array(b, base + offGroup, T).set(a.treeGroup);
    new Float64Array(b, base + offBase, G).set(a.base);
    new Uint32Array(b, base + offCats, W).set(a.cats);
    const where = new BigInt64Array(1);
    const rc = K.bot4_model_init(mem.ptr, off, where);
    if (rc !== 0) {
      const at = where[0]! >= 0n ? ` (at node/tree ${where[0]})` : "";
      throw new ModelError(source, `invalid model structure: ${ModelStatus[rc] ?? `code ${rc}`}${at}`);
    }
    this.mem = mem;
    this.ptr = mem.ptr;
    this.nFeatures = F;
    this.nGroups = G;
    this.nTrees = T;
    this.nNodes = N;
    this.maxDepth = dv.getUint32(H.maxDepth, true);
    this.keyLayout = (dv.getUint32(H.flags, true) & MODEL_FLAG_KEYS) !== 0;
    this.transform = a.transform;
    this.format = a.format;
    this.objective = a.objective;
    this.rawOutputs = G;
    this.outputs = K.bot4_model_outputs(mem.ptr, 0);
  }

  /** Outputs per row for this mode. */
  outputsFor(raw: boolean): number {
    return raw ? this.rawOutputs : this.outputs;
  }

  /** One row of nFeatures values (NaN = missing) into out[0 .. outputs). */
  predictRow(x: Float64Array, out: Float64Array, raw = false): void {
    if (x.length < this.nFeatures) throw new ModelError(undefined, `row has ${x.length} features, the model needs ${this.nFeatures}`);
    if (out.length < (raw ? this.rawOutputs : this.outputs)) throw new ModelError(undefined, `output has room for ${out.length} values, a row needs ${raw ? this.rawOutputs : this.outputs}`);
    this.predictRowFn(this.ptr, x, out, raw ? 1 : 0);
  }

  /** n row-major rows of exactly nFeatures values each. */
  predictBatch(rows: Float64Array, n: number, out: Float64Array, raw = false): void {
    this.predictStrided(rows, 0, n, this.nFeatures, out, raw);
  }

  /**
   * n rows read in place: row r, feature f is view[offset + r * stride + (gather ? gather[f] : f)].
   * Everything read is checked to lie inside `view` before C runs.
   */
  predictStrided(view: Float64Array, offset: number, n: number, stride: number, out: Float64Array, raw = false, gather?: Uint32Array): void {
    const F = this.nFeatures;
    const O = raw ? this.rawOutputs : this.outputs;
    if (!Number.isInteger(n) || n < 0 || !Number.isInteger(stride) || stride < 0 || !Number.isInteger(offset) || offset < 0) {
      throw new ModelError(undefined, `bad row count/stride/offset (${n}, ${stride}, ${offset})`);
    }
    if (n === 0) return;
    let span = F;
    if (gather) {
      if (gather.length !== F) throw new ModelError(undefined, `gather index has ${gather.length} entries, the model has ${F} features`);
      let mx = 0;
      for (let f = 0; f < F; f++) if (gather[f]! > mx) mx = gather[f]!;
      span = mx + 1;
    } else if (stride < F && n > 1) {
      throw new ModelError(undefined, `row stride ${stride} is shorter than the ${F} features of a row`);
    }
    if (offset + (n - 1) * stride + span > view.length) {
      throw new ModelError(undefined, `${n} rows of stride ${stride} from ${offset} need ${offset + (n - 1) * stride + span} values, the input has ${view.length}`);
    }
    if (out.length < n * O) throw new ModelError(undefined, `output has room for ${out.length} values, ${n} rows need ${n * O}`);
    const x = offset === 0 ? view : view.subarray(offset);
    const rc = this.predictFn(this.ptr, x, n, stride, gather ?? null, out, raw ? 1 : 0);
    if (rc !== 0) throw new ModelError(undefined, `prediction refused: ${ModelStatus[rc] ?? `code ${rc}`}`);
  }

  /**
   * Rows read in place from `view` (e.g. indicator state) for the hot loop: the addresses of the
   * view and of the gather index are taken once here, so each prediction is one FFI call that
   * allocates nothing. Keep `view` and `gather` alive (and unresized) while the binding is used.
   */
  bind(view: Float64Array, gather?: Uint32Array): BoundRows {
    return new BoundRows(this, view, gather);
  }

  /** Bytes of C-visible memory the model occupies. */
  get bytes(): number {
    return this.mem.bytes;
  }
}

/** A model bound to one input view: see Model.bind. */
export class BoundRows {
  private readonly addr: number;
  private readonly gatherAddr: number | null;
  private readonly span: number;
  private readonly fn = K.bot4_model_predict;

  constructor(
    readonly model: Model,
    readonly view: Float64Array,
    readonly gather?: Uint32Array,
  ) {
    const F = model.nFeatures;
    if (gather) {
      if (gather.length !== F) throw new ModelError(undefined, `gather index has ${gather.length} entries, the model has ${F} features`);
      let mx = 0;
      for (let f = 0; f < F; f++) if (gather[f]! > mx) mx = gather[f]!;
      this.span = mx + 1;
    } else {
      this.span = F;
    }
    if (this.span > view.length) throw new ModelError(undefined, `a row needs ${this.span} values of the view, it has ${view.length}`);
    this.addr = addressOfView(view);
    this.gatherAddr = gather ? addressOfView(gather) : null;
  }

  /** n rows (default 1) starting at view[offset], `stride` values apart, into out. */
  predictAt(offset: number, out: Float64Array, raw = false, n = 1, stride = 0): void {
    const O = raw ? this.model.rawOutputs : this.model.outputs;
    if (!(offset >= 0 && offset + (n - 1) * stride + this.span <= this.view.length) || (n > 1 && !this.gatherAddr && stride < this.model.nFeatures)) {
      throw new ModelError(undefined, `rows at ${offset} (n ${n}, stride ${stride}) fall outside the ${this.view.length}-value view`);
    }
    if (out.length < n * O) throw new ModelError(undefined, `output has room for ${out.length} values, ${n} rows need ${n * O}`);
    this.fn(this.model.ptr, this.addr + offset * 8, n, stride, this.gatherAddr, out, raw ? 1 : 0);
  }
}
