/**
 * `bot4 run` in live mode, end to end, without the internet: the built binary connects its native
 * Binance spot feed to a market-data simulator on 127.0.0.1 (a real recorded spot capture) and its
 * order entry (Binance WebSocket API, HMAC-signed) to a local Binance order venue on 127.0.0.1
 * whose matching is a SimExchange held by this test. Checked: orders placed at the venue with
 * valid signatures, every one acknowledged, all cancelled at the clean stop (nothing left open at
 * the venue), the journal on disk agrees, recovery ran against the venue first.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIVE_CONFIRMATION } from "../src/config/load.ts";
import { SimExchange } from "../src/exec/sim/exchange.ts";
import { startBinanceOrderVenue, type BinanceOrderVenue } from "../src/sim/binance-orders.ts";
import { startBinanceSim } from "../src/sim/venues/binance.ts";

const BIN = join(import.meta.dir, "..", "build", "bot4");
const SPOT = join(import.meta.dir, "..", "..", "shared", "data", "hftbacktest", "binance-spot", "btcusdt_20240808.gz");
const dir = mkdtempSync(join(tmpdir(), "bot4-live-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = "live-test-api-key-0123456789";
const SECRET = "live-test-hmac-secret-abcdef0123456789";

function liveEnv(marketWs: string, marketHttp: string, orderWs: string, journal: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", BOT4_LOG_LEVEL: "warn",
    BOT4_MODE: "live", BOT4_LIVE_CONFIRM: LIVE_CONFIRMATION, BOT4_VENUES: "binance", BOT4_SYMBOLS: "binance:BTCUSDT",
    BOT4_BINANCE_WS_URL: marketWs, BOT4_BINANCE_REST_URL: marketHttp, BOT4_BINANCE_ORDER_URL: orderWs,
    BOT4_BINANCE_API_KEY: KEY, BOT4_BINANCE_API_SECRET: SECRET, BOT4_JOURNAL: journal,
  };
}

/**
 * One `bot4 run --duration 8` in live mode against fresh local venues (the order venue's URL and
 * order API from `orderEnv`), with what every clean live run must show: orders sent, none
 * rejected by the venue (the default live throttle of 4 orders/s, burst 8, keeps the strategy
 * inside the venue's limit: risk refuses the excess), no kill switch, recovery against the venue
 * first, every order placed at the venue with a valid signature and none left open there, and
 * the journal agreeing (every order terminal). `more` runs with the venues still up.
 */
