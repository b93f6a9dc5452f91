import { afterEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import type { ExecReport, OrderRequest } from "../src/domain/order.ts";
import { BinanceWsGateway, type BinanceWsGatewayOptions } from "../src/exec/gateway/binance-ws.ts";
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
      gw.submit(order("p1"));
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
