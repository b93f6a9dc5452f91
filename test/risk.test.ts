/**
 * Pre-trade risk (src/risk/): every rule of check() at its boundary (just inside passes, just
 * outside rejects with the exact code) and in the stated order; market orders priced at the
 * collar; open orders counted in the position limit; the per-venue token bucket refilling over
 * time; limits changed with set() seen by check(), also from a Worker attached to the same
 * SharedArrayBuffer (which republishes limits while this thread checks: never a torn set, and
 * trips the kill switch seen here); reject counters and the cold-path drain; the kill switch
 * (first reason wins, cancel-all once per trip across threads, reset, SIGUSR2); and each
 * KillMonitor trigger at and just under its threshold.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PositionBook } from "../src/exec/positions.ts";
import { I_GEN, I_SEQ } from "../src/risk/limits.ts";
import { KillMonitor, KillReason, KillSwitch, type KillTriggers, marketView, PreTradeRisk, Reject, REJECT_NAMES, REJECT_TEXT, RiskConfig, RiskLimits } from "../src/risk/pretrade.ts";

const BUY = 0, SELL = 1;
const T0 = 1_000_000_000_000; // engine time, ns
const N = 3; // instruments 0, 1 trade on venue 0; 2 on venue 1
const VENUE = [0, 0, 1];

function setup(cfg: Partial<RiskConfig> = {}) {
  const limits = RiskLimits.create(N, cfg, 2);
  const market = marketView(N);
  market.refPrice.set([100, 50, 10]);
  market.usable.fill(1);
  market.updatedNs.fill(T0);
  const positions = new PositionBook(N);
  for (let i = 0; i < N; i++) positions.mark(i, market.refPrice[i]!);
  const kill = new KillSwitch(limits);
  const risk = new PreTradeRisk({ limits, market, positions, kill });
  return { limits, market, positions, kill, risk };
}
/** check() with the instrument's venue */
const chk = (risk: PreTradeRisk, inst: number, side: number, price: number, amount: number, nowNs: number): number => risk.check(inst, VENUE[inst] ?? 0, side, price, amount, nowNs);

