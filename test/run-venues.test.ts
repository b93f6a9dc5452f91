/**
 * `bot4 run` with BOT4_VENUES naming the venues of every native feed handler besides Binance
 * (Bybit v5, OKX v5, Coinbase Advanced Trade, Kraken v2) and a venue reached through ccxt pro
 * (ccxt's `binanceus` class), each pointed by its BOT4_<VENUE>_WS_URL / _REST_URL at a venue
 * simulator on 127.0.0.1 that speaks that venue's public protocol (recorded Bybit, Coinbase and
 * Binance spot captures, the Kraken v2 tape derived from the recorded v1 book, a generated OKX
 * session). Checked, from the source entry: tick and lot sizes come from each venue's instrument
 * data, every book comes in sync and stays so, records flow on every feed, a strategy trades on
 * paper on every venue (orders and fills per venue), the run stops cleanly at --duration; and
 * the refusals: a venue neither native nor ccxt's, a symbol a venue does not list (each kind of
 * venue), a ccxt venue with one endpoint override of two.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBinanceSim, type BinanceSim } from "../src/sim/venues/binance.ts";
import { startBybitSim, type BybitSim } from "../src/sim/venues/bybit.ts";
import { COINBASE_DEFAULT_CAPTURE, startCoinbaseSim, type CoinbaseSim } from "../src/sim/venues/coinbase.ts";
import { KRAKEN_DEFAULT_CAPTURE, loadKrakenTape, startKrakenSim, type KrakenSim } from "../src/sim/venues/kraken.ts";
import { startOkxSim, type OkxSim } from "../src/sim/venues/okx.ts";

const ROOT = join(import.meta.dir, "..");
const DATA = join(ROOT, "..", "shared", "data");
const BYBIT = join(DATA, "cryptofeed-v3", "BYBIT.jsonl.gz");
const SPOT = join(DATA, "hftbacktest", "binance-spot", "btcusdt_20240808.gz");
const HAVE = [BYBIT, SPOT, COINBASE_DEFAULT_CAPTURE, KRAKEN_DEFAULT_CAPTURE].every((f) => existsSync(f));
if (!HAVE) console.warn(`run-venues.test: skipped — a recorded capture under ${DATA} is absent (shared data folder missing)`);
const d = HAVE ? describe : describe.skip;

const dir = mkdtempSync(join(tmpdir(), "bot4-venues-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A strategy that, on every instrument whose book is usable, buys 0.001 at the ask and then sells it at the bid: a taker fill each way on every venue. */
const ROUND_TRIP = `export default class RoundTrip {
  name = "round-trip";
  sent = [];
  onStart(ctx) { this.ctx = ctx; this.sent = ctx.instruments.map(() => 0); }
  onBook(i) {
    const c = this.ctx;
    if (!c.bookUsable(i) || c.openOrders(i) > 0) return;
    if (this.sent[i] === 0) { if (c.submit(i, 0, 0.001, c.ask(i))) this.sent[i] = 1; }
    else if (this.sent[i] === 1 && c.position(i) > 0) { if (c.submit(i, 1, c.position(i), c.bid(i))) this.sent[i] = 2; }
  }
}
`;

interface Sims {
  bybit: BybitSim;
  okx: OkxSim;
  coinbase: CoinbaseSim;
  kraken: KrakenSim;
  binance: BinanceSim;
}
let sims: Sims;
let venueEnv: Record<string, string>;
const strategy = join(dir, "round-trip.ts");

