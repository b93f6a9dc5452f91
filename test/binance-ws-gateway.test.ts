import { afterEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import type { ExecReport, OrderRequest } from "../src/domain/order.ts";
import { BinanceWsGateway, decimalText, putDecimal, type BinanceWsGatewayOptions } from "../src/exec/gateway/binance-ws.ts";
import { HmacSha256Signer, wsApiPayload } from "../src/exec/gateway/sign.ts";
import { SimExchange } from "../src/exec/sim/exchange.ts";
import { startBinanceOrderVenue, type BinanceOrderVenue, type BinanceOrderVenueOptions } from "../src/sim/binance-orders.ts";

const HKEY = "hmac-key";
const HSECRET = "hmac-secret";
const EKEY = "ed-key";
const ed = generateKeyPairSync("ed25519");
const ED_PRIV = ed.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const ED_PUB = ed.publicKey.export({ type: "spki", format: "pem" }).toString();

let venue: BinanceOrderVenue | undefined;
let gw: BinanceWsGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await venue?.stop();
  gw = venue = undefined;
});

function setup(auth: "hmac" | "ed25519", vo: Partial<BinanceOrderVenueOptions> = {}, go: Partial<BinanceWsGatewayOptions> = {}) {
  const ex = new SimExchange({ venue: "binance", balances: { USDT: 100_000, BTC: 2 } });
  ex.listSymbol({ symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001, minNotional: 5, base: "BTC", quote: "USDT" });
  const ts = Date.now() * 1e6;
  ex.onBookLevel("BTC/USDT", "buy", 50_000, 1, ts);
  ex.onBookLevel("BTC/USDT", "sell", 50_010, 1, ts);
  venue = startBinanceOrderVenue({ exchange: ex, keys: [{ apiKey: HKEY, secret: HSECRET }, { apiKey: EKEY, ed25519PublicKey: ED_PUB }], ...vo });
  const creds = auth === "hmac" ? { apiKey: HKEY, secret: HSECRET } : { apiKey: EKEY, privateKey: ED_PRIV };
  gw = new BinanceWsGateway({ url: venue.wsApiUrl, ...creds, timeoutMs: 300, ...go });
  const reports: ExecReport[] = [];
  gw.onReport((r) => reports.push(r));
  return { ex, venue, gw, reports };
}

const order = (cid: string, over: Partial<OrderRequest> = {}): OrderRequest => ({ clientOrderId: cid, venue: "binance", symbol: "BTC/USDT", side: "buy", type: "limit", amount: 0.001, price: 49_000, timeInForce: "GTC", ...over });

async function until(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(2);
  }
}
const of = (reports: ExecReport[], cid: string) => reports.filter((r) => r.clientOrderId === cid).map((r) => r.kind);