describe("check(): each rule at its boundary", () => {
  test("defaults pass a plain order; nothing counted", () => {
    const { risk, limits } = setup();
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 1, SELL, NaN, 1e6, T0)).toBe(Reject.OK);
    expect(limits.rejectCounts()).toEqual({});
  });

  test("kill switch: tripped rejects everything, reset lets orders go again", () => {
    const { risk, kill } = setup();
    kill.trip(KillReason.MANUAL, "test", T0);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    expect(chk(risk, 0, BUY, -1, 0, T0)).toBe(Reject.KILL_SWITCH); // before sanity
    kill.reset();
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
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
    for (const [i, s, p, a] of bad) expect([i, s, p, a, chk(risk, i, s, p, a, T0)]).toEqual([i, s, p, a, Reject.BAD_ORDER]);
    expect(chk(risk, N - 1, SELL, 10, 1e-9, T0)).toBe(Reject.OK);
  });

  test("book out of sync", () => {
    const { risk, market } = setup();
    market.usable[1] = 0;
    expect(chk(risk, 1, BUY, 50, 1, T0)).toBe(Reject.BOOK_DESYNC);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    market.usable[1] = 1;
    expect(chk(risk, 1, BUY, 50, 1, T0)).toBe(Reject.OK);
  });

  test("stale book: exactly staleMs old passes, 1 ns more rejects; staleMs 0 = off", () => {
    const { risk, limits } = setup({ staleMs: 250 });
    expect(chk(risk, 0, BUY, 100, 1, T0 + 250e6)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 1, T0 + 250e6 + 1)).toBe(Reject.STALE_BOOK);
    expect(risk.lastValue).toBe(250e6 + 1);
    expect(risk.lastLimit).toBe(250e6);
    limits.set(RiskConfig.parse({ staleMs: 0 }));
    expect(chk(risk, 0, BUY, 100, 1, T0 + 3600e9)).toBe(Reject.OK);
  });

  test("no reference price (NaN or 0)", () => {
    const { risk, market } = setup();
    market.refPrice[0] = NaN;
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.NO_REFERENCE_PRICE);
    market.refPrice[0] = 0;
    expect(chk(risk, 0, BUY, NaN, 1, T0)).toBe(Reject.NO_REFERENCE_PRICE);
  });

  test("price collar: limit prices at +-collarBps pass, a hair beyond rejects", () => {
    const { risk } = setup({ collarBps: 100 }); // 1 % around 100
    expect(chk(risk, 0, BUY, 101, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, SELL, 99, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 101.0001, 1, T0)).toBe(Reject.PRICE_COLLAR);
    expect(risk.lastValue).toBe(101.0001);
    expect(risk.lastLimit).toBe(100);
    expect(chk(risk, 0, SELL, 98.9999, 1, T0)).toBe(Reject.PRICE_COLLAR);
    // the collar is symmetric: a buy far below the reference is also outside it
    expect(chk(risk, 0, BUY, 98.9999, 1, T0)).toBe(Reject.PRICE_COLLAR);
    expect(chk(risk, 0, SELL, 101.0001, 1, T0)).toBe(Reject.PRICE_COLLAR);
    // instrument 1 has its own reference (50): 50.5 is its edge
    expect(chk(risk, 1, BUY, 50.5, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 1, BUY, 50.51, 1, T0)).toBe(Reject.PRICE_COLLAR);
  });

  test("market orders are priced at the reference plus/minus the collar", () => {
    // notional of a market buy of 1 = 101 (ref 100, collar 1 %): a 101 cap passes, 100.99 rejects
    const a = setup({ collarBps: 100, maxOrderNotional: 101 });
    expect(chk(a.risk, 0, BUY, NaN, 1, T0)).toBe(Reject.OK);
    a.limits.set(RiskConfig.parse({ collarBps: 100, maxOrderNotional: 100.99 }));
    expect(chk(a.risk, 0, BUY, NaN, 1, T0)).toBe(Reject.MAX_ORDER_NOTIONAL);
    expect(a.risk.lastValue).toBeCloseTo(101, 9);
    // a market sell is worth 99: passes the 100.99 cap
    expect(chk(a.risk, 0, SELL, NaN, 1, T0)).toBe(Reject.OK);
    // and it is at 99 for self-trade: our own bid at 99 blocks it, at 98.99 it does not
    const b = setup({ collarBps: 100 });
    b.market.ownBestBid[0] = 99;
    expect(chk(b.risk, 0, SELL, NaN, 1, T0)).toBe(Reject.SELF_TRADE);
    b.market.ownBestBid[0] = 98.99;
    expect(chk(b.risk, 0, SELL, NaN, 1, T0)).toBe(Reject.OK);
    b.market.ownBestAsk[0] = 101;
    expect(chk(b.risk, 0, BUY, NaN, 1, T0)).toBe(Reject.SELF_TRADE);
    b.market.ownBestAsk[0] = 101.01;
    expect(chk(b.risk, 0, BUY, NaN, 1, T0)).toBe(Reject.OK);
  });

  test("max order amount, global and per-instrument override", () => {
    const { risk } = setup({ maxOrderAmount: 2, instruments: { "1": { maxOrderAmount: 5 } } });
    expect(chk(risk, 0, BUY, 100, 2, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 2.000001, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect([risk.lastValue, risk.lastLimit]).toEqual([2.000001, 2]);
    expect(chk(risk, 1, SELL, 50, 5, T0)).toBe(Reject.OK);
    expect(chk(risk, 1, SELL, 50, 5.000001, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(chk(risk, 2, SELL, 10, 2.000001, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
  });

  test("max order notional (amount x limit price)", () => {
    const { risk } = setup({ maxOrderNotional: 1000, instruments: { "2": { maxOrderNotional: 0 } } });
    expect(chk(risk, 0, BUY, 100, 10, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 10.0001, T0)).toBe(Reject.MAX_ORDER_NOTIONAL);
    expect(chk(risk, 0, SELL, 99.5, 10.06, T0)).toBe(Reject.MAX_ORDER_NOTIONAL); // 1000.97
    expect(chk(risk, 0, SELL, 99, 10.1, T0)).toBe(Reject.OK); // 999.9
    expect(chk(risk, 2, BUY, 10, 1e6, T0)).toBe(Reject.OK); // override 0 = no limit
  });

  test("max position after the order, both sides; reducing orders always allowed", () => {
    const { risk, positions } = setup({ maxPosition: 5 });
    positions.apply(0, BUY, 3, 100, 0);
    expect(chk(risk, 0, BUY, 100, 2, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 2.001, T0)).toBe(Reject.MAX_POSITION);
    expect(risk.lastValue).toBeCloseTo(5.001, 12);
    expect(risk.lastLimit).toBe(5);
    expect(chk(risk, 0, SELL, 100, 8, T0)).toBe(Reject.OK); // to -5
    expect(chk(risk, 0, SELL, 100, 8.001, T0)).toBe(Reject.MAX_POSITION); // flip to -5.001
    // over the limit already (limit lowered): reducing passes, adding does not
    positions.apply(0, BUY, 4, 100, 0); // 7
    expect(chk(risk, 0, SELL, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, SELL, 100, 0.5, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 0.001, T0)).toBe(Reject.MAX_POSITION);
    // a flip past the limit on the other side is not "reducing": +7 -> -5.5 rejects, +7 -> -5 passes
    expect(chk(risk, 0, SELL, 100, 12.5, T0)).toBe(Reject.MAX_POSITION);
    expect(chk(risk, 0, SELL, 100, 12, T0)).toBe(Reject.OK);
  });

  test("max gross exposure (all instruments at their reference) after the order", () => {
    const { risk, positions } = setup({ maxGrossExposure: 1000 });
    positions.apply(0, BUY, 3, 90, 0); // 3 x ref 100 = 300
    positions.apply(1, SELL, 2, 55, 0); // 2 x ref 50 = 100
    expect(chk(risk, 0, BUY, 100, 6, T0)).toBe(Reject.OK); // 1000
    expect(chk(risk, 0, BUY, 100, 6.001, T0)).toBe(Reject.MAX_GROSS_EXPOSURE);
    expect(risk.lastValue).toBeCloseTo(1000.1, 9);
    expect(risk.lastLimit).toBe(1000);
    expect(chk(risk, 2, SELL, 10, 60, T0)).toBe(Reject.OK); // 400 + 600
    expect(chk(risk, 2, SELL, 10, 60.01, T0)).toBe(Reject.MAX_GROSS_EXPOSURE);
    // priced at the reference, not the order price
    expect(chk(risk, 1, SELL, 50.2, 12, T0)).toBe(Reject.OK); // 400 + 12 x 50
    positions.apply(2, BUY, 100, 10, 0); // gross 1400 now
    expect(chk(risk, 0, SELL, 100, 1, T0)).toBe(Reject.OK); // reducing
    expect(chk(risk, 1, BUY, 50, 4, T0)).toBe(Reject.OK); // -2 -> +2: |after| not above |pos|
    expect(chk(risk, 1, BUY, 50, 4.01, T0)).toBe(Reject.MAX_GROSS_EXPOSURE);
  });

  test("throttle: token bucket per venue, burst = one second's rate, refills over time", () => {
    const { risk, limits } = setup({ maxMsgsPerSec: 3, staleMs: 0 });
    for (let k = 0; k < 3; k++) expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 1, BUY, 50, 1, T0)).toBe(Reject.THROTTLE); // same venue 0
    expect(chk(risk, 2, BUY, 10, 1, T0)).toBe(Reject.OK); // venue 1 has its own bucket
    // one token takes 1/3 s
    expect(chk(risk, 0, BUY, 100, 1, T0 + 333_333_332)).toBe(Reject.THROTTLE);
    expect(chk(risk, 0, BUY, 100, 1, T0 + 333_333_334)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 1, T0 + 333_333_335)).toBe(Reject.THROTTLE);
    // rejects for another reason take no token
    for (let k = 0; k < 10; k++) expect(chk(risk, 0, BUY, 100, -1, T0 + 2e9)).toBe(Reject.BAD_ORDER);
    // after a long pause the bucket is full but holds no more than 3
    let ok = 0;
    for (let k = 0; k < 10; k++) if (chk(risk, 0, BUY, 100, 1, T0 + 10e9) === Reject.OK) ok++;
    expect(ok).toBe(3);
    expect(limits.rejectCounts()).toEqual({ THROTTLE: 3 + 7, BAD_ORDER: 10 });
  });

  test("daily loss: at the limit rejects, a cent inside passes; resetDay clears it", () => {
    const { risk } = setup({ dailyLossLimit: 100 });
    risk.updatePnl(-99.99);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    risk.updatePnl(-100);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.DAILY_LOSS);
    expect([risk.lastValue, risk.lastLimit]).toEqual([100, 100]);
    expect(risk.dayPnl).toBe(-100);
    risk.resetDay();
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
  });

  test("drawdown from the day's peak", () => {
    const { risk } = setup({ maxDrawdown: 50 });
    risk.updatePnl(200);
    risk.updatePnl(150.01);
    expect(risk.drawdown).toBeCloseTo(49.99, 9);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    risk.updatePnl(150);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.DRAWDOWN);
    risk.updatePnl(260); // new peak
    risk.updatePnl(210.5);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    risk.updatePnl(210);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.DRAWDOWN);
  });

  test("self-trade: against our own best resting order on the other side; can be turned off", () => {
    const { risk, market, limits } = setup();
    market.ownBestAsk[0] = 101;
    market.ownBestBid[0] = 99;
    expect(chk(risk, 0, BUY, 100.99, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 101, 1, T0)).toBe(Reject.SELF_TRADE);
    expect(chk(risk, 0, SELL, 99.01, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, SELL, 99, 1, T0)).toBe(Reject.SELF_TRADE);
    expect(chk(risk, 1, BUY, 51, 1, T0)).toBe(Reject.OK); // other instrument
    limits.set(RiskConfig.parse({ selfTradePrevention: false }));
    expect(chk(risk, 0, BUY, 101, 1, T0)).toBe(Reject.OK);
  });

  test("rules apply in the stated order: the first failing rule is the reason", () => {
    const { risk, market, positions, limits, kill } = setup({
      collarBps: 100, staleMs: 1000, maxOrderAmount: 10, maxOrderNotional: 1000, maxPosition: 20, maxGrossExposure: 2500,
      maxMsgsPerSec: 1, dailyLossLimit: 100, maxDrawdown: 50,
    });
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK); // takes venue 0's only token
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
      seen.push(chk(risk, 0, BUY, order.price, order.amount, T0));
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
      Reject.KILL_SWITCH, Reject.BAD_ORDER, Reject.BOOK_DESYNC, Reject.STALE_BOOK, Reject.NO_REFERENCE_PRICE,
      Reject.PRICE_COLLAR, Reject.MAX_ORDER_AMOUNT, Reject.MAX_ORDER_NOTIONAL, Reject.MAX_POSITION, Reject.MAX_GROSS_EXPOSURE,
      Reject.THROTTLE, Reject.THROTTLE,
    ]);
    const later = T0 + 1e9; // a token again
    market.updatedNs[0] = later;
    expect(chk(risk, 0, BUY, order.price, order.amount, later)).toBe(Reject.DAILY_LOSS);
    risk.updatePnl(300);
    risk.updatePnl(-60); // loss 60 < 100, drawdown 360
    expect(chk(risk, 0, BUY, order.price, order.amount, later)).toBe(Reject.DRAWDOWN);
    risk.resetDay();
    expect(chk(risk, 0, BUY, order.price, order.amount, later)).toBe(Reject.SELF_TRADE);
    market.ownBestAsk[0] = NaN;
    expect(chk(risk, 0, BUY, order.price, order.amount, later)).toBe(Reject.OK);
    // every rule's reject counted under its own reason, once (LIMITS_UNAVAILABLE is not a rule of
    // the chain: the fail-closed state of unreadable limits, tested on its own below)
    const counts = limits.rejectCounts();
    const rules = REJECT_NAMES.slice(1).filter((x) => x !== "LIMITS_UNAVAILABLE");
    for (const name of rules) expect([name, counts[name]]).toEqual([name, name === "THROTTLE" ? 2 : 1]);
    for (let c = 1; c < REJECT_NAMES.length; c++) expect(limits.count(c)).toBe(c === Reject.LIMITS_UNAVAILABLE ? 0 : c === Reject.THROTTLE ? 2 : 1);
    expect(limits.count(0)).toBe(0);
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
    expect(chk(risk, 0, BUY, 100, 2, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    limits.set(RiskConfig.parse({ maxOrderAmount: 5 }));
    expect(limits.seq).toBe(s0 + 2);
    expect(chk(risk, 0, BUY, 100, 2, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 4, T0)).toBe(Reject.OK); // the old per-instrument maxPosition is gone
    limits.set(RiskConfig.parse({ maxOrderAmount: 5, maxPosition: 3.5 }));
    expect(chk(risk, 0, BUY, 100, 4, T0)).toBe(Reject.MAX_POSITION);
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


describe("check(): what the earlier version lacked", () => {
  test("venue out of range is a bad order", () => {
    const { risk } = setup();
    expect(risk.check(0, 2, BUY, 100, 1, T0)).toBe(Reject.BAD_ORDER);
    expect(risk.check(0, -1, BUY, 100, 1, T0)).toBe(Reject.BAD_ORDER);
    expect(risk.check(0, 1, BUY, 100, 1, T0)).toBe(Reject.OK);
  });

  test("position limit counts our open orders on the order's side as if they filled", () => {
    const { risk, market, positions } = setup({ maxPosition: 5 });
    positions.apply(0, BUY, 1, 100, 0);
    market.openBuy[0] = 2;
    expect(chk(risk, 0, BUY, 100, 2, T0)).toBe(Reject.OK); // 1 + 2 + 2
    expect(chk(risk, 0, BUY, 100, 2.001, T0)).toBe(Reject.MAX_POSITION);
    market.openSell[0] = 4; // worst short: 1 - 4 - 2 = -5
    expect(chk(risk, 0, SELL, 100, 2, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, SELL, 100, 2.001, T0)).toBe(Reject.MAX_POSITION);
    expect(risk.lastValue).toBeCloseTo(-5.001, 12);
  });

  test("net position over venues: the same instrument bought on two venues adds up", () => {
    const limits = RiskLimits.create(1, { maxPosition: 3 }, 2);
    const market = marketView(1);
    market.refPrice[0] = 100;
    market.usable[0] = 1;
    market.updatedNs[0] = T0;
    const positions = new PositionBook(1, 2);
    const risk = new PreTradeRisk({ limits, market, positions });
    positions.apply(0, BUY, 2, 100, 0, 0);
    expect(risk.check(0, 1, BUY, 100, 1, T0)).toBe(Reject.OK);
    positions.apply(0, BUY, 1, 100, 0, 1);
    expect(risk.check(0, 1, BUY, 100, 0.001, T0)).toBe(Reject.MAX_POSITION);
  });

  test("per-instrument collar and per-venue throttle overrides; msgBurst", () => {
    const { risk } = setup({ collarBps: 100, maxMsgsPerSec: 100, msgBurst: 2, instruments: { "2": { collarBps: 10 } }, venues: { "1": { maxMsgsPerSec: 1, msgBurst: 1 } } });
    expect(chk(risk, 2, BUY, 10.01, 1, T0)).toBe(Reject.OK); // 10 bps of 10
    expect(chk(risk, 2, BUY, 10.0101, 1, T0 + 1e9)).toBe(Reject.PRICE_COLLAR);
    expect(chk(risk, 2, BUY, 10, 1, T0 + 1e9)).toBe(Reject.OK);
    expect(chk(risk, 2, BUY, 10, 1, T0 + 1e9)).toBe(Reject.THROTTLE); // venue 1: burst 1
    expect(chk(risk, 0, BUY, 100.99, 1, T0)).toBe(Reject.OK); // 100 bps
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.THROTTLE); // venue 0: burst 2
    expect(chk(risk, 0, BUY, 100, 1, T0 + 10e6)).toBe(Reject.OK); // 100/s: one token per 10 ms
    expect(risk.tokensLeft(0)).toBeCloseTo(0, 9);
  });

  test("throttle switched on (or its bucket shrunk) while running: the bucket starts full at its new size", () => {
    const { risk, limits } = setup();
    for (let k = 0; k < 5; k++) expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK); // unthrottled
    limits.set({ maxMsgsPerSec: 2 });
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.THROTTLE);
    limits.set({ maxMsgsPerSec: 100, msgBurst: 1 });
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.THROTTLE); // empty stays empty
    expect(chk(risk, 0, BUY, 100, 1, T0 + 10e6)).toBe(Reject.OK);
  });

  test("a clock that steps back refills nothing", () => {
    const { risk } = setup({ maxMsgsPerSec: 1, staleMs: 0 });
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(chk(risk, 0, BUY, 100, 1, T0 - 5e9)).toBe(Reject.THROTTLE);
    expect(chk(risk, 0, BUY, 100, 1, T0 + 0.5e9)).toBe(Reject.THROTTLE);
  });

  test("rejects are counted and drained to the log with their figures; counterDeltas sees every thread's counts", () => {
    const { risk, limits } = setup({ maxOrderAmount: 1 });
    expect(chk(risk, 0, BUY, 100, 2, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(chk(risk, 0, BUY, 200, 1, T0 + 1)).toBe(Reject.PRICE_COLLAR);
    const logged: Array<Record<string, unknown>> = [];
    expect(risk.drainRejects((_m, f) => logged.push(f as Record<string, unknown>))).toBe(2);
    expect(logged.map((f) => [f.name, f.value, f.limit, f.instrument, f.venue, f.nowNs])).toEqual([
      ["MAX_ORDER_AMOUNT", 2, 1, 0, 0, T0],
      ["PRICE_COLLAR", 200, 100, 0, 0, T0 + 1],
    ]);
    expect(risk.drainRejects(() => {})).toBe(0);
    for (let k = 0; k < 100; k++) chk(risk, 0, BUY, 100, 2, T0);
    const lines: string[] = [];
    expect(risk.drainRejects((m) => lines.push(m))).toBe(100);
    expect(lines.length).toBe(1 + 64); // 36 beyond the ring reported as missed
    expect(risk.counterDeltas()).toEqual({ MAX_ORDER_AMOUNT: 101, PRICE_COLLAR: 1 });
    expect(risk.counterDeltas()).toEqual({});
    expect(limits.rejectCounts()).toEqual({ MAX_ORDER_AMOUNT: 101, PRICE_COLLAR: 1 });
  });

  test("a writer that died mid-update: checks refuse every order (LIMITS_UNAVAILABLE), set() throws instead of hanging", () => {
    const { risk, limits } = setup();
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    Atomics.add(limits.i32, I_SEQ, 1); // sequence word left odd, as by a writer killed mid-set
    Atomics.add(limits.i32, I_GEN, 1); // and a generation change for the checker to pick up
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.LIMITS_UNAVAILABLE);
    expect(() => limits.set({ maxOrderAmount: 1 })).toThrow(/never finished/);
    Atomics.add(limits.i32, I_SEQ, 1); // (the block repaired)
    Atomics.add(limits.i32, I_GEN, 1);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
  });

  test("constructor refuses mismatched sizes; create refuses empty blocks; attach refuses a short buffer", () => {
    const limits = RiskLimits.create(2);
    expect(() => new PreTradeRisk({ limits, market: marketView(2), positions: new PositionBook(3) })).toThrow(RangeError);
    expect(() => new PreTradeRisk({ limits, market: marketView(1), positions: new PositionBook(2) })).toThrow(RangeError);
    expect(() => RiskLimits.create(0)).toThrow(RangeError);
    expect(() => RiskLimits.attach(new SharedArrayBuffer(64), 2)).toThrow(RangeError);
    expect(() => limits.set({ instruments: { "5": { maxPosition: 1 } } })).toThrow(RangeError);
    expect(() => limits.set({ bogus: 1 } as never)).toThrow();
  });
});

