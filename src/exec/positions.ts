/**
 * Positions and PnL per (venue, instrument), in typed arrays so the engine, risk and strategies
 * read them without objects. Slot of (venue v, instrument i) = v x instruments + i; a book built
 * for one venue has slot = instrument.
 *  - signed amount (long > 0) and average entry price of the open amount;
 *  - realised PnL in quote on every reducing fill: (exit - entry) x closed amount x direction;
 *  - fees in quote (negative = rebates), turnover (quote notional traded), fill count;
 *  - unrealised PnL against a mark: (mark - entry) x amount.
 * A fill that flips the position closes the old side at the fill price and opens the rest there.
 * Invariant (property-tested on random fills): realised + unrealised - fees equals the cash-flow
 * PnL  -sum(signed fill notional) + amount x mark - fees.
 *
 * For pre-trade risk the book also keeps, per instrument over all venues, the net amount and,
 * with the marks given to mark(), the gross exposure sum |net| x mark, updated in O(1) per mark
 * so check() reads one number. It is rebuilt exactly on every fill and every 4096 marks, so
 * rounding never accumulates.
 */

const EPS = 1e-12;

export class PositionBook {
  readonly slots: number;
  readonly amount: Float64Array;
  readonly avgPrice: Float64Array;
  readonly realised: Float64Array;
  readonly fees: Float64Array;
  readonly turnover: Float64Array;
  readonly fills: Float64Array;
  /** per instrument, all venues */
  readonly net: Float64Array;
  /** per instrument: the last mark given to mark() (NaN: none) */
  readonly marks: Float64Array;
  /**
   * [0]: sum over instruments of |net| x mark (instruments with no mark count 0). A one-slot
   * typed array rather than a number field: pre-trade risk reads it on every check, and a typed
   * array load measured ~10 ns cheaper there than a double field of another object.
   */
  readonly exposure = new Float64Array(1);
  private marksSinceRebuild = 0;
  /** fills refused because they were malformed */
  refused = 0;

  constructor(
    readonly instruments: number,
    readonly venues = 1,
  ) {
    if (!(Number.isInteger(instruments) && instruments >= 0 && Number.isInteger(venues) && venues >= 1)) {
      throw new RangeError(`PositionBook(${instruments}, ${venues}): need whole counts, at least one venue`);
    }
    const n = Math.max(1, instruments * venues);
    this.slots = n;
    this.amount = new Float64Array(n);
    this.avgPrice = new Float64Array(n).fill(NaN);
    this.realised = new Float64Array(n);
    this.fees = new Float64Array(n);
    this.turnover = new Float64Array(n);
    this.fills = new Float64Array(n);
    this.net = new Float64Array(Math.max(1, instruments));
    this.marks = new Float64Array(Math.max(1, instruments)).fill(NaN);
  }

  slot(inst: number, venue = 0): number {
    return venue * this.instruments + inst;
  }

  /** A fill of `amount` > 0 at `price`; side 0 buy, 1 sell; `fee` in quote. Malformed fills throw (and are counted). */
  apply(inst: number, side: number, amount: number, price: number, fee: number, venue = 0): void {
    if (
      !(amount > 0 && amount < Infinity) ||
      !(price > 0 && price < Infinity) ||
      !Number.isFinite(fee) ||
      (side !== 0 && side !== 1) ||
      !((inst >>> 0) === inst && inst < this.instruments) ||
      !((venue >>> 0) === venue && venue < this.venues)
    ) {
      this.refused++;
      throw new RangeError(`fill refused: instrument ${inst}, venue ${venue}, side ${side}, amount ${amount}, price ${price}, fee ${fee}`);
    }
    const s = venue * this.instruments + inst;
    const signed = side === 0 ? amount : -amount;
    const pos = this.amount[s]!;
    this.fees[s]! += fee;
    this.turnover[s]! += amount * price;
    this.fills[s]!++;
    this.net[inst]! += signed;
    if (Math.abs(this.net[inst]!) <= EPS * amount) this.net[inst] = 0;
    if (pos === 0 || pos > 0 === signed > 0) {
      // opening or adding: volume-weighted entry
      const next = pos + signed;
      this.avgPrice[s] = pos === 0 ? price : (this.avgPrice[s]! * Math.abs(pos) + price * amount) / Math.abs(next);
      this.amount[s] = next;
    } else {
      // reducing, closing or flipping
      const closed = Math.min(Math.abs(pos), amount);
      const dir = pos > 0 ? 1 : -1;
      this.realised[s]! += (price - this.avgPrice[s]!) * closed * dir;
      const next = pos + signed;
      if (Math.abs(next) <= EPS * Math.max(1, Math.abs(pos))) {
        this.amount[s] = 0;
        this.avgPrice[s] = NaN;
      } else {
        this.amount[s] = next;
        if (next > 0 !== pos > 0) this.avgPrice[s] = price; // flipped: the rest opened at this fill
      }
    }
    this.rebuildGross();
  }

