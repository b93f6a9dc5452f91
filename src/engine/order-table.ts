/**
 * The engine's own orders, in typed arrays indexed by slot: what TradingCore tracks between a
 * submit and the order's end (instrument, side, amount, price, filled, terminal), the orders
 * still live per instrument (for own-best prices, open amounts, cancel-all), and the client
 * order id of each.
 *
 * Ids are `<prefix><seq>` with seq counting from 1, and an order lives in slot `seq % capacity`:
 * finding the order of an id (every report, every cancel) reads the digits after the prefix
 * and checks the slot still holds that seq — no Map, no string hashing, nothing allocated. A
 * slot is reused `capacity` orders later, so a finished order stays known (late or duplicate
 * reports for it are recognised, not "unknown") for the next `capacity` submits; when the slot
 * the next seq needs still holds a live order, the table doubles (cold) so no live order is
 * ever forgotten.
 */
/** "000".."999": the last three digits of an id, so a new id is two concatenations and no number formatting */
const LOW3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

export class OrderTable {
  private cap: number;
  /** seq held by each slot (0: never used) */
  private seqOf: Float64Array;
  inst: Int32Array;
  side: Uint8Array;
  amount: Float64Array;
  price: Float64Array;
  filled: Float64Array;
  terminal: Uint8Array;
  /** position of a live order in its instrument's live list (-1 once terminal) */
  private pos: Int32Array;
  private ids: string[];
  /** live slots per instrument, and how many */
  private live: Int32Array[];
  readonly liveN: Int32Array;
  private seq = 0;
  private readonly prefixLen: number;
  /** `<prefix><seq / 1000>` for the thousand ids being given out now */
  private hiK = -1;
  private hiStr = "";
  /** doublings so far (the table never shrinks) */
  grown = 0;

  constructor(
    instruments: number,
    readonly prefix: string,
    capacity = 4096,
  ) {
    if (!(capacity > 0) || (capacity & (capacity - 1)) !== 0) throw new RangeError(`order table capacity must be a power of two, got ${capacity}`);
    this.cap = capacity;
    this.prefixLen = prefix.length;
    this.seqOf = new Float64Array(capacity);
    this.inst = new Int32Array(capacity);
    this.side = new Uint8Array(capacity);
    this.amount = new Float64Array(capacity);
    this.price = new Float64Array(capacity);
    this.filled = new Float64Array(capacity);
    this.terminal = new Uint8Array(capacity);
    this.pos = new Int32Array(capacity).fill(-1);
    this.ids = new Array<string>(capacity).fill("");
    const n = Math.max(1, instruments);
    this.live = Array.from({ length: n }, () => new Int32Array(16));
    this.liveN = new Int32Array(n);
  }

  get capacity(): number {
    return this.cap;
  }

  /** A new live order; returns its slot (its id: `id(slot)`). */
  open(inst: number, side: number, amount: number, price: number): number {
    const seq = ++this.seq;
    let s = seq % this.cap;
    // a live order still holds the slot: double until it does not (its seq differs from this one
    // by a multiple of the capacity, so one doubling moves it away unless that multiple is even)
    while (this.seqOf[s] !== 0 && this.terminal[s] === 0) {
      this.grow();
      s = seq % this.cap;
    }
    this.seqOf[s] = seq;
    this.inst[s] = inst;
    this.side[s] = side;
    this.amount[s] = amount;
    this.price[s] = price;
    this.filled[s] = 0;
    this.terminal[s] = 0;
    this.ids[s] = this.idFor(seq);
    this.pushLive(inst, s);
    return s;
  }

  /** appends a slot to its instrument's live list (the list doubles when full) */
  private pushLive(inst: number, s: number): void {
    let list = this.live[inst]!;
    const k = this.liveN[inst]!;
    if (k === list.length) {
      const bigger = new Int32Array(list.length * 2);
      bigger.set(list);
      this.live[inst] = list = bigger;
    }
    list[k] = s;
    this.pos[s] = k;
    this.liveN[inst] = k + 1;
  }