// ---- check() against a plain reference -----------------------------------------------------------

/**
 * The rules written out the plain way, from RiskLimits' accessors (the configured values) and the
 * same market and position arrays: what check() must decide, with the same figures. Its token
 * buckets follow the stated semantics: a bucket that is new, unthrottled, or fuller than its new
 * size starts full at its new size on the first order after a change; an unthrottled venue's
 * bucket is Infinity.
 */
class ReferenceRisk {
  private gen = -1;
  private readonly tokens: number[];
  private readonly refill: number[];
  lastValue = NaN;
  lastLimit = NaN;
  constructor(
    readonly limits: RiskLimits,
    readonly market: ReturnType<typeof marketView>,
    readonly positions: PositionBook,
  ) {
    this.tokens = Array.from({ length: limits.venues }, () => NaN);
    this.refill = Array.from({ length: limits.venues }, () => NaN);
  }
  tokensLeft(v: number): number {
    return Number.isNaN(this.tokens[v]) ? this.limits.venue(v, 1) : this.tokens[v]!;
  }
  private no(code: number, value: number, limit: number): number {
    this.lastValue = value;
    this.lastLimit = limit;
    return code;
  }
  check(inst: number, venue: number, side: number, price: number, amount: number, nowNs: number): number {
    const L = this.limits, m = this.market, tol = 1 + 1e-9;
    const g = Atomics.load(L.i32, I_GEN);
    if (g !== this.gen) {
      this.gen = g;
      for (let v = 0; v < L.venues; v++) {
        if (L.venue(v, 0) === Infinity) this.tokens[v] = Infinity;
        else if (!(this.tokens[v]! <= L.venue(v, 1))) this.tokens[v] = NaN;
      }
    }
    if (new KillSwitch(L).tripped) return this.no(Reject.KILL_SWITCH, new KillSwitch(L).reason, 0);
    if (!(Number.isInteger(inst) && inst >= 0 && inst < L.instruments && Number.isInteger(venue) && venue >= 0 && venue < L.venues && (side === 0 || side === 1) && amount > 0 && amount < Infinity && (Number.isNaN(price) || (price > 0 && price < Infinity)))) {
      return this.no(Reject.BAD_ORDER, amount, price);
    }
    if (m.usable[inst] !== 1) return this.no(Reject.BOOK_DESYNC, 0, 1);
    const age = nowNs - m.updatedNs[inst]!;
    const stale = L.f64[3]!; // G_STALE_NS
    if (!(age <= stale)) return this.no(Reject.STALE_BOOK, age, stale);
    const ref = m.refPrice[inst]!;
    if (!(ref > 0 && ref < Infinity)) return this.no(Reject.NO_REFERENCE_PRICE, ref, 0);
    const collar = L.inst(inst, 3);
    const px = Number.isNaN(price) ? (side === 0 ? ref * (1 + collar) : ref * (1 - collar)) : price;
    if (px > ref * ((1 + collar) * tol) || px < ref * ((1 - collar) / tol)) return this.no(Reject.PRICE_COLLAR, px, ref);
    if (amount > L.inst(inst, 0) * tol) return this.no(Reject.MAX_ORDER_AMOUNT, amount, L.inst(inst, 0));
    if (amount * px > L.inst(inst, 1) * tol) return this.no(Reject.MAX_ORDER_NOTIONAL, amount * px, L.inst(inst, 1));
    const net = this.positions.net[inst]!;
    const worst = side === 0 ? net + m.openBuy[inst]! + amount : m.openSell[inst]! + amount - net;
    if (worst > L.inst(inst, 2) * tol) return this.no(Reject.MAX_POSITION, side === 0 ? worst : -worst, L.inst(inst, 2));
    const grows = Math.abs(side === 0 ? net + amount : net - amount) - Math.abs(net);
    const gross = this.positions.exposure[0]! + grows * ref;
    if (grows > 0 && gross > L.f64[0]! * tol) return this.no(Reject.MAX_GROSS_EXPOSURE, gross, L.f64[0]!);
    const rate = L.venue(venue, 0);
    if (rate !== Infinity) {
      let t = this.tokens[venue]!;
      if (Number.isNaN(t)) {
        t = L.venue(venue, 1);
        this.refill[venue] = nowNs;
      } else if (nowNs - this.refill[venue]! > 0) {
        t = Math.min(L.venue(venue, 1), t + (nowNs - this.refill[venue]!) * rate);
        this.refill[venue] = nowNs;
      }
      this.tokens[venue] = t;
      if (t < 1) return this.no(Reject.THROTTLE, t, 1);
    }
    const pnl = L.dayPnl, loss = L.f64[1]!, ddCap = L.f64[2]!;
    if (-pnl >= loss) return this.no(Reject.DAILY_LOSS, -pnl, loss);
    if (L.drawdown >= ddCap) return this.no(Reject.DRAWDOWN, L.drawdown, ddCap);
    if (L.f64[4] === 1) {
      const own = side === 0 ? m.ownBestAsk[inst]! : m.ownBestBid[inst]!;
      if (side === 0 ? px >= own : px <= own) return this.no(Reject.SELF_TRADE, px, own);
    }
    if (rate !== Infinity) this.tokens[venue]! -= 1;
    return Reject.OK;
  }
}