  /** New mark (reference price) of an instrument: unrealised PnL and gross exposure follow it. O(1). */
  mark(inst: number, price: number): void {
    const old = this.marks[inst]!;
    const n = Math.abs(this.net[inst]!);
    this.marks[inst] = price;
    if (++this.marksSinceRebuild >= 4096) {
      this.rebuildGross();
      return;
    }
    this.exposure[0]! += (price === price ? n * price : 0) - (old === old ? n * old : 0);
  }

  private rebuildGross(): void {
    let g = 0;
    for (let i = 0; i < this.instruments; i++) {
      const m = this.marks[i]!;
      if (m === m) g += Math.abs(this.net[i]!) * m;
    }
    this.exposure[0] = g;
    this.marksSinceRebuild = 0;
  }

  /** sum over instruments of |net| x mark (see exposure) */
  get gross(): number {
    return this.exposure[0]!;
  }

  /** unrealised PnL of (instrument, venue) at `mark` (default: the instrument's last mark; NaN mark: 0) */
  unrealised(inst: number, mark: number = this.marks[inst]!, venue = 0): number {
    const s = venue * this.instruments + inst;
    const a = this.amount[s]!;
    return a === 0 || !Number.isFinite(mark) ? 0 : (mark - this.avgPrice[s]!) * a;
  }

  /** realised + unrealised - fees of one (instrument, venue) */
  pnl(inst: number, mark: number = this.marks[inst]!, venue = 0): number {
    const s = venue * this.instruments + inst;
    return this.realised[s]! + this.unrealised(inst, mark, venue) - this.fees[s]!;
  }

  /** realised + unrealised - fees over every venue and instrument; `marks` per instrument (default: mark()'s) */
  totalPnl(marks: ArrayLike<number> = this.marks): number {
    let t = 0;
    for (let v = 0; v < this.venues; v++) for (let i = 0; i < this.instruments; i++) t += this.pnl(i, marks[i]!, v);
    return t;
  }

  /** realised PnL, fees and turnover summed over everything */
  totals(marks: ArrayLike<number> = this.marks): { realised: number; unrealised: number; fees: number; turnover: number; pnl: number; gross: number } {
    let realised = 0, unrealised = 0, fees = 0, turnover = 0;
    for (let v = 0; v < this.venues; v++) {
      for (let i = 0; i < this.instruments; i++) {
        const s = v * this.instruments + i;
        realised += this.realised[s]!;
        fees += this.fees[s]!;
        turnover += this.turnover[s]!;
        unrealised += this.unrealised(i, marks[i]!, v);
      }
    }
    return { realised, unrealised, fees, turnover, pnl: realised + unrealised - fees, gross: this.grossExposure(marks) };
  }

  /** sum over instruments of |net amount| x mark (instruments without a finite mark count 0) */
  grossExposure(marks: ArrayLike<number> = this.marks): number {
    let g = 0;
    for (let i = 0; i < this.instruments; i++) {
      const m = marks[i]!;
      if (Number.isFinite(m)) g += Math.abs(this.net[i]!) * m;
    }
    return g;
  }
}