  /** `${prefix}${seq}`, built from a cached prefix of all but the last three digits (formatted once per thousand ids) */
  private idFor(seq: number): string {
    if (seq < 1000) return `${this.prefix}${seq}`;
    const k = Math.floor(seq / 1000);
    if (k !== this.hiK) {
      this.hiK = k;
      this.hiStr = `${this.prefix}${k}`;
    }
    return this.hiStr + LOW3[seq - k * 1000]!;
  }

  id(slot: number): string {
    return this.ids[slot]!;
  }

  /** The slot of an id this table gave out and still holds, else -1 (another prefix, forgotten, malformed). */
  find(id: string): number {
    const p = this.prefixLen;
    const n = id.length;
    if (n <= p || n > p + 16 || !id.startsWith(this.prefix)) return -1;
    let seq = 0;
    for (let i = p; i < n; i++) {
      const c = id.charCodeAt(i) - 48;
      if (c < 0 || c > 9 || (c === 0 && i === p)) return -1;
      seq = seq * 10 + c;
    }
    if (seq > this.seq) return -1;
    const s = seq % this.cap;
    return this.seqOf[s] === seq ? s : -1;
  }

  /** Marks an order terminal and takes it off its instrument's live list (idempotent). */
  finish(slot: number): void {
    if (this.terminal[slot] === 1) return;
    this.terminal[slot] = 1;
    const inst = this.inst[slot]!;
    const list = this.live[inst]!;
    const k = this.pos[slot]!;
    const last = this.liveN[inst]! - 1;
    const moved = list[last]!;
    list[k] = moved;
    this.pos[moved] = k;
    this.liveN[inst] = last;
    this.pos[slot] = -1;
  }

  /** the k-th live order of an instrument (k < liveN[inst]); order not meaningful */
  liveSlot(inst: number, k: number): number {
    return this.live[inst]![k]!;
  }

  /** live orders over all instruments */
  liveCount(): number {
    let n = 0;
    for (let i = 0; i < this.liveN.length; i++) n += this.liveN[i]!;
    return n;
  }

  /** The live slots of one instrument, or of all (a copy: cancelling may end orders meanwhile). Cold path. */
  liveSlots(inst?: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.liveN.length; i++) {
      if (inst !== undefined && i !== inst) continue;
      for (let k = 0; k < this.liveN[i]!; k++) out.push(this.live[i]![k]!);
    }
    return out;
  }

  /** Doubles the table, every slot moving to seq % new capacity (distinct: the seqs held are distinct modulo the old capacity). Cold. */
  private grow(): void {
    const old = { cap: this.cap, seqOf: this.seqOf, inst: this.inst, side: this.side, amount: this.amount, price: this.price, filled: this.filled, terminal: this.terminal, ids: this.ids };
    const cap = old.cap * 2;
    this.cap = cap;
    this.seqOf = new Float64Array(cap);
    this.inst = new Int32Array(cap);
    this.side = new Uint8Array(cap);
    this.amount = new Float64Array(cap);
    this.price = new Float64Array(cap);
    this.filled = new Float64Array(cap);
    this.terminal = new Uint8Array(cap);
    this.pos = new Int32Array(cap).fill(-1);
    this.ids = new Array<string>(cap).fill("");
    for (let s = 0; s < old.cap; s++) {
      const q = old.seqOf[s]!;
      if (q === 0) continue;
      const d = q % cap;
      this.seqOf[d] = q;
      this.inst[d] = old.inst[s]!;
      this.side[d] = old.side[s]!;
      this.amount[d] = old.amount[s]!;
      this.price[d] = old.price[s]!;
      this.filled[d] = old.filled[s]!;
      this.terminal[d] = old.terminal[s]!;
      this.ids[d] = old.ids[s]!;
    }
    // live lists hold slots: rebuild them, and every position
    this.liveN.fill(0);
    for (let d = 0; d < cap; d++) if (this.seqOf[d] !== 0 && this.terminal[d] === 0) this.pushLive(this.inst[d]!, d);
    this.grown++;
  }
}