describe("check() against a plain reference", () => {
  test("same decisions and figures as the plain reference over random states, orders and limit changes", () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const pick = <X,>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
    const { risk, limits, market, positions, kill } = setup();
    const ref = new ReferenceRisk(limits, market, positions);
    const sameNum = (x: number, y: number) => Object.is(x, y) || (x === y);
    const mix: Record<string, number> = {};
    let now = T0;
    for (let k = 0; k < 30000; k++) {
      if (k % 500 === 0) {
        limits.set({
          maxOrderAmount: pick([0, 5, 50]),
          maxOrderNotional: pick([0, 300, 5000]),
          maxPosition: pick([0, 3, 20]),
          maxGrossExposure: pick([0, 500, 5000]),
          collarBps: pick([0, 50, 200, 500]),
          maxMsgsPerSec: pick([0, 0, 2, 1000]),
          msgBurst: pick([0, 1, 3]),
          dailyLossLimit: pick([0, 100]),
          maxDrawdown: pick([0, 50]),
          staleMs: pick([0, 1, 5000]),
          selfTradePrevention: rnd() < 0.7,
          venues: rnd() < 0.3 ? { "1": { maxMsgsPerSec: pick([0, 5]) } } : {},
        });
      }
      if (k % 100 === 0) {
        for (let i = 0; i < N; i++) {
          market.usable[i] = rnd() < 0.95 ? 1 : 0;
          market.refPrice[i] = rnd() < 0.05 ? pick([NaN, 0, Infinity]) : [100, 50, 10][i]! * (1 + 0.02 * (rnd() - 0.5));
          market.updatedNs[i] = now - (rnd() < 0.9 ? 0 : 3e6);
          market.ownBestBid[i] = rnd() < 0.3 ? NaN : market.refPrice[i]! * (1 - 0.01 * rnd());
          market.ownBestAsk[i] = rnd() < 0.3 ? NaN : market.refPrice[i]! * (1 + 0.01 * rnd());
          market.openBuy[i] = rnd() * 4;
          market.openSell[i] = rnd() * 4;
          positions.net[i] = Math.round((rnd() - 0.5) * 30) / 2;
        }
        positions.exposure[0] = rnd() * 4000;
        limits.publishPnl((rnd() - 0.6) * 200);
        if (rnd() < 0.1) limits.resetDay();
        if (rnd() < 0.03) kill.trip(KillReason.MANUAL, "random", now);
        else if (kill.tripped && rnd() < 0.5) kill.reset();
      }
      now += rnd() < 0.05 ? -2e9 : Math.floor(rnd() * 4e8);
      const inst = rnd() < 0.02 ? pick([-1, N, 0.5, NaN]) : Math.floor(rnd() * N);
      const venue = rnd() < 0.02 ? pick([-1, 2, 0.5]) : VENUE[Math.floor(inst)] ?? 0;
      const side = rnd() < 0.01 ? 2 : rnd() < 0.5 ? BUY : SELL;
      const r0 = market.refPrice[Math.floor(inst) || 0] ?? 100;
      const price = rnd() < 0.15 ? NaN : rnd() < 0.02 ? pick([0, -1, Infinity]) : (Number.isFinite(r0) && r0 > 0 ? r0 : 100) * (1 + 0.06 * (rnd() - 0.5));
      const amount = rnd() < 0.02 ? pick([0, -1, NaN, Infinity]) : rnd() * (rnd() < 0.5 ? 2 : 30);
      const want = ref.check(inst, venue, side, price, amount, now);
      const got = risk.check(inst, venue, side, price, amount, now);
      mix[REJECT_NAMES[want]!] = (mix[REJECT_NAMES[want]!] ?? 0) + 1;
      const tok = [0, 1].map((v) => [risk.tokensLeft(v), ref.tokensLeft(v)]);
      const same = got === want && (want === 0 || (sameNum(risk.lastValue, ref.lastValue) && sameNum(risk.lastLimit, ref.lastLimit))) && tok.every(([x, y]) => sameNum(x!, y!));
      if (!same) throw new Error(`order ${k}: ${JSON.stringify({ inst, venue, side, price, amount, now, got, want, value: [risk.lastValue, ref.lastValue], limit: [risk.lastLimit, ref.lastLimit], tok })}`);
    }
    // every outcome came up, so every rule and every reject exit ran
    for (const name of REJECT_NAMES.filter((x) => x !== "LIMITS_UNAVAILABLE")) expect([name, (mix[name] ?? 0) > 20]).toEqual([name, true]);
  });

});

