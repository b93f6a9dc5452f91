/**
 * Cross-venue arbitrage: instruments with the same base and quote on different venues are paired;
 * when one venue's best bid exceeds another's best ask by more than both taker fees plus
 * `minEdgeBps`, it buys where it is cheap and sells where it is dear, with IOC limit orders at
 * those two prices, for the smaller of the two top sizes, `maxAmount`, and the room left under
 * `maxPosition` on either leg. Both books must be usable; a leg refused by risk cancels the pair
 * (the other leg is not sent). Opposite crossings unwind the position the same way.
 */
import { BUY, SELL, type Strategy, type StrategyContext } from "../api.ts";

/** `BTC/USDT:USDT` and `BTC/USDT` are the same asset pair for this purpose. */
export function pairKey(symbol: string): string {
  const colon = symbol.indexOf(":");
  return colon < 0 ? symbol : symbol.slice(0, colon);
}

export class CrossVenueArbitrage implements Strategy {
  readonly name = "arbitrage";
  private ctx!: StrategyContext;
  /** for each instrument, the instruments it is paired with (flat list + offsets) */
  private peersStart = new Int32Array(0);
  private peers = new Int32Array(0);
  private readonly feeA: number;
  private readonly minEdge: number;
  private readonly maxAmount: number;
  private readonly maxPosition: number;
  private readonly cooldownNs: number;
  private lastTradeNs = -Infinity;
  /** crossings seen, pairs sent, legs refused by risk */
  opportunities = 0;
  pairsSent = 0;
  refused = 0;

  constructor(params: Record<string, number> = {}) {
    const p = (k: string, d: number) => (Number.isFinite(params[k]) ? params[k]! : d);
    this.feeA = p("takerFeeBps", 5) / 1e4;
    this.minEdge = p("minEdgeBps", 1) / 1e4;
    this.maxAmount = p("maxAmount", 0.01);
    this.maxPosition = p("maxPosition", 0.05);
    this.cooldownNs = p("cooldownMs", 50) * 1e6;
    if (!(this.maxAmount > 0) || !(this.maxPosition > 0)) throw new RangeError("arbitrage: maxAmount and maxPosition must be > 0");
  }

  onStart(ctx: StrategyContext): void {
    this.ctx = ctx;
    const ins = ctx.instruments;
    const groups = new Map<string, number[]>();
    for (const i of ins) {
      const k = pairKey(i.symbol);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(i.id);
    }
    const lists: number[][] = ins.map((i) => (groups.get(pairKey(i.symbol)) ?? []).filter((j) => j !== i.id && ins[j]!.venue !== i.venue));
    this.peersStart = new Int32Array(ins.length + 1);
    const flat: number[] = [];
    lists.forEach((l, i) => {
      this.peersStart[i] = flat.length;
      flat.push(...l);
    });
    this.peersStart[ins.length] = flat.length;
    this.peers = Int32Array.from(flat);
    if (flat.length === 0) ctx.log("arbitrage: no instrument is carried on two venues; nothing to do", { instruments: ins.map((i) => `${i.venue}:${i.symbol}`) });
  }

  onBook(inst: number, tsNs: number): void {
    if (tsNs - this.lastTradeNs < this.cooldownNs) return;
    const ctx = this.ctx;
    if (!ctx.bookUsable(inst)) return;
    for (let k = this.peersStart[inst]!; k < this.peersStart[inst + 1]!; k++) {
      const other = this.peers[k]!;
      if (!ctx.bookUsable(other)) continue;
      // sell on inst, buy on other; then the reverse
      if (this.tryPair(inst, other, tsNs) || this.tryPair(other, inst, tsNs)) return;
    }
  }

  /** sells on `dear` at its bid, buys on `cheap` at its ask, when the edge pays both fees */
  private tryPair(dear: number, cheap: number, tsNs: number): boolean {
    const ctx = this.ctx;
    const bid = ctx.bid(dear);
    const ask = ctx.ask(cheap);
    if (!(bid > ask)) return false;
    const mid = (bid + ask) / 2;
    if ((bid - ask) / mid <= 2 * this.feeA + this.minEdge) return false;
    this.opportunities++;
    const roomSell = this.maxPosition + ctx.position(dear);
    const roomBuy = this.maxPosition - ctx.position(cheap);
    let amount = Math.min(ctx.bidSize(dear), ctx.askSize(cheap), this.maxAmount, roomSell, roomBuy);
    const lot = Math.max(ctx.instruments[dear]!.lotSize, ctx.instruments[cheap]!.lotSize);
    if (lot > 0) amount = Math.floor(amount / lot + 1e-9) * lot;
    if (!(amount > 0)) return false;
    const buy = ctx.submit(cheap, BUY, amount, ask, "IOC");
    if (!buy) {
      this.refused++;
      return false;
    }
    const sell = ctx.submit(dear, SELL, amount, bid, "IOC");
    if (!sell) {
      // the buy leg is IOC and may already be filling; what is not filled is cancelled, and a
      // filled one leaves a position the next opposite crossing (or the position limit) bounds
      this.refused++;
      ctx.cancel(buy);
      return false;
    }
    this.pairsSent++;
    this.lastTradeNs = tsNs;
    return true;
  }
}