beforeAll(() => {
  if (!HAVE) return;
  writeFileSync(strategy, ROUND_TRIP);
  // the replays start with the first run (Coinbase's recording is 24 s long: a loop restart, which
  // closes every connection, stays outside the 8 s run); an OKX session longer than the runs
  const o = { speed: 1, loop: true, autoStart: false };
  sims = {
    bybit: startBybitSim({ capture: BYBIT, ...o }),
    okx: startOkxSim({ tape: { pushes: 30_000 }, ...o }),
    coinbase: startCoinbaseSim(o),
    kraken: startKrakenSim({ tape: loadKrakenTape(), ...o }),
    binance: startBinanceSim({ market: "spot", captures: [SPOT], ...o }),
  };
  venueEnv = {
    BOT4_VENUES: "bybit,okx,coinbase,kraken,binanceus",
    BOT4_SYMBOLS: "bybit:BTCUSDT,okx:BTC-USDT,coinbase:BTC-USD,kraken:BTC/CHF,binanceus:BTCUSDT",
    BOT4_BYBIT_WS_URL: sims.bybit.wsUrl, BOT4_BYBIT_REST_URL: sims.bybit.httpUrl,
    BOT4_OKX_WS_URL: sims.okx.wsUrl, BOT4_OKX_REST_URL: sims.okx.httpUrl,
    BOT4_COINBASE_WS_URL: sims.coinbase.wsUrl, BOT4_COINBASE_REST_URL: sims.coinbase.httpUrl,
    BOT4_KRAKEN_WS_URL: sims.kraken.wsUrl, BOT4_KRAKEN_REST_URL: sims.kraken.httpUrl,
    // ccxt's binanceus class: every one of its REST and WS endpoints pointed at the Binance spot simulator
    BOT4_BINANCEUS_WS_URL: sims.binance.wsUrl, BOT4_BINANCEUS_REST_URL: sims.binance.httpUrl,
    BOT4_JOURNAL: "off",
  };
}, 60_000);
afterAll(async () => {
  if (sims) await Promise.all(Object.values(sims).map((s) => s.stop()));
});

function env(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", BOT4_LOG_LEVEL: "warn", ...venueEnv, ...extra };
}

