/**
 * Positions and PnL per instrument (an instrument id already names one venue's market), kept in
 * typed arrays so the engine, risk and strategies read them without objects:
 *  - signed amount (long > 0), average entry price of the open amount,
 *  - realised PnL in quote: on every reducing fill, (exit - entry) x closed amount x sign,
 *  - fees in quote (negative = rebates received), turnover (quote notional traded),
 *  - unrealised PnL against a mark: (mark - avg) x amount.
 * A fill that flips the position closes the old side at the fill price and opens the rest at the
 * same price. Invariant (tested on random fills): realised + unrealised - fees equals the
 * cash-flow PnL  -sum(signed notional) + amount x mark - fees.
 */

const EPS = 1e-12;

export class PositionBook {
  readonly amount: Float64Array;
  readonly avgPrice: Float64Array;
  readonly realised: Float64Array;
  readonly fees: Float64Array;
  readonly turnover: Float64Array;
  readonly fills: Float64Array;

  constructor(readonly instruments: number) {
    const n = Math.max(1, instruments);
    this.amount = new Float64Array(n);
    this.avgPrice = new Float64Array(n).fill(NaN);
    this.realised = new Float64Array(n);
    this.fees = new Float64Array(n);
    this.turnover = new Float64Array(n);
    this.fills = new Float64Array(n);
  }

  /** A fill of `amount` > 0 at `price`; side 0 buy, 1 sell; `fee` in quote. */
  apply(inst: number, side: number, amount: number, price: number, fee: number): void {
    if (!(amount > 0 && amount < Infinity) || !(price > 0 && price < Infinity) || !Number.isFinite(fee) || (side !== 0 && side !== 1) || !((inst >>> 0) === inst && inst < this.instruments)) {
      throw new RangeError(`fill refused: instrument ${inst}, side ${side}, amount ${amount}, price ${price}, fee ${fee}`);
    }
    const signed = side === 0 ? amount : -amount;
    const pos = this.amount[inst]!;
    this.fees[inst]! += fee;
    this.turnover[inst]! += amount * price;
    this.fills[inst]!++;
    if (pos === 0 || pos > 0 === signed > 0) {
      // opening or adding: volume-weighted entry
      const next = pos + signed;
      this.avgPrice[inst] = pos === 0 ? price : (this.avgPrice[inst]! * Math.abs(pos) + price * amount) / Math.abs(next);
      this.amount[inst] = next;
      return;
    }
    // reducing, closing or flipping
    const closed = Math.min(Math.abs(pos), amount);
    const dir = pos > 0 ? 1 : -1;
    this.realised[inst]! += (price - this.avgPrice[inst]!) * closed * dir;
    const next = pos + signed;
    if (Math.abs(next) <= EPS * Math.max(1, Math.abs(pos))) {
      this.amount[inst] = 0;
      this.avgPrice[inst] = NaN;
    } else if (next > 0 === pos > 0) {
      this.amount[inst] = next;
    } else {
      this.amount[inst] = next;
      this.avgPrice[inst] = price;
    }
  }

  unrealised(inst: number, mark: number): number {
    const a = this.amount[inst]!;
    return a === 0 || !Number.isFinite(mark) ? 0 : (mark - this.avgPrice[inst]!) * a;
  }

  /** realised + unrealised - fees, over all instruments, each at its mark (NaN mark: unrealised 0) */
  totalPnl(marks: ArrayLike<number>): number {
    let t = 0;
    for (let i = 0; i < this.instruments; i++) t += this.realised[i]! + this.unrealised(i, marks[i]!) - this.fees[i]!;
    return t;
  }

  /** sum of |amount| x mark: gross exposure in quote */
  grossExposure(marks: ArrayLike<number>): number {
    let g = 0;
    for (let i = 0; i < this.instruments; i++) {
      const m = marks[i]!;
      if (Number.isFinite(m)) g += Math.abs(this.amount[i]!) * m;
    }
    return g;
  }
}
