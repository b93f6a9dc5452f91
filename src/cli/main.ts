#!/usr/bin/env bun
/**
 * bot4 — the one executable. Kept tiny: `--version` and `--help` load nothing else; each command
 * is imported when it runs (ccxt, the kernels and the engine cost start-up time).
 */
import pkg from "../../package.json" with { type: "json" };
import { UsageError } from "./args.ts";

const COMMANDS: Record<string, { about: string; load: () => Promise<{ main: (args: string[]) => Promise<number> }> }> = {
  run: { about: "run the engine (no .env: paper trading on bundled recorded data)", load: () => import("./run.ts") },
  backtest: { about: "replay recorded data through the engine and a strategy against simulated venues; results.json + report.html", load: () => import("./backtest.ts") },
  "verify-book": { about: "replay a raw capture through the book code; JSON summary of gaps, resyncs, checks", load: () => import("./verify-book.ts") },
  record: { about: "record a venue's live market data (native handler) into a tick file", load: () => import("./record.ts") },
  import: { about: "convert recorded captures (Binance, Tardis CSV, cryptofeed logs, JSON lines) into a tick file", load: () => import("./import.ts") },
  model: { about: "predict with an XGBoost JSON or LightGBM text model: bot4 model predict --model M --input I [--raw]", load: () => import("./model.ts") },
  profile: { about: "Performance Profile Report: targets vs measured, latency per stage, throughput, memory (--json, --markdown FILE)", load: () => import("./profile.ts") },
  info: { about: "version, CPU features, kernel variant, huge pages, pools, configuration", load: () => import("./info.ts") },
};

export function usage(): string {
  return `bot4 ${pkg.version} — low-latency crypto trading engine

usage: bot4 <command> [flags]

commands:
${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(12)} ${c.about}`).join("\n")}

global flags:
  --help, -h     this help (or \`bot4 <command> --help\`)
  --version, -v  print the version

Configuration comes from environment variables (BOT4_*), read from .env in the working
directory; \`bot4 info\` prints the effective values and \`bot4 info --settings\` lists them all.
`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(usage());
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === "--version" || cmd === "-v" || cmd === "version") {
    process.stdout.write(`bot4 ${pkg.version}\n`);
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) throw new UsageError(`unknown command \`${cmd}\`; commands: ${Object.keys(COMMANDS).join(", ")} (see \`bot4 --help\`)`);
  return (await c.load()).main(rest);
}

/** Prints an error as one clear message (a stack only at debug level) and returns its exit code. */
export function reportError(e: unknown): number {
  const err = e as Error & { exitCode?: number };
  const debug = process.env.BOT4_LOG_LEVEL === "debug" || process.env.BOT4_LOG_LEVEL === "trace";
  process.stderr.write(`bot4: ${err?.message ?? String(e)}\n`);
  if (debug && err?.stack) process.stderr.write(`${err.stack}\n`);
  if (typeof err?.exitCode === "number") return err.exitCode;
  // configuration, usage and start-up checks are the user's to fix: exit code 2
  return ["ConfigError", "UsageError", "KernelLoadError", "LayoutMismatchError", "DataFileError", "RingError", "UnknownCaptureError", "TickFileError", "ModelError", "StrategyError", "MetricsError", "ProfileError"].includes(err?.name) ? 2 : 1;
}

if (Bun.isMainThread) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.exitCode = reportError(e);
    },
  );
}
