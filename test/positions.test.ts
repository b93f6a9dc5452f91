/**
 * PositionBook (src/exec/positions.ts): opening, adding at a weighted average, partial and full
 * close, flips (old side closed at the fill price, remainder opened at that price), fees and
 * turnover, unrealised at a mark, refused fills; then a seeded property test over random fill
 * sequences: realised + unrealised - fees equals the cash-flow PnL
 * (-sum of signed notional + amount x mark - fees).
 */
import { describe, expect, test } from "bun:test";
import { PositionBook } from "../src/exec/positions.ts";

const BUY = 0, SELL = 1;

describe("PositionBook single instrument", () => {
  test("opening a long and a short sets amount and entry", () => {
    const b = new PositionBook(2);
    expect(b.amount[0]).toBe(0);
    expect(b.avgPrice[0]).toBeNaN();
    b.apply(0, BUY, 2, 100, 0.1);
    expect(b.amount[0]).toBe(2);
    expect(b.avgPrice[0]).toBe(100);
    expect(b.realised[0]).toBe(0);
    b.apply(1, SELL, 3, 50, 0);
    expect(b.amount[1]).toBe(-3);
    expect(b.avgPrice[1]).toBe(50);
    // instrument 0 untouched by instrument 1
    expect(b.amount[0]).toBe(2);
  });

  test("adding gives the volume-weighted average entry, long and short", () => {
    const b = new PositionBook(2);
    b.apply(0, BUY, 1, 100, 0);
    b.apply(0, BUY, 3, 120, 0);
    expect(b.amount[0]).toBe(4);
    expect(b.avgPrice[0]).toBeCloseTo((100 + 360) / 4, 12); // 115
    b.apply(1, SELL, 2, 10, 0);
    b.apply(1, SELL, 2, 14, 0);
    expect(b.amount[1]).toBe(-4);
    expect(b.avgPrice[1]).toBeCloseTo(12, 12);
    expect(b.realised[0]).toBe(0);
    expect(b.realised[1]).toBe(0);
  });

  test("partial close realises on the closed part and keeps the entry", () => {
    const b = new PositionBook(1);
    b.apply(0, BUY, 4, 100, 0);
    b.apply(0, SELL, 1, 110, 0);
    expect(b.amount[0]).toBe(3);
    expect(b.avgPrice[0]).toBe(100);
    expect(b.realised[0]).toBeCloseTo(10, 12);
    // a short partially covered at a loss
    const s = new PositionBook(1);
    s.apply(0, SELL, 5, 200, 0);
    s.apply(0, BUY, 2, 210, 0);
    expect(s.amount[0]).toBe(-3);
    expect(s.avgPrice[0]).toBe(200);
    expect(s.realised[0]).toBeCloseTo(-20, 12);
  });

  test("full close leaves a flat book with no entry and all PnL realised", () => {
    const b = new PositionBook(1);
    b.apply(0, BUY, 1.5, 100, 0);
    b.apply(0, BUY, 0.5, 104, 0); // avg 101
    b.apply(0, SELL, 2, 99, 0);
    expect(b.amount[0]).toBe(0);
    expect(b.avgPrice[0]).toBeNaN();
    expect(b.realised[0]).toBeCloseTo((99 - 101) * 2, 12);
    expect(b.unrealised(0, 1e6)).toBe(0);
    // reopening after flat starts a fresh entry
    b.apply(0, SELL, 1, 90, 0);
    expect(b.amount[0]).toBe(-1);
    expect(b.avgPrice[0]).toBe(90);
  });

  test("a flip closes the old side at the fill price and opens the rest at the same price", () => {
    const b = new PositionBook(1);
    b.apply(0, BUY, 2, 100, 0);
    b.apply(0, SELL, 5, 110, 0);
    expect(b.realised[0]).toBeCloseTo(20, 12); // 2 closed at +10
    expect(b.amount[0]).toBe(-3);
    expect(b.avgPrice[0]).toBe(110);
    // and back: short 3 @110 covered and flipped long at 105
    b.apply(0, BUY, 4, 105, 0);
    expect(b.realised[0]).toBeCloseTo(20 + 15, 12);
    expect(b.amount[0]).toBe(1);
    expect(b.avgPrice[0]).toBe(105);
  });

  test("fees (rebates negative) and turnover accumulate on every fill; fills counted", () => {
    const b = new PositionBook(1);
    b.apply(0, BUY, 2, 100, 0.2);
    b.apply(0, SELL, 1, 101, -0.05);
    b.apply(0, SELL, 3, 99, 0.3);
    expect(b.fees[0]).toBeCloseTo(0.45, 12);
    expect(b.turnover[0]).toBeCloseTo(200 + 101 + 297, 9);
    expect(b.fills[0]).toBe(3);
    // realised excludes fees; totalPnl subtracts them
    expect(b.realised[0]).toBeCloseTo(1 + -1, 12);
    expect(b.amount[0]).toBe(-2);
    expect(b.totalPnl([98])).toBeCloseTo(0 + (98 - 99) * -2 - 0.45, 12);
  });

  test("unrealised at a mark, long and short; NaN mark counts as 0; gross exposure", () => {
    const b = new PositionBook(3);
    b.apply(0, BUY, 2, 100, 0);
    b.apply(1, SELL, 3, 50, 0);
    expect(b.unrealised(0, 103)).toBeCloseTo(6, 12);
    expect(b.unrealised(0, 97)).toBeCloseTo(-6, 12);
    expect(b.unrealised(1, 45)).toBeCloseTo(15, 12);
    expect(b.unrealised(1, 55)).toBeCloseTo(-15, 12);
    expect(b.unrealised(0, NaN)).toBe(0);
    expect(b.unrealised(2, 10)).toBe(0); // flat
    expect(b.totalPnl([103, 45, NaN])).toBeCloseTo(21, 12);
    expect(b.grossExposure([103, 45, 7])).toBeCloseTo(2 * 103 + 3 * 45, 9);
    expect(b.grossExposure([NaN, 45, 7])).toBeCloseTo(3 * 45, 9);
  });

  test("bad fills are refused and change nothing", () => {
    const b = new PositionBook(2);
    b.apply(0, BUY, 1, 100, 0);
    const bad: Array<[number, number, number, number, number]> = [
      [0, BUY, 0, 100, 0],
      [0, BUY, -1, 100, 0],
      [0, BUY, NaN, 100, 0],
      [0, BUY, Infinity, 100, 0],
      [0, BUY, 1, 0, 0],
      [0, BUY, 1, -5, 0],
      [0, BUY, 1, NaN, 0],
      [0, BUY, 1, Infinity, 0],
      [0, BUY, 1, 100, NaN],
      [0, BUY, 1, 100, Infinity],
      [-1, BUY, 1, 100, 0],
      [2, BUY, 1, 100, 0],
      [NaN, BUY, 1, 100, 0],
      [0.5, BUY, 1, 100, 0],
      [0, 2, 1, 100, 0],
      [0, -1, 1, 100, 0],
    ];
    for (const [i, s, a, p, f] of bad) expect(() => b.apply(i, s, a, p, f)).toThrow(RangeError);
    expect(Array.from(b.amount)).toEqual([1, 0]);
    expect(b.avgPrice[0]).toBe(100);
    expect(Array.from(b.fills)).toEqual([1, 0]);
    expect(Array.from(b.fees)).toEqual([0, 0]);
    expect(Array.from(b.turnover)).toEqual([100, 0]);
  });
});