// ---- cross-thread ----------------------------------------------------------------------------

/** the worker's source, written to a temp file: it attaches to our block and acts on commands */
const WORKER_SRC = `
import { PositionBook } from ${JSON.stringify(join(import.meta.dir, "../src/exec/positions.ts"))};
import { KillSwitch, marketView, PreTradeRisk, RiskLimits } from ${JSON.stringify(join(import.meta.dir, "../src/risk/pretrade.ts"))};
let limits, kill, risk, emitted = 0;
self.onmessage = (e) => {
  const m = e.data;
  switch (m.op) {
    case "attach": {
      limits = RiskLimits.attach(m.shared, m.instruments, m.venues);
      kill = new KillSwitch(limits);
      const mv = marketView(m.instruments);
      mv.refPrice.fill(100); mv.usable.fill(1); mv.updatedNs.fill(0);
      risk = new PreTradeRisk({ limits, market: mv, positions: new PositionBook(m.instruments), kill });
      postMessage({ op: "attached" });
      return;
    }
    case "arm": kill.onTrip(() => emitted++); postMessage({ op: "arm" }); return;
    case "poll": kill.poll(); postMessage({ op: "poll", emitted }); return;
    case "read": postMessage({ op: "read", amount0: limits.inst(0, 0), amount1: limits.inst(1, 0), tripped: kill.tripped, reason: kill.reason, detail: kill.detail, counts: limits.rejectCounts() }); return;
    case "set": limits.set(m.cfg); postMessage({ op: "set", seq: limits.seq }); return;
    case "check": postMessage({ op: "check", code: risk.check(m.inst, 0, m.side, m.price, m.amount, 0) }); return;
    case "trip": postMessage({ op: "trip", won: kill.trip(m.reason, m.detail, m.nowNs) }); return;
    case "reset": kill.reset(); postMessage({ op: "reset" }); return;
    case "flip": {
      const stop = new Int32Array(m.stop);
      let n = 0;
      postMessage({ op: "flipping" });
      while (Atomics.load(stop, 0) === 0) limits.set(n++ & 1 ? m.b : m.a);
      postMessage({ op: "flip", sets: n });
      return;
    }
  }
};
`;
const workerFile = join(mkdtempSync(join(tmpdir(), "bot4-risk-")), "risk-worker.ts");
writeFileSync(workerFile, WORKER_SRC);
const workers: Worker[] = [];
afterAll(() => {
  for (const w of workers) w.terminate();
});

