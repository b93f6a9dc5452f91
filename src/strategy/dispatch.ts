/**
 * Engine -> strategy dispatch over tick records in place (ring or tick-file memory). One pass per
 * batch: every TRADE record becomes an `onTrade` call with numbers read from the record; books
 * touched by LEVEL/QUOTE/STATUS records are collected and get one `onBook` each after the pass
 * (the engine applies the batch to the C books before dispatching, so the strategy sees the book
 * as of the batch's end). Nothing is allocated per record or per batch.
 */
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../domain/tick.ts";
import type { Strategy } from "./api.ts";

const KIND = T.KIND_U8;
const FLAGS = T.FLAGS_U8;
const TWO32 = 4294967296;

export class StrategyDispatcher {
  private readonly touched: Uint8Array;
  private readonly touchedList: Int32Array;
  private nTouched = 0;
  private readonly wantsTrades: boolean;
  private readonly wantsBooks: boolean;
  /** records seen, trades dispatched, book callbacks made */
  records = 0;
  trades = 0;
  books = 0;

  constructor(
    private readonly s: Strategy,
    readonly instruments: number,
  ) {
    this.touched = new Uint8Array(Math.max(1, instruments));
    this.touchedList = new Int32Array(Math.max(1, instruments));
    this.wantsTrades = typeof s.onTrade === "function";
    this.wantsBooks = typeof s.onBook === "function";
  }

  /**
   * Dispatches records `start .. start+n-1` (slot indices masked by `mask`: a ring's capacity-1,
   * or 0xffffffff for a flat array) of the record area seen through the three views (element 0
   * of each is the first byte of slot 0).
   */
  dispatch(u8: Uint8Array, u32: Uint32Array, f64: Float64Array, mask: number, start: number, n: number): void {
    const s = this.s;
    const trades = this.wantsTrades;
    const books = this.wantsBooks;
    const limit = this.instruments;
    let nTrades = 0;
    for (let k = 0; k < n; k++) {
      const slot = (start + k) & mask;
      const kind = u8[slot * TICK_BYTES + KIND]!;
      const inst = u32[slot * TICK_U32 + T.INSTRUMENT_U32]!;
      if (inst >= limit) continue;
      if (kind === TickKind.trade) {
        if (trades) {
          const r = slot * TICK_F64;
          const w = slot * TICK_U32 + T.TS_RECV_U32;
          s.onTrade!(inst, f64[r + T.PRICE_F64]!, f64[r + T.SIZE_F64]!, u8[slot * TICK_BYTES + FLAGS]! & TickFlag.sell, u32[w + 1]! * TWO32 + u32[w]!);
          nTrades++;
        }
      } else if (books && this.touched[inst] === 0) {
        this.touched[inst] = 1;
        this.touchedList[this.nTouched++] = inst;
      }
    }
    this.records += n;
    this.trades += nTrades;
    if (this.nTouched > 0) this.flushBooks(u32, mask, start, n);
  }

  private flushBooks(u32: Uint32Array, mask: number, start: number, n: number): void {
    const s = this.s;
    // the batch's last receive stamp stands for "now" of the book callbacks
    const w = ((start + n - 1) & mask) * TICK_U32 + T.TS_RECV_U32;
    const ts = u32[w + 1]! * TWO32 + u32[w]!;
    const m = this.nTouched;
    this.nTouched = 0;
    for (let i = 0; i < m; i++) {
      const inst = this.touchedList[i]!;
      this.touched[inst] = 0;
      s.onBook!(inst, ts);
    }
    this.books += m;
  }
}
