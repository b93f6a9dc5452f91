/**
 * Inventory-skewed market maker after Avellaneda & Stoikov (2008), in its constant-horizon form:
 *   reservation price  r = mid - q * gamma * sigma^2 * tau
 *   total spread       d = gamma * sigma^2 * tau + (2 / gamma) * ln(1 + gamma / kappa)
 * quoted at r - d/2 and r + d/2, never tighter than `minSpreadBps`, rounded outwards to the tick.
 * q is the position in units of `quoteAmount` (so gamma is per quote lot), sigma^2 the variance of
 * the mid per second (EWMA of squared mid changes over elapsed time), tau the horizon in seconds.
 * A side is not quoted when filling it would take the position beyond `maxPosition`; nothing is
 * quoted on a book that is not usable; quotes are replaced when they drift by `requoteTicks` or
 * after a fill, at most once per `minRequoteMs` of engine time.
 */
import { BUY, SELL, type OrderEvent, type Strategy, type StrategyContext } from "../api.ts";

export class AvellanedaStoikovMaker implements Strategy {
  readonly name = "market-maker";
  private ctx!: StrategyContext;
  private inst = -1;
  private readonly gamma: number;
  private readonly kappa: number;
  private readonly tauS: number;
  private readonly quoteAmount: number;
  private readonly maxPosition: number;
  private readonly minSpreadBps: number;
  private readonly requoteTicks: number;
  private readonly minRequoteNs: number;
  private readonly halfLifeS: number;
  private tick = 0;
  // mid variance per second (EWMA)
  private lastMid = NaN;
  private lastMidNs = 0;
  private var = NaN;
  // live quotes
  private bidId = "";
  private askId = "";
  private bidPx = NaN;
  private askPx = NaN;
  private lastQuoteNs = -Infinity;
  private dirty = true;
  /** quotes sent, replaced, and skipped for an unusable book */
  quotes = 0;
  replaced = 0;
  idleUnusable = 0;

  constructor(params: Record<string, number> = {}) {
    const p = (k: string, d: number) => (Number.isFinite(params[k]) ? params[k]! : d);
    this.gamma = p("gamma", 0.1);
    this.kappa = p("kappa", 1.5);
    this.tauS = p("horizonS", 30);
    this.quoteAmount = p("quoteAmount", 0.001);
    this.maxPosition = p("maxPosition", 0.01);
    this.minSpreadBps = p("minSpreadBps", 1);
    this.requoteTicks = p("requoteTicks", 2);
    this.minRequoteNs = p("minRequoteMs", 100) * 1e6;
    this.halfLifeS = p("volHalfLifeS", 10);
    this.inst = p("instrument", -1);
    for (const [k, v] of [["gamma", this.gamma], ["kappa", this.kappa], ["horizonS", this.tauS], ["quoteAmount", this.quoteAmount], ["maxPosition", this.maxPosition]] as const) {
      if (!(v > 0)) throw new RangeError(`market-maker: ${k} must be > 0, got ${v}`);
    }
  }

  onStart(ctx: StrategyContext): void {
    this.ctx = ctx;
    if (this.inst < 0) this.inst = 0;
    if (this.inst >= ctx.instruments.length) throw new RangeError(`market-maker: instrument ${this.inst} is not carried (${ctx.instruments.length} instruments)`);
    this.tick = ctx.instruments[this.inst]!.tickSize || 0;
  }

  onBook(inst: number, tsNs: number): void {
    if (inst !== this.inst) return;
    const ctx = this.ctx;
    if (!ctx.bookUsable(inst)) {
      // never quote against a book that is out of sync or stale; pull what is out there
      this.idleUnusable++;
      if (this.bidId || this.askId) this.pull();
      return;
    }
    const mid = (ctx.bid(inst) + ctx.ask(inst)) / 2;
    this.updateVol(mid, tsNs);
    if (tsNs - this.lastQuoteNs < this.minRequoteNs) return;
    this.quote(mid, tsNs);
  }

