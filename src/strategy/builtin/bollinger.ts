/**
 * Bollinger-band mean reversion on bars (the engine's bars, or, with `barMs` > 0, the last trade
 * price sampled every `barMs` of engine time against bands the engine keeps from trade ticks):
 * when a bar closes below the lower band it buys
 * `amount` (flat or short -> long), above the upper band it sells (flat or long -> short), and it
 * goes flat when the close crosses back over the middle band. Bands come from the engine's
 * indicator kernels (fed by bar closes), NaN during warm-up, when nothing is done. Orders are IOC
 * limits at the touch plus `slippageBps`, so a fast market never fills it far from the signal.
 */
import { BUY, SELL, type BarView, type Strategy, type StrategyContext } from "../api.ts";

export class BollingerMeanReversion implements Strategy {
  readonly name = "bollinger";
  private ctx!: StrategyContext;
  private readonly amount: number;
  private readonly slip: number;
  private readonly only: number;
  private readonly barMs: number;
  private readonly bar = { startNs: 0, endNs: 0, open: NaN, high: NaN, low: NaN, close: NaN, volume: 0, vwap: NaN, trades: 0 };
  /** signals acted on, and skipped (book unusable or warm-up) */
  entries = 0;
  exits = 0;
  skipped = 0;

  constructor(params: Record<string, number> = {}) {
    const p = (k: string, d: number) => (Number.isFinite(params[k]) ? params[k]! : d);
    this.amount = p("amount", 0.001);
    this.slip = p("slippageBps", 5) / 1e4;
    this.only = p("instrument", -1);
    this.barMs = p("barMs", 1000);
    if (!(this.amount > 0)) throw new RangeError(`bollinger: amount must be > 0, got ${this.amount}`);
  }

  onStart(ctx: StrategyContext): void {
    this.ctx = ctx;
    if (this.barMs > 0) ctx.setTimer(this.barMs * 1e6);
  }

  /** sampled bars: the last price of each instrument at every tick of the timer */
  onTimer(tsNs: number): void {
    const b = this.bar;
    for (let i = 0; i < this.ctx.instruments.length; i++) {
      const px = this.ctx.last(i);
      if (!(px > 0)) continue;
      b.startNs = tsNs - this.barMs * 1e6;
      b.endNs = tsNs;
      b.open = b.high = b.low = b.close = px;
      this.onBar(i, b);
    }
  }

  onBar(inst: number, bar: BarView): void {
    if (this.only >= 0 && inst !== this.only) return;
    const ctx = this.ctx;
    const ind = ctx.indicators;
    const upper = ind.bbUpper(inst);
    const lower = ind.bbLower(inst);
    const middle = ind.bbMiddle(inst);
    if (!Number.isFinite(upper) || !Number.isFinite(lower) || !ctx.bookUsable(inst)) {
      this.skipped++;
      return;
    }
    const pos = ctx.position(inst);
    const close = bar.close;
    const eps = this.amount * 1e-9;
    if (close < lower && pos <= eps) {
      this.buy(inst, this.amount - pos);
      this.entries++;
    } else if (close > upper && pos >= -eps) {
      this.sell(inst, this.amount + pos);
      this.entries++;
    } else if (pos > eps && close >= middle) {
      this.sell(inst, pos);
      this.exits++;
    } else if (pos < -eps && close <= middle) {
      this.buy(inst, -pos);
      this.exits++;
    }
  }

  private buy(inst: number, amount: number): void {
    if (ctxOpen(this.ctx, inst)) return;
    this.ctx.submit(inst, BUY, amount, this.ctx.ask(inst) * (1 + this.slip), "IOC");
  }

  private sell(inst: number, amount: number): void {
    if (ctxOpen(this.ctx, inst)) return;
    this.ctx.submit(inst, SELL, amount, this.ctx.bid(inst) * (1 - this.slip), "IOC");
  }
}

/** an order of ours still working on the instrument: wait for it rather than stack another */
function ctxOpen(ctx: StrategyContext, inst: number): boolean {
  return ctx.openOrders(inst) > 0;
}
