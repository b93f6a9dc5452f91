/**
 * One side of a venue's L2 book in integer ticks. Levels are kept worst first in two parallel
 * arrays, keyed so that keys ascend (bids: ticks, asks: -ticks): the touch, where nearly all
 * changes and all taking happen, is the end of the arrays, so adding or removing the best level
 * is a push or a pop and only changes deep in the book move memory. Lookup is a binary search.
 */
export class Ladder {
  private readonly k: number[] = [];
  private readonly a: number[] = [];
  private readonly sign: number;

  constructor(readonly bid: boolean) {
    this.sign = bid ? 1 : -1;
  }

  get size(): number {
    return this.k.length;
  }
  /** ticks of the i-th best level (0 = best); caller keeps i < size */
  ticks(i: number): number {
    return this.sign * this.k[this.k.length - 1 - i]!;
  }
  amount(i: number): number {
    return this.a[this.a.length - 1 - i]!;
  }
  /** amount at `ticks`, 0 when no level */
  get(ticks: number): number {
    const key = this.sign * ticks, i = this.lower(key);
    return i < this.k.length && this.k[i] === key ? this.a[i]! : 0;
  }
  /** sets the amount at `ticks` (0 removes the level) */
  set(ticks: number, amount: number): void {
    this.put(ticks, amount);
  }
  /** sets the amount at `ticks` (0 removes the level) and returns the amount it had (one search) */
  put(ticks: number, amount: number): number {
    const key = this.sign * ticks, k = this.k, a = this.a, n = k.length;
    const i = this.lower(key);
    if (i < n && k[i] === key) {
      const prev = a[i]!;
      if (amount > 0) a[i] = amount;
      else if (i === n - 1) {
        k.pop();
        a.pop();
      } else {
        k.splice(i, 1);
        a.splice(i, 1);
      }
      return prev;
    }
    if (amount > 0) {
      if (i === n) {
        k.push(key);
        a.push(amount);
      } else {
        k.splice(i, 0, key);
        a.splice(i, 0, amount);
      }
    }
    return 0;
  }
  /** first index whose key is >= key; the touch is searched first, where most lookups land */
  private lower(key: number): number {
    const k = this.k, n = k.length;
    if (n === 0 || k[n - 1]! < key) return n;
    if (k[n - 1] === key) return n - 1;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (k[m]! < key) lo = m + 1;
      else hi = m;
    }
    return lo;
  }
}
