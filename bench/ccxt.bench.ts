/**
 * The ccxt path against the native path, both fed the same recorded Binance USD-M capture by
 * the venue simulator at speed 0 (as fast as the client takes it), in this process:
 *  - native: the reference client (JSON.parse + BinanceDepthSync on an L2Book, Bun WebSocket);
 *  - ccxt bare: ccxt pro's watchTrades + watchOrderBook loops doing nothing with the results;
 *  - CcxtFeed: the same loops turned into tick records (TRADE / LEVEL / QUOTE) in a TickBuffer.
 * Each figure is wall time from the replay's start until the client has taken the last frame,
 * divided by the frames sent to it. Then the cost of taking level changes from ccxt's book:
 * CcxtFeed's tap (per changed level: ccxt's store + one binary search) beside the O(book) way
 * (compare every level of the book after each update).
 */
import ccxt from "ccxt";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { InstrumentTable } from "../src/domain/instruments.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { CcxtBookTap, CcxtFeed, pointUrlsAt } from "../src/feed/ccxt/adapter.ts";
import { BinanceReferenceClient, bundledUsdmCaptures, loadBinanceTape, startBinanceSim, type BinanceTape } from "../src/sim/venues/binance.ts";
import { createLogger } from "../src/telemetry/log.ts";
import { done, figure, micro, section } from "./harness.ts";

const shared = fileURLToPath(new URL("../../shared/data/hftbacktest/binance-usdm/btcusdt_20240808.gz", import.meta.url));
const files = existsSync(shared) ? [shared] : bundledUsdmCaptures().filter((f) => f.includes("btcusdt"));
const tape: BinanceTape = loadBinanceTape(files, "usdm");
const SYMBOL = "BTC/USDT:USDT";
const quiet = createLogger({ level: "silent" });
const STREAMS = ["btcusdt@depth@0ms", "btcusdt@trade"];

async function until(pred: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

/** Runs one client against a fresh simulator; returns µs per frame sent to it. */
async function replayThrough(name: string, attach: (http: string, ws: string) => Promise<{ caughtUp: (lastSeq: number, trades: number) => boolean; stop: () => Promise<void> }>): Promise<number> {
  const sim = startBinanceSim({ market: "usdm", captures: tape, speed: 0, autoStart: false });
  const c = await attach(sim.httpUrl, sim.wsUrl);
  await until(() => STREAMS.every((s) => sim.subscribers(s) >= 1), "subscriptions");
  let trades = 0;
  for (let i = tape.start; i < tape.count; i++) if (tape.streams[tape.streamOf[i]!] === "btcusdt@trade") trades++;
  const t0 = performance.now();
  sim.start();
  await sim.done;
  const last = sim.venue.book("BTCUSDT")!.lastSeq;
  await until(() => c.caughtUp(last, trades), `${name} to catch up`);
  const ms = performance.now() - t0;
  const frames = sim.connections().reduce((a, x) => a + x.sent, 0);
  await c.stop();
  await sim.stop();
  const us = (ms * 1000) / frames;
  figure(`${name}_us_per_frame`, us, "µs/frame", `${frames} frames in ${ms.toFixed(0)} ms, ${Math.round(frames / (ms / 1000))} frames/s`);
  return us;
}

section(`replay through the simulator at speed 0 (${files.map((f) => f.split("/").pop()).join(", ")}: trades + depth@0ms)`);
const native = await replayThrough("native", async (http, ws) => {
  const c = new BinanceReferenceClient({ httpUrl: http, wsUrl: ws, path: `/stream?streams=${STREAMS.join("/")}`, market: "usdm", symbol: "BTCUSDT" });
  await c.start();
  return { caughtUp: (last, trades) => c.book.lastSeq === last && c.trades === trades, stop: async () => c.stop() };
});

const bare = await replayThrough("ccxt_bare", async (http, ws) => {
  const ex = new (ccxt.pro as unknown as Record<string, new (o: object) => any>).binanceusdm!({ newUpdates: true });
  ex.urls = { ...ex.urls, api: pointUrlsAt(ex.urls.api, http, ws) };
  Object.assign(ex.options, { fetchCurrencies: false, watchOrderBookRate: "0" });
  await ex.loadHttpProxyAgent();
  await ex.loadMarkets();
  let trades = 0, stop = false;
  const loops = [
    (async () => { while (!stop) trades += (await ex.watchTrades(SYMBOL)).length; })().catch(() => {}),
    (async () => { while (!stop) await ex.watchOrderBook(SYMBOL); })().catch(() => {}),
  ];
  return {
    caughtUp: (last, n) => ex.orderbooks[SYMBOL]?.nonce === last && trades >= n,
    stop: async () => {
      stop = true;
      await ex.close();
      await Promise.allSettled(loops);
    },
  };
});

const feed = await replayThrough("ccxt_feed", async (http, ws) => {
  const f = new CcxtFeed({ exchange: "binanceusdm", symbols: [SYMBOL], sink: new TickBuffer(1 << 20), instruments: new InstrumentTable(), endpoint: { http, ws }, exchangeOptions: { watchOrderBookRate: "0" }, log: quiet });
  await f.start();
  return { caughtUp: (last, n) => f.ccxtBook(SYMBOL)?.nonce === last && f.counters.trades >= n && f.counters.bookUpdates > 0, stop: () => f.stop() };
});
figure("ccxt_feed_vs_native", feed / native, "x", "how many times the native path's cost per frame");
figure("ccxt_feed_vs_ccxt_bare", feed / bare, "x", "what the tick records add to ccxt's own work");

section("taking level changes from a ccxt book of 1000 levels a side (one level changed per update)");
const ex = new (ccxt.pro as unknown as Record<string, new (o: object) => any>).binanceusdm!({});
const mk = () => {
  const ob = ex.orderBook({}, Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < 1000; i++) {
    ob.bids.store(60000 - i * 0.1, 1 + (i % 7));
    ob.asks.store(60000.1 + i * 0.1, 1 + (i % 5));
  }
  return ob;
};
const tapped = mk(), tap = new CcxtBookTap();
tap.follow(tapped);
let k = 0;
await micro("tap_per_update", () => {
  tapped.bids.store(60000 - (k++ % 50) * 0.1, 1 + (k % 9));
  const n = tap.ops.length;
  tap.ops.length = 0;
  return n;
});
const plain = mk();
let prevB = plain.bids.map((l: number[]) => [l[0], l[1]]), prevA = plain.asks.map((l: number[]) => [l[0], l[1]]);
await micro("full_book_diff_per_update", () => {
  plain.bids.store(60000 - (k++ % 50) * 0.1, 1 + (k % 9));
  let changes = 0;
  const nb = plain.bids.map((l: number[]) => [l[0], l[1]]), na = plain.asks.map((l: number[]) => [l[0], l[1]]);
  for (let i = 0; i < nb.length; i++) if (prevB[i]?.[0] !== nb[i][0] || prevB[i]?.[1] !== nb[i][1]) changes++;
  for (let i = 0; i < na.length; i++) if (prevA[i]?.[0] !== na[i][0] || prevA[i]?.[1] !== na[i][1]) changes++;
  prevB = nb;
  prevA = na;
  return changes;
});
done();
