/**
 * Pre-trade risk (src/risk/pretrade.ts): every rule of check() at its boundary (just inside
 * passes, just outside rejects with the exact code) and in the stated order; market orders priced
 * at the collar; the per-venue token bucket refilling over time; limits changed with set() seen
 * by check(), also from a Worker attached to the same SharedArrayBuffer (which also trips the kill
 * switch observed here, and republishes limits while this thread checks: no torn set); reject
 * counters; the kill switch (first reason wins, handlers once per trip, reset, SIGUSR2); and each
 * KillMonitor trigger at and just under its threshold.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { PositionBook } from "../src/exec/positions.ts";
import { KillMonitor, KillReason, KillSwitch, type KillTriggers, marketView, PreTradeRisk, Reject, REJECT_NAMES, REJECT_TEXT, RiskConfig, RiskLimits } from "../src/risk/pretrade.ts";

const BUY = 0, SELL = 1;
const T0 = 1_000_000_000_000; // engine time, ns
const N = 3; // instruments 0, 1 on venue 0; 2 on venue 1

function setup(cfg: Partial<RiskConfig> = {}) {
  const limits = RiskLimits.create(N, cfg);
  const market = marketView(N);
  market.refPrice.set([100, 50, 10]);
  market.usable.fill(1);
  market.updatedNs.fill(T0);
  const positions = new PositionBook(N);
  const kill = new KillSwitch(limits);
  const risk = new PreTradeRisk(limits, market, positions, Int32Array.from([0, 0, 1]), 2, kill);
  return { limits, market, positions, kill, risk };
}

describe("check(): each rule at its boundary", () => {
  test("defaults pass a plain order; nothing counted", () => {
    const { risk, limits } = setup();
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(risk.check(1, SELL, NaN, 1e6, T0)).toBe(Reject.OK);
    expect(limits.rejectCounts()).toEqual({});
  });

  test("kill switch: tripped rejects everything, reset lets orders go again", () => {
    const { risk, kill } = setup();
    kill.trip(KillReason.MANUAL, "test", T0);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    expect(risk.check(0, BUY, -1, 0, T0)).toBe(Reject.KILL_SWITCH); // before sanity
    kill.reset();
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
  });

  test("order sanity: amount, price, instrument, side", () => {
    const { risk } = setup();
    const bad: Array<[number, number, number, number]> = [
      [0, BUY, 100, 0],
      [0, BUY, 100, -1],
      [0, BUY, 100, NaN],
      [0, BUY, 100, Infinity],
      [0, BUY, 0, 1],
      [0, BUY, -100, 1],
      [0, BUY, Infinity, 1],
      [-1, BUY, 100, 1],
      [N, BUY, 100, 1],
      [0.5, BUY, 100, 1],
      [NaN, BUY, 100, 1],
      [0, 2, 100, 1],
      [0, -1, 100, 1],
    ];
    for (const [i, s, p, a] of bad) expect([i, s, p, a, risk.check(i, s, p, a, T0)]).toEqual([i, s, p, a, Reject.BAD_ORDER]);
    expect(risk.check(N - 1, SELL, 10, 1e-9, T0)).toBe(Reject.OK);
  });

  test("book out of sync", () => {
    const { risk, market } = setup();
    market.usable[1] = 0;
    expect(risk.check(1, BUY, 50, 1, T0)).toBe(Reject.BOOK_UNUSABLE);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    market.usable[1] = 1;
    expect(risk.check(1, BUY, 50, 1, T0)).toBe(Reject.OK);
  });

  test("stale book: exactly staleMs old passes, 1 ns more rejects; staleMs 0 = off", () => {
    const { risk, limits } = setup({ staleMs: 250 });
    expect(risk.check(0, BUY, 100, 1, T0 + 250e6)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 1, T0 + 250e6 + 1)).toBe(Reject.STALE_BOOK);
    expect(risk.lastValue).toBe(250e6 + 1);
    expect(risk.lastLimit).toBe(250e6);
    limits.set(RiskConfig.parse({ staleMs: 0 }));
    expect(risk.check(0, BUY, 100, 1, T0 + 3600e9)).toBe(Reject.OK);
  });

  test("no reference price (NaN or 0)", () => {
    const { risk, market } = setup();
    market.refPrice[0] = NaN;
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.NO_REFERENCE_PRICE);
    market.refPrice[0] = 0;
    expect(risk.check(0, BUY, NaN, 1, T0)).toBe(Reject.NO_REFERENCE_PRICE);
  });

  test("price collar: limit prices at +-collarBps pass, a hair beyond rejects", () => {
    const { risk } = setup({ collarBps: 100 }); // 1 % around 100
    expect(risk.check(0, BUY, 101, 1, T0)).toBe(Reject.OK);
    expect(risk.check(0, SELL, 99, 1, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 101.0001, 1, T0)).toBe(Reject.PRICE_COLLAR);
    expect(risk.lastValue).toBe(101.0001);
    expect(risk.lastLimit).toBe(100);
    expect(risk.check(0, SELL, 98.9999, 1, T0)).toBe(Reject.PRICE_COLLAR);
    // the collar is symmetric: a buy far below the reference is also outside it
    expect(risk.check(0, BUY, 98.9999, 1, T0)).toBe(Reject.PRICE_COLLAR);
    expect(risk.check(0, SELL, 101.0001, 1, T0)).toBe(Reject.PRICE_COLLAR);
    // instrument 1 has its own reference (50): 50.5 is its edge
    expect(risk.check(1, BUY, 50.5, 1, T0)).toBe(Reject.OK);
    expect(risk.check(1, BUY, 50.51, 1, T0)).toBe(Reject.PRICE_COLLAR);
  });

  test("market orders are priced at the reference plus/minus the collar", () => {
    // notional of a market buy of 1 = 101 (ref 100, collar 1 %): a 101 cap passes, 100.99 rejects
    const a = setup({ collarBps: 100, maxOrderNotional: 101 });
    expect(a.risk.check(0, BUY, NaN, 1, T0)).toBe(Reject.OK);
    a.limits.set(RiskConfig.parse({ collarBps: 100, maxOrderNotional: 100.99 }));
    expect(a.risk.check(0, BUY, NaN, 1, T0)).toBe(Reject.MAX_ORDER_NOTIONAL);
    expect(a.risk.lastValue).toBeCloseTo(101, 9);
    // a market sell is worth 99: passes the 100.99 cap
    expect(a.risk.check(0, SELL, NaN, 1, T0)).toBe(Reject.OK);
    // and it is at 99 for self-trade: our own bid at 99 blocks it, at 98.99 it does not
    const b = setup({ collarBps: 100 });
    b.market.ownBestBid[0] = 99;
    expect(b.risk.check(0, SELL, NaN, 1, T0)).toBe(Reject.SELF_TRADE);
    b.market.ownBestBid[0] = 98.99;
    expect(b.risk.check(0, SELL, NaN, 1, T0)).toBe(Reject.OK);
    b.market.ownBestAsk[0] = 101;
    expect(b.risk.check(0, BUY, NaN, 1, T0)).toBe(Reject.SELF_TRADE);
    b.market.ownBestAsk[0] = 101.01;
    expect(b.risk.check(0, BUY, NaN, 1, T0)).toBe(Reject.OK);
  });

  test("max order amount, global and per-instrument override", () => {
    const { risk } = setup({ maxOrderAmount: 2, instruments: { "1": { maxOrderAmount: 5 } } });
    expect(risk.check(0, BUY, 100, 2, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 2.000001, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect([risk.lastValue, risk.lastLimit]).toEqual([2.000001, 2]);
    expect(risk.check(1, SELL, 50, 5, T0)).toBe(Reject.OK);
    expect(risk.check(1, SELL, 50, 5.000001, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(risk.check(2, SELL, 10, 2.000001, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
  });

  test("max order notional (amount x limit price)", () => {
    const { risk } = setup({ maxOrderNotional: 1000, instruments: { "2": { maxOrderNotional: 0 } } });
    expect(risk.check(0, BUY, 100, 10, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 10.0001, T0)).toBe(Reject.MAX_ORDER_NOTIONAL);
    expect(risk.check(0, SELL, 99.5, 10.06, T0)).toBe(Reject.MAX_ORDER_NOTIONAL); // 1000.97
    expect(risk.check(0, SELL, 99, 10.1, T0)).toBe(Reject.OK); // 999.9
    expect(risk.check(2, BUY, 10, 1e6, T0)).toBe(Reject.OK); // override 0 = no limit
  });

  test("max position after the order, both sides; reducing orders always allowed", () => {
    const { risk, positions } = setup({ maxPosition: 5 });
    positions.apply(0, BUY, 3, 100, 0);
    expect(risk.check(0, BUY, 100, 2, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 2.001, T0)).toBe(Reject.MAX_POSITION);
    expect(risk.lastValue).toBeCloseTo(5.001, 12);
    expect(risk.lastLimit).toBe(5);
    expect(risk.check(0, SELL, 100, 8, T0)).toBe(Reject.OK); // to -5
    expect(risk.check(0, SELL, 100, 8.001, T0)).toBe(Reject.MAX_POSITION); // flip to -5.001
    // over the limit already (limit lowered): reducing passes, adding does not
    positions.apply(0, BUY, 4, 100, 0); // 7
    expect(risk.check(0, SELL, 100, 1, T0)).toBe(Reject.OK);
    expect(risk.check(0, SELL, 100, 0.5, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 0.001, T0)).toBe(Reject.MAX_POSITION);
    // a flip past the limit on the other side is not "reducing": +7 -> -5.5 rejects, +7 -> -5 passes
    expect(risk.check(0, SELL, 100, 12.5, T0)).toBe(Reject.MAX_POSITION);
    expect(risk.check(0, SELL, 100, 12, T0)).toBe(Reject.OK);
  });

  test("max gross exposure (all instruments at their reference) after the order", () => {
    const { risk, positions } = setup({ maxGrossExposure: 1000 });
    positions.apply(0, BUY, 3, 90, 0); // 3 x ref 100 = 300
    positions.apply(1, SELL, 2, 55, 0); // 2 x ref 50 = 100
    expect(risk.check(0, BUY, 100, 6, T0)).toBe(Reject.OK); // 1000
    expect(risk.check(0, BUY, 100, 6.001, T0)).toBe(Reject.MAX_GROSS_EXPOSURE);
    expect(risk.lastValue).toBeCloseTo(1000.1, 9);
    expect(risk.lastLimit).toBe(1000);
    expect(risk.check(2, SELL, 10, 60, T0)).toBe(Reject.OK); // 400 + 600
    expect(risk.check(2, SELL, 10, 60.01, T0)).toBe(Reject.MAX_GROSS_EXPOSURE);
    // priced at the reference, not the order price
    expect(risk.check(1, SELL, 50.2, 12, T0)).toBe(Reject.OK); // 400 + 12 x 50
    positions.apply(2, BUY, 100, 10, 0); // gross 1400 now
    expect(risk.check(0, SELL, 100, 1, T0)).toBe(Reject.OK); // reducing
    expect(risk.check(1, BUY, 50, 4, T0)).toBe(Reject.OK); // -2 -> +2: |after| not above |pos|
    expect(risk.check(1, BUY, 50, 4.01, T0)).toBe(Reject.MAX_GROSS_EXPOSURE);
  });

  test("throttle: token bucket per venue, burst = one second's rate, refills over time", () => {
    const { risk, limits } = setup({ maxMsgsPerSec: 3, staleMs: 0 });
    for (let k = 0; k < 3; k++) expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(risk.check(1, BUY, 50, 1, T0)).toBe(Reject.THROTTLE); // same venue 0
    expect(risk.check(2, BUY, 10, 1, T0)).toBe(Reject.OK); // venue 1 has its own bucket
    // one token takes 1/3 s
    expect(risk.check(0, BUY, 100, 1, T0 + 333_333_332)).toBe(Reject.THROTTLE);
    expect(risk.check(0, BUY, 100, 1, T0 + 333_333_334)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 1, T0 + 333_333_335)).toBe(Reject.THROTTLE);
    // rejects for another reason take no token
    for (let k = 0; k < 10; k++) expect(risk.check(0, BUY, 100, -1, T0 + 2e9)).toBe(Reject.BAD_ORDER);
    // after a long pause the bucket is full but holds no more than 3
    let ok = 0;
    for (let k = 0; k < 10; k++) if (risk.check(0, BUY, 100, 1, T0 + 10e9) === Reject.OK) ok++;
    expect(ok).toBe(3);
    expect(limits.rejectCounts()).toEqual({ THROTTLE: 3 + 7, BAD_ORDER: 10 });
  });

  test("daily loss: at the limit rejects, a cent inside passes; resetDay clears it", () => {
    const { risk } = setup({ dailyLossLimit: 100 });
    risk.updatePnl(-99.99);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    risk.updatePnl(-100);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.DAILY_LOSS);
    expect([risk.lastValue, risk.lastLimit]).toEqual([100, 100]);
    expect(risk.dayPnl).toBe(-100);
    risk.resetDay();
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
  });

  test("drawdown from the day's peak", () => {
    const { risk } = setup({ maxDrawdown: 50 });
    risk.updatePnl(200);
    risk.updatePnl(150.01);
    expect(risk.drawdown).toBeCloseTo(49.99, 9);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    risk.updatePnl(150);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.DRAWDOWN);
    risk.updatePnl(260); // new peak
    risk.updatePnl(210.5);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    risk.updatePnl(210);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.DRAWDOWN);
  });

  test("self-trade: against our own best resting order on the other side; can be turned off", () => {
    const { risk, market, limits } = setup();
    market.ownBestAsk[0] = 101;
    market.ownBestBid[0] = 99;
    expect(risk.check(0, BUY, 100.99, 1, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 101, 1, T0)).toBe(Reject.SELF_TRADE);
    expect(risk.check(0, SELL, 99.01, 1, T0)).toBe(Reject.OK);
    expect(risk.check(0, SELL, 99, 1, T0)).toBe(Reject.SELF_TRADE);
    expect(risk.check(1, BUY, 51, 1, T0)).toBe(Reject.OK); // other instrument
    limits.set(RiskConfig.parse({ selfTradePrevention: false }));
    expect(risk.check(0, BUY, 101, 1, T0)).toBe(Reject.OK);
  });

  test("rules apply in the stated order: the first failing rule is the reason", () => {
    const { risk, market, positions, limits, kill } = setup({
      collarBps: 100, staleMs: 1000, maxOrderAmount: 10, maxOrderNotional: 1000, maxPosition: 20, maxGrossExposure: 2500,
      maxMsgsPerSec: 1, dailyLossLimit: 100, maxDrawdown: 50,
    });
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK); // takes venue 0's only token
    positions.apply(0, BUY, 15, 100, 0);
    positions.apply(2, BUY, 100, 10, 0); // gross 2500
    market.ownBestAsk[0] = 100.5;
    risk.updatePnl(-200);
    market.usable[0] = 0;
    market.updatedNs[0] = T0 - 2e9;
    market.refPrice[0] = NaN;
    kill.trip(KillReason.MANUAL, "order test", T0);
    // an order that breaks every rule; fix one at a time and watch the reason move down the list
    const order = { price: 0, amount: 12 };
    const seen: number[] = [];
    const step = (fix: () => void) => {
      fix();
      seen.push(risk.check(0, BUY, order.price, order.amount, T0));
    };
    step(() => {});
    step(() => kill.reset());
    step(() => (order.price = 102));
    step(() => (market.usable[0] = 1));
    step(() => (market.updatedNs[0] = T0));
    step(() => (market.refPrice[0] = 100));
    step(() => (order.price = 100.5));
    step(() => (order.amount = 9.99));
    step(() => (order.amount = 7)); // notional ok; position 22 > 20
    step(() => positions.apply(0, SELL, 5, 100, 0)); // 17 after; gross 2000 + 700 > 2500
    step(() => positions.apply(2, SELL, 50, 10, 0)); // gross 2400; venue 0 has no token
    step(() => (market.updatedNs[0] = T0)); // (no-op)
    expect(seen).toEqual([
      Reject.KILL_SWITCH, Reject.BAD_ORDER, Reject.BOOK_UNUSABLE, Reject.STALE_BOOK, Reject.NO_REFERENCE_PRICE,
      Reject.PRICE_COLLAR, Reject.MAX_ORDER_AMOUNT, Reject.MAX_ORDER_NOTIONAL, Reject.MAX_POSITION, Reject.MAX_GROSS_EXPOSURE,
      Reject.THROTTLE, Reject.THROTTLE,
    ]);
    const later = T0 + 1e9; // a token again
    market.updatedNs[0] = later;
    expect(risk.check(0, BUY, order.price, order.amount, later)).toBe(Reject.DAILY_LOSS);
    risk.updatePnl(300);
    risk.updatePnl(-60); // loss 60 < 100, drawdown 360
    expect(risk.check(0, BUY, order.price, order.amount, later)).toBe(Reject.DRAWDOWN);
    risk.resetDay();
    expect(risk.check(0, BUY, order.price, order.amount, later)).toBe(Reject.SELF_TRADE);
    market.ownBestAsk[0] = NaN;
    expect(risk.check(0, BUY, order.price, order.amount, later)).toBe(Reject.OK);
    // every reject counted under its own reason, once
    const counts = limits.rejectCounts();
    for (const name of REJECT_NAMES.slice(1)) expect([name, counts[name]]).toEqual([name, name === "THROTTLE" ? 2 : 1]);
    for (let c = 1; c < REJECT_NAMES.length; c++) expect(limits.counters[c]).toBe(c === Reject.THROTTLE ? 2 : 1);
    expect(limits.counters[0]).toBe(0);
  });

  test("every code has a name and a text", () => {
    for (const [name, code] of Object.entries(Reject)) {
      expect(REJECT_NAMES[code]).toBe(name as keyof typeof Reject);
      expect(REJECT_TEXT[code]!.length).toBeGreaterThan(5);
    }
  });
});

describe("limits: set() seen by check(), config validation", () => {
  test("a new set replaces the old one as a whole", () => {
    const { risk, limits } = setup({ maxOrderAmount: 1, instruments: { "0": { maxPosition: 3 } } });
    const s0 = limits.seq;
    expect(s0 % 2).toBe(0);
    expect(risk.check(0, BUY, 100, 2, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    limits.set(RiskConfig.parse({ maxOrderAmount: 5 }));
    expect(limits.seq).toBe(s0 + 2);
    expect(risk.check(0, BUY, 100, 2, T0)).toBe(Reject.OK);
    expect(risk.check(0, BUY, 100, 4, T0)).toBe(Reject.OK); // the old per-instrument maxPosition is gone
    limits.set(RiskConfig.parse({ maxOrderAmount: 5, maxPosition: 3.5 }));
    expect(risk.check(0, BUY, 100, 4, T0)).toBe(Reject.MAX_POSITION);
    expect(limits.inst(0, 2)).toBe(3.5);
    expect(limits.inst(2, 1)).toBe(Infinity); // 0 = no limit
  });

  test("RiskConfig refuses negative or non-numeric limits; set() refuses them too", () => {
    expect(() => RiskConfig.parse({ maxOrderAmount: -1 })).toThrow();
    expect(() => RiskConfig.parse({ collarBps: "5" })).toThrow();
    expect(() => RiskConfig.parse({ instruments: { "0": { maxPosition: -2 } } })).toThrow();
    const { limits } = setup({ maxOrderAmount: 4 });
    const seq = limits.seq;
    expect(() => limits.set({ maxOrderAmount: -3 } as RiskConfig)).toThrow();
    expect(limits.seq).toBe(seq);
    expect(limits.inst(0, 0)).toBe(4);
    const d = RiskConfig.parse({});
    expect([d.collarBps, d.staleMs, d.selfTradePrevention]).toEqual([500, 5000, true]);
  });
});

// ---- cross-thread ----------------------------------------------------------------------------

const WORKER = new URL("./fixtures/risk-worker.ts", import.meta.url).href;
const workers: Worker[] = [];
afterAll(() => {
  for (const w of workers) w.terminate();
});

function spawn(): { ask: <T = any>(msg: unknown, expectOp?: string) => Promise<T>; wait: <T = any>(op: string) => Promise<T>; w: Worker } {
  const w = new Worker(WORKER);
  workers.push(w);
  const queue: Array<{ op?: string; resolve: (v: any) => void; reject: (e: Error) => void }> = [];
  w.addEventListener("message", (e) => {
    const d = (e as MessageEvent).data;
    const i = queue.findIndex((q) => !q.op || q.op === d.op);
    if (i >= 0) queue.splice(i, 1)[0]!.resolve(d);
  });
  w.addEventListener("error", (e) => {
    for (const q of queue.splice(0)) q.reject(new Error((e as ErrorEvent).message));
  });
  return {
    w,
    wait: (op) => new Promise((resolve, reject) => queue.push({ op, resolve, reject })),
    ask: (msg, expectOp) =>
      new Promise((resolve, reject) => {
        queue.push({ op: expectOp, resolve, reject });
        w.postMessage(msg);
      }),
  };
}

describe("limits and kill switch shared with a Worker", () => {
  test("the worker sees our limits and we see its; its trip reaches us; poll runs our handler once per trip", async () => {
    const { limits, risk, kill } = setup({ maxOrderAmount: 7, instruments: { "1": { maxOrderAmount: 3 } } });
    const { ask } = spawn();
    await ask({ op: "attach", shared: limits.shared, instruments: N }, "attached");
    const r1 = await ask<{ maxOrderAmount0: number; maxOrderAmount1: number; tripped: boolean }>({ op: "read" }, "read");
    expect([r1.maxOrderAmount0, r1.maxOrderAmount1, r1.tripped]).toEqual([7, 3, false]);

    // the worker publishes new limits; our check() decides on them
    expect(risk.check(0, BUY, 100, 5, T0)).toBe(Reject.OK);
    const s = await ask<{ seq: number }>({ op: "set", cfg: { maxOrderAmount: 4 } }, "set");
    expect(limits.seq).toBe(s.seq);
    expect(risk.check(0, BUY, 100, 5, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(risk.check(0, BUY, 100, 4, T0)).toBe(Reject.OK);
    // its rejects land in the same counters
    const c = await ask<{ code: number }>({ op: "check", inst: 0, side: BUY, price: 100, amount: 4.5 }, "check");
    expect(c.code).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(limits.rejectCounts()).toEqual({ MAX_ORDER_AMOUNT: 2 });

    // the worker trips the switch: we see it at once, our handler runs at our poll, once
    const calls: Array<[number, string]> = [];
    kill.onTrip((reason, detail) => calls.push([reason, detail]));
    const t = await ask<{ won: boolean }>({ op: "trip", reason: KillReason.LATENCY_SPIKE, detail: "p99 12 ms" }, "trip");
    expect(t.won).toBe(true);
    expect(kill.tripped).toBe(true);
    expect(kill.reason).toBe(KillReason.LATENCY_SPIKE);
    expect(kill.reasonName).toBe("LATENCY_SPIKE");
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    expect(calls.length).toBe(0);
    kill.poll();
    kill.poll();
    expect(calls.map((x) => x[0])).toEqual([KillReason.LATENCY_SPIKE]);
    // a second trip while tripped loses, here or there
    expect(kill.trip(KillReason.MANUAL, "late")).toBe(false);
    expect((await ask<{ won: boolean }>({ op: "trip", reason: KillReason.ERROR_RATE, detail: "" }, "trip")).won).toBe(false);
    expect(kill.reason).toBe(KillReason.LATENCY_SPIKE);

    // the worker resets and trips again before we poll in between: still one more handler run
    await ask({ op: "reset" }, "reset");
    expect(kill.tripped).toBe(false);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.OK);
    await ask({ op: "trip", reason: KillReason.POSITION_MISMATCH, detail: "x" }, "trip");
    kill.poll();
    kill.poll();
    expect(calls.map((x) => x[0])).toEqual([KillReason.LATENCY_SPIKE, KillReason.POSITION_MISMATCH]);
    // we reset; the worker sees it
    kill.reset();
    const r2 = await ask<{ tripped: boolean; reason: number }>({ op: "read" }, "read");
    expect([r2.tripped, r2.reason]).toEqual([false, 0]);
  });

  test("seqlock: while the worker republishes two limit sets, check() never decides on a mix", async () => {
    // set A: amount <= 1, notional unlimited -> MAX_ORDER_AMOUNT; set B: amount unlimited, notional
    // <= 100 -> MAX_ORDER_NOTIONAL. Only a torn read (B's amount with A's notional) lets it pass.
    const A = { maxOrderAmount: 1, maxOrderNotional: 0, instruments: { "0": { maxPosition: 1 } } };
    const B = { maxOrderAmount: 0, maxOrderNotional: 100, instruments: { "0": { maxPosition: 2 } } };
    const { limits, risk } = setup(A);
    const { ask, wait } = spawn();
    await ask({ op: "attach", shared: limits.shared, instruments: N }, "attached");
    const stop = new SharedArrayBuffer(4);
    const flipping = wait("flipping");
    const flipped = ask<{ sets: number }>({ op: "flip", stop, a: A, b: B }, "flip");
    await flipping;
    const seen = new Map<number, number>();
    const until = performance.now() + 400;
    let n = 0;
    while (performance.now() < until) {
      for (let k = 0; k < 1000; k++, n++) {
        const code = risk.check(0, BUY, 100, 1.5, T0);
        seen.set(code, (seen.get(code) ?? 0) + 1);
      }
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    const { sets } = await flipped;
    expect(sets).toBeGreaterThan(10);
    expect([...seen.keys()].sort()).toEqual([Reject.MAX_ORDER_AMOUNT, Reject.MAX_ORDER_NOTIONAL].sort());
    expect((seen.get(Reject.MAX_ORDER_AMOUNT) ?? 0) + (seen.get(Reject.MAX_ORDER_NOTIONAL) ?? 0)).toBe(n);
  });
});

describe("KillSwitch on one thread", () => {
  test("first reason wins; handlers run once per trip, in order; reset re-arms", () => {
    const { kill, limits } = setup();
    const calls: string[] = [];
    kill.onTrip((r, d) => calls.push(`a${r}:${d}`));
    kill.onTrip((r) => calls.push(`b${r}`));
    expect(kill.tripped).toBe(false);
    expect(kill.reasonName).toBe("NONE");
    expect(kill.trip(KillReason.LOSS_LIMIT, "loss", T0)).toBe(true);
    expect(kill.trip(KillReason.STALE_DATA, "stale", T0)).toBe(false);
    kill.poll();
    expect(calls).toEqual([`a${KillReason.LOSS_LIMIT}:loss`, `b${KillReason.LOSS_LIMIT}`]);
    expect(kill.reason).toBe(KillReason.LOSS_LIMIT);
    expect(kill.detail).toBe("loss");
    expect(limits.slot(6)).toBe(T0); // trip time recorded
    kill.reset();
    expect(kill.tripped).toBe(false);
    expect(kill.reason).toBe(0);
    kill.poll();
    expect(calls.length).toBe(2);
    expect(kill.trip(KillReason.BOOK_DESYNC, "desync", T0)).toBe(true);
    expect(calls.slice(2)).toEqual([`a${KillReason.BOOK_DESYNC}:desync`, `b${KillReason.BOOK_DESYNC}`]);
  });

  test("SIGUSR2 sent to this process trips it; the returned function uninstalls", async () => {
    const { kill, risk } = setup();
    const reasons: number[] = [];
    kill.onTrip((r) => reasons.push(r));
    const off = kill.installSignalTrip();
    try {
      process.kill(process.pid, "SIGUSR2");
      for (let k = 0; k < 200 && !kill.tripped; k++) await Bun.sleep(5);
      expect(kill.tripped).toBe(true);
      expect(kill.reason).toBe(KillReason.SIGNAL);
      expect(kill.detail).toContain("SIGUSR2");
      expect(reasons).toEqual([KillReason.SIGNAL]);
      expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    } finally {
      off();
    }
    kill.reset();
    // uninstalled: another listener keeps the process alive, ours does not fire
    let other = 0;
    const keep = () => other++;
    process.on("SIGUSR2", keep);
    try {
      process.kill(process.pid, "SIGUSR2");
      for (let k = 0; k < 200 && other === 0; k++) await Bun.sleep(5);
      expect(other).toBe(1);
      expect(kill.tripped).toBe(false);
    } finally {
      process.off("SIGUSR2", keep);
    }
  });
});

describe("KillMonitor triggers", () => {
  const OFF: KillTriggers = { lossLimit: 0, maxDrawdown: 0, staleDataNs: 0, desyncNs: 0, maxErrors: 0, errorWindowNs: 0, maxP99Ns: 0, maxPositionMismatch: 0 };
  const usableAll = new Uint8Array(N).fill(1);
  const state = (over: Partial<Parameters<KillMonitor["evaluate"]>[0]> = {}) => ({
    nowNs: T0, dayPnl: 0, drawdown: 0, lastDataNs: T0, openOrders: 0, p99Ns: 0, usable: usableAll, openPerInst: [0, 0, 0], ...over,
  });
  function mon(t: Partial<KillTriggers>) {
    const { kill } = setup();
    return { kill, m: new KillMonitor(kill, { ...OFF, ...t }, N) };
  }

  test("everything off: nothing trips whatever the state", () => {
    const { kill, m } = mon({});
    m.evaluate(state({ dayPnl: -1e12, drawdown: 1e12, lastDataNs: 0, openOrders: 10, p99Ns: 1e12, usable: new Uint8Array(N), openPerInst: [1, 1, 1] }));
    m.evaluate(state({ nowNs: T0 + 1e12, dayPnl: -1e12, drawdown: 1e12, lastDataNs: 0, openOrders: 10, p99Ns: 1e12, usable: new Uint8Array(N), openPerInst: [1, 1, 1] }));
    for (let k = 0; k < 100; k++) m.error(T0);
    m.positions([1, 2, 3], [100, 200, 300], T0);
    expect(kill.tripped).toBe(false);
  });

  test("loss limit: at -limit trips, a hair above does not", () => {
    const { kill, m } = mon({ lossLimit: 500 });
    m.evaluate(state({ dayPnl: -499.99 }));
    expect(kill.tripped).toBe(false);
    m.evaluate(state({ dayPnl: -500 }));
    expect(kill.reason).toBe(KillReason.LOSS_LIMIT);
  });

  test("drawdown: at the limit trips, just under does not", () => {
    const { kill, m } = mon({ maxDrawdown: 300 });
    m.evaluate(state({ drawdown: 299.99, dayPnl: -299.99 }));
    expect(kill.tripped).toBe(false);
    m.evaluate(state({ drawdown: 300 }));
    expect(kill.reason).toBe(KillReason.DRAWDOWN);
  });

  test("stale data trips only with open orders, and only beyond the timeout", () => {
    const { kill, m } = mon({ staleDataNs: 2e9 });
    m.evaluate(state({ nowNs: T0 + 60e9, openOrders: 0 })); // silent a minute but nothing open
    expect(kill.tripped).toBe(false);
    m.evaluate(state({ nowNs: T0 + 2e9, openOrders: 3 })); // exactly the timeout
    expect(kill.tripped).toBe(false);
    m.evaluate(state({ nowNs: T0 + 2e9 + 1, openOrders: 3 }));
    expect(kill.reason).toBe(KillReason.STALE_DATA);
  });

  test("book desync: trips once out of sync longer than desyncNs with open orders on it", () => {
    const { kill, m } = mon({ desyncNs: 1e9 });
    const u = Uint8Array.from([1, 0, 1]);
    // out of sync but no orders on it: never
    m.evaluate(state({ usable: u, openPerInst: [5, 0, 5] }));
    m.evaluate(state({ nowNs: T0 + 10e9, usable: u, openPerInst: [5, 0, 5] }));
    expect(kill.tripped).toBe(false);
    // orders on it from T0+20 s: the clock starts there
    m.evaluate(state({ nowNs: T0 + 20e9, usable: u, openPerInst: [0, 1, 0] }));
    m.evaluate(state({ nowNs: T0 + 21e9, usable: u, openPerInst: [0, 1, 0] })); // exactly 1 s
    expect(kill.tripped).toBe(false);
    // it resyncs: the clock restarts
    m.evaluate(state({ nowNs: T0 + 21.5e9, usable: usableAll, openPerInst: [0, 1, 0] }));
    m.evaluate(state({ nowNs: T0 + 22e9, usable: u, openPerInst: [0, 1, 0] }));
    m.evaluate(state({ nowNs: T0 + 22.9e9, usable: u, openPerInst: [0, 1, 0] }));
    expect(kill.tripped).toBe(false);
    m.evaluate(state({ nowNs: T0 + 23e9 + 1, usable: u, openPerInst: [0, 1, 0] }));
    expect(kill.reason).toBe(KillReason.BOOK_DESYNC);
    expect(kill.detail).toContain("instrument 1");
  });

  test("error rate: more than maxErrors within the window trips; older errors age out", () => {
    const { kill, m } = mon({ maxErrors: 3, errorWindowNs: 1e9 });
    m.error(T0);
    m.error(T0 + 0.2e9);
    m.error(T0 + 0.4e9);
    m.error(T0 + 1.1e9); // the first has aged out: 3 in window
    m.error(T0 + 1.3e9); // T0+0.2 aged out: 3 in window
    expect(kill.tripped).toBe(false);
    m.error(T0 + 1.35e9); // 0.4, 1.1, 1.3, 1.35: four within 1 s
    expect(kill.reason).toBe(KillReason.ERROR_RATE);
  });

  test("latency spike: p99 above the threshold trips, at it does not", () => {
    const { kill, m } = mon({ maxP99Ns: 50_000 });
    m.evaluate(state({ p99Ns: 50_000 }));
    expect(kill.tripped).toBe(false);
    m.evaluate(state({ p99Ns: 50_001 }));
    expect(kill.reason).toBe(KillReason.LATENCY_SPIKE);
  });

  test("position mismatch with the venue: above the tolerance trips, at it does not", () => {
    const { kill, m } = mon({ maxPositionMismatch: 0.25 });
    m.positions([1, -2, 0], [1.25, -2.125, 0], T0);
    expect(kill.tripped).toBe(false);
    m.positions([1, -2, 0], [1, -2, 0.2500001], T0);
    expect(kill.reason).toBe(KillReason.POSITION_MISMATCH);
    expect(kill.detail).toContain("instrument 2");
  });

  test("a monitor trip runs the cancel-all handler once and stops check()", () => {
    const { kill, risk } = setup();
    const m = new KillMonitor(kill, { ...OFF, lossLimit: 10 }, N);
    let cancels = 0;
    kill.onTrip(() => cancels++);
    m.evaluate(state({ dayPnl: -11 }));
    m.evaluate(state({ dayPnl: -12 }));
    kill.poll();
    expect(cancels).toBe(1);
    expect(risk.check(0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
  });
});