async function run(args: string[], extra: Record<string, string> = {}) {
  const t0 = performance.now();
  const p = Bun.spawn([process.execPath, join(ROOT, "src", "cli", "main.ts"), "run", ...args], { cwd: dir, env: env(extra), stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err, wallS: (performance.now() - t0) / 1000 };
}

d("bot4 run on Bybit, OKX, Coinbase, Kraken (native feeds) and a ccxt venue, against their simulators", () => {
  test("books in sync, records on every feed, paper trades on every venue, a clean stop", async () => {
    for (const s of Object.values(sims)) s.start();
    const r = await run(["--duration", "8", "--json", "--strategy", strategy]);
    expect(r.err).not.toMatch(/bot4: /);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.market).toBe("venues");
    expect(res.stoppedBy).toBe("duration");
    // one feed per venue, in BOT4_VENUES order, each with records in its ring and nothing dropped
    expect(res.feeds).toHaveLength(5);
    for (const f of res.feeds) {
      expect(f.produced).toBeGreaterThan(0);
      expect(f.dropped).toBe(0);
    }
    expect(res.live).toHaveLength(5);
    for (const l of res.live) expect(l.counters.records).toBeGreaterThan(0);
    // unified symbols; every book in sync at the end with levels on both sides and no gap
    const symbols = ["bybit:BTC/USDT:USDT", "okx:BTC/USDT", "coinbase:BTC/USD", "kraken:BTC/CHF", "binanceus:BTC/USDT"];
    expect(res.books.map((b: { symbol: string }) => b.symbol)).toEqual(symbols);
    for (const b of res.books) {
      expect({ symbol: b.symbol, synced: b.synced, gaps: b.gaps, problem: b.problem }).toEqual({ symbol: b.symbol, synced: true, gaps: 0, problem: null });
      expect(b.depth[0]).toBeGreaterThan(0);
      expect(b.depth[1]).toBeGreaterThan(0);
      expect(b.bid).toBeLessThan(b.ask);
      expect(b.snapshots).toBeGreaterThan(0);
      // updates applied after the snapshot (Bybit's through the engine's own u-chain check, rule SEQ)
      expect(b.applied).toBeGreaterThan(0);
    }
    expect(res.trading.perInstrument.map((p: { venue: string; symbol: string }) => `${p.venue}:${p.symbol}`)).toEqual(symbols);
    // every venue traded on paper: the round-trip strategy's buy and sell filled
    const perVenue = Object.fromEntries(res.trading.perVenue.map((v: { venue: string }) => [v.venue, v]));
    for (const v of ["bybit", "okx", "coinbase", "kraken", "binanceus"]) {
      expect({ venue: v, orders: perVenue[v].orders >= 2, fills: perVenue[v].fills >= 2, rejected: perVenue[v].rejectedByVenue }).toEqual({ venue: v, orders: true, fills: true, rejected: 0 });
    }
    expect(res.trading.strategyError).toBeNull();
    expect(res.trading.openOrders).toBe(0);
    // a clean stop: exit at the duration, not after a timeout
    expect(r.wallS).toBeLessThan(8 + 15);
  }, 90_000);

  test("tick and lot sizes come from each venue's instrument data", async () => {
    for (const s of Object.values(sims)) s.start(); // no-op for a replay already running
    // the strategy API shows the steps the engine was given: a strategy logs them
    const file = join(dir, "steps.ts");
    writeFileSync(file, `export default class Steps { name = "steps"; onStart(ctx) { ctx.log("steps", { steps: ctx.instruments.map((i) => [i.venue + ":" + i.symbol, i.tickSize, i.lotSize]) }); } onBook() {} }\n`);
    const r = await run(["--duration", "1", "--strategy", file]);
    expect(r.code).toBe(0);
    const line = r.err.split("\n").find((l) => l.includes('"steps"'));
    expect(line).toBeDefined();
    const steps = Object.fromEntries((JSON.parse(line!).steps as Array<[string, number, number]>).map(([k, t, l]) => [k, [t, l]]));
    // Bybit instruments-info (recorded): BTCUSDT linear tickSize 0.10, qtyStep 0.001
    expect(steps["bybit:BTC/USDT:USDT"]).toEqual([0.1, 0.001]);
    // OKX instruments (the simulator's instrument): tickSz 0.1, lotSz 0.00000001
    expect(steps["okx:BTC/USDT"]).toEqual([0.1, 1e-8]);
    // Coinbase product (recorded): price_increment 0.01, base_increment 0.00000001
    expect(steps["coinbase:BTC/USD"]).toEqual([0.01, 1e-8]);
    // Kraken AssetPairs (from the capture's precisions): 5 price decimals, 8 qty decimals
    expect(steps["kraken:BTC/CHF"]).toEqual([0.00001, 1e-8]);
    // ccxt's market precision of the Binance spot simulator's exchangeInfo
    const info = (await (await fetch(`${sims.binance.httpUrl}/api/v3/exchangeInfo`)).json()) as { symbols: Array<{ symbol: string; filters: Array<{ filterType: string; tickSize?: string; stepSize?: string }> }> };
    const f = info.symbols.find((s) => s.symbol === "BTCUSDT")!.filters;
    expect(steps["binanceus:BTC/USDT"]).toEqual([Number(f.find((x) => x.filterType === "PRICE_FILTER")!.tickSize), Number(f.find((x) => x.filterType === "LOT_SIZE")!.stepSize)]);
  }, 60_000);

  test("refusals: an unknown venue, a symbol a venue does not list, one ccxt endpoint of two — one clear line, exit 2", async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ BOT4_VENUES: "nosuchvenue", BOT4_SYMBOLS: "nosuchvenue:BTCUSDT" }, /BOT4_VENUES: nosuchvenue is not a venue bot4 can connect to; accepted: binance, binanceusdm, binancecoinm, bybit, okx, coinbase, kraken .*ccxt pro exchange id .*kucoin/],
      [{ BOT4_VENUES: "bybit", BOT4_SYMBOLS: "bybit:NOPEUSDT" }, /BOT4_SYMBOLS: bybit does not list NOPEUSDT/],
      [{ BOT4_VENUES: "okx", BOT4_SYMBOLS: "okx:NOPE-USDT" }, /BOT4_SYMBOLS: okx does not list NOPE-USDT/],
      [{ BOT4_VENUES: "coinbase", BOT4_SYMBOLS: "coinbase:NOPE-USD" }, /BOT4_SYMBOLS: coinbase does not list NOPE-USD/],
      [{ BOT4_VENUES: "kraken", BOT4_SYMBOLS: "kraken:NOPE/USD" }, /BOT4_SYMBOLS: kraken does not list NOPE\/USD/],
      [{ BOT4_VENUES: "binanceus", BOT4_SYMBOLS: "binanceus:NOPEUSDT" }, /BOT4_SYMBOLS: binanceus does not list NOPEUSDT/],
      [{ BOT4_VENUES: "kucoin", BOT4_SYMBOLS: "kucoin:BTC-USDT", BOT4_KUCOIN_WS_URL: "ws://127.0.0.1:1" }, /BOT4_KUCOIN_REST_URL: a ccxt venue's endpoints are overridden together/],
      [{ BOT4_VENUES: "okx,bybit", BOT4_SYMBOLS: "okx:BTC-USDT" }, /BOT4_SYMBOLS: no instrument for bybit/],
    ];
    for (const [extra, pattern] of cases) {
      const r = await run(["--duration", "2"], extra);
      expect({ extra, code: r.code }).toEqual({ extra, code: 2 });
      expect(r.err).toMatch(pattern);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.wallS).toBeLessThan(20);
    }
  }, 120_000);
});