/** mulberry32: small seeded RNG so the property test is reproducible */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("PositionBook property: accounting PnL equals cash-flow PnL", () => {
  for (const seed of [1, 7, 42, 1234, 99991]) {
    test(`seed ${seed}: 3 instruments x 2000 random fills`, () => {
      const R = rng(seed);
      const N = 3;
      const b = new PositionBook(N);
      const cash = new Float64Array(N); // -sum(signed notional)
      const pos = new Float64Array(N); // independent signed amount
      const fees = new Float64Array(N);
      let flips = 0, closes = 0;
      for (let k = 0; k < 2000; k++) {
        const i = Math.floor(R() * N);
        const side = R() < 0.5 ? BUY : SELL;
        const px = 100 * (1 + 0.2 * (R() - 0.5)) * (i + 1);
        // amounts on a 0.001 grid, sometimes exactly the open amount (full close), sometimes more (flip)
        let amt = Math.round(1 + R() * 5000) / 1000;
        const r = R();
        if (pos[i] !== 0 && r < 0.1) amt = Math.abs(pos[i]!);
        const fee = (R() - 0.2) * 1e-3 * amt * px;
        const before = pos[i]!;
        const signed = side === BUY ? amt : -amt;
        b.apply(i, side, amt, px, fee);
        cash[i]! -= signed * px;
        pos[i] = before + signed; // our own running sum, independent of the book
        expect(Math.abs(b.amount[i]! - pos[i]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(before)));
        fees[i]! += fee;
        if (before !== 0 && Math.sign(before + signed) === -Math.sign(before)) flips++;
        if (before !== 0 && b.amount[i] === 0) {
          closes++;
          pos[i] = 0; // the book snaps float dust to flat; so do we
        }
        if (k % 50 === 49) {
          const marks = Array.from({ length: N }, (_, j) => 100 * (1 + 0.2 * (R() - 0.5)) * (j + 1));
          let cf = 0;
          for (let j = 0; j < N; j++) {
            const acc = b.realised[j]! + b.unrealised(j, marks[j]!) - b.fees[j]!;
            const flow = cash[j]! + pos[j]! * marks[j]! - fees[j]!;
            const scale = Math.max(1, b.turnover[j]!);
            expect(Math.abs(acc - flow) / scale).toBeLessThanOrEqual(1e-9);
            expect(b.fees[j]).toBeCloseTo(fees[j]!, 6);
            cf += flow;
          }
          expect(Math.abs(b.totalPnl(marks) - cf) / Math.max(1, b.turnover.reduce((a, x) => a + x, 0))).toBeLessThanOrEqual(1e-9);
        }
      }
      // the sequences really exercised flips and full closes
      expect(flips).toBeGreaterThan(20);
      expect(closes).toBeGreaterThan(20);
    });
  }
});
