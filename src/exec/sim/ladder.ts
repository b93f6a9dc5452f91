/**
 * One side of a venue's L2 book in integer ticks. Levels are kept in ascending key order (bids:
 * ticks, asks: -ticks), so the best level is the last one: the touch, where nearly all taking
 * happens.
 *
 * Levels sit in blocks of up to 64 (key, amount) pairs; a directory lists the blocks in key order
 * with each block's largest key. A lookup is a binary search over the directory, then over one
 * block; a level added or removed moves at most the 63 pairs after it in its block, and a full
 * block splits in two. Two plain arrays moved with splice did the same job before and were a third
 * of a paper engine step on a Binance USD-M diff stream: books there are ~1,500 levels deep and a
 * changed level lies ~350 levels from the touch on average, so each added or removed level moved
 * hundreds of others. (A gap buffer, moved to each change, was measured no better: one message
 * changes levels at every depth.)
 */
const B = 64;

export class Ladder {
  /** block b's pairs at pool[b*2B ...], ascending keys */
  private pool = new Float64Array(8 * 2 * B);
  private cnt = new Int32Array(8);
  private free: number[] = [7, 6, 5, 4, 3, 2, 1, 0];
  /** blocks in key order, and each one's largest key */
  private dir = new Int32Array(8);
  private dmax = new Float64Array(8);
  private nd = 0;
  private n = 0;
  private readonly sign: number;

  constructor(readonly bid: boolean) {
    this.sign = bid ? 1 : -1;
  }

  get size(): number {
    return this.n;
  }
  /** ticks of the i-th best level (0 = best); caller keeps i < size */
  ticks(i: number): number {
    return this.sign * this.pool[this.pairOfBest(i)]!;
  }
  amount(i: number): number {
    return this.pool[this.pairOfBest(i) + 1]!;
  }
  /** amount at `ticks`, 0 when no level */
  get(ticks: number): number {
    const key = this.sign * ticks;
    const d = this.findBlock(key);
    if (d === this.nd) return 0;
    const b = this.dir[d]!, base = b * 2 * B;
    const j = this.inBlock(base, this.cnt[b]!, key);
    return j < this.cnt[b]! && this.pool[base + 2 * j] === key ? this.pool[base + 2 * j + 1]! : 0;
  }
  /** sets the amount at `ticks` (0 removes the level) */
  set(ticks: number, amount: number): void {
    this.put(ticks, amount);
  }
  /** sets the amount at `ticks` (0 removes the level) and returns the amount it had */
  put(ticks: number, amount: number): number {
    const key = this.sign * ticks;
    let d = this.findBlock(key);
    if (d < this.nd) {
      const b = this.dir[d]!, base = b * 2 * B, c = this.cnt[b]!;
      const j = this.inBlock(base, c, key);
      const p = this.pool;
      if (j < c && p[base + 2 * j] === key) {
        const prev = p[base + 2 * j + 1]!;
        if (amount > 0) p[base + 2 * j + 1] = amount;
        else this.removeAt(d, b, base, c, j);
        return prev;
      }
    }
    if (!(amount > 0)) return 0;
    if (this.nd === 0) {
      this.dirInsert(0, this.alloc());
      d = 0;
    } else if (d === this.nd) d = this.nd - 1; // beyond every key: the end of the last block
    let b = this.dir[d]!;
    if (this.cnt[b] === B) {
      // split: the upper half to a new block after this one
      const nb = this.alloc();
      const p = this.pool, from = b * 2 * B + B, to = nb * 2 * B;
      for (let k = 0; k < B; k++) p[to + k] = p[from + k]!;
      this.cnt[b] = B / 2;
      this.cnt[nb] = B / 2;
      this.dmax[d] = p[from - 2]!;
      this.dirInsert(d + 1, nb);
      this.dmax[d + 1] = p[to + B - 2]!;
      if (key > this.dmax[d]!) {
        d++;
        b = nb;
      }
    }
    const base = b * 2 * B, c = this.cnt[b]!, p = this.pool;
    const j = this.inBlock(base, c, key);
    for (let k = base + 2 * c - 1; k >= base + 2 * j; k--) p[k + 2] = p[k]!;
    p[base + 2 * j] = key;
    p[base + 2 * j + 1] = amount;
    this.cnt[b] = c + 1;
    if (j === c) this.dmax[d] = key;
    this.n++;
    return 0;
  }

  private removeAt(d: number, b: number, base: number, c: number, j: number): void {
    const p = this.pool;
    for (let k = base + 2 * j; k < base + 2 * (c - 1); k++) p[k] = p[k + 2]!;
    this.cnt[b] = c - 1;
    this.n--;
    if (c === 1) {
      // the block is empty: out of the directory, back to the free list
      for (let k = d; k < this.nd - 1; k++) {
        this.dir[k] = this.dir[k + 1]!;
        this.dmax[k] = this.dmax[k + 1]!;
      }
      this.nd--;
      this.free.push(b);
    } else if (j === c - 1) this.dmax[d] = p[base + 2 * (c - 2)]!;
  }

  /** pool index of the i-th best level's key: from the top block down */
  private pairOfBest(i: number): number {
    for (let d = this.nd - 1; d >= 0; d--) {
      const b = this.dir[d]!, c = this.cnt[b]!;
      if (i < c) return b * 2 * B + 2 * (c - 1 - i);
      i -= c;
    }
    return -1;
  }
  /** first directory index whose block holds a key >= key (nd: none) */
  private findBlock(key: number): number {
    const m = this.dmax, nd = this.nd;
    if (nd === 0 || m[nd - 1]! < key) return nd;
    if (nd === 1 || m[nd - 2]! < key) return nd - 1; // the touch's block, where most lookups land
    let lo = 0, hi = nd - 2;
    while (lo < hi) {
      const k = (lo + hi) >> 1;
      if (m[k]! < key) lo = k + 1;
      else hi = k;
    }
    return lo;
  }
  /** first position in a block whose key is >= key (c: none) */
  private inBlock(base: number, c: number, key: number): number {
    const p = this.pool;
    let lo = 0, hi = c;
    while (lo < hi) {
      const k = (lo + hi) >> 1;
      if (p[base + 2 * k]! < key) lo = k + 1;
      else hi = k;
    }
    return lo;
  }
  /** a block from the free list; the pool and the block tables double when none is left (cold) */
  private alloc(): number {
    if (this.free.length === 0) {
      const blocks = this.cnt.length, more = blocks * 2;
      const pool = new Float64Array(more * 2 * B);
      pool.set(this.pool);
      this.pool = pool;
      const cnt = new Int32Array(more);
      cnt.set(this.cnt);
      this.cnt = cnt;
      const dir = new Int32Array(more);
      dir.set(this.dir);
      this.dir = dir;
      const dmax = new Float64Array(more);
      dmax.set(this.dmax);
      this.dmax = dmax;
      for (let b = more - 1; b >= blocks; b--) this.free.push(b);
    }
    const b = this.free.pop()!;
    this.cnt[b] = 0;
    return b;
  }
  /** block b into the directory at index d */
  private dirInsert(d: number, b: number): void {
    for (let k = this.nd; k > d; k--) {
      this.dir[k] = this.dir[k - 1]!;
      this.dmax[k] = this.dmax[k - 1]!;
    }
    this.dir[d] = b;
    this.nd++;
  }
}
