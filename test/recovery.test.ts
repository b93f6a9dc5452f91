/**
 * Recovery rules (src/journal/recovery.ts) against the simulated exchange: the venue's state is
 * made to differ from the journal's in each way a crash can leave it, then one recovery settles
 * every case; a second recovery changes nothing.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OrderRequest } from "../src/domain/order.ts";
import { SimExchange } from "../src/exec/sim/exchange.ts";
import { RealClock, SimGateway } from "../src/exec/sim/gateway.ts";
import { ConstantLatency } from "../src/exec/sim/models.ts";
import { OrderJournal } from "../src/journal/journal.ts";
import { JournaledGateway } from "../src/journal/journaled-gateway.ts";

const dir = mkdtempSync(join(tmpdir(), "bot4-recovery-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const S = "BTC/USDT";
const ns = (): number => Date.now() * 1e6;

function venue(): SimExchange {
  const ex = new SimExchange({ venue: "sim", balances: { USDT: 1e9, BTC: 1e6 } });
  ex.listSymbol({ symbol: S, tickSize: 0.01, lotSize: 0.001, minNotional: 0, base: "BTC", quote: "USDT" });
  ex.onBookLevel(S, "buy", 99.99, 10, ns());
  ex.onBookLevel(S, "sell", 100.01, 10, ns());
  return ex;
}
const req = (cid: string, over: Partial<OrderRequest> = {}): OrderRequest => ({
  clientOrderId: cid, venue: "sim", symbol: S, side: "buy", type: "limit", price: 99.5, amount: 1, timeInForce: "GTC", ...over,
});

async function scenario(policy: "adopt" | "cancel") {
  const path = join(dir, `r${n++}.db`);
  const ex = venue();
  const j = await OrderJournal.open({ path });
  const p = j.prefix;
  // what the crashed process left: intents journaled, the venue's side of them never journaled
  j.submit(req(`${p}never`)); // journaled, never reached the venue
  j.submit(req(`${p}noack`)); // reached the venue, the ack was lost
  ex.place(req(`${p}noack`), ns());
  j.submit(req(`${p}filled`, { price: 99.8 })); // filled while we were down
  ex.place(req(`${p}filled`, { price: 99.8 }), ns());
  ex.onTrade(S, 99.7, 5, "sell", ns());
  j.submit(req(`${p}cxl`)); // we asked to cancel; the cancel never left
  ex.place(req(`${p}cxl`), ns());
  j.cancel("sim", S, `${p}cxl`);
  j.submit(req(`${p}gone`)); // cancelled at the venue, the report was lost
  ex.place(req(`${p}gone`), ns());
  j.cancel("sim", S, `${p}gone`);
  ex.cancel(S, `${p}gone`, ns());
  ex.place(req(`${p}unknown`, { side: "sell", price: 101 }), ns()); // ours (prefix), never journaled
  ex.place(req("manual-1", { price: 98 }), ns()); // someone else's order on the account
  await j.flush();

  const gw = new JournaledGateway(new SimGateway(ex, new RealClock(), new ConstantLatency(0, 0)), j);
  const rep = await gw.recover({ unknownPolicy: policy, inFlightGraceMs: 0 });
  await Bun.sleep(20); // the cancels sent by recovery reach the venue and answer
  await j.flush();
  const status = (id: string) => j.store.order(id)?.status;
  return { ex, j, p, rep, status, gw };
}

test("recovery settles each crash case by its rule and never resends an order", async () => {
  const { ex, j, p, rep, status, gw } = await scenario("adopt");
  const placed = ex.counters; // venue counters: the number of placements must not grow
  expect(status(`${p}never`)).toBe("expired");
  expect(j.store.order(`${p}never`)!.reason).toMatch(/recovery: not open at venue/);
  expect(ex.order(S, `${p}never`)).toBeUndefined(); // not resent
  expect(status(`${p}noack`)).toBe("open");
  expect(j.store.order(`${p}noack`)!.venue_id).toBe(ex.order(S, `${p}noack`)!.venueOrderId);
  expect(status(`${p}filled`)).toBe("filled");
  expect(j.store.order(`${p}filled`)!.filled).toBe(1);
  expect(status(`${p}cxl`)).toBe("cancelled"); // the cancel was sent again and answered
  expect(ex.order(S, `${p}cxl`)!.status).toBe("cancelled");
  expect(status(`${p}gone`)).toBe("cancelled");
  expect(status(`${p}unknown`)).toBe("open");
  expect(j.store.order(`${p}unknown`)!.origin).toBe("adopted");
  expect(j.store.order("manual-1")).toBeNull();
  expect(rep).toMatchObject({ liveBefore: 5, ackFilled: 1, keptOpen: 1, filled: 1, cancelled: 1, expired: 1, cancelsResent: 1, fillsApplied: 1, adopted: 1, foreignIgnored: 1, positionMismatches: 0 });
  expect(j.store.positions()[0]).toMatchObject({ venue: "sim", symbol: S, qty: 1 });

  // a second recovery finds nothing to do
  const again = await gw.recover({ inFlightGraceMs: 0 });
  expect(again).toMatchObject({ ackFilled: 0, filled: 0, cancelled: 0, expired: 0, cancelsResent: 0, fillsApplied: 0, fillsDuplicate: 1, adopted: 0, positionMismatches: 0 });
  expect(placed.rejects).toBe(0);
  await gw.close();
});

test("policy cancel: an unknown order of ours is journaled, then cancelled at the venue; foreign ones are left alone", async () => {
  const { ex, p, rep, status, gw } = await scenario("cancel");
  expect(rep.cancelledUnknown).toBe(1);
  expect(status(`${p}unknown`)).toBe("cancelled");
  expect(ex.order(S, `${p}unknown`)!.status).toBe("cancelled");
  expect(ex.order(S, "manual-1")!.status).toBe("open");
  await gw.close();
});

test("a position snapshot that differs from the fills is reported and rebuilt from them", async () => {
  const { j, gw } = await scenario("adopt");
  j.store.db.exec("UPDATE positions SET qty = qty + 0.5");
  const rep = await gw.recover({ inFlightGraceMs: 0 });
  expect(rep.positionMismatches).toBe(1);
  expect(j.store.positions()[0]!.qty).toBe(1);
  await gw.close();
});

test("an intent younger than the in-flight grace is looked up only after the grace", async () => {
  const path = join(dir, `r${n++}.db`);
  const ex = venue();
  const j = await OrderJournal.open({ path });
  j.submit(req(`${j.prefix}late`));
  setTimeout(() => ex.place(req(`${j.prefix}late`), ns()), 30); // still on its way when we restart
  const gw = new JournaledGateway(new SimGateway(ex, new RealClock(), new ConstantLatency(0, 0)), j);
  const rep = await gw.recover({ inFlightGraceMs: 150 });
  expect(rep.waitedMs).toBeGreaterThan(0);
  expect(j.store.order(`${j.prefix}late`)!.status).toBe("open");
  await gw.close();
});

test("graceful shutdown cancels open orders, refuses new ones, flushes and closes the journal", async () => {
  const path = join(dir, `r${n++}.db`);
  const ex = venue();
  const j = await OrderJournal.open({ path });
  const gw = new JournaledGateway(new SimGateway(ex, new RealClock(), new ConstantLatency(0, 0)), j);
  const seen: string[] = [];
  gw.onReport((r) => seen.push(`${r.kind}:${r.clientOrderId}`));
  for (let i = 0; i < 5; i++) gw.submit(req(`${j.prefix}${i}`, { price: 99 + i / 100 }));
  await Bun.sleep(20);
  expect(ex.openOrders().length).toBe(5);
  const done = gw.shutdown({ cancelOpen: true, timeoutMs: 2000 });
  gw.submit(req(`${j.prefix}after`));
  const r = await done;
  expect(r).toMatchObject({ cancelsSent: 5, stillLive: 0 });
  expect(ex.openOrders().length).toBe(0);
  expect(ex.order(S, `${j.prefix}after`)).toBeUndefined();
  expect(seen).toContain(`rejected:${j.prefix}after`);
  const { JournalStore } = await import("../src/journal/store.ts");
  const st = new JournalStore(path);
  expect(st.allOrders().filter((o) => o.status === "cancelled").length).toBe(5);
  expect(st.allOrders().length).toBe(5);
  st.close();
});