describe("BinanceWsGateway against the local venue's WebSocket API", () => {
  for (const auth of ["hmac", "ed25519"] as const) {
    test(`${auth}: place, fill from user data, cancel; the venue sees valid signatures`, async () => {
      const { gw, reports, venue, ex } = setup(auth);
      await gw.start();
      // orders go out as frames built in one C call (c/order.c)
      expect(gw.nativeFrames).toBe(true);
      const sentBefore = gw.client.counters.bytesOut;
      gw.submit(order("p1"));
      expect(gw.client.counters.bytesOut).toBeGreaterThan(sentBefore + 150);
      await until(() => of(reports, "p1").includes("ack"));
      gw.submit(order("m1", { type: "market", amount: 0.02, price: undefined, timeInForce: "IOC" }));
      await until(() => of(reports, "m1").includes("fill"));
      const fill = reports.find((r) => r.clientOrderId === "m1" && r.kind === "fill")!;
      expect(fill.lastPrice).toBe(50_010);
      expect(fill.lastAmount).toBeCloseTo(0.02, 12);
      expect(fill.tradeId).toBeDefined();
      gw.cancel("BTC/USDT", "p1");
      await until(() => of(reports, "p1").includes("cancelled"));
      expect(of(reports, "p1")).toEqual(["ack", "cancelled"]);
      expect(ex.openOrders()).toEqual([]);
      const open = await gw.openOrders("BTC/USDT");
      expect(open).toEqual([]);
      expect(venue.counters.badSignatures).toBe(0);
      expect(venue.counters.authFailures).toBe(0);
      if (auth === "ed25519") expect(gw.counters.logons).toBe(1);
    });
  }

  test("a burst of 2000 HMAC orders in one tick (frames built in C, one reused buffer): every frame arrives intact and signed", async () => {
    const { gw, reports, venue } = setup("hmac", { ordersPer10s: 1e9, weightPerMinute: 1e9 }, { limits: [], userData: false, timeoutMs: 10_000 });
    await gw.start();
    const N = 2000;
    for (let i = 0; i < N; i++) gw.submit(order(`burst-${i}`, { price: 40_000 + i / 100, amount: 0.001 + i * 1e-5, side: i & 1 ? "sell" : "buy", timeInForce: i % 3 === 0 ? "PO" : "GTC" }));
    await until(() => reports.filter((r) => r.kind === "ack" || r.kind === "rejected").length >= N, 10_000);
    expect(venue.counters.badSignatures).toBe(0);
    expect(gw.counters.badMessages).toBe(0);
    // the only refusals are the venue's own (LIMIT_MAKER orders that would cross): -2010
    expect(reports.filter((r) => r.kind === "rejected" && !(r.reason ?? "").startsWith("-2010")).length).toBe(0);
    expect(reports.filter((r) => r.kind === "ack").length).toBeGreaterThan(N / 2);
  });

  test("hold/flush: a step's orders and cancels (C-built and TypeScript-built frames) leave in one socket write, each answered", async () => {
    const { gw, reports, venue } = setup("hmac", { ordersPer10s: 1e9, weightPerMinute: 1e9 }, { limits: [], userData: false });
    await gw.start();
    gw.submit(order("h0"));
    await until(() => of(reports, "h0").includes("ack"));
    const writes0 = gw.client.counters.writes, bytes0 = gw.client.counters.bytesOut;
    gw.hold();
    gw.cancel("BTC/USDT", "h0");
    gw.submit(order("h1", { price: 48_000 }));
    gw.submit(order("h2", { side: "sell", price: 52_000 }));
    expect(gw.client.counters.writes).toBe(writes0);
    gw.flush();
    expect(gw.client.counters.writes).toBe(writes0 + 1);
    expect(gw.client.counters.bytesOut).toBeGreaterThan(bytes0 + 3 * 150);
    await until(() => of(reports, "h0").includes("cancelled") && of(reports, "h1").includes("ack") && of(reports, "h2").includes("ack"));
    expect(venue.counters.badSignatures).toBe(0);
    expect(gw.counters.badMessages).toBe(0);
  });

  test("encodePlace: params in sorted order, signature = HMAC of the sorted payload (Binance's rule)", () => {
    const g = new BinanceWsGateway({ url: "ws://127.0.0.1:9/ws-api/v3", apiKey: HKEY, secret: HSECRET, reconnect: false });
    const text = g.encodePlace(7, order("x1", { price: 49_000.5, amount: 0.00123 }), 1_700_000_000_000);
    const m = JSON.parse(text);
    expect(m.id).toBe(7);
    expect(m.method).toBe("order.place");
    const { signature, ...rest } = m.params;
    expect(Object.keys(rest)).toEqual(Object.keys(rest).sort());
    expect(rest.price).toBe("49000.5");
    expect(rest.quantity).toBe("0.00123");
    expect(signature).toBe(new HmacSha256Signer(HSECRET).sign(wsApiPayload(rest)));
    void g.close();
  });

  test("encodePlaceInto writes encodePlace's text byte for byte (HMAC signed, Ed25519 session; random orders, fixed and shortest decimals)", () => {
    const syms = { "BTC/USDT": { id: "BTCUSDT", priceDecimals: 2, amountDecimals: 5 }, "ETH/USDT": { id: "ETHUSDT" }, "XRP/USDT": { id: "XRPUSDT", priceDecimals: 4, amountDecimals: 0 } };
    const gws = [
      new BinanceWsGateway({ url: "ws://127.0.0.1:9/ws-api/v3", apiKey: HKEY, secret: HSECRET, reconnect: false, symbols: syms, recvWindow: 3000 }),
      new BinanceWsGateway({ url: "ws://127.0.0.1:9/ws-api/v3", apiKey: EKEY, privateKey: ED_PRIV, reconnect: false, symbols: syms }),
    ];
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const dec = new TextDecoder();
    const kinds = ["BTC/USDT", "ETH/USDT", "XRP/USDT", "SOL/USDT"];
    let checked = 0;
    for (let k = 0; k < 3000; k++) {
      const scale = 10 ** Math.floor(rnd() * 12 - 6);
      const price = k % 7 === 0 ? Math.round(rnd() * 1e6) / 100 : rnd() * 1e5 * scale + 1e-9;
      const amount = k % 5 === 0 ? Math.round(rnd() * 1e5) / 1e5 + 0.00001 : rnd() * 100 * scale + 1e-12;
      const type = k % 3 === 0 ? "market" : "limit";
      const tif = (["GTC", "IOC", "FOK", "PO", undefined] as const)[k % 5];
      const req = order(`c-${k}_x`, { symbol: kinds[k % 4]!, side: k & 1 ? "sell" : "buy", type, price: type === "market" ? undefined : price, amount, timeInForce: tif });
      for (const g of gws) {
        const n = g.encodePlaceInto(k, req, 1_700_000_000_000 + k);
        expect(n).toBeGreaterThan(0);
        expect(dec.decode((g as unknown as { frame: Uint8Array }).frame.subarray(0, n))).toBe(g.encodePlace(k, req, 1_700_000_000_000 + k));
        checked++;
      }
    }
    expect(checked).toBe(6000);
    // a client id JSON could not carry as is: the byte path declines, submit falls back to the string path
    expect(gws[0]!.encodePlaceInto(1, order('bad"id'), 1)).toBe(-1);
    for (const g of gws) void g.close();
  });

  test("putDecimal writes decimalText's text or declines (-1), never a different text", () => {
    const buf = new Uint8Array(64), dec = new TextDecoder();
    let seed = 7, wrote = 0;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const xs = [0.1, 0.2, 0.3, 1.005, 2.675, 49000.5, 0.00123, 1e-7, 123456789.123, 0.5, 1.5, 2.5, 1e15, 1e-20, 0, -1, NaN, Infinity];
    for (let k = 0; k < 20000; k++) xs.push(rnd() * 10 ** Math.floor(rnd() * 20 - 10));
    for (const x of xs) {
      for (const d of [undefined, 0, 1, 2, 3, 5, 8]) {
        const e = putDecimal(buf, 0, x, d);
        if (e < 0) continue;
        expect(dec.decode(buf.subarray(0, e))).toBe(decimalText(x, d));
        wrote++;
      }
    }
    expect(wrote).toBeGreaterThan(100_000);
  });

  test("bad signature and unknown key are refused by the venue and reported as rejects", async () => {
    const { gw, reports, venue } = setup("hmac", {}, { userData: false });
    await gw.start();
    const bad = new BinanceWsGateway({ url: venue.wsApiUrl, apiKey: HKEY, secret: "wrong-secret", userData: false });
    bad.onReport((r) => reports.push(r));
    await bad.start();
    bad.submit(order("b1"));
    await until(() => of(reports, "b1").length > 0);
    expect(reports.find((r) => r.clientOrderId === "b1")!.reason).toContain("-1022");
    expect(venue.counters.badSignatures).toBe(1);
    await bad.close();
  });

  test("skewed clock at logon (Ed25519): -1021, the gateway reads the venue's time, corrects, logs on", async () => {
    const { gw, reports, venue } = setup("ed25519", {}, { clock: () => Date.now() - 20_000 });
    await gw.start();
    expect(venue.counters.timestampRejects).toBe(1);
    expect(gw.counters.clockSkews).toBe(1);
    expect(gw.counters.logons).toBe(1);
    expect(Math.abs(gw.clockOffsetMs - 20_000)).toBeLessThan(1000);
    gw.submit(order("z1"));
    await until(() => of(reports, "z1").includes("ack"));
  });

  test("skewed clock on orders (HMAC): reject with -1021, resync, next order accepted", async () => {
    let skew = 0;
    const { gw, reports, venue } = setup("hmac", {}, { clock: () => Date.now() - skew });
    await gw.start();
    skew = 20_000;
    gw.submit(order("k1"));
    await until(() => of(reports, "k1").length > 0);
    expect(reports.find((r) => r.clientOrderId === "k1")!.reason).toContain("-1021");
    await until(() => gw.clockOffsetMs > 19_000);
    gw.submit(order("k2"));
    await until(() => of(reports, "k2").includes("ack"));
    expect(gw.counters.clockSkews).toBe(1);
    expect(venue.counters.timestampRejects).toBe(1);
  });

  test("lost answer: status query by client id recovers the order; never resent", async () => {
    const { gw, reports, venue, ex } = setup("ed25519");
    await gw.start();
    venue.faults.dropNext = 1;
    gw.submit(order("t1"));
    await until(() => of(reports, "t1").includes("ack"));
    await Bun.sleep(400);
    expect(gw.counters.timeouts).toBeGreaterThanOrEqual(1);
    expect(ex.openOrders().length).toBe(1);
    expect(venue.counters.placed).toBe(1);
    // internal error before the engine saw it: status query finds nothing -> rejected as not placed
    venue.faults.errorNext = 1;
    gw.submit(order("t2"));
    await until(() => of(reports, "t2").length > 0);
    expect(of(reports, "t2")).toEqual(["rejected"]);
    expect(gw.counters.lostPlacements).toBe(1);
    expect(venue.counters.placed).toBe(1);
  });

  test("duplicate user-data events and duplicate client ids: fills counted once, the duplicate order rejected", async () => {
    const { gw, reports, venue } = setup("ed25519", { faults: { duplicateEvents: true } });
    await gw.start();
    gw.submit(order("f1", { type: "market", amount: 0.01, price: undefined, timeInForce: "IOC" }));
    await until(() => of(reports, "f1").includes("expired") || of(reports, "f1").filter((k) => k === "fill").length > 0);
    await Bun.sleep(50);
    expect(of(reports, "f1").filter((k) => k === "fill").length).toBe(1);
    expect(gw.tracker.counters.duplicates + gw.tracker.counters.staleStatus).toBeGreaterThan(0);
    gw.submit(order("f2"));
    await until(() => of(reports, "f2").includes("ack"));
    gw.submit(order("f2"));
    await until(() => of(reports, "f2").includes("rejected"));
    expect(venue.counters.rejected).toBe(1);
  });

  test("unknown order cancel: cancel_rejected with -2011", async () => {
    const { gw, reports } = setup("hmac");
    await gw.start();
    gw.cancel("BTC/USDT", "ghost");
    await until(() => of(reports, "ghost").length > 0);
    const r = reports.find((x) => x.clientOrderId === "ghost")!;
    expect(r.kind).toBe("cancel_rejected");
    expect(r.reason).toContain("-2011");
  });

  test("429 then 418: the limiter stops orders locally instead of sending into the ban", async () => {
    const { gw, reports, venue } = setup("hmac", { ordersPer10s: 2, banAfter: 100 }, { userData: false });
    await gw.start();
    for (let i = 0; i < 4; i++) gw.submit(order(`r${i}`));
    await until(() => reports.filter((r) => r.clientOrderId.startsWith("r")).length >= 4);
    expect(venue.counters.http429).toBeGreaterThanOrEqual(1);
    expect(gw.limiter.counters.http429).toBeGreaterThanOrEqual(1);
    const sent = venue.counters.wsRequests;
    gw.submit(order("r9"));
    expect(reports.find((r) => r.clientOrderId === "r9")!.reason).toContain("rate limit");
    expect(venue.counters.wsRequests).toBe(sent); // refused locally, nothing sent
  });

  test("error storm trips once, calls the hook, refuses new orders", async () => {
    let storms = 0;
    const { gw, reports, venue } = setup("hmac", {}, { errorStorm: { threshold: 3, windowMs: 5000 }, onErrorStorm: () => storms++ });
    await gw.start();
    venue.faults.rejectNext = { n: 10 };
    for (let i = 0; i < 4; i++) gw.submit(order(`e${i}`));
    await until(() => storms === 1);
    gw.submit(order("late"));
    expect(reports.find((r) => r.clientOrderId === "late")!.reason).toContain("error storm");
    expect(storms).toBe(1);
  });

  test("venue disconnect: reconnect, re-logon, resubscribe, and trading continues", async () => {
    const { gw, reports, venue } = setup("ed25519");
    await gw.start();
    venue.disconnectAll();
    await until(() => gw.counters.logons >= 2, 5000);
    await gw.whenReady();
    gw.submit(order("after", { type: "market", amount: 0.001, price: undefined, timeInForce: "IOC" }));
    await until(() => of(reports, "after").includes("fill"));
    expect(gw.counters.reconnects).toBe(1);
  });
});
