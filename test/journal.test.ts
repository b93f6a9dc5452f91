import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecReport, OrderRequest } from "../src/domain/order.ts";
import { OrderJournal } from "../src/journal/journal.ts";
import { JournalRing } from "../src/journal/ring.ts";
import { JournalStore } from "../src/journal/store.ts";

const dir = mkdtempSync(join(tmpdir(), "bot4-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `j${n++}.db`);

const req = (cid: string, over: Partial<OrderRequest> = {}): OrderRequest => ({
  clientOrderId: cid, venue: "sim", symbol: "BTC/USDT", side: "buy", type: "limit", price: 100.5, amount: 2, timeInForce: "GTC", strategy: "mm", ...over,
});
const fill = (cid: string, tradeId: string, lastAmount: number, filled: number, amount = 2): ExecReport => ({
  kind: "fill", venue: "sim", symbol: "BTC/USDT", clientOrderId: cid, venueOrderId: "v" + cid, side: "buy", lastAmount, lastPrice: 100.5,
  filled, remaining: amount - filled, fee: 0.01, taker: false, tradeId, venueTimeMs: 1000 + filled,
});

test("intents, reports and fills reach sqlite with every field; a duplicate fill is refused by the database", async () => {
  const path = fresh();
  const j = await OrderJournal.open({ path });
  expect(j.submit(req(`${j.prefix}1`, { side: "sell", type: "market", price: undefined, timeInForce: "IOC", reduceOnly: true }))).toBe(true);
  expect(j.submit(req(`${j.prefix}2`))).toBe(true);
  j.report({ ...fill(`${j.prefix}2`, "t1", 0, 0), kind: "ack", tradeId: undefined });
  j.report(fill(`${j.prefix}2`, "t1", 0.5, 0.5));
  j.report(fill(`${j.prefix}2`, "t1", 0.5, 0.5)); // the venue sent it twice
  j.report(fill(`${j.prefix}2`, "t2", 1.5, 2));
  j.report({ ...fill(`${j.prefix}2`, "", 0, 2), kind: "cancelled", tradeId: undefined }); // stale: already filled
  await j.flush();
  const o1 = j.store.order(`${j.prefix}1`)!;
  expect(o1).toMatchObject({ side: "sell", type: "market", price: null, tif: "IOC", reduce_only: 1, strategy: "mm", status: "pending_new", origin: "local" });
  const o2 = j.store.order(`${j.prefix}2`)!;
  expect(o2).toMatchObject({ status: "filled", filled: 2, venue_id: `v${j.prefix}2`, price: 100.5, amount: 2 });
  const fills = j.store.db.query("SELECT trade_id, amount FROM fills ORDER BY trade_id").all();
  expect(fills).toEqual([{ trade_id: "t1", amount: 0.5 }, { trade_id: "t2", amount: 1.5 }]);
  expect(j.store.positions()[0]).toMatchObject({ qty: 2, cost: 201, fees: 0.02 });
  expect(j.store.positionsFromFills()[0]).toMatchObject({ qty: 2, cost: 201 });
  await j.close();
  const db = new Database(path, { readonly: true });
  expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
  expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(1);
  expect((db.query("SELECT clean FROM sessions").get() as { clean: number }).clean).toBe(1);
  db.close();
});

test("bad input is refused and counted, never half-written: long or non-ASCII ids", async () => {
  const j = await OrderJournal.open({ path: fresh() });
  expect(j.submit(req("x".repeat(40)))).toBe(false);
  expect(j.submit(req("caf\u00e9"))).toBe(false);
  expect(j.counters.refused).toBe(2);
  expect(j.submit(req(`${j.prefix}ok`))).toBe(true);
  await j.flush();
  expect(j.store.allOrders().map((o) => o.client_id)).toEqual([`${j.prefix}ok`]);
  await j.close();
});

test("a full ring refuses the intent instead of letting an unjournaled order through", async () => {
  const j = await OrderJournal.open({ path: fresh(), ringSlots: 16, idleMs: 400 });
  await j.flush(); // the worker now sleeps 400 ms between polls
  let ok = 0;
  for (let i = 0; i < 40; i++) if (j.submit(req(`${j.prefix}${i}`))) ok++;
  expect(ok).toBeLessThanOrEqual(16);
  expect(j.counters.refused).toBe(40 - ok);
  await j.flush();
  expect(j.store.allOrders().length).toBe(ok);
  await j.close();
});

test("kill -9 before the worker commits: the ring tail is replayed into sqlite on the next open", async () => {
  const path = fresh();
  const src = `
    import { OrderJournal } from ${JSON.stringify(join(import.meta.dir, "../src/journal/journal.ts"))};
    const j = await OrderJournal.open({ path: ${JSON.stringify(path)}, idleMs: 60000 }); // the worker polled once before 'ready', now sleeps a minute
    for (let i = 0; i < 500; i++) j.submit({ clientOrderId: j.prefix + i, venue: "sim", symbol: "BTC/USDT", side: "buy", type: "limit", price: 1, amount: 1, timeInForce: "GTC" });
    process.kill(process.pid, "SIGKILL");`;
  const script = join(dir, "crash.ts");
  writeFileSync(script, src);
  const p = Bun.spawn([process.execPath, script], { stderr: "pipe" });
  expect(await p.exited).not.toBe(0);
  const before = new JournalStore(path);
  expect(before.allOrders().length).toBe(0); // nothing was committed: the worker was asleep
  before.close();
  const j = await OrderJournal.open({ path });
  expect(j.counters.replayed).toBe(501); // the route record and 500 intents
  expect(j.store.allOrders().length).toBe(500);
  expect(j.store.allOrders().every((o) => o.status === "pending_new")).toBe(true);
  await j.close();
  const again = await OrderJournal.open({ path }); // replayed once: nothing the second time
  expect(again.counters.replayed).toBe(0);
  expect(again.store.allOrders().length).toBe(500);
  await again.close();
});

test("a corrupt or foreign file is refused with its path and what to do", async () => {
  const garbage = fresh();
  writeFileSync(garbage, "this is not a database at all, just some text that is long enough");
  expect(() => new JournalStore(garbage)).toThrow(/not a sqlite database.*move it away/);
  const foreign = fresh();
  const db = new Database(foreign, { create: true });
  db.exec("CREATE TABLE t (x)");
  db.close();
  expect(OrderJournal.open({ path: foreign })).rejects.toThrow(new RegExp(`${foreign}.*not a Bot4 journal`));
  const ringPath = fresh() + "-ring";
  writeFileSync(ringPath, new Uint8Array(8192).fill(7));
  expect(() => JournalRing.open(ringPath)).toThrow(/not a Bot4 journal ring.*move it away/);
});
