/**
 * `bot4 backtest --strategy NAME|FILE [--params k=v,...] [DATA...]`: replays recorded data (tick
 * files from `bot4 import` / `bot4 record`, or raw Binance captures) through the engine step
 * that trades live, against simulated venues on a virtual clock; writes results.json and a
 * self-contained report.html, prints the summary. Deterministic for a seed.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  strategy: { value: true, about: "built-in strategy (market-maker, arbitrage, bollinger) or a strategy file (.ts/.js)" },
  params: { value: true, about: "strategy parameters, name=number[,name=number...]" },
  seed: { value: true, about: "seed of the run (client ids, latency draws, probabilistic queue); default 1" },
  "latency-us": { value: true, about: "one-way order entry and report latency, µs (default 100)" },
  "latency-file": { value: true, about: "measured latency distributions instead: JSON {\"entryUs\": [...], \"responseUs\": [...], \"feedUs\": [...]} of samples (µs), drawn with the seed" },
  fees: { value: true, about: "maker,taker fees in bps (default 1,4; a negative maker fee is a rebate)" },
  capital: { value: true, about: "quote capital per venue, and base inventory worth as much per instrument (default 100000)" },
  queue: { value: true, about: "queue model of resting orders: conservative (default) or probabilistic" },
  venue: { value: true, about: "venue of raw Binance captures: binance, binanceusdm (default), binancecoinm" },
  out: { value: true, about: "directory for results.json and report.html (default ./backtest-out)" },
  json: { about: "print the whole results JSON instead of the summary" },
  quiet: { about: "no progress line" },
  help: { about: "this help" },
};

export async function main(args: string[]): Promise<number> {
  const data: string[] = [];
  const f = parseFlags("backtest", args, FLAGS, data);
  if (f.help) {
    process.stdout.write(`usage: bot4 backtest --strategy NAME|FILE [--params k=v,...] DATA...\n\nReplays tick files (.b4t) or raw Binance captures through the live engine step (books, indicators,\nstrategy, pre-trade risk) against simulated venues: price-time matching, queue position, fees,\nmodelled order latency, on a virtual clock. Same data and seed, same results. With no DATA, the\nbundled recording is used.\n\n${flagHelp(FLAGS)}\n`);
    return 0;
  }
  if (typeof f.strategy !== "string") throw new UsageError("backtest: name a strategy with --strategy (market-maker, arbitrage, bollinger, or a file); see `bot4 backtest --help`");
  const num = (name: string, dflt: number, min = 0): number => {
    const v = f[name];
    if (v === undefined) return dflt;
    const x = Number(v);
    if (typeof v !== "string" || !Number.isFinite(x) || x < min) throw new UsageError(`backtest: --${name} must be a number >= ${min}, got \`${v}\``);
    return x;
  };
  const seed = num("seed", 1);
  const latencyNs = num("latency-us", 100) * 1e3;
  const capital = num("capital", 100_000, 1e-9);
  let maker = 1, taker = 4;
  if (typeof f.fees === "string") {
    const parts = f.fees.split(",").map(Number);
    if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x))) throw new UsageError(`backtest: --fees is maker,taker in bps (e.g. 1,4), got \`${f.fees}\``);
    [maker, taker] = parts as [number, number];
  }
  const queue = f.queue === undefined ? "conservative" : f.queue;
  if (queue !== "conservative" && queue !== "probabilistic") throw new UsageError(`backtest: --queue is conservative or probabilistic, got \`${queue}\``);
  const { parseParams, loadStrategy } = await import("../strategy/loader.ts");
  const params = typeof f.params === "string" ? parseParams(f.params) : {};
  const strategy = await loadStrategy(f.strategy, params);
  const { loadSource } = await import("../backtest/source.ts");
  const source = await loadSource(data, typeof f.venue === "string" ? f.venue : "binanceusdm");
  const { runBacktest, backtestResults } = await import("../backtest/run.ts");
  const { renderBacktestReport } = await import("../backtest/html.ts");
  const quiet = f.quiet === true || f.json === true;
  let latencySamples: { entryNs: number[]; responseNs: number[]; feedNs?: number[] } | undefined;
  if (typeof f["latency-file"] === "string") {
    const file = f["latency-file"];
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`backtest: --latency-file ${file}: ${(e as Error).message}`);
    }
    const arr = (k: string, need: boolean): number[] | undefined => {
      const v = j[k];
      if (v === undefined && !need) return undefined;
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0)) {
        throw new UsageError(`backtest: --latency-file ${file}: \`${k}\` must be a non-empty array of latencies in µs (numbers >= 0)`);
      }
      return v.map((x: number) => x * 1e3);
    };
    latencySamples = { entryNs: arr("entryUs", true)!, responseNs: arr("responseUs", true)!, feedNs: arr("feedUs", false) };
  }
  const t0 = performance.now();
  let lastDraw = 0;
  const r = await runBacktest({
    source: source.records,
    strategy,
    params,
    seed,
    entryLatencyNs: latencyNs,
    responseLatencyNs: latencyNs,
    latencySamples,
    makerBps: maker,
    takerBps: taker,
    capital,
    queue,
    log: (msg, fields) => {
      if (!quiet) process.stderr.write(`${msg} ${fields ? JSON.stringify(fields) : ""}\n`);
    },
    progress: quiet
      ? undefined
      : (done, total) => {
          const now = performance.now();
          if (now - lastDraw < 200 && done < total) return;
          lastDraw = now;
          const el = (now - t0) / 1000;
          const eta = done > 0 ? (el * (total - done)) / done : 0;
          const w = 30, k = Math.round((done / total) * w);
          process.stderr.write(`\r[${"#".repeat(k)}${".".repeat(w - k)}] ${((100 * done) / total).toFixed(1)}%  ${done}/${total} records  ${el.toFixed(1)} s  ETA ${eta.toFixed(1)} s   ${done === total ? "\n" : ""}`);
        },
  });
  const results = backtestResults(r, { strategy: f.strategy, params, data: source.names, latencyUs: latencySamples ? { file: f["latency-file"], entrySamples: latencySamples.entryNs.length, responseSamples: latencySamples.responseNs.length } : latencyNs / 1e3, fees: { makerBps: maker, takerBps: taker }, queue, capital });
  const out = resolve(typeof f.out === "string" ? f.out : "backtest-out");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(join(out, "report.html"), renderBacktestReport(r, results));
  if (f.json) {
    process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  } else {
    const fx = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
    process.stdout.write(
      [
        `backtest ${f.strategy} on ${source.names.join(", ")} (seed ${seed})`,
        `  records      ${results.records}  (${fx(results.run.recordsPerS / 1e6, 2)} M/s, ${fx(results.run.wallS, 2)} s)`,
        `  orders       ${results.orders}  fills ${results.fills}  fill ratio ${fx(results.fillRatio, 3)}  open at end ${results.openOrdersAtEnd}`,
        `  PnL          ${fx(results.pnl, 4)}  fees ${fx(results.fees, 4)}  turnover ${fx(results.turnover, 2)}`,
        `  Sharpe       ${fx(results.sharpe, 2)}  Sortino ${fx(results.sortino, 2)}  max drawdown ${fx(results.maxDrawdown, 4)}`,
        `  risk rejects ${JSON.stringify(results.riskRejects)}${results.killSwitch ? `  KILL SWITCH ${JSON.stringify(results.killSwitch)}` : ""}${results.strategyError ? `  STRATEGY ERROR ${results.strategyError}` : ""}`,
        `  written      ${join(out, "results.json")}, ${join(out, "report.html")}`,
        "",
      ].join("\n"),
    );
  }
  return results.strategyError ? 1 : 0;
}
