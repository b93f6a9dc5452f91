/**
 * Tree-ensemble models: XGBoost JSON and LightGBM text files parsed here (cold path), evaluated
 * by the C kernels through ffi/model.ts (hot path).
 *   const m = await loadModel("m.json");       // format detected from the content
 *   m.predictRow(x, out);                        // x: nFeatures doubles, NaN = missing
 * Malformed files, unsupported objectives and bad inputs raise ModelError (file + reason).
 */
import { Model, ModelError, type ModelArrays } from "../../ffi/model.ts";
import { parseLightgbmText } from "./lightgbm.ts";
import { parseXgboostJson } from "./xgboost.ts";

export { BoundRows, Model, ModelError, type ModelArrays, type Transform } from "../../ffi/model.ts";
export { predictReference } from "./flat.ts";
export { parseLightgbmText } from "./lightgbm.ts";
export { parseXgboostJson } from "./xgboost.ts";

export type ModelFormat = "xgboost" | "lightgbm";
export const MODEL_FORMATS: readonly ModelFormat[] = ["xgboost", "lightgbm"];

/** xgboost for JSON (first non-blank byte `{`), lightgbm for text whose first line is "tree". */
export function detectFormat(text: string, file?: string): ModelFormat {
  const head = text.trimStart();
  if (head.startsWith("{")) return "xgboost";
  if (/^tree\r?\n/.test(head)) return "lightgbm";
  if (head === "") throw new ModelError(file, "the model file is empty");
  throw new ModelError(file, "unrecognised model format: expected XGBoost JSON (save_model(\"m.json\")) or a LightGBM text model (save_model(\"m.txt\")); binary and UBJSON models are not read");
}

/** Parses model text into the flattened arrays (no C involved). */
export function parseModel(text: string, format?: ModelFormat, file?: string): ModelArrays {
  const f = format ?? detectFormat(text, file);
  return f === "xgboost" ? parseXgboostJson(text, file) : parseLightgbmText(text, file);
}

/** Model from text: parsed, flattened and validated by C. */
export function modelFromText(text: string, format?: ModelFormat, file?: string): Model {
  return new Model(parseModel(text, format, file), file);
}

export async function readModelText(path: string): Promise<string> {
  const f = Bun.file(path);
  if (!(await f.exists())) throw new ModelError(path, "no such file");
  return f.text();
}

export async function loadModel(path: string, format?: ModelFormat): Promise<Model> {
  return modelFromText(await readModelText(path), format, path);
}

/**
 * Rows of an input document {"features": [[...], ...]} (null = missing) as one row-major
 * Float64Array; every row must have exactly `nFeatures` values.
 */
export function inputRows(doc: unknown, nFeatures: number, file?: string): { rows: Float64Array; n: number } {
  const fail = (reason: string): never => {
    throw new ModelError(file, reason);
  };
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) fail('input must be an object {"features": [[...], ...]}');
  const feats = (doc as Record<string, unknown>).features;
  if (!Array.isArray(feats)) fail('input field "features" is missing or not an array of rows');
  const list = feats as unknown[];
  const rows = new Float64Array(list.length * nFeatures);
  for (let r = 0; r < list.length; r++) {
    const row = list[r];
    if (!Array.isArray(row)) fail(`features[${r}] is not an array`);
    const vals = row as unknown[];
    if (vals.length !== nFeatures) fail(`features[${r}] has ${vals.length} values, the model needs ${nFeatures}`);
    for (let f = 0; f < nFeatures; f++) {
      const v = vals[f];
      if (v === null) rows[r * nFeatures + f] = NaN;
      else if (typeof v === "number") rows[r * nFeatures + f] = v;
      else fail(`features[${r}][${f}] is ${JSON.stringify(v)}: expected a number or null (missing)`);
    }
  }
  return { rows, n: list.length };
}