function spawn() {
  const w = new Worker(workerFile);
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
    wait: <T = any>(op: string) => new Promise<T>((resolve, reject) => queue.push({ op, resolve, reject })),
    ask: <T = any>(msg: unknown, op: string) =>
      new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve, reject });
        w.postMessage(msg);
      }),
  };
}

describe("limits and kill switch shared with a Worker", () => {
  test("each side sees the other's limits, counters and trips; cancel-all is emitted once per trip across threads", async () => {
    const { limits, risk, kill } = setup({ maxOrderAmount: 7, instruments: { "1": { maxOrderAmount: 3 } } });
    const { ask } = spawn();
    await ask({ op: "attach", shared: limits.shared, instruments: N, venues: 2 }, "attached");
    const r1 = await ask({ op: "read" }, "read");
    expect([r1.amount0, r1.amount1, r1.tripped]).toEqual([7, 3, false]);
    expect(chk(risk, 0, BUY, 100, 5, T0)).toBe(Reject.OK);
    const s = await ask({ op: "set", cfg: { maxOrderAmount: 4 } }, "set");
    expect(limits.seq).toBe(s.seq);
    expect(chk(risk, 0, BUY, 100, 5, T0)).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(chk(risk, 0, BUY, 100, 4, T0)).toBe(Reject.OK);
    expect((await ask({ op: "check", inst: 0, side: BUY, price: 100, amount: 4.5 }, "check")).code).toBe(Reject.MAX_ORDER_AMOUNT);
    expect(limits.rejectCounts()).toEqual({ MAX_ORDER_AMOUNT: 2 });

    // both threads hold a cancel-all handler; the worker trips; exactly one handler runs
    const calls: Array<[number, string, number]> = [];
    kill.onTrip((reason, detail, at) => calls.push([reason, detail, at]));
    await ask({ op: "arm" }, "arm");
    expect((await ask({ op: "trip", reason: KillReason.LATENCY_SPIKE, detail: "p99 12 ms", nowNs: T0 + 5 }, "trip")).won).toBe(true);
    expect(kill.tripped).toBe(true);
    expect(kill.reasonName).toBe("LATENCY_SPIKE");
    expect(kill.detail).toBe("p99 12 ms");
    expect(kill.trippedAtNs).toBe(T0 + 5);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    kill.poll();
    kill.poll();
    const w1 = (await ask({ op: "poll" }, "poll")).emitted;
    expect(calls.length + w1).toBe(1); // the worker emitted on its trip (it has a handler)
    expect(w1).toBe(1);
    expect(kill.trip(KillReason.MANUAL, "late")).toBe(false);
    expect(kill.reason).toBe(KillReason.LATENCY_SPIKE);

    // reset there, trip here: this time we emit, once, and the worker does not
    await ask({ op: "reset" }, "reset");
    expect(kill.tripped).toBe(false);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    kill.trip(KillReason.POSITION_MISMATCH, "x", T0 + 9);
    kill.poll();
    expect(calls).toEqual([[KillReason.POSITION_MISMATCH, "x", T0 + 9]]);
    expect((await ask({ op: "poll" }, "poll")).emitted).toBe(1);
    const r2 = await ask({ op: "read" }, "read");
    expect([r2.tripped, r2.reason, r2.detail]).toEqual([true, KillReason.POSITION_MISMATCH, "x"]);
    kill.reset();
    expect((await ask({ op: "read" }, "read")).tripped).toBe(false);
  });

  test("seqlock: while the worker republishes two limit sets, check() never decides on a mix", async () => {
    // set A: amount <= 1 -> MAX_ORDER_AMOUNT; set B: notional <= 100 -> MAX_ORDER_NOTIONAL.
    // Only a torn read (B's amount with A's notional) would let the order pass.
    const A = { maxOrderAmount: 1, maxOrderNotional: 0, instruments: { "0": { maxPosition: 1 } } };
    const B = { maxOrderAmount: 0, maxOrderNotional: 100, instruments: { "0": { maxPosition: 2 } } };
    const { limits, risk } = setup(A);
    const { ask, wait } = spawn();
    await ask({ op: "attach", shared: limits.shared, instruments: N, venues: 2 }, "attached");
    const stop = new SharedArrayBuffer(4);
    const flipping = wait("flipping");
    const flipped = ask<{ sets: number }>({ op: "flip", stop, a: A, b: B }, "flip");
    await flipping;
    const seen = new Map<number, number>();
    const snap = new Float64Array(limits.f64.length);
    let torn = 0;
    const until = performance.now() + 400;
    let n = 0;
    while (performance.now() < until) {
      for (let k = 0; k < 1000; k++, n++) {
        const code = chk(risk, 0, BUY, 100, 1.5, T0);
        seen.set(code, (seen.get(code) ?? 0) + 1);
      }
      limits.snapshotInto(snap);
      // instrument 0's amount limit and position limit belong to the same set
      const a = snap[limits.instBase]!, p = snap[limits.instBase + 2]!;
      if (!((a === 1 && p === 1) || (a === Infinity && p === 2))) torn++;
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    const { sets } = await flipped;
    expect(sets).toBeGreaterThan(10);
    expect(torn).toBe(0);
    // every decision is one set's: A's or B's refusal. A writer descheduled mid-write past the spin
    // limit (this host is shared) makes a check fail closed as LIMITS_UNAVAILABLE, never pass
    expect(seen.get(Reject.MAX_ORDER_AMOUNT)).toBeGreaterThan(0);
    expect(seen.get(Reject.MAX_ORDER_NOTIONAL)).toBeGreaterThan(0);
    expect((seen.get(Reject.MAX_ORDER_AMOUNT) ?? 0) + (seen.get(Reject.MAX_ORDER_NOTIONAL) ?? 0) + (seen.get(Reject.LIMITS_UNAVAILABLE) ?? 0)).toBe(n);
    expect(seen.get(Reject.OK)).toBeUndefined();
  });
});

describe("KillSwitch on one thread", () => {
  test("first reason wins; cancel-all once per trip with reason, detail and time; reset only explicitly", () => {
    const { kill, risk } = setup();
    const calls: string[] = [];
    kill.onTrip((r, d, at) => calls.push(`a${r}:${d}@${at}`));
    kill.onTrip((r) => calls.push(`b${r}`));
    expect(kill.tripped).toBe(false);
    expect(kill.reasonName).toBe("NONE");
    expect(Number.isNaN(kill.trippedAtNs)).toBe(true);
    expect(kill.trip(KillReason.LOSS_LIMIT, "loss", T0)).toBe(true);
    expect(kill.trip(KillReason.STALE_DATA, "stale", T0 + 1)).toBe(false);
    kill.poll();
    expect(calls).toEqual([`a${KillReason.LOSS_LIMIT}:loss@${T0}`, `b${KillReason.LOSS_LIMIT}`]);
    expect([kill.reason, kill.detail, kill.trippedAtNs]).toEqual([KillReason.LOSS_LIMIT, "loss", T0]);
    for (let k = 0; k < 5; k++) expect(chk(risk, k % N, BUY, 100, 1, T0 + k * 1e12)).toBe(Reject.KILL_SWITCH);
    kill.reset();
    expect([kill.tripped, kill.reason, kill.detail]).toEqual([false, 0, ""]);
    kill.poll();
    expect(calls.length).toBe(2);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.OK);
    expect(kill.trip(KillReason.BOOK_DESYNC, "desync", T0)).toBe(true);
    expect(calls.slice(2)).toEqual([`a${KillReason.BOOK_DESYNC}:desync@${T0}`, `b${KillReason.BOOK_DESYNC}`]);
    expect(kill.epoch).toBe(2);
    expect(() => kill.trip(99, "?")).toThrow(RangeError);
    // a handler added after the trip still gets the (one) emission if nobody emitted yet
    const other = setup();
    other.kill.trip(KillReason.MANUAL, "before any handler", T0);
    let late = 0;
    other.kill.onTrip(() => late++);
    other.kill.poll();
    expect(late).toBe(1);
  });

  test("detail text longer than the shared slot is cut, not overflowing", () => {
    const { kill } = setup();
    kill.trip(KillReason.MANUAL, "x".repeat(1000), T0);
    expect(kill.detail).toBe("x".repeat(256));
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
      expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    } finally {
      off();
    }
    kill.reset();
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
  const OFF: KillTriggers = { lossLimit: 0, maxDrawdown: 0, staleDataNs: 0, desyncNs: 0, maxErrors: 0, errorWindowNs: 0, maxP99Ns: 0, latencyWindowNs: 0, latencyMinSamples: 0, maxPositionMismatch: 0 };
  function mon(t: Partial<KillTriggers>) {
    const s = setup();
    return { ...s, m: new KillMonitor(s.kill, { ...OFF, ...t }, N) };
  }

  test("everything off: nothing trips whatever the state", () => {
    const { kill, m, limits, market } = mon({});
    limits.publishPnl(1e12);
    limits.publishPnl(-1e12);
    m.pnl(T0);
    market.usable.fill(0);
    m.market(market, [1, 1, 1], T0 + 1e15);
    for (let k = 0; k < 100; k++) m.error(T0);
    for (let k = 0; k < 1000; k++) m.latency(1e12, T0);
    m.positions([1, 2, 3], [100, 200, 300], T0);
    expect(kill.tripped).toBe(false);
  });

  test("loss limit: at -limit trips, a hair above does not", () => {
    const { kill, m, limits } = mon({ lossLimit: 500 });
    limits.publishPnl(-499.99);
    expect(m.pnl(T0)).toBe(false);
    limits.publishPnl(-500);
    expect(m.pnl(T0)).toBe(true);
    expect(kill.reason).toBe(KillReason.LOSS_LIMIT);
  });

  test("drawdown from the day's peak: at the limit trips, just under does not", () => {
    const { kill, m, limits } = mon({ maxDrawdown: 300 });
    limits.publishPnl(400);
    limits.publishPnl(100.01);
    m.pnl(T0);
    expect(kill.tripped).toBe(false);
    limits.publishPnl(100);
    m.pnl(T0);
    expect(kill.reason).toBe(KillReason.DRAWDOWN);
  });

  test("stale data trips only with open orders on the instrument, and only beyond the timeout", () => {
    const { kill, m, market } = mon({ staleDataNs: 2e9 });
    m.market(market, [0, 0, 0], T0 + 60e9); // silent a minute but nothing open
    expect(kill.tripped).toBe(false);
    m.market(market, [0, 3, 0], T0 + 2e9); // exactly the timeout
    expect(kill.tripped).toBe(false);
    m.market(market, [0, 3, 0], T0 + 2e9 + 1);
    expect(kill.reason).toBe(KillReason.STALE_DATA);
    expect(kill.detail).toContain("instrument 1");
  });

  test("book desync: trips once out of sync for desyncNs with open orders on it; resync restarts the clock", () => {
    const { kill, m, market } = mon({ desyncNs: 1e9 });
    const at = (dt: number, open: number[], usable: number[]) => {
      market.usable.set(usable);
      market.updatedNs.fill(T0 + dt);
      return m.market(market, open, T0 + dt);
    };
    at(0, [5, 0, 5], [1, 0, 1]);
    at(10e9, [5, 0, 5], [1, 0, 1]); // out of sync but no orders on it
    expect(kill.tripped).toBe(false);
    at(20e9, [0, 1, 0], [1, 0, 1]); // the clock starts here
    at(20.9e9, [0, 1, 0], [1, 0, 1]);
    expect(kill.tripped).toBe(false);
    at(20.95e9, [0, 1, 0], [1, 1, 1]); // resynced
    at(21e9, [0, 1, 0], [1, 0, 1]);
    at(21.99e9, [0, 1, 0], [1, 0, 1]);
    expect(kill.tripped).toBe(false);
    at(22e9, [0, 1, 0], [1, 0, 1]);
    expect(kill.reason).toBe(KillReason.BOOK_DESYNC);
    expect(kill.detail).toContain("instrument 1");
  });

  test("error rate: more than maxErrors within the window trips; older errors age out", () => {
    const { kill, m } = mon({ maxErrors: 3, errorWindowNs: 1e9 });
    m.error(T0);
    m.error(T0 + 0.2e9);
    m.error(T0 + 0.4e9);
    m.error(T0 + 1.1e9); // the first aged out: 3 in the window
    m.error(T0 + 1.3e9); // T0+0.2 aged out: 3
    expect(kill.tripped).toBe(false);
    m.error(T0 + 1.35e9); // 0.4, 1.1, 1.3, 1.35: four within 1 s
    expect(kill.reason).toBe(KillReason.ERROR_RATE);
  });

  test("latency spike: p99 of the window's samples above the threshold trips; at 1 % over it does not", () => {
    const { kill, m } = mon({ maxP99Ns: 50_000, latencyWindowNs: 1e9, latencyMinSamples: 100 });
    // 1 of 100 above: the 99th percentile is still <= 50 us
    for (let k = 0; k < 99; k++) m.latency(10_000, T0 + k);
    m.latency(80_000, T0 + 99);
    expect(kill.tripped).toBe(false);
    // samples at exactly the threshold are not above it
    for (let k = 0; k < 100; k++) m.latency(50_000, T0 + 100 + k);
    expect(kill.tripped).toBe(false);
    // a spike 2 s later: the old samples have aged out; 2 of 100 above trips
    for (let k = 0; k < 98; k++) m.latency(10_000, T0 + 2e9 + k);
    m.latency(90_000, T0 + 2e9 + 98);
    expect(kill.tripped).toBe(false);
    m.latency(90_000, T0 + 2e9 + 99);
    expect(kill.reason).toBe(KillReason.LATENCY_SPIKE);
  });

  test("latency: fewer samples than latencyMinSamples never trip", () => {
    const { kill, m } = mon({ maxP99Ns: 1000, latencyWindowNs: 1e9, latencyMinSamples: 50 });
    for (let k = 0; k < 49; k++) m.latency(1e9, T0 + k);
    expect(kill.tripped).toBe(false);
    m.latency(1e9, T0 + 49);
    expect(kill.tripped).toBe(true);
  });

  test("position mismatch with the venue: above the tolerance trips, at it does not", () => {
    const { kill, m } = mon({ maxPositionMismatch: 0.25 });
    m.positions([1, -2, 0], [1.25, -2.125, 0], T0);
    expect(kill.tripped).toBe(false);
    m.positions([1, -2, 0], [1, -2, 0.2500001], T0);
    expect(kill.reason).toBe(KillReason.POSITION_MISMATCH);
    expect(kill.detail).toContain("instrument 2");
  });

  test("manual trip; a monitor trip emits cancel-all once and every check rejects after", () => {
    const { kill, m, risk, limits } = mon({ lossLimit: 10 });
    let cancels = 0;
    kill.onTrip(() => cancels++);
    limits.publishPnl(-11);
    m.pnl(T0);
    limits.publishPnl(-12);
    m.pnl(T0);
    expect(m.manual("operator", T0)).toBe(false); // already tripped
    kill.poll();
    expect(cancels).toBe(1);
    expect(chk(risk, 0, BUY, 100, 1, T0)).toBe(Reject.KILL_SWITCH);
    kill.reset();
    expect(m.manual("operator via CLI", T0)).toBe(true);
    expect(kill.reasonName).toBe("MANUAL");
    expect(cancels).toBe(2);
  });

  test("triggers refuse negative or non-finite thresholds", () => {
    const { kill } = setup();
    expect(() => new KillMonitor(kill, { maxErrors: -1 }, N)).toThrow(RangeError);
    expect(() => new KillMonitor(kill, { staleDataNs: Infinity }, N)).toThrow(RangeError);
  });
});
