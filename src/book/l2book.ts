/**
 * An L2 order book for one instrument on one venue: price levels kept sorted in preallocated
 * Float64Arrays with the best level LAST (bids ascending, asks descending), so an update is a
 * binary search plus, for a new or emptied level, one copyWithin of the levels better than it —
 * few, since most updates are near the top (best-first storage would move the whole deep book on
 * every top-of-book change: 2.5x slower on the real USD-M capture, bench/book.bench.ts). No allocation per update (the
 * arrays double when a side outgrows them, which stops once the book has its depth).
 *
 * The book knows nothing about sequencing: venue-specific sync (src/feed/<venue>/) decides what is
 * applied, and marks the book unusable (`synced = false`) on a gap, a checksum mismatch or a
 * crossed book. Nothing may trade on a book that is not synced.
 */

export const BID = 0;
export const ASK = 1;

class Side {
  prices: Float64Array;
  sizes: Float64Array;
  n = 0;
  constructor(
    private readonly descending: boolean,
    capacity: number,
  ) {
    this.prices = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  /** index of `price`, or -(insertion point) - 1 */
  find(price: number): number {
    const p = this.prices;
    let lo = 0, hi = this.n - 1;
    const desc = this.descending; // storage order
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = p[mid]!;
      if (v === price) return mid;
      if (desc ? v > price : v < price) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  /** sets a level (size 0 removes it); returns +1 added, -1 removed, 0 changed or no-op */
  set(price: number, size: number): number {
    const i = this.find(price);
    if (i >= 0) {
      if (size > 0) {
        this.sizes[i] = size;
        return 0;
      }
      this.prices.copyWithin(i, i + 1, this.n);
      this.sizes.copyWithin(i, i + 1, this.n);
      this.n--;
      return -1;
    }
    if (!(size > 0)) return 0; // removing a level we do not have: venues send these, harmless
    const at = -i - 1;
    if (this.n === this.prices.length) this.grow();
    this.prices.copyWithin(at + 1, at, this.n);
    this.sizes.copyWithin(at + 1, at, this.n);
    this.prices[at] = price;
    this.sizes[at] = size;
    this.n++;
    return 1;
  }

  private grow(): void {
    const p = new Float64Array(this.prices.length * 2);
    const s = new Float64Array(this.sizes.length * 2);
    p.set(this.prices);
    s.set(this.sizes);
    this.prices = p;
    this.sizes = s;
  }

  clear(): void {
    this.n = 0;
  }
}

export interface TopOfBook {
  bid: number;
  bidSize: number;
  ask: number;
  askSize: number;
}

export class L2Book {
  private readonly sides: [Side, Side];
  /** false until a snapshot is loaded, and after any gap / checksum mismatch / crossed book */
  synced = false;
  /** venue sequence id of the last applied update (update id, sequence number...) */
  lastSeq = -1;
  updates = 0;

  constructor(
    readonly venue: string,
    readonly symbol: string,
    capacity = 1024,
  ) {
    // storage order: bids ascending, asks descending (best last)
    this.sides = [new Side(false, capacity), new Side(true, capacity)];
  }

  set(side: number, price: number, size: number): void {
    this.sides[side]!.set(price, size);
  }

  clear(): void {
    this.sides[BID].clear();
    this.sides[ASK].clear();
    this.synced = false;
    this.lastSeq = -1;
  }

  depth(side: number): number {
    return this.sides[side]!.n;
  }
  /** price of a level, 0 = best */
  price(side: number, level: number): number {
    const s = this.sides[side]!;
    return level < s.n ? s.prices[s.n - 1 - level]! : NaN;
  }
  size(side: number, level: number): number {
    const s = this.sides[side]!;
    return level < s.n ? s.sizes[s.n - 1 - level]! : NaN;
  }
  get bestBid(): number {
    return this.price(BID, 0);
  }
  get bestAsk(): number {
    return this.price(ASK, 0);
  }
  /** best bid at or above best ask: the book is wrong */
  get crossed(): boolean {
    const b = this.sides[BID], a = this.sides[ASK];
    return b.n > 0 && a.n > 0 && b.prices[b.n - 1]! >= a.prices[a.n - 1]!;
  }

  top(): TopOfBook {
    return { bid: this.bestBid, bidSize: this.size(BID, 0), ask: this.bestAsk, askSize: this.size(ASK, 0) };
  }

  /** the first n levels of a side as [price, size] pairs (cold path: reports, checksums, tests) */
  levels(side: number, n = Infinity): Array<[number, number]> {
    const s = this.sides[side]!;
    const out: Array<[number, number]> = [];
    for (let i = 0; i < Math.min(n, s.n); i++) out.push([s.prices[s.n - 1 - i]!, s.sizes[s.n - 1 - i]!]);
    return out;
  }
}
