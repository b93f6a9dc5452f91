import { describe, expect, test } from "bun:test";
import { PositionBook } from "../src/exec/positions.ts";

describe("PositionBook", () => {
  test("open, add, partial close, flip: average entry and realised PnL", () => {
    const p = new PositionBook(1);
    p.apply(0, 0, 2, 100, 0.2); // long 2 @ 100
    p.apply(0, 0, 2, 110, 0.2); // long 4 @ 105
    expect(p.amount[0]).toBe(4);
    expect(p.avgPrice[0]).toBe(105);
    p.apply(0, 1, 1, 120, 0.1); // close 1: +15
    expect(p.realised[0]).toBe(15);
    expect(p.amount[0]).toBe(3);
    expect(p.avgPrice[0]).toBe(105); // entry unchanged on a reduce
    p.apply(0, 1, 5, 90, 0.5); // close 3 at 90 (-45), open short 2 @ 90
    expect(p.realised[0]).toBe(-30);
    expect(p.amount[0]).toBe(-2);
    expect(p.avgPrice[0]).toBe(90);
    expect(p.unrealised(0, 80)).toBe(20); // short 2 from 90, mark 80
    expect(p.fees[0]).toBeCloseTo(1.0, 12);
    expect(p.turnover[0]).toBe(200 + 220 + 120 + 450);
    p.apply(0, 0, 2, 95, 0); // close short: -10
    expect(p.amount[0]).toBe(0);
    expect(Number.isNaN(p.avgPrice[0]!)).toBe(true);
    expect(p.realised[0]).toBe(-40);
    expect(p.unrealised(0, 1000)).toBe(0);
  });

  test("per venue slots, net per instrument, gross exposure follows marks in O(1)", () => {
    const p = new PositionBook(2, 2);
    p.apply(0, 0, 1, 100, 0, 0);
    p.apply(0, 1, 3, 101, 0, 1);
    p.apply(1, 0, 2, 50, 0, 1);
    expect(p.amount[p.slot(0, 0)]).toBe(1);
    expect(p.amount[p.slot(0, 1)]).toBe(-3);
    expect(p.net[0]).toBe(-2);
    expect(p.net[1]).toBe(2);
    p.mark(0, 100);
    p.mark(1, 50);
    expect(p.gross).toBe(2 * 100 + 2 * 50);
    p.mark(0, 110);
    expect(p.gross).toBe(2 * 110 + 2 * 50);
    expect(p.gross).toBe(p.grossExposure());
    p.apply(0, 0, 2, 110, 0, 0); // net 0 on instrument 0
    expect(p.gross).toBe(100);
    const t = p.totals([110, 50]);
    expect(t.pnl).toBeCloseTo(p.totalPnl([110, 50]), 9);
  });

  test("malformed fills throw and are counted", () => {
    const p = new PositionBook(1);
    expect(() => p.apply(0, 0, 0, 100, 0)).toThrow(RangeError);
    expect(() => p.apply(0, 0, 1, NaN, 0)).toThrow(RangeError);
    expect(() => p.apply(0, 2, 1, 100, 0)).toThrow(RangeError);
    expect(() => p.apply(1, 0, 1, 100, 0)).toThrow(RangeError);
    expect(() => p.apply(0, 0, 1, 100, 0, 1)).toThrow(RangeError);
    expect(p.refused).toBe(5);
    expect(p.amount[0]).toBe(0);
  });

  test("property: realised + unrealised - fees equals cash-flow PnL over random fills", () => {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    for (let run = 0; run < 200; run++) {
      const p = new PositionBook(3, 2);
      const cash = new Float64Array(3 * 2);
      const fees = new Float64Array(3 * 2);
      for (let k = 0; k < 60; k++) {
        const inst = Math.floor(rnd() * 3), venue = Math.floor(rnd() * 2), side = rnd() < 0.5 ? 0 : 1;
        // amounts on a 0.001 grid with some exact closes, so flips and flat positions happen
        const s = p.slot(inst, venue);
        const amount = rnd() < 0.15 && p.amount[s] !== 0 ? Math.abs(p.amount[s]!) : Math.max(0.001, Math.round(rnd() * 5000) / 1000);
        const price = 50 + Math.round(rnd() * 10000) / 100;
        const fee = (rnd() - 0.2) * 0.01 * amount * price;
        p.apply(inst, side, amount, price, fee, venue);
        cash[s]! += (side === 0 ? -1 : 1) * amount * price;
        fees[s]! += fee;
      }
      const marks = [50 + rnd() * 100, 50 + rnd() * 100, 50 + rnd() * 100];
      for (let v = 0; v < 2; v++) {
        for (let i = 0; i < 3; i++) {
          const s = p.slot(i, v);
          const cashPnl = cash[s]! + p.amount[s]! * marks[i]! - fees[s]!;
          expect(p.pnl(i, marks[i]!, v)).toBeCloseTo(cashPnl, 6);
        }
      }
      let tot = 0;
      for (let s = 0; s < 6; s++) tot += cash[s]! + p.amount[s]! * marks[s % 3]! - fees[s]!;
      expect(p.totalPnl(marks)).toBeCloseTo(tot, 6);
    }
  });
});
