/**
 * `bot4 profile [--quick] [--reps N] [--json] [--markdown FILE] [--data FILE...]`: drives the
 * engine over real recorded data and prints the Performance Profile Report — targets vs measured,
 * per-stage latency distributions, one-core and two-core throughput beside the cross-core round
 * trip, memory, kernel variant and CPU features. Every figure is measured in this run.
 */
import { writeFileSync } from "node:fs";
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

// start-up RSS: taken before the kernels, the engine and the data are loaded
const RSS_START_MB = process.memoryUsage.rss() / 1048576;

const FLAGS: Record<string, FlagSpec> = {
  quick: { about: "shortest run (a part of the data, one repetition): a few seconds" },
  reps: { value: true, about: "repetitions per measured figure (default 5; 1 with --quick)" },
  data: { value: true, about: "raw Binance USD-M captures (`<recv_ns> <json>` lines, gzip or plain) instead of the bundled slice; more may follow as arguments" },
  strategy: { value: true, about: "built-in strategy the engine runs: market-maker (default), arbitrage, bollinger" },
  seed: { value: true, about: "seed of the workload (client ids, venue queues); default 1" },
  "shared-data": { value: true, about: "folder of the other venues' recordings and the XGBoost models (default: ../shared/data or shared/data if present)" },
  json: { about: "print the report as one JSON object" },
  markdown: { value: true, about: "also write the report as Markdown to this file" },
  quiet: { about: "no progress lines on stderr" },
  "rss-child": { value: true, about: "internal: replay this tick file in this process and print its memory figures as JSON (the five-venue RSS figure)" },
  help: { about: "this help" },
};

export async function main(args: string[]): Promise<number> {
  const data: string[] = [];
  const f = parseFlags("profile", args, FLAGS, data);
  if (f.help) {
    process.stdout.write(`usage: bot4 profile [flags] [DATA...]\n\nRuns the engine over real recorded data (the bundled Binance USD-M slice by default; five venues'\nrecordings for the memory figure when the shared data is present) and prints the Performance Profile\nReport: targets vs measured, latency distributions per stage, one-core and two-core throughput with\nthe cross-core round trip, memory, kernel variant and CPU features. The full run takes about a minute.\n\n${flagHelp(FLAGS)}\n`);
    return 0;
  }
  if (typeof f.data === "string") data.unshift(f.data);
  const quick = f.quick === true;
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const v = f[name];
    if (v === undefined) return dflt;
    const x = Number(v);
    if (typeof v !== "string" || !Number.isInteger(x) || x < min || x > max) throw new UsageError(`profile: --${name} must be a whole number in ${min}..${max}, got \`${v}\``);
    return x;
  };
  const reps = int("reps", quick ? 1 : 5, 1, 50);
  const seed = int("seed", 1, 0, 2 ** 31 - 1);
  const strategy = typeof f.strategy === "string" ? f.strategy : "market-maker";
  const { BUILTIN } = await import("../strategy/loader.ts");
  if (!BUILTIN[strategy]) throw new UsageError(`profile: --strategy is a built-in strategy (${Object.keys(BUILTIN).join(", ")}), got \`${strategy}\``);
  if (typeof f["rss-child"] === "string") {
    const { fiveVenueChild } = await import("../profile/measure.ts");
    process.stdout.write(`${JSON.stringify(await fiveVenueChild(f["rss-child"], strategy, seed, quick))}\n`);
    return 0;
  }
  const { findSharedData, runProfile } = await import("../profile/measure.ts");
  const { renderReport } = await import("../profile/report.ts");
  const sharedData = findSharedData(typeof f["shared-data"] === "string" ? f["shared-data"] : null);
  const quiet = f.quiet === true;
  const report = await runProfile({
    quick,
    reps,
    data,
    strategy,
    seed,
    sharedData,
    rssStartMb: RSS_START_MB,
    progress: (msg) => {
      if (!quiet) process.stderr.write(`profile: ${msg}\n`);
    },
  });
  if (typeof f.markdown === "string") {
    try {
      writeFileSync(f.markdown, renderReport(report, true));
    } catch (e) {
      throw new UsageError(`profile: cannot write --markdown ${f.markdown}: ${(e as Error).message}`);
    }
  }
  process.stdout.write(f.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, false));
  return 0;
}