  onFill(ev: OrderEvent): void {
    if (ev.instrument !== this.inst) return;
    if (ev.remaining <= 0) {
      if (ev.clientOrderId === this.bidId) this.bidId = "";
      if (ev.clientOrderId === this.askId) this.askId = "";
    }
    this.dirty = true;
  }

  onOrder(ev: OrderEvent): void {
    if (ev.instrument !== this.inst) return;
    if (ev.kind === "cancelled" || ev.kind === "rejected" || ev.kind === "expired") {
      if (ev.clientOrderId === this.bidId) this.bidId = "";
      if (ev.clientOrderId === this.askId) this.askId = "";
      this.dirty = true;
    }
  }

  onStop(): void {
    this.pull();
  }

  private updateVol(mid: number, tsNs: number): void {
    if (Number.isFinite(this.lastMid)) {
      const dt = (tsNs - this.lastMidNs) / 1e9;
      if (dt > 0) {
        const d = mid - this.lastMid;
        const inst = (d * d) / dt;
        const a = 1 - Math.pow(0.5, dt / this.halfLifeS);
        this.var = Number.isFinite(this.var) ? this.var + a * (inst - this.var) : inst;
      }
    }
    this.lastMid = mid;
    this.lastMidNs = tsNs;
  }

  private quote(mid: number, tsNs: number): void {
    const ctx = this.ctx;
    const inst = this.inst;
    const sigma2 = Number.isFinite(this.var) ? this.var : 0;
    const q = ctx.position(inst) / this.quoteAmount;
    const g = this.gamma;
    const r = mid - q * g * sigma2 * this.tauS;
    const minSpread = (mid * this.minSpreadBps) / 1e4;
    const spread = Math.max(minSpread, g * sigma2 * this.tauS + (2 / g) * Math.log(1 + g / this.kappa));
    let bid = r - spread / 2;
    let ask = r + spread / 2;
    const tick = this.tick;
    if (tick > 0) {
      bid = Math.floor(bid / tick + 1e-9) * tick;
      ask = Math.ceil(ask / tick - 1e-9) * tick;
    }
    // never cross the venue's book with a passive quote
    const bestBid = ctx.bid(inst);
    const bestAsk = ctx.ask(inst);
    if (bid >= bestAsk) bid = tick > 0 ? bestAsk - tick : bestBid;
    if (ask <= bestBid) ask = tick > 0 ? bestBid + tick : bestAsk;
    const pos = ctx.position(inst);
    const wantBid = pos + this.quoteAmount <= this.maxPosition + 1e-12;
    const wantAsk = pos - this.quoteAmount >= -this.maxPosition - 1e-12;
    const drift = (tick > 0 ? tick : mid * 1e-5) * this.requoteTicks;
    const moveBid = this.dirty || !this.bidId || Math.abs(bid - this.bidPx) >= drift;
    const moveAsk = this.dirty || !this.askId || Math.abs(ask - this.askPx) >= drift;
    if (this.bidId && (moveBid || !wantBid)) {
      ctx.cancel(this.bidId);
      this.bidId = "";
      this.replaced++;
    }
    if (this.askId && (moveAsk || !wantAsk)) {
      ctx.cancel(this.askId);
      this.askId = "";
      this.replaced++;
    }
    if (wantBid && !this.bidId) {
      this.bidId = ctx.submit(inst, BUY, this.quoteAmount, bid, "PO");
      this.bidPx = bid;
      if (this.bidId) this.quotes++;
    }
    if (wantAsk && !this.askId) {
      this.askId = ctx.submit(inst, SELL, this.quoteAmount, ask, "PO");
      this.askPx = ask;
      if (this.askId) this.quotes++;
    }
    this.dirty = false;
    this.lastQuoteNs = tsNs;
  }

  private pull(): void {
    if (this.bidId) this.ctx.cancel(this.bidId);
    if (this.askId) this.ctx.cancel(this.askId);
    this.bidId = this.askId = "";
    this.dirty = true;
  }
}
