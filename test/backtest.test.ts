/**
 * Backtests through the live engine step (TradingCore) on real recorded data: the three built-in
 * strategies trade, results are deterministic for a seed, positions and PnL agree with the
 * simulated venue's fills, and bad input is refused. The arbitrage case needs ../shared/data.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSource } from "../src/backtest/source.ts";
import { backtestResults, runBacktest } from "../src/backtest/run.ts";
import { loadStrategy } from "../src/strategy/loader.ts";
import { main as backtestMain } from "../src/cli/backtest.ts";

const SHARED = join(import.meta.dir, "../../shared/data/hftbacktest");
const haveShared = existsSync(join(SHARED, "binance-spot/btcusdt_20240808.gz"));
if (!haveShared) console.warn(`backtest.test: ${SHARED} is absent; the cross-venue arbitrage case is skipped`);

async function run(name: string, params: Record<string, number> = {}, seed = 1) {
  const src = (await loadSource([])).records;
  const r = await runBacktest({ source: src, strategy: await loadStrategy(name, params), params, seed });
  return { r, res: backtestResults(r, { strategy: name }) };
}

describe("backtest on the bundled Binance USD-M recording", () => {
  test("market maker quotes both sides, gets filled, never holds more than its limit, and is deterministic for a seed", async () => {
    const a = await run("market-maker", { maxPosition: 0.003 });
    const b = await run("market-maker", { maxPosition: 0.003 });
    expect(a.res.orders).toBeGreaterThan(100);
    expect(a.res.fills).toBeGreaterThan(0);
    expect(a.res.strategyError).toBeNull();
    // same seed, same data: same orders, fills, PnL and equity curve
    const strip = (x: typeof a.res) => ({ ...x, run: undefined });
    expect(strip(b.res)).toEqual(strip(a.res));
    expect(b.r.core.curve.equity).toEqual(a.r.core.curve.equity);
    // position never beyond the limit (plus one quote in flight)
    for (const p of a.r.core.curve.positions) expect(Math.abs(p[0]!)).toBeLessThanOrEqual(0.003 + 0.001 + 1e-9);
    // positions agree with the venue's own fills
    const ex = a.r.sims.get("binanceusdm")!;
    const fills = ex.fills("BTC/USDT:USDT", 0);
    const net = fills.reduce((s, f) => s + (f.side === "buy" ? f.lastAmount : -f.lastAmount), 0);
    expect(a.r.core.position(0)).toBeCloseTo(net, 9);
    expect(a.res.fees).toBeCloseTo(fills.reduce((s, f) => s + f.fee, 0), 9);
    expect(a.res.openOrdersAtEnd).toBe(0);
  });

  test("another seed changes client ids, not the market: the strategy still trades", async () => {
    const c = await run("market-maker", {}, 7);
    expect(c.res.seed).toBe(7);
    expect(c.res.orders).toBeGreaterThan(100);
  });

  test("Bollinger mean reversion enters and exits on band crossings of sampled bars", async () => {
    const { res } = await run("bollinger", { barMs: 1000, amount: 0.002 });
    expect(res.orders).toBeGreaterThan(0);
    expect(res.fills).toBeGreaterThan(0);
    // IOC orders: nothing left open, and every order either filled or expired
    expect(res.openOrdersAtEnd).toBe(0);
    for (const p of res.perInstrument) expect(Math.abs(p.position)).toBeLessThanOrEqual(0.002 + 1e-9);
  });

  test("a strategy whose handler throws is stopped with its orders cancelled, and the run reports it", async () => {
    const src = (await loadSource([])).records;
    let books = 0;
    const s = {
      name: "throws",
      ctx: undefined as unknown as import("../src/strategy/api.ts").StrategyContext,
      onStart(c: import("../src/strategy/api.ts").StrategyContext) {
        this.ctx = c;
      },
      onBook(i: number) {
        if (++books === 50) {
          this.ctx.submit(i, 0, 0.001, this.ctx.bid(i) - 50, "GTC");
        }
        if (books === 60) throw new Error("boom");
      },
    };
    const r = await runBacktest({ source: src, strategy: s });
    expect(r.summary.strategyError).toBe("boom");
    expect(books).toBe(60);
    expect(r.summary.openOrders).toBe(0);
  });
});

describe.skipIf(!haveShared)("cross-venue arbitrage (Binance spot + USD-M, same day)", () => {
  test("buys where cheap, sells where dear, stays hedged across the two venues", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-bt-"));
    try {
      const { importFiles } = await import("../src/tickfile/import.ts");
      const out = join(dir, "arb.b4t");
      await importFiles([join(SHARED, "binance-spot/btcusdt_20240808.gz"), join(SHARED, "binance-usdm/btcusdt_20240808.gz")], out);
      const src = (await loadSource([out])).records;
      const params = { takerFeeBps: 0, minEdgeBps: 0, maxPosition: 0.05 };
      const r = await runBacktest({ source: src, strategy: await loadStrategy("arbitrage", params), params });
      const res = backtestResults(r, { strategy: "arbitrage" });
      expect(res.orders).toBeGreaterThan(0);
      expect(res.fills).toBeGreaterThan(0);
      const spot = res.perInstrument.find((p) => p.venue === "binance")!;
      const perp = res.perInstrument.find((p) => p.venue === "binanceusdm")!;
      // hedged: what one leg bought the other sold (IOC legs may fill partially: within one lot per pair)
      expect(Math.abs(spot.position + perp.position)).toBeLessThanOrEqual(0.01);
      expect(Math.abs(spot.position)).toBeLessThanOrEqual(0.05 + 1e-9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bot4 backtest (CLI)", () => {
  test("writes results.json and a self-contained report.html; refuses bad flags clearly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-bt-"));
    const write = process.stdout.write.bind(process.stdout);
    let printed = "";
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(await backtestMain(["--strategy", "market-maker", "--out", dir, "--quiet", "--seed", "3"])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toContain("backtest market-maker");
    const res = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    expect(res.seed).toBe(3);
    expect(res.orders).toBeGreaterThan(0);
    expect(typeof res.sharpe === "number" || res.sharpe === null).toBe(true);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).not.toContain("<script");
    rmSync(dir, { recursive: true, force: true });
    await expect(backtestMain([])).rejects.toThrow(/--strategy/);
    await expect(backtestMain(["--strategy", "market-maker", "--fees", "x"])).rejects.toThrow(/maker,taker/);
    await expect(backtestMain(["--strategy", "nope"])).rejects.toThrow(/neither a built-in/);
    await expect(backtestMain(["--strategy", "market-maker", "--queue", "fifo"])).rejects.toThrow(/conservative or probabilistic/);
  });

  test("measured latency distributions (--latency-file): drawn with the seed, so a seed repeats the run; slower venues change the fills", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-btl-"));
    const run = async (file: string, seed: string) => {
      const out = join(dir, `o-${seed}-${file.split("/").pop()}`);
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = (() => true) as typeof process.stdout.write;
      try {
        expect(await backtestMain(["--strategy", "market-maker", "--out", out, "--quiet", "--seed", seed, "--latency-file", file])).toBe(0);
      } finally {
        process.stdout.write = write;
      }
      return JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    };
    // a measured-looking distribution: mostly 80-150 µs with a tail to 2 ms
    const fast = join(dir, "fast.json"), slow = join(dir, "slow.json");
    const tail = (base: number) => Array.from({ length: 200 }, (_, i) => base + (i % 10) * 7 + (i % 50 === 0 ? 2000 : 0));
    writeFileSync(fast, JSON.stringify({ entryUs: tail(80), responseUs: tail(60) }));
    writeFileSync(slow, JSON.stringify({ entryUs: tail(20_000), responseUs: tail(20_000) }));
    const a = await run(fast, "5"), b = await run(fast, "5"), c = await run(slow, "5");
    expect(a.latencyUs).toMatchObject({ entrySamples: 200, responseSamples: 200 });
    expect({ pnl: a.pnl, orders: a.orders, fills: a.fills }).toEqual({ pnl: b.pnl, orders: b.orders, fills: b.fills });
    expect(a.orders).toBeGreaterThan(0);
    expect({ orders: c.orders, fills: c.fills, pnl: c.pnl }).not.toEqual({ orders: a.orders, fills: a.fills, pnl: a.pnl });
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ entryUs: [1, -2], responseUs: [1] }));
    await expect(backtestMain(["--strategy", "market-maker", "--latency-file", join(dir, "bad.json")])).rejects.toThrow(/entryUs.*non-empty array of latencies/);
    await expect(backtestMain(["--strategy", "market-maker", "--latency-file", join(dir, "none.json")])).rejects.toThrow(/--latency-file/);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
