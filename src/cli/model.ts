/** `bot4 model predict`: predictions of an XGBoost JSON or LightGBM text model, as JSON. */
import { inputRows, loadModel, MODEL_FORMATS, ModelError, type ModelFormat } from "../ml/index.ts";
import { flagHelp, parseFlags, UsageError, type FlagSpec } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  model: { value: true, about: "model file: XGBoost JSON (save_model) or LightGBM text" },
  input: { value: true, about: 'rows as JSON: {"features": [[...], ...]}, null = missing' },
  raw: { about: "print raw margins instead of the objective's output" },
  format: { value: true, about: "xgboost | lightgbm (detected from the file when absent)" },
  help: { about: "this help" },
};

const USAGE = `usage: bot4 model predict --model M --input I [--raw] [--format xgboost|lightgbm]\n\n${flagHelp(FLAGS)}\n`;

export async function main(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "help") {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "predict") throw new UsageError(`bot4 model: unknown subcommand \`${sub}\`; expected \`predict\``);
  const f = parseFlags("model predict", rest, FLAGS);
  if (f.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (typeof f.model !== "string") throw new UsageError("bot4 model predict: --model is required");
  if (typeof f.input !== "string") throw new UsageError("bot4 model predict: --input is required");
  let format: ModelFormat | undefined;
  if (f.format !== undefined) {
    if (!(MODEL_FORMATS as readonly string[]).includes(f.format as string)) {
      throw new UsageError(`bot4 model predict: --format ${f.format} is not one of ${MODEL_FORMATS.join(", ")}`);
    }
    format = f.format as ModelFormat;
  }
  const model = await loadModel(f.model, format);
  const inFile = Bun.file(f.input);
  if (!(await inFile.exists())) throw new ModelError(f.input, "no such file");
  let doc: unknown;
  try {
    doc = JSON.parse(await inFile.text());
  } catch (e) {
    throw new ModelError(f.input, `input is not valid JSON (${(e as Error).message})`);
  }
  const { rows, n } = inputRows(doc, model.nFeatures, f.input);
  const raw = f.raw === true;
  const O = model.outputsFor(raw);
  const out = new Float64Array(n * O);
  model.predictBatch(rows, n, out, raw);
  const preds: (number | number[])[] = [];
  for (let r = 0; r < n; r++) preds.push(O === 1 ? out[r]! : Array.from(out.subarray(r * O, (r + 1) * O)));
  process.stdout.write(`${JSON.stringify({ predictions: preds })}\n`);
  return 0;
}
