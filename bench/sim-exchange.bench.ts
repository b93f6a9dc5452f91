/**
 * Simulated exchange throughput. (1) A backtest-shaped replay of real Binance USD-M BTCUSDT
 * market data (../shared/data/hftbacktest: REST snapshot, depth diffs, trades) into SimExchange
 * through SimGateway on a VirtualClock, with a quoting strategy that keeps a post-only bid and
 * ask at the touch (cancel + replace when the touch moves) and sends an IOC taker now and then:
 * events/s and orders/s, beside the same replay with no orders (the market-data cost alone).
 * (2) Per-operation medians/p99 on a 200-level book: a marketable IOC walking 3 levels (the
 * levels put back after each), a GTC that rests plus its cancel, a print that fills a resting order.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { OrderRequest } from "../src/domain/order.ts";
import { SimExchange } from "../src/exec/sim/exchange.ts";
import { SimGateway, VirtualClock } from "../src/exec/sim/gateway.ts";
import { BpsFeeModel, ConstantLatency, ProbQueue } from "../src/exec/sim/models.ts";
import { done, figure, micro, section } from "./harness.ts";

const FILE = resolve(import.meta.dir, "../../shared/data/hftbacktest/binance-usdm/btcusdt_20240808.gz");
if (!existsSync(FILE)) {
  console.error(`skipping sim-exchange bench: ${FILE} is absent`);
  done();
  process.exit(0);
}
const SYM = "BTC/USDT:USDT";
const SPEC = { symbol: SYM, tickSize: 0.1, lotSize: 0.001, minNotional: 5, base: "BTC", quote: "USDT" };

// market data as flat arrays, decoded once outside the timed runs: kind 0 bid level, 1 ask level, 2 trade (buyer taker), 3 trade (seller taker)
const lines = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(FILE)))).split("\n");
const kind: number[] = [], ts: number[] = [], px: number[] = [], qty: number[] = [];
let snapId = -1;
for (const l of lines) {
  const sp = l.indexOf(" ");
  if (sp < 0) continue;
  const t = Number(l.slice(0, sp)), body = l.slice(sp + 1);
  if (body.startsWith('{"lastUpdateId"')) {
    const s = JSON.parse(body) as { lastUpdateId: number; bids: string[][]; asks: string[][] };
    snapId = s.lastUpdateId;
    for (const [p, q] of s.bids) kind.push(0), ts.push(t), px.push(+p!), qty.push(+q!);
    for (const [p, q] of s.asks) kind.push(1), ts.push(t), px.push(+p!), qty.push(+q!);
  } else if (snapId >= 0 && body.includes('"depthUpdate"')) {
    const d = JSON.parse(body).data as { u: number; b: string[][]; a: string[][] };
    if (d.u < snapId) continue;
    for (const [p, q] of d.b) kind.push(0), ts.push(t), px.push(+p!), qty.push(+q!);
    for (const [p, q] of d.a) kind.push(1), ts.push(t), px.push(+p!), qty.push(+q!);
  } else if (snapId >= 0 && body.includes('"trade"')) {
    const d = JSON.parse(body).data as { p: string; q: string; m: boolean };
    kind.push(d.m ? 3 : 2), ts.push(t), px.push(+d.p), qty.push(+d.q);
  }
}
const E = kind.length;
section(`Binance USD-M BTCUSDT replay: ${E} market-data events (level changes and prints) after the snapshot`);

function replay(withOrders: boolean): { orders: number; reports: number; ms: number } {
  const clock = new VirtualClock(ts[0]!);
  const ex = new SimExchange({ venue: "sim", fees: new BpsFeeModel(-0.5, 4.5), queue: new ProbQueue(2), balances: { USDT: 1e9, BTC: 1e4 } });
  ex.listSymbol(SPEC);
  const gw = new SimGateway(ex, clock, new ConstantLatency(200_000, 200_000, 100_000));
  let reports = 0, orders = 0, bidId = "", askId = "", bidPx = 0, askPx = 0, n = 0;
  gw.onReport(() => reports++);
  const req = (side: "buy" | "sell", price: number | undefined, tif: OrderRequest["timeInForce"]): OrderRequest => ({
    clientOrderId: `q${++n}`, venue: "sim", symbol: SYM, side, type: price === undefined ? "market" : "limit", amount: 0.01, price, timeInForce: tif,
  });
  const t0 = performance.now();
  for (let i = 0; i < E; i++) {
    const k = kind[i]!, t = ts[i]!;
    clock.advanceTo(t);
    if (k < 2) ex.onBookLevel(SYM, k ? "sell" : "buy", px[i]!, qty[i]!, t);
    else ex.onTrade(SYM, px[i]!, qty[i]!, k === 2 ? "buy" : "sell", t);
    if (!withOrders || i % 8 !== 0) continue;
    const bid = ex.best(SYM, "buy"), ask = ex.best(SYM, "sell");
    if (!(bid > 0 && ask > 0)) continue;
    if (bid !== bidPx) {
      if (bidId) gw.cancel(SYM, bidId);
      const r = req("buy", bid, "PO");
      gw.submit(r);
      bidId = r.clientOrderId, bidPx = bid, orders += 2;
    }
    if (ask !== askPx) {
      if (askId) gw.cancel(SYM, askId);
      const r = req("sell", ask, "PO");
      gw.submit(r);
      askId = r.clientOrderId, askPx = ask, orders += 2;
    }
    if (i % 400 === 0) gw.submit(req(i % 800 ? "buy" : "sell", undefined, "IOC")), orders++;
  }
  clock.drain();
  return { orders, reports, ms: performance.now() - t0 };
}

const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
const base: number[] = [], full: number[] = [];
let last = { orders: 0, reports: 0, ms: 0 };
for (let r = 0; r < 5; r++) {
  base.push(replay(false).ms);
  last = replay(true);
  full.push(last.ms);
}
const baseMs = med(base), fullMs = med(full);
figure("replay_md_only_events_per_s", E / (baseMs / 1e3), "/s", `${baseMs.toFixed(0)} ms for the capture, no orders`);
figure("replay_with_orders_events_per_s", E / (fullMs / 1e3), "/s", `${last.orders} requests, ${last.reports} reports`);
figure("orders_per_s_incl_matching", last.orders / (Math.max(1e-3, fullMs - baseMs) / 1e3), "/s", "requests over the time the orders added (gateway, clock, matching, reports)");

// per operation on a 200-level book
const ex = new SimExchange({ venue: "sim", fees: new BpsFeeModel(-0.5, 4.5), balances: { USDT: 1e12, BTC: 1e9 } });
ex.listSymbol(SPEC);
for (let i = 0; i < 200; i++) {
  ex.onBookLevel(SYM, "buy", 60000 - i * 0.1, 1, 0);
  ex.onBookLevel(SYM, "sell", 60000.1 + i * 0.1, 1, 0);
}
let id = 0;
await micro("place_ioc_walk_3_levels", () => {
  const rs = ex.place({ clientOrderId: `t${++id}`, venue: "sim", symbol: SYM, side: "buy", type: "limit", amount: 3, price: 60000.3, timeInForce: "IOC" }, id);
  for (let j = 0; j < 3; j++) ex.onBookLevel(SYM, "sell", 60000.1 + j * 0.1, 1, id);
  return rs.length;
});
await micro("place_gtc_rest_then_cancel", () => {
  const c = `g${++id}`;
  ex.place({ clientOrderId: c, venue: "sim", symbol: SYM, side: "sell", type: "limit", amount: 0.5, price: 60005, timeInForce: "GTC" }, id);
  return ex.cancel(SYM, c, id).kind;
});
await micro("print_fills_resting_order", () => {
  const c = `p${++id}`;
  ex.place({ clientOrderId: c, venue: "sim", symbol: SYM, side: "buy", type: "limit", amount: 0.5, price: 59990, timeInForce: "GTC" }, id);
  ex.onTrade(SYM, 59989.9, 0.1, "sell", id); // trades through: fills it
  return id;
});
done();