async function cleanLiveRun(
  name: string,
  orderEnv: (venue: BinanceOrderVenue) => Record<string, string>,
  more: (c: { res: any; t: any; venue: BinanceOrderVenue; market: ReturnType<typeof startBinanceSim> }) => Promise<void>,
): Promise<void> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`make\``);
  const market = startBinanceSim({ market: "spot", captures: [SPOT], speed: 4, loop: true });
  const ex = new SimExchange({ venue: "binance", balances: { USDT: 1_000_000, BTC: 10 } });
  ex.listSymbol({ symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001, minNotional: 5, base: "BTC", quote: "USDT" });
  const venue = startBinanceOrderVenue({ exchange: ex, keys: [{ apiKey: KEY, secret: SECRET }] });
  const journal = join(dir, `${name}.sqlite`);
  try {
    const env = { ...liveEnv(market.wsUrl, market.httpUrl, venue.wsApiUrl, journal), ...orderEnv(venue) };
    const p = Bun.spawn([BIN, "run", "--duration", "8", "--json"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(err).not.toMatch(/bot4: /);
    expect(code).toBe(0);
    const res = JSON.parse(out);
    expect(res.mode).toBe("live");
    const t = res.trading;
    expect(t.strategyError).toBeNull();
    expect(t.orders).toBeGreaterThan(0);
    expect(t.perVenue[0]).toMatchObject({ venue: "binance", rejectedByVenue: 0 });
    expect(t.killSwitch).toBeNull();
    expect(t.openOrders).toBe(0);
    expect(t.recovery).toHaveLength(1);
    expect(t.recovery[0]).toMatchObject({ liveBefore: 0, refused: 0 });
    expect(venue.counters.badSignatures).toBe(0);
    expect(venue.counters.authFailures).toBe(0);
    expect(venue.counters.placed).toBe(t.orders);
    expect(await ex.openOrders()).toEqual([]);
    const db = new Database(journal, { readonly: true });
    const rows = db.query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status").all() as Array<{ status: string; n: number }>;
    db.close();
    expect(rows.reduce((a, r) => a + r.n, 0)).toBe(t.orders);
    for (const r of rows) expect(["filled", "cancelled", "expired", "rejected"]).toContain(r.status);
    await more({ res, t, venue, market });
  } finally {
    await venue.stop();
    await market.stop();
  }
}

describe("bot4 run: live mode against local Binance venues", () => {
  test.skipIf(!existsSync(SPOT))(`orders reach the venue signed, are acknowledged, and are all cancelled at the clean stop (needs ${SPOT})`, async () => {
    await cleanLiveRun("live", (venue) => ({ BOT4_BINANCE_ORDER_URL: venue.wsApiUrl }), async ({ res }) => {
      expect(res.books[0]).toMatchObject({ symbol: "binance:BTC/USDT", synced: true, gaps: 0 });
    });
  }, 90_000);

  test.skipIf(!existsSync(SPOT))("orders through ccxt's REST client (BOT4_BINANCE_ORDER_API=ccxt, the order URL an http one): placed, acknowledged, all cancelled at the stop, journal agrees", async () => {
    await cleanLiveRun("ccxt", (venue) => ({ BOT4_BINANCE_ORDER_URL: venue.httpUrl, BOT4_BINANCE_ORDER_API: "ccxt" }), async ({ t, venue, market }) => {
      // every order went over REST (ccxt), none over the WebSocket API
      expect(venue.counters.wsRequests).toBe(0);
      expect(venue.counters.restRequests).toBeGreaterThan(t.orders);
      // the native path refuses a REST order URL with what to do
      const bad = Bun.spawn([BIN, "run", "--duration", "2"], { cwd: dir, env: liveEnv(market.wsUrl, market.httpUrl, venue.httpUrl, join(dir, "bad.sqlite")), stdout: "pipe", stderr: "pipe" });
      const [c2, e2] = await Promise.all([bad.exited, new Response(bad.stderr).text()]);
      expect(c2).toBe(2);
      expect(e2).toMatch(/BOT4_BINANCE_ORDER_URL=.*WebSocket API.*BOT4_BINANCE_ORDER_API=ccxt/);
    });
  }, 90_000);

  test.skipIf(!existsSync(SPOT))("a venue that rejects every order: the error storm trips the kill switch, no retry storm, a clean stop", async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`make\``);
    const market = startBinanceSim({ market: "spot", captures: [SPOT], speed: 4, loop: true });
    const ex = new SimExchange({ venue: "binance", balances: { USDT: 1_000_000, BTC: 10 } });
    ex.listSymbol({ symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001, minNotional: 5, base: "BTC", quote: "USDT" });
    const venue = startBinanceOrderVenue({ exchange: ex, keys: [{ apiKey: KEY, secret: SECRET }], faults: { rejectNext: { n: 100_000, code: -2010, msg: "Account has insufficient balance for requested action." } } });
    try {
      const p = Bun.spawn([BIN, "run", "--duration", "10", "--json"], { cwd: dir, env: liveEnv(market.wsUrl, market.httpUrl, venue.wsApiUrl, join(dir, "storm.sqlite")), stdout: "pipe", stderr: "pipe" });
      const [code, out] = await Promise.all([p.exited, new Response(p.stdout).text()]);
      expect(code).toBe(0);
      const t = JSON.parse(out).trading;
      expect(t.killSwitch).not.toBeNull();
      expect(["ERROR_RATE"]).toContain(t.killSwitch.reason);
      // the trip came after about 20 rejections, and stopped the flow: the strategy's later orders were refused by risk
      const rejected = t.perVenue[0].rejectedByVenue;
      expect(rejected).toBeGreaterThanOrEqual(20);
      expect(rejected).toBeLessThanOrEqual(25);
      expect(t.orders).toBe(rejected);
      expect(t.riskRejects.KILL_SWITCH).toBeGreaterThan(0);
      expect(t.openOrders).toBe(0);
      expect(venue.counters.badSignatures).toBe(0);
    } finally {
      await venue.stop();
      await market.stop();
    }
  }, 90_000);
});
