/**
 * Soak and peak load through the whole paper pipeline of the built binary (`bot4 run --market
 * replay`): replay feed threads -> rings -> the engine thread's books, state, indicators, the
 * default strategy, pre-trade risk, simulated venues and the order journal.
 *
 *  - soak: the bundled recording looped until >= --ticks records (default 100 M) went through at
 *    full speed (the feeds wait on a full ring: backpressure, counted as ring waits). RSS is
 *    sampled every second by the run itself; growth is the end against the first sample after
 *    warm-up (10 % of the run, at least 10 s). Drops must be 0.
 *  - peak: the feeds publish at a fixed rate and drop what a full ring cannot take (a venue does
 *    not wait); the rate rises by 25 % per 4-second step until the first drop. Reported: that
 *    rate, and latency (receive -> consume, tick -> decision) at 90 % of it.
 *
 * `bun bench/soak.bench.ts [--ticks N] [--json] [--soak-only | --peak-only]`
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const json = args.includes("--json");
const ti = args.indexOf("--ticks");
const ticks = ti >= 0 ? Number(args[ti + 1]) : 100e6;
const soakOnly = args.includes("--soak-only"), peakOnly = args.includes("--peak-only");
const root = join(import.meta.dir, "..");
const BIN = join(root, "build", "bot4");
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`make\` first`);
const dir = mkdtempSync(join(tmpdir(), "bot4-soak-"));
const log = (s: string) => {
  if (!json) console.log(s);
};

interface RunResult {
  consumed: number;
  elapsedS: number;
  throughputPerS: number;
  feeds: Array<{ produced: number; dropped: number; waits: number }>;
  latencyNs: { p50: number; p99: number; p999: number; count: number };
  rssKb: { start: number; peak: number; end: number; samples: number[] };
  trading: { orders: number; fills: number; openOrders: number; latency: Record<string, { p50: number; p99: number; p999: number; count: number }>; shutdown: { stillLive: number } } | null;
  books: Array<{ synced: boolean; gaps: number; resyncs: number }>;
}

function run(extra: string[], env: Record<string, string> = {}): RunResult {
  const p = Bun.spawnSync([BIN, "run", "--market", "replay", "--json", ...extra], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", BOT4_LOG_LEVEL: "error", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`bot4 run ${extra.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().slice(-1000)}`);
  return JSON.parse(p.stdout.toString().trim().split("\n").pop()!) as RunResult;
}

const us = (ns: number) => `${(ns / 1e3).toFixed(1)} µs`;
const out: Record<string, unknown> = {};
try {
  const one = run(["--speed", "max", "--journal", "off"]);
  const perPass = one.consumed;
  out.recordsPerPass = perPass;
  if (!peakOnly) {
    const passes = Math.ceil(ticks / perPass);
    log(`soak: ${passes} passes of the bundled recording (${perPass.toLocaleString("en-US")} records each) at full speed, journal on`);
    const r = run(["--speed", "max", "--loop", String(passes), "--journal", join(dir, "soak.sqlite")]);
    const s = r.rssKb.samples;
    const warm = Math.min(s.length - 1, Math.max(10, Math.floor(s.length / 10)));
    const atWarm = s[warm]!;
    const after = s.slice(warm);
    const growth = (r.rssKb.end - atWarm) / atWarm;
    const maxGrowth = (Math.max(...after) - atWarm) / atWarm;
    const dropped = r.feeds.reduce((a, f) => a + f.dropped, 0);
    const waits = r.feeds.reduce((a, f) => a + f.waits, 0);
    out.soak = {
      ticks: r.consumed, seconds: r.elapsedS, ticksPerS: r.throughputPerS, dropped, ringWaits: waits,
      rssMb: { start: s[0]! / 1024, afterWarmup: atWarm / 1024, end: r.rssKb.end / 1024, peak: r.rssKb.peak / 1024 },
      rssGrowthAfterWarmup: growth, rssMaxGrowthAfterWarmup: maxGrowth,
      receiveToConsume: r.latencyNs, orders: r.trading?.orders, fills: r.trading?.fills, openAtEnd: r.trading?.openOrders,
      books: r.books,
    };
    log(`  ${r.consumed.toLocaleString("en-US")} ticks in ${r.elapsedS.toFixed(1)} s = ${Math.round(r.throughputPerS).toLocaleString("en-US")} ticks/s; dropped ${dropped}; ring waits ${waits}`);
    log(`  RSS: start ${(s[0]! / 1024).toFixed(1)} MB, after warm-up (${warm} s) ${(atWarm / 1024).toFixed(1)} MB, end ${(r.rssKb.end / 1024).toFixed(1)} MB, peak ${(r.rssKb.peak / 1024).toFixed(1)} MB: growth after warm-up ${(growth * 100).toFixed(2)} % (max ${(maxGrowth * 100).toFixed(2)} %; goal <= 5 %)`);
    log(`  orders ${r.trading?.orders}, fills ${r.trading?.fills}, open at the end ${r.trading?.openOrders}; books: ${r.books.map((b) => `${b.synced ? "in sync" : "UNUSABLE"} gaps ${b.gaps}`).join(", ")}`);
  }
  if (!soakOnly) {
    // start at a quarter of the backpressured full speed, +25 % per step until the first drop
    let rate = Math.max(50_000, Math.round(one.throughputPerS / 4 / 1000) * 1000);
    const steps: Array<{ rate: number; dropped: number; p99: number }> = [];
    let firstDrop = 0;
    log("peak: fixed-rate feeds that drop on a full ring, 4 s per step");
    for (let k = 0; k < 30; k++) {
      const r = run(["--loop", "0", "--rate", String(rate), "--duration", "4", "--journal", "off"]);
      const dropped = r.feeds.reduce((a, f) => a + f.dropped, 0);
      steps.push({ rate, dropped, p99: r.latencyNs.p99 });
      log(`  ${rate.toLocaleString("en-US").padStart(11)} records/s: consumed ${Math.round(r.throughputPerS).toLocaleString("en-US")}/s, dropped ${dropped}, receive->consume p99 ${us(r.latencyNs.p99)}`);
      if (dropped > 0) {
        firstDrop = rate;
        break;
      }
      rate = Math.round(rate * 1.25);
    }
    const at90 = Math.round(firstDrop * 0.9);
    const r = at90 > 0 ? run(["--loop", "0", "--rate", String(at90), "--duration", "6", "--journal", "off"]) : null;
    out.peak = {
      steps, firstDropRate: firstDrop,
      at90: r ? { rate: at90, dropped: r.feeds.reduce((a, f) => a + f.dropped, 0), receiveToConsume: r.latencyNs, tickToDecision: r.trading?.latency.tickToDecision ?? null } : null,
    };
    if (r) {
      const t = r.trading?.latency.tickToDecision;
      log(`  first drop at ${firstDrop.toLocaleString("en-US")} records/s; at 90 % (${at90.toLocaleString("en-US")}/s): dropped ${r.feeds.reduce((a, f) => a + f.dropped, 0)}, receive->consume p50 ${us(r.latencyNs.p50)} p99 ${us(r.latencyNs.p99)} p99.9 ${us(r.latencyNs.p999)}${t ? `; tick->decision p50 ${us(t.p50)} p99 ${us(t.p99)} (${t.count} orders)` : ""}`);
    } else log("  no drop up to the last step");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (json) console.log(JSON.stringify(out));
